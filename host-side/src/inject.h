/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fault injection for testing the guest driver against a misbehaving
 * device: with --inject=SEED:RATE a fraction RATE of the replies and
 * events is damaged on purpose, reproducibly from SEED.  Never enabled
 * unless asked for.
 */
#ifndef VBD_INJECT_H
#define VBD_INJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* What a damaged reply looks like to the guest. */
enum vbd_fault {
	VBD_FAULT_NONE,
	VBD_FAULT_SHORT,	/* used length cut below what was written */
	VBD_FAULT_OVERSIZED,	/* used length beyond the writable buffers */
	VBD_FAULT_WRONG_ID,	/* response id of another request */
	VBD_FAULT_BAD_ERROR,	/* error outside 0 and -MAX_ERRNO..-1 */
	VBD_FAULT_BAD_LEN,	/* response header length field inconsistent */
	VBD_FAULT_GARBAGE,	/* payload bytes (entries, attrs, records) flipped */
	VBD_FAULT_DROP,		/* never answered */
	VBD_FAULT_EVENT,	/* event payload flipped */
	VBD_FAULT_SLOW,		/* answered VBD_INJECT_SLOW_MS late, intact */
	VBD_NR_FAULTS,
};

/* How late a slow reply comes; slow is asked for by name only. */
#define VBD_INJECT_SLOW_MS	250

struct vbd_inject;

/*
 * From "SEED:RATE[:KIND,...]": RATE in [0, 1], KINDs by vbd_fault_name()
 * (default: all but slow).  NULL with errno EINVAL or ENOMEM.
 */
struct vbd_inject *vbd_inject_new(const char *spec);
void vbd_inject_free(struct vbd_inject *inj);

/*
 * Maybe damage the reply just written to wr (used length *len).  Returns
 * the fault applied; VBD_FAULT_DROP means the chain must not be completed.
 * VBD_FAULT_SLOW sleeps first: call it without the ring's lock.
 */
enum vbd_fault vbd_inject_reply(struct vbd_inject *inj, const struct iovec *wr,
				unsigned int nr_wr, size_t wr_len,
				uint32_t *len);
/* Maybe damage an event of len bytes before it is delivered. */
void vbd_inject_event(struct vbd_inject *inj, void *data, uint32_t len);

/* Faults of each kind applied so far, and a log line with all of them. */
uint64_t vbd_inject_count(struct vbd_inject *inj, enum vbd_fault f);
void vbd_inject_log(struct vbd_inject *inj);
const char *vbd_fault_name(enum vbd_fault f);

#endif /* VBD_INJECT_H */
