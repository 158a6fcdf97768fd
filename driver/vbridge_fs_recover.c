// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs: recovering the mounts when a new backend takes over.
 *
 * The new backend knows none of the node ids and handles the driver
 * holds.  Once the device is up again (vbridge_recover_work()), each
 * mount of the device is mounted again, and each live inode is found
 * again, top down: first by the sealed handle the device gave us when
 * it was first opened (VBRIDGE_F_FS_HANDLES, RESOLVE), which finds it
 * wherever the host renamed it within its directory (directories:
 * anywhere in the export), then by name from its parent.  Either way it
 * is accepted only if it is the same file: same host inode number, file
 * type and host filesystem.  Open regular files and directories are
 * opened again with their access mode, so that their descriptors keep
 * working, and the POSIX, OFD and flock locks the guest holds are taken
 * again; one that cannot be (another holder took it meanwhile) makes
 * its file's lock operations and I/O fail with -EIO, logged, rather
 * than lose the lock silently.
 *
 * What cannot be found again (unlinked, moved out of reach or replaced
 * while the backend was away, or with no dentry and no handle) goes
 * stale: its operations fail with -ESTALE.  Requests that were in flight
 * are not recovered.
 *
 * Everything here runs with vbridge_dev.state_lock held and the device
 * still BROKEN: only these requests (VBRIDGE_REQ_INIT) reach the backend,
 * so no other request can use a node id while it changes.
 */

#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "vbridge.h"

/* An inode held for the recovery. */
struct vbridge_fs_rec {
	struct list_head node;
	struct inode *inode;
};

/* A request that passes the device while it is being recovered. */
static int vbridge_fs_rec_call(struct vbridge_fs *fs, u32 opcode,
			       const void *in, u32 in_len,
			       void *out, u32 out_len)
{
	return vbridge_fs_simple_flags(fs, opcode, VBRIDGE_REQ_INIT, in, in_len,
				       out, out_len);
}

/* Give back a lookup of a node that is not ours after all. */
static void vbridge_fs_rec_forget(struct vbridge_fs *fs, u64 nodeid)
{
	vbridge_fs_send_forget(fs, nodeid, 1, VBRIDGE_REQ_INIT);
}

/* Errors that say the device, not the file, is in trouble. */
static bool vbridge_fs_rec_fatal(int err)
{
	return err == -EIO || err == -ETIMEDOUT || err == -ENODEV ||
	       err == -ENOMEM || err == -EINTR || err == -EPROTO;
}

/* Is the entry the new backend found the file @inode was made for? */
static bool vbridge_fs_rec_same(struct inode *inode,
				const struct vbridge_fs_entry_out *e)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	u32 devidx;

	spin_lock(&vi->lock);
	devidx = vi->devidx;
	spin_unlock(&vi->lock);
	return !vbridge_fs_check_entry(e) &&
	       inode->i_ino == (unsigned long)le64_to_cpu(e->attr.ino) &&
	       !((le32_to_cpu(e->attr.mode) ^ inode->i_mode) & S_IFMT) &&
	       le32_to_cpu(e->attr.devidx) == devidx;
}

/* @inode is the new backend's node @e, which holds one lookup. */
static void vbridge_fs_rec_adopt(struct inode *inode,
				 const struct vbridge_fs_entry_out *e)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	u64 nodeid = le64_to_cpu(e->nodeid);

	spin_lock(&vi->lock);
	vi->nlookup = 1;
	vi->attr_expires = 0;
	spin_unlock(&vi->lock);
	WRITE_ONCE(vi->nodeid, nodeid);
	__insert_inode_hash(inode, nodeid);
	clear_bit(VBRIDGE_I_RECOVERING, &vi->state);
}

