/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-thread, per-request capabilities: what a guest request must not use
 * of the daemon's privileges.  The process-wide sets are the sandbox's.
 */
#ifndef VBD_CAPS_H
#define VBD_CAPS_H

#include <stdbool.h>
#include <stdint.h>

/* Effective capabilities a request dropped, to raise again after it. */
struct vbd_caps_saved {
	uint32_t eff[2];
	bool dropped;
};

#define VBD_CAP(c)	(1ULL << (c))

/*
 * Clear the calling thread's effective capabilities but keep (only the
 * calling thread's: capset(2) of thread 0), for a request whose caller
 * is not host root.  Call it after setfsuid() to the caller, which has
 * cleared the filesystem capabilities; setfsuid() back to 0 raises
 * those again from the permitted set.
 */
void vbd_caps_drop(struct vbd_caps_saved *sv, uint64_t keep);
/* After setfsuid() back: raise what drop() cleared, if still permitted. */
void vbd_caps_restore(const struct vbd_caps_saved *sv);

#endif /* VBD_CAPS_H */
