// SPDX-License-Identifier: GPL-2.0
/*
 * vbridgefs direct I/O: straight between the caller's pages and the
 * device, past the page cache (O_DIRECT, and every file of a cache=none
 * mount).
 *
 * An I/O is cut into READs or WRITEs of up to max_pages each, and all of
 * them go on the ring in the background at once, as FUSE's async_dio
 * (fuse_direct_IO()): a synchronous caller then waits for them all; an
 * asynchronous one (io_uring, AIO) gets -EIOCBQUEUED and the last
 * completion ends the kiocb, so that its queue depth reaches the device
 * instead of one worker thread waiting per I/O.  The result is what a
 * loop of one request at a time would have returned: the bytes up to the
 * first request that failed or came back short, else that error.
 *
 * Appends go one request at a time (only the device knows where each
 * lands).  Writes that extend the file, appends and O_SYNC writes end
 * before write_iter drops i_rwsem, even when asynchronous: the new size
 * and the sync must be settled by then.
 */

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "vbridge.h"

/*
 * Ends asynchronous I/O that must sleep to end (writes, READs into pages
 * that were cleaned meanwhile); flushed at module exit.
 */
static struct workqueue_struct *vbridge_fs_dio_wq;

/**
 * struct vbridge_fs_dio - one direct I/O in flight
 * @iocb: the caller's kiocb
 * @inode: the file's inode
 * @start: where the I/O starts
 * @sent: bytes put on the ring (or not sent on failure)
 * @write: a WRITE, else a READ
 * @wait: the submitter waits for the requests and ends the I/O itself;
 *	else the last completion ends it (itself, or through @work)
 * @parts: requests sent, for their pages once all are done; built by the
 *	submitter only, read once @pending is zero
 * @pending: requests in flight, plus one held by the submitter until it
 *	has sent them all
 * @lock: protects @end and @err (taken in the virtqueue callback)
 * @end: the first byte a request did not do: the lowest over all
 * @err: the error of the request that failed at @end, if any
 * @work: ends an asynchronous I/O
 */
struct vbridge_fs_dio {
	struct kiocb *iocb;
	struct inode *inode;
	loff_t start;
	size_t sent;
	bool write;
	bool wait;
	struct vbridge_fs_dio_part *parts;
	atomic_t pending;
	spinlock_t lock;	/* protects @end and @err */
	loff_t end;
	int err;
	struct work_struct work;
};

/* One READ or WRITE of a direct I/O, and the caller's pages it uses. */
struct vbridge_fs_dio_part {
	struct vbridge_fs_dio_part *next;
	struct vbridge_fs_dio *dio;
	loff_t pos;
	u32 size;
	u32 done;
	bool pinned;
	unsigned int nr;
	struct page *pages[];
};

/* Record that the I/O did nothing from @pos on, with @err if it failed. */
static void vbridge_fs_dio_stop(struct vbridge_fs_dio *dio, loff_t pos,
				int err)
{
	unsigned long flags;

	spin_lock_irqsave(&dio->lock, flags);
	if (pos < dio->end) {
		dio->end = pos;
		dio->err = err;
	}
	spin_unlock_irqrestore(&dio->lock, flags);
}

/*
 * Release the caller's pages and @dio's parts; the bytes done.  Unless
 * @may_sleep, the pages of a READ are known to be dirty already.
 */
static size_t vbridge_fs_dio_release(struct vbridge_fs_dio *dio,
				     bool may_sleep)
{
	struct vbridge_fs_dio_part *part;
	loff_t end = min_t(loff_t, dio->end, dio->start + dio->sent);

	while ((part = dio->parts)) {
		dio->parts = part->next;
		/* The device wrote into the pages of a READ. */
		if (part->pinned)
			unpin_user_pages_dirty_lock(part->pages, part->nr,
						    may_sleep && !dio->write &&
						    part->done);
		kfree(part);
	}
	return end - dio->start;
}

/*
 * End @dio once no request is in flight: the pages, the page cache over
 * what was written, the position.  Returns the bytes done or the error.
 * Without @may_sleep, only for a READ vbridge_fs_dio_atomic_end() allows.
 */
