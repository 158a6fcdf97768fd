// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Outputs: a VNC server (libvncserver) and image files (libpng).
 *
 * libvncserver is not thread-safe, so one thread of ours makes every
 * call into it and owns its framebuffer.  The display's callbacks only
 * record what changed; the VNC thread then copies the damaged pixels
 * from the display's surface into the VNC framebuffer, marks them
 * modified and serves the clients.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <png.h>
#include <rfb/rfb.h>

#include "log.h"
#include "output.h"

/* How long the VNC thread waits for clients before it looks for damage. */
#define VNC_POLL_US	10000

/* What the display reported for the VNC thread to take over. */
struct vnc_changes {
	bool resized;			/* to width x height */
	uint32_t width;
	uint32_t height;
	bool damaged;			/* damage is meaningful */
	struct vbd_rect damage;		/* bounding box of the changes */
};

struct vnc {
	struct vbd_output base;
	struct vbd_display *display;
	pthread_t thread;
	bool started;			/* thread exists */

	/* Used by the VNC thread only (and by setup and teardown). */
	rfbScreenInfoPtr screen;
	struct vbd_image fb;
	/* For rfbCheckPasswordByList: { password, NULL }, or NULL. */
	char *passwords[2];

	/* lock protects the fields below; it nests inside the display's. */
	pthread_mutex_t lock;
	bool stop;
	struct vnc_changes pending;
};

static struct vnc *to_vnc(struct vbd_output *out)
{
	return (struct vnc *)out;
}

static void rect_union(struct vbd_rect *a, const struct vbd_rect *b)
{
	uint64_t x1 = (uint64_t)a->x + a->width, y1 = (uint64_t)a->y + a->height;

	if ((uint64_t)b->x + b->width > x1)
		x1 = (uint64_t)b->x + b->width;
	if ((uint64_t)b->y + b->height > y1)
		y1 = (uint64_t)b->y + b->height;
	a->x = a->x < b->x ? a->x : b->x;
	a->y = a->y < b->y ? a->y : b->y;
	a->width = x1 - a->x;
	a->height = y1 - a->y;
}

static void vnc_resize(struct vbd_output *out, unsigned int scanout,
		       uint32_t width, uint32_t height)
{
	struct vnc *v = to_vnc(out);

	/* A disabled head keeps its size and turns black. */
	if (scanout)
		return;
	pthread_mutex_lock(&v->lock);
	v->pending.resized = true;
	if (width) {
		v->pending.width = width;
		v->pending.height = height;
	}
	v->pending.damaged = false;
	pthread_mutex_unlock(&v->lock);
}

static void vnc_update(struct vbd_output *out, unsigned int scanout,
		       const struct vbd_rect *r)
{
	struct vnc *v = to_vnc(out);

	if (scanout)
		return;
	pthread_mutex_lock(&v->lock);
	if (v->pending.damaged)
		rect_union(&v->pending.damage, r);
	else
		v->pending.damage = *r;
	v->pending.damaged = true;
	pthread_mutex_unlock(&v->lock);
}

/*
 * Our pixels are XRGB8888: B, G, R, X in memory.  rfbGetScreen() and
 * rfbNewFramebuffer() pick R, G, B: correct it, and the clients'
 * translation from it.
 */
static void vnc_set_format(rfbScreenInfoPtr screen)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	screen->serverFormat.redShift = 16;
	screen->serverFormat.greenShift = 8;
	screen->serverFormat.blueShift = 0;
	it = rfbGetClientIterator(screen);
	while ((cl = rfbClientIteratorNext(it)))
		rfbSetTranslateFunction(cl);
	rfbReleaseClientIterator(it);
}

/* Take over what the display reported since the last round. */
static void vnc_refresh(struct vnc *v)
{
	struct vnc_changes c;

	pthread_mutex_lock(&v->lock);
	c = v->pending;
	v->pending.resized = v->pending.damaged = false;
	pthread_mutex_unlock(&v->lock);

	if (c.resized) {
		uint32_t width = c.width, height = c.height;
		uint8_t *pixels = calloc((size_t)width * height, 4);

		if (!pixels) {
			log_err("vnc: no memory for a %ux%u framebuffer", width, height);
			return;
		}
		rfbNewFramebuffer(v->screen, (char *)pixels, width, height, 8, 3, 4);
		vnc_set_format(v->screen);
		free(v->fb.pixels);
		v->fb = (struct vbd_image){ width, height, pixels };
		/* The whole screen: the surface may have been filled already. */
		c.damage = (struct vbd_rect){ 0, 0, width, height };
		c.damaged = true;
	}
	if (!c.damaged)
		return;
	vbd_display_read(v->display, 0, &c.damage, &v->fb);
	rfbMarkRectAsModified(v->screen, c.damage.x, c.damage.y,
			      c.damage.x + c.damage.width,
			      c.damage.y + c.damage.height);
}

static void *vnc_thread(void *arg)
{
	struct vnc *v = arg;
	bool stop;

	do {
		vnc_refresh(v);
		rfbProcessEvents(v->screen, VNC_POLL_US);
		pthread_mutex_lock(&v->lock);
		stop = v->stop;
		pthread_mutex_unlock(&v->lock);
	} while (!stop);
	return NULL;
}

static void vnc_free(struct vnc *v)
{
	if (v->screen) {
		rfbShutdownServer(v->screen, TRUE);
		rfbScreenCleanup(v->screen);
	}
	free(v->fb.pixels);
	if (v->passwords[0]) {
		explicit_bzero(v->passwords[0], strlen(v->passwords[0]));
		free(v->passwords[0]);
	}
	pthread_mutex_destroy(&v->lock);
	free(v);
}

