// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Invalidation of the guest's cache when the host changes a file.
 *
 * Coherence.  A watcher thread turns host change notifications into
 * INVAL_INODE for a changed node and INVAL_ENTRY for a name created,
 * deleted or moved in a directory the guest knows, for changes by any
 * host process, ours included.
 *
 * fanotify first.  Before the sandbox drops CAP_SYS_ADMIN, each export
 * gets a fanotify group of its own with a filesystem mark on the
 * export root's filesystem, reporting file handles (FAN_REPORT_FID and
 * FAN_REPORT_DFID_NAME, Linux 5.9 and later): every change on that
 * filesystem is seen, with no watch per node and no limit.  An event
 * names the changed inode and, for a name, its directory by file
 * handle; node_add() recorded each node's handle (name_to_handle_at(),
 * the same encoding), so the nodes are found in by_fh without a system
 * call.  Confinement: only nodes of that export on that filesystem are
 * matched, and nodes are only ever made of files inside the export, so
 * an event about anything else (the rest of the filesystem, a file the
 * guest could reach by handle but not by name) matches nothing and is
 * dropped; names are only sent for directories the guest already knows.
 * When the group's queue overflowed (FAN_Q_OVERFLOW), changes to that
 * export were lost: INVAL_EXPORT tells the guest to drop all it cached
 * of the export (the device makes it an INVAL_ALL for a driver that
 * does not know it).
 *
 * inotify otherwise.  Without fanotify (no CAP_SYS_ADMIN, an old kernel,
 * a filesystem without file handles or fsid), and for nodes on other
 * filesystems mounted below an export, regular files and directories
 * are watched one by one with inotify, as vbridged, within
 * --max-watches; an IN_Q_OVERFLOW becomes INVAL_ALL.
 *
 * The device coalesces identical pending events and drops events when
 * its pending list is full (then INVAL_ALL): the guest's cache timeouts
 * bound how stale it can be only where the watch is per node.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>

#include "fs_priv.h"

#define WATCH_MASK	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | \
			 IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK)
#define WATCH_ENTRY	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

/* The same changes, for fanotify; FAN_ONDIR: those of directories too. */
#define FAN_WATCH_MASK	(FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | \
			 FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | \
			 FAN_MOVED_TO | FAN_DELETE_SELF | FAN_MOVE_SELF | \
			 FAN_ONDIR)
#define FAN_WATCH_ENTRY	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)

/* fanotify */

int vbd_fs_watch_open(int dir_fd, const char *tag)
{
	int fd, err;

	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
			   FAN_REPORT_FID | FAN_REPORT_DFID_NAME,
			   O_RDONLY | O_CLOEXEC);
	/* "." : fanotify_mark() takes no O_PATH descriptor as the object. */
	if (fd >= 0 && fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
				     FAN_WATCH_MASK, dir_fd, ".") < 0) {
		err = errno;
		close(fd);
		fd = -1;
		errno = err;
	}
	if (fd < 0) {
		log_info("export '%s': host changes watched file by file with inotify (fanotify filesystem mark: %s)",
			 tag, strerror(errno));
		return -1;
	}
	log_info("export '%s': host changes watched with fanotify (the whole filesystem)",
		 tag);
	return fd;
}

static unsigned int fh_hash(int type, const unsigned char *f, unsigned int len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint32_t)type;
	unsigned int i;

	for (i = 0; i < len; i++)
		h = (h ^ f[i]) * 0x100000001b3ULL;
	return hash64(h);
}

/* Whether fanotify sees every change of n: no inotify watch needed. */
bool node_fanotified(const struct vbd_fs *fs, const struct fs_node *n)
{
	const struct fs_share *s = &fs->shares[n->share];

	return s->fan_fd >= 0 && n->handle && n->dev == s->root_dev;
}

void node_fh_add_locked(struct vbd_fs *fs, struct fs_node *n)
{
	unsigned int h;

	if (!n->handle)
		return;
	h = fh_hash(n->handle->handle_type, n->handle->f_handle,
		    n->handle->handle_bytes);
	n->next_fh = fs->by_fh[h];
	fs->by_fh[h] = n;
}

void node_fh_del_locked(struct vbd_fs *fs, struct fs_node *n)
{
	if (!n->handle)
		return;
	UNLINK_FROM(&fs->by_fh[fh_hash(n->handle->handle_type,
				       n->handle->f_handle,
				       n->handle->handle_bytes)], n, next_fh);
}

/*
 * The node of share for the handle of an event of its group, if the
 * guest knows it (lock held).  The group reports the export root's
 * filesystem only, where handles are unique; nodes are unique per
 * (share, inode).
 */
