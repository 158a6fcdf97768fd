// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridged unit tests: a fake frontend and guest driver against the
 * backend, in this process or as a vbridged process ($VBRIDGED).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/vbridge.h>
#include <linux/virtio_config.h>

#include "frontend.h"
#include "inject.h"
#include "iov.h"
#include "share.h"
#include "tap.h"
#include "virtq.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define F(bit)		(1ULL << (bit))

#define NREQ		2	/* request queues of the in-process device */
#define RING_SIZE	64

static const char *const tags[] = { "alpha", "beta" };

#define PROTOCOL_FEATURES	(F(0) | F(3) | F(9) | F(13) | F(16))
#define ALL_FEATURES							\
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) |	\
	 F(VIRTIO_RING_F_EVENT_IDX) | F(30) | F(VBRIDGE_F_FS) |		\
	 F(VBRIDGE_F_MQ) | F(VBRIDGE_F_EVENT_QUEUE) | F(VBRIDGE_F_DEBUG))

/* Backend running, features negotiated, memory mapped, rings started. */
static void setup(struct fe *f, uint64_t features)
{
	fe_start(f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(f, features);
	fe_setup_all(f, RING_SIZE);
}

/* ... and INIT done. */
static void setup_init(struct fe *f)
{
	setup(f, 0);
	CHECK_EQ(fe_init(f, 1), 0);
}

static void expect_clean_stop(struct fe *f)
{
	CHECK_EQ(fe_stop(f), 0);
	CHECK(!tap_log_contains("protocol error"));
}

static void expect_broken(struct fe *f, const char *why)
{
	CHECK_EQ(fe_wait_broken(f), -EPROTO);
	CHECK(tap_log_contains("frontend protocol error"));
	if (!tap_log_contains(why))
		tap_fail(__FILE__, __LINE__, "log lacks '%s'", why);
	fe_stop(f);
}

static int32_t request(struct fe *f, unsigned int q, uint32_t opcode,
		       const void *in, uint32_t in_len)
{
	struct fe_resp resp;

	fe_request(f, q, opcode, in, in_len, 64, &resp);
	return resp.error;
}

static void expect_ping(struct fe *f, unsigned int q)
{
	struct fe_resp resp;

	fe_request(f, q, VBRIDGE_OP_PING, NULL, 0, 0, &resp);
	CHECK_EQ(resp.error, 0);
	CHECK_EQ(resp.used_len, sizeof(struct vbridge_resp_hdr));
}

static void fill_pattern(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

/* vhost-user negotiation */

static void test_handshake(void)
{
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_get_u64(&f, REQ_GET_FEATURES), ALL_FEATURES);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_PROTOCOL_FEATURES), PROTOCOL_FEATURES);
	fe_handshake(&f, 0);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_QUEUE_NUM), 1 + NREQ);
	fe_setup_all(&f, RING_SIZE);
	CHECK(tap_log_contains("virtqueue 2 started"));
	expect_clean_stop(&f);
	CHECK(tap_log_contains("frontend disconnected"));
}

static void test_no_shares_no_fs(void)
{
	struct fe f;

	fe_start(&f, 1, NULL, 0);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_FEATURES), ALL_FEATURES & ~F(VBRIDGE_F_FS));
	expect_clean_stop(&f);
}

/*
 * --access-platform: the bit is offered with BACKEND_REQ, whose channel is
 * taken; QEMU without a vIOMMU never acks the bit, and the device serves.
 */
static void test_access_platform(void)
{
	struct vbd_store *store = fe_fake_store(tags, ARRAY_SIZE(tags));
	struct vbd_device *dev = vbd_device_new(store, NREQ, NULL);
	int sv[2];
	struct fe f;

	CHECK(dev);
	vbd_device_offer_access_platform(dev);
	fe_start_device(&f, dev, store);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_FEATURES),
		 ALL_FEATURES | F(VIRTIO_F_ACCESS_PLATFORM));
	CHECK_EQ(fe_get_u64(&f, REQ_GET_PROTOCOL_FEATURES),
		 PROTOCOL_FEATURES | F(5));
	fe_handshake(&f, ALL_FEATURES);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK_EQ(fe_send(&f, REQ_SET_BACKEND_REQ_FD, FLAG_VERSION, NULL, 0,
			 &sv[1], 1), 0);
	close(sv[1]);
	fe_setup_all(&f, RING_SIZE);
	CHECK_EQ(fe_init(&f, 1), 0);
	expect_ping(&f, 1);
	expect_clean_stop(&f);
	/* The backend closed the channel with the connection. */
	CHECK(recv(sv[0], &(char){ 0 }, 1, MSG_DONTWAIT) == 0);
	close(sv[0]);
}

/* An ack of ACCESS_PLATFORM asks for IOTLB translation: refused. */
static void test_access_platform_acked(void)
{
	struct vbd_store *store = fe_fake_store(tags, ARRAY_SIZE(tags));
	struct vbd_device *dev = vbd_device_new(store, NREQ, NULL);
	struct fe f;

	CHECK(dev);
	vbd_device_offer_access_platform(dev);
	fe_start_device(&f, dev, store);
	CHECK_EQ(fe_send(&f, REQ_SET_FEATURES, FLAG_VERSION,
			 &(uint64_t){ F(VIRTIO_F_VERSION_1) |
				      F(VIRTIO_F_ACCESS_PLATFORM) }, 8, NULL, 0), 0);
	expect_broken(&f, "ACCESS_PLATFORM acked");
}

/* Without --access-platform there is no backend channel to set. */
static void test_backend_req_not_offered(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_BACKEND_REQ_FD, FLAG_VERSION, NULL, 0,
			 &fd, 1), 0);
	close(fd);
	expect_broken(&f, "SET_BACKEND_REQ_FD: protocol feature 5 not negotiated");
}

static int get_config(struct fe *f, uint32_t offset, uint32_t size,
		      void *out)
{
	struct {
		uint32_t offset, size, flags;
		uint8_t data[256];
	} c = { .offset = offset, .size = size };
	int n;

	CHECK_EQ(fe_send(f, REQ_GET_CONFIG, FLAG_VERSION, &c, 12 + size, NULL, 0), 0);
	n = fe_recv(f, REQ_GET_CONFIG, &c, sizeof(c));
	if (n > 0) {
		CHECK_EQ(n, 12 + size);
		CHECK_EQ(c.offset, offset);
		CHECK_EQ(c.size, size);
		memcpy(out, c.data, size);
	}
	return n;
}

static void test_get_config(void)
{
	struct vbridge_config cfg, zero = { 0 };
	uint32_t num_tags;
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	get_config(&f, 0, sizeof(cfg), &cfg);
	CHECK_EQ(le32toh(cfg.num_request_queues), NREQ);
	CHECK_EQ(le32toh(cfg.num_tags), 2);
	CHECK_EQ(le32toh(cfg.num_scanouts), 0);
	CHECK(!memcmp(cfg.tags[0], "alpha\0\0", 7));
	CHECK(!memcmp(cfg.tags[1], "beta\0", 5));
	CHECK(!memcmp(cfg.tags[0] + 5, zero.tags[0], VBRIDGE_TAG_LEN - 5));
	CHECK(!memcmp(cfg.tags[2], zero.tags[2],
		      sizeof(cfg.tags) - 2 * VBRIDGE_TAG_LEN));

	/* A part of it, then outside of it: an empty reply. */
	get_config(&f, 4, 4, &num_tags);
	CHECK_EQ(le32toh(num_tags), 2);
	CHECK_EQ(get_config(&f, sizeof(cfg) - 4, 8, &cfg), 0);
	expect_clean_stop(&f);
}

static void test_set_config_refused(void)
{
	struct {
		uint32_t offset, size, flags;
		uint32_t data;
	} c = { .offset = 0, .size = 4, .data = 7 };
	uint64_t ack = 0;
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	CHECK_EQ(fe_send(&f, REQ_SET_CONFIG, FLAG_VERSION | FLAG_NEED_REPLY, &c,
			 sizeof(c), NULL, 0), 0);
	CHECK_EQ(fe_recv(&f, REQ_SET_CONFIG, &ack, sizeof(ack)), 8);
	CHECK(ack != 0);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_QUEUE_NUM), 1 + NREQ);
	expect_clean_stop(&f);
}

static void test_unknown_request_need_reply(void)
{
	uint64_t v = 5, ack = 0;
	int fd = eventfd(0, EFD_CLOEXEC);
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	/* SET_LOG_BASE is not supported; its fd is dropped. */
	CHECK_EQ(fe_send(&f, REQ_SET_LOG_BASE, FLAG_VERSION | FLAG_NEED_REPLY,
			 &v, sizeof(v), &fd, 1), 0);
	CHECK_EQ(fe_recv(&f, REQ_SET_LOG_BASE, &ack, sizeof(ack)), 8);
	CHECK(ack != 0);
	CHECK_EQ(fe_send(&f, 999, FLAG_VERSION | FLAG_NEED_REPLY, &v, sizeof(v),
			 NULL, 0), 0);
	CHECK_EQ(fe_recv(&f, 999, &ack, sizeof(ack)), 8);
	CHECK(ack != 0);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_QUEUE_NUM), 1 + NREQ);
	CHECK(tap_log_contains("unsupported request 999"));
	close(fd);
	expect_clean_stop(&f);
}

static void test_unknown_request_no_reply(void)
{
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_GET_MAX_MEM_SLOTS, FLAG_VERSION, NULL, 0, NULL, 0), 0);
	/* The next reply is GET_FEATURES': nothing was sent in between. */
	CHECK_EQ(fe_get_u64(&f, REQ_GET_FEATURES), ALL_FEATURES);
	expect_clean_stop(&f);
}

static void test_status(void)
{
	struct fe f;

	setup_init(&f);
	CHECK_EQ(fe_set_u64(&f, REQ_SET_STATUS, 0xf), 0);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_STATUS), 0xf);
	/* Status 0 resets the device, INIT included. */
	CHECK_EQ(fe_set_u64(&f, REQ_SET_STATUS, 0), 0);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_STATUS), 0);
	CHECK_EQ(fe_set_u64(&f, REQ_SET_FEATURES, f.features), 0);
	fe_setup_all(&f, RING_SIZE);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_PING, NULL, 0), -EPROTO);
	expect_clean_stop(&f);
}

