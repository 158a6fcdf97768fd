/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Output layer: where the host shows the scanouts.  The display calls
 * an output through struct vbd_output_ops, so that device logic can be
 * tested against a fake; image files are written here too.
 */
#ifndef VBD_OUTPUT_H
#define VBD_OUTPUT_H

#include <stdint.h>

#include "display.h"

/*
 * Called with the display's lock held, from request threads: be quick
 * and do not call back into the display.
 */
struct vbd_output_ops {
	/* scanout's surface is now width x height (0 x 0: disabled). */
	void (*resize)(struct vbd_output *out, unsigned int scanout,
		       uint32_t width, uint32_t height);
	/* Pixels in r of scanout's surface changed. */
	void (*update)(struct vbd_output *out, unsigned int scanout,
		       const struct vbd_rect *r);
	/* Without the display's lock, when the display is freed. */
	void (*destroy)(struct vbd_output *out);
};

struct vbd_output {
	const struct vbd_output_ops *ops;
};

/*
 * A VNC server showing scanout 0 on 127.0.0.1:port, served by a thread
 * of its own; with VNC authentication if password is not NULL (only its
 * first 8 bytes count, as RFB's DES challenge goes).  NULL after logging
 * why not.
 */
struct vbd_output *vbd_vnc_new(struct vbd_display *d, unsigned int port,
			       const char *password);
/*
 * The same in two steps, for the sandbox: listen (width x height until
 * the guest shows something), then, once the display exists, serve it.
 * Until then, vbd_output's destroy only closes the socket.
 */
struct vbd_output *vbd_vnc_listen(unsigned int port, const char *password,
				  uint32_t width, uint32_t height);
int vbd_vnc_start(struct vbd_output *out, struct vbd_display *d);

/*
 * Write img as PNG (RGB) or as raw XRGB8888 rows; 0 or -errno.  To fd if
 * it is >= 0 (a file a client opened), else to a new file at path,
 * created 0600 with O_EXCL | O_NOFOLLOW (-EEXIST if something is there).
 */
int vbd_image_write_png(const struct vbd_image *img, const char *path, int fd);
int vbd_image_write_raw(const struct vbd_image *img, const char *path, int fd);

#endif /* VBD_OUTPUT_H */
