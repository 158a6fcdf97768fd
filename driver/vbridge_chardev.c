// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge control node: /dev/vbridgeN, one misc device per vbridge device.
 *
 * Every open file holds a reference on struct vbridge_dev, so the
 * structure outlives the device binding; once the device is removed the
 * ioctls fail with -ENODEV.
 *
 * The debug requests are idempotent, so a request interrupted by a signal
 * (-ERESTARTSYS) lets the system call be restarted.
 */

#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "vbridge.h"

/* ECHO payloads up to this size travel inline, larger ones in pages. */
#define VBRIDGE_ECHO_INLINE_MAX		512

/* A payload buffer made of separately allocated pages. */
struct vbridge_pagebuf {
	struct bio_vec *bvec;
	unsigned int nr;
};

static void vbridge_pagebuf_free(struct vbridge_pagebuf *pb)
{
	unsigned int i;

	for (i = 0; i < pb->nr; i++)
		put_page(pb->bvec[i].bv_page);
	kvfree(pb->bvec);
	pb->bvec = NULL;
	pb->nr = 0;
}

static int vbridge_pagebuf_alloc(struct vbridge_pagebuf *pb, size_t len)
{
	unsigned int i, nr = DIV_ROUND_UP(len, PAGE_SIZE);
	struct page *page;

	pb->nr = 0;
	pb->bvec = kvcalloc(nr, sizeof(*pb->bvec), GFP_KERNEL);
	if (!pb->bvec)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		/* Zeroed: the device may write less than it claims. */
		page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!page) {
			vbridge_pagebuf_free(pb);
			return -ENOMEM;
		}
		bvec_set_page(&pb->bvec[i], page,
			      min_t(size_t, len - (size_t)i * PAGE_SIZE,
				    PAGE_SIZE), 0);
		pb->nr++;
	}
	return 0;
}

static int vbridge_pagebuf_from_user(struct vbridge_pagebuf *pb,
				     const void __user *src)
{
	unsigned int i;

	for (i = 0; i < pb->nr; i++) {
		if (copy_from_user(page_address(pb->bvec[i].bv_page), src,
				   pb->bvec[i].bv_len))
			return -EFAULT;
		src += pb->bvec[i].bv_len;
	}
	return 0;
}

static int vbridge_pagebuf_to_user(const struct vbridge_pagebuf *pb,
				   void __user *dst, size_t len)
{
	unsigned int i;
	size_t n;

	for (i = 0; i < pb->nr && len; i++) {
		n = min_t(size_t, len, pb->bvec[i].bv_len);
		if (copy_to_user(dst, page_address(pb->bvec[i].bv_page), n))
			return -EFAULT;
		dst += n;
		len -= n;
	}
	return 0;
}

static int vbridge_ioc_get_info(struct vbridge_dev *vb,
				struct vbridge_ioc_info __user *uinfo)
{
	struct vbridge_ioc_info *info;
	unsigned int i;
	int err = 0;

	info = kzalloc(sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;

	if (mutex_lock_interruptible(&vb->state_lock)) {
		err = -ERESTARTSYS;
		goto out_free;
	}
	if (vb->state == VBRIDGE_STATE_REMOVED) {
		err = -ENODEV;
	} else {
		info->features = vb->features;
		info->major = vb->major;
		info->minor = vb->minor;
		info->num_request_queues = vb->nr_queues;
		info->max_req_size = vb->max_req_size;
		info->max_inflight = vb->max_inflight;
		info->num_tags = vb->cfg.num_tags;
		info->num_scanouts = vb->cfg.num_scanouts;
		info->display_width = vb->cfg.display_width;
		info->display_height = vb->cfg.display_height;
		for (i = 0; i < vb->cfg.num_tags; i++)
			strscpy(info->tags[i], vb->cfg.tags[i],
				sizeof(info->tags[i]));
	}
	mutex_unlock(&vb->state_lock);

	if (!err && copy_to_user(uinfo, info, sizeof(*info)))
		err = -EFAULT;
out_free:
	kfree(info);
	return err;
}

static int vbridge_ioc_ping(struct vbridge_dev *vb)
{
	if (!vbridge_has_feature(vb, VBRIDGE_F_DEBUG))
		return -EOPNOTSUPP;
	return vbridge_request(vb, VBRIDGE_OP_PING, NULL, 0, NULL, 0, NULL);
}

/* Small ECHO: both payloads inline in the request. */
static int vbridge_echo_inline(struct vbridge_dev *vb,
			       const struct vbridge_ioc_echo *echo,
			       u32 *out_len)
{
	size_t actual = 0;
	void *in, *out;
	int err;

	in = memdup_user(u64_to_user_ptr(echo->in_ptr), echo->len);
	if (IS_ERR(in))
		return PTR_ERR(in);
	out = kzalloc(echo->len, GFP_KERNEL);
	if (!out) {
		err = -ENOMEM;
		goto out_free_in;
	}

	err = vbridge_request(vb, VBRIDGE_OP_ECHO, in, echo->len,
			      out, echo->len, &actual);
	if (err)
		goto out_free_out;
	*out_len = min_t(size_t, actual, echo->len);
	if (copy_to_user(u64_to_user_ptr(echo->out_ptr), out, *out_len))
		err = -EFAULT;
out_free_out:
	kfree(out);
out_free_in:
	kfree(in);
	return err;
}

/* Large ECHO: both payloads in pages (the zero-copy request path). */
static int vbridge_echo_pages(struct vbridge_dev *vb,
			      const struct vbridge_ioc_echo *echo,
			      u32 *out_len)
{
	struct vbridge_pagebuf in, out;
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_ECHO,
	};
	int err;

