// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge_display_bench: the cost of showing guest pixels on the host,
 * measured the same way through any DRM/KMS driver with dumb buffers, so
 * that vbridge and virtio_gpu are compared in one guest boot (a benchmark,
 * not a test).  Takes DRM master on the first card of DRIVER, shows a
 * 1920x1080 XRGB8888 dumb buffer on its first connected connector, then:
 *
 *   full-frame          write a new full frame into the mapping, DIRTYFB
 *                       with one full-screen clip; frames/s and MB/s of
 *                       pixels, until the host has consumed the last one
 *   damage-WxH-ioctl    DIRTYFB of a WxH clip: time until the ioctl returns
 *   damage-WxH          DIRTYFB of a WxH clip: time until the host has
 *                       consumed the damage (vbridge: FLUSH completion,
 *                       from its trace events; virtio_gpu: DIRTYFB plus
 *                       host_sync())
 *   host-sync           host_sync() alone (virtio_gpu only)
 *
 * The pixel writes are outside the damage timings.  One line per phase:
 *
 *   display=DRIVER phase=NAME ops=N ms=T [fps=F MB/s=R]
 *   display=DRIVER phase=NAME ops=N min_us=A median_us=B p99_us=C
 *
 * usage: vbridge_display_bench [-n FRAMES] [-t SECONDS] [-d OPS] [-s SIZE]
 *                              DRIVER
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/vbridge.h>
#include <drm/drm.h>
#include <drm/drm_mode.h>

#define TRACING		"/sys/kernel/tracing"
#define WIDTH		1920
#define HEIGHT		1080
#define FMT_XRGB8888	0x34325258	/* fourcc "XR24" (drm_fourcc.h) */

/*
 * virtio_gpu's uapi (include/uapi/drm/virtgpu_drm.h, which the uapi headers
 * at hand lack): the two ioctls host_sync() needs.
 */
struct virtgpu_resource_create {
	uint32_t target, format, bind, width, height, depth, array_size;
	uint32_t last_level, nr_samples, flags, bo_handle, res_handle;
	uint32_t size, stride;
};
struct virtgpu_wait {
	uint32_t handle, flags;
};
#define VIRTGPU_IOCTL_RESOURCE_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + 0x04, struct virtgpu_resource_create)
#define VIRTGPU_IOCTL_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + 0x08, struct virtgpu_wait)
#define VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM	2
#define PIPE_TEXTURE_2D				2

static const char *driver;
static int fd = -1;
static int is_virtio_gpu;
/* Sync markers (GEM handles) still open, closed outside the timings. */
static uint32_t *markers;
static unsigned int nr_markers, max_markers;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "vbridge_display_bench: %s: %s: %s\n", driver, what,
		strerror(errno));
	exit(1);
}

/* DRM ioctl, restarted like libdrm does. */
static int xioctl(unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret == -1 && (errno == EINTR || errno == EAGAIN));
	return ret;
}

