// SPDX-License-Identifier: MIT
/*
 * uvdpa's vhost-user front end against uvdpa's own back end, in one
 * process (vu_env.h): the handshake, blk I/O, net loopback, a second front
 * end, NEEDS_RESET reaching the front end's SET_VRING_ERR fd, memory
 * removed or replaced under the rings, hang-ups with requests in flight,
 * call and kick fds that are not what they should be, and a socket path
 * too long to bind.
 * test_vu_messages.c sends every message of the back end's table, and
 * malformed ones.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vu_env.h"

/* ---- tests: the working paths ---- */

static void test_handshake_blk(void **state)
{
	struct env *e = *state;
	struct vdpa_device *v = e->vdev[BLK];
	uint64_t dev = v->config->get_device_features(v);
	uint8_t status = 0;
	uint64_t cap = 0;
	struct vu_fe fe;

	blk_open(&fe, e);
	assert_int_equal(fe.dev_features,
			 (dev & ~BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)) |
				 BIT_ULL(VU_F_PROTOCOL_FEATURES));
	assert_int_equal(fe.protocol_features, VU_FE_PROTOCOL_DEFAULT);
	assert_int_equal(fe.queue_num, v->nvqs);
	assert_int_equal(fe.max_mem_slots, VU_MAX_MEM_SLOTS);
	assert_true(fe.vring_enable);
	assert_int_equal(vu_fe_get_status(&fe, &status), 0);
	assert_int_equal(status, VIRTIO_CONFIG_S_ACKNOWLEDGE |
					 VIRTIO_CONFIG_S_DRIVER |
					 VIRTIO_CONFIG_S_FEATURES_OK |
					 VIRTIO_CONFIG_S_DRIVER_OK);
	assert_int_equal(vu_fe_get_config(&fe, 0, &cap, sizeof(cap)), 0);
	assert_int_equal(le64toh(cap), SECTORS);
	vu_fe_close(&fe);
}

static void blk_patterns(struct vu_fe *fe, bool poll_ring)
{
	static const uint64_t sectors[] = { 0, 8, 4096, SECTORS - 8 };
	struct blk_io io;

	blk_io_init(fe, &io, 4096);
	if (poll_ring)
		vq_drv_disable_cb(&fe->vqs[0].drv);
	for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++)
		blk_check_data(fe, &io, sectors[i], poll_ring);
	/* past the end of the disk */
	assert_int_equal(blk_do(fe, &io, VIRTIO_BLK_T_IN, SECTORS, poll_ring),
			 VIRTIO_BLK_S_IOERR);
}

static void test_blk_io(void **state)
{
	struct env *e = *state;
	struct vu_fe fe;

	blk_open(&fe, e);
	blk_patterns(&fe, false);
	blk_patterns(&fe, true);
	vu_fe_close(&fe);
}

/* Many requests in flight at once, completed in any order. */
static void test_blk_depth(void **state)
{
	struct env *e = *state;
	struct blk_io io[32];
	struct vu_fe fe;
	unsigned int done = 0;

	blk_open(&fe, e);
	for (int i = 0; i < 32; i++) {
		blk_io_init(&fe, &io[i], 4096);
		test_fill(io[i].data, 4096, 100 + i);
		blk_submit(&fe, &io[i], VIRTIO_BLK_T_OUT, 8 * (100 + i));
	}
	vu_fe_kick(&fe, 0);
	while (done < 32) {
		struct blk_io *r = wait_used(&fe, 0, NULL, false);

		assert_non_null(r);
		assert_int_equal(*r->status, VIRTIO_BLK_S_OK);
		done++;
	}
	for (int i = 0; i < 32; i++) {
		uint8_t want[4096];

		test_fill(want, sizeof(want), 100 + i);
		memset(io[i].data, 0, 4096);
		assert_int_equal(blk_do(&fe, &io[i], VIRTIO_BLK_T_IN,
					8 * (100 + i), true),
				 VIRTIO_BLK_S_OK);
		assert_memory_equal(io[i].data, want, sizeof(want));
	}
	vu_fe_close(&fe);
}

