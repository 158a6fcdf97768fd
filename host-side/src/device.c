// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridge device logic.
 *
 * Queue 0 carries events to the guest, queues 1..N carry requests.  A
 * request is answered in place: the response header and payload are
 * written to the chain's writable part and the chain is completed with
 * the bytes written.  Errors go back in-band as negative errnos; only a
 * chain without room for a response header is completed empty.
 *
 * Requests other than INIT are refused with -EPROTO until an INIT has
 * succeeded; INIT may be repeated, the last successful one holds until
 * the device is reset.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vbridge.h>
#include <linux/virtio_config.h>

#include "device.h"
#include "display.h"
#include "fs.h"
#include "inject.h"
#include "iov.h"
#include "log.h"
#include "util.h"

#define F(bit)		(1ULL << (bit))

_Static_assert(sizeof(struct vbridge_config) <= VU_MAX_CONFIG_SIZE,
	       "vbridge_config too large for vhost-user frontends");
_Static_assert(sizeof(struct vbridge_req_hdr) == 24, "req_hdr layout");
_Static_assert(sizeof(struct vbridge_resp_hdr) == 16, "resp_hdr layout");
_Static_assert(sizeof(struct vbridge_init_in) == 16, "init_in layout");
_Static_assert(sizeof(struct vbridge_init_out) == 16, "init_out layout");
_Static_assert(sizeof(struct vbridge_event_test) <= VBRIDGE_EVENT_BUF_SIZE,
	       "event_test layout");

#define EVENT_QUEUE	0

/* What INIT negotiated. */
struct vbd_session {
	bool ready;
	uint16_t minor;
	uint32_t max_req_size;
	uint32_t max_inflight;
};

struct vbd_event {
	uint32_t len;
	uint8_t data[VBRIDGE_EVENT_BUF_SIZE];
};

struct vbd_device {
	/* Immutable after vbd_device_new() and vbd_device_enable_display(). */
	struct vbridge_config config;
	uint64_t offered;
	unsigned int num_request_queues;
	unsigned int queue_threads;	/* threads per request queue */

	/* Written only while no queue thread runs (set_features, reset). */
	uint64_t features;

	/* The filesystem requests; NULL without exports.  Has its own locks. */
	struct vbd_fs *fs;
	/* The display requests; NULL without a display.  Has its own lock. */
	struct vbd_display *display;
	/* Fault injection (--inject), NULL normally.  Has its own lock. */
	struct vbd_inject *inject;
	/* Where events go without an event queue (vbd_device_start_direct()). */
	vbd_event_sink_fn *event_sink;
	void *event_opaque;

	/*
	 * lock protects the fields below.  It nests inside a request
	 * queue's ring lock and outside the event queue's ring lock.
	 */
	pthread_mutex_t lock;
	struct vbd_session session;
	unsigned int pending_first;
	unsigned int npending;
	struct vbd_event pending[VBD_MAX_PENDING_EVENTS];
	/* Filesystem events were dropped: INVAL_ALL goes out at the next room. */
	bool fs_lost;
	struct vbd_ratelimit evq_rl;
	struct vbd_ratelimit fs_rl;
	struct virtq_chain evq_chain;
	/* The event queue, once a queue ran; NULL after reset or detach. */
	struct vu_queue *evq;
	/*
	 * vbd_device_detach() was called: queue threads still running until
	 * vu_dev_free() must not publish the event queue again.
	 */
	bool detached;
};

/* One request being handled. */
struct vbd_req {
	struct vbd_device *dev;
	/* guest memory, stable while handled; NULL off a virtqueue */
	const struct virtq_mem *mem;
	const struct virtq_chain *c;
	uint32_t opcode;
	uint32_t max_req_size;	/* negotiated by INIT */
	uint32_t in_len;	/* input payload bytes */
	size_t out_max;		/* room for output payload */
	size_t out_len;		/* output payload written */
};

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

#define REQ_PAYLOAD	sizeof(struct vbridge_req_hdr)
#define RESP_PAYLOAD	sizeof(struct vbridge_resp_hdr)

static void req_read(struct vbd_req *r, void *buf, size_t len)
{
	iov_to_buf(r->c->rd, r->c->nr_rd, REQ_PAYLOAD, buf, len);
}

static void req_write(struct vbd_req *r, const void *buf, size_t len)
{
	r->out_len = iov_from_buf(r->c->wr, r->c->nr_wr, RESP_PAYLOAD, buf, len);
}

