/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause */
/*
 * vbridge: a paravirtual file and display bridge between a Linux guest
 * and its host.
 *
 * This header defines the wire protocol spoken over the vbridge virtio
 * device and the ioctl interface of the guest driver's control node.
 * It is shared by the guest driver and the host backend (vbridged).
 *
 * All wire structures are little-endian, naturally aligned and padded
 * explicitly so that their layout is identical on every architecture.
 *
 * Device ID: 63 (0x3f).  Not assigned by the virtio specification at the
 * time of writing; registration with the OASIS virtio TC is pending.
 * Under virtio-pci (modern) the device appears as PCI ID 1af4:107f.
 *
 * Virtqueues:
 *   0       eventq    host -> guest notifications; the driver posts
 *                     device-writable buffers of VBRIDGE_EVENT_BUF_SIZE.
 *   1..N    requestq  guest -> host requests, N = config.num_request_queues.
 *
 * A request is one descriptor chain: the device-readable part holds a
 * struct vbridge_req_hdr followed by the opcode's input payload, the
 * device-writable part receives a struct vbridge_resp_hdr followed by the
 * opcode's output payload.  Errors are reported in-band in
 * vbridge_resp_hdr.error as a negative Linux errno.
 *
 * Changelog:
 *   1.0  initial protocol: INIT handshake, PING/ECHO/EVENT_TEST debug
 *        requests, config space with tags and display geometry,
 *        filesystem requests and invalidation events, display requests
 *        (guest-memory framebuffers, damage flushes, resize events).
 *   2.0  struct vbridge_fs_in carries the caller's supplementary groups
 *        (ngroups, groups[]): the device checks access with the caller's
 *        whole identity, never with its own groups.  SETATTR can
 *        clear set-id bits as a write does (VBRIDGE_FS_SET_KILL_SUID,
 *        VBRIDGE_FS_SET_KILL_SGID).
 *        VBRIDGE_EVT_FS_INVAL_ALL: the device dropped change events (its
 *        queue or the host's was full); the driver drops every cached
 *        attribute, dentry and page of the device's mounts.
 *   2.0  (compatible) config.generation, formerly padding: the device
 *        tells when a new backend took over, so that the driver can
 *        reset it and recover its mounts.
 *   2.1  VBRIDGE_OP_FS_BATCH_FORGET: the lookups of many nodes given
 *        back in one request.  Drivers use it only with a device that
 *        negotiated minor 1 or later.
 *   2.2  VBRIDGE_F_FS_HANDLES: VBRIDGE_OP_FS_GET_HANDLE gives the driver a
 *        sealed handle of a node that outlives the backend, and
 *        VBRIDGE_OP_FS_RESOLVE finds the node again from it on a new
 *        backend, so that files renamed while the backend was away are
 *        recovered.  Used only when the feature is negotiated.
 *   2.3  VBRIDGE_F_FS_COHERENT: the device sees every change any host
 *        process makes on the filesystem of each export (fanotify
 *        filesystem marks on Linux hosts) and says so; with it,
 *        VBRIDGE_EVT_FS_INVAL_EXPORT drops what the driver cached of one
 *        export when the device lost changes to it.
 *   2.3  (compatible) SETLKW: devices answer -EAGAIN at once while the
 *        lock is held elsewhere, and drivers wait before asking again
 *        (formerly the device waited up to a second, which held up the
 *        request queue behind it).
 *   2.4  VBRIDGE_OP_FS_READDIR_NAMES: a listing without the entries'
 *        attributes and lookups (struct vbridge_fs_dirent_name), for
 *        names nobody will look up, as FUSE's READDIR beside READDIRPLUS.
 *        Drivers use it only with a device that negotiated minor 4.
 */
#ifndef _UAPI_LINUX_VBRIDGE_H
#define _UAPI_LINUX_VBRIDGE_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/ioctl.h>
#else
#include <sys/ioctl.h>
#endif

#define VBRIDGE_VIRTIO_ID		63

#define VBRIDGE_PROTO_MAJOR		2
#define VBRIDGE_PROTO_MINOR		4
#define VBRIDGE_PROTO_VERSION(major, minor)	(((major) << 16) | (minor))

/*
 * Feature bits (virtio device-specific range, 0..23).
 */
/* The device exports one or more directories, named by config.tags. */
#define VBRIDGE_F_FS			0
/* The device has config.num_scanouts displays. */
#define VBRIDGE_F_DISPLAY		1
/* config.num_request_queues may be greater than one. */
#define VBRIDGE_F_MQ			2
/* The device sends events on virtqueue 0. */
#define VBRIDGE_F_EVENT_QUEUE		3
/* The device answers the VBRIDGE_OP_PING..VBRIDGE_OP_EVENT_TEST requests. */
#define VBRIDGE_F_DEBUG			4
/*
 * The device answers VBRIDGE_OP_FS_GET_HANDLE and VBRIDGE_OP_FS_RESOLVE
 * with handles that stay valid across backend restarts (2.2).
 */
