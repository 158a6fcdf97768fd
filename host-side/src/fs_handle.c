// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sealed node handles (VBRIDGE_F_FS_HANDLES): how a guest finds its
 * nodes again on a later vbridged, by host file handle rather than by
 * name, so that a file renamed while no backend ran is still found.
 *
 * GET_HANDLE gives the guest the node's host file handle
 * (name_to_handle_at(), recorded in node_add()) with an HMAC-SHA256
 * over it and the export's tag, under the key of --handle-key, which
 * outlives us.  RESOLVE checks the MAC before anything else: the guest
 * can only give back what some vbridged with that key handed to a
 * guest of that export, never a handle of its own making, so
 * open_by_handle_at() never sees unverified bytes.
 *
 * A valid handle is not enough, though: a file handle names an inode of
 * a whole filesystem, and the file may have been moved out of the
 * export since the handle was made.  A node found again is therefore
 * accepted only if it is still inside the export:
 *  - handles are made only of nodes on the export root's filesystem
 *    (devidx 0), and opened against the export root, so the inode is on
 *    that filesystem; other filesystems below the export are left to
 *    the guest's recovery by name;
 *  - a directory must reach the export root by walking "..": the host
 *    kernel keeps directories connected to their parents, so the walk
 *    sees where the directory is now; reaching the filesystem's root or
 *    another filesystem first means it is outside;
 *  - any other file has no "..", and a disconnected inode has no path
 *    we could trust; it must be linked in the directory the guest names
 *    in the request (where the guest last saw it, itself inside the
 *    export), under any name.  A file moved to another directory while
 *    no backend ran is therefore not found: ESTALE, as by name.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fs_priv.h"

#define SEAL_VERSION		1
#define SEAL_MAC_LEN		32	/* HMAC-SHA256 */
/* Directories walked up at most: deeper trees are refused (ESTALE). */
#define SEAL_MAX_DEPTH		4096

/* What the guest holds: this header, f_handle, then the MAC. */
struct seal_hdr {
	uint8_t version;
	uint8_t type;			/* S_IFMT >> 12 */
	uint16_t bytes;			/* le: f_handle bytes */
	int32_t handle_type;		/* le */
};

_Static_assert(sizeof(struct seal_hdr) == 8, "seal_hdr layout");
_Static_assert(sizeof(struct seal_hdr) + MAX_HANDLE_SZ + SEAL_MAC_LEN <=
	       VBRIDGE_FS_HANDLE_MAX, "a sealed handle fits the wire");
_Static_assert(sizeof(struct vbridge_fs_handle) == 200, "fs_handle layout");

/* The MAC of data under the key, bound to the export's tag. */
static int seal_mac(const struct vbd_fs *fs, unsigned int share,
		    const uint8_t *data, size_t len, uint8_t mac[SEAL_MAC_LEN])
{
	static const char domain[] = "vbridge sealed handle 1";
	unsigned int mac_len = SEAL_MAC_LEN;
	uint8_t buf[sizeof(domain) + VBRIDGE_TAG_LEN + VBRIDGE_FS_HANDLE_MAX];

	if (len > VBRIDGE_FS_HANDLE_MAX)
		return -EINVAL;
	memcpy(buf, domain, sizeof(domain));
	memcpy(buf + sizeof(domain), fs->shares[share].tag, VBRIDGE_TAG_LEN);
	memcpy(buf + sizeof(domain) + VBRIDGE_TAG_LEN, data, len);
	if (!HMAC(EVP_sha256(), fs->opts.handle_key, sizeof(fs->opts.handle_key),
		  buf, sizeof(domain) + VBRIDGE_TAG_LEN + len, mac, &mac_len) ||
	    mac_len != SEAL_MAC_LEN)
		return -EIO;
	return 0;
}

int op_get_handle(struct fs_ctx *x)
{
	struct fs_node *n = x->node;
	struct vbridge_fs_handle out = {};
	struct seal_hdr h = {};
	size_t len;
	int err;

	/* Only the export root's filesystem: see the top. */
	if (!n->handle || n->dev != x->fs->shares[n->share].root_dev ||
	    n->handle->handle_bytes > MAX_HANDLE_SZ)
		return -EOPNOTSUPP;
	h.version = SEAL_VERSION;
	h.type = n->type >> 12;
	h.bytes = htole16(n->handle->handle_bytes);
	h.handle_type = (int32_t)htole32(n->handle->handle_type);
	memcpy(out.data, &h, sizeof(h));
	memcpy(out.data + sizeof(h), n->handle->f_handle, n->handle->handle_bytes);
	len = sizeof(h) + n->handle->handle_bytes;
	err = seal_mac(x->fs, n->share, out.data, len, out.data + len);
	if (err)
		return err;
	out.len = htole32(len + SEAL_MAC_LEN);
	return push(x, &out, sizeof(out));
}

