// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs permission and ownership tests.  Every scenario runs twice,
 * as root setting up and as non-root users (forked children with their
 * own supplementary groups) doing the operations: once in a guest tmpfs
 * and once on a vbridgefs mount.  Each operation's result is logged
 * (return value or errno, and the resulting mode and owner) and checked
 * against the POSIX answer; the two logs must then be identical.
 *
 * The vbridgefs mounts are variants: cache=auto at $VBRIDGE_MNT (default
 * /mnt/vb), cache=none at /mnt/vb-none, cache=always at /mnt/vb-always;
 * a variant whose mount is missing is skipped.  The guest's users map
 * 1:1 to the host's and the host runs as root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

/* -DVBRIDGE_FS_MAGIC=0x01021994 checks the test itself on tmpfs. */
#ifndef VBRIDGE_FS_MAGIC
#define VBRIDGE_FS_MAGIC	0x76627266
#endif
#define LOG_SIZE		(64 * 1024)
#define TEAM			2001	/* a group u1 and u2 share */
#define OTHER_GROUP		2002	/* u2's second group */

#ifndef SYS_fchmodat2
#define SYS_fchmodat2		452
#endif

struct user {
	const char *name;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[2];
};

/* u1 and u2 share TEAM only as a supplementary group; u3 has none. */
static const struct user u1 = { "u1", 1001, 1001, 1, { TEAM } };
static const struct user u2 = { "u2", 1002, 1002, 2, { OTHER_GROUP, TEAM } };
static const struct user u3 = { "u3", 1003, 1003, 0, { 0 } };

/* Shared with the children: the log of one run. */
struct plog {
	int len;
	int bad;		/* results other than the POSIX answer */
	char buf[LOG_SIZE];
};

static struct plog *lg;
static char base[PATH_MAX];	/* the scenario's directory */
static bool on_vbridgefs;	/* base is on vbridgefs */

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(lg->buf + lg->len, LOG_SIZE - lg->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		lg->len = lg->len + n < LOG_SIZE ? lg->len + n : LOG_SIZE - 1;
}

static const char *ename(int e)
{
	const char *s = e ? strerrorname_np(e) : "ok";

	return s ?: "?";
}

/* P("name"): a path in the scenario's directory. */
static char *P(const char *name)
{
	static char buf[8][PATH_MAX];
	static int i;
	char *p = buf[i++ & 7];

	snprintf(p, PATH_MAX, "%s/%s", base, name);
	return p;
}

/* Log ret (-1: errno) of what, and check it against want (0 or an errno). */
static void res(const char *what, long ret, int want)
{
	int e = ret < 0 ? errno : 0;

	logf_("%s: %s\n", what, ename(e));
	if (e != want) {
		logf_("  ^ POSIX says %s\n", ename(want));
		lg->bad++;
	}
}

/*
 * A known difference of vbridgefs: ret must be want, which differs
 * between the filesystems, so the log says only whether it was.
 */
static void res_known(const char *what, long ret, int want)
{
	int e = ret < 0 ? errno : 0;

	logf_("%s: %s\n", what, e == want ? "as documented" : ename(e));
	if (e != want) {
		logf_("  ^ documented: %s\n", ename(want));
		lg->bad++;
	}
}

/* Log the mode and owner of name. */
static void st(const char *name)
{
	struct stat s;

	if (lstat(P(name), &s) < 0)
		logf_("  %s: %s\n", name, ename(errno));
	else
		logf_("  %s: mode %o owner %u:%u\n", name, s.st_mode,
		      s.st_uid, s.st_gid);
}

/* Check the permission bits of name. */
static void want_mode(const char *name, mode_t mode)
{
	struct stat s;

	if (lstat(P(name), &s) < 0 || (s.st_mode & 07777) != mode) {
		logf_("  ^ %s: mode %o, POSIX says %o\n", name,
		      s.st_mode & 07777, mode);
		lg->bad++;
	}
}

/* Run fn as user u in a child. */
static void as(const struct user *u, void (*fn)(const struct user *u))
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (!pid) {
		if (setgroups(u->ngroups, u->groups) ||
		    setresgid(u->gid, u->gid, u->gid) ||
		    setresuid(u->uid, u->uid, u->uid))
			_exit(2);
		fn(u);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status) {
		logf_("%s: child failed (%d)\n", u->name, status);
		lg->bad++;
	}
}