/* Event queue */

/* Queue an INVAL_ALL for the filesystem events dropped (lock held, room). */
static void evq_queue_lost(struct vbd_device *dev)
{
	struct vbd_event *ev;
	struct vbridge_event_hdr hdr = {
		.type = htole32(VBRIDGE_EVT_FS_INVAL_ALL),
		.len = htole32(sizeof(hdr)),
	};

	if (!dev->fs_lost || dev->npending == VBD_MAX_PENDING_EVENTS)
		return;
	ev = &dev->pending[(dev->pending_first + dev->npending) %
			   VBD_MAX_PENDING_EVENTS];
	ev->len = sizeof(hdr);
	memcpy(ev->data, &hdr, sizeof(hdr));
	dev->npending++;
	dev->fs_lost = false;
}

/* Deliver pending events into the buffers the guest posted (lock held). */
static void evq_flush(struct vbd_device *dev, struct vu_queue *q)
{
	struct virtq_chain *c = &dev->evq_chain;
	struct virtq *vq;
	int r;

	if (!dev->npending)
		return;
	vq = vu_queue_lock(q);
	if (!vq)
		return;
	while (dev->npending) {
		const struct vbd_event *ev = &dev->pending[dev->pending_first];

		r = virtq_pop(vq, c);
		if (!r && virtq_enable_notify(vq))
			continue;
		if (r <= 0)
			break;
		if (c->nr_rd || c->wr_len < ev->len) {
			if (vbd_ratelimit(&dev->evq_rl))
				log_warn("event queue: buffer %u is not writable or under %u bytes",
					 c->head, ev->len);
			virtq_push(vq, c->head, 0);
			continue;
		}
		iov_from_buf(c->wr, c->nr_wr, 0, ev->data, ev->len);
		virtq_push(vq, c->head, ev->len);
		dev->pending_first = (dev->pending_first + 1) % VBD_MAX_PENDING_EVENTS;
		dev->npending--;
		evq_queue_lost(dev);
	}
	vu_queue_notify(q);
	vu_queue_unlock(q);
}

/*
 * Queue an event for the guest: -EAGAIN if too many are waiting.  With
 * coalesce, an event identical to one still pending is not queued again.
 */
