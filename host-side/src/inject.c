// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fault injection (--inject=SEED:RATE[:KIND,...]).
 *
 * Each reply (and event) is damaged with probability RATE, in one of the
 * enabled ways, chosen by a xorshift64* generator seeded with SEED, so a
 * run can be repeated.  The queue threads share one generator under a
 * mutex: the order of requests across queues is not reproducible anyway,
 * the mix of faults is.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/vbridge.h>

#include "inject.h"
#include "iov.h"
#include "log.h"

struct vbd_inject {
	pthread_mutex_t lock;
	uint64_t state;			/* under lock */
	uint64_t threshold;		/* damage when next() < threshold */
	uint32_t kinds;			/* enabled reply faults, a bit each */
	uint64_t count[VBD_NR_FAULTS];	/* under lock */
};

static const char *const fault_names[VBD_NR_FAULTS] = {
	[VBD_FAULT_NONE] = "none",
	[VBD_FAULT_SHORT] = "short",
	[VBD_FAULT_OVERSIZED] = "oversized",
	[VBD_FAULT_WRONG_ID] = "wrong-id",
	[VBD_FAULT_BAD_ERROR] = "bad-error",
	[VBD_FAULT_BAD_LEN] = "bad-len",
	[VBD_FAULT_GARBAGE] = "garbage",
	[VBD_FAULT_DROP] = "drop",
	[VBD_FAULT_EVENT] = "event",
	[VBD_FAULT_SLOW] = "slow",
};

const char *vbd_fault_name(enum vbd_fault f)
{
	return f < VBD_NR_FAULTS ? fault_names[f] : "?";
}

static enum vbd_fault fault_by_name(const char *s, size_t len)
{
	unsigned int i;

	for (i = VBD_FAULT_NONE + 1; i < VBD_NR_FAULTS; i++)
		if (strlen(fault_names[i]) == len &&
		    !strncmp(fault_names[i], s, len))
			return i;
	return VBD_FAULT_NONE;
}

/* Slow replies damage nothing, only time: by name only. */
#define DEFAULT_KINDS	(((1U << VBD_NR_FAULTS) - 1) & \
			 ~(1U << VBD_FAULT_NONE | 1U << VBD_FAULT_SLOW))

static int parse_kinds(const char *s, uint32_t *kinds)
{
	const char *end;
	enum vbd_fault f;

	*kinds = 0;
	for (;;) {
		end = strchrnul(s, ',');
		f = fault_by_name(s, end - s);
		if (f == VBD_FAULT_NONE)
			return -EINVAL;
		*kinds |= 1U << f;
		if (!*end)
			return 0;
		s = end + 1;
	}
}

