/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user backend: the control connection to the frontend (QEMU) and
 * threads for each running virtqueue.
 *
 * The main thread reads and answers the frontend's messages.  A queue's
 * threads exist while its ring is started and enabled and memory is
 * mapped; they wait for kicks and hand the ring to the device, which may
 * handle several chains of one ring at once (vu_queue_unlock_chain()),
 * so that a slow request does not hold up those behind it.  The main
 * thread stops queue threads (and waits for them and for the chains they
 * hold) before it changes anything they use: the memory table, ring
 * addresses, kick file descriptors, negotiated features, device state on
 * reset.
 */
#ifndef VBD_VHOST_USER_H
#define VBD_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "virtq.h"

/* QEMU's VHOST_USER_MAX_CONFIG_SIZE: the largest config space transferred. */
#define VU_MAX_CONFIG_SIZE	256
/* The most threads one virtqueue gets. */
#define VU_MAX_QUEUE_THREADS	64

struct vu_dev;
struct vu_queue;

struct vu_dev_ops {
	/*
	 * On one of the queue's threads: the driver kicked queue index, or
	 * the queue just started.  Use vu_queue_lock() to get at the ring.
	 */
	void (*handle_queue)(void *opaque, struct vu_queue *q,
			     unsigned int index);
	/* How many threads serve queue index (1 without this callback). */
	unsigned int (*queue_threads)(void *opaque, unsigned int index);
	/* Copy config space [offset, offset + len) to buf; -EINVAL if outside. */
	int (*get_config)(void *opaque, void *buf, uint32_t offset,
			  uint32_t len);
	/* The driver's features were acked (queue threads are stopped). */
	void (*set_features)(void *opaque, uint64_t features);
	/* Device reset (queue threads are stopped). */
	void (*reset)(void *opaque);
};

struct vu_dev_info {
	uint64_t features;		/* virtio features offered */
	unsigned int num_queues;
	const struct vu_dev_ops *ops;
	void *opaque;
};

/* Serve the frontend connected on sock, which the device then owns. */
struct vu_dev *vu_dev_new(int sock, const struct vu_dev_info *info);
/*
 * Handle messages until the frontend disconnects (returns 0) or the
 * connection breaks: a protocol violation, or an I/O error (returns a
 * negative errno after logging why).
 */
int vu_dev_run(struct vu_dev *d);
/* Stop the queue threads, unmap guest memory, close everything. */
void vu_dev_free(struct vu_dev *d);

struct vu_queue *vu_dev_queue(struct vu_dev *d, unsigned int index);
struct vu_dev *vu_queue_dev(const struct vu_queue *q);

/*
 * Lock q's ring; NULL (and not locked) if the ring is not running or is
 * stopping.  Any thread may take any queue's lock; the device fixes the
 * order in which a thread nests them.  Every chain popped must be pushed
 * before the unlock, or handed over with vu_queue_unlock_chain(): the
 * main thread stops a ring by taking its lock.
 */
struct virtq *vu_queue_lock(struct vu_queue *q);
/*
 * Unlock q to handle the chain just popped while other threads go on
 * with the ring: the ring keeps running (memory stays mapped) until
 * vu_queue_lock_chain() took the lock back for the chain's push.  That
 * returns false if the ring is stopping: push the chain, unlock and pop
 * nothing more.
 */
void vu_queue_unlock_chain(struct vu_queue *q);
bool vu_queue_lock_chain(struct vu_queue *q);
/* Interrupt the driver if it wants one for what was used (lock held). */
void vu_queue_notify(struct vu_queue *q);
void vu_queue_unlock(struct vu_queue *q);

#endif /* VBD_VHOST_USER_H */
