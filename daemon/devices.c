// SPDX-License-Identifier: MIT
/*
 * Binding devices to bus drivers, and the management server's hooks
 * (uvdpa/mgmt_server.h): which driver a new device gets (its `driver`
 * word, else a kept override, else --default-driver), `dev bind` and
 * `dev unbind` (driverctl set-override semantics, kept in the state dir),
 * and `dev show`'s driver and endpoint.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <uvdpa/mgmt.h>

#include "log.h"
#include "uvdpad.h"

static struct vdpa_driver *driver_by_name(struct daemon *d, const char *name)
{
	if (!strcmp(name, d->vhost_driver.name))
		return &d->vhost_driver;
	if (!strcmp(name, d->virtio_driver.name))
		return &d->virtio_driver;
	return NULL;
}

static int check_driver(struct daemon *d, const char *name,
			struct vdpa_extack *ext)
{
	if (!strcmp(name, "none") || driver_by_name(d, name))
		return 0;
	vdpa_extack_set(ext,
			"driver \"%s\": no such bus driver (vhost_vdpa, "
			"virtio_vdpa or none)",
			name);
	return -EINVAL;
}

/* The driver @vdev will bind to: its override, else the default's. */
static const char *effective_driver(struct daemon *d, struct vdpa_device *vdev)
{
	const char *o = vdpa_get_driver_override(vdev);

	return o ? o : d->opts.default_driver;
}

/*
 * Bind @vdev as its override says, or to the default driver; nothing for
 * "none". bus->lock held. The probe's own message goes back in @ext.
 */
static int bind_now(struct daemon *d, struct vdpa_device *vdev,
		    struct vdpa_extack *ext)
{
	const char *drv = effective_driver(d, vdev);
	int ret;

	if (!strcmp(drv, "none"))
		return 0;
	ext->msg[0] = '\0';
	ret = _vdpa_device_attach_ext(vdev, ext);
	if (!ret)
		return 0;
	if (!*ext->msg)
		vdpa_extack_set(ext, "cannot bind %s to %s: %s", vdev->name,
				drv, strerror(-ret));
	return ret;
}

