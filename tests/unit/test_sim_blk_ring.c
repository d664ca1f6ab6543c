// SPDX-License-Identifier: MIT
/*
 * vdpasim_blk's ring and lifecycle: a full ring of requests in flight,
 * malformed rings (each sets NEEDS_RESET on its queue only), and reset,
 * suspend/resume, vq state, kick fds, map changes and deletion while the
 * data path runs (reference §4.3, §10.5, §11 item 6).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "sim_blk_env.h"

/* ---- many in flight ---- */

/* A 2-descriptor request: header and data share one buffer (ANY_LAYOUT). */
struct req2 {
	uint8_t *buf; /* header + data (OUT) or data + status (IN) */
	uint8_t *st;
};

static void submit_out2(struct test_drv *d, struct req2 *r, uint64_t sector,
			uint32_t seed)
{
	struct vq_buf b[2];
	uint64_t a, s;

	r->buf = test_drv_mem(d, 16 + 4096, &a);
	put_hdr(r->buf, VIRTIO_BLK_T_OUT, sector);
	test_fill(r->buf + 16, 4096, seed);
	r->st = test_drv_mem(d, 1, &s);
	*r->st = 0xff;
	b[0] = (struct vq_buf){ a, 16 + 4096 };
	b[1] = (struct vq_buf){ s, 1 };
	assert_int_equal(vq_drv_add(&d->vq[0], b, 1, 1, r), 0);
}

static void submit_in2(struct test_drv *d, struct req2 *r, uint64_t sector)
{
	struct vq_buf b[2];
	uint64_t a, h;

	put_hdr(test_drv_mem(d, 16, &h), VIRTIO_BLK_T_IN, sector);
	r->buf = test_drv_mem(d, 4096 + 1, &a);
	memset(r->buf, 0xee, 4096 + 1);
	r->st = r->buf + 4096;
	b[0] = (struct vq_buf){ h, 16 };
	b[1] = (struct vq_buf){ a, 4096 + 1 };
	assert_int_equal(vq_drv_add(&d->vq[0], b, 1, 1, r), 0);
}

/* Collect @n completions in any order; each token exactly once. */
static void collect(struct test_drv *d, struct req2 *reqs, unsigned int n)
{
	bool seen[64] = { false };

	for (unsigned int i = 0; i < n; i++) {
		struct req2 *r = test_drv_wait_used(d, 0, NULL, WAIT_MS);

		assert_non_null(r);
		assert_in_range(r - reqs, 0, n - 1);
		assert_false(seen[r - reqs]);
		seen[r - reqs] = true;
	}
	assert_null(vq_drv_get_used(&d->vq[0], NULL));
}

static void blk_many_in_flight(void **state)
{
	struct blk_env *e = *state;
	struct test_drv *d = &e->d;
	static struct req2 reqs[64];
	uint8_t want[4096];

	for (int round = 0; round < 3; round++) {
		size_t mark = d->mem.used;

		for (unsigned int i = 0; i < 64; i++)
			submit_out2(d, &reqs[i], 8 * i + round, i + round);
		assert_int_equal(vq_drv_num_free(&d->vq[0]), 0);
		test_drv_kick(d, 0);
		collect(d, reqs, 64);
		for (unsigned int i = 0; i < 64; i++)
			assert_int_equal(*reqs[i].st, VIRTIO_BLK_S_OK);
		for (unsigned int i = 0; i < 64; i++)
			submit_in2(d, &reqs[i], 8 * i + round);
		test_drv_kick(d, 0);
		collect(d, reqs, 64);
		for (unsigned int i = 0; i < 64; i++) {
			test_fill(want, sizeof(want), i + round);
			assert_int_equal(*reqs[i].st, VIRTIO_BLK_S_OK);
			assert_memory_equal(reqs[i].buf, want, sizeof(want));
		}
		d->mem.used = mark;
	}
}

/* ---- malformed rings ---- */

/* Each breaks the ring of @d in one way, after what is queued, and kicks. */
struct ring_breaker {
	void (*fn)(struct test_drv *d);
	bool takes_queued; /* what was queued before is still served */
};

static void add_flush(struct test_drv *d, void *token)
{
	struct vq_buf b[2];
	uint64_t a, s;

	put_hdr(test_drv_mem(d, 16, &a), VIRTIO_BLK_T_FLUSH, 0);
	test_drv_mem(d, 1, &s);
	b[0] = (struct vq_buf){ a, 16 };
	b[1] = (struct vq_buf){ s, 1 };
	assert_int_equal(vq_drv_add(&d->vq[0], b, 1, 1, token), 0);
}

