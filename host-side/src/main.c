// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridged: vhost-user backend of the vbridge device.
 *
 * Follows the vhost-user backend program conventions: --socket-path or
 * --fd, --print-capabilities, no daemonizing, one frontend connection
 * per run.  Exits 0 when the frontend disconnects cleanly, 1 on bad
 * arguments or when the connection breaks.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <linux/vbridge.h>

#include "control.h"
#include "device.h"
#include "display.h"
#include "fs_xattr.h"
#include "inject.h"
#include "log.h"
#include "output.h"
#include "sandbox.h"
#include "serial.h"
#include "share.h"
#include "sock.h"
#include "vhost_user.h"

#ifndef VBRIDGED_VERSION
#define VBRIDGED_VERSION "0.1"
#endif

struct options {
	const char *socket_path;
	int fd;
	unsigned int num_queues;
	unsigned int queue_threads;
	char *shares[VBRIDGE_MAX_TAGS + 1];
	unsigned int nshares;
	struct vbd_fs_opts fs;
	struct vbd_display_opts display;	/* num_scanouts 0: none */
	int vnc_display;			/* -1: no VNC server */
	const char *vnc_password_file;
	const char *handle_key_file;		/* --handle-key */
	char *vnc_password;			/* read from it */
	const char *control_socket;
	bool socket_group_set;
	gid_t socket_group;			/* --socket-group */
	struct vbd_sandbox_opts sandbox;
	/* The socket at socket_path, for unlinkat() once the root changed. */
	int socket_dir_fd;
	const char *socket_name;
	const char *serial_socket;		/* --serial-socket */
	struct vbd_inject *inject;		/* NULL: no fault injection */
	bool access_platform;			/* --access-platform */
};