static int check_opts(struct daemon *d, struct vdpa_device *vdev,
		      const struct mgmt_dev_opts *o, const char *drv,
		      struct vdpa_extack *ext)
{
	if (o->ifname && (!*o->ifname || strlen(o->ifname) >= IFNAMSIZ)) {
		vdpa_extack_set(ext,
				"ifname \"%s\": an interface name has 1 to "
				"%d bytes",
				o->ifname, IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (o->ifname && vdev->config->get_device_id(vdev) != VIRTIO_ID_NET) {
		vdpa_extack_set(ext, "ifname is for network devices only");
		return -EINVAL;
	}
	if ((o->has_owner || o->has_group || o->has_mode) &&
	    strcmp(drv, "vhost_vdpa")) {
		vdpa_extack_set(ext,
				"owner, group and mode are those of a "
				"vhost_vdpa socket: %s would be bound to %s",
				vdev->name, drv);
		return -EINVAL;
	}
	return 0;
}

int daemon_dev_new(struct daemon *d, struct vdpa_device *vdev,
		   const struct vdpa_dev_set_config *cfg,
		   const struct mgmt_dev_opts *o, struct vdpa_extack *ext)
{
	const char *drv = o->driver ? o->driver : state_override(d, vdev->name);
	int ret;

	if (o->driver && (ret = check_driver(d, o->driver, ext)))
		return ret;
	ret = _vdpa_set_driver_override(vdev, drv);
	if (!ret)
		ret = check_opts(d, vdev, o, effective_driver(d, vdev), ext);
	if (ret)
		return ret;
	if (!state_dev_add(d, vdev, cfg, o))
		return -ENOMEM;
	ret = bind_now(d, vdev, ext);
	if (ret) {
		state_dev_del(d, vdev->name);
		return ret;
	}
	if (o->driver && state_set_override(d, vdev->name, o->driver))
		log_warn("%s: the override to %s is not kept", vdev->name,
			 o->driver);
	if (state_devices_save(d))
		log_warn("%s: will not be there after a restart", vdev->name);
	return 0;
}

static int hook_dev_new(void *ctx, struct vdpa_device *vdev,
			const struct vdpa_dev_set_config *cfg,
			const struct mgmt_dev_opts *o, struct vdpa_extack *ext)
{
	return daemon_dev_new(ctx, vdev, cfg, o, ext);
}

static void hook_dev_del(void *ctx, struct vdpa_device *vdev)
{
	struct daemon *d = ctx;

	/* a deleted device's choices go with it; a restart keeps them */
	state_dev_del(d, vdev->name);
	state_devices_save(d);
	state_set_override(d, vdev->name, NULL);
}

static void hook_dev_resized(void *ctx, struct vdpa_device *vdev,
			     uint64_t capacity)
{
	struct daemon *d = ctx;
	struct dev_rec *r = state_dev(d, vdev->name);

	if (!r)
		return;
	r->cfg.blk.capacity = capacity;
	r->cfg.ext_mask |= UVDPA_EXT_BIT(UVDPA_ATTR_BLK_CAPACITY);
	state_devices_save(d);
}

/* Back to where @vdev was before a bind that failed. */
static void bind_undo(struct daemon *d, struct vdpa_device *vdev,
		      const char *old_override, struct vdpa_driver *old_drv,
		      struct vdpa_extack *ext)
{
	char msg[sizeof(ext->msg)];

	_vdpa_device_release_driver(vdev);
	_vdpa_set_driver_override(vdev, old_override);
	if (!old_drv)
		return;
	snprintf(msg, sizeof(msg), "%s", ext->msg);
	if (bind_now(d, vdev, ext))
		log_err("%s: cannot go back to %s", vdev->name, old_drv->name);
	else
		vdpa_extack_set(ext, "%s; %s stays bound to %s", msg,
				vdev->name, old_drv->name);
}

static int hook_dev_bind(void *ctx, struct vdpa_device *vdev,
			 const char *driver, struct vdpa_extack *ext)
{
	struct daemon *d = ctx;
	struct vdpa_driver *old_drv = vdev->driver;
	char old[32] = "";
	int ret = check_driver(d, driver, ext);

	if (ret)
		return ret;
	if (vdpa_get_driver_override(vdev))
		snprintf(old, sizeof(old), "%s",
			 vdpa_get_driver_override(vdev));
	_vdpa_device_release_driver(vdev);
	ret = _vdpa_set_driver_override(vdev, driver);
	if (!ret)
		ret = bind_now(d, vdev, ext);
	if (ret) {
		bind_undo(d, vdev, *old ? old : NULL, old_drv, ext);
		return ret;
	}
	log_info("%s: bound to %s", vdev->name, driver);
	if (state_set_override(d, vdev->name, driver))
		log_warn("%s: the override to %s is not kept", vdev->name,
			 driver);
	return 0;
}

static void hook_dev_info(void *ctx, struct vdpa_device *vdev,
			  struct mgmt_dev_info *info)
{
	struct daemon *d = ctx;

	if (vdev->driver == &d->vhost_driver)
		info->endpoint = bus_vhost_endpoint(vdev);
	else if (vdev->driver == &d->virtio_driver)
		info->endpoint = bus_virtio_endpoint(vdev);
}

const struct mgmt_hooks daemon_mgmt_hooks = {
	.dev_info = hook_dev_info,
	.dev_new = hook_dev_new,
	.dev_del = hook_dev_del,
	.dev_bind = hook_dev_bind,
	.dev_resized = hook_dev_resized,
};

/* The default driver first: without an override, the first match wins. */
int daemon_register_drivers(struct daemon *d)
{
	struct vdpa_driver *first, *second;
	int ret;

	bus_vhost_init(d);
	bus_virtio_init(d);
	first = &d->vhost_driver;
	second = &d->virtio_driver;
	if (!strcmp(d->opts.default_driver, "virtio_vdpa")) {
		first = &d->virtio_driver;
		second = &d->vhost_driver;
	}
	ret = vdpa_register_driver(d->bus, first);
	return ret ? ret : vdpa_register_driver(d->bus, second);
}
