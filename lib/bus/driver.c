// SPDX-License-Identifier: MIT
/*
 * Bus drivers and binding: match, probe, remove, driver_override
 * (Linux drivers/vdpa/vdpa.c and the driver core; reference §7, §11.10).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/vdpa.h>

#include "bus/internal.h"

/* sysfs attributes are one page */
#define VDPA_OVERRIDE_MAX 4096

bool vdpa_driver_match(const struct vdpa_device *vdev,
		       const struct vdpa_driver *drv)
{
	/* Without an override every driver matches: the first one wins. */
	if (vdev->driver_override)
		return !strcmp(vdev->driver_override, drv->name);
	return true;
}

/* vdpa_dev_probe(); bus->lock held. @ext NULL: nobody asks why. */
static int vdpa_probe(struct vdpa_device *vdev, struct vdpa_driver *drv,
		      struct vdpa_extack *ext)
{
	const struct vdpa_config_ops *ops = vdev->config;
	struct vdpa_extack scratch;
	int ret;

	if (ops->get_vq_num_max(vdev) < vdpa_get_vq_num_min(vdev))
		return -EINVAL;
	vdev->driver = drv;
	scratch.msg[0] = '\0';
	ret = drv->probe ? drv->probe(vdev, ext ? ext : &scratch) : 0;
	if (ret) {
		vdev->driver = NULL;
		vdev->driver_data = NULL;
	}
	return ret;
}

int _vdpa_device_attach_ext(struct vdpa_device *vdev, struct vdpa_extack *ext)
{
	struct vdpa_driver *drv;
	int ret = -ENODEV;

	assert(vdpa_bus_write_locked(vdev->bus));
	if (vdev->driver)
		return 0;
	list_for_each_entry(drv, &vdev->bus->drivers, bus_link) {
		if (!vdpa_driver_match(vdev, drv))
			continue;
		ret = vdpa_probe(vdev, drv, ext);
		if (!ret)
			return 0;
	}
	return ret;
}

int _vdpa_device_attach(struct vdpa_device *vdev)
{
	return _vdpa_device_attach_ext(vdev, NULL);
}

int vdpa_device_attach(struct vdpa_device *vdev)
{
	int ret;

	vdpa_bus_lock(vdev->bus);
	ret = _vdpa_device_attach(vdev);
	vdpa_bus_unlock(vdev->bus);
	return ret;
}

int vdpa_driver_bind(struct vdpa_driver *drv, struct vdpa_device *vdev)
{
	int ret;

	vdpa_bus_lock(vdev->bus);
	/*
	 * As sysfs bind: only a driver of this bus, and the match comes
	 * before the busy check (bind_store, then __driver_probe_device).
	 */
	if (drv->bus != vdev->bus || !vdev->registered ||
	    !vdpa_driver_match(vdev, drv))
		ret = -ENODEV;
	else if (vdev->driver)
		ret = -EBUSY;
	else
		ret = vdpa_probe(vdev, drv, NULL);
	vdpa_bus_unlock(vdev->bus);
	return ret;
}

void _vdpa_device_release_driver(struct vdpa_device *vdev)
{
	struct vdpa_driver *drv = vdev->driver;

	assert(vdpa_bus_write_locked(vdev->bus));
	if (!drv)
		return;
	if (drv->remove)
		drv->remove(vdev);
	vdev->driver = NULL;
	vdev->driver_data = NULL;
}

void vdpa_device_release_driver(struct vdpa_device *vdev)
{
	vdpa_bus_lock(vdev->bus);
	_vdpa_device_release_driver(vdev);
	vdpa_bus_unlock(vdev->bus);
}

int vdpa_register_driver(struct vdpa_bus *bus, struct vdpa_driver *drv)
{
	struct vdpa_driver *d;
	struct vdpa_device *vdev;

	if (!bus || !drv || !drv->name || !*drv->name)
		return -EINVAL;
	vdpa_bus_lock(bus);
	list_for_each_entry(d, &bus->drivers, bus_link) {
		if (!strcmp(d->name, drv->name)) {
			vdpa_bus_unlock(bus);
			return -EEXIST;
		}
	}
	drv->bus = bus;
	list_add_tail(&drv->bus_link, &bus->drivers);
	if (bus->autoprobe)
		vdpa_bus_for_each_device(vdev, bus)
			if (!vdev->driver && vdpa_driver_match(vdev, drv))
				vdpa_probe(vdev, drv, NULL);
	vdpa_bus_unlock(bus);
	return 0;
}

void vdpa_unregister_driver(struct vdpa_driver *drv)
{
	struct vdpa_bus *bus = drv->bus;
	struct vdpa_device *vdev;

	if (!bus)
		return;
	vdpa_bus_lock(bus);
	vdpa_bus_for_each_device(vdev, bus)
		if (vdev->driver == drv)
			_vdpa_device_release_driver(vdev);
	list_del(&drv->bus_link);
	drv->bus = NULL;
	vdpa_bus_unlock(bus);
}

static int override_copy(const char *name, char **out)
{
	size_t len = name ? strlen(name) : 0;
	char *copy = NULL;

	if (len >= VDPA_OVERRIDE_MAX - 1)
		return -EINVAL;
	if (len && name[len - 1] == '\n')
		len--;
	if (len) {
		copy = strndup(name, len);
		if (!copy)
			return -ENOMEM;
	}
	*out = copy;
	return 0;
}

int _vdpa_set_driver_override(struct vdpa_device *vdev, const char *name)
{
	char *copy;
	int ret = override_copy(name, &copy);

	assert(vdpa_bus_write_locked(vdev->bus));
	if (ret)
		return ret;
	free(vdev->driver_override);
	vdev->driver_override = copy;
	return 0;
}

int vdpa_set_driver_override(struct vdpa_device *vdev, const char *name)
{
	int ret;

	vdpa_bus_lock(vdev->bus);
	ret = _vdpa_set_driver_override(vdev, name);
	vdpa_bus_unlock(vdev->bus);
	return ret;
}

const char *vdpa_get_driver_override(const struct vdpa_device *vdev)
{
	return vdev->driver_override;
}
