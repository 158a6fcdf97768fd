/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Split virtqueues in guest memory shared by the vhost-user frontend.
 *
 * Everything read from guest memory is untrusted: each field is read
 * once into a local copy, validated, then used.  A malformed descriptor
 * chain is completed with length 0; a ring whose indices make no sense
 * is marked broken and no longer processed.
 */
#ifndef VBD_VIRTQ_H
#define VBD_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include "log.h"

#define VIRTQ_MAX_SIZE		32768
/* Segments of one chain, after splitting at memory region boundaries. */
#define VIRTQ_MAX_IOV		1024
/* Per-direction bytes of one chain: keeps sums and used lengths in 32 bits. */
#define VIRTQ_MAX_CHAIN_LEN	(1U << 30)
#define VIRTQ_MAX_MEM_REGIONS	8

struct virtq_mem_region {
	uint64_t gpa;		/* guest-physical start */
	uint64_t uva;		/* start in the frontend's address space */
	uint64_t size;
	uint8_t *hva;		/* start in ours */
	void *map_base;		/* mapping that holds hva, for munmap */
	size_t map_len;
};

struct virtq_mem {
	unsigned int nregions;
	struct virtq_mem_region regions[VIRTQ_MAX_MEM_REGIONS];
};

/* Host address of [addr, addr + len), which must lie in one region; or NULL. */
void *virtq_mem_gpa(const struct virtq_mem *mem, uint64_t gpa, uint64_t len);
void *virtq_mem_uva(const struct virtq_mem *mem, uint64_t uva, uint64_t len);

/* Ring addresses in the frontend's address space (VHOST_USER_SET_VRING_ADDR). */
struct virtq_addr {
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
};

/* One ring; not thread-safe: the vhost-user layer serializes its users. */
struct virtq {
	const struct virtq_mem *mem;
	unsigned int index;		/* for messages */
	unsigned int num;
	bool event_idx;			/* VIRTIO_RING_F_EVENT_IDX */
	bool indirect;			/* VIRTIO_RING_F_INDIRECT_DESC */
	bool broken;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail_idx;	/* next available entry to process */
	uint16_t used_idx;		/* next used entry to fill */
	uint16_t signalled_used;	/* used_idx at the last notify check */
	bool signalled_used_valid;
	struct vbd_ratelimit rl;
};

/*
 * One descriptor chain: the device-readable segments, then the
 * device-writable ones.  rd and wr point into iov, so a chain must not
 * be copied.
 */
struct virtq_chain {
	uint16_t head;
	unsigned int nr_rd;
	unsigned int nr_wr;
	size_t rd_len;
	size_t wr_len;
	struct iovec *rd;
	struct iovec *wr;
	struct iovec iov[VIRTQ_MAX_IOV];
};

/* Virtio feature bits that change how a ring is processed. */
#define VIRTQ_F_EVENT_IDX	(1ULL << VIRTIO_RING_F_EVENT_IDX)
#define VIRTQ_F_INDIRECT	(1ULL << VIRTIO_RING_F_INDIRECT_DESC)

/*
 * Map the ring at addr through mem and resume at avail index base; the
 * used index is read back from the ring.  -EINVAL if num is not a power
 * of two up to VIRTQ_MAX_SIZE; -EFAULT if a part of the ring is
 * misaligned, not inside one memory region, or overlaps another part.
 */
int virtq_start(struct virtq *vq, const struct virtq_mem *mem,
		unsigned int index, unsigned int num,
		const struct virtq_addr *addr, uint16_t base,
		uint64_t features);

/*
 * Take the next available chain: 1 with *c filled, 0 if the ring is
 * empty, -EIO if the ring is broken.  Malformed chains are completed
 * with length 0 on the way and never returned.
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *c);
/* Complete chain head with len bytes written. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * Ask the driver not to kick while we are busy, and to kick again;
 * virtq_enable_notify() returns true if buffers were added meanwhile.
 */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq);
/* Whether the driver wants an interrupt for what was used since the last call. */
bool virtq_need_notify(struct virtq *vq);

#endif /* VBD_VIRTQ_H */