static void break_unmapped(struct test_drv *d)
{
	struct vq_buf b[2] = { { d->mem.iova - 4096, 16 }, { d->mem.iova, 1 } };

	assert_int_equal(vq_drv_add(&d->vq[0], b, 1, 1, d), 0);
	test_drv_kick(d, 0);
}

static void break_straddle(struct test_drv *d)
{
	uint64_t end = d->mem.iova + d->mem.size;
	struct vq_buf b[2] = { { d->mem.iova, 16 }, { end - 1, 2 } };

	assert_int_equal(vq_drv_add(&d->vq[0], b, 1, 1, d), 0);
	test_drv_kick(d, 0);
}

static void break_loop(struct test_drv *d)
{
	struct vq_drv *vq = &d->vq[0];
	uint16_t head = vq->free_head;
	uint16_t second = le16toh(vq->desc[head].next);
	struct vq_buf b[2] = { { d->mem.iova, 16 }, { d->mem.iova, 16 } };

	assert_int_equal(vq_drv_add(vq, b, 2, 0, d), 0);
	vq->desc[second].flags |= htole16(VRING_DESC_F_NEXT);
	vq->desc[second].next = htole16(head);
	test_drv_kick(d, 0);
}

static void break_next_beyond(struct test_drv *d)
{
	struct vq_drv *vq = &d->vq[0];
	uint16_t head = vq->free_head;

	add_flush(d, d);
	vq->desc[head].next = htole16((uint16_t)vq->num);
	test_drv_kick(d, 0);
}

static void break_head_beyond(struct test_drv *d)
{
	struct vq_drv *vq = &d->vq[0];

	add_flush(d, d);
	vq->avail->ring[(vq->avail_idx - 1) & (vq->num - 1)] =
		htole16((uint16_t)(vq->num + 3));
	test_drv_kick(d, 0);
}

static void break_avail_jump(struct test_drv *d)
{
	struct vq_drv *vq = &d->vq[0];

	/* published as the driver side does: the device may be polling */
	__atomic_store_n(&vq->avail->idx,
			 htole16((uint16_t)(vq->avail_idx + vq->num + 1)),
			 __ATOMIC_RELEASE);
	vdpa_kick_vq(d->vdev, 0);
}

static void break_indirect(struct test_drv *d)
{
	struct vq_drv *vq = &d->vq[0];
	uint16_t head = vq->free_head;

	add_flush(d, d);
	/* INDIRECT was not negotiated: the sim does not offer it */
	vq->desc[head].flags = htole16(VRING_DESC_F_INDIRECT);
	test_drv_kick(d, 0);
}

