// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs tests: run inside a guest with the "share" export mounted at
 * $VBRIDGE_MNT (default /mnt/vb).  Optional mounts: the read-only export
 * at /mnt/vb-ro and a second instance of "share" with cache=always at
 * /mnt/vb-always.  The coherence and host lock tests need the host agent
 * (scripts/host-agent.sh), which the host side announces by creating
 * $VBRIDGE_MNT/.agent.  The st_dev test needs a host filesystem mounted at
 * submnt in the export (scripts/test.sh mounts a tmpfs there).  With
 * $VBRIDGE_FUSE=1 the same tests run on a ubridge (FUSE) mount.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/aio_abi.h>
#include <linux/falloc.h>

#include "kselftest_harness.h"
#include "vbridge_mount.h"
#include "vbridge_agent.h"

/* Paths here are short; truncation would only make a test fail. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define VBRIDGE_FS_MAGIC	0x76627266
#define FUSE_SUPER_MAGIC	0x65735546
#define RO_MNT			"/mnt/vb-ro"
#define ALWAYS_MNT		"/mnt/vb-always"
#define MiB			(1024 * 1024)

/* With $VBRIDGE_FUSE set the mount may be ubridge's, a FUSE filesystem. */
static bool is_vbridgefs(const char *path)
{
	const char *fuse = getenv("VBRIDGE_FUSE");
	struct statfs sf;

	if (statfs(path, &sf))
		return false;
	return sf.f_type == VBRIDGE_FS_MAGIC ||
	       (fuse && *fuse && sf.f_type == FUSE_SUPER_MAGIC);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)((i * 131 + seed * 7919 + (i >> 12)) & 0xff);
}

static ssize_t read_file(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < len &&
	       (n = read(fd, (char *)buf + total, len - total)) > 0)
		total += n;
	close(fd);
	return total;
}

static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t total = 0;
	ssize_t n;

	while (total < len) {
		n = pread(fd, (char *)buf + total, len - total, off + total);
		if (n < 0)
			return -1;
		if (!n)
			break;
		total += n;
	}
	return total;
}

FIXTURE(vbfs) {
	char dir[PATH_MAX];
};

FIXTURE_SETUP(vbfs)
{
	if (!is_vbridgefs(mnt()))
		SKIP(return, "%s is not a vbridgefs mount", mnt());
	snprintf(self->dir, sizeof(self->dir), "%s/t-%d-%s", mnt(), getpid(),
		 _metadata->name);
	rm_rf(self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0755));
}

FIXTURE_TEARDOWN(vbfs)
{
	if (self->dir[0])
		rm_rf(self->dir);
}

static char *pathf(FIXTURE_DATA(vbfs) *self, const char *name)
{
	static __thread char buf[4][PATH_MAX];
	static __thread int i;
	char *p = buf[i++ & 3];

	snprintf(p, PATH_MAX, "%s/%s", self->dir, name);
	return p;
}

TEST_F(vbfs, create_write_read_unlink)
{
	char *f = pathf(self, "a");
	char buf[64] = {};
	struct stat st;

	ASSERT_EQ(0, write_file(f, "hello vbridge", 13));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(13, st.st_size);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0644, st.st_mode & 07777);
	ASSERT_EQ(13, read_file(f, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "hello vbridge", 13));
	ASSERT_EQ(0, unlink(f));
	EXPECT_EQ(-1, stat(f, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, open(f, O_RDONLY));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(vbfs, excl_and_tmpfile)
{
	char *f = pathf(self, "x");
	char buf[8];
	struct stat st;
	int fd;

	fd = open(f, O_CREAT | O_EXCL | O_RDWR, 0600);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-1, open(f, O_CREAT | O_EXCL | O_RDWR, 0600));
	EXPECT_EQ(EEXIST, errno);

	fd = open(self->dir, O_TMPFILE | O_RDWR, 0600);
	/* libfuse before 3.15 has no tmpfile operation for ubridge. */
	if (fd < 0 && errno == EOPNOTSUPP && getenv("VBRIDGE_FUSE"))
		SKIP(return, "O_TMPFILE: not supported by this FUSE daemon");
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, pwrite(fd, "tmpfi", 5, 0));
	ASSERT_EQ(5, pread(fd, buf, 5, 0));
	EXPECT_EQ(0, memcmp(buf, "tmpfi", 5));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_nlink);
	EXPECT_EQ(5, st.st_size);
	close(fd);
}

TEST_F(vbfs, dir_errors)
{
	char name[300];
	int fd;

	ASSERT_EQ(0, mkdir(pathf(self, "d"), 0755));
	ASSERT_EQ(0, write_file(pathf(self, "d/f"), "x", 1));
	EXPECT_EQ(-1, rmdir(pathf(self, "d")));
	EXPECT_EQ(ENOTEMPTY, errno);
	EXPECT_EQ(-1, open(pathf(self, "d/f/g"), O_RDONLY));
	EXPECT_EQ(ENOTDIR, errno);
	EXPECT_EQ(-1, mkdir(pathf(self, "d/f/g"), 0755));
	EXPECT_EQ(ENOTDIR, errno);
	EXPECT_EQ(-1, open(pathf(self, "d"), O_WRONLY));
	EXPECT_EQ(EISDIR, errno);
	memset(name, 'n', 256);
	name[256] = 0;
	EXPECT_EQ(-1, open(pathf(self, name), O_CREAT | O_RDWR, 0644));
	EXPECT_EQ(ENAMETOOLONG, errno);
	name[255] = 0;
	fd = open(pathf(self, name), O_CREAT | O_RDWR, 0644);
	EXPECT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-1, rmdir(pathf(self, "nope")));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, mkdir(pathf(self, "d"), 0755));
	EXPECT_EQ(EEXIST, errno);
	ASSERT_EQ(0, unlink(pathf(self, "d/f")));
	EXPECT_EQ(0, rmdir(pathf(self, "d")));
}