#define VBRIDGE_F_FS_HANDLES		5
/*
 * Coherence (2.3).  The device watches the whole host filesystem of every
 * export, not file by file, so that it sends INVAL_INODE and INVAL_ENTRY
 * for every change any host process makes to a file of an export on the
 * export root's own filesystem (vbridge_fs_attr.devidx 0), with no bound
 * on the files watched.  When it lost changes of an export it sends
 * VBRIDGE_EVT_FS_INVAL_EXPORT (to a driver that negotiated this bit;
 * VBRIDGE_EVT_FS_INVAL_ALL to one that did not).  The entry and
 * attribute timeouts it answers for such files may therefore be long.
 * Files on other filesystems mounted below an export are watched one by
 * one, as without the bit, within the device's own bound.
 */
#define VBRIDGE_F_FS_COHERENT		6

#define VBRIDGE_TAG_LEN			36	/* NUL-padded, like virtio-fs */
/*
 * struct vbridge_config must fit in 256 bytes, the largest config space
 * vhost-user frontends (QEMU's VHOST_USER_MAX_CONFIG_SIZE) transfer.
 */
#define VBRIDGE_MAX_TAGS		6
#define VBRIDGE_MAX_REQUEST_QUEUES	64

struct vbridge_config {
	/* Number of request queues, 1..VBRIDGE_MAX_REQUEST_QUEUES. */
	__le32 num_request_queues;
	/* Number of valid entries in tags[], 0..VBRIDGE_MAX_TAGS. */
	__le32 num_tags;
	/* Displays (VBRIDGE_F_DISPLAY), and the preferred mode of each. */
	__le32 num_scanouts;
	__le32 display_width;
	__le32 display_height;
	/*
	 * 0: the device does not tell.  Otherwise it changes whenever a new
	 * backend took over the device (the old one died or restarted),
	 * with a config interrupt if the driver is live.  The new backend
	 * knows no node, handle or resource of the old one: the driver
	 * resets the device, negotiates again and recovers its state.
	 */
	__le32 generation;
	__u8 tags[VBRIDGE_MAX_TAGS][VBRIDGE_TAG_LEN];
};

/*
 * Opcodes, in ranges by function.  Unknown opcodes are answered with
 * -EOPNOTSUPP so that a newer driver can probe an older device.
 */
enum vbridge_opcode {
	/* 0x0000 - 0x007f: core */
	VBRIDGE_OP_INIT			= 0x0001,
	/* 0x0080 - 0x00ff: debug, only with VBRIDGE_F_DEBUG */
	VBRIDGE_OP_PING			= 0x0080,
	VBRIDGE_OP_ECHO			= 0x0081,
	VBRIDGE_OP_EVENT_TEST		= 0x0082,
	/* 0x0100 - 0x01ff: filesystem (VBRIDGE_F_FS) */
	VBRIDGE_OP_FS_MOUNT		= 0x0100,
	VBRIDGE_OP_FS_LOOKUP		= 0x0101,
	VBRIDGE_OP_FS_FORGET		= 0x0102,
	VBRIDGE_OP_FS_GETATTR		= 0x0103,
	VBRIDGE_OP_FS_SETATTR		= 0x0104,
	VBRIDGE_OP_FS_READLINK		= 0x0105,
	VBRIDGE_OP_FS_SYMLINK		= 0x0106,
	VBRIDGE_OP_FS_MKNOD		= 0x0107,
	VBRIDGE_OP_FS_MKDIR		= 0x0108,
	VBRIDGE_OP_FS_UNLINK		= 0x0109,
	VBRIDGE_OP_FS_RMDIR		= 0x010a,
	VBRIDGE_OP_FS_RENAME		= 0x010b,
	VBRIDGE_OP_FS_LINK		= 0x010c,
	VBRIDGE_OP_FS_OPEN		= 0x010d,
	VBRIDGE_OP_FS_CREATE		= 0x010e,
	VBRIDGE_OP_FS_TMPFILE		= 0x010f,
	VBRIDGE_OP_FS_READ		= 0x0110,
	VBRIDGE_OP_FS_WRITE		= 0x0111,
	VBRIDGE_OP_FS_FLUSH		= 0x0112,
	VBRIDGE_OP_FS_RELEASE		= 0x0113,
	VBRIDGE_OP_FS_FSYNC		= 0x0114,
	VBRIDGE_OP_FS_OPENDIR		= 0x0115,
	VBRIDGE_OP_FS_READDIR		= 0x0116,
	VBRIDGE_OP_FS_RELEASEDIR	= 0x0117,
	VBRIDGE_OP_FS_FSYNCDIR		= 0x0118,
	VBRIDGE_OP_FS_STATFS		= 0x0119,
	VBRIDGE_OP_FS_SYNCFS		= 0x011a,
	VBRIDGE_OP_FS_GETXATTR		= 0x011b,
	VBRIDGE_OP_FS_SETXATTR		= 0x011c,
	VBRIDGE_OP_FS_LISTXATTR		= 0x011d,
	VBRIDGE_OP_FS_REMOVEXATTR	= 0x011e,
	VBRIDGE_OP_FS_FALLOCATE		= 0x011f,
	VBRIDGE_OP_FS_LSEEK		= 0x0120,
	VBRIDGE_OP_FS_COPY_FILE_RANGE	= 0x0121,
	VBRIDGE_OP_FS_GETLK		= 0x0122,
	VBRIDGE_OP_FS_SETLK		= 0x0123,
	VBRIDGE_OP_FS_SETLKW		= 0x0124,
	VBRIDGE_OP_FS_BATCH_FORGET	= 0x0125,	/* 2.1 */
	VBRIDGE_OP_FS_GET_HANDLE	= 0x0126,	/* 2.2, VBRIDGE_F_FS_HANDLES */
	VBRIDGE_OP_FS_RESOLVE		= 0x0127,	/* 2.2, VBRIDGE_F_FS_HANDLES */
	VBRIDGE_OP_FS_READDIR_NAMES	= 0x0128,	/* 2.4 */
	/* 0x0200 - 0x02ff: display (VBRIDGE_F_DISPLAY) */
	VBRIDGE_OP_DISPLAY_GET_INFO	= 0x0200,
	VBRIDGE_OP_DISPLAY_RESOURCE_CREATE = 0x0201,
	VBRIDGE_OP_DISPLAY_RESOURCE_DESTROY = 0x0202,
	VBRIDGE_OP_DISPLAY_SET_SCANOUT	= 0x0203,
	VBRIDGE_OP_DISPLAY_FLUSH	= 0x0204,
	VBRIDGE_OP_DISPLAY_CURSOR	= 0x0205,
};