/* A buffer across two regions, which the back end maps apart. */
static void blk_across_regions(struct vu_fe *fe)
{
	size_t part = ARENA / fe->nregions;
	struct blk_io io;

	io.hdr = vu_fe_alloc(fe, 16, 16, &io.bufs[0].iova);
	io.status = vu_fe_alloc(fe, 1, 1, &io.bufs[2].iova);
	assert_true(fe->mem_used < part - 4096);
	assert_non_null(vu_fe_alloc(fe, part - 4096 - fe->mem_used, 1, NULL));
	io.data = vu_fe_alloc(fe, 8192, 1, &io.bufs[1].iova);
	assert_int_equal(io.bufs[1].iova, GPA + part - 4096);
	io.bufs[0].len = 16;
	io.bufs[1].len = 8192;
	io.bufs[2].len = 1;
	blk_check_data(fe, &io, 640, false);
}

/* The memory and protocol variants a front end may choose. */
static void blk_variant(struct env *e, unsigned int nregions, bool slots,
			uint64_t mask, uint64_t want)
{
	struct vu_fe_cfg cfg = fe_cfg(e, BLK);
	struct vu_fe fe;
	struct blk_io io;

	cfg.nregions = nregions;
	cfg.mem_slots = slots;
	cfg.protocol_mask = mask;
	fe_open_cfg(&fe, &cfg);
	assert_int_equal(vu_fe_start(&fe, want, 1, QSIZE, 0), 0);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 64 + nregions, false);
	if (nregions > 1)
		blk_across_regions(&fe);
	vu_fe_close(&fe);
}

static void test_blk_variants(void **state)
{
	struct env *e = *state;
	uint64_t no30 = ~BIT_ULL(VU_F_PROTOCOL_FEATURES);

	blk_variant(e, 4, false, 0, ~0ull); /* SET_MEM_TABLE, 4 regions */
	blk_variant(e, 8, true, 0, ~0ull); /* ADD_MEM_REG x 8 */
	/* no REPLY_ACK, no STATUS: the back end drives the status */
	blk_variant(e, 1, false, VU_FE_PROTOCOL_NONE, ~0ull);
	blk_variant(e, 2, false, 1ull << VU_PROTOCOL_F_CONFIG, ~0ull);
	/* bit 30 not acked: rings run without SET_VRING_ENABLE */
	blk_variant(e, 1, false, 0, no30);
	blk_variant(e, 1, false, VU_FE_PROTOCOL_NONE, no30);
}

/* GET_VRING_BASE stops a ring where it was; it starts again from there. */
static void test_blk_stop_restart(void **state)
{
	struct env *e = *state;
	struct vu_fe fe;
	struct blk_io io;

	blk_open(&fe, e);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 24, false);
	assert_int_equal(vu_fe_stop(&fe), 0);
	assert_int_equal(fe.vqs[0].base, 2);
	assert_false(fe.vqs[0].started);
	/* stopped: a request waits in the ring */
	blk_submit(&fe, &io, VIRTIO_BLK_T_IN, 24);
	vu_fe_kick(&fe, 0);
	usleep(50 * 1000);
	assert_null(vq_drv_get_used(&fe.vqs[0].drv, NULL));
	assert_int_equal(vu_fe_vq_start(&fe, 0), 0);
	vu_fe_kick(&fe, 0);
	assert_ptr_equal(wait_used(&fe, 0, NULL, false), &io);
	assert_int_equal(*io.status, VIRTIO_BLK_S_OK);
	assert_int_equal(vu_fe_vq_stop(&fe, 0), 0);
	assert_int_equal(fe.vqs[0].base, 3);
	/* a reset forgets the rings; a new start works */
	assert_int_equal(vu_fe_reset(&fe), 0);
	assert_null(fe.vqs);
	assert_int_equal(vu_fe_start(&fe, ~0ull, 1, QSIZE, 0), 0);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 32, true);
	vu_fe_close(&fe);
}

