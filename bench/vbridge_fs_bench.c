// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge_fs_bench: one file-system workload, timed, on any directory, so
 * that every configuration (vbridgefs, ubridge, virtiofs, 9p, tmpfs, the
 * host itself) runs exactly the same code.  scripts/bench.sh drives it
 * through bench/workloads.sh.  One result line per run:
 *
 *   BENCH config=C workload=W ops=N bytes=B secs=S ctxt=X
 *
 * ctxt is the change of /proc/stat's "ctxt" (context switches of the
 * whole machine the workload runs on) across the timed section.  With
 * -p PORT (the guest's virtio-serial port to scripts/bench-agent.py),
 * "begin C W" and "end C W" are sent there just outside the timed
 * section and answered once the host has sampled its own counters.  On
 * failure: "BENCH-FAIL config=C workload=W error=..." and exit 1.
 *
 * usage: vbridge_fs_bench -c CONFIG -w WORKLOAD [-p PORT] [-n FILES]
 *                         [-s MIB] [-r READS] [-D] DIR
 *        vbridge_fs_bench -c CONFIG -w NAME [-p PORT] [-o OPS] [-b BYTES]
 *                         [-O OUT] -x -- COMMAND [ARG]...
 * WORKLOAD: create stat readdir read4k unlink (a directory DIR/files of
 * FILES 4 KiB files), find (fstatat of every entry below DIR),
 * seq-write-cold, seq-write-warm, seq-read-cold, seq-read-warm (DIR/big,
 * MIB MiB, 1 MiB calls), mmap (READS random 4 KiB page reads of DIR/big
 * through a private read-only mapping), layout (DIR/big without a result
 * line), odirect (prints 1 when DIR/big opens and reads with O_DIRECT).
 * Cold phases sync, drop the file's pages (POSIX_FADV_DONTNEED) and, with
 * -D, all of the machine's caches (/proc/sys/vm/drop_caches: guest only).
 * -x runs COMMAND (stdout to OUT, default /dev/null) as the workload.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define IO_CHUNK	(1 << 20)
#define SMALL_SIZE	4096

static const char *config = "?", *workload = "?", *port;
static long files = 1000, mib = 64, reads = 4096;
static int drop_all;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	printf("BENCH-FAIL config=%s workload=%s error=", config, workload);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(":%s\n", err ? strerror(err) : "-");
	fflush(stdout);
	exit(1);
}

static unsigned long long ctxt(void)
{
	unsigned long long v = 0;
	char line[256];
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ctxt %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Tell the host agent, and wait until it has taken its sample. */
static void mark(const char *what)
{
	char msg[512], c;
	int fd, n;

	if (!port)
		return;
	fd = open(port, O_RDWR);
	if (fd < 0)
		fail("open port %s", port);
	n = snprintf(msg, sizeof(msg), "%s %s %s\n", what, config, workload);
	if (write(fd, msg, n) != n)
		fail("write port");
	do {
		if (read(fd, &c, 1) != 1)
			fail("read port");
	} while (c != '\n');
	close(fd);
}

static unsigned long long ctxt0;
static double t0;

static void start(void)
{
	mark("begin");
	ctxt0 = ctxt();
	t0 = now_s();
}

static void stop(long long ops, long long bytes)
{
	double secs = now_s() - t0;
	unsigned long long c = ctxt() - ctxt0;

	mark("end");
	printf("BENCH config=%s workload=%s ops=%lld bytes=%lld secs=%.6f ctxt=%llu\n",
	       config, workload, ops, bytes, secs, c);
	fflush(stdout);
}

static void drop(const char *path)
{
	int fd;

	sync();
	if (path) {
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			close(fd);
		}
	}
	if (drop_all) {
		fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
		if (fd < 0 || write(fd, "3", 1) != 1)
			fail("drop_caches");
		close(fd);
	}
}

static void name(char *buf, long i)
{
	snprintf(buf, 32, "f%06ld", i);
}

static void small_files(const char *dir, char *buf)
{
	char path[32];
	struct dirent *de;
	struct stat st;
	long i, n;
	DIR *d;
	int fd;

	if (!strcmp(workload, "create")) {
		if (mkdir(dir, 0755))
			fail("mkdir %s", dir);
	} else if (!strcmp(workload, "read4k")) {
		drop(NULL);
	}
	if (chdir(dir))
		fail("chdir %s", dir);
	start();
	if (!strcmp(workload, "create")) {
		for (i = 0; i < files; i++) {
			name(path, i);
			fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (fd < 0 || write(fd, buf, SMALL_SIZE) != SMALL_SIZE)
				fail("create %s", path);
			close(fd);
		}
		stop(files, files * SMALL_SIZE);
	} else if (!strcmp(workload, "stat")) {
		for (i = 0; i < files; i++) {
			name(path, i);
			if (stat(path, &st) || st.st_size != SMALL_SIZE)
				fail("stat %s", path);
		}
		stop(files, 0);
	} else if (!strcmp(workload, "readdir")) {
		d = opendir(".");
		if (!d)
			fail("opendir");
		n = 0;
		errno = 0;
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		if (errno || n != files)
			fail("listed %ld of %ld", n, files);
		closedir(d);
		stop(files, 0);
	} else if (!strcmp(workload, "read4k")) {
		for (i = 0; i < files; i++) {
			name(path, i);
			fd = open(path, O_RDONLY);
			if (fd < 0 || read(fd, buf, IO_CHUNK) != SMALL_SIZE)
				fail("read %s", path);
			close(fd);
		}
		stop(files, files * SMALL_SIZE);
	} else {
		for (i = 0; i < files; i++) {
			name(path, i);
			if (unlink(path))
				fail("unlink %s", path);
		}
		if (chdir("..") || rmdir(dir))
			fail("rmdir %s", dir);
		stop(files, 0);
	}
}

