// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: records on the management socket, into
 * mgmt_server_handle() (lib/mgmt) over a real bus with the simulators'
 * management devices and two bus drivers registered.
 *
 * The first byte says who asks (root, or another uid, admin or not),
 * whether the daemon's hooks are installed (bind, dev_new, dev_info,
 * dev_del, done here the way uvdpad does them, without sockets) and
 * whether replies fail to send after a while. Then come records, each a
 * 16-bit length and its bytes, handled in order: a device one record adds,
 * the next may show, bind or delete. Every reply record must be whole
 * netlink messages with well-formed attributes. Devices left at the end
 * are deleted, so LSan sees what a command leaked.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <uvdpa/list.h>
#include <uvdpa/mgmt.h>
#include <uvdpa/mgmt_server.h>
#include <uvdpa/sim.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/worker.h>

#include "fuzz_input.h"

#define MAX_RECORDS 16
#define OTHER_UID 1000

/* The first byte. */
#define F_OTHER_UID 0x01
#define F_HOOKS 0x02
#define F_OTHER_IS_ADMIN 0x04
#define F_SEND_FAILS 0x08 /* sends fail after (byte >> 4) of them */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vdpa_bus *bus;
static struct vdpa_worker_pool *pool;
static struct vdpa_mgmt_dev *mdev_net, *mdev_blk;

static int drv_probe_ok(struct vdpa_device *vdev, struct vdpa_extack *ext)
{
	return 0;
}

static int drv_probe_fails(struct vdpa_device *vdev, struct vdpa_extack *ext)
{
	return -EIO;
}

static void drv_remove(struct vdpa_device *vdev)
{
}

/* Stand-ins for the bus drivers: binding, not what a driver does. */
static struct vdpa_driver drv_vhost = {
	.name = "vhost_vdpa",
	.probe = drv_probe_ok,
	.remove = drv_remove,
};
static struct vdpa_driver drv_virtio = {
	.name = "virtio_vdpa",
	.probe = drv_probe_fails,
	.remove = drv_remove,
};

static void setup(void)
{
	bus = vdpa_bus_new();
	pool = vdpa_worker_pool_new(1, "fz-mgmt");
	mdev_net = vdpasim_net_mgmtdev_new(pool);
	mdev_blk = vdpasim_blk_mgmtdev_new(pool);
	if (!bus || !pool || !mdev_net || !mdev_blk ||
	    vdpa_mgmtdev_register(bus, mdev_net) ||
	    vdpa_mgmtdev_register(bus, mdev_blk) ||
	    vdpa_register_driver(bus, &drv_vhost) ||
	    vdpa_register_driver(bus, &drv_virtio))
		abort();
}

/* ---- the daemon's hooks, without its sockets and state dir ---- */

static void hook_dev_info(void *ctx, struct vdpa_device *vdev,
			  struct mgmt_dev_info *info)
{
	info->driver = vdev->driver ? vdev->driver->name : NULL;
	info->endpoint = vdev->driver ? "/tmp/uvdpa-fuzz/vhost-vdpa-0" : NULL;
}

/* Bind as uvdpad does: the override, then a probe; "none" stays unbound. */
static int bind_to(struct vdpa_device *vdev, const char *driver,
		   struct vdpa_extack *ext)
{
	int ret;

	_vdpa_device_release_driver(vdev);
	ret = _vdpa_set_driver_override(vdev, driver);
	if (ret || !strcmp(driver, "none"))
		return ret;
	ret = _vdpa_device_attach(vdev);
	if (ret)
		vdpa_extack_set(ext, "cannot bind %s to %s", vdev->name,
				driver);
	return ret;
}

static int hook_dev_new(void *ctx, struct vdpa_device *vdev,
			const struct vdpa_dev_set_config *config,
			const struct mgmt_dev_opts *opts,
			struct vdpa_extack *ext)
{
	if (opts->ifname && strlen(opts->ifname) >= 16) {
		vdpa_extack_set(ext, "ifname too long");
		return -EINVAL;
	}
	if (opts->has_mode && opts->mode > 07777)
		return -EINVAL;
	return bind_to(vdev, opts->driver ? opts->driver : "vhost_vdpa", ext);
}

