// SPDX-License-Identifier: MIT
/*
 * vdpasim_net driven through real driver-side rings (reference §4.2, §10.6,
 * §11 items 4-5 and the uvdpa differences noted at the top of §11).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static struct vdpa_dev_set_config mac_cfg(const uint8_t mac[6])
{
	struct vdpa_dev_set_config c = {
		.mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR),
	};

	memcpy(c.net.mac, mac, 6);
	return c;
}

static int env_new(void **state, const struct vdpa_dev_set_config *cfg,
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

static int net_setup(void **state)
{
	struct vdpa_dev_set_config cfg = mac_cfg(MYMAC);

	return env_new(state, &cfg, ~0ull);
}

static int net_setup_nocfg(void **state)
{
	return env_new(state, NULL, ~0ull);
}

static int net_setup_legacy(void **state)
{
	struct vdpa_dev_set_config cfg = mac_cfg(MYMAC);

	return env_new(state, &cfg, ~BIT_ULL(VIRTIO_F_VERSION_1));
}

static int net_setup_no_cvq(void **state)
{
	struct vdpa_dev_set_config cfg = mac_cfg(MYMAC);

	return env_new(state, &cfg, ~BIT_ULL(VIRTIO_NET_F_CTRL_VQ));
}

static int net_teardown(void **state)
{
	struct net_env *e = *state;

	test_drv_stop(&e->d);
	test_bus_done(&e->tb);
	test_free(e);
	return 0;
}

/* ---- buffers ---- */

static struct buf *buf_new(struct net_env *e, uint32_t len)
{
	struct buf *b;

	assert_true(e->nbufs < MAX_BUFS);
	b = &e->bufs[e->nbufs++];
	b->p = drv_mem_alloc(&e->d.mem, len ? len : 1, 64, &b->iova);
	assert_non_null(b->p);
	b->len = len;
	return b;
}

static void fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + seed * 101 + (i >> 8));
}

/* A frame after a header of @hdr bytes, both filled from @seed. */
static struct buf *frame_at(struct net_env *e, size_t hdr, const uint8_t dst[6],
			    uint32_t len, uint32_t seed)
{
	struct buf *f = buf_new(e, len);

	fill(f->p, len, seed);
	if (len >= hdr + 6)
		memcpy(f->p + hdr, dst, 6);
	if (len >= hdr + 12)
		memcpy(f->p + hdr + 6, MYMAC, 6);
	return f;
}

static struct buf *frame(struct net_env *e, const uint8_t dst[6], uint32_t len,
			 uint32_t seed)
{
	return frame_at(e, e->hdr, dst, len, seed);
}

/* Add @b to queue @q as @pieces descriptors of about equal size. */
static void add_split(struct test_drv *d, uint16_t q, struct buf *b,
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

static void tx(struct net_env *e, struct buf *f)
{
	add_split(&e->d, TXQ, f, 1, false);
}

static struct buf *rx_post(struct net_env *e, uint32_t len, unsigned int pieces)
{
	struct buf *b = buf_new(e, len);

	memset(b->p, 0xee, len);
	add_split(&e->d, RXQ, b, pieces, true);
	return b;
}

/* Wait for the completion of @n TX frames, in order, written length 0. */
static void tx_done(struct net_env *e, struct buf *const *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = UINT32_MAX;

		assert_ptr_equal(test_drv_wait_used(&e->d, TXQ, &len, WAIT_MS),
				 f[i]);
		assert_int_equal(len, 0);
	}
}

/* The next RX completion is @want holding exactly @f. */
static void rx_expect(struct net_env *e, struct buf *want, struct buf *f)
{
	uint32_t len = UINT32_MAX;

	assert_ptr_equal(test_drv_wait_used(&e->d, RXQ, &len, WAIT_MS), want);
	assert_int_equal(len, f->len);
	assert_memory_equal(want->p, f->p, f->len);
	if (want->len > f->len)
		assert_int_equal(want->p[f->len], 0xee); /* no more written */
}

/* Send @f alone and wait for its TX completion. */
static void send_one(struct net_env *e, struct buf *f)
{
	tx(e, f);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, &f, 1);
}

static void rx_none(struct net_env *e)
{
	assert_null(vq_drv_get_used(&e->d.vq[RXQ], NULL));
}

/* ---- stats ---- */

static uint64_t vstat(struct net_env *e, uint16_t q, const char *key)
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

