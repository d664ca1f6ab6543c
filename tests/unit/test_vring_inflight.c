// SPDX-License-Identifier: MIT
/*
 * Inflight I/O tracking on the device side of a split ring (vhost-user
 * INFLIGHT_SHMFD): chains are marked while taken, unmarked once their used
 * element is published, and a device started again on the same region
 * (a back end that died and came back) takes the marked chains again,
 * oldest first, continues at used->idx plus their number whatever base it
 * was given, and does not take again chains whose completion was
 * published but not yet unmarked. A region it cannot trust breaks the
 * queue rather than the process.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>

#include "helpers.h"

#define IOVA 0x100000000ull
#define NUM 16u

struct fx {
	struct drv_mem mem;
	struct vdpa_iotlb tlb;
	struct vq_drv drv;
	struct vq_dev dev;
	struct vq_inflight_split *region;
	uint64_t data_iova;
	struct vq_elem elems[NUM];
	struct iovec iov[VQ_MAX_CHAIN_IOV + 2 * NUM];
};

static void dev_start(struct fx *f, uint16_t base)
{
	struct vq_config cfg = {
		.num = NUM,
		.features = 0,
		.desc_addr = f->drv.desc_iova,
		.driver_addr = f->drv.avail_iova,
		.device_addr = f->drv.used_iova,
		.avail_idx = base,
		.iotlb = &f->tlb,
		.inflight = f->region,
	};

	vq_dev_release(&f->dev);
	vq_dev_init(&f->dev, &cfg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	size_t ring = (vq_drv_mem_size(NUM, 0) + 4095) & ~4095ul;

	assert_non_null(f);
	assert_int_equal(drv_mem_init(&f->mem, ring + 65536, IOVA), 0);
	drv_mem_iotlb(&f->mem, &f->tlb);
	assert_int_equal(vq_drv_init(&f->drv, NUM, 0, f->mem.base, IOVA, 0), 0);
	f->data_iova = IOVA + ring;
	f->region = calloc(1, vq_inflight_size(NUM));
	assert_non_null(f->region);
	dev_start(f, 0);
	assert_false(f->dev.broken);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vq_dev_release(&f->dev);
	vq_drv_release(&f->drv);
	vdpa_iotlb_clear(&f->tlb);
	drv_mem_done(&f->mem);
	free(f->region);
	free(f);
	return 0;
}

/* A one-buffer chain of request @n (its token is n + 1). */
static void add(struct fx *f, unsigned long n)
{
	struct vq_buf b = { f->data_iova + n * 512, 512 };

	assert_int_equal(vq_drv_add(&f->drv, &b, 1, 0, (void *)(n + 1)), 0);
	vq_drv_kick_prepare(&f->drv);
}

static int pop(struct fx *f, unsigned int max)
{
	return vq_dev_pop_batch(&f->dev, f->elems, max, f->iov,
				ARRAY_SIZE(f->iov));
}

/* The token of the chain whose head the device took as elems[i]. */
static unsigned long token_of(struct fx *f, unsigned int i)
{
	return (unsigned long)f->drv.token[f->elems[i].id] - 1;
}

static unsigned int marked(struct fx *f)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < NUM; i++)
		n += f->region->desc[i].inflight;
	return n;
}

static void fresh_region_marks_and_clears(void **state)
{
	struct fx *f = *state;
	uint32_t lens[3] = { 0 };

	assert_int_equal(f->region->version, 1);
	assert_int_equal(f->region->desc_num, NUM);
	for (unsigned long n = 0; n < 3; n++)
		add(f, n);
	assert_int_equal(pop(f, 3), 3);
	assert_int_equal(marked(f), 3);
	assert_true(f->region->desc[f->elems[0].id].counter <
		    f->region->desc[f->elems[2].id].counter);
	vq_dev_complete_batch(&f->dev, &f->elems[1], lens, 1);
	assert_int_equal(marked(f), 2);
	assert_false(f->region->desc[f->elems[1].id].inflight);
	assert_int_equal(f->region->used_idx, 1);
}

static void restart_resubmits_oldest_first(void **state)
{
	struct fx *f = *state;
	uint32_t lens[1] = { 0 };
	struct vq_elem done;

	for (unsigned long n = 0; n < 4; n++)
		add(f, n);
	assert_int_equal(pop(f, 4), 4);
	/* completed out of order: 3, then 1 */
	done = f->elems[3];
	vq_dev_complete_batch(&f->dev, &done, lens, 1);
	done = f->elems[1];
	vq_dev_complete_batch(&f->dev, &done, lens, 1);
	/* two new chains arrive, then the back end dies; the new one is
	 * started with the base the front end guesses: used->idx */
	add(f, 4);
	add(f, 5);
	vq_dev_release(&f->dev); /* nothing survives the death */
	dev_start(f, 2);
	assert_false(f->dev.broken);
	assert_int_equal(vq_dev_resubmit_pending(&f->dev), 2);
	assert_int_equal(vq_dev_avail_index(&f->dev), 4); /* used 2 + 2 */
	/* the two in flight first, oldest first, then the new ones */
	assert_int_equal(pop(f, 3), 3);
	assert_int_equal(token_of(f, 0), 0);
	assert_int_equal(token_of(f, 1), 2);
	assert_int_equal(token_of(f, 2), 4);
	assert_int_equal(pop(f, 4), 1);
	assert_int_equal(token_of(f, 0), 5);
	assert_int_equal(marked(f), 4);
}

