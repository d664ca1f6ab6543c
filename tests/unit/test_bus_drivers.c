// SPDX-License-Identifier: MIT
/*
 * Bus drivers on the vdpa bus: which driver a device gets (first
 * registered, driver_override, autoprobe), bind and unbind, probe
 * failures and refusals, and the order of remove and free when drivers,
 * devices or the bus go away (reference §1.8, §3, §11 item 10), against
 * the fake parent of bus_fake.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/uapi.h>

#include "bus_fake.h"

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

/*
 * A device made unbound (what uvdpad does before it applies an override,
 * or restores a device): no driver sees it, autoprobe comes back, the
 * index asked for is taken when free and ignored when not.
 */
static void dev_add_unbound(void **state)
{
	struct fix *f = *state;
	struct vdpa_extack ext = { "" };
	struct vdpa_device *v;

	assert_int_equal(vdpa_mgmtdev_register(f->bus, &f->sim.mdev), 0);
	assert_int_equal(vdpa_register_driver(f->bus, &f->vhost.drv), 0);
	vdpa_bus_lock(f->bus);
	assert_int_equal(_vdpa_mgmtdev_dev_add_unbound(&f->sim.mdev, "u0", NULL,
						       7, &ext, &v),
			 0);
	assert_non_null(v);
	assert_null(v->driver);
	assert_int_equal(v->index, 7);
	assert_true(f->bus->autoprobe);
	assert_int_equal(f->bus->index_hint, -1);
	assert_int_equal(_vdpa_mgmtdev_dev_add_unbound(&f->sim.mdev, "u1", NULL,
						       7, &ext, &v),
			 0);
	assert_int_equal(v->index, 0); /* 7 is taken: the lowest free */
	/* a failed add leaves the bus as it was, and no device */
	assert_int_equal(_vdpa_mgmtdev_dev_add_unbound(&f->sim.mdev, "u1", NULL,
						       3, &ext, &v),
			 -EEXIST);
	assert_null(v);
	assert_true(f->bus->autoprobe);
	assert_int_equal(f->bus->index_hint, -1);
	/* deleting through the lock-held form sees the device first */
	assert_int_equal(_vdpa_dev_del(f->bus, "u9", &ext, NULL, NULL),
			 -ENODEV);
	assert_string_equal(ext.msg, "device not found");
	assert_int_equal(_vdpa_dev_del(f->bus, "u0", &ext, NULL, NULL), 0);
	vdpa_bus_unlock(f->bus);
	assert_int_equal(f->vhost.probes, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fix_setup, fix_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
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
		T(dev_add_unbound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
