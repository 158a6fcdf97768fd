// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fake vhost-user frontend and guest driver.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <linux/vbridge.h>

#include "frontend.h"
#include "sock.h"
#include "tap.h"

#define REPLY_TIMEOUT_MS	5000

/* A store with tags only. */
struct fake_store {
	struct vbd_store base;
	unsigned int n;
	const char *const *tags;
};

static unsigned int fake_num_exports(const struct vbd_store *st)
{
	return ((const struct fake_store *)st)->n;
}

static const char *fake_export_tag(const struct vbd_store *st, unsigned int i)
{
	return ((const struct fake_store *)st)->tags[i];
}

static int fake_export_dir(const struct vbd_store *st, unsigned int i)
{
	return -1;
}

static bool fake_export_readonly(const struct vbd_store *st, unsigned int i)
{
	return false;
}

static void fake_destroy(struct vbd_store *st)
{
	free(st);
}

static const struct vbd_store_ops fake_store_ops = {
	.num_exports = fake_num_exports,
	.export_tag = fake_export_tag,
	.export_dir = fake_export_dir,
	.export_readonly = fake_export_readonly,
	.destroy = fake_destroy,
};

static void mem_init(struct fe *f)
{
	f->memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	CHECK(f->memfd >= 0);
	CHECK(ftruncate(f->memfd, FE_MEM_SIZE) == 0);
	f->mem = mmap(NULL, FE_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->memfd, 0);
	CHECK(f->mem != MAP_FAILED);
	f->alloc_next = FE_GPA_BASE + 4096;
}

static void *backend_thread(void *arg)
{
	struct fe *f = arg;

	f->run_result = vu_dev_run(f->vu);
	vbd_device_detach(f->dev);
	vu_dev_free(f->vu);
	return NULL;
}

struct vbd_store *fe_fake_store(const char *const *tags, unsigned int ntags)
{
	struct fake_store *st = calloc(1, sizeof(*st));

	CHECK(st);
	st->base.ops = &fake_store_ops;
	st->n = ntags;
	st->tags = tags;
	return &st->base;
}

void fe_start(struct fe *f, unsigned int nreq, const char *const *tags,
	      unsigned int ntags)
{
	fe_start_store(f, nreq, fe_fake_store(tags, ntags), NULL);
}

void fe_start_store(struct fe *f, unsigned int nreq, struct vbd_store *store,
		    const struct vbd_fs_opts *opts)
{
	struct vbd_device *dev = vbd_device_new(store, nreq, opts);

	CHECK(dev);
	fe_start_device(f, dev, store);
}

void fe_start_device(struct fe *f, struct vbd_device *dev,
		     struct vbd_store *store)
{
	struct vu_dev_info info;
	int sv[2];

	memset(f, 0, sizeof(*f));
	f->store = store;
	f->dev = dev;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	f->sock = sv[0];
	vbd_device_vu_info(f->dev, &info);
	f->vu = vu_dev_new(sv[1], &info);
	CHECK(f->vu);
	f->in_process = true;
	f->nqueues = info.num_queues;
	CHECK(pthread_create(&f->thread, NULL, backend_thread, f) == 0);
	mem_init(f);
}

void fe_attach(struct fe *f, int sock, unsigned int nreq)
{
	memset(f, 0, sizeof(*f));
	f->sock = sock;
	f->nqueues = 1 + nreq;
	mem_init(f);
}

static void fe_join(struct fe *f)
{
	struct timespec ts;

	if (!f->in_process || f->joined)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	CHECK(pthread_timedjoin_np(f->thread, NULL, &ts) == 0);
	f->joined = true;
}

int fe_stop(struct fe *f)
{
	unsigned int i;

	close(f->sock);
	fe_join(f);
	if (f->in_process) {
		vbd_device_free(f->dev);
		f->store->ops->destroy(f->store);
	}
	for (i = 0; i < FE_MAX_QUEUES; i++) {
		if (f->vq[i].num) {
			close(f->vq[i].kick_fd);
			close(f->vq[i].call_fd);
			close(f->vq[i].err_fd);
		}
	}
	munmap(f->mem, FE_MEM_SIZE);
	close(f->memfd);
	return f->run_result;
}

int fe_wait_broken(struct fe *f)
{
	char c;

	fe_join(f);
	/* The backend closed its end. */
	CHECK(recv(f->sock, &c, 1, MSG_DONTWAIT) == 0);
	return f->run_result;
}

