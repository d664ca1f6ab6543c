/* SPDX-License-Identifier: MIT */
/*
 * The management socket's contract, shared by uvdpad and its clients.
 *
 * The socket carries what the kernel's generic netlink carries (DESIGN.md
 * "Interfaces kept compatible"): AF_UNIX SOCK_SEQPACKET at
 * <runtime dir>/uvdpad.sock; each record holds one or more netlink
 * messages (nlmsghdr + genlmsghdr + attributes) and at most
 * UVDPA_MGMT_MSG_MAX bytes. A client resolves the family "vdpa" with the
 * controller's CTRL_CMD_GETFAMILY (nlmsg_type GENL_ID_CTRL); uvdpad
 * answers with the fixed id UVDPA_GENL_FAMILY_ID. Requests carry
 * NLM_F_REQUEST (and NLM_F_ACK for an ack, NLM_F_DUMP for a dump). Errors
 * and acks are NLMSG_ERROR with the error, the request's header only
 * (as with NETLINK_CAP_ACK: NLM_F_CAPPED) and, with a message,
 * NLMSGERR_ATTR_MSG (NLM_F_ACK_TLVS), the way a kernel with
 * NETLINK_EXT_ACK answers. Dumps end with NLMSG_DONE.
 *
 * Commands and attributes are <linux/vdpa.h>'s (see uvdpa/uapi.h for the
 * numbers newer than the system headers); uvdpa's own extensions are
 * below: commands 0x80-0xfe, attributes 0x1000-0x3fff.
 */
#ifndef UVDPA_MGMT_H
#define UVDPA_MGMT_H

#include <stddef.h>

#include <uvdpa/uapi.h>

#define UVDPA_SOCK_NAME "uvdpad.sock"
#define UVDPA_GENL_FAMILY_ID                                                   \
	0x1d /* any id >= GENL_MIN_ID a kernel could give */
#define UVDPA_MGMT_MSG_MAX (32 * 1024)

/* ---- extension commands (genlmsghdr.cmd is a u8) ---- */
#define UVDPA_CMD_EXT_FIRST 0x80
#define UVDPA_CMD_EXT_LAST 0xfe

/*
 * Bind a device to a bus driver: VDPA_ATTR_DEV_NAME, UVDPA_ATTR_DEV_DRIVER.
 * Sets the driver_override and rebinds (driverctl set-override); the
 * override is kept in the state dir. Admin.
 */
#define UVDPA_CMD_DEV_BIND 0x80
/*
 * Unbind a device: VDPA_ATTR_DEV_NAME. The override becomes "none", so no
 * driver takes it, also after a restart, until it is bound again. Admin.
 */
#define UVDPA_CMD_DEV_UNBIND 0x81
/*
 * Resize a block device: VDPA_ATTR_DEV_NAME, UVDPA_ATTR_BLK_CAPACITY. The
 * driver side is told through the config interrupt. Admin.
 */
#define UVDPA_CMD_DEV_RESIZE 0x82

/* ---- extension attributes (nla_type is 14 bits) ---- */
#define UVDPA_ATTR_EXT_FIRST 0x1000
#define UVDPA_ATTR_EXT_LAST 0x3fff

/* Bound bus driver of a device (string), after iproute2's fields. */
#define UVDPA_ATTR_DEV_DRIVER 0x1000
/* Where the bus driver exposes it: socket path, ifname or file (string). */
#define UVDPA_ATTR_DEV_ENDPOINT 0x1001
/*
 * dev add: owner, group and mode of the device's vhost-user socket (u32
 * each), so a VM run by another user can connect. Bus driver attributes:
 * every management device takes them.
 */
#define UVDPA_ATTR_DEV_SOCK_OWNER 0x1002
#define UVDPA_ATTR_DEV_SOCK_GROUP 0x1003
#define UVDPA_ATTR_DEV_SOCK_MODE 0x1004
/* dev add: the TAP interface name under virtio_vdpa (string, < 16 bytes) */
#define UVDPA_ATTR_DEV_IFNAME 0x1005
/*
 * UVDPA_ATTR_DEV_DRIVER (0x1000) is also a request attribute: on dev add
 * and UVDPA_CMD_DEV_BIND, the bus driver to bind ("none": no driver).
 */

/* ---- the `blk` management device's attributes (dev add) ---- */
#define UVDPA_ATTR_BLK_PATH 0x1010 /* string: file, block device, NBD URI */
#define UVDPA_ATTR_BLK_READONLY 0x1011 /* u8 0/1 */
#define UVDPA_ATTR_BLK_NUM_QUEUES 0x1012 /* u16 */
#define UVDPA_ATTR_BLK_QUEUE_SIZE 0x1013 /* u16 */
#define UVDPA_ATTR_BLK_DIRECT 0x1014 /* u8 0/1 */
#define UVDPA_ATTR_BLK_WRITEBACK 0x1015 /* u8 0/1 */
#define UVDPA_ATTR_BLK_SERIAL 0x1016 /* string, up to 20 bytes */
#define UVDPA_ATTR_BLK_LOGICAL_BLOCK_SIZE 0x1017 /* u32: 512 or 4096 */
#define UVDPA_ATTR_BLK_CAPACITY 0x1018 /* u64: bytes */
#define UVDPA_ATTR_BLK_AIO 0x1019 /* u8: enum uvdpa_blk_aio */

/*
 * How the blk parent does a file's I/O. auto: inline on memory file
 * systems (tmpfs, ramfs, hugetlbfs), whose I/O never waits for a device
 * and which io_uring can only run in its io-wq threads; io_uring
 * otherwise. io_uring: every request through the queue's ring. inline:
 * the queue's worker makes the system call itself.
 */
enum uvdpa_blk_aio {
	UVDPA_BLK_AIO_AUTO,
	UVDPA_BLK_AIO_IO_URING,
	UVDPA_BLK_AIO_INLINE,
};

/*
 * The runtime directory a client should look in, in order: @env_dir
 * ($UVDPA_RUNTIME_DIR), $XDG_RUNTIME_DIR/uvdpa, /run/uvdpa. Writes up to
 * @max candidates into @dirs (each PATH_MAX bytes) and returns how many.
 */
int uvdpa_runtime_dir_candidates(char dirs[][4096], int max);

/* The daemon's default runtime and state dirs (DESIGN.md "Runtime files"). */
int uvdpa_default_runtime_dir(char *buf, size_t len);
int uvdpa_default_state_dir(char *buf, size_t len);

#endif
