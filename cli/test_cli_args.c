// SPDX-License-Identifier: MIT
/* Argument parsing: keywords, prefixes, handles, numbers, MACs, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/genetlink.h>

#include <uvdpa/uapi.h>

#include "opts.h"
#include "test_cli_helpers.h"

#define ADD_REQUIRED (CLI_OPT_VDEV_MGMTDEV_HANDLE | CLI_OPT_VDEV_NAME)
#define ADD_OPTIONAL                                                           \
	(CLI_OPT_VDEV_MAC | CLI_OPT_VDEV_MTU | CLI_OPT_MAX_VQP |               \
	 CLI_OPT_VDEV_FEATURES)

/* Parses a copy of @words (NULL-ended); returns the result, keeps stderr. */
struct parsed {
	int err;
	struct cli_opts opts;
	char *out, *errtext;
	char *words[16];
};

static struct parsed *parse(uint64_t required, uint64_t optional,
			    const char *const *words)
{
	struct parsed *p = calloc(1, sizeof(*p));
	int n = 0;

	while (words[n]) {
		p->words[n] = strdup(words[n]);
		n++;
	}
	cap_begin();
	p->err = cli_opts_parse(&p->opts, n, p->words, required, optional);
	cap_end(&p->out, &p->errtext);
	return p;
}

static void parsed_free(struct parsed *p)
{
	int i;

	for (i = 0; p->words[i]; i++)
		free(p->words[i]);
	free(p->out);
	free(p->errtext);
	free(p);
}

static void test_matches(void **state)
{
	assert_true(cli_matches("d", "dev"));
	assert_true(cli_matches("dev", "dev"));
	assert_false(cli_matches("devx", "dev"));
	assert_false(cli_matches("", "dev"));
	assert_false(cli_matches("e", "dev"));
}

static void test_handle_split(void **state)
{
	const char *bus, *dev;
	char plain[] = "vdpasim_net", pci[] = "pci/0000:65:00.2";
	char two[] = "a/b/c", *out, *err;

	assert_int_equal(cli_parse_handle(plain, &bus, &dev), 0);
	assert_null(bus);
	assert_string_equal(dev, "vdpasim_net");
	assert_int_equal(cli_parse_handle(pci, &bus, &dev), 0);
	assert_string_equal(bus, "pci");
	assert_string_equal(dev, "0000:65:00.2");
	cap_begin();
	assert_int_not_equal(cli_parse_handle(two, &bus, &dev), 0);
	cap_end(&out, &err);
	assert_string_equal(err,
			    "Wrong vdpa mgmtdev identification string format\n"
			    "Expected \"mgmtdev_bus_name/mgmtdev_name\"\n"
			    "Expected \"mgmtdev_name\"\n");
	free(out);
	free(err);
}

static void test_dev_add_full(void **state)
{
	static const char *const w[] = { "name",
					 "vdpa0",
					 "mgmtdev",
					 "auxiliary/mlx5.1",
					 "mac",
					 "00:11:22:aa:BB:cc",
					 "mtu",
					 "9000",
					 "max_vqp",
					 "4",
					 "device_features",
					 "0x300020000",
					 NULL };
	static const uint8_t mac[6] = { 0, 0x11, 0x22, 0xaa, 0xbb, 0xcc };
	struct parsed *p = parse(ADD_REQUIRED, ADD_OPTIONAL, w);

	assert_int_equal(p->err, 0);
	assert_string_equal(p->errtext, "");
	assert_int_equal(p->opts.present, ADD_REQUIRED | ADD_OPTIONAL);
	assert_string_equal(p->opts.vdev_name, "vdpa0");
	assert_string_equal(p->opts.mdev_bus_name, "auxiliary");
	assert_string_equal(p->opts.mdev_name, "mlx5.1");
	assert_memory_equal(p->opts.mac, mac, 6);
	assert_int_equal(p->opts.mtu, 9000);
	assert_int_equal(p->opts.max_vqp, 4);
	assert_int_equal(p->opts.device_features, 0x300020000ULL);
	parsed_free(p);
}

