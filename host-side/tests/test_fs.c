// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Filesystem request tests: the fake frontend against a device that
 * exports temporary directories.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <linux/vbridge.h>

#include "frontend.h"
#include "fs_direct.h"
#include "fs_xattr.h"
#include "tap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* A reply structure at offset off of the (unaligned) payload. */
#define OUT(r, type, off)						\
	({ type v_; memcpy(&v_, (r).payload + (off), sizeof(v_)); v_; })

struct tfs {
	struct fe f;
	char dir[64];		/* export "data" */
	char other[64];		/* export "other", read-only */
	uint64_t root;
};

static void fs_start(struct tfs *t, const struct vbd_fs_opts *opts);

static void fs_setup_opts(struct tfs *t, const struct vbd_fs_opts *opts)
{
	strcpy(t->dir, "/tmp/vbridged-fs-XXXXXX");
	strcpy(t->other, "/tmp/vbridged-ro-XXXXXX");
	CHECK(mkdtemp(t->dir));
	CHECK(mkdtemp(t->other));
	fs_start(t, opts);
}

/* A new device on the directories of t, as after a restart of vbridged. */
static void fs_start(struct tfs *t, const struct vbd_fs_opts *opts)
{
	char spec0[128], spec1[128];
	char *specs[2] = { spec0, spec1 };
	struct vbd_store *st;

	snprintf(spec0, sizeof(spec0), "data=%s", t->dir);
	snprintf(spec1, sizeof(spec1), "other=%s:ro", t->other);
	st = vbd_share_store_open(specs, 2);
	CHECK(st);
	fe_start_store(&t->f, 1, st, opts);
	fe_handshake(&t->f, 0);
	fe_setup_all(&t->f, 64);
	CHECK_EQ(fe_init(&t->f, 1), 0);
}

static void fs_teardown_dirs(struct tfs *t)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", t->dir, t->other);
	CHECK_EQ(system(cmd), 0);
}

static void fs_teardown(struct tfs *t)
{
	CHECK_EQ(fe_stop(&t->f), 0);
	fs_teardown_dirs(t);
}

/* A filesystem request: fs_in, then arg, then up to two byte strings. */
struct freq {
	uint64_t nodeid, fh;
	uint32_t uid, gid;
	unsigned int ngroups;		/* supplementary groups */
	const uint32_t *groups;
	const void *arg;
	size_t arg_len;
	const void *s1;
	size_t s1_len;
	const void *s2;
	size_t s2_len;
	uint32_t out_room;
};

static int32_t fsreq(struct tfs *t, uint32_t opcode, const struct freq *q,
		     struct fe_resp *resp)
{
	static uint8_t buf[VBRIDGE_FS_XATTR_SIZE_MAX + 1024];
	struct vbridge_fs_in in = {
		.nodeid = htole64(q->nodeid),
		.fh = htole64(q->fh),
		.uid = htole32(q->uid),
		.gid = htole32(q->gid),
		.pid = htole32(1234),
		.ngroups = htole32(q->ngroups),
	};
	size_t len = 0;
	unsigned int i;

	/* ngroups may be out of range on purpose: the list cannot. */
	for (i = 0; i < q->ngroups && i < VBRIDGE_FS_GROUPS_MAX; i++)
		in.groups[i] = htole32(q->groups[i]);

	memcpy(buf, &in, sizeof(in));
	len += sizeof(in);
	if (q->arg_len)
		memcpy(buf + len, q->arg, q->arg_len);
	len += q->arg_len;
	if (q->s1_len)
		memcpy(buf + len, q->s1, q->s1_len);
	len += q->s1_len;
	if (q->s2_len)
		memcpy(buf + len, q->s2, q->s2_len);
	len += q->s2_len;
	fe_request(&t->f, 1, opcode, buf, len, q->out_room ?: 512, resp);
	return resp->error;
}

static uint64_t mount_tag(struct tfs *t, const char *tag, int32_t *err)
{
	struct vbridge_fs_mount_in in = { 0 };
	struct fe_resp r;

	memcpy(in.tag, tag, strlen(tag));
	*err = fsreq(t, VBRIDGE_OP_FS_MOUNT,
		     &(struct freq){ .arg = &in, .arg_len = sizeof(in) }, &r);
	if (*err)
		return 0;
	CHECK_EQ(r.len, sizeof(struct vbridge_resp_hdr) +
		 sizeof(struct vbridge_fs_entry_out));
	return le64toh(OUT(r, struct vbridge_fs_entry_out, 0).nodeid);
}

static void fs_setup(struct tfs *t)
{
	int32_t err;

	fs_setup_opts(t, NULL);
	t->root = mount_tag(t, "data", &err);
	CHECK_EQ(err, 0);
	CHECK(t->root);
}

/* Requests that name a child and answer an entry. */
static int32_t name_op(struct tfs *t, uint32_t opcode, uint64_t parent,
		       const char *name, uint32_t uid,
		       struct vbridge_fs_entry_out *e)
{
	struct vbridge_fs_name_in in = { .namelen = htole32(strlen(name)) };
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, opcode, &(struct freq){
		.nodeid = parent, .uid = uid, .gid = uid, .arg = &in,
		.arg_len = sizeof(in), .s1 = name, .s1_len = strlen(name) }, &r);
	if (!err && e)
		memcpy(e, r.payload, sizeof(*e));
	return err;
}

static int32_t lookup(struct tfs *t, uint64_t parent, const char *name,
		      struct vbridge_fs_entry_out *e)
{
	return name_op(t, VBRIDGE_OP_FS_LOOKUP, parent, name, 0, e);
}

static uint64_t lookup_id(struct tfs *t, uint64_t parent, const char *name)
{
	struct vbridge_fs_entry_out e;

	CHECK_EQ(lookup(t, parent, name, &e), 0);
	return le64toh(e.nodeid);
}

static int32_t mkdir_as(struct tfs *t, uint64_t parent, const char *name,
			uint32_t mode, uint32_t uid, uint64_t *id)
{
	struct vbridge_fs_mknod_in in = {
		.mode = htole32(S_IFDIR | mode),
		.namelen = htole32(strlen(name)),
	};
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_MKDIR, &(struct freq){
		.nodeid = parent, .uid = uid, .gid = uid, .arg = &in,
		.arg_len = sizeof(in), .s1 = name, .s1_len = strlen(name) }, &r);
	if (!err && id)
		*id = le64toh(OUT(r, struct vbridge_fs_entry_out, 0).nodeid);
	return err;
}

static int32_t create_as(struct tfs *t, uint64_t parent, const char *name,
			 uint32_t flags, uint32_t uid, uint64_t *id,
			 uint64_t *fh)
{
	struct vbridge_fs_open_in in = {
		.flags = htole32(flags),
		.mode = htole32(0644),
		.namelen = htole32(strlen(name)),
	};
	struct vbridge_fs_open_out o;
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_CREATE, &(struct freq){
		.nodeid = parent, .uid = uid, .gid = uid, .arg = &in,
		.arg_len = sizeof(in), .s1 = name, .s1_len = strlen(name) }, &r);
	if (err)
		return err;
	CHECK_EQ(r.len, 16 + sizeof(struct vbridge_fs_entry_out) + sizeof(o));
	o = OUT(r, struct vbridge_fs_open_out, sizeof(struct vbridge_fs_entry_out));
	if (id)
		*id = le64toh(OUT(r, struct vbridge_fs_entry_out, 0).nodeid);
	if (fh)
		*fh = le64toh(o.fh);
	return 0;
}

static int32_t do_open(struct tfs *t, uint32_t opcode, uint64_t id,
		       uint32_t flags, uint64_t *fh)
{
	struct vbridge_fs_open_in in = { .flags = htole32(flags) };
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, opcode, &(struct freq){
		.nodeid = id, .arg = &in, .arg_len = sizeof(in) }, &r);
	if (!err)
		*fh = le64toh(OUT(r, struct vbridge_fs_open_out, 0).fh);
	return err;
}

static int32_t do_write(struct tfs *t, uint64_t id, uint64_t fh,
			uint64_t off, const void *data, uint32_t len)
{
	struct vbridge_fs_write_in in = {
		.offset = htole64(off), .size = htole32(len),
	};
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_WRITE, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &in, .arg_len = sizeof(in),
		.s1 = data, .s1_len = len }, &r);
	if (!err)
		CHECK_EQ(le32toh(OUT(r, struct vbridge_fs_write_out, 0).size),
			 len);
	return err;
}

/* READ of up to len bytes into data; bytes read or the error. */
static int32_t do_read(struct tfs *t, uint64_t id, uint64_t fh,
		       uint64_t off, void *data, uint32_t len)
{
	struct vbridge_fs_read_in in = {
		.offset = htole64(off), .size = htole32(len),
	};
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_READ, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &in, .arg_len = sizeof(in),
		.out_room = len }, &r);
	if (err)
		return err;
	memcpy(data, r.payload, r.len - 16);
	return r.len - 16;
}

static int32_t getattr(struct tfs *t, uint64_t id, struct vbridge_fs_attr *a)
{
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_GETATTR, &(struct freq){ .nodeid = id }, &r);
	if (!err)
		*a = OUT(r, struct vbridge_fs_attr_out, 0).attr;
	return err;
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, data, strlen(data)), strlen(data));
	close(fd);
}

static void test_mount(void)
{
	struct tfs t;
	int32_t err;

	fs_setup_opts(&t, NULL);
	CHECK(mount_tag(&t, "data", &err));
	CHECK_EQ(err, 0);
	CHECK(mount_tag(&t, "other", &err));
	CHECK_EQ(err, 0);
	mount_tag(&t, "nope", &err);
	CHECK_EQ(err, -ENOENT);
	mount_tag(&t, "dat", &err);
	CHECK_EQ(err, -ENOENT);
	fs_teardown(&t);
}

static void test_lookup_getattr(void)
{
	struct vbridge_fs_entry_out e1, e2, e3;
	struct vbridge_fs_attr a;
	struct tfs t;
	struct stat st;

	fs_setup(&t);
	write_file(path_in(t.dir, "f"), "hello");
	CHECK(link(path_in(t.dir, "f"), path_in(t.dir, "hard")) == 0);
	CHECK_EQ(lookup(&t, t.root, "missing", NULL), -ENOENT);
	CHECK_EQ(lookup(&t, t.root, "f", &e1), 0);
	CHECK_EQ(lookup(&t, t.root, "f", &e2), 0);
	CHECK_EQ(lookup(&t, t.root, "hard", &e3), 0);
	CHECK(e1.nodeid);
	CHECK_EQ(e1.nodeid, e2.nodeid);
	CHECK_EQ(e1.nodeid, e3.nodeid);
	CHECK(stat(path_in(t.dir, "f"), &st) == 0);
	CHECK_EQ(le64toh(e1.attr.ino), st.st_ino);
	CHECK_EQ(le64toh(e1.attr.size), 5);
	CHECK_EQ(le32toh(e1.attr.nlink), 2);
	CHECK_EQ(le32toh(e1.attr.mode), st.st_mode);
	CHECK_EQ(le64toh(e1.attr_valid_ns), VBD_FS_DEFAULT_TIMEOUT_NS);
	CHECK_EQ(le64toh(e1.entry_valid_ns), VBD_FS_DEFAULT_TIMEOUT_NS);
	CHECK_EQ(getattr(&t, le64toh(e1.nodeid), &a), 0);
	CHECK_EQ(le64toh(a.size), 5);
	/* Lookups through a file. */
	CHECK_EQ(lookup(&t, le64toh(e1.nodeid), "x", NULL), -ENOTDIR);
	fs_teardown(&t);
}

static void test_forget(void)
{
	struct vbridge_fs_forget_in in = { .nlookup = htole64(2) };
	struct vbridge_fs_attr a;
	struct fe_resp r;
	uint64_t id;
	struct tfs t;

	fs_setup(&t);
	write_file(path_in(t.dir, "f"), "x");
	id = lookup_id(&t, t.root, "f");
	CHECK_EQ(lookup_id(&t, t.root, "f"), id);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_FORGET, &(struct freq){
		.nodeid = id, .arg = &in, .arg_len = sizeof(in) }, &r), 0);
	CHECK_EQ(getattr(&t, id, &a), -ESTALE);
	/* A new lookup gets a new id. */
	CHECK(lookup_id(&t, t.root, "f") != id);
	fs_teardown(&t);
}

/*
 * A guest outlives its vbridged: the ids the earlier one gave (node ids
 * and handles) must name nothing in the new one, never another file.
 */
static void test_ids_per_instance(void)
{
	uint64_t id, root, fh, gid, gfh;
	struct vbridge_fs_attr a;
	struct tfs t;
	char c;

	fs_setup(&t);
	write_file(path_in(t.dir, "f"), "x");
	id = lookup_id(&t, t.root, "f");
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPEN, id, O_RDONLY, &fh), 0);
	root = t.root;
	fs_teardown(&t);

	/* The same steps on another file: sequential ids would repeat. */
	fs_setup(&t);
	write_file(path_in(t.dir, "g"), "y");
	gid = lookup_id(&t, t.root, "g");
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPEN, gid, O_RDONLY, &gfh), 0);
	CHECK(t.root != root);
	CHECK(getattr(&t, root, &a) < 0);
	CHECK(getattr(&t, id, &a) < 0);
	CHECK(do_read(&t, gid, fh, 0, &c, 1) < 0);
	CHECK_EQ(do_read(&t, gid, gfh, 0, &c, 1), 1);
	fs_teardown(&t);
}

