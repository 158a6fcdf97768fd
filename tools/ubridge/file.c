// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * FUSE operations on open files and directories: open, read, write,
 * readdir, sync, space, seeking, copies and locks.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <linux/vbridge.h>

#include "ubridge.h"

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
	int err = fsreq_named(&r, req, parent, &oi, sizeof(oi), &oi.namelen,
			      name);

	if (!err)
		err = fsreq_call_exact(&r, VBRIDGE_OP_FS_CREATE, &out,
				       sizeof(out));
	if (!err)
		err = fill_entry(U(req), &out.e, &e);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	set_open_flags(U(req), fi, &out.o);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* Interrupted: the kernel holds neither the entry nor the file. */
		struct vbridge_fs_in in = { .fh = out.o.fh, .nodeid = out.e.nodeid };
		struct iovec iov = { &in, sizeof(in) };

		ubr_call(U(req)->ch, VBRIDGE_OP_FS_RELEASE, &iov, 1, NULL, 0, NULL);
		forget_node(U(req), le64toh(out.e.nodeid), 1);
	}
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

/* A READDIR record's header, or a READDIR_NAMES one's. */
union readdir_rec {
	struct vbridge_fs_dirent plus;
	struct vbridge_fs_dirent_name names;
};

/*
 * The record at in[at..len) of a READDIR reply (or READDIR_NAMES, with
 * names) into *d, its name into name; the record's size, 0 if malformed.
 */
static size_t readdir_next(const char *in, size_t at, size_t len, bool names,
			   union readdir_rec *d, char *name)
{
	size_t hdr = names ? sizeof(d->names) : sizeof(d->plus);
	uint32_t n;
	size_t rec;

	if (len - at < hdr)
		return 0;
	memcpy(d, in + at, hdr);
	n = le32toh(names ? d->names.namelen : d->plus.namelen);
	rec = names ? VBRIDGE_FS_DIRENT_NAME_SIZE(n) : VBRIDGE_FS_DIRENT_SIZE(n);
	if (!n || n > VBRIDGE_FS_NAME_MAX || rec > len - at)
		return 0;
	memcpy(name, in + at + hdr, n);
	name[n] = 0;
	return rec;
}

/*
 * READDIR answers with entries that hold a lookup each (readdirplus):
 * those the kernel does not take (a full buffer) are given back.  Plain
 * readdir asks a 2.4 device for the names alone (READDIR_NAMES).
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct ubr *u = U(req);
	struct vbridge_fs_read_in ri = { .offset = htole64(off <= 2 ? 0 : off) };
	bool names = !plus && u->minor >= 4;
	size_t len = 0, pos = 0, at = 0, rec, ask;
	char name[VBRIDGE_FS_NAME_MAX + 1];
	union readdir_rec d;
	char *in, *out;
	bool full = false;
	struct fsreq r;
	int err;

	if (size > u->max_io)
		size = u->max_io;
	/* FUSE's records are a little larger than READDIR's. */
	ask = names ? size : size * 7 / 8;
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
	err = fsreq_call(&r, names ? VBRIDGE_OP_FS_READDIR_NAMES :
			 VBRIDGE_OP_FS_READDIR, in, ask, &len);
	for (; !err && at < len; at += rec) {
		struct fuse_entry_param e = { 0 };
		uint64_t node = 0;
		size_t n;

		rec = readdir_next(in, at, len, names, &d, name);
		if (!rec) {
			err = -EIO;
			break;
		}
		if (names) {
			e.attr.st_ino = le64toh(d.names.ino);
			e.attr.st_mode = (le32toh(d.names.type) & 017) << 12;
		} else {
			node = le64toh(d.plus.entry.nodeid);
			if (node && plus)
				fill_entry(u, &d.plus.entry, &e);
			else
				fill_stat(&d.plus.entry.attr, &e.attr);
			e.attr.st_mode = (e.attr.st_mode & ~S_IFMT) |
					 ((le32toh(d.plus.type) & 017) << 12);
		}
		if (!full) {
			uint64_t next = le64toh(names ? d.names.off : d.plus.off);

			n = plus ? fuse_add_direntry_plus(req, out + pos,
							  size - pos, name, &e,
							  next) :
				   fuse_add_direntry(req, out + pos, size - pos,
						     name, &e.attr, next);
			full = n > size - pos;
			if (!full) {
				pos += n;
				if (plus)
					node = 0;	/* the kernel holds it now */
			}
		}
		if (node)
			forget_node(u, node, 1);
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

/*
 * GETLK, SETLK, SETLKW.  The device answers SETLKW with EAGAIN at once
 * while the lock is held elsewhere: ask again after a pause, backing off
 * to UB_LOCK_POLL_MAX_MS, until the lock is ours or the request is
 * interrupted.
 */
#define UB_LOCK_POLL_MAX_MS	32

static int lock_op(fuse_req_t req, uint32_t opcode, fuse_ino_t ino,
		   struct fuse_file_info *fi, uint32_t kind,
		   struct vbridge_fs_lock_in *li, struct vbridge_fs_lock_out *lo)
{
	unsigned int delay_ms = 1;
	struct fsreq r;
	int err;

	li->owner = htole64(fi->lock_owner);
	li->kind = htole32(kind);
	for (;;) {
		fsreq_init(&r, req, ino, fi->fh);
		fsreq_add(&r, li, sizeof(*li));
		if (lo)
			err = fsreq_call_exact(&r, opcode, lo, sizeof(*lo));
		else
			err = fsreq_call(&r, opcode, NULL, 0, NULL);
		if (err != -EAGAIN || opcode != VBRIDGE_OP_FS_SETLKW)
			break;
		if (fuse_req_interrupted(req))
			return -EINTR;
		usleep(delay_ms * 1000);
		delay_ms = delay_ms < UB_LOCK_POLL_MAX_MS ? delay_ms * 2 :
			   delay_ms;
	}
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


void ubr_file_ops(struct fuse_lowlevel_ops *ops)
{
	ops->open = ub_open;
	ops->create = ub_create;
	ops->read = ub_read;
	ops->write = ub_write;
	ops->flush = ub_flush;
	ops->release = ub_release;
	ops->fsync = ub_fsync;
	ops->opendir = ub_opendir;
	ops->readdir = ub_readdir;
	ops->readdirplus = ub_readdirplus;
	ops->releasedir = ub_releasedir;
	ops->fsyncdir = ub_fsyncdir;
	ops->fallocate = ub_fallocate;
	ops->lseek = ub_lseek;
	ops->copy_file_range = ub_copy_file_range;
	ops->getlk = ub_getlk;
	ops->setlk = ub_setlk;
	ops->flock = ub_flock;
}
