// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ubridge: a FUSE filesystem (libfuse3 low-level API) that forwards
 * every operation as a vbridge filesystem request over virtio-serial.
 *
 *   ubridge [-o port=PATH,cache=none|auto|always,writeback] TAG MOUNTPOINT
 *
 * FUSE inode numbers are the device's node ids, except that the export's
 * root and FUSE_ROOT_ID trade places.  Lookup counts pass through: every
 * entry the kernel is given holds one device lookup, and FORGET gives it
 * back.  The device checks access with the caller's ids and groups; the
 * kernel checks too (default_permissions).
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/vbridge.h>

#include "ubridge.h"

enum cache_mode { CACHE_AUTO, CACHE_NONE, CACHE_ALWAYS };

/* Entries and attributes under cache=always: the host's events keep them right. */
#define ALWAYS_TIMEOUT	3600.0
/* Events waiting for the notifier thread; more are dropped. */
#define MAX_EVENTS	64

struct ubr {
	/* Immutable once the session runs. */
	struct ubr_chan *ch;
	struct fuse_session *se;
	uint64_t root;			/* the export's root node id */
	uint32_t max_io;		/* data bytes per READ/WRITE/READDIR */
	int cache;			/* enum cache_mode */
	int writeback;
	char *tag;
	char *port;

	/* lock protects the event ring; cond signals a new event. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int ev_first, nev;
	struct {
		uint32_t len;
		uint8_t data[VBRIDGE_EVENT_BUF_SIZE];
	} ev[MAX_EVENTS];
};

static struct ubr *U(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The root and FUSE_ROOT_ID trade places; every other id is the device's. */
static uint64_t to_node(const struct ubr *u, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? u->root : ino == u->root ? FUSE_ROOT_ID : ino;
}

static fuse_ino_t to_ino(const struct ubr *u, uint64_t node)
{
	return node == u->root ? FUSE_ROOT_ID : node == FUSE_ROOT_ID ? u->root : node;
}

/* One filesystem request being built: fs_in, then up to 4 more parts. */
struct fsreq {
	fuse_req_t req;
	struct vbridge_fs_in in;
	struct iovec iov[6];
	unsigned int n;
};

static void fsreq_init(struct fsreq *r, fuse_req_t req, fuse_ino_t ino,
		       uint64_t fh)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[VBRIDGE_FS_GROUPS_MAX];
	int i, n = 0;

	memset(&r->in, 0, sizeof(r->in));
	r->req = req;
	r->in.nodeid = htole64(ino ? to_node(U(req), ino) : 0);
	r->in.fh = htole64(fh);
	r->in.uid = htole32(ctx->uid);
	r->in.gid = htole32(ctx->gid);
	r->in.pid = htole32(ctx->pid);
	/* Reading them costs a /proc read: root's access needs no groups. */
	if (ctx->uid)
		n = fuse_req_getgroups(req, VBRIDGE_FS_GROUPS_MAX, groups);
	if (n > VBRIDGE_FS_GROUPS_MAX)
		n = VBRIDGE_FS_GROUPS_MAX;
	for (i = 0; i < n; i++)
		r->in.groups[i] = htole32(groups[i]);
	r->in.ngroups = htole32(n > 0 ? n : 0);
	r->iov[0] = (struct iovec){ &r->in, sizeof(r->in) };
	r->n = 1;
}

static void fsreq_add(struct fsreq *r, const void *p, size_t len)
{
	if (len)
		r->iov[r->n++] = (struct iovec){ (void *)p, len };
}

static int fsreq_call(struct fsreq *r, uint32_t opcode, void *out, size_t room,
		      size_t *out_len)
{
	return ubr_call(U(r->req)->ch, opcode, r->iov, r->n, out, room, out_len);
}

/* A call whose reply must be exactly room bytes (0 or a negative errno). */
static int fsreq_call_exact(struct fsreq *r, uint32_t opcode, void *out,
			    size_t room)
{
	size_t len = 0;
	int err = fsreq_call(r, opcode, out, room, &len);

	return err ? err : len == room ? 0 : -EIO;
}

