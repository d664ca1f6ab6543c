/* SPDX-License-Identifier: MIT */
/*
 * A driver-side handle on a vdpa device: the part of a virtio driver that
 * every device class shares (Linux's virtio core plus virtio_vdpa's
 * find_vqs). It owns a memory arena, hands it to the device's map, does
 * status and feature negotiation, and sets queues up on the driver-side
 * ring code. Used by the demo and the benchmarks, and by the virtio bus.
 *
 * Not thread-safe: one thread sets a device up; afterwards each queue may
 * be driven by its own thread.
 */
#ifndef UVDPA_VIRTIO_DEV_H
#define UVDPA_VIRTIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvdpa/vdpa.h>
#include <uvdpa/virtqueue_drv.h>

struct virtio_vq {
	struct vq_drv drv;
	uint16_t idx;
	int callfd; /* the device's interrupt, an eventfd */
};

struct virtio_dev {
	struct vdpa_device *vdev;
	uint64_t features; /* negotiated */
	uint32_t nvqs;
	struct virtio_vq *vqs;

	/* the arena: a memfd, mapped here and given to the device at iova */
	int memfd;
	uint8_t *mem;
	size_t mem_size;
	uint64_t mem_iova;
	size_t mem_used;
};

/* Reset the device and give it an arena of @mem_size bytes at @iova. */
int virtio_dev_init(struct virtio_dev *d, struct vdpa_device *vdev,
		    size_t mem_size, uint64_t iova);
/* Reset the device, take its queues down, free the arena. */
void virtio_dev_done(struct virtio_dev *d);

/* ACKNOWLEDGE, DRIVER, features = @want & device's, FEATURES_OK. */
int virtio_dev_negotiate(struct virtio_dev *d, uint64_t want);
/*
 * Set up @nvqs queues of @size entries (@ind_max entries per indirect
 * table, 0 for none), each with an eventfd interrupt, and enable them.
 */
int virtio_dev_find_vqs(struct virtio_dev *d, uint32_t nvqs, uint32_t size,
			uint16_t ind_max);
int virtio_dev_driver_ok(struct virtio_dev *d);

/* Carve @size bytes from the arena; NULL when it is exhausted. */
void *virtio_dev_alloc(struct virtio_dev *d, size_t size, size_t align,
		       uint64_t *iova);

static inline void *virtio_dev_ptr(struct virtio_dev *d, uint64_t iova)
{
	return d->mem + (iova - d->mem_iova);
}

/* Publish queue @idx's new chains and kick if the device wants it. */
void virtio_vq_kick(struct virtio_dev *d, uint16_t idx);
/* Wait up to @ms for queue @idx's interrupt; 1 if it came, 0 on timeout. */
int virtio_vq_wait(struct virtio_dev *d, uint16_t idx, int ms);

#endif
