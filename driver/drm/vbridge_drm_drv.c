// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge display: the DRM/KMS device (VBRIDGE_F_DISPLAY), a driver for
 * the auxiliary device "vbridge.display.N" that the core module creates.
 *
 * One CRTC, primary plane, virtual encoder and virtual connector per
 * scanout.  Buffers are GEM shmem objects that stay in guest memory: the
 * host reads them directly (vbridge_kms_plane.c).  The device has no
 * vblank interrupt, so each CRTC emulates one with an hrtimer at the
 * mode's refresh rate; page flip events complete from it.
 *
 * The host announces new preferred modes and (dis)connected heads with
 * VBRIDGE_EVT_DISPLAY_CHANGED; a work item reads GET_INFO again and sends
 * a hotplug event.
 *
 * Lifetime: the DRM device is devm-managed by the auxiliary device and
 * holds a reference on it (and so on the core's device) until it is
 * released, which may be after remove if user space still has it open.
 * Remove unplugs it first, so every path that talks to the device is
 * inside drm_dev_enter()/drm_dev_exit().  The core unbinds this driver
 * before it resets the device.
 */

#include <linux/auxiliary_bus.h>
#include <linux/completion.h>
#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/virtio.h>

#include <drm/drm_atomic.h>
#include <drm/drm_atomic_helper.h>
#include <drm/drm_drv.h>
#include <drm/drm_edid.h>
#include <drm/drm_file.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_managed.h>
#include <drm/drm_modeset_helper.h>
#include <drm/drm_modeset_helper_vtables.h>
#include <drm/drm_probe_helper.h>
#include <drm/drm_vblank.h>

#include "vbridge_drm.h"

/* Refresh rate of the modes the driver offers. */
#define VBRIDGE_KMS_REFRESH	60

int vbridge_kms_request(struct vbridge_kms *kms, u32 opcode, const void *in,
			u32 in_len)
{
	return vbridge_adev_request(kms->vadev, opcode, in, in_len, NULL, 0,
				    NULL);
}

/*
 * GET_INFO: check the heads the host reports and take their modes.
 * Returns 0, the request's error or -EPROTO; sets *changed if a head's
 * mode or connection changed.
 */
static int vbridge_kms_get_info(struct vbridge_kms *kms, bool *changed)
{
	struct drm_device *drm = &kms->drm;
	struct vbridge_display_info_out *info;
	const struct vbridge_display_mode *m;
	struct vbridge_scanout *sc;
	u32 n, i, w, h, actual;
	int err;

	info = kzalloc(sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	err = vbridge_adev_request(kms->vadev, VBRIDGE_OP_DISPLAY_GET_INFO,
				   NULL, 0, info, sizeof(*info), &actual);
	if (err) {
		drm_err(drm, "GET_INFO failed: %d\n", err);
		goto out;
	}
	err = -EPROTO;
	if (actual < offsetof(typeof(*info), modes)) {
		drm_err(drm, "GET_INFO: short reply (%u bytes)\n",
			actual);
		goto out;
	}
	n = le32_to_cpu(info->num_scanouts);
	if (n != kms->num_scanouts) {
		drm_err(drm, "GET_INFO: %u scanouts, the configuration has %u\n",
			n, kms->num_scanouts);
		goto out;
	}
	if (actual < offsetof(typeof(*info), modes) +
			      n * sizeof(info->modes[0])) {
		drm_err(drm, "GET_INFO: short reply (%u bytes for %u scanouts)\n",
			actual, n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		m = &info->modes[i];
		w = le32_to_cpu(m->width);
		h = le32_to_cpu(m->height);
		if (m->enabled && (w < 1 || w > VBRIDGE_DISPLAY_MAX_DIM ||
				   h < 1 || h > VBRIDGE_DISPLAY_MAX_DIM)) {
			drm_err(drm, "GET_INFO: scanout %u: mode %ux%u is outside 1x1..%ux%u\n",
				i, w, h, VBRIDGE_DISPLAY_MAX_DIM,
				VBRIDGE_DISPLAY_MAX_DIM);
			goto out;
		}
	}

	mutex_lock(&kms->info_lock);
	for (i = 0; i < n; i++) {
		m = &info->modes[i];
		sc = &kms->scanouts[i];
		if (sc->connected != !!m->enabled)
			*changed = true;
		sc->connected = !!m->enabled;
		/* A disconnected head keeps its last mode. */
		if (!m->enabled)
			continue;
		w = le32_to_cpu(m->width);
		h = le32_to_cpu(m->height);
		if (w != sc->width || h != sc->height)
			*changed = true;
		sc->width = w;
		sc->height = h;
	}
	mutex_unlock(&kms->info_lock);
	err = 0;
out:
	kfree(info);
	return err;
}

static void vbridge_kms_changed_work(struct work_struct *work)
{
	struct vbridge_kms *kms = container_of(work, struct vbridge_kms,
					       changed_work);
	bool changed = false;
	int idx;

	if (!drm_dev_enter(&kms->drm, &idx))
		return;
	if (!vbridge_kms_get_info(kms, &changed) && changed)
		drm_kms_helper_hotplug_event(&kms->drm);
	drm_dev_exit(idx);
}

/* VBRIDGE_EVT_DISPLAY_CHANGED (the core checked it), from the event work. */
static void vbridge_kms_display_changed(struct vbridge_adev *vadev)
{
	struct vbridge_kms *kms = auxiliary_get_drvdata(&vadev->adev);

	schedule_work(&kms->changed_work);
}

/*
 * Connector.
 */

static struct vbridge_scanout *
connector_to_scanout(struct drm_connector *connector)
{
	return container_of(connector, struct vbridge_scanout, connector);
}

static enum drm_connector_status
vbridge_connector_detect(struct drm_connector *connector, bool force)
{
	struct vbridge_scanout *sc = connector_to_scanout(connector);
	bool connected;

	mutex_lock(&sc->kms->info_lock);
	connected = sc->connected;
	mutex_unlock(&sc->kms->info_lock);
	return connected ? connector_status_connected :
			   connector_status_disconnected;
}

/* The host's preferred mode, plus the standard modes that fit in it. */
static int vbridge_connector_get_modes(struct drm_connector *connector)
{
	struct vbridge_scanout *sc = connector_to_scanout(connector);
	struct drm_display_mode *mode;
	u32 w, h;
	int count;

	mutex_lock(&sc->kms->info_lock);
	w = sc->width;
	h = sc->height;
	mutex_unlock(&sc->kms->info_lock);

	count = drm_add_modes_noedid(connector, w, h);
	drm_set_preferred_mode(connector, w, h);
	list_for_each_entry(mode, &connector->probed_modes, head) {
		if (mode->type & DRM_MODE_TYPE_PREFERRED)
			return count;
	}

	/* No standard mode has that size: CVT works in 8-pixel columns. */
	mode = drm_cvt_mode(connector->dev, ALIGN(w, 8), h,
			    VBRIDGE_KMS_REFRESH, false, false, false);
	if (!mode)
		return count;
	mode->hdisplay = w;
	drm_mode_set_name(mode);
	mode->type |= DRM_MODE_TYPE_DRIVER | DRM_MODE_TYPE_PREFERRED;
	drm_mode_probed_add(connector, mode);
	return count + 1;
}

static const struct drm_connector_helper_funcs vbridge_connector_helper_funcs = {
	.get_modes = vbridge_connector_get_modes,
};

static const struct drm_connector_funcs vbridge_connector_funcs = {
	.detect = vbridge_connector_detect,
	.fill_modes = drm_helper_probe_single_connector_modes,
	.reset = drm_atomic_helper_connector_reset,
	.atomic_duplicate_state = drm_atomic_helper_connector_duplicate_state,
	.atomic_destroy_state = drm_atomic_helper_connector_destroy_state,
};

/*
 * CRTC and emulated vblank.
 */

static struct vbridge_scanout *crtc_to_scanout(struct drm_crtc *crtc)
{
	return container_of(crtc, struct vbridge_scanout, crtc);
}

static enum hrtimer_restart vbridge_vblank_timer(struct hrtimer *timer)
{
	struct vbridge_scanout *sc = container_of(timer, struct vbridge_scanout,
						  vbl_timer);
	unsigned long flags;
	bool restart;

	/*
	 * Enabling vblank again while this runs starts the timer anew:
	 * then it must not be forwarded here.
	 */
	spin_lock_irqsave(&sc->vbl_lock, flags);
	restart = sc->vbl_on && !hrtimer_is_queued(timer);
	if (restart)
		hrtimer_forward_now(timer, sc->vbl_period);
	spin_unlock_irqrestore(&sc->vbl_lock, flags);

	if (!restart)
		return HRTIMER_NORESTART;
	drm_crtc_handle_vblank(&sc->crtc);
	return HRTIMER_RESTART;
}

/* Called with the vblank core's spinlocks held. */
static int vbridge_crtc_enable_vblank(struct drm_crtc *crtc)
{
	struct vbridge_scanout *sc = crtc_to_scanout(crtc);
	u64 ns = drm_crtc_vblank_crtc(crtc)->framedur_ns;
	unsigned long flags;

	spin_lock_irqsave(&sc->vbl_lock, flags);
	sc->vbl_on = true;
	sc->vbl_period = ns_to_ktime(ns ?: NSEC_PER_SEC / VBRIDGE_KMS_REFRESH);
	hrtimer_start(&sc->vbl_timer, sc->vbl_period, HRTIMER_MODE_REL);
	spin_unlock_irqrestore(&sc->vbl_lock, flags);
	return 0;
}

/*
 * Called with the lock drm_crtc_handle_vblank() takes held: the timer
 * cannot be waited for here.  A running callback sees @vbl_on clear.
 */
static void vbridge_crtc_disable_vblank(struct drm_crtc *crtc)
{
	struct vbridge_scanout *sc = crtc_to_scanout(crtc);
	unsigned long flags;

	spin_lock_irqsave(&sc->vbl_lock, flags);
	sc->vbl_on = false;
	hrtimer_try_to_cancel(&sc->vbl_timer);
	spin_unlock_irqrestore(&sc->vbl_lock, flags);
}

static enum drm_mode_status
vbridge_crtc_mode_valid(struct drm_crtc *crtc,
			const struct drm_display_mode *mode)
{
	if (mode->hdisplay > VBRIDGE_DISPLAY_MAX_DIM)
		return MODE_BAD_HVALUE;
	if (mode->vdisplay > VBRIDGE_DISPLAY_MAX_DIM)
		return MODE_BAD_VVALUE;
	return MODE_OK;
}

static void vbridge_crtc_atomic_enable(struct drm_crtc *crtc,
				       struct drm_atomic_state *state)
{
	drm_crtc_vblank_on(crtc);
}

static void vbridge_crtc_atomic_disable(struct drm_crtc *crtc,
					struct drm_atomic_state *state)
{
	drm_crtc_vblank_off(crtc);
}

/*
 * A commit that keeps the primary plane's framebuffer (DIRTYFB, a
 * damage-only update) is done once the plane update's FLUSH is on the
 * ring: the host copies the damage while the client draws on, there is
 * no flip to pace, and the next update waits for that FLUSH.
 */
static bool vbridge_crtc_damage_only(struct drm_crtc *crtc,
				     struct drm_atomic_state *state,
				     struct drm_crtc_state *crtc_state)
{
	struct drm_plane_state *old_state, *new_state;

	if (drm_atomic_crtc_needs_modeset(crtc_state))
		return false;
	old_state = drm_atomic_get_old_plane_state(state, crtc->primary);
	new_state = drm_atomic_get_new_plane_state(state, crtc->primary);
	return old_state && new_state && old_state->fb == new_state->fb;
}

/* Page flip and commit completion: at the next (emulated) vblank. */
static void vbridge_crtc_atomic_flush(struct drm_crtc *crtc,
				      struct drm_atomic_state *state)
{
	struct drm_crtc_state *crtc_state =
		drm_atomic_get_new_crtc_state(state, crtc);
	struct drm_pending_vblank_event *event = crtc_state->event;

	if (!event)
		return;
	crtc_state->event = NULL;
	spin_lock_irq(&crtc->dev->event_lock);
	if (crtc_state->active &&
	    !vbridge_crtc_damage_only(crtc, state, crtc_state) &&
	    drm_crtc_vblank_get(crtc) == 0)
		drm_crtc_arm_vblank_event(crtc, event);
	else
		drm_crtc_send_vblank_event(crtc, event);
	spin_unlock_irq(&crtc->dev->event_lock);
}

static const struct drm_crtc_helper_funcs vbridge_crtc_helper_funcs = {
	.mode_valid = vbridge_crtc_mode_valid,
	.atomic_enable = vbridge_crtc_atomic_enable,
	.atomic_disable = vbridge_crtc_atomic_disable,
	.atomic_flush = vbridge_crtc_atomic_flush,
};

static const struct drm_crtc_funcs vbridge_crtc_funcs = {
	.reset = drm_atomic_helper_crtc_reset,
	.set_config = drm_atomic_helper_set_config,
	.page_flip = drm_atomic_helper_page_flip,
	.atomic_duplicate_state = drm_atomic_helper_crtc_duplicate_state,
	.atomic_destroy_state = drm_atomic_helper_crtc_destroy_state,
	.enable_vblank = vbridge_crtc_enable_vblank,
	.disable_vblank = vbridge_crtc_disable_vblank,
};

static int vbridge_scanout_init(struct vbridge_scanout *sc)
{
	struct drm_device *drm = &sc->kms->drm;
	int err;

	err = vbridge_plane_init(sc);
	if (err)
		return err;
	err = drmm_crtc_init_with_planes(drm, &sc->crtc, &sc->primary, NULL,
					 &vbridge_crtc_funcs, NULL);
	if (err)
		return err;
	drm_crtc_helper_add(&sc->crtc, &vbridge_crtc_helper_funcs);

	err = drmm_encoder_init(drm, &sc->encoder, NULL,
				DRM_MODE_ENCODER_VIRTUAL, NULL);
	if (err)
		return err;
	sc->encoder.possible_crtcs = drm_crtc_mask(&sc->crtc);

	err = drmm_connector_init(drm, &sc->connector, &vbridge_connector_funcs,
				  DRM_MODE_CONNECTOR_VIRTUAL, NULL);
	if (err)
		return err;
	drm_connector_helper_add(&sc->connector,
				 &vbridge_connector_helper_funcs);
	sc->connector.polled = DRM_CONNECTOR_POLL_HPD;
	return drm_connector_attach_encoder(&sc->connector, &sc->encoder);
}

/*
 * Device.
 */

static const struct drm_mode_config_funcs vbridge_mode_config_funcs = {
	.fb_create = vbridge_fb_create,
	.atomic_check = drm_atomic_helper_check,
	.atomic_commit = drm_atomic_helper_commit,
};

/*
 * As drm_atomic_helper_commit_tail(), but done when the commit's events
 * fired rather than after a vblank count change within 100 ms: the
 * emulated vblank of a busy (or TCG) guest may come later than that.
 */
static void vbridge_commit_tail(struct drm_atomic_state *state)
{
	struct drm_device *drm = state->dev;

	drm_atomic_helper_commit_modeset_disables(drm, state);
	drm_atomic_helper_commit_modeset_enables(drm, state);
	drm_atomic_helper_commit_planes(drm, state, 0);
	drm_atomic_helper_commit_hw_done(state);
	drm_atomic_helper_wait_for_flip_done(drm, state);
	drm_atomic_helper_cleanup_planes(drm, state);
}

static const struct drm_mode_config_helper_funcs vbridge_mode_config_helpers = {
	.atomic_commit_tail = vbridge_commit_tail,
};

DEFINE_DRM_GEM_FOPS(vbridge_kms_fops);

/*
 * No PRIME import of foreign buffers: their pages cannot be handed to
 * the host, and mapping them for the virtio device (which has no DMA
 * mask) is not possible either.
 */
static const struct drm_driver vbridge_drm_driver = {
	.driver_features = DRIVER_MODESET | DRIVER_GEM | DRIVER_ATOMIC,
	.fops = &vbridge_kms_fops,
	.dumb_create = drm_gem_shmem_dumb_create,
	.name = VBRIDGE_DRM_NAME,
	.desc = "vbridge paravirtual display",
	.date = "20250101",
	.major = VBRIDGE_PROTO_MAJOR,
	.minor = VBRIDGE_PROTO_MINOR,
};

/* Last reference to the DRM device dropped. */
static void vbridge_kms_release(struct drm_device *drm, void *data)
{
	struct vbridge_kms *kms = data;
	unsigned int i;

	cancel_work_sync(&kms->changed_work);
	for (i = 0; i < kms->num_scanouts; i++)
		hrtimer_cancel(&kms->scanouts[i].vbl_timer);
	ida_destroy(&kms->ids);
}

static const struct vbridge_aux_ops vbridge_kms_aux_ops;

/*
 * Create the display.  If it fails, the rest of the device works
 * without it.
 */
static int vbridge_kms_probe(struct auxiliary_device *adev,
			     const struct auxiliary_device_id *id)
{
	struct vbridge_adev *vadev = to_vbridge_adev(adev);
	struct device *dev = &adev->dev;
	struct vbridge_scanout *scanouts;
	struct vbridge_kms *kms;
	struct drm_device *drm;
	bool changed = false;
	unsigned int i, n;
	int err;

	kms = devm_drm_dev_alloc(dev, &vbridge_drm_driver, struct vbridge_kms,
				 drm);
	if (IS_ERR(kms)) {
		err = PTR_ERR(kms);
		goto err_disabled;
	}
	/* From here on, whatever is set up is released with the device. */
	drm = &kms->drm;
	ida_init(&kms->ids);
	atomic_set(&kms->gen, 1);
	INIT_WORK(&kms->changed_work, vbridge_kms_changed_work);
	err = drmm_mutex_init(drm, &kms->info_lock);
	if (err)
		goto err_disabled;

	/*
	 * Managed actions run in reverse order: the scanouts, whose timers
	 * the release action cancels, must be allocated before it is added.
	 */
	n = vadev->num_scanouts;
	scanouts = drmm_kcalloc(drm, n, sizeof(*scanouts), GFP_KERNEL);
	if (!scanouts) {
		err = -ENOMEM;
		goto err_disabled;
	}
	for (i = 0; i < n; i++) {
		scanouts[i].kms = kms;
		scanouts[i].index = i;
		spin_lock_init(&scanouts[i].vbl_lock);
		hrtimer_init(&scanouts[i].vbl_timer, CLOCK_MONOTONIC,
			     HRTIMER_MODE_REL);
		scanouts[i].vbl_timer.function = vbridge_vblank_timer;
		/* The configuration's mode until the host says otherwise. */
		scanouts[i].width = vadev->display_width;
		scanouts[i].height = vadev->display_height;
		/* No FLUSH in flight. */
		init_completion(&scanouts[i].flush_idle);
		complete_all(&scanouts[i].flush_idle);
	}
	kms->scanouts = scanouts;
	kms->num_scanouts = n;
	kms->vadev = vadev;
	err = drmm_add_action_or_reset(drm, vbridge_kms_release, kms);
	if (err)
		goto err_disabled;

	err = vbridge_kms_get_info(kms, &changed);
	if (err)
		goto err_disabled;

	err = drmm_mode_config_init(drm);
	if (err)
		goto err_disabled;
	drm->mode_config.min_width = 1;
	drm->mode_config.min_height = 1;
	drm->mode_config.max_width = VBRIDGE_DISPLAY_MAX_DIM;
	drm->mode_config.max_height = VBRIDGE_DISPLAY_MAX_DIM;
	drm->mode_config.preferred_depth = 24;
	drm->mode_config.funcs = &vbridge_mode_config_funcs;
	drm->mode_config.helper_private = &vbridge_mode_config_helpers;
	for (i = 0; i < n; i++) {
		err = vbridge_scanout_init(&scanouts[i]);
		if (err)
			goto err_disabled;
	}
	err = drm_vblank_init(drm, n);
	if (err)
		goto err_disabled;
	drm_mode_config_reset(drm);
	err = drmm_kms_helper_poll_init(drm);
	if (err)
		goto err_disabled;

	err = drm_dev_register(drm, 0);
	if (err)
		goto err_disabled;
	auxiliary_set_drvdata(adev, kms);
	vbridge_adev_set_ops(vadev, &vbridge_kms_aux_ops);
	/*
	 * fbdev through a shadow buffer: 6.12's deferred I/O rewrites
	 * page->mapping of the pages it maps, and freeing a shmem buffer
	 * mapped that way livelocks in shmem_undo_range() on unbind.
	 */
	drm_fbdev_ttm_setup(drm, 32);
	drm_info(drm, "%s: %u scanout(s), %ux%u\n", vadev->name, n,
		 scanouts[0].width, scanouts[0].height);
	return 0;

err_disabled:
	dev_err(dev, "%s: display disabled: %d\n", vadev->name, err);
	return err;
}

/* Wait until no scanout has a FLUSH in flight. */
static void vbridge_kms_flush_wait(struct vbridge_kms *kms)
{
	unsigned int i;

	for (i = 0; i < kms->num_scanouts; i++)
		vbridge_scanout_flush_wait(&kms->scanouts[i]);
}

/* Before the device is reset: no more requests, heads off. */
static void vbridge_kms_remove(struct auxiliary_device *adev)
{
	struct vbridge_kms *kms = auxiliary_get_drvdata(adev);

	vbridge_adev_set_ops(kms->vadev, NULL);
	drm_dev_unplug(&kms->drm);
	drm_atomic_helper_shutdown(&kms->drm);
	cancel_work_sync(&kms->changed_work);
	/* Their callbacks use the scanouts, which may go with the device. */
	vbridge_kms_flush_wait(kms);
}

/* While the device still runs: turn the heads off. */
static void vbridge_kms_freeze(struct vbridge_adev *vadev)
{
	struct vbridge_kms *kms = auxiliary_get_drvdata(&vadev->adev);
	int err;

	err = drm_mode_config_helper_suspend(&kms->drm);
	if (err)
		drm_err(&kms->drm, "suspend failed: %d\n", err);
	cancel_work_sync(&kms->changed_work);
	/* The device is reset next: no FLUSH may be left on its rings. */
	vbridge_kms_flush_wait(kms);
}

/*
 * The device was reset and knows no resource: framebuffers are registered
 * again when shown.  The host may have new modes too.
 */
static void vbridge_kms_restore(struct vbridge_adev *vadev)
{
	struct vbridge_kms *kms = auxiliary_get_drvdata(&vadev->adev);
	unsigned int i;
	int err;

	atomic_inc(&kms->gen);
	for (i = 0; i < kms->num_scanouts; i++)
		kms->scanouts[i].shown_id = 0;
	err = drm_mode_config_helper_resume(&kms->drm);
	if (err)
		drm_err(&kms->drm, "resume failed: %d\n", err);
	schedule_work(&kms->changed_work);
}

static const struct vbridge_aux_ops vbridge_kms_aux_ops = {
	.display_changed = vbridge_kms_display_changed,
	.freeze = vbridge_kms_freeze,
	.restore = vbridge_kms_restore,
};

static const struct auxiliary_device_id vbridge_kms_id_table[] = {
	{ .name = "vbridge." VBRIDGE_AUX_DISPLAY },
	{ }
};
MODULE_DEVICE_TABLE(auxiliary, vbridge_kms_id_table);

static struct auxiliary_driver vbridge_kms_driver = {
	.name = VBRIDGE_AUX_DISPLAY,
	.id_table = vbridge_kms_id_table,
	.probe = vbridge_kms_probe,
	.remove = vbridge_kms_remove,
};
module_auxiliary_driver(vbridge_kms_driver);

MODULE_DESCRIPTION("vbridge paravirtual display (DRM/KMS)");
MODULE_LICENSE("GPL");
