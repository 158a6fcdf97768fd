// SPDX-License-Identifier: GPL-2.0
/*
 * Round trips per operation in the default mode (cache=auto): each test
 * counts the requests the driver posts, by opcode, from debugfs
 * (/sys/kernel/debug/vbridge/<device>/opcodes), around one operation.
 * Request counts are deterministic where wall-clock times on a loaded
 * machine are not, so these are the regression tests of the round trips
 * the page cache, the dentry cache and the request lifecycle save.
 *
 * The mount is VBRIDGE_MNT (default /mnt/vb) with cache=auto; nothing
 * else may use the device meanwhile.  Entries and attributes stay valid
 * for the device's timeout (1 s by default): each measured operation
 * waits for the change events of its set-up (settle()), follows a
 * stat() that revalidates what it uses, and takes a few system calls.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/vbridge.h>

#include "kselftest_harness.h"
#include "vbridge_mount.h"

#define NR_OPS		(VBRIDGE_OP_LAST + 1)

struct counts {
	long long n[NR_OPS];
};

/* Requests posted so far, by opcode, summed over every device. */
static int counts_read(struct counts *c)
{
	unsigned int op;
	long long n;
	glob_t g;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (glob("/sys/kernel/debug/vbridge/*/opcodes", 0, NULL, &g))
		return -1;
	for (i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");

		if (!f)
			continue;
		while (fscanf(f, "%x %lld", &op, &n) == 2)
			if (op < NR_OPS)
				c->n[op] += n;
		fclose(f);
	}
	globfree(&g);
	return 0;
}

/*
 * Requests between two snapshots: @op's, or with @op 0 those of every
 * filesystem opcode the operation waits for (FORGETs go out from a
 * work item whenever inodes are evicted: not counted).
 */
static long long delta(const struct counts *a, const struct counts *b,
		       unsigned int op)
{
	long long sum = 0;

	if (op)
		return b->n[op] - a->n[op];
	for (op = VBRIDGE_OP_FS_FIRST; op < VBRIDGE_OP_DISPLAY_FIRST; op++)
		if (op != VBRIDGE_OP_FS_FORGET)
			sum += b->n[op] - a->n[op];
	return sum;
}

static void log_delta(struct __test_metadata *_metadata, const char *what,
		      const struct counts *a, const struct counts *b)
{
	char line[512];
	size_t len = 0;
	unsigned int op;

	line[0] = 0;
	for (op = VBRIDGE_OP_FS_FIRST; op < VBRIDGE_OP_DISPLAY_FIRST; op++)
		if (b->n[op] != a->n[op] && len < sizeof(line) - 32)
			len += snprintf(line + len, sizeof(line) - len,
					" %#x:%lld", op, b->n[op] - a->n[op]);
	TH_LOG("%s: %lld requests (opcode:count%s)", what, delta(a, b, 0),
	       line);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* INVAL events received so far, summed over every device. */
static long long events_read(void)
{
	long long n, sum = 0;
	char line[128];
	glob_t g;
	size_t i;

	if (glob("/sys/kernel/debug/vbridge/*/events", 0, NULL, &g))
		return -1;
	for (i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "events: %lld", &n) == 1)
				sum += n;
		if (f)
			fclose(f);
	}
	globfree(&g);
	return sum;
}

/*
 * Wait for the host's change events about what the test just did (our
 * own creations come back as INVAL events, which expire entries and
 * attributes): until none came for 300 ms, at most 5 s.  Then the stat
 * that follows revalidates for good, and the measured operation sees a
 * settled cache.
 */
static void settle(void)
{
	long long prev = events_read(), now;
	int quiet = 0, i;

	for (i = 0; i < 50 && quiet < 3; i++) {
		usleep(100000);
		now = events_read();
		quiet = now == prev ? quiet + 1 : 0;
		prev = now;
	}
}

FIXTURE(rtt) {
	char dir[256];
	struct counts a, b;
};

