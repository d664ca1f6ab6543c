// SPDX-License-Identifier: MIT
/*
 * The vhost_vdpa bus driver in uvdpad: on probe a device gets a vhost-user
 * socket, $RUNTIME/vhost-vdpa-N (N its index, as the kernel names its
 * char devices), and the link $RUNTIME/by-name/NAME; the back end's fds
 * join the control thread's epoll. On remove both go.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uvdpa/vu_backend.h>

#include "log.h"
#include "uvdpad.h"

struct vhost_bind {
	struct daemon *d;
	struct vu_backend *b;
	struct watch listen_w, conn_w, event_w;
	bool conn_watched;
	char link[PATH_MAX + 96];
};

static void vu_log_cb(void *ctx, enum vu_log_level level, const char *msg)
{
	static const enum log_level map[] = { LOG_ERR, LOG_WARN, LOG_INFO,
					      LOG_DEBUG };

	log_msg(map[level], "%s", msg);
}

static void conn_cb(struct watch *w, uint32_t events)
{
	struct vhost_bind *vb = container_of(w, struct vhost_bind, conn_w);
	int ret = vu_backend_handle(vb->b);

	if (ret >= 0 && !(events & (EPOLLHUP | EPOLLERR)))
		return;
	daemon_unwatch(vb->d, &vb->conn_w);
	vb->conn_watched = false;
	vu_backend_disconnect(vb->b);
}

static void listen_cb(struct watch *w, uint32_t events)
{
	struct vhost_bind *vb = container_of(w, struct vhost_bind, listen_w);

	if (vu_backend_accept(vb->b) || vb->conn_watched ||
	    !vu_backend_connected(vb->b))
		return;
	vb->conn_w.fd = vu_backend_conn_fd(vb->b);
	vb->conn_w.cb = conn_cb;
	if (daemon_watch(vb->d, &vb->conn_w, EPOLLIN)) {
		log_err("cannot watch a front end: %s", strerror(errno));
		vu_backend_disconnect(vb->b);
		return;
	}
	vb->conn_watched = true;
}

static void event_cb(struct watch *w, uint32_t events)
{
	struct vhost_bind *vb = container_of(w, struct vhost_bind, event_w);

	vu_backend_device_event(vb->b);
}

/* $RUNTIME/by-name/NAME -> ../vhost-vdpa-N: stays with the name. */
static void vhost_link(struct vhost_bind *vb, struct vdpa_device *vdev)
{
	const char *run = vb->d->opts.runtime_dir;
	char target[64], dir[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/by-name", run);
	if (mkdir(dir, 0755) && errno != EEXIST)
		log_warn("cannot create %s: %s", dir, strerror(errno));
	snprintf(vb->link, sizeof(vb->link), "%s/%s", dir, vdev->name);
	snprintf(target, sizeof(target), "../vhost-vdpa-%u", vdev->index);
	unlink(vb->link);
	if (symlink(target, vb->link))
		log_warn("cannot link %s: %s", vb->link, strerror(errno));
	if (strlen(vb->link) >= 108)
		log_warn("%s is too long to connect to (108 bytes at most); "
			 "use %s/%s",
			 vb->link, run, target + 3);
}

static void vhost_bind_free(struct vhost_bind *vb)
{
	if (vb->conn_watched)
		daemon_unwatch(vb->d, &vb->conn_w);
	if (vb->listen_w.fd >= 0)
		daemon_unwatch(vb->d, &vb->listen_w);
	if (vb->event_w.fd >= 0)
		daemon_unwatch(vb->d, &vb->event_w);
	vu_backend_free(vb->b);
	if (*vb->link)
		unlink(vb->link);
	free(vb);
}

static int vhost_watch_all(struct vhost_bind *vb)
{
	int ret;

	vb->listen_w = (struct watch){ vu_backend_listen_fd(vb->b), listen_cb };
	vb->event_w = (struct watch){ vu_backend_event_fd(vb->b), event_cb };
	ret = daemon_watch(vb->d, &vb->listen_w, EPOLLIN);
	if (ret) {
		vb->listen_w.fd = -1;
		return ret;
	}
	ret = daemon_watch(vb->d, &vb->event_w, EPOLLIN);
	if (ret)
		vb->event_w.fd = -1;
	return ret;
}

static int vhost_probe(struct vdpa_device *vdev, struct vdpa_extack *ext)
{
	struct daemon *d =
		container_of(vdev->driver, struct daemon, vhost_driver);
	struct vhost_bind *vb = calloc(1, sizeof(*vb));
	struct dev_rec *r = state_dev(d, vdev->name);
	char path[PATH_MAX + 32];
	struct vu_backend_cfg cfg = {
		.path = path,
		.owner = (uid_t)-1,
		.group = d->opts.sock_group,
		.mode = 0660,
		.log = vu_log_cb,
	};
	int ret = -ENOMEM;

	if (!vb)
		return ret;
	if (r && r->opts.has_owner)
		cfg.owner = r->opts.owner;
	if (r && r->opts.has_group)
		cfg.group = r->opts.group;
	if (r && r->opts.has_mode)
		cfg.mode = r->opts.mode;
	vb->d = d;
	vb->listen_w.fd = vb->conn_w.fd = vb->event_w.fd = -1;
	snprintf(path, sizeof(path), "%s/vhost-vdpa-%u", d->opts.runtime_dir,
		 vdev->index);
	vb->b = vu_backend_new(vdev, &cfg, &ret);
	if (!vb->b || (ret = vhost_watch_all(vb))) {
		vdpa_extack_set(ext, "%s: cannot serve %s: %s", vdev->name,
				path, strerror(-ret));
		log_err("%s", ext->msg);
		vhost_bind_free(vb);
		return ret;
	}
	vhost_link(vb, vdev);
	vdev->driver_data = vb;
	log_info("%s: vhost-user socket %s", vdev->name, path);
	return 0;
}

static void vhost_remove(struct vdpa_device *vdev)
{
	struct vhost_bind *vb = vdev->driver_data;

	if (vb)
		vhost_bind_free(vb);
	vdev->driver_data = NULL;
}

void bus_vhost_init(struct daemon *d)
{
	d->vhost_driver = (struct vdpa_driver){
		.name = "vhost_vdpa",
		.probe = vhost_probe,
		.remove = vhost_remove,
	};
}

const char *bus_vhost_endpoint(struct vdpa_device *vdev)
{
	struct vhost_bind *vb = vdev->driver_data;

	return vb ? vu_backend_path(vb->b) : NULL;
}
