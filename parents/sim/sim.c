// SPDX-License-Identifier: MIT
/*
 * The simulator core (Linux drivers/vdpa/vdpa_sim/vdpa_sim.c): the config
 * ops shared by every simulated device class.
 *
 * Where it differs from the kernel, on purpose:
 *  - A device starts with an empty map, not the kernel's identity map: in
 *    user space an identity map would hand the driver the daemon's own
 *    memory. reset_map and CLEAN_MAP also return to the empty map.
 *  - Features are accepted without VIRTIO_F_ACCESS_PLATFORM: every uvdpa
 *    device translates through its map (reference §11, note).
 *  - Queues are served by the shared workers, attached only while the
 *    device runs (DRIVER_OK, not suspended) and the queue is enabled.
 *    Every op that changes what the data path reads detaches all of the
 *    device's queues first and attaches them after (DESIGN.md): a class
 *    may serve one queue from another's handler (net TX fills RX). Kicks
 *    that came in between stay in the eventfd and are served at attach.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "sim.h"

static const struct vdpa_config_ops sim_config_ops;

/* ---- data path plumbing ---- */

static struct sim_vq *poll_to_vq(struct vdpa_poll *p)
{
	return container_of(p, struct sim_vq, poll);
}

static unsigned int sim_poll_run(struct vdpa_poll *p)
{
	struct sim_vq *vq = poll_to_vq(p);

	if (vq->ring.broken)
		return 0;
	return vq->sim->attr.serve(vq->sim, vq);
}

static void sim_poll_busy(struct vdpa_poll *p)
{
	vq_dev_disable_notify(&poll_to_vq(p)->ring);
}

static bool sim_poll_idle(struct vdpa_poll *p)
{
	struct sim_vq *vq = poll_to_vq(p);
	struct sim_dev *sim = vq->sim;

	if (vq->ring.broken)
		return false;
	if (sim->attr.vq_idle) {
		int busy = sim->attr.vq_idle(sim, vq);

		if (busy)
			return busy > 0;
	}
	if (!vq_dev_enable_notify(&vq->ring))
		return false;
	/*
	 * Work came as notifications went on: poll on with them off again,
	 * or the driver kicks on every add while the worker polls anyway.
	 */
	vq_dev_disable_notify(&vq->ring);
	return true;
}

static const struct vdpa_poll_ops sim_poll_ops = {
	.run = sim_poll_run,
	.busy = sim_poll_busy,
	.idle = sim_poll_idle,
};

static void sim_signal(const struct vdpa_callback *cb, int fd)
{
	uint64_t one = 1;

	if (fd < 0)
		fd = cb->trigger;
	if (fd >= 0) {
		/* EAGAIN: the counter is saturated, the peer is notified */
		if (write(fd, &one, sizeof(one)) < 0)
			return;
	} else if (cb->callback) {
		cb->callback(cb->priv);
	}
}

void sim_vq_notify(struct sim_vq *vq)
{
	sim_signal(&vq->cb, vq->callfd);
}

void sim_vq_complete(struct sim_vq *vq, const struct vq_elem *elems,
		     const uint32_t *lens, unsigned int n)
{
	if (n && vq_dev_complete_batch(&vq->ring, elems, lens, n))
		sim_vq_notify(vq);
}

void sim_needs_reset(struct sim_dev *sim)
{
	uint8_t old = __atomic_fetch_or(
		&sim->status, VIRTIO_CONFIG_S_NEEDS_RESET, __ATOMIC_RELAXED);

	/* The spec's config change notification, once. */
	if (!(old & VIRTIO_CONFIG_S_NEEDS_RESET))
		sim_signal(&sim->config_cb, -1);
}

void sim_config_changed(struct sim_dev *sim)
{
	sim->generation++;
	sim_signal(&sim->config_cb, -1);
}

void sim_vq_broken(struct sim_vq *vq)
{
	__atomic_add_fetch(&vq->ring_errors, 1, __ATOMIC_RELAXED);
	sim_needs_reset(vq->sim);
}

