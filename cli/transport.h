/* SPDX-License-Identifier: MIT */
/*
 * The CLI's one transport seam. Everything above it builds and reads
 * generic netlink messages (nlmsghdr + genlmsghdr + attributes); a
 * transport only moves records: to uvdpad over its AF_UNIX socket
 * (uvdpa/mgmt.h), or, with another ops table, to a kernel's generic
 * netlink "vdpa" family. The family is resolved above the seam, with
 * the same CTRL_CMD_GETFAMILY request either way.
 */
#ifndef UVDPA_CLI_TRANSPORT_H
#define UVDPA_CLI_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cli_transport;

/* Every member is mandatory. */
struct cli_transport_ops {
	const char *name;
	/*
	 * Connects. On failure returns -errno and, when it can, writes to
	 * @where (@len bytes) the endpoints it tried and why each failed.
	 */
	int (*open)(struct cli_transport **tp, char *where, size_t len);
	/* Sends one record of @len bytes; 0 or -errno. */
	int (*send)(struct cli_transport *t, const void *buf, size_t len);
	/* Receives one record: its length, 0 when the peer hung up, -errno. */
	ssize_t (*recv)(struct cli_transport *t, void *buf, size_t len);
	/* Disconnects and frees @t; accepts NULL. */
	void (*close)(struct cli_transport *t);
};

/* What each transport embeds (container_of) and the layer above reads. */
struct cli_transport {
	const struct cli_transport_ops *ops;
	/* Port id replies must carry; 0 accepts any (uvdpad has none). */
	uint32_t portid;
};

/* uvdpad's management socket, looked for in each runtime directory. */
extern const struct cli_transport_ops cli_unix_transport;

#endif
