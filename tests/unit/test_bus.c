// SPDX-License-Identifier: MIT
/*
 * The vdpa bus: ops-table checks, names and indices, management devices,
 * the status/feature/ring rules of the checked accessors, and binding of
 * bus drivers (reference §1.7, §1.8, §3, §7, §11 items 7, 8 and 10).
 *
 * A fake parent stands in for the simulators so that each rule is checked
 * against the bus alone, and every op call is visible to the test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "helpers.h"

#define FAKE_NVQS 2
#define FAKE_CFG_SIZE 16
#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define S_RUNNING (S_ACK | S_DRV | S_FOK | S_DOK)

/* ---- an ordered record of probe, remove and free calls ---- */

static char trace_buf[1024];

static void trace(const char *what, const char *who, const char *dev)
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

static struct fake_dev *to_fake(struct vdpa_device *vdev)
{
	return container_of(vdev, struct fake_dev, vdpa);
}

static int fake_set_vq_address(struct vdpa_device *vdev, uint16_t idx,
			       uint64_t desc, uint64_t driver, uint64_t device)
{
	struct fake_dev *f = to_fake(vdev);

	f->vq_op_calls++;
	f->vq[idx].desc = desc;
	f->vq[idx].driver = driver;
	f->vq[idx].device = device;
	return 0;
}

static void fake_set_vq_num(struct vdpa_device *vdev, uint16_t idx,
			    uint32_t num)
{
	to_fake(vdev)->vq_op_calls++;
	to_fake(vdev)->vq[idx].num = num;
}

static void fake_kick_vq(struct vdpa_device *vdev, uint16_t idx)
{
	to_fake(vdev)->vq_op_calls++;
	to_fake(vdev)->vq[idx].kicks++;
}

static void fake_set_vq_cb(struct vdpa_device *vdev, uint16_t idx,
			   const struct vdpa_callback *cb)
{
	to_fake(vdev)->vq_op_calls++;
}

static void fake_set_vq_ready(struct vdpa_device *vdev, uint16_t idx,
			      bool ready)
{
	to_fake(vdev)->vq_op_calls++;
	to_fake(vdev)->vq[idx].ready = ready;
}

static bool fake_get_vq_ready(struct vdpa_device *vdev, uint16_t idx)
{
	return to_fake(vdev)->vq[idx].ready;
}

static int fake_set_vq_state(struct vdpa_device *vdev, uint16_t idx,
			     const struct vdpa_vq_state *state)
{
	to_fake(vdev)->vq_op_calls++;
	to_fake(vdev)->vq[idx].state = *state;
	return 0;
}

static int fake_get_vq_state(struct vdpa_device *vdev, uint16_t idx,
			     struct vdpa_vq_state *state)
{
	to_fake(vdev)->vq_op_calls++;
	*state = to_fake(vdev)->vq[idx].state;
	return 0;
}

static int fake_set_vq_fd(struct vdpa_device *vdev, uint16_t idx, int fd)
{
	to_fake(vdev)->vq_op_calls++;
	return 0;
}

static uint32_t fake_get_vq_align(struct vdpa_device *vdev)
{
	return 4096;
}

static uint64_t fake_get_device_features(struct vdpa_device *vdev)
{
	return ~0ull;
}

static int fake_set_driver_features(struct vdpa_device *vdev, uint64_t features)
{
	to_fake(vdev)->set_features_calls++;
	to_fake(vdev)->features = features;
	return 0;
}

static uint64_t fake_get_driver_features(struct vdpa_device *vdev)
{
	return to_fake(vdev)->features;
}

static void fake_set_config_cb(struct vdpa_device *vdev,
			       const struct vdpa_callback *cb)
{
}

static uint16_t fake_get_vq_num_max(struct vdpa_device *vdev)
{
	return to_fake(vdev)->num_max;
}

static uint16_t fake_get_vq_num_min(struct vdpa_device *vdev)
{
	return to_fake(vdev)->num_min;
}

static uint32_t fake_get_device_id(struct vdpa_device *vdev)
{
	return 2;
}

static uint32_t fake_get_vendor_id(struct vdpa_device *vdev)
{
	return 0;
}

static uint8_t fake_get_status(struct vdpa_device *vdev)
{
	return to_fake(vdev)->status;
}

static void fake_set_status(struct vdpa_device *vdev, uint8_t status)
{
	to_fake(vdev)->set_status_calls++;
	to_fake(vdev)->status = status;
}

static void fake_do_reset(struct fake_dev *f)
{
	f->status = 0;
	f->features = 0;
	memset(f->vq, 0, sizeof(f->vq));
}

static int fake_reset(struct vdpa_device *vdev)
{
	to_fake(vdev)->resets++;
	fake_do_reset(to_fake(vdev));
	return 0;
}

static int fake_compat_reset(struct vdpa_device *vdev, uint32_t flags)
{
	to_fake(vdev)->compat_resets++;
	fake_do_reset(to_fake(vdev));
	return 0;
}

static int fake_suspend(struct vdpa_device *vdev)
{
	to_fake(vdev)->suspends++;
	return 0;
}

static int fake_resume(struct vdpa_device *vdev)
{
	to_fake(vdev)->resumes++;
	return 0;
}

static size_t fake_get_config_size(struct vdpa_device *vdev)
{
	return FAKE_CFG_SIZE;
}

static void fake_get_config(struct vdpa_device *vdev, unsigned int offset,
			    void *buf, unsigned int len)
{
	memcpy(buf, to_fake(vdev)->config + offset, len);
}

static void fake_set_config(struct vdpa_device *vdev, unsigned int offset,
			    const void *buf, unsigned int len)
{
	memcpy(to_fake(vdev)->config + offset, buf, len);
}

static int fake_dma_map(struct vdpa_device *vdev, unsigned int asid,
			uint64_t iova, uint64_t size, void *hva, uint32_t perm,
			const struct vdpa_map_file *file)
{
	return 0;
}

static int fake_dma_unmap(struct vdpa_device *vdev, unsigned int asid,
			  uint64_t iova, uint64_t size)
{
	return 0;
}

static void fake_free(struct vdpa_device *vdev)
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

