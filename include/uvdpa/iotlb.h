/* SPDX-License-Identifier: MIT */
/*
 * The memory map a driver gives a device: (iova, size, host address, perm)
 * ranges. The user-space form of the kernel's vhost_iotlb. Every address
 * a driver puts in a ring is translated here, and every range is checked
 * against it, so nothing the driver side writes can make the device touch
 * memory it was not given.
 *
 * A map is not locked: the control thread changes it only while the data
 * path that reads it is stopped (DESIGN.md, "Processes and threads").
 */
#ifndef UVDPA_IOTLB_H
#define UVDPA_IOTLB_H

#include <stdint.h>
#include <sys/uio.h>

/* Access the device needs; a range must grant it. */
#define VDPA_PERM_READ 0x1 /* device reads: driver's out buffers, rings */
#define VDPA_PERM_WRITE 0x2 /* device writes: driver's in buffers, used ring */
#define VDPA_PERM_RW (VDPA_PERM_READ | VDPA_PERM_WRITE)

struct vdpa_iotlb_range {
	uint64_t first; /* first iova */
	uint64_t last; /* last iova, inclusive: a range may end at 2^64-1 */
	void *hva; /* host address of @first */
	uint32_t perm; /* VDPA_PERM_* */
};

struct vdpa_iotlb {
	struct vdpa_iotlb_range *ranges; /* sorted by first, disjoint */
	unsigned int nr;
	unsigned int cap;
	unsigned int limit; /* most ranges accepted; 0: no limit */
};

/*
 * A reader's memo of the range it hit last. Each reader (one per queue)
 * keeps its own, so readers on different threads share nothing writable.
 */
struct vdpa_iotlb_hint {
	unsigned int idx;
};

void vdpa_iotlb_init(struct vdpa_iotlb *tlb, unsigned int limit);
void vdpa_iotlb_clear(struct vdpa_iotlb *tlb);

/*
 * Add [iova, iova + size). Returns 0, -EINVAL for size 0 or a range that
 * wraps, -EEXIST when it overlaps a range already present (kernel
 * vhost_iotlb semantics), -ENOSPC past the limit, -ENOMEM.
 */
int vdpa_iotlb_add(struct vdpa_iotlb *tlb, uint64_t iova, uint64_t size,
		   void *hva, uint32_t perm);

/* Remove every range that overlaps [iova, iova + size); returns how many. */
int vdpa_iotlb_del(struct vdpa_iotlb *tlb, uint64_t iova, uint64_t size);

/* Replace @dst's ranges by a copy of @src's. */
int vdpa_iotlb_copy(struct vdpa_iotlb *dst, const struct vdpa_iotlb *src);

/* The range holding @iova, or NULL. O(log n), O(1) on a hint hit. */
const struct vdpa_iotlb_range *vdpa_iotlb_find(const struct vdpa_iotlb *tlb,
					       uint64_t iova,
					       struct vdpa_iotlb_hint *hint);

/*
 * Translate [iova, iova + len) into at most @max iovecs, one per range the
 * span crosses. Returns the number of iovecs written (0 for len 0),
 * -EFAULT when a byte is unmapped, lacks @perm or the span wraps, and
 * -ENOBUFS when more than @max iovecs would be needed.
 */
int vdpa_iotlb_translate(const struct vdpa_iotlb *tlb, uint64_t iova,
			 uint64_t len, uint32_t perm, struct iovec *iov,
			 unsigned int max, struct vdpa_iotlb_hint *hint);

/*
 * The common case of vdpa_iotlb_translate(), inline: the host address of
 * [iova, iova + len) when the hinted range holds all of it with @perm,
 * else NULL (then call vdpa_iotlb_translate()).
 */
static inline void *vdpa_iotlb_hint_ptr(const struct vdpa_iotlb *tlb,
					const struct vdpa_iotlb_hint *hint,
					uint64_t iova, uint64_t len,
					uint32_t perm)
{
	const struct vdpa_iotlb_range *r;
	uint64_t last = iova + len - 1;

	if (hint->idx >= tlb->nr || len == 0 || last < iova)
		return 0;
	r = &tlb->ranges[hint->idx];
	if (iova < r->first || last > r->last || (r->perm & perm) != perm)
		return 0;
	return (char *)r->hva + (iova - r->first);
}

/*
 * Host address of [iova, iova + len) when it lies wholly inside one range,
 * else NULL. Used for rings and indirect tables.
 */
void *vdpa_iotlb_ptr(const struct vdpa_iotlb *tlb, uint64_t iova, uint64_t len,
		     uint32_t perm, struct vdpa_iotlb_hint *hint);

#endif
