// SPDX-License-Identifier: MIT
#include <string.h>
#include <uvdpa/uapi.h>
#include "helpers.h"

static void blk_roundtrip(void **state)
{
	struct test_bus tb;
	struct test_drv d;
	struct vdpa_device *vdev;
	uint8_t wbuf[4096], rbuf[4096];

	assert_int_equal(test_bus_init(&tb, 1), 0);
	vdev = test_dev_add(&tb, tb.blk, "blk0", NULL);
	assert_non_null(vdev);
	assert_int_equal(test_drv_start(&d, vdev, ~0ull, 1, 128, 0), 0);
	for (unsigned i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (uint8_t)(i * 7);
	assert_int_equal(test_blk_do(&d, VIRTIO_BLK_T_OUT, 8, wbuf, 4096, true),
			 0);
	assert_int_equal(test_blk_do(&d, VIRTIO_BLK_T_IN, 8, rbuf, 4096, false),
			 0);
	assert_memory_equal(wbuf, rbuf, 4096);
	test_drv_stop(&d);
	test_bus_done(&tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(blk_roundtrip) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
