// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs directories: lookup and dentry revalidation, the namespace
 * operations and directory files (readdir: vbridge_fs_readdir.c).
 *
 * A dentry is valid until dentry->d_time (get_jiffies_64(); 0 is
 * expired), set from the entry timeout of the reply that produced it: a
 * LOOKUP, a creation or a READDIR record.
 * Negative dentries are kept for the device's entry timeout (the root's,
 * from MOUNT: an ENOENT carries none), and INVAL_ENTRY events expire
 * them early when a name appears on the host.
 */

#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "vbridge.h"

void vbridge_fs_set_entry_timeout(struct dentry *dentry, u64 valid_ns)
{
	u64 expires = valid_ns ? vbridge_fs_timeout(VBRIDGE_FS(dentry->d_sb),
						    valid_ns) : 0;

	WRITE_ONCE(dentry->d_time, expires);
}

/*
 * A name in @dir came, went or moved, here or on the host: its
 * attributes (mtime, nlink) and its cached listing are out of date.
 */
void vbridge_fs_dir_changed(struct inode *dir)
{
	vbridge_fs_inval_attr(dir);
	vbridge_fs_rdc_reset(dir);
}

bool vbridge_fs_entry_valid(struct dentry *dentry)
{
	return time_before64(get_jiffies_64(), (u64)READ_ONCE(dentry->d_time));
}

