// SPDX-License-Identifier: MIT
/*
 * uvdpa-demo: the vdpa bus end to end in one process. It registers the two
 * simulator parents, creates a block and a network device through their
 * management devices, and drives them as a virtio driver would, through
 * the driver-side queues: a block pattern written and read back, frames
 * looped back through the MAC filter, the control queue, and a malformed
 * ring that breaks one device while the others keep working.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uvdpa/sim.h>
#include <uvdpa/uapi.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/virtio_dev.h>
#include <uvdpa/worker.h>

#define ARENA_SIZE (64u << 20)
#define ARENA_IOVA 0x80000000ull /* the device sees iovas, never our pointers */
#define QSIZE 256
#define BLK_DEPTH 32
#define BLK_IO 4096
#define BLK_TOTAL (64u << 20)

static const uint8_t own_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int fail(const char *what, int err)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show_mgmtdevs(struct vdpa_bus *bus)
{
	struct vdpa_mgmt_dev *m;

	printf("\n== management devices on the bus ==\n");
	vdpa_bus_read_lock(bus);
	vdpa_bus_for_each_mgmtdev(m, bus)
		printf("%s: classes 0x%" PRIx64 " max_supported_vqs %u "
		       "dev_features 0x%" PRIx64 "\n",
		       m->dev_name, vdpa_mgmtdev_classes(m),
		       m->max_supported_vqs, m->supported_features);
	vdpa_bus_read_unlock(bus);
}

static struct vdpa_device *dev_add(struct vdpa_mgmt_dev *m, const char *name,
				   const struct vdpa_dev_set_config *cfg)
{
	struct vdpa_extack ext = { "" };
	struct vdpa_device *vdev;
	int ret;

	ret = vdpa_mgmtdev_dev_add(m, name, cfg, &ext);
	if (ret) {
		fprintf(stderr, "demo: dev add %s: %s %s\n", name,
			strerror(-ret), ext.msg);
		return NULL;
	}
	vdpa_bus_read_lock(m->bus);
	vdev = vdpa_find_device(m->bus, name);
	vdpa_bus_read_unlock(m->bus);
	printf("dev add name %s mgmtdev %s -> %s: index %u device_id %u "
	       "max_vqs %u max_vq_size %u\n",
	       name, m->dev_name, vdev->name, vdev->index,
	       vdev->config->get_device_id(vdev), vdev->nvqs,
	       vdev->config->get_vq_num_max(vdev));
	return vdev;
}

/* ---- block ---- */

struct blk_slot {
	struct virtio_blk_outhdr *hdr;
	uint8_t *data;
	uint8_t *status;
	struct vq_buf bufs[3];
};

static void blk_slot_init(struct virtio_dev *d, struct blk_slot *s)
{
	s->hdr = virtio_dev_alloc(d, sizeof(*s->hdr), 16, &s->bufs[0].iova);
	s->data = virtio_dev_alloc(d, BLK_IO, 4096, &s->bufs[1].iova);
	s->status = virtio_dev_alloc(d, 1, 1, &s->bufs[2].iova);
	s->bufs[0].len = sizeof(*s->hdr);
	s->bufs[1].len = BLK_IO;
	s->bufs[2].len = 1;
}

static void pattern(uint8_t *buf, uint64_t sector)
{
	for (size_t i = 0; i < BLK_IO; i += 8)
		memcpy(buf + i, &(uint64_t){ sector * 4096 + i }, 8);
}

static int blk_queue(struct virtio_dev *d, struct blk_slot *s, uint32_t type,
		     uint64_t sector)
{
	bool write = type == VIRTIO_BLK_T_OUT;

	s->hdr->type = htole32(type);
	s->hdr->ioprio = 0;
	s->hdr->sector = htole64(sector);
	*s->status = 0xff;
	if (write)
		pattern(s->data, sector);
	return vq_drv_add(&d->vqs[0].drv, s->bufs, write ? 2 : 1, write ? 1 : 2,
			  s);
}

