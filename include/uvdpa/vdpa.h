/* SPDX-License-Identifier: MIT */
/*
 * The vdpa bus and the parent-driver SDK: devices behind one ops table,
 * management devices that create them, and bus drivers that consume them.
 * The user-space counterpart of the kernel's include/linux/vdpa.h; every
 * name keeps its kernel meaning.
 *
 * Locking (the kernel's, see reference §1.8):
 *  - bus->lock (vdpa_dev_lock): guards the bus's device, management device
 *    and driver lists, device names and indices, and every binding
 *    (vdpa_device.driver, driver_override). Writers: device add, delete and
 *    set, (un)registration, binding. Readers: the GET commands.
 *  - vdpa_device.cf_lock: guards config space access and the status and
 *    feature state (features_valid, suspended). Taken inside bus->lock.
 * Config ops are called by the control thread only (DESIGN.md), through the
 * vdpa_*() helpers below, which take cf_lock and enforce the rules of
 * reference §11 items 7 and 8. Data path workers never call them.
 */
#ifndef UVDPA_VDPA_H
#define UVDPA_VDPA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvdpa/compiler.h>
#include <uvdpa/iotlb.h>
#include <uvdpa/list.h>
#include <uvdpa/uapi.h>

#define VDPA_NAME_MAX 64

struct vdpa_bus;
struct vdpa_device;
struct vq_inflight_split;
struct vdpa_mgmt_dev;

/* A human message that travels back with an error, as netlink's extack. */
struct vdpa_extack {
	char msg[256];
};

