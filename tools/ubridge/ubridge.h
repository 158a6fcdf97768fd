/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ubridge: the userspace bridge.  A FUSE daemon in the guest that sends
 * the vbridge filesystem requests over a virtio-serial port, framed as
 * struct vbridge_stream_hdr, to vbridged --serial-socket.
 */
#ifndef UBRIDGE_H
#define UBRIDGE_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <linux/vbridge.h>

/* The port QEMU's virtserialport name=org.vbridge.0 shows up as. */
#define UBR_PORT_NAME		"org.vbridge.0"
/* What we propose in INIT: 1 MiB of data plus the headers. */
#define UBR_MAX_REQ_SIZE	((1U << 20) + 4096)
#define UBR_MAX_IO		(1U << 20)

struct ubr_chan;

/* An event frame from the device (reader thread); ev is len bytes. */
typedef void ubr_event_fn(void *opaque, const void *ev, uint32_t len);
/* The channel broke: every call fails with -EIO from now on. */
typedef void ubr_broken_fn(void *opaque);

/*
 * Open the port at path (NULL: find the port named UBR_PORT_NAME).
 * NULL after printing why not.
 */
struct ubr_chan *ubr_chan_open(const char *path);
/*
 * INIT: negotiate the protocol; *max_req is the request size agreed,
 * *minor the protocol's minor version.  Before ubr_chan_start() calls
 * are answered on the calling thread.
 */
int ubr_chan_init(struct ubr_chan *ch, uint32_t *max_req, uint16_t *minor);
/* Start the reader thread that hands replies to their callers. */
int ubr_chan_start(struct ubr_chan *ch, ubr_event_fn *event,
		   ubr_broken_fn *broken, void *opaque);

/*
 * Send request opcode with the input payload in[0..nin) and wait for
 * its reply: the output payload (at most room bytes) lands in out and
 * its length in *out_len.  Returns the reply's error (0 or a negative
 * errno), or -EIO if the channel is broken.
 */
int ubr_call(struct ubr_chan *ch, uint32_t opcode, const struct iovec *in,
	     unsigned int nin, void *out, size_t room, size_t *out_len);

/* The daemon (ubridge.c) */

enum cache_mode { CACHE_AUTO, CACHE_NONE, CACHE_ALWAYS };

/* Entries and attributes under cache=always: the host's events keep them right. */
#define ALWAYS_TIMEOUT	3600.0
/* Events waiting for the notifier thread; more are dropped. */
#define MAX_EVENTS	64

struct ubr {
	/* Immutable once the session runs. */
	struct ubr_chan *ch;
	struct fuse_session *se;
	uint64_t root;			/* the export's root node id */
	uint32_t max_io;		/* data bytes per READ/WRITE/READDIR */
	uint16_t minor;			/* protocol version negotiated */
	int cache;			/* enum cache_mode */
	int writeback;
	char *tag;
	char *port;

	/* lock protects the event ring; cond signals a new event. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int ev_first, nev;
	struct {
		uint32_t len;
		uint8_t data[VBRIDGE_EVENT_BUF_SIZE];
	} ev[MAX_EVENTS];
};

/* The operations (inode.c, file.c) */
void ubr_inode_ops(struct fuse_lowlevel_ops *ops);
void ubr_file_ops(struct fuse_lowlevel_ops *ops);

/* Requests and replies (fsreq.c) */

/* One filesystem request being built: fs_in, then up to 4 more parts. */
struct fsreq {
	fuse_req_t req;
	struct vbridge_fs_in in;
	struct iovec iov[6];
	unsigned int n;
};

/* The daemon a request belongs to. */
struct ubr *U(fuse_req_t req);
/* FUSE inode number <-> device node id (the root trades places). */
uint64_t to_node(const struct ubr *u, fuse_ino_t ino);
fuse_ino_t to_ino(const struct ubr *u, uint64_t node);

/* Start a request about ino (0: none) with the caller's ids and groups. */
void fsreq_init(struct fsreq *r, fuse_req_t req, fuse_ino_t ino, uint64_t fh);
/* Append len bytes at p (nothing if len is 0); at most 4 parts. */
void fsreq_add(struct fsreq *r, const void *p, size_t len);
/* Send it; the reply payload (at most room bytes) lands in out. */
int fsreq_call(struct fsreq *r, uint32_t opcode, void *out, size_t room,
	       size_t *out_len);
/* The same, for a reply that must be exactly room bytes (-EIO if not). */
int fsreq_call_exact(struct fsreq *r, uint32_t opcode, void *out,
		     size_t room);

void fill_stat(const struct vbridge_fs_attr *a, struct stat *st);
/* How long FUSE may cache what the device allows for ns, by cache mode. */
double timeout(const struct ubr *u, uint64_t ns);
int fill_entry(const struct ubr *u, const struct vbridge_fs_entry_out *eo,
	       struct fuse_entry_param *e);
/* Give back n lookups of a node the kernel was not given. */
void forget_node(struct ubr *u, uint64_t node, uint64_t n);
/* Reply to r with the entry eo, or with err. */
void reply_entry(struct fsreq *r, int err,
		 const struct vbridge_fs_entry_out *eo);
/* strlen(name), or -ENAMETOOLONG beyond VBRIDGE_FS_NAME_MAX. */
int name_len(const char *name, uint32_t *len);
/*
 * Start a request about ino carrying hdr (hdr_len bytes) and then name,
 * the shape of every request with a name: *namelen, a field of hdr, gets
 * the name's length.  0, or -ENAMETOOLONG with only r->req set (for the
 * reply).
 */
int fsreq_named(struct fsreq *r, fuse_req_t req, fuse_ino_t ino,
		const void *hdr, size_t hdr_len, uint32_t *namelen,
		const char *name);

#endif /* UBRIDGE_H */
