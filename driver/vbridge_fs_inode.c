// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs inodes: the inode cache keyed by node id, attributes and
 * their timeouts, setattr, symlinks and extended attributes.
 *
 * Attributes come from the device with a validity time.  Local changes
 * of an inode's size (writes, truncation) bump vbridge_inode.attr_version
 * so that a reply to a request sent before such a change cannot move the
 * size backwards.  Access checks are the VFS's (generic_permission()
 * and setattr_prepare(), as FUSE's default_permissions), from the cached
 * mode and owner, refreshed where they expired and the guest's check is
 * the only one; the device checks every request again as the caller.
 */

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <linux/xattr.h>

#include "vbridge.h"

static bool vbridge_fs_mode_ok(u32 mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return true;
	}
	return false;
}

/* Check an entry from the device: a node id and a sane file type. */
int vbridge_fs_check_entry(const struct vbridge_fs_entry_out *e)
{
	if (!e->nodeid || !vbridge_fs_mode_ok(le32_to_cpu(e->attr.mode)))
		return -EIO;
	return 0;
}

void vbridge_fs_inval_attr(struct inode *inode)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_fs_link *link;

	spin_lock(&vi->lock);
	vi->attr_expires = 0;
	link = rcu_replace_pointer(vi->link, NULL, lockdep_is_held(&vi->lock));
	spin_unlock(&vi->lock);
	if (link)
		kfree_rcu(link, rcu);
}

/*
 * Cache the target of symlink @inode (@len bytes, no NUL), unless the
 * mount caches nothing or a target is cached already.
 */
void vbridge_fs_set_link(struct inode *inode, const char *target, size_t len)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_fs_link *link;

	if (!S_ISLNK(inode->i_mode) ||
	    VBRIDGE_FS(inode->i_sb)->cache == VBRIDGE_FS_CACHE_NONE)
		return;
	link = kmalloc(struct_size(link, target, len + 1), GFP_KERNEL);
	if (!link)
		return;
	memcpy(link->target, target, len);
	link->target[len] = '\0';
	spin_lock(&vi->lock);
	if (!rcu_access_pointer(vi->link)) {
		rcu_assign_pointer(vi->link, link);
		link = NULL;
	}
	spin_unlock(&vi->lock);
	kfree(link);
}

static struct timespec64 vbridge_fs_ts(__le64 sec, __le32 nsec)
{
	return (struct timespec64){
		.tv_sec = le64_to_cpu(sec),
		.tv_nsec = min_t(u32, le32_to_cpu(nsec), NSEC_PER_SEC - 1),
	};
}

/*
 * Apply attributes fetched when vbridge_fs.attr_version was
 * @attr_version (0: the reply to a change of ours, or a new inode: apply
 * them unconditionally).  The file type never changes; the caller
 * checked it.
 *
 * The size of a regular file only moves when the attributes were
 * fetched after the last local change (vbridge_fs_local_change()), and
 * never below dirty folios, which are not on the device yet.  A new size
 * or mtime that is not ours means the file changed on the host: the page
 * cache goes, as with FUSE's auto_inval_data, in every cache mode.
 */
