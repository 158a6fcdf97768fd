// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs: the guest side of the vbridge filesystem exports.
 *
 * "mount -t vbridgefs TAG DIR" finds the running vbridge device that
 * exports TAG and sends every VFS operation to it as a filesystem request.
 * Each mount is a superblock of its own, so that one export may be
 * mounted with different cache modes.
 *
 * This file holds the mount code, the superblock, the registry of devices
 * and superblocks, FORGET batching and the INVAL events of the device.
 * The request helpers are in vbridge_fs_req.c.
 */

#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/string.h>
#include <linux/time64.h>

#include "vbridge.h"

/* Attribute and entry timeout of cache=always. */
#define VBRIDGE_FS_ALWAYS_TIMEOUT_NS	(3600ULL * NSEC_PER_SEC)

/*
 * vbridge_fs_lock protects vbridge_fs_devices (struct vbridge_dev.fs_entry)
 * and vbridge_fs_supers (struct vbridge_fs.entry).  A superblock leaves
 * the list before it is shut down, so that the INVAL work, which runs
 * with the lock held, only ever sees live superblocks.
 */
DEFINE_MUTEX(vbridge_fs_lock);
static LIST_HEAD(vbridge_fs_devices);
LIST_HEAD(vbridge_fs_supers);

/*
 * INVAL events waiting for vbridge_fs_inval_work, and their number,
 * under vbridge_fs_inval_lock.  A device sending more than
 * VBRIDGE_FS_MAX_INVALS has its queued ones replaced by one INVAL_ALL.
 */
#define VBRIDGE_FS_MAX_INVALS	1024
static DEFINE_SPINLOCK(vbridge_fs_inval_lock);
static LIST_HEAD(vbridge_fs_invals);
static unsigned int vbridge_fs_ninvals;

static struct kmem_cache *vbridge_inode_cachep;

struct vbridge_fs_forget {
	struct list_head node;
	u64 nodeid;
	u64 nlookup;
	int epoch;
};

struct vbridge_fs_inval {
	struct list_head node;
	struct vbridge_dev *vb;		/* referenced */
	u32 type;
	/* INVAL_INODE: the node; ENTRY: parent; EXPORT: the export's root */
	u64 nodeid;
	u64 offset;
	u64 len;
	u32 namelen;
	char name[];
};

void vbridge_fs_add_device(struct vbridge_dev *vb)
{
	if (!vbridge_has_feature(vb, VBRIDGE_F_FS))
		return;
	mutex_lock(&vbridge_fs_lock);
	list_add_tail(&vb->fs_entry, &vbridge_fs_devices);
	mutex_unlock(&vbridge_fs_lock);
}

void vbridge_fs_remove_device(struct vbridge_dev *vb)
{
	mutex_lock(&vbridge_fs_lock);
	if (!list_empty(&vb->fs_entry))
		list_del_init(&vb->fs_entry);
	mutex_unlock(&vbridge_fs_lock);
}

/* Whether a vbridgefs superblock of @vb is alive. */
bool vbridge_fs_mounted(struct vbridge_dev *vb)
{
	struct vbridge_fs *fs;
	bool found = false;

	mutex_lock(&vbridge_fs_lock);
	list_for_each_entry(fs, &vbridge_fs_supers, entry) {
		if (fs->vb == vb) {
			found = true;
			break;
		}
	}
	mutex_unlock(&vbridge_fs_lock);
	return found;
}

/* The running device exporting @tag, referenced; NULL if none does. */
static struct vbridge_dev *vbridge_fs_find_device(const char *tag)
{
	struct vbridge_dev *vb;
	unsigned int i;

	mutex_lock(&vbridge_fs_lock);
	list_for_each_entry(vb, &vbridge_fs_devices, fs_entry) {
		for (i = 0; i < vb->cfg.num_tags; i++) {
			if (!strcmp(vb->cfg.tags[i], tag)) {
				vbridge_dev_get(vb);
				mutex_unlock(&vbridge_fs_lock);
				return vb;
			}
		}
	}
	mutex_unlock(&vbridge_fs_lock);
	return NULL;
}

