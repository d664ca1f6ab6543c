// SPDX-License-Identifier: MIT
/*
 * Device side of the split virtqueue (virtio 1.x §2.7).
 *
 * The driver owns the ring memory and may change it at any time, so every
 * value is read once into a local, checked, and only then used: indices
 * against the ring size, descriptors against the map, chains against loops.
 * A violation breaks the queue instead of crashing or reaching outside the
 * map; the parent turns that into VIRTIO_CONFIG_S_NEEDS_RESET.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>
#include <uvdpa/uapi.h>
#include <uvdpa/virtqueue.h>

#include "virtio/vring_internal.h"

/* Most segments an indirect table may be split into across map ranges. */
#define VQ_BOUNCE_IOV 64

int vq_break(struct vq_dev *vq, const char *reason)
{
	if (!vq->broken) {
		vq->broken = true;
		vq->broken_reason = reason;
	}
	return -EIO;
}

static size_t vq_avail_size(uint32_t num, bool event_idx)
{
	return 4 + 2 * (size_t)num + (event_idx ? 2 : 0);
}

static size_t vq_used_size(uint32_t num, bool event_idx)
{
	return 4 + 8 * (size_t)num + (event_idx ? 2 : 0);
}

static int vq_map_rings(struct vq_dev *vq, const struct vq_config *cfg)
{
	const struct vdpa_iotlb *tlb = cfg->iotlb;

	if ((cfg->desc_addr & 15) || (cfg->driver_addr & 1) ||
	    (cfg->device_addr & 3)) {
		vq_break(vq, "ring area misaligned");
		return -EFAULT;
	}
	vq->desc = vdpa_iotlb_ptr(tlb, cfg->desc_addr, 16 * (size_t)vq->num,
				  VDPA_PERM_READ, NULL);
	vq->avail = vdpa_iotlb_ptr(tlb, cfg->driver_addr,
				   vq_avail_size(vq->num, vq->event_idx),
				   VDPA_PERM_READ, NULL);
	vq->used = vdpa_iotlb_ptr(tlb, cfg->device_addr,
				  vq_used_size(vq->num, vq->event_idx),
				  VDPA_PERM_WRITE, NULL);
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		vq_break(vq, "ring area not mapped in one range");
		return -EFAULT;
	}
	/*
	 * A map may put an aligned iova at an unaligned host address; the
	 * rings are read as C structs, so that would be undefined behaviour.
	 */
	if (((uintptr_t)vq->desc & 15) || ((uintptr_t)vq->avail & 1) ||
	    ((uintptr_t)vq->used & 3)) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		vq_break(vq, "ring area misaligned in host memory");
		return -EFAULT;
	}
	vq->used_event = &vq->avail->ring[vq->num];
	vq->avail_event = (uint16_t *)&vq->used->ring[vq->num];
	return 0;
}

int vq_dev_init(struct vq_dev *vq, const struct vq_config *cfg)
{
	vq_dev_forget(vq);
	vq->num = cfg->num;
	vq->iotlb = cfg->iotlb;
	vq->event_idx = cfg->features & BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = cfg->features & BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	if (!is_power_of_2(cfg->num) || cfg->num > VQ_MAX_SIZE) {
		vq_break(vq, "queue size not a power of two up to 32768");
		return -EINVAL;
	}
	if (cfg->features & BIT_ULL(VIRTIO_F_RING_PACKED)) {
		vq_break(vq, "packed ring not supported");
		return -EINVAL;
	}
	if (!cfg->iotlb) {
		vq_break(vq, "no memory map");
		return -EFAULT;
	}
	if (vq_map_rings(vq, cfg))
		return -EFAULT;
	vq->last_avail_idx = cfg->avail_idx;
	vq->shadow_avail_idx = cfg->avail_idx;
	/* The used index restarts where the avail state says (kernel vringh). */
	vq->used_idx = cfg->avail_idx;
	vq->flushed_used_idx = cfg->avail_idx;
	vq->signalled_used = cfg->avail_idx;
	if (cfg->inflight && vq_inflight_start(vq, cfg->inflight))
		return -EIO;
	vq_dev_enable_notify(vq);
	return 0;
}

void vq_dev_forget(struct vq_dev *vq)
{
	struct vring_desc *bounce = vq->bounce;

	vq_inflight_release(vq);
	memset(vq, 0, sizeof(*vq));
	vq->bounce = bounce;
}

