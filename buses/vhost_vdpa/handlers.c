// SPDX-License-Identifier: MIT
/*
 * One row per vhost-user message: its handler, the fds it carries, the
 * least payload it needs, whether it is answered, and the config ops it
 * becomes (the user-space form of drivers/vhost/vdpa.c's ioctl table).
 * vu_dispatch() validates a message against its row before the handler
 * runs, closes every fd the handler did not keep, and sends the reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uvdpa/uapi.h>
#include <uvdpa/virtqueue.h>

#include "vu_internal.h"

#define VU_PROTOCOL_FEATURES                                                   \
	(BIT_ULL(VU_PROTOCOL_F_MQ) | BIT_ULL(VU_PROTOCOL_F_REPLY_ACK) |        \
	 BIT_ULL(VU_PROTOCOL_F_CONFIG) | BIT_ULL(VU_PROTOCOL_F_STATUS) |       \
	 BIT_ULL(VU_PROTOCOL_F_RESET_DEVICE) |                                 \
	 BIT_ULL(VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                          \
	 BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ))

/* FDS_STRAY: none expected, one tolerated and closed (REM_MEM_REG: the
 * spec says so, as some front ends send the region's fd along) */
enum vu_fds { FDS_NONE, FDS_ONE, FDS_VRING, FDS_TABLE, FDS_STRAY };

struct vu_handler {
	int (*fn)(struct vu_backend *b, struct vu_msg *msg);
	enum vu_fds fds;
	uint16_t size; /* least payload */
	bool reply; /* answered with a payload */
	const char *ops; /* what it becomes on the device */
};

static bool is_net(const struct vu_backend *b)
{
	return b->vdev->config->get_device_id(b->vdev) == VIRTIO_ID_NET;
}

static uint64_t vu_features_offered(const struct vu_backend *b)
{
	uint64_t f = b->vdev->config->get_device_features(b->vdev);

	/* no vhost-user IOTLB: the front end must not see ACCESS_PLATFORM */
	return (f & ~BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)) |
	       BIT_ULL(VU_F_PROTOCOL_FEATURES);
}

static void reply_u64(struct vu_msg *msg, uint64_t v)
{
	msg->payload.u64 = v;
	msg->hdr.size = sizeof(uint64_t);
}

/* A vring index from a payload; -ENOBUFS beyond the device's queues. */
static int vring_idx(const struct vu_backend *b, uint32_t idx)
{
	return idx < b->nvrings ? (int)idx : -ENOBUFS;
}

static int h_get_features(struct vu_backend *b, struct vu_msg *msg)
{
	reply_u64(msg, vu_features_offered(b));
	return 0;
}

static int h_set_features(struct vu_backend *b, struct vu_msg *msg)
{
	uint64_t v = msg->payload.u64;

	if (v & ~vu_features_offered(b))
		return -EINVAL;
	b->proto_negotiated = v & BIT_ULL(VU_F_PROTOCOL_FEATURES);
	b->features = v & ~BIT_ULL(VU_F_PROTOCOL_FEATURES);
	b->features_set = true;
	/* without protocol features, rings are enabled from here on */
	for (unsigned int i = 0; !b->proto_negotiated && i < b->nvrings; i++)
		b->vrings[i].enabled = true;
	return vu_features_apply(b);
}

static int h_nop(struct vu_backend *b, struct vu_msg *msg)
{
	return 0;
}

static int vu_reset_device(struct vu_backend *b, uint32_t flags)
{
	struct vdpa_callback cb = { .trigger = b->event_fd };
	int ret = vdpa_reset(b->vdev, flags);

	vu_rings_reset(b);
	b->features_set = false;
	/* a reset forgets the config interrupt: give it back */
	b->vdev->config->set_config_cb(b->vdev, &cb);
	return ret;
}

/* RESET_OWNER (deprecated) and RESET_DEVICE alike */
static int h_reset(struct vu_backend *b, struct vu_msg *msg)
{
	return vu_reset_device(b, 0);
}

static int h_set_mem_table(struct vu_backend *b, struct vu_msg *msg)
{
	return vu_mem_set_table(b, msg);
}

static int h_add_mem_reg(struct vu_backend *b, struct vu_msg *msg)
{
	return vu_mem_add(b, msg);
}

static int h_rem_mem_reg(struct vu_backend *b, struct vu_msg *msg)
{
	return vu_mem_rem(b, msg);
}