TEST_F(vbfs, rename_flags)
{
	char buf[8] = {};

	ASSERT_EQ(0, write_file(pathf(self, "a"), "AAA", 3));
	ASSERT_EQ(0, write_file(pathf(self, "b"), "BBB", 3));
	EXPECT_EQ(-1, renameat2(AT_FDCWD, pathf(self, "a"), AT_FDCWD,
				pathf(self, "b"), RENAME_NOREPLACE));
	EXPECT_EQ(EEXIST, errno);
	ASSERT_EQ(0, renameat2(AT_FDCWD, pathf(self, "a"), AT_FDCWD,
			       pathf(self, "b"), RENAME_EXCHANGE));
	ASSERT_EQ(3, read_file(pathf(self, "a"), buf, 3));
	EXPECT_EQ(0, memcmp(buf, "BBB", 3));
	ASSERT_EQ(3, read_file(pathf(self, "b"), buf, 3));
	EXPECT_EQ(0, memcmp(buf, "AAA", 3));
	ASSERT_EQ(0, renameat2(AT_FDCWD, pathf(self, "a"), AT_FDCWD,
			       pathf(self, "c"), RENAME_NOREPLACE));
	EXPECT_EQ(-1, access(pathf(self, "a"), F_OK));
	ASSERT_EQ(0, rename(pathf(self, "c"), pathf(self, "b")));
	ASSERT_EQ(3, read_file(pathf(self, "b"), buf, 3));
	EXPECT_EQ(0, memcmp(buf, "BBB", 3));
	ASSERT_EQ(0, mkdir(pathf(self, "d"), 0755));
	ASSERT_EQ(0, rename(pathf(self, "b"), pathf(self, "d/b")));
	EXPECT_EQ(0, access(pathf(self, "d/b"), F_OK));
}

TEST_F(vbfs, symlink_and_hardlink)
{
	char buf[PATH_MAX] = {};
	struct stat a, b;

	ASSERT_EQ(0, write_file(pathf(self, "t"), "target", 6));
	ASSERT_EQ(0, symlink("t", pathf(self, "l")));
	ASSERT_EQ(1, readlink(pathf(self, "l"), buf, sizeof(buf)));
	EXPECT_EQ('t', buf[0]);
	ASSERT_EQ(0, lstat(pathf(self, "l"), &a));
	EXPECT_TRUE(S_ISLNK(a.st_mode));
	ASSERT_EQ(6, read_file(pathf(self, "l"), buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "target", 6));

	ASSERT_EQ(0, link(pathf(self, "t"), pathf(self, "h")));
	ASSERT_EQ(0, stat(pathf(self, "t"), &a));
	ASSERT_EQ(0, stat(pathf(self, "h"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	EXPECT_EQ(2, a.st_nlink);
	ASSERT_EQ(0, unlink(pathf(self, "t")));
	ASSERT_EQ(0, stat(pathf(self, "h"), &b));
	EXPECT_EQ(1, b.st_nlink);
	EXPECT_EQ(-1, stat(pathf(self, "l"), &b));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(vbfs, setattr)
{
	struct timespec ts[2];
	struct stat st, st2;
	char *f = pathf(self, "f");

	ASSERT_EQ(0, write_file(f, "0123456789", 10));
	ASSERT_EQ(0, chmod(f, 0600));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, chown(f, 1000, 1001));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(1001, st.st_gid);
	ASSERT_EQ(0, truncate(f, 4));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(4, st.st_size);
	ASSERT_EQ(0, truncate(f, 3 * MiB));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(3 * MiB, st.st_size);

	ts[0].tv_sec = 1000000;
	ts[0].tv_nsec = 5;
	ts[1].tv_sec = 2000000;
	ts[1].tv_nsec = 7;
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, ts, 0));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(1000000, st.st_atim.tv_sec);
	EXPECT_EQ(2000000, st.st_mtim.tv_sec);
	EXPECT_EQ(7, st.st_mtim.tv_nsec);
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_OMIT;
	ASSERT_EQ(0, utimensat(AT_FDCWD, f, ts, 0));
	ASSERT_EQ(0, stat(f, &st2));
	EXPECT_LT(1000000, st2.st_atim.tv_sec);
	EXPECT_EQ(2000000, st2.st_mtim.tv_sec);
	EXPECT_EQ(7, st2.st_mtim.tv_nsec);
}

/* Long name @i of readdir_2000: 250 bytes, "e%05d-" then a pattern. */
static void long_name(char *name, int i)
{
	int k, len = snprintf(name, 8, "e%05d-", i);

	for (k = len; k < 250; k++)
		name[k] = 'a' + (i + k) % 26;
	name[250] = '\0';
}

/*
 * 2000 names of 250 bytes: about 30 full 64 KiB READDIR replies, whose
 * buffers are vmalloc()ed page by page (no high-order allocation).
 */
TEST_F_TIMEOUT(vbfs, readdir_2000, 600)
{
	const int n = 2000;
	char *seen = calloc(n, 1);
	char names[8][256], want[256];
	struct dirent *de;
	long pos = -1;
	int i, count = 0, k;
	DIR *d;

	ASSERT_NE(NULL, seen);
	for (i = 0; i < n; i++) {
		int fd;

		long_name(want, i);
		fd = open(pathf(self, want), O_CREAT | O_WRONLY, 0644);
		ASSERT_LE(0, fd);
		close(fd);
	}
	d = opendir(self->dir);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ASSERT_EQ(1, sscanf(de->d_name, "e%d", &i));
		ASSERT_LE(0, i);
		ASSERT_GT(n, i);
		long_name(want, i);
		EXPECT_STREQ(want, de->d_name);
		EXPECT_EQ(0, seen[i]);
		seen[i] = 1;
		if (++count == n / 2)
			pos = telldir(d);
	}
	EXPECT_EQ(n, count);
	ASSERT_NE(-1, pos);
	/* seekdir() back: the same names again, twice. */
	seekdir(d, pos);
	for (k = 0; k < 8 && (de = readdir(d)); k++)
		snprintf(names[k], sizeof(names[k]), "%s", de->d_name);
	ASSERT_EQ(8, k);
	seekdir(d, pos);
	for (k = 0; k < 8 && (de = readdir(d)); k++)
		EXPECT_STREQ(names[k], de->d_name);
	closedir(d);
	free(seen);
}

