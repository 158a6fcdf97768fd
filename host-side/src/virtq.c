// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Split virtqueue processing (virtio 1.x, 2.7).
 *
 * The driver (guest) writes the descriptor table and the available
 * ring; we write the used ring.  Ordering rules: the available index is
 * read with acquire semantics before the entries it publishes, used
 * entries are written before the used index is released, and a full
 * barrier separates publishing our index from reading the driver's
 * notification suppression state (and vice versa), so that neither side
 * can miss a notification.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "virtq.h"

/* Stop the compiler from re-reading guest memory behind a copy. */
static inline void barrier(void)
{
	__asm__ __volatile__("" ::: "memory");
}

#define VRING_DESC_F_KNOWN (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT)

static const struct virtq_mem_region *
mem_region(const struct virtq_mem *mem, uint64_t addr, bool uva)
{
	unsigned int i;

	for (i = 0; i < mem->nregions; i++) {
		const struct virtq_mem_region *r = &mem->regions[i];
		uint64_t start = uva ? r->uva : r->gpa;

		if (addr >= start && addr - start < r->size)
			return r;
	}
	return NULL;
}

static void *mem_translate(const struct virtq_mem *mem, uint64_t addr,
			   uint64_t len, bool uva)
{
	const struct virtq_mem_region *r = mem_region(mem, addr, uva);
	uint64_t off;

	if (!r || !len)
		return NULL;
	off = addr - (uva ? r->uva : r->gpa);
	if (len > r->size - off)
		return NULL;
	return r->hva + off;
}

void *virtq_mem_gpa(const struct virtq_mem *mem, uint64_t gpa, uint64_t len)
{
	return mem_translate(mem, gpa, len, false);
}

void *virtq_mem_uva(const struct virtq_mem *mem, uint64_t uva, uint64_t len)
{
	return mem_translate(mem, uva, len, true);
}

static uint16_t load16(const __virtio16 *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static void store16(__virtio16 *p, uint16_t v, int order)
{
	__atomic_store_n(p, htole16(v), order);
}

static __virtio16 *used_event(struct virtq *vq)
{
	return &vq->avail->ring[vq->num];
}

static __virtio16 *avail_event(struct virtq *vq)
{
	/* The u16 after the last used element. */
	return (__virtio16 *)(void *)&vq->used->ring[vq->num];
}

/* Whether host ranges [a, a + alen) and [b, b + blen) share a byte. */
static bool host_overlap(const void *a, size_t alen, const void *b, size_t blen)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	return x < y + blen && y < x + alen;
}

