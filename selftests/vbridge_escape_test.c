// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs escape suite: a hostile guest tries to reach host files
 * outside the export, or privileges it was not given.  Runs in the guest
 * with the "share" export mounted at $VBRIDGE_MNT (default /mnt/vb).
 *
 * The escape boot (scripts/test.sh, job vb-escape) exports a directory
 * whose sibling "canary" holds a secret, runs vbridged with
 * --uid-map 0:100000:65536 --gid-map 0:100000:65536, sets
 * VBRIDGE_IDMAP=1 on the guest's command line and writes the canary's
 * host path into .canary-path in the export.  Whatever these tests manage
 * to read through a path that should not resolve is printed, so that the
 * host can look for the secret in the log; the host also checks that the
 * canary is untouched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "kselftest_harness.h"
#include "vbridge_mount.h"
#include "vbridge_agent.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

#define VBRIDGE_FS_MAGIC	0x76627266

static const char *path(const char *name)
{
	static char buf[4][PATH_MAX];
	static unsigned int i;
	char *p = buf[i++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", mnt(), name);
	return p;
}

static bool idmapped(void)
{
	const char *v = getenv("VBRIDGE_IDMAP");

	return v && !strcmp(v, "1");
}

/* The canary's host path, from the test driver; "" without one. */
static const char *canary_path(void)
{
	static char buf[PATH_MAX];
	ssize_t n;
	int fd;

	if (*buf)
		return buf;
	fd = open(path(".canary-path"), O_RDONLY);
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/*
 * Open @p for reading: -errno, or 0 after printing what it holds (the
 * host greps the log for the canary's secret).
 */
static int try_read(const char *p)
{
	char buf[256];
	ssize_t n;
	int fd = open(p, O_RDONLY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	printf("# read %s: \"%s\"\n", p, buf);
	return 0;
}

static void rm_quiet(const char *p)
{
	if (unlink(p) && errno == EISDIR)
		rmdir(p);
	rmdir(p);
}

FIXTURE(esc) {
	char dir[PATH_MAX];
};

FIXTURE_SETUP(esc)
{
	struct statfs sf;

	if (statfs(mnt(), &sf) || sf.f_type != VBRIDGE_FS_MAGIC)
		SKIP(return, "%s is not a vbridgefs mount", mnt());
	snprintf(self->dir, sizeof(self->dir), "%s/esc-%d", mnt(), getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0777));
	ASSERT_EQ(0, chmod(self->dir, 0777));
}

FIXTURE_TEARDOWN(esc)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (*self->dir && system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

static const char *in(FIXTURE_DATA(esc) *self, const char *name)
{
	static char buf[4][PATH_MAX];
	static unsigned int i;
	char *p = buf[i++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", self->dir, name);
	return p;
}

/* ".." of the mount root is the guest's directory above it. */
TEST_F(esc, dotdot_chain)
{
	struct stat up, above;
	char p[PATH_MAX], chain[PATH_MAX] = "";
	int i;

	snprintf(p, sizeof(p), "%s/..", mnt());
	ASSERT_EQ(0, stat(p, &up));
	snprintf(p, sizeof(p), "%s", mnt());
	*strrchr(p, '/') = 0;
	ASSERT_EQ(0, stat(*p ? p : "/", &above));
	EXPECT_EQ(above.st_ino, up.st_ino);
	EXPECT_EQ(above.st_dev, up.st_dev);
	for (i = 0; i < 20; i++)
		strcat(chain, "../");
	snprintf(p, sizeof(p), "%s/%scanary/secret", self->dir, chain);
	EXPECT_EQ(-ENOENT, try_read(p));
	snprintf(p, sizeof(p), "%s/../canary/secret", mnt());
	EXPECT_EQ(-ENOENT, try_read(p));
	/* openat() from the mount's root descriptor, too. */
	i = open(mnt(), O_PATH | O_DIRECTORY);
	ASSERT_LE(0, i);
	EXPECT_EQ(-1, openat(i, "../canary/secret", O_RDONLY));
	EXPECT_EQ(ENOENT, errno);
	close(i);
}

/* Symlinks out are resolved by the guest, in its own namespace. */
TEST_F(esc, symlinks_out)
{
	char target[PATH_MAX], got[PATH_MAX];
	const char *cp = canary_path();
	ssize_t n;

	snprintf(target, sizeof(target), "%s/secret",
		 *cp ? cp : "/nonexistent-canary");
	ASSERT_EQ(0, symlink(target, in(self, "abs")));
	n = readlink(in(self, "abs"), got, sizeof(got) - 1);
	ASSERT_EQ((ssize_t)strlen(target), n);
	EXPECT_EQ(0, memcmp(got, target, n));
	EXPECT_EQ(-ENOENT, try_read(in(self, "abs")));

	ASSERT_EQ(0, symlink("../../canary/secret", in(self, "rel")));
	EXPECT_EQ(-ENOENT, try_read(in(self, "rel")));
	ASSERT_EQ(0, symlink("../../../../../../../../../canary", in(self, "reldir")));
	EXPECT_EQ(-ENOENT, try_read(in(self, "reldir/secret")));

	/* A link to a guest file gives the guest's file. */
	ASSERT_EQ(0, symlink("/proc/version", in(self, "guestfile")));
	EXPECT_EQ(0, try_read(in(self, "guestfile")));
	/* Creating through a dangling link out must not create on the host. */
	EXPECT_EQ(-1, open(in(self, "abs"), O_WRONLY | O_CREAT, 0644));
	EXPECT_EQ(ENOENT, errno);
}

/* Magic links: /proc/self/root and /proc/self/fd are the guest's. */
TEST_F(esc, magic_links)
{
	char target[PATH_MAX], p[PATH_MAX];
	const char *cp = canary_path();
	int fd;

	snprintf(target, sizeof(target), "/proc/self/root%s/secret",
		 *cp ? cp : "/nonexistent-canary");
	ASSERT_EQ(0, symlink(target, in(self, "magic")));
	EXPECT_EQ(-ENOENT, try_read(in(self, "magic")));
	ASSERT_EQ(0, symlink("/proc/self/cwd/../canary/secret", in(self, "cwd")));
	EXPECT_EQ(-ENOENT, try_read(in(self, "cwd")));

	/* A descriptor of the export's root: its ".." is the guest's. */
	fd = open(mnt(), O_PATH | O_DIRECTORY);
	ASSERT_LE(0, fd);
	snprintf(p, sizeof(p), "/proc/self/fd/%d/../canary/secret", fd);
	EXPECT_EQ(-ENOENT, try_read(p));
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	snprintf(target, sizeof(target), "%s", p);
	ASSERT_EQ(0, symlink(target, in(self, "fdlink")));
	close(fd);
	EXPECT_EQ(-ENOENT, try_read(in(self, "fdlink/../canary/secret")));
}

/* Hard links across the export's boundary fail: EXDEV. */
TEST_F(esc, hard_links_out)
{
	char tmpl[] = "/tmp/vbesc-XXXXXX";
	int fd = mkstemp(tmpl);
	char p[64];

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, link(tmpl, in(self, "hl")));
	EXPECT_EQ(EXDEV, errno);
	EXPECT_EQ(-1, link("/proc/version", in(self, "hl")));
	EXPECT_EQ(EXDEV, errno);
	/* The same through the descriptor (linkat AT_EMPTY_PATH, /proc fd). */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	EXPECT_EQ(-1, linkat(AT_FDCWD, p, AT_FDCWD, in(self, "hl"),
			     AT_SYMLINK_FOLLOW));
	EXPECT_EQ(EXDEV, errno);
	close(fd);
	unlink(tmpl);
	/* Out of the export too. */
	ASSERT_EQ(0, close(open(in(self, "f"), O_CREAT | O_WRONLY, 0644)));
	EXPECT_EQ(-1, link(in(self, "f"), "/tmp/vbesc-out"));
	EXPECT_EQ(EXDEV, errno);
}

/* Device nodes need --allow-devices; FIFOs stay in the guest. */
TEST_F(esc, special_files)
{
	int fd;

	EXPECT_EQ(-1, mknod(in(self, "null"), S_IFCHR | 0666, makedev(1, 3)));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mknod(in(self, "blk"), S_IFBLK | 0666, makedev(7, 0)));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, mkfifo(in(self, "fifo"), 0644));
	/* A non-blocking open of a FIFO without writer: no hang anywhere. */
	fd = open(in(self, "fifo"), O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	close(fd);
}

/* Names: 255 bytes work, 256 do not; '/' and NUL never reach the wire. */
TEST_F(esc, names)
{
	char name[300];
	int fd;

	memset(name, 'n', 255);
	name[255] = 0;
	fd = open(in(self, name), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	close(fd);
	name[255] = 'n';
	name[256] = 0;
	EXPECT_EQ(-1, open(in(self, name), O_CREAT | O_WRONLY, 0644));
	EXPECT_EQ(ENAMETOOLONG, errno);
	EXPECT_EQ(-1, mkdir(in(self, name), 0755));
	EXPECT_EQ(ENAMETOOLONG, errno);
	EXPECT_EQ(-1, symlink("x", in(self, name)));
	EXPECT_EQ(ENAMETOOLONG, errno);
	/* "a/b" is a path, never one name: ENOENT, nothing created. */
	EXPECT_EQ(-1, open(in(self, "nodir/b"), O_CREAT | O_WRONLY, 0644));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * Symlinks swapped in for a directory while the guest walks through
 * it: by the guest itself, and by the host agent when there is one.
 * Every open gives the inside file or fails; never anything else.
 */
struct swap_arg {
	const char *dir, *link, *target;
	volatile bool stop;
};

static void *swapper(void *p)
{
	struct swap_arg *a = p;
	char aside[PATH_MAX];

	snprintf(aside, sizeof(aside), "%s.aside", a->dir);
	while (!a->stop) {
		if (rename(a->dir, aside))
			continue;
		if (!symlink(a->target, a->dir))
			unlink(a->dir);
		rename(aside, a->dir);
	}
	return NULL;
}

static int agent_cmd(const char *cmd)
{
	return agent_call(mnt(), cmd, 20000, NULL, NULL, 0);
}

static void race_reads(struct __test_metadata *_metadata, const char *p,
		       unsigned int n)
{
	unsigned int i, ok = 0, fail = 0;
	char buf[64];

	for (i = 0; i < n; i++) {
		ssize_t len;
		int fd = open(p, O_RDONLY);

		if (fd < 0) {
			fail++;
			continue;
		}
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		ASSERT_LE(0, len);
		buf[len] = 0;
		if (strcmp(buf, "inside"))
			printf("# read %s: \"%s\"\n", p, buf);
		EXPECT_STREQ("inside", buf);
		ok++;
	}
	TH_LOG("%u opens of the inside file, %u refused", ok, fail);
}

static void write_small(const char *p, const char *s)
{
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0)
			perror(p);
		close(fd);
	}
}

TEST_F(esc, symlink_swap_race)
{
	struct swap_arg a = { 0 };
	const char *cp = canary_path();
	char target[PATH_MAX], cmd[PATH_MAX + 64];
	pthread_t thr;

	snprintf(target, sizeof(target), "%s", *cp ? cp : "/nonexistent");
	ASSERT_EQ(0, mkdir(in(self, "d"), 0755));
	write_small(in(self, "d/secret"), "inside");
	a.dir = in(self, "d");
	a.target = target;
	ASSERT_EQ(0, pthread_create(&thr, NULL, swapper, &a));
	race_reads(_metadata, in(self, "d/secret"), 2000);
	a.stop = true;
	pthread_join(thr, NULL);

	/* The host swaps the directory for a link to the canary. */
	if (access(path(".agent"), F_OK))
		SKIP(return, "no host agent to swap on the host");
	rm_quiet(path("hswap.aside"));
	ASSERT_EQ(0, mkdir(path("hswap"), 0755) && errno != EEXIST ? -1 : 0);
	write_small(path("hswap/secret"), "inside");
	snprintf(cmd, sizeof(cmd), "swap hswap %s", target);
	ASSERT_EQ(0, agent_cmd(cmd));
	race_reads(_metadata, path("hswap/secret"), 3000);
}

/* The id-mapped guest root has none of the host's xattr privileges. */
TEST_F(esc, idmap_xattrs)
{
	static const unsigned int fcap[5] = { 0x02000001, 1U << 7, 0, 0, 0 };
	char buf[256];
	ssize_t n;

	if (!idmapped())
		SKIP(return, "this boot maps no ids (VBRIDGE_IDMAP)");
	ASSERT_EQ(0, close(open(in(self, "x"), O_CREAT | O_WRONLY, 0755)));
	EXPECT_EQ(-1, setxattr(in(self, "x"), "trusted.overlay.redirect",
			       "/x", 2, 0));
	EXPECT_TRUE(errno == EPERM || errno == EOPNOTSUPP);
	EXPECT_EQ(-1, setxattr(in(self, "x"), "security.capability", fcap,
			       sizeof(fcap), 0));
	EXPECT_TRUE(errno == EPERM || errno == EOPNOTSUPP || errno == EINVAL);
	/* The test driver set trusted.secret on .tfile. */
	n = getxattr(path(".tfile"), "trusted.secret", buf, sizeof(buf));
	EXPECT_EQ(-1, n);
	EXPECT_TRUE(errno == ENODATA || errno == EOPNOTSUPP);
	n = listxattr(path(".tfile"), buf, sizeof(buf));
	if (n > 0)
		EXPECT_EQ(NULL, memmem(buf, n, "trusted.", 8));
	/* user.* works. */
	EXPECT_EQ(0, setxattr(in(self, "x"), "user.ok", "1", 1, 0));
}

/* Ids outside the map cannot be given away. */
TEST_F(esc, chown_unmapped)
{
	struct stat st;

	if (!idmapped())
		SKIP(return, "this boot maps no ids (VBRIDGE_IDMAP)");
	ASSERT_EQ(0, close(open(in(self, "c"), O_CREAT | O_WRONLY, 0644)));
	EXPECT_EQ(-1, chown(in(self, "c"), 70000, -1));
	EXPECT_TRUE(errno == EINVAL || errno == EPERM);
	EXPECT_EQ(-1, chown(in(self, "c"), -1, 70000));
	EXPECT_TRUE(errno == EINVAL || errno == EPERM);
	/* Nothing changed hands. */
	EXPECT_EQ(0, stat(in(self, "c"), &st));
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
}

/* An unprivileged guest user: setuid only on its own files. */
TEST_F(esc, setuid_unprivileged)
{
	struct stat st;
	pid_t pid;
	int status;

	ASSERT_EQ(0, close(open(in(self, "rootfile"), O_CREAT | O_WRONLY, 0755)));
	ASSERT_EQ(0, stat(self->dir, &st));
	TH_LOG("%s: mode %o, owner %u:%u", self->dir, st.st_mode, st.st_uid,
	       st.st_gid);
	fflush(stdout);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		if (setgid(1000) || setuid(1000))
			_exit(10);
		fd = open(in(self, "mine"), O_CREAT | O_WRONLY, 0755);
		if (fd < 0) {
			printf("# create as uid 1000: %s\n", strerror(errno));
			_exit(11);
		}
		close(fd);
		if (chmod(in(self, "mine"), 04755))
			_exit(12);
		if (!chmod(in(self, "rootfile"), 04755) || errno != EPERM)
			_exit(13);
		if (!chown(in(self, "mine"), 0, 0) || errno != EPERM)
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, stat(in(self, "mine"), &st));
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(04755, st.st_mode & 07777);
	ASSERT_EQ(0, stat(in(self, "rootfile"), &st));
	EXPECT_EQ(0, st.st_mode & 04000);
}

TEST_HARNESS_MAIN
