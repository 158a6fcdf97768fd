// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host change notifications (fs_watch.c): fanotify events mapped to the
 * nodes the guest knows, confinement to the export, the queue overflow
 * of an export, and the live watch of a real host filesystem with its
 * inotify fallback.  The mapping tests feed the watcher's input path
 * with events made here, so they need no fanotify on the test host.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/vbridge.h>

#include "device.h"
#include "frontend.h"
#include "fs_direct.h"
#include "tap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The events the filesystem posted, for the guest. */
static struct {
	pthread_mutex_t lock;
	unsigned int n;
	struct {
		uint32_t type;
		uint64_t id;		/* node, parent or root */
		char name[VBRIDGE_FS_NAME_MAX + 1];
	} ev[64];
} cap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void capture(void *opaque, const void *data, uint32_t len)
{
	const struct vbridge_event_hdr *h = data;
	const struct vbridge_event_fs_inval_inode *ii = data;
	const struct vbridge_event_fs_inval_entry *ie = data;
	const struct vbridge_event_fs_inval_export *ix = data;

	CHECK(len >= sizeof(*h) && le32toh(h->len) == len);
	pthread_mutex_lock(&cap.lock);
	if (cap.n < ARRAY_SIZE(cap.ev)) {
		typeof(cap.ev[0]) *e = &cap.ev[cap.n++];

		memset(e, 0, sizeof(*e));
		e->type = le32toh(h->type);
		if (e->type == VBRIDGE_EVT_FS_INVAL_INODE) {
			e->id = le64toh(ii->nodeid);
		} else if (e->type == VBRIDGE_EVT_FS_INVAL_ENTRY) {
			e->id = le64toh(ie->parent);
			CHECK(le32toh(ie->namelen) <= VBRIDGE_FS_NAME_MAX);
			memcpy(e->name, ie->name, le32toh(ie->namelen));
		} else if (e->type == VBRIDGE_EVT_FS_INVAL_EXPORT) {
			CHECK_EQ(len, sizeof(*ix));
			e->id = le64toh(ix->root);
		}
	}
	pthread_mutex_unlock(&cap.lock);
}

static void cap_reset(void)
{
	pthread_mutex_lock(&cap.lock);
	cap.n = 0;
	pthread_mutex_unlock(&cap.lock);
}

static unsigned int cap_count(void)
{
	unsigned int n;

	pthread_mutex_lock(&cap.lock);
	n = cap.n;
	pthread_mutex_unlock(&cap.lock);
	return n;
}

/* Whether an event of type about id (and name, unless NULL) was posted. */
static bool cap_has(uint32_t type, uint64_t id, const char *name)
{
	bool found = false;
	unsigned int i;

	pthread_mutex_lock(&cap.lock);
	for (i = 0; i < cap.n && !found; i++)
		found = cap.ev[i].type == type && cap.ev[i].id == id &&
			(!name || !strcmp(cap.ev[i].name, name));
	pthread_mutex_unlock(&cap.lock);
	return found;
}

/* Wait up to 5 s for that event (the watcher thread posts it). */
static bool cap_wait(uint32_t type, uint64_t id, const char *name)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (cap_has(type, id, name))
			return true;
		usleep(10000);
	}
	return false;
}

/* fanotify events as the kernel writes them, one at a time. */
struct fan_buf {
	uint8_t data[4096] __attribute__((aligned(8)));
	size_t len;
	size_t start;			/* of the event being written */
};

static void fan_begin(struct fan_buf *b, uint64_t mask)
{
	struct fanotify_event_metadata m = {
		.vers = FANOTIFY_METADATA_VERSION,
		.metadata_len = sizeof(m),
		.mask = mask,
		.fd = FAN_NOFD,
		.pid = 1,
	};

	b->start = b->len;
	memcpy(b->data + b->len, &m, sizeof(m));
	b->len += sizeof(m);
}

/* A record of type for handle fh, with name for the DFID_NAME types. */
static void fan_rec(struct fan_buf *b, uint8_t type,
		    const struct file_handle *fh, const char *name)
{
	struct fanotify_event_info_fid fid = { .hdr.info_type = type };
	size_t hlen = sizeof(*fh) + fh->handle_bytes;
	size_t len = sizeof(fid) + hlen + (name ? strlen(name) + 1 : 0);

	len = (len + 3) & ~(size_t)3;
	CHECK(b->len + len <= sizeof(b->data));
	fid.hdr.len = len;
	memset(b->data + b->len, 0, len);
	memcpy(b->data + b->len, &fid, sizeof(fid));
	memcpy(b->data + b->len + sizeof(fid), fh, hlen);
	if (name)
		memcpy(b->data + b->len + sizeof(fid) + hlen, name, strlen(name));
	b->len += len;
}

