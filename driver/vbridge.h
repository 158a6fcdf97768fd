/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vbridge guest driver: private definitions shared by the driver's
 * source files.
 *
 * Layout of the driver:
 *   vbridge_main.c     virtio driver, probe/remove/freeze/restore, config
 *                      space, INIT handshake, device lifetime
 *   vbridge_vq.c       request layer on the request virtqueues
 *   vbridge_event.c    event virtqueue and event dispatch
 *   vbridge_chardev.c  /dev/vbridgeN control node (ioctls)
 *   vbridge_debugfs.c  /sys/kernel/debug/vbridge/<device>/
 *   vbridge_trace.c    trace points
 *   vbridge_fs_super.c vbridgefs: mount, superblock, device registry,
 *                      forget batching, INVAL events
 *   vbridge_fs_req.c   vbridgefs: request helpers (request header and
 *                      calls, named-child message, entry reply to inode,
 *                      RELEASE and FORGET senders)
 *   vbridge_fs_inode.c vbridgefs: inode cache, attributes, setattr,
 *                      symlinks, extended attributes
 *   vbridge_fs_dir.c   vbridgefs: lookup, dentry revalidation, namespace
 *                      operations, directory files
 *   vbridge_fs_readdir.c vbridgefs: readdir, the readdir cache
 *   vbridge_fs_file.c  vbridgefs: open files, page cache I/O, direct I/O,
 *                      mmap, fsync, fallocate, lseek, copy_file_range, locks
 *   vbridge_fs_recover.c vbridgefs: finding the mounts' nodes again on a
 *                      new backend
 *   vbridge_aux.c      the display's auxiliary device, driven by
 *                      vbridge_drm.ko (driver/drm/, see vbridge_aux.h)
 *
 * Feature parts use the request API (vbridge_request*()) and register
 * event handlers in vbridge_event_dispatch().
 */
#ifndef _VBRIDGE_PRIV_H
#define _VBRIDGE_PRIV_H

#include <linux/atomic.h>
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/virtio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/vbridge.h>

#include "vbridge_aux.h"
#include "vbridge_compat.h"

struct dentry;

/* Virtqueue indexes. */
#define VBRIDGE_VQ_EVENT		0
#define VBRIDGE_VQ_REQUEST		1

/* Driver name, also the name of the debugfs root directory. */
#define VBRIDGE_NAME			"vbridge"

/* Largest size of struct vbridge_req_hdr and struct vbridge_resp_hdr. */
#define VBRIDGE_HDR_MAX \
	MAX(sizeof(struct vbridge_req_hdr), sizeof(struct vbridge_resp_hdr))

/*
 * Device life cycle.  Written under vbridge_dev.state_lock, read
 * locklessly with READ_ONCE().
 */
enum vbridge_state {
	VBRIDGE_STATE_SETUP,		/* probing: only the INIT request */
	VBRIDGE_STATE_RUNNING,		/* requests accepted */
	VBRIDGE_STATE_SUSPENDED,	/* frozen: new requests wait */
	VBRIDGE_STATE_BROKEN,		/* the device misbehaved, reset */
	VBRIDGE_STATE_REMOVED,		/* unbound from the device */
};

/* Validated copy of struct vbridge_config, in CPU byte order. */
struct vbridge_cfg {
	u32 num_request_queues;
	u32 num_tags;
	u32 num_scanouts;
	u32 display_width;
	u32 display_height;
	u32 generation;
	char tags[VBRIDGE_MAX_TAGS][VBRIDGE_TAG_LEN + 1];
};

