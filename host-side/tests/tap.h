/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Minimal TAP test harness: each test runs in its own process, under a
 * time limit, with the daemon's log captured.
 */
#ifndef VBD_TAP_H
#define VBD_TAP_H

#include <stdbool.h>
#include <stdint.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
};

/* Run the tests whose name contains argv[1] (all without it). */
int tap_main(const struct tap_test *tests, unsigned int n, int argc,
	     char **argv);

void tap_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* End the test as skipped, for a reason such as a missing host feature. */
void tap_skip(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* Whether the daemon logged a line containing s during this test. */
bool tap_log_contains(const char *s);

#define CHECK(cond)							\
	do {								\
		if (!(cond))						\
			tap_fail(__FILE__, __LINE__, "%s", #cond);	\
	} while (0)

#define CHECK_EQ(a, b)							\
	do {								\
		long long a_ = (long long)(a), b_ = (long long)(b);	\
		if (a_ != b_)						\
			tap_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
				 #a, #b, a_, b_);			\
	} while (0)

#endif /* VBD_TAP_H */
