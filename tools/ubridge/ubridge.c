// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ubridge: a FUSE filesystem (libfuse3 low-level API) that forwards
 * every operation as a vbridge filesystem request over virtio-serial.
 *
 *   ubridge [-o port=PATH,cache=none|auto|always,writeback] TAG MOUNTPOINT
 *
 * FUSE inode numbers are the device's node ids, except that the export's
 * root and FUSE_ROOT_ID trade places.  Lookup counts pass through: every
 * entry the kernel is given holds one device lookup, and FORGET gives it
 * back.  The device checks access with the caller's ids and groups; the
 * kernel checks too (default_permissions).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/vbridge.h>

#include "ubridge.h"

/* Session */

static void ub_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ubr *u = userdata;
	unsigned int want = FUSE_CAP_ASYNC_READ | FUSE_CAP_POSIX_LOCKS |
			    FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_ATOMIC_O_TRUNC |
			    FUSE_CAP_READDIRPLUS | FUSE_CAP_PARALLEL_DIROPS |
			    FUSE_CAP_ASYNC_DIO;

	if (u->writeback)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	/* cache=auto: drop the page cache when mtime or size changed. */
	if (u->cache == CACHE_AUTO)
		want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->want |= want & conn->capable;
	/*
	 * The kernel picks readdirplus where the names will be looked up
	 * (FUSE_CAP_READDIRPLUS_AUTO) once plain readdir has a request of
	 * its own (READDIR_NAMES, 2.4); before that, always readdirplus.
	 */
	if (u->minor < 4)
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (u->cache != CACHE_AUTO)
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	conn->max_write = u->max_io;
	if (conn->max_readahead > u->max_io)
		conn->max_readahead = u->max_io;
}


/* Host change events: queued by the reader, applied by the notifier. */

static void on_event(void *opaque, const void *ev, uint32_t len)
{
	struct ubr *u = opaque;

	pthread_mutex_lock(&u->lock);
	if (u->nev < MAX_EVENTS) {
		unsigned int i = (u->ev_first + u->nev++) % MAX_EVENTS;

		memcpy(u->ev[i].data, ev, len);
		u->ev[i].len = len;
		pthread_cond_signal(&u->cond);
	}
	pthread_mutex_unlock(&u->lock);
}

static void on_broken(void *opaque)
{
	struct ubr *u = opaque;

	fuse_session_exit(u->se);
}

/*
 * The kernel may wait on locks held by requests in flight to apply an
 * invalidation, so it happens here, never on the reader thread.
 */
static void apply_event(struct ubr *u, const uint8_t *data, uint32_t len)
{
	struct vbridge_event_fs_inval_inode ii;
	struct vbridge_event_fs_inval_entry ie;
	struct vbridge_event_hdr h;
	uint32_t n;

	memcpy(&h, data, sizeof(h));
	if (le32toh(h.len) != len)
		return;
	switch (le32toh(h.type)) {
	case VBRIDGE_EVT_FS_INVAL_INODE:
		if (len != sizeof(ii))
			return;
		memcpy(&ii, data, sizeof(ii));
		fuse_lowlevel_notify_inval_inode(u->se,
						 to_ino(u, le64toh(ii.nodeid)),
						 le64toh(ii.offset),
						 le64toh(ii.len));
		break;
	case VBRIDGE_EVT_FS_INVAL_ENTRY: {
		char name[VBRIDGE_FS_NAME_MAX + 1];

		if (len < sizeof(ie))
			return;
		memcpy(&ie, data, sizeof(ie));
		n = le32toh(ie.namelen);
		/* The device pads the name (to 8 bytes, as vbridged does). */
		if (!n || n > VBRIDGE_FS_NAME_MAX || n > len - sizeof(ie) ||
		    memchr(data + sizeof(ie), '/', n) ||
		    memchr(data + sizeof(ie), '\0', n))
			return;
		memcpy(name, data + sizeof(ie), n);
		name[n] = 0;
		fuse_lowlevel_notify_inval_entry(u->se,
						 to_ino(u, le64toh(ie.parent)),
						 name, n);
		break;
	}
	default:
		break;
	}
}

static void *notifier(void *arg)
{
	struct ubr *u = arg;
	uint8_t data[VBRIDGE_EVENT_BUF_SIZE];
	uint32_t len;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		while (!u->nev)
			pthread_cond_wait(&u->cond, &u->lock);
		len = u->ev[u->ev_first].len;
		memcpy(data, u->ev[u->ev_first].data, len);
		u->ev_first = (u->ev_first + 1) % MAX_EVENTS;
		u->nev--;
		pthread_mutex_unlock(&u->lock);
		apply_event(u, data, len);
	}
	return NULL;
}

