// SPDX-License-Identifier: MIT
/*
 * Inflight I/O tracking for the device side of a split ring (vhost-user's
 * INFLIGHT_SHMFD; docs/interop/vhost-user.rst and, for the algorithm,
 * libvhost-user's vu_check_queue_inflights). The front end keeps the
 * region across a restart of the back end; the back end marks a chain
 * when it takes it and clears the mark once the chain's used element is
 * published. A back end that starts with a region that was in use:
 *  - clears the marks of chains whose used elements were published before
 *    the old back end died (the region's used_idx lags used->idx; unlike
 *    libvhost-user, which completes one element per index update and so
 *    fixes only last_batch_head, every element between the two indices
 *    is looked at, since uvdpa publishes batches);
 *  - takes the marked chains again, oldest first, before new ones;
 *  - continues at used->idx plus their number, whatever base the front
 *    end set (it cannot know how far the dead back end got).
 * The region is driver memory: every head and count read from it is
 * bounded by the queue size; a chain it names is mapped and checked like
 * any other.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>
#include <uvdpa/virtqueue.h>

#include "virtio/vring_internal.h"

#define VQ_INFLIGHT_VERSION 1

/* A marked chain, its counter copied out of the front end's memory. */
struct vq_marked {
	uint64_t counter;
	uint16_t head;
};

/* The region may change under us: sort copies, never the region. */
static int cmp_counter(const void *a, const void *b)
{
	uint64_t ca = ((const struct vq_marked *)a)->counter;
	uint64_t cb = ((const struct vq_marked *)b)->counter;

	return ca < cb ? -1 : ca > cb;
}

/* Clear the marks of chains published in used[from..to). */
static void vq_inflight_clear_used(struct vq_dev *vq, uint16_t from,
				   uint16_t to)
{
	struct vq_inflight_split *r = vq->inflight;
	unsigned int n = (uint16_t)(to - from);

	if (n > vq->num)
		n = vq->num; /* a hostile region: no more than a ring */
	for (unsigned int i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)(from + i) & (vq->num - 1);
		uint32_t head = le32toh(READ_ONCE(vq->used->ring[slot].id));

		if (head < vq->num)
			r->desc[head].inflight = 0;
	}
}

/* The marked heads, oldest first, into vq->resubmit. */
static int vq_inflight_collect(struct vq_dev *vq)
{
	struct vq_inflight_split *r = vq->inflight;
	struct vq_marked *m = NULL;
	uint64_t max = 0;
	uint16_t n = 0;

	free(vq->resubmit);
	vq->resubmit = NULL;
	vq->resubmit_num = vq->resubmit_pos = 0;
	for (uint32_t i = 0; i < vq->num; i++) {
		if (!READ_ONCE(r->desc[i].inflight))
			continue;
		if (!m && !(m = malloc(vq->num * sizeof(*m))))
			return -ENOMEM;
		m[n].head = (uint16_t)i;
		m[n].counter = READ_ONCE(r->desc[i].counter);
		if (m[n].counter > max)
			max = m[n].counter;
		n++;
	}
	vq->counter = max + 1;
	if (!n)
		return 0;
	qsort(m, n, sizeof(*m), cmp_counter);
	vq->resubmit = malloc(n * sizeof(uint16_t));
	if (!vq->resubmit) {
		free(m);
		return -ENOMEM;
	}
	for (uint16_t k = 0; k < n; k++)
		vq->resubmit[k] = m[k].head;
	vq->resubmit_num = n;
	free(m);
	return 0;
}

int vq_inflight_start(struct vq_dev *vq, struct vq_inflight_split *r)
{
	uint16_t used = le16toh(READ_ONCE(vq->used->idx));
	int ret;

	vq->inflight = r;
	if (r->version != VQ_INFLIGHT_VERSION) {
		/* a new region (zeroed by whoever made it): nothing in flight */
		memset(r->desc, 0, vq->num * sizeof(r->desc[0]));
		r->desc_num = (uint16_t)vq->num;
		r->used_idx = used;
		r->version = VQ_INFLIGHT_VERSION;
		vq->counter = 1;
		return 0;
	}
	if (r->desc_num != vq->num)
		return vq_break(vq, "inflight region is for another queue "
				    "size");
	vq_inflight_clear_used(vq, r->used_idx, used);
	r->used_idx = used;
	ret = vq_inflight_collect(vq);
	if (ret)
		return ret;
	vq->last_avail_idx = (uint16_t)(used + vq->resubmit_num);
	vq->shadow_avail_idx = vq->last_avail_idx;
	vq->used_idx = vq->flushed_used_idx = vq->signalled_used = used;
	return 0;
}

void vq_inflight_take(struct vq_dev *vq, uint16_t head)
{
	struct vq_inflight_desc *d = &vq->inflight->desc[head];

	d->counter = vq->counter++;
	d->inflight = 1;
}

void vq_inflight_untake(struct vq_dev *vq, uint16_t head)
{
	vq->inflight->desc[head].inflight = 0;
}

void vq_inflight_published(struct vq_dev *vq, uint16_t from, uint16_t to)
{
	vq_inflight_clear_used(vq, from, to);
	vq->inflight->used_idx = to;
}

void vq_inflight_release(struct vq_dev *vq)
{
	free(vq->resubmit);
	vq->resubmit = NULL;
	vq->resubmit_num = vq->resubmit_pos = 0;
	vq->inflight = NULL;
}
