// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Open files of the filesystem requests: attributes, open and create,
 * read and write, flush, release, fsync, fallocate, lseek and
 * copy_file_range, on handles of files and directories.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "fs_priv.h"

/*
 * open(2) flags on the wire are those of x86; the ones that differ
 * between architectures are translated.
 */
#define WIRE_O_DIRECT		0040000
#define WIRE_O_NOATIME		01000000

/* The segments of [off, off + len) of iov, into out[VIRTQ_MAX_IOV]. */
static unsigned int iov_slice(const struct iovec *iov, unsigned int cnt,
			      size_t off, size_t len, struct iovec *out)
{
	unsigned int i, n = 0;

	for (i = 0; i < cnt && len; i++) {
		size_t seg;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		seg = iov[i].iov_len - off;
		if (seg > len)
			seg = len;
		out[n].iov_base = (char *)iov[i].iov_base + off;
		out[n++].iov_len = seg;
		len -= seg;
		off = 0;
	}
	return n;
}

static int reply_attr(struct fs_ctx *x, int fd)
{
	struct vbridge_fs_attr_out out = {
		.attr_valid_ns = htole64(attr_timeout(x->fs, x->node)),
	};
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	fill_attr(x->fs, x->node->share, &st, &out.attr);
	return push(x, &out, sizeof(out));
}

int op_getattr(struct fs_ctx *x)
{
	return reply_attr(x, x->node->fd);
}

static int set_size(struct fs_ctx *x, struct fs_handle *h, uint64_t size)
{
	int fd, r;

	if (size > INT64_MAX)
		return -EFBIG;
	if (h)
		return ftruncate(h->fd, size) < 0 ? -errno : 0;
	if (x->node->type != S_IFREG)
		return x->node->type == S_IFDIR ? -EISDIR : -EINVAL;
	r = fd_reserve(x->fs);
	if (r)
		return r;
	fd = reopen(x->fs, x->node->fd, O_WRONLY);
	if (fd < 0) {
		fd_unreserve(x->fs);
		return fd;
	}
	r = ftruncate(fd, size) < 0 ? -errno : 0;
	fd_close(x->fs, fd);
	return r;
}

/*
 * Clear set-id bits as a write by the caller would (the guest decided
 * which, as its VFS does): that needs write access, not ownership, so
 * the mode is changed as ourselves once the caller's access is checked.
 */
