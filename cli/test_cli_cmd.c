// SPDX-License-Identifier: MIT
/*
 * Whole command lines through cli_run(): grammar, usage, requests sent,
 * replies printed, errors and exit codes; over a fake transport, and
 * over the real AF_UNIX one against a tiny in-test server.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/genetlink.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/uapi.h>

#include "cli.h"
#include "test_cli_helpers.h"

#define BIT(n) (1ULL << (n))
#define RUN(...) run_cli((const char *const[]){ __VA_ARGS__, NULL })

static const char top_help[] =
	"Usage: uvdpa [ OPTIONS ] OBJECT { COMMAND | help }\n"
	"where  OBJECT := { mgmtdev | dev }\n"
	"       OPTIONS := { -V[ersion] | -n[o-nice-names] | -j[son] | "
	"-p[retty] }\n";
static const char dev_help[] =
	"Usage: uvdpa dev show [ DEV ]\n"
	"       uvdpa dev add name NAME mgmtdev MANAGEMENTDEV [ device_features"
	" DEVICE_FEATURES]\n"
	"                                                    [ mac MACADDR ] "
	"[ mtu MTU ]\n"
	"                                                    [ max_vqp "
	"MAX_VQ_PAIRS ]\n"
	"                                                    [ owner USER ] "
	"[ group GROUP ] [ mode MODE ]\n"
	"                                                    [ driver { "
	"vhost_vdpa | virtio_vdpa | none } ]\n"
	"                                                    [ ifname IFNAME "
	"]\n"
	"       uvdpa dev add name NAME mgmtdev blk path { FILE | BLOCKDEV | "
	"NBD_URI } [ readonly ]\n"
	"                                                    [ num_queues N ] "
	"[ queue_size N ]\n"
	"                                                    [ direct { on | "
	"off "
	"} ] [ writeback { on | off } ]\n"
	"                                                    [ serial SERIAL ] "
	"[ logical_block_size { 512 | 4096 } ]\n"
	"                                                    [ capacity SIZE "
	"] [ aio { auto | io_uring | inline } ]\n"
	"       uvdpa dev del DEV\n"
	"       uvdpa dev bind DEV driver { vhost_vdpa | virtio_vdpa }\n"
	"       uvdpa dev unbind DEV\n"
	"       uvdpa dev resize DEV capacity SIZE\n"
	"Usage: uvdpa dev config COMMAND [ OPTIONS ]\n"
	"Usage: uvdpa dev vstats COMMAND\n";
static const char vstats_help[] =
	"Usage: uvdpa dev vstats show DEV [qidx QUEUE_INDEX]\n";

static char buf[TEST_MSG_MAX];

static int setup(void **state)
{
	fake_reset();
	return 0;
}

static void expect(struct run_result r, int status, const char *out,
		   const char *err)
{
	assert_string_equal(r.err, err);
	assert_string_equal(r.out, out);
	assert_int_equal(r.status, status);
	run_result_free(&r);
}

static uint8_t req_cmd(void)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(fake_req());

	return genl->cmd;
}

static void test_version(void **state)
{
	expect(RUN("-V"), 0, "uvdpa utility, uvdpa-" UVDPA_VERSION "\n", "");
	expect(RUN("--Version"), 0, "uvdpa utility, uvdpa-" UVDPA_VERSION "\n",
	       "");
	assert_int_equal(fake.nreq, 0);
}

static void test_help(void **state)
{
	expect(RUN("-h"), 0, "", top_help);
	expect(RUN("help"), 0, "", top_help);
	expect(RUN("he"), 0, "", top_help);
	expect(RUN("dev", "help"), 0, "", dev_help);
	expect(RUN("d", "h"), 0, "", dev_help);
	expect(RUN("mgmtdev"), 0, "", "Usage: uvdpa mgmtdev show [ DEV ]\n");
	expect(RUN("m", "help"), 0, "", "Usage: uvdpa mgmtdev show [ DEV ]\n");
	expect(RUN("dev", "config", "h"), 0, "",
	       "Usage: uvdpa dev config show [ DEV ]\n");
	expect(RUN("dev", "vstats", "help"), 0, "", vstats_help);
	assert_int_equal(fake.nreq, 0);
}

/* With -j, iproute2 ends even a command that printed nothing with "\n". */
static void test_help_json_newline(void **state)
{
	expect(RUN("-j", "help"), 0, "\n", top_help);
}

