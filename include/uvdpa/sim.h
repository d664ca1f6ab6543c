/* SPDX-License-Identifier: MIT */
/*
 * The simulator parents, vdpasim_net and vdpasim_blk (reference §4): their
 * management devices, to register on a bus. Their queues are served by
 * @pool's workers.
 */
#ifndef UVDPA_SIM_H
#define UVDPA_SIM_H

#include <uvdpa/vdpa.h>
#include <uvdpa/worker.h>

/* Busy-poll window of a simulator device's queues, by default. */
#define VDPASIM_POLL_US_DEFAULT 50

struct vdpa_mgmt_dev *vdpasim_net_mgmtdev_new(struct vdpa_worker_pool *pool);
struct vdpa_mgmt_dev *vdpasim_blk_mgmtdev_new(struct vdpa_worker_pool *pool);
/*
 * vdpasim_blk keeps each device's ramdisk in @dir/NAME (a file, sparse;
 * on tmpfs under the runtime dir it is still RAM) instead of a memfd, so
 * that it outlives the daemon: a device created with config->restoring
 * finds its data again. Deleting a device removes its file; with
 * vdpasim_blk_keep_files(), unregistering (a daemon stopping) keeps them.
 */
int vdpasim_blk_set_dir(struct vdpa_mgmt_dev *mdev, const char *dir);
void vdpasim_blk_keep_files(struct vdpa_mgmt_dev *mdev);
/* Unregister first (that deletes its devices). */
void vdpasim_mgmtdev_free(struct vdpa_mgmt_dev *mdev);

/* Busy-poll window, in µs, for devices created from now on; 0: none. */
void vdpasim_mgmtdev_set_poll_us(struct vdpa_mgmt_dev *mdev, uint32_t us);

#endif