/* Expiry time, in get_jiffies_64(), of something valid for @valid_ns. */
u64 vbridge_fs_timeout(struct vbridge_fs *fs, u64 valid_ns)
{
	switch (fs->cache) {
	case VBRIDGE_FS_CACHE_NONE:
		return 0;
	case VBRIDGE_FS_CACHE_ALWAYS:
		valid_ns = max(valid_ns, VBRIDGE_FS_ALWAYS_TIMEOUT_NS);
		break;
	default:
		break;
	}
	if (!valid_ns)
		return 0;
	return get_jiffies_64() + nsecs_to_jiffies64(min(valid_ns, 1ULL << 62));
}

/*
 * @valid_ns for what a reply to a request sent when fs->attr_version was
 * @version may cache, or 0 if an INVAL event came meanwhile that it may
 * have missed: the event found nothing to expire yet, so the reply
 * must not be cached for long (INVAL_ENTRY of a name being looked up,
 * INVAL_INODE of a node the reply is the first to name).
 */
u64 vbridge_fs_valid_since(struct vbridge_fs *fs, u64 version, u64 valid_ns)
{
	return version > (u64)atomic64_read(&fs->inval_version) ? valid_ns : 0;
}

/* Later replies in flight may carry what the event just expired. */
static void vbridge_fs_inval_missed(struct vbridge_fs *fs)
{
	atomic64_set(&fs->inval_version, atomic64_inc_return(&fs->attr_version));
}

/* An INVAL event expires @inode's attributes, and those in flight. */
static void vbridge_fs_inval_event_attr(struct inode *inode)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	u64 version = atomic64_inc_return(&VBRIDGE_FS(inode->i_sb)->attr_version);

	vbridge_fs_inval_attr(inode);
	spin_lock(&vi->lock);
	vi->inval_version = version;
	spin_unlock(&vi->lock);
}

/* Forgets */

/*
 * How long evicted inodes wait for company before their FORGETs go out:
 * a shrinker pass evicts one inode at a time, and nothing waits for a
 * FORGET, so a short delay turns a pass into a few BATCH_FORGETs.
 */
#define VBRIDGE_FS_FORGET_DELAY		msecs_to_jiffies(10)

/*
 * Send the forgets on @list as BATCH_FORGETs of up to a page of entries
 * each, freeing them.  The request names the export's root, which the
 * device never evicts; entries that do not fit in a batch stay on @list.
 */
static void vbridge_fs_send_batch(struct vbridge_fs *fs,
				  struct list_head *list, void *buf,
				  unsigned int max)
{
	struct vbridge_fs_batch_forget_in *batch = buf + sizeof(struct vbridge_fs_in);
	struct vbridge_fs_forget_one *one = (void *)(batch + 1);
	struct vbridge_fs_forget *f, *tmp;
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_FS_BATCH_FORGET,
		.flags = VBRIDGE_REQ_BACKGROUND,
		.in = buf,
	};
	unsigned int n = 0;

	list_for_each_entry_safe(f, tmp, list, node) {
		one[n].nodeid = cpu_to_le64(f->nodeid);
		one[n].nlookup = cpu_to_le64(f->nlookup);
		list_del(&f->node);
		kfree(f);
		if (++n == max)
			break;
	}
	vbridge_fs_in_init(buf, fs->root, 0);
	batch->count = cpu_to_le32(n);
	batch->padding = 0;
	args.in_len = (void *)&one[n] - buf;
	/* As for FORGET: a reset device forgot every node anyway. */
	vbridge_request_args(fs->vb, &args);
}

