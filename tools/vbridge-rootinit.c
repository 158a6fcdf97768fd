// SPDX-License-Identifier: GPL-2.0
/*
 * The /init of the small initramfs (image/build-rootinit.sh) with which a
 * kernel that has vbridge as a module (Debian's) boots with its root on a
 * host directory: "vbridge run --kernel debian" and the Debian column of
 * scripts/boot-bench.sh.  It loads the modules the root needs, mounts it
 * and moves it over "/", then runs the root's init.  One static program
 * and the modules, uncompressed: no shell, no busybox and no decompression
 * between the kernel and the root (the test initramfs that did this took
 * seconds to unpack and run under TCG).
 *
 * The kernel gives it its parameters as environment variables (words of
 * the command line with "=" and no "." before it):
 *   vb_root=TAG              the export (vbridgefs) or mount tag (9p)
 *   vb_rootfstype=TYPE       vbridgefs (default) or 9p; the modules of
 *                            /lib/modules/TYPE are loaded, in name order
 *   vb_rootflags=OPTIONS     mount options (e.g. 9p's trans=virtio,...)
 *   vb_modules=SET[,SET]     also load /lib/modules/SET (e.g. display)
 * and runs the root's /bin/sh with its own arguments: the words of the
 * command line the kernel does not know and that hold no "=" (those after
 * "--", or the "-c" "COMMAND" of "init=/bin/sh -c COMMAND", whose init=
 * an initramfs's /init never sees), as the test initramfs's init did.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NEWROOT "/newroot"

static void fail(const char *what)
{
	fprintf(stderr, "vbridge-rootinit: %s: %s\n", what, strerror(errno));
	/* QEMU runs with -no-reboot: this ends the machine. */
	sync();
	reboot(RB_AUTOBOOT);
	_exit(1);
}

static int ko_filter(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 3 && !strcmp(d->d_name + len - 3, ".ko");
}

/*
 * Load every module of /lib/modules/SET in name order (the image names
 * them so that dependencies come first), freeing each file once loaded:
 * the initramfs stays in memory under the new root.
 */
static void load_set(const char *set, size_t len)
{
	char dir[128], path[512];
	struct dirent **names;
	int i, n, fd;

	if (snprintf(dir, sizeof(dir), "/lib/modules/%.*s", (int)len, set) >=
	    (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		fail("module set name");
	}
	n = scandir(dir, &names, ko_filter, alphasort);
	if (n < 0)
		fail(dir);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail(path);
		/* Already there (built in or loaded by the kernel): fine. */
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			fail(path);
		close(fd);
		unlink(path);
		free(names[i]);
	}
	free(names);
}

int main(int argc __attribute__((unused)), char **argv)
{
	const char *tag = getenv("vb_root");
	const char *type = getenv("vb_rootfstype");
	const char *flags = getenv("vb_rootflags");
	const char *sets = getenv("vb_modules");
	const char *p, *end;

	if (!tag || !*tag) {
		errno = EINVAL;
		fail("no vb_root= on the kernel command line");
	}
	if (!type || !*type)
		type = "vbridgefs";
	if (strchr(type, '/') || type[0] == '.') {
		errno = EINVAL;
		fail("vb_rootfstype");
	}
	load_set(type, strlen(type));
	for (p = sets; p && *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ',');
		if (end == p || memchr(p, '/', end - p) || *p == '.') {
			errno = EINVAL;
			fail("vb_modules");
		}
		load_set(p, end - p);
	}

	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST)
		fail(NEWROOT);
	if (mount(tag, NEWROOT, type, 0, flags) < 0)
		fail("mounting the root");
	/* As the kernel does for a root it mounts itself (DEVTMPFS_MOUNT). */
	if (mount("devtmpfs", NEWROOT "/dev", "devtmpfs", 0, NULL) < 0 &&
	    errno != ENOENT)
		fail("mounting devtmpfs on the root's /dev");
	/* switch_root: the initramfs stays below, but its modules are gone. */
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		fail("moving the root over /");

	/* The root's init sees only its own environment. */
	unsetenv("vb_root");
	unsetenv("vb_rootfstype");
	unsetenv("vb_rootflags");
	unsetenv("vb_modules");
	argv[0] = "/bin/sh";
	execv(argv[0], argv);
	fail(argv[0]);
	return 1;
}
