/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The display requests of the vbridge device (VBRIDGE_OP_DISPLAY_*).
 *
 * Framebuffers stay in guest memory; a flush copies the damaged pixels
 * of each scanout into a host-side surface, which the outputs (VNC,
 * screenshots) read without ever touching guest memory.
 */
#ifndef VBD_DISPLAY_H
#define VBD_DISPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "virtq.h"

/* What one guest may make the device hold. */
#define VBD_DISPLAY_MAX_RESOURCES	64
/* 64 MiB in 4 KiB pages: a 5K framebuffer in scattered pages. */
#define VBD_DISPLAY_MAX_ENTRIES		16384
#define VBD_DISPLAY_MAX_OUTPUTS		4
/* Memory entries of all resources together (1 GiB in 4 KiB pages). */
#define VBD_DISPLAY_MAX_TOTAL_ENTRIES	(4 * VBD_DISPLAY_MAX_ENTRIES)
/* Frames of the largest mode per head that all resources may describe. */
#define VBD_DISPLAY_MAX_FRAMES		16
/* Damage rectangles of a FLUSH copied one by one; more are merged. */
#define VBD_DISPLAY_FLUSH_RECTS		16

struct vbd_rect {
	uint32_t x;
	uint32_t y;
	uint32_t width;
	uint32_t height;
};

/* Pixels as XRGB8888 (little-endian B, G, R, X bytes), width * 4 per row. */
struct vbd_image {
	uint32_t width;
	uint32_t height;
	uint8_t *pixels;
};

struct vbd_display;
struct vbd_output;

struct vbd_display_opts {
	unsigned int num_scanouts;	/* 1..VBRIDGE_DISPLAY_MAX_SCANOUTS */
	uint32_t width;			/* initial preferred mode of each */
	uint32_t height;
};

/* Deliver an event to the guest; -EAGAIN if it had to be dropped. */
typedef int vbd_display_event_fn(void *opaque, const void *ev, uint32_t len);

/* NULL after logging why not. */
struct vbd_display *vbd_display_new(const struct vbd_display_opts *opts,
				    vbd_display_event_fn *post_event,
				    void *opaque);
/* Destroys the outputs too. */
void vbd_display_free(struct vbd_display *d);
/* Forget every resource and disable every scanout (device reset). */
void vbd_display_reset(struct vbd_display *d);
/*
 * Show the scanouts on out, which the display then owns.  Only before
 * requests are served: the list is read without a lock.  -ENOSPC if
 * there are VBD_DISPLAY_MAX_OUTPUTS already (out is destroyed).
 */
int vbd_display_add_output(struct vbd_display *d, struct vbd_output *out);
unsigned int vbd_display_num_scanouts(const struct vbd_display *d);

/* One request: the payloads follow the common headers in c. */
struct vbd_display_req {
	const struct virtq_chain *c;
	/* Guest memory, stable while the request's ring is locked. */
	const struct virtq_mem *mem;
	uint32_t opcode;
	uint32_t in_len;		/* input payload bytes */
	size_t out_max;			/* room for the output payload */
	size_t out_len;			/* output payload written */
};

/* Handle r; returns 0 or a negative errno for the response header. */
int vbd_display_handle(struct vbd_display *d, struct vbd_display_req *r);

/*
 * A copy of scanout's surface, to free() img->pixels; -EINVAL for no
 * such scanout, -ENODATA while it is disabled, -ENOMEM.
 */
int vbd_display_capture(struct vbd_display *d, unsigned int scanout,
			struct vbd_image *img);
/*
 * Copy the part of r inside both scanout's surface and dst (same
 * coordinates).  For outputs: not from their update or resize callbacks.
 */
void vbd_display_read(struct vbd_display *d, unsigned int scanout,
		      const struct vbd_rect *r, struct vbd_image *dst);

struct vbd_scanout_info {
	uint32_t mode_width;		/* preferred mode, as in GET_INFO */
	uint32_t mode_height;
	uint32_t resource_id;		/* 0: disabled */
	uint32_t width;			/* of the surface */
	uint32_t height;
};

int vbd_display_scanout_info(struct vbd_display *d, unsigned int scanout,
			     struct vbd_scanout_info *info);
/*
 * Change scanout's preferred mode and tell the guest with a
 * VBRIDGE_EVT_DISPLAY_CHANGED event: -EINVAL for a bad scanout or size,
 * -EAGAIN if the event was dropped (the mode changed all the same).
 */
int vbd_display_set_mode(struct vbd_display *d, unsigned int scanout,
			 uint32_t width, uint32_t height);

#endif /* VBD_DISPLAY_H */
