// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The stream transport (struct vbridge_stream_hdr frames on a socket).
 *
 * Workers take turns reading one whole request frame (rd_lock), then
 * handle it in parallel through vbd_device_handle() and write the reply
 * frame in one piece (wr_lock), so the guest daemon's threads get
 * parallelism and replies may overtake each other.  A malformed frame
 * or a stream error ends the connection through conn_end(), which shuts
 * the socket down so that every worker stops.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <linux/vbridge.h>

#include "log.h"
#include "serial.h"
#include "sock.h"

#define RUNNING		1

struct vbd_serial_conn {
	/* Immutable after vbd_serial_conn_start(). */
	struct vbd_device *dev;
	int fd;
	unsigned int nworkers;
	pthread_t *threads;
	unsigned int created;	/* threads[] started */

	/* Serializes frame reads: a frame is read by one worker in full. */
	pthread_mutex_t rd_lock;
	/* Serializes frame writes (replies and events). */
	pthread_mutex_t wr_lock;

	/* lock protects the fields below; cond signals running reaching 0. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
	int status;		/* RUNNING, or how the connection ended */
	unsigned int running;	/* workers not yet returned */
};

/* The one error path: record why the connection ends and stop everyone. */
static void conn_end(struct vbd_serial_conn *conn, int status)
{
	pthread_mutex_lock(&conn->lock);
	if (conn->status == RUNNING) {
		conn->status = status;
		if (status == -EPROTO)
			log_warn("serial: malformed frame, closing the connection");
		else if (status == -EIO)
			log_warn("serial: stream error, closing the connection");
		else if (!status)
			log_info("serial: the peer closed the connection");
		shutdown(conn->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&conn->lock);
}

static bool conn_running(struct vbd_serial_conn *conn)
{
	bool r;

	pthread_mutex_lock(&conn->lock);
	r = conn->started && conn->status == RUNNING;
	pthread_mutex_unlock(&conn->lock);
	return r;
}

/* Read len bytes: 0, 1 on end of stream before any byte, or -EIO. */
static int read_full(int fd, void *buf, size_t len, bool eof_ok)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && done == 0 && eof_ok)
			return 1;
		if (n <= 0)
			return -EIO;
		done += n;
	}
	return 0;
}

static int send_frame(struct vbd_serial_conn *conn, uint32_t type,
		      const void *data, uint32_t len)
{
	struct vbridge_stream_hdr hdr = {
		.type = htole32(type),
		.len = htole32(len),
	};
	struct iovec iov[2] = {
		{ &hdr, sizeof(hdr) },
		{ (void *)data, len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;
	int err = 0;

	pthread_mutex_lock(&conn->wr_lock);
	while (msg.msg_iovlen) {
		n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = -EIO;
			break;
		}
		while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
			n -= msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= n;
		}
	}
	pthread_mutex_unlock(&conn->wr_lock);
	return err;
}

static int post_event(void *opaque, const void *ev, uint32_t len)
{
	struct vbd_serial_conn *conn = opaque;

	if (!conn_running(conn))
		return -ENOTCONN;
	return send_frame(conn, VBRIDGE_STREAM_EVENT, ev, len);
}

/*
 * Read one request frame into req (VBD_MAX_REQ_SIZE bytes): 0 with its
 * length and reply room, 1 at a clean end of stream, -EPROTO or -EIO.
 */
static int read_request(struct vbd_serial_conn *conn, void *req,
			uint32_t *len, uint32_t *room)
{
	struct vbridge_stream_hdr hdr;
	uint32_t max;
	int r;

	r = read_full(conn->fd, &hdr, sizeof(hdr), true);
	if (r)
		return r;
	*len = le32toh(hdr.len);
	*room = le32toh(hdr.room);
	max = vbd_device_max_req_size(conn->dev);
	if (le32toh(hdr.type) != VBRIDGE_STREAM_REQUEST || hdr.padding ||
	    *len < sizeof(struct vbridge_req_hdr) || *len > max ||
	    *room < sizeof(struct vbridge_resp_hdr) || *room > max) {
		log_debug("serial: bad frame type %u len %u room %u",
			  le32toh(hdr.type), *len, *room);
		return -EPROTO;
	}
	return read_full(conn->fd, req, *len, false);
}

/* How a connection ends after r: 1 a clean end of stream, else an error. */
static int end_status(int r)
{
	return r == 1 ? 0 : r == -EPROTO ? -EPROTO : -EIO;
}

