/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Storage layer: the host directories exported to the guest, each under
 * a tag.  Device logic uses them only through struct vbd_store_ops, so
 * that it can be tested against a fake.
 */
#ifndef VBD_SHARE_H
#define VBD_SHARE_H

#include <stdbool.h>

struct vbd_store;

struct vbd_store_ops {
	unsigned int (*num_exports)(const struct vbd_store *st);
	/* Tag of export i < num_exports(): 1..VBRIDGE_TAG_LEN bytes. */
	const char *(*export_tag)(const struct vbd_store *st, unsigned int i);
	/*
	 * O_PATH directory descriptor of export i, owned by the store, or
	 * -1 if the export has no host directory (test fakes).
	 */
	int (*export_dir)(const struct vbd_store *st, unsigned int i);
	bool (*export_readonly)(const struct vbd_store *st, unsigned int i);
	/*
	 * The fanotify group watching export i (vbd_fs_watch_open()), owned
	 * by the store, for one reader at a time: take gives it to the
	 * caller until it gives it back (-1: none, or taken already).
	 * NULL: none.
	 */
	int (*export_watch_take)(const struct vbd_store *st, unsigned int i);
	void (*export_watch_give)(const struct vbd_store *st, unsigned int i);
	void (*destroy)(struct vbd_store *st);
};

struct vbd_store {
	const struct vbd_store_ops *ops;
};

/*
 * Open the directories of --shared-dir TAG=DIR[:ro] arguments.  Returns
 * NULL after logging why one of them is unusable.
 */
struct vbd_store *vbd_share_store_open(char *const *specs, unsigned int n);

/*
 * Watch every export for host changes with fanotify where the kernel
 * and the filesystem allow it (logged either way).  Needs CAP_SYS_ADMIN:
 * before the sandbox.
 */
void vbd_share_store_watch(struct vbd_store *st);

/* Whether tag is a valid export tag: printable ASCII, no spaces. */
bool vbd_share_tag_valid(const char *tag);

#endif /* VBD_SHARE_H */