static void break_read_after_write(struct test_drv *d)
{
	struct vq_drv *vq = &d->vq[0];
	uint16_t head = vq->free_head;
	uint16_t second = le16toh(vq->desc[head].next);

	add_flush(d, d);
	vq->desc[second].flags =
		htole16(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
	vq->desc[second].next = htole16(head); /* the header, readable */
	test_drv_kick(d, 0);
}

static const struct ring_breaker breakers[] = {
	{ break_unmapped, true },
	{ break_straddle, true },
	{ break_loop, true },
	{ break_next_beyond, true },
	{ break_head_beyond, true },
	{ break_avail_jump, false }, /* the index itself is garbage */
	{ break_indirect, true },
	{ break_read_after_write, true },
};

/*
 * A malformed ring sets NEEDS_RESET and stops that queue only; requests
 * taken with it still complete; reset recovers it.
 */
static void blk_malformed_ring(void **state)
{
	struct blk_env *e = *state;
	struct vdpa_device *other;
	struct test_drv od;

	other = test_dev_add(&e->tb, e->tb.blk, "blk1", NULL);
	assert_non_null(other);
	assert_int_equal(test_drv_start(&od, other, ~0ull, 1, QSIZE, 0), 0);
	write_read(&od, VIRTIO_BLK_T_OUT, 10, 4096, 18);
	for (unsigned int i = 0; i < ARRAY_SIZE(breakers); i++) {
		int token;

		/* a good request before the bad one, in the same kick */
		add_flush(&e->d, &token);
		breakers[i].fn(&e->d);
		assert_true(test_wait_status(
			e->vdev, VIRTIO_CONFIG_S_NEEDS_RESET, WAIT_MS));
		if (breakers[i].takes_queued)
			assert_ptr_equal(
				test_drv_wait_used(&e->d, 0, NULL, WAIT_MS),
				&token);
		/* the neighbour on the same worker goes on */
		write_read(&od, VIRTIO_BLK_T_OUT, 20 + i, 4096, 19 + i);
		assert_int_equal(vdpa_get_status(other) &
					 VIRTIO_CONFIG_S_NEEDS_RESET,
				 0);
		/* a broken queue serves nothing more until reset */
		add_flush(&e->d, &token);
		test_drv_kick(&e->d, 0);
		assert_null(test_drv_wait_used(&e->d, 0, NULL, QUIET_MS));
		/* reset and restart recover it, with the disk as it was */
		test_drv_stop(&e->d);
		assert_int_equal(vdpa_get_status(e->vdev), 0);
		assert_int_equal(
			test_drv_start(&e->d, e->vdev, ~0ull, 1, QSIZE, 0), 0);
		assert_int_equal(vdpa_get_status(e->vdev) &
					 VIRTIO_CONFIG_S_NEEDS_RESET,
				 0);
		write_read(&e->d, VIRTIO_BLK_T_OUT, 30, 4096, 40 + i);
	}
	test_drv_stop(&od);
}

/* ---- lifecycle ---- */

static void blk_reset_restart(void **state)
{
	struct blk_env *e = *state;
	uint8_t w[4096], r[4096];
	uint32_t gen = e->vdev->config->get_generation(e->vdev);

	test_fill(w, sizeof(w), 50);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_OUT, 60, w, sizeof(w), true),
			 VIRTIO_BLK_S_OK);
	for (int i = 0; i < 3; i++) {
		test_drv_stop(&e->d);
		assert_int_equal(vdpa_get_status(e->vdev), 0);
		assert_int_equal(e->vdev->config->get_driver_features(e->vdev),
				 0);
		assert_int_not_equal(e->vdev->config->get_generation(e->vdev),
				     gen);
		gen = e->vdev->config->get_generation(e->vdev);
		/* a different ring size each time; indices start over */
		assert_int_equal(
			test_drv_start(&e->d, e->vdev, ~0ull, 1, 64 << i, 0),
			0);
		memset(r, 0, sizeof(r));
		assert_int_equal(
			io(&e->d, VIRTIO_BLK_T_IN, 60, r, sizeof(r), false),
			VIRTIO_BLK_S_OK);
		assert_memory_equal(r, w, sizeof(w));
	}
}

static void blk_suspend_resume(void **state)
{
	struct blk_env *e = *state;
	struct vdpa_vq_state vs = { 0 };
	struct test_blk_req r;
	uint8_t buf[SECTOR];

	for (int i = 0; i < 5; i++)
		assert_int_equal(
			io(&e->d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
			VIRTIO_BLK_S_OK);
	assert_int_equal(vdpa_suspend(e->vdev), 0);
	assert_int_equal(vdpa_get_vq_state(e->vdev, 0, &vs), 0);
	assert_int_equal(vs.split.avail_index, 5);
	assert_int_equal(
		test_blk_submit(&e->d, &r, VIRTIO_BLK_T_OUT, 70, SECTOR, true),
		0);
	test_fill(r.data, SECTOR, 51);
	vq_drv_kick_prepare(&e->d.vq[0]);
	vdpa_kick_vq(e->vdev, 0); /* always, whatever the flags say */
	assert_null(test_drv_wait_used(&e->d, 0, NULL, QUIET_MS));
	assert_int_equal(*r.status, 0xff);
	/* config access works while suspended */
	assert_int_equal(vdpa_get_config(e->vdev, 0, buf, 8), 0);
	assert_int_equal(vdpa_resume(e->vdev), 0);
	assert_ptr_equal(test_drv_wait_used(&e->d, 0, NULL, WAIT_MS), &r);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(vdpa_get_vq_state(e->vdev, 0, &vs), 0);
	assert_int_equal(vs.split.avail_index, 6);
	test_fill(r.data, SECTOR, 51);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_IN, 70, buf, SECTOR, false),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(buf, r.data, SECTOR);
}