static void test_reset_device(void)
{
	struct fe f;

	setup_init(&f);
	expect_ping(&f, 1);
	CHECK_EQ(fe_send(&f, REQ_RESET_DEVICE, FLAG_VERSION, NULL, 0, NULL, 0), 0);
	CHECK_EQ(fe_set_u64(&f, REQ_SET_FEATURES, f.features), 0);
	fe_setup_all(&f, RING_SIZE);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_PING, NULL, 0), -EPROTO);
	CHECK_EQ(fe_init(&f, 1), 0);
	expect_ping(&f, 1);
	expect_clean_stop(&f);
}

/* Make a PING available on q and kick; returns its head. */
static uint16_t submit_ping(struct fe *f, unsigned int q)
{
	uint64_t rd = drv_alloc(f, 24), wr = drv_alloc(f, 16);
	uint16_t head;

	*(struct vbridge_req_hdr *)gpa_ptr(f, rd) = (struct vbridge_req_hdr){
		.opcode = htole32(VBRIDGE_OP_PING),
		.len = htole32(24),
	};
	head = drv_add(f, q, (struct drv_buf[]){
		{ rd, 24, false }, { wr, 16, true } }, 2, false);
	drv_kick(f, q);
	return head;
}

static void test_get_vring_base_stops_ring(void)
{
	uint32_t id, len;
	unsigned int i;
	uint16_t head;
	struct fe f;

	setup_init(&f);
	for (i = 0; i < 5; i++)
		expect_ping(&f, 2);
	CHECK_EQ(fe_vring_state(&f, REQ_GET_VRING_BASE, 2, 0), 5);

	/* A stopped ring is left alone... */
	head = submit_ping(&f, 2);
	usleep(100 * 1000);
	CHECK(!drv_has_used(&f, 2));
	CHECK(tap_log_contains("virtqueue 2 stopped at 5"));

	/* ...until started again where it stopped. */
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_BASE, 2, 5), 0);
	fe_set_vring_fd(&f, REQ_SET_VRING_KICK, 2, f.vq[2].kick_fd);
	fe_set_vring_fd(&f, REQ_SET_VRING_CALL, 2, f.vq[2].call_fd);
	CHECK(drv_wait_used(&f, 2, &id, &len, 5000));
	CHECK_EQ(id, head);
	CHECK_EQ(len, sizeof(struct vbridge_resp_hdr));
	expect_ping(&f, 2);
	expect_clean_stop(&f);
}

static void test_mem_table_replaced_while_running(void)
{
	struct fe_mem_region region = {
		.gpa = FE_GPA_BASE,
		.size = FE_MEM_SIZE,
	};
	struct fe f;
	int fd;

	setup_init(&f);
	expect_ping(&f, 1);
	region.uva = (uintptr_t)f.mem;
	fd = dup(f.memfd);
	fe_set_mem_table(&f, &region, 1, &fd);
	close(fd);
	expect_ping(&f, 1);
	expect_ping(&f, 2);
	expect_clean_stop(&f);
}

static void test_no_protocol_features(void)
{
	struct fe f;

	/* Without VHOST_USER_F_PROTOCOL_FEATURES rings start enabled. */
	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_FEATURES, FLAG_VERSION,
			 &(uint64_t){ ALL_FEATURES & ~F(30) }, 8, NULL, 0), 0);
	f.features = ALL_FEATURES & ~F(30);
	{
		struct fe_mem_region region = {
			.gpa = FE_GPA_BASE,
			.size = FE_MEM_SIZE,
			.uva = (uintptr_t)f.mem,
		};
		fe_set_mem_table(&f, &region, 1, &f.memfd);
	}
	fe_setup_vq(&f, 1, RING_SIZE);
	CHECK_EQ(fe_init(&f, 1), 0);
	expect_ping(&f, 1);
	expect_clean_stop(&f);
}

/* vbridge requests */

static void test_init(void)
{
	struct vbridge_init_in in = {
		.major = htole16(VBRIDGE_PROTO_MAJOR),
		.minor = htole16(7),
		.max_req_size = htole32(10U << 20),
		.max_inflight = htole32(16),
	};
	struct vbridge_init_out out;
	struct fe_resp resp;
	struct fe f;

	setup(&f, 0);
	fe_request(&f, 1, VBRIDGE_OP_INIT, &in, sizeof(in), sizeof(out), &resp);
	CHECK_EQ(resp.error, 0);
	CHECK_EQ(resp.len, sizeof(struct vbridge_resp_hdr) + sizeof(out));
	memcpy(&out, resp.payload, sizeof(out));
	CHECK_EQ(le16toh(out.major), VBRIDGE_PROTO_MAJOR);
	CHECK_EQ(le16toh(out.minor), VBRIDGE_PROTO_MINOR);
	CHECK_EQ(le32toh(out.flags), 0);
	CHECK_EQ(le32toh(out.max_req_size), VBD_MAX_REQ_SIZE);
	CHECK_EQ(le32toh(out.max_inflight), 16);
	expect_ping(&f, 2);
	expect_clean_stop(&f);
}

static void test_init_major_mismatch(void)
{
	struct vbridge_init_in in = {
		.major = htole16(VBRIDGE_PROTO_MAJOR + 1),
		.max_req_size = htole32(65536),
		.max_inflight = htole32(16),
	};
	struct fe f;

	setup(&f, 0);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_INIT, &in, sizeof(in)), -EPROTO);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_PING, NULL, 0), -EPROTO);
	expect_clean_stop(&f);
}

static void test_init_bad_limits(void)
{
	struct vbridge_init_in in = {
		.major = htole16(VBRIDGE_PROTO_MAJOR),
		.max_req_size = htole32(VBRIDGE_MIN_REQ_SIZE - 1),
		.max_inflight = htole32(16),
	};
	struct fe f;

	setup(&f, 0);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_INIT, &in, sizeof(in)), -EINVAL);
	in.max_req_size = htole32(VBRIDGE_MIN_REQ_SIZE);
	in.max_inflight = 0;
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_INIT, &in, sizeof(in)), -EINVAL);
	in.max_inflight = htole32(1);
	in.flags = htole32(1);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_INIT, &in, sizeof(in)), -EINVAL);
	/* Too short an INIT. */
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_INIT, &in, 8), -EINVAL);
	in.flags = 0;
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_INIT, &in, sizeof(in)), 0);
	expect_clean_stop(&f);
}

static void test_request_before_init(void)
{
	struct fe f;

	setup(&f, 0);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_PING, NULL, 0), -EPROTO);
	CHECK_EQ(request(&f, 2, VBRIDGE_OP_ECHO, "x", 1), -EPROTO);
	/* Unknown stays unknown, to let drivers probe. */
	CHECK_EQ(request(&f, 1, 0x7f, NULL, 0), -EOPNOTSUPP);
	expect_clean_stop(&f);
}

static void test_ping(void)
{
	struct fe f;

	setup_init(&f);
	expect_ping(&f, 1);
	expect_ping(&f, 2);
	expect_clean_stop(&f);
}

static void test_echo_single_buffer(void)
{
	static uint8_t in[3000];
	struct fe_resp resp;
	struct fe f;

	setup_init(&f);
	fill_pattern(in, sizeof(in), 1);
	fe_request(&f, 1, VBRIDGE_OP_ECHO, in, sizeof(in), sizeof(in), &resp);
	CHECK_EQ(resp.error, 0);
	CHECK_EQ(resp.len, sizeof(struct vbridge_resp_hdr) + sizeof(in));
	CHECK(!memcmp(resp.payload, in, sizeof(in)));
	/* Bounded by the writable space. */
	fe_request(&f, 1, VBRIDGE_OP_ECHO, in, sizeof(in), 10, &resp);
	CHECK_EQ(resp.error, 0);
	CHECK_EQ(resp.len, sizeof(struct vbridge_resp_hdr) + 10);
	CHECK(!memcmp(resp.payload, in, 10));
	expect_clean_stop(&f);
}

/*
 * ECHO with headers and payloads cut into odd pieces: readable
 * 10 + 14 (header) + 7 + 300 + 1, writable 5 + 11 (header) + 100 + 208.
 */
static void echo_split(bool indirect)
{
	static const uint32_t rd_sizes[] = { 10, 14, 7, 300, 1 };
	static const uint32_t wr_sizes[] = { 5, 11, 100, 208 };
	struct drv_buf bufs[ARRAY_SIZE(rd_sizes) + ARRAY_SIZE(wr_sizes)];
	uint8_t req[24 + 308], out[16 + 308];
	struct vbridge_req_hdr *hdr = (void *)req;
	struct vbridge_resp_hdr *rh = (void *)out;
	size_t off = 0;
	uint32_t id, len;
	unsigned int i, n = 0;
	uint16_t head;
	struct fe f;

	setup_init(&f);
	hdr->opcode = htole32(VBRIDGE_OP_ECHO);
	hdr->len = htole32(sizeof(req));
	hdr->unique = htole64(77);
	hdr->flags = hdr->padding = 0;
	fill_pattern(req + 24, 308, 3);
	for (i = 0; i < ARRAY_SIZE(rd_sizes); i++) {
		bufs[n] = (struct drv_buf){ drv_alloc(&f, rd_sizes[i]), rd_sizes[i], false };
		memcpy(gpa_ptr(&f, bufs[n].gpa), req + off, rd_sizes[i]);
		off += rd_sizes[i];
		n++;
	}
	for (i = 0; i < ARRAY_SIZE(wr_sizes); i++, n++)
		bufs[n] = (struct drv_buf){ drv_alloc(&f, wr_sizes[i]), wr_sizes[i], true };
	head = drv_add(&f, 1, bufs, n, indirect);
	drv_kick(&f, 1);
	CHECK(drv_wait_used(&f, 1, &id, &len, 5000));
	CHECK_EQ(id, head);
	CHECK_EQ(len, sizeof(out));
	for (off = 0, i = ARRAY_SIZE(rd_sizes); i < n; i++) {
		memcpy(out + off, gpa_ptr(&f, bufs[i].gpa), bufs[i].len);
		off += bufs[i].len;
	}
	CHECK_EQ(le32toh(rh->error), 0);
	CHECK_EQ(le32toh(rh->len), sizeof(out));
	CHECK_EQ(le64toh(rh->unique), 77);
	CHECK(!memcmp(out + 16, req + 24, 308));
	expect_clean_stop(&f);
}

