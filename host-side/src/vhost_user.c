// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user backend (QEMU docs/interop/vhost-user.rst).
 *
 * The frontend is not trusted: every message is checked for its size,
 * its file descriptors and its values before anything is changed.  A
 * message that breaks the protocol ends the connection through
 * vu_violation(); unknown requests are refused but tolerated.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "sock.h"
#include "util.h"
#include "vhost_user.h"

#define VHOST_USER_VERSION		0x1
#define VHOST_USER_VERSION_MASK		0x3
#define VHOST_USER_REPLY_MASK		(1U << 2)
#define VHOST_USER_NEED_REPLY_MASK	(1U << 3)

#define VHOST_USER_F_PROTOCOL_FEATURES	30

#define VHOST_USER_PROTOCOL_F_MQ		0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK		3
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ	5
#define VHOST_USER_PROTOCOL_F_CONFIG		9
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE	13
#define VHOST_USER_PROTOCOL_F_STATUS		16

#define VU_PROTOCOL_FEATURES				\
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) |		\
	 (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |	\
	 (1ULL << VHOST_USER_PROTOCOL_F_STATUS))

/*
 * VIRTIO_F_ACCESS_PLATFORM (virtio_config.h), for the guest only: QEMU
 * takes a backend that offers it only with BACKEND_REQ and REPLY_ACK,
 * since with a vIOMMU it would send IOTLB messages and expect IOTLB
 * misses back; without one it never acks the bit to us and the addresses
 * stay guest-physical.  We offer BACKEND_REQ then, take the channel and
 * send nothing on it; an ack of the bit is refused (see vu_set_features).
 */
#define VU_F_ACCESS_PLATFORM	33

enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
};

/* Payload of SET_VRING_KICK/CALL/ERR. */
#define VU_VRING_IDX_MASK	0xffU
#define VU_VRING_NOFD_MASK	(1U << 8)

/* File descriptors one message may carry (SET_MEM_TABLE: one per region). */
#define VU_MAX_FDS		VIRTQ_MAX_MEM_REGIONS
_Static_assert(VU_MAX_FDS <= VBD_RECV_MAX_FDS, "vbd_recv_fds() room");
/* Room for every payload the protocol defines, known to us or not. */
#define VU_MAX_PAYLOAD		4096

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* of the payload */
};

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MAX_FDS];
};

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VU_MAX_CONFIG_SIZE];
};

#define VU_CONFIG_HDR_SIZE	offsetof(struct vu_config, data)

struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_mem_table mem;
		struct vu_config config;
		uint8_t raw[VU_MAX_PAYLOAD];
	} payload;
	int fds[VU_MAX_FDS];
	unsigned int nfds;
};

struct vu_queue {
	struct vu_dev *dev;
	unsigned int index;

	/* Ring configuration, used by the main thread only. */
	unsigned int num;		/* 0 until SET_VRING_NUM */
	bool addr_set;
	struct virtq_addr addr;
	uint16_t base;			/* where to resume, while not running */
	int kick_fd;
	bool started;			/* SET_VRING_KICK, until GET_VRING_BASE */
	bool enabled;

	/*
	 * The queue threads exist while running.  The main thread creates
	 * and joins them; kick_fd, stop_fd and more_fd do not change while
	 * they run.  A kick or more_fd wakes one idle thread (each waits on
	 * its own epoll instance, EPOLLEXCLUSIVE); stop_fd wakes them all.
	 */
	bool running;
	unsigned int nthreads;		/* set before the first starts */
	unsigned int nworkers;		/* started, for queue_stop() */
	struct vu_worker {
		struct vu_queue *q;
		pthread_t thread;
		int epfd;
	} workers[VU_MAX_QUEUE_THREADS];
	int stop_fd;
	int more_fd;			/* chains are waiting for a thread */

	pthread_mutex_t lock;
	/* Protected by lock; written by the main thread only: */
	bool live;			/* ring valid and to be processed */
	bool stopping;			/* pop nothing more, finish inflight */
	int call_fd;
	int err_fd;
	/* Protected by lock: */
	bool err_signalled;
	unsigned int inflight;		/* chains handled without the lock */
	pthread_cond_t drained;		/* inflight fell to 0 while stopping */
	struct virtq ring;		/* meaningful while live */
};

struct vu_dev {
	/* Immutable after vu_dev_new(). */
	int sock;
	const struct vu_dev_ops *ops;
	void *opaque;
	uint64_t offered;		/* virtio features, with PROTOCOL_FEATURES */
	uint64_t protocol_offered;
	unsigned int num_queues;