static int vbridge_fs_name_check(const struct qstr *name)
{
	return name->len > VBRIDGE_FS_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* LOOKUP @name in @dir; the entry holds one lookup on success. */
static int vbridge_fs_do_lookup(struct inode *dir, const struct qstr *name,
				struct vbridge_fs_entry_out *e)
{
	struct vbridge_fs_name_msg in;
	u32 len;
	int err;

	err = vbridge_fs_name_check(name);
	if (err)
		return err;
	/* Names of @dir are being looked up: listings should say more. */
	if (test_bit(VBRIDGE_I_RD_NAMES, &VBRIDGE_I(dir)->state))
		clear_bit(VBRIDGE_I_RD_NAMES, &VBRIDGE_I(dir)->state);
	len = vbridge_fs_name_msg_init(&in, VBRIDGE_I(dir)->nodeid,
				       name->name, name->len);
	err = vbridge_fs_simple(VBRIDGE_FS(dir->i_sb), VBRIDGE_OP_FS_LOOKUP,
				&in, len, e, sizeof(*e));
	if (err)
		return err;
	err = vbridge_fs_check_entry(e);
	if (err && e->nodeid)
		vbridge_fs_forget(VBRIDGE_FS(dir->i_sb),
				  le64_to_cpu(e->nodeid), 1);
	return err;
}

static struct dentry *vbridge_fs_lookup(struct inode *dir,
					struct dentry *dentry,
					unsigned int flags)
{
	struct vbridge_fs *fs = VBRIDGE_FS(dir->i_sb);
	struct vbridge_fs_entry_out e;
	struct inode *inode = NULL;
	struct dentry *res;
	u64 version;
	int err;

	version = atomic64_inc_return(&fs->attr_version);
	err = vbridge_fs_do_lookup(dir, &dentry->d_name, &e);
	if (err == -ENOENT) {
		res = d_splice_alias(NULL, dentry);
		vbridge_fs_set_entry_timeout(dentry,
					     vbridge_fs_valid_since(fs, version,
								    fs->neg_valid_ns));
		return res;
	}
	if (err)
		return ERR_PTR(err);
	inode = vbridge_fs_iget(dir->i_sb, &e, version);
	if (IS_ERR(inode))
		return ERR_CAST(inode);
	res = d_splice_alias(inode, dentry);
	if (!IS_ERR(res))
		vbridge_fs_set_entry_timeout(res ?: dentry,
					     vbridge_fs_valid_since(fs, version,
								    le64_to_cpu(e.entry_valid_ns)));
	return res;
}

static int vbridge_fs_d_revalidate(struct dentry *dentry, unsigned int flags)
{
	struct vbridge_fs *fs = VBRIDGE_FS(dentry->d_sb);
	struct vbridge_fs_entry_out e;
	struct inode *inode, *dir;
	struct dentry *parent;
	u64 version;
	int err;

	if (vbridge_fs_entry_valid(dentry))
		return 1;
	inode = d_inode_rcu(dentry);
	if (!inode || (flags & LOOKUP_RCU))
		return inode ? -ECHILD : 0;
	if (vbridge_fs_is_stale(inode))
		return 0;

	parent = dget_parent(dentry);
	dir = d_inode(parent);
	version = atomic64_inc_return(&fs->attr_version);
	err = vbridge_fs_do_lookup(dir, &dentry->d_name, &e);
	if (!err && !vbridge_fs_entry_again(inode, &e, version)) {
		vbridge_fs_forget(fs, le64_to_cpu(e.nodeid), 1);
		err = -ENOENT;
	}
	/* Gone or replaced, though no event said so: the listing too. */
	if (err == -ENOENT)
		vbridge_fs_rdc_reset(dir);
	dput(parent);
	if (err)
		return err == -ENOENT ? 0 : err;
	vbridge_fs_set_entry_timeout(dentry,
				     vbridge_fs_valid_since(fs, version,
							    le64_to_cpu(e.entry_valid_ns)));
	return 1;
}

const struct dentry_operations vbridge_fs_dentry_ops = {
	.d_revalidate	= vbridge_fs_d_revalidate,
};

/*
 * Finish a request that created @dentry in @dir and answered with @e:
 * instantiate it.
 */
static int vbridge_fs_instantiate(struct inode *dir, struct dentry *dentry,
				  const struct vbridge_fs_entry_out *e)
{
	struct inode *inode;
	struct dentry *alias;

	inode = vbridge_fs_entry_inode(dir, e, 0, VBRIDGE_FS_ENTRY_CREATED);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
	d_drop(dentry);
	alias = d_splice_alias(inode, dentry);
	if (IS_ERR(alias))
		return PTR_ERR(alias);
	if (alias) {
		vbridge_fs_set_entry_timeout(alias,
					     le64_to_cpu(e->entry_valid_ns));
		dput(alias);
	} else {
		vbridge_fs_set_entry_timeout(dentry,
					     le64_to_cpu(e->entry_valid_ns));
	}
	return 0;
}

/* MKNOD and MKDIR. */
static int vbridge_fs_make(struct inode *dir, struct dentry *dentry,
			   u32 opcode, umode_t mode, dev_t rdev)
{
	struct vbridge_fs_entry_out e;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_mknod_in mk;
		char name[VBRIDGE_FS_NAME_MAX];
	} in;
	int err;

	err = vbridge_fs_name_check(&dentry->d_name);
	if (err)
		return err;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(dir)->nodeid, 0);
	in.mk.mode = cpu_to_le32(mode);
	in.mk.rdev = cpu_to_le32(new_encode_dev(rdev));
	in.mk.namelen = cpu_to_le32(dentry->d_name.len);
	in.mk.padding = 0;
	memcpy(in.name, dentry->d_name.name, dentry->d_name.len);
	err = vbridge_fs_simple(VBRIDGE_FS(dir->i_sb), opcode, &in,
				offsetof(typeof(in), name) + dentry->d_name.len,
				&e, sizeof(e));
	return err ?: vbridge_fs_instantiate(dir, dentry, &e);
}

static int vbridge_fs_mknod(struct mnt_idmap *idmap, struct inode *dir,
			    struct dentry *dentry, umode_t mode, dev_t rdev)
{
	return vbridge_fs_make(dir, dentry, VBRIDGE_OP_FS_MKNOD, mode, rdev);
}

static int vbridge_fs_create(struct mnt_idmap *idmap, struct inode *dir,
			     struct dentry *dentry, umode_t mode, bool excl)
{
	return vbridge_fs_make(dir, dentry, VBRIDGE_OP_FS_MKNOD,
			       (mode & 07777) | S_IFREG, 0);
}