static void vbridge_fs_forget_work(struct work_struct *work)
{
	struct vbridge_fs *fs = container_of(to_delayed_work(work),
					     struct vbridge_fs, forget_work);
	struct vbridge_fs_forget *f, *tmp;
	unsigned int max = 0;
	void *buf = NULL;
	LIST_HEAD(list);

	spin_lock(&fs->forget_lock);
	list_splice_init(&fs->forgets, &list);
	spin_unlock(&fs->forget_lock);

	/* A node of a backend that is gone: never send it to another. */
	list_for_each_entry_safe(f, tmp, &list, node) {
		if (f->epoch != atomic_read(&fs->epoch)) {
			list_del(&f->node);
			kfree(f);
		}
	}

	/* BATCH_FORGET came with protocol 2.1. */
	if (READ_ONCE(fs->vb->minor) >= 1 && fs->root &&
	    !list_is_singular(&list)) {
		max = (min_t(u32, vbridge_max_in_payload(fs->vb), PAGE_SIZE) -
		       sizeof(struct vbridge_fs_in) -
		       sizeof(struct vbridge_fs_batch_forget_in)) /
		      sizeof(struct vbridge_fs_forget_one);
		buf = kmalloc(PAGE_SIZE, GFP_NOFS);
	}
	while (buf && max && !list_empty(&list))
		vbridge_fs_send_batch(fs, &list, buf, max);
	kfree(buf);
	list_for_each_entry_safe(f, tmp, &list, node) {
		vbridge_fs_send_forget(fs, f->nodeid, f->nlookup, 0);
		kfree(f);
	}
}

/*
 * Give back @nlookup lookups of @nodeid.  Eviction must not wait for the
 * device, so the FORGET is sent from a work item; if no memory is left
 * for that, it is sent right here.
 */
void vbridge_fs_forget(struct vbridge_fs *fs, u64 nodeid, u64 nlookup)
{
	struct vbridge_fs_forget *f;

	if (!nlookup)
		return;
	f = kmalloc(sizeof(*f), GFP_NOFS);
	if (!f) {
		vbridge_fs_send_forget(fs, nodeid, nlookup, 0);
		return;
	}
	f->nodeid = nodeid;
	f->nlookup = nlookup;
	f->epoch = atomic_read(&fs->epoch);
	spin_lock(&fs->forget_lock);
	list_add_tail(&f->node, &fs->forgets);
	spin_unlock(&fs->forget_lock);
	/* Not re-armed while pending: evictions meanwhile share a batch. */
	schedule_delayed_work(&fs->forget_work, VBRIDGE_FS_FORGET_DELAY);
}

/* INVAL events */

static void vbridge_fs_inval_inode(struct vbridge_fs *fs,
				   const struct vbridge_fs_inval *ev)
{
	struct inode *inode;
	pgoff_t first, last = -1;

	inode = ilookup5(fs->sb, ev->nodeid, vbridge_fs_inode_test,
			 (void *)&ev->nodeid);
	if (!inode) {
		vbridge_fs_inval_missed(fs);
		return;
	}
	vbridge_fs_inval_event_attr(inode);
	if (S_ISDIR(inode->i_mode))
		vbridge_fs_rdc_reset(inode);
	if (S_ISREG(inode->i_mode)) {
		first = ev->offset >> PAGE_SHIFT;
		if (ev->len && ev->offset + ev->len > ev->offset)
			last = (ev->offset + ev->len - 1) >> PAGE_SHIFT;
		/* Dirty pages stay: the guest's writes win. */
		invalidate_inode_pages2_range(inode->i_mapping, first, last);
	}
	iput(inode);
}

static void vbridge_fs_inval_entry(struct vbridge_fs *fs,
				   const struct vbridge_fs_inval *ev)
{
	struct dentry *dir, *dentry;
	struct inode *inode;
	struct qstr name = QSTR_INIT(ev->name, ev->namelen);

	/* A lookup of the name may be in flight: d_lookup() misses it. */
	vbridge_fs_inval_missed(fs);
	inode = ilookup5(fs->sb, ev->nodeid, vbridge_fs_inode_test,
			 (void *)&ev->nodeid);
	if (!inode)
		return;
	vbridge_fs_inval_event_attr(inode);
	/* A name came, went or moved: the listing too. */
	vbridge_fs_rdc_reset(inode);
	dir = d_find_alias(inode);
	iput(inode);
	if (!dir)
		return;
	name.hash = full_name_hash(dir, name.name, name.len);
	dentry = d_lookup(dir, &name);
	if (dentry) {
		/* Expired: the next walk asks the device again. */
		vbridge_fs_set_entry_timeout(dentry, 0);
		if (d_really_is_positive(dentry))
			vbridge_fs_inval_event_attr(d_inode(dentry));
		dput(dentry);
	}
	dput(dir);
}

