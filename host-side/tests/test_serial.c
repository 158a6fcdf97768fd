// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Stream transport tests: a socketpair drives a connection the way the
 * userspace bridge does over virtio-serial.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <linux/vbridge.h>

#include "serial.h"
#include "tap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct ts {
	char dir[64];
	struct vbd_store *store;
	struct vbd_serial_conn *conn;
	int fd;			/* our end */
	uint64_t unique;
};

struct reply {
	int32_t error;
	uint32_t len;		/* payload bytes */
	uint64_t unique;
	uint8_t payload[8192];
};

static void ts_start(struct ts *t)
{
	char spec[128];
	char *specs[1] = { spec };
	int sv[2];

	strcpy(t->dir, "/tmp/vbridged-serial-XXXXXX");
	CHECK(mkdtemp(t->dir));
	snprintf(spec, sizeof(spec), "data=%s", t->dir);
	t->store = vbd_share_store_open(specs, 1);
	CHECK(t->store);
	t->conn = vbd_serial_conn_new(t->store, NULL, 4);
	CHECK(t->conn);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(vbd_serial_conn_start(t->conn, sv[0]), 0);
	t->fd = sv[1];
}

/* Close our end, check how the connection ended, free everything. */
static void ts_stop(struct ts *t, int want_status)
{
	char cmd[128];

	close(t->fd);
	CHECK_EQ(vbd_serial_conn_wait(t->conn), want_status);
	vbd_serial_conn_free(t->conn);
	t->store->ops->destroy(t->store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	CHECK_EQ(system(cmd), 0);
}

static void write_all(int fd, const void *buf, size_t len)
{
	CHECK_EQ(write(fd, buf, len), (ssize_t)len);
}

static void read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		CHECK(n > 0);
		done += n;
	}
}

static void send_raw(struct ts *t, uint32_t type, uint32_t len, uint32_t room,
		     const void *body, size_t body_len)
{
	struct vbridge_stream_hdr h = {
		.type = htole32(type), .len = htole32(len), .room = htole32(room),
	};

	write_all(t->fd, &h, sizeof(h));
	if (body_len)
		write_all(t->fd, body, body_len);
}

