/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the parts of the filesystem requests share (see fs.c for the
 * layout): the node, handle and request structures and the helpers each
 * part offers the others.  fs.h is the interface to the rest of vbridged.
 */
#ifndef VBD_FS_PRIV_H
#define VBD_FS_PRIV_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <linux/vbridge.h>

#include "caps.h"
#include "fs.h"
#include "log.h"
#include "util.h"

#define REQ_PAYLOAD		sizeof(struct vbridge_req_hdr)
#define RESP_PAYLOAD		sizeof(struct vbridge_resp_hdr)

#define FS_HASH_BITS		10
#define FS_HASH_SIZE		(1U << FS_HASH_BITS)
#define FS_MAX_ANCHORS		64

/* A guest POSIX lock owner on a node: an open file description of its own. */
struct fs_lock_owner {
	uint64_t owner;
	int fd;
	struct fs_lock_owner *next;
};

struct fs_node {
	uint64_t id;
	dev_t dev;
	ino_t ino;
	mode_t type;			/* S_IFMT bits */
	unsigned int share;
	/* Immutable once made: NULL if the filesystem has no handles. */
	struct file_handle *handle;
	int mount_id;
	/* Protected by vbd_fs.lock: */
	/*
	 * O_PATH | O_NOFOLLOW, or -1 while evicted; may only change while
	 * refs == 0, so a request holding a reference can use it unlocked.
	 */
	int fd;
	bool root;			/* an export's root: never evicted */
	bool in_lru;			/* on vbd_fs.lru */
	struct fs_node *lru_prev, *lru_next;
	uint64_t nlookup;		/* the guest's lookups */
	unsigned int refs;		/* requests and handles using it */
	int wd;				/* inotify watch, or -1 */
	struct fs_lock_owner *owners;
	struct fs_node *next_id, *next_ino, *next_wd, *next_fh;
};

struct fs_handle {
	uint64_t id;
	int fd;
	int flags;			/* host open flags */
	bool dir;
	struct fs_node *node;		/* holds a reference */
	/* Serializes lseek() + getdents64() of READDIR. */
	pthread_mutex_t pos_lock;
	/* Protected by vbd_fs.lock: */
	unsigned int refs;
	struct fs_handle *next;
};

struct fs_share {
	int dir_fd;			/* owned by the store; -1: none */
	bool readonly;
	char tag[VBRIDGE_TAG_LEN];
	dev_t root_dev;			/* st_dev of dir_fd: devidx 0 */
	/* fanotify group of the export, taken from the store; -1: none. */
	int fan_fd;
	/* Protected by vbd_fs.lock: st_dev of devidx 1..ndevs. */
	unsigned int ndevs;
	dev_t devs[VBRIDGE_FS_DEVIDX_MAX - 1];
};

struct vbd_fs {
	/* Immutable after vbd_fs_new(). */
	struct vbd_fs_opts opts;
	unsigned int nshares;
	struct fs_share shares[VBRIDGE_MAX_TAGS];
	int proc_fd;			/* /proc/self/fd */
	uid_t uid;			/* our own fsuid, fsgid */
	gid_t gid;
	vbd_fs_event_fn *post_event;
	void *opaque;
	const struct vbd_store *store;	/* for the fanotify groups */
	int inotify_fd;			/* -1 without it */
	int stop_fd;			/* eventfd: stop the watcher */
	bool watching;			/* the watcher thread runs */
	pthread_t watcher;

	/* lock protects the fields below and those marked in nodes and handles. */
	pthread_mutex_t lock;
	uint64_t next_id;		/* node ids and handles */
	unsigned int nfds;		/* host descriptors held */
	/*
	 * Evictable nodes (fd >= 0, a file handle, not a root, refs ==
	 * 0), least recently used first.
	 */
	struct fs_node *lru_head, *lru_tail;
	/* Per mount, a directory opened O_RDONLY for open_by_handle_at(). */
	unsigned int nanchors;
	struct fs_anchor {
		int mount_id;
		int fd;
	} anchors[FS_MAX_ANCHORS];
	bool emfile_logged;
	unsigned int nwatches;		/* nodes with wd >= 0 */
	bool watches_logged;
	struct vbd_ratelimit rl;
	struct fs_node *by_id[FS_HASH_SIZE];
	struct fs_node *by_ino[FS_HASH_SIZE];
	struct fs_node *by_wd[FS_HASH_SIZE];
	/* Nodes with a file handle, by handle (fanotify events). */
	struct fs_node *by_fh[FS_HASH_SIZE];
	struct fs_handle *handles[FS_HASH_SIZE];
};

/* One request being handled. */
struct fs_ctx {
	struct vbd_fs *fs;
	struct vbd_fs_req *r;
	struct vbridge_fs_in in;
	uint32_t pos;			/* next input payload byte */
	struct fs_node *node;		/* in.nodeid, referenced; NULL for MOUNT */
	struct vbd_caps_saved caps;
};

/* Act as ourselves for a moment, e.g. on the guest's behalf but beyond its access. */
struct creds_saved {
	long uid, gid;
};

static inline unsigned int hash64(uint64_t v)
{
	return (v * 0x9e3779b97f4a7c15ULL) >> (64 - FS_HASH_BITS);
}

static inline bool file_or_dir(const struct fs_node *n)
{
	return n->type == S_IFREG || n->type == S_IFDIR;
}

static inline uint32_t encode_dev(dev_t d)
{
	unsigned int ma = major(d), mi = minor(d);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffU) << 12);
}

static inline dev_t decode_dev(uint32_t d)
{
	return makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
}

static inline bool readonly(struct fs_ctx *x, const struct fs_node *n)
{
	return x->fs->shares[n->share].readonly;
}

