// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vbridgectl: send one command to vbridged's control socket and print
 * the answer.  Exits 0 on "ok", 1 on an error of any kind.
 */
#include <errno.h>
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
"Relative FILE names are relative to the current directory.\n");
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char line[VBD_CONTROL_LINE_MAX] = "", reply[1024], cwd[PATH_MAX];
	const char *path = NULL;
	size_t len = 0;
	int c, i, fd;

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
		/* The daemon opens FILE from its own directory. */
		if (i == optind + 2 && argv[i][0] != '/' &&
		    (!strcmp(argv[optind], "screenshot") ||
		     !strcmp(argv[optind], "dump"))) {
			if (!getcwd(cwd, sizeof(cwd)))
				die("getcwd: %s", strerror(errno));
			append(line, cwd);
			strcat(line, "/");
			if (strlen(line) + strlen(argv[i]) + 2 > VBD_CONTROL_LINE_MAX)
				die("command too long");
			strcat(line, argv[i]);
			continue;
		}
		append(line, argv[i]);
	}
	strcat(line, "\n");

	fd = connect_to(path);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line))
		die("%s: %s", path, strerror(errno));
	while (len < sizeof(reply) - 1 && !memchr(reply, '\n', len)) {
		ssize_t n = recv(fd, reply + len, sizeof(reply) - 1 - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: no answer", path);
		len += n;
	}
	close(fd);
	reply[len] = '\0';
	reply[strcspn(reply, "\n")] = '\0';

	if (!strncmp(reply, "ok", 2) && (!reply[2] || reply[2] == ' ')) {
		if (reply[2])
			puts(reply + 3);
		return 0;
	}
	if (!strncmp(reply, "error ", 6))
		die("%s", reply + 6);
	die("unexpected answer '%s'", reply);
}
