// SPDX-License-Identifier: GPL-2.0
/*
 * vbridge display: framebuffers, their host resources and plane updates.
 *
 * The host reads the pixels straight from guest memory.  The first time a
 * framebuffer is about to be shown (prepare_fb), its buffer's pages are
 * pinned and registered with RESOURCE_CREATE, as device addresses: through
 * the DMA API when the device negotiated VIRTIO_F_ACCESS_PLATFORM (an
 * IOMMU, or bounce buffers for encrypted guest memory, synced before the
 * host reads them), else as guest-physical ranges, as the virtio ring
 * does.  A plane update points the scanout at the resource
 * with SET_SCANOUT when the framebuffer or its source rectangle changed,
 * then reports the damaged rectangles with FLUSH; the guest copies no
 * pixels.  The resource is destroyed, and the pages unpinned, with the
 * framebuffer.
 *
 * FLUSH is pipelined, as virtio-gpu queues its transfers: the plane update
 * puts it on the ring and returns, so that the host copies the damage
 * while the guest draws the next frame, instead of the commit (and
 * DIRTYFB) waiting for the copy.  Its completion, from the virtqueue
 * callback, marks the scanout idle again.  One FLUSH per
 * scanout is in flight at most: the next plane update waits for it
 * before it sends anything, which keeps SET_SCANOUT and RESOURCE_DESTROY
 * behind the FLUSHes of the resource they replace (the request queues
 * are not ordered with each other) and bounds what a fast client can
 * queue.
 *
 * After a device reset (restore) the host knows no resource:
 * vbridge_kms.gen moves on and framebuffers are registered again, under
 * the ids they have, when next shown.
 */

#include <linux/dma-mapping.h>
#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include <drm/drm_atomic.h>
#include <drm/drm_atomic_helper.h>
#include <drm/drm_damage_helper.h>
#include <drm/drm_drv.h>
#include <drm/drm_fourcc.h>
#include <drm/drm_gem_atomic_helper.h>
#include <drm/drm_gem_framebuffer_helper.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_modeset_helper_vtables.h>
#include <drm/drm_print.h>

#include "vbridge_drm.h"

/* Damage rectangles per FLUSH; more are merged into their bounding box. */
#define VBRIDGE_FLUSH_MAX_RECTS		16
/* Longest memory entry; entries carry a 32-bit length. */
#define VBRIDGE_MEM_ENTRY_MAX		SZ_1G

static const u32 vbridge_plane_formats[] = {
	DRM_FORMAT_XRGB8888,
	DRM_FORMAT_ARGB8888,
};

/*
 * Resources.
 */

/* Memory entries being built; see vbridge_mem_entries(). */
struct vbridge_mem_walk {
	struct vbridge_display_mem_entry *ents;	/* NULL: only count */
	u32 n;
	u64 next;	/* device address right after the last entry */
	u32 cur;	/* length of the last entry */
};

/* Append [@addr, @addr + @len), merged into the last entry if adjacent. */
static void vbridge_mem_add(struct vbridge_mem_walk *w, u64 addr, size_t len)
{
	u32 part;

	while (len) {
		part = min_t(size_t, len, VBRIDGE_MEM_ENTRY_MAX);
		if (w->n && addr == w->next &&
		    w->cur + part <= VBRIDGE_MEM_ENTRY_MAX) {
			w->cur += part;
		} else {
			w->n++;
			w->cur = part;
			if (w->ents)
				w->ents[w->n - 1].addr = cpu_to_le64(addr);
		}
		if (w->ents)
			w->ents[w->n - 1].length = cpu_to_le32(w->cur);
		w->next = addr + part;
		addr += part;
		len -= part;
	}
}

/*
 * The device addresses behind [@offset, @offset + @size) of @vfb's
 * buffer, merging contiguous ones: its DMA mapping when the device goes
 * through the DMA API (VIRTIO_F_ACCESS_PLATFORM: an IOMMU, or bounce
 * buffers for encrypted memory), else guest-physical addresses.  Fills
 * @ents if not NULL; returns the number of entries.
 */