static void test_batch_forget(void)
{
	struct {
		struct vbridge_fs_batch_forget_in in;
		struct vbridge_fs_forget_one one[3];
	} b = { .in.count = htole32(3) };
	struct vbridge_fs_attr a;
	uint64_t f, g, h;
	struct fe_resp r;
	struct tfs t;

	fs_setup(&t);
	write_file(path_in(t.dir, "f"), "x");
	write_file(path_in(t.dir, "g"), "y");
	write_file(path_in(t.dir, "h"), "z");
	f = lookup_id(&t, t.root, "f");
	CHECK_EQ(lookup_id(&t, t.root, "f"), f);
	g = lookup_id(&t, t.root, "g");
	h = lookup_id(&t, t.root, "h");
	CHECK_EQ(lookup_id(&t, t.root, "h"), h);
	/* f's two lookups, g's one, one of h's two, and an unknown id. */
	b.one[0] = (struct vbridge_fs_forget_one){ htole64(f), htole64(2) };
	b.one[1] = (struct vbridge_fs_forget_one){ htole64(g), htole64(1) };
	b.one[2] = (struct vbridge_fs_forget_one){ htole64(h), htole64(1) };
	/* More entries than the payload holds, or padding set: refused. */
	b.in.count = htole32(4);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_BATCH_FORGET, &(struct freq){
		.nodeid = t.root, .arg = &b, .arg_len = sizeof(b) }, &r),
		 -EINVAL);
	b.in.count = htole32(3);
	b.in.padding = htole32(1);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_BATCH_FORGET, &(struct freq){
		.nodeid = t.root, .arg = &b, .arg_len = sizeof(b) }, &r),
		 -EINVAL);
	b.in.padding = 0;
	CHECK_EQ(getattr(&t, f, &a), 0);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_BATCH_FORGET, &(struct freq){
		.nodeid = t.root, .arg = &b, .arg_len = sizeof(b) }, &r), 0);
	CHECK_EQ(getattr(&t, f, &a), -ESTALE);
	CHECK_EQ(getattr(&t, g, &a), -ESTALE);
	CHECK_EQ(getattr(&t, h, &a), 0);
	/* Ids gone meanwhile are skipped. */
	b.one[0].nlookup = htole64(1);
	b.in.count = htole32(1);
	b.one[0].nodeid = htole64(g);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_BATCH_FORGET, &(struct freq){
		.nodeid = t.root, .arg = &b,
		.arg_len = sizeof(b.in) + sizeof(b.one[0]) }, &r), 0);
	CHECK_EQ(getattr(&t, h, &a), 0);
	/* A new lookup of a forgotten name gets a new id. */
	CHECK(lookup_id(&t, t.root, "f") != f);
	fs_teardown(&t);
}

static void test_create_excl(void)
{
	uint64_t id, fh;
	struct tfs t;
	struct stat st;

	fs_setup(&t);
	CHECK_EQ(create_as(&t, t.root, "new", O_RDWR | O_EXCL, 0, &id, &fh), 0);
	CHECK(stat(path_in(t.dir, "new"), &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(create_as(&t, t.root, "new", O_RDWR | O_EXCL, 0, NULL, NULL),
		 -EEXIST);
	/* Without O_EXCL the existing file is opened. */
	CHECK_EQ(create_as(&t, t.root, "new", O_RDWR, 0, NULL, NULL), 0);
	fs_teardown(&t);
}

static void test_mkdir_rmdir(void)
{
	uint64_t d;
	struct tfs t;

	fs_setup(&t);
	CHECK_EQ(mkdir_as(&t, t.root, "d", 0755, 0, &d), 0);
	CHECK_EQ(mkdir_as(&t, t.root, "d", 0755, 0, NULL), -EEXIST);
	CHECK_EQ(mkdir_as(&t, d, "sub", 0755, 0, NULL), 0);
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_RMDIR, t.root, "d", 0, NULL),
		 -ENOTEMPTY);
	write_file(path_in(t.dir, "file"), "");
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_RMDIR, t.root, "file", 0, NULL),
		 -ENOTDIR);
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_RMDIR, d, "sub", 0, NULL), 0);
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_RMDIR, t.root, "d", 0, NULL), 0);
	CHECK(access(path_in(t.dir, "d"), F_OK) < 0);
	fs_teardown(&t);
}

static void test_unlink(void)
{
	struct tfs t;

	fs_setup(&t);
	CHECK(mkdir(path_in(t.dir, "d"), 0755) == 0);
	write_file(path_in(t.dir, "f"), "");
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_UNLINK, t.root, "d", 0, NULL), -EISDIR);
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_UNLINK, t.root, "f", 0, NULL), 0);
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_UNLINK, t.root, "f", 0, NULL), -ENOENT);
	fs_teardown(&t);
}

static int32_t symlink_op(struct tfs *t, uint64_t parent, const char *name,
			  const char *target, uint64_t *id)
{
	struct vbridge_fs_symlink_in in = {
		.namelen = htole32(strlen(name)),
		.targetlen = htole32(strlen(target)),
	};
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_SYMLINK, &(struct freq){
		.nodeid = parent, .arg = &in, .arg_len = sizeof(in),
		.s1 = name, .s1_len = strlen(name),
		.s2 = target, .s2_len = strlen(target) }, &r);
	if (!err && id)
		*id = le64toh(OUT(r, struct vbridge_fs_entry_out, 0).nodeid);
	return err;
}

static void test_symlink_readlink(void)
{
	struct vbridge_fs_entry_out e;
	struct fe_resp r;
	char buf[64];
	uint64_t id;
	struct tfs t;

	fs_setup(&t);
	CHECK_EQ(symlink_op(&t, t.root, "l", "../some/where", &id), 0);
	CHECK_EQ(readlink(path_in(t.dir, "l"), buf, sizeof(buf)), 13);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_READLINK,
		       &(struct freq){ .nodeid = id }, &r), 0);
	CHECK_EQ(r.len, 16 + 13);
	CHECK(!memcmp(r.payload, "../some/where", 13));
	CHECK_EQ(lookup(&t, t.root, "l", &e), 0);
	CHECK(S_ISLNK(le32toh(e.attr.mode)));
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_READLINK,
		       &(struct freq){ .nodeid = t.root }, &r), -EINVAL);
	fs_teardown(&t);
}

static void test_link(void)
{
	struct vbridge_fs_link_in in = { .namelen = htole32(2) };
	struct vbridge_fs_entry_out e;
	struct fe_resp r;
	uint64_t id;
	struct tfs t;

	fs_setup(&t);
	write_file(path_in(t.dir, "f"), "abc");
	id = lookup_id(&t, t.root, "f");
	in.newparent = htole64(t.root);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LINK, &(struct freq){
		.nodeid = id, .arg = &in, .arg_len = sizeof(in),
		.s1 = "f2", .s1_len = 2 }, &r), 0);
	e = OUT(r, struct vbridge_fs_entry_out, 0);
	CHECK_EQ(le64toh(e.nodeid), id);
	CHECK_EQ(le32toh(e.attr.nlink), 2);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LINK, &(struct freq){
		.nodeid = t.root, .arg = &in, .arg_len = sizeof(in),
		.s1 = "f3", .s1_len = 2 }, &r), -EPERM);
	fs_teardown(&t);
}

static int32_t rename_op(struct tfs *t, uint64_t parent, const char *old,
			 uint64_t newparent, const char *new, uint32_t flags)
{
	struct vbridge_fs_rename_in in = {
		.newparent = htole64(newparent),
		.flags = htole32(flags),
		.oldnamelen = htole32(strlen(old)),
		.newnamelen = htole32(strlen(new)),
	};
	struct fe_resp r;

	return fsreq(t, VBRIDGE_OP_FS_RENAME, &(struct freq){
		.nodeid = parent, .arg = &in, .arg_len = sizeof(in),
		.s1 = old, .s1_len = strlen(old),
		.s2 = new, .s2_len = strlen(new) }, &r);
}

static void test_rename(void)
{
	char buf[8] = { 0 };
	uint64_t d;
	struct tfs t;
	int fd;

	fs_setup(&t);
	write_file(path_in(t.dir, "a"), "A");
	write_file(path_in(t.dir, "b"), "B");
	CHECK_EQ(mkdir_as(&t, t.root, "d", 0755, 0, &d), 0);
	CHECK_EQ(rename_op(&t, t.root, "a", t.root, "b",
			   VBRIDGE_FS_RENAME_NOREPLACE), -EEXIST);
	CHECK_EQ(rename_op(&t, t.root, "a", t.root, "b",
			   VBRIDGE_FS_RENAME_EXCHANGE), 0);
	fd = open(path_in(t.dir, "a"), O_RDONLY | O_CLOEXEC);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 1);
	close(fd);
	CHECK(!strcmp(buf, "B"));
	CHECK_EQ(rename_op(&t, t.root, "a", d, "moved", 0), 0);
	CHECK(access(path_in(t.dir, "d/moved"), F_OK) == 0);
	CHECK_EQ(rename_op(&t, t.root, "a", t.root, "c", 0), -ENOENT);
	CHECK_EQ(rename_op(&t, t.root, "b", t.root, "c", 1 << 7), -EINVAL);
	fs_teardown(&t);
}

static void test_read_write(void)
{
	static uint8_t data[6000], back[6000];
	uint64_t id, fh;
	struct tfs t;
	size_t i;

	fs_setup(&t);
	for (i = 0; i < sizeof(data); i++)
		data[i] = i * 13 + 1;
	CHECK_EQ(create_as(&t, t.root, "f", O_RDWR, 0, &id, &fh), 0);
	CHECK_EQ(do_write(&t, id, fh, 0, data, sizeof(data)), 0);
	CHECK_EQ(do_read(&t, id, fh, 0, back, sizeof(back)), sizeof(back));
	CHECK(!memcmp(data, back, sizeof(data)));
	CHECK_EQ(do_read(&t, id, fh, 5990, back, 100), 10);
	CHECK_EQ(do_read(&t, id, fh, 7000, back, 100), 0);
	/* Wrong handles. */
	CHECK_EQ(do_read(&t, id, fh + 1000, 0, back, 10), -EBADF);
	CHECK_EQ(do_read(&t, t.root, fh, 0, back, 10), -EBADF);
	CHECK_EQ(do_write(&t, 99999, fh, 0, data, 10), -ESTALE);
	fs_teardown(&t);
}

/* VBRIDGE_FS_WRITE_APPEND writes at the end whatever the offset says. */
static void test_write_append(void)
{
	struct vbridge_fs_write_in in = {
		.size = htole32(3), .flags = htole32(VBRIDGE_FS_WRITE_APPEND),
	};
	uint8_t back[16];
	uint64_t id, fh;
	struct fe_resp r;
	struct tfs t;

	fs_setup(&t);
	CHECK_EQ(create_as(&t, t.root, "f", O_RDWR, 0, &id, &fh), 0);
	CHECK_EQ(do_write(&t, id, fh, 0, "hello", 5), 0);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_WRITE, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &in, .arg_len = sizeof(in),
		.s1 = "abc", .s1_len = 3 }, &r), 0);
	CHECK_EQ(le32toh(OUT(r, struct vbridge_fs_write_out, 0).size), 3);
	CHECK_EQ(do_read(&t, id, fh, 0, back, sizeof(back)), 8);
	CHECK(!memcmp(back, "helloabc", 8));
	/* Unknown flags are refused. */
	in.flags = htole32(1u << 31);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_WRITE, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &in, .arg_len = sizeof(in),
		.s1 = "abc", .s1_len = 3 }, &r), -EINVAL);
	fs_teardown(&t);
}