void vdpa_extack_set(struct vdpa_extack *ext, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Interrupt callback of a queue or of the config space. */
struct vdpa_callback {
	void (*callback)(void *priv); /* NULL: disabled */
	void *priv;
	int trigger; /* eventfd equivalent to calling callback, or -1 */
};

struct vdpa_vq_state_split {
	uint16_t avail_index;
};

struct vdpa_vq_state_packed {
	uint16_t last_avail_counter : 1;
	uint16_t last_avail_idx : 15;
	uint16_t last_used_counter : 1;
	uint16_t last_used_idx : 15;
};

struct vdpa_vq_state {
	union {
		struct vdpa_vq_state_split split;
		struct vdpa_vq_state_packed packed;
	};
};

struct vdpa_iova_range {
	uint64_t first;
	uint64_t last;
};

/* Where a mapped range comes from, for parents that pass memory on. */
struct vdpa_map_file {
	int fd;
	uint64_t offset;
};

/* Sink for get_vendor_vq_stats(): one call per (name, value) pair. */
struct vdpa_stats_writer {
	int (*put)(struct vdpa_stats_writer *w, const char *name,
		   uint64_t value);
};

/**
 * struct vdpa_config_ops - what a parent implements for each device.
 * All ops are mandatory unless marked optional. The bus checks a table once,
 * in __vdpa_alloc_device(); callers NULL-check the optional ops only.
 *
 * Virtqueue ops (@idx is checked against nvqs by the core):
 * @set_vq_address: store the descriptor, driver (avail) and device (used)
 *	area iovas of a queue. Returns 0 or -errno.
 * @set_vq_num: store the queue size (validated by the core).
 * @kick_vq: the doorbell, for bus drivers that do not hand a kick fd.
 * @set_vq_cb: the interrupt callback of a queue.
 * @set_vq_ready: enable or disable a queue. Enabling latches addresses,
 *	size, features and the state set before.
 * @get_vq_ready: whether a queue is enabled.
 * @set_vq_state / @get_vq_state: the queue's indices. Returns 0 or -errno.
 * @get_vendor_vq_stats: optional; feed a queue's counters to @w. Returns 0,
 *	-EINVAL for a queue without counters.
 * @get_vq_size: optional; the current size of a queue.
 * @set_vq_kickfd: optional; an eventfd the driver side writes to kick the
 *	queue (the user-space doorbell); the parent's data path waits on it
 *	directly. -1 returns to @kick_vq. The fd stays the caller's.
 * @set_vq_inflight: optional; the queue's part of a vhost-user inflight
 *	region (struct vq_inflight_split, uvdpa/virtqueue.h) to track taken
 *	chains in and resubmit from when the queue next becomes ready; NULL
 *	for none. Set while the queue is not ready. A parent that has it
 *	lets VMs survive a restart of uvdpad without losing a request.
 * @set_vq_callfd: optional; an eventfd the parent writes to interrupt the
 *	driver side (irq bypass). -1 returns to @set_vq_cb. The fd stays the
 *	caller's.
 *
 * Device ops:
 * @get_vq_align: ring alignment.
 * @get_vq_group: optional; a queue's group.
 * @get_device_features / @set_driver_features / @get_driver_features.
 * @get_backend_features: optional; extra vhost backend feature bits.
 * @set_config_cb: the config change interrupt.
 * @get_vq_num_max / @get_vq_num_min (optional, default 1).
 * @get_vq_size: optional, see above.
 * @get_device_id / @get_vendor_id.
 * @get_status / @set_status: the virtio status byte. @set_status(0) is
 *	not a reset; the core calls @reset.
 * @reset: back to the initial state. Returns 0 or -errno.
 * @compat_reset: optional; reset with VDPA_RESET_F_* flags.
 * @suspend / @resume: optional; stop and restart the data path. While
 *	suspended, config access works and kicks are remembered.
 * @get_config_size / @get_config / @set_config: the config space.
 * @get_generation: optional; config generation counter.
 * @get_iova_range: optional; the usable iova range.
 *
 * DMA ops (a capability is the op that exists):
 * @set_map: optional; replace the whole map of address space @asid.
 * @dma_map / @dma_unmap: optional pair; incremental map updates.
 * @reset_map: optional; back to the default map.
 * @set_group_asid: optional; bind a group to an address space.
 *
 * @free: optional; release the parent's resources, on device release.
 */
struct vdpa_config_ops {
	/* virtqueue ops */
	int (*set_vq_address)(struct vdpa_device *vdev, uint16_t idx,
			      uint64_t desc_area, uint64_t driver_area,
			      uint64_t device_area);
	void (*set_vq_num)(struct vdpa_device *vdev, uint16_t idx,
			   uint32_t num);
	void (*kick_vq)(struct vdpa_device *vdev, uint16_t idx);
	void (*set_vq_cb)(struct vdpa_device *vdev, uint16_t idx,
			  const struct vdpa_callback *cb);
	void (*set_vq_ready)(struct vdpa_device *vdev, uint16_t idx,
			     bool ready);
	bool (*get_vq_ready)(struct vdpa_device *vdev, uint16_t idx);
	int (*set_vq_state)(struct vdpa_device *vdev, uint16_t idx,
			    const struct vdpa_vq_state *state);
	int (*get_vq_state)(struct vdpa_device *vdev, uint16_t idx,
			    struct vdpa_vq_state *state);
	int (*get_vendor_vq_stats)(struct vdpa_device *vdev, uint16_t idx,
				   struct vdpa_stats_writer *w,
				   struct vdpa_extack *ext);
	uint16_t (*get_vq_size)(struct vdpa_device *vdev, uint16_t idx);
	int (*set_vq_kickfd)(struct vdpa_device *vdev, uint16_t idx, int fd);
	int (*set_vq_callfd)(struct vdpa_device *vdev, uint16_t idx, int fd);
	int (*set_vq_inflight)(struct vdpa_device *vdev, uint16_t idx,
			       struct vq_inflight_split *region);

	/* device ops */
	uint32_t (*get_vq_align)(struct vdpa_device *vdev);
	uint32_t (*get_vq_group)(struct vdpa_device *vdev, uint16_t idx);
	uint64_t (*get_device_features)(struct vdpa_device *vdev);
	uint64_t (*get_backend_features)(struct vdpa_device *vdev);
	int (*set_driver_features)(struct vdpa_device *vdev, uint64_t features);
	uint64_t (*get_driver_features)(struct vdpa_device *vdev);
	void (*set_config_cb)(struct vdpa_device *vdev,
			      const struct vdpa_callback *cb);
	uint16_t (*get_vq_num_max)(struct vdpa_device *vdev);
	uint16_t (*get_vq_num_min)(struct vdpa_device *vdev);
	uint32_t (*get_device_id)(struct vdpa_device *vdev);
	uint32_t (*get_vendor_id)(struct vdpa_device *vdev);
	uint8_t (*get_status)(struct vdpa_device *vdev);
	void (*set_status)(struct vdpa_device *vdev, uint8_t status);
	int (*reset)(struct vdpa_device *vdev);
	int (*compat_reset)(struct vdpa_device *vdev, uint32_t flags);
	int (*suspend)(struct vdpa_device *vdev);
	int (*resume)(struct vdpa_device *vdev);
	size_t (*get_config_size)(struct vdpa_device *vdev);
	void (*get_config)(struct vdpa_device *vdev, unsigned int offset,
			   void *buf, unsigned int len);
	void (*set_config)(struct vdpa_device *vdev, unsigned int offset,
			   const void *buf, unsigned int len);
	uint32_t (*get_generation)(struct vdpa_device *vdev);
	struct vdpa_iova_range (*get_iova_range)(struct vdpa_device *vdev);

	/* DMA ops */
	int (*set_map)(struct vdpa_device *vdev, unsigned int asid,
		       const struct vdpa_iotlb *iotlb);
	int (*dma_map)(struct vdpa_device *vdev, unsigned int asid,
		       uint64_t iova, uint64_t size, void *hva, uint32_t perm,
		       const struct vdpa_map_file *file);
	int (*dma_unmap)(struct vdpa_device *vdev, unsigned int asid,
			 uint64_t iova, uint64_t size);
	int (*reset_map)(struct vdpa_device *vdev, unsigned int asid);
	int (*set_group_asid)(struct vdpa_device *vdev, unsigned int group,
			      unsigned int asid);

	void (*free)(struct vdpa_device *vdev);
};

#define VDPA_RESET_F_CLEAN_MAP 1

struct vdpa_driver;

struct vdpa_device {
	struct vdpa_bus *bus;
	const struct vdpa_config_ops *config;
	struct vdpa_mgmt_dev *mdev; /* NULL when not created by a mgmtdev */
	char name[VDPA_NAME_MAX];
	unsigned int index;
	uint32_t nvqs;
	unsigned int ngroups;
	unsigned int nas;

	pthread_rwlock_t cf_lock; /* guards features_valid, suspended and
				   * calls that change config or status */
	bool features_valid;
	bool suspended;

	/* guarded by bus->lock */
	bool registered;
	char *driver_override;
	struct vdpa_driver *driver;
	void *driver_data; /* the bound driver's per-device state */
	struct list_head bus_link;

	void *alloc_base; /* the parent struct this device is embedded in */
};

/*
 * Allocate a device embedded at @offset of a @size-byte parent struct,
 * checking @ops (mandatory ops, paired ops). @name NULL: "vdpa%u" of the
 * index, which is the lowest free one. Returns NULL and sets *@err
 * (-EINVAL for a bad table or name, -ENOSPC, -ENOMEM).
 */
struct vdpa_device *__vdpa_alloc_device(struct vdpa_bus *bus, size_t size,
					size_t offset,
					const struct vdpa_config_ops *ops,
					unsigned int ngroups, unsigned int nas,
					const char *name, int *err);

#define vdpa_alloc_device(bus, type, member, ops, ngroups, nas, name, err)     \
	({                                                                     \
		struct vdpa_device *__v = __vdpa_alloc_device(                 \
			bus, sizeof(type), offsetof(type, member), ops,        \
			ngroups, nas, name, err);                              \
		__v ? container_of(__v, type, member) : NULL;                  \
	})

/* Check a table as __vdpa_alloc_device() does; 0 or -EINVAL. */
int vdpa_check_config_ops(const struct vdpa_config_ops *ops);

/* Free a device that was allocated but never registered. */
void vdpa_put_device(struct vdpa_device *vdev);

/*
 * Put a device on the bus with @nvqs queues: -EEXIST when its name is
 * taken. Probes a matching driver when the bus autoprobes; a probe failure
 * leaves the device registered and unbound. The underscore form is for
 * dev_add, called with bus->lock held for writing.
 */
int vdpa_register_device(struct vdpa_device *vdev, uint32_t nvqs);
int _vdpa_register_device(struct vdpa_device *vdev, uint32_t nvqs);
/* Unbind, take off the bus and release (ops->free, index, memory). */
void vdpa_unregister_device(struct vdpa_device *vdev);
void _vdpa_unregister_device(struct vdpa_device *vdev);

/* Checked, locked accessors: what bus drivers call. */
int vdpa_get_config(struct vdpa_device *vdev, unsigned int offset, void *buf,
		    unsigned int len);
int vdpa_set_config(struct vdpa_device *vdev, unsigned int offset,
		    const void *buf, unsigned int len);
uint8_t vdpa_get_status(struct vdpa_device *vdev);
int vdpa_set_status(struct vdpa_device *vdev, uint8_t status);
int vdpa_set_features(struct vdpa_device *vdev, uint64_t features);
int vdpa_reset(struct vdpa_device *vdev, uint32_t flags);
/* 0 without effect before DRIVER_OK; then -EOPNOTSUPP without the ops. */
int vdpa_suspend(struct vdpa_device *vdev);
int vdpa_resume(struct vdpa_device *vdev);
int vdpa_set_vq_num(struct vdpa_device *vdev, uint16_t idx, uint32_t num);
int vdpa_set_vq_address(struct vdpa_device *vdev, uint16_t idx, uint64_t desc,
			uint64_t driver, uint64_t device);
int vdpa_set_vq_state(struct vdpa_device *vdev, uint16_t idx,
		      const struct vdpa_vq_state *state);
int vdpa_get_vq_state(struct vdpa_device *vdev, uint16_t idx,
		      struct vdpa_vq_state *state);
int vdpa_set_vq_ready(struct vdpa_device *vdev, uint16_t idx, bool ready);
int vdpa_set_vq_cb(struct vdpa_device *vdev, uint16_t idx,
		   const struct vdpa_callback *cb);
int vdpa_set_vq_kickfd(struct vdpa_device *vdev, uint16_t idx, int fd);
int vdpa_set_vq_callfd(struct vdpa_device *vdev, uint16_t idx, int fd);
/* -EOPNOTSUPP without the op (none is fine for @region NULL). */
int vdpa_set_vq_inflight(struct vdpa_device *vdev, uint16_t idx,
			 struct vq_inflight_split *region);
int vdpa_kick_vq(struct vdpa_device *vdev, uint16_t idx);
uint16_t vdpa_get_vq_num_min(struct vdpa_device *vdev);

/* ---- management devices ---- */

/* What `vdpa dev add` asked for (reference §1.5). */
struct vdpa_dev_set_config {
	uint64_t device_features;
	struct {
		uint8_t mac[6];
		uint16_t mtu;
		uint16_t max_vq_pairs;
	} net;
	/* the `blk` parent's (uvdpa extension attributes, uvdpa/mgmt.h) */
	struct {
		const char *path; /* file, block device or NBD URI */
		const char *serial; /* NULL: none given */
		uint64_t capacity; /* bytes; 0: the size of @path */
		uint32_t logical_block_size; /* 512 or 4096 */
		uint16_t num_queues;
		uint16_t queue_size;
		bool readonly;
		bool direct; /* O_DIRECT */
		bool writeback; /* volatile write cache (CONFIG_WCE) */
		uint8_t aio; /* enum uvdpa_blk_aio */
	} blk;
	uint64_t mask; /* BIT_ULL(VDPA_ATTR_*) of each attribute given */
	/* UVDPA_EXT_BIT(UVDPA_ATTR_*) of each extension attribute given */
	uint64_t ext_mask;
	/*
	 * The device existed before a restart of the daemon and is being
	 * created again: a parent keeps what it stored for it (the
	 * simulator's ramdisk) instead of starting afresh.
	 */
	bool restoring;
};

/* The bit of an extension attribute in ext_mask and ext_attr_mask. */
#define UVDPA_EXT_BIT(type) BIT_ULL((type)-0x1000)

/**
 * struct vdpa_mgmtdev_ops - what a parent implements to create devices.
 * @dev_add: allocate a device named @name, set its mdev and call
 *	_vdpa_register_device() (bus->lock is held). Returns 0 or -errno,
 *	with a message in @ext where useful.
 * @dev_del: call _vdpa_unregister_device() on @vdev.
 * @dev_set_attr: optional; apply the attributes in @config->mask.
 * @dev_resize: optional; change the capacity of a block device to
 *	@capacity bytes, update its config and raise the config interrupt.
 *	bus->lock is held.
 */
struct vdpa_mgmtdev_ops {
	int (*dev_add)(struct vdpa_mgmt_dev *mdev, const char *name,
		       const struct vdpa_dev_set_config *config,
		       struct vdpa_extack *ext);
	void (*dev_del)(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdev);
	int (*dev_set_attr)(struct vdpa_mgmt_dev *mdev,
			    struct vdpa_device *vdev,
			    const struct vdpa_dev_set_config *config,
			    struct vdpa_extack *ext);
	int (*dev_resize)(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdev,
			  uint64_t capacity, struct vdpa_extack *ext);
};

struct vdpa_mgmt_dev {
	const char *bus_name; /* NULL for bus-less parents (simulators) */
	const char *dev_name;
	const struct vdpa_mgmtdev_ops *ops;
	const uint32_t *id_table; /* virtio device ids, 0-terminated */
	uint64_t config_attr_mask;
	/* extension attributes taken besides the bus drivers' (UVDPA_EXT_BIT) */
	uint64_t ext_attr_mask;
	uint64_t supported_features;
	uint32_t max_supported_vqs;

	struct vdpa_bus *bus; /* set at registration */
	struct list_head bus_link;
};

/* -EINVAL without a name, ops or dev_add/dev_del; -EEXIST for a taken handle */
int vdpa_mgmtdev_register(struct vdpa_bus *bus, struct vdpa_mgmt_dev *mdev);
/* Deletes every device @mdev created, then unregisters it. */
void vdpa_mgmtdev_unregister(struct vdpa_mgmt_dev *mdev);

/* Handle matching of reference §1.7; bus->lock held. */
struct vdpa_mgmt_dev *vdpa_mgmtdev_find(struct vdpa_bus *bus,
					const char *bus_name,
					const char *dev_name);
/* BIT(id) of every class in id_table. */
uint64_t vdpa_mgmtdev_classes(const struct vdpa_mgmt_dev *mdev);

/* Create a device through @mdev, taking bus->lock. */
int vdpa_mgmtdev_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			 const struct vdpa_dev_set_config *config,
			 struct vdpa_extack *ext);
