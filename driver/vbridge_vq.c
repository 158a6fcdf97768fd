// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge request layer: requests on the request virtqueues.
 *
 * Life cycle of a request (struct vbridge_req):
 *
 *  1. vbridge_request_args() allocates the request with one reference,
 *     the waiter's.  The device-readable part (request header and inline
 *     input) is embedded in the request, the device-writable part
 *     (response header and inline output) is a separate zeroed buffer so
 *     that it never shares a cache line with CPU-written data.  Inline
 *     payloads larger than a page (READDIR replies, xattr values) go in
 *     vmalloc() buffers, mapped into the scatterlist page by page: no
 *     request needs a high-order allocation, however fragmented memory
 *     is.  Pages of caller-supplied bio_vecs are referenced.
 *     Nothing the device accesses is ever on the stack.
 *  2. The request is added to the virtqueue of the current CPU under the
 *     queue lock; adding takes a second reference, the device's.  If the
 *     ring is full (or the negotiated max_inflight is reached) the
 *     submitter sleeps until the completion work returns descriptors
 *     (ring-full back-off), then retries.  The kick is prepared under the
 *     lock and the notification is sent outside of it.
 *  3. The virtqueue callback drains the used ring under the lock (taken
 *     with interrupts off everywhere), validates each response (lengths
 *     clamped to what was posted, unique id, errno range) and wakes the
 *     waiter directly: one wake-up per request, not one of a kworker and
 *     then one of the waiter.  It drops the device's reference of a
 *     waited-for request only where the waiter's remains, so that the
 *     waiter frees it; a request nobody waits for any more (INIT given
 *     up) and background requests, whose callbacks may sleep, go on to
 *     the queue's completion work, unless their callback only completes
 *     (VBRIDGE_REQ_END_ATOMIC: readahead, direct I/O), which is called
 *     and freed right there.  The work also drains the used ring when
 *     the watchdog asks.
 *  4. A request is never abandoned once it is on the ring, as in FUSE:
 *     the waiter sleeps interruptibly (or killably) for the response; a
 *     signal only makes it go on waiting killably, and a fatal signal
 *     uninterruptibly, so that pages the device may still write and
 *     replies that created host state (nodes, handles, locks) are never
 *     lost.  Only waits before the request is on the ring (device
 *     suspended, ring full) give up on a signal.  A background request
 *     (VBRIDGE_REQ_BACKGROUND) has no waiter: its callback gets the
 *     result from the completion work.
 *  5. The watchdog bounds every wait: a request the device owns for
 *     longer than request_timeout_ms makes it fail the device
 *     (vbridge_dev_fail()), which resets it and completes every request
 *     with -EIO.  Only INIT, whose caller resets the device itself when
 *     it gives up, waits with a timeout of its own.
 *
 * Teardown (vbridge_queues_stop() and vbridge_queues_flush(), called by
 * vbridge_main.c with the device's state_lock held): stopping a queue
 * sets stop_err under the queue lock and waits for an SRCU grace period,
 * after which no submitter can touch the virtqueue any more (the
 * notification outside the lock is inside the SRCU read section).  After
 * the device has been reset, flushing detaches every buffer still posted
 * and completes the requests with an error.
 */

#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/refcount.h>
#include <linux/scatterlist.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/srcu.h>
#include <linux/string.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/vmalloc.h>

#include "vbridge.h"
#include "vbridge_trace.h"

/* Scatterlist entries kept on the stack; requests with more allocate. */
#define VBRIDGE_STACK_SGS	4

/* Submitters between adding a request and notifying the device. */
DEFINE_STATIC_SRCU(vbridge_submit_srcu);

/**
 * struct vbridge_req - a request in flight
 * @ref: one reference for the waiter, one while the device owns the buffers
 * @done: completed when the device returned the buffers, or they were
 *	detached from a reset device
 * @node: on vbridge_vq.pending while the device owns the request (under
 *	the queue lock), then on vbridge_vq.done or a local list of
 *	completed requests
 * @vbq: queue the request was added to
 * @submitted: jiffies when the request was added to @vbq
 * @end: background request callback, see vbridge_end_t
 * @end_data: passed to @end
 * @unique: request id
 * @opcode: enum vbridge_opcode
 * @init: VBRIDGE_REQ_INIT: may be sent while the device is not running
 * @end_atomic: VBRIDGE_REQ_END_ATOMIC: @end may run in interrupt context
 * @woken: @done was completed already (by the virtqueue callback), only
 *	the device's reference is left to drop
 * @error: 0 or a negative errno, valid once @done is complete
 * @payload: output payload bytes returned, valid once @done is complete
 * @req_size: device-readable bytes posted
 * @resp_size: device-writable bytes posted
 * @resp: device-writable buffer (vbridge_buf_alloc()): response header
 *	and inline output
 * @in_buf: inline input too large for @in_data (vbridge_buf_alloc()), or
 *	NULL
 * @bvec: copies of the caller's input and output bio_vecs; their pages
 *	are referenced until the request is freed
 * @nr_bvec: entries in @bvec
 * @hdr: device-readable: the request header, directly followed by
 * @in_data: the inline input payload
 */
struct vbridge_req {
	refcount_t ref;
	struct completion done;
	struct list_head node;
	struct vbridge_vq *vbq;
	unsigned long submitted;
	vbridge_end_t end;
	void *end_data;
	u64 unique;
	u32 opcode;
	bool init;
	bool end_atomic;
	bool woken;
	int error;
	u32 payload;
	u32 req_size;
	u32 resp_size;
	struct vbridge_resp_hdr *resp;
	void *in_buf;
	struct bio_vec *bvec;
	unsigned int nr_bvec;
	struct vbridge_req_hdr hdr;
	u8 in_data[];
};

/* Default INIT timeout when request_timeout_ms is 0 (no watchdog). */
#define VBRIDGE_INIT_TIMEOUT_MS	30000

/* How a submitter waits. */
enum vbridge_wait_mode {
	VBRIDGE_WAIT_INTR,		/* any signal ends a wait off the ring */
	VBRIDGE_WAIT_KILL,		/* a fatal signal does */
	VBRIDGE_WAIT_UNINTR,		/* background, writeback: nothing does */
};

/* How long and how a submitter may still wait. */
struct vbridge_deadline {
	unsigned long expires;
	unsigned int timeout_ms;	/* 0: no deadline (the watchdog's) */
	enum vbridge_wait_mode mode;
};

static void vbridge_deadline_init(struct vbridge_deadline *dl,
				  const struct vbridge_args *args)
{
	dl->timeout_ms = 0;
	if (args->flags & VBRIDGE_REQ_INIT)
		dl->timeout_ms = READ_ONCE(vbridge_request_timeout_ms) ?:
				 VBRIDGE_INIT_TIMEOUT_MS;
	dl->expires = jiffies + msecs_to_jiffies(dl->timeout_ms);
	if (args->flags & (VBRIDGE_REQ_BACKGROUND | VBRIDGE_REQ_NOSIGNAL))
		dl->mode = VBRIDGE_WAIT_UNINTR;
	else if (args->flags & (VBRIDGE_REQ_KILLABLE | VBRIDGE_REQ_INIT))
		dl->mode = VBRIDGE_WAIT_KILL;
	else
		dl->mode = VBRIDGE_WAIT_INTR;
}

static long vbridge_deadline_left(const struct vbridge_deadline *dl)
{
	long left;

	if (!dl->timeout_ms)
		return MAX_SCHEDULE_TIMEOUT;
	left = (long)(dl->expires - jiffies);
	return max(left, 0L);
}

/*
 * Map a wait_*_timeout() result to 0, -ETIMEDOUT or -ERESTARTSYS.  A signal
 * yields -ERESTARTSYS so that the freezer's fake signal (system suspend)
 * restarts the system call transparently instead of failing it.
 */
static int vbridge_wait_result(long ret)
{
	if (ret > 0)
		return 0;
	return ret ? -ERESTARTSYS : -ETIMEDOUT;
}

u32 vbridge_max_in_payload(struct vbridge_dev *vb)
{
	return READ_ONCE(vb->max_req_size) - sizeof(struct vbridge_req_hdr);
}

u32 vbridge_max_out_payload(struct vbridge_dev *vb)
{
	return READ_ONCE(vb->max_req_size) - sizeof(struct vbridge_resp_hdr);
}

static void vbridge_req_put(struct vbridge_req *req)
{
	unsigned int i;

	if (!refcount_dec_and_test(&req->ref))
		return;
	for (i = 0; i < req->nr_bvec; i++)
		put_page(req->bvec[i].bv_page);
	kfree(req->bvec);
	kvfree(req->resp);
	kvfree(req->in_buf);
	kfree(req);
}

/* Sum up a bio_vec array; 0 on success, -EINVAL for empty segments. */
static int vbridge_bvec_size(const struct bio_vec *bvec, unsigned int nr,
			     u64 *size)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (!bvec[i].bv_page || !bvec[i].bv_len)
			return -EINVAL;
		*size += bvec[i].bv_len;
	}
	return 0;
}