static u32 vbridge_mem_entries(struct vbridge_fb *vfb, size_t offset,
			       size_t size,
			       struct vbridge_display_mem_entry *ents)
{
	struct drm_gem_shmem_object *shmem =
		to_drm_gem_shmem_obj(vfb->base.obj[0]);
	struct vbridge_mem_walk w = { .ents = ents };
	size_t start, end = offset + size, pos = 0, len;
	struct scatterlist *sg;
	unsigned int i;

	if (!vfb->sgt) {
		while (offset < end) {
			len = min_t(size_t, end - offset,
				    PAGE_SIZE - offset_in_page(offset));
			vbridge_mem_add(&w, page_to_phys(shmem->pages[offset >> PAGE_SHIFT]) +
					offset_in_page(offset), len);
			offset += len;
		}
		return w.n;
	}
	for_each_sgtable_dma_sg(vfb->sgt, sg, i) {
		len = sg_dma_len(sg);
		start = max(offset, pos);
		if (start < min(end, pos + len))
			vbridge_mem_add(&w, sg_dma_address(sg) + (start - pos),
					min(end, pos + len) - start);
		pos += len;
		if (pos >= end)
			break;
	}
	return w.n;
}

/*
 * The device that maps guest memory for the host, as the virtio ring
 * does: NULL when the device reads guest-physical addresses.
 */
static struct device *vbridge_dma_dev(struct vbridge_kms *kms)
{
	struct virtio_device *vdev = kms->vadev->vdev;

	return virtio_has_dma_quirk(vdev) ? NULL : vdev->dev.parent;
}

/* Map @vfb's pinned pages for the device, if it uses the DMA API. */
static int vbridge_fb_dma_map(struct vbridge_kms *kms, struct vbridge_fb *vfb)
{
	struct device *dma_dev = vbridge_dma_dev(kms);
	struct sg_table *sgt;
	int err;

	if (!dma_dev || vfb->sgt)
		return 0;
	sgt = drm_gem_shmem_get_sg_table(to_drm_gem_shmem_obj(vfb->base.obj[0]));
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);
	err = dma_map_sgtable(dma_dev, sgt, DMA_TO_DEVICE, 0);
	if (err) {
		sg_free_table(sgt);
		kfree(sgt);
		return err;
	}
	vfb->sgt = sgt;
	return 0;
}

static void vbridge_fb_dma_unmap(struct vbridge_kms *kms,
				 struct vbridge_fb *vfb)
{
	if (!vfb->sgt)
		return;
	dma_unmap_sgtable(vbridge_dma_dev(kms), vfb->sgt, DMA_TO_DEVICE, 0);
	sg_free_table(vfb->sgt);
	kfree(vfb->sgt);
	vfb->sgt = NULL;
}

/* RESOURCE_CREATE for @vfb, whose pages are pinned. */
static int vbridge_resource_create(struct vbridge_kms *kms,
				   struct vbridge_fb *vfb)
{
	struct drm_framebuffer *fb = &vfb->base;
	size_t size = (size_t)fb->pitches[0] * fb->height;
	struct vbridge_display_create_in *in;
	size_t len;
	u32 n;
	int err;

	n = vbridge_mem_entries(vfb, fb->offsets[0], size, NULL);
	len = size_add(sizeof(*in),
		       array_size(n, sizeof(struct vbridge_display_mem_entry)));
	if (len > vbridge_adev_max_in_payload(kms->vadev)) {
		drm_err(&kms->drm, "framebuffer %u: %u memory ranges do not fit in a request\n",
			fb->base.id, n);
		return -ENOSPC;
	}
	in = kvzalloc(len, GFP_KERNEL);
	if (!in)
		return -ENOMEM;
	in->resource_id = cpu_to_le32(vfb->id);
	in->format = cpu_to_le32(fb->format->format);
	in->width = cpu_to_le32(fb->width);
	in->height = cpu_to_le32(fb->height);
	in->stride = cpu_to_le32(fb->pitches[0]);
	in->nr_entries = cpu_to_le32(n);
	vbridge_mem_entries(vfb, fb->offsets[0], size,
			    (struct vbridge_display_mem_entry *)(in + 1));
	err = vbridge_kms_request(kms, VBRIDGE_OP_DISPLAY_RESOURCE_CREATE, in,
				  len);
	kvfree(in);
	if (err)
		drm_err(&kms->drm, "framebuffer %u: RESOURCE_CREATE failed: %d\n",
			fb->base.id, err);
	return err;
}