static void fill_stat(const struct vbridge_fs_attr *a, struct stat *st)
{
	uint32_t rdev = le32toh(a->rdev);

	memset(st, 0, sizeof(*st));
	st->st_ino = le64toh(a->ino);
	st->st_size = le64toh(a->size);
	st->st_blocks = le64toh(a->blocks);
	st->st_atim.tv_sec = le64toh(a->atime);
	st->st_atim.tv_nsec = le32toh(a->atimensec);
	st->st_mtim.tv_sec = le64toh(a->mtime);
	st->st_mtim.tv_nsec = le32toh(a->mtimensec);
	st->st_ctim.tv_sec = le64toh(a->ctime);
	st->st_ctim.tv_nsec = le32toh(a->ctimensec);
	st->st_mode = le32toh(a->mode);
	st->st_nlink = le32toh(a->nlink);
	st->st_uid = le32toh(a->uid);
	st->st_gid = le32toh(a->gid);
	/* new_encode_dev() */
	st->st_rdev = makedev((rdev & 0xfff00) >> 8,
			      (rdev & 0xff) | ((rdev >> 12) & 0xfff00));
	st->st_blksize = le32toh(a->blksize);
}

static double timeout(const struct ubr *u, uint64_t ns)
{
	if (u->cache == CACHE_NONE)
		return 0;
	if (u->cache == CACHE_ALWAYS)
		return ALWAYS_TIMEOUT;
	return ns / 1e9;
}

static int fill_entry(const struct ubr *u, const struct vbridge_fs_entry_out *eo,
		      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	if (!eo->nodeid)
		return -EIO;
	e->ino = to_ino(u, le64toh(eo->nodeid));
	e->generation = le64toh(eo->generation);
	fill_stat(&eo->attr, &e->attr);
	e->attr_timeout = timeout(u, le64toh(eo->attr_valid_ns));
	e->entry_timeout = timeout(u, le64toh(eo->entry_valid_ns));
	return 0;
}

/* Give back one lookup of a node the kernel was not given. */
static void forget_node(struct ubr *u, uint64_t node, uint64_t n)
{
	struct vbridge_fs_forget_in fi = { .nlookup = htole64(n) };
	struct vbridge_fs_in in = { .nodeid = htole64(node) };
	struct iovec iov[2] = { { &in, sizeof(in) }, { &fi, sizeof(fi) } };

	ubr_call(u->ch, VBRIDGE_OP_FS_FORGET, iov, 2, NULL, 0, NULL);
}

/* Reply with the entry of an operation answered by vbridge_fs_entry_out. */
static void reply_entry(struct fsreq *r, int err,
			const struct vbridge_fs_entry_out *eo)
{
	struct fuse_entry_param e;

	if (!err) {
		err = fill_entry(U(r->req), eo, &e);
		if (err && eo->nodeid)
			forget_node(U(r->req), le64toh(eo->nodeid), 1);
	}
	if (err)
		fuse_reply_err(r->req, -err);
	else if (fuse_reply_entry(r->req, &e) == -ENOENT)
		/* The caller was interrupted: the kernel did not take it. */
		forget_node(U(r->req), to_node(U(r->req), e.ino), 1);
}

/* Names: single components, at most VBRIDGE_FS_NAME_MAX bytes. */
static int name_len(const char *name, uint32_t *len)
{
	size_t n = strlen(name);

	if (n > VBRIDGE_FS_NAME_MAX)
		return -ENAMETOOLONG;
	*len = n;
	return 0;
}

/* Inodes */

static void ub_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vbridge_fs_name_in ni = { 0 };
	struct vbridge_fs_entry_out eo;
	struct fsreq r;
	uint32_t n;
	int err = name_len(name, &n);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	ni.namelen = htole32(n);
	fsreq_init(&r, req, parent, 0);
	fsreq_add(&r, &ni, sizeof(ni));
	fsreq_add(&r, name, n);
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
	uint32_t n;
	int err = name_len(name, &n);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	/* new_encode_dev() */
	mi.rdev = htole32((minor(rdev) & 0xff) | (major(rdev) << 8) |
			  ((minor(rdev) & ~0xffU) << 12));
	mi.namelen = htole32(n);
	fsreq_init(&r, req, parent, 0);
	fsreq_add(&r, &mi, sizeof(mi));
	fsreq_add(&r, name, n);
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
	uint32_t n;
	int err = name_len(name, &n);

	if (!err && (!tlen || tlen >= VBRIDGE_FS_PATH_MAX))
		err = -ENAMETOOLONG;
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	si.namelen = htole32(n);
	si.targetlen = htole32(tlen);
	fsreq_init(&r, req, parent, 0);
	fsreq_add(&r, &si, sizeof(si));
	fsreq_add(&r, name, n);
	fsreq_add(&r, target, tlen);
	err = fsreq_call_exact(&r, VBRIDGE_OP_FS_SYMLINK, &eo, sizeof(eo));
	reply_entry(&r, err, &eo);
}