/**
 * struct vbridge_vq - a request virtqueue
 * @vb: owning device
 * @lock: serialises every virtqueue_*() call on @vq (the virtio ring API
 *	is not thread safe) and protects @vq, @stop_err, @space_seq,
 *	@inflight, @pending, @done and the statistics.  Taken with
 *	interrupts off: the virtqueue callback drains the used ring.
 * @vq: the virtqueue, NULL while the virtqueues are deleted
 * @stop_err: 0 while requests may be added; -EAGAIN while suspended
 *	(submitters go back to waiting for the device); otherwise the
 *	error new requests fail with
 * @index: request queue number, 0-based (virtqueue VBRIDGE_VQ_REQUEST + i)
 * @space_seq: bumped whenever descriptors are returned or the queue is
 *	stopped, so that submitters waiting for ring space can tell
 * @space_wq: submitters waiting for ring space
 * @done_work: completes the requests on @done; drains the used ring too
 *	when the watchdog asks
 * @done: requests the virtqueue callback took off the ring and left to
 *	@done_work: background requests (their callback), and the final
 *	reference of those nobody waits for any more
 * @inflight: requests posted and not yet returned by the device
 * @pending: the requests the device owns (struct vbridge_req.node), oldest
 *	first, for the watchdog
 * @requests: requests posted
 * @bytes_out: bytes posted device-readable (headers included)
 * @bytes_in: bytes returned by the device (used lengths)
 * @errors: requests that completed with an error, including protocol
 *	violations of the device
 * @bad_responses: responses that violated the protocol (subset of @errors)
 * @ring_full: submissions that found the ring full and backed off
 * @interrupted: requests whose waiter got a signal while the device
 *	owned them; the waiter kept waiting for the response
 * @name: virtqueue name
 */
struct vbridge_vq {
	struct vbridge_dev *vb;
	spinlock_t lock;		/* see the kernel-doc above */
	struct virtqueue *vq;
	int stop_err;
	unsigned int index;
	unsigned int space_seq;
	wait_queue_head_t space_wq;
	struct work_struct done_work;
	struct list_head done;
	unsigned int inflight;
	struct list_head pending;
	u64 requests;
	u64 bytes_out;
	u64 bytes_in;
	u64 errors;
	u64 bad_responses;
	u64 ring_full;
	atomic64_t interrupted;
	char name[16];
} ____cacheline_aligned_in_smp;

/**
 * struct vbridge_evq - the event virtqueue
 * @lock: serialises every virtqueue_*() call on @vq and protects @vq
 * @vq: the virtqueue, NULL when VBRIDGE_F_EVENT_QUEUE was not negotiated
 *	or while the virtqueues are deleted
 * @work: drains the used ring and dispatches events
 * @nr_bufs: buffers posted when the queue was filled
 * @events: valid events received
 * @bad_events: malformed events dropped
 * @unknown_events: well-formed events of an unknown type
 */
struct vbridge_evq {
	spinlock_t lock;		/* see the kernel-doc above */
	struct virtqueue *vq;
	struct work_struct work;
	unsigned int nr_bufs;
	atomic64_t events;
	atomic64_t bad_events;
	atomic64_t unknown_events;
};

/**
 * struct vbridge_dev - one vbridge device
 * @kref: held by the driver binding and by every open control node file
 * @vdev: the virtio device; its struct device is referenced (get_device())
 *	until @kref drops to zero, so logging through it is always safe, but
 *	the device may only be accessed while bound (see @state)
 * @id: N in /dev/vbridgeN, from an IDA
 * @name: "vbridgeN"
 * @state_lock: serialises probe, remove, freeze, restore and failure
 *	handling, i.e. every creation and deletion of the virtqueues
 * @state: enum vbridge_state, written under @state_lock
 * @vqs_live: the virtqueues exist (under @state_lock)
 * @state_wq: woken on every @state change
 * @cfg: validated configuration space
 * @features: negotiated virtio feature bits
 * @major: negotiated protocol version, major
 * @minor: negotiated protocol version, minor
 * @max_req_size: negotiated largest request/response, headers included
 * @max_inflight: negotiated largest number of requests in flight per queue
 * @max_segs: largest descriptor chain (queue size) a request may use
 * @max_seg_len: longest descriptor, a multiple of PAGE_SIZE: what the DMA
 *	API maps in one piece (swiotlb bounce buffers: 256 KiB), else 4 GiB
 *	- PAGE_SIZE; longer page segments (large folios) are split
 * @nr_queues: request queues used by the driver
 * @vqs: the request queues, @nr_queues entries
 * @evq: the event queue
 * @wq: completion and event work items
 * @next_unique: source of request ids
 * @fail_work: resets and disables a misbehaving device
 * @watchdog: declares the device dead when a request stays unanswered
 *	longer than request_timeout_ms; armed by submitters, cancelled
 *	once the queues are stopped
 * @timeouts: requests the watchdog found unanswered (at most one per
 *	failure)
 * @config_work: handles configuration changes
 * @recover_work: while the device is broken, polls the config generation
 *	and, once a new backend took over, resets the device, negotiates
 *	again and recovers the mounts (vbridge_fs_recover())
 * @recoveries: times the device was recovered after a new backend came
 * @recover_failures: recoveries that failed (the device stays broken)
 * @evt_lock: protects @evt_waiters and @last_test_cookie
 * @evt_waiters: struct vbridge_evt_waiter list
 * @last_test_cookie: cookie of the last VBRIDGE_EVT_TEST event
 * @evt_wq: woken when an event arrives or the device goes down
 * @debugfs: /sys/kernel/debug/vbridge/<virtio device>/
 * @misc: the control node
 * @misc_registered: @misc is registered
 * @fs_entry: on the list of devices vbridgefs mounts from, under
 *	vbridge_fs_lock (vbridge_fs_super.c)
 * @display: the display's auxiliary device, NULL without one; set by
 *	vbridge_aux_add() and cleared by vbridge_aux_remove() (probe and
 *	remove), read by the event work
 * @op_requests: requests posted, by opcode (debugfs "opcodes"), so that
 *	tests can count the round trips of an operation
 */
