// SPDX-License-Identifier: MIT
/*
 * The management socket: accept clients, read their records, hand each to
 * the management server, and send its replies without ever blocking the
 * control thread. A client that does not read its replies gets them
 * queued, and is not read from until they are gone: what it costs is one
 * record's replies, up to a bound, past which it is dropped. When the
 * process runs out of fds, clients waiting to be accepted are refused
 * (accepted and closed at once) rather than left to wake the loop for
 * ever.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/netlink.h>

#include <uvdpa/mgmt.h>

#include "log.h"
#include "uvdpad.h"

#define CONN_MAX 1024
#define CONN_OUT_MAX (4u << 20) /* replies queued for a client, at most */
#define OUT_TOTAL_MAX (64u << 20) /* ... and for all of them */

/* Control thread only. */
static size_t out_total; /* bytes queued, every client */
static int reserve_fd = -1; /* given up to refuse a client without fds */
static bool out_of_fds; /* said once per shortage */
static bool listener_paused; /* not even the reserve: until a client goes */

struct out_rec {
	struct out_rec *next;
	size_t len;
	char data[];
};

struct conn {
	struct watch w;
	struct daemon *d;
	struct mgmt_peer peer;
	struct list_head link;
	struct out_rec *out_head, *out_tail;
	size_t out_bytes;
};

static void conn_close(struct conn *c)
{
	struct out_rec *r, *next;

	daemon_unwatch(c->d, &c->w);
	close(c->w.fd);
	for (r = c->out_head; r; r = next) {
		next = r->next;
		free(r);
	}
	out_total -= c->out_bytes;
	list_del(&c->link);
	c->d->nconns--;
	if (listener_paused && !daemon_watch(c->d, &c->d->listener, EPOLLIN))
		listener_paused = false;
	log_debug("client pid %d closed", (int)c->peer.pid);
	free(c);
}

static int conn_queue(struct conn *c, const void *buf, size_t len)
{
	struct out_rec *r;

	if (c->out_bytes + len > CONN_OUT_MAX ||
	    out_total + len > OUT_TOTAL_MAX)
		return -ENOBUFS;
	r = malloc(sizeof(*r) + len);
	if (!r)
		return -ENOMEM;
	r->next = NULL;
	r->len = len;
	memcpy(r->data, buf, len);
	if (c->out_tail)
		c->out_tail->next = r;
	else
		c->out_head = r;
	c->out_tail = r;
	c->out_bytes += len;
	out_total += len;
	/* no more requests from it until it took the answers */
	return daemon_rewatch(c->d, &c->w, EPOLLOUT);
}