	/* Used by the main thread only. */
	uint64_t features;		/* acked by SET_FEATURES */
	uint64_t protocol_features;
	uint8_t status;
	int backend_fd;			/* SET_BACKEND_REQ_FD, never written */

	/*
	 * Replaced by the main thread only while no queue thread runs;
	 * queue threads read it through their virtq.
	 */
	struct virtq_mem *mem;

	struct vu_queue queues[];
};

/* Results of message handlers; errors are negative. */
enum {
	VU_OK,		/* done; acknowledged if the frontend asked */
	VU_REPLY,	/* done; the handler filled in the reply */
	VU_NACK,	/* refused; the connection goes on */
};

static int vu_violation(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * The single way a broken protocol ends the connection: log why, and
 * return the error that makes vu_dev_run() give up.
 */
static int vu_violation(const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_err("frontend protocol error: %s; dropping the connection", why);
	return -EPROTO;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Notifications must not block us, whatever the frontend passed. */
static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Queue threads */

/* Consume an eventfd's count; false if fd is not an eventfd we can use. */
static bool eventfd_consume(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));

	return n == sizeof(v) || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

static void *queue_thread(void *arg)
{
	struct vu_worker *w = arg;
	struct vu_queue *q = w->q;
	struct vu_dev *d = q->dev;

	/* Buffers may have been made available while we were stopped. */
	d->ops->handle_queue(d->opaque, q, q->index);
	for (;;) {
		struct epoll_event ev[3];
		int i, n;

		n = epoll_wait(w->epfd, ev, 3, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("virtqueue %u: epoll_wait: %s", q->index,
				strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == q->stop_fd)
				return NULL;
			if (eventfd_consume(fd))
				continue;
			/* Not an eventfd we can use: wait on the others. */
			log_err("virtqueue %u: kick file descriptor unusable, ignoring it",
				q->index);
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
		}
		d->ops->handle_queue(d->opaque, q, q->index);
	}
	return NULL;
}

static int worker_epoll(struct vu_queue *q)
{
	struct epoll_event stop = { .events = EPOLLIN, .data.fd = q->stop_fd };
	struct epoll_event kick = {
		.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = q->kick_fd,
	};
	struct epoll_event more = {
		.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = q->more_fd,
	};
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		return -errno;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, q->stop_fd, &stop) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, q->more_fd, &more) < 0) {
		close(ep);
		return -errno;
	}
	/* A kick fd epoll cannot watch is the frontend's loss, not ours. */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, q->kick_fd, &kick) < 0)
		log_err("virtqueue %u: kick file descriptor unusable, ignoring it",
			q->index);
	return ep;
}

static void queue_stop(struct vu_queue *q);

static int queue_start(struct vu_queue *q)
{
	struct vu_dev *d = q->dev;
	unsigned int i, n;
	int r;

	if (!d->mem)
		return vu_violation("virtqueue %u started before SET_MEM_TABLE",
				    q->index);
	if (!q->num || !q->addr_set)
		return vu_violation("virtqueue %u started before its size and addresses",
				    q->index);
	q->stop_fd = eventfd(0, EFD_CLOEXEC);
	q->more_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->stop_fd < 0 || q->more_fd < 0) {
		r = -errno;
		log_err("virtqueue %u: eventfd: %s", q->index, strerror(-r));
		close_fd(&q->stop_fd);
		close_fd(&q->more_fd);
		return r;
	}

	pthread_mutex_lock(&q->lock);
	r = virtq_start(&q->ring, d->mem, q->index, q->num, &q->addr, q->base,
			d->features);
	q->live = !r;
	q->stopping = false;
	q->err_signalled = false;
	pthread_mutex_unlock(&q->lock);
	if (r) {
		close_fd(&q->stop_fd);
		close_fd(&q->more_fd);
		return vu_violation("virtqueue %u: ring not in guest memory or misaligned, or its parts overlap",
				    q->index);
	}

	/* From here queue_stop() undoes whatever part was done. */
	q->running = true;
	n = d->ops->queue_threads ?
	    d->ops->queue_threads(d->opaque, q->index) : 1;
	n = n < 1 ? 1 : n > VU_MAX_QUEUE_THREADS ? VU_MAX_QUEUE_THREADS : n;
	q->nthreads = n;
	for (i = 0; i < n; i++) {
		struct vu_worker *w = &q->workers[i];

		w->q = q;
		w->epfd = worker_epoll(q);
		if (w->epfd < 0) {
			r = w->epfd;
			log_err("virtqueue %u: epoll: %s", q->index,
				strerror(-r));
			break;
		}
		r = pthread_create(&w->thread, NULL, queue_thread, w);
		if (r) {
			log_err("virtqueue %u: cannot create thread: %s",
				q->index, strerror(r));
			close(w->epfd);
			r = -r;
			break;
		}
		q->nworkers++;
	}
	if (i < n) {
		queue_stop(q);
		return r;
	}
	log_debug("virtqueue %u started, size %u, base %u, %u threads",
		  q->index, q->num, q->base, n);
	return 0;
}

