// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge event queue: host -> guest notifications on virtqueue 0.
 *
 * The driver keeps the queue filled with VBRIDGE_EVENT_BUF_SIZE buffers.
 * The virtqueue callback queues a work item that takes the used buffers
 * one at a time, validates and dispatches the event (outside of the queue
 * lock, so that handlers may sleep) and posts the buffer again.
 */

#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

#include "vbridge.h"

/* Most event buffers posted, whatever the queue size. */
#define VBRIDGE_EVQ_MAX_BUFS	64
/* Events handled per run of the work item before it yields. */
#define VBRIDGE_EVQ_BUDGET	64

/* Post @buf; returns false if it could not be posted (and was freed). */
static bool vbridge_evq_post(struct vbridge_evq *evq, void *buf)
{
	struct scatterlist sg;
	int err = -ENODEV;

	sg_init_one(&sg, buf, VBRIDGE_EVENT_BUF_SIZE);
	spin_lock(&evq->lock);
	if (evq->vq)
		err = virtqueue_add_inbuf(evq->vq, &sg, 1, buf, GFP_ATOMIC);
	spin_unlock(&evq->lock);
	if (err) {
		kfree(buf);
		return false;
	}
	return true;
}

/*
 * Attach the event virtqueue (NULL without VBRIDGE_F_EVENT_QUEUE) and fill
 * it.  Called before the device is ready, so it does not notify the
 * device: vbridge_evq_kick() does that afterwards.
 */