/* WRITE then READ with headers and payloads spread over descriptors. */
#define FSIN ((uint32_t)sizeof(struct vbridge_fs_in))
static void test_read_write_split(void)
{
	static const uint32_t pieces[] = { 100, 1000, 3, 2993 };
	struct vbridge_fs_write_in win = { .size = htole32(4096) };
	struct vbridge_fs_read_in rin = { .size = htole32(4096) };
	struct drv_buf bufs[8];
	uint8_t req[24 + FSIN + 16 + 4096], out[4096];
	struct vbridge_req_hdr *hdr = (void *)req;
	struct vbridge_fs_in *in = (void *)(req + 24);
	uint32_t id, len;
	uint64_t node, fh;
	unsigned int i, n;
	size_t off;
	struct tfs t;

	fs_setup(&t);
	CHECK_EQ(create_as(&t, t.root, "f", O_RDWR, 0, &node, &fh), 0);
	memset(req, 0, sizeof(req));
	hdr->opcode = htole32(VBRIDGE_OP_FS_WRITE);
	hdr->len = htole32(sizeof(req));
	in->nodeid = htole64(node);
	in->fh = htole64(fh);
	memcpy(req + 24 + FSIN, &win, sizeof(win));
	for (i = 0; i < 4096; i++)
		req[24 + FSIN + 16 + i] = i * 7;
	/* The readable part in pieces of 50 bytes, then the reply. */
	for (n = 0, off = 0; off < sizeof(req); n++) {
		size_t l = sizeof(req) - off < 50 ? sizeof(req) - off : 50;

		if (n == 6)	/* the rest in one */
			l = sizeof(req) - off;
		bufs[n] = (struct drv_buf){ drv_alloc(&t.f, l), l, false };
		memcpy(gpa_ptr(&t.f, bufs[n].gpa), req + off, l);
		off += l;
	}
	bufs[n++] = (struct drv_buf){ drv_alloc(&t.f, 24), 24, true };
	drv_add(&t.f, 1, bufs, n, false);
	drv_kick(&t.f, 1);
	CHECK(drv_wait_used(&t.f, 1, &id, &len, 5000));
	CHECK_EQ(len, 24);
	CHECK_EQ(*(int32_t *)gpa_ptr(&t.f, bufs[n - 1].gpa), 0);

	/* READ into four writable pieces after a split response header. */
	hdr->opcode = htole32(VBRIDGE_OP_FS_READ);
	hdr->len = htole32(24 + FSIN + 16);
	memcpy(req + 24 + FSIN, &rin, sizeof(rin));
	bufs[0] = (struct drv_buf){ drv_alloc(&t.f, 24 + FSIN + 16), 24 + FSIN + 16, false };
	memcpy(gpa_ptr(&t.f, bufs[0].gpa), req, 24 + FSIN + 16);
	bufs[1] = (struct drv_buf){ drv_alloc(&t.f, 10), 10, true };
	bufs[2] = (struct drv_buf){ drv_alloc(&t.f, 6), 6, true };
	for (i = 0; i < ARRAY_SIZE(pieces); i++)
		bufs[3 + i] = (struct drv_buf){ drv_alloc(&t.f, pieces[i]),
						pieces[i], true };
	drv_add(&t.f, 1, bufs, 3 + ARRAY_SIZE(pieces), true);
	drv_kick(&t.f, 1);
	CHECK(drv_wait_used(&t.f, 1, &id, &len, 5000));
	CHECK_EQ(len, 16 + 4096);
	for (i = 0, off = 0; i < ARRAY_SIZE(pieces); i++) {
		memcpy(out + off, gpa_ptr(&t.f, bufs[3 + i].gpa), pieces[i]);
		off += pieces[i];
	}
	CHECK(!memcmp(out, req + 24 + FSIN + 16, 4096));
	fs_teardown(&t);
}

static int32_t setattr(struct tfs *t, uint64_t id, uint64_t fh,
		       const struct vbridge_fs_setattr_in *in,
		       struct vbridge_fs_attr *a)
{
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_SETATTR, &(struct freq){
		.nodeid = id, .fh = fh, .arg = in, .arg_len = sizeof(*in) }, &r);
	if (!err && a)
		*a = OUT(r, struct vbridge_fs_attr_out, 0).attr;
	return err;
}

static void test_setattr(void)
{
	struct vbridge_fs_setattr_in in = { 0 };
	struct vbridge_fs_attr a;
	struct stat st;
	uint64_t id;
	struct tfs t;

	fs_setup(&t);
	write_file(path_in(t.dir, "f"), "0123456789");
	id = lookup_id(&t, t.root, "f");
	in.valid = htole32(VBRIDGE_FS_SET_MODE);
	in.mode = htole32(0600);
	CHECK_EQ(setattr(&t, id, 0, &in, &a), 0);
	CHECK_EQ(le32toh(a.mode) & 07777, 0600);
	in.valid = htole32(VBRIDGE_FS_SET_SIZE);
	in.size = htole64(3);
	CHECK_EQ(setattr(&t, id, 0, &in, &a), 0);
	CHECK_EQ(le64toh(a.size), 3);
	CHECK(stat(path_in(t.dir, "f"), &st) == 0);
	CHECK_EQ(st.st_size, 3);
	/* mtime set, atime left alone. */
	in.valid = htole32(VBRIDGE_FS_SET_MTIME);
	in.mtime = htole64(1000000);
	in.mtimensec = htole32(5);
	CHECK_EQ(setattr(&t, id, 0, &in, &a), 0);
	CHECK(stat(path_in(t.dir, "f"), &st) == 0);
	CHECK_EQ(st.st_mtim.tv_sec, 1000000);
	CHECK_EQ(st.st_mtim.tv_nsec, 5);
	CHECK(st.st_atim.tv_sec != 1000000);
	in.valid = htole32(VBRIDGE_FS_SET_ATIME_NOW);
	CHECK_EQ(setattr(&t, id, 0, &in, &a), 0);
	CHECK(stat(path_in(t.dir, "f"), &st) == 0);
	CHECK_EQ(st.st_mtim.tv_sec, 1000000);
	CHECK(st.st_atim.tv_sec > 1000000);
	in.valid = htole32(VBRIDGE_FS_SET_UID | VBRIDGE_FS_SET_GID);
	in.uid = htole32(1234);
	in.gid = htole32(4321);
	CHECK_EQ(setattr(&t, id, 0, &in, &a), 0);
	CHECK_EQ(le32toh(a.uid), 1234);
	CHECK_EQ(le32toh(a.gid), 4321);
	in.valid = htole32(VBRIDGE_FS_SET_FH | VBRIDGE_FS_SET_SIZE);
	CHECK_EQ(setattr(&t, id, 777, &in, &a), -EBADF);
	in.valid = htole32(1 << 20);
	CHECK_EQ(setattr(&t, id, 0, &in, &a), -EINVAL);
	fs_teardown(&t);
}

/* SETATTR as uid:gid with supplementary groups. */
static int32_t setattr_as(struct tfs *t, uint64_t id, uint32_t uid,
			  uint32_t gid, const uint32_t *groups,
			  unsigned int ngroups,
			  const struct vbridge_fs_setattr_in *in)
{
	struct fe_resp r;

	return fsreq(t, VBRIDGE_OP_FS_SETATTR, &(struct freq){
		.nodeid = id, .uid = uid, .gid = gid, .groups = groups,
		.ngroups = ngroups, .arg = in, .arg_len = sizeof(*in) }, &r);
}

static int32_t lookup_as(struct tfs *t, uint64_t parent, const char *name,
			 uint32_t uid, const uint32_t *groups,
			 unsigned int ngroups)
{
	struct vbridge_fs_name_in in = { .namelen = htole32(strlen(name)) };
	struct fe_resp r;

	return fsreq(t, VBRIDGE_OP_FS_LOOKUP, &(struct freq){
		.nodeid = parent, .uid = uid, .gid = uid, .groups = groups,
		.ngroups = ngroups, .arg = &in, .arg_len = sizeof(in),
		.s1 = name, .s1_len = strlen(name) }, &r);
}

/*
 * The caller's supplementary groups grant what they grant, on the same
 * queue thread one request after the other (the per-thread cache), and
 * the daemon's own group 0 never does.
 */
static void test_groups(void)
{
	static const uint32_t g2000[] = { 2000 }, g3000[] = { 3000, 2000 };
	struct vbridge_fs_setattr_in in = { 0 };
	uint64_t gdir, zdir, f;
	struct stat st;
	struct tfs t;

	fs_setup(&t);
	CHECK(chmod(t.dir, 0755) == 0);
	CHECK(mkdir(path_in(t.dir, "g"), 0770) == 0);
	CHECK(chown(path_in(t.dir, "g"), 0, 2000) == 0);
	write_file(path_in(t.dir, "g/f"), "x");
	CHECK(mkdir(path_in(t.dir, "z"), 0070) == 0);
	write_file(path_in(t.dir, "z/f"), "x");
	write_file(path_in(t.dir, "mine"), "x");
	CHECK(chown(path_in(t.dir, "mine"), 1000, 1000) == 0);
	gdir = lookup_id(&t, t.root, "g");
	zdir = lookup_id(&t, t.root, "z");
	f = lookup_id(&t, t.root, "mine");

	CHECK_EQ(lookup_as(&t, gdir, "f", 1000, NULL, 0), -EACCES);
	CHECK_EQ(lookup_as(&t, gdir, "f", 1000, g2000, 1), 0);
	CHECK_EQ(lookup_as(&t, gdir, "f", 1000, g3000, 2), 0);
	/* Same thread, groups dropped again: no stale list. */
	CHECK_EQ(lookup_as(&t, gdir, "f", 1000, NULL, 0), -EACCES);
	CHECK_EQ(lookup_as(&t, gdir, "f", 1000, g3000, 1), -EACCES);
	/* Group 0 is the daemon's, not the caller's. */
	CHECK_EQ(lookup_as(&t, zdir, "f", 1000, NULL, 0), -EACCES);
	CHECK_EQ(lookup_as(&t, zdir, "f", 1000, g2000, 1), -EACCES);
	CHECK_EQ(lookup_as(&t, zdir, "f", 0, NULL, 0), 0);

	/* chgrp by the owner: only to a group it is in, supplementary too. */
	in.valid = htole32(VBRIDGE_FS_SET_GID);
	in.gid = htole32(2000);
	CHECK_EQ(setattr_as(&t, f, 1000, 1000, NULL, 0, &in), -EPERM);
	CHECK_EQ(setattr_as(&t, f, 1000, 1000, g3000, 2, &in), 0);
	CHECK(stat(path_in(t.dir, "mine"), &st) == 0);
	CHECK_EQ(st.st_gid, 2000);
	/* ...and not by anybody else. */
	in.gid = htole32(3000);
	CHECK_EQ(setattr_as(&t, f, 1001, 1001, g3000, 2, &in), -EPERM);
	/* More groups than the protocol carries are refused. */
	{
		struct vbridge_fs_name_in ni = { .namelen = htole32(1) };
		static uint32_t many[VBRIDGE_FS_GROUPS_MAX + 1];
		struct fe_resp r;

		CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LOOKUP, &(struct freq){
			.nodeid = gdir, .uid = 1000, .gid = 1000,
			.groups = many, .ngroups = VBRIDGE_FS_GROUPS_MAX + 1,
			.arg = &ni, .arg_len = sizeof(ni), .s1 = "f",
			.s1_len = 1 }, &r), -EINVAL);
	}
	fs_teardown(&t);
}

/* FIFOs and sockets take a mode like any inode; symlinks do not. */
static void test_chmod_special(void)
{
	struct vbridge_fs_setattr_in in = {
		.valid = htole32(VBRIDGE_FS_SET_MODE),
		.mode = htole32(0612),
	};
	struct vbridge_fs_attr a;
	struct stat st;
	uint64_t fifo, lnk;
	struct tfs t;

	fs_setup(&t);
	CHECK(mkfifo(path_in(t.dir, "fifo"), 0644) == 0);
	CHECK(symlink("fifo", path_in(t.dir, "lnk")) == 0);
	fifo = lookup_id(&t, t.root, "fifo");
	lnk = lookup_id(&t, t.root, "lnk");
	CHECK_EQ(setattr(&t, fifo, 0, &in, &a), 0);
	CHECK_EQ(le32toh(a.mode), S_IFIFO | 0612);
	CHECK(lstat(path_in(t.dir, "fifo"), &st) == 0);
	CHECK_EQ(st.st_mode, S_IFIFO | 0612);
	/* Not the owner: EPERM, as for a file. */
	in.mode = htole32(0666);
	CHECK(chmod(t.dir, 0755) == 0);
	CHECK_EQ(setattr_as(&t, fifo, 1000, 1000, NULL, 0, &in), -EPERM);
	CHECK_EQ(setattr(&t, lnk, 0, &in, NULL), -EOPNOTSUPP);
	CHECK(lstat(path_in(t.dir, "fifo"), &st) == 0);
	CHECK_EQ(st.st_mode, S_IFIFO | 0612);
	fs_teardown(&t);
}

/*
 * KILL_SUID/KILL_SGID clear the bits for a caller with write access,
 * owner or not, and for nobody else; a WRITE by a non-root caller
 * clears them and security.capability, as on a local filesystem.
 */
static void test_kill_suidgid(void)
{
	struct vbridge_fs_setattr_in in = {
		.valid = htole32(VBRIDGE_FS_SET_KILL_SUID |
				 VBRIDGE_FS_SET_KILL_SGID),
	};
	/* A VFS_CAP_REVISION_2 security.capability: cap_net_raw=ep. */
	static const uint32_t cap[5] = { 0x02000001, 1U << 13, 0, 0, 0 };
	struct stat st;
	uint64_t f, fh;
	struct tfs t;

	fs_setup(&t);
	CHECK(chmod(t.dir, 0755) == 0);
	write_file(path_in(t.dir, "f"), "x");
	CHECK(chmod(path_in(t.dir, "f"), 06775) == 0);
	f = lookup_id(&t, t.root, "f");
	/* No write access: refused, bits kept. */
	CHECK_EQ(setattr_as(&t, f, 1000, 1000, NULL, 0, &in), -EACCES);
	CHECK(stat(path_in(t.dir, "f"), &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 06775);
	/* Write access through a supplementary group. */
	CHECK(chown(path_in(t.dir, "f"), 0, 2000) == 0);
	CHECK(chmod(path_in(t.dir, "f"), 06775) == 0);
	CHECK_EQ(setattr_as(&t, f, 1000, 1000, (const uint32_t[]){ 2000 }, 1,
			    &in), 0);
	CHECK(stat(path_in(t.dir, "f"), &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0775);

	/* A write by a non-root caller kills them on the host. */
	CHECK(chmod(path_in(t.dir, "f"), 06777) == 0);
	if (setxattr(path_in(t.dir, "f"), "security.capability", cap,
		     sizeof(cap), 0) < 0)
		tap_diag("no security.capability in /tmp: %s", strerror(errno));
	{
		struct vbridge_fs_open_in oin = { .flags = htole32(O_WRONLY) };
		struct fe_resp r;

		CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_OPEN, &(struct freq){
			.nodeid = f, .uid = 1000, .gid = 1000, .arg = &oin,
			.arg_len = sizeof(oin) }, &r), 0);
		fh = le64toh(OUT(r, struct vbridge_fs_open_out, 0).fh);
	}
	{
		struct vbridge_fs_write_in win = { .size = htole32(1) };
		struct fe_resp r;

		CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_WRITE, &(struct freq){
			.nodeid = f, .fh = fh, .uid = 1000, .gid = 1000,
			.arg = &win, .arg_len = sizeof(win), .s1 = "y",
			.s1_len = 1 }, &r), 0);
	}
	CHECK(stat(path_in(t.dir, "f"), &st) == 0);
	CHECK_EQ(st.st_mode & 07777, 0777);
	CHECK(getxattr(path_in(t.dir, "f"), "security.capability", NULL, 0) < 0);
	fs_teardown(&t);
}

