// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The display requests (vbd_display_handle) against fuzzed guest memory,
 * interleaved with control socket commands (vbd_control_command).  The
 * display lives across inputs and is reset now and then, so resources,
 * scanouts and the accounting of what they hold carry over.  Commands
 * that write a file always write to a passed /dev/null, never to a path.
 */
#include <fcntl.h>
#include <stdlib.h>

#include <linux/vbridge.h>

#include "common.h"
#include "control.h"
#include "display.h"
#include "log.h"

#define RAM		(1024 * 1024)
#define RESET_EVERY	500

static uint8_t *ram;
static struct virtq_mem mem = { .nregions = 1 };
static struct vbd_display *display;
static int devnull;
static unsigned long runs;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int no_event(void *opaque, const void *ev, uint32_t len)
{
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vbd_display_opts opts = { 2, 640, 480 };

	vbd_log_level = VBD_LOG_ERROR;
	ram = calloc(1, RAM);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	display = vbd_display_new(&opts, no_event, NULL);
	mem.regions[0] = (struct virtq_mem_region){
		.gpa = 0, .uva = 0, .size = RAM, .hva = ram };
	return ram && devnull >= 0 && display ? 0 : -1;
}

static void control(struct fz *z)
{
	char line[VBD_CONTROL_LINE_MAX], reply[1024], *sp;
	const uint8_t *p;
	size_t n = fz_bytes(z, fz_uint(z, 1), &p);

	memcpy(line, p, n);
	line[n] = '\0';
	/* Modes are the host's choice: set below, bounded. */
	if (!strncmp(line, "resize", 6))
		return;
	/* File commands: keep "VERB SCANOUT", write to the passed fd. */
	if (!strncmp(line, "screenshot ", 11) || !strncmp(line, "dump ", 5)) {
		sp = strchr(strchr(line, ' ') + 1, ' ');
		if (sp)
			strcpy(sp, " -");
	}
	vbd_control_command(display, line, devnull, reply, sizeof(reply));
}

static void request(struct fz *z)
{
	static uint8_t in[sizeof(struct vbridge_req_hdr) + 65536];
	static uint8_t out[sizeof(struct vbridge_resp_hdr) + 4096];
	static struct virtq_chain c;
	uint32_t op = VBRIDGE_OP_DISPLAY_FIRST + fz_uint(z, 1) % 8;
	size_t len = fz_uint(z, 2), room = fz_uint(z, 1) & 1 ? 4096 : 264;
	const uint8_t *p;
	struct vbd_display_req r;

	len = fz_bytes(z, len, &p);
	memset(in, 0, sizeof(struct vbridge_req_hdr));
	memcpy(in + sizeof(struct vbridge_req_hdr), p, len);
	fz_chain(&c, in, sizeof(struct vbridge_req_hdr) + len, len / 3, out,
		 sizeof(struct vbridge_resp_hdr) + room);
	r = (struct vbd_display_req){
		.c = &c, .mem = &mem, .opcode = op, .in_len = len, .out_max = room,
	};
	vbd_display_handle(display, &r);
	if (r.out_len > room)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };
	const uint8_t *fill;
	size_t n;

	/* Guest memory: a fuzzed prefix, zeros after it. */
	n = fz_bytes(&z, fz_uint(&z, 2), &fill);
	memcpy(ram, fill, n);
	while (z.left) {
		switch (fz_uint(&z, 1) % 4) {
		case 0:
			control(&z);
			break;
		case 1:
			/* What an administrator might set: up to 2K x 2K. */
			if (fz_uint(&z, 1) & 1)
				vbd_display_set_mode(display, fz_uint(&z, 1) % 3,
						     fz_uint(&z, 2) % 2049,
						     fz_uint(&z, 2) % 2049);
			break;
		default:
			request(&z);
		}
	}
	memset(ram, 0, n);
	if (++runs % RESET_EVERY == 0)
		vbd_display_reset(display);
	return 0;
}