/* Delete a device by name, taking bus->lock: -ENODEV, -EINVAL (unmanaged). */
int vdpa_dev_del(struct vdpa_bus *bus, const char *name,
		 struct vdpa_extack *ext);
/* The same with bus->lock held; @before (optional) sees the device first. */
int _vdpa_dev_del(struct vdpa_bus *bus, const char *name,
		  struct vdpa_extack *ext,
		  void (*before)(void *ctx, struct vdpa_device *vdev),
		  void *ctx);
/*
 * Create a device through @mdev with no driver probed (bus->lock held), at
 * index @index when that is free (-1: the lowest free), so that the caller
 * can set its override first, as driverctl does, or restore it where it
 * was. *@vdev is the new device.
 */
int _vdpa_mgmtdev_dev_add_unbound(struct vdpa_mgmt_dev *mdev, const char *name,
				  const struct vdpa_dev_set_config *config,
				  int index, struct vdpa_extack *ext,
				  struct vdpa_device **vdev);

/* ---- bus drivers ---- */

/**
 * struct vdpa_driver - a bus driver (vhost_vdpa, virtio_vdpa).
 * @probe: take the device; 0 or -errno (the device stays unbound), with
 *	the reason in @ext (never NULL) for whoever asked for the binding.
 * @remove: give the device back, reset.
 */
