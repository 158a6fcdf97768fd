// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridge display: resources are framebuffers in guest memory, named by
 * the guest-physical ranges the driver registered.  Only those ranges
 * are kept: they are translated through the memory table each time
 * pixels are read, while a request of a running queue is handled, so a
 * SET_MEM_TABLE (which stops every queue and waits for the requests in
 * hand first) can never leave a stale pointer behind.  A range no
 * longer in guest memory fails the request with -EFAULT.
 *
 * Each enabled scanout has a surface on the host, as large as the
 * rectangle of the resource it shows.  SET_SCANOUT and FLUSH copy the
 * pixels from guest memory into it and tell the outputs what changed;
 * outputs and the control socket read surfaces only.
 *
 * What a guest can make us allocate or copy is bounded by what the host
 * configured, not by the protocol's limits: a resource is at most as
 * large as the largest mode a head was given (--display or a resize),
 * all resources together describe at most VBD_DISPLAY_MAX_FRAMES such
 * frames per head and VBD_DISPLAY_MAX_TOTAL_ENTRIES ranges, the ranges
 * of one resource do not overlap (no 1 GiB image out of one repeated
 * page), and one FLUSH copies each surface a bounded number of times.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vbridge.h>

#include "display.h"
#include "iov.h"
#include "log.h"
#include "output.h"

#define FOURCC(a, b, c, d) \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define FORMAT_XRGB8888		FOURCC('X', 'R', '2', '4')
#define FORMAT_ARGB8888		FOURCC('A', 'R', '2', '4')
#define BPP			4

_Static_assert(sizeof(struct vbridge_display_info_out) == 264, "info_out layout");
_Static_assert(sizeof(struct vbridge_display_mem_entry) == 16, "mem_entry layout");
_Static_assert(sizeof(struct vbridge_display_create_in) == 24, "create_in layout");
_Static_assert(sizeof(struct vbridge_display_set_scanout_in) == 24,
	       "set_scanout_in layout");
_Static_assert(sizeof(struct vbridge_event_display_changed) <= VBRIDGE_EVENT_BUF_SIZE,
	       "event layout");

struct res_entry {
	uint64_t gpa;
	uint64_t offset;	/* of its first byte in the resource */
	uint32_t len;
};

struct resource {
	uint32_t id;
	uint32_t width;
	uint32_t height;
	uint32_t stride;
	unsigned int nr_entries;
	struct res_entry entries[];
};

struct scanout {
	uint32_t mode_width;
	uint32_t mode_height;
	uint32_t resource_id;	/* 0: disabled */
	struct vbd_rect rect;	/* of the resource, while enabled */
	/* The surface: rect.width x rect.height, NULL while disabled. */
	uint8_t *pixels;
};

struct vbd_display {
	/* Immutable after vbd_display_new(). */
	unsigned int num_scanouts;
	vbd_display_event_fn *post_event;
	void *opaque;

	/* Filled before requests are served, then immutable. */
	unsigned int noutputs;
	struct vbd_output *outputs[VBD_DISPLAY_MAX_OUTPUTS];

	/*
	 * lock protects the fields below and the surfaces' pixels.  It
	 * nests inside a request queue's ring lock and outside the
	 * outputs' own locks; it is never held while posting an event.
	 */
	pthread_mutex_t lock;
	/* The largest mode any head was given: bounds every resource. */
	uint32_t max_width;
	uint32_t max_height;
	/* Accounted over all resources. */
	uint64_t total_bytes;		/* width * height * BPP */
	unsigned int total_entries;
	struct resource *resources[VBD_DISPLAY_MAX_RESOURCES];
	struct scanout scanouts[VBRIDGE_DISPLAY_MAX_SCANOUTS];
	struct vbd_ratelimit rl;
};

static bool valid_size(uint32_t width, uint32_t height)
{
	return width && height && width <= VBRIDGE_DISPLAY_MAX_DIM &&
	       height <= VBRIDGE_DISPLAY_MAX_DIM;
}

/* Whether r is non-empty and inside a width x height area. */
static bool rect_inside(const struct vbd_rect *r, uint32_t width,
			uint32_t height)
{
	return r->width && r->height && r->x < width && r->y < height &&
	       r->width <= width - r->x && r->height <= height - r->y;
}