void vbridge_fs_update_attr(struct inode *inode,
			    const struct vbridge_fs_attr *attr, u64 valid_ns,
			    u64 attr_version)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct timespec64 mtime = vbridge_fs_ts(attr->mtime, attr->mtimensec);
	u64 size = min_t(u64, le64_to_cpu(attr->size), MAX_LFS_FILESIZE);
	u32 devidx = le32_to_cpu(attr->devidx);
	bool fresh, set_size, inval = false;
	struct timespec64 old_mtime;
	loff_t old_size;

	spin_lock(&vi->lock);
	fresh = !attr_version || attr_version > vi->attr_version;
	set_size = fresh || !S_ISREG(inode->i_mode);
	old_size = i_size_read(inode);
	old_mtime = inode_get_mtime(inode);
	if (S_ISREG(inode->i_mode) && fresh) {
		if (size < old_size &&
		    (mapping_tagged(inode->i_mapping, PAGECACHE_TAG_DIRTY) ||
		     mapping_tagged(inode->i_mapping, PAGECACHE_TAG_WRITEBACK)))
			set_size = false;
		else if (vi->local_change || !attr_version)
			vi->local_change = false;	/* ours: the new base */
		else
			inval = size != old_size ||
				!timespec64_equal(&mtime, &old_mtime);
	}
	/* Fetched before the host said it changed: maybe older than that. */
	if (attr_version && attr_version <= vi->inval_version)
		valid_ns = 0;
	vi->attr_expires = fresh ? vbridge_fs_timeout(fs, valid_ns) : 0;

	inode->i_mode = (inode->i_mode & S_IFMT) |
			(le32_to_cpu(attr->mode) & ~S_IFMT);
	/*
	 * Set-id bits or capabilities may have appeared on the device.
	 * Atomically: the VFS sets S_NOSEC under i_rwsem, not held here.
	 */
	inode_set_flags(inode, 0, S_NOSEC);
	set_nlink(inode, le32_to_cpu(attr->nlink));
	inode->i_uid = make_kuid(&init_user_ns, le32_to_cpu(attr->uid));
	inode->i_gid = make_kgid(&init_user_ns, le32_to_cpu(attr->gid));
	inode->i_blocks = le64_to_cpu(attr->blocks);
	inode_set_atime_to_ts(inode, vbridge_fs_ts(attr->atime,
						   attr->atimensec));
	inode_set_mtime_to_ts(inode, mtime);
	inode_set_ctime_to_ts(inode, vbridge_fs_ts(attr->ctime,
						   attr->ctimensec));
	if (set_size)
		i_size_write(inode, size);
	/* A node never moves between filesystems: ignore a bad index. */
	if (devidx <= VBRIDGE_FS_DEVIDX_MAX)
		vi->devidx = devidx;
	spin_unlock(&vi->lock);
	if (devidx > VBRIDGE_FS_DEVIDX_MAX)
		pr_warn_ratelimited("vbridgefs: bad device index %u from the device\n",
				    devidx);
	if (inval) {
		/* Dirty folios are written first (launder_folio): ours win. */
		if (size < old_size)
			truncate_pagecache(inode, size);
		invalidate_inode_pages2(inode->i_mapping);
	}
}

/*
 * The file's data or size is about to change, or just did, through
 * this guest (WRITE, SETATTR, FALLOCATE, COPY_FILE_RANGE): called before
 * the request and after the reply.  Attributes fetched before then must
 * not move the size backwards, and the mtime and size the device shows
 * next are ours, not a sign of a change on the host.  @size: the size
 * the file grew to, or -1.
 */
void vbridge_fs_local_change(struct inode *inode, loff_t size)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);

	spin_lock(&vi->lock);
	vi->attr_version = atomic64_inc_return(&VBRIDGE_FS(inode->i_sb)->attr_version);
	vi->local_change = true;
	if (size > i_size_read(inode))
		i_size_write(inode, size);
	vi->attr_expires = 0;
	spin_unlock(&vi->lock);
}

/*
 * The device's node that @inode was made for is another file now: what
 * is done through @inode fails with -ESTALE, and a lookup makes a new
 * inode (the root stays, stale).  Live inodes are never made bad: their
 * operations may be running.
 */
void vbridge_fs_make_stale(struct inode *inode)
{
	struct dentry *root = inode->i_sb->s_root;

	if (test_and_set_bit(VBRIDGE_I_STALE, &VBRIDGE_I(inode)->state))
		return;
	if (!root || d_inode(root) != inode)
		remove_inode_hash(inode);
	pr_warn_ratelimited("vbridgefs: node %llu changed its file type\n",
			    VBRIDGE_I(inode)->nodeid);
}

static int vbridge_fs_inode_set(struct inode *inode, void *data)
{
	VBRIDGE_I(inode)->nodeid = *(u64 *)data;
	return 0;
}

