// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs readdir: READDIR records from the device, and the readdir
 * cache.
 *
 * Every READDIR record carries the entry's attributes and holds a lookup
 * of its node (readdirplus), so a listing from the device also
 * instantiates the dentries.  That costs the device a lookup per name:
 * where the names turn out to be cached here already, as after a
 * listing or a stat of each, and with cache=none, which revalidates
 * every name anyway, READDIR_NAMES lists the names alone (FUSE's adaptive
 * readdirplus).  The next listing from the start asks for a few names
 * with READDIR first to see whether they still are, and a LOOKUP in the
 * directory brings READDIR back (VBRIDGE_I_RD_NAMES).
 *
 * With cache=auto and cache=always the records are kept, in the order
 * and with the positions the device gave, in the directory's page cache,
 * as FUSE's FOPEN_CACHE_DIR does: a listing again is then served without
 * a request.
 *
 * Coherence follows the names': the listing is served for the device's
 * entry timeout (an hour with cache=always) from when it was fetched; it
 * is dropped by every change of a name in the directory made here
 * (create, link, unlink, rename...), by the device's INVAL events for
 * the directory, and when the directory's mtime or ctime, as last
 * fetched, is no longer the one from before the listing was.
 * cache=none caches nothing.
 *
 * A position (ctx->pos) is always the device's, cached or not, so a
 * seekdir() to any telldir() value and a mix of cached and device reads
 * agree.  The cache grows only from the start, in order, one record
 * after the other (vbridge_fs_rdc.pos); it is read only once complete.
 * Records never cross a page; a zero name length ends a page's records.
 * A page the memory manager took back empties the whole cache.
 */

#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "vbridge.h"

/* Bytes of READDIR records asked for at a time. */
#define VBRIDGE_FS_READDIR_SIZE		(64 * 1024)
/* ... by a READDIR that tells whether names are still cached: ~20 names. */
#define VBRIDGE_FS_READDIR_PROBE	4096

/* One cached record. */
struct vbridge_fs_rdc_rec {
	u64 ino;
	u64 off;		/* the device's position after the record */
	u32 namelen;		/* 0: no more records in this page */
	u32 type;		/* DT_* */
	char name[];
};

#define VBRIDGE_FS_RDC_REC_SIZE(namelen) \
	ALIGN(offsetof(struct vbridge_fs_rdc_rec, name) + (namelen), 8)

/* vbridge_fs_readdir_cached(): the cache cannot serve the position. */
#define VBRIDGE_FS_RDC_MISS		1

/* A READDIR or READDIR_NAMES record from the device, checked. */
struct vbridge_fs_rd_rec {
	const struct vbridge_fs_entry_out *entry;	/* READDIR's only */
	const char *name;
	u32 namelen;
	u32 type;
	u64 ino;
	u64 off;		/* the device's position after the record */
};

/* What the cache was when a READDIR request went out. */
struct vbridge_fs_rdc_fill {
	u64 version;
	bool known;
	u64 expires;
	struct timespec64 mtime;
	struct timespec64 ctime;
	struct page *page;		/* locked, the page last written */
};

static void vbridge_fs_rdc_reset_locked(struct vbridge_fs_rdc *rdc)
{
	rdc->version++;
	rdc->size = 0;
	rdc->pos = 0;
	rdc->complete = false;
}

/* Empty @dir's readdir cache: the listing may have changed. */
void vbridge_fs_rdc_reset(struct inode *dir)
{
	struct vbridge_inode *vi = VBRIDGE_I(dir);

	spin_lock(&vi->lock);
	vbridge_fs_rdc_reset_locked(&vi->rdc);
	spin_unlock(&vi->lock);
}

static bool vbridge_fs_rdc_enabled(struct inode *dir)
{
	return VBRIDGE_FS(dir->i_sb)->cache != VBRIDGE_FS_CACHE_NONE;
}

/*
 * Before a READDIR request from @pos: what the cache is now, and the
 * directory's times if its attributes are valid (fetched before the
 * records will be).
 */
