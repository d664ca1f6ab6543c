// SPDX-License-Identifier: MIT
/*
 * virtio-net → TAP (virtio_vdpa.h): the in-process virtio_net driver of the
 * virtio_vdpa bus driver. The device becomes a TAP interface; frames the
 * host sends out of it go to the device's TX queue and frames on the
 * device's RX queue come out of it into the host stack (net_dp.c).
 *
 * Probe follows Linux's virtnet_probe: features as virtio_net asks for the
 * parts implemented here, the MAC from the config (a random one, set with
 * VIRTIO_NET_CTRL_MAC_ADDR_SET, when it is not a valid unicast address),
 * the MTU from the config when VIRTIO_NET_F_MTU, carrier from the link
 * status, and config interrupts re-read the status.
 *
 * Not negotiated, so the device never relies on them:
 *  - MRG_RXBUF and the GUEST_TSO/UFO/USO offloads: every RX buffer holds a
 *    whole frame of the MTU;
 *  - HOST_TSO/UFO/USO: the TAP hands over no GSO frames (TUNSETOFFLOAD
 *    gets TUN_F_CSUM at most), TX buffers are MTU-sized as well;
 *  - CTRL_RX, CTRL_VLAN: the host's RX mode and VLAN filters of the TAP
 *    are not forwarded to the device, which keeps filtering on its MAC;
 *  - MQ: one queue pair.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "net_internal.h"

#define NET_IOVA 0x10000000ull /* where the device sees the arena */
#define NET_ETH_HLEN 14
#define NET_VLAN_HLEN 4
#define NET_MIN_MTU 68 /* ETH_MIN_MTU: Linux ignores a config MTU below */
#define NET_MAX_MTU 65535
#define NET_CTRL_ACK 64 /* offset of the ack byte in the ctrl buffer */
#define NET_CTRL_TIMEOUT_MS 5000

/* What this driver handles, as virtio_net asks for them (see the top). */
#define NET_FEATURES                                                           \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) |     \
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) | BIT_ULL(VIRTIO_NET_F_CSUM) |       \
	 BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) | BIT_ULL(VIRTIO_NET_F_MTU) |        \
	 BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_STATUS) |            \
	 BIT_ULL(VIRTIO_NET_F_CTRL_VQ) | BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR))

void net_log(const struct vv_net *n, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!n->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n->log(level, "%s: %s", n->ifname, msg);
}

static bool net_has(const struct vv_net *n, unsigned int bit)
{
	return n->vd.features & BIT_ULL(bit);
}

static void mac_str(const uint8_t *m, char *s, size_t len)
{
	snprintf(s, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

/* is_valid_ether_addr(): not zero, not multicast (broadcast included). */
static bool mac_valid(const uint8_t *m)
{
	static const uint8_t zero[6];

	return !(m[0] & 1) && memcmp(m, zero, 6) != 0;
}

/* eth_random_addr(): random, unicast, locally administered. */
static int mac_random(uint8_t *m)
{
	if (getrandom(m, 6, 0) != 6)
		return -EIO;
	m[0] = (m[0] & 0xfe) | 0x02;
	return 0;
}

/* A 16-bit config field: little endian with VERSION_1, native before. */
static uint16_t net_cfg16(const struct vv_net *n, unsigned int off)
{
	uint16_t v = 0;

	vdpa_get_config(n->vdev, off, &v, sizeof(v));
	return net_has(n, VIRTIO_F_VERSION_1) ? le16toh(v) : v;
}

/* ---- the TAP interface ---- */

static int net_tap_open(struct vv_net *n, const char *name,
			struct vdpa_extack *ext)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
					  IFF_TUN_EXCL };
	int ret;

	n->tapfd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tapfd < 0) {
		ret = -errno;
		vdpa_extack_set(
			ext, "cannot open /dev/net/tun: %s%s", strerror(-ret),
			ret == -EACCES || ret == -EPERM
				? " (a TAP interface needs CAP_NET_ADMIN)"
				: "");
		return ret;
	}
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(n->tapfd, TUNSETIFF, &ifr) == 0) {
		/* the kernel fills a "%d" in the name */
		snprintf(n->ifname, IFNAMSIZ, "%s", ifr.ifr_name);
		return 0;
	}
	ret = -errno;
	if (ret == -EPERM || ret == -EACCES)
		vdpa_extack_set(ext,
				"creating TAP interface %s needs CAP_NET_ADMIN",
				name);
	else if (ret == -EBUSY || ret == -EEXIST)
		vdpa_extack_set(ext,
				"an interface named %s exists already: pass "
				"ifname",
				name);
	else if (ret == -EINVAL)
		vdpa_extack_set(ext,
				"%s is not a valid interface name: pass ifname",
				name);
	else
		vdpa_extack_set(ext, "creating TAP interface %s: %s", name,
				strerror(-ret));
	return ret;
}

