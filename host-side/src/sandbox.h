/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's sandbox, modelled on virtiofsd's: what a guest that takes
 * over vbridged can reach is the exports (already open), its sockets and
 * /proc, with the capabilities file serving needs and an allow-list of
 * system calls.
 */
#ifndef VBD_SANDBOX_H
#define VBD_SANDBOX_H

#include <stdbool.h>

enum vbd_sandbox_mode {
	VBD_SANDBOX_NAMESPACE,	/* new pid, mount, net, ipc, uts namespaces */
	VBD_SANDBOX_CHROOT,	/* chroot only, where namespaces are refused */
	VBD_SANDBOX_NONE,	/* nothing at all: debugging */
};

/* What a violation of the system call allow-list does. */
enum vbd_seccomp_action {
	VBD_SECCOMP_KILL,	/* kill the process (default, as virtiofsd) */
	VBD_SECCOMP_LOG,	/* allow, logged by the kernel (audit) */
	VBD_SECCOMP_TRAP,	/* log the call number on stderr, then exit */
	VBD_SECCOMP_NONE,	/* no filter */
};

struct vbd_sandbox_opts {
	enum vbd_sandbox_mode mode;
	enum vbd_seccomp_action seccomp;
	bool allow_devices;	/* keep CAP_MKNOD */
	/* trusted.* and security.* xattrs: keep CAP_SYS_ADMIN, CAP_SETFCAP */
	bool privileged_xattrs;
};

int vbd_sandbox_parse_mode(const char *s, enum vbd_sandbox_mode *mode);
int vbd_seccomp_parse_action(const char *s, enum vbd_seccomp_action *action);

/*
 * First thing, while single-threaded: in namespace mode, fork into a new
 * PID namespace.  Returns in the child (0), or -1 after logging why not;
 * the parent stays behind, passes on SIGINT, SIGTERM and SIGHUP, and
 * exits with the child's status.
 */
int vbd_sandbox_fork(const struct vbd_sandbox_opts *o);

/*
 * Once the exports and listening sockets are open, while still single-
 * threaded: enter the sandbox for good (0, or -1 after logging why not).
 * Namespace mode: private mount, network, IPC and UTS namespaces and a
 * new root holding only /proc; chroot mode: chroot into an empty
 * directory (no /proc: path-based xattr calls fail).  Then, in both,
 * the capability sets, no_new_privs and the seccomp filter.
 */
int vbd_sandbox_enter(const struct vbd_sandbox_opts *o);

/*
 * Chroot mode enters the sandbox last, once the frontend is connected,
 * after the display, control and watcher threads have started; and
 * capabilities are per thread.  So before starting any thread, cut the
 * capabilities to what serving files needs plus chroot and the bounding
 * set drop (0, or -1 after logging why not).  Nothing in other modes.
 */
int vbd_sandbox_limit_threads(const struct vbd_sandbox_opts *o);

#endif /* VBD_SANDBOX_H */