static void vbridge_fs_rdc_fill_start(struct inode *dir,
				      struct vbridge_fs_rdc_fill *f)
{
	struct vbridge_fs *fs = VBRIDGE_FS(dir->i_sb);
	struct vbridge_inode *vi = VBRIDGE_I(dir);

	f->expires = vbridge_fs_timeout(fs, fs->neg_valid_ns);
	spin_lock(&vi->lock);
	f->version = vi->rdc.version;
	f->known = time_before64(get_jiffies_64(), vi->attr_expires);
	f->mtime = inode_get_mtime(dir);
	f->ctime = inode_get_ctime(dir);
	spin_unlock(&vi->lock);
}

static void vbridge_fs_rdc_fill_end(struct vbridge_fs_rdc_fill *f)
{
	if (f->page) {
		unlock_page(f->page);
		put_page(f->page);
		f->page = NULL;
	}
}

/*
 * The first record of a new cache (@rdc empty): it is valid from the
 * request on, judged by the times from before it.  Lock held.
 */
static void vbridge_fs_rdc_begin(struct vbridge_fs_rdc *rdc,
				 const struct vbridge_fs_rdc_fill *f)
{
	rdc->expires = f->expires;
	rdc->known = f->known;
	rdc->mtime = f->mtime;
	rdc->ctime = f->ctime;
}

/*
 * The record @d follows the position @prev in the directory: cache it if
 * the cache ends exactly at @prev and was not emptied since the request
 * went out.
 */
static void vbridge_fs_rdc_add(struct inode *dir, struct vbridge_fs_rdc_fill *f,
			       const struct vbridge_fs_rd_rec *d, loff_t prev)
{
	struct vbridge_inode *vi = VBRIDGE_I(dir);
	struct vbridge_fs_rdc *rdc = &vi->rdc;
	size_t reclen = VBRIDGE_FS_RDC_REC_SIZE(d->namelen);
	struct vbridge_fs_rdc_rec *rec;
	unsigned int offset;
	loff_t at, size;
	pgoff_t index;
	void *addr;

	if (!f->expires)
		return;		/* not to be kept */
	spin_lock(&vi->lock);
	if (rdc->version != f->version || rdc->complete || rdc->pos != prev) {
		spin_unlock(&vi->lock);
		return;
	}
	size = rdc->size;
	spin_unlock(&vi->lock);
	at = size;
	/* A record that does not fit starts the next page. */
	if ((at & ~PAGE_MASK) + reclen > PAGE_SIZE)
		at = ALIGN(at, PAGE_SIZE);
	index = at >> PAGE_SHIFT;
	offset = at & ~PAGE_MASK;

	if (f->page && f->page->index != index)
		vbridge_fs_rdc_fill_end(f);
	if (!f->page) {
		f->page = find_or_create_page(dir->i_mapping, index,
					      mapping_gfp_constraint(dir->i_mapping,
								     GFP_KERNEL));
		if (!f->page)
			return;		/* no more records fit the cache */
	}

	spin_lock(&vi->lock);
	/* Another fill or a reset meanwhile: the page lock orders fills. */
	if (rdc->version != f->version || rdc->complete || rdc->pos != prev ||
	    rdc->size != size) {
		spin_unlock(&vi->lock);
		return;
	}
	addr = kmap_local_page(f->page);
	if (!offset) {
		clear_page(addr);
		SetPageUptodate(f->page);
	} else if (!PageUptodate(f->page)) {
		/* The page with the records before this one was reclaimed. */
		kunmap_local(addr);
		vbridge_fs_rdc_reset_locked(rdc);
		spin_unlock(&vi->lock);
		return;
	}
	if (!rdc->size && !rdc->pos)
		vbridge_fs_rdc_begin(rdc, f);
	rec = addr + offset;
	rec->ino = d->ino;
	rec->off = d->off;
	rec->namelen = d->namelen;
	rec->type = d->type;
	memcpy(rec->name, d->name, d->namelen);
	kunmap_local(addr);
	rdc->size = at + reclen;
	rdc->pos = d->off;
	spin_unlock(&vi->lock);
}