static int h_get_max_mem_slots(struct vu_backend *b, struct vu_msg *msg)
{
	reply_u64(msg, VU_MAX_MEM_SLOTS);
	return 0;
}

static int h_set_vring_num(struct vu_backend *b, struct vu_msg *msg)
{
	int i = vring_idx(b, msg->payload.state.index);
	uint32_t num = msg->payload.state.num;

	if (i < 0)
		return i;
	if (b->vrings[i].started)
		return -EBUSY; /* resizing a running ring: refused */
	if (!is_power_of_2(num) || num > VQ_MAX_SIZE ||
	    num > b->vdev->config->get_vq_num_max(b->vdev))
		return -EINVAL;
	b->vrings[i].num = num;
	return 0;
}

static int h_set_vring_addr(struct vu_backend *b, struct vu_msg *msg)
{
	const struct vu_vring_addr *a = &msg->payload.addr;
	int i = vring_idx(b, a->index);
	struct vu_vring *r;

	if (i < 0)
		return i;
	r = &b->vrings[i];
	if (r->started)
		return -EBUSY;
	if (a->flags & 1) /* VHOST_VRING_F_LOG: LOG_ALL is not offered */
		return -EINVAL;
	/* front-end virtual addresses: to guest physical ones, the iovas */
	if (!vu_uva_to_gpa(b, a->desc_user_addr, &r->desc) ||
	    !vu_uva_to_gpa(b, a->avail_user_addr, &r->avail) ||
	    !vu_uva_to_gpa(b, a->used_user_addr, &r->used))
		return -EFAULT;
	r->addr_set = true;
	return 0;
}

static int h_set_vring_base(struct vu_backend *b, struct vu_msg *msg)
{
	int i = vring_idx(b, msg->payload.state.index);

	if (i < 0)
		return i;
	if (b->vrings[i].started)
		return -EBUSY;
	if (msg->payload.state.num > UINT16_MAX)
		return -EINVAL; /* split rings: a 16-bit index */
	b->vrings[i].base = (uint16_t)msg->payload.state.num;
	return 0;
}

static int h_get_vring_base(struct vu_backend *b, struct vu_msg *msg)
{
	int i = vring_idx(b, msg->payload.state.index);
	struct vu_vring *r;

	if (i < 0)
		return i;
	r = &b->vrings[i];
	/* stops the ring; its kick fd comes again at the next start */
	r->started = false;
	vu_ring_update(b, (unsigned int)i);
	vdpa_set_vq_kickfd(b->vdev, (uint16_t)i, -1);
	if (r->kick_fd >= 0)
		close(r->kick_fd);
	r->kick_fd = -1;
	msg->payload.state.num = r->base;
	msg->hdr.size = sizeof(msg->payload.state);
	return 0;
}

/*
 * Kick, call and error fds must be eventfds: the shared data path workers
 * wait on them and write them, and a pipe at EOF would be readable for
 * ever (a worker spinning) and a full one would block a worker serving
 * other devices. Without /proc the check cannot be made and is skipped.
 */
static bool fd_is_eventfd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return errno != EBADF;
	target[n] = '\0';
	return !strcmp(target, "anon_inode:[eventfd]");
}

/*
 * The fd of a SET_VRING_KICK/CALL/ERR, now the back end's (-1: none).
 * Made non-blocking: a worker writing a call fd whose counter is full, or
 * draining a kick fd someone else drained, must not stop serving every
 * other queue it has. (QEMU and DPDK create them non-blocking anyway.)
 */
static int vring_fd_take(struct vu_msg *msg)
{
	int fd, fl;

	if (msg->payload.u64 & VU_VRING_NOFD || msg->nfds != 1)
		return -1;
	fd = msg->fds[0];
	msg->fds[0] = -1; /* kept: not closed by the dispatcher */
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fd;
}

/* Check the fd a vring message carries, before anything uses it. */
static int vring_fd_check(struct vu_backend *b, const struct vu_msg *msg)
{
	if (msg->payload.u64 & VU_VRING_NOFD || msg->nfds != 1 ||
	    fd_is_eventfd(msg->fds[0]))
		return 0;
	vu_log(b, VU_LOG_WARN, "%s: %s with an fd that is not an eventfd",
	       b->vdev->name, vu_request_name(msg->hdr.request));
	return -EINVAL;
}

