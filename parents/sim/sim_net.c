// SPDX-License-Identifier: MIT
/*
 * vdpasim_net: TX looped back to RX through a MAC filter, and a control
 * queue that sets the MAC (Linux vdpa_sim_net.c, reference §4.2).
 *
 * Where it differs from the kernel, on purpose (reference §11, note):
 *  - frames are copied whole, not cut at 4096 bytes; an RX chain too short
 *    for a frame drops it and counts `rx errors`;
 *  - the control queue's ack is decided per command;
 *  - frames are taken and completed in batches, one notification per batch,
 *    with no requeue after 5 frames;
 *  - a malformed ring counts as `tx errors`, `rx errors` or `cvq errors`
 *    of its queue and sets NEEDS_RESET.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "sim.h"

#define SIM_NET_RXQ 0
#define SIM_NET_TXQ 1
#define SIM_NET_CVQ 2
#define SIM_NET_NVQS 3
#define SIM_NET_BUDGET 256 /* frames per serve call, then other queues */
/*
 * The largest frame copied: a 64 KiB IP packet in a VLAN-tagged Ethernet
 * frame. A driver may describe any length; a worker shared with other
 * devices does not copy gigabytes for it.
 */
#define SIM_NET_MAX_FRAME (65535 + 14 + 4)
/*
 * The kernel's config size (reference §4.2): fixed, so it does not follow
 * the build host's linux-libc-dev.
 */
#define SIM_NET_CONFIG_SIZE 24

_Static_assert(offsetof(struct virtio_net_config, mtu) + 2 <=
		       SIM_NET_CONFIG_SIZE,
	       "the fields the simulator fills lie in the kernel's 24 bytes");

#define SIM_NET_FEATURES                                                       \
	(SIM_FEATURES | BIT_ULL(VIRTIO_NET_F_MAC) |                            \
	 BIT_ULL(VIRTIO_NET_F_STATUS) | BIT_ULL(VIRTIO_NET_F_MTU) |            \
	 BIT_ULL(VIRTIO_NET_F_CTRL_VQ) | BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR))

/* One writer each (the worker); read by vstats without a lock. */
struct sim_net_stats {
	uint64_t rx_pkts, rx_bytes, rx_errors, rx_overruns, rx_drops;
	uint64_t tx_pkts, tx_bytes, tx_errors, tx_drops;
	uint64_t cvq_requests, cvq_successes, cvq_errors;
};

struct sim_net {
	struct sim_dev sim;
	struct sim_net_stats st;
	uint64_t mac; /* atomic: config mac, for the filter without a lock */
};

static struct sim_net *sim_to_net(struct sim_dev *sim)
{
	return container_of(sim, struct sim_net, sim);
}

static uint32_t sim_net_vq_group(uint16_t idx)
{
	return idx == SIM_NET_CVQ ? 1 : 0; /* the CVQ alone in group 1 */
}

/* Per-batch counts, added to the shared counters once per batch. */
struct net_batch {
	uint64_t tx_pkts, tx_bytes, tx_errors;
	uint64_t rx_pkts, rx_bytes, rx_errors, rx_overruns, rx_drops;
};

/*
 * Six bytes as one number, the same way for the frame and the config:
 * two loads, not a 6-byte copy to the stack read back as 8 bytes, which
 * stalls on store forwarding for every frame.
 */
static uint64_t mac_u64(const uint8_t *p)
{
	uint32_t lo;
	uint16_t hi;

	memcpy(&lo, p, 4);
	memcpy(&hi, p + 4, 2);
	return lo | (uint64_t)hi << 32;
}

/* config_lock held: the config mac changed. */
static void net_mac_changed(struct sim_net *net)
{
	struct virtio_net_config *c = net->sim.config;

	__atomic_store_n(&net->mac, mac_u64(c->mac), __ATOMIC_RELAXED);
}

static bool net_filter(struct sim_net *net, const struct vq_elem *t,
		       size_t hdr_len)
{
	uint8_t split[6];
	const uint8_t *dst = split;

	if (t->out_len < hdr_len + 6)
		return false;
	if (t->iov[0].iov_len >= hdr_len + 6)
		dst = (const uint8_t *)t->iov[0].iov_base + hdr_len;
	else
		vq_iov_to_buf(t->iov, t->out_num, hdr_len, split, 6);
	if (dst[0] & 1)
		return true; /* broadcast and multicast: the I/G bit */
	return mac_u64(dst) == __atomic_load_n(&net->mac, __ATOMIC_RELAXED);
}

