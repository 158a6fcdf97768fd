// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The extended attribute policy of the filesystem requests, after
 * virtiofsd's: the guest gets user.* and, only when the host asked for
 * them, trusted.* and security.*.
 */
#include <errno.h>
#include <string.h>

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
