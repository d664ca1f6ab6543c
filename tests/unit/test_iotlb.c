// SPDX-License-Identifier: MIT
/*
 * The device memory map: every ring access goes through it, so each
 * refusal (overlap, limit, bad size, unmapped byte, missing permission,
 * too few iovecs) is checked here along with the translations it allows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>

#include "helpers.h"

/* Host addresses are never dereferenced by the map: fake ones will do. */
#define HVA(x) ((void *)(uintptr_t)(x))

static void add_find_del(void **state)
{
	struct vdpa_iotlb tlb;
	const struct vdpa_iotlb_range *r;

	vdpa_iotlb_init(&tlb, 0);
	assert_int_equal(
		vdpa_iotlb_add(&tlb, 0x3000, 0x1000, HVA(0xa000), VDPA_PERM_RW),
		0);
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x1000, 0x1000, HVA(0xb000),
					VDPA_PERM_READ),
			 0);
	assert_int_equal(tlb.nr, 2);
	/* kept sorted whatever the insertion order */
	assert_true(tlb.ranges[0].first == 0x1000);
	assert_true(tlb.ranges[1].first == 0x3000);

	r = vdpa_iotlb_find(&tlb, 0x3fff, NULL);
	assert_non_null(r);
	assert_true(r->first == 0x3000 && r->last == 0x3fff);
	assert_ptr_equal(r->hva, HVA(0xa000));
	assert_int_equal(r->perm, VDPA_PERM_RW);
	assert_null(vdpa_iotlb_find(&tlb, 0x4000, NULL));
	assert_null(vdpa_iotlb_find(&tlb, 0x2000, NULL));
	assert_null(vdpa_iotlb_find(&tlb, 0xfff, NULL));

	/* nothing there, and an empty span, remove nothing */
	assert_int_equal(vdpa_iotlb_del(&tlb, 0x2000, 0x1000), 0);
	assert_int_equal(vdpa_iotlb_del(&tlb, 0x1000, 0), 0);
	/* one byte of overlap removes the whole range */
	assert_int_equal(vdpa_iotlb_del(&tlb, 0x1fff, 1), 1);
	assert_null(vdpa_iotlb_find(&tlb, 0x1000, NULL));
	assert_non_null(vdpa_iotlb_find(&tlb, 0x3000, NULL));
	/* a span running to the end of the space */
	assert_int_equal(vdpa_iotlb_del(&tlb, 0x2000, UINT64_MAX), 1);
	assert_int_equal(tlb.nr, 0);
	vdpa_iotlb_clear(&tlb);
	vdpa_iotlb_clear(&tlb); /* twice is fine */
}

static void add_overlap(void **state)
{
	static const struct {
		uint64_t iova, size;
	} bad[] = {
		{ 0x2000, 0x1000 }, /* same */
		{ 0x1800, 0x1000 }, /* over the head */
		{ 0x2800, 0x1000 }, /* over the tail */
		{ 0x1000, 0x3000 }, /* around */
		{ 0x2400, 0x10 }, /* inside */
		{ 0x2fff, 1 }, /* last byte */
		{ 0x1001, 0x1000 }, /* ends on the first byte */
		{ 0x0, 0x100000 }, /* far around */
	};
	struct vdpa_iotlb tlb;

	vdpa_iotlb_init(&tlb, 0);
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x2000, 0x1000, HVA(0x10000),
					VDPA_PERM_RW),
			 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(vdpa_iotlb_add(&tlb, bad[i].iova, bad[i].size,
						HVA(0x90000), VDPA_PERM_RW),
				 -EEXIST);
	assert_int_equal(tlb.nr, 1);
	/* touching on either side is no overlap */
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x1000, 0x1000, HVA(0x20000),
					VDPA_PERM_RW),
			 0);
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x3000, 0x1000, HVA(0x30000),
					VDPA_PERM_RW),
			 0);
	assert_int_equal(tlb.nr, 3);
	vdpa_iotlb_clear(&tlb);
}