static void net_stats_add(struct sim_net *net, const struct net_batch *b)
{
	sim_stat_add(&net->st.tx_pkts, b->tx_pkts);
	sim_stat_add(&net->st.tx_bytes, b->tx_bytes);
	sim_stat_add(&net->st.tx_errors, b->tx_errors);
	sim_stat_add(&net->st.rx_pkts, b->rx_pkts);
	sim_stat_add(&net->st.rx_bytes, b->rx_bytes);
	sim_stat_add(&net->st.rx_errors, b->rx_errors);
	sim_stat_add(&net->st.rx_overruns, b->rx_overruns);
	sim_stat_add(&net->st.rx_drops, b->rx_drops);
}

/*
 * The frames were written by the driver's CPU: ask for their first lines,
 * and the RX buffers' for writing, all at once, so that the cross-CPU
 * transfers overlap instead of coming one frame at a time.
 */
static void net_prefetch(const struct vq_elem *te, unsigned int nt,
			 const struct vq_elem *re, unsigned int nr)
{
	for (unsigned int t = 0; t < nt; t++) {
		const struct iovec *v = &te[t].iov[0];

		if (!te[t].out_num)
			continue;
		__builtin_prefetch(v->iov_base, 0);
		if (v->iov_len > 64)
			__builtin_prefetch((const char *)v->iov_base + 64, 0);
	}
	for (unsigned int r = 0; r < nr; r++) {
		const struct iovec *v = &re[r].iov[re[r].out_num];

		if (!re[r].in_num)
			continue;
		__builtin_prefetch(v->iov_base, 1);
		if (v->iov_len > 64)
			__builtin_prefetch((const char *)v->iov_base + 64, 1);
	}
}

/*
 * Loop one batch of TX frames into RX buffers. Returns false when RX ran
 * out of buffers: the frame that found none is dropped (rx overruns, as
 * a NIC does); the rest of the batch goes back to the ring and is taken
 * again next round, when RX may have buffers again.
 */
static bool net_loop_batch(struct sim_net *net, struct vq_elem *te,
			   unsigned int nt)
{
	struct net_batch batch = { 0 }, *b = &batch;
	struct sim_vq *rxq = &net->sim.vqs[SIM_NET_RXQ];
	struct sim_vq *txq = &net->sim.vqs[SIM_NET_TXQ];
	size_t hdr_len = (net->sim.features & BIT_ULL(VIRTIO_F_VERSION_1))
				 ? VIRTIO_NET_HDR_V1_LEN
				 : VIRTIO_NET_HDR_LEGACY_LEN;
	struct vq_elem re[SIM_BATCH];
	uint32_t tlens[SIM_BATCH] = { 0 }, rlens[SIM_BATCH];
	unsigned int nr, ri = 0, t;
	bool more = true;

	nr = sim_vq_pop(rxq, re, nt);
	net_prefetch(te, nt, re, nr);
	for (t = 0; t < nt; t++) {
		b->tx_pkts++;
		b->tx_bytes += te[t].out_len;
		if (te[t].out_len > hdr_len + SIM_NET_MAX_FRAME) {
			b->tx_errors++; /* completed with length 0, not copied */
			continue;
		}
		if (!net_filter(net, &te[t], hdr_len)) {
			b->rx_drops++;
			continue;
		}
		if (ri == nr) {
			b->rx_overruns++;
			more = false;
			break;
		}
		rlens[ri] = 0;
		if (re[ri].in_len < te[t].out_len) {
			b->rx_errors++;
		} else {
			rlens[ri] = (uint32_t)vq_iov_copy(
				re[ri].iov + re[ri].out_num, re[ri].in_num,
				te[t].iov, te[t].out_num, te[t].out_len);
			b->rx_pkts++;
			b->rx_bytes += rlens[ri];
		}
		ri++;
	}
	if (t < nt)
		vq_dev_unpop(&txq->ring, nt - t - 1);
	vq_dev_unpop(&rxq->ring, nr - ri);
	/* counted before completed: a driver that sees a frame sees its count */
	net_stats_add(net, b);
	sim_vq_complete(txq, te, tlens, t < nt ? t + 1 : nt);
	sim_vq_complete(rxq, re, rlens, ri);
	return more;
}

static unsigned int net_loopback(struct sim_net *net)
{
	struct sim_vq *rxq = &net->sim.vqs[SIM_NET_RXQ];
	struct sim_vq *txq = &net->sim.vqs[SIM_NET_TXQ];
	struct vq_elem te[SIM_BATCH];
	unsigned int done = 0, nt;

	if (!sim_vq_ready(txq) || !sim_vq_ready(rxq))
		return 0;
	while (done < SIM_NET_BUDGET) {
		nt = sim_vq_pop(txq, te, SIM_BATCH);
		if (!nt)
			break;
		done += nt;
		if (!net_loop_batch(net, te, nt))
			break;
	}
	return done;
}

