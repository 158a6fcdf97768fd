// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the fault injector (--inject): the option syntax, the
 * rate, each kind of damage, and that a seed reproduces a run.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/vbridge.h>

#include "inject.h"
#include "tap.h"
#include "util.h"

/* A reply as handle_request() leaves it: header, then 100 payload bytes. */
struct reply {
	struct vbridge_resp_hdr h;
	uint8_t payload[100];
};

static void reply_init(struct reply *r)
{
	memset(r, 0, sizeof(*r));
	r->h.len = htole32(sizeof(*r));
	r->h.unique = htole64(42);
	memset(r->payload, 0x5a, sizeof(r->payload));
}

/* Split in two iovecs so that damage crosses a buffer boundary. */
static enum vbd_fault damage(struct vbd_inject *inj, struct reply *r,
			     uint32_t *len)
{
	struct iovec iov[2] = {
		{ r, 20 },
		{ (uint8_t *)r + 20, sizeof(*r) - 20 },
	};

	*len = sizeof(*r);
	return vbd_inject_reply(inj, iov, 2, sizeof(*r), len);
}

static void test_parse(void)
{
	static const char *const bad[] = {
		"", "1", "1:", ":0.5", "x:0.5", "1:2", "1:-0.1", "1:0.5x",
		"1:0.5:", "1:0.5:nope", "1:0.5:short,", "-1:0.5",
	};
	struct vbd_inject *inj;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		CHECK(!vbd_inject_new(bad[i]));
		CHECK_EQ(errno, EINVAL);
	}
	inj = vbd_inject_new("7:0.25:short,drop,event");
	CHECK(inj);
	vbd_inject_free(inj);
	inj = vbd_inject_new("0x10:1");
	CHECK(inj);
	vbd_inject_free(inj);
}

static void test_rate_zero(void)
{
	struct vbd_inject *inj = vbd_inject_new("1:0");
	struct reply r, orig;
	uint32_t len;
	unsigned int i;

	CHECK(inj);
	for (i = 0; i < 10000; i++) {
		reply_init(&r);
		orig = r;
		CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_NONE);
		CHECK_EQ(len, sizeof(r));
		CHECK(!memcmp(&r, &orig, sizeof(r)));
	}
	vbd_inject_free(inj);
}

/* About RATE of the replies are damaged, each in one of the kinds. */
static void test_rate_and_mix(void)
{
	struct vbd_inject *inj = vbd_inject_new("3:0.1");
	unsigned int i, damaged = 0, seen = 0;
	struct reply r;
	uint32_t len;
	enum vbd_fault f;

	CHECK(inj);
	for (i = 0; i < 20000; i++) {
		reply_init(&r);
		f = damage(inj, &r, &len);
		if (f != VBD_FAULT_NONE)
			damaged++;
		seen |= 1U << f;
	}
	tap_diag("%u of 20000 damaged", damaged);
	CHECK(damaged > 1600 && damaged < 2400);
	for (f = VBD_FAULT_SHORT; f <= VBD_FAULT_DROP; f++)
		CHECK(seen & (1U << f));
	CHECK(!(seen & (1U << VBD_FAULT_EVENT)));
	CHECK(!(seen & (1U << VBD_FAULT_SLOW)));
	CHECK_EQ(vbd_inject_count(inj, VBD_FAULT_NONE), 20000 - damaged);
	vbd_inject_free(inj);
}

static void test_each_kind(void)
{
	struct vbd_inject *inj;
	struct reply r;
	uint32_t len;

	inj = vbd_inject_new("5:1:short");
	reply_init(&r);
	CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_SHORT);
	CHECK(len < sizeof(r));
	vbd_inject_free(inj);

	inj = vbd_inject_new("5:1:oversized");
	reply_init(&r);
	CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_OVERSIZED);
	CHECK(len > sizeof(r));
	vbd_inject_free(inj);

	inj = vbd_inject_new("5:1:wrong-id");
	reply_init(&r);
	CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_WRONG_ID);
	CHECK(le64toh(r.h.unique) != 42);
	CHECK_EQ(len, sizeof(r));
	vbd_inject_free(inj);

	inj = vbd_inject_new("5:1:bad-error");
	reply_init(&r);
	CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_BAD_ERROR);
	CHECK((int32_t)le32toh(r.h.error) > 0 ||
	      (int32_t)le32toh(r.h.error) < -4095);
	vbd_inject_free(inj);

	inj = vbd_inject_new("5:1:bad-len");
	reply_init(&r);
	CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_BAD_LEN);
	CHECK(le32toh(r.h.len) < sizeof(r.h) || le32toh(r.h.len) > len);
	vbd_inject_free(inj);

	inj = vbd_inject_new("5:1:garbage");
	reply_init(&r);
	CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_GARBAGE);
	CHECK_EQ(le64toh(r.h.unique), 42);
	CHECK(memchr(r.payload, 0x5a, sizeof(r.payload)));
	{
		uint8_t clean[sizeof(r.payload)];

		memset(clean, 0x5a, sizeof(clean));
		CHECK(memcmp(r.payload, clean, sizeof(clean)));
	}
	vbd_inject_free(inj);

	inj = vbd_inject_new("5:1:drop");
	reply_init(&r);
	CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_DROP);
	CHECK_EQ(vbd_inject_count(inj, VBD_FAULT_DROP), 1);
	vbd_inject_free(inj);
}

static void test_event(void)
{
	struct vbd_inject *inj = vbd_inject_new("9:1:event");
	struct reply r, orig;
	uint8_t ev[64], clean[64];
	uint32_t len;

	memset(ev, 1, sizeof(ev));
	memcpy(clean, ev, sizeof(ev));
	vbd_inject_event(inj, ev, sizeof(ev));
	CHECK(memcmp(ev, clean, sizeof(ev)));
	CHECK_EQ(vbd_inject_count(inj, VBD_FAULT_EVENT), 1);
	/* Only events are damaged with only "event" enabled. */
	reply_init(&r);
	orig = r;
	CHECK_EQ(damage(inj, &r, &len), VBD_FAULT_NONE);
	CHECK(!memcmp(&r, &orig, sizeof(r)));
	vbd_inject_free(inj);
}

/* The same seed damages the same replies in the same way. */
static void test_reproducible(void)
{
	struct vbd_inject *a = vbd_inject_new("1234:0.3");
	struct vbd_inject *b = vbd_inject_new("1234:0.3");
	struct vbd_inject *c = vbd_inject_new("1235:0.3");
	struct reply ra, rb, rc;
	uint32_t la, lb, lc;
	unsigned int i, differ = 0;

	for (i = 0; i < 1000; i++) {
		reply_init(&ra);
		reply_init(&rb);
		reply_init(&rc);
		CHECK_EQ(damage(a, &ra, &la), damage(b, &rb, &lb));
		CHECK_EQ(la, lb);
		CHECK(!memcmp(&ra, &rb, sizeof(ra)));
		damage(c, &rc, &lc);
		differ += lc != la || memcmp(&ra, &rc, sizeof(ra));
	}
	CHECK(differ > 100);
	vbd_inject_free(a);
	vbd_inject_free(b);
	vbd_inject_free(c);
}

#define T(name) { "inject: " #name, test_##name }
static const struct tap_test tests[] = {
	T(parse),
	T(rate_zero),
	T(rate_and_mix),
	T(each_kind),
	T(event),
	T(reproducible),
};

int main(int argc, char **argv)
{
	return tap_main(tests, ARRAY_SIZE(tests), argc, argv);
}
