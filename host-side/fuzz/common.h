/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the libFuzzer targets: a byte reader over the fuzz
 * input and descriptor chains built in host memory, the way the rings
 * hand requests to the device.
 */
#ifndef VBD_FUZZ_COMMON_H
#define VBD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "virtq.h"

struct fz {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t fz_uint(struct fz *z, unsigned int bytes)
{
	uint64_t v = 0;

	while (bytes-- && z->left) {
		v = v << 8 | *z->p++;
		z->left--;
	}
	return v;
}

/* Up to len bytes of input at *out (not copied); how many. */
static inline size_t fz_bytes(struct fz *z, size_t len, const uint8_t **out)
{
	if (len > z->left)
		len = z->left;
	*out = z->p;
	z->p += len;
	z->left -= len;
	return len;
}

/*
 * A chain: rd (split in two at split, which may be 0) and wr, in c.
 * rd is what the device reads: request header, then the payload.
 */
static inline void fz_chain(struct virtq_chain *c, uint8_t *rd, size_t rd_len,
			    size_t split, uint8_t *wr, size_t wr_len)
{
	memset(c, 0, offsetof(struct virtq_chain, iov));
	if (split > rd_len)
		split = rd_len;
	c->rd = c->iov;
	if (split) {
		c->iov[c->nr_rd++] = (struct iovec){ rd, split };
	}
	if (rd_len > split)
		c->iov[c->nr_rd++] = (struct iovec){ rd + split, rd_len - split };
	c->wr = c->iov + c->nr_rd;
	c->iov[c->nr_rd] = (struct iovec){ wr, wr_len };
	c->nr_wr = 1;
	c->rd_len = rd_len;
	c->wr_len = wr_len;
}

#endif /* VBD_FUZZ_COMMON_H */