/* Every mandatory member of struct vdpa_config_ops, by offset. */
#define OP(m) offsetof(struct vdpa_config_ops, m)
/* clang-format off */
static const size_t mandatory_ops[] = {
	OP(set_vq_address), OP(set_vq_num), OP(kick_vq),
	OP(set_vq_cb), OP(set_vq_ready), OP(get_vq_ready),
	OP(set_vq_state), OP(get_vq_state), OP(get_vq_align),
	OP(get_device_features), OP(set_driver_features),
	OP(get_driver_features), OP(set_config_cb), OP(get_vq_num_max),
	OP(get_device_id), OP(get_vendor_id), OP(get_status),
	OP(set_status), OP(reset), OP(get_config_size), OP(get_config),
	OP(set_config),
};
/* clang-format on */

/* Clear the function pointer at @off of @ops (all ops have one size). */
static void ops_clear(struct vdpa_config_ops *ops, size_t off)
{
	memset((char *)ops + off, 0, sizeof(ops->reset));
}

static struct fake_dev *fake_alloc(struct vdpa_bus *bus,
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

static int fake_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
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

static void fake_dev_del(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdev)
{
	container_of(mdev, struct fake_mdev, mdev)->dels++;
	_vdpa_unregister_device(vdev);
}

static const struct vdpa_mgmtdev_ops fake_mdev_ops = {
	.dev_add = fake_dev_add,
	.dev_del = fake_dev_del,
};

static const uint32_t fake_ids[] = { VIRTIO_ID_NET, VIRTIO_ID_BLOCK, 0 };

static void fake_mdev_init(struct fake_mdev *m, const char *bus_name,
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

static struct test_driver *to_tdrv(struct vdpa_driver *drv)
{
	return container_of(drv, struct test_driver, drv);
}

static int tdrv_probe(struct vdpa_device *vdev)
{
	struct test_driver *d = to_tdrv(vdev->driver);

	d->probes++;
	trace("probe", d->drv.name, vdev->name);
	if (!d->probe_ret)
		vdev->driver_data = d;
	return d->probe_ret;
}

static void tdrv_remove(struct vdpa_device *vdev)
{
	struct test_driver *d = to_tdrv(vdev->driver);

	d->removes++;
	trace("remove", d->drv.name, vdev->name);
}

static void tdrv_init(struct test_driver *d, const char *name)
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

static int fix_setup(void **state)
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
static int fix_teardown(void **state)
{
	struct fix *f = *state;

	vdpa_bus_free(f->bus);
	free(f);
	return 0;
}

/* A registered device that no mgmtdev manages. */
static struct fake_dev *dev_new(struct fix *f, const char *name)
{
	struct fake_dev *d;
	int err = 0;

	d = fake_alloc(f->bus, &fake_ops, name, &err);
	assert_non_null(d);
	assert_int_equal(vdpa_register_device(&d->vdpa, FAKE_NVQS), 0);
	return d;
}

static struct fake_dev *dev_new_ops(struct fix *f, const char *name,
				    const struct vdpa_config_ops *ops)
{
	struct fake_dev *d;
	int err = 0;

	d = fake_alloc(f->bus, ops, name, &err);
	assert_non_null(d);
	assert_int_equal(vdpa_register_device(&d->vdpa, FAKE_NVQS), 0);
	return d;
}

static struct fake_dev *mdev_add(struct fake_mdev *m, const char *name)
{
	struct vdpa_device *vdev;

	assert_int_equal(vdpa_mgmtdev_dev_add(&m->mdev, name, NULL, NULL), 0);
	vdev = vdpa_find_device(m->mdev.bus, name);
	assert_non_null(vdev);
	return to_fake(vdev);
}

/* ---- ops tables ---- */

static void ops_null_and_minimal(void **state)
{
	assert_int_equal(vdpa_check_config_ops(NULL), -EINVAL);
	assert_int_equal(vdpa_check_config_ops(&fake_ops_min), 0);
	assert_int_equal(vdpa_check_config_ops(&fake_ops), 0);
}

static void ops_each_mandatory_missing(void **state)
{
	struct fix *f = *state;
	struct vdpa_config_ops ops;
	struct fake_dev *d;
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(mandatory_ops); i++) {
		ops = fake_ops;
		ops_clear(&ops, mandatory_ops[i]);
		assert_int_equal(vdpa_check_config_ops(&ops), -EINVAL);
		err = 0;
		d = fake_alloc(f->bus, &ops, NULL, &err);
		assert_null(d);
		assert_int_equal(err, -EINVAL);
	}
	/* refused tables took no index */
	d = fake_alloc(f->bus, &fake_ops, NULL, &err);
	assert_non_null(d);
	assert_int_equal(d->vdpa.index, 0);
	vdpa_put_device(&d->vdpa);
}

static void ops_pairs(void **state)
{
	struct vdpa_config_ops ops;

	ops = fake_ops;
	ops.dma_unmap = NULL;
	assert_int_equal(vdpa_check_config_ops(&ops), -EINVAL);
	ops = fake_ops;
	ops.dma_map = NULL;
	assert_int_equal(vdpa_check_config_ops(&ops), -EINVAL);
	ops.dma_unmap = NULL;
	assert_int_equal(vdpa_check_config_ops(&ops), 0);

	ops = fake_ops;
	ops.resume = NULL;
	assert_int_equal(vdpa_check_config_ops(&ops), -EINVAL);
	ops = fake_ops;
	ops.suspend = NULL;
	assert_int_equal(vdpa_check_config_ops(&ops), -EINVAL);
	ops.resume = NULL;
	assert_int_equal(vdpa_check_config_ops(&ops), 0);
}

static void ops_alloc_checks(void **state)
{
	struct fix *f = *state;
	struct vdpa_config_ops ops = fake_ops;
	struct vdpa_device *vdev;
	int err = 0;

	ops.dma_unmap = NULL;
	assert_null(fake_alloc(f->bus, &ops, "x", &err));
	assert_int_equal(err, -EINVAL);
	err = 0;
	assert_null(fake_alloc(f->bus, NULL, "x", &err));
	assert_int_equal(err, -EINVAL);
	err = 0;
	/* the parent struct must hold the embedded device */
	vdev = __vdpa_alloc_device(f->bus, sizeof(struct vdpa_device),
				   sizeof(void *), &fake_ops, 1, 1, "x", &err);
	assert_null(vdev);
	assert_int_equal(err, -EINVAL);
	err = 0;
	assert_null(fake_alloc(NULL, &fake_ops, "x", &err));
	assert_int_equal(err, -EINVAL);
}

/* ---- names and indices ---- */

static void names_default_and_invalid(void **state)
{
	struct fix *f = *state;
	char longname[VDPA_NAME_MAX + 1];
	struct fake_dev *a, *b;
	int err = 0;

	a = dev_new(f, NULL);
	b = dev_new(f, NULL);
	assert_string_equal(a->vdpa.name, "vdpa0");
	assert_string_equal(b->vdpa.name, "vdpa1");
	assert_ptr_equal(vdpa_find_device(f->bus, "vdpa1"), &b->vdpa);
	assert_ptr_equal(a->vdpa.bus, f->bus);

	assert_null(fake_alloc(f->bus, &fake_ops, "", &err));
	assert_int_equal(err, -EINVAL);
	err = 0;
	assert_null(fake_alloc(f->bus, &fake_ops, "a/b", &err));
	assert_int_equal(err, -EINVAL);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	err = 0;
	assert_null(fake_alloc(f->bus, &fake_ops, longname, &err));
	assert_int_equal(err, -EINVAL);
}

static void names_unique_on_register(void **state)
{
	struct fix *f = *state;
	struct fake_dev *d;
	int err = 0;

	dev_new(f, "dup");
	d = fake_alloc(f->bus, &fake_ops, "dup", &err);
	assert_non_null(d);
	assert_int_equal(vdpa_register_device(&d->vdpa, 1), -EEXIST);
	assert_false(d->vdpa.registered);
	vdpa_put_device(&d->vdpa);
	assert_string_equal(trace_buf, "free:dup;");

	/* a default name is taken like any other */
	dev_new(f, "vdpa2");
	d = fake_alloc(f->bus, &fake_ops, NULL, &err);
	assert_non_null(d);
	assert_string_equal(d->vdpa.name, "vdpa2");
	assert_int_equal(vdpa_register_device(&d->vdpa, 1), -EEXIST);
	vdpa_put_device(&d->vdpa);
}

static void names_unique_through_mgmtdev(void **state)
{
	struct fix *f = *state;
	struct fake_dev *d;

	assert_int_equal(vdpa_mgmtdev_register(f->bus, &f->sim.mdev), 0);
	assert_int_equal(vdpa_mgmtdev_register(f->bus, &f->pci.mdev), 0);
	dev_new(f, "taken");
	mdev_add(&f->sim, "net0");
	trace_buf[0] = '\0';
	/* names are unique across the bus, not per management device */
	assert_int_equal(vdpa_mgmtdev_dev_add(&f->pci.mdev, "net0", NULL, NULL),
			 -EEXIST);
	assert_int_equal(
		vdpa_mgmtdev_dev_add(&f->sim.mdev, "taken", NULL, NULL),
		-EEXIST);
	assert_string_equal(trace_buf, "free:net0;free:taken;");
	/* the refused devices gave their index back */
	d = mdev_add(&f->pci, "net1");
	assert_int_equal(d->vdpa.index, 2);
}

static void index_lowest_free_reused(void **state)
{
	struct fix *f = *state;
	struct fake_dev *d[4];

	d[0] = dev_new(f, NULL);
	d[1] = dev_new(f, "named");
	d[2] = dev_new(f, NULL);
	assert_int_equal(d[0]->vdpa.index, 0);
	assert_int_equal(d[1]->vdpa.index, 1);
	assert_int_equal(d[2]->vdpa.index, 2);
	assert_string_equal(d[2]->vdpa.name, "vdpa2");

	vdpa_unregister_device(&d[1]->vdpa);
	vdpa_unregister_device(&d[0]->vdpa);
	d[0] = dev_new(f, NULL);
	assert_int_equal(d[0]->vdpa.index, 0);
	d[3] = dev_new(f, NULL);
	assert_int_equal(d[3]->vdpa.index, 1);
	assert_string_equal(d[3]->vdpa.name, "vdpa1");
	d[1] = dev_new(f, NULL);
	assert_int_equal(d[1]->vdpa.index, 3);
}

/* More devices than the first index bitmap holds. */
static void index_grows(void **state)
{
	struct fix *f = *state;
	struct fake_dev *d = NULL;

	for (int i = 0; i < 200; i++)
		d = dev_new(f, NULL);
	assert_int_equal(d->vdpa.index, 199);
	assert_string_equal(d->vdpa.name, "vdpa199");
	vdpa_unregister_device(vdpa_find_device(f->bus, "vdpa150"));
	assert_int_equal(dev_new(f, "again")->vdpa.index, 150);
}

/* A restore asks for an index: taken when free, else the lowest free. */
static void index_hint(void **state)
{
	struct fix *f = *state;

	f->bus->index_hint = 300; /* beyond the bitmap: it grows */
	assert_int_equal(dev_new(f, "a")->vdpa.index, 300);
	assert_int_equal(f->bus->index_hint, -1); /* used once */
	assert_int_equal(dev_new(f, "b")->vdpa.index, 0);
	f->bus->index_hint = 300; /* taken: the lowest free instead */
	assert_int_equal(dev_new(f, "c")->vdpa.index, 1);
	f->bus->index_hint = 2;
	assert_int_equal(dev_new(f, "d")->vdpa.index, 2);
	assert_string_equal(dev_new(f, NULL)->vdpa.name, "vdpa3");
}

/* ---- management devices ---- */

static void mgmtdev_register_rules(void **state)
{
	struct fix *f = *state;
	struct vdpa_mgmtdev_ops no_add = fake_mdev_ops, no_del = fake_mdev_ops;
	struct fake_mdev m, same, other_bus;

	no_add.dev_add = NULL;
	no_del.dev_del = NULL;
	fake_mdev_init(&m, NULL, "m");
	m.mdev.ops = &no_add;
	assert_int_equal(vdpa_mgmtdev_register(f->bus, &m.mdev), -EINVAL);
	m.mdev.ops = &no_del;
	assert_int_equal(vdpa_mgmtdev_register(f->bus, &m.mdev), -EINVAL);
	m.mdev.ops = NULL;
	assert_int_equal(vdpa_mgmtdev_register(f->bus, &m.mdev), -EINVAL);
	m.mdev.ops = &fake_mdev_ops;
	m.mdev.dev_name = NULL;
	assert_int_equal(vdpa_mgmtdev_register(f->bus, &m.mdev), -EINVAL);
	assert_true(list_empty(&f->bus->mgmtdevs));

	assert_int_equal(vdpa_mgmtdev_register(f->bus, &f->sim.mdev), 0);
	assert_ptr_equal(f->sim.mdev.bus, f->bus);
	fake_mdev_init(&same, NULL, "vdpasim_net");
	assert_int_equal(vdpa_mgmtdev_register(f->bus, &same.mdev), -EEXIST);
	assert_null(same.mdev.bus);
	/* the same device name on a bus is another handle */
	fake_mdev_init(&other_bus, "auxiliary", "vdpasim_net");
	assert_int_equal(vdpa_mgmtdev_register(f->bus, &other_bus.mdev), 0);
	vdpa_mgmtdev_unregister(&other_bus.mdev);
	assert_null(other_bus.mdev.bus);
}

static void mgmtdev_handle_match(void **state)
{
	struct fix *f = *state;
	struct vdpa_bus *bus = f->bus;

	assert_int_equal(vdpa_mgmtdev_register(bus, &f->sim.mdev), 0);
	assert_int_equal(vdpa_mgmtdev_register(bus, &f->pci.mdev), 0);
	vdpa_bus_read_lock(bus);
	assert_ptr_equal(vdpa_mgmtdev_find(bus, NULL, "vdpasim_net"),
			 &f->sim.mdev);
	/* a bus name never matches a bus-less parent ... */
	assert_null(vdpa_mgmtdev_find(bus, "pci", "vdpasim_net"));
	/* ... and a parent on a bus needs its bus name */
	assert_null(vdpa_mgmtdev_find(bus, NULL, "0000:65:00.2"));
	assert_ptr_equal(vdpa_mgmtdev_find(bus, "pci", "0000:65:00.2"),
			 &f->pci.mdev);
	assert_null(vdpa_mgmtdev_find(bus, "auxiliary", "0000:65:00.2"));
	assert_null(vdpa_mgmtdev_find(bus, NULL, "vdpa_sim_net"));
	assert_null(vdpa_mgmtdev_find(bus, NULL, NULL));
	vdpa_bus_read_unlock(bus);
}

static void mgmtdev_classes(void **state)
{
	struct fix *f = *state;
	static const uint32_t blk_only[] = { VIRTIO_ID_BLOCK, 0 };

	assert_int_equal(vdpa_mgmtdev_classes(&f->sim.mdev),
			 BIT_ULL(VIRTIO_ID_NET) | BIT_ULL(VIRTIO_ID_BLOCK));
	f->sim.mdev.id_table = blk_only;
	assert_int_equal(vdpa_mgmtdev_classes(&f->sim.mdev),
			 BIT_ULL(VIRTIO_ID_BLOCK));
	f->sim.mdev.id_table = NULL;
	assert_int_equal(vdpa_mgmtdev_classes(&f->sim.mdev), 0);
}

static void mgmtdev_unregister_deletes_its_devices(void **state)
{
	struct fix *f = *state;
	struct vdpa_bus *bus = f->bus;

	assert_int_equal(vdpa_mgmtdev_register(bus, &f->sim.mdev), 0);
	assert_int_equal(vdpa_mgmtdev_register(bus, &f->pci.mdev), 0);
	mdev_add(&f->sim, "s0");
	mdev_add(&f->pci, "p0");
	mdev_add(&f->sim, "s1");
	dev_new(f, "own");
	trace_buf[0] = '\0';

	vdpa_mgmtdev_unregister(&f->sim.mdev);
	assert_int_equal(f->sim.dels, 2);
	assert_string_equal(trace_buf, "free:s0;free:s1;");
	assert_null(vdpa_find_device(bus, "s0"));
	assert_null(vdpa_find_device(bus, "s1"));
	assert_non_null(vdpa_find_device(bus, "p0"));
	assert_non_null(vdpa_find_device(bus, "own"));
	assert_null(f->sim.mdev.bus);
	vdpa_bus_read_lock(bus);
	assert_null(vdpa_mgmtdev_find(bus, NULL, "vdpasim_net"));
	vdpa_bus_read_unlock(bus);
	/* an unregistered parent creates nothing */
	assert_int_equal(vdpa_mgmtdev_dev_add(&f->sim.mdev, "s2", NULL, NULL),
			 -EINVAL);
	assert_int_equal(f->sim.adds, 2);
}

static void dev_del_errors(void **state)
{
	struct fix *f = *state;
	struct vdpa_extack ext = { "" };

	assert_int_equal(vdpa_mgmtdev_register(f->bus, &f->sim.mdev), 0);
	mdev_add(&f->sim, "net0");
	dev_new(f, "own");

	assert_int_equal(vdpa_dev_del(f->bus, "nope", &ext), -ENODEV);
	assert_string_equal(ext.msg, "device not found");
	assert_int_equal(vdpa_dev_del(f->bus, "own", &ext), -EINVAL);
	assert_string_equal(ext.msg,
			    "Only user created device can be deleted by user");
	assert_non_null(vdpa_find_device(f->bus, "own"));
	assert_int_equal(f->sim.dels, 0);

	assert_int_equal(vdpa_dev_del(f->bus, "net0", NULL), 0);
	assert_int_equal(f->sim.dels, 1);
	assert_null(vdpa_find_device(f->bus, "net0"));
	assert_int_equal(vdpa_dev_del(f->bus, "net0", NULL), -ENODEV);
}

/* ---- status, features and config ---- */

static void status_only_adds_bits(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;

	assert_int_equal(vdpa_get_status(v), 0);
	assert_int_equal(vdpa_set_status(v, S_ACK), 0);
	assert_int_equal(vdpa_set_status(v, S_ACK | S_DRV), 0);
	assert_int_equal(vdpa_get_status(v), S_ACK | S_DRV);
	/* clearing ACK without writing 0 */
	assert_int_equal(vdpa_set_status(v, S_DRV), -EINVAL);
	assert_int_equal(vdpa_set_status(v, S_DRV | S_FOK), -EINVAL);
	assert_int_equal(vdpa_get_status(v), S_ACK | S_DRV);
	assert_int_equal(d->set_status_calls, 2);
	/* writing the same bits again adds nothing and is fine */
	assert_int_equal(vdpa_set_status(v, S_ACK | S_DRV), 0);
	assert_int_equal(vdpa_set_status(v, S_RUNNING), 0);
	assert_int_equal(vdpa_get_status(v), S_RUNNING);
}

static void status_zero_resets(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;
	int calls;

	assert_int_equal(vdpa_set_features(v, 0x30), 0);
	assert_true(v->features_valid);
	assert_int_equal(vdpa_set_status(v, S_ACK | S_DRV | S_FOK), 0);
	calls = d->set_status_calls;
	assert_int_equal(vdpa_set_status(v, 0), 0);
	/* the parent's set_status(0) is not a reset: the core calls reset */
	assert_int_equal(d->resets, 1);
	assert_int_equal(d->set_status_calls, calls);
	assert_int_equal(vdpa_get_status(v), 0);
	assert_false(v->features_valid);
	assert_int_equal(d->features, 0);
}

static void reset_flags_pick_compat_reset(void **state)
{
	struct fix *f = *state;
	struct fake_dev *d = dev_new(f, "d");
	struct fake_dev *m = dev_new_ops(f, "m", &fake_ops_min);

	assert_int_equal(vdpa_reset(&d->vdpa, 0), 0);
	assert_int_equal(d->resets, 1);
	assert_int_equal(d->compat_resets, 0);
	assert_int_equal(vdpa_reset(&d->vdpa, VDPA_RESET_F_CLEAN_MAP), 0);
	assert_int_equal(d->resets, 1);
	assert_int_equal(d->compat_resets, 1);
	/* without compat_reset, flags fall back to a plain reset */
	assert_int_equal(vdpa_reset(&m->vdpa, VDPA_RESET_F_CLEAN_MAP), 0);
	assert_int_equal(m->resets, 1);
}

static void features_frozen_after_features_ok(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;

	assert_int_equal(vdpa_set_features(v, 0x1), 0);
	assert_int_equal(vdpa_set_features(v, 0x3), 0);
	assert_int_equal(d->features, 0x3);
	assert_int_equal(vdpa_set_status(v, S_ACK | S_DRV | S_FOK), 0);
	assert_int_equal(vdpa_set_features(v, 0x7), -EBUSY);
	assert_int_equal(d->features, 0x3);
	assert_int_equal(d->set_features_calls, 2);
	/* after a reset the driver negotiates again */
	assert_int_equal(vdpa_set_status(v, 0), 0);
	assert_int_equal(vdpa_set_features(v, 0x7), 0);
	assert_int_equal(d->features, 0x7);
}

static void config_read_assumes_legacy(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;
	uint8_t buf[4];

	d->features = 0xdead; /* so that a write of 0 shows */
	assert_false(v->features_valid);
	assert_int_equal(vdpa_get_config(v, 0, buf, sizeof(buf)), 0);
	assert_int_equal(d->set_features_calls, 1);
	assert_int_equal(d->features, 0);
	assert_true(v->features_valid);
	assert_int_equal(buf[0], 0xa5);
	/* once valid, reads do not renegotiate */
	assert_int_equal(vdpa_set_features(v, 0x42), 0);
	assert_int_equal(vdpa_get_config(v, 4, buf, sizeof(buf)), 0);
	assert_int_equal(d->features, 0x42);
	assert_int_equal(d->set_features_calls, 2);
	/* a reset makes the next read legacy again */
	assert_int_equal(vdpa_reset(v, 0), 0);
	d->features = 0xdead;
	assert_int_equal(vdpa_get_config(v, 0, buf, sizeof(buf)), 0);
	assert_int_equal(d->features, 0);
}

static void config_range(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;
	uint8_t buf[FAKE_CFG_SIZE + 1], in[2] = { 1, 2 };

	memset(buf, 0, sizeof(buf));
	assert_int_equal(vdpa_get_config(v, 0, buf, FAKE_CFG_SIZE + 1),
			 -EINVAL);
	assert_int_equal(vdpa_get_config(v, 8, buf, 9), -EINVAL);
	assert_int_equal(vdpa_get_config(v, FAKE_CFG_SIZE + 1, buf, 0),
			 -EINVAL);
	assert_int_equal(vdpa_get_config(v, UINT32_MAX, buf, 2), -EINVAL);
	assert_int_equal(vdpa_get_config(v, 2, buf, UINT32_MAX), -EINVAL);
	/* a refused read neither touches the buffer nor the features */
	assert_int_equal(buf[0], 0);
	assert_false(v->features_valid);
	assert_int_equal(vdpa_get_config(v, 8, buf, 8), 0);
	assert_int_equal(buf[7], 0xa5);

	assert_int_equal(vdpa_set_config(v, FAKE_CFG_SIZE - 1, in, 2), -EINVAL);
	assert_int_equal(d->config[FAKE_CFG_SIZE - 1], 0xa5);
	assert_int_equal(vdpa_set_config(v, FAKE_CFG_SIZE - 2, in, 2), 0);
	assert_int_equal(d->config[FAKE_CFG_SIZE - 1], 2);
}

/* ---- queues ---- */

static void vq_index_checked_everywhere(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;
	struct vdpa_callback cb = { .trigger = -1 };
	struct vdpa_vq_state st = { 0 };
	const uint16_t bad[] = { FAKE_NVQS, 0xffff };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint16_t q = bad[i];

		assert_int_equal(vdpa_set_vq_num(v, q, 64), -ENOBUFS);
		assert_int_equal(vdpa_set_vq_address(v, q, 1, 2, 3), -ENOBUFS);
		assert_int_equal(vdpa_set_vq_state(v, q, &st), -ENOBUFS);
		assert_int_equal(vdpa_get_vq_state(v, q, &st), -ENOBUFS);
		assert_int_equal(vdpa_set_vq_ready(v, q, true), -ENOBUFS);
		assert_int_equal(vdpa_set_vq_cb(v, q, &cb), -ENOBUFS);
		assert_int_equal(vdpa_set_vq_kickfd(v, q, -1), -ENOBUFS);
		assert_int_equal(vdpa_set_vq_callfd(v, q, -1), -ENOBUFS);
		assert_int_equal(vdpa_kick_vq(v, q), -ENOBUFS);
	}
	assert_int_equal(d->vq_op_calls, 0);
	/* the last valid index reaches the parent */
	assert_int_equal(vdpa_kick_vq(v, FAKE_NVQS - 1), 0);
	assert_int_equal(d->vq[FAKE_NVQS - 1].kicks, 1);
	assert_int_equal(vdpa_set_vq_kickfd(v, FAKE_NVQS - 1, -1), 0);
}

