// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Building vbridge filesystem requests from FUSE requests, and turning
 * the device's attributes and entries into FUSE's.
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

struct ubr *U(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The root and FUSE_ROOT_ID trade places; every other id is the device's. */
uint64_t to_node(const struct ubr *u, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? u->root : ino == u->root ? FUSE_ROOT_ID : ino;
}

fuse_ino_t to_ino(const struct ubr *u, uint64_t node)
{
	return node == u->root ? FUSE_ROOT_ID : node == FUSE_ROOT_ID ? u->root : node;
}

void fsreq_init(struct fsreq *r, fuse_req_t req, fuse_ino_t ino,
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

void fsreq_add(struct fsreq *r, const void *p, size_t len)
{
	if (len)
		r->iov[r->n++] = (struct iovec){ (void *)p, len };
}

int fsreq_call(struct fsreq *r, uint32_t opcode, void *out, size_t room,
	       size_t *out_len)
{
	return ubr_call(U(r->req)->ch, opcode, r->iov, r->n, out, room, out_len);
}

/* A call whose reply must be exactly room bytes (0 or a negative errno). */
int fsreq_call_exact(struct fsreq *r, uint32_t opcode, void *out,
		     size_t room)
{
	size_t len = 0;
	int err = fsreq_call(r, opcode, out, room, &len);

	return err ? err : len == room ? 0 : -EIO;
}

void fill_stat(const struct vbridge_fs_attr *a, struct stat *st)
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

double timeout(const struct ubr *u, uint64_t ns)
{
	if (u->cache == CACHE_NONE)
		return 0;
	if (u->cache == CACHE_ALWAYS)
		return ALWAYS_TIMEOUT;
	return ns / 1e9;
}

int fill_entry(const struct ubr *u, const struct vbridge_fs_entry_out *eo,
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
void forget_node(struct ubr *u, uint64_t node, uint64_t n)
{
	struct vbridge_fs_forget_in fi = { .nlookup = htole64(n) };
	struct vbridge_fs_in in = { .nodeid = htole64(node) };
	struct iovec iov[2] = { { &in, sizeof(in) }, { &fi, sizeof(fi) } };

	ubr_call(u->ch, VBRIDGE_OP_FS_FORGET, iov, 2, NULL, 0, NULL);
}

/* Reply with the entry of an operation answered by vbridge_fs_entry_out. */
void reply_entry(struct fsreq *r, int err,
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
int name_len(const char *name, uint32_t *len)
{
	size_t n = strlen(name);

	if (n > VBRIDGE_FS_NAME_MAX)
		return -ENAMETOOLONG;
	*len = n;
	return 0;
}

int fsreq_named(struct fsreq *r, fuse_req_t req, fuse_ino_t ino,
		const void *hdr, size_t hdr_len, uint32_t *namelen,
		const char *name)
{
	uint32_t n;
	int err = name_len(name, &n);

	r->req = req;
	if (err)
		return err;
	*namelen = htole32(n);
	fsreq_init(r, req, ino, 0);
	fsreq_add(r, hdr, hdr_len);
	fsreq_add(r, name, n);
	return 0;
}