TEST_F_TIMEOUT(vbfs, large_io, 300)
{
	const size_t size = 8 * MiB;
	unsigned char *buf = malloc(size), *rd = malloc(size);
	char *f = pathf(self, "big");
	unsigned int seed = 1234;
	int fd, i;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, rd);
	fill(buf, size, 1);
	ASSERT_EQ(0, write_file(f, buf, size));
	fd = open(f, O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < 64; i++) {
		size_t off = rand_r(&seed) % size;
		size_t len = rand_r(&seed) % (300 * 1024) + 1;

		if (off + len > size)
			len = size - off;
		fill(buf + off, len, i + 7);
		ASSERT_EQ((ssize_t)len, pwrite(fd, buf + off, len, off));
	}
	close(fd);
	/* Read back through a fresh open and after dropping the cache. */
	ASSERT_EQ((ssize_t)size, read_file(f, rd, size));
	EXPECT_EQ(0, memcmp(buf, rd, size));
	sync();
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "3", 1));
	memset(rd, 0, size);
	ASSERT_EQ((ssize_t)size, read_file(f, rd, size));
	EXPECT_EQ(0, memcmp(buf, rd, size));
	free(buf);
	free(rd);
}

TEST_F(vbfs, o_direct)
{
	const size_t size = 2 * MiB;
	unsigned char *buf, *rd;
	int fd;

	ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, size));
	ASSERT_EQ(0, posix_memalign((void **)&rd, 4096, size));
	fill(buf, size, 3);
	fd = open(pathf(self, "d"), O_CREAT | O_RDWR | O_DIRECT, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)size, pwrite(fd, buf, size, 0));
	ASSERT_EQ((ssize_t)size, pread_full(fd, rd, size, 0));
	EXPECT_EQ(0, memcmp(buf, rd, size));
	/* Unaligned works too: no alignment restriction on this device. */
	ASSERT_EQ(100, pwrite(fd, buf + 1, 100, 4097));
	close(fd);
	memcpy(buf + 4097, buf + 1, 100);
	ASSERT_EQ((ssize_t)size, read_file(pathf(self, "d"), rd, size));
	EXPECT_EQ(0, memcmp(buf, rd, size));
	free(buf);
	free(rd);
}

/* One asynchronous O_DIRECT I/O (linux/aio_abi.h): its result. */
static void aio_prep(struct iocb *cb, int fd, bool write, void *buf,
		     size_t len, off_t off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb->aio_buf = (uintptr_t)buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	cb->aio_data = (uintptr_t)cb;
}

