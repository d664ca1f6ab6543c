// SPDX-License-Identifier: MIT
/*
 * virtio-net → TAP (buses/virtio_vdpa/net_tap.c) over a real vdpasim_net
 * device and a real TAP interface: the interface's MAC, MTU and carrier,
 * the random MAC set on the device, interface names, frames through the
 * device and back into the host stack from a network namespace, the
 * counters on both sides, and removal while frames flow. Needs root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "helpers.h"
#include "virtio_vdpa.h"

#define WAIT_MS 5000
#define NS_ADDR "10.77.0.1" /* the TAP's address in the namespace */
#define PEER_ADDR "10.77.0.2" /* the far end frames claim to come from */
#define UDP_PORT 7777

static const uint8_t MYMAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t PEERMAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

/* ---- environment ---- */

/* the last message of vv_net, from any of its threads */
static char last_log[512];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void test_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void test_log(int level, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&log_lock);
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&log_lock);
}

static bool logged(const char *what)
{
	bool found;

	pthread_mutex_lock(&log_lock);
	found = strstr(last_log, what) != NULL;
	pthread_mutex_unlock(&log_lock);
	return found;
}

struct env {
	struct test_bus tb;
	struct vdpa_device *vdev;
	struct vv_net *n;
	int fds; /* open fds before the test */
	char ns[32]; /* a network namespace, when the test made one */
	int ns_fd, home_fd;
};

static int env_setup(void **state)
{
	struct env *e = test_calloc(1, sizeof(*e));

	assert_non_null(e);
	e->ns_fd = e->home_fd = -1;
	e->fds = test_count_fds();
	assert_int_equal(test_bus_init(&e->tb, 1), 0);
	*state = e;
	return 0;
}

static void ns_leave(struct env *e);

static int env_teardown(void **state)
{
	struct env *e = *state;

	vv_net_remove(e->n);
	ns_leave(e);
	unsetenv("UVDPA_NET_NO_MULTISHOT");
	unsetenv("UVDPA_NET_NO_REGISTER");
	test_bus_done(&e->tb);
	assert_int_equal(test_count_fds(), e->fds);
	test_free(e);
	return 0;
}

/* @features 0: the device's own. */
static struct vdpa_device *add_dev_f(struct env *e, const char *name,
				     const uint8_t *mac, uint16_t mtu,
				     uint64_t features)
{
	struct vdpa_dev_set_config c = { 0 };

	if (features) {
		c.device_features = features;
		c.mask |= BIT_ULL(VDPA_ATTR_DEV_FEATURES);
	}
	if (mac) {
		memcpy(c.net.mac, mac, 6);
		c.mask |= BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR);
	}
	if (mtu) {
		c.net.mtu = mtu;
		c.mask |= BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU);
	}
	return test_dev_add(&e->tb, e->tb.net, name, &c);
}

static struct vdpa_device *add_dev(struct env *e, const char *name,
				   const uint8_t *mac, uint16_t mtu)
{
	return add_dev_f(e, name, mac, mtu, 0);
}

static struct vv_net *probe(struct vdpa_device *vdev, const char *ifname)
{
	struct vv_net_cfg cfg = { .ifname = ifname, .log = test_log };
	struct vdpa_extack ext = { "" };
	struct vv_net *n;
	int err = 0;