static void fan_end(struct fan_buf *b)
{
	struct fanotify_event_metadata m;

	memcpy(&m, b->data + b->start, sizeof(m));
	m.event_len = b->len - b->start;
	memcpy(b->data + b->start, &m, sizeof(m));
}

/*
 * Feed b to share 0 of d and start over; how many events came of it.
 * The inotify watches of the nodes post events of the test's own host
 * changes from the watcher thread meanwhile: let them come first.
 */
static void settle(void)
{
	unsigned int n;

	do {
		n = cap_count();
		usleep(50000);
	} while (cap_count() != n);
}

static unsigned int fan_feed(struct direct_fs *d, struct fan_buf *b)
{
	settle();
	cap_reset();
	vbd_fs_watch_input(d->fs, 0, b->data, b->len);
	b->len = 0;
	return cap_count();
}

/* The file handle of path, as the kernel reports it (freed by the caller). */
static struct file_handle *handle_of(const char *path)
{
	struct file_handle *fh = calloc(1, sizeof(*fh) + MAX_HANDLE_SZ);
	int mount_id;

	CHECK(fh);
	fh->handle_bytes = MAX_HANDLE_SZ;
	CHECK(!name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0));
	return fh;
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	close(fd);
}

static uint64_t lookup_id(struct direct_fs *d, uint64_t parent,
			  const char *name)
{
	struct vbridge_fs_entry_out e;

	CHECK_EQ(direct_lookup(d, parent, name, &e), 0);
	return le64toh(e.nodeid);
}

/*
 * An event names the changed inode (FID) and, for a name, its directory
 * (DFID_NAME): INVAL_INODE for each node the guest knows, INVAL_ENTRY
 * only for a name created, deleted or moved.
 */
static void test_map(void)
{
	struct file_handle *hroot, *hf, *hd, *hg;
	uint64_t fid, did;
	struct direct_fs d;
	struct fan_buf b = { .len = 0 };

	direct_set_event_fn(capture, NULL);
	direct_setup(&d, &(struct vbd_fs_opts){ 0 });
	touch(path_in(d.dir, "f"));
	touch(path_in(d.dir, "g"));
	CHECK(!mkdir(path_in(d.dir, "d"), 0755));
	hroot = handle_of(d.dir);
	hf = handle_of(path_in(d.dir, "f"));
	hd = handle_of(path_in(d.dir, "d"));
	hg = handle_of(path_in(d.dir, "g"));
	fid = lookup_id(&d, d.root, "f");
	did = lookup_id(&d, d.root, "d");

	/* A write: the file only, not its directory. */
	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hroot, "f");
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hf, NULL);
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 1);
	CHECK(cap_has(VBRIDGE_EVT_FS_INVAL_INODE, fid, NULL));

	/* A name created: the entry and the directory. */
	fan_begin(&b, FAN_CREATE);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hd, "new");
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hd, NULL);
	fan_end(&b);
	CHECK(fan_feed(&d, &b) >= 2);
	CHECK(cap_has(VBRIDGE_EVT_FS_INVAL_ENTRY, did, "new"));
	CHECK(cap_has(VBRIDGE_EVT_FS_INVAL_INODE, did, NULL));

	/* Moves and deletes; a directory's own change carries ".". */
	fan_begin(&b, FAN_MOVED_FROM | FAN_ONDIR);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hroot, "d");
	fan_end(&b);
	fan_begin(&b, FAN_ATTRIB | FAN_ONDIR);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hd, ".");
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 3);
	CHECK(cap_has(VBRIDGE_EVT_FS_INVAL_ENTRY, d.root, "d"));
	CHECK(cap_has(VBRIDGE_EVT_FS_INVAL_INODE, d.root, NULL));
	CHECK(cap_has(VBRIDGE_EVT_FS_INVAL_INODE, did, NULL));

	/* A file of the export the guest never looked up: nothing. */
	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hg, NULL);
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 0);

	/* Names the guest must not be given: the directory only. */
	fan_begin(&b, FAN_CREATE);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hd, "..");
	fan_end(&b);
	fan_begin(&b, FAN_DELETE);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hd, "a/b");
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 2);
	CHECK(!cap_has(VBRIDGE_EVT_FS_INVAL_ENTRY, did, NULL));

	/* A forgotten node is no longer matched. */
	CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_FORGET, fid, 0,
			   &(struct vbridge_fs_forget_in){ htole64(1) },
			   sizeof(struct vbridge_fs_forget_in), NULL, NULL, 0), 0);
	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hf, NULL);
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 0);

	free(hroot);
	free(hf);
	free(hd);
	free(hg);
	direct_teardown(&d);
	direct_set_event_fn(NULL, NULL);
}

