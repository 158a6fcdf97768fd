// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs regular files: open and close, the page cache (READ straight
 * into and WRITE straight from the folios' pages), shared writable mmap,
 * fsync, fallocate, lseek, copy_file_range and locks.  Direct I/O from
 * the caller's pages is in vbridge_fs_dio.c.
 *
 * Without the writeback mount option the page cache is write-through:
 * write() copies into the folios and sends exactly the bytes written,
 * from its own context under i_rwsem, before the new size becomes
 * visible (as FUSE's fuse_perform_write()); folios are never read around
 * a partial write and stay !uptodate unless overwritten whole.  Only
 * shared mappings dirty folios then.  With writeback, write() dirties
 * uptodate folios and the flusher writes them back.
 *
 * Readahead sends its READs in the background, several at a time, and
 * the completion unlocks the folios (struct vbridge_fs_ra).
 *
 * Writeback without a file (the flusher, mmap) uses any writable handle
 * of the inode, referenced (vbridge_file.ref) for as long as it is used;
 * a file's dirty pages are written back when it is closed, so an inode
 * has dirty pages only while a writable handle is open.  Writeback sends
 * its WRITEs in the background, several in flight (struct
 * vbridge_fs_wreq), and ignores signals: a task killed in close() or
 * fsync() still writes its dirty folios before the handle goes, where
 * giving up would strand them without a handle.  The folios stay under
 * writeback until the device answered; an error is recorded in the
 * mapping for fsync and close, and a WRITE that failed for a transient
 * reason (memory) also redirties its folios instead of dropping them.
 *
 * Operations that change data on the device behind the page cache's
 * back (truncate, punch hole, zero range, copy_file_range) hold i_rwsem
 * and the mapping's invalidate_lock, write back and drop the folios of
 * the range first (vbridge_fs_drop_range()), and keep them out until the
 * device is done: buffered writes need i_rwsem, and reads and page
 * faults need the invalidate_lock to add folios, so no late WRITE can
 * land in the range afterwards and no stale folio can show through.
 */

#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/once.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/writeback.h>

#include "vbridge.h"

/* Largest COPY_FILE_RANGE, so that it completes within the request timeout. */
#define VBRIDGE_FS_COPY_MAX		(64 * 1024 * 1024)

/* Wire open(2) flags: positions are explicit, truncation is a SETATTR. */
u32 vbridge_fs_wire_flags(struct vbridge_fs *fs, unsigned int flags)
{
	u32 w = flags & (O_ACCMODE | O_SYNC | O_DSYNC | O_NOATIME);

	/* The page cache reads around partial writes. */
	if ((w & O_ACCMODE) == O_WRONLY && fs->cache != VBRIDGE_FS_CACHE_NONE)
		w = (w & ~O_ACCMODE) | O_RDWR;
	return w;
}

static fmode_t vbridge_fs_wire_mode(u32 wire_flags)
{
	switch (wire_flags & O_ACCMODE) {
	case O_RDONLY:
		return FMODE_READ;
	case O_WRONLY:
		return FMODE_WRITE;
	default:
		return FMODE_READ | FMODE_WRITE;
	}
}

/* Attach the device's handle @fh to @file; releases it on failure. */
int vbridge_fs_open_common(struct inode *inode, struct file *file,
			   u64 fh, u32 open_flags)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_file *vf;

	vf = kzalloc(sizeof(*vf), GFP_KERNEL);
	if (!vf) {
		vbridge_fs_release_fh(fs, VBRIDGE_OP_FS_RELEASE, vi->nodeid, fh,
				      true);
		return -ENOMEM;
	}
	refcount_set(&vf->ref, 1);
	vf->fh = fh;
	vf->mode = vbridge_fs_wire_mode(vbridge_fs_wire_flags(fs,
							      file->f_flags));
	vf->direct = fs->cache == VBRIDGE_FS_CACHE_NONE ||
		     (open_flags & VBRIDGE_FS_OPEN_DIRECT_IO);
	file->private_data = vf;
	/* io_uring may issue O_DIRECT I/O inline: see read_iter/write_iter. */
	file->f_mode |= FMODE_NOWAIT;
	spin_lock(&vi->lock);
	list_add(&vf->entry, &vi->files);
	spin_unlock(&vi->lock);
	vbridge_fs_fetch_handle(inode);
	return 0;
}

static int vbridge_fs_open(struct inode *inode, struct file *file)
{
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_fs_open_out out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_open_in open;
	} in = {};
	u32 wflags, oflags;
	int err;

	err = generic_file_open(inode, file);
	if (err)
		return err;
	wflags = vbridge_fs_wire_flags(fs, file->f_flags);
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, 0);
	in.open.flags = cpu_to_le32(wflags);
	err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_OPEN, &in, sizeof(in),
				&out, sizeof(out));
	if (err == -EACCES && (wflags & O_ACCMODE) !=
			      (file->f_flags & O_ACCMODE)) {
		/* Write-only access: no reads around partial writes then. */
		in.open.flags = cpu_to_le32((wflags & ~O_ACCMODE) | O_WRONLY);
		err = vbridge_fs_simple(fs, VBRIDGE_OP_FS_OPEN, &in, sizeof(in),
					&out, sizeof(out));
	}
	if (err)
		return err;
	oflags = le32_to_cpu(out.open_flags);
	err = vbridge_fs_open_common(inode, file, le64_to_cpu(out.fh), oflags);
	if (err)
		return err;
	/* Opened write-only after all. */
	if (le32_to_cpu(in.open.flags) != wflags)
		((struct vbridge_file *)file->private_data)->mode = FMODE_WRITE;

	/*
	 * cache=auto: close-to-open consistency with the host.  Fresh
	 * attributes invalidate the page cache if the size or mtime moved
	 * (vbridge_fs_update_attr()).  Attributes still valid (from the
	 * LOOKUP of this walk, say) are fresh enough: a change on the host
	 * meanwhile expires them (INVAL_INODE) and drops the pages, so the
	 * cache stays without a GETATTR, as FUSE's with FOPEN_KEEP_CACHE;
	 * expired ones are fetched again.  After a change of our own the
	 * size and mtime cannot tell a host change from ours, so the cache
	 * goes, as FUSE's does on every open without FOPEN_KEEP_CACHE.
	 */
	if (fs->cache == VBRIDGE_FS_CACHE_AUTO &&
	    !(oflags & VBRIDGE_FS_OPEN_KEEP_CACHE)) {
		struct vbridge_inode *vi = VBRIDGE_I(inode);
		bool ours;

		spin_lock(&vi->lock);
		ours = vi->local_change;
		spin_unlock(&vi->lock);
		if (!vbridge_fs_refresh_attr(inode, ours) && ours)
			invalidate_inode_pages2(inode->i_mapping);
	}
	return 0;
}

