// SPDX-License-Identifier: MIT
/*
 * The vdpa bus: ops-table checks, names and indices, management devices,
 * and the status/feature/ring rules of the checked accessors (reference
 * §1.7, §1.8, §3, §7, §11 items 7, 8 and 10), against the fake parent of
 * bus_fake.h. test_bus_drivers.c covers the binding of bus drivers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "bus_fake.h"

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define S_RUNNING (S_ACK | S_DRV | S_FOK | S_DOK)

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
