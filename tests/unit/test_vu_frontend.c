// SPDX-License-Identifier: MIT
/*
 * uvdpa's vhost-user front end against uvdpa's own back end, in one
 * process: a bus with the simulators, a vdpasim_blk and a vdpasim_net
 * device, each behind a vu_backend served by a thread (what uvdpad's
 * control thread does), and the front end driving them through real
 * sockets, real rings and real eventfds. Covers the handshake, blk I/O,
 * net loopback, every message of the back end's table, malformed
 * messages (each refused with an error ack or a disconnect, the back end
 * serving on), and NEEDS_RESET reaching the front end's SET_VRING_ERR fd.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/uapi.h>
#include <uvdpa/vu_backend.h>
#include <uvdpa/vu_frontend.h>

#include "helpers.h"

#define GPA 0x100000000ull /* not this process's address, on purpose */
#define ARENA (4u << 20)
#define QSIZE 128
#define WAIT_MS 5000
#define SECTORS 0x40000ull /* vdpasim_blk: 128 MiB */
#define NET_HDR 12 /* virtio_net_hdr_v1 */
#define FRAME 64
#define NBE 2

static const uint8_t MYMAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t OTHER[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- the back ends and their thread ---- */

struct env {
	struct test_bus tb;
	struct vdpa_device *vdev[NBE]; /* blk, net */
	struct vu_backend *be[NBE];
	char dir[64];
	char path[NBE][96];
	int stop_fd;
	pthread_t thread;
	int fds0; /* open fds before the back ends ran */
};

enum { BLK, NET };

static void be_log(void *ctx, enum vu_log_level level, const char *msg)
{
	if (getenv("VU_TEST_LOG"))
		fprintf(stderr, "# be: %s\n", msg);
}

static void be_serve(struct vu_backend *b, const struct pollfd *p)
{
	/* the connection first: a hang-up precedes the next connect */
	if (p[1].revents) {
		int ret = vu_backend_handle(b);

		if (ret < 0 || (p[1].revents & (POLLHUP | POLLERR)))
			vu_backend_disconnect(b);
	}
	if (p[2].revents & POLLIN)
		vu_backend_device_event(b);
	if (p[0].revents & POLLIN)
		vu_backend_accept(b);
}

/* uvdpad's control thread, in short: every back end's fds in one poll. */
static void *be_thread(void *arg)
{
	struct env *e = arg;

	for (;;) {
		struct pollfd p[1 + 3 * NBE] = { { e->stop_fd, POLLIN, 0 } };

		for (int i = 0; i < NBE; i++) {
			p[1 + 3 * i] =
				(struct pollfd){ vu_backend_listen_fd(e->be[i]),
						 POLLIN, 0 };
			p[2 + 3 * i] =
				(struct pollfd){ vu_backend_conn_fd(e->be[i]),
						 POLLIN, 0 };
			p[3 + 3 * i] =
				(struct pollfd){ vu_backend_event_fd(e->be[i]),
						 POLLIN, 0 };
		}
		if (poll(p, 1 + 3 * NBE, -1) < 0)
			continue;
		if (p[0].revents)
			return NULL;
		for (int i = 0; i < NBE; i++)
			be_serve(e->be[i], &p[1 + 3 * i]);
	}
}

static struct vu_backend *be_new(struct env *e, int i)
{
	struct vu_backend_cfg cfg = {
		.path = e->path[i],
		.owner = (uid_t)-1,
		.group = (gid_t)-1,
		.log = be_log,
	};
	struct vu_backend *b;
	int err = 0;

	b = vu_backend_new(e->vdev[i], &cfg, &err);
	assert_non_null(b);
	return b;
}

static int env_setup(void **state)
{
	struct vdpa_dev_set_config mac = {
		.mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR),
	};
	struct env *e = test_calloc(1, sizeof(*e));

	assert_non_null(e);
	e->fds0 = test_count_fds();
	memcpy(mac.net.mac, MYMAC, 6);
	assert_int_equal(test_bus_init(&e->tb, 1), 0);
	e->vdev[BLK] = test_dev_add(&e->tb, e->tb.blk, "blk0", NULL);
	e->vdev[NET] = test_dev_add(&e->tb, e->tb.net, "net0", &mac);
	assert_non_null(e->vdev[BLK]);
	assert_non_null(e->vdev[NET]);
	snprintf(e->dir, sizeof(e->dir), "/tmp/vufe-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path[BLK], sizeof(e->path[BLK]), "%s/blk0", e->dir);
	snprintf(e->path[NET], sizeof(e->path[NET]), "%s/net0", e->dir);
	e->be[BLK] = be_new(e, BLK);
	e->be[NET] = be_new(e, NET);
	e->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(e->stop_fd >= 0);
	assert_int_equal(pthread_create(&e->thread, NULL, be_thread, e), 0);
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	uint64_t one = 1;

	assert_int_equal(write(e->stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(e->thread, NULL);
	close(e->stop_fd);
	vu_backend_free(e->be[BLK]);
	vu_backend_free(e->be[NET]);
	test_bus_done(&e->tb);
	rmdir(e->dir);
	/* nothing the back ends received was left open */
	assert_int_equal(test_count_fds(), e->fds0);
	test_free(e);
	return 0;
}

/* ---- front ends ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct vu_fe_cfg fe_cfg(struct env *e, int dev)
{
	return (struct vu_fe_cfg){
		.path = e->path[dev],
		.mem_size = ARENA,
		.mem_gpa = GPA,
	};
}

static void fe_open_cfg(struct vu_fe *fe, const struct vu_fe_cfg *cfg)
{
	assert_int_equal(vu_fe_connect(fe, cfg), 0);
}

static void fe_open(struct vu_fe *fe, struct env *e, int dev)
{
	struct vu_fe_cfg cfg = fe_cfg(e, dev);

	fe_open_cfg(fe, &cfg);
}

/* A blk front end with its queue running. */
static void blk_open(struct vu_fe *fe, struct env *e)
{
	fe_open(fe, e, BLK);
	assert_int_equal(vu_fe_start(fe, ~0ull, 1, QSIZE, 0), 0);
}

/* Wait for a used chain on @idx, by polling or on the call fd. */
static void *wait_used(struct vu_fe *fe, uint16_t idx, uint32_t *len,
		       bool poll_ring)
{
	struct vq_drv *vq = &fe->vqs[idx].drv;
	int64_t end = now_ms() + WAIT_MS;
	void *t;

	for (;;) {
		if ((t = vq_drv_get_used(vq, len)))
			return t;
		if (now_ms() > end)
			return NULL;
		if (poll_ring)
			continue;
		/* notifications back on; sleep only when nothing is pending */
		if (vq_drv_enable_cb(vq))
			vu_fe_wait(fe, idx, 100);
	}
}

/* ---- blk ---- */

struct blk_io {
	struct virtio_blk_outhdr *hdr;
	uint8_t *data;
	uint8_t *status;
	struct vq_buf bufs[3];
};

static void blk_io_init(struct vu_fe *fe, struct blk_io *io, uint32_t len)
{
	io->hdr = vu_fe_alloc(fe, sizeof(*io->hdr), 16, &io->bufs[0].iova);
	io->data = vu_fe_alloc(fe, len, 512, &io->bufs[1].iova);
	io->status = vu_fe_alloc(fe, 1, 1, &io->bufs[2].iova);
	assert_non_null(io->hdr);
	assert_non_null(io->data);
	assert_non_null(io->status);
	io->bufs[0].len = sizeof(*io->hdr);
	io->bufs[1].len = len;
	io->bufs[2].len = 1;
}

static void blk_submit(struct vu_fe *fe, struct blk_io *io, uint32_t type,
		       uint64_t sector)
{
	bool out = type == VIRTIO_BLK_T_OUT;

	io->hdr->type = htole32(type);
	io->hdr->ioprio = 0;
	io->hdr->sector = htole64(sector);
	*io->status = 0xff;
	assert_int_equal(vq_drv_add(&fe->vqs[0].drv, io->bufs, out ? 2 : 1,
				    out ? 1 : 2, io),
			 0);
}

/* One request, start to end; returns its status byte. */
static int blk_do(struct vu_fe *fe, struct blk_io *io, uint32_t type,
		  uint64_t sector, bool poll_ring)
{
	blk_submit(fe, io, type, sector);
	assert_true(vu_fe_kick(fe, 0) >= 0);
	assert_ptr_equal(wait_used(fe, 0, NULL, poll_ring), io);
	return *io->status;
}

static void pattern(uint8_t *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void blk_check_data(struct vu_fe *fe, struct blk_io *io, uint64_t sector,
			   bool poll_ring)
{
	uint32_t len = io->bufs[1].len;
	uint8_t *want = test_malloc(len);

	pattern(want, len, sector);
	memcpy(io->data, want, len);
	assert_int_equal(blk_do(fe, io, VIRTIO_BLK_T_OUT, sector, poll_ring),
			 VIRTIO_BLK_S_OK);
	memset(io->data, 0, len);
	assert_int_equal(blk_do(fe, io, VIRTIO_BLK_T_IN, sector, poll_ring),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(io->data, want, len);
	test_free(want);
}

/* A fresh front end writes and reads back through the blk back end. */
static void blk_alive(struct env *e)
{
	struct vu_fe fe;
	struct blk_io io;

	blk_open(&fe, e);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 2048, false);
	vu_fe_close(&fe);
}

/* ---- net ---- */

static void net_open(struct vu_fe *fe, struct env *e)
{
	uint64_t want = ~(BIT_ULL(VIRTIO_NET_F_CTRL_VQ) |
			  BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR));

	fe_open(fe, e, NET);
	/* the control queue stays in the VMM: RX and TX only */
	assert_int_equal(vu_fe_start(fe, want, 2, QSIZE, 0), 0);
}

/* A frame is known by its destination and sequence number. */
static void frame_fill(uint8_t *p, const uint8_t *dst, uint8_t seq)
{
	memset(p, 0, NET_HDR);
	memcpy(p + NET_HDR, dst, 6);
	memcpy(p + NET_HDR + 6, OTHER, 6);
	for (int i = 12; i < FRAME; i++)
		p[NET_HDR + i] = (uint8_t)(seq * 3 + i);
}

static void net_post_rx(struct vu_fe *fe)
{
	struct vq_buf b = { .len = 2048 };
	uint8_t *p = vu_fe_alloc(fe, 2048, 64, &b.iova);

	assert_non_null(p);
	assert_int_equal(vq_drv_add(&fe->vqs[0].drv, &b, 0, 1, p), 0);
	vu_fe_kick(fe, 0);
}

/* Send a frame and wait until the device has taken it. */
static void net_send(struct vu_fe *fe, const uint8_t *dst, uint8_t seq)
{
	struct vq_buf b = { .len = NET_HDR + FRAME };
	uint8_t *p = vu_fe_alloc(fe, NET_HDR + FRAME, 64, &b.iova);

	assert_non_null(p);
	frame_fill(p, dst, seq);
	assert_int_equal(vq_drv_add(&fe->vqs[1].drv, &b, 1, 0, p), 0);
	vu_fe_kick(fe, 1);
	assert_ptr_equal(wait_used(fe, 1, NULL, false), p);
}

/* The next received frame is (@dst, @seq), intact. */
static void net_recv(struct vu_fe *fe, const uint8_t *dst, uint8_t seq)
{
	uint8_t want[NET_HDR + FRAME], *p;
	uint32_t len = 0;

	p = wait_used(fe, 0, &len, false);
	assert_non_null(p);
	assert_int_equal(len, NET_HDR + FRAME);
	frame_fill(want, dst, seq);
	assert_memory_equal(p + NET_HDR, want + NET_HDR, FRAME);
}

/* One frame to our MAC loops back. */
static void net_loop_one(struct vu_fe *fe, uint8_t seq)
{
	net_post_rx(fe);
	net_send(fe, MYMAC, seq);
	net_recv(fe, MYMAC, seq);
}

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
		pattern(io[i].data, 4096, 100 + i);
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

		pattern(want, sizeof(want), 100 + i);
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

/* ---- tests: every message of the table ---- */

static int ack(struct vu_fe *fe, uint32_t req, const void *p, uint32_t size,
	       const int *fds, unsigned int nfds)
{
	return vu_fe_request(fe, req, p, size, fds, nfds);
}

static int ack_u64(struct vu_fe *fe, uint32_t req, uint64_t v)
{
	return vu_fe_set_u64(fe, req, v, NULL, 0);
}

static void test_message_table_gets(void **state)
{
	struct env *e = *state;
	struct vu_fe fe;
	uint64_t v;

	fe_open(&fe, e, BLK);
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_FEATURES, &v), 0);
	assert_int_equal(v, fe.dev_features);
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_PROTOCOL_FEATURES, &v), 0);
	assert_int_equal(v, fe.protocol_offered);
	assert_true(v & BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ));
	assert_false(v & BIT_ULL(VU_PROTOCOL_F_NET_MTU)); /* blk */
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_QUEUE_NUM, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_MAX_MEM_SLOTS, &v), 0);
	assert_int_equal(v, VU_MAX_MEM_SLOTS);
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_STATUS, &v), 0);
	assert_int_equal(v, 0);
	vu_fe_close(&fe);
}