static void ub_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct vbridge_fs_rename_in ri = {
		.newparent = htole64(to_node(U(req), newparent)),
	};
	uint32_t vflags = 0, n, nn;
	struct fsreq r;
	int err = name_len(name, &n) ?: name_len(newname, &nn);

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
	ri.oldnamelen = htole32(n);
	ri.newnamelen = htole32(nn);
	fsreq_init(&r, req, parent, 0);
	fsreq_add(&r, &ri, sizeof(ri));
	fsreq_add(&r, name, n);
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
	uint32_t n;
	int err = name_len(newname, &n);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	li.namelen = htole32(n);
	fsreq_init(&r, req, ino, 0);
	fsreq_add(&r, &li, sizeof(li));
	fsreq_add(&r, newname, n);
	err = fsreq_call_exact(&r, VBRIDGE_OP_FS_LINK, &eo, sizeof(eo));
	reply_entry(&r, err, &eo);
}

/* Files */

/* The open flags the host gets. */
static uint32_t host_flags(const struct ubr *u, int flags)
{
	/* The guest kernel already bypasses its cache; host buffers are unaligned. */
	flags &= ~O_DIRECT;
	if (u->writeback) {
		/* The kernel reads partial pages back and appends itself. */
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

static void set_open_flags(const struct ubr *u, struct fuse_file_info *fi,
			   const struct vbridge_fs_open_out *oo)
{
	uint32_t f = le32toh(oo->open_flags);

	fi->fh = le64toh(oo->fh);
	fi->direct_io = u->cache == CACHE_NONE || (f & VBRIDGE_FS_OPEN_DIRECT_IO);
	fi->keep_cache = u->cache == CACHE_ALWAYS ||
			 (u->cache == CACHE_AUTO && (f & VBRIDGE_FS_OPEN_KEEP_CACHE));
}

static void open_node(fuse_req_t req, uint32_t opcode, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct vbridge_fs_open_in oi = {
		.flags = htole32(host_flags(U(req), fi->flags)),
	};
	struct vbridge_fs_open_out oo;
	struct fsreq r;
	int err;

	fsreq_init(&r, req, ino, 0);
	fsreq_add(&r, &oi, sizeof(oi));
	err = fsreq_call_exact(&r, opcode, &oo, sizeof(oo));
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	set_open_flags(U(req), fi, &oo);
	if (opcode == VBRIDGE_OP_FS_OPENDIR) {
		fi->direct_io = 0;
		fi->keep_cache = 0;
		fi->cache_readdir = U(req)->cache == CACHE_ALWAYS;
	}
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* Interrupted: nobody will release it. */
		struct vbridge_fs_in in = { .fh = oo.fh, .nodeid = r.in.nodeid };
		struct iovec iov = { &in, sizeof(in) };

		ubr_call(U(req)->ch, opcode == VBRIDGE_OP_FS_OPEN ?
			 VBRIDGE_OP_FS_RELEASE : VBRIDGE_OP_FS_RELEASEDIR,
			 &iov, 1, NULL, 0, NULL);
	}
}

static void ub_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	open_node(req, VBRIDGE_OP_FS_OPEN, ino, fi);
}

static void ub_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	open_node(req, VBRIDGE_OP_FS_OPENDIR, ino, fi);
}

static void ub_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct vbridge_fs_open_in oi = {
		.flags = htole32(host_flags(U(req), fi->flags)),
		.mode = htole32(mode),
	};
	struct {
		struct vbridge_fs_entry_out e;
		struct vbridge_fs_open_out o;
	} out;
	struct fuse_entry_param e;
	struct fsreq r;
	uint32_t n;
	int err = name_len(name, &n);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	oi.namelen = htole32(n);
	fsreq_init(&r, req, parent, 0);
	fsreq_add(&r, &oi, sizeof(oi));
	fsreq_add(&r, name, n);
	err = fsreq_call_exact(&r, VBRIDGE_OP_FS_CREATE, &out, sizeof(out));
	if (!err)
		err = fill_entry(U(req), &out.e, &e);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	set_open_flags(U(req), fi, &out.o);
	fuse_reply_create(req, &e, fi);
}

