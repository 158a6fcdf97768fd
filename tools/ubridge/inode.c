// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * FUSE operations on names and inodes: lookup and forget, attributes,
 * creating, linking, renaming and removing, statfs, xattrs.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <linux/vbridge.h>

#include "ubridge.h"

/* Inodes */

static void ub_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vbridge_fs_name_in ni = { 0 };
	struct vbridge_fs_entry_out eo;
	struct fsreq r;
	int err = fsreq_named(&r, req, parent, &ni, sizeof(ni), &ni.namelen,
			      name);

	if (!err)
		err = fsreq_call_exact(&r, VBRIDGE_OP_FS_LOOKUP, &eo, sizeof(eo));
	reply_entry(&r, err, &eo);
}

static void ub_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_node(U(req), to_node(U(req), ino), nlookup);
	fuse_reply_none(req);
}

static void ub_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		forget_node(U(req), to_node(U(req), forgets[i].ino),
			    forgets[i].nlookup);
	fuse_reply_none(req);
}

static void reply_attr(fuse_req_t req, int err,
		       const struct vbridge_fs_attr_out *ao)
{
	struct stat st;

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fill_stat(&ao->attr, &st);
	fuse_reply_attr(req, &st, timeout(U(req), le64toh(ao->attr_valid_ns)));
}

static void ub_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct vbridge_fs_attr_out ao;
	struct fsreq r;

	fsreq_init(&r, req, ino, 0);
	reply_attr(req, fsreq_call_exact(&r, VBRIDGE_OP_FS_GETATTR, &ao,
					 sizeof(ao)), &ao);
}

static void ub_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	static const struct { int fuse; uint32_t vb; } map[] = {
		{ FUSE_SET_ATTR_MODE, VBRIDGE_FS_SET_MODE },
		{ FUSE_SET_ATTR_UID, VBRIDGE_FS_SET_UID },
		{ FUSE_SET_ATTR_GID, VBRIDGE_FS_SET_GID },
		{ FUSE_SET_ATTR_SIZE, VBRIDGE_FS_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, VBRIDGE_FS_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, VBRIDGE_FS_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, VBRIDGE_FS_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, VBRIDGE_FS_SET_MTIME_NOW },
	};
	struct vbridge_fs_setattr_in si = {
		.mode = htole32(attr->st_mode),
		.uid = htole32(attr->st_uid),
		.gid = htole32(attr->st_gid),
		.size = htole64(attr->st_size),
		.atime = htole64(attr->st_atim.tv_sec),
		.atimensec = htole32(attr->st_atim.tv_nsec),
		.mtime = htole64(attr->st_mtim.tv_sec),
		.mtimensec = htole32(attr->st_mtim.tv_nsec),
	};
	struct vbridge_fs_attr_out ao;
	uint32_t valid = 0;
	struct fsreq r;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			valid |= map[i].vb;
	if (fi)
		valid |= VBRIDGE_FS_SET_FH;
	si.valid = htole32(valid);
	fsreq_init(&r, req, ino, fi ? fi->fh : 0);
	fsreq_add(&r, &si, sizeof(si));
	reply_attr(req, fsreq_call_exact(&r, VBRIDGE_OP_FS_SETATTR, &ao,
					 sizeof(ao)), &ao);
}

static void ub_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[VBRIDGE_FS_PATH_MAX + 1];
	struct fsreq r;
	size_t len = 0;
	int err;

	fsreq_init(&r, req, ino, 0);
	err = fsreq_call(&r, VBRIDGE_OP_FS_READLINK, buf, VBRIDGE_FS_PATH_MAX,
			 &len);
	if (!err && (!len || memchr(buf, 0, len)))
		err = -EIO;
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	buf[len] = 0;
	fuse_reply_readlink(req, buf);
}