static void test_echo_split(void)
{
	echo_split(false);
}

static void test_echo_indirect(void)
{
	echo_split(true);
}

static void test_echo_across_regions(void)
{
	/* Two regions adjacent in guest memory, mapped separately. */
	const uint64_t half = FE_MEM_SIZE / 2;
	struct fe_mem_region r[2];
	uint8_t in[256], *out;
	uint64_t rd, wr;
	struct vbridge_req_hdr hdr;
	uint32_t id, len;
	unsigned int i;
	int fds[2];
	struct fe f;

	setup_init(&f);
	r[0] = (struct fe_mem_region){ FE_GPA_BASE, half, (uintptr_t)f.mem, 0 };
	r[1] = (struct fe_mem_region){ FE_GPA_BASE + half, half,
				       (uintptr_t)f.mem + half, half };
	fds[0] = f.memfd;
	fds[1] = f.memfd;
	fe_set_mem_table(&f, r, 2, fds);

	/* The request, then the response, straddles the boundary. */
	hdr = (struct vbridge_req_hdr){
		.opcode = htole32(VBRIDGE_OP_ECHO),
		.len = htole32(sizeof(hdr) + sizeof(in)),
	};
	fill_pattern(in, sizeof(in), 9);
	for (i = 0; i < 2; i++) {
		static const int64_t rd_off[2] = { -100, 8192 };
		static const int64_t wr_off[2] = { 4096, -50 };

		rd = FE_GPA_BASE + half + rd_off[i];
		wr = FE_GPA_BASE + half + wr_off[i];
		memcpy(gpa_ptr(&f, rd), &hdr, sizeof(hdr));
		memcpy((uint8_t *)gpa_ptr(&f, rd) + sizeof(hdr), in, sizeof(in));
		drv_add(&f, 1, (struct drv_buf[]){
			{ rd, sizeof(hdr) + sizeof(in), false },
			{ wr, 16 + sizeof(in), true },
		}, 2, false);
		drv_kick(&f, 1);
		CHECK(drv_wait_used(&f, 1, &id, &len, 5000));
		CHECK_EQ(len, 16 + sizeof(in));
		out = gpa_ptr(&f, wr);
		CHECK(!memcmp(out + 16, in, sizeof(in)));
	}
	CHECK(tap_log_contains("memory region 1: guest"));
	expect_clean_stop(&f);
}

static void post_event_buffers(struct fe *f, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		drv_add(f, 0, &(struct drv_buf){
			drv_alloc(f, VBRIDGE_EVENT_BUF_SIZE),
			VBRIDGE_EVENT_BUF_SIZE, true }, 1, false);
	drv_kick(f, 0);
}

static int32_t event_test(struct fe *f, unsigned int q, uint64_t cookie)
{
	struct vbridge_event_test_in in = { .cookie = htole64(cookie) };

	return request(f, q, VBRIDGE_OP_EVENT_TEST, &in, sizeof(in));
}

static void expect_event(struct fe *f, uint64_t cookie)
{
	struct vbridge_event_test *ev;
	uint32_t id, len;

	CHECK(drv_wait_used(f, 0, &id, &len, 5000));
	CHECK_EQ(len, sizeof(*ev));
	ev = gpa_ptr(f, le64toh(f->vq[0].desc[id].addr));
	CHECK_EQ(le32toh(ev->hdr.type), VBRIDGE_EVT_TEST);
	CHECK_EQ(le32toh(ev->hdr.len), sizeof(*ev));
	CHECK_EQ(le64toh(ev->cookie), cookie);
}

static void test_event_test(void)
{
	struct fe f;

	setup_init(&f);
	post_event_buffers(&f, 4);
	CHECK_EQ(event_test(&f, 1, 0x1122334455667788ULL), 0);
	expect_event(&f, 0x1122334455667788ULL);
	CHECK_EQ(event_test(&f, 2, 42), 0);
	expect_event(&f, 42);
	expect_clean_stop(&f);
}

static void test_event_test_pending(void)
{
	struct fe f;

	setup_init(&f);
	CHECK_EQ(event_test(&f, 1, 1), 0);
	CHECK_EQ(event_test(&f, 2, 2), 0);
	CHECK_EQ(event_test(&f, 1, 3), 0);
	usleep(50 * 1000);
	CHECK(!drv_has_used(&f, 0));
	post_event_buffers(&f, 1);
	expect_event(&f, 1);
	post_event_buffers(&f, 4);
	expect_event(&f, 2);
	expect_event(&f, 3);
	CHECK(!drv_has_used(&f, 0));
	expect_clean_stop(&f);
}

static void test_event_test_overflow(void)
{
	unsigned int i;
	struct fe f;

	setup_init(&f);
	for (i = 0; i < VBD_MAX_PENDING_EVENTS; i++)
		CHECK_EQ(event_test(&f, 1, 100 + i), 0);
	CHECK_EQ(event_test(&f, 1, 999), -EAGAIN);
	post_event_buffers(&f, VBD_MAX_PENDING_EVENTS);
	for (i = 0; i < VBD_MAX_PENDING_EVENTS; i++)
		expect_event(&f, 100 + i);
	CHECK_EQ(event_test(&f, 2, 1000), 0);
	post_event_buffers(&f, 1);
	expect_event(&f, 1000);
	expect_clean_stop(&f);
}

static void test_event_buffer_too_small(void)
{
	uint32_t id, len;
	struct fe f;

	setup_init(&f);
	/* A readable buffer and a short one are returned empty. */
	drv_add(&f, 0, &(struct drv_buf){ drv_alloc(&f, 256), 256, false }, 1, false);
	drv_add(&f, 0, &(struct drv_buf){ drv_alloc(&f, 8), 8, true }, 1, false);
	drv_kick(&f, 0);
	CHECK_EQ(event_test(&f, 1, 5), 0);
	CHECK(drv_wait_used(&f, 0, &id, &len, 5000));
	CHECK_EQ(len, 0);
	CHECK(drv_wait_used(&f, 0, &id, &len, 5000));
	CHECK_EQ(len, 0);
	post_event_buffers(&f, 1);
	expect_event(&f, 5);
	expect_clean_stop(&f);
}

static void test_event_queue_not_negotiated(void)
{
	struct fe f;

	setup(&f, ALL_FEATURES & ~F(VBRIDGE_F_EVENT_QUEUE));
	CHECK_EQ(fe_init(&f, 1), 0);
	CHECK_EQ(event_test(&f, 1, 1), -EOPNOTSUPP);
	expect_ping(&f, 1);
	expect_clean_stop(&f);
}

static void test_debug_not_negotiated(void)
{
	struct fe f;

	setup(&f, ALL_FEATURES & ~F(VBRIDGE_F_DEBUG));
	CHECK_EQ(fe_init(&f, 1), 0);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_PING, NULL, 0), -EOPNOTSUPP);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_ECHO, "x", 1), -EOPNOTSUPP);
	expect_clean_stop(&f);
}

/* Batches of requests on both request queues, checking every response. */
static void many_requests(uint64_t features, unsigned int total)
{
	enum { BATCH = 24, PAYLOAD = 64 };
	struct slot {
		uint64_t rd, wr;
		uint16_t head;
	} slots[2][BATCH];
	unsigned int done = 0, q, i;
	struct fe f;

	setup(&f, features);
	CHECK_EQ(fe_init(&f, 1), 0);
	for (q = 0; q < 2; q++) {
		for (i = 0; i < BATCH; i++) {
			slots[q][i].rd = drv_alloc(&f, 24 + PAYLOAD);
			slots[q][i].wr = drv_alloc(&f, 16 + PAYLOAD);
		}
	}
	while (done < total) {
		for (q = 0; q < 2; q++) {
			for (i = 0; i < BATCH; i++) {
				struct vbridge_req_hdr *h = gpa_ptr(&f, slots[q][i].rd);
				bool echo = (done + i) % 2;

				*h = (struct vbridge_req_hdr){
					.opcode = htole32(echo ? VBRIDGE_OP_ECHO : VBRIDGE_OP_PING),
					.len = htole32(24 + (echo ? PAYLOAD : 0)),
					.unique = htole64(done + i),
				};
				fill_pattern((uint8_t *)(h + 1), PAYLOAD, done + i);
				slots[q][i].head = drv_add(&f, 1 + q, (struct drv_buf[]){
					{ slots[q][i].rd, 24 + (echo ? PAYLOAD : 0), false },
					{ slots[q][i].wr, 16 + PAYLOAD, true },
				}, 2, false);
			}
			drv_kick(&f, 1 + q);
		}
		/* Several threads serve a queue: completions come in any order. */
		for (q = 0; q < 2; q++) {
			bool seen[BATCH] = { false };
			unsigned int n;

			for (n = 0; n < BATCH; n++) {
				struct vbridge_resp_hdr *rh;
				uint32_t id, len;
				bool echo;

				CHECK(drv_wait_used(&f, 1 + q, &id, &len, 5000));
				for (i = 0; i < BATCH && slots[q][i].head != id; i++)
					;
				CHECK(i < BATCH && !seen[i]);
				seen[i] = true;
				echo = (done + i) % 2;
				rh = gpa_ptr(&f, slots[q][i].wr);
				CHECK_EQ(len, 16 + (echo ? PAYLOAD : 0));
				CHECK_EQ(le32toh(rh->error), 0);
				CHECK_EQ(le64toh(rh->unique), done + i);
				if (echo)
					CHECK(!memcmp(rh + 1, (uint8_t *)gpa_ptr(
						&f, slots[q][i].rd) + 24, PAYLOAD));
			}
		}
		done += BATCH;
	}
	tap_diag("%u requests, %u kicks", 2 * done, f.vq[1].kicks + f.vq[2].kicks);
	expect_clean_stop(&f);
}

