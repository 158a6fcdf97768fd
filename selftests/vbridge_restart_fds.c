// SPDX-License-Identifier: GPL-2.0
/*
 * Descriptors and locks across a backend restart, for the restart job
 * (image/guest/vb-restart), which kills vbridged and renames files on
 * the host while it is down.
 *
 *   vbridge_restart_fds hold FILE DIR TEXT NAMES APPEND SYNC
 *	Open FILE read-write and take a POSIX write lock on all of it,
 *	open DIR and read it once; create SYNC.ready.  Once SYNC.go
 *	exists: FILE must read TEXT through the old descriptor, APPEND is
 *	written at its end, DIR listed through the old descriptor must
 *	hold every name of the comma-separated NAMES; TAP lines on stdout.
 *	Then create SYNC.done and keep the lock until SYNC.exit exists.
 *   vbridge_restart_fds lost FILE SYNC
 *	Open FILE read-write and take a POSIX write lock on all of it;
 *	create SYNC.ready.  The host takes the same lock while vbridged is
 *	down, so that the new one cannot give it back to us: once SYNC.go
 *	exists, I/O and lock calls on FILE must fail with EIO (TAP lines).
 *	Then create SYNC.done and close FILE once SYNC.exit exists.
 *   vbridge_restart_fds trylock FILE
 *	Try to take a POSIX write lock on FILE from a second process:
 *	exit 0 if taken, 1 if someone holds it (EAGAIN, EACCES), 2 on
 *	any other error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int status;

static void result(int ok, const char *what)
{
	printf("%sok - %s\n", ok ? "" : "not ", what);
	if (!ok)
		status = 1;
}

static int write_lock(int fd)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
	};

	return fcntl(fd, F_SETLK, &fl);
}

static void touch(const char *sync, const char *what)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s.%s", sync, what);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
}

/* Wait up to 300 s for SYNC.what. */
static int wait_for(const char *sync, const char *what)
{
	char path[512];
	struct stat st;
	int i;

	snprintf(path, sizeof(path), "%s.%s", sync, what);
	for (i = 0; i < 3000; i++) {
		if (!stat(path, &st))
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "restart_fds: no %s\n", path);
	return -1;
}

/* Whether every comma-separated name of names is an entry of d. */
static int lists_all(DIR *d, const char *names)
{
	char buf[512], *name, *save = NULL;
	struct dirent *de;
	int found;

	snprintf(buf, sizeof(buf), "%s", names);
	for (name = strtok_r(buf, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		found = 0;
		rewinddir(d);
		errno = 0;
		while ((de = readdir(d)))
			if (!strcmp(de->d_name, name))
				found = 1;
		if (errno)
			printf("# readdir: %s\n", strerror(errno));
		if (!found) {
			printf("# %s not listed\n", name);
			return 0;
		}
	}
	return 1;
}

static int hold(char **argv)
{
	const char *file = argv[0], *dir = argv[1], *text = argv[2];
	const char *names = argv[3], *append = argv[4], *sync = argv[5];
	char buf[4096];
	struct stat st;
	ssize_t n;
	DIR *d;
	int fd;

	fd = open(file, O_RDWR);
	if (fd < 0 || write_lock(fd)) {
		perror(file);
		return 2;
	}
	d = opendir(dir);
	if (!d || !lists_all(d, names)) {
		perror(dir);
		return 2;
	}
	touch(sync, "ready");
	if (wait_for(sync, "go"))
		return 2;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	if (n < 0)
		printf("# read: %s\n", strerror(errno));
	result(n == (ssize_t)strlen(text) && !strcmp(buf, text),
	       "file renamed on the host while vbridged was down: read through a descriptor opened before");
	n = fstat(fd, &st) ? -1 :
	    pwrite(fd, append, strlen(append), st.st_size);
	if (n < 0)
		printf("# write: %s\n", strerror(errno));
	result(n == (ssize_t)strlen(append) && !fsync(fd),
	       "file renamed on the host while vbridged was down: written through a descriptor opened before");
	result(lists_all(d, names),
	       "directory renamed on the host while vbridged was down: listed through a descriptor opened before");
	fflush(stdout);
	touch(sync, "done");
	/* The lock is ours until we close or exit. */
	if (wait_for(sync, "exit"))
		return 2;
	closedir(d);
	close(fd);
	return status;
}

static int lost(const char *file, const char *sync)
{
	struct flock fl = {
		.l_type = F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = 1,
		.l_len = 1,
	};
	char c;
	int fd;

	fd = open(file, O_RDWR);
	if (fd < 0 || write_lock(fd)) {
		perror(file);
		return 2;
	}
	touch(sync, "ready");
	if (wait_for(sync, "go"))
		return 2;
	errno = 0;
	result(pread(fd, &c, 1, 0) < 0 && errno == EIO,
	       "lock taken by the host while vbridged was down: reads fail with EIO");
	errno = 0;
	result(pwrite(fd, "x", 1, 0) < 0 && errno == EIO,
	       "lock taken by the host while vbridged was down: writes fail with EIO");
	errno = 0;
	result(fcntl(fd, F_SETLK, &fl) < 0 && errno == EIO,
	       "lock taken by the host while vbridged was down: lock calls fail with EIO");
	fflush(stdout);
	touch(sync, "done");
	if (wait_for(sync, "exit"))
		return 2;
	close(fd);
	return status;
}

static int trylock(const char *file)
{
	int fd = open(file, O_RDWR);

	if (fd < 0) {
		perror(file);
		return 2;
	}
	if (!write_lock(fd))
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return 1;
	perror("F_SETLK");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 8 && !strcmp(argv[1], "hold"))
		return hold(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "lost"))
		return lost(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "trylock"))
		return trylock(argv[2]);
	fprintf(stderr, "usage: %s hold FILE DIR TEXT NAMES APPEND SYNC | lost FILE SYNC | trylock FILE\n",
		argv[0]);
	return 2;
}