static void vq_fd_ops_optional(void **state)
{
	struct fake_dev *m = dev_new_ops(*state, "m", &fake_ops_min);

	assert_int_equal(vdpa_set_vq_kickfd(&m->vdpa, 0, -1), -EOPNOTSUPP);
	assert_int_equal(vdpa_set_vq_callfd(&m->vdpa, 0, -1), -EOPNOTSUPP);
}

static void vq_num_rules(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;
	const uint32_t bad[] = { 0, 3, 96, 2, 512, 1u << 16, UINT32_MAX };

	d->num_min = 4;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(vdpa_set_vq_num(v, 0, bad[i]), -EINVAL);
	assert_int_equal(d->vq[0].num, 0);
	assert_int_equal(vdpa_set_vq_num(v, 0, 4), 0);
	assert_int_equal(d->vq[0].num, 4);
	assert_int_equal(vdpa_set_vq_num(v, 1, 256), 0);
	assert_int_equal(d->vq[1].num, 256);
}

static void vq_num_min_defaults_to_one(void **state)
{
	struct fake_dev *m = dev_new_ops(*state, "m", &fake_ops_min);

	m->num_min = 64; /* not reachable without the op */
	assert_int_equal(vdpa_get_vq_num_min(&m->vdpa), 1);
	assert_int_equal(vdpa_set_vq_num(&m->vdpa, 0, 1), 0);
	assert_int_equal(m->vq[0].num, 1);
}