int fe_send(struct fe *f, uint32_t req, uint32_t flags, const void *payload,
	    uint32_t size, const int *fds, unsigned int nfds)
{
	uint32_t hdr[3] = { req, flags, size };
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = payload ? size : 0 },
	};
	ssize_t n = vbd_send_fds(f->sock, iov, 2, fds, nfds);

	return n < 0 ? n : 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0)
			return -1;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

int fe_recv(struct fe *f, uint32_t req, void *payload, uint32_t cap)
{
	uint32_t hdr[3];

	if (read_full(f->sock, hdr, sizeof(hdr)))
		return -1;
	CHECK_EQ(hdr[0], req);
	CHECK_EQ(hdr[1], FLAG_VERSION | FLAG_REPLY);
	CHECK(hdr[2] <= cap);
	if (read_full(f->sock, payload, hdr[2]))
		return -1;
	return hdr[2];
}

uint64_t fe_get_u64(struct fe *f, uint32_t req)
{
	uint64_t v = 0;

	CHECK_EQ(fe_send(f, req, FLAG_VERSION, NULL, 0, NULL, 0), 0);
	CHECK_EQ(fe_recv(f, req, &v, sizeof(v)), sizeof(v));
	return v;
}

uint64_t fe_set_u64(struct fe *f, uint32_t req, uint64_t v)
{
	uint64_t ack = ~0ULL;

	CHECK_EQ(fe_send(f, req, FLAG_VERSION | FLAG_NEED_REPLY, &v, sizeof(v),
			 NULL, 0), 0);
	CHECK_EQ(fe_recv(f, req, &ack, sizeof(ack)), sizeof(ack));
	return ack;
}

uint64_t fe_vring_state(struct fe *f, uint32_t req, uint32_t index,
			uint32_t num)
{
	uint32_t state[2] = { index, num };
	uint64_t reply = ~0ULL;

	CHECK_EQ(fe_send(f, req, FLAG_VERSION | FLAG_NEED_REPLY, state,
			 sizeof(state), NULL, 0), 0);
	CHECK_EQ(fe_recv(f, req, &reply, sizeof(reply)), sizeof(reply));
	/* GET_VRING_BASE answers with a vring state. */
	if (req == REQ_GET_VRING_BASE) {
		memcpy(state, &reply, sizeof(state));
		CHECK_EQ(state[0], index);
		return state[1];
	}
	return reply;
}

void fe_set_mem_table(struct fe *f, const struct fe_mem_region *r,
		      unsigned int n, const int *fds)
{
	struct {
		uint32_t nregions, padding;
		struct fe_mem_region regions[8];
	} t = { .nregions = n };
	uint64_t ack = ~0ULL;

	memcpy(t.regions, r, n * sizeof(*r));
	CHECK_EQ(fe_send(f, REQ_SET_MEM_TABLE, FLAG_VERSION | FLAG_NEED_REPLY,
			 &t, 8 + n * sizeof(*r), fds, n), 0);
	CHECK_EQ(fe_recv(f, REQ_SET_MEM_TABLE, &ack, sizeof(ack)), sizeof(ack));
	CHECK_EQ(ack, 0);
}

void fe_handshake(struct fe *f, uint64_t features)
{
	struct fe_mem_region region = {
		.gpa = FE_GPA_BASE,
		.size = FE_MEM_SIZE,
		.uva = (uintptr_t)f->mem,
	};
	uint64_t offered, pf;

	offered = fe_get_u64(f, REQ_GET_FEATURES);
	CHECK(offered & (1ULL << 30));
	CHECK_EQ(fe_send(f, REQ_SET_OWNER, FLAG_VERSION, NULL, 0, NULL, 0), 0);
	pf = fe_get_u64(f, REQ_GET_PROTOCOL_FEATURES);
	CHECK_EQ(fe_set_u64(f, REQ_SET_PROTOCOL_FEATURES, pf), 0);
	CHECK_EQ(fe_get_u64(f, REQ_GET_QUEUE_NUM), f->nqueues);
	f->features = features ? features : offered;
	CHECK_EQ(fe_set_u64(f, REQ_SET_FEATURES, f->features), 0);
	fe_set_mem_table(f, &region, 1, &f->memfd);
}

void fe_set_vring_fd(struct fe *f, uint32_t req, unsigned int q, int fd)
{
	uint64_t v = q, ack = ~0ULL;

	CHECK_EQ(fe_send(f, req, FLAG_VERSION | FLAG_NEED_REPLY, &v, sizeof(v),
			 &fd, 1), 0);
	CHECK_EQ(fe_recv(f, req, &ack, sizeof(ack)), sizeof(ack));
	CHECK_EQ(ack, 0);
}

