/* SPDX-License-Identifier: MIT */
/*
 * What the bus tests share: a fake parent that stands in for the
 * simulators, so that each rule is checked against the bus alone and
 * every op call is visible, a fake management device, fake bus drivers,
 * an ordered record of probe, remove and free calls, and a fixture with
 * a bus, two management devices and two drivers.
 */
#ifndef UVDPA_TEST_BUS_FAKE_H
#define UVDPA_TEST_BUS_FAKE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "helpers.h"

#define FAKE_NVQS 2
#define FAKE_CFG_SIZE 16

/* ---- an ordered record of probe, remove and free calls ---- */

static char trace_buf[1024];

static inline void trace(const char *what, const char *who, const char *dev)
{
	size_t len = strlen(trace_buf);

	snprintf(trace_buf + len, sizeof(trace_buf) - len, "%s:%s%s%s;", what,
		 who, dev ? ":" : "", dev ? dev : "");
}

/* ---- the fake parent ---- */

struct fake_vq {
	uint64_t desc, driver, device;
	uint32_t num;
	bool ready;
	struct vdpa_vq_state state;
	int kicks;
};

struct fake_dev {
	struct vdpa_device vdpa;
	uint8_t status;
	uint64_t features;
	uint8_t config[FAKE_CFG_SIZE];
	struct fake_vq vq[FAKE_NVQS];
	uint16_t num_max, num_min;
	int set_status_calls, set_features_calls, resets, compat_resets;
	int suspends, resumes, vq_op_calls;
};

static inline struct fake_dev *to_fake(struct vdpa_device *vdev)
{
	return container_of(vdev, struct fake_dev, vdpa);
}

static inline int fake_set_vq_address(struct vdpa_device *vdev, uint16_t idx,
				      uint64_t desc, uint64_t driver,
				      uint64_t device)
{
	struct fake_dev *f = to_fake(vdev);

	f->vq_op_calls++;
	f->vq[idx].desc = desc;
	f->vq[idx].driver = driver;
	f->vq[idx].device = device;
	return 0;
}

static inline void fake_set_vq_num(struct vdpa_device *vdev, uint16_t idx,
				   uint32_t num)
{
	to_fake(vdev)->vq_op_calls++;
	to_fake(vdev)->vq[idx].num = num;
}

static inline void fake_kick_vq(struct vdpa_device *vdev, uint16_t idx)
{
	to_fake(vdev)->vq_op_calls++;
	to_fake(vdev)->vq[idx].kicks++;
}

static inline void fake_set_vq_cb(struct vdpa_device *vdev, uint16_t idx,
				  const struct vdpa_callback *cb)
{
	to_fake(vdev)->vq_op_calls++;
}

static inline void fake_set_vq_ready(struct vdpa_device *vdev, uint16_t idx,
				     bool ready)
{
	to_fake(vdev)->vq_op_calls++;
	to_fake(vdev)->vq[idx].ready = ready;
}

static inline bool fake_get_vq_ready(struct vdpa_device *vdev, uint16_t idx)
{
	return to_fake(vdev)->vq[idx].ready;
}

static inline int fake_set_vq_state(struct vdpa_device *vdev, uint16_t idx,
				    const struct vdpa_vq_state *state)
{
	to_fake(vdev)->vq_op_calls++;
	to_fake(vdev)->vq[idx].state = *state;
	return 0;
}

static inline int fake_get_vq_state(struct vdpa_device *vdev, uint16_t idx,
				    struct vdpa_vq_state *state)
{
	to_fake(vdev)->vq_op_calls++;
	*state = to_fake(vdev)->vq[idx].state;
	return 0;
}

static inline int fake_set_vq_fd(struct vdpa_device *vdev, uint16_t idx, int fd)
{
	to_fake(vdev)->vq_op_calls++;
	return 0;
}

static inline uint32_t fake_get_vq_align(struct vdpa_device *vdev)
{
	return 4096;
}

static inline uint64_t fake_get_device_features(struct vdpa_device *vdev)
{
	return ~0ull;
}

static inline int fake_set_driver_features(struct vdpa_device *vdev,
					   uint64_t features)
{
	to_fake(vdev)->set_features_calls++;
	to_fake(vdev)->features = features;
	return 0;
}

static inline uint64_t fake_get_driver_features(struct vdpa_device *vdev)
{
	return to_fake(vdev)->features;
}

static inline void fake_set_config_cb(struct vdpa_device *vdev,
				      const struct vdpa_callback *cb)
{
}

static inline uint16_t fake_get_vq_num_max(struct vdpa_device *vdev)
{
	return to_fake(vdev)->num_max;
}

static inline uint16_t fake_get_vq_num_min(struct vdpa_device *vdev)
{
	return to_fake(vdev)->num_min;
}