/* The device said the directory ends at @pos. */
static void vbridge_fs_rdc_complete(struct inode *dir,
				    const struct vbridge_fs_rdc_fill *f,
				    loff_t pos)
{
	struct vbridge_inode *vi = VBRIDGE_I(dir);
	struct vbridge_fs_rdc *rdc = &vi->rdc;

	spin_lock(&vi->lock);
	if (rdc->version == f->version && !rdc->complete && rdc->pos == pos) {
		if (!rdc->size)
			vbridge_fs_rdc_begin(rdc, f);
		/* A listing with no timeout is not kept. */
		if (rdc->expires)
			rdc->complete = true;
	}
	spin_unlock(&vi->lock);
}

/*
 * Instantiate the entry of a READDIR record, or refresh the cached one,
 * so that a stat of it right after the listing needs no LOOKUP.  The
 * inode keeps the lookup the record holds until it is evicted.  The
 * caller holds the directory's i_rwsem shared, as a lookup does.
 * Returns false where the name was cached and valid already: the record
 * told nothing new.
 */
static bool vbridge_fs_readdir_entry(struct file *file,
				     const struct vbridge_fs_rd_rec *d,
				     u64 version)
{
	DECLARE_WAIT_QUEUE_HEAD_ONSTACK(wq);
	struct dentry *parent = file->f_path.dentry;
	struct vbridge_fs *fs = VBRIDGE_FS(parent->d_sb);
	struct qstr name = QSTR_INIT(d->name, d->namelen);
	struct dentry *dentry, *alias;
	struct inode *inode;
	u64 valid_ns = vbridge_fs_valid_since(fs, version,
					      le64_to_cpu(d->entry->entry_valid_ns));
	bool was_valid;

	if (is_dot_dotdot(name.name, name.len))
		goto slow;
	/*
	 * Most often the name is cached with the node's inode already (a
	 * listing again, or after a stat of each): refresh those, without
	 * the inode hash.
	 */
	name.hash = full_name_hash(parent, name.name, name.len);
	dentry = d_lookup(parent, &name);
	if (dentry && d_really_is_positive(dentry) &&
	    !vbridge_fs_check_entry(d->entry) &&
	    vbridge_fs_entry_again(d_inode(dentry), d->entry, version)) {
		was_valid = vbridge_fs_entry_valid(dentry);
		if (fs->cache != VBRIDGE_FS_CACHE_NONE)
			vbridge_fs_set_entry_timeout(dentry, valid_ns);
		dput(dentry);
		return !was_valid;
	}
	dput(dentry);
slow:
	inode = vbridge_fs_entry_inode(d_inode(parent), d->entry, version, 0);
	if (IS_ERR(inode))
		return true;
	/* cache=none revalidates every dentry anyway. */
	if (fs->cache == VBRIDGE_FS_CACHE_NONE ||
	    is_dot_dotdot(name.name, name.len)) {
		iput(inode);
		return true;
	}
retry:
	dentry = d_lookup(parent, &name);
	if (!dentry) {
		dentry = d_alloc_parallel(parent, &name, &wq);
		if (IS_ERR(dentry)) {
			iput(inode);
			return true;
		}
	}
	if (!d_in_lookup(dentry)) {
		if (d_inode(dentry) != inode) {
			/* Replaced on the device. */
			d_invalidate(dentry);
			dput(dentry);
			goto retry;
		}
		iput(inode);
	} else {
		alias = d_splice_alias(inode, dentry);
		d_lookup_done(dentry);
		if (alias) {
			dput(dentry);
			if (IS_ERR(alias))
				return true;
			dentry = alias;
		}
	}
	vbridge_fs_set_entry_timeout(dentry, valid_ns);
	dput(dentry);
	return true;
}

/*
 * Whether the next request of a listing of @dir, from @pos, should be a
 * READDIR, which looks every name up, rather than a READDIR_NAMES (a
 * device before 2.4 has only READDIR); *@probe: a short one, whose
 * records tell whether the names are still cached (a listing from the
 * start where they were last time).
 */