static int vbridge_fs_mkdir(struct mnt_idmap *idmap, struct inode *dir,
			    struct dentry *dentry, umode_t mode)
{
	int err = vbridge_fs_make(dir, dentry, VBRIDGE_OP_FS_MKDIR,
				  (mode & 07777) | S_IFDIR, 0);

	/* Names made in it here are cached as they are made. */
	if (!err && d_really_is_positive(dentry))
		set_bit(VBRIDGE_I_RD_NAMES, &VBRIDGE_I(d_inode(dentry))->state);
	return err;
}

static int vbridge_fs_symlink(struct mnt_idmap *idmap, struct inode *dir,
			      struct dentry *dentry, const char *target)
{
	size_t tlen = strlen(target), nlen = dentry->d_name.len;
	struct vbridge_fs_symlink_in *sl;
	struct vbridge_fs_entry_out e;
	struct vbridge_fs_in *fsin;
	size_t len;
	void *msg;
	int err;

	err = vbridge_fs_name_check(&dentry->d_name);
	if (err)
		return err;
	if (tlen >= VBRIDGE_FS_PATH_MAX)
		return -ENAMETOOLONG;
	len = sizeof(*fsin) + sizeof(*sl) + nlen + tlen;
	msg = kmalloc(len, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	fsin = msg;
	sl = msg + sizeof(*fsin);
	vbridge_fs_in_init(fsin, VBRIDGE_I(dir)->nodeid, 0);
	sl->namelen = cpu_to_le32(nlen);
	sl->targetlen = cpu_to_le32(tlen);
	memcpy(sl + 1, dentry->d_name.name, nlen);
	memcpy((void *)(sl + 1) + nlen, target, tlen);
	err = vbridge_fs_simple(VBRIDGE_FS(dir->i_sb), VBRIDGE_OP_FS_SYMLINK,
				msg, len, &e, sizeof(e));
	kfree(msg);
	if (!err)
		err = vbridge_fs_instantiate(dir, dentry, &e);
	/* Known: the next readlink needs no READLINK. */
	if (!err && d_really_is_positive(dentry))
		vbridge_fs_set_link(d_inode(dentry), target, tlen);
	return err;
}

static int vbridge_fs_link(struct dentry *old, struct inode *dir,
			   struct dentry *dentry)
{
	struct inode *inode = d_inode(old);
	struct vbridge_fs_entry_out e;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_link_in link;
		char name[VBRIDGE_FS_NAME_MAX];
	} in;
	int err;

	err = vbridge_fs_name_check(&dentry->d_name);
	if (err)
		return err;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, 0);
	in.link.newparent = cpu_to_le64(VBRIDGE_I(dir)->nodeid);
	in.link.namelen = cpu_to_le32(dentry->d_name.len);
	in.link.padding = 0;
	memcpy(in.name, dentry->d_name.name, dentry->d_name.len);
	err = vbridge_fs_simple(VBRIDGE_FS(dir->i_sb), VBRIDGE_OP_FS_LINK, &in,
				offsetof(typeof(in), name) + dentry->d_name.len,
				&e, sizeof(e));
	if (err)
		return err;
	if (le64_to_cpu(e.nodeid) != VBRIDGE_I(inode)->nodeid) {
		/* A hard link is the same node. */
		vbridge_fs_forget(VBRIDGE_FS(dir->i_sb), le64_to_cpu(e.nodeid),
				  1);
		return -EIO;
	}
	return vbridge_fs_instantiate(dir, dentry, &e);
}

/* UNLINK and RMDIR. */
static int vbridge_fs_remove(struct inode *dir, struct dentry *dentry,
			     u32 opcode)
{
	struct inode *inode = d_inode(dentry);
	struct vbridge_fs_name_msg in;
	u32 len;
	int err;

	len = vbridge_fs_name_msg_init(&in, VBRIDGE_I(dir)->nodeid,
				       dentry->d_name.name, dentry->d_name.len);
	err = vbridge_fs_simple(VBRIDGE_FS(dir->i_sb), opcode, &in, len,
				NULL, 0);
	if (err)
		return err;
	vbridge_fs_dir_changed(dir);
	vbridge_fs_inval_attr(inode);
	if (opcode == VBRIDGE_OP_FS_RMDIR)
		clear_nlink(inode);
	else if (inode->i_nlink)
		drop_nlink(inode);
	return 0;
}

