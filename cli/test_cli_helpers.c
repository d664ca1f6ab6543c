// SPDX-License-Identifier: MIT
/* Helpers of the CLI unit tests (test_cli_helpers.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/uapi.h>

#include "cli.h"
#include "json_print.h"
#include "test_cli_helpers.h"

struct nlmsghdr *msg_start(void *buf, uint16_t type, uint16_t flags,
			   uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = VDPA_GENL_VERSION;
	return nlh;
}

struct nlmsghdr *mk_mgmtdev(void *buf, const char *bus, const char *name,
			    uint64_t classes, uint32_t max_vqs,
			    uint64_t features)
{
	struct nlmsghdr *nlh = msg_start(buf, UVDPA_GENL_FAMILY_ID, NLM_F_MULTI,
					 VDPA_CMD_MGMTDEV_NEW);

	if (bus)
		mnl_attr_put_strz(nlh, VDPA_ATTR_MGMTDEV_BUS_NAME, bus);
	mnl_attr_put_strz(nlh, VDPA_ATTR_MGMTDEV_DEV_NAME, name);
	mnl_attr_put_u64(nlh, VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES, classes);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_MGMTDEV_MAX_VQS, max_vqs);
	mnl_attr_put_u64(nlh, VDPA_ATTR_DEV_SUPPORTED_FEATURES, features);
	return nlh;
}

struct nlmsghdr *mk_dev(void *buf, const char *name, const char *mgmtdev,
			uint32_t id, uint32_t max_vqs)
{
	struct nlmsghdr *nlh = msg_start(buf, UVDPA_GENL_FAMILY_ID, NLM_F_MULTI,
					 VDPA_CMD_DEV_NEW);

	mnl_attr_put_strz(nlh, VDPA_ATTR_MGMTDEV_DEV_NAME, mgmtdev);
	mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, name);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_ID, id);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_VENDOR_ID, 0);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_MAX_VQS, max_vqs);
	mnl_attr_put_u16(nlh, VDPA_ATTR_DEV_MAX_VQ_SIZE, 256);
	mnl_attr_put_u16(nlh, VDPA_ATTR_DEV_MIN_VQ_SIZE, 1);
	return nlh;
}

struct nlmsghdr *mk_net_config(void *buf, const char *name,
			       const uint8_t mac[6], uint16_t status,
			       uint16_t mtu, int max_vqp, uint64_t negotiated)
{
	struct nlmsghdr *nlh = msg_start(buf, UVDPA_GENL_FAMILY_ID, 0,
					 VDPA_CMD_DEV_CONFIG_GET);

	mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, name);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_ID, VIRTIO_ID_NET);
	if (negotiated)
		mnl_attr_put_u64(nlh, VDPA_ATTR_DEV_NEGOTIATED_FEATURES,
				 negotiated);
	mnl_attr_put_u64(nlh, VDPA_ATTR_DEV_FEATURES, 0x308830028ULL);
	mnl_attr_put_u16(nlh, VDPA_ATTR_DEV_NET_CFG_MTU, mtu);
	mnl_attr_put(nlh, VDPA_ATTR_DEV_NET_CFG_MACADDR, 6, mac);
	mnl_attr_put_u16(nlh, VDPA_ATTR_DEV_NET_STATUS, status);
	if (max_vqp >= 0)
		mnl_attr_put_u16(nlh, VDPA_ATTR_DEV_NET_CFG_MAX_VQP, max_vqp);
	return nlh;
}

struct nlmsghdr *mk_blk_config(void *buf, const char *name)
{
	struct nlmsghdr *nlh = msg_start(buf, UVDPA_GENL_FAMILY_ID, 0,
					 VDPA_CMD_DEV_CONFIG_GET);

	mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, name);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_ID, VIRTIO_ID_BLOCK);
	mnl_attr_put_u64(nlh, VDPA_ATTR_DEV_FEATURES, 0x308047646ULL);
	mnl_attr_put_u64(nlh, VDPA_ATTR_DEV_BLK_CFG_CAPACITY, 0x40000);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_SIZE_MAX, 4096);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_BLK_SIZE, 512);
	mnl_attr_put_u8(nlh, VDPA_ATTR_DEV_BLK_READ_ONLY, 0);
	mnl_attr_put_u8(nlh, VDPA_ATTR_DEV_BLK_FLUSH, 1);
	return nlh;
}

static const char *const net_stats[3][5] = {
	{ "rx packets", "rx bytes", "rx errors", "rx overruns", "rx drops" },
	{ "tx packets", "tx bytes", "tx errors", "tx drops", NULL },
	{ "cvq requests", "cvq successes", "cvq errors", NULL, NULL },
};

struct nlmsghdr *mk_net_vstats(void *buf, const char *name, uint64_t negotiated,
			       int max_vqp, uint32_t qidx)
{
	struct nlmsghdr *nlh = msg_start(buf, UVDPA_GENL_FAMILY_ID, 0,
					 VDPA_CMD_DEV_VSTATS_GET);
	int i;

	mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, name);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_ID, VIRTIO_ID_NET);
	mnl_attr_put_u64(nlh, VDPA_ATTR_DEV_NEGOTIATED_FEATURES, negotiated);
	if (max_vqp >= 0)
		mnl_attr_put_u16(nlh, VDPA_ATTR_DEV_NET_CFG_MAX_VQP, max_vqp);
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_QUEUE_INDEX, qidx);
	for (i = 0; qidx < 3 && i < 5 && net_stats[qidx][i]; i++) {
		mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_VENDOR_ATTR_NAME,
				  net_stats[qidx][i]);
		mnl_attr_put_u64(nlh, VDPA_ATTR_DEV_VENDOR_ATTR_VALUE,
				 i == 0	  ? 12
				 : i == 1 ? 1200
					  : 0);
	}
	return nlh;
}

struct nlmsghdr *mk_error(void *buf, int error, const char *msg)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *err;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED | (msg ? NLM_F_ACK_TLVS : 0);
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = error;
	err->msg.nlmsg_len = sizeof(err->msg);
	err->msg.nlmsg_type = UVDPA_GENL_FAMILY_ID;
	if (msg)
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, msg);
	return nlh;
}

struct nlmsghdr *mk_done(void *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int *len;

	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	len = mnl_nlmsg_put_extra_header(nlh, sizeof(*len));
	*len = 0;
	return nlh;
}

static char *read_all(FILE *f)
{
	long n;
	char *s;

	fflush(f);
	n = ftell(f);
	rewind(f);
	s = calloc(1, n + 1);
	if (s && n > 0 && fread(s, 1, n, f) != (size_t)n)
		s[0] = '\0';
	return s;
}

char *print_to_string(bool json, bool pretty, void (*fn)(void *ctx), void *ctx)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	json_print_init(f, json, pretty);
	fn(ctx);
	json_print_fini();
	fclose(f);
	return s;
}

/* ---- fake peer ---- */