/* Check @args against the negotiated limits; compute the posted sizes. */
static int vbridge_args_check(struct vbridge_dev *vb,
			      const struct vbridge_args *args,
			      u32 *req_size, u32 *resp_size)
{
	u32 max_size = READ_ONCE(vb->max_req_size);
	u64 in = sizeof(struct vbridge_req_hdr) + (u64)args->in_len;
	u64 out = sizeof(struct vbridge_resp_hdr) + (u64)args->out_len;
	u64 segs = 2ULL + args->in_nr_bvec + args->out_nr_bvec;
	bool bg = args->flags & VBRIDGE_REQ_BACKGROUND;
	int err;

	if ((args->in_len && !args->in) ||
	    (args->out_len && !args->out && !bg) || (args->end && !bg) ||
	    ((args->flags & VBRIDGE_REQ_END_ATOMIC) && !args->end))
		return -EINVAL;
	if ((args->in_nr_bvec && !args->in_bvec) ||
	    (args->out_nr_bvec && !args->out_bvec))
		return -EINVAL;
	if (segs > READ_ONCE(vb->max_segs))
		return -EMSGSIZE;
	err = vbridge_bvec_size(args->in_bvec, args->in_nr_bvec, &in);
	if (err)
		return err;
	err = vbridge_bvec_size(args->out_bvec, args->out_nr_bvec, &out);
	if (err)
		return err;
	if (in > max_size || out > max_size)
		return -EMSGSIZE;
	*req_size = in;
	*resp_size = out;
	return 0;
}

/* Inline input that still fits in one page with the request. */
#define VBRIDGE_IN_DATA_MAX	(PAGE_SIZE - sizeof(struct vbridge_req))

/*
 * A zeroed buffer the device accesses: kmalloc() up to a page, so never a
 * high-order allocation; beyond, vmalloc(), mapped page by page.  Free
 * with kvfree().
 */
static void *vbridge_buf_alloc(size_t len)
{
	if (len <= PAGE_SIZE)
		return kzalloc(len, GFP_KERNEL);
	return vzalloc(len);
}