struct vbridge_dev {
	struct kref kref;
	struct virtio_device *vdev;
	int id;
	char name[20];

	struct mutex state_lock;	/* see the kernel-doc above */
	enum vbridge_state state;
	bool vqs_live;
	wait_queue_head_t state_wq;

	struct vbridge_cfg cfg;
	u64 features;
	u16 major;
	u16 minor;
	u32 max_req_size;
	u32 max_inflight;
	unsigned int max_segs;
	u32 max_seg_len;

	unsigned int nr_queues;
	struct vbridge_vq *vqs;
	struct vbridge_evq evq;
	struct workqueue_struct *wq;
	atomic64_t next_unique;

	struct work_struct fail_work;
	struct delayed_work watchdog;
	atomic64_t timeouts;
	struct work_struct config_work;
	struct delayed_work recover_work;
	atomic_t recoveries;
	atomic_t recover_failures;

	spinlock_t evt_lock;		/* see the kernel-doc above */
	struct list_head evt_waiters;
	u64 last_test_cookie;
	wait_queue_head_t evt_wq;

	struct dentry *debugfs;
	struct miscdevice misc;
	bool misc_registered;

	struct list_head fs_entry;

	struct vbridge_adev *display;

	atomic64_t op_requests[VBRIDGE_OP_LAST + 1];
};

/*
 * Request API.
 *
 * Direction names follow the protocol: the input payload is read by the
 * device, the output payload is written by the device.
 */

/*
 * Wait killably instead of interruptibly for the device to run and for
 * ring space.  Once a request is on the ring its waiter always waits for
 * the response: a signal never abandons a request the device owns.
 */
#define VBRIDGE_REQ_KILLABLE		BIT(0)
/* Internal: the INIT request, allowed before the device is running. */
#define VBRIDGE_REQ_INIT		BIT(1)
/*
 * Background request: vbridge_request_args() returns as soon as the
 * request is on the ring, and vbridge_args.end (if set) gets the result.
 * Waits for the device and for ring space are uninterruptible.
 */
#define VBRIDGE_REQ_BACKGROUND		BIT(2)
/*
 * Wait uninterruptibly for the device and for ring space, whatever
 * signals the calling task gets: for writeback, whose dirty data must not
 * depend on the task that happens to write it back (a process killed in
 * close() or fsync()), as FUSE's writeback does not.  The watchdog
 * bounds the waits.
 */
#define VBRIDGE_REQ_NOSIGNAL		BIT(3)
/*
 * With VBRIDGE_REQ_BACKGROUND: vbridge_args.end may run in interrupt
 * context, from the virtqueue callback, because all it does is complete
 * and wake (unlock pages, drop references, free memory): no sleeping, no
 * other request, no lock that is not taken with interrupts off.  Saves
 * the completion work's wake-up for readahead, whose reader waits on the
 * pages.
 */