static void add_limit(void **state)
{
	struct vdpa_iotlb tlb, copy;

	vdpa_iotlb_init(&tlb, 3);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(vdpa_iotlb_add(&tlb, i << 20, 4096,
						HVA(0x100000 + (i << 12)),
						VDPA_PERM_RW),
				 0);
	assert_int_equal(vdpa_iotlb_add(&tlb, 5 << 20, 4096, HVA(0x900000),
					VDPA_PERM_RW),
			 -ENOSPC);
	assert_int_equal(tlb.nr, 3);
	assert_int_equal(vdpa_iotlb_del(&tlb, 1 << 20, 1), 1);
	assert_int_equal(vdpa_iotlb_add(&tlb, 5 << 20, 4096, HVA(0x900000),
					VDPA_PERM_RW),
			 0);

	/* a copy obeys the destination's limit */
	vdpa_iotlb_init(&copy, 2);
	assert_int_equal(vdpa_iotlb_copy(&copy, &tlb), -ENOSPC);
	copy.limit = 0;
	assert_int_equal(vdpa_iotlb_copy(&copy, &tlb), 0);
	assert_int_equal(copy.nr, 3);
	assert_memory_equal(copy.ranges, tlb.ranges, 3 * sizeof(tlb.ranges[0]));
	vdpa_iotlb_clear(&copy);
	vdpa_iotlb_clear(&tlb);
}

static void add_invalid(void **state)
{
	struct vdpa_iotlb tlb;

	vdpa_iotlb_init(&tlb, 0);
	assert_int_equal(
		vdpa_iotlb_add(&tlb, 0x1000, 0, HVA(0x1000), VDPA_PERM_RW),
		-EINVAL);
	/* iova wraps */
	assert_int_equal(vdpa_iotlb_add(&tlb, UINT64_MAX - 0xff, 0x200,
					HVA(0x1000), VDPA_PERM_RW),
			 -EINVAL);
	assert_int_equal(
		vdpa_iotlb_add(&tlb, 1, UINT64_MAX, HVA(0x1000), VDPA_PERM_RW),
		-EINVAL);
	/* host address wraps */
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x1000, 0x2000,
					HVA(UINTPTR_MAX - 0xfff), VDPA_PERM_RW),
			 -EINVAL);
	/* no permission, unknown permission */
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x1000, 0x1000, HVA(0x1000), 0),
			 -EINVAL);
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x1000, 0x1000, HVA(0x1000),
					VDPA_PERM_RW | 0x4),
			 -EINVAL);
	assert_int_equal(tlb.nr, 0);

	/* ending exactly at 2^64 - 1 is allowed */
	assert_int_equal(vdpa_iotlb_add(&tlb, UINT64_MAX - 0xfff, 0x1000,
					HVA(0x1000), VDPA_PERM_RW),
			 0);
	assert_non_null(vdpa_iotlb_find(&tlb, UINT64_MAX, NULL));
	vdpa_iotlb_clear(&tlb);
}

/* Adjacent iovas whose host pages are apart, in the other order. */
static void translate_split(void **state)
{
	static char host[3][4096];
	struct vdpa_iotlb tlb;
	struct iovec iov[3];

	vdpa_iotlb_init(&tlb, 0);
	assert_int_equal(
		vdpa_iotlb_add(&tlb, 0x10000, 4096, host[2], VDPA_PERM_RW), 0);
	assert_int_equal(
		vdpa_iotlb_add(&tlb, 0x11000, 4096, host[0], VDPA_PERM_RW), 0);
	assert_int_equal(
		vdpa_iotlb_add(&tlb, 0x12000, 4096, host[1], VDPA_PERM_RW), 0);

	/* inside one range: one iovec */
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x10010, 100,
					      VDPA_PERM_READ, iov, 3, NULL),
			 1);
	assert_ptr_equal(iov[0].iov_base, host[2] + 0x10);
	assert_int_equal(iov[0].iov_len, 100);

	/* across the first boundary: two, split exactly at it */
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x10f00, 0x200,
					      VDPA_PERM_READ, iov, 3, NULL),
			 2);
	assert_ptr_equal(iov[0].iov_base, host[2] + 0xf00);
	assert_int_equal(iov[0].iov_len, 0x100);
	assert_ptr_equal(iov[1].iov_base, host[0]);
	assert_int_equal(iov[1].iov_len, 0x100);

	/* all three, starting on the last byte of the first */
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x10fff, 4096 + 2,
					      VDPA_PERM_WRITE, iov, 3, NULL),
			 3);
	assert_ptr_equal(iov[0].iov_base, host[2] + 4095);
	assert_int_equal(iov[0].iov_len, 1);
	assert_ptr_equal(iov[1].iov_base, host[0]);
	assert_int_equal(iov[1].iov_len, 4096);
	assert_ptr_equal(iov[2].iov_base, host[1]);
	assert_int_equal(iov[2].iov_len, 1);

	/* one iovec too few */
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x10fff, 4096 + 2,
					      VDPA_PERM_READ, iov, 2, NULL),
			 -ENOBUFS);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x10000, 1, VDPA_PERM_READ,
					      iov, 0, NULL),
			 -ENOBUFS);
	/* nothing to translate needs no iovec */
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x10000, 0, VDPA_PERM_READ,
					      iov, 0, NULL),
			 0);

	/* vdpa_iotlb_ptr wants one range */
	assert_ptr_equal(
		vdpa_iotlb_ptr(&tlb, 0x11000, 4096, VDPA_PERM_RW, NULL),
		host[0]);
	assert_null(vdpa_iotlb_ptr(&tlb, 0x11001, 4096, VDPA_PERM_READ, NULL));
	assert_null(vdpa_iotlb_ptr(&tlb, 0x11000, 0, VDPA_PERM_READ, NULL));
	vdpa_iotlb_clear(&tlb);
}