/* mgmt_send_cb: send now, or queue behind what is already waiting. */
static int conn_send(void *ctx, const void *buf, size_t len)
{
	struct conn *c = ctx;
	ssize_t n;

	if (!c->out_head) {
		n = send(c->w.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n < 0 ? -errno : -EIO;
	}
	return conn_queue(c, buf, len);
}

/* Returns false when the connection is gone. */
static bool conn_flush(struct conn *c)
{
	struct out_rec *r;

	while ((r = c->out_head)) {
		ssize_t n = send(c->w.fd, r->data, r->len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n != (ssize_t)r->len)
			return false;
		c->out_head = r->next;
		if (!c->out_head)
			c->out_tail = NULL;
		c->out_bytes -= r->len;
		out_total -= r->len;
		free(r);
	}
	return daemon_rewatch(c->d, &c->w, EPOLLIN) == 0;
}

/* A record over the limit: answer its first message with EMSGSIZE. */
static void conn_reject_big(struct conn *c, const char *buf, size_t len)
{
	struct {
		struct nlmsghdr nlh;
		struct nlmsgerr err;
	} msg = { 0 };

	log_warn("client pid %d sent a %zu-byte record (limit %d)",
		 (int)c->peer.pid, len, UVDPA_MGMT_MSG_MAX);
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = NLMSG_ERROR;
	msg.nlh.nlmsg_flags = NLM_F_CAPPED;
	msg.err.error = -EMSGSIZE;
	if (len >= sizeof(msg.err.msg))
		memcpy(&msg.err.msg, buf, sizeof(msg.err.msg));
	msg.nlh.nlmsg_seq = msg.err.msg.nlmsg_seq;
	conn_send(c, &msg, sizeof(msg));
}

/* Returns false when the connection is gone. */
static bool conn_read(struct conn *c)
{
	static char buf[UVDPA_MGMT_MSG_MAX];
	ssize_t n = recv(c->w.fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		       errno == EINTR;
	if (n == 0)
		return false;
	if ((size_t)n > sizeof(buf)) {
		conn_reject_big(c, buf, sizeof(buf));
		return true;
	}
	return mgmt_server_handle(c->d->mgmt, &c->peer, buf, (size_t)n,
				  conn_send, c) == 0;
}

static void conn_cb(struct watch *w, uint32_t events)
{
	struct conn *c = container_of(w, struct conn, w);

	if ((events & EPOLLOUT) && !conn_flush(c))
		goto out_close;
	if ((events & EPOLLIN) && !conn_read(c))
		goto out_close;
	if (events & (EPOLLHUP | EPOLLERR) && !(events & EPOLLIN))
		goto out_close;
	return;

out_close:
	conn_close(c);
}

static void conn_new(struct daemon *d, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c;

	if (d->nconns >= CONN_MAX ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->d = d;
	c->w.fd = fd;
	c->w.cb = conn_cb;
	c->peer = (struct mgmt_peer){ cred.pid, cred.uid, cred.gid };
	list_add_tail(&c->link, &d->conns);
	d->nconns++;
	if (daemon_watch(d, &c->w, EPOLLIN)) {
		conn_close(c);
		return;
	}
	log_debug("client pid %d uid %d connected", (int)cred.pid,
		  (int)cred.uid);
}

/*
 * No fd to accept a client with: give the reserve up for a moment to
 * accept it and close it, so that it learns at once and the listening
 * socket stops being readable (libuv's uv__emfile_trick). False when
 * even that failed.
 */
static bool refuse_one(int lfd)
{
	int fd;

	if (!out_of_fds)
		log_warn("out of file descriptors: refusing clients");
	out_of_fds = true;
	if (reserve_fd < 0)
		return false;
	close(reserve_fd);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0;
}

static void listener_cb(struct watch *w, uint32_t events)
{
	struct daemon *d = container_of(w, struct daemon, listener);

	for (int i = 0; i < 64; i++) {
		int fd = accept4(w->fd, NULL, NULL,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			if (refuse_one(w->fd))
				continue;
			/* a level-triggered loop would come back at once */
			daemon_unwatch(d, w);
			listener_paused = true;
			return;
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		out_of_fds = false;
		conn_new(d, fd);
	}
}

/* Mode 0660, group "uvdpa" when it exists (DESIGN.md "Runtime files"). */
static void mgmt_sock_perms(const char *path)
{
	struct group *g = getgrnam("uvdpa");

	if (g && chown(path, (uid_t)-1, g->gr_gid))
		log_warn("chgrp uvdpa %s: %s", path, strerror(errno));
	if (chmod(path, 0660))
		log_warn("chmod %s: %s", path, strerror(errno));
}

int mgmt_sock_open(struct daemon *d)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(d->sock_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, d->sock_path, strlen(d->sock_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* we hold the runtime dir's lock: a socket left here is stale */
	unlink(d->sock_path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(fd, 128)) {
		int err = -errno;

		close(fd);
		return err;
	}
	mgmt_sock_perms(d->sock_path);
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	d->listener.fd = fd;
	d->listener.cb = listener_cb;
	return daemon_watch(d, &d->listener, EPOLLIN);
}

void mgmt_sock_close(struct daemon *d)
{
	struct conn *c, *tmp;

	list_for_each_entry_safe(c, tmp, &d->conns, link)
		conn_close(c);
	if (d->listener.fd >= 0) {
		if (!listener_paused)
			daemon_unwatch(d, &d->listener);
		close(d->listener.fd);
		d->listener.fd = -1;
		unlink(d->sock_path);
	}
	if (reserve_fd >= 0)
		close(reserve_fd);
	reserve_fd = -1;
}
