// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs page cache correctness, for every cache mode: run it on a
 * mount of each (VBRIDGE_MNT, default /mnt/vb).
 *
 *  - the size write() gave a file survives GETATTRs racing the write;
 *  - truncate and punch hole racing writeback of a shared mapping: no
 *    late WRITE re-extends the file or refills the hole;
 *  - copy_file_range into a mapped file reads back right through mmap;
 *  - dirty data survives signals during fsync and a SIGKILLed writer;
 *  - with the host agent (scripts/host-agent.sh): size and mtime changes
 *    made on the host show in the guest, O_APPEND against concurrent
 *    host appends loses nothing; host changes to many files show without
 *    waiting for a timeout; changes the host lost track of (its change
 *    notification queue overflowed) show all the same; and the latency
 *    from a host change to the guest seeing it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "kselftest_harness.h"
#include "vbridge_mount.h"
#include "vbridge_agent.h"

#define PG 4096

static bool writeback_mode(void)
{
	return strstr(mnt_opts(), "writeback");
}

static void path_of(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s-%d", mnt(), name, getpid());
}

/* Size as the device has it now (GETATTR, not the cached attributes). */
static long long host_size(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_SIZE,
		  &stx))
		return -1;
	return stx.stx_size;
}

/* Read [off, off + len) from the device itself (O_DIRECT). */
static int read_direct(const char *path, off_t off, char *buf, size_t len)
{
	size_t alen = (len + (off % PG) + PG - 1) / PG * PG;
	off_t aoff = off / PG * PG;
	char *tmp;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&tmp, PG, alen))
		return -1;
	memset(tmp, 0, alen);
	n = pread(fd, tmp, alen, aoff);
	close(fd);
	if (n < 0) {
		free(tmp);
		return -1;
	}
	memcpy(buf, tmp + (off - aoff), len);
	free(tmp);
	return 0;
}

static bool all_zero(const char *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

/* Host agent: run @cmd on the host and wait for it to be done. */
static int agent_run(const char *cmd)
{
	return agent_call(mnt(), cmd, 60000, NULL, NULL, 0);
}

static bool have_agent(void)
{
	return agent_present(mnt());
}

/* Busy processes beside the test, to widen timing windows. */
static void load_start(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (!pids[i]) {
			for (volatile unsigned long x = 0;; x++)
				;
		}
	}
}

static void load_stop(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
}

/* No state: a fixture only for the longer timeouts of TEST_F_TIMEOUT. */
FIXTURE(cache) {
	int unused;
};

FIXTURE_SETUP(cache)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(cache)
{
}

static volatile int stop_flag;

static void *stat_loop(void *arg)
{
	int fd = *(int *)arg;

	while (!stop_flag)
		host_size(fd);
	return NULL;
}

/*
 * write() grows the file; GETATTRs racing it must never take the size
 * (or the data) back.  Write-through used to show the new size before
 * the WRITE was sent, so a GETATTR in between shrank it, and writeback
 * then skipped the data beyond.
 */
TEST_F_TIMEOUT(cache, write_size_vs_stat, 600)
{
	enum { CHUNK = 1000, ROUNDS = 300 };
	char path[PATH_MAX], buf[CHUNK], *back;
	pthread_t th[2];
	pid_t load[2];
	struct stat st;
	int fd, i;

	path_of(path, "sizerace");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	stop_flag = 0;
	load_start(load, 2);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, stat_loop, &fd));
	for (i = 0; i < ROUNDS; i++) {
		memset(buf, 'a' + i % 26, sizeof(buf));
		if (write(fd, buf, CHUNK) != CHUNK)
			break;
		if (fstat(fd, &st) || st.st_size != (off_t)(i + 1) * CHUNK)
			break;
	}
	stop_flag = 1;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	load_stop(load, 2);
	EXPECT_EQ(ROUNDS * CHUNK, st.st_size);
	ASSERT_EQ(0, fsync(fd));
	EXPECT_EQ(ROUNDS * CHUNK, host_size(fd));
	close(fd);

	back = malloc(ROUNDS * CHUNK);
	ASSERT_NE(NULL, back);
	ASSERT_EQ(0, read_direct(path, 0, back, ROUNDS * CHUNK));
	for (i = 0; i < ROUNDS; i++) {
		memset(buf, 'a' + i % 26, sizeof(buf));
		if (memcmp(back + i * CHUNK, buf, CHUNK)) {
			TH_LOG("chunk %d differs on the device", i);
			EXPECT_TRUE(false);
			break;
		}
	}
	free(back);
	unlink(path);
}

