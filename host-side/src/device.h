/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vbridge device: config space, feature bits and the requests of
 * include/uapi/linux/vbridge.h, on top of the vhost-user layer.
 */
#ifndef VBD_DEVICE_H
#define VBD_DEVICE_H

#include <stdint.h>

#include "display.h"
#include "fs.h"
#include "share.h"
#include "vhost_user.h"

/* Limits the device proposes in INIT. */
/* A 1 MiB payload plus its headers. */
#define VBD_MAX_REQ_SIZE	((1U << 20) + 4096)
#define VBD_MAX_INFLIGHT	VIRTQ_MAX_SIZE
/* Events waiting for the guest to post event buffers. */
#define VBD_MAX_PENDING_EVENTS	16

struct vbd_device;

/*
 * A device with num_request_queues request queues exporting the
 * directories of store (which the device does not own) with fs_opts
 * (NULL: defaults).  NULL after logging why not.
 */
struct vbd_device *vbd_device_new(const struct vbd_store *store,
				  unsigned int num_request_queues,
				  const struct vbd_fs_opts *fs_opts);
/*
 * Offer a display with opts; before vbd_device_vu_info().  The device
 * owns the display returned (NULL after logging why not).
 */
struct vbd_display *vbd_device_enable_display(struct vbd_device *dev,
					       const struct vbd_display_opts *opts);
/*
 * Offer VIRTIO_F_ACCESS_PLATFORM (--access-platform), before
 * vbd_device_vu_info(): the guest then hands the device DMA addresses
 * (bounce buffers, say), which must still be guest-physical: vhost-user
 * rejects the bit if the frontend acks it, which would mean translating
 * them through a vIOMMU (IOTLB messages, not supported).
 */
void vbd_device_offer_access_platform(struct vbd_device *dev);
/*
 * Threads serving each request queue (--queue-threads), 1 to
 * VU_MAX_QUEUE_THREADS; before the frontend connects.  One thread per
 * queue handles its requests in order; more let a slow host call (an
 * fsync, a large copy) leave the requests behind it to the others.
 */
#define VBD_QUEUE_THREADS_DEFAULT	4
void vbd_device_set_queue_threads(struct vbd_device *dev, unsigned int n);
/*
 * Damage replies and events on purpose (--inject); before the frontend
 * connects.  The caller keeps inject and frees it after the device.
 */
struct vbd_inject;
void vbd_device_set_inject(struct vbd_device *dev, struct vbd_inject *inject);
/*
 * Serve requests through vbd_device_handle() without vhost-user (a
 * stream transport): every offered feature is on, and events are handed
 * to sink, from any thread, instead of an event queue; sink returns 0 or
 * a negative errno (the event was dropped).
 */
typedef int vbd_event_sink_fn(void *opaque, const void *ev, uint32_t len);
void vbd_device_start_direct(struct vbd_device *dev, vbd_event_sink_fn *sink,
			     void *opaque);
/*
 * Handle the request in c (device-readable segments: request header and
 * payload; device-writable: room for the response), from any thread.
 * mem is the guest memory the request may point into (display
 * requests), NULL when there is none.  Returns the bytes written to c,
 * 0 when c has no room for a response header.
 */
uint32_t vbd_device_handle(struct vbd_device *dev, const struct virtq_mem *mem,
			   const struct virtq_chain *c);
/* The request size INIT negotiated, VBRIDGE_MIN_REQ_SIZE before it. */
uint32_t vbd_device_max_req_size(struct vbd_device *dev);
/*
 * Forget the vhost-user device: call before vu_dev_free().  The device
 * is not attached to another one afterwards.
 */
void vbd_device_detach(struct vbd_device *dev);
void vbd_device_free(struct vbd_device *dev);

/* Its filesystem, NULL without exports (tests feed its watcher). */
struct vbd_fs *vbd_device_fs(struct vbd_device *dev);

/* How the vhost-user layer reaches the device. */
void vbd_device_vu_info(struct vbd_device *dev, struct vu_dev_info *info);

#endif /* VBD_DEVICE_H */
