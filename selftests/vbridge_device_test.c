// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge device tests: run inside a guest with a vbridge device.
 *
 * The control node is /dev/vbridge0, or $VBRIDGE_DEV.  The concurrent ECHO
 * test runs $VBRIDGE_THREADS threads (default 32) of $VBRIDGE_ITERS
 * requests each (default 500).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/vbridge.h>

#include "kselftest_harness.h"

#define VIRTIO_F_VERSION_1	32
#define DEVICE_FEATURE_MASK	((1ULL << 24) - 1)
#define KNOWN_FEATURES		((1ULL << VBRIDGE_F_FS) | \
				 (1ULL << VBRIDGE_F_DISPLAY) | \
				 (1ULL << VBRIDGE_F_MQ) | \
				 (1ULL << VBRIDGE_F_EVENT_QUEUE) | \
				 (1ULL << VBRIDGE_F_DEBUG) | \
				 (1ULL << VBRIDGE_F_FS_HANDLES) | \
				 (1ULL << VBRIDGE_F_FS_COHERENT))
#define GUARD			64
#define GUARD_BYTE		0x5a

static const char *dev_path(void)
{
	const char *path = getenv("VBRIDGE_DEV");

	return path && *path ? path : "/dev/vbridge0";
}

static unsigned int env_uint(const char *name, unsigned int def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	v = strtoul(s, &end, 0);
	return *end || !v ? def : (unsigned int)v;
}

static bool has_feature(const struct vbridge_ioc_info *info, unsigned int bit)
{
	return info->features & (1ULL << bit);
}

/* Largest ECHO payload: both headers must fit in max_req_size. */
static uint32_t max_echo(const struct vbridge_ioc_info *info)
{
	return info->max_req_size - sizeof(struct vbridge_req_hdr);
}

static void fill_random(uint8_t *buf, size_t len, unsigned int *seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = rand_r(seed);
}

/*
 * ECHO @len random bytes into a fresh output buffer, followed by a guard
 * area.  Returns 0, or an errno (ioctl failure) or -1 (bad data).
 */
static int echo_check(int fd, uint8_t *in, uint8_t *out, uint32_t len,
		      unsigned int *seed)
{
	struct vbridge_ioc_echo echo = {
		.in_ptr = (uintptr_t)in,
		.out_ptr = (uintptr_t)out,
		.len = len,
		.out_len = ~0U,
	};
	size_t i;

	fill_random(in, len, seed);
	/* Every byte differs from the expected one until it is echoed. */
	for (i = 0; i < len; i++)
		out[i] = ~in[i];
	memset(out + len, GUARD_BYTE, GUARD);
	if (ioctl(fd, VBRIDGE_IOC_ECHO, &echo))
		return errno;
	if (echo.out_len != len)
		return -1;
	if (memcmp(in, out, len))
		return -1;
	for (i = 0; i < GUARD; i++)
		if (out[len + i] != GUARD_BYTE)
			return -1;
	return 0;
}

FIXTURE(vbridge) {
	int fd;
	struct vbridge_ioc_info info;
};

FIXTURE_SETUP(vbridge)
{
	const char *path = dev_path();

	self->fd = open(path, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "%s: %s (no vbridge device?)", path,
		     strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, VBRIDGE_IOC_GET_INFO, &self->info))
		TH_LOG("GET_INFO: %s", strerror(errno));
}