static void vq_programming_stopped_after_driver_ok(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;
	struct vdpa_vq_state st = { .split.avail_index = 7 };

	assert_int_equal(vdpa_set_vq_address(v, 0, 0x1000, 0x2000, 0x3000), 0);
	assert_int_equal(vdpa_set_vq_state(v, 0, &st), 0);
	assert_int_equal(vdpa_set_status(v, S_RUNNING), 0);
	assert_int_equal(vdpa_set_vq_address(v, 0, 1, 2, 3), -EINVAL);
	st.split.avail_index = 9;
	assert_int_equal(vdpa_set_vq_state(v, 0, &st), -EINVAL);
	assert_int_equal(d->vq[0].desc, 0x1000);
	assert_int_equal(d->vq[0].state.split.avail_index, 7);

	/* suspended: the ring may be reprogrammed (migration, live update) */
	assert_int_equal(vdpa_suspend(v), 0);
	assert_int_equal(vdpa_set_vq_address(v, 0, 1, 2, 3), 0);
	assert_int_equal(vdpa_set_vq_state(v, 0, &st), 0);
	assert_int_equal(d->vq[0].desc, 1);
	assert_int_equal(d->vq[0].state.split.avail_index, 9);
	assert_int_equal(vdpa_resume(v), 0);
	assert_int_equal(vdpa_set_vq_address(v, 0, 4, 5, 6), -EINVAL);
	assert_int_equal(vdpa_set_vq_state(v, 0, &st), -EINVAL);
}

