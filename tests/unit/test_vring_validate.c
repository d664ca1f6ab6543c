// SPDX-License-Identifier: MIT
/*
 * A hostile driver: descriptors written straight into ring memory. Each
 * case checks that the device side breaks the queue (with a reason, and
 * -EIO from then on) without touching memory outside its map.
 *
 * Every area the map holds ends right at a PROT_NONE page, and the map
 * holds nothing else, so a read past a table (head or next beyond num,
 * an indirect table running off its range) faults instead of passing
 * unnoticed. The used ring is compared before and after: a violation
 * must not be answered with a used entry.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <uvdpa/compiler.h>

#include "helpers.h"

#define F_EVENT_IDX BIT_ULL(VIRTIO_RING_F_EVENT_IDX)
#define F_INDIRECT BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC)
#define F_PACKED BIT_ULL(VIRTIO_F_RING_PACKED)

#define DESC_IOVA 0x10000000ull
#define AVAIL_IOVA 0x20000000ull
#define USED_IOVA 0x30000000ull
#define DATA_IOVA 0x40000000ull
#define RO_IOVA 0x50000000ull
#define WO_IOVA 0x58000000ull
#define IND_IOVA 0x60000000ull
#define HOLE_IOVA 0x70000000ull /* nothing mapped here */
#define DATA_LEN (64u << 10)
#define IND_LEN (32u << 10)

/* @len bytes that end where a PROT_NONE page begins. */
struct garea {
	uint8_t *map;
	size_t map_len;
	uint8_t *p;
	size_t len;
	uint64_t iova;
};

static void garea_new(struct garea *a, size_t len, uint64_t iova)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (len + pg - 1) / pg * pg;

	a->len = (len + 15) & ~(size_t)15;
	a->map_len = body + 2 * pg;
	a->map = mmap(NULL, a->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	assert_true(a->map != MAP_FAILED);
	assert_int_equal(mprotect(a->map + pg, body, PROT_READ | PROT_WRITE),
			 0);
	a->p = a->map + pg + body - a->len;
	a->iova = iova;
}

static void garea_free(struct garea *a)
{
	if (a->map)
		munmap(a->map, a->map_len);
}

struct vf {
	uint32_t num;
	struct garea desc, avail, used, data, ro, wo, ind;
	struct vdpa_iotlb tlb;
	struct vq_dev dev;
	struct vring_desc *d;
	struct vring_avail *a;
	uint16_t aidx; /* next avail entry the test publishes */
	struct vq_elem elems[8];
	struct iovec *iov;
	unsigned int iov_cap;
	uint8_t *used_snap;
};

static void vf_map(struct vf *v)
{
	const struct {
		struct garea *a;
		uint32_t perm;
	} m[] = {
		{ &v->desc, VDPA_PERM_READ },  { &v->avail, VDPA_PERM_READ },
		{ &v->used, VDPA_PERM_WRITE }, { &v->data, VDPA_PERM_RW },
		{ &v->ro, VDPA_PERM_READ },    { &v->wo, VDPA_PERM_WRITE },
		{ &v->ind, VDPA_PERM_READ },
	};

	vdpa_iotlb_init(&v->tlb, 0);
	for (size_t i = 0; i < ARRAY_SIZE(m); i++)
		assert_int_equal(vdpa_iotlb_add(&v->tlb, m[i].a->iova,
						m[i].a->len, m[i].a->p,
						m[i].perm),
				 0);
}

static struct vq_config vf_config(struct vf *v, uint64_t features)
{
	return (struct vq_config){
		.num = v->num,
		.features = features,
		.desc_addr = v->desc.iova,
		.driver_addr = v->avail.iova,
		.device_addr = v->used.iova,
		.iotlb = &v->tlb,
	};
}

/* Areas and map for @num entries, without initialising the queue. */
static struct vf *vf_alloc(uint32_t num)
{
	struct vf *v = calloc(1, sizeof(*v));

