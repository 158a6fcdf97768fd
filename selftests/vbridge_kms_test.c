// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge display tests: the DRM device whose driver is "vbridge", through
 * raw DRM ioctls and its fbdev emulation, checked against what the host
 * shows.
 *
 * The host's view comes from the host agent (scripts/host-agent.sh) in the
 * vbridgefs share at $VBRIDGE_MNT (default /mnt/vb): "dump SCANOUT NAME"
 * saves what the scanout shows as raw XRGB8888 rows in .agent/NAME.rgb,
 * "resize SCANOUT W H" changes its preferred mode, and "vnc NAME" saves
 * what a client of the host's VNC server sees, as "dump" does.  Without
 * the agent those checks are skipped.  Everything runs on scanout 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/fb.h>
#include <linux/kd.h>
#include <linux/vbridge.h>
#include <drm/drm.h>
#include <drm/drm_mode.h>

#include "kselftest_harness.h"
#include "vbridge_mount.h"
#include "vbridge_agent.h"

/* From drm_fourcc.h, which the uapi headers at hand may lack. */
#define FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | \
	 ((uint32_t)(d) << 24))
#define FMT_XRGB8888	FOURCC('X', 'R', '2', '4')
#define FMT_RGB565	FOURCC('R', 'G', '1', '6')
#define FMT_NV12	FOURCC('N', 'V', '1', '2')

#define DRIVER_NAME	"vbridge"
#define FBDEV_NAME	"vbridgedrmfb"

/* How long the host may take to show an update. */
#define SETTLE_MS	5000

/* DRM ioctl, restarted like libdrm does. */
static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret == -1 && (errno == EINTR || errno == EAGAIN));
	return ret;
}

/* The first /dev/dri/cardN of the vbridge driver, or -1. */
static int open_vbridge_card(void)
{
	char path[32], name[64];
	struct drm_version v;
	int i, fd;

	for (i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(&v, 0, sizeof(v));
		memset(name, 0, sizeof(name));
		v.name = name;
		v.name_len = sizeof(name) - 1;
		if (!xioctl(fd, DRM_IOCTL_VERSION, &v) &&
		    !strcmp(name, DRIVER_NAME))
			return fd;
		close(fd);
	}
	return -1;
}

static int vbridge_info(struct vbridge_ioc_info *info)
{
	int fd = open("/dev/vbridge0", O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = ioctl(fd, VBRIDGE_IOC_GET_INFO, info);
	close(fd);
	return ret;
}

/* The pattern every test draws; @seed tells updates apart. */
static uint32_t pattern(uint32_t x, uint32_t y, uint32_t seed)
{
	return (((x * 7 + seed * 31) & 0xff) << 16) |
	       (((y * 5 + seed * 17) & 0xff) << 8) |
	       (((x ^ y) + seed * 13) & 0xff);
}

static void draw(uint32_t *map, uint32_t pitch, uint32_t x0, uint32_t y0,
		 uint32_t w, uint32_t h, uint32_t seed)
{
	uint32_t x, y;

	for (y = y0; y < y0 + h; y++)
		for (x = x0; x < x0 + w; x++)
			map[y * (pitch / 4) + x] = pattern(x, y, seed);
}

/* Host agent (vbridge_agent.h): agent_run() returns the answer in @reply. */
static bool have_agent(void)
{
	return agent_present(mnt());
}

static int read_all(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t done = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n <= 0)
			break;
		done += n;
	}
	close(fd);
	return done;
}

static int agent_run(const char *cmd, char *reply, size_t size)
{
	return agent_call(mnt(), cmd, 20000, NULL, reply, size);
}

/*
 * What the host shows, asked with "@how NAME" ("dump 0" or "vnc"):
 * malloc()ed XRGB8888 rows, or NULL.
 */
