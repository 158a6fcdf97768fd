// SPDX-License-Identifier: GPL-2.0
/*
 * host-locker: take a POSIX write lock on FILE from the host and hold it
 * until UNLOCK_FILE exists, for the vbridgefs lock tests.  Prints
 * "locked" once it holds the lock.
 *
 *   host-locker FILE UNLOCK_FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, i;

	if (argc != 3) {
		fprintf(stderr, "usage: host-locker FILE UNLOCK_FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || fcntl(fd, F_SETLK, &fl)) {
		perror(argv[1]);
		return 1;
	}
	printf("locked\n");
	fflush(stdout);
	/* Give up after 10 minutes: a lost test must not leave it behind. */
	for (i = 0; i < 30000 && access(argv[2], F_OK); i++)
		usleep(20000);
	unlink(argv[2]);
	return 0;
}
