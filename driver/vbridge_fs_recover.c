// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs: recovering the mounts when a new backend takes over.
 *
 * The new backend knows none of the node ids and handles the driver
 * holds.  Once the device is up again (vbridge_recover_work()), each
 * mount of the device is mounted again, and each live inode is found
 * again by name from its parent, top down, and accepted only if it is
 * the same file: same host inode number, file type and host filesystem.
 * Open regular files are opened again with their access mode, so that
 * their descriptors keep working.
 *
 * What cannot be found again (unlinked, renamed or replaced while the
 * backend was away, or with no dentry left) goes stale: its operations
 * fail with -ESTALE.  Handles of open directories, POSIX locks and
 * requests that were in flight are not recovered.
 *
 * Everything here runs with vbridge_dev.state_lock held and the device
 * still BROKEN: only these requests (VBRIDGE_REQ_INIT) reach the backend,
 * so no other request can use a node id while it changes.
 */

#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/slab.h>

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

/* Not found again: stale, with no lookup of any backend's node. */
static void vbridge_fs_rec_abandon(struct inode *inode)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);

	spin_lock(&vi->lock);
	vi->nlookup = 0;
	spin_unlock(&vi->lock);
	set_bit(VBRIDGE_I_STALE, &vi->state);
	clear_bit(VBRIDGE_I_RECOVERING, &vi->state);
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
	if (!vbridge_fs_rec_same(root, &e)) {
		if (e.nodeid)
			vbridge_fs_rec_forget(fs, le64_to_cpu(e.nodeid));
		return -ESTALE;
	}
	vbridge_fs_rec_adopt(root, &e);
	fs->root = le64_to_cpu(e.nodeid);
	return 0;
}

/*
 * Find @inode again under its parent.  Returns 1 when found, 0 when its
 * parent is not found yet, or a negative errno.
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

	alias = d_find_any_alias(inode);
	if (!alias)
		return -ENOENT;
	parent = dget_parent(alias);
	dir = d_inode(parent);
	err = -ENOENT;
	if (parent == alias || d_unlinked(alias))
		goto out;
	err = -ESTALE;
	if (vbridge_fs_is_stale(dir))
		goto out;
	err = 0;
	if (test_bit(VBRIDGE_I_RECOVERING, &VBRIDGE_I(dir)->state))
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
	if (!vbridge_fs_rec_same(inode, &e)) {
		if (e.nodeid)
			vbridge_fs_rec_forget(fs, le64_to_cpu(e.nodeid));
		err = -ESTALE;
		goto out;
	}
	vbridge_fs_rec_adopt(inode, &e);
	err = 1;
out:
	dput(parent);
	dput(alias);
	return err;
}

/* Open @vf's file again with its access mode, on the new backend. */
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
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, 0);
	in.open.flags = cpu_to_le32(flags);
	err = vbridge_fs_rec_call(fs, VBRIDGE_OP_FS_OPEN, &in, sizeof(in),
				  &out, sizeof(out));
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

/*
 * Hold every live inode of @sb on @list, out of the inode hash: no node
 * id of the old backend may match a new one.  The reference taken on
 * each also keeps our place in @sb's list while we sleep.
 */
static int vbridge_fs_rec_collect(struct super_block *sb,
				  struct list_head *list)
{
	struct vbridge_fs_rec *r;
	struct inode *inode;

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

		r = kmalloc(sizeof(*r), GFP_KERNEL);
		if (!r) {
			iput(inode);
			return -ENOMEM;
		}
		r->inode = inode;
		list_add_tail(&r->node, list);
		if (!vbridge_fs_is_stale(inode)) {
			set_bit(VBRIDGE_I_RECOVERING, &VBRIDGE_I(inode)->state);
			remove_inode_hash(inode);
		}
		cond_resched();
		spin_lock(&sb->s_inode_list_lock);
	}
	spin_unlock(&sb->s_inode_list_lock);
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
	err = vbridge_fs_rec_collect(fs->sb, &list);
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
			if (S_ISREG(inode->i_mode))
				err = vbridge_fs_rec_files(fs, inode);
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