static void ub_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct vbridge_fs_read_in ri = { .offset = htole64(off) };
	struct fsreq r;
	size_t len = 0;
	void *buf;
	int err;

	if (size > U(req)->max_io)
		size = U(req)->max_io;
	ri.size = htole32(size);
	buf = malloc(size ?: 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fsreq_init(&r, req, ino, fi->fh);
	fsreq_add(&r, &ri, sizeof(ri));
	err = fsreq_call(&r, VBRIDGE_OP_FS_READ, buf, size, &len);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

static void ub_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct vbridge_fs_write_in wi = { .offset = htole64(off) };
	struct vbridge_fs_write_out wo;
	struct fsreq r;
	int err;

	if (size > U(req)->max_io)
		size = U(req)->max_io;
	wi.size = htole32(size);
	fsreq_init(&r, req, ino, fi->fh);
	fsreq_add(&r, &wi, sizeof(wi));
	fsreq_add(&r, buf, size);
	err = fsreq_call_exact(&r, VBRIDGE_OP_FS_WRITE, &wo, sizeof(wo));
	if (!err && le32toh(wo.size) > size)
		err = -EIO;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, le32toh(wo.size));
}

static void ub_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vbridge_fs_flush_in fl = { .lock_owner = htole64(fi->lock_owner) };
	struct fsreq r;

	fsreq_init(&r, req, ino, fi->fh);
	fsreq_add(&r, &fl, sizeof(fl));
	fuse_reply_err(req, -fsreq_call(&r, VBRIDGE_OP_FS_FLUSH, NULL, 0, NULL));
}

/* RELEASE, RELEASEDIR: only the handle. */
static void handle_op(fuse_req_t req, uint32_t opcode, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct fsreq r;

	fsreq_init(&r, req, ino, fi->fh);
	fuse_reply_err(req, -fsreq_call(&r, opcode, NULL, 0, NULL));
}

static void ub_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	handle_op(req, VBRIDGE_OP_FS_RELEASE, ino, fi);
}

static void ub_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	handle_op(req, VBRIDGE_OP_FS_RELEASEDIR, ino, fi);
}

static void fsync_op(fuse_req_t req, uint32_t opcode, fuse_ino_t ino,
		     int datasync, struct fuse_file_info *fi)
{
	struct vbridge_fs_fsync_in si = {
		.flags = htole32(datasync ? VBRIDGE_FS_FSYNC_DATASYNC : 0),
	};
	struct fsreq r;

	fsreq_init(&r, req, ino, fi->fh);
	fsreq_add(&r, &si, sizeof(si));
	fuse_reply_err(req, -fsreq_call(&r, opcode, NULL, 0, NULL));
}

static void ub_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fsync_op(req, VBRIDGE_OP_FS_FSYNC, ino, datasync, fi);
}

static void ub_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fsync_op(req, VBRIDGE_OP_FS_FSYNCDIR, ino, datasync, fi);
}

/* Directories */

/*
 * "." and "..", which the device leaves out: FUSE positions 1 and 2 are
 * after each, and the device's listing starts at its own position 0.
 * (The device's positions are the host's d_off, which is never 1 or 2
 * for an entry other than the dots on Linux filesystems.)
 */
static size_t add_dots(fuse_req_t req, fuse_ino_t ino, char *out, size_t size,
		       off_t off, bool plus)
{
	struct fuse_entry_param e = { .attr = { .st_ino = ino, .st_mode = S_IFDIR } };
	size_t pos = 0, n;

	for (; off < 2; off++) {
		const char *name = off ? ".." : ".";

		if (plus)
			n = fuse_add_direntry_plus(req, out + pos, size - pos,
						   name, &e, off + 1);
		else
			n = fuse_add_direntry(req, out + pos, size - pos, name,
					      &e.attr, off + 1);
		if (n > size - pos)
			break;
		pos += n;
	}
	return pos;
}