static void published_but_not_cleared(void **state)
{
	struct fx *f = *state;
	uint32_t lens[2] = { 0 };
	uint16_t heads[2];

	add(f, 0);
	add(f, 1);
	add(f, 2);
	assert_int_equal(pop(f, 3), 3);
	heads[0] = f->elems[0].id;
	heads[1] = f->elems[1].id;
	vq_dev_complete_batch(&f->dev, f->elems, lens, 2);
	/* died after used->idx = 2 was stored, before the marks went */
	f->region->desc[heads[0]].inflight = 1;
	f->region->desc[heads[1]].inflight = 1;
	f->region->used_idx = 0;
	vq_dev_release(&f->dev);
	dev_start(f, 0);
	/* only the third is taken again: the first two were answered */
	assert_int_equal(vq_dev_resubmit_pending(&f->dev), 1);
	assert_int_equal(vq_dev_avail_index(&f->dev), 3);
	assert_int_equal(f->region->used_idx, 2);
	assert_int_equal(pop(f, NUM), 1);
	assert_int_equal(token_of(f, 0), 2);
}

static void unpop_unmarks(void **state)
{
	struct fx *f = *state;

	add(f, 0);
	add(f, 1);
	assert_int_equal(pop(f, 2), 2);
	vq_dev_unpop(&f->dev, 2);
	assert_int_equal(marked(f), 0);
	assert_int_equal(pop(f, 2), 2);
	assert_int_equal(token_of(f, 0), 0);
	assert_int_equal(marked(f), 2);
}

/* A pop of resubmitted and new chains, returned: each goes back home. */
static void unpop_mixed(void **state)
{
	struct fx *f = *state;

	for (unsigned long n = 0; n < 3; n++)
		add(f, n);
	assert_int_equal(pop(f, 3), 3);
	add(f, 3);
	vq_dev_release(&f->dev);
	dev_start(f, 0);
	assert_int_equal(vq_dev_resubmit_pending(&f->dev), 3);
	assert_int_equal(pop(f, 2), 2);
	vq_dev_unpop(&f->dev, 1);
	assert_int_equal(vq_dev_resubmit_pending(&f->dev), 2);
	/* two resubmitted, then the new one: 4 back to the avail ring */
	assert_int_equal(pop(f, 3), 3);
	assert_int_equal(token_of(f, 0), 1);
	assert_int_equal(token_of(f, 2), 3);
	assert_int_equal(vq_dev_avail_index(&f->dev), 4);
	vq_dev_unpop(&f->dev, 3);
	assert_int_equal(vq_dev_resubmit_pending(&f->dev), 2);
	assert_int_equal(vq_dev_avail_index(&f->dev), 3);
	assert_int_equal(marked(f), 3); /* the new one's mark went */
	assert_int_equal(pop(f, NUM), 3);
	assert_int_equal(token_of(f, 0), 1);
	assert_int_equal(token_of(f, 1), 2);
	assert_int_equal(token_of(f, 2), 3);
}

static void hostile_region(void **state)
{
	struct fx *f = *state;

	/* a region made for another queue size */
	f->region->desc_num = NUM * 2;
	vq_dev_release(&f->dev);
	dev_start(f, 0);
	assert_true(f->dev.broken);
	/* a used index far from the ring's, marks on every head */
	f->region->desc_num = NUM;
	f->region->used_idx = 0x8000;
	for (unsigned int i = 0; i < NUM; i++)
		f->region->desc[i].inflight = 1;
	vq_dev_release(&f->dev);
	dev_start(f, 0);
	/* more in flight than the driver ever made available: broken */
	assert_true(f->dev.broken);
	assert_int_equal(pop(f, NUM), -EIO);
	/* consistent marks on chains whose buffers the driver scribbled
	 * over: taken again, and each chain checked as any other */
	add(f, 0);
	add(f, 1);
	memset(f->region->desc, 0, NUM * sizeof(f->region->desc[0]));
	f->region->used_idx = 0;
	f->region->desc[3].inflight = 1;
	f->region->desc[7].inflight = 1;
	f->drv.desc[7].addr = htole64(1); /* not mapped */
	f->drv.desc[7].len = htole32(512);
	f->drv.desc[7].flags = 0;
	vq_dev_release(&f->dev);
	dev_start(f, 0);
	assert_false(f->dev.broken);
	assert_int_equal(vq_dev_resubmit_pending(&f->dev), 2);
	assert_int_equal(pop(f, NUM), 1); /* head 3, then 7 breaks it */
	assert_true(f->dev.broken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fresh_region_marks_and_clears,
						setup, teardown),
		cmocka_unit_test_setup_teardown(restart_resubmits_oldest_first,
						setup, teardown),
		cmocka_unit_test_setup_teardown(published_but_not_cleared,
						setup, teardown),
		cmocka_unit_test_setup_teardown(unpop_unmarks, setup, teardown),
		cmocka_unit_test_setup_teardown(unpop_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(hostile_region, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