/* Whether the guest holds POSIX, OFD or flock locks on @inode. */
static bool vbridge_fs_rec_has_locks(struct inode *inode)
{
	struct file_lock_context *ctx = locks_inode_context(inode);
	bool any;

	if (!ctx)
		return false;
	spin_lock(&ctx->flc_lock);
	any = !list_empty(&ctx->flc_posix) || !list_empty(&ctx->flc_flock);
	spin_unlock(&ctx->flc_lock);
	return any;
}

/*
 * Not found again: stale, with no lookup of any backend's node.  Its
 * locks are lost with it: said, never silent.
 */
static void vbridge_fs_rec_abandon(struct inode *inode)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);

	spin_lock(&vi->lock);
	vi->nlookup = 0;
	spin_unlock(&vi->lock);
	if (vbridge_fs_rec_has_locks(inode)) {
		set_bit(VBRIDGE_I_LOCKS_LOST, &vi->state);
		pr_warn("vbridgefs: inode %lu: not found on the new backend: its locks are lost\n",
			inode->i_ino);
	}
	set_bit(VBRIDGE_I_STALE, &vi->state);
	clear_bit(VBRIDGE_I_RECOVERING, &vi->state);
}

/* Take @e for @inode if it is the same file, or give its lookup back. */
static int vbridge_fs_rec_accept(struct vbridge_fs *fs, struct inode *inode,
				 const struct vbridge_fs_entry_out *e)
{
	if (!vbridge_fs_rec_same(inode, e)) {
		if (e->nodeid)
			vbridge_fs_rec_forget(fs, le64_to_cpu(e->nodeid));
		return -ESTALE;
	}
	vbridge_fs_rec_adopt(inode, e);
	return 0;
}

static int vbridge_fs_rec_root(struct vbridge_fs *fs)
{
	struct inode *root = d_inode(fs->sb->s_root);
	struct vbridge_fs_entry_out e;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_mount_in mount;
	} in = {};
	int err;

	vbridge_fs_in_init(&in.fs, 0, 0);
	memcpy(in.mount.tag, fs->tag, strnlen(fs->tag, sizeof(in.mount.tag)));
	err = vbridge_fs_rec_call(fs, VBRIDGE_OP_FS_MOUNT, &in, sizeof(in),
				  &e, sizeof(e));
	if (err)
		return err;
	err = vbridge_fs_rec_accept(fs, root, &e);
	if (err)
		return err;
	fs->root = le64_to_cpu(e.nodeid);
	return 0;
}

/* Whether the device can find nodes again by sealed handle. */
static bool vbridge_fs_has_handles(struct vbridge_fs *fs)
{
	return virtio_has_feature(fs->vb->vdev, VBRIDGE_F_FS_HANDLES);
}

/*
 * Keep the device's sealed handle of @inode, once, for a later backend.
 * Without one (no VBRIDGE_F_FS_HANDLES, another host filesystem, an
 * error) the inode is found again by name only.
 */
void vbridge_fs_fetch_handle(struct inode *inode)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_fs_handle out;
	struct vbridge_fs_in in;
	u8 *h;
	u32 len;
	int err;

	if (!vbridge_fs_has_handles(fs) || READ_ONCE(vi->handle) ||
	    test_bit(VBRIDGE_I_NO_HANDLE, &vi->state))
		return;
	vbridge_fs_in_init(&in, vi->nodeid, 0);
	err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_GET_HANDLE, &in, sizeof(in),
				&out, sizeof(out));
	/* Another host filesystem, say: every open would ask in vain. */
	if (err == -EOPNOTSUPP)
		set_bit(VBRIDGE_I_NO_HANDLE, &vi->state);
	if (err)
		return;
	len = le32_to_cpu(out.len);
	if (!len || len > VBRIDGE_FS_HANDLE_MAX || out.padding) {
		pr_warn_ratelimited("vbridgefs: inode %lu: malformed handle of %u bytes\n",
				    inode->i_ino, len);
		return;
	}
	h = kmemdup(out.data, len, GFP_KERNEL);
	if (!h)
		return;
	spin_lock(&vi->lock);
	if (!vi->handle) {
		vi->handle_len = len;
		WRITE_ONCE(vi->handle, h);
		h = NULL;
	}
	spin_unlock(&vi->lock);
	kfree(h);
}