/* Drop a reference taken by vbridge_fs_get_file(). */
static void vbridge_fs_put_file(struct vbridge_file *vf)
{
	if (refcount_dec_and_test(&vf->ref))
		wake_up_var(&vf->ref);
}

static int vbridge_fs_release(struct inode *inode, struct file *file)
{
	struct vbridge_file *vf = file->private_data;
	struct vbridge_inode *vi = VBRIDGE_I(inode);

	/*
	 * vbridge_fs_open_common() failed after finish_open() (create,
	 * tmpfile): it released the handle already.
	 */
	if (!vf)
		return 0;
	/* Pages dirtied through a mapping after the last close. */
	if (vf->mode & FMODE_WRITE)
		filemap_write_and_wait(inode->i_mapping);
	spin_lock(&vi->lock);
	list_del(&vf->entry);
	spin_unlock(&vi->lock);
	/* Writeback or a read of another file may still use the handle. */
	vbridge_fs_put_file(vf);
	wait_var_event(&vf->ref, !refcount_read(&vf->ref));
	vbridge_fs_release_fh(VBRIDGE_FS(inode->i_sb), VBRIDGE_OP_FS_RELEASE,
			      vi->nodeid, vf->fh, READ_ONCE(vf->locks));
	kfree(vf);
	return 0;
}

/* Lock owners on the wire: hashed, the host has no business with pointers. */
u64 vbridge_fs_owner_id(const void *owner)
{
	static siphash_key_t key;

	get_random_once(&key, sizeof(key));
	return siphash_1u64((unsigned long)owner, &key);
}

static int vbridge_fs_flush(struct file *file, fl_owner_t id)
{
	struct inode *inode = file_inode(file);
	struct vbridge_file *vf = file->private_data;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_flush_in flush;
	} in;
	int err = 0;

	if (vf->mode & FMODE_WRITE)
		err = filemap_write_and_wait(inode->i_mapping);
	/*
	 * FLUSH only drops the owner's POSIX locks on the device: none to
	 * drop if none was ever asked for on this inode.
	 */
	if (!test_bit(VBRIDGE_I_POSIX_LOCKS, &VBRIDGE_I(inode)->state))
		return err;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, vf->fh);
	in.flush.lock_owner = cpu_to_le64(vbridge_fs_owner_id(id));
	return vbridge_fs_simple(VBRIDGE_FS(inode->i_sb), VBRIDGE_OP_FS_FLUSH,
				 &in, sizeof(in), NULL, 0) ?: err;
}

/*
 * A handle of @inode open with @mode, referenced: @file's own if it has
 * that access, else any open one.  NULL if there is none.
 */
static struct vbridge_file *vbridge_fs_get_file(struct inode *inode,
						struct file *file,
						fmode_t mode)
{
	struct vbridge_inode *vi = VBRIDGE_I(inode);
	struct vbridge_file *vf, *found = NULL;

	if (file) {
		vf = file->private_data;
		if ((vf->mode & mode) == mode) {
			/* The open file holds a reference until ->release. */
			refcount_inc(&vf->ref);
			return vf;
		}
	}
	spin_lock(&vi->lock);
	list_for_each_entry(vf, &vi->files, entry) {
		/* Zero: being released, the handle is about to go. */
		if ((vf->mode & mode) == mode && refcount_inc_not_zero(&vf->ref)) {
			found = vf;
			break;
		}
	}
	spin_unlock(&vi->lock);
	return found;
}

struct vbridge_fs_wreq;
static void vbridge_fs_wb_end(struct vbridge_dev *vb, void *data, int error,
			      const void *out, u32 out_actual);
struct vbridge_fs_ra;
static void vbridge_fs_ra_end(struct vbridge_dev *vb, void *data, int error,
			      const void *out, u32 out_actual);

/*
 * READ @size bytes at @pos into @bv; the bytes read in *@done.  With @ra
 * (readahead), in the background: vbridge_fs_ra_end() gets the result
 * unless this fails.
 */
static int vbridge_fs_read_pages(struct inode *inode, u64 fh, loff_t pos,
				 const struct bio_vec *bv, unsigned int nr,
				 u32 size, u32 *done, struct vbridge_fs_ra *ra)
{
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_read_in read;
	} in = {};
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_FS_READ,
		.flags = VBRIDGE_REQ_KILLABLE,
		.in = &in,
		.in_len = sizeof(in),
		.out_bvec = bv,
		.out_nr_bvec = nr,
	};
	int err;

	if (ra) {
		/*
		 * Waits for ring space ignore signals: readahead must end.
		 * The completion only fills in and unlocks the folios: done
		 * from the virtqueue callback, it wakes the reader at once.
		 */
		args.flags = VBRIDGE_REQ_BACKGROUND | VBRIDGE_REQ_END_ATOMIC;
		args.end = vbridge_fs_ra_end;
		args.end_data = ra;
	}
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, fh);
	in.read.offset = cpu_to_le64(pos);
	in.read.size = cpu_to_le32(size);
	err = vbridge_fs_call(VBRIDGE_FS(inode->i_sb), &args, 0);
	if (err || ra)
		return err;
	if (args.out_actual > size)
		return -EIO;
	*done = args.out_actual;
	return 0;
}

/*
 * WRITE @size bytes at @pos from @bv; returns the bytes written.
 * @req_flags: VBRIDGE_REQ_KILLABLE for a write(2), VBRIDGE_REQ_NOSIGNAL
 * for laundering a dirty folio, whose data no signal to the task that
 * happens to write it back may strand.  With
 * VBRIDGE_FS_WRITE_APPEND the device writes at its end of file instead
 * and the size is left for the caller to fetch.  The change is recorded
 * before and after (vbridge_fs_local_change()): attributes fetched
 * meanwhile must neither shrink the file nor read our new mtime as a
 * change on the host.  With @wr (writeback), in the background:
 * vbridge_fs_wb_end() gets the result unless this fails, and 0 means
 * sent.
 */