unsigned int sim_vq_pop(struct sim_vq *vq, struct vq_elem *elems,
			unsigned int max)
{
	bool was_broken = vq->ring.broken;
	int n = vq_dev_pop_batch(&vq->ring, elems, max, vq->iov, SIM_VQ_IOV);

	/*
	 * Count the ring once: a class may pop a queue again in the same
	 * serve call (net pops RX per TX batch) after it broke.
	 */
	if (vq->ring.broken && !was_broken)
		sim_vq_broken(vq);
	return n < 0 ? 0 : (unsigned int)n;
}

bool sim_vq_ready(struct sim_vq *vq)
{
	return vq->ready && vq->ring.used && !vq->ring.broken;
}

static struct vdpa_iotlb *sim_vq_iotlb(struct sim_vq *vq)
{
	struct sim_dev *sim = vq->sim;
	uint32_t group = sim->attr.vq_group ? sim->attr.vq_group(vq->idx) : 0;

	return &sim->iotlb[sim->group_asid[group]];
}

/* Take the ring configuration, as a false->true enable does. */
static void sim_vq_latch(struct sim_vq *vq, uint16_t avail_idx)
{
	struct vq_config cfg = {
		.num = vq->num,
		.features = vq->sim->features,
		.desc_addr = vq->desc_addr,
		.driver_addr = vq->driver_addr,
		.device_addr = vq->device_addr,
		.avail_idx = avail_idx,
		.iotlb = sim_vq_iotlb(vq),
		.inflight = vq->inflight,
	};

	if (vq_dev_init(&vq->ring, &cfg))
		sim_vq_broken(vq);
}

/* The queue's position, wherever it is kept now. Data path stopped. */
static uint16_t sim_vq_avail_index(struct sim_vq *vq)
{
	return vq->ring.used ? vq_dev_avail_index(&vq->ring) : vq->avail_index;
}

static void sim_vq_stop(struct sim_vq *vq)
{
	struct sim_dev *sim = vq->sim;

	vdpa_worker_detach(&vq->poll);
	if (vq->class_started) {
		vq->class_started = false;
		sim->attr.vq_stop(sim, vq);
	}
}

static void sim_vq_start(struct sim_vq *vq)
{
	struct sim_dev *sim = vq->sim;
	struct vdpa_worker *w = sim->worker;
	int fd = vq->kickfd >= 0 ? vq->kickfd : vq->own_kickfd;

	if (!sim->running || !sim_vq_ready(vq) || !vq->iov || vq->poll.worker)
		return;
	if (sim->attr.vq_start) {
		fd = sim->attr.vq_start(sim, vq, fd);
		if (fd < 0) {
			sim_vq_broken(vq);
			return;
		}
		vq->class_started = true;
	}
	if (sim->attr.vq_workers)
		w = vdpa_worker_pick(sim->attr.mgmt->pool);
	vq->poll.fd = fd;
	vq->poll.poll_us = sim->poll_us;
	if (vdpa_worker_attach(w, &vq->poll))
		sim_vq_broken(vq); /* e.g. a kick fd epoll cannot watch */
}

static void sim_stop_all(struct sim_dev *sim)
{
	for (uint32_t i = 0; i < sim->attr.nvqs; i++)
		sim_vq_stop(&sim->vqs[i]);
}

static void sim_start_all(struct sim_dev *sim)
{
	if (!sim->running)
		return;
	/*
	 * Scratch iovecs exist once a queue runs, so idle devices cost
	 * little; all of them before any queue is served, since a handler
	 * may pop another queue of the device.
	 */
	for (uint32_t i = 0; i < sim->attr.nvqs; i++) {
		struct sim_vq *vq = &sim->vqs[i];

		if (sim_vq_ready(vq) && !vq->iov) {
			vq->iov = calloc(SIM_VQ_IOV, sizeof(*vq->iov));
			if (!vq->iov)
				sim_vq_broken(vq);
		}
	}
	for (uint32_t i = 0; i < sim->attr.nvqs; i++)
		sim_vq_start(&sim->vqs[i]);
}