static int post_event(struct vbd_device *dev, const void *data, uint32_t len,
		      bool coalesce, bool fs)
{
	struct vbd_event *ev;
	unsigned int i;

	if (dev->event_sink)
		return dev->event_sink(dev->event_opaque, data, len);
	pthread_mutex_lock(&dev->lock);
	for (i = 0; coalesce && i < dev->npending; i++) {
		ev = &dev->pending[(dev->pending_first + i) % VBD_MAX_PENDING_EVENTS];
		if (ev->len == len && !memcmp(ev->data, data, len)) {
			pthread_mutex_unlock(&dev->lock);
			return 0;
		}
	}
	if (dev->npending == VBD_MAX_PENDING_EVENTS) {
		/* The guest must not stay stale: it will drop all it cached. */
		dev->fs_lost |= fs;
		pthread_mutex_unlock(&dev->lock);
		return -EAGAIN;
	}
	ev = &dev->pending[(dev->pending_first + dev->npending) %
			   VBD_MAX_PENDING_EVENTS];
	ev->len = len;
	memcpy(ev->data, data, len);
	if (dev->inject)
		vbd_inject_event(dev->inject, ev->data, len);
	dev->npending++;
	if (dev->evq)
		evq_flush(dev, dev->evq);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

/* Filesystem invalidations, from the fs watcher thread. */
static void post_fs_event(void *opaque, const void *data, uint32_t len)
{
	struct vbd_device *dev = opaque;
	const struct vbridge_event_hdr *hdr = data;
	struct vbridge_event_hdr all = {
		.type = htole32(VBRIDGE_EVT_FS_INVAL_ALL),
		.len = htole32(sizeof(all)),
	};

	/* A driver without VBRIDGE_F_FS_COHERENT knows no INVAL_EXPORT. */
	if (le32toh(hdr->type) == VBRIDGE_EVT_FS_INVAL_EXPORT &&
	    !(__atomic_load_n(&dev->features, __ATOMIC_RELAXED) &
	      F(VBRIDGE_F_FS_COHERENT))) {
		data = &all;
		len = sizeof(all);
	}
	if (post_event(dev, data, len, true, true) && vbd_ratelimit(&dev->fs_rl))
		log_warn("event queue full: host change notifications dropped, the guest will drop its whole cache");
}

/* Display changes, from the control socket. */
static int post_display_event(void *opaque, const void *data, uint32_t len)
{
	return post_event(opaque, data, len, true, false);
}

/* Requests */

static int op_init(struct vbd_req *r)
{
	struct vbridge_init_in in;
	struct vbridge_init_out out;
	struct vbd_session s = { .ready = true };

	req_read(r, &in, sizeof(in));
	if (le16toh(in.major) != VBRIDGE_PROTO_MAJOR) {
		log_debug("INIT: driver speaks protocol %u.%u, we %u.%u",
			  le16toh(in.major), le16toh(in.minor),
			  VBRIDGE_PROTO_MAJOR, VBRIDGE_PROTO_MINOR);
		return -EPROTO;
	}
	if (in.flags || le32toh(in.max_req_size) < VBRIDGE_MIN_REQ_SIZE ||
	    !le32toh(in.max_inflight))
		return -EINVAL;
	s.minor = min_u32(le16toh(in.minor), VBRIDGE_PROTO_MINOR);
	s.max_req_size = min_u32(le32toh(in.max_req_size), VBD_MAX_REQ_SIZE);
	s.max_inflight = min_u32(le32toh(in.max_inflight), VBD_MAX_INFLIGHT);

	pthread_mutex_lock(&r->dev->lock);
	r->dev->session = s;
	pthread_mutex_unlock(&r->dev->lock);

	out.major = htole16(VBRIDGE_PROTO_MAJOR);
	out.minor = htole16(s.minor);
	out.flags = 0;
	out.max_req_size = htole32(s.max_req_size);
	out.max_inflight = htole32(s.max_inflight);
	req_write(r, &out, sizeof(out));
	log_debug("INIT: protocol %u.%u, max request %u bytes, %u in flight",
		  VBRIDGE_PROTO_MAJOR, s.minor, s.max_req_size, s.max_inflight);
	return 0;
}

static int op_ping(struct vbd_req *r)
{
	return 0;
}

static int op_echo(struct vbd_req *r)
{
	const struct virtq_chain *c = r->c;

	r->out_len = iov_copy(c->wr, c->nr_wr, RESP_PAYLOAD,
			      c->rd, c->nr_rd, REQ_PAYLOAD,
			      r->in_len < r->out_max ? r->in_len : r->out_max);
	return 0;
}

static int op_event_test(struct vbd_req *r)
{
	struct vbridge_event_test_in in;
	struct vbridge_event_test ev;

	req_read(r, &in, sizeof(in));
	ev.hdr.type = htole32(VBRIDGE_EVT_TEST);
	ev.hdr.len = htole32(sizeof(ev));
	ev.cookie = in.cookie;
	return post_event(r->dev, &ev, sizeof(ev), false, false);
}

static int op_fs(struct vbd_req *r)
{
	struct vbd_fs_req fr = {
		.c = r->c,
		.opcode = r->opcode,
		.in_len = r->in_len,
		.out_max = r->out_max,
		.max_req_size = r->max_req_size,
	};
	int err;

	if (!r->dev->fs)
		return -EOPNOTSUPP;
	err = vbd_fs_handle(r->dev->fs, &fr);
	r->out_len = fr.out_len;
	return err;
}

static int op_display(struct vbd_req *r)
{
	struct vbd_display_req dr = {
		.c = r->c,
		.mem = r->mem,
		.opcode = r->opcode,
		.in_len = r->in_len,
		.out_max = r->out_max,
	};
	int err;

	/* Framebuffers live in guest memory: not reachable over a stream. */
	if (!r->mem)
		return -EOPNOTSUPP;
	err = vbd_display_handle(r->dev->display, &dr);
	r->out_len = dr.out_len;
	return err;
}

struct vbd_op {
	int (*fn)(struct vbd_req *r);
	uint32_t in_size;	/* input payload needed */
	uint32_t out_size;	/* room for output payload needed */
	uint64_t features;	/* negotiated features needed */
};

static const struct vbd_op core_ops[] = {
	[VBRIDGE_OP_INIT - VBRIDGE_OP_CORE_FIRST] = {
		op_init, sizeof(struct vbridge_init_in),
		sizeof(struct vbridge_init_out), 0 },
};

static const struct vbd_op debug_ops[] = {
	[VBRIDGE_OP_PING - VBRIDGE_OP_DEBUG_FIRST] = {
		op_ping, 0, 0, F(VBRIDGE_F_DEBUG) },
	[VBRIDGE_OP_ECHO - VBRIDGE_OP_DEBUG_FIRST] = {
		op_echo, 0, 0, F(VBRIDGE_F_DEBUG) },
	[VBRIDGE_OP_EVENT_TEST - VBRIDGE_OP_DEBUG_FIRST] = {
		op_event_test, sizeof(struct vbridge_event_test_in), 0,
		F(VBRIDGE_F_DEBUG) | F(VBRIDGE_F_EVENT_QUEUE) },
};

/* vbd_fs_handle() checks the sizes of each. */
static const struct vbd_op fs_ops[] = {
	[0 ... VBRIDGE_OP_FS_BATCH_FORGET - VBRIDGE_OP_FS_FIRST] = {
		op_fs, sizeof(struct vbridge_fs_in), 0, F(VBRIDGE_F_FS) },
	[VBRIDGE_OP_FS_GET_HANDLE - VBRIDGE_OP_FS_FIRST ...
	 VBRIDGE_OP_FS_RESOLVE - VBRIDGE_OP_FS_FIRST] = {
		op_fs, sizeof(struct vbridge_fs_in), 0,
		F(VBRIDGE_F_FS) | F(VBRIDGE_F_FS_HANDLES) },
	[VBRIDGE_OP_FS_READDIR_NAMES - VBRIDGE_OP_FS_FIRST] = {
		op_fs, sizeof(struct vbridge_fs_in), 0, F(VBRIDGE_F_FS) },
};

/* vbd_display_handle() checks the sizes of each. */
static const struct vbd_op display_ops[] = {
	[0 ... VBRIDGE_OP_DISPLAY_CURSOR - VBRIDGE_OP_DISPLAY_FIRST] = {
		op_display, 0, 0, F(VBRIDGE_F_DISPLAY) },
};

static const struct {
	uint32_t first;
	uint32_t count;
	const struct vbd_op *ops;
} op_ranges[] = {
	{ VBRIDGE_OP_CORE_FIRST, ARRAY_SIZE(core_ops), core_ops },
	{ VBRIDGE_OP_DEBUG_FIRST, ARRAY_SIZE(debug_ops), debug_ops },
	{ VBRIDGE_OP_FS_FIRST, ARRAY_SIZE(fs_ops), fs_ops },
	{ VBRIDGE_OP_DISPLAY_FIRST, ARRAY_SIZE(display_ops), display_ops },
};

static const struct vbd_op *op_lookup(uint32_t opcode)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(op_ranges); i++) {
		uint32_t n = opcode - op_ranges[i].first;

		if (opcode >= op_ranges[i].first && n < op_ranges[i].count &&
		    op_ranges[i].ops[n].fn)
			return &op_ranges[i].ops[n];
	}
	return NULL;
}