static inline uint32_t fake_get_device_id(struct vdpa_device *vdev)
{
	return 2;
}

static inline uint32_t fake_get_vendor_id(struct vdpa_device *vdev)
{
	return 0;
}

static inline uint8_t fake_get_status(struct vdpa_device *vdev)
{
	return to_fake(vdev)->status;
}

static inline void fake_set_status(struct vdpa_device *vdev, uint8_t status)
{
	to_fake(vdev)->set_status_calls++;
	to_fake(vdev)->status = status;
}

static inline void fake_do_reset(struct fake_dev *f)
{
	f->status = 0;
	f->features = 0;
	memset(f->vq, 0, sizeof(f->vq));
}

static inline int fake_reset(struct vdpa_device *vdev)
{
	to_fake(vdev)->resets++;
	fake_do_reset(to_fake(vdev));
	return 0;
}

static inline int fake_compat_reset(struct vdpa_device *vdev, uint32_t flags)
{
	to_fake(vdev)->compat_resets++;
	fake_do_reset(to_fake(vdev));
	return 0;
}

static inline int fake_suspend(struct vdpa_device *vdev)
{
	to_fake(vdev)->suspends++;
	return 0;
}

static inline int fake_resume(struct vdpa_device *vdev)
{
	to_fake(vdev)->resumes++;
	return 0;
}

static inline size_t fake_get_config_size(struct vdpa_device *vdev)
{
	return FAKE_CFG_SIZE;
}

static inline void fake_get_config(struct vdpa_device *vdev,
				   unsigned int offset, void *buf,
				   unsigned int len)
{
	memcpy(buf, to_fake(vdev)->config + offset, len);
}

static inline void fake_set_config(struct vdpa_device *vdev,
				   unsigned int offset, const void *buf,
				   unsigned int len)
{
	memcpy(to_fake(vdev)->config + offset, buf, len);
}

static inline int fake_dma_map(struct vdpa_device *vdev, unsigned int asid,
			       uint64_t iova, uint64_t size, void *hva,
			       uint32_t perm, const struct vdpa_map_file *file)
{
	return 0;
}

static inline int fake_dma_unmap(struct vdpa_device *vdev, unsigned int asid,
				 uint64_t iova, uint64_t size)
{
	return 0;
}

static inline void fake_free(struct vdpa_device *vdev)
{
	trace("free", vdev->name, NULL);
}

#define FAKE_MANDATORY_OPS                                                     \
	.set_vq_address = fake_set_vq_address, .set_vq_num = fake_set_vq_num,  \
	.kick_vq = fake_kick_vq, .set_vq_cb = fake_set_vq_cb,                  \
	.set_vq_ready = fake_set_vq_ready, .get_vq_ready = fake_get_vq_ready,  \
	.set_vq_state = fake_set_vq_state, .get_vq_state = fake_get_vq_state,  \
	.get_vq_align = fake_get_vq_align,                                     \
	.get_device_features = fake_get_device_features,                       \
	.set_driver_features = fake_set_driver_features,                       \
	.get_driver_features = fake_get_driver_features,                       \
	.set_config_cb = fake_set_config_cb,                                   \
	.get_vq_num_max = fake_get_vq_num_max,                                 \
	.get_device_id = fake_get_device_id,                                   \
	.get_vendor_id = fake_get_vendor_id, .get_status = fake_get_status,    \
	.set_status = fake_set_status, .reset = fake_reset,                    \
	.get_config_size = fake_get_config_size,                               \
	.get_config = fake_get_config, .set_config = fake_set_config

/* The contract's mandatory ops only: every optional op is absent. */
static const struct vdpa_config_ops fake_ops_min = { FAKE_MANDATORY_OPS };

static const struct vdpa_config_ops fake_ops = {
	FAKE_MANDATORY_OPS,
	.get_vq_num_min = fake_get_vq_num_min,
	.set_vq_kickfd = fake_set_vq_fd,
	.set_vq_callfd = fake_set_vq_fd,
	.compat_reset = fake_compat_reset,
	.suspend = fake_suspend,
	.resume = fake_resume,
	.dma_map = fake_dma_map,
	.dma_unmap = fake_dma_unmap,
	.free = fake_free,
};

static inline struct fake_dev *fake_alloc(struct vdpa_bus *bus,
					  const struct vdpa_config_ops *ops,
					  const char *name, int *err)
{
	struct fake_dev *f;

	f = vdpa_alloc_device(bus, struct fake_dev, vdpa, ops, 1, 1, name, err);
	if (!f)
		return NULL;
	f->num_max = 256;
	f->num_min = 1;
	memset(f->config, 0xa5, sizeof(f->config));
	return f;
}