static void test_net_loopback(void **state)
{
	struct env *e = *state;
	uint8_t mac[6] = { 0 };
	struct vu_fe fe;

	net_open(&fe, e);
	assert_int_equal(fe.queue_num, 1); /* queue pairs */
	assert_true(fe.protocol_offered & BIT_ULL(VU_PROTOCOL_F_NET_MTU));
	assert_int_equal(vu_fe_get_config(&fe, 0, mac, 6), 0);
	assert_memory_equal(mac, MYMAC, 6);
	for (uint8_t i = 0; i < 8; i++)
		net_loop_one(&fe, i);
	net_post_rx(&fe);
	net_send(&fe, BCAST, 9);
	net_recv(&fe, BCAST, 9);
	/* another MAC: the filter drops it, the buffer takes the next */
	net_post_rx(&fe);
	net_send(&fe, OTHER, 10);
	net_send(&fe, MYMAC, 11);
	net_recv(&fe, MYMAC, 11);
	/* a burst larger than the device's batch */
	for (uint8_t i = 0; i < 100; i++)
		net_post_rx(&fe);
	for (uint8_t i = 0; i < 100; i++)
		net_send(&fe, MYMAC, (uint8_t)(20 + i));
	for (uint8_t i = 0; i < 100; i++)
		net_recv(&fe, MYMAC, (uint8_t)(20 + i));
	assert_int_equal(vu_fe_set_u64(&fe, VU_NET_SET_MTU, 1500, NULL, 0), 0);
	assert_int_equal(vu_backend_mtu(e->be[NET]), 1500);
	vu_fe_close(&fe);
}

/* One front end at a time: a second is hung up on. */
static void test_second_front_end(void **state)
{
	struct env *e = *state;
	struct vu_fe_cfg cfg = fe_cfg(e, BLK);
	struct vu_fe fe, fe2;
	struct blk_io io;

	blk_open(&fe, e);
	assert_int_equal(vu_fe_connect(&fe2, &cfg), -ECONNRESET);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 16, false);
	vu_fe_close(&fe);
	blk_alive(e);
}

/* ---- NEEDS_RESET ---- */

static bool errfd_fired(struct vu_fe *fe, uint16_t idx)
{
	struct pollfd p = { fe->vqs[idx].errfd, POLLIN, 0 };
	uint64_t v;

	if (poll(&p, 1, WAIT_MS) != 1)
		return false;
	return read(p.fd, &v, sizeof(v)) == sizeof(v) && v >= 1;
}

static void kick_raw(struct vu_fe *fe)
{
	uint64_t one = 1;

	assert_int_equal(write(fe->vqs[0].kickfd, &one, 8), 8);
}

/* Break @fe's ring in one of the ways a device must survive. */
static void break_ring(struct vu_fe *fe, struct blk_io *io, int how)
{
	struct vq_drv *vq = &fe->vqs[0].drv;
	struct vq_buf bad[2] = { { 0x1000, 16 }, io->bufs[2] };
	uint16_t head = vq->free_head, last;

	switch (how) {
	case 0: /* a descriptor outside guest memory */
		assert_int_equal(vq_drv_add(vq, bad, 1, 1, io), 0);
		break;
	case 1: /* no writable byte: nowhere to put a status */
		assert_int_equal(vq_drv_add(vq, io->bufs, 2, 0, io), 0);
		break;
	case 2: /* the avail index runs more than a ring ahead */
		vq->avail_idx += QSIZE + 1;
		break;
	default: /* a descriptor chain that loops */
		assert_int_equal(vq_drv_add(vq, io->bufs, 1, 2, io), 0);
		last = le16toh(vq->desc[le16toh(vq->desc[head].next)].next);
		vq->desc[last].flags |= htole16(VRING_DESC_F_NEXT);
		vq->desc[last].next = htole16(head);
		break;
	}
	vq_drv_kick_prepare(vq);
	kick_raw(fe);
}

