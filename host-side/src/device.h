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
 * Damage replies and events on purpose (--inject); before the frontend
 * connects.  The caller keeps inject and frees it after the device.
 */
struct vbd_inject;
void vbd_device_set_inject(struct vbd_device *dev, struct vbd_inject *inject);
/* Forget the vhost-user device: call before vu_dev_free(). */
void vbd_device_detach(struct vbd_device *dev);
void vbd_device_free(struct vbd_device *dev);

/* How the vhost-user layer reaches the device. */
void vbd_device_vu_info(struct vbd_device *dev, struct vu_dev_info *info);

#endif /* VBD_DEVICE_H */
