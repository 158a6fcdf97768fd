/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which extended attribute namespaces the guest may reach.
 */
#ifndef VBD_FS_XATTR_H
#define VBD_FS_XATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Namespaces beyond user.*, which is always allowed. */
#define VBD_XATTR_TRUSTED	0x1U
#define VBD_XATTR_SECURITY	0x2U

/* Parse "trusted,security" (or "none") into *mask; -EINVAL if unknown. */
int vbd_xattr_parse(const char *list, unsigned int *mask);

/*
 * 0 if the guest may get, set or remove name; -EOPNOTSUPP for every
 * other namespace, system.posix_acl_* included: ACLs carry host ids the
 * id maps would not translate.
 */
int vbd_xattr_check(unsigned int mask, const char *name);

/* Drop the names check() refuses from a listxattr() buffer; its new length. */
size_t vbd_xattr_filter(unsigned int mask, char *list, size_t len);

#endif /* VBD_FS_XATTR_H */