/* Stream the whole span through @depth slots; count pattern mismatches. */
static int blk_stream(struct virtio_dev *d, struct blk_slot *slots,
		      uint32_t type, uint64_t *bad)
{
	uint64_t next = 0, done = 0, total = BLK_TOTAL / BLK_IO;
	uint8_t expect[BLK_IO];
	unsigned int i;

	for (i = 0; i < BLK_DEPTH; i++)
		blk_queue(d, &slots[i], type, (next++) * (BLK_IO / 512));
	virtio_vq_kick(d, 0);
	while (done < total) {
		struct blk_slot *s = vq_drv_get_used(&d->vqs[0].drv, NULL);

		if (!s) {
			if (!virtio_vq_wait(d, 0, 5000))
				return -ETIMEDOUT;
			continue;
		}
		done++;
		if (*s->status != VIRTIO_BLK_S_OK)
			return -EIO;
		if (type == VIRTIO_BLK_T_IN) {
			pattern(expect, le64toh(s->hdr->sector));
			*bad += memcmp(expect, s->data, BLK_IO) != 0;
		}
		if (next < total) {
			blk_queue(d, s, type, (next++) * (BLK_IO / 512));
			virtio_vq_kick(d, 0);
		}
	}
	return 0;
}

/* One request and its status byte. */
static int blk_one(struct virtio_dev *d, struct blk_slot *s, uint32_t type,
		   uint64_t sector, uint32_t len)
{
	s->bufs[1].len = len;
	blk_queue(d, s, type, sector);
	virtio_vq_kick(d, 0);
	while (!vq_drv_get_used(&d->vqs[0].drv, NULL))
		if (!virtio_vq_wait(d, 0, 5000))
			return -1;
	s->bufs[1].len = BLK_IO;
	return *s->status;
}

static int demo_blk_io(struct virtio_dev *d)
{
	struct blk_slot slots[BLK_DEPTH];
	uint64_t bad = 0;
	double t0, t1, t2;
	int ret;

	for (int i = 0; i < BLK_DEPTH; i++)
		blk_slot_init(d, &slots[i]);
	t0 = now_s();
	ret = blk_stream(d, slots, VIRTIO_BLK_T_OUT, &bad);
	t1 = now_s();
	if (!ret)
		ret = blk_stream(d, slots, VIRTIO_BLK_T_IN, &bad);
	t2 = now_s();
	if (ret)
		return fail("blk I/O", ret);
	printf("wrote %u MiB in %u requests of %u bytes at queue depth %u "
	       "(%.0f MB/s), read it back (%.0f MB/s): %s\n",
	       BLK_TOTAL >> 20, BLK_TOTAL / BLK_IO, BLK_IO, BLK_DEPTH,
	       BLK_TOTAL / (t1 - t0) / 1e6, BLK_TOTAL / (t2 - t1) / 1e6,
	       bad ? "MISMATCH" : "every byte as written");
	if (bad)
		return 1;
	ret = blk_one(d, &slots[0], VIRTIO_BLK_T_GET_ID, 0, 20);
	printf("GET_ID -> status %d, id \"%.20s\"\n", ret,
	       (char *)slots[0].data);
	ret = blk_one(d, &slots[0], VIRTIO_BLK_T_IN, 0x40000, 512);
	printf("read past the end (sector 0x40000) -> status %d (IOERR is "
	       "%d)\n",
	       ret, VIRTIO_BLK_S_IOERR);
	ret = blk_one(d, &slots[0], 14 /* SECURE_ERASE, not offered */, 0, 0);
	printf("an unsupported request type -> status %d (UNSUPP is %d)\n", ret,
	       VIRTIO_BLK_S_UNSUPP);
	return 0;
}

static int demo_blk(struct vdpa_device *vdev)
{
	struct virtio_dev d;
	uint64_t capacity;
	int ret;

	printf("\n== %s: a virtio-blk driver on the driver-side queues ==\n",
	       vdev->name);
	if ((ret = virtio_dev_init(&d, vdev, ARENA_SIZE, ARENA_IOVA)) ||
	    (ret = virtio_dev_negotiate(&d, ~0ull)) ||
	    (ret = virtio_dev_find_vqs(&d, 1, QSIZE, 0)) ||
	    (ret = virtio_dev_driver_ok(&d)))
		return fail("blk setup", ret);
	vdpa_get_config(vdev, 0, &capacity, sizeof(capacity));
	printf("features 0x%" PRIx64 ", capacity %" PRIu64 " sectors (%" PRIu64
	       " MiB)\n",
	       d.features, le64toh(capacity), le64toh(capacity) >> 11);
	ret = demo_blk_io(&d);
	virtio_dev_done(&d);
	return ret;
}

