// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridge filesystem requests: a passthrough of the exported host
 * directories, in the manner of virtiofsd.
 *
 * Nodes.  Every inode handed to the guest is a node: an O_PATH
 * descriptor of the host inode, found again by node id.  Nodes are
 * deduplicated by (export, st_dev, st_ino) so that a node id is stable
 * across lookups and hard links share one; they live while the guest
 * holds lookups (LOOKUP..FORGET) or a request or open handle uses them.
 *
 * Sandbox.  Names from the guest are single, validated components,
 * resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS) and O_NOFOLLOW from the parent's descriptor:
 * the host never follows a symlink, "..", or a magic link for the guest
 * (the guest resolves symlinks itself through READLINK), so renames on
 * the host cannot make a lookup leave the export.  O_PATH descriptors
 * are reopened for I/O through /proc/self/fd/N, which is only done for
 * regular files and directories (a node's file type never changes), so
 * the magic link cannot lead anywhere but the node's own inode.
 *
 * Credentials.  Requests run with the thread's fsuid/fsgid set to the
 * caller's ids, mapped through --uid-map/--gid-map, and the thread's
 * supplementary groups set to the caller's mapped groups (unmapped ones
 * left out): the host kernel checks the caller's access and new files
 * get the caller as owner.  The daemon's own groups never apply.  Each
 * is set with the raw syscall, which changes only the calling thread
 * (glibc's wrappers change every thread).
 *
 * Locks.  POSIX locks of a guest owner are taken as OFD locks on an
 * open file description of the node private to that owner, so owners
 * conflict with each other and with host processes.  OFD locks use the
 * handle's own description, BSD locks flock() it.  A blocking SETLKW
 * retries the non-blocking lock for up to FS_LOCK_WAIT_MS, then
 * answers -EAGAIN and the driver asks again: the queue thread is never
 * blocked for long, and nothing is left pending at reset.
 *
 * Descriptor budget.  Every host descriptor the filesystem holds
 * counts against --max-fds.  When a new one is needed at the limit, the
 * O_PATH descriptor of the least recently used node that no request or
 * handle references (refs == 0) and that is not an export's root is
 * closed, as virtiofsd does: its file
 * handle (name_to_handle_at) was recorded when the node was made, and
 * the next request naming the node reopens it with open_by_handle_at()
 * from an anchor descriptor on the same mount (the first directory node
 * seen on that mount opened O_RDONLY, kept for the life of the
 * connection and counted in the budget), checking that st_dev
 * and st_ino still match; a file gone meanwhile answers ESTALE.  Nodes
 * on filesystems without file handles are never evicted.
 * Only when nothing can be evicted do requests fail with EMFILE.
 *
 * Filesystems.  Attributes carry a device index (devidx) instead of the
 * host's st_dev: 0 for the filesystem of the export's root, and 1..
 * in order of first appearance for every other host filesystem mounted
 * below the export, so that the guest can give each its own st_dev.
 * An export remembers up to VBRIDGE_FS_DEVIDX_MAX - 1 such filesystems
 * for the life of the connection (resets included); all further ones
 * share the overflow index VBRIDGE_FS_DEVIDX_MAX.
 *
 * Coherence.  Regular files and directories are watched with inotify
 * by a watcher thread, which sends INVAL_INODE for a changed node and
 * INVAL_ENTRY for a name created, deleted or moved in a watched
 * directory.  The device coalesces identical pending events and drops
 * events when its pending list is full: the guest's cache timeouts
 * bound how stale it can then be.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <linux/capability.h>
#include <linux/openat2.h>

#include <linux/vbridge.h>

#include "caps.h"
#include "fs.h"
#include "fs_xattr.h"
#include "iov.h"
#include "log.h"
#include "util.h"

_Static_assert(sizeof(struct vbridge_fs_in) == 32 + 4 * VBRIDGE_FS_GROUPS_MAX,
	       "fs_in layout");
_Static_assert(sizeof(struct vbridge_fs_attr) == 88, "fs_attr layout");
_Static_assert(sizeof(struct vbridge_fs_dirent) == 136, "fs_dirent layout");
_Static_assert(sizeof(struct vbridge_fs_lock_in) == 40, "fs_lock_in layout");
_Static_assert(sizeof(struct vbridge_event_fs_inval_entry) +
	       VBRIDGE_FS_NAME_MAX <= VBRIDGE_EVENT_BUF_SIZE,
	       "inval_entry layout");

#define REQ_PAYLOAD		sizeof(struct vbridge_req_hdr)
#define RESP_PAYLOAD		sizeof(struct vbridge_resp_hdr)

#define FS_HASH_BITS		10
#define FS_HASH_SIZE		(1U << FS_HASH_BITS)
/* Host descriptors kept for stdio, the vhost-user layer, eventfds... */
#define FS_RESERVED_FDS		64
#define FS_LOCK_WAIT_MS		1000
#define FS_MAX_ANCHORS		64
#define FS_DEFAULT_MAX_WATCHES	1024

#define WATCH_MASK	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | \
			 IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK)
#define WATCH_ENTRY	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

/*
 * open(2) flags on the wire are those of x86; the ones that differ
 * between architectures are translated.
 */
#define WIRE_O_DIRECT		0040000
#define WIRE_O_NOATIME		01000000

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
	struct fs_node *next_id, *next_ino, *next_wd;
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
	int inotify_fd;			/* -1 without coherence */
	int stop_fd;			/* eventfd: stop the watcher */
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

static unsigned int hash64(uint64_t v)
{
	return (v * 0x9e3779b97f4a7c15ULL) >> (64 - FS_HASH_BITS);
}

