/* SPDX-License-Identifier: MIT */
/*
 * The simulator core and the contract between it and its device classes
 * (Linux drivers/vdpa/vdpa_sim/vdpa_sim.h). The core owns status,
 * features, maps, queues and their data path plumbing; a class fills a
 * struct sim_dev_attr and serves its queues.
 */
#ifndef UVDPA_PARENTS_SIM_H
#define UVDPA_PARENTS_SIM_H

#include <pthread.h>

#include <uvdpa/sim.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/virtqueue.h>
#include <uvdpa/worker.h>

#define SIM_VQ_NUM_MAX 256
#define SIM_VQ_ALIGN 4096
#define SIM_IOTLB_LIMIT 2048 /* the kernel's max_iotlb_entries */
#define SIM_BATCH 32 /* chains taken per pop */
#define SIM_VQ_IOV (VQ_MAX_CHAIN_IOV + SIM_BATCH * 4) /* per queue scratch */

/* The kernel simulators' base features (VDPASIM_FEATURES). */
#define SIM_FEATURES                                                           \
	(BIT_ULL(VIRTIO_F_ANY_LAYOUT) | BIT_ULL(VIRTIO_F_VERSION_1) |          \
	 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM))

struct sim_dev;

struct sim_vq {
	struct sim_dev *sim;
	uint16_t idx;

	/* programmed by the control thread while the queue is stopped */
	uint64_t desc_addr, driver_addr, device_addr;
	uint32_t num;
	bool ready;
	uint16_t avail_index; /* state while not ready */
	struct vdpa_callback cb;
	int callfd; /* -1: use cb */
	int kickfd; /* the driver's, or -1: own_kickfd */
	int own_kickfd; /* written by kick_vq */
	struct vq_inflight_split *inflight; /* vhost-user's, or NULL */
	bool class_started; /* attr.vq_start succeeded: attr.vq_stop is due */

	/* the data path; read by the worker while attached */
	struct vq_dev ring;
	struct vdpa_poll poll;
	uint64_t ring_errors; /* atomic: rings found malformed */
	struct iovec *iov; /* worker scratch: SIM_BATCH * VQ_MAX_CHAIN_IOV */
};

struct sim_mgmt {
	struct vdpa_mgmt_dev mdev;
	struct vdpa_worker_pool *pool;
	uint32_t poll_us;
};

/**
 * struct sim_dev_attr - what a device class gives the core.
 * @init: optional; set up class state and config from @config, before the
 *	device is registered (and may be probed).
 * @serve: serve queue @vq (worker thread); return the chains handled.
 * @get_config: optional; refresh @config before a read (config_lock held).
 * @set_config: optional; @config was written (config_lock held).
 * @get_stats: optional; per-queue counters for vstats.
 * @reset: optional; reset class state (data path stopped).
 * @free: optional; release class resources.
 *
 * For classes whose requests complete later than they are taken (real
 * storage), all optional:
 * @vq_num_max: the largest queue size; 0: SIM_VQ_NUM_MAX.
 * @vq_workers: each queue is served on its own worker, picked when it
 *	starts, instead of all of the device's on one (the class then never
 *	touches one queue from another's serve).
 * @vq_start: queue @vq is about to be served (control thread): returns the
 *	fd its worker must wait on (the class watches @kickfd itself, e.g.
 *	together with its completions), or -errno.
 * @vq_stop: the worker let go of @vq (control thread): finish everything
 *	in flight, since the map or the ring may change next.
 * @vq_idle: the worker is about to sleep on @vq: > 0 when work is
 *	pending that no fd will announce (keep serving); < 0 to sleep even
 *	with chains available, when they wait for resources that an
 *	in-flight request frees and its completion wakes the queue; 0: as
 *	usual.
 */
struct sim_dev_attr {
	struct sim_mgmt *mgmt;
	const char *name;
	uint32_t id;
	uint64_t supported_features;
	size_t config_size;
	size_t alloc_size; /* of the class struct, struct sim_dev first */
	uint32_t nvqs;
	uint32_t ngroups;
	uint32_t nas;
	uint32_t (*vq_group)(uint16_t idx);

