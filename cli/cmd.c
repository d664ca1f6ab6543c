// SPDX-License-Identifier: MIT
/*
 * Objects, verbs and usage texts (cli.h). Which words take a prefix and
 * which must be exact, the usage texts and the exit codes are iproute2
 * vdpa's (reference §2.1, §2.2). One difference: uvdpa connects only
 * when a command has a request to send, so help and argument errors
 * work without uvdpad.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/uapi.h>

#include "cli.h"
#include "json_print.h"
#include "nl.h"
#include "opts.h"
#include "output.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct cli {
	struct cli_nl nl;
	struct cli_opts opts;
	struct cli_out out;
	bool no_peer; /* nothing answered: print no JSON at all */
};

struct cli_cmd {
	const char *word;
	bool prefix; /* matches() rather than strcmp() */
	int (*run)(struct cli *c, int argc, char **argv);
};

/* Runs the first command whose word @argv[0] is; "<kind> not found". */
static int dispatch(struct cli *c, const struct cli_cmd *cmds, size_t n,
		    const char *kind, int argc, char **argv)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (cmds[i].prefix ? cli_matches(argv[0], cmds[i].word)
				   : !strcmp(argv[0], cmds[i].word))
			return cmds[i].run(c, argc - 1, argv + 1);
	}
	fprintf(stderr, "%s \"%s\" not found\n", kind, argv[0]);
	return -ENOENT;
}

/*
 * Sends @nlh and prints its replies with @cb, inside the JSON section
 * @section when there is one.
 */
static int exchange(struct cli *c, struct nlmsghdr *nlh, const char *section,
		    mnl_cb_t cb)
{
	int err = cli_nl_connect(&c->nl);

	if (err) {
		c->no_peer = true;
		return err;
	}
	if (section)
		cli_pr_section_start(section);
	err = cli_nl_sndrcv(&c->nl, nlh, cb, &c->out);
	if (section)
		cli_pr_section_end();
	return err;
}

static struct nlmsghdr *prepare(struct cli *c, uint8_t cmd, bool dump)
{
	uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;

	return cli_nl_prepare(&c->nl, cmd, dump ? flags | NLM_F_DUMP : flags);
}

static int parse_put(struct cli *c, struct nlmsghdr *nlh, int argc, char **argv,
		     uint64_t required, uint64_t optional)
{
	int err = cli_opts_parse(&c->opts, argc, argv, required, optional);

	if (err)
		return err;
	err = cli_opts_put(nlh, sizeof(c->nl.req), &c->opts);
	if (err)
		fprintf(stderr, "Arguments too long for one request\n");
	return err;
}

/* "show [ HANDLE ]": a dump without an argument, else one object. */
static int show(struct cli *c, int argc, char **argv, uint8_t cmd,
		uint64_t handle, const char *section, mnl_cb_t cb)
{
	struct nlmsghdr *nlh = prepare(c, cmd, argc <= 0);
	int err;

	if (argc > 0) {
		err = parse_put(c, nlh, argc, argv, handle, 0);
		if (err)
			return err;
	}
	return exchange(c, nlh, section, cb);
}

/* ---- usage ---- */

/* The usage texts are iproute2's, line for line. */
/* clang-format off */
static void help(void)
{
	fprintf(stderr,
		"Usage: uvdpa [ OPTIONS ] OBJECT { COMMAND | help }\n"
		"where  OBJECT := { mgmtdev | dev }\n"
		"       OPTIONS := { -V[ersion] | -n[o-nice-names] | -j[son] | -p[retty] }\n");
}

static int cmd_help(struct cli *c, int argc, char **argv)
{
	help();
	return 0;
}

static int cmd_mgmtdev_help(struct cli *c, int argc, char **argv)
{
	fprintf(stderr, "Usage: uvdpa mgmtdev show [ DEV ]\n");
	return 0;
}

static int cmd_dev_help(struct cli *c, int argc, char **argv)
{
	fprintf(stderr,
		"Usage: uvdpa dev show [ DEV ]\n"
		"       uvdpa dev add name NAME mgmtdev MANAGEMENTDEV [ device_features DEVICE_FEATURES]\n"
		"                                                    [ mac MACADDR ] [ mtu MTU ]\n"
		"                                                    [ max_vqp MAX_VQ_PAIRS ]\n"
		"                                                    [ owner USER ] [ group GROUP ] [ mode MODE ]\n"
		"                                                    [ driver { vhost_vdpa | virtio_vdpa | none } ]\n"
		"                                                    [ ifname IFNAME ]\n"
		"       uvdpa dev add name NAME mgmtdev blk path { FILE | BLOCKDEV | NBD_URI } [ readonly ]\n"
		"                                                    [ num_queues N ] [ queue_size N ]\n"
		"                                                    [ direct { on | off } ] [ writeback { on | off } ]\n"
		"                                                    [ serial SERIAL ] [ logical_block_size { 512 | 4096 } ]\n"
		"                                                    [ capacity SIZE ] [ aio { auto | io_uring | inline } ]\n"
		"       uvdpa dev del DEV\n"
		"       uvdpa dev bind DEV driver { vhost_vdpa | virtio_vdpa }\n"
		"       uvdpa dev unbind DEV\n"
		"       uvdpa dev resize DEV capacity SIZE\n"
		"Usage: uvdpa dev config COMMAND [ OPTIONS ]\n"
		"Usage: uvdpa dev vstats COMMAND\n");
	return 0;
}

