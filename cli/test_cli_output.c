// SPDX-License-Identifier: MIT
/*
 * Golden output: canned replies (attributes in the kernel's order)
 * through the printers, compared byte for byte with what iproute2's
 * vdpa prints for them (reference §2.3, §2.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/uapi.h>

#include "json_print.h"
#include "output.h"
#include "test_cli_helpers.h"

#define SIM_NET_FEATURES 0x308830028ULL
#define BIT(n) (1ULL << (n))

/* A section of replies printed as one command would print them. */
struct show {
	const char *section;
	mnl_cb_t cb;
	const struct nlmsghdr *msgs[4];
};

static void show_fn(void *ctx)
{
	struct show *s = ctx;
	struct cli_out out = { 0 };
	int i;

	cli_pr_section_start(s->section);
	for (i = 0; i < 4 && s->msgs[i]; i++)
		assert_int_equal(s->cb(s->msgs[i], &out), MNL_CB_OK);
	cli_pr_section_end();
}

static void expect_show(struct show *s, bool json, bool pretty,
			const char *golden)
{
	char *got = print_to_string(json, pretty, show_fn, s);

	assert_string_equal(got, golden);
	free(got);
}

static char net_buf[TEST_MSG_MAX], blk_buf[TEST_MSG_MAX];

static struct show *mgmtdev_sims(void)
{
	static struct show s = { .section = "mgmtdev", .cb = cli_pr_mgmtdev };

	s.msgs[0] = mk_mgmtdev(net_buf, NULL, "vdpasim_net", BIT(VIRTIO_ID_NET),
			       3, SIM_NET_FEATURES);
	s.msgs[1] = mk_mgmtdev(blk_buf, NULL, "vdpasim_blk",
			       BIT(VIRTIO_ID_BLOCK), 0, 0);
	return &s;
}

static void test_mgmtdev_text(void **state)
{
	expect_show(mgmtdev_sims(), false, false,
		    "vdpasim_net: \n"
		    "  supported_classes net\n"
		    "  max_supported_vqs 3\n"
		    "  dev_features MTU MAC STATUS CTRL_VQ CTRL_MAC_ADDR "
		    "ANY_LAYOUT VERSION_1 ACCESS_PLATFORM\n"
		    "vdpasim_blk: \n"
		    "  supported_classes block\n"
		    "  max_supported_vqs 0\n"
		    "  dev_features\n");
}

static void test_mgmtdev_json(void **state)
{
	expect_show(mgmtdev_sims(), true, false,
		    "{\"mgmtdev\":{\"vdpasim_net\":{\"supported_classes\":"
		    "[\"net\"],\"max_supported_vqs\":3,\"dev_features\":"
		    "[\"MTU\",\"MAC\",\"STATUS\",\"CTRL_VQ\",\"CTRL_MAC_ADDR\","
		    "\"ANY_LAYOUT\",\"VERSION_1\",\"ACCESS_PLATFORM\"]},"
		    "\"vdpasim_blk\":{\"supported_classes\":[\"block\"],"
		    "\"max_supported_vqs\":0,\"dev_features\":[]}}}\n");
}

static void test_mgmtdev_pretty(void **state)
{
	expect_show(
		mgmtdev_sims(), true, true,
		"{\n"
		"    \"mgmtdev\": {\n"
		"        \"vdpasim_net\": {\n"
		"            \"supported_classes\": [ \"net\" ],\n"
		"            \"max_supported_vqs\": 3,\n"
		"            \"dev_features\": [ \"MTU\",\"MAC\",\"STATUS\","
		"\"CTRL_VQ\",\"CTRL_MAC_ADDR\",\"ANY_LAYOUT\",\"VERSION_1\","
		"\"ACCESS_PLATFORM\" ]\n"
		"        },\n"
		"        \"vdpasim_blk\": {\n"
		"            \"supported_classes\": [ \"block\" ],\n"
		"            \"max_supported_vqs\": 0,\n"
		"            \"dev_features\": [ ]\n"
		"        }\n"
		"    }\n"
		"}\n");
}