/*
 * READDIR answers with entries that hold a lookup each (readdirplus):
 * those the kernel does not take (plain readdir, a full buffer) are
 * given back.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct ubr *u = U(req);
	struct vbridge_fs_read_in ri = { .offset = htole64(off <= 2 ? 0 : off) };
	struct vbridge_fs_dirent d;
	size_t len = 0, pos = 0, at = 0, rec, ask;
	char name[VBRIDGE_FS_NAME_MAX + 1];
	char *in, *out;
	bool full = false;
	struct fsreq r;
	int err;

	if (size > u->max_io)
		size = u->max_io;
	/* FUSE's records are a little larger than the device's. */
	ask = size * 7 / 8;
	ri.size = htole32(ask);
	in = malloc(ask + 1);
	out = malloc(size + 1);
	if (!in || !out) {
		err = -ENOMEM;
		goto out;
	}
	pos = add_dots(req, ino, out, size, off, plus);
	fsreq_init(&r, req, ino, fi->fh);
	fsreq_add(&r, &ri, sizeof(ri));
	err = fsreq_call(&r, VBRIDGE_OP_FS_READDIR, in, ask, &len);
	for (; !err && at < len; at += rec) {
		uint32_t n;
		uint64_t node;

		if (len - at < sizeof(d)) {
			err = -EIO;
			break;
		}
		memcpy(&d, in + at, sizeof(d));
		n = le32toh(d.namelen);
		rec = VBRIDGE_FS_DIRENT_SIZE(n);
		if (!n || n > VBRIDGE_FS_NAME_MAX || rec > len - at) {
			err = -EIO;
			break;
		}
		memcpy(name, in + at + sizeof(d), n);
		name[n] = 0;
		node = le64toh(d.entry.nodeid);
		if (!full && plus) {
			struct fuse_entry_param e = { 0 };

			if (node)
				fill_entry(u, &d.entry, &e);
			else
				fill_stat(&d.entry.attr, &e.attr);
			e.attr.st_mode = (e.attr.st_mode & ~S_IFMT) |
					 ((le32toh(d.type) & 017) << 12);
			rec = fuse_add_direntry_plus(req, out + pos, size - pos,
						     name, &e, le64toh(d.off));
			full = rec > size - pos;
			if (!full) {
				pos += rec;
				node = 0;	/* the kernel holds it now */
			}
		} else if (!full) {
			struct stat st = {
				.st_ino = le64toh(d.entry.attr.ino),
				.st_mode = (le32toh(d.type) & 017) << 12,
			};

			rec = fuse_add_direntry(req, out + pos, size - pos, name,
						&st, le64toh(d.off));
			full = rec > size - pos;
			if (!full)
				pos += rec;
		}
		if (node)
			forget_node(u, node, 1);
		rec = VBRIDGE_FS_DIRENT_SIZE(n);
	}
out:
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, out, pos);
	free(in);
	free(out);
}

static void ub_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void ub_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
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

/* Space, seeking, copies */

static void ub_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			 off_t length, struct fuse_file_info *fi)
{
	struct vbridge_fs_fallocate_in fa = {
		.offset = htole64(offset), .length = htole64(length),
		.mode = htole32(mode),
	};
	struct fsreq r;

	fsreq_init(&r, req, ino, fi->fh);
	fsreq_add(&r, &fa, sizeof(fa));
	fuse_reply_err(req, -fsreq_call(&r, VBRIDGE_OP_FS_FALLOCATE, NULL, 0, NULL));
}

static void ub_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct vbridge_fs_lseek_in li = {
		.offset = htole64(off), .whence = htole32(whence),
	};
	struct vbridge_fs_lseek_out lo;
	struct fsreq r;
	int err;

	fsreq_init(&r, req, ino, fi->fh);
	fsreq_add(&r, &li, sizeof(li));
	err = fsreq_call_exact(&r, VBRIDGE_OP_FS_LSEEK, &lo, sizeof(lo));
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_lseek(req, le64toh(lo.offset));
}

static void ub_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out,
			       size_t len, int flags)
{
	struct vbridge_fs_copy_range_in ci = {
		.off_in = htole64(off_in),
		.nodeid_out = htole64(to_node(U(req), ino_out)),
		.fh_out = htole64(fi_out->fh),
		.off_out = htole64(off_out),
		.len = htole64(len),
		.flags = htole32(flags),
	};
	struct vbridge_fs_copy_range_out co;
	struct fsreq r;
	int err;

	fsreq_init(&r, req, ino_in, fi_in->fh);
	fsreq_add(&r, &ci, sizeof(ci));
	err = fsreq_call_exact(&r, VBRIDGE_OP_FS_COPY_FILE_RANGE, &co, sizeof(co));
	if (!err && le64toh(co.size) > len)
		err = -EIO;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, le64toh(co.size));
}

/* Locks */