static void test_many_requests_event_idx(void)
{
	many_requests(0, 6000);
}

static void test_many_requests_no_event_idx(void)
{
	many_requests(ALL_FEATURES & ~F(VIRTIO_RING_F_EVENT_IDX), 2400);
}

/*
 * Milliseconds to answer 8 PINGs made in one kick on one queue, each
 * answered VBD_INJECT_SLOW_MS late, by threads queue threads.
 */
static long slow_batch_ms(unsigned int threads)
{
	enum { N = 8 };
	struct vbd_store *store = fe_fake_store(tags, ARRAY_SIZE(tags));
	struct vbd_device *dev = vbd_device_new(store, NREQ, NULL);
	struct vbd_inject *inj = vbd_inject_new("1:1:slow");
	struct timespec t0, t1;
	uint64_t rd[N], wr[N];
	unsigned int i;
	uint32_t id, len;
	struct fe f;

	CHECK(dev && inj);
	vbd_device_set_inject(dev, inj);
	vbd_device_set_queue_threads(dev, threads);
	fe_start_device(&f, dev, store);
	fe_handshake(&f, 0);
	fe_setup_all(&f, RING_SIZE);
	CHECK_EQ(fe_init(&f, 1), 0);
	for (i = 0; i < N; i++) {
		struct vbridge_req_hdr *h;

		rd[i] = drv_alloc(&f, sizeof(*h));
		wr[i] = drv_alloc(&f, sizeof(struct vbridge_resp_hdr));
		h = gpa_ptr(&f, rd[i]);
		*h = (struct vbridge_req_hdr){
			.opcode = htole32(VBRIDGE_OP_PING),
			.len = htole32(sizeof(*h)),
			.unique = htole64(i),
		};
		drv_add(&f, 1, (struct drv_buf[]){
			{ rd[i], sizeof(*h), false },
			{ wr[i], sizeof(struct vbridge_resp_hdr), true },
		}, 2, false);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	drv_kick(&f, 1);
	for (i = 0; i < N; i++)
		CHECK(drv_wait_used(&f, 1, &id, &len, 10000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	expect_clean_stop(&f);
	CHECK_EQ(vbd_inject_count(inj, VBD_FAULT_SLOW), N + 1);
	vbd_inject_free(inj);
	return (t1.tv_sec - t0.tv_sec) * 1000 +
	       (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

/*
 * A slow request holds up only its own thread: with 4 threads per queue
 * the 8 slow PINGs take about 2 delays, with 1 thread 8 of them.
 */
static void test_slow_requests_in_parallel(void)
{
	long serial = slow_batch_ms(1), parallel = slow_batch_ms(4);

	tap_diag("8 requests %d ms late each: %ld ms on 1 thread, %ld ms on 4",
		 VBD_INJECT_SLOW_MS, serial, parallel);
	CHECK(serial >= 8 * VBD_INJECT_SLOW_MS);
	CHECK(parallel < 5 * VBD_INJECT_SLOW_MS);
}

static void test_unknown_opcode(void)
{
	struct fe f;

	setup_init(&f);
	CHECK_EQ(request(&f, 1, 0x7f, NULL, 0), -EOPNOTSUPP);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_FS_BATCH_FORGET + 1, NULL, 0), -EOPNOTSUPP);
	/* A known filesystem request without its payload. */
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_FS_FIRST, NULL, 0), -EINVAL);
	CHECK_EQ(request(&f, 1, VBRIDGE_OP_DISPLAY_FIRST, NULL, 0), -EOPNOTSUPP);
	CHECK_EQ(request(&f, 1, 0xffffffff, NULL, 0), -EOPNOTSUPP);
	expect_ping(&f, 1);
	expect_clean_stop(&f);
}

/* Submit a raw request: header hdr plus in_len payload bytes. */
static struct fe_resp *raw_request(struct fe *f, const struct vbridge_req_hdr *hdr,
				   uint32_t rd_len, uint32_t wr_len)
{
	static struct fe_resp resp;
	uint64_t rd = drv_alloc(f, rd_len + 64), wr = drv_alloc(f, wr_len);
	uint32_t id, len;

	memcpy(gpa_ptr(f, rd), hdr, rd_len < sizeof(*hdr) ? rd_len : sizeof(*hdr));
	drv_add(f, 1, (struct drv_buf[]){
		{ rd, rd_len, false }, { wr, wr_len, true } }, 2, false);
	drv_kick(f, 1);
	CHECK(drv_wait_used(f, 1, &id, &len, 5000));
	memset(&resp, 0, sizeof(resp));
	resp.used_len = len;
	if (len) {
		struct vbridge_resp_hdr *rh = gpa_ptr(f, wr);

		CHECK_EQ(len, sizeof(*rh));
		resp.error = (int32_t)le32toh(rh->error);
		resp.len = le32toh(rh->len);
		resp.unique = le64toh(rh->unique);
	}
	return &resp;
}

static void test_bad_request_header(void)
{
	struct vbridge_req_hdr hdr = {
		.opcode = htole32(VBRIDGE_OP_PING),
		.len = htole32(sizeof(hdr)),
		.unique = htole64(5),
	};
	struct fe_resp *r;
	struct fe f;

	setup_init(&f);
	hdr.flags = htole32(1);
	r = raw_request(&f, &hdr, sizeof(hdr), 16);
	CHECK_EQ(r->error, -EINVAL);
	CHECK_EQ(r->unique, 5);
	hdr.flags = 0;
	hdr.len = htole32(sizeof(hdr) + 1);	/* more than readable */
	CHECK_EQ(raw_request(&f, &hdr, sizeof(hdr), 16)->error, -EINVAL);
	hdr.len = htole32(sizeof(hdr) - 1);
	CHECK_EQ(raw_request(&f, &hdr, sizeof(hdr), 16)->error, -EINVAL);
	/* Shorter than a header: answered, with no unique to echo. */
	hdr.len = htole32(sizeof(hdr));
	r = raw_request(&f, &hdr, 10, 16);
	CHECK_EQ(r->error, -EINVAL);
	CHECK_EQ(r->unique, 0);
	CHECK_EQ(r->len, 16);
	/* No room for a response header: completed empty. */
	CHECK_EQ(raw_request(&f, &hdr, sizeof(hdr), 15)->used_len, 0);
	/* Longer than negotiated. */
	hdr.opcode = htole32(VBRIDGE_OP_ECHO);
	hdr.len = htole32(65536 + 1);
	CHECK_EQ(raw_request(&f, &hdr, 65536 + 1, 16)->error, -EMSGSIZE);
	expect_ping(&f, 1);
	expect_clean_stop(&f);
}

/* Malformed chains */

static struct vring_desc *desc_slot(struct fe *f, unsigned int q, uint16_t i)
{
	return &f->vq[q].desc[i % f->vq[q].num];
}

/* Make head available, expect it back empty, then a working PING. */
static void expect_rejected(struct fe *f, uint16_t head, unsigned int used_descs,
			    const char *why)
{
	uint32_t id, len;

	f->vq[1].next_desc = (head + used_descs) % f->vq[1].num;
	drv_add_raw(f, 1, head);
	drv_kick(f, 1);
	CHECK(drv_wait_used(f, 1, &id, &len, 5000));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	if (!tap_log_contains(why))
		tap_fail(__FILE__, __LINE__, "log lacks '%s'", why);
	expect_ping(f, 1);
}

static uint16_t nxt(uint16_t i)
{
	return (i + 1) % RING_SIZE;
}

static struct vring_desc mkdesc(uint64_t addr, uint32_t len, uint16_t flags,
				uint16_t next)
{
	return (struct vring_desc){
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};
}

static void test_chain_outside_memory(void)
{
	uint64_t wr;
	uint16_t h;
	struct fe f;

	setup_init(&f);
	wr = drv_alloc(&f, 64);
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(FE_GPA_BASE + FE_MEM_SIZE - 8, 24,
				      VRING_DESC_F_NEXT, nxt(h));
	*desc_slot(&f, 1, h + 1) = mkdesc(wr, 64, VRING_DESC_F_WRITE, 0);
	expect_rejected(&f, h, 2, "buffer outside guest memory");

	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(0x1000, 24, 0, 0);
	expect_rejected(&f, h, 1, "buffer outside guest memory");
	expect_clean_stop(&f);
}

static void test_chain_loop(void)
{
	uint64_t buf;
	uint16_t h;
	struct fe f;

	setup_init(&f);
	buf = drv_alloc(&f, 64);
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(buf, 0, VRING_DESC_F_NEXT, nxt(h));
	*desc_slot(&f, 1, h + 1) = mkdesc(buf, 0, VRING_DESC_F_NEXT, h);
	expect_rejected(&f, h, 2, "descriptor loop");

	/* next beyond the table */
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(buf, 24, VRING_DESC_F_NEXT, RING_SIZE);
	expect_rejected(&f, h, 1, "next index out of range");
	expect_clean_stop(&f);
}

static void test_chain_huge_length(void)
{
	uint64_t buf;
	uint16_t h;
	struct fe f;

	setup_init(&f);
	buf = drv_alloc(&f, 64);
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(buf, 0xfffffff0, VRING_DESC_F_NEXT, nxt(h));
	*desc_slot(&f, 1, h + 1) = mkdesc(buf, 64, VRING_DESC_F_WRITE, 0);
	expect_rejected(&f, h, 2, "chain too long");
	/* Below the cap, but beyond guest memory. */
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(buf, 0x3ff00000, VRING_DESC_F_NEXT, nxt(h));
	*desc_slot(&f, 1, h + 1) = mkdesc(buf, 64, VRING_DESC_F_WRITE, 0);
	expect_rejected(&f, h, 2, "buffer outside guest memory");
	expect_clean_stop(&f);
}

static void test_chain_nested_indirect(void)
{
	uint64_t t1, t2, buf;
	struct vring_desc *table;
	uint16_t h;
	struct fe f;

	setup_init(&f);
	buf = drv_alloc(&f, 64);
	t2 = drv_alloc(&f, 16);
	t1 = drv_alloc(&f, 32);
	table = gpa_ptr(&f, t2);
	table[0] = mkdesc(buf, 64, VRING_DESC_F_WRITE, 0);
	table = gpa_ptr(&f, t1);
	table[0] = mkdesc(buf, 24, VRING_DESC_F_NEXT, 1);
	table[1] = mkdesc(t2, 16, VRING_DESC_F_INDIRECT, 0);
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(t1, 32, VRING_DESC_F_INDIRECT, 0);
	expect_rejected(&f, h, 1, "nested indirect table");
	expect_clean_stop(&f);
}

static void test_chain_bad_indirect(void)
{
	uint64_t t;
	uint16_t h;
	struct fe f;

	setup_init(&f);
	t = drv_alloc(&f, 64);
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(t, 20, VRING_DESC_F_INDIRECT, 0);
	expect_rejected(&f, h, 1, "bad indirect table length");
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(t, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT,
				      nxt(h));
	expect_rejected(&f, h, 1, "indirect descriptor with next flag");
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(FE_GPA_BASE + FE_MEM_SIZE - 16, 32,
				      VRING_DESC_F_INDIRECT, 0);
	expect_rejected(&f, h, 1, "indirect table outside guest memory");
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(t, 16, 0x10, 0);
	expect_rejected(&f, h, 1, "unknown descriptor flags");
	expect_clean_stop(&f);
}

static void test_chain_indirect_not_negotiated(void)
{
	uint64_t t;
	uint16_t h;
	struct fe f;

	setup(&f, ALL_FEATURES & ~F(VIRTIO_RING_F_INDIRECT_DESC));
	CHECK_EQ(fe_init(&f, 1), 0);
	t = drv_alloc(&f, 32);
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(t, 32, VRING_DESC_F_INDIRECT, 0);
	expect_rejected(&f, h, 1, "indirect descriptor not negotiated");
	expect_clean_stop(&f);
}

static void test_chain_writable_then_readable(void)
{
	uint64_t buf;
	uint16_t h;
	struct fe f;

	setup_init(&f);
	buf = drv_alloc(&f, 64);
	h = f.vq[1].next_desc;
	*desc_slot(&f, 1, h) = mkdesc(buf, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
				      nxt(h));
	*desc_slot(&f, 1, h + 1) = mkdesc(buf + 16, 24, 0, 0);
	expect_rejected(&f, h, 2, "readable descriptor after a writable one");
	expect_clean_stop(&f);
}

static void test_ring_head_out_of_range(void)
{
	uint64_t cnt = 0;
	struct fe f;

	setup_init(&f);
	drv_add_raw(&f, 1, RING_SIZE + 3);
	drv_kick(&f, 1);
	/* The ring is dead; the frontend hears of it, the connection lives. */
	{
		struct pollfd pfd = { .fd = f.vq[1].err_fd, .events = POLLIN };

		CHECK_EQ(poll(&pfd, 1, 5000), 1);
		CHECK_EQ(read(f.vq[1].err_fd, &cnt, sizeof(cnt)), sizeof(cnt));
	}
	CHECK(tap_log_contains("available head out of range"));
	CHECK_EQ(fe_vring_state(&f, REQ_GET_VRING_BASE, 1, 0), 1);
	expect_ping(&f, 2);
	expect_clean_stop(&f);
}

static void test_ring_avail_idx_jump(void)
{
	struct fe f;

	setup_init(&f);
	f.vq[2].avail_idx += RING_SIZE + 1;
	drv_add_raw(&f, 2, 0);
	drv_kick(&f, 2);
	{
		struct pollfd pfd = { .fd = f.vq[2].err_fd, .events = POLLIN };

		CHECK_EQ(poll(&pfd, 1, 5000), 1);
	}
	CHECK(tap_log_contains("available index ahead"));
	expect_ping(&f, 1);
	expect_clean_stop(&f);
}

/* Random descriptor chains: the backend survives and keeps serving. */
static void test_chain_fuzz(void)
{
	struct fe_vq *v;
	unsigned int i, done = 0;
	uint32_t id, len;
	struct fe f;

	setup_init(&f);
	v = &f.vq[1];
	srandom(1);
	for (i = 0; i < 3000; i++) {
		struct vring_desc *d = &v->desc[random() % RING_SIZE];
		uint64_t addr = random() % 2 ?
			FE_GPA_BASE + random() % FE_MEM_SIZE :
			((uint64_t)random() << 33) ^ random();
		uint16_t flags = random() % 8;

		if (!(random() % 16))
			flags |= 0x8;
		*d = mkdesc(addr, random() % 4 ? random() % 600 : random(),
			    flags, random() % (RING_SIZE + 2));
		if (i % 3)
			continue;
		drv_add_raw(&f, 1, random() % RING_SIZE);
		drv_kick(&f, 1);
		if (!drv_wait_used(&f, 1, &id, &len, 2000))
			break;		/* the ring broke itself */
		CHECK(id < RING_SIZE);
		done++;
	}
	tap_diag("%u random chains completed", done);
	CHECK(done > 100);
	expect_ping(&f, 2);
	CHECK_EQ(fe_get_u64(&f, REQ_GET_QUEUE_NUM), 1 + NREQ);
	expect_clean_stop(&f);
}

/* Random vhost-user messages: refused, answered or fatal, never a crash. */
static void test_msg_fuzz(void)
{
	unsigned int round, broken = 0;

	srandom(2);
	for (round = 0; round < 200; round++) {
		struct fe f;
		unsigned int i;
		int r;

		fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
		if (round % 2)
			fe_handshake(&f, 0);
		for (i = 0; i < 50; i++) {
			static const uint32_t sizes[] = { 0, 8, 8, 8, 40, 16 };
			uint32_t payload[80], size = random() % 8 ?
				sizes[random() % ARRAY_SIZE(sizes)] : random() % 320;
			uint32_t flags = random() % 8 ? FLAG_VERSION : random() % 16;
			unsigned int j;
			char drain[512];

			for (j = 0; j < ARRAY_SIZE(payload); j++)
				payload[j] = random() % 3 ? random() % 4 : random();
			if (random() % 2)
				flags |= FLAG_NEED_REPLY;
			if (fe_send(&f, 1 + random() % 45, flags, payload, size,
				    NULL, 0))
				break;
			while (recv(f.sock, drain, sizeof(drain), MSG_DONTWAIT) > 0)
				;
		}
		r = fe_stop(&f);
		/* Replies may find the frontend gone. */
		CHECK(r == 0 || r == -EPROTO || r == -EPIPE || r == -ECONNRESET);
		broken += r != 0;
	}
	tap_diag("%u of 200 connections broken", broken);
}

/* Malformed vhost-user messages */

static void test_msg_truncated_header(void)
{
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(write(f.sock, "\x01\x00\x00\x00\x01\x00", 6), 6);
	shutdown(f.sock, SHUT_WR);
	expect_broken(&f, "connection closed in the middle of a message");
}

static void test_msg_truncated_payload(void)
{
	uint32_t hdr[4] = { REQ_SET_FEATURES, FLAG_VERSION, 8, 0 };
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(write(f.sock, hdr, sizeof(hdr)), sizeof(hdr));
	shutdown(f.sock, SHUT_WR);
	expect_broken(&f, "connection closed in the middle of a message");
}

static void test_msg_payload_size_mismatch(void)
{
	uint32_t v = 1;
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_FEATURES, FLAG_VERSION, &v, 4, NULL, 0), 0);
	expect_broken(&f, "SET_FEATURES: payload of 4 bytes, expected 8");
}