/*
 * Call @fn on every live inode of @sb, with a reference held and no lock,
 * until it returns non-zero, which is returned.  @fn may sleep: the
 * reference keeps our place in the list meanwhile.  (Not "for_each":
 * checkpatch takes such names for loop macros.)
 */
int vbridge_fs_iterate_inodes(struct super_block *sb, vbridge_fs_inode_fn fn,
			      void *arg)
{
	struct inode *inode, *prev = NULL;
	int err = 0;

	spin_lock(&sb->s_inode_list_lock);
	list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
		spin_lock(&inode->i_lock);
		if (inode->i_state & (I_FREEING | I_WILL_FREE | I_NEW)) {
			spin_unlock(&inode->i_lock);
			continue;
		}
		__iget(inode);
		spin_unlock(&inode->i_lock);
		spin_unlock(&sb->s_inode_list_lock);

		/* Not under s_inode_list_lock: the last iput() evicts. */
		iput(prev);
		prev = inode;
		err = fn(inode, arg);
		cond_resched();
		spin_lock(&sb->s_inode_list_lock);
		if (err)
			break;
	}
	spin_unlock(&sb->s_inode_list_lock);
	iput(prev);
	return err;
}

static int vbridge_fs_inval_one(struct inode *inode, void *arg)
{
	struct dentry *alias;

	spin_lock(&inode->i_lock);
	hlist_for_each_entry(alias, &inode->i_dentry, d_u.d_alias)
		vbridge_fs_set_entry_timeout(alias, 0);
	spin_unlock(&inode->i_lock);
	vbridge_fs_inval_event_attr(inode);
	if (S_ISREG(inode->i_mode))
		invalidate_inode_pages2(inode->i_mapping);
	else if (S_ISDIR(inode->i_mode))
		vbridge_fs_rdc_reset(inode);
	return 0;
}

/*
 * INVAL_ALL: the device lost changes (INVAL_EXPORT: of the export of
 * this superblock).  Unused dentries go; every other
 * dentry and every inode's attributes expire, and clean pages are
 * dropped, so that the next use asks the device again.
 */
static void vbridge_fs_inval_all(struct vbridge_fs *fs)
{
	vbridge_fs_inval_missed(fs);
	shrink_dcache_sb(fs->sb);
	vbridge_fs_iterate_inodes(fs->sb, vbridge_fs_inval_one, NULL);
}

static void vbridge_fs_inval_work_fn(struct work_struct *work)
{
	struct vbridge_fs_inval *ev;
	struct vbridge_fs *fs;

	for (;;) {
		spin_lock(&vbridge_fs_inval_lock);
		ev = list_first_entry_or_null(&vbridge_fs_invals,
					      struct vbridge_fs_inval, node);
		if (ev) {
			list_del(&ev->node);
			vbridge_fs_ninvals--;
		}
		spin_unlock(&vbridge_fs_inval_lock);
		if (!ev)
			return;

		mutex_lock(&vbridge_fs_lock);
		list_for_each_entry(fs, &vbridge_fs_supers, entry) {
			if (fs->vb != ev->vb)
				continue;
			if (ev->type == VBRIDGE_EVT_FS_INVAL_INODE)
				vbridge_fs_inval_inode(fs, ev);
			else if (ev->type == VBRIDGE_EVT_FS_INVAL_ENTRY)
				vbridge_fs_inval_entry(fs, ev);
			else if (ev->type == VBRIDGE_EVT_FS_INVAL_ALL ||
				 ev->nodeid == fs->root)
				vbridge_fs_inval_all(fs);
		}
		mutex_unlock(&vbridge_fs_lock);
		vbridge_dev_put(ev->vb);
		kfree(ev);
	}
}

static DECLARE_WORK(vbridge_fs_inval_work, vbridge_fs_inval_work_fn);

/*
 * Queue @ev (its type and arguments set) for the INVAL work; past
 * VBRIDGE_FS_MAX_INVALS, @vb's queued events become one INVAL_ALL.
 */
static void vbridge_fs_queue_inval(struct vbridge_dev *vb,
				   struct vbridge_fs_inval *ev)
{
	struct vbridge_fs_inval *old, *tmp;
	LIST_HEAD(dropped);

