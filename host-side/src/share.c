// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Exported host directories.
 *
 * Each directory is opened once, at startup, as an O_PATH descriptor:
 * later lookups will be relative to it, so renaming or replacing the
 * path on the host does not redirect the export.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vbridge.h>

#include "fs.h"
#include "log.h"
#include "share.h"

struct vbd_share {
	char tag[VBRIDGE_TAG_LEN + 1];	/* NUL-terminated */
	int dir_fd;			/* O_PATH | O_DIRECTORY */
	bool readonly;
	int fan_fd;			/* fanotify group, or -1 */
	bool fan_taken;			/* by a filesystem; atomic */
};

struct vbd_share_store {
	struct vbd_store base;
	unsigned int n;
	struct vbd_share shares[VBRIDGE_MAX_TAGS];
};

static const struct vbd_share_store *to_share_store(const struct vbd_store *st)
{
	return (const struct vbd_share_store *)st;
}

static unsigned int share_num_exports(const struct vbd_store *st)
{
	return to_share_store(st)->n;
}

static const char *share_export_tag(const struct vbd_store *st,
				    unsigned int i)
{
	return to_share_store(st)->shares[i].tag;
}

static int share_export_dir(const struct vbd_store *st, unsigned int i)
{
	return to_share_store(st)->shares[i].dir_fd;
}

static bool share_export_readonly(const struct vbd_store *st, unsigned int i)
{
	return to_share_store(st)->shares[i].readonly;
}

/* The store is shared by the filesystems of several connections. */
static int share_export_watch_take(const struct vbd_store *st, unsigned int i)
{
	struct vbd_share *s = (struct vbd_share *)&to_share_store(st)->shares[i];

	if (s->fan_fd < 0 || __atomic_exchange_n(&s->fan_taken, true,
						 __ATOMIC_ACQ_REL))
		return -1;
	return s->fan_fd;
}

static void share_export_watch_give(const struct vbd_store *st, unsigned int i)
{
	struct vbd_share *s = (struct vbd_share *)&to_share_store(st)->shares[i];

	__atomic_store_n(&s->fan_taken, false, __ATOMIC_RELEASE);
}

void vbd_share_store_watch(struct vbd_store *st)
{
	struct vbd_share_store *ss = (struct vbd_share_store *)st;
	unsigned int i;

	for (i = 0; i < ss->n; i++)
		if (ss->shares[i].fan_fd < 0)
			ss->shares[i].fan_fd = vbd_fs_watch_open(ss->shares[i].dir_fd,
								 ss->shares[i].tag);
}

static void share_destroy(struct vbd_store *st)
{
	struct vbd_share_store *ss = (struct vbd_share_store *)st;
	unsigned int i;

	for (i = 0; i < ss->n; i++) {
		close(ss->shares[i].dir_fd);
		if (ss->shares[i].fan_fd >= 0)
			close(ss->shares[i].fan_fd);
	}
	free(ss);
}

static const struct vbd_store_ops share_store_ops = {
	.num_exports = share_num_exports,
	.export_tag = share_export_tag,
	.export_dir = share_export_dir,
	.export_readonly = share_export_readonly,
	.export_watch_take = share_export_watch_take,
	.export_watch_give = share_export_watch_give,
	.destroy = share_destroy,
};

bool vbd_share_tag_valid(const char *tag)
{
	size_t len = strnlen(tag, VBRIDGE_TAG_LEN + 1);
	size_t i;

	/* The config field is NUL-padded, not NUL-terminated. */
	if (!len || len > VBRIDGE_TAG_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (tag[i] <= ' ' || tag[i] > '~')
			return false;
	return true;
}

/* Parse and open one TAG=DIR[:ro] into ss->shares[ss->n]. */
static int share_add(struct vbd_share_store *ss, const char *spec)
{
	struct vbd_share *s = &ss->shares[ss->n];
	const char *eq = strchr(spec, '=');
	size_t taglen, dirlen;
	char *dir;
	unsigned int i;

	if (!eq) {
		log_err("--shared-dir %s: expected TAG=DIR[:ro]", spec);
		return -EINVAL;
	}
	taglen = eq - spec;
	if (!taglen || taglen > VBRIDGE_TAG_LEN) {
		log_err("--shared-dir %s: the tag must have 1 to %d bytes",
			spec, VBRIDGE_TAG_LEN);
		return -EINVAL;
	}
	memset(s->tag, 0, sizeof(s->tag));
	memcpy(s->tag, spec, taglen);
	s->fan_fd = -1;
	if (!vbd_share_tag_valid(s->tag)) {
		log_err("--shared-dir %s: the tag must be printable ASCII without spaces",
			spec);
		return -EINVAL;
	}
	for (i = 0; i < ss->n; i++) {
		if (!strcmp(ss->shares[i].tag, s->tag)) {
			log_err("--shared-dir %s: duplicate tag '%s'", spec, s->tag);
			return -EINVAL;
		}
	}

	dirlen = strlen(eq + 1);
	s->readonly = dirlen > 3 && !strcmp(eq + 1 + dirlen - 3, ":ro");
	if (s->readonly)
		dirlen -= 3;
	if (!dirlen) {
		log_err("--shared-dir %s: no directory", spec);
		return -EINVAL;
	}
	dir = strndup(eq + 1, dirlen);
	if (!dir)
		return -ENOMEM;
	s->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		int err = errno;

		log_err("--shared-dir %s: %s: %s", spec, dir, strerror(err));
		free(dir);
		return -err;
	}
	log_info("exporting %s as '%s'%s", dir, s->tag,
		 s->readonly ? " (read-only)" : "");
	free(dir);
	ss->n++;
	return 0;
}

struct vbd_store *vbd_share_store_open(char *const *specs, unsigned int n)
{
	struct vbd_share_store *ss;
	unsigned int i;

	if (n > VBRIDGE_MAX_TAGS) {
		log_err("at most %d --shared-dir options are supported",
			VBRIDGE_MAX_TAGS);
		return NULL;
	}
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return NULL;
	ss->base.ops = &share_store_ops;
	for (i = 0; i < n; i++) {
		if (share_add(ss, specs[i])) {
			share_destroy(&ss->base);
			return NULL;
		}
	}
	return &ss->base;
}