/* Clip r to the rectangle clip; false if nothing is left. */
static bool rect_clip(struct vbd_rect *r, const struct vbd_rect *clip)
{
	uint64_t x0 = r->x > clip->x ? r->x : clip->x;
	uint64_t y0 = r->y > clip->y ? r->y : clip->y;
	uint64_t x1 = (uint64_t)r->x + r->width;
	uint64_t y1 = (uint64_t)r->y + r->height;

	if (x1 > (uint64_t)clip->x + clip->width)
		x1 = (uint64_t)clip->x + clip->width;
	if (y1 > (uint64_t)clip->y + clip->height)
		y1 = (uint64_t)clip->y + clip->height;
	if (x0 >= x1 || y0 >= y1)
		return false;
	*r = (struct vbd_rect){ x0, y0, x1 - x0, y1 - y0 };
	return true;
}

/* Grow *box to hold r too (or make it r, if first). */
static void rect_union(struct vbd_rect *box, const struct vbd_rect *r, bool first)
{
	uint64_t x0, y0, x1, y1;

	if (first) {
		*box = *r;
		return;
	}
	x0 = box->x < r->x ? box->x : r->x;
	y0 = box->y < r->y ? box->y : r->y;
	x1 = (uint64_t)box->x + box->width;
	y1 = (uint64_t)box->y + box->height;
	if (x1 < (uint64_t)r->x + r->width)
		x1 = (uint64_t)r->x + r->width;
	if (y1 < (uint64_t)r->y + r->height)
		y1 = (uint64_t)r->y + r->height;
	*box = (struct vbd_rect){ x0, y0, x1 - x0, y1 - y0 };
}

static void rect_from_wire(struct vbd_rect *r, const struct vbridge_display_rect *w)
{
	r->x = le32toh(w->x);
	r->y = le32toh(w->y);
	r->width = le32toh(w->width);
	r->height = le32toh(w->height);
}

/* Resources and surfaces (lock held) */

/* The slot of resource id, or a free one for id 0; NULL if none. */
static struct resource **res_slot(struct vbd_display *d, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < VBD_DISPLAY_MAX_RESOURCES; i++)
		if (d->resources[i] ? d->resources[i]->id == id : !id)
			return &d->resources[i];
	return NULL;
}

/* Bytes accounted for a width x height resource. */
static uint64_t res_bytes(uint32_t width, uint32_t height)
{
	return (uint64_t)width * height * BPP;
}

static void res_account_free(struct vbd_display *d, struct resource *res)
{
	d->total_bytes -= res_bytes(res->width, res->height);
	d->total_entries -= res->nr_entries;
	free(res);
}

static struct resource *res_find(struct vbd_display *d, uint32_t id)
{
	struct resource **slot = id ? res_slot(d, id) : NULL;

	return slot ? *slot : NULL;
}

