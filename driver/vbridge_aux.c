// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge: auxiliary devices for the device's optional functions.
 *
 * The display lives in its own module, vbridge_drm.ko, so that the core
 * (files, control node) has no DRM dependency and loads on kernels
 * without DRM.  The core creates the auxiliary device "vbridge.display.N"
 * when the device offers a display and asks for its driver, so that
 * "modprobe vbridge" brings up everything the device offers even without
 * udev (an initramfs); with udev the device's modalias does the same.
 */

#include <linux/device.h>
#include <linux/kmod.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/virtio.h>

#include "vbridge.h"

static void vbridge_adev_release(struct device *dev)
{
	struct vbridge_adev *vadev = to_vbridge_adev(to_auxiliary_dev(dev));

	vbridge_dev_put(vadev->vb);
	kfree(vadev);
}

/**
 * vbridge_aux_add() - create the display's auxiliary device
 * @vb: the device, running
 *
 * A display that cannot be created is left out with a message: the rest
 * of the device works without it.
 */
void vbridge_aux_add(struct vbridge_dev *vb)
{
	struct vbridge_adev *vadev;
	int err;

	if (!vbridge_has_feature(vb, VBRIDGE_F_DISPLAY))
		return;
	vadev = kzalloc(sizeof(*vadev), GFP_KERNEL);
	if (!vadev) {
		err = -ENOMEM;
		goto err_msg;
	}
	vbridge_dev_get(vb);
	vadev->vb = vb;
	vadev->vdev = vb->vdev;
	strscpy(vadev->name, vb->name, sizeof(vadev->name));
	vadev->num_scanouts = vb->cfg.num_scanouts;
	vadev->display_width = vb->cfg.display_width;
	vadev->display_height = vb->cfg.display_height;
	mutex_init(&vadev->ops_lock);
	vadev->adev.name = VBRIDGE_AUX_DISPLAY;
	vadev->adev.id = vb->id;
	vadev->adev.dev.parent = &vb->vdev->dev;
	vadev->adev.dev.release = vbridge_adev_release;

	err = auxiliary_device_init(&vadev->adev);
	if (err) {
		vbridge_dev_put(vb);
		kfree(vadev);
		goto err_msg;
	}
	err = auxiliary_device_add(&vadev->adev);
	if (err) {
		auxiliary_device_uninit(&vadev->adev);
		goto err_msg;
	}
	WRITE_ONCE(vb->display, vadev);
	/*
	 * Not synchronously: from module init, the display module would
	 * wait for this module's init to finish before it can link.
	 */
	request_module_nowait("auxiliary:" KBUILD_MODNAME "."
			      VBRIDGE_AUX_DISPLAY);
	return;

err_msg:
	dev_err(&vb->vdev->dev, "%s: display disabled: %d\n", vb->name, err);
}

/* Before the device is reset: unbind the display's driver. */
void vbridge_aux_remove(struct vbridge_dev *vb)
{
	struct vbridge_adev *vadev = vb->display;

	if (!vadev)
		return;
	WRITE_ONCE(vb->display, NULL);
	/* The event work may still look at @vadev: let it finish. */
	flush_work(&vb->evq.work);
	auxiliary_device_delete(&vadev->adev);
	auxiliary_device_uninit(&vadev->adev);
}

/* While the device still runs. */
void vbridge_aux_freeze(struct vbridge_dev *vb)
{
	struct vbridge_adev *vadev = vb->display;

	if (!vadev)
		return;
	mutex_lock(&vadev->ops_lock);
	if (vadev->ops)
		vadev->ops->freeze(vadev);
	mutex_unlock(&vadev->ops_lock);
}

/* After the device was reset and set up again. */
void vbridge_aux_restore(struct vbridge_dev *vb)
{
	struct vbridge_adev *vadev = vb->display;

	if (!vadev)
		return;
	mutex_lock(&vadev->ops_lock);
	if (vadev->ops)
		vadev->ops->restore(vadev);
	mutex_unlock(&vadev->ops_lock);
}