/*
 * Find @inode again by its sealed handle, @hint the directory it was
 * last seen in.  Returns 1 when found, or a negative errno
 * (-EOPNOTSUPP: no handle to try).
 */
static int vbridge_fs_rec_resolve(struct vbridge_fs *fs, struct inode *inode,
				  u64 hint)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_fs_entry_out e;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_handle handle;
	} in = {};
	u32 len = 0;
	int err;

	if (!vbridge_fs_has_handles(fs))
		return -EOPNOTSUPP;
	spin_lock(&vi->lock);
	if (vi->handle) {
		len = vi->handle_len;
		memcpy(in.handle.data, vi->handle, len);
	}
	spin_unlock(&vi->lock);
	if (!len)
		return -EOPNOTSUPP;
	vbridge_fs_in_init(&in.fs, hint, 0);
	in.handle.len = cpu_to_le32(len);
	err = vbridge_fs_rec_call(fs, VBRIDGE_OP_FS_RESOLVE, &in, sizeof(in),
				  &e, sizeof(e));
	if (err)
		return err;
	err = vbridge_fs_rec_accept(fs, inode, &e);
	if (err)
		return err;
	return 1;
}

/*
 * Find @inode again: by handle, then by name under its parent.  Returns
 * 1 when found, 0 when its parent is not found yet, or a negative errno.
 */
static int vbridge_fs_rec_lookup(struct vbridge_fs *fs, struct inode *inode)
{
	struct vbridge_fs_entry_out e;
	struct vbridge_fs_name_msg in;
	struct dentry *alias, *parent;
	struct inode *dir;
	struct name_snapshot name;
	u32 len;
	int err;

	/* No name to go by (a file handle's export, say): the handle only. */
	alias = d_find_any_alias(inode);
	if (!alias)
		return vbridge_fs_rec_resolve(fs, inode, fs->root);
	parent = dget_parent(alias);
	dir = d_inode(parent);
	err = -ENOENT;
	if (parent == alias || d_unlinked(alias))
		goto out;
	/* A directory the handle finds anywhere; other files must be in it. */
	if (vbridge_fs_is_stale(dir)) {
		err = vbridge_fs_rec_resolve(fs, inode, fs->root);
		goto out;
	}
	err = 0;
	if (test_bit(VBRIDGE_I_RECOVERING, &VBRIDGE_I(dir)->state))
		goto out;
	err = vbridge_fs_rec_resolve(fs, inode, VBRIDGE_I(dir)->nodeid);
	if (err > 0 || (err < 0 && vbridge_fs_rec_fatal(err)))
		goto out;

	take_dentry_name_snapshot(&name, alias);
	len = name.name.len;
	if (len > VBRIDGE_FS_NAME_MAX) {
		release_dentry_name_snapshot(&name);
		err = -ENAMETOOLONG;
		goto out;
	}
	len = vbridge_fs_name_msg_init(&in, VBRIDGE_I(dir)->nodeid,
				       name.name.name, len);
	release_dentry_name_snapshot(&name);

	err = vbridge_fs_rec_call(fs, VBRIDGE_OP_FS_LOOKUP, &in, len,
				  &e, sizeof(e));
	if (err)
		goto out;
	err = vbridge_fs_rec_accept(fs, inode, &e);
	if (err)
		goto out;
	err = 1;
out:
	dput(parent);
	dput(alias);
	return err;
}