	int (*init)(struct sim_dev *sim,
		    const struct vdpa_dev_set_config *config,
		    struct vdpa_extack *ext);
	unsigned int (*serve)(struct sim_dev *sim, struct sim_vq *vq);
	void (*get_config)(struct sim_dev *sim, void *config);
	void (*set_config)(struct sim_dev *sim, void *config);
	int (*get_stats)(struct sim_dev *sim, uint16_t idx,
			 struct vdpa_stats_writer *w, struct vdpa_extack *ext);
	void (*reset)(struct sim_dev *sim);
	void (*free)(struct sim_dev *sim);

	uint32_t vq_num_max;
	bool vq_workers;
	int (*vq_start)(struct sim_dev *sim, struct sim_vq *vq, int kickfd);
	void (*vq_stop)(struct sim_dev *sim, struct sim_vq *vq);
	int (*vq_idle)(struct sim_dev *sim, struct sim_vq *vq);
};

struct sim_dev {
	struct vdpa_device vdpa;
	struct sim_dev_attr attr;
	struct vdpa_worker *worker; /* serves the queues, but with vq_workers */
	struct sim_vq *vqs;
	struct vdpa_iotlb *iotlb; /* one per address space */
	unsigned int *group_asid;
	uint32_t poll_us;
	bool class_init; /* attr.init was called: attr.free must run */

	pthread_mutex_t config_lock; /* guards config: the control thread
				      * and the worker (control queue) */
	void *config;

	/* control thread only */
	uint64_t dev_features;
	uint64_t features;
	bool running; /* DRIVER_OK and not suspended */
	uint32_t generation;

	uint8_t status; /* atomic: the worker adds NEEDS_RESET */
	struct vdpa_callback config_cb; /* read by the worker, set stopped */
};

static inline struct sim_dev *vdpa_to_sim(struct vdpa_device *vdev)
{
	return container_of(vdev, struct sim_dev, vdpa);
}

/*
 * Create and register a device of class @attr (bus->lock held): the core
 * of dev_add. Provisioned features must be a subset of the supported set,
 * and then replace it (reference §4.1).
 */
struct sim_dev *sim_create(const struct sim_dev_attr *attr, const char *name,
			   const struct vdpa_dev_set_config *config,
			   struct vdpa_extack *ext, int *err);

/* For classes serving their queues. Worker thread. */
bool sim_vq_ready(struct sim_vq *vq);
/*
 * Take up to @max chains (iovecs in vq->iov). A malformed ring is handled
 * here (sim_vq_broken()): the caller completes what it got, possibly 0.
 */
unsigned int sim_vq_pop(struct sim_vq *vq, struct vq_elem *elems,
			unsigned int max);
/* Raise the driver side's interrupt of @vq. */
void sim_vq_notify(struct sim_vq *vq);
/* Complete @n elements of @vq with one index update and one notify. */
void sim_vq_complete(struct sim_vq *vq, const struct vq_elem *elems,
		     const uint32_t *lens, unsigned int n);
/* The ring of @vq is malformed: count it, set NEEDS_RESET, stop it. */
void sim_vq_broken(struct sim_vq *vq);
/* A device error that is not the ring's: set NEEDS_RESET. */
void sim_needs_reset(struct sim_dev *sim);
/*
 * The config space changed by itself (a resize): bump the generation and
 * raise the config interrupt. Control thread.
 */
void sim_config_changed(struct sim_dev *sim);

static inline uint64_t sim_stat_read(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* Counters have one writer, the worker: no locked add needed. */
static inline void sim_stat_add(uint64_t *counter, uint64_t v)
{
	if (v)
		__atomic_store_n(counter,
				 __atomic_load_n(counter, __ATOMIC_RELAXED) + v,
				 __ATOMIC_RELAXED);
}

#endif
