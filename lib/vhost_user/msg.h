/* SPDX-License-Identifier: MIT */
/*
 * vhost-user framing, shared by the back end (buses/vhost_vdpa) and the
 * front end (lib/vhost_user/frontend.c). Not a public header: both sides
 * are uvdpa's own.
 */
#ifndef UVDPA_LIB_VHOST_USER_MSG_H
#define UVDPA_LIB_VHOST_USER_MSG_H

#include <stddef.h>
#include <sys/types.h>

#include <uvdpa/vhost_user.h>

/* A message being assembled from a non-blocking stream. */
struct vu_rx {
	struct vu_msg msg;
	size_t len; /* bytes of hdr + payload received */
};

/*
 * Read what is there of the next message, without blocking. 1: a whole
 * message in rx (its fds in rx->msg.fds, the caller's); 0: need more;
 * <0: error (-EMSGSIZE for a header announcing more than a payload holds,
 * -ECONNRESET at end of stream, ...).
 */
int vu_msg_recv(int fd, struct vu_rx *rx);
/* Close the fds of the message in rx and start the next one. */
void vu_rx_reset(struct vu_rx *rx);
/* Send the header and msg->hdr.size bytes of payload, with @fds. */
int vu_msg_send(int fd, const struct vu_msg *msg, const int *fds,
		unsigned int nfds);
/* Send @len bytes as they are, with @fds: one sendmsg, never blocking. */
int vu_send_bytes(int fd, const void *buf, size_t len, const int *fds,
		  unsigned int nfds);
/* One sendmsg (MSG_NOSIGNAL | @flags): bytes sent or -errno. */
ssize_t vu_sendmsg(int fd, const void *buf, size_t len, const int *fds,
		   unsigned int nfds, int flags);
void vu_close_fds(struct vu_msg *msg);

#endif