	n = vv_net_probe(vdev, &cfg, &ext, &err);
	if (!n)
		print_message("probe: %d %s\n", err, ext.msg);
	return n;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* /sys/class/net/@ifname/@attr of this thread's namespace, or "". */
static void sys_attr(const char *ifname, const char *attr, char *buf,
		     size_t len)
{
	char path[256];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static void mac_str(const uint8_t *m, char *s)
{
	sprintf(s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		m[4], m[5]);
}

static void dev_mac(struct vdpa_device *vdev, uint8_t *mac)
{
	assert_int_equal(vdpa_get_config(vdev, 0, mac, 6), 0);
}

/* ---- a network namespace for the TAP ---- */

static void ns_enter(struct env *e, const char *ifname)
{
	char path[64];

	snprintf(e->ns, sizeof(e->ns), "vvnet-%d", getpid());
	test_sh("ip netns del %s 2>/dev/null", e->ns);
	assert_int_equal(test_sh("ip netns add %s", e->ns), 0);
	/* no IPv6: no router solicitations or MLD reports in the counters */
	assert_int_equal(test_sh("ip netns exec %s sysctl -qw "
				 "net.ipv6.conf.default.disable_ipv6=1",
				 e->ns),
			 0);
	assert_int_equal(test_sh("ip link set %s netns %s", ifname, e->ns), 0);
	assert_int_equal(test_sh("ip -n %s addr add %s/24 dev %s", e->ns,
				 NS_ADDR, ifname),
			 0);
	assert_int_equal(test_sh("ip -n %s link set %s up", e->ns, ifname), 0);
	/* until linkwatch has run, the noop qdisc drops what is sent */
	for (int64_t end = test_now_ms() + WAIT_MS;; sleep_ms(10)) {
		if (!test_sh("ip -n %s -o link show %s | grep LOWER_UP | "
			     "grep -vq 'qdisc noop'",
			     e->ns, ifname))
			break;
		assert_true(test_now_ms() < end);
	}
	snprintf(path, sizeof(path), "/run/netns/%s", e->ns);
	e->home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	e->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(e->home_fd >= 0 && e->ns_fd >= 0);
	/* this thread only: the data path thread does not care */
	assert_int_equal(setns(e->ns_fd, CLONE_NEWNET), 0);
}

static void ns_leave(struct env *e)
{
	if (e->home_fd >= 0) {
		assert_int_equal(setns(e->home_fd, CLONE_NEWNET), 0);
		close(e->home_fd);
	}
	if (e->ns_fd >= 0)
		close(e->ns_fd);
	e->home_fd = e->ns_fd = -1;
	if (e->ns[0])
		test_sh("ip netns del %s", e->ns);
	e->ns[0] = 0;
}

/* A counter of /proc/net/dev (the namespace of this process's leader). */
static uint64_t if_stat(const char *ifname, bool tx, int col)
{
	char line[512], key[IFNAMSIZ + 2];
	uint64_t v[16] = { 0 };
	FILE *f = fopen("/proc/net/dev", "r");

	assert_non_null(f);
	snprintf(key, sizeof(key), "%s:", ifname);
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " ");

		if (strncmp(p, key, strlen(key)))
			continue;
		p += strlen(key);
		for (int i = 0; i < 16; i++)
			v[i] = strtoull(p, &p, 10);
	}
	fclose(f);
	return v[(tx ? 8 : 0) + col];
}

#define STAT_PACKETS 1
#define STAT_DROP 3

/* ---- frames ---- */

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * An Ethernet + IPv4 + UDP frame from PEER to the namespace's address,
 * sent to @dst: the device loops it back, and the host stack delivers it
 * to a UDP socket, as if the peer had sent it.
 */
static size_t udp_frame(uint8_t *f, const uint8_t *dst, uint32_t seq,
			size_t payload)
{
	size_t ip_len = 20 + 8 + payload;
	uint8_t *ip = f + 14, *udp = ip + 20;

	memcpy(f, dst, 6);
	memcpy(f + 6, PEERMAC, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, PEER_ADDR, ip + 12);
	inet_pton(AF_INET, NS_ADDR, ip + 16);
	uint16_t c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = UDP_PORT >> 8;
	udp[1] = UDP_PORT & 0xff;
	udp[2] = UDP_PORT >> 8;
	udp[3] = UDP_PORT & 0xff;
	udp[4] = (uint8_t)((8 + payload) >> 8);
	udp[5] = (uint8_t)(8 + payload);
	udp[6] = udp[7] = 0; /* no UDP checksum */
	memset(udp + 8, 0xa5, payload);
	memcpy(udp + 8, &seq, sizeof(seq));
	return 14 + ip_len;
}

static int packet_socket(const char *ifname)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_ifindex = (int)if_nametoindex(ifname) };
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	assert_true(s >= 0 && ll.sll_ifindex > 0);
	assert_int_equal(bind(s, (struct sockaddr *)&ll, sizeof(ll)), 0);
	return s;
}

static int udp_socket(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(UDP_PORT) };
	struct timeval tv = { .tv_usec = 200000 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rcvbuf = 16 << 20; /* every frame of a burst waits here */

	assert_true(s >= 0);
	assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
				    sizeof(rcvbuf)),
			 0);
	inet_pton(AF_INET, NS_ADDR, &a.sin_addr);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Send @n frames of @payload bytes; returns how many came back. */