#define VBRIDGE_REQ_END_ATOMIC		BIT(4)
/*
 * Fail with -EAGAIN, the device never having seen the request, rather
 * than wait for the device to run or for ring space (IOCB_NOWAIT).
 */
#define VBRIDGE_REQ_NOWAIT		BIT(5)

struct vbridge_dev;

/**
 * struct vbridge_args - description of one request
 * @opcode: enum vbridge_opcode
 * @flags: VBRIDGE_REQ_* flags
 * @in: inline input payload, copied into the request; may be on the stack
 * @in_len: bytes at @in
 * @in_bvec: further input payload, sent after @in.  The pages are
 *	referenced for as long as the device owns them, so the caller may
 *	drop its own references as soon as vbridge_request_args() returns.
 * @in_nr_bvec: entries in @in_bvec
 * @out: inline output buffer, filled from the response; may be on the
 *	stack.  NULL for background requests, whose @end gets the output.
 * @out_len: bytes at @out (or passed to @end)
 * @out_bvec: further output buffer, filled after @out
 * @out_nr_bvec: entries in @out_bvec
 * @out_actual: set on success: output payload bytes the device returned
 *	(inline part first, then @out_bvec)
 * @end: with VBRIDGE_REQ_BACKGROUND, called with the result
 * @end_data: passed to @end
 */
struct vbridge_args {
	u32 opcode;
	u32 flags;
	const void *in;
	u32 in_len;
	const struct bio_vec *in_bvec;
	unsigned int in_nr_bvec;
	void *out;
	u32 out_len;
	const struct bio_vec *out_bvec;
	unsigned int out_nr_bvec;
	u32 out_actual;
	vbridge_end_t end;
	void *end_data;
};

/* Event waiter, see vbridge_event_test(). */
struct vbridge_evt_waiter {
	struct list_head node;
	u64 cookie;
	bool fired;
};

/* A request with @opcode is on the ring. */
static inline void vbridge_count_op(struct vbridge_dev *vb, u32 opcode)
{
	if (opcode <= VBRIDGE_OP_LAST)
		atomic64_inc(&vb->op_requests[opcode]);
}

/* vbridge_main.c */
extern unsigned int vbridge_request_timeout_ms;
void vbridge_dev_get(struct vbridge_dev *vb);
void vbridge_dev_put(struct vbridge_dev *vb);
void vbridge_dev_fail(struct vbridge_dev *vb);
int vbridge_state_err(enum vbridge_state state);

/* vbridge_vq.c */
int vbridge_request_args(struct vbridge_dev *vb, struct vbridge_args *args);
int vbridge_request(struct vbridge_dev *vb, u32 opcode, const void *in,
		    size_t in_len, void *out, size_t out_len,
		    size_t *out_actual);
u32 vbridge_max_in_payload(struct vbridge_dev *vb);
u32 vbridge_max_out_payload(struct vbridge_dev *vb);
void vbridge_queue_init(struct vbridge_dev *vb, struct vbridge_vq *vbq,
			unsigned int index);
void vbridge_queue_done(struct virtqueue *vq);
void vbridge_queues_start(struct vbridge_dev *vb, struct virtqueue **vqs);
void vbridge_queues_stop(struct vbridge_dev *vb, int err);
void vbridge_queues_drain(struct vbridge_dev *vb, unsigned int timeout_ms);
void vbridge_queues_flush(struct vbridge_dev *vb, int err);
void vbridge_queues_watchdog(struct work_struct *work);

/* vbridge_event.c */
void vbridge_evq_init(struct vbridge_dev *vb);
void vbridge_evq_done(struct virtqueue *vq);
int vbridge_evq_fill(struct vbridge_dev *vb, struct virtqueue *vq);
void vbridge_evq_kick(struct vbridge_dev *vb);
void vbridge_evq_flush(struct vbridge_dev *vb);
int vbridge_event_test(struct vbridge_dev *vb, u64 cookie,
		       unsigned int timeout_ms);

/* vbridge_chardev.c */
int vbridge_chardev_register(struct vbridge_dev *vb);
void vbridge_chardev_unregister(struct vbridge_dev *vb);