static void vbridge_fs_init_inode(struct inode *inode,
				  const struct vbridge_fs_attr *attr)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	u32 mode = le32_to_cpu(attr->mode);

	inode->i_ino = le64_to_cpu(attr->ino);
	inode->i_mode = mode & S_IFMT;
	/* The device keeps the times. */
	inode->i_flags |= S_NOATIME | S_NOCMTIME;
	switch (mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &vbridge_fs_file_iops;
		inode->i_fop = &vbridge_fs_file_fops;
		inode->i_mapping->a_ops = &vbridge_fs_aops;
		/*
		 * Any folio fits in one READ or WRITE.  With writeback a
		 * dirty folio is written back whole, so a small write into
		 * a large folio read ahead cost a WRITE of up to max_pages:
		 * pages only then (writeback still sends contiguous dirty
		 * folios in one WRITE, and readahead reads many per READ).
		 */
		if (!fs->writeback)
			mapping_set_folio_order_range(inode->i_mapping, 0,
						      ilog2(fs->max_pages));
		break;
	case S_IFDIR:
		inode->i_op = &vbridge_fs_dir_iops;
		inode->i_fop = &vbridge_fs_dir_fops;
		break;
	case S_IFLNK:
		inode->i_op = &vbridge_fs_symlink_iops;
		inode_nohighmem(inode);
		break;
	default:
		inode->i_op = &vbridge_fs_special_iops;
		init_special_inode(inode, mode & S_IFMT,
				   new_decode_dev(le32_to_cpu(attr->rdev)));
		break;
	}
}

/*
 * The inode of a validated entry (vbridge_fs_check_entry()), which holds
 * one lookup of its node; the lookup is given back when the inode is
 * evicted, or at once on failure.
 */
struct inode *vbridge_fs_iget(struct super_block *sb,
			      const struct vbridge_fs_entry_out *e,
			      u64 attr_version)
{
	u64 nodeid = le64_to_cpu(e->nodeid);
	u32 mode = le32_to_cpu(e->attr.mode);
	struct vbridge_inode *vi;
	struct inode *inode;

retry:
	inode = iget5_locked(sb, nodeid, vbridge_fs_inode_test,
			     vbridge_fs_inode_set, &nodeid);
	if (!inode) {
		vbridge_fs_forget(VBRIDGE_FS(sb), nodeid, 1);
		return ERR_PTR(-ENOMEM);
	}
	vi = VBRIDGE_I(inode);
	if (!(inode->i_state & I_NEW) && ((inode->i_mode ^ mode) & S_IFMT)) {
		/* Not the file the inode was made for: a new inode. */
		vbridge_fs_make_stale(inode);
		iput(inode);
		goto retry;
	}
	spin_lock(&vi->lock);
	vi->nlookup++;
	spin_unlock(&vi->lock);

	if (inode->i_state & I_NEW) {
		vbridge_fs_init_inode(inode, &e->attr);
		vbridge_fs_update_attr(inode, &e->attr,
				       attr_version ?
				       vbridge_fs_valid_since(VBRIDGE_FS(sb),
							      attr_version,
							      le64_to_cpu(e->attr_valid_ns)) :
				       le64_to_cpu(e->attr_valid_ns), 0);
		unlock_new_inode(inode);
		return inode;
	}
	vbridge_fs_update_attr(inode, &e->attr, le64_to_cpu(e->attr_valid_ns),
			       attr_version);
	return inode;
}

/*
 * Entry reply @e (checked) names @inode's node again, and adds a lookup
 * of it: count the lookup and take the attributes.  False, leaving the
 * lookup to the caller, if @e is another node or file type.
 */
bool vbridge_fs_entry_again(struct inode *inode,
			    const struct vbridge_fs_entry_out *e,
			    u64 attr_version)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);

	if (le64_to_cpu(e->nodeid) != vi->nodeid ||
	    ((inode->i_mode ^ le32_to_cpu(e->attr.mode)) & S_IFMT) ||
	    vbridge_fs_is_stale(inode))
		return false;
	spin_lock(&vi->lock);
	vi->nlookup++;
	spin_unlock(&vi->lock);
	vbridge_fs_update_attr(inode, &e->attr, le64_to_cpu(e->attr_valid_ns),
			       attr_version);
	return true;
}