static int vbridge_fs_unlink(struct inode *dir, struct dentry *dentry)
{
	return vbridge_fs_remove(dir, dentry, VBRIDGE_OP_FS_UNLINK);
}

static int vbridge_fs_rmdir(struct inode *dir, struct dentry *dentry)
{
	return vbridge_fs_remove(dir, dentry, VBRIDGE_OP_FS_RMDIR);
}

static int vbridge_fs_rename(struct mnt_idmap *idmap, struct inode *olddir,
			     struct dentry *old, struct inode *newdir,
			     struct dentry *new, unsigned int flags)
{
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_rename_in ren;
		char names[2 * VBRIDGE_FS_NAME_MAX];
	} in;
	u32 olen = old->d_name.len, nlen = new->d_name.len, wflags = 0;
	int err;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	err = vbridge_fs_name_check(&new->d_name);
	if (err)
		return err;
	if (flags & RENAME_NOREPLACE)
		wflags |= VBRIDGE_FS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		wflags |= VBRIDGE_FS_RENAME_EXCHANGE;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(olddir)->nodeid, 0);
	in.ren.newparent = cpu_to_le64(VBRIDGE_I(newdir)->nodeid);
	in.ren.flags = cpu_to_le32(wflags);
	in.ren.oldnamelen = cpu_to_le32(olen);
	in.ren.newnamelen = cpu_to_le32(nlen);
	in.ren.padding = 0;
	memcpy(in.names, old->d_name.name, olen);
	memcpy(in.names + olen, new->d_name.name, nlen);
	err = vbridge_fs_simple(VBRIDGE_FS(olddir->i_sb), VBRIDGE_OP_FS_RENAME,
				&in, offsetof(typeof(in), names) + olen + nlen,
				NULL, 0);
	if (err)
		return err;
	vbridge_fs_dir_changed(olddir);
	vbridge_fs_dir_changed(newdir);
	vbridge_fs_inval_attr(d_inode(old));
	if (d_really_is_positive(new)) {
		struct inode *target = d_inode(new);

		vbridge_fs_inval_attr(target);
		if (!(flags & RENAME_EXCHANGE)) {
			if (S_ISDIR(target->i_mode))
				clear_nlink(target);
			else if (target->i_nlink)
				drop_nlink(target);
		}
	}
	return 0;
}

/*
 * CREATE @dentry and open it into @file.  @dentry may still be in lookup
 * (no LOOKUP was sent): then @flags has O_EXCL, and it is spliced in.
 */
