/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vbridge: compatibility with kernels older than the one the code is
 * written for (6.12).  Each shim names the release that made it
 * unnecessary; drop it when the oldest supported kernel has that.
 *
 * Targets Debian 12's 6.1 LTS and 6.12 (README.md, "Supported
 * kernels").  checkpatch runs on this file without
 * its version-check warnings (Makefile, "style"): they are its purpose.
 */
#ifndef _VBRIDGE_COMPAT_H
#define _VBRIDGE_COMPAT_H

#include <linux/version.h>
#include <linux/backing-dev.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/writeback.h>
#include <linux/xattr.h>

/* 6.10: __assign_str() takes the field name only. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
#define vbridge_assign_str(field)	__assign_str(field, field)
#else
#define vbridge_assign_str(field)	__assign_str(field)
#endif

/* 6.3: idmapped mounts pass struct mnt_idmap, not the user namespace. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#define mnt_idmap			user_namespace
#endif

/* 6.3: file locking moved to <linux/filelock.h>. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#include <linux/filelock.h>
#endif

/* 6.5: generic_fillattr() takes the request mask. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define generic_fillattr(idmap, mask, inode, stat) \
	do { \
		(void)(mask); \
		generic_fillattr(idmap, inode, stat); \
	} while (0)
#endif

/* 6.3: vm_flags are changed through helpers. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_clear(struct vm_area_struct *vma,
				  unsigned long flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/*
 * 6.3: iov_iter_extract_pages() pins user pages and leaves kernel ones
 * alone.  Before, iov_iter_get_pages2() takes a reference on every page:
 * "will pin" always, and the release drops those references.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline bool iov_iter_extract_will_pin(const struct iov_iter *iter)
{
	return true;
}

static inline ssize_t iov_iter_extract_pages(struct iov_iter *iter,
					     struct page ***pages,
					     size_t maxsize,
					     unsigned int maxpages,
					     unsigned int flags, size_t *offset)
{
	return iov_iter_get_pages2(iter, *pages, maxsize, maxpages, offset);
}

static inline void vbridge_put_pages_dirty_lock(struct page **pages,
						unsigned long n, bool dirty)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		if (dirty)
			set_page_dirty_lock(pages[i]);
		put_page(pages[i]);
	}
}

#define unpin_user_pages_dirty_lock	vbridge_put_pages_dirty_lock
#endif

/*
 * 6.3: __filemap_get_folio() returns an ERR_PTR(), not NULL; 6.4:
 * FGP_WRITEBEGIN; 6.10: large folios for writes (fgf_set_order()).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline struct folio *vbridge_filemap_get_folio(struct address_space *m,
						      pgoff_t index, int fgp,
						      gfp_t gfp)
{
	struct folio *folio = __filemap_get_folio(m, index, fgp, gfp);

	if (folio)
		return folio;
	return ERR_PTR((fgp & FGP_CREAT) ? -ENOMEM : -ENOENT);
}

#define __filemap_get_folio		vbridge_filemap_get_folio
#endif
#ifndef FGP_WRITEBEGIN
#define FGP_WRITEBEGIN			(FGP_LOCK | FGP_WRITE | FGP_CREAT | FGP_STABLE)
#endif
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
static inline int fgf_set_order(size_t size)
{
	return 0;
}
#endif

/* 6.4: bvec_set_folio(). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
static inline void bvec_set_folio(struct bio_vec *bv, struct folio *folio,
				  unsigned int len, unsigned int offset)
{
	bvec_set_page(bv, &folio->page, len, offset);
}
#endif

/* 6.5: copy_splice_read() (before, the page cache's read_iter did). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define copy_splice_read		generic_file_splice_read
#endif

/* 6.7: inode timestamps through accessors. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
static inline struct timespec64 inode_get_atime(const struct inode *inode)
{
	return inode->i_atime;
}

static inline struct timespec64 inode_get_mtime(const struct inode *inode)
{
	return inode->i_mtime;
}

static inline struct timespec64 inode_set_atime_to_ts(struct inode *inode,
						      struct timespec64 ts)
{
	inode->i_atime = ts;
	return ts;
}

static inline struct timespec64 inode_set_mtime_to_ts(struct inode *inode,
						      struct timespec64 ts)
{
	inode->i_mtime = ts;
	return ts;
}
#endif

/* 6.11: large folios of a chosen order range (before: small ones only). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
static inline void mapping_set_folio_order_range(struct address_space *m,
						 unsigned int min,
						 unsigned int max)
{
}
#endif

/* 6.11: virtio_find_vqs() takes struct virtqueue_info. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
struct virtqueue_info {
	const char *name;
	vq_callback_t *callback;
	bool ctx;
};

static inline int vbridge_find_vqs(struct virtio_device *vdev,
				   unsigned int nvqs, struct virtqueue *vqs[],
				   struct virtqueue_info vqs_info[],
				   struct irq_affinity *desc)
{
	vq_callback_t **callbacks;
	const char **names;
	unsigned int i;
	int err;

	callbacks = kcalloc(nvqs, sizeof(*callbacks), GFP_KERNEL);
	names = kcalloc(nvqs, sizeof(*names), GFP_KERNEL);
	err = -ENOMEM;
	if (callbacks && names) {
		for (i = 0; i < nvqs; i++) {
			callbacks[i] = vqs_info[i].callback;
			names[i] = vqs_info[i].name;
		}
		err = virtio_find_vqs(vdev, nvqs, vqs, callbacks, names, desc);
	}
	kfree(names);
	kfree(callbacks);
	return err;
}

#define virtio_find_vqs			vbridge_find_vqs
#endif

/*
 * 6.7: super_block.s_xattr points at a const array of handlers.  Before,
 * the pointers were not const, but the VFS never wrote through them: the
 * cast only drops the qualifier.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
#define vbridge_sb_xattr(handlers) \
	((const struct xattr_handler **)(handlers))
#else
#define vbridge_sb_xattr(handlers)	(handlers)
#endif

/*
 * 6.9: the fields POSIX locks, flock and leases share moved into struct
 * file_lock_core (fl->c.flc_type; before, fl->fl_type), with
 * lock_is_unlock() and co. to test the type and for_each_file_lock() to
 * walk a list of them.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 9, 0)
#define vbridge_flc(fl, field)		((fl)->fl_##field)

static inline bool lock_is_unlock(const struct file_lock *fl)
{
	return fl->fl_type == F_UNLCK;
}

#define for_each_file_lock(fl, head) \
	list_for_each_entry(fl, head, fl_list)
#else
#define vbridge_flc(fl, field)		((fl)->c.flc_##field)
#endif

/*
 * 6.10: writeback_iter() walks the dirty folios of a writepages call.
 * Before, write_cache_pages() calls back for each of them (before 6.3,
 * with its page).  Either way @fn gets each folio locked, its dirty bit
 * cleared, and returns 0 to go on.
 */