static uint32_t *host_dump(const char *how, uint32_t *w, uint32_t *h)
{
	static int seq;
	char cmd[64], reply[128], name[32], path[PATH_MAX];
	uint32_t *px;
	size_t len;

	snprintf(name, sizeof(name), "kms-%d-%d", getpid(), seq++);
	snprintf(cmd, sizeof(cmd), "%s %s", how, name);
	if (agent_run(cmd, reply, sizeof(reply)) ||
	    sscanf(reply, "ok %u %u", w, h) != 2 || !*w || !*h)
		return NULL;
	snprintf(path, sizeof(path), "%s/.agent/%s.rgb", mnt(), name);
	len = (size_t)*w * *h * 4;
	px = malloc(len);
	if (px && read_all(path, px, len) != (int)len) {
		free(px);
		px = NULL;
	}
	unlink(path);
	return px;
}

/*
 * Compare what the host shows with @want (XRGB8888, @pitch bytes per
 * line, @w x @h): returns the number of differing pixels (X ignored), or
 * -1 if the host shows another size or could not be asked.
 */
static long host_compare(const char *how, const uint32_t *want,
			 uint32_t pitch, uint32_t w, uint32_t h, char *why,
			 size_t whylen)
{
	uint32_t hw, hh, x, y, *px = host_dump(how, &hw, &hh);
	long bad = 0;

	if (!px) {
		snprintf(why, whylen, "no dump from the host");
		return -1;
	}
	if (hw != w || hh != h) {
		snprintf(why, whylen, "host shows %ux%u, want %ux%u",
			 hw, hh, w, h);
		free(px);
		return -1;
	}
	for (y = 0; y < h; y++) {
		for (x = 0; x < w; x++) {
			uint32_t a = px[y * w + x] & 0xffffff;
			uint32_t b = want[y * (pitch / 4) + x] & 0xffffff;

			if (a != b && !bad++)
				snprintf(why, whylen,
					 "first difference at %u,%u: host %06x, want %06x",
					 x, y, a, b);
		}
	}
	free(px);
	return bad;
}

/* Poll the host until it shows @want, for up to SETTLE_MS. */
static long host_wait_via(const char *how, const uint32_t *want,
			  uint32_t pitch, uint32_t w, uint32_t h, char *why,
			  size_t whylen)
{
	double t0 = now_ms();
	long bad;

	for (;;) {
		bad = host_compare(how, want, pitch, w, h, why, whylen);
		if (!bad || now_ms() - t0 > SETTLE_MS)
			return bad;
		usleep(100 * 1000);
	}
}

static long host_wait_for(const uint32_t *want, uint32_t pitch, uint32_t w,
			  uint32_t h, char *why, size_t whylen)
{
	return host_wait_via("dump 0", want, pitch, w, h, why, whylen);
}

/*
 * DRM objects.
 */

struct buf {
	uint32_t handle;
	uint32_t fb;
	uint32_t pitch;
	uint32_t width;
	uint32_t height;
	uint64_t size;
	uint32_t *map;
};

static int buf_create(int fd, uint32_t w, uint32_t h, struct buf *b)
{
	struct drm_mode_create_dumb c = { .width = w, .height = h, .bpp = 32 };
	struct drm_mode_map_dumb m = {};
	struct drm_mode_fb_cmd2 f = {};
	void *map;

	memset(b, 0, sizeof(*b));
	if (xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &c))
		return -1;
	b->handle = c.handle;
	b->pitch = c.pitch;
	b->size = c.size;
	b->width = w;
	b->height = h;
	f.width = w;
	f.height = h;
	f.pixel_format = FMT_XRGB8888;
	f.handles[0] = c.handle;
	f.pitches[0] = c.pitch;
	m.handle = c.handle;
	if (xioctl(fd, DRM_IOCTL_MODE_ADDFB2, &f) ||
	    xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &m))
		return -1;
	b->fb = f.fb_id;
	map = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   m.offset);
	if (map == MAP_FAILED)
		return -1;
	b->map = map;
	return 0;
}

static void buf_destroy(int fd, struct buf *b)
{
	struct drm_mode_destroy_dumb d = { .handle = b->handle };

	if (b->map)
		munmap(b->map, b->size);
	if (b->fb)
		xioctl(fd, DRM_IOCTL_MODE_RMFB, &b->fb);
	if (b->handle)
		xioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
	memset(b, 0, sizeof(*b));
}

/* Connector @id with its modes (probed again); modes are malloc()ed. */
static int get_connector(int fd, uint32_t id, struct drm_mode_get_connector *c,
			 struct drm_mode_modeinfo **modes)
{
	uint32_t n;