struct dent {
	uint64_t nodeid, off;
	uint32_t mode;
	char name[256];
};

/* READDIR from off into ents; the number of records. */
static unsigned int readdir_op(struct tfs *t, uint64_t id, uint64_t fh,
			       uint64_t off, uint32_t size, struct dent *ents)
{
	struct vbridge_fs_read_in in = {
		.offset = htole64(off), .size = htole32(size),
	};
	struct fe_resp r;
	unsigned int n = 0;
	size_t pos = 0;

	CHECK_EQ(fsreq(t, VBRIDGE_OP_FS_READDIR, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &in, .arg_len = sizeof(in),
		.out_room = size }, &r), 0);
	while (pos < r.len - 16) {
		struct vbridge_fs_dirent d = OUT(r, struct vbridge_fs_dirent, pos);
		uint32_t len = le32toh(d.namelen);

		CHECK(len < 256);
		ents[n].nodeid = le64toh(d.entry.nodeid);
		ents[n].off = le64toh(d.off);
		ents[n].mode = le32toh(d.entry.attr.mode);
		memcpy(ents[n].name, r.payload + pos + sizeof(d), len);
		ents[n].name[len] = 0;
		n++;
		pos += VBRIDGE_FS_DIRENT_SIZE(len);
	}
	CHECK_EQ(pos, r.len - 16);
	return n;
}

static void test_readdir(void)
{
	static struct dent ents[64];
	bool seen[100] = { 0 };
	unsigned int i, n, total = 0, calls = 0;
	uint64_t off = 0, fh;
	char name[32];
	struct tfs t;

	fs_setup(&t);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "file-%03u", i);
		write_file(path_in(t.dir, name), "x");
	}
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPENDIR, t.root, O_RDONLY, &fh), 0);
	do {
		n = readdir_op(&t, t.root, fh, off, 2048, ents);
		calls++;
		for (i = 0; i < n; i++) {
			unsigned int k;

			CHECK(strcmp(ents[i].name, ".") && strcmp(ents[i].name, ".."));
			CHECK_EQ(sscanf(ents[i].name, "file-%u", &k), 1);
			CHECK(k < 100 && !seen[k]);
			seen[k] = true;
			CHECK(ents[i].nodeid);
			CHECK(S_ISREG(ents[i].mode));
			off = ents[i].off;
		}
		total += n;
	} while (n);
	CHECK_EQ(total, 100);
	CHECK(calls > 3);
	/* The entry's lookup counts: the node is the one LOOKUP names. */
	n = readdir_op(&t, t.root, fh, 0, 2048, ents);
	CHECK(n > 0);
	CHECK_EQ(lookup_id(&t, t.root, ents[0].name), ents[0].nodeid);
	/* Too small for one record. */
	{
		struct vbridge_fs_read_in in = { .size = htole32(100) };
		struct fe_resp r;

		CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_READDIR, &(struct freq){
			.nodeid = t.root, .fh = fh, .arg = &in,
			.arg_len = sizeof(in), .out_room = 100 }, &r), -EINVAL);
	}
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_RELEASEDIR, &(struct freq){
		.nodeid = t.root, .fh = fh }, &(struct fe_resp){ 0 }), 0);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_RELEASEDIR, &(struct freq){
		.nodeid = t.root, .fh = fh }, &(struct fe_resp){ 0 }), -EBADF);
	fs_teardown(&t);
}

/* READDIR_NAMES from off into ents (nodeid 0, mode unset); the number. */
static unsigned int readdir_names_op(struct tfs *t, uint64_t id, uint64_t fh,
				     uint64_t off, uint32_t size,
				     struct dent *ents, uint64_t *inos)
{
	struct vbridge_fs_read_in in = {
		.offset = htole64(off), .size = htole32(size),
	};
	struct fe_resp r;
	unsigned int n = 0;
	size_t pos = 0;

	CHECK_EQ(fsreq(t, VBRIDGE_OP_FS_READDIR_NAMES, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &in, .arg_len = sizeof(in),
		.out_room = size }, &r), 0);
	while (pos < r.len - 16) {
		struct vbridge_fs_dirent_name d =
			OUT(r, struct vbridge_fs_dirent_name, pos);
		uint32_t len = le32toh(d.namelen);

		CHECK(len < 256);
		memset(&ents[n], 0, sizeof(ents[n]));
		ents[n].off = le64toh(d.off);
		inos[n] = le64toh(d.ino);
		CHECK_EQ(le32toh(d.type), DT_REG);
		memcpy(ents[n].name, r.payload + pos + sizeof(d), len);
		ents[n].name[len] = 0;
		n++;
		pos += VBRIDGE_FS_DIRENT_NAME_SIZE(len);
	}
	CHECK_EQ(pos, r.len - 16);
	return n;
}

/*
 * A listing without lookups: every name once, the inode numbers a stat
 * gives, no lookup held, and positions common with READDIR's.
 */
static void test_readdir_names(void)
{
	struct vbridge_fs_forget_in fin = { .nlookup = htole64(1) };
	static struct dent ents[64];
	static uint64_t inos[64];
	unsigned int i, n, total = 0, calls = 0;
	struct vbridge_fs_attr a;
	bool seen[100] = { 0 };
	uint64_t off = 0, fh, id;
	char name[32];
	struct stat st;
	struct tfs t;

	fs_setup(&t);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "file-%03u", i);
		write_file(path_in(t.dir, name), "x");
	}
	id = lookup_id(&t, t.root, "file-007");
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPENDIR, t.root, O_RDONLY, &fh), 0);
	do {
		n = readdir_names_op(&t, t.root, fh, off, 1024, ents, inos);
		calls++;
		for (i = 0; i < n; i++) {
			unsigned int k;

			CHECK_EQ(sscanf(ents[i].name, "file-%u", &k), 1);
			CHECK(k < 100 && !seen[k]);
			seen[k] = true;
			CHECK_EQ(stat(path_in(t.dir, ents[i].name), &st), 0);
			CHECK_EQ(inos[i], (uint64_t)st.st_ino);
			off = ents[i].off;
		}
		total += n;
	} while (n);
	CHECK_EQ(total, 100);
	/* Names-only records are smaller: fewer requests than READDIR's. */
	CHECK(calls > 3 && calls < 8);
	/* The one lookup of file-007 is still the only one. */
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_FORGET, &(struct freq){
		.nodeid = id, .arg = &fin, .arg_len = sizeof(fin) },
		&(struct fe_resp){ 0 }), 0);
	CHECK_EQ(getattr(&t, id, &a), -ESTALE);

	/* Half a listing one way, the rest the other: every name once. */
	memset(seen, 0, sizeof(seen));
	n = readdir_op(&t, t.root, fh, 0, 2048, ents);
	CHECK(n > 0 && n < 100);
	total = n;
	for (i = 0; i < n; i++)
		seen[atoi(ents[i].name + 5)] = true;
	off = ents[n - 1].off;
	while ((n = readdir_names_op(&t, t.root, fh, off, 1024, ents, inos))) {
		for (i = 0; i < n; i++) {
			CHECK(!seen[atoi(ents[i].name + 5)]);
			seen[atoi(ents[i].name + 5)] = true;
		}
		off = ents[n - 1].off;
		total += n;
	}
	CHECK_EQ(total, 100);
	/* Too small for one record. */
	{
		struct vbridge_fs_read_in in = { .size = htole32(30) };
		struct fe_resp r;

		CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_READDIR_NAMES, &(struct freq){
			.nodeid = t.root, .fh = fh, .arg = &in,
			.arg_len = sizeof(in), .out_room = 30 }, &r), -EINVAL);
	}
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_RELEASEDIR, &(struct freq){
		.nodeid = t.root, .fh = fh }, &(struct fe_resp){ 0 }), 0);
	fs_teardown(&t);
}

static void test_statfs_fsync(void)
{
	struct vbridge_fs_fsync_in fin = { .flags = htole32(VBRIDGE_FS_FSYNC_DATASYNC) };
	struct vbridge_fs_statfs_out o;
	struct fe_resp r;
	uint64_t id, fh;
	struct tfs t;

	fs_setup(&t);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_STATFS,
		       &(struct freq){ .nodeid = t.root }, &r), 0);
	o = OUT(r, struct vbridge_fs_statfs_out, 0);
	CHECK(le32toh(o.bsize) > 0);
	CHECK_EQ(le32toh(o.namelen), 255);
	CHECK_EQ(create_as(&t, t.root, "f", O_WRONLY, 0, &id, &fh), 0);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_FSYNC, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &fin, .arg_len = sizeof(fin) }, &r), 0);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_SYNCFS,
		       &(struct freq){ .nodeid = id }, &r), 0);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_RELEASE,
		       &(struct freq){ .nodeid = id, .fh = fh }, &r), 0);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_FSYNC, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &fin, .arg_len = sizeof(fin) }, &r),
		 -EBADF);
	fs_teardown(&t);
}

static void test_xattr(void)
{
	struct vbridge_fs_setxattr_in sin = {
		.size = htole32(5), .namelen = htole32(9),
	};
	struct vbridge_fs_getxattr_in gin = { .namelen = htole32(9) };
	struct fe_resp r;
	uint64_t id;
	struct tfs t;

	fs_setup(&t);
	write_file(path_in(t.dir, "f"), "");
	if (setxattr(path_in(t.dir, "f"), "user.test", "x", 1, 0) < 0)
		tap_skip("no user xattrs in /tmp: %s", strerror(errno));
	removexattr(path_in(t.dir, "f"), "user.test");
	id = lookup_id(&t, t.root, "f");
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_SETXATTR, &(struct freq){
		.nodeid = id, .arg = &sin, .arg_len = sizeof(sin),
		.s1 = "user.test", .s1_len = 9, .s2 = "value", .s2_len = 5 }, &r), 0);
	sin.flags = htole32(XATTR_CREATE);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_SETXATTR, &(struct freq){
		.nodeid = id, .arg = &sin, .arg_len = sizeof(sin),
		.s1 = "user.test", .s1_len = 9, .s2 = "value", .s2_len = 5 }, &r),
		 -EEXIST);
	/* Size query, then the value, then too small. */
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_GETXATTR, &(struct freq){
		.nodeid = id, .arg = &gin, .arg_len = sizeof(gin),
		.s1 = "user.test", .s1_len = 9 }, &r), 0);
	CHECK_EQ(le32toh(OUT(r, struct vbridge_fs_xattr_out, 0).size), 5);
	gin.size = htole32(64);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_GETXATTR, &(struct freq){
		.nodeid = id, .arg = &gin, .arg_len = sizeof(gin),
		.s1 = "user.test", .s1_len = 9, .out_room = 64 }, &r), 0);
	CHECK_EQ(r.len, 16 + 5);
	CHECK(!memcmp(r.payload, "value", 5));
	gin.size = htole32(2);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_GETXATTR, &(struct freq){
		.nodeid = id, .arg = &gin, .arg_len = sizeof(gin),
		.s1 = "user.test", .s1_len = 9 }, &r), -ERANGE);
	gin.size = htole32(256);
	gin.namelen = 0;
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LISTXATTR, &(struct freq){
		.nodeid = id, .arg = &gin, .arg_len = sizeof(gin),
		.out_room = 256 }, &r), 0);
	CHECK(memmem(r.payload, r.len - 16, "user.test", 10));
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_REMOVEXATTR, &(struct freq){
		.nodeid = id,
		.arg = &(struct vbridge_fs_name_in){ .namelen = htole32(9) },
		.arg_len = sizeof(struct vbridge_fs_name_in),
		.s1 = "user.test", .s1_len = 9 }, &r), 0);
	gin.namelen = htole32(9);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_GETXATTR, &(struct freq){
		.nodeid = id, .arg = &gin, .arg_len = sizeof(gin),
		.s1 = "user.test", .s1_len = 9, .out_room = 256 }, &r), -ENODATA);
	fs_teardown(&t);
}

