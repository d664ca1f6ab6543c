// SPDX-License-Identifier: MIT
/*
 * bench-virtio-blk: a vdpasim_blk device handed to the host as a file by
 * the virtio_vdpa blk driver (buses/virtio_vdpa), in process, without
 * uvdpad: what bench/virtio-blk.py runs fio against.
 *
 * usage: bench-virtio-blk MOUNTPOINT [--poll-us N]
 * Prints the file's path on stdout once it exists, serves until SIGINT or
 * SIGTERM, then removes the file and unmounts.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvdpa/sim.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/worker.h>

#include "virtio_vdpa.h"

__attribute__((format(printf, 2, 3))) static void
bench_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > 2)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int wait_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	return sigwait(&set, &sig) ? -1 : sig;
}

int main(int argc, char **argv)
{
	struct vdpa_extack ext = { "" };
	struct vdpa_worker_pool *pool;
	struct vdpa_mgmt_dev *mdev;
	struct vdpa_device *vdev;
	struct vv_blk_fs *fs;
	struct vdpa_bus *bus;
	struct vv_blk *b;
	sigset_t set;
	int err = 0;

	if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "--poll-us"))) {
		fprintf(stderr, "usage: %s MOUNTPOINT [--poll-us N]\n",
			argv[0]);
		return 2;
	}
	/* every thread started from here on leaves the signals to sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	bus = vdpa_bus_new();
	pool = vdpa_worker_pool_new(1, "bench-w");
	mdev = pool ? vdpasim_blk_mgmtdev_new(pool) : NULL;
	if (!bus || !mdev || vdpa_mgmtdev_register(bus, mdev))
		return 1;
	if (argc == 4)
		vdpasim_mgmtdev_set_poll_us(mdev, (uint32_t)atoi(argv[3]));
	if (vdpa_mgmtdev_dev_add(mdev, "blk0", NULL, &ext)) {
		fprintf(stderr, "dev add: %s\n", ext.msg);
		return 1;
	}
	vdev = vdpa_find_device(bus, "blk0");
	fs = vv_blk_fs_new(argv[1], bench_log, &ext, &err);
	if (!fs) {
		fprintf(stderr, "mount: %s (%s)\n", ext.msg, strerror(-err));
		return 1;
	}
	b = vv_blk_probe(fs, vdev, &ext, &err);
	if (!b) {
		fprintf(stderr, "probe: %s (%s)\n", ext.msg, strerror(-err));
		vv_blk_fs_free(fs);
		return 1;
	}
	printf("%s\n", vv_blk_path(b));
	fflush(stdout);
	wait_signal();
	vv_blk_remove(b);
	vv_blk_fs_free(fs);
	vdpa_mgmtdev_unregister(mdev);
	vdpa_bus_free(bus);
	vdpasim_mgmtdev_free(mdev);
	vdpa_worker_pool_free(pool);
	return 0;
}