#define VBRIDGE_OP_CORE_FIRST		0x0000
#define VBRIDGE_OP_DEBUG_FIRST		0x0080
#define VBRIDGE_OP_FS_FIRST		0x0100
#define VBRIDGE_OP_DISPLAY_FIRST	0x0200
#define VBRIDGE_OP_LAST			0x02ff

/* Common header of every request (device-readable). */
struct vbridge_req_hdr {
	__le32 opcode;		/* enum vbridge_opcode */
	__le32 len;		/* header plus input payload, in bytes */
	__le64 unique;		/* request id, echoed in the response */
	__le32 flags;		/* none defined yet, must be zero */
	__le32 padding;
};

/* Common header of every response (device-writable). */
struct vbridge_resp_hdr {
	__le32 error;		/* 0, or a negative Linux errno */
	__le32 len;		/* header plus output payload, in bytes */
	__le64 unique;		/* copied from the request */
};

/*
 * VBRIDGE_OP_INIT: the first request on a device.  The driver proposes
 * its version and limits; the device answers with the version it will
 * speak (same major, minor = min of both) and limits no larger than
 * the driver's.  A major mismatch is answered with -EPROTO.  Any other
 * request before a successful INIT is answered with -EPROTO; INIT may
 * be repeated, the last successful one is in effect.
 */
struct vbridge_init_in {
	__le16 major;
	__le16 minor;
	__le32 flags;		/* none defined yet, must be zero */
	__le32 max_req_size;	/* largest request/response, headers included */
	__le32 max_inflight;	/* per request queue */
};

struct vbridge_init_out {
	__le16 major;
	__le16 minor;
	__le32 flags;
	__le32 max_req_size;
	__le32 max_inflight;
};

/* Smallest max_req_size either side may negotiate. */
#define VBRIDGE_MIN_REQ_SIZE		4096

/*
 * VBRIDGE_OP_PING: no payload either way.
 * VBRIDGE_OP_ECHO: the output payload is a copy of the input payload;
 *   the response length is bounded by the writable buffer.
 * VBRIDGE_OP_EVENT_TEST: ask the device to send a VBRIDGE_EVT_TEST event
 *   carrying the given cookie on the event queue.
 */
struct vbridge_event_test_in {
	__le64 cookie;
};

/* Events (eventq, device-writable buffers). */
enum vbridge_event_type {
	VBRIDGE_EVT_TEST		= 0x1000,
	VBRIDGE_EVT_FS_INVAL_INODE	= 0x1100,
	VBRIDGE_EVT_FS_INVAL_ENTRY	= 0x1101,
	VBRIDGE_EVT_FS_INVAL_ALL	= 0x1102,
	VBRIDGE_EVT_FS_INVAL_EXPORT	= 0x1103,	/* 2.3, VBRIDGE_F_FS_COHERENT */
	VBRIDGE_EVT_DISPLAY_CHANGED	= 0x1200,
};