static void test_fallocate_lseek(void)
{
	struct vbridge_fs_fallocate_in fin = {
		.offset = htole64(0), .length = htole64(1 << 20),
	};
	struct vbridge_fs_lseek_in lin = { .whence = htole32(SEEK_HOLE) };
	static uint8_t buf[32768];
	struct vbridge_fs_attr a;
	struct fe_resp r;
	uint64_t id, fh;
	unsigned int i;
	struct tfs t;

	fs_setup(&t);
	CHECK_EQ(create_as(&t, t.root, "f", O_RDWR, 0, &id, &fh), 0);
	memset(buf, 0xaa, sizeof(buf));
	/* 1 MiB of data, then punch [64 KiB, 128 KiB). */
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_FALLOCATE, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &fin, .arg_len = sizeof(fin) }, &r), 0);
	CHECK_EQ(getattr(&t, id, &a), 0);
	CHECK_EQ(le64toh(a.size), 1 << 20);
	for (i = 0; i < 32; i++)
		CHECK_EQ(do_write(&t, id, fh, i * 32768ULL, buf, 32768), 0);
	fin.offset = htole64(65536);
	fin.length = htole64(65536);
	fin.mode = htole32(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
	if (fsreq(&t, VBRIDGE_OP_FS_FALLOCATE, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &fin, .arg_len = sizeof(fin) }, &r))
		tap_skip("no hole punching in /tmp: %d", r.error);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LSEEK, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &lin, .arg_len = sizeof(lin) }, &r), 0);
	CHECK_EQ(le64toh(OUT(r, struct vbridge_fs_lseek_out, 0).offset), 65536);
	lin.whence = htole32(SEEK_DATA);
	lin.offset = htole64(65536);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LSEEK, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &lin, .arg_len = sizeof(lin) }, &r), 0);
	CHECK_EQ(le64toh(OUT(r, struct vbridge_fs_lseek_out, 0).offset), 131072);
	CHECK_EQ(do_read(&t, id, fh, 65536, buf, 16), 16);
	CHECK(!buf[0] && !buf[15]);
	lin.whence = htole32(SEEK_END);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LSEEK, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &lin, .arg_len = sizeof(lin) }, &r),
		 -EINVAL);
	fs_teardown(&t);
}

static void test_copy_file_range(void)
{
	struct vbridge_fs_copy_range_in in = { .len = htole64(5) };
	char buf[16] = { 0 };
	uint64_t a, fa, b, fb;
	struct fe_resp r;
	struct tfs t;

	fs_setup(&t);
	CHECK_EQ(create_as(&t, t.root, "a", O_RDWR, 0, &a, &fa), 0);
	CHECK_EQ(create_as(&t, t.root, "b", O_RDWR, 0, &b, &fb), 0);
	CHECK_EQ(do_write(&t, a, fa, 0, "hello world", 11), 0);
	in.off_in = htole64(6);
	in.nodeid_out = htole64(b);
	in.fh_out = htole64(fb);
	in.off_out = htole64(2);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_COPY_FILE_RANGE, &(struct freq){
		.nodeid = a, .fh = fa, .arg = &in, .arg_len = sizeof(in) }, &r), 0);
	CHECK_EQ(le64toh(OUT(r, struct vbridge_fs_copy_range_out, 0).size), 5);
	CHECK_EQ(do_read(&t, b, fb, 0, buf, sizeof(buf)), 7);
	CHECK(!memcmp(buf, "\0\0world", 7));
	in.fh_out = htole64(fa);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_COPY_FILE_RANGE, &(struct freq){
		.nodeid = a, .fh = fa, .arg = &in, .arg_len = sizeof(in) }, &r),
		 -EBADF);
	fs_teardown(&t);
}

static int32_t lock_op(struct tfs *t, uint32_t opcode, uint64_t id,
		       uint64_t fh, uint64_t owner, uint32_t kind,
		       uint32_t type, struct vbridge_fs_lock *conflict)
{
	struct vbridge_fs_lock_in in = {
		.owner = htole64(owner),
		.lk = { .start = 0, .end = htole64(99), .type = htole32(type) },
		.kind = htole32(kind),
	};
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, opcode, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &in, .arg_len = sizeof(in) }, &r);
	if (!err && conflict)
		memcpy(conflict, r.payload, sizeof(*conflict));
	return err;
}

static void test_locks(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	struct vbridge_fs_flush_in flush = { .lock_owner = htole64(1) };
	struct vbridge_fs_lock c;
	struct timespec t0, t1;
	uint64_t id, fh, fh2;
	struct fe_resp r;
	struct tfs t;
	int fd;

	fs_setup(&t);
	CHECK_EQ(create_as(&t, t.root, "f", O_RDWR, 0, &id, &fh), 0);
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPEN, id, O_RDWR, &fh2), 0);
	/* POSIX: owner 1 against owner 2. */
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh, 1, VBRIDGE_FS_LK_POSIX,
			 F_WRLCK, NULL), 0);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh, 1, VBRIDGE_FS_LK_POSIX,
			 F_RDLCK, NULL), 0);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh2, 2, VBRIDGE_FS_LK_POSIX,
			 F_WRLCK, NULL), -EAGAIN);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_GETLK, id, fh2, 2, VBRIDGE_FS_LK_POSIX,
			 F_WRLCK, &c), 0);
	CHECK_EQ(le32toh(c.type), F_RDLCK);
	/*
	 * SETLKW does not hold the queue while the lock is held: it is
	 * answered at once, and the driver asks again.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLKW, id, fh2, 2, VBRIDGE_FS_LK_POSIX,
			 F_WRLCK, NULL), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 +
	      (t1.tv_nsec - t0.tv_nsec) / 1000000 < 200);
	/* The host sees the guest's lock. */
	fd = open(path_in(t.dir, "f"), O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_SETLK, &fl) < 0);
	/* FLUSH of owner 1 drops its locks. */
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_FLUSH, &(struct freq){
		.nodeid = id, .fh = fh, .arg = &flush, .arg_len = sizeof(flush) }, &r), 0);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_GETLK, id, fh2, 2, VBRIDGE_FS_LK_POSIX,
			 F_WRLCK, &c), 0);
	CHECK_EQ(le32toh(c.type), F_UNLCK);
	/* A lock the test itself takes on the host file conflicts. */
	CHECK(fcntl(fd, F_SETLK, &fl) == 0);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh2, 2, VBRIDGE_FS_LK_POSIX,
			 F_RDLCK, NULL), -EAGAIN);
	fl.l_type = F_UNLCK;
	CHECK(fcntl(fd, F_SETLK, &fl) == 0);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh2, 2, VBRIDGE_FS_LK_POSIX,
			 F_RDLCK, NULL), 0);
	/* flock: one handle against another. */
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh, 0, VBRIDGE_FS_LK_FLOCK,
			 F_WRLCK, NULL), 0);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh2, 0, VBRIDGE_FS_LK_FLOCK,
			 F_RDLCK, NULL), -EAGAIN);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh, 0, VBRIDGE_FS_LK_FLOCK,
			 F_UNLCK, NULL), 0);
	CHECK_EQ(lock_op(&t, VBRIDGE_OP_FS_SETLK, id, fh2, 0, VBRIDGE_FS_LK_FLOCK,
			 F_RDLCK, NULL), 0);
	close(fd);
	fs_teardown(&t);
}

static void test_readonly(void)
{
	struct vbridge_fs_setattr_in sin = { .valid = htole32(VBRIDGE_FS_SET_MODE) };
	uint64_t root, id, fh;
	struct tfs t;
	int32_t err;

	fs_setup(&t);
	write_file(path_in(t.other, "f"), "ro");
	root = mount_tag(&t, "other", &err);
	CHECK_EQ(err, 0);
	id = lookup_id(&t, root, "f");
	CHECK_EQ(mkdir_as(&t, root, "d", 0755, 0, NULL), -EROFS);
	CHECK_EQ(create_as(&t, root, "g", O_RDWR, 0, NULL, NULL), -EROFS);
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_UNLINK, root, "f", 0, NULL), -EROFS);
	CHECK_EQ(setattr(&t, id, 0, &sin, NULL), -EROFS);
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPEN, id, O_WRONLY, &fh), -EROFS);
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPEN, id, O_RDONLY | O_TRUNC, &fh),
		 -EROFS);
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPEN, id, O_RDONLY, &fh), 0);
	CHECK_EQ(symlink_op(&t, root, "l", "f", NULL), -EROFS);
	/* Cross-export rename and link. */
	write_file(path_in(t.dir, "mine"), "");
	CHECK_EQ(rename_op(&t, t.root, "mine", root, "x", 0), -EXDEV);
	CHECK(access(path_in(t.dir, "mine"), F_OK) == 0);
	fs_teardown(&t);
}

static void test_escape(void)
{
	struct vbridge_fs_entry_out e;
	struct vbridge_fs_attr a;
	uint64_t l, other_root;
	char outside[80];
	struct tfs t;
	int32_t err;

	fs_setup(&t);
	snprintf(outside, sizeof(outside), "%s-outside", t.dir);
	write_file(outside, "secret");
	CHECK(symlink("/", path_in(t.dir, "root")) == 0);
	CHECK(symlink(outside, path_in(t.dir, "abs")) == 0);
	CHECK(symlink("../", path_in(t.dir, "rel")) == 0);
	CHECK_EQ(lookup(&t, t.root, "..", NULL), -EINVAL);
	CHECK_EQ(lookup(&t, t.root, ".", NULL), -EINVAL);
	CHECK_EQ(lookup(&t, t.root, "a/b", NULL), -EINVAL);
	CHECK_EQ(lookup(&t, t.root, "/", NULL), -EINVAL);
	CHECK_EQ(lookup(&t, t.root, "", NULL), -EINVAL);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LOOKUP, &(struct freq){
		.nodeid = t.root,
		.arg = &(struct vbridge_fs_name_in){ .namelen = htole32(3) },
		.arg_len = sizeof(struct vbridge_fs_name_in),
		.s1 = "a\0b", .s1_len = 3 }, &(struct fe_resp){ 0 }), -EINVAL);
	/* Symlinks are nodes of their own: never followed. */
	l = lookup_id(&t, t.root, "root");
	CHECK_EQ(lookup(&t, l, "etc", NULL), -ENOTDIR);
	CHECK_EQ(lookup(&t, l, "tmp", NULL), -ENOTDIR);
	CHECK_EQ(lookup(&t, t.root, "abs", &e), 0);
	CHECK(S_ISLNK(le32toh(e.attr.mode)));
	CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPEN, le64toh(e.nodeid), O_RDONLY,
			 &(uint64_t){ 0 }), -ENXIO);
	CHECK_EQ(create_as(&t, t.root, "abs", O_RDWR, 0, NULL, NULL), -ELOOP);
	l = lookup_id(&t, t.root, "rel");
	CHECK_EQ(lookup(&t, l, "etc", NULL), -ENOTDIR);
	CHECK_EQ(mkdir_as(&t, l, "x", 0755, 0, NULL), -ENOTDIR);
	/* Forged node ids and handles. */
	CHECK_EQ(getattr(&t, 0, &a), -ESTALE);
	CHECK_EQ(getattr(&t, 0xdeadbeef, &a), -ESTALE);
	CHECK_EQ(do_read(&t, t.root, 0x1234, 0, outside, 4), -EBADF);
	/* A node of another export cannot be the parent of this one's rename. */
	other_root = mount_tag(&t, "other", &err);
	CHECK_EQ(err, 0);
	write_file(path_in(t.dir, "mine"), "");
	CHECK_EQ(rename_op(&t, t.root, "mine", other_root, "x", 0), -EXDEV);
	unlink(outside);
	fs_teardown(&t);
}

static void test_name_too_long(void)
{
	char name[300];
	struct tfs t;

	fs_setup(&t);
	memset(name, 'n', 256);
	name[256] = 0;
	CHECK_EQ(lookup(&t, t.root, name, NULL), -ENAMETOOLONG);
	CHECK_EQ(mkdir_as(&t, t.root, name, 0755, 0, NULL), -ENAMETOOLONG);
	name[255] = 0;
	CHECK_EQ(lookup(&t, t.root, name, NULL), -ENOENT);
	fs_teardown(&t);
}

static void test_malformed(void)
{
	struct vbridge_fs_name_in in = { .namelen = htole32(100) };
	struct fe_resp r;
	struct tfs t;

	fs_setup(&t);
	/* The name is shorter than namelen says. */
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LOOKUP, &(struct freq){
		.nodeid = t.root, .arg = &in, .arg_len = sizeof(in),
		.s1 = "abc", .s1_len = 3 }, &r), -EINVAL);
	/* No room for the entry. */
	in.namelen = htole32(3);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LOOKUP, &(struct freq){
		.nodeid = t.root, .arg = &in, .arg_len = sizeof(in),
		.s1 = "abc", .s1_len = 3, .out_room = 8 }, &r), -EINVAL);
	/* fs_in cut short. */
	fe_request(&t.f, 1, VBRIDGE_OP_FS_GETATTR, "abc", 3, 256, &r);
	CHECK_EQ(r.error, -EINVAL);
	fs_teardown(&t);
}

static void test_access_denied(void)
{
	struct tfs t;
	uint64_t d, fh;

	fs_setup(&t);
	CHECK_EQ(mkdir_as(&t, t.root, "private", 0700, 0, &d), 0);
	write_file(path_in(t.dir, "private/f"), "x");
	CHECK_EQ(lookup(&t, d, "f", NULL), 0);
	CHECK_EQ(name_op(&t, VBRIDGE_OP_FS_LOOKUP, d, "f", 1000, NULL), -EACCES);
	CHECK_EQ(mkdir_as(&t, d, "sub", 0755, 1000, NULL), -EACCES);
	CHECK_EQ(create_as(&t, d, "g", O_RDWR, 1000, NULL, NULL), -EACCES);
	/* A user's new files are its own. */
	CHECK(chmod(t.dir, 0777) == 0);
	CHECK_EQ(create_as(&t, t.root, "users", O_RDWR, 1000, NULL, &fh), 0);
	{
		struct stat st;

		CHECK(stat(path_in(t.dir, "users"), &st) == 0);
		CHECK_EQ(st.st_uid, 1000);
		CHECK_EQ(st.st_gid, 1000);
	}
	fs_teardown(&t);
}

