// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge-info: print what the guest driver negotiated with the device.
 *
 * usage: vbridge-info [/dev/vbridgeN]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vbridge.h>

static const char *const feature_names[] = {
	[VBRIDGE_F_FS] = "fs",
	[VBRIDGE_F_DISPLAY] = "display",
	[VBRIDGE_F_MQ] = "mq",
	[VBRIDGE_F_EVENT_QUEUE] = "event-queue",
	[VBRIDGE_F_DEBUG] = "debug",
	[VBRIDGE_F_FS_HANDLES] = "fs-handles",
};

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/vbridge0";
	struct vbridge_ioc_info info;
	unsigned int i;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vbridge-info: %s: %s\n", path, strerror(errno));
		return 1;
	}
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, VBRIDGE_IOC_GET_INFO, &info) < 0) {
		fprintf(stderr, "vbridge-info: GET_INFO: %s\n", strerror(errno));
		return 1;
	}

	printf("device:          %s\n", path);
	printf("protocol:        %u.%u\n", info.major, info.minor);
	printf("features:        0x%llx (", (unsigned long long)info.features);
	for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (info.features & (1ULL << i))
			printf(" %s", feature_names[i]);
	printf(" )\n");
	printf("request queues:  %u\n", info.num_request_queues);
	printf("max request:     %u bytes\n", info.max_req_size);
	printf("max in flight:   %u per queue\n", info.max_inflight);
	if (info.num_scanouts)
		printf("display:         %u scanout(s), %ux%u\n", info.num_scanouts,
		       info.display_width, info.display_height);
	for (i = 0; i < info.num_tags && i < VBRIDGE_MAX_TAGS; i++)
		printf("tag %u:           %.*s\n", i, VBRIDGE_TAG_LEN, info.tags[i]);
	close(fd);
	return 0;
}
