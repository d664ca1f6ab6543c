// SPDX-License-Identifier: MIT
/*
 * Option parsing (opts.h). The keywords, which of them accept a prefix,
 * the messages and the quiet failures are iproute2 vdpa's, so scripts
 * written for `vdpa` behave the same with `uvdpa`.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vdpa.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/uapi.h>

#include "opts.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

bool cli_matches(const char *arg, const char *keyword)
{
	if (!*arg)
		return false;
	return strncmp(arg, keyword, strlen(arg)) == 0;
}

/* MGMTDEV is "bus/dev" or "dev"; the string is split in place. */
int cli_parse_handle(char *arg, const char **bus, const char **dev)
{
	char *slash = strchr(arg, '/');

	if (slash && strchr(slash + 1, '/')) {
		fprintf(stderr,
			"Wrong vdpa mgmtdev identification string format\n"
			"Expected \"mgmtdev_bus_name/mgmtdev_name\"\n"
			"Expected \"mgmtdev_name\"\n");
		return -EINVAL;
	}
	*bus = NULL;
	*dev = arg;
	if (slash) {
		*slash = '\0';
		*bus = arg;
		*dev = slash + 1;
	}
	return 0;
}

static int invalid_lladdr(const char *arg)
{
	fprintf(stderr, "\"%s\" is invalid lladdr.\n", arg);
	return -1;
}

/* The dotted form iproute2 also takes: up to four numbers, as IPv4. */
static int parse_dotted(uint8_t *addr, int len, const char *arg)
{
	uint8_t quad[4] = { 0 };
	const char *p = arg;
	unsigned long n;
	char *end;
	int i;

	if (strchr(arg, ':'))
		return invalid_lladdr(arg);
	for (i = 0; i < 4; i++) {
		n = strtoul(p, &end, 0);
		if (n > 255 || end == p)
			return invalid_lladdr(arg);
		quad[i] = n;
		if (*end == '\0')
			break;
		if (i == 3 || *end != '.')
			return invalid_lladdr(arg);
		p = end + 1;
	}
	if (len < 4)
		return -1;
	memcpy(addr, quad, 4);
	return 4;
}

/*
 * Colon-separated hex bytes (the string is split in place). As in
 * iproute2, fewer bytes than @len leave the rest as they were and extra
 * ones are ignored; returns the count read, or -1 after a message.
 */
int cli_parse_lladdr(uint8_t *addr, int len, char *arg)
{
	unsigned int byte;
	char *colon;
	int i;

	if (strchr(arg, '.'))
		return parse_dotted(addr, len, arg);
	for (i = 0; i < len; i++) {
		colon = strchr(arg, ':');
		if (colon)
			*colon++ = '\0';
		if (sscanf(arg, "%x", &byte) != 1 || byte > 255)
			return invalid_lladdr(arg);
		addr[i] = byte;
		if (!colon)
			break;
		arg = colon;
	}
	return i + 1;
}

/* iproute2's get_u16/get_u32/get_u64: whole string, in range, no message. */
int cli_parse_ull(const char *arg, int base, unsigned long long max,
		  unsigned long long *val)
{
	unsigned long long v;
	char *end;

	if (!*arg)
		return -1;
	errno = 0;
	v = strtoull(arg, &end, base);
	if (end == arg || *end || errno == ERANGE || v > max)
		return -1;
	*val = v;
	return 0;
}

/*
 * uvdpa's own numbers: digits only. strtoull takes blanks and a sign
 * first, and "-4294967295" wraps around to 1.
 */
int cli_parse_uint(const char *arg, int base, unsigned long long max,
		   unsigned long long *val)
{
	if (!isdigit((unsigned char)*arg))
		return -1;
	return cli_parse_ull(arg, base, max, val);
}

static int missing(const char *what)
{
	fprintf(stderr, "%s\n", what);
	return -EINVAL;
}

static int opt_name(struct cli_opts *o, char *arg)
{
	if (!arg)
		return missing("String parameter expected");
	o->vdev_name = arg;
	return 0;
}

static int opt_mgmtdev(struct cli_opts *o, char *arg)
{
	if (!arg)
		return missing("vdpa identification "
			       "(\"mgmtdev_bus_name/mgmtdev_name\") expected");
	return cli_parse_handle(arg, &o->mdev_bus_name, &o->mdev_name);
}

