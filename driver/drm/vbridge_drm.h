/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vbridge display module (vbridge_drm.ko): private definitions.
 *
 *   vbridge_drm_drv.c   auxiliary driver, DRM device, heads (CRTC,
 *                       encoder, connector), emulated vblank, hotplug,
 *                       suspend
 *   vbridge_drm_plane.c framebuffers and their host resources, plane
 *                       updates (SET_SCANOUT, FLUSH)
 *
 * The device itself belongs to the core module (vbridge.ko): requests go
 * through vbridge_adev_request() (vbridge_aux.h).
 */
#ifndef _VBRIDGE_DRM_H
#define _VBRIDGE_DRM_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/hrtimer.h>
#include <linux/idr.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/vbridge.h>

#include <drm/drm_connector.h>
#include <drm/drm_crtc.h>
#include <drm/drm_device.h>
#include <drm/drm_encoder.h>
#include <drm/drm_framebuffer.h>
#include <drm/drm_plane.h>

#include "vbridge_aux.h"
/* The DRM part of the compatibility header too. */
#define VBRIDGE_COMPAT_DRM
#include "vbridge_compat.h"

/* DRM driver name, as user space (modetest -M) knows it. */
#define VBRIDGE_DRM_NAME		"vbridge"

/*
 * Display (VBRIDGE_F_DISPLAY): a DRM/KMS device with one CRTC, primary
 * plane, encoder and connector per scanout.
 */

/**
 * struct vbridge_scanout - one head
 * @kms: owning display
 * @index: scanout id on the wire, also the CRTC index
 * @crtc: the CRTC
 * @primary: the primary plane
 * @encoder: the (virtual) encoder
 * @connector: the (virtual) connector
 * @connected: the host says a head is connected (under vbridge_kms.info_lock)
 * @width: the host's preferred mode (under vbridge_kms.info_lock)
 * @height: see @width
 * @vbl_lock: protects @vbl_on and @vbl_period, and orders starting
 *	@vbl_timer against its callback
 * @vbl_on: vblank interrupts are enabled
 * @vbl_period: emulated frame duration
 * @vbl_timer: emulated vblank interrupt
 * @shown_id: resource the host shows, 0 for none; only touched by commits
 *	on @primary, which the atomic helpers serialise, and by restore
 * @shown_src: the rectangle of @shown_id shown, in pixels
 * @flush_idle: complete while no FLUSH of this scanout is in flight.  A
 *	plane update sends FLUSH without waiting for the host; the next
 *	update, and anything that makes the host forget resources or stops
 *	the device (remove, freeze), waits for it first (see
 *	vbridge_scanout_flush_wait())
 */
struct vbridge_scanout {
	struct vbridge_kms *kms;
	unsigned int index;
	struct drm_crtc crtc;
	struct drm_plane primary;
	struct drm_encoder encoder;
	struct drm_connector connector;
	bool connected;
	u32 width;
	u32 height;
	spinlock_t vbl_lock;		/* see the kernel-doc above */
	bool vbl_on;
	ktime_t vbl_period;
	struct hrtimer vbl_timer;
	u32 shown_id;
	struct drm_rect shown_src;
	struct completion flush_idle;
};

/**
 * struct vbridge_kms - the display of one device
 * @drm: the DRM device, managed (devm) by the auxiliary device, which it
 *	references until it is released
 * @vadev: the auxiliary device of the vbridge device
 * @ids: host resource ids
 * @gen: bumped when the device was reset and forgot every resource
 * @info_lock: protects the heads' modes (vbridge_scanout.connected,
 *	width and height)
 * @changed_work: GET_INFO and hotplug after VBRIDGE_EVT_DISPLAY_CHANGED
 * @num_scanouts: entries in @scanouts
 * @scanouts: the heads
 */
struct vbridge_kms {
	struct drm_device drm;
	struct vbridge_adev *vadev;
	struct ida ids;
	atomic_t gen;
	struct mutex info_lock;		/* see the kernel-doc above */
	struct work_struct changed_work;
	unsigned int num_scanouts;
	struct vbridge_scanout *scanouts;
};

/**
 * struct vbridge_fb - a framebuffer and its host resource
 * @base: the DRM framebuffer
 * @lock: serialises registration: protects @id and @pinned, and writes
 *	of @host_gen (which plane updates read locklessly)
 * @id: host resource id, 0 until first shown
 * @host_gen: vbridge_kms.gen when the host last got the resource, 0 if never
 * @pinned: the buffer's pages are pinned for the host
 * @sgt: the pinned pages mapped for the device through the DMA API, NULL
 *	when the device reads guest-physical addresses; set under @lock
 */
struct vbridge_fb {
	struct drm_framebuffer base;
	struct mutex lock;		/* see the kernel-doc above */
	u32 id;
	int host_gen;
	bool pinned;
	struct sg_table *sgt;
};

static inline struct vbridge_kms *to_vbridge_kms(struct drm_device *drm)
{
	return container_of(drm, struct vbridge_kms, drm);
}

static inline struct vbridge_fb *to_vbridge_fb(struct drm_framebuffer *fb)
{
	return container_of(fb, struct vbridge_fb, base);
}

/* vbridge_drm_drv.c */
int vbridge_kms_request(struct vbridge_kms *kms, u32 opcode, const void *in,
			u32 in_len);

/* vbridge_drm_plane.c */
struct drm_framebuffer *vbridge_fb_create(struct drm_device *drm,
					  struct drm_file *file,
					  const struct drm_mode_fb_cmd2 *cmd);
int vbridge_plane_init(struct vbridge_scanout *sc);
void vbridge_scanout_flush_wait(struct vbridge_scanout *sc);

#endif /* _VBRIDGE_DRM_H */