/* Scatterlist entries for @len bytes at @buf from vbridge_buf_alloc(). */
static unsigned int vbridge_buf_segs(const void *buf, size_t len)
{
	if (!is_vmalloc_addr(buf))
		return 1;
	return DIV_ROUND_UP(offset_in_page(buf) + len, PAGE_SIZE);
}

/* Map @len bytes at @buf into @sg; returns the entries used. */
static unsigned int vbridge_sg_set_buf(struct scatterlist *sg, void *buf,
				       size_t len)
{
	unsigned int n = 0;
	size_t chunk;

	if (!is_vmalloc_addr(buf)) {
		sg_set_buf(sg, buf, len);
		return 1;
	}
	for (; len; len -= chunk, buf += chunk) {
		chunk = min_t(size_t, len, PAGE_SIZE - offset_in_page(buf));
		sg_set_page(&sg[n++], vmalloc_to_page(buf), chunk,
			    offset_in_page(buf));
	}
	return n;
}

/*
 * Scatterlist entries for @nr bio_vecs (none empty: vbridge_args_check()),
 * each split at @max bytes.  Not DIV_ROUND_UP(): with @max near 4 GiB
 * its sum overflows 32 bits.
 */
static unsigned int vbridge_bvec_segs(const struct bio_vec *bv,
				      unsigned int nr, u32 max)
{
	unsigned int i, n = 0;

	for (i = 0; i < nr; i++)
		n += (bv[i].bv_len - 1) / max + 1;
	return n;
}

/*
 * Map @nr bio_vecs into @sg in pieces of at most @max bytes (a multiple
 * of PAGE_SIZE), the longest the DMA API maps (vbridge_dev.max_seg_len);
 * returns the entries used.
 */
static unsigned int vbridge_sg_set_bvecs(struct scatterlist *sg,
					 const struct bio_vec *bv,
					 unsigned int nr, u32 max)
{
	unsigned int i, n = 0;
	u32 done, chunk;
	size_t off;

	for (i = 0; i < nr; i++) {
		for (done = 0; done < bv[i].bv_len; done += chunk) {
			chunk = min(bv[i].bv_len - done, max);
			off = bv[i].bv_offset + done;
			sg_set_page(&sg[n++],
				    nth_page(bv[i].bv_page, off >> PAGE_SHIFT),
				    chunk, offset_in_page(off));
		}
	}
	return n;
}

/* Device-readable and device-writable scatterlist entries of @req. */
static void vbridge_req_segs(const struct vbridge_req *req,
			     const struct vbridge_args *args, u32 max_seg_len,
			     unsigned int *nr_out, unsigned int *nr_in)
{
	*nr_out = 1 + vbridge_bvec_segs(req->bvec, args->in_nr_bvec,
					max_seg_len);
	if (req->in_buf)
		*nr_out += vbridge_buf_segs(req->in_buf, args->in_len);
	*nr_in = vbridge_buf_segs(req->resp, sizeof(*req->resp) +
				  args->out_len) +
		 vbridge_bvec_segs(req->bvec + args->in_nr_bvec,
				   args->out_nr_bvec, max_seg_len);
}

static struct vbridge_req *vbridge_req_alloc(const struct vbridge_args *args)
{
	unsigned int nr_bvec = args->in_nr_bvec + args->out_nr_bvec;
	bool inline_in = args->in_len <= VBRIDGE_IN_DATA_MAX;
	struct vbridge_req *req;
	unsigned int i;

	BUILD_BUG_ON(offsetof(struct vbridge_req, in_data) !=
		     offsetof(struct vbridge_req, hdr) +
		     sizeof(struct vbridge_req_hdr));

	req = kzalloc(struct_size(req, in_data, inline_in ? args->in_len : 0),
		      GFP_KERNEL);
	if (!req)
		return NULL;
	if (!inline_in) {
		req->in_buf = vbridge_buf_alloc(args->in_len);
		if (!req->in_buf)
			goto err_free_req;
	}
	/*
	 * Zeroed: a device claiming to have written more than it did must
	 * not make the driver hand out stale kernel memory.
	 */
	req->resp = vbridge_buf_alloc(sizeof(*req->resp) + args->out_len);
	if (!req->resp)
		goto err_free_req;
	if (nr_bvec) {
		req->bvec = kmalloc_array(nr_bvec, sizeof(*req->bvec),
					  GFP_KERNEL);
		if (!req->bvec)
			goto err_free_resp;
		memcpy(req->bvec, args->in_bvec,
		       args->in_nr_bvec * sizeof(*req->bvec));
		memcpy(req->bvec + args->in_nr_bvec, args->out_bvec,
		       args->out_nr_bvec * sizeof(*req->bvec));
		for (i = 0; i < nr_bvec; i++)
			get_page(req->bvec[i].bv_page);
		req->nr_bvec = nr_bvec;
	}
	if (args->in_len)
		memcpy(req->in_buf ?: req->in_data, args->in, args->in_len);
	refcount_set(&req->ref, 1);
	init_completion(&req->done);
	INIT_LIST_HEAD(&req->node);
	req->opcode = args->opcode;
	req->end = args->end;
	req->end_data = args->end_data;
	req->end_atomic = args->flags & VBRIDGE_REQ_END_ATOMIC;
	return req;

err_free_resp:
	kvfree(req->resp);
err_free_req:
	kvfree(req->in_buf);
	kfree(req);
	return NULL;
}

