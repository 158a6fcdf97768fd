// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The filesystem requests called directly: see fs_direct.h.
 */
#include <dirent.h>
#include <endian.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_direct.h"
#include "tap.h"
#include "virtq.h"

char *path_in(const char *dir, const char *name)
{
	static char buf[4][512];
	static unsigned int i;
	char *p = buf[i++ % 4];

	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

/*
 * The filesystem dispatcher called directly from several threads, as
 * the request queues do: a request of len bytes of payload in, out_max
 * bytes out.
 */
int32_t direct_req(struct vbd_fs *fs, uint32_t opcode, const void *in,
		   size_t len, void *out, size_t out_max)
{
	uint8_t rd[sizeof(struct vbridge_req_hdr) + 512];
	uint8_t wr[sizeof(struct vbridge_resp_hdr) + 512];
	struct virtq_chain c = { 0 };
	struct vbd_fs_req r = {
		.c = &c, .opcode = opcode, .in_len = len,
		.out_max = out_max, .max_req_size = 65536,
	};
	int32_t err;

	CHECK(len <= 512 && out_max <= 512);
	memcpy(rd + sizeof(struct vbridge_req_hdr), in, len);
	c.iov[0] = (struct iovec){ rd, sizeof(struct vbridge_req_hdr) + len };
	c.iov[1] = (struct iovec){ wr, sizeof(struct vbridge_resp_hdr) + out_max };
	c.rd = &c.iov[0];
	c.nr_rd = 1;
	c.wr = &c.iov[1];
	c.nr_wr = 1;
	err = vbd_fs_handle(fs, &r);
	if (!err && out)
		memcpy(out, wr + sizeof(struct vbridge_resp_hdr), r.out_len);
	return err;
}

/* fs_in, then arg, then a name. */
int32_t direct_op(struct vbd_fs *fs, uint32_t opcode, uint64_t node,
		  uint64_t fh, const void *arg, size_t arg_len,
		  const char *name, void *out, size_t out_max)
{
	uint8_t buf[512];
	struct vbridge_fs_in in = {
		.nodeid = htole64(node), .fh = htole64(fh),
	};
	size_t len = sizeof(in);

	memcpy(buf, &in, sizeof(in));
	if (arg_len)
		memcpy(buf + len, arg, arg_len);
	len += arg_len;
	if (name) {
		memcpy(buf + len, name, strlen(name));
		len += strlen(name);
	}
	return direct_req(fs, opcode, buf, len, out, out_max);
}

static vbd_fs_event_fn *event_fn;
static void *event_opaque;

void direct_set_event_fn(vbd_fs_event_fn *fn, void *opaque)
{
	event_fn = fn;
	event_opaque = opaque;
}

static void direct_event(void *opaque, const void *ev, uint32_t len)
{
	if (event_fn)
		event_fn(event_opaque, ev, len);
}

void direct_setup_watch(struct direct_fs *d, const struct vbd_fs_opts *opts,
			bool watch)
{
	struct vbridge_fs_mount_in min = { .tag = "data" };
	struct vbridge_fs_entry_out e;
	char spec[128];
	char *specs[1] = { spec };

	strcpy(d->dir, "/tmp/vbridged-fs-XXXXXX");
	CHECK(mkdtemp(d->dir));
	snprintf(spec, sizeof(spec), "data=%s", d->dir);
	d->st = vbd_share_store_open(specs, 1);
	CHECK(d->st);
	if (watch)
		vbd_share_store_watch(d->st);
	d->fs = vbd_fs_new(d->st, opts, direct_event, NULL);
	CHECK(d->fs);
	CHECK_EQ(direct_op(d->fs, VBRIDGE_OP_FS_MOUNT, 0, 0, &min, sizeof(min),
			   NULL, &e, sizeof(e)), 0);
	d->root = le64toh(e.nodeid);
}

void direct_setup(struct direct_fs *d, const struct vbd_fs_opts *opts)
{
	direct_setup_watch(d, opts, false);
}

void direct_teardown(struct direct_fs *d)
{
	char cmd[128];

	vbd_fs_free(d->fs);
	d->st->ops->destroy(d->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	CHECK_EQ(system(cmd), 0);
}

int32_t direct_lookup(struct direct_fs *d, uint64_t parent, const char *name,
		      struct vbridge_fs_entry_out *e)
{
	struct vbridge_fs_name_in in = { .namelen = htole32(strlen(name)) };

	return direct_op(d->fs, VBRIDGE_OP_FS_LOOKUP, parent, 0, &in,
			 sizeof(in), name, e, sizeof(*e));
}

unsigned int count_watches(void)
{
	unsigned int n = 0;
	struct dirent *de;
	DIR *dir = opendir("/proc/self/fd");

	CHECK(dir);
	while ((de = readdir(dir))) {
		char link[64], path[300], line[256];
		ssize_t len;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = 0;
		if (strcmp(link, "anon_inode:inotify"))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			n += !strncmp(line, "inotify wd:", 11);
		fclose(f);
	}
	closedir(dir);
	return n;
}

