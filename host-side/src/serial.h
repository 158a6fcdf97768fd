/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stream transport: vbridge requests framed over a byte stream
 * (struct vbridge_stream_hdr), here a Unix socket that QEMU connects to
 * as the chardev of a virtio-serial port.  It serves the userspace
 * bridge (tools/ubridge) with the same device logic as the virtqueues.
 */
#ifndef VBD_SERIAL_H
#define VBD_SERIAL_H

#include "device.h"
#include "fs.h"
#include "share.h"

/* Worker threads per connection: requests are served in parallel. */
#define VBD_SERIAL_WORKERS	8

struct vbd_serial_conn;

/*
 * A connection with its own device over store (which the caller keeps
 * until the connection is freed) and fs opts, served by nworkers
 * threads.  NULL after logging why not.
 */
struct vbd_serial_conn *vbd_serial_conn_new(const struct vbd_store *store,
					    const struct vbd_fs_opts *opts,
					    unsigned int nworkers);
/* Serve the connected stream socket fd, which the connection then owns. */
int vbd_serial_conn_start(struct vbd_serial_conn *conn, int fd);
/*
 * Wait until the connection ends: 0 when the peer closed it between
 * frames, -EPROTO after a malformed frame, -EIO on a stream error.
 */
int vbd_serial_conn_wait(struct vbd_serial_conn *conn);
/* End the connection (if it still runs), wait for its threads, free it. */
void vbd_serial_conn_free(struct vbd_serial_conn *conn);

/* A listening socket with its own device over store: vbridged --serial-socket. */
struct vbd_serial;

/*
 * Listen on the Unix socket path (a stale socket there is replaced) and
 * serve the first connection in the background.  NULL after logging
 * why not.
 */
struct vbd_serial *vbd_serial_new(const char *path,
				  const struct vbd_store *store,
				  const struct vbd_fs_opts *opts);
/*
 * The same in two steps, for the sandbox: listen while the path can be
 * reached (no thread yet), then start the device and the thread that
 * serves the first connection (0, or -1 after logging why not).
 */
struct vbd_serial *vbd_serial_listen(const char *path);
int vbd_serial_start(struct vbd_serial *s, const struct vbd_store *store,
		     const struct vbd_fs_opts *opts);
/* Wait for the connection to come and end; as vbd_serial_conn_wait(). */
int vbd_serial_wait(struct vbd_serial *s);
/* Stop listening or serving, and free everything. */
void vbd_serial_free(struct vbd_serial *s);

#endif /* VBD_SERIAL_H */
