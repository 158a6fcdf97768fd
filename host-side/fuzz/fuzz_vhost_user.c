// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The vhost-user message parser and state machine, through a real
 * socket: the input is a sequence of messages, each sent with the file
 * descriptors its request would carry (a memfd for the memory table,
 * eventfds otherwise) or a fuzzed number of them.  Guest memory is a
 * memfd whose start comes from the input too, so rings that the
 * messages set up are processed by the real device and its queue
 * threads.
 */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "common.h"
#include "device.h"
#include "log.h"
#include "share.h"
#include "sock.h"
#include "vhost_user.h"

#define GUEST_RAM	(256 * 1024)
#define MAX_PAYLOAD	4096

static struct vbd_store *store;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/tmp/vbd-fuzz-vu-XXXXXX";
	static char spec[64];
	char *specs[1] = { spec };

	vbd_log_level = VBD_LOG_ERROR;
	if (!mkdtemp(dir))
		return -1;
	snprintf(spec, sizeof(spec), "fz=%s", dir);
	store = vbd_share_store_open(specs, 1);
	return store ? 0 : -1;
}

static void *run(void *arg)
{
	vu_dev_run(arg);
	return NULL;
}

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[8192];

	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	return NULL;
}

static void send_msg(int sock, const void *buf, size_t len, const int *fds,
		     unsigned int nfds)
{
	struct iovec iov = { (void *)buf, len };

	vbd_send_fds(sock, &iov, 1, fds, nfds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };
	struct vbd_device *dev;
	struct vu_dev_info info;
	struct vu_dev *vu;
	pthread_t runner, drainer;
	const uint8_t *fill;
	int sv[2], memfd, efd;
	size_t n;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	memfd = memfd_create("guest", MFD_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (memfd < 0 || efd < 0 || ftruncate(memfd, GUEST_RAM))
		abort();
	n = fz_bytes(&z, fz_uint(&z, 2) % 4096, &fill);
	if (n && pwrite(memfd, fill, n, 0) != (ssize_t)n)
		abort();

	dev = vbd_device_new(store, 1 + fz_uint(&z, 1) % 2, NULL);
	if (!dev)
		abort();
	vbd_device_vu_info(dev, &info);
	vu = vu_dev_new(sv[1], &info);
	if (!vu)
		abort();
	pthread_create(&runner, NULL, run, vu);
	pthread_create(&drainer, NULL, drain, &sv[0]);

	while (z.left >= 4) {
		uint8_t msg[12 + MAX_PAYLOAD];
		uint32_t req = fz_uint(&z, 1) % 44;
		uint32_t flags = fz_uint(&z, 1);
		uint32_t len = fz_uint(&z, 2) % (MAX_PAYLOAD + 16);
		uint32_t nfds, i;
		int fds[8];
		const uint8_t *payload;

		/* Mostly well-formed flags: version 1, maybe NEED_REPLY. */
		flags = flags & 0x80 ? flags : 0x1 | (flags & 0x8);
		nfds = (req == 5 || (req >= 12 && req <= 14)) ? 1 : 0;
		if (fz_uint(&z, 1) % 8 == 0)
			nfds = fz_uint(&z, 1) % 9;
		memcpy(msg, &req, 4);
		memcpy(msg + 4, &flags, 4);
		memcpy(msg + 8, &len, 4);
		n = fz_bytes(&z, len > MAX_PAYLOAD ? MAX_PAYLOAD : len, &payload);
		memcpy(msg + 12, payload, n);
		for (i = 0; i < nfds; i++)
			fds[i] = req == 5 ? memfd : efd;
		send_msg(sv[0], msg, 12 + n, fds, nfds);
	}
	shutdown(sv[0], SHUT_WR);
	pthread_join(runner, NULL);
	vbd_device_detach(dev);
	vu_dev_free(vu);		/* closes sv[1]: the drainer sees EOF */
	pthread_join(drainer, NULL);
	vbd_device_free(dev);
	close(sv[0]);
	close(memfd);
	close(efd);
	return 0;
}