static void translate_fault(void **state)
{
	struct vdpa_iotlb tlb;
	struct iovec iov[4];

	vdpa_iotlb_init(&tlb, 0);
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x1000, 0x1000, HVA(0x100000),
					VDPA_PERM_RW),
			 0);
	/* a one-byte hole at 0x2000 */
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x2001, 0xfff, HVA(0x200000),
					VDPA_PERM_RW),
			 0);

	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x1000, 0x2000,
					      VDPA_PERM_READ, iov, 4, NULL),
			 -EFAULT);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x2000, 1, VDPA_PERM_READ,
					      iov, 4, NULL),
			 -EFAULT);
	/* last mapped byte is fine, one more is not */
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x2fff, 1, VDPA_PERM_READ,
					      iov, 4, NULL),
			 1);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x2fff, 2, VDPA_PERM_READ,
					      iov, 4, NULL),
			 -EFAULT);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0xfff, 2, VDPA_PERM_READ,
					      iov, 4, NULL),
			 -EFAULT);
	/* a span that wraps the iova space */
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x1000, UINT64_MAX,
					      VDPA_PERM_READ, iov, 4, NULL),
			 -EFAULT);
	assert_null(
		vdpa_iotlb_ptr(&tlb, 0x1000, UINT64_MAX, VDPA_PERM_READ, NULL));
	assert_null(vdpa_iotlb_ptr(&tlb, 0x1fff, 2, VDPA_PERM_READ, NULL));
	vdpa_iotlb_clear(&tlb);
}

static void translate_perm(void **state)
{
	struct vdpa_iotlb tlb;
	struct iovec iov[2];

	vdpa_iotlb_init(&tlb, 0);
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x1000, 0x1000, HVA(0x100000),
					VDPA_PERM_READ),
			 0);
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x2000, 0x1000, HVA(0x200000),
					VDPA_PERM_WRITE),
			 0);
	assert_int_equal(vdpa_iotlb_add(&tlb, 0x3000, 0x1000, HVA(0x300000),
					VDPA_PERM_RW),
			 0);

	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x1000, 16, VDPA_PERM_READ,
					      iov, 2, NULL),
			 1);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x1000, 16, VDPA_PERM_WRITE,
					      iov, 2, NULL),
			 -EFAULT);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x1000, 16, VDPA_PERM_RW,
					      iov, 2, NULL),
			 -EFAULT);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x2000, 16, VDPA_PERM_WRITE,
					      iov, 2, NULL),
			 1);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x2000, 16, VDPA_PERM_READ,
					      iov, 2, NULL),
			 -EFAULT);
	/* the second range of a span lacks the permission */
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x2ff0, 32, VDPA_PERM_WRITE,
					      iov, 2, NULL),
			 2);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 0x1ff0, 32, VDPA_PERM_READ,
					      iov, 2, NULL),
			 -EFAULT);
	assert_non_null(vdpa_iotlb_ptr(&tlb, 0x3000, 16, VDPA_PERM_RW, NULL));
	assert_null(vdpa_iotlb_ptr(&tlb, 0x1000, 16, VDPA_PERM_WRITE, NULL));
	assert_null(vdpa_iotlb_ptr(&tlb, 0x2000, 16, VDPA_PERM_READ, NULL));
	vdpa_iotlb_clear(&tlb);
}

