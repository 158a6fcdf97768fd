/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fake vhost-user frontend and guest driver for the tests: speaks the
 * vhost-user protocol on a socket and drives split virtqueues laid out
 * in a memfd shared with the backend.
 */
#ifndef VBD_TEST_FRONTEND_H
#define VBD_TEST_FRONTEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#include "device.h"
#include "share.h"
#include "vhost_user.h"

/* vhost-user requests the tests send (ids from vhost-user.rst). */
enum {
	REQ_GET_FEATURES = 1,
	REQ_SET_FEATURES = 2,
	REQ_SET_OWNER = 3,
	REQ_RESET_OWNER = 4,
	REQ_SET_MEM_TABLE = 5,
	REQ_SET_LOG_BASE = 6,
	REQ_SET_VRING_NUM = 8,
	REQ_SET_VRING_ADDR = 9,
	REQ_SET_VRING_BASE = 10,
	REQ_GET_VRING_BASE = 11,
	REQ_SET_VRING_KICK = 12,
	REQ_SET_VRING_CALL = 13,
	REQ_SET_VRING_ERR = 14,
	REQ_GET_PROTOCOL_FEATURES = 15,
	REQ_SET_PROTOCOL_FEATURES = 16,
	REQ_GET_QUEUE_NUM = 17,
	REQ_SET_VRING_ENABLE = 18,
	REQ_SET_BACKEND_REQ_FD = 21,
	REQ_GET_CONFIG = 24,
	REQ_SET_CONFIG = 25,
	REQ_RESET_DEVICE = 34,
	REQ_GET_MAX_MEM_SLOTS = 36,
	REQ_SET_STATUS = 39,
	REQ_GET_STATUS = 40,
};

#define FLAG_VERSION		0x1
#define FLAG_REPLY		0x4
#define FLAG_NEED_REPLY		0x8

#define FE_MAX_QUEUES		8
#define FE_MEM_SIZE		(8U << 20)
#define FE_GPA_BASE		0x100000000ULL

struct fe_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

struct fe_vq {
	unsigned int num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;		/* next avail entry we fill */
	uint16_t last_used;		/* next used entry we consume */
	uint16_t next_desc;		/* round-robin descriptor allocator */
	uint16_t kick_old;		/* avail_idx at the last kick decision */
	int kick_fd, call_fd, err_fd;
	unsigned int kicks;		/* kicks actually sent */
};

struct fe {
	int sock;
	/* The backend, when run in this process. */
	bool in_process;
	bool joined;
	pthread_t thread;
	struct vu_dev *vu;
	int run_result;
	struct vbd_device *dev;
	struct vbd_store *store;
	/* Guest memory. */
	int memfd;
	uint8_t *mem;
	uint64_t alloc_next;		/* bump allocator, guest-physical */
	uint64_t features;		/* acked */
	unsigned int nqueues;
	struct fe_vq vq[FE_MAX_QUEUES];
};

/* Start a backend in this process with nreq request queues and tags. */
void fe_start(struct fe *f, unsigned int nreq, const char *const *tags,
	      unsigned int ntags);
/* ... exporting store (which it then owns) with opts (NULL: defaults). */
void fe_start_store(struct fe *f, unsigned int nreq, struct vbd_store *store,
		    const struct vbd_fs_opts *opts);
/* ... serving dev (e.g. with a display), which it then owns with store. */
void fe_start_device(struct fe *f, struct vbd_device *dev,
		     struct vbd_store *store);
/* A store of tags without directories, for fe_start_device(). */
struct vbd_store *fe_fake_store(const char *const *tags, unsigned int ntags);
/* Use an already connected backend on sock (e.g. a vbridged process). */
void fe_attach(struct fe *f, int sock, unsigned int nreq);
/* Disconnect; returns what vu_dev_run() returned for an in-process backend. */
int fe_stop(struct fe *f);
/* Wait for the backend to drop the connection; vu_dev_run()'s result. */
int fe_wait_broken(struct fe *f);

int fe_send(struct fe *f, uint32_t req, uint32_t flags, const void *payload,
	    uint32_t size, const int *fds, unsigned int nfds);
/* Receive a reply to req into payload; its size, or -1 on EOF/timeout. */
int fe_recv(struct fe *f, uint32_t req, void *payload, uint32_t cap);
uint64_t fe_get_u64(struct fe *f, uint32_t req);
/* Send a u64 request with need_reply; returns the ack value. */
uint64_t fe_set_u64(struct fe *f, uint32_t req, uint64_t v);
uint64_t fe_vring_state(struct fe *f, uint32_t req, uint32_t index,
			uint32_t num);
/* SET_VRING_KICK/CALL/ERR of queue q to fd, acknowledged. */
void fe_set_vring_fd(struct fe *f, uint32_t req, unsigned int q, int fd);
void fe_set_mem_table(struct fe *f, const struct fe_mem_region *r,
		      unsigned int n, const int *fds);

/* Negotiate features (0: all offered) and map guest memory. */
void fe_handshake(struct fe *f, uint64_t features);
/* Lay out queue q with num entries in guest memory and start it. */
void fe_setup_vq(struct fe *f, unsigned int q, unsigned int num);
void fe_setup_all(struct fe *f, unsigned int num);

/* Guest memory */
uint64_t drv_alloc(struct fe *f, uint64_t size);
void *gpa_ptr(struct fe *f, uint64_t gpa);

/* Guest driver */
struct drv_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* Make a chain available; with indirect, through a table. Returns head. */
uint16_t drv_add(struct fe *f, unsigned int q, const struct drv_buf *bufs,
		 unsigned int n, bool indirect);
/* Make raw descriptors available as given: head is bufs[0]'s index. */
void drv_add_raw(struct fe *f, unsigned int q, uint16_t head);
void drv_kick(struct fe *f, unsigned int q);
/* Wait for the next used entry; false on timeout. */
bool drv_wait_used(struct fe *f, unsigned int q, uint32_t *id,
		   uint32_t *len, int timeout_ms);
/* Whether used entries are pending, without waiting. */
bool drv_has_used(struct fe *f, unsigned int q);

/* A vbridge request and its response. */
struct fe_resp {
	int32_t error;
	uint32_t len;		/* resp.len */
	uint64_t unique;
	uint32_t used_len;	/* from the used ring */
	uint8_t payload[8192];
};

void fe_request(struct fe *f, unsigned int q, uint32_t opcode,
		const void *in, uint32_t in_len, uint32_t out_room,
		struct fe_resp *resp);
/* INIT with our limits; returns resp.error. */
int32_t fe_init(struct fe *f, unsigned int q);

#endif /* VBD_TEST_FRONTEND_H */