static int vbridge_fs_create_open(struct inode *dir, struct dentry *dentry,
				  struct file *file, unsigned int flags,
				  umode_t mode)
{
	struct vbridge_fs *fs = VBRIDGE_FS(dir->i_sb);
	struct {
		struct vbridge_fs_entry_out e;
		struct vbridge_fs_open_out o;
	} out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_open_in open;
		char name[VBRIDGE_FS_NAME_MAX];
	} in;
	struct inode *inode;
	u32 wflags;
	int err;

	err = vbridge_fs_name_check(&dentry->d_name);
	if (err)
		return err;
	wflags = vbridge_fs_wire_flags(fs, flags) | (flags & O_EXCL);
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(dir)->nodeid, 0);
	in.open.flags = cpu_to_le32(wflags);
	in.open.mode = cpu_to_le32(mode & 07777);
	in.open.namelen = cpu_to_le32(dentry->d_name.len);
	in.open.padding = 0;
	memcpy(in.name, dentry->d_name.name, dentry->d_name.len);
	err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_CREATE, &in,
				offsetof(typeof(in), name) + dentry->d_name.len,
				&out, sizeof(out));
	if (err)
		return err;
	inode = vbridge_fs_entry_inode(dir, &out.e, 0,
				       VBRIDGE_FS_ENTRY_CREATED |
				       VBRIDGE_FS_ENTRY_REG);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto err_release;
	}
	if (d_in_lookup(dentry)) {
		/* A regular file has no alias to splice instead. */
		struct dentry *alias = d_splice_alias(inode, dentry);

		if (IS_ERR(alias)) {
			err = PTR_ERR(alias);
			goto err_release;
		}
		if (alias) {
			dput(alias);
			err = -EIO;
			goto err_release;
		}
	} else {
		d_instantiate(dentry, inode);
	}
	vbridge_fs_set_entry_timeout(dentry, le64_to_cpu(out.e.entry_valid_ns));
	file->f_mode |= FMODE_CREATED;
	err = finish_open(file, dentry, generic_file_open);
	if (err)
		goto err_release;
	return vbridge_fs_open_common(inode, file, le64_to_cpu(out.o.fh),
				      le32_to_cpu(out.o.open_flags));

err_release:
	vbridge_fs_release_fh(fs, VBRIDGE_OP_FS_RELEASE,
			      le64_to_cpu(out.e.nodeid), le64_to_cpu(out.o.fh),
			      true);
	return err;
}

static int vbridge_fs_atomic_open(struct inode *dir, struct dentry *dentry,
				  struct file *file, unsigned int flags,
				  umode_t mode)
{
	struct dentry *res = NULL;
	int err;

	/*
	 * A name not in the dentry cache is most likely new: CREATE it
	 * exclusively right away instead of a LOOKUP first.  If it exists
	 * (a file, a directory, a dangling symlink to follow...), look it
	 * up and let the VFS open what it is, unless O_EXCL said fail.  A
	 * refusal (read-only export, permissions) may hide an existing name
	 * as well, which the VFS opens or answers EEXIST for.
	 */
	if (d_in_lookup(dentry) && (flags & O_CREAT)) {
		err = vbridge_fs_create_open(dir, dentry, file, flags | O_EXCL,
					     mode);
		if (err == -EEXIST ? (flags & O_EXCL) :
		    err != -EROFS && err != -EACCES && err != -EPERM)
			return err;
	}
	if (d_in_lookup(dentry)) {
		res = vbridge_fs_lookup(dir, dentry, 0);
		if (IS_ERR(res))
			return PTR_ERR(res);
		if (res)
			dentry = res;
	}
	if (!(flags & O_CREAT) || d_really_is_positive(dentry))
		return finish_no_open(file, res);

	err = vbridge_fs_create_open(dir, dentry, file, flags, mode);
	dput(res);
	return err;
}

static int vbridge_fs_tmpfile(struct mnt_idmap *idmap, struct inode *dir,
			      struct file *file, umode_t mode)
{
	struct vbridge_fs *fs = VBRIDGE_FS(dir->i_sb);
	struct {
		struct vbridge_fs_entry_out e;
		struct vbridge_fs_open_out o;
	} out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_open_in open;
	} in = {};
	struct inode *inode;
	u32 wflags;
	int err;

	wflags = vbridge_fs_wire_flags(fs, file->f_flags);
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(dir)->nodeid, 0);
	in.open.flags = cpu_to_le32(wflags);
	in.open.mode = cpu_to_le32(mode & 07777);
	err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_TMPFILE, &in, sizeof(in),
				&out, sizeof(out));
	if (err)
		return err;
	inode = vbridge_fs_entry_inode(dir, &out.e, 0, VBRIDGE_FS_ENTRY_REG);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto err_release;
	}
	/* d_tmpfile() drops the link an unnamed file never had here. */
	if (!inode->i_nlink)
		set_nlink(inode, 1);
	d_tmpfile(file, inode);
	err = finish_open_simple(file, 0);
	if (err)
		goto err_release;
	return vbridge_fs_open_common(inode, file, le64_to_cpu(out.o.fh),
				      le32_to_cpu(out.o.open_flags));