/* clang-format on */

static int cmd_dev_config_help(struct cli *c, int argc, char **argv)
{
	fprintf(stderr, "Usage: uvdpa dev config show [ DEV ]\n");
	return 0;
}

static int cmd_dev_vstats_help(struct cli *c, int argc, char **argv)
{
	fprintf(stderr,
		"Usage: uvdpa dev vstats show DEV [qidx QUEUE_INDEX]\n");
	return 0;
}

/* ---- mgmtdev ---- */

static int cmd_mgmtdev_show(struct cli *c, int argc, char **argv)
{
	return show(c, argc, argv, VDPA_CMD_MGMTDEV_GET, CLI_OPT_MGMTDEV_HANDLE,
		    "mgmtdev", cli_pr_mgmtdev);
}

static const struct cli_cmd mgmtdev_cmds[] = {
	{ .word = "help", .prefix = true, .run = cmd_mgmtdev_help },
	{ .word = "show", .prefix = true, .run = cmd_mgmtdev_show },
	{ .word = "list", .prefix = true, .run = cmd_mgmtdev_show },
};

static int cmd_mgmtdev(struct cli *c, int argc, char **argv)
{
	if (argc <= 0)
		return cmd_mgmtdev_help(c, argc, argv);
	return dispatch(c, mgmtdev_cmds, ARRAY_SIZE(mgmtdev_cmds), "Command",
			argc, argv);
}

/* ---- dev ---- */

static int cmd_dev_show(struct cli *c, int argc, char **argv)
{
	return show(c, argc, argv, VDPA_CMD_DEV_GET, CLI_OPT_VDEV_HANDLE, "dev",
		    cli_pr_dev);
}

/* A request that answers with an ack only. */
static int request(struct cli *c, int argc, char **argv, uint8_t cmd,
		   uint64_t required, uint64_t optional)
{
	struct nlmsghdr *nlh = prepare(c, cmd, false);
	int err;

	err = parse_put(c, nlh, argc, argv, required, optional);
	if (err)
		return err;
	return exchange(c, nlh, NULL, NULL);
}

static int cmd_dev_add(struct cli *c, int argc, char **argv)
{
	return request(c, argc, argv, VDPA_CMD_DEV_NEW,
		       CLI_OPT_VDEV_MGMTDEV_HANDLE | CLI_OPT_VDEV_NAME,
		       CLI_OPT_VDEV_MAC | CLI_OPT_VDEV_MTU | CLI_OPT_MAX_VQP |
			       CLI_OPT_VDEV_FEATURES | CLI_OPT_DEV_ADD_EXT);
}

/* uvdpa's own verbs: driverctl's set-override, and a block resize. */
static int cmd_dev_bind(struct cli *c, int argc, char **argv)
{
	return request(c, argc, argv, UVDPA_CMD_DEV_BIND,
		       CLI_OPT_VDEV_HANDLE | CLI_OPT_DRIVER, 0);
}

static int cmd_dev_unbind(struct cli *c, int argc, char **argv)
{
	return request(c, argc, argv, UVDPA_CMD_DEV_UNBIND, CLI_OPT_VDEV_HANDLE,
		       0);
}

static int cmd_dev_resize(struct cli *c, int argc, char **argv)
{
	return request(c, argc, argv, UVDPA_CMD_DEV_RESIZE,
		       CLI_OPT_VDEV_HANDLE | CLI_OPT_BLK_CAPACITY, 0);
}

static int cmd_dev_del(struct cli *c, int argc, char **argv)
{
	return request(c, argc, argv, VDPA_CMD_DEV_DEL, CLI_OPT_VDEV_HANDLE, 0);
}

static int cmd_dev_set(struct cli *c, int argc, char **argv)
{
	return request(c, argc, argv, VDPA_CMD_DEV_ATTR_SET, CLI_OPT_VDEV_NAME,
		       CLI_OPT_VDEV_MAC);
}

static int cmd_dev_config_show(struct cli *c, int argc, char **argv)
{
	return show(c, argc, argv, VDPA_CMD_DEV_CONFIG_GET, CLI_OPT_VDEV_HANDLE,
		    "config", cli_pr_dev_config);
}

static const struct cli_cmd dev_config_cmds[] = {
	{ .word = "help", .prefix = true, .run = cmd_dev_config_help },
	{ .word = "show", .prefix = true, .run = cmd_dev_config_show },
};