/* Copy len bytes at offset off of res from guest memory to dst. */
static int res_read(const struct resource *res, const struct virtq_mem *mem,
		    uint64_t off, uint8_t *dst, size_t len)
{
	unsigned int lo = 0, hi = res->nr_entries;

	/* The last entry starting at or before off. */
	while (hi - lo > 1) {
		unsigned int mid = (lo + hi) / 2;

		if (res->entries[mid].offset <= off)
			lo = mid;
		else
			hi = mid;
	}
	for (; len; lo++) {
		const struct res_entry *e = &res->entries[lo];
		uint64_t skip = off - e->offset;
		size_t n = e->len - skip < len ? e->len - skip : len;
		const void *src;

		/* Entries cover stride * height bytes: never runs off the end. */
		src = virtq_mem_gpa(mem, e->gpa + skip, n);
		if (!src)
			return -EFAULT;
		memcpy(dst, src, n);
		dst += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Tell the outputs that r of scanout's surface changed. */
static void notify_update(struct vbd_display *d, unsigned int scanout,
			  const struct vbd_rect *r)
{
	unsigned int i;

	for (i = 0; i < d->noutputs; i++)
		d->outputs[i]->ops->update(d->outputs[i], scanout, r);
}

static void notify_resize(struct vbd_display *d, unsigned int scanout,
			  uint32_t width, uint32_t height)
{
	unsigned int i;

	for (i = 0; i < d->noutputs; i++)
		d->outputs[i]->ops->resize(d->outputs[i], scanout, width, height);
}

/*
 * Copy r (resource coordinates, inside the scanout's rectangle) from
 * guest memory into scanout's surface.
 */
static int scanout_copy(struct vbd_display *d, unsigned int i,
			const struct resource *res, const struct virtq_mem *mem,
			const struct vbd_rect *r)
{
	struct scanout *s = &d->scanouts[i];
	struct vbd_rect dr = {
		r->x - s->rect.x, r->y - s->rect.y, r->width, r->height
	};
	uint32_t y;
	int err;

	for (y = 0; y < r->height; y++) {
		err = res_read(res, mem,
			       (uint64_t)(r->y + y) * res->stride + (uint64_t)r->x * BPP,
			       s->pixels + ((size_t)(dr.y + y) * s->rect.width + dr.x) * BPP,
			       (size_t)r->width * BPP);
		if (err)
			return err;
	}
	notify_update(d, i, &dr);
	return 0;
}

static void scanout_disable(struct vbd_display *d, unsigned int i)
{
	struct scanout *s = &d->scanouts[i];

	if (!s->resource_id)
		return;
	free(s->pixels);
	s->pixels = NULL;
	s->resource_id = 0;
	memset(&s->rect, 0, sizeof(s->rect));
	notify_resize(d, i, 0, 0);
}

/* Requests */

static void req_read(struct vbd_display_req *r, size_t off, void *buf,
		     size_t len)
{
	iov_to_buf(r->c->rd, r->c->nr_rd, sizeof(struct vbridge_req_hdr) + off,
		   buf, len);
}

static int op_get_info(struct vbd_display *d, struct vbd_display_req *r)
{
	struct vbridge_display_info_out out = {
		.num_scanouts = htole32(d->num_scanouts),
	};
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->num_scanouts; i++) {
		out.modes[i].enabled = htole32(1);
		out.modes[i].width = htole32(d->scanouts[i].mode_width);
		out.modes[i].height = htole32(d->scanouts[i].mode_height);
	}
	pthread_mutex_unlock(&d->lock);
	r->out_len = iov_from_buf(r->c->wr, r->c->nr_wr,
				  sizeof(struct vbridge_resp_hdr), &out,
				  sizeof(out));
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct res_entry *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Whether two of the ranges of res share a guest byte. */
static bool entries_overlap(const struct resource *res)
{
	struct res_entry *sorted;
	bool overlap = false;
	unsigned int i;

	sorted = malloc(res->nr_entries * sizeof(*sorted));
	if (!sorted)
		return true;
	memcpy(sorted, res->entries, res->nr_entries * sizeof(*sorted));
	qsort(sorted, res->nr_entries, sizeof(*sorted), entry_cmp);
	for (i = 1; i < res->nr_entries && !overlap; i++)
		overlap = sorted[i].gpa - sorted[i - 1].gpa < sorted[i - 1].len;
	free(sorted);
	return overlap;
}

/* Read and check the memory entries of a new resource into res. */
static int create_entries(struct vbd_display_req *r, struct resource *res,
			  uint64_t need)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < res->nr_entries; i++) {
		struct vbridge_display_mem_entry w;
		struct res_entry *e = &res->entries[i];

		req_read(r, sizeof(struct vbridge_display_create_in) + i * sizeof(w),
			 &w, sizeof(w));
		e->gpa = le64toh(w.addr);
		e->len = le32toh(w.length);
		e->offset = total;
		if (!e->len || w.padding)
			return -EINVAL;
		if (!virtq_mem_gpa(r->mem, e->gpa, e->len))
			return -EFAULT;
		total += e->len;
	}
	if (total < need)
		return -EINVAL;
	return entries_overlap(res) ? -EINVAL : 0;
}

