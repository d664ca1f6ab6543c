/* SPDX-License-Identifier: MIT */
/*
 * What the vdpasim_blk tests share: one device on a bus, a driver on its
 * queue, and requests that are written and read back.
 */
#ifndef UVDPA_TEST_SIM_BLK_ENV_H
#define UVDPA_TEST_SIM_BLK_ENV_H

#include <endian.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "helpers.h"

#define CAPACITY 0x40000ull /* sectors */
#define SECTOR 512u
#define MAX_IO (4096u * 32u) /* size_max * seg_max */
#define QSIZE 128
#define WAIT_MS 5000
#define QUIET_MS 200 /* how long "nothing happens" is watched */

struct blk_env {
	struct test_bus tb;
	struct vdpa_device *vdev;
	struct test_drv d;
};

static inline int blk_setup(void **state)
{
	struct blk_env *e = test_calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(test_bus_init(&e->tb, 1), 0);
	e->vdev = test_dev_add(&e->tb, e->tb.blk, "blk0", NULL);
	assert_non_null(e->vdev);
	assert_int_equal(test_drv_start(&e->d, e->vdev, ~0ull, 1, QSIZE, 0), 0);
	*state = e;
	return 0;
}

static inline int blk_teardown(void **state)
{
	struct blk_env *e = *state;

	test_drv_stop(&e->d);
	test_bus_done(&e->tb);
	test_free(e);
	return 0;
}

static inline void put_hdr(void *at, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.sector = htole64(sector),
	};

	memcpy(at, &h, sizeof(h));
}

static inline int io(struct test_drv *d, uint32_t type, uint64_t sector,
		     void *buf, uint32_t len, bool write)
{
	return test_blk_do(d, type, sector, buf, len, write);
}

/* Write a pattern at @sector, read it back, compare. */
static inline void write_read(struct test_drv *d, uint32_t wtype,
			      uint64_t sector, uint32_t len, uint32_t seed)
{
	static uint8_t w[MAX_IO], r[MAX_IO];

	test_fill(w, len, seed);
	memset(r, 0xa5, len);
	assert_int_equal(io(d, wtype, sector, w, len, true), VIRTIO_BLK_S_OK);
	assert_int_equal(io(d, VIRTIO_BLK_T_IN, sector, r, len, false),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(w, r, len);
}

#endif