static ssize_t vbridge_fs_write_pages(struct inode *inode, u64 fh, loff_t pos,
				      const struct bio_vec *bv,
				      unsigned int nr, u32 size, u32 flags,
				      u32 req_flags, struct vbridge_fs_wreq *wr)
{
	struct vbridge_fs_write_out out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_write_in write;
	} in = {};
	struct vbridge_args args = {
		.opcode = VBRIDGE_OP_FS_WRITE,
		.flags = req_flags,
		.in = &in,
		.in_len = sizeof(in),
		.in_bvec = bv,
		.in_nr_bvec = nr,
		.out = &out,
		.out_len = sizeof(out),
	};
	u32 written;
	int err;

	if (wr) {
		/* The completion gets the reply: see vbridge_fs_wb_end(). */
		args.flags = VBRIDGE_REQ_BACKGROUND;
		args.out = NULL;
		args.end = vbridge_fs_wb_end;
		args.end_data = wr;
	}
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, fh);
	in.write.offset = cpu_to_le64(pos);
	in.write.size = cpu_to_le32(size);
	in.write.flags = cpu_to_le32(flags);
	vbridge_fs_local_change(inode, -1);
	err = vbridge_fs_call(VBRIDGE_FS(inode->i_sb), &args,
			      wr ? 0 : sizeof(out));
	if (err || wr)
		return err;
	written = le32_to_cpu(out.size);
	if (written > size)
		return -EIO;
	/* Only now may the size show what the device has. */
	vbridge_fs_local_change(inode, (flags & VBRIDGE_FS_WRITE_APPEND) ?
				-1 : pos + written);
	return written;
}

/*
 * @done bytes were read into the @nr contiguous locked folios: zero what
 * lies beyond (the end of the file) and mark them uptodate.
 */
static void vbridge_fs_folios_read(struct folio **folios, unsigned int nr,
				   u32 done)
{
	loff_t pos = folio_pos(folios[0]);
	unsigned int i;

	for (i = 0; i < nr; i++) {
		size_t off = folio_pos(folios[i]) - pos;
		size_t fsize = folio_size(folios[i]);

		if (done < off + fsize)
			folio_zero_segment(folios[i],
					   done > off ? done - off : 0, fsize);
		folio_mark_uptodate(folios[i]);
	}
}

/*
 * Fill @nr contiguous locked folios from the device, zeroing what lies
 * beyond the end of the file, and mark them uptodate.
 */
static int vbridge_fs_fill_folios(struct file *file, struct inode *inode,
				  struct folio **folios, unsigned int nr)
{
	loff_t pos = folio_pos(folios[0]);
	struct vbridge_file *vf;
	struct bio_vec *bv;
	u32 size = 0, done;
	unsigned int i;
	int err;

	vf = vbridge_fs_get_file(inode, file, FMODE_READ);
	if (!vf)
		return -EBADF;
	bv = kmalloc_array(nr, sizeof(*bv), GFP_KERNEL);
	if (!bv) {
		vbridge_fs_put_file(vf);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		bvec_set_folio(&bv[i], folios[i], folio_size(folios[i]), 0);
		size += folio_size(folios[i]);
	}
	err = vbridge_fs_read_pages(inode, vf->fh, pos, bv, nr, size, &done,
				    NULL);
	vbridge_fs_put_file(vf);
	kfree(bv);
	if (err)
		return err;
	vbridge_fs_folios_read(folios, nr, done);
	return 0;
}

static int vbridge_fs_read_folio(struct file *file, struct folio *folio)
{
	int err = vbridge_fs_fill_folios(file, folio->mapping->host, &folio, 1);

	folio_unlock(folio);
	return err;
}

/*
 * One READ of readahead, sent in the background (as FUSE's async reads):
 * its folios stay locked, so out of reach of readers, writers,
 * truncation and invalidation, until the completion marks them uptodate
 * (or, on error, leaves them !uptodate) and unlocks them.  A reader that
 * finds a folio !uptodate after the lock reads it again through
 * ->read_folio, which returns the error: no reader ever sees a folio the
 * device did not fill.
 */
struct vbridge_fs_ra {
	struct vbridge_file *vf;
	u32 size;
	unsigned int nr;
	struct folio *folios[];
};

static void vbridge_fs_ra_finish(struct vbridge_fs_ra *ra, int err, u32 done)
{
	unsigned int i;

	if (!err)
		vbridge_fs_folios_read(ra->folios, ra->nr, done);
	for (i = 0; i < ra->nr; i++)
		folio_unlock(ra->folios[i]);
	vbridge_fs_put_file(ra->vf);
	kfree(ra);
}

/*
 * vbridge_end_t of a readahead READ, in interrupt context (the
 * virtqueue callback) or from teardown: nothing here sleeps.
 */
static void vbridge_fs_ra_end(struct vbridge_dev *vb, void *data, int error,
			      const void *out, u32 out_actual)
{
	struct vbridge_fs_ra *ra = data;

	if (!error && out_actual > ra->size)
		error = -EIO;
	vbridge_fs_ra_finish(ra, error, out_actual);
}

/*
 * Send @ra's READ in the background; @bv has room for its folios (the
 * request copies it).  Fails the folios if the request cannot be sent.
 */
static void vbridge_fs_ra_send(struct inode *inode, struct vbridge_fs_ra *ra,
			       struct bio_vec *bv)
{
	unsigned int i;
	u32 done;
	int err;

	for (i = 0; i < ra->nr; i++) {
		bvec_set_folio(&bv[i], ra->folios[i],
			       folio_size(ra->folios[i]), 0);
		ra->size += folio_size(ra->folios[i]);
	}
	err = vbridge_fs_read_pages(inode, ra->vf->fh,
				    folio_pos(ra->folios[0]), bv, ra->nr,
				    ra->size, &done, ra);
	if (err)
		vbridge_fs_ra_finish(ra, err, 0);
}

/* A new readahead READ for up to @pages pages, with its own file reference. */
static struct vbridge_fs_ra *vbridge_fs_ra_alloc(struct vbridge_file *vf,
						 unsigned int pages)
{
	struct vbridge_fs_ra *ra;

	ra = kzalloc(struct_size(ra, folios, pages), GFP_KERNEL);
	if (!ra)
		return NULL;
	refcount_inc(&vf->ref);
	ra->vf = vf;
	return ra;
}

/*
 * Read ahead with several READs in flight, each as large as a request
 * may be: the reader does not wait for the window it only prepares.
 * The window is several requests deep (bdi ra_pages, see
 * vbridge_fs_fill_super()), so that the device fills the next ones
 * while the reader copies: splitting a window into smaller READs only
 * made more requests (with large folios most READs are one folio
 * anyway), and measured no faster.  The ring bounds the requests in
 * flight (a full ring makes the submission wait).  Folios left in @rac
 * when memory runs out are unlocked by the caller and read one by one
 * when needed.
 */