void vq_dev_release(struct vq_dev *vq)
{
	vq_inflight_release(vq);
	free(vq->bounce);
	memset(vq, 0, sizeof(*vq));
}

/* Read avail->idx and check how far it moved. */
static int vq_read_avail_idx(struct vq_dev *vq)
{
	uint16_t idx = le16toh(load_acquire(&vq->avail->idx));

	if ((uint16_t)(idx - vq->last_avail_idx) > vq->num)
		return vq_break(vq, "avail index moved by more than the size");
	vq->shadow_avail_idx = idx;
	return 0;
}

bool vq_dev_has_avail(struct vq_dev *vq)
{
	if (vq->broken || !vq->avail)
		return vq->broken;
	if (vq->shadow_avail_idx != vq->last_avail_idx)
		return true;
	if (vq_read_avail_idx(vq))
		return true; /* let the next pop report it */
	return vq->shadow_avail_idx != vq->last_avail_idx;
}

/* An indirect table the map splits in pieces: copy it whole. */
static const struct vring_desc *vq_bounce_table(struct vq_dev *vq,
						uint64_t addr, uint32_t len)
{
	struct iovec iov[VQ_BOUNCE_IOV];
	int n;

	n = vdpa_iotlb_translate(vq->iotlb, addr, len, VDPA_PERM_READ, iov,
				 VQ_BOUNCE_IOV, &vq->hint);
	if (n < 0)
		return NULL;
	if (!vq->bounce) {
		vq->bounce = malloc(VQ_MAX_SIZE * sizeof(struct vring_desc));
		if (!vq->bounce)
			return NULL;
	}
	vq_iov_to_buf(iov, (unsigned int)n, 0, vq->bounce, len);
	return vq->bounce;
}

struct vq_walk {
	const struct vring_desc *table;
	uint32_t tnum; /* entries in table */
	uint32_t count; /* descriptors walked in table */
	bool in_indirect;
	bool seen_write;
	unsigned int niov;
};

static int vq_enter_indirect(struct vq_dev *vq, struct vq_walk *w,
			     uint64_t addr, uint32_t len, uint16_t flags)
{
	const struct vring_desc *table;

	if (!vq->indirect)
		return vq_break(vq, "indirect descriptor not negotiated");
	if (w->in_indirect)
		return vq_break(vq, "indirect table inside an indirect table");
	if (flags & VRING_DESC_F_NEXT)
		return vq_break(vq, "indirect descriptor with NEXT");
	if (len == 0 || len % sizeof(struct vring_desc) ||
	    len / sizeof(struct vring_desc) > VQ_MAX_SIZE)
		return vq_break(vq, "indirect table length not a multiple of "
				    "16 up to 32768 entries");
	table = vdpa_iotlb_ptr(vq->iotlb, addr, len, VDPA_PERM_READ, &vq->hint);
	/*
	 * The spec sets no alignment for indirect tables, but reading one in
	 * place as struct vring_desc needs it: copy unaligned ones too.
	 */
	if (!table || ((uintptr_t)table & (_Alignof(struct vring_desc) - 1)))
		table = vq_bounce_table(vq, addr, len);
	if (!table)
		return vq_break(vq, "indirect table not mapped");
	w->table = table;
	w->tnum = len / sizeof(struct vring_desc);
	w->count = 0;
	w->in_indirect = true;
	return 0;
}

static int vq_add_buffer(struct vq_dev *vq, struct vq_walk *w,
			 struct vq_elem *e, uint64_t addr, uint32_t len,
			 uint16_t flags, unsigned int cap)
{
	bool write = flags & VRING_DESC_F_WRITE;
	void *hva;
	int n;

	if (!write && w->seen_write)
		return vq_break(vq, "readable descriptor after a writable one");
	w->seen_write |= write;
	hva = vdpa_iotlb_hint_ptr(vq->iotlb, &vq->hint, addr, len,
				  write ? VDPA_PERM_WRITE : VDPA_PERM_READ);
	if (hva && w->niov < cap) {
		e->iov[w->niov].iov_base = hva;
		e->iov[w->niov].iov_len = len;
		n = 1;
	} else {
		n = vdpa_iotlb_translate(
			vq->iotlb, addr, len,
			write ? VDPA_PERM_WRITE : VDPA_PERM_READ,
			e->iov + w->niov, cap - w->niov, &vq->hint);
	}
	if (n == -ENOBUFS)
		return n;
	if (n < 0)
		return vq_break(vq, write ? "buffer not mapped writable"
					  : "buffer not mapped readable");
	w->niov += (unsigned int)n;
	if (write) {
		e->in_num += (uint16_t)n;
		e->in_len += len;
	} else {
		e->out_num += (uint16_t)n;
		e->out_len += len;
	}
	return 0;
}