FIXTURE_TEARDOWN(vbridge)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(vbridge, node)
{
	struct stat st;

	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_F(vbridge, get_info)
{
	const struct vbridge_ioc_info *info = &self->info;
	unsigned int i, j;

	TH_LOG("protocol %u.%u features %#llx queues %u max_req_size %u max_inflight %u tags %u scanouts %u (%ux%u)",
	       info->major, info->minor,
	       (unsigned long long)info->features, info->num_request_queues,
	       info->max_req_size, info->max_inflight, info->num_tags,
	       info->num_scanouts, info->display_width,
	       info->display_height);

	EXPECT_EQ(VBRIDGE_PROTO_MAJOR, info->major);
	EXPECT_LE(info->minor, VBRIDGE_PROTO_MINOR);
	EXPECT_TRUE(has_feature(info, VIRTIO_F_VERSION_1));
	/* Only features the driver knows can be negotiated. */
	EXPECT_EQ(0ULL, info->features & DEVICE_FEATURE_MASK & ~KNOWN_FEATURES);
	EXPECT_GE(info->num_request_queues, 1U);
	EXPECT_LE(info->num_request_queues, (__u32)VBRIDGE_MAX_REQUEST_QUEUES);
	if (!has_feature(info, VBRIDGE_F_MQ))
		EXPECT_EQ(1U, info->num_request_queues);
	EXPECT_GE(info->max_req_size, (__u32)VBRIDGE_MIN_REQ_SIZE);
	EXPECT_GE(info->max_inflight, 1U);
	EXPECT_LE(info->num_tags, (__u32)VBRIDGE_MAX_TAGS);
	for (i = 0; i < info->num_tags && i < VBRIDGE_MAX_TAGS; i++) {
		size_t len = strnlen(info->tags[i], sizeof(info->tags[i]));

		EXPECT_LT(len, sizeof(info->tags[i]));
		EXPECT_GT(len, 0UL);
		for (j = 0; j < i; j++)
			EXPECT_NE(0, strcmp(info->tags[i], info->tags[j]));
	}
	if (has_feature(info, VBRIDGE_F_DISPLAY)) {
		EXPECT_GE(info->num_scanouts, 1U);
		EXPECT_GT(info->display_width, 0U);
		EXPECT_GT(info->display_height, 0U);
	}
	TH_LOG("event queue: %s, debug requests: %s",
	       has_feature(info, VBRIDGE_F_EVENT_QUEUE) ? "yes" : "no",
	       has_feature(info, VBRIDGE_F_DEBUG) ? "yes" : "no");
}

TEST_F(vbridge, get_info_efault)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, VBRIDGE_IOC_GET_INFO, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(vbridge, ping)
{
	int ret = ioctl(self->fd, VBRIDGE_IOC_PING);

	if (!has_feature(&self->info, VBRIDGE_F_DEBUG)) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EOPNOTSUPP, errno);
		SKIP(return, "VBRIDGE_F_DEBUG not negotiated");
	}
	ASSERT_EQ(0, ret) TH_LOG("PING: %s", strerror(errno));
}

TEST_F(vbridge, echo_sizes)
{
	uint32_t max = max_echo(&self->info);
	const uint32_t sizes[] = {
		0, 1, 2, 511, 512, 513, 4095, 4096, 4097, 8192, 65535, 65536,
		max - 4097, max - 1, max,
	};
	unsigned int seed = 1, i;
	uint8_t *in, *out;

	if (!has_feature(&self->info, VBRIDGE_F_DEBUG))
		SKIP(return, "VBRIDGE_F_DEBUG not negotiated");

	in = malloc(max + GUARD);
	ASSERT_NE(NULL, in);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		if (sizes[i] > max)
			continue;
		/* A fresh output buffer for every request. */
		out = malloc(sizes[i] + GUARD);
		ASSERT_NE(NULL, out);
		EXPECT_EQ(0, echo_check(self->fd, in, out, sizes[i], &seed))
			TH_LOG("ECHO of %u bytes failed", sizes[i]);
		free(out);
	}
	free(in);
}

TEST_F(vbridge, echo_too_large)
{
	uint32_t max = max_echo(&self->info);
	const uint32_t sizes[] = { max + 1, max + 4096, UINT32_MAX };
	struct vbridge_ioc_echo echo = {};
	unsigned int i;
	uint8_t *buf;

	if (!has_feature(&self->info, VBRIDGE_F_DEBUG))
		SKIP(return, "VBRIDGE_F_DEBUG not negotiated");

	buf = malloc(max + 4096);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		echo.in_ptr = (uintptr_t)buf;
		echo.out_ptr = (uintptr_t)buf;
		echo.len = sizes[i];
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, VBRIDGE_IOC_ECHO, &echo))
			TH_LOG("ECHO of %u bytes accepted", sizes[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	free(buf);
}

TEST_F(vbridge, echo_efault)
{
	const uint32_t sizes[] = { 16, 8192 };	/* inline and page paths */
	struct vbridge_ioc_echo echo = {};
	uint8_t buf[8192];
	unsigned int i;

	if (!has_feature(&self->info, VBRIDGE_F_DEBUG))
		SKIP(return, "VBRIDGE_F_DEBUG not negotiated");

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		if (sizes[i] > max_echo(&self->info))
			continue;
		echo.len = sizes[i];
		echo.in_ptr = 8;
		echo.out_ptr = (uintptr_t)buf;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, VBRIDGE_IOC_ECHO, &echo));
		EXPECT_EQ(EFAULT, errno);

		memset(buf, 0, sizeof(buf));
		echo.in_ptr = (uintptr_t)buf;
		echo.out_ptr = 8;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, VBRIDGE_IOC_ECHO, &echo));
		EXPECT_EQ(EFAULT, errno);
	}
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, VBRIDGE_IOC_ECHO, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

