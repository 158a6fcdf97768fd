// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge: paravirtual file and display bridge, guest driver.
 *
 * This file holds the virtio driver: configuration space validation,
 * probe/remove/freeze/restore, the INIT handshake and the lifetime of
 * struct vbridge_dev.
 *
 * Every creation and deletion of the virtqueues happens with
 * vbridge_dev.state_lock held: in probe, remove, freeze, restore and in
 * the failure work that disables a device that broke the virtio ring.
 * Teardown always stops the request queues first, then resets the device,
 * then hands back every buffer the device still owned, then deletes the
 * virtqueues.
 */

#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/errno.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

#include "vbridge.h"

/* How long freeze waits for requests in flight. */
#define VBRIDGE_FREEZE_DRAIN_MS		2000

/* How often a broken device's config generation is read. */
#define VBRIDGE_RECOVER_POLL_MS		250

static unsigned int max_queues = VBRIDGE_MAX_REQUEST_QUEUES;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues,
		 "Most request queues used per device, 1-64; also limited by the device and the number of CPUs (default 64)");

unsigned int vbridge_request_timeout_ms = 30000;
module_param_named(request_timeout_ms, vbridge_request_timeout_ms, uint, 0644);
MODULE_PARM_DESC(request_timeout_ms,
		 "A device that leaves a request unanswered this long, in milliseconds, is declared dead and reset; 0 waits forever (default 30000)");

static unsigned int max_req_size = SZ_1M + SZ_4K;
module_param(max_req_size, uint, 0444);
MODULE_PARM_DESC(max_req_size,
		 "Largest request or response in bytes, headers included, proposed to the device; at least 4096, also limited by the virtqueue size (default 1052672)");

static unsigned int max_inflight;
module_param(max_inflight, uint, 0444);
MODULE_PARM_DESC(max_inflight,
		 "Most requests in flight per request queue proposed to the device; 0 is the virtqueue size (default 0)");

static DEFINE_IDA(vbridge_ida);

int vbridge_state_err(enum vbridge_state state)
{
	switch (state) {
	case VBRIDGE_STATE_RUNNING:
		return 0;
	case VBRIDGE_STATE_SUSPENDED:
		return -EAGAIN;
	case VBRIDGE_STATE_BROKEN:
		return -EIO;
	default:
		return -ENODEV;
	}
}

static void vbridge_release(struct kref *kref)
{
	struct vbridge_dev *vb = container_of(kref, struct vbridge_dev, kref);

	/* Normally idle already; see vbridge_queue_add(). */
	cancel_delayed_work_sync(&vb->watchdog);
	cancel_work_sync(&vb->fail_work);
	cancel_delayed_work_sync(&vb->recover_work);
	if (vb->id >= 0)
		ida_free(&vbridge_ida, vb->id);
	kfree(vb->vqs);
	put_device(&vb->vdev->dev);
	kfree(vb);
}

void vbridge_dev_get(struct vbridge_dev *vb)
{
	kref_get(&vb->kref);
}

void vbridge_dev_put(struct vbridge_dev *vb)
{
	kref_put(&vb->kref, vbridge_release);
}

/*
 * The device broke the virtio ring or stopped answering: reset and
 * disable it (from any context).  Every request in flight completes with
 * -EIO, later ones fail at once.
 */
void vbridge_dev_fail(struct vbridge_dev *vb)
{
	schedule_work(&vb->fail_work);
}

/* The 32-bit fields before the tags in struct vbridge_config, in order. */
enum {
	VBRIDGE_CFG_NUM_RQ,
	VBRIDGE_CFG_NUM_TAGS,
	VBRIDGE_CFG_NUM_SCANOUTS,
	VBRIDGE_CFG_WIDTH,
	VBRIDGE_CFG_HEIGHT,
	VBRIDGE_CFG_GENERATION,
	VBRIDGE_CFG_HEAD_WORDS
};

static_assert(offsetof(struct vbridge_config, generation) ==
	      VBRIDGE_CFG_GENERATION * sizeof(__le32));
static_assert(offsetof(struct vbridge_config, display_height) ==
	      VBRIDGE_CFG_HEIGHT * sizeof(__le32));
static_assert(offsetof(struct vbridge_config, tags) ==
	      VBRIDGE_CFG_HEAD_WORDS * sizeof(__le32));
static_assert(VBRIDGE_TAG_LEN % sizeof(u32) == 0);

/* The transport's config generation (0 where it keeps none). */
static u32 vbridge_config_generation(struct virtio_device *vdev)
{
	return vdev->config->generation ? vdev->config->generation(vdev) : 0;
}