static uint64_t next_locked(struct vbd_inject *inj)
{
	uint64_t x = inj->state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	inj->state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

struct vbd_inject *vbd_inject_new(const char *spec)
{
	struct vbd_inject *inj;
	uint32_t kinds = DEFAULT_KINDS;
	uint64_t seed;
	double rate;
	char *end;

	errno = 0;
	seed = strtoull(spec, &end, 0);
	if (end == spec || *end != ':' || errno || *spec == '-')
		goto invalid;
	spec = end + 1;
	rate = strtod(spec, &end);
	if (end == spec || errno || !(rate >= 0.0 && rate <= 1.0))
		goto invalid;
	if (*end == ':' ? parse_kinds(end + 1, &kinds) : *end != '\0')
		goto invalid;

	inj = calloc(1, sizeof(*inj));
	if (!inj)
		return NULL;
	pthread_mutex_init(&inj->lock, NULL);
	/* xorshift must not start from 0. */
	inj->state = seed ^ 0x9e3779b97f4a7c15ULL;
	inj->threshold = rate >= 1.0 ? UINT64_MAX :
			 (uint64_t)(rate * 18446744073709551616.0);
	inj->kinds = kinds;
	return inj;

invalid:
	errno = EINVAL;
	return NULL;
}

void vbd_inject_free(struct vbd_inject *inj)
{
	pthread_mutex_destroy(&inj->lock);
	free(inj);
}

/* Whether to damage this one, and how: a reply fault or VBD_FAULT_NONE. */
static enum vbd_fault pick_locked(struct vbd_inject *inj, uint32_t kinds)
{
	unsigned int n = __builtin_popcount(kinds), i;
	uint64_t r;

	if (!n || next_locked(inj) >= inj->threshold)
		return VBD_FAULT_NONE;
	r = next_locked(inj) % n;
	for (i = 0; i < VBD_NR_FAULTS; i++)
		if ((kinds & (1U << i)) && !r--)
			return i;
	return VBD_FAULT_NONE;
}

/* Flip up to 8 bytes in [off, off + len) of the iovec. */
static void flip_locked(struct vbd_inject *inj, const struct iovec *iov,
			unsigned int cnt, size_t off, size_t len)
{
	unsigned int n = 1 + next_locked(inj) % 8;
	uint8_t b;
	size_t at;

	while (len && n--) {
		at = off + next_locked(inj) % len;
		if (iov_to_buf(iov, cnt, at, &b, 1) != 1)
			return;
		b ^= 1U << (next_locked(inj) % 8) | (uint8_t)next_locked(inj);
		iov_from_buf(iov, cnt, at, &b, 1);
	}
}

enum vbd_fault vbd_inject_reply(struct vbd_inject *inj, const struct iovec *wr,
				unsigned int nr_wr, size_t wr_len,
				uint32_t *len)
{
	const uint32_t reply_kinds = inj->kinds & ~(1U << VBD_FAULT_EVENT);
	struct vbridge_resp_hdr h;
	enum vbd_fault f;
	uint32_t v;

	pthread_mutex_lock(&inj->lock);
	f = pick_locked(inj, reply_kinds);
	if (f != VBD_FAULT_NONE &&
	    iov_to_buf(wr, nr_wr, 0, &h, sizeof(h)) < sizeof(h))
		f = VBD_FAULT_NONE;
	switch (f) {
	case VBD_FAULT_SHORT:
		*len = *len ? next_locked(inj) % *len : 0;
		break;
	case VBD_FAULT_OVERSIZED:
		*len = wr_len + 1 + next_locked(inj) % 65536;
		break;
	case VBD_FAULT_WRONG_ID:
		h.unique ^= htole64(1 + next_locked(inj) % 1000);
		iov_from_buf(wr, nr_wr, 0, &h, sizeof(h));
		break;
	case VBD_FAULT_BAD_ERROR:
		v = next_locked(inj) & 1 ? 1 + next_locked(inj) % 100000 :
		    (uint32_t)-(int32_t)(4096 + next_locked(inj) % 100000);
		h.error = htole32(v);
		iov_from_buf(wr, nr_wr, 0, &h, sizeof(h));
		break;
	case VBD_FAULT_BAD_LEN:
		v = next_locked(inj) & 1 ? next_locked(inj) % sizeof(h) :
		    *len + 1 + next_locked(inj) % (1U << 24);
		h.len = htole32(v);
		iov_from_buf(wr, nr_wr, 0, &h, sizeof(h));
		break;
	case VBD_FAULT_GARBAGE:
		if (*len > sizeof(h))
			flip_locked(inj, wr, nr_wr, sizeof(h), *len - sizeof(h));
		else
			f = VBD_FAULT_NONE;
		break;
	default:
		break;
	}
	inj->count[f]++;
	pthread_mutex_unlock(&inj->lock);
	if (f == VBD_FAULT_SLOW)
		nanosleep(&(struct timespec){
				.tv_nsec = VBD_INJECT_SLOW_MS * 1000000L },
			  NULL);
	return f;
}

void vbd_inject_event(struct vbd_inject *inj, void *data, uint32_t len)
{
	struct iovec iov = { .iov_base = data, .iov_len = len };

	pthread_mutex_lock(&inj->lock);
	if (pick_locked(inj, inj->kinds & (1U << VBD_FAULT_EVENT)) ==
	    VBD_FAULT_EVENT) {
		flip_locked(inj, &iov, 1, 0, len);
		inj->count[VBD_FAULT_EVENT]++;
	}
	pthread_mutex_unlock(&inj->lock);
}

uint64_t vbd_inject_count(struct vbd_inject *inj, enum vbd_fault f)
{
	uint64_t n;

	pthread_mutex_lock(&inj->lock);
	n = f < VBD_NR_FAULTS ? inj->count[f] : 0;
	pthread_mutex_unlock(&inj->lock);
	return n;
}

void vbd_inject_log(struct vbd_inject *inj)
{
	uint64_t total = 0;
	char buf[512];
	size_t off = 0;
	unsigned int i;

	pthread_mutex_lock(&inj->lock);
	for (i = VBD_FAULT_NONE + 1; i < VBD_NR_FAULTS; i++) {
		total += inj->count[i];
		off += snprintf(buf + off, sizeof(buf) - off, " %s=%llu",
				fault_names[i],
				(unsigned long long)inj->count[i]);
	}
	pthread_mutex_unlock(&inj->lock);
	log_info("inject: %llu faults injected:%s", (unsigned long long)total,
		 buf);
}