/* MKNOD and MKDIR: mode (already masked by the kernel), rdev, name. */
static void make_node(fuse_req_t req, uint32_t opcode, fuse_ino_t parent,
		      const char *name, mode_t mode, dev_t rdev)
{
	struct vbridge_fs_mknod_in mi = { .mode = htole32(mode) };
	struct vbridge_fs_entry_out eo;
	struct fsreq r;
	int err;

	/* new_encode_dev() */
	mi.rdev = htole32((minor(rdev) & 0xff) | (major(rdev) << 8) |
			  ((minor(rdev) & ~0xffU) << 12));
	err = fsreq_named(&r, req, parent, &mi, sizeof(mi), &mi.namelen, name);
	if (!err)
		err = fsreq_call_exact(&r, opcode, &eo, sizeof(eo));
	reply_entry(&r, err, &eo);
}

static void ub_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	make_node(req, VBRIDGE_OP_FS_MKNOD, parent, name, mode, rdev);
}

static void ub_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	make_node(req, VBRIDGE_OP_FS_MKDIR, parent, name, mode | S_IFDIR, 0);
}

/* UNLINK, RMDIR, REMOVEXATTR: a name and nothing back. */
static void name_op(fuse_req_t req, uint32_t opcode, fuse_ino_t ino,
		    const char *name, size_t max)
{
	struct vbridge_fs_name_in ni = { 0 };
	size_t n = strlen(name);
	struct fsreq r;

	if (n > max) {
		fuse_reply_err(req, opcode == VBRIDGE_OP_FS_REMOVEXATTR ?
			       ERANGE : ENAMETOOLONG);
		return;
	}
	ni.namelen = htole32(n);
	fsreq_init(&r, req, ino, 0);
	fsreq_add(&r, &ni, sizeof(ni));
	fsreq_add(&r, name, n);
	fuse_reply_err(req, -fsreq_call(&r, opcode, NULL, 0, NULL));
}

static void ub_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	name_op(req, VBRIDGE_OP_FS_UNLINK, parent, name, VBRIDGE_FS_NAME_MAX);
}

static void ub_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	name_op(req, VBRIDGE_OP_FS_RMDIR, parent, name, VBRIDGE_FS_NAME_MAX);
}

static void ub_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct vbridge_fs_symlink_in si = { 0 };
	struct vbridge_fs_entry_out eo;
	size_t tlen = strlen(target);
	struct fsreq r;
	int err = fsreq_named(&r, req, parent, &si, sizeof(si), &si.namelen,
			      name);

	if (!err && (!tlen || tlen >= VBRIDGE_FS_PATH_MAX))
		err = -ENAMETOOLONG;
	if (!err) {
		si.targetlen = htole32(tlen);
		fsreq_add(&r, target, tlen);
		err = fsreq_call_exact(&r, VBRIDGE_OP_FS_SYMLINK, &eo,
				       sizeof(eo));
	}
	reply_entry(&r, err, &eo);
}

static void ub_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct vbridge_fs_rename_in ri = {
		.newparent = htole64(to_node(U(req), newparent)),
	};
	uint32_t vflags = 0, nn;
	struct fsreq r;
	int err = fsreq_named(&r, req, parent, &ri, sizeof(ri), &ri.oldnamelen,
			      name) ?: name_len(newname, &nn);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		vflags |= VBRIDGE_FS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		vflags |= VBRIDGE_FS_RENAME_EXCHANGE;
	if (flags & RENAME_WHITEOUT)
		vflags |= VBRIDGE_FS_RENAME_WHITEOUT;
	ri.flags = htole32(vflags);
	ri.newnamelen = htole32(nn);
	fsreq_add(&r, newname, nn);
	fuse_reply_err(req, -fsreq_call(&r, VBRIDGE_OP_FS_RENAME, NULL, 0, NULL));
}

static void ub_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct vbridge_fs_link_in li = {
		.newparent = htole64(to_node(U(req), newparent)),
	};
	struct vbridge_fs_entry_out eo;
	struct fsreq r;
	int err = fsreq_named(&r, req, ino, &li, sizeof(li), &li.namelen,
			      newname);

	if (!err)
		err = fsreq_call_exact(&r, VBRIDGE_OP_FS_LINK, &eo, sizeof(eo));
	reply_entry(&r, err, &eo);
}