	err = vbridge_pagebuf_alloc(&in, echo->len);
	if (err)
		return err;
	err = vbridge_pagebuf_alloc(&out, echo->len);
	if (err)
		goto out_free_in;
	err = vbridge_pagebuf_from_user(&in, u64_to_user_ptr(echo->in_ptr));
	if (err)
		goto out_free_out;

	args.in_bvec = in.bvec;
	args.in_nr_bvec = in.nr;
	args.out_bvec = out.bvec;
	args.out_nr_bvec = out.nr;
	err = vbridge_request_args(vb, &args);
	if (err)
		goto out_free_out;
	*out_len = min(args.out_actual, echo->len);
	err = vbridge_pagebuf_to_user(&out, u64_to_user_ptr(echo->out_ptr),
				      *out_len);
out_free_out:
	vbridge_pagebuf_free(&out);
out_free_in:
	vbridge_pagebuf_free(&in);
	return err;
}

static int vbridge_ioc_echo(struct vbridge_dev *vb,
			    struct vbridge_ioc_echo __user *uecho)
{
	struct vbridge_ioc_echo echo;
	u32 out_len = 0;
	int err;

	if (!vbridge_has_feature(vb, VBRIDGE_F_DEBUG))
		return -EOPNOTSUPP;
	if (copy_from_user(&echo, uecho, sizeof(echo)))
		return -EFAULT;
	if (echo.len > vbridge_max_in_payload(vb) ||
	    echo.len > vbridge_max_out_payload(vb))
		return -EINVAL;

	if (echo.len <= VBRIDGE_ECHO_INLINE_MAX)
		err = vbridge_echo_inline(vb, &echo, &out_len);
	else
		err = vbridge_echo_pages(vb, &echo, &out_len);
	if (err)
		return err;
	if (put_user(out_len, &uecho->out_len))
		return -EFAULT;
	return 0;
}

static int vbridge_ioc_event_test(struct vbridge_dev *vb,
				  struct vbridge_ioc_event_test __user *utest)
{
	struct vbridge_ioc_event_test test;

	if (copy_from_user(&test, utest, sizeof(test)))
		return -EFAULT;
	if (test.padding)
		return -EINVAL;
	return vbridge_event_test(vb, test.cookie, test.timeout_ms);
}

static long vbridge_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct vbridge_dev *vb = file->private_data;
	void __user *argp = (void __user *)arg;

	if (READ_ONCE(vb->state) == VBRIDGE_STATE_REMOVED)
		return -ENODEV;

	switch (cmd) {
	case VBRIDGE_IOC_GET_INFO:
		return vbridge_ioc_get_info(vb, argp);
	case VBRIDGE_IOC_PING:
		return vbridge_ioc_ping(vb);
	case VBRIDGE_IOC_ECHO:
		return vbridge_ioc_echo(vb, argp);
	case VBRIDGE_IOC_EVENT_TEST:
		return vbridge_ioc_event_test(vb, argp);
	default:
		return -ENOTTY;
	}
}

static int vbridge_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct vbridge_dev *vb = container_of(misc, struct vbridge_dev, misc);

	/*
	 * misc_open() holds misc_mtx around this call and misc_deregister()
	 * takes it, so vb is still registered and alive here.
	 */
	vbridge_dev_get(vb);
	file->private_data = vb;
	return nonseekable_open(inode, file);
}

static int vbridge_release_file(struct inode *inode, struct file *file)
{
	vbridge_dev_put(file->private_data);
	return 0;
}

static const struct file_operations vbridge_fops = {
	.owner		= THIS_MODULE,
	.open		= vbridge_open,
	.release	= vbridge_release_file,
	.unlocked_ioctl	= vbridge_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

int vbridge_chardev_register(struct vbridge_dev *vb)
{
	int err;

	vb->misc.minor = MISC_DYNAMIC_MINOR;
	vb->misc.name = vb->name;
	vb->misc.fops = &vbridge_fops;
	vb->misc.parent = &vb->vdev->dev;
	vb->misc.mode = 0600;
	err = misc_register(&vb->misc);
	if (err) {
		dev_err(&vb->vdev->dev, "cannot register /dev/%s: %d\n",
			vb->name, err);
		return err;
	}
	vb->misc_registered = true;
	return 0;
}

void vbridge_chardev_unregister(struct vbridge_dev *vb)
{
	if (!vb->misc_registered)
		return;
	misc_deregister(&vb->misc);
	vb->misc_registered = false;
}
