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
 *        requests, config space with tags and display geometry.
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

#define VBRIDGE_PROTO_MAJOR		1
#define VBRIDGE_PROTO_MINOR		0
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
	__le32 padding;
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
	/* 0x0200 - 0x02ff: display (VBRIDGE_F_DISPLAY) */
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
};

#define VBRIDGE_EVENT_BUF_SIZE		256

struct vbridge_event_hdr {
	__le32 type;		/* enum vbridge_event_type */
	__le32 len;		/* header plus payload, in bytes */
};

struct vbridge_event_test {
	struct vbridge_event_hdr hdr;
	__le64 cookie;
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