/* Room for the largest event, an INVAL_ENTRY with a 255-byte name. */
#define VBRIDGE_EVENT_BUF_SIZE		512

struct vbridge_event_hdr {
	__le32 type;		/* enum vbridge_event_type */
	__le32 len;		/* header plus payload, in bytes */
};

struct vbridge_event_test {
	struct vbridge_event_hdr hdr;
	__le64 cookie;
};

/*
 * Filesystem requests (VBRIDGE_F_FS).
 *
 * The device names every file it has handed out by a 64-bit node id;
 * node ids are never reused while the driver holds a lookup count on
 * them.  Every LOOKUP, MOUNT, CREATE, MKNOD, MKDIR, SYMLINK, LINK,
 * TMPFILE reply and every READDIR record that returns a node adds one
 * to its lookup count, and FORGET subtracts.  Open files and directories are
 * named by a 64-bit handle (fh) from OPEN, OPENDIR, CREATE or TMPFILE,
 * valid until RELEASE.
 *
 * Each filesystem request starts with struct vbridge_fs_in right after
 * the common header, then the opcode's own structure, then names and
 * data.  Names are 1..VBRIDGE_FS_NAME_MAX bytes with no '/' and no NUL,
 * never "." or "..", and are not NUL-terminated on the wire.
 */
#define VBRIDGE_FS_NAME_MAX		255
#define VBRIDGE_FS_PATH_MAX		4096
#define VBRIDGE_FS_XATTR_NAME_MAX	255
#define VBRIDGE_FS_XATTR_SIZE_MAX	65536
/*
 * Supplementary groups sent with each request.  A caller in more groups
 * is checked by the device with the first VBRIDGE_FS_GROUPS_MAX only, so
 * it may be refused what the guest allowed, never granted more.
 */
#define VBRIDGE_FS_GROUPS_MAX		32

/* Prefix of every filesystem request. */
struct vbridge_fs_in {
	/* inode the request is about (the parent for name operations) */
	__le64 nodeid;
	__le64 fh;		/* open handle, for the opcodes that take one */
	__le32 uid;		/* caller's fsuid and fsgid: owner of new */
	__le32 gid;		/* nodes, and whose access the device checks */
	__le32 pid;		/* caller's tgid, for locks */
	__le32 ngroups;		/* valid entries in groups[] */
	/* caller's supplementary groups, the rest zero */
	__le32 groups[VBRIDGE_FS_GROUPS_MAX];
};

struct vbridge_fs_attr {
	__le64 ino;
	__le64 size;
	__le64 blocks;		/* 512-byte units */
	__le64 atime;
	__le64 mtime;
	__le64 ctime;
	__le32 atimensec;
	__le32 mtimensec;
	__le32 ctimensec;
	__le32 mode;
	__le32 nlink;
	__le32 uid;
	__le32 gid;
	__le32 rdev;		/* new_encode_dev() */
	__le32 blksize;
	/*
	 * The host filesystem the inode lives on: 0 for the export's own
	 * filesystem, 1..VBRIDGE_FS_DEVIDX_MAX for each other filesystem
	 * mounted below the export, stable for the life of the connection.
	 * The driver gives each its own st_dev.  A device that runs out of
	 * indexes answers VBRIDGE_FS_DEVIDX_MAX for every further
	 * filesystem, which then share one st_dev.
	 */
	__le32 devidx;
};

#define VBRIDGE_FS_DEVIDX_MAX		64

struct vbridge_fs_entry_out {
	__le64 nodeid;
	__le64 generation;
	__le64 entry_valid_ns;	/* how long the name may be cached */
	__le64 attr_valid_ns;	/* how long the attributes may be cached */
	struct vbridge_fs_attr attr;
};

struct vbridge_fs_attr_out {
	__le64 attr_valid_ns;
	struct vbridge_fs_attr attr;
};

/* VBRIDGE_OP_FS_MOUNT: which export; answered with the root's entry. */
struct vbridge_fs_mount_in {
	__u8 tag[VBRIDGE_TAG_LEN];	/* NUL-padded, as in the config */
	__le32 flags;			/* none defined yet, must be zero */
};

/* Operations that name one child of fs_in.nodeid; the name follows. */
struct vbridge_fs_name_in {
	__le32 namelen;
	__le32 padding;
};

/* VBRIDGE_OP_FS_FORGET: drop nlookup lookups of fs_in.nodeid; no reply payload. */
struct vbridge_fs_forget_in {
	__le64 nlookup;
};

