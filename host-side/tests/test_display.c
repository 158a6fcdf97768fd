// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Display tests: framebuffers laid out by the test in guest memory in
 * scattered pages, shown and flushed through the device, then read back
 * through a fake output, the control socket (raw dumps and PNG files,
 * decoded with libpng), vbridgectl and a VNC client.
 */
#include <endian.h>
#include <errno.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <png.h>
#include <rfb/rfbclient.h>

#include <linux/vbridge.h>

#include "control.h"
#include "device.h"
#include "display.h"
#include "frontend.h"
#include "output.h"
#include "tap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define F(bit)		(1ULL << (bit))

#define NREQ		2
#define RING_SIZE	64
#define PAGE		4096
#define MAX_PAGES	64

#define XRGB8888	0x34325258
#define ARGB8888	0x34325241

/* A fake output: what the display told it, under its lock. */
struct fake_output {
	struct vbd_output base;
	pthread_mutex_t lock;
	uint32_t width[VBRIDGE_DISPLAY_MAX_SCANOUTS];
	uint32_t height[VBRIDGE_DISPLAY_MAX_SCANOUTS];
	unsigned int resizes;
	unsigned int updates;
	struct vbd_rect last;		/* last update */
	unsigned int last_scanout;
};

static void fake_resize(struct vbd_output *out, unsigned int scanout,
			uint32_t width, uint32_t height)
{
	struct fake_output *o = (struct fake_output *)out;

	pthread_mutex_lock(&o->lock);
	o->width[scanout] = width;
	o->height[scanout] = height;
	o->resizes++;
	pthread_mutex_unlock(&o->lock);
}

static void fake_update(struct vbd_output *out, unsigned int scanout,
			const struct vbd_rect *r)
{
	struct fake_output *o = (struct fake_output *)out;

	pthread_mutex_lock(&o->lock);
	o->updates++;
	o->last = *r;
	o->last_scanout = scanout;
	pthread_mutex_unlock(&o->lock);
}

static void fake_destroy(struct vbd_output *out)
{
	struct fake_output *o = (struct fake_output *)out;

	pthread_mutex_destroy(&o->lock);
	free(o);
}

static const struct vbd_output_ops fake_ops = {
	.resize = fake_resize,
	.update = fake_update,
	.destroy = fake_destroy,
};

/* A device with a display, its fake output, a control socket. */
struct env {
	struct fe f;
	struct vbd_display *display;
	struct fake_output *out;
	struct vbd_control *control;
	char dir[64];
	char sock[96];
};

static void env_start(struct env *e, unsigned int heads, unsigned int vnc_port)
{
	struct vbd_display_opts opts = { heads, 640, 480 };
	struct vbd_store *store = fe_fake_store(NULL, 0);
	struct vbd_device *dev = vbd_device_new(store, NREQ, NULL);

	memset(e, 0, sizeof(*e));
	CHECK(dev);
	e->display = vbd_device_enable_display(dev, &opts);
	CHECK(e->display);
	e->out = calloc(1, sizeof(*e->out));
	CHECK(e->out);
	e->out->base.ops = &fake_ops;
	pthread_mutex_init(&e->out->lock, NULL);
	CHECK_EQ(vbd_display_add_output(e->display, &e->out->base), 0);
	if (vnc_port) {
		struct vbd_output *vnc = vbd_vnc_new(e->display, vnc_port, NULL);

		CHECK(vnc);
		CHECK_EQ(vbd_display_add_output(e->display, vnc), 0);
	}

	strcpy(e->dir, "/tmp/vbd-display-XXXXXX");
	CHECK(mkdtemp(e->dir));
	snprintf(e->sock, sizeof(e->sock), "%s/control", e->dir);
	e->control = vbd_control_new(e->sock, e->display);
	CHECK(e->control);

	fe_start_device(&e->f, dev, store);
	fe_handshake(&e->f, 0);
	fe_setup_all(&e->f, RING_SIZE);
	CHECK_EQ(fe_init(&e->f, 1), 0);
}