	for (;;) {
		memset(c, 0, sizeof(*c));
		c->connector_id = id;
		if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, c))
			return -1;
		n = c->count_modes;
		*modes = calloc(n + 1, sizeof(**modes));
		if (!*modes)
			return -1;
		c->modes_ptr = (uintptr_t)*modes;
		c->count_props = 0;
		c->count_encoders = 0;
		if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, c)) {
			free(*modes);
			return -1;
		}
		if (c->count_modes <= n)
			return 0;
		/* Probed again in between: retry. */
		free(*modes);
	}
}

static int preferred_mode(int fd, uint32_t conn, struct drm_mode_modeinfo *out)
{
	struct drm_mode_get_connector c;
	struct drm_mode_modeinfo *modes;
	uint32_t i;
	int ret = -1;

	if (get_connector(fd, conn, &c, &modes))
		return -1;
	for (i = 0; i < c.count_modes; i++) {
		if (modes[i].type & DRM_MODE_TYPE_PREFERRED) {
			*out = modes[i];
			ret = 0;
			break;
		}
	}
	free(modes);
	return ret;
}

static int set_crtc(int fd, uint32_t crtc, uint32_t conn, uint32_t fb,
		    const struct drm_mode_modeinfo *mode)
{
	struct drm_mode_crtc c = {
		.crtc_id = crtc,
		.fb_id = fb,
		.set_connectors_ptr = (uintptr_t)&conn,
		.count_connectors = mode ? 1 : 0,
		.mode_valid = mode ? 1 : 0,
	};

	if (mode)
		c.mode = *mode;
	return xioctl(fd, DRM_IOCTL_MODE_SETCRTC, &c);
}

static int dirty(int fd, uint32_t fb, struct drm_clip_rect *clips,
		 uint32_t n)
{
	struct drm_mode_fb_dirty_cmd d = {
		.fb_id = fb,
		.num_clips = n,
		.clips_ptr = (uintptr_t)clips,
	};

	return xioctl(fd, DRM_IOCTL_MODE_DIRTYFB, &d);
}

/* Wait for one DRM event of @type; returns 0 and fills @ev. */
static int wait_event(int fd, uint32_t type, struct drm_event_vblank *ev,
		      int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[1024];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = read(fd, buf, sizeof(buf));
	if (n < (ssize_t)sizeof(*ev))
		return -1;
	memcpy(ev, buf, sizeof(*ev));
	return ev->base.type == type ? 0 : -1;
}

FIXTURE(kms) {
	int fd;
	uint32_t crtc;
	uint32_t conn;
	uint32_t nr_crtcs;
	uint32_t nr_conns;
	uint32_t nr_encs;
	struct drm_mode_modeinfo pref;
};

FIXTURE_SETUP(kms)
{
	struct drm_mode_card_res res = {};
	uint32_t crtcs[16], conns[16], encs[16];

	self->fd = open_vbridge_card();
	/*
	 * A display the kernel cannot drive: SKIP (vb-test checks that
	 * vbridge_drm bound wherever the kernel has DRM).
	 */
	if (self->fd < 0 && access("/sys/class/drm", F_OK))
		SKIP(return, "the kernel has no DRM (no /sys/class/drm)");
	if (self->fd < 0)
		SKIP(return, "no DRM device of the " DRIVER_NAME " driver");
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_MODE_GETRESOURCES, &res));
	ASSERT_LE(1, res.count_crtcs);
	ASSERT_GE(16, res.count_crtcs);
	ASSERT_GE(16, res.count_connectors);
	ASSERT_GE(16, res.count_encoders);
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.connector_id_ptr = (uintptr_t)conns;
	res.encoder_id_ptr = (uintptr_t)encs;
	res.count_fbs = 0;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_MODE_GETRESOURCES, &res));
	self->nr_crtcs = res.count_crtcs;
	self->nr_conns = res.count_connectors;
	self->nr_encs = res.count_encoders;
	self->crtc = crtcs[0];
	self->conn = conns[0];
	ASSERT_EQ(0, preferred_mode(self->fd, self->conn, &self->pref));
}

