// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridge filesystem requests: a passthrough of the exported host
 * directories, in the manner of virtiofsd.  This file parses and
 * dispatches requests and sets the filesystem up; the rest is split
 * by concern, and fs_priv.h holds what the parts share:
 *
 *   fs_node.c     nodes and handles, the host descriptor budget
 *   fs_resolve.c  path resolution, sandbox-safe opening, credentials
 *   fs_dir.c      names and directories: lookup, mkdir, rename, readdir
 *   fs_data.c     open files: attributes, open, read, write, fallocate
 *   fs_xattr.c    extended attributes and the namespaces allowed
 *   fs_lock.c     POSIX, OFD and BSD locks
 *   fs_watch.c    fanotify and inotify -> invalidation events
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fs_priv.h"
#include "iov.h"

_Static_assert(sizeof(struct vbridge_fs_in) == 32 + 4 * VBRIDGE_FS_GROUPS_MAX,
	       "fs_in layout");
_Static_assert(sizeof(struct vbridge_fs_attr) == 88, "fs_attr layout");
_Static_assert(sizeof(struct vbridge_fs_dirent) == 136, "fs_dirent layout");
_Static_assert(sizeof(struct vbridge_fs_lock_in) == 40, "fs_lock_in layout");
_Static_assert(sizeof(struct vbridge_event_fs_inval_entry) +
	       VBRIDGE_FS_NAME_MAX <= VBRIDGE_EVENT_BUF_SIZE,
	       "inval_entry layout");

/* Host descriptors kept for stdio, the vhost-user layer, eventfds... */
#define FS_RESERVED_FDS		64
#define FS_DEFAULT_MAX_WATCHES	1024

/* Request parsing */

int pull(struct fs_ctx *x, void *buf, size_t len)
{
	if (len > x->r->in_len - x->pos)
		return -EINVAL;
	iov_to_buf(x->r->c->rd, x->r->c->nr_rd, REQ_PAYLOAD + x->pos, buf, len);
	x->pos += len;
	return 0;
}

/* A string of 1..max bytes without NUL into s[max + 1]. */
int pull_string(struct fs_ctx *x, uint32_t len, uint32_t max,
		int too_long, char *s)
{
	int err;

	if (!len)
		return -EINVAL;
	if (len > max)
		return too_long;
	err = pull(x, s, len);
	if (err)
		return err;
	s[len] = 0;
	return strlen(s) == len ? 0 : -EINVAL;
}