static void hook_dev_del(void *ctx, struct vdpa_device *vdev)
{
	_vdpa_device_release_driver(vdev);
}

static int hook_dev_bind(void *ctx, struct vdpa_device *vdev,
			 const char *driver, struct vdpa_extack *ext)
{
	return bind_to(vdev, driver, ext);
}

static const struct mgmt_hooks hooks = {
	.dev_info = hook_dev_info,
	.dev_new = hook_dev_new,
	.dev_del = hook_dev_del,
	.dev_bind = hook_dev_bind,
};

/* ---- replies: checked, then dropped ---- */

struct sink {
	int sends_left; /* < 0: never fails */
};

static int attr_cb(const struct nlattr *a, void *data)
{
	return MNL_CB_OK;
}

static void check_msg(const struct nlmsghdr *nlh)
{
	size_t off;

	switch (nlh->nlmsg_type) {
	case NLMSG_ERROR:
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr))
			abort();
		off = sizeof(struct nlmsgerr);
		break;
	case NLMSG_DONE:
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(int))
			abort();
		off = sizeof(int);
		break;
	default:
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct genlmsghdr))
			abort();
		off = sizeof(struct genlmsghdr);
		break;
	}
	/* every attribute whole and inside its message */
	if (mnl_nlmsg_get_payload_len(nlh) > off &&
	    mnl_attr_parse(nlh, (unsigned int)off, attr_cb, NULL) != MNL_CB_OK)
		abort();
}

static int sink_send(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	if (len == 0 || len > UVDPA_MGMT_MSG_MAX)
		abort(); /* a record the client cannot take */
	while (mnl_nlmsg_ok(nlh, left)) {
		check_msg(nlh);
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	if (left != 0)
		abort(); /* a cut message */
	if (s->sends_left == 0)
		return -EPIPE;
	if (s->sends_left > 0)
		s->sends_left--;
	return 0;
}

/* What a session leaves: every device goes, as at a restart. */
static void delete_all(void)
{
	struct vdpa_device *vdev, *tmp;

	vdpa_bus_lock(bus);
	list_for_each_entry_safe(vdev, tmp, &bus->devices, bus_link)
		if (vdev->mdev)
			vdev->mdev->ops->dev_del(vdev->mdev, vdev);
	vdpa_bus_unlock(bus);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	uint8_t flags = fz_u8(&in);
	struct mgmt_peer peer = { .pid = 1, .uid = 0, .gid = 0 };
	struct sink sink = { .sends_left = -1 };
	struct mgmt_server *srv;

	if (!bus)
		setup();
	srv = mgmt_server_new(bus, flags & F_OTHER_IS_ADMIN ? OTHER_UID : 4242);
	if (!srv)
		abort();
	if (flags & F_OTHER_UID)
		peer.uid = peer.gid = OTHER_UID;
	if (flags & F_HOOKS)
		mgmt_server_set_hooks(srv, &hooks, NULL);
	if (flags & F_SEND_FAILS)
		sink.sends_left = flags >> 4;
	for (int r = 0; r < MAX_RECORDS && in.left; r++) {
		const uint8_t *p;
		size_t n = fz_take(&in, &p, fz_u16(&in));
		void *rec;
		int ret;

		if (n > UVDPA_MGMT_MSG_MAX)
			n = UVDPA_MGMT_MSG_MAX; /* a seqpacket record's most */
		/* aligned as uvdpad's receive buffer, and exactly as long,
		 * so ASan sees a read past the record */
		rec = malloc(n ? n : 1);
		if (!rec)
			abort();
		memcpy(rec, p, n);
		ret = mgmt_server_handle(srv, &peer, rec, n, sink_send, &sink);
		free(rec);
		if (ret)
			break; /* uvdpad closes the connection */
	}
	mgmt_server_free(srv);
	delete_all();
	return 0;
}
