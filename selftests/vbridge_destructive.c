// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge request lifecycle under a stalled backend.  Run by the
 * destructive guest job (image/guest/vb-destructive) in a boot of its
 * own: the host agent (scripts/host-agent.sh) stops vbridged with
 * SIGSTOP on request ("stall DELAY_MS DURATION_MS"), and the last test
 * leaves the device failed.  Not named *_test so that the main job does
 * not run it.
 *
 * Mounts: $VBRIDGE_MNT (default /mnt/vb, the agent's directory),
 * /mnt/vb-wb (writeback) and /mnt/vb-none (cache=none) of the same
 * export.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vbridge.h>

#include "kselftest_harness.h"
#include "vbridge_agent.h"

#define WB_MNT		"/mnt/vb-wb"
#define NONE_MNT	"/mnt/vb-none"
#define ALWAYS_MNT	"/mnt/vb-always"
#define TIMEOUT_PARAM	"/sys/module/vbridge/parameters/request_timeout_ms"
#define DATA_SIZE	(2u << 20)

static const char *mnt(void)
{
	return getenv("VBRIDGE_MNT") ?: "/mnt/vb";
}

/* Host agent: run @cmd on the host and wait until it is done. */
static int agent_run(const char *cmd)
{
	return agent_call(mnt(), cmd, 10000, NULL, NULL, 0);
}

/* Sum of a column of every device's debugfs file @file; -1 if none. */
static long long debugfs_sum(const char *file, const char *key)
{
	char pattern[128], line[256];
	long long sum = -1, v;
	int col = -1, i;
	glob_t g;
	size_t k;

	snprintf(pattern, sizeof(pattern), "/sys/kernel/debug/vbridge/*/%s",
		 file);
	if (glob(pattern, 0, NULL, &g))
		return -1;
	for (k = 0; k < g.gl_pathc; k++) {
		FILE *f = fopen(g.gl_pathv[k], "r");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *tok, *save = NULL;

			/* "key: value" lines, or a table with a header. */
			if (!strncmp(line, key, strlen(key)) &&
			    line[strlen(key)] == ':') {
				sum = (sum < 0 ? 0 : sum) +
				      atoll(line + strlen(key) + 1);
				continue;
			}
			for (i = 0, tok = strtok_r(line, " \n", &save); tok;
			     i++, tok = strtok_r(NULL, " \n", &save)) {
				if (!strcmp(tok, key)) {
					col = i;
					break;
				}
				if (i == col && sscanf(tok, "%lld", &v) == 1)
					sum = (sum < 0 ? 0 : sum) + v;
			}
		}
		fclose(f);
	}
	globfree(&g);
	return sum;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM every @ms milliseconds (0: off), without SA_RESTART. */
static void alarm_every(unsigned int ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000 },
		.it_value = { ms / 1000, (ms % 1000) * 1000 },
	};

	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void fill(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)((i * 131 + seed * 7919 + (i >> 12)) & 0xff);
}

/* Compare @path, read without the page cache, with @want. */
static int check_host_copy(const char *path, const char *want, size_t len)
{
	char *buf = malloc(len);
	ssize_t n = -1;
	int fd;

	if (!buf)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = pread(fd, buf, len, 0);
		close(fd);
	}
	n = n == (ssize_t)len && !memcmp(buf, want, len) ? 0 : -1;
	free(buf);
	return n;
}

static int have_agent(void)
{
	return agent_present(mnt());
}

/*
 * After "stall": wait until the backend is stopped, seen as a lookup that
 * stays unanswered for 300 ms (the agent stops it DELAY_MS after it
 * answers, later on a loaded host).  Returns the waiting lookup's pid,
 * to reap once the stall is over, or -1 if none waited within 20 s.
 */
static pid_t wait_stalled(void)
{
	char name[PATH_MAX];
	double t0 = now_ms();
	struct stat st;
	pid_t pid;
	int n;

	for (n = 0; now_ms() - t0 < 20000; n++) {
		pid = fork();
		if (pid < 0)
			return -1;
		if (!pid) {
			snprintf(name, sizeof(name), NONE_MNT "/probe-%d-%d",
				 getppid(), n);
			stat(name, &st);
			_exit(0);
		}
		usleep(300 * 1000);
		if (!waitpid(pid, NULL, WNOHANG))
			return pid;
	}
	return -1;
}

/* The stalled-backend tests: time for a late stall (wait_stalled()). */
FIXTURE(stall) {};
FIXTURE_SETUP(stall) {}
FIXTURE_TEARDOWN(stall) {}

/*
 * A request interrupted by signals while the device owns it is not
 * given up: the PING waits for the stalled backend and succeeds.
 */