static void test_id_map(void)
{
	struct vbd_fs_opts opts = { 0 };
	struct vbridge_fs_entry_out e;
	struct stat st;
	struct tfs t;
	uint64_t fh;
	int32_t err;

	CHECK_EQ(vbd_id_map_parse("0:100000:65536", &opts.uid_map[0]), 0);
	CHECK_EQ(vbd_id_map_parse("0:200000:65536", &opts.gid_map[0]), 0);
	CHECK(vbd_id_map_parse("1:2", &opts.uid_map[1]) < 0);
	CHECK(vbd_id_map_parse("1:2:0", &opts.uid_map[1]) < 0);
	CHECK(vbd_id_map_parse("4294967295:1:2", &opts.uid_map[1]) < 0);
	opts.nuid_maps = opts.ngid_maps = 1;
	fs_setup_opts(&t, &opts);
	CHECK(chmod(t.dir, 0777) == 0);
	t.root = mount_tag(&t, "data", &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(create_as(&t, t.root, "f", O_RDWR, 1000, NULL, &fh), 0);
	CHECK(stat(path_in(t.dir, "f"), &st) == 0);
	CHECK_EQ(st.st_uid, 101000);
	CHECK_EQ(st.st_gid, 201000);
	CHECK_EQ(lookup(&t, t.root, "f", &e), 0);
	CHECK_EQ(le32toh(e.attr.uid), 1000);
	CHECK_EQ(le32toh(e.attr.gid), 1000);
	/* Host root is outside the map. */
	write_file(path_in(t.dir, "r"), "");
	CHECK_EQ(lookup(&t, t.root, "r", &e), 0);
	CHECK_EQ(le32toh(e.attr.uid), VBD_OVERFLOW_ID);
	fs_teardown(&t);
}

/* --attr-timeout/--entry-timeout: parsed in ms, sent in every reply. */
static void test_timeouts(void)
{
	struct vbd_fs_opts opts = { .timeouts_set = true };
	struct vbridge_fs_entry_out e;
	struct fe_resp r;
	struct tfs t;
	int32_t err;
	uint64_t ns;

	CHECK_EQ(vbd_fs_timeout_parse("0", &ns), 0);
	CHECK_EQ(ns, 0);
	CHECK_EQ(vbd_fs_timeout_parse("3", &ns), 0);
	CHECK_EQ(ns, 3000000);
	CHECK_EQ(vbd_fs_timeout_parse("3600000", &ns), 0);
	CHECK_EQ(ns, 3600000000000ULL);
	CHECK(vbd_fs_timeout_parse("3600001", &ns) < 0);
	CHECK(vbd_fs_timeout_parse("", &ns) < 0);
	CHECK(vbd_fs_timeout_parse("-1", &ns) < 0);
	CHECK(vbd_fs_timeout_parse("+1", &ns) < 0);
	CHECK(vbd_fs_timeout_parse(" 1", &ns) < 0);
	CHECK(vbd_fs_timeout_parse("1ms", &ns) < 0);
	CHECK(vbd_fs_timeout_parse("99999999999999999999999", &ns) < 0);

	/* Zeroed options keep the 1 s default (test_lookup_getattr). */
	opts.attr_timeout_ns = 0;
	opts.entry_timeout_ns = 5000000;
	fs_setup_opts(&t, &opts);
	t.root = mount_tag(&t, "data", &err);
	CHECK_EQ(err, 0);
	write_file(path_in(t.dir, "f"), "x");
	CHECK_EQ(lookup(&t, t.root, "f", &e), 0);
	CHECK_EQ(le64toh(e.attr_valid_ns), 0);
	CHECK_EQ(le64toh(e.entry_valid_ns), 5000000);
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_GETATTR,
		       &(struct freq){ .nodeid = le64toh(e.nodeid) }, &r), 0);
	CHECK_EQ(le64toh(OUT(r, struct vbridge_fs_attr_out, 0).attr_valid_ns), 0);
	fs_teardown(&t);
}

/* Descriptors the process holds now. */
static unsigned int count_fds(void)
{
	unsigned int n = 0;
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");

	CHECK(dir);
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;	/* less the directory's own */
}

/* Nodes are evicted and reopened; open handles exhaust the budget. */
static void test_max_fds(void)
{
	struct vbd_fs_opts opts = { .max_fds = 16 };
	unsigned int i, ok = 0;
	char name[16];
	uint64_t fh;
	struct tfs t;
	int32_t err;

	fs_setup_opts(&t, &opts);
	t.root = mount_tag(&t, "data", &err);
	CHECK_EQ(err, 0);
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		write_file(path_in(t.dir, name), "");
	}
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		CHECK_EQ(lookup(&t, t.root, name, NULL), 0);
	}
	/* An open file pins its node and its handle: 7 fit beside root and anchor. */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		struct vbridge_fs_entry_out e;

		err = lookup(&t, t.root, name, &e) ?:
		      do_open(&t, VBRIDGE_OP_FS_OPEN, le64toh(e.nodeid),
			      O_RDONLY, &fh);
		if (err) {
			CHECK_EQ(err, -EMFILE);
			break;
		}
		ok++;
	}
	CHECK_EQ(ok, 7);
	CHECK(tap_log_contains("--max-fds"));
	fs_teardown(&t);
}

/* 50 files through a budget of 10 descriptors: LRU eviction and reopen. */
static void test_max_fds_lru(void)
{
	struct vbd_fs_opts opts = { .max_fds = 10 };
	uint64_t ids[50], fh;
	struct vbridge_fs_attr a;
	unsigned int i, base;
	char name[16], want[32], buf[64];
	struct stat st;
	struct tfs t;
	int32_t err;

	fs_setup_opts(&t, &opts);
	base = count_fds();
	t.root = mount_tag(&t, "data", &err);
	CHECK_EQ(err, 0);
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		snprintf(want, sizeof(want), "content of %u", i);
		write_file(path_in(t.dir, name), want);
	}
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		ids[i] = lookup_id(&t, t.root, name);
		CHECK(ids[i]);
		CHECK(count_fds() <= base + 10);
	}
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		snprintf(want, sizeof(want), "content of %u", i);
		CHECK_EQ(stat(path_in(t.dir, name), &st), 0);
		CHECK_EQ(getattr(&t, ids[i], &a), 0);
		CHECK_EQ(le64toh(a.ino), st.st_ino);
		CHECK_EQ(le64toh(a.size), strlen(want));
		CHECK_EQ(do_open(&t, VBRIDGE_OP_FS_OPEN, ids[i], O_RDONLY, &fh), 0);
		CHECK_EQ(do_read(&t, ids[i], fh, 0, buf, sizeof(buf)),
			 (int32_t)strlen(want));
		CHECK(!memcmp(buf, want, strlen(want)));
		CHECK(count_fds() <= base + 10);
		CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_RELEASE, &(struct freq){
			.nodeid = ids[i], .fh = fh }, &(struct fe_resp){ 0 }), 0);
	}
	/* f0 was used first, so it is evicted: deleted meanwhile, it is stale. */
	CHECK_EQ(unlink(path_in(t.dir, "f0")), 0);
	CHECK_EQ(getattr(&t, ids[0], &a), -ESTALE);
	/* A recent one still works. */
	CHECK_EQ(getattr(&t, ids[49], &a), 0);
	CHECK(count_fds() <= base + 10);
	fs_teardown(&t);
}

static void test_inval_event(void)
{
	struct vbridge_event_fs_inval_inode *ev;
	bool inode = false, entry = false;
	uint32_t id, len;
	uint64_t fid;
	unsigned int i;
	struct tfs t;

	fs_setup(&t);
	write_file(path_in(t.dir, "f"), "one");
	fid = lookup_id(&t, t.root, "f");
	for (i = 0; i < 16; i++)
		drv_add(&t.f, 0, &(struct drv_buf){
			drv_alloc(&t.f, VBRIDGE_EVENT_BUF_SIZE),
			VBRIDGE_EVENT_BUF_SIZE, true }, 1, false);
	drv_kick(&t.f, 0);
	write_file(path_in(t.dir, "f"), "two");
	write_file(path_in(t.dir, "new"), "");
	while ((!inode || !entry) && drv_wait_used(&t.f, 0, &id, &len, 5000)) {
		ev = gpa_ptr(&t.f, le64toh(t.f.vq[0].desc[id].addr));
		CHECK_EQ(le32toh(ev->hdr.len), len);
		if (le32toh(ev->hdr.type) == VBRIDGE_EVT_FS_INVAL_INODE &&
		    le64toh(ev->nodeid) == fid)
			inode = true;
		if (le32toh(ev->hdr.type) == VBRIDGE_EVT_FS_INVAL_ENTRY) {
			struct vbridge_event_fs_inval_entry *ee = (void *)ev;

			if (le64toh(ee->parent) == t.root &&
			    le32toh(ee->namelen) == 3 && !memcmp(ee->name, "new", 3))
				entry = true;
		}
	}
	CHECK(inode);
	CHECK(entry);
	fs_teardown(&t);
}

/*
 * Host filesystems mounted below the export get their own device index,
 * the same for every inode on them and across lookups.  The tmpfs
 * mounts live in a private mount namespace, so that they go with the
 * test's process even if it fails.
 */
static void test_devidx(void)
{
	struct vbridge_fs_entry_out e, e2;
	uint32_t sub, sub2;
	struct vbridge_fs_attr a;
	uint64_t subid;
	struct tfs t;

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		tap_skip("no private mount namespace: %s", strerror(errno));
	fs_setup(&t);
	CHECK(mkdir(path_in(t.dir, "sub"), 0755) == 0);
	CHECK(mkdir(path_in(t.dir, "sub2"), 0755) == 0);
	if (mount("vbridge-test", path_in(t.dir, "sub"), "tmpfs", 0,
		  "size=1m") < 0)
		tap_skip("cannot mount a tmpfs: %s", strerror(errno));
	CHECK(mount("vbridge-test", path_in(t.dir, "sub2"), "tmpfs", 0,
		    "size=1m") == 0);
	write_file(path_in(t.dir, "f"), "root");
	write_file(path_in(t.dir, "sub/f"), "sub");

	CHECK_EQ(getattr(&t, t.root, &a), 0);
	CHECK_EQ(le32toh(a.devidx), 0);
	CHECK_EQ(lookup(&t, t.root, "f", &e), 0);
	CHECK_EQ(le32toh(e.attr.devidx), 0);

	CHECK_EQ(lookup(&t, t.root, "sub", &e), 0);
	sub = le32toh(e.attr.devidx);
	CHECK(sub >= 1 && sub <= VBRIDGE_FS_DEVIDX_MAX);
	subid = le64toh(e.nodeid);
	CHECK_EQ(getattr(&t, subid, &a), 0);
	CHECK_EQ(le32toh(a.devidx), sub);
	CHECK_EQ(lookup(&t, subid, "f", &e2), 0);
	CHECK_EQ(le32toh(e2.attr.devidx), sub);
	CHECK_EQ(getattr(&t, le64toh(e2.nodeid), &a), 0);
	CHECK_EQ(le32toh(a.devidx), sub);

	CHECK_EQ(lookup(&t, t.root, "sub2", &e), 0);
	sub2 = le32toh(e.attr.devidx);
	CHECK(sub2 >= 1 && sub2 <= VBRIDGE_FS_DEVIDX_MAX);
	CHECK(sub2 != sub);

	/* Stable: a second lookup, and a new file, keep the index. */
	CHECK_EQ(lookup(&t, t.root, "sub", &e), 0);
	CHECK_EQ(le32toh(e.attr.devidx), sub);
	write_file(path_in(t.dir, "sub/g"), "");
	CHECK_EQ(lookup(&t, subid, "g", &e), 0);
	CHECK_EQ(le32toh(e.attr.devidx), sub);
	CHECK_EQ(lookup(&t, t.root, "f", &e), 0);
	CHECK_EQ(le32toh(e.attr.devidx), 0);

	/* The device's descriptors keep the mounts busy until it stops. */
	CHECK_EQ(fe_stop(&t.f), 0);
	CHECK(umount(path_in(t.dir, "sub")) == 0);
	CHECK(umount(path_in(t.dir, "sub2")) == 0);
	fs_teardown_dirs(&t);
}

/* Security regressions (issue 8) */

static int32_t xattr_get(struct tfs *t, uint64_t id, uint32_t uid,
			 const char *name, char *buf, uint32_t size)
{
	struct vbridge_fs_getxattr_in in = {
		.size = htole32(size), .namelen = htole32(strlen(name)),
	};
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_GETXATTR, &(struct freq){
		.nodeid = id, .uid = uid, .gid = uid, .arg = &in,
		.arg_len = sizeof(in), .s1 = name, .s1_len = strlen(name),
		.out_room = 256 }, &r);
	if (!err && buf)
		memcpy(buf, r.payload, r.len - sizeof(struct vbridge_resp_hdr));
	return err;
}