/* @words 32-bit words of the config space from @offset, as stored. */
static void vbridge_cread_words(struct virtio_device *vdev,
				unsigned int offset, void *buf,
				unsigned int words)
{
	unsigned int i;

	for (i = 0; i < words; i++)
		vdev->config->get(vdev, offset + i * sizeof(u32),
				  buf + i * sizeof(u32), sizeof(u32));
}

/*
 * Read and validate the configuration space.  Returns 0 or -EINVAL, with
 * a message saying what is wrong.
 */
static int vbridge_read_config(struct virtio_device *vdev,
			       struct vbridge_cfg *cfg)
{
	char tags[VBRIDGE_MAX_TAGS][VBRIDGE_TAG_LEN] __aligned(4);
	__le32 head[VBRIDGE_CFG_HEAD_WORDS];
	struct device *dev = &vdev->dev;
	unsigned int i, j, len, ntags;
	u32 gen;

	memset(cfg, 0, sizeof(*cfg));
	/*
	 * Whole 32-bit words, and only the tags in use: on a vhost-user
	 * device every config space access is a GET_CONFIG round trip to
	 * the backend, and virtio_cread_bytes() reads one byte at a time
	 * (the 216 bytes of tags were 216 round trips, twice per probe,
	 * before the root could be mounted).  The fields and the tags are
	 * all 32-bit aligned, and a word read keeps the bytes' order.  One
	 * generation for the fields and the tags: a new backend may come
	 * with other tags.
	 */
	do {
		gen = vbridge_config_generation(vdev);
		vbridge_cread_words(vdev, 0, head, ARRAY_SIZE(head));
		ntags = min(le32_to_cpu(head[VBRIDGE_CFG_NUM_TAGS]),
			    VBRIDGE_MAX_TAGS);
		vbridge_cread_words(vdev, offsetof(struct vbridge_config, tags),
				    tags, ntags * VBRIDGE_TAG_LEN / sizeof(u32));
	} while (vbridge_config_generation(vdev) != gen);
	cfg->num_request_queues = le32_to_cpu(head[VBRIDGE_CFG_NUM_RQ]);
	cfg->num_tags = le32_to_cpu(head[VBRIDGE_CFG_NUM_TAGS]);
	cfg->generation = le32_to_cpu(head[VBRIDGE_CFG_GENERATION]);

	if (cfg->num_request_queues < 1 ||
	    cfg->num_request_queues > VBRIDGE_MAX_REQUEST_QUEUES) {
		dev_err(dev, "config: num_request_queues %u is outside 1..%u\n",
			cfg->num_request_queues, VBRIDGE_MAX_REQUEST_QUEUES);
		return -EINVAL;
	}
	if (cfg->num_request_queues != 1 &&
	    !virtio_has_feature(vdev, VBRIDGE_F_MQ)) {
		dev_err(dev, "config: num_request_queues is %u without VBRIDGE_F_MQ\n",
			cfg->num_request_queues);
		return -EINVAL;
	}

	if (cfg->num_tags > VBRIDGE_MAX_TAGS) {
		dev_err(dev, "config: num_tags %u exceeds %u\n",
			cfg->num_tags, VBRIDGE_MAX_TAGS);
		return -EINVAL;
	}
	for (i = 0; i < cfg->num_tags; i++) {
		/* NUL-padded; a tag may fill the whole field. */
		len = strnlen(tags[i], VBRIDGE_TAG_LEN);
		if (!len) {
			dev_err(dev, "config: tag %u is empty\n", i);
			return -EINVAL;
		}
		if (memchr_inv(tags[i] + len, 0, VBRIDGE_TAG_LEN - len)) {
			dev_err(dev, "config: tag %u is not NUL-padded\n", i);
			return -EINVAL;
		}
		for (j = 0; j < len; j++) {
			if (!isascii(tags[i][j]) || !isgraph(tags[i][j])) {
				dev_err(dev, "config: tag %u has a non-printable character at offset %u\n",
					i, j);
				return -EINVAL;
			}
		}
		memcpy(cfg->tags[i], tags[i], len);
		cfg->tags[i][len] = '\0';
		for (j = 0; j < i; j++) {
			if (!strcmp(cfg->tags[i], cfg->tags[j])) {
				dev_err(dev, "config: tag \"%s\" appears twice\n",
					cfg->tags[i]);
				return -EINVAL;
			}
		}
	}