int vbridge_evq_fill(struct vbridge_dev *vb, struct virtqueue *vq)
{
	struct vbridge_evq *evq = &vb->evq;
	unsigned int i, n;
	void *buf;

	spin_lock(&evq->lock);
	evq->vq = vq;
	spin_unlock(&evq->lock);
	evq->nr_bufs = 0;
	if (!vq)
		return 0;

	n = min(virtqueue_get_vring_size(vq), VBRIDGE_EVQ_MAX_BUFS);
	for (i = 0; i < n; i++) {
		buf = kzalloc(VBRIDGE_EVENT_BUF_SIZE, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
		if (!vbridge_evq_post(evq, buf))
			return -ENOMEM;
		evq->nr_bufs++;
	}
	return 0;
}

void vbridge_evq_kick(struct vbridge_dev *vb)
{
	struct vbridge_evq *evq = &vb->evq;
	struct virtqueue *vq;
	bool notify = false;

	spin_lock(&evq->lock);
	vq = evq->vq;
	if (vq)
		notify = virtqueue_kick_prepare(vq);
	spin_unlock(&evq->lock);
	/* Only called with the device's state_lock held, like teardown. */
	if (notify)
		virtqueue_notify(vq);
}

/*
 * Free the posted buffers and detach the virtqueue.  The device must have
 * been reset.
 */
void vbridge_evq_flush(struct vbridge_dev *vb)
{
	struct vbridge_evq *evq = &vb->evq;
	void *buf;

	cancel_work_sync(&evq->work);
	spin_lock(&evq->lock);
	if (evq->vq) {
		while ((buf = virtqueue_detach_unused_buf(evq->vq)))
			kfree(buf);
	}
	evq->vq = NULL;
	spin_unlock(&evq->lock);
}

static void vbridge_event_test_fire(struct vbridge_dev *vb, u64 cookie)
{
	struct vbridge_evt_waiter *w;

	spin_lock(&vb->evt_lock);
	vb->last_test_cookie = cookie;
	list_for_each_entry(w, &vb->evt_waiters, node) {
		if (w->cookie == cookie)
			WRITE_ONCE(w->fired, true);
	}
	spin_unlock(&vb->evt_lock);
	wake_up_all(&vb->evt_wq);
}

/* Validate and dispatch one event; @len is the used length. */
static void vbridge_event_dispatch(struct vbridge_dev *vb, const void *buf,
				   unsigned int len)
{
	struct device *dev = &vb->vdev->dev;
	const struct vbridge_event_hdr *hdr = buf;
	const struct vbridge_event_test *test;
	u32 type, hlen;

	if (len > VBRIDGE_EVENT_BUF_SIZE) {
		dev_warn_ratelimited(dev, "event: used length %u exceeds the buffer\n",
				     len);
		len = VBRIDGE_EVENT_BUF_SIZE;
	}
	if (len < sizeof(*hdr)) {
		dev_warn_ratelimited(dev, "event: short event (%u bytes)\n",
				     len);
		goto bad;
	}
	type = le32_to_cpu(hdr->type);
	hlen = le32_to_cpu(hdr->len);
	if (hlen < sizeof(*hdr) || hlen > len) {
		dev_warn_ratelimited(dev, "event: type %#x has bad length %u (%u written)\n",
				     type, hlen, len);
		goto bad;
	}

	switch (type) {
	case VBRIDGE_EVT_TEST:
		if (hlen < sizeof(*test)) {
			dev_warn_ratelimited(dev, "event: short test event (%u bytes)\n",
					     hlen);
			goto bad;
		}
		test = buf;
		vbridge_event_test_fire(vb, le64_to_cpu(test->cookie));
		break;
	case VBRIDGE_EVT_FS_INVAL_INODE:
	case VBRIDGE_EVT_FS_INVAL_ENTRY:
	case VBRIDGE_EVT_FS_INVAL_ALL:
	case VBRIDGE_EVT_FS_INVAL_EXPORT:
		if (!vbridge_has_feature(vb, VBRIDGE_F_FS) ||
		    !vbridge_fs_event(vb, buf, hlen)) {
			dev_warn_ratelimited(dev, "event: malformed filesystem event %#x (%u bytes)\n",
					     type, hlen);
			goto bad;
		}
		break;
	case VBRIDGE_EVT_DISPLAY_CHANGED:
		if (!vbridge_has_feature(vb, VBRIDGE_F_DISPLAY) ||
		    !vbridge_aux_display_event(vb, buf, hlen)) {
			dev_warn_ratelimited(dev, "event: malformed display event (%u bytes)\n",
					     hlen);
			goto bad;
		}
		break;
	default:
		dev_dbg_ratelimited(dev, "event: ignoring unknown type %#x\n",
				    type);
		atomic64_inc(&vb->evq.unknown_events);
		return;
	}
	atomic64_inc(&vb->evq.events);
	return;

bad:
	atomic64_inc(&vb->evq.bad_events);
}

static void vbridge_evq_work(struct work_struct *work)
{
	struct vbridge_evq *evq = container_of(work, struct vbridge_evq, work);
	struct vbridge_dev *vb = container_of(evq, struct vbridge_dev, evq);
	unsigned int len, budget = VBRIDGE_EVQ_BUDGET;
	bool notify = false, again = false;
	void *buf;

	spin_lock(&evq->lock);
	if (!evq->vq) {
		spin_unlock(&evq->lock);
		return;
	}
	virtqueue_disable_cb(evq->vq);
	for (;;) {
		/* A device flooding events must not monopolise the worker. */
		if (!budget--) {
			again = true;
			break;
		}
		buf = virtqueue_get_buf(evq->vq, &len);
		if (!buf) {
			if (virtqueue_enable_cb(evq->vq))
				break;
			virtqueue_disable_cb(evq->vq);
			continue;
		}
		spin_unlock(&evq->lock);

		/* The buffer is ours until it is posted again. */
		vbridge_event_dispatch(vb, buf, len);
		vbridge_evq_post(evq, buf);

		spin_lock(&evq->lock);
		if (!evq->vq) {
			spin_unlock(&evq->lock);
			return;
		}
		notify = true;
	}
	if (notify)
		notify = virtqueue_kick_prepare(evq->vq);
	if (virtqueue_is_broken(evq->vq))
		vbridge_dev_fail(vb);
	spin_unlock(&evq->lock);

	/*
	 * The virtqueue cannot go away here: it is only deleted after
	 * vbridge_evq_flush() has cancelled this work.
	 */
	if (notify)
		virtqueue_notify(evq->vq);
	/* Callbacks stay disabled until a run finds the ring empty. */
	if (again)
		queue_work(vb->wq, &evq->work);
}

void vbridge_evq_init(struct vbridge_dev *vb)
{
	struct vbridge_evq *evq = &vb->evq;

	spin_lock_init(&evq->lock);
	INIT_WORK(&evq->work, vbridge_evq_work);
	atomic64_set(&evq->events, 0);
	atomic64_set(&evq->bad_events, 0);
	atomic64_set(&evq->unknown_events, 0);
}

/* Virtqueue callback, in interrupt context. */
void vbridge_evq_done(struct virtqueue *vq)
{
	struct vbridge_dev *vb = vq->vdev->priv;

	queue_work(vb->wq, &vb->evq.work);
}

static bool vbridge_evt_wait_done(struct vbridge_dev *vb,
				  const struct vbridge_evt_waiter *w)
{
	enum vbridge_state state = READ_ONCE(vb->state);

	return READ_ONCE(w->fired) || state == VBRIDGE_STATE_BROKEN ||
	       state == VBRIDGE_STATE_REMOVED;
}

/**
 * vbridge_event_test() - VBRIDGE_OP_EVENT_TEST round trip
 * @vb: the device
 * @cookie: sent to the device, expected back in a VBRIDGE_EVT_TEST event
 * @timeout_ms: how long to wait for the event; 0 uses the
 *	request_timeout_ms module parameter (which may mean forever)
 *
 * Return: 0 once the event arrived; -EOPNOTSUPP without VBRIDGE_F_DEBUG
 * and VBRIDGE_F_EVENT_QUEUE; -ETIMEDOUT; -ERESTARTSYS; or the request's
 * error.
 */
int vbridge_event_test(struct vbridge_dev *vb, u64 cookie,
		       unsigned int timeout_ms)
{
	struct vbridge_event_test_in in = { .cookie = cpu_to_le64(cookie) };
	struct vbridge_evt_waiter w = { .cookie = cookie };
	long left, ret;
	int err;

	if (!vbridge_has_feature(vb, VBRIDGE_F_DEBUG) ||
	    !vbridge_has_feature(vb, VBRIDGE_F_EVENT_QUEUE))
		return -EOPNOTSUPP;
	if (!timeout_ms)
		timeout_ms = READ_ONCE(vbridge_request_timeout_ms);

	/* Register first: the event may overtake the response. */
	spin_lock(&vb->evt_lock);
	list_add_tail(&w.node, &vb->evt_waiters);
	spin_unlock(&vb->evt_lock);

	err = vbridge_request(vb, VBRIDGE_OP_EVENT_TEST, &in, sizeof(in),
			      NULL, 0, NULL);
	if (!err) {
		left = timeout_ms ? msecs_to_jiffies(timeout_ms) :
				    MAX_SCHEDULE_TIMEOUT;
		ret = wait_event_interruptible_timeout(vb->evt_wq,
						       vbridge_evt_wait_done(vb, &w),
						       left);
		if (READ_ONCE(w.fired))
			err = 0;
		else if (ret < 0)
			err = -ERESTARTSYS;
		else if (ret == 0)
			err = -ETIMEDOUT;
		else
			err = vbridge_state_err(READ_ONCE(vb->state));
	}

	spin_lock(&vb->evt_lock);
	list_del(&w.node);
	spin_unlock(&vb->evt_lock);
	return err;
}
