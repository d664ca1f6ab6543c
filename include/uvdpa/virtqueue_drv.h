/* SPDX-License-Identifier: MIT */
/*
 * Driver side of a split virtqueue: what a virtio driver uses to hand
 * buffers to a device. Used by tests, benchmarks and the virtio bus.
 *
 * The ring and the indirect tables live in one memory area the caller
 * provides, which the device reaches through its map: @mem is where this
 * process sees it, @mem_iova where the device's map puts it. Buffers are
 * given as iovas too.
 *
 * A queue is used by one thread at a time.
 */
#ifndef UVDPA_VIRTQUEUE_DRV_H
#define UVDPA_VIRTQUEUE_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

struct vq_buf {
	uint64_t iova;
	uint32_t len;
};

struct vq_drv {
	uint32_t num;
	bool event_idx;
	bool indirect; /* use an indirect table for chains of 2+ buffers */
	uint16_t ind_max; /* entries per indirect table */

	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vring_desc *ind; /* num tables of ind_max entries */
	uint64_t desc_iova, avail_iova, used_iova, ind_iova;

	uint16_t free_head; /* free descriptors chained through next */
	uint32_t num_free;
	uint16_t avail_idx; /* shadow of avail->idx, published on kick */
	uint16_t kicked_idx; /* avail->idx at the last kick decision */
	uint16_t last_used_idx; /* next used entry to collect */
	uint16_t avail_flags; /* VRING_AVAIL_F_*, in the ring w/o EVENT_IDX */

	void **token; /* per head: the caller's token, NULL when free */
	uint16_t *chain_len; /* per head: descriptors in the chain */
};

/* Bytes of memory vq_drv_init() needs for @num entries. */
size_t vq_drv_mem_size(uint32_t num, uint16_t ind_max);

/*
 * Lay the ring out in @mem. @features: EVENT_IDX and INDIRECT_DESC are
 * used when set. @ind_max 0 disables indirect tables. Returns -EINVAL for
 * a size that is not a power of two up to 32768, -ENOMEM.
 */
int vq_drv_init(struct vq_drv *vq, uint32_t num, uint64_t features, void *mem,
		uint64_t mem_iova, uint16_t ind_max);
void vq_drv_release(struct vq_drv *vq);

/*
 * Add a chain of @out device-readable then @in device-writable buffers.
 * @token (not NULL) comes back from vq_drv_get_used(). Returns -ENOSPC when
 * the ring is full, -EINVAL for an empty chain.
 */
int vq_drv_add(struct vq_drv *vq, const struct vq_buf *bufs, unsigned int out,
	       unsigned int in, void *token);

/* Publish added chains; returns true when the device wants a kick. */
bool vq_drv_kick_prepare(struct vq_drv *vq);

/* The next used chain's token and written length, or NULL. */
void *vq_drv_get_used(struct vq_drv *vq, uint32_t *len);

/* True when the device has used chains not yet collected (no side effect). */
bool vq_drv_has_used(const struct vq_drv *vq);

/* Ask the device not to notify. */
void vq_drv_disable_cb(struct vq_drv *vq);
/* Ask for notifications again; false when used chains are pending. */
bool vq_drv_enable_cb(struct vq_drv *vq);

static inline uint32_t vq_drv_num_free(const struct vq_drv *vq)
{
	return vq->num_free;
}

#endif