static void ub_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct vbridge_fs_statfs_out so;
	struct statvfs st = { 0 };
	struct fsreq r;
	int err;

	fsreq_init(&r, req, ino, 0);
	err = fsreq_call_exact(&r, VBRIDGE_OP_FS_STATFS, &so, sizeof(so));
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	st.f_bsize = le32toh(so.bsize);
	st.f_frsize = le32toh(so.frsize);
	st.f_blocks = le64toh(so.blocks);
	st.f_bfree = le64toh(so.bfree);
	st.f_bavail = le64toh(so.bavail);
	st.f_files = le64toh(so.files);
	st.f_ffree = le64toh(so.ffree);
	st.f_namemax = le32toh(so.namelen);
	fuse_reply_statfs(req, &st);
}

/* Extended attributes */

static void ub_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct vbridge_fs_setxattr_in si = {
		.size = htole32(size), .flags = htole32(flags),
	};
	size_t n = strlen(name);
	struct fsreq r;

	if (!n || n > VBRIDGE_FS_XATTR_NAME_MAX || size > VBRIDGE_FS_XATTR_SIZE_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	si.namelen = htole32(n);
	fsreq_init(&r, req, ino, 0);
	fsreq_add(&r, &si, sizeof(si));
	fsreq_add(&r, name, n);
	fsreq_add(&r, value, size);
	fuse_reply_err(req, -fsreq_call(&r, VBRIDGE_OP_FS_SETXATTR, NULL, 0, NULL));
}

/* GETXATTR, LISTXATTR: size 0 asks for the size needed. */
static void xattr_get(fuse_req_t req, uint32_t opcode, fuse_ino_t ino,
		      const char *name, size_t size)
{
	struct vbridge_fs_getxattr_in gi = { 0 };
	struct vbridge_fs_xattr_out xo;
	size_t n = name ? strlen(name) : 0, len = 0;
	struct fsreq r;
	void *buf;
	int err;

	if (name && (!n || n > VBRIDGE_FS_XATTR_NAME_MAX)) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	if (size > VBRIDGE_FS_XATTR_SIZE_MAX)
		size = VBRIDGE_FS_XATTR_SIZE_MAX;
	gi.size = htole32(size);
	gi.namelen = htole32(n);
	buf = malloc(size ?: 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fsreq_init(&r, req, ino, 0);
	fsreq_add(&r, &gi, sizeof(gi));
	fsreq_add(&r, name, n);
	if (!size) {
		err = fsreq_call_exact(&r, opcode, &xo, sizeof(xo));
		if (err)
			fuse_reply_err(req, -err);
		else
			fuse_reply_xattr(req, le32toh(xo.size));
	} else {
		err = fsreq_call(&r, opcode, buf, size, &len);
		if (err)
			fuse_reply_err(req, -err);
		else
			fuse_reply_buf(req, buf, len);
	}
	free(buf);
}

static void ub_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	xattr_get(req, VBRIDGE_OP_FS_GETXATTR, ino, name, size);
}

static void ub_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_get(req, VBRIDGE_OP_FS_LISTXATTR, ino, NULL, size);
}

static void ub_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	name_op(req, VBRIDGE_OP_FS_REMOVEXATTR, ino, name,
		VBRIDGE_FS_XATTR_NAME_MAX);
}


void ubr_inode_ops(struct fuse_lowlevel_ops *ops)
{
	ops->lookup = ub_lookup;
	ops->forget = ub_forget;
	ops->forget_multi = ub_forget_multi;
	ops->getattr = ub_getattr;
	ops->setattr = ub_setattr;
	ops->readlink = ub_readlink;
	ops->mknod = ub_mknod;
	ops->mkdir = ub_mkdir;
	ops->unlink = ub_unlink;
	ops->rmdir = ub_rmdir;
	ops->symlink = ub_symlink;
	ops->rename = ub_rename;
	ops->link = ub_link;
	ops->statfs = ub_statfs;
	ops->setxattr = ub_setxattr;
	ops->getxattr = ub_getxattr;
	ops->listxattr = ub_listxattr;
	ops->removexattr = ub_removexattr;
}