static int kill_suidgid(struct fs_ctx *x, uint32_t valid)
{
	struct fs_node *n = x->node;
	struct creds_saved sv;
	char name[16], path[32];
	struct stat st;
	mode_t mode;
	int err = 0;

	if (n->type != S_IFREG)
		return 0;
	if (fstatat(n->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	mode = st.st_mode & 07777;
	if (valid & VBRIDGE_FS_SET_KILL_SUID)
		mode &= ~S_ISUID;
	if (valid & VBRIDGE_FS_SET_KILL_SGID)
		mode &= ~S_ISGID;
	if (mode == (st.st_mode & 07777))
		return 0;
	/* faccessat2(AT_EACCESS) checks the fsuid, fsgid and groups. */
	fd_name(n->fd, name);
	if (syscall(SYS_faccessat2, x->fs->proc_fd, name, W_OK, AT_EACCESS) < 0)
		return -errno;
	proc_path(n->fd, path);
	creds_push(x->fs, &sv);
	if (chmod(path, mode) < 0)
		err = -errno;
	creds_pop(&sv);
	return err;
}

int op_setattr(struct fs_ctx *x)
{
	const struct vbd_fs_opts *o = &x->fs->opts;
	struct vbridge_fs_setattr_in in;
	struct fs_node *n = x->node;
	struct fs_handle *h = NULL;
	uint32_t valid;
	char path[32];
	int err = 0;

	pull(x, &in, sizeof(in));
	valid = le32toh(in.valid);
	if (valid & ~(VBRIDGE_FS_SET_KILL_SGID * 2 - 1))
		return -EINVAL;
	if (valid & VBRIDGE_FS_SET_FH) {
		h = handle_get(x->fs, le64toh(x->in.fh), n);
		if (!h || h->dir)
			err = -EBADF;
	}
	if (!err && (valid & (VBRIDGE_FS_SET_KILL_SUID |
			      VBRIDGE_FS_SET_KILL_SGID)))
		err = kill_suidgid(x, valid);
	/*
	 * Through the magic link, which changes the node's own inode and
	 * opens nothing, so FIFOs and sockets too; symlinks: EOPNOTSUPP.
	 */
	proc_path(n->fd, path);
	if (!err && (valid & VBRIDGE_FS_SET_MODE)) {
		if (n->type == S_IFLNK)
			err = -EOPNOTSUPP;
		else if (chmod(path, le32toh(in.mode) & 07777) < 0)
			err = -errno;
	}
	if (!err && (valid & (VBRIDGE_FS_SET_UID | VBRIDGE_FS_SET_GID))) {
		uid_t uid = -1;
		gid_t gid = -1;

		if ((valid & VBRIDGE_FS_SET_UID) &&
		    !map_id(o->uid_map, o->nuid_maps, le32toh(in.uid), true, &uid))
			err = -EINVAL;
		if ((valid & VBRIDGE_FS_SET_GID) &&
		    !map_id(o->gid_map, o->ngid_maps, le32toh(in.gid), true, &gid))
			err = -EINVAL;
		if (!err && fchownat(n->fd, "", uid, gid,
				     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
	}
	if (!err && (valid & VBRIDGE_FS_SET_SIZE))
		err = set_size(x, h, le64toh(in.size));
	if (!err && (valid & (VBRIDGE_FS_SET_ATIME | VBRIDGE_FS_SET_MTIME |
			      VBRIDGE_FS_SET_ATIME_NOW | VBRIDGE_FS_SET_MTIME_NOW))) {
		struct timespec ts[2] = {
			{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
		};

		if (valid & VBRIDGE_FS_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (valid & VBRIDGE_FS_SET_ATIME)
			ts[0] = (struct timespec){ le64toh(in.atime),
						   le32toh(in.atimensec) };
		if (valid & VBRIDGE_FS_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (valid & VBRIDGE_FS_SET_MTIME)
			ts[1] = (struct timespec){ le64toh(in.mtime),
						   le32toh(in.mtimensec) };
		if ((ts[0].tv_nsec != UTIME_NOW && ts[0].tv_nsec != UTIME_OMIT &&
		     ts[0].tv_nsec >= 1000000000) ||
		    (ts[1].tv_nsec != UTIME_NOW && ts[1].tv_nsec != UTIME_OMIT &&
		     ts[1].tv_nsec >= 1000000000))
			err = -EINVAL;
		else if (h ? futimens(h->fd, ts) < 0 :
			 utimensat(n->fd, "", ts,
				   AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
	}
	if (h)
		handle_put(x->fs, h);
	return err ?: reply_attr(x, n->fd);
}

/* Host open flags for wire flags; -EINVAL if nonsensical. */
static int open_flags(struct fs_ctx *x, uint32_t w, int *flags)
{
	int f = w & (O_ACCMODE | O_APPEND | O_TRUNC | O_EXCL | O_SYNC | O_DSYNC);

	if ((w & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if (w & WIRE_O_DIRECT)
		f |= O_DIRECT;
	if (w & WIRE_O_NOATIME)
		f |= O_NOATIME;
	/* O_CREAT, O_NOCTTY, O_ASYNC, O_PATH... make no sense here. */
	*flags = f | O_LARGEFILE;
	if (readonly(x, x->node) &&
	    ((w & O_ACCMODE) != O_RDONLY || (w & O_TRUNC)))
		return -EROFS;
	return 0;
}

static int reply_open(struct fs_ctx *x, struct fs_node *n, int fd,
		      int flags, bool dir)
{
	struct vbridge_fs_open_out out = { 0 };
	uint64_t fh;
	int err = handle_new(x->fs, n, fd, flags, dir, &fh);

	if (err)
		return err;
	out.fh = htole64(fh);
	return push(x, &out, sizeof(out));
}

int op_open(struct fs_ctx *x)
{
	struct vbridge_fs_open_in in;
	int flags, fd, err;
	struct stat st;

	pull(x, &in, sizeof(in));
	err = open_flags(x, le32toh(in.flags), &flags);
	if (err)
		return err;
	if (x->node->type != S_IFREG)
		return x->node->type == S_IFDIR ? -EISDIR : -ENXIO;
	err = fd_reserve(x->fs);
	if (err)
		return err;
	/* O_NONBLOCK until checked: a FIFO must never block the queue. */
	fd = reopen(x->fs, x->node->fd, (flags & ~O_EXCL) | O_NONBLOCK);
	if (fd < 0) {
		fd_unreserve(x->fs);
		return fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		fd_close(x->fs, fd);
		return -ESTALE;
	}
	return reply_open(x, x->node, fd, flags, false);
}

int op_opendir(struct fs_ctx *x)
{
	int fd, err;

	if (x->node->type != S_IFDIR)
		return -ENOTDIR;
	err = fd_reserve(x->fs);
	if (err)
		return err;
	fd = reopen(x->fs, x->node->fd, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		fd_unreserve(x->fs);
		return fd;
	}
	return reply_open(x, x->node, fd, O_RDONLY, true);
}

/*
 * CREATE and TMPFILE: fd (reserved) is the new open file; answer with
 * its node's entry and a handle.
 */
static int reply_create(struct fs_ctx *x, int fd, int flags)
{
	struct vbridge_fs_entry_out e;
	struct fs_node *n;
	int pfd, err;

	err = fd_reserve(x->fs);
	if (err) {
		fd_close(x->fs, fd);
		return err;
	}
	pfd = reopen(x->fs, fd, O_PATH);
	if (pfd < 0) {
		fd_unreserve(x->fs);
		fd_close(x->fs, fd);
		return pfd;
	}
	/* Referenced at once: another queue's request could evict it. */
	err = node_add(x->fs, x->node->share, pfd, false, &e, &n);
	if (err) {
		fd_close(x->fs, fd);
		return err;
	}
	err = push(x, &e, sizeof(e)) ?: reply_open(x, n, fd, flags, false);
	node_put(x->fs, n);
	return err;
}

int op_create(struct fs_ctx *x)
{
	char name[VBRIDGE_FS_NAME_MAX + 1];
	struct vbridge_fs_open_in in;
	int flags, fd, err;
	struct stat st;

	pull(x, &in, sizeof(in));
	err = open_flags(x, le32toh(in.flags), &flags) ?:
	      pull_name(x, le32toh(in.namelen), name);
	if (err)
		return err;
	if (x->node->type != S_IFDIR)
		return -ENOTDIR;
	err = fd_reserve(x->fs);
	if (err)
		return err;
	/* O_NONBLOCK: an existing FIFO must not block the queue. */
	fd = resolve(x->node->fd, name, flags | O_CREAT | O_NONBLOCK,
		     le32toh(in.mode) & 07777);
	if (fd < 0) {
		fd_unreserve(x->fs);
		return fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		fd_close(x->fs, fd);
		return -ENXIO;
	}
	return reply_create(x, fd, flags);
}

int op_tmpfile(struct fs_ctx *x)
{
	struct vbridge_fs_open_in in;
	int flags, fd, err;

	pull(x, &in, sizeof(in));
	err = open_flags(x, le32toh(in.flags), &flags);
	if (err)
		return err;
	if ((flags & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	if (x->node->type != S_IFDIR)
		return -ENOTDIR;
	err = fd_reserve(x->fs);
	if (err)
		return err;
	fd = openat(x->node->fd, ".", (flags & ~O_TRUNC) |
		    O_TMPFILE | O_CLOEXEC, le32toh(in.mode) & 07777);
	if (fd < 0) {
		err = -errno;
		fd_unreserve(x->fs);
		return err;
	}
	return reply_create(x, fd, flags);
}

int op_read(struct fs_ctx *x)
{
	struct vbd_fs_req *r = x->r;
	struct iovec iov[VIRTQ_MAX_IOV];
	struct vbridge_fs_read_in in;
	struct fs_handle *h;
	unsigned int cnt;
	uint32_t size;
	ssize_t n;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	if (size > r->out_max || size > r->max_req_size - RESP_PAYLOAD ||
	    le64toh(in.offset) > INT64_MAX)
		return -EINVAL;
	err = get_handle(x, false, &h);
	if (err)
		return err;
	cnt = iov_slice(r->c->wr, r->c->nr_wr, RESP_PAYLOAD, size, iov);
	n = cnt ? preadv(h->fd, iov, cnt, le64toh(in.offset)) : 0;
	handle_put(x->fs, h);
	if (n < 0)
		return -errno;
	r->out_len = n;
	return 0;
}

int op_write(struct fs_ctx *x)
{
	struct vbd_fs_req *r = x->r;
	struct iovec iov[VIRTQ_MAX_IOV];
	struct vbridge_fs_write_out out = { 0 };
	struct vbridge_fs_write_in in;
	struct fs_handle *h;
	unsigned int cnt;
	uint32_t size, flags;
	ssize_t n;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	flags = le32toh(in.flags);
	if (size != r->in_len - x->pos || le64toh(in.offset) > INT64_MAX ||
	    (flags & ~VBRIDGE_FS_WRITE_APPEND))
		return -EINVAL;
	err = get_handle(x, false, &h);
	if (err)
		return err;
	cnt = iov_slice(r->c->rd, r->c->nr_rd, REQ_PAYLOAD + x->pos, size, iov);
	/* An append is atomic against other appenders on the host. */
	if (!cnt)
		n = 0;
	else if (flags & VBRIDGE_FS_WRITE_APPEND)
		n = pwritev2(h->fd, iov, cnt, le64toh(in.offset), RWF_APPEND);
	else
		n = pwritev(h->fd, iov, cnt, le64toh(in.offset));
	handle_put(x->fs, h);
	if (n < 0)
		return -errno;
	out.size = htole32(n);
	return push(x, &out, sizeof(out));
}

int op_flush(struct fs_ctx *x)
{
	struct vbridge_fs_flush_in in;
	struct fs_handle *h;
	int err;

	pull(x, &in, sizeof(in));
	err = get_handle(x, false, &h);
	if (err)
		return err;
	pthread_mutex_lock(&x->fs->lock);
	owner_drop_locked(x->fs, x->node, le64toh(in.lock_owner));
	handle_put_locked(x->fs, h);
	pthread_mutex_unlock(&x->fs->lock);
	return 0;
}

static int release(struct fs_ctx *x, bool dir)
{
	struct vbd_fs *fs = x->fs;
	struct fs_handle **pp, *h;
	uint64_t id = le64toh(x->in.fh);
	int err = -EBADF;

	pthread_mutex_lock(&fs->lock);
	for (pp = &fs->handles[hash64(id)]; (h = *pp); pp = &h->next) {
		if (h->id == id) {
			if (h->node == x->node && h->dir == dir) {
				*pp = h->next;
				handle_put_locked(fs, h);
				err = 0;
			}
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return err;
}

int op_release(struct fs_ctx *x)
{
	return release(x, false);
}

int op_releasedir(struct fs_ctx *x)
{
	return release(x, true);
}

static int do_fsync(struct fs_ctx *x, bool dir)
{
	struct vbridge_fs_fsync_in in;
	struct fs_handle *h;
	int err;

	pull(x, &in, sizeof(in));
	if (le32toh(in.flags) & ~VBRIDGE_FS_FSYNC_DATASYNC)
		return -EINVAL;
	err = get_handle(x, dir, &h);
	if (err)
		return err;
	if (le32toh(in.flags) & VBRIDGE_FS_FSYNC_DATASYNC)
		err = fdatasync(h->fd);
	else
		err = fsync(h->fd);
	err = err < 0 ? -errno : 0;
	handle_put(x->fs, h);
	return err;
}

int op_fsync(struct fs_ctx *x)
{
	return do_fsync(x, false);
}

int op_fsyncdir(struct fs_ctx *x)
{
	return do_fsync(x, true);
}

int op_fallocate(struct fs_ctx *x)
{
	struct vbridge_fs_fallocate_in in;
	struct fs_handle *h;
	int err;

	pull(x, &in, sizeof(in));
	if (le64toh(in.offset) > INT64_MAX || le64toh(in.length) > INT64_MAX)
		return -EINVAL;
	err = get_handle(x, false, &h);
	if (err)
		return err;
	if (fallocate(h->fd, le32toh(in.mode), le64toh(in.offset),
		      le64toh(in.length)) < 0)
		err = -errno;
	handle_put(x->fs, h);
	return err;
}

int op_lseek(struct fs_ctx *x)
{
	struct vbridge_fs_lseek_out out;
	struct vbridge_fs_lseek_in in;
	struct fs_handle *h;
	uint32_t whence;
	off_t off;
	int err;

	pull(x, &in, sizeof(in));
	whence = le32toh(in.whence);
	if ((whence != SEEK_DATA && whence != SEEK_HOLE) ||
	    le64toh(in.offset) > INT64_MAX)
		return -EINVAL;
	err = get_handle(x, false, &h);
	if (err)
		return err;
	/* The handle's position is not used by anything else. */
	off = lseek(h->fd, le64toh(in.offset), whence);
	err = off < 0 ? -errno : 0;
	handle_put(x->fs, h);
	if (err)
		return err;
	out.offset = htole64(off);
	return push(x, &out, sizeof(out));
}

int op_copy_file_range(struct fs_ctx *x)
{
	struct vbridge_fs_copy_range_out out;
	struct vbridge_fs_copy_range_in in;
	struct fs_handle *hin, *hout;
	struct fs_node *nout;
	loff_t off_in, off_out;
	ssize_t n;
	int err;

	pull(x, &in, sizeof(in));
	off_in = le64toh(in.off_in);
	off_out = le64toh(in.off_out);
	if (in.flags || off_in < 0 || off_out < 0)
		return -EINVAL;
	nout = node_get(x->fs, le64toh(in.nodeid_out));
	if (!nout)
		return -ESTALE;
	err = readonly(x, nout) ? -EROFS : get_handle(x, false, &hin);
	if (err)
		goto out;
	hout = handle_get(x->fs, le64toh(in.fh_out), nout);
	if (!hout || hout->dir) {
		err = -EBADF;
	} else {
		n = copy_file_range(hin->fd, &off_in, hout->fd, &off_out,
				    le64toh(in.len), 0);
		if (n < 0)
			err = -errno;
		out.size = htole64(n);
	}
	if (hout)
		handle_put(x->fs, hout);
	handle_put(x->fs, hin);
out:
	node_put(x->fs, nout);
	return err ?: push(x, &out, sizeof(out));
}
