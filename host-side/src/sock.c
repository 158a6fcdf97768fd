// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unix socket helpers shared by the vhost-user and control sockets.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "log.h"
#include "sock.h"

int vbd_listen_unix(const char *path, const char *opt, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t mask;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s %s: path too long", opt, path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s %s: exists and is not a socket", opt, path);
			return -1;
		}
		if (unlink(path) < 0) {
			log_err("%s %s: cannot remove the old socket: %s",
				opt, path, strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("socket: %s", strerror(errno));
		return -1;
	}
	/* 0600 from the start: no window for others to connect. */
	mask = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(mask);
	if (r < 0 || listen(fd, backlog) < 0) {
		log_err("%s %s: %s", opt, path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

ssize_t vbd_recv_fds(int sock, void *buf, size_t len, int *fds,
		     unsigned int max, unsigned int *nfds, bool *lost)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VBD_RECV_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*nfds = 0;
	*lost = false;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t i, cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (*nfds < max) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				*lost = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		*lost = true;
	return n;
}

ssize_t vbd_send_fds(int sock, const struct iovec *iov, unsigned int cnt,
		     const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VBD_RECV_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr mh = {
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = cnt,
	};
	struct cmsghdr *cm;
	ssize_t n;

	if (nfds > VBD_RECV_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}