static bool vbridge_fs_readdir_plus(struct inode *dir, loff_t pos, bool *probe)
{
	struct vbridge_fs *fs = VBRIDGE_FS(dir->i_sb);

	*probe = false;
	if (READ_ONCE(fs->vb->minor) < 4)
		return true;
	if (fs->cache == VBRIDGE_FS_CACHE_NONE)
		return false;
	if (!test_bit(VBRIDGE_I_RD_NAMES, &VBRIDGE_I(dir)->state))
		return true;
	*probe = !pos;
	return *probe;
}

/*
 * Check the record at @off of the @len bytes of a READDIR (@plus) or
 * READDIR_NAMES reply into @r; its size, or 0 if it is malformed.
 */
static u32 vbridge_fs_readdir_parse(const void *buf, u32 off, u32 len,
				    bool plus, struct vbridge_fs_rd_rec *r)
{
	const struct vbridge_fs_dirent_name *n = buf + off;
	const struct vbridge_fs_dirent *d = buf + off;
	u32 rlen;

	if (len - off < (plus ? sizeof(*d) : sizeof(*n)))
		return 0;
	if (plus) {
		r->entry = &d->entry;
		r->name = d->name;
		r->namelen = le32_to_cpu(d->namelen);
		r->type = le32_to_cpu(d->type) & 15;
		r->ino = le64_to_cpu(d->entry.attr.ino);
		r->off = le64_to_cpu(d->off);
	} else {
		r->entry = NULL;
		r->name = n->name;
		r->namelen = le32_to_cpu(n->namelen);
		r->type = le32_to_cpu(n->type) & 15;
		r->ino = le64_to_cpu(n->ino);
		r->off = le64_to_cpu(n->off);
	}
	if (!r->namelen || r->namelen > VBRIDGE_FS_NAME_MAX)
		return 0;
	rlen = plus ? VBRIDGE_FS_DIRENT_SIZE(r->namelen) :
	       VBRIDGE_FS_DIRENT_NAME_SIZE(r->namelen);
	if (rlen > len - off || memchr(r->name, '/', r->namelen) ||
	    memchr(r->name, '\0', r->namelen))
		return 0;
	return rlen;
}

/*
 * Pages for READDIR replies, physically contiguous so that the device
 * writes the records straight where they are parsed: no bounce buffer
 * of the request layer (vmalloc()ed and zeroed beyond a page) and no
 * copy.  VBRIDGE_FS_READDIR_SIZE where memory allows, else less, down to
 * a page.  Returns the order; *@pagep NULL on failure.
 */
static unsigned int vbridge_fs_readdir_pages(struct page **pagep)
{
	unsigned int order = get_order(VBRIDGE_FS_READDIR_SIZE);

	for (;; order--) {
		*pagep = alloc_pages(order ? GFP_KERNEL | __GFP_NORETRY |
					     __GFP_NOWARN : GFP_KERNEL, order);
		if (*pagep || !order)
			return order;
	}
}

/*
 * List @file from ctx->pos with READDIR requests, caching the records
 * where they continue the cache.  The caller holds the directory's
 * i_rwsem shared.
 */
