// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridgectl: send one command to vbridged's control socket and print
 * the answer.  Exits 0 on "ok", 1 on an error of any kind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "control.h"
#include "sock.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vbridgectl --socket=PATH COMMAND [ARGS]\n"
"Send a command to vbridged's control socket (--control-socket).\n"
"\n"
"  info                          list the scanouts\n"
"  screenshot SCANOUT FILE.png   save what SCANOUT shows as PNG\n"
"  dump SCANOUT FILE.rgb         save it as raw XRGB8888 rows; prints\n"
"                                WIDTH HEIGHT\n"
"  resize SCANOUT WIDTH HEIGHT   change SCANOUT's preferred mode and\n"
"                                tell the guest\n"
"\n"
"FILE is created by vbridgectl (mode 0600; an existing FILE or a\n"
"symbolic link is refused) and handed to the daemon, which may be\n"
"sandboxed and unable to see it.\n");
}

static __attribute__((noreturn, format(printf, 1, 2)))
void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vbridgectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Append s to the line, failing if it gets too long. */
static void append(char *line, const char *s)
{
	if (strlen(line) + strlen(s) + 2 > VBD_CONTROL_LINE_MAX)
		die("command too long");
	if (*line)
		strcat(line, " ");
	strcat(line, s);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		die("%s: path too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

/* Send line, with fd attached if it is >= 0. */
static ssize_t send_with_fd(int sock, const char *line, int fd)
{
	struct iovec iov = { .iov_base = (void *)line, .iov_len = strlen(line) };

	return vbd_send_fds(sock, &iov, 1, &fd, fd >= 0);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char line[VBD_CONTROL_LINE_MAX] = "", reply[1024];
	const char *path = NULL, *file = NULL;
	size_t len = 0;
	int c, i, fd, out = -1;

	while ((c = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!path || optind == argc) {
		usage(stderr);
		return 1;
	}

	for (i = optind; i < argc; i++) {
		if (strchr(argv[i], '\n'))
			die("arguments may not contain newlines");
		/* We create FILE and pass it: the daemon sends "-" there. */
		if (i == optind + 2 && (!strcmp(argv[optind], "screenshot") ||
					!strcmp(argv[optind], "dump"))) {
			file = argv[i];
			append(line, "-");
			continue;
		}
		append(line, argv[i]);
	}
	strcat(line, "\n");

	fd = connect_to(path);
	if (file) {
		out = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			   0600);
		if (out < 0)
			die("%s: %s", file, strerror(errno));
	}
	if (send_with_fd(fd, line, out) != (ssize_t)strlen(line)) {
		if (file)
			unlink(file);
		die("%s: %s", path, strerror(errno));
	}
	while (len < sizeof(reply) - 1 && !memchr(reply, '\n', len)) {
		ssize_t n = recv(fd, reply + len, sizeof(reply) - 1 - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (file)
				unlink(file);
			die("%s: no answer", path);
		}
		len += n;
	}
	close(fd);
	reply[len] = '\0';
	reply[strcspn(reply, "\n")] = '\0';

	if (out >= 0 && close(out) < 0)
		strcpy(reply, "error cannot write the file");
	if (!strncmp(reply, "ok", 2) && (!reply[2] || reply[2] == ' ')) {
		if (reply[2])
			puts(reply + 3);
		return 0;
	}
	if (file)
		unlink(file);
	if (!strncmp(reply, "error ", 6))
		die("%s", reply + 6);
	die("unexpected answer '%s'", reply);
}
