/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The filesystem requests without a device or frontend: vbd_fs_handle()
 * called directly, as the request queues do, on one temporary export
 * "data".  Shared by the filesystem and watcher tests.
 */
#ifndef VBD_TEST_FS_DIRECT_H
#define VBD_TEST_FS_DIRECT_H

#include <stddef.h>
#include <stdint.h>

#include <linux/vbridge.h>

#include "fs.h"

struct direct_fs {
	char dir[64];
	struct vbd_store *st;
	struct vbd_fs *fs;
	uint64_t root;
};

/* Events of the filesystem go to fn (NULL: dropped), from any thread. */
void direct_set_event_fn(vbd_fs_event_fn *fn, void *opaque);
/* A filesystem on a new temporary directory; watch: fanotify groups. */
void direct_setup_watch(struct direct_fs *d, const struct vbd_fs_opts *opts,
			bool watch);
void direct_setup(struct direct_fs *d, const struct vbd_fs_opts *opts);
void direct_teardown(struct direct_fs *d);
int32_t direct_req(struct vbd_fs *fs, uint32_t opcode, const void *in,
		   size_t len, void *out, size_t out_max);
int32_t direct_op(struct vbd_fs *fs, uint32_t opcode, uint64_t node,
		  uint64_t fh, const void *arg, size_t arg_len,
		  const char *name, void *out, size_t out_max);
int32_t direct_lookup(struct direct_fs *d, uint64_t parent, const char *name,
		      struct vbridge_fs_entry_out *e);
/* dir/name, in one of four rotating static buffers. */
char *path_in(const char *dir, const char *name);
/* The inotify watches the process holds. */
unsigned int count_watches(void);

#endif /* VBD_TEST_FS_DIRECT_H */