TEST_F_TIMEOUT(stall, signal_during_stalled_request, 120)
{
	long long before, after;
	double t0, dt;
	int fd, ret;
	pid_t probe;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	fd = open("/dev/vbridge0", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	if (ioctl(fd, VBRIDGE_IOC_PING) && errno == EOPNOTSUPP)
		SKIP(return, "VBRIDGE_F_DEBUG not negotiated");
	before = debugfs_sum("queues", "interrupted");
	ASSERT_LE(0, before);

	ASSERT_EQ(0, agent_run("stall 200 4000"));
	probe = wait_stalled();
	ASSERT_LT(0, probe);
	alarms = 0;
	alarm_every(200);
	t0 = now_ms();
	ret = ioctl(fd, VBRIDGE_IOC_PING);
	dt = now_ms() - t0;
	alarm_every(0);
	TH_LOG("PING took %.0f ms, %d signals", dt, (int)alarms);
	EXPECT_EQ(0, ret) TH_LOG("PING: %s", strerror(errno));
	EXPECT_LT(1000, dt);	/* it did wait for the stalled backend */
	/* The first one ends the interruptible wait, the others coalesce. */
	EXPECT_LE(1, alarms);
	after = debugfs_sum("queues", "interrupted");
	EXPECT_LT(before, after);
	EXPECT_EQ(probe, waitpid(probe, NULL, 0));
	close(fd);
}

/*
 * fsync with dirty data while the backend is stalled, hit by signals:
 * it completes, and the data is on the host.
 */
TEST_F_TIMEOUT(stall, signal_during_stalled_fsync, 120)
{
	char path[PATH_MAX], host[PATH_MAX];
	char *data = malloc(DATA_SIZE);
	double t0, dt;
	int fd, ret;
	pid_t probe;

	ASSERT_NE(NULL, data);
	if (!have_agent())
		SKIP(return, "needs the host agent");
	snprintf(path, sizeof(path), WB_MNT "/sig-fsync-%d", getpid());
	snprintf(host, sizeof(host), NONE_MNT "/sig-fsync-%d", getpid());
	fill(data, DATA_SIZE, 1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)DATA_SIZE, write(fd, data, DATA_SIZE));

	ASSERT_EQ(0, agent_run("stall 200 4000"));
	probe = wait_stalled();
	ASSERT_LT(0, probe);
	alarms = 0;
	alarm_every(200);
	t0 = now_ms();
	ret = fsync(fd);
	dt = now_ms() - t0;
	alarm_every(0);
	TH_LOG("fsync took %.0f ms, %d signals", dt, (int)alarms);
	EXPECT_EQ(0, ret) TH_LOG("fsync: %s", strerror(errno));
	EXPECT_LT(1000, dt);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(probe, waitpid(probe, NULL, 0));
	EXPECT_EQ(0, check_host_copy(host, data, DATA_SIZE));
	unlink(path);
	free(data);
}

/*
 * SIGKILL while a request waits for the stalled backend: the process
 * only dies once the request is answered (it is not abandoned), and the
 * device answers normally afterwards.
 */
TEST_F_TIMEOUT(stall, fatal_signal_waits_out, 120)
{
	char path[PATH_MAX], host[PATH_MAX];
	char *data = malloc(DATA_SIZE);
	int ready[2], go[2], status, fd;
	double t0, dt;
	pid_t pid, probe;
	char c;

	ASSERT_NE(NULL, data);
	if (!have_agent())
		SKIP(return, "needs the host agent");
	snprintf(path, sizeof(path), WB_MNT "/kill-fsync-%d", getpid());
	snprintf(host, sizeof(host), NONE_MNT "/kill-fsync-%d", getpid());
	fill(data, DATA_SIZE, 2);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(ready[0]);
		close(go[1]);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, data, DATA_SIZE) != DATA_SIZE)
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		fsync(fd);
		_exit(2);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(0, agent_run("stall 200 4000"));
	probe = wait_stalled();
	ASSERT_LT(0, probe);
	ASSERT_EQ(1, write(go[1], "g", 1));
	usleep(300 * 1000);	/* the child waits in fsync */
	t0 = now_ms();
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	dt = now_ms() - t0;
	TH_LOG("the killed child exited %.0f ms after SIGKILL", dt);
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_LT(500, dt);	/* waited for the backend */
	EXPECT_EQ(probe, waitpid(probe, NULL, 0));
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);

	/* Whatever writeback remains is done by now; all of it arrived. */
	fd = open(WB_MNT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, syncfs(fd));
	close(fd);
	EXPECT_EQ(0, check_host_copy(host, data, DATA_SIZE));
	unlink(path);
	free(data);
}

/*
 * A CREATE whose reply comes late, after signals: the open neither fails
 * with EINTR nor loses what the host created; the file and its handle
 * work.  A killed creator: if the host made its file, the guest can
 * open and remove it afterwards (the late reply was taken and its handle
 * released, not left behind).
 */