/* Open @vf's file or directory again with its access mode, on the new backend. */
static int vbridge_fs_rec_open(struct vbridge_fs *fs, struct inode *inode,
			       struct vbridge_file *vf)
{
	struct vbridge_fs_open_out out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_open_in open;
	} in = {};
	u32 flags;
	int err;

	if ((vf->mode & (FMODE_READ | FMODE_WRITE)) ==
	    (FMODE_READ | FMODE_WRITE))
		flags = O_RDWR;
	else if (vf->mode & FMODE_WRITE)
		flags = O_WRONLY;
	else
		flags = O_RDONLY;
	if (S_ISDIR(inode->i_mode))
		flags = O_RDONLY | O_DIRECTORY;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, 0);
	in.open.flags = cpu_to_le32(flags);
	err = vbridge_fs_rec_call(fs, S_ISDIR(inode->i_mode) ?
				  VBRIDGE_OP_FS_OPENDIR : VBRIDGE_OP_FS_OPEN,
				  &in, sizeof(in), &out, sizeof(out));
	if (err)
		return err;
	/* No user can send a request with it before the device runs. */
	WRITE_ONCE(vf->fh, le64_to_cpu(out.fh));
	return 0;
}

/*
 * Open every open file of @inode again.  The list may change while the
 * requests sleep: take references on a snapshot of it first.  Returns 0
 * or a fatal errno; a file that cannot be opened keeps its dead handle,
 * whose operations the new backend refuses.
 */
static int vbridge_fs_rec_files(struct vbridge_fs *fs, struct inode *inode)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_file **files, *vf;
	unsigned int n = 0, i, nr = 0;
	int err = 0, ret;

	spin_lock(&vi->lock);
	list_for_each_entry(vf, &vi->files, entry)
		n++;
	spin_unlock(&vi->lock);
	if (!n)
		return 0;
	files = kcalloc(n, sizeof(*files), GFP_KERNEL);
	if (!files)
		return -ENOMEM;
	spin_lock(&vi->lock);
	list_for_each_entry(vf, &vi->files, entry) {
		if (nr == n)
			break;
		if (refcount_inc_not_zero(&vf->ref))
			files[nr++] = vf;
	}
	spin_unlock(&vi->lock);

	for (i = 0; i < nr; i++) {
		if (!err) {
			ret = vbridge_fs_rec_open(fs, inode, files[i]);
			if (ret && vbridge_fs_rec_fatal(ret))
				err = ret;
			else if (ret)
				pr_warn_ratelimited("vbridgefs: inode %lu: cannot open again: %d\n",
						    inode->i_ino, ret);
		}
		/* As vbridge_fs_put_file(): release may wait for us. */
		if (refcount_dec_and_test(&files[i]->ref))
			wake_up_var(&files[i]->ref);
	}
	kfree(files);
	return err;
}

/* A lock the guest holds, to take again on the new backend. */
struct vbridge_fs_rec_lock {
	struct file *file;		/* referenced */
	fl_owner_t owner;
	u64 start, end;
	u32 type, kind;
};

/*
 * Note @fl (under flc_lock) in @l, with a reference on its file; false
 * if the file is being freed, which drops its locks anyway.
 */
static bool vbridge_fs_rec_note_lock(struct vbridge_fs_rec_lock *l,
				     struct file_lock *fl, u32 kind)
{
	struct file *file = vbridge_flc(fl, file);

	if (!file || !atomic_long_inc_not_zero(&file->f_count))
		return false;
	l->file = file;
	l->kind = kind;
	l->type = vbridge_flc(fl, type);
	if (kind == VBRIDGE_FS_LK_FLOCK) {
		/* As vbridge_fs_flock(): the open file owns it. */
		l->owner = file;
		l->start = 0;
		l->end = ~0ULL;
	} else {
		l->owner = vbridge_flc(fl, owner);
		l->start = fl->fl_start;
		l->end = fl->fl_end == OFFSET_MAX ? ~0ULL : fl->fl_end;
	}
	return true;
}