static void test_msg_bad_flags(void)
{
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_GET_FEATURES, 0x2, NULL, 0, NULL, 0), 0);
	expect_broken(&f, "bad flags");
}

static void test_msg_reply_flag(void)
{
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_GET_FEATURES, FLAG_VERSION | FLAG_REPLY, NULL, 0,
			 NULL, 0), 0);
	expect_broken(&f, "bad flags");
}

static void test_msg_oversized_payload(void)
{
	uint32_t hdr[3] = { REQ_SET_FEATURES, FLAG_VERSION, 1U << 20 };
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(write(f.sock, hdr, sizeof(hdr)), sizeof(hdr));
	expect_broken(&f, "payload of 1048576 bytes");
}

static void test_msg_vring_index_out_of_range(void)
{
	uint32_t state[2] = { 1 + NREQ, 64 };
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_NUM, FLAG_VERSION, state, 8, NULL, 0), 0);
	expect_broken(&f, "for virtqueue 3 of 3");
}

static void test_msg_kick_index_out_of_range(void)
{
	uint64_t v = 200;
	int fd = eventfd(0, EFD_CLOEXEC);
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_KICK, FLAG_VERSION, &v, 8, &fd, 1), 0);
	expect_broken(&f, "for virtqueue 200 of 3");
	close(fd);
}

static void bad_vring_num(uint32_t num)
{
	uint32_t state[2] = { 1, num };
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_NUM, FLAG_VERSION, state, 8, NULL, 0), 0);
	expect_broken(&f, "bad size");
}

static void test_msg_vring_num_not_power_of_two(void)
{
	bad_vring_num(100);
}

static void test_msg_vring_num_zero(void)
{
	bad_vring_num(0);
}

static void test_msg_vring_num_too_big(void)
{
	bad_vring_num(65536);
}

static void mem_table_raw(struct fe *f, const struct fe_mem_region *r,
			  uint32_t nregions, unsigned int nr, const int *fds,
			  unsigned int nfds)
{
	struct {
		uint32_t nregions, padding;
		struct fe_mem_region regions[9];
	} t = { .nregions = nregions };

	memcpy(t.regions, r, nr * sizeof(*r));
	CHECK_EQ(fe_send(f, REQ_SET_MEM_TABLE, FLAG_VERSION | FLAG_NEED_REPLY, &t,
			 8 + nr * sizeof(*r), fds, nfds), 0);
}