/*
 * VBRIDGE_OP_FS_BATCH_FORGET: count struct vbridge_fs_forget_one follow,
 * each a FORGET of its own; fs_in.nodeid names any node the driver
 * holds a lookup of (the export's root).  Unknown node ids are skipped.
 * No reply payload.
 */
struct vbridge_fs_batch_forget_in {
	__le32 count;
	__le32 padding;
};

struct vbridge_fs_forget_one {
	__le64 nodeid;
	__le64 nlookup;
};

/*
 * Sealed node handles (VBRIDGE_F_FS_HANDLES).  GET_HANDLE answers with
 * the handle of fs_in.nodeid: len bytes (1..VBRIDGE_FS_HANDLE_MAX) the
 * driver keeps and never interprets; -EOPNOTSUPP for a node that has
 * none.  The device authenticates them with a key that outlives it, so
 * that a later backend on the same exports accepts them.
 * RESOLVE takes one such handle and answers with the entry of its node
 * (one lookup), as LOOKUP does; fs_in.nodeid names a directory of the
 * same export where the driver last saw the node (its parent, or the
 * root).  -ESTALE when the handle is not the device's, the file is gone
 * or it cannot be shown to be inside the export any more.
 */
#define VBRIDGE_FS_HANDLE_MAX		192

struct vbridge_fs_handle {
	__le32 len;
	__le32 padding;
	__u8 data[VBRIDGE_FS_HANDLE_MAX];
};

/* VBRIDGE_OP_FS_SETATTR: fields selected by valid. */
#define VBRIDGE_FS_SET_MODE		(1 << 0)
#define VBRIDGE_FS_SET_UID		(1 << 1)
#define VBRIDGE_FS_SET_GID		(1 << 2)
#define VBRIDGE_FS_SET_SIZE		(1 << 3)
#define VBRIDGE_FS_SET_ATIME		(1 << 4)
#define VBRIDGE_FS_SET_MTIME		(1 << 5)
#define VBRIDGE_FS_SET_ATIME_NOW	(1 << 6)
#define VBRIDGE_FS_SET_MTIME_NOW	(1 << 7)
#define VBRIDGE_FS_SET_FH		(1 << 8)	/* use fs_in.fh */
/*
 * Clear the setuid bit, and the setgid bit, of a regular file as a
 * write by the caller does: the caller needs write access to the file,
 * not ownership.  The device clears them from the file's current mode.
 */
#define VBRIDGE_FS_SET_KILL_SUID	(1 << 9)
#define VBRIDGE_FS_SET_KILL_SGID	(1 << 10)

struct vbridge_fs_setattr_in {
	__le32 valid;
	__le32 mode;
	__le32 uid;
	__le32 gid;
	__le64 size;
	__le64 atime;
	__le64 mtime;
	__le32 atimensec;
	__le32 mtimensec;
};

/* VBRIDGE_OP_FS_MKNOD, VBRIDGE_OP_FS_MKDIR: the name follows. */
struct vbridge_fs_mknod_in {
	__le32 mode;		/* with the file type; umask already applied */
	__le32 rdev;		/* new_encode_dev(), MKNOD only */
	__le32 namelen;
	__le32 padding;
};

/* VBRIDGE_OP_FS_SYMLINK: the name, then the target (no NUL). */
struct vbridge_fs_symlink_in {
	__le32 namelen;
	__le32 targetlen;	/* 1..VBRIDGE_FS_PATH_MAX - 1 */
};

/* VBRIDGE_OP_FS_LINK: fs_in.nodeid is the existing inode; the name follows. */
struct vbridge_fs_link_in {
	__le64 newparent;
	__le32 namelen;
	__le32 padding;
};

/* VBRIDGE_OP_FS_RENAME: the old name, then the new one. */
#define VBRIDGE_FS_RENAME_NOREPLACE	(1 << 0)
#define VBRIDGE_FS_RENAME_EXCHANGE	(1 << 1)
#define VBRIDGE_FS_RENAME_WHITEOUT	(1 << 2)

struct vbridge_fs_rename_in {
	__le64 newparent;
	__le32 flags;
	__le32 oldnamelen;
	__le32 newnamelen;
	__le32 padding;
};

/*
 * VBRIDGE_OP_FS_OPEN, VBRIDGE_OP_FS_OPENDIR: open fs_in.nodeid.
 * VBRIDGE_OP_FS_CREATE: create and open a child (the name follows);
 * VBRIDGE_OP_FS_TMPFILE: an unnamed file in fs_in.nodeid.  Both are
 * answered with an entry followed by the open reply.
 * flags are Linux open(2) flags as on x86 (O_ACCMODE, O_APPEND,
 * O_TRUNC, O_EXCL, O_DIRECT, O_SYNC...); O_CREAT is implied by CREATE.
 */