static void test_bad_option(void **state)
{
	struct run_result r = RUN("-s", "dev");

	assert_int_equal(r.status, 1);
	assert_string_equal(r.err,
			    "Unknown option.\n" /* no getopt text */
			    "Usage: uvdpa [ OPTIONS ] OBJECT { COMMAND | "
			    "help }\n"
			    "where  OBJECT := { mgmtdev | dev }\n"
			    "       OPTIONS := { -V[ersion] | "
			    "-n[o-nice-names] | -j[son] | -p[retty] }\n");
	run_result_free(&r);
	r = RUN("-x");
	assert_int_equal(r.status, 1);
	assert_non_null(
		strstr(r.err, "invalid option -- 'x'\nUnknown option.\n"));
	run_result_free(&r);
}

static void test_not_found(void **state)
{
	expect(RUN("foo"), 1, "", "Object \"foo\" not found\n");
	expect(RUN(""), 1, "", "Object \"\" not found\n");
	expect(RUN("dev", "foo"), 1, "", "Command \"foo\" not found\n");
	expect(RUN("mgmtdev", "sh0w"), 1, "", "Command \"sh0w\" not found\n");
	/* vstats and set must be spelled out; config takes a prefix. */
	expect(RUN("dev", "vst", "show", "x"), 1, "",
	       "Command \"vst\" not found\n");
	expect(RUN("dev", "se", "name", "x", "mac", "00:11:22:33:44:55"), 1, "",
	       "Command \"se\" not found\n");
	expect(RUN("dev", "vstats", "sh", "x"), 1, "",
	       "Command \"sh\" not found\n");
	expect(RUN("dev", "config", "list"), 1, "",
	       "Command \"list\" not found\n");
	assert_int_equal(fake.nreq, 0);
}

static void push_sims_dump(void)
{
	fake_push(mk_mgmtdev(buf, NULL, "vdpasim_net", BIT(1), 3,
			     0x308830028ULL));
	fake_push(mk_mgmtdev(buf, NULL, "vdpasim_blk", BIT(2), 0, 0));
	fake_push(mk_done(buf));
}