static uint8_t net_ctrl_cmd(struct sim_net *net, const struct vq_elem *e)
{
	struct virtio_net_ctrl_hdr hdr;
	struct virtio_net_config *cfg = net->sim.config;
	uint8_t mac[6];

	if (e->out_len < sizeof(hdr))
		return VIRTIO_NET_ERR;
	vq_iov_to_buf(e->iov, e->out_num, 0, &hdr, sizeof(hdr));
	if (hdr.class != VIRTIO_NET_CTRL_MAC ||
	    hdr.cmd != VIRTIO_NET_CTRL_MAC_ADDR_SET ||
	    e->out_len < sizeof(hdr) + sizeof(mac))
		return VIRTIO_NET_ERR;
	vq_iov_to_buf(e->iov, e->out_num, sizeof(hdr), mac, sizeof(mac));
	pthread_mutex_lock(&net->sim.config_lock);
	memcpy(cfg->mac, mac, sizeof(mac));
	net_mac_changed(net);
	pthread_mutex_unlock(&net->sim.config_lock);
	return VIRTIO_NET_OK;
}

static unsigned int net_cvq(struct sim_net *net)
{
	struct sim_vq *cvq = &net->sim.vqs[SIM_NET_CVQ];
	struct vq_elem e[SIM_BATCH];
	uint32_t lens[SIM_BATCH];
	uint64_t ok = 0;
	unsigned int n;

	if (!(net->sim.features & BIT_ULL(VIRTIO_NET_F_CTRL_VQ)) ||
	    !sim_vq_ready(cvq))
		return 0;
	n = sim_vq_pop(cvq, e, SIM_BATCH);
	for (unsigned int i = 0; i < n; i++) {
		uint8_t ack;

		lens[i] = 0;
		if (e[i].in_len == 0) {
			sim_needs_reset(&net->sim); /* no room for the ack */
			continue;
		}
		ack = net_ctrl_cmd(net, &e[i]);
		ok += ack == VIRTIO_NET_OK;
		vq_buf_to_iov(e[i].iov + e[i].out_num, e[i].in_num,
			      e[i].in_len - 1, &ack, 1);
		lens[i] = 1;
	}
	sim_stat_add(&net->st.cvq_requests, n);
	sim_stat_add(&net->st.cvq_successes, ok);
	sim_stat_add(&net->st.cvq_errors, n - ok);
	sim_vq_complete(cvq, e, lens, n);
	return n;
}

static unsigned int sim_net_serve(struct sim_dev *sim, struct sim_vq *vq)
{
	struct sim_net *net = sim_to_net(sim);

	/* new RX buffers may unblock TX frames: both loop the same way */
	if (vq->idx == SIM_NET_CVQ)
		return net_cvq(net);
	return net_loopback(net);
}

static void sim_net_get_config(struct sim_dev *sim, void *config)
{
	struct virtio_net_config *c = config;

	c->status = htole16(VIRTIO_NET_S_LINK_UP); /* stamped on every read */
}

static void sim_net_set_config(struct sim_dev *sim, void *config)
{
	net_mac_changed(sim_to_net(sim));
}

struct stat_row {
	const char *name;
	const uint64_t *value;
	const uint64_t *ring_errors; /* added: malformed rings of the queue */
};

static int put_rows(struct vdpa_stats_writer *w, const struct stat_row *rows,
		    unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t v = sim_stat_read(rows[i].value);
		int ret;

		if (rows[i].ring_errors)
			v += sim_stat_read(rows[i].ring_errors);
		ret = w->put(w, rows[i].name, v);
		if (ret)
			return ret;
	}
	return 0;
}

static int sim_net_get_stats(struct sim_dev *sim, uint16_t idx,
			     struct vdpa_stats_writer *w,
			     struct vdpa_extack *ext)
{
	struct sim_net_stats *s = &sim_to_net(sim)->st;
	struct sim_vq *vqs = sim->vqs;
	const struct stat_row rx[] = {
		{ "rx packets", &s->rx_pkts, NULL },
		{ "rx bytes", &s->rx_bytes, NULL },
		{ "rx errors", &s->rx_errors, &vqs[SIM_NET_RXQ].ring_errors },
		{ "rx overruns", &s->rx_overruns, NULL },
		{ "rx drops", &s->rx_drops, NULL },
	};
	const struct stat_row tx[] = {
		{ "tx packets", &s->tx_pkts, NULL },
		{ "tx bytes", &s->tx_bytes, NULL },
		{ "tx errors", &s->tx_errors, &vqs[SIM_NET_TXQ].ring_errors },
		{ "tx drops", &s->tx_drops, NULL },
	};
	const struct stat_row cvq[] = {
		{ "cvq requests", &s->cvq_requests, NULL },
		{ "cvq successes", &s->cvq_successes, NULL },
		{ "cvq errors", &s->cvq_errors, &vqs[SIM_NET_CVQ].ring_errors },
	};

