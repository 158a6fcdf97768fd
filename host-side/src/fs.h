/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The filesystem requests of the vbridge device (VBRIDGE_OP_FS_*): a
 * passthrough of the exported host directories.
 */
#ifndef VBD_FS_H
#define VBD_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "share.h"
#include "virtq.h"

/* Guest ids [guest, guest + count) are host ids [host, host + count). */
struct vbd_id_map {
	uint32_t guest;
	uint32_t host;
	uint32_t count;
};

#define VBD_MAX_ID_MAPS		16
/* What ids outside every map become, as in user namespaces. */
#define VBD_OVERFLOW_ID		65534

struct vbd_fs_opts {
	struct vbd_id_map uid_map[VBD_MAX_ID_MAPS];
	struct vbd_id_map gid_map[VBD_MAX_ID_MAPS];
	unsigned int nuid_maps;		/* 0: identity */
	unsigned int ngid_maps;
	unsigned int max_fds;		/* 0: from RLIMIT_NOFILE */
	/*
	 * How long the guest may trust a name (entry) and attributes; with
	 * timeouts_set false (zeroed options) both are the default.
	 */
	uint64_t entry_timeout_ns;
	uint64_t attr_timeout_ns;
	bool timeouts_set;
	bool allow_devices;		/* MKNOD of device nodes */
	unsigned int xattr_ns;		/* VBD_XATTR_*: beyond user.* */
	unsigned int max_watches;	/* inotify watches; 0: default */
	/* No fanotify group: for peers that cannot take INVAL_EXPORT. */
	bool inotify_only;
	/* --handle-key: sealed node handles (VBRIDGE_F_FS_HANDLES) */
	bool handle_key_set;
	uint8_t handle_key[32];
};

#define VBD_HANDLE_KEY_LEN	32

/* Read the key of FILE into key, or make FILE with a new one; logs why not. */
int vbd_fs_handle_key_load(const char *path, uint8_t key[VBD_HANDLE_KEY_LEN]);

/* Parse GUEST:HOST:COUNT into m; -EINVAL if malformed or wrapping. */
int vbd_id_map_parse(const char *s, struct vbd_id_map *m);

#define VBD_FS_DEFAULT_TIMEOUT_NS	1000000000ULL
/*
 * The default timeouts of files fanotify watches (VBRIDGE_F_FS_COHERENT):
 * their changes come as events, the timeout only bounds a lost one.
 */
#define VBD_FS_COHERENT_TIMEOUT_NS	(3600ULL * 1000000000ULL)
#define VBD_FS_MAX_TIMEOUT_MS		3600000UL	/* an hour */

/* Parse a cache timeout in milliseconds, 0 to VBD_FS_MAX_TIMEOUT_MS. */
int vbd_fs_timeout_parse(const char *s, uint64_t *ns);

/* Deliver an event to the guest, from any thread. */
typedef void vbd_fs_event_fn(void *opaque, const void *ev, uint32_t len);

struct vbd_fs;

/* NULL after logging why not. */
struct vbd_fs *vbd_fs_new(const struct vbd_store *store,
			  const struct vbd_fs_opts *opts,
			  vbd_fs_event_fn *post_event, void *opaque);
void vbd_fs_free(struct vbd_fs *fs);
/*
 * Whether fanotify watches every export (VBRIDGE_F_FS_COHERENT): each
 * had a group from the store (vbd_share_store_watch()) free to take.
 */
bool vbd_fs_coherent(const struct vbd_fs *fs);

/*
 * A fanotify group with a filesystem mark on the filesystem of dir_fd,
 * reporting file handles, or -1 (logged: inotify is used instead).
 * Needs CAP_SYS_ADMIN: called before the sandbox.
 */
int vbd_fs_watch_open(int dir_fd, const char *tag);
/* Events read from share's fanotify group (the watcher's path; tests). */
void vbd_fs_watch_input(struct vbd_fs *fs, unsigned int share,
			const void *buf, size_t len);
/* Forget every node and handle (device reset; no request in flight). */
void vbd_fs_reset(struct vbd_fs *fs);

/* One request: the payloads follow the common headers in c. */
struct vbd_fs_req {
	const struct virtq_chain *c;
	uint32_t opcode;
	uint32_t in_len;		/* input payload bytes */
	size_t out_max;			/* room for the output payload */
	size_t out_len;			/* output payload written */
	uint32_t max_req_size;		/* negotiated by INIT */
};

/* Handle r; returns 0 or a negative errno for the response header. */
int vbd_fs_handle(struct vbd_fs *fs, struct vbd_fs_req *r);

#endif /* VBD_FS_H */