/* VNC display N is TCP port 5900 + N. */
#define VNC_BASE_PORT	5900

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vbridged (--socket-path=PATH | --fd=FDNUM) [OPTIONS]\n"
"vhost-user backend for the vbridge paravirtual device.\n"
"\n"
"  --socket-path=PATH      listen on the Unix socket PATH\n"
"  --fd=FDNUM              use the listening (or connected) socket FDNUM\n"
"  --socket-group=GROUP    make --socket-path group-accessible (0660) and\n"
"                          accept frontends of GROUP too (default: 0600,\n"
"                          only root and our own user may connect)\n"
"  --shared-dir=TAG=DIR[:ro]\n"
"                          export directory DIR under TAG (up to %d times)\n"
"  --num-queues=N          number of request queues, 1 to %d (default 1)\n"
"  --queue-threads=N       threads serving each request queue, 1 to %d\n"
"                          (default %d)\n"
"  --uid-map=GUEST:HOST:COUNT\n"
"                          guest uids GUEST.. are host uids HOST.. (up to %d\n"
"                          times; without any, ids are the same on both sides;\n"
"                          ids outside every map are %d)\n"
"  --gid-map=GUEST:HOST:COUNT\n"
"                          the same for group ids\n"
"  --max-fds=N             host file descriptors the filesystem may hold\n"
"                          (default: RLIMIT_NOFILE less %d; the soft limit\n"
"                          is raised as far as N needs, or to 65536)\n"
"  --allow-devices         let the guest create device nodes\n"
"  --allow-xattr=LIST      also give the guest these xattr namespaces beside\n"
"                          user.*: trusted, security (comma-separated; default\n"
"                          none); only callers mapped to host root get the\n"
"                          privileged ones\n"
"  --handle-key=FILE       let the guest keep its files across a restart of\n"
"                          vbridged by host file handle, sealed with the\n"
"                          key in FILE (made, mode 0600, if missing; keep it\n"
"                          private and give every restart the same one)\n"
"  --max-watches=N         host files watched one by one with inotify, where\n"
"                          fanotify does not watch the export's whole\n"
"                          filesystem (default 1024)\n"
"  --attr-timeout=MS       how long the guest may cache attributes, 0 to %lu\n"
"                          milliseconds (default 1000, an hour for files\n"
"                          fanotify watches; cache=auto and writeback\n"
"                          mounts; short values are for testing)\n"
"  --entry-timeout=MS      the same for names looked up (same defaults)\n"
"  --display=WIDTHxHEIGHT[,heads=N]\n"
"                          offer N displays (1 to %d, default 1) with this\n"
"                          preferred mode\n"
"  --vnc=:N                serve display 0 over VNC on 127.0.0.1, port 5900+N\n"
"                          (without --vnc-password-file: no authentication,\n"
"                          anyone on this host may watch)\n"
"  --vnc-password-file=FILE\n"
"                          require VNC authentication with the password on\n"
"                          the first line of FILE (8 bytes count)\n"
"  --control-socket=PATH   take commands (vbridgectl) on the Unix socket PATH\n"
"  --access-platform       offer VIRTIO_F_ACCESS_PLATFORM: the guest maps its\n"
"                          buffers through the DMA API (QEMU's\n"
"                          iommu_platform=on, no vIOMMU: e.g. swiotlb=force\n"
"                          bounce buffers); addresses stay guest-physical\n"
"  --serial-socket=PATH    also (or only) serve the userspace bridge on the\n"
"                          Unix socket PATH (a QEMU virtio-serial chardev)\n"
"  --inject=SEED:RATE[:KIND,...]\n"
"                          testing only: damage a fraction RATE (0 to 1) of\n"
"                          the replies and events, reproducibly from SEED;\n"
"                          KINDs: short, oversized, wrong-id, bad-error,\n"
"                          bad-len, garbage, drop, event (default: all\n"
"                          these), slow (answered %d ms late)\n"
"  --sandbox=MODE          namespace (default): new PID, mount, network, IPC\n"
"                          and UTS namespaces and an empty root with /proc;\n"
"                          chroot: an empty chroot, where namespaces are\n"
"                          not available; none: for debugging.  All but\n"
"                          none also cut the capabilities to file serving\n"
"                          and set no_new_privs\n"
"  --seccomp=ACTION        what a system call outside the allow-list does:\n"
"                          kill (default), log, trap (say which, exit), none\n"
"  --log-level=LEVEL       error, warn, info (default) or debug\n"
"  -v, --verbose           log more (repeatable)\n"
"  --print-capabilities    print the backend capabilities as JSON and exit\n"
"  -V, --version           print the version and exit\n"
"  -h, --help              print this help and exit\n",
		VBRIDGE_MAX_TAGS, VBRIDGE_MAX_REQUEST_QUEUES,
		VU_MAX_QUEUE_THREADS, VBD_QUEUE_THREADS_DEFAULT, VBD_MAX_ID_MAPS,
		VBD_OVERFLOW_ID, 64, VBD_FS_MAX_TIMEOUT_MS,
		VBRIDGE_DISPLAY_MAX_SCANOUTS, VBD_INJECT_SLOW_MS);
}

