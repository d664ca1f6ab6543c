// SPDX-License-Identifier: MIT
/*
 * Driver side of the split virtqueue: the same job as Linux's
 * drivers/virtio/virtio_ring.c, for tests, benchmarks and the virtio bus.
 * Free descriptors are chained through their next fields, so a direct
 * chain is laid out by following the free list.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>
#include <uvdpa/uapi.h>
#include <uvdpa/virtqueue.h>
#include <uvdpa/virtqueue_drv.h>

#define VQ_DRV_ALIGN 64 /* keep the areas on separate cache lines */

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static size_t vq_drv_used_off(uint32_t num)
{
	return align_up(16 * (size_t)num + 6 + 2 * (size_t)num, VQ_DRV_ALIGN);
}

static size_t vq_drv_ind_off(uint32_t num)
{
	return align_up(vq_drv_used_off(num) + 6 + 8 * (size_t)num,
			VQ_DRV_ALIGN);
}

size_t vq_drv_mem_size(uint32_t num, uint16_t ind_max)
{
	return vq_drv_ind_off(num) + (size_t)num * ind_max * 16;
}

int vq_drv_init(struct vq_drv *vq, uint32_t num, uint64_t features, void *mem,
		uint64_t mem_iova, uint16_t ind_max)
{
	char *base = mem;

	if (!is_power_of_2(num) || num > VQ_MAX_SIZE)
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
	memset(mem, 0, vq_drv_mem_size(num, ind_max));
	vq->num = num;
	vq->event_idx = features & BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = (features & BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC)) &&
		       ind_max > 1;
	vq->ind_max = vq->indirect ? ind_max : 0;
	vq->desc = (struct vring_desc *)base;
	vq->avail = (struct vring_avail *)(base + 16 * (size_t)num);
	vq->used = (struct vring_used *)(base + vq_drv_used_off(num));
	vq->ind = (struct vring_desc *)(base + vq_drv_ind_off(num));
	vq->desc_iova = mem_iova;
	vq->avail_iova = mem_iova + 16 * (uint64_t)num;
	vq->used_iova = mem_iova + vq_drv_used_off(num);
	vq->ind_iova = mem_iova + vq_drv_ind_off(num);
	vq->token = calloc(num, sizeof(*vq->token));
	vq->chain_len = calloc(num, sizeof(*vq->chain_len));
	if (!vq->token || !vq->chain_len) {
		vq_drv_release(vq);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < num; i++)
		vq->desc[i].next = htole16((uint16_t)((i + 1) & (num - 1)));
	vq->num_free = num;
	return 0;
}

void vq_drv_release(struct vq_drv *vq)
{
	free(vq->token);
	free(vq->chain_len);
	vq->token = NULL;
	vq->chain_len = NULL;
}

static void vq_drv_fill(struct vring_desc *d, const struct vq_buf *b,
			bool write, bool next)
{
	d->addr = htole64(b->iova);
	d->len = htole32(b->len);
	d->flags = htole16((write ? VRING_DESC_F_WRITE : 0) |
			   (next ? VRING_DESC_F_NEXT : 0));
}

static uint16_t vq_drv_add_indirect(struct vq_drv *vq,
				    const struct vq_buf *bufs, unsigned int out,
				    unsigned int total)
{
	uint16_t head = vq->free_head;
	struct vring_desc *table = vq->ind + (size_t)head * vq->ind_max;

	for (unsigned int k = 0; k < total; k++) {
		vq_drv_fill(&table[k], &bufs[k], k >= out, k + 1 < total);
		table[k].next = htole16((uint16_t)(k + 1));
	}
	vq->free_head = le16toh(vq->desc[head].next);
	vq->desc[head].addr =
		htole64(vq->ind_iova + (uint64_t)head * vq->ind_max * 16);
	vq->desc[head].len = htole32(total * 16);
	vq->desc[head].flags = htole16(VRING_DESC_F_INDIRECT);
	vq->chain_len[head] = 1;
	return head;
}

static uint16_t vq_drv_add_direct(struct vq_drv *vq, const struct vq_buf *bufs,
				  unsigned int out, unsigned int total)
{
	uint16_t head = vq->free_head, i = head;

	for (unsigned int k = 0; k < total; k++) {
		vq_drv_fill(&vq->desc[i], &bufs[k], k >= out, k + 1 < total);
		/* next already links the free list: the chain follows it */
		i = le16toh(vq->desc[i].next);
	}
	vq->free_head = i;
	vq->chain_len[head] = (uint16_t)total;
	return head;
}