/* Pin @vfb's pages and register them with the host, unless done already. */
static int vbridge_fb_register(struct vbridge_kms *kms, struct vbridge_fb *vfb)
{
	struct drm_gem_object *obj = vfb->base.obj[0];
	int gen, id, idx, err = 0;

	mutex_lock(&vfb->lock);
	gen = atomic_read(&kms->gen);
	if (vfb->host_gen == gen)
		goto out_unlock;
	if (!drm_dev_enter(&kms->drm, &idx)) {
		err = -ENODEV;
		goto out_unlock;
	}
	if (!vfb->pinned) {
		err = drm_gem_shmem_pin(to_drm_gem_shmem_obj(obj));
		if (err)
			goto out_exit;
		vfb->pinned = true;
	}
	err = vbridge_fb_dma_map(kms, vfb);
	if (err)
		goto out_exit;
	if (!vfb->id) {
		id = ida_alloc_min(&kms->ids, 1, GFP_KERNEL);
		if (id < 0) {
			err = id;
			goto out_exit;
		}
		vfb->id = id;
	}
	err = vbridge_resource_create(kms, vfb);
	if (!err)
		WRITE_ONCE(vfb->host_gen, gen);
out_exit:
	drm_dev_exit(idx);
out_unlock:
	mutex_unlock(&vfb->lock);
	return err;
}

/*
 * Framebuffers.
 */

static void vbridge_fb_destroy(struct drm_framebuffer *fb)
{
	struct vbridge_kms *kms = to_vbridge_kms(fb->dev);
	struct vbridge_fb *vfb = to_vbridge_fb(fb);
	struct vbridge_display_resource_in in = {
		.resource_id = cpu_to_le32(vfb->id),
	};
	int idx, err;

	/* No plane shows it any more; the host forgot it if it was reset. */
	if (vfb->host_gen == atomic_read(&kms->gen) &&
	    drm_dev_enter(fb->dev, &idx)) {
		err = vbridge_kms_request(kms,
					  VBRIDGE_OP_DISPLAY_RESOURCE_DESTROY,
					  &in, sizeof(in));
		if (err)
			drm_warn(fb->dev, "framebuffer %u: RESOURCE_DESTROY failed: %d\n",
				 fb->base.id, err);
		drm_dev_exit(idx);
	}
	if (vfb->id)
		ida_free(&kms->ids, vfb->id);
	vbridge_fb_dma_unmap(kms, vfb);
	if (vfb->pinned)
		drm_gem_shmem_unpin(to_drm_gem_shmem_obj(fb->obj[0]));
	mutex_destroy(&vfb->lock);
	/* Frees @vfb: @base is its first member. */
	drm_gem_fb_destroy(fb);
}

static const struct drm_framebuffer_funcs vbridge_fb_funcs = {
	.destroy = vbridge_fb_destroy,
	.create_handle = drm_gem_fb_create_handle,
	.dirty = drm_atomic_helper_dirtyfb,
};

struct drm_framebuffer *vbridge_fb_create(struct drm_device *drm,
					  struct drm_file *file,
					  const struct drm_mode_fb_cmd2 *cmd)
{
	struct drm_gem_object *obj;
	struct vbridge_fb *vfb;
	int err;

	BUILD_BUG_ON(offsetof(struct vbridge_fb, base));
	vfb = kzalloc(sizeof(*vfb), GFP_KERNEL);
	if (!vfb)
		return ERR_PTR(-ENOMEM);
	mutex_init(&vfb->lock);
	err = drm_gem_fb_init_with_funcs(drm, &vfb->base, file, cmd,
					 &vbridge_fb_funcs);
	if (err) {
		mutex_destroy(&vfb->lock);
		kfree(vfb);
		return ERR_PTR(err);
	}

	/*
	 * The host reads whole lines: the buffer must hold pitch * height
	 * bytes, not just up to the last pixel.  Imported buffers have no
	 * pages of ours.
	 */
	obj = vfb->base.obj[0];
	if (obj->import_attach || vfb->base.format->num_planes != 1 ||
	    (u64)cmd->pitches[0] * cmd->height + cmd->offsets[0] > obj->size) {
		drm_framebuffer_put(&vfb->base);
		return ERR_PTR(-EINVAL);
	}
	return &vfb->base;
}