/* ---- network ---- */

#define NET_HDR VIRTIO_NET_HDR_V1_LEN
#define NET_FRAME 60 /* the smallest Ethernet frame, without FCS */
#define NET_RXBUF 2048
#define NET_BURST 64

struct net_drv {
	struct virtio_dev d;
	uint8_t *tx; /* QSIZE frames of NET_HDR + NET_FRAME */
	uint64_t tx_iova;
	uint8_t *rx; /* QSIZE buffers of NET_RXBUF */
	uint64_t rx_iova;
	unsigned int tx_next;
	uint64_t received, intact;
};

static void net_post_rx(struct net_drv *n, unsigned int i)
{
	struct vq_buf b = { n->rx_iova + (uint64_t)i * NET_RXBUF, NET_RXBUF };

	vq_drv_add(&n->d.vqs[0].drv, &b, 0, 1, (void *)(uintptr_t)(i + 1));
}

static uint8_t *net_frame(struct net_drv *n, const uint8_t *dst, uint32_t seq,
			  struct vq_buf *b)
{
	unsigned int slot = n->tx_next++ % QSIZE;
	uint8_t *f = n->tx + (size_t)slot * (NET_HDR + NET_FRAME);

	memset(f, 0, NET_HDR + NET_FRAME);
	memcpy(f + NET_HDR, dst, 6);
	memcpy(f + NET_HDR + 6, own_mac, 6);
	f[NET_HDR + 12] = 0x88; /* local experimental ethertype */
	f[NET_HDR + 13] = 0xb5;
	memcpy(f + NET_HDR + 14, &seq, sizeof(seq));
	b->iova = n->tx_iova + (uint64_t)slot * (NET_HDR + NET_FRAME);
	b->len = NET_HDR + NET_FRAME;
	return f;
}

/* Collect what came back on RX and check it against what was sent. */
static void net_collect(struct net_drv *n, const uint8_t *dst)
{
	uint32_t len;
	void *tok;

	while ((tok = vq_drv_get_used(&n->d.vqs[0].drv, &len))) {
		unsigned int i = (unsigned int)(uintptr_t)tok - 1;
		const uint8_t *f = n->rx + (size_t)i * NET_RXBUF;

		n->received++;
		n->intact += len == NET_HDR + NET_FRAME &&
			     !memcmp(f + NET_HDR, dst, 6) &&
			     !memcmp(f + NET_HDR + 6, own_mac, 6);
		net_post_rx(n, i);
	}
	virtio_vq_kick(&n->d, 0);
}

/* Send @count frames to @dst in bursts; wait for TX to complete each. */
static int net_send(struct net_drv *n, const uint8_t *dst, unsigned int count)
{
	for (unsigned int sent = 0; sent < count;) {
		unsigned int burst =
			count - sent < NET_BURST ? count - sent : NET_BURST;
		struct vq_buf b;

		for (unsigned int k = 0; k < burst; k++) {
			net_frame(n, dst, sent + k, &b);
			vq_drv_add(&n->d.vqs[1].drv, &b, 1, 0, n);
		}
		virtio_vq_kick(&n->d, 1);
		for (unsigned int k = 0; k < burst;) {
			if (vq_drv_get_used(&n->d.vqs[1].drv, NULL))
				k++;
			else if (!virtio_vq_wait(&n->d, 1, 5000))
				return -ETIMEDOUT;
		}
		sent += burst;
		net_collect(n, dst);
	}
	return 0;
}

static int net_round(struct net_drv *n, const char *what, const uint8_t *dst,
		     unsigned int count)
{
	uint64_t before = n->received, intact = n->intact;
	int ret = net_send(n, dst, count);

	if (ret)
		return fail("net send", ret);
	/* RX completes right after TX: give it a moment, then count */
	for (int i = 0; i < 50 && n->received - before < count; i++) {
		virtio_vq_wait(&n->d, 0, 2);
		net_collect(n, dst);
	}
	printf("%u frames to %-34s -> %" PRIu64 " back, %" PRIu64
	       " byte-identical\n",
	       count, what, n->received - before, n->intact - intact);
	return 0;
}

