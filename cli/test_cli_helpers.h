/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the CLI unit tests: canned replies built with libmnl in the
 * order the kernel emits attributes (reference §1.4), a fake transport
 * that replays them, and capture of what a run prints.
 */
#ifndef UVDPA_CLI_TEST_HELPERS_H
#define UVDPA_CLI_TEST_HELPERS_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

#define TEST_MSG_MAX 4096

/* A reply message: nlmsghdr + genlmsghdr, attributes added by the test. */
struct nlmsghdr *msg_start(void *buf, uint16_t type, uint16_t flags,
			   uint8_t cmd);

/* Replies of the two simulators and their devices. */
struct nlmsghdr *mk_mgmtdev(void *buf, const char *bus, const char *name,
			    uint64_t classes, uint32_t max_vqs,
			    uint64_t features);
struct nlmsghdr *mk_dev(void *buf, const char *name, const char *mgmtdev,
			uint32_t id, uint32_t max_vqs);
/* A net config reply: @negotiated 0 leaves NEGOTIATED_FEATURES out. */
struct nlmsghdr *mk_net_config(void *buf, const char *name,
			       const uint8_t mac[6], uint16_t status,
			       uint16_t mtu, int max_vqp, uint64_t negotiated);
struct nlmsghdr *mk_blk_config(void *buf, const char *name);
/* vdpasim_net's vstats reply for @qidx; @max_vqp < 0 leaves it out. */
struct nlmsghdr *mk_net_vstats(void *buf, const char *name, uint64_t negotiated,
			       int max_vqp, uint32_t qidx);
/* An ack or error, the way uvdpad sends it (capped, extack message). */
struct nlmsghdr *mk_error(void *buf, int error, const char *msg);
struct nlmsghdr *mk_done(void *buf);

/* Runs @fn with stdout directed to a buffer; returns it (free it). */
char *print_to_string(bool json, bool pretty, void (*fn)(void *ctx), void *ctx);

/* ---- fake peer ---- */

struct fake_peer {
	int open_err; /* -errno: open() fails with it */
	bool no_family; /* answer GETFAMILY with ENOENT */
	int nreq; /* vdpa requests sent */
	char req[TEST_MSG_MAX]; /* the last vdpa request */
	char rec[16][TEST_MSG_MAX]; /* replies, one record each */
	size_t rec_len[16];
	int nrec, next;
	bool family_pending;
	bool closed;
};

extern struct fake_peer fake;
extern const struct cli_transport_ops fake_ops;

void fake_reset(void);
/* Queues @nlh as a new record, or appends it to the last record. */
void fake_push(const struct nlmsghdr *nlh);
void fake_append(const struct nlmsghdr *nlh);
/* The attribute @type of the last request, or NULL. */
const struct nlattr *fake_req_attr(uint16_t type);
const struct nlmsghdr *fake_req(void);

/* Runs the CLI on @args (NULL-ended) and captures stdout and stderr. */
struct run_result {
	int status;
	char *out;
	char *err;
};
struct run_result run_cli(const char *const *args);
struct run_result run_cli_with(const struct cli_transport_ops *ops,
			       const char *const *args);

/* Captures what is printed to stdout and stderr between the two. */
void cap_begin(void);
void cap_end(char **out, char **err);
void run_result_free(struct run_result *r);

#endif