struct fake_peer fake;
static struct cli_transport fake_transport = { .ops = &fake_ops };

void fake_reset(void)
{
	memset(&fake, 0, sizeof(fake));
}

void fake_push(const struct nlmsghdr *nlh)
{
	memcpy(fake.rec[fake.nrec], nlh, nlh->nlmsg_len);
	fake.rec_len[fake.nrec++] = nlh->nlmsg_len;
}

void fake_append(const struct nlmsghdr *nlh)
{
	size_t *len = &fake.rec_len[fake.nrec - 1];

	memcpy(fake.rec[fake.nrec - 1] + *len, nlh, nlh->nlmsg_len);
	*len += NLMSG_ALIGN(nlh->nlmsg_len);
}

const struct nlmsghdr *fake_req(void)
{
	return (const struct nlmsghdr *)fake.req;
}

struct find_attr {
	uint16_t type;
	const struct nlattr *found;
};

static int find_attr_cb(const struct nlattr *attr, void *data)
{
	struct find_attr *f = data;

	if (mnl_attr_get_type(attr) != f->type)
		return MNL_CB_OK;
	f->found = attr;
	return MNL_CB_STOP;
}

const struct nlattr *fake_req_attr(uint16_t type)
{
	struct find_attr f = { .type = type };

	mnl_attr_parse(fake_req(), sizeof(struct genlmsghdr), find_attr_cb, &f);
	return f.found;
}