static void vq_state_refused_on_enabled_queue(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;
	struct vdpa_vq_state st = { .split.avail_index = 5 }, out;

	assert_int_equal(vdpa_set_vq_state(v, 1, &st), 0);
	assert_int_equal(vdpa_set_vq_ready(v, 1, true), 0);
	st.split.avail_index = 6;
	/* enabling latched the state: a later one would be lost */
	assert_int_equal(vdpa_set_vq_state(v, 1, &st), -EBUSY);
	assert_int_equal(vdpa_get_vq_state(v, 1, &out), 0);
	assert_int_equal(out.split.avail_index, 5);
	/* the other queue is not enabled */
	assert_int_equal(vdpa_set_vq_state(v, 0, &st), 0);
	assert_int_equal(vdpa_set_vq_ready(v, 1, false), 0);
	assert_int_equal(vdpa_set_vq_state(v, 1, &st), 0);
	assert_int_equal(d->vq[1].state.split.avail_index, 6);
}

static void suspend_resume_rules(void **state)
{
	struct fake_dev *d = dev_new(*state, "d");
	struct vdpa_device *v = &d->vdpa;

	/* before DRIVER_OK: successful no-ops */
	assert_int_equal(vdpa_suspend(v), 0);
	assert_int_equal(vdpa_resume(v), 0);
	assert_int_equal(d->suspends + d->resumes, 0);
	assert_false(v->suspended);

	assert_int_equal(vdpa_set_status(v, S_RUNNING), 0);
	assert_int_equal(vdpa_suspend(v), 0);
	assert_int_equal(d->suspends, 1);
	assert_true(v->suspended);
	assert_int_equal(vdpa_resume(v), 0);
	assert_int_equal(d->resumes, 1);
	assert_false(v->suspended);

	/* a reset ends a suspension */
	assert_int_equal(vdpa_suspend(v), 0);
	assert_int_equal(vdpa_set_status(v, 0), 0);
	assert_false(v->suspended);
}