FIXTURE_TEARDOWN(kms)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(kms, resources)
{
	struct drm_mode_get_connector c;
	struct drm_mode_modeinfo *modes;
	struct vbridge_ioc_info info;
	uint32_t i;

	ASSERT_EQ(self->nr_crtcs, self->nr_conns);
	ASSERT_EQ(self->nr_crtcs, self->nr_encs);
	ASSERT_EQ(0, get_connector(self->fd, self->conn, &c, &modes));
	EXPECT_EQ(DRM_MODE_CONNECTOR_VIRTUAL, c.connector_type);
	EXPECT_EQ(1, c.connection);	/* connected */
	EXPECT_LE(1, c.count_modes);
	for (i = 0; i < c.count_modes; i++) {
		EXPECT_GE(VBRIDGE_DISPLAY_MAX_DIM, modes[i].hdisplay);
		EXPECT_GE(VBRIDGE_DISPLAY_MAX_DIM, modes[i].vdisplay);
		EXPECT_LT(0, modes[i].vrefresh);
	}
	free(modes);

	if (vbridge_info(&info))
		SKIP(return, "no /dev/vbridge0: %s", strerror(errno));
	ASSERT_TRUE(info.features & (1ULL << VBRIDGE_F_DISPLAY));
	EXPECT_EQ(info.num_scanouts, self->nr_crtcs);
	EXPECT_EQ(info.display_width, self->pref.hdisplay);
	EXPECT_EQ(info.display_height, self->pref.vdisplay);
	TH_LOG("%u scanout(s), preferred mode %s", self->nr_crtcs,
	       self->pref.name);
}

TEST_F(kms, dumb_buffer)
{
	struct drm_mode_map_dumb m = {};
	struct buf b;
	uint32_t *again;

	ASSERT_EQ(0, buf_create(self->fd, 640, 480, &b));
	EXPECT_LE(640 * 4, b.pitch);
	EXPECT_LE((uint64_t)b.pitch * 480, b.size);
	draw(b.map, b.pitch, 0, 0, 640, 480, 7);
	/* A second mapping of the same object sees the same pixels. */
	m.handle = b.handle;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_MODE_MAP_DUMB, &m));
	again = mmap(NULL, b.size, PROT_READ, MAP_SHARED, self->fd, m.offset);
	ASSERT_NE(MAP_FAILED, again);
	EXPECT_EQ(0, memcmp(again, b.map, (size_t)b.pitch * 480));
	munmap(again, b.size);
	buf_destroy(self->fd, &b);
}

TEST_F(kms, modeset_host_view)
{
	uint32_t w = self->pref.hdisplay, h = self->pref.vdisplay;
	struct drm_clip_rect clip = { 100, 50, 300, 150 };
	char why[128] = "";
	struct buf b;

	ASSERT_EQ(0, buf_create(self->fd, w, h, &b));
	draw(b.map, b.pitch, 0, 0, w, h, 1);
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, self->conn, b.fb,
			      &self->pref));
	ASSERT_EQ(0, dirty(self->fd, b.fb, NULL, 0));
	if (!have_agent()) {
		buf_destroy(self->fd, &b);
		SKIP(return, "no host agent: cannot see the host's view");
	}
	EXPECT_EQ(0, host_wait_for(b.map, b.pitch, w, h, why, sizeof(why)))
		TH_LOG("full update: %s", why);

	/* Only the damaged rectangle changes. */
	ASSERT_LE(300, w);
	ASSERT_LE(150, h);
	draw(b.map, b.pitch, clip.x1, clip.y1, clip.x2 - clip.x1,
	     clip.y2 - clip.y1, 2);
	ASSERT_EQ(0, dirty(self->fd, b.fb, &clip, 1));
	EXPECT_EQ(0, host_wait_for(b.map, b.pitch, w, h, why, sizeof(why)))
		TH_LOG("damage clip: %s", why);
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, 0, 0, NULL));
	buf_destroy(self->fd, &b);
}

