// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs: the request helpers every filesystem operation builds on.
 *
 * The header every request starts with (the node, the handle and the
 * caller's credentials), the calls themselves, the message that names a
 * child, the inode of an entry reply, and the two requests sent from
 * many places: RELEASE/RELEASEDIR of a handle and FORGET of a node.
 */

#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "vbridge.h"

/* The caller's supplementary groups, for the device's access checks. */
static void vbridge_fs_in_groups(struct vbridge_fs_in *in)
{
	const struct group_info *gi = current_cred()->group_info;
	unsigned int i, n = min_t(unsigned int, gi->ngroups,
				  VBRIDGE_FS_GROUPS_MAX);

	in->ngroups = cpu_to_le32(n);
	for (i = 0; i < n; i++)
		in->groups[i] = cpu_to_le32(from_kgid_munged(&init_user_ns,
							     gi->gid[i]));
	memset(&in->groups[n], 0, (VBRIDGE_FS_GROUPS_MAX - n) *
	       sizeof(in->groups[0]));
}

void vbridge_fs_in_init(struct vbridge_fs_in *in, u64 nodeid, u64 fh)
{
	in->nodeid = cpu_to_le64(nodeid);
	in->fh = cpu_to_le64(fh);
	in->uid = cpu_to_le32(from_kuid_munged(&init_user_ns, current_fsuid()));
	in->gid = cpu_to_le32(from_kgid_munged(&init_user_ns, current_fsgid()));
	in->pid = cpu_to_le32(task_tgid_nr(current));
	vbridge_fs_in_groups(in);
}

/*
 * Send a filesystem request; a reply shorter than @min_out bytes is a
 * protocol error.  A request the device got is always waited for; a
 * signal that arrives before that (device suspended, ring full) fails
 * the call with -EINTR, as in FUSE.
 */
int vbridge_fs_call(struct vbridge_fs *fs, struct vbridge_args *args,
		    u32 min_out)
{
	int err;

	err = vbridge_request_args(fs->vb, args);
	if (err == -ERESTARTSYS)
		return -EINTR;
	if (err)
		return err;
	if (args->out_actual < min_out) {
		pr_warn_ratelimited("%s: opcode %#x: short reply (%u < %u bytes)\n",
				    fs->vb->name, args->opcode,
				    args->out_actual, min_out);
		return -EIO;
	}
	return 0;
}

/* As vbridge_fs_simple(), with VBRIDGE_REQ_* @flags. */
int vbridge_fs_simple_flags(struct vbridge_fs *fs, u32 opcode, u32 flags,
			    const void *in, u32 in_len, void *out, u32 out_len)
{
	struct vbridge_args args = {
		.opcode = opcode,
		.flags = flags,
		.in = in,
		.in_len = in_len,
		.out = out,
		.out_len = out_len,
	};

	return vbridge_fs_call(fs, &args, out_len);
}

/* A request with inline payloads whose reply must fill @out. */
int vbridge_fs_simple(struct vbridge_fs *fs, u32 opcode, const void *in,
		      u32 in_len, void *out, u32 out_len)
{
	return vbridge_fs_simple_flags(fs, opcode, VBRIDGE_REQ_KILLABLE, in,
				       in_len, out, out_len);
}

/*
 * RELEASE or RELEASEDIR @fh of @nodeid.  Unless @wait, in the background:
 * close() and munmap() need not wait for the device, which only frees
 * its descriptor.  If the request cannot even be queued, the device was
 * reset or removed and forgot the handle anyway.
 */
void vbridge_fs_release_fh(struct vbridge_fs *fs, u32 opcode, u64 nodeid,
			   u64 fh, bool wait)
{
	struct vbridge_fs_in in;
	struct vbridge_args args = {
		.opcode = opcode,
		.flags = wait ? VBRIDGE_REQ_KILLABLE : VBRIDGE_REQ_BACKGROUND,
		.in = &in,
		.in_len = sizeof(in),
	};

	vbridge_fs_in_init(&in, nodeid, fh);
	vbridge_fs_call(fs, &args, 0);
}

/*
 * FORGET @nlookup lookups of @nodeid, in the background (nothing waits
 * for the answer, so an unmount sends its FORGETs back to back), with
 * the VBRIDGE_REQ_* @flags.  Nothing to do on failure: a failed or
 * removed device was reset and forgot every node.
 */
void vbridge_fs_send_forget(struct vbridge_fs *fs, u64 nodeid, u64 nlookup,
			    u32 flags)
{
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_forget_in forget;
	} in;
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_FS_FORGET,
		.flags = VBRIDGE_REQ_BACKGROUND | flags,
		.in = &in,
		.in_len = sizeof(in),
	};

	vbridge_fs_in_init(&in.fs, nodeid, 0);
	in.forget.nlookup = cpu_to_le64(nlookup);
	vbridge_request_args(fs->vb, &args);
}

/*
 * Fill @in for a request about the child @name (@len bytes, at most
 * VBRIDGE_FS_NAME_MAX) of @nodeid; returns the length to send.
 */
u32 vbridge_fs_name_msg_init(struct vbridge_fs_name_msg *in, u64 nodeid,
			     const char *name, u32 len)
{
	vbridge_fs_in_init(&in->fs, nodeid, 0);
	in->name.namelen = cpu_to_le32(len);
	in->name.padding = 0;
	memcpy(in->data, name, len);
	return offsetof(typeof(*in), data) + len;
}

/*
 * The inode of entry reply @e from a request on @dir, which holds one
 * lookup of its node: checked (a node id and a sane file type; a regular
 * file with VBRIDGE_FS_ENTRY_REG), then found or made.  The lookup of a
 * bad entry is given back.  VBRIDGE_FS_ENTRY_CREATED: the request made
 * the entry in @dir, whose attributes changed.
 */
struct inode *vbridge_fs_entry_inode(struct inode *dir,
				     const struct vbridge_fs_entry_out *e,
				     u64 attr_version, unsigned int flags)
{
	int err = vbridge_fs_check_entry(e);

	/* Made, even if the reply is bad: the directory changed. */
	if (flags & VBRIDGE_FS_ENTRY_CREATED)
		vbridge_fs_dir_changed(dir);
	if (!err && (flags & VBRIDGE_FS_ENTRY_REG) &&
	    !S_ISREG(le32_to_cpu(e->attr.mode)))
		err = -EIO;
	if (err) {
		if (e->nodeid)
			vbridge_fs_forget(VBRIDGE_FS(dir->i_sb),
					  le64_to_cpu(e->nodeid), 1);
		return ERR_PTR(err);
	}
	return vbridge_fs_iget(dir->i_sb, e, attr_version);
}
