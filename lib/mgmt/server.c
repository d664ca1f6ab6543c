// SPDX-License-Identifier: MIT
/*
 * The management server's message layer: records in, records out. It does
 * what the kernel's netlink and generic netlink cores do around the vdpa
 * family's handlers: split a record into messages, answer the controller's
 * GETFAMILY, find the command, check permission and the attribute policy
 * before any handler runs, and turn results into acks, errors with an
 * extended ack message, and dumps ending in NLMSG_DONE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/internal.h"

enum mgmt_pol_type {
	POL_NONE,
	POL_U8,
	POL_U16,
	POL_U32,
	POL_U64,
	POL_STRING,
	POL_NUL_STRING,
	POL_BINARY
};

struct mgmt_policy {
	enum mgmt_pol_type type;
	uint16_t len; /* binary: exact length */
	uint16_t min; /* integers: least value */
	uint16_t max; /* integers: greatest value; 0: the type's */
};

/* vdpa_nl_policy: one flat policy for every command */
static const struct mgmt_policy mgmt_policy[UVDPA_ATTR_MAX + 1] = {
	[VDPA_ATTR_MGMTDEV_BUS_NAME] = { .type = POL_NUL_STRING },
	[VDPA_ATTR_MGMTDEV_DEV_NAME] = { .type = POL_STRING },
	[VDPA_ATTR_DEV_NAME] = { .type = POL_STRING },
	[VDPA_ATTR_DEV_NET_CFG_MACADDR] = { .type = POL_BINARY, .len = 6 },
	[VDPA_ATTR_DEV_NET_CFG_MAX_VQP] = { .type = POL_U16 },
	[VDPA_ATTR_DEV_NET_CFG_MTU] = { .type = POL_U16, .min = 68 },
	[VDPA_ATTR_DEV_QUEUE_INDEX] = { .type = POL_U32 },
	[VDPA_ATTR_DEV_FEATURES] = { .type = POL_U64 },
};

#define EXT(type) ((type)-UVDPA_ATTR_EXT_FIRST)

/* uvdpa's extension attributes (uvdpa/mgmt.h); POL_NONE: not a request's */
static const struct mgmt_policy ext_policy[MGMT_EXT_ATTRS] = {
	[EXT(UVDPA_ATTR_DEV_DRIVER)] = { .type = POL_NUL_STRING },
	[EXT(UVDPA_ATTR_DEV_SOCK_OWNER)] = { .type = POL_U32 },
	[EXT(UVDPA_ATTR_DEV_SOCK_GROUP)] = { .type = POL_U32 },
	[EXT(UVDPA_ATTR_DEV_SOCK_MODE)] = { .type = POL_U32 },
	[EXT(UVDPA_ATTR_DEV_IFNAME)] = { .type = POL_NUL_STRING },
	[EXT(UVDPA_ATTR_BLK_PATH)] = { .type = POL_NUL_STRING },
	[EXT(UVDPA_ATTR_BLK_READONLY)] = { .type = POL_U8, .max = 1 },
	[EXT(UVDPA_ATTR_BLK_NUM_QUEUES)] = { .type = POL_U16 },
	[EXT(UVDPA_ATTR_BLK_QUEUE_SIZE)] = { .type = POL_U16 },
	[EXT(UVDPA_ATTR_BLK_DIRECT)] = { .type = POL_U8, .max = 1 },
	[EXT(UVDPA_ATTR_BLK_WRITEBACK)] = { .type = POL_U8, .max = 1 },
	[EXT(UVDPA_ATTR_BLK_AIO)] = { .type = POL_U8,
				      .max = UVDPA_BLK_AIO_INLINE },
	[EXT(UVDPA_ATTR_BLK_SERIAL)] = { .type = POL_NUL_STRING },
	[EXT(UVDPA_ATTR_BLK_LOGICAL_BLOCK_SIZE)] = { .type = POL_U32 },
	[EXT(UVDPA_ATTR_BLK_CAPACITY)] = { .type = POL_U64 },
};

struct mgmt_server *mgmt_server_new(struct vdpa_bus *bus, uid_t admin_uid)
{
	struct mgmt_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->bus = bus;
	srv->admin_uid = admin_uid;
	return srv;
}

void mgmt_server_free(struct mgmt_server *srv)
{
	free(srv);
}

void mgmt_server_set_hooks(struct mgmt_server *srv,
			   const struct mgmt_hooks *hooks, void *ctx)
{
	srv->hooks = hooks ? *hooks : (struct mgmt_hooks){ 0 };
	srv->hooks_ctx = ctx;
}

/* ---- replies ---- */

static int mgmt_reply_flush(struct mgmt_reply *r)
{
	int ret;

	if (!r->len || r->err)
		return r->err;
	ret = r->send(r->ctx, r->rec, r->len);
	r->len = 0;
	if (ret)
		r->err = ret;
	return ret;
}

