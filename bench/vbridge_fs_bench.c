// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge_fs_bench: the same file workload on any mounted directory, so
 * that vbridgefs, virtio-9p and virtiofs are measured side by side in one
 * guest boot.  Prints one line per phase:
 *
 *   fs=LABEL phase=NAME ops=N ms=T [MB/s=R]
 *
 * usage: vbridge_fs_bench -l LABEL [-n FILES] [-s MIB] DIR
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define IO_CHUNK	(1 << 20)

static const char *label = "?";

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "vbridge_fs_bench: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void report(const char *phase, long ops, double ms, double mib)
{
	printf("fs=%s phase=%s ops=%ld ms=%.1f", label, phase, ops, ms);
	if (mib > 0)
		printf(" MB/s=%.1f", mib * 1048576.0 / 1e6 / (ms / 1e3));
	printf("\n");
	fflush(stdout);
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			perror("drop_caches");
		close(fd);
	}
}

static void read_file(const char *path, char *buf, long mib, const char *phase)
{
	double t = now_ms();
	long total = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open", path);
	while ((n = read(fd, buf, IO_CHUNK)) > 0)
		total += n;
	if (n < 0 || total != mib << 20)
		die("read", path);
	close(fd);
	report(phase, mib, now_ms() - t, mib);
}

int main(int argc, char **argv)
{
	long files = 1000, mib = 64, i;
	char path[4096], *buf;
	struct dirent *de;
	struct stat st;
	double t;
	DIR *dir;
	int opt, fd;

	while ((opt = getopt(argc, argv, "l:n:s:")) != -1) {
		switch (opt) {
		case 'l': label = optarg; break;
		case 'n': files = atol(optarg); break;
		case 's': mib = atol(optarg); break;
		default:
			fprintf(stderr, "usage: %s -l LABEL [-n FILES] [-s MIB] DIR\n", argv[0]);
			return 2;
		}
	}
	if (optind != argc - 1 || files < 1 || mib < 1)
		return 2;

	snprintf(path, sizeof(path), "%s/bench.%d", argv[optind], getpid());
	if (mkdir(path, 0755))
		die("mkdir", path);
	if (chdir(path))
		die("chdir", path);

	t = now_ms();
	for (i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "f%06ld", i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die("create", path);
		close(fd);
	}
	report("create", files, now_ms() - t, 0);

	t = now_ms();
	for (i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "f%06ld", i);
		if (stat(path, &st))
			die("stat", path);
	}
	report("stat", files, now_ms() - t, 0);

	/* "ls -l": list the directory and stat every entry. */
	t = now_ms();
	dir = opendir(".");
	if (!dir)
		die("opendir", ".");
	i = 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			die("fstatat", de->d_name);
		i++;
	}
	closedir(dir);
	if (i != files) {
		fprintf(stderr, "vbridge_fs_bench: listed %ld of %ld files\n", i, files);
		return 1;
	}
	report("ls-l", files, now_ms() - t, 0);

	buf = malloc(IO_CHUNK);
	if (!buf)
		return 1;
	memset(buf, 0xa5, IO_CHUNK);
	t = now_ms();
	fd = open("big", O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		die("create", "big");
	for (i = 0; i < mib; i++)
		if (write(fd, buf, IO_CHUNK) != IO_CHUNK)
			die("write", "big");
	if (fsync(fd))
		die("fsync", "big");
	close(fd);
	report("write+fsync", mib, now_ms() - t, mib);

	drop_caches();
	read_file("big", buf, mib, "read-cold");
	read_file("big", buf, mib, "read-warm");
	free(buf);

	t = now_ms();
	for (i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "f%06ld", i);
		if (unlink(path))
			die("unlink", path);
	}
	report("unlink", files, now_ms() - t, 0);
	if (unlink("big"))
		die("unlink", "big");
	snprintf(path, sizeof(path), "%s/bench.%d", argv[optind], getpid());
	if (chdir("/") || rmdir(path))
		die("rmdir", path);
	return 0;
}