/* SIOCSIFHWADDR and SIOCSIFMTU go through any socket of the netns. */
static int net_ifreq(struct vv_net *n, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", n->ifname);
	if (ioctl(s, req, ifr))
		ret = -errno;
	close(s);
	return ret;
}

static int net_tap_set_carrier(struct vv_net *n, bool on)
{
	int v = on;

	if (ioctl(n->tapfd, TUNSETCARRIER, &v))
		return -errno;
	n->carrier = on;
	return 0;
}

/* The TAP offloads are what the device takes from the driver. */
static unsigned int net_tap_offloads(const struct vv_net *n)
{
	return net_has(n, VIRTIO_NET_F_CSUM) ? TUN_F_CSUM : 0;
}

static int net_tap_config(struct vv_net *n, struct vdpa_extack *ext)
{
	struct ifreq ifr = { 0 };
	int sz = (int)n->hdr_len, le = 1, ret;

	if (ioctl(n->tapfd, TUNSETVNETHDRSZ, &sz) ||
	    ioctl(n->tapfd, TUNSETOFFLOAD, net_tap_offloads(n)))
		goto out_errno;
	/* VERSION_1 headers are little endian; the TAP's default is native */
	if (net_has(n, VIRTIO_F_VERSION_1) &&
	    ioctl(n->tapfd, TUNSETVNETLE, &le) &&
	    __BYTE_ORDER != __LITTLE_ENDIAN)
		goto out_errno;
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, n->mac, 6);
	if ((ret = net_ifreq(n, SIOCSIFHWADDR, &ifr)))
		goto out_msg;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_mtu = n->mtu;
	if ((ret = net_ifreq(n, SIOCSIFMTU, &ifr)))
		goto out_msg;
	if ((ret = net_tap_set_carrier(n, n->carrier)))
		goto out_msg;
	return 0;

out_errno:
	ret = -errno;
out_msg:
	vdpa_extack_set(ext, "setting up TAP interface %s: %s", n->ifname,
			strerror(-ret));
	return ret;
}