static void vbridge_fs_readahead(struct readahead_control *rac)
{
	struct inode *inode = rac->mapping->host;
	unsigned int chunk = VBRIDGE_FS(inode->i_sb)->max_pages;
	struct vbridge_fs_ra *ra = NULL;
	struct vbridge_file *vf;
	unsigned int pages = 0;
	struct folio *folio;
	struct bio_vec *bv;

	vf = vbridge_fs_get_file(inode, rac->file, FMODE_READ);
	if (!vf)
		return;
	bv = kmalloc_array(chunk, sizeof(*bv), GFP_KERNEL);
	if (!bv)
		goto out;
	while ((folio = readahead_folio(rac))) {
		if (ra && pages + folio_nr_pages(folio) > chunk) {
			vbridge_fs_ra_send(inode, ra, bv);
			ra = NULL;
		}
		if (!ra) {
			ra = vbridge_fs_ra_alloc(vf, chunk);
			if (!ra) {
				/* Not read: ->read_folio reads it when asked. */
				folio_unlock(folio);
				break;
			}
			pages = 0;
		}
		ra->folios[ra->nr++] = folio;
		pages += folio_nr_pages(folio);
	}
	if (ra)
		vbridge_fs_ra_send(inode, ra, bv);
	kfree(bv);
out:
	vbridge_fs_put_file(vf);
}

static int vbridge_fs_write_begin(struct file *file,
				  struct address_space *mapping, loff_t pos,
				  unsigned int len, struct folio **foliop,
				  void **fsdata)
{
	struct inode *inode = mapping->host;
	struct folio *folio;
	size_t off;
	int err;

	folio = __filemap_get_folio(mapping, pos >> PAGE_SHIFT,
				    FGP_WRITEBEGIN | fgf_set_order(len),
				    mapping_gfp_mask(mapping));
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	*foliop = folio;
	/* Write-through sends only the bytes written: nothing to read. */
	if (folio_test_uptodate(folio) ||
	    !VBRIDGE_FS(inode->i_sb)->writeback)
		return 0;
	off = offset_in_folio(folio, pos);
	/* Overwritten entirely: write_end marks it uptodate. */
	if (!off && len >= folio_size(folio))
		return 0;
	if (folio_pos(folio) >= i_size_read(inode)) {
		folio_zero_range(folio, 0, folio_size(folio));
		folio_mark_uptodate(folio);
		return 0;
	}
	err = vbridge_fs_fill_folios(file, inode, &folio, 1);
	if (err) {
		folio_unlock(folio);
		folio_put(folio);
	}
	return err;
}

/*
 * Write-through: send the @copied bytes at @pos from the locked @folio
 * with @file's own handle, before i_size shows them.  The caller holds
 * i_rwsem, which orders this against truncation and the other
 * operations that change the file's size.
 */
static int vbridge_fs_write_through(struct file *file, struct inode *inode,
				    loff_t pos, unsigned int copied,
				    struct folio *folio)
{
	struct vbridge_file *vf = file->private_data;
	size_t off = offset_in_folio(folio, pos);
	ssize_t written = 0;
	struct bio_vec bv;

	if (copied) {
		bvec_set_folio(&bv, folio, copied, off);
		written = vbridge_fs_write_pages(inode, vf->fh, pos, &bv, 1,
						 copied, 0,
						 VBRIDGE_REQ_KILLABLE, NULL);
	}
	if (written == copied) {
		if (!off && copied == folio_size(folio))
			folio_mark_uptodate(folio);
	} else {
		/* The folio holds bytes that the device does not. */
		folio_clear_uptodate(folio);
	}
	folio_unlock(folio);
	folio_put(folio);
	/* 0 would make the caller try again, forever. */
	if (!written && copied)
		return -EIO;
	return written;
}

static int vbridge_fs_write_end(struct file *file,
				struct address_space *mapping, loff_t pos,
				unsigned int len, unsigned int copied,
				struct folio *folio, void *fsdata)
{
	struct inode *inode = mapping->host;
	struct vbridge_inode *vi = VBRIDGE_I(inode);

	if (!VBRIDGE_FS(inode->i_sb)->writeback)
		return vbridge_fs_write_through(file, inode, pos, copied,
						folio);
	if (!folio_test_uptodate(folio)) {
		/* A short copy into a folio never read: try again. */
		if (copied < folio_size(folio)) {
			copied = 0;
			goto out;
		}
		folio_mark_uptodate(folio);
	}
	folio_mark_dirty(folio);
	/*
	 * The guest's size is the file's until writeback.  Grown after the
	 * folio is dirty, so that vbridge_fs_update_attr() keeps it.
	 */
	if (pos + copied > i_size_read(inode)) {
		spin_lock(&vi->lock);
		if (pos + copied > i_size_read(inode))
			i_size_write(inode, pos + copied);
		spin_unlock(&vi->lock);
	}
out:
	folio_unlock(folio);
	folio_put(folio);
	return copied;
}

VBRIDGE_AOPS_WRITE_WRAPPERS(vbridge_fs_write_begin, vbridge_fs_write_end)

/*
 * One WRITE of writeback: contiguous folios under writeback, sent in the
 * background (as FUSE's writepages), so that the walk gathers the next
 * WRITE while the device writes this one and several are in flight.
 * The folios keep their writeback flag until the device answered (or
 * the request failed): fsync and close wait for exactly that, and a
 * folio under writeback cannot be truncated or invalidated, which also
 * keeps the inode alive until vbridge_fs_wb_done() has ended the last.
 */
struct vbridge_fs_wreq {
	struct inode *inode;
	struct vbridge_file *vf;
	loff_t pos;
	u32 size;
	unsigned int nr;
	struct folio *folios[];
};

/* The writepages walk: the WRITE being gathered. */
struct vbridge_fs_wb {
	struct inode *inode;
	struct writeback_control *wbc;
	struct vbridge_file *vf;
	struct vbridge_fs_wreq *wr;
	struct bio_vec *bv;
	/* The first error of a WRITE sent, kept while the walk goes on. */
	int err;
};

/*
 * Errors after which the data is still good and the WRITE worth trying
 * again: an interrupted wait (a signal to whoever syncs), a device too
 * slow for the request timeout, memory.  Dirty data is never dropped for
 * these; only the device's own errors and its failure are final.
 */