static int32_t xattr_set(struct tfs *t, uint64_t id, uint32_t uid,
			 const char *name, const void *val, uint32_t size)
{
	struct vbridge_fs_setxattr_in in = {
		.size = htole32(size), .namelen = htole32(strlen(name)),
	};

	return fsreq(t, VBRIDGE_OP_FS_SETXATTR, &(struct freq){
		.nodeid = id, .uid = uid, .gid = uid, .arg = &in,
		.arg_len = sizeof(in), .s1 = name, .s1_len = strlen(name),
		.s2 = val, .s2_len = size }, &(struct fe_resp){ 0 });
}

/* VFS_CAP_REVISION_2 for cap_setuid=ep, as a little-endian host stores it. */
static const uint32_t fcap_setuid[5] = {
	0x02000000 | 1, 1U << 7, 0, 0, 0,
};

/*
 * Only user.* by default; trusted.* and security.* are another
 * namespace the guest may not even list.
 */
static void test_xattr_policy(void)
{
	struct vbridge_fs_getxattr_in gin = { .size = htole32(256) };
	struct vbd_fs_opts opts = { 0 };
	char buf[64];
	struct fe_resp r;
	uint64_t id;
	struct tfs t;
	int32_t err;

	CHECK_EQ(vbd_id_map_parse("0:100000:65536", &opts.uid_map[0]), 0);
	CHECK_EQ(vbd_id_map_parse("0:100000:65536", &opts.gid_map[0]), 0);
	opts.nuid_maps = opts.ngid_maps = 1;
	fs_setup_opts(&t, &opts);
	CHECK(chmod(t.dir, 0755) == 0);
	t.root = mount_tag(&t, "data", &err);
	CHECK_EQ(err, 0);
	write_file(path_in(t.dir, "f"), "");
	CHECK(chown(path_in(t.dir, "f"), 100000, 100000) == 0);
	if (setxattr(path_in(t.dir, "f"), "trusted.secret", "s", 1, 0) < 0 ||
	    setxattr(path_in(t.dir, "f"), "user.plain", "p", 1, 0) < 0)
		tap_skip("no trusted/user xattrs in /tmp: %s", strerror(errno));
	id = lookup_id(&t, t.root, "f");

	CHECK_EQ(xattr_get(&t, id, 0, "trusted.secret", buf, 64), -EOPNOTSUPP);
	CHECK_EQ(xattr_set(&t, id, 0, "trusted.overlay.redirect", "/x", 2),
		 -EOPNOTSUPP);
	CHECK_EQ(xattr_set(&t, id, 0, "security.capability", fcap_setuid,
			   sizeof(fcap_setuid)), -EOPNOTSUPP);
	CHECK_EQ(xattr_set(&t, id, 0, "system.posix_acl_access", "x", 1),
		 -EOPNOTSUPP);
	CHECK_EQ(xattr_get(&t, id, 0, "user.", buf, 64), -EOPNOTSUPP);
	CHECK_EQ(xattr_get(&t, id, 0, "user.plain", buf, 64), 0);
	CHECK(!memcmp(buf, "p", 1));
	/* The list hides the other namespaces, in its size too. */
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LISTXATTR, &(struct freq){
		.nodeid = id, .arg = &gin, .arg_len = sizeof(gin),
		.out_room = 256 }, &r), 0);
	CHECK_EQ(r.len - sizeof(struct vbridge_resp_hdr), sizeof("user.plain"));
	CHECK(!memcmp(r.payload, "user.plain", sizeof("user.plain")));
	gin.size = 0;
	CHECK_EQ(fsreq(&t, VBRIDGE_OP_FS_LISTXATTR, &(struct freq){
		.nodeid = id, .arg = &gin, .arg_len = sizeof(gin) }, &r), 0);
	CHECK_EQ(le32toh(OUT(r, struct vbridge_fs_xattr_out, 0).size),
		 sizeof("user.plain"));
	CHECK_EQ(getxattr(path_in(t.dir, "f"), "trusted.overlay.redirect",
			  buf, 64), -1);
	CHECK_EQ(getxattr(path_in(t.dir, "f"), "security.capability", buf, 64),
		 -1);
	fs_teardown(&t);
}

/*
 * With the namespaces allowed, a guest root mapped to an unprivileged
 * host uid still has none of the daemon's capabilities: the host kernel
 * refuses it trusted.* (CAP_SYS_ADMIN) and security.capability
 * (CAP_SETFCAP).  Host root (no map) keeps them.
 */
static void test_xattr_caps(void)
{
	struct vbd_fs_opts opts = {
		.xattr_ns = VBD_XATTR_TRUSTED | VBD_XATTR_SECURITY,
	};
	char buf[64];
	uint64_t id;
	struct tfs t;
	int32_t err;

	CHECK_EQ(vbd_id_map_parse("0:100000:65536", &opts.uid_map[0]), 0);
	CHECK_EQ(vbd_id_map_parse("0:100000:65536", &opts.gid_map[0]), 0);
	opts.nuid_maps = opts.ngid_maps = 1;
	fs_setup_opts(&t, &opts);
	CHECK(chmod(t.dir, 0755) == 0);
	t.root = mount_tag(&t, "data", &err);
	CHECK_EQ(err, 0);
	write_file(path_in(t.dir, "f"), "");
	CHECK(chown(path_in(t.dir, "f"), 100000, 100000) == 0);
	if (setxattr(path_in(t.dir, "f"), "trusted.secret", "s", 1, 0) < 0)
		tap_skip("no trusted xattrs in /tmp: %s", strerror(errno));
	id = lookup_id(&t, t.root, "f");

	/* Unprivileged readers see no trusted.* at all (ENODATA). */
	CHECK_EQ(xattr_get(&t, id, 0, "trusted.secret", buf, 64), -ENODATA);
	CHECK_EQ(xattr_set(&t, id, 0, "trusted.overlay.redirect", "/x", 2),
		 -EPERM);
	CHECK_EQ(xattr_set(&t, id, 0, "security.capability", fcap_setuid,
			   sizeof(fcap_setuid)), -EPERM);
	CHECK_EQ(getxattr(path_in(t.dir, "f"), "trusted.overlay.redirect",
			  buf, 64), -1);
	CHECK_EQ(getxattr(path_in(t.dir, "f"), "security.capability", buf, 64),
		 -1);
	/* The daemon got its capabilities back: reopening by handle works. */
	CHECK_EQ(xattr_set(&t, id, 1000, "user.ok", "1", 1), -EACCES);
	CHECK_EQ(xattr_set(&t, id, 0, "user.ok", "1", 1), 0);
	fs_teardown(&t);

	/* No map: the guest's root is host root, and gets what it asked for. */
	memset(&opts, 0, sizeof(opts));
	opts.xattr_ns = VBD_XATTR_TRUSTED;
	fs_setup_opts(&t, &opts);
	t.root = mount_tag(&t, "data", &err);
	CHECK_EQ(err, 0);
	write_file(path_in(t.dir, "f"), "");
	CHECK(setxattr(path_in(t.dir, "f"), "trusted.secret", "s", 1, 0) == 0);
	id = lookup_id(&t, t.root, "f");
	CHECK_EQ(xattr_get(&t, id, 0, "trusted.secret", buf, 64), 0);
	CHECK(!memcmp(buf, "s", 1));
	CHECK_EQ(xattr_get(&t, id, 1000, "trusted.secret", buf, 64), -ENODATA);
	CHECK_EQ(xattr_set(&t, id, 0, "security.x", "1", 1), -EOPNOTSUPP);
	fs_teardown(&t);
}

static void test_xattr_parse(void)
{
	unsigned int m;

	CHECK_EQ(vbd_xattr_parse("trusted,security", &m), 0);
	CHECK_EQ(m, VBD_XATTR_TRUSTED | VBD_XATTR_SECURITY);
	CHECK_EQ(vbd_xattr_parse("user,trusted", &m), 0);
	CHECK_EQ(m, VBD_XATTR_TRUSTED);
	CHECK_EQ(vbd_xattr_parse("none", &m), 0);
	CHECK_EQ(m, 0);
	CHECK_EQ(vbd_xattr_parse("", &m), -EINVAL);
	CHECK_EQ(vbd_xattr_parse("system", &m), -EINVAL);
	CHECK_EQ(vbd_xattr_parse("trusted,", &m), -EINVAL);
	CHECK_EQ(vbd_xattr_parse("trustedx", &m), -EINVAL);
}

static volatile bool race_stop;

static void *race_lookups(void *arg)
{
	struct direct_fs *d = arg;

	while (!race_stop) {
		int32_t err = direct_lookup(d, d->root, "missing", NULL);

		CHECK(err == -ENOENT || err == -EMFILE);
	}
	return NULL;
}

/*
 * Another queue's request evicts the node TMPFILE just made before
 * TMPFILE takes its reference: an unlinked inode cannot be reopened,
 * and the reply must not use a node it does not hold.
 */
static void test_tmpfile_evict_race(void)
{
	struct vbd_fs_opts opts = { .max_fds = 4 };
	struct vbridge_fs_open_in oin = {
		.flags = htole32(O_RDWR), .mode = htole32(0600),
	};
	struct vbridge_fs_forget_in fin = { .nlookup = htole64(1) };
	uint8_t out[sizeof(struct vbridge_fs_entry_out) +
		    sizeof(struct vbridge_fs_open_out)];
	unsigned int i, ok = 0;
	struct direct_fs d;
	time_t deadline;
	pthread_t thr;

	direct_setup(&d, &opts);
	race_stop = false;
	CHECK(!pthread_create(&thr, NULL, race_lookups, &d));
	deadline = time(NULL) + 3;
	for (i = 0; i < 20000 && time(NULL) < deadline; i++) {
		struct vbridge_fs_entry_out e;
		struct vbridge_fs_open_out o;
		int32_t err;

		err = direct_op(d.fs, VBRIDGE_OP_FS_TMPFILE, d.root, 0, &oin,
				sizeof(oin), NULL, out, sizeof(out));
		if (err) {
			/* Both threads' descriptors at the limit. */
			CHECK_EQ(err, -EMFILE);
			continue;
		}
		ok++;
		memcpy(&e, out, sizeof(e));
		memcpy(&o, out + sizeof(e), sizeof(o));
		CHECK(S_ISREG(le32toh(e.attr.mode)));
		CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_RELEASE, le64toh(e.nodeid),
				   le64toh(o.fh), NULL, 0, NULL, NULL, 0), 0);
		CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_FORGET, le64toh(e.nodeid),
				   0, &fin, sizeof(fin), NULL, NULL, 0), 0);
	}
	race_stop = true;
	pthread_join(thr, NULL);
	CHECK(ok > 100);
	direct_teardown(&d);
}

/*
 * An evicted node whose inode number the host reuses for a FIFO: the
 * FIFO is a new node (its file handle differs), the old one is stale,
 * and nothing blocks.  The host filesystem picks inode numbers, so
 * this retries until one is reused.
 */
static void test_ino_reuse(void)
{
	struct vbd_fs_opts opts = { .max_fds = 4 };
	struct vbridge_fs_open_in oin = { .flags = htole32(O_RDONLY) };
	struct vbridge_fs_entry_out e, ef;
	uint8_t out[sizeof(struct vbridge_fs_attr_out)];
	struct vbridge_fs_open_out o;
	unsigned int attempt;
	struct direct_fs d;
	struct stat st;
	uint64_t fid;
	ino_t ino;

	direct_setup(&d, &opts);
	write_file(path_in(d.dir, "a"), "");
	write_file(path_in(d.dir, "b"), "");
	for (attempt = 0; attempt < 200; attempt++) {
		CHECK_EQ(direct_lookup(&d, d.root, "a", &e), 0);
		write_file(path_in(d.dir, "f"), "");
		CHECK_EQ(direct_lookup(&d, d.root, "f", &ef), 0);
		fid = le64toh(ef.nodeid);
		ino = le64toh(ef.attr.ino);
		/* Two more nodes at max_fds 4 (root, anchor): f is evicted. */
		CHECK_EQ(direct_lookup(&d, d.root, "a", &e), 0);
		CHECK_EQ(direct_lookup(&d, d.root, "b", &e), 0);
		CHECK_EQ(unlink(path_in(d.dir, "f")), 0);
		CHECK_EQ(mkfifo(path_in(d.dir, "p"), 0644), 0);
		CHECK_EQ(stat(path_in(d.dir, "p"), &st), 0);
		if (st.st_ino == ino)
			break;
		CHECK_EQ(unlink(path_in(d.dir, "p")), 0);
	}
	if (attempt == 200)
		tap_skip("the host filesystem reused no inode number");
	CHECK_EQ(direct_lookup(&d, d.root, "p", &e), 0);
	CHECK(S_ISFIFO(le32toh(e.attr.mode)));
	CHECK(le64toh(e.nodeid) != fid);
	CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_OPEN, le64toh(e.nodeid), 0,
			   &oin, sizeof(oin), NULL, &o, sizeof(o)), -ENXIO);
	CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_OPEN, fid, 0, &oin, sizeof(oin),
			   NULL, &o, sizeof(o)), -ESTALE);
	CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_GETATTR, fid, 0, NULL, 0, NULL,
			   out, sizeof(struct vbridge_fs_attr_out)), -ESTALE);
	direct_teardown(&d);
}

/*
 * inotify watches are bounded by --max-watches, logged once, and go
 * with the node's descriptor when it is evicted or forgotten.
 */