static void assert_counts(struct net_env *e, const struct counts *c)
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

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool wait_status(struct vdpa_device *vdev, uint8_t bit, int ms)
{
	int64_t end = now_ms() + ms;

	while (!(vdpa_get_status(vdev) & bit)) {
		if (now_ms() > end)
			return false;
		usleep(1000);
	}
	return true;
}

static void get_mac(struct vdpa_device *vdev, uint8_t mac[6])
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

static void cvq_add(struct net_env *e, struct cmd *c, uint8_t class,
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
static void cvq_done(struct net_env *e, struct cmd *c, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = UINT32_MAX;

		assert_ptr_equal(test_drv_wait_used(&e->d, CVQ, &len, WAIT_MS),
				 &c[i]);
		assert_int_equal(len, 1);
	}
}

static uint8_t set_mac_cmd(struct net_env *e, const uint8_t mac[6])
{
	struct cmd c;

	cvq_add(e, &c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac,
		6);
	test_drv_kick(&e->d, CVQ);
	cvq_done(e, &c, 1);
	return c.ack->p[0];
}

/* ---- management device and config ---- */

static void net_mgmtdev(void **state)
{
	struct net_env *e = *state;
	struct vdpa_mgmt_dev *m = e->tb.net;

	assert_string_equal(m->dev_name, "vdpasim_net");
	assert_null(m->bus_name);
	assert_int_equal(vdpa_mgmtdev_classes(m), BIT_ULL(VIRTIO_ID_NET));
	assert_int_equal(m->max_supported_vqs, 3);
	assert_int_equal(m->supported_features, NET_FEATURES);
	assert_int_equal(m->config_attr_mask,
			 BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR) |
				 BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU) |
				 BIT_ULL(VDPA_ATTR_DEV_FEATURES));
	assert_non_null(m->ops->dev_set_attr);
}

static void net_identity(void **state)
{
	struct net_env *e = *state;
	const struct vdpa_config_ops *ops = e->vdev->config;

	assert_int_equal(ops->get_device_features(e->vdev), NET_FEATURES);
	assert_int_equal(ops->get_device_id(e->vdev), VIRTIO_ID_NET);
	assert_int_equal(ops->get_vendor_id(e->vdev), 0);
	assert_int_equal(ops->get_vq_num_max(e->vdev), 256);
	assert_int_equal(e->vdev->nvqs, 3);
	assert_int_equal(e->vdev->ngroups, 2);
	assert_int_equal(e->vdev->nas, 2);
	assert_int_equal(ops->get_vq_group(e->vdev, RXQ), 0);
	assert_int_equal(ops->get_vq_group(e->vdev, TXQ), 0);
	assert_int_equal(ops->get_vq_group(e->vdev, CVQ), 1);
	assert_int_equal(ops->get_config_size(e->vdev), 24);
}

static void net_default_config(void **state)
{
	struct net_env *e = *state;
	struct virtio_net_config c, zero = { 0 };
	uint16_t st = 0;

	memset(&c, 0xff, sizeof(c));
	assert_int_equal(vdpa_get_config(e->vdev, 0, &c, 24), 0);
	assert_memory_equal(c.mac, zero.mac, 6);
	assert_int_equal(le16toh(c.mtu), 1500);
	assert_int_equal(le16toh(c.status), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(c.max_virtqueue_pairs, 0);
	assert_int_equal(c.speed, 0);
	assert_int_equal(c.duplex, 0);
	/* the status is stamped on every read */
	assert_int_equal(
		vdpa_set_config(e->vdev,
				offsetof(struct virtio_net_config, status), &st,
				2),
		0);
	st = 0;
	assert_int_equal(
		vdpa_get_config(e->vdev,
				offsetof(struct virtio_net_config, status), &st,
				2),
		0);
	assert_int_equal(le16toh(st), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(vdpa_get_config(e->vdev, 1, &c, 24), -EINVAL);
}

static void net_config_on_add(void **state)
{
	struct net_env *e = *state;
	struct vdpa_dev_set_config cfg = mac_cfg(OTHER);
	struct vdpa_device *v;
	struct virtio_net_config c;

	cfg.mask |= BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU);
	cfg.net.mtu = 9000;
	v = test_dev_add(&e->tb, e->tb.net, "net1", &cfg);
	assert_non_null(v);
	assert_int_equal(vdpa_get_config(v, 0, &c, 24), 0);
	assert_memory_equal(c.mac, OTHER, 6);
	assert_int_equal(le16toh(c.mtu), 9000);
	assert_int_equal(le16toh(c.status), VIRTIO_NET_S_LINK_UP);
	/* only the MTU: the MAC stays zero */
	cfg.mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU);
	cfg.net.mtu = 68;
	v = test_dev_add(&e->tb, e->tb.net, "net2", &cfg);
	assert_non_null(v);
	assert_int_equal(vdpa_get_config(v, 0, &c, 24), 0);
	assert_true(!c.mac[0] && !c.mac[1] && !c.mac[2] && !c.mac[3] &&
		    !c.mac[4] && !c.mac[5]);
	assert_int_equal(le16toh(c.mtu), 68);
}

