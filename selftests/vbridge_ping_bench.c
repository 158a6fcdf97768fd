// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge PING round-trip benchmark (not a test).
 *
 *   vbridge_ping_bench [-n requests] [-t threads] [-w warmup] [-d device]
 *
 * Sends empty PING requests through the control node (VBRIDGE_IOC_PING)
 * and prints the latency distribution in microseconds and the request
 * rate.  With -t, every thread sends -n requests on its own file
 * descriptor and the statistics cover all of them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/vbridge.h>

struct bench_thread {
	pthread_t thread;
	pthread_barrier_t *barrier;
	int fd;
	unsigned int n;
	unsigned int warmup;
	uint64_t *lat_ns;
	int error;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void *bench_fn(void *arg)
{
	struct bench_thread *t = arg;
	uint64_t start;
	unsigned int i;

	for (i = 0; i < t->warmup; i++) {
		if (ioctl(t->fd, VBRIDGE_IOC_PING)) {
			t->error = errno;
			break;
		}
	}
	pthread_barrier_wait(t->barrier);
	if (t->error)
		return NULL;
	for (i = 0; i < t->n; i++) {
		start = now_ns();
		if (ioctl(t->fd, VBRIDGE_IOC_PING)) {
			t->error = errno;
			return NULL;
		}
		t->lat_ns[i] = now_ns() - start;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n requests per thread] [-t threads] [-w warmup] [-d device]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dev = getenv("VBRIDGE_DEV");
	unsigned int n = 10000, nthreads = 1, warmup = 100, i;
	struct bench_thread *threads;
	pthread_barrier_t barrier;
	uint64_t *lat, start, wall, sum = 0;
	size_t total;
	int opt, ret = 0;

	if (!dev || !*dev)
		dev = "/dev/vbridge0";
	while ((opt = getopt(argc, argv, "n:t:w:d:h")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 't':
			nthreads = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			warmup = strtoul(optarg, NULL, 0);
			break;
		case 'd':
			dev = optarg;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!n || !nthreads)
		usage(argv[0]);

	total = (size_t)n * nthreads;
	lat = calloc(total, sizeof(*lat));
	threads = calloc(nthreads, sizeof(*threads));
	if (!lat || !threads) {
		perror("calloc");
		return 1;
	}
	pthread_barrier_init(&barrier, NULL, nthreads + 1);

	for (i = 0; i < nthreads; i++) {
		threads[i].fd = open(dev, O_RDWR | O_CLOEXEC);
		if (threads[i].fd < 0) {
			fprintf(stderr, "%s: %s\n", dev, strerror(errno));
			return 1;
		}
		threads[i].barrier = &barrier;
		threads[i].n = n;
		threads[i].warmup = warmup;
		threads[i].lat_ns = lat + (size_t)i * n;
		if (pthread_create(&threads[i].thread, NULL, bench_fn,
				   &threads[i])) {
			perror("pthread_create");
			return 1;
		}
	}
	pthread_barrier_wait(&barrier);
	start = now_ns();
	for (i = 0; i < nthreads; i++) {
		pthread_join(threads[i].thread, NULL);
		close(threads[i].fd);
		if (threads[i].error) {
			fprintf(stderr, "thread %u: PING: %s\n", i,
				strerror(threads[i].error));
			ret = 1;
		}
	}
	wall = now_ns() - start;
	if (ret)
		return ret;

	qsort(lat, total, sizeof(*lat), cmp_u64);
	for (i = 0; i < total; i++)
		sum += lat[i];

	printf("vbridge PING: %zu round trips, %u thread(s), device %s\n",
	       total, nthreads, dev);
	printf("latency us: min %.2f median %.2f p99 %.2f max %.2f mean %.2f\n",
	       lat[0] / 1e3, lat[total / 2] / 1e3,
	       lat[total * 99 / 100] / 1e3,
	       lat[total - 1] / 1e3, (double)sum / total / 1e3);
	printf("throughput: %.0f requests/s (%.3f s)\n",
	       total / (wall / 1e9), wall / 1e9);
	free(lat);
	free(threads);
	return 0;
}