static struct fs_node *fh_node_locked(struct vbd_fs *fs, unsigned int share,
				      const struct file_handle *fh)
{
	struct fs_node *n;

	for (n = fs->by_fh[fh_hash(fh->handle_type, fh->f_handle,
				   fh->handle_bytes)]; n; n = n->next_fh)
		if (n->share == share && n->dev == fs->shares[share].root_dev &&
		    n->handle->handle_type == fh->handle_type &&
		    n->handle->handle_bytes == fh->handle_bytes &&
		    !memcmp(n->handle->f_handle, fh->f_handle, fh->handle_bytes))
			return n;
	return NULL;
}

/* inotify */

void node_unwatch_locked(struct vbd_fs *fs, struct fs_node *n)
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

/*
 * Watch n's inode as ourselves (the caller may not read it), within
 * --max-watches: inotify watches count against root's max_user_watches,
 * shared with every other process of root.  Nothing to do for a node
 * fanotify covers.  Lock held.
 */
void node_watch_locked(struct vbd_fs *fs, struct fs_node *n)
{
	struct creds_saved sv;
	char path[32];
	int wd;

	if (fs->inotify_fd < 0 || n->wd >= 0 || n->fd < 0 ||
	    (n->type != S_IFREG && n->type != S_IFDIR) ||
	    node_fanotified(fs, n))
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
			     const char *name, size_t len)
{
	uint8_t buf[VBRIDGE_EVENT_BUF_SIZE] __attribute__((aligned(8)));
	struct vbridge_event_fs_inval_entry *ev = (void *)buf;
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

/*
 * Changes to share were lost: the guest drops all it cached of it.  It
 * has cached nothing if it holds no root node of it (never mounted).
 */
static void post_inval_export(struct vbd_fs *fs, unsigned int share)
{
	struct vbridge_event_fs_inval_export ev = {
		.hdr.type = htole32(VBRIDGE_EVT_FS_INVAL_EXPORT),
		.hdr.len = htole32(sizeof(ev)),
	};
	struct fs_node *n = NULL;
	unsigned int i;

	if (vbd_ratelimit(&fs->rl))
		log_warn("filesystem: export '%s': host change notifications lost, the guest drops what it cached of it",
			 fs->shares[share].tag);
	pthread_mutex_lock(&fs->lock);
	for (i = 0; i < FS_HASH_SIZE && !n; i++)
		for (n = fs->by_id[i]; n; n = n->next_id)
			if (n->root && n->share == share)
				break;
	if (n)
		ev.root = htole64(n->id);
	pthread_mutex_unlock(&fs->lock);
	if (n)
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
			post_inval_entry(fs, ids[i], ie->name,
					 strnlen(ie->name, VBRIDGE_FS_NAME_MAX));
			post_inval_inode(fs, ids[i]);
		} else if (!ie->len && (ie->mask & (WATCH_MASK | IN_IGNORED))) {
			post_inval_inode(fs, ids[i]);
		}
	}
}

/*
 * One info record of a fanotify event: a file handle, after it a name
 * for the DFID_NAME types.  NULL if malformed.
 */
static const struct file_handle *fan_record(const struct fanotify_event_info_fid *fid,
					    size_t len, const char **name,
					    size_t *namelen)
{
	const struct file_handle *fh = (const void *)fid->handle;
	size_t off = sizeof(*fid) + sizeof(*fh);

	if (len < off)
		return NULL;
	if (fh->handle_bytes > MAX_HANDLE_SZ || fh->handle_bytes > len - off)
		return NULL;
	off += fh->handle_bytes;
	*name = NULL;
	*namelen = 0;
	if (fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
	    fid->hdr.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
	    fid->hdr.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME) {
		*name = (const char *)fid + off;
		*namelen = strnlen(*name, len - off);
		if (*namelen == len - off)
			return NULL;		/* not terminated */
	}
	return fh;
}

/* A name the guest may be told of: one component, not "." or "..". */
static bool fan_name_ok(const char *name, size_t len)
{
	return len && len <= VBRIDGE_FS_NAME_MAX && !memchr(name, '/', len) &&
	       strcmp(name, ".") && strcmp(name, "..");
}

/*
 * One fanotify event of share's group (len bytes from its metadata on,
 * checked by the caller): INVAL_INODE for each node it names, and for a
 * name created, deleted or moved, INVAL_ENTRY in its directory.
 */
