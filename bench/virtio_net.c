// SPDX-License-Identifier: MIT
/*
 * bench-virtio-net: the programs bench/virtio-net.py drives.
 *
 *   bench-virtio-net dev IFNAME MAC [--cpu N] [--worker-cpu W] [--poll-us U]
 *	A vdpasim_net device with MAC, in this process (a bus, one data
 *	path worker, the simulator), bound to virtio-net → TAP: interface
 *	IFNAME. Prints "ready", runs until SIGINT or SIGTERM, then prints
 *	the device's counters. What uvdpad does with a vdpasim_net device
 *	bound to virtio_vdpa, without the daemon around it.
 *   bench-virtio-net gen IFNAME DST LEN SECONDS [--cpu N]
 *	Frames of LEN bytes to MAC DST (ethertype 0x88b5, which the host
 *	stack has no handler for) out of IFNAME for SECONDS, as fast as a
 *	PACKET_MMAP TX ring with the qdisc bypassed sends them. Prints the
 *	frames queued per second.
 *
 * --cpu pins every thread of the program (also the ones it creates);
 * with --worker-cpu, the simulator's worker goes there instead.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uvdpa/sim.h>
#include <uvdpa/uapi.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/worker.h>

#include "bench.h"
#include "virtio_vdpa.h"

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* "--opt value" among argv[from..], or NULL. */
static const char *opt(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

/* ---- the generator ---- */

#define GEN_FRAME 2048
#define GEN_FRAMES 1024

struct gen {
	int s;
	uint8_t *ring;
	unsigned int idx;
};

static int gen_setup(struct gen *g, const char *ifname, const uint8_t *dst,
		     int len)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_ifindex = (int)if_nametoindex(ifname) };
	struct tpacket_req req = { .tp_block_size = GEN_FRAME * 64,
				   .tp_block_nr = GEN_FRAMES / 64,
				   .tp_frame_size = GEN_FRAME,
				   .tp_frame_nr = GEN_FRAMES };
	int v = TPACKET_V2, one = 1;
	size_t size = (size_t)GEN_FRAME * GEN_FRAMES;

	g->s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (g->s < 0 ||
	    setsockopt(g->s, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(g->s, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
		       sizeof(one)) ||
	    setsockopt(g->s, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) ||
	    bind(g->s, (struct sockaddr *)&ll, sizeof(ll)))
		return -1;
	g->ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, g->s, 0);
	if (g->ring == MAP_FAILED)
		return -1;
	for (unsigned int i = 0; i < GEN_FRAMES; i++) {
		uint8_t *f = g->ring + (size_t)i * GEN_FRAME + TPACKET2_HDRLEN -
			     sizeof(struct sockaddr_ll);

		memset(f, 0, (size_t)len);
		memcpy(f, dst, 6);
		memcpy(f + 6, "\x02\x00\x00\x00\x00\xfe", 6);
		f[12] = 0x88;
		f[13] = 0xb5;
	}
	return 0;
}

/* Fill what the kernel has sent; returns the frames queued. */
static unsigned int gen_fill(struct gen *g, int len)
{
	unsigned int n = 0;

	for (; n < 256; n++) {
		struct tpacket2_hdr *h =
			(void *)(g->ring + (size_t)g->idx * GEN_FRAME);

		if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) !=
		    TP_STATUS_AVAILABLE)
			break;
		h->tp_len = (unsigned int)len;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST,
				 __ATOMIC_RELEASE);
		g->idx = (g->idx + 1) % GEN_FRAMES;
	}
	return n;
}

static int cmd_gen(int argc, char **argv)
{
	const char *cpu = opt(argc, argv, 6, "--cpu");
	int len = argc > 4 ? atoi(argv[4]) : 0;
	double secs = argc > 5 ? atof(argv[5]) : 0, t0, t;
	unsigned long long queued = 0;
	uint8_t dst[6];
	struct gen g = { .s = -1 };

	if (argc < 6 || parse_mac(argv[3], dst) || len < 60 || len > 1514) {
		fprintf(stderr, "usage: gen IFNAME DST LEN(60..1514) SECONDS "
				"[--cpu N]\n");
		return 2;
	}
	if (cpu && pin_self(atoi(cpu)))
		perror("pinning");
	if (gen_setup(&g, argv[2], dst, len)) {
		perror("packet socket");
		return 1;
	}
	t0 = now_s();
	do {
		queued += gen_fill(&g, len);
		/* ENOBUFS: the TAP's queue is full; it drops, we go on */
		if (send(g.s, NULL, 0, MSG_DONTWAIT) < 0 && errno != ENOBUFS &&
		    errno != EAGAIN) {
			perror("send");
			return 1;
		}
		t = now_s();
	} while (t - t0 < secs);
	printf("queued %.0f/s\n", (double)queued / (t - t0));
	return 0;
}