/* The first /dev/dri/cardN of @name: probe order decides N. */
static int open_card(const char *name, char *path, size_t len)
{
	char drv[64];
	int i;

	for (i = 0; i < 16; i++) {
		struct drm_version v = { .name = drv, .name_len = sizeof(drv) - 1 };

		snprintf(path, len, "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(drv, 0, sizeof(drv));
		if (!xioctl(DRM_IOCTL_VERSION, &v) && !strcmp(drv, name))
			return 0;
		close(fd);
	}
	fd = -1;
	return -1;
}

/*
 * Wait until the host has consumed every update queued so far.
 *
 * vbridge: its DIRTYFB is a blocking atomic commit whose plane update puts
 * FLUSH on the ring without waiting for it (vbridged copies the damaged
 * rectangles from guest memory into the scanout's surface before it
 * answers); the next plane update waits for that FLUSH first.  So a
 * DIRTYFB of one pixel returns once the host has consumed every earlier
 * update: frames_done() sends one, only after the full-frame loops.
 *
 * virtio_gpu: its DIRTYFB (drm_atomic_helper_dirtyfb, blocking commit too)
 * only queues TRANSFER_TO_HOST_2D and RESOURCE_FLUSH on the control queue.
 * virtio_gpu_resource_flush() waits for a fence only for guest-blob
 * buffers, and prepare_fb allocates none for a primary plane otherwise:
 * dumb buffers are guest blobs only with the device's blob=true, and QEMU
 * defaults to blob=false, so the ioctl returns before QEMU copies a pixel
 * into its surface.  Userspace cannot fence those commands, so a fenced
 * command goes after them: in 2D mode only RESOURCE_CREATE carries a fence,
 * which WAIT on the new object waits for.  QEMU completes 2D commands in
 * queue order, so once that fence signals the damage has been copied.  The
 * extra RESOURCE_CREATE (1x1) + ATTACH_BACKING round trip is the price of
 * the wait; "host-sync" measures it alone.
 */
static void host_sync(void)
{
	struct virtgpu_resource_create rc = {
		.target = PIPE_TEXTURE_2D,
		.format = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
		.width = 1,
		.height = 1,
	};
	struct virtgpu_wait w = {};

	if (!is_virtio_gpu)
		return;
	if (xioctl(VIRTGPU_IOCTL_RESOURCE_CREATE, &rc))
		die("VIRTGPU_RESOURCE_CREATE");
	w.handle = rc.bo_handle;
	if (xioctl(VIRTGPU_IOCTL_WAIT, &w))
		die("VIRTGPU_WAIT");
	/* Its RESOURCE_UNREF would be host work inside the next timing. */
	if (nr_markers == max_markers) {
		max_markers = max_markers ? 2 * max_markers : 64;
		markers = realloc(markers, max_markers * sizeof(*markers));
		if (!markers)
			die("realloc");
	}
	markers[nr_markers++] = rc.bo_handle;
}

static void close_markers(void)
{
	while (nr_markers) {
		struct drm_gem_close c = { .handle = markers[--nr_markers] };

		xioctl(DRM_IOCTL_GEM_CLOSE, &c);
	}
}

static int write_str(const char *path, const char *s)
{
	int f = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (f < 0)
		return -1;
	n = write(f, s, strlen(s));
	close(f);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/*
 * vbridge's DIRTYFB returns once its FLUSH is on the ring.  The moment the
 * host had the damage comes from the request trace events, stamped with
 * CLOCK_MONOTONIC like now_us().
 */
static int flush_trace(int on)
{
	const char *v = on ? "1" : "0";

	if (on && (write_str(TRACING "/trace_clock", "mono") ||
		   write_str(TRACING "/trace", "")))
		return -1;
	return write_str(TRACING "/events/vbridge/vbridge_request_submit/enable", v) ||
	       write_str(TRACING "/events/vbridge/vbridge_request_complete/enable", v) ?
	       -1 : 0;
}

/* Completion times (us) of the FLUSH requests traced, in order. */
static unsigned int flush_done(double *us, unsigned int max)
{
	unsigned long long unique, flush = 0;
	unsigned int queue, op, n = 0, fq = 0;
	char line[512], *ev, *ts;
	FILE *f = fopen(TRACING "/trace", "r");

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		ev = strstr(line, ": vbridge_request_");
		if (!ev)
			continue;
		*ev = '\0';
		ts = strrchr(line, ' ');
		ev += 2;
		if (sscanf(ev, "vbridge_request_submit: %*s queue=%u unique=%llu opcode=%x",
			   &queue, &unique, &op) == 3) {
			if (op == VBRIDGE_OP_DISPLAY_FLUSH) {
				fq = queue;
				flush = unique;
			}
		} else if (sscanf(ev, "vbridge_request_complete: %*s queue=%u unique=%llu",
				  &queue, &unique) == 2 && flush &&
			   unique == flush && queue == fq && ts) {
			us[n++] = strtod(ts + 1, NULL) * 1e6;
			flush = 0;
		}
	}
	fclose(f);
	return n;
}

/* A CRTC that can drive @conn's first encoder. */
static uint32_t pick_crtc(const struct drm_mode_get_connector *c,
			  const uint32_t *encs, const uint32_t *crtcs,
			  uint32_t nr_crtcs)
{
	struct drm_mode_get_encoder e = {
		.encoder_id = c->encoder_id ? c->encoder_id : encs[0],
	};
	uint32_t i;

	if (!c->encoder_id && !c->count_encoders)
		return 0;
	if (xioctl(DRM_IOCTL_MODE_GETENCODER, &e))
		die("GETENCODER");
	for (i = 0; i < nr_crtcs; i++)
		if (e.possible_crtcs & (1u << i))
			return crtcs[i];
	return 0;
}

/*
 * The first connected connector that offers WIDTHxHEIGHT, its mode and a
 * CRTC for it; returns the connector id.
 */
static uint32_t find_output(struct drm_mode_modeinfo *mode, uint32_t *crtc)
{
	struct drm_mode_card_res res = {};
	uint32_t crtcs[16], conns[16], encs[16], i, j;

	if (xioctl(DRM_IOCTL_MODE_GETRESOURCES, &res))
		die("GETRESOURCES");
	if (res.count_crtcs > 16 || res.count_connectors > 16)
		die("too many CRTCs or connectors");
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.connector_id_ptr = (uintptr_t)conns;
	res.count_encoders = 0;
	res.count_fbs = 0;
	if (xioctl(DRM_IOCTL_MODE_GETRESOURCES, &res))
		die("GETRESOURCES");

	for (i = 0; i < res.count_connectors; i++) {
		struct drm_mode_get_connector c = { .connector_id = conns[i] };
		struct drm_mode_modeinfo *modes;

		if (xioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c))
			die("GETCONNECTOR");
		if (c.connection != 1 || !c.count_modes)
			continue;
		/* Room for modes probed again in between. */
		modes = calloc(c.count_modes + 16, sizeof(*modes));
		if (!modes)
			die("calloc");
		c.count_modes += 16;
		c.modes_ptr = (uintptr_t)modes;
		c.count_encoders = c.count_encoders > 16 ? 16 : c.count_encoders;
		c.encoders_ptr = (uintptr_t)encs;
		c.count_props = 0;
		if (xioctl(DRM_IOCTL_MODE_GETCONNECTOR, &c))
			die("GETCONNECTOR");
		for (j = 0; j < c.count_modes; j++) {
			if (modes[j].hdisplay == WIDTH &&
			    modes[j].vdisplay == HEIGHT) {
				*mode = modes[j];
				*crtc = pick_crtc(&c, encs, crtcs,
						  res.count_crtcs);
				break;
			}
		}
		free(modes);
		if (j < c.count_modes && *crtc)
			return conns[i];
	}
	errno = ENODEV;
	die("no connected connector with a 1920x1080 mode");
	return 0;
}

