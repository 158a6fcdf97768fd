// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Names and directories of the filesystem requests: mount, lookup and
 * forget, the requests that make, remove and rename names, readdir,
 * and statfs.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "fs_priv.h"

int op_mount(struct fs_ctx *x)
{
	struct vbd_fs *fs = x->fs;
	struct vbridge_fs_mount_in in;
	struct vbridge_fs_entry_out e;
	unsigned int i;
	int fd, err;

	pull(x, &in, sizeof(in));
	if (in.flags)
		return -EINVAL;
	for (i = 0; i < fs->nshares; i++)
		if (!memcmp(in.tag, fs->shares[i].tag, VBRIDGE_TAG_LEN))
			break;
	if (i == fs->nshares || fs->shares[i].dir_fd < 0)
		return -ENOENT;
	err = fd_reserve(fs);
	if (err)
		return err;
	fd = openat(fs->shares[i].dir_fd, ".",
		    O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		fd_unreserve(fs);
		return err;
	}
	err = node_add(fs, i, fd, true, &e, NULL);
	return err ?: push(x, &e, sizeof(e));
}

int op_lookup(struct fs_ctx *x)
{
	struct vbridge_fs_entry_out e;
	struct vbridge_fs_name_in in;
	char name[VBRIDGE_FS_NAME_MAX + 1];
	int err;

	pull(x, &in, sizeof(in));
	err = pull_name(x, le32toh(in.namelen), name) ?:
	      lookup(x->fs, x->node, name, &e);
	return err ?: push(x, &e, sizeof(e));
}

int op_forget(struct fs_ctx *x)
{
	struct vbridge_fs_forget_in in;
	struct fs_node *n = x->node;
	uint64_t cnt;

	pull(x, &in, sizeof(in));
	cnt = le64toh(in.nlookup);
	pthread_mutex_lock(&x->fs->lock);
	n->nlookup -= cnt < n->nlookup ? cnt : n->nlookup;
	pthread_mutex_unlock(&x->fs->lock);
	return 0;
}

/*
 * Many FORGETs: the nodes are looked up by id only, never reopened, and
 * go as soon as nothing holds them; an unknown id is one the driver
 * cannot hold lookups of, so it is skipped.
 */
int op_batch_forget(struct fs_ctx *x)
{
	struct vbridge_fs_batch_forget_in in;
	struct vbridge_fs_forget_one one;
	uint32_t i, count;

	pull(x, &in, sizeof(in));
	count = le32toh(in.count);
	if (in.padding ||
	    count > (x->r->in_len - x->pos) / sizeof(one))
		return -EINVAL;
	for (i = 0; i < count; i++) {
		pull(x, &one, sizeof(one));
		node_forget(x->fs, le64toh(one.nodeid), le64toh(one.nlookup));
	}
	return 0;
}

int op_readlink(struct fs_ctx *x)
{
	char buf[VBRIDGE_FS_PATH_MAX];
	ssize_t len;

	if (x->node->type != S_IFLNK)
		return -EINVAL;
	len = readlinkat(x->node->fd, "", buf, sizeof(buf));
	if (len < 0)
		return -errno;
	if ((size_t)len == sizeof(buf))
		return -ENAMETOOLONG;
	return push(x, buf, len) ? -ERANGE : 0;
}

/* Reply to a request that created name in the node: look it up. */
static int reply_entry(struct fs_ctx *x, const char *name)
{
	struct vbridge_fs_entry_out e;
	int err = lookup(x->fs, x->node, name, &e);

	return err ?: push(x, &e, sizeof(e));
}

int op_symlink(struct fs_ctx *x)
{
	struct vbridge_fs_symlink_in in;
	char name[VBRIDGE_FS_NAME_MAX + 1], target[VBRIDGE_FS_PATH_MAX];
	uint32_t tlen;
	int err;

	pull(x, &in, sizeof(in));
	tlen = le32toh(in.targetlen);
	err = pull_name(x, le32toh(in.namelen), name);
	if (err)
		return err;
	if (!tlen)
		return -EINVAL;
	if (tlen >= VBRIDGE_FS_PATH_MAX)
		return -ENAMETOOLONG;
	if (pull(x, target, tlen))
		return -EINVAL;
	target[tlen] = 0;
	if (strlen(target) != tlen)
		return -EINVAL;
	if (x->node->type != S_IFDIR)
		return -ENOTDIR;
	if (symlinkat(target, x->node->fd, name) < 0)
		return -errno;
	return reply_entry(x, name);
}