static void test_watch_limit(void)
{
	struct vbd_fs_opts opts = { .max_watches = 3 };
	struct vbridge_fs_forget_in fin = { .nlookup = htole64(1) };
	struct vbridge_fs_entry_out e;
	uint64_t ids[10];
	unsigned int i;
	struct direct_fs d;
	char name[16];

	direct_setup(&d, &opts);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		write_file(path_in(d.dir, name), "");
		CHECK_EQ(direct_lookup(&d, d.root, name, &e), 0);
		ids[i] = le64toh(e.nodeid);
	}
	CHECK_EQ(count_watches(), 3);
	CHECK(tap_log_contains("--max-watches"));
	/* Forgetting nodes frees their watches for others. */
	for (i = 0; i < 10; i++)
		CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_FORGET, ids[i], 0, &fin,
				   sizeof(fin), NULL, NULL, 0), 0);
	CHECK_EQ(count_watches(), 1);
	CHECK_EQ(direct_lookup(&d, d.root, "f0", &e), 0);
	CHECK_EQ(count_watches(), 2);
	direct_teardown(&d);

	/* Eviction: at most root, anchor and two nodes hold descriptors. */
	memset(&opts, 0, sizeof(opts));
	opts.max_fds = 4;
	direct_setup(&d, &opts);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		write_file(path_in(d.dir, name), "");
		CHECK_EQ(direct_lookup(&d, d.root, name, &e), 0);
		CHECK(count_watches() <= 3);
	}
	direct_teardown(&d);
}

/*
 * More host changes than the device queues while the guest posts no
 * event buffer: the dropped ones become one INVAL_ALL, delivered after
 * those queued.
 */
static void test_inval_overflow(void)
{
	struct vbridge_event_hdr *ev;
	unsigned int i, n = 0, all = 0;
	char name[16];
	uint32_t id, len;
	struct tfs t;

	fs_setup(&t);
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		write_file(path_in(t.dir, name), "");
		lookup_id(&t, t.root, name);
	}
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		write_file(path_in(t.dir, name), "changed");
	}
	/* The watcher thread reads inotify asynchronously. */
	for (i = 0; i < 100 && !tap_log_contains("dropped"); i++)
		usleep(50000);
	CHECK(tap_log_contains("dropped"));
	for (i = 0; i < 40; i++)
		drv_add(&t.f, 0, &(struct drv_buf){
			drv_alloc(&t.f, VBRIDGE_EVENT_BUF_SIZE),
			VBRIDGE_EVENT_BUF_SIZE, true }, 1, false);
	drv_kick(&t.f, 0);
	while (drv_wait_used(&t.f, 0, &id, &len, 1000)) {
		ev = gpa_ptr(&t.f, le64toh(t.f.vq[0].desc[id].addr));
		CHECK_EQ(le32toh(ev->len), len);
		n++;
		if (le32toh(ev->type) == VBRIDGE_EVT_FS_INVAL_ALL) {
			CHECK_EQ(len, sizeof(*ev));
			all++;
		}
	}
	CHECK(n >= 16);
	CHECK_EQ(all, 1);
	fs_teardown(&t);
}

/* Sealed handles (--handle-key) */

static int32_t get_handle(struct tfs *t, uint64_t id, struct vbridge_fs_handle *h)
{
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_GET_HANDLE, &(struct freq){
		.nodeid = id, .out_room = sizeof(*h) }, &r);
	if (!err) {
		CHECK_EQ(r.len, 16 + sizeof(*h));
		memcpy(h, r.payload, sizeof(*h));
		CHECK(le32toh(h->len) > 0 && le32toh(h->len) <= VBRIDGE_FS_HANDLE_MAX);
	}
	return err;
}

static int32_t resolve(struct tfs *t, uint64_t hint,
		       const struct vbridge_fs_handle *h,
		       struct vbridge_fs_entry_out *e)
{
	struct fe_resp r;
	int32_t err;

	err = fsreq(t, VBRIDGE_OP_FS_RESOLVE, &(struct freq){
		.nodeid = hint, .arg = h, .arg_len = sizeof(*h) }, &r);
	if (!err && e)
		memcpy(e, r.payload, sizeof(*e));
	return err;
}

static void handle_opts(struct vbd_fs_opts *o, uint8_t fill)
{
	memset(o, 0, sizeof(*o));
	o->handle_key_set = true;
	memset(o->handle_key, fill, sizeof(o->handle_key));
}

/* fs_setup() with the key of handle_opts(o, fill). */
static void handle_setup(struct tfs *t, struct vbd_fs_opts *o, uint8_t fill)
{
	int32_t err;

	handle_opts(o, fill);
	fs_setup_opts(t, o);
	t->root = mount_tag(t, "data", &err);
	CHECK_EQ(err, 0);
}

/* A new vbridged on the same exports with options o, and the data mount. */
static void restart_mount(struct tfs *t, const struct vbd_fs_opts *o)
{
	int32_t err;

	CHECK_EQ(fe_stop(&t->f), 0);
	fs_start(t, o);
	t->root = mount_tag(t, "data", &err);
	CHECK_EQ(err, 0);
}

static void test_handle_resolve(void)
{
	struct vbridge_fs_handle hf, hd, hg, hroot;
	struct vbridge_fs_entry_out e;
	struct vbd_fs_opts o;
	struct stat st;
	struct tfs t;

	handle_setup(&t, &o, 0x5a);
	write_file(path_in(t.dir, "f"), "hello");
	CHECK(mkdir(path_in(t.dir, "d"), 0755) == 0);
	CHECK(mkdir(path_in(t.dir, "d/g"), 0755) == 0);
	CHECK_EQ(get_handle(&t, lookup_id(&t, t.root, "f"), &hf), 0);
	CHECK_EQ(get_handle(&t, lookup_id(&t, t.root, "d"), &hd), 0);
	CHECK_EQ(get_handle(&t, lookup_id(&t, lookup_id(&t, t.root, "d"), "g"),
			    &hg), 0);
	CHECK_EQ(get_handle(&t, t.root, &hroot), 0);

	/* Renamed while no vbridged ran: found by handle, not by name. */
	restart_mount(&t, &o);
	CHECK(rename(path_in(t.dir, "f"), path_in(t.dir, "f2")) == 0);
	CHECK(rename(path_in(t.dir, "d"), path_in(t.dir, "e")) == 0);
	CHECK(mkdir(path_in(t.dir, "x"), 0755) == 0);
	CHECK(rename(path_in(t.dir, "e/g"), path_in(t.dir, "x/g")) == 0);
	CHECK_EQ(lookup(&t, t.root, "f", &e), -ENOENT);
	CHECK_EQ(resolve(&t, t.root, &hf, &e), 0);
	CHECK(stat(path_in(t.dir, "f2"), &st) == 0);
	CHECK_EQ(le64toh(e.attr.ino), st.st_ino);
	CHECK_EQ(le64toh(e.nodeid), lookup_id(&t, t.root, "f2"));
	/* Directories anywhere in the export, whatever the hint. */
	CHECK_EQ(resolve(&t, t.root, &hd, &e), 0);
	CHECK(stat(path_in(t.dir, "e"), &st) == 0);
	CHECK_EQ(le64toh(e.attr.ino), st.st_ino);
	CHECK_EQ(resolve(&t, t.root, &hg, &e), 0);
	CHECK(stat(path_in(t.dir, "x/g"), &st) == 0);
	CHECK_EQ(le64toh(e.attr.ino), st.st_ino);
	CHECK_EQ(resolve(&t, t.root, &hroot, &e), 0);
	CHECK_EQ(le64toh(e.nodeid), t.root);
	/* A file is looked for where the guest says it saw it only. */
	CHECK_EQ(resolve(&t, lookup_id(&t, t.root, "x"), &hf, &e), -ESTALE);
	CHECK_EQ(resolve(&t, lookup_id(&t, t.root, "f2"), &hf, &e), -ENOTDIR);
	/* Gone. */
	CHECK(unlink(path_in(t.dir, "f2")) == 0);
	CHECK_EQ(resolve(&t, t.root, &hf, &e), -ESTALE);
	fs_teardown(&t);
}

static void test_handle_forged(void)
{
	struct vbridge_fs_handle h, bad;
	struct vbd_fs_opts o, other;
	uint64_t ro;
	uint32_t len, i;
	struct tfs t;
	int32_t err;

	handle_setup(&t, &o, 0x11);
	write_file(path_in(t.dir, "f"), "x");
	CHECK_EQ(get_handle(&t, lookup_id(&t, t.root, "f"), &h), 0);
	len = le32toh(h.len);
	CHECK_EQ(resolve(&t, t.root, &h, NULL), 0);

	/* Any bit changed anywhere: refused before open_by_handle_at(). */
	for (i = 0; i < len; i++) {
		bad = h;
		bad.data[i] ^= 0x01;
		CHECK_EQ(resolve(&t, t.root, &bad, NULL), -ESTALE);
	}
	bad = h;
	bad.len = htole32(len - 1);
	CHECK_EQ(resolve(&t, t.root, &bad, NULL), -ESTALE);
	bad.len = htole32(0);
	CHECK_EQ(resolve(&t, t.root, &bad, NULL), -ESTALE);
	bad.len = htole32(VBRIDGE_FS_HANDLE_MAX + 1);
	CHECK_EQ(resolve(&t, t.root, &bad, NULL), -EINVAL);
	bad = h;
	bad.padding = htole32(1);
	CHECK_EQ(resolve(&t, t.root, &bad, NULL), -EINVAL);
	/* Bound to its export: not valid in another one. */
	ro = mount_tag(&t, "other", &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(resolve(&t, ro, &h, NULL), -ESTALE);

	/* Another key: another backend's handles mean nothing. */
	handle_opts(&other, 0x22);
	restart_mount(&t, &other);
	CHECK_EQ(resolve(&t, t.root, &h, NULL), -ESTALE);
	/* Without a key, no handles at all. */
	restart_mount(&t, NULL);
	CHECK_EQ(get_handle(&t, t.root, &bad), -EOPNOTSUPP);
	CHECK_EQ(resolve(&t, t.root, &h, NULL), -EOPNOTSUPP);
	fs_teardown(&t);
}

/* A valid handle of a file moved out of the export opens nothing. */
static void test_handle_outside(void)
{
	struct vbridge_fs_handle hf, hd, hn;
	char out[64], cmd[160];
	struct vbd_fs_opts o;
	struct tfs t;

	strcpy(out, "/tmp/vbridged-out-XXXXXX");
	CHECK(mkdtemp(out));
	handle_setup(&t, &o, 0x33);
	write_file(path_in(t.dir, "f"), "secret later");
	CHECK(mkdir(path_in(t.dir, "d"), 0755) == 0);
	CHECK(mkdir(path_in(t.dir, "n"), 0755) == 0);
	CHECK(mkdir(path_in(t.dir, "n/deep"), 0755) == 0);
	CHECK_EQ(get_handle(&t, lookup_id(&t, t.root, "f"), &hf), 0);
	CHECK_EQ(get_handle(&t, lookup_id(&t, t.root, "d"), &hd), 0);
	CHECK_EQ(get_handle(&t, lookup_id(&t, lookup_id(&t, t.root, "n"),
					  "deep"), &hn), 0);

	restart_mount(&t, &o);
	CHECK(rename(path_in(t.dir, "f"), path_in(out, "f")) == 0);
	CHECK(rename(path_in(t.dir, "d"), path_in(out, "d")) == 0);
	CHECK(rename(path_in(t.dir, "n"), path_in(out, "n")) == 0);
	CHECK_EQ(resolve(&t, t.root, &hf, NULL), -ESTALE);
	CHECK_EQ(resolve(&t, t.root, &hd, NULL), -ESTALE);
	CHECK_EQ(resolve(&t, t.root, &hn, NULL), -ESTALE);
	/* Back inside: found again. */
	CHECK(rename(path_in(out, "n"), path_in(t.dir, "n2")) == 0);
	CHECK_EQ(resolve(&t, t.root, &hn, NULL), 0);
	fs_teardown(&t);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", out);
	CHECK_EQ(system(cmd), 0);
}

#define T(name)	{ #name, test_##name }

static const struct tap_test tests[] = {
	T(mount),
	T(lookup_getattr),
	T(forget),
	T(ids_per_instance),
	T(batch_forget),
	T(create_excl),
	T(mkdir_rmdir),
	T(unlink),
	T(symlink_readlink),
	T(link),
	T(rename),
	T(read_write),
	T(write_append),
	T(read_write_split),
	T(setattr),
	T(readdir),
	T(readdir_names),
	T(statfs_fsync),
	T(xattr),
	T(fallocate_lseek),
	T(copy_file_range),
	T(locks),
	T(readonly),
	T(escape),
	T(name_too_long),
	T(malformed),
	T(access_denied),
	T(id_map),
	T(timeouts),
	T(max_fds),
	T(max_fds_lru),
	T(inval_event),
	T(devidx),
	T(groups),
	T(chmod_special),
	T(kill_suidgid),
	T(xattr_policy),
	T(xattr_caps),
	T(xattr_parse),
	T(tmpfile_evict_race),
	T(ino_reuse),
	T(watch_limit),
	T(inval_overflow),
	T(handle_resolve),
	T(handle_forged),
	T(handle_outside),
};

int main(int argc, char **argv)
{
	return tap_main(tests, ARRAY_SIZE(tests), argc, argv);
}