struct mapper {
	char *map;
	size_t len;
	int fd;
};

/* Dirty the mapping's pages over and over and kick writeback. */
static void *map_writer(void *arg)
{
	struct mapper *m = arg;
	unsigned int n = 0;

	while (!stop_flag) {
		for (size_t off = 0; off < m->len; off += 512)
			m->map[off] = (char)(++n | 1);
		sync_file_range(m->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	return NULL;
}

/*
 * Truncation while a mapping below the new end is written back all the
 * time: no WRITE of a folio beyond the end may land after the truncation
 * (re-extending the file), and growing again must show zeros.
 */
TEST_F_TIMEOUT(cache, truncate_vs_writeback, 600)
{
	enum { BIG = 256 * 1024, SHORT = 64 * 1024 + 123, ROUNDS = 40 };
	char path[PATH_MAX], *data, *back;
	struct mapper m;
	pthread_t th;
	int i;

	path_of(path, "truncrace");
	m.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, m.fd);
	ASSERT_EQ(0, ftruncate(m.fd, BIG));
	m.len = SHORT;
	m.map = mmap(NULL, SHORT, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
	ASSERT_NE(MAP_FAILED, m.map);
	data = malloc(BIG);
	back = malloc(BIG);
	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, back);
	memset(data, 'x', BIG);
	stop_flag = 0;
	ASSERT_EQ(0, pthread_create(&th, NULL, map_writer, &m));
	for (i = 0; i < ROUNDS; i++) {
		/* Dirty data beyond SHORT, then cut it off. */
		ASSERT_EQ(BIG - SHORT, pwrite(m.fd, data, BIG - SHORT, SHORT));
		ASSERT_EQ(0, ftruncate(m.fd, SHORT));
		usleep(1000);
		if (host_size(m.fd) != SHORT) {
			TH_LOG("round %d: the device's size is %lld, not %d",
			       i, host_size(m.fd), SHORT);
			EXPECT_TRUE(false);
			break;
		}
		ASSERT_EQ(0, ftruncate(m.fd, BIG));
		/* Grown again: zeros, in the page cache and on the device. */
		ASSERT_EQ(BIG - SHORT, pread(m.fd, back, BIG - SHORT, SHORT));
		if (!all_zero(back, BIG - SHORT)) {
			TH_LOG("round %d: stale data beyond the truncation", i);
			EXPECT_TRUE(false);
			break;
		}
		ASSERT_EQ(0, ftruncate(m.fd, SHORT));
	}
	stop_flag = 1;
	pthread_join(th, NULL);
	ASSERT_EQ(0, msync(m.map, SHORT, MS_SYNC));
	ASSERT_EQ(0, fsync(m.fd));
	EXPECT_EQ(SHORT, host_size(m.fd));
	/* What the mapping holds is what the device has. */
	ASSERT_EQ(0, read_direct(path, 0, back, SHORT));
	EXPECT_EQ(0, memcmp(back, m.map, SHORT));
	munmap(m.map, SHORT);
	close(m.fd);
	free(data);
	free(back);
	unlink(path);
}

/*
 * Punch hole and zero range while the file is written back: the range
 * reads as zeros afterwards, from the page cache and from the device.
 */
TEST_F_TIMEOUT(cache, punch_vs_writeback, 600)
{
	enum { HALF = 128 * 1024, ROUNDS = 30 };
	char path[PATH_MAX], *data, *back;
	struct mapper m;
	pthread_t th;
	int i;

	path_of(path, "punchrace");
	m.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, m.fd);
	ASSERT_EQ(0, ftruncate(m.fd, 2 * HALF));
	m.len = HALF;
	m.map = mmap(NULL, HALF, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
	ASSERT_NE(MAP_FAILED, m.map);
	data = malloc(HALF);
	back = malloc(HALF);
	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, back);
	memset(data, 'p', HALF);
	stop_flag = 0;
	ASSERT_EQ(0, pthread_create(&th, NULL, map_writer, &m));
	for (i = 0; i < ROUNDS; i++) {
		/* Unaligned, so that partial folios are involved. */
		off_t off = HALF + 1000 + i * 7;
		size_t len = HALF - 3000;
		int mode = i % 2 ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE :
				   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

		ASSERT_EQ(HALF, pwrite(m.fd, data, HALF, HALF));
		ASSERT_EQ(0, fallocate(m.fd, mode, off, len));
		usleep(1000);
		ASSERT_EQ((ssize_t)len, pread(m.fd, back, len, off));
		if (!all_zero(back, len)) {
			TH_LOG("round %d: cached data in the hole", i);
			EXPECT_TRUE(false);
			break;
		}
		ASSERT_EQ(0, read_direct(path, off, back, len));
		if (!all_zero(back, len)) {
			TH_LOG("round %d: the hole was refilled on the device", i);
			EXPECT_TRUE(false);
			break;
		}
		/* The bytes around the hole are intact. */
		ASSERT_EQ(0, read_direct(path, HALF, back, 1000));
		if (memcmp(back, data, 1000)) {
			TH_LOG("round %d: data before the hole lost", i);
			EXPECT_TRUE(false);
			break;
		}
	}
	stop_flag = 1;
	pthread_join(th, NULL);
	munmap(m.map, HALF);
	close(m.fd);
	free(data);
	free(back);
	unlink(path);
}