static void net_provisioned_features(void **state)
{
	struct net_env *e = *state;
	uint64_t sub = BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NET_F_MAC);
	struct vdpa_dev_set_config cfg = {
		.mask = BIT_ULL(VDPA_ATTR_DEV_FEATURES),
		.device_features = NET_FEATURES | BIT_ULL(VIRTIO_NET_F_MQ),
	};
	struct vdpa_device *v;
	struct test_drv d;

	assert_int_equal(vdpa_mgmtdev_dev_add(e->tb.net, "bad", &cfg, NULL),
			 -EINVAL);
	vdpa_bus_read_lock(e->tb.bus);
	assert_null(vdpa_find_device(e->tb.bus, "bad"));
	vdpa_bus_read_unlock(e->tb.bus);
	cfg.device_features = BIT_ULL(VIRTIO_F_RING_PACKED);
	assert_int_equal(vdpa_mgmtdev_dev_add(e->tb.net, "bad", &cfg, NULL),
			 -EINVAL);

	/* a subset replaces the offered set, ACCESS_PLATFORM or not */
	cfg.device_features = sub;
	v = test_dev_add(&e->tb, e->tb.net, "sub", &cfg);
	assert_non_null(v);
	assert_int_equal(v->config->get_device_features(v), sub);
	assert_int_equal(test_drv_start(&d, v, ~0ull, 3, 64, 0), 0);
	assert_int_equal(v->config->get_driver_features(v), sub);
	assert_true(vdpa_get_status(v) & VIRTIO_CONFIG_S_DRIVER_OK);
	test_drv_stop(&d);
	/* the full set is a subset of itself */
	cfg.device_features = NET_FEATURES;
	assert_non_null(test_dev_add(&e->tb, e->tb.net, "full", &cfg));
}

/* uvdpa takes features without ACCESS_PLATFORM (reference §11 note). */
static void net_no_access_platform(void **state)
{
	struct net_env *e = *state;
	uint64_t want = ~BIT_ULL(VIRTIO_F_ACCESS_PLATFORM);
	struct buf *r, *f;

	test_drv_stop(&e->d);
	e->nbufs = 0;
	assert_int_equal(test_drv_start(&e->d, e->vdev, want, 3, QSIZE, 0), 0);
	assert_int_equal(e->vdev->config->get_driver_features(e->vdev),
			 NET_FEATURES & want);
	r = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f = frame(e, BCAST, 100, 1);
	send_one(e, f);
	rx_expect(e, r, f);
}

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
	tx(e, f);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, &f, 1);
	rx_none(e);
	assert_int_equal(vstat(e, TXQ, "tx errors"), 1);
	assert_int_equal(vstat(e, RXQ, "rx packets"), 0);
	f = frame(e, BCAST, hdr + max, 31);
	tx(e, f);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, &f, 1);
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
	for (unsigned int i = 0; i < 4; i++)
		tx(e, f[i]);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, 4);
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
	tx(e, f[0]);
	tx(e, f[1]);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, 2);
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
	tx(e, f[0]);
	tx(e, f[1]);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, 2);
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

/* ---- control queue ---- */

static void net_cvq_mac(void **state)
{
	struct net_env *e = *state;
	struct buf *r[2], *f[2];
	uint8_t mac[6];

	assert_int_equal(set_mac_cmd(e, NEWMAC), VIRTIO_NET_OK);
	get_mac(e->vdev, mac);
	assert_memory_equal(mac, NEWMAC, 6);
	/* the filter follows: the new MAC in, the old one out */
	r[0] = rx_post(e, 2048, 1);
	r[1] = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f[0] = frame(e, MYMAC, 100, 70);
	f[1] = frame(e, NEWMAC, 100, 71);
	tx(e, f[0]);
	tx(e, f[1]);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, 2);
	rx_expect(e, r[0], f[1]);
	assert_int_equal(vstat(e, RXQ, "rx drops"), 1);
	assert_int_equal(vstat(e, CVQ, "cvq requests"), 1);
	assert_int_equal(vstat(e, CVQ, "cvq successes"), 1);
	assert_int_equal(vstat(e, CVQ, "cvq errors"), 0);
}