static void suspend_without_op(void **state)
{
	struct fake_dev *m = dev_new_ops(*state, "m", &fake_ops_min);
	struct vdpa_device *v = &m->vdpa;

	/* vhost-vdpa checks DRIVER_OK before it looks for the op */
	assert_int_equal(vdpa_suspend(v), 0);
	assert_int_equal(vdpa_resume(v), 0);
	assert_int_equal(vdpa_set_status(v, S_RUNNING), 0);
	assert_int_equal(vdpa_suspend(v), -EOPNOTSUPP);
	assert_int_equal(vdpa_resume(v), -EOPNOTSUPP);
	assert_false(v->suspended);
	assert_int_equal(vdpa_set_vq_address(v, 0, 1, 2, 3), -EINVAL);
}

/* ---- bus drivers ---- */

static void drivers_first_registered_wins(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a, *b;

	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	a = dev_new(f, "a");
	assert_ptr_equal(a->vdpa.driver, &f->virtio.drv);
	assert_ptr_equal(a->vdpa.driver_data, &f->virtio);
	assert_int_equal(f->vhost.probes, 0);
	b = dev_new(f, "b");
	assert_ptr_equal(b->vdpa.driver, &f->virtio.drv);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), -EEXIST);
}

static void drivers_probe_existing_devices(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a;

	a = dev_new(f, "a");
	assert_null(a->vdpa.driver);
	assert_int_equal(vdpa_device_attach(&a->vdpa), -ENODEV);
	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	assert_ptr_equal(a->vdpa.driver, &f->vhost.drv);
	/* a later driver does not take a bound device */
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	assert_ptr_equal(a->vdpa.driver, &f->vhost.drv);
	assert_int_equal(f->virtio.probes, 0);
	assert_string_equal(trace_buf, "probe:vhost_vdpa:a;");
}

