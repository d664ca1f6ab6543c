// SPDX-License-Identifier: MIT
/*
 * uvdpa's extension commands (uvdpa/mgmt.h): binding a device to a bus
 * driver, leaving it unbound, and resizing a block device. What a kernel
 * user does with driverctl and sysfs, and what the kernel has no command
 * for at all.
 */
#include <errno.h>
#include <string.h>

#include "mgmt/internal.h"

static struct vdpa_bus *req_bus(struct mgmt_req *req)
{
	return req->srv->bus;
}

/* Bind (or, with "none", unbind) the request's device; bus->lock taken. */
static int dev_bind(struct mgmt_req *req, const char *driver)
{
	const struct mgmt_hooks *h = &req->srv->hooks;
	struct vdpa_device *vdev;
	int ret;

	if (!h->dev_bind) {
		mgmt_err(req, "binding is not supported here");
		return -EOPNOTSUPP;
	}
	vdpa_bus_lock(req_bus(req));
	ret = mgmt_req_device(req, "unmanaged vdpa device", &vdev);
	if (!ret)
		ret = h->dev_bind(req->srv->hooks_ctx, vdev, driver,
				  &req->ext_ack);
	vdpa_bus_unlock(req_bus(req));
	return ret;
}

int mgmt_dev_bind_doit(struct mgmt_req *req)
{
	const struct nlattr *drv =
		req->ext[UVDPA_ATTR_DEV_DRIVER - UVDPA_ATTR_EXT_FIRST];

	if (!req->tb[VDPA_ATTR_DEV_NAME])
		return -EINVAL;
	if (!drv) {
		mgmt_err(req, "driver is not set");
		return -EINVAL;
	}
	return dev_bind(req, mnl_attr_get_str(drv));
}

int mgmt_dev_unbind_doit(struct mgmt_req *req)
{
	if (!req->tb[VDPA_ATTR_DEV_NAME])
		return -EINVAL;
	return dev_bind(req, "none");
}

int mgmt_dev_resize_doit(struct mgmt_req *req)
{
	const struct nlattr *cap =
		req->ext[UVDPA_ATTR_BLK_CAPACITY - UVDPA_ATTR_EXT_FIRST];
	struct vdpa_device *vdev;
	int ret;

	if (!req->tb[VDPA_ATTR_DEV_NAME])
		return -EINVAL;
	if (!cap) {
		mgmt_err(req, "capacity is not set");
		return -EINVAL;
	}
	vdpa_bus_lock(req_bus(req));
	ret = mgmt_req_device(req, "unmanaged vdpa device", &vdev);
	if (!ret && !vdev->mdev->ops->dev_resize) {
		mgmt_err(req, "%s devices cannot be resized",
			 vdev->mdev->dev_name);
		ret = -EOPNOTSUPP;
	}
	if (!ret)
		ret = vdev->mdev->ops->dev_resize(
			vdev->mdev, vdev, mnl_attr_get_u64(cap), &req->ext_ack);
	if (!ret && req->srv->hooks.dev_resized)
		req->srv->hooks.dev_resized(req->srv->hooks_ctx, vdev,
					    mnl_attr_get_u64(cap));
	vdpa_bus_unlock(req_bus(req));
	return ret;
}