FIXTURE_SETUP(rtt)
{
	struct stat st;

	if (!strstr(mnt_opts(), "cache=auto"))
		SKIP(return, "%s is not vbridgefs with cache=auto", mnt());
	if (counts_read(&self->a))
		SKIP(return, "no debugfs opcode counters");
	snprintf(self->dir, sizeof(self->dir), "%s/rtt-%d", mnt(), getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	ASSERT_EQ(0, stat(self->dir, &st));
}

FIXTURE_TEARDOWN(rtt)
{
	char cmd[PATH_MAX + 16];

	if (!self->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

#define BEGIN()	ASSERT_EQ(0, counts_read(&self->a))
#define END()	ASSERT_EQ(0, counts_read(&self->b))

/* A new file: CREATE and RELEASE, no LOOKUP first, no FLUSH. */
TEST_F(rtt, create_close)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/new", self->dir);
	settle();
	ASSERT_EQ(0, stat(self->dir, &st));
	BEGIN();
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	END();
	log_delta(_metadata, "create+close", &self->a, &self->b);
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_LOOKUP));
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_FLUSH));
	EXPECT_EQ(1, delta(&self->a, &self->b, VBRIDGE_OP_FS_CREATE));
	EXPECT_EQ(2, delta(&self->a, &self->b, 0));

	/* Without O_EXCL (creat(2)) as well. */
	snprintf(path, sizeof(path), "%s/new2", self->dir);
	settle();
	ASSERT_EQ(0, stat(self->dir, &st));
	BEGIN();
	fd = creat(path, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	END();
	log_delta(_metadata, "creat+close", &self->a, &self->b);
	EXPECT_EQ(2, delta(&self->a, &self->b, 0));
}

/* O_CREAT of an existing file opens it, whatever the requests. */
TEST_F(rtt, create_existing)
{
	char path[PATH_MAX], buf[8] = {};
	int fd;

	snprintf(path, sizeof(path), "%s/old", self->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(3, write(fd, "old", 3));
	ASSERT_EQ(0, close(fd));
	/* Forget the dentry: the next open looks the name up again. */
	ASSERT_EQ(0, system("echo 2 > /proc/sys/vm/drop_caches"));
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(3, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("old", buf);
	ASSERT_EQ(0, close(fd));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EEXIST, errno);
	/* A dangling symlink: O_CREAT follows it, O_EXCL does not. */
	snprintf(path, sizeof(path), "%s/dangling", self->dir);
	ASSERT_EQ(0, symlink("target", path));
	ASSERT_EQ(0, system("echo 2 > /proc/sys/vm/drop_caches"));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EEXIST, errno);
	ASSERT_EQ(0, system("echo 2 > /proc/sys/vm/drop_caches"));
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	snprintf(path, sizeof(path), "%s/target", self->dir);
	EXPECT_EQ(0, access(path, F_OK));
}

/* Open, read and close a file unchanged since it was last read: no
 * GETATTR, no READ (the page cache stays), no FLUSH.
 */
TEST_F(rtt, open_read_close_unchanged)
{
	char path[PATH_MAX], buf[4096];
	struct stat st;
	int fd, i;

	snprintf(path, sizeof(path), "%s/data", self->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	memset(buf, 'x', sizeof(buf));
	ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, close(fd));
	/*
	 * The cached case again while a stall of the loaded machine let
	 * the entries expire inside it (the 1 s timeout), a few times.
	 */
	for (i = 0; i < 6; i++) {
		double t0;

		settle();
		t0 = now_ms();
		ASSERT_EQ(0, stat(path, &st));
		BEGIN();
		fd = open(path, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(sizeof(buf), read(fd, buf, sizeof(buf)));
		ASSERT_EQ(0, close(fd));
		END();
		log_delta(_metadata, i ? "open+read+close (cached)" :
			  "open+read+close (first)", &self->a, &self->b);
		if (i && now_ms() - t0 < 500)
			break;
	}
	EXPECT_EQ(1, delta(&self->a, &self->b, VBRIDGE_OP_FS_OPEN));
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_GETATTR));
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_READ));
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_FLUSH));
	EXPECT_EQ(2, delta(&self->a, &self->b, 0));
}

/* A name that does not exist is asked for once per entry timeout. */
TEST_F(rtt, stat_missing_twice)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/missing", self->dir);
	settle();
	ASSERT_EQ(0, stat(self->dir, &st));
	BEGIN();
	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(ENOENT, errno);
	END();
	log_delta(_metadata, "stat missing x2", &self->a, &self->b);
	EXPECT_EQ(1, delta(&self->a, &self->b, VBRIDGE_OP_FS_LOOKUP));
	EXPECT_EQ(1, delta(&self->a, &self->b, 0));

	/* Created here: the cached negative entry becomes the file. */
	ASSERT_EQ(0, mknod(path, S_IFREG | 0644, 0));
	EXPECT_EQ(0, stat(path, &st));
}

