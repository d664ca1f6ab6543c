// SPDX-License-Identifier: MIT
/*
 * The virtio_vdpa bus driver in uvdpad (Linux drivers/virtio/virtio_vdpa.c
 * with virtio_net and virtio_blk above it): on probe a net device becomes
 * a TAP interface and a blk device a file in $RUNTIME/blk, served by the
 * in-process drivers of buses/virtio_vdpa. The FUSE filesystem is mounted
 * with the first file and unmounted with the last.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "log.h"
#include "uvdpad.h"
#include "virtio_vdpa.h"

struct virtio_bind {
	struct vv_net *net;
	struct vv_blk *blk;
};

__attribute__((format(printf, 2, 3))) static void vv_log(int level,
							 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (level < LOG_ERR || level > LOG_DEBUG)
		level = LOG_DEBUG;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg((enum log_level)level, "%s", msg);
}

static struct daemon *vdev_daemon(struct vdpa_device *vdev)
{
	return container_of(vdev->driver, struct daemon, virtio_driver);
}

static int probe_net(struct daemon *d, struct vdpa_device *vdev,
		     struct virtio_bind *vb, struct vdpa_extack *ext)
{
	struct dev_rec *r = state_dev(d, vdev->name);
	struct vv_net_cfg cfg = {
		.ifname = r && *r->ifname ? r->ifname : NULL,
		.log = vv_log,
	};
	int ret = -ENOMEM;

	vb->net = vv_net_probe(vdev, &cfg, ext, &ret);
	if (vb->net)
		log_info("%s: TAP interface %s", vdev->name,
			 vv_net_ifname(vb->net));
	return vb->net ? 0 : ret;
}

static int probe_blk(struct daemon *d, struct vdpa_device *vdev,
		     struct virtio_bind *vb, struct vdpa_extack *ext)
{
	char dir[PATH_MAX + 8];
	int ret = -ENOMEM;

	if (!d->blk_fs) {
		snprintf(dir, sizeof(dir), "%s/blk", d->opts.runtime_dir);
		d->blk_fs = vv_blk_fs_new(dir, vv_log, ext, &ret);
		if (!d->blk_fs)
			return ret;
	}
	vb->blk = vv_blk_probe(d->blk_fs, vdev, ext, &ret);
	if (vb->blk) {
		log_info("%s: file %s", vdev->name, vv_blk_path(vb->blk));
		return 0;
	}
	if (!vv_blk_fs_count(d->blk_fs)) {
		vv_blk_fs_free(d->blk_fs);
		d->blk_fs = NULL;
	}
	return ret;
}

static int virtio_probe(struct vdpa_device *vdev, struct vdpa_extack *ext)
{
	struct daemon *d = vdev_daemon(vdev);
	uint32_t id = vdev->config->get_device_id(vdev);
	struct virtio_bind *vb = calloc(1, sizeof(*vb));
	int ret;

	if (!vb)
		return -ENOMEM;
	if (id == VIRTIO_ID_NET) {
		ret = probe_net(d, vdev, vb, ext);
	} else if (id == VIRTIO_ID_BLOCK) {
		ret = probe_blk(d, vdev, vb, ext);
	} else {
		vdpa_extack_set(ext,
				"virtio_vdpa has no driver for virtio "
				"device id %u",
				id);
		ret = -ENODEV;
	}
	if (ret) {
		log_err("%s: virtio_vdpa: %s", vdev->name,
			*ext->msg ? ext->msg : strerror(-ret));
		free(vb);
		return ret;
	}
	vdev->driver_data = vb;
	return 0;
}

static void virtio_remove(struct vdpa_device *vdev)
{
	struct daemon *d = vdev_daemon(vdev);
	struct virtio_bind *vb = vdev->driver_data;

	if (!vb)
		return;
	if (vb->net)
		vv_net_remove(vb->net);
	if (vb->blk) {
		vv_blk_remove(vb->blk);
		if (!vv_blk_fs_count(d->blk_fs)) {
			vv_blk_fs_free(d->blk_fs);
			d->blk_fs = NULL;
		}
	}
	free(vb);
	vdev->driver_data = NULL;
}

void bus_virtio_init(struct daemon *d)
{
	d->virtio_driver = (struct vdpa_driver){
		.name = "virtio_vdpa",
		.probe = virtio_probe,
		.remove = virtio_remove,
	};
}

const char *bus_virtio_endpoint(struct vdpa_device *vdev)
{
	struct virtio_bind *vb = vdev->driver_data;

	if (!vb)
		return NULL;
	return vb->net ? vv_net_ifname(vb->net) : vv_blk_path(vb->blk);
}

void bus_virtio_fini(struct daemon *d)
{
	if (d->blk_fs)
		vv_blk_fs_free(d->blk_fs);
	d->blk_fs = NULL;
}