uint32_t vbd_device_handle(struct vbd_device *dev, const struct virtq_mem *mem,
			   const struct virtq_chain *c)
{
	struct vbridge_resp_hdr resp = { 0 };
	struct vbd_req r = { .dev = dev, .mem = mem, .c = c };
	struct vbridge_req_hdr hdr;
	const struct vbd_op *op;
	struct vbd_session s;
	uint32_t opcode, len;
	int err;

	if (c->wr_len < sizeof(resp))
		return 0;
	if (iov_to_buf(c->rd, c->nr_rd, 0, &hdr, sizeof(hdr)) < sizeof(hdr)) {
		err = -EINVAL;
		goto out;
	}
	resp.unique = hdr.unique;
	opcode = le32toh(hdr.opcode);
	len = le32toh(hdr.len);

	pthread_mutex_lock(&dev->lock);
	s = dev->session;
	pthread_mutex_unlock(&dev->lock);

	op = op_lookup(opcode);
	if (len < sizeof(hdr) || len > c->rd_len || hdr.flags)
		err = -EINVAL;
	else if (!op || (op->features & ~dev->features))
		err = -EOPNOTSUPP;
	else if (!s.ready && opcode != VBRIDGE_OP_INIT)
		err = -EPROTO;
	else if (s.ready && len > s.max_req_size)
		err = -EMSGSIZE;
	else if (len - sizeof(hdr) < op->in_size ||
		 c->wr_len - sizeof(resp) < op->out_size)
		err = -EINVAL;
	else {
		r.opcode = opcode;
		r.max_req_size = s.max_req_size;
		r.in_len = len - sizeof(hdr);
		r.out_max = c->wr_len - sizeof(resp);
		err = op->fn(&r);
	}
	if (err)
		r.out_len = 0;
out:
	resp.error = htole32((uint32_t)err);
	resp.len = htole32(sizeof(resp) + r.out_len);
	iov_from_buf(c->wr, c->nr_wr, 0, &resp, sizeof(resp));
	return sizeof(resp) + r.out_len;
}