static void vring_fd_set(int *slot, int fd)
{
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

static int h_set_vring_kick(struct vu_backend *b, struct vu_msg *msg)
{
	int i = vring_idx(b, (uint32_t)(msg->payload.u64 & VU_VRING_IDX_MASK));
	int fd, ret;

	if (i < 0)
		return i;
	if (msg->payload.u64 & VU_VRING_NOFD)
		return -EOPNOTSUPP; /* the data path waits on a kick fd */
	if ((ret = vring_fd_check(b, msg)))
		return ret;
	fd = vring_fd_take(msg);
	ret = vdpa_set_vq_kickfd(b->vdev, (uint16_t)i, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	vring_fd_set(&b->vrings[i].kick_fd, fd);
	/* the first kick starts the ring */
	b->vrings[i].started = true;
	return vu_ring_update(b, (unsigned int)i);
}

static int h_set_vring_call(struct vu_backend *b, struct vu_msg *msg)
{
	int i = vring_idx(b, (uint32_t)(msg->payload.u64 & VU_VRING_IDX_MASK));
	int fd, ret;

	if (i < 0)
		return i;
	if ((ret = vring_fd_check(b, msg)))
		return ret;
	fd = vring_fd_take(msg);
	ret = vdpa_set_vq_callfd(b->vdev, (uint16_t)i, fd);
	if (ret) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	vring_fd_set(&b->vrings[i].call_fd, fd);
	return 0;
}

static int h_set_vring_err(struct vu_backend *b, struct vu_msg *msg)
{
	int i = vring_idx(b, (uint32_t)(msg->payload.u64 & VU_VRING_IDX_MASK));
	int ret;

	if (i < 0)
		return i;
	if ((ret = vring_fd_check(b, msg)))
		return ret;
	vring_fd_set(&b->vrings[i].err_fd, vring_fd_take(msg));
	return 0;
}

static uint64_t vu_protocol_offered(const struct vu_backend *b)
{
	uint64_t p = VU_PROTOCOL_FEATURES;

	if (is_net(b))
		p |= BIT_ULL(VU_PROTOCOL_F_NET_MTU);
	/* only a parent that tracks can make restarts lose nothing */
	if (b->vdev->config->set_vq_inflight)
		p |= BIT_ULL(VU_PROTOCOL_F_INFLIGHT_SHMFD);
	return p;
}

static int h_get_protocol_features(struct vu_backend *b, struct vu_msg *msg)
{
	reply_u64(msg, vu_protocol_offered(b));
	return 0;
}

static int h_set_protocol_features(struct vu_backend *b, struct vu_msg *msg)
{
	if (msg->payload.u64 & ~vu_protocol_offered(b))
		return -EINVAL;
	b->protocol_features = msg->payload.u64;
	b->proto_set = true;
	return 0;
}

static int h_get_queue_num(struct vu_backend *b, struct vu_msg *msg)
{
	/* net counts queue pairs (the control queue stays in the VMM) */
	reply_u64(msg, is_net(b) ? b->nvrings / 2 : b->nvrings);
	return 0;
}

static int h_set_vring_enable(struct vu_backend *b, struct vu_msg *msg)
{
	int i = vring_idx(b, msg->payload.state.index);

	if (i < 0)
		return i;
	/* QEMU enables rings once protocol features were exchanged, which
	 * may be before SET_FEATURES acks bit 30 */
	if (!(b->proto_negotiated || b->proto_set) ||
	    msg->payload.state.num > 1)
		return -EINVAL;
	b->vrings[i].enabled = msg->payload.state.num;
	return vu_ring_update(b, (unsigned int)i);
}

static int h_net_set_mtu(struct vu_backend *b, struct vu_msg *msg)
{
	uint64_t mtu = msg->payload.u64;

	if (!is_net(b) || mtu < 68 || mtu > UINT16_MAX)
		return -EINVAL;
	/* read by vu_backend_mtu() from any thread */
	__atomic_store_n(&b->mtu, (uint16_t)mtu, __ATOMIC_RELAXED);
	vu_log(b, VU_LOG_INFO, "%s: NET_SET_MTU %u", b->vdev->name,
	       (unsigned int)mtu);
	return 0;
}

static int h_set_backend_req_fd(struct vu_backend *b, struct vu_msg *msg)
{
	vring_fd_set(&b->backend_req_fd, msg->fds[0]);
	msg->fds[0] = -1;
	return 0;
}

static int config_range(struct vu_backend *b, const struct vu_config *c)
{
	size_t size = b->vdev->config->get_config_size(b->vdev);

	if (c->size > VU_CONFIG_MAX || c->offset > size ||
	    c->size > size - c->offset)
		return -EINVAL;
	return 0;
}

static int h_get_config(struct vu_backend *b, struct vu_msg *msg)
{
	struct vu_config *c = &msg->payload.config;
	int ret = config_range(b, c);

	if (!ret)
		ret = vdpa_get_config(b->vdev, c->offset, c->payload, c->size);
	/* a reply of size 0 is the protocol's error */
	msg->hdr.size = ret ? 0 : VU_CONFIG_HDR_SIZE + c->size;
	return 0;
}

static int h_set_config(struct vu_backend *b, struct vu_msg *msg)
{
	struct vu_config *c = &msg->payload.config;
	int ret = config_range(b, c);

	if (ret || msg->hdr.size < VU_CONFIG_HDR_SIZE + c->size)
		return -EINVAL;
	return vdpa_set_config(b->vdev, c->offset, c->payload, c->size);
}

static int h_set_status(struct vu_backend *b, struct vu_msg *msg)
{
	uint64_t status = msg->payload.u64;
	int ret;

	if (status > UINT8_MAX)
		return -EINVAL;
	if (status == 0)
		return vu_reset_device(b, 0);
	ret = vdpa_set_status(b->vdev, (uint8_t)status);
	if (!ret && (status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(vdpa_get_status(b->vdev) & VIRTIO_CONFIG_S_FEATURES_OK))
		ret = -EINVAL; /* the device refused the features */
	return ret;
}

static int h_get_status(struct vu_backend *b, struct vu_msg *msg)
{
	reply_u64(msg, vdpa_get_status(b->vdev));
	return 0;
}

#define ROW(req, f, fdk, sz, rep, op)                                          \
	[req] = { .fn = f, .fds = fdk, .size = sz, .reply = rep, .ops = op }

static const struct vu_handler vu_handlers[VU_REQUEST_MAX] = {
	ROW(VU_GET_FEATURES, h_get_features, FDS_NONE, 0, true,
	    "get_device_features, minus ACCESS_PLATFORM, plus bit 30"),
	ROW(VU_SET_FEATURES, h_set_features, FDS_NONE, 8, false,
	    "set_driver_features (+ACCESS_PLATFORM); set_status if ours"),
	ROW(VU_SET_OWNER, h_nop, FDS_NONE, 0, false, "-"),
	ROW(VU_RESET_OWNER, h_reset, FDS_NONE, 0, false, "reset"),
	ROW(VU_SET_MEM_TABLE, h_set_mem_table, FDS_TABLE, 8, false, "set_map"),
	ROW(VU_SET_VRING_NUM, h_set_vring_num, FDS_NONE, 8, false,
	    "set_vq_num, at start"),
	ROW(VU_SET_VRING_ADDR, h_set_vring_addr, FDS_NONE,
	    sizeof(struct vu_vring_addr), false, "set_vq_address, at start"),
	ROW(VU_SET_VRING_BASE, h_set_vring_base, FDS_NONE, 8, false,
	    "set_vq_state, at start"),
	ROW(VU_GET_VRING_BASE, h_get_vring_base, FDS_NONE, 8, true,
	    "set_vq_ready(0), get_vq_state"),
	ROW(VU_SET_VRING_KICK, h_set_vring_kick, FDS_VRING, 8, false,
	    "set_vq_kickfd; starts: set_vq_*, set_vq_ready(1)"),
	ROW(VU_SET_VRING_CALL, h_set_vring_call, FDS_VRING, 8, false,
	    "set_vq_callfd"),
	ROW(VU_SET_VRING_ERR, h_set_vring_err, FDS_VRING, 8, false,
	    "- (signalled on NEEDS_RESET)"),
	ROW(VU_GET_PROTOCOL_FEATURES, h_get_protocol_features, FDS_NONE, 0,
	    true, "-"),
	ROW(VU_SET_PROTOCOL_FEATURES, h_set_protocol_features, FDS_NONE, 8,
	    false, "-"),
	ROW(VU_GET_QUEUE_NUM, h_get_queue_num, FDS_NONE, 0, true, "nvqs"),
	ROW(VU_SET_VRING_ENABLE, h_set_vring_enable, FDS_NONE, 8, false,
	    "set_vq_ready"),
	ROW(VU_SEND_RARP, h_nop, FDS_NONE, 8, false, "-"),
	ROW(VU_NET_SET_MTU, h_net_set_mtu, FDS_NONE, 8, false, "-"),
	ROW(VU_SET_BACKEND_REQ_FD, h_set_backend_req_fd, FDS_ONE, 0, false,
	    "-"),
	ROW(VU_GET_CONFIG, h_get_config, FDS_NONE, VU_CONFIG_HDR_SIZE, true,
	    "get_config"),
	ROW(VU_SET_CONFIG, h_set_config, FDS_NONE, VU_CONFIG_HDR_SIZE, false,
	    "set_config"),
	ROW(VU_RESET_DEVICE, h_reset, FDS_NONE, 0, false, "reset"),
	ROW(VU_GET_MAX_MEM_SLOTS, h_get_max_mem_slots, FDS_NONE, 0, true, "-"),
	ROW(VU_ADD_MEM_REG, h_add_mem_reg, FDS_ONE,
	    sizeof(struct vu_mem_single), false, "set_map"),
	ROW(VU_REM_MEM_REG, h_rem_mem_reg, FDS_STRAY,
	    sizeof(struct vu_mem_single), false, "set_map"),
	ROW(VU_SET_STATUS, h_set_status, FDS_NONE, 8, false,
	    "set_status (0: reset)"),
	ROW(VU_GET_STATUS, h_get_status, FDS_NONE, 0, true, "get_status"),
	ROW(VU_GET_INFLIGHT_FD, vu_inflight_get, FDS_NONE,
	    sizeof(struct vu_inflight), true, "- (a region, with its fd)"),
	ROW(VU_SET_INFLIGHT_FD, vu_inflight_set, FDS_ONE,
	    sizeof(struct vu_inflight), false, "set_vq_inflight, at start"),
};

static bool vu_fds_ok(const struct vu_handler *h, const struct vu_msg *msg)
{
	switch (h->fds) {
	case FDS_NONE:
		return msg->nfds == 0;
	case FDS_ONE:
		return msg->nfds == 1;
	case FDS_VRING:
		return msg->nfds == (msg->payload.u64 & VU_VRING_NOFD ? 0 : 1);
	case FDS_TABLE:
		return true; /* checked against nregions by the handler */
	case FDS_STRAY:
		return msg->nfds <= 1;
	}
	return false;
}

static int vu_reply(struct vu_backend *b, struct vu_msg *msg)
{
	int fd = b->reply_fd, ret;

	msg->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	b->reply_fd = -1;
	ret = vu_msg_send(b->conn_fd, msg, fd >= 0 ? &fd : NULL,
			  fd >= 0 ? 1 : 0);
	return ret;
}

static int vu_run(struct vu_backend *b, const struct vu_handler *h,
		  struct vu_msg *msg)
{
	uint32_t req = msg->hdr.request;

	if (!h->fn) {
		vu_log(b, VU_LOG_WARN, "%s: request %u (%s) not supported",
		       b->vdev->name, req, vu_request_name(req));
		return -EOPNOTSUPP;
	}
	if (!vu_fds_ok(h, msg) || msg->hdr.size < h->size) {
		vu_log(b, VU_LOG_WARN,
		       "%s: %s with %u bytes and %u fds: "
		       "malformed",
		       b->vdev->name, vu_request_name(req), msg->hdr.size,
		       msg->nfds);
		return -EINVAL;
	}
	return h->fn(b, msg);
}

int vu_dispatch(struct vu_backend *b, struct vu_msg *msg)
{
	uint32_t req = msg->hdr.request;
	bool need_reply =
		(msg->hdr.flags & VU_FLAG_NEED_REPLY) &&
		(b->protocol_features & BIT_ULL(VU_PROTOCOL_F_REPLY_ACK));
	const struct vu_handler *h;
	int ret;

	if ((msg->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		return -EPROTO;
	h = req < VU_REQUEST_MAX ? &vu_handlers[req] : &vu_handlers[0];
	vu_log(b, VU_LOG_DEBUG, "%s: %s", b->vdev->name, vu_request_name(req));
	ret = vu_run(b, h, msg);
	vu_close_fds(msg);
	if (ret)
		vu_log(b, VU_LOG_WARN, "%s: %s failed: %s", b->vdev->name,
		       vu_request_name(req), strerror(-ret));
	if (h->reply)
		return ret ? ret : vu_reply(b, msg);
	if (need_reply) {
		reply_u64(msg, ret ? (uint64_t)-ret : 0);
		return vu_reply(b, msg);
	}
	/* without an ack the front end cannot learn of a failure: drop it */
	return ret;
}