	if (!virtio_has_feature(vdev, VBRIDGE_F_DISPLAY))
		return 0;
	cfg->num_scanouts = le32_to_cpu(head[VBRIDGE_CFG_NUM_SCANOUTS]);
	cfg->display_width = le32_to_cpu(head[VBRIDGE_CFG_WIDTH]);
	cfg->display_height = le32_to_cpu(head[VBRIDGE_CFG_HEIGHT]);
	if (cfg->num_scanouts < 1 ||
	    cfg->num_scanouts > VBRIDGE_DISPLAY_MAX_SCANOUTS) {
		dev_err(dev, "config: num_scanouts %u is outside 1..%u\n",
			cfg->num_scanouts, VBRIDGE_DISPLAY_MAX_SCANOUTS);
		return -EINVAL;
	}
	if (cfg->display_width < 1 ||
	    cfg->display_width > VBRIDGE_DISPLAY_MAX_DIM ||
	    cfg->display_height < 1 ||
	    cfg->display_height > VBRIDGE_DISPLAY_MAX_DIM) {
		dev_err(dev, "config: display geometry %ux%u is outside 1x1..%ux%u\n",
			cfg->display_width, cfg->display_height,
			VBRIDGE_DISPLAY_MAX_DIM, VBRIDGE_DISPLAY_MAX_DIM);
		return -EINVAL;
	}
	return 0;
}

/* Called before FEATURES_OK: refuse devices we cannot drive early. */
static int vbridge_validate(struct virtio_device *vdev)
{
	struct vbridge_cfg cfg;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config space access is not available\n");
		return -EINVAL;
	}
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		dev_err(&vdev->dev, "legacy (pre-1.0) devices are not supported\n");
		return -ENODEV;
	}
	return vbridge_read_config(vdev, &cfg);
}

/*
 * INIT handshake: propose our version and limits, check the device's
 * answer.  Called with state_lock held, before the device is running.
 */
static int vbridge_handshake(struct vbridge_dev *vb)
{
	struct device *dev = &vb->vdev->dev;
	struct vbridge_init_in in = {};
	struct vbridge_init_out out = {};
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_INIT,
		.flags = VBRIDGE_REQ_INIT | VBRIDGE_REQ_KILLABLE,
		.in = &in,
		.in_len = sizeof(in),
		.out = &out,
		.out_len = sizeof(out),
	};
	u32 cap, size, inflight, flags;
	u16 major, minor;
	int err;

	/*
	 * A request of the largest size must fit in the ring with both of its
	 * payloads in separate pages: 2 headers + 2 * pages descriptors.
	 */
	cap = (vb->max_segs - 2) / 2 * PAGE_SIZE;
	if (vb->max_segs < 4 || cap < VBRIDGE_MIN_REQ_SIZE) {
		dev_err(dev, "virtqueue size %u is too small\n", vb->max_segs);
		return -EINVAL;
	}
	size = clamp_t(u32, max_req_size, VBRIDGE_MIN_REQ_SIZE, cap);
	inflight = vb->max_segs;
	if (max_inflight && max_inflight < inflight)
		inflight = max_inflight;

	in.major = cpu_to_le16(VBRIDGE_PROTO_MAJOR);
	in.minor = cpu_to_le16(VBRIDGE_PROTO_MINOR);
	in.max_req_size = cpu_to_le32(size);
	in.max_inflight = cpu_to_le32(inflight);

	/* Until the device agreed, only the smallest size is safe. */
	WRITE_ONCE(vb->max_req_size, VBRIDGE_MIN_REQ_SIZE);
	WRITE_ONCE(vb->max_inflight, inflight);

	err = vbridge_request_args(vb, &args);
	if (err) {
		dev_err(dev, "INIT failed: %d\n", err);
		return err;
	}
	if (args.out_actual < sizeof(out)) {
		dev_err(dev, "INIT: short response (%u bytes)\n",
			args.out_actual);
		return -EPROTO;
	}

	major = le16_to_cpu(out.major);
	minor = le16_to_cpu(out.minor);
	flags = le32_to_cpu(out.flags);
	if (major != VBRIDGE_PROTO_MAJOR || minor > VBRIDGE_PROTO_MINOR) {
		dev_err(dev, "INIT: device answered protocol %u.%u, we speak %u.%u\n",
			major, minor, VBRIDGE_PROTO_MAJOR, VBRIDGE_PROTO_MINOR);
		return -EPROTO;
	}
	if (flags) {
		dev_err(dev, "INIT: unknown flags %#x\n", flags);
		return -EPROTO;
	}
	size = le32_to_cpu(out.max_req_size);
	if (size < VBRIDGE_MIN_REQ_SIZE || size > le32_to_cpu(in.max_req_size)) {
		dev_err(dev, "INIT: max_req_size %u is outside %u..%u\n",
			size, VBRIDGE_MIN_REQ_SIZE,
			le32_to_cpu(in.max_req_size));
		return -EPROTO;
	}
	inflight = le32_to_cpu(out.max_inflight);
	if (inflight < 1 || inflight > le32_to_cpu(in.max_inflight)) {
		dev_err(dev, "INIT: max_inflight %u is outside 1..%u\n",
			inflight, le32_to_cpu(in.max_inflight));
		return -EPROTO;
	}

	WRITE_ONCE(vb->major, major);
	WRITE_ONCE(vb->minor, minor);
	WRITE_ONCE(vb->max_req_size, size);
	WRITE_ONCE(vb->max_inflight, inflight);
	dev_info(dev, "%s: protocol %u.%u, %u request queue(s), requests up to %u bytes, %u in flight per queue\n",
		 vb->name, major, minor, vb->nr_queues, size, inflight);
	return 0;
}