err_release:
	vbridge_fs_release_fh(fs, VBRIDGE_OP_FS_RELEASE,
			      le64_to_cpu(out.e.nodeid), le64_to_cpu(out.o.fh),
			      true);
	return err;
}

/* Directory files */

static int vbridge_fs_opendir(struct inode *inode, struct file *file)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_fs_open_out out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_open_in open;
	} in = {};
	struct vbridge_file *vf;
	int err;

	vf = kzalloc(sizeof(*vf), GFP_KERNEL);
	if (!vf)
		return -ENOMEM;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, 0);
	in.open.flags = cpu_to_le32(O_RDONLY | O_DIRECTORY);
	err = vbridge_fs_simple(VBRIDGE_FS(inode->i_sb), VBRIDGE_OP_FS_OPENDIR,
				&in, sizeof(in), &out, sizeof(out));
	if (err) {
		kfree(vf);
		return err;
	}
	refcount_set(&vf->ref, 1);
	vf->fh = le64_to_cpu(out.fh);
	vf->mode = FMODE_READ;
	file->private_data = vf;
	/* On the list so that a new backend opens it again (recover.c). */
	spin_lock(&vi->lock);
	list_add(&vf->entry, &vi->files);
	spin_unlock(&vi->lock);
	vbridge_fs_fetch_handle(inode);
	return 0;
}

static int vbridge_fs_releasedir(struct inode *inode, struct file *file)
{
	struct vbridge_file *vf = file->private_data;
	struct vbridge_inode *vi = VBRIDGE_I(inode);

	spin_lock(&vi->lock);
	list_del(&vf->entry);
	spin_unlock(&vi->lock);
	/* The recovery may be opening it again: wait for it. */
	if (!refcount_dec_and_test(&vf->ref))
		wait_var_event(&vf->ref, !refcount_read(&vf->ref));
	vbridge_fs_release_fh(VBRIDGE_FS(inode->i_sb),
			      VBRIDGE_OP_FS_RELEASEDIR,
			      VBRIDGE_I(inode)->nodeid, vf->fh, false);
	kfree(vf);
	return 0;
}

static int vbridge_fs_fsyncdir(struct file *file, loff_t start, loff_t end,
			       int datasync)
{
	struct inode *inode = file_inode(file);
	struct vbridge_file *vf = file->private_data;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_fsync_in sync;
	} in = {};

	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, vf->fh);
	in.sync.flags = cpu_to_le32(datasync ? VBRIDGE_FS_FSYNC_DATASYNC : 0);
	return vbridge_fs_simple(VBRIDGE_FS(inode->i_sb),
				 VBRIDGE_OP_FS_FSYNCDIR, &in, sizeof(in),
				 NULL, 0);
}

const struct inode_operations vbridge_fs_dir_iops = {
	.permission	= vbridge_fs_permission,
	.lookup		= vbridge_fs_lookup,
	.create		= vbridge_fs_create,
	.atomic_open	= vbridge_fs_atomic_open,
	.tmpfile	= vbridge_fs_tmpfile,
	.mkdir		= vbridge_fs_mkdir,
	.mknod		= vbridge_fs_mknod,
	.symlink	= vbridge_fs_symlink,
	.link		= vbridge_fs_link,
	.unlink		= vbridge_fs_unlink,
	.rmdir		= vbridge_fs_rmdir,
	.rename		= vbridge_fs_rename,
	.getattr	= vbridge_fs_getattr,
	.setattr	= vbridge_fs_setattr,
	.listxattr	= vbridge_fs_listxattr,
};

const struct file_operations vbridge_fs_dir_fops = {
	.open		= vbridge_fs_opendir,
	.release	= vbridge_fs_releasedir,
	.iterate_shared	= vbridge_fs_readdir,
	.llseek		= generic_file_llseek,
	.read		= generic_read_dir,
	.fsync		= vbridge_fs_fsyncdir,
};