/* vbridge_debugfs.c */
void vbridge_debugfs_init(void);
void vbridge_debugfs_exit(void);
void vbridge_debugfs_add(struct vbridge_dev *vb);
void vbridge_debugfs_remove(struct vbridge_dev *vb);

/*
 * Filesystem (vbridgefs).
 */

#define VBRIDGE_FS_TYPE			"vbridgefs"
#define VBRIDGE_FS_MAGIC		0x76627266	/* "vbrf" */

enum vbridge_fs_cache {
	VBRIDGE_FS_CACHE_NONE,		/* no timeouts, direct read/write */
	VBRIDGE_FS_CACHE_AUTO,		/* the device's timeouts */
	VBRIDGE_FS_CACHE_ALWAYS,	/* long timeouts, INVAL events */
};

/**
 * struct vbridge_fs - one vbridgefs superblock
 * @vb: the device, referenced until the superblock dies; requests fail
 *	with -ENODEV once it is removed
 * @sb: the superblock
 * @entry: on vbridge_fs_supers, under vbridge_fs_lock
 * @root: node id of the export's root; changed only by
 *	vbridge_fs_recover(), while no other request can be sent
 * @tag: the export's tag, to mount it again after a backend restart
 * @epoch: bumped when a new backend took over: FORGETs queued before
 *	name nodes of the old one and are dropped
 * @cache: enum vbridge_fs_cache
 * @writeback: dirty pages are written back lazily, not on every write
 * @max_pages: data pages per READ or WRITE request
 * @neg_valid_ns: how long a name the device did not find stays negative:
 *	the entry timeout of the root's MOUNT reply
 * @attr_version: bumped by every local change of an inode's size, so that
 *	attributes fetched before it do not overwrite it
 * @inval_version: @attr_version when an INVAL event last may have missed
 *	what a reply in flight is about to cache (a name, or a node not in
 *	the inode cache yet): replies to requests sent before it are not
 *	cached (vbridge_fs_valid_since())
 * @forget_lock: protects @forgets
 * @forgets: struct vbridge_fs_forget waiting for @forget_work
 * @forget_work: sends FORGET requests for evicted inodes, batched: it
 *	runs VBRIDGE_FS_FORGET_DELAY after the first eviction it serves
 *	(BATCH_FORGET) where the device speaks protocol 2.1
 * @dev_lock: serializes allocating @devs
 * @devs: st_dev of the host filesystems mounted below the export, by
 *	device index - 1 (vbridge_fs_attr.devidx); 0 until first needed,
 *	allocated with get_anon_bdev() under @dev_lock, read locklessly
 *	once set, freed when the superblock dies
 */
struct vbridge_fs {
	struct vbridge_dev *vb;
	struct super_block *sb;
	struct list_head entry;
	u64 root;
	char tag[VBRIDGE_TAG_LEN + 1];
	atomic_t epoch;
	enum vbridge_fs_cache cache;
	bool writeback;
	unsigned int max_pages;
	u64 neg_valid_ns;
	atomic64_t attr_version;
	atomic64_t inval_version;
	spinlock_t forget_lock;		/* see the kernel-doc above */
	struct list_head forgets;
	struct delayed_work forget_work;
	struct mutex dev_lock;		/* see the kernel-doc above */
	dev_t devs[VBRIDGE_FS_DEVIDX_MAX];
};

/**
 * struct vbridge_fs_rdc - a directory's cached listing (vbridge_fs_readdir.c)
 * @version: bumped whenever the cache is emptied, so that a reader or a
 *	fill that started before it knows
 * @size: bytes of records in the directory's page cache
 * @pos: the device's position after the last cached record (0: none)
 * @complete: the records reach the end of the directory
 * @expires: get_jiffies_64() until which the listing is served without
 *	asking the device (the device's entry timeout, as for names)
 * @known: @mtime and @ctime are the directory's from before the first
 *	record was fetched (its attributes were valid then)
 * @mtime: the directory's mtime then: a different one later means the
 *	directory changed
 * @ctime: likewise
 */
struct vbridge_fs_rdc {
	u64 version;
	loff_t size;
	loff_t pos;
	bool complete;
	bool known;
	u64 expires;
	struct timespec64 mtime;
	struct timespec64 ctime;
};