/* A bus name makes the handle "bus/dev"; unknown classes get a name too. */
static void test_mgmtdev_bus_and_classes(void **state)
{
	struct show s = { .section = "mgmtdev", .cb = cli_pr_mgmtdev };

	s.msgs[0] = mk_mgmtdev(net_buf, "pci", "0000:65:00.2",
			       BIT(1) | BIT(2) | BIT(5), 16,
			       BIT(5) | BIT(50) | BIT(32) | BIT(39));
	expect_show(&s, false, false,
		    "pci/0000:65:00.2: \n"
		    "  supported_classes net block < unknown class >\n"
		    "  max_supported_vqs 16\n"
		    "  dev_features MAC VERSION_1 bit_39 bit_50\n");
	expect_show(&s, true, false,
		    "{\"mgmtdev\":{\"pci/0000:65:00.2\":{\"supported_classes\":"
		    "[\"net\",\"block\",\"< unknown class >\"],"
		    "\"max_supported_vqs\":16,\"dev_features\":"
		    "[\"MAC\",\"VERSION_1\",39,50]}}}\n");
}

/* Without the net class, net bits have no names, transport bits do. */
static void test_mgmtdev_blk_features(void **state)
{
	struct show s = { .section = "mgmtdev", .cb = cli_pr_mgmtdev };

	s.msgs[0] = mk_mgmtdev(blk_buf, NULL, "vdpasim_blk",
			       BIT(VIRTIO_ID_BLOCK), 1, 0x308047646ULL);
	expect_show(&s, false, false,
		    "vdpasim_blk: \n"
		    "  supported_classes block\n"
		    "  max_supported_vqs 1\n"
		    "  dev_features bit_1 bit_2 bit_6 bit_9 bit_10 "
		    "bit_12 bit_13 bit_14 bit_18 bit_27 VERSION_1 "
		    "ACCESS_PLATFORM\n");
}

static void test_feature_names(void **state)
{
	assert_string_equal(cli_feature_name(5, true), "MAC");
	assert_null(cli_feature_name(5, false));
	assert_string_equal(cli_feature_name(24, true), "NOTIFY_ON_EMPTY");
	assert_string_equal(cli_feature_name(27, true), "ANY_LAYOUT");
	assert_string_equal(cli_feature_name(28, false), "RING_INDIRECT_DESC");
	assert_string_equal(cli_feature_name(32, false), "VERSION_1");
	assert_string_equal(cli_feature_name(35, true), "IN_ORDER");
	assert_string_equal(cli_feature_name(38, true), "NOTIFICATION_DATA");
	assert_null(cli_feature_name(39, true));
	assert_null(cli_feature_name(41, true));
	assert_null(cli_feature_name(42, true));
	assert_string_equal(cli_feature_name(57, true), "HASH_REPORT");
	assert_string_equal(cli_feature_name(63, true), "SPEED_DUPLEX");
	assert_null(cli_feature_name(6, true));
	assert_null(cli_feature_name(64, true));
}

static void features_fn(void *ctx)
{
	struct cli_out out = { 0 };

	open_json_object(NULL);
	cli_pr_features(&out, *(uint64_t *)ctx, false, VIRTIO_ID_NET);
	close_json_object();
}

static void test_features_unnamed(void **state)
{
	uint64_t f = BIT(5) | BIT(50) | BIT(32);
	char *got = print_to_string(false, false, features_fn, &f);

	assert_string_equal(got,
			    "\n  negotiated_features MAC VERSION_1 bit_50");
	free(got);
	got = print_to_string(true, false, features_fn, &f);
	assert_string_equal(
		got, "{\"negotiated_features\":[\"MAC\",\"VERSION_1\",50]}\n");
	free(got);
	got = print_to_string(true, true, features_fn, &f);
	assert_string_equal(got, "{\n    \"negotiated_features\": "
				 "[ \"MAC\",\"VERSION_1\",50 ]\n}\n");
	free(got);
}

static struct show *dev_vdpa0(void)
{
	static struct show s = { .section = "dev", .cb = cli_pr_dev };

	s.msgs[0] = mk_dev(net_buf, "vdpa0", "vdpasim_net", VIRTIO_ID_NET, 3);
	s.msgs[1] = NULL;
	return &s;
}

