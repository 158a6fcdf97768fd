/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ubridge: the userspace bridge.  A FUSE daemon in the guest that sends
 * the vbridge filesystem requests over a virtio-serial port, framed as
 * struct vbridge_stream_hdr, to vbridged --serial-socket.
 */
#ifndef UBRIDGE_H
#define UBRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

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
 * INIT: negotiate the protocol; *max_req is the request size agreed.
 * Before ubr_chan_start() calls are answered on the calling thread.
 */
int ubr_chan_init(struct ubr_chan *ch, uint32_t *max_req);
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

#endif /* UBRIDGE_H */