static int fake_open(struct cli_transport **tp, char *where, size_t len)
{
	if (fake.open_err) {
		snprintf(where, len,
			 "No uvdpad listening at /fake/uvdpad.sock"
			 " (Connection refused)");
		return fake.open_err;
	}
	*tp = &fake_transport;
	return 0;
}

static int fake_send(struct cli_transport *t, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;

	if (nlh->nlmsg_type == GENL_ID_CTRL) {
		fake.family_pending = true;
		return 0;
	}
	memcpy(fake.req, buf, len < sizeof(fake.req) ? len : sizeof(fake.req));
	fake.nreq++;
	return 0;
}

/* The controller's answer: the family, then the ack, in one record. */
static ssize_t family_reply(void *buf)
{
	struct nlmsghdr *nlh, *ack;

	if (fake.no_family) {
		nlh = mk_error(buf, -ENOENT, NULL);
		return nlh->nlmsg_len;
	}
	nlh = msg_start(buf, GENL_ID_CTRL, 0, CTRL_CMD_NEWFAMILY);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, UVDPA_GENL_FAMILY_ID);
	mnl_attr_put_u32(nlh, CTRL_ATTR_MAXATTR, UVDPA_ATTR_MAX);
	ack = mk_error((char *)buf + NLMSG_ALIGN(nlh->nlmsg_len), 0, NULL);
	return NLMSG_ALIGN(nlh->nlmsg_len) + ack->nlmsg_len;
}

static ssize_t fake_recv(struct cli_transport *t, void *buf, size_t len)
{
	size_t n;

	if (fake.family_pending) {
		fake.family_pending = false;
		return family_reply(buf);
	}
	if (fake.next >= fake.nrec)
		return 0;
	n = fake.rec_len[fake.next];
	memcpy(buf, fake.rec[fake.next++], n);
	return n;
}

static void fake_close(struct cli_transport *t)
{
	if (t)
		fake.closed = true;
}

const struct cli_transport_ops fake_ops = {
	.name = "fake",
	.open = fake_open,
	.send = fake_send,
	.recv = fake_recv,
	.close = fake_close,
};

static struct {
	FILE *out, *err;
	int saved_out, saved_err;
} cap;

void cap_begin(void)
{
	fflush(stdout);
	fflush(stderr);
	cap.out = tmpfile();
	cap.err = tmpfile();
	cap.saved_out = dup(1);
	cap.saved_err = dup(2);
	dup2(fileno(cap.out), 1);
	dup2(fileno(cap.err), 2);
}

void cap_end(char **out, char **err)
{
	fflush(stdout);
	fflush(stderr);
	dup2(cap.saved_out, 1);
	dup2(cap.saved_err, 2);
	close(cap.saved_out);
	close(cap.saved_err);
	*out = read_all(cap.out);
	*err = read_all(cap.err);
	fclose(cap.out);
	fclose(cap.err);
}

struct run_result run_cli_with(const struct cli_transport_ops *ops,
			       const char *const *args)
{
	struct run_result r = { 0 };
	char *argv[32];
	int argc = 0, i;

	argv[argc++] = strdup("uvdpa");
	while (args[argc - 1] && argc < 31) {
		argv[argc] = strdup(args[argc - 1]);
		argc++;
	}
	argv[argc] = NULL;
	cap_begin();
	r.status = cli_run(argc, argv, ops);
	cap_end(&r.out, &r.err);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return r;
}

struct run_result run_cli(const char *const *args)
{
	return run_cli_with(&fake_ops, args);
}

void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
}