static void test_dev_show(void **state)
{
	expect_show(dev_vdpa0(), false, false,
		    "vdpa0: type network mgmtdev vdpasim_net vendor_id 0 "
		    "max_vqs 3 max_vq_size 256\n");
	expect_show(dev_vdpa0(), true, false,
		    "{\"dev\":{\"vdpa0\":{\"type\":\"network\",\"mgmtdev\":"
		    "\"vdpasim_net\",\"vendor_id\":0,\"max_vqs\":3,"
		    "\"max_vq_size\":256}}}\n");
	expect_show(dev_vdpa0(), true, true,
		    "{\n"
		    "    \"dev\": {\n"
		    "        \"vdpa0\": {\n"
		    "            \"type\": \"network\",\n"
		    "            \"mgmtdev\": \"vdpasim_net\",\n"
		    "            \"vendor_id\": 0,\n"
		    "            \"max_vqs\": 3,\n"
		    "            \"max_vq_size\": 256\n"
		    "        }\n"
		    "    }\n"
		    "}\n");
}

/* uvdpa's fields come last; attributes nobody knows are skipped. */
static void test_dev_show_extensions(void **state)
{
	struct show s = { .section = "dev", .cb = cli_pr_dev };
	struct nlmsghdr *nlh;

	nlh = mk_dev(net_buf, "blk0", "vdpasim_blk", VIRTIO_ID_BLOCK, 1);
	mnl_attr_put_u32(nlh, UVDPA_ATTR_MAX + 5, 7);
	mnl_attr_put_strz(nlh, UVDPA_ATTR_DEV_DRIVER, "vhost_vdpa");
	mnl_attr_put_u64(nlh, UVDPA_ATTR_EXT_FIRST + 0x100, 1);
	mnl_attr_put_strz(nlh, UVDPA_ATTR_DEV_ENDPOINT,
			  "/run/uvdpa/vhost-vdpa-0");
	s.msgs[0] = nlh;
	expect_show(
		&s, false, false,
		"blk0: type block mgmtdev vdpasim_blk vendor_id 0 max_vqs 1 "
		"max_vq_size 256 driver vhost_vdpa endpoint "
		"/run/uvdpa/vhost-vdpa-0\n");
	expect_show(&s, true, false,
		    "{\"dev\":{\"blk0\":{\"type\":\"block\",\"mgmtdev\":"
		    "\"vdpasim_blk\",\"vendor_id\":0,\"max_vqs\":1,"
		    "\"max_vq_size\":256,\"driver\":\"vhost_vdpa\","
		    "\"endpoint\":\"/run/uvdpa/vhost-vdpa-0\"}}}\n");
}

static void test_dev_unknown_type(void **state)
{
	struct show s = { .section = "dev", .cb = cli_pr_dev };

	s.msgs[0] = mk_dev(net_buf, "x", "pci/0000:01:00.0", 26, 2);
	expect_show(&s, false, false,
		    "x: type <unknown type> mgmtdev pci/0000:01:00.0 "
		    "vendor_id 0 max_vqs 2 max_vq_size 256\n");
}

static void test_empty_dump(void **state)
{
	struct show s = { .section = "dev", .cb = cli_pr_dev };

	expect_show(&s, true, false, "{\"dev\":{}}\n");
	expect_show(&s, true, true, "{\n    \"dev\": {}\n}\n");
	expect_show(&s, false, false, "");
}

static const uint8_t mac_bar[6] = { 0x00, 0x35, 0x09, 0x19, 0x48, 0x05 };
static const uint8_t mac_a[6] = { 0, 0, 0, 0, 0x88, 0x88 };

static void test_config_net(void **state)
{
	struct show s = { .section = "config", .cb = cli_pr_dev_config };

	s.msgs[0] = mk_net_config(net_buf, "bar", mac_bar, VIRTIO_NET_S_LINK_UP,
				  1500, -1, 0);
	expect_show(&s, false, false,
		    "bar: mac 00:35:09:19:48:05 link up link_announce false "
		    "mtu 1500 \n");
	expect_show(&s, true, false,
		    "{\"config\":{\"bar\":{\"mac\":\"00:35:09:19:48:05\","
		    "\"link \":\"up\",\"link_announce \":false,"
		    "\"mtu\":1500}}}\n");
	expect_show(&s, true, true,
		    "{\n"
		    "    \"config\": {\n"
		    "        \"bar\": {\n"
		    "            \"mac\": \"00:35:09:19:48:05\",\n"
		    "            \"link \": \"up\",\n"
		    "            \"link_announce \": false,\n"
		    "            \"mtu\": 1500\n"
		    "        }\n"
		    "    }\n"
		    "}\n");
}

#define VDPA_A_FEATURES                                                        \
	(BIT(0) | BIT(1) | BIT(3) | BIT(5) | BIT(11) | BIT(12) | BIT(16) |     \
	 BIT(17) | BIT(22) | BIT(23) | BIT(32) | BIT(33))