static unsigned int udp_echo(int ps, int us, const uint8_t *dst, unsigned n,
			     size_t payload)
{
	static uint8_t f[9100], in[9100];
	unsigned int got = 0;
	int64_t end;

	for (uint32_t i = 0; i < n; i++) {
		size_t len = udp_frame(f, dst, i, payload);

		assert_int_equal(send(ps, f, len, 0), (ssize_t)len);
	}
	end = test_now_ms() + WAIT_MS;
	while (got < n && test_now_ms() < end) {
		ssize_t r = recv(us, in, sizeof(in), 0);

		if (r == (ssize_t)payload)
			got++;
	}
	return got;
}

/* ---- tests ---- */

static void test_mac_mtu_carrier(void **state)
{
	struct env *e = *state;
	char buf[64], mac[18];

	e->vdev = add_dev(e, "vvn0", MYMAC, 1400);
	assert_non_null(e->vdev);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
	assert_string_equal(vv_net_ifname(e->n), "vvn0");
	mac_str(MYMAC, mac);
	sys_attr("vvn0", "address", buf, sizeof(buf));
	assert_string_equal(buf, mac);
	sys_attr("vvn0", "mtu", buf, sizeof(buf));
	assert_string_equal(buf, "1400");
	/* the device runs: DRIVER_OK, the config MAC left as it was */
	assert_true(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_DRIVER_OK);
	/* the user brings it up; the link status gives the carrier */
	assert_int_equal(test_sh("ip link set vvn0 up"), 0);
	sys_attr("vvn0", "carrier", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	vv_net_remove(e->n);
	e->n = NULL;
	assert_int_equal(if_nametoindex("vvn0"), 0);
	assert_int_equal(vdpa_get_status(e->vdev), 0); /* reset */
}

static void test_random_mac(void **state)
{
	struct env *e = *state;
	uint8_t cfg[6];
	char buf[64], mac[18];

	e->vdev = add_dev(e, "vvzero", NULL, 0);
	assert_non_null(e->vdev);
	dev_mac(e->vdev, cfg);
	assert_int_equal(cfg[0] | cfg[1] | cfg[2] | cfg[3] | cfg[4] | cfg[5],
			 0);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
	sys_attr("vvzero", "address", buf, sizeof(buf));
	/* unicast, locally administered, and what the device has now */
	assert_int_equal(strtoul(buf, NULL, 16) & 3, 2);
	dev_mac(e->vdev, cfg);
	mac_str(cfg, mac);
	assert_string_equal(buf, mac);
	assert_int_equal(test_vstat(e->vdev, 2, "cvq successes"), 1);
	sys_attr("vvzero", "mtu", buf, sizeof(buf));
	assert_string_equal(buf, "1500");
}

static void test_names(void **state)
{
	struct env *e = *state;
	struct vv_net_cfg cfg = { .log = test_log };
	struct vdpa_device *other;
	struct vdpa_extack ext = { "" };
	int err = 0;

	e->vdev = add_dev(e, "a-very-long-device-name", MYMAC, 0);
	assert_non_null(e->vdev);
	assert_null(vv_net_probe(e->vdev, &cfg, &ext, &err));
	assert_int_equal(err, -EINVAL);
	assert_non_null(strstr(ext.msg, "ifname"));
	assert_non_null(strstr(ext.msg, "a-very-long-device-name"));
	assert_int_equal(vdpa_get_status(e->vdev), 0);

	e->n = probe(e->vdev, "vvshort");
	assert_non_null(e->n);
	assert_string_equal(vv_net_ifname(e->n), "vvshort");
	assert_true(if_nametoindex("vvshort") > 0);

	/* a name in use is refused; the device is left reset */
	other = add_dev(e, "vvother", MYMAC, 0);
	assert_non_null(other);
	cfg.ifname = "vvshort";
	err = 0;
	assert_null(vv_net_probe(other, &cfg, &ext, &err));
	assert_int_equal(err, -EBUSY);
	assert_non_null(strstr(ext.msg, "exists"));
	assert_int_equal(vdpa_get_status(other), 0);
}

/*
 * Frames sent into the TAP from a namespace go through the device (its
 * MAC filter passes frames to its MAC) and come back into the host stack,
 * which delivers them to a UDP socket.
 */
/* Frames of every size up to the MTU, through the device and back. */
static void frames_check(struct env *e, const char *ifname, uint16_t mtu)
{
	int ps, us;

	ns_enter(e, ifname);
	ps = packet_socket(ifname);
	us = udp_socket();
	assert_int_equal(udp_echo(ps, us, MYMAC, 100, 64), 100);
	/* full-size frames, and frames to another MAC the device drops */
	assert_int_equal(udp_echo(ps, us, MYMAC, 100, mtu - 28u), 100);
	assert_int_equal(udp_echo(ps, us, PEERMAC, 20, 64), 0);
	assert_int_equal(test_vstat(e->vdev, 0, "rx drops"), 20);
	/*
	 * Every buffer used many times over. A burst longer than the TAP's
	 * queue (500) would lose frames there, as a NIC's full queue does.
	 */
	for (int i = 0; i < 10; i++)
		assert_int_equal(udp_echo(ps, us, MYMAC, 200, 200), 200);
	close(ps);
	close(us);
}

static void probe_and_check(struct env *e, const char *ifname, uint16_t mtu)
{
	e->vdev = add_dev(e, ifname, MYMAC, mtu);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
	frames_check(e, ifname, mtu ? mtu : 1500);
}

static void test_frames(void **state)
{
	probe_and_check(*state, "vvf0", 0);
}

/* RX and TX buffers follow the MTU. */
static void test_jumbo(void **state)
{
	char buf[16];

	probe_and_check(*state, "vvj0", 9000);
	sys_attr("vvj0", "mtu", buf, sizeof(buf)); /* in the namespace now */
	assert_string_equal(buf, "");
}

/*
 * A legacy device (no VERSION_1, the simulator can be provisioned so):
 * a 10-byte header with ANY_LAYOUT, native-endian config.
 */
static void test_legacy(void **state)
{
	struct env *e = *state;
	uint64_t f = BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_MTU) |
		     BIT_ULL(VIRTIO_NET_F_STATUS) |
		     BIT_ULL(VIRTIO_NET_F_CTRL_VQ) |
		     BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR) |
		     BIT_ULL(VIRTIO_F_ANY_LAYOUT);

	e->vdev = add_dev_f(e, "vvleg0", MYMAC, 1400, f);
	assert_non_null(e->vdev);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
	assert_int_equal(e->vdev->config->get_driver_features(e->vdev), f);
	frames_check(e, "vvleg0", 1400);
}