/* Submit @nr I/Os at once and wait for them all; their results in @res. */
static int aio_run(aio_context_t ctx, struct iocb *cbs, int nr, long long *res)
{
	struct iocb *list[32];
	struct io_event ev[32];
	int i, got = 0, n;

	if (nr > 32)
		return -1;
	for (i = 0; i < nr; i++)
		list[i] = &cbs[i];
	if (syscall(SYS_io_submit, ctx, nr, list) != nr)
		return -1;
	while (got < nr) {
		n = syscall(SYS_io_getevents, ctx, 1, nr - got, ev, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (i = 0; i < n; i++)
			res[(struct iocb *)(uintptr_t)ev[i].data - cbs] = ev[i].res;
		got += n;
	}
	return 0;
}

/*
 * Asynchronous direct I/O (AIO; io_uring takes the same path): many I/Os
 * in flight at once, I/Os larger than one request, extending writes, a
 * short read at the end of the file, a read past it.
 */
TEST_F(vbfs, aio_direct)
{
	const size_t size = 3 * MiB + 10000, blk = 4096;
	unsigned char *buf, *rd;
	aio_context_t ctx = 0;
	struct iocb cbs[16];
	long long res[16];
	int fd, i, pass, refused = 0;
	struct statfs sf;
	struct stat st;

	ASSERT_EQ(0, syscall(SYS_io_setup, 32, &ctx));
	ASSERT_EQ(0, posix_memalign((void **)&buf, blk, size + blk));
	ASSERT_EQ(0, posix_memalign((void **)&rd, blk, size + 64 * 1024));
	fill(buf, size, 11);
	fd = open(pathf(self, "aio"), O_CREAT | O_RDWR | O_DIRECT, 0644);
	ASSERT_LE(0, fd);
	/* One write of several requests that extends the file. */
	aio_prep(&cbs[0], fd, true, buf, size, 0);
	ASSERT_EQ(0, aio_run(ctx, cbs, 1, res));
	ASSERT_EQ((long long)size, res[0]);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)size, st.st_size);
	/* 16 writes inside the file at once, out of order (48 blocks apart). */
	for (i = 0; i < 16; i++) {
		off_t off = (off_t)((i * 7) % 16) * 48 * blk;

		fill(buf + off, blk, 100 + i);
		aio_prep(&cbs[i], fd, true, buf + off, blk, off);
	}
	ASSERT_EQ(0, aio_run(ctx, cbs, 16, res));
	for (i = 0; i < 16; i++)
		EXPECT_EQ((long long)blk, res[i]);
	/* 16 reads at once, each checked. */
	for (i = 0; i < 16; i++)
		aio_prep(&cbs[i], fd, false, rd + i * blk, blk,
			 (off_t)i * 48 * blk);
	ASSERT_EQ(0, aio_run(ctx, cbs, 16, res));
	for (i = 0; i < 16; i++) {
		EXPECT_EQ((long long)blk, res[i]);
		EXPECT_EQ(0, memcmp(rd + i * blk, buf + i * 48 * blk, blk));
	}
	/* The whole file in one read of several requests, asking for more. */
	memset(rd, 0, size);
	aio_prep(&cbs[0], fd, false, rd, size + 64 * 1024 - 10000, 0);
	/* A read that ends past the end of the file is short... */
	aio_prep(&cbs[1], fd, false, rd + size, 64 * 1024 - 10000 + blk,
		 size - 10000 + blk);
	/* ... and one that starts past it reads nothing. */
	aio_prep(&cbs[2], fd, false, buf + size, blk, size + blk);
	ASSERT_EQ(0, aio_run(ctx, cbs, 3, res));
	EXPECT_EQ((long long)size, res[0]);
	EXPECT_EQ(0, memcmp(rd, buf, size));
	EXPECT_EQ(10000 - (long long)blk, res[1]);
	EXPECT_EQ(0, res[2]);
	/*
	 * RWF_NOWAIT, as io_uring's first try: a one-request I/O inside the
	 * file goes on the ring at once or is refused with EAGAIN (then sent
	 * again without it, as io_uring does), and does what a plain one
	 * does: writes, then reads of what they wrote.  FUSE (ubridge)
	 * refuses RWF_NOWAIT at submission.
	 */
	for (pass = 0; !statfs(mnt(), &sf) && sf.f_type == VBRIDGE_FS_MAGIC &&
	     pass < 2; pass++) {
		for (i = 0; i < 8; i++) {
			off_t off = (off_t)(i * 32 + 5) * blk;

			if (!pass)
				fill(buf + off, blk, 200 + i);
			aio_prep(&cbs[i], fd, !pass,
				 pass ? rd + i * blk : buf + off, blk, off);
			cbs[i].aio_rw_flags = RWF_NOWAIT;
		}
		ASSERT_EQ(0, aio_run(ctx, cbs, 8, res));
		for (i = 0; i < 8; i++) {
			if (res[i] == -EAGAIN) {
				refused++;
				cbs[i].aio_rw_flags = 0;
				ASSERT_EQ(0, aio_run(ctx, &cbs[i], 1, &res[i]));
			}
			EXPECT_EQ((long long)blk, res[i]);
		}
	}
	for (i = 0; pass && i < 8; i++)
		EXPECT_EQ(0, memcmp(rd + i * blk, buf + (i * 32 + 5) * blk, blk));
	TH_LOG("RWF_NOWAIT: %d of %d refused", refused, pass * 8);
	close(fd);
	/* What the host has, through the page cache of a fresh open. */
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "3", 1));
	memset(rd, 0, size);
	ASSERT_EQ((ssize_t)size, read_file(pathf(self, "aio"), rd, size + 1));
	EXPECT_EQ(0, memcmp(rd, buf, size));
	syscall(SYS_io_destroy, ctx);
	free(buf);
	free(rd);
}

TEST_F(vbfs, mmap_shared)
{
	const size_t size = 1 * MiB + 123;
	unsigned char *map, *rd = malloc(size), *ref = malloc(size);
	char *f = pathf(self, "m");
	int fd;

	ASSERT_NE(NULL, rd);
	fill(ref, size, 9);
	fd = open(f, O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, size));
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memcpy(map, ref, size);
	ASSERT_EQ((ssize_t)size, pread_full(fd, rd, size, 0));
	EXPECT_EQ(0, memcmp(ref, rd, size));
	ASSERT_EQ(0, msync(map, size, MS_SYNC));
	ASSERT_EQ(0, munmap(map, size));
	close(fd);
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "3", 1));
	memset(rd, 0, size);
	ASSERT_EQ((ssize_t)size, read_file(f, rd, size));
	EXPECT_EQ(0, memcmp(ref, rd, size));
	free(rd);
	free(ref);
}

TEST_F(vbfs, sync_and_statfs)
{
	struct statfs sf;
	int fd;

	fd = open(pathf(self, "s"), O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, write(fd, "sync", 4));
	EXPECT_EQ(0, fsync(fd));
	EXPECT_EQ(0, fdatasync(fd));
	EXPECT_EQ(0, syncfs(fd));
	close(fd);
	fd = open(self->dir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fsync(fd));
	close(fd);
	ASSERT_EQ(0, statfs(self->dir, &sf));
	EXPECT_TRUE(is_vbridgefs(self->dir));
	EXPECT_LT(0, sf.f_blocks);
	EXPECT_LT(0, sf.f_bsize);
	EXPECT_GE(sf.f_blocks, sf.f_bfree);
	EXPECT_LT(0, sf.f_namelen);
}

TEST_F(vbfs, xattr_user)
{
	char *f = pathf(self, "x");
	char buf[256], small[2];
	ssize_t n;

	ASSERT_EQ(0, write_file(f, "x", 1));
	if (setxattr(f, "user.vb", "value1", 6, 0) && errno == EOPNOTSUPP)
		SKIP(return, "the host filesystem has no user xattrs");
	ASSERT_EQ(0, setxattr(f, "user.vb2", "v2", 2, XATTR_CREATE));
	EXPECT_EQ(-1, setxattr(f, "user.vb2", "v2", 2, XATTR_CREATE));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(6, getxattr(f, "user.vb", NULL, 0));
	ASSERT_EQ(6, getxattr(f, "user.vb", buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "value1", 6));
	EXPECT_EQ(-1, getxattr(f, "user.vb", small, sizeof(small)));
	EXPECT_EQ(ERANGE, errno);
	EXPECT_EQ(-1, getxattr(f, "user.none", buf, sizeof(buf)));
	EXPECT_EQ(ENODATA, errno);
	n = listxattr(f, buf, sizeof(buf));
	ASSERT_LT(0, n);
	EXPECT_EQ(n, listxattr(f, NULL, 0));
	EXPECT_NE(NULL, memmem(buf, n, "user.vb\0", 8));
	EXPECT_NE(NULL, memmem(buf, n, "user.vb2\0", 9));
	EXPECT_EQ(-1, listxattr(f, small, sizeof(small)));
	EXPECT_EQ(ERANGE, errno);
	ASSERT_EQ(0, removexattr(f, "user.vb"));
	EXPECT_EQ(-1, getxattr(f, "user.vb", buf, sizeof(buf)));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_EQ(-1, removexattr(f, "user.vb"));
	EXPECT_EQ(ENODATA, errno);
}