/* A symlink's target is read from the device once. */
TEST_F(rtt, readlink_twice)
{
	char path[PATH_MAX], buf[PATH_MAX];
	int i;

	snprintf(path, sizeof(path), "%s/link", self->dir);
	ASSERT_EQ(0, symlink("some/where/else", path));
	ASSERT_EQ(0, system("echo 2 > /proc/sys/vm/drop_caches"));
	for (i = 0; i < 2; i++) {
		struct stat st;

		settle();
		ASSERT_EQ(0, lstat(path, &st));
		BEGIN();
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(15, readlink(path, buf, sizeof(buf)));
		EXPECT_STREQ("some/where/else", buf);
		END();
		log_delta(_metadata, i ? "readlink (again)" : "readlink",
			  &self->a, &self->b);
		EXPECT_EQ(!i, delta(&self->a, &self->b,
				    VBRIDGE_OP_FS_READLINK));
	}
	EXPECT_EQ(0, delta(&self->a, &self->b, 0));
}

/* A symlink replaced on the device shows its new target. */
TEST_F(rtt, symlink_replaced)
{
	char path[PATH_MAX], tmp[PATH_MAX], buf[PATH_MAX] = {};

	snprintf(path, sizeof(path), "%s/link", self->dir);
	snprintf(tmp, sizeof(tmp), "%s/link.new", self->dir);
	ASSERT_EQ(0, symlink("first", path));
	EXPECT_EQ(5, readlink(path, buf, sizeof(buf)));
	ASSERT_EQ(0, symlink("second", tmp));
	ASSERT_EQ(0, rename(tmp, path));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(6, readlink(path, buf, sizeof(buf)));
	EXPECT_STREQ("second", buf);
}

/* ls -l of a directory of symlinks, twice: no READLINK the second time. */
TEST_F(rtt, ls_l_symlinks)
{
	char path[PATH_MAX], buf[PATH_MAX];
	struct dirent *de;
	int i, pass, links;
	struct stat st;
	DIR *d;

	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "%s/l%02d", self->dir, i);
		snprintf(buf, sizeof(buf), "target-%d", i);
		ASSERT_EQ(0, symlink(buf, path));
	}
	for (pass = 0; pass < 2; pass++) {
		settle();
		ASSERT_EQ(0, stat(self->dir, &st));
		BEGIN();
		d = opendir(self->dir);
		ASSERT_NE(NULL, d);
		links = 0;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", self->dir,
				 de->d_name);
			ASSERT_EQ(0, lstat(path, &st));
			ASSERT_TRUE(S_ISLNK(st.st_mode));
			ASSERT_LT(0, readlink(path, buf, sizeof(buf)));
			links++;
		}
		closedir(d);
		END();
		EXPECT_EQ(20, links);
		log_delta(_metadata, pass ? "ls -l of 20 symlinks (again)" :
			  "ls -l of 20 symlinks", &self->a, &self->b);
	}
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_READLINK));
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_LOOKUP));
}

/* New empty files @dir/fNNN, NNN from 0 to @n - 1; 0 or -1. */
static int make_files(const char *dir, int n)
{
	char path[PATH_MAX];
	int i, fd;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%03d", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || close(fd))
			return -1;
	}
	return 0;
}

/* Names in @dir (without "." and ".."), or -1. */
static int count_names(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/*
 * A directory listed again within the entry timeout comes from the
 * readdir cache: no READDIR.  cache=none (/mnt/vb-none, where mounted)
 * asks the device every time.
 */
TEST_F(rtt, readdir_twice)
{
	static const char none[] = "/mnt/vb-none";
	char path[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, make_files(self->dir, 100));
	settle();
	ASSERT_EQ(0, stat(self->dir, &st));
	ASSERT_EQ(100, count_names(self->dir));
	BEGIN();
	ASSERT_EQ(100, count_names(self->dir));
	END();
	log_delta(_metadata, "listing 100 names again", &self->a, &self->b);
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_READDIR));

	/* The same directory through the cache=none mount. */
	snprintf(path, sizeof(path), "%s/rtt-%d", none, getpid());
	if (stat(path, &st))
		return;		/* not the same export */
	ASSERT_EQ(100, count_names(path));
	BEGIN();
	ASSERT_EQ(100, count_names(path));
	END();
	log_delta(_metadata, "listing again with cache=none", &self->a,
		  &self->b);
	/* Names only: cache=none looks each name up when it is used. */
	EXPECT_EQ(0, delta(&self->a, &self->b, VBRIDGE_OP_FS_READDIR));
	EXPECT_LE(1, delta(&self->a, &self->b, VBRIDGE_OP_FS_READDIR_NAMES));
}