struct vbridge_fs_open_in {
	__le32 flags;
	__le32 mode;		/* CREATE/TMPFILE: umask already applied */
	__le32 namelen;		/* CREATE only */
	__le32 padding;
};

/* The device may only be read and written with page-aligned O_DIRECT. */
#define VBRIDGE_FS_OPEN_DIRECT_IO	(1 << 0)
/* Keep the page cache from before this open: nothing changed. */
#define VBRIDGE_FS_OPEN_KEEP_CACHE	(1 << 1)

struct vbridge_fs_open_out {
	__le64 fh;
	__le32 open_flags;	/* VBRIDGE_FS_OPEN_* */
	__le32 padding;
};

/*
 * VBRIDGE_OP_FS_READ: up to size bytes at offset, as the reply payload.
 * VBRIDGE_OP_FS_READDIR: entries from the position offset (0 = start; then
 * any vbridge_fs_dirent.off), packed into at most size bytes.
 */
struct vbridge_fs_read_in {
	__le64 offset;
	__le32 size;
	__le32 padding;
};

/* VBRIDGE_OP_FS_WRITE: size bytes of data follow. */
struct vbridge_fs_write_in {
	__le64 offset;
	__le32 size;
	__le32 flags;		/* VBRIDGE_FS_WRITE_* */
};

/*
 * Write at the device's end of file, atomically (O_APPEND), whatever
 * the offset says.
 */
#define VBRIDGE_FS_WRITE_APPEND		(1 << 0)

struct vbridge_fs_write_out {
	__le32 size;		/* bytes written */
	__le32 padding;
};

/*
 * One READDIR record: the entry (nodeid 0 when the device does not hand
 * out a lookup for it, e.g. "." and ".."), the position after this
 * record, the name, then padding to 8 bytes.  A non-zero nodeid counts
 * as a lookup.
 */
struct vbridge_fs_dirent {
	struct vbridge_fs_entry_out entry;
	__le64 off;
	__le32 namelen;
	__le32 type;		/* DT_* */
	char name[];
};

#define VBRIDGE_FS_DIRENT_SIZE(namelen) \
	((sizeof(struct vbridge_fs_dirent) + (namelen) + 7) & ~7UL)

/*
 * One VBRIDGE_OP_FS_READDIR_NAMES record (2.4): as READDIR's, but only the
 * entry's inode number (the host directory's, as getdents(2) gives it:
 * that of a lookup but for a mount point), the position after it and its
 * name, then padding to 8 bytes; it holds no lookup.  The request is
 * READDIR's (struct vbridge_fs_read_in), and positions are common to
 * both: a listing may switch between them.
 */
struct vbridge_fs_dirent_name {
	__le64 ino;
	__le64 off;
	__le32 namelen;
	__le32 type;		/* DT_* */
	char name[];
};

#define VBRIDGE_FS_DIRENT_NAME_SIZE(namelen) \
	((sizeof(struct vbridge_fs_dirent_name) + (namelen) + 7) & ~7UL)

/* VBRIDGE_OP_FS_FSYNC, VBRIDGE_FS_FSYNCDIR */
#define VBRIDGE_FS_FSYNC_DATASYNC	(1 << 0)

struct vbridge_fs_fsync_in {
	__le32 flags;
	__le32 padding;
};

/* VBRIDGE_OP_FS_FLUSH: a close of a file descriptor of fs_in.fh. */
struct vbridge_fs_flush_in {
	__le64 lock_owner;
};

struct vbridge_fs_statfs_out {
	__le64 blocks;
	__le64 bfree;
	__le64 bavail;
	__le64 files;
	__le64 ffree;
	__le32 bsize;
	__le32 namelen;
	__le32 frsize;
	__le32 padding;
};

/*
 * Extended attributes.  GETXATTR and LISTXATTR with size 0 answer
 * with vbridge_fs_xattr_out (the size needed); otherwise the value or
 * the NUL-separated list is the reply payload, -ERANGE if larger than
 * size.  The attribute name follows the structure (no NUL).  LISTXATTR
 * takes vbridge_fs_getxattr_in with namelen 0, REMOVEXATTR takes
 * vbridge_fs_name_in and the name.
 */
struct vbridge_fs_getxattr_in {
	__le32 size;
	__le32 namelen;
};

struct vbridge_fs_xattr_out {
	__le32 size;
	__le32 padding;
};

/* VBRIDGE_OP_FS_SETXATTR: the name, then size bytes of value. */
struct vbridge_fs_setxattr_in {
	__le32 size;
	__le32 flags;		/* XATTR_CREATE, XATTR_REPLACE */
	__le32 namelen;
	__le32 padding;
};

