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
/* Unregister first (that deletes its devices). */
void vdpasim_mgmtdev_free(struct vdpa_mgmt_dev *mdev);

/* Busy-poll window, in µs, for devices created from now on; 0: none. */
void vdpasim_mgmtdev_set_poll_us(struct vdpa_mgmt_dev *mdev, uint32_t us);

#endif
