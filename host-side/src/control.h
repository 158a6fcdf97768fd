/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket: a Unix stream socket taking one-line commands
 * from the host administrator (vbridgectl), about the display.
 */
#ifndef VBD_CONTROL_H
#define VBD_CONTROL_H

#include "display.h"

/* Longest command line, newline included. */
#define VBD_CONTROL_LINE_MAX	4352

struct vbd_control;

/*
 * Listen on path, created 0600 (replacing a stale socket), and serve
 * it from a thread of its own.  NULL after logging why not.
 */
struct vbd_control *vbd_control_new(const char *path, struct vbd_display *d);
/* The same in two steps, for the sandbox: listen, then serve d. */
struct vbd_control *vbd_control_listen(const char *path);
int vbd_control_start(struct vbd_control *c, struct vbd_display *d);
/* Stop serving and remove the socket. */
void vbd_control_free(struct vbd_control *c);

/*
 * Run one command line (no newline, modified in place) as a client's,
 * with fd passed along (or -1); the answer goes to reply.  The seam the
 * fuzzer uses: no socket needed.
 */
void vbd_control_command(struct vbd_display *d, char *line, int fd,
			 char *reply, size_t size);

#endif /* VBD_CONTROL_H */