static int net_cvq_set_mac(struct net_drv *n, const uint8_t *mac)
{
	struct virtio_dev *d = &n->d;
	struct vq_buf b[2];
	uint8_t *cmd = virtio_dev_alloc(d, 8, 8, &b[0].iova);
	uint8_t *ack = virtio_dev_alloc(d, 1, 1, &b[1].iova);

	cmd[0] = VIRTIO_NET_CTRL_MAC;
	cmd[1] = VIRTIO_NET_CTRL_MAC_ADDR_SET;
	memcpy(cmd + 2, mac, 6);
	*ack = 0xff;
	b[0].len = 8;
	b[1].len = 1;
	vq_drv_add(&d->vqs[2].drv, b, 1, 1, n);
	virtio_vq_kick(d, 2);
	while (!vq_drv_get_used(&d->vqs[2].drv, NULL))
		if (!virtio_vq_wait(d, 2, 5000))
			return -1;
	return *ack;
}

struct stats_print {
	struct vdpa_stats_writer w;
};

static int stats_print_put(struct vdpa_stats_writer *w, const char *name,
			   uint64_t value)
{
	printf(" %s %" PRIu64, name, value);
	return 0;
}

static void net_vstats(struct vdpa_device *vdev)
{
	struct stats_print p = { { stats_print_put } };

	for (uint16_t q = 0; q < 3; q++) {
		printf("vstats qidx %u:", q);
		vdev->config->get_vendor_vq_stats(vdev, q, &p.w, NULL);
		printf("\n");
	}
}

static int net_setup(struct net_drv *n, struct vdpa_device *vdev)
{
	uint64_t want = BIT_ULL(VIRTIO_F_VERSION_1) |
			BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_MTU) |
			BIT_ULL(VIRTIO_NET_F_STATUS) |
			BIT_ULL(VIRTIO_NET_F_CTRL_VQ) |
			BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR);
	int ret;

	if ((ret = virtio_dev_init(&n->d, vdev, ARENA_SIZE, ARENA_IOVA)) ||
	    (ret = virtio_dev_negotiate(&n->d, want)) ||
	    (ret = virtio_dev_find_vqs(&n->d, 3, QSIZE, 0)) ||
	    (ret = virtio_dev_driver_ok(&n->d)))
		return ret;
	n->tx = virtio_dev_alloc(&n->d, QSIZE * (NET_HDR + NET_FRAME), 64,
				 &n->tx_iova);
	n->rx = virtio_dev_alloc(&n->d, QSIZE * NET_RXBUF, 64, &n->rx_iova);
	for (unsigned int i = 0; i < QSIZE; i++)
		net_post_rx(n, i);
	virtio_vq_kick(&n->d, 0);
	return 0;
}

static int demo_net(struct vdpa_device *vdev)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct virtio_net_config cfg;
	struct net_drv n = { 0 };
	int ret;

	printf("\n== %s: virtio-net, TX looped back to RX ==\n", vdev->name);
	if ((ret = net_setup(&n, vdev)))
		return fail("net setup", ret);
	vdpa_get_config(vdev, 0, &cfg, sizeof(cfg));
	printf("features 0x%" PRIx64 ", mac %02x:%02x:%02x:%02x:%02x:%02x, "
	       "mtu %u, link %s\n",
	       n.d.features, cfg.mac[0], cfg.mac[1], cfg.mac[2], cfg.mac[3],
	       cfg.mac[4], cfg.mac[5], le16toh(cfg.mtu),
	       le16toh(cfg.status) & VIRTIO_NET_S_LINK_UP ? "up" : "down");
	if (net_round(&n, "its own MAC", own_mac, 1000) ||
	    net_round(&n, "broadcast", bcast, 1000) ||
	    net_round(&n, "02:00:00:00:00:01 (filtered out)", other, 1000))
		return 1;
	ret = net_cvq_set_mac(&n, other);
	printf("control queue MAC_ADDR_SET 02:00:00:00:00:01 -> ack %d (OK is "
	       "%d)\n",
	       ret, VIRTIO_NET_OK);
	if (net_round(&n, "02:00:00:00:00:01 (now its MAC)", other, 1000))
		return 1;
	net_vstats(vdev);
	virtio_dev_done(&n.d);
	return 0;
}