/*
 * Events about the rest of the host filesystem, beside the export or
 * above it, match no node and are dropped: no name or change outside
 * the export reaches the guest, even a file it could open by handle.
 */
static void test_confined(void)
{
	struct file_handle *hout, *hx, *hup;
	char out[64] = "/tmp/vbridged-out-XXXXXX", cmd[128];
	struct direct_fs d;
	struct fan_buf b = { .len = 0 };

	direct_set_event_fn(capture, NULL);
	direct_setup(&d, &(struct vbd_fs_opts){ 0 });
	CHECK(mkdtemp(out));
	touch(path_in(out, "x"));
	hout = handle_of(out);
	hx = handle_of(path_in(out, "x"));
	hup = handle_of("/tmp");

	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hout, "x");
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hx, NULL);
	fan_end(&b);
	fan_begin(&b, FAN_CREATE);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hout, "secret");
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hout, NULL);
	fan_end(&b);
	/* The export's own directory entry lives in its parent. */
	fan_begin(&b, FAN_ATTRIB | FAN_ONDIR);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hup, strrchr(d.dir, '/') + 1);
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 0);

	/* Moved into the export: seen once the guest looks it up. */
	CHECK(!rename(path_in(out, "x"), path_in(d.dir, "x")));
	lookup_id(&d, d.root, "x");
	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hx, NULL);
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 1);

	free(hout);
	free(hx);
	free(hup);
	direct_teardown(&d);
	direct_set_event_fn(NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", out);
	CHECK_EQ(system(cmd), 0);
}

/* Truncated or inconsistent input is dropped without a read past it. */
static void test_malformed(void)
{
	struct fanotify_event_metadata m;
	struct fanotify_event_info_fid fid;
	struct file_handle *hf;
	struct direct_fs d;
	struct fan_buf b = { .len = 0 };
	uint8_t *copy;
	size_t cut;

	direct_set_event_fn(capture, NULL);
	direct_setup(&d, &(struct vbd_fs_opts){ 0 });
	touch(path_in(d.dir, "f"));
	hf = handle_of(path_in(d.dir, "f"));
	lookup_id(&d, d.root, "f");

	/* Every truncation of a good event, in a buffer of exactly its size. */
	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hf, "f");
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hf, NULL);
	fan_end(&b);
	settle();
	for (cut = 0; cut < b.len; cut++) {
		copy = malloc(cut ? cut : 1);
		CHECK(copy);
		memcpy(copy, b.data, cut);
		cap_reset();
		vbd_fs_watch_input(d.fs, 0, copy, cut);
		CHECK_EQ(cap_count(), 0);
		free(copy);
	}
	b.len = 0;

	/* A record longer than its event, a handle longer than its record. */
	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hf, NULL);
	fan_end(&b);
	memcpy(&fid, b.data + sizeof(m), sizeof(fid));
	fid.hdr.len += 64;
	memcpy(b.data + sizeof(m), &fid, sizeof(fid));
	CHECK_EQ(fan_feed(&d, &b), 0);
	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hf, NULL);
	fan_end(&b);
	b.data[sizeof(m) + sizeof(fid)] += 64;	/* handle_bytes */
	CHECK_EQ(fan_feed(&d, &b), 0);
	/* A name without its terminating NUL. */
	fan_begin(&b, FAN_CREATE);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_DFID_NAME, hf, "abc");
	fan_end(&b);
	memset(b.data + b.len - 4, 'z', 4);
	CHECK_EQ(fan_feed(&d, &b), 0);
	/* Another metadata version. */
	fan_begin(&b, FAN_MODIFY);
	fan_rec(&b, FAN_EVENT_INFO_TYPE_FID, hf, NULL);
	fan_end(&b);
	b.data[4] = FANOTIFY_METADATA_VERSION + 1;
	CHECK_EQ(fan_feed(&d, &b), 0);

	free(hf);
	direct_teardown(&d);
	direct_set_event_fn(NULL, NULL);
}