static int vbridge_fs_readdir_device(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	struct vbridge_fs *fs = VBRIDGE_FS(dir->i_sb);
	struct vbridge_file *vf = file->private_data;
	struct vbridge_fs_rdc_fill fill = {};
	bool cache = vbridge_fs_rdc_enabled(dir);
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_read_in read;
	} in = {};
	struct vbridge_args args = {
		.flags = VBRIDGE_REQ_KILLABLE,
		.in = &in,
		.in_len = sizeof(in),
	};
	unsigned int order;
	struct page *page;
	struct bio_vec bv;
	bool full = false;
	u32 size;
	loff_t pos;
	u64 version;
	void *buf;
	int err = 0;

	order = vbridge_fs_readdir_pages(&page);
	if (!page)
		return -ENOMEM;
	buf = page_address(page);
	size = min_t(u32, PAGE_SIZE << order, vbridge_max_out_payload(fs->vb));
	bvec_set_page(&bv, page, size, 0);
	args.out_bvec = &bv;
	args.out_nr_bvec = 1;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(dir)->nodeid, vf->fh);
	/* Past the records already given: later ones are read ahead. */
	pos = ctx->pos;

	while (!full) {
		u32 off = 0, len, looked_up = 0, fresh = 0;
		bool plus, probe;

		plus = vbridge_fs_readdir_plus(dir, pos, &probe);
		args.opcode = plus ? VBRIDGE_OP_FS_READDIR :
			      VBRIDGE_OP_FS_READDIR_NAMES;
		in.read.size = cpu_to_le32(probe ? min_t(u32, size,
							 VBRIDGE_FS_READDIR_PROBE) :
					   size);
		in.read.offset = cpu_to_le64(pos);
		if (cache)
			vbridge_fs_rdc_fill_start(dir, &fill);
		version = atomic64_inc_return(&fs->attr_version);
		err = vbridge_fs_call(fs, &args, 0);
		if (err)
			break;
		len = min(args.out_actual, size);
		if (!len) {
			/* The end of the directory. */
			if (cache)
				vbridge_fs_rdc_complete(dir, &fill, pos);
			break;
		}
		while (off < len) {
			struct vbridge_fs_rd_rec d;
			u32 rlen;

			rlen = vbridge_fs_readdir_parse(buf, off, len, plus, &d);
			if (!rlen) {
				err = -EIO;
				break;
			}
			off += rlen;
			if (d.entry && d.entry->nodeid) {
				looked_up++;
				fresh += vbridge_fs_readdir_entry(file, &d,
								  version);
			}
			if (cache)
				vbridge_fs_rdc_add(dir, &fill, &d, pos);
			pos = d.off;
			/* Later records still hold lookups: account them all. */
			if (full)
				continue;
			if (!dir_emit(ctx, d.name, d.namelen, d.ino, d.type)) {
				full = true;
				continue;
			}
			ctx->pos = pos;
		}
		vbridge_fs_rdc_fill_end(&fill);
		if (err) {
			/* The device keeps the lookups of the rest. */
			pr_warn_ratelimited("%s: malformed READDIR reply\n",
					    fs->vb->name);
			break;
		}
		/* Most names were cached already: the rest by name only. */
		if (looked_up && fresh * 4 <= looked_up)
			set_bit(VBRIDGE_I_RD_NAMES, &VBRIDGE_I(dir)->state);
		else if (looked_up)
			clear_bit(VBRIDGE_I_RD_NAMES, &VBRIDGE_I(dir)->state);
	}
	vbridge_fs_rdc_fill_end(&fill);
	__free_pages(page, order);
	return err;
}

/* The directory's times are still those from before the fill.  Lock held. */
static bool vbridge_fs_rdc_same_times(struct inode *dir,
				      const struct vbridge_fs_rdc *rdc)
{
	struct timespec64 mtime = inode_get_mtime(dir);
	struct timespec64 ctime = inode_get_ctime(dir);

	return timespec64_equal(&rdc->mtime, &mtime) &&
	       timespec64_equal(&rdc->ctime, &ctime);
}

/*
 * A listing from the start (opendir(), rewinddir()): keep the cache only
 * within its timeout and while the directory's times, as last fetched,
 * are those from before the fill (a stat may have seen a change the
 * events did not tell).  A timed out listing is fetched again rather
 * than checked: its records' dentries timed out with it, and a READDIR
 * refreshes them all where a listing from the cache would leave a LOOKUP
 * per name to the stat() that usually follows.
 */
static void vbridge_fs_rdc_revalidate(struct inode *dir)
{
	struct vbridge_inode *vi = VBRIDGE_I(dir);
	struct vbridge_fs_rdc *rdc = &vi->rdc;

	spin_lock(&vi->lock);
	if (rdc->complete &&
	    ((rdc->known && !vbridge_fs_rdc_same_times(dir, rdc)) ||
	     !time_before64(get_jiffies_64(), rdc->expires)))
		vbridge_fs_rdc_reset_locked(rdc);
	spin_unlock(&vi->lock);
}

/*
 * Emit the cached records of one page from vf->rd_off on, up to @end
 * bytes into the page.  Returns true once ctx is full.
 */