/*
 * Without a control queue a random MAC cannot be given to the device:
 * the interface still comes up, and says so.
 */
static void test_no_ctrl_vq(void **state)
{
	struct env *e = *state;
	uint64_t f = BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NET_F_MAC) |
		     BIT_ULL(VIRTIO_NET_F_STATUS);
	uint8_t cfg[6];
	char buf[32];

	e->vdev = add_dev_f(e, "vvnc0", NULL, 0, f);
	assert_non_null(e->vdev);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
	assert_true(logged("cannot be told"));
	sys_attr("vvnc0", "address", buf, sizeof(buf));
	assert_int_equal(strtoul(buf, NULL, 16) & 3, 2);
	dev_mac(e->vdev, cfg);
	assert_int_equal(cfg[0] | cfg[1] | cfg[2] | cfg[3] | cfg[4] | cfg[5],
			 0);
	assert_int_equal(e->vdev->config->get_driver_features(e->vdev), f);
}

/* Kernels before 6.7 have no multishot read: bursts of single reads. */
static void test_frames_no_multishot(void **state)
{
	setenv("UVDPA_NET_NO_MULTISHOT", "1", 1);
	probe_and_check(*state, "vvf1", 0);
}

/*
 * Without registered files and buffers (a kernel or an RLIMIT_MEMLOCK that
 * refuses them), reads and writes name the TAP and the buffers directly.
 */
static void test_frames_no_register(void **state)
{
	setenv("UVDPA_NET_NO_REGISTER", "1", 1);
	probe_and_check(*state, "vvf2", 0);
}

/*
 * The doorbells: a parent that takes kick fds gets one per data queue,
 * and the data path kicks through them, never through kick_vq; at remove
 * the parent lets go of each before it is closed. A parent without them
 * is kicked through kick_vq.
 */
static const struct vdpa_config_ops *real_ops; /* the wrapped device's */
static struct vdpa_config_ops kick_ops;
static int kick_fds[2] = { -1, -1 };
static bool kick_fd_was_open; /* when the driver took a doorbell back */
static unsigned int kick_vq_calls; /* atomic: the data path thread kicks */

static int kick_set_vq_kickfd(struct vdpa_device *vdev, uint16_t idx, int fd)
{
	if (idx < 2 && fd < 0 && kick_fds[idx] >= 0)
		kick_fd_was_open = fcntl(kick_fds[idx], F_GETFD) >= 0;
	if (idx < 2)
		kick_fds[idx] = fd;
	return real_ops->set_vq_kickfd(vdev, idx, fd);
}