static void test_config_negotiated(void **state)
{
	struct show s = { .section = "config", .cb = cli_pr_dev_config };

	s.msgs[0] =
		mk_net_config(net_buf, "vdpa-a", mac_a, VIRTIO_NET_S_LINK_UP,
			      9000, 2, VDPA_A_FEATURES);
	expect_show(&s, false, false,
		    "vdpa-a: mac 00:00:00:00:88:88 link up link_announce false "
		    "max_vq_pairs 2 mtu 9000 \n"
		    "  negotiated_features CSUM GUEST_CSUM MTU MAC HOST_TSO4 "
		    "HOST_TSO6 STATUS CTRL_VQ MQ CTRL_MAC_ADDR VERSION_1 "
		    "ACCESS_PLATFORM\n");
	expect_show(
		&s, true, false,
		"{\"config\":{\"vdpa-a\":{\"mac\":\"00:00:00:00:88:88\","
		"\"link \":\"up\",\"link_announce \":false,"
		"\"max_vq_pairs\":2,\"mtu\":9000,\"negotiated_features\":"
		"[\"CSUM\",\"GUEST_CSUM\",\"MTU\",\"MAC\",\"HOST_TSO4\","
		"\"HOST_TSO6\",\"STATUS\",\"CTRL_VQ\",\"MQ\","
		"\"CTRL_MAC_ADDR\",\"VERSION_1\",\"ACCESS_PLATFORM\"]}}}\n");
}

static void test_config_link_down_announce(void **state)
{
	struct show s = { .section = "config", .cb = cli_pr_dev_config };

	s.msgs[0] =
		mk_net_config(net_buf, "dev1", mac_bar, VIRTIO_NET_S_ANNOUNCE,
			      65535, -1, BIT(17) | BIT(32) | BIT(33));
	expect_show(
		&s, false, false,
		"dev1: mac 00:35:09:19:48:05 link down link_announce true "
		"mtu 65535 \n"
		"  negotiated_features CTRL_VQ VERSION_1 ACCESS_PLATFORM\n");
}

static void test_config_blk(void **state)
{
	struct show s = { .section = "config", .cb = cli_pr_dev_config };

	s.msgs[0] = mk_blk_config(blk_buf, "blk0");
	/* iproute2 prints "blk0: "; uvdpa's fields follow on the line */
	expect_show(&s, false, false,
		    "blk0: capacity 262144 blk_size 512 size_max 4096 "
		    "read_only false flush true \n");
	expect_show(&s, true, false,
		    "{\"config\":{\"blk0\":{\"capacity\":262144,"
		    "\"blk_size\":512,\"size_max\":4096,\"read_only\":false,"
		    "\"flush\":true}}}\n");
}

/* CTRL_VQ without MQ: max_vqp defaults to 0, so queue 0 is "control_vq". */
static void test_vstats_ctrl_quirk(void **state)
{
	uint64_t f = BIT(17) | BIT(32) | BIT(33);
	struct show s = { .section = "vstats", .cb = cli_pr_dev_vstats };

	s.msgs[0] = mk_net_vstats(net_buf, "vdpa0", f, -1, 0);
	expect_show(&s, false, false,
		    "vdpa0: queue_type control_vq rx packets 12 rx bytes 1200 "
		    "rx errors 0 rx overruns 0 rx drops 0 \n");
	expect_show(&s, true, false,
		    "{\"vstats\":{\"vdpa0\":{\"queue_type\":\"control_vq\","
		    "\"rx packets\":12,\"rx bytes\":1200,\"rx errors\":0,"
		    "\"rx overruns\":0,\"rx drops\":0}}}\n");
	s.msgs[0] = mk_net_vstats(net_buf, "vdpa0", f, -1, 2);
	expect_show(&s, false, false,
		    "vdpa0: queue_type rx cvq requests 12 cvq successes 1200 "
		    "cvq errors 0 \n");
	s.msgs[0] = mk_net_vstats(net_buf, "vdpa0", f, -1, 1);
	expect_show(&s, false, false,
		    "vdpa0: queue_type tx tx packets 12 tx bytes 1200 "
		    "tx errors 0 tx drops 0 \n");
}