/* GETATTR, or use the cached attributes while they are valid. */
int vbridge_fs_refresh_attr(struct inode *inode, bool force)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_fs_attr_out out;
	struct vbridge_fs_in in;
	u64 version;
	int err;

	if (vbridge_fs_is_stale(inode))
		return -ESTALE;
	if (!force &&
	    time_before64(get_jiffies_64(), READ_ONCE(vi->attr_expires)))
		return 0;
	version = atomic64_inc_return(&fs->attr_version);
	vbridge_fs_in_init(&in, vi->nodeid, 0);
	err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_GETATTR, &in, sizeof(in),
				&out, sizeof(out));
	if (err)
		return err;
	if ((inode->i_mode ^ le32_to_cpu(out.attr.mode)) & S_IFMT) {
		vbridge_fs_make_stale(inode);
		return -ESTALE;
	}
	vbridge_fs_update_attr(inode, &out.attr, le64_to_cpu(out.attr_valid_ns),
			       version);
	return 0;
}

static bool vbridge_fs_attr_expired(struct inode *inode)
{
	return !time_before64(get_jiffies_64(),
			      READ_ONCE(VBRIDGE_I(inode)->attr_expires));
}

/*
 * The VFS's access rules (sticky directories, renaming a directory to
 * another parent...) on the cached mode and owner.  Expired attributes
 * are fetched first where only the guest checks (exec, access(),
 * chdir); elsewhere the device checks again as the caller, and only a
 * refusal is checked again with fresh attributes.
 */
int vbridge_fs_permission(struct mnt_idmap *idmap, struct inode *inode,
			  int mask)
{
	bool fresh = false;
	int err;

	if (vbridge_fs_is_stale(inode))
		return -ESTALE;
	if (((mask & (MAY_ACCESS | MAY_CHDIR)) ||
	     ((mask & MAY_EXEC) && !S_ISDIR(inode->i_mode))) &&
	    vbridge_fs_attr_expired(inode)) {
		if (mask & MAY_NOT_BLOCK)
			return -ECHILD;
		err = vbridge_fs_refresh_attr(inode, false);
		if (err)
			return err;
		fresh = true;
	}
	err = generic_permission(idmap, inode, mask);
	if (err == -EACCES && !fresh) {
		if (mask & MAY_NOT_BLOCK)
			return -ECHILD;
		err = vbridge_fs_refresh_attr(inode, true) ?:
		      generic_permission(idmap, inode, mask);
	}
	return err;
}

/*
 * The st_dev of device index @devidx (1..VBRIDGE_FS_DEVIDX_MAX): an
 * anonymous device number of its own, allocated on first use, as btrfs
 * does for subvolumes.
 */
static int vbridge_fs_dev(struct vbridge_fs *fs, u32 devidx, dev_t *dev)
{
	dev_t *slot = &fs->devs[devidx - 1];
	int err = 0;

	*dev = READ_ONCE(*slot);
	if (*dev)
		return 0;
	mutex_lock(&fs->dev_lock);
	*dev = *slot;
	if (!*dev) {
		err = get_anon_bdev(dev);
		if (!err)
			WRITE_ONCE(*slot, *dev);
	}
	mutex_unlock(&fs->dev_lock);
	return err;
}

int vbridge_fs_getattr(struct mnt_idmap *idmap, const struct path *path,
		       struct kstat *stat, u32 mask, unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	u32 devidx;
	dev_t dev;
	int err = 0;

	if (!(flags & AT_STATX_DONT_SYNC))
		err = vbridge_fs_refresh_attr(inode,
					      flags & AT_STATX_FORCE_SYNC);
	if (err)
		return err;
	spin_lock(&vi->lock);
	devidx = vi->devidx;
	spin_unlock(&vi->lock);
	generic_fillattr(idmap, mask, inode, stat);
	/* Host filesystems mounted below the export: their own st_dev. */
	if (devidx) {
		err = vbridge_fs_dev(VBRIDGE_FS(inode->i_sb), devidx, &dev);
		if (err)
			return err;
		stat->dev = dev;
	}
	return 0;
}