/* After a map change: enabled rings point into the new map. */
static void sim_relatch_all(struct sim_dev *sim)
{
	for (uint32_t i = 0; i < sim->attr.nvqs; i++) {
		struct sim_vq *vq = &sim->vqs[i];

		if (vq->ready)
			sim_vq_latch(vq, sim_vq_avail_index(vq));
	}
}

/* ---- virtqueue ops ---- */

static struct sim_vq *sim_vq(struct vdpa_device *vdev, uint16_t idx)
{
	return &vdpa_to_sim(vdev)->vqs[idx];
}

static int sim_set_vq_address(struct vdpa_device *vdev, uint16_t idx,
			      uint64_t desc, uint64_t driver, uint64_t device)
{
	struct sim_vq *vq = sim_vq(vdev, idx);

	vq->desc_addr = desc;
	vq->driver_addr = driver;
	vq->device_addr = device;
	return 0;
}

static void sim_set_vq_num(struct vdpa_device *vdev, uint16_t idx, uint32_t num)
{
	sim_vq(vdev, idx)->num = num;
}

static void sim_kick_vq(struct vdpa_device *vdev, uint16_t idx)
{
	struct sim_vq *vq = sim_vq(vdev, idx);
	int fd = __atomic_load_n(&vq->kickfd, __ATOMIC_RELAXED);
	uint64_t one = 1;

	/* A kick to a queue not served stays in the fd until it is. */
	if (write(fd >= 0 ? fd : vq->own_kickfd, &one, sizeof(one)) < 0)
		return; /* saturated: a kick is pending anyway */
}

static void sim_set_vq_cb(struct vdpa_device *vdev, uint16_t idx,
			  const struct vdpa_callback *cb)
{
	struct sim_vq *vq = sim_vq(vdev, idx);

	sim_stop_all(vq->sim);
	vq->cb = cb ? *cb : (struct vdpa_callback){ .trigger = -1 };
	sim_start_all(vq->sim);
}

static void sim_set_vq_ready(struct vdpa_device *vdev, uint16_t idx, bool ready)
{
	struct sim_vq *vq = sim_vq(vdev, idx);

	if (ready == vq->ready)
		return; /* enabling an enabled queue does nothing */
	sim_stop_all(vq->sim);
	if (ready) {
		sim_vq_latch(vq, vq->avail_index);
		vq->ready = true;
	} else {
		vq->avail_index = sim_vq_avail_index(vq);
		vq->ready = false;
	}
	sim_start_all(vq->sim);
}

static bool sim_get_vq_ready(struct vdpa_device *vdev, uint16_t idx)
{
	return sim_vq(vdev, idx)->ready;
}

static int sim_set_vq_state(struct vdpa_device *vdev, uint16_t idx,
			    const struct vdpa_vq_state *state)
{
	struct sim_vq *vq = sim_vq(vdev, idx);

	vq->avail_index = state->split.avail_index;
	if (vq->ready) {
		sim_stop_all(vq->sim);
		sim_vq_latch(vq, vq->avail_index);
		sim_start_all(vq->sim);
	}
	return 0;
}

static void sim_read_state_fn(void *arg)
{
	struct sim_vq *vq = arg;

	vq->avail_index = sim_vq_avail_index(vq);
}

static int sim_get_vq_state(struct vdpa_device *vdev, uint16_t idx,
			    struct vdpa_vq_state *state)
{
	struct sim_vq *vq = sim_vq(vdev, idx);

	if (vq->ready && vq->poll.worker)
		vdpa_worker_call(vq->poll.worker, sim_read_state_fn, vq);
	else if (vq->ready)
		sim_read_state_fn(vq);
	state->split.avail_index = vq->avail_index;
	return 0;
}

static int sim_get_vendor_vq_stats(struct vdpa_device *vdev, uint16_t idx,
				   struct vdpa_stats_writer *w,
				   struct vdpa_extack *ext)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	if (!sim->attr.get_stats)
		return -EOPNOTSUPP;
	return sim->attr.get_stats(sim, idx, w, ext);
}

