/* SPDX-License-Identifier: MIT */
/*
 * A generic netlink session of the CLI over a transport (transport.h):
 * it resolves the "vdpa" family, prepares requests, sends them and runs
 * the replies through a callback, printing errors the way iproute2's
 * mnl_utils does ("Error: <extack>." then "kernel answers: <strerror>").
 */
#ifndef UVDPA_CLI_NL_H
#define UVDPA_CLI_NL_H

#include <libmnl/libmnl.h>
#include <stdint.h>

#include <uvdpa/mgmt.h>

#include "transport.h"

struct cli_nl {
	const struct cli_transport_ops *ops;
	struct cli_transport *t; /* NULL until cli_nl_connect() */
	uint16_t family;
	uint32_t seq;
	/* A request is built before the session connects, so apart. */
	char req[UVDPA_MGMT_MSG_MAX];
	char buf[UVDPA_MGMT_MSG_MAX];
};

void cli_nl_init(struct cli_nl *nl, const struct cli_transport_ops *ops);
/*
 * Connects and resolves the family, once. On failure prints "Failed to
 * connect to vdpa Netlink" (and where it looked) and returns -errno.
 */
int cli_nl_connect(struct cli_nl *nl);
void cli_nl_close(struct cli_nl *nl);

/* Starts a request of @cmd in nl->req; its type is set when sent. */
struct nlmsghdr *cli_nl_prepare(struct cli_nl *nl, uint8_t cmd, uint16_t flags);
/*
 * Sends @nlh (connecting first if needed) and feeds each reply message
 * to @cb (NULL: replies carry no data) until the ack, NLMSG_DONE or an
 * error. Returns 0, or -errno after printing the error.
 */
int cli_nl_sndrcv(struct cli_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		  void *data);

#endif