static uint32_t get_base(struct vu_fe *fe, uint32_t idx)
{
	struct vu_msg m = { .hdr = { VU_GET_VRING_BASE, VU_VERSION, 8 } };

	m.payload.state.index = idx;
	assert_int_equal(vu_fe_xfer(fe, &m, NULL, 0, &m), 0);
	assert_int_equal(m.hdr.request, VU_GET_VRING_BASE);
	assert_int_equal(m.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(m.hdr.size, 8);
	assert_int_equal(m.payload.state.index, idx);
	return m.payload.state.num;
}

static void vring_msgs(struct vu_fe *fe)
{
	struct vu_vring_state st = { 0, 64 };
	int efd = eventfd(0, EFD_CLOEXEC);

	assert_int_equal(ack(fe, VU_SET_VRING_NUM, &st, 8, NULL, 0), 0);
	st.num = 5;
	assert_int_equal(ack(fe, VU_SET_VRING_BASE, &st, 8, NULL, 0), 0);
	assert_int_equal(vu_fe_set_u64(fe, VU_SET_VRING_CALL, 0, &efd, 1), 0);
	assert_int_equal(
		vu_fe_set_u64(fe, VU_SET_VRING_CALL, VU_VRING_NOFD, NULL, 0),
		0);
	assert_int_equal(vu_fe_set_u64(fe, VU_SET_VRING_ERR, 0, &efd, 1), 0);
	assert_int_equal(
		vu_fe_set_u64(fe, VU_SET_VRING_ERR, VU_VRING_NOFD, NULL, 0), 0);
	st.num = 0;
	assert_int_equal(ack(fe, VU_SET_VRING_ENABLE, &st, 8, NULL, 0), 0);
	/* a ring never started reports the base it was given */
	assert_int_equal(get_base(fe, 0), 5);
	close(efd);
}

/* Every SET message the back end implements, acked with REPLY_ACK. */
static void test_message_table_sets(void **state)
{
	struct env *e = *state;
	struct vu_mem_single reg = { 0 };
	uint8_t rarp[8] = { 0 }, mac[6];
	struct vu_fe fe;
	int sp[2];

	memcpy(rarp, MYMAC, 6);
	fe_open(&fe, e, NET);
	assert_int_equal(ack(&fe, VU_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(ack(&fe, VU_RESET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(vu_fe_negotiate(&fe, ~0ull), 0);
	assert_int_equal(vu_fe_set_mem(&fe), 0);
	/* a second region by ADD_MEM_REG, then removed */
	reg.region = (struct vu_mem_region){ GPA + ARENA, 4096,
					     (uintptr_t)fe.mem + ARENA, 0 };
	assert_int_equal(
		ack(&fe, VU_ADD_MEM_REG, &reg, sizeof(reg), &fe.memfd, 1), 0);
	assert_int_equal(ack(&fe, VU_REM_MEM_REG, &reg, sizeof(reg), NULL, 0),
			 0);
	assert_int_equal(ack_u64(&fe, VU_NET_SET_MTU, 9000), 0);
	assert_int_equal(ack(&fe, VU_SEND_RARP, rarp, 8, NULL, 0), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	assert_int_equal(ack(&fe, VU_SET_BACKEND_REQ_FD, NULL, 0, &sp[1], 1),
			 0);
	close(sp[0]);
	close(sp[1]);
	vring_msgs(&fe);
	assert_int_equal(vu_fe_setup_vqs(&fe, 2, 64, 0), 0);
	assert_int_equal(vu_fe_driver_ok(&fe), 0);
	net_loop_one(&fe, 1);
	assert_int_equal(vu_fe_set_config(&fe, 0, OTHER, 6, 0), 0);
	assert_int_equal(vu_fe_get_config(&fe, 0, mac, 6), 0);
	assert_memory_equal(mac, OTHER, 6);
	assert_int_equal(vu_fe_stop(&fe), 0);
	assert_int_equal(fe.vqs[0].base, 1);
	assert_int_equal(fe.vqs[1].base, 1);
	assert_int_equal(ack(&fe, VU_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_int_equal(ack_u64(&fe, VU_SET_STATUS, 0), 0);
	vu_fe_close(&fe);
}

/* Ids the back end has no row for: an error ack, the session goes on. */
static void test_message_table_unsupported(void **state)
{
	static const uint32_t ids[] = {
		VU_NONE,
		VU_SET_LOG_BASE,
		VU_SET_LOG_FD,
		VU_IOTLB_MSG,
		VU_SET_VRING_ENDIAN,
		VU_CREATE_CRYPTO_SESSION,
		VU_CLOSE_CRYPTO_SESSION,
		VU_POSTCOPY_ADVISE,
		VU_POSTCOPY_LISTEN,
		VU_POSTCOPY_END,
		VU_GPU_SET_SOCKET,
		VU_VRING_KICK,
		41,
		42,
		43,
		44,
		1000,
		0xffffffffu,
	};
	struct env *e = *state;
	uint64_t payload[4] = { 0 };
	struct vu_fe fe;

	blk_open(&fe, e);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_int_equal(
			ack(&fe, ids[i], payload, sizeof(payload), NULL, 0),
			-EOPNOTSUPP);
	vu_fe_close(&fe);
	blk_alive(e);
}

/* ---- tests: malformed messages ---- */

/* An error ack (with REPLY_ACK) or a hang-up; never success. */
static bool refused(int ret)
{
	return ret < 0 && ret != -ETIMEDOUT;
}

/*
 * After each malformed message: the back end still serves a new front
 * end, and the other device, with its front end connected all along,
 * still loops frames.
 */
static void survived(struct env *e, struct vu_fe *net, uint8_t seq)
{
	blk_alive(e);
	net_loop_one(net, seq);
}

static void send_fds(struct vu_fe *fe, uint32_t req, uint64_t v, int nfds,
		     int *ret)
{
	struct vu_msg m = { .hdr = { req, VU_VERSION | VU_FLAG_NEED_REPLY,
				     8 } };
	struct vu_msg reply;
	int fds[16];

	m.payload.u64 = v;
	for (int i = 0; i < nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	*ret = vu_fe_xfer(fe, &m, fds, (unsigned int)nfds, &reply);
	if (!*ret) {
		assert_int_equal(reply.nfds, 0);
		*ret = reply.payload.u64 ? -(int)reply.payload.u64 : 0;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Wrong fd counts: refused, and every fd sent is closed. */
static void test_bad_fd_counts(void **state)
{
	static const struct {
		uint32_t req;
		uint64_t v;
		int nfds;
	} cases[] = {
		{ VU_SET_OWNER, 0, 2 },
		{ VU_GET_FEATURES, 0, 1 },
		{ VU_SET_FEATURES, 0, 3 },
		{ VU_SET_VRING_CALL, 0, 2 },
		{ VU_SET_VRING_CALL, VU_VRING_NOFD, 1 },
		{ VU_SET_VRING_KICK, 0, 0 },
		{ VU_SET_VRING_ERR, 0, 4 },
		{ VU_SET_BACKEND_REQ_FD, 0, 0 },
		{ VU_SET_BACKEND_REQ_FD, 0, 2 },
		{ VU_ADD_MEM_REG, 0, 0 },
		{ VU_SET_MEM_TABLE, 0, 3 }, /* nregions 0 */
		{ VU_SET_OWNER, 0, 8 },
		{ VU_SET_OWNER, 0, 16 }, /* beyond what a message may carry */
	};
	struct env *e = *state;
	struct vu_fe fe, net;

	net_open(&net, e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before, ret;

		fe_open(&fe, e, BLK);
		before = test_count_fds();
		send_fds(&fe, cases[i].req, cases[i].v, cases[i].nfds, &ret);
		assert_true(refused(ret));
		vu_fe_close(&fe);
		/*
		 * Once a new front end is served, the back end has handled
		 * the old one's messages and hang-up: the fds are settled.
		 */
		fe_open(&fe, e, BLK);
		assert_int_equal(test_count_fds(), before);
		vu_fe_close(&fe);
		survived(e, &net, (uint8_t)i);
	}
	vu_fe_close(&net);
}

/* Send @m (NEED_REPLY set) on a fresh blk session; the answer. */
static int try_msg(struct env *e, struct vu_msg *m, bool start)
{
	struct vu_fe fe;
	struct vu_msg reply;
	int ret;

	if (start)
		blk_open(&fe, e);
	else
		fe_open(&fe, e, BLK);
	m->hdr.flags |= VU_VERSION | VU_FLAG_NEED_REPLY;
	ret = vu_fe_xfer(&fe, m, NULL, 0, &reply);
	if (!ret && reply.hdr.size == 8)
		ret = -(int)reply.payload.u64;
	else if (!ret)
		ret = -EPROTO; /* a GET_* reply to a malformed request */
	vu_fe_close(&fe);
	return ret;
}

static struct vu_msg mk(uint32_t req, uint32_t size)
{
	return (struct vu_msg){ .hdr = { .request = req, .size = size } };
}

/* Payloads shorter than their message needs. */
static void test_short_payloads(void **state)
{
	static const struct {
		uint32_t req, size;
	} cases[] = {
		{ VU_SET_FEATURES, 0 },		 { VU_SET_FEATURES, 4 },
		{ VU_SET_VRING_NUM, 4 },	 { VU_SET_VRING_BASE, 7 },
		{ VU_SET_VRING_ADDR, 16 },	 { VU_SET_VRING_ENABLE, 4 },
		{ VU_GET_VRING_BASE, 4 },	 { VU_GET_CONFIG, 8 },
		{ VU_SET_CONFIG, 11 },		 { VU_SET_STATUS, 1 },
		{ VU_SET_PROTOCOL_FEATURES, 2 }, { VU_REM_MEM_REG, 16 },
		{ VU_NET_SET_MTU, 0 },
	};
	struct env *e = *state;
	struct vu_fe net;

	net_open(&net, e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vu_msg m = mk(cases[i].req, cases[i].size);

		assert_true(refused(try_msg(e, &m, false)));
		survived(e, &net, (uint8_t)i);
	}
	vu_fe_close(&net);
}

/* A header announcing more than any payload, a bad version: hang-up. */
static void test_bad_headers(void **state)
{
	struct env *e = *state;
	struct vu_msg m = mk(VU_GET_FEATURES, 0), reply;
	struct vu_fe fe, net;
	uint8_t big[VU_HDR_SIZE + 512] = { 0 };
	struct vu_msg_hdr h = { VU_SET_OWNER, VU_VERSION, 4096 };

	net_open(&net, e);
	fe_open(&fe, e, BLK);
	memcpy(big, &h, sizeof(h));
	vu_fe_send_raw(&fe, big, sizeof(big), NULL, 0);
	assert_int_equal(vu_fe_recv(&fe, &reply, WAIT_MS), -ECONNRESET);
	vu_fe_close(&fe);
	survived(e, &net, 1);
	fe_open(&fe, e, BLK);
	m.hdr.flags = 0; /* version 0 */
	assert_int_equal(vu_fe_xfer(&fe, &m, NULL, 0, &reply), -ECONNRESET);
	vu_fe_close(&fe);
	fe_open(&fe, e, BLK);
	m.hdr.flags = 2 | VU_FLAG_NEED_REPLY;
	assert_int_equal(vu_fe_xfer(&fe, &m, NULL, 0, &reply), -ECONNRESET);
	vu_fe_close(&fe);
	survived(e, &net, 2);
	/* without REPLY_ACK a failure cannot be told: a hang-up */
	{
		struct vu_fe_cfg cfg = fe_cfg(e, BLK);
		struct vu_vring_state st = { 0, 100 };
		uint64_t v;

		cfg.protocol_mask = VU_FE_PROTOCOL_NONE;
		fe_open_cfg(&fe, &cfg);
		vu_fe_request(&fe, VU_SET_VRING_NUM, &st, 8, NULL, 0);
		assert_int_equal(vu_fe_get_u64(&fe, VU_GET_FEATURES, &v),
				 -ECONNRESET);
		vu_fe_close(&fe);
	}
	survived(e, &net, 3);
	vu_fe_close(&net);
}

static int vring_state(struct env *e, uint32_t req, uint32_t idx, uint32_t num,
		       bool start)
{
	struct vu_msg m = mk(req, 8);

	m.payload.state = (struct vu_vring_state){ idx, num };
	return try_msg(e, &m, start);
}

static int vring_u64(struct env *e, uint32_t req, uint64_t v)
{
	struct vu_msg m = mk(req, 8);

	m.payload.u64 = v;
	return try_msg(e, &m, false);
}

static void test_bad_vrings(void **state)
{
	struct env *e = *state;
	struct vu_fe fe, net;
	int efd = eventfd(0, EFD_CLOEXEC);

	net_open(&net, e);
	/* indices beyond the device's queues */
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 1, 64, false),
			 -ENOBUFS);
	assert_int_equal(vring_state(e, VU_SET_VRING_BASE, 7, 0, false),
			 -ENOBUFS);
	assert_int_equal(vring_state(e, VU_SET_VRING_ENABLE, 300, 1, false),
			 -ENOBUFS);
	assert_int_equal(vring_state(e, VU_GET_VRING_BASE, 1, 0, false),
			 -ECONNRESET);
	assert_int_equal(vring_u64(e, VU_SET_VRING_CALL, 200 | VU_VRING_NOFD),
			 -ENOBUFS);
	assert_int_equal(vring_u64(e, VU_SET_VRING_ERR, 255 | VU_VRING_NOFD),
			 -ENOBUFS);
	survived(e, &net, 1);
	/* sizes: not a power of two, beyond the spec, beyond the device */
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 100, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 0, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 65536, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 512, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_BASE, 0, 0x10000, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_ENABLE, 0, 2, false),
			 -EINVAL);
	/* a started ring is not resized, rebased or moved */
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 64, true), -EBUSY);
	assert_int_equal(vring_state(e, VU_SET_VRING_BASE, 0, 0, true), -EBUSY);
	survived(e, &net, 2);
	/* a kick fd is required */
	assert_int_equal(vring_u64(e, VU_SET_VRING_KICK, VU_VRING_NOFD),
			 -EOPNOTSUPP);
	/* kicked and enabled before it was described */
	fe_open(&fe, e, BLK);
	assert_int_equal(vu_fe_set_u64(&fe, VU_SET_VRING_KICK, 0, &efd, 1), 0);
	assert_int_equal(vu_fe_vq_enable(&fe, 0, true), -EINVAL);
	vu_fe_close(&fe);
	close(efd);
	survived(e, &net, 3);
	vu_fe_close(&net);
}

/* SET_VRING_ADDR with addresses outside every region. */
static void test_bad_vring_addr(void **state)
{
	struct env *e = *state;
	struct vu_fe fe, net;
	struct vu_vring_addr a = { 0 };

	net_open(&net, e);
	fe_open(&fe, e, BLK);
	a.desc_user_addr = (uintptr_t)fe.mem;
	a.avail_user_addr = (uintptr_t)fe.mem + 4096;
	a.used_user_addr = (uintptr_t)fe.mem + 8192;
	/* no memory table yet */
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EFAULT);
	assert_int_equal(vu_fe_negotiate(&fe, ~0ull), 0);
	assert_int_equal(vu_fe_set_mem(&fe), 0);
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 0);
	a.used_user_addr = (uintptr_t)fe.mem + ARENA; /* one past the end */
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EFAULT);
	a.used_user_addr = GPA; /* a guest address is not a user one */
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EFAULT);
	a.used_user_addr = (uintptr_t)fe.mem + 8192;
	a.desc_user_addr = (uintptr_t)fe.mem - 4096;
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EFAULT);
	a.desc_user_addr = (uintptr_t)fe.mem;
	a.flags = 1; /* VHOST_VRING_F_LOG: no dirty log offered */
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EINVAL);
	a.index = 3;
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -ENOBUFS);
	vu_fe_close(&fe);
	survived(e, &net, 1);
	vu_fe_close(&net);
}