static void mkfile(const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	int fd = open(P(name), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, "not an executable\n", 18) != 18 ||
	    fchown(fd, uid, gid) || fchmod(fd, mode)) {
		logf_("setup %s: %s\n", name, ename(errno));
		lg->bad++;
	}
	if (fd >= 0)
		close(fd);
}

static void mkdir_as_root(const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	if (mkdir(P(name), 0700) || chown(P(name), uid, gid) ||
	    chmod(P(name), mode)) {
		logf_("setup %s: %s\n", name, ename(errno));
		lg->bad++;
	}
}

/* open() and execve() */

static const mode_t open_modes[] = {
	0400, 0040, 0004, 0200, 0020, 0002, 0100, 0010, 0001,
	0640, 0604, 0460, 0070, 0007, 0000, 0755,
};

/* The owner's, the group's or the others' bits of mode for u. */
static mode_t class_bits(const struct user *u, mode_t mode)
{
	if (u->uid == u1.uid)
		return (mode >> 6) & 7;
	if (u->gid == TEAM || (u->ngroups && (u->groups[0] == TEAM ||
					      u->groups[1] == TEAM)))
		return (mode >> 3) & 7;
	return mode & 7;
}

static void open_ops(const struct user *u)
{
	char what[64], name[16];
	unsigned int i;
	long fd;

	for (i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		mode_t bits = class_bits(u, open_modes[i]);

		snprintf(name, sizeof(name), "f%04o", open_modes[i]);
		snprintf(what, sizeof(what), "%s open %s O_RDONLY", u->name, name);
		fd = open(P(name), O_RDONLY | O_CLOEXEC);
		res(what, fd, bits & 4 ? 0 : EACCES);
		if (fd >= 0)
			close(fd);
		snprintf(what, sizeof(what), "%s open %s O_WRONLY", u->name, name);
		fd = open(P(name), O_WRONLY | O_CLOEXEC);
		res(what, fd, bits & 2 ? 0 : EACCES);
		if (fd >= 0)
			close(fd);
		snprintf(what, sizeof(what), "%s open %s O_RDWR", u->name, name);
		fd = open(P(name), O_RDWR | O_CLOEXEC);
		res(what, fd, (bits & 6) == 6 ? 0 : EACCES);
		if (fd >= 0)
			close(fd);
		/* Permitted: ENOEXEC, as the file is no executable. */
		snprintf(what, sizeof(what), "%s execve %s", u->name, name);
		if ((bits & 5) == 1) {
			/*
			 * Execute-only: the guest kernel must read the file,
			 * and the device never lets a caller read what it
			 * may not (host-side/README.md).
			 */
			res_known(what, execve(P(name), (char *[]){ name, NULL },
					       (char *[]){ NULL }),
				  on_vbridgefs ? EACCES : ENOEXEC);
		} else {
			res(what, execve(P(name), (char *[]){ name, NULL },
					 (char *[]){ NULL }),
			    bits & 1 ? ENOEXEC : EACCES);
		}
		snprintf(what, sizeof(what), "%s access %s X_OK", u->name, name);
		res(what, access(P(name), X_OK), bits & 1 ? 0 : EACCES);
	}
	/* A directory's search bit, through a supplementary group for u2. */
	snprintf(what, sizeof(what), "%s stat d0070/f", u->name);
	res(what, open(P("d0070/f"), O_PATH | O_CLOEXEC),
	    class_bits(u, 0070) & 1 ? 0 : EACCES);
}

static void scen_open(void)
{
	unsigned int i;
	char name[16];

	for (i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		snprintf(name, sizeof(name), "f%04o", open_modes[i]);
		mkfile(name, u1.uid, TEAM, open_modes[i]);
	}
	mkdir_as_root("d0070", u1.uid, TEAM, 0777);
	mkfile("d0070/f", u1.uid, TEAM, 0644);
	chmod(P("d0070"), 0070);
	as(&u1, open_ops);
	as(&u2, open_ops);
	as(&u3, open_ops);
}

/* chmod() */