static void test_msg_mem_table_bad_fd(void)
{
	struct fe_mem_region r = { FE_GPA_BASE, 1 << 20, 0x10000000, 0 };
	int p[2];
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK(pipe(p) == 0);
	mem_table_raw(&f, &r, 1, 1, &p[0], 1);
	expect_broken(&f, "mmap");
	close(p[0]);
	close(p[1]);
}

static void test_msg_mem_table_too_many_regions(void)
{
	struct fe_mem_region r[9];
	int fds[8];
	unsigned int i;
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	for (i = 0; i < 9; i++)
		r[i] = (struct fe_mem_region){ FE_GPA_BASE + i * 4096, 4096,
					       0x10000000 + i * 4096, i * 4096 };
	for (i = 0; i < 8; i++)
		fds[i] = f.memfd;
	mem_table_raw(&f, r, 9, 9, fds, 8);
	expect_broken(&f, "SET_MEM_TABLE: 9 regions");
}

static void test_msg_mem_table_fd_count(void)
{
	struct fe_mem_region r[2] = {
		{ FE_GPA_BASE, 4096, 0x10000000, 0 },
		{ FE_GPA_BASE + 4096, 4096, 0x10001000, 4096 },
	};
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	mem_table_raw(&f, r, 2, 2, &f.memfd, 1);
	expect_broken(&f, "1 file descriptors for 2 regions");
}

static void test_msg_mem_table_size_mismatch(void)
{
	struct fe_mem_region r[2] = {
		{ FE_GPA_BASE, 4096, 0x10000000, 0 },
	};
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	mem_table_raw(&f, r, 2, 1, &f.memfd, 1);
	expect_broken(&f, "payload of 40 bytes for 2 regions");
}

static void test_msg_mem_table_overlap(void)
{
	struct fe_mem_region r[2] = {
		{ FE_GPA_BASE, 8192, 0x10000000, 0 },
		{ FE_GPA_BASE + 4096, 8192, 0x20000000, 8192 },
	};
	int fds[2];
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fds[0] = fds[1] = f.memfd;
	mem_table_raw(&f, r, 2, 2, fds, 2);
	expect_broken(&f, "memory regions 0 and 1 overlap");
}

static void test_msg_mem_table_beyond_file(void)
{
	struct fe_mem_region r = { FE_GPA_BASE, FE_MEM_SIZE, 0x10000000, 4096 };
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	mem_table_raw(&f, &r, 1, 1, &f.memfd, 1);
	expect_broken(&f, "beyond the end of its file");
}

static void test_msg_mem_table_wraps(void)
{
	struct fe_mem_region r = { ~0ULL - 4095, 8192, 0x10000000, 0 };
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	mem_table_raw(&f, &r, 1, 1, &f.memfd, 1);
	expect_broken(&f, "bad size");
}

static void test_msg_features_not_offered(void)
{
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_FEATURES, FLAG_VERSION,
			 &(uint64_t){ F(VBRIDGE_F_DISPLAY) }, 8, NULL, 0), 0);
	expect_broken(&f, "SET_FEATURES: 0x2 not offered");
}

static void test_msg_protocol_features_not_offered(void)
{
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_PROTOCOL_FEATURES, FLAG_VERSION,
			 &(uint64_t){ F(1) }, 8, NULL, 0), 0);
	expect_broken(&f, "SET_PROTOCOL_FEATURES: 0x2 not offered");
}

static void test_msg_unexpected_fd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_OWNER, FLAG_VERSION, NULL, 0, &fd, 1), 0);
	expect_broken(&f, "SET_OWNER: 1 file descriptors, expected 0");
	close(fd);
}

static void test_msg_too_many_fds(void)
{
	int fds[12];
	unsigned int i;
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = f.memfd;
	CHECK_EQ(fe_send(&f, REQ_SET_OWNER, FLAG_VERSION, NULL, 0, fds, 12), 0);
	expect_broken(&f, "more than 8 file descriptors");
}

static void test_msg_kick_without_fd(void)
{
	uint64_t v = 1 | 0x100;
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_KICK, FLAG_VERSION, &v, 8, NULL, 0), 0);
	expect_broken(&f, "polling mode");
}

static void test_msg_ring_outside_memory(void)
{
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} addr = { 1, 0, 0x1000, 0x3000, 0x2000, 0 };
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 1;
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_NUM, 1, 64), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_ADDR, FLAG_VERSION, &addr, sizeof(addr),
			 NULL, 0), 0);
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_ENABLE, 1, 1), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_KICK, FLAG_VERSION, &v, 8, &fd, 1), 0);
	expect_broken(&f, "ring not in guest memory");
	close(fd);
}

static void test_msg_ring_misaligned(void)
{
	struct fe f;
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} addr;
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 1;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	addr = (typeof(addr)){ 1, 0, (uintptr_t)f.mem + 8,
			       (uintptr_t)f.mem + 8192, (uintptr_t)f.mem + 4096, 0 };
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_NUM, 1, 64), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_ADDR, FLAG_VERSION, &addr, sizeof(addr),
			 NULL, 0), 0);
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_ENABLE, 1, 1), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_KICK, FLAG_VERSION, &v, 8, &fd, 1), 0);
	expect_broken(&f, "ring not in guest memory or misaligned");
	close(fd);
}

/* Issue 8 #3: a used ring over the available ring made virtq_pop spin. */
static void test_msg_ring_used_over_avail(void)
{
	struct fe f;
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} addr;
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 1;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	addr = (typeof(addr)){ 1, 0, (uintptr_t)f.mem,
			       (uintptr_t)f.mem + 4096, (uintptr_t)f.mem + 4096, 0 };
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_NUM, 1, 64), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_ADDR, FLAG_VERSION, &addr, sizeof(addr),
			 NULL, 0), 0);
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_ENABLE, 1, 1), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_KICK, FLAG_VERSION, &v, 8, &fd, 1), 0);
	expect_broken(&f, "its parts overlap");
	close(fd);
}

static void test_msg_ring_used_over_desc(void)
{
	struct fe f;
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} addr;
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 1;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	/* The used ring starts in the last descriptor. */
	addr = (typeof(addr)){ 1, 0, (uintptr_t)f.mem,
			       (uintptr_t)f.mem + 64 * 16 - 16,
			       (uintptr_t)f.mem + 8192, 0 };
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_NUM, 1, 64), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_ADDR, FLAG_VERSION, &addr, sizeof(addr),
			 NULL, 0), 0);
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_ENABLE, 1, 1), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_KICK, FLAG_VERSION, &v, 8, &fd, 1), 0);
	expect_broken(&f, "its parts overlap");
	close(fd);
}

/*
 * Even if the rings move under us (aliased in a way virtq_start cannot
 * see), one virtq_pop() call is bounded: the ring breaks instead.
 */
static void test_virtq_pop_bounded(void)
{
	static struct virtq_chain c;
	struct virtq_mem mem = { .nregions = 1 };
	struct virtq_addr a;
	struct virtq vq;
	uint8_t *ram = aligned_alloc(4096, 16384);
	unsigned int i;

	CHECK(ram);
	memset(ram, 0, 16384);
	mem.regions[0] = (struct virtq_mem_region){
		.gpa = 0, .uva = 0x10000, .size = 16384, .hva = ram,
	};
	a = (struct virtq_addr){ 0x10000, 0x10000 + 4096, 0x10000 + 8192 };
	CHECK_EQ(virtq_start(&vq, &mem, 0, 8, &a, 0, 0), 0);
	/* Every descriptor is malformed (unknown flags). */
	for (i = 0; i < 8; i++)
		vq.desc[i].flags = htole16(0x80);
	vq.avail->idx = htole16(1);
	/* Alias the used index onto the available index, as a guest could. */
	vq.used = (struct vring_used *)(void *)vq.avail;
	vq.used_idx = 1;
	CHECK_EQ(virtq_pop(&vq, &c), -EIO);
	CHECK(vq.broken);
	CHECK(tap_log_contains("more malformed chains than ring entries"));

	/* And virtq_start refuses overlapping parts outright. */
	a.used = a.avail;
	CHECK_EQ(virtq_start(&vq, &mem, 0, 8, &a, 0, 0), -EFAULT);
	a = (struct virtq_addr){ 0x10000, 0x10000 + 64, 0x10000 + 8192 };
	CHECK_EQ(virtq_start(&vq, &mem, 0, 8, &a, 0, 0), -EFAULT);
	a = (struct virtq_addr){ 0x10000, 0x10000 + 4096, 0x10000 + 8192 };
	CHECK_EQ(virtq_start(&vq, &mem, 0, 12, &a, 0, 0), -EINVAL);
	free(ram);
}

static void test_msg_ring_before_mem_table(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 1;
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_vring_state(&f, REQ_SET_VRING_ENABLE, 1, 1), 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_KICK, FLAG_VERSION, &v, 8, &fd, 1), 0);
	expect_broken(&f, "started before SET_MEM_TABLE");
	close(fd);
}

static void test_msg_config_not_negotiated(void)
{
	uint32_t c[3] = { 0, 0, 0 };
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	CHECK_EQ(fe_send(&f, REQ_GET_CONFIG, FLAG_VERSION, c, sizeof(c), NULL, 0), 0);
	expect_broken(&f, "GET_CONFIG: protocol feature 9 not negotiated");
}

static void test_msg_config_size_mismatch(void)
{
	uint32_t c[4] = { 0, 8, 0, 0 };
	struct fe f;

	fe_start(&f, NREQ, tags, ARRAY_SIZE(tags));
	fe_handshake(&f, 0);
	CHECK_EQ(fe_send(&f, REQ_GET_CONFIG, FLAG_VERSION, c, sizeof(c), NULL, 0), 0);
	expect_broken(&f, "config payload of 16 bytes");
}

/* Helpers */

