/* SPDX-License-Identifier: MIT */
/* uvdpad: the daemon's state and its event loop. */
#ifndef UVDPAD_H
#define UVDPAD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <uvdpa/list.h>
#include <uvdpa/mgmt_server.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/worker.h>

/* Something the control thread's epoll watches. */
struct watch {
	int fd;
	void (*cb)(struct watch *w, uint32_t events);
};

struct daemon_opts {
	char runtime_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	const char *default_driver;
	gid_t sock_group; /* group "uvdpa", looked up once; -1: none */
};

struct daemon {
	struct daemon_opts opts;
	int epfd;
	int lock_fd;
	bool stop;
	struct watch signals;
	struct watch listener;
	char sock_path[PATH_MAX];
	struct list_head conns;
	unsigned int nconns;

	struct vdpa_bus *bus;
	struct vdpa_worker_pool *pool;
	struct vdpa_mgmt_dev *sim_net;
	struct vdpa_mgmt_dev *sim_blk;
	struct mgmt_server *mgmt;
	struct vdpa_driver vhost_driver;
};

int daemon_watch(struct daemon *d, struct watch *w, uint32_t events);
int daemon_rewatch(struct daemon *d, struct watch *w, uint32_t events);
void daemon_unwatch(struct daemon *d, struct watch *w);

/* The vhost_vdpa bus driver (bus_vhost.c). */
void bus_vhost_init(struct daemon *d);
const char *bus_vhost_endpoint(struct vdpa_device *vdev);
int bus_vhost_set_perms(struct vdpa_device *vdev, const struct mgmt_dev_opts *o,
			struct vdpa_extack *ext);

/* The management socket (mgmt_sock.c). */
int mgmt_sock_open(struct daemon *d);
void mgmt_sock_close(struct daemon *d);

#endif