static int op_resource_create(struct vbd_display *d, struct vbd_display_req *r)
{
	struct vbridge_display_create_in in;
	struct resource *res, **slot;
	uint32_t format, width, height, stride, n;
	int err;

	req_read(r, 0, &in, sizeof(in));
	format = le32toh(in.format);
	width = le32toh(in.width);
	height = le32toh(in.height);
	stride = le32toh(in.stride);
	n = le32toh(in.nr_entries);
	if (!in.resource_id ||
	    (format != FORMAT_XRGB8888 && format != FORMAT_ARGB8888) ||
	    !valid_size(width, height) || stride < (uint64_t)width * BPP ||
	    !n || n > VBD_DISPLAY_MAX_ENTRIES ||
	    r->in_len - sizeof(in) < (uint64_t)n * sizeof(struct vbridge_display_mem_entry))
		return -EINVAL;

	res = malloc(sizeof(*res) + n * sizeof(res->entries[0]));
	if (!res)
		return -ENOMEM;
	res->id = le32toh(in.resource_id);
	res->width = width;
	res->height = height;
	res->stride = stride;
	res->nr_entries = n;
	err = create_entries(r, res, (uint64_t)stride * height);
	if (err) {
		free(res);
		return err;
	}

	pthread_mutex_lock(&d->lock);
	if (res_find(d, res->id))
		err = -EEXIST;
	else if (width > d->max_width || height > d->max_height)
		err = -E2BIG;
	else if (d->total_bytes + res_bytes(width, height) >
		 (uint64_t)VBD_DISPLAY_MAX_FRAMES * d->num_scanouts *
		 res_bytes(d->max_width, d->max_height) ||
		 d->total_entries + n > VBD_DISPLAY_MAX_TOTAL_ENTRIES)
		err = -ENOSPC;
	else if (!(slot = res_slot(d, 0)))
		err = -ENOSPC;
	else
		*slot = res;
	if (!err) {
		d->total_bytes += res_bytes(width, height);
		d->total_entries += n;
	}
	pthread_mutex_unlock(&d->lock);
	if (err)
		free(res);
	return err;
}