/*
 * Stop, reset and delete the virtqueues.  Requests still in flight
 * complete with @flush_err.  Called with state_lock held.
 */
static void vbridge_vqs_teardown(struct vbridge_dev *vb, int stop_err,
				 int flush_err)
{
	if (!vb->vqs_live)
		return;
	vbridge_queues_stop(vb, stop_err);
	/* Nobody arms it any more: the queues are stopped. */
	cancel_delayed_work_sync(&vb->watchdog);
	/* The device must not touch any buffer from here on. */
	virtio_reset_device(vb->vdev);
	vbridge_queues_flush(vb, flush_err);
	vbridge_evq_flush(vb);
	vb->vdev->config->del_vqs(vb->vdev);
	vb->vqs_live = false;
	wake_up_all(&vb->evt_wq);
}

/*
 * Create the virtqueues, bring the device up and negotiate.  On failure
 * everything is torn down again.  Called with state_lock held.
 */
static int vbridge_vqs_setup(struct vbridge_dev *vb)
{
	struct virtio_device *vdev = vb->vdev;
	unsigned int nvqs = VBRIDGE_VQ_REQUEST + vb->nr_queues;
	struct virtqueue_info *vqs_info;
	struct irq_affinity desc = {};
	unsigned int i, max_segs;
	struct virtqueue **vqs;
	int err = -ENOMEM;

	vqs = kcalloc(nvqs, sizeof(*vqs), GFP_KERNEL);
	vqs_info = kcalloc(nvqs, sizeof(*vqs_info), GFP_KERNEL);
	if (!vqs || !vqs_info)
		goto out_free;

	/* Without VBRIDGE_F_EVENT_QUEUE the event queue is left unused. */
	if (vbridge_has_feature(vb, VBRIDGE_F_EVENT_QUEUE)) {
		vqs_info[VBRIDGE_VQ_EVENT].name = "event";
		vqs_info[VBRIDGE_VQ_EVENT].callback = vbridge_evq_done;
		/* Spread only the request queues' interrupts over the CPUs. */
		desc.pre_vectors = 1;
	}
	for (i = 0; i < vb->nr_queues; i++) {
		vqs_info[VBRIDGE_VQ_REQUEST + i].name = vb->vqs[i].name;
		vqs_info[VBRIDGE_VQ_REQUEST + i].callback = vbridge_queue_done;
	}

	err = virtio_find_vqs(vdev, nvqs, vqs, vqs_info, &desc);
	if (err) {
		dev_err(&vdev->dev, "cannot create %u virtqueues: %d\n",
			nvqs, err);
		goto out_free;
	}
	vb->vqs_live = true;

	max_segs = UINT_MAX;
	for (i = VBRIDGE_VQ_REQUEST; i < nvqs; i++)
		max_segs = min(max_segs, virtqueue_get_vring_size(vqs[i]));
	WRITE_ONCE(vb->max_segs, max_segs);
	/*
	 * With VIRTIO_F_ACCESS_PLATFORM every descriptor is mapped through
	 * the DMA API, which may map only so much in one piece.  Whole pages,
	 * so that a split segment never needs more descriptors than pages.
	 */
	vb->max_seg_len = max_t(size_t, PAGE_SIZE,
				rounddown(min_t(size_t, virtio_max_dma_size(vdev),
						U32_MAX), PAGE_SIZE));

	err = vbridge_evq_fill(vb, vqs[VBRIDGE_VQ_EVENT]);
	if (err)
		goto err_teardown;

	virtio_device_ready(vdev);
	vbridge_queues_start(vb, vqs + VBRIDGE_VQ_REQUEST);
	vbridge_evq_kick(vb);

	err = vbridge_handshake(vb);
	if (err)
		goto err_teardown;
	goto out_free;

err_teardown:
	vbridge_vqs_teardown(vb, -ENODEV, -ENODEV);
out_free:
	kfree(vqs_info);
	kfree(vqs);
	return err;
}