/* One row pattern per frame, so every frame is new. */
static void draw(uint32_t *map, uint32_t pitch, uint32_t x0, uint32_t y0,
		 uint32_t w, uint32_t h, uint32_t seed)
{
	uint32_t x, y;

	for (y = y0; y < y0 + h; y++) {
		uint32_t *row = map + (size_t)y * (pitch / 4);
		uint32_t v = seed * 0x010101 + y;

		for (x = x0; x < x0 + w; x++)
			row[x] = v ^ x;
	}
}

static int dirty(uint32_t fb, struct drm_clip_rect *clip)
{
	struct drm_mode_fb_dirty_cmd d = {
		.fb_id = fb,
		.num_clips = 1,
		.clips_ptr = (uintptr_t)clip,
	};

	return xioctl(DRM_IOCTL_MODE_DIRTYFB, &d);
}

/* After full frames: wait until the host has consumed all of them. */
static void frames_done(uint32_t fb)
{
	struct drm_clip_rect px = { 0, 0, 1, 1 };

	if (is_virtio_gpu)
		host_sync();
	else if (dirty(fb, &px))
		die("DIRTYFB");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ms is the sum of the timed operations. */
static void report_lat(const char *phase, double *us, unsigned int n)
{
	double sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		sum += us[i];
	qsort(us, n, sizeof(*us), cmp_double);
	printf("display=%s phase=%s ops=%u ms=%.1f min_us=%.1f median_us=%.1f p99_us=%.1f\n",
	       driver, phase, n, sum / 1e3, us[0], us[n / 2],
	       us[(n * 99 + 99) / 100 - 1]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned int frames = 200, ops = 500, size = 64, seconds = 5, i, n;
	struct drm_mode_create_dumb cd = {
		.width = WIDTH, .height = HEIGHT, .bpp = 32,
	};
	struct drm_clip_rect full = { 0, 0, WIDTH, HEIGHT };
	struct drm_mode_fb_cmd2 f = {
		.width = WIDTH, .height = HEIGHT, .pixel_format = FMT_XRGB8888,
	};
	struct drm_mode_modeinfo mode;
	struct drm_mode_map_dumb md = {};
	struct drm_mode_crtc sc = {};
	uint32_t conn, crtc = 0, *map;
	char path[32], phase[64];
	double t0, t, *lat, *start, *end;
	int opt, host, traced;

	while ((opt = getopt(argc, argv, "n:t:d:s:")) != -1) {
		switch (opt) {
		case 'n': frames = atoi(optarg); break;
		case 't': seconds = atoi(optarg); break;
		case 'd': ops = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || !frames || !ops || !size ||
	    size > HEIGHT) {
usage:
		fprintf(stderr, "usage: %s [-n FRAMES] [-t SECONDS] [-d OPS] [-s SIZE] DRIVER\n",
			argv[0]);
		return 2;
	}
	driver = argv[optind];
	is_virtio_gpu = !strcmp(driver, "virtio_gpu");
	lat = calloc(ops, sizeof(*lat));
	start = calloc(ops + 10, sizeof(*start));
	end = calloc(ops + 10, sizeof(*end));
	if (!lat || !start || !end)
		die("calloc");

	if (open_card(driver, path, sizeof(path))) {
		errno = ENODEV;
		die("no DRM card");
	}
	/*
	 * The first opener is master already unless someone else holds it;
	 * fbcon is no master and gives the display up to our mode set.
	 */
	if (xioctl(DRM_IOCTL_SET_MASTER, NULL))
		die("SET_MASTER");
	conn = find_output(&mode, &crtc);

	if (xioctl(DRM_IOCTL_MODE_CREATE_DUMB, &cd))
		die("CREATE_DUMB");
	f.handles[0] = cd.handle;
	f.pitches[0] = cd.pitch;
	md.handle = cd.handle;
	if (xioctl(DRM_IOCTL_MODE_ADDFB2, &f))
		die("ADDFB2");
	if (xioctl(DRM_IOCTL_MODE_MAP_DUMB, &md))
		die("MAP_DUMB");
	map = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   md.offset);
	if (map == MAP_FAILED)
		die("mmap");
	draw(map, cd.pitch, 0, 0, WIDTH, HEIGHT, 0);
	sc.crtc_id = crtc;
	sc.fb_id = f.fb_id;
	sc.set_connectors_ptr = (uintptr_t)&conn;
	sc.count_connectors = 1;
	sc.mode = mode;
	sc.mode_valid = 1;
	if (xioctl(DRM_IOCTL_MODE_SETCRTC, &sc))
		die("SETCRTC");
	host_sync();
	printf("# display=%s %s connector %u crtc %u, %ux%u XRGB8888 dumb buffer, pitch %u: %s\n",
	       driver, path, conn, crtc, WIDTH, HEIGHT, cd.pitch,
	       is_virtio_gpu ?
	       "DIRTYFB returns once TRANSFER_TO_HOST_2D + RESOURCE_FLUSH are queued; damage-to-host = DIRTYFB + host-sync (fenced RESOURCE_CREATE 1x1 + VIRTGPU_WAIT, behind them in the control queue)" :
	       "DIRTYFB returns once its FLUSH is on the ring (vbridged copies the damage before answering; the next update waits for it); full frames end with a 1-pixel DIRTYFB, which waits for the last one; damage-to-host = FLUSH completion from the vbridge_request_* trace events");

	/* Full frames, until the host has taken the last one. */
	for (i = 0; i < 3; i++) {
		draw(map, cd.pitch, 0, 0, WIDTH, HEIGHT, i + 1);
		if (dirty(f.fb_id, &full))
			die("DIRTYFB");
	}
	frames_done(f.fb_id);
	t0 = now_us();
	for (n = 0; n < frames && now_us() - t0 < seconds * 1e6; n++) {
		draw(map, cd.pitch, 0, 0, WIDTH, HEIGHT, n + 4);
		if (dirty(f.fb_id, &full))
			die("DIRTYFB");
	}
	frames_done(f.fb_id);
	t = (now_us() - t0) / 1e3;
	printf("display=%s phase=full-frame ops=%u ms=%.1f fps=%.1f MB/s=%.1f\n",
	       driver, n, t, n / (t / 1e3),
	       (double)n * WIDTH * HEIGHT * 4 / 1e6 / (t / 1e3));
	fflush(stdout);
	close_markers();

	/*
	 * Small damage moved across the screen: the first loop times the
	 * ioctl, the second the way to the host.  The pixel writes are not
	 * timed; the first ten operations of each loop warm up.
	 */
	for (host = 0; host < 2; host++) {
		traced = host && !is_virtio_gpu && !flush_trace(1);
		for (i = 0; i < ops + 10; i++) {
			struct drm_clip_rect c;

			c.x1 = (i * size) % (WIDTH - size + 1);
			c.y1 = (i * 7) % (HEIGHT - size + 1);
			c.x2 = c.x1 + size;
			c.y2 = c.y1 + size;
			draw(map, cd.pitch, c.x1, c.y1, size, size, i);
			start[i] = now_us();
			if (dirty(f.fb_id, &c))
				die("DIRTYFB");
			if (host)
				host_sync();
			end[i] = now_us();
		}
		host_sync();
		close_markers();
		snprintf(phase, sizeof(phase), "damage-%ux%u%s", size, size,
			 host ? "" : "-ioctl");
		if (host && !is_virtio_gpu) {
			n = traced ? flush_done(end, ops + 10) : 0;
			flush_trace(0);
			if (n != ops + 10) {
				printf("# display=%s phase=%s not measured: %u FLUSH completions traced for %u DIRTYFB\n",
				       driver, phase, n, ops + 10);
				continue;
			}
		}
		for (i = 0; i < ops; i++)
			lat[i] = end[i + 10] - start[i + 10];
		report_lat(phase, lat, ops);
	}

	if (is_virtio_gpu) {
		for (i = 0; i < ops; i++) {
			t0 = now_us();
			host_sync();
			lat[i] = now_us() - t0;
		}
		close_markers();
		report_lat("host-sync", lat, ops);
	}

	/* Closing the file gives the display back to fbcon. */
	munmap(map, cd.size);
	close(fd);
	free(lat);
	free(start);
	free(end);
	free(markers);
	return 0;
}