static bool vbridge_fs_wb_retry(int err)
{
	return err == -EINTR || err == -ERESTARTSYS || err == -ETIMEDOUT ||
	       err == -ENOMEM || err == -EAGAIN;
}

/*
 * The end of @wr's WRITE with @err: record the new size, or the error
 * for fsync and close (mapping_set_error()), redirtying the folios for a
 * transient one, then end their writeback.  @wbc: the walk's, when the
 * WRITE could not even be sent; NULL from the completion.  Nothing here
 * sleeps or waits for another request (vbridge_end_t).
 */
static void vbridge_fs_wb_done(struct vbridge_fs_wreq *wr, int err,
			       struct writeback_control *wbc)
{
	struct vbridge_file *vf = wr->vf;
	bool retry = vbridge_fs_wb_retry(err);
	unsigned int i;

	if (!err)
		vbridge_fs_local_change(wr->inode, wr->pos + wr->size);
	else
		mapping_set_error(wr->inode->i_mapping, err);
	for (i = 0; i < wr->nr; i++) {
		/*
		 * Still dirty data, written again later; the error above
		 * tells fsync that it is not on the device yet.  Under
		 * writeback the folio cannot be truncated away.
		 */
		if (retry && wbc)
			folio_redirty_for_writepage(wbc, wr->folios[i]);
		else if (retry)
			folio_mark_dirty(wr->folios[i]);
		/* The last one may let the inode go: not touched after. */
		folio_end_writeback(wr->folios[i]);
	}
	vbridge_fs_put_file(vf);
	kfree(wr);
}

/* vbridge_end_t of a writeback WRITE, from the completion work. */
static void vbridge_fs_wb_end(struct vbridge_dev *vb, void *data, int error,
			      const void *out, u32 out_actual)
{
	const struct vbridge_fs_write_out *wo = out;
	struct vbridge_fs_wreq *wr = data;

	if (!error && out_actual < sizeof(*wo))
		error = -EIO;
	/* A short write: the device could not take it all. */
	else if (!error && le32_to_cpu(wo->size) != wr->size)
		error = -EIO;
	vbridge_fs_wb_done(wr, error, NULL);
}

/*
 * Send the WRITE gathered in @wb in the background.  Writeback's
 * WRITEs ignore signals: no signal to the task that happens to write
 * back (a process killed in close() or fsync()) may strand dirty data,
 * and a WRITE on the ring is always waited for.
 */
static void vbridge_fs_wb_send(struct vbridge_fs_wb *wb)
{
	struct vbridge_fs_wreq *wr = wb->wr;
	unsigned int i;
	int err;

	wb->wr = NULL;
	for (i = 0; i < wr->nr; i++)
		bvec_set_folio(&wb->bv[i], wr->folios[i],
			       min_t(loff_t, folio_size(wr->folios[i]),
				     wr->pos + wr->size -
				     folio_pos(wr->folios[i])), 0);
	err = vbridge_fs_write_pages(wr->inode, wr->vf->fh, wr->pos, wb->bv,
				     wr->nr, wr->size, 0, 0, wr);
	if (err) {
		/* Never on the ring: the walk's caller gets the error too. */
		wb->err = wb->err ?: err;
		vbridge_fs_wb_done(wr, err, wb->wbc);
	}
}

/*
 * One dirty folio of the writepages walk, locked: added to the WRITE
 * being gathered, which goes out first when the folio does not continue
 * it.  Always 0, so that the walk goes on; errors are in @wb->err.
 */
static int vbridge_fs_wb_folio(struct folio *folio,
			       struct writeback_control *wbc, void *data)
{
	struct vbridge_fs_wb *wb = data;
	struct inode *inode = wb->inode;
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	loff_t isize = i_size_read(inode), fpos = folio_pos(folio);
	struct vbridge_fs_wreq *wr = wb->wr;
	size_t len;

	if (fpos >= isize) {
		/*
		 * Beyond a local truncation, which drops the folio next
		 * (vbridge_fs_drop_range()).
		 */
		folio_unlock(folio);
		return 0;
	}
	len = min_t(loff_t, folio_size(folio), isize - fpos);
	if (wr && (fpos != wr->pos + wr->size ||
		   wr->size + len > (size_t)fs->max_pages << PAGE_SHIFT ||
		   (wr->size & (PAGE_SIZE - 1)))) {
		vbridge_fs_wb_send(wb);
		wr = NULL;
	}
	if (!wr) {
		wr = kzalloc(struct_size(wr, folios, fs->max_pages),
			     GFP_KERNEL);
		if (!wr) {
			/* Still dirty, for the next writeback. */
			folio_redirty_for_writepage(wbc, folio);
			folio_unlock(folio);
			wb->err = wb->err ?: -ENOMEM;
			return 0;
		}
		refcount_inc(&wb->vf->ref);
		wr->vf = wb->vf;
		wr->inode = inode;
		wr->pos = fpos;
		wb->wr = wr;
	}
	folio_start_writeback(folio);
	folio_unlock(folio);
	wr->folios[wr->nr++] = folio;
	wr->size += len;
	return 0;
}

static int vbridge_fs_writepages(struct address_space *mapping,
				 struct writeback_control *wbc)
{
	struct inode *inode = mapping->host;
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	struct vbridge_fs_wb wb = { .inode = inode, .wbc = wbc };
	unsigned int nofs;
	int err = 0;

	wb.vf = vbridge_fs_get_file(inode, NULL, FMODE_WRITE);
	if (!wb.vf)
		return -EBADF;
	/* Reclaim must not recurse into the filesystem from here. */
	nofs = memalloc_nofs_save();
	/* Reused by each WRITE: the request copies it. */
	wb.bv = kmalloc_array(fs->max_pages, sizeof(*wb.bv), GFP_KERNEL);
	if (!wb.bv) {
		wb.err = -ENOMEM;
		goto out;
	}
	err = vbridge_write_cache_folios(mapping, wbc, vbridge_fs_wb_folio,
					 &wb);
	if (wb.wr)
		vbridge_fs_wb_send(&wb);
	kfree(wb.bv);
out:
	memalloc_nofs_restore(nofs);
	vbridge_fs_put_file(wb.vf);
	return wb.err ?: err;
}

/*
 * Write a dirty folio before it is invalidated (a folio dirtied through
 * a mapping after the range was written back).  The folio is locked.
 */
