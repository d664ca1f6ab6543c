// SPDX-License-Identifier: MIT
/*
 * The device memory map: a sorted array of disjoint ranges, searched by
 * bisection with a per-reader last-hit shortcut. Maps change rarely (a
 * vhost-user memory table holds at most 509 regions) and are read on every
 * descriptor, so a flat array beats a tree here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/iotlb.h>

void vdpa_iotlb_init(struct vdpa_iotlb *tlb, unsigned int limit)
{
	memset(tlb, 0, sizeof(*tlb));
	tlb->limit = limit;
}

void vdpa_iotlb_clear(struct vdpa_iotlb *tlb)
{
	free(tlb->ranges);
	tlb->ranges = NULL;
	tlb->nr = 0;
	tlb->cap = 0;
}

/* Index of the first range whose last >= iova (nr when none). */
static unsigned int iotlb_lower_bound(const struct vdpa_iotlb *tlb,
				      uint64_t iova)
{
	unsigned int lo = 0, hi = tlb->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (tlb->ranges[mid].last < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int iotlb_reserve(struct vdpa_iotlb *tlb, unsigned int nr)
{
	struct vdpa_iotlb_range *r;
	unsigned int cap;

	if (nr <= tlb->cap)
		return 0;
	cap = tlb->cap ? tlb->cap * 2 : 16;
	while (cap < nr)
		cap *= 2;
	r = realloc(tlb->ranges, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	tlb->ranges = r;
	tlb->cap = cap;
	return 0;
}

int vdpa_iotlb_add(struct vdpa_iotlb *tlb, uint64_t iova, uint64_t size,
		   void *hva, uint32_t perm)
{
	uint64_t last = iova + size - 1;
	unsigned int pos;
	int ret;

	if (size == 0 || last < iova || !(perm & VDPA_PERM_RW) ||
	    (perm & ~VDPA_PERM_RW))
		return -EINVAL;
	/* The host side of the range must not wrap either. */
	if ((uintptr_t)hva + (size - 1) < (uintptr_t)hva)
		return -EINVAL;
	if (tlb->limit && tlb->nr >= tlb->limit)
		return -ENOSPC;
	pos = iotlb_lower_bound(tlb, iova);
	if (pos < tlb->nr && tlb->ranges[pos].first <= last)
		return -EEXIST;
	ret = iotlb_reserve(tlb, tlb->nr + 1);
	if (ret)
		return ret;
	memmove(&tlb->ranges[pos + 1], &tlb->ranges[pos],
		(tlb->nr - pos) * sizeof(tlb->ranges[0]));
	tlb->ranges[pos] = (struct vdpa_iotlb_range){
		.first = iova,
		.last = last,
		.hva = hva,
		.perm = perm,
	};
	tlb->nr++;
	return 0;
}

int vdpa_iotlb_del(struct vdpa_iotlb *tlb, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;
	unsigned int pos, end;

	if (size == 0)
		return 0;
	if (last < iova)
		last = UINT64_MAX;
	pos = iotlb_lower_bound(tlb, iova);
	end = pos;
	while (end < tlb->nr && tlb->ranges[end].first <= last)
		end++;
	memmove(&tlb->ranges[pos], &tlb->ranges[end],
		(tlb->nr - end) * sizeof(tlb->ranges[0]));
	tlb->nr -= end - pos;
	return (int)(end - pos);
}

int vdpa_iotlb_copy(struct vdpa_iotlb *dst, const struct vdpa_iotlb *src)
{
	int ret;

	if (dst->limit && src->nr > dst->limit)
		return -ENOSPC;
	ret = iotlb_reserve(dst, src->nr);
	if (ret)
		return ret;
	if (src->nr)
		memcpy(dst->ranges, src->ranges,
		       src->nr * sizeof(src->ranges[0]));
	dst->nr = src->nr;
	return 0;
}

const struct vdpa_iotlb_range *vdpa_iotlb_find(const struct vdpa_iotlb *tlb,
					       uint64_t iova,
					       struct vdpa_iotlb_hint *hint)
{
	const struct vdpa_iotlb_range *r;
	unsigned int pos;

	if (hint && hint->idx < tlb->nr) {
		r = &tlb->ranges[hint->idx];
		if (r->first <= iova && iova <= r->last)
			return r;
	}
	pos = iotlb_lower_bound(tlb, iova);
	if (pos == tlb->nr || tlb->ranges[pos].first > iova)
		return NULL;
	if (hint)
		hint->idx = pos;
	return &tlb->ranges[pos];
}

int vdpa_iotlb_translate(const struct vdpa_iotlb *tlb, uint64_t iova,
			 uint64_t len, uint32_t perm, struct iovec *iov,
			 unsigned int max, struct vdpa_iotlb_hint *hint)
{
	unsigned int n = 0;

	if (len == 0)
		return 0;
	if (iova + (len - 1) < iova)
		return -EFAULT;
	while (len) {
		const struct vdpa_iotlb_range *r;
		uint64_t off, chunk;

		r = vdpa_iotlb_find(tlb, iova, hint);
		if (!r || (r->perm & perm) != perm)
			return -EFAULT;
		if (n == max)
			return -ENOBUFS;
		off = iova - r->first;
		/* 0 when the range is all of 2^64 */
		chunk = r->last - iova + 1;
		if (chunk == 0 || chunk > len)
			chunk = len;
		iov[n].iov_base = (char *)r->hva + off;
		iov[n].iov_len = chunk;
		n++;
		iova += chunk;
		len -= chunk;
	}
	return (int)n;
}

void *vdpa_iotlb_ptr(const struct vdpa_iotlb *tlb, uint64_t iova, uint64_t len,
		     uint32_t perm, struct vdpa_iotlb_hint *hint)
{
	const struct vdpa_iotlb_range *r;

	if (len == 0 || iova + (len - 1) < iova)
		return NULL;
	r = vdpa_iotlb_find(tlb, iova, hint);
	if (!r || (r->perm & perm) != perm || iova + (len - 1) > r->last)
		return NULL;
	return (char *)r->hva + (iova - r->first);
}