static void kick_kick_vq(struct vdpa_device *vdev, uint16_t idx)
{
	__atomic_add_fetch(&kick_vq_calls, 1, __ATOMIC_RELAXED);
	real_ops->kick_vq(vdev, idx);
}

static void kick_setup(struct env *e, const char *name, bool doorbells)
{
	e->vdev = add_dev(e, name, MYMAC, 0);
	assert_non_null(e->vdev);
	real_ops = e->vdev->config;
	kick_ops = *real_ops;
	kick_ops.set_vq_kickfd = doorbells ? kick_set_vq_kickfd : NULL;
	kick_ops.kick_vq = kick_kick_vq;
	e->vdev->config = &kick_ops;
	kick_fds[0] = kick_fds[1] = -1;
	kick_fd_was_open = false;
	__atomic_store_n(&kick_vq_calls, 0, __ATOMIC_RELAXED);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
}

static void test_doorbells(void **state)
{
	struct env *e = *state;
	unsigned int before;

	kick_setup(e, "vvk0", true);
	assert_true(kick_fds[0] >= 0 && kick_fds[1] >= 0);
	/* the control queue (and RX buffers at probe) still use kick_vq */
	before = __atomic_load_n(&kick_vq_calls, __ATOMIC_RELAXED);
	frames_check(e, "vvk0", 1500);
	assert_int_equal(__atomic_load_n(&kick_vq_calls, __ATOMIC_RELAXED),
			 before);
	vv_net_remove(e->n);
	e->n = NULL;
	assert_int_equal(kick_fds[0], -1);
	assert_int_equal(kick_fds[1], -1);
	assert_true(kick_fd_was_open);
	e->vdev->config = real_ops;
}

static void test_no_doorbells(void **state)
{
	struct env *e = *state;
	unsigned int before;

	kick_setup(e, "vvk1", false);
	before = __atomic_load_n(&kick_vq_calls, __ATOMIC_RELAXED);
	frames_check(e, "vvk1", 1500);
	assert_true(__atomic_load_n(&kick_vq_calls, __ATOMIC_RELAXED) >
		    before + 10);
	vv_net_remove(e->n);
	e->n = NULL;
	e->vdev->config = real_ops;
}

/* The interface's counters and the device's agree, once all has passed. */
static void test_counters(void **state)
{
	struct env *e = *state;
	uint64_t tx, rx, dev_tx, dev_rx;
	int64_t end;
	int ps, us;

	e->vdev = add_dev(e, "vvc0", MYMAC, 0);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
	ns_enter(e, "vvc0");
	ps = packet_socket("vvc0");
	us = udp_socket();
	for (int i = 0; i < 10; i++)
		assert_int_equal(udp_echo(ps, us, MYMAC, 50, 100 + 100 * i),
				 50);
	end = test_now_ms() + WAIT_MS;
	do {
		tx = if_stat("vvc0", true, STAT_PACKETS);
		rx = if_stat("vvc0", false, STAT_PACKETS);
		dev_tx = test_vstat(e->vdev, 1, "tx packets");
		dev_rx = test_vstat(e->vdev, 0, "rx packets");
		if (tx == dev_tx && rx == dev_rx)
			break;
		sleep_ms(20);
	} while (test_now_ms() < end);
	print_message("tap tx %llu rx %llu, device tx %llu rx %llu\n",
		      (unsigned long long)tx, (unsigned long long)rx,
		      (unsigned long long)dev_tx, (unsigned long long)dev_rx);
	assert_true(rx >= 500);
	assert_int_equal(tx, dev_tx);
	assert_int_equal(rx, dev_rx);
	assert_int_equal(if_stat("vvc0", true, STAT_DROP), 0);
	assert_int_equal(test_vstat(e->vdev, 1, "tx errors"), 0);
	assert_int_equal(test_vstat(e->vdev, 0, "rx errors"), 0);
	close(ps);
	close(us);
}

struct flood {
	int ps;
	bool stop; /* atomic */
	uint64_t sent;
	int err;
};

static void *flood_fn(void *arg)
{
	struct flood *fl = arg;
	uint8_t f[256];
	size_t len = udp_frame(f, MYMAC, 0, 100);

	while (!__atomic_load_n(&fl->stop, __ATOMIC_RELAXED)) {
		if (send(fl->ps, f, len, 0) == (ssize_t)len) {
			fl->sent++;
		} else if (errno != ENOBUFS && errno != EAGAIN) {
			fl->err = errno; /* the interface went away */
			break;
		}
	}
	return NULL;
}