/* Walk the chain at @head into @e; -ENOBUFS when @cap iovecs are too few. */
static int vq_map_chain(struct vq_dev *vq, uint16_t head, struct vq_elem *e,
			unsigned int cap)
{
	struct vq_walk w = { .table = vq->desc, .tnum = vq->num };
	uint16_t i = head;
	int ret;

	if (head >= vq->num)
		return vq_break(vq, "avail entry beyond the descriptor table");
	e->id = head;
	e->ndesc = 0;
	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		const struct vring_desc *d = &w.table[i];
		uint64_t addr = le64toh(READ_ONCE(d->addr));
		uint32_t len = le32toh(READ_ONCE(d->len));
		uint16_t flags = le16toh(READ_ONCE(d->flags));
		uint16_t next = le16toh(READ_ONCE(d->next));

		if (++w.count > w.tnum)
			return vq_break(vq, "descriptor loop or chain longer "
					    "than its table");
		if (!w.in_indirect)
			e->ndesc++;
		if (flags & VRING_DESC_F_INDIRECT) {
			ret = vq_enter_indirect(vq, &w, addr, len, flags);
			if (ret)
				return ret;
			i = 0;
			continue;
		}
		ret = vq_add_buffer(vq, &w, e, addr, len, flags, cap);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = next;
		if (i >= w.tnum)
			return vq_break(vq, "next descriptor beyond its table");
	}
}

/* Map the chain at @head into @e, its iovecs at @iov (@cap at most). */
static int vq_take(struct vq_dev *vq, uint16_t head, struct vq_elem *e,
		   struct iovec *iov, unsigned int cap)
{
	/* Also keeps out_num and in_num from overflowing. */
	if (cap > VQ_MAX_CHAIN_IOV)
		cap = VQ_MAX_CHAIN_IOV;
	e->iov = iov;
	return vq_map_chain(vq, head, e, cap);
}

/* A chain that did not fit the iovec arena: next time, or broken. */
static int vq_take_failed(struct vq_dev *vq, int ret, unsigned int n,
			  unsigned int cap)
{
	if (ret == -ENOBUFS && n > 0 && cap < VQ_MAX_CHAIN_IOV)
		return 0; /* the rest of the arena is too small: next time */
	if (ret == -ENOBUFS)
		ret = vq_break(vq, "chain needs more segments than "
				   "the device takes");
	return ret;
}

/* Chains a restarted back end found in flight come first. */
static int vq_pop_resubmit(struct vq_dev *vq, struct vq_elem *elems,
			   unsigned int max, struct iovec *iov,
			   unsigned int iov_cap, unsigned int *used_iov)
{
	unsigned int n;

	for (n = 0; n < max && vq->resubmit_pos < vq->resubmit_num; n++) {
		unsigned int cap = iov_cap - *used_iov;
		int ret = vq_take(vq, vq->resubmit[vq->resubmit_pos], &elems[n],
				  iov + *used_iov, cap);

		if (ret) {
			ret = vq_take_failed(vq, ret, n, cap);
			return ret ? (n ? (int)n : ret) : (int)n;
		}
		*used_iov += elems[n].out_num + elems[n].in_num;
		vq->resubmit_pos++;
	}
	return (int)n;
}

int vq_dev_pop_batch(struct vq_dev *vq, struct vq_elem *elems, unsigned int max,
		     struct iovec *iov, unsigned int iov_cap)
{
	unsigned int n, avail, used_iov = 0, first = 0;