/* ---- a hostile driver ---- */

static int demo_hostile(struct vdpa_device *bad, struct vdpa_device *good)
{
	uint8_t expect[BLK_IO];
	struct virtio_dev d;
	struct blk_slot s;
	bool same;
	int ret;

	printf("\n== a malformed ring on %s; %s goes on ==\n", bad->name,
	       good->name);
	if ((ret = virtio_dev_init(&d, bad, 1u << 20, ARENA_IOVA)) ||
	    (ret = virtio_dev_negotiate(&d, ~0ull)) ||
	    (ret = virtio_dev_find_vqs(&d, 1, QSIZE, 0)) ||
	    (ret = virtio_dev_driver_ok(&d)))
		return fail("hostile setup", ret);
	blk_slot_init(&d, &s);
	s.bufs[1].iova = 0xdead0000000ull; /* nowhere in the device's map */
	blk_queue(&d, &s, VIRTIO_BLK_T_IN, 0);
	virtio_vq_kick(&d, 0);
	for (int i = 0; i < 500; i++) {
		if (vdpa_get_status(bad) & VIRTIO_CONFIG_S_NEEDS_RESET)
			break;
		virtio_vq_wait(&d, 0, 2);
	}
	printf("%s: a descriptor outside the map -> status 0x%02x (%s)\n",
	       bad->name, vdpa_get_status(bad),
	       vdpa_get_status(bad) & VIRTIO_CONFIG_S_NEEDS_RESET
		       ? "NEEDS_RESET: the device stopped that queue"
		       : "still running?!");
	virtio_dev_done(&d);

	if ((ret = virtio_dev_init(&d, good, 1u << 20, ARENA_IOVA)) ||
	    (ret = virtio_dev_negotiate(&d, ~0ull)) ||
	    (ret = virtio_dev_find_vqs(&d, 1, QSIZE, 0)) ||
	    (ret = virtio_dev_driver_ok(&d)))
		return fail("blk setup", ret);
	blk_slot_init(&d, &s);
	ret = blk_one(&d, &s, VIRTIO_BLK_T_IN, 8, BLK_IO);
	pattern(expect, 8);
	same = ret == 0 && !memcmp(expect, s.data, BLK_IO);
	printf("%s: read sector 8 -> status %d, data %s\n", good->name, ret,
	       same ? "as written before" : "NOT as written");
	virtio_dev_done(&d);
	return same ? 0 : 1;
}

int main(void)
{
	struct vdpa_dev_set_config net_cfg = {
		.net.mtu = 9000,
		.mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR) |
			BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU),
	};
	struct vdpa_device *blk0, *blk1, *net0;
	struct vdpa_mgmt_dev *net_m, *blk_m;
	struct vdpa_worker_pool *pool;
	struct vdpa_bus *bus;
	int ret = 1;

	printf("uvdpa demo: the vdpa bus, two simulators, driver-side "
	       "queues\n");
	memcpy(net_cfg.net.mac, own_mac, 6);
	bus = vdpa_bus_new();
	pool = vdpa_worker_pool_new(0, "demo-w");
	net_m = vdpasim_net_mgmtdev_new(pool);
	blk_m = vdpasim_blk_mgmtdev_new(pool);
	if (!bus || !pool || !net_m || !blk_m ||
	    vdpa_mgmtdev_register(bus, net_m) ||
	    vdpa_mgmtdev_register(bus, blk_m))
		return fail("setup", ENOMEM);
	printf("%u data path workers\n", vdpa_worker_pool_size(pool));
	show_mgmtdevs(bus);
	printf("\n== devices ==\n");
	blk0 = dev_add(blk_m, "blk0", NULL);
	net0 = dev_add(net_m, "net0", &net_cfg);
	blk1 = dev_add(blk_m, "blk1", NULL);
	if (blk0 && net0 && blk1 && !demo_blk(blk0) && !demo_net(net0) &&
	    !demo_hostile(blk1, blk0))
		ret = 0;
	vdpa_bus_free(bus);
	vdpasim_mgmtdev_free(net_m);
	vdpasim_mgmtdev_free(blk_m);
	vdpa_worker_pool_free(pool);
	printf("\n%s\n", ret ? "demo FAILED" : "demo done: every check passed");
	return ret;
}