/*
 * Build the two scatterlists of @req: device-readable (header, inline
 * input, input pages) then device-writable (header, inline output, output
 * pages).  @sg holds @nr_out + @nr_in entries (vbridge_req_segs()).
 */
static void vbridge_req_build_sgs(struct vbridge_req *req,
				  const struct vbridge_args *args,
				  u32 max_seg_len, struct scatterlist *sg,
				  unsigned int nr_out, unsigned int nr_in,
				  struct scatterlist *sgs[2])
{
	unsigned int n;

	sg_init_table(sg, nr_out);
	if (req->in_buf) {
		sg_set_buf(&sg[0], &req->hdr, sizeof(req->hdr));
		n = 1 + vbridge_sg_set_buf(&sg[1], req->in_buf, args->in_len);
	} else {
		sg_set_buf(&sg[0], &req->hdr, sizeof(req->hdr) + args->in_len);
		n = 1;
	}
	vbridge_sg_set_bvecs(&sg[n], req->bvec, args->in_nr_bvec,
			     max_seg_len);

	sg_init_table(sg + nr_out, nr_in);
	n = vbridge_sg_set_buf(&sg[nr_out], req->resp,
			       sizeof(*req->resp) + args->out_len);
	vbridge_sg_set_bvecs(&sg[nr_out + n], req->bvec + args->in_nr_bvec,
			     args->out_nr_bvec, max_seg_len);

	sgs[0] = sg;
	sgs[1] = sg + nr_out;
}

static bool vbridge_resumed(struct vbridge_dev *vb)
{
	return READ_ONCE(vb->state) != VBRIDGE_STATE_SUSPENDED;
}

/* Wait for the device to leave the suspended state, in the mode of @dl. */
static int vbridge_wait_resumed(struct vbridge_dev *vb,
				const struct vbridge_deadline *dl)
{
	long left = vbridge_deadline_left(dl);
	long ret;

	switch (dl->mode) {
	case VBRIDGE_WAIT_INTR:
		ret = wait_event_interruptible_timeout(vb->state_wq,
						       vbridge_resumed(vb),
						       left);
		break;
	case VBRIDGE_WAIT_KILL:
		ret = wait_event_killable_timeout(vb->state_wq,
						  vbridge_resumed(vb), left);
		break;
	default:
		ret = wait_event_timeout(vb->state_wq, vbridge_resumed(vb),
					 left);
		break;
	}
	return vbridge_wait_result(ret);
}

/*
 * Wait until the device accepts requests.  Returns 0 or a negative errno:
 * the device state's error, -ETIMEDOUT or -ERESTARTSYS.
 */
static int vbridge_wait_running(struct vbridge_dev *vb,
				const struct vbridge_args *args,
				const struct vbridge_deadline *dl)
{
	enum vbridge_state state;
	int err;

	if (args->flags & VBRIDGE_REQ_INIT)
		return 0;
	for (;;) {
		state = READ_ONCE(vb->state);
		if (state == VBRIDGE_STATE_RUNNING)
			return 0;
		if (state != VBRIDGE_STATE_SUSPENDED)
			return vbridge_state_err(state);
		if (args->flags & VBRIDGE_REQ_NOWAIT)
			return -EAGAIN;
		err = vbridge_wait_resumed(vb, dl);
		if (err)
			return err;
	}
}

static bool vbridge_has_space(struct vbridge_vq *vbq, unsigned int seq)
{
	return READ_ONCE(vbq->space_seq) != seq;
}

/*
 * Ring-full back-off: wait until descriptors were returned (or the queue
 * was stopped) since @seq was sampled.  Returns 0, -ETIMEDOUT or
 * -ERESTARTSYS.
 */
static int vbridge_wait_space(struct vbridge_vq *vbq, unsigned int seq,
			      const struct vbridge_deadline *dl)
{
	long left = vbridge_deadline_left(dl);
	long ret;

	switch (dl->mode) {
	case VBRIDGE_WAIT_INTR:
		ret = wait_event_interruptible_timeout(vbq->space_wq,
						       vbridge_has_space(vbq, seq),
						       left);
		break;
	case VBRIDGE_WAIT_KILL:
		ret = wait_event_killable_timeout(vbq->space_wq,
						  vbridge_has_space(vbq, seq),
						  left);
		break;
	default:
		ret = wait_event_timeout(vbq->space_wq,
					 vbridge_has_space(vbq, seq), left);
		break;
	}
	return vbridge_wait_result(ret);
}

/* Period of the watchdog for a request timeout of @timeout_ms. */
static unsigned long vbridge_watchdog_period(unsigned int timeout_ms)
{
	return msecs_to_jiffies(clamp(timeout_ms / 4, 100U, 5000U));
}

/* Make sure the watchdog looks at the request just submitted. */
static void vbridge_watchdog_arm(struct vbridge_dev *vb)
{
	unsigned int timeout_ms = READ_ONCE(vbridge_request_timeout_ms);

	if (timeout_ms && !delayed_work_pending(&vb->watchdog))
		queue_delayed_work(system_wq, &vb->watchdog,
				   vbridge_watchdog_period(timeout_ms));
}

/*
 * Add @req to @vbq and notify the device.  Returns 0; -ENOSPC with
 * *@space_seq set when the ring is full; -EAGAIN when the queue is stopped
 * for suspend; or another negative errno.
 */
