// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge debugfs: /sys/kernel/debug/vbridge/<virtio device>/
 *
 *   info     device state, negotiated features, version and limits,
 *            configuration
 *   queues   per request queue counters
 *   events   event queue counters
 *   opcodes  requests posted per opcode ("opcode count", nonzero only)
 */

#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/virtio.h>

#include "vbridge.h"

static struct dentry *vbridge_debugfs_root;

static const char *const vbridge_state_names[] = {
	[VBRIDGE_STATE_SETUP]		= "setup",
	[VBRIDGE_STATE_RUNNING]		= "running",
	[VBRIDGE_STATE_SUSPENDED]	= "suspended",
	[VBRIDGE_STATE_BROKEN]		= "broken",
	[VBRIDGE_STATE_REMOVED]		= "removed",
};

static int vbridge_info_show(struct seq_file *m, void *unused)
{
	struct vbridge_dev *vb = m->private;
	enum vbridge_state state;
	unsigned int i;

	mutex_lock(&vb->state_lock);
	state = vb->state;
	seq_printf(m, "name: %s\n", vb->name);
	seq_printf(m, "state: %s\n", state < ARRAY_SIZE(vbridge_state_names) ?
		   vbridge_state_names[state] : "?");
	seq_printf(m, "features: %#llx%s%s%s%s%s\n", vb->features,
		   vbridge_has_feature(vb, VBRIDGE_F_FS) ? " fs" : "",
		   vbridge_has_feature(vb, VBRIDGE_F_DISPLAY) ? " display" : "",
		   vbridge_has_feature(vb, VBRIDGE_F_MQ) ? " mq" : "",
		   vbridge_has_feature(vb, VBRIDGE_F_EVENT_QUEUE) ?
		   " event_queue" : "",
		   vbridge_has_feature(vb, VBRIDGE_F_DEBUG) ? " debug" : "");
	seq_printf(m, "version: %u.%u\n", vb->major, vb->minor);
	seq_printf(m, "max_req_size: %u\n", vb->max_req_size);
	seq_printf(m, "max_inflight: %u\n", vb->max_inflight);
	seq_printf(m, "request_timeouts: %lld\n",
		   (long long)atomic64_read(&vb->timeouts));
	seq_printf(m, "recoveries: %d\nrecovery_failures: %d\n",
		   atomic_read(&vb->recoveries),
		   atomic_read(&vb->recover_failures));
	seq_printf(m, "max_segs: %u\n", vb->max_segs);
	seq_printf(m, "request_queues: %u (device offers %u)\n",
		   vb->nr_queues, vb->cfg.num_request_queues);
	seq_printf(m, "tags: %u\n", vb->cfg.num_tags);
	for (i = 0; i < vb->cfg.num_tags; i++)
		seq_printf(m, "tag%u: %s\n", i, vb->cfg.tags[i]);
	seq_printf(m, "scanouts: %u\n", vb->cfg.num_scanouts);
	seq_printf(m, "display: %ux%u\n", vb->cfg.display_width,
		   vb->cfg.display_height);
	seq_printf(m, "next_unique: %llu\n",
		   (u64)atomic64_read(&vb->next_unique) + 1);
	mutex_unlock(&vb->state_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vbridge_info);

static int vbridge_queues_show(struct seq_file *m, void *unused)
{
	struct vbridge_dev *vb = m->private;
	struct vbridge_vq *vbq;
	u64 requests, bytes_out, bytes_in, errors, bad, full;
	unsigned int i, inflight;

	seq_puts(m, "queue requests bytes_out bytes_in errors bad_responses ring_full interrupted inflight\n");
	for (i = 0; i < vb->nr_queues; i++) {
		vbq = &vb->vqs[i];
		spin_lock_irq(&vbq->lock);
		requests = vbq->requests;
		bytes_out = vbq->bytes_out;
		bytes_in = vbq->bytes_in;
		errors = vbq->errors;
		bad = vbq->bad_responses;
		full = vbq->ring_full;
		inflight = vbq->inflight;
		spin_unlock_irq(&vbq->lock);
		seq_printf(m, "%u %llu %llu %llu %llu %llu %llu %lld %u\n",
			   i, requests, bytes_out, bytes_in, errors, bad, full,
			   (long long)atomic64_read(&vbq->interrupted), inflight);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vbridge_queues);

static int vbridge_events_show(struct seq_file *m, void *unused)
{
	struct vbridge_dev *vb = m->private;
	struct vbridge_evq *evq = &vb->evq;
	u64 cookie;

	spin_lock(&vb->evt_lock);
	cookie = vb->last_test_cookie;
	spin_unlock(&vb->evt_lock);

	seq_printf(m, "buffers: %u\n", evq->nr_bufs);
	seq_printf(m, "events: %lld\n", (long long)atomic64_read(&evq->events));
	seq_printf(m, "bad_events: %lld\n",
		   (long long)atomic64_read(&evq->bad_events));
	seq_printf(m, "unknown_events: %lld\n",
		   (long long)atomic64_read(&evq->unknown_events));
	seq_printf(m, "last_test_cookie: %#llx\n", cookie);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vbridge_events);

static int vbridge_opcodes_show(struct seq_file *m, void *unused)
{
	struct vbridge_dev *vb = m->private;
	unsigned int op;
	s64 n;

	for (op = 0; op < ARRAY_SIZE(vb->op_requests); op++) {
		n = atomic64_read(&vb->op_requests[op]);
		if (n)
			seq_printf(m, "%#06x %lld\n", op, (long long)n);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vbridge_opcodes);

void vbridge_debugfs_add(struct vbridge_dev *vb)
{
	vb->debugfs = debugfs_create_dir(dev_name(&vb->vdev->dev),
					 vbridge_debugfs_root);
	debugfs_create_file("info", 0444, vb->debugfs, vb, &vbridge_info_fops);
	debugfs_create_file("queues", 0444, vb->debugfs, vb,
			    &vbridge_queues_fops);
	debugfs_create_file("events", 0444, vb->debugfs, vb,
			    &vbridge_events_fops);
	debugfs_create_file("opcodes", 0444, vb->debugfs, vb,
			    &vbridge_opcodes_fops);
}

void vbridge_debugfs_remove(struct vbridge_dev *vb)
{
	debugfs_remove_recursive(vb->debugfs);
	vb->debugfs = NULL;
}

void vbridge_debugfs_init(void)
{
	vbridge_debugfs_root = debugfs_create_dir(VBRIDGE_NAME, NULL);
}

void vbridge_debugfs_exit(void)
{
	debugfs_remove_recursive(vbridge_debugfs_root);
}