static void test_iov_helpers(void)
{
	uint8_t a[10], b[3], c[7], d[20], src[20], out[20];
	struct iovec v1[3] = { { a, 10 }, { b, 3 }, { c, 7 } };
	struct iovec v2[2] = { { d, 5 }, { d + 5, 15 } };

	fill_pattern(src, sizeof(src), 5);
	CHECK_EQ(iov_from_buf(v1, 3, 4, src, 20), 16);
	CHECK_EQ(iov_to_buf(v1, 3, 4, out, 20), 16);
	CHECK(!memcmp(out, src, 16));
	CHECK_EQ(iov_to_buf(v1, 3, 25, out, 1), 0);
	CHECK_EQ(iov_copy(v2, 2, 1, v1, 3, 4, 100), 16);
	CHECK(!memcmp(d + 1, src, 16));
	CHECK_EQ(iov_copy(v2, 2, 0, v1, 3, 0, 3), 3);
}

static void test_share_parse(void)
{
	char dir[] = "/tmp/vbridged-test-XXXXXX", spec[512], file[300];
	char *specs[VBRIDGE_MAX_TAGS + 1];
	struct vbd_store *st;
	unsigned int i;

	CHECK(mkdtemp(dir));
	snprintf(spec, sizeof(spec), "data=%s:ro", dir);
	specs[0] = spec;
	st = vbd_share_store_open(specs, 1);
	CHECK(st);
	CHECK_EQ(st->ops->num_exports(st), 1);
	CHECK(!strcmp(st->ops->export_tag(st, 0), "data"));
	CHECK(tap_log_contains("(read-only)"));
	st->ops->destroy(st);

	specs[1] = spec;
	CHECK(!vbd_share_store_open(specs, 2));
	CHECK(tap_log_contains("duplicate tag"));

	snprintf(spec, sizeof(spec), "a b=%s", dir);
	CHECK(!vbd_share_store_open(specs, 1));
	/* A tag may fill the whole NUL-padded config field, no more. */
	snprintf(spec, sizeof(spec), "%0*d=%s", VBRIDGE_TAG_LEN, 0, dir);
	st = vbd_share_store_open(specs, 1);
	CHECK(st);
	CHECK_EQ(strlen(st->ops->export_tag(st, 0)), VBRIDGE_TAG_LEN);
	st->ops->destroy(st);
	snprintf(spec, sizeof(spec), "%0*d=%s", VBRIDGE_TAG_LEN + 1, 0, dir);
	CHECK(!vbd_share_store_open(specs, 1));
	snprintf(spec, sizeof(spec), "=%s", dir);
	CHECK(!vbd_share_store_open(specs, 1));
	snprintf(spec, sizeof(spec), "%s", dir);
	CHECK(!vbd_share_store_open(specs, 1));
	snprintf(spec, sizeof(spec), "x=%s/missing", dir);
	CHECK(!vbd_share_store_open(specs, 1));
	CHECK(tap_log_contains("No such file or directory"));

	snprintf(file, sizeof(file), "%s/file", dir);
	close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	snprintf(spec, sizeof(spec), "x=%s", file);
	CHECK(!vbd_share_store_open(specs, 1));
	CHECK(tap_log_contains("Not a directory"));
	unlink(file);

	for (i = 0; i <= VBRIDGE_MAX_TAGS; i++)
		specs[i] = spec;
	CHECK(!vbd_share_store_open(specs, VBRIDGE_MAX_TAGS + 1));
	rmdir(dir);
}

/* vbridged as a process */

static const char *daemon_path(void)
{
	const char *p = getenv("VBRIDGED");

	if (!p) {
		tap_diag("VBRIDGED not set, skipped");
		_exit(0);
	}
	return p;
}