/* MOUNT: the root of the export tag. */
static int mount_tag(struct ubr *u)
{
	struct vbridge_fs_mount_in mi = { 0 };
	struct vbridge_fs_in in = { 0 };
	struct vbridge_fs_entry_out eo;
	struct iovec iov[2] = { { &in, sizeof(in) }, { &mi, sizeof(mi) } };
	size_t len = 0;
	int err;

	if (strlen(u->tag) >= VBRIDGE_TAG_LEN)
		return -EINVAL;
	memcpy(mi.tag, u->tag, strlen(u->tag));
	err = ubr_call(u->ch, VBRIDGE_OP_FS_MOUNT, iov, 2, &eo, sizeof(eo), &len);
	if (err)
		return err;
	if (len != sizeof(eo) || !eo.nodeid)
		return -EIO;
	u->root = le64toh(eo.nodeid);
	return 0;
}

#define UBR_OPT(t, p, v) { t, offsetof(struct ubr, p), v }

static const struct fuse_opt ubr_opts[] = {
	UBR_OPT("port=%s", port, 0),
	UBR_OPT("cache=auto", cache, CACHE_AUTO),
	UBR_OPT("cache=none", cache, CACHE_NONE),
	UBR_OPT("cache=always", cache, CACHE_ALWAYS),
	UBR_OPT("writeback", writeback, 1),
	FUSE_OPT_END,
};

/* The first non-option is the tag; the next one is left for FUSE. */
static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct ubr *u = data;

	if (key == FUSE_OPT_KEY_NONOPT && !u->tag) {
		u->tag = strdup(arg);
		return 0;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s [options] TAG MOUNTPOINT\n"
	       "Mount the vbridge export TAG through FUSE, over virtio-serial.\n\n"
	       "    -o port=PATH           virtio-serial port (default: the port\n"
	       "                           named " UBR_PORT_NAME ")\n"
	       "    -o cache=auto          host timeouts, page cache dropped when\n"
	       "                           the file changed (default)\n"
	       "    -o cache=always        entries and attributes for an hour\n"
	       "    -o cache=none          no caching, direct I/O\n"
	       "    -o writeback           FUSE writeback cache\n", prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_lowlevel_ops ops = { 0 };
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *cfg;
	struct ubr *u = calloc(1, sizeof(*u));
	uint32_t max_req;
	pthread_t tid;
	char fsname[64];
	int ret = 1, err;

	if (!u || fuse_opt_parse(&args, u, ubr_opts, opt_proc) ||
	    fuse_parse_cmdline(&args, &opts))
		return 1;
	if (opts.show_help) {
		usage(argv[0]);
		return 0;
	}
	if (opts.show_version) {
		printf("ubridge (vbridge protocol %d.%d)\n", VBRIDGE_PROTO_MAJOR,
		       VBRIDGE_PROTO_MINOR);
		fuse_lowlevel_version();
		return 0;
	}
	if (!u->tag || !opts.mountpoint) {
		fprintf(stderr, "usage: %s [options] TAG MOUNTPOINT (see --help)\n",
			argv[0]);
		return 1;
	}
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);

	/* The handshake, answered on this thread: nothing is mounted yet. */
	u->ch = ubr_chan_open(u->port);
	if (!u->ch)
		return 1;
	err = ubr_chan_init(u->ch, &max_req, &u->minor);
	if (!err)
		err = mount_tag(u);
	if (err) {
		fprintf(stderr, "ubridge: %s: %s\n", u->tag, strerror(-err));
		return 1;
	}
	/* Room for the largest request's headers. */
	u->max_io = max_req - 1024 < UBR_MAX_IO ? (max_req - 1024) & ~4095U :
		    UBR_MAX_IO;

	snprintf(fsname, sizeof(fsname), "-ofsname=ubridge:%s,subtype=ubridge",
		 u->tag);
	if (fuse_opt_add_arg(&args, fsname) ||
	    fuse_opt_add_arg(&args, "-odefault_permissions") ||
	    (!getuid() && fuse_opt_add_arg(&args, "-oallow_other")))
		return 1;
	ops.init = ub_init;
	ubr_inode_ops(&ops);
	ubr_file_ops(&ops);
	u->se = fuse_session_new(&args, &ops, sizeof(ops), u);
	if (!u->se)
		return 1;
	if (fuse_set_signal_handlers(u->se))
		goto out_destroy;
	if (fuse_session_mount(u->se, opts.mountpoint))
		goto out_signals;
	fuse_daemonize(opts.foreground);

	/* Threads only now: daemonizing forks. */
	if (ubr_chan_start(u->ch, on_event, on_broken, u) ||
	    pthread_create(&tid, NULL, notifier, u)) {
		fprintf(stderr, "ubridge: cannot start threads\n");
		goto out_unmount;
	}
	if (opts.singlethread) {
		ret = fuse_session_loop(u->se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(cfg, opts.clone_fd);
		/* UINT_MAX: not given, keep libfuse's default. */
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(cfg, opts.max_idle_threads);
		fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
		ret = fuse_session_loop_mt(u->se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
out_unmount:
	fuse_session_unmount(u->se);
out_signals:
	fuse_remove_signal_handlers(u->se);
out_destroy:
	fuse_session_destroy(u->se);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	/* The reader and notifier threads end with the process. */
	return ret ? 1 : 0;
}
