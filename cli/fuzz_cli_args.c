// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: whole command lines. The input is split at NUL
 * bytes into argv words; the peer acks every request, so parsing,
 * dispatch and request building all run.
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

#define MAX_WORDS 24

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool family_asked;
static struct cli_transport fuzz_t;

static int fz_open(struct cli_transport **tp, char *where, size_t len)
{
	*tp = &fuzz_t;
	return 0;
}

static int fz_send(struct cli_transport *t, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;

	if (len < sizeof(*nlh) || nlh->nlmsg_len != len)
		abort(); /* the CLI must send whole messages */
	family_asked = nlh->nlmsg_type == GENL_ID_CTRL;
	return 0;
}

static struct nlmsghdr *put_ack(void *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nlmsgerr));
	return nlh;
}

/* The family and an ack to GETFAMILY, an ack to anything else. */
static ssize_t fz_recv(struct cli_transport *t, void *buf, size_t len)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	size_t off;

	if (!family_asked)
		return put_ack(buf)->nlmsg_len;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_NEWFAMILY;
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, UVDPA_GENL_FAMILY_ID);
	off = NLMSG_ALIGN(nlh->nlmsg_len);
	return off + put_ack((char *)buf + off)->nlmsg_len;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char prog[] = "uvdpa";
	char *argv[MAX_WORDS + 2], *copy;
	size_t i, start = 0;
	int argc = 0;

	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = prog;
	for (i = 0; i <= size && argc <= MAX_WORDS; i++) {
		if (copy[i] != '\0')
			continue;
		argv[argc++] = copy + start;
		start = i + 1;
	}
	argv[argc] = NULL;
	cli_run(argc, argv, &fuzz_ops);
	free(copy);
	return 0;
}
