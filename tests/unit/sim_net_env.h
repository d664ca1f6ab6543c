/* SPDX-License-Identifier: MIT */
/*
 * What the vdpasim_net tests share: a device with a driver on its RX, TX
 * and control queues, frames and buffers in driver memory (tokens with
 * stable addresses), the expected completions, the vendor counters and
 * control-queue commands.
 */
#ifndef UVDPA_TEST_SIM_NET_ENV_H
#define UVDPA_TEST_SIM_NET_ENV_H

#include <string.h>

#include <uvdpa/uapi.h>

#include "helpers.h"

#define RXQ 0
#define TXQ 1
#define CVQ 2
#define QSIZE 256
#define HDR_V1 12
#define HDR_LEGACY 10
#define WAIT_MS 5000
#define QUIET_MS 200 /* how long "nothing happens" is watched */
#define NET_FEATURES 0x308830028ull
#define MAX_BUFS 1024

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MCAST[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
static const uint8_t MYMAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t OTHER[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
static const uint8_t NEWMAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

/* A buffer in driver memory: a TX frame, an RX buffer or a CVQ command. */
struct buf {
	uint8_t *p;
	uint64_t iova;
	uint32_t len;
};

struct net_env {
	struct test_bus tb;
	struct vdpa_device *vdev;
	struct test_drv d;
	size_t hdr;
	struct buf bufs[MAX_BUFS]; /* tokens: stable addresses */
	unsigned int nbufs;
};

/* ---- setup ---- */

static inline struct vdpa_dev_set_config mac_cfg(const uint8_t mac[6])
{
	struct vdpa_dev_set_config c = {
		.mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR),
	};

	memcpy(c.net.mac, mac, 6);
	return c;
}

static inline int env_new(void **state, const struct vdpa_dev_set_config *cfg,
			  uint64_t want)
{
	struct net_env *e = test_calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(test_bus_init(&e->tb, 1), 0);
	e->vdev = test_dev_add(&e->tb, e->tb.net, "net0", cfg);
	assert_non_null(e->vdev);
	assert_int_equal(test_drv_start(&e->d, e->vdev, want, 3, QSIZE, 0), 0);
	e->hdr = (want & BIT_ULL(VIRTIO_F_VERSION_1)) ? HDR_V1 : HDR_LEGACY;
	*state = e;
	return 0;
}

static inline int net_setup(void **state)
{
	struct vdpa_dev_set_config cfg = mac_cfg(MYMAC);

	return env_new(state, &cfg, ~0ull);
}

static inline int net_setup_nocfg(void **state)
{
	return env_new(state, NULL, ~0ull);
}

static inline int net_setup_legacy(void **state)
{
	struct vdpa_dev_set_config cfg = mac_cfg(MYMAC);

	return env_new(state, &cfg, ~BIT_ULL(VIRTIO_F_VERSION_1));
}

static inline int net_setup_no_cvq(void **state)
{
	struct vdpa_dev_set_config cfg = mac_cfg(MYMAC);

	return env_new(state, &cfg, ~BIT_ULL(VIRTIO_NET_F_CTRL_VQ));
}

static inline int net_teardown(void **state)
{
	struct net_env *e = *state;

	test_drv_stop(&e->d);
	test_bus_done(&e->tb);
	test_free(e);
	return 0;
}

/* ---- buffers ---- */

static inline struct buf *buf_new(struct net_env *e, uint32_t len)
{
	struct buf *b;

	assert_true(e->nbufs < MAX_BUFS);
	b = &e->bufs[e->nbufs++];
	b->p = drv_mem_alloc(&e->d.mem, len ? len : 1, 64, &b->iova);
	assert_non_null(b->p);
	b->len = len;
	return b;
}

/*
 * Not test_fill: check_header_len needs the six bytes a legacy driver's
 * filter reads, in a frame laid out for the longer header, to be neither
 * a multicast address nor our MAC; with this pattern they are not.
 */
static inline void frame_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + seed * 101 + (i >> 8));
}

/* A frame after a header of @hdr bytes, both filled from @seed. */
static inline struct buf *frame_at(struct net_env *e, size_t hdr,
				   const uint8_t dst[6], uint32_t len,
				   uint32_t seed)
{
	struct buf *f = buf_new(e, len);

	frame_fill(f->p, len, seed);
	if (len >= hdr + 6)
		memcpy(f->p + hdr, dst, 6);
	if (len >= hdr + 12)
		memcpy(f->p + hdr + 6, MYMAC, 6);
	return f;
}

static inline struct buf *frame(struct net_env *e, const uint8_t dst[6],
				uint32_t len, uint32_t seed)
{
	return frame_at(e, e->hdr, dst, len, seed);
}

/* Add @b to queue @q as @pieces descriptors of about equal size. */
static inline void add_split(struct test_drv *d, uint16_t q, struct buf *b,
			     unsigned int pieces, bool write)
{
	struct vq_buf v[16];
	uint32_t off = 0, step = (b->len + pieces - 1) / pieces;

	for (unsigned int i = 0; i < pieces; i++) {
		uint32_t n = b->len - off < step ? b->len - off : step;

		v[i] = (struct vq_buf){ b->iova + off, n };
		off += n;
	}
	assert_int_equal(vq_drv_add(&d->vq[q], v, write ? 0 : pieces,
				    write ? pieces : 0, b),
			 0);
}