static int cmd_dev_config(struct cli *c, int argc, char **argv)
{
	if (argc <= 0)
		return cmd_dev_config_show(c, argc - 1, argv + 1);
	return dispatch(c, dev_config_cmds, ARRAY_SIZE(dev_config_cmds),
			"Command", argc, argv);
}

/* "show DEV [ qidx N ]": exactly one or three words, else usage. */
static int cmd_dev_vstats_show(struct cli *c, int argc, char **argv)
{
	struct nlmsghdr *nlh;
	int err;

	if (argc != 1 && argc != 3) {
		cmd_dev_vstats_help(c, argc, argv);
		return -EINVAL;
	}
	nlh = prepare(c, VDPA_CMD_DEV_VSTATS_GET, false);
	err = parse_put(c, nlh, argc, argv, CLI_OPT_VDEV_HANDLE,
			CLI_OPT_QUEUE_INDEX);
	if (err)
		return err;
	return exchange(c, nlh, "vstats", cli_pr_dev_vstats);
}

static const struct cli_cmd dev_vstats_cmds[] = {
	{ .word = "help", .prefix = false, .run = cmd_dev_vstats_help },
	{ .word = "show", .prefix = false, .run = cmd_dev_vstats_show },
};

static int cmd_dev_vstats(struct cli *c, int argc, char **argv)
{
	if (argc <= 0) {
		cmd_dev_vstats_help(c, argc, argv);
		return -EINVAL;
	}
	return dispatch(c, dev_vstats_cmds, ARRAY_SIZE(dev_vstats_cmds),
			"Command", argc, argv);
}

static const struct cli_cmd dev_cmds[] = {
	{ .word = "help", .prefix = true, .run = cmd_dev_help },
	{ "show", true, cmd_dev_show },
	{ .word = "list", .prefix = true, .run = cmd_dev_show },
	{ "add", true, cmd_dev_add },
	{ .word = "del", .prefix = true, .run = cmd_dev_del },
	{ "config", true, cmd_dev_config },
	{ .word = "vstats", .prefix = false, .run = cmd_dev_vstats },
	{ "set", false, cmd_dev_set },
	/* uvdpa's own, exact words only */
	{ "bind", false, cmd_dev_bind },
	{ "unbind", false, cmd_dev_unbind },
	{ "resize", false, cmd_dev_resize },
};

static int cmd_dev(struct cli *c, int argc, char **argv)
{
	if (argc <= 0)
		return cmd_dev_show(c, argc - 1, argv + 1);
	return dispatch(c, dev_cmds, ARRAY_SIZE(dev_cmds), "Command", argc,
			argv);
}

/* ---- objects, options, main ---- */

static const struct cli_cmd objects[] = {
	{ .word = "help", .prefix = true, .run = cmd_help },
	{ .word = "mgmtdev", .prefix = true, .run = cmd_mgmtdev },
	{ .word = "dev", .prefix = true, .run = cmd_dev },
};

static int cmd_object(struct cli *c, int argc, char **argv)
{
	if (argc <= 0)
		return cmd_help(c, argc, argv);
	return dispatch(c, objects, ARRAY_SIZE(objects), "Object", argc, argv);
}

enum { OPTS_RUN = -1 };

/* Global options; returns OPTS_RUN, or the exit status when done. */
static int parse_global(int argc, char **argv, bool *json, bool *pretty)
{
	static const struct option long_opts[] = {
		{ "Version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0; /* a full rescan, so that cli_run() can run again */
	while ((opt = getopt_long(argc, argv, "Vjpsh", long_opts, NULL)) >= 0) {
		switch (opt) {
		case 'V':
			printf("uvdpa utility, uvdpa-%s\n", UVDPA_VERSION);
			return EXIT_SUCCESS;
		case 'j':
			*json = true;
			break;
		case 'p':
			*pretty = true;
			break;
		case 'h':
			help();
			return EXIT_SUCCESS;
		default: /* -s too: accepted by getopt, never implemented */
			fprintf(stderr, "Unknown option.\n");
			help();
			return EXIT_FAILURE;
		}
	}
	return OPTS_RUN;
}

int cli_run(int argc, char **argv, const struct cli_transport_ops *ops)
{
	bool json = false, pretty = false;
	struct cli *c;
	int ret;

	ret = parse_global(argc, argv, &json, &pretty);
	if (ret != OPTS_RUN)
		return ret;
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "Failed to allocate memory for vdpa\n");
		return EXIT_FAILURE;
	}
	cli_nl_init(&c->nl, ops);
	json_print_init(stdout, json, pretty);
	ret = cmd_object(c, argc - optind, argv + optind);
	if (c->no_peer)
		json_print_discard();
	else
		json_print_fini();
	cli_nl_close(&c->nl);
	free(c);
	return ret ? EXIT_FAILURE : EXIT_SUCCESS;
}