static uint16_t sim_get_vq_size(struct vdpa_device *vdev, uint16_t idx)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	if (__atomic_load_n(&sim->status, __ATOMIC_RELAXED) &
	    VIRTIO_CONFIG_S_DRIVER_OK)
		return (uint16_t)sim->vqs[idx].num;
	return vdev->config->get_vq_num_max(vdev);
}

static int sim_set_vq_kickfd(struct vdpa_device *vdev, uint16_t idx, int fd)
{
	struct sim_vq *vq = sim_vq(vdev, idx);

	sim_stop_all(vq->sim);
	__atomic_store_n(&vq->kickfd, fd, __ATOMIC_RELAXED);
	sim_start_all(vq->sim);
	return 0;
}

static int sim_set_vq_callfd(struct vdpa_device *vdev, uint16_t idx, int fd)
{
	struct sim_vq *vq = sim_vq(vdev, idx);

	sim_stop_all(vq->sim);
	vq->callfd = fd;
	sim_start_all(vq->sim);
	return 0;
}

/* Inflight tracking (vhost-user INFLIGHT_SHMFD): used at the next start. */
static int sim_set_vq_inflight(struct vdpa_device *vdev, uint16_t idx,
			       struct vq_inflight_split *region)
{
	struct sim_vq *vq = sim_vq(vdev, idx);

	if (vq->ready)
		return -EBUSY;
	vq->inflight = region;
	return 0;
}

/* ---- device ops ---- */

static uint32_t sim_get_vq_align(struct vdpa_device *vdev)
{
	return SIM_VQ_ALIGN;
}

static uint32_t sim_get_vq_group(struct vdpa_device *vdev, uint16_t idx)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	return sim->attr.vq_group ? sim->attr.vq_group(idx) : 0;
}

static uint64_t sim_get_device_features(struct vdpa_device *vdev)
{
	return vdpa_to_sim(vdev)->dev_features;
}

static uint64_t sim_get_backend_features(struct vdpa_device *vdev)
{
	return BIT_ULL(6) /* ENABLE_AFTER_DRIVER_OK */ |
	       BIT_ULL(9) /* GROUP_ASID_AFTER_DRIVER_OK */;
}

static int sim_set_driver_features(struct vdpa_device *vdev, uint64_t features)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	sim->features = features & sim->dev_features;
	return 0;
}

static uint64_t sim_get_driver_features(struct vdpa_device *vdev)
{
	return vdpa_to_sim(vdev)->features;
}

static void sim_set_config_cb(struct vdpa_device *vdev,
			      const struct vdpa_callback *cb)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	sim_stop_all(sim);
	sim->config_cb = cb ? *cb : (struct vdpa_callback){ .trigger = -1 };
	sim_start_all(sim);
}

static uint16_t sim_get_vq_num_max(struct vdpa_device *vdev)
{
	uint32_t max = vdpa_to_sim(vdev)->attr.vq_num_max;

	return (uint16_t)(max ? max : SIM_VQ_NUM_MAX);
}

static uint32_t sim_get_device_id(struct vdpa_device *vdev)
{
	return vdpa_to_sim(vdev)->attr.id;
}

static uint32_t sim_get_vendor_id(struct vdpa_device *vdev)
{
	return 0;
}

static uint8_t sim_get_status(struct vdpa_device *vdev)
{
	return __atomic_load_n(&vdpa_to_sim(vdev)->status, __ATOMIC_RELAXED);
}

static void sim_update_running(struct sim_dev *sim, bool suspended)
{
	bool running = !suspended &&
		       (sim_get_status(&sim->vdpa) & VIRTIO_CONFIG_S_DRIVER_OK);

	if (running == sim->running)
		return;
	sim->running = running;
	if (running)
		sim_start_all(sim);
	else
		sim_stop_all(sim);
}

static void sim_set_status(struct vdpa_device *vdev, uint8_t status)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);
	uint8_t old = sim_get_status(vdev);

	/* Keep a NEEDS_RESET the worker may have raised meanwhile. */
	status |= old & VIRTIO_CONFIG_S_NEEDS_RESET;
	__atomic_store_n(&sim->status, status, __ATOMIC_RELAXED);
	sim_update_running(sim, vdev->suspended);
}