TEST_F_TIMEOUT(stall, signal_during_stalled_create, 120)
{
	char path[PATH_MAX], killed[PATH_MAX];
	int fd, status;
	double t0, dt;
	struct stat st;
	pid_t pid, probe;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	snprintf(path, sizeof(path), NONE_MNT "/late-create-%d", getpid());
	snprintf(killed, sizeof(killed), NONE_MNT "/late-killed-%d",
		 getpid());
	ASSERT_EQ(0, agent_run("stall 200 6000"));
	probe = wait_stalled();
	ASSERT_LT(0, probe);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		open(killed, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		_exit(1);
	}
	usleep(300 * 1000);	/* the child waits for its CREATE */
	kill(pid, SIGKILL);
	alarms = 0;
	alarm_every(200);
	t0 = now_ms();
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	dt = now_ms() - t0;
	alarm_every(0);
	TH_LOG("the create took %.0f ms, %d signals", dt, (int)alarms);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_LT(1000, dt);	/* it did wait for the stalled backend */
	EXPECT_EQ(3, write(fd, "abc", 3));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, check_host_copy(path, "abc", 3));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(probe, waitpid(probe, &status, 0));
	/* Whether the kill came before the CREATE went out is the VFS's. */
	if (!stat(killed, &st)) {
		fd = open(killed, O_RDWR | O_CLOEXEC);
		EXPECT_LE(0, fd);
		if (fd >= 0)
			close(fd);
		EXPECT_EQ(0, unlink(killed));
	} else {
		TH_LOG("the killed child's file was never created");
	}
	EXPECT_EQ(-1, stat(killed, &st));
	EXPECT_EQ(0, unlink(path));
}

/*
 * A writer killed while the WRITE of its dirty pages cannot even be
 * queued: the backend is stalled and every request slot is taken (the
 * job loads the module with max_inflight=2 for these), and the writer
 * is in close() or fsync().  Writeback waits for a slot whatever the
 * signal, so the data reaches the host; a WRITE that gave up on the
 * fatal signal would leave the folios dirty with no handle left to
 * write them with, and the host file short or zero.  In every cache
 * mode: written with write() in writeback mode, through a shared
 * mapping in each mode (the only way to dirty the page cache without
 * writeback).
 */
#define KILL_SIZE	(256u << 10)
#define KILL_BLOCKERS	8

FIXTURE(killed_writer) {};
FIXTURE_VARIANT(killed_writer) {
	const char *mnt;	/* NULL: mnt() (cache=auto) */
	bool use_mmap;
	bool use_fsync;		/* killed in fsync(), else in close() */
};
FIXTURE_VARIANT_ADD(killed_writer, writeback_close) { .mnt = WB_MNT };
FIXTURE_VARIANT_ADD(killed_writer, writeback_fsync) {
	.mnt = WB_MNT, .use_fsync = true,
};
FIXTURE_VARIANT_ADD(killed_writer, writeback_mmap_close) {
	.mnt = WB_MNT, .use_mmap = true,
};
FIXTURE_VARIANT_ADD(killed_writer, auto_mmap_close) { .use_mmap = true };
FIXTURE_VARIANT_ADD(killed_writer, auto_mmap_fsync) {
	.use_mmap = true, .use_fsync = true,
};
FIXTURE_VARIANT_ADD(killed_writer, always_mmap_close) {
	.mnt = ALWAYS_MNT, .use_mmap = true,
};
FIXTURE_VARIANT_ADD(killed_writer, none_mmap_close) {
	.mnt = NONE_MNT, .use_mmap = true,
};
FIXTURE_SETUP(killed_writer) {}
FIXTURE_TEARDOWN(killed_writer) {}

/* The writer: dirty @len bytes of @path, then fsync or close on "go". */
static void killed_writer_child(const FIXTURE_VARIANT(killed_writer) *v,
				const char *path, const char *data,
				size_t len, int ready, int go)
{
	char *map;
	char c;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		_exit(1);
	if (v->use_mmap) {
		if (ftruncate(fd, len))
			_exit(1);
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			   0);
		if (map == MAP_FAILED)
			_exit(1);
		memcpy(map, data, len);
		munmap(map, len);	/* the folios stay dirty */
	} else if (write(fd, data, len) != (ssize_t)len) {
		_exit(1);
	}
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		_exit(1);
	if (v->use_fsync)
		fsync(fd);
	close(fd);
	_exit(2);
}