/* Set the new state and tear the virtqueues down. */
static void vbridge_shutdown(struct vbridge_dev *vb, enum vbridge_state state,
			     int err)
{
	mutex_lock(&vb->state_lock);
	WRITE_ONCE(vb->state, state);
	vbridge_vqs_teardown(vb, err, err);
	mutex_unlock(&vb->state_lock);
	wake_up_all(&vb->state_wq);
	wake_up_all(&vb->evt_wq);
}

static void vbridge_fail_work(struct work_struct *work)
{
	struct vbridge_dev *vb = container_of(work, struct vbridge_dev,
					      fail_work);

	mutex_lock(&vb->state_lock);
	if (vb->state != VBRIDGE_STATE_RUNNING) {
		mutex_unlock(&vb->state_lock);
		return;
	}
	dev_err(&vb->vdev->dev, "%s: device failed; resetting it, requests fail with EIO until the driver is rebound%s\n",
		vb->name, vb->cfg.generation ?
		" or a new backend takes over" : "");
	WRITE_ONCE(vb->state, VBRIDGE_STATE_BROKEN);
	vbridge_vqs_teardown(vb, -EIO, -EIO);
	/* A device that tells when a new backend came can be recovered. */
	if (vb->cfg.generation)
		schedule_delayed_work(&vb->recover_work,
				      msecs_to_jiffies(VBRIDGE_RECOVER_POLL_MS));
	mutex_unlock(&vb->state_lock);
	wake_up_all(&vb->state_wq);
	wake_up_all(&vb->evt_wq);
	vbridge_fs_device_failed(vb);
}

/*
 * Bring a broken device up again for a new backend: reset, the feature
 * negotiation of probe (the same features: the driver's state depends on
 * them), the virtqueues and INIT, then the mounts' nodes and handles.
 * Until it is done the state stays BROKEN, so that only these requests
 * (VBRIDGE_REQ_INIT) reach the new backend.  Called with state_lock held.
 */
static int vbridge_recover(struct vbridge_dev *vb, const struct vbridge_cfg *cfg)
{
	u32 max_req = vb->max_req_size;
	struct virtio_device *vdev = vb->vdev;
	struct device *dev = &vdev->dev;
	int err;

	if (cfg->num_request_queues < vb->nr_queues) {
		dev_err(dev, "%s: the new backend offers %u request queues, %u in use\n",
			vb->name, cfg->num_request_queues, vb->nr_queues);
		return -EINVAL;
	}
	if (cfg->num_tags != vb->cfg.num_tags ||
	    memcmp(cfg->tags, vb->cfg.tags, sizeof(cfg->tags))) {
		dev_err(dev, "%s: the new backend exports other tags\n",
			vb->name);
		return -EINVAL;
	}

	virtio_reset_device(vdev);
	virtio_add_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	virtio_add_status(vdev, VIRTIO_CONFIG_S_DRIVER);
	err = vdev->config->finalize_features(vdev);
	if (err)
		return err;
	virtio_add_status(vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		dev_err(dev, "%s: the new backend refuses the features in use\n",
			vb->name);
		return -ENODEV;
	}

	err = vbridge_vqs_setup(vb);
	if (err)
		return err;
	/* Mounts sized their requests for the old limits. */
	if (vb->max_req_size < max_req) {
		dev_err(dev, "%s: the new backend takes smaller requests (%u < %u bytes)\n",
			vb->name, vb->max_req_size, max_req);
		err = -EPROTO;
	}
	if (!err)
		err = vbridge_fs_recover(vb);
	if (err)
		vbridge_vqs_teardown(vb, -EIO, -EIO);
	return err;
}

