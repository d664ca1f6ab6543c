/* SPDX-License-Identifier: MIT */
/*
 * Both halves of a split ring in one process, for the ring tests: vq_drv
 * fills a ring in a memfd, vq_dev serves it through a map that puts the
 * memfd at an iova unrelated to its host address and scatters the data
 * area over four ranges whose host order is shuffled, so a buffer crossing
 * a range boundary must come back as two iovecs pointing at the right
 * places.
 */
#ifndef UVDPA_TEST_VRING_FX_H
#define UVDPA_TEST_VRING_FX_H

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>

#include "helpers.h"

#define RING_IOVA 0x40000000000ull /* not where this process sees it */
#define QUARTER (256u << 10)
#define F_EVENT_IDX BIT_ULL(VIRTIO_RING_F_EVENT_IDX)
#define F_INDIRECT BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC)

/* Host quarter behind each iova quarter: no two neighbours stay adjacent. */
static const unsigned int quarter_host[4] = { 2, 0, 3, 1 };

struct fx {
	struct drv_mem mem;
	struct vdpa_iotlb tlb;
	struct vq_drv drv;
	struct vq_dev dev;
	uint8_t *data; /* host side of the data area */
	uint64_t data_iova;
	struct vq_elem *elems;
	struct iovec *iov;
	unsigned int iov_cap;
};

/* Host address of data-area offset @off, as the device's map has it. */
static inline uint8_t *dhost(struct fx *f, uint64_t off)
{
	return f->data + quarter_host[off / QUARTER] * QUARTER + off % QUARTER;
}

static inline uint64_t diova(struct fx *f, uint64_t off)
{
	return f->data_iova + off;
}

/* Put both sides at @idx, as a driver restoring a queue state would. */
static inline void drv_set_index(struct vq_drv *d, uint16_t idx)
{
	d->avail_idx = d->kicked_idx = d->last_used_idx = idx;
	d->avail->idx = htole16(idx);
	d->used->idx = htole16(idx);
	d->avail->ring[d->num] = htole16(idx); /* used_event */
}

static inline void fx_map(struct fx *f, size_t ring)
{
	vdpa_iotlb_init(&f->tlb, 0);
	assert_int_equal(vdpa_iotlb_add(&f->tlb, RING_IOVA, ring, f->mem.base,
					VDPA_PERM_RW),
			 0);
	for (unsigned int q = 0; q < 4; q++)
		assert_int_equal(
			vdpa_iotlb_add(&f->tlb, diova(f, q * QUARTER), QUARTER,
				       f->data + quarter_host[q] * QUARTER,
				       VDPA_PERM_RW),
			0);
}

/* Point the device side at the driver's ring, from avail index @start. */
static inline int fx_dev_init(struct fx *f, uint32_t num, uint64_t features,
			      uint16_t start)
{
	struct vq_config cfg = {
		.num = num,
		.features = features,
		.desc_addr = f->drv.desc_iova,
		.driver_addr = f->drv.avail_iova,
		.device_addr = f->drv.used_iova,
		.avail_idx = start,
		.iotlb = &f->tlb,
	};

	return vq_dev_init(&f->dev, &cfg);
}

static inline struct fx *fx_new(uint32_t num, uint64_t features,
				uint16_t ind_max, uint16_t start)
{
	struct fx *f = calloc(1, sizeof(*f));
	size_t ring = (vq_drv_mem_size(num, ind_max) + 4095) & ~4095ul;

	assert_non_null(f);
	assert_int_equal(drv_mem_init(&f->mem, ring + 4 * QUARTER, RING_IOVA),
			 0);
	f->data = f->mem.base + ring;
	f->data_iova = RING_IOVA + ring;
	fx_map(f, ring);
	assert_int_equal(vq_drv_init(&f->drv, num, features, f->mem.base,
				     RING_IOVA, ind_max),
			 0);
	drv_set_index(&f->drv, start);
	assert_int_equal(fx_dev_init(f, num, features, start), 0);
	assert_false(f->dev.broken);
	f->iov_cap = VQ_MAX_CHAIN_IOV + 2 * num;
	f->elems = calloc(num, sizeof(*f->elems));
	f->iov = calloc(f->iov_cap, sizeof(*f->iov));
	assert_true(f->elems && f->iov);
	return f;
}

static inline void fx_free(struct fx *f)
{
	vq_dev_release(&f->dev);
	vq_drv_release(&f->drv);
	vdpa_iotlb_clear(&f->tlb);
	drv_mem_done(&f->mem);
	free(f->elems);
	free(f->iov);
	free(f);
}

static inline void *tok(unsigned long n)
{
	return (void *)(n + 1);
}

static inline void add1(struct fx *f, uint64_t off, uint32_t len, bool write,
			unsigned long token)
{
	struct vq_buf b = { diova(f, off), len };

	assert_int_equal(vq_drv_add(&f->drv, &b, write ? 0 : 1, write ? 1 : 0,
				    tok(token)),
			 0);
}

static inline int pop(struct fx *f, unsigned int max)
{
	return vq_dev_pop_batch(&f->dev, f->elems, max, f->iov, f->iov_cap);
}

static inline uint16_t used_idx(struct fx *f)
{
	return le16toh(f->drv.used->idx);
}

static inline uint16_t avail_event(struct fx *f)
{
	return le16toh(*(uint16_t *)&f->drv.used->ring[f->drv.num]);
}

static inline void assert_iov(const struct iovec *iov, const void *base,
			      size_t len)
{
	assert_ptr_equal(iov->iov_base, base);
	assert_int_equal(iov->iov_len, len);
}

#endif