struct vdpa_driver {
	const char *name;
	int (*probe)(struct vdpa_device *vdev, struct vdpa_extack *ext);
	void (*remove)(struct vdpa_device *vdev);

	struct vdpa_bus *bus;
	struct list_head bus_link;
};

/* Registers and probes every unbound device that matches, when autoprobe. */
int vdpa_register_driver(struct vdpa_bus *bus, struct vdpa_driver *drv);
/* Unbinds every device bound to @drv. */
void vdpa_unregister_driver(struct vdpa_driver *drv);

/*
 * Set the driver_override (sysfs semantics, reference §7): a trailing
 * newline is stripped, "" clears, PAGE_SIZE-1 bytes or more is -EINVAL.
 * Does not unbind. bus->lock taken.
 */
int vdpa_set_driver_override(struct vdpa_device *vdev, const char *name);
int _vdpa_set_driver_override(struct vdpa_device *vdev, const char *name);
/* NULL when unset ("(null)" in sysfs). Caller holds bus->lock. */
const char *vdpa_get_driver_override(const struct vdpa_device *vdev);

/*
 * Bind @vdev to the first registered driver that matches it (drivers_probe).
 * 0 when bound (or already), -ENODEV when no driver matches, or the probe's
 * error. bus->lock taken; the underscore form expects it held.
 */