static void chmod_owner(const struct user *u)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	res("u1 chmod f 0700", chmod(P("f"), 0700), 0);
	want_mode("f", 0700);
	/* setgid: kept for a group the owner is in, supplementary too. */
	res("u1 chmod team 02755", chmod(P("team"), 02755), 0);
	want_mode("team", 02755);
	res("u1 chmod alien 02755", chmod(P("alien"), 02755), 0);
	want_mode("alien", 0755);
	res("u1 chmod f 04711", chmod(P("f"), 04711), 0);
	want_mode("f", 04711);
	res("u1 mkfifo fifo", mkfifo(P("fifo"), 0644), 0);
	res("u1 chmod fifo 0600", chmod(P("fifo"), 0600), 0);
	want_mode("fifo", 0600);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", P("sock"));
	if (strlen(P("sock")) < sizeof(sa.sun_path))
		res("u1 bind sock", bind(s, (struct sockaddr *)&sa, sizeof(sa)),
		    0);
	close(s);
	res("u1 chmod sock 0600", chmod(P("sock"), 0600), 0);
	want_mode("sock", 0600);
	res("u1 symlink lnk", symlink("f", P("lnk")), 0);
	/* lchmod: Linux refuses to change a symlink's mode. */
	res("u1 fchmodat lnk NOFOLLOW",
	    fchmodat(AT_FDCWD, P("lnk"), 0600, AT_SYMLINK_NOFOLLOW), EOPNOTSUPP);
	res("u1 fchmodat2 lnk NOFOLLOW",
	    syscall(SYS_fchmodat2, AT_FDCWD, P("lnk"), 0600,
		    AT_SYMLINK_NOFOLLOW), EOPNOTSUPP);
	/* ... but follows it without the flag. */
	res("u1 chmod lnk 0751", chmod(P("lnk"), 0751), 0);
	want_mode("f", 0751);
	(void)u;
}

static void chmod_other(const struct user *u)
{
	char what[64];

	snprintf(what, sizeof(what), "%s chmod f 0777", u->name);
	res(what, chmod(P("f"), 0777), EPERM);
	snprintf(what, sizeof(what), "%s chmod fifo 0666", u->name);
	res(what, chmod(P("fifo"), 0666), EPERM);
	snprintf(what, sizeof(what), "%s chmod sock 0666", u->name);
	res(what, chmod(P("sock"), 0666), EPERM);
	snprintf(what, sizeof(what), "%s chmod d 0777", u->name);
	res(what, chmod(P("d"), 0777), EPERM);
}

static void scen_chmod(void)
{
	chmod(base, 0777);
	mkfile("f", u1.uid, u1.gid, 0644);
	mkfile("team", u1.uid, TEAM, 0755);
	mkfile("alien", u1.uid, u3.gid, 0755);
	mkdir_as_root("d", u1.uid, u1.gid, 0755);
	as(&u1, chmod_owner);
	as(&u2, chmod_other);
	as(&u3, chmod_other);
	st("f"); st("team"); st("alien"); st("fifo"); st("sock"); st("lnk");
	st("d");
}

/* chown() and lchown() */

static void chown_u1(const struct user *u)
{
	res("u1 chown f -1:team", chown(P("f"), -1, TEAM), 0);
	res("u1 chown f -1:u1", chown(P("f"), -1, u1.gid), 0);
	res("u1 chown f -1:2002", chown(P("f"), -1, OTHER_GROUP), EPERM);
	res("u1 chown f u2", chown(P("f"), u2.uid, -1), EPERM);
	res("u1 chown f u1:-1", chown(P("f"), u1.uid, -1), 0);
	res("u1 lchown lnk -1:team", lchown(P("lnk"), -1, TEAM), 0);
	res("u1 chown s6755 -1:team", chown(P("s6755"), -1, TEAM), 0);
	want_mode("s6755", 0755);
	/* setgid without group execute is no set-id: kept. */
	res("u1 chown s2745 -1:team", chown(P("s2745"), -1, TEAM), 0);
	res("u1 chown d -1:team", chown(P("d"), -1, TEAM), 0);
	want_mode("d", 02755);
	(void)u;
}

static void chown_other(const struct user *u)
{
	char what[64];

	snprintf(what, sizeof(what), "%s chown f -1:team", u->name);
	res(what, chown(P("f"), -1, TEAM), EPERM);
	snprintf(what, sizeof(what), "%s chown f self", u->name);
	res(what, chown(P("f"), u->uid, u->gid), EPERM);
	snprintf(what, sizeof(what), "%s lchown lnk -1:team", u->name);
	res(what, lchown(P("lnk"), -1, TEAM), EPERM);
	/* No change: allowed, unless set-id bits would have to go. */
	snprintf(what, sizeof(what), "%s chown f -1:-1", u->name);
	res(what, chown(P("f"), -1, -1), 0);
	snprintf(what, sizeof(what), "%s chown s4755 -1:-1", u->name);
	res(what, chown(P("s4755"), -1, -1), EPERM);
}