/*
 * Values up to VBRIDGE_FS_XATTR_SIZE_MAX (64 KiB) travel in vmalloc()ed
 * request and reply buffers.  The host's filesystem decides how large a
 * value it stores (ext4 without ea_inode: under 4 KiB): the largest it
 * takes must come back byte for byte through a 64 KiB buffer, and a
 * 64 KiB value must get the host's own answer, not a transport error.
 */
TEST_F(vbfs, xattr_large)
{
	const size_t max = 65536;
	char *f = pathf(self, "x");
	char *val = malloc(max), *buf = malloc(max);
	size_t lo = 0, hi = max, i;
	ssize_t n;
	int err;

	ASSERT_NE(NULL, val);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < max; i++)
		val[i] = (char)(i * 7 + (i >> 8));
	ASSERT_EQ(0, write_file(f, "x", 1));
	if (setxattr(f, "user.small", "v", 1, 0) && errno == EOPNOTSUPP)
		SKIP(return, "the host filesystem has no user xattrs");
	err = setxattr(f, "user.big", val, max, 0) ? errno : 0;
	TH_LOG("a 64 KiB value: %s", err ? strerror(err) : "stored");
	EXPECT_TRUE(!err || err == ENOSPC || err == E2BIG || err == ERANGE);
	if (!err) {
		lo = max;
	} else {
		/* The largest value the host stores, by bisection. */
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;

			if (!setxattr(f, "user.big", val, mid, 0))
				lo = mid;
			else
				hi = mid;
		}
		ASSERT_LT(0, lo);
		ASSERT_EQ(0, setxattr(f, "user.big", val, lo, 0));
	}
	TH_LOG("largest value stored: %zu bytes", lo);
	memset(buf, 0, max);
	n = getxattr(f, "user.big", buf, max);
	ASSERT_EQ((ssize_t)lo, n);
	EXPECT_EQ(0, memcmp(buf, val, lo));
	EXPECT_EQ((ssize_t)lo, getxattr(f, "user.big", NULL, 0));
	n = listxattr(f, buf, max);
	ASSERT_LT(0, n);
	EXPECT_NE(NULL, memmem(buf, n, "user.big\0", 9));
	free(val);
	free(buf);
}

TEST_F(vbfs, fallocate_seek)
{
	const size_t size = 1 * MiB;
	unsigned char *buf = malloc(size), *rd = malloc(size);
	struct stat st;
	off_t off;
	int fd;

	fill(buf, size, 5);
	fd = open(pathf(self, "f"), O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, 0, 0, 2 * MiB));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(2 * MiB, st.st_size);
	ASSERT_EQ((ssize_t)size, pwrite(fd, buf, size, 0));
	ASSERT_EQ(0, ftruncate(fd, size));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       256 * 1024, 256 * 1024));
	memset(buf + 256 * 1024, 0, 256 * 1024);
	ASSERT_EQ((ssize_t)size, pread_full(fd, rd, size, 0));
	EXPECT_EQ(0, memcmp(buf, rd, size));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)size, st.st_size);
	off = lseek(fd, 0, SEEK_HOLE);
	EXPECT_EQ(256 * 1024, off);
	off = lseek(fd, 256 * 1024, SEEK_DATA);
	EXPECT_EQ(512 * 1024, off);
	EXPECT_EQ(-1, lseek(fd, size + 1, SEEK_DATA));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
	free(buf);
	free(rd);
}

TEST_F(vbfs, copy_file_range)
{
	const size_t size = 3 * MiB + 17;
	unsigned char *buf = malloc(size), *rd = malloc(size);
	loff_t in_off = 0, out_off = 0;
	int in, out;
	ssize_t n;

	fill(buf, size, 11);
	ASSERT_EQ(0, write_file(pathf(self, "src"), buf, size));
	in = open(pathf(self, "src"), O_RDONLY);
	out = open(pathf(self, "dst"), O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, in);
	ASSERT_LE(0, out);
	while ((size_t)in_off < size) {
		n = copy_file_range(in, &in_off, out, &out_off, size - in_off, 0);
		ASSERT_LT(0, n);
	}
	EXPECT_EQ((off_t)size, out_off);
	ASSERT_EQ((ssize_t)size, pread_full(out, rd, size, 0));
	EXPECT_EQ(0, memcmp(buf, rd, size));
	close(in);
	close(out);
	free(buf);
	free(rd);
}