static int vbridge_queue_add(struct vbridge_vq *vbq, struct vbridge_req *req,
			     struct scatterlist *sgs[2],
			     unsigned int *space_seq)
{
	struct vbridge_dev *vb = vbq->vb;
	struct virtqueue *vq = NULL;
	bool notify = false;
	bool broken = false;
	int idx, err;

	idx = srcu_read_lock(&vbridge_submit_srcu);
	spin_lock_irq(&vbq->lock);
	err = vbq->stop_err;
	/*
	 * The queues run again before a recovered device does: until then
	 * only the requests that bring it up may pass, never one built for
	 * the backend that is gone (vbridge_fs_recover()).
	 */
	if (!err && !req->init && READ_ONCE(vb->state) != VBRIDGE_STATE_RUNNING)
		err = vbridge_state_err(READ_ONCE(vb->state));
	if (err)
		goto unlock;
	vq = vbq->vq;

	if (vbq->inflight >= READ_ONCE(vb->max_inflight)) {
		err = -ENOSPC;
	} else {
		req->vbq = vbq;
		refcount_inc(&req->ref);	/* the device's reference */
		err = virtqueue_add_sgs(vq, sgs, 1, 1, req, GFP_ATOMIC);
		if (err)
			refcount_dec(&req->ref);
	}

	if (!err) {
		req->submitted = jiffies;
		list_add_tail(&req->node, &vbq->pending);
		WRITE_ONCE(vbq->inflight, vbq->inflight + 1);
		vbq->requests++;
		vbq->bytes_out += req->req_size;
		trace_vbridge_request_submit(vb->name, vbq->index, req->unique,
					     req->opcode, req->req_size,
					     req->resp_size);
		notify = virtqueue_kick_prepare(vq);
	} else if (err == -ENOSPC && vbq->inflight) {
		vbq->ring_full++;
		*space_seq = vbq->space_seq;
	} else if (err == -ENOSPC) {
		/* Nothing in flight to wait for: out of memory. */
		err = -ENOMEM;
	} else {
		broken = virtqueue_is_broken(vq);
		if (broken)
			err = -EIO;
	}
unlock:
	spin_unlock_irq(&vbq->lock);

	if (!err)
		vbridge_watchdog_arm(vb);
	if (notify && !virtqueue_notify(vq))
		broken = true;
	/* Inside the read section, so that teardown can cancel it. */
	if (broken)
		vbridge_dev_fail(vb);
	srcu_read_unlock(&vbridge_submit_srcu, idx);
	return err;
}

/*
 * Validate the response of @req, returned by the device with @len bytes
 * written.  Sets req->error and req->payload.  Called with the queue lock
 * held.
 */
static void vbridge_req_end(struct vbridge_vq *vbq, struct vbridge_req *req,
			    unsigned int len)
{
	struct device *dev = &vbq->vb->vdev->dev;
	const struct vbridge_resp_hdr *resp = req->resp;
	u32 resp_len;
	s32 error;

	if (len > req->resp_size) {
		dev_warn_ratelimited(dev, "%s: used length %u of request %llu exceeds the %u bytes posted\n",
				     vbq->name, len, req->unique,
				     req->resp_size);
		len = req->resp_size;
	}
	vbq->bytes_in += len;

	if (len < sizeof(*resp)) {
		dev_warn_ratelimited(dev, "%s: short response to request %llu (%u bytes)\n",
				     vbq->name, req->unique, len);
		goto bad;
	}
	if (le64_to_cpu(resp->unique) != req->unique) {
		dev_warn_ratelimited(dev, "%s: response to request %llu carries id %llu\n",
				     vbq->name, req->unique,
				     le64_to_cpu(resp->unique));
		goto bad;
	}
	resp_len = le32_to_cpu(resp->len);
	if (resp_len < sizeof(*resp)) {
		dev_warn_ratelimited(dev, "%s: response to request %llu has bad length %u\n",
				     vbq->name, req->unique, resp_len);
		goto bad;
	}
	error = (s32)le32_to_cpu(resp->error);
	if (error > 0 || error < -MAX_ERRNO) {
		dev_warn_ratelimited(dev, "%s: response to request %llu has bad error %d\n",
				     vbq->name, req->unique, error);
		goto bad;
	}

	req->error = error;
	if (!error)
		req->payload = min(resp_len, len) - sizeof(*resp);
	else
		vbq->errors++;
	return;

bad:
	req->error = -EIO;
	vbq->errors++;
	vbq->bad_responses++;
}

/* Report @req's result: its callback, its waiter. */
static void vbridge_req_wake(struct vbridge_vq *vbq, struct vbridge_req *req)
{
	trace_vbridge_request_complete(vbq->vb->name, vbq->index, req->unique,
				       req->error, req->payload);
	if (req->end)
		req->end(vbq->vb, req->end_data, req->error, req->resp + 1,
			 req->error ? 0 : req->payload);
	req->woken = true;
	complete(&req->done);
}

static void vbridge_req_complete(struct vbridge_vq *vbq,
				 struct vbridge_req *req)
{
	vbridge_req_wake(vbq, req);
	vbridge_req_put(req);
}

/* The rest of completing @req in process context (vbridge_vq.done). */
static void vbridge_req_finish(struct vbridge_vq *vbq, struct vbridge_req *req)
{
	if (req->woken)
		vbridge_req_put(req);
	else
		vbridge_req_complete(vbq, req);
}

/*
 * Move the requests the device returned from the used ring to @done;
 * returns how many.  Called with the queue lock held, @vbq->vq set.
 */
static unsigned int vbridge_queue_collect(struct vbridge_vq *vbq,
					  struct list_head *done)
{
	struct vbridge_req *req;
	unsigned int len, n = 0;