static void lock_to_wire(const struct flock *l, struct vbridge_fs_lock *w)
{
	w->start = htole64(l->l_start);
	w->end = htole64(l->l_len ? (uint64_t)l->l_start + l->l_len - 1 : ~0ULL);
	w->type = htole32(l->l_type);
	w->pid = htole32(l->l_pid);
}

/* GETLK, SETLK, SETLKW; SETLKW is sent again while the device says EAGAIN. */
static int lock_op(fuse_req_t req, uint32_t opcode, fuse_ino_t ino,
		   struct fuse_file_info *fi, uint32_t kind,
		   struct vbridge_fs_lock_in *li, struct vbridge_fs_lock_out *lo)
{
	struct fsreq r;
	int err;

	li->owner = htole64(fi->lock_owner);
	li->kind = htole32(kind);
	do {
		fsreq_init(&r, req, ino, fi->fh);
		fsreq_add(&r, li, sizeof(*li));
		if (lo)
			err = fsreq_call_exact(&r, opcode, lo, sizeof(*lo));
		else
			err = fsreq_call(&r, opcode, NULL, 0, NULL);
		if (err == -EAGAIN && opcode == VBRIDGE_OP_FS_SETLKW &&
		    fuse_req_interrupted(req))
			return -EINTR;
	} while (err == -EAGAIN && opcode == VBRIDGE_OP_FS_SETLKW);
	return err;
}

static void ub_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock)
{
	struct vbridge_fs_lock_in li = { 0 };
	struct vbridge_fs_lock_out lo;
	uint64_t start, end;
	int err;

	lock_to_wire(lock, &li.lk);
	err = lock_op(req, VBRIDGE_OP_FS_GETLK, ino, fi, VBRIDGE_FS_LK_POSIX,
		      &li, &lo);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	start = le64toh(lo.lk.start);
	end = le64toh(lo.lk.end);
	lock->l_whence = SEEK_SET;
	lock->l_type = le32toh(lo.lk.type);
	lock->l_start = start;
	lock->l_len = end == ~0ULL ? 0 : end - start + 1;
	lock->l_pid = le32toh(lo.lk.pid);
	fuse_reply_lock(req, lock);
}

static void ub_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock, int sleep)
{
	struct vbridge_fs_lock_in li = { 0 };

	lock_to_wire(lock, &li.lk);
	fuse_reply_err(req, -lock_op(req, sleep ? VBRIDGE_OP_FS_SETLKW :
				     VBRIDGE_OP_FS_SETLK, ino, fi,
				     VBRIDGE_FS_LK_POSIX, &li, NULL));
}

static void ub_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     int op)
{
	struct vbridge_fs_lock_in li = { .lk.end = htole64(~0ULL) };
	int type = (op & LOCK_SH) ? F_RDLCK : (op & LOCK_EX) ? F_WRLCK : F_UNLCK;

	li.lk.type = htole32(type);
	fuse_reply_err(req, -lock_op(req, (op & LOCK_NB) || type == F_UNLCK ?
				     VBRIDGE_OP_FS_SETLK : VBRIDGE_OP_FS_SETLKW,
				     ino, fi, VBRIDGE_FS_LK_FLOCK, &li, NULL));
}

/* Session */

static void ub_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ubr *u = userdata;
	unsigned int want = FUSE_CAP_ASYNC_READ | FUSE_CAP_POSIX_LOCKS |
			    FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_ATOMIC_O_TRUNC |
			    FUSE_CAP_READDIRPLUS | FUSE_CAP_PARALLEL_DIROPS |
			    FUSE_CAP_ASYNC_DIO;

	if (u->writeback)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	/* cache=auto: drop the page cache when mtime or size changed. */
	if (u->cache == CACHE_AUTO)
		want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->want |= want & conn->capable;
	/* Always readdirplus: the device's records carry the attributes anyway. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (u->cache != CACHE_AUTO)
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	conn->max_write = u->max_io;
	if (conn->max_readahead > u->max_io)
		conn->max_readahead = u->max_io;
}

static const struct fuse_lowlevel_ops ops = {
	.init = ub_init,
	.lookup = ub_lookup,
	.forget = ub_forget,
	.forget_multi = ub_forget_multi,
	.getattr = ub_getattr,
	.setattr = ub_setattr,
	.readlink = ub_readlink,
	.mknod = ub_mknod,
	.mkdir = ub_mkdir,
	.unlink = ub_unlink,
	.rmdir = ub_rmdir,
	.symlink = ub_symlink,
	.rename = ub_rename,
	.link = ub_link,
	.open = ub_open,
	.create = ub_create,
	.read = ub_read,
	.write = ub_write,
	.flush = ub_flush,
	.release = ub_release,
	.fsync = ub_fsync,
	.opendir = ub_opendir,
	.readdir = ub_readdir,
	.readdirplus = ub_readdirplus,
	.releasedir = ub_releasedir,
	.fsyncdir = ub_fsyncdir,
	.statfs = ub_statfs,
	.setxattr = ub_setxattr,
	.getxattr = ub_getxattr,
	.listxattr = ub_listxattr,
	.removexattr = ub_removexattr,
	.fallocate = ub_fallocate,
	.lseek = ub_lseek,
	.copy_file_range = ub_copy_file_range,
	.getlk = ub_getlk,
	.setlk = ub_setlk,
	.flock = ub_flock,
};

/* Host change events: queued by the reader, applied by the notifier. */

