/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vbridged logging: one line per message on stderr, "vbridged: LEVEL: ...".
 */
#ifndef VBD_LOG_H
#define VBD_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum vbd_log_level {
	VBD_LOG_ERROR,
	VBD_LOG_WARN,
	VBD_LOG_INFO,
	VBD_LOG_DEBUG,
};

/*
 * Both are set once at startup, before any thread exists, and only read
 * afterwards.
 */
extern enum vbd_log_level vbd_log_level;
extern int vbd_log_fd;

void vbd_log(enum vbd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int vbd_log_parse_level(const char *name, enum vbd_log_level *level);

#define log_err(...)	vbd_log(VBD_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	vbd_log(VBD_LOG_WARN, __VA_ARGS__)
#define log_info(...)	vbd_log(VBD_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	vbd_log(VBD_LOG_DEBUG, __VA_ARGS__)

/*
 * Guest-triggered messages go through a rate limit so that a hostile
 * guest cannot flood the host's logs.  Not thread-safe: each limiter is
 * owned by one lock holder (e.g. a virtqueue).
 */
struct vbd_ratelimit {
	uint64_t begin_ms;
	unsigned int printed;
	unsigned int missed;
};

bool vbd_ratelimit(struct vbd_ratelimit *rl);

#endif /* VBD_LOG_H */