/* The vq state survives a reset when set before enabling (migration). */
static void blk_vq_state_restore(void **state)
{
	struct blk_env *e = *state;
	struct test_drv *d = &e->d;
	struct vdpa_vq_state vs = { .split.avail_index = 0 };

	for (int i = 0; i < 3; i++)
		assert_int_equal(io(d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
				 VIRTIO_BLK_S_OK);
	assert_int_equal(vdpa_suspend(e->vdev), 0);
	assert_int_equal(vdpa_get_vq_state(e->vdev, 0, &vs), 0);
	assert_int_equal(vs.split.avail_index, 3);
	/* a device that resumes after a ready toggle keeps its position */
	assert_int_equal(vdpa_set_vq_ready(e->vdev, 0, false), 0);
	assert_int_equal(vdpa_set_vq_state(e->vdev, 0, &vs), 0);
	assert_int_equal(vdpa_set_vq_ready(e->vdev, 0, true), 0);
	assert_int_equal(vdpa_resume(e->vdev), 0);
	assert_int_equal(io(d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(vdpa_get_vq_state(e->vdev, 0, &vs), 0);
	assert_int_equal(vs.split.avail_index, 4);
}

/* The vhost-user doorbell: a kick fd the worker waits on directly. */
static void blk_kickfd(void **state)
{
	struct blk_env *e = *state;
	struct test_blk_req r;
	uint64_t one = 1;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(fd >= 0);
	assert_int_equal(vdpa_set_vq_kickfd(e->vdev, 0, fd), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(test_blk_submit(&e->d, &r, VIRTIO_BLK_T_FLUSH,
						 0, 0, false),
				 0);
		vq_drv_kick_prepare(&e->d.vq[0]);
		assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
		assert_ptr_equal(test_drv_wait_used(&e->d, 0, NULL, WAIT_MS),
				 &r);
		assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	}
	/* back to kick_vq */
	assert_int_equal(vdpa_set_vq_kickfd(e->vdev, 0, -1), 0);
	close(fd);
	write_read(&e->d, VIRTIO_BLK_T_OUT, 5, 4096, 53);
}

/* Map updates while running keep the queue where it was. */
static void blk_map_change_running(void **state)
{
	struct blk_env *e = *state;
	const struct vdpa_config_ops *ops = e->vdev->config;
	struct test_blk_req r;
	struct vdpa_iotlb tlb;
	static uint8_t extra[8192];

	write_read(&e->d, VIRTIO_BLK_T_OUT, 90, 4096, 54);
	/* a request queued before the change, kicked after it */
	assert_int_equal(
		test_blk_submit(&e->d, &r, VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
	drv_mem_iotlb(&e->d.mem, &tlb);
	assert_int_equal(ops->set_map(e->vdev, 0, &tlb), 0);
	vdpa_iotlb_clear(&tlb);
	assert_int_equal(ops->dma_map(e->vdev, 0, 0x1000, sizeof(extra), extra,
				      VDPA_PERM_RW, NULL),
			 0);
	test_drv_kick(&e->d, 0);
	assert_ptr_equal(test_drv_wait_used(&e->d, 0, NULL, WAIT_MS), &r);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(ops->dma_unmap(e->vdev, 0, 0x1000, sizeof(extra)), 0);
	write_read(&e->d, VIRTIO_BLK_T_OUT, 91, 4096, 55);
	assert_int_equal(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET,
			 0);
	assert_int_equal(ops->set_map(e->vdev, 1, &tlb), -EINVAL);
}

/* Deleting a device with a running data path is clean. */
static void blk_delete_running(void **state)
{
	struct blk_env *e = *state;
	struct test_blk_req r;

	for (int i = 0; i < 8; i++)
		assert_int_equal(test_blk_submit(&e->d, &r, VIRTIO_BLK_T_IN, i,
						 4096, false),
				 0);
	test_drv_kick(&e->d, 0);
	assert_int_equal(vdpa_dev_del(e->tb.bus, "blk0", NULL), 0);
	e->d.vdev = NULL; /* gone: test_drv_stop must not reset it */
	/* the name is free again, and the new device is a new disk */
	e->vdev = test_dev_add(&e->tb, e->tb.blk, "blk0", NULL);
	assert_non_null(e->vdev);
	test_drv_stop(&e->d);
	assert_int_equal(test_drv_start(&e->d, e->vdev, ~0ull, 1, QSIZE, 0), 0);
	write_read(&e->d, VIRTIO_BLK_T_OUT, 0, 4096, 52);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, blk_setup, blk_teardown)
	const struct CMUnitTest tests[] = {
		T(blk_many_in_flight),	   T(blk_malformed_ring),
		T(blk_reset_restart),	   T(blk_suspend_resume),
		T(blk_vq_state_restore),   T(blk_kickfd),
		T(blk_map_change_running), T(blk_delete_running),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