static int mgmt_reply_add(struct mgmt_reply *r, const struct nlmsghdr *nlh)
{
	if (r->len + nlh->nlmsg_len > sizeof(r->rec) && mgmt_reply_flush(r))
		return r->err;
	memcpy(r->rec + r->len, nlh, nlh->nlmsg_len);
	r->len += NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

static struct nlmsghdr *mgmt_put_header(struct mgmt_req *req, uint16_t type,
					uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req->msg);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = req->nlh->nlmsg_seq;
	nlh->nlmsg_pid = req->nlh->nlmsg_pid;
	return nlh;
}

struct nlmsghdr *mgmt_msg_start(struct mgmt_req *req, uint8_t cmd,
				uint16_t flags)
{
	struct nlmsghdr *nlh =
		mgmt_put_header(req, UVDPA_GENL_FAMILY_ID, flags);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	g->cmd = cmd;
	g->version = VDPA_GENL_VERSION;
	return nlh;
}

int mgmt_msg_end(struct mgmt_req *req, struct nlmsghdr *nlh)
{
	return mgmt_reply_add(req->reply, nlh);
}

int mgmt_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data)
{
	return mnl_attr_put_check(nlh, MGMT_MSG_SCRATCH, type, len, data)
		       ? 0
		       : -EMSGSIZE;
}

int mgmt_put_str(struct nlmsghdr *nlh, uint16_t type, const char *s)
{
	return mgmt_put(nlh, type, strlen(s) + 1, s);
}

int mgmt_put_u8(struct nlmsghdr *nlh, uint16_t type, uint8_t v)
{
	return mgmt_put(nlh, type, sizeof(v), &v);
}

int mgmt_put_u16(struct nlmsghdr *nlh, uint16_t type, uint16_t v)
{
	return mgmt_put(nlh, type, sizeof(v), &v);
}

int mgmt_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	return mgmt_put(nlh, type, sizeof(v), &v);
}

int mgmt_put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t v)
{
	return mgmt_put(nlh, type, sizeof(v), &v);
}

/* NLMSG_ERROR: @err (0 for an ack), the request's header, the message. */
static int mgmt_send_error(struct mgmt_req *req, int err)
{
	const char *text = req->ext_ack.msg;
	uint16_t flags = NLM_F_CAPPED;
	struct nlmsghdr *nlh;
	struct nlmsgerr *e;
	char full[sizeof(req->ext_ack.msg) + 8];

	if (*text)
		flags |= NLM_F_ACK_TLVS;
	nlh = mgmt_put_header(req, NLMSG_ERROR, flags);
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = err;
	e->msg = *req->nlh;
	if (*text) {
		/* NL_SET_ERR_MSG_MOD prefixes the module, "vdpa" */
		snprintf(full, sizeof(full), "%s%s",
			 req->ext_ack_raw ? "" : "vdpa: ", text);
		mgmt_put_str(nlh, NLMSGERR_ATTR_MSG, full);
	}
	return mgmt_reply_add(req->reply, nlh);
}

/* ---- requests ---- */