int op_mknod(struct fs_ctx *x)
{
	struct vbridge_fs_mknod_in in;
	char name[VBRIDGE_FS_NAME_MAX + 1];
	mode_t mode;
	int err;

	pull(x, &in, sizeof(in));
	mode = le32toh(in.mode);
	err = pull_name(x, le32toh(in.namelen), name);
	if (err)
		return err;
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (x->fs->opts.allow_devices)
			break;
		return -EPERM;
	default:
		return -EINVAL;
	}
	if (x->node->type != S_IFDIR)
		return -ENOTDIR;
	if (mknodat(x->node->fd, name, mode & (S_IFMT | 07777),
		    decode_dev(le32toh(in.rdev))) < 0)
		return -errno;
	return reply_entry(x, name);
}

int op_mkdir(struct fs_ctx *x)
{
	struct vbridge_fs_mknod_in in;
	char name[VBRIDGE_FS_NAME_MAX + 1];
	int err;

	pull(x, &in, sizeof(in));
	err = pull_name(x, le32toh(in.namelen), name);
	if (err)
		return err;
	if (x->node->type != S_IFDIR)
		return -ENOTDIR;
	if (mkdirat(x->node->fd, name, le32toh(in.mode) & 07777) < 0)
		return -errno;
	return reply_entry(x, name);
}

static int remove_name(struct fs_ctx *x, int flags)
{
	struct vbridge_fs_name_in in;
	char name[VBRIDGE_FS_NAME_MAX + 1];
	int err;

	pull(x, &in, sizeof(in));
	err = pull_name(x, le32toh(in.namelen), name);
	if (err)
		return err;
	if (x->node->type != S_IFDIR)
		return -ENOTDIR;
	return unlinkat(x->node->fd, name, flags) < 0 ? -errno : 0;
}

int op_unlink(struct fs_ctx *x)
{
	return remove_name(x, 0);
}

int op_rmdir(struct fs_ctx *x)
{
	return remove_name(x, AT_REMOVEDIR);
}

/* The directory newparent of the request's export, referenced. */
static int get_other(struct fs_ctx *x, uint64_t id, struct fs_node **out)
{
	struct fs_node *n = node_get(x->fs, id);

	if (!n)
		return -ESTALE;
	if (n->share != x->node->share) {
		node_put(x->fs, n);
		return -EXDEV;
	}
	*out = n;
	return 0;
}

int op_rename(struct fs_ctx *x)
{
	char old[VBRIDGE_FS_NAME_MAX + 1], new[VBRIDGE_FS_NAME_MAX + 1];
	struct vbridge_fs_rename_in in;
	struct fs_node *np;
	unsigned int flags = 0;
	uint32_t wflags;
	int err;

	pull(x, &in, sizeof(in));
	wflags = le32toh(in.flags);
	err = pull_name(x, le32toh(in.oldnamelen), old) ?:
	      pull_name(x, le32toh(in.newnamelen), new);
	if (err)
		return err;
	if (wflags & ~(VBRIDGE_FS_RENAME_NOREPLACE | VBRIDGE_FS_RENAME_EXCHANGE |
		       VBRIDGE_FS_RENAME_WHITEOUT))
		return -EINVAL;
	if (wflags & VBRIDGE_FS_RENAME_NOREPLACE)
		flags |= RENAME_NOREPLACE;
	if (wflags & VBRIDGE_FS_RENAME_EXCHANGE)
		flags |= RENAME_EXCHANGE;
	if (wflags & VBRIDGE_FS_RENAME_WHITEOUT)
		flags |= RENAME_WHITEOUT;
	err = get_other(x, le64toh(in.newparent), &np);
	if (err)
		return err;
	if (x->node->type != S_IFDIR || np->type != S_IFDIR)
		err = -ENOTDIR;
	else if (renameat2(x->node->fd, old, np->fd, new, flags) < 0)
		err = -errno;
	node_put(x->fs, np);
	return err;
}

