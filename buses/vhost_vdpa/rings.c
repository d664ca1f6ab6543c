// SPDX-License-Identifier: MIT
/*
 * Rings and status: when a vhost-user ring becomes a ready device queue.
 *
 * vhost-user starts a ring at its first kick and stops it at
 * GET_VRING_BASE, and enables it apart from that (reference §9.4); a
 * vdpa queue is ready or not, and its address and state may only change
 * before DRIVER_OK or while the device is suspended (§11 item 7). So the
 * back end keeps each ring's configuration and programs the device at the
 * moment the ring is both started and enabled, suspending the device
 * around it when it already runs.
 *
 * Without VHOST_USER_PROTOCOL_F_STATUS the back end drives the status
 * itself: ACKNOWLEDGE|DRIVER|FEATURES_OK at SET_FEATURES, DRIVER_OK when
 * the first ring starts, so front ends that never send a status
 * (cloud-hypervisor, libblkio, older QEMU) work.
 */
#include <errno.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "vu_internal.h"

#define STATUS_FEATURES                                                        \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |                \
	 VIRTIO_CONFIG_S_FEATURES_OK)

static int vu_ring_program(struct vu_backend *b, unsigned int idx)
{
	struct vu_vring *r = &b->vrings[idx];
	struct vdpa_vq_state state = { .split.avail_index = r->base };
	struct vdpa_device *vdev = b->vdev;
	int ret;

	if ((ret = vdpa_set_vq_num(vdev, (uint16_t)idx, r->num)) ||
	    (ret = vdpa_set_vq_address(vdev, (uint16_t)idx, r->desc, r->avail,
				       r->used)) ||
	    (ret = vdpa_set_vq_state(vdev, (uint16_t)idx, &state)) ||
	    (ret = vu_inflight_program(b, idx)))
		return ret;
	return vdpa_set_vq_ready(vdev, (uint16_t)idx, true);
}

static int vu_ring_start(struct vu_backend *b, unsigned int idx)
{
	struct vdpa_device *vdev = b->vdev;
	uint8_t status = vdpa_get_status(vdev);
	bool running = (status & VIRTIO_CONFIG_S_DRIVER_OK) && !vdev->suspended;
	int ret;

	if (!b->vrings[idx].addr_set || !b->vrings[idx].num)
		return -EINVAL; /* kicked before it was described */
	if (vu_status_synth(b) && !(status & VIRTIO_CONFIG_S_FEATURES_OK))
		return -EINVAL; /* kicked before SET_FEATURES */
	if (running && (ret = vdpa_suspend(vdev)))
		return ret;
	ret = vu_ring_program(b, idx);
	if (running) {
		int r2 = vdpa_resume(vdev);

		ret = ret ? ret : r2;
	}
	if (ret)
		return ret;
	b->vrings[idx].ready = true;
	if (vu_status_synth(b) && !(status & VIRTIO_CONFIG_S_DRIVER_OK))
		ret = vdpa_set_status(vdev, status | VIRTIO_CONFIG_S_DRIVER_OK);
	return ret;
}

static void vu_ring_stop(struct vu_backend *b, unsigned int idx)
{
	struct vdpa_vq_state state;

	vdpa_set_vq_ready(b->vdev, (uint16_t)idx, false);
	if (!vdpa_get_vq_state(b->vdev, (uint16_t)idx, &state))
		b->vrings[idx].base = state.split.avail_index;
	b->vrings[idx].ready = false;
}

/* Make the device queue match the ring: ready iff started and enabled. */
int vu_ring_update(struct vu_backend *b, unsigned int idx)
{
	struct vu_vring *r = &b->vrings[idx];
	bool want = r->started && r->enabled;

	if (want == r->ready)
		return 0;
	if (!want) {
		vu_ring_stop(b, idx);
		return 0;
	}
	return vu_ring_start(b, idx);
}

/* Negotiated features reach the device; the status too, when ours. */
int vu_features_apply(struct vu_backend *b)
{
	struct vdpa_device *vdev = b->vdev;
	uint64_t dev = vdev->config->get_device_features(vdev);
	/* set toward the parent, as QEMU's vhost-vdpa does: uvdpa devices
	 * translate every address through their map */
	uint64_t f = b->features | (dev & BIT_ULL(VIRTIO_F_ACCESS_PLATFORM));
	uint8_t status = vdpa_get_status(vdev);
	int ret;

	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    vdev->config->get_driver_features(vdev) == f)
		return 0; /* QEMU sends the same features more than once */
	if (!vu_status_synth(b))
		return vdpa_set_features(vdev, f);
	if (status & VIRTIO_CONFIG_S_DRIVER_OK)
		return -EBUSY;
	if (status)
		vdpa_reset(vdev, 0); /* other features: start over */
	if ((ret = vdpa_set_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE |
						 VIRTIO_CONFIG_S_DRIVER)) ||
	    (ret = vdpa_set_features(vdev, f)))
		return ret;
	return vdpa_set_status(vdev, STATUS_FEATURES);
}

static void vu_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Forget every ring (the device was reset). */
void vu_rings_reset(struct vu_backend *b)
{
	for (unsigned int i = 0; i < b->nvrings; i++) {
		struct vu_vring *r = &b->vrings[i];

		vu_close(&r->kick_fd);
		vu_close(&r->call_fd);
		vu_close(&r->err_fd);
		*r = (struct vu_vring){ .kick_fd = -1,
					.call_fd = -1,
					.err_fd = -1 };
	}
}

static void vu_rings_signal_err(struct vu_backend *b)
{
	for (unsigned int i = 0; i < b->nvrings; i++) {
		uint64_t one = 1;

		if (b->vrings[i].err_fd >= 0 &&
		    write(b->vrings[i].err_fd, &one, sizeof(one)) < 0)
			vu_log(b, VU_LOG_DEBUG,
			       "vring %u err fd: cannot signal", i);
	}
}

/*
 * Tell the front end the config space changed (a resize), on the back-end
 * channel; without one it learns at its next GET_CONFIG.
 */
static void vu_config_changed(struct vu_backend *b)
{
	const uint64_t need = BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ) |
			      BIT_ULL(VU_PROTOCOL_F_CONFIG);
	struct vu_msg msg = { .hdr = { .request = VU_BACKEND_CONFIG_CHANGE_MSG,
				       .flags = VU_VERSION } };

	if (b->backend_req_fd < 0 || (b->protocol_features & need) != need)
		return;
	if (vu_msg_send(b->backend_req_fd, &msg, NULL, 0))
		vu_log(b, VU_LOG_WARN,
		       "%s: cannot tell the front end about "
		       "a config change",
		       b->vdev->name);
	else
		vu_log(b, VU_LOG_INFO,
		       "%s: config change sent to the front "
		       "end",
		       b->vdev->name);
}

/*
 * The device's config interrupt, or the loss of the memory (mem.c): pass
 * NEEDS_RESET on to the rings, or a config change to the front end.
 */
void vu_backend_device_event(struct vu_backend *b)
{
	uint64_t v;

	if (read(b->event_fd, &v, sizeof(v)) < 0)
		return;
	if (vu_mem_lost(b)) {
		vu_rings_signal_err(b);
		return;
	}
	if (!(vdpa_get_status(b->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		vu_config_changed(b);
		return;
	}
	vu_log(b, VU_LOG_WARN, "%s: the device needs a reset (%s)",
	       b->vdev->name, "a malformed ring or request");
	vu_rings_signal_err(b);
}