/* "find DIR -ls": every entry below DIR, stat()ed, without following links. */
static long walk(int dfd)
{
	struct dirent *de;
	struct stat st;
	long n = 0;
	DIR *d = fdopendir(dfd);
	int sub;

	if (!d)
		fail("fdopendir");
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			fail("fstatat %s", de->d_name);
		n++;
		if (S_ISDIR(st.st_mode)) {
			sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY);
			if (sub < 0)
				fail("open %s", de->d_name);
			n += walk(sub);
		}
	}
	closedir(d);
	return n;
}

static void seq(const char *path, char *buf)
{
	int cold = strstr(workload, "cold") != NULL;
	int write_it = !strncmp(workload, "seq-write", 9);
	int layout = !strcmp(workload, "layout");
	long long total = 0;
	ssize_t n;
	long i;
	int fd;

	if (write_it || layout) {
		/* Cold: a new file.  Warm: overwrite the cached one in place. */
		if (cold || layout)
			unlink(path);
		fd = open(path, O_CREAT | O_WRONLY, 0644);
		if (fd < 0)
			fail("open %s", path);
		if (!layout)
			start();
		for (i = 0; i < mib; i++)
			if (write(fd, buf, IO_CHUNK) != IO_CHUNK)
				fail("write %s", path);
		if (fsync(fd))
			fail("fsync %s", path);
		close(fd);
		if (!layout)
			stop(mib, (long long)mib << 20);
		return;
	}
	if (cold)
		drop(path);
	start();
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open %s", path);
	while ((n = read(fd, buf, IO_CHUNK)) > 0)
		total += n;
	if (n < 0 || total != (long long)mib << 20)
		fail("read %s: %lld bytes", path, total);
	close(fd);
	stop(mib, total);
}

static void mmap_reads(const char *path)
{
	size_t len = (size_t)mib << 20, pages = len / 4096;
	volatile unsigned char *p;
	uint64_t x = 88172645463325252ull;
	unsigned long sum = 0;
	long i;
	int fd;

	drop(path);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail("open %s", path);
	start();
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		fail("mmap %s", path);
	for (i = 0; i < reads; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sum += p[(x % pages) * 4096 + (x >> 40) % 4096];
	}
	munmap((void *)p, len);
	stop(reads, reads * 4096LL);
	close(fd);
	if (sum == 1)	/* keeps the reads */
		fputc('\n', stderr);
}

static void odirect(const char *path)
{
	void *buf;
	int fd = open(path, O_RDONLY | O_DIRECT);

	if (fd >= 0 && !posix_memalign(&buf, 4096, 4096) &&
	    pread(fd, buf, 4096, 0) == 4096) {
		puts("1");
		return;
	}
	puts("0");
}

static void command(char **argv, const char *out, long long ops, long long bytes)
{
	int status, fd;
	pid_t pid;

	start();
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (!pid) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		fail("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		errno = 0;
		fail("%s exited with status %d", argv[0], status);
	}
	stop(ops, bytes);
}

int main(int argc, char **argv)
{
	long long ops = 0, bytes = 0;
	const char *out = "/dev/null";
	int opt, ext = 0;
	char *buf;
	int fd;

	while ((opt = getopt(argc, argv, "+c:w:p:n:s:r:o:b:O:Dx")) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'w': workload = optarg; break;
		case 'p': port = optarg; break;
		case 'n': files = atol(optarg); break;
		case 's': mib = atol(optarg); break;
		case 'r': reads = atol(optarg); break;
		case 'o': ops = atoll(optarg); break;
		case 'b': bytes = atoll(optarg); break;
		case 'O': out = optarg; break;
		case 'D': drop_all = 1; break;
		case 'x': ext = 1; break;
		default:
			fprintf(stderr, "usage: see the comment in bench/vbridge_fs_bench.c\n");
			return 2;
		}
	}
	if (optind >= argc || files < 1 || mib < 1 || reads < 1)
		return 2;
	if (ext) {
		command(argv + optind, out, ops, bytes);
		return 0;
	}
	buf = malloc(IO_CHUNK);
	if (!buf)
		return 1;
	memset(buf, 0xa5, IO_CHUNK);

	if (!strcmp(workload, "create") || !strcmp(workload, "stat") ||
	    !strcmp(workload, "readdir") || !strcmp(workload, "read4k") ||
	    !strcmp(workload, "unlink")) {
		small_files(argv[optind], buf);
	} else if (!strcmp(workload, "find")) {
		drop(NULL);
		fd = open(argv[optind], O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			fail("open %s", argv[optind]);
		start();
		ops = walk(fd);
		stop(ops, 0);
	} else if (!strncmp(workload, "seq-", 4) || !strcmp(workload, "layout")) {
		seq(argv[optind], buf);
	} else if (!strcmp(workload, "mmap")) {
		mmap_reads(argv[optind]);
	} else if (!strcmp(workload, "odirect")) {
		odirect(argv[optind]);
	} else {
		fprintf(stderr, "vbridge_fs_bench: unknown workload %s\n", workload);
		return 2;
	}
	free(buf);
	return 0;
}
