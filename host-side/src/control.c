// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control socket.  Each command is one line, answered by one line:
 *
 *   info                        ok scanouts=N 0:mode=WxH,fb=WxH|off ...
 *   screenshot SCANOUT FILE     ok                 (PNG)
 *   dump SCANOUT FILE           ok WIDTH HEIGHT    (raw XRGB8888 rows)
 *   resize SCANOUT WIDTH HEIGHT ok
 *
 * or "error MESSAGE".  FILE is the rest of the line: "-" for a file the
 * client opened itself and passed along with the line (SCM_RIGHTS, as
 * vbridgectl does; the only way once the daemon is sandboxed), else a
 * path the daemon creates: 0600, never over an existing file or through
 * a symbolic link.  The socket is only for the daemon's own user (mode 0600
 * and a peer credential check), but its lines are checked all the same.
 * Clients are served one at a time; an idle one is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"
#include "log.h"
#include "output.h"
#include "sock.h"

#define CLIENT_IDLE_MS	10000

struct vbd_control {
	/* Immutable; the thread owns the sockets while it runs. */
	struct vbd_display *display;
	char *path;
	int dir_fd;		/* O_PATH of path's directory, for unlinkat */
	char *name;		/* path's last component */
	int listen_fd;
	int stop_fd;
	bool started;		/* the thread exists */
	pthread_t thread;
};

static int parse_u32(const char *s, uint32_t *v)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || n > UINT32_MAX)
		return -EINVAL;
	*v = n;
	return 0;
}

/* "SCANOUT REST": REST is everything after the first space. */
static int split_scanout(char *args, uint32_t *scanout, char **rest)
{
	char *sp = args ? strchr(args, ' ') : NULL;

	if (!sp || !sp[1])
		return -EINVAL;
	*sp = '\0';
	*rest = sp + 1;
	return parse_u32(args, scanout);
}

static void cmd_info(struct vbd_display *d, char *reply, size_t size)
{
	unsigned int i, n = vbd_display_num_scanouts(d);
	size_t len;

	len = snprintf(reply, size, "ok scanouts=%u", n);
	for (i = 0; i < n && len < size; i++) {
		struct vbd_scanout_info si;

		vbd_display_scanout_info(d, i, &si);
		if (si.resource_id)
			len += snprintf(reply + len, size - len, " %u:mode=%ux%u,fb=%ux%u",
					i, si.mode_width, si.mode_height,
					si.width, si.height);
		else
			len += snprintf(reply + len, size - len, " %u:mode=%ux%u,fb=off",
					i, si.mode_width, si.mode_height);
	}
}

static int cmd_capture(struct vbd_display *d, char *args, bool png, int fd,
		       char *reply, size_t size)
{
	struct vbd_image img;
	uint32_t scanout;
	char *path;
	int err;

	err = split_scanout(args, &scanout, &path);
	if (err)
		return err;
	if (strcmp(path, "-"))
		fd = -1;
	else if (fd < 0)
		return -EBADF;
	err = vbd_display_capture(d, scanout, &img);
	if (err)
		return err;
	if (png)
		err = vbd_image_write_png(&img, path, fd);
	else
		err = vbd_image_write_raw(&img, path, fd);
	if (!err && !png)
		snprintf(reply, size, "ok %u %u", img.width, img.height);
	free(img.pixels);
	return err;
}

static int cmd_resize(struct vbd_display *d, char *args)
{
	uint32_t scanout, width, height;
	char *rest, *h;

	if (split_scanout(args, &scanout, &rest))
		return -EINVAL;
	h = strchr(rest, ' ');
	if (!h)
		return -EINVAL;
	*h++ = '\0';
	if (parse_u32(rest, &width) || parse_u32(h, &height))
		return -EINVAL;
	return vbd_display_set_mode(d, scanout, width, height);
}

/*
 * Run line (without its newline); reply gets the answer, ditto.  fd: a
 * file descriptor that came with it, or -1.
 */
static void run_command(struct vbd_display *d, char *line, int fd, char *reply,
			size_t size)
{
	char *args = strchr(line, ' ');
	int err;

	if (args)
		*args++ = '\0';
	snprintf(reply, size, "ok");
	if (!strcmp(line, "info") && !args) {
		cmd_info(d, reply, size);
		return;
	} else if (!strcmp(line, "screenshot")) {
		err = cmd_capture(d, args, true, fd, reply, size);
	} else if (!strcmp(line, "dump")) {
		err = cmd_capture(d, args, false, fd, reply, size);
	} else if (!strcmp(line, "resize")) {
		err = cmd_resize(d, args);
	} else {
		snprintf(reply, size, "error unknown command");
		return;
	}
	if (err == -ENODATA)
		snprintf(reply, size, "error scanout disabled");
	else if (err == -EAGAIN)
		snprintf(reply, size, "error event queue full");
	else if (err)
		snprintf(reply, size, "error %s", strerror(-err));
}