struct echo_thread {
	pthread_t thread;
	int fd;
	unsigned int iters;
	uint32_t max;
	unsigned int seed;
	unsigned int done;
	unsigned int failed;
	int first_error;
	unsigned long long bytes;
};

/* Random size, biased towards small requests but reaching 64 KiB. */
static uint32_t random_size(unsigned int *seed, uint32_t max)
{
	unsigned int r = rand_r(seed);
	uint32_t limit;

	switch (r % 10) {
	case 0 ... 4:
		limit = 512;
		break;
	case 5 ... 8:
		limit = 16384;
		break;
	default:
		limit = 65536;
		break;
	}
	if (limit > max)
		limit = max;
	return (uint32_t)rand_r(seed) % (limit + 1);
}

static void *echo_thread_fn(void *arg)
{
	struct echo_thread *t = arg;
	uint8_t *in = malloc(t->max + GUARD);
	uint8_t *out = malloc(t->max + GUARD);
	unsigned int i;
	uint32_t len;
	int ret;

	if (!in || !out) {
		t->failed = t->iters;
		t->first_error = ENOMEM;
		goto out;
	}
	for (i = 0; i < t->iters; i++) {
		len = random_size(&t->seed, t->max);
		ret = echo_check(t->fd, in, out, len, &t->seed);
		if (ret) {
			if (!t->failed)
				t->first_error = ret;
			t->failed++;
			continue;
		}
		t->done++;
		t->bytes += len;
	}
out:
	free(in);
	free(out);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Many threads, each with its own file descriptor, ECHO random payloads
 * of random sizes concurrently: enough requests in flight to fill the
 * rings and exercise the driver's ring-full back-off.
 */
TEST_F_TIMEOUT(vbridge, echo_concurrent, 600)
{
	unsigned int nthreads = env_uint("VBRIDGE_THREADS", 32);
	unsigned int iters = env_uint("VBRIDGE_ITERS", 500);
	uint32_t max = max_echo(&self->info);
	unsigned long long done = 0, failed = 0, bytes = 0;
	struct echo_thread *threads;
	double start, elapsed;
	unsigned int i;

	if (!has_feature(&self->info, VBRIDGE_F_DEBUG))
		SKIP(return, "VBRIDGE_F_DEBUG not negotiated");
	if (max > 65536)
		max = 65536;

	threads = calloc(nthreads, sizeof(*threads));
	ASSERT_NE(NULL, threads);
	start = now_s();
	for (i = 0; i < nthreads; i++) {
		threads[i].fd = i % 2 ? open(dev_path(), O_RDWR | O_CLOEXEC) :
					self->fd;
		ASSERT_LE(0, threads[i].fd);
		threads[i].iters = iters;
		threads[i].max = max;
		threads[i].seed = 0x9e3779b9u * (i + 1);
		ASSERT_EQ(0, pthread_create(&threads[i].thread, NULL,
					    echo_thread_fn, &threads[i]));
	}
	for (i = 0; i < nthreads; i++) {
		ASSERT_EQ(0, pthread_join(threads[i].thread, NULL));
		if (threads[i].fd != self->fd)
			close(threads[i].fd);
		if (threads[i].failed)
			TH_LOG("thread %u: %u failures, first: %s", i,
			       threads[i].failed,
			       threads[i].first_error > 0 ?
			       strerror(threads[i].first_error) :
			       "bad data");
		done += threads[i].done;
		failed += threads[i].failed;
		bytes += threads[i].bytes;
	}
	elapsed = now_s() - start;
	TH_LOG("%llu ECHO requests (%llu payload bytes) from %u threads in %.2f s: %.0f requests/s",
	       done, bytes, nthreads, elapsed, done / elapsed);
	EXPECT_EQ(0ULL, failed);
	EXPECT_EQ((unsigned long long)nthreads * iters, done);
	free(threads);
}

TEST_F(vbridge, event_test)
{
	struct vbridge_ioc_event_test test = { .timeout_ms = 5000 };
	unsigned int seed = (unsigned int)time(NULL), i;
	int ret;

	test.cookie = ((uint64_t)rand_r(&seed) << 32) | rand_r(&seed);
	ret = ioctl(self->fd, VBRIDGE_IOC_EVENT_TEST, &test);
	if (!has_feature(&self->info, VBRIDGE_F_DEBUG) ||
	    !has_feature(&self->info, VBRIDGE_F_EVENT_QUEUE)) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EOPNOTSUPP, errno);
		SKIP(return, "VBRIDGE_F_DEBUG or VBRIDGE_F_EVENT_QUEUE not negotiated");
	}
	ASSERT_EQ(0, ret) TH_LOG("EVENT_TEST: %s", strerror(errno));

	/* More round trips, with cookies of every shape. */
	for (i = 0; i < 100; i++) {
		test.cookie = i % 2 ? ~(uint64_t)i : (uint64_t)i << 40;
		ASSERT_EQ(0, ioctl(self->fd, VBRIDGE_IOC_EVENT_TEST, &test))
			TH_LOG("EVENT_TEST %u (cookie %#llx): %s", i,
			       (unsigned long long)test.cookie,
			       strerror(errno));
	}
}