/* A VNC client of the host sees what scanout 0 shows. */
TEST_F(kms, vnc_host_view)
{
	uint32_t w = self->pref.hdisplay, h = self->pref.vdisplay, hw, hh;
	char why[128] = "";
	struct buf b;
	uint32_t *px;

	if (!have_agent())
		SKIP(return, "no host agent: cannot see the host's view");
	ASSERT_EQ(0, buf_create(self->fd, w, h, &b));
	draw(b.map, b.pitch, 0, 0, w, h, 6);
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, self->conn, b.fb,
			      &self->pref));
	ASSERT_EQ(0, dirty(self->fd, b.fb, NULL, 0));
	/* An "error" here: no VNC server or no vnc-capture on the host. */
	px = host_dump("vnc", &hw, &hh);
	if (!px) {
		set_crtc(self->fd, self->crtc, 0, 0, NULL);
		buf_destroy(self->fd, &b);
		SKIP(return, "the host agent cannot capture over VNC");
	}
	free(px);
	EXPECT_EQ(0, host_wait_via("vnc", b.map, b.pitch, w, h, why,
				   sizeof(why)))
		TH_LOG("VNC view: %s", why);
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, 0, 0, NULL));
	buf_destroy(self->fd, &b);
}

TEST_F(kms, page_flip_event)
{
	uint32_t w = self->pref.hdisplay, h = self->pref.vdisplay, i, seq = 0;
	struct drm_event_vblank ev;
	union drm_wait_vblank vbl;
	char why[128] = "";
	struct buf b[2];
	double t0;

	ASSERT_EQ(0, buf_create(self->fd, w, h, &b[0]));
	ASSERT_EQ(0, buf_create(self->fd, w, h, &b[1]));
	draw(b[0].map, b[0].pitch, 0, 0, w, h, 3);
	draw(b[1].map, b[1].pitch, 0, 0, w, h, 4);
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, self->conn, b[0].fb,
			      &self->pref));

	memset(&vbl, 0, sizeof(vbl));
	vbl.request.type = _DRM_VBLANK_RELATIVE;
	vbl.request.sequence = 1;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_WAIT_VBLANK, &vbl));

	t0 = now_ms();
	for (i = 1; i <= 10; i++) {
		struct drm_mode_crtc_page_flip flip = {
			.crtc_id = self->crtc,
			.fb_id = b[i % 2].fb,
			.flags = DRM_MODE_PAGE_FLIP_EVENT,
			.user_data = 0x1000 + i,
		};

		ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_MODE_PAGE_FLIP, &flip));
		ASSERT_EQ(0, wait_event(self->fd, DRM_EVENT_FLIP_COMPLETE,
					&ev, 1000))
			TH_LOG("flip %u: no completion event within 1 s", i);
		EXPECT_EQ(0x1000 + i, ev.user_data);
		EXPECT_EQ(self->crtc, ev.crtc_id);
		if (i > 1)
			EXPECT_LT(seq, ev.sequence);
		seq = ev.sequence;
	}
	TH_LOG("10 flips in %.0f ms", now_ms() - t0);

	/* The last flip went to b[0]. */
	if (have_agent()) {
		EXPECT_EQ(0, host_wait_for(b[0].map, b[0].pitch, w, h, why,
					   sizeof(why)))
			TH_LOG("after the flips: %s", why);
	}
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, 0, 0, NULL));
	buf_destroy(self->fd, &b[0]);
	buf_destroy(self->fd, &b[1]);
}

/* Wait until the preferred mode is @w x @h; returns 0 or -1. */
static int wait_preferred(int fd, uint32_t conn, uint32_t w, uint32_t h,
			  struct drm_mode_modeinfo *mode)
{
	double t0 = now_ms();

	while (now_ms() - t0 < SETTLE_MS) {
		if (!preferred_mode(fd, conn, mode) && mode->hdisplay == w &&
		    mode->vdisplay == h)
			return 0;
		usleep(50 * 1000);
	}
	return -1;
}