/* name, mgmtdev and max_vqp take prefixes; mac, mtu, qidx do not. */
static void test_prefixes(void **state)
{
	static const char *const w[] = { "n",  "x", "m", "vdpasim_net",
					 "ma", "2", NULL };
	struct parsed *p = parse(ADD_REQUIRED, ADD_OPTIONAL, w);

	assert_int_equal(p->err, 0);
	assert_string_equal(p->opts.vdev_name, "x");
	assert_null(p->opts.mdev_bus_name);
	assert_string_equal(p->opts.mdev_name, "vdpasim_net");
	assert_int_equal(p->opts.max_vqp, 2);
	parsed_free(p);
}

static void expect_unknown(uint64_t req, uint64_t opt, const char *const *w,
			   const char *msg)
{
	struct parsed *p = parse(req, opt, w);

	assert_int_not_equal(p->err, 0);
	assert_string_equal(p->errtext, msg);
	parsed_free(p);
}

static void test_exact_keywords(void **state)
{
	static const char *const mt[] = { "name", "x", "mt", "1500", NULL };
	static const char *const feat[] = { "name", "x", "device_feature", "1",
					    NULL };
	static const char *const qid[] = { "vdpa0", "qid", "1", NULL };
	static const char *const macs[] = { "name", "x", "MAC", "1", NULL };

	expect_unknown(ADD_REQUIRED, ADD_OPTIONAL, mt,
		       "Unknown option \"mt\"\n");
	expect_unknown(ADD_REQUIRED, ADD_OPTIONAL, feat,
		       "Unknown option \"device_feature\"\n");
	expect_unknown(CLI_OPT_VDEV_HANDLE, CLI_OPT_QUEUE_INDEX, qid,
		       "Unknown option \"qid\"\n");
	expect_unknown(ADD_REQUIRED, ADD_OPTIONAL, macs,
		       "Unknown option \"MAC\"\n");
}

/* "ma" is max_vqp, so a MAC after it is a number that does not parse. */
static void test_ma_is_max_vqp(void **state)
{
	static const char *const w[] = { "name", "x", "ma", "00:11:22:33:44:55",
					 NULL };
	struct parsed *p = parse(ADD_REQUIRED, ADD_OPTIONAL, w);

	assert_int_not_equal(p->err, 0);
	assert_string_equal(p->errtext, "");
	parsed_free(p);
}

/* Options a command does not take are unknown there (dev set: mac only). */
static void test_option_not_allowed(void **state)
{
	static const char *const w[] = { "name", "x", "mtu", "1500", NULL };
	static const char *const vqp[] = { "name", "x", "max_vqp", "2", NULL };

	expect_unknown(CLI_OPT_VDEV_NAME, CLI_OPT_VDEV_MAC, w,
		       "Unknown option \"mtu\"\n");
	expect_unknown(CLI_OPT_VDEV_NAME, CLI_OPT_VDEV_MAC, vqp,
		       "Unknown option \"max_vqp\"\n");
}

static void test_missing(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const only_name[] = { "name", "x", NULL };
	static const char *const only_mgmt[] = { "mgmtdev", "x", NULL };
	static const char *const dangling[] = { "name", NULL };

	expect_unknown(ADD_REQUIRED, ADD_OPTIONAL, none,
		       "management device handle not set.\n");
	expect_unknown(ADD_REQUIRED, ADD_OPTIONAL, only_name,
		       "management device handle not set.\n");
	expect_unknown(ADD_REQUIRED, ADD_OPTIONAL, only_mgmt,
		       "device name is not set.\n");
	expect_unknown(ADD_REQUIRED, ADD_OPTIONAL, dangling,
		       "management device handle not set.\n");
	expect_unknown(CLI_OPT_VDEV_NAME, CLI_OPT_VDEV_MAC, none,
		       "device name is not set.\n");
	expect_unknown(CLI_OPT_VDEV_HANDLE, 0, none,
		       "String parameter expected\n");
	expect_unknown(CLI_OPT_MGMTDEV_HANDLE, 0, none,
		       "vdpa identification (\"mgmtdev_bus_name/"
		       "mgmtdev_name\") expected\n");
}