/* Id maps */

int vbd_id_map_parse(const char *s, struct vbd_id_map *m)
{
	unsigned long long g, h, n;
	int len = -1;

	if (sscanf(s, "%llu:%llu:%llu%n", &g, &h, &n, &len) != 3 ||
	    len < 0 || s[len] || *s == '-' || strchr(s, '-') || !n ||
	    g + n - 1 > UINT32_MAX || h + n - 1 > UINT32_MAX)
		return -EINVAL;
	m->guest = g;
	m->host = h;
	m->count = n;
	return 0;
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

/* Map id through maps (n = 0: identity); false if outside every map. */
static bool map_id(const struct vbd_id_map *maps, unsigned int n,
		   uint32_t id, bool to_host, uint32_t *out)
{
	unsigned int i;

	if (!n) {
		*out = id;
		return true;
	}
	for (i = 0; i < n; i++) {
		uint32_t from = to_host ? maps[i].guest : maps[i].host;
		uint32_t to = to_host ? maps[i].host : maps[i].guest;

		if (id >= from && id - from < maps[i].count) {
			*out = to + (id - from);
			return true;
		}
	}
	*out = VBD_OVERFLOW_ID;
	return false;
}

/* Per-thread credentials: the raw syscalls, not glibc's process-wide ones. */
static void creds_set(uid_t uid, gid_t gid)
{
	syscall(SYS_setfsgid, gid);
	syscall(SYS_setfsuid, uid);
}

/* Act as ourselves for a moment, e.g. on the guest's behalf but beyond its access. */
struct creds_saved {
	long uid, gid;
};

static void creds_push(struct vbd_fs *fs, struct creds_saved *sv)
{
	sv->gid = syscall(SYS_setfsgid, fs->gid);
	sv->uid = syscall(SYS_setfsuid, fs->uid);
}

static void creds_pop(const struct creds_saved *sv)
{
	syscall(SYS_setfsgid, sv->gid);
	syscall(SYS_setfsuid, sv->uid);
}

/* The supplementary groups last set on this thread; n < 0: unknown. */
static __thread struct {
	int n;
	gid_t gids[VBRIDGE_FS_GROUPS_MAX];
} thread_groups = { .n = -1 };

/*
 * The caller's groups, mapped; unmapped ones are left out, as no host
 * file has them.  The syscall is skipped while the list is unchanged.
 */
static int groups_set(struct fs_ctx *x)
{
	const struct vbd_fs_opts *o = &x->fs->opts;
	unsigned int i, cnt = le32toh(x->in.ngroups);
	gid_t gids[VBRIDGE_FS_GROUPS_MAX];
	uint32_t gid;
	int n = 0;

	/* An unprivileged daemon acts as itself only: nothing to drop. */
	if (x->fs->uid)
		return 0;
	for (i = 0; i < cnt; i++)
		if (map_id(o->gid_map, o->ngid_maps, le32toh(x->in.groups[i]),
			   true, &gid))
			gids[n++] = gid;
	if (thread_groups.n == n &&
	    !memcmp(thread_groups.gids, gids, n * sizeof(gids[0])))
		return 0;
	if (syscall(SYS_setgroups, (size_t)n, gids) < 0) {
		thread_groups.n = -1;
		return -errno;
	}
	thread_groups.n = n;
	memcpy(thread_groups.gids, gids, n * sizeof(gids[0]));
	return 0;
}

/*
 * Act as the request's caller: its fsuid and fsgid, and, unless it is
 * host root, none of the daemon's capabilities.  A fsuid other than 0
 * loses the filesystem capabilities only, not CAP_SYS_ADMIN (trusted.*),
 * CAP_SETFCAP (security.capability), CAP_SYS_RESOURCE and the others.
 * CAP_SETUID and CAP_SETGID stay: creds_pop() needs them to become the
 * caller again, and no filesystem call consults them.
 */
static int creds_enter(struct fs_ctx *x)
{
	const struct vbd_fs_opts *o = &x->fs->opts;
	uint32_t uid, gid, fsuid, fsgid;
	int err;

	map_id(o->uid_map, o->nuid_maps, le32toh(x->in.uid), true, &uid);
	map_id(o->gid_map, o->ngid_maps, le32toh(x->in.gid), true, &gid);
	/* Never the daemon's own groups: fail the request instead. */
	err = groups_set(x);
	if (err) {
		bool say;

		pthread_mutex_lock(&x->fs->lock);
		say = vbd_ratelimit(&x->fs->rl);
		pthread_mutex_unlock(&x->fs->lock);
		if (say)
			log_err("filesystem: setgroups: %s", strerror(-err));
		return err;
	}
	creds_set(uid, gid);
	x->caps.dropped = false;
	if (uid)
		vbd_caps_drop(&x->caps, VBD_CAP(CAP_SETUID) | VBD_CAP(CAP_SETGID));
	/*
	 * setfsuid() does not fail, it ignores: never serve as root (an
	 * unprivileged daemon just serves as itself).
	 */
	fsuid = syscall(SYS_setfsuid, -1);
	fsgid = syscall(SYS_setfsgid, -1);
	if ((fsuid != uid && !fsuid) || (fsgid != gid && !fsgid)) {
		if (vbd_ratelimit(&x->fs->rl))
			log_err("filesystem: cannot take the caller's ids %u:%u",
				uid, gid);
		return -EPERM;
	}
	return 0;
}

static void creds_leave(struct fs_ctx *x)
{
	struct vbd_fs *fs = x->fs;

	syscall(SYS_setfsuid, fs->uid);
	syscall(SYS_setfsgid, fs->gid);
	vbd_caps_restore(&x->caps);
}

static void node_unwatch_locked(struct vbd_fs *fs, struct fs_node *n);
static void node_watch_locked(struct vbd_fs *fs, struct fs_node *n);

/* Node LRU (lock held) */

static void lru_del_locked(struct vbd_fs *fs, struct fs_node *n)
{
	if (!n->in_lru)
		return;
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else
		fs->lru_head = n->lru_next;
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		fs->lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
	n->in_lru = false;
}

/* n was just used and nothing references it: most recently used. */
static void lru_touch_locked(struct vbd_fs *fs, struct fs_node *n)
{
	lru_del_locked(fs, n);
	if (n->refs || n->fd < 0 || !n->handle || n->root)
		return;
	n->lru_prev = fs->lru_tail;
	n->lru_next = NULL;
	if (fs->lru_tail)
		fs->lru_tail->lru_next = n;
	else
		fs->lru_head = n;
	fs->lru_tail = n;
	n->in_lru = true;
}

/* Close the least recently used evictable node's descriptor. */
static bool evict_locked(struct vbd_fs *fs)
{
	struct fs_node *n = fs->lru_head;

	if (!n)
		return false;
	lru_del_locked(fs, n);
	/* Watches are bounded like descriptors: the guest's timeouts cover it. */
	node_unwatch_locked(fs, n);
	close(n->fd);
	n->fd = -1;
	fs->nfds--;
	return true;
}

/* Host descriptor accounting (lock held) */

static int fd_reserve_locked(struct vbd_fs *fs)
{
	if (fs->nfds >= fs->opts.max_fds && !evict_locked(fs)) {
		if (!fs->emfile_logged)
			log_warn("filesystem: %u host file descriptors in use, the --max-fds limit; answering EMFILE",
				 fs->nfds);
		fs->emfile_logged = true;
		return -EMFILE;
	}
	fs->nfds++;
	return 0;
}

static int fd_reserve(struct vbd_fs *fs)
{
	int err;

	pthread_mutex_lock(&fs->lock);
	err = fd_reserve_locked(fs);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

static void fd_unreserve(struct vbd_fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->nfds--;
	pthread_mutex_unlock(&fs->lock);
}

static void fd_close_locked(struct vbd_fs *fs, int fd)
{
	close(fd);
	fs->nfds--;
}

static void fd_close(struct vbd_fs *fs, int fd)
{
	pthread_mutex_lock(&fs->lock);
	fd_close_locked(fs, fd);
	pthread_mutex_unlock(&fs->lock);
}

/* Host helpers */

static int resolve(int dir_fd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = flags | O_NOFOLLOW | O_CLOEXEC,
		.mode = mode,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	int fd = syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

static void fd_name(int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
}

/* Open a descriptor of fd's inode with flags; fd must be a file or directory. */
static int reopen(struct vbd_fs *fs, int fd, int flags)
{
	char name[16];
	int r;

	fd_name(fd, name);
	r = openat(fs->proc_fd, name,
		   (flags & ~(O_CREAT | O_NOFOLLOW | O_EXCL)) | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

static void proc_path(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

static bool file_or_dir(const struct fs_node *n)
{
	return n->type == S_IFREG || n->type == S_IFDIR;
}

static uint32_t encode_dev(dev_t d)
{
	unsigned int ma = major(d), mi = minor(d);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffU) << 12);
}

static dev_t decode_dev(uint32_t d)
{
	return makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
}

/* Nodes */

static struct fs_node *node_find_locked(struct vbd_fs *fs, uint64_t id)
{
	struct fs_node *n;

	for (n = fs->by_id[hash64(id)]; n; n = n->next_id)
		if (n->id == id)
			return n;
	return NULL;
}

static unsigned int ino_hash(dev_t dev, ino_t ino, unsigned int share)
{
	return hash64(ino ^ ((uint64_t)dev << 20) ^ ((uint64_t)share << 58));
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

static void node_unwatch_locked(struct vbd_fs *fs, struct fs_node *n)
{
	struct fs_node *o;
	int wd = n->wd;

	if (wd < 0)
		return;
	UNLINK_FROM(&fs->by_wd[hash64(wd)], n, next_wd);
	n->wd = -1;
	fs->nwatches--;
	/* The same inode in another export shares the watch. */
	for (o = fs->by_wd[hash64(wd)]; o; o = o->next_wd)
		if (o->wd == wd)
			return;
	inotify_rm_watch(fs->inotify_fd, wd);
}

static void node_free_locked(struct vbd_fs *fs, struct fs_node *n)
{
	struct fs_lock_owner *o, *next;

	UNLINK_FROM(&fs->by_id[hash64(n->id)], n, next_id);
	UNLINK_FROM(&fs->by_ino[ino_hash(n->dev, n->ino, n->share)], n, next_ino);
	node_unwatch_locked(fs, n);
	lru_del_locked(fs, n);
	for (o = n->owners; o; o = next) {
		next = o->next;
		fd_close_locked(fs, o->fd);
		free(o);
	}
	if (n->fd >= 0)
		fd_close_locked(fs, n->fd);
	free(n->handle);
	free(n);
}

static void node_put_locked(struct vbd_fs *fs, struct fs_node *n)
{
	if (--n->refs)
		return;
	if (!n->nlookup)
		node_free_locked(fs, n);
	else
		lru_touch_locked(fs, n);
}

static void node_put(struct vbd_fs *fs, struct fs_node *n)
{
	pthread_mutex_lock(&fs->lock);
	node_put_locked(fs, n);
	pthread_mutex_unlock(&fs->lock);
}

static int anchor_find_locked(struct vbd_fs *fs, int mount_id)
{
	unsigned int i;

	for (i = 0; i < fs->nanchors; i++)
		if (fs->anchors[i].mount_id == mount_id)
			return fs->anchors[i].fd;
	return -1;
}

/* Reopen evicted n from its file handle (lock held, n referenced). */
static int node_reopen_locked(struct vbd_fs *fs, struct fs_node *n)
{
	int fd, mfd, err, saved_errno;
	struct creds_saved sv;
	struct stat st;

	mfd = anchor_find_locked(fs, n->mount_id);
	if (mfd < 0)
		return -ESTALE;
	err = fd_reserve_locked(fs);
	if (err)
		return err;
	/*
	 * open_by_handle_at() needs CAP_DAC_READ_SEARCH, which a request
	 * running with a guest user's fsuid does not have.
	 */
	creds_push(fs, &sv);
	fd = open_by_handle_at(mfd, n->handle, O_PATH | O_CLOEXEC);
	saved_errno = errno;
	creds_pop(&sv);
	if (fd < 0) {
		err = saved_errno == ENOENT || saved_errno == ESTALE ?
		      -ESTALE : -saved_errno;
		fs->nfds--;
		return err;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != n->dev ||
	    st.st_ino != n->ino || (st.st_mode & S_IFMT) != n->type ||
	    !st.st_nlink) {
		fd_close_locked(fs, fd);
		return -ESTALE;
	}
	n->fd = fd;
	node_watch_locked(fs, n);
	return 0;
}

/* The node the guest calls id, referenced, with its descriptor open. */
static struct fs_node *node_get_err(struct vbd_fs *fs, uint64_t id, int *err)
{
	struct fs_node *n;

	*err = 0;
	pthread_mutex_lock(&fs->lock);
	n = node_find_locked(fs, id);
	if (!n) {
		*err = -ESTALE;
	} else {
		n->refs++;
		lru_del_locked(fs, n);
		if (n->fd < 0)
			*err = node_reopen_locked(fs, n);
		if (*err) {
			node_put_locked(fs, n);
			n = NULL;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* The same; NULL (ESTALE) if unusable. */
static struct fs_node *node_get(struct vbd_fs *fs, uint64_t id)
{
	int err;

	return node_get_err(fs, id, &err);
}

/*
 * Watch n's inode as ourselves (the caller may not read it), within
 * --max-watches: inotify watches count against root's max_user_watches,
 * shared with every other process of root.  Lock held.
 */
static void node_watch_locked(struct vbd_fs *fs, struct fs_node *n)
{
	struct creds_saved sv;
	char path[32];
	int wd;

	if (fs->inotify_fd < 0 || n->wd >= 0 || n->fd < 0 ||
	    (n->type != S_IFREG && n->type != S_IFDIR))
		return;
	if (fs->nwatches >= fs->opts.max_watches) {
		if (!fs->watches_logged)
			log_warn("filesystem: %u host files watched, the --max-watches limit; changes to others are seen when the guest's cache times out",
				 fs->nwatches);
		fs->watches_logged = true;
		return;
	}
	proc_path(n->fd, path);
	creds_push(fs, &sv);
	wd = inotify_add_watch(fs->inotify_fd, path, WATCH_MASK);
	creds_pop(&sv);
	if (wd < 0) {
		if (vbd_ratelimit(&fs->rl))
			log_warn("filesystem: cannot watch a file for changes: %s",
				 strerror(errno));
		return;
	}
	n->wd = wd;
	n->next_wd = fs->by_wd[hash64(wd)];
	fs->by_wd[hash64(wd)] = n;
	fs->nwatches++;
}

/* The device index of host filesystem dev in share (see the top). */
static uint32_t dev_index(struct vbd_fs *fs, unsigned int share, dev_t dev)
{
	struct fs_share *s = &fs->shares[share];
	uint32_t i;

	if (dev == s->root_dev)
		return 0;
	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < s->ndevs; i++)
		if (s->devs[i] == dev)
			break;
	if (i == s->ndevs) {
		if (s->ndevs < ARRAY_SIZE(s->devs))
			s->devs[s->ndevs++] = dev;
		else
			i = VBRIDGE_FS_DEVIDX_MAX - 1;
	}
	pthread_mutex_unlock(&fs->lock);
	return i + 1;
}

static void fill_attr(struct vbd_fs *fs, unsigned int share,
		      const struct stat *st, struct vbridge_fs_attr *a)
{
	const struct vbd_fs_opts *o = &fs->opts;
	uint32_t uid, gid;

	map_id(o->uid_map, o->nuid_maps, st->st_uid, false, &uid);
	map_id(o->gid_map, o->ngid_maps, st->st_gid, false, &gid);
	memset(a, 0, sizeof(*a));
	a->ino = htole64(st->st_ino);
	a->size = htole64(st->st_size);
	a->blocks = htole64(st->st_blocks);
	a->atime = htole64(st->st_atim.tv_sec);
	a->mtime = htole64(st->st_mtim.tv_sec);
	a->ctime = htole64(st->st_ctim.tv_sec);
	a->atimensec = htole32(st->st_atim.tv_nsec);
	a->mtimensec = htole32(st->st_mtim.tv_nsec);
	a->ctimensec = htole32(st->st_ctim.tv_nsec);
	a->mode = htole32(st->st_mode);
	a->nlink = htole32(st->st_nlink);
	a->uid = htole32(uid);
	a->gid = htole32(gid);
	a->rdev = htole32(encode_dev(st->st_rdev));
	a->blksize = htole32(st->st_blksize);
	a->devidx = htole32(dev_index(fs, share, st->st_dev));
}

/* Whether evicted node n is still the inode st, fh describe. */
static bool node_same_locked(const struct fs_node *n, const struct stat *st,
			     const struct file_handle *fh)
{
	if (n->type != (st->st_mode & S_IFMT))
		return false;
	if (!n->handle || !fh)
		return !n->handle && !fh;
	/* The handle holds the generation: a reused inode number differs. */
	return n->handle->handle_type == fh->handle_type &&
	       n->handle->handle_bytes == fh->handle_bytes &&
	       !memcmp(n->handle->f_handle, fh->f_handle, fh->handle_bytes);
}

/*
 * Make fd (O_PATH, one reserved descriptor, consumed) a node of share
 * with one more lookup, and describe it in e.  With ref, the node is
 * also referenced for the caller (*ref), so that it cannot be evicted
 * before the caller uses it.
 */
static int node_add(struct vbd_fs *fs, unsigned int share, int fd,
		    bool root, struct vbridge_fs_entry_out *e,
		    struct fs_node **ref)
{
	struct file_handle *fh;
	struct fs_node *n;
	struct stat st;
	unsigned int h;
	int mount_id = -1;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int err = -errno;

		fd_close(fs, fd);
		return err;
	}
	fh = calloc(1, sizeof(*fh) + MAX_HANDLE_SZ);
	if (fh) {
		fh->handle_bytes = MAX_HANDLE_SZ;
		/* EOPNOTSUPP and the like: the node is never evicted. */
		if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) < 0) {
			free(fh);
			fh = NULL;
		}
	}
	h = ino_hash(st.st_dev, st.st_ino, share);

	pthread_mutex_lock(&fs->lock);
	for (n = fs->by_ino[h]; n; n = n->next_ino)
		if (n->dev == st.st_dev && n->ino == st.st_ino &&
		    n->share == share)
			break;
	if (n && n->fd < 0 && !node_same_locked(n, &st, fh)) {
		/*
		 * Evicted, and its inode number was reused: that node is
		 * stale (its handle no longer opens), this is a new one.
		 */
		UNLINK_FROM(&fs->by_ino[h], n, next_ino);
		n = NULL;
	}
	if (n) {
		if (n->fd < 0)
			n->fd = fd;	/* evicted: nothing references it */
		else
			fd_close_locked(fs, fd);
		free(fh);
	} else {
		n = calloc(1, sizeof(*n));
		if (!n) {
			fd_close_locked(fs, fd);
			pthread_mutex_unlock(&fs->lock);
			free(fh);
			return -ENOMEM;
		}
		n->handle = fh;
		n->mount_id = mount_id;
		if (fh && S_ISDIR(st.st_mode) &&
		    anchor_find_locked(fs, mount_id) < 0 &&
		    fs->nanchors < FS_MAX_ANCHORS &&
		    !fd_reserve_locked(fs)) {
			/* open_by_handle_at() takes no O_PATH mount_fd. */
			struct creds_saved sv;
			int afd;

			creds_push(fs, &sv);
			afd = reopen(fs, fd, O_RDONLY | O_DIRECTORY);
			creds_pop(&sv);
			if (afd >= 0) {
				fs->anchors[fs->nanchors].mount_id = mount_id;
				fs->anchors[fs->nanchors++].fd = afd;
			} else {
				fs->nfds--;
			}
		}
		n->id = fs->next_id++;
		n->fd = fd;
		n->dev = st.st_dev;
		n->ino = st.st_ino;
		n->type = st.st_mode & S_IFMT;
		n->share = share;
		n->wd = -1;
		n->next_id = fs->by_id[hash64(n->id)];
		fs->by_id[hash64(n->id)] = n;
		n->next_ino = fs->by_ino[h];
		fs->by_ino[h] = n;
	}
	node_watch_locked(fs, n);
	n->nlookup++;
	n->root |= root;
	if (ref) {
		n->refs++;
		lru_del_locked(fs, n);
		*ref = n;
	} else if (!n->refs) {
		lru_touch_locked(fs, n);
	}
	memset(e, 0, sizeof(*e));
	e->nodeid = htole64(n->id);
	pthread_mutex_unlock(&fs->lock);

	e->entry_valid_ns = htole64(fs->opts.entry_timeout_ns);
	e->attr_valid_ns = htole64(fs->opts.attr_timeout_ns);
	fill_attr(fs, share, &st, &e->attr);
	return 0;
}

/* Look name up in dir: a new lookup of the child, described in e. */
static int lookup(struct vbd_fs *fs, struct fs_node *dir, const char *name,
		  struct vbridge_fs_entry_out *e)
{
	int fd, err;

	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	err = fd_reserve(fs);
	if (err)
		return err;
	fd = resolve(dir->fd, name, O_PATH, 0);
	if (fd < 0) {
		fd_unreserve(fs);
		return fd;
	}
	return node_add(fs, dir->share, fd, false, e, NULL);
}

/* Handles */

static struct fs_handle *handle_get(struct vbd_fs *fs, uint64_t id,
				    const struct fs_node *node)
{
	struct fs_handle *h;

	pthread_mutex_lock(&fs->lock);
	for (h = fs->handles[hash64(id)]; h; h = h->next)
		if (h->id == id)
			break;
	if (h && h->node == node)
		h->refs++;
	else
		h = NULL;
	pthread_mutex_unlock(&fs->lock);
	return h;
}

static void handle_put_locked(struct vbd_fs *fs, struct fs_handle *h)
{
	if (--h->refs)
		return;
	fd_close_locked(fs, h->fd);
	node_put_locked(fs, h->node);
	pthread_mutex_destroy(&h->pos_lock);
	free(h);
}

static void handle_put(struct vbd_fs *fs, struct fs_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	handle_put_locked(fs, h);
	pthread_mutex_unlock(&fs->lock);
}

/* A handle of fd (reserved, consumed) on node; its id in *fh. */
static int handle_new(struct vbd_fs *fs, struct fs_node *node, int fd,
		      int flags, bool dir, uint64_t *fh)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (!h) {
		fd_close(fs, fd);
		return -ENOMEM;
	}
	h->fd = fd;
	h->flags = flags;
	h->dir = dir;
	h->node = node;
	h->refs = 1;
	pthread_mutex_init(&h->pos_lock, NULL);
	pthread_mutex_lock(&fs->lock);
	node->refs++;
	h->id = fs->next_id++;
	h->next = fs->handles[hash64(h->id)];
	fs->handles[hash64(h->id)] = h;
	pthread_mutex_unlock(&fs->lock);
	*fh = h->id;
	return 0;
}

/* Request parsing */

static int pull(struct fs_ctx *x, void *buf, size_t len)
{
	if (len > x->r->in_len - x->pos)
		return -EINVAL;
	iov_to_buf(x->r->c->rd, x->r->c->nr_rd, REQ_PAYLOAD + x->pos, buf, len);
	x->pos += len;
	return 0;
}

/* A string of 1..max bytes without NUL into s[max + 1]. */
static int pull_string(struct fs_ctx *x, uint32_t len, uint32_t max,
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
static int pull_name(struct fs_ctx *x, uint32_t len, char *name)
{
	int err;

	err = pull_string(x, len, VBRIDGE_FS_NAME_MAX, -ENAMETOOLONG, name);
	if (err)
		return err;
	if (memchr(name, '/', len) || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

/* An xattr name the policy allows (see fs_xattr.c). */
static int pull_xattr_name(struct fs_ctx *x, uint32_t len, char *name)
{
	return pull_string(x, len, VBRIDGE_FS_XATTR_NAME_MAX, -ERANGE, name) ?:
	       vbd_xattr_check(x->fs->opts.xattr_ns, name);
}

static int push(struct fs_ctx *x, const void *buf, size_t len)
{
	struct vbd_fs_req *r = x->r;

	if (len > r->out_max - r->out_len)
		return -EOVERFLOW;
	iov_from_buf(r->c->wr, r->c->nr_wr, RESP_PAYLOAD + r->out_len, buf, len);
	r->out_len += len;
	return 0;
}

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

static bool readonly(struct fs_ctx *x, const struct fs_node *n)
{
	return x->fs->shares[n->share].readonly;
}

/* Requests */

static int op_mount(struct fs_ctx *x)
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

static int op_lookup(struct fs_ctx *x)
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

static int op_forget(struct fs_ctx *x)
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

static int reply_attr(struct fs_ctx *x, int fd)
{
	struct vbridge_fs_attr_out out = {
		.attr_valid_ns = htole64(x->fs->opts.attr_timeout_ns),
	};
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	fill_attr(x->fs, x->node->share, &st, &out.attr);
	return push(x, &out, sizeof(out));
}

static int op_getattr(struct fs_ctx *x)
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

static int op_setattr(struct fs_ctx *x)
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

static int op_readlink(struct fs_ctx *x)
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

static int op_symlink(struct fs_ctx *x)
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

static int op_mknod(struct fs_ctx *x)
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

static int op_mkdir(struct fs_ctx *x)
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

static int op_unlink(struct fs_ctx *x)
{
	return remove_name(x, 0);
}

static int op_rmdir(struct fs_ctx *x)
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

static int op_rename(struct fs_ctx *x)
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

static int op_link(struct fs_ctx *x)
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

static int op_open(struct fs_ctx *x)
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

static int op_opendir(struct fs_ctx *x)
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

static int op_create(struct fs_ctx *x)
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

static int op_tmpfile(struct fs_ctx *x)
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

/* The request's file handle, referenced: of a directory if dir. */
static int get_handle(struct fs_ctx *x, bool dir, struct fs_handle **out)
{
	struct fs_handle *h = handle_get(x->fs, le64toh(x->in.fh), x->node);

	if (!h)
		return -EBADF;
	if (h->dir != dir) {
		handle_put(x->fs, h);
		return -EBADF;
	}
	*out = h;
	return 0;
}

static int op_read(struct fs_ctx *x)
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

static int op_write(struct fs_ctx *x)
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

/* Drop owner's POSIX locks on n and its description (lock held). */
static void owner_drop_locked(struct vbd_fs *fs, struct fs_node *n,
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

static int op_flush(struct fs_ctx *x)
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

static int op_release(struct fs_ctx *x)
{
	return release(x, false);
}

static int op_releasedir(struct fs_ctx *x)
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

static int op_fsync(struct fs_ctx *x)
{
	return do_fsync(x, false);
}

static int op_fsyncdir(struct fs_ctx *x)
{
	return do_fsync(x, true);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Emit the records of dir handle h from offset into at most size bytes. */
static int readdir_fill(struct fs_ctx *x, struct fs_handle *h,
			uint64_t offset, uint32_t size)
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
			struct vbridge_fs_dirent rec = { 0 };
			size_t len = strlen(d->d_name);
			size_t rlen = VBRIDGE_FS_DIRENT_SIZE(len);
			static const uint8_t pad[8];
			int err;

			pos += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (rlen > size - used) {
				full = true;
				break;
			}
			err = lookup(x->fs, x->node, d->d_name, &rec.entry);
			if (err == -ENOENT)
				continue;	/* removed meanwhile */
			if (err)
				memset(&rec.entry, 0, sizeof(rec.entry));
			rec.off = htole64(d->d_off);
			rec.namelen = htole32(len);
			rec.type = htole32(d->d_type);
			push(x, &rec, sizeof(rec));
			push(x, d->d_name, len);
			push(x, pad, rlen - sizeof(rec) - len);
			used += rlen;
		}
	}
	/* Not even one record fits: not the end of the directory. */
	return !used && full ? -EINVAL : 0;
}

static int op_readdir(struct fs_ctx *x)
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
	err = readdir_fill(x, h, le64toh(in.offset), size);
	pthread_mutex_unlock(&h->pos_lock);
	handle_put(x->fs, h);
	return err;
}

static int op_statfs(struct fs_ctx *x)
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

static int op_syncfs(struct fs_ctx *x)
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

/*
 * Extended attributes go through /proc/self/fd/N: the *xattr() calls
 * do not take O_PATH descriptors.  Other file types have none for us.
 */
static int xattr_path(struct fs_ctx *x, char path[32])
{
	if (!file_or_dir(x->node))
		return -EOPNOTSUPP;
	proc_path(x->node->fd, path);
	return 0;
}

/* Reply with n bytes of buf, or the size alone when the guest asked size 0. */
static int reply_xattr(struct fs_ctx *x, uint32_t size, const void *buf,
		       ssize_t n)
{
	struct vbridge_fs_xattr_out out = { 0 };

	if (n < 0)
		return -errno;
	if (size)
		return push(x, buf, n);
	out.size = htole32(n);
	return push(x, &out, sizeof(out));
}

static int op_getxattr(struct fs_ctx *x)
{
	char name[VBRIDGE_FS_XATTR_NAME_MAX + 1], path[32];
	struct vbridge_fs_getxattr_in in;
	uint32_t size;
	void *buf;
	ssize_t n;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	err = pull_xattr_name(x, le32toh(in.namelen), name) ?:
	      xattr_path(x, path);
	if (err)
		return err;
	if (size > VBRIDGE_FS_XATTR_SIZE_MAX)
		size = VBRIDGE_FS_XATTR_SIZE_MAX;
	if (size > x->r->out_max)
		return -EINVAL;
	buf = malloc(size ?: 1);
	if (!buf)
		return -ENOMEM;
	n = getxattr(path, name, size ? buf : NULL, size);
	err = reply_xattr(x, size, buf, n);
	free(buf);
	return err;
}

static int op_listxattr(struct fs_ctx *x)
{
	struct vbridge_fs_getxattr_in in;
	char path[32];
	uint32_t size;
	char *buf;
	ssize_t n;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	if (in.namelen)
		return -EINVAL;
	err = xattr_path(x, path);
	if (err)
		return err;
	if (size > VBRIDGE_FS_XATTR_SIZE_MAX)
		size = VBRIDGE_FS_XATTR_SIZE_MAX;
	if (size > x->r->out_max)
		return -EINVAL;
	/* The whole list, even for its size: hidden names do not count. */
	buf = malloc(VBRIDGE_FS_XATTR_SIZE_MAX);
	if (!buf)
		return -ENOMEM;
	n = listxattr(path, buf, VBRIDGE_FS_XATTR_SIZE_MAX);
	if (n >= 0)
		n = vbd_xattr_filter(x->fs->opts.xattr_ns, buf, n);
	if (size && n > (ssize_t)size) {
		errno = ERANGE;
		n = -1;
	}
	err = reply_xattr(x, size, buf, n);
	free(buf);
	return err;
}

static int op_setxattr(struct fs_ctx *x)
{
	char name[VBRIDGE_FS_XATTR_NAME_MAX + 1], path[32];
	struct vbridge_fs_setxattr_in in;
	uint32_t size, flags;
	void *buf;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	flags = le32toh(in.flags);
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	err = pull_xattr_name(x, le32toh(in.namelen), name) ?:
	      xattr_path(x, path);
	if (err)
		return err;
	if (size > VBRIDGE_FS_XATTR_SIZE_MAX)
		return -E2BIG;
	buf = malloc(size ?: 1);
	if (!buf)
		return -ENOMEM;
	err = pull(x, buf, size);
	if (!err && setxattr(path, name, buf, size, flags) < 0)
		err = -errno;
	free(buf);
	return err;
}

static int op_removexattr(struct fs_ctx *x)
{
	char name[VBRIDGE_FS_XATTR_NAME_MAX + 1], path[32];
	struct vbridge_fs_name_in in;
	int err;

	pull(x, &in, sizeof(in));
	err = pull_xattr_name(x, le32toh(in.namelen), name) ?:
	      xattr_path(x, path);
	if (err)
		return err;
	return removexattr(path, name) < 0 ? -errno : 0;
}

static int op_fallocate(struct fs_ctx *x)
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

static int op_lseek(struct fs_ctx *x)
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

static int op_copy_file_range(struct fs_ctx *x)
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

/* Locks */

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

static int do_lock(struct fs_ctx *x, bool get, bool wait)
{
	struct vbridge_fs_lock_out out = { 0 };
	struct vbridge_fs_lock_in in;
	struct fs_handle *h;
	struct flock fl;
	unsigned int waited = 0, delay = 1;
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
	for (;;) {
		pthread_mutex_lock(&x->fs->lock);
		err = try_lock_locked(x, h, &in, get ? F_OFD_GETLK : F_OFD_SETLK,
				      &fl);
		pthread_mutex_unlock(&x->fs->lock);
		if (!wait || (err != -EAGAIN && err != -EWOULDBLOCK) ||
		    waited >= FS_LOCK_WAIT_MS)
			break;
		usleep(delay * 1000);
		waited += delay;
		delay = delay < 32 ? delay * 2 : delay;
	}
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

static int op_getlk(struct fs_ctx *x)
{
	return do_lock(x, true, false);
}

static int op_setlk(struct fs_ctx *x)
{
	return do_lock(x, false, false);
}

static int op_setlkw(struct fs_ctx *x)
{
	return do_lock(x, false, true);
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
	OP(SETLKW, op_setlkw, sizeof(struct vbridge_fs_lock_in), 0, 0),
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

/* Coherence */

static void post_inval_inode(struct vbd_fs *fs, uint64_t id)
{
	struct vbridge_event_fs_inval_inode ev = {
		.hdr.type = htole32(VBRIDGE_EVT_FS_INVAL_INODE),
		.hdr.len = htole32(sizeof(ev)),
		.nodeid = htole64(id),
	};

	fs->post_event(fs->opaque, &ev, sizeof(ev));
}

static void post_inval_entry(struct vbd_fs *fs, uint64_t parent,
			     const char *name)
{
	uint8_t buf[VBRIDGE_EVENT_BUF_SIZE] __attribute__((aligned(8)));
	struct vbridge_event_fs_inval_entry *ev = (void *)buf;
	size_t len = strnlen(name, VBRIDGE_FS_NAME_MAX);
	uint32_t size = (sizeof(*ev) + len + 7) & ~7U;

	memset(buf, 0, size);
	ev->hdr.type = htole32(VBRIDGE_EVT_FS_INVAL_ENTRY);
	ev->hdr.len = htole32(size);
	ev->parent = htole64(parent);
	ev->namelen = htole32(len);
	memcpy(ev->name, name, len);
	fs->post_event(fs->opaque, buf, size);
}

/* The host lost change notifications: the guest drops all it cached. */
static void post_inval_all(struct vbd_fs *fs)
{
	struct vbridge_event_hdr ev = {
		.type = htole32(VBRIDGE_EVT_FS_INVAL_ALL),
		.len = htole32(sizeof(ev)),
	};

	if (vbd_ratelimit(&fs->rl))
		log_warn("filesystem: host change notifications lost, the guest drops its whole cache");
	fs->post_event(fs->opaque, &ev, sizeof(ev));
}

#define WATCH_MAX_NODES	VBRIDGE_MAX_TAGS

static void watch_event(struct vbd_fs *fs, const struct inotify_event *ie)
{
	uint64_t ids[WATCH_MAX_NODES];
	unsigned int i, n = 0;
	struct fs_node *node, *next;

	pthread_mutex_lock(&fs->lock);
	for (node = fs->by_wd[hash64(ie->wd)]; node; node = next) {
		next = node->next_wd;
		if (node->wd != ie->wd)
			continue;
		if (n < WATCH_MAX_NODES)
			ids[n++] = node->id;
		if (ie->mask & IN_IGNORED) {
			/* The kernel dropped the watch: the inode is gone. */
			UNLINK_FROM(&fs->by_wd[hash64(ie->wd)], node, next_wd);
			node->wd = -1;
			fs->nwatches--;
		}
	}
	pthread_mutex_unlock(&fs->lock);

	for (i = 0; i < n; i++) {
		if (ie->len && (ie->mask & WATCH_ENTRY)) {
			post_inval_entry(fs, ids[i], ie->name);
			post_inval_inode(fs, ids[i]);
		} else if (!ie->len && (ie->mask & (WATCH_MASK | IN_IGNORED))) {
			post_inval_inode(fs, ids[i]);
		}
	}
}

static void *watcher(void *arg)
{
	struct vbd_fs *fs = arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = fs->inotify_fd, .events = POLLIN },
			{ .fd = fs->stop_fd, .events = POLLIN },
		};
		ssize_t n, pos;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		n = read(fs->inotify_fd, buf, sizeof(buf));
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			break;
		for (pos = 0; pos < n;) {
			const struct inotify_event *ie = (const void *)(buf + pos);

			pos += sizeof(*ie) + ie->len;
			if (ie->mask & IN_Q_OVERFLOW)
				post_inval_all(fs);
			else
				watch_event(fs, ie);
		}
	}
	return NULL;
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
	}
	fs->uid = geteuid();
	fs->gid = getegid();
	fs->post_event = post_event;
	fs->opaque = opaque;
	fs->next_id = 1;
	pthread_mutex_init(&fs->lock, NULL);
	fs->stop_fd = -1;
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_fd < 0) {
		log_err("/proc/self/fd: %s", strerror(errno));
		goto fail;
	}
	fs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	fs->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (fs->inotify_fd < 0 || fs->stop_fd < 0 ||
	    pthread_create(&fs->watcher, NULL, watcher, fs)) {
		log_warn("filesystem: host changes will not be signalled to the guest");
		if (fs->inotify_fd >= 0)
			close(fs->inotify_fd);
		fs->inotify_fd = -1;
	}
	return fs;
fail:
	pthread_mutex_destroy(&fs->lock);
	free(fs);
	return NULL;
}

void vbd_fs_free(struct vbd_fs *fs)
{
	static const uint64_t one = 1;
	unsigned int i;

	if (fs->inotify_fd >= 0) {
		if (write(fs->stop_fd, &one, sizeof(one)) != sizeof(one))
			log_err("filesystem: cannot stop the watcher thread");
		pthread_join(fs->watcher, NULL);
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