/**
 * struct vbridge_inode - a vbridgefs inode
 * @vfs: the VFS inode
 * @nodeid: the device's node id
 * @lock: protects @nlookup, @attr_expires, @attr_version, @local_change,
 *	@devidx and @files
 * @nlookup: lookups the device counted for @nodeid, given back by FORGET
 * @attr_expires: get_jiffies_64() until which the attributes are valid;
 *	0 once invalidated
 * @attr_version: vbridge_fs.attr_version of the last local change of
 *	the file's size or data (bumped before and after the request)
 * @inval_version: vbridge_fs.attr_version when an INVAL event of the
 *	device last expired the attributes: a reply to a request sent
 *	before is applied, but not cached
 * @local_change: the data changed through this guest since attributes
 *	were last fetched, so a new mtime or size is ours and must not
 *	invalidate the page cache
 * @devidx: the host filesystem of the node (vbridge_fs_attr.devidx),
 *	0 for the export's own: its st_dev is the superblock's
 * @files: open regular files and directories (struct vbridge_file);
 *	those of regular files serve reads and writeback without a file of
 *	their own
 * @handle: the device's sealed handle of the node (VBRIDGE_F_FS_HANDLES),
 *	@handle_len bytes, to find it again on a new backend; NULL until
 *	the first open fetches it; set once under @lock, freed with the
 *	inode
 * @link: symlinks: the cached target, NULL until read or created here;
 *	written under @lock, read under RCU, dropped with the attributes
 *	(vbridge_fs_inval_attr()) and freed after a grace period
 * @state: VBRIDGE_I_* bits, atomic bitops (no lock)
 * @rdc: directories: the readdir cache, under @lock
 */
struct vbridge_inode {
	struct inode vfs;
	u64 nodeid;
	spinlock_t lock;		/* see the kernel-doc above */
	u64 nlookup;
	u64 attr_expires;
	u64 attr_version;
	u64 inval_version;
	bool local_change;
	u32 devidx;
	struct list_head files;
	struct vbridge_fs_link __rcu *link;
	u8 *handle;
	u32 handle_len;
	unsigned long state;
	struct vbridge_fs_rdc rdc;
};

/* A symlink's target, cached (vbridge_inode.link). */
struct vbridge_fs_link {
	struct rcu_head rcu;
	char target[];
};

/*
 * The device answered the node id with another file type: the inode is
 * no longer the device's node.  It answers -ESTALE from then on and
 * leaves the inode hash, so that a new lookup makes a new inode.
 */
#define VBRIDGE_I_STALE		0
/* Not yet found again on a new backend (vbridge_fs_recover()). */
#define VBRIDGE_I_RECOVERING	1
/*
 * A POSIX lock was asked of the device for the inode: a close must send
 * FLUSH, which drops the closing owner's locks there.  Never cleared.
 */
#define VBRIDGE_I_POSIX_LOCKS	2
/*
 * A lock held here could not be taken again on a new backend: the
 * file's lock operations and I/O fail with -EIO from then on, rather
 * than let its holder believe it still excludes others.  Never cleared.
 */
#define VBRIDGE_I_LOCKS_LOST	3
/* The device has no sealed handle of the node: do not ask again. */
#define VBRIDGE_I_NO_HANDLE	4
/*
 * Directories: the names of the last READDIR records were cached here
 * already (or the directory was made here), so listings ask for names
 * only (READDIR_NAMES) until a LOOKUP of a name in the directory goes to
 * the device (vbridge_fs_readdir.c).
 */
#define VBRIDGE_I_RD_NAMES	5

/**
 * struct vbridge_file - an open vbridgefs file or directory
 * @ref: regular files: one for the open file, one for each user of @fh
 *	that has no file of its own (writeback, reads for another file);
 *	@fh is released on the device once the file is closed and every
 *	such user is gone
 * @fh: the device's handle
 * @entry: on vbridge_inode.files (regular files only)
 * @mode: FMODE_READ and FMODE_WRITE of the handle on the device
 * @direct: read and write bypass the page cache
 * @locks: a flock or OFD lock was asked of the device through the
 *	handle, which RELEASE drops: RELEASE is then waited for, so that
 *	the lock is free once close() returns
 * @rd_version: directories: the readdir cache's version @rd_off is of
 * @rd_pos: directories: the position (ctx->pos) at @rd_off
 * @rd_off: directories: byte offset of the next record in the readdir
 *	cache (getdents() on one file is serialized by f_pos_lock)
 */
