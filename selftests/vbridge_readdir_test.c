// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs readdir and its cache, for every cache mode: run it on a
 * mount of each (VBRIDGE_MNT, default /mnt/vb).
 *
 *  - names made, removed and renamed through the guest show in the next
 *    listing at once, in every mode (the cache is dropped);
 *  - with the host agent (scripts/host-agent.sh): names made and removed
 *    on the host show within what the mode promises (cache=none: at
 *    once; cache=auto: the host's entry timeout, 1 s by default;
 *    cache=always: the host's INVAL events, about 10 ms);
 *  - a directory of many pages of records lists every name once, the
 *    same again from the cache, with the inode numbers and types stat()
 *    gives;
 *  - seekdir() to any telldir() position, before and after the cache
 *    was emptied and filled again, goes on from that entry.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vbridge_mount.h"
#include "vbridge_agent.h"

/* Names in the large directory: long enough for many pages of records. */
#define BIG_NAMES	600
#define BIG_FMT		"entry-with-a-rather-long-name-to-fill-pages-%04d"

static bool mode_is(const char *mode)
{
	char opt[32];

	snprintf(opt, sizeof(opt), "cache=%s", mode);
	return strstr(mnt_opts(), opt);
}

/* Whether @dir lists @name, and how many names it lists (in *@count). */
static bool dir_has(const char *dir, const char *name, int *count)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		if (!strcmp(de->d_name, name))
			found = true;
	}
	closedir(d);
	if (count)
		*count = n;
	return found;
}

static void touch(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
}

static void rm_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			rm_tree(path);
		else
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

FIXTURE(rd) {
	char dir[256];
};

FIXTURE_SETUP(rd)
{
	snprintf(self->dir, sizeof(self->dir), "%s/readdir-%d", mnt(),
		 getpid());
	rm_tree(self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0755));
}

FIXTURE_TEARDOWN(rd)
{
	rm_tree(self->dir);
}

/* What the guest does to a directory shows in its next listing. */
TEST_F(rd, local_changes)
{
	char name[64], a[PATH_MAX], b[PATH_MAX], sub[512];
	int i, n;

	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		touch(self->dir, name);
	}
	snprintf(sub, sizeof(sub), "%s/other", self->dir);
	ASSERT_EQ(0, mkdir(sub, 0755));
	/* Twice: the second listing is the cached one, where there is one. */
	EXPECT_TRUE(dir_has(self->dir, "f07", &n));
	EXPECT_EQ(21, n);
	EXPECT_TRUE(dir_has(self->dir, "f07", &n));
	EXPECT_EQ(21, n);
	EXPECT_FALSE(dir_has(sub, "f01", &n));

	touch(self->dir, "new");
	EXPECT_TRUE(dir_has(self->dir, "new", &n));
	EXPECT_EQ(22, n);

	snprintf(a, sizeof(a), "%s/f03", self->dir);
	ASSERT_EQ(0, unlink(a));
	EXPECT_FALSE(dir_has(self->dir, "f03", &n));
	EXPECT_EQ(21, n);

	snprintf(a, sizeof(a), "%s/f04", self->dir);
	snprintf(b, sizeof(b), "%s/g04", self->dir);
	ASSERT_EQ(0, rename(a, b));
	EXPECT_FALSE(dir_has(self->dir, "f04", NULL));
	EXPECT_TRUE(dir_has(self->dir, "g04", &n));
	EXPECT_EQ(21, n);

	/* To another directory, both listed (cached) before. */
	snprintf(a, sizeof(a), "%s/f05", self->dir);
	snprintf(b, sizeof(b), "%s/f05", sub);
	ASSERT_EQ(0, rename(a, b));
	EXPECT_FALSE(dir_has(self->dir, "f05", &n));
	EXPECT_EQ(20, n);
	EXPECT_TRUE(dir_has(sub, "f05", &n));
	EXPECT_EQ(1, n);

	snprintf(a, sizeof(a), "%s/d", self->dir);
	ASSERT_EQ(0, mkdir(a, 0755));
	EXPECT_TRUE(dir_has(self->dir, "d", NULL));
	ASSERT_EQ(0, rmdir(a));
	EXPECT_FALSE(dir_has(self->dir, "d", &n));
	EXPECT_EQ(20, n);

	snprintf(a, sizeof(a), "%s/ln", self->dir);
	ASSERT_EQ(0, symlink("f00", a));
	EXPECT_TRUE(dir_has(self->dir, "ln", NULL));
	snprintf(a, sizeof(a), "%s/f00", self->dir);
	snprintf(b, sizeof(b), "%s/hard", self->dir);
	ASSERT_EQ(0, link(a, b));
	EXPECT_TRUE(dir_has(self->dir, "hard", &n));
	EXPECT_EQ(22, n);
	snprintf(a, sizeof(a), "%s/fifo", self->dir);
	ASSERT_EQ(0, mknod(a, S_IFIFO | 0644, 0));
	EXPECT_TRUE(dir_has(self->dir, "fifo", &n));
	EXPECT_EQ(23, n);
}