static void needs_reset_case(struct env *e, struct vu_fe *net, int how)
{
	struct vu_fe fe;
	struct blk_io io;
	uint8_t status = 0;

	blk_open(&fe, e);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 8, false);
	break_ring(&fe, &io, how);
	assert_true(errfd_fired(&fe, 0));
	assert_int_equal(vu_fe_get_status(&fe, &status), 0);
	assert_true(status & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* the other device never noticed */
	net_loop_one(net, (uint8_t)how);
	/* a reset and a new start bring the device back */
	assert_int_equal(vu_fe_reset(&fe), 0);
	assert_int_equal(vu_fe_get_status(&fe, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(vu_fe_start(&fe, ~0ull, 1, QSIZE, 0), 0);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 16, false);
	vu_fe_close(&fe);
}

static void test_needs_reset(void **state)
{
	struct env *e = *state;
	struct vu_fe net;

	net_open(&net, e);
	for (int how = 0; how < 4; how++)
		needs_reset_case(e, &net, how);
	survived(e, &net, 7);
	vu_fe_close(&net);
}

/* The region holding a running ring is taken away: NEEDS_RESET, no crash. */
static void test_ring_memory_removed(void **state)
{
	struct env *e = *state;
	struct vu_fe_cfg cfg = fe_cfg(e, BLK);
	struct vu_mem_single one = { 0 };
	struct vu_fe fe, net;
	struct blk_io io;

	net_open(&net, e);
	cfg.nregions = 2;
	cfg.mem_slots = true;
	fe_open_cfg(&fe, &cfg);
	assert_int_equal(vu_fe_start(&fe, ~0ull, 1, QSIZE, 0), 0);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 8, false);
	one.region =
		(struct vu_mem_region){ GPA, ARENA / 2, (uintptr_t)fe.mem, 0 };
	assert_int_equal(
		vu_fe_request(&fe, VU_REM_MEM_REG, &one, sizeof(one), NULL, 0),
		0);
	blk_submit(&fe, &io, VIRTIO_BLK_T_IN, 8);
	vq_drv_kick_prepare(&fe.vqs[0].drv);
	kick_raw(&fe);
	assert_true(errfd_fired(&fe, 0));
	vu_fe_close(&fe);
	survived(e, &net, 1);
	vu_fe_close(&net);
}

/* The memory table replaced under a running ring: I/O goes on. */
static void test_mem_table_replaced(void **state)
{
	struct env *e = *state;
	struct vu_fe fe;
	struct blk_io io;

	blk_open(&fe, e);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 8, false);
	fe.nregions = 4; /* the same memory, cut differently */
	assert_int_equal(vu_fe_set_mem(&fe), 0);
	blk_check_data(&fe, &io, 16, true);
	vu_fe_close(&fe);
}

/* A front end that hangs up with requests in flight. */
static void test_hangup_in_flight(void **state)
{
	struct env *e = *state;
	struct blk_io io[40];
	struct vu_fe fe;

	for (int round = 0; round < 8; round++) {
		blk_open(&fe, e);
		for (int i = 0; i < 40; i++) {
			blk_io_init(&fe, &io[i], 4096);
			blk_submit(&fe, &io[i],
				   i & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
				   8 * (uint64_t)i);
		}
		vu_fe_kick(&fe, 0);
		if (round & 1)
			usleep(100);
		vu_fe_close(&fe);
	}
	blk_alive(e);
}

/*
 * A blocking eventfd at its maximum as a call fd must not block the
 * worker, which serves other devices too, nor the control thread, which
 * waits for the worker when it stops the device: the back end makes
 * call fds non-blocking.
 */