static void drivers_no_autoprobe(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a;

	f->bus->autoprobe = false;
	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	a = dev_new(f, "a");
	assert_null(a->vdpa.driver);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	assert_null(a->vdpa.driver);
	assert_int_equal(vdpa_device_attach(&a->vdpa), 0);
	assert_ptr_equal(a->vdpa.driver, &f->vhost.drv);
	/* attaching a bound device changes nothing */
	assert_int_equal(vdpa_device_attach(&a->vdpa), 0);
	assert_int_equal(f->vhost.probes, 1);
}

static void override_exact_name(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a;
	int err = 0;

	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	a = fake_alloc(f->bus, &fake_ops, "a", &err);
	assert_non_null(a);
	/* the char device's name, not the driver's */
	assert_int_equal(vdpa_set_driver_override(&a->vdpa, "vhost-vdpa"), 0);
	assert_int_equal(vdpa_register_device(&a->vdpa, FAKE_NVQS), 0);
	assert_null(a->vdpa.driver);
	assert_int_equal(vdpa_device_attach(&a->vdpa), -ENODEV);
	assert_int_equal(vdpa_driver_bind(&f->vhost.drv, &a->vdpa), -ENODEV);
	assert_int_equal(vdpa_set_driver_override(&a->vdpa, "vhost_vdp"), 0);
	assert_int_equal(vdpa_device_attach(&a->vdpa), -ENODEV);
	assert_int_equal(f->vhost.probes + f->virtio.probes, 0);

	/* the second driver in order, picked by the override */
	assert_int_equal(vdpa_set_driver_override(&a->vdpa, "virtio_vdpa"), 0);
	assert_int_equal(vdpa_device_attach(&a->vdpa), 0);
	assert_ptr_equal(a->vdpa.driver, &f->virtio.drv);
	assert_int_equal(f->vhost.probes, 0);
}

static void override_string_rules(void **state)
{
	struct fake_dev *a = dev_new(*state, "a");
	struct vdpa_device *v = &a->vdpa;
	char *big = malloc(4096);

	assert_non_null(big);
	assert_null(vdpa_get_driver_override(v)); /* "(null)" in sysfs */
	assert_int_equal(vdpa_set_driver_override(v, "vhost_vdpa\n"), 0);
	assert_string_equal(vdpa_get_driver_override(v), "vhost_vdpa");
	assert_int_equal(vdpa_set_driver_override(v, "\n"), 0);
	assert_null(vdpa_get_driver_override(v));
	assert_int_equal(vdpa_set_driver_override(v, "virtio_vdpa"), 0);
	assert_int_equal(vdpa_set_driver_override(v, ""), 0);
	assert_null(vdpa_get_driver_override(v));

	/* one page less one byte, newline included, is too much */
	memset(big, 'x', 4095);
	big[4095] = '\0';
	assert_int_equal(vdpa_set_driver_override(v, "keep"), 0);
	assert_int_equal(vdpa_set_driver_override(v, big), -EINVAL);
	big[4094] = '\n';
	assert_int_equal(vdpa_set_driver_override(v, big), -EINVAL);
	assert_string_equal(vdpa_get_driver_override(v), "keep");
	big[4094] = '\0';
	assert_int_equal(vdpa_set_driver_override(v, big), 0);
	assert_int_equal(strlen(vdpa_get_driver_override(v)), 4094);
	free(big);
}