static void scen_chown(void)
{
	mkfile("f", u1.uid, u1.gid, 0644);
	mkfile("s6755", u1.uid, u1.gid, 06755);
	mkfile("s2745", u1.uid, u1.gid, 02745);
	mkfile("s4755", u1.uid, u1.gid, 04755);
	mkfile("r4755", u1.uid, u1.gid, 04755);
	mkdir_as_root("d", u1.uid, u1.gid, 02755);
	if (symlink("f", P("lnk")) || lchown(P("lnk"), u1.uid, u1.gid))
		lg->bad++;
	as(&u2, chown_other);
	as(&u3, chown_other);
	as(&u1, chown_u1);
	/* root: any owner, and the set-id bits go all the same. */
	res("root chown r4755 u2:u2", chown(P("r4755"), u2.uid, u2.gid), 0);
	want_mode("r4755", 0755);
	res("root lchown lnk u3:u3", lchown(P("lnk"), u3.uid, u3.gid), 0);
	st("f"); st("s6755"); st("s2745"); st("s4755"); st("r4755");
	st("lnk"); st("d"); st(".");
}

/* setuid and setgid bits cleared by a write */

static void write_one(const char *what, const char *name, int flags,
		      int want)
{
	long fd = open(P(name), flags | O_CLOEXEC);

	res(what, fd, want);
	if (fd < 0)
		return;
	res(what, write(fd, "x", 1), 0);
	res(what, close(fd), 0);
}

static void kill_ops(const struct user *u)
{
	int fd;

	if (u->uid == u3.uid) {
		write_one("u3 write s4777", "s4777", O_WRONLY, 0);
		write_one("u3 write s2777", "s2777", O_WRONLY, 0);
		write_one("u3 write s6777", "s6777", O_RDWR, 0);
		write_one("u3 write s2767", "s2767", O_WRONLY | O_APPEND, 0);
		write_one("u3 O_TRUNC t6777", "t6777", O_WRONLY | O_TRUNC, 0);
		res("u3 truncate u6777", truncate(P("u6777"), 1), 0);
		fd = open(P("f6777"), O_WRONLY | O_CLOEXEC);
		res("u3 ftruncate f6777", ftruncate(fd, 0), 0);
		close(fd);
	} else if (u->uid == u2.uid) {
		/* In the file's group: setgid without group execute stays. */
		write_one("u2 write g2767", "g2767", O_WRONLY, 0);
	} else {
		write_one("u1 write o6777", "o6777", O_WRONLY, 0);
	}
}

static void scen_kill(void)
{
	static const char *const names[] = {
		"s4777", "s2777", "s6777", "t6777", "u6777", "f6777", "o6777",
		"r6777",
	};
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		mkfile(names[i], u1.uid, u1.gid, names[i][1] == '4' ? 04777 :
		       names[i][1] == '2' ? 02777 : 06777);
	mkfile("s2767", u1.uid, u1.gid, 02767);
	mkfile("g2767", u1.uid, TEAM, 02767);
	as(&u3, kill_ops);
	as(&u2, kill_ops);
	as(&u1, kill_ops);
	/* root keeps them (CAP_FSETID). */
	write_one("root write r6777", "r6777", O_WRONLY, 0);
	want_mode("s4777", 0777);
	want_mode("s2777", 0777);
	want_mode("s6777", 0777);
	want_mode("s2767", 0767);
	want_mode("t6777", 0777);
	want_mode("u6777", 0777);
	want_mode("f6777", 0777);
	want_mode("g2767", 02767);
	want_mode("o6777", 0777);
	want_mode("r6777", 06777);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		st(names[i]);
	st("s2767"); st("g2767");
}

/* Sticky directories, unlink and rename */