static void vnc_destroy(struct vbd_output *out)
{
	struct vnc *v = to_vnc(out);

	pthread_mutex_lock(&v->lock);
	v->stop = true;
	pthread_mutex_unlock(&v->lock);
	if (v->started)
		pthread_join(v->thread, NULL);
	vnc_free(v);
}

static const struct vbd_output_ops vnc_ops = {
	.resize = vnc_resize,
	.update = vnc_update,
	.destroy = vnc_destroy,
};

/* libvncserver's messages, which end in a newline, go to our log. */
static void vnc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vnc_log(const char *fmt, ...)
{
	char msg[256];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	log_debug("vnc: %s", msg);
}

struct vbd_output *vbd_vnc_listen(unsigned int port, const char *password,
				  uint32_t width, uint32_t height)
{
	static char name[] = "vbridged";
	char *argv[] = { name, NULL };
	int argc = 1;
	struct vnc *v;

	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->base.ops = &vnc_ops;
	pthread_mutex_init(&v->lock, NULL);
	if (password) {
		v->passwords[0] = strdup(password);
		if (!v->passwords[0]) {
			pthread_mutex_destroy(&v->lock);
			free(v);
			return NULL;
		}
	}

	/* Black at the preferred size until the guest shows something. */
	v->pending.width = width;
	v->pending.height = height;
	v->fb = (struct vbd_image){ width, height, NULL };
	v->fb.pixels = calloc((size_t)v->fb.width * v->fb.height, 4);
	if (!v->fb.pixels)
		goto fail;

	rfbLog = vnc_log;
	rfbErr = vnc_log;
	v->screen = rfbGetScreen(&argc, argv, v->fb.width, v->fb.height, 8, 3, 4);
	if (!v->screen)
		goto fail;
	v->screen->frameBuffer = (char *)v->fb.pixels;
	vnc_set_format(v->screen);
	/* No pointer input: draw no cursor over the guest's pixels. */
	rfbSetCursor(v->screen, NULL);
	v->screen->desktopName = "vbridge";
	v->screen->alwaysShared = TRUE;
	v->screen->port = port;
	v->screen->listenInterface = htonl(INADDR_LOOPBACK);
	v->screen->ipv6port = 0;	/* IPv4 loopback only */
	if (v->passwords[0]) {
		/* VNC authentication (RFB 7.2.2): a DES challenge. */
		v->screen->authPasswdData = v->passwords;
		v->screen->passwordCheck = rfbCheckPasswordByList;
	}
	rfbInitServer(v->screen);
	if (v->screen->listenSock == RFB_INVALID_SOCKET) {
		log_err("vnc: cannot listen on 127.0.0.1:%u", port);
		goto fail;
	}

	log_info("vnc: serving display 0 on 127.0.0.1:%u, %s", port,
		 password ? "with VNC password authentication" :
		 "without authentication");
	return &v->base;
fail:
	vnc_free(v);
	return NULL;
}

int vbd_vnc_start(struct vbd_output *out, struct vbd_display *d)
{
	struct vnc *v = to_vnc(out);
	int err;

	v->display = d;
	err = pthread_create(&v->thread, NULL, vnc_thread, v);
	if (err) {
		log_err("vnc: cannot create thread: %s", strerror(err));
		return -err;
	}
	v->started = true;
	return 0;
}

struct vbd_output *vbd_vnc_new(struct vbd_display *d, unsigned int port,
			       const char *password)
{
	struct vbd_scanout_info info;
	struct vbd_output *out;

	vbd_display_scanout_info(d, 0, &info);
	out = vbd_vnc_listen(port, password, info.mode_width, info.mode_height);
	if (out && vbd_vnc_start(out, d)) {
		out->ops->destroy(out);
		return NULL;
	}
	return out;
}

/* Image files */

/*
 * A new file at path for an image: never an existing file, never through
 * a symbolic link at the end, readable by our user only.  We may be
 * root, and the path comes from a control client.
 */
static FILE *image_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "wb");
	if (!f) {
		int e = errno;

		close(fd);
		unlink(path);
		errno = e;
	}
	return f;
}

/* The image file: fd, if a client passed one (>= 0), else a new path. */
static FILE *image_open(const char *path, int fd)
{
	FILE *f;

	if (fd < 0)
		return image_create(path);
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "wb");
	if (!f)
		close(fd);
	return f;
}

int vbd_image_write_png(const struct vbd_image *img, const char *path, int fd)
{
	png_image png = {
		.version = PNG_IMAGE_VERSION,
		.width = img->width,
		.height = img->height,
		.format = PNG_FORMAT_RGB,
	};
	size_t i, n = (size_t)img->width * img->height;
	uint8_t *rgb = malloc(n * 3);
	FILE *f;
	int err = 0;

	if (!rgb)
		return -ENOMEM;
	/* XRGB8888 is B, G, R, X in memory. */
	for (i = 0; i < n; i++) {
		rgb[i * 3] = img->pixels[i * 4 + 2];
		rgb[i * 3 + 1] = img->pixels[i * 4 + 1];
		rgb[i * 3 + 2] = img->pixels[i * 4];
	}
	f = image_open(path, fd);
	if (!f) {
		err = -errno;
		goto out;
	}
	if (!png_image_write_to_stdio(&png, f, 0, rgb, 0, NULL)) {
		log_warn("%s: %s", path, png.message);
		err = -EIO;
	}
	if (fclose(f) && !err)
		err = -errno;
out:
	free(rgb);
	return err;
}

int vbd_image_write_raw(const struct vbd_image *img, const char *path, int fd)
{
	size_t len = (size_t)img->width * img->height * 4;
	FILE *f = image_open(path, fd);
	int err = 0;

	if (!f)
		return -errno;
	if (fwrite(img->pixels, 1, len, f) != len)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}
