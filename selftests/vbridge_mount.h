/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mount the selftests run on, shared by them: VBRIDGE_MNT or
 * /mnt/vb.  Header-only: each selftest is a single source file.
 */
#ifndef VBRIDGE_MOUNT_H
#define VBRIDGE_MOUNT_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *mnt(void)
{
	const char *m = getenv("VBRIDGE_MNT");

	return m && *m ? m : "/mnt/vb";
}

/* The mount's options, from /proc/mounts; "" if not vbridgefs. */
static inline const char *mnt_opts(void)
{
	static char opts[512];
	char line[1024], dev[256], dir[PATH_MAX], type[64];
	FILE *f = fopen("/proc/mounts", "r");

	opts[0] = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %4095s %63s %511s", dev, dir, type,
			   opts) == 4 && !strcmp(dir, mnt()) &&
		    !strcmp(type, "vbridgefs"))
			break;
		else
			opts[0] = 0;
	if (f)
		fclose(f);
	return opts;
}

#endif /* VBRIDGE_MOUNT_H */
