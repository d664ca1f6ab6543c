// SPDX-License-Identifier: MIT
/*
 * The vdpa bus: device allocation, names and indices, registration.
 * (Linux drivers/vdpa/vdpa.c.)
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/vdpa.h>

#include "bus/internal.h"

void vdpa_extack_set(struct vdpa_extack *ext, const char *fmt, ...)
{
	va_list ap;

	if (!ext)
		return;
	va_start(ap, fmt);
	vsnprintf(ext->msg, sizeof(ext->msg), fmt, ap);
	va_end(ap);
}

struct vdpa_bus *vdpa_bus_new(void)
{
	struct vdpa_bus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return NULL;
	if (pthread_rwlock_init(&bus->lock, NULL)) {
		free(bus);
		return NULL;
	}
	list_init(&bus->devices);
	list_init(&bus->mgmtdevs);
	list_init(&bus->drivers);
	bus->autoprobe = true;
	bus->index_hint = -1;
	return bus;
}

void vdpa_bus_free(struct vdpa_bus *bus)
{
	struct vdpa_mgmt_dev *mdev, *mtmp;
	struct vdpa_device *vdev, *vtmp;
	struct vdpa_driver *drv, *dtmp;

	if (!bus)
		return;
	list_for_each_entry_safe(mdev, mtmp, &bus->mgmtdevs, bus_link)
		vdpa_mgmtdev_unregister(mdev);
	list_for_each_entry_safe(vdev, vtmp, &bus->devices, bus_link)
		vdpa_unregister_device(vdev);
	list_for_each_entry_safe(drv, dtmp, &bus->drivers, bus_link)
		vdpa_unregister_driver(drv);
	pthread_rwlock_destroy(&bus->lock);
	free(bus->index_used);
	free(bus);
}

void vdpa_bus_lock(struct vdpa_bus *bus)
{
	pthread_rwlock_wrlock(&bus->lock);
	bus->writer = pthread_self();
	bus->write_held = true;
}

void vdpa_bus_unlock(struct vdpa_bus *bus)
{
	assert(vdpa_bus_write_locked(bus));
	bus->write_held = false;
	pthread_rwlock_unlock(&bus->lock);
}

void vdpa_bus_read_lock(struct vdpa_bus *bus)
{
	pthread_rwlock_rdlock(&bus->lock);
}

void vdpa_bus_read_unlock(struct vdpa_bus *bus)
{
	pthread_rwlock_unlock(&bus->lock);
}

bool vdpa_bus_write_locked(const struct vdpa_bus *bus)
{
	return bus->write_held && pthread_equal(bus->writer, pthread_self());
}

/* Make room for index @i in the bitmap. */
static int vdpa_index_grow(struct vdpa_bus *bus, unsigned int i)
{
	unsigned int cap = bus->index_cap ? bus->index_cap : 64;
	uint8_t *used;

	if (i < bus->index_cap)
		return 0;
	while (cap <= i)
		cap *= 2;
	used = realloc(bus->index_used, cap);
	if (!used)
		return -ENOMEM;
	memset(used + bus->index_cap, 0, cap - bus->index_cap);
	bus->index_used = used;
	bus->index_cap = cap;
	return 0;
}

/*
 * Lowest free index (the kernel's IDA), or the hint a restore asked for
 * when it is free; bus->lock held.
 */
static int vdpa_index_alloc(struct vdpa_bus *bus, unsigned int *index)
{
	int hint = bus->index_hint;
	unsigned int i;

	bus->index_hint = -1;
	if (hint >= 0 && !vdpa_index_grow(bus, (unsigned int)hint) &&
	    !bus->index_used[hint]) {
		i = (unsigned int)hint;
	} else {
		for (i = 0; i < bus->index_cap && bus->index_used[i]; i++)
			;
		if (vdpa_index_grow(bus, i))
			return -ENOMEM;
	}
	bus->index_used[i] = 1;
	*index = i;
	return 0;
}

static void vdpa_index_free(struct vdpa_bus *bus, unsigned int index)
{
	if (index < bus->index_cap)
		bus->index_used[index] = 0;
}

int vdpa_check_config_ops(const struct vdpa_config_ops *ops)
{
	if (!ops)
		return -EINVAL;
	/* incremental mapping comes as a pair */
	if (!ops->dma_map != !ops->dma_unmap)
		return -EINVAL;
	if (!ops->set_vq_address || !ops->set_vq_num || !ops->kick_vq ||
	    !ops->set_vq_cb || !ops->set_vq_ready || !ops->get_vq_ready ||
	    !ops->set_vq_state || !ops->get_vq_state)
		return -EINVAL;
	if (!ops->get_vq_align || !ops->get_device_features ||
	    !ops->set_driver_features || !ops->get_driver_features ||
	    !ops->set_config_cb || !ops->get_vq_num_max ||
	    !ops->get_device_id || !ops->get_vendor_id || !ops->get_status ||
	    !ops->set_status || !ops->reset || !ops->get_config_size ||
	    !ops->get_config || !ops->set_config)
		return -EINVAL;
	/* a parent that can suspend must be able to resume */
	if (!ops->suspend != !ops->resume)
		return -EINVAL;
	return 0;
}