/* stat() every name of make_files(); 0 or -1. */
static int stat_files(const char *dir, int n)
{
	char path[PATH_MAX];
	struct stat st;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%03d", dir, i);
		if (stat(path, &st))
			return -1;
	}
	return 0;
}

/*
 * Adaptive readdirplus: a listing of names cached here already asks the
 * device for the names alone after one READDIR (no lookup per name on
 * the host), and once those names are gone from the dentry cache a
 * listing looks them up again, so that a stat of each after it needs no
 * LOOKUP.
 */
TEST_F(rtt, readdir_adaptive)
{
	struct counts *a = &self->a, *b = &self->b;
	char path[PATH_MAX];
	int fd;

	ASSERT_EQ(0, make_files(self->dir, 1000));
	settle();
	ASSERT_EQ(0, stat_files(self->dir, 1000));
	BEGIN();
	ASSERT_EQ(1000, count_names(self->dir));
	END();
	log_delta(_metadata, "listing 1000 cached names", a, b);
	EXPECT_EQ(1, delta(a, b, VBRIDGE_OP_FS_READDIR));
	EXPECT_LE(1, delta(a, b, VBRIDGE_OP_FS_READDIR_NAMES));
	EXPECT_EQ(0, delta(a, b, VBRIDGE_OP_FS_LOOKUP));

	/* Changed: listed from the device again, a short READDIR first. */
	snprintf(path, sizeof(path), "%s/new", self->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, stat_files(self->dir, 1000));
	BEGIN();
	ASSERT_EQ(1001, count_names(self->dir));
	END();
	log_delta(_metadata, "listing after a create", a, b);
	EXPECT_EQ(1, delta(a, b, VBRIDGE_OP_FS_READDIR));
	EXPECT_LE(1, delta(a, b, VBRIDGE_OP_FS_READDIR_NAMES));

	/*
	 * Evicted dentries (and the cached listing, which is page cache):
	 * READDIR throughout, and no LOOKUP for the stats.
	 */
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, write(fd, "3\n", 2));
	close(fd);
	BEGIN();
	ASSERT_EQ(1001, count_names(self->dir));
	ASSERT_EQ(0, stat_files(self->dir, 1000));
	END();
	log_delta(_metadata, "cold listing and a stat of each", a, b);
	EXPECT_LE(1, delta(a, b, VBRIDGE_OP_FS_READDIR));
	EXPECT_EQ(0, delta(a, b, VBRIDGE_OP_FS_READDIR_NAMES));
	EXPECT_GE(2, delta(a, b, VBRIDGE_OP_FS_LOOKUP));
}

/*
 * Evicting many inodes gives their lookups back in a few requests
 * (BATCH_FORGET), not one FORGET each.
 */
TEST_F(rtt, forget_batched)
{
	long long sent = -1, prev;
	char path[PATH_MAX];
	struct stat st;
	int i;

	ASSERT_EQ(0, make_files(self->dir, 64));
	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "%s/f%03d", self->dir, i);
		ASSERT_EQ(0, lstat(path, &st));
	}
	BEGIN();
	ASSERT_EQ(0, system("echo 2 > /proc/sys/vm/drop_caches"));
	/* FORGETs go out from a work item: wait until they stop. */
	do {
		prev = sent;
		usleep(200000);
		END();
		sent = delta(&self->a, &self->b, VBRIDGE_OP_FS_FORGET) +
		       delta(&self->a, &self->b, VBRIDGE_OP_FS_BATCH_FORGET);
	} while (sent != prev);
	log_delta(_metadata, "evicting 64+ inodes", &self->a, &self->b);
	EXPECT_LE(1, sent);
	EXPECT_GE(16, sent);
}

TEST_HARNESS_MAIN