static void test_blocking_call_fd(void **state)
{
	struct env *e = *state;
	uint64_t big = 0xfffffffffffffffeull;
	struct vu_fe fe, net;
	struct blk_io io;
	struct vq_buf b = { .len = NET_HDR + FRAME };
	uint8_t *p;
	bool net_ok;
	int efd;

	net_open(&net, e);
	blk_open(&fe, e);
	blk_io_init(&fe, &io, 4096);
	efd = eventfd(0, EFD_CLOEXEC); /* blocking */
	assert_int_equal(write(efd, &big, 8), 8);
	assert_int_equal(vu_fe_set_u64(&fe, VU_SET_VRING_CALL, 0, &efd, 1), 0);
	blk_submit(&fe, &io, VIRTIO_BLK_T_IN, 0);
	vu_fe_kick(&fe, 0); /* the worker blocks in write(efd) */
	net_post_rx(&net);
	p = vu_fe_alloc(&net, NET_HDR + FRAME, 64, &b.iova);
	frame_fill(p, MYMAC, 1);
	assert_int_equal(vq_drv_add(&net.vqs[1].drv, &b, 1, 0, p), 0);
	vu_fe_kick(&net, 1);
	net_ok = wait_used(&net, 1, NULL, true) != NULL;
	assert_int_equal(read(efd, &big, 8), 8); /* unblock it */
	close(efd);
	vu_fe_close(&fe);
	vu_fe_close(&net);
	assert_true(net_ok);
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A kick fd that is not an eventfd and stays readable (a pipe at EOF)
 * would make the shared worker spin: the back end refuses it, and the
 * device and worker stay idle.
 */
static void test_readable_kick_fd(void **state)
{
	struct env *e = *state;
	struct vu_fe fe;
	struct blk_io io;
	double c0, idle, spin;
	int p[2];

	blk_open(&fe, e);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 8, false);
	c0 = cpu_now();
	usleep(500 * 1000);
	idle = cpu_now() - c0;
	assert_int_equal(vu_fe_vq_stop(&fe, 0), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[1]); /* the read end is at EOF: readable for ever */
	close(fe.vqs[0].kickfd);
	fe.vqs[0].kickfd = p[0];
	assert_int_equal(vu_fe_vq_start(&fe, 0), -EINVAL);
	c0 = cpu_now();
	usleep(500 * 1000);
	spin = cpu_now() - c0;
	vu_fe_close(&fe);
	print_message("CPU in 0.5 s: %.3f s with an eventfd kick, %.3f s "
		      "with a pipe at EOF\n",
		      idle, spin);
	assert_true(spin < 0.1);
}

/*
 * A socket path longer than a UNIX address holds is refused whole: cut
 * short, it could name another device's socket, which bind would replace.
 */
static void test_path_too_long(void **state)
{
	struct env *e = *state;
	struct vdpa_device *vdev =
		test_dev_add(&e->tb, e->tb.blk, "blk9", NULL);
	char path[200], cut[108];
	struct vu_backend_cfg cfg = { .owner = (uid_t)-1, .group = (gid_t)-1 };
	int err = 0;

	assert_non_null(vdev);
	snprintf(path, sizeof(path), "%s/%0120d", e->dir, 0);
	memcpy(cut, path, sizeof(cut) - 1);
	cut[sizeof(cut) - 1] = '\0';
	cfg.path = path;
	assert_null(vu_backend_new(vdev, &cfg, &err));
	assert_int_equal(err, -ENAMETOOLONG);
	assert_int_equal(access(cut, F_OK), -1); /* nothing bound there */
	assert_int_equal(vdpa_dev_del(e->tb.bus, "blk9", NULL), 0);
}

/* Each test gets fresh devices, back ends and back-end thread. */

/* Each test gets fresh devices, back ends and back-end thread. */
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		T(test_handshake_blk),
		T(test_blk_io),
		T(test_blk_depth),
		T(test_blk_variants),
		T(test_blk_stop_restart),
		T(test_net_loopback),
		T(test_second_front_end),
		T(test_needs_reset),
		T(test_ring_memory_removed),
		T(test_mem_table_replaced),
		T(test_hangup_in_flight),
		T(test_blocking_call_fd),
		T(test_readable_kick_fd),
		T(test_path_too_long),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, NULL, NULL);
}
