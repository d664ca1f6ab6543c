// SPDX-License-Identifier: MIT
/*
 * vdpasim_net's control plane: the management device, config space on
 * creation and after, provisioned features, the control queue and the MAC
 * set from outside the data path (reference §4.2, §10.6, §11 items 4-5).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "sim_net_env.h"

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

	test_drv_stop(&e->d);
	e->nbufs = 0;
	assert_int_equal(test_drv_start(&e->d, e->vdev, want, 3, QSIZE, 0), 0);
	assert_int_equal(e->vdev->config->get_driver_features(e->vdev),
			 NET_FEATURES & want);
	loop_one(e, BCAST, 1);
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
	send_all(e, f, 2);
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
	send_all(e, f, 2);
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

	assert_int_equal(vdpa_set_config(e->vdev, 0, OTHER, 6), 0);
	loop_one(e, OTHER, 90);
}

/* The config, MAC included, outlives a reset (as in the kernel). */
static void net_reset_keeps_mac(void **state)
{
	struct net_env *e = *state;
	uint8_t mac[6];

	assert_int_equal(set_mac_cmd(e, NEWMAC), VIRTIO_NET_OK);
	test_drv_stop(&e->d);
	e->nbufs = 0;
	get_mac(e->vdev, mac);
	assert_memory_equal(mac, NEWMAC, 6);
	assert_int_equal(test_drv_start(&e->d, e->vdev, ~0ull, 3, 64, 0), 0);
	loop_one(e, NEWMAC, 91);
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
		T(net_cvq_mac),
		T(net_cvq_ack_per_command),
		T(net_cvq_ack_placement),
		TS(net_cvq_not_negotiated, net_setup_no_cvq),
		T(net_dev_set_attr),
		T(net_config_write_mac),
		T(net_reset_keeps_mac),
	};
#undef T
#undef TS
	return cmocka_run_group_tests(tests, NULL, NULL);
}