static void vbridge_recover_work(struct work_struct *work)
{
	struct vbridge_dev *vb = container_of(to_delayed_work(work),
					      struct vbridge_dev,
					      recover_work);
	struct device *dev = &vb->vdev->dev;
	struct vbridge_cfg *cfg;
	u32 generation;
	int err;

	mutex_lock(&vb->state_lock);
	if (vb->state != VBRIDGE_STATE_BROKEN)
		goto out_unlock;
	virtio_cread_le(vb->vdev, struct vbridge_config, generation,
			&generation);
	if (!generation || generation == vb->cfg.generation) {
		schedule_delayed_work(&vb->recover_work,
				      msecs_to_jiffies(VBRIDGE_RECOVER_POLL_MS));
		goto out_unlock;
	}

	dev_info(dev, "%s: a new backend took over (generation %u); recovering\n",
		 vb->name, generation);
	cfg = kmalloc(sizeof(*cfg), GFP_KERNEL);
	err = cfg ? vbridge_read_config(vb->vdev, cfg) : -ENOMEM;
	if (!err)
		err = vbridge_recover(vb, cfg);
	if (err) {
		/* Not again for this backend: wait for the next one. */
		vb->cfg.generation = generation;
		atomic_inc(&vb->recover_failures);
		dev_err(dev, "%s: recovery failed: %d; the device stays failed\n",
			vb->name, err);
		schedule_delayed_work(&vb->recover_work,
				      msecs_to_jiffies(VBRIDGE_RECOVER_POLL_MS));
	} else {
		/* The display keeps the geometry it knows. */
		cfg->num_scanouts = vb->cfg.num_scanouts;
		cfg->display_width = vb->cfg.display_width;
		cfg->display_height = vb->cfg.display_height;
		vb->cfg = *cfg;
		atomic_inc(&vb->recoveries);
		WRITE_ONCE(vb->state, VBRIDGE_STATE_RUNNING);
		dev_info(dev, "%s: recovered\n", vb->name);
	}
	kfree(cfg);
out_unlock:
	mutex_unlock(&vb->state_lock);
	wake_up_all(&vb->state_wq);
	wake_up_all(&vb->evt_wq);
}

/*
 * Configuration change.  The number of queues and the tags are fixed while
 * the driver is bound; the display geometry may change.  A device that
 * sets DEVICE_NEEDS_RESET is failed.
 */
