// SPDX-License-Identifier: MIT
/*
 * Management devices: the parents that create and delete devices on
 * request (Linux drivers/vdpa/vdpa.c, vdpa_mgmtdev_register and friends).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <uvdpa/vdpa.h>

static bool vdpa_mgmtdev_match(const struct vdpa_mgmt_dev *mdev,
			       const char *bus_name, const char *dev_name)
{
	/* reference §1.7: a bus name matches only parents on a bus */
	if (!bus_name != !mdev->bus_name)
		return false;
	if (bus_name && strcmp(bus_name, mdev->bus_name))
		return false;
	return !strcmp(dev_name, mdev->dev_name);
}

struct vdpa_mgmt_dev *vdpa_mgmtdev_find(struct vdpa_bus *bus,
					const char *bus_name,
					const char *dev_name)
{
	struct vdpa_mgmt_dev *mdev;

	if (!dev_name)
		return NULL;
	vdpa_bus_for_each_mgmtdev(mdev, bus)
		if (vdpa_mgmtdev_match(mdev, bus_name, dev_name))
			return mdev;
	return NULL;
}

uint64_t vdpa_mgmtdev_classes(const struct vdpa_mgmt_dev *mdev)
{
	uint64_t classes = 0;

	for (const uint32_t *id = mdev->id_table; id && *id; id++)
		if (*id < 64)
			classes |= BIT_ULL(*id);
	return classes;
}

int vdpa_mgmtdev_register(struct vdpa_bus *bus, struct vdpa_mgmt_dev *mdev)
{
	int ret = 0;

	if (!bus || !mdev || !mdev->dev_name || !mdev->ops ||
	    !mdev->ops->dev_add || !mdev->ops->dev_del)
		return -EINVAL;
	vdpa_bus_lock(bus);
	if (vdpa_mgmtdev_find(bus, mdev->bus_name, mdev->dev_name)) {
		ret = -EEXIST;
	} else {
		mdev->bus = bus;
		list_add_tail(&mdev->bus_link, &bus->mgmtdevs);
	}
	vdpa_bus_unlock(bus);
	return ret;
}

void vdpa_mgmtdev_unregister(struct vdpa_mgmt_dev *mdev)
{
	struct vdpa_bus *bus = mdev->bus;
	struct vdpa_device *vdev, *tmp;

	if (!bus)
		return;
	vdpa_bus_lock(bus);
	list_del(&mdev->bus_link);
	list_for_each_entry_safe(vdev, tmp, &bus->devices, bus_link)
		if (vdev->mdev == mdev)
			mdev->ops->dev_del(mdev, vdev);
	mdev->bus = NULL;
	vdpa_bus_unlock(bus);
}

int vdpa_mgmtdev_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			 const struct vdpa_dev_set_config *config,
			 struct vdpa_extack *ext)
{
	struct vdpa_dev_set_config none = { 0 };
	int ret;

	if (!mdev->bus || !name)
		return -EINVAL;
	vdpa_bus_lock(mdev->bus);
	ret = mdev->ops->dev_add(mdev, name, config ? config : &none, ext);
	vdpa_bus_unlock(mdev->bus);
	return ret;
}

int _vdpa_mgmtdev_dev_add_unbound(struct vdpa_mgmt_dev *mdev, const char *name,
				  const struct vdpa_dev_set_config *config,
				  int index, struct vdpa_extack *ext,
				  struct vdpa_device **vdev)
{
	struct vdpa_bus *bus = mdev->bus;
	bool autoprobe = bus->autoprobe;
	int ret;

	assert(vdpa_bus_write_locked(bus));
	bus->autoprobe = false;
	bus->index_hint = index;
	ret = mdev->ops->dev_add(mdev, name, config, ext);
	bus->index_hint = -1;
	bus->autoprobe = autoprobe;
	*vdev = ret ? NULL : vdpa_find_device(bus, name);
	if (!ret && !*vdev)
		ret = -ENODEV; /* a parent that did not register it */
	return ret;
}

int _vdpa_dev_del(struct vdpa_bus *bus, const char *name,
		  struct vdpa_extack *ext,
		  void (*before)(void *ctx, struct vdpa_device *vdev),
		  void *ctx)
{
	struct vdpa_device *vdev;

	assert(vdpa_bus_write_locked(bus));
	vdev = name ? vdpa_find_device(bus, name) : NULL;
	if (!vdev) {
		vdpa_extack_set(ext, "device not found");
		return -ENODEV;
	}
	if (!vdev->mdev) {
		vdpa_extack_set(
			ext, "Only user created device can be deleted by user");
		return -EINVAL;
	}
	if (before)
		before(ctx, vdev);
	vdev->mdev->ops->dev_del(vdev->mdev, vdev);
	return 0;
}

int vdpa_dev_del(struct vdpa_bus *bus, const char *name,
		 struct vdpa_extack *ext)
{
	int ret;

	if (!name)
		return -EINVAL;
	vdpa_bus_lock(bus);
	ret = _vdpa_dev_del(bus, name, ext, NULL, NULL);
	vdpa_bus_unlock(bus);
	return ret;
}
