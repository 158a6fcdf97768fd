// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The sandbox of the filesystem requests: how names from the guest
 * are resolved and files reopened without leaving the export, and the
 * credentials a request runs with.
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
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/openat2.h>

#include "fs_priv.h"

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

/* Map id through maps (n = 0: identity); false if outside every map. */
bool map_id(const struct vbd_id_map *maps, unsigned int n,
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

void creds_push(struct vbd_fs *fs, struct creds_saved *sv)
{
	sv->gid = syscall(SYS_setfsgid, fs->gid);
	sv->uid = syscall(SYS_setfsuid, fs->uid);
}

void creds_pop(const struct creds_saved *sv)
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
int creds_enter(struct fs_ctx *x)
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

void creds_leave(struct fs_ctx *x)
{
	struct vbd_fs *fs = x->fs;

	syscall(SYS_setfsuid, fs->uid);
	syscall(SYS_setfsgid, fs->gid);
	vbd_caps_restore(&x->caps);
}

/* Host helpers */

int resolve(int dir_fd, const char *name, int flags, mode_t mode)
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

void fd_name(int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
}

/* Open a descriptor of fd's inode with flags; fd must be a file or directory. */
int reopen(struct vbd_fs *fs, int fd, int flags)
{
	char name[16];
	int r;

	fd_name(fd, name);
	r = openat(fs->proc_fd, name,
		   (flags & ~(O_CREAT | O_NOFOLLOW | O_EXCL)) | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

void proc_path(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}