	assert_non_null(v);
	v->num = num;
	garea_new(&v->desc, 16 * (size_t)num, DESC_IOVA);
	garea_new(&v->avail, 6 + 2 * (size_t)num, AVAIL_IOVA);
	garea_new(&v->used, 6 + 8 * (size_t)num, USED_IOVA);
	garea_new(&v->data, DATA_LEN, DATA_IOVA);
	garea_new(&v->ro, 4096, RO_IOVA);
	garea_new(&v->wo, 4096, WO_IOVA);
	garea_new(&v->ind, IND_LEN, IND_IOVA);
	v->d = (struct vring_desc *)v->desc.p;
	v->a = (struct vring_avail *)v->avail.p;
	vf_map(v);
	v->iov_cap = 4 * VQ_MAX_CHAIN_IOV; /* more than any chain may use */
	v->iov = calloc(v->iov_cap, sizeof(*v->iov));
	v->used_snap = malloc(v->used.len);
	assert_true(v->iov && v->used_snap);
	return v;
}

static struct vf *vf_new(uint32_t num, uint64_t features)
{
	struct vf *v = vf_alloc(num);
	struct vq_config cfg = vf_config(v, features);

	assert_int_equal(vq_dev_init(&v->dev, &cfg), 0);
	assert_false(v->dev.broken);
	memcpy(v->used_snap, v->used.p, v->used.len);
	return v;
}

static void vf_free(struct vf *v)
{
	vq_dev_release(&v->dev);
	vdpa_iotlb_clear(&v->tlb);
	garea_free(&v->desc);
	garea_free(&v->avail);
	garea_free(&v->used);
	garea_free(&v->data);
	garea_free(&v->ro);
	garea_free(&v->wo);
	garea_free(&v->ind);
	free(v->iov);
	free(v->used_snap);
	free(v);
}

static void put(struct vring_desc *t, unsigned int i, uint64_t addr,
		uint32_t len, uint16_t flags, uint16_t next)
{
	t[i].addr = htole64(addr);
	t[i].len = htole32(len);
	t[i].flags = htole16(flags);
	t[i].next = htole16(next);
}

/* An indirect table of @n entries ending at the end of its range. */
static struct vring_desc *ind_table(struct vf *v, unsigned int n,
				    uint64_t *iova)
{
	size_t off = v->ind.len - 16 * (size_t)n;

	*iova = v->ind.iova + off;
	return (struct vring_desc *)(v->ind.p + off);
}

static void publish(struct vf *v, uint16_t head)
{
	v->a->ring[v->aidx & (v->num - 1)] = htole16(head);
	v->aidx++;
	store_release(&v->a->idx, htole16(v->aidx));
}

static int vf_pop(struct vf *v, unsigned int max)
{
	return vq_dev_pop_batch(&v->dev, v->elems, max, v->iov, v->iov_cap);
}

/* Pop: @good valid chains come first, then the queue is broken. */
static void expect_broken(struct vf *v, int good, const char *why)
{
	int n = vf_pop(v, ARRAY_SIZE(v->elems));

	assert_int_equal(n, good ? good : -EIO);
	assert_true(v->dev.broken);
	assert_non_null(v->dev.broken_reason);
	assert_non_null(strstr(v->dev.broken_reason, why));
	/* and stays broken */
	assert_int_equal(vf_pop(v, ARRAY_SIZE(v->elems)), -EIO);
	assert_int_equal(vf_pop(v, 1), -EIO);
	assert_memory_equal(v->used.p, v->used_snap, v->used.len);
}

/* One hostile chain at head 0 of a fresh queue. */
#define BAD_CASE(name, num, feat, why, ...)                                    \
	static void name(void **state)                                         \
	{                                                                      \
		struct vf *v = vf_new(num, feat);                              \
		__VA_ARGS__                                                    \
		expect_broken(v, 0, why);                                      \
		vf_free(v);                                                    \
	}

