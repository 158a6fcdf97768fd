/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The filesystem dispatcher against a temporary export: requests are
 * built from the input as the device would pass them (a chain of request
 * header and payload, and room for the response).
 */
#ifndef VBD_FUZZ_FS_COMMON_H
#define VBD_FUZZ_FS_COMMON_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <linux/vbridge.h>

#include "common.h"
#include "fs.h"
#include "log.h"
#include "share.h"

#define FS_OUT_ROOM	(64 * 1024)
#define FS_RESET_EVERY	2000

static char fs_dir[] = "/tmp/vbd-fuzz-fs-XXXXXX";
static struct vbd_store *fs_store;
static struct vbd_fs *fs;
static unsigned long fs_runs;

static void fs_no_event(void *opaque, const void *ev, uint32_t len)
{
}

static int fs_rm(const char *path, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	if (ftw->level)
		remove(path);
	return 0;
}

static int fs_init(void)
{
	static char spec[64];
	char *specs[1] = { spec };
	/* A key: GET_HANDLE and RESOLVE (MAC checks) are reached too. */
	struct vbd_fs_opts opts = { .max_fds = 256, .handle_key_set = true };

	vbd_log_level = VBD_LOG_ERROR;
	if (!mkdtemp(fs_dir))
		return -1;
	snprintf(spec, sizeof(spec), "fz=%s", fs_dir);
	fs_store = vbd_share_store_open(specs, 1);
	if (!fs_store)
		return -1;
	fs = vbd_fs_new(fs_store, &opts, fs_no_event, NULL);
	return fs ? 0 : -1;
}

/* Now and then: forget every node, empty the export. */
static void fs_maybe_reset(void)
{
	if (++fs_runs % FS_RESET_EVERY)
		return;
	vbd_fs_reset(fs);
	nftw(fs_dir, fs_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Run the requests of z, one after the other. */
static void fs_run(struct fz *z)
{
	static __thread uint8_t out[sizeof(struct vbridge_resp_hdr) + FS_OUT_ROOM];
	static __thread uint8_t in[sizeof(struct vbridge_req_hdr) + 8192];

	while (z->left >= 3) {
		uint32_t op = VBRIDGE_OP_FS_FIRST +
			      fz_uint(z, 1) % (VBRIDGE_OP_FS_READDIR_NAMES - VBRIDGE_OP_FS_FIRST + 2);
		size_t len = fz_uint(z, 2) % 8192, split = fz_uint(z, 1);
		const uint8_t *payload;
		struct virtq_chain *c = malloc(sizeof(*c));
		struct vbd_fs_req r;
		size_t room;

		if (!c)
			abort();
		len = fz_bytes(z, len, &payload);
		memset(in, 0, sizeof(struct vbridge_req_hdr));
		memcpy(in + sizeof(struct vbridge_req_hdr), payload, len);
		room = split & 1 ? FS_OUT_ROOM : split * 16;
		fz_chain(c, in, sizeof(struct vbridge_req_hdr) + len, split / 2,
			 out, sizeof(struct vbridge_resp_hdr) + room);
		r = (struct vbd_fs_req){
			.c = c,
			.opcode = op,
			.in_len = len,
			.out_max = room,
			.max_req_size = 1 << 20,
		};
		vbd_fs_handle(fs, &r);
		if (r.out_len > room)
			abort();
		free(c);
	}
}

#endif /* VBD_FUZZ_FS_COMMON_H */