int vbridge_fs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		       struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_file *vf = NULL;
	struct vbridge_fs_attr_out out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_setattr_in set;
	} in = {};
	unsigned int ia;
	u32 valid = 0;
	int err;

	if (vbridge_fs_is_stale(inode))
		return -ESTALE;
	/*
	 * The device's WRITE, truncation and chown drop security.capability
	 * as the host kernel does; the caller could not remove it here.
	 */
	attr->ia_valid &= ~ATTR_KILL_PRIV;
	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;
	ia = attr->ia_valid;
	/*
	 * Set-id bits to clear for a write or truncation: the VFS made
	 * ATTR_MODE from the cached mode, and the caller need not own the
	 * file; the device clears them from the current mode.  A chown
	 * clears them on the device by itself.
	 */
	if (ia & (ATTR_KILL_SUID | ATTR_KILL_SGID)) {
		ia &= ~ATTR_MODE;
		if (!(ia & (ATTR_UID | ATTR_GID)) && S_ISREG(inode->i_mode)) {
			if (ia & ATTR_KILL_SUID)
				valid |= VBRIDGE_FS_SET_KILL_SUID;
			if (ia & ATTR_KILL_SGID)
				valid |= VBRIDGE_FS_SET_KILL_SGID;
		}
	}
	/*
	 * ftruncate() and O_TRUNC: the device's truncation sets mtime and
	 * ctime itself, with the write access a non-owner has.
	 */
	if ((ia & ATTR_SIZE) && !(ia & ATTR_MTIME_SET))
		ia &= ~ATTR_MTIME;
	if (ia & ATTR_FILE)
		vf = attr->ia_file->private_data;

	if (ia & ATTR_MODE) {
		valid |= VBRIDGE_FS_SET_MODE;
		in.set.mode = cpu_to_le32(attr->ia_mode & 07777);
	}
	if (ia & ATTR_UID) {
		valid |= VBRIDGE_FS_SET_UID;
		in.set.uid = cpu_to_le32(from_kuid(&init_user_ns,
						   attr->ia_uid));
	}
	if (ia & ATTR_GID) {
		valid |= VBRIDGE_FS_SET_GID;
		in.set.gid = cpu_to_le32(from_kgid(&init_user_ns,
						   attr->ia_gid));
	}
	if (ia & ATTR_SIZE) {
		if (!S_ISREG(inode->i_mode))
			return S_ISDIR(inode->i_mode) ? -EISDIR : -EINVAL;
		valid |= VBRIDGE_FS_SET_SIZE;
		in.set.size = cpu_to_le64(attr->ia_size);
		/*
		 * No folio at or beyond the new end (or the old one, when
		 * growing) may be written back after the SETATTR: they are
		 * written back and dropped, and kept out until it is done.
		 */
		filemap_invalidate_lock(inode->i_mapping);
		err = vbridge_fs_drop_range(inode, min_t(loff_t, attr->ia_size,
							 i_size_read(inode)),
					    LLONG_MAX);
		if (err)
			goto out;
		vbridge_fs_local_change(inode, -1);
	}
	if (ia & ATTR_ATIME) {
		if (ia & ATTR_ATIME_SET) {
			valid |= VBRIDGE_FS_SET_ATIME;
			in.set.atime = cpu_to_le64(attr->ia_atime.tv_sec);
			in.set.atimensec = cpu_to_le32(attr->ia_atime.tv_nsec);
		} else {
			valid |= VBRIDGE_FS_SET_ATIME_NOW;
		}
	}
	if (ia & ATTR_MTIME) {
		if (ia & ATTR_MTIME_SET) {
			valid |= VBRIDGE_FS_SET_MTIME;
			in.set.mtime = cpu_to_le64(attr->ia_mtime.tv_sec);
			in.set.mtimensec = cpu_to_le32(attr->ia_mtime.tv_nsec);
		} else {
			valid |= VBRIDGE_FS_SET_MTIME_NOW;
		}
	}
	if (!valid) {
		/* ctime alone, e.g. from a kill of suid bits already gone. */
		vbridge_fs_inval_attr(inode);
		return 0;
	}
	if (vf && S_ISREG(inode->i_mode) && (vf->mode & FMODE_WRITE))
		valid |= VBRIDGE_FS_SET_FH;
	in.set.valid = cpu_to_le32(valid);
	vbridge_fs_in_init(&in.fs, vi->nodeid, vf ? vf->fh : 0);

	err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_SETATTR, &in, sizeof(in),
				&out, sizeof(out));
	if (ia & ATTR_SIZE)
		vbridge_fs_local_change(inode, -1);
	if (err)
		goto out;
	if ((inode->i_mode ^ le32_to_cpu(out.attr.mode)) & S_IFMT) {
		vbridge_fs_make_stale(inode);
		err = -ESTALE;
		goto out;
	}
	if (ia & ATTR_SIZE)
		truncate_setsize(inode, attr->ia_size);
	vbridge_fs_update_attr(inode, &out.attr, le64_to_cpu(out.attr_valid_ns),
			       0);
