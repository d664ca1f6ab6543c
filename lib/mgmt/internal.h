/* SPDX-License-Identifier: MIT */
/* What the files of lib/mgmt share: a request being handled, its reply. */
#ifndef UVDPA_MGMT_INTERNAL_H
#define UVDPA_MGMT_INTERNAL_H

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/mgmt_server.h>

#define MGMT_EXT_ATTRS 32 /* extension attributes known: 0x1000.. */
#define MGMT_MSG_SCRATCH 8192 /* one reply message is built here */

struct mgmt_server {
	struct vdpa_bus *bus;
	uid_t admin_uid;
	struct mgmt_hooks hooks;
	void *hooks_ctx;
};

/* The record being sent back: messages are packed until it is full. */
struct mgmt_reply {
	char rec[UVDPA_MGMT_MSG_MAX];
	size_t len;
	mgmt_send_cb send;
	void *ctx;
	int err; /* first send error */
};

struct mgmt_req {
	struct mgmt_server *srv;
	const struct mgmt_peer *peer;
	const struct nlmsghdr *nlh;
	const struct genlmsghdr *genl;
	const struct nlattr *tb[UVDPA_ATTR_MAX + 1];
	const struct nlattr *ext[MGMT_EXT_ATTRS];
	uint32_t unknown_ext; /* an extension attribute no policy knows */
	struct vdpa_extack ext_ack; /* message text, without "vdpa: " */
	bool ext_ack_raw; /* a netlink core message: no "vdpa: " prefix */
	struct mgmt_reply *reply;
	char msg[MGMT_MSG_SCRATCH];
};

/* One generic netlink command (Linux genl_small_ops). */
struct mgmt_cmd {
	uint8_t cmd;
	const char *name;
	int (*doit)(struct mgmt_req *req);
	int (*dumpit)(struct mgmt_req *req);
	bool admin; /* GENL_ADMIN_PERM */
	bool strict; /* unknown attributes rejected (cmd >= resv_start_op) */
};

extern const struct mgmt_cmd mgmt_cmds[];

/* uvdpa's extension commands (cmds_ext.c). */
int mgmt_dev_bind_doit(struct mgmt_req *req);
int mgmt_dev_unbind_doit(struct mgmt_req *req);
int mgmt_dev_resize_doit(struct mgmt_req *req);
/* The device named by VDPA_ATTR_DEV_NAME, bus->lock held; message set. */
int mgmt_req_device(struct mgmt_req *req, const char *unmanaged_msg,
		    struct vdpa_device **vdev);
extern const unsigned int mgmt_ncmds;

/* Start a reply message of family vdpa with @cmd; NULL when out of room. */
struct nlmsghdr *mgmt_msg_start(struct mgmt_req *req, uint8_t cmd,
				uint16_t flags);
/* Append the finished message to the reply record. */
int mgmt_msg_end(struct mgmt_req *req, struct nlmsghdr *nlh);
/* Attribute helpers that fail with -EMSGSIZE instead of overflowing. */
int mgmt_put_str(struct nlmsghdr *nlh, uint16_t type, const char *s);
int mgmt_put_u8(struct nlmsghdr *nlh, uint16_t type, uint8_t v);
int mgmt_put_u16(struct nlmsghdr *nlh, uint16_t type, uint16_t v);
int mgmt_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v);
int mgmt_put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t v);
int mgmt_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data);

/* A string attribute into @buf; false when absent or too long. */
bool mgmt_attr_str(const struct mgmt_req *req, uint16_t type, char *buf,
		   size_t size);

/* Set the message that goes back with the error, as NL_SET_ERR_MSG_MOD. */
#define mgmt_err(req, ...) vdpa_extack_set(&(req)->ext_ack, __VA_ARGS__)

#endif