static int vdpa_alloc_init(struct vdpa_device *vdev, struct vdpa_bus *bus,
			   const char *name)
{
	bool locked;
	int ret;

	if (name &&
	    (!*name || strlen(name) >= VDPA_NAME_MAX || strchr(name, '/')))
		return -EINVAL;
	/* dev_add allocates with bus->lock held; others do not */
	locked = vdpa_bus_write_locked(bus);
	if (!locked)
		vdpa_bus_lock(bus);
	ret = vdpa_index_alloc(bus, &vdev->index);
	if (!locked)
		vdpa_bus_unlock(bus);
	if (ret)
		return ret;
	if (name)
		snprintf(vdev->name, sizeof(vdev->name), "%s", name);
	else
		snprintf(vdev->name, sizeof(vdev->name), "vdpa%u", vdev->index);
	return 0;
}

struct vdpa_device *__vdpa_alloc_device(struct vdpa_bus *bus, size_t size,
					size_t offset,
					const struct vdpa_config_ops *ops,
					unsigned int ngroups, unsigned int nas,
					const char *name, int *err)
{
	struct vdpa_device *vdev;
	char *mem;
	int ret;

	ret = vdpa_check_config_ops(ops);
	if (ret || !bus || size < offset + sizeof(*vdev))
		goto out_err;
	ret = -ENOMEM;
	mem = calloc(1, size);
	if (!mem)
		goto out_err;
	vdev = (struct vdpa_device *)(mem + offset);
	vdev->bus = bus;
	vdev->config = ops;
	vdev->ngroups = ngroups ? ngroups : 1;
	vdev->nas = nas ? nas : 1;
	list_init(&vdev->bus_link);
	ret = vdpa_alloc_init(vdev, bus, name);
	if (ret)
		goto out_free_mem;
	if (pthread_rwlock_init(&vdev->cf_lock, NULL)) {
		ret = -ENOMEM;
		goto out_free_index;
	}
	vdev->alloc_base = mem;
	return vdev;

out_free_index:
	if (!vdpa_bus_write_locked(bus)) {
		vdpa_bus_lock(bus);
		vdpa_index_free(bus, vdev->index);
		vdpa_bus_unlock(bus);
	} else {
		vdpa_index_free(bus, vdev->index);
	}
out_free_mem:
	free(mem);
out_err:
	if (err)
		*err = ret ? ret : -EINVAL;
	return NULL;
}

/* The release path (vdpa_release_dev); bus->lock held. */
static void vdpa_release_locked(struct vdpa_device *vdev)
{
	struct vdpa_bus *bus = vdev->bus;

	if (vdev->config->free)
		vdev->config->free(vdev);
	vdpa_index_free(bus, vdev->index);
	pthread_rwlock_destroy(&vdev->cf_lock);
	free(vdev->driver_override);
	free(vdev->alloc_base);
}

void vdpa_put_device(struct vdpa_device *vdev)
{
	struct vdpa_bus *bus;
	bool locked;

	if (!vdev)
		return;
	bus = vdev->bus;
	locked = vdpa_bus_write_locked(bus);
	if (!locked)
		vdpa_bus_lock(bus);
	vdpa_release_locked(vdev);
	if (!locked)
		vdpa_bus_unlock(bus);
}

struct vdpa_device *vdpa_find_device(struct vdpa_bus *bus, const char *name)
{
	struct vdpa_device *vdev;

	vdpa_bus_for_each_device(vdev, bus)
		if (!strcmp(vdev->name, name))
			return vdev;
	return NULL;
}

int _vdpa_register_device(struct vdpa_device *vdev, uint32_t nvqs)
{
	struct vdpa_bus *bus = vdev->bus;

	assert(vdpa_bus_write_locked(bus));
	if (vdev->registered)
		return -EBUSY;
	if (vdpa_find_device(bus, vdev->name))
		return -EEXIST;
	vdev->nvqs = nvqs;
	vdev->registered = true;
	list_add_tail(&vdev->bus_link, &bus->devices);
	if (bus->autoprobe)
		_vdpa_device_attach(vdev); /* unbound on failure, as Linux */
	return 0;
}

int vdpa_register_device(struct vdpa_device *vdev, uint32_t nvqs)
{
	int ret;

	vdpa_bus_lock(vdev->bus);
	ret = _vdpa_register_device(vdev, nvqs);
	vdpa_bus_unlock(vdev->bus);
	return ret;
}

void _vdpa_unregister_device(struct vdpa_device *vdev)
{
	assert(vdpa_bus_write_locked(vdev->bus));
	_vdpa_device_release_driver(vdev);
	list_del(&vdev->bus_link);
	vdev->registered = false;
	vdpa_release_locked(vdev);
}

void vdpa_unregister_device(struct vdpa_device *vdev)
{
	struct vdpa_bus *bus = vdev->bus;

	vdpa_bus_lock(bus);
	_vdpa_unregister_device(vdev);
	vdpa_bus_unlock(bus);
}