static void test_remove_under_traffic(void **state)
{
	struct env *e = *state;
	struct flood fl = { 0 };
	pthread_t t;
	int64_t end;

	e->vdev = add_dev(e, "vvr0", MYMAC, 0);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
	ns_enter(e, "vvr0");
	fl.ps = packet_socket("vvr0");
	assert_int_equal(pthread_create(&t, NULL, flood_fn, &fl), 0);
	end = test_now_ms() + WAIT_MS;
	while (if_stat("vvr0", false, STAT_PACKETS) < 2000 &&
	       test_now_ms() < end)
		sleep_ms(5);
	assert_true(if_stat("vvr0", false, STAT_PACKETS) >= 2000);
	vv_net_remove(e->n);
	e->n = NULL;
	/* the interface is gone at once, and the device is reset */
	assert_int_equal(if_nametoindex("vvr0"), 0);
	assert_int_equal(vdpa_get_status(e->vdev), 0);
	__atomic_store_n(&fl.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	close(fl.ps);
	print_message("sent %llu frames, then %s\n",
		      (unsigned long long)fl.sent, strerror(fl.err));
}

/*
 * The link status: vdpasim_net reports LINK_UP on every read and raises
 * no config interrupt for it, so the test stands between the device and
 * the driver: its get_config can clear LINK_UP, and it raises the config
 * interrupt the driver registered, as a device whose link drops does.
 */
static struct vdpa_config_ops link_ops;
static struct vdpa_callback link_cb;
static bool link_down; /* atomic: read by the data path thread */

static void link_get_config(struct vdpa_device *vdev, unsigned int off,
			    void *buf, unsigned int len)
{
	unsigned int st = offsetof(struct virtio_net_config, status);

	real_ops->get_config(vdev, off, buf, len);
	if (__atomic_load_n(&link_down, __ATOMIC_RELAXED) && off <= st &&
	    off + len >= st + 2)
		((uint8_t *)buf)[st - off] &= (uint8_t)~VIRTIO_NET_S_LINK_UP;
}

static void link_set_config_cb(struct vdpa_device *vdev,
			       const struct vdpa_callback *cb)
{
	link_cb = cb ? *cb : (struct vdpa_callback){ .trigger = -1 };
	real_ops->set_config_cb(vdev, cb);
}

static void link_set(bool up)
{
	uint64_t one = 1;

	__atomic_store_n(&link_down, !up, __ATOMIC_RELAXED);
	if (link_cb.trigger >= 0)
		assert_int_equal(write(link_cb.trigger, &one, 8), 8);
	else
		link_cb.callback(link_cb.priv);
}

static bool carrier_is(const char *ifname, const char *want)
{
	int64_t end = test_now_ms() + WAIT_MS;
	char buf[16];

	do {
		sys_attr(ifname, "carrier", buf, sizeof(buf));
		if (!strcmp(buf, want))
			return true;
		sleep_ms(10);
	} while (test_now_ms() < end);
	return false;
}

static void test_link_status(void **state)
{
	struct env *e = *state;

	e->vdev = add_dev(e, "vvl0", MYMAC, 0);
	assert_non_null(e->vdev);
	real_ops = e->vdev->config;
	link_ops = *real_ops;
	link_ops.get_config = link_get_config;
	link_ops.set_config_cb = link_set_config_cb;
	e->vdev->config = &link_ops;
	/* down from the start: no carrier at probe */
	__atomic_store_n(&link_down, true, __ATOMIC_RELAXED);
	e->n = probe(e->vdev, NULL);
	assert_non_null(e->n);
	assert_int_equal(test_sh("ip link set vvl0 up"), 0);
	assert_true(carrier_is("vvl0", "0"));
	link_set(true);
	assert_true(carrier_is("vvl0", "1"));
	link_set(false);
	assert_true(carrier_is("vvl0", "0"));
	assert_true(logged("link down"));
	link_set(true);
	assert_true(carrier_is("vvl0", "1"));
	vv_net_remove(e->n);
	e->n = NULL;
	e->vdev->config = real_ops;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mac_mtu_carrier, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_random_mac, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_names, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_frames, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_frames_no_multishot,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_frames_no_register,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_doorbells, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_no_doorbells, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_jumbo, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_legacy, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_no_ctrl_vq, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_counters, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_remove_under_traffic,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_link_status, env_setup,
						env_teardown),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP TAP interfaces need root\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