static void test_mgmtdev_show_dump(void **state)
{
	push_sims_dump();
	expect(RUN("mgmtdev", "show"), 0,
	       "vdpasim_net: \n"
	       "  supported_classes net\n"
	       "  max_supported_vqs 3\n"
	       "  dev_features MTU MAC STATUS CTRL_VQ CTRL_MAC_ADDR ANY_LAYOUT "
	       "VERSION_1 ACCESS_PLATFORM\n"
	       "vdpasim_blk: \n"
	       "  supported_classes block\n"
	       "  max_supported_vqs 0\n"
	       "  dev_features\n",
	       "");
	assert_int_equal(fake.nreq, 1);
	assert_int_equal(fake_req()->nlmsg_type, UVDPA_GENL_FAMILY_ID);
	assert_int_equal(fake_req()->nlmsg_flags,
			 NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
	assert_int_equal(req_cmd(), VDPA_CMD_MGMTDEV_GET);
	assert_null(fake_req_attr(VDPA_ATTR_MGMTDEV_DEV_NAME));
	assert_true(fake.closed);
}

static void test_mgmtdev_list_one(void **state)
{
	const struct nlattr *a;

	fake_push(mk_mgmtdev(buf, "pci", "0000:65:00.2", BIT(1), 16, BIT(5)));
	fake_append(mk_error(buf, 0, NULL));
	expect(RUN("mgmtdev", "l", "pci/0000:65:00.2"), 0,
	       "pci/0000:65:00.2: \n"
	       "  supported_classes net\n"
	       "  max_supported_vqs 16\n"
	       "  dev_features MAC\n",
	       "");
	assert_int_equal(fake_req()->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	a = fake_req_attr(VDPA_ATTR_MGMTDEV_BUS_NAME);
	assert_non_null(a);
	assert_string_equal(mnl_attr_get_str(a), "pci");
	a = fake_req_attr(VDPA_ATTR_MGMTDEV_DEV_NAME);
	assert_non_null(a);
	assert_string_equal(mnl_attr_get_str(a), "0000:65:00.2");
}

static void test_mgmtdev_two_slashes(void **state)
{
	expect(RUN("mgmtdev", "show", "a/b/c"), 1, "",
	       "Wrong vdpa mgmtdev identification string format\n"
	       "Expected \"mgmtdev_bus_name/mgmtdev_name\"\n"
	       "Expected \"mgmtdev_name\"\n");
	assert_int_equal(fake.nreq, 0);
}

static void test_dev_alone_dumps(void **state)
{
	fake_push(mk_dev(buf, "vdpa0", "vdpasim_net", 1, 3));
	fake_append(mk_dev(buf, "blk0", "vdpasim_blk", 2, 1));
	fake_push(mk_done(buf));
	expect(RUN("dev"), 0,
	       "vdpa0: type network mgmtdev vdpasim_net vendor_id 0 max_vqs 3 "
	       "max_vq_size 256\n"
	       "blk0: type block mgmtdev vdpasim_blk vendor_id 0 max_vqs 1 "
	       "max_vq_size 256\n",
	       "");
	assert_int_equal(req_cmd(), VDPA_CMD_DEV_GET);
	assert_true(fake_req()->nlmsg_flags & NLM_F_DUMP);
}

static void test_dev_show_empty_json(void **state)
{
	fake_push(mk_done(buf));
	expect(RUN("-j", "dev", "show"), 0, "{\"dev\":{}}\n", "");
	fake_reset();
	fake_push(mk_done(buf));
	expect(RUN("dev", "list", "-jp"), 0, "{\n    \"dev\": {}\n}\n", "");
	fake_reset();
	fake_push(mk_done(buf));
	expect(RUN("dev", "show"), 0, "", "");
}

static void test_error_extack(void **state)
{
	fake_push(mk_error(buf, -ENODEV, "vdpa: device not found"));
	expect(RUN("dev", "show", "vdpa9"), 1, "",
	       "Error: vdpa: device not found.\n"
	       "kernel answers: No such device\n");
	assert_string_equal(mnl_attr_get_str(fake_req_attr(VDPA_ATTR_DEV_NAME)),
			    "vdpa9");
	fake_reset();
	fake_push(mk_error(buf, -ENODEV, "vdpa: device not found"));
	expect(RUN("-j", "dev", "config", "show", "vdpa9"), 1,
	       "{\"config\":{}}\n",
	       "Error: vdpa: device not found.\n"
	       "kernel answers: No such device\n");
}

static void test_error_plain(void **state)
{
	const struct nlattr *a;

	fake_push(mk_error(buf, -EEXIST, NULL));
	expect(RUN("dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk"), 1,
	       "", "kernel answers: File exists\n");
	assert_int_equal(req_cmd(), VDPA_CMD_DEV_NEW);
	assert_int_equal(fake_req()->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	a = fake_req_attr(VDPA_ATTR_MGMTDEV_DEV_NAME);
	assert_string_equal(mnl_attr_get_str(a), "vdpasim_blk");
	assert_null(fake_req_attr(VDPA_ATTR_MGMTDEV_BUS_NAME));
}

static void test_add_ok(void **state)
{
	const struct nlattr *a;

	fake_push(mk_error(buf, 0, NULL));
	expect(RUN("dev", "add", "mgmtdev", "vdpasim_net", "name", "vdpa0",
		   "mac", "00:11:22:33:44:55", "max_vqp", "1",
		   "device_features", "300030020"),
	       0, "", "");
	a = fake_req_attr(VDPA_ATTR_DEV_FEATURES);
	assert_int_equal(mnl_attr_get_u64(a), 0x300030020ULL);
	a = fake_req_attr(VDPA_ATTR_DEV_NET_CFG_MAX_VQP);
	assert_int_equal(mnl_attr_get_u16(a), 1);
	assert_int_equal(mnl_attr_get_payload_len(
				 fake_req_attr(VDPA_ATTR_DEV_NET_CFG_MACADDR)),
			 6);
	fake_reset();
	fake_push(mk_error(buf, 0, NULL));
	expect(RUN("-j", "dev", "del", "vdpa0"), 0, "\n", "");
	assert_int_equal(req_cmd(), VDPA_CMD_DEV_DEL);
}

/* The kernel answers 0 with a message: a warning, and success. */
static void test_set_warning(void **state)
{
	fake_push(mk_error(buf, 0, "vdpasim_blk device not supported"));
	expect(RUN("dev", "set", "name", "blk0", "mac", "00:11:22:33:44:55"), 0,
	       "", "Warning: vdpasim_blk device not supported.\n");
	assert_int_equal(req_cmd(), VDPA_CMD_DEV_ATTR_SET);
	assert_non_null(fake_req_attr(VDPA_ATTR_DEV_NET_CFG_MACADDR));
}

static void test_parse_errors_send_nothing(void **state)
{
	expect(RUN("dev", "add"), 1, "", "management device handle not set.\n");
	expect(RUN("dev", "add", "name", "x", "mgmtdev", "y", "mtu", "abc"), 1,
	       "", "");
	expect(RUN("dev", "del"), 1, "", "String parameter expected\n");
	expect(RUN("dev", "set", "mac", "00:11:22:33:44:55"), 1, "",
	       "device name is not set.\n");
	expect(RUN("dev", "set", "name", "x", "mac", "zz"), 1, "",
	       "\"zz\" is invalid lladdr.\n");
	assert_int_equal(fake.nreq, 0);
}

/* argv can be longer than a request may be: refused before sending. */
static void test_argument_too_long(void **state)
{
	char *name = malloc(UVDPA_MGMT_MSG_MAX + 1);

	memset(name, 'a', UVDPA_MGMT_MSG_MAX);
	name[UVDPA_MGMT_MSG_MAX] = '\0';
	expect(RUN("dev", "del", name), 1, "",
	       "Arguments too long for one request\n");
	assert_int_equal(fake.nreq, 0);
	free(name);
}

static void test_vstats(void **state)
{
	fake_push(mk_net_vstats(buf, "vdpa0", BIT(17) | BIT(32) | BIT(33), -1,
				0));
	fake_append(mk_error(buf, 0, NULL));
	expect(RUN("dev", "vstats", "show", "vdpa0", "qidx", "0"), 0,
	       "vdpa0: queue_type control_vq rx packets 12 rx bytes 1200 "
	       "rx errors 0 rx overruns 0 rx drops 0 \n",
	       "");
	assert_int_equal(req_cmd(), VDPA_CMD_DEV_VSTATS_GET);
	assert_int_equal(fake_req()->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_int_equal(
		mnl_attr_get_u32(fake_req_attr(VDPA_ATTR_DEV_QUEUE_INDEX)), 0);
}

static void test_vstats_usage(void **state)
{
	expect(RUN("dev", "vstats"), 1, "", vstats_help);
	expect(RUN("dev", "vstats", "show"), 1, "", vstats_help);
	expect(RUN("dev", "vstats", "show", "vdpa0", "qidx"), 1, "",
	       vstats_help);
	expect(RUN("dev", "vstats", "show", "vdpa0", "queue", "1"), 1, "",
	       "Unknown option \"queue\"\n");
	assert_int_equal(fake.nreq, 0);
	/* Without qidx the request goes out as it is; the daemon refuses. */
	fake_push(mk_error(buf, -EINVAL, NULL));
	expect(RUN("dev", "vstats", "show", "vdpa0"), 1, "",
	       "kernel answers: Invalid argument\n");
	assert_null(fake_req_attr(VDPA_ATTR_DEV_QUEUE_INDEX));
}

static void test_config_dump(void **state)
{
	static const uint8_t mac[6] = { 0 };

	fake_push(mk_net_config(buf, "vdpa0", mac, 1, 1500, -1, 0));
	fake_push(mk_blk_config(buf, "blk0"));
	fake_push(mk_done(buf));
	expect(RUN("dev", "config"), 0,
	       "vdpa0: mac 00:00:00:00:00:00 link up link_announce false "
	       "mtu 1500 \n"
	       "blk0: capacity 262144 blk_size 512 size_max 4096 read_only "
	       "false flush true \n",
	       "");
	assert_int_equal(req_cmd(), VDPA_CMD_DEV_CONFIG_GET);
	assert_true(fake_req()->nlmsg_flags & NLM_F_DUMP);
}

/* A dump that fails part way: NLMSG_DONE carries the error. */
static void test_dump_done_error(void **state)
{
	struct nlmsghdr *nlh = mk_done(buf);

	*(int *)mnl_nlmsg_get_payload(nlh) = -EOPNOTSUPP;
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "unsupported class");
	fake_push(mk_blk_config(buf + 2048, "blk0"));
	fake_push(nlh);
	expect(RUN("dev", "config", "show"), 1,
	       "blk0: capacity 262144 blk_size 512 size_max 4096 read_only "
	       "false flush true \n",
	       "Error: unsupported class.\n"
	       "kernel answers: Operation not supported\n");
}

static void test_malformed_reply(void **state)
{
	struct nlmsghdr *nlh =
		msg_start(buf, UVDPA_GENL_FAMILY_ID, 0, VDPA_CMD_DEV_NEW);

	mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, "x");
	fake_push(nlh);
	expect(RUN("dev", "show", "x"), 1, "",
	       "kernel answers: Protocol error\n");
}

/* A header claiming 2 GiB must not send libmnl's walk off the buffer. */
static void test_huge_length(void **state)
{
	struct nlmsghdr *nlh = mk_dev(buf, "x", "m", 1, 1);
	size_t len = nlh->nlmsg_len;

	nlh->nlmsg_len = 0x80000010;
	memcpy(fake.rec[0], nlh, len);
	fake.rec_len[0] = len;
	fake.nrec = 1;
	expect(RUN("dev", "show"), 1, "", "kernel answers: Protocol error\n");
}

static void test_peer_hangs_up(void **state)
{
	expect(RUN("dev", "show", "x"), 1, "",
	       "kernel answers: Connection reset by peer\n");
}

static void test_no_daemon(void **state)
{
	static const char msg[] = "Failed to connect to vdpa Netlink\n"
				  "No uvdpad listening at /fake/uvdpad.sock "
				  "(Connection refused)\n";

	fake.open_err = -ECONNREFUSED;
	expect(RUN("dev", "show"), 1, "", msg);
	expect(RUN("-j", "mgmtdev", "show"), 1, "", msg);
	/* Help and argument errors need no daemon. */
	expect(RUN("dev", "help"), 0, "", dev_help);
}

static void test_no_family(void **state)
{
	fake.no_family = true;
	expect(RUN("-j", "dev", "show"), 1, "",
	       "Failed to connect to vdpa Netlink\n");
	assert_int_equal(fake.nreq, 0);
}

/* ---- the AF_UNIX transport against a small server ---- */

static char tmpdir[] = "/tmp/test_cli_XXXXXX";

static int listen_at(const char *dir)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", dir,
		 UVDPA_SOCK_NAME);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/* Answers GETFAMILY, then a dev dump as two records and NLMSG_DONE. */
static void serve_one(int lfd)
{
	char in[4096], out[4096];
	struct nlmsghdr *req = (struct nlmsghdr *)in, *nlh;
	int c = accept(lfd, NULL, NULL);
	size_t len;

	if (recv(c, in, sizeof(in), 0) <= 0 || req->nlmsg_type != GENL_ID_CTRL)
		_exit(2);
	nlh = msg_start(out, GENL_ID_CTRL, 0, CTRL_CMD_NEWFAMILY);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, UVDPA_GENL_FAMILY_ID);
	nlh->nlmsg_seq = req->nlmsg_seq;
	len = NLMSG_ALIGN(nlh->nlmsg_len);
	nlh = mk_error(out + len, 0, NULL);
	nlh->nlmsg_seq = req->nlmsg_seq;
	send(c, out, len + nlh->nlmsg_len, 0);
	if (recv(c, in, sizeof(in), 0) <= 0 ||
	    req->nlmsg_type != UVDPA_GENL_FAMILY_ID)
		_exit(3);
	nlh = mk_dev(out, "vdpa0", "vdpasim_net", 1, 3);
	mnl_attr_put_strz(nlh, UVDPA_ATTR_DEV_DRIVER, "vhost_vdpa");
	nlh->nlmsg_seq = req->nlmsg_seq;
	send(c, out, nlh->nlmsg_len, 0);
	nlh = mk_done(out);
	nlh->nlmsg_seq = req->nlmsg_seq;
	send(c, out, nlh->nlmsg_len, 0);
	close(c);
	_exit(0);
}