/* Child: try a lock on @path and report errno (0: got it) as exit status. */
static int child_lock(const char *path, int kind)
{
	pid_t pid = fork();
	int status;

	if (!pid) {
		int fd = open(path, O_RDWR), r;
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		if (fd < 0)
			_exit(100);
		if (kind == 0)
			r = fcntl(fd, F_SETLK, &fl);
		else if (kind == 1)
			r = fcntl(fd, F_OFD_SETLK, &fl);
		else
			r = flock(fd, LOCK_EX | LOCK_NB);
		_exit(r ? errno : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Only interrupts: the blocked F_SETLKW must fail with EINTR. */
static void on_lock_alarm(int sig)
{
	(void)sig;
}

TEST_F(vbfs, locks)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char *f = pathf(self, "lk");
	int fd, r, i, status;
	cpu_set_t cpu0, all;
	double t0, dt;
	pid_t pid;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(all), &all));
	ASSERT_EQ(0, write_file(f, "locks", 5));
	fd = open(f, O_RDWR);
	ASSERT_LE(0, fd);

	/* POSIX */
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	r = child_lock(f, 0);
	EXPECT_TRUE(r == EAGAIN || r == EACCES);
	fl.l_type = F_UNLCK;
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	EXPECT_EQ(0, child_lock(f, 0));

	/* A lock is dropped by any close of the file by its owner. */
	fl.l_type = F_WRLCK;
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	close(open(f, O_RDONLY));
	EXPECT_EQ(0, child_lock(f, 0));

	/*
	 * SETLKW waits while the lock is held and gets it once freed.  The
	 * waiter must not hold up the device meanwhile: on one CPU (so one
	 * request queue) with it, five of our requests and the unlock go
	 * through at once.
	 */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu0), &cpu0));
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	pid = fork();
	if (!pid) {
		int cfd = open(f, O_RDWR);
		struct flock cl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		struct flock gl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		if (fcntl(cfd, F_GETLK, &gl) || gl.l_type != F_WRLCK)
			_exit(1);
		_exit(fcntl(cfd, F_SETLKW, &cl) ? 2 : 0);
	}
	usleep(300 * 1000);
	t0 = now_ms();
	for (i = 0; i < 5; i++)
		EXPECT_EQ(-1, getxattr(f, "user.vbridge-none", NULL, 0));
	fl.l_type = F_UNLCK;
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	dt = now_ms() - t0;
	EXPECT_GT(1000, dt) TH_LOG("5 requests and the unlock took %.0f ms", dt);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sched_setaffinity(0, sizeof(all), &all);

	/* Any signal ends the wait: EINTR without SA_RESTART. */
	fl.l_type = F_WRLCK;
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	pid = fork();
	if (!pid) {
		struct sigaction sa = { .sa_handler = on_lock_alarm };
		int cfd = open(f, O_RDWR);
		struct flock cl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		sigaction(SIGALRM, &sa, NULL);
		alarm(1);
		_exit(fcntl(cfd, F_SETLKW, &cl) == -1 && errno == EINTR ? 0 : 3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fl.l_type = F_UNLCK;
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));

	/* OFD */
	fl.l_type = F_WRLCK;
	fl.l_pid = 0;
	ASSERT_EQ(0, fcntl(fd, F_OFD_SETLK, &fl));
	r = child_lock(f, 1);
	EXPECT_TRUE(r == EAGAIN || r == EACCES);
	r = child_lock(f, 0);
	EXPECT_TRUE(r == EAGAIN || r == EACCES);
	fl.l_type = F_UNLCK;
	ASSERT_EQ(0, fcntl(fd, F_OFD_SETLK, &fl));
	EXPECT_EQ(0, child_lock(f, 1));

	/* BSD */
	ASSERT_EQ(0, flock(fd, LOCK_EX));
	EXPECT_EQ(EWOULDBLOCK, child_lock(f, 2));
	ASSERT_EQ(0, flock(fd, LOCK_UN));
	EXPECT_EQ(0, child_lock(f, 2));
	ASSERT_EQ(0, flock(fd, LOCK_SH));
	close(fd);
	/* Closing the last descriptor drops it. */
	EXPECT_EQ(0, child_lock(f, 2));
}