/*
 * Primary plane.
 */

static struct vbridge_scanout *plane_to_scanout(struct drm_plane *plane)
{
	return container_of(plane, struct vbridge_scanout, primary);
}

static int vbridge_plane_atomic_check(struct drm_plane *plane,
				      struct drm_atomic_state *state)
{
	struct drm_plane_state *new = drm_atomic_get_new_plane_state(state,
								     plane);
	struct drm_crtc_state *crtc_state = NULL;

	if (new->crtc)
		crtc_state = drm_atomic_get_new_crtc_state(state, new->crtc);
	return drm_atomic_helper_check_plane_state(new, crtc_state,
						   DRM_PLANE_NO_SCALING,
						   DRM_PLANE_NO_SCALING,
						   false, true);
}

static int vbridge_plane_prepare_fb(struct drm_plane *plane,
				    struct drm_plane_state *state)
{
	int err;

	if (!state->fb)
		return 0;
	err = drm_gem_plane_helper_prepare_fb(plane, state);
	if (err)
		return err;
	return vbridge_fb_register(to_vbridge_kms(plane->dev),
				   to_vbridge_fb(state->fb));
}

static int vbridge_set_scanout(struct vbridge_scanout *sc, u32 id,
			       const struct drm_rect *src)
{
	struct vbridge_display_set_scanout_in in = {
		.scanout_id = cpu_to_le32(sc->index),
		.resource_id = cpu_to_le32(id),
	};
	int err;

	if (id) {
		in.rect.x = cpu_to_le32(src->x1);
		in.rect.y = cpu_to_le32(src->y1);
		in.rect.width = cpu_to_le32(drm_rect_width(src));
		in.rect.height = cpu_to_le32(drm_rect_height(src));
	}
	err = vbridge_kms_request(sc->kms, VBRIDGE_OP_DISPLAY_SET_SCANOUT,
				  &in, sizeof(in));
	if (err) {
		drm_err_ratelimited(&sc->kms->drm, "scanout %u: SET_SCANOUT %u failed: %d\n",
				    sc->index, id, err);
		return err;
	}
	sc->shown_id = id;
	sc->shown_src = *src;
	return 0;
}

static void vbridge_rect_put(struct vbridge_display_rect *r,
			     const struct drm_rect *clip)
{
	r->x = cpu_to_le32(clip->x1);
	r->y = cpu_to_le32(clip->y1);
	r->width = cpu_to_le32(drm_rect_width(clip));
	r->height = cpu_to_le32(drm_rect_height(clip));
}

/*
 * Background FLUSH done (or failed): the scanout is idle again.  In
 * interrupt context (vbridge_adev_request_async()).
 */
static void vbridge_flush_end(struct vbridge_dev *vb, void *data, int error,
			      const void *out, u32 out_actual)
{
	struct vbridge_scanout *sc = data;

	if (error)
		drm_err_ratelimited(&sc->kms->drm, "scanout %u: FLUSH failed: %d\n",
				    sc->index, error);
	complete_all(&sc->flush_idle);
}

/**
 * vbridge_scanout_flush_wait() - wait until the host took the last FLUSH
 * @sc: the scanout
 *
 * Not interruptible: a request on the ring is never abandoned, and the
 * core's watchdog fails a device that leaves it unanswered.
 */
void vbridge_scanout_flush_wait(struct vbridge_scanout *sc)
{
	wait_for_completion(&sc->flush_idle);
}

/*
 * FLUSH the damage of this update, in framebuffer coordinates, without
 * waiting for the host.  The scanout must be idle (the caller waited);
 * vbridge_flush_end() makes it idle again.
 */
static void vbridge_flush(struct vbridge_scanout *sc, u32 id,
			  struct drm_plane_state *old,
			  struct drm_plane_state *new)
{
	struct {
		struct vbridge_display_flush_in hdr;
		struct vbridge_display_rect rects[VBRIDGE_FLUSH_MAX_RECTS];
	} in = {};
	struct drm_atomic_helper_damage_iter iter;
	struct drm_rect clip, box;
	u32 n = 0;
	int err;