int vq_drv_add(struct vq_drv *vq, const struct vq_buf *bufs, unsigned int out,
	       unsigned int in, void *token)
{
	unsigned int total = out + in;
	bool ind;
	uint16_t head;

	if (total == 0 || !token)
		return -EINVAL;
	ind = vq->indirect && total > 1 && total <= vq->ind_max;
	if (vq->num_free < (ind ? 1 : total))
		return -ENOSPC;
	if (ind)
		head = vq_drv_add_indirect(vq, bufs, out, total);
	else
		head = vq_drv_add_direct(vq, bufs, out, total);
	vq->num_free -= vq->chain_len[head];
	vq->token[head] = token;
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = htole16(head);
	vq->avail_idx++;
	return 0;
}

bool vq_drv_kick_prepare(struct vq_drv *vq)
{
	uint16_t old = vq->kicked_idx, new = vq->avail_idx;
	uint16_t event;

	if (old == new)
		return false;
	/* Descriptors and ring entries before the index that publishes them. */
	store_release(&vq->avail->idx, htole16(new));
	vq->kicked_idx = new;
	/* The index before the device's suppression state. */
	smp_mb();
	if (!vq->event_idx)
		return !(le16toh(READ_ONCE(vq->used->flags)) &
			 VRING_USED_F_NO_NOTIFY);
	event = le16toh(READ_ONCE(*(uint16_t *)&vq->used->ring[vq->num]));
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

static void vq_drv_free_chain(struct vq_drv *vq, uint16_t head)
{
	uint16_t last = head;

	for (uint16_t k = 1; k < vq->chain_len[head]; k++)
		last = le16toh(vq->desc[last].next);
	vq->desc[last].next = htole16(vq->free_head);
	vq->free_head = head;
	vq->num_free += vq->chain_len[head];
	vq->token[head] = NULL;
}

void *vq_drv_get_used(struct vq_drv *vq, uint32_t *len)
{
	uint16_t used_idx = le16toh(load_acquire(&vq->used->idx));
	struct vring_used_elem *u;
	uint32_t id;
	void *token;

	if (used_idx == vq->last_used_idx)
		return NULL;
	u = &vq->used->ring[vq->last_used_idx & (vq->num - 1)];
	id = le32toh(READ_ONCE(u->id));
	if (id >= vq->num || !vq->token[id])
		return NULL; /* a device bug: leave the entry for debugging */
	if (len)
		*len = le32toh(READ_ONCE(u->len));
	vq->last_used_idx++;
	token = vq->token[id];
	vq_drv_free_chain(vq, (uint16_t)id);
	if (vq->event_idx && !(vq->avail_flags & VRING_AVAIL_F_NO_INTERRUPT)) {
		WRITE_ONCE(vq->avail->ring[vq->num],
			   htole16(vq->last_used_idx));
		/*
		 * virtio_store_mb(), as Linux: the device must see the new
		 * used_event before we look for more used entries, or an entry
		 * it adds meanwhile raises no interrupt and is never seen.
		 */
		smp_mb();
	}
	return token;
}

bool vq_drv_has_used(const struct vq_drv *vq)
{
	return le16toh(load_acquire(&vq->used->idx)) != vq->last_used_idx;
}

void vq_drv_disable_cb(struct vq_drv *vq)
{
	vq->avail_flags = VRING_AVAIL_F_NO_INTERRUPT;
	/*
	 * With EVENT_IDX the driver must leave flags at 0 (virtio 1.2
	 * 2.7.7.1): used_event is parked half a ring away instead.
	 */
	if (vq->event_idx)
		WRITE_ONCE(vq->avail->ring[vq->num],
			   htole16((uint16_t)(vq->last_used_idx + 0x8000)));
	else
		WRITE_ONCE(vq->avail->flags,
			   htole16(VRING_AVAIL_F_NO_INTERRUPT));
}

bool vq_drv_enable_cb(struct vq_drv *vq)
{
	vq->avail_flags = 0;
	if (vq->event_idx)
		WRITE_ONCE(vq->avail->ring[vq->num],
			   htole16(vq->last_used_idx));
	else
		WRITE_ONCE(vq->avail->flags, 0);
	smp_mb();
	return le16toh(load_acquire(&vq->used->idx)) == vq->last_used_idx;
}