/* Like iproute2 (NEXT_ARG_OK), a lone last word is never looked at. */
static void test_lone_last_word(void **state)
{
	static const char *const w[] = { "name", "x",	  "mgmtdev",
					 "y",	 "bogus", NULL };
	static const char *const show[] = { "vdpasim_net", "extra", NULL };
	struct parsed *p = parse(ADD_REQUIRED, ADD_OPTIONAL, w);

	assert_int_equal(p->err, 0);
	parsed_free(p);
	p = parse(CLI_OPT_MGMTDEV_HANDLE, 0, show);
	assert_int_equal(p->err, 0);
	assert_string_equal(p->opts.mdev_name, "vdpasim_net");
	parsed_free(p);
}

static uint64_t features_of(const char *arg, int *err)
{
	const char *w[] = { "name", "x", "mgmtdev", "y", "device_features",
			    arg,    NULL };
	struct parsed *p = parse(ADD_REQUIRED, ADD_OPTIONAL, w);
	uint64_t v = p->opts.device_features;

	*err = p->err;
	assert_string_equal(p->errtext, "");
	parsed_free(p);
	return v;
}

static void test_device_features_hex(void **state)
{
	int err;

	assert_int_equal(features_of("0x300020000", &err), 0x300020000ULL);
	assert_int_equal(err, 0);
	assert_int_equal(features_of("300020000", &err), 0x300020000ULL);
	assert_int_equal(err, 0);
	assert_int_equal(features_of("0X1f", &err), 0x1f);
	assert_int_equal(err, 0);
	features_of("0x1g", &err);
	assert_int_not_equal(err, 0);
	features_of("", &err);
	assert_int_not_equal(err, 0);
	features_of("10000000000000000", &err);
	assert_int_not_equal(err, 0);
}

static void test_numbers(void **state)
{
	static const char *const big[] = { "name", "x", "mtu", "65536", NULL };
	static const char *const hex[] = { "name", "x", "mtu", "0x10", NULL };
	static const char *const max[] = { "name", "x", "mtu", "65535", NULL };
	static const char *const qidx[] = { "vdpa0", "qidx", "4294967295",
					    NULL };
	struct parsed *p;

	/* A number that does not parse fails quietly, as in iproute2. */
	p = parse(CLI_OPT_VDEV_NAME, CLI_OPT_VDEV_MTU, big);
	assert_int_not_equal(p->err, 0);
	assert_string_equal(p->errtext, "");
	parsed_free(p);
	p = parse(CLI_OPT_VDEV_NAME, CLI_OPT_VDEV_MTU, hex);
	assert_int_not_equal(p->err, 0);
	parsed_free(p);
	p = parse(CLI_OPT_VDEV_NAME, CLI_OPT_VDEV_MTU, max);
	assert_int_equal(p->err, 0);
	assert_int_equal(p->opts.mtu, 65535);
	parsed_free(p);
	p = parse(CLI_OPT_VDEV_HANDLE, CLI_OPT_QUEUE_INDEX, qidx);
	assert_int_equal(p->err, 0);
	assert_int_equal(p->opts.queue_idx, 4294967295U);
	assert_int_equal(p->opts.present,
			 CLI_OPT_VDEV_HANDLE | CLI_OPT_QUEUE_INDEX);
	parsed_free(p);
}