static int opt_mac(struct cli_opts *o, char *arg)
{
	if (!arg)
		return missing("String parameter expected");
	return cli_parse_lladdr(o->mac, CLI_ETH_ALEN, arg) < 0 ? -EINVAL : 0;
}

/* iproute2's numbers: a message when one is missing, none when wrong. */
static int opt_num(const char *arg, int base, unsigned long long max,
		   unsigned long long *v)
{
	if (!arg)
		return missing("number expected");
	return cli_parse_ull(arg, base, max, v);
}

static int opt_u16(uint16_t *val, char *arg)
{
	unsigned long long v;
	int ret = opt_num(arg, 10, 0xffff, &v);

	if (!ret)
		*val = v;
	return ret;
}

static int opt_mtu(struct cli_opts *o, char *arg)
{
	return opt_u16(&o->mtu, arg);
}

static int opt_max_vqp(struct cli_opts *o, char *arg)
{
	return opt_u16(&o->max_vqp, arg);
}

static int opt_qidx(struct cli_opts *o, char *arg)
{
	unsigned long long v;
	int ret = opt_num(arg, 10, 0xffffffffULL, &v);

	if (!ret)
		o->queue_idx = v;
	return ret;
}

/* Hex, with or without "0x" (strtoull base 16 takes both). */
static int opt_features(struct cli_opts *o, char *arg)
{
	unsigned long long v;
	int ret = opt_num(arg, 16, ~0ULL, &v);

	if (!ret)
		o->device_features = v;
	return ret;
}

static bool user_id(const char *name, uint32_t *id)
{
	struct passwd *pw = getpwnam(name);

	if (pw)
		*id = pw->pw_uid;
	return pw;
}

static bool group_id(const char *name, uint32_t *id)
{
	struct group *gr = getgrnam(name);

	if (gr)
		*id = gr->gr_gid;
	return gr;
}

/* A number (not -1: chown's "unchanged") or a name @lookup knows. */
static int opt_id(const char *keyword, const char *what, const char *arg,
		  bool (*lookup)(const char *name, uint32_t *id), uint32_t *id)
{
	unsigned long long v;

	if (!arg) {
		fprintf(stderr, "%s expected\n", what);
		return -EINVAL;
	}
	if (!cli_parse_uint(arg, 10, 0xfffffffeULL, &v)) {
		*id = (uint32_t)v;
		return 0;
	}
	if (!lookup(arg, id)) {
		fprintf(stderr, "%s \"%s\": no such %s\n", keyword, arg, what);
		return -EINVAL;
	}
	return 0;
}

static int opt_owner(struct cli_opts *o, char *arg)
{
	return opt_id("owner", "user", arg, user_id, &o->sock_owner);
}

static int opt_group(struct cli_opts *o, char *arg)
{
	return opt_id("group", "group", arg, group_id, &o->sock_group);
}

/* Octal permission bits, as chmod takes them. */
static int opt_mode(struct cli_opts *o, char *arg)
{
	unsigned long long v;

	if (!arg)
		return missing("mode expected");
	if (cli_parse_uint(arg, 8, 07777, &v)) {
		fprintf(stderr,
			"mode \"%s\": an octal mode up to 7777 "
			"expected\n",
			arg);
		return -EINVAL;
	}
	o->sock_mode = (uint32_t)v;
	return 0;
}

/*
 * Keyword options, in the order iproute2 tries them (the first match
 * wins, so "m" is mgmtdev and "ma" max_vqp). Some are taken only when
 * the command lists them as optional, not merely as required.
 */