struct vbridge_file {
	refcount_t ref;
	u64 fh;
	struct list_head entry;
	fmode_t mode;
	bool direct;
	bool locks;
	u64 rd_version;
	loff_t rd_pos;
	loff_t rd_off;
};

static inline struct vbridge_inode *VBRIDGE_I(struct inode *inode)
{
	return container_of(inode, struct vbridge_inode, vfs);
}

static inline struct vbridge_fs *VBRIDGE_FS(struct super_block *sb)
{
	return sb->s_fs_info;
}

/* vbridge_fs_recover.c */
int vbridge_fs_recover(struct vbridge_dev *vb);
void vbridge_fs_fetch_handle(struct inode *inode);

/* vbridge_fs_super.c */
extern struct mutex vbridge_fs_lock;
extern struct list_head vbridge_fs_supers;
int vbridge_fs_register(void);
void vbridge_fs_unregister(void);
void vbridge_fs_add_device(struct vbridge_dev *vb);
void vbridge_fs_remove_device(struct vbridge_dev *vb);
bool vbridge_fs_event(struct vbridge_dev *vb, const void *buf, u32 len);
void vbridge_fs_device_failed(struct vbridge_dev *vb);
void vbridge_fs_forget(struct vbridge_fs *fs, u64 nodeid, u64 nlookup);
bool vbridge_fs_mounted(struct vbridge_dev *vb);
u64 vbridge_fs_timeout(struct vbridge_fs *fs, u64 valid_ns);
u64 vbridge_fs_valid_since(struct vbridge_fs *fs, u64 version, u64 valid_ns);
typedef int (*vbridge_fs_inode_fn)(struct inode *inode, void *arg);
int vbridge_fs_iterate_inodes(struct super_block *sb, vbridge_fs_inode_fn fn,
			      void *arg);

/* vbridge_fs_req.c */

/* A request that names one child of fs.nodeid. */
struct vbridge_fs_name_msg {
	struct vbridge_fs_in fs;
	struct vbridge_fs_name_in name;
	char data[VBRIDGE_FS_NAME_MAX];
};

/* vbridge_fs_entry_inode() flags */
#define VBRIDGE_FS_ENTRY_CREATED	BIT(0)	/* made in the directory */
#define VBRIDGE_FS_ENTRY_REG		BIT(1)	/* must be a regular file */

void vbridge_fs_in_init(struct vbridge_fs_in *in, u64 nodeid, u64 fh);
int vbridge_fs_call(struct vbridge_fs *fs, struct vbridge_args *args,
		    u32 min_out);
int vbridge_fs_simple(struct vbridge_fs *fs, u32 opcode, const void *in,
		      u32 in_len, void *out, u32 out_len);
int vbridge_fs_simple_flags(struct vbridge_fs *fs, u32 opcode, u32 flags,
			    const void *in, u32 in_len, void *out, u32 out_len);
void vbridge_fs_release_fh(struct vbridge_fs *fs, u32 opcode, u64 nodeid,
			   u64 fh, bool wait);
void vbridge_fs_send_forget(struct vbridge_fs *fs, u64 nodeid, u64 nlookup,
			    u32 flags);
u32 vbridge_fs_name_msg_init(struct vbridge_fs_name_msg *in, u64 nodeid,
			     const char *name, u32 len);
struct inode *vbridge_fs_entry_inode(struct inode *dir,
				     const struct vbridge_fs_entry_out *e,
				     u64 attr_version, unsigned int flags);

/* vbridge_fs_inode.c */
extern const struct xattr_handler * const vbridge_fs_xattr_handlers[];
struct inode *vbridge_fs_iget(struct super_block *sb,
			      const struct vbridge_fs_entry_out *e,
			      u64 attr_version);
int vbridge_fs_check_entry(const struct vbridge_fs_entry_out *e);
bool vbridge_fs_entry_again(struct inode *inode,
			    const struct vbridge_fs_entry_out *e,
			    u64 attr_version);