/*
 * Poll until @dir lists @name (@want) or not, at most @limit_ms; the time
 * it took, or -1.
 */
static double wait_listing(const char *dir, const char *name, bool want,
			   double limit_ms)
{
	double t0 = now_ms();

	for (;;) {
		if (dir_has(dir, name, NULL) == want)
			return now_ms() - t0;
		if (now_ms() - t0 > limit_ms)
			return -1;
		usleep(5000);
	}
}

/*
 * What the host does to a directory the guest listed (and cached) shows
 * in the guest within what the mode promises.
 */
TEST_F(rd, host_changes)
{
	char cmd[PATH_MAX], rel[64];
	double limit, t;
	int i;

	if (!agent_present(mnt()))
		SKIP(return, "needs the host agent");
	/*
	 * cache=none: at once.  cache=auto: the entry timeout (1 s by
	 * default), with room for a loaded machine.  cache=always: the
	 * INVAL event (its timeout is an hour).
	 */
	limit = mode_is("none") ? 0 : 3000;
	snprintf(rel, sizeof(rel), "readdir-%d", getpid());
	for (i = 0; i < 10; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		touch(self->dir, name);
	}
	for (i = 0; i < 3; i++) {
		dir_has(self->dir, "f1", NULL);
		usleep(100000);
	}

	snprintf(cmd, sizeof(cmd), "write %s/from-host x\n", rel);
	ASSERT_EQ(0, agent_call(mnt(), cmd, 60000, NULL, NULL, 0));
	t = wait_listing(self->dir, "from-host", true, limit);
	TH_LOG("host's new name listed after %.1f ms", t);
	EXPECT_LE(0, t);

	/* Listed (and cached) again, then removed on the host. */
	dir_has(self->dir, "f1", NULL);
	snprintf(cmd, sizeof(cmd), "remove %s/f1\n", rel);
	ASSERT_EQ(0, agent_call(mnt(), cmd, 60000, NULL, NULL, 0));
	t = wait_listing(self->dir, "f1", false, limit);
	TH_LOG("host's removal listed after %.1f ms", t);
	EXPECT_LE(0, t);
}

struct big_entry {
	char name[256];
	long pos;		/* telldir() before it was read */
	ino_t ino;
	unsigned char type;
};

/* List @d from the start into @e (at most BIG_NAMES + 8); the count. */
static int list_big(DIR *d, struct big_entry *e)
{
	struct dirent *de;
	int n = 0;

	rewinddir(d);
	for (;;) {
		long pos = telldir(d);

		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == BIG_NAMES + 8)
			return -1;
		snprintf(e[n].name, sizeof(e[n].name), "%s", de->d_name);
		e[n].pos = pos;
		e[n].ino = de->d_ino;
		e[n].type = de->d_type;
		n++;
	}
	return n;
}

static void make_big(const char *dir)
{
	char name[64];
	int i;

	for (i = 0; i < BIG_NAMES; i++) {
		snprintf(name, sizeof(name), BIG_FMT, i);
		touch(dir, name);
	}
}

/*
 * Many pages of records: every name once, the same order, positions and
 * inode numbers again when listed from the cache, and what stat() says.
 */