/* Create name and close it: open()'s result. */
static long creat_close(const char *name)
{
	long fd = open(P(name), O_CREAT | O_WRONLY | O_CLOEXEC, 0666);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void sticky_u1(const struct user *u)
{
	res("u1 create sticky/a", creat_close("sticky/a"), 0);
	res("u1 mkdir sticky/ad", mkdir(P("sticky/ad"), 0777), 0);
	res("u1 create open/a", creat_close("open/a"), 0);
	(void)u;
}

static void sticky_u2(const struct user *u)
{
	res("u2 create sticky/b", creat_close("sticky/b"), 0);
	res("u2 unlink sticky/a", unlink(P("sticky/a")), EPERM);
	res("u2 rename sticky/a", rename(P("sticky/a"), P("sticky/c")), EPERM);
	res("u2 rename sticky/b over a", rename(P("sticky/b"), P("sticky/a")),
	    EPERM);
	res("u2 rmdir sticky/ad", rmdir(P("sticky/ad")), EPERM);
	res("u2 rename sticky/b", rename(P("sticky/b"), P("sticky/c")), 0);
	/* Without the sticky bit, write on the directory is enough. */
	res("u2 rename open/a", rename(P("open/a"), P("open/b")), 0);
	res("u2 unlink open/b", unlink(P("open/b")), 0);
	/* No write on the directory, no search: no unlink, no rename. */
	res("u2 unlink ro/f", unlink(P("ro/f")), EACCES);
	res("u2 rename ro/f", rename(P("ro/f"), P("open/f")), EACCES);
	res("u2 create ro/g", creat_close("ro/g"), EACCES);
	res("u2 unlink wx/f", unlink(P("wx/f")), EACCES);
	res("u2 link into ro", link(P("sticky/c"), P("ro/l")), EACCES);
	/* A directory moved to another parent needs write on itself. */
	res("u2 rename open/sub1 -> dst", rename(P("open/sub1"),
						 P("dst/sub1")), EACCES);
	res("u2 rename open/sub1 in place", rename(P("open/sub1"),
						   P("open/sub2")), 0);
	res("u2 rename open/mine -> dst", rename(P("open/mine"),
						 P("dst/mine")), 0);
	(void)u;
}

static void sticky_u3(const struct user *u)
{
	/* The directory's owner may remove anything in it. */
	res("u3 unlink sticky3/a", unlink(P("sticky3/a")), 0);
	res("u3 unlink sticky/c", unlink(P("sticky/c")), EPERM);
	(void)u;
}

static void scen_sticky(void)
{
	mkdir_as_root("sticky", 0, 0, 01777);
	mkdir_as_root("sticky3", u3.uid, u3.gid, 01777);
	mkfile("sticky3/a", u1.uid, u1.gid, 0666);
	mkdir_as_root("open", 0, 0, 0777);
	mkdir_as_root("dst", 0, 0, 0777);
	mkdir_as_root("open/sub1", u1.uid, u1.gid, 0755);
	mkdir_as_root("open/mine", u2.uid, u2.gid, 0755);
	mkdir_as_root("ro", 0, 0, 0755);
	mkfile("ro/f", u2.uid, u2.gid, 0666);
	mkdir_as_root("wx", 0, 0, 0666);
	mkfile("wx/f", u2.uid, u2.gid, 0666);
	as(&u1, sticky_u1);
	as(&u2, sticky_u2);
	as(&u3, sticky_u3);
	st("sticky/a"); st("sticky/ad"); st("sticky/c"); st("sticky3/a");
	st("open/sub2"); st("dst/mine"); st("ro/f");
}

/* utimensat() */

static void times_ops(const struct user *u)
{
	const struct timespec now[2] = { { .tv_nsec = UTIME_NOW },
					 { .tv_nsec = UTIME_NOW } };
	const struct timespec set[2] = { { 1000000, 1 }, { 2000000, 2 } };
	const struct timespec half[2] = { { .tv_nsec = UTIME_OMIT },
					  { .tv_nsec = UTIME_NOW } };
	bool owner = u->uid == u1.uid;
	char what[64];

	snprintf(what, sizeof(what), "%s utimensat rw NULL", u->name);
	res(what, utimensat(AT_FDCWD, P("rw"), NULL, 0), 0);
	snprintf(what, sizeof(what), "%s utimensat rw NOW", u->name);
	res(what, utimensat(AT_FDCWD, P("rw"), now, 0), 0);
	/* Not both UTIME_NOW: for the owner only. */
	snprintf(what, sizeof(what), "%s utimensat rw OMIT,NOW", u->name);
	res(what, utimensat(AT_FDCWD, P("rw"), half, 0), owner ? 0 : EPERM);
	snprintf(what, sizeof(what), "%s utimensat rw set", u->name);
	res(what, utimensat(AT_FDCWD, P("rw"), set, 0), owner ? 0 : EPERM);
	snprintf(what, sizeof(what), "%s utimensat ro NULL", u->name);
	res(what, utimensat(AT_FDCWD, P("ro"), NULL, 0), owner ? 0 : EACCES);
	snprintf(what, sizeof(what), "%s utimensat ro set", u->name);
	res(what, utimensat(AT_FDCWD, P("ro"), set, 0), owner ? 0 : EPERM);
	snprintf(what, sizeof(what), "%s utimensat team NULL", u->name);
	res(what, utimensat(AT_FDCWD, P("team"), NULL, 0),
	    u->uid != u3.uid ? 0 : EACCES);
}

static void scen_times(void)
{
	const struct timespec old[2] = { { 100, 0 }, { 200, 0 } };
	struct stat s;

	mkfile("rw", u1.uid, u1.gid, 0666);
	mkfile("ro", u1.uid, u1.gid, 0644);
	mkfile("team", u1.uid, TEAM, 0464);
	as(&u2, times_ops);
	as(&u3, times_ops);
	utimensat(AT_FDCWD, P("ro"), old, 0);
	as(&u1, times_ops);
	/* The owner's explicit times are the file's. */
	if (!stat(P("ro"), &s))
		logf_("  ro: atime %ld.%09ld mtime %ld.%09ld\n",
		      (long)s.st_atim.tv_sec, s.st_atim.tv_nsec,
		      (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
	if (stat(P("ro"), &s) || s.st_mtim.tv_sec != 2000000 ||
	    s.st_mtim.tv_nsec != 2)
		lg->bad++;
}

/* ENAMETOOLONG */

static void names_ops(const struct user *u)
{
	char name[NAME_MAX + 2], *long_path;
	size_t len;

	memset(name, 'n', sizeof(name) - 1);
	name[NAME_MAX + 1] = 0;
	res("create 256-byte name", creat_close(name), ENAMETOOLONG);
	res("stat 256-byte name", access(P(name), F_OK), ENAMETOOLONG);
	res("mkdir 256-byte name", mkdir(P(name), 0755), ENAMETOOLONG);
	res("mkfifo 256-byte name", mkfifo(P(name), 0644), ENAMETOOLONG);
	res("symlink 256-byte name", symlink("x", P(name)), ENAMETOOLONG);
	res("link 256-byte name", link(P("f"), P(name)), ENAMETOOLONG);
	res("rename to 256-byte name", rename(P("f"), P(name)), ENAMETOOLONG);
	res("unlink 256-byte name", unlink(P(name)), ENAMETOOLONG);
	name[NAME_MAX] = 0;
	res("create 255-byte name", creat_close(name), 0);
	res("rename 255-byte name", rename(P(name), P("g")), 0);

	len = PATH_MAX + 16;
	long_path = malloc(len + 1);
	if (!long_path)
		return;
	snprintf(long_path, len + 1, "%s", base);
	while (strlen(long_path) + 2 <= len)
		strcat(long_path, "/.");
	res("open a path longer than PATH_MAX",
	    open(long_path, O_RDONLY | O_CLOEXEC), ENAMETOOLONG);
	free(long_path);
	(void)u;
}

static void scen_names(void)
{
	chmod(base, 0777);
	mkfile("f", u1.uid, u1.gid, 0644);
	as(&u1, names_ops);
	st("g");
}

/* Running a scenario on a tmpfs and on vbridgefs */

static int rm_entry(const char *path, const struct stat *s, int flag,
		    struct FTW *ftw)
{
	(void)s; (void)flag; (void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Run scen in a fresh directory of dir; returns its log (malloc'ed). */
static char *run(const char *dir, const char *name, void (*scen)(void),
		 int *bad)
{
	struct statfs sf;
	char *out;

	snprintf(base, sizeof(base), "%s/perm-%d-%s", dir, getpid(), name);
	on_vbridgefs = !statfs(dir, &sf) && sf.f_type == VBRIDGE_FS_MAGIC;
	rm_rf(base);
	memset(lg, 0, sizeof(*lg));
	if (mkdir(base, 0755)) {
		logf_("mkdir %s: %s\n", base, ename(errno));
		lg->bad++;
	} else {
		scen();
	}
	rm_rf(base);
	*bad = lg->bad;
	out = strdup(lg->buf);
	return out;
}

/* Whether u3 can search dir (all its ancestors need it too). */
static bool reachable(const char *dir)
{
	int status;
	pid_t pid = fork();

	if (!pid)
		_exit(setresgid(u3.gid, u3.gid, u3.gid) ||
		      setresuid(u3.uid, u3.uid, u3.uid) ||
		      access(dir, X_OK));
	return pid > 0 && waitpid(pid, &status, 0) == pid && !status;
}

FIXTURE(perm) {
	char tmpfs[64];
	const char *mnt;
};

FIXTURE_VARIANT(perm) {
	const char *mnt;	/* NULL: $VBRIDGE_MNT or /mnt/vb */
};

FIXTURE_VARIANT_ADD(perm, cache_auto) { .mnt = NULL };
FIXTURE_VARIANT_ADD(perm, cache_none) { .mnt = "/mnt/vb-none" };
FIXTURE_VARIANT_ADD(perm, cache_always) { .mnt = "/mnt/vb-always" };

FIXTURE_SETUP(perm)
{
	const char *env = getenv("VBRIDGE_MNT");
	struct statfs sf;
	struct stat s;

	self->mnt = variant->mnt ?: (env && *env ? env : "/mnt/vb");
	if (statfs(self->mnt, &sf) || sf.f_type != VBRIDGE_FS_MAGIC)
		SKIP(return, "%s is not a vbridgefs mount", self->mnt);
	if (geteuid())
		SKIP(return, "needs root to act as other users");
	/* The users must reach their directory. */
	ASSERT_EQ(0, stat(self->mnt, &s));
	if ((s.st_mode & 0011) != 0011)
		ASSERT_EQ(0, chmod(self->mnt, (s.st_mode & 07777) | 0011));
	snprintf(self->tmpfs, sizeof(self->tmpfs), "/tmp/vbperm-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->tmpfs));
	ASSERT_EQ(0, mount("vbperm", self->tmpfs, "tmpfs", 0, "mode=0755"));
	ASSERT_TRUE(reachable(self->tmpfs))
		TH_LOG("other users cannot reach %s", self->tmpfs);
	ASSERT_TRUE(reachable(self->mnt))
		TH_LOG("other users cannot reach %s", self->mnt);
	lg = mmap(NULL, sizeof(*lg), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, lg);
}

FIXTURE_TEARDOWN(perm)
{
	if (self->tmpfs[0]) {
		umount(self->tmpfs);
		rmdir(self->tmpfs);
	}
}

/* The first line where a and b differ. */
static void report_diff(const char *a, const char *b)
{
	while (*a && *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");

		if (la != lb || memcmp(a, b, la)) {
			printf("# tmpfs:     %.*s\n# vbridgefs: %.*s\n",
			       (int)la, a, (int)lb, b);
			return;
		}
		a += la + !!a[la];
		b += lb + !!b[lb];
	}
	printf("# tmpfs:     %.60s\n# vbridgefs: %.60s\n", a, b);
}

static void print_log(const char *fs, const char *log)
{
	const char *p = log;

	while (*p) {
		size_t l = strcspn(p, "\n");

		printf("# %s: %.*s\n", fs, (int)l, p);
		p += l + !!p[l];
	}
}

static void compare(struct __test_metadata *_metadata, const char *tmpfs,
		    const char *mnt, const char *name, void (*scen)(void))
{
	int tbad, vbad;
	char *t = run(tmpfs, name, scen, &tbad);
	char *v = run(mnt, name, scen, &vbad);

	if (tbad)
		print_log("tmpfs", t);
	if (vbad)
		print_log("vbridgefs", v);
	if (strcmp(t, v))
		report_diff(t, v);
	EXPECT_EQ(0, tbad);
	EXPECT_EQ(0, vbad);
	EXPECT_STREQ(t, v);
	/* Not vacuous: the scenario did log its operations. */
	EXPECT_LT(5, (int)strlen(t));
	free(t);
	free(v);
}

#define PERM_TEST(name)							\
	TEST_F(perm, name)						\
	{								\
		compare(_metadata, self->tmpfs, self->mnt, #name,	\
			scen_##name);					\
	}

PERM_TEST(open)
PERM_TEST(chmod)
PERM_TEST(chown)
PERM_TEST(kill)
PERM_TEST(sticky)
PERM_TEST(times)
PERM_TEST(names)

TEST_HARNESS_MAIN