static const struct opt_desc {
	const char *keyword;
	bool prefix; /* matches() rather than strcmp() */
	bool optional_only;
	bool alone; /* a word without a value */
	uint64_t flag;
	int (*parse)(struct cli_opts *o, char *arg);
} opt_table[] = {
	{ "name", true, false, false, CLI_OPT_VDEV_NAME, opt_name },
	{ "mgmtdev", true, false, false, CLI_OPT_VDEV_MGMTDEV_HANDLE,
	  opt_mgmtdev },
	{ "mac", false, false, false, CLI_OPT_VDEV_MAC, opt_mac },
	{ "mtu", false, false, false, CLI_OPT_VDEV_MTU, opt_mtu },
	{ "max_vqp", true, true, false, CLI_OPT_MAX_VQP, opt_max_vqp },
	{ "qidx", false, true, false, CLI_OPT_QUEUE_INDEX, opt_qidx },
	{ "device_features", false, true, false, CLI_OPT_VDEV_FEATURES,
	  opt_features },
	/* uvdpa's own, tried after iproute2's keywords, never prefixes */
	{ "owner", false, true, false, CLI_OPT_SOCK_OWNER, opt_owner },
	{ "group", false, true, false, CLI_OPT_SOCK_GROUP, opt_group },
	{ "mode", false, true, false, CLI_OPT_SOCK_MODE, opt_mode },
	{ "driver", false, false, false, CLI_OPT_DRIVER, cli_opt_driver },
	{ "ifname", false, true, false, CLI_OPT_IFNAME, cli_opt_ifname },
	{ "path", false, true, false, CLI_OPT_BLK_PATH, cli_opt_path },
	{ "readonly", false, true, true, CLI_OPT_BLK_READONLY,
	  cli_opt_readonly },
	{ "num_queues", false, true, false, CLI_OPT_BLK_NUM_QUEUES,
	  cli_opt_num_queues },
	{ "queue_size", false, true, false, CLI_OPT_BLK_QUEUE_SIZE,
	  cli_opt_queue_size },
	{ "direct", false, true, false, CLI_OPT_BLK_DIRECT, cli_opt_direct },
	{ "writeback", false, true, false, CLI_OPT_BLK_WRITEBACK,
	  cli_opt_writeback },
	{ "aio", false, true, false, CLI_OPT_BLK_AIO, cli_opt_aio },
	{ "serial", false, true, false, CLI_OPT_BLK_SERIAL, cli_opt_serial },
	{ "logical_block_size", false, true, false, CLI_OPT_BLK_LBS,
	  cli_opt_lbs },
	{ "capacity", false, false, false, CLI_OPT_BLK_CAPACITY,
	  cli_opt_capacity },
};

static const struct opt_desc *opt_find(const char *arg, uint64_t required,
				       uint64_t optional)
{
	const struct opt_desc *d;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(opt_table); i++) {
		d = &opt_table[i];
		if (!(d->prefix ? cli_matches(arg, d->keyword)
				: !strcmp(arg, d->keyword)))
			continue;
		if ((optional | (d->optional_only ? 0 : required)) & d->flag)
			return d;
	}
	return NULL;
}

static const struct {
	uint64_t flag;
	const char *msg;
} required_msgs[] = {
	{ CLI_OPT_VDEV_MGMTDEV_HANDLE, "management device handle not set." },
	{ CLI_OPT_VDEV_NAME, "device name is not set." },
	{ CLI_OPT_VDEV_HANDLE, "device name is not set." },
	{ CLI_OPT_QUEUE_INDEX, "queue index is not set." },
	{ CLI_OPT_DRIVER, "driver is not set." },
	{ CLI_OPT_BLK_CAPACITY, "capacity is not set." },
};

static int check_required(uint64_t required, uint64_t found)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(required_msgs); i++) {
		if ((required & required_msgs[i].flag) &&
		    !(found & required_msgs[i].flag))
			return missing(required_msgs[i].msg);
	}
	if (required & ~found)
		return missing("BUG: unknown argument required but not found");
	return 0;
}

/* The positional handle some commands start with (MGMTDEV or DEV). */
static int parse_positional(struct cli_opts *o, int argc, char **argv,
			    uint64_t required, uint64_t *found)
{
	char *arg = argc > 0 ? argv[0] : NULL;
	int err;

	if (required & CLI_OPT_MGMTDEV_HANDLE) {
		err = opt_mgmtdev(o, arg);
		*found |= CLI_OPT_MGMTDEV_HANDLE;
	} else if (required & CLI_OPT_VDEV_HANDLE) {
		err = opt_name(o, arg);
		*found |= CLI_OPT_VDEV_HANDLE;
	} else {
		return 0;
	}
	return err ? err : 1;
}