int op_link(struct fs_ctx *x)
{
	char name[VBRIDGE_FS_NAME_MAX + 1], path[32];
	struct vbridge_fs_entry_out e;
	struct vbridge_fs_link_in in;
	struct fs_node *np;
	int err;

	pull(x, &in, sizeof(in));
	err = pull_name(x, le32toh(in.namelen), name);
	if (err)
		return err;
	if (x->node->type == S_IFDIR)
		return -EPERM;
	err = get_other(x, le64toh(in.newparent), &np);
	if (err)
		return err;
	proc_path(x->node->fd, path);
	if (np->type != S_IFDIR)
		err = -ENOTDIR;
	else if (linkat(AT_FDCWD, path, np->fd, name, AT_SYMLINK_FOLLOW) < 0)
		err = -errno;
	else
		err = lookup(x->fs, np, name, &e);
	node_put(x->fs, np);
	return err ?: push(x, &e, sizeof(e));
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* The size of a READDIR (plus) or READDIR_NAMES record of a len-byte name. */
static size_t readdir_record_size(size_t len, bool plus)
{
	return plus ? VBRIDGE_FS_DIRENT_SIZE(len) :
		      VBRIDGE_FS_DIRENT_NAME_SIZE(len);
}

/*
 * The record of the getdents64() entry d (its name len bytes, the record
 * rlen) into the reply: with plus, the entry looked up (READDIR), else
 * only its inode number (READDIR_NAMES).  False for a name left out.
 */
static bool readdir_record(struct fs_ctx *x, const struct linux_dirent64 *d,
			   size_t len, size_t rlen, bool plus)
{
	static const uint8_t pad[8];
	size_t hdr;

	if (plus) {
		struct vbridge_fs_dirent rec = { 0 };
		int err = lookup(x->fs, x->node, d->d_name, &rec.entry);

		if (err == -ENOENT)
			return false;	/* removed meanwhile */
		if (err)
			memset(&rec.entry, 0, sizeof(rec.entry));
		rec.off = htole64(d->d_off);
		rec.namelen = htole32(len);
		rec.type = htole32(d->d_type);
		push(x, &rec, sizeof(rec));
		hdr = sizeof(rec);
	} else {
		struct vbridge_fs_dirent_name rec = {
			.ino = htole64(d->d_ino),
			.off = htole64(d->d_off),
			.namelen = htole32(len),
			.type = htole32(d->d_type),
		};

		push(x, &rec, sizeof(rec));
		hdr = sizeof(rec);
	}
	push(x, d->d_name, len);
	push(x, pad, rlen - hdr - len);
	return true;
}

/* Emit the records of dir handle h from offset into at most size bytes. */
static int readdir_fill(struct fs_ctx *x, struct fs_handle *h,
			uint64_t offset, uint32_t size, bool plus)
{
	char buf[16384] __attribute__((aligned(8)));
	uint32_t used = 0;
	bool full = false;

	if (lseek(h->fd, offset, SEEK_SET) < 0)
		return -errno;
	while (!full) {
		long n = syscall(SYS_getdents64, h->fd, buf, sizeof(buf));
		long pos;

		if (n < 0)
			return used ? 0 : -errno;
		if (!n)
			break;
		for (pos = 0; pos < n;) {
			struct linux_dirent64 *d = (void *)(buf + pos);
			size_t len = strlen(d->d_name);
			size_t rlen = readdir_record_size(len, plus);

			pos += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (rlen > size - used) {
				full = true;
				break;
			}
			if (readdir_record(x, d, len, rlen, plus))
				used += rlen;
		}
	}
	/* Not even one record fits: not the end of the directory. */
	return !used && full ? -EINVAL : 0;
}

static int readdir_common(struct fs_ctx *x, bool plus)
{
	struct vbridge_fs_read_in in;
	struct fs_handle *h;
	uint32_t size;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	if (size > x->r->out_max || le64toh(in.offset) > INT64_MAX)
		return -EINVAL;
	err = get_handle(x, true, &h);
	if (err)
		return err;
	pthread_mutex_lock(&h->pos_lock);
	err = readdir_fill(x, h, le64toh(in.offset), size, plus);
	pthread_mutex_unlock(&h->pos_lock);
	handle_put(x->fs, h);
	return err;
}

int op_readdir(struct fs_ctx *x)
{
	return readdir_common(x, true);
}

int op_readdir_names(struct fs_ctx *x)
{
	return readdir_common(x, false);
}

int op_statfs(struct fs_ctx *x)
{
	struct vbridge_fs_statfs_out out = { 0 };
	struct statfs sf;

	if (fstatfs(x->node->fd, &sf) < 0)
		return -errno;
	out.blocks = htole64(sf.f_blocks);
	out.bfree = htole64(sf.f_bfree);
	out.bavail = htole64(sf.f_bavail);
	out.files = htole64(sf.f_files);
	out.ffree = htole64(sf.f_ffree);
	out.bsize = htole32(sf.f_bsize);
	out.namelen = htole32(sf.f_namelen);
	out.frsize = htole32(sf.f_frsize);
	return push(x, &out, sizeof(out));
}

int op_syncfs(struct fs_ctx *x)
{
	int fd, err;

	err = fd_reserve(x->fs);
	if (err)
		return err;
	fd = openat(x->fs->shares[x->node->share].dir_fd, ".",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		fd_unreserve(x->fs);
		return err;
	}
	err = syncfs(fd) < 0 ? -errno : 0;
	fd_close(x->fs, fd);
	return err;
}