/* Link up when the device says so (always without STATUS), not broken. */
static bool net_link_up(struct vv_net *n)
{
	if (vdpa_get_status(n->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET)
		return false;
	if (!net_has(n, VIRTIO_NET_F_STATUS))
		return true;
	return net_cfg16(n, offsetof(struct virtio_net_config, status)) &
	       VIRTIO_NET_S_LINK_UP;
}

/*
 * The config interrupt, as virtnet_config_changed_work: read the status
 * again and follow it with the carrier. Called on the data path thread,
 * the one config read it does (cf_lock makes it safe against the control
 * thread); a device that needs a reset loses its carrier.
 */
void net_config_changed(struct vv_net *n)
{
	bool up = net_link_up(n);

	if (vdpa_get_status(n->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET)
		net_log(n, 0, "the device needs a reset: carrier off");
	if (up == n->carrier)
		return;
	if (net_tap_set_carrier(n, up))
		net_log(n, 1, "cannot set the carrier: %s", strerror(errno));
	else
		net_log(n, 2, "link %s", up ? "up" : "down");
}

/* ---- the device ---- */

static void net_config_cb(void *priv)
{
	struct vv_net *n = priv;
	uint64_t one = 1;

	if (write(n->evfd[NET_EV_CONFIG], &one, sizeof(one)) < 0)
		return; /* saturated: the data path will look anyway */
}

static uint64_t net_want(struct vv_net *n, struct vdpa_extack *ext)
{
	uint64_t dev = n->vdev->config->get_device_features(n->vdev);
	uint64_t want = NET_FEATURES;

	/* a legacy device needs ANY_LAYOUT: header and frame in one buffer */
	if (!(dev & BIT_ULL(VIRTIO_F_VERSION_1))) {
		if (!(dev & BIT_ULL(VIRTIO_F_ANY_LAYOUT))) {
			vdpa_extack_set(ext, "a legacy device without "
					     "ANY_LAYOUT is not supported");
			return 0;
		}
		want |= BIT_ULL(VIRTIO_F_ANY_LAYOUT);
	}
	/* virtnet_validate_features(): control features need the queue */
	if (!(dev & BIT_ULL(VIRTIO_NET_F_CTRL_VQ)))
		want &= ~BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR);
	return want;
}

/* A frame of the MTU, VLAN-tagged, behind the header. */
static uint32_t net_buf_len(size_t hdr_len, uint32_t mtu)
{
	return (uint32_t)(hdr_len + mtu + NET_ETH_HLEN + NET_VLAN_HLEN + 63) &
	       ~63u;
}

/*
 * The arena holds the rings and one buffer per entry. The MTU is read
 * after negotiation, when the arena exists already: it is sized for the
 * largest MTU, and only the pages that are used get memory.
 */
static size_t net_arena_size(uint32_t qsize)
{
	size_t ring = (vq_drv_mem_size(qsize, 0) + 4095) & ~(size_t)4095;
	size_t buf = net_buf_len(VIRTIO_NET_HDR_V1_LEN, NET_MAX_MTU) + 64;

	return 3 * ring + 2 * (size_t)qsize * buf + 2 * 4096;
}

static uint32_t net_qsize(struct vdpa_device *vdev)
{
	uint32_t max = vdev->config->get_vq_num_max(vdev);
	uint32_t q = NET_QSIZE;

	while (q > max && q > 1)
		q >>= 1;
	return q;
}

static void net_read_mtu(struct vv_net *n)
{
	n->mtu = 1500;
	if (!net_has(n, VIRTIO_NET_F_MTU))
		return;
	n->mtu = net_cfg16(n, offsetof(struct virtio_net_config, mtu));
	if (n->mtu < NET_MIN_MTU) {
		net_log(n, 1, "ignoring the config MTU %u, below %u", n->mtu,
			NET_MIN_MTU);
		n->mtu = 1500;
	}
}

static int net_alloc_bufs(struct vv_net *n, uint32_t qsize)
{
	n->rx_num = n->tx_num = qsize;
	n->rx_len = net_buf_len(n->hdr_len, n->mtu);
	/* room beyond the largest frame: a longer one is seen, not cut */
	n->tx_max =
		(uint32_t)n->hdr_len + n->mtu + NET_ETH_HLEN + NET_VLAN_HLEN;
	n->tx_len = n->rx_len + 64;
	n->rx_buf = virtio_dev_alloc(&n->vd, (size_t)qsize * n->rx_len, 64,
				     &n->rx_iova);
	n->tx_buf = virtio_dev_alloc(&n->vd, (size_t)qsize * n->tx_len, 4096,
				     &n->tx_iova);
	n->ctrl = virtio_dev_alloc(&n->vd, 128, 64, &n->ctrl_iova);
	return n->rx_buf && n->tx_buf && n->ctrl ? 0 : -ENOMEM;
}

static int net_post_rx(struct vv_net *n)
{
	for (uint32_t i = 0; i < n->rx_num; i++) {
		struct vq_buf b = { n->rx_iova + (uint64_t)i * n->rx_len,
				    n->rx_len };
		int ret = vq_drv_add(&n->vd.vqs[NET_RXQ].drv, &b, 0, 1,
				     (void *)(uintptr_t)(i + 1));

		if (ret)
			return ret;
	}
	virtio_vq_kick(&n->vd, NET_RXQ);
	return 0;
}

/* The queues' interrupts are waited for with io_uring reads: blocking. */
static int net_events_init(struct vv_net *n)
{
	for (int i = NET_EV_RX; i <= NET_EV_TX; i++) {
		int fd = n->vd.vqs[i == NET_EV_RX ? NET_RXQ : NET_TXQ].callfd;
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK))
			return -errno;
		n->evfd[i] = fd;
	}
	return 0;
}