static ssize_t vbridge_fs_dio_complete(struct vbridge_fs_dio *dio,
				       u32 wflags, bool may_sleep)
{
	struct inode *inode = dio->inode;
	size_t done = vbridge_fs_dio_release(dio, may_sleep);
	loff_t pos = dio->start + done;
	ssize_t ret = done ?: dio->err;

	if (dio->write && done && (wflags & VBRIDGE_FS_WRITE_APPEND)) {
		/*
		 * Where the data landed is the device's business: take its
		 * size as the position and drop what may now be stale.
		 */
		invalidate_inode_pages2(inode->i_mapping);
		if (!vbridge_fs_refresh_attr(inode, true))
			pos = max_t(loff_t, i_size_read(inode), pos);
	} else if (dio->write) {
		/* Only now may the size show what the device has. */
		vbridge_fs_local_change(inode, done ? pos : -1);
		if (done)
			invalidate_inode_pages2_range(inode->i_mapping,
						      dio->start >> PAGE_SHIFT,
						      (pos - 1) >> PAGE_SHIFT);
	}
	inode_dio_end(inode);
	dio->iocb->ki_pos = pos;
	kfree(dio);
	return ret;
}

/*
 * Whether @dio can end without sleeping, in the virtqueue callback: a
 * READ whose caller's pages are all still dirty (dirtied when pinned, as
 * the block layer's bio_set_pages_dirty() does), so that unpinning them
 * need not lock any.  Writes end in process context: the page cache over
 * them and the attributes are updated under sleeping locks.
 */
static bool vbridge_fs_dio_atomic_end(const struct vbridge_fs_dio *dio)
{
	const struct vbridge_fs_dio_part *part;
	unsigned int i;

	if (dio->write)
		return false;
	for (part = dio->parts; part; part = part->next) {
		if (!part->pinned)
			continue;
		for (i = 0; i < part->nr; i++)
			if (!PageDirty(part->pages[i]))
				return false;
	}
	return true;
}

/*
 * Drop one of @dio's pending references: the last ends an asynchronous
 * I/O, here or in the workqueue; a waiting submitter is woken.  @dio may
 * be gone once the count is down (wake_up_var() only hashes the address).
 */
static void vbridge_fs_dio_put(struct vbridge_fs_dio *dio)
{
	bool wait = dio->wait;

	if (!atomic_dec_and_test(&dio->pending)) {
		if (wait)
			wake_up_var(&dio->pending);
	} else if (vbridge_fs_dio_atomic_end(dio)) {
		/* No hop through the workqueue: one wake-up fewer. */
		dio->iocb->ki_complete(dio->iocb,
				       vbridge_fs_dio_complete(dio, 0, false));
	} else {
		queue_work(vbridge_fs_dio_wq, &dio->work);
	}
}

/* Wait until only the submitter's reference is left: nothing in flight. */
static void vbridge_fs_dio_wait(struct vbridge_fs_dio *dio)
{
	wait_var_event(&dio->pending,
		       atomic_read_acquire(&dio->pending) == 1);
}

/*
 * vbridge_end_t of a READ or WRITE, in interrupt context (the virtqueue
 * callback) or from teardown: records, counts down, wakes.
 */
static void vbridge_fs_dio_part_end(struct vbridge_dev *vb, void *data,
				    int error, const void *out, u32 out_actual)
{
	struct vbridge_fs_dio_part *part = data;
	struct vbridge_fs_dio *dio = part->dio;
	u32 done = out_actual;

	if (!error && dio->write) {
		const struct vbridge_fs_write_out *w = out;

		if (out_actual < sizeof(*w))
			error = -EIO;
		else
			done = le32_to_cpu(w->size);
	}
	if (!error && done > part->size)
		error = -EIO;
	if (error)
		done = 0;
	part->done = done;
	if (done < part->size)
		vbridge_fs_dio_stop(dio, part->pos + done, error);
	vbridge_fs_dio_put(dio);
}

/*
 * Send @part, whose pages @bv describes (the request copies @bv), in the
 * background; @wflags: VBRIDGE_FS_WRITE_* of a WRITE.
 */