	do {
		virtqueue_disable_cb(vbq->vq);
		while ((req = virtqueue_get_buf(vbq->vq, &len))) {
			vbridge_req_end(vbq, req, len);
			WRITE_ONCE(vbq->inflight, vbq->inflight - 1);
			list_move_tail(&req->node, done);
			n++;
		}
	} while (!virtqueue_enable_cb(vbq->vq));
	if (n)
		WRITE_ONCE(vbq->space_seq, vbq->space_seq + 1);
	return n;
}

/*
 * Take what the device returned off the ring into @done: wake the
 * submitters waiting for space, and fail a device that broke the ring.
 */
static void vbridge_queue_reap(struct vbridge_vq *vbq, struct list_head *done)
{
	unsigned long flags;
	unsigned int n = 0;
	bool broken = false;

	spin_lock_irqsave(&vbq->lock, flags);
	if (vbq->vq) {
		n = vbridge_queue_collect(vbq, done);
		broken = virtqueue_is_broken(vbq->vq);
	}
	spin_unlock_irqrestore(&vbq->lock, flags);

	if (n)
		wake_up_all(&vbq->space_wq);
	if (broken)
		vbridge_dev_fail(vbq->vb);
}

static void vbridge_queue_done_work(struct work_struct *work)
{
	struct vbridge_vq *vbq = container_of(work, struct vbridge_vq,
					      done_work);
	struct vbridge_req *req, *next;
	LIST_HEAD(done);

	vbridge_queue_reap(vbq, &done);
	spin_lock_irq(&vbq->lock);
	list_splice_tail_init(&vbq->done, &done);
	spin_unlock_irq(&vbq->lock);

	list_for_each_entry_safe(req, next, &done, node)
		vbridge_req_finish(vbq, req);
}

/*
 * Virtqueue callback, in interrupt context: wake the waiters of the
 * requests the device returned, and leave the rest to the work.
 */
void vbridge_queue_done(struct virtqueue *vq)
{
	struct vbridge_dev *vb = vq->vdev->priv;
	struct vbridge_vq *vbq = &vb->vqs[vq->index - VBRIDGE_VQ_REQUEST];
	struct vbridge_req *req, *next;
	unsigned long flags;
	LIST_HEAD(later);
	LIST_HEAD(done);

	vbridge_queue_reap(vbq, &done);
	list_for_each_entry_safe(req, next, &done, node) {
		if (req->end && !req->end_atomic) {
			list_move_tail(&req->node, &later);
			continue;
		}
		list_del_init(&req->node);
		vbridge_req_wake(vbq, req);
		/*
		 * Nobody waits for a background request: its last reference
		 * may go here, as a block driver's completion frees its bio
		 * (put_page(), kfree(); vfree() defers in interrupt context),
		 * with no work to run for it.
		 */
		if (req->end) {
			vbridge_req_put(req);
			continue;
		}
		/*
		 * The device's reference outlived the complete(): the
		 * waiter cannot free the request under us.  Dropped here
		 * only if the waiter's is still held; the last one is the
		 * work's to drop, in process context.
		 */
		if (!refcount_dec_not_one(&req->ref))
			list_add_tail(&req->node, &later);
	}
	if (list_empty(&later))
		return;
	spin_lock_irqsave(&vbq->lock, flags);
	list_splice_tail(&later, &vbq->done);
	spin_unlock_irqrestore(&vbq->lock, flags);
	queue_work(vb->wq, &vbq->done_work);
}

/*
 * Wait for @req, which the device owns, to complete.  Returns 0, or for
 * INIT only -ETIMEDOUT or -EINTR: its caller resets the device, which
 * hands the buffers back.
 */
static int vbridge_req_wait(struct vbridge_vq *vbq, struct vbridge_req *req,
			    const struct vbridge_deadline *dl)
{
	long left = vbridge_deadline_left(dl);
	long ret;

	if (dl->timeout_ms) {
		ret = wait_for_completion_killable_timeout(&req->done, left);
		/* Completed just as the wait gave up: take the result. */
		if (ret > 0 || try_wait_for_completion(&req->done))
			return 0;
		return ret ? -EINTR : -ETIMEDOUT;
	}
	if (dl->mode == VBRIDGE_WAIT_INTR &&
	    !wait_for_completion_interruptible(&req->done))
		return 0;
	if (dl->mode == VBRIDGE_WAIT_UNINTR) {
		wait_for_completion(&req->done);
		return 0;
	}
	/*
	 * A signal does not end the request: the device may be writing into
	 * its pages, or creating what the reply tells about.  Wait it out;
	 * the watchdog bounds the wait.
	 */
	if (dl->mode == VBRIDGE_WAIT_INTR)
		atomic64_inc(&vbq->interrupted);
	if (!wait_for_completion_killable(&req->done))
		return 0;
	if (dl->mode == VBRIDGE_WAIT_KILL)
		atomic64_inc(&vbq->interrupted);
	wait_for_completion(&req->done);
	return 0;
}

/**
 * vbridge_request_args() - send a request and wait for its response
 * @vb: the device
 * @args: the request; @args->out_actual is set on success
 *
 * Sleeps.  Must not be called from atomic context.  Callers on memory
 * reclaim paths set the scoped allocation constraints themselves
 * (memalloc_nofs_save() and friends).
 *
 * With VBRIDGE_REQ_BACKGROUND, returns once the request is on the ring;
 * @args->end then gets the result.
 *
 * Return: 0; the device's (negative) errno; -EIO if the device violated
 * the protocol or failed (the watchdog fails a device that leaves a
 * request unanswered for request_timeout_ms); -ENODEV once the device is
 * gone; -EMSGSIZE if the request exceeds the negotiated limits;
 * -ERESTARTSYS if a signal arrived before the request was on the ring,
 * i.e. the device never saw it; -EAGAIN with VBRIDGE_REQ_NOWAIT if it
 * would have had to wait to go on the ring.  A request on the ring is
 * always waited for, whatever signal arrives.
 */