static void on_event(void *opaque, const void *ev, uint32_t len)
{
	struct ubr *u = opaque;

	pthread_mutex_lock(&u->lock);
	if (u->nev < MAX_EVENTS) {
		unsigned int i = (u->ev_first + u->nev++) % MAX_EVENTS;

		memcpy(u->ev[i].data, ev, len);
		u->ev[i].len = len;
		pthread_cond_signal(&u->cond);
	}
	pthread_mutex_unlock(&u->lock);
}

static void on_broken(void *opaque)
{
	struct ubr *u = opaque;

	fuse_session_exit(u->se);
}

/*
 * The kernel may wait on locks held by requests in flight to apply an
 * invalidation, so it happens here, never on the reader thread.
 */
static void apply_event(struct ubr *u, const uint8_t *data, uint32_t len)
{
	struct vbridge_event_fs_inval_inode ii;
	struct vbridge_event_fs_inval_entry ie;
	struct vbridge_event_hdr h;
	uint32_t n;

	memcpy(&h, data, sizeof(h));
	if (le32toh(h.len) != len)
		return;
	switch (le32toh(h.type)) {
	case VBRIDGE_EVT_FS_INVAL_INODE:
		if (len != sizeof(ii))
			return;
		memcpy(&ii, data, sizeof(ii));
		fuse_lowlevel_notify_inval_inode(u->se,
						 to_ino(u, le64toh(ii.nodeid)),
						 le64toh(ii.offset),
						 le64toh(ii.len));
		break;
	case VBRIDGE_EVT_FS_INVAL_ENTRY: {
		char name[VBRIDGE_FS_NAME_MAX + 1];

		if (len < sizeof(ie))
			return;
		memcpy(&ie, data, sizeof(ie));
		n = le32toh(ie.namelen);
		if (!n || n > VBRIDGE_FS_NAME_MAX || len != sizeof(ie) + n)
			return;
		memcpy(name, data + sizeof(ie), n);
		name[n] = 0;
		fuse_lowlevel_notify_inval_entry(u->se,
						 to_ino(u, le64toh(ie.parent)),
						 name, n);
		break;
	}
	default:
		break;
	}
}

static void *notifier(void *arg)
{
	struct ubr *u = arg;
	uint8_t data[VBRIDGE_EVENT_BUF_SIZE];
	uint32_t len;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		while (!u->nev)
			pthread_cond_wait(&u->cond, &u->lock);
		len = u->ev[u->ev_first].len;
		memcpy(data, u->ev[u->ev_first].data, len);
		u->ev_first = (u->ev_first + 1) % MAX_EVENTS;
		u->nev--;
		pthread_mutex_unlock(&u->lock);
		apply_event(u, data, len);
	}
	return NULL;
}

/* MOUNT: the root of the export tag. */
static int mount_tag(struct ubr *u)
{
	struct vbridge_fs_mount_in mi = { 0 };
	struct vbridge_fs_in in = { 0 };
	struct vbridge_fs_entry_out eo;
	struct iovec iov[2] = { { &in, sizeof(in) }, { &mi, sizeof(mi) } };
	size_t len = 0;
	int err;

	if (strlen(u->tag) >= VBRIDGE_TAG_LEN)
		return -EINVAL;
	memcpy(mi.tag, u->tag, strlen(u->tag));
	err = ubr_call(u->ch, VBRIDGE_OP_FS_MOUNT, iov, 2, &eo, sizeof(eo), &len);
	if (err)
		return err;
	if (len != sizeof(eo) || !eo.nodeid)
		return -EIO;
	u->root = le64toh(eo.nodeid);
	return 0;
}

