// SPDX-License-Identifier: MIT
/*
 * The transport to uvdpad: an AF_UNIX SOCK_SEQPACKET connection to
 * <runtime dir>/uvdpad.sock, trying each candidate directory in the
 * order uvdpa_runtime_dir_candidates() gives (uvdpa/mgmt.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uvdpa/mgmt.h>

#include "transport.h"

#define MAX_DIRS 4

struct unix_transport {
	struct cli_transport base;
	int fd;
};

static struct unix_transport *to_unix(struct cli_transport *t)
{
	return (struct unix_transport *)((char *)t -
					 offsetof(struct unix_transport, base));
}

static int unix_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, err;

	if (len >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Appends "PATH (reason)" to the list of places tried. */
static void note_tried(char *where, size_t len, const char *path, int err)
{
	size_t used = strlen(where);

	if (used >= len)
		return;
	snprintf(where + used, len - used, "%s%s (%s)",
		 used ? ", " : "No uvdpad listening at ", path, strerror(-err));
}

static int unix_open_fd(int fd, struct cli_transport **tp)
{
	struct unix_transport *u = calloc(1, sizeof(*u));

	if (!u) {
		close(fd);
		return -ENOMEM;
	}
	u->base.ops = &cli_unix_transport;
	u->fd = fd;
	*tp = &u->base;
	return 0;
}

static int unix_open(struct cli_transport **tp, char *where, size_t len)
{
	char dirs[MAX_DIRS][4096], *path;
	int n, i, fd = -ENOENT;

	if (len)
		where[0] = '\0';
	n = uvdpa_runtime_dir_candidates(dirs, MAX_DIRS);
	for (i = 0; i < n; i++) {
		if (asprintf(&path, "%s/%s", dirs[i], UVDPA_SOCK_NAME) < 0)
			return -ENOMEM;
		fd = unix_connect(path);
		if (fd < 0)
			note_tried(where, len, path, fd);
		free(path);
		if (fd >= 0)
			return unix_open_fd(fd, tp);
	}
	return fd;
}

static int unix_send(struct cli_transport *t, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(to_unix(t)->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static ssize_t unix_recv(struct cli_transport *t, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	do
		n = recvmsg(to_unix(t)->fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* A record larger than the contract allows: refuse, don't parse half. */
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return n;
}

static void unix_close(struct cli_transport *t)
{
	struct unix_transport *u;

	if (!t)
		return;
	u = to_unix(t);
	close(u->fd);
	free(u);
}

const struct cli_transport_ops cli_unix_transport = {
	.name = "uvdpad",
	.open = unix_open,
	.send = unix_send,
	.recv = unix_recv,
	.close = unix_close,
};