TEST_F(vbridge, event_test_bad_padding)
{
	struct vbridge_ioc_event_test test = {
		.cookie = 1, .timeout_ms = 1000, .padding = 1,
	};

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, VBRIDGE_IOC_EVENT_TEST, &test));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vbridge, bad_ioctl)
{
	int arg = 0;

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IO(VBRIDGE_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IOR('x', 0, int), &arg));
	EXPECT_EQ(ENOTTY, errno);
	/* Right number, wrong size. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IOR(VBRIDGE_IOC_MAGIC, 0, int), &arg));
	EXPECT_EQ(ENOTTY, errno);
}

struct loop_thread {
	pthread_t thread;
	int fd;
	uint32_t len;
	int *stop;
	unsigned int seed;
	unsigned int ok;
	unsigned int eintr;
	unsigned int etimedout;
	unsigned int bad;
	int other;
};

/* ECHO @len bytes until told to stop, counting the outcomes. */
static void *loop_thread_fn(void *arg)
{
	struct loop_thread *t = arg;
	uint8_t *in = malloc(t->len + GUARD);
	uint8_t *out = malloc(t->len + GUARD);
	int ret;

	if (!in || !out) {
		t->other = ENOMEM;
		goto out;
	}
	while (!__atomic_load_n(t->stop, __ATOMIC_RELAXED)) {
		ret = echo_check(t->fd, in, out, t->len, &t->seed);
		if (!ret)
			t->ok++;
		else if (ret == EINTR)
			t->eintr++;
		else if (ret == ETIMEDOUT)
			t->etimedout++;
		else if (ret < 0)
			t->bad++;
		else
			t->other = ret;
	}
out:
	free(in);
	free(out);
	return NULL;
}

static void sig_noop(int sig)
{
	(void)sig;
}

/*
 * Interrupt large ECHOs with signals: a request waiting for ring space
 * gives up (EINTR), one on the ring is waited for; neither may corrupt
 * later requests nor upset the driver.  (A request timeout fails the
 * whole device now: vbridge_destructive tests it in a boot of its own.)
 */