static bool vbridge_fs_rdc_emit(struct vbridge_file *vf, struct dir_context *ctx,
				const void *addr, unsigned int end)
{
	unsigned int offset = vf->rd_off & ~PAGE_MASK;

	while (offset < end) {
		const struct vbridge_fs_rdc_rec *rec = addr + offset;
		size_t reclen;

		if (end - offset < sizeof(*rec) || !rec->namelen)
			break;
		reclen = VBRIDGE_FS_RDC_REC_SIZE(rec->namelen);
		if (WARN_ON_ONCE(reclen > end - offset))
			break;
		if (vf->rd_pos == ctx->pos) {
			if (!dir_emit(ctx, rec->name, rec->namelen, rec->ino,
				      rec->type))
				return true;
			ctx->pos = rec->off;
		}
		vf->rd_pos = rec->off;
		vf->rd_off += reclen;
		offset += reclen;
	}
	return false;
}

/*
 * Serve @file from ctx->pos out of the readdir cache: 0 once done (ctx
 * full or the end of the directory), VBRIDGE_FS_RDC_MISS where the
 * device must answer (no complete cache, or the position is not in it),
 * or an error.
 */
static int vbridge_fs_readdir_cached(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	struct vbridge_inode *vi = VBRIDGE_I(dir);
	struct vbridge_fs_rdc *rdc = &vi->rdc;
	struct vbridge_file *vf = file->private_data;
	unsigned int end;
	struct page *page;
	pgoff_t index;
	u64 version;
	bool full;
	void *addr;

	/* A seek (or the device served the last call): scan from the start. */
	if (vf->rd_pos != ctx->pos) {
		vf->rd_pos = 0;
		vf->rd_off = 0;
	}
	if (!ctx->pos)
		vbridge_fs_rdc_revalidate(dir);

	for (;;) {
		spin_lock(&vi->lock);
		if (!rdc->complete) {
			spin_unlock(&vi->lock);
			return VBRIDGE_FS_RDC_MISS;
		}
		/* Emptied and filled again since: scan the new one. */
		if (vf->rd_version != rdc->version) {
			vf->rd_version = rdc->version;
			vf->rd_pos = 0;
			vf->rd_off = 0;
		}
		version = rdc->version;
		if (vf->rd_off >= rdc->size) {
			spin_unlock(&vi->lock);
			/* The end, if that is where the caller is. */
			return vf->rd_pos == ctx->pos ? 0 : VBRIDGE_FS_RDC_MISS;
		}
		index = vf->rd_off >> PAGE_SHIFT;
		end = index == rdc->size >> PAGE_SHIFT ?
		      rdc->size & ~PAGE_MASK : PAGE_SIZE;
		spin_unlock(&vi->lock);

		page = find_lock_page(dir->i_mapping, index);
		if (page && !PageUptodate(page)) {
			unlock_page(page);
			put_page(page);
			page = NULL;
		}
		spin_lock(&vi->lock);
		if (rdc->version != version) {
			spin_unlock(&vi->lock);
			if (page) {
				unlock_page(page);
				put_page(page);
			}
			continue;
		}
		if (!page) {
			/* Reclaimed: the cache is incomplete now. */
			vbridge_fs_rdc_reset_locked(rdc);
			spin_unlock(&vi->lock);
			return VBRIDGE_FS_RDC_MISS;
		}
		spin_unlock(&vi->lock);

		/* The page lock keeps fills (and so resets' refills) out. */
		addr = kmap_local_page(page);
		full = vbridge_fs_rdc_emit(vf, ctx, addr, end);
		kunmap_local(addr);
		unlock_page(page);
		put_page(page);
		if (full)
			return 0;
		/* The rest of a page is unused where a record did not fit. */
		vf->rd_off = ALIGN(vf->rd_off, PAGE_SIZE);
	}
}

int vbridge_fs_readdir(struct file *file, struct dir_context *ctx)
{
	struct vbridge_file *vf = file->private_data;
	int err;

	if (vbridge_fs_rdc_enabled(file_inode(file))) {
		err = vbridge_fs_readdir_cached(file, ctx);
		if (err != VBRIDGE_FS_RDC_MISS)
			return err;
	}
	err = vbridge_fs_readdir_device(file, ctx);
	/* Where the device stopped is where a cached read would go on. */
	vf->rd_pos = -1;
	return err;
}