#define UBR_OPT(t, p, v) { t, offsetof(struct ubr, p), v }

static const struct fuse_opt ubr_opts[] = {
	UBR_OPT("port=%s", port, 0),
	UBR_OPT("cache=auto", cache, CACHE_AUTO),
	UBR_OPT("cache=none", cache, CACHE_NONE),
	UBR_OPT("cache=always", cache, CACHE_ALWAYS),
	UBR_OPT("writeback", writeback, 1),
	FUSE_OPT_END,
};

/* The first non-option is the tag; the next one is left for FUSE. */
static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct ubr *u = data;

	if (key == FUSE_OPT_KEY_NONOPT && !u->tag) {
		u->tag = strdup(arg);
		return 0;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s [options] TAG MOUNTPOINT\n"
	       "Mount the vbridge export TAG through FUSE, over virtio-serial.\n\n"
	       "    -o port=PATH           virtio-serial port (default: the port\n"
	       "                           named " UBR_PORT_NAME ")\n"
	       "    -o cache=auto          host timeouts, page cache dropped when\n"
	       "                           the file changed (default)\n"
	       "    -o cache=always        entries and attributes for an hour\n"
	       "    -o cache=none          no caching, direct I/O\n"
	       "    -o writeback           FUSE writeback cache\n", prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *cfg;
	struct ubr *u = calloc(1, sizeof(*u));
	uint32_t max_req;
	pthread_t tid;
	char fsname[64];
	int ret = 1, err;

	if (!u || fuse_opt_parse(&args, u, ubr_opts, opt_proc) ||
	    fuse_parse_cmdline(&args, &opts))
		return 1;
	if (opts.show_help) {
		usage(argv[0]);
		return 0;
	}
	if (opts.show_version) {
		printf("ubridge (vbridge protocol %d.%d)\n", VBRIDGE_PROTO_MAJOR,
		       VBRIDGE_PROTO_MINOR);
		fuse_lowlevel_version();
		return 0;
	}
	if (!u->tag || !opts.mountpoint) {
		fprintf(stderr, "usage: %s [options] TAG MOUNTPOINT (see --help)\n",
			argv[0]);
		return 1;
	}
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);

	/* The handshake, answered on this thread: nothing is mounted yet. */
	u->ch = ubr_chan_open(u->port);
	if (!u->ch)
		return 1;
	err = ubr_chan_init(u->ch, &max_req);
	if (!err)
		err = mount_tag(u);
	if (err) {
		fprintf(stderr, "ubridge: %s: %s\n", u->tag, strerror(-err));
		return 1;
	}
	/* Room for the largest request's headers. */
	u->max_io = max_req - 1024 < UBR_MAX_IO ? (max_req - 1024) & ~4095U :
		    UBR_MAX_IO;

	snprintf(fsname, sizeof(fsname), "-ofsname=ubridge:%s,subtype=ubridge",
		 u->tag);
	if (fuse_opt_add_arg(&args, fsname) ||
	    fuse_opt_add_arg(&args, "-odefault_permissions") ||
	    (!getuid() && fuse_opt_add_arg(&args, "-oallow_other")))
		return 1;
	u->se = fuse_session_new(&args, &ops, sizeof(ops), u);
	if (!u->se)
		return 1;
	if (fuse_set_signal_handlers(u->se))
		goto out_destroy;
	if (fuse_session_mount(u->se, opts.mountpoint))
		goto out_signals;
	fuse_daemonize(opts.foreground);

	/* Threads only now: daemonizing forks. */
	if (ubr_chan_start(u->ch, on_event, on_broken, u) ||
	    pthread_create(&tid, NULL, notifier, u)) {
		fprintf(stderr, "ubridge: cannot start threads\n");
		goto out_unmount;
	}
	if (opts.singlethread) {
		ret = fuse_session_loop(u->se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(cfg, opts.clone_fd);
		fuse_loop_cfg_set_idle_threads(cfg, opts.max_idle_threads);
		ret = fuse_session_loop_mt(u->se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
out_unmount:
	fuse_session_unmount(u->se);
out_signals:
	fuse_remove_signal_handlers(u->se);
out_destroy:
	fuse_session_destroy(u->se);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	/* The reader and notifier threads end with the process. */
	return ret ? 1 : 0;
}