TEST_F(rd, large_directory)
{
	struct big_entry *one, *two;
	char name[64], path[PATH_MAX];
	struct stat st;
	bool *seen;
	int i, k, n;
	DIR *d;

	make_big(self->dir);
	one = calloc(BIG_NAMES + 8, sizeof(*one));
	two = calloc(BIG_NAMES + 8, sizeof(*two));
	seen = calloc(BIG_NAMES, sizeof(*seen));
	ASSERT_TRUE(one && two && seen);
	d = opendir(self->dir);
	ASSERT_NE(NULL, d);
	n = list_big(d, one);
	ASSERT_EQ(BIG_NAMES, n);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(1, sscanf(one[i].name, BIG_FMT, &k));
		ASSERT_TRUE(k >= 0 && k < BIG_NAMES);
		EXPECT_FALSE(seen[k]);
		seen[k] = true;
		EXPECT_EQ(DT_REG, one[i].type);
		if (i % 37)
			continue;
		snprintf(path, sizeof(path), "%s/%s", self->dir, one[i].name);
		ASSERT_EQ(0, lstat(path, &st));
		EXPECT_EQ(st.st_ino, one[i].ino);
	}
	/* Again, on this file and on a new one. */
	EXPECT_EQ(n, list_big(d, two));
	EXPECT_EQ(0, memcmp(one, two, n * sizeof(*one)));
	closedir(d);
	d = opendir(self->dir);
	ASSERT_NE(NULL, d);
	memset(two, 0, (BIG_NAMES + 8) * sizeof(*two));
	EXPECT_EQ(n, list_big(d, two));
	EXPECT_EQ(0, memcmp(one, two, n * sizeof(*one)));
	closedir(d);

	/* One more name: the next listing has it too. */
	snprintf(name, sizeof(name), BIG_FMT, BIG_NAMES);
	touch(self->dir, name);
	d = opendir(self->dir);
	ASSERT_NE(NULL, d);
	EXPECT_EQ(n + 1, list_big(d, two));
	closedir(d);
	free(one);
	free(two);
	free(seen);
}

/* From seekdir(@pos), the names are @e[@from...], in order, to the end. */
static bool goes_on_from(DIR *d, const struct big_entry *e, int n, int from,
			 long pos)
{
	struct dirent *de;
	int i = from;

	seekdir(d, pos);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* A name made since may come anywhere: skip it. */
		if (strncmp(de->d_name, "entry-", 6))
			continue;
		if (i >= n || strcmp(de->d_name, e[i].name))
			return false;
		i++;
	}
	return i == n;
}

/*
 * seekdir() to a telldir() position: from the cache, on a file opened
 * before the cache was emptied and filled again, and after.
 */
TEST_F(rd, seekdir_across_refill)
{
	static const int at[] = { 0, 1, 63, 64, 65, 300, BIG_NAMES - 1 };
	struct big_entry *e;
	DIR *d, *d2;
	unsigned int j;
	int n;

	make_big(self->dir);
	e = calloc(BIG_NAMES + 8, sizeof(*e));
	ASSERT_NE(NULL, e);
	d = opendir(self->dir);
	ASSERT_NE(NULL, d);
	n = list_big(d, e);
	ASSERT_EQ(BIG_NAMES, n);

	for (j = 0; j < sizeof(at) / sizeof(at[0]); j++)
		EXPECT_TRUE(goes_on_from(d, e, n, at[j], e[at[j]].pos))
			TH_LOG("cached: seekdir to entry %d", at[j]);

	/* Part way through, the cache is emptied (a new name)... */
	seekdir(d, e[100].pos);
	ASSERT_NE(NULL, readdir(d));
	touch(self->dir, "zz-made-meanwhile");
	/* ...and filled again by another reader. */
	d2 = opendir(self->dir);
	ASSERT_NE(NULL, d2);
	while (readdir(d2))
		;
	closedir(d2);
	for (j = 0; j < sizeof(at) / sizeof(at[0]); j++)
		EXPECT_TRUE(goes_on_from(d, e, n, at[j], e[at[j]].pos))
			TH_LOG("refilled: seekdir to entry %d", at[j]);
	closedir(d);
	free(e);
}

TEST_HARNESS_MAIN