static int mem_table(struct vu_fe *fe, const struct vu_mem_region *r,
		     uint32_t n, unsigned int nfds)
{
	struct vu_mem_table t = { .nregions = n };
	int fds[VU_MAX_MEM_REGIONS];

	for (unsigned int i = 0; i < nfds; i++)
		fds[i] = fe->memfd;
	for (uint32_t i = 0; i < n && i < VU_MAX_MEM_REGIONS; i++)
		t.regions[i] = r[i]; /* @r holds min(n, 8) */
	return ack(fe, VU_SET_MEM_TABLE, &t, sizeof(t), fds, nfds);
}

static int add_reg(struct vu_fe *fe, const struct vu_mem_region *r)
{
	struct vu_mem_single one = { .region = *r };

	return ack(fe, VU_ADD_MEM_REG, &one, sizeof(one), &fe->memfd, 1);
}

/* Regions that overflow, exceed their fd, or are empty: both ways. */
static void test_bad_regions(void **state)
{
	struct env *e = *state;
	struct vu_mem_region good, bad[6], r[VU_MAX_MEM_REGIONS];
	struct vu_fe fe, net;
	int before;

	net_open(&net, e);
	fe_open(&fe, e, BLK);
	before = test_count_fds();
	good = (struct vu_mem_region){ GPA, ARENA, (uintptr_t)fe.mem, 0 };
	for (int i = 0; i < 6; i++)
		bad[i] = good;
	bad[0].mmap_offset = UINT64_MAX - 100; /* offset + size overflows */
	bad[0].size = 4096;
	bad[1].size = ARENA + 4096; /* beyond the memfd */
	bad[2].mmap_offset = ARENA - 4096; /* ends beyond it */
	bad[3].guest_addr = UINT64_MAX - 4095;
	bad[4].user_addr = UINT64_MAX - 4095;
	bad[5].size = 0;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(mem_table(&fe, &bad[i], 1, 1), -EINVAL);
		assert_int_equal(add_reg(&fe, &bad[i]), -EINVAL);
	}
	/* region count and fd count disagree, or too many regions */
	for (int i = 0; i < VU_MAX_MEM_REGIONS; i++)
		r[i] = good;
	assert_int_equal(mem_table(&fe, r, 1, 2), -EINVAL);
	assert_int_equal(mem_table(&fe, r, 2, 1), -EINVAL);
	assert_int_equal(mem_table(&fe, r, 9, 8), -EINVAL);
	/* the fds were closed before the acks */
	assert_int_equal(test_count_fds(), before);
	vu_fe_close(&fe);
	survived(e, &net, 1);
	vu_fe_close(&net);
}