	vbridge_dev_get(vb);
	ev->vb = vb;
	spin_lock(&vbridge_fs_inval_lock);
	if (vbridge_fs_ninvals >= VBRIDGE_FS_MAX_INVALS) {
		list_for_each_entry_safe(old, tmp, &vbridge_fs_invals, node) {
			if (old->vb != vb)
				continue;
			list_move(&old->node, &dropped);
			vbridge_fs_ninvals--;
		}
		ev->type = VBRIDGE_EVT_FS_INVAL_ALL;
	}
	list_add_tail(&ev->node, &vbridge_fs_invals);
	vbridge_fs_ninvals++;
	spin_unlock(&vbridge_fs_inval_lock);
	schedule_work(&vbridge_fs_inval_work);

	list_for_each_entry_safe(old, tmp, &dropped, node) {
		vbridge_dev_put(old->vb);
		kfree(old);
	}
}

/*
 * Validate an INVAL event of @vb (@len: its header's length) and queue it
 * for the INVAL work: the event queue must not wait for inode locks.
 * Returns false for a malformed event.
 */
bool vbridge_fs_event(struct vbridge_dev *vb, const void *buf, u32 len)
{
	const struct vbridge_event_fs_inval_inode *ii = buf;
	const struct vbridge_event_fs_inval_entry *ie = buf;
	const struct vbridge_event_fs_inval_export *ix = buf;
	u32 type = le32_to_cpu(ii->hdr.type);
	struct vbridge_fs_inval *ev;
	u32 namelen = 0;

	if (type == VBRIDGE_EVT_FS_INVAL_INODE) {
		if (len < sizeof(*ii))
			return false;
	} else if (type == VBRIDGE_EVT_FS_INVAL_ALL) {
		if (len < sizeof(ii->hdr))
			return false;
	} else if (type == VBRIDGE_EVT_FS_INVAL_EXPORT) {
		/* Only a device that offered it may send it. */
		if (len < sizeof(*ix) ||
		    !vbridge_has_feature(vb, VBRIDGE_F_FS_COHERENT))
			return false;
	} else {
		if (len < sizeof(*ie))
			return false;
		namelen = le32_to_cpu(ie->namelen);
		if (!namelen || namelen > VBRIDGE_FS_NAME_MAX ||
		    namelen > len - sizeof(*ie) ||
		    memchr(ie->name, '/', namelen) ||
		    memchr(ie->name, '\0', namelen))
			return false;
	}

	ev = kzalloc(struct_size(ev, name, namelen + 1), GFP_KERNEL);
	if (!ev)
		return true;	/* the cache timeouts bound the staleness */
	ev->type = type;
	if (type == VBRIDGE_EVT_FS_INVAL_INODE) {
		ev->nodeid = le64_to_cpu(ii->nodeid);
		ev->offset = le64_to_cpu(ii->offset);
		ev->len = le64_to_cpu(ii->len);
	} else if (type == VBRIDGE_EVT_FS_INVAL_ENTRY) {
		ev->nodeid = le64_to_cpu(ie->parent);
		ev->namelen = namelen;
		memcpy(ev->name, ie->name, namelen);
	} else if (type == VBRIDGE_EVT_FS_INVAL_EXPORT) {
		ev->nodeid = le64_to_cpu(ix->root);
	}
	vbridge_fs_queue_inval(vb, ev);
	return true;
}

/*
 * @vb failed: no INVAL event comes any more, so what the mounts cache
 * holds only for as long as the host would tell of a change (an hour
 * where it watches with fanotify) expires now, as on INVAL_ALL.  Calls
 * then go to the device and fail until a new backend takes over.
 */
void vbridge_fs_device_failed(struct vbridge_dev *vb)
{
	struct vbridge_fs_inval *ev;

	/* Small, and no later event would make up for it. */
	ev = kzalloc(struct_size(ev, name, 1), GFP_KERNEL | __GFP_NOFAIL);
	ev->type = VBRIDGE_EVT_FS_INVAL_ALL;
	vbridge_fs_queue_inval(vb, ev);
}

/* Superblock */

static struct inode *vbridge_fs_alloc_inode(struct super_block *sb)
{
	struct vbridge_inode *vi;