/*
 * Is directory fd below the export root (or the root itself)?  The walk
 * goes up the mount fd was opened on: at the filesystem's root, at our
 * own root or at a disconnected inode ".." is the directory itself, and
 * above the mount's root it is on another mount, of another st_dev or
 * of the same filesystem further up; only reaching the root is inside.
 */
static int dir_inside(int fd, const struct stat *root)
{
	struct stat st, above;
	unsigned int depth;
	int cur = fd, up, err = -ESTALE;

	if (fstat(cur, &st) < 0)
		return -errno;
	for (depth = 0; depth <= SEAL_MAX_DEPTH; depth++) {
		if (st.st_dev == root->st_dev && st.st_ino == root->st_ino) {
			err = 0;
			break;
		}
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0) {
			err = errno == ENOENT ? -ESTALE : -errno;
			break;
		}
		if (fstat(up, &above) < 0) {
			err = -errno;
			close(up);
			break;
		}
		if (cur != fd)
			close(cur);
		cur = up;
		if (above.st_dev != root->st_dev ||
		    (above.st_dev == st.st_dev && above.st_ino == st.st_ino))
			break;
		st = above;
	}
	if (cur != fd)
		close(cur);
	return err;
}

/* Is non-directory st linked in directory dir (O_PATH), under any name? */
static int linked_in(struct vbd_fs *fs, int dir, const struct stat *st)
{
	struct dirent *d;
	struct stat cur;
	DIR *dp;
	int fd, err = -ESTALE;

	fd = reopen(fs, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	dp = fdopendir(fd);
	if (!dp) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((d = readdir(dp))) {
		if (d->d_ino != st->st_ino)
			continue;
		/* d_ino may be another filesystem's (a mount point): check. */
		if (!fstatat(dirfd(dp), d->d_name, &cur, AT_SYMLINK_NOFOLLOW) &&
		    cur.st_dev == st->st_dev && cur.st_ino == st->st_ino) {
			err = 0;
			break;
		}
	}
	closedir(dp);
	return err;
}

/* Open the verified handle h (f_handle follows) inside share, O_PATH. */
static int seal_open(struct vbd_fs *fs, unsigned int share, int hint,
		     const struct seal_hdr *h, const uint8_t *f_handle)
{
	union {
		struct file_handle fh;
		uint8_t space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} u;
	struct stat root, st;
	int mfd, fd, err;

	u.fh.handle_bytes = le16toh(h->bytes);
	u.fh.handle_type = (int32_t)le32toh((uint32_t)h->handle_type);
	memcpy(u.fh.f_handle, f_handle, u.fh.handle_bytes);
	if (fstat(fs->shares[share].dir_fd, &root) < 0)
		return -errno;
	/* open_by_handle_at() takes no O_PATH mount fd. */
	mfd = reopen(fs, fs->shares[share].dir_fd, O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		return mfd;
	fd = open_by_handle_at(mfd, &u.fh, O_PATH | O_CLOEXEC);
	err = fd < 0 ? (errno == ENOENT || errno == EINVAL ? -ESTALE : -errno) : 0;
	close(mfd);
	if (err)
		return err;
	if (fstat(fd, &st) < 0) {
		err = -errno;
	} else if (st.st_dev != root.st_dev || !st.st_nlink ||
		   (st.st_mode & S_IFMT) >> 12 != h->type) {
		err = -ESTALE;
	} else if (S_ISDIR(st.st_mode)) {
		err = dir_inside(fd, &root);
	} else {
		err = linked_in(fs, hint, &st);
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * fs_in.nodeid is a directory where the guest last saw the node: only
 * non-directories need it, but every RESOLVE names one, so that the
 * export is known and the request is the same for every file type.
 */
int op_resolve(struct fs_ctx *x)
{
	struct vbridge_fs_handle in;
	struct vbridge_fs_entry_out e;
	uint8_t mac[SEAL_MAC_LEN];
	struct creds_saved sv;
	struct seal_hdr h;
	uint32_t len;
	int fd, err, i;

	pull(x, &in, sizeof(in));
	len = le32toh(in.len);
	if (in.padding || len > sizeof(in.data))
		return -EINVAL;
	if (x->node->type != S_IFDIR)
		return -ENOTDIR;
	/* Nothing of the blob is looked at before its MAC is checked. */
	if (len < sizeof(h) + SEAL_MAC_LEN)
		return -ESTALE;
	err = seal_mac(x->fs, x->node->share, in.data, len - SEAL_MAC_LEN, mac);
	if (err)
		return err;
	if (CRYPTO_memcmp(mac, in.data + len - SEAL_MAC_LEN, SEAL_MAC_LEN))
		return -ESTALE;
	memcpy(&h, in.data, sizeof(h));
	if (h.version != SEAL_VERSION ||
	    le16toh(h.bytes) != len - sizeof(h) - SEAL_MAC_LEN ||
	    le16toh(h.bytes) > MAX_HANDLE_SZ)
		return -ESTALE;

	/*
	 * The node's descriptor, and two while we look: the mount fd, then
	 * the two ends of a step up, or the directory read.
	 */
	for (i = 0; i < 3; i++) {
		err = fd_reserve(x->fs);
		if (err) {
			while (i--)
				fd_unreserve(x->fs);
			return err;
		}
	}
	/*
	 * As ourselves: open_by_handle_at() needs CAP_DAC_READ_SEARCH, and
	 * the checks must see every directory whatever the caller may read.
	 */
	creds_push(x->fs, &sv);
	fd = seal_open(x->fs, x->node->share, x->node->fd, &h,
		       in.data + sizeof(h));
	creds_pop(&sv);
	fd_unreserve(x->fs);
	fd_unreserve(x->fs);
	if (fd < 0) {
		fd_unreserve(x->fs);
		return fd;
	}
	err = node_add(x->fs, x->node->share, fd, false, &e, NULL);
	if (err)
		return err;
	err = push(x, &e, sizeof(e));
	if (err)
		node_forget(x->fs, le64toh(e.nodeid), 1);
	return err;
}

/*
 * The key of --handle-key FILE: 32 random bytes, made (mode 0600) if
 * FILE does not exist.  A key others may read is refused: whoever has it
 * can forge handles of any file on an export's filesystem.  One HMAC is
 * computed here, before the sandbox, so that OpenSSL loads its
 * configuration and providers while it can still open files.
 */
int vbd_fs_handle_key_load(const char *path, uint8_t key[VBD_HANDLE_KEY_LEN])
{
	uint8_t probe[SEAL_MAC_LEN];
	unsigned int probe_len = sizeof(probe);
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd < 0)
			goto fail;
		if (getrandom(key, VBD_HANDLE_KEY_LEN, 0) != VBD_HANDLE_KEY_LEN ||
		    write(fd, key, VBD_HANDLE_KEY_LEN) != VBD_HANDLE_KEY_LEN ||
		    fsync(fd) < 0) {
			err = errno ? -errno : -EIO;
			close(fd);
			unlink(path);
			log_err("--handle-key %s: cannot create: %s", path,
				strerror(-err));
			return err;
		}
		log_info("--handle-key %s: new key", path);
	} else if (fd < 0) {
		goto fail;
	} else {
		if (fstat(fd, &st) < 0)
			goto fail_fd;
		if (!S_ISREG(st.st_mode) || (st.st_mode & 077) ||
		    st.st_size != VBD_HANDLE_KEY_LEN) {
			log_err("--handle-key %s: must be a regular file of %d bytes that only its owner may read or write",
				path, VBD_HANDLE_KEY_LEN);
			close(fd);
			return -EINVAL;
		}
		n = read(fd, key, VBD_HANDLE_KEY_LEN);
		if (n != VBD_HANDLE_KEY_LEN) {
			errno = n < 0 ? errno : EIO;
			goto fail_fd;
		}
	}
	close(fd);
	if (!HMAC(EVP_sha256(), key, VBD_HANDLE_KEY_LEN, key, VBD_HANDLE_KEY_LEN,
		  probe, &probe_len)) {
		log_err("--handle-key: HMAC-SHA256 is not available");
		return -EIO;
	}
	return 0;
fail_fd:
	err = -errno;
	close(fd);
	log_err("--handle-key %s: %s", path, strerror(-err));
	return err;
fail:
	err = -errno;
	log_err("--handle-key %s: %s", path, strerror(-err));
	return err;
}