int vbridge_request_args(struct vbridge_dev *vb, struct vbridge_args *args)
{
	struct scatterlist stack_sg[VBRIDGE_STACK_SGS];
	struct scatterlist *sg = stack_sg;
	struct scatterlist *sgs[2];
	struct vbridge_deadline dl;
	struct vbridge_req *req;
	struct vbridge_vq *vbq;
	u32 req_size, resp_size, max_seg_len;
	unsigned int nr_out, nr_in;
	unsigned int seq = 0;
	int err;

	args->out_actual = 0;
	err = vbridge_args_check(vb, args, &req_size, &resp_size);
	if (err)
		return err;

	vbridge_deadline_init(&dl, args);
	err = vbridge_wait_running(vb, args, &dl);
	if (err)
		return err;

	req = vbridge_req_alloc(args);
	if (!req)
		return -ENOMEM;
	req->req_size = req_size;
	req->resp_size = resp_size;
	req->unique = atomic64_inc_return(&vb->next_unique);
	req->init = args->flags & VBRIDGE_REQ_INIT;
	req->hdr.opcode = cpu_to_le32(args->opcode);
	req->hdr.len = cpu_to_le32(req_size);
	req->hdr.unique = cpu_to_le64(req->unique);

	max_seg_len = READ_ONCE(vb->max_seg_len);
	vbridge_req_segs(req, args, max_seg_len, &nr_out, &nr_in);
	if (nr_out + nr_in > READ_ONCE(vb->max_segs)) {
		err = -EMSGSIZE;
		goto out_put;
	}
	if (nr_out + nr_in > ARRAY_SIZE(stack_sg)) {
		sg = kmalloc_array(nr_out + nr_in, sizeof(*sg), GFP_KERNEL);
		if (!sg) {
			err = -ENOMEM;
			goto out_put;
		}
	}
	vbridge_req_build_sgs(req, args, max_seg_len, sg, nr_out, nr_in, sgs);

	vbq = &vb->vqs[raw_smp_processor_id() % vb->nr_queues];
	for (;;) {
		err = vbridge_queue_add(vbq, req, sgs, &seq);
		if (err == -ENOSPC) {
			/* Ring full: back off until descriptors come back. */
			err = -EAGAIN;
			if (!(args->flags & VBRIDGE_REQ_NOWAIT))
				err = vbridge_wait_space(vbq, seq, &dl);
			if (!err)
				continue;
		} else if (err == -EAGAIN) {
			/* Stopped for suspend. */
			err = -EIO;
			if (!(args->flags & VBRIDGE_REQ_INIT))
				err = vbridge_wait_running(vb, args, &dl);
			if (!err)
				continue;
		}
		break;
	}
	if (sg != stack_sg)
		kfree(sg);
	if (err)
		goto out_put;
	vbridge_count_op(vb, args->opcode);

	if (args->flags & VBRIDGE_REQ_BACKGROUND)
		goto out_put;

	err = vbridge_req_wait(vbq, req, &dl);
	if (err) {
		/* INIT only: the caller resets the device. */
		dev_warn(&vb->vdev->dev, "%s: request %llu (opcode %#x) not answered: %d\n",
			 vbq->name, req->unique, args->opcode, err);
		goto out_put;
	}

	err = req->error;
	if (!err) {
		if (args->out_len)
			memcpy(args->out, req->resp + 1,
			       min(req->payload, args->out_len));
		args->out_actual = req->payload;
	}
out_put:
	vbridge_req_put(req);
	return err;
}

/**
 * vbridge_request() - send a request with inline payloads only
 * @vb: the device
 * @opcode: enum vbridge_opcode
 * @in: input payload, copied (may be on the stack)
 * @in_len: bytes at @in
 * @out: output buffer (may be on the stack)
 * @out_len: bytes at @out
 * @out_actual: if not NULL, set to the output payload bytes returned
 *
 * Return: see vbridge_request_args().
 */
int vbridge_request(struct vbridge_dev *vb, u32 opcode, const void *in,
		    size_t in_len, void *out, size_t out_len,
		    size_t *out_actual)
{
	struct vbridge_args args = {
		.opcode = opcode,
		.in = in,
		.in_len = in_len,
		.out = out,
		.out_len = out_len,
	};
	int err;

	if (in_len > U32_MAX || out_len > U32_MAX)
		return -EMSGSIZE;
	err = vbridge_request_args(vb, &args);
	if (out_actual)
		*out_actual = args.out_actual;
	return err;
}

void vbridge_queue_init(struct vbridge_dev *vb, struct vbridge_vq *vbq,
			unsigned int index)
{
	vbq->vb = vb;
	spin_lock_init(&vbq->lock);
	vbq->stop_err = -ENODEV;
	vbq->index = index;
	init_waitqueue_head(&vbq->space_wq);
	INIT_WORK(&vbq->done_work, vbridge_queue_done_work);
	INIT_LIST_HEAD(&vbq->done);
	INIT_LIST_HEAD(&vbq->pending);
	atomic64_set(&vbq->interrupted, 0);
	snprintf(vbq->name, sizeof(vbq->name), "request.%u", index);
}

