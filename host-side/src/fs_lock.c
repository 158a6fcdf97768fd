// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * File locks of the filesystem requests.
 *
 * Locks.  POSIX locks of a guest owner are taken as OFD locks on an
 * open file description of the node private to that owner, so owners
 * conflict with each other and with host processes.  OFD locks use the
 * handle's own description, BSD locks flock() it.  A blocking SETLKW
 * is tried once and answered -EAGAIN while the lock is held elsewhere;
 * the driver waits and asks again.  Waiting here would hold up the
 * request queue, whose next request may be the unlock that frees the
 * lock, and nothing is ever left pending at reset.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "fs_priv.h"

/* Drop owner's POSIX locks on n and its description (lock held). */
void owner_drop_locked(struct vbd_fs *fs, struct fs_node *n,
		       uint64_t owner)
{
	struct fs_lock_owner **pp, *o;

	for (pp = &n->owners; (o = *pp); pp = &o->next) {
		if (o->owner == owner) {
			*pp = o->next;
			/* Closing the description releases its locks. */
			fd_close_locked(fs, o->fd);
			free(o);
			return;
		}
	}
}

/* The description holding owner's POSIX locks on h's node (lock held). */
static int owner_fd_locked(struct vbd_fs *fs, struct fs_handle *h,
			   uint64_t owner)
{
	struct fs_lock_owner *o;
	struct creds_saved sv;
	int fd, err;

	for (o = h->node->owners; o; o = o->next)
		if (o->owner == owner)
			return o->fd;
	err = fd_reserve_locked(fs);
	if (err)
		return err;
	/* Locks need no access beyond the handle's, checked by the caller. */
	creds_push(fs, &sv);
	fd = reopen(fs, h->fd, O_RDWR);
	if (fd == -EACCES || fd == -EROFS || fd == -EPERM)
		fd = reopen(fs, h->fd, O_RDONLY);
	creds_pop(&sv);
	o = fd >= 0 ? calloc(1, sizeof(*o)) : NULL;
	if (!o) {
		if (fd >= 0)
			close(fd);
		fs->nfds--;
		return fd >= 0 ? -ENOMEM : fd;
	}
	o->owner = owner;
	o->fd = fd;
	o->next = h->node->owners;
	h->node->owners = o;
	return fd;
}

static void lock_to_flock(const struct vbridge_fs_lock *lk, struct flock *fl)
{
	uint64_t start = le64toh(lk->start), end = le64toh(lk->end);

	memset(fl, 0, sizeof(*fl));
	fl->l_type = le32toh(lk->type);
	fl->l_whence = SEEK_SET;
	fl->l_start = start;
	fl->l_len = end >= INT64_MAX ? 0 : end - start + 1;
}

/* One lock attempt, never blocking (lock held). */
static int try_lock_locked(struct fs_ctx *x, struct fs_handle *h,
			   const struct vbridge_fs_lock_in *in, int cmd,
			   struct flock *fl)
{
	uint32_t kind = le32toh(in->kind);
	int fd = h->fd, op;

	switch (kind) {
	case VBRIDGE_FS_LK_POSIX:
		if (fl->l_type == F_UNLCK && cmd == F_OFD_SETLK) {
			struct fs_lock_owner *o;

			for (o = h->node->owners; o; o = o->next)
				if (o->owner == le64toh(in->owner))
					break;
			if (!o)
				return 0;
		}
		fd = owner_fd_locked(x->fs, h, le64toh(in->owner));
		if (fd < 0)
			return fd;
		/* fall through */
	case VBRIDGE_FS_LK_OFD:
		return fcntl(fd, cmd, fl) < 0 ? -errno : 0;
	case VBRIDGE_FS_LK_FLOCK:
		if (cmd == F_OFD_GETLK)
			return -EINVAL;
		op = fl->l_type == F_UNLCK ? LOCK_UN :
		     fl->l_type == F_RDLCK ? LOCK_SH : LOCK_EX;
		return flock(fd, op | LOCK_NB) < 0 ? -errno : 0;
	}
	return -EINVAL;
}

static int do_lock(struct fs_ctx *x, bool get)
{
	struct vbridge_fs_lock_out out = { 0 };
	struct vbridge_fs_lock_in in;
	struct fs_handle *h;
	struct flock fl;
	uint32_t type;
	int err;

	pull(x, &in, sizeof(in));
	type = le32toh(in.lk.type);
	if ((type != F_RDLCK && type != F_WRLCK && type != F_UNLCK) ||
	    le64toh(in.lk.start) > le64toh(in.lk.end) ||
	    le64toh(in.lk.start) > INT64_MAX)
		return -EINVAL;
	err = get_handle(x, false, &h);
	if (err)
		return err;
	if ((type == F_RDLCK && (h->flags & O_ACCMODE) == O_WRONLY) ||
	    (type == F_WRLCK && (h->flags & O_ACCMODE) == O_RDONLY &&
	     le32toh(in.kind) != VBRIDGE_FS_LK_FLOCK)) {
		handle_put(x->fs, h);
		return -EBADF;
	}
	lock_to_flock(&in.lk, &fl);
	pthread_mutex_lock(&x->fs->lock);
	err = try_lock_locked(x, h, &in, get ? F_OFD_GETLK : F_OFD_SETLK, &fl);
	pthread_mutex_unlock(&x->fs->lock);
	handle_put(x->fs, h);
	if (err || !get)
		return err;
	out.lk.type = htole32(fl.l_type);
	out.lk.start = htole64(fl.l_start);
	out.lk.end = htole64(fl.l_len ? (uint64_t)(fl.l_start + fl.l_len - 1) :
			     UINT64_MAX);
	out.lk.pid = htole32(fl.l_pid > 0 ? fl.l_pid : 0);
	return push(x, &out, sizeof(out));
}

int op_getlk(struct fs_ctx *x)
{
	return do_lock(x, true);
}

/* SETLK and SETLKW alike: see the top of this file. */
int op_setlk(struct fs_ctx *x)
{
	return do_lock(x, false);
}