static void vbridge_config_work(struct work_struct *work)
{
	struct vbridge_dev *vb = container_of(work, struct vbridge_dev,
					      config_work);
	struct device *dev = &vb->vdev->dev;
	struct vbridge_cfg *cfg;

	cfg = kmalloc(sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return;

	mutex_lock(&vb->state_lock);
	/* Perhaps a new backend: look now rather than at the next poll. */
	if (vb->state == VBRIDGE_STATE_BROKEN && vb->cfg.generation)
		mod_delayed_work(system_wq, &vb->recover_work, 0);
	if (vb->state != VBRIDGE_STATE_RUNNING)
		goto out_unlock;
	/*
	 * The device (e.g. its backend went away) cannot go on: fail it now
	 * rather than when the watchdog finds a request unanswered.
	 */
	if (vb->vdev->config->get_status(vb->vdev) &
	    VIRTIO_CONFIG_S_NEEDS_RESET) {
		dev_err(dev, "%s: the device needs a reset\n", vb->name);
		vbridge_dev_fail(vb);
		goto out_unlock;
	}
	if (vbridge_read_config(vb->vdev, cfg)) {
		dev_warn(dev, "ignoring invalid configuration change\n");
		goto out_unlock;
	}
	if (cfg->num_request_queues != vb->cfg.num_request_queues)
		dev_info(dev, "device now offers %u request queues; using %u until the driver is rebound\n",
			 cfg->num_request_queues, vb->nr_queues);
	if (cfg->num_tags != vb->cfg.num_tags ||
	    memcmp(cfg->tags, vb->cfg.tags, sizeof(cfg->tags)))
		dev_warn(dev, "ignoring changed tags until the driver is rebound\n");
	if (cfg->num_scanouts != vb->cfg.num_scanouts ||
	    cfg->display_width != vb->cfg.display_width ||
	    cfg->display_height != vb->cfg.display_height) {
		dev_info(dev, "display: %u scanout(s), preferred mode %ux%u\n",
			 cfg->num_scanouts, cfg->display_width,
			 cfg->display_height);
		vb->cfg.num_scanouts = cfg->num_scanouts;
		vb->cfg.display_width = cfg->display_width;
		vb->cfg.display_height = cfg->display_height;
	}
out_unlock:
	mutex_unlock(&vb->state_lock);
	kfree(cfg);
}

static void vbridge_config_changed(struct virtio_device *vdev)
{
	struct vbridge_dev *vb = vdev->priv;

	/* Atomic context: defer the (sleeping) config space reads. */
	if (vb)
		schedule_work(&vb->config_work);
}

static int vbridge_probe(struct virtio_device *vdev)
{
	struct vbridge_dev *vb;
	unsigned int i;
	int err;

	vb = kzalloc(sizeof(*vb), GFP_KERNEL);
	if (!vb)
		return -ENOMEM;
	kref_init(&vb->kref);
	get_device(&vdev->dev);
	vb->vdev = vdev;
	vb->id = -1;
	mutex_init(&vb->state_lock);
	vb->state = VBRIDGE_STATE_SETUP;
	init_waitqueue_head(&vb->state_wq);
	vb->features = vdev->features;
	atomic64_set(&vb->next_unique, 0);
	INIT_WORK(&vb->fail_work, vbridge_fail_work);
	INIT_DELAYED_WORK(&vb->watchdog, vbridge_queues_watchdog);
	atomic64_set(&vb->timeouts, 0);
	INIT_WORK(&vb->config_work, vbridge_config_work);
	INIT_DELAYED_WORK(&vb->recover_work, vbridge_recover_work);
	atomic_set(&vb->recoveries, 0);
	atomic_set(&vb->recover_failures, 0);
	spin_lock_init(&vb->evt_lock);
	INIT_LIST_HEAD(&vb->evt_waiters);
	init_waitqueue_head(&vb->evt_wq);
	INIT_LIST_HEAD(&vb->fs_entry);
	vbridge_evq_init(vb);
	vdev->priv = vb;

	err = vbridge_read_config(vdev, &vb->cfg);
	if (err)
		goto err_put_dev;

	vb->nr_queues = min3(vb->cfg.num_request_queues, nr_cpu_ids,
			     clamp(max_queues, 1U, VBRIDGE_MAX_REQUEST_QUEUES));
	vb->vqs = kcalloc(vb->nr_queues, sizeof(*vb->vqs), GFP_KERNEL);
	if (!vb->vqs) {
		err = -ENOMEM;
		goto err_put_dev;
	}
	for (i = 0; i < vb->nr_queues; i++)
		vbridge_queue_init(vb, &vb->vqs[i], i);

	err = ida_alloc(&vbridge_ida, GFP_KERNEL);
	if (err < 0)
		goto err_put_dev;
	vb->id = err;
	snprintf(vb->name, sizeof(vb->name), VBRIDGE_NAME "%d", vb->id);

	vb->wq = alloc_workqueue("%s", WQ_HIGHPRI | WQ_MEM_RECLAIM, 0,
				 vb->name);
	if (!vb->wq) {
		err = -ENOMEM;
		goto err_put_dev;
	}

	mutex_lock(&vb->state_lock);
	err = vbridge_vqs_setup(vb);
	if (!err)
		WRITE_ONCE(vb->state, VBRIDGE_STATE_RUNNING);
	mutex_unlock(&vb->state_lock);
	if (err)
		goto err_destroy_wq;

	vbridge_debugfs_add(vb);
	err = vbridge_chardev_register(vb);
	if (err)
		goto err_remove_debugfs;
	vbridge_fs_add_device(vb);
	vbridge_aux_add(vb);
	return 0;

err_remove_debugfs:
	vbridge_debugfs_remove(vb);
	vbridge_shutdown(vb, VBRIDGE_STATE_REMOVED, -ENODEV);
err_destroy_wq:
	cancel_work_sync(&vb->fail_work);
	destroy_workqueue(vb->wq);
err_put_dev:
	vdev->priv = NULL;
	vbridge_dev_put(vb);
	return err;
}

static void vbridge_remove(struct virtio_device *vdev)
{
	struct vbridge_dev *vb = vdev->priv;

	/*
	 * No new users, then no new requests, then no device.  Mounted
	 * filesystems keep vb; their requests fail with -ENODEV.
	 */
	vbridge_aux_remove(vb);
	vbridge_fs_remove_device(vb);
	vbridge_chardev_unregister(vb);
	vbridge_debugfs_remove(vb);
	vbridge_shutdown(vb, VBRIDGE_STATE_REMOVED, -ENODEV);
	/* Torn down earlier by the failure work or a failed restore. */
	virtio_reset_device(vdev);
	cancel_work_sync(&vb->fail_work);
	cancel_work_sync(&vb->config_work);
	cancel_delayed_work_sync(&vb->recover_work);
	destroy_workqueue(vb->wq);
	vb->wq = NULL;
	vdev->priv = NULL;
	/* Open control node files keep vb until they are closed. */
	vbridge_dev_put(vb);
}

#ifdef CONFIG_PM_SLEEP
static int vbridge_freeze(struct virtio_device *vdev)
{
	struct vbridge_dev *vb = vdev->priv;

	/*
	 * A reset makes the host forget every node and handle, so mounts
	 * would only answer ESTALE afterwards: refuse, as virtio-fs does.
	 */
	if (vbridge_fs_mounted(vb)) {
		dev_err(&vdev->dev, "%s: cannot freeze while vbridgefs is mounted; unmount it first\n",
			vb->name);
		return -EBUSY;
	}
	/* Heads off while requests still go through. */
	vbridge_aux_freeze(vb);
	cancel_work_sync(&vb->config_work);
	cancel_delayed_work_sync(&vb->recover_work);
	mutex_lock(&vb->state_lock);
	if (vb->state == VBRIDGE_STATE_RUNNING) {
		WRITE_ONCE(vb->state, VBRIDGE_STATE_SUSPENDED);
		/* New requests wait for restore; let the others finish. */
		vbridge_queues_stop(vb, -EAGAIN);
		vbridge_queues_drain(vb, VBRIDGE_FREEZE_DRAIN_MS);
		vbridge_vqs_teardown(vb, -EAGAIN, -EIO);
	}
	mutex_unlock(&vb->state_lock);
	wake_up_all(&vb->evt_wq);
	return 0;
}

static int vbridge_restore(struct virtio_device *vdev)
{
	struct vbridge_dev *vb = vdev->priv;
	struct vbridge_cfg *cfg;
	int err;

	cfg = kmalloc(sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;

	mutex_lock(&vb->state_lock);
	if (vb->state != VBRIDGE_STATE_SUSPENDED &&
	    vb->state != VBRIDGE_STATE_BROKEN) {
		err = 0;
		goto out_unlock;
	}
	err = vbridge_read_config(vdev, cfg);
	if (!err && cfg->num_request_queues < vb->nr_queues) {
		dev_err(&vdev->dev, "device now offers %u request queues, %u in use\n",
			cfg->num_request_queues, vb->nr_queues);
		err = -EINVAL;
	}
	if (!err)
		err = vbridge_vqs_setup(vb);
	if (!err)
		vb->cfg = *cfg;
	WRITE_ONCE(vb->state, err ? VBRIDGE_STATE_BROKEN :
				    VBRIDGE_STATE_RUNNING);
	if (err && vb->cfg.generation)
		schedule_delayed_work(&vb->recover_work,
				      msecs_to_jiffies(VBRIDGE_RECOVER_POLL_MS));
out_unlock:
	mutex_unlock(&vb->state_lock);
	wake_up_all(&vb->state_wq);
	wake_up_all(&vb->evt_wq);
	kfree(cfg);
	vbridge_aux_restore(vb);
	return err;
}
#endif

static const struct virtio_device_id vbridge_id_table[] = {
	{ VBRIDGE_VIRTIO_ID, VIRTIO_DEV_ANY_ID },
	{ }
};
MODULE_DEVICE_TABLE(virtio, vbridge_id_table);

static const unsigned int vbridge_features[] = {
	VBRIDGE_F_FS,
	VBRIDGE_F_DISPLAY,
	VBRIDGE_F_MQ,
	VBRIDGE_F_EVENT_QUEUE,
	VBRIDGE_F_DEBUG,
	VBRIDGE_F_FS_HANDLES,
	VBRIDGE_F_FS_COHERENT,
};

static struct virtio_driver vbridge_driver = {
	.driver.name		= KBUILD_MODNAME,
	.id_table		= vbridge_id_table,
	.feature_table		= vbridge_features,
	.feature_table_size	= ARRAY_SIZE(vbridge_features),
	.validate		= vbridge_validate,
	.probe			= vbridge_probe,
	.remove			= vbridge_remove,
	.config_changed		= vbridge_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze			= vbridge_freeze,
	.restore		= vbridge_restore,
#endif
};

static int __init vbridge_init(void)
{
	int err;

	vbridge_debugfs_init();
	err = vbridge_fs_register();
	if (err)
		goto err_debugfs;
	err = register_virtio_driver(&vbridge_driver);
	if (err)
		goto err_fs;
	return 0;

err_fs:
	vbridge_fs_unregister();
err_debugfs:
	vbridge_debugfs_exit();
	return err;
}

static void __exit vbridge_exit(void)
{
	unregister_virtio_driver(&vbridge_driver);
	vbridge_fs_unregister();
	vbridge_debugfs_exit();
	ida_destroy(&vbridge_ida);
}

module_init(vbridge_init);
module_exit(vbridge_exit);

MODULE_DESCRIPTION("vbridge paravirtual file and display bridge (guest driver)");
/* The display, for "modprobe vbridge" without udev (see vbridge_aux.c). */
MODULE_SOFTDEP("post: vbridge_drm");
MODULE_LICENSE("GPL");
