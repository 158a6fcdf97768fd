// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Nodes and handles of the filesystem requests: the host inodes and
 * open files the guest holds, within the host descriptor budget.
 *
 * Nodes.  Every inode handed to the guest is a node: an O_PATH
 * descriptor of the host inode, found again by node id.  Nodes are
 * deduplicated by (export, st_dev, st_ino) so that a node id is stable
 * across lookups and hard links share one; they live while the guest
 * holds lookups (LOOKUP..FORGET) or a request or open handle uses them.
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
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fs_priv.h"

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

int fd_reserve_locked(struct vbd_fs *fs)
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

int fd_reserve(struct vbd_fs *fs)
{
	int err;

	pthread_mutex_lock(&fs->lock);
	err = fd_reserve_locked(fs);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

void fd_unreserve(struct vbd_fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->nfds--;
	pthread_mutex_unlock(&fs->lock);
}

void fd_close_locked(struct vbd_fs *fs, int fd)
{
	close(fd);
	fs->nfds--;
}

void fd_close(struct vbd_fs *fs, int fd)
{
	pthread_mutex_lock(&fs->lock);
	fd_close_locked(fs, fd);
	pthread_mutex_unlock(&fs->lock);
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

static void node_free_locked(struct vbd_fs *fs, struct fs_node *n)
{
	struct fs_lock_owner *o, *next;

	UNLINK_FROM(&fs->by_id[hash64(n->id)], n, next_id);
	UNLINK_FROM(&fs->by_ino[ino_hash(n->dev, n->ino, n->share)], n, next_ino);
	node_fh_del_locked(fs, n);
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

void node_put_locked(struct vbd_fs *fs, struct fs_node *n)
{
	if (--n->refs)
		return;
	if (!n->nlookup)
		node_free_locked(fs, n);
	else
		lru_touch_locked(fs, n);
}

void node_put(struct vbd_fs *fs, struct fs_node *n)
{
	pthread_mutex_lock(&fs->lock);
	node_put_locked(fs, n);
	pthread_mutex_unlock(&fs->lock);
}

/* Drop cnt lookups of node id, if it exists; it goes once unused. */
void node_forget(struct vbd_fs *fs, uint64_t id, uint64_t cnt)
{
	struct fs_node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_find_locked(fs, id);
	if (n) {
		n->nlookup -= cnt < n->nlookup ? cnt : n->nlookup;
		if (!n->nlookup && !n->refs)
			node_free_locked(fs, n);
	}
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
struct fs_node *node_get_err(struct vbd_fs *fs, uint64_t id, int *err)
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
struct fs_node *node_get(struct vbd_fs *fs, uint64_t id)
{
	int err;

	return node_get_err(fs, id, &err);
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

void fill_attr(struct vbd_fs *fs, unsigned int share,
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

/*
 * How long the guest may cache n's attributes, and a name of n: what
 * --attr-timeout and --entry-timeout say, by default long where fanotify
 * sees every change of n (the name's directory is on the same
 * filesystem, but for a mount point, whose name cannot change while
 * mounted).  n is immutable in what this reads.
 */
uint64_t attr_timeout(const struct vbd_fs *fs, const struct fs_node *n)
{
	if (!fs->opts.timeouts_set && node_fanotified(fs, n))
		return VBD_FS_COHERENT_TIMEOUT_NS;
	return fs->opts.attr_timeout_ns;
}

uint64_t entry_timeout(const struct vbd_fs *fs, const struct fs_node *n)
{
	if (!fs->opts.timeouts_set && node_fanotified(fs, n))
		return VBD_FS_COHERENT_TIMEOUT_NS;
	return fs->opts.entry_timeout_ns;
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
int node_add(struct vbd_fs *fs, unsigned int share, int fd,
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
		node_fh_add_locked(fs, n);
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
	e->entry_valid_ns = htole64(entry_timeout(fs, n));
	e->attr_valid_ns = htole64(attr_timeout(fs, n));
	/*
	 * Attributes cached long must be read after the node is in by_fh:
	 * a host change before that sends no event (no node matched), so
	 * it must show in them.  (The fd cannot be evicted under the lock.)
	 */
	if (node_fanotified(fs, n) && n->fd >= 0 &&
	    fstatat(n->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		e->attr_valid_ns = 0;
	pthread_mutex_unlock(&fs->lock);

	fill_attr(fs, share, &st, &e->attr);
	return 0;
}

/* Look name up in dir: a new lookup of the child, described in e. */
int lookup(struct vbd_fs *fs, struct fs_node *dir, const char *name,
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

struct fs_handle *handle_get(struct vbd_fs *fs, uint64_t id,
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

void handle_put_locked(struct vbd_fs *fs, struct fs_handle *h)
{
	if (--h->refs)
		return;
	fd_close_locked(fs, h->fd);
	node_put_locked(fs, h->node);
	pthread_mutex_destroy(&h->pos_lock);
	free(h);
}

void handle_put(struct vbd_fs *fs, struct fs_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	handle_put_locked(fs, h);
	pthread_mutex_unlock(&fs->lock);
}

/* A handle of fd (reserved, consumed) on node; its id in *fh. */
int handle_new(struct vbd_fs *fs, struct fs_node *node, int fd,
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

/* The request's file handle, referenced: of a directory if dir. */
int get_handle(struct fs_ctx *x, bool dir, struct fs_handle **out)
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