	switch (idx) {
	case SIM_NET_RXQ:
		return put_rows(w, rx, ARRAY_SIZE(rx));
	case SIM_NET_TXQ:
		return put_rows(w, tx, ARRAY_SIZE(tx));
	case SIM_NET_CVQ:
		return put_rows(w, cvq, ARRAY_SIZE(cvq));
	default:
		return -EINVAL;
	}
}

static int sim_net_init(struct sim_dev *sim,
			const struct vdpa_dev_set_config *config,
			struct vdpa_extack *ext)
{
	struct virtio_net_config *c = sim->config;

	/* no MAC given: 00:00:00:00:00:00, as the current kernel */
	if (config->mask & BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR))
		memcpy(c->mac, config->net.mac, sizeof(c->mac));
	c->mtu = htole16((config->mask & BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU))
				 ? config->net.mtu
				 : 1500);
	net_mac_changed(sim_to_net(sim));
	return 0;
}

/*
 * Posted RX buffers are not work: the RX queue is served when TX has
 * frames for it (or a kick brings new buffers, which may unblock TX frames
 * that found none). Without this, a driver that keeps RX buffers posted
 * (every driver) would keep the worker polling forever.
 */
static int sim_net_vq_idle(struct sim_dev *sim, struct sim_vq *vq)
{
	if (vq->idx != SIM_NET_RXQ)
		return 0;
	vq_dev_enable_notify(&vq->ring);
	return -1;
}

static int sim_net_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			   const struct vdpa_dev_set_config *config,
			   struct vdpa_extack *ext)
{
	struct sim_dev_attr attr = {
		.mgmt = container_of(mdev, struct sim_mgmt, mdev),
		.name = name,
		.id = VIRTIO_ID_NET,
		.supported_features = SIM_NET_FEATURES,
		.config_size = SIM_NET_CONFIG_SIZE,
		.alloc_size = sizeof(struct sim_net),
		.nvqs = SIM_NET_NVQS,
		.ngroups = 2,
		.nas = 2,
		.vq_group = sim_net_vq_group,
		.init = sim_net_init,
		.serve = sim_net_serve,
		.vq_idle = sim_net_vq_idle,
		.get_config = sim_net_get_config,
		.set_config = sim_net_set_config,
		.get_stats = sim_net_get_stats,
	};
	int err = 0;

	return sim_create(&attr, name, config, ext, &err) ? 0 : err;
}

static void sim_net_dev_del(struct vdpa_mgmt_dev *mdev,
			    struct vdpa_device *vdev)
{
	_vdpa_unregister_device(vdev);
}

static int sim_net_dev_set_attr(struct vdpa_mgmt_dev *mdev,
				struct vdpa_device *vdev,
				const struct vdpa_dev_set_config *config,
				struct vdpa_extack *ext)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);
	struct virtio_net_config *c = sim->config;

	if (!(config->mask & BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR)))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&sim->config_lock);
	memcpy(c->mac, config->net.mac, sizeof(c->mac));
	net_mac_changed(sim_to_net(sim));
	pthread_mutex_unlock(&sim->config_lock);
	return 0;
}

static const struct vdpa_mgmtdev_ops sim_net_mgmtdev_ops = {
	.dev_add = sim_net_dev_add,
	.dev_del = sim_net_dev_del,
	.dev_set_attr = sim_net_dev_set_attr,
};

static const uint32_t sim_net_ids[] = { VIRTIO_ID_NET, 0 };

struct vdpa_mgmt_dev *vdpasim_net_mgmtdev_new(struct vdpa_worker_pool *pool)
{
	struct sim_mgmt *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->pool = pool;
	m->poll_us = VDPASIM_POLL_US_DEFAULT;
	m->mdev.dev_name = "vdpasim_net";
	m->mdev.ops = &sim_net_mgmtdev_ops;
	m->mdev.id_table = sim_net_ids;
	m->mdev.config_attr_mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR) |
				   BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU) |
				   BIT_ULL(VDPA_ATTR_DEV_FEATURES);
	m->mdev.max_supported_vqs = SIM_NET_NVQS;
	m->mdev.supported_features = SIM_NET_FEATURES;
	list_init(&m->mdev.bus_link);
	return &m->mdev;
}