/*
 * Doorbells the data path writes itself, when the parent takes them: its
 * kicks then ride in the io_uring_enter of the round, and a device whose
 * worker shares the CPU wakes once for both queues, not once per kick.
 */
static int net_kick_init(struct vv_net *n)
{
	for (uint16_t q = NET_RXQ; q <= NET_TXQ; q++) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), ret;

		if (fd < 0)
			return -errno;
		ret = vdpa_set_vq_kickfd(n->vdev, q, fd);
		if (ret) {
			close(fd);
			/* no doorbell: kick_vq, through the parent */
			return ret == -EOPNOTSUPP ? 0 : ret;
		}
		n->kickfd[q] = fd;
	}
	return 0;
}

static void net_kick_done(struct vv_net *n)
{
	for (uint16_t q = NET_RXQ; q <= NET_TXQ; q++) {
		if (n->kickfd[q] < 0)
			continue;
		vdpa_set_vq_kickfd(n->vdev, q, -1);
		close(n->kickfd[q]);
		n->kickfd[q] = -1;
	}
}

/* Negotiate, set the queues up, DRIVER_OK: virtnet_probe's steps. */
static int net_dev_init(struct vv_net *n, struct vdpa_extack *ext)
{
	struct vdpa_callback cb = { net_config_cb, n, n->evfd[NET_EV_CONFIG] };
	uint32_t qsize = net_qsize(n->vdev), nvqs;
	uint64_t want = net_want(n, ext);
	int ret;

	if (!want)
		return -EOPNOTSUPP;
	ret = virtio_dev_init(&n->vd, n->vdev, net_arena_size(qsize), NET_IOVA);
	if (ret) {
		vdpa_extack_set(ext, "cannot map the device's memory: %s",
				strerror(-ret));
		return ret;
	}
	n->vd_init = true;
	if ((ret = virtio_dev_negotiate(&n->vd, want))) {
		vdpa_extack_set(ext, "feature negotiation failed: %s",
				strerror(-ret));
		return ret;
	}
	n->hdr_len = net_has(n, VIRTIO_F_VERSION_1) ? VIRTIO_NET_HDR_V1_LEN
						    : VIRTIO_NET_HDR_LEGACY_LEN;
	net_read_mtu(n);
	nvqs = net_has(n, VIRTIO_NET_F_CTRL_VQ) ? 3 : 2;
	if ((ret = virtio_dev_find_vqs(&n->vd, nvqs, qsize, 0)) ||
	    (ret = net_alloc_bufs(n, qsize)) || (ret = net_events_init(n)) ||
	    (ret = net_kick_init(n))) {
		vdpa_extack_set(ext, "setting the queues up: %s",
				strerror(-ret));
		return ret;
	}
	n->vdev->config->set_config_cb(n->vdev, &cb);
	if ((ret = virtio_dev_driver_ok(&n->vd)) || (ret = net_post_rx(n))) {
		vdpa_extack_set(ext, "starting the device: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

/* One command on the control queue, waited for as virtnet_send_command. */
static int net_ctrl_cmd(struct vv_net *n, uint8_t class, uint8_t cmd,
			const void *data, uint32_t len)
{
	struct vq_drv *cvq = &n->vd.vqs[NET_CVQ].drv;
	struct vq_buf b[2] = { { n->ctrl_iova, 2 + len },
			       { n->ctrl_iova + NET_CTRL_ACK, 1 } };
	int ret, waited = 0;

	n->ctrl[0] = class;
	n->ctrl[1] = cmd;
	memcpy(n->ctrl + 2, data, len);
	n->ctrl[NET_CTRL_ACK] = VIRTIO_NET_ERR;
	if ((ret = vq_drv_add(cvq, b, 1, 1, n)))
		return ret;
	virtio_vq_kick(&n->vd, NET_CVQ);
	while (!vq_drv_get_used(cvq, NULL)) {
		if (waited >= NET_CTRL_TIMEOUT_MS)
			return -ETIMEDOUT;
		virtio_vq_wait(&n->vd, NET_CVQ, 100);
		waited += 100;
	}
	return n->ctrl[NET_CTRL_ACK] == VIRTIO_NET_OK ? 0 : -EIO;
}

/* The config MAC, or a random one the device is told about. */
static int net_mac_setup(struct vv_net *n, struct vdpa_extack *ext)
{
	char s[18];
	int ret;

	if (net_has(n, VIRTIO_NET_F_MAC)) {
		vdpa_get_config(n->vdev, 0, n->mac, 6);
		if (mac_valid(n->mac))
			return 0;
	}
	if ((ret = mac_random(n->mac)))
		return ret;
	mac_str(n->mac, s, sizeof(s));
	if (!net_has(n, VIRTIO_NET_F_CTRL_MAC_ADDR)) {
		net_log(n, 1,
			"no valid MAC in the config: using %s, which the "
			"device cannot be told (no CTRL_MAC_ADDR)",
			s);
		return 0;
	}
	ret = net_ctrl_cmd(n, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
			   n->mac, 6);
	if (ret) {
		vdpa_extack_set(ext,
				"setting the random MAC %s on the device "
				"(MAC_ADDR_SET) failed: %s",
				s, strerror(-ret));
		return ret;
	}
	net_log(n, 2, "no valid MAC in the config: using %s", s);
	return 0;
}

static struct vv_net *net_alloc(struct vdpa_device *vdev,
				const struct vv_net_cfg *cfg, const char *name)
{
	struct vv_net *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->vdev = vdev;
	n->log = cfg ? cfg->log : NULL;
	n->tapfd = -1;
	n->kickfd[NET_RXQ] = n->kickfd[NET_TXQ] = -1;
	n->kick_val = 1;
	snprintf(n->ifname, IFNAMSIZ, "%s", name);
	for (int i = 0; i < NET_EV_NR; i++)
		n->evfd[i] = -1;
	for (int i = NET_EV_STOP; i <= NET_EV_CONFIG; i++) {
		n->evfd[i] = eventfd(0, EFD_CLOEXEC);
		if (n->evfd[i] < 0) {
			vv_net_remove(n);
			return NULL;
		}
	}
	return n;
}

struct vv_net *vv_net_probe(struct vdpa_device *vdev,
			    const struct vv_net_cfg *cfg,
			    struct vdpa_extack *ext, int *err)
{
	const char *name = cfg && cfg->ifname ? cfg->ifname : vdev->name;
	struct vv_net *n;
	int ret;

	if (strlen(name) >= IFNAMSIZ) {
		vdpa_extack_set(ext,
				"interface name %s is longer than %d bytes: "
				"pass ifname",
				name, IFNAMSIZ - 1);
		*err = -EINVAL;
		return NULL;
	}
	n = net_alloc(vdev, cfg, name);
	if (!n) {
		*err = -ENOMEM;
		return NULL;
	}
	if ((ret = net_tap_open(n, name, ext)) ||
	    (ret = net_dev_init(n, ext)) || (ret = net_mac_setup(n, ext)))
		goto fail;
	n->carrier = net_link_up(n);
	if ((ret = net_tap_config(n, ext)) || (ret = net_dp_start(n, ext)))
		goto fail;
	return n;

fail:
	vv_net_remove(n);
	*err = ret;
	return NULL;
}

void vv_net_remove(struct vv_net *n)
{
	if (!n)
		return;
	net_dp_stop(n);
	net_kick_done(n); /* no kick comes after the data path's */
	if (n->cnt.tx_dropped || n->cnt.rx_dropped)
		net_log(n, 2,
			"frames dropped: %llu from the host (too long), "
			"%llu to the host (TAP write failed)",
			(unsigned long long)n->cnt.tx_dropped,
			(unsigned long long)n->cnt.rx_dropped);
	/* the interface disappears with the last reference to the TAP */
	if (n->tapfd >= 0)
		close(n->tapfd);
	if (n->vd_init)
		virtio_dev_done(&n->vd); /* resets: no interrupt comes after */
	for (int i = NET_EV_STOP; i <= NET_EV_CONFIG; i++)
		if (n->evfd[i] >= 0)
			close(n->evfd[i]);
	free(n);
}

const char *vv_net_ifname(const struct vv_net *n)
{
	return n->ifname;
}