/*
 * Every lock on @inode's POSIX and flock lists in @locks (*@nr of them,
 * kfree()d and fput() by the caller).  Returns -EAGAIN if the lists grew
 * since they were counted: none may be missed.
 */
static int vbridge_fs_rec_snap_locks(struct file_lock_context *ctx,
				     struct vbridge_fs_rec_lock **locks,
				     unsigned int *nr)
{
	struct vbridge_fs_rec_lock *l;
	unsigned int n = 0, i = 0;
	struct file_lock *fl;

	*locks = NULL;
	*nr = 0;
	spin_lock(&ctx->flc_lock);
	for_each_file_lock(fl, &ctx->flc_posix)
		n++;
	for_each_file_lock(fl, &ctx->flc_flock)
		n++;
	spin_unlock(&ctx->flc_lock);
	if (!n)
		return 0;
	l = kcalloc(n, sizeof(*l), GFP_KERNEL);
	if (!l)
		return -ENOMEM;
	spin_lock(&ctx->flc_lock);
	for_each_file_lock(fl, &ctx->flc_posix) {
		if (i == n)
			goto grew;
		if (vbridge_fs_rec_note_lock(&l[i], fl,
					     (vbridge_flc(fl, flags) & FL_OFDLCK) ?
					     VBRIDGE_FS_LK_OFD :
					     VBRIDGE_FS_LK_POSIX))
			i++;
	}
	for_each_file_lock(fl, &ctx->flc_flock) {
		if (i == n)
			goto grew;
		if (vbridge_fs_rec_note_lock(&l[i], fl, VBRIDGE_FS_LK_FLOCK))
			i++;
	}
	spin_unlock(&ctx->flc_lock);
	*locks = l;
	*nr = i;
	return 0;
grew:
	spin_unlock(&ctx->flc_lock);
	while (i)
		fput(l[--i].file);
	kfree(l);
	return -EAGAIN;
}

static int vbridge_fs_rec_lock_one(struct vbridge_fs *fs, struct inode *inode,
				   const struct vbridge_fs_rec_lock *l)
{
	struct vbridge_file *vf = l->file->private_data;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_lock_in lock;
	} in = {};

	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, READ_ONCE(vf->fh));
	in.lock.owner = cpu_to_le64(vbridge_fs_owner_id(l->owner));
	in.lock.lk.start = cpu_to_le64(l->start);
	in.lock.lk.end = cpu_to_le64(l->end);
	in.lock.lk.type = cpu_to_le32(l->type);
	in.lock.kind = cpu_to_le32(l->kind);
	/* Never wait: whoever took it meanwhile holds it now. */
	return vbridge_fs_rec_call(fs, VBRIDGE_OP_FS_SETLK, &in, sizeof(in),
				   NULL, 0);
}

/*
 * Take the locks the guest holds on @inode again, after its files were
 * opened again.  One that cannot be taken marks the inode
 * VBRIDGE_I_LOCKS_LOST.  Returns 0 or a fatal errno.
 */
static int vbridge_fs_rec_locks(struct vbridge_fs *fs, struct inode *inode)
{
	struct file_lock_context *ctx = locks_inode_context(inode);
	struct vbridge_fs_rec_lock *locks;
	unsigned int nr, i, lost = 0;
	int err, ret;

	if (!ctx)
		return 0;
	do {
		err = vbridge_fs_rec_snap_locks(ctx, &locks, &nr);
	} while (err == -EAGAIN);
	if (err)
		return err;
	for (i = 0; i < nr; i++) {
		if (!err) {
			ret = vbridge_fs_rec_lock_one(fs, inode, &locks[i]);
			if (ret && vbridge_fs_rec_fatal(ret))
				err = ret;
			else if (ret)
				lost++;
		}
		fput(locks[i].file);
	}
	kfree(locks);
	if (lost) {
		set_bit(VBRIDGE_I_LOCKS_LOST, &VBRIDGE_I(inode)->state);
		pr_warn("vbridgefs: inode %lu: %u lock(s) not taken again on the new backend: its locks and I/O fail with EIO\n",
			inode->i_ino, lost);
	}
	return err;
}

