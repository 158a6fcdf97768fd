// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The descriptor-chain walker over fuzzed memory layouts: one or two
 * memory regions, ring addresses, ring size and every byte of guest
 * memory come from the input.  virtq_start() must refuse bad layouts,
 * and virtq_pop() must terminate and only ever hand out segments inside
 * guest memory.
 */
#include <endian.h>
#include <stdlib.h>

#include "common.h"
#include "iov.h"
#include "log.h"
#include "virtq.h"

#define RAM	(64 * 1024)

static uint8_t *ram;
static struct virtq_chain chain;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	vbd_log_level = VBD_LOG_ERROR;
	ram = aligned_alloc(4096, RAM);
	return ram ? 0 : -1;
}

static void check_iov(const struct iovec *iov, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;

		if (b < ram || b + iov[i].iov_len > ram + RAM ||
		    iov[i].iov_len > RAM)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };
	struct virtq_mem mem = { 0 };
	struct virtq_addr a;
	struct virtq vq;
	unsigned int num, i, split, rounds;
	uint64_t features;
	const uint8_t *fill;
	size_t n;

	/* Layout: two regions splitting ram at a fuzzed point. */
	split = fz_uint(&z, 2) % RAM;
	mem.nregions = split ? 2 : 1;
	mem.regions[0] = (struct virtq_mem_region){
		.gpa = fz_uint(&z, 1) << 12, .uva = 0x100000,
		.size = split ? split : RAM, .hva = ram };
	if (split)
		mem.regions[1] = (struct virtq_mem_region){
			.gpa = fz_uint(&z, 2) << 8, .uva = 0x100000 + split,
			.size = RAM - split, .hva = ram + split };
	num = 1u << (fz_uint(&z, 1) % 10);
	if (fz_uint(&z, 1) & 1)
		num = fz_uint(&z, 2);	/* not always a power of two */
	a.desc = 0x100000 + fz_uint(&z, 2) % RAM;
	a.avail = 0x100000 + fz_uint(&z, 2) % RAM;
	a.used = 0x100000 + fz_uint(&z, 2) % RAM;
	features = fz_uint(&z, 1) & 3 ? VIRTQ_F_INDIRECT : 0;
	features |= fz_uint(&z, 1) & 1 ? VIRTQ_F_EVENT_IDX : 0;
	/* Guest memory: the rest of the input, repeated. */
	memset(ram, 0, RAM);
	n = fz_bytes(&z, RAM, &fill);
	for (i = 0; n && i < RAM; i += n)
		memcpy(ram + i, fill, RAM - i < n ? RAM - i : n);

	if (virtq_start(&vq, &mem, 0, num, &a, 0, features))
		return 0;
	/* A used ring that virtq_start accepted never overlaps the rest. */
	for (rounds = 0; rounds < 4; rounds++) {
		int r;

		virtq_enable_notify(&vq);
		while ((r = virtq_pop(&vq, &chain)) > 0) {
			uint8_t buf[64];

			check_iov(chain.iov, chain.nr_rd + chain.nr_wr);
			iov_to_buf(chain.rd, chain.nr_rd, 0, buf, sizeof(buf));
			iov_from_buf(chain.wr, chain.nr_wr, 0, buf, sizeof(buf));
			virtq_push(&vq, chain.head, chain.wr_len > 64 ? 64 : chain.wr_len);
		}
		virtq_need_notify(&vq);
		virtq_disable_notify(&vq);
		if (r < 0)
			break;
		/* The driver adds more: bump the available index. */
		vq.avail->idx = htole16(le16toh(vq.avail->idx) + 1 + rounds);
	}
	return 0;
}