static void test_parse_size(void **state)
{
	uint64_t b = 7;

	assert_int_equal(cli_parse_size("512", &b), 0);
	assert_int_equal(b, 512);
	assert_int_equal(cli_parse_size("1k", &b), 0);
	assert_int_equal(b, 1024);
	assert_int_equal(cli_parse_size("3G", &b), 0);
	assert_int_equal(b, 3ULL << 30);
	assert_int_equal(cli_parse_size("16777215T", &b), 0);
	assert_int_equal(b, 16777215ULL << 40);
	b = 7;
	/* a blank after the number once read as the fifth unit, 1024^5 */
	assert_int_not_equal(cli_parse_size("1 ", &b), 0);
	assert_int_not_equal(cli_parse_size("16777216T", &b), 0);
	assert_int_not_equal(cli_parse_size("18446744073709551616", &b), 0);
	assert_int_not_equal(cli_parse_size("1KB", &b), 0);
	assert_int_not_equal(cli_parse_size("1P", &b), 0);
	assert_int_not_equal(cli_parse_size("", &b), 0);
	/* a sign or a blank first: strtoull would wrap "-N" around */
	assert_int_not_equal(cli_parse_size("-1", &b), 0);
	assert_int_not_equal(cli_parse_size(" -18446744073709551615", &b), 0);
	assert_int_not_equal(cli_parse_size("+1", &b), 0);
	assert_int_equal(b, 7);
}

/* uvdpa's own numbers take digits only, with a message when wrong. */
static void expect_bad_word(const char *key, const char *val, const char *msg)
{
	const char *const w[] = { "name", "x", "mgmtdev", "m", key, val, NULL };
	struct parsed *p = parse(ADD_REQUIRED, CLI_OPT_DEV_ADD_EXT, w);

	assert_int_not_equal(p->err, 0);
	assert_string_equal(p->errtext, msg);
	assert_int_equal(p->opts.blk_num_queues, 0);
	assert_int_equal(p->opts.sock_owner, 0);
	parsed_free(p);
}

static void test_ext_numbers(void **state)
{
	static const char *const ok[] = { "name",  "x",	    "mgmtdev",
					  "m",	   "owner", "4294967294",
					  "mode",  "0750",  "num_queues",
					  "65535", NULL };
	struct parsed *p = parse(ADD_REQUIRED, CLI_OPT_DEV_ADD_EXT, ok);

	assert_int_equal(p->err, 0);
	assert_int_equal(p->opts.sock_owner, 4294967294U);
	assert_int_equal(p->opts.sock_mode, 0750);
	assert_int_equal(p->opts.blk_num_queues, 65535);
	parsed_free(p);
	expect_bad_word("num_queues", "-65535",
			"num_queues \"-65535\": a number up to 65535 "
			"expected\n");
	expect_bad_word("num_queues", " 1",
			"num_queues \" 1\": a number up to 65535 expected\n");
	expect_bad_word("num_queues", "+1",
			"num_queues \"+1\": a number up to 65535 expected\n");
	/* "-4294967295" wrapped around to uid 1 */
	expect_bad_word("owner", "-4294967295",
			"owner \"-4294967295\": no such user\n");
	expect_bad_word("group", "4294967295",
			"group \"4294967295\": no such group\n");
	expect_bad_word("mode", "-1777777777777777777777",
			"mode \"-1777777777777777777777\": an octal mode up "
			"to 7777 expected\n");
	expect_bad_word("capacity", "1 ",
			"capacity \"1 \": a size in bytes, with K, M, G or T "
			"after it, expected\n");
}

static void expect_mac(const char *arg, int ret, const uint8_t *mac,
		       const char *msg)
{
	uint8_t got[6] = { 0 };
	char *copy = strdup(arg), *out, *err;

	cap_begin();
	assert_int_equal(cli_parse_lladdr(got, 6, copy), ret);
	cap_end(&out, &err);
	if (mac)
		assert_memory_equal(got, mac, 6);
	assert_string_equal(err, msg);
	free(copy);
	free(out);
	free(err);
}