static void queue_stop(struct vu_queue *q)
{
	static const uint64_t one = 1;
	unsigned int i;

	if (!q->running)
		return;
	/* Once not live, no other thread touches the ring. */
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	while (q->inflight)
		pthread_cond_wait(&q->drained, &q->lock);
	q->live = false;
	q->base = q->ring.last_avail_idx;
	pthread_mutex_unlock(&q->lock);

	if (write(q->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort();	/* eventfd: cannot fail below its maximum */
	for (i = 0; i < q->nworkers; i++) {
		pthread_join(q->workers[i].thread, NULL);
		close(q->workers[i].epfd);
	}
	q->nworkers = 0;
	close_fd(&q->stop_fd);
	close_fd(&q->more_fd);
	q->running = false;
	log_debug("virtqueue %u stopped at %u", q->index, q->base);
}

/* Run the queue thread if and only if the ring is started and enabled. */
static int queue_update(struct vu_queue *q)
{
	bool run = q->started && q->enabled;

	if (run && !q->running)
		return queue_start(q);
	if (!run)
		queue_stop(q);
	return 0;
}

static void dev_quiesce(struct vu_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->num_queues; i++)
		queue_stop(&d->queues[i]);
}

static int dev_resume(struct vu_dev *d)
{
	unsigned int i;
	int r;

	for (i = 0; i < d->num_queues; i++) {
		r = queue_update(&d->queues[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

struct virtq *vu_queue_lock(struct vu_queue *q)
{
	pthread_mutex_lock(&q->lock);
	if (!q->live || q->stopping) {
		pthread_mutex_unlock(&q->lock);
		return NULL;
	}
	return &q->ring;
}

void vu_queue_unlock_chain(struct vu_queue *q)
{
	static const uint64_t one = 1;

	q->inflight++;
	/*
	 * Have the driver kick for its next chain, and wake another thread
	 * for the chains already waiting: this one may be a while.
	 */
	if (virtq_enable_notify(&q->ring) && q->nthreads > 1 &&
	    write(q->more_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		abort();	/* eventfd: cannot fail but when full */
	vu_queue_unlock(q);
}

bool vu_queue_lock_chain(struct vu_queue *q)
{
	pthread_mutex_lock(&q->lock);
	/* The push comes before the main thread can take the lock back. */
	if (!--q->inflight && q->stopping)
		pthread_cond_signal(&q->drained);
	return !q->stopping;
}

void vu_queue_notify(struct vu_queue *q)
{
	static const uint64_t one = 1;

	if (virtq_need_notify(&q->ring) && q->call_fd >= 0 &&
	    write(q->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN &&
	    vbd_ratelimit(&q->ring.rl))
		log_warn("virtqueue %u: cannot notify the guest: %s", q->index,
			 strerror(errno));
}

void vu_queue_unlock(struct vu_queue *q)
{
	static const uint64_t one = 1;

	if (q->ring.broken && !q->err_signalled) {
		q->err_signalled = true;
		if (q->err_fd >= 0 &&
		    write(q->err_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("virtqueue %u: cannot signal the error: %s",
				 q->index, strerror(errno));
	}
	pthread_mutex_unlock(&q->lock);
}

struct vu_dev *vu_queue_dev(const struct vu_queue *q)
{
	return q->dev;
}

struct vu_queue *vu_dev_queue(struct vu_dev *d, unsigned int index)
{
	return index < d->num_queues ? &d->queues[index] : NULL;
}

/* Guest memory */

static void mem_unmap(struct virtq_mem *mem)
{
	unsigned int i;

	if (!mem)
		return;
	for (i = 0; i < mem->nregions; i++)
		munmap(mem->regions[i].map_base, mem->regions[i].map_len);
	free(mem);
}

/* Whether [a, a + size_a) and [b, b + size_b) overlap; neither wraps. */
static bool ranges_overlap(uint64_t a, uint64_t size_a, uint64_t b,
			   uint64_t size_b)
{
	return a <= b + (size_b - 1) && b <= a + (size_a - 1);
}

/* Check region i against the earlier ones and map it from fd. */
static int mem_map_region(unsigned int i, struct virtq_mem *mem,
			  const struct vu_mem_region *m, int fd)
{
	struct virtq_mem_region *r = &mem->regions[i];
	uint64_t page = sysconf(_SC_PAGESIZE);
	uint64_t map_offset = m->mmap_offset & ~(page - 1);
	uint64_t delta = m->mmap_offset - map_offset;
	uint64_t map_len = m->size + delta;
	struct stat st;
	unsigned int j;
	void *p;

	if (!m->size || m->size > UINT64_MAX - delta ||
	    m->size - 1 > UINT64_MAX - m->gpa ||
	    m->size - 1 > UINT64_MAX - m->uva ||
	    m->size > UINT64_MAX - m->mmap_offset || map_len > SIZE_MAX)
		return vu_violation("memory region %u: bad size 0x%llx",
				    i, (unsigned long long)m->size);
	for (j = 0; j < i; j++) {
		const struct virtq_mem_region *o = &mem->regions[j];

		if (ranges_overlap(m->gpa, m->size, o->gpa, o->size) ||
		    ranges_overlap(m->uva, m->size, o->uva, o->size))
			return vu_violation("memory regions %u and %u overlap",
					    j, i);
	}
	/* Touching a page past the end of a file would kill us with SIGBUS. */
	if (fstat(fd, &st) < 0)
		return vu_violation("memory region %u: fstat: %s", i,
				    strerror(errno));
	if (S_ISREG(st.st_mode) &&
	    m->mmap_offset + m->size > (uint64_t)st.st_size)
		return vu_violation("memory region %u: beyond the end of its file",
				    i);

	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE, fd, map_offset);
	if (p == MAP_FAILED)
		return vu_violation("memory region %u: mmap: %s", i,
				    strerror(errno));
	/* Guest RAM has no place in our core dumps. */
	madvise(p, map_len, MADV_DONTDUMP);

	r->gpa = m->gpa;
	r->uva = m->uva;
	r->size = m->size;
	r->hva = (uint8_t *)p + delta;
	r->map_base = p;
	r->map_len = map_len;
	mem->nregions = i + 1;
	log_debug("memory region %u: guest 0x%llx-0x%llx", i,
		  (unsigned long long)m->gpa,
		  (unsigned long long)(m->gpa + m->size - 1));
	return 0;
}

static int vu_set_mem_table(struct vu_dev *d, struct vu_msg *m)
{
	const struct vu_mem_table *t = &m->payload.mem;
	size_t head = offsetof(struct vu_mem_table, regions);
	struct virtq_mem *mem, *old;
	unsigned int i;
	int r;

	if (m->hdr.size < head)
		return vu_violation("SET_MEM_TABLE: payload of %u bytes",
				    m->hdr.size);
	if (!t->nregions || t->nregions > VIRTQ_MAX_MEM_REGIONS)
		return vu_violation("SET_MEM_TABLE: %u regions", t->nregions);
	if (m->hdr.size != head + t->nregions * sizeof(t->regions[0]))
		return vu_violation("SET_MEM_TABLE: payload of %u bytes for %u regions",
				    m->hdr.size, t->nregions);
	if (m->nfds != t->nregions)
		return vu_violation("SET_MEM_TABLE: %u file descriptors for %u regions",
				    m->nfds, t->nregions);

	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	for (i = 0; i < t->nregions; i++) {
		r = mem_map_region(i, mem, &t->regions[i], m->fds[i]);
		if (r) {
			mem_unmap(mem);
			return r;
		}
	}

	dev_quiesce(d);
	old = d->mem;
	d->mem = mem;
	mem_unmap(old);
	return dev_resume(d);
}

/* Message handlers */

static struct vu_queue *msg_queue(struct vu_dev *d, struct vu_msg *m,
				  uint32_t index)
{
	if (index >= d->num_queues) {
		vu_violation("request %u for virtqueue %u of %u",
			     m->hdr.request, index, d->num_queues);
		return NULL;
	}
	return &d->queues[index];
}

static int reply_u64(struct vu_msg *m, uint64_t v)
{
	m->payload.u64 = v;
	m->hdr.size = sizeof(m->payload.u64);
	return VU_REPLY;
}

static int vu_get_features(struct vu_dev *d, struct vu_msg *m)
{
	return reply_u64(m, d->offered);
}

static int vu_set_features(struct vu_dev *d, struct vu_msg *m)
{
	uint64_t f = m->payload.u64;
	unsigned int i;

	if (f & ~d->offered)
		return vu_violation("SET_FEATURES: 0x%llx not offered",
				    (unsigned long long)(f & ~d->offered));
	if (f & (1ULL << VU_F_ACCESS_PLATFORM))
		return vu_violation("SET_FEATURES: ACCESS_PLATFORM acked: the frontend translates guest addresses through a vIOMMU, and vbridged has no IOTLB");
	dev_quiesce(d);
	d->features = f;
	d->ops->set_features(d->opaque,
			     f & ~(1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
	/* Without protocol features there is no SET_VRING_ENABLE. */
	if (!(f & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)))
		for (i = 0; i < d->num_queues; i++)
			d->queues[i].enabled = true;
	return dev_resume(d);
}

static int vu_set_owner(struct vu_dev *d, struct vu_msg *m)
{
	/* One frontend per connection: nothing to record. */
	return VU_OK;
}

static int vu_reset_owner(struct vu_dev *d, struct vu_msg *m)
{
	unsigned int i;

	/* Deprecated; the specification suggests disabling the rings. */
	for (i = 0; i < d->num_queues; i++) {
		d->queues[i].enabled = false;
		queue_stop(&d->queues[i]);
	}
	return VU_OK;
}

static int vu_get_protocol_features(struct vu_dev *d, struct vu_msg *m)
{
	return reply_u64(m, d->protocol_offered);
}

static int vu_set_protocol_features(struct vu_dev *d, struct vu_msg *m)
{
	uint64_t f = m->payload.u64;

	if (f & ~d->protocol_offered)
		return vu_violation("SET_PROTOCOL_FEATURES: 0x%llx not offered",
				    (unsigned long long)(f & ~d->protocol_offered));
	d->protocol_features = f;
	return VU_OK;
}

/* The backend's request channel: kept open, unused (VU_F_ACCESS_PLATFORM). */
static int vu_set_backend_req_fd(struct vu_dev *d, struct vu_msg *m)
{
	close_fd(&d->backend_fd);
	d->backend_fd = m->fds[0];
	m->fds[0] = -1;
	return VU_OK;
}

static int vu_get_queue_num(struct vu_dev *d, struct vu_msg *m)
{
	return reply_u64(m, d->num_queues);
}

static int vu_set_vring_num(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(d, m, m->payload.state.index);
	uint32_t num = m->payload.state.num;

	if (!q)
		return -EPROTO;
	if (!num || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return vu_violation("virtqueue %u: bad size %u", q->index, num);
	queue_stop(q);
	q->num = num;
	return queue_update(q);
}

static int vu_set_vring_addr(struct vu_dev *d, struct vu_msg *m)
{
	const struct vu_vring_addr *a = &m->payload.addr;
	struct vu_queue *q = msg_queue(d, m, a->index);

	if (!q)
		return -EPROTO;
	/* VHOST_VRING_F_LOG needs VHOST_F_LOG_ALL, which we do not offer. */
	if (a->flags)
		return vu_violation("virtqueue %u: address flags 0x%x",
				    q->index, a->flags);
	queue_stop(q);
	q->addr.desc = a->desc;
	q->addr.avail = a->avail;
	q->addr.used = a->used;
	q->addr_set = true;
	return queue_update(q);
}

static int vu_set_vring_base(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(d, m, m->payload.state.index);

	if (!q)
		return -EPROTO;
	if (m->payload.state.num > UINT16_MAX)
		return vu_violation("virtqueue %u: bad base 0x%x", q->index,
				    m->payload.state.num);
	queue_stop(q);
	q->base = m->payload.state.num;
	return queue_update(q);
}

static int vu_get_vring_base(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(d, m, m->payload.state.index);

	if (!q)
		return -EPROTO;
	if (m->payload.state.num)
		return vu_violation("GET_VRING_BASE: reserved field 0x%x",
				    m->payload.state.num);
	queue_stop(q);
	q->started = false;
	close_fd(&q->kick_fd);
	/* A stopped ring sends no notifications. */
	pthread_mutex_lock(&q->lock);
	close_fd(&q->call_fd);
	pthread_mutex_unlock(&q->lock);
	m->payload.state.num = q->base;
	m->hdr.size = sizeof(m->payload.state);
	return VU_REPLY;
}

/* Check SET_VRING_KICK/CALL/ERR; returns the queue and takes the fd, or NULL. */
static struct vu_queue *vring_file(struct vu_dev *d, struct vu_msg *m,
				   int *fd)
{
	uint64_t v = m->payload.u64;
	bool nofd = v & VU_VRING_NOFD_MASK;
	struct vu_queue *q;

	if (v & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD_MASK)) {
		vu_violation("request %u: bad payload 0x%llx",
			     m->hdr.request, (unsigned long long)v);
		return NULL;
	}
	q = msg_queue(d, m, v & VU_VRING_IDX_MASK);
	if (!q)
		return NULL;
	if (m->nfds != (nofd ? 0U : 1U)) {
		vu_violation("request %u: %u file descriptors", m->hdr.request,
			     m->nfds);
		return NULL;
	}
	*fd = -1;
	if (!nofd) {
		*fd = m->fds[0];
		m->fds[0] = -1;
		if (set_nonblock(*fd) < 0) {
			vu_violation("request %u: unusable file descriptor",
				     m->hdr.request);
			close_fd(fd);
			return NULL;
		}
	}
	return q;
}

static int vu_set_vring_kick(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q;
	int fd;

	q = vring_file(d, m, &fd);
	if (!q)
		return -EPROTO;
	if (fd < 0)
		return vu_violation("virtqueue %u: polling mode (no kick fd) is not supported",
				    q->index);
	queue_stop(q);
	close_fd(&q->kick_fd);
	q->kick_fd = fd;
	q->started = true;
	return queue_update(q);
}

/*
 * Swap in a queue's call or error notifier.  No need to stop the ring:
 * the notifier is swapped under the queue lock.
 */
static int vring_swap_notifier(struct vu_dev *d, struct vu_msg *m, bool err)
{
	struct vu_queue *q;
	int fd, old, *slot;

	q = vring_file(d, m, &fd);
	if (!q)
		return -EPROTO;
	slot = err ? &q->err_fd : &q->call_fd;
	pthread_mutex_lock(&q->lock);
	old = *slot;
	*slot = fd;
	pthread_mutex_unlock(&q->lock);
	close_fd(&old);
	return VU_OK;
}

static int vu_set_vring_call(struct vu_dev *d, struct vu_msg *m)
{
	return vring_swap_notifier(d, m, false);
}

static int vu_set_vring_err(struct vu_dev *d, struct vu_msg *m)
{
	return vring_swap_notifier(d, m, true);
}

static int vu_set_vring_enable(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(d, m, m->payload.state.index);

	if (!q)
		return -EPROTO;
	if (m->payload.state.num > 1)
		return vu_violation("virtqueue %u: enable value %u", q->index,
				    m->payload.state.num);
	q->enabled = m->payload.state.num;
	return queue_update(q);
}

/* Check the framing of GET_CONFIG and SET_CONFIG. */
static int config_check(const struct vu_msg *m)
{
	const struct vu_config *c = &m->payload.config;

	if (m->hdr.size < VU_CONFIG_HDR_SIZE ||
	    c->size != m->hdr.size - VU_CONFIG_HDR_SIZE ||
	    c->size > VU_MAX_CONFIG_SIZE)
		return vu_violation("request %u: config payload of %u bytes",
				    m->hdr.request, m->hdr.size);
	return 0;
}

static int vu_get_config(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_config *c = &m->payload.config;

	if (config_check(m))
		return -EPROTO;
	/* An empty reply tells the frontend the access failed. */
	if (d->ops->get_config(d->opaque, c->data, c->offset, c->size) < 0)
		m->hdr.size = 0;
	return VU_REPLY;
}

static int vu_set_config(struct vu_dev *d, struct vu_msg *m)
{
	if (config_check(m))
		return -EPROTO;
	log_warn("refused to write %u bytes at %u of the read-only config space",
		 m->payload.config.size, m->payload.config.offset);
	return VU_NACK;
}

/* Back to the state after SET_OWNER; the memory table stays. */
static void dev_reset(struct vu_dev *d)
{
	unsigned int i;

	dev_quiesce(d);
	for (i = 0; i < d->num_queues; i++) {
		struct vu_queue *q = &d->queues[i];

		q->num = 0;
		q->addr_set = false;
		q->base = 0;
		q->started = false;
		q->enabled = false;
		close_fd(&q->kick_fd);
		pthread_mutex_lock(&q->lock);
		close_fd(&q->call_fd);
		pthread_mutex_unlock(&q->lock);
	}
	d->features = 0;
	d->status = 0;
	d->ops->reset(d->opaque);
	log_debug("device reset");
}

static int vu_reset_device(struct vu_dev *d, struct vu_msg *m)
{
	dev_reset(d);
	return VU_OK;
}

static int vu_set_status(struct vu_dev *d, struct vu_msg *m)
{
	if (m->payload.u64 > UINT8_MAX)
		return vu_violation("SET_STATUS: 0x%llx",
				    (unsigned long long)m->payload.u64);
	/* Writing 0 resets a virtio device. */
	if (!m->payload.u64)
		dev_reset(d);
	d->status = m->payload.u64;
	return VU_OK;
}

static int vu_get_status(struct vu_dev *d, struct vu_msg *m)
{
	return reply_u64(m, d->status);
}

#define VU_ANY		UINT32_MAX
#define VU_NO_FEATURE	-1

static const struct vu_handler {
	const char *name;
	int (*fn)(struct vu_dev *d, struct vu_msg *m);
	uint32_t size;		/* payload size, or VU_ANY: checked by fn */
	uint32_t nfds;		/* file descriptors, or VU_ANY: checked by fn */
	int protocol_feature;	/* needed to send the request at all */
} handlers[] = {
#define H(req, fn, size, nfds, pf) \
	[VHOST_USER_##req] = { #req, fn, size, nfds, pf }
	H(GET_FEATURES, vu_get_features, 0, 0, VU_NO_FEATURE),
	H(SET_FEATURES, vu_set_features, 8, 0, VU_NO_FEATURE),
	H(SET_OWNER, vu_set_owner, 0, 0, VU_NO_FEATURE),
	H(RESET_OWNER, vu_reset_owner, 0, 0, VU_NO_FEATURE),
	H(SET_MEM_TABLE, vu_set_mem_table, VU_ANY, VU_ANY, VU_NO_FEATURE),
	H(SET_VRING_NUM, vu_set_vring_num, 8, 0, VU_NO_FEATURE),
	H(SET_VRING_ADDR, vu_set_vring_addr, 40, 0, VU_NO_FEATURE),
	H(SET_VRING_BASE, vu_set_vring_base, 8, 0, VU_NO_FEATURE),
	H(GET_VRING_BASE, vu_get_vring_base, 8, 0, VU_NO_FEATURE),
	H(SET_VRING_KICK, vu_set_vring_kick, 8, VU_ANY, VU_NO_FEATURE),
	H(SET_VRING_CALL, vu_set_vring_call, 8, VU_ANY, VU_NO_FEATURE),
	H(SET_VRING_ERR, vu_set_vring_err, 8, VU_ANY, VU_NO_FEATURE),
	H(GET_PROTOCOL_FEATURES, vu_get_protocol_features, 0, 0, VU_NO_FEATURE),
	H(SET_PROTOCOL_FEATURES, vu_set_protocol_features, 8, 0, VU_NO_FEATURE),
	H(GET_QUEUE_NUM, vu_get_queue_num, 0, 0, VHOST_USER_PROTOCOL_F_MQ),
	H(SET_VRING_ENABLE, vu_set_vring_enable, 8, 0, VU_NO_FEATURE),
	H(SET_BACKEND_REQ_FD, vu_set_backend_req_fd, 0, 1,
	  VHOST_USER_PROTOCOL_F_BACKEND_REQ),
	H(GET_CONFIG, vu_get_config, VU_ANY, 0, VHOST_USER_PROTOCOL_F_CONFIG),
	H(SET_CONFIG, vu_set_config, VU_ANY, 0, VHOST_USER_PROTOCOL_F_CONFIG),
	H(RESET_DEVICE, vu_reset_device, 0, 0, VHOST_USER_PROTOCOL_F_RESET_DEVICE),
	H(SET_STATUS, vu_set_status, 8, 0, VHOST_USER_PROTOCOL_F_STATUS),
	H(GET_STATUS, vu_get_status, 0, 0, VHOST_USER_PROTOCOL_F_STATUS),
#undef H
};

/* Socket I/O */

/* Receive up to len bytes and any file descriptors sent with them. */
static ssize_t recv_some(struct vu_dev *d, void *buf, size_t len,
			 struct vu_msg *m)
{
	unsigned int nfds;
	bool lost;
	ssize_t n;

	n = vbd_recv_fds(d->sock, buf, len, m->fds + m->nfds,
			 VU_MAX_FDS - m->nfds, &nfds, &lost);
	if (n < 0)
		return n;
	m->nfds += nfds;
	return lost ? -EMSGSIZE : n;
}

static int recv_all(struct vu_dev *d, void *buf, size_t len,
		    struct vu_msg *m, bool *eof)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv_some(d, (char *)buf + got, len - got, m);

		if (n == -EMSGSIZE)
			return vu_violation("more than %u file descriptors in a message",
					    VU_MAX_FDS);
		if (n < 0) {
			log_err("cannot read from the frontend: %s", strerror(-n));
			return n;
		}
		if (!n) {
			if (eof && !got && !m->nfds) {
				*eof = true;
				return 0;
			}
			return vu_violation("connection closed in the middle of a message");
		}
		got += n;
	}
	return 0;
}

/* Read one message: 1, or 0 at a clean end of the connection, or < 0. */
static int msg_recv(struct vu_dev *d, struct vu_msg *m)
{
	bool eof = false;
	int r;

	m->nfds = 0;
	r = recv_all(d, &m->hdr, sizeof(m->hdr), m, &eof);
	if (r < 0)
		return r;
	if (eof)
		return 0;
	if ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (m->hdr.flags & ~(VHOST_USER_VERSION_MASK | VHOST_USER_NEED_REPLY_MASK)))
		return vu_violation("request %u: bad flags 0x%x",
				    m->hdr.request, m->hdr.flags);
	if (m->hdr.size > VU_MAX_PAYLOAD)
		return vu_violation("request %u: payload of %u bytes",
				    m->hdr.request, m->hdr.size);
	r = recv_all(d, &m->payload, m->hdr.size, m, NULL);
	return r < 0 ? r : 1;
}

static int msg_reply(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_hdr hdr = {
		.request = m->hdr.request,
		.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
		.size = m->hdr.size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = &m->payload, .iov_len = m->hdr.size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	while (mh.msg_iovlen) {
		ssize_t n = sendmsg(d->sock, &mh, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("cannot reply to the frontend: %s", strerror(errno));
			return -errno;
		}
		while (mh.msg_iovlen && (size_t)n >= mh.msg_iov->iov_len) {
			n -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= n;
		}
	}
	return 0;
}

static int msg_handle(struct vu_dev *d, struct vu_msg *m)
{
	bool need_reply = m->hdr.flags & VHOST_USER_NEED_REPLY_MASK;
	const struct vu_handler *h = NULL;
	int r;

	if (m->hdr.request < ARRAY_SIZE(handlers) && handlers[m->hdr.request].fn)
		h = &handlers[m->hdr.request];
	if (!h) {
		log_warn("unsupported request %u refused", m->hdr.request);
		r = VU_NACK;
	} else {
		log_debug("request %s", h->name);
		if (h->size != VU_ANY && m->hdr.size != h->size)
			return vu_violation("%s: payload of %u bytes, expected %u",
					    h->name, m->hdr.size, h->size);
		if (h->nfds != VU_ANY && m->nfds != h->nfds)
			return vu_violation("%s: %u file descriptors, expected %u",
					    h->name, m->nfds, h->nfds);
		if (h->protocol_feature != VU_NO_FEATURE &&
		    !(d->protocol_features & (1ULL << h->protocol_feature)))
			return vu_violation("%s: protocol feature %d not negotiated",
					    h->name, h->protocol_feature);
		r = h->fn(d, m);
	}

	switch (r) {
	case VU_REPLY:
		return msg_reply(d, m);
	case VU_OK:
	case VU_NACK:
		/* REPLY_ACK: zero for success, non-zero for failure. */
		if (!need_reply)
			return 0;
		reply_u64(m, r == VU_NACK);
		return msg_reply(d, m);
	default:
		return r;
	}
}

int vu_dev_run(struct vu_dev *d)
{
	struct vu_msg *m = malloc(sizeof(*m));
	unsigned int i;
	int r;

	if (!m)
		return -ENOMEM;
	do {
		r = msg_recv(d, m);
		/* 1: one more message, 0: end of connection. */
		if (r > 0)
			r = msg_handle(d, m) ?: 1;
		for (i = 0; i < m->nfds; i++)
			close_fd(&m->fds[i]);
	} while (r > 0);
	free(m);
	if (!r)
		log_info("frontend disconnected");
	return r;
}

struct vu_dev *vu_dev_new(int sock, const struct vu_dev_info *info)
{
	struct vu_dev *d;
	unsigned int i;

	d = calloc(1, sizeof(*d) + info->num_queues * sizeof(d->queues[0]));
	if (!d)
		return NULL;
	d->sock = sock;
	d->ops = info->ops;
	d->opaque = info->opaque;
	d->offered = info->features | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES);
	d->protocol_offered = VU_PROTOCOL_FEATURES;
	if (d->offered & (1ULL << VU_F_ACCESS_PLATFORM))
		d->protocol_offered |= 1ULL << VHOST_USER_PROTOCOL_F_BACKEND_REQ;
	d->backend_fd = -1;
	d->num_queues = info->num_queues;
	for (i = 0; i < d->num_queues; i++) {
		struct vu_queue *q = &d->queues[i];

		q->dev = d;
		q->index = i;
		q->kick_fd = q->stop_fd = q->more_fd = -1;
		q->call_fd = q->err_fd = -1;
		pthread_mutex_init(&q->lock, NULL);
		pthread_cond_init(&q->drained, NULL);
	}
	return d;
}

void vu_dev_free(struct vu_dev *d)
{
	unsigned int i;

	dev_quiesce(d);
	for (i = 0; i < d->num_queues; i++) {
		struct vu_queue *q = &d->queues[i];

		close_fd(&q->kick_fd);
		close_fd(&q->call_fd);
		close_fd(&q->err_fd);
		pthread_cond_destroy(&q->drained);
		pthread_mutex_destroy(&q->lock);
	}
	mem_unmap(d->mem);
	close_fd(&d->backend_fd);
	close(d->sock);
	free(d);
}