	drm_atomic_helper_damage_iter_init(&iter, old, new);
	drm_atomic_for_each_plane_damage(&iter, &clip) {
		if (n < VBRIDGE_FLUSH_MAX_RECTS)
			vbridge_rect_put(&in.rects[n], &clip);
		n++;
	}
	if (!n)
		return;
	if (n > VBRIDGE_FLUSH_MAX_RECTS) {
		if (!drm_atomic_helper_damage_merged(old, new, &box))
			return;
		vbridge_rect_put(&in.rects[0], &box);
		n = 1;
	}
	in.hdr.resource_id = cpu_to_le32(id);
	in.hdr.nr_rects = cpu_to_le32(n);
	reinit_completion(&sc->flush_idle);
	err = vbridge_adev_request_async(sc->kms->vadev,
					 VBRIDGE_OP_DISPLAY_FLUSH, &in,
					 sizeof(in.hdr) + n * sizeof(in.rects[0]),
					 vbridge_flush_end, sc);
	if (err)
		vbridge_flush_end(NULL, sc, err, NULL, 0);
}

static void vbridge_plane_atomic_update(struct drm_plane *plane,
					struct drm_atomic_state *state)
{
	struct drm_plane_state *old = drm_atomic_get_old_plane_state(state,
								     plane);
	struct drm_plane_state *new = drm_atomic_get_new_plane_state(state,
								     plane);
	struct vbridge_scanout *sc = plane_to_scanout(plane);
	struct vbridge_kms *kms = sc->kms;
	struct drm_rect src;
	struct vbridge_fb *vfb;
	int idx;

	/* Even when unplugged: remove waits for it through here too. */
	vbridge_scanout_flush_wait(sc);
	if (!drm_dev_enter(plane->dev, &idx))
		return;
	if (!new->fb || !new->visible) {
		if (sc->shown_id)
			vbridge_set_scanout(sc, 0, &new->src);
		goto out;
	}

	vfb = to_vbridge_fb(new->fb);
	/* prepare_fb registered it, unless the device was reset since. */
	if (READ_ONCE(vfb->host_gen) != atomic_read(&kms->gen))
		goto out;
	/* Bounce buffers, if any, get what the CPU wrote. */
	if (vfb->sgt)
		dma_sync_sgtable_for_device(vbridge_dma_dev(kms), vfb->sgt,
					    DMA_TO_DEVICE);
	src = drm_plane_state_src(new);
	drm_rect_fp_to_int(&src, &src);
	if ((vfb->id != sc->shown_id || !drm_rect_equals(&src, &sc->shown_src)) &&
	    vbridge_set_scanout(sc, vfb->id, &src))
		goto out;
	vbridge_flush(sc, vfb->id, old, new);
out:
	drm_dev_exit(idx);
}

static const struct drm_plane_helper_funcs vbridge_plane_helper_funcs = {
	.prepare_fb = vbridge_plane_prepare_fb,
	.atomic_check = vbridge_plane_atomic_check,
	.atomic_update = vbridge_plane_atomic_update,
};

static const struct drm_plane_funcs vbridge_plane_funcs = {
	.update_plane = drm_atomic_helper_update_plane,
	.disable_plane = drm_atomic_helper_disable_plane,
	.reset = drm_atomic_helper_plane_reset,
	.atomic_duplicate_state = drm_atomic_helper_plane_duplicate_state,
	.atomic_destroy_state = drm_atomic_helper_plane_destroy_state,
	.destroy = drm_plane_cleanup,
};

/* The primary plane of @sc, before its CRTC. */
int vbridge_plane_init(struct vbridge_scanout *sc)
{
	struct drm_plane *plane = &sc->primary;
	int err;

	err = drm_universal_plane_init(&sc->kms->drm, plane,
				       BIT(sc->index), &vbridge_plane_funcs,
				       vbridge_plane_formats,
				       ARRAY_SIZE(vbridge_plane_formats),
				       NULL,
				       DRM_PLANE_TYPE_PRIMARY, NULL);
	if (err)
		return err;
	drm_plane_helper_add(plane, &vbridge_plane_helper_funcs);
	drm_plane_enable_fb_damage_clips(plane);
	return 0;
}
