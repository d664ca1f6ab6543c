// SPDX-License-Identifier: MIT
/*
 * bench-ring: the ring core and the simulators' data paths at full speed.
 * A driver thread (this one, CPU 0) against one data path worker (CPU 1):
 *  - vdpasim_blk, 4 KiB reads at queue depth 32 and 128, spread over the
 *    128 MiB ramdisk: requests/s and ns per request;
 *  - vdpasim_net loopback, 64-byte frames: packets/s;
 *  - the ceiling: one core copying 4 KiB blocks out of a 128 MiB buffer;
 *  - the idle cost: CPU time the process burns in a second with no I/O.
 * Each figure is printed; nothing is asserted. Usage: bench-ring [seconds]
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/sim.h>
#include <uvdpa/uapi.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/virtio_dev.h>
#include <uvdpa/worker.h>

#include "bench.h"

#define ARENA (8u << 20)
#define IOVA 0x40000000ull
#define BLK_IO 4096
#define DISK_SECTORS 0x40000u
#define NET_FRAME 64
#define NET_HDR VIRTIO_NET_HDR_V1_LEN
#define NET_QSIZE 256

static double run_seconds = 2.0;

/* Workers are named "<pool>-<i>": pin each to its own CPU, from 1 on. */
static void pin_workers(const char *prefix, int ncpu)
{
	char path[300], comm[32];
	struct dirent *de;
	DIR *dir = opendir("/proc/self/task");
	int next = 1;

	while (dir && (de = readdir(dir))) {
		FILE *f;
		cpu_set_t set;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, prefix, strlen(prefix))) {
			CPU_ZERO(&set);
			CPU_SET(next++ % ncpu, &set);
			sched_setaffinity(atoi(de->d_name), sizeof(set), &set);
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
}

/* ---- the ceiling ---- */

static void bench_memcpy(double *rate)
{
	size_t span = (size_t)DISK_SECTORS * 512, n = 0;
	uint8_t *src = malloc(span), *dst = malloc(BLK_IO * 128);
	double t0, t;

	memset(src, 1, span);
	memset(dst, 0, BLK_IO * 128);
	t0 = now_s();
	do {
		for (int i = 0; i < 4096; i++, n++)
			memcpy(dst + (n % 128) * BLK_IO,
			       src + (n * 7919 % (span / BLK_IO)) * BLK_IO,
			       BLK_IO);
		t = now_s() - t0;
	} while (t < run_seconds);
	*rate = (double)n / t;
	printf("memcpy 4 KiB from a 128 MiB buffer, one core: %.2f M copies/s "
	       "(%.1f GB/s)\n",
	       *rate / 1e6, *rate * BLK_IO / 1e9);
	free(src);
	free(dst);
}

/* ---- block ---- */

struct blk_req {
	struct virtio_blk_outhdr *hdr;
	uint8_t *status;
	struct vq_buf bufs[3];
};

static int blk_setup(struct virtio_dev *d, struct vdpa_device *vdev,
		     uint32_t qsize)
{
	int ret;

	if ((ret = virtio_dev_init(d, vdev, ARENA, IOVA)) ||
	    (ret = virtio_dev_negotiate(d, ~0ull)) ||
	    (ret = virtio_dev_find_vqs(d, 1, qsize, 0)) ||
	    (ret = virtio_dev_driver_ok(d)))
		return ret;
	/* the driver polls: no interrupts wanted */
	vq_drv_disable_cb(&d->vqs[0].drv);
	return 0;
}

static void blk_req_init(struct virtio_dev *d, struct blk_req *r)
{
	r->hdr = virtio_dev_alloc(d, sizeof(*r->hdr), 16, &r->bufs[0].iova);
	virtio_dev_alloc(d, BLK_IO, 4096, &r->bufs[1].iova);
	r->status = virtio_dev_alloc(d, 1, 1, &r->bufs[2].iova);
	r->bufs[0].len = sizeof(*r->hdr);
	r->bufs[1].len = BLK_IO;
	r->bufs[2].len = 1;
}

static void blk_submit(struct virtio_dev *d, struct blk_req *r, uint32_t type,
		       uint64_t n)
{
	/* a stride through the whole disk: the copies come from DRAM */
	uint64_t block = n * 7919 % (DISK_SECTORS / 8);

	r->hdr->type = htole32(type);
	r->hdr->sector = htole64(block * 8);
	vq_drv_add(&d->vqs[0].drv, r->bufs, type == VIRTIO_BLK_T_OUT ? 2 : 1,
		   type == VIRTIO_BLK_T_OUT ? 1 : 2, r);
}