/* Send a request without waiting; returns its unique. */
static uint64_t send_req(struct ts *t, uint32_t opcode, const void *in,
			 size_t in_len, uint32_t out_room)
{
	uint8_t buf[8192];
	struct vbridge_req_hdr h = {
		.opcode = htole32(opcode),
		.len = htole32(sizeof(h) + in_len),
		.unique = htole64(++t->unique),
	};

	CHECK(sizeof(h) + in_len <= sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	if (in_len)
		memcpy(buf + sizeof(h), in, in_len);
	send_raw(t, VBRIDGE_STREAM_REQUEST, sizeof(h) + in_len,
		 sizeof(struct vbridge_resp_hdr) + out_room, buf,
		 sizeof(h) + in_len);
	return t->unique;
}

/* Read the next frame, which must be of type; returns its body length. */
static uint32_t recv_frame(struct ts *t, uint32_t type, void *body, size_t max)
{
	struct vbridge_stream_hdr h;
	uint32_t len;

	read_all(t->fd, &h, sizeof(h));
	len = le32toh(h.len);
	CHECK_EQ(le32toh(h.type), type);
	CHECK_EQ(h.room, 0);
	CHECK(len <= max);
	read_all(t->fd, body, len);
	return len;
}

static void recv_reply(struct ts *t, struct reply *r)
{
	uint8_t buf[sizeof(struct vbridge_resp_hdr) + sizeof(r->payload)];
	struct vbridge_resp_hdr h;
	uint32_t n = recv_frame(t, VBRIDGE_STREAM_REPLY, buf, sizeof(buf));

	CHECK(n >= sizeof(h));
	memcpy(&h, buf, sizeof(h));
	CHECK_EQ(le32toh(h.len), n);
	r->error = (int32_t)le32toh(h.error);
	r->unique = le64toh(h.unique);
	r->len = n - sizeof(h);
	memcpy(r->payload, buf + sizeof(h), r->len);
}

static int32_t call(struct ts *t, uint32_t opcode, const void *in,
		    size_t in_len, uint32_t out_room, struct reply *r)
{
	uint64_t u = send_req(t, opcode, in, in_len, out_room);

	recv_reply(t, r);
	CHECK_EQ(r->unique, u);
	return r->error;
}

static void init(struct ts *t)
{
	struct vbridge_init_in in = {
		.major = htole16(VBRIDGE_PROTO_MAJOR),
		.minor = htole16(VBRIDGE_PROTO_MINOR),
		.max_req_size = htole32(65536),
		.max_inflight = htole32(16),
	};
	struct vbridge_init_out out;
	struct reply r;

	CHECK_EQ(call(t, VBRIDGE_OP_INIT, &in, sizeof(in), sizeof(out), &r), 0);
	CHECK_EQ(r.len, sizeof(out));
	memcpy(&out, r.payload, sizeof(out));
	CHECK_EQ(le16toh(out.major), VBRIDGE_PROTO_MAJOR);
	CHECK_EQ(le32toh(out.max_req_size), 65536);
}

static void test_init_ping(void)
{
	struct ts t = { 0 };
	struct reply r;

	ts_start(&t);
	/* Before INIT: refused in-band, the connection stays. */
	CHECK_EQ(call(&t, VBRIDGE_OP_PING, NULL, 0, 0, &r), -EPROTO);
	init(&t);
	CHECK_EQ(call(&t, VBRIDGE_OP_PING, NULL, 0, 0, &r), 0);
	CHECK_EQ(r.len, 0);
	CHECK_EQ(call(&t, 0x7f, NULL, 0, 0, &r), -EOPNOTSUPP);
	/* ECHO is bounded by the room the request gave. */
	CHECK_EQ(call(&t, VBRIDGE_OP_ECHO, "hello, world", 12, 5, &r), 0);
	CHECK_EQ(r.len, 5);
	CHECK(!memcmp(r.payload, "hello", 5));
	/* Display requests have no guest memory to read here. */
	CHECK_EQ(call(&t, VBRIDGE_OP_DISPLAY_GET_INFO, NULL, 0, 512, &r),
		 -EOPNOTSUPP);
	ts_stop(&t, 0);
}

static void test_event(void)
{
	struct vbridge_event_test_in in = { .cookie = htole64(0xfeedbeef) };
	struct vbridge_event_test ev;
	struct ts t = { 0 };
	struct reply r;
	uint64_t u;

	ts_start(&t);
	init(&t);
	u = send_req(&t, VBRIDGE_OP_EVENT_TEST, &in, sizeof(in), 0);
	/* The event is sent before the reply to the request that caused it. */
	CHECK_EQ(recv_frame(&t, VBRIDGE_STREAM_EVENT, &ev, sizeof(ev)),
		 sizeof(ev));
	CHECK_EQ(le32toh(ev.hdr.type), VBRIDGE_EVT_TEST);
	CHECK_EQ(le64toh(ev.cookie), 0xfeedbeef);
	recv_reply(&t, &r);
	CHECK_EQ(r.unique, u);
	CHECK_EQ(r.error, 0);
	ts_stop(&t, 0);
}

/* fs_in with the caller root, then arg, then a name. */
static size_t fs_msg(uint8_t *buf, uint64_t nodeid, uint64_t fh,
		     const void *arg, size_t arg_len, const char *name)
{
	struct vbridge_fs_in in = {
		.nodeid = htole64(nodeid), .fh = htole64(fh),
		.pid = htole32(1),
	};
	size_t len = sizeof(in);

	memcpy(buf, &in, sizeof(in));
	if (arg_len)
		memcpy(buf + len, arg, arg_len);
	len += arg_len;
	if (name) {
		memcpy(buf + len, name, strlen(name));
		len += strlen(name);
	}
	return len;
}

static void test_fs_lookup_read(void)
{
	struct vbridge_fs_entry_out e;
	struct vbridge_fs_mount_in m = { .tag = "data" };
	struct vbridge_fs_name_in ni = { .namelen = htole32(4) };
	struct vbridge_fs_open_in oi = { .flags = htole32(O_RDONLY) };
	struct vbridge_fs_open_out oo;
	struct vbridge_fs_read_in ri = { .offset = htole64(6), .size = htole32(100) };
	struct ts t = { 0 };
	uint8_t buf[1024];
	struct reply r;
	uint64_t root, node;
	char path[128];
	size_t n;
	int fd;

	ts_start(&t);
	snprintf(path, sizeof(path), "%s/file", t.dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	write_all(fd, "hello serial world", 18);
	close(fd);
	init(&t);

	n = fs_msg(buf, 0, 0, &m, sizeof(m), NULL);
	CHECK_EQ(call(&t, VBRIDGE_OP_FS_MOUNT, buf, n, sizeof(e), &r), 0);
	memcpy(&e, r.payload, sizeof(e));
	root = le64toh(e.nodeid);
	CHECK(root);

	n = fs_msg(buf, root, 0, &ni, sizeof(ni), "file");
	CHECK_EQ(call(&t, VBRIDGE_OP_FS_LOOKUP, buf, n, sizeof(e), &r), 0);
	memcpy(&e, r.payload, sizeof(e));
	node = le64toh(e.nodeid);
	CHECK_EQ(le64toh(e.attr.size), 18);
	n = fs_msg(buf, root, 0, &ni, sizeof(ni), "none");
	CHECK_EQ(call(&t, VBRIDGE_OP_FS_LOOKUP, buf, n, sizeof(e), &r), -ENOENT);

	n = fs_msg(buf, node, 0, &oi, sizeof(oi), NULL);
	CHECK_EQ(call(&t, VBRIDGE_OP_FS_OPEN, buf, n, sizeof(oo), &r), 0);
	memcpy(&oo, r.payload, sizeof(oo));
	n = fs_msg(buf, node, le64toh(oo.fh), &ri, sizeof(ri), NULL);
	CHECK_EQ(call(&t, VBRIDGE_OP_FS_READ, buf, n, 100, &r), 0);
	CHECK_EQ(r.len, 12);
	CHECK(!memcmp(r.payload, "serial world", 12));
	/* The reply room must hold what was asked for, as on a virtqueue. */
	CHECK_EQ(call(&t, VBRIDGE_OP_FS_READ, buf, n, 6, &r), -EINVAL);
	n = fs_msg(buf, node, le64toh(oo.fh), NULL, 0, NULL);
	CHECK_EQ(call(&t, VBRIDGE_OP_FS_RELEASE, buf, n, 0, &r), 0);
	ts_stop(&t, 0);
}

/* Many requests in flight: every one is answered once, in any order. */
static void test_parallel(void)
{
	enum { N = 64 };
	struct ts t = { 0 };
	bool seen[N + 2] = { false };
	struct reply r;
	unsigned int i;

	ts_start(&t);
	init(&t);
	for (i = 0; i < N; i++)
		send_req(&t, VBRIDGE_OP_ECHO, &i, sizeof(i), sizeof(i));
	for (i = 0; i < N; i++) {
		uint32_t v;

		recv_reply(&t, &r);
		CHECK_EQ(r.error, 0);
		CHECK(r.unique >= 2 && r.unique < N + 2 && !seen[r.unique]);
		seen[r.unique] = true;
		memcpy(&v, r.payload, sizeof(v));
		CHECK_EQ(v, r.unique - 2);
	}
	ts_stop(&t, 0);
}

/* A malformed frame ends the connection; the peer sees end of stream. */
static void bad_frame(uint32_t type, uint32_t len, uint32_t room, bool inited,
		      uint32_t padding)
{
	struct vbridge_stream_hdr h = {
		.type = htole32(type), .len = htole32(len), .room = htole32(room),
		.padding = htole32(padding),
	};
	struct ts t = { 0 };
	char c;

	ts_start(&t);
	if (inited)
		init(&t);
	write_all(t.fd, &h, sizeof(h));
	CHECK_EQ(read(t.fd, &c, 1), 0);
	CHECK(tap_log_contains("malformed frame"));
	ts_stop(&t, -EPROTO);
}

static void test_malformed(void)
{
	const uint32_t rq = VBRIDGE_STREAM_REQUEST, resp = 16, req = 24;

	bad_frame(VBRIDGE_STREAM_REPLY, req, resp, false, 0);
	bad_frame(0, req, resp, false, 0);
	bad_frame(rq, req - 1, resp, false, 0);		/* no request header */
	bad_frame(rq, req, resp - 1, false, 0);		/* no room for a reply */
	bad_frame(rq, req, resp, false, 1);		/* padding */
	/* Before INIT the bound is VBRIDGE_MIN_REQ_SIZE, then what INIT said. */
	bad_frame(rq, VBRIDGE_MIN_REQ_SIZE + 1, resp, false, 0);
	bad_frame(rq, req, VBRIDGE_MIN_REQ_SIZE + 1, false, 0);
	bad_frame(rq, 65537, resp, true, 0);
	bad_frame(rq, req, 65537, true, 0);
	bad_frame(rq, 0xffffffff, resp, true, 0);
}

/* A frame cut short by the peer is a stream error; a bad header in-band. */
static void test_truncated(void)
{
	struct vbridge_req_hdr h = {
		.opcode = htole32(VBRIDGE_OP_PING), .len = htole32(sizeof(h)),
		.unique = htole64(7), .flags = htole32(1),
	};
	struct ts t = { 0 };
	struct reply r;

	ts_start(&t);
	init(&t);
	/* flags set: refused in-band, as on a virtqueue. */
	send_raw(&t, VBRIDGE_STREAM_REQUEST, sizeof(h), 64, &h, sizeof(h));
	recv_reply(&t, &r);
	CHECK_EQ(r.error, -EINVAL);
	CHECK_EQ(r.unique, 7);
	/* A header length beyond the frame, likewise. */
	h.flags = 0;
	h.len = htole32(sizeof(h) + 1);
	send_raw(&t, VBRIDGE_STREAM_REQUEST, sizeof(h), 64, &h, sizeof(h));
	recv_reply(&t, &r);
	CHECK_EQ(r.error, -EINVAL);
	/* Half a frame, then the end. */
	send_raw(&t, VBRIDGE_STREAM_REQUEST, 100, 64, &h, sizeof(h));
	ts_stop(&t, -EIO);
}

/* The listener: one peer, then the socket is gone. */
static void test_listener(void)
{
	char dir[64] = "/tmp/vbridged-serial-XXXXXX", path[128], spec[128];
	char *specs[1] = { spec };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vbd_store *store;
	struct vbd_serial *s;
	struct ts t = { 0 };
	struct reply r;
	int fd;

	CHECK(mkdtemp(dir));
	snprintf(spec, sizeof(spec), "data=%s", dir);
	snprintf(path, sizeof(path), "%s/serial.sock", dir);
	store = vbd_share_store_open(specs, 1);
	CHECK(store);
	s = vbd_serial_new(path, store, NULL);
	CHECK(s);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	t.fd = fd;
	init(&t);
	CHECK_EQ(call(&t, VBRIDGE_OP_PING, NULL, 0, 0, &r), 0);
	close(fd);
	CHECK_EQ(vbd_serial_wait(s), 0);
	CHECK(access(path, F_OK) < 0);
	vbd_serial_free(s);

	/* Freed while still waiting for a peer: the socket is removed. */
	s = vbd_serial_new(path, store, NULL);
	CHECK(s);
	CHECK_EQ(access(path, F_OK), 0);
	vbd_serial_free(s);
	CHECK(access(path, F_OK) < 0);
	store->ops->destroy(store);
	CHECK_EQ(rmdir(dir), 0);
}

#define T(name) { "serial_" #name, test_##name }

static const struct tap_test tests[] = {
	T(init_ping),
	T(event),
	T(fs_lookup_read),
	T(parallel),
	T(malformed),
	T(truncated),
	T(listener),
};

int main(int argc, char **argv)
{
	return tap_main(tests, ARRAY_SIZE(tests), argc, argv);
}
