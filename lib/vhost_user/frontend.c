// SPDX-License-Identifier: MIT
/*
 * uvdpa's vhost-user front end (include/uvdpa/vu_frontend.h): the
 * connection, one request at a time, and the steps of QEMU's
 * vhost_user_backend_init and vhost_dev_start that are not about rings
 * (reference §9.5). Rings and memory are in fe_rings.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/compiler.h>
#include <uvdpa/uapi.h>

#include "vhost_user/fe_internal.h"
#include "vhost_user/msg.h"

#define FE_TIMEOUT_MS 5000

/* ---- transport ---- */

static int64_t fe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until @fd is ready for @events; -ETIMEDOUT past @deadline. */
static int fe_poll(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - fe_now_ms();
		int n;

		if (left < 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0; /* hang-ups too: the next call tells */
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int vu_fe_send_raw(struct vu_fe *fe, const void *buf, size_t len,
		   const int *fds, unsigned int nfds)
{
	int64_t deadline = fe_now_ms() + fe->timeout_ms;
	const char *p = buf;
	int ret = 0;

	if (fe->sock < 0)
		return -ENOTCONN;
	while (len) {
		ssize_t n =
			vu_sendmsg(fe->sock, p, len, fds, nfds, MSG_DONTWAIT);

		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			ret = fe_poll(fe->sock, POLLOUT, deadline);
		} else if (n < 0) {
			ret = n == -EPIPE ? -ECONNRESET : (int)n;
		} else {
			/* the fds went with the first byte */
			p += n;
			len -= (size_t)n;
			nfds = 0;
		}
		if (ret)
			return ret;
	}
	return 0;
}

int vu_fe_recv(struct vu_fe *fe, struct vu_msg *msg, int ms)
{
	int64_t deadline = fe_now_ms() + ms;
	int ret;

	if (fe->sock < 0)
		return -ENOTCONN;
	for (;;) {
		ret = vu_msg_recv(fe->sock, fe->rx);
		if (ret < 0)
			return ret;
		if (ret == 1)
			break;
		ret = fe_poll(fe->sock, POLLIN, deadline);
		if (ret)
			return ret;
	}
	*msg = fe->rx->msg;
	fe->rx->msg.nfds = 0; /* the caller's now */
	vu_rx_reset(fe->rx);
	return 0;
}

int vu_fe_xfer(struct vu_fe *fe, const struct vu_msg *msg, const int *fds,
	       unsigned int nfds, struct vu_msg *reply)
{
	int ret;

	if (msg->hdr.size > sizeof(msg->payload))
		return -EINVAL;
	ret = vu_fe_send_raw(fe, msg, VU_HDR_SIZE + msg->hdr.size, fds, nfds);
	if (ret || !reply)
		return ret;
	return vu_fe_recv(fe, reply, fe->timeout_ms);
}

static int fe_ack(const struct vu_msg *reply)
{
	uint64_t v = reply->payload.u64;

	if (reply->hdr.size != sizeof(uint64_t))
		return -EPROTO;
	if (v == 0)
		return 0;
	/* the back end's errno; libvhost-user says 1 */
	return v < 4096 ? -(int)v : -EIO;
}

/* A reply must answer @req, be marked a reply and carry no fds. */
static int fe_reply_check(const struct vu_msg *reply, uint32_t req)
{
	uint32_t f = reply->hdr.flags;

	if (reply->hdr.request != req || !(f & VU_FLAG_REPLY) ||
	    (f & VU_FLAG_VERSION_MASK) != VU_VERSION || reply->nfds)
		return -EPROTO;
	return 0;
}

/*
 * Send @msg (request, size and payload filled) and wait for its reply
 * when @reply, or for its ack when REPLY_ACK was negotiated. The reply
 * lands in @msg.
 */
static int fe_transact(struct vu_fe *fe, struct vu_msg *msg, const int *fds,
		       unsigned int nfds, bool reply)
{
	bool ack = !reply && fe_has(fe, VU_PROTOCOL_F_REPLY_ACK);
	uint32_t req = msg->hdr.request;
	int ret;

	msg->hdr.flags = VU_VERSION | (ack ? VU_FLAG_NEED_REPLY : 0);
	ret = vu_fe_xfer(fe, msg, fds, nfds, reply || ack ? msg : NULL);
	if (ret || !(reply || ack))
		return ret;
	ret = fe_reply_check(msg, req);
	if (ret) {
		vu_close_fds(msg);
		return ret;
	}
	return ack ? fe_ack(msg) : 0;
}

int vu_fe_request(struct vu_fe *fe, uint32_t req, const void *payload,
		  uint32_t size, const int *fds, unsigned int nfds)
{
	struct vu_msg msg = { .hdr = { .request = req, .size = size } };

	if (size > sizeof(msg.payload) || nfds > VU_MAX_FDS)
		return -EINVAL;
	if (size)
		memcpy(&msg.payload, payload, size);
	return fe_transact(fe, &msg, fds, nfds, false);
}

int vu_fe_get_u64(struct vu_fe *fe, uint32_t req, uint64_t *val)
{
	struct vu_msg msg = { .hdr = { .request = req } };
	int ret = fe_transact(fe, &msg, NULL, 0, true);

	if (ret)
		return ret;
	if (msg.hdr.size != sizeof(uint64_t))
		return -EPROTO;
	*val = msg.payload.u64;
	return 0;
}

int vu_fe_set_u64(struct vu_fe *fe, uint32_t req, uint64_t val, const int *fds,
		  unsigned int nfds)
{
	return vu_fe_request(fe, req, &val, sizeof(val), fds, nfds);
}

/* ---- config and status ---- */

int vu_fe_get_config(struct vu_fe *fe, uint32_t offset, void *buf, uint32_t len)
{
	struct vu_msg msg = { .hdr = { .request = VU_GET_CONFIG } };
	const struct vu_config *c = &msg.payload.config;
	int ret;

	if (len > VU_CONFIG_MAX)
		return -EINVAL;
	msg.hdr.size = VU_CONFIG_HDR_SIZE + len;
	msg.payload.config.offset = offset;
	msg.payload.config.size = len;
	ret = fe_transact(fe, &msg, NULL, 0, true);
	if (ret)
		return ret;
	if (msg.hdr.size == 0)
		return -EIO; /* the protocol's only way to say no */
	if (msg.hdr.size != VU_CONFIG_HDR_SIZE + len || c->size != len ||
	    c->offset != offset)
		return -EPROTO;
	memcpy(buf, c->payload, len);
	return 0;
}

int vu_fe_set_config(struct vu_fe *fe, uint32_t offset, const void *buf,
		     uint32_t len, uint32_t flags)
{
	struct vu_config c = { .offset = offset, .size = len, .flags = flags };

	if (len > VU_CONFIG_MAX)
		return -EINVAL;
	memcpy(c.payload, buf, len);
	return vu_fe_request(fe, VU_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + len,
			     NULL, 0);
}

int vu_fe_get_status(struct vu_fe *fe, uint8_t *status)
{
	uint64_t v;
	int ret = vu_fe_get_u64(fe, VU_GET_STATUS, &v);

	if (ret)
		return ret;
	if (v > UINT8_MAX)
		return -EPROTO;
	*status = (uint8_t)v;
	return 0;
}

int vu_fe_set_status(struct vu_fe *fe, uint8_t status)
{
	int ret = vu_fe_set_u64(fe, VU_SET_STATUS, status, NULL, 0);

	if (!ret)
		fe->status = status;
	return ret;
}

/* ---- connect ---- */

static int fe_sock_connect(struct vu_fe *fe, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	int ret;

	if (!len || len >= sizeof(addr.sun_path))
		return -EINVAL;
	memcpy(addr.sun_path, path, len);
	fe->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fe->sock < 0)
		return -errno;
	/* blocking connect: a back end's backlog holds a waiting front end */
	if (connect(fe->sock, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		close(fe->sock);
		fe->sock = -1;
		return ret;
	}
	return 0;
}

static int fe_protocol(struct vu_fe *fe, uint64_t mask)
{
	uint64_t want;
	int ret;

	ret = vu_fe_get_u64(fe, VU_GET_PROTOCOL_FEATURES,
			    &fe->protocol_offered);
	if (ret)
		return ret;
	want = fe->protocol_offered & mask & ~VU_FE_PROTOCOL_NONE;
	/* acked only from the next message on: this one is not */
	ret = vu_fe_set_u64(fe, VU_SET_PROTOCOL_FEATURES, want, NULL, 0);
	if (ret)
		return ret;
	fe->protocol_features = want;
	if (fe_has(fe, VU_PROTOCOL_F_MQ) &&
	    (ret = vu_fe_get_u64(fe, VU_GET_QUEUE_NUM, &fe->queue_num)))
		return ret;
	if (fe_has(fe, VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
		ret = vu_fe_get_u64(fe, VU_GET_MAX_MEM_SLOTS,
				    &fe->max_mem_slots);
	return ret;
}

static int fe_handshake(struct vu_fe *fe, uint64_t mask)
{
	int ret = vu_fe_get_u64(fe, VU_GET_FEATURES, &fe->dev_features);

	if (ret)
		return ret;
	if ((fe->dev_features & BIT_ULL(VU_F_PROTOCOL_FEATURES)) &&
	    (ret = fe_protocol(fe, mask ? mask : VU_FE_PROTOCOL_DEFAULT)))
		return ret;
	return vu_fe_request(fe, VU_SET_OWNER, NULL, 0, NULL, 0);
}

int vu_fe_connect(struct vu_fe *fe, const struct vu_fe_cfg *cfg)
{
	int ret;

	memset(fe, 0, sizeof(*fe));
	fe->sock = fe->memfd = -1;
	fe->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : FE_TIMEOUT_MS;
	fe->max_mem_slots = VU_MAX_MEM_REGIONS;
	fe->rx = calloc(1, sizeof(*fe->rx));
	if (!fe->rx)
		return -ENOMEM;
	if ((ret = fe_arena_new(fe, cfg)) ||
	    (ret = fe_sock_connect(fe, cfg->path)) ||
	    (ret = fe_handshake(fe, cfg->protocol_mask)))
		vu_fe_close(fe);
	return ret;
}

void vu_fe_close(struct vu_fe *fe)
{
	if (fe->sock >= 0)
		close(fe->sock);
	fe->sock = -1;
	fe_vqs_free(fe);
	fe_arena_free(fe);
	if (fe->rx) {
		vu_rx_reset(fe->rx);
		free(fe->rx);
		fe->rx = NULL;
	}
}

/* ---- negotiation ---- */

/* What the driver-side split rings (vring_drv.c) cannot do. */
#define FE_RING_UNSUPPORTED                                                    \
	(BIT_ULL(VIRTIO_F_RING_PACKED) | BIT_ULL(VIRTIO_F_IN_ORDER) |          \
	 BIT_ULL(VIRTIO_F_NOTIFICATION_DATA) | BIT_ULL(VIRTIO_F_RING_RESET))

int vu_fe_negotiate(struct vu_fe *fe, uint64_t want)
{
	uint64_t f = want & fe->dev_features & ~FE_RING_UNSUPPORTED;
	uint64_t bit30 = f & BIT_ULL(VU_F_PROTOCOL_FEATURES);
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	bool status = fe_has(fe, VU_PROTOCOL_F_STATUS);
	int ret;

	/* the virtio order; QEMU sets FEATURES_OK alone, then the rest */
	if (status && (ret = vu_fe_set_status(fe, s)))
		return ret;
	ret = vu_fe_set_u64(fe, VU_SET_FEATURES, f, NULL, 0);
	if (ret)
		return ret;
	fe->features = f & ~bit30;
	fe->vring_enable = bit30;
	if (!status)
		return 0;
	if ((ret = vu_fe_set_status(fe, s | VIRTIO_CONFIG_S_FEATURES_OK)) ||
	    (ret = vu_fe_get_status(fe, &s)))
		return ret;
	return s & VIRTIO_CONFIG_S_FEATURES_OK ? 0 : -ENODEV;
}

int vu_fe_driver_ok(struct vu_fe *fe)
{
	if (!fe_has(fe, VU_PROTOCOL_F_STATUS))
		return 0;
	return vu_fe_set_status(fe, fe->status | VIRTIO_CONFIG_S_DRIVER_OK);
}

int vu_fe_start(struct vu_fe *fe, uint64_t want, uint32_t nvqs, uint32_t size,
		uint16_t ind_max)
{
	int ret;

	if ((ret = vu_fe_negotiate(fe, want)) || (ret = vu_fe_set_mem(fe)) ||
	    (ret = vu_fe_setup_vqs(fe, nvqs, size, ind_max)))
		return ret;
	return vu_fe_driver_ok(fe);
}

int vu_fe_reset(struct vu_fe *fe)
{
	int ret;

	if (fe_has(fe, VU_PROTOCOL_F_RESET_DEVICE))
		ret = vu_fe_request(fe, VU_RESET_DEVICE, NULL, 0, NULL, 0);
	else if (fe_has(fe, VU_PROTOCOL_F_STATUS))
		ret = vu_fe_set_status(fe, 0);
	else
		ret = -EOPNOTSUPP;
	if (ret)
		return ret;
	fe_vqs_free(fe);
	fe->status = 0;
	fe->features = 0;
	return 0;
}
