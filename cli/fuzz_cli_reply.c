// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the daemon's answer is untrusted input. The first
 * byte picks a command line; the rest is the record the peer answers
 * with, after a well-formed family reply. Exercises the receive loop,
 * the error and extack handling, attribute parsing and the printers.
 *
 * Run with -close_fd_mask=3: the CLI prints on stdout and stderr.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/genetlink.h>

#include <uvdpa/mgmt.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *input;
static size_t input_len;
static int stage; /* 0: family reply next, 1: the input, 2: hang up */
static struct cli_transport fuzz_t;

static int fz_open(struct cli_transport **tp, char *where, size_t len)
{
	stage = 0;
	*tp = &fuzz_t;
	return 0;
}

static int fz_send(struct cli_transport *t, const void *buf, size_t len)
{
	return 0;
}

/* The family and its ack, in one record, as uvdpad sends them. */
static ssize_t family_reply(void *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;
	size_t off;

	nlh->nlmsg_type = GENL_ID_CTRL;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_NEWFAMILY;
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, UVDPA_GENL_FAMILY_ID);
	off = NLMSG_ALIGN(nlh->nlmsg_len);
	nlh = mnl_nlmsg_put_header((char *)buf + off);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nlmsgerr));
	return off + nlh->nlmsg_len;
}

static ssize_t fz_recv(struct cli_transport *t, void *buf, size_t len)
{
	switch (stage++) {
	case 0:
		return family_reply(buf);
	case 1:
		if (input_len > len)
			return -EMSGSIZE;
		memcpy(buf, input, input_len);
		return input_len;
	default:
		return 0;
	}
}

static void fz_close(struct cli_transport *t)
{
}

static const struct cli_transport_ops fuzz_ops = {
	.name = "fuzz",
	.open = fz_open,
	.send = fz_send,
	.recv = fz_recv,
	.close = fz_close,
};

static const char *const cmds[][8] = {
	{ "uvdpa", "mgmtdev", "show", NULL },
	{ "uvdpa", "-jp", "mgmtdev", "show", "pci/x", NULL },
	{ "uvdpa", "dev", "show", NULL },
	{ "uvdpa", "-j", "dev", "show", "x", NULL },
	{ "uvdpa", "dev", "config", "show", NULL },
	{ "uvdpa", "-j", "dev", "config", "show", NULL },
	{ "uvdpa", "dev", "vstats", "show", "x", "qidx", "0", NULL },
	{ "uvdpa", "-jp", "dev", "vstats", "show", "x", "qidx", "1" },
	{ "uvdpa", "dev", "add", "name", "x", "mgmtdev", "y", NULL },
	{ "uvdpa", "dev", "set", "name", "x", "mac", "0:1:2:3:4:5", NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[9] = { NULL };
	int argc = 0;
	const char *const *cmd;

	if (size < 1)
		return 0;
	cmd = cmds[data[0] % (sizeof(cmds) / sizeof(cmds[0]))];
	input = data + 1;
	input_len = size - 1;
	while (argc < 8 && cmd[argc]) {
		argv[argc] = strdup(cmd[argc]);
		argc++;
	}
	cli_run(argc, argv, &fuzz_ops);
	while (argc--)
		free(argv[argc]);
	return 0;
}