static void hint_last_hit(void **state)
{
	struct vdpa_iotlb tlb;
	struct vdpa_iotlb_hint hint = { .idx = 0 };
	const struct vdpa_iotlb_range *r;
	struct iovec iov[2];

	vdpa_iotlb_init(&tlb, 0);
	for (uint64_t i = 0; i < 8; i++)
		assert_int_equal(vdpa_iotlb_add(&tlb, i << 16, 0x1000,
						HVA(0x1000000 + (i << 12)),
						VDPA_PERM_RW),
				 0);

	r = vdpa_iotlb_find(&tlb, 5ull << 16, &hint);
	assert_ptr_equal(r, &tlb.ranges[5]);
	assert_int_equal(hint.idx, 5);
	/* a miss keeps the hint */
	assert_null(vdpa_iotlb_find(&tlb, (6ull << 16) + 0x1000, &hint));
	assert_int_equal(hint.idx, 5);
	assert_int_equal(vdpa_iotlb_translate(&tlb, 3ull << 16, 8,
					      VDPA_PERM_READ, iov, 2, &hint),
			 1);
	assert_int_equal(hint.idx, 3);

	/*
	 * Prove the hint is tried first: break the order bisection relies
	 * on, so only the hint can still find range 3.
	 */
	tlb.ranges[3].first = 100ull << 16;
	tlb.ranges[3].last = (100ull << 16) + 0xfff;
	hint.idx = 3;
	assert_ptr_equal(vdpa_iotlb_find(&tlb, 100ull << 16, &hint),
			 &tlb.ranges[3]);
	hint.idx = 0;
	assert_null(vdpa_iotlb_find(&tlb, 100ull << 16, &hint));
	tlb.ranges[3].first = 3ull << 16;
	tlb.ranges[3].last = (3ull << 16) + 0xfff;

	/* a hint left stale by a removal is ignored, not followed */
	hint.idx = 7;
	assert_int_equal(vdpa_iotlb_del(&tlb, 4ull << 16, 4ull << 16), 4);
	r = vdpa_iotlb_find(&tlb, 2ull << 16, &hint);
	assert_ptr_equal(r, &tlb.ranges[2]);
	assert_int_equal(hint.idx, 2);
	assert_null(vdpa_iotlb_find(&tlb, 7ull << 16, &hint));
	vdpa_iotlb_clear(&tlb);
}

/* The most a vhost-user memory table holds. */
#define MANY 509

static uint64_t many_iova(unsigned int i)
{
	/* uneven sizes and gaps: [i * 1 MiB, + 4 KiB * (i % 7 + 1)) */
	return (uint64_t)i << 20;
}

static uint64_t many_size(unsigned int i)
{
	return 4096ull * (i % 7 + 1);
}