/* ---- the device ---- */

__attribute__((format(printf, 2, 3))) static void
log_stderr(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct stats_print {
	struct vdpa_stats_writer w;
};

static int stats_put(struct vdpa_stats_writer *w, const char *name,
		     uint64_t value)
{
	printf(" %s %llu", name, (unsigned long long)value);
	return 0;
}

static void print_vstats(struct vdpa_device *vdev)
{
	struct stats_print p = { { stats_put } };

	for (uint16_t q = 0; q < 3; q++)
		vdev->config->get_vendor_vq_stats(vdev, q, &p.w, NULL);
	printf("\n");
}

static int run_dev(struct vdpa_bus *bus, struct vdpa_mgmt_dev *mdev,
		   const char *ifname, const uint8_t *mac)
{
	struct vdpa_dev_set_config c = {
		.mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR),
	};
	struct vv_net_cfg cfg = { .ifname = ifname, .log = log_stderr };
	struct vdpa_extack ext = { "" };
	struct vdpa_device *vdev;
	struct vv_net *n;
	sigset_t sigs;
	int err = 0, sig;

	memcpy(c.net.mac, mac, 6);
	if (vdpa_mgmtdev_dev_add(mdev, "bench0", &c, &ext)) {
		fprintf(stderr, "dev add: %s\n", ext.msg);
		return 1;
	}
	vdpa_bus_read_lock(bus);
	vdev = vdpa_find_device(bus, "bench0");
	vdpa_bus_read_unlock(bus);
	n = vv_net_probe(vdev, &cfg, &ext, &err);
	if (!n) {
		fprintf(stderr, "probe: %s (%s)\n", ext.msg, strerror(-err));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigwait(&sigs, &sig);
	vv_net_remove(n);
	print_vstats(vdev);
	return 0;
}

static int cmd_dev(int argc, char **argv)
{
	const char *cpu = opt(argc, argv, 4, "--cpu");
	const char *poll = opt(argc, argv, 4, "--poll-us");
	const char *wcpu = opt(argc, argv, 4, "--worker-cpu");
	struct vdpa_worker_pool *pool;
	struct vdpa_mgmt_dev *mdev;
	struct vdpa_bus *bus;
	uint8_t mac[6];
	sigset_t sigs;
	int ret;

	if (argc < 4 || parse_mac(argv[3], mac)) {
		fprintf(stderr, "usage: dev IFNAME MAC [--cpu N] "
				"[--poll-us U]\n");
		return 2;
	}
	/* before any thread exists: they all inherit both */
	if ((wcpu || cpu) && pin_self(atoi(wcpu ? wcpu : cpu)))
		perror("pinning");
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	bus = vdpa_bus_new();
	pool = vdpa_worker_pool_new(1, "bench-w");
	mdev = pool ? vdpasim_net_mgmtdev_new(pool) : NULL;
	if (!bus || !mdev || vdpa_mgmtdev_register(bus, mdev)) {
		fprintf(stderr, "cannot set the bus up\n");
		return 1;
	}
	if (poll)
		vdpasim_mgmtdev_set_poll_us(mdev, (uint32_t)atoi(poll));
	/* the device's worker exists: the data path goes to --cpu */
	if (wcpu && cpu && pin_self(atoi(cpu)))
		perror("pinning");
	ret = run_dev(bus, mdev, argv[2], mac);
	vdpa_mgmtdev_unregister(mdev);
	vdpa_bus_free(bus);
	vdpasim_mgmtdev_free(mdev);
	vdpa_worker_pool_free(pool);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "gen"))
		return cmd_gen(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "dev"))
		return cmd_dev(argc, argv);
	fprintf(stderr, "usage: %s dev|gen ...\n", argv[0]);
	return 2;
}