/*
 * copy_file_range into a file whose pages are cached and mapped: the
 * copied bytes read back right through the mapping and read().  The
 * old code zeroed them in partial folios that stayed uptodate.
 */
TEST_F(cache, copy_range_mapped)
{
	enum { LEN = 64 * 1024 };
	char src[PATH_MAX], dst[PATH_MAX], *a, *b, *want, *map;
	int fs, fd, i;

	path_of(src, "cfr-src");
	path_of(dst, "cfr-dst");
	a = malloc(LEN);
	b = malloc(LEN);
	want = malloc(LEN);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, want);
	for (i = 0; i < LEN; i++) {
		a[i] = 'A' + i % 23;
		b[i] = 'a' + i % 19;
	}
	fs = open(src, O_RDWR | O_CREAT | O_TRUNC, 0644);
	fd = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fs);
	ASSERT_LE(0, fd);
	ASSERT_EQ(LEN, pwrite(fs, a, LEN, 0));
	ASSERT_EQ(LEN, pwrite(fd, b, LEN, 0));
	map = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memcpy(want, b, LEN);
	for (i = 0; i < 8; i++) {
		loff_t in = 333 * i + 17, out = 5000 * i + 1234;
		size_t len = 3000 + 777 * i;
		ssize_t n;

		/* Cache the destination, through the mapping. */
		EXPECT_EQ(0, memcmp(map, want, LEN));
		n = copy_file_range(fs, &in, fd, &out, len, 0);
		if (n < 0 && (errno == EOPNOTSUPP || errno == EXDEV))
			SKIP(break, "copy_file_range not supported");
		ASSERT_EQ((ssize_t)len, n);
		memcpy(want + out - len, a + in - len, len);
		if (memcmp(map, want, LEN)) {
			TH_LOG("copy %d: the mapping reads wrong data", i);
			EXPECT_TRUE(false);
			break;
		}
		ASSERT_EQ(LEN, pread(fd, b, LEN, 0));
		EXPECT_EQ(0, memcmp(b, want, LEN));
	}
	munmap(map, LEN);
	close(fs);
	close(fd);
	unlink(src);
	unlink(dst);
	free(a);
	free(b);
	free(want);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/*
 * A signal storm (SIGALRM every 200 us, no SA_RESTART) while writing and
 * fsyncing: whatever write() and fsync() return, once the signals stop
 * and fsync succeeds the device has exactly what was written.
 */
TEST_F_TIMEOUT(cache, signal_during_fsync, 600)
{
	enum { LEN = 256 * 1024, ROUNDS = 400 };
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	char path[PATH_MAX], *model, *back, buf[5000];
	unsigned int seed = 1;
	int fd, i, eintr = 0;

	path_of(path, "sigfsync");
	model = calloc(1, LEN);
	back = malloc(LEN);
	ASSERT_NE(NULL, model);
	ASSERT_NE(NULL, back);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, LEN));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	for (i = 0; i < ROUNDS; i++) {
		size_t len = 1 + rand_r(&seed) % sizeof(buf);
		off_t off = rand_r(&seed) % (LEN - len);
		size_t done = 0;
		ssize_t n;

		memset(buf, 1 + rand_r(&seed) % 255, len);
		/* Retried as a program would: the same bytes again. */
		while (done < len) {
			n = pwrite(fd, buf + done, len - done, off + done);
			if (n < 0 && errno == EINTR) {
				eintr++;
				continue;
			}
			ASSERT_LT(0, n);
			done += n;
		}
		memcpy(model + off, buf, len);
		if (i % 4 == 3 && fsync(fd) && errno == EINTR)
			eintr++;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	TH_LOG("%d signals, %d EINTR", (int)alarms, eintr);
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	ASSERT_EQ(0, read_direct(path, 0, back, LEN));
	EXPECT_EQ(0, memcmp(back, model, LEN));
	free(model);
	free(back);
	unlink(path);
}