BAD_CASE(loop_self, 8, 0, "loop", {
	put(v->d, 0, DATA_IOVA, 8, VRING_DESC_F_NEXT, 0);
	publish(v, 0);
})

BAD_CASE(loop_back, 8, 0, "loop", {
	put(v->d, 3, DATA_IOVA, 8, VRING_DESC_F_NEXT, 5);
	put(v->d, 5, DATA_IOVA + 64, 8, VRING_DESC_F_NEXT, 3);
	publish(v, 3);
})

/* Every descriptor once, then around again: longer than the queue. */
BAD_CASE(chain_longer_than_queue, 8, 0, "loop", {
	for (unsigned int i = 0; i < 8; i++)
		put(v->d, i, DATA_IOVA + 64 * i, 8, VRING_DESC_F_NEXT,
		    (i + 1) % 8);
	publish(v, 0);
})

BAD_CASE(loop_in_indirect, 8, F_INDIRECT, "loop", {
	uint64_t iova;
	struct vring_desc *t = ind_table(v, 4, &iova);

	put(t, 0, DATA_IOVA, 8, VRING_DESC_F_NEXT, 1);
	put(t, 1, DATA_IOVA, 8, VRING_DESC_F_NEXT, 2);
	put(t, 2, DATA_IOVA, 8, VRING_DESC_F_NEXT, 1);
	put(v->d, 0, iova, 64, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(addr_unmapped, 8, 0, "not mapped", {
	put(v->d, 0, HOLE_IOVA, 8, 0, 0);
	publish(v, 0);
})

/* The first byte is mapped, the rest runs into the hole after it. */
BAD_CASE(addr_partly_mapped, 8, 0, "not mapped", {
	put(v->d, 0, DATA_IOVA + DATA_LEN - 8, 16, 0, 0);
	publish(v, 0);
})

BAD_CASE(addr_starts_before_map, 8, 0, "not mapped", {
	put(v->d, 0, DATA_IOVA - 1, 16, VRING_DESC_F_WRITE, 0);
	publish(v, 0);
})

BAD_CASE(addr_wraps, 8, 0, "not mapped", {
	put(v->d, 0, UINT64_MAX - 7, 16, 0, 0);
	publish(v, 0);
})

/* Later descriptors of a chain are checked as much as the first. */
BAD_CASE(addr_unmapped_mid_chain, 8, 0, "not mapped", {
	put(v->d, 0, DATA_IOVA, 8, VRING_DESC_F_NEXT, 1);
	put(v->d, 1, DATA_IOVA + DATA_LEN, 1, 0, 0);
	publish(v, 0);
})

BAD_CASE(write_to_read_only, 8, 0, "writable", {
	put(v->d, 0, RO_IOVA, 8, VRING_DESC_F_WRITE, 0);
	publish(v, 0);
})

/* The used ring is mapped write-only: a "buffer" there is no way in. */
BAD_CASE(read_from_write_only, 8, 0, "readable", {
	put(v->d, 0, USED_IOVA, 8, 0, 0);
	publish(v, 0);
})

BAD_CASE(read_after_write, 8, 0, "after a writable", {
	put(v->d, 0, DATA_IOVA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put(v->d, 1, DATA_IOVA + 64, 8, 0, 0);
	publish(v, 0);
})

BAD_CASE(read_after_write_indirect, 8, F_INDIRECT, "after a writable", {
	uint64_t iova;
	struct vring_desc *t = ind_table(v, 2, &iova);

	put(t, 0, DATA_IOVA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put(t, 1, DATA_IOVA + 64, 8, 0, 0);
	put(v->d, 0, iova, 32, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(indirect_len_24, 8, F_INDIRECT, "multiple of 16", {
	uint64_t iova;

	put(ind_table(v, 2, &iova), 0, DATA_IOVA, 8, 0, 0);
	put(v->d, 0, iova, 24, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(indirect_len_8, 8, F_INDIRECT, "multiple of 16", {
	uint64_t iova;

	put(ind_table(v, 1, &iova), 0, DATA_IOVA, 8, 0, 0);
	put(v->d, 0, iova, 8, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(indirect_len_0, 8, F_INDIRECT, "multiple of 16", {
	uint64_t iova;

	ind_table(v, 1, &iova);
	put(v->d, 0, iova, 0, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

/* More entries than any queue may have. */
BAD_CASE(indirect_len_huge, 8, F_INDIRECT, "multiple of 16", {
	put(v->d, 0, IND_IOVA, 16 * (VQ_MAX_SIZE + 1), VRING_DESC_F_INDIRECT,
	    0);
	publish(v, 0);
})

BAD_CASE(indirect_in_indirect, 8, F_INDIRECT, "inside an indirect", {
	uint64_t iova;
	struct vring_desc *t = ind_table(v, 2, &iova);

	put(t, 0, DATA_IOVA, 8, VRING_DESC_F_NEXT, 1);
	put(t, 1, iova, 32, VRING_DESC_F_INDIRECT, 0);
	put(v->d, 0, iova, 32, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(indirect_not_negotiated, 8, 0, "not negotiated", {
	uint64_t iova;

	put(ind_table(v, 1, &iova), 0, DATA_IOVA, 8, 0, 0);
	put(v->d, 0, iova, 16, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(indirect_with_next, 8, F_INDIRECT, "NEXT", {
	uint64_t iova;

	put(ind_table(v, 1, &iova), 0, DATA_IOVA, 8, 0, 0);
	put(v->d, 0, iova, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	put(v->d, 1, DATA_IOVA, 8, 0, 0);
	publish(v, 0);
})

/* A table claiming two more entries than its range holds. */
BAD_CASE(indirect_table_partly_mapped, 8, F_INDIRECT, "not mapped", {
	uint64_t iova;
	struct vring_desc *t = ind_table(v, 2, &iova);

	put(t, 0, DATA_IOVA, 8, VRING_DESC_F_NEXT, 1);
	put(t, 1, DATA_IOVA, 8, VRING_DESC_F_NEXT, 2);
	put(v->d, 0, iova, 64, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(indirect_table_unmapped, 8, F_INDIRECT, "not mapped", {
	put(v->d, 0, HOLE_IOVA, 32, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

/* A table the device may not read (write-only range). */
BAD_CASE(indirect_table_write_only, 8, F_INDIRECT, "not mapped", {
	put(v->d, 0, WO_IOVA, 32, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(indirect_next_beyond_table, 8, F_INDIRECT, "beyond", {
	uint64_t iova;
	struct vring_desc *t = ind_table(v, 2, &iova);

	put(t, 0, DATA_IOVA, 8, VRING_DESC_F_NEXT, 1);
	put(t, 1, DATA_IOVA, 8, VRING_DESC_F_NEXT, 2);
	put(v->d, 0, iova, 32, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
})

BAD_CASE(head_is_num, 8, 0, "beyond", {
	put(v->d, 0, DATA_IOVA, 8, 0, 0);
	publish(v, 8);
})

BAD_CASE(head_is_max, 8, 0, "beyond", { publish(v, UINT16_MAX); })

BAD_CASE(next_is_num, 8, 0, "beyond", {
	put(v->d, 0, DATA_IOVA, 8, VRING_DESC_F_NEXT, 8);
	publish(v, 0);
})

BAD_CASE(next_is_max, 8, 0, "beyond", {
	put(v->d, 6, DATA_IOVA, 8, VRING_DESC_F_NEXT, 7);
	put(v->d, 7, DATA_IOVA, 8, VRING_DESC_F_NEXT, UINT16_MAX);
	publish(v, 6);
})

BAD_CASE(avail_jump, 8, 0, "more than the size", {
	put(v->d, 0, DATA_IOVA, 8, 0, 0);
	store_release(&v->a->idx, htole16(9));
})

BAD_CASE(avail_backwards, 8, 0, "more than the size",
	 { store_release(&v->a->idx, htole16(UINT16_MAX)); })

/* One chain needing more iovecs than any chain may have. */
static void too_many_segments(unsigned int n, bool ok)
{
	struct vf *v = vf_new(8, F_INDIRECT);
	uint64_t iova;
	struct vring_desc *t = ind_table(v, n, &iova);

	for (unsigned int i = 0; i < n; i++)
		put(t, i, DATA_IOVA + 2 * i, 1,
		    i + 1 < n ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	put(v->d, 0, iova, 16 * n, VRING_DESC_F_INDIRECT, 0);
	publish(v, 0);
	if (ok) {
		assert_int_equal(vf_pop(v, 1), 1);
		assert_int_equal(v->elems[0].out_num, n);
	} else {
		expect_broken(v, 0, "segments");
	}
	vf_free(v);
}

static void chain_iov_limit(void **state)
{
	too_many_segments(VQ_MAX_CHAIN_IOV, true);
	/* the arena has room for it: the limit is per chain */
	too_many_segments(VQ_MAX_CHAIN_IOV + 1, false);
}

/* Exactly num chains is a full ring, not a violation. */
static void avail_full_ring(void **state)
{
	struct vf *v = vf_new(8, 0);

	for (unsigned int i = 0; i < 8; i++) {
		put(v->d, i, DATA_IOVA + 64 * i, 8, 0, 0);
		publish(v, (uint16_t)i);
	}
	assert_int_equal(vf_pop(v, 8), 8);
	assert_false(v->dev.broken);
	/* later, relative to where the device is */
	for (unsigned int i = 0; i < 8; i++)
		vq_dev_push(&v->dev, &v->elems[i], 0);
	vq_dev_flush(&v->dev);
	v->aidx += 9;
	store_release(&v->a->idx, htole16(v->aidx));
	memcpy(v->used_snap, v->used.p, v->used.len);
	expect_broken(v, 0, "more than the size");
	vf_free(v);
}

/* Chains taken before the violation come back and can be completed. */
static void good_then_bad(void **state)
{
	struct vf *v = vf_new(8, F_INDIRECT);
	uint32_t lens[3] = { 1, 2, 3 };

	for (unsigned int i = 0; i < 3; i++) {
		put(v->d, i, DATA_IOVA + 64 * i, 8 + i, 0, 0);
		publish(v, (uint16_t)i);
	}
	put(v->d, 3, DATA_IOVA, 8, VRING_DESC_F_NEXT, 3); /* a loop */
	publish(v, 3);
	put(v->d, 4, DATA_IOVA, 8, 0, 0); /* valid, but after the bad one */
	publish(v, 4);
	expect_broken(v, 3, "loop");
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(v->elems[i].id, i);
		assert_int_equal(v->elems[i].out_num, 1);
		assert_ptr_equal(v->elems[i].iov[0].iov_base,
				 v->data.p + 64 * i);
		assert_int_equal(v->elems[i].iov[0].iov_len, 8 + i);
	}
	assert_int_equal(vq_dev_avail_index(&v->dev), 3);
	vq_dev_complete_batch(&v->dev, v->elems, lens, 3);
	assert_int_equal(le16toh(((struct vring_used *)v->used.p)->idx), 3);
	assert_int_equal(vf_pop(v, 8), -EIO);
	vf_free(v);
}

static void expect_init_error(struct vf *v, uint64_t features, int err,
			      const struct vq_config *cfg_in)
{
	struct vq_config cfg = cfg_in ? *cfg_in : vf_config(v, features);

	assert_int_equal(vq_dev_init(&v->dev, &cfg), err);
	assert_true(v->dev.broken);
	assert_non_null(v->dev.broken_reason);
	assert_int_equal(vf_pop(v, 1), -EIO);
	/* the rest of the API is harmless on it */
	vq_dev_push(&v->dev, &v->elems[0], 0);
	assert_false(vq_dev_flush(&v->dev));
	vq_dev_disable_notify(&v->dev);
	vq_dev_enable_notify(&v->dev);
}

static void init_bad_size(void **state)
{
	static const uint32_t sizes[] = {
		0, 3, 6, 100, 1000, 32767, 32769, 65536, 1u << 20, UINT32_MAX,
	};
	struct vf *v = vf_alloc(8);

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		v->num = sizes[i];
		expect_init_error(v, 0, -EINVAL, NULL);
	}
	v->num = 8;
	expect_init_error(v, F_PACKED, -EINVAL, NULL);
	vf_free(v);
}

/* The largest size is accepted; 32768 entries take 512 KiB of table. */
static void init_max_size(void **state)
{
	struct vf *v = vf_alloc(VQ_MAX_SIZE);
	struct vq_config cfg = vf_config(v, F_EVENT_IDX);

	assert_int_equal(vq_dev_init(&v->dev, &cfg), 0);
	put(v->d, VQ_MAX_SIZE - 1, DATA_IOVA, 8, 0, 0);
	publish(v, VQ_MAX_SIZE - 1);
	assert_int_equal(vf_pop(v, 1), 1);
	assert_int_equal(v->elems[0].id, VQ_MAX_SIZE - 1);
	vf_free(v);
}

static void init_bad_areas(void **state)
{
	struct vf *v = vf_alloc(8);
	struct vq_config c0 = vf_config(v, F_EVENT_IDX), c;

	/* not mapped at all */
	c = c0, c.desc_addr = HOLE_IOVA;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.driver_addr = HOLE_IOVA;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.device_addr = HOLE_IOVA;
	expect_init_error(v, 0, -EFAULT, &c);
	/* partly mapped: runs off the end of its range */
	c = c0, c.desc_addr = DESC_IOVA + 16;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.num = 16; /* each area is sized for 8 */
	expect_init_error(v, 0, -EFAULT, &c);
	/* without the permission the device needs */
	c = c0, c.device_addr = RO_IOVA;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.desc_addr = WO_IOVA;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.driver_addr = WO_IOVA;
	expect_init_error(v, 0, -EFAULT, &c);
	/* misaligned */
	c = c0, c.desc_addr = DATA_IOVA + 8;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.driver_addr = DATA_IOVA + 1;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.device_addr = DATA_IOVA + 2;
	expect_init_error(v, 0, -EFAULT, &c);
	/* no map */
	c = c0, c.iotlb = NULL;
	expect_init_error(v, 0, -EFAULT, &c);
	/* and the good config still works after all that */
	assert_int_equal(vq_dev_init(&v->dev, &c0), 0);
	assert_false(v->dev.broken);
	vf_free(v);
}

/* EVENT_IDX adds a u16 to both rings: a map without it is too short. */
static void init_event_idx_tail(void **state)
{
	struct vf *v = vf_alloc(8);
	struct vq_config c = vf_config(v, 0);

	vdpa_iotlb_clear(&v->tlb);
	assert_int_equal(vdpa_iotlb_add(&v->tlb, DESC_IOVA, 128, v->desc.p,
					VDPA_PERM_READ),
			 0);
	assert_int_equal(vdpa_iotlb_add(&v->tlb, AVAIL_IOVA, 4 + 2 * 8,
					v->avail.p, VDPA_PERM_READ),
			 0);
	assert_int_equal(vdpa_iotlb_add(&v->tlb, USED_IOVA, 4 + 8 * 8 + 2,
					v->used.p, VDPA_PERM_WRITE),
			 0);
	assert_int_equal(vq_dev_init(&v->dev, &c), 0);
	c.features = F_EVENT_IDX;
	expect_init_error(v, 0, -EFAULT, &c);

	/* and the other way round */
	vdpa_iotlb_del(&v->tlb, 0, UINT64_MAX);
	assert_int_equal(vdpa_iotlb_add(&v->tlb, DESC_IOVA, 128, v->desc.p,
					VDPA_PERM_READ),
			 0);
	assert_int_equal(vdpa_iotlb_add(&v->tlb, AVAIL_IOVA, 4 + 2 * 8 + 2,
					v->avail.p, VDPA_PERM_READ),
			 0);
	assert_int_equal(vdpa_iotlb_add(&v->tlb, USED_IOVA, 4 + 8 * 8,
					v->used.p, VDPA_PERM_WRITE),
			 0);
	expect_init_error(v, 0, -EFAULT, &c);
	vf_free(v);
}

/* Aligned iovas the map puts at misaligned host addresses. */
static void init_host_misaligned(void **state)
{
	struct vf *v = vf_alloc(8);
	struct vq_config c0 = vf_config(v, 0), c;

	assert_int_equal(vdpa_iotlb_add(&v->tlb, 0x80000000ull, 4096,
					v->data.p + 2, VDPA_PERM_RW),
			 0);
	assert_int_equal(vdpa_iotlb_add(&v->tlb, 0x81000000ull, 4096,
					v->data.p + 4096 + 1, VDPA_PERM_RW),
			 0);
	c = c0, c.desc_addr = 0x80000000ull;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.device_addr = 0x80000000ull;
	expect_init_error(v, 0, -EFAULT, &c);
	c = c0, c.driver_addr = 0x81000000ull;
	expect_init_error(v, 0, -EFAULT, &c);
	/* and misaligned iovas the map puts at aligned host addresses */
	assert_int_equal(vdpa_iotlb_add(&v->tlb, 0x82000001ull, 4096,
					v->data.p + 8192, VDPA_PERM_RW),
			 0);
	c = c0, c.driver_addr = 0x82000001ull;
	expect_init_error(v, 0, -EFAULT, &c);
	assert_int_equal(vdpa_iotlb_add(&v->tlb, 0x83000008ull, 4096,
					v->data.p + 16384, VDPA_PERM_RW),
			 0);
	c = c0, c.desc_addr = 0x83000008ull;
	expect_init_error(v, 0, -EFAULT, &c);
	vf_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loop_self),
		cmocka_unit_test(loop_back),
		cmocka_unit_test(chain_longer_than_queue),
		cmocka_unit_test(loop_in_indirect),
		cmocka_unit_test(addr_unmapped),
		cmocka_unit_test(addr_partly_mapped),
		cmocka_unit_test(addr_starts_before_map),
		cmocka_unit_test(addr_wraps),
		cmocka_unit_test(addr_unmapped_mid_chain),
		cmocka_unit_test(write_to_read_only),
		cmocka_unit_test(read_from_write_only),
		cmocka_unit_test(read_after_write),
		cmocka_unit_test(read_after_write_indirect),
		cmocka_unit_test(indirect_len_24),
		cmocka_unit_test(indirect_len_8),
		cmocka_unit_test(indirect_len_0),
		cmocka_unit_test(indirect_len_huge),
		cmocka_unit_test(indirect_in_indirect),
		cmocka_unit_test(indirect_not_negotiated),
		cmocka_unit_test(indirect_with_next),
		cmocka_unit_test(indirect_table_partly_mapped),
		cmocka_unit_test(indirect_table_unmapped),
		cmocka_unit_test(indirect_table_write_only),
		cmocka_unit_test(indirect_next_beyond_table),
		cmocka_unit_test(head_is_num),
		cmocka_unit_test(head_is_max),
		cmocka_unit_test(next_is_num),
		cmocka_unit_test(next_is_max),
		cmocka_unit_test(avail_jump),
		cmocka_unit_test(avail_backwards),
		cmocka_unit_test(chain_iov_limit),
		cmocka_unit_test(avail_full_ring),
		cmocka_unit_test(good_then_bad),
		cmocka_unit_test(init_bad_size),
		cmocka_unit_test(init_max_size),
		cmocka_unit_test(init_bad_areas),
		cmocka_unit_test(init_event_idx_tail),
		cmocka_unit_test(init_host_misaligned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