TEST_F_TIMEOUT(kms, resize, 120)
{
	uint32_t w0 = self->pref.hdisplay, h0 = self->pref.vdisplay;
	struct drm_mode_modeinfo mode;
	char cmd[64], reply[128], why[128] = "";
	struct buf b;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	ASSERT_EQ(0, agent_run("resize 0 800 600", reply, sizeof(reply)));
	ASSERT_STREQ("ok", reply);
	ASSERT_EQ(0, wait_preferred(self->fd, self->conn, 800, 600, &mode))
		TH_LOG("the preferred mode did not become 800x600");

	/* Show a buffer in the new mode. */
	ASSERT_EQ(0, buf_create(self->fd, 800, 600, &b));
	draw(b.map, b.pitch, 0, 0, 800, 600, 5);
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, self->conn, b.fb, &mode));
	EXPECT_EQ(0, host_wait_for(b.map, b.pitch, 800, 600, why, sizeof(why)))
		TH_LOG("800x600: %s", why);
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, 0, 0, NULL));
	buf_destroy(self->fd, &b);

	snprintf(cmd, sizeof(cmd), "resize 0 %u %u", w0, h0);
	ASSERT_EQ(0, agent_run(cmd, reply, sizeof(reply)));
	ASSERT_STREQ("ok", reply);
	ASSERT_EQ(0, wait_preferred(self->fd, self->conn, w0, h0, &mode))
		TH_LOG("the preferred mode did not go back to %ux%u", w0, h0);
}

/* Bad requests fail with the right error, and the device still works. */
TEST_F(kms, bad_args)
{
	struct drm_mode_create_dumb c = { .width = 64, .height = 64, .bpp = 32 };
	struct drm_clip_rect clips[DRM_MODE_FB_DIRTY_MAX_CLIPS + 1] = {};
	struct drm_mode_crtc_page_flip flip = { .crtc_id = self->crtc };
	struct drm_mode_destroy_dumb d = {};
	struct drm_mode_map_dumb m = { .handle = 0xdead };
	struct drm_mode_modeinfo big = self->pref;
	struct drm_mode_fb_cmd2 f = {};
	struct buf b, small;
	unsigned int i;

	ASSERT_EQ(0, buf_create(self->fd, self->pref.hdisplay,
				self->pref.vdisplay, &b));
	ASSERT_EQ(0, buf_create(self->fd, 64, 64, &small));

	/* Framebuffers. */
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_MODE_CREATE_DUMB, &c));
	f.width = 64;
	f.height = 64;
	f.pixel_format = FMT_XRGB8888;
	f.handles[0] = c.handle;
	f.pitches[0] = 64 * 4 - 4;		/* too small */
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_ADDFB2, &f));
	EXPECT_EQ(EINVAL, errno);
	f.pitches[0] = c.pitch;
	f.height = 65;				/* larger than the buffer */
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_ADDFB2, &f));
	EXPECT_EQ(EINVAL, errno);
	f.height = 64;
	f.handles[0] = 0xdead;
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_ADDFB2, &f));
	EXPECT_EQ(ENOENT, errno);
	f.handles[0] = c.handle;
	f.pixel_format = FMT_NV12;		/* needs two planes */
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_ADDFB2, &f));
	f.pixel_format = FMT_XRGB8888;
	f.width = VBRIDGE_DISPLAY_MAX_DIM + 1;
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_ADDFB2, &f));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_MAP_DUMB, &m));
	EXPECT_EQ(ENOENT, errno);

	/* An unsupported format is refused by the plane. */
	f.width = 64;
	f.pixel_format = FMT_RGB565;
	f.pitches[0] = 128;
	if (!xioctl(self->fd, DRM_IOCTL_MODE_ADDFB2, &f)) {
		EXPECT_EQ(-1, set_crtc(self->fd, self->crtc, self->conn,
				       f.fb_id, &self->pref));
		xioctl(self->fd, DRM_IOCTL_MODE_RMFB, &f.fb_id);
	}
	d.handle = c.handle;
	EXPECT_EQ(0, xioctl(self->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &d));

	/* Mode sets. */
	EXPECT_EQ(-1, set_crtc(self->fd, self->crtc, self->conn, 0xdeadbeef,
			       &self->pref));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, set_crtc(self->fd, self->crtc, self->conn, small.fb,
			       &self->pref));
	EXPECT_EQ(ENOSPC, errno);
	big.hdisplay = VBRIDGE_DISPLAY_MAX_DIM + 8;
	big.hsync_start = big.hdisplay + 8;
	big.hsync_end = big.hdisplay + 16;
	big.htotal = big.hdisplay + 32;
	EXPECT_EQ(-1, set_crtc(self->fd, self->crtc, self->conn, b.fb, &big));

	/* Page flips need an active CRTC and known flags. */
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, 0, 0, NULL));
	flip.fb_id = b.fb;
	flip.flags = DRM_MODE_PAGE_FLIP_EVENT;
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_PAGE_FLIP, &flip));
	EXPECT_TRUE(errno == EBUSY || errno == EINVAL);
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, self->conn, b.fb,
			      &self->pref));
	flip.flags = 0x80000000;
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_PAGE_FLIP, &flip));
	EXPECT_EQ(EINVAL, errno);

	/* Damage. */
	EXPECT_EQ(-1, dirty(self->fd, 0xdeadbeef, NULL, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, dirty(self->fd, b.fb, clips,
			    DRM_MODE_FB_DIRTY_MAX_CLIPS + 1));
	EXPECT_EQ(EINVAL, errno);
	/* Clips outside the framebuffer are clipped, not an error. */
	clips[0] = (struct drm_clip_rect){ 0, 0, 0xffff, 0xffff };
	EXPECT_EQ(0, dirty(self->fd, b.fb, clips, 1));
	/* Many clips end up as one bounding box. */
	for (i = 0; i < 64; i++)
		clips[i] = (struct drm_clip_rect){ i * 4, i, i * 4 + 2, i + 1 };
	EXPECT_EQ(0, dirty(self->fd, b.fb, clips, 64));

	/* Still alive. */
	draw(b.map, b.pitch, 0, 0, b.width, b.height, 6);
	EXPECT_EQ(0, dirty(self->fd, b.fb, NULL, 0));
	EXPECT_EQ(0, set_crtc(self->fd, self->crtc, 0, 0, NULL));
	buf_destroy(self->fd, &small);
	buf_destroy(self->fd, &b);
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -1 : 0;
}