bool mgmt_attr_str(const struct mgmt_req *req, uint16_t type, char *buf,
		   size_t size)
{
	const struct nlattr *a = req->tb[type];
	size_t len;

	if (!a)
		return false;
	len = strnlen(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
	if (len >= size)
		return false;
	memcpy(buf, mnl_attr_get_payload(a), len);
	buf[len] = '\0';
	return true;
}

/* A policy violation: netlink core messages carry no module prefix. */
static int mgmt_policy_err(struct mgmt_req *req, const char *msg, int err)
{
	mgmt_err(req, "%s", msg);
	req->ext_ack_raw = true;
	return err;
}

/* NLA_POLICY_RANGE: only u8 and u16 attributes carry a range here. */
static int mgmt_check_int(struct mgmt_req *req, const struct nlattr *a,
			  const struct mgmt_policy *pol, size_t size)
{
	unsigned int v;

	if (mnl_attr_get_payload_len(a) != size)
		return mgmt_policy_err(req, "invalid attribute length",
				       -EINVAL);
	if (!pol->min && !pol->max)
		return 0;
	v = size == 1 ? mnl_attr_get_u8(a) : mnl_attr_get_u16(a);
	if (v < pol->min || (pol->max && v > pol->max))
		return mgmt_policy_err(req, "integer out of range", -ERANGE);
	return 0;
}

static int mgmt_check_attr(struct mgmt_req *req, const struct nlattr *a,
			   bool strict)
{
	uint16_t type = mnl_attr_get_type(a);
	size_t len = mnl_attr_get_payload_len(a);
	const struct mgmt_policy *pol;
	const char *p = mnl_attr_get_payload(a);

	if (type >= UVDPA_ATTR_EXT_FIRST && type <= UVDPA_ATTR_EXT_LAST) {
		if (EXT(type) >= MGMT_EXT_ATTRS ||
		    ext_policy[EXT(type)].type == POL_NONE) {
			/* else ignored; dev add refuses it by name */
			if (strict)
				return mgmt_policy_err(
					req, "Unknown attribute type", -EINVAL);
			req->unknown_ext = type;
			return 0;
		}
		pol = &ext_policy[EXT(type)];
	} else if (type > UVDPA_ATTR_MAX) {
		return strict ? mgmt_policy_err(req, "Unknown attribute type",
						-EINVAL)
			      : 0;
	} else {
		pol = &mgmt_policy[type];
	}
	switch (pol->type) {
	case POL_U8:
	case POL_U16:
	case POL_U32:
	case POL_U64: {
		static const size_t size[] = { [POL_U8] = 1,
					       [POL_U16] = 2,
					       [POL_U32] = 4,
					       [POL_U64] = 8 };
		int ret = mgmt_check_int(req, a, pol, size[pol->type]);

		if (ret)
			return ret;
		break;
	}
	case POL_NUL_STRING:
		if (!len || p[len - 1])
			return mgmt_policy_err(req,
					       "NUL-terminated string "
					       "missing",
					       -EINVAL);
		break;
	case POL_BINARY:
		if (len != pol->len)
			return mgmt_policy_err(req,
					       "binary attribute size out "
					       "of range",
					       -ERANGE);
		break;
	default:
		break;
	}
	if (type >= UVDPA_ATTR_EXT_FIRST)
		req->ext[EXT(type)] = a;
	else
		req->tb[type] = a;
	return 0;
}

/* Walk the attributes after @hdrlen bytes of payload, checking each. */
static int mgmt_parse_attrs(struct mgmt_req *req, size_t hdrlen, bool strict)
{
	const char *p = (const char *)mnl_nlmsg_get_payload(req->nlh) + hdrlen;
	size_t left = mnl_nlmsg_get_payload_len(req->nlh) - hdrlen;

	while (left >= sizeof(struct nlattr)) {
		const struct nlattr *a = (const struct nlattr *)p;
		int ret;

		if (a->nla_len < sizeof(*a) || a->nla_len > left)
			return mgmt_policy_err(req, "malformed attribute",
					       -EINVAL);
		if (mnl_attr_get_type(a) != VDPA_ATTR_PAD) {
			ret = mgmt_check_attr(req, a, strict);
			if (ret)
				return ret;
		}
		if ((size_t)NLA_ALIGN(a->nla_len) >= left)
			break;
		left -= NLA_ALIGN(a->nla_len);
		p += NLA_ALIGN(a->nla_len);
	}
	return 0;
}

static bool mgmt_is_admin(const struct mgmt_server *srv,
			  const struct mgmt_peer *peer)
{
	return peer->uid == 0 || peer->uid == srv->admin_uid;
}

/* nla_strcmp() == 0: the whole payload, a trailing NUL aside, is @s. */
static bool attr_is_str(const struct nlattr *a, const char *s)
{
	const char *p = mnl_attr_get_payload(a);
	size_t len = mnl_attr_get_payload_len(a);

	if (len && p[len - 1] == '\0')
		len--;
	return len == strlen(s) && !memcmp(p, s, len);
}

/* The generic netlink controller, for the one family served here. */
static int mgmt_ctrl_getfamily(struct mgmt_req *req)
{
	const struct nlattr *name = req->tb[CTRL_ATTR_FAMILY_NAME];
	const struct nlattr *id = req->tb[CTRL_ATTR_FAMILY_ID];
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	if (req->genl->cmd != CTRL_CMD_GETFAMILY)
		return -EOPNOTSUPP;
	if (name && !attr_is_str(name, VDPA_GENL_NAME))
		return -ENOENT;
	if (id && (mnl_attr_get_payload_len(id) != 2 ||
		   mnl_attr_get_u16(id) != UVDPA_GENL_FAMILY_ID))
		return -ENOENT;
	nlh = mgmt_put_header(req, GENL_ID_CTRL, 0);
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_NEWFAMILY;
	g->version = 2;
	if (mgmt_put_str(nlh, CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME) ||
	    mgmt_put_u16(nlh, CTRL_ATTR_FAMILY_ID, UVDPA_GENL_FAMILY_ID) ||
	    mgmt_put_u32(nlh, CTRL_ATTR_VERSION, VDPA_GENL_VERSION) ||
	    mgmt_put_u32(nlh, CTRL_ATTR_HDRSIZE, 0) ||
	    mgmt_put_u32(nlh, CTRL_ATTR_MAXATTR, UVDPA_ATTR_MAX))
		return -EMSGSIZE;
	return mgmt_reply_add(req->reply, nlh);
}

static int mgmt_ctrl(struct mgmt_req *req)
{
	const struct nlattr *a;
	size_t off = sizeof(struct genlmsghdr);

	/* the controller's own attributes, not the vdpa policy */
	mnl_attr_for_each(a, req->nlh, off)
		if (mnl_attr_get_type(a) <= CTRL_ATTR_MAXATTR)
			req->tb[mnl_attr_get_type(a)] = a;
	return mgmt_ctrl_getfamily(req);
}

static const struct mgmt_cmd *mgmt_find_cmd(uint8_t cmd)
{
	for (unsigned int i = 0; i < mgmt_ncmds; i++)
		if (mgmt_cmds[i].cmd == cmd)
			return &mgmt_cmds[i];
	return NULL;
}

static int mgmt_vdpa(struct mgmt_req *req, bool *dump)
{
	const struct mgmt_cmd *cmd = mgmt_find_cmd(req->genl->cmd);
	int ret;

	*dump = (req->nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	if (!cmd || !(*dump ? cmd->dumpit : cmd->doit)) {
		*dump = false;
		return -EOPNOTSUPP;
	}
	if (cmd->admin && !mgmt_is_admin(req->srv, req->peer)) {
		*dump = false;
		return -EPERM;
	}
	ret = mgmt_parse_attrs(req, sizeof(struct genlmsghdr), cmd->strict);
	if (ret) {
		*dump = false;
		return ret;
	}
	return *dump ? cmd->dumpit(req) : cmd->doit(req);
}

/* A dump's end carries its status, as the kernel's netlink_dump_done. */
static int mgmt_finish_dump(struct mgmt_req *req, int ret)
{
	struct nlmsghdr *nlh = mgmt_put_header(req, NLMSG_DONE, NLM_F_MULTI);
	int *status = mnl_nlmsg_put_extra_header(nlh, sizeof(*status));

	*status = ret;
	if (ret && *req->ext_ack.msg) {
		char full[sizeof(req->ext_ack.msg) + 8];

		snprintf(full, sizeof(full), "vdpa: %s", req->ext_ack.msg);
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mgmt_put_str(nlh, NLMSGERR_ATTR_MSG, full);
	}
	return mgmt_reply_add(req->reply, nlh);
}

static int mgmt_handle_msg(struct mgmt_req *req)
{
	const struct nlmsghdr *nlh = req->nlh;
	bool dump = false;
	int ret;

	if (!(nlh->nlmsg_flags & NLM_F_REQUEST) ||
	    nlh->nlmsg_type < NLMSG_MIN_TYPE)
		return 0; /* not a request: nothing to answer */
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct genlmsghdr))
		ret = -EINVAL;
	else if (nlh->nlmsg_type == GENL_ID_CTRL)
		ret = mgmt_ctrl(req);
	else if (nlh->nlmsg_type == UVDPA_GENL_FAMILY_ID)
		ret = mgmt_vdpa(req, &dump);
	else
		ret = -ENOENT; /* no such family */
	if (dump)
		return mgmt_finish_dump(req, ret);
	if (ret < 0 || (nlh->nlmsg_flags & NLM_F_ACK))
		return mgmt_send_error(req, ret < 0 ? ret : 0);
	return 0;
}