/* Wait for every request in flight; false if the device stopped answering. */
static bool blk_drain(struct virtio_dev *d, uint64_t *done)
{
	struct vq_drv *drv = &d->vqs[0].drv;
	double t0 = now_s();

	while (vq_drv_num_free(drv) < drv->num) {
		if (vq_drv_get_used(drv, NULL))
			(*done)++;
		else if (now_s() - t0 > 5.0)
			return false;
	}
	return true;
}

/* Keep @depth requests in flight for @secs or @limit completions. */
static uint64_t blk_loop(struct virtio_dev *d, struct blk_req *reqs,
			 unsigned int depth, uint32_t type, double secs,
			 uint64_t limit, uint64_t *errors)
{
	uint64_t n = 0, done = 0, rounds = 0;
	double t0 = now_s();

	for (unsigned int i = 0; i < depth; i++)
		blk_submit(d, &reqs[i], type, n++);
	virtio_vq_kick(d, 0);
	while (done < limit && (++rounds % 64 || now_s() - t0 < secs)) {
		struct blk_req *r;
		unsigned int got = 0;

		while ((r = vq_drv_get_used(&d->vqs[0].drv, NULL))) {
			*errors += *r->status != VIRTIO_BLK_S_OK;
			done++;
			got++;
			blk_submit(d, r, type, n++);
		}
		if (got)
			virtio_vq_kick(d, 0);
	}
	if (!blk_drain(d, &done))
		(*errors)++;
	return done;
}

static void bench_blk(struct vdpa_device *vdev, unsigned int depth,
		      double ceiling)
{
	struct virtio_dev d;
	struct blk_req reqs[128];
	uint64_t errors = 0, n;
	double t0, t;

	if (blk_setup(&d, vdev, depth < 128 ? 128 : depth * 2)) {
		printf("blk setup failed\n");
		return;
	}
	for (unsigned int i = 0; i < depth; i++)
		blk_req_init(&d, &reqs[i]);
	t0 = now_s();
	n = blk_loop(&d, reqs, depth, VIRTIO_BLK_T_IN, run_seconds, UINT64_MAX,
		     &errors);
	t = now_s() - t0;
	printf("vdpasim_blk 4 KiB reads, queue depth %3u: %.2f M req/s, "
	       "%.0f ns/req, %.0f%% of the memcpy ceiling%s\n",
	       depth, n / t / 1e6, t * 1e9 / n, 100.0 * n / t / ceiling,
	       errors ? " (ERRORS)" : "");
	virtio_dev_done(&d);
}

/* Fill the ramdisk, so reads copy real pages. */
static void blk_fill(struct vdpa_device *vdev)
{
	struct virtio_dev d;
	struct blk_req reqs[32];
	uint64_t errors = 0;

	if (blk_setup(&d, vdev, 128))
		return;
	for (int i = 0; i < 32; i++)
		blk_req_init(&d, &reqs[i]);
	blk_loop(&d, reqs, 32, VIRTIO_BLK_T_OUT, 60.0, DISK_SECTORS / 8,
		 &errors);
	virtio_dev_done(&d);
}

/* ---- network ---- */

struct net_bench {
	struct virtio_dev d;
	struct vq_buf tx[NET_QSIZE];
	struct vq_buf rx[NET_QSIZE];
};

static int net_setup(struct net_bench *n, struct vdpa_device *vdev)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	int ret;

	if ((ret = virtio_dev_init(&n->d, vdev, ARENA, IOVA)) ||
	    (ret = virtio_dev_negotiate(&n->d,
					BIT_ULL(VIRTIO_F_VERSION_1) |
						BIT_ULL(VIRTIO_NET_F_MAC))) ||
	    (ret = virtio_dev_find_vqs(&n->d, 2, NET_QSIZE, 0)) ||
	    (ret = virtio_dev_driver_ok(&n->d)))
		return ret;
	for (int q = 0; q < 2; q++)
		vq_drv_disable_cb(&n->d.vqs[q].drv);
	for (unsigned int i = 0; i < NET_QSIZE; i++) {
		uint8_t *f = virtio_dev_alloc(&n->d, NET_HDR + NET_FRAME, 64,
					      &n->tx[i].iova);

		memset(f, 0, NET_HDR + NET_FRAME);
		memcpy(f + NET_HDR, bcast, 6);
		n->tx[i].len = NET_HDR + NET_FRAME;
		virtio_dev_alloc(&n->d, 128, 64, &n->rx[i].iova);
		n->rx[i].len = 128;
		vq_drv_add(&n->d.vqs[0].drv, &n->rx[i], 0, 1, &n->rx[i]);
		vq_drv_add(&n->d.vqs[1].drv, &n->tx[i], 1, 0, &n->tx[i]);
	}
	return 0;
}