void vbd_control_command(struct vbd_display *d, char *line, int fd,
			 char *reply, size_t size)
{
	run_command(d, line, fd, reply, size);
}

static bool send_line(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		s += n;
		len -= n;
	}
	return send(fd, "\n", 1, MSG_NOSIGNAL) == 1;
}

/* Receive into buf; a passed file descriptor replaces *fd. */
static ssize_t recv_fd(int sock, char *buf, size_t len, int *fd)
{
	int fds[VBD_RECV_MAX_FDS];
	unsigned int i, nfds;
	bool lost;
	ssize_t n;

	n = vbd_recv_fds(sock, buf, len, fds, VBD_RECV_MAX_FDS, &nfds, &lost);
	for (i = 0; i < nfds; i++) {
		if (*fd >= 0)
			close(*fd);
		*fd = fds[i];
	}
	return n;
}

/* Serve one client until it leaves, idles, misbehaves or we stop. */
static void serve_client(struct vbd_control *c, int fd)
{
	struct pollfd pfd[2] = {
		{ .fd = c->stop_fd, .events = POLLIN },
		{ .fd = fd, .events = POLLIN },
	};
	char buf[VBD_CONTROL_LINE_MAX], reply[1024];
	size_t len = 0;
	int passed = -1;

	for (;;) {
		char *nl = memchr(buf, '\n', len);
		ssize_t n;

		if (nl) {
			*nl = '\0';
			run_command(c->display, buf, passed, reply, sizeof(reply));
			/* A passed file is for the line it came with. */
			if (passed >= 0)
				close(passed);
			passed = -1;
			if (!send_line(fd, reply))
				break;
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len);
			continue;
		}
		if (len == sizeof(buf)) {
			send_line(fd, "error line too long");
			break;
		}
		if (poll(pfd, 2, CLIENT_IDLE_MS) <= 0 || pfd[0].revents)
			break;
		n = recv_fd(fd, buf + len, sizeof(buf) - len, &passed);
		if (n <= 0)
			break;
		len += n;
	}
	if (passed >= 0)
		close(passed);
}

static void *control_thread(void *arg)
{
	struct vbd_control *c = arg;
	struct pollfd pfd[2] = {
		{ .fd = c->stop_fd, .events = POLLIN },
		{ .fd = c->listen_fd, .events = POLLIN },
	};

	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int fd;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (!pfd[1].revents)
			continue;
		fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* The mode already keeps others out; be sure. */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
		    (cred.uid != geteuid() && cred.uid != 0))
			send_line(fd, "error permission denied");
		else
			serve_client(c, fd);
		close(fd);
	}
	return NULL;
}

struct vbd_control *vbd_control_listen(const char *path)
{
	struct vbd_control *c = calloc(1, sizeof(*c));
	char *dir, *slash;

	if (!c)
		return NULL;
	c->stop_fd = -1;
	c->dir_fd = -1;
	c->path = strdup(path);
	dir = strdup(path);
	if (!c->path || !dir)
		goto fail;
	/* The sandbox may hide path: remove the socket by its directory. */
	slash = strrchr(dir, '/');
	c->name = strdup(slash ? slash + 1 : dir);
	if (slash)
		slash[slash == dir] = '\0';
	c->dir_fd = open(slash ? dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	dir = NULL;
	if (!c->name || c->dir_fd < 0) {
		log_err("--control-socket %s: %s", path, strerror(errno));
		goto fail;
	}
	c->listen_fd = vbd_listen_unix(path, "--control-socket", 4);
	if (c->listen_fd < 0)
		goto fail;
	return c;
fail:
	free(dir);
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	free(c->name);
	free(c->path);
	free(c);
	return NULL;
}

int vbd_control_start(struct vbd_control *c, struct vbd_display *d)
{
	int err;

	c->display = d;
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_fd < 0) {
		log_err("eventfd: %s", strerror(errno));
		return -1;
	}
	err = pthread_create(&c->thread, NULL, control_thread, c);
	if (err) {
		log_err("control socket: cannot create thread: %s", strerror(err));
		return -1;
	}
	c->started = true;
	return 0;
}

struct vbd_control *vbd_control_new(const char *path, struct vbd_display *d)
{
	struct vbd_control *c = vbd_control_listen(path);

	if (c && vbd_control_start(c, d)) {
		vbd_control_free(c);
		return NULL;
	}
	return c;
}

void vbd_control_free(struct vbd_control *c)
{
	static const uint64_t one = 1;

	if (c->started) {
		if (write(c->stop_fd, &one, sizeof(one)) != sizeof(one))
			abort();	/* eventfd: cannot fail below its maximum */
		pthread_join(c->thread, NULL);
	}
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	close(c->listen_fd);
	unlinkat(c->dir_fd, c->name, 0);
	close(c->dir_fd);
	free(c->name);
	free(c->path);
	free(c);
}