	vi = alloc_inode_sb(sb, vbridge_inode_cachep, GFP_KERNEL);
	if (!vi)
		return NULL;
	vi->nodeid = 0;
	vi->nlookup = 0;
	vi->attr_expires = 0;
	vi->attr_version = 0;
	vi->inval_version = 0;
	vi->state = 0;
	RCU_INIT_POINTER(vi->link, NULL);
	vi->handle = NULL;
	vi->handle_len = 0;
	memset(&vi->rdc, 0, sizeof(vi->rdc));
	spin_lock_init(&vi->lock);
	INIT_LIST_HEAD(&vi->files);
	return &vi->vfs;
}

static void vbridge_fs_free_inode(struct inode *inode)
{
	/* After a grace period already: no RCU walk sees the target. */
	kfree(rcu_dereference_protected(VBRIDGE_I(inode)->link, true));
	kfree(VBRIDGE_I(inode)->handle);
	kmem_cache_free(vbridge_inode_cachep, VBRIDGE_I(inode));
}

static void vbridge_fs_evict_inode(struct inode *inode)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (vi->nodeid)
		vbridge_fs_forget(VBRIDGE_FS(inode->i_sb), vi->nodeid,
				  vi->nlookup);
}

static int vbridge_fs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct vbridge_fs *fs = VBRIDGE_FS(dentry->d_sb);
	struct vbridge_fs_statfs_out out;
	struct vbridge_fs_in in;
	int err;

	vbridge_fs_in_init(&in, VBRIDGE_I(d_inode(dentry))->nodeid, 0);
	err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_STATFS, &in, sizeof(in),
				&out, sizeof(out));
	if (err)
		return err;
	buf->f_type = VBRIDGE_FS_MAGIC;
	buf->f_bsize = le32_to_cpu(out.bsize);
	buf->f_frsize = le32_to_cpu(out.frsize);
	buf->f_blocks = le64_to_cpu(out.blocks);
	buf->f_bfree = le64_to_cpu(out.bfree);
	buf->f_bavail = le64_to_cpu(out.bavail);
	buf->f_files = le64_to_cpu(out.files);
	buf->f_ffree = le64_to_cpu(out.ffree);
	buf->f_namelen = min(le32_to_cpu(out.namelen), VBRIDGE_FS_NAME_MAX);
	return 0;
}

static int vbridge_fs_sync_fs(struct super_block *sb, int wait)
{
	struct vbridge_fs *fs = VBRIDGE_FS(sb);
	struct vbridge_fs_in in;

	if (!wait)
		return 0;
	vbridge_fs_in_init(&in, fs->root, 0);
	return vbridge_fs_simple(fs, VBRIDGE_OP_FS_SYNCFS, &in, sizeof(in),
				 NULL, 0);
}

static int vbridge_fs_show_options(struct seq_file *m, struct dentry *root)
{
	static const char * const modes[] = { "none", "auto", "always" };
	struct vbridge_fs *fs = VBRIDGE_FS(root->d_sb);

	seq_printf(m, ",cache=%s", modes[fs->cache]);
	if (fs->writeback)
		seq_puts(m, ",writeback");
	return 0;
}

const struct super_operations vbridge_fs_sops = {
	.alloc_inode	= vbridge_fs_alloc_inode,
	.free_inode	= vbridge_fs_free_inode,
	.evict_inode	= vbridge_fs_evict_inode,
	.statfs		= vbridge_fs_statfs,
	.sync_fs	= vbridge_fs_sync_fs,
	.show_options	= vbridge_fs_show_options,
};

/* Mount */

struct vbridge_fs_ctx {
	enum vbridge_fs_cache cache;
	bool writeback;
};

enum { VBRIDGE_FS_OPT_CACHE, VBRIDGE_FS_OPT_WRITEBACK };

static const struct constant_table vbridge_fs_cache_modes[] = {
	{ "none",	VBRIDGE_FS_CACHE_NONE },
	{ "auto",	VBRIDGE_FS_CACHE_AUTO },
	{ "always",	VBRIDGE_FS_CACHE_ALWAYS },
	{}
};

static const struct fs_parameter_spec vbridge_fs_params[] = {
	fsparam_enum("cache", VBRIDGE_FS_OPT_CACHE, vbridge_fs_cache_modes),
	fsparam_flag("writeback", VBRIDGE_FS_OPT_WRITEBACK),
	{}
};