/* A name of len bytes into name[VBRIDGE_FS_NAME_MAX + 1]. */
int pull_name(struct fs_ctx *x, uint32_t len, char *name)
{
	int err;

	err = pull_string(x, len, VBRIDGE_FS_NAME_MAX, -ENAMETOOLONG, name);
	if (err)
		return err;
	if (memchr(name, '/', len) || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

int push(struct fs_ctx *x, const void *buf, size_t len)
{
	struct vbd_fs_req *r = x->r;

	if (len > r->out_max - r->out_len)
		return -EOVERFLOW;
	iov_from_buf(r->c->wr, r->c->nr_wr, RESP_PAYLOAD + r->out_len, buf, len);
	r->out_len += len;
	return 0;
}

/* Dispatch */

enum {
	FS_MUTATES	= 1 << 0,	/* -EROFS on a read-only export */
};

struct fs_op {
	int (*fn)(struct fs_ctx *x);
	uint32_t in_size;		/* after struct vbridge_fs_in */
	uint32_t out_size;
	unsigned int flags;
};

#define OP(name, fn, in, out, flags) \
	[VBRIDGE_OP_FS_##name - VBRIDGE_OP_FS_FIRST] = { fn, in, out, flags }
#define ENTRY	sizeof(struct vbridge_fs_entry_out)

static const struct fs_op fs_ops[] = {
	OP(MOUNT, op_mount, sizeof(struct vbridge_fs_mount_in), ENTRY, 0),
	OP(LOOKUP, op_lookup, sizeof(struct vbridge_fs_name_in), ENTRY, 0),
	OP(FORGET, op_forget, sizeof(struct vbridge_fs_forget_in), 0, 0),
	OP(GETATTR, op_getattr, 0, sizeof(struct vbridge_fs_attr_out), 0),
	OP(SETATTR, op_setattr, sizeof(struct vbridge_fs_setattr_in),
	   sizeof(struct vbridge_fs_attr_out), FS_MUTATES),
	OP(READLINK, op_readlink, 0, 0, 0),
	OP(SYMLINK, op_symlink, sizeof(struct vbridge_fs_symlink_in), ENTRY,
	   FS_MUTATES),
	OP(MKNOD, op_mknod, sizeof(struct vbridge_fs_mknod_in), ENTRY,
	   FS_MUTATES),
	OP(MKDIR, op_mkdir, sizeof(struct vbridge_fs_mknod_in), ENTRY,
	   FS_MUTATES),
	OP(UNLINK, op_unlink, sizeof(struct vbridge_fs_name_in), 0, FS_MUTATES),
	OP(RMDIR, op_rmdir, sizeof(struct vbridge_fs_name_in), 0, FS_MUTATES),
	OP(RENAME, op_rename, sizeof(struct vbridge_fs_rename_in), 0,
	   FS_MUTATES),
	OP(LINK, op_link, sizeof(struct vbridge_fs_link_in), ENTRY, FS_MUTATES),
	OP(OPEN, op_open, sizeof(struct vbridge_fs_open_in),
	   sizeof(struct vbridge_fs_open_out), 0),
	OP(CREATE, op_create, sizeof(struct vbridge_fs_open_in),
	   ENTRY + sizeof(struct vbridge_fs_open_out), FS_MUTATES),
	OP(TMPFILE, op_tmpfile, sizeof(struct vbridge_fs_open_in),
	   ENTRY + sizeof(struct vbridge_fs_open_out), FS_MUTATES),
	OP(READ, op_read, sizeof(struct vbridge_fs_read_in), 0, 0),
	OP(WRITE, op_write, sizeof(struct vbridge_fs_write_in),
	   sizeof(struct vbridge_fs_write_out), FS_MUTATES),
	OP(FLUSH, op_flush, sizeof(struct vbridge_fs_flush_in), 0, 0),
	OP(RELEASE, op_release, 0, 0, 0),
	OP(FSYNC, op_fsync, sizeof(struct vbridge_fs_fsync_in), 0, 0),
	OP(OPENDIR, op_opendir, sizeof(struct vbridge_fs_open_in),
	   sizeof(struct vbridge_fs_open_out), 0),
	OP(READDIR, op_readdir, sizeof(struct vbridge_fs_read_in), 0, 0),
	OP(RELEASEDIR, op_releasedir, 0, 0, 0),
	OP(FSYNCDIR, op_fsyncdir, sizeof(struct vbridge_fs_fsync_in), 0, 0),
	OP(STATFS, op_statfs, 0, sizeof(struct vbridge_fs_statfs_out), 0),
	OP(SYNCFS, op_syncfs, 0, 0, 0),
	OP(GETXATTR, op_getxattr, sizeof(struct vbridge_fs_getxattr_in), 0, 0),
	OP(SETXATTR, op_setxattr, sizeof(struct vbridge_fs_setxattr_in), 0,
	   FS_MUTATES),
	OP(LISTXATTR, op_listxattr, sizeof(struct vbridge_fs_getxattr_in), 0, 0),
	OP(REMOVEXATTR, op_removexattr, sizeof(struct vbridge_fs_name_in), 0,
	   FS_MUTATES),
	OP(FALLOCATE, op_fallocate, sizeof(struct vbridge_fs_fallocate_in), 0,
	   FS_MUTATES),
	OP(LSEEK, op_lseek, sizeof(struct vbridge_fs_lseek_in),
	   sizeof(struct vbridge_fs_lseek_out), 0),
	OP(COPY_FILE_RANGE, op_copy_file_range,
	   sizeof(struct vbridge_fs_copy_range_in),
	   sizeof(struct vbridge_fs_copy_range_out), 0),
	OP(GETLK, op_getlk, sizeof(struct vbridge_fs_lock_in),
	   sizeof(struct vbridge_fs_lock_out), 0),
	OP(SETLK, op_setlk, sizeof(struct vbridge_fs_lock_in), 0, 0),
	OP(SETLKW, op_setlk, sizeof(struct vbridge_fs_lock_in), 0, 0),
	OP(BATCH_FORGET, op_batch_forget,
	   sizeof(struct vbridge_fs_batch_forget_in), 0, 0),
	OP(GET_HANDLE, op_get_handle, 0, sizeof(struct vbridge_fs_handle), 0),
	OP(RESOLVE, op_resolve, sizeof(struct vbridge_fs_handle), ENTRY, 0),
	OP(READDIR_NAMES, op_readdir_names, sizeof(struct vbridge_fs_read_in),
	   0, 0),
};

int vbd_fs_handle(struct vbd_fs *fs, struct vbd_fs_req *r)
{
	uint32_t i = r->opcode - VBRIDGE_OP_FS_FIRST;
	struct fs_ctx x = { .fs = fs, .r = r };
	const struct fs_op *op;
	int err;

	if (r->opcode < VBRIDGE_OP_FS_FIRST || i >= ARRAY_SIZE(fs_ops) ||
	    !fs_ops[i].fn)
		return -EOPNOTSUPP;
	op = &fs_ops[i];
	if (pull(&x, &x.in, sizeof(x.in)) ||
	    le32toh(x.in.ngroups) > VBRIDGE_FS_GROUPS_MAX ||
	    r->in_len - x.pos < op->in_size || r->out_max < op->out_size)
		return -EINVAL;
	if (r->opcode != VBRIDGE_OP_FS_MOUNT) {
		x.node = node_get_err(fs, le64toh(x.in.nodeid), &err);
		if (!x.node)
			return err;
		if ((op->flags & FS_MUTATES) && readonly(&x, x.node)) {
			node_put(fs, x.node);
			return -EROFS;
		}
	}
	err = creds_enter(&x) ?: op->fn(&x);
	creds_leave(&x);
	if (err)
		r->out_len = 0;
	if (x.node)
		node_put(fs, x.node);
	return err;
}

/* Setup */

static void fs_clear(struct vbd_fs *fs)
{
	unsigned int i;

	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < FS_HASH_SIZE; i++) {
		while (fs->handles[i]) {
			struct fs_handle *h = fs->handles[i];

			fs->handles[i] = h->next;
			handle_put_locked(fs, h);
		}
	}
	for (i = 0; i < FS_HASH_SIZE; i++) {
		while (fs->by_id[i]) {
			struct fs_node *n = fs->by_id[i];

			n->nlookup = 0;
			n->refs = 1;
			node_put_locked(fs, n);
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

void vbd_fs_reset(struct vbd_fs *fs)
{
	fs_clear(fs);
}

/*
 * Node ids and handles start at a random point: a guest that outlived an
 * earlier vbridged (restarted under it) may still send that one's ids,
 * which must then name nothing here rather than another file.
 */
static uint64_t first_id(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	/* In [2^47, 2^48): never 0, and 2^47 ids before any wrap. */
	return (v & ((1ULL << 47) - 1)) | (1ULL << 47);
}

int vbd_fs_timeout_parse(const char *s, uint64_t *ns)
{
	unsigned long ms;
	char *end;

	errno = 0;
	ms = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || ms > VBD_FS_MAX_TIMEOUT_MS)
		return -EINVAL;
	*ns = (uint64_t)ms * 1000000;
	return 0;
}

/* Give the fanotify groups back to the store (no watcher running). */
static void watch_give(struct vbd_fs *fs)
{
	unsigned int i;

	for (i = 0; i < fs->nshares; i++) {
		if (fs->shares[i].fan_fd < 0)
			continue;
		fs->store->ops->export_watch_give(fs->store, i);
		fs->shares[i].fan_fd = -1;
	}
}

bool vbd_fs_coherent(const struct vbd_fs *fs)
{
	unsigned int i;

	for (i = 0; i < fs->nshares; i++)
		if (fs->shares[i].fan_fd < 0)
			return false;
	return fs->nshares && fs->watching;
}

struct vbd_fs *vbd_fs_new(const struct vbd_store *store,
			  const struct vbd_fs_opts *opts,
			  vbd_fs_event_fn *post_event, void *opaque)
{
	unsigned int i, n = store->ops->num_exports(store);
	struct vbd_fs *fs = calloc(1, sizeof(*fs));
	struct rlimit rl;
	struct stat st;

	if (!fs)
		return NULL;
	fs->opts = *opts;
	if (!fs->opts.timeouts_set) {
		fs->opts.entry_timeout_ns = VBD_FS_DEFAULT_TIMEOUT_NS;
		fs->opts.attr_timeout_ns = VBD_FS_DEFAULT_TIMEOUT_NS;
	}
	if (!fs->opts.max_watches)
		fs->opts.max_watches = FS_DEFAULT_MAX_WATCHES;
	if (!fs->opts.max_fds) {
		fs->opts.max_fds = 1024;
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur > 2 * FS_RESERVED_FDS)
			fs->opts.max_fds = rl.rlim_cur - FS_RESERVED_FDS;
	}
	fs->nshares = n;
	for (i = 0; i < n; i++) {
		const char *tag = store->ops->export_tag(store, i);

		fs->shares[i].dir_fd = store->ops->export_dir(store, i);
		fs->shares[i].readonly = store->ops->export_readonly(store, i);
		if (fs->shares[i].dir_fd >= 0 &&
		    !fstat(fs->shares[i].dir_fd, &st))
			fs->shares[i].root_dev = st.st_dev;

		strncpy(fs->shares[i].tag, tag, VBRIDGE_TAG_LEN);
		fs->shares[i].fan_fd = store->ops->export_watch_take &&
				       !opts->inotify_only ?
			store->ops->export_watch_take(store, i) : -1;
		if (fs->shares[i].fan_fd < 0 && fs->shares[i].dir_fd >= 0)
			log_debug("export '%s': watched with inotify (no fanotify group of its own)",
				  tag);
	}
	fs->store = store;
	fs->uid = geteuid();
	fs->gid = getegid();
	fs->post_event = post_event;
	fs->opaque = opaque;
	fs->next_id = first_id();
	pthread_mutex_init(&fs->lock, NULL);
	fs->stop_fd = -1;
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_fd < 0) {
		log_err("/proc/self/fd: %s", strerror(errno));
		goto fail;
	}
	/* For the nodes fanotify does not cover, if any. */
	fs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	fs->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (fs->stop_fd < 0 || pthread_create(&fs->watcher, NULL, watcher, fs)) {
		log_warn("filesystem: host changes will not be signalled to the guest");
		watch_give(fs);
		if (fs->inotify_fd >= 0)
			close(fs->inotify_fd);
		fs->inotify_fd = -1;
	} else {
		fs->watching = true;
	}
	return fs;
fail:
	watch_give(fs);
	if (fs->stop_fd >= 0)
		close(fs->stop_fd);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
	return NULL;
}

void vbd_fs_free(struct vbd_fs *fs)
{
	static const uint64_t one = 1;
	unsigned int i;

	if (fs->watching) {
		if (write(fs->stop_fd, &one, sizeof(one)) != sizeof(one))
			log_err("filesystem: cannot stop the watcher thread");
		pthread_join(fs->watcher, NULL);
		watch_give(fs);
	}
	fs_clear(fs);
	for (i = 0; i < fs->nanchors; i++)
		close(fs->anchors[i].fd);
	if (fs->inotify_fd >= 0)
		close(fs->inotify_fd);
	if (fs->stop_fd >= 0)
		close(fs->stop_fd);
	close(fs->proc_fd);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}
