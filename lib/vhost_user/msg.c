// SPDX-License-Identifier: MIT
/*
 * vhost-user framing: a 12-byte header, a payload of header.size bytes,
 * and up to 8 file descriptors riding with the first bytes (SCM_RIGHTS).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uvdpa/compiler.h>
#include <uvdpa/vhost_user.h>

#include "vhost_user/msg.h"

/* What vu_send_bytes() lets through: more than a message may carry, so
 * tests can check that a peer closes the extra ones. */
#define VU_SEND_MAX_FDS 32

static const char *const vu_names[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = "GET_FEATURES",
	[VU_SET_FEATURES] = "SET_FEATURES",
	[VU_SET_OWNER] = "SET_OWNER",
	[VU_RESET_OWNER] = "RESET_OWNER",
	[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_SET_LOG_BASE] = "SET_LOG_BASE",
	[VU_SET_LOG_FD] = "SET_LOG_FD",
	[VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VU_SEND_RARP] = "SEND_RARP",
	[VU_NET_SET_MTU] = "NET_SET_MTU",
	[VU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VU_IOTLB_MSG] = "IOTLB_MSG",
	[VU_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[VU_GET_CONFIG] = "GET_CONFIG",
	[VU_SET_CONFIG] = "SET_CONFIG",
	[VU_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
	[VU_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
	[VU_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
	[VU_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
	[VU_POSTCOPY_END] = "POSTCOPY_END",
	[VU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VU_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
	[VU_RESET_DEVICE] = "RESET_DEVICE",
	[VU_VRING_KICK] = "VRING_KICK",
	[VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VU_ADD_MEM_REG] = "ADD_MEM_REG",
	[VU_REM_MEM_REG] = "REM_MEM_REG",
	[VU_SET_STATUS] = "SET_STATUS",
	[VU_GET_STATUS] = "GET_STATUS",
};

const char *vu_request_name(uint32_t request)
{
	if (request < VU_REQUEST_MAX && vu_names[request])
		return vu_names[request];
	return "UNKNOWN";
}

void vu_close_fds(struct vu_msg *msg)
{
	for (unsigned int i = 0; i < msg->nfds; i++)
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	msg->nfds = 0;
}

static void vu_take_fds(struct vu_rx *rx, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int *fds;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			if (rx->msg.nfds < VU_MAX_FDS)
				rx->msg.fds[rx->msg.nfds++] = fds[i];
			else
				close(fds[i]); /* more than the protocol allows */
		}
	}
}

/* Read what is there, up to the end of the current message. */
static ssize_t vu_rx_read(int fd, struct vu_rx *rx, size_t want)
{
	char cbuf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
	struct iovec iov = { (char *)&rx->msg + rx->len, want - rx->len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n > 0) {
		vu_take_fds(rx, &mh);
		rx->len += (size_t)n;
	}
	return n;
}

int vu_msg_recv(int fd, struct vu_rx *rx)
{
	for (;;) {
		size_t want = VU_HDR_SIZE;
		ssize_t n;

		if (rx->len >= VU_HDR_SIZE) {
			if (rx->msg.hdr.size > sizeof(rx->msg.payload))
				return -EMSGSIZE;
			want += rx->msg.hdr.size;
			if (rx->len == want)
				return 1; /* a whole message */
		}
		n = vu_rx_read(fd, rx, want);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0
								       : -errno;
	}
}

void vu_rx_reset(struct vu_rx *rx)
{
	vu_close_fds(&rx->msg);
	rx->len = 0;
	memset(&rx->msg.hdr, 0, sizeof(rx->msg.hdr));
}

ssize_t vu_sendmsg(int fd, const void *buf, size_t len, const int *fds,
		   unsigned int nfds, int flags)
{
	char cbuf[CMSG_SPACE(VU_SEND_MAX_FDS * sizeof(int))] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > VU_SEND_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int vu_send_bytes(int fd, const void *buf, size_t len, const int *fds,
		  unsigned int nfds)
{
	/* a front end that does not read its replies is dropped */
	ssize_t n = vu_sendmsg(fd, buf, len, fds, nfds, MSG_DONTWAIT);

	if (n < 0)
		return (int)n;
	return n == (ssize_t)len ? 0 : -EIO;
}

int vu_msg_send(int fd, const struct vu_msg *msg, const int *fds,
		unsigned int nfds)
{
	if (nfds > VU_MAX_FDS || msg->hdr.size > sizeof(msg->payload))
		return -EINVAL;
	return vu_send_bytes(fd, msg, VU_HDR_SIZE + msg->hdr.size, fds, nfds);
}
