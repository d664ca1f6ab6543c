// SPDX-License-Identifier: MIT
/*
 * vdpasim_net's data path driven through real driver-side rings: loopback
 * and its MAC filter, header lengths, overruns, batches, the vendor
 * counters, malformed rings and suspend (reference §4.2, §10.6, §11 items
 * 4-5 and the uvdpa differences noted at the top of §11).
 * test_sim_net_ctrl.c covers configuration and the control queue.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "sim_net_env.h"

/* ---- loopback ---- */

static void net_loopback_accepts(void **state)
{
	struct net_env *e = *state;
	const uint8_t *dsts[] = { BCAST, MCAST, MYMAC, BCAST, MYMAC };
	const uint32_t lens[] = { 60, 1514, 12 + 6, 9000, 64 };
	struct buf *f[5], *r[5];
	struct counts c = { 0 };

	for (unsigned int i = 0; i < 5; i++)
		r[i] = rx_post(e, 9100, 1 + i % 3);
	test_drv_kick(&e->d, RXQ);
	for (unsigned int i = 0; i < 5; i++) {
		f[i] = frame(e, dsts[i], lens[i], 10 + i);
		add_split(&e->d, TXQ, f[i], 1 + (i & 1) * 4, false);
		c.tx_bytes += lens[i];
	}
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, 5);
	for (unsigned int i = 0; i < 5; i++)
		rx_expect(e, r[i], f[i]);
	rx_none(e);
	c.rx_pkts = c.tx_pkts = 5;
	c.rx_bytes = c.tx_bytes;
	assert_counts(e, &c);
}

/* Frames are copied whole: no cut at 4096 bytes (reference §11 note). */
static void net_big_frame(void **state)
{
	struct net_env *e = *state;
	struct buf *r = rx_post(e, 3 * 4096, 3), *f;

	test_drv_kick(&e->d, RXQ);
	f = frame(e, BCAST, 4096 + 1904, 20);
	add_split(&e->d, TXQ, f, 3, false);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, &f, 1);
	rx_expect(e, r, f);
	assert_int_equal(vstat(e, RXQ, "rx bytes"), 6000);
	/* an exact fit, over many small pieces */
	r = rx_post(e, 12000, 16);
	test_drv_kick(&e->d, RXQ);
	f = frame(e, MYMAC, 12000, 21);
	add_split(&e->d, TXQ, f, 7, false);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, &f, 1);
	rx_expect(e, r, f);
	assert_int_equal(vstat(e, RXQ, "rx errors"), 0);
}

/*
 * A frame over 64 KiB + a VLAN-tagged Ethernet header is not copied, even
 * with room for it: counted as a TX error, no RX; a largest one still is.
 */
static void net_oversized_frame(void **state)
{
	struct net_env *e = *state;
	const uint32_t hdr = 12, max = 65535 + 14 + 4;
	struct buf *r = rx_post(e, 2 * (hdr + max + 1), 4), *f;

	test_drv_kick(&e->d, RXQ);
	f = frame(e, BCAST, hdr + max + 1, 30);
	send_one(e, f);
	rx_none(e);
	assert_int_equal(vstat(e, TXQ, "tx errors"), 1);
	assert_int_equal(vstat(e, RXQ, "rx packets"), 0);
	f = frame(e, BCAST, hdr + max, 31);
	send_one(e, f);
	rx_expect(e, r, f);
	assert_int_equal(vstat(e, TXQ, "tx errors"), 1);
}

/* Another unicast MAC is dropped; a short frame too. */
static void net_filter(void **state)
{
	struct net_env *e = *state;
	struct buf *r[2], *f[4];

	r[0] = rx_post(e, 2048, 1);
	r[1] = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f[0] = frame(e, OTHER, 100, 30);
	f[1] = frame(e, NEWMAC, 100, 31);
	f[2] = frame(e, BCAST, e->hdr + 5, 32); /* too short for a MAC */
	f[3] = frame(e, BCAST, 80, 33); /* the sentinel */
	send_all(e, f, 4);
	/* the sentinel took the first buffer: nothing before it did */
	rx_expect(e, r[0], f[3]);
	rx_none(e);
	assert_int_equal(vstat(e, RXQ, "rx drops"), 3);
	assert_int_equal(vstat(e, RXQ, "rx packets"), 1);
	assert_int_equal(vstat(e, TXQ, "tx packets"), 4);
	assert_int_equal(vstat(e, TXQ, "tx bytes"),
			 100 + 100 + e->hdr + 5 + 80);
}