/* Each command gets its own ack (the kernel carries it over). */
static void net_cvq_ack_per_command(void **state)
{
	struct net_env *e = *state;
	uint8_t on = 1, table[12] = { 0 }, mac[6], longer[8] = { 0 };
	static const uint8_t want[] = {
		VIRTIO_NET_OK,	VIRTIO_NET_ERR, VIRTIO_NET_OK, VIRTIO_NET_ERR,
		VIRTIO_NET_ERR, VIRTIO_NET_ERR, VIRTIO_NET_OK,
	};
	struct cmd c[7];

	cvq_add(e, &c[0], VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
		OTHER, 6);
	cvq_add(e, &c[1], VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on,
		1);
	cvq_add(e, &c[2], VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
		NEWMAC, 6);
	cvq_add(e, &c[3], VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
		table, sizeof(table));
	cvq_add(e, &c[4], VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
		MYMAC, 4); /* short: not applied */
	cvq_add(e, &c[5], VIRTIO_NET_CTRL_ANNOUNCE,
		VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0);
	memcpy(longer, NEWMAC, 6);
	cvq_add(e, &c[6], VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
		longer, 8); /* longer is fine: 6 bytes are read */
	test_drv_kick(&e->d, CVQ);
	cvq_done(e, c, 7);
	for (unsigned int i = 0; i < 7; i++)
		assert_int_equal(c[i].ack->p[0], want[i]);
	get_mac(e->vdev, mac);
	assert_memory_equal(mac, NEWMAC, 6);
	assert_int_equal(vstat(e, CVQ, "cvq requests"), 7);
	assert_int_equal(vstat(e, CVQ, "cvq successes"), 3);
	assert_int_equal(vstat(e, CVQ, "cvq errors"), 4);
}

/* The ack lands in the last writable byte; no room for one: NEEDS_RESET. */
static void net_cvq_ack_placement(void **state)
{
	struct net_env *e = *state;
	struct buf *out = buf_new(e, 8), *in = buf_new(e, 4);
	struct vq_buf v[2] = { { out->iova, 8 }, { in->iova, 4 } };
	uint32_t len = UINT32_MAX;
	int token;

	out->p[0] = VIRTIO_NET_CTRL_MAC;
	out->p[1] = VIRTIO_NET_CTRL_MAC_ADDR_SET;
	memcpy(out->p + 2, NEWMAC, 6);
	memset(in->p, 0xee, 4);
	assert_int_equal(vq_drv_add(&e->d.vq[CVQ], v, 1, 1, &token), 0);
	test_drv_kick(&e->d, CVQ);
	assert_ptr_equal(test_drv_wait_used(&e->d, CVQ, &len, WAIT_MS), &token);
	assert_int_equal(len, 1);
	assert_int_equal(in->p[3], VIRTIO_NET_OK);
	assert_int_equal(in->p[0], 0xee);
	assert_int_equal(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET,
			 0);
	/* a header shorter than 2 bytes: an error, acked */
	v[0].len = 1;
	assert_int_equal(vq_drv_add(&e->d.vq[CVQ], v, 1, 1, &token), 0);
	test_drv_kick(&e->d, CVQ);
	assert_ptr_equal(test_drv_wait_used(&e->d, CVQ, &len, WAIT_MS), &token);
	assert_int_equal(in->p[3], VIRTIO_NET_ERR);
	/* nothing writable */
	assert_int_equal(vq_drv_add(&e->d.vq[CVQ], v, 1, 0, &token), 0);
	test_drv_kick(&e->d, CVQ);
	assert_ptr_equal(test_drv_wait_used(&e->d, CVQ, &len, WAIT_MS), &token);
	assert_true(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(vstat(e, CVQ, "cvq requests"), 3);
	assert_int_equal(vstat(e, CVQ, "cvq successes"), 1);
	assert_int_equal(vstat(e, CVQ, "cvq errors"), 2);
}

/* Without CTRL_VQ negotiated the third queue is not served. */
static void net_cvq_not_negotiated(void **state)
{
	struct net_env *e = *state;
	struct cmd c;

	cvq_add(e, &c, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
		NEWMAC, 6);
	test_drv_kick(&e->d, CVQ);
	assert_null(test_drv_wait_used(&e->d, CVQ, NULL, QUIET_MS));
	assert_int_equal(c.ack->p[0], 0xee);
	assert_int_equal(vstat(e, CVQ, "cvq requests"), 0);
}

/* ---- MAC from outside the data path ---- */

static void net_dev_set_attr(void **state)
{
	struct net_env *e = *state;
	struct vdpa_mgmt_dev *m = e->tb.net;
	struct vdpa_dev_set_config cfg = mac_cfg(NEWMAC);
	struct buf *r, *f[2];
	uint8_t mac[6];

	assert_int_equal(m->ops->dev_set_attr(m, e->vdev, &cfg, NULL), 0);
	get_mac(e->vdev, mac);
	assert_memory_equal(mac, NEWMAC, 6);
	r = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f[0] = frame(e, MYMAC, 100, 80);
	f[1] = frame(e, NEWMAC, 100, 81);
	tx(e, f[0]);
	tx(e, f[1]);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, 2);
	rx_expect(e, r, f[1]);
	/* only the MAC can be set */
	cfg.mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU);
	cfg.net.mtu = 1000;
	assert_int_equal(m->ops->dev_set_attr(m, e->vdev, &cfg, NULL),
			 -EOPNOTSUPP);
	assert_int_equal(
		vdpa_get_config(e->vdev,
				offsetof(struct virtio_net_config, mtu),
				&cfg.net.mtu, 2),
		0);
	assert_int_equal(le16toh(cfg.net.mtu), 1500);
}