/*
 * A writer killed with dirty pages (writeback) or in the middle of its
 * WRITEs: every write() that returned is on the device afterwards.
 */
TEST_F_TIMEOUT(cache, sigkill_writer, 600)
{
	enum { BLK = 4096, NBLK = 256 };
	char path[PATH_MAX], want[BLK], *back;
	volatile int *progress;
	int fd, i, round;

	path_of(path, "sigkill");
	progress = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, progress);
	back = malloc(NBLK * BLK);
	ASSERT_NE(NULL, back);
	for (round = 0; round < 5; round++) {
		pid_t pid;

		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		ASSERT_LE(0, fd);
		close(fd);
		*progress = 0;
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			char buf[BLK];

			fd = open(path, O_RDWR);
			for (i = 0; i < NBLK; i++) {
				memset(buf, 1 + i % 250, BLK);
				if (pwrite(fd, buf, BLK, (off_t)i * BLK) != BLK)
					_exit(1);
				*progress = i + 1;
				if (i % 16 == 15)
					fsync(fd);
			}
			for (;;)
				fsync(fd);
		}
		usleep(20000 + round * 30000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ASSERT_EQ(0, read_direct(path, 0, back, NBLK * BLK));
		for (i = 0; i < *progress; i++) {
			memset(want, 1 + i % 250, BLK);
			if (memcmp(back + i * BLK, want, BLK)) {
				TH_LOG("round %d: block %d of %d written lost",
				       round, i, *progress);
				EXPECT_TRUE(false);
				break;
			}
		}
	}
	free(back);
	unlink(path);
}

/*
 * Changes made on the host show in the guest once it fetches the
 * attributes: a longer file (the old last page must not read as zeros),
 * a shorter one, and new contents of the same size (mtime only).
 */
TEST_F(cache, host_changes_seen)
{
	char path[PATH_MAX], name[64], cmd[PATH_MAX], buf[8192], *map;
	static const char head[] = "0123456789abcdef";
	int fd, i;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	if (writeback_mode())
		SKIP(return, "writeback: the guest's page cache is the file's");
	snprintf(name, sizeof(name), "hostchg-%d", getpid());
	path_of(path, "hostchg");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	for (i = 0; i < 300; i++)
		ASSERT_EQ(16, write(fd, head, 16));	/* 4800 bytes */
	ASSERT_EQ(4800, pread(fd, buf, sizeof(buf), 0));
	map = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ('0', map[4784]);

	snprintf(cmd, sizeof(cmd), "append %s TAIL-FROM-HOST\n", name);
	ASSERT_EQ(0, agent_run(cmd));
	EXPECT_EQ(4814, host_size(fd));
	ASSERT_EQ(4814, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf + 4800, "TAIL-FROM-HOST", 14));
	EXPECT_EQ(0, memcmp(map + 4800, "TAIL-FROM-HOST", 14));

	snprintf(cmd, sizeof(cmd), "truncate %s 100\n", name);
	ASSERT_EQ(0, agent_run(cmd));
	EXPECT_EQ(100, host_size(fd));
	EXPECT_EQ(100, pread(fd, buf, sizeof(buf), 0));

	/* Same size, other bytes: only the mtime tells. */
	memset(buf, 'Z', 100);
	buf[100] = 0;
	usleep(20000);
	snprintf(cmd, sizeof(cmd), "write %s %.100s\n", name, buf);
	ASSERT_EQ(0, agent_run(cmd));
	EXPECT_EQ(100, host_size(fd));
	ASSERT_EQ(100, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ('Z', buf[0]);
	EXPECT_EQ('Z', buf[99]);
	EXPECT_EQ('Z', map[50]);
	munmap(map, 8192);
	close(fd);
	unlink(path);
}

