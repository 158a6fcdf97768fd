// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The extended attribute policy of the filesystem requests, after
 * virtiofsd's: the guest gets user.* and, only when the host asked for
 * them, trusted.* and security.*; and the requests that get, list, set
 * and remove them.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs_priv.h"
#include "fs_xattr.h"

int vbd_xattr_parse(const char *list, unsigned int *mask)
{
	const char *p = list;

	*mask = 0;
	if (!strcmp(list, "none"))
		return 0;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == 7 && !strncmp(p, "trusted", len))
			*mask |= VBD_XATTR_TRUSTED;
		else if (len == 8 && !strncmp(p, "security", len))
			*mask |= VBD_XATTR_SECURITY;
		else if (!(len == 4 && !strncmp(p, "user", len)))
			return -EINVAL;
		p += len;
		if (*p && !*++p)
			return -EINVAL;	/* trailing comma */
	}
	return p == list ? -EINVAL : 0;
}

static bool prefixed(const char *name, const char *prefix)
{
	size_t len = strlen(prefix);

	/* The kernel refuses a bare "user." too; do not depend on it. */
	return !strncmp(name, prefix, len) && name[len];
}

int vbd_xattr_check(unsigned int mask, const char *name)
{
	if (prefixed(name, "user."))
		return 0;
	if ((mask & VBD_XATTR_TRUSTED) && prefixed(name, "trusted."))
		return 0;
	if ((mask & VBD_XATTR_SECURITY) && prefixed(name, "security."))
		return 0;
	return -EOPNOTSUPP;
}

size_t vbd_xattr_filter(unsigned int mask, char *list, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(list + in, len - in);

		if (in + n < len && !vbd_xattr_check(mask, list + in)) {
			memmove(list + out, list + in, n + 1);
			out += n + 1;
		}
		in += n + 1;
	}
	return out;
}

/* Requests */

/* An xattr name the policy allows (see vbd_xattr_check()). */
static int pull_xattr_name(struct fs_ctx *x, uint32_t len, char *name)
{
	return pull_string(x, len, VBRIDGE_FS_XATTR_NAME_MAX, -ERANGE, name) ?:
	       vbd_xattr_check(x->fs->opts.xattr_ns, name);
}

/*
 * Extended attributes go through /proc/self/fd/N: the *xattr() calls
 * do not take O_PATH descriptors.  Other file types have none for us.
 */
static int xattr_path(struct fs_ctx *x, char path[32])
{
	if (!file_or_dir(x->node))
		return -EOPNOTSUPP;
	proc_path(x->node->fd, path);
	return 0;
}

/* Reply with n bytes of buf, or the size alone when the guest asked size 0. */
static int reply_xattr(struct fs_ctx *x, uint32_t size, const void *buf,
		       ssize_t n)
{
	struct vbridge_fs_xattr_out out = { 0 };

	if (n < 0)
		return -errno;
	if (size)
		return push(x, buf, n);
	out.size = htole32(n);
	return push(x, &out, sizeof(out));
}

int op_getxattr(struct fs_ctx *x)
{
	char name[VBRIDGE_FS_XATTR_NAME_MAX + 1], path[32];
	struct vbridge_fs_getxattr_in in;
	uint32_t size;
	void *buf;
	ssize_t n;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	err = pull_xattr_name(x, le32toh(in.namelen), name) ?:
	      xattr_path(x, path);
	if (err)
		return err;
	if (size > VBRIDGE_FS_XATTR_SIZE_MAX)
		size = VBRIDGE_FS_XATTR_SIZE_MAX;
	if (size > x->r->out_max)
		return -EINVAL;
	buf = malloc(size ?: 1);
	if (!buf)
		return -ENOMEM;
	n = getxattr(path, name, size ? buf : NULL, size);
	err = reply_xattr(x, size, buf, n);
	free(buf);
	return err;
}

int op_listxattr(struct fs_ctx *x)
{
	struct vbridge_fs_getxattr_in in;
	char path[32];
	uint32_t size;
	char *buf;
	ssize_t n;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	if (in.namelen)
		return -EINVAL;
	err = xattr_path(x, path);
	if (err)
		return err;
	if (size > VBRIDGE_FS_XATTR_SIZE_MAX)
		size = VBRIDGE_FS_XATTR_SIZE_MAX;
	if (size > x->r->out_max)
		return -EINVAL;
	/* The whole list, even for its size: hidden names do not count. */
	buf = malloc(VBRIDGE_FS_XATTR_SIZE_MAX);
	if (!buf)
		return -ENOMEM;
	n = listxattr(path, buf, VBRIDGE_FS_XATTR_SIZE_MAX);
	if (n >= 0)
		n = vbd_xattr_filter(x->fs->opts.xattr_ns, buf, n);
	if (size && n > (ssize_t)size) {
		errno = ERANGE;
		n = -1;
	}
	err = reply_xattr(x, size, buf, n);
	free(buf);
	return err;
}

int op_setxattr(struct fs_ctx *x)
{
	char name[VBRIDGE_FS_XATTR_NAME_MAX + 1], path[32];
	struct vbridge_fs_setxattr_in in;
	uint32_t size, flags;
	void *buf;
	int err;

	pull(x, &in, sizeof(in));
	size = le32toh(in.size);
	flags = le32toh(in.flags);
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	err = pull_xattr_name(x, le32toh(in.namelen), name) ?:
	      xattr_path(x, path);
	if (err)
		return err;
	if (size > VBRIDGE_FS_XATTR_SIZE_MAX)
		return -E2BIG;
	buf = malloc(size ?: 1);
	if (!buf)
		return -ENOMEM;
	err = pull(x, buf, size);
	if (!err && setxattr(path, name, buf, size, flags) < 0)
		err = -errno;
	free(buf);
	return err;
}

int op_removexattr(struct fs_ctx *x)
{
	char name[VBRIDGE_FS_XATTR_NAME_MAX + 1], path[32];
	struct vbridge_fs_name_in in;
	int err;

	pull(x, &in, sizeof(in));
	err = pull_xattr_name(x, le32toh(in.namelen), name) ?:
	      xattr_path(x, path);
	if (err)
		return err;
	return removexattr(path, name) < 0 ? -errno : 0;
}
