// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TAP harness.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "log.h"
#include "tap.h"

#define TEST_TIMEOUT_S	60
#define TAP_SKIP_STATUS	77

/* Why the test running in a child was skipped: shared with the parent. */
static char *skip_reason;

static char *read_log(void)
{
	off_t size = lseek(vbd_log_fd, 0, SEEK_END);
	char *buf;

	if (size < 0)
		return NULL;
	buf = calloc(1, size + 1);
	if (buf && pread(vbd_log_fd, buf, size, 0) != size) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void dump_log(void)
{
	char *log = read_log(), *line, *save = NULL;

	if (!log)
		return;
	for (line = strtok_r(log, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		printf("#   log: %s\n", line);
	free(log);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void tap_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	dump_log();
	fflush(stdout);
	_exit(1);
}

void tap_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (skip_reason)
		vsnprintf(skip_reason, 256, fmt, ap);
	va_end(ap);
	fflush(stdout);
	exit(TAP_SKIP_STATUS);
}

bool tap_log_contains(const char *s)
{
	char *log = read_log();
	bool found = log && strstr(log, s);

	free(log);
	return found;
}

static int run_one(const struct tap_test *t)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (!pid) {
		vbd_log_fd = memfd_create("vbridged-log", MFD_CLOEXEC);
		if (vbd_log_fd < 0)
			vbd_log_fd = STDERR_FILENO;
		vbd_log_level = VBD_LOG_DEBUG;
		alarm(TEST_TIMEOUT_S);
		t->fn();
		/* exit(), not _exit(): LeakSanitizer checks at exit. */
		exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		printf("# killed by signal %d%s\n", WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == TAP_SKIP_STATUS)
		return 1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int tap_main(const struct tap_test *tests, unsigned int n, int argc,
	     char **argv)
{
	unsigned int i, run = 0, failed = 0;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	skip_reason = mmap(NULL, 256, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (skip_reason == MAP_FAILED)
		skip_reason = NULL;
	for (i = 0; i < n; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		run++;
		r = run_one(&tests[i]);
		if (r < 0) {
			failed++;
			printf("not ok %u - %s\n", run, tests[i].name);
		} else if (r > 0) {
			printf("ok %u - %s # SKIP %s\n", run, tests[i].name,
			       skip_reason ? skip_reason : "");
		} else {
			printf("ok %u - %s\n", run, tests[i].name);
		}
	}
	printf("1..%u\n", run);
	return failed ? 1 : 0;
}