int cli_opts_parse(struct cli_opts *opts, int argc, char **argv,
		   uint64_t required, uint64_t optional)
{
	const struct opt_desc *d;
	uint64_t found = 0;
	int err;

	memset(opts, 0, sizeof(*opts));
	err = parse_positional(opts, argc, argv, required, &found);
	if (err < 0)
		return err;
	argc -= err;
	argv += err;
	/*
	 * Keyword and value come in pairs; like iproute2 (NEXT_ARG_OK), a
	 * lone last word is not looked at at all.
	 */
	while (argc > 0) {
		d = opt_find(argv[0], required, optional);
		if (argc == 1 && !(d && d->alone))
			break;
		if (!d) {
			fprintf(stderr, "Unknown option \"%s\"\n", argv[0]);
			return -EINVAL;
		}
		err = d->parse(opts, d->alone ? NULL : argv[1]);
		if (err)
			return err;
		found |= d->flag;
		argc -= d->alone ? 1 : 2;
		argv += d->alone ? 1 : 2;
	}
	opts->present = found;
	return check_required(required, found);
}

static bool put_names(struct nlmsghdr *nlh, size_t size,
		      const struct cli_opts *o)
{
	bool ok = true;

	if (o->present &
	    (CLI_OPT_MGMTDEV_HANDLE | CLI_OPT_VDEV_MGMTDEV_HANDLE)) {
		if (o->mdev_bus_name)
			ok = mnl_attr_put_strz_check(nlh, size,
						     VDPA_ATTR_MGMTDEV_BUS_NAME,
						     o->mdev_bus_name);
		ok = ok && mnl_attr_put_strz_check(nlh, size,
						   VDPA_ATTR_MGMTDEV_DEV_NAME,
						   o->mdev_name);
	}
	if (ok && o->present & (CLI_OPT_VDEV_NAME | CLI_OPT_VDEV_HANDLE))
		ok = mnl_attr_put_strz_check(nlh, size, VDPA_ATTR_DEV_NAME,
					     o->vdev_name);
	return ok;
}

static bool put_values(struct nlmsghdr *nlh, size_t size,
		       const struct cli_opts *o)
{
	bool ok = true;

	if (o->present & CLI_OPT_VDEV_MAC)
		ok = mnl_attr_put_check(nlh, size,
					VDPA_ATTR_DEV_NET_CFG_MACADDR,
					CLI_ETH_ALEN, o->mac);
	if (ok && o->present & CLI_OPT_VDEV_MTU)
		ok = mnl_attr_put_u16_check(nlh, size,
					    VDPA_ATTR_DEV_NET_CFG_MTU, o->mtu);
	if (ok && o->present & CLI_OPT_MAX_VQP)
		ok = mnl_attr_put_u16_check(
			nlh, size, VDPA_ATTR_DEV_NET_CFG_MAX_VQP, o->max_vqp);
	if (ok && o->present & CLI_OPT_QUEUE_INDEX)
		ok = mnl_attr_put_u32_check(
			nlh, size, VDPA_ATTR_DEV_QUEUE_INDEX, o->queue_idx);
	if (ok && o->present & CLI_OPT_VDEV_FEATURES)
		ok = mnl_attr_put_u64_check(nlh, size, VDPA_ATTR_DEV_FEATURES,
					    o->device_features);
	if (ok && o->present & CLI_OPT_SOCK_OWNER)
		ok = mnl_attr_put_u32_check(
			nlh, size, UVDPA_ATTR_DEV_SOCK_OWNER, o->sock_owner);
	if (ok && o->present & CLI_OPT_SOCK_GROUP)
		ok = mnl_attr_put_u32_check(
			nlh, size, UVDPA_ATTR_DEV_SOCK_GROUP, o->sock_group);
	if (ok && o->present & CLI_OPT_SOCK_MODE)
		ok = mnl_attr_put_u32_check(nlh, size, UVDPA_ATTR_DEV_SOCK_MODE,
					    o->sock_mode);
	return ok;
}

int cli_opts_put(struct nlmsghdr *nlh, size_t size, const struct cli_opts *o)
{
	if (put_names(nlh, size, o) && put_values(nlh, size, o) &&
	    cli_opts_put_ext(nlh, size, o))
		return 0;
	return -EMSGSIZE;
}
