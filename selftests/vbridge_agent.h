/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest side of the host agent (scripts/host-agent.sh), shared by the
 * selftests: a command goes to DIR/.agent/cmd-ID, written aside and
 * renamed so that the agent never reads half of it, and the agent
 * answers in DIR/.agent/done-ID.  Header-only: each selftest is a single
 * source file.
 */
#ifndef VBRIDGE_AGENT_H
#define VBRIDGE_AGENT_H

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Replace the contents of @path with @buf; 0 or -1. */
static inline int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, buf, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* Whether a host agent serves the export mounted on @dir. */
static inline bool agent_present(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/.agent", dir);
	return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/*
 * Run @cmd on the host through the agent serving @dir and wait up to
 * @timeout_ms for it to be done.  @done_ms, if not NULL, gets the time
 * that was seen; @reply, if not NULL, the first line of the answer.
 * 0, or -1 on failure or timeout.
 */
static inline int agent_call(const char *dir, const char *cmd, int timeout_ms,
			     double *done_ms, char *reply, size_t size)
{
	static int seq;
	char tmp[PATH_MAX], path[PATH_MAX], done[PATH_MAX];
	int id = getpid() * 100 + seq++;
	double t0 = now_ms();
	ssize_t n, len = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.agent/tmp-%d", dir, id);
	snprintf(path, sizeof(path), "%s/.agent/cmd-%d", dir, id);
	snprintf(done, sizeof(done), "%s/.agent/done-%d", dir, id);
	if (write_file(tmp, cmd, strlen(cmd)) || rename(tmp, path))
		return -1;
	while (access(done, F_OK)) {
		if (now_ms() - t0 > timeout_ms)
			return -1;
		usleep(2000);
	}
	if (done_ms)
		*done_ms = now_ms();
	if (reply) {
		fd = open(done, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			len = -1;
		while (fd >= 0 && (size_t)len < size - 1 &&
		       (n = read(fd, reply + len, size - 1 - len)) > 0)
			len += n;
		if (fd >= 0)
			close(fd);
	}
	unlink(done);
	if (len < 0)
		return -1;
	if (reply) {
		reply[len] = '\0';
		reply[strcspn(reply, "\n")] = '\0';
	}
	return 0;
}

#endif /* VBRIDGE_AGENT_H */
