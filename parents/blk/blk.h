/* SPDX-License-Identifier: MIT */
/*
 * The `blk` parent: virtio-blk devices whose data lives in a regular file
 * or a block device (io_uring) or on an NBD server (libnbd), created with
 * `uvdpa dev add ... mgmtdev blk path PATH ...` (uvdpa/mgmt.h,
 * UVDPA_ATTR_BLK_*). Its queues are served by @pool's workers, each queue
 * on the worker that is least busy when it starts.
 */
#ifndef UVDPA_PARENTS_BLK_H
#define UVDPA_PARENTS_BLK_H

#include <stdint.h>

#include <uvdpa/vdpa.h>
#include <uvdpa/worker.h>

/* Most queues a device may have (num_queues), and their largest size. */
#define BLK_NUM_QUEUES_MAX 64
#define BLK_QUEUE_SIZE_MAX 1024

/*
 * The blk parent's longest busy-poll window (the worker adapts it per
 * queue, see worker.h). Longer than the simulators' 50 us: a VM's driver
 * sleeps between requests, and on a small VM a worker's wake-up alone
 * takes 60-130 us, so a 50 us cap sees every wait as too long and stops
 * polling (bench/blk.py's sleeping front end lost 30 % of its IOPS); a
 * wait longer than this still shrinks the window, so an idle queue costs
 * nothing.
 */
#define BLK_POLL_US_DEFAULT 200

/*
 * The management device "blk" (class block), its queues busy-polled for
 * @poll_us after work (0: never). Returns NULL and sets *@err (-ENOMEM).
 */
struct vdpa_mgmt_dev *blk_mgmt_new(struct vdpa_worker_pool *pool,
				   uint32_t poll_us, int *err);
/* Unregister first (that deletes its devices). Accepts NULL. */
void blk_mgmt_free(struct vdpa_mgmt_dev *m);

#endif
