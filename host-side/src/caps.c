// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The effective capabilities of the thread serving a guest request.  Raw
 * capget/capset on thread 0 (the caller): glibc has no per-thread wrapper
 * and libcap-ng would be a new dependency for two calls.
 */
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "caps.h"

void vbd_caps_drop(struct vbd_caps_saved *sv, uint64_t keep)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	sv->dropped = false;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return;
	sv->eff[0] = data[0].effective & ~(uint32_t)keep;
	sv->eff[1] = data[1].effective & ~(uint32_t)(keep >> 32);
	if (!(sv->eff[0] | sv->eff[1]))
		return;
	data[0].effective &= keep;
	data[1].effective &= keep >> 32;
	sv->dropped = !syscall(SYS_capset, &hdr, data);
}

void vbd_caps_restore(const struct vbd_caps_saved *sv)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (!sv->dropped || syscall(SYS_capget, &hdr, data) < 0)
		return;
	data[0].effective |= sv->eff[0] & data[0].permitted;
	data[1].effective |= sv->eff[1] & data[1].permitted;
	syscall(SYS_capset, &hdr, data);
}
