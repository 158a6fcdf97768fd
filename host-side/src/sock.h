/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unix socket helpers shared by the vhost-user and control sockets.
 */
#ifndef VBD_SOCK_H
#define VBD_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * A Unix stream socket listening on path, mode 0600 from the start
 * whatever the umask; a stale socket there is replaced, anything else
 * is left alone.  -1 after logging why, naming the option opt.
 */
int vbd_listen_unix(const char *path, const char *opt, int backlog);

/* The most descriptors one message may carry, to or from us. */
#define VBD_RECV_MAX_FDS	16

/*
 * sendmsg() of iov[cnt] with the nfds descriptors fds attached (none if
 * nfds is 0): the bytes sent, or -errno (-EINVAL beyond
 * VBD_RECV_MAX_FDS).
 */
ssize_t vbd_send_fds(int sock, const struct iovec *iov, unsigned int cnt,
		     const int *fds, unsigned int nfds);

/*
 * recvmsg() on sock into buf, with the descriptors passed alongside: the
 * first max of them go to fds[] (*nfds says how many), any further ones
 * are closed.  Returns the bytes received, or -errno (EINTR is retried).
 * *lost says whether descriptors were closed or did not fit the control
 * buffer: the caller decides whether that is an error.
 */
ssize_t vbd_recv_fds(int sock, void *buf, size_t len, int *fds,
		     unsigned int max, unsigned int *nfds, bool *lost);

#endif /* VBD_SOCK_H */