/* Attach the request virtqueues (@vqs, one per queue) and open them. */
void vbridge_queues_start(struct vbridge_dev *vb, struct virtqueue **vqs)
{
	struct vbridge_vq *vbq;
	unsigned int i;

	for (i = 0; i < vb->nr_queues; i++) {
		vbq = &vb->vqs[i];
		spin_lock_irq(&vbq->lock);
		vbq->vq = vqs[i];
		vbq->stop_err = 0;
		spin_unlock_irq(&vbq->lock);
	}
}

/*
 * Refuse new requests with @err (-EAGAIN: wait for the device to come
 * back) and wait until no submitter touches the virtqueues any more.
 */
void vbridge_queues_stop(struct vbridge_dev *vb, int err)
{
	struct vbridge_vq *vbq;
	unsigned int i;

	for (i = 0; i < vb->nr_queues; i++) {
		vbq = &vb->vqs[i];
		spin_lock_irq(&vbq->lock);
		vbq->stop_err = err;
		WRITE_ONCE(vbq->space_seq, vbq->space_seq + 1);
		spin_unlock_irq(&vbq->lock);
		wake_up_all(&vbq->space_wq);
	}
	synchronize_srcu(&vbridge_submit_srcu);
}

/* Give requests in flight up to @timeout_ms to complete. */
void vbridge_queues_drain(struct vbridge_dev *vb, unsigned int timeout_ms)
{
	unsigned long expires = jiffies + msecs_to_jiffies(timeout_ms);
	struct vbridge_vq *vbq;
	unsigned int i;
	long left;

	for (i = 0; i < vb->nr_queues; i++) {
		vbq = &vb->vqs[i];
		left = max((long)(expires - jiffies), 0L);
		wait_event_timeout(vbq->space_wq, !READ_ONCE(vbq->inflight),
				   left);
	}
}

/*
 * Complete every request the device still owns with @err and detach the
 * virtqueues.  The device must have been reset and the queues stopped.
 */
void vbridge_queues_flush(struct vbridge_dev *vb, int err)
{
	struct vbridge_req *req, *next;
	struct vbridge_vq *vbq;
	unsigned int i;
	LIST_HEAD(done);

	for (i = 0; i < vb->nr_queues; i++) {
		vbq = &vb->vqs[i];
		cancel_work_sync(&vbq->done_work);

		spin_lock_irq(&vbq->lock);
		/* Returned before the reset, not yet finished by the work. */
		list_splice_tail_init(&vbq->done, &done);
		if (vbq->vq) {
			while ((req = virtqueue_detach_unused_buf(vbq->vq))) {
				req->error = err;
				req->payload = 0;
				WRITE_ONCE(vbq->inflight, vbq->inflight - 1);
				list_move_tail(&req->node, &done);
			}
		}
		vbq->vq = NULL;
		WRITE_ONCE(vbq->space_seq, vbq->space_seq + 1);
		spin_unlock_irq(&vbq->lock);
		wake_up_all(&vbq->space_wq);

		list_for_each_entry_safe(req, next, &done, node)
			vbridge_req_finish(vbq, req);
		INIT_LIST_HEAD(&done);
	}
}

/*
 * Whether the oldest request @vbq's device owns is older than @timeout
 * (then its id and opcode are stored); sets *@busy if there is any.
 */
static bool vbridge_queue_expired(struct vbridge_vq *vbq,
				  unsigned long timeout, bool *busy,
				  u64 *unique, u32 *opcode)
{
	struct vbridge_req *req;
	bool expired = false;

	spin_lock_irq(&vbq->lock);
	req = list_first_entry_or_null(&vbq->pending, struct vbridge_req,
				       node);
	if (req && !vbq->stop_err) {
		*busy = true;
		expired = time_after(jiffies, req->submitted + timeout);
		if (expired) {
			*unique = req->unique;
			*opcode = req->opcode;
		}
	}
	spin_unlock_irq(&vbq->lock);
	return expired;
}

/*
 * The watchdog: a request the device owns for longer than
 * request_timeout_ms means the device (or its backend) stopped
 * answering.  Fail it, so that every waiter gets -EIO instead of hanging,
 * and later requests fail at once.
 */
void vbridge_queues_watchdog(struct work_struct *work)
{
	struct vbridge_dev *vb = container_of(to_delayed_work(work),
					      struct vbridge_dev, watchdog);
	unsigned int timeout_ms = READ_ONCE(vbridge_request_timeout_ms);
	unsigned long timeout = msecs_to_jiffies(timeout_ms);
	struct vbridge_vq *vbq;
	bool busy = false;
	unsigned int i;
	u64 unique = 0;
	u32 opcode = 0;

	if (!timeout_ms || READ_ONCE(vb->state) != VBRIDGE_STATE_RUNNING)
		return;
	for (i = 0; i < vb->nr_queues; i++) {
		vbq = &vb->vqs[i];
		if (!vbridge_queue_expired(vbq, timeout, &busy, &unique,
					   &opcode))
			continue;
		/*
		 * The answer may be in the used ring already, with the
		 * completion work behind: drain it before judging.
		 */
		queue_work(vb->wq, &vbq->done_work);
		flush_work(&vbq->done_work);
		if (vbridge_queue_expired(vbq, timeout, &busy, &unique,
					  &opcode))
			break;
		unique = 0;
	}
	if (unique) {
		atomic64_inc(&vb->timeouts);
		dev_err(&vb->vdev->dev, "%s: request %llu (opcode %#x) unanswered for over %u ms: the device is not responding\n",
			vb->name, unique, opcode, timeout_ms);
		vbridge_dev_fail(vb);
	} else if (busy) {
		queue_delayed_work(system_wq, &vb->watchdog,
				   vbridge_watchdog_period(timeout_ms));
	}
}