static void print_capabilities(void)
{
	printf("{\n"
	       "  \"type\": \"vbridge\",\n"
	       "  \"features\": [\n"
	       "    \"shared-dir\",\n"
	       "    \"num-queues\"\n"
	       "  ]\n"
	       "}\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || *v > max)
		return -EINVAL;
	return 0;
}

/* WIDTHxHEIGHT[,heads=N] */
static int parse_display(const char *s, struct vbd_display_opts *d)
{
	unsigned int heads = 1;
	int n = -1;

	if (sscanf(s, "%5ux%5u%n,heads=%2u%n", &d->width, &d->height, &n,
		   &heads, &n) < 2 || n < 0 || s[n] || *s < '0' || *s > '9' ||
	    !d->width || !d->height || d->width > VBRIDGE_DISPLAY_MAX_DIM ||
	    d->height > VBRIDGE_DISPLAY_MAX_DIM || !heads ||
	    heads > VBRIDGE_DISPLAY_MAX_SCANOUTS)
		return -EINVAL;
	d->num_scanouts = heads;
	return 0;
}

static __attribute__((noreturn, format(printf, 1, 2)))
void bad_args(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s (see --help)", msg);
	exit(1);
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_SOCKET_PATH = 256,
		OPT_FD,
		OPT_SHARED_DIR,
		OPT_NUM_QUEUES,
		OPT_QUEUE_THREADS,
		OPT_LOG_LEVEL,
		OPT_PRINT_CAPS,
		OPT_UID_MAP,
		OPT_GID_MAP,
		OPT_MAX_FDS,
		OPT_ALLOW_DEVICES,
		OPT_DISPLAY,
		OPT_VNC,
		OPT_CONTROL_SOCKET,
		OPT_ALLOW_XATTR,
		OPT_MAX_WATCHES,
		OPT_SERIAL_SOCKET,
		OPT_INJECT,
		OPT_SOCKET_GROUP,
		OPT_VNC_PASSWORD_FILE,
		OPT_HANDLE_KEY,
		OPT_SANDBOX,
		OPT_SECCOMP,
		OPT_ATTR_TIMEOUT,
		OPT_ENTRY_TIMEOUT,
		OPT_ACCESS_PLATFORM,
	};
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
		{ "fd", required_argument, NULL, OPT_FD },
		{ "shared-dir", required_argument, NULL, OPT_SHARED_DIR },
		{ "num-queues", required_argument, NULL, OPT_NUM_QUEUES },
		{ "queue-threads", required_argument, NULL, OPT_QUEUE_THREADS },
		{ "uid-map", required_argument, NULL, OPT_UID_MAP },
		{ "gid-map", required_argument, NULL, OPT_GID_MAP },
		{ "max-fds", required_argument, NULL, OPT_MAX_FDS },
		{ "allow-devices", no_argument, NULL, OPT_ALLOW_DEVICES },
		{ "display", required_argument, NULL, OPT_DISPLAY },
		{ "vnc", required_argument, NULL, OPT_VNC },
		{ "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
		{ "allow-xattr", required_argument, NULL, OPT_ALLOW_XATTR },
		{ "max-watches", required_argument, NULL, OPT_MAX_WATCHES },
		{ "attr-timeout", required_argument, NULL, OPT_ATTR_TIMEOUT },
		{ "entry-timeout", required_argument, NULL, OPT_ENTRY_TIMEOUT },
		{ "access-platform", no_argument, NULL, OPT_ACCESS_PLATFORM },
		{ "serial-socket", required_argument, NULL, OPT_SERIAL_SOCKET },
		{ "inject", required_argument, NULL, OPT_INJECT },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "vnc-password-file", required_argument, NULL, OPT_VNC_PASSWORD_FILE },
		{ "handle-key", required_argument, NULL, OPT_HANDLE_KEY },
		{ "sandbox", required_argument, NULL, OPT_SANDBOX },
		{ "seccomp", required_argument, NULL, OPT_SECCOMP },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "verbose", no_argument, NULL, 'v' },
		{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c, i;

	/* The conventions want every other argument ignored with this one. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--print-capabilities")) {
			print_capabilities();
			exit(0);
		}
	}

	o->fd = -1;
	o->num_queues = 1;
	o->queue_threads = VBD_QUEUE_THREADS_DEFAULT;
	o->vnc_display = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vVh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET_PATH:
			o->socket_path = optarg;
			break;
		case OPT_FD:
			if (parse_uint(optarg, INT_MAX, &v))
				bad_args("--fd: invalid file descriptor '%s'", optarg);
			o->fd = v;
			break;
		case OPT_SHARED_DIR:
			if (o->nshares == VBRIDGE_MAX_TAGS)
				bad_args("at most %d --shared-dir options are supported",
					 VBRIDGE_MAX_TAGS);
			o->shares[o->nshares++] = optarg;
			break;
		case OPT_NUM_QUEUES:
			if (parse_uint(optarg, VBRIDGE_MAX_REQUEST_QUEUES, &v) || !v)
				bad_args("--num-queues: expected 1 to %d, not '%s'",
					 VBRIDGE_MAX_REQUEST_QUEUES, optarg);
			o->num_queues = v;
			break;
		case OPT_QUEUE_THREADS:
			if (parse_uint(optarg, VU_MAX_QUEUE_THREADS, &v) || !v)
				bad_args("--queue-threads: expected 1 to %d, not '%s'",
					 VU_MAX_QUEUE_THREADS, optarg);
			o->queue_threads = v;
			break;
		case OPT_UID_MAP:
			if (o->fs.nuid_maps == VBD_MAX_ID_MAPS ||
			    vbd_id_map_parse(optarg, &o->fs.uid_map[o->fs.nuid_maps++]))
				bad_args("--uid-map: expected GUEST:HOST:COUNT (at most %d), not '%s'",
					 VBD_MAX_ID_MAPS, optarg);
			break;
		case OPT_GID_MAP:
			if (o->fs.ngid_maps == VBD_MAX_ID_MAPS ||
			    vbd_id_map_parse(optarg, &o->fs.gid_map[o->fs.ngid_maps++]))
				bad_args("--gid-map: expected GUEST:HOST:COUNT (at most %d), not '%s'",
					 VBD_MAX_ID_MAPS, optarg);
			break;
		case OPT_MAX_FDS:
			if (parse_uint(optarg, INT_MAX, &v) || v < 16)
				bad_args("--max-fds: expected at least 16, not '%s'", optarg);
			o->fs.max_fds = v;
			break;
		case OPT_ALLOW_DEVICES:
			o->fs.allow_devices = true;
			break;
		case OPT_DISPLAY:
			if (parse_display(optarg, &o->display))
				bad_args("--display: expected WIDTHxHEIGHT[,heads=N] (1 to %d pixels, 1 to %d heads), not '%s'",
					 VBRIDGE_DISPLAY_MAX_DIM,
					 VBRIDGE_DISPLAY_MAX_SCANOUTS, optarg);
			break;
		case OPT_VNC:
			/* libvncserver 0.9.14 cannot listen on a Unix socket. */
			if (optarg[0] != ':' ||
			    parse_uint(optarg + 1, 65535 - VNC_BASE_PORT, &v))
				bad_args("--vnc: expected :N (TCP port 5900+N on 127.0.0.1), not '%s'",
					 optarg);
			o->vnc_display = v;
			break;
		case OPT_CONTROL_SOCKET:
			o->control_socket = optarg;
			break;
		case OPT_VNC_PASSWORD_FILE:
			o->vnc_password_file = optarg;
			break;
		case OPT_HANDLE_KEY:
			o->handle_key_file = optarg;
			break;
		case OPT_ALLOW_XATTR:
			if (vbd_xattr_parse(optarg, &o->fs.xattr_ns))
				bad_args("--allow-xattr: expected a list of trusted, security, not '%s'",
					 optarg);
			break;
		case OPT_MAX_WATCHES:
			if (parse_uint(optarg, INT_MAX, &v) || !v)
				bad_args("--max-watches: expected at least 1, not '%s'", optarg);
			o->fs.max_watches = v;
			break;
		case OPT_ATTR_TIMEOUT:
		case OPT_ENTRY_TIMEOUT: {
			uint64_t ns;

			if (vbd_fs_timeout_parse(optarg, &ns))
				bad_args("--%s-timeout: expected 0 to %lu milliseconds, not '%s'",
					 c == OPT_ATTR_TIMEOUT ? "attr" : "entry",
					 VBD_FS_MAX_TIMEOUT_MS, optarg);
			if (!o->fs.timeouts_set) {
				o->fs.attr_timeout_ns = VBD_FS_DEFAULT_TIMEOUT_NS;
				o->fs.entry_timeout_ns = VBD_FS_DEFAULT_TIMEOUT_NS;
				o->fs.timeouts_set = true;
			}
			if (c == OPT_ATTR_TIMEOUT)
				o->fs.attr_timeout_ns = ns;
			else
				o->fs.entry_timeout_ns = ns;
			break;
		}
		case OPT_SERIAL_SOCKET:
			o->serial_socket = optarg;
			break;
		case OPT_ACCESS_PLATFORM:
			o->access_platform = true;
			break;
		case OPT_INJECT:
			if (o->inject)
				vbd_inject_free(o->inject);
			o->inject = vbd_inject_new(optarg);
			if (!o->inject)
				bad_args("--inject: expected SEED:RATE[:KIND,...] with RATE from 0 to 1, not '%s'",
					 optarg);
			break;
		case OPT_SANDBOX:
			if (vbd_sandbox_parse_mode(optarg, &o->sandbox.mode))
				bad_args("--sandbox: expected namespace, chroot or none, not '%s'",
					 optarg);
			break;
		case OPT_SECCOMP:
			if (vbd_seccomp_parse_action(optarg, &o->sandbox.seccomp))
				bad_args("--seccomp: expected kill, log, trap or none, not '%s'",
					 optarg);
			break;
		case OPT_SOCKET_GROUP: {
			struct group *g = getgrnam(optarg);

			if (g)
				v = g->gr_gid;
			else if (parse_uint(optarg, UINT_MAX - 1, &v))
				bad_args("--socket-group: no group '%s'", optarg);
			o->socket_group = v;
			o->socket_group_set = true;
			break;
		}
		case OPT_LOG_LEVEL:
			if (vbd_log_parse_level(optarg, &vbd_log_level))
				bad_args("--log-level: unknown level '%s'", optarg);
			break;
		case 'v':
			if (vbd_log_level < VBD_LOG_DEBUG)
				vbd_log_level++;
			break;
		case 'V':
			printf("vbridged %s (vbridge protocol %d.%d)\n",
			       VBRIDGED_VERSION, VBRIDGE_PROTO_MAJOR,
			       VBRIDGE_PROTO_MINOR);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			bad_args("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				bad_args("unknown option '-%c'", optopt);
			bad_args("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_args("unexpected argument '%s'", argv[optind]);
	o->sandbox.allow_devices = o->fs.allow_devices;
	o->sandbox.privileged_xattrs = o->fs.xattr_ns != 0;
	if ((o->socket_path && o->fd >= 0) ||
	    (!o->socket_path && o->fd < 0 && !o->serial_socket))
		bad_args("exactly one of --socket-path and --fd is required (or --serial-socket alone)");
	if (o->handle_key_file && !o->nshares)
		bad_args("--handle-key needs --shared-dir");
	if (o->vnc_password_file && o->vnc_display < 0)
		bad_args("--vnc-password-file needs --vnc");
	if (o->socket_group_set && !o->socket_path)
		bad_args("--socket-group needs --socket-path");
	if ((o->vnc_display >= 0 || o->control_socket) && !o->display.num_scanouts)
		bad_args("--vnc and --control-socket need --display");
}

/* Give the socket at path to group, mode 0660, without following links. */
static int socket_share(const char *path, gid_t group)
{
	char proc[64];
	struct stat st;
	int fd, r = -1;

	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		log_err("--socket-path %s: replaced while we set it up", path);
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fchownat(fd, "", -1, group, AT_EMPTY_PATH) < 0 ||
	    chmod(proc, 0660) < 0) {
		log_err("--socket-path %s: --socket-group: %s", path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int listen_on(const char *path, const struct options *o)
{
	int fd = vbd_listen_unix(path, "--socket-path", 1);

	if (fd < 0)
		return -1;
	if (o->socket_group_set && socket_share(path, o->socket_group) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* Keep path's directory: the sandbox hides path, but we unlink it later. */
static int socket_dir(struct options *o)
{
	const char *slash = strrchr(o->socket_path, '/');
	char *dir;

	o->socket_name = slash ? slash + 1 : o->socket_path;
	dir = slash ? strndup(o->socket_path, slash - o->socket_path + (slash == o->socket_path)) :
	      strdup(".");
	if (!dir)
		return -1;
	o->socket_dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (o->socket_dir_fd < 0) {
		log_err("--socket-path %s: %s", o->socket_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Whether the peer on conn is root, our user, or in --socket-group. */
static bool peer_allowed(int conn, const struct options *o)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[NGROUPS_MAX];

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_err("SO_PEERCRED: %s", strerror(errno));
		return false;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	if (o->socket_group_set) {
		unsigned int i;

		if (cred.gid == o->socket_group)
			return true;
		len = sizeof(groups);
		if (!getsockopt(conn, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
			for (i = 0; i < len / sizeof(groups[0]); i++)
				if (groups[i] == o->socket_group)
					return true;
	}
	log_warn("refusing a frontend connection from uid %u gid %u pid %d",
		 (unsigned int)cred.uid, (unsigned int)cred.gid, (int)cred.pid);
	return false;
}

/* The frontend's connection: accepted on a listening socket, or fd itself. */
static int connect_frontend(int fd, const struct options *o)
{
	const char *path = o->socket_path;
	int listening, conn;
	socklen_t len = sizeof(listening);
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) {
		log_err("file descriptor %d is not a socket", fd);
		return -1;
	}
	if (!listening)
		return fd;

	log_info("waiting for the frontend on %s", path ? path : "its socket");
	for (;;) {
		conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0 && errno == EINTR)
			continue;
		/* Whoever connects first must not become the frontend. */
		if (conn >= 0 && !peer_allowed(conn, o)) {
			close(conn);
			continue;
		}
		break;
	}
	if (conn < 0)
		log_err("accept: %s", strerror(errno));
	/* One connection per run: nobody else may connect. */
	close(fd);
	if (path)
		unlinkat(o->socket_dir_fd, o->socket_name, 0);
	return conn;
}

/* The first line of path, without its newline; NULL after logging why. */
static char *read_password(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	ssize_t n;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		log_err("--vnc-password-file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (!fstat(fileno(f), &st) && (st.st_mode & 077))
		log_warn("--vnc-password-file %s: readable by others", path);
	n = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n <= 0) {
		log_err("--vnc-password-file %s: no password on the first line", path);
		free(line);
		return NULL;
	}
	return line;
}

/*
 * The soft RLIMIT_NOFILE: what --max-fds needs (the filesystem keeps that
 * many, plus a margin for sockets, eventfds and guest memory), else up
 * to 65536; never the hard limit just because it is there.
 */
static void raise_nofile(const struct options *o)
{
	struct rlimit rl;
	rlim_t want = o->fs.max_fds ? (rlim_t)o->fs.max_fds + 128 : 65536;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	if (want > rl.rlim_max) {
		if (o->fs.max_fds)
			log_warn("--max-fds %u: RLIMIT_NOFILE is only %llu",
				 o->fs.max_fds, (unsigned long long)rl.rlim_max);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* What the program holds; main() frees it. */
struct daemon {
	struct vbd_store *store;
	struct vbd_device *dev;
	struct vbd_control *control;
	struct vbd_output *vnc;		/* until the display owns it */
	struct vbd_serial *serial;	/* --serial-socket */
	int listen_fd;
};

/* Sockets that must be opened before the sandbox hides their places. */
static int open_sockets(struct daemon *dm, struct options *o)
{
	dm->listen_fd = o->fd;
	if (o->serial_socket) {
		dm->serial = vbd_serial_listen(o->serial_socket);
		if (!dm->serial)
			return -1;
	}
	if (o->socket_path) {
		if (socket_dir(o) < 0)
			return -1;
		dm->listen_fd = listen_on(o->socket_path, o);
		if (dm->listen_fd < 0)
			return -1;
	}
	if (o->control_socket) {
		dm->control = vbd_control_listen(o->control_socket);
		if (!dm->control)
			return -1;
	}
	if (o->vnc_display >= 0) {
		dm->vnc = vbd_vnc_listen(VNC_BASE_PORT + o->vnc_display,
					 o->vnc_password, o->display.width,
					 o->display.height);
		if (!dm->vnc)
			return -1;
	}
	return 0;
}

/* The device, its display with VNC and the control socket serving it. */
static int start_device(struct daemon *dm, const struct options *o)
{
	struct vbd_display *display;
	struct vbd_output *vnc = dm->vnc;

	if (dm->serial && vbd_serial_start(dm->serial, dm->store, &o->fs))
		return -1;
	if (dm->listen_fd < 0)		/* --serial-socket alone */
		return 0;
	dm->dev = vbd_device_new(dm->store, o->num_queues, &o->fs);
	if (!dm->dev)
		return -1;
	vbd_device_set_queue_threads(dm->dev, o->queue_threads);
	if (o->access_platform)
		vbd_device_offer_access_platform(dm->dev);
	if (o->inject) {
		log_warn("--inject: damaging replies and events on purpose");
		vbd_device_set_inject(dm->dev, o->inject);
	}
	if (!o->display.num_scanouts)
		return 0;
	display = vbd_device_enable_display(dm->dev, &o->display);
	if (!display)
		return -1;
	if (vnc) {
		dm->vnc = NULL;
		if (vbd_display_add_output(display, vnc) ||
		    vbd_vnc_start(vnc, display))
			return -1;
	}
	if (dm->control && vbd_control_start(dm->control, display))
		return -1;
	return 0;
}

static void daemon_free(struct daemon *dm)
{
	if (dm->serial)
		vbd_serial_free(dm->serial);
	if (dm->control)
		vbd_control_free(dm->control);
	if (dm->vnc)
		dm->vnc->ops->destroy(dm->vnc);
	if (dm->dev)
		vbd_device_free(dm->dev);
	if (dm->store)
		dm->store->ops->destroy(dm->store);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct daemon dm = { 0 };
	struct vu_dev_info info;
	struct vu_dev *vu;
	int fd, r;

	parse_args(argc, argv, &o);
	if (o.vnc_password_file) {
		o.vnc_password = read_password(o.vnc_password_file);
		if (!o.vnc_password)
			return 1;
	}
	/* Before the sandbox: the key file is outside it. */
	if (o.handle_key_file) {
		if (vbd_fs_handle_key_load(o.handle_key_file, o.fs.handle_key))
			return 1;
		o.fs.handle_key_set = true;
	}
	if (vbd_sandbox_fork(&o.sandbox) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(&o);

	/*
	 * Order matters: exports and sockets are opened while the host's
	 * paths and network are there; namespaces need a single thread;
	 * the filesystem reopens nodes through /proc, which the new root
	 * has.  Chroot mode has no /proc there: it enters last.
	 */
	dm.store = vbd_share_store_open(o.shares, o.nshares);
	fd = dm.store ? open_sockets(&dm, &o) : -1;
	/*
	 * fanotify needs CAP_SYS_ADMIN, which the sandbox drops; only the
	 * vhost-user device uses it (the userspace bridge keeps inotify).
	 */
	if (!fd && dm.listen_fd >= 0)
		vbd_share_store_watch(dm.store);
	if (o.vnc_password) {
		explicit_bzero(o.vnc_password, strlen(o.vnc_password));
		free(o.vnc_password);
	}
	if (!fd && o.sandbox.mode == VBD_SANDBOX_NAMESPACE)
		fd = vbd_sandbox_enter(&o.sandbox);
	if (!fd)
		fd = vbd_sandbox_limit_threads(&o.sandbox);
	if (!fd)
		fd = start_device(&dm, &o);
	if (!fd && dm.listen_fd < 0) {
		/* --serial-socket alone: serve its one connection, then exit. */
		if (o.sandbox.mode == VBD_SANDBOX_CHROOT &&
		    vbd_sandbox_enter(&o.sandbox) < 0)
			r = -1;
		else
			r = vbd_serial_wait(dm.serial);
		goto out;
	}
	if (!fd)
		fd = connect_frontend(dm.listen_fd, &o);
	if (fd >= 0 && o.sandbox.mode == VBD_SANDBOX_CHROOT &&
	    vbd_sandbox_enter(&o.sandbox) < 0) {
		close(fd);
		fd = -1;
	}
	if (o.socket_path && o.socket_dir_fd > 0)
		close(o.socket_dir_fd);
	if (fd < 0) {
		r = -1;
		goto out;
	}

	log_info("frontend connected");
	vbd_device_vu_info(dm.dev, &info);
	vu = vu_dev_new(fd, &info);
	if (!vu) {
		log_err("out of memory");
		close(fd);
		r = -ENOMEM;
	} else {
		r = vu_dev_run(vu);
		vbd_device_detach(dm.dev);
		vu_dev_free(vu);
	}
out:
	daemon_free(&dm);
	if (o.inject) {
		vbd_inject_log(o.inject);
		vbd_inject_free(o.inject);
	}
	return r ? 1 : 0;
}
