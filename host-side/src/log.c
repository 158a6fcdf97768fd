// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridged logging.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

enum vbd_log_level vbd_log_level = VBD_LOG_INFO;
int vbd_log_fd = STDERR_FILENO;

static const char *const level_names[] = {
	[VBD_LOG_ERROR] = "error",
	[VBD_LOG_WARN] = "warning",
	[VBD_LOG_INFO] = "info",
	[VBD_LOG_DEBUG] = "debug",
};

void vbd_log(enum vbd_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int saved_errno = errno;
	int prefix, len;
	ssize_t n;

	if (level > vbd_log_level)
		return;

	prefix = snprintf(buf, sizeof(buf), "vbridged: %s: ", level_names[level]);
	va_start(ap, fmt);
	len = vsnprintf(buf + prefix, sizeof(buf) - prefix - 1, fmt, ap);
	va_end(ap);
	/* Truncate, keeping room for the newline. */
	len = len < 0 ? prefix : prefix + len;
	if (len > (int)sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';

	/* One write per line keeps lines from concurrent threads whole. */
	n = write(vbd_log_fd, buf, len);
	(void)n;	/* a failure has nowhere to be reported */
	errno = saved_errno;
}

int vbd_log_parse_level(const char *name, enum vbd_log_level *level)
{
	static const struct {
		const char *name;
		enum vbd_log_level level;
	} names[] = {
		{ "error", VBD_LOG_ERROR },
		{ "warn", VBD_LOG_WARN },
		{ "warning", VBD_LOG_WARN },
		{ "info", VBD_LOG_INFO },
		{ "debug", VBD_LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcasecmp(name, names[i].name)) {
			*level = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

#define RATELIMIT_INTERVAL_MS	5000
#define RATELIMIT_BURST		10

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool vbd_ratelimit(struct vbd_ratelimit *rl)
{
	uint64_t now = monotonic_ms();

	if (!rl->begin_ms || now - rl->begin_ms >= RATELIMIT_INTERVAL_MS) {
		if (rl->missed)
			log_warn("%u similar messages suppressed", rl->missed);
		rl->begin_ms = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed < RATELIMIT_BURST) {
		rl->printed++;
		return true;
	}
	rl->missed++;
	return false;
}