	if (vq->broken)
		return -EIO;
	vq->last_pop_resubmit = vq->last_pop_avail = 0;
	if (unlikely(vq->resubmit_pos < vq->resubmit_num)) {
		int ret = vq_pop_resubmit(vq, elems, max, iov, iov_cap,
					  &used_iov);

		if (ret < 0)
			return ret;
		vq->last_pop_resubmit = (uint16_t)ret;
		if (!ret || (unsigned int)ret == max || vq->broken)
			return ret;
		first = (unsigned int)ret;
	}
	avail = (uint16_t)(vq->shadow_avail_idx - vq->last_avail_idx);
	/* The shadow may be stale: look again before taking fewer than asked. */
	if (avail < max - first) {
		if (vq_read_avail_idx(vq))
			return first ? (int)first : -EIO;
		avail = (uint16_t)(vq->shadow_avail_idx - vq->last_avail_idx);
	}
	if (max - first > avail)
		max = first + avail;
	for (n = first; n < max; n++) {
		uint16_t slot = vq->last_avail_idx & (vq->num - 1);
		uint16_t head = le16toh(READ_ONCE(vq->avail->ring[slot]));
		unsigned int cap = iov_cap - used_iov;
		int ret = vq_take(vq, head, &elems[n], iov + used_iov, cap);

		if (ret) {
			ret = vq_take_failed(vq, ret, n, cap);
			if (!ret)
				break;
			return n ? (int)n : ret;
		}
		if (vq->inflight)
			vq_inflight_take(vq, head);
		used_iov += elems[n].out_num + elems[n].in_num;
		vq->last_avail_idx++;
		vq->last_pop_avail++;
	}
	return (int)n;
}

void vq_dev_unpop(struct vq_dev *vq, unsigned int n)
{
	/* a pop takes resubmitted chains first, so they go back last */
	unsigned int from_resubmit =
		n > vq->last_pop_avail ? n - vq->last_pop_avail : 0;
	unsigned int from_avail;

	if (from_resubmit > vq->last_pop_resubmit)
		from_resubmit = vq->last_pop_resubmit;
	from_avail = n - from_resubmit;
	if (vq->inflight) {
		for (unsigned int i = 1; i <= from_avail; i++) {
			uint16_t slot = (uint16_t)(vq->last_avail_idx - i) &
					(vq->num - 1);
			uint16_t head =
				le16toh(READ_ONCE(vq->avail->ring[slot]));

			if (head < vq->num)
				vq_inflight_untake(vq, head);
		}
	}
	vq->last_avail_idx -= (uint16_t)from_avail;
	vq->resubmit_pos -= (uint16_t)from_resubmit;
	vq->last_pop_avail = vq->last_pop_resubmit = 0;
}

void vq_dev_push(struct vq_dev *vq, const struct vq_elem *elem, uint32_t len)
{
	struct vring_used_elem *u;

	if (unlikely(!vq->used))
		return;
	u = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	WRITE_ONCE(u->id, htole32(elem->id));
	WRITE_ONCE(u->len, htole32(len));
	vq->used_idx++;
}

static bool vq_need_notify(struct vq_dev *vq)
{
	uint16_t old, event;
	bool valid;

	/* Publish used->idx before reading the driver's suppression state. */
	smp_mb();
	if (!vq->event_idx)
		return !(le16toh(READ_ONCE(vq->avail->flags)) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	event = le16toh(READ_ONCE(*vq->used_event));
	return (uint16_t)(vq->used_idx - event - 1) <
	       (uint16_t)(vq->used_idx - old);
}

bool vq_dev_flush(struct vq_dev *vq)
{
	if (unlikely(!vq->used))
		return false;
	uint16_t from = vq->flushed_used_idx;

	if (vq->flushed_used_idx == vq->used_idx)
		return false;
	vq->flushed_used_idx = vq->used_idx;
	store_release(&vq->used->idx, htole16(vq->used_idx));
	if (vq->inflight)
		vq_inflight_published(vq, from, vq->used_idx);
	return vq_need_notify(vq);
}

bool vq_dev_complete_batch(struct vq_dev *vq, const struct vq_elem *elems,
			   const uint32_t *lens, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		vq_dev_push(vq, &elems[i], lens[i]);
	return vq_dev_flush(vq);
}

void vq_dev_disable_notify(struct vq_dev *vq)
{
	if (!vq->used || !vq->notify_enabled)
		return;
	vq->notify_enabled = false;
	/* With EVENT_IDX, leaving avail_event behind is what suppresses. */
	if (!vq->event_idx)
		WRITE_ONCE(vq->used->flags, htole16(VRING_USED_F_NO_NOTIFY));
}

bool vq_dev_enable_notify(struct vq_dev *vq)
{
	if (!vq->used)
		return false;
	vq->notify_enabled = true;
	if (vq->event_idx)
		WRITE_ONCE(*vq->avail_event, htole16(vq->shadow_avail_idx));
	else
		WRITE_ONCE(vq->used->flags, 0);
	/* The driver may have added chains before it saw the change. */
	smp_mb();
	return vq_dev_has_avail(vq);
}
