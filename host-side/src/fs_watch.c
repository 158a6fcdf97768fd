// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Invalidation of the guest's cache when the host changes a file.
 *
 * Coherence.  Regular files and directories are watched with inotify
 * by a watcher thread, which sends INVAL_INODE for a changed node and
 * INVAL_ENTRY for a name created, deleted or moved in a watched
 * directory.  The device coalesces identical pending events and drops
 * events when its pending list is full: the guest's cache timeouts
 * bound how stale it can then be.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>

#include "fs_priv.h"

#define WATCH_MASK	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | \
			 IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK)
#define WATCH_ENTRY	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

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
 * shared with every other process of root.  Lock held.
 */
void node_watch_locked(struct vbd_fs *fs, struct fs_node *n)
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

void *watcher(void *arg)
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