TEST_F_TIMEOUT(killed_writer, data_reaches_host, 120)
{
	const char *dir = variant->mnt ?: mnt();
	char path[PATH_MAX], host[PATH_MAX], name[PATH_MAX];
	char *data = malloc(KILL_SIZE);
	pid_t pid, blockers[KILL_BLOCKERS];
	int ready[2], go[2], status, fd, i;
	struct stat st;
	double t0, dt;
	char c;

	ASSERT_NE(NULL, data);
	if (!have_agent())
		SKIP(return, "needs the host agent");
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		SKIP(return, "%s is not mounted", dir);
	snprintf(path, sizeof(path), "%s/killed-%d", dir, getpid());
	snprintf(host, sizeof(host), NONE_MNT "/killed-%d", getpid());
	fill(data, KILL_SIZE, 3 + variant->use_mmap + 2 * variant->use_fsync);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* Alone with go's read end: a parent gone ends the wait. */
		close(ready[0]);
		close(go[1]);
		killed_writer_child(variant, path, data, KILL_SIZE, ready[1],
				    go[0]);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));

	ASSERT_EQ(0, agent_run("stall 200 6000"));
	/* Take every request slot: lookups that wait for the backend. */
	blockers[0] = wait_stalled();
	ASSERT_LT(0, blockers[0]);
	for (i = 1; i < KILL_BLOCKERS; i++) {
		blockers[i] = fork();
		ASSERT_LE(0, blockers[i]);
		if (!blockers[i]) {
			snprintf(name, sizeof(name), NONE_MNT "/blocker-%d-%d",
				 getpid(), i);
			stat(name, &st);
			_exit(0);
		}
	}
	usleep(300 * 1000);
	ASSERT_EQ(1, write(go[1], "g", 1));
	usleep(300 * 1000);	/* the writer waits for a slot */
	t0 = now_ms();
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	dt = now_ms() - t0;
	TH_LOG("the killed writer exited %.0f ms after SIGKILL", dt);
	EXPECT_TRUE(WIFSIGNALED(status));
	for (i = 0; i < KILL_BLOCKERS; i++)
		EXPECT_EQ(blockers[i], waitpid(blockers[i], &status, 0));
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);

	/* Anything still dirty would have no handle to go out with now. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	syncfs(fd);
	close(fd);
	EXPECT_EQ(0, check_host_copy(host, data, KILL_SIZE));
	unlink(path);
	free(data);
}

static int read_param(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/*
 * A backend that stops answering: with request_timeout_ms lowered
 * (modprobe vbridge request_timeout_ms=3000), I/O fails with EIO after
 * about that long, and everything after it fails at once.  The device
 * stays failed: run last.  The reset may hold the VM until the backend
 * answers vhost-user again, so allow for the whole stall.
 */
TEST(stall_fails_with_eio)
{
	const int stall_ms = 7000;
	char path[PATH_MAX], buf[65536], cmd[64];
	int fd, ret = 0, err = 0, timeout, dfd;
	double t0, dt, t_stall;
	unsigned int i;
	struct stat st;

	if (!have_agent())
		SKIP(return, "needs the host agent");
	timeout = read_param(TIMEOUT_PARAM);
	if (timeout <= 0 || timeout > 5000)
		SKIP(return, "request_timeout_ms is %d, load vbridge with request_timeout_ms=3000",
		     timeout);
	snprintf(path, sizeof(path), WB_MNT "/stall-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	memset(buf, 0x5a, sizeof(buf));
	/* Looked up now: the checks below must reach the device. */
	dfd = open("/dev/vbridge0", O_RDWR | O_CLOEXEC);

	snprintf(cmd, sizeof(cmd), "stall 200 %d", stall_ms);
	ASSERT_EQ(0, agent_run(cmd));
	t_stall = t0 = now_ms();
	for (i = 0; now_ms() - t0 < stall_ms + 10000; i++) {
		ret = pwrite(fd, buf, sizeof(buf), (off_t)i * sizeof(buf));
		if (ret >= 0)
			ret = fsync(fd);
		if (ret < 0) {
			err = errno;
			break;
		}
	}
	dt = now_ms() - t0;
	TH_LOG("I/O failed with %s %.0f ms into the stall (timeout %d ms)",
	       strerror(err), dt, timeout);
	EXPECT_EQ(EIO, err);
	EXPECT_LT(dt, stall_ms + 4000);

	/* A failed device fails everything at once. */
	t0 = now_ms();
	snprintf(path, sizeof(path), WB_MNT "/no-such-file-%d", getpid());
	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(EIO, errno);
	if (dfd >= 0) {
		EXPECT_EQ(-1, ioctl(dfd, VBRIDGE_IOC_PING));
		EXPECT_EQ(EIO, errno);
		close(dfd);
	}
	EXPECT_EQ(-1, fsync(fd));
	dt = now_ms() - t0;
	EXPECT_LT(dt, 1000) TH_LOG("calls on a failed device took %.0f ms", dt);
	EXPECT_EQ(1, debugfs_sum("info", "request_timeouts"));
	close(fd);

	/* Let the backend run again for the rebind that follows. */
	dt = t_stall + 200 + stall_ms + 500 - now_ms();
	if (dt > 0)
		usleep(dt * 1000);
}

TEST_HARNESS_MAIN