static void test_mac(void **state)
{
	static const uint8_t full[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	static const uint8_t shortm[6] = { 0xa, 0xb, 0, 0, 0, 0 };
	static const uint8_t dotted[6] = { 1, 2, 3, 4, 0, 0 };

	expect_mac("52:54:00:12:34:56", 6, full, "");
	expect_mac("52:54:0:12:34:56:78", 7, full, "");
	expect_mac("a:b", 2, shortm, "");
	expect_mac("1.2.3.4", 4, dotted, "");
	expect_mac("00:11:22:33:44:zz", -1, NULL,
		   "\"zz\" is invalid lladdr.\n");
	expect_mac("00:11:22:33:44:100", -1, NULL,
		   "\"100\" is invalid lladdr.\n");
	expect_mac("00::22", -1, NULL, "\"\" is invalid lladdr.\n");
	expect_mac("1.2.3.4.5", -1, NULL, "\"1.2.3.4.5\" is invalid lladdr.\n");
}

static void test_bad_mac_option(void **state)
{
	static const char *const w[] = { "name", "vdpa0", "mac", "zz:00",
					 NULL };
	struct parsed *p = parse(CLI_OPT_VDEV_NAME, CLI_OPT_VDEV_MAC, w);

	assert_int_not_equal(p->err, 0);
	assert_string_equal(p->errtext, "\"zz\" is invalid lladdr.\n");
	parsed_free(p);
}

struct attr_list {
	uint16_t types[16];
	const struct nlattr *attrs[16];
	size_t n;
};

static int list_cb(const struct nlattr *attr, void *data)
{
	struct attr_list *l = data;

	if (l->n < 16) {
		l->types[l->n] = mnl_attr_get_type(attr);
		l->attrs[l->n] = attr;
	}
	l->n++;
	return MNL_CB_OK;
}

/* The attributes go out in iproute2's order, with iproute2's types. */
static void test_put(void **state)
{
	static const char *const w[] = { "name",
					 "vdpa0",
					 "mgmtdev",
					 "pci/0000:65:00.2",
					 "mtu",
					 "1500",
					 "device_features",
					 "20",
					 "mac",
					 "00:11:22:33:44:55",
					 NULL };
	static const uint16_t order[] = {
		VDPA_ATTR_MGMTDEV_BUS_NAME, VDPA_ATTR_MGMTDEV_DEV_NAME,
		VDPA_ATTR_DEV_NAME,	    VDPA_ATTR_DEV_NET_CFG_MACADDR,
		VDPA_ATTR_DEV_NET_CFG_MTU,  VDPA_ATTR_DEV_FEATURES,
	};
	struct parsed *p = parse(ADD_REQUIRED, ADD_OPTIONAL, w);
	char buf[TEST_MSG_MAX];
	struct nlmsghdr *nlh = msg_start(buf, 0x1d, 0, VDPA_CMD_DEV_NEW);
	struct attr_list l = { .n = 0 };

	assert_int_equal(p->err, 0);
	assert_int_equal(cli_opts_put(nlh, sizeof(buf), &p->opts), 0);
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), list_cb, &l);
	assert_int_equal(l.n, 6);
	assert_memory_equal(l.types, order, sizeof(order));
	assert_string_equal(mnl_attr_get_str(l.attrs[0]), "pci");
	assert_string_equal(mnl_attr_get_str(l.attrs[1]), "0000:65:00.2");
	assert_string_equal(mnl_attr_get_str(l.attrs[2]), "vdpa0");
	assert_int_equal(mnl_attr_get_payload_len(l.attrs[3]), 6);
	assert_int_equal(mnl_attr_get_payload_len(l.attrs[4]), 2);
	assert_int_equal(mnl_attr_get_u16(l.attrs[4]), 1500);
	assert_int_equal(mnl_attr_get_u64(l.attrs[5]), 0x20);
	parsed_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_handle_split),
		cmocka_unit_test(test_dev_add_full),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_exact_keywords),
		cmocka_unit_test(test_ma_is_max_vqp),
		cmocka_unit_test(test_option_not_allowed),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_lone_last_word),
		cmocka_unit_test(test_device_features_hex),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_ext_numbers),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_bad_mac_option),
		cmocka_unit_test(test_put),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