static void sim_vq_reset(struct sim_vq *vq)
{
	vq->ready = false;
	vq->desc_addr = vq->driver_addr = vq->device_addr = 0;
	vq->num = 0;
	vq->avail_index = 0;
	vq->cb = (struct vdpa_callback){ .trigger = -1 };
	vq->callfd = -1;
	__atomic_store_n(&vq->kickfd, -1, __ATOMIC_RELAXED);
	vq->inflight = NULL; /* the region was the driver's */
	vq_dev_forget(&vq->ring);
}

static int sim_compat_reset(struct vdpa_device *vdev, uint32_t flags)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	sim_stop_all(sim);
	sim->running = false;
	for (uint32_t i = 0; i < sim->attr.nvqs; i++)
		sim_vq_reset(&sim->vqs[i]);
	__atomic_store_n(&sim->status, 0, __ATOMIC_RELAXED);
	sim->features = 0;
	sim->generation++;
	sim->config_cb = (struct vdpa_callback){ .trigger = -1 };
	for (uint32_t g = 0; g < sim->attr.ngroups; g++)
		sim->group_asid[g] = 0;
	if (flags & VDPA_RESET_F_CLEAN_MAP)
		for (uint32_t as = 0; as < sim->attr.nas; as++)
			sim->iotlb[as].nr = 0;
	if (sim->attr.reset)
		sim->attr.reset(sim);
	return 0;
}

static int sim_reset(struct vdpa_device *vdev)
{
	return sim_compat_reset(vdev, 0);
}

static int sim_suspend(struct vdpa_device *vdev)
{
	sim_update_running(vdpa_to_sim(vdev), true);
	return 0;
}

static int sim_resume(struct vdpa_device *vdev)
{
	/* attach serves whatever was kicked while suspended */
	sim_update_running(vdpa_to_sim(vdev), false);
	return 0;
}

static size_t sim_get_config_size(struct vdpa_device *vdev)
{
	return vdpa_to_sim(vdev)->attr.config_size;
}

static void sim_get_config(struct vdpa_device *vdev, unsigned int offset,
			   void *buf, unsigned int len)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	if (offset > sim->attr.config_size ||
	    len > sim->attr.config_size - offset)
		return;
	pthread_mutex_lock(&sim->config_lock);
	if (sim->attr.get_config)
		sim->attr.get_config(sim, sim->config);
	memcpy(buf, (char *)sim->config + offset, len);
	pthread_mutex_unlock(&sim->config_lock);
}

static void sim_set_config(struct vdpa_device *vdev, unsigned int offset,
			   const void *buf, unsigned int len)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	if (offset > sim->attr.config_size ||
	    len > sim->attr.config_size - offset)
		return;
	pthread_mutex_lock(&sim->config_lock);
	memcpy((char *)sim->config + offset, buf, len);
	if (sim->attr.set_config)
		sim->attr.set_config(sim, sim->config);
	pthread_mutex_unlock(&sim->config_lock);
}

static uint32_t sim_get_generation(struct vdpa_device *vdev)
{
	return vdpa_to_sim(vdev)->generation;
}

static struct vdpa_iova_range sim_get_iova_range(struct vdpa_device *vdev)
{
	return (struct vdpa_iova_range){ .first = 0, .last = UINT64_MAX };
}

/* ---- DMA ops: every change stops the data path around it ---- */

static int sim_set_map(struct vdpa_device *vdev, unsigned int asid,
		       const struct vdpa_iotlb *iotlb)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);
	int ret;

	if (asid >= sim->attr.nas)
		return -EINVAL;
	sim_stop_all(sim);
	ret = vdpa_iotlb_copy(&sim->iotlb[asid], iotlb);
	if (ret)
		sim->iotlb[asid].nr = 0; /* the kernel leaves it empty too */
	sim_relatch_all(sim);
	sim_start_all(sim);
	return ret;
}