/* VBRIDGE_EVT_DISPLAY_CHANGED, from the event work.  False if malformed. */
bool vbridge_aux_display_event(struct vbridge_dev *vb, const void *buf,
			       u32 len)
{
	const struct vbridge_event_display_changed *ev = buf;
	struct vbridge_adev *vadev = READ_ONCE(vb->display);

	if (len < sizeof(*ev))
		return false;
	/* No display (yet, or any more): nothing to update. */
	if (!vadev)
		return true;
	if (le32_to_cpu(ev->scanout_id) >= vadev->num_scanouts)
		return false;
	mutex_lock(&vadev->ops_lock);
	if (vadev->ops)
		vadev->ops->display_changed(vadev);
	mutex_unlock(&vadev->ops_lock);
	return true;
}

/**
 * vbridge_adev_set_ops() - register or clear the bound driver's callbacks
 * @vadev: the auxiliary device
 * @ops: the callbacks, or NULL from the driver's remove
 *
 * Once this returned with NULL, no callback runs any more.
 */
void vbridge_adev_set_ops(struct vbridge_adev *vadev,
			  const struct vbridge_aux_ops *ops)
{
	mutex_lock(&vadev->ops_lock);
	vadev->ops = ops;
	mutex_unlock(&vadev->ops_lock);
}
EXPORT_SYMBOL_GPL(vbridge_adev_set_ops);

/**
 * vbridge_adev_request() - send a request and wait for its response
 * @vadev: the auxiliary device
 * @opcode: enum vbridge_opcode
 * @in: input payload, copied; may be on the stack
 * @in_len: bytes at @in
 * @out: output buffer, or NULL
 * @out_len: bytes at @out
 * @out_actual: if not NULL, set on success to the bytes the device wrote
 *
 * Waits killably.  Returns 0, the device's (negative) errno, -EIO if the
 * device failed, -ENODEV once the core is unbound.
 */
int vbridge_adev_request(struct vbridge_adev *vadev, u32 opcode,
			 const void *in, u32 in_len, void *out, u32 out_len,
			 u32 *out_actual)
{
	struct vbridge_args args = {
		.opcode = opcode,
		.flags = VBRIDGE_REQ_KILLABLE,
		.in = in,
		.in_len = in_len,
		.out = out,
		.out_len = out_len,
	};
	int err;

	err = vbridge_request_args(vadev->vb, &args);
	if (!err && out_actual)
		*out_actual = args.out_actual;
	return err;
}
EXPORT_SYMBOL_GPL(vbridge_adev_request);

/**
 * vbridge_adev_request_async() - send a request without waiting for it
 * @vadev: the auxiliary device
 * @opcode: enum vbridge_opcode
 * @in: input payload, copied; may be on the stack
 * @in_len: bytes at @in
 * @end: called with the result, in interrupt context (the virtqueue
 *	callback) or from teardown: it must not sleep
 * @data: passed to @end
 *
 * Returns once the request is on the ring, for callers that must not
 * wait for the host (the display's plane updates).  @end only records and
 * wakes (VBRIDGE_REQ_END_ATOMIC): whoever waits for the host learns at
 * the interrupt, not one kworker wake-up later.  Waits, without
 * giving up on signals, while the ring is full or the device suspended,
 * as background requests do; the watchdog bounds those waits too.
 *
 * Return: 0 if @end will be called; else an error as for
 * vbridge_adev_request(), and @end is not called.
 */
int vbridge_adev_request_async(struct vbridge_adev *vadev, u32 opcode,
			       const void *in, u32 in_len, vbridge_end_t end,
			       void *data)
{
	struct vbridge_args args = {
		.opcode = opcode,
		.flags = VBRIDGE_REQ_BACKGROUND | VBRIDGE_REQ_END_ATOMIC,
		.in = in,
		.in_len = in_len,
		.end = end,
		.end_data = data,
	};

	return vbridge_request_args(vadev->vb, &args);
}
EXPORT_SYMBOL_GPL(vbridge_adev_request_async);

/* Largest input payload of one request. */
u32 vbridge_adev_max_in_payload(struct vbridge_adev *vadev)
{
	return vbridge_max_in_payload(vadev->vb);
}
EXPORT_SYMBOL_GPL(vbridge_adev_max_in_payload);