/*
 * The filter looks right after the header, whose length is 12 bytes with
 * VERSION_1 and 10 without: a frame laid out for the other length misses.
 */
static void check_header_len(struct net_env *e)
{
	size_t wrong = e->hdr == HDR_V1 ? HDR_LEGACY : HDR_V1;
	struct buf *r = rx_post(e, 2048, 1), *f[2];

	test_drv_kick(&e->d, RXQ);
	f[0] = frame_at(e, wrong, MYMAC, 100, 40);
	f[1] = frame_at(e, e->hdr, MYMAC, 100, 41);
	send_all(e, f, 2);
	rx_expect(e, r, f[1]);
	assert_int_equal(vstat(e, RXQ, "rx drops"), 1);
}

static void net_header_v1(void **state)
{
	check_header_len(*state);
}

static void net_header_legacy(void **state)
{
	struct net_env *e = *state;

	assert_int_equal(e->hdr, HDR_LEGACY);
	assert_false(e->vdev->config->get_driver_features(e->vdev) &
		     BIT_ULL(VIRTIO_F_VERSION_1));
	check_header_len(e);
}

/* No RX buffer: the frame is dropped, counted, and TX goes on. */
static void net_rx_overrun(void **state)
{
	struct net_env *e = *state;
	struct buf *r, *f[3];

	f[0] = frame(e, BCAST, 100, 50);
	send_one(e, f[0]);
	assert_int_equal(vstat(e, RXQ, "rx overruns"), 1);
	assert_int_equal(vstat(e, TXQ, "tx packets"), 1);
	/* a buffer posted now does not get the lost frame */
	r = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	assert_null(test_drv_wait_used(&e->d, RXQ, NULL, QUIET_MS));
	/* one buffer, three frames: one delivered, two lost */
	for (unsigned int i = 0; i < 3; i++) {
		f[i] = frame(e, MYMAC, 200 + i, 51 + i);
		tx(e, f[i]);
	}
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, 3);
	rx_expect(e, r, f[0]);
	assert_int_equal(vstat(e, RXQ, "rx overruns"), 3);
	assert_int_equal(vstat(e, RXQ, "rx packets"), 1);
	assert_int_equal(vstat(e, TXQ, "tx packets"), 4);
	/* filtered frames need no buffer: a drop, not an overrun */
	f[0] = frame(e, OTHER, 100, 55);
	send_one(e, f[0]);
	assert_int_equal(vstat(e, RXQ, "rx overruns"), 3);
	assert_int_equal(vstat(e, RXQ, "rx drops"), 1);
}

/* An RX buffer too short for a frame comes back empty (rx errors). */
static void net_rx_too_short(void **state)
{
	struct net_env *e = *state;
	struct buf *small, *big, *f[2];
	uint32_t len = UINT32_MAX;

	small = rx_post(e, 64, 2);
	big = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f[0] = frame(e, BCAST, 65, 60);
	f[1] = frame(e, BCAST, 64, 61);
	send_all(e, f, 2);
	assert_ptr_equal(test_drv_wait_used(&e->d, RXQ, &len, WAIT_MS), small);
	assert_int_equal(len, 0);
	rx_expect(e, big, f[1]);
	assert_int_equal(vstat(e, RXQ, "rx errors"), 1);
	assert_int_equal(vstat(e, RXQ, "rx packets"), 1);
	assert_int_equal(vstat(e, RXQ, "rx bytes"), 64);
	assert_int_equal(vstat(e, RXQ, "rx overruns"), 0);
	assert_int_equal(vstat(e, TXQ, "tx packets"), 2);
}

/* 256 frames before one kick all come back, in order. */
static void net_batch(void **state)
{
	struct net_env *e = *state;
	static struct buf *f[QSIZE], *r[QSIZE];
	struct counts c = { 0 };

	for (int round = 0; round < 2; round++) {
		size_t mark = e->d.mem.used;
		unsigned int nb = e->nbufs, n = 0;

		for (unsigned int i = 0; i < QSIZE; i++)
			r[i] = rx_post(e, 1600, 1);
		test_drv_kick(&e->d, RXQ);
		for (unsigned int i = 0; i < QSIZE; i++) {
			/* the second round drops every fourth frame */
			bool drop = round && i % 4 == 3;

			f[i] = frame(e, drop ? OTHER : MYMAC, 60 + i * 5,
				     1000 * round + i);
			tx(e, f[i]);
			c.tx_bytes += f[i]->len;
			c.rx_drops += drop;
			c.rx_bytes += drop ? 0 : f[i]->len;
		}
		assert_int_equal(vq_drv_num_free(&e->d.vq[TXQ]), 0);
		test_drv_kick(&e->d, TXQ);
		tx_done(e, f, QSIZE);
		for (unsigned int i = 0; i < QSIZE; i++)
			if (!(round && i % 4 == 3))
				rx_expect(e, r[n++], f[i]);
		rx_none(e);
		c.tx_pkts += QSIZE;
		c.rx_pkts += n;
		assert_counts(e, &c);
		/* the unused buffers come back through a reset, not here */
		if (!round)
			e->d.mem.used = mark, e->nbufs = nb;
	}
}