static int vbridge_fs_parse_param(struct fs_context *fc,
				  struct fs_parameter *param)
{
	struct vbridge_fs_ctx *ctx = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, vbridge_fs_params, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case VBRIDGE_FS_OPT_CACHE:
		ctx->cache = result.uint_32;
		break;
	case VBRIDGE_FS_OPT_WRITEBACK:
		ctx->writeback = true;
		break;
	}
	return 0;
}

/* Largest requests a sequential reader reads ahead. */
#define VBRIDGE_FS_RA_REQS	8

/* MOUNT the export and make its root the root dentry. */
static int vbridge_fs_fill_super(struct super_block *sb,
				 struct fs_context *fc)
{
	struct vbridge_fs *fs = VBRIDGE_FS(sb);
	struct vbridge_fs_entry_out e;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_mount_in mount;
	} in = {};
	struct inode *root;
	u32 max_in, max_out;
	int err;

	fs->sb = sb;
	max_in = vbridge_max_in_payload(fs->vb);
	max_out = vbridge_max_out_payload(fs->vb);
	max_in -= min_t(u32, max_in, sizeof(struct vbridge_fs_in) +
				     sizeof(struct vbridge_fs_write_in));
	fs->max_pages = min3(max_in, max_out, (u32)SZ_4M) >> PAGE_SHIFT;
	fs->max_pages = min(fs->max_pages, READ_ONCE(fs->vb->max_segs) - 3);
	if (!fs->max_pages)
		return invalfc(fc, "device requests are too small");

	vbridge_fs_in_init(&in.fs, 0, 0);
	/* NUL-padded: a tag may fill the whole field (found, so it fits). */
	memcpy(in.mount.tag, fc->source,
	       strnlen(fc->source, sizeof(in.mount.tag)));
	err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_MOUNT, &in, sizeof(in),
				&e, sizeof(e));
	if (err)
		return err;

	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = VBRIDGE_FS_MAGIC;
	sb->s_time_gran = 1;
	/*
	 * Writes skip the GETXATTR of security.capability while the inode
	 * is known to have none (S_NOSEC, until its attributes are next
	 * fetched).
	 */
	sb->s_flags |= SB_NOSEC;
	sb->s_op = &vbridge_fs_sops;
	sb->s_d_op = &vbridge_fs_dentry_ops;
	sb->s_xattr = vbridge_sb_xattr(vbridge_fs_xattr_handlers);
	err = super_setup_bdi(sb);
	if (err) {
		vbridge_fs_forget(fs, le64_to_cpu(e.nodeid), 1);
		return err;
	}
	/*
	 * Read ahead VBRIDGE_FS_RA_REQS requests deep (as NFS reads ahead
	 * 15 rsize): with a window of one request, each window was one
	 * READ (one large folio) and the reader waited for most of them;
	 * measured, a cold 64 MiB read stalled about 170 times at 1 MiB
	 * and about 45 times at 8 MiB.  Still tunable in
	 * /sys/class/bdi/vbridgefs-N/read_ahead_kb.
	 */
	sb->s_bdi->ra_pages = fs->max_pages * VBRIDGE_FS_RA_REQS;
	sb->s_bdi->io_pages = fs->max_pages;

	root = vbridge_fs_iget(sb, &e, 0);
	if (IS_ERR(root))
		return PTR_ERR(root);
	if (!S_ISDIR(root->i_mode)) {
		iput(root);
		return invalfc(fc, "the export's root is not a directory");
	}
	fs->root = VBRIDGE_I(root)->nodeid;
	fs->neg_valid_ns = le64_to_cpu(e.entry_valid_ns);
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;

	mutex_lock(&vbridge_fs_lock);
	list_add_tail(&fs->entry, &vbridge_fs_supers);
	mutex_unlock(&vbridge_fs_lock);
	return 0;
}

