/* SPDX-License-Identifier: MIT */
/*
 * What the ring and vhost-user harnesses share: a bus with one worker and
 * a device of each simulator, made once per process and kept, since
 * libFuzzer calls a harness many times in it.
 */
#ifndef UVDPA_FUZZ_SIM_H
#define UVDPA_FUZZ_SIM_H

#include <stdlib.h>

#include <uvdpa/sim.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/worker.h>

struct fz_sim {
	struct vdpa_bus *bus; /* NULL until fz_sim_setup() */
	struct vdpa_worker_pool *pool;
	struct vdpa_device *net, *blk;
};

static inline struct vdpa_device *
fz_sim_add(struct fz_sim *fs, struct vdpa_mgmt_dev *m, const char *name)
{
	struct vdpa_dev_set_config cfg = { 0 };
	struct vdpa_device *vdev;

	if (vdpa_mgmtdev_dev_add(m, name, &cfg, NULL))
		abort();
	vdpa_bus_read_lock(fs->bus);
	vdev = vdpa_find_device(fs->bus, name);
	vdpa_bus_read_unlock(fs->bus);
	if (!vdev)
		abort();
	return vdev;
}

/* A bus, one worker named @worker, devices fz-net and fz-blk. */
static inline void fz_sim_setup(struct fz_sim *fs, const char *worker)
{
	struct vdpa_mgmt_dev *mnet, *mblk;

	fs->bus = vdpa_bus_new();
	fs->pool = vdpa_worker_pool_new(1, worker);
	mnet = vdpasim_net_mgmtdev_new(fs->pool);
	mblk = vdpasim_blk_mgmtdev_new(fs->pool);
	if (!fs->bus || !fs->pool || !mnet || !mblk ||
	    vdpa_mgmtdev_register(fs->bus, mnet) ||
	    vdpa_mgmtdev_register(fs->bus, mblk))
		abort();
	fs->net = fz_sim_add(fs, mnet, "fz-net");
	fs->blk = fz_sim_add(fs, mblk, "fz-blk");
}

static inline void fz_sim_noop(void *arg)
{
}

/* Let the worker finish a round: what was kicked has been looked at. */
static inline void fz_sim_barrier(const struct fz_sim *fs)
{
	vdpa_worker_call(vdpa_worker_get(fs->pool, 0), fz_sim_noop, NULL);
}

#endif
