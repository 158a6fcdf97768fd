// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Scatter-gather copies.
 */
#include <stdbool.h>
#include <string.h>

#include "iov.h"

/* Advance (*i, *off) past off bytes; false if the list is shorter. */
static bool iov_seek(const struct iovec *iov, unsigned int cnt,
		    unsigned int *i, size_t *off)
{
	while (*i < cnt && *off >= iov[*i].iov_len) {
		*off -= iov[*i].iov_len;
		(*i)++;
	}
	return *i < cnt;
}

size_t iov_copy(const struct iovec *dst, unsigned int dcnt, size_t doff,
		const struct iovec *src, unsigned int scnt, size_t soff,
		size_t len)
{
	unsigned int di = 0, si = 0;
	size_t done = 0;

	if (!iov_seek(dst, dcnt, &di, &doff) ||
	    !iov_seek(src, scnt, &si, &soff))
		return 0;
	while (di < dcnt && si < scnt && done < len) {
		size_t n = dst[di].iov_len - doff;

		if (n > src[si].iov_len - soff)
			n = src[si].iov_len - soff;
		if (n > len - done)
			n = len - done;
		/* memmove: a guest may hand in overlapping buffers. */
		memmove((char *)dst[di].iov_base + doff,
			(char *)src[si].iov_base + soff, n);
		done += n;
		doff += n;
		soff += n;
		if (doff == dst[di].iov_len) {
			di++;
			doff = 0;
		}
		if (soff == src[si].iov_len) {
			si++;
			soff = 0;
		}
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int cnt, size_t off,
		  void *buf, size_t len)
{
	struct iovec b = { .iov_base = buf, .iov_len = len };

	return iov_copy(&b, 1, 0, iov, cnt, off, len);
}

size_t iov_from_buf(const struct iovec *iov, unsigned int cnt, size_t off,
		    const void *buf, size_t len)
{
	struct iovec b = { .iov_base = (void *)buf, .iov_len = len };

	return iov_copy(iov, cnt, off, &b, 1, 0, len);
}