static int op_resource_destroy(struct vbd_display *d, struct vbd_display_req *r)
{
	struct vbridge_display_resource_in in;
	struct resource **slot;
	uint32_t id;
	unsigned int i;

	req_read(r, 0, &in, sizeof(in));
	id = le32toh(in.resource_id);
	pthread_mutex_lock(&d->lock);
	slot = id ? res_slot(d, id) : NULL;
	if (!slot) {
		pthread_mutex_unlock(&d->lock);
		return -ENOENT;
	}
	/* The driver should have disabled them; do not show freed memory. */
	for (i = 0; i < d->num_scanouts; i++)
		if (d->scanouts[i].resource_id == id)
			scanout_disable(d, i);
	res_account_free(d, *slot);
	*slot = NULL;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int op_set_scanout(struct vbd_display *d, struct vbd_display_req *r)
{
	struct vbridge_display_set_scanout_in in;
	const struct resource *res;
	struct scanout *s;
	struct vbd_rect rect;
	uint32_t id, i;
	int err = 0;

	req_read(r, 0, &in, sizeof(in));
	i = le32toh(in.scanout_id);
	id = le32toh(in.resource_id);
	rect_from_wire(&rect, &in.rect);
	if (i >= d->num_scanouts)
		return -EINVAL;

	pthread_mutex_lock(&d->lock);
	s = &d->scanouts[i];
	if (!id) {
		scanout_disable(d, i);
		goto out;
	}
	res = res_find(d, id);
	if (!res) {
		err = -ENOENT;
		goto out;
	}
	if (!rect_inside(&rect, res->width, res->height)) {
		err = -EINVAL;
		goto out;
	}
	if (!s->pixels || s->rect.width != rect.width ||
	    s->rect.height != rect.height) {
		uint8_t *pixels = calloc((size_t)rect.width * rect.height, BPP);

		if (!pixels) {
			err = -ENOMEM;
			goto out;
		}
		free(s->pixels);
		s->pixels = pixels;
		notify_resize(d, i, rect.width, rect.height);
	}
	s->resource_id = id;
	s->rect = rect;
	/* A page flip shows the new buffer without waiting for a flush. */
	err = scanout_copy(d, i, res, r->mem, &rect);
out:
	pthread_mutex_unlock(&d->lock);
	return err;
}

static int op_flush(struct vbd_display *d, struct vbd_display_req *r)
{
	struct vbridge_display_flush_in in;
	const struct resource *res;
	struct vbd_rect box = { 0 };
	uint32_t id, n, k;
	unsigned int i;
	int err = 0;

	req_read(r, 0, &in, sizeof(in));
	id = le32toh(in.resource_id);
	n = le32toh(in.nr_rects);
	if (r->in_len - sizeof(in) < (uint64_t)n * sizeof(struct vbridge_display_rect))
		return -EINVAL;

	pthread_mutex_lock(&d->lock);
	res = id ? res_find(d, id) : NULL;
	if (!res) {
		err = -ENOENT;
		goto out;
	}
	for (k = 0; k < n && !err; k++) {
		struct vbridge_display_rect w;
		struct vbd_rect rect;

		req_read(r, sizeof(in) + k * sizeof(w), &w, sizeof(w));
		rect_from_wire(&rect, &w);
		if (!rect_inside(&rect, res->width, res->height)) {
			err = -EINVAL;
			break;
		}
		/* Many rectangles: copy their bounding box once, at the end. */
		if (n > VBD_DISPLAY_FLUSH_RECTS) {
			rect_union(&box, &rect, !k);
			if (k < n - 1)
				continue;
			rect = box;
		}
		for (i = 0; i < d->num_scanouts && !err; i++) {
			struct vbd_rect clip = rect;

			if (d->scanouts[i].resource_id == id &&
			    rect_clip(&clip, &d->scanouts[i].rect))
				err = scanout_copy(d, i, res, r->mem, &clip);
		}
	}
out:
	pthread_mutex_unlock(&d->lock);
	return err;
}

int vbd_display_handle(struct vbd_display *d, struct vbd_display_req *r)
{
	static const struct {
		int (*fn)(struct vbd_display *d, struct vbd_display_req *r);
		uint32_t in_size;
		uint32_t out_size;
	} ops[] = {
		[VBRIDGE_OP_DISPLAY_GET_INFO - VBRIDGE_OP_DISPLAY_FIRST] = {
			op_get_info, 0, sizeof(struct vbridge_display_info_out) },
		[VBRIDGE_OP_DISPLAY_RESOURCE_CREATE - VBRIDGE_OP_DISPLAY_FIRST] = {
			op_resource_create,
			sizeof(struct vbridge_display_create_in), 0 },
		[VBRIDGE_OP_DISPLAY_RESOURCE_DESTROY - VBRIDGE_OP_DISPLAY_FIRST] = {
			op_resource_destroy,
			sizeof(struct vbridge_display_resource_in), 0 },
		[VBRIDGE_OP_DISPLAY_SET_SCANOUT - VBRIDGE_OP_DISPLAY_FIRST] = {
			op_set_scanout,
			sizeof(struct vbridge_display_set_scanout_in), 0 },
		[VBRIDGE_OP_DISPLAY_FLUSH - VBRIDGE_OP_DISPLAY_FIRST] = {
			op_flush, sizeof(struct vbridge_display_flush_in), 0 },
	};
	uint32_t n = r->opcode - VBRIDGE_OP_DISPLAY_FIRST;
	int err;

	/* No CURSOR: GET_INFO does not offer VBRIDGE_DISPLAY_F_CURSOR. */
	if (r->opcode < VBRIDGE_OP_DISPLAY_FIRST || n >= sizeof(ops) / sizeof(ops[0]) ||
	    !ops[n].fn)
		return -EOPNOTSUPP;
	if (r->in_len < ops[n].in_size || r->out_max < ops[n].out_size)
		return -EINVAL;
	err = ops[n].fn(d, r);
	if (err == -EFAULT) {
		pthread_mutex_lock(&d->lock);
		if (vbd_ratelimit(&d->rl))
			log_warn("display: request %#x names memory outside the guest's",
				 r->opcode);
		pthread_mutex_unlock(&d->lock);
	}
	return err;
}

/* Outputs and the control socket */

int vbd_display_capture(struct vbd_display *d, unsigned int scanout,
			struct vbd_image *img)
{
	const struct scanout *s;
	size_t size;
	int err = 0;

	if (scanout >= d->num_scanouts)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	s = &d->scanouts[scanout];
	if (!s->pixels) {
		err = -ENODATA;
		goto out;
	}
	size = (size_t)s->rect.width * s->rect.height * BPP;
	img->pixels = malloc(size);
	if (!img->pixels) {
		err = -ENOMEM;
		goto out;
	}
	img->width = s->rect.width;
	img->height = s->rect.height;
	memcpy(img->pixels, s->pixels, size);
out:
	pthread_mutex_unlock(&d->lock);
	return err;
}

void vbd_display_read(struct vbd_display *d, unsigned int scanout,
		      const struct vbd_rect *r, struct vbd_image *dst)
{
	const struct scanout *s = &d->scanouts[scanout];
	struct vbd_rect clip, rect = *r;
	uint32_t y;

	pthread_mutex_lock(&d->lock);
	clip = (struct vbd_rect){ 0, 0, s->rect.width, s->rect.height };
	if (s->pixels && rect_clip(&rect, &clip)) {
		clip = (struct vbd_rect){ 0, 0, dst->width, dst->height };
		if (rect_clip(&rect, &clip)) {
			for (y = rect.y; y < rect.y + rect.height; y++)
				memcpy(dst->pixels + ((size_t)y * dst->width + rect.x) * BPP,
				       s->pixels + ((size_t)y * s->rect.width + rect.x) * BPP,
				       (size_t)rect.width * BPP);
		}
	}
	pthread_mutex_unlock(&d->lock);
}

int vbd_display_scanout_info(struct vbd_display *d, unsigned int scanout,
			     struct vbd_scanout_info *info)
{
	const struct scanout *s;

	if (scanout >= d->num_scanouts)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	s = &d->scanouts[scanout];
	info->mode_width = s->mode_width;
	info->mode_height = s->mode_height;
	info->resource_id = s->resource_id;
	info->width = s->rect.width;
	info->height = s->rect.height;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int vbd_display_set_mode(struct vbd_display *d, unsigned int scanout,
			 uint32_t width, uint32_t height)
{
	struct vbridge_event_display_changed ev = {
		.hdr.type = htole32(VBRIDGE_EVT_DISPLAY_CHANGED),
		.hdr.len = htole32(sizeof(ev)),
		.scanout_id = htole32(scanout),
	};

	if (scanout >= d->num_scanouts || !valid_size(width, height))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	d->scanouts[scanout].mode_width = width;
	d->scanouts[scanout].mode_height = height;
	/* The host offered this mode: the guest may now use it. */
	if (d->max_width < width)
		d->max_width = width;
	if (d->max_height < height)
		d->max_height = height;
	pthread_mutex_unlock(&d->lock);
	return d->post_event(d->opaque, &ev, sizeof(ev));
}

/* Life cycle */

int vbd_display_add_output(struct vbd_display *d, struct vbd_output *out)
{
	if (d->noutputs == VBD_DISPLAY_MAX_OUTPUTS) {
		out->ops->destroy(out);
		return -ENOSPC;
	}
	d->outputs[d->noutputs++] = out;
	return 0;
}

unsigned int vbd_display_num_scanouts(const struct vbd_display *d)
{
	return d->num_scanouts;
}

void vbd_display_reset(struct vbd_display *d)
{
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->num_scanouts; i++)
		scanout_disable(d, i);
	for (i = 0; i < VBD_DISPLAY_MAX_RESOURCES; i++) {
		if (d->resources[i])
			res_account_free(d, d->resources[i]);
		d->resources[i] = NULL;
	}
	pthread_mutex_unlock(&d->lock);
}

struct vbd_display *vbd_display_new(const struct vbd_display_opts *opts,
				    vbd_display_event_fn *post_event,
				    void *opaque)
{
	struct vbd_display *d;
	unsigned int i;

	if (!opts->num_scanouts ||
	    opts->num_scanouts > VBRIDGE_DISPLAY_MAX_SCANOUTS ||
	    !valid_size(opts->width, opts->height)) {
		log_err("display: 1 to %d heads of 1 to %d pixels each way are supported",
			VBRIDGE_DISPLAY_MAX_SCANOUTS, VBRIDGE_DISPLAY_MAX_DIM);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->num_scanouts = opts->num_scanouts;
	d->max_width = opts->width;
	d->max_height = opts->height;
	d->post_event = post_event;
	d->opaque = opaque;
	for (i = 0; i < d->num_scanouts; i++) {
		d->scanouts[i].mode_width = opts->width;
		d->scanouts[i].mode_height = opts->height;
	}
	pthread_mutex_init(&d->lock, NULL);
	return d;
}

void vbd_display_free(struct vbd_display *d)
{
	unsigned int i;

	/* First: a VNC thread may still read the surfaces. */
	for (i = 0; i < d->noutputs; i++)
		d->outputs[i]->ops->destroy(d->outputs[i]);
	d->noutputs = 0;
	vbd_display_reset(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