int virtq_start(struct virtq *vq, const struct virtq_mem *mem,
		unsigned int index, unsigned int num,
		const struct virtq_addr *addr, uint16_t base,
		uint64_t features)
{
	size_t event = features & VIRTQ_F_EVENT_IDX ? sizeof(__virtio16) : 0;
	size_t desc_len = sizeof(struct vring_desc) * num;
	size_t avail_len = sizeof(struct vring_avail) +
			   sizeof(__virtio16) * num + event;
	size_t used_len = sizeof(struct vring_used) +
			  sizeof(struct vring_used_elem) * num + event;

	memset(vq, 0, sizeof(*vq));
	/* Split rings: a power of two no bigger than the index space. */
	if (!num || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if (addr->desc % 16 || addr->avail % 2 || addr->used % 4)
		return -EFAULT;
	vq->desc = virtq_mem_uva(mem, addr->desc, desc_len);
	vq->avail = virtq_mem_uva(mem, addr->avail, avail_len);
	vq->used = virtq_mem_uva(mem, addr->used, used_len);
	if (!vq->desc || !vq->avail || !vq->used)
		return -EFAULT;
	/*
	 * Our writes to the used ring must not change what we read: a used
	 * ring over the available index would feed itself forever.  Compare
	 * host addresses, which is what aliasing is about.
	 */
	if (host_overlap(vq->desc, desc_len, vq->avail, avail_len) ||
	    host_overlap(vq->desc, desc_len, vq->used, used_len) ||
	    host_overlap(vq->avail, avail_len, vq->used, used_len))
		return -EFAULT;

	vq->mem = mem;
	vq->index = index;
	vq->num = num;
	vq->event_idx = features & VIRTQ_F_EVENT_IDX;
	vq->indirect = features & VIRTQ_F_INDIRECT;
	vq->last_avail_idx = base;
	vq->used_idx = load16(&vq->used->idx, __ATOMIC_RELAXED);
	return 0;
}

static void virtq_break(struct virtq *vq, const char *why, unsigned int val)
{
	log_err("virtqueue %u: %s (%u); ring stopped until the device is reset",
		vq->index, why, val);
	vq->broken = true;
}

/* Append the guest buffer [gpa, gpa + len) to c, split at region ends. */
static const char *chain_add(struct virtq *vq, struct virtq_chain *c,
			     uint64_t gpa, uint32_t len, bool writable)
{
	size_t *total = writable ? &c->wr_len : &c->rd_len;

	if (len > VIRTQ_MAX_CHAIN_LEN - *total)
		return "chain too long";
	*total += len;
	while (len) {
		const struct virtq_mem_region *r = mem_region(vq->mem, gpa, false);
		struct iovec *iov;
		uint64_t n;

		if (!r)
			return "buffer outside guest memory";
		if (c->nr_rd + c->nr_wr == VIRTQ_MAX_IOV)
			return "too many segments";
		n = r->gpa + r->size - gpa;
		if (n > len)
			n = len;
		iov = &c->iov[c->nr_rd + c->nr_wr];
		iov->iov_base = r->hva + (gpa - r->gpa);
		iov->iov_len = n;
		if (writable)
			c->nr_wr++;
		else
			c->nr_rd++;
		gpa += n;
		len -= n;
	}
	return NULL;
}

/*
 * Walk the chain starting at head into c.  Returns NULL, or why the
 * chain is unusable.  A chain may end in an indirect table (2.7.5.3).
 */
static const char *chain_walk(struct virtq *vq, uint16_t head,
			      struct virtq_chain *c)
{
	const struct vring_desc *table = vq->desc;
	unsigned int size = vq->num;	/* entries in table */
	unsigned int walked = 0;	/* descriptors followed in table */
	bool in_indirect = false, writable_seen = false;
	unsigned int i = head;

	c->head = head;
	c->nr_rd = c->nr_wr = 0;
	c->rd_len = c->wr_len = 0;
	c->rd = c->iov;

	for (;;) {
		struct vring_desc d;
		uint16_t flags;
		uint32_t len;
		uint64_t addr;
		const char *err;

		/* More descriptors than the table holds means a loop. */
		if (++walked > size)
			return "descriptor loop";
		memcpy(&d, &table[i], sizeof(d));
		barrier();
		flags = le16toh(d.flags);
		len = le32toh(d.len);
		addr = le64toh(d.addr);

		if (flags & ~VRING_DESC_F_KNOWN)
			return "unknown descriptor flags";
		if (flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return "indirect descriptor not negotiated";
			if (in_indirect)
				return "nested indirect table";
			if (flags & VRING_DESC_F_NEXT)
				return "indirect descriptor with next flag";
			if (!len || len % sizeof(struct vring_desc) ||
			    len / sizeof(struct vring_desc) > VIRTQ_MAX_SIZE)
				return "bad indirect table length";
			table = virtq_mem_gpa(vq->mem, addr, len);
			if (!table)
				return "indirect table outside guest memory";
			size = len / sizeof(struct vring_desc);
			walked = 0;
			i = 0;
			in_indirect = true;
			continue;
		}

		if (flags & VRING_DESC_F_WRITE)
			writable_seen = true;
		else if (writable_seen)
			return "readable descriptor after a writable one";
		err = chain_add(vq, c, addr, len, flags & VRING_DESC_F_WRITE);
		if (err)
			return err;

		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d.next);
		if (i >= size)
			return "next index out of range";
	}
	c->wr = c->iov + c->nr_rd;
	return NULL;
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	unsigned int rejected = 0;

	while (!vq->broken) {
		uint16_t avail_idx = load16(&vq->avail->idx, __ATOMIC_ACQUIRE);
		uint16_t pending = avail_idx - vq->last_avail_idx;
		const char *err;
		uint16_t head;

		if (!pending)
			return 0;
		if (pending > vq->num) {
			virtq_break(vq, "available index ahead by more than the ring size",
				    pending);
			break;
		}
		head = load16(&vq->avail->ring[vq->last_avail_idx % vq->num],
			      __ATOMIC_RELAXED);
		if (head >= vq->num) {
			virtq_break(vq, "available head out of range", head);
			break;
		}
		vq->last_avail_idx++;

		err = chain_walk(vq, head, c);
		if (!err)
			return 1;
		if (vbd_ratelimit(&vq->rl))
			log_warn("virtqueue %u: chain %u rejected: %s",
				 vq->index, head, err);
		virtq_push(vq, head, 0);
		/*
		 * A sane driver cannot have more than num chains pending;
		 * more means the ring moves under us: stop, do not spin.
		 */
		if (++rejected > vq->num) {
			virtq_break(vq, "more malformed chains than ring entries",
				    rejected);
			break;
		}
	}
	return -EIO;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx % vq->num];

	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
	vq->used_idx++;
	store16(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

void virtq_disable_notify(struct virtq *vq)
{
	/* With event idx, a stale avail_event already keeps the driver quiet. */
	if (!vq->event_idx)
		store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (vq->broken)
		return false;
	if (vq->event_idx)
		store16(avail_event(vq), vq->last_avail_idx, __ATOMIC_RELAXED);
	else
		store16(&vq->used->flags, 0, __ATOMIC_RELAXED);
	/* Publish the above before looking for buffers added meanwhile. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail_idx;
}

bool virtq_need_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_used_valid;

	if (valid && old == new)
		return false;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;

	/* Publish the used index before reading the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(&vq->avail->flags, __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	return !valid ||
	       vring_need_event(load16(used_event(vq), __ATOMIC_RELAXED),
				new, old);
}