/* Recycle what came back on queue @q; returns how many. */
static unsigned int net_recycle(struct net_bench *n, uint16_t q)
{
	struct vq_drv *drv = &n->d.vqs[q].drv;
	struct vq_buf *b;
	unsigned int got = 0;

	while ((b = vq_drv_get_used(drv, NULL))) {
		vq_drv_add(drv, b, q == 1, q == 0, b);
		got++;
	}
	if (got)
		virtio_vq_kick(&n->d, q);
	return got;
}

static void bench_net(struct vdpa_device *vdev)
{
	struct net_bench *n = calloc(1, sizeof(*n));
	uint64_t rx = 0, rounds = 0;
	double t0, t;

	if (!n || net_setup(n, vdev)) {
		printf("net setup failed\n");
		free(n);
		return;
	}
	virtio_vq_kick(&n->d, 0);
	virtio_vq_kick(&n->d, 1);
	t0 = now_s();
	while (++rounds % 64 || now_s() - t0 < run_seconds) {
		rx += net_recycle(n, 0);
		net_recycle(n, 1);
	}
	t = now_s() - t0;
	printf("vdpasim_net loopback, %u-byte frames: %.2f M packets/s "
	       "(%.0f ns/packet)\n",
	       NET_FRAME, rx / t / 1e6, t * 1e9 / rx);
	virtio_dev_done(&n->d);
	free(n);
}

/* ---- idle ---- */

static void bench_idle(void)
{
	double c0 = cpu_s(), t0 = now_s(), t;

	usleep(1000000);
	t = now_s() - t0;
	printf("idle: %.2f ms of CPU in %.2f s with every device quiet "
	       "(workers sleep on their eventfds)\n",
	       (cpu_s() - c0) * 1e3, t);
}

int main(int argc, char **argv)
{
	struct vdpa_worker_pool *pool;
	struct vdpa_mgmt_dev *net_m, *blk_m;
	struct vdpa_device *blk, *net;
	struct vdpa_bus *bus;
	double ceiling;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (argc > 1)
		run_seconds = atof(argv[1]);
	bus = vdpa_bus_new();
	pool = vdpa_worker_pool_new(1, "bench-w");
	net_m = vdpasim_net_mgmtdev_new(pool);
	blk_m = vdpasim_blk_mgmtdev_new(pool);
	if (!bus || !pool || !net_m || !blk_m ||
	    vdpa_mgmtdev_register(bus, net_m) ||
	    vdpa_mgmtdev_register(bus, blk_m) ||
	    vdpa_mgmtdev_dev_add(blk_m, "blk0", NULL, NULL) ||
	    vdpa_mgmtdev_dev_add(net_m, "net0", NULL, NULL)) {
		fprintf(stderr, "bench: setup failed\n");
		return 1;
	}
	blk = vdpa_find_device(bus, "blk0");
	net = vdpa_find_device(bus, "net0");
	pin_self(0);
	pin_workers("bench-w", ncpu > 1 ? (int)ncpu : 1);
	printf("bench-ring: driver thread on CPU 0, one data path worker on "
	       "CPU %d, %.1f s per figure\n",
	       ncpu > 1 ? 1 : 0, run_seconds);
	bench_memcpy(&ceiling);
	blk_fill(blk);
	bench_blk(blk, 32, ceiling);
	bench_blk(blk, 128, ceiling);
	bench_net(net);
	bench_idle();
	vdpa_bus_free(bus);
	vdpasim_mgmtdev_free(net_m);
	vdpasim_mgmtdev_free(blk_m);
	vdpa_worker_pool_free(pool);
	return 0;
}