out:
	if (ia & ATTR_SIZE)
		filemap_invalidate_unlock(inode->i_mapping);
	return err;
}

/* Symlinks */

static void vbridge_fs_free_link(void *buf)
{
	kfree(buf);
}

static const char *vbridge_fs_get_link(struct dentry *dentry,
				       struct inode *inode,
				       struct delayed_call *done)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_fs_in in;
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_FS_READLINK,
		.flags = VBRIDGE_REQ_KILLABLE,
		.in = &in,
		.in_len = sizeof(in),
		.out_len = VBRIDGE_FS_PATH_MAX - 1,
	};
	struct vbridge_fs_link *link;
	char *buf;
	int err;

	if (!dentry) {
		/* RCU walk: the caller is in an RCU read-side section. */
		link = rcu_dereference(VBRIDGE_I(inode)->link);
		return link ? link->target : ERR_PTR(-ECHILD);
	}
	buf = kmalloc(VBRIDGE_FS_PATH_MAX, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	set_delayed_call(done, vbridge_fs_free_link, buf);
	rcu_read_lock();
	link = rcu_dereference(VBRIDGE_I(inode)->link);
	if (link)
		strscpy(buf, link->target, VBRIDGE_FS_PATH_MAX);
	rcu_read_unlock();
	if (link)
		return buf;
	args.out = buf;
	vbridge_fs_in_init(&in, VBRIDGE_I(inode)->nodeid, 0);
	err = vbridge_fs_call(fs, &args, 1);
	if (!err && (args.out_actual > args.out_len ||
		     memchr(buf, '\0', args.out_actual)))
		err = -EIO;
	if (err)
		return ERR_PTR(err);
	buf[args.out_actual] = '\0';
	vbridge_fs_set_link(inode, buf, args.out_actual);
	return buf;
}

/* Extended attributes */

static int vbridge_fs_xattr_get(const struct xattr_handler *handler,
				struct dentry *dentry, struct inode *inode,
				const char *name, void *value, size_t size)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	const char *full = xattr_full_name(handler, name);
	size_t namelen = strlen(full);
	struct vbridge_fs_xattr_out xout;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_getxattr_in get;
		char name[VBRIDGE_FS_XATTR_NAME_MAX];
	} in;
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_FS_GETXATTR,
		.flags = VBRIDGE_REQ_KILLABLE,
		.in = &in,
	};
	int err;

	if (namelen > VBRIDGE_FS_XATTR_NAME_MAX)
		return -ERANGE;
	size = min_t(size_t, size, VBRIDGE_FS_XATTR_SIZE_MAX);
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, 0);
	in.get.size = cpu_to_le32(size);
	in.get.namelen = cpu_to_le32(namelen);
	memcpy(in.name, full, namelen);
	args.in_len = offsetof(typeof(in), name) + namelen;
	if (size) {
		args.out = value;
		args.out_len = size;
	} else {
		args.out = &xout;
		args.out_len = sizeof(xout);
	}
	err = vbridge_fs_call(fs, &args, size ? 0 : sizeof(xout));
	if (err)
		return err;
	if (!size)
		return min_t(u32, le32_to_cpu(xout.size),
			     VBRIDGE_FS_XATTR_SIZE_MAX);
	return min(args.out_actual, args.out_len);
}