static void override_none_leaves_unbound(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a = dev_new(f, "a");

	assert_int_equal(vdpa_set_driver_override(&a->vdpa, "none"), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	assert_null(a->vdpa.driver);
	assert_int_equal(vdpa_device_attach(&a->vdpa), -ENODEV);
	assert_null(a->vdpa.driver);
	assert_int_equal(f->vhost.probes + f->virtio.probes, 0);
}

static void override_does_not_unbind(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a;

	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	a = dev_new(f, "a");
	assert_ptr_equal(a->vdpa.driver, &f->vhost.drv);
	assert_int_equal(vdpa_set_driver_override(&a->vdpa, "virtio_vdpa"), 0);
	assert_ptr_equal(a->vdpa.driver, &f->vhost.drv);
	assert_int_equal(f->vhost.removes, 0);
	/* bound already: attach is content */
	assert_int_equal(vdpa_device_attach(&a->vdpa), 0);
	assert_ptr_equal(a->vdpa.driver, &f->vhost.drv);
}

static void bind_and_release(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a;

	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	a = dev_new(f, "a");
	assert_int_equal(vdpa_driver_bind(&f->virtio.drv, &a->vdpa), -EBUSY);

	vdpa_device_release_driver(&a->vdpa);
	assert_int_equal(f->vhost.removes, 1);
	assert_null(a->vdpa.driver);
	assert_null(a->vdpa.driver_data);
	vdpa_device_release_driver(&a->vdpa); /* unbound: nothing to do */
	assert_int_equal(f->vhost.removes, 1);

	/* rebind to the other driver, by hand */
	assert_int_equal(vdpa_driver_bind(&f->virtio.drv, &a->vdpa), 0);
	assert_ptr_equal(a->vdpa.driver, &f->virtio.drv);
	assert_ptr_equal(a->vdpa.driver_data, &f->virtio);
	assert_string_equal(trace_buf, "probe:vhost_vdpa:a;remove:vhost_vdpa:a;"
				       "probe:virtio_vdpa:a;");
}

static void bind_checks_match_before_busy(void **state)
{
	struct fix *f = *state;
	struct test_driver stray;
	struct fake_dev *a, *b;
	int err = 0;

	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	a = dev_new(f, "a");
	assert_int_equal(vdpa_set_driver_override(&a->vdpa, "vhost_vdpa"), 0);
	/* the driver core matches first: a mismatch is -ENODEV, bound or not */
	assert_int_equal(vdpa_driver_bind(&f->virtio.drv, &a->vdpa), -ENODEV);
	assert_int_equal(vdpa_driver_bind(&f->vhost.drv, &a->vdpa), -EBUSY);
	/* a driver the bus does not know cannot be bound */
	vdpa_device_release_driver(&a->vdpa);
	assert_int_equal(vdpa_set_driver_override(&a->vdpa, ""), 0);
	tdrv_init(&stray, "stray");
	assert_int_equal(vdpa_driver_bind(&stray.drv, &a->vdpa), -ENODEV);
	assert_null(a->vdpa.driver);
	assert_int_equal(stray.probes, 0);
	/* nor a device that is not on the bus */
	b = fake_alloc(f->bus, &fake_ops, "b", &err);
	assert_non_null(b);
	assert_int_equal(vdpa_driver_bind(&f->vhost.drv, &b->vdpa), -ENODEV);
	assert_null(b->vdpa.driver);
	vdpa_put_device(&b->vdpa);
	assert_int_equal(f->vhost.probes, 1);
}

static void probe_failure_leaves_unbound(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a, *b;

	f->vhost.probe_ret = -EIO;
	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	a = dev_new(f, "a"); /* registration itself succeeds */
	assert_null(a->vdpa.driver);
	assert_null(a->vdpa.driver_data);
	assert_int_equal(vdpa_device_attach(&a->vdpa), -EIO);
	assert_int_equal(vdpa_driver_bind(&f->vhost.drv, &a->vdpa), -EIO);
	assert_null(a->vdpa.driver);
	assert_int_equal(f->vhost.removes, 0);

	/* the next driver tries its luck, as in the driver core */
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	assert_ptr_equal(a->vdpa.driver, &f->virtio.drv);
	b = dev_new(f, "b");
	assert_ptr_equal(b->vdpa.driver, &f->virtio.drv);
	assert_int_equal(f->vhost.probes, 4);
}

static void probe_rejects_bad_vq_limits(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a;
	int err = 0;

	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	a = fake_alloc(f->bus, &fake_ops, "a", &err);
	assert_non_null(a);
	a->num_min = 512; /* above num_max (256) */
	assert_int_equal(vdpa_register_device(&a->vdpa, FAKE_NVQS), 0);
	assert_null(a->vdpa.driver);
	assert_int_equal(vdpa_device_attach(&a->vdpa), -EINVAL);
	assert_int_equal(vdpa_driver_bind(&f->vhost.drv, &a->vdpa), -EINVAL);
	assert_int_equal(f->vhost.probes, 0);
	a->num_min = 256; /* equal is fine */
	assert_int_equal(vdpa_device_attach(&a->vdpa), 0);
	assert_ptr_equal(a->vdpa.driver, &f->vhost.drv);
}

static void unregister_driver_unbinds(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a, *b;

	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	a = dev_new(f, "a");
	b = dev_new(f, "b");
	vdpa_device_release_driver(&b->vdpa);
	assert_int_equal(vdpa_driver_bind(&f->virtio.drv, &b->vdpa), 0);

	vdpa_unregister_driver(&f->vhost.drv);
	assert_int_equal(f->vhost.removes, 2); /* a, and b before rebinding */
	assert_null(a->vdpa.driver);
	assert_null(f->vhost.drv.bus);
	/* the driver core does not reprobe an unbound device */
	assert_int_equal(f->virtio.probes, 1);
	assert_ptr_equal(b->vdpa.driver, &f->virtio.drv);
	/* and the driver is gone from matching */
	assert_int_equal(vdpa_set_driver_override(&a->vdpa, "vhost_vdpa"), 0);
	assert_int_equal(vdpa_device_attach(&a->vdpa), -ENODEV);
	vdpa_unregister_driver(&f->vhost.drv); /* twice is harmless */
}

static void unregister_device_removes_then_frees(void **state)
{
	struct fix *f = *state;
	struct fake_dev *a;

	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	a = dev_new(f, "a");
	dev_new(f, "b");
	vdpa_unregister_device(&a->vdpa);
	assert_string_equal(trace_buf, "probe:vhost_vdpa:a;probe:vhost_vdpa:b;"
				       "remove:vhost_vdpa:a;free:a;");
	assert_null(vdpa_find_device(f->bus, "a"));
	assert_non_null(vdpa_find_device(f->bus, "b"));
}

static void bus_free_cleans_everything(void **state)
{
	struct fix *f = *state;
	struct fake_dev *own;

	assert_int_equal(vdpa_mgmtdev_register(f->bus, &f->sim.mdev), 0);
	assert_int_equal(vdpa_mgmtdev_register(f->bus, &f->pci.mdev), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->virtio.drv), 0);
	mdev_add(&f->sim, "s0");
	mdev_add(&f->pci, "p0");
	own = dev_new(f, "own");
	assert_int_equal(vdpa_set_driver_override(&own->vdpa, "x"), 0);
	vdpa_device_release_driver(&own->vdpa); /* stays unbound */
	mdev_add(&f->sim, "s1");
	trace_buf[0] = '\0';

	vdpa_bus_free(f->bus);
	f->bus = NULL;
	assert_int_equal(f->sim.dels, 2);
	assert_int_equal(f->pci.dels, 1);
	assert_int_equal(f->vhost.removes, 4); /* own, before the free */
	assert_null(f->sim.mdev.bus);
	assert_null(f->vhost.drv.bus);
	assert_null(f->virtio.drv.bus);
	assert_string_equal(trace_buf,
			    "remove:vhost_vdpa:s0;free:s0;"
			    "remove:vhost_vdpa:s1;free:s1;"
			    "remove:vhost_vdpa:p0;free:p0;free:own;");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fix_setup, fix_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(ops_null_and_minimal),
		T(ops_each_mandatory_missing),
		T(ops_pairs),
		T(ops_alloc_checks),
		T(names_default_and_invalid),
		T(names_unique_on_register),
		T(names_unique_through_mgmtdev),
		T(index_lowest_free_reused),
		T(index_grows),
		T(index_hint),
		T(mgmtdev_register_rules),
		T(mgmtdev_handle_match),
		T(mgmtdev_classes),
		T(mgmtdev_unregister_deletes_its_devices),
		T(dev_del_errors),
		T(status_only_adds_bits),
		T(status_zero_resets),
		T(reset_flags_pick_compat_reset),
		T(features_frozen_after_features_ok),
		T(config_read_assumes_legacy),
		T(config_range),
		T(vq_index_checked_everywhere),
		T(vq_fd_ops_optional),
		T(vq_num_rules),
		T(vq_num_min_defaults_to_one),
		T(vq_programming_stopped_after_driver_ok),
		T(vq_state_refused_on_enabled_queue),
		T(suspend_resume_rules),
		T(suspend_without_op),
		T(drivers_first_registered_wins),
		T(drivers_probe_existing_devices),
		T(drivers_no_autoprobe),
		T(override_exact_name),
		T(override_string_rules),
		T(override_none_leaves_unbound),
		T(override_does_not_unbind),
		T(bind_and_release),
		T(bind_checks_match_before_busy),
		T(probe_failure_leaves_unbound),
		T(probe_rejects_bad_vq_limits),
		T(unregister_driver_unbinds),
		T(unregister_device_removes_then_frees),
		T(bus_free_cleans_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