static void env_stop(struct env *e)
{
	char cmd[128];

	vbd_control_free(e->control);
	CHECK_EQ(fe_stop(&e->f), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	CHECK_EQ(system(cmd), 0);
}

static int32_t request(struct fe *f, uint32_t opcode, const void *in,
		       uint32_t in_len)
{
	struct fe_resp resp;

	fe_request(f, 1, opcode, in, in_len, 64, &resp);
	return resp.error;
}

/* Guest framebuffers */

struct gfb {
	uint32_t width;
	uint32_t height;
	uint32_t stride;
	unsigned int npages;
	uint64_t pages[MAX_PAGES];	/* guest-physical, in buffer order */
};

/* Every other page, backwards: no two neighbours are adjacent. */
static void gfb_alloc(struct fe *f, struct gfb *b, uint32_t width,
		      uint32_t height, uint32_t stride)
{
	uint64_t base;
	unsigned int i;

	b->width = width;
	b->height = height;
	b->stride = stride;
	b->npages = ((uint64_t)stride * height + PAGE - 1) / PAGE;
	CHECK(b->npages <= MAX_PAGES);
	base = (drv_alloc(f, (2 * b->npages + 1) * PAGE) + PAGE - 1) & ~(PAGE - 1ULL);
	for (i = 0; i < b->npages; i++)
		b->pages[i] = base + 2ULL * (b->npages - 1 - i) * PAGE;
}

static uint32_t pixel(uint32_t x, uint32_t y, unsigned int seed)
{
	return ((x * 0x9e3779b1u) ^ (y * 0x85ebca6bu) ^ (seed * 0xc2b2ae35u)) &
	       0xffffff;
}

static void gfb_fill(struct fe *f, const struct gfb *b, unsigned int seed)
{
	uint32_t x, y;

	for (y = 0; y < b->height; y++) {
		for (x = 0; x < b->width; x++) {
			uint64_t off = (uint64_t)y * b->stride + x * 4;
			uint32_t v = htole32(pixel(x, y, seed));

			memcpy((uint8_t *)gpa_ptr(f, b->pages[off / PAGE]) + off % PAGE,
			       &v, 4);
		}
	}
}

static int32_t create_raw(struct fe *f, uint32_t id, uint32_t format,
			  uint32_t width, uint32_t height, uint32_t stride,
			  const struct vbridge_display_mem_entry *e,
			  uint32_t n, uint32_t nr_claimed)
{
	size_t len = sizeof(struct vbridge_display_create_in) + n * sizeof(*e);
	struct vbridge_display_create_in *in = malloc(len);
	int32_t err;

	CHECK(in);
	in->resource_id = htole32(id);
	in->format = htole32(format);
	in->width = htole32(width);
	in->height = htole32(height);
	in->stride = htole32(stride);
	in->nr_entries = htole32(nr_claimed);
	memcpy(in + 1, e, n * sizeof(*e));
	err = request(f, VBRIDGE_OP_DISPLAY_RESOURCE_CREATE, in, len);
	free(in);
	return err;
}

static int32_t create(struct fe *f, uint32_t id, const struct gfb *b)
{
	struct vbridge_display_mem_entry e[MAX_PAGES] = { { 0 } };
	unsigned int i;

	for (i = 0; i < b->npages; i++) {
		e[i].addr = htole64(b->pages[i]);
		e[i].length = htole32(PAGE);
	}
	return create_raw(f, id, XRGB8888, b->width, b->height, b->stride, e,
			  b->npages, b->npages);
}

static int32_t destroy(struct fe *f, uint32_t id)
{
	struct vbridge_display_resource_in in = { htole32(id), 0 };

	return request(f, VBRIDGE_OP_DISPLAY_RESOURCE_DESTROY, &in, sizeof(in));
}

static int32_t set_scanout(struct fe *f, uint32_t scanout, uint32_t id,
			   uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	struct vbridge_display_set_scanout_in in = {
		htole32(scanout), htole32(id),
		{ htole32(x), htole32(y), htole32(w), htole32(h) },
	};

	return request(f, VBRIDGE_OP_DISPLAY_SET_SCANOUT, &in, sizeof(in));
}

static int32_t flush(struct fe *f, uint32_t id, uint32_t x, uint32_t y,
		     uint32_t w, uint32_t h)
{
	struct {
		struct vbridge_display_flush_in hdr;
		struct vbridge_display_rect r;
	} in = {
		{ htole32(id), htole32(1) },
		{ htole32(x), htole32(y), htole32(w), htole32(h) },
	};

	return request(f, VBRIDGE_OP_DISPLAY_FLUSH, &in, sizeof(in));
}

/* The control socket */

static void ctl(const struct env *e, const char *cmd, char *reply, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, cmd_len = strlen(cmd);
	char *line;
	int fd;

	/*
	 * One send: the daemon answers an overlong line and hangs up before
	 * reading it all, so a second send could fail with EPIPE.
	 */
	line = malloc(cmd_len + 1);
	CHECK(line);
	memcpy(line, cmd, cmd_len);
	line[cmd_len] = '\n';
	strcpy(sa.sun_path, e->sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK_EQ(send(fd, line, cmd_len + 1, MSG_NOSIGNAL), cmd_len + 1);
	free(line);
	while (!memchr(reply, '\n', len)) {
		ssize_t n = recv(fd, reply + len, size - 1 - len, 0);

		CHECK(n > 0);
		len += n;
	}
	close(fd);
	reply[len] = '\0';
	*strchr(reply, '\n') = '\0';
}

static void expect_ctl(const struct env *e, const char *cmd, const char *want)
{
	char reply[1024];

	ctl(e, cmd, reply, sizeof(reply));
	if (strcmp(reply, want))
		tap_fail(__FILE__, __LINE__, "'%s' answered '%s', not '%s'",
			 cmd, reply, want);
}

/*
 * Dump scanout and compare it with rect of b: inside damage the pixels
 * of seed, elsewhere those of old_seed.
 */
static void expect_dump(const struct env *e, unsigned int scanout,
			const struct vbd_rect *rect, const struct vbd_rect *damage,
			unsigned int seed, unsigned int old_seed)
{
	char cmd[256], path[128], want[64];
	uint32_t x, y, *px;
	size_t size = (size_t)rect->width * rect->height * 4;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/dump.rgb", e->dir);
	snprintf(cmd, sizeof(cmd), "dump %u %s", scanout, path);
	snprintf(want, sizeof(want), "ok %u %u", rect->width, rect->height);
	expect_ctl(e, cmd, want);
	px = malloc(size + 1);
	CHECK(px);
	fp = fopen(path, "rb");
	CHECK(fp);
	CHECK_EQ(fread(px, 1, size + 1, fp), size);
	fclose(fp);
	/* Output files are never overwritten: make room for the next. */
	unlink(path);
	for (y = 0; y < rect->height; y++) {
		for (x = 0; x < rect->width; x++) {
			uint32_t bx = rect->x + x, by = rect->y + y;
			bool in = bx >= damage->x && bx < damage->x + damage->width &&
				  by >= damage->y && by < damage->y + damage->height;
			uint32_t v = le32toh(px[y * rect->width + x]) & 0xffffff;

			if (v != pixel(bx, by, in ? seed : old_seed))
				tap_fail(__FILE__, __LINE__,
					 "pixel %u,%u is %06x, not %06x", x, y, v,
					 pixel(bx, by, in ? seed : old_seed));
		}
	}
	free(px);
}

/* A scanout showing a 100x60 framebuffer whose rows cross pages. */
static void show(struct env *e, struct gfb *b)
{
	gfb_alloc(&e->f, b, 100, 60, 416);
	gfb_fill(&e->f, b, 1);
	CHECK_EQ(create(&e->f, 7, b), 0);
	CHECK_EQ(set_scanout(&e->f, 0, 7, 0, 0, 100, 60), 0);
}

/* Tests */

static int get_info(struct fe *f, struct vbridge_display_info_out *info)
{
	struct fe_resp resp;

	fe_request(f, 1, VBRIDGE_OP_DISPLAY_GET_INFO, NULL, 0, sizeof(*info),
		   &resp);
	if (!resp.error) {
		CHECK_EQ(resp.len, sizeof(struct vbridge_resp_hdr) + sizeof(*info));
		memcpy(info, resp.payload, sizeof(*info));
	}
	return resp.error;
}

static void get_config(struct fe *f, struct vbridge_config *cfg)
{
	struct {
		uint32_t offset, size, flags;
		struct vbridge_config data;
	} c = { .size = sizeof(*cfg) };

	CHECK_EQ(fe_send(f, REQ_GET_CONFIG, FLAG_VERSION, &c, sizeof(c), NULL, 0), 0);
	CHECK_EQ(fe_recv(f, REQ_GET_CONFIG, &c, sizeof(c)), sizeof(c));
	*cfg = c.data;
}

static void test_features_and_info(void)
{
	struct vbridge_display_info_out info;
	struct vbridge_config cfg;
	struct env e;

	env_start(&e, 3, 0);
	CHECK(e.f.features & F(VBRIDGE_F_DISPLAY));
	get_config(&e.f, &cfg);
	CHECK_EQ(le32toh(cfg.num_scanouts), 3);
	CHECK_EQ(le32toh(cfg.display_width), 640);
	CHECK_EQ(le32toh(cfg.display_height), 480);
	CHECK_EQ(get_info(&e.f, &info), 0);
	CHECK_EQ(le32toh(info.num_scanouts), 3);
	CHECK_EQ(info.flags, 0);
	CHECK_EQ(le32toh(info.modes[2].enabled), 1);
	CHECK_EQ(le32toh(info.modes[2].width), 640);
	CHECK_EQ(le32toh(info.modes[2].height), 480);
	CHECK_EQ(info.modes[3].enabled, 0);
	/* No cursor support, as GET_INFO says. */
	CHECK_EQ(request(&e.f, VBRIDGE_OP_DISPLAY_CURSOR,
			 &(struct vbridge_display_cursor_in){ 0 },
			 sizeof(struct vbridge_display_cursor_in)), -EOPNOTSUPP);
	expect_ctl(&e, "info", "ok scanouts=3 0:mode=640x480,fb=off 1:mode=640x480,fb=off 2:mode=640x480,fb=off");
	env_stop(&e);
}

static void test_no_display(void)
{
	struct vbridge_display_info_out info;
	struct vbridge_config cfg;
	struct fe f;

	fe_start(&f, 1, NULL, 0);
	fe_handshake(&f, 0);
	fe_setup_all(&f, RING_SIZE);
	CHECK_EQ(fe_init(&f, 1), 0);
	CHECK(!(f.features & F(VBRIDGE_F_DISPLAY)));
	get_config(&f, &cfg);
	CHECK_EQ(cfg.num_scanouts, 0);
	CHECK_EQ(get_info(&f, &info), -EOPNOTSUPP);
	CHECK_EQ(fe_stop(&f), 0);
}

static void test_show_and_dump(void)
{
	struct vbd_rect all = { 0, 0, 100, 60 };
	struct gfb b;
	struct env e;

	env_start(&e, 1, 0);
	show(&e, &b);
	CHECK_EQ(e.out->width[0], 100);
	CHECK_EQ(e.out->height[0], 60);
	expect_dump(&e, 0, &all, &all, 1, 1);
	expect_ctl(&e, "info", "ok scanouts=1 0:mode=640x480,fb=100x60");
	env_stop(&e);
}

static void test_flush_copies_damage_only(void)
{
	struct vbd_rect all = { 0, 0, 100, 60 }, damage = { 13, 7, 50, 31 };
	struct gfb b;
	struct env e;

	env_start(&e, 1, 0);
	show(&e, &b);
	gfb_fill(&e.f, &b, 2);
	CHECK_EQ(flush(&e.f, 7, damage.x, damage.y, damage.width, damage.height), 0);
	CHECK_EQ(e.out->last.x, 13);
	CHECK_EQ(e.out->last.width, 50);
	expect_dump(&e, 0, &all, &damage, 2, 1);
	/* Several rectangles in one flush. */
	{
		struct {
			struct vbridge_display_flush_in hdr;
			struct vbridge_display_rect r[2];
		} in = {
			{ htole32(7), htole32(2) },
			{ { 0, 0, htole32(100), htole32(30) },
			  { 0, htole32(30), htole32(100), htole32(30) } },
		};

		CHECK_EQ(request(&e.f, VBRIDGE_OP_DISPLAY_FLUSH, &in, sizeof(in)), 0);
	}
	expect_dump(&e, 0, &all, &all, 2, 2);
	env_stop(&e);
}

static void test_scanout_subrect_and_heads(void)
{
	struct vbd_rect view = { 20, 10, 40, 30 }, damage = { 0, 0, 100, 60 };
	struct vbd_rect all = { 0, 0, 100, 60 };
	struct gfb b;
	struct env e;

	env_start(&e, 2, 0);
	show(&e, &b);
	CHECK_EQ(set_scanout(&e.f, 1, 7, view.x, view.y, view.width, view.height), 0);
	expect_dump(&e, 1, &view, &view, 1, 1);
	gfb_fill(&e.f, &b, 3);
	/* Clipped to head 1's view, in its coordinates. */
	CHECK_EQ(flush(&e.f, 7, 50, 0, 50, 60), 0);
	damage = (struct vbd_rect){ 50, 0, 50, 60 };
	expect_dump(&e, 1, &view, &damage, 3, 1);
	expect_dump(&e, 0, &all, &damage, 3, 1);
	CHECK_EQ(e.out->last_scanout, 1);
	CHECK_EQ(e.out->last.x, 30);
	CHECK_EQ(e.out->last.width, 10);
	CHECK_EQ(e.out->last.height, 30);
	/* Disable head 1; head 0 goes on. */
	CHECK_EQ(set_scanout(&e.f, 1, 0, 0, 0, 0, 0), 0);
	CHECK_EQ(e.out->width[1], 0);
	expect_ctl(&e, "dump 1 /dev/null", "error scanout disabled");
	expect_dump(&e, 0, &all, &damage, 3, 1);
	env_stop(&e);
}

static void test_argb_and_destroy(void)
{
	struct vbridge_display_mem_entry ent = { 0 };
	struct gfb b;
	struct env e;

	env_start(&e, 1, 0);
	gfb_alloc(&e.f, &b, 16, 16, 64);
	gfb_fill(&e.f, &b, 4);
	ent.addr = htole64(b.pages[0]);
	ent.length = htole32(PAGE);
	CHECK_EQ(create_raw(&e.f, 9, ARGB8888, 16, 16, 64, &ent, 1, 1), 0);
	CHECK_EQ(set_scanout(&e.f, 0, 9, 0, 0, 16, 16), 0);
	expect_dump(&e, 0, &(struct vbd_rect){ 0, 0, 16, 16 },
		    &(struct vbd_rect){ 0, 0, 16, 16 }, 4, 4);
	CHECK_EQ(create_raw(&e.f, 9, ARGB8888, 16, 16, 64, &ent, 1, 1), -EEXIST);
	/* Destroying a resource on screen turns the screen off. */
	CHECK_EQ(destroy(&e.f, 9), 0);
	CHECK_EQ(e.out->width[0], 0);
	expect_ctl(&e, "dump 0 /dev/null", "error scanout disabled");
	CHECK_EQ(destroy(&e.f, 9), -ENOENT);
	CHECK_EQ(flush(&e.f, 9, 0, 0, 1, 1), -ENOENT);
	env_stop(&e);
}

static void test_bad_resources(void)
{
	struct vbridge_display_mem_entry ent[2] = { { 0 } }, *many;
	uint64_t end = FE_GPA_BASE + FE_MEM_SIZE;
	struct gfb b;
	struct env e;
	unsigned int i;

	env_start(&e, 1, 0);
	gfb_alloc(&e.f, &b, 16, 16, 64);
	ent[0].addr = htole64(b.pages[0]);
	ent[0].length = htole32(PAGE);
#define BAD(id, fmt, w, h, s, n, err) \
	CHECK_EQ(create_raw(&e.f, id, fmt, w, h, s, ent, n, n), err)
	BAD(0, XRGB8888, 16, 16, 64, 1, -EINVAL);		/* id 0 */
	BAD(1, 0x36314752, 16, 16, 64, 1, -EINVAL);	/* RG16 */
	BAD(1, XRGB8888, 0, 16, 64, 1, -EINVAL);
	BAD(1, XRGB8888, 16, 0, 64, 1, -EINVAL);
	BAD(1, XRGB8888, 16385, 1, 65540, 1, -EINVAL);
	BAD(1, XRGB8888, 1, 16385, 4, 1, -EINVAL);
	BAD(1, XRGB8888, 16, 16, 63, 1, -EINVAL);	/* stride < width * 4 */
	BAD(1, XRGB8888, 16, 65, 64, 1, -EINVAL);	/* entries too small */
	BAD(1, XRGB8888, 16, 16, 64, 0, -EINVAL);
	/* Entries outside guest memory, or straddling its end. */
	ent[0].addr = htole64(end);
	BAD(1, XRGB8888, 16, 16, 64, 1, -EFAULT);
	ent[0].addr = htole64(end - PAGE / 2);
	BAD(1, XRGB8888, 16, 16, 64, 1, -EFAULT);
	ent[0].addr = htole64(FE_GPA_BASE - PAGE);
	BAD(1, XRGB8888, 16, 16, 64, 1, -EFAULT);
	ent[0].addr = htole64(~0ULL - 100);
	BAD(1, XRGB8888, 16, 16, 64, 1, -EFAULT);
	ent[0].addr = htole64(b.pages[0]);
	ent[0].length = 0;
	BAD(1, XRGB8888, 16, 16, 64, 1, -EINVAL);
	ent[0].length = htole32(PAGE);
	ent[0].padding = 1;
	BAD(1, XRGB8888, 16, 16, 64, 1, -EINVAL);
	ent[0].padding = 0;
	/* More entries claimed than sent, more than allowed. */
	CHECK_EQ(create_raw(&e.f, 1, XRGB8888, 16, 16, 64, ent, 1, 2), -EINVAL);
	many = calloc(VBD_DISPLAY_MAX_ENTRIES + 1, sizeof(*many));
	CHECK(many);
	for (i = 0; i <= VBD_DISPLAY_MAX_ENTRIES; i++) {
		many[i].addr = htole64(b.pages[0]);
		many[i].length = htole32(16);
	}
	CHECK_EQ(create_raw(&e.f, 1, XRGB8888, 16, 16, 64, many, 3000,
			    VBD_DISPLAY_MAX_ENTRIES + 1), -EINVAL);
	/*
	 * Issue 8 #7: entries must not alias (one page repeated made a
	 * huge image out of nothing), nor overlap partly.
	 */
	CHECK_EQ(create_raw(&e.f, 1, XRGB8888, 16, 16, 64, many, 3000, 3000),
		 -EINVAL);
	for (i = 0; i < 64; i++)
		many[i].addr = htole64(b.pages[0] + 16 * i);
	many[63].addr = htole64(b.pages[0] + 16 * 62 + 8);
	CHECK_EQ(create_raw(&e.f, 1, XRGB8888, 16, 16, 64, many, 64, 64), -EINVAL);
	many[63].addr = htole64(b.pages[0] + 16 * 63);
	CHECK_EQ(create_raw(&e.f, 1, XRGB8888, 16, 16, 64, many, 64, 64), 0);
	free(many);
	/* Too many resources. */
	for (i = 2; i <= VBD_DISPLAY_MAX_RESOURCES; i++)
		BAD(i, XRGB8888, 16, 16, 64, 1, 0);
	BAD(i, XRGB8888, 16, 16, 64, 1, -ENOSPC);
	CHECK_EQ(destroy(&e.f, 5), 0);
	BAD(i, XRGB8888, 16, 16, 64, 1, 0);
#undef BAD
	/* Still serving. */
	CHECK_EQ(set_scanout(&e.f, 0, 1, 0, 0, 16, 16), 0);
	env_stop(&e);
}

/* Issue 8 #7: what a guest may make us hold is bounded by --display. */
static void test_resource_bounds(void)
{
	struct vbridge_display_mem_entry ent = { 0 };
	uint32_t big = 800 * 600 * 4;
	uint64_t gpa;
	unsigned int i;
	struct env e;

	env_start(&e, 1, 0);
	gpa = drv_alloc(&e.f, big);
	ent.addr = htole64(gpa);
	ent.length = htole32(big);
	/* The protocol allows 16384x16384; the host offered 640x480. */
	CHECK_EQ(create_raw(&e.f, 1, XRGB8888, 641, 480, 641 * 4, &ent, 1, 1),
		 -E2BIG);
	CHECK_EQ(create_raw(&e.f, 1, XRGB8888, 640, 481, 640 * 4, &ent, 1, 1),
		 -E2BIG);
	CHECK_EQ(create_raw(&e.f, 1, XRGB8888, 640, 480, 640 * 4, &ent, 1, 1), 0);
	CHECK_EQ(set_scanout(&e.f, 0, 1, 0, 0, 640, 480), 0);
	/* A larger mode from the host lets the guest follow it. */
	vbd_display_set_mode(e.display, 0, 800, 600);
	CHECK_EQ(create_raw(&e.f, 2, XRGB8888, 800, 600, 800 * 4, &ent, 1, 1), 0);
	CHECK_EQ(create_raw(&e.f, 3, XRGB8888, 801, 600, 801 * 4, &ent, 1, 1),
		 -EINVAL);	/* entries too small: checked first */
	/* All resources together: VBD_DISPLAY_MAX_FRAMES frames per head. */
	for (i = 3; i <= VBD_DISPLAY_MAX_FRAMES; i++)
		CHECK_EQ(create_raw(&e.f, i, XRGB8888, 800, 600, 800 * 4, &ent,
				    1, 1), 0);
	CHECK_EQ(create_raw(&e.f, i, XRGB8888, 800, 600, 800 * 4, &ent, 1, 1),
		 -ENOSPC);
	CHECK_EQ(destroy(&e.f, 2), 0);
	CHECK_EQ(create_raw(&e.f, i, XRGB8888, 800, 600, 800 * 4, &ent, 1, 1), 0);
	/* The scanout shows what it showed. */
	{
		struct vbd_scanout_info si;

		CHECK_EQ(vbd_display_scanout_info(e.display, 0, &si), 0);
		CHECK_EQ(si.resource_id, 1);
		CHECK_EQ(si.width, 640);
		CHECK_EQ(si.height, 480);
	}
	env_stop(&e);
}

/* Many damage rectangles are copied as their bounding box, once. */
static void test_flush_many_rects(void)
{
	struct {
		struct vbridge_display_flush_in hdr;
		struct vbridge_display_rect r[200];
	} in;
	unsigned int i, before;
	struct gfb b;
	struct env e;

	env_start(&e, 1, 0);
	show(&e, &b);
	in.hdr.resource_id = htole32(7);
	in.hdr.nr_rects = htole32(200);
	for (i = 0; i < 200; i++)
		in.r[i] = (struct vbridge_display_rect){
			htole32(10 + i % 50), htole32(5 + i % 40), htole32(2),
			htole32(3) };
	gfb_fill(&e.f, &b, 2);
	pthread_mutex_lock(&e.out->lock);
	before = e.out->updates;
	pthread_mutex_unlock(&e.out->lock);
	CHECK_EQ(request(&e.f, VBRIDGE_OP_DISPLAY_FLUSH, &in, sizeof(in)), 0);
	pthread_mutex_lock(&e.out->lock);
	CHECK_EQ(e.out->updates, before + 1);
	CHECK_EQ(e.out->last.x, 10);
	CHECK_EQ(e.out->last.y, 5);
	CHECK_EQ(e.out->last.width, 51);
	CHECK_EQ(e.out->last.height, 42);
	pthread_mutex_unlock(&e.out->lock);
	expect_dump(&e, 0, &(struct vbd_rect){ 0, 0, 100, 60 },
		    &(struct vbd_rect){ 10, 5, 51, 42 }, 2, 1);
	env_stop(&e);
}

static void test_bad_rects(void)
{
	struct gfb b;
	struct env e;

	env_start(&e, 2, 0);
	show(&e, &b);
	CHECK_EQ(set_scanout(&e.f, 0, 7, 0, 0, 101, 60), -EINVAL);
	CHECK_EQ(set_scanout(&e.f, 0, 7, 1, 0, 100, 60), -EINVAL);
	CHECK_EQ(set_scanout(&e.f, 0, 7, 0, 0, 0, 60), -EINVAL);
	CHECK_EQ(set_scanout(&e.f, 0, 7, 0xffffffff, 0, 2, 1), -EINVAL);
	CHECK_EQ(set_scanout(&e.f, 0, 8, 0, 0, 10, 10), -ENOENT);
	CHECK_EQ(set_scanout(&e.f, 2, 7, 0, 0, 10, 10), -EINVAL);
	CHECK_EQ(set_scanout(&e.f, VBRIDGE_DISPLAY_MAX_SCANOUTS, 7, 0, 0, 10, 10),
		 -EINVAL);
	CHECK_EQ(flush(&e.f, 7, 0, 0, 100, 61), -EINVAL);
	CHECK_EQ(flush(&e.f, 7, 99, 0, 2, 1), -EINVAL);
	CHECK_EQ(flush(&e.f, 7, 0, 0xfffffff0, 1, 0x20), -EINVAL);
	CHECK_EQ(flush(&e.f, 8, 0, 0, 1, 1), -ENOENT);
	CHECK_EQ(flush(&e.f, 0, 0, 0, 1, 1), -ENOENT);
	/* More rectangles claimed than sent. */
	{
		struct vbridge_display_flush_in in = { htole32(7), htole32(2) };

		CHECK_EQ(request(&e.f, VBRIDGE_OP_DISPLAY_FLUSH, &in, sizeof(in)),
			 -EINVAL);
	}
	/* Short requests. */
	CHECK_EQ(request(&e.f, VBRIDGE_OP_DISPLAY_SET_SCANOUT, NULL, 0), -EINVAL);
	CHECK_EQ(request(&e.f, VBRIDGE_OP_DISPLAY_RESOURCE_CREATE, &b, 8), -EINVAL);
	/* The scanout is as it was. */
	expect_dump(&e, 0, &(struct vbd_rect){ 0, 0, 100, 60 },
		    &(struct vbd_rect){ 0, 0, 100, 60 }, 1, 1);
	CHECK_EQ(flush(&e.f, 7, 0, 0, 100, 60), 0);
	env_stop(&e);
}

static void test_memory_remapped(void)
{
	struct fe_mem_region region = {
		.gpa = FE_GPA_BASE,
		.size = FE_MEM_SIZE / 2,
	};
	uint64_t low;
	struct gfb b;
	struct env e;
	int fd;

	env_start(&e, 1, 0);
	/* The framebuffer in the second half of guest memory, then drop it. */
	low = e.f.alloc_next;
	e.f.alloc_next = FE_GPA_BASE + FE_MEM_SIZE / 2;
	show(&e, &b);
	e.f.alloc_next = low;
	region.uva = (uintptr_t)e.f.mem;
	fd = dup(e.f.memfd);
	fe_set_mem_table(&e.f, &region, 1, &fd);
	close(fd);
	CHECK_EQ(flush(&e.f, 7, 0, 0, 10, 10), -EFAULT);
	CHECK_EQ(set_scanout(&e.f, 0, 7, 0, 0, 10, 10), -EFAULT);
	CHECK(tap_log_contains("outside the guest's"));
	/* Back: the same resource works again. */
	region.size = FE_MEM_SIZE;
	fd = dup(e.f.memfd);
	fe_set_mem_table(&e.f, &region, 1, &fd);
	close(fd);
	CHECK_EQ(set_scanout(&e.f, 0, 7, 0, 0, 100, 60), 0);
	expect_dump(&e, 0, &(struct vbd_rect){ 0, 0, 100, 60 },
		    &(struct vbd_rect){ 0, 0, 100, 60 }, 1, 1);
	env_stop(&e);
}

static void test_reset_forgets(void)
{
	struct gfb b;
	struct env e;

	env_start(&e, 1, 0);
	show(&e, &b);
	CHECK_EQ(fe_send(&e.f, REQ_RESET_DEVICE, FLAG_VERSION, NULL, 0, NULL, 0), 0);
	CHECK_EQ(fe_set_u64(&e.f, REQ_SET_FEATURES, e.f.features), 0);
	fe_setup_all(&e.f, RING_SIZE);
	CHECK_EQ(fe_init(&e.f, 1), 0);
	CHECK_EQ(e.out->width[0], 0);
	CHECK_EQ(flush(&e.f, 7, 0, 0, 1, 1), -ENOENT);
	CHECK_EQ(create(&e.f, 7, &b), 0);
	env_stop(&e);
}

static void read_png(const char *path, png_image *img, uint8_t **rgb)
{
	memset(img, 0, sizeof(*img));
	img->version = PNG_IMAGE_VERSION;
	CHECK(png_image_begin_read_from_file(img, path));
	img->format = PNG_FORMAT_RGB;
	*rgb = malloc(PNG_IMAGE_SIZE(*img));
	CHECK(*rgb);
	CHECK(png_image_finish_read(img, NULL, *rgb, 0, NULL));
}

static void test_screenshot_png(void)
{
	char cmd[256], path[128];
	png_image img;
	uint8_t *rgb;
	uint32_t x, y;
	struct gfb b;
	struct env e;

	env_start(&e, 1, 0);
	show(&e, &b);
	snprintf(path, sizeof(path), "%s/shot.png", e.dir);
	snprintf(cmd, sizeof(cmd), "screenshot 0 %s", path);
	expect_ctl(&e, cmd, "ok");
	read_png(path, &img, &rgb);
	CHECK_EQ(img.width, 100);
	CHECK_EQ(img.height, 60);
	for (y = 0; y < 60; y++) {
		for (x = 0; x < 100; x++) {
			const uint8_t *p = rgb + (y * 100 + x) * 3;
			uint32_t v = p[0] << 16 | p[1] << 8 | p[2];

			if (v != pixel(x, y, 1))
				tap_fail(__FILE__, __LINE__, "pixel %u,%u is %06x, not %06x",
					 x, y, v, pixel(x, y, 1));
		}
	}
	free(rgb);
	png_image_free(&img);
	snprintf(cmd, sizeof(cmd), "screenshot 0 %s/no/such/dir.png", e.dir);
	expect_ctl(&e, cmd, "error No such file or directory");
	/*
	 * Issue 8 #10: created 0600, never over an existing file, never
	 * through a symbolic link (the daemon is root).
	 */
	{
		char target[160], link[160];
		struct stat st;

		CHECK(stat(path, &st) == 0);
		CHECK_EQ(st.st_mode & 07777, 0600);
		snprintf(cmd, sizeof(cmd), "screenshot 0 %s", path);
		expect_ctl(&e, cmd, "error File exists");
		snprintf(target, sizeof(target), "%s/target", e.dir);
		snprintf(link, sizeof(link), "%s/link.rgb", e.dir);
		CHECK(symlink(target, link) == 0);
		snprintf(cmd, sizeof(cmd), "dump 0 %s", link);
		expect_ctl(&e, cmd, "error File exists");
		CHECK(access(target, F_OK) < 0 && errno == ENOENT);
		/* "-" needs a file passed with the line. */
		expect_ctl(&e, "dump 0 -", "error Bad file descriptor");
	}
	env_stop(&e);
}

static void test_control_bad_input(void)
{
	char *line, reply[1024];
	struct env e;

	env_start(&e, 1, 0);
	expect_ctl(&e, "", "error unknown command");
	expect_ctl(&e, "info extra", "error unknown command");
	expect_ctl(&e, "screenshot", "error Invalid argument");
	expect_ctl(&e, "screenshot 0", "error Invalid argument");
	expect_ctl(&e, "dump x /tmp/x", "error Invalid argument");
	expect_ctl(&e, "dump -1 /tmp/x", "error Invalid argument");
	expect_ctl(&e, "dump 1 /tmp/x", "error Invalid argument");
	expect_ctl(&e, "dump 99999999999 /tmp/x", "error Invalid argument");
	expect_ctl(&e, "resize 0 800", "error Invalid argument");
	expect_ctl(&e, "resize 0 0 600", "error Invalid argument");
	expect_ctl(&e, "resize 0 16385 600", "error Invalid argument");
	expect_ctl(&e, "resize 1 800 600", "error Invalid argument");
	line = malloc(VBD_CONTROL_LINE_MAX + 100);
	CHECK(line);
	memset(line, 'a', VBD_CONTROL_LINE_MAX + 99);
	line[VBD_CONTROL_LINE_MAX + 99] = '\0';
	ctl(&e, line, reply, sizeof(reply));
	CHECK(!strcmp(reply, "error line too long"));
	free(line);
	/* Still serving. */
	expect_ctl(&e, "info", "ok scanouts=1 0:mode=640x480,fb=off");
	env_stop(&e);
}

static void test_resize_event(void)
{
	struct vbridge_display_info_out info;
	struct vbridge_event_display_changed *ev;
	uint32_t id, len;
	struct env e;

	env_start(&e, 2, 0);
	drv_add(&e.f, 0, &(struct drv_buf){
		drv_alloc(&e.f, VBRIDGE_EVENT_BUF_SIZE),
		VBRIDGE_EVENT_BUF_SIZE, true }, 1, false);
	drv_kick(&e.f, 0);
	expect_ctl(&e, "resize 1 1024 768", "ok");
	CHECK(drv_wait_used(&e.f, 0, &id, &len, 5000));
	CHECK_EQ(len, sizeof(*ev));
	ev = gpa_ptr(&e.f, le64toh(e.f.vq[0].desc[id].addr));
	CHECK_EQ(le32toh(ev->hdr.type), VBRIDGE_EVT_DISPLAY_CHANGED);
	CHECK_EQ(le32toh(ev->hdr.len), sizeof(*ev));
	CHECK_EQ(le32toh(ev->scanout_id), 1);
	CHECK_EQ(get_info(&e.f, &info), 0);
	CHECK_EQ(le32toh(info.modes[0].width), 640);
	CHECK_EQ(le32toh(info.modes[1].width), 1024);
	CHECK_EQ(le32toh(info.modes[1].height), 768);
	expect_ctl(&e, "info", "ok scanouts=2 0:mode=640x480,fb=off 1:mode=1024x768,fb=off");
	env_stop(&e);
}

static void test_vbridgectl(void)
{
	char cmd[512], out[256] = "", *ctl_bin = NULL;
	struct gfb b;
	struct env e;
	FILE *p;

	if (getenv("VBRIDGECTL"))
		ctl_bin = realpath(getenv("VBRIDGECTL"), NULL);
	if (!ctl_bin)
		tap_skip("VBRIDGECTL not set");
	env_start(&e, 1, 0);
	show(&e, &b);
	/* Relative names are made absolute for the daemon. */
	snprintf(cmd, sizeof(cmd), "cd %s && %s --socket %s dump 0 d.rgb 2>&1",
		 e.dir, ctl_bin, e.sock);
	p = popen(cmd, "r");
	CHECK(p);
	CHECK(fgets(out, sizeof(out), p));
	CHECK_EQ(pclose(p), 0);
	CHECK(!strcmp(out, "100 60\n"));
	snprintf(cmd, sizeof(cmd), "%s/d.rgb", e.dir);
	CHECK(access(cmd, R_OK) == 0);
	/* vbridgectl creates the file itself: an existing one is refused. */
	snprintf(cmd, sizeof(cmd), "cd %s && %s --socket %s dump 0 d.rgb 2>&1",
		 e.dir, ctl_bin, e.sock);
	p = popen(cmd, "r");
	CHECK(p);
	CHECK(fgets(out, sizeof(out), p));
	CHECK(pclose(p) != 0);
	CHECK(strstr(out, "File exists"));
	snprintf(cmd, sizeof(cmd), "%s --socket %s dump 3 x 2>&1", ctl_bin, e.sock);
	p = popen(cmd, "r");
	CHECK(p);
	CHECK(fgets(out, sizeof(out), p));
	CHECK(pclose(p) != 0);
	CHECK(!strcmp(out, "vbridgectl: Invalid argument\n"));
	/* ... and the file it made for the failed command is gone. */
	CHECK(access("x", F_OK) < 0);
	free(ctl_bin);
	env_stop(&e);
}

/* VNC */

static unsigned int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void quiet(const char *fmt, ...)
{
}

/* Whether the client's framebuffer shows rect of seed's pixels. */
static uint32_t vnc_pixel(rfbClient *cl, uint32_t x, uint32_t y)
{
	const rfbPixelFormat *pf = &cl->format;
	uint32_t v;

	memcpy(&v, cl->frameBuffer + (y * cl->width + x) * 4, 4);
	v = le32toh(v);
	return ((v >> pf->redShift) & 0xff) << 16 |
	       ((v >> pf->greenShift) & 0xff) << 8 | ((v >> pf->blueShift) & 0xff);
}

static bool vnc_matches(rfbClient *cl, const struct vbd_rect *r,
			unsigned int seed)
{
	uint32_t x, y;

	if ((uint32_t)cl->width != r->width || (uint32_t)cl->height != r->height)
		return false;
	for (y = 0; y < r->height; y++) {
		for (x = 0; x < r->width; x++)
			if (vnc_pixel(cl, x, y) != pixel(r->x + x, r->y + y, seed))
				return false;
	}
	return true;
}

/*
 * Wait for the client to show rect of seed's pixels, asking for
 * everything first with full, then like a viewer for what changed:
 * incremental requests only get what the server marked modified.
 */
static void vnc_wait_for(rfbClient *cl, const struct vbd_rect *r,
			 unsigned int seed, bool full)
{
	int i;

	for (i = 0; i < 100 && !vnc_matches(cl, r, seed); i++) {
		SendFramebufferUpdateRequest(cl, 0, 0, cl->width, cl->height,
					     !(full && !i));
		if (WaitForMessage(cl, 100000) > 0)
			CHECK(HandleRFBServerMessage(cl));
	}
	if (!vnc_matches(cl, r, seed))
		tap_fail(__FILE__, __LINE__, "VNC shows %dx%d, pixel 0,0 %06x, not %ux%u, %06x",
			 cl->width, cl->height, vnc_pixel(cl, 0, 0), r->width,
			 r->height, pixel(r->x, r->y, seed));
}

static void test_vnc(void)
{
	struct vbd_rect view = { 10, 5, 64, 48 };
	unsigned int port = free_port();
	rfbClient *cl;
	struct gfb b;
	struct env e;

	env_start(&e, 1, port);
	show(&e, &b);
	CHECK_EQ(set_scanout(&e.f, 0, 7, view.x, view.y, view.width, view.height), 0);

	rfbClientLog = rfbClientErr = quiet;
	cl = rfbGetClient(8, 3, 4);
	CHECK(cl);
	free(cl->serverHost);
	cl->serverHost = strdup("127.0.0.1");
	cl->serverPort = port;
	/* Lossless, for a pixel-exact comparison. */
	cl->appData.encodingsString = "raw";
	CHECK(rfbInitClient(cl, NULL, NULL));
	vnc_wait_for(cl, &view, 1, true);

	/* A flush shows up as damage. */
	gfb_fill(&e.f, &b, 5);
	CHECK_EQ(flush(&e.f, 7, 0, 0, 100, 60), 0);
	vnc_wait_for(cl, &view, 5, false);

	/* So does a new size. */
	view = (struct vbd_rect){ 0, 0, 100, 60 };
	CHECK_EQ(set_scanout(&e.f, 0, 7, 0, 0, 100, 60), 0);
	vnc_wait_for(cl, &view, 5, false);
	free(cl->frameBuffer);	/* not the cleanup's business */
	rfbClientCleanup(cl);
	env_stop(&e);
}

static int no_event(void *opaque, const void *ev, uint32_t len)
{
	return 0;
}

/* The security types a VNC server on port offers (RFB 3.8, 7.1.2). */
static void vnc_security_types(unsigned int port, uint8_t *types,
			       unsigned int *n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char version[12];
	uint8_t cnt;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK_EQ(recv(fd, version, 12, MSG_WAITALL), 12);
	CHECK(!memcmp(version, "RFB 003.00", 10));
	CHECK_EQ(send(fd, "RFB 003.008\n", 12, MSG_NOSIGNAL), 12);
	CHECK_EQ(recv(fd, &cnt, 1, MSG_WAITALL), 1);
	CHECK(cnt > 0);
	CHECK_EQ(recv(fd, types, cnt, MSG_WAITALL), cnt);
	*n = cnt;
	close(fd);
}

/* Issue 8 #10: --vnc-password-file turns on VNC authentication. */
static void test_vnc_password(void)
{
	struct vbd_display_opts opts = { 1, 64, 48 };
	struct vbd_display *d = vbd_display_new(&opts, no_event, NULL);
	unsigned int port, n, i;
	struct vbd_output *vnc;
	uint8_t types[256];
	bool vnc_auth = false, none = false;

	CHECK(d);
	port = free_port();
	vnc = vbd_vnc_new(d, port, "s3cret");
	CHECK(vnc);
	CHECK_EQ(vbd_display_add_output(d, vnc), 0);
	vnc_security_types(port, types, &n);
	for (i = 0; i < n; i++) {
		vnc_auth |= types[i] == 2;
		none |= types[i] == 1;
	}
	CHECK(vnc_auth && !none);
	vbd_display_free(d);

	/* Without a password: no authentication, loopback only. */
	d = vbd_display_new(&opts, no_event, NULL);
	CHECK(d);
	port = free_port();
	vnc = vbd_vnc_new(d, port, NULL);
	CHECK(vnc);
	CHECK_EQ(vbd_display_add_output(d, vnc), 0);
	vnc_security_types(port, types, &n);
	CHECK_EQ(n, 1);
	CHECK_EQ(types[0], 1);
	CHECK(tap_log_contains("127.0.0.1"));
	vbd_display_free(d);
}

static const struct tap_test tests[] = {
	{ "display: features, config and GET_INFO", test_features_and_info },
	{ "display: not offered without --display", test_no_display },
	{ "display: scanout from scattered pages, dumped", test_show_and_dump },
	{ "display: flush copies the damaged rectangles", test_flush_copies_damage_only },
	{ "display: sub-rectangles on two heads", test_scanout_subrect_and_heads },
	{ "display: ARGB8888 and destroying a shown resource", test_argb_and_destroy },
	{ "display: bad resources are refused", test_bad_resources },
	{ "display: bad rectangles are refused", test_bad_rects },
	{ "display: resources bounded by the configured display", test_resource_bounds },
	{ "display: many damage rectangles merged", test_flush_many_rects },
	{ "display: memory table replaced", test_memory_remapped },
	{ "display: reset forgets resources", test_reset_forgets },
	{ "display: PNG screenshot", test_screenshot_png },
	{ "display: control socket bad input", test_control_bad_input },
	{ "display: resize sends DISPLAY_CHANGED", test_resize_event },
	{ "display: vbridgectl", test_vbridgectl },
	{ "display: VNC client sees the flushed pixels", test_vnc },
	{ "display: VNC password authentication", test_vnc_password },
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return tap_main(tests, ARRAY_SIZE(tests), argc, argv);
}