/* ---- vstats ---- */

static void net_vstats_names(void **state)
{
	struct net_env *e = *state;
	static const char *const want[3][5] = {
		{ "rx packets", "rx bytes", "rx errors", "rx overruns",
		  "rx drops" },
		{ "tx packets", "tx bytes", "tx errors", "tx drops" },
		{ "cvq requests", "cvq successes", "cvq errors" },
	};
	static const int count[3] = { 5, 4, 3 };
	char names[16][32];
	uint64_t values[16];

	for (uint16_t q = 0; q < 3; q++) {
		memset(names, 0, sizeof(names));
		assert_int_equal(test_vstats(e->vdev, q, names, values, 16),
				 count[q]);
		for (int i = 0; i < count[q]; i++) {
			assert_string_equal(names[i], want[q][i]);
			assert_int_equal(values[i], 0);
		}
	}
	assert_int_equal(test_vstats(e->vdev, 3, names, values, 16), -EINVAL);
	assert_int_equal(test_vstats(e->vdev, 1000, names, values, 16),
			 -EINVAL);
	/* a writer that runs out of room stops the walk with its error */
	assert_int_equal(test_vstats(e->vdev, 0, names, values, 2), -EMSGSIZE);
}

/* Every counter after a known mix of traffic. */
static void net_vstats_values(void **state)
{
	struct net_env *e = *state;
	struct counts c = { 0 };
	struct buf *small, *r[2], *f[6];
	struct cmd cmd[2];
	uint32_t len;

	small = rx_post(e, 40, 1);
	r[0] = rx_post(e, 2048, 1);
	r[1] = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f[0] = frame(e, BCAST, 100, 1); /* too big for small: rx error */
	f[1] = frame(e, MYMAC, 200, 2); /* delivered */
	f[2] = frame(e, OTHER, 300, 3); /* dropped */
	f[3] = frame(e, MCAST, 400, 4); /* delivered */
	f[4] = frame(e, MYMAC, 500, 5); /* no buffer left: overrun */
	f[5] = frame(e, OTHER, 600, 6); /* dropped */
	send_all(e, f, 6);
	assert_ptr_equal(test_drv_wait_used(&e->d, RXQ, &len, WAIT_MS), small);
	assert_int_equal(len, 0);
	rx_expect(e, r[0], f[1]);
	rx_expect(e, r[1], f[3]);
	cvq_add(e, &cmd[0], VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
		MYMAC, 6);
	cvq_add(e, &cmd[1], VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD,
		"\x01\x00", 2);
	test_drv_kick(&e->d, CVQ);
	cvq_done(e, cmd, 2);
	c = (struct counts){
		.rx_pkts = 2,
		.rx_bytes = 600,
		.rx_err = 1,
		.rx_over = 1,
		.rx_drops = 2,
		.tx_pkts = 6,
		.tx_bytes = 2100,
		.cvq_req = 2,
		.cvq_ok = 1,
		.cvq_err = 1,
	};
	assert_counts(e, &c);
}

/* ---- malformed rings ---- */

/* Add a chain on @q whose only buffer lies outside the map. */
static void add_unmapped(struct net_env *e, uint16_t q, void *token)
{
	struct vq_buf v = { e->d.mem.iova + e->d.mem.size, 64 };

	assert_int_equal(vq_drv_add(&e->d.vq[q], &v, q == RXQ ? 0 : 1,
				    q == RXQ ? 1 : 0, token),
			 0);
}

