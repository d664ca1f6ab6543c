// SPDX-License-Identifier: MIT
/* The CLI's generic netlink session (nl.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>

#include "nl.h"

void cli_nl_init(struct cli_nl *nl, const struct cli_transport_ops *ops)
{
	nl->ops = ops;
	nl->t = NULL;
	nl->family = 0;
}

void cli_nl_close(struct cli_nl *nl)
{
	if (nl->t)
		nl->ops->close(nl->t);
	nl->t = NULL;
}

static struct nlmsghdr *put_request(void *buf, uint16_t type, uint16_t flags,
				    uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

struct nlmsghdr *cli_nl_prepare(struct cli_nl *nl, uint8_t cmd, uint16_t flags)
{
	return put_request(nl->req, 0, flags, cmd, VDPA_GENL_VERSION);
}

static int ext_ack_cb(const struct nlattr *attr, void *data)
{
	const char **msg = data;

	if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*msg = mnl_attr_get_str(attr);
	return MNL_CB_STOP;
}

/* The extack message of an error or done message, or NULL. */
static const char *ext_ack_msg(const struct nlmsghdr *nlh, size_t offset)
{
	const char *msg = NULL;

	if (offset <= mnl_nlmsg_get_payload_len(nlh))
		mnl_attr_parse(nlh, offset, ext_ack_cb, &msg);
	return msg;
}

/* "Error: <msg>." or "Warning: <msg>."; true when it was an error. */
static bool ext_ack_print(const char *msg, int error)
{
	size_t len = msg ? strlen(msg) : 0;

	if (!len)
		return false;
	fprintf(stderr, "%s: %s%s\n", error ? "Error" : "Warning", msg,
		msg[len - 1] == '.' ? "" : ".");
	return error != 0;
}

/* Where the TLVs of an error start: after the echoed request, unless
 * NLM_F_CAPPED says only its header was echoed. */
static size_t ext_ack_offset(const struct nlmsghdr *nlh,
			     const struct nlmsgerr *err)
{
	if (nlh->nlmsg_flags & NLM_F_CAPPED)
		return sizeof(*err);
	if (err->msg.nlmsg_len < sizeof(err->msg))
		return SIZE_MAX;
	return sizeof(*err) + err->msg.nlmsg_len - sizeof(err->msg);
}

static int cb_error(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	const char *msg;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*err))
		return MNL_CB_STOP;
	errno = err->error < 0 ? -err->error : err->error;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		msg = ext_ack_msg(nlh, ext_ack_offset(nlh, err));
		if (ext_ack_print(msg, err->error))
			return MNL_CB_ERROR;
	}
	return err->error ? MNL_CB_ERROR : MNL_CB_STOP;
}

static int cb_done(const struct nlmsghdr *nlh, void *data)
{
	int error;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(error))
		return MNL_CB_STOP;
	memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
	if (error >= 0)
		return MNL_CB_STOP;
	errno = -error;
	ext_ack_print(ext_ack_msg(nlh, sizeof(error)), error);
	return MNL_CB_ERROR;
}

static int cb_noop(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_OK;
}

static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = cb_noop,
	[NLMSG_ERROR] = cb_error,
	[NLMSG_DONE] = cb_done,
	[NLMSG_OVERRUN] = cb_noop,
};

/*
 * libmnl's mnl_nlmsg_ok() compares lengths as int, so a header claiming
 * 2 GiB or more passes it and the walk leaves the buffer: check every
 * header of a record before libmnl walks it.
 */
static bool record_valid(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	size_t off = 0;

	while (off < len && len - off >= sizeof(*nlh)) {
		nlh = (const struct nlmsghdr *)((const char *)buf + off);
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off)
			return false;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	return true;
}

/* 0 when the exchange ended well (ack or NLMSG_DONE), else -1 and errno. */
static int recv_run(struct cli_nl *nl, mnl_cb_t cb, void *data)
{
	ssize_t n;
	int ret;

	do {
		n = nl->ops->recv(nl->t, nl->buf, sizeof(nl->buf));
		if (n <= 0) {
			/* The peer hung up before the exchange ended. */
			errno = n ? (int)-n : ECONNRESET;
			return -1;
		}
		if (!record_valid(nl->buf, n)) {
			errno = EPROTO;
			return -1;
		}
		ret = mnl_cb_run2(nl->buf, n, nl->seq, nl->t->portid, cb, data,
				  ctl_cbs, NLMSG_MIN_TYPE);
	} while (ret > 0);
	return ret;
}

static int send_request(struct cli_nl *nl, struct nlmsghdr *nlh)
{
	nl->seq = time(NULL);
	nlh->nlmsg_seq = nl->seq;
	return nl->ops->send(nl->t, nlh, nlh->nlmsg_len);
}

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	uint16_t *family = data;

	if (mnl_attr_get_type(attr) != CTRL_ATTR_FAMILY_ID)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
		*family = mnl_attr_get_u16(attr);
	return MNL_CB_STOP;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cli_nl *nl = data;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb,
		       &nl->family);
	if (nl->family)
		return MNL_CB_OK;
	errno = EPROTO;
	return MNL_CB_ERROR;
}

static int resolve_family(struct cli_nl *nl)
{
	struct nlmsghdr *nlh;
	int err;

	/* nl->req may hold the request waiting for this connection. */
	nlh = put_request(nl->buf, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK,
			  CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME);
	err = send_request(nl, nlh);
	if (err) {
		errno = -err;
		return -1;
	}
	nl->family = 0;
	if (recv_run(nl, family_cb, nl) < 0)
		return -1;
	if (!nl->family) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int cli_nl_connect(struct cli_nl *nl)
{
	char where[1024] = "";
	int err;

	if (nl->t)
		return 0;
	err = nl->ops->open(&nl->t, where, sizeof(where));
	if (err) {
		nl->t = NULL;
		fprintf(stderr, "Failed to connect to vdpa Netlink\n");
		if (where[0])
			fprintf(stderr, "%s\n", where);
		return err;
	}
	if (resolve_family(nl)) {
		err = -errno;
		cli_nl_close(nl);
		fprintf(stderr, "Failed to connect to vdpa Netlink\n");
		return err;
	}
	return 0;
}

int cli_nl_sndrcv(struct cli_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		  void *data)
{
	int err;

	err = cli_nl_connect(nl);
	if (err)
		return err;
	nlh->nlmsg_type = nl->family;
	err = send_request(nl, nlh);
	if (err) {
		fprintf(stderr, "Failed to send data: %s\n", strerror(-err));
		return err;
	}
	if (recv_run(nl, cb, data) < 0) {
		err = -errno;
		fprintf(stderr, "kernel answers: %s\n", strerror(errno));
		return err;
	}
	return 0;
}