static int vbridge_fs_launder_folio(struct folio *folio)
{
	struct inode *inode = folio->mapping->host;
	loff_t isize = i_size_read(inode), fpos = folio_pos(folio);
	struct vbridge_file *vf;
	unsigned int nofs;
	struct bio_vec bv;
	ssize_t written;
	size_t len;

	if (!folio_clear_dirty_for_io(folio) || fpos >= isize)
		return 0;
	vf = vbridge_fs_get_file(inode, NULL, FMODE_WRITE);
	if (!vf) {
		folio_mark_dirty(folio);
		return -EBADF;
	}
	len = min_t(loff_t, folio_size(folio), isize - fpos);
	bvec_set_folio(&bv, folio, len, 0);
	nofs = memalloc_nofs_save();
	written = vbridge_fs_write_pages(inode, vf->fh, fpos, &bv, 1, len, 0,
					 VBRIDGE_REQ_NOSIGNAL, NULL);
	memalloc_nofs_restore(nofs);
	vbridge_fs_put_file(vf);
	if (written == len)
		return 0;
	folio_mark_dirty(folio);
	return written < 0 ? written : -EIO;
}

/*
 * Before the device changes [@start, @end] of @inode behind the page
 * cache's back: write back what is dirty there and drop the folios.  The
 * caller holds i_rwsem and the invalidate_lock until the device is done,
 * so that no folio of the range comes back meanwhile (see the top of
 * this file).
 */
int vbridge_fs_drop_range(struct inode *inode, loff_t start, loff_t end)
{
	int err;

	lockdep_assert_held_write(&inode->i_rwsem);
	lockdep_assert_held_write(&inode->i_mapping->invalidate_lock);
	/* Asynchronous direct I/O in flight ends first: no late WRITE. */
	inode_dio_wait(inode);
	err = filemap_write_and_wait_range(inode->i_mapping, start, end);
	if (err)
		return err;
	return invalidate_inode_pages2_range(inode->i_mapping,
					     start >> PAGE_SHIFT,
					     end >> PAGE_SHIFT);
}

const struct address_space_operations vbridge_fs_aops = {
	.read_folio	= vbridge_fs_read_folio,
	.readahead	= vbridge_fs_readahead,
	.writepages	= vbridge_fs_writepages,
	.dirty_folio	= filemap_dirty_folio,
	.write_begin	= vbridge_aops_write_begin(vbridge_fs_write_begin),
	.write_end	= vbridge_aops_write_end(vbridge_fs_write_end),
	.migrate_folio	= filemap_migrate_folio,
	.launder_folio	= vbridge_fs_launder_folio,
	/* O_DIRECT is served by read_iter/write_iter. */
	.direct_IO	= noop_direct_IO,
};

static bool vbridge_fs_is_direct(struct kiocb *iocb)
{
	struct vbridge_file *vf = iocb->ki_filp->private_data;

	return (iocb->ki_flags & IOCB_DIRECT) || vf->direct;
}

static ssize_t vbridge_fs_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	int err;

	if (vbridge_fs_locks_lost(inode))
		return -EIO;
	/* Only O_DIRECT tries IOCB_NOWAIT (FMODE_NOWAIT): the rest may wait. */
	if ((iocb->ki_flags & IOCB_NOWAIT) && !(iocb->ki_flags & IOCB_DIRECT))
		return -EAGAIN;
	if (vbridge_fs_is_direct(iocb))
		return vbridge_fs_direct_rw(iocb, to, false, 0);
	/* The size bounds what the page cache reads. */
	err = vbridge_fs_refresh_attr(inode, false);
	if (err)
		return err;
	return generic_file_read_iter(iocb, to);
}

static ssize_t vbridge_fs_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	bool append = iocb->ki_flags & IOCB_APPEND;
	u32 wflags = 0;
	ssize_t ret;

	if (vbridge_fs_locks_lost(inode))
		return -EIO;
	/* As in read_iter; appends wait for the device's size. */
	if ((iocb->ki_flags & IOCB_NOWAIT) &&
	    (!(iocb->ki_flags & IOCB_DIRECT) || append))
		return -EAGAIN;
	/*
	 * O_APPEND: unless the guest owns the size (writeback), only the
	 * device knows its end of file, which the host may move at any
	 * time: the device appends, directly, and nothing is overwritten.
	 */
	if (append && !fs->writeback) {
		wflags = VBRIDGE_FS_WRITE_APPEND;
	} else if (append) {
		ret = vbridge_fs_refresh_attr(inode, false);
		if (ret)
			return ret;
	}
	/* Write-through happens in write_end, under i_rwsem. */
	if (!vbridge_fs_is_direct(iocb) && !wflags)
		return generic_file_write_iter(iocb, from);

	if (!(iocb->ki_flags & IOCB_NOWAIT)) {
		inode_lock(inode);
	} else if (!inode_trylock(inode)) {
		return -EAGAIN;
	} else if (!IS_NOSEC(inode)) {
		/* Whether it has privileges to drop may take a GETXATTR. */
		inode_unlock(inode);
		return -EAGAIN;
	}
	ret = generic_write_checks(iocb, from);
	if (ret > 0)
		ret = file_remove_privs(file);
	if (!ret)
		ret = vbridge_fs_direct_rw(iocb, from, true, wflags);
	inode_unlock(inode);
	if (ret > 0)
		ret = generic_write_sync(iocb, ret);
	return ret;
}

static vm_fault_t vbridge_fs_page_mkwrite(struct vm_fault *vmf)
{
	struct folio *folio = page_folio(vmf->page);
	struct inode *inode = file_inode(vmf->vma->vm_file);

	folio_lock(folio);
	if (folio->mapping != inode->i_mapping) {
		folio_unlock(folio);
		return VM_FAULT_NOPAGE;
	}
	folio_wait_stable(folio);
	return VM_FAULT_LOCKED;
}

static const struct vm_operations_struct vbridge_fs_vm_ops = {
	.fault		= filemap_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= vbridge_fs_page_mkwrite,
};

static int vbridge_fs_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vbridge_file *vf = file->private_data;

	/* Writeback of a shared mapping needs a writable handle. */
	if ((vma->vm_flags & VM_SHARED) && (vma->vm_flags & VM_MAYWRITE) &&
	    !(vf->mode & FMODE_WRITE))
		vm_flags_clear(vma, VM_MAYWRITE);
	file_accessed(file);
	vma->vm_ops = &vbridge_fs_vm_ops;
	return 0;
}