static int sim_dma_map(struct vdpa_device *vdev, unsigned int asid,
		       uint64_t iova, uint64_t size, void *hva, uint32_t perm,
		       const struct vdpa_map_file *file)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);
	int ret;

	if (asid >= sim->attr.nas)
		return -EINVAL;
	sim_stop_all(sim);
	ret = vdpa_iotlb_add(&sim->iotlb[asid], iova, size, hva, perm);
	sim_relatch_all(sim);
	sim_start_all(sim);
	return ret;
}

static int sim_dma_unmap(struct vdpa_device *vdev, unsigned int asid,
			 uint64_t iova, uint64_t size)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	if (asid >= sim->attr.nas)
		return -EINVAL;
	sim_stop_all(sim);
	vdpa_iotlb_del(&sim->iotlb[asid], iova, size);
	sim_relatch_all(sim);
	sim_start_all(sim);
	return 0;
}

static int sim_reset_map(struct vdpa_device *vdev, unsigned int asid)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	if (asid >= sim->attr.nas)
		return -EINVAL;
	sim_stop_all(sim);
	sim->iotlb[asid].nr = 0;
	sim_relatch_all(sim);
	sim_start_all(sim);
	return 0;
}

static int sim_set_group_asid(struct vdpa_device *vdev, unsigned int group,
			      unsigned int asid)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	if (group >= sim->attr.ngroups || asid >= sim->attr.nas)
		return -EINVAL;
	sim_stop_all(sim);
	sim->group_asid[group] = asid;
	sim_relatch_all(sim);
	sim_start_all(sim);
	return 0;
}

/* Release; also the unwinding of a half-built device. */
static void sim_free(struct vdpa_device *vdev)
{
	struct sim_dev *sim = vdpa_to_sim(vdev);

	if (sim->vqs) {
		sim_stop_all(sim);
		for (uint32_t i = 0; i < sim->attr.nvqs; i++) {
			if (sim->vqs[i].own_kickfd >= 0)
				close(sim->vqs[i].own_kickfd);
			vq_dev_release(&sim->vqs[i].ring);
			free(sim->vqs[i].iov);
		}
	}
	if (sim->class_init && sim->attr.free)
		sim->attr.free(sim);
	for (uint32_t as = 0; sim->iotlb && as < sim->attr.nas; as++)
		vdpa_iotlb_clear(&sim->iotlb[as]);
	free(sim->iotlb);
	free(sim->group_asid);
	free(sim->vqs);
	free(sim->config);
	pthread_mutex_destroy(&sim->config_lock);
}

static const struct vdpa_config_ops sim_config_ops = {
	.set_vq_address = sim_set_vq_address,
	.set_vq_num = sim_set_vq_num,
	.kick_vq = sim_kick_vq,
	.set_vq_cb = sim_set_vq_cb,
	.set_vq_ready = sim_set_vq_ready,
	.get_vq_ready = sim_get_vq_ready,
	.set_vq_state = sim_set_vq_state,
	.get_vq_state = sim_get_vq_state,
	.get_vendor_vq_stats = sim_get_vendor_vq_stats,
	.get_vq_size = sim_get_vq_size,
	.set_vq_kickfd = sim_set_vq_kickfd,
	.set_vq_callfd = sim_set_vq_callfd,
	.set_vq_inflight = sim_set_vq_inflight,
	.get_vq_align = sim_get_vq_align,
	.get_vq_group = sim_get_vq_group,
	.get_device_features = sim_get_device_features,
	.get_backend_features = sim_get_backend_features,
	.set_driver_features = sim_set_driver_features,
	.get_driver_features = sim_get_driver_features,
	.set_config_cb = sim_set_config_cb,
	.get_vq_num_max = sim_get_vq_num_max,
	.get_device_id = sim_get_device_id,
	.get_vendor_id = sim_get_vendor_id,
	.get_status = sim_get_status,
	.set_status = sim_set_status,
	.reset = sim_reset,
	.compat_reset = sim_compat_reset,
	.suspend = sim_suspend,
	.resume = sim_resume,
	.get_config_size = sim_get_config_size,
	.get_config = sim_get_config,
	.set_config = sim_set_config,
	.get_generation = sim_get_generation,
	.get_iova_range = sim_get_iova_range,
	.set_map = sim_set_map,
	.dma_map = sim_dma_map,
	.dma_unmap = sim_dma_unmap,
	.reset_map = sim_reset_map,
	.set_group_asid = sim_set_group_asid,
	.free = sim_free,
};