/* VBRIDGE_OP_FS_FALLOCATE: mode as fallocate(2). */
struct vbridge_fs_fallocate_in {
	__le64 offset;
	__le64 length;
	__le32 mode;
	__le32 padding;
};

/* VBRIDGE_OP_FS_LSEEK: SEEK_DATA or SEEK_HOLE. */
struct vbridge_fs_lseek_in {
	__le64 offset;
	__le32 whence;
	__le32 padding;
};

struct vbridge_fs_lseek_out {
	__le64 offset;
};

/* VBRIDGE_OP_FS_COPY_FILE_RANGE: from fs_in.fh to fh_out, on the host. */
struct vbridge_fs_copy_range_in {
	__le64 off_in;
	__le64 nodeid_out;
	__le64 fh_out;
	__le64 off_out;
	__le64 len;
	__le32 flags;		/* must be zero */
	__le32 padding;
};

struct vbridge_fs_copy_range_out {
	__le64 size;		/* bytes copied */
};

/*
 * Locks on fs_in.fh.  POSIX locks are owned by (owner, pid), OFD locks
 * by the open file description (owner), BSD locks by the open file
 * (owner); the device takes the same kind of lock on the host file, so
 * guest locks conflict with host locks and other guests' locks.
 * GETLK answers with the conflicting lock, or type F_UNLCK.  SETLKW may
 * be answered with -EAGAIN while the lock is held elsewhere: the driver
 * then waits a little (backing off) and sends it again, unless the
 * caller has a signal pending.  A device should answer at once rather
 * than wait for the lock: the request that frees it may be queued
 * behind.
 */
#define VBRIDGE_FS_LK_POSIX		0
#define VBRIDGE_FS_LK_OFD		1
#define VBRIDGE_FS_LK_FLOCK		2

struct vbridge_fs_lock {
	__le64 start;
	__le64 end;		/* inclusive; ~0 for "to the end" */
	__le32 type;		/* F_RDLCK, F_WRLCK, F_UNLCK */
	__le32 pid;
};

struct vbridge_fs_lock_in {
	__le64 owner;
	struct vbridge_fs_lock lk;
	__le32 kind;		/* VBRIDGE_FS_LK_* */
	__le32 padding;
};

struct vbridge_fs_lock_out {
	struct vbridge_fs_lock lk;
};

/*
 * Filesystem events (eventq): the host saw the file change.
 * INVAL_INODE: drop cached attributes and data of nodeid (len 0 = all
 * data from offset).  INVAL_ENTRY: drop the dentry name in parent.
 * INVAL_ALL (header only): changes were lost; drop everything cached
 * of every mount of the device.
 * INVAL_EXPORT (VBRIDGE_F_FS_COHERENT): changes to one export were lost;
 * drop every cached name, attribute and clean page of the mounts whose
 * root is root (the node id MOUNT answered for that export).
 */
struct vbridge_event_fs_inval_inode {
	struct vbridge_event_hdr hdr;
	__le64 nodeid;
	__le64 offset;
	__le64 len;
};

struct vbridge_event_fs_inval_entry {
	struct vbridge_event_hdr hdr;
	__le64 parent;
	__le32 namelen;
	__le32 padding;
	char name[];
};

struct vbridge_event_fs_inval_export {
	struct vbridge_event_hdr hdr;
	__le64 root;
};

/*
 * Display requests (VBRIDGE_F_DISPLAY).
 *
 * The framebuffer stays in guest memory: the driver registers a buffer's
 * pages once with RESOURCE_CREATE (guest-physical address ranges), points
 * a scanout at it with SET_SCANOUT and reports damaged rectangles with
 * FLUSH; the device reads the pixels straight from guest memory.  Pixel
 * formats are DRM fourcc codes (DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888
 * at least).  Resource ids are chosen by the driver, 0 is "none".
 */
#define VBRIDGE_DISPLAY_MAX_SCANOUTS	16
#define VBRIDGE_DISPLAY_MAX_DIM		16384

struct vbridge_display_mode {
	__le32 enabled;		/* a head is connected */
	__le32 width;		/* preferred mode */
	__le32 height;
	__le32 padding;
};

/* VBRIDGE_OP_DISPLAY_GET_INFO reply: one entry per scanout. */
#define VBRIDGE_DISPLAY_F_CURSOR	(1 << 0)	/* CURSOR is supported */

struct vbridge_display_info_out {
	__le32 num_scanouts;
	__le32 flags;		/* VBRIDGE_DISPLAY_F_* */
	struct vbridge_display_mode modes[VBRIDGE_DISPLAY_MAX_SCANOUTS];
};

struct vbridge_display_mem_entry {
	__le64 addr;		/* guest-physical */
	__le32 length;
	__le32 padding;
};

/*
 * VBRIDGE_OP_DISPLAY_RESOURCE_CREATE: nr_entries memory entries follow;
 * together they cover at least stride * height bytes.
 */