TEST_F_TIMEOUT(vbridge, echo_interrupted, 120)
{
	struct sigaction sa = { .sa_handler = sig_noop };	/* no SA_RESTART */
	struct loop_thread threads[4];
	unsigned int i, j, eintr = 0;
	uint32_t len = max_echo(&self->info);
	int stop = 0;

	if (!has_feature(&self->info, VBRIDGE_F_DEBUG))
		SKIP(return, "VBRIDGE_F_DEBUG not negotiated");
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));

	for (i = 0; i < 4; i++) {
		threads[i] = (struct loop_thread){
			.fd = self->fd, .stop = &stop, .seed = i + 1,
			.len = i % 2 ? len : len / 3,
		};
		ASSERT_EQ(0, pthread_create(&threads[i].thread, NULL,
					    loop_thread_fn, &threads[i]));
	}
	for (j = 0; j < 2000; j++) {
		for (i = 0; i < 4; i++)
			pthread_kill(threads[i].thread, SIGUSR1);
		usleep(1000);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(threads[i].thread, NULL));
		TH_LOG("thread %u: %u ok, %u interrupted", i, threads[i].ok,
		       threads[i].eintr);
		EXPECT_EQ(0U, threads[i].bad);
		EXPECT_EQ(0U, threads[i].etimedout);
		EXPECT_EQ(0, threads[i].other);
		eintr += threads[i].eintr;
	}
	if (!eintr)
		TH_LOG("no request was interrupted (host too fast?)");
	EXPECT_EQ(0, ioctl(self->fd, VBRIDGE_IOC_PING));
}

struct unbind_thread {
	pthread_t thread;
	int fd;
	int *stop;
	unsigned int ok;
	int last_error;
};

static void *unbind_thread_fn(void *arg)
{
	struct unbind_thread *t = arg;
	uint8_t in[8192], out[8192];
	struct vbridge_ioc_echo echo = {
		.in_ptr = (uintptr_t)in,
		.out_ptr = (uintptr_t)out,
	};
	unsigned int i;

	memset(in, 0x42, sizeof(in));
	for (i = 0; !__atomic_load_n(t->stop, __ATOMIC_RELAXED); i++) {
		echo.len = i % 2 ? sizeof(in) : 64;
		if (ioctl(t->fd, VBRIDGE_IOC_ECHO, &echo)) {
			t->last_error = errno;
			if (errno == ENODEV)
				break;
			continue;
		}
		t->ok++;
	}
	return NULL;
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/*
 * Unbind the driver while the control node is open and requests are in
 * flight, then bind it again.  Destructive, so only with
 * VBRIDGE_TEST_UNBIND=1.
 */
TEST_F_TIMEOUT(vbridge, unbind_while_open, 120)
{
	const unsigned int nthreads = 8;
	struct unbind_thread threads[8];
	char link[256], target[256], *name;
	int stop = 0;
	unsigned int i;
	ssize_t n;

	if (!getenv("VBRIDGE_TEST_UNBIND"))
		SKIP(return, "destructive, set VBRIDGE_TEST_UNBIND=1");
	if (!has_feature(&self->info, VBRIDGE_F_DEBUG))
		SKIP(return, "VBRIDGE_F_DEBUG not negotiated");

	snprintf(link, sizeof(link), "/sys/class/misc/%s/device",
		 strrchr(dev_path(), '/') + 1);
	n = readlink(link, target, sizeof(target) - 1);
	ASSERT_LT(0, n) TH_LOG("%s: %s", link, strerror(errno));
	target[n] = '\0';
	name = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	TH_LOG("unbinding %s", name);

	for (i = 0; i < nthreads; i++) {
		threads[i] = (struct unbind_thread){ .fd = self->fd,
						     .stop = &stop };
		ASSERT_EQ(0, pthread_create(&threads[i].thread, NULL,
					    unbind_thread_fn, &threads[i]));
	}
	usleep(200000);
	ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/vbridge/unbind",
				 name));
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nthreads; i++) {
		ASSERT_EQ(0, pthread_join(threads[i].thread, NULL));
		TH_LOG("thread %u: %u ECHOs, last error %d", i, threads[i].ok,
		       threads[i].last_error);
		EXPECT_GT(threads[i].ok, 0U);
	}

	/* The node is still open: everything fails with ENODEV. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, VBRIDGE_IOC_PING));
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, VBRIDGE_IOC_GET_INFO, &self->info));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_NE(0, access(dev_path(), F_OK));

	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, sysfs_write("/sys/bus/virtio/drivers/vbridge/bind",
				 name));
	for (i = 0; i < 50 && access(dev_path(), F_OK); i++)
		usleep(100000);
	self->fd = open(dev_path(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("%s after rebind: %s", dev_path(),
				      strerror(errno));
	EXPECT_EQ(0, ioctl(self->fd, VBRIDGE_IOC_PING));
}

TEST_HARNESS_MAIN