static int vbridge_fs_dio_send(struct vbridge_fs_dio *dio,
			       struct vbridge_fs_dio_part *part,
			       const struct bio_vec *bv, u32 wflags)
{
	struct inode *inode = dio->inode;
	struct vbridge_file *vf = dio->iocb->ki_filp->private_data;
	union {
		struct vbridge_fs_read_in read;
		struct vbridge_fs_write_in write;
	} op = {};
	struct {
		struct vbridge_fs_in fs;
		u8 op[sizeof(op)];
	} in = {};
	struct vbridge_args args = {
		.flags = VBRIDGE_REQ_BACKGROUND | VBRIDGE_REQ_END_ATOMIC |
			 (dio->iocb->ki_flags & IOCB_NOWAIT ?
			  VBRIDGE_REQ_NOWAIT : 0),
		.in = &in,
		.end = vbridge_fs_dio_part_end,
		.end_data = part,
	};

	vbridge_fs_in_init(&in.fs, VBRIDGE_I(inode)->nodeid, vf->fh);
	if (dio->write) {
		op.write.offset = cpu_to_le64(part->pos);
		op.write.size = cpu_to_le32(part->size);
		op.write.flags = cpu_to_le32(wflags);
		args.opcode = VBRIDGE_OP_FS_WRITE;
		args.in_len = sizeof(in.fs) + sizeof(op.write);
		args.in_bvec = bv;
		args.in_nr_bvec = part->nr;
		args.out_len = sizeof(struct vbridge_fs_write_out);
		/* Attributes fetched from now on must not shrink the file. */
		vbridge_fs_local_change(inode, -1);
	} else {
		op.read.offset = cpu_to_le64(part->pos);
		op.read.size = cpu_to_le32(part->size);
		args.opcode = VBRIDGE_OP_FS_READ;
		args.in_len = sizeof(in.fs) + sizeof(op.read);
		args.out_bvec = bv;
		args.out_nr_bvec = part->nr;
	}
	memcpy(in.op, &op, sizeof(op));
	return vbridge_fs_call(VBRIDGE_FS(inode->i_sb), &args, 0);
}

/*
 * Take the next up to max_pages of @iter's pages into a new part of
 * @dio at @pos, with @bv (room for max_pages) describing them.
 */
static struct vbridge_fs_dio_part *
vbridge_fs_dio_part_get(struct vbridge_fs_dio *dio, struct iov_iter *iter,
			loff_t pos, struct bio_vec *bv)
{
	unsigned int max_pages = VBRIDGE_FS(dio->inode->i_sb)->max_pages;
	size_t want = min_t(size_t, iov_iter_count(iter),
			    (size_t)max_pages << PAGE_SHIFT);
	struct vbridge_fs_dio_part *part;
	struct page **pages;
	size_t off, left, seg;
	ssize_t got;

	part = kmalloc(struct_size(part, pages, max_pages), GFP_KERNEL);
	if (!part)
		return ERR_PTR(-ENOMEM);
	part->pinned = iov_iter_extract_will_pin(iter);
	pages = part->pages;
	got = iov_iter_extract_pages(iter, &pages, want, max_pages, 0, &off);
	if (got <= 0) {
		kfree(part);
		return ERR_PTR(got ?: -EFAULT);
	}
	part->dio = dio;
	part->pos = pos;
	part->size = got;
	part->done = 0;
	for (left = got, part->nr = 0; left; left -= seg, off = 0) {
		seg = min_t(size_t, PAGE_SIZE - off, left);
		bvec_set_page(&bv[part->nr], part->pages[part->nr], seg, off);
		/* Dirtied now, the pages need no lock when the READ ends. */
		if (!dio->write && part->pinned &&
		    !PageDirty(part->pages[part->nr]))
			set_page_dirty_lock(part->pages[part->nr]);
		part->nr++;
	}
	return part;
}

static void vbridge_fs_dio_work(struct work_struct *work)
{
	struct vbridge_fs_dio *dio = container_of(work, struct vbridge_fs_dio,
						  work);
	struct kiocb *iocb = dio->iocb;

	iocb->ki_complete(iocb, vbridge_fs_dio_complete(dio, 0, true));
}

/*
 * Direct I/O of @iter at iocb->ki_pos; @wflags: VBRIDGE_FS_WRITE_* flags
 * of a write (whose caller holds i_rwsem).  Returns the bytes done, an
 * error, or -EIOCBQUEUED when an asynchronous kiocb will be ended later.
 */