static int vbridge_fs_xattr_set(const struct xattr_handler *handler,
				struct mnt_idmap *idmap,
				struct dentry *dentry, struct inode *inode,
				const char *name, const void *value,
				size_t size, int flags)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	const char *full = xattr_full_name(handler, name);
	size_t namelen = strlen(full);
	struct vbridge_fs_setxattr_in *set;
	struct vbridge_fs_name_in *rm;
	struct vbridge_fs_in *fsin;
	size_t len;
	void *msg;
	u32 opcode;
	int err;

	if (namelen > VBRIDGE_FS_XATTR_NAME_MAX)
		return -ERANGE;
	if (size > VBRIDGE_FS_XATTR_SIZE_MAX)
		return -E2BIG;
	len = sizeof(*fsin) + sizeof(*set) + namelen + size;
	msg = kvzalloc(len, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	fsin = msg;
	vbridge_fs_in_init(fsin, VBRIDGE_I(inode)->nodeid, 0);
	if (value) {
		opcode = VBRIDGE_OP_FS_SETXATTR;
		set = msg + sizeof(*fsin);
		set->size = cpu_to_le32(size);
		set->flags = cpu_to_le32(flags);
		set->namelen = cpu_to_le32(namelen);
		memcpy(set + 1, full, namelen);
		memcpy((void *)(set + 1) + namelen, value, size);
	} else {
		opcode = VBRIDGE_OP_FS_REMOVEXATTR;
		rm = msg + sizeof(*fsin);
		rm->namelen = cpu_to_le32(namelen);
		memcpy(rm + 1, full, namelen);
		len = sizeof(*fsin) + sizeof(*rm) + namelen;
	}
	err = vbridge_fs_simple(fs, opcode, msg, len, NULL, 0);
	kvfree(msg);
	if (!err)
		vbridge_fs_inval_attr(inode);
	return err;
}

ssize_t vbridge_fs_listxattr(struct dentry *dentry, char *list, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_fs_xattr_out xout;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_getxattr_in get;
	} in = {};
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_FS_LISTXATTR,
		.flags = VBRIDGE_REQ_KILLABLE,
		.in = &in,
		.in_len = sizeof(in),
	};
	int err;

	size = min_t(size_t, size, VBRIDGE_FS_XATTR_SIZE_MAX);
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, 0);
	in.get.size = cpu_to_le32(size);
	if (size) {
		args.out = list;
		args.out_len = size;
	} else {
		args.out = &xout;
		args.out_len = sizeof(xout);
	}
	err = vbridge_fs_call(fs, &args, size ? 0 : sizeof(xout));
	if (err)
		return err;
	if (!size)
		return min_t(u32, le32_to_cpu(xout.size),
			     VBRIDGE_FS_XATTR_SIZE_MAX);
	/* A list is a sequence of NUL-terminated names. */
	if (args.out_actual > size ||
	    (args.out_actual && list[args.out_actual - 1]))
		return -EIO;
	return args.out_actual;
}

static const struct xattr_handler vbridge_fs_user_xattr = {
	.prefix	= XATTR_USER_PREFIX,
	.get	= vbridge_fs_xattr_get,
	.set	= vbridge_fs_xattr_set,
};

static const struct xattr_handler vbridge_fs_trusted_xattr = {
	.prefix	= XATTR_TRUSTED_PREFIX,
	.get	= vbridge_fs_xattr_get,
	.set	= vbridge_fs_xattr_set,
};

static const struct xattr_handler vbridge_fs_security_xattr = {
	.prefix	= XATTR_SECURITY_PREFIX,
	.get	= vbridge_fs_xattr_get,
	.set	= vbridge_fs_xattr_set,
};

const struct xattr_handler * const vbridge_fs_xattr_handlers[] = {
	&vbridge_fs_user_xattr,
	&vbridge_fs_trusted_xattr,
	&vbridge_fs_security_xattr,
	NULL
};

const struct inode_operations vbridge_fs_file_iops = {
	.permission	= vbridge_fs_permission,
	.getattr	= vbridge_fs_getattr,
	.setattr	= vbridge_fs_setattr,
	.listxattr	= vbridge_fs_listxattr,
};

const struct inode_operations vbridge_fs_symlink_iops = {
	.permission	= vbridge_fs_permission,
	.get_link	= vbridge_fs_get_link,
	.getattr	= vbridge_fs_getattr,
	.setattr	= vbridge_fs_setattr,
	.listxattr	= vbridge_fs_listxattr,
};

const struct inode_operations vbridge_fs_special_iops = {
	.permission	= vbridge_fs_permission,
	.getattr	= vbridge_fs_getattr,
	.setattr	= vbridge_fs_setattr,
	.listxattr	= vbridge_fs_listxattr,
};
