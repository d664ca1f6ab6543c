/* SPDX-License-Identifier: MIT */
/*
 * What the vhost-user front-end tests share: a bus with the simulators, a
 * vdpasim_blk and a vdpasim_net device, each behind a vu_backend served by
 * a thread (what uvdpad's control thread does), and front ends driving
 * them through real sockets, rings and eventfds: blk requests and net
 * frames.
 */
#ifndef UVDPA_TEST_VU_ENV_H
#define UVDPA_TEST_VU_ENV_H

#include <endian.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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

static inline void be_log(void *ctx, enum vu_log_level level, const char *msg)
{
	if (getenv("VU_TEST_LOG"))
		fprintf(stderr, "# be: %s\n", msg);
}

static inline void be_serve(struct vu_backend *b, const struct pollfd *p)
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
static inline void *be_thread(void *arg)
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

static inline struct vu_backend *be_new(struct env *e, int i)
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

static inline int env_setup(void **state)
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

static inline int env_teardown(void **state)
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

static inline struct vu_fe_cfg fe_cfg(struct env *e, int dev)
{
	return (struct vu_fe_cfg){
		.path = e->path[dev],
		.mem_size = ARENA,
		.mem_gpa = GPA,
	};
}

static inline void fe_open_cfg(struct vu_fe *fe, const struct vu_fe_cfg *cfg)
{
	assert_int_equal(vu_fe_connect(fe, cfg), 0);
}

static inline void fe_open(struct vu_fe *fe, struct env *e, int dev)
{
	struct vu_fe_cfg cfg = fe_cfg(e, dev);

	fe_open_cfg(fe, &cfg);
}

/* A blk front end with its queue running. */
static inline void blk_open(struct vu_fe *fe, struct env *e)
{
	fe_open(fe, e, BLK);
	assert_int_equal(vu_fe_start(fe, ~0ull, 1, QSIZE, 0), 0);
}

/* Wait for a used chain on @idx, by polling or on the call fd. */
static inline void *wait_used(struct vu_fe *fe, uint16_t idx, uint32_t *len,
			      bool poll_ring)
{
	struct vq_drv *vq = &fe->vqs[idx].drv;
	int64_t end = test_now_ms() + WAIT_MS;
	void *t;

	for (;;) {
		if ((t = vq_drv_get_used(vq, len)))
			return t;
		if (test_now_ms() > end)
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

static inline void blk_io_init(struct vu_fe *fe, struct blk_io *io,
			       uint32_t len)
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

static inline void blk_submit(struct vu_fe *fe, struct blk_io *io,
			      uint32_t type, uint64_t sector)
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
static inline int blk_do(struct vu_fe *fe, struct blk_io *io, uint32_t type,
			 uint64_t sector, bool poll_ring)
{
	blk_submit(fe, io, type, sector);
	assert_true(vu_fe_kick(fe, 0) >= 0);
	assert_ptr_equal(wait_used(fe, 0, NULL, poll_ring), io);
	return *io->status;
}

static inline void blk_check_data(struct vu_fe *fe, struct blk_io *io,
				  uint64_t sector, bool poll_ring)
{
	uint32_t len = io->bufs[1].len;
	uint8_t *want = test_malloc(len);

	test_fill(want, len, (uint32_t)sector);
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
static inline void blk_alive(struct env *e)
{
	struct vu_fe fe;
	struct blk_io io;

	blk_open(&fe, e);
	blk_io_init(&fe, &io, 4096);
	blk_check_data(&fe, &io, 2048, false);
	vu_fe_close(&fe);
}

/* ---- net ---- */

static inline void net_open(struct vu_fe *fe, struct env *e)
{
	uint64_t want = ~(BIT_ULL(VIRTIO_NET_F_CTRL_VQ) |
			  BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR));

	fe_open(fe, e, NET);
	/* the control queue stays in the VMM: RX and TX only */
	assert_int_equal(vu_fe_start(fe, want, 2, QSIZE, 0), 0);
}

/* A frame is known by its destination and sequence number. */
static inline void frame_fill(uint8_t *p, const uint8_t *dst, uint8_t seq)
{
	memset(p, 0, NET_HDR);
	memcpy(p + NET_HDR, dst, 6);
	memcpy(p + NET_HDR + 6, OTHER, 6);
	for (int i = 12; i < FRAME; i++)
		p[NET_HDR + i] = (uint8_t)(seq * 3 + i);
}

static inline void net_post_rx(struct vu_fe *fe)
{
	struct vq_buf b = { .len = 2048 };
	uint8_t *p = vu_fe_alloc(fe, 2048, 64, &b.iova);

	assert_non_null(p);
	assert_int_equal(vq_drv_add(&fe->vqs[0].drv, &b, 0, 1, p), 0);
	vu_fe_kick(fe, 0);
}

/* Send a frame and wait until the device has taken it. */
static inline void net_send(struct vu_fe *fe, const uint8_t *dst, uint8_t seq)
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
static inline void net_recv(struct vu_fe *fe, const uint8_t *dst, uint8_t seq)
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
static inline void net_loop_one(struct vu_fe *fe, uint8_t seq)
{
	net_post_rx(fe);
	net_send(fe, MYMAC, seq);
	net_recv(fe, MYMAC, seq);
}

/*
 * After each malformed message or broken ring: the back end still serves
 * a new front end, and the other device, with its front end connected all
 * along, still loops frames.
 */
static inline void survived(struct env *e, struct vu_fe *net, uint8_t seq)
{
	blk_alive(e);
	net_loop_one(net, seq);
}

#endif