/* ---- creation ---- */

static int sim_alloc_vqs(struct sim_dev *sim)
{
	sim->vqs = calloc(sim->attr.nvqs, sizeof(*sim->vqs));
	if (!sim->vqs)
		return -ENOMEM;
	for (uint32_t i = 0; i < sim->attr.nvqs; i++)
		sim->vqs[i].own_kickfd = -1;
	for (uint32_t i = 0; i < sim->attr.nvqs; i++) {
		struct sim_vq *vq = &sim->vqs[i];

		vq->sim = sim;
		vq->idx = (uint16_t)i;
		vq->callfd = -1;
		vq->kickfd = -1;
		vq->cb.trigger = -1;
		vq->poll.fd = -1;
		vq->poll.ops = &sim_poll_ops;
		vq->own_kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->own_kickfd < 0)
			return -errno;
	}
	return 0;
}

static int sim_init(struct sim_dev *sim, const struct sim_dev_attr *attr,
		    uint64_t dev_features)
{
	sim->attr = *attr;
	sim->dev_features = dev_features;
	sim->config_cb.trigger = -1;
	sim->poll_us = attr->mgmt->poll_us;
	sim->worker = vdpa_worker_pick(attr->mgmt->pool);
	pthread_mutex_init(&sim->config_lock, NULL);
	sim->config = calloc(1, attr->config_size);
	sim->iotlb = calloc(attr->nas, sizeof(*sim->iotlb));
	sim->group_asid = calloc(attr->ngroups, sizeof(*sim->group_asid));
	if (!sim->config || !sim->iotlb || !sim->group_asid)
		return -ENOMEM;
	for (uint32_t as = 0; as < attr->nas; as++)
		vdpa_iotlb_init(&sim->iotlb[as], SIM_IOTLB_LIMIT);
	return sim_alloc_vqs(sim);
}

struct sim_dev *sim_create(const struct sim_dev_attr *attr, const char *name,
			   const struct vdpa_dev_set_config *config,
			   struct vdpa_extack *ext, int *err)
{
	uint64_t features = attr->supported_features;
	struct vdpa_device *vdev;
	struct sim_dev *sim;
	int ret;

	if (config->mask & BIT_ULL(VDPA_ATTR_DEV_FEATURES)) {
		if (config->device_features & ~attr->supported_features) {
			vdpa_extack_set(
				ext,
				"device_features 0x%llx not supported "
				"(supported 0x%llx)",
				(unsigned long long)config->device_features,
				(unsigned long long)attr->supported_features);
			*err = -EINVAL;
			return NULL;
		}
		features = config->device_features;
	}
	vdev = __vdpa_alloc_device(attr->mgmt->mdev.bus, attr->alloc_size,
				   offsetof(struct sim_dev, vdpa),
				   &sim_config_ops, attr->ngroups, attr->nas,
				   name, err);
	if (!vdev)
		return NULL;
	sim = vdpa_to_sim(vdev);
	ret = sim_init(sim, attr, features);
	if (!ret && attr->init) {
		sim->class_init = true;
		ret = attr->init(sim, config, ext);
	}
	if (!ret) {
		vdev->mdev = &attr->mgmt->mdev;
		ret = _vdpa_register_device(vdev, attr->nvqs);
	}
	if (ret) {
		vdpa_put_device(vdev); /* ops->free unwinds what was built */
		*err = ret;
		return NULL;
	}
	return sim;
}

void vdpasim_mgmtdev_free(struct vdpa_mgmt_dev *mdev)
{
	if (mdev)
		free(container_of(mdev, struct sim_mgmt, mdev));
}

void vdpasim_mgmtdev_set_poll_us(struct vdpa_mgmt_dev *mdev, uint32_t us)
{
	container_of(mdev, struct sim_mgmt, mdev)->poll_us = us;
}
