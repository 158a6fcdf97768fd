/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vbridge: the interface between the core module (vbridge.ko) and the
 * drivers of the auxiliary devices it creates for optional functions.
 *
 * A device that offers a display (VBRIDGE_F_DISPLAY) gets an auxiliary
 * device "vbridge.display.N", a child of the virtio device, which
 * vbridge_drm.ko binds to.  The core keeps the virtio device, the request
 * queues and the event queue; the auxiliary driver sends requests through
 * vbridge_adev_request() and gets its events, and the device's freeze and
 * restore, through the vbridge_aux_ops it registers while bound.
 *
 * Unbinding the core deletes the auxiliary device first, so its driver is
 * gone before the device is reset.
 */
#ifndef _VBRIDGE_AUX_H
#define _VBRIDGE_AUX_H

#include <linux/auxiliary_bus.h>
#include <linux/mutex.h>
#include <linux/types.h>

/* Auxiliary device name of the display, after the core's module name. */
#define VBRIDGE_AUX_DISPLAY		"display"

struct vbridge_dev;
struct vbridge_adev;
struct virtio_device;

/**
 * typedef vbridge_end_t - completion callback of a background request
 * @vb: the device
 * @data: vbridge_args.end_data
 * @error: 0, the device's (negative) errno, -EIO if the device violated
 *	the protocol or was reset, -ENODEV if it was removed
 * @out: the inline output payload the device returned (valid on success)
 * @out_actual: output payload bytes the device returned, 0 on error: as
 *	vbridge_args.out_actual, the inline part first (at @out, at most
 *	vbridge_args.out_len bytes of it), then the out_bvec pages
 *
 * Called exactly once, from the completion work or from teardown (or
 * with VBRIDGE_REQ_END_ATOMIC from the virtqueue callback), for a request
 * that vbridge_request_args() or vbridge_adev_request_async() accepted
 * (returned 0 for).  Must not wait for other requests.
 */
typedef void (*vbridge_end_t)(struct vbridge_dev *vb, void *data, int error,
			      const void *out, u32 out_actual);

/**
 * struct vbridge_aux_ops - callbacks of the bound auxiliary driver
 * @display_changed: VBRIDGE_EVT_DISPLAY_CHANGED for a valid scanout, from
 *	the event work; must not wait for requests
 * @freeze: the device is about to be frozen; requests still go through
 * @restore: the device was reset and runs again (or failed to)
 */
struct vbridge_aux_ops {
	void (*display_changed)(struct vbridge_adev *vadev);
	void (*freeze)(struct vbridge_adev *vadev);
	void (*restore)(struct vbridge_adev *vadev);
};

/**
 * struct vbridge_adev - an auxiliary device of a vbridge device
 * @adev: the auxiliary device; its parent is the virtio device
 * @vb: the core device, referenced until @adev is released; requests fail
 *	with -ENODEV once the core is unbound
 * @vdev: the virtio device (referenced through @vb), for the DMA API
 * @name: the core device's name, "vbridgeN", for messages
 * @num_scanouts: the display configuration when @adev was created
 * @display_width: see @num_scanouts
 * @display_height: see @num_scanouts
 * @ops_lock: protects @ops, held while they are called
 * @ops: the bound driver's callbacks, NULL while none is bound
 */
struct vbridge_adev {
	struct auxiliary_device adev;
	struct vbridge_dev *vb;
	struct virtio_device *vdev;
	char name[20];
	u32 num_scanouts;
	u32 display_width;
	u32 display_height;
	struct mutex ops_lock;		/* see the kernel-doc above */
	const struct vbridge_aux_ops *ops;
};

static inline struct vbridge_adev *
to_vbridge_adev(struct auxiliary_device *adev)
{
	return container_of(adev, struct vbridge_adev, adev);
}

void vbridge_adev_set_ops(struct vbridge_adev *vadev,
			  const struct vbridge_aux_ops *ops);
int vbridge_adev_request(struct vbridge_adev *vadev, u32 opcode,
			 const void *in, u32 in_len, void *out, u32 out_len,
			 u32 *out_actual);
int vbridge_adev_request_async(struct vbridge_adev *vadev, u32 opcode,
			       const void *in, u32 in_len, vbridge_end_t end,
			       void *data);
u32 vbridge_adev_max_in_payload(struct vbridge_adev *vadev);

#endif /* _VBRIDGE_AUX_H */