static int vbridge_fs_get_tree(struct fs_context *fc)
{
	struct vbridge_fs_ctx *ctx = fc->fs_private;
	struct vbridge_dev *vb;
	struct vbridge_fs *fs;

	if (!fc->source)
		return invalfc(fc, "no export tag given");
	vb = vbridge_fs_find_device(fc->source);
	if (!vb)
		return invalfc(fc, "no vbridge device exports \"%s\"",
			       fc->source);
	fs = kzalloc(sizeof(*fs), GFP_KERNEL);
	if (!fs) {
		vbridge_dev_put(vb);
		return -ENOMEM;
	}
	fs->vb = vb;
	strscpy(fs->tag, fc->source, sizeof(fs->tag));
	fs->cache = ctx->cache;
	fs->writeback = ctx->writeback;
	INIT_LIST_HEAD(&fs->entry);
	atomic64_set(&fs->attr_version, 1);
	atomic64_set(&fs->inval_version, 0);
	spin_lock_init(&fs->forget_lock);
	INIT_LIST_HEAD(&fs->forgets);
	INIT_DELAYED_WORK(&fs->forget_work, vbridge_fs_forget_work);
	mutex_init(&fs->dev_lock);
	fc->s_fs_info = fs;
	return get_tree_nodev(fc, vbridge_fs_fill_super);
}

static void vbridge_fs_free_fs(struct vbridge_fs *fs)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fs->devs); i++)
		if (fs->devs[i])
			free_anon_bdev(fs->devs[i]);
	flush_delayed_work(&fs->forget_work);
	vbridge_dev_put(fs->vb);
	kfree(fs);
}

static void vbridge_fs_free_fc(struct fs_context *fc)
{
	if (fc->s_fs_info)
		vbridge_fs_free_fs(fc->s_fs_info);
	kfree(fc->fs_private);
}

static const struct fs_context_operations vbridge_fs_context_ops = {
	.free		= vbridge_fs_free_fc,
	.parse_param	= vbridge_fs_parse_param,
	.get_tree	= vbridge_fs_get_tree,
};

static int vbridge_fs_init_fs_context(struct fs_context *fc)
{
	struct vbridge_fs_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->cache = VBRIDGE_FS_CACHE_AUTO;
	fc->fs_private = ctx;
	fc->ops = &vbridge_fs_context_ops;
	return 0;
}

static void vbridge_fs_kill_sb(struct super_block *sb)
{
	struct vbridge_fs *fs = VBRIDGE_FS(sb);

	if (fs) {
		mutex_lock(&vbridge_fs_lock);
		list_del_init(&fs->entry);
		mutex_unlock(&vbridge_fs_lock);
	}
	/* Evicts every inode, queueing their FORGETs. */
	kill_anon_super(sb);
	if (fs)
		vbridge_fs_free_fs(fs);
}

static struct file_system_type vbridge_fs_type = {
	.owner			= THIS_MODULE,
	.name			= VBRIDGE_FS_TYPE,
	.init_fs_context	= vbridge_fs_init_fs_context,
	.parameters		= vbridge_fs_params,
	.kill_sb		= vbridge_fs_kill_sb,
};
MODULE_ALIAS_FS(VBRIDGE_FS_TYPE);

static void vbridge_inode_init_once(void *obj)
{
	struct vbridge_inode *vi = obj;

	inode_init_once(&vi->vfs);
}

int vbridge_fs_register(void)
{
	int err;

	vbridge_inode_cachep = kmem_cache_create("vbridge_inode",
						 sizeof(struct vbridge_inode),
						 0, SLAB_RECLAIM_ACCOUNT |
						 SLAB_ACCOUNT,
						 vbridge_inode_init_once);
	if (!vbridge_inode_cachep)
		return -ENOMEM;
	err = vbridge_fs_dio_init();
	if (err)
		goto destroy_cache;
	err = register_filesystem(&vbridge_fs_type);
	if (err)
		goto dio_exit;
	return 0;

dio_exit:
	vbridge_fs_dio_exit();
destroy_cache:
	kmem_cache_destroy(vbridge_inode_cachep);
	return err;
}

void vbridge_fs_unregister(void)
{
	unregister_filesystem(&vbridge_fs_type);
	flush_work(&vbridge_fs_inval_work);
	vbridge_fs_dio_exit();
	/* Inodes are freed after an RCU grace period. */
	rcu_barrier();
	kmem_cache_destroy(vbridge_inode_cachep);
}