static void test_unix_transport(void **state)
{
	struct run_result r;
	char path[256];
	int lfd, status;
	pid_t pid;

	assert_non_null(mkdtemp(tmpdir));
	setenv("UVDPA_RUNTIME_DIR", tmpdir, 1);
	unsetenv("XDG_RUNTIME_DIR");
	r = run_cli_with(&cli_unix_transport,
			 (const char *const[]){ "dev", "show", NULL });
	snprintf(path, sizeof(path),
		 "Failed to connect to vdpa Netlink\n"
		 "No uvdpad listening at %s/uvdpad.sock (No such file or "
		 "directory), /run/uvdpa/uvdpad.sock (",
		 tmpdir);
	assert_int_equal(r.status, 1);
	assert_memory_equal(r.err, path, strlen(path));
	run_result_free(&r);

	lfd = listen_at(tmpdir);
	pid = fork();
	if (pid == 0)
		serve_one(lfd);
	close(lfd);
	r = run_cli_with(&cli_unix_transport,
			 (const char *const[]){ "dev", "show", NULL });
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out,
			    "vdpa0: type network mgmtdev vdpasim_net vendor_id "
			    "0 max_vqs 3 max_vq_size 256 driver vhost_vdpa\n");
	assert_int_equal(r.status, 0);
	run_result_free(&r);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, UVDPA_SOCK_NAME);
	unlink(path);
	rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_version, setup),
		cmocka_unit_test_setup(test_help, setup),
		cmocka_unit_test_setup(test_help_json_newline, setup),
		cmocka_unit_test_setup(test_bad_option, setup),
		cmocka_unit_test_setup(test_not_found, setup),
		cmocka_unit_test_setup(test_mgmtdev_show_dump, setup),
		cmocka_unit_test_setup(test_mgmtdev_list_one, setup),
		cmocka_unit_test_setup(test_mgmtdev_two_slashes, setup),
		cmocka_unit_test_setup(test_dev_alone_dumps, setup),
		cmocka_unit_test_setup(test_dev_show_empty_json, setup),
		cmocka_unit_test_setup(test_error_extack, setup),
		cmocka_unit_test_setup(test_error_plain, setup),
		cmocka_unit_test_setup(test_add_ok, setup),
		cmocka_unit_test_setup(test_set_warning, setup),
		cmocka_unit_test_setup(test_parse_errors_send_nothing, setup),
		cmocka_unit_test_setup(test_argument_too_long, setup),
		cmocka_unit_test_setup(test_vstats, setup),
		cmocka_unit_test_setup(test_vstats_usage, setup),
		cmocka_unit_test_setup(test_config_dump, setup),
		cmocka_unit_test_setup(test_dump_done_error, setup),
		cmocka_unit_test_setup(test_malformed_reply, setup),
		cmocka_unit_test_setup(test_huge_length, setup),
		cmocka_unit_test_setup(test_peer_hangs_up, setup),
		cmocka_unit_test_setup(test_no_daemon, setup),
		cmocka_unit_test_setup(test_no_family, setup),
		cmocka_unit_test_setup(test_unix_transport, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
