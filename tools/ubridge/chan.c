// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The channel to vbridged: request frames out, reply and event frames
 * in, over one virtio-serial port.
 *
 * Callers write a whole request frame under send_lock and sleep on their
 * own condition variable; one reader thread reads every frame, finds
 * the waiting call by the reply's unique and reads the payload straight
 * into the caller's buffer.  Everything the device sends is checked: a
 * frame of the wrong type or size, or a reply nobody waits for, breaks
 * the channel and fails every call with -EIO.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <linux/vbridge.h>

#include "ubridge.h"

struct ubr_call {
	struct ubr_call *next;
	uint64_t unique;
	void *out;
	size_t room;
	size_t out_len;
	int error;
	bool done;
	pthread_cond_t cond;
};

struct ubr_chan {
	int fd;
	/* Serializes request frames on the port. */
	pthread_mutex_t send_lock;

	/* lock protects the fields below. */
	pthread_mutex_t lock;
	struct ubr_call *pending;	/* waiting for their reply */
	uint64_t next_unique;
	uint32_t max_frame;		/* VBRIDGE_MIN_REQ_SIZE until INIT */
	bool broken;
	bool threaded;			/* the reader thread runs */

	ubr_event_fn *event;
	ubr_broken_fn *on_broken;
	void *opaque;
	pthread_t reader;
};

static int read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += n;
	}
	return 0;
}