int mgmt_server_handle(struct mgmt_server *srv, const struct mgmt_peer *peer,
		       const void *buf, size_t len, mgmt_send_cb send,
		       void *ctx)
{
	struct mgmt_reply *reply = malloc(sizeof(*reply));
	struct mgmt_req *req = malloc(sizeof(*req));
	const char *p = buf;
	int ret = -ENOMEM;

	if (!reply || !req)
		goto out_free;
	reply->len = 0;
	reply->send = send;
	reply->ctx = ctx;
	reply->err = 0;
	while (len >= NLMSG_HDRLEN) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
		bool bad =
			nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len;

		memset(req, 0, offsetof(struct mgmt_req, msg));
		req->srv = srv;
		req->peer = peer;
		req->nlh = nlh;
		req->genl = mnl_nlmsg_get_payload(nlh);
		req->reply = reply;
		if (bad) {
			/* the rest of the record cannot be trusted */
			mgmt_send_error(req, -EINVAL);
			break;
		}
		if (mgmt_handle_msg(req) || reply->err)
			break;
		if (NLMSG_ALIGN(nlh->nlmsg_len) >= len)
			break;
		len -= NLMSG_ALIGN(nlh->nlmsg_len);
		p += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	ret = mgmt_reply_flush(reply);
out_free:
	free(reply);
	free(req);
	return ret;
}