/*
 * Unbind the driver while a buffer is shown, mapped and flipping, with the
 * DRM file still open; then bind it again.  Destructive, so only with
 * VBRIDGE_TEST_UNBIND=1.  On 6.12 it livelocks in shmem_undo_range() once
 * /dev/fbN was mmap()ed (fbdev_host_view): fb_defio rewrote page->mapping
 * of the fbdev buffer's shmem pages.  Run it alone: -t unbind_while_shown.
 */
TEST_F_TIMEOUT(kms, unbind_while_shown, 120)
{
	uint32_t w = self->pref.hdisplay, h = self->pref.vdisplay;
	struct drm_mode_crtc_page_flip flip = {
		.crtc_id = self->crtc,
		.flags = DRM_MODE_PAGE_FLIP_EVENT,
	};
	char link[64], target[PATH_MAX], *name;
	struct drm_mode_card_res res = {};
	struct drm_version v = {};
	struct stat st;
	struct buf b[2];
	int i;

	if (!getenv("VBRIDGE_TEST_UNBIND"))
		SKIP(return, "destructive, set VBRIDGE_TEST_UNBIND=1");
	ASSERT_EQ(0, fstat(self->fd, &st));
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/device",
		 major(st.st_rdev), minor(st.st_rdev));
	/*
	 * The card's device is the core's auxiliary device
	 * (vbridge.display.N): unbind its parent, the virtio device.
	 */
	ASSERT_NE(NULL, realpath(link, target))
		TH_LOG("%s: %s", link, strerror(errno));
	*strrchr(target, '/') = '\0';
	name = strrchr(target, '/') + 1;
	ASSERT_EQ(0, strncmp(name, "virtio", 6)) TH_LOG("parent %s", target);

	ASSERT_EQ(0, buf_create(self->fd, w, h, &b[0]));
	ASSERT_EQ(0, buf_create(self->fd, w, h, &b[1]));
	ASSERT_EQ(0, set_crtc(self->fd, self->crtc, self->conn, b[0].fb,
			      &self->pref));
	flip.fb_id = b[1].fb;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_MODE_PAGE_FLIP, &flip));
	TH_LOG("unbinding %s", name);
	ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/vbridge/unbind",
				 name));

	/* The file stays open: requests fail, the mappings stay usable. */
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_MODE_PAGE_FLIP, &flip));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, xioctl(self->fd, DRM_IOCTL_VERSION, &v));
	EXPECT_EQ(ENODEV, errno);
	draw(b[0].map, b[0].pitch, 0, 0, w, h, 9);
	for (i = 0; i < 2; i++) {
		munmap(b[i].map, b[i].size);
		b[i].map = NULL;
	}
	close(self->fd);

	ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/vbridge/bind",
				 name));
	for (i = 0; i < 50 && (self->fd = open_vbridge_card()) < 0; i++)
		usleep(100000);
	ASSERT_LE(0, self->fd) TH_LOG("no DRM device after the rebind");

	/* A new device: look its objects up again and show a buffer. */
	res.crtc_id_ptr = (uintptr_t)&self->crtc;
	res.connector_id_ptr = (uintptr_t)&self->conn;
	res.count_crtcs = 1;
	res.count_connectors = 1;
	ASSERT_EQ(0, xioctl(self->fd, DRM_IOCTL_MODE_GETRESOURCES, &res));
	ASSERT_EQ(0, preferred_mode(self->fd, self->conn, &self->pref));
	ASSERT_EQ(0, buf_create(self->fd, w, h, &b[0]));
	EXPECT_EQ(0, set_crtc(self->fd, self->crtc, self->conn, b[0].fb,
			      &self->pref));
	EXPECT_EQ(0, set_crtc(self->fd, self->crtc, 0, 0, NULL));
	buf_destroy(self->fd, &b[0]);
}