void fe_setup_vq(struct fe *f, unsigned int q, unsigned int num)
{
	struct fe_vq *v = &f->vq[q];
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} addr;
	uint64_t ack = ~0ULL;

	CHECK(q < FE_MAX_QUEUES);
	memset(v, 0, sizeof(*v));
	v->num = num;
	v->desc_gpa = drv_alloc(f, sizeof(struct vring_desc) * num);
	v->avail_gpa = drv_alloc(f, 6 + 2 * num);
	v->used_gpa = drv_alloc(f, 6 + 8 * num);
	v->desc = gpa_ptr(f, v->desc_gpa);
	v->avail = gpa_ptr(f, v->avail_gpa);
	v->used = gpa_ptr(f, v->used_gpa);
	v->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(v->kick_fd >= 0 && v->call_fd >= 0 && v->err_fd >= 0);

	CHECK_EQ(fe_vring_state(f, REQ_SET_VRING_NUM, q, num), 0);
	CHECK_EQ(fe_vring_state(f, REQ_SET_VRING_BASE, q, 0), 0);
	addr = (typeof(addr)){
		.index = q,
		.desc = (uintptr_t)v->desc,
		.used = (uintptr_t)v->used,
		.avail = (uintptr_t)v->avail,
	};
	CHECK_EQ(fe_send(f, REQ_SET_VRING_ADDR, FLAG_VERSION | FLAG_NEED_REPLY,
			 &addr, sizeof(addr), NULL, 0), 0);
	CHECK_EQ(fe_recv(f, REQ_SET_VRING_ADDR, &ack, sizeof(ack)), sizeof(ack));
	CHECK_EQ(ack, 0);
	fe_set_vring_fd(f, REQ_SET_VRING_ERR, q, v->err_fd);
	fe_set_vring_fd(f, REQ_SET_VRING_KICK, q, v->kick_fd);
	fe_set_vring_fd(f, REQ_SET_VRING_CALL, q, v->call_fd);
	CHECK_EQ(fe_vring_state(f, REQ_SET_VRING_ENABLE, q, 1), 0);
}

void fe_setup_all(struct fe *f, unsigned int num)
{
	unsigned int q;

	for (q = 0; q < f->nqueues; q++)
		fe_setup_vq(f, q, num);
}

uint64_t drv_alloc(struct fe *f, uint64_t size)
{
	uint64_t gpa = f->alloc_next;

	f->alloc_next = (gpa + size + 63) & ~63ULL;
	CHECK(f->alloc_next <= FE_GPA_BASE + FE_MEM_SIZE);
	memset(gpa_ptr(f, gpa), 0, size);
	return gpa;
}

void *gpa_ptr(struct fe *f, uint64_t gpa)
{
	return f->mem + (gpa - FE_GPA_BASE);
}

static bool event_idx(const struct fe *f)
{
	return f->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
}

void drv_add_raw(struct fe *f, unsigned int q, uint16_t head)
{
	struct fe_vq *v = &f->vq[q];

	v->avail->ring[v->avail_idx % v->num] = htole16(head);
	v->avail_idx++;
	__atomic_store_n(&v->avail->idx, htole16(v->avail_idx), __ATOMIC_RELEASE);
}