uint32_t vbd_device_max_req_size(struct vbd_device *dev)
{
	uint32_t n;

	pthread_mutex_lock(&dev->lock);
	n = dev->session.ready ? dev->session.max_req_size : VBRIDGE_MIN_REQ_SIZE;
	pthread_mutex_unlock(&dev->lock);
	return n;
}

/*
 * Handle the requests on q, each without the ring lock, so that the
 * queue's other threads take the next ones meanwhile.
 */
static void handle_requests(struct vbd_device *dev, struct vu_queue *q)
{
	const struct virtq_mem *mem;
	struct virtq_chain c;
	struct virtq *vq;
	bool more = true, drop;
	uint32_t len;
	int r;

	vq = vu_queue_lock(q);
	if (!vq)
		return;
	while (more) {
		r = virtq_pop(vq, &c);
		if (!r && virtq_enable_notify(vq))
			continue;
		if (r <= 0)
			break;
		if (c.wr_len < sizeof(struct vbridge_resp_hdr)) {
			if (vbd_ratelimit(&vq->rl))
				log_warn("virtqueue %u: request %u has no room for a response",
					 vq->index, c.head);
			virtq_push(vq, c.head, 0);
			vu_queue_notify(q);
			continue;
		}
		mem = vq->mem;
		vu_queue_unlock_chain(q);
		len = vbd_device_handle(dev, mem, &c);
		drop = dev->inject &&
		       vbd_inject_reply(dev->inject, c.wr, c.nr_wr, c.wr_len,
					&len) == VBD_FAULT_DROP;
		more = vu_queue_lock_chain(q);
		if (drop)
			continue;
		virtq_push(vq, c.head, len);
		vu_queue_notify(q);
	}
	/* Chains rejected by virtq_pop() were completed too. */
	vu_queue_notify(q);
	vu_queue_unlock(q);
}

/* vhost-user callbacks */

static void vbd_handle_queue(void *opaque, struct vu_queue *q,
			     unsigned int index)
{
	struct vbd_device *dev = opaque;

	pthread_mutex_lock(&dev->lock);
	if (!dev->detached)
		dev->evq = vu_dev_queue(vu_queue_dev(q), EVENT_QUEUE);
	/* The guest posted event buffers. */
	if (index == EVENT_QUEUE && !dev->detached)
		evq_flush(dev, q);
	pthread_mutex_unlock(&dev->lock);
	if (index != EVENT_QUEUE)
		handle_requests(dev, q);
}

static int vbd_get_config(void *opaque, void *buf, uint32_t offset,
			  uint32_t len)
{
	struct vbd_device *dev = opaque;

	if (offset > sizeof(dev->config) || len > sizeof(dev->config) - offset)
		return -EINVAL;
	memcpy(buf, (const uint8_t *)&dev->config + offset, len);
	return 0;
}

static void vbd_set_features(void *opaque, uint64_t features)
{
	struct vbd_device *dev = opaque;

	dev->features = features;
}

static void vbd_reset(void *opaque)
{
	struct vbd_device *dev = opaque;

	dev->features = 0;
	pthread_mutex_lock(&dev->lock);
	memset(&dev->session, 0, sizeof(dev->session));
	dev->pending_first = 0;
	dev->npending = 0;
	dev->fs_lost = false;
	dev->evq = NULL;
	pthread_mutex_unlock(&dev->lock);
	if (dev->fs)
		vbd_fs_reset(dev->fs);
	if (dev->display)
		vbd_display_reset(dev->display);
}

void vbd_device_detach(struct vbd_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	dev->evq = NULL;
	dev->detached = true;
	pthread_mutex_unlock(&dev->lock);
}