static void net_malformed_tx(void **state)
{
	struct net_env *e = *state;
	struct buf *r = rx_post(e, 2048, 1), *f;
	int token;

	test_drv_kick(&e->d, RXQ);
	f = frame(e, BCAST, 100, 100);
	tx(e, f);
	add_unmapped(e, TXQ, &token);
	test_drv_kick(&e->d, TXQ);
	/* the frame taken before the bad chain still goes through */
	tx_done(e, &f, 1);
	rx_expect(e, r, f);
	assert_true(test_wait_status(e->vdev, VIRTIO_CONFIG_S_NEEDS_RESET,
				     WAIT_MS));
	assert_int_equal(vstat(e, TXQ, "tx errors"), 1);
	assert_int_equal(vstat(e, TXQ, "tx packets"), 1);
	assert_int_equal(vstat(e, RXQ, "rx errors"), 0);
	/* nothing more is taken from the broken queue */
	f = frame(e, BCAST, 100, 101);
	tx(e, f);
	test_drv_kick(&e->d, TXQ);
	assert_null(test_drv_wait_used(&e->d, TXQ, NULL, QUIET_MS));
	assert_int_equal(vstat(e, TXQ, "tx errors"), 1);
	assert_int_equal(vstat(e, TXQ, "tx packets"), 1);
	/* reset recovers */
	test_drv_stop(&e->d);
	e->nbufs = 0;
	assert_int_equal(test_drv_start(&e->d, e->vdev, ~0ull, 3, QSIZE, 0), 0);
	assert_int_equal(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET,
			 0);
	loop_one(e, BCAST, 102);
}

static void net_malformed_rx(void **state)
{
	struct net_env *e = *state;
	struct buf *r = rx_post(e, 2048, 1), *f[2];
	int token;

	add_unmapped(e, RXQ, &token);
	test_drv_kick(&e->d, RXQ);
	f[0] = frame(e, BCAST, 100, 110);
	send_one(e, f[0]);
	rx_expect(e, r, f[0]);
	f[1] = frame(e, BCAST, 100, 111);
	f[0] = frame(e, BCAST, 100, 112);
	tx(e, f[1]);
	tx(e, f[0]);
	test_drv_kick(&e->d, TXQ);
	assert_true(test_wait_status(e->vdev, VIRTIO_CONFIG_S_NEEDS_RESET,
				     WAIT_MS));
	/* the worker has finished with the batch once the state is read */
	assert_int_equal(vdpa_suspend(e->vdev), 0);
	assert_int_equal(vstat(e, RXQ, "rx errors"), 1);
	assert_int_equal(vstat(e, TXQ, "tx errors"), 0);
	assert_int_equal(vstat(e, RXQ, "rx packets"), 1);
}

static void net_malformed_cvq(void **state)
{
	struct net_env *e = *state;
	struct cmd c;
	int token;

	cvq_add(e, &c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
		NEWMAC, 6);
	add_unmapped(e, CVQ, &token);
	test_drv_kick(&e->d, CVQ);
	cvq_done(e, &c, 1);
	assert_int_equal(c.ack->p[0], VIRTIO_NET_OK);
	assert_true(test_wait_status(e->vdev, VIRTIO_CONFIG_S_NEEDS_RESET,
				     WAIT_MS));
	assert_int_equal(vdpa_suspend(e->vdev), 0);
	assert_int_equal(vstat(e, CVQ, "cvq requests"), 1);
	assert_int_equal(vstat(e, CVQ, "cvq successes"), 1);
	assert_int_equal(vstat(e, CVQ, "cvq errors"), 1);
}

/* ---- lifecycle ---- */

static void net_suspend_resume(void **state)
{
	struct net_env *e = *state;
	struct buf *r = rx_post(e, 2048, 1), *f;

	test_drv_kick(&e->d, RXQ);
	assert_int_equal(vdpa_suspend(e->vdev), 0);
	f = frame(e, BCAST, 100, 120);
	tx(e, f);
	vq_drv_kick_prepare(&e->d.vq[TXQ]);
	vdpa_kick_vq(e->vdev, TXQ);
	assert_null(test_drv_wait_used(&e->d, TXQ, NULL, QUIET_MS));
	assert_int_equal(vstat(e, TXQ, "tx packets"), 0);
	assert_int_equal(vdpa_resume(e->vdev), 0);
	tx_done(e, &f, 1);
	rx_expect(e, r, f);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, net_setup, net_teardown)
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, net_teardown)
	const struct CMUnitTest tests[] = {
		T(net_loopback_accepts),
		T(net_big_frame),
		T(net_oversized_frame),
		T(net_filter),
		T(net_header_v1),
		TS(net_header_legacy, net_setup_legacy),
		T(net_rx_overrun),
		T(net_rx_too_short),
		T(net_batch),
		T(net_vstats_names),
		T(net_vstats_values),
		T(net_malformed_tx),
		T(net_malformed_rx),
		T(net_malformed_cvq),
		T(net_suspend_resume),
	};
#undef T
#undef TS
	return cmocka_run_group_tests(tests, NULL, NULL);
}