static void fan_event(struct vbd_fs *fs, unsigned int share,
		      const struct fanotify_event_metadata *m,
		      const char *ev, size_t len)
{
	struct {
		uint64_t id;
		const char *name;	/* INVAL_ENTRY in node id */
		size_t namelen;
	} out[4];
	unsigned int i, n = 0;
	size_t pos = m->metadata_len;

	pthread_mutex_lock(&fs->lock);
	while (len - pos >= sizeof(struct fanotify_event_info_header) &&
	       n < ARRAY_SIZE(out)) {
		const struct fanotify_event_info_fid *fid = (const void *)(ev + pos);
		const struct file_handle *fh;
		struct fs_node *node;
		const char *name;
		size_t namelen;

		if (fid->hdr.len < sizeof(fid->hdr) || fid->hdr.len > len - pos)
			break;
		pos += fid->hdr.len;
		switch (fid->hdr.info_type) {
		case FAN_EVENT_INFO_TYPE_FID:
		case FAN_EVENT_INFO_TYPE_DFID:
		case FAN_EVENT_INFO_TYPE_DFID_NAME:
		case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
		case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
			break;
		default:
			continue;
		}
		fh = fan_record(fid, fid->hdr.len, &name, &namelen);
		node = fh ? fh_node_locked(fs, share, fh) : NULL;
		if (!node)
			continue;	/* not the guest's, or outside the export */
		out[n].id = node->id;
		out[n].name = NULL;
		out[n].namelen = 0;
		/*
		 * A name created, deleted or moved: INVAL_ENTRY in the
		 * directory.  Any other change reported with a name is the
		 * child's (a directory's own carries "."), which its FID
		 * record names.
		 */
		if (name && (m->mask & FAN_WATCH_ENTRY) && node->type == S_IFDIR &&
		    fan_name_ok(name, namelen)) {
			out[n].name = name;
			out[n].namelen = namelen;
		} else if (name && !(m->mask & FAN_WATCH_ENTRY) &&
			   strcmp(name, ".")) {
			continue;
		}
		n++;
	}
	pthread_mutex_unlock(&fs->lock);

	for (i = 0; i < n; i++) {
		if (out[i].name)
			post_inval_entry(fs, out[i].id, out[i].name,
					 out[i].namelen);
		post_inval_inode(fs, out[i].id);
	}
}

void vbd_fs_watch_input(struct vbd_fs *fs, unsigned int share,
			const void *buf, size_t len)
{
	size_t pos = 0;

	while (len - pos >= sizeof(struct fanotify_event_metadata)) {
		/* Events are only 4-byte aligned: the mask is a u64. */
		const char *ev = (const char *)buf + pos;
		struct fanotify_event_metadata m;

		memcpy(&m, ev, sizeof(m));
		if (m.event_len < sizeof(m) || m.event_len > len - pos ||
		    m.metadata_len < sizeof(m) ||
		    m.metadata_len > m.event_len ||
		    m.vers != FANOTIFY_METADATA_VERSION)
			break;
		pos += m.event_len;
		/* With file handles reported, the kernel opens no file. */
		if (m.fd >= 0)
			close(m.fd);
		if (m.mask & FAN_Q_OVERFLOW)
			post_inval_export(fs, share);
		else
			fan_event(fs, share, &m, ev, m.event_len);
	}
}

static ssize_t watch_inotify(struct vbd_fs *fs, char *buf, size_t size)
{
	ssize_t n, pos;

	n = read(fs->inotify_fd, buf, size);
	for (pos = 0; pos < n;) {
		const struct inotify_event *ie = (const void *)(buf + pos);

		pos += sizeof(*ie) + ie->len;
		if (ie->mask & IN_Q_OVERFLOW)
			post_inval_all(fs);
		else
			watch_event(fs, ie);
	}
	return n;
}

void *watcher(void *arg)
{
	struct vbd_fs *fs = arg;
	/* Aligned for both event types; a read returns whole events. */
	char buf[8192] __attribute__((aligned(8)));
	struct pollfd pfd[VBRIDGE_MAX_TAGS + 2];
	unsigned int share[VBRIDGE_MAX_TAGS + 2];
	unsigned int i, nfds = 0;
	ssize_t n;

	pfd[nfds++] = (struct pollfd){ .fd = fs->stop_fd, .events = POLLIN };
	if (fs->inotify_fd >= 0)
		pfd[nfds++] = (struct pollfd){ .fd = fs->inotify_fd,
					       .events = POLLIN };
	for (i = 0; i < fs->nshares; i++) {
		if (fs->shares[i].fan_fd < 0)
			continue;
		share[nfds] = i;
		pfd[nfds++] = (struct pollfd){ .fd = fs->shares[i].fan_fd,
					       .events = POLLIN };
	}
	for (;;) {
		if (poll(pfd, nfds, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		for (i = 1; i < nfds; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == fs->inotify_fd) {
				n = watch_inotify(fs, buf, sizeof(buf));
			} else {
				n = read(pfd[i].fd, buf, sizeof(buf));
				if (n > 0)
					vbd_fs_watch_input(fs, share[i], buf, n);
			}
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				/* Not to spin on it: its changes go unseen. */
				log_err("filesystem: cannot read host change notifications: %s",
					strerror(errno));
				pfd[i].fd = -1;
			}
		}
	}
	return NULL;
}