static void *worker(void *arg)
{
	struct vbd_serial_conn *conn = arg;
	struct virtq_chain *c = malloc(sizeof(*c));
	void *req = malloc(VBD_MAX_REQ_SIZE);
	void *resp = malloc(VBD_MAX_REQ_SIZE);
	uint32_t len = 0, room = 0, n;
	int r = -ENOMEM;

	while (c && req && resp) {
		pthread_mutex_lock(&conn->rd_lock);
		r = conn_running(conn) ? read_request(conn, req, &len, &room) : 0;
		/*
		 * Before the next reader runs: its clean end of stream right
		 * after a frame cut short must not hide the error.
		 */
		if (r)
			conn_end(conn, end_status(r));
		pthread_mutex_unlock(&conn->rd_lock);
		if (r || !conn_running(conn))
			break;
		memset(c, 0, offsetof(struct virtq_chain, iov));
		c->iov[0] = (struct iovec){ req, len };
		c->iov[1] = (struct iovec){ resp, room };
		c->rd = &c->iov[0];
		c->wr = &c->iov[1];
		c->nr_rd = c->nr_wr = 1;
		c->rd_len = len;
		c->wr_len = room;
		n = vbd_device_handle(conn->dev, NULL, c);
		r = send_frame(conn, VBRIDGE_STREAM_REPLY, resp, n);
		if (r)
			break;
	}
	if (r == -ENOMEM)
		log_err("serial: out of memory");
	if (r)
		conn_end(conn, end_status(r));
	free(c);
	free(req);
	free(resp);
	pthread_mutex_lock(&conn->lock);
	if (!--conn->running)
		pthread_cond_broadcast(&conn->cond);
	pthread_mutex_unlock(&conn->lock);
	return NULL;
}

struct vbd_serial_conn *vbd_serial_conn_new(const struct vbd_store *store,
					    const struct vbd_fs_opts *opts,
					    unsigned int nworkers)
{
	struct vbd_serial_conn *conn = calloc(1, sizeof(*conn));
	struct vbd_fs_opts o = opts ? *opts : (struct vbd_fs_opts){ 0 };

	if (!conn || !nworkers)
		goto fail;
	conn->threads = calloc(nworkers, sizeof(*conn->threads));
	if (!conn->threads)
		goto fail;
	/*
	 * The userspace bridge (FUSE) cannot drop a whole export's cache
	 * (INVAL_EXPORT): it keeps short timeouts and inotify.
	 */
	o.inotify_only = true;
	conn->dev = vbd_device_new(store, 1, &o);
	if (!conn->dev)
		goto fail;
	conn->fd = -1;
	conn->nworkers = nworkers;
	conn->status = RUNNING;
	pthread_mutex_init(&conn->rd_lock, NULL);
	pthread_mutex_init(&conn->wr_lock, NULL);
	pthread_mutex_init(&conn->lock, NULL);
	pthread_cond_init(&conn->cond, NULL);
	vbd_device_start_direct(conn->dev, post_event, conn);
	return conn;
fail:
	if (conn)
		free(conn->threads);
	free(conn);
	log_err("serial: cannot set up the device");
	return NULL;
}

int vbd_serial_conn_start(struct vbd_serial_conn *conn, int fd)
{
	unsigned int i;

	conn->fd = fd;
	pthread_mutex_lock(&conn->lock);
	conn->started = true;
	for (i = 0; i < conn->nworkers; i++) {
		if (pthread_create(&conn->threads[i], NULL, worker, conn))
			break;
		conn->running++;
		conn->created++;
	}
	pthread_mutex_unlock(&conn->lock);
	if (i < conn->nworkers) {
		log_err("serial: cannot start worker threads");
		conn_end(conn, -EIO);
		return -EIO;
	}
	return 0;
}

int vbd_serial_conn_wait(struct vbd_serial_conn *conn)
{
	int status;

	pthread_mutex_lock(&conn->lock);
	while (conn->running)
		pthread_cond_wait(&conn->cond, &conn->lock);
	status = conn->status == RUNNING ? 0 : conn->status;
	pthread_mutex_unlock(&conn->lock);
	return status;
}

void vbd_serial_conn_free(struct vbd_serial_conn *conn)
{
	unsigned int i;

	if (!conn)
		return;
	if (conn->fd >= 0)
		conn_end(conn, -ECANCELED);
	for (i = 0; i < conn->created; i++)
		pthread_join(conn->threads[i], NULL);
	/* Stops the filesystem watcher, the last user of post_event(). */
	vbd_device_free(conn->dev);
	if (conn->fd >= 0)
		close(conn->fd);
	pthread_cond_destroy(&conn->cond);
	pthread_mutex_destroy(&conn->lock);
	pthread_mutex_destroy(&conn->wr_lock);
	pthread_mutex_destroy(&conn->rd_lock);
	free(conn->threads);
	free(conn);
}

