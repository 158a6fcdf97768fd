// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sandboxing vbridged, after virtiofsd (--sandbox namespace|chroot|none,
 * --seccomp kill|log|trap|none).
 *
 * Namespace mode, in order: a new PID namespace (we fork; the child is
 * its init), then, once the exports and listening sockets are open and
 * before any thread exists: private mount, network, IPC and UTS
 * namespaces; pivot_root into an empty, read-only tmpfs holding only a
 * fresh /proc (the filesystem code reopens nodes through /proc/self/fd);
 * the capability sets cut to what file serving needs; no_new_privs; the
 * seccomp allow-list.  Capabilities and no_new_privs are per thread:
 * every later thread inherits them.  The filter is synchronised over
 * all threads anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "log.h"
#include "sandbox.h"

int vbd_sandbox_parse_mode(const char *s, enum vbd_sandbox_mode *mode)
{
	if (!strcmp(s, "namespace"))
		*mode = VBD_SANDBOX_NAMESPACE;
	else if (!strcmp(s, "chroot"))
		*mode = VBD_SANDBOX_CHROOT;
	else if (!strcmp(s, "none"))
		*mode = VBD_SANDBOX_NONE;
	else
		return -EINVAL;
	return 0;
}

int vbd_seccomp_parse_action(const char *s, enum vbd_seccomp_action *action)
{
	static const char *const names[] = { "kill", "log", "trap", "none" };
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*action = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* PID namespace */

static volatile pid_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* As init of its namespace, the child ignores signals without handlers. */
static void child_signal(int sig)
{
	_exit(128 + sig);
}

int vbd_sandbox_fork(const struct vbd_sandbox_opts *o)
{
	struct sigaction sa = { .sa_handler = forward_signal };
	int status;
	pid_t pid;

	if (o->mode != VBD_SANDBOX_NAMESPACE)
		return 0;
	if (unshare(CLONE_NEWPID) < 0) {
		log_err("sandbox: new PID namespace: %s (try --sandbox=chroot)",
			strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_err("sandbox: fork: %s", strerror(errno));
		return -1;
	}
	if (!pid) {
		sa.sa_handler = child_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		/* Die with the parent, which only waits for us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		return 0;
	}
	child_pid = pid;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			exit(1);
	exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* Mount namespace and new root */

/* An empty tmpfs somewhere in our private mount namespace; its path. */
static const char *new_root(void)
{
	static const char *const dirs[] = { "/tmp", "/mnt", "/run", "/dev" };
	unsigned int i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!mount("vbridged", dirs[i], "tmpfs",
			   MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755"))
			return dirs[i];
	log_err("sandbox: cannot mount a tmpfs for the new root: %s",
		strerror(errno));
	return NULL;
}

static int enter_namespaces(void)
{
	const char *root;
	char proc[32];

	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
		log_err("sandbox: new namespaces: %s (try --sandbox=chroot)",
			strerror(errno));
		return -1;
	}
	/* Nothing we do from here on shows on the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		log_err("sandbox: private mounts: %s", strerror(errno));
		return -1;
	}
	root = new_root();
	if (!root)
		return -1;
	snprintf(proc, sizeof(proc), "%s/proc", root);
	if (mkdir(proc, 0555) < 0 ||
	    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		log_err("sandbox: /proc in the new root: %s", strerror(errno));
		return -1;
	}
	/* pivot_root(".", "."): the old root ends up over the new, detach it. */
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		log_err("sandbox: pivot_root: %s", strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID |
		  MS_NODEV | MS_NOEXEC, NULL) < 0)
		log_warn("sandbox: cannot make the new root read-only: %s",
			 strerror(errno));
	return 0;
}

static int enter_chroot(void)
{
	char dir[] = "/tmp/vbridged-root-XXXXXX";

	/* An empty directory nobody can write to; removed at once. */
	if (!mkdtemp(dir) || chmod(dir, 0555) < 0 || chdir(dir) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0) {
		log_err("sandbox: chroot: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Capabilities */

/*
 * What serving files needs (the fs code changes fsuid/fsgid per request).
 * CAP_DAC_READ_SEARCH is also what open_by_handle_at() needs: evicted
 * nodes are reopened by handle, and RESOLVE (--handle-key) finds a
 * guest's nodes again by their sealed handles after a restart.
 */
static const int file_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
	CAP_FSETID, CAP_SETGID, CAP_SETUID,
};

/*
 * Keep only the file caps and what the options need; @keep_entry_caps
 * also keeps what entering the chroot sandbox later takes.
 */
static int drop_caps(const struct vbd_sandbox_opts *o, bool keep_entry_caps)
{
	const capng_type_t all = CAPNG_EFFECTIVE | CAPNG_PERMITTED;
	unsigned int i;

	/* Not root (e.g. a test as a user): nothing to drop but the bounds. */
	capng_clear(CAPNG_SELECT_BOTH);
	for (i = 0; i < sizeof(file_caps) / sizeof(file_caps[0]); i++)
		capng_update(CAPNG_ADD, all | CAPNG_BOUNDING_SET, file_caps[i]);
	if (keep_entry_caps) {
		/* chroot(), then dropping the bounding set for good */
		capng_update(CAPNG_ADD, all | CAPNG_BOUNDING_SET, CAP_SYS_CHROOT);
		capng_update(CAPNG_ADD, all | CAPNG_BOUNDING_SET, CAP_SETPCAP);
	}
	if (o->allow_devices)
		capng_update(CAPNG_ADD, all | CAPNG_BOUNDING_SET, CAP_MKNOD);
	if (o->privileged_xattrs) {
		capng_update(CAPNG_ADD, all | CAPNG_BOUNDING_SET, CAP_SYS_ADMIN);
		capng_update(CAPNG_ADD, all | CAPNG_BOUNDING_SET, CAP_SETFCAP);
	}
	if (geteuid() != 0) {
		/* Without privileges the sets are already what we may have. */
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	}
	if (capng_apply(CAPNG_SELECT_BOTH) < 0) {
		log_err("sandbox: cannot drop capabilities");
		return -1;
	}
	return 0;
}

/* System calls */

/*
 * What vbridged, glibc, libvncserver and libpng were seen to call (unit
 * tests, a guest run of the whole suite, under ASan too); anything else
 * is a bug or an attack.
 */
static const int allowed_syscalls[] = {
	/* memory, threads, time, signals */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(clone), SCMP_SYS(clone3),
	SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(futex), SCMP_SYS(set_tid_address), SCMP_SYS(gettid),
	SCMP_SYS(getpid), SCMP_SYS(getppid), SCMP_SYS(tgkill), SCMP_SYS(tkill),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(getrandom), SCMP_SYS(prctl),
	SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(uname),
	SCMP_SYS(restart_syscall),
	/* credentials, per request */
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(setfsuid),
	SCMP_SYS(setfsgid), SCMP_SYS(setgroups), SCMP_SYS(getgroups),
	SCMP_SYS(setresuid), SCMP_SYS(setresgid), SCMP_SYS(capget),
	SCMP_SYS(capset),
	/* descriptors, events, sockets */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3),
	SCMP_SYS(fcntl), SCMP_SYS(ioctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
	SCMP_SYS(eventfd2), SCMP_SYS(pipe2), SCMP_SYS(accept), SCMP_SYS(accept4),
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto),
	SCMP_SYS(sendmsg), SCMP_SYS(shutdown), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	/*
	 * files; open_by_handle_at: evicted nodes and RESOLVE (see
	 * fs_handle.c, which also walks ".." and reads directories with
	 * the calls below to check a resolved file is inside its export)
	 */
	SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(open_by_handle_at),
	SCMP_SYS(name_to_handle_at), SCMP_SYS(newfstatat), SCMP_SYS(fstat),
	SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(statfs), SCMP_SYS(lseek),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
	SCMP_SYS(copy_file_range), SCMP_SYS(fallocate), SCMP_SYS(ftruncate),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(syncfs),
	SCMP_SYS(sync_file_range), SCMP_SYS(flock), SCMP_SYS(getdents64),
	SCMP_SYS(mkdirat), SCMP_SYS(mknodat), SCMP_SYS(symlinkat),
	SCMP_SYS(linkat), SCMP_SYS(unlinkat), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(readlinkat), SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat), SCMP_SYS(fchown), SCMP_SYS(fchownat),
	SCMP_SYS(utimensat), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(fchdir), SCMP_SYS(umask), SCMP_SYS(getcwd),
	/* path calls on /proc/self/fd/N, which glibc may not map to *at */
	SCMP_SYS(chmod), SCMP_SYS(chown), SCMP_SYS(lchown), SCMP_SYS(truncate),
	SCMP_SYS(utimes), SCMP_SYS(futimesat), SCMP_SYS(unlink), SCMP_SYS(rmdir),
	SCMP_SYS(mkdir), SCMP_SYS(rename), SCMP_SYS(link), SCMP_SYS(symlink),
	SCMP_SYS(getxattr), SCMP_SYS(lgetxattr), SCMP_SYS(fgetxattr),
	SCMP_SYS(setxattr), SCMP_SYS(lsetxattr), SCMP_SYS(fsetxattr),
	SCMP_SYS(listxattr), SCMP_SYS(llistxattr), SCMP_SYS(flistxattr),
	SCMP_SYS(removexattr), SCMP_SYS(lremovexattr), SCMP_SYS(fremovexattr),
	SCMP_SYS(inotify_init1), SCMP_SYS(inotify_add_watch),
	SCMP_SYS(inotify_rm_watch),
	/* ASan and UBSan builds, reporting */
	SCMP_SYS(readlink), SCMP_SYS(open), SCMP_SYS(stat), SCMP_SYS(lstat),
	SCMP_SYS(access), SCMP_SYS(sysinfo), SCMP_SYS(getrusage),
	SCMP_SYS(sched_getparam), SCMP_SYS(sched_getscheduler),
#ifdef __SANITIZE_ADDRESS__
	/* LeakSanitizer stops the world with ptrace at exit. */
	SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(kill),
#endif
};

static void sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[96];
	int n;

	n = snprintf(msg, sizeof(msg),
		     "vbridged: error: sandbox: system call %d not allowed\n",
		     si->si_syscall);
	if (write(STDERR_FILENO, msg, n) < 0)
		_exit(1);
	_exit(1);
}

static int load_seccomp(enum vbd_seccomp_action action)
{
	uint32_t def = action == VBD_SECCOMP_LOG ? SCMP_ACT_LOG :
		       action == VBD_SECCOMP_TRAP ? SCMP_ACT_TRAP :
		       SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	unsigned int i;
	int r;

	if (action == VBD_SECCOMP_NONE)
		return 0;
	if (action == VBD_SECCOMP_TRAP) {
		struct sigaction sa = {
			.sa_sigaction = sigsys,
			.sa_flags = SA_SIGINFO,
		};

		sigaction(SIGSYS, &sa, NULL);
	}
	ctx = seccomp_init(def);
	if (!ctx) {
		log_err("sandbox: seccomp_init failed");
		return -1;
	}
	for (i = 0; i < sizeof(allowed_syscalls) / sizeof(allowed_syscalls[0]); i++) {
		/* Negative: not on this architecture. */
		if (allowed_syscalls[i] < 0)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed_syscalls[i], 0);
		if (r < 0) {
			log_err("sandbox: seccomp rule for %d: %s",
				allowed_syscalls[i], strerror(-r));
			seccomp_release(ctx);
			return -1;
		}
	}
	/* Threads that exist already (chroot mode) get the filter too. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		log_err("sandbox: cannot load the seccomp filter: %s", strerror(-r));
		return -1;
	}
	return 0;
}

int vbd_sandbox_limit_threads(const struct vbd_sandbox_opts *o)
{
	if (o->mode != VBD_SANDBOX_CHROOT)
		return 0;
	return drop_caps(o, true);
}

int vbd_sandbox_enter(const struct vbd_sandbox_opts *o)
{
	int r = 0;

	switch (o->mode) {
	case VBD_SANDBOX_NAMESPACE:
		r = enter_namespaces();
		break;
	case VBD_SANDBOX_CHROOT:
		r = enter_chroot();
		break;
	case VBD_SANDBOX_NONE:
		return 0;
	}
	if (r < 0 || drop_caps(o, false) < 0)
		return -1;
	/* libcap-ng leaves no_new_privs alone: set it, the filter needs it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("sandbox: no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (load_seccomp(o->seccomp) < 0)
		return -1;
	log_info("sandbox: %s, seccomp %s",
		 o->mode == VBD_SANDBOX_NAMESPACE ? "namespaces" : "chroot",
		 o->seccomp == VBD_SECCOMP_NONE ? "off" : "on");
	return 0;
}