static int vbridge_fs_fsync(struct file *file, loff_t start, loff_t end,
			    int datasync)
{
	struct inode *inode = file_inode(file);
	struct vbridge_file *vf = file->private_data;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_fsync_in sync;
	} in = {};
	int err;

	err = file_write_and_wait_range(file, start, end);
	if (err)
		return err;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, vf->fh);
	in.sync.flags = cpu_to_le32(datasync ? VBRIDGE_FS_FSYNC_DATASYNC : 0);
	return vbridge_fs_simple(VBRIDGE_FS(inode->i_sb), VBRIDGE_OP_FS_FSYNC,
				 &in, sizeof(in), NULL, 0);
}

static long vbridge_fs_fallocate(struct file *file, int mode, loff_t offset,
				 loff_t length)
{
	struct inode *inode = file_inode(file);
	struct vbridge_file *vf = file->private_data;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_fallocate_in fa;
	} in = {};
	loff_t end = offset + length - 1;
	int err;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		     FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	inode_lock(inode);
	filemap_invalidate_lock(inode->i_mapping);
	/* Plain allocation leaves the data, and so the page cache, alone. */
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		err = vbridge_fs_drop_range(inode, offset, end);
		if (err)
			goto out;
	}
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, vf->fh);
	in.fa.offset = cpu_to_le64(offset);
	in.fa.length = cpu_to_le64(length);
	in.fa.mode = cpu_to_le32(mode);
	vbridge_fs_local_change(inode, -1);
	err = vbridge_fs_simple(VBRIDGE_FS(inode->i_sb),
				VBRIDGE_OP_FS_FALLOCATE, &in, sizeof(in),
				NULL, 0);
	vbridge_fs_local_change(inode, err || (mode & FALLOC_FL_KEEP_SIZE) ?
				-1 : offset + length);
out:
	filemap_invalidate_unlock(inode->i_mapping);
	inode_unlock(inode);
	return err;
}

static loff_t vbridge_fs_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	struct vbridge_file *vf = file->private_data;
	struct vbridge_fs_lseek_out out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_lseek_in seek;
	} in = {};
	u64 res;
	int err;

	switch (whence) {
	case SEEK_DATA:
	case SEEK_HOLE:
		break;
	case SEEK_END:
		err = vbridge_fs_refresh_attr(inode, false);
		if (err)
			return err;
		fallthrough;
	default:
		return generic_file_llseek(file, offset, whence);
	}
	if (offset < 0)
		return -ENXIO;
	/* The device only knows what was written back. */
	err = filemap_write_and_wait(inode->i_mapping);
	if (err)
		return err;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, vf->fh);
	in.seek.offset = cpu_to_le64(offset);
	in.seek.whence = cpu_to_le32(whence);
	err = vbridge_fs_simple(VBRIDGE_FS(inode->i_sb), VBRIDGE_OP_FS_LSEEK,
				&in, sizeof(in), &out, sizeof(out));
	if (err)
		return err;
	res = le64_to_cpu(out.offset);
	if (res > MAX_LFS_FILESIZE)
		return -EIO;
	return vfs_setpos(file, res, inode->i_sb->s_maxbytes);
}

static ssize_t vbridge_fs_copy_file_range(struct file *file_in, loff_t pos_in,
					  struct file *file_out,
					  loff_t pos_out, size_t len,
					  unsigned int flags)
{
	struct inode *in_inode = file_inode(file_in);
	struct inode *out_inode = file_inode(file_out);
	struct vbridge_file *vin = file_in->private_data;
	struct vbridge_file *vout = file_out->private_data;
	struct vbridge_fs_copy_range_out out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_copy_range_in copy;
	} in = {};
	u64 copied;
	int err;

	/* Only the device of both files can copy; else the VFS splices. */
	if (flags || in_inode->i_sb != out_inode->i_sb)
		return -EXDEV;
	len = min_t(size_t, len, VBRIDGE_FS_COPY_MAX);
	if (!len)
		return 0;
	/*
	 * The host copies what it has.  With writeback, dirty folios past
	 * the range may also hold the size the host lacks (a hole before
	 * them reads as zeros here, as EOF there): write back all of them.
	 */
	if (VBRIDGE_FS(in_inode->i_sb)->writeback)
		err = filemap_write_and_wait(in_inode->i_mapping);
	else
		err = filemap_write_and_wait_range(in_inode->i_mapping, pos_in,
						   pos_in + len - 1);
	if (err)
		return err;
	inode_lock(out_inode);
	err = file_remove_privs(file_out);
	if (err)
		goto out_unlock;
	filemap_invalidate_lock(out_inode->i_mapping);
	err = vbridge_fs_drop_range(out_inode, pos_out, pos_out + len - 1);
	if (err)
		goto out;
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(in_inode)->nodeid, vin->fh);
	in.copy.off_in = cpu_to_le64(pos_in);
	in.copy.nodeid_out = cpu_to_le64(VBRIDGE_I(out_inode)->nodeid);
	in.copy.fh_out = cpu_to_le64(vout->fh);
	in.copy.off_out = cpu_to_le64(pos_out);
	in.copy.len = cpu_to_le64(len);
	vbridge_fs_local_change(out_inode, -1);
	err = vbridge_fs_simple(VBRIDGE_FS(in_inode->i_sb),
				VBRIDGE_OP_FS_COPY_FILE_RANGE, &in, sizeof(in),
				&out, sizeof(out));
	copied = err ? 0 : le64_to_cpu(out.size);
	if (copied > len) {
		err = -EIO;
		copied = 0;
	}
	/* The range's folios were dropped and stayed out: nothing stale. */
	vbridge_fs_local_change(out_inode, copied ? pos_out + copied : -1);
out:
	filemap_invalidate_unlock(out_inode->i_mapping);
out_unlock:
	inode_unlock(out_inode);
	return err ?: copied;
}

/* Locks */

static int vbridge_fs_lock_req(struct file *file, u32 opcode, u32 kind,
			       const void *owner, const struct file_lock *fl,
			       struct vbridge_fs_lock *res)
{
	struct inode *inode = file_inode(file);
	struct vbridge_file *vf = file->private_data;
	struct vbridge_fs_lock_out out;
	struct {
		struct vbridge_fs_in fs;
		struct vbridge_fs_lock_in lock;
	} in = {};
	struct vbridge_args args = {
		.opcode = opcode,
		/* A blocking lock is interrupted by any signal. */
		.flags = opcode == VBRIDGE_OP_FS_SETLKW ? 0 :
			 VBRIDGE_REQ_KILLABLE,
		.in = &in,
		.in_len = sizeof(in),
	};
	int err;