/* The listener */

struct vbd_serial {
	char *path;
	/* The socket's directory and name: unlinked from there in a sandbox. */
	int dir_fd;
	const char *name;
	int listen_fd;
	int stop[2];		/* a byte on stop[1] ends the wait for a peer */
	pthread_t acceptor;
	bool started;		/* the acceptor runs */
	bool accepted;		/* written by the acceptor, read after joining */
	bool joined;
	struct vbd_serial_conn *conn;
};

/* Root or our own user only, as on the vhost-user socket. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	log_warn("serial: refusing a peer with uid %u pid %d",
		 (unsigned int)cred.uid, (int)cred.pid);
	return false;
}

static void *acceptor(void *arg)
{
	struct vbd_serial *s = arg;
	struct pollfd pfd[2] = {
		{ .fd = s->listen_fd, .events = POLLIN },
		{ .fd = s->stop[0], .events = POLLIN },
	};
	int fd = -1;

	log_info("serial: waiting for the peer on %s", s->path);
	while (poll(pfd, 2, -1) >= 0 || errno == EINTR) {
		if (pfd[1].revents)
			return NULL;
		if (!pfd[0].revents)
			continue;
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		/* Whoever connects first must not become the peer. */
		if (fd >= 0 && !peer_allowed(fd)) {
			close(fd);
			fd = -1;
			continue;
		}
		if (fd >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	if (fd < 0) {
		log_err("serial: accept: %s", strerror(errno));
		return NULL;
	}
	/* One connection per run, as on the vhost-user socket. */
	unlinkat(s->dir_fd, s->name, 0);
	log_info("serial: peer connected");
	if (!vbd_serial_conn_start(s->conn, fd))
		s->accepted = true;
	return NULL;
}

struct vbd_serial *vbd_serial_listen(const char *path)
{
	struct vbd_serial *s = calloc(1, sizeof(*s));
	const char *slash;
	char *dir;

	if (!s)
		return NULL;
	s->listen_fd = -1;
	s->dir_fd = -1;
	s->stop[0] = s->stop[1] = -1;
	s->path = strdup(path);
	if (!s->path || pipe2(s->stop, O_CLOEXEC))
		goto fail;
	slash = strrchr(s->path, '/');
	s->name = slash ? slash + 1 : s->path;
	dir = slash ? strndup(s->path, slash - s->path + (slash == s->path)) :
	      strdup(".");
	if (!dir)
		goto fail;
	s->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (s->dir_fd < 0) {
		log_err("--serial-socket %s: %s", path, strerror(errno));
		goto fail;
	}
	s->listen_fd = vbd_listen_unix(path, "--serial-socket", 1);
	if (s->listen_fd < 0)
		goto fail;
	return s;
fail:
	vbd_serial_free(s);
	return NULL;
}

int vbd_serial_start(struct vbd_serial *s, const struct vbd_store *store,
		     const struct vbd_fs_opts *opts)
{
	s->conn = vbd_serial_conn_new(store, opts, VBD_SERIAL_WORKERS);
	if (!s->conn)
		return -1;
	if (pthread_create(&s->acceptor, NULL, acceptor, s)) {
		log_err("serial: cannot start the listener thread");
		return -1;
	}
	s->started = true;
	return 0;
}

struct vbd_serial *vbd_serial_new(const char *path,
				  const struct vbd_store *store,
				  const struct vbd_fs_opts *opts)
{
	struct vbd_serial *s = vbd_serial_listen(path);

	if (s && vbd_serial_start(s, store, opts)) {
		vbd_serial_free(s);
		return NULL;
	}
	return s;
}

static void join_acceptor(struct vbd_serial *s)
{
	if (s->joined || !s->started)
		return;
	pthread_join(s->acceptor, NULL);
	s->joined = true;
}

int vbd_serial_wait(struct vbd_serial *s)
{
	join_acceptor(s);
	return s->accepted ? vbd_serial_conn_wait(s->conn) : -EIO;
}

void vbd_serial_free(struct vbd_serial *s)
{
	if (!s)
		return;
	if (s->started && !s->joined) {
		if (write(s->stop[1], "x", 1) < 0)
			log_warn("serial: cannot stop the listener");
		join_acceptor(s);
	}
	vbd_serial_conn_free(s->conn);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (!s->accepted)
			unlinkat(s->dir_fd, s->name, 0);
	}
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	if (s->stop[0] >= 0) {
		close(s->stop[0]);
		close(s->stop[1]);
	}
	free(s->path);
	free(s);
}