/* Run vbridged with args, stderr to a file; returns its pid. */
static pid_t spawn(const char *const argv[], int keep_fd, const char *err_path)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (!pid) {
		int err = open(err_path, O_WRONLY | O_TRUNC | O_CLOEXEC);

		dup2(err, STDERR_FILENO);
		/* dup2() clears close-on-exec, unless the fd is already 3. */
		if (keep_fd == 3)
			fcntl(3, F_SETFD, 0);
		else if (keep_fd >= 0)
			dup2(keep_fd, 3);
		/*
		 * LeakSanitizer stops the world with ptrace at exit, which
		 * the sandbox's capability drop makes fail: no leak check in
		 * the daemon (the in-process tests have it).
		 */
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status, i;

	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static bool file_contains(const char *path, const char *s)
{
	char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = 0;
	return strstr(buf, s);
}

static void talk_to_daemon(struct fe *f)
{
	fe_handshake(f, 0);
	fe_setup_all(f, RING_SIZE);
	CHECK_EQ(fe_init(f, 1), 0);
	expect_ping(f, 1);
	expect_ping(f, 2);
	CHECK_EQ(event_test(f, 2, 77), 0);
	post_event_buffers(f, 1);
	expect_event(f, 77);
}

static void test_daemon_fd(void)
{
	const char *argv[] = { daemon_path(), "--fd=3", "--num-queues=2",
			 "--log-level=debug", NULL };
	char err[] = "/tmp/vbridged-err-XXXXXX";
	struct fe f;
	int sv[2];
	pid_t pid;

	close(mkstemp(err));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = spawn(argv, sv[1], err);
	close(sv[1]);
	fe_attach(&f, sv[0], 2);
	talk_to_daemon(&f);
	fe_stop(&f);
	CHECK_EQ(wait_exit(pid), 0);
	CHECK(file_contains(err, "frontend disconnected"));
	unlink(err);
}

static void test_daemon_socket_path(void)
{
	char dir[] = "/tmp/vbridged-test-XXXXXX", path[128], shared[160];
	char err[] = "/tmp/vbridged-err-XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *argv[6];
	struct stat st;
	struct fe f;
	int fd, i;
	pid_t pid;

	close(mkstemp(err));
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(shared, sizeof(shared), "--shared-dir=share=%s", dir);
	/* A stale socket is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);

	argv[0] = daemon_path();
	argv[1] = "--socket-path";
	argv[2] = path;
	argv[3] = shared;
	argv[4] = "--num-queues=2";
	argv[5] = NULL;
	pid = spawn(argv, -1, err);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	for (i = 0; i < 500; i++) {
		if (file_contains(err, "waiting for the frontend") &&
		    !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		usleep(10 * 1000);
	}
	CHECK(i < 500);
	fe_attach(&f, fd, 2);
	CHECK(fe_get_u64(&f, REQ_GET_FEATURES) & F(VBRIDGE_F_FS));
	talk_to_daemon(&f);
	/* One connection per run: the socket is gone. */
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	fe_stop(&f);
	CHECK_EQ(wait_exit(pid), 0);
	rmdir(dir);
	unlink(err);
}

/* Connect to the Unix socket at path; -errno on failure. */
static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/*
 * In a child running as uid:gid: connect to path, ask for the features;
 * exits 0 if answered, 1 if the connection was refused or dropped.
 */
static int foreign_frontend(const char *path, uid_t uid, gid_t gid)
{
	pid_t pid = fork();
	int status;

	CHECK(pid >= 0);
	if (!pid) {
		struct { uint32_t req, flags, size; uint64_t v; } m = {
			REQ_GET_FEATURES, FLAG_VERSION, 0, 0 };
		struct timeval tv = { 5, 0 };
		int fd;

		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			_exit(2);
		fd = unix_connect(path);
		if (fd < 0)
			_exit(1);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (send(fd, &m, 12, MSG_NOSIGNAL) != 12)
			_exit(1);
		_exit(recv(fd, &m, 20, MSG_WAITALL) == 20 ? 0 : 1);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void wait_listening(const char *err)
{
	int i;

	for (i = 0; i < 500 && !file_contains(err, "waiting for the frontend"); i++)
		usleep(10 * 1000);
	CHECK(i < 500);
}

/* Issue 8 #8: the socket is 0600 whatever the umask, peers are checked. */
static void test_daemon_socket_access(void)
{
	char dir[] = "/tmp/vbridged-test-XXXXXX", path[128], lpath[128];
	char err[] = "/tmp/vbridged-err-XXXXXX";
	const char *argv[6] = { daemon_path(), "--socket-path", path, NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	struct fe f;
	mode_t mask;
	pid_t pid;
	int fd;

	close(mkstemp(err));
	CHECK(mkdtemp(dir));
	CHECK(chmod(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(lpath, sizeof(lpath), "%s/listen", dir);

	mask = umask(0);
	pid = spawn(argv, -1, err);
	umask(mask);
	wait_listening(err);
	CHECK(lstat(path, &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	if (geteuid() == 0)
		CHECK_EQ(foreign_frontend(path, 65534, 65534), 1);
	fd = unix_connect(path);
	CHECK(fd >= 0);
	fe_attach(&f, fd, 1);
	CHECK(fe_get_u64(&f, REQ_GET_FEATURES) & F(VIRTIO_F_VERSION_1));
	fe_stop(&f);
	CHECK_EQ(wait_exit(pid), 0);

	if (geteuid() != 0) {
		tap_diag("not root: peer checks not tested");
		goto out;
	}
	/* A listening socket anyone may reach: the peer check refuses. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, lpath);
	mask = umask(0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	umask(mask);
	CHECK(listen(fd, 4) == 0);
	argv[1] = "--fd=3";
	argv[2] = NULL;
	CHECK(truncate(err, 0) == 0);
	pid = spawn(argv, fd, err);
	close(fd);
	wait_listening(err);
	CHECK_EQ(foreign_frontend(lpath, 65534, 65534), 1);
	CHECK(file_contains(err, "refusing a frontend connection from uid 65534"));
	/* Still waiting for the real frontend. */
	fd = unix_connect(lpath);
	CHECK(fd >= 0);
	fe_attach(&f, fd, 1);
	CHECK(fe_get_u64(&f, REQ_GET_FEATURES) & F(VIRTIO_F_VERSION_1));
	fe_stop(&f);
	CHECK_EQ(wait_exit(pid), 0);
	unlink(lpath);

	/* --socket-group: 0660, that group's members are frontends. */
	argv[1] = "--socket-path";
	argv[2] = path;
	argv[3] = "--socket-group=4242";
	argv[4] = NULL;
	CHECK(truncate(err, 0) == 0);
	pid = spawn(argv, -1, err);
	wait_listening(err);
	CHECK(lstat(path, &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0660);
	CHECK_EQ(st.st_gid, 4242);
	CHECK_EQ(foreign_frontend(path, 65534, 4242), 0);
	CHECK_EQ(wait_exit(pid), 0);
out:
	rmdir(dir);
	unlink(err);
}

/* The value of field (e.g. "CapEff:") in /proc/pid/status, or ~0. */
static unsigned long long status_field(pid_t pid, const char *field, int base)
{
	char path[64], line[256];
	unsigned long long v = ~0ULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtoull(line + strlen(field), NULL, base);
	fclose(f);
	return v;
}

/* Issue 8 #9: the default sandbox, seen from the host. */
static void test_daemon_sandbox(void)
{
	char dir[] = "/tmp/vbridged-test-XXXXXX", path[128], shared[160];
	char err[] = "/tmp/vbridged-err-XXXXXX", proc[64];
	const char *argv[] = { daemon_path(), "--socket-path", path, shared,
			       "--num-queues=2", NULL };
	unsigned long long bnd, eff;
	struct stat root, sroot;
	struct fe f;
	pid_t pid, child = 0;
	FILE *fp;
	int fd;

	if (geteuid() != 0)
		tap_skip("namespaces need root");
	close(mkstemp(err));
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(shared, sizeof(shared), "--shared-dir=share=%s", dir);
	pid = spawn(argv, -1, err);
	wait_listening(err);
	CHECK(file_contains(err, "sandbox: namespaces, seccomp on"));
	/* The daemon proper is the child, init of a new PID namespace. */
	snprintf(proc, sizeof(proc), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fp = fopen(proc, "re");
	CHECK(fp);
	CHECK_EQ(fscanf(fp, "%d", &child), 1);
	fclose(fp);
	CHECK_EQ(status_field(child, "NoNewPrivs:", 10), 1);
	CHECK_EQ(status_field(child, "Seccomp:", 10), 2);
	bnd = status_field(child, "CapBnd:", 16);
	eff = status_field(child, "CapEff:", 16);
	/* File serving only: no CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_*, ... */
	CHECK_EQ(bnd, 0xdf);
	CHECK_EQ(eff, 0xdf);
	CHECK_EQ(status_field(child, "NSpid:", 10), child);
	/* Its root is an empty tmpfs with /proc, not ours. */
	snprintf(proc, sizeof(proc), "/proc/%d/root/", (int)child);
	CHECK(stat("/", &root) == 0 && stat(proc, &sroot) == 0);
	CHECK(root.st_dev != sroot.st_dev || root.st_ino != sroot.st_ino);
	snprintf(proc, sizeof(proc), "/proc/%d/root/proc/1/fd", (int)child);
	CHECK(access(proc, F_OK) == 0);
	snprintf(proc, sizeof(proc), "/proc/%d/root/tmp", (int)child);
	CHECK(access(proc, F_OK) < 0);

	/* And it serves all the same. */
	fd = unix_connect(path);
	CHECK(fd >= 0);
	fe_attach(&f, fd, 2);
	talk_to_daemon(&f);
	fe_stop(&f);
	CHECK_EQ(wait_exit(pid), 0);
	CHECK(!file_contains(err, "not allowed"));
	rmdir(dir);
	unlink(err);
}

/*
 * Chroot mode enters its sandbox once the frontend is connected, after
 * the control and watcher threads started: they too must hold no more
 * than file serving plus entering the chroot needs (capabilities are per
 * thread).
 */
static void test_daemon_sandbox_chroot_threads(void)
{
	char dir[] = "/tmp/vbridged-test-XXXXXX", path[128], shared[160];
	char err[] = "/tmp/vbridged-err-XXXXXX", ctl[160], task[96];
	const char *argv[] = { daemon_path(), "--socket-path", path, shared,
			       "--num-queues=2", "--sandbox=chroot",
			       "--display=640x480", ctl, NULL };
	/* file_caps, CAP_SETPCAP (8) and CAP_SYS_CHROOT (18) */
	const unsigned long long allowed = 0xdfULL | 1ULL << 8 | 1ULL << 18;
	unsigned long long eff, bnd;
	int fd, i, tasks = 0;
	struct fe f;
	pid_t pid;
	DIR *d;
	struct dirent *e;

	if (geteuid() != 0)
		tap_skip("dropping capabilities needs root");
	close(mkstemp(err));
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(shared, sizeof(shared), "--shared-dir=share=%s", dir);
	snprintf(ctl, sizeof(ctl), "--control-socket=%s/ctl", dir);
	pid = spawn(argv, -1, err);
	wait_listening(err);
	fd = unix_connect(path);
	CHECK(fd >= 0);
	fe_attach(&f, fd, 2);
	for (i = 0; i < 100 && !file_contains(err, "sandbox: chroot"); i++)
		usleep(50000);
	CHECK(file_contains(err, "sandbox: chroot, seccomp on"));
	snprintf(task, sizeof(task), "/proc/%d/task", (int)pid);
	d = opendir(task);
	CHECK(d);
	while ((e = readdir(d))) {
		pid_t tid = atoi(e->d_name);

		if (tid <= 0)
			continue;
		tasks++;
		eff = status_field(tid, "CapEff:", 16);
		bnd = status_field(tid, "CapBnd:", 16);
		CHECK_EQ(eff & ~allowed, 0);
		CHECK_EQ(bnd & ~allowed, 0);
		/* The main thread has entered: file serving only. */
		if (tid == pid)
			CHECK_EQ(eff, 0xdf);
	}
	closedir(d);
	CHECK(tasks >= 2);	/* the control socket's thread at least */
	talk_to_daemon(&f);
	fe_stop(&f);
	CHECK_EQ(wait_exit(pid), 0);
	snprintf(ctl, sizeof(ctl), "%s/ctl", dir);
	unlink(ctl);
	rmdir(dir);
	unlink(err);
}

static void test_daemon_protocol_error_exit(void)
{
	const char *argv[] = { daemon_path(), "--fd=3", NULL };
	char err[] = "/tmp/vbridged-err-XXXXXX";
	struct fe f;
	int sv[2];
	pid_t pid;

	close(mkstemp(err));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = spawn(argv, sv[1], err);
	close(sv[1]);
	fe_attach(&f, sv[0], 1);
	fe_handshake(&f, 0);
	CHECK_EQ(fe_send(&f, REQ_SET_VRING_NUM, FLAG_VERSION,
			 (uint32_t[]){ 1, 3 }, 8, NULL, 0), 0);
	CHECK_EQ(wait_exit(pid), 1);
	CHECK(file_contains(err, "frontend protocol error"));
	fe_stop(&f);
	unlink(err);
}

#define T(name)	{ #name, test_##name }

static const struct tap_test tests[] = {
	T(handshake),
	T(no_shares_no_fs),
	T(access_platform),
	T(access_platform_acked),
	T(backend_req_not_offered),
	T(get_config),
	T(set_config_refused),
	T(unknown_request_need_reply),
	T(unknown_request_no_reply),
	T(status),
	T(reset_device),
	T(get_vring_base_stops_ring),
	T(mem_table_replaced_while_running),
	T(no_protocol_features),
	T(init),
	T(init_major_mismatch),
	T(init_bad_limits),
	T(request_before_init),
	T(ping),
	T(echo_single_buffer),
	T(echo_split),
	T(echo_indirect),
	T(echo_across_regions),
	T(event_test),
	T(event_test_pending),
	T(event_test_overflow),
	T(event_buffer_too_small),
	T(event_queue_not_negotiated),
	T(debug_not_negotiated),
	T(many_requests_event_idx),
	T(many_requests_no_event_idx),
	T(slow_requests_in_parallel),
	T(unknown_opcode),
	T(bad_request_header),
	T(chain_outside_memory),
	T(chain_loop),
	T(chain_huge_length),
	T(chain_nested_indirect),
	T(chain_bad_indirect),
	T(chain_indirect_not_negotiated),
	T(chain_writable_then_readable),
	T(ring_head_out_of_range),
	T(ring_avail_idx_jump),
	T(chain_fuzz),
	T(msg_truncated_header),
	T(msg_truncated_payload),
	T(msg_payload_size_mismatch),
	T(msg_bad_flags),
	T(msg_reply_flag),
	T(msg_oversized_payload),
	T(msg_vring_index_out_of_range),
	T(msg_kick_index_out_of_range),
	T(msg_vring_num_not_power_of_two),
	T(msg_vring_num_zero),
	T(msg_vring_num_too_big),
	T(msg_mem_table_bad_fd),
	T(msg_mem_table_too_many_regions),
	T(msg_mem_table_fd_count),
	T(msg_mem_table_size_mismatch),
	T(msg_mem_table_overlap),
	T(msg_mem_table_beyond_file),
	T(msg_mem_table_wraps),
	T(msg_features_not_offered),
	T(msg_protocol_features_not_offered),
	T(msg_unexpected_fd),
	T(msg_too_many_fds),
	T(msg_kick_without_fd),
	T(msg_ring_outside_memory),
	T(msg_ring_misaligned),
	T(msg_ring_used_over_avail),
	T(msg_ring_used_over_desc),
	T(virtq_pop_bounded),
	T(msg_ring_before_mem_table),
	T(msg_config_not_negotiated),
	T(msg_config_size_mismatch),
	T(msg_fuzz),
	T(iov_helpers),
	T(share_parse),
	T(daemon_fd),
	T(daemon_socket_path),
	T(daemon_socket_access),
	T(daemon_sandbox),
	T(daemon_sandbox_chroot_threads),
	T(daemon_protocol_error_exit),
};

int main(int argc, char **argv)
{
	return tap_main(tests, ARRAY_SIZE(tests), argc, argv);
}