static unsigned int vbd_queue_threads(void *opaque, unsigned int index)
{
	struct vbd_device *dev = opaque;

	return index == EVENT_QUEUE ? 1 : dev->queue_threads;
}

static const struct vu_dev_ops vbd_vu_ops = {
	.handle_queue = vbd_handle_queue,
	.queue_threads = vbd_queue_threads,
	.get_config = vbd_get_config,
	.set_features = vbd_set_features,
	.reset = vbd_reset,
};

void vbd_device_vu_info(struct vbd_device *dev, struct vu_dev_info *info)
{
	info->features = dev->offered;
	info->num_queues = 1 + dev->num_request_queues;
	info->ops = &vbd_vu_ops;
	info->opaque = dev;
}

struct vbd_device *vbd_device_new(const struct vbd_store *store,
				  unsigned int num_request_queues,
				  const struct vbd_fs_opts *fs_opts)
{
	static const struct vbd_fs_opts default_opts;
	unsigned int i, ntags = store->ops->num_exports(store);
	struct vbd_device *dev;

	if (!num_request_queues ||
	    num_request_queues > VBRIDGE_MAX_REQUEST_QUEUES) {
		log_err("the number of request queues must be 1 to %d",
			VBRIDGE_MAX_REQUEST_QUEUES);
		return NULL;
	}
	if (ntags > VBRIDGE_MAX_TAGS) {
		log_err("at most %d exports are supported", VBRIDGE_MAX_TAGS);
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	for (i = 0; i < ntags; i++) {
		const char *tag = store->ops->export_tag(store, i);

		if (!vbd_share_tag_valid(tag)) {
			log_err("export %u: invalid tag", i);
			free(dev);
			return NULL;
		}
		memcpy(dev->config.tags[i], tag, strlen(tag));
	}
	dev->config.num_request_queues = htole32(num_request_queues);
	dev->config.num_tags = htole32(ntags);
	dev->num_request_queues = num_request_queues;
	dev->queue_threads = VBD_QUEUE_THREADS_DEFAULT;
	dev->offered = F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) |
		       F(VIRTIO_RING_F_EVENT_IDX) | F(VBRIDGE_F_MQ) |
		       F(VBRIDGE_F_EVENT_QUEUE) | F(VBRIDGE_F_DEBUG) |
		       (ntags ? F(VBRIDGE_F_FS) : 0);
	/* Handles that outlive us need a key that does (--handle-key). */
	if (ntags && fs_opts && fs_opts->handle_key_set)
		dev->offered |= F(VBRIDGE_F_FS_HANDLES);
	pthread_mutex_init(&dev->lock, NULL);
	if (ntags) {
		dev->fs = vbd_fs_new(store, fs_opts ?: &default_opts,
				     post_fs_event, dev);
		if (!dev->fs) {
			vbd_device_free(dev);
			return NULL;
		}
		if (vbd_fs_coherent(dev->fs))
			dev->offered |= F(VBRIDGE_F_FS_COHERENT);
	}
	return dev;
}

void vbd_device_start_direct(struct vbd_device *dev, vbd_event_sink_fn *sink,
			     void *opaque)
{
	dev->features = dev->offered;
	dev->event_sink = sink;
	dev->event_opaque = opaque;
}

void vbd_device_offer_access_platform(struct vbd_device *dev)
{
	dev->offered |= F(VIRTIO_F_ACCESS_PLATFORM);
}

void vbd_device_set_queue_threads(struct vbd_device *dev, unsigned int n)
{
	dev->queue_threads = n;
}

void vbd_device_set_inject(struct vbd_device *dev, struct vbd_inject *inject)
{
	dev->inject = inject;
}

struct vbd_display *vbd_device_enable_display(struct vbd_device *dev,
					       const struct vbd_display_opts *opts)
{
	dev->display = vbd_display_new(opts, post_display_event, dev);
	if (!dev->display)
		return NULL;
	dev->config.num_scanouts = htole32(opts->num_scanouts);
	dev->config.display_width = htole32(opts->width);
	dev->config.display_height = htole32(opts->height);
	dev->offered |= F(VBRIDGE_F_DISPLAY);
	return dev->display;
}

struct vbd_fs *vbd_device_fs(struct vbd_device *dev)
{
	return dev->fs;
}

void vbd_device_free(struct vbd_device *dev)
{
	if (dev->display)
		vbd_display_free(dev->display);
	if (dev->fs)
		vbd_fs_free(dev->fs);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}