struct vbridge_display_create_in {
	__le32 resource_id;
	__le32 format;		/* DRM fourcc */
	__le32 width;
	__le32 height;
	__le32 stride;		/* bytes per line */
	__le32 nr_entries;
};

struct vbridge_display_resource_in {
	__le32 resource_id;
	__le32 padding;
};

struct vbridge_display_rect {
	__le32 x;
	__le32 y;
	__le32 width;
	__le32 height;
};

/*
 * VBRIDGE_OP_DISPLAY_SET_SCANOUT: show rect of resource_id on
 * scanout_id (resource_id 0 disables the scanout).
 */
struct vbridge_display_set_scanout_in {
	__le32 scanout_id;
	__le32 resource_id;
	struct vbridge_display_rect rect;
};

/* VBRIDGE_OP_DISPLAY_FLUSH: nr_rects damaged rectangles follow. */
struct vbridge_display_flush_in {
	__le32 resource_id;
	__le32 nr_rects;
};

/* VBRIDGE_OP_DISPLAY_CURSOR: resource_id 0 hides the cursor. */
struct vbridge_display_cursor_in {
	__le32 scanout_id;
	__le32 resource_id;	/* 64x64 ARGB8888 */
	__le32 hot_x;
	__le32 hot_y;
	__le32 x;
	__le32 y;
};

/* The host resized or (dis)connected scanout_id: re-read GET_INFO. */
struct vbridge_event_display_changed {
	struct vbridge_event_hdr hdr;
	__le32 scanout_id;
	__le32 padding;
};

/*
 * The same requests over a byte stream (e.g. a virtio-serial port), for
 * the userspace bridge (ubridge).  Every frame starts with
 * struct vbridge_stream_hdr; len bytes follow it:
 *   REQUEST  struct vbridge_req_hdr and the input payload, as on a
 *            request queue; room is the most bytes the reply may have
 *            (struct vbridge_resp_hdr included), as the writable buffer
 *            of a request queue.
 *   REPLY    struct vbridge_resp_hdr and the output payload, at most
 *            the request's room; room is zero.
 *   EVENT    one event as on the event queue; room is zero.
 * Both lengths are at most the max_req_size negotiated by INIT
 * (VBRIDGE_MIN_REQ_SIZE before it).  A malformed frame ends the
 * connection.  Requests may be answered in any order.
 */
enum vbridge_stream_type {
	VBRIDGE_STREAM_REQUEST		= 1,
	VBRIDGE_STREAM_REPLY		= 2,
	VBRIDGE_STREAM_EVENT		= 3,
};

struct vbridge_stream_hdr {
	__le32 type;		/* enum vbridge_stream_type */
	__le32 len;		/* bytes after this header */
	__le32 room;		/* REQUEST: room for the reply */
	__le32 padding;
};

/*
 * Guest driver control node, /dev/vbridgeN: device information and the
 * debug requests, for tests and benchmarks.  Not part of the wire
 * protocol; native endianness.
 */
struct vbridge_ioc_info {
	__u64 features;			/* negotiated virtio features */
	__u16 major;			/* negotiated protocol version */
	__u16 minor;
	__u32 num_request_queues;	/* queues the driver uses */
	__u32 max_req_size;
	__u32 max_inflight;
	__u32 num_tags;
	__u32 num_scanouts;
	__u32 display_width;
	__u32 display_height;
	char tags[VBRIDGE_MAX_TAGS][VBRIDGE_TAG_LEN + 1];
	__u8 padding[2];
};

struct vbridge_ioc_echo {
	__u64 in_ptr;		/* user buffer sent as ECHO payload */
	__u64 out_ptr;		/* user buffer receiving the echoed payload */
	__u32 len;		/* bytes in both buffers */
	__u32 out_len;		/* set by the driver: bytes echoed back */
};

struct vbridge_ioc_event_test {
	__u64 cookie;		/* sent to the device */
	__u32 timeout_ms;	/* how long to wait for the event */
	__u32 padding;
};

#define VBRIDGE_IOC_MAGIC		0xbb
#define VBRIDGE_IOC_GET_INFO	_IOR(VBRIDGE_IOC_MAGIC, 0, struct vbridge_ioc_info)
#define VBRIDGE_IOC_PING	_IO(VBRIDGE_IOC_MAGIC, 1)
#define VBRIDGE_IOC_ECHO	_IOWR(VBRIDGE_IOC_MAGIC, 2, struct vbridge_ioc_echo)
#define VBRIDGE_IOC_EVENT_TEST	_IOW(VBRIDGE_IOC_MAGIC, 3, struct vbridge_ioc_event_test)

#endif /* _UAPI_LINUX_VBRIDGE_H */
