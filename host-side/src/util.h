/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers shared by vbridged's modules.
 */
#ifndef VBD_UTIL_H
#define VBD_UTIL_H

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#endif /* VBD_UTIL_H */