int vdpa_device_attach(struct vdpa_device *vdev);
int _vdpa_device_attach(struct vdpa_device *vdev);
/* The same, with the failed probe's reason in @ext. */
int _vdpa_device_attach_ext(struct vdpa_device *vdev, struct vdpa_extack *ext);
/*
 * Bind to @drv (sysfs bind): -ENODEV unless both are on the same bus and
 * @drv matches, then -EBUSY if @vdev is bound already.
 */
int vdpa_driver_bind(struct vdpa_driver *drv, struct vdpa_device *vdev);
/* Unbind from its driver, if any (sysfs unbind). */
void vdpa_device_release_driver(struct vdpa_device *vdev);
void _vdpa_device_release_driver(struct vdpa_device *vdev);

/* ---- the bus ---- */

struct vdpa_bus {
	pthread_rwlock_t lock; /* vdpa_dev_lock, see the top of this file */
	pthread_t writer; /* thread holding lock for writing, for asserts */
	bool write_held;
	struct list_head devices; /* registration order */
	struct list_head mgmtdevs; /* registration order */
	struct list_head drivers; /* registration order: first match wins */
	uint8_t *index_used; /* index allocation bitmap */
	unsigned int index_cap;
	bool autoprobe; /* drivers_autoprobe */
	/*
	 * The index the next device gets if it is free, then -1 again: how
	 * a daemon restoring its devices keeps their indices (and so their
	 * vhost-vdpa-N sockets). bus->lock held.
	 */
	int index_hint;
};

struct vdpa_bus *vdpa_bus_new(void);
/* Unregisters every mgmtdev, device and driver left, then frees. */
void vdpa_bus_free(struct vdpa_bus *bus);

void vdpa_bus_lock(struct vdpa_bus *bus);
void vdpa_bus_unlock(struct vdpa_bus *bus);
void vdpa_bus_read_lock(struct vdpa_bus *bus);
void vdpa_bus_read_unlock(struct vdpa_bus *bus);
bool vdpa_bus_write_locked(const struct vdpa_bus *bus);

/* Find a registered device by name; bus->lock held. */
struct vdpa_device *vdpa_find_device(struct vdpa_bus *bus, const char *name);

#define vdpa_bus_for_each_device(vdev, bus)                                    \
	list_for_each_entry(vdev, &(bus)->devices, bus_link)
#define vdpa_bus_for_each_mgmtdev(mdev, bus)                                   \
	list_for_each_entry(mdev, &(bus)->mgmtdevs, bus_link)

#endif
