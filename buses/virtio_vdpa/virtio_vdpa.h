/* SPDX-License-Identifier: MIT */
/*
 * The virtio_vdpa bus driver's device classes (Linux
 * drivers/virtio/virtio_vdpa.c plus the virtio_net and virtio_blk drivers
 * above it): in-process virtio drivers over the driver-side queues of the
 * ring core (uvdpa/virtio_dev.h) that hand a device to the host.
 *  - virtio-net becomes a TAP interface (net_tap.c);
 *  - virtio-blk becomes a regular file in a FUSE filesystem (blk_fuse.c).
 *
 * uvdpad's bus_virtio.c calls these from its control thread with bus->lock
 * held, in probe and remove; each class runs its data path on its own
 * threads. Remove stops the data path, fails what is in flight (the host
 * program gets EIO) and resets the device.
 */
#ifndef UVDPA_BUSES_VIRTIO_VDPA_H
#define UVDPA_BUSES_VIRTIO_VDPA_H

#include <stdbool.h>
#include <stdint.h>

#include <uvdpa/vdpa.h>

/* Messages go to the daemon's log: level 0 error .. 3 debug. */
typedef void (*vv_log_fn)(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- virtio-net → TAP ---- */

struct vv_net;

struct vv_net_cfg {
	/*
	 * The interface name: the device name when NULL. A name that does
	 * not fit IFNAMSIZ is refused with a message naming `ifname`.
	 */
	const char *ifname;
	vv_log_fn log;
};

/*
 * Take @vdev (a virtio-net device): negotiate as Linux's virtio_net does,
 * create the TAP interface with the config's MAC (a random one, set with
 * VIRTIO_NET_CTRL_MAC_ADDR_SET, when the config's is zero or invalid) and
 * MTU, carrier from the link status, and start the data path. NULL with
 * *@err and a message in @ext on failure (e.g. no CAP_NET_ADMIN).
 */
struct vv_net *vv_net_probe(struct vdpa_device *vdev,
			    const struct vv_net_cfg *cfg,
			    struct vdpa_extack *ext, int *err);
/* Stop, delete the interface, reset the device. */
void vv_net_remove(struct vv_net *n);
/* The interface name, for `dev show`'s endpoint. */
const char *vv_net_ifname(const struct vv_net *n);

/* ---- virtio-blk → a file in a FUSE filesystem ---- */

struct vv_blk_fs;
struct vv_blk;

/*
 * Mount the filesystem at @mountpoint (created if missing; a stale FUSE
 * mount left there by a killed uvdpad is detached first) and start
 * serving it. NULL with *@err and a message in @ext on failure (no
 * /dev/fuse, no permission to mount).
 */
struct vv_blk_fs *vv_blk_fs_new(const char *mountpoint, vv_log_fn log,
				struct vdpa_extack *ext, int *err);
/* Unmount; every file must have been removed. */
void vv_blk_fs_free(struct vv_blk_fs *fs);

/*
 * Take @vdev (a virtio-blk device): negotiate as Linux's virtio_blk does,
 * set its queues up and add the file @mountpoint/<vdev->name>, its size
 * the capacity, read-only when the device is. NULL with *@err and @ext.
 */
struct vv_blk *vv_blk_probe(struct vv_blk_fs *fs, struct vdpa_device *vdev,
			    struct vdpa_extack *ext, int *err);
/* Fail requests in flight and new ones with EIO, remove the file, reset. */
void vv_blk_remove(struct vv_blk *b);
/* The file's path, for `dev show`'s endpoint. */
const char *vv_blk_path(const struct vv_blk *b);
/* Files the filesystem holds: uvdpad unmounts it when none is left. */
unsigned int vv_blk_fs_count(const struct vv_blk_fs *fs);

#endif