TEST(read_only_export)
{
	struct stat st;
	int fd;

	if (!is_vbridgefs(RO_MNT))
		SKIP(return, RO_MNT " is not a vbridgefs mount");
	EXPECT_EQ(-1, open(RO_MNT "/vb-new", O_CREAT | O_WRONLY, 0644));
	EXPECT_EQ(EROFS, errno);
	EXPECT_EQ(-1, mkdir(RO_MNT "/vb-newdir", 0755));
	EXPECT_EQ(EROFS, errno);
	ASSERT_EQ(0, stat(RO_MNT, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	fd = open(RO_MNT, O_RDONLY | O_DIRECTORY);
	EXPECT_LE(0, fd);
	close(fd);
}

TEST_F(vbfs, access_denied)
{
	pid_t pid;
	int status;

	ASSERT_EQ(0, mkdir(pathf(self, "priv"), 0700));
	ASSERT_EQ(0, write_file(pathf(self, "priv/f"), "s", 1));
	ASSERT_EQ(0, chmod(self->dir, 0755));
	pid = fork();
	if (!pid) {
		int fd;

		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			_exit(2);
		fd = open(pathf(self, "priv/f"), O_RDONLY);
		if (fd >= 0 || errno != EACCES)
			_exit(1);
		fd = open(pathf(self, "priv/g"), O_CREAT | O_WRONLY, 0644);
		_exit(fd < 0 && errno == EACCES ? 0 : 3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(vbfs, no_escape)
{
	char parent[PATH_MAX], *slash;
	struct stat a, b;

	/* A symlink to "/" is resolved by the guest, in the guest. */
	ASSERT_EQ(0, symlink("/", pathf(self, "root")));
	ASSERT_EQ(0, symlink("../../../../../..", pathf(self, "up")));
	ASSERT_EQ(0, stat(pathf(self, "root/"), &a));
	ASSERT_EQ(0, stat("/", &b));
	EXPECT_EQ(a.st_dev, b.st_dev);
	EXPECT_EQ(a.st_ino, b.st_ino);
	ASSERT_EQ(0, stat(pathf(self, "up/"), &a));
	EXPECT_EQ(a.st_dev, b.st_dev);
	EXPECT_EQ(a.st_ino, b.st_ino);

	/* ".." of the mount root is the guest's mount point parent. */
	snprintf(parent, sizeof(parent), "%s", mnt());
	slash = strrchr(parent, '/');
	ASSERT_NE(NULL, slash);
	*(slash == parent ? slash + 1 : slash) = 0;
	ASSERT_EQ(0, stat(parent, &b));
	{
		char up[PATH_MAX];

		snprintf(up, sizeof(up), "%s/..", mnt());
		ASSERT_EQ(0, stat(up, &a));
	}
	EXPECT_EQ(a.st_dev, b.st_dev);
	EXPECT_EQ(a.st_ino, b.st_ino);
}

/* fsx: the same random operations on vbridgefs and tmpfs, compared. */
#define FSX_MAX		(2 * MiB)
#define FSX_OPS		2000

static int fsx_check(int a, int b, unsigned char *ba, unsigned char *bb,
		     off_t off, size_t len)
{
	ssize_t na = pread_full(a, ba, len, off), nb = pread_full(b, bb, len, off);

	return na == nb && na >= 0 && !memcmp(ba, bb, na) ? 0 : -1;
}

TEST_F_TIMEOUT(vbfs, fsx, 900)
{
	const char *tdir = "/tmp/vbfsx";
	unsigned char *buf = malloc(FSX_MAX), *ba = malloc(FSX_MAX),
		      *bb = malloc(FSX_MAX);
	unsigned int seed = 20240601;
	char tfile[PATH_MAX];
	struct stat sa, sb;
	int a, b, i;

	mkdir(tdir, 0755);
	if (mount("tmpfs", tdir, "tmpfs", 0, "size=64m"))
		SKIP(return, "cannot mount tmpfs at %s", tdir);
	snprintf(tfile, sizeof(tfile), "%s/ref", tdir);
	a = open(pathf(self, "fsx"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	b = open(tfile, O_CREAT | O_RDWR | O_TRUNC, 0644);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	for (i = 0; i < FSX_OPS; i++) {
		off_t size = lseek(b, 0, SEEK_END);
		unsigned int op = rand_r(&seed) % 10;
		off_t off = rand_r(&seed) % FSX_MAX;
		size_t len = rand_r(&seed) % (128 * 1024) + 1;

		if ((size_t)off + len > FSX_MAX)
			len = FSX_MAX - off;
		switch (op) {
		case 0: case 1: case 2:		/* write */
			fill(buf, len, i);
			ASSERT_EQ((ssize_t)len, pwrite(a, buf, len, off));
			ASSERT_EQ((ssize_t)len, pwrite(b, buf, len, off));
			break;
		case 3:				/* truncate */
			off = rand_r(&seed) % (FSX_MAX / 2);
			ASSERT_EQ(0, ftruncate(a, off));
			ASSERT_EQ(0, ftruncate(b, off));
			break;
		case 4: {			/* mmap write inside the file */
			unsigned char *ma, *mb;
			off_t pg;

			if (size < 2)
				break;
			off = rand_r(&seed) % size;
			if ((off_t)(off + len) > size)
				len = size - off;
			pg = off & ~4095L;
			ma = mmap(NULL, off + len - pg, PROT_READ | PROT_WRITE,
				  MAP_SHARED, a, pg);
			mb = mmap(NULL, off + len - pg, PROT_READ | PROT_WRITE,
				  MAP_SHARED, b, pg);
			ASSERT_NE(MAP_FAILED, ma);
			ASSERT_NE(MAP_FAILED, mb);
			fill(buf, len, i + 1);
			memcpy(ma + (off - pg), buf, len);
			memcpy(mb + (off - pg), buf, len);
			munmap(ma, off + len - pg);
			munmap(mb, off + len - pg);
			break;
		}
		case 5:				/* punch a hole */
			ASSERT_EQ(0, fallocate(a, FALLOC_FL_PUNCH_HOLE |
					       FALLOC_FL_KEEP_SIZE, off, len));
			ASSERT_EQ(0, fallocate(b, FALLOC_FL_PUNCH_HOLE |
					       FALLOC_FL_KEEP_SIZE, off, len));
			break;
		default:			/* read and compare */
			ASSERT_EQ(0, fsx_check(a, b, ba, bb, off, len)) {
				TH_LOG("op %d: read %zu at %lld differs", i,
				       len, (long long)off);
			}
			break;
		}
	}
	ASSERT_EQ(0, fstat(a, &sa));
	ASSERT_EQ(0, fstat(b, &sb));
	EXPECT_EQ(sb.st_size, sa.st_size);
	EXPECT_EQ(0, fsx_check(a, b, ba, bb, 0, FSX_MAX));
	close(a);
	close(b);
	/* And from the host, after dropping the guest's cache. */
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "3", 1));
	a = open(pathf(self, "fsx"), O_RDONLY);
	b = open(tfile, O_RDONLY);
	EXPECT_EQ(0, fsx_check(a, b, ba, bb, 0, FSX_MAX));
	close(a);
	close(b);
	umount(tdir);
	free(buf);
	free(ba);
	free(bb);
}

struct writer {
	int fd;
	int index;
	int err;
};

#define WRITERS		8
#define WRITER_SIZE	(1 * MiB)

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	unsigned char chunk[16 * 1024];
	size_t off;

	for (off = 0; off < WRITER_SIZE; off += sizeof(chunk)) {
		memset(chunk, 'A' + w->index, sizeof(chunk));
		chunk[0] = (unsigned char)(off >> 14);
		if (pwrite(w->fd, chunk, sizeof(chunk),
			   (off_t)w->index * WRITER_SIZE + off) != sizeof(chunk))
			w->err = errno ?: EIO;
	}
	return NULL;
}

TEST_F_TIMEOUT(vbfs, concurrent_writers, 300)
{
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	unsigned char *rd = malloc(WRITERS * WRITER_SIZE);
	size_t off;
	int fd, i;

	fd = open(pathf(self, "cw"), O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fd);
	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .fd = fd, .index = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, writer_fn, &w[i]));
	}
	for (i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, w[i].err);
	}
	close(fd);
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "3", 1));
	ASSERT_EQ(WRITERS * WRITER_SIZE,
		  read_file(pathf(self, "cw"), rd, WRITERS * WRITER_SIZE));
	for (i = 0; i < WRITERS; i++) {
		for (off = 0; off < WRITER_SIZE; off++) {
			unsigned char want = off % (16 * 1024) ?
				'A' + i : (unsigned char)(off >> 14);

			if (rd[i * WRITER_SIZE + off] != want) {
				ASSERT_EQ(want, rd[i * WRITER_SIZE + off]);
			}
		}
	}
	free(rd);
}