/*
 * The export's queue overflowed: INVAL_EXPORT names its root, so that
 * the guest drops all it cached of it; nothing if the guest holds no
 * root (nothing cached).
 */
static void test_overflow(void)
{
	struct direct_fs d;
	struct fan_buf b = { .len = 0 };

	direct_set_event_fn(capture, NULL);
	direct_setup(&d, &(struct vbd_fs_opts){ 0 });
	fan_begin(&b, FAN_Q_OVERFLOW);
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 1);
	CHECK(cap_has(VBRIDGE_EVT_FS_INVAL_EXPORT, d.root, NULL));
	CHECK(tap_log_contains("host change notifications lost"));

	CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_FORGET, d.root, 0,
			   &(struct vbridge_fs_forget_in){ htole64(1) },
			   sizeof(struct vbridge_fs_forget_in), NULL, NULL, 0), 0);
	fan_begin(&b, FAN_Q_OVERFLOW);
	fan_end(&b);
	CHECK_EQ(fan_feed(&d, &b), 0);
	direct_teardown(&d);
	direct_set_event_fn(NULL, NULL);
}

/* Write to path from another process, as any host program would. */
static void host_write(const char *path, const char *text)
{
	pid_t pid = fork();
	int status, fd;

	CHECK(pid >= 0);
	if (!pid) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		_exit(fd < 0 || write(fd, text, strlen(text)) < 0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK_EQ(status, 0);
}

/*
 * A real export: with fanotify (root, Linux 5.9+, a filesystem with
 * file handles) every change by any process is seen with no watch per
 * node and long default timeouts, and one filesystem at a time owns an
 * export's group; without it, inotify as before, and the log says which.
 */
static void test_live(void)
{
	struct vbridge_fs_entry_out e;
	struct direct_fs d;
	struct vbd_fs *fs2;
	uint64_t fid;

	direct_set_event_fn(capture, NULL);
	direct_setup_watch(&d, &(struct vbd_fs_opts){ 0 }, true);
	touch(path_in(d.dir, "f"));
	CHECK_EQ(direct_lookup(&d, d.root, "f", &e), 0);
	fid = le64toh(e.nodeid);
	if (!tap_log_contains("watched with fanotify")) {
		tap_diag("no fanotify here: the inotify fallback");
		CHECK(tap_log_contains("file by file with inotify"));
		CHECK(!vbd_fs_coherent(d.fs));
		CHECK_EQ(le64toh(e.attr_valid_ns), VBD_FS_DEFAULT_TIMEOUT_NS);
		CHECK(count_watches() >= 2);
		host_write(path_in(d.dir, "f"), "x");
		CHECK(cap_wait(VBRIDGE_EVT_FS_INVAL_INODE, fid, NULL));
		direct_teardown(&d);
		direct_set_event_fn(NULL, NULL);
		return;
	}
	CHECK(vbd_fs_coherent(d.fs));
	CHECK_EQ(le64toh(e.attr_valid_ns), VBD_FS_COHERENT_TIMEOUT_NS);
	CHECK_EQ(le64toh(e.entry_valid_ns), VBD_FS_COHERENT_TIMEOUT_NS);
	CHECK_EQ(count_watches(), 0);

	host_write(path_in(d.dir, "f"), "x");
	CHECK(cap_wait(VBRIDGE_EVT_FS_INVAL_INODE, fid, NULL));
	host_write(path_in(d.dir, "new"), "y");
	CHECK(cap_wait(VBRIDGE_EVT_FS_INVAL_ENTRY, d.root, "new"));

	/* The group is taken: a second filesystem watches with inotify. */
	fs2 = vbd_fs_new(d.st, &(struct vbd_fs_opts){ 0 }, capture, NULL);
	CHECK(fs2);
	CHECK(!vbd_fs_coherent(fs2));
	vbd_fs_free(fs2);

	/* The userspace bridge's filesystems take none (inotify_only). */
	vbd_fs_free(d.fs);
	fs2 = vbd_fs_new(d.st, &(struct vbd_fs_opts){ .inotify_only = true },
			 capture, NULL);
	CHECK(fs2);
	CHECK(!vbd_fs_coherent(fs2));

	/* Timeouts given on the command line are kept. */
	d.fs = vbd_fs_new(d.st, &(struct vbd_fs_opts){
		.timeouts_set = true, .attr_timeout_ns = 5000000,
		.entry_timeout_ns = 0 }, capture, NULL);
	CHECK(d.fs);
	CHECK(vbd_fs_coherent(d.fs));
	CHECK_EQ(direct_op(d.fs, VBRIDGE_OP_FS_MOUNT, 0, 0,
			   &(struct vbridge_fs_mount_in){ .tag = "data" },
			   sizeof(struct vbridge_fs_mount_in), NULL, &e,
			   sizeof(e)), 0);
	CHECK_EQ(le64toh(e.attr_valid_ns), 5000000);
	CHECK_EQ(le64toh(e.entry_valid_ns), 0);
	vbd_fs_free(fs2);
	direct_teardown(&d);
	direct_set_event_fn(NULL, NULL);
}

/*
 * The first event a driver with features gets after share 0's queue
 * overflowed: INVAL_EXPORT only for one that acked
 * VBRIDGE_F_FS_COHERENT, which knows it; INVAL_ALL otherwise.
 */
static uint32_t overflow_event_for(uint64_t features, uint64_t *root)
{
	struct vbridge_event_fs_inval_export ev;
	struct vbridge_fs_entry_out e;
	struct fan_buf b = { .len = 0 };
	char dir[64] = "/tmp/vbridged-dev-XXXXXX", spec[128], cmd[128];
	char *specs[1] = { spec };
	struct vbd_store *st;
	uint32_t id, len;
	struct fe f;

	CHECK(mkdtemp(dir));
	snprintf(spec, sizeof(spec), "data=%s", dir);
	st = vbd_share_store_open(specs, 1);
	CHECK(st);
	vbd_share_store_watch(st);
	fe_start_store(&f, 1, st, NULL);
	fe_handshake(&f, features);
	fe_setup_all(&f, 64);
	CHECK_EQ(fe_init(&f, 1), 0);
	CHECK_EQ(direct_op(vbd_device_fs(f.dev), VBRIDGE_OP_FS_MOUNT, 0, 0,
			   &(struct vbridge_fs_mount_in){ .tag = "data" },
			   sizeof(struct vbridge_fs_mount_in), NULL, &e,
			   sizeof(e)), 0);
	*root = le64toh(e.nodeid);
	drv_add(&f, 0, &(struct drv_buf){ drv_alloc(&f, VBRIDGE_EVENT_BUF_SIZE),
		VBRIDGE_EVENT_BUF_SIZE, true }, 1, false);
	drv_kick(&f, 0);
	fan_begin(&b, FAN_Q_OVERFLOW);
	fan_end(&b);
	vbd_fs_watch_input(vbd_device_fs(f.dev), 0, b.data, b.len);
	CHECK(drv_wait_used(&f, 0, &id, &len, 5000));
	memset(&ev, 0, sizeof(ev));
	memcpy(&ev, gpa_ptr(&f, le64toh(f.vq[0].desc[id].addr)),
	       len < sizeof(ev) ? len : sizeof(ev));
	CHECK_EQ(le32toh(ev.hdr.len), len);
	CHECK_EQ(fe_stop(&f), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
	if (le32toh(ev.hdr.type) == VBRIDGE_EVT_FS_INVAL_EXPORT) {
		CHECK_EQ(len, sizeof(ev));
		CHECK_EQ(le64toh(ev.root), *root);
	}
	return le32toh(ev.hdr.type);
}

static void test_overflow_driver(void)
{
	uint64_t offered, root;
	struct fe f;

	/* What the device offers here, fanotify or not. */
	fe_start(&f, 1, (const char *const[]){ "x" }, 1);
	offered = fe_get_u64(&f, REQ_GET_FEATURES);
	CHECK_EQ(fe_stop(&f), 0);
	CHECK(!(offered & (1ULL << VBRIDGE_F_FS_COHERENT)));

	CHECK_EQ(overflow_event_for(offered, &root), VBRIDGE_EVT_FS_INVAL_ALL);
	if (!tap_log_contains("watched with fanotify")) {
		tap_diag("no fanotify here: VBRIDGE_F_FS_COHERENT is not offered");
		return;
	}
	CHECK_EQ(overflow_event_for(0, &root), VBRIDGE_EVT_FS_INVAL_EXPORT);
}

#define T(name)	{ #name, test_##name }

static const struct tap_test tests[] = {
	T(map),
	T(confined),
	T(malformed),
	T(overflow),
	T(overflow_driver),
	T(live),
};

int main(int argc, char **argv)
{
	return tap_main(tests, ARRAY_SIZE(tests), argc, argv);
}