/* ---- the fake management device ---- */

struct fake_mdev {
	struct vdpa_mgmt_dev mdev;
	int adds, dels;
};

static inline int fake_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			       const struct vdpa_dev_set_config *config,
			       struct vdpa_extack *ext)
{
	struct fake_dev *f;
	int err;

	container_of(mdev, struct fake_mdev, mdev)->adds++;
	f = fake_alloc(mdev->bus, &fake_ops, name, &err);
	if (!f)
		return err;
	f->vdpa.mdev = mdev;
	err = _vdpa_register_device(&f->vdpa, FAKE_NVQS);
	if (err)
		vdpa_put_device(&f->vdpa);
	return err;
}

static inline void fake_dev_del(struct vdpa_mgmt_dev *mdev,
				struct vdpa_device *vdev)
{
	container_of(mdev, struct fake_mdev, mdev)->dels++;
	_vdpa_unregister_device(vdev);
}

static const struct vdpa_mgmtdev_ops fake_mdev_ops = {
	.dev_add = fake_dev_add,
	.dev_del = fake_dev_del,
};

static const uint32_t fake_ids[] = { VIRTIO_ID_NET, VIRTIO_ID_BLOCK, 0 };

static inline void fake_mdev_init(struct fake_mdev *m, const char *bus_name,
				  const char *dev_name)
{
	memset(m, 0, sizeof(*m));
	m->mdev.bus_name = bus_name;
	m->mdev.dev_name = dev_name;
	m->mdev.ops = &fake_mdev_ops;
	m->mdev.id_table = fake_ids;
}

/* ---- fake bus drivers ---- */

struct test_driver {
	struct vdpa_driver drv;
	int probes, removes;
	int probe_ret;
};

static inline struct test_driver *to_tdrv(struct vdpa_driver *drv)
{
	return container_of(drv, struct test_driver, drv);
}

static inline int tdrv_probe(struct vdpa_device *vdev, struct vdpa_extack *ext)
{
	struct test_driver *d = to_tdrv(vdev->driver);

	d->probes++;
	trace("probe", d->drv.name, vdev->name);
	if (!d->probe_ret)
		vdev->driver_data = d;
	return d->probe_ret;
}

static inline void tdrv_remove(struct vdpa_device *vdev)
{
	struct test_driver *d = to_tdrv(vdev->driver);

	d->removes++;
	trace("remove", d->drv.name, vdev->name);
}

static inline void tdrv_init(struct test_driver *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	d->drv.name = name;
	d->drv.probe = tdrv_probe;
	d->drv.remove = tdrv_remove;
}

/* ---- fixture ---- */

struct fix {
	struct vdpa_bus *bus;
	struct fake_mdev sim; /* bus-less, as the simulators */
	struct fake_mdev pci; /* on a bus, as a PCI parent */
	struct test_driver vhost, virtio;
};

static inline int fix_setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->bus = vdpa_bus_new();
	if (!f->bus) {
		free(f);
		return -1;
	}
	fake_mdev_init(&f->sim, NULL, "vdpasim_net");
	fake_mdev_init(&f->pci, "pci", "0000:65:00.2");
	tdrv_init(&f->vhost, "vhost_vdpa");
	tdrv_init(&f->virtio, "virtio_vdpa");
	trace_buf[0] = '\0';
	*state = f;
	return 0;
}

/* The fixture's objects outlive the bus, so the bus may free them all. */
static inline int fix_teardown(void **state)
{
	struct fix *f = *state;

	vdpa_bus_free(f->bus);
	free(f);
	return 0;
}

/* A registered device that no mgmtdev manages. */
static inline struct fake_dev *dev_new(struct fix *f, const char *name)
{
	struct fake_dev *d;
	int err = 0;

	d = fake_alloc(f->bus, &fake_ops, name, &err);
	assert_non_null(d);
	assert_int_equal(vdpa_register_device(&d->vdpa, FAKE_NVQS), 0);
	return d;
}

static inline struct fake_dev *dev_new_ops(struct fix *f, const char *name,
					   const struct vdpa_config_ops *ops)
{
	struct fake_dev *d;
	int err = 0;

	d = fake_alloc(f->bus, ops, name, &err);
	assert_non_null(d);
	assert_int_equal(vdpa_register_device(&d->vdpa, FAKE_NVQS), 0);
	return d;
}

static inline struct fake_dev *mdev_add(struct fake_mdev *m, const char *name)
{
	struct vdpa_device *vdev;

	assert_int_equal(vdpa_mgmtdev_dev_add(&m->mdev, name, NULL, NULL), 0);
	vdev = vdpa_find_device(m->mdev.bus, name);
	assert_non_null(vdev);
	return to_fake(vdev);
}

#endif