/*
 * Hold @inode on the list @arg, out of the inode hash: no node id of the
 * old backend may match a new one.
 */
static int vbridge_fs_rec_hold(struct inode *inode, void *arg)
{
	struct list_head *list = arg;
	struct vbridge_fs_rec *r;

	r = kmalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	ihold(inode);
	r->inode = inode;
	list_add_tail(&r->node, list);
	/* Changes while no backend ran sent no INVAL events. */
	if (S_ISDIR(inode->i_mode))
		vbridge_fs_rdc_reset(inode);
	if (!vbridge_fs_is_stale(inode)) {
		set_bit(VBRIDGE_I_RECOVERING, &VBRIDGE_I(inode)->state);
		remove_inode_hash(inode);
	}
	return 0;
}

static int vbridge_fs_recover_sb(struct vbridge_fs *fs,
				 unsigned int *found, unsigned int *lost)
{
	struct vbridge_fs_rec *r, *tmp;
	struct inode *inode;
	LIST_HEAD(list);
	bool progress;
	int err, ret;

	/* FORGETs still queued name the old backend's nodes. */
	atomic_inc(&fs->epoch);
	err = vbridge_fs_iterate_inodes(fs->sb, vbridge_fs_rec_hold, &list);
	if (!err)
		err = vbridge_fs_rec_root(fs);

	/* Top down: each pass finds the inodes whose parent is found. */
	do {
		progress = false;
		list_for_each_entry(r, &list, node) {
			inode = r->inode;
			if (err)
				break;
			if (!test_bit(VBRIDGE_I_RECOVERING,
				      &VBRIDGE_I(inode)->state))
				continue;
			ret = vbridge_fs_rec_lookup(fs, inode);
			if (ret > 0) {
				progress = true;
			} else if (ret < 0 && vbridge_fs_rec_fatal(ret)) {
				err = ret;
			} else if (ret < 0) {
				vbridge_fs_rec_abandon(inode);
				progress = true;
			}
		}
	} while (progress && !err);

	list_for_each_entry_safe(r, tmp, &list, node) {
		inode = r->inode;
		if (test_bit(VBRIDGE_I_RECOVERING, &VBRIDGE_I(inode)->state)) {
			vbridge_fs_rec_abandon(inode);
			(*lost)++;
		} else if (!err && !vbridge_fs_is_stale(inode)) {
			(*found)++;
			if (S_ISREG(inode->i_mode) || S_ISDIR(inode->i_mode))
				err = vbridge_fs_rec_files(fs, inode);
			if (!err && S_ISREG(inode->i_mode))
				err = vbridge_fs_rec_locks(fs, inode);
		}
		/* No FORGET goes out: the device is not running yet. */
		iput(inode);
		kfree(r);
	}
	return err;
}

/*
 * Recover every mount of @vb on its new backend.  Called with
 * vbridge_dev.state_lock held, the device up but still BROKEN.  Returns
 * 0, or a negative errno if the device failed again (the caller resets
 * it); files that were not found again are only stale.
 */
int vbridge_fs_recover(struct vbridge_dev *vb)
{
	unsigned int found = 0, lost = 0;
	struct vbridge_fs *fs;
	int err = 0;

	mutex_lock(&vbridge_fs_lock);
	list_for_each_entry(fs, &vbridge_fs_supers, entry) {
		if (fs->vb != vb)
			continue;
		err = vbridge_fs_recover_sb(fs, &found, &lost);
		if (err)
			break;
	}
	mutex_unlock(&vbridge_fs_lock);
	if (found || lost || err)
		dev_info(&vb->vdev->dev, "%s: %u inode(s) found again, %u stale: %d\n",
			 vb->name, found, lost, err);
	return err;
}