static void test_vstats_mq(void **state)
{
	uint64_t f = BIT(17) | BIT(22) | BIT(32);
	struct show s = { .section = "vstats", .cb = cli_pr_dev_vstats };

	s.msgs[0] = mk_net_vstats(net_buf, "vdpa0", f, 2, 4);
	expect_show(&s, false, false, "vdpa0: queue_type control_vq \n");
	s.msgs[0] = mk_net_vstats(net_buf, "vdpa0", f, 2, 0);
	expect_show(&s, true, true,
		    "{\n"
		    "    \"vstats\": {\n"
		    "        \"vdpa0\": {\n"
		    "            \"queue_type\": \"rx\",\n"
		    "            \"rx packets\": 12,\n"
		    "            \"rx bytes\": 1200,\n"
		    "            \"rx errors\": 0,\n"
		    "            \"rx overruns\": 0,\n"
		    "            \"rx drops\": 0\n"
		    "        }\n"
		    "    }\n"
		    "}\n");
}

/* A zero-length pad attribute (type 0) before a u64 is skipped. */
static void test_pad_attribute(void **state)
{
	struct show s = { .section = "mgmtdev", .cb = cli_pr_mgmtdev };
	struct nlmsghdr *nlh;

	nlh = msg_start(net_buf, UVDPA_GENL_FAMILY_ID, 0, VDPA_CMD_MGMTDEV_NEW);
	mnl_attr_put_strz(nlh, VDPA_ATTR_MGMTDEV_DEV_NAME, "vduse");
	mnl_attr_put(nlh, VDPA_ATTR_PAD, 0, NULL);
	mnl_attr_put_u64(nlh, VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES,
			 BIT(VIRTIO_ID_NET) | BIT(VIRTIO_ID_BLOCK));
	mnl_attr_put_u32(nlh, VDPA_ATTR_DEV_MGMTDEV_MAX_VQS, 0);
	mnl_attr_put(nlh, VDPA_ATTR_PAD, 0, NULL);
	mnl_attr_put_u64(nlh, VDPA_ATTR_DEV_SUPPORTED_FEATURES, 0);
	s.msgs[0] = nlh;
	expect_show(&s, false, false,
		    "vduse: \n"
		    "  supported_classes net block\n"
		    "  max_supported_vqs 0\n"
		    "  dev_features\n");
}

/* A reply without the attributes every reply of its kind has fails. */
static void test_malformed(void **state)
{
	struct cli_out out = { 0 };
	struct nlmsghdr *nlh;

	nlh = msg_start(net_buf, UVDPA_GENL_FAMILY_ID, 0, VDPA_CMD_DEV_NEW);
	mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, "x");
	assert_int_equal(cli_pr_dev(nlh, &out), MNL_CB_ERROR);
	assert_int_equal(cli_pr_mgmtdev(nlh, &out), MNL_CB_ERROR);
	assert_int_equal(cli_pr_dev_config(nlh, &out), MNL_CB_ERROR);
	assert_int_equal(cli_pr_dev_vstats(nlh, &out), MNL_CB_ERROR);
}

static void test_json_escape(void **state)
{
	struct show s = { .section = "dev", .cb = cli_pr_dev };

	s.msgs[0] = mk_dev(net_buf, "a\"b\\c\td", "m", VIRTIO_ID_NET, 3);
	expect_show(&s, true, false,
		    "{\"dev\":{\"a\\\"b\\\\c\\td\":{\"type\":\"network\","
		    "\"mgmtdev\":\"m\",\"vendor_id\":0,\"max_vqs\":3,"
		    "\"max_vq_size\":256}}}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mgmtdev_text),
		cmocka_unit_test(test_mgmtdev_json),
		cmocka_unit_test(test_mgmtdev_pretty),
		cmocka_unit_test(test_mgmtdev_bus_and_classes),
		cmocka_unit_test(test_mgmtdev_blk_features),
		cmocka_unit_test(test_feature_names),
		cmocka_unit_test(test_features_unnamed),
		cmocka_unit_test(test_dev_show),
		cmocka_unit_test(test_dev_show_extensions),
		cmocka_unit_test(test_dev_unknown_type),
		cmocka_unit_test(test_empty_dump),
		cmocka_unit_test(test_config_net),
		cmocka_unit_test(test_config_negotiated),
		cmocka_unit_test(test_config_link_down_announce),
		cmocka_unit_test(test_config_blk),
		cmocka_unit_test(test_vstats_ctrl_quirk),
		cmocka_unit_test(test_vstats_mq),
		cmocka_unit_test(test_pad_attribute),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_json_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
