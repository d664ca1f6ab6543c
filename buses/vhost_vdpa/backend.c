// SPDX-License-Identifier: MIT
/*
 * A vhost-user back end for one vdpa device: its listening socket, the one
 * front end it serves, and what a disconnect undoes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu_internal.h"

void vu_log(struct vu_backend *b, enum vu_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!b->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->cfg.log(b->cfg.log_ctx, level, msg);
}

static int vu_listen(struct vu_backend *b)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(b->cfg.path);
	int fd;

	if (len >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, b->cfg.path, len);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(b->cfg.path); /* a socket left by a uvdpad that died */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4))
		goto out_close;
	if (chmod(b->cfg.path, b->cfg.mode ? b->cfg.mode : 0660) ||
	    ((b->cfg.owner != (uid_t)-1 || b->cfg.group != (gid_t)-1) &&
	     chown(b->cfg.path, b->cfg.owner, b->cfg.group)))
		goto out_unlink;
	b->listen_fd = fd;
	return 0;

out_unlink:
	unlink(b->cfg.path);
out_close:
	len = (size_t)errno;
	close(fd);
	return -(int)len;
}

struct vu_backend *vu_backend_new(struct vdpa_device *vdev,
				  const struct vu_backend_cfg *cfg, int *err)
{
	struct vdpa_callback cb = { .trigger = -1 };
	struct vu_backend *b = calloc(1, sizeof(*b));
	int ret = -ENOMEM;

	if (!b)
		goto out_err;
	b->vdev = vdev;
	b->cfg = *cfg;
	b->listen_fd = b->conn_fd = b->backend_req_fd = b->event_fd = -1;
	b->reply_fd = b->inflight_fd = -1;
	/* a cut path could name another device's socket: refuse it whole */
	ret = -ENAMETOOLONG;
	if (strlen(cfg->path) >= sizeof(b->path))
		goto out_free;
	ret = -ENOMEM;
	memcpy(b->path, cfg->path, strlen(cfg->path) + 1);
	b->cfg.path = b->path;
	b->nvrings = vdev->nvqs;
	vdpa_iotlb_init(&b->iotlb, VU_MAX_MEM_SLOTS);
	b->vrings = calloc(b->nvrings, sizeof(*b->vrings));
	b->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!b->vrings || b->event_fd < 0)
		goto out_free;
	/* calloc gave 0s: fd 0 is somebody's, not ours to close */
	for (unsigned int i = 0; i < b->nvrings; i++)
		b->vrings[i] = (struct vu_vring){ .kick_fd = -1,
						  .call_fd = -1,
						  .err_fd = -1 };
	ret = vu_listen(b);
	if (ret)
		goto out_free;
	vdpa_reset(vdev, VDPA_RESET_F_CLEAN_MAP);
	cb.trigger = b->event_fd;
	vdev->config->set_config_cb(vdev, &cb);
	return b;

out_free:
	vu_backend_free(b);
out_err:
	*err = ret;
	return NULL;
}

void vu_backend_free(struct vu_backend *b)
{
	if (!b)
		return;
	vu_backend_disconnect(b);
	if (b->listen_fd >= 0) {
		close(b->listen_fd);
		unlink(b->path);
	}
	if (b->event_fd >= 0) {
		b->vdev->config->set_config_cb(b->vdev, NULL);
		close(b->event_fd);
	}
	vu_mem_clear(b);
	free(b->vrings);
	free(b);
}

int vu_backend_set_perms(struct vu_backend *b, uid_t owner, gid_t group,
			 mode_t mode)
{
	if ((owner != (uid_t)-1 || group != (gid_t)-1) &&
	    chown(b->path, owner, group))
		return -errno;
	if (mode && chmod(b->path, mode))
		return -errno;
	if (owner != (uid_t)-1)
		b->cfg.owner = owner;
	if (group != (gid_t)-1)
		b->cfg.group = group;
	if (mode)
		b->cfg.mode = mode;
	return 0;
}

int vu_backend_listen_fd(const struct vu_backend *b)
{
	return b->listen_fd;
}

int vu_backend_conn_fd(const struct vu_backend *b)
{
	return b->conn_fd;
}

int vu_backend_event_fd(const struct vu_backend *b)
{
	return b->event_fd;
}

bool vu_backend_connected(const struct vu_backend *b)
{
	return b->conn_fd >= 0;
}

const char *vu_backend_path(const struct vu_backend *b)
{
	return b->path;
}

uint16_t vu_backend_mtu(const struct vu_backend *b)
{
	return __atomic_load_n(&b->mtu, __ATOMIC_RELAXED);
}

int vu_backend_accept(struct vu_backend *b)
{
	int fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (b->conn_fd >= 0) {
		/* vhost-user has no refusal message: say it here, then close */
		vu_log(b, VU_LOG_WARN,
		       "%s: refused a second front end on %s: one is connected",
		       b->vdev->name, b->path);
		close(fd);
		return -EBUSY;
	}
	b->conn_fd = fd;
	vu_log(b, VU_LOG_INFO, "%s: front end connected on %s", b->vdev->name,
	       b->path);
	return 0;
}

/*
 * Messages handled per wakeup: a front end that floods its socket gets
 * the rest at the next round of the embedder's (level-triggered) loop,
 * after every other fd, instead of holding the control thread.
 */
#define VU_MSGS_PER_CALL 64

int vu_backend_handle(struct vu_backend *b)
{
	int ret = 0;

	if (b->conn_fd < 0)
		return -ENOTCONN;
	for (int i = 0; i < VU_MSGS_PER_CALL; i++) {
		ret = vu_msg_recv(b->conn_fd, &b->rx);
		if (ret <= 0)
			break;
		ret = vu_dispatch(b, &b->rx.msg);
		vu_rx_reset(&b->rx);
		if (ret)
			break;
	}
	if (ret == -EMSGSIZE)
		vu_log(b, VU_LOG_WARN, "%s: message %u of %u bytes: too big",
		       b->vdev->name, b->rx.msg.hdr.request,
		       b->rx.msg.hdr.size);
	return ret;
}

void vu_backend_disconnect(struct vu_backend *b)
{
	struct vdpa_callback cb = { .trigger = b->event_fd };

	if (b->conn_fd < 0)
		return;
	vu_log(b, VU_LOG_INFO, "%s: front end gone: resetting the device",
	       b->vdev->name);
	close(b->conn_fd);
	b->conn_fd = -1;
	vu_rx_reset(&b->rx);
	/* the device forgets the map before the memory goes */
	vdpa_reset(b->vdev, VDPA_RESET_F_CLEAN_MAP);
	b->vdev->config->set_config_cb(b->vdev, &cb);
	vu_rings_reset(b);
	vu_mem_clear(b);
	vu_inflight_clear(b); /* the front end keeps its copy */
	if (b->backend_req_fd >= 0)
		close(b->backend_req_fd);
	b->backend_req_fd = -1;
	b->features = 0;
	b->features_set = false;
	b->proto_negotiated = false;
	b->protocol_features = 0;
	b->proto_set = false;
	__atomic_store_n(&b->mtu, 0, __ATOMIC_RELAXED);
}