/* A legacy driver writes the MAC into config space: the filter follows. */
static void net_config_write_mac(void **state)
{
	struct net_env *e = *state;
	struct buf *r, *f;

	assert_int_equal(vdpa_set_config(e->vdev, 0, OTHER, 6), 0);
	r = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f = frame(e, OTHER, 100, 90);
	send_one(e, f);
	rx_expect(e, r, f);
}

/* The config, MAC included, outlives a reset (as in the kernel). */
static void net_reset_keeps_mac(void **state)
{
	struct net_env *e = *state;
	uint8_t mac[6];
	struct buf *r, *f;

	assert_int_equal(set_mac_cmd(e, NEWMAC), VIRTIO_NET_OK);
	test_drv_stop(&e->d);
	e->nbufs = 0;
	get_mac(e->vdev, mac);
	assert_memory_equal(mac, NEWMAC, 6);
	assert_int_equal(test_drv_start(&e->d, e->vdev, ~0ull, 3, 64, 0), 0);
	r = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f = frame(e, NEWMAC, 100, 91);
	send_one(e, f);
	rx_expect(e, r, f);
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
	for (unsigned int i = 0; i < 6; i++)
		tx(e, f[i]);
	test_drv_kick(&e->d, TXQ);
	tx_done(e, f, 6);
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
	assert_true(wait_status(e->vdev, VIRTIO_CONFIG_S_NEEDS_RESET, WAIT_MS));
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
	r = rx_post(e, 2048, 1);
	test_drv_kick(&e->d, RXQ);
	f = frame(e, BCAST, 100, 102);
	send_one(e, f);
	rx_expect(e, r, f);
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
	assert_true(wait_status(e->vdev, VIRTIO_CONFIG_S_NEEDS_RESET, WAIT_MS));
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
	assert_true(wait_status(e->vdev, VIRTIO_CONFIG_S_NEEDS_RESET, WAIT_MS));
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
		T(net_mgmtdev),
		T(net_identity),
		TS(net_default_config, net_setup_nocfg),
		T(net_config_on_add),
		T(net_provisioned_features),
		T(net_no_access_platform),
		T(net_loopback_accepts),
		T(net_big_frame),
		T(net_oversized_frame),
		T(net_filter),
		T(net_header_v1),
		TS(net_header_legacy, net_setup_legacy),
		T(net_rx_overrun),
		T(net_rx_too_short),
		T(net_batch),
		T(net_cvq_mac),
		T(net_cvq_ack_per_command),
		T(net_cvq_ack_placement),
		TS(net_cvq_not_negotiated, net_setup_no_cvq),
		T(net_dev_set_attr),
		T(net_config_write_mac),
		T(net_reset_keeps_mac),
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