/*
 * fbdev emulation: /dev/fbN named FBDEV_NAME.  No DRM file is open here,
 * so the fbdev emulation shows its own buffer.
 */
static int open_fbdev(void)
{
	char path[320], name[64] = "";
	struct dirent *de;
	int fd = -1;
	DIR *d;

	d = opendir("/sys/class/graphics");
	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, "fb", 2))
			continue;
		snprintf(path, sizeof(path), "/sys/class/graphics/%s/name",
			 de->d_name);
		if (read_all(path, name, sizeof(name) - 1) <= 0)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, FBDEV_NAME))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	closedir(d);
	return fd;
}

TEST(fbdev_host_view)
{
	struct fb_var_screeninfo var;
	struct fb_fix_screeninfo fix;
	char why[128] = "";
	int fd, tty;
	uint32_t *map;
	long bad;

	fd = open_fbdev();
	if (fd < 0 && access("/sys/class/drm", F_OK))
		SKIP(return, "the kernel has no DRM (no /sys/class/drm)");
	if (fd < 0)
		SKIP(return, "no " FBDEV_NAME " framebuffer device");
	ASSERT_EQ(0, ioctl(fd, FBIOGET_VSCREENINFO, &var));
	ASSERT_EQ(0, ioctl(fd, FBIOGET_FSCREENINFO, &fix));
	ASSERT_EQ(32, var.bits_per_pixel);
	ASSERT_LE((uint64_t)fix.line_length * var.yres, fix.smem_len);
	map = mmap(NULL, fix.smem_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	ASSERT_NE(MAP_FAILED, map);

	/* Keep the console from drawing over the pattern. */
	tty = open("/dev/tty0", O_RDWR | O_CLOEXEC);
	if (tty >= 0 && ioctl(tty, KDSETMODE, KD_GRAPHICS))
		TH_LOG("KDSETMODE: %s", strerror(errno));

	draw(map, fix.line_length, 0, 0, var.xres, var.yres, 8);
	/* Deferred I/O: write the damage out now. */
	EXPECT_EQ(0, fsync(fd));
	if (have_agent()) {
		bad = host_wait_for(map, fix.line_length, var.xres, var.yres,
				    why, sizeof(why));
		EXPECT_EQ(0, bad)
			TH_LOG("fbdev %ux%u: %ld pixels differ: %s",
			       var.xres, var.yres, bad, why);
	}

	if (tty >= 0) {
		ioctl(tty, KDSETMODE, KD_TEXT);
		close(tty);
	}
	munmap(map, fix.smem_len);
	close(fd);
	if (!have_agent())
		SKIP(return, "no host agent: cannot see the host's view");
}

TEST_HARNESS_MAIN