/* ADD_MEM_REG over a region there, REM_MEM_REG of one not there. */
static void test_bad_mem_slots(void **state)
{
	struct env *e = *state;
	struct vu_mem_single one = { 0 };
	struct vu_fe fe;
	int before;

	fe_open(&fe, e, BLK);
	before = test_count_fds();
	one.region = (struct vu_mem_region){ GPA, ARENA, (uintptr_t)fe.mem, 0 };
	assert_int_equal(add_reg(&fe, &one.region), 0);
	assert_int_equal(add_reg(&fe, &one.region), -EEXIST);
	one.region.guest_addr += 4096;
	one.region.size = 4096;
	assert_int_equal(add_reg(&fe, &one.region), -EEXIST);
	assert_int_equal(ack(&fe, VU_REM_MEM_REG, &one, sizeof(one), NULL, 0),
			 -ENOENT);
	assert_int_equal(test_count_fds(), before);
	vu_fe_close(&fe);
	blk_alive(e);
}

/* Features, protocol features, config, status, MTU out of range. */
static void test_bad_values(void **state)
{
	struct env *e = *state;
	struct vu_fe fe, net;
	uint8_t buf[VU_CONFIG_MAX];

	net_open(&net, e);
	fe_open(&fe, e, BLK);
	assert_int_equal(ack_u64(&fe, VU_SET_FEATURES,
				 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)),
			 -EINVAL);
	assert_int_equal(ack_u64(&fe, VU_SET_FEATURES, BIT_ULL(63)), -EINVAL);
	assert_int_equal(ack_u64(&fe, VU_SET_PROTOCOL_FEATURES,
				 BIT_ULL(VU_PROTOCOL_F_NET_MTU)),
			 -EINVAL);
	assert_int_equal(ack_u64(&fe, VU_SET_STATUS, 0x100), -EINVAL);
	assert_int_equal(ack_u64(&fe, VU_NET_SET_MTU, 1500), -EINVAL); /* blk */
	/* config beyond the device's: a reply of size 0 */
	assert_int_equal(vu_fe_get_config(&fe, 90, buf, 100), -EIO);
	assert_int_equal(vu_fe_get_config(&fe, 0xffffffffu, buf, 4), -EIO);
	assert_int_equal(vu_fe_set_config(&fe, 90, buf, 100, 0), -EINVAL);
	assert_int_equal(vu_fe_get_config(&fe, 0, buf, 8), 0);
	vu_fe_close(&fe);
	/* refused on a running device: the session goes on */
	assert_int_equal(ack_u64(&net, VU_NET_SET_MTU, 67), -EINVAL);
	assert_int_equal(ack_u64(&net, VU_NET_SET_MTU, 65536), -EINVAL);
	survived(e, &net, 1);
	vu_fe_close(&net);
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
		T(test_message_table_gets),
		T(test_message_table_sets),
		T(test_message_table_unsupported),
		T(test_bad_fd_counts),
		T(test_short_payloads),
		T(test_bad_headers),
		T(test_bad_vrings),
		T(test_bad_vring_addr),
		T(test_bad_regions),
		T(test_bad_mem_slots),
		T(test_bad_values),
		T(test_needs_reset),
		T(test_ring_memory_removed),
		T(test_mem_table_replaced),
		T(test_hangup_in_flight),
		T(test_blocking_call_fd),
		T(test_readable_kick_fd),
		T(test_path_too_long),
	};
	/* clang-format on */
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	return ret;
}