/* 0..n-1 in a fixed pseudo-random order (Fisher-Yates). */
static void shuffle(unsigned int *order, unsigned int n, uint32_t seed)
{
	for (unsigned int i = 0; i < n; i++)
		order[i] = i;
	for (unsigned int i = n - 1; i > 0; i--) {
		unsigned int j, t;

		seed = seed * 1103515245 + 12345;
		j = (seed >> 8) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

static void many_regions(void **state)
{
	struct vdpa_iotlb tlb;
	struct vdpa_iotlb_hint hint = { 0 };
	unsigned int order[MANY];

	/* inserted out of order: the map must sort them */
	shuffle(order, MANY, 12345);
	vdpa_iotlb_init(&tlb, MANY);
	for (unsigned int k = 0; k < MANY; k++) {
		unsigned int i = order[k];

		assert_int_equal(
			vdpa_iotlb_add(&tlb, many_iova(i), many_size(i),
				       HVA(0x10000000ull + i * 65536ull),
				       VDPA_PERM_RW),
			0);
	}
	assert_int_equal(
		vdpa_iotlb_add(&tlb, 1ull << 40, 1, HVA(1), VDPA_PERM_RW),
		-ENOSPC);

	for (unsigned int i = 0; i < MANY; i++) {
		uint64_t first = many_iova(i), last = first + many_size(i) - 1;
		const struct vdpa_iotlb_range *r;

		r = vdpa_iotlb_find(&tlb, first, &hint);
		assert_non_null(r);
		assert_true(r->first == first && r->last == last);
		assert_ptr_equal(r->hva, HVA(0x10000000ull + i * 65536ull));
		assert_ptr_equal(vdpa_iotlb_find(&tlb, last, NULL), r);
		assert_ptr_equal(
			vdpa_iotlb_find(&tlb, (first + last) / 2, &hint), r);
		assert_null(vdpa_iotlb_find(&tlb, last + 1, &hint));
		assert_null(vdpa_iotlb_find(&tlb, first + (1 << 20) - 1, NULL));
		assert_ptr_equal(
			vdpa_iotlb_ptr(&tlb, last, 1, VDPA_PERM_READ, &hint),
			HVA(0x10000000ull + i * 65536ull + many_size(i) - 1));
	}
	/* drop the odd ones; the even ones must still be found */
	for (unsigned int i = 1; i < MANY; i += 2)
		assert_int_equal(vdpa_iotlb_del(&tlb, many_iova(i), 1), 1);
	assert_int_equal(tlb.nr, (MANY + 1) / 2);
	for (unsigned int i = 0; i < MANY; i++) {
		const struct vdpa_iotlb_range *r;

		r = vdpa_iotlb_find(&tlb, many_iova(i) + 5, &hint);
		if (i % 2)
			assert_null(r);
		else
			assert_true(r && r->first == many_iova(i));
	}
	vdpa_iotlb_clear(&tlb);
}

static void iov_helpers(void **state)
{
	char a[5] = "abcde", b[3] = "fgh", c[4] = "ijkl";
	const struct iovec src[] = {
		{ a, 5 },
		{ NULL, 0 },
		{ b, 3 },
		{ c, 4 },
	};
	char flat[16], d1[7], d2[1], d3[9];
	const struct iovec dst[] = { { d1, 7 }, { d2, 1 }, { d3, 9 } };

	assert_int_equal(vq_iov_length(src, 4), 12);
	assert_int_equal(vq_iov_length(src, 0), 0);

	memset(flat, 0, sizeof(flat));
	assert_int_equal(vq_iov_to_buf(src, 4, 0, flat, sizeof(flat)), 12);
	assert_memory_equal(flat, "abcdefghijkl", 12);
	/* skip into the third iovec, stop inside the fourth */
	memset(flat, 0, sizeof(flat));
	assert_int_equal(vq_iov_to_buf(src, 4, 6, flat, 4), 4);
	assert_memory_equal(flat, "ghij", 4);
	assert_int_equal(vq_iov_to_buf(src, 4, 12, flat, 4), 0);
	assert_int_equal(vq_iov_to_buf(src, 4, 20, flat, 4), 0);

	assert_int_equal(vq_buf_to_iov(src, 4, 4, "XYZW", 4), 4);
	assert_memory_equal(a, "abcdX", 5);
	assert_memory_equal(b, "YZW", 3);
	assert_memory_equal(c, "ijkl", 4);
	assert_int_equal(vq_buf_to_iov(src, 4, 10, "0123", 4), 2);
	assert_memory_equal(c, "ij01", 4);

	/* copy between differently split vectors */
	memset(d1, '.', sizeof(d1));
	memset(d2, '.', sizeof(d2));
	memset(d3, '.', sizeof(d3));
	assert_int_equal(vq_iov_copy(dst, 3, src, 4, 11), 11);
	assert_memory_equal(d1, "abcdXYZ", 7);
	assert_memory_equal(d2, "W", 1);
	assert_memory_equal(d3, "ij0.", 4);
	/* the shorter side bounds the copy */
	assert_int_equal(vq_iov_copy(dst, 2, src, 4, 100), 8);
}

/*
 * A driver may point both sides of a copy at the same bytes (net
 * loopback: a TX buffer that is also an RX buffer); found by fuzz_vring,
 * where ASan called the memcpy it was then an overlap.
 */
static void iov_copy_overlap(void **state)
{
	char buf[9] = "abcdefgh";
	const struct iovec src = { buf, 6 }, fwd = { buf + 2, 6 };
	const struct iovec back = { buf, 6 }, from = { buf + 2, 6 };

	assert_int_equal(vq_iov_copy(&fwd, 1, &src, 1, 6), 6);
	assert_memory_equal(buf, "ababcdef", 8);
	memcpy(buf, "abcdefgh", 8);
	assert_int_equal(vq_iov_copy(&back, 1, &from, 1, 6), 6);
	assert_memory_equal(buf, "cdefghgh", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_find_del),
		cmocka_unit_test(add_overlap),
		cmocka_unit_test(add_limit),
		cmocka_unit_test(add_invalid),
		cmocka_unit_test(translate_split),
		cmocka_unit_test(translate_fault),
		cmocka_unit_test(translate_perm),
		cmocka_unit_test(hint_last_hit),
		cmocka_unit_test(many_regions),
		cmocka_unit_test(iov_helpers),
		cmocka_unit_test(iov_copy_overlap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
