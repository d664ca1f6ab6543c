/* SPDX-License-Identifier: MIT */
/*
 * The management server: the vdpa generic netlink family (Linux
 * drivers/vdpa/vdpa.c vdpa_nl_ops) over the socket of uvdpa/mgmt.h. It
 * owns no socket and no loop: the daemon hands it each record a client
 * sent and a way to send records back.
 */
#ifndef UVDPA_MGMT_SERVER_H
#define UVDPA_MGMT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvdpa/vdpa.h>

struct mgmt_server;

/* Who sent a record (SO_PEERCRED). */
struct mgmt_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Send one reply record (at most UVDPA_MGMT_MSG_MAX bytes); 0 or -errno. */
typedef int (*mgmt_send_cb)(void *ctx, const void *buf, size_t len);

/*
 * Extra fields of `dev show` (uvdpa extensions, after iproute2's): the
 * daemon knows which bus driver serves a device and where.
 */
struct mgmt_dev_info {
	const char *driver; /* bus driver name, NULL when unbound */
	const char *endpoint; /* socket, interface or file; NULL: none */
};

/* Bus driver options given to `dev add` (uvdpa extension attributes). */
struct mgmt_dev_opts {
	bool has_owner, has_group, has_mode;
	uint32_t owner; /* uid */
	uint32_t group; /* gid */
	uint32_t mode; /* permission bits, up to 07777 */
	const char *driver; /* the bus driver to bind; NULL: the default */
	const char *ifname; /* virtio_vdpa's TAP name; NULL: the device's */
};

/**
 * struct mgmt_hooks - what the daemon decides, the server asks. Every hook
 * is optional and runs with bus->lock held for writing (dev_info: read).
 * @dev_info: fill the `dev show` extras of @vdev.
 * @dev_new: @vdev was just created from @config, with autoprobe held off
 *	so that no driver took it yet: record @config and @opts, apply the
 *	driver override and bind. An error (message in @ext) deletes the
 *	device again.
 * @dev_del: @vdev is about to be deleted by a DEV_DEL request.
 * @dev_bind: bind @vdev to the bus driver @driver, or leave it unbound
 *	for "none" (UVDPA_CMD_DEV_BIND/UNBIND), remembering the choice.
 * @dev_resized: @vdev was resized to @capacity bytes.
 */
struct mgmt_hooks {
	void (*dev_info)(void *ctx, struct vdpa_device *vdev,
			 struct mgmt_dev_info *info);
	int (*dev_new)(void *ctx, struct vdpa_device *vdev,
		       const struct vdpa_dev_set_config *config,
		       const struct mgmt_dev_opts *opts,
		       struct vdpa_extack *ext);
	void (*dev_del)(void *ctx, struct vdpa_device *vdev);
	int (*dev_bind)(void *ctx, struct vdpa_device *vdev, const char *driver,
			struct vdpa_extack *ext);
	void (*dev_resized)(void *ctx, struct vdpa_device *vdev,
			    uint64_t capacity);
};

/* @admin_uid: besides root, the user allowed to run admin commands. */
struct mgmt_server *mgmt_server_new(struct vdpa_bus *bus, uid_t admin_uid);
void mgmt_server_free(struct mgmt_server *srv);
void mgmt_server_set_hooks(struct mgmt_server *srv,
			   const struct mgmt_hooks *hooks, void *ctx);

/*
 * Handle one record of @len bytes from @peer: every message in it, in
 * order, each answered through @send. Returns 0, or -errno when a reply
 * could not be sent (the connection should be closed).
 */
int mgmt_server_handle(struct mgmt_server *srv, const struct mgmt_peer *peer,
		       const void *buf, size_t len, mgmt_send_cb send,
		       void *ctx);

#endif