	if (res) {
		args.out = &out;
		args.out_len = sizeof(out);
	}
	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, vf->fh);
	in.lock.owner = cpu_to_le64(vbridge_fs_owner_id(owner));
	in.lock.lk.start = cpu_to_le64(kind == VBRIDGE_FS_LK_FLOCK ? 0 :
				       fl->fl_start);
	in.lock.lk.end = cpu_to_le64(kind == VBRIDGE_FS_LK_FLOCK ||
				     fl->fl_end == OFFSET_MAX ? ~0ULL :
				     fl->fl_end);
	in.lock.lk.type = cpu_to_le32(vbridge_flc(fl, type));
	in.lock.lk.pid = cpu_to_le32(task_tgid_nr(current));
	in.lock.kind = cpu_to_le32(kind);
	err = vbridge_fs_call(VBRIDGE_FS(inode->i_sb), &args,
			      res ? sizeof(out) : 0);
	if (!err && res)
		*res = out.lk;
	return err;
}

/* Longest pause between two tries of a blocking lock held elsewhere. */
#define VBRIDGE_FS_LOCK_POLL_MAX_MS	32

/*
 * Take or drop a lock on the device, then record it locally so that the
 * VFS drops it on close and /proc/locks shows it.  Unlocking goes the
 * other way round, so that the local records never claim a lock the
 * device may already have given to someone else.
 */
static int vbridge_fs_setlk(struct file *file, bool wait, u32 kind,
			    const void *owner, struct file_lock *fl)
{
	unsigned int delay_ms = 1;
	int err;

	if (lock_is_unlock(fl)) {
		err = locks_lock_file_wait(file, fl);
		if (err)
			return err;
		return vbridge_fs_lock_req(file, VBRIDGE_OP_FS_SETLK, kind,
					   owner, fl, NULL);
	}
	for (;;) {
		err = vbridge_fs_lock_req(file, wait ? VBRIDGE_OP_FS_SETLKW :
					  VBRIDGE_OP_FS_SETLK, kind, owner,
					  fl, NULL);
		if (!wait || err != -EAGAIN)
			break;
		/*
		 * Held elsewhere.  The device does not wait for it (that
		 * would hold up its queue), so poll, backing off as NFS
		 * does, until the lock is ours or a signal comes.
		 */
		if (msleep_interruptible(delay_ms) || signal_pending(current))
			return -ERESTARTSYS;
		delay_ms = min(delay_ms * 2, VBRIDGE_FS_LOCK_POLL_MAX_MS);
	}
	if (err)
		return err;
	err = locks_lock_file_wait(file, fl);
	if (err) {
		unsigned char type = vbridge_flc(fl, type);

		vbridge_flc(fl, type) = F_UNLCK;
		vbridge_fs_lock_req(file, VBRIDGE_OP_FS_SETLK, kind, owner, fl,
				    NULL);
		vbridge_flc(fl, type) = type;
	}
	return err;
}

/* The handle may hold a lock that RELEASE drops: wait for RELEASE. */
static void vbridge_fs_note_lock(struct file *file)
{
	struct vbridge_file *vf = file->private_data;

	WRITE_ONCE(vf->locks, true);
}

static int vbridge_fs_posix_lock(struct file *file, int cmd, struct file_lock *fl)
{
	u32 kind = (vbridge_flc(fl, flags) & FL_OFDLCK) ? VBRIDGE_FS_LK_OFD :
							  VBRIDGE_FS_LK_POSIX;
	struct vbridge_fs_lock res;
	u64 start, end;
	u32 type;
	int err;

	/* Unlocks at close still go: the local records must be dropped. */
	if (vbridge_fs_locks_lost(file_inode(file)) &&
	    !(vbridge_flc(fl, flags) & FL_CLOSE))
		return -EIO;
	if (IS_GETLK(cmd)) {
		err = vbridge_fs_lock_req(file, VBRIDGE_OP_FS_GETLK, kind,
					  vbridge_flc(fl, owner), fl, &res);
		if (err)
			return err;
		type = le32_to_cpu(res.type);
		start = le64_to_cpu(res.start);
		end = le64_to_cpu(res.end);
		if (type != F_UNLCK && type != F_RDLCK && type != F_WRLCK)
			return -EIO;
		vbridge_flc(fl, type) = type;
		if (type == F_UNLCK)
			return 0;
		if (start > end || start > OFFSET_MAX)
			return -EIO;
		fl->fl_start = start;
		fl->fl_end = end >= OFFSET_MAX ? OFFSET_MAX : end;
		vbridge_flc(fl, pid) = le32_to_cpu(res.pid);
		return 0;
	}
	/* At close FLUSH (POSIX) or RELEASE (OFD) frees them on the device. */
	if (vbridge_flc(fl, flags) & FL_CLOSE)
		return locks_lock_file_wait(file, fl);
	/* Before the device may hold it: see vbridge_fs_flush(). */
	if (kind == VBRIDGE_FS_LK_POSIX)
		set_bit(VBRIDGE_I_POSIX_LOCKS,
			&VBRIDGE_I(file_inode(file))->state);
	else
		vbridge_fs_note_lock(file);
	return vbridge_fs_setlk(file, IS_SETLKW(cmd), kind,
				vbridge_flc(fl, owner), fl);
}

static int vbridge_fs_flock(struct file *file, int cmd, struct file_lock *fl)
{
	/* RELEASE drops it on the device. */
	if (vbridge_flc(fl, flags) & FL_CLOSE)
		return locks_lock_file_wait(file, fl);
	if (vbridge_fs_locks_lost(file_inode(file)))
		return -EIO;
	vbridge_fs_note_lock(file);
	return vbridge_fs_setlk(file, IS_SETLKW(cmd), VBRIDGE_FS_LK_FLOCK,
				file, fl);
}

const struct file_operations vbridge_fs_file_fops = {
	.open		= vbridge_fs_open,
	.release	= vbridge_fs_release,
	.flush		= vbridge_fs_flush,
	.llseek		= vbridge_fs_llseek,
	.read_iter	= vbridge_fs_read_iter,
	.write_iter	= vbridge_fs_write_iter,
	.mmap		= vbridge_fs_mmap,
	.fsync		= vbridge_fs_fsync,
	.fallocate	= vbridge_fs_fallocate,
	.copy_file_range = vbridge_fs_copy_file_range,
	.lock		= vbridge_fs_posix_lock,
	.flock		= vbridge_fs_flock,
	.splice_read	= copy_splice_read,
	.splice_write	= iter_file_splice_write,
};