/* Host agent: run @cmd on the host and wait for it to be done. */
static int agent_run(const char *cmd, double *done_ms)
{
	return agent_call(mnt(), cmd, 10000, done_ms, NULL, 0);
}

static bool have_agent(void)
{
	return agent_present(mnt());
}

/*
 * A host filesystem mounted below the export has an st_dev of its own,
 * the same for all of its inodes and across evictions.
 */
TEST(submount_st_dev)
{
	struct stat root, sub, file, sub2, file2;
	char dir[PATH_MAX], path[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/submnt", mnt());
	if (!is_vbridgefs(mnt()) || stat(dir, &sub) || !S_ISDIR(sub.st_mode))
		SKIP(return, "no host mount at %s", dir);
	snprintf(path, sizeof(path), "%s/f-%d", dir, getpid());
	ASSERT_EQ(0, write_file(path, "x", 1));
	ASSERT_EQ(0, stat(mnt(), &root));
	ASSERT_EQ(0, stat(dir, &sub));
	ASSERT_EQ(0, stat(path, &file));
	EXPECT_NE(root.st_dev, sub.st_dev);
	EXPECT_EQ(sub.st_dev, file.st_dev);

	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "3", 1));
	ASSERT_EQ(0, stat(dir, &sub2));
	ASSERT_EQ(0, stat(path, &file2));
	EXPECT_EQ(sub.st_dev, sub2.st_dev);
	EXPECT_EQ(file.st_dev, file2.st_dev);
	EXPECT_EQ(file.st_ino, file2.st_ino);
	ASSERT_EQ(0, stat(mnt(), &root));
	EXPECT_NE(root.st_dev, sub2.st_dev);
	EXPECT_EQ(0, unlink(path));
}

TEST(coherence_cache_always)
{
	static const char new_text[] = "NEW-contents-from-host";
	char cmd[128], path[PATH_MAX], buf[64] = {};
	double done, dt;
	ssize_t n;

	if (!is_vbridgefs(mnt()) || !is_vbridgefs(ALWAYS_MNT) || !have_agent())
		SKIP(return, "needs %s with cache=always and the host agent",
		     ALWAYS_MNT);
	snprintf(path, sizeof(path), "%s/coh-%d", mnt(), getpid());
	ASSERT_EQ(0, write_file(path, "old-contents", 12));
	/* Cache it in the cache=always instance. */
	snprintf(path, sizeof(path), ALWAYS_MNT "/coh-%d", getpid());
	ASSERT_EQ(12, read_file(path, buf, sizeof(buf)));
	EXPECT_STREQ("old-contents", buf);

	snprintf(cmd, sizeof(cmd), "write coh-%d %s\n", getpid(), new_text);
	ASSERT_EQ(0, agent_run(cmd, &done));
	do {
		memset(buf, 0, sizeof(buf));
		n = read_file(path, buf, sizeof(buf) - 1);
		dt = now_ms() - done;
		if (n > 0 && !strcmp(buf, new_text))
			break;
		usleep(1000);
	} while (dt < 2000);
	TH_LOG("host change visible %.1f ms after the agent was done", dt);
	EXPECT_STREQ(new_text, buf);
	EXPECT_GT(100.0, dt);
	unlink(path);
}

/*
 * A name cached here goes when the host removes it: on the host's change
 * event (INVAL_ENTRY) where names are cached for long (cache=always,
 * cache=auto with a device that watches the whole filesystem), else
 * within the entry timeout.  The name's length is not a multiple of 8:
 * the event carries padding after it.
 */
TEST(coherence_names)
{
	char cmd[128], name[64], path[PATH_MAX];
	double done, dt;
	struct stat st;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	snprintf(name, sizeof(name), "cohn-%d-x", getpid());
	snprintf(path, sizeof(path), "%s/%s", mnt(), name);
	ASSERT_EQ(0, write_file(path, "x", 1));
	/* Our own creation's events come back first: cache it after them. */
	usleep(300000);
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, stat(path, &st));

	snprintf(cmd, sizeof(cmd), "remove %s\n", name);
	ASSERT_EQ(0, agent_run(cmd, &done));
	do {
		if (stat(path, &st) && errno == ENOENT)
			break;
		usleep(1000);
		dt = now_ms() - done;
	} while (dt < 5000);
	dt = now_ms() - done;
	TH_LOG("host's removal seen after %.1f ms", dt);
	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_GT(2000.0, dt);
}

TEST(host_lock)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char cmd[128], path[PATH_MAX], unlock[PATH_MAX];
	double done, t0;
	int fd, r;

	if (!is_vbridgefs(mnt()) || !have_agent())
		SKIP(return, "needs the host agent");
	snprintf(path, sizeof(path), "%s/hostlk-%d", mnt(), getpid());
	snprintf(unlock, sizeof(unlock), "%s.unlock", path);
	ASSERT_EQ(0, write_file(path, "lock", 4));
	snprintf(cmd, sizeof(cmd), "lock hostlk-%d\n", getpid());
	ASSERT_EQ(0, agent_run(cmd, &done));
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	r = fcntl(fd, F_SETLK, &fl);
	EXPECT_EQ(-1, r);
	EXPECT_TRUE(errno == EAGAIN || errno == EACCES);
	ASSERT_EQ(0, write_file(unlock, "", 0));
	t0 = now_ms();
	while ((r = fcntl(fd, F_SETLK, &fl)) && now_ms() - t0 < 5000)
		usleep(20000);
	EXPECT_EQ(0, r);
	close(fd);
	unlink(path);
}

TEST_HARNESS_MAIN
