/* SPDX-License-Identifier: MIT */
/* uvdpad: the daemon's state and its event loop. */
#ifndef UVDPAD_H
#define UVDPAD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

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

/*
 * A device as it was created: what uvdpad needs to create it again after
 * a restart (state.c), with its bus driver options.
 */
struct dev_rec {
	struct list_head link;
	char name[VDPA_NAME_MAX];
	char mgmtdev[VDPA_NAME_MAX];
	unsigned int index;
	struct vdpa_dev_set_config cfg; /* blk.path and blk.serial: below */
	char *path; /* owned; most devices have none */
	char serial[24];
	struct mgmt_dev_opts opts; /* driver and ifname: NULL here */
	char ifname[16]; /* "": the device's name */
	bool dormant; /* not created at the last start: kept, not live */
};

struct vv_blk_fs;

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
	struct vdpa_mgmt_dev *blk;
	struct mgmt_server *mgmt;
	struct vdpa_driver vhost_driver;
	struct vdpa_driver virtio_driver;
	struct vv_blk_fs *blk_fs; /* $RUNTIME/blk while a file is in it */

	struct list_head devs; /* struct dev_rec */
	struct list_head overrides; /* state.c */
};

int daemon_watch(struct daemon *d, struct watch *w, uint32_t events);
int daemon_rewatch(struct daemon *d, struct watch *w, uint32_t events);
void daemon_unwatch(struct daemon *d, struct watch *w);

/* The vhost_vdpa bus driver (bus_vhost.c). */
void bus_vhost_init(struct daemon *d);
const char *bus_vhost_endpoint(struct vdpa_device *vdev);

/* The virtio_vdpa bus driver (bus_virtio.c). */
void bus_virtio_init(struct daemon *d);
const char *bus_virtio_endpoint(struct vdpa_device *vdev);
void bus_virtio_fini(struct daemon *d);

/* Binding and the management hooks (devices.c). */
extern const struct mgmt_hooks daemon_mgmt_hooks;
int daemon_register_drivers(struct daemon *d);

/* Kept state (state.c). */
void state_load(struct daemon *d);
void state_free(struct daemon *d);
int state_write_file(struct daemon *d, const char *file, const char *buf,
		     size_t len);
/* Rewrite @file with what @put prints (atomically); 0 or -errno, logged. */
int state_save(struct daemon *d, const char *file,
	       void (*put)(struct daemon *d, FILE *f));
const char *state_override(struct daemon *d, const char *name);
/* @driver NULL: forget the override. */
int state_set_override(struct daemon *d, const char *name, const char *driver);
struct dev_rec *state_dev(struct daemon *d, const char *name);
struct dev_rec *state_dev_add(struct daemon *d, struct vdpa_device *vdev,
			      const struct vdpa_dev_set_config *cfg,
			      const struct mgmt_dev_opts *opts);
void state_dev_del(struct daemon *d, const char *name);
/* Rewrite $STATE/devices from the records; 0 or -errno (logged). */
int state_devices_save(struct daemon *d);
/* Create every device $STATE/devices holds, as they were. */
void state_devices_restore(struct daemon *d);
/* The dev_new hook, also what a restore calls (devices.c). */
int daemon_dev_new(struct daemon *d, struct vdpa_device *vdev,
		   const struct vdpa_dev_set_config *cfg,
		   const struct mgmt_dev_opts *o, struct vdpa_extack *ext);

/* The management socket (mgmt_sock.c). */
int mgmt_sock_open(struct daemon *d);
void mgmt_sock_close(struct daemon *d);

#endif