static inline void tx(struct net_env *e, struct buf *f)
{
	add_split(&e->d, TXQ, f, 1, false);
}

static inline struct buf *rx_post(struct net_env *e, uint32_t len,
				  unsigned int pieces)
{
	struct buf *b = buf_new(e, len);

	memset(b->p, 0xee, len);
	add_split(&e->d, RXQ, b, pieces, true);
	return b;
}

/* Wait for the completion of @n TX frames, in order, written length 0. */
static inline void tx_done(struct net_env *e, struct buf *const *f,
			   unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = UINT32_MAX;

		assert_ptr_equal(test_drv_wait_used(&e->d, TXQ, &len, WAIT_MS),
				 f[i]);
		assert_int_equal(len, 0);
	}
}

/* The next RX completion is @want holding exactly @f. */
static inline void rx_expect(struct net_env *e, struct buf *want, struct buf *f)
{
	uint32_t len = UINT32_MAX;

	assert_ptr_equal(test_drv_wait_used(&e->d, RXQ, &len, WAIT_MS), want);
	assert_int_equal(len, f->len);
	assert_memory_equal(want->p, f->p, f->len);
	if (want->len > f->len)
		assert_int_equal(want->p[f->len], 0xee); /* no more written */
}

/* Send @n frames in one kick and wait for their TX completions. */
static inline void send_all(struct net_env *e, struct buf *const *f,
			    unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		tx(e, f[i]);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, n);
}

static inline void send_one(struct net_env *e, struct buf *f)
{
	send_all(e, &f, 1);
}

/* One 100-byte frame to @dst into a buffer posted for it: it loops back. */
static inline void loop_one(struct net_env *e, const uint8_t dst[6],
			    uint32_t seed)
{
	struct buf *r = rx_post(e, 2048, 1), *f;

	test_drv_kick(&e->d, RXQ);
	f = frame(e, dst, 100, seed);
	send_one(e, f);
	rx_expect(e, r, f);
}

static inline void rx_none(struct net_env *e)
{
	assert_null(vq_drv_get_used(&e->d.vq[RXQ], NULL));
}

/* ---- stats ---- */

static inline uint64_t vstat(struct net_env *e, uint16_t q, const char *key)
{
	uint64_t v = test_vstat(e->vdev, q, key);

	assert_int_not_equal(v, UINT64_MAX);
	return v;
}

struct counts {
	uint64_t rx_pkts, rx_bytes, rx_err, rx_over, rx_drops;
	uint64_t tx_pkts, tx_bytes, tx_err, tx_drops;
	uint64_t cvq_req, cvq_ok, cvq_err;
};

static inline void assert_counts(struct net_env *e, const struct counts *c)
{
	assert_int_equal(vstat(e, RXQ, "rx packets"), c->rx_pkts);
	assert_int_equal(vstat(e, RXQ, "rx bytes"), c->rx_bytes);
	assert_int_equal(vstat(e, RXQ, "rx errors"), c->rx_err);
	assert_int_equal(vstat(e, RXQ, "rx overruns"), c->rx_over);
	assert_int_equal(vstat(e, RXQ, "rx drops"), c->rx_drops);
	assert_int_equal(vstat(e, TXQ, "tx packets"), c->tx_pkts);
	assert_int_equal(vstat(e, TXQ, "tx bytes"), c->tx_bytes);
	assert_int_equal(vstat(e, TXQ, "tx errors"), c->tx_err);
	assert_int_equal(vstat(e, TXQ, "tx drops"), c->tx_drops);
	assert_int_equal(vstat(e, CVQ, "cvq requests"), c->cvq_req);
	assert_int_equal(vstat(e, CVQ, "cvq successes"), c->cvq_ok);
	assert_int_equal(vstat(e, CVQ, "cvq errors"), c->cvq_err);
}

static inline void get_mac(struct vdpa_device *vdev, uint8_t mac[6])
{
	assert_int_equal(
		vdpa_get_config(vdev, offsetof(struct virtio_net_config, mac),
				mac, 6),
		0);
}

/* ---- control queue ---- */

struct cmd {
	struct buf *out, *ack;
};

static inline void cvq_add(struct net_env *e, struct cmd *c, uint8_t class,
			   uint8_t code, const void *data, uint32_t len)
{
	struct vq_buf v[2];

	c->out = buf_new(e, 2 + len);
	c->out->p[0] = class;
	c->out->p[1] = code;
	if (len)
		memcpy(c->out->p + 2, data, len);
	c->ack = buf_new(e, 1);
	c->ack->p[0] = 0xee;
	v[0] = (struct vq_buf){ c->out->iova, 2 + len };
	v[1] = (struct vq_buf){ c->ack->iova, 1 };
	assert_int_equal(vq_drv_add(&e->d.vq[CVQ], v, 1, 1, c), 0);
}

/* Wait for @n commands, in order; each acked with one byte. */
static inline void cvq_done(struct net_env *e, struct cmd *c, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = UINT32_MAX;

		assert_ptr_equal(test_drv_wait_used(&e->d, CVQ, &len, WAIT_MS),
				 &c[i]);
		assert_int_equal(len, 1);
	}
}

static inline uint8_t set_mac_cmd(struct net_env *e, const uint8_t mac[6])
{
	struct cmd c;

	cvq_add(e, &c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac,
		6);
	test_drv_kick(&e->d, CVQ);
	cvq_done(e, &c, 1);
	return c.ack->p[0];
}

#endif