typedef int (*vbridge_write_folio_t)(struct folio *folio,
				     struct writeback_control *wbc,
				     void *data);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
static inline int vbridge_write_cache_folios(struct address_space *mapping,
					     struct writeback_control *wbc,
					     vbridge_write_folio_t fn,
					     void *data)
{
	struct folio *folio = NULL;
	int err;

	while ((folio = writeback_iter(mapping, wbc, folio, &err)))
		err = fn(folio, wbc, data);
	return err;
}
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define vbridge_write_cache_folios	write_cache_pages
#else
struct vbridge_write_folio {
	vbridge_write_folio_t fn;
	void *data;
};

static inline int vbridge_write_page(struct page *page,
				     struct writeback_control *wbc, void *data)
{
	struct vbridge_write_folio *w = data;

	return w->fn(page_folio(page), wbc, w->data);
}

static inline int vbridge_write_cache_folios(struct address_space *mapping,
					     struct writeback_control *wbc,
					     vbridge_write_folio_t fn,
					     void *data)
{
	struct vbridge_write_folio w = { .fn = fn, .data = data };

	return write_cache_pages(mapping, wbc, vbridge_write_page, &w);
}
#endif

/*
 * 6.12: write_begin and write_end take the folio; before, its first page.
 * VBRIDGE_AOPS_WRITE_WRAPPERS() defines page-based wrappers around the
 * folio-based functions where the kernel wants them, and
 * vbridge_aops_write_begin()/_end() name the one for the aops.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
#define VBRIDGE_AOPS_WRITE_WRAPPERS(begin, end)				\
static int begin##_page(struct file *file,				\
			struct address_space *mapping, loff_t pos,	\
			unsigned int len, struct page **pagep,		\
			void **fsdata)					\
{									\
	struct folio *folio;						\
	int err = begin(file, mapping, pos, len, &folio, fsdata);	\
									\
	if (!err)							\
		*pagep = &folio->page;					\
	return err;							\
}									\
									\
static int end##_page(struct file *file, struct address_space *mapping,	\
		      loff_t pos, unsigned int len, unsigned int copied,	\
		      struct page *page, void *fsdata)			\
{									\
	return end(file, mapping, pos, len, copied, page_folio(page),	\
		   fsdata);						\
}

#define vbridge_aops_write_begin(begin)	begin##_page
#define vbridge_aops_write_end(end)	end##_page
#else
#define VBRIDGE_AOPS_WRITE_WRAPPERS(begin, end)
#define vbridge_aops_write_begin(begin)	begin
#define vbridge_aops_write_end(end)	end
#endif

/*
 * The display module's (vbridge_drm.ko): only where the includer asks,
 * as the core has no DRM dependency.
 */
#ifdef VBRIDGE_COMPAT_DRM
#include <drm/drm_crtc.h>
#include <drm/drm_managed.h>
#include <drm/drm_probe_helper.h>
#include <drm/drm_vblank.h>

/*
 * 6.11: drm_fbdev_ttm_setup(); before, drm_fbdev_generic_setup() (6.2:
 * in <drm/drm_fbdev_generic.h>).  Both give a shadow buffer to a driver
 * whose framebuffers have a dirty() callback.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#include <drm/drm_fbdev_ttm.h>
#else
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#include <drm/drm_fbdev_generic.h>
#else
#include <drm/drm_fb_helper.h>
#endif
#define drm_fbdev_ttm_setup		drm_fbdev_generic_setup
#endif

/* 6.11: drm_crtc_vblank_crtc(). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
static inline struct drm_vblank_crtc *
drm_crtc_vblank_crtc(struct drm_crtc *crtc)
{
	return &crtc->dev->vblank[drm_crtc_index(crtc)];
}
#endif

/* 6.9: drmm_kms_helper_poll_init(), finished with the device. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 9, 0)
static inline void vbridge_kms_helper_poll_fini(struct drm_device *drm,
						void *unused)
{
	drm_kms_helper_poll_fini(drm);
}

static inline int drmm_kms_helper_poll_init(struct drm_device *drm)
{
	drm_kms_helper_poll_init(drm);
	return drmm_add_action_or_reset(drm, vbridge_kms_helper_poll_fini,
					NULL);
}
#endif
#endif /* VBRIDGE_COMPAT_DRM */

#endif /* _VBRIDGE_COMPAT_H */