#define UNLINK_FROM(head, n, link)					\
	do {								\
		struct fs_node **pp_;					\
		for (pp_ = (head); *pp_; pp_ = &(*pp_)->link)		\
			if (*pp_ == (n)) {				\
				*pp_ = (n)->link;			\
				break;					\
			}						\
	} while (0)

/* fs.c: request parsing */
int pull(struct fs_ctx *x, void *buf, size_t len);
int pull_string(struct fs_ctx *x, uint32_t len, uint32_t max, int too_long,
		char *s);
int pull_name(struct fs_ctx *x, uint32_t len, char *name);
int push(struct fs_ctx *x, const void *buf, size_t len);

/* fs_resolve.c: id maps, credentials, sandbox-safe opening */
bool map_id(const struct vbd_id_map *maps, unsigned int n, uint32_t id,
	    bool to_host, uint32_t *out);
void creds_push(struct vbd_fs *fs, struct creds_saved *sv);
void creds_pop(const struct creds_saved *sv);
int creds_enter(struct fs_ctx *x);
void creds_leave(struct fs_ctx *x);
int resolve(int dir_fd, const char *name, int flags, mode_t mode);
void fd_name(int fd, char buf[16]);
int reopen(struct vbd_fs *fs, int fd, int flags);
void proc_path(int fd, char buf[32]);

/* fs_node.c: descriptor budget, nodes, handles */
int fd_reserve_locked(struct vbd_fs *fs);
int fd_reserve(struct vbd_fs *fs);
void fd_unreserve(struct vbd_fs *fs);
void fd_close_locked(struct vbd_fs *fs, int fd);
void fd_close(struct vbd_fs *fs, int fd);
void node_put_locked(struct vbd_fs *fs, struct fs_node *n);
void node_put(struct vbd_fs *fs, struct fs_node *n);
void node_forget(struct vbd_fs *fs, uint64_t id, uint64_t cnt);
struct fs_node *node_get_err(struct vbd_fs *fs, uint64_t id, int *err);
struct fs_node *node_get(struct vbd_fs *fs, uint64_t id);
void fill_attr(struct vbd_fs *fs, unsigned int share, const struct stat *st,
	       struct vbridge_fs_attr *a);
uint64_t attr_timeout(const struct vbd_fs *fs, const struct fs_node *n);
uint64_t entry_timeout(const struct vbd_fs *fs, const struct fs_node *n);
int node_add(struct vbd_fs *fs, unsigned int share, int fd, bool root,
	     struct vbridge_fs_entry_out *e, struct fs_node **ref);
int lookup(struct vbd_fs *fs, struct fs_node *dir, const char *name,
	   struct vbridge_fs_entry_out *e);
struct fs_handle *handle_get(struct vbd_fs *fs, uint64_t id,
			     const struct fs_node *node);
void handle_put_locked(struct vbd_fs *fs, struct fs_handle *h);
void handle_put(struct vbd_fs *fs, struct fs_handle *h);
int handle_new(struct vbd_fs *fs, struct fs_node *node, int fd, int flags,
	       bool dir, uint64_t *fh);
int get_handle(struct fs_ctx *x, bool dir, struct fs_handle **out);

/* fs_watch.c: change notifications (lock held) */
void node_watch_locked(struct vbd_fs *fs, struct fs_node *n);
void node_unwatch_locked(struct vbd_fs *fs, struct fs_node *n);
bool node_fanotified(const struct vbd_fs *fs, const struct fs_node *n);
void node_fh_add_locked(struct vbd_fs *fs, struct fs_node *n);
void node_fh_del_locked(struct vbd_fs *fs, struct fs_node *n);
void *watcher(void *arg);

/* fs_lock.c */
void owner_drop_locked(struct vbd_fs *fs, struct fs_node *n, uint64_t owner);

/* The requests, in fs_dir.c, fs_data.c, fs_xattr.c and fs_lock.c. */
int op_mount(struct fs_ctx *x);
int op_lookup(struct fs_ctx *x);
int op_forget(struct fs_ctx *x);
int op_batch_forget(struct fs_ctx *x);
int op_readlink(struct fs_ctx *x);
int op_symlink(struct fs_ctx *x);
int op_mknod(struct fs_ctx *x);
int op_mkdir(struct fs_ctx *x);
int op_unlink(struct fs_ctx *x);
int op_rmdir(struct fs_ctx *x);
int op_rename(struct fs_ctx *x);
int op_link(struct fs_ctx *x);
int op_readdir(struct fs_ctx *x);
int op_readdir_names(struct fs_ctx *x);
int op_statfs(struct fs_ctx *x);
int op_syncfs(struct fs_ctx *x);

int op_getattr(struct fs_ctx *x);
int op_setattr(struct fs_ctx *x);
int op_open(struct fs_ctx *x);
int op_opendir(struct fs_ctx *x);
int op_create(struct fs_ctx *x);
int op_tmpfile(struct fs_ctx *x);
int op_read(struct fs_ctx *x);
int op_write(struct fs_ctx *x);
int op_flush(struct fs_ctx *x);
int op_release(struct fs_ctx *x);
int op_releasedir(struct fs_ctx *x);
int op_fsync(struct fs_ctx *x);
int op_fsyncdir(struct fs_ctx *x);
int op_fallocate(struct fs_ctx *x);
int op_lseek(struct fs_ctx *x);
int op_copy_file_range(struct fs_ctx *x);

int op_getxattr(struct fs_ctx *x);
int op_listxattr(struct fs_ctx *x);
int op_setxattr(struct fs_ctx *x);
int op_removexattr(struct fs_ctx *x);

int op_get_handle(struct fs_ctx *x);
int op_resolve(struct fs_ctx *x);

int op_getlk(struct fs_ctx *x);
int op_setlk(struct fs_ctx *x);

#endif /* VBD_FS_PRIV_H */