/* Write the iovecs in full (a port write may take only part). */
static int write_full(int fd, struct iovec *iov, int cnt)
{
	ssize_t n;

	while (cnt) {
		n = writev(fd, iov, cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

/* The channel is unusable: fail every waiting call (lock held). */
static void chan_break(struct ubr_chan *ch, const char *why)
{
	struct ubr_call *c;

	if (!ch->broken)
		fprintf(stderr, "ubridge: %s: the channel to the host is broken\n",
			why);
	ch->broken = true;
	while ((c = ch->pending)) {
		ch->pending = c->next;
		c->error = -EIO;
		c->done = true;
		pthread_cond_signal(&c->cond);
	}
}

/* Read and dispatch one frame; -EIO when the channel broke. */
static int read_frame(struct ubr_chan *ch)
{
	struct vbridge_stream_hdr h;
	struct vbridge_resp_hdr resp;
	uint8_t ev[VBRIDGE_EVENT_BUF_SIZE];
	struct ubr_call *c, **pp;
	uint32_t len, max;
	const char *why;

	if (read_full(ch->fd, &h, sizeof(h)))
		goto io;
	len = le32toh(h.len);
	pthread_mutex_lock(&ch->lock);
	max = ch->max_frame;
	pthread_mutex_unlock(&ch->lock);
	why = "malformed frame";
	if (h.room || h.padding || len > max)
		goto bad;
	if (le32toh(h.type) == VBRIDGE_STREAM_EVENT) {
		if (len < sizeof(struct vbridge_event_hdr) || len > sizeof(ev))
			goto bad;
		if (read_full(ch->fd, ev, len))
			goto io;
		if (ch->event)
			ch->event(ch->opaque, ev, len);
		return 0;
	}
	if (le32toh(h.type) != VBRIDGE_STREAM_REPLY || len < sizeof(resp))
		goto bad;
	if (read_full(ch->fd, &resp, sizeof(resp)))
		goto io;

	pthread_mutex_lock(&ch->lock);
	for (pp = &ch->pending; (c = *pp); pp = &c->next)
		if (c->unique == le64toh(resp.unique))
			break;
	why = "reply to no request";
	if (!c || le32toh(resp.len) != len ||
	    len - sizeof(resp) > c->room) {
		pthread_mutex_unlock(&ch->lock);
		goto bad;
	}
	*pp = c->next;
	pthread_mutex_unlock(&ch->lock);

	/* The caller sleeps until done: its buffer is ours meanwhile. */
	c->out_len = len - sizeof(resp);
	c->error = (int32_t)le32toh(resp.error);
	if (read_full(ch->fd, c->out, c->out_len))
		c->error = -EIO;
	if (c->error > 0 || c->error < -4095 || (c->error && c->out_len)) {
		why = "bad reply";
		c->error = -EIO;
	}
	pthread_mutex_lock(&ch->lock);
	c->done = true;
	pthread_cond_signal(&c->cond);
	if (c->error == -EIO) {
		chan_break(ch, why);
		pthread_mutex_unlock(&ch->lock);
		return -EIO;
	}
	pthread_mutex_unlock(&ch->lock);
	return 0;
bad:
	pthread_mutex_lock(&ch->lock);
	chan_break(ch, why);
	pthread_mutex_unlock(&ch->lock);
	return -EIO;
io:
	pthread_mutex_lock(&ch->lock);
	chan_break(ch, "read error or end of stream");
	pthread_mutex_unlock(&ch->lock);
	return -EIO;
}

static void *reader(void *arg)
{
	struct ubr_chan *ch = arg;

	while (!read_frame(ch))
		;
	if (ch->on_broken)
		ch->on_broken(ch->opaque);
	return NULL;
}

int ubr_call(struct ubr_chan *ch, uint32_t opcode, const struct iovec *in,
	     unsigned int nin, void *out, size_t room, size_t *out_len)
{
	struct vbridge_stream_hdr sh = { .type = htole32(VBRIDGE_STREAM_REQUEST) };
	struct vbridge_req_hdr rh = { .opcode = htole32(opcode) };
	struct ubr_call c = { .out = out, .room = room };
	struct iovec iov[8];
	size_t len = sizeof(rh);
	unsigned int i;
	int err;

	if (nin > 6)
		return -EINVAL;
	iov[0] = (struct iovec){ &sh, sizeof(sh) };
	iov[1] = (struct iovec){ &rh, sizeof(rh) };
	for (i = 0; i < nin; i++) {
		iov[2 + i] = in[i];
		len += in[i].iov_len;
	}
	pthread_cond_init(&c.cond, NULL);
	pthread_mutex_lock(&ch->lock);
	if (ch->broken) {
		pthread_mutex_unlock(&ch->lock);
		err = -EIO;
		goto out;
	}
	if (len > ch->max_frame ||
	    room + sizeof(struct vbridge_resp_hdr) > ch->max_frame) {
		pthread_mutex_unlock(&ch->lock);
		err = -EMSGSIZE;
		goto out;
	}
	c.unique = ++ch->next_unique;
	c.next = ch->pending;
	ch->pending = &c;
	pthread_mutex_unlock(&ch->lock);

	sh.len = htole32(len);
	sh.room = htole32(room + sizeof(struct vbridge_resp_hdr));
	rh.len = htole32(len);
	rh.unique = htole64(c.unique);
	pthread_mutex_lock(&ch->send_lock);
	err = write_full(ch->fd, iov, 2 + nin);
	pthread_mutex_unlock(&ch->send_lock);

	pthread_mutex_lock(&ch->lock);
	if (err)
		chan_break(ch, "write error");
	while (!c.done) {
		if (ch->threaded) {
			pthread_cond_wait(&c.cond, &ch->lock);
			continue;
		}
		/* No reader yet: read the replies ourselves. */
		pthread_mutex_unlock(&ch->lock);
		read_frame(ch);
		pthread_mutex_lock(&ch->lock);
	}
	pthread_mutex_unlock(&ch->lock);
	err = c.error;
	if (out_len)
		*out_len = c.out_len;
out:
	pthread_cond_destroy(&c.cond);
	return err;
}

int ubr_chan_init(struct ubr_chan *ch, uint32_t *max_req, uint16_t *minor)
{
	struct vbridge_init_in in = {
		.major = htole16(VBRIDGE_PROTO_MAJOR),
		.minor = htole16(VBRIDGE_PROTO_MINOR),
		.max_req_size = htole32(UBR_MAX_REQ_SIZE),
		.max_inflight = htole32(256),
	};
	struct vbridge_init_out out;
	struct iovec iov = { &in, sizeof(in) };
	size_t len;
	int err;

	err = ubr_call(ch, VBRIDGE_OP_INIT, &iov, 1, &out, sizeof(out), &len);
	if (err)
		return err;
	*max_req = le32toh(out.max_req_size);
	*minor = le16toh(out.minor);
	if (len != sizeof(out) || le16toh(out.major) != VBRIDGE_PROTO_MAJOR ||
	    *minor > VBRIDGE_PROTO_MINOR ||
	    *max_req < VBRIDGE_MIN_REQ_SIZE || *max_req > UBR_MAX_REQ_SIZE)
		return -EPROTO;
	pthread_mutex_lock(&ch->lock);
	ch->max_frame = *max_req;
	pthread_mutex_unlock(&ch->lock);
	return 0;
}

int ubr_chan_start(struct ubr_chan *ch, ubr_event_fn *event,
		   ubr_broken_fn *broken, void *opaque)
{
	ch->event = event;
	ch->on_broken = broken;
	ch->opaque = opaque;
	ch->threaded = true;
	return -pthread_create(&ch->reader, NULL, reader, ch);
}

/* /dev/vportNpM of the port named UBR_PORT_NAME, without udev's symlinks. */
static int find_port(char *path, size_t size)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	char name[64], f[300];
	int found = -ENOENT;
	FILE *fp;

	if (!d)
		return found;
	while (found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "/sys/class/virtio-ports/%s/name",
			 de->d_name);
		fp = fopen(f, "r");
		if (!fp)
			continue;
		if (fgets(name, sizeof(name), fp) &&
		    !strcmp(strtok(name, "\n") ?: "", UBR_PORT_NAME)) {
			snprintf(path, size, "/dev/%s", de->d_name);
			found = 0;
		}
		fclose(fp);
	}
	closedir(d);
	return found;
}

/* The port, or a Unix socket (vbridged's own, for tests on the host). */
static int open_port(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (stat(path, &st) || !S_ISSOCK(st.st_mode))
		return open(path, O_RDWR | O_CLOEXEC);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

struct ubr_chan *ubr_chan_open(const char *path)
{
	char found[300];
	struct ubr_chan *ch;

	if (!path) {
		path = "/dev/virtio-ports/" UBR_PORT_NAME;
		if (access(path, F_OK) && !find_port(found, sizeof(found)))
			path = found;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->fd = open_port(path);
	if (ch->fd < 0) {
		fprintf(stderr, "ubridge: %s: %s\n", path, strerror(errno));
		free(ch);
		return NULL;
	}
	pthread_mutex_init(&ch->send_lock, NULL);
	pthread_mutex_init(&ch->lock, NULL);
	ch->max_frame = VBRIDGE_MIN_REQ_SIZE;
	return ch;
}