ssize_t vbridge_fs_direct_rw(struct kiocb *iocb, struct iov_iter *iter,
			     bool write, u32 wflags)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct vbridge_fs *fs = VBRIDGE_FS(inode->i_sb);
	bool append = wflags & VBRIDGE_FS_WRITE_APPEND;
	size_t count = iov_iter_count(iter);
	loff_t pos = iocb->ki_pos;
	bool nowait = iocb->ki_flags & IOCB_NOWAIT;
	struct vbridge_fs_dio *dio;
	struct bio_vec *bv;
	bool wait;
	size_t sent;
	ssize_t ret;
	int err;

	if (!count)
		return 0;
	wait = is_sync_kiocb(iocb) ||
	       (write && (append || iocb_is_dsync(iocb) ||
			  pos + count > i_size_read(inode)));
	/*
	 * IOCB_NOWAIT (io_uring's first try, in the submitter's context):
	 * only an I/O of one request that nothing needs to wait for, neither
	 * before it (writeback, ring space) nor after (the submitter), and
	 * only while no other direct I/O of the file is in flight.  For the
	 * rest -EAGAIN, and io_uring tries again from a worker: at queue
	 * depth 1 that saves a worker's two switches per I/O, while deeper
	 * queues keep the workers, which build their requests on every CPU
	 * at once.
	 */
	if (nowait &&
	    (wait || atomic_read(&inode->i_dio_count) ||
	     iov_iter_npages(iter, fs->max_pages + 1) > fs->max_pages ||
	     filemap_range_needs_writeback(inode->i_mapping, pos,
					   pos + count - 1)))
		return -EAGAIN;
	/*
	 * Coherence with mmap, which always goes through the page cache.
	 * An append lands wherever the device's end of file is.
	 */
	err = filemap_write_and_wait_range(inode->i_mapping, pos,
					   append ? LLONG_MAX : pos + count - 1);
	if (err)
		return err;
	dio = kzalloc(sizeof(*dio), GFP_KERNEL);
	bv = kmalloc_array(fs->max_pages, sizeof(*bv), GFP_KERNEL);
	if (!dio || !bv) {
		kfree(dio);
		kfree(bv);
		return -ENOMEM;
	}
	dio->iocb = iocb;
	dio->inode = inode;
	dio->start = pos;
	dio->write = write;
	dio->wait = wait;
	dio->end = LLONG_MAX;
	spin_lock_init(&dio->lock);
	atomic_set(&dio->pending, 1);
	INIT_WORK(&dio->work, vbridge_fs_dio_work);
	/* Truncation and the like wait for it (vbridge_fs_drop_range()). */
	inode_dio_begin(inode);

	while (iov_iter_count(iter)) {
		struct vbridge_fs_dio_part *part;

		part = vbridge_fs_dio_part_get(dio, iter, pos, bv);
		if (IS_ERR(part)) {
			vbridge_fs_dio_stop(dio, pos, PTR_ERR(part));
			break;
		}
		part->next = dio->parts;
		dio->parts = part;
		dio->sent += part->size;
		pos += part->size;
		atomic_inc(&dio->pending);
		err = vbridge_fs_dio_send(dio, part, bv, wflags);
		if (err) {
			/* Never on the ring: the submitter's reference stays. */
			atomic_dec(&dio->pending);
			vbridge_fs_dio_stop(dio, part->pos, err);
			break;
		}
		if (append) {
			/* Its bytes after a short append would land after it. */
			vbridge_fs_dio_wait(dio);
			if (dio->end != LLONG_MAX)
				break;
		}
	}
	kfree(bv);

	/*
	 * Nothing in flight (IOCB_NOWAIT's -EAGAIN, say): the result is
	 * known, and returned as a synchronous one would be.
	 */
	if (!dio->wait && atomic_read(&dio->pending) > 1) {
		vbridge_fs_dio_put(dio);
		return -EIOCBQUEUED;
	}
	vbridge_fs_dio_wait(dio);
	sent = dio->sent;
	ret = vbridge_fs_dio_complete(dio, wflags, true);
	/* The caller sees the bytes not done as not consumed. */
	iov_iter_revert(iter, sent - (ret > 0 ? ret : 0));
	return ret;
}

int vbridge_fs_dio_init(void)
{
	vbridge_fs_dio_wq = alloc_workqueue("vbridge_dio",
					    WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	return vbridge_fs_dio_wq ? 0 : -ENOMEM;
}

void vbridge_fs_dio_exit(void)
{
	destroy_workqueue(vbridge_fs_dio_wq);
}