/* Whether the device watches every export as a whole (VBRIDGE_F_FS_COHERENT). */
static bool device_coherent(void)
{
	char line[256];
	bool yes = false;
	FILE *f = popen("cat /sys/bus/virtio/drivers/vbridge/virtio*/features 2>/dev/null", "r");

	if (!f)
		return false;
	/* One string of 0 and 1 per device, bit 0 first. */
	while (fgets(line, sizeof(line), f))
		yes |= strlen(line) > 6 && line[6] == '1';
	pclose(f);
	return yes;
}

/*
 * The host changes many files the guest has cached, one after the
 * other: each change shows at once, with no timeout to wait for, however
 * many files the host watches (no inotify watch each with fanotify).
 */
TEST_F(cache, host_changes_many_files)
{
	enum { FILES = 64 };
	char path[PATH_MAX], cmd[PATH_MAX];
	struct stat st;
	int i, fd;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	if (writeback_mode())
		SKIP(return, "writeback: the guest's page cache is the file's");
	TH_LOG("the device %s every export as a whole",
	       device_coherent() ? "watches" : "does not watch");
	for (i = 0; i < FILES; i++) {
		snprintf(path, sizeof(path), "%s/many-%d-%d", mnt(), getpid(), i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ASSERT_LE(0, fd);
		ASSERT_EQ(1, write(fd, "g", 1));
		close(fd);
		ASSERT_EQ(0, stat(path, &st));
		ASSERT_EQ(1, st.st_size);
	}
	for (i = 0; i < FILES; i++) {
		snprintf(cmd, sizeof(cmd), "append many-%d-%d host\n", getpid(), i);
		ASSERT_EQ(0, agent_run(cmd));
		snprintf(path, sizeof(path), "%s/many-%d-%d", mnt(), getpid(), i);
		/* The cached attributes, refreshed by the host's event. */
		ASSERT_EQ(0, stat(path, &st));
		EXPECT_EQ(5, st.st_size);
	}
	for (i = 0; i < FILES; i++) {
		snprintf(path, sizeof(path), "%s/many-%d-%d", mnt(), getpid(), i);
		unlink(path);
	}
}

/*
 * The host's change notifications overflow while vbridged is stopped,
 * and the changes that follow are lost: the guest must still see them
 * (INVAL_EXPORT, or INVAL_ALL from inotify), in names, attributes and
 * data it had cached.
 */
TEST_F_TIMEOUT(cache, overflow_drops_caches, 300)
{
	char path[PATH_MAX], newpath[PATH_MAX + 8], name[64], cmd[PATH_MAX];
	char buf[256], reply[64];
	struct stat st;
	int fd;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	if (writeback_mode())
		SKIP(return, "writeback: the guest's page cache is the file's");
	snprintf(name, sizeof(name), "flood-%d", getpid());
	path_of(path, "flood");
	snprintf(newpath, sizeof(newpath), "%s.new", path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	memset(buf, 'A', 100);
	ASSERT_EQ(100, write(fd, buf, 100));
	/* Cached: the data, the attributes, a name that does not exist. */
	ASSERT_EQ(100, pread(fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_EQ(100, st.st_size);
	ASSERT_EQ(-1, stat(newpath, &st));

	snprintf(cmd, sizeof(cmd), "flood %s %s.new\n", name, name);
	ASSERT_EQ(0, agent_call(mnt(), cmd, 120000, NULL, reply, sizeof(reply)));
	if (strcmp(reply, "ok"))
		SKIP(goto out, "the host agent cannot stop vbridged here");
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(105, st.st_size);
	ASSERT_EQ(105, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf + 100, "FLOOD", 5));
	EXPECT_EQ(0, stat(newpath, &st));
out:
	close(fd);
	unlink(newpath);
	unlink(path);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Coherence latency.  The host writes a new number into a file 100
 * times; a guest process polls the file through this mount's cache and
 * writes each new number back into FILE.ack, which the host times: a
 * host change -> guest -> host round trip, on the host's clock.  The
 * guest's own share of it (the write back) is timed here, so that the
 * host-to-guest part is known: the round trip less that write.
 */
TEST_F_TIMEOUT(cache, coherence_latency, 300)
{
	enum { ROUNDS = 100 };
	char path[PATH_MAX], ack[PATH_MAX + 8], name[64], cmd[PATH_MAX];
	char reply[128], buf[16];
	double w[ROUNDS], t0, p50, p90, p99, max;
	int fd, afd, n, i, r;
	pid_t pid;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	if (writeback_mode())
		SKIP(return, "writeback: the guest's write back would wait for writeback");
	snprintf(name, sizeof(name), "chase-%d", getpid());
	path_of(path, "chase");
	snprintf(ack, sizeof(ack), "%s.ack", path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	afd = open(ack, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, afd);
	ASSERT_EQ(8, pwrite(fd, "00000000", 8, 0));
	/* The guest's write back alone. */
	for (i = 0; i < ROUNDS; i++) {
		t0 = now_ms();
		ASSERT_EQ(8, pwrite(afd, "00000000", 8, 0));
		w[i] = now_ms() - t0;
	}
	qsort(w, ROUNDS, sizeof(w[0]), cmp_double);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char last[8] = "00000000";

		for (;;) {
			if (pread(fd, buf, 8, 0) == 8 && memcmp(buf, last, 8)) {
				memcpy(last, buf, 8);
				if (pwrite(afd, buf, 8, 0) != 8)
					_exit(1);
			}
			usleep(100);
		}
	}
	snprintf(cmd, sizeof(cmd), "chase %s %d\n", name, ROUNDS);
	r = agent_call(mnt(), cmd, 120000, NULL, reply, sizeof(reply));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fd);
	close(afd);
	unlink(ack);
	unlink(path);
	ASSERT_EQ(0, r);
	ASSERT_EQ(5, sscanf(reply, "ok %d %lf %lf %lf %lf", &n, &p50, &p90,
			    &p99, &max)) TH_LOG("agent: '%s'", reply);
	TH_LOG("%s: host change -> guest -> host: p50 %.2f p90 %.2f p99 %.2f max %.2f ms (%d rounds); the guest's write back p50 %.2f p99 %.2f ms",
	       mnt(), p50, p90, p99, max, n, w[ROUNDS / 2], w[ROUNDS * 99 / 100]);
	TH_LOG("%s: host change -> guest: p50 %.2f p99 %.2f ms at most (round trip less the fastest write back)",
	       mnt(), p50 - w[0], p99 - w[0]);
	/*
	 * The target is 10 ms at p99, on a quiet host (the README has the
	 * figures); a loaded one (the tests of other boots) delays a few
	 * rounds by far more, in every mode alike: only the median is
	 * checked here.
	 */
	EXPECT_GT(10.0, p50 - w[0]);
}

/*
 * O_APPEND in the guest while the host appends to the same file: every
 * line of both ends up in the file, none overwritten.
 */
TEST_F_TIMEOUT(cache, append_vs_host, 600)
{
	enum { HOST_LINES = 3000 };
	char path[PATH_MAX], name[64], cmd[128], *all, *p;
	int fd, guest = 0, hostn = 0, other = 0, status;
	pid_t pid;
	struct stat st;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	if (writeback_mode())
		SKIP(return, "writeback: the guest owns the size, as with FUSE's writeback_cache");
	snprintf(name, sizeof(name), "append-%d", getpid());
	path_of(path, "append");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		snprintf(cmd, sizeof(cmd), "appendn %s %d host-line-0123456789\n",
			 name, HOST_LINES);
		_exit(agent_run(cmd) ? 1 : 0);
	}
	/* Until the host is done, and at least a few. */
	while (guest < 20 || !waitpid(pid, &status, WNOHANG)) {
		ASSERT_EQ(20, write(fd, "guest-line-01234567\n", 20));
		guest++;
	}
	if (guest > 20 && !WIFEXITED(status))
		waitpid(pid, &status, 0);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	close(fd);

	ASSERT_EQ(0, stat(path, &st));
	all = calloc(1, st.st_size + 1);
	ASSERT_NE(NULL, all);
	fd = open(path, O_RDONLY);
	ASSERT_EQ(st.st_size, read(fd, all, st.st_size));
	close(fd);
	for (p = strtok(all, "\n"); p; p = strtok(NULL, "\n")) {
		if (!strcmp(p, "guest-line-01234567"))
			guest--;
		else if (!strcmp(p, "host-line-0123456789"))
			hostn++;
		else
			other++;
	}
	TH_LOG("%d guest lines unaccounted, %d host lines, %d mangled",
	       guest, hostn, other);
	EXPECT_EQ(0, guest);
	EXPECT_EQ(HOST_LINES, hostn);
	EXPECT_EQ(0, other);
	free(all);
	unlink(path);
}

TEST_HARNESS_MAIN