void vbridge_fs_update_attr(struct inode *inode,
			    const struct vbridge_fs_attr *attr, u64 valid_ns,
			    u64 attr_version);
void vbridge_fs_inval_attr(struct inode *inode);
void vbridge_fs_set_link(struct inode *inode, const char *target,
			 size_t len);
int vbridge_fs_refresh_attr(struct inode *inode, bool force);
void vbridge_fs_local_change(struct inode *inode, loff_t size);
void vbridge_fs_make_stale(struct inode *inode);

static inline bool vbridge_fs_is_stale(struct inode *inode)
{
	return test_bit(VBRIDGE_I_STALE, &VBRIDGE_I(inode)->state);
}

/*
 * iget5_locked()/ilookup5() test: the live inode of node *@data (a stale
 * one may still carry the same node id).
 */
static inline int vbridge_fs_inode_test(struct inode *inode, void *data)
{
	return VBRIDGE_I(inode)->nodeid == *(u64 *)data &&
	       !vbridge_fs_is_stale(inode);
}

int vbridge_fs_permission(struct mnt_idmap *idmap, struct inode *inode,
			  int mask);
int vbridge_fs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		       struct iattr *attr);
int vbridge_fs_getattr(struct mnt_idmap *idmap, const struct path *path,
		       struct kstat *stat, u32 mask, unsigned int flags);
ssize_t vbridge_fs_listxattr(struct dentry *dentry, char *list, size_t size);
extern const struct inode_operations vbridge_fs_file_iops;
extern const struct inode_operations vbridge_fs_symlink_iops;
extern const struct inode_operations vbridge_fs_special_iops;
extern const struct super_operations vbridge_fs_sops;

/* vbridge_fs_dir.c */
extern const struct inode_operations vbridge_fs_dir_iops;
extern const struct file_operations vbridge_fs_dir_fops;
extern const struct dentry_operations vbridge_fs_dentry_ops;
void vbridge_fs_set_entry_timeout(struct dentry *dentry, u64 valid_ns);
bool vbridge_fs_entry_valid(struct dentry *dentry);
void vbridge_fs_dir_changed(struct inode *dir);

/* vbridge_fs_readdir.c */
int vbridge_fs_readdir(struct file *file, struct dir_context *ctx);
void vbridge_fs_rdc_reset(struct inode *dir);

/* vbridge_fs_file.c */
extern const struct file_operations vbridge_fs_file_fops;
extern const struct address_space_operations vbridge_fs_aops;
u32 vbridge_fs_wire_flags(struct vbridge_fs *fs, unsigned int flags);
u64 vbridge_fs_owner_id(const void *owner);

/* A lock of the file's was lost in a backend restart (VBRIDGE_I_LOCKS_LOST). */
static inline bool vbridge_fs_locks_lost(struct inode *inode)
{
	return test_bit(VBRIDGE_I_LOCKS_LOST, &VBRIDGE_I(inode)->state);
}

int vbridge_fs_open_common(struct inode *inode, struct file *file,
			   u64 fh, u32 open_flags);
int vbridge_fs_drop_range(struct inode *inode, loff_t start, loff_t end);

/* vbridge_fs_dio.c */
ssize_t vbridge_fs_direct_rw(struct kiocb *iocb, struct iov_iter *iter,
			     bool write, u32 wflags);
int vbridge_fs_dio_init(void);
void vbridge_fs_dio_exit(void);

static inline bool vbridge_has_feature(const struct vbridge_dev *vb,
				       unsigned int fbit)
{
	return vb->features & BIT_ULL(fbit);
}

/* vbridge_aux.c: the display's auxiliary device (vbridge_drm.ko) */
void vbridge_aux_add(struct vbridge_dev *vb);
void vbridge_aux_remove(struct vbridge_dev *vb);
void vbridge_aux_freeze(struct vbridge_dev *vb);
void vbridge_aux_restore(struct vbridge_dev *vb);
bool vbridge_aux_display_event(struct vbridge_dev *vb, const void *buf,
			       u32 len);

#endif /* _VBRIDGE_PRIV_H */