uint16_t drv_add(struct fe *f, unsigned int q, const struct drv_buf *bufs,
		 unsigned int n, bool indirect)
{
	struct fe_vq *v = &f->vq[q];
	uint16_t head = v->next_desc;
	struct vring_desc *table = v->desc;
	unsigned int i, slot = head, size = v->num;

	if (indirect) {
		uint64_t gpa = drv_alloc(f, sizeof(*table) * n);

		v->desc[head] = (struct vring_desc){
			.addr = htole64(gpa),
			.len = htole32(sizeof(*table) * n),
			.flags = htole16(VRING_DESC_F_INDIRECT),
		};
		v->next_desc = (head + 1) % v->num;
		table = gpa_ptr(f, gpa);
		slot = 0;
		size = n;
	}
	for (i = 0; i < n; i++) {
		unsigned int next = (slot + 1) % size;

		table[slot] = (struct vring_desc){
			.addr = htole64(bufs[i].gpa),
			.len = htole32(bufs[i].len),
			.flags = htole16((bufs[i].writable ? VRING_DESC_F_WRITE : 0) |
					 (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = htole16(next),
		};
		slot = next;
	}
	if (!indirect)
		v->next_desc = slot;
	drv_add_raw(f, q, head);
	return head;
}

static uint16_t avail_event(const struct fe_vq *v)
{
	uint16_t ev;

	memcpy(&ev, (const uint8_t *)v->used->ring +
	       v->num * sizeof(struct vring_used_elem), sizeof(ev));
	return le16toh(ev);
}

void drv_kick(struct fe *f, unsigned int q)
{
	struct fe_vq *v = &f->vq[q];
	static const uint64_t one = 1;
	bool kick;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (event_idx(f))
		kick = vring_need_event(avail_event(v), v->avail_idx,
					v->kick_old);
	else
		kick = !(le16toh(__atomic_load_n(&v->used->flags, __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	v->kick_old = v->avail_idx;
	if (kick) {
		CHECK(write(v->kick_fd, &one, sizeof(one)) == sizeof(one));
		v->kicks++;
	}
}

bool drv_has_used(struct fe *f, unsigned int q)
{
	struct fe_vq *v = &f->vq[q];

	return le16toh(__atomic_load_n(&v->used->idx, __ATOMIC_ACQUIRE)) !=
	       v->last_used;
}

bool drv_wait_used(struct fe *f, unsigned int q, uint32_t *id,
		   uint32_t *len, int timeout_ms)
{
	struct fe_vq *v = &f->vq[q];

	for (;;) {
		struct pollfd pfd = { .fd = v->call_fd, .events = POLLIN };
		uint64_t cnt;

		if (drv_has_used(f, q)) {
			struct vring_used_elem *e =
				&v->used->ring[v->last_used % v->num];

			*id = le32toh(e->id);
			*len = le32toh(e->len);
			v->last_used++;
			return true;
		}
		/* Ask for an interrupt, then look again before sleeping. */
		if (event_idx(f))
			__atomic_store_n(&v->avail->ring[v->num],
					 htole16(v->last_used), __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (drv_has_used(f, q))
			continue;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		if (read(v->call_fd, &cnt, sizeof(cnt)) < 0)
			return false;
	}
}

void fe_request(struct fe *f, unsigned int q, uint32_t opcode,
		const void *in, uint32_t in_len, uint32_t out_room,
		struct fe_resp *resp)
{
	static uint64_t unique = 0x1000;
	uint64_t rd = drv_alloc(f, sizeof(struct vbridge_req_hdr) + in_len);
	uint64_t wr = drv_alloc(f, sizeof(struct vbridge_resp_hdr) + out_room);
	struct vbridge_req_hdr *hdr = gpa_ptr(f, rd);
	struct vbridge_resp_hdr *rh = gpa_ptr(f, wr);
	struct drv_buf bufs[2] = {
		{ rd, sizeof(*hdr) + in_len, false },
		{ wr, sizeof(*rh) + out_room, true },
	};
	uint32_t id, len;
	uint16_t head;

	CHECK(out_room <= sizeof(resp->payload));
	hdr->opcode = htole32(opcode);
	hdr->len = htole32(sizeof(*hdr) + in_len);
	hdr->unique = htole64(++unique);
	if (in_len)
		memcpy(hdr + 1, in, in_len);
	head = drv_add(f, q, bufs, 2, false);
	drv_kick(f, q);
	CHECK(drv_wait_used(f, q, &id, &len, REPLY_TIMEOUT_MS));
	CHECK_EQ(id, head);
	CHECK(len <= sizeof(*rh) + out_room);
	memset(resp, 0, sizeof(*resp));
	resp->used_len = len;
	if (len >= sizeof(*rh)) {
		resp->error = (int32_t)le32toh(rh->error);
		resp->len = le32toh(rh->len);
		resp->unique = le64toh(rh->unique);
		CHECK_EQ(resp->unique, unique);
		CHECK_EQ(resp->len, len);
		memcpy(resp->payload, rh + 1, len - sizeof(*rh));
	}
}

int32_t fe_init(struct fe *f, unsigned int q)
{
	struct vbridge_init_in in = {
		.major = htole16(VBRIDGE_PROTO_MAJOR),
		.minor = htole16(VBRIDGE_PROTO_MINOR),
		.max_req_size = htole32(65536),
		.max_inflight = htole32(128),
	};
	struct fe_resp resp;

	fe_request(f, q, VBRIDGE_OP_INIT, &in, sizeof(in),
		   sizeof(struct vbridge_init_out), &resp);
	return resp.error;
}
