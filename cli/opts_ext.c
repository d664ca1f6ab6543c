// SPDX-License-Identifier: MIT
/*
 * uvdpa's own option words (opts.h): the bus driver to bind, the TAP name,
 * and the `blk` management device's settings. iproute2 has none of them;
 * they follow its style (a keyword and a value, a message on a bad value).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>
#include <uvdpa/mgmt.h>

#include "opts.h"

static int missing_value(const char *keyword, const char *what)
{
	fprintf(stderr, "%s: %s expected\n", keyword, what);
	return -EINVAL;
}

int cli_opt_driver(struct cli_opts *o, char *arg)
{
	if (!arg)
		return missing_value("driver", "a bus driver");
	o->driver = arg;
	return 0;
}

int cli_opt_ifname(struct cli_opts *o, char *arg)
{
	if (!arg)
		return missing_value("ifname", "an interface name");
	if (!*arg || strlen(arg) >= 16) {
		fprintf(stderr,
			"ifname \"%s\": an interface name has 1 to 15 "
			"bytes\n",
			arg);
		return -EINVAL;
	}
	o->ifname = arg;
	return 0;
}

/*
 * A file or block device is sent as its real path (uvdpad may run in
 * another directory); an NBD URI as it is.
 */
int cli_opt_path(struct cli_opts *o, char *arg)
{
	if (!arg)
		return missing_value("path", "a file, block device or NBD URI");
	if (!strncmp(arg, "nbd://", 6) || !strncmp(arg, "nbd+unix://", 11) ||
	    !strncmp(arg, "nbds://", 7)) {
		o->path = arg;
		return 0;
	}
	if (!realpath(arg, o->path_buf)) {
		fprintf(stderr, "path \"%s\": %s\n", arg, strerror(errno));
		return -EINVAL;
	}
	o->path = o->path_buf;
	return 0;
}

static int on_off(const char *keyword, const char *arg, uint8_t *val)
{
	if (arg && !strcmp(arg, "on")) {
		*val = 1;
		return 0;
	}
	if (arg && !strcmp(arg, "off")) {
		*val = 0;
		return 0;
	}
	return missing_value(keyword, "on or off");
}

int cli_opt_direct(struct cli_opts *o, char *arg)
{
	return on_off("direct", arg, &o->blk_direct);
}

int cli_opt_writeback(struct cli_opts *o, char *arg)
{
	return on_off("writeback", arg, &o->blk_writeback);
}

int cli_opt_aio(struct cli_opts *o, char *arg)
{
	static const char *const names[] = {
		[UVDPA_BLK_AIO_AUTO] = "auto",
		[UVDPA_BLK_AIO_IO_URING] = "io_uring",
		[UVDPA_BLK_AIO_INLINE] = "inline",
	};

	for (size_t i = 0; arg && i < ARRAY_SIZE(names); i++) {
		if (!strcmp(arg, names[i])) {
			o->blk_aio = (uint8_t)i;
			return 0;
		}
	}
	return missing_value("aio", "auto, io_uring or inline");
}

/* `readonly` is a word alone: it takes no value. */
int cli_opt_readonly(struct cli_opts *o, char *arg)
{
	o->blk_readonly = 1;
	return 0;
}

/* A number up to @max, the value set only when it parses. */
static int number(const char *keyword, const char *arg, unsigned long long max,
		  unsigned long long *val)
{
	if (!arg)
		return missing_value(keyword, "a number");
	if (cli_parse_uint(arg, 10, max, val)) {
		fprintf(stderr, "%s \"%s\": a number up to %llu expected\n",
			keyword, arg, max);
		return -EINVAL;
	}
	return 0;
}

int cli_opt_num_queues(struct cli_opts *o, char *arg)
{
	unsigned long long v;
	int ret = number("num_queues", arg, 0xffff, &v);

	if (!ret)
		o->blk_num_queues = (uint16_t)v;
	return ret;
}

int cli_opt_queue_size(struct cli_opts *o, char *arg)
{
	unsigned long long v;
	int ret = number("queue_size", arg, 0xffff, &v);

	if (!ret)
		o->blk_queue_size = (uint16_t)v;
	return ret;
}

int cli_opt_lbs(struct cli_opts *o, char *arg)
{
	unsigned long long v;
	int ret = number("logical_block_size", arg, 0xffffffff, &v);

	if (ret)
		return ret;
	if (v != 512 && v != 4096) {
		fprintf(stderr, "logical_block_size %llu: 512 or 4096\n", v);
		return -EINVAL;
	}
	o->blk_lbs = (uint32_t)v;
	return 0;
}

int cli_opt_serial(struct cli_opts *o, char *arg)
{
	if (!arg)
		return missing_value("serial", "a string");
	if (strlen(arg) > 20) {
		fprintf(stderr, "serial \"%s\": at most 20 bytes\n", arg);
		return -EINVAL;
	}
	o->blk_serial = arg;
	return 0;
}

/*
 * Bytes, with an optional K, M, G or T (powers of 1024). Digits first:
 * strtoull would take a blank or a sign, and "-1" wraps around.
 */
int cli_parse_size(const char *arg, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *u;
	char *end;

	if (!arg || !isdigit((unsigned char)*arg))
		return -EINVAL;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		/* not *end & ~0x20: a blank became the NUL strchr() finds */
		u = strchr(units, toupper((unsigned char)*end));
		if (!u || end[1])
			return -EINVAL;
		for (long i = 0; i <= u - units; i++) {
			if (v > ULLONG_MAX / 1024)
				return -ERANGE;
			v *= 1024;
		}
	}
	*bytes = v;
	return 0;
}

int cli_opt_capacity(struct cli_opts *o, char *arg)
{
	if (!arg)
		return missing_value("capacity", "a size");
	if (cli_parse_size(arg, &o->blk_capacity)) {
		fprintf(stderr,
			"capacity \"%s\": a size in bytes, with K, M, G or T "
			"after it, expected\n",
			arg);
		return -EINVAL;
	}
	return 0;
}

static bool put_str(struct nlmsghdr *nlh, size_t size, uint16_t type,
		    const char *s)
{
	return mnl_attr_put_strz_check(nlh, size, type, s);
}

/* The attributes of uvdpa's own options present in @o. */
bool cli_opts_put_ext(struct nlmsghdr *nlh, size_t size,
		      const struct cli_opts *o)
{
	uint64_t p = o->present;
	bool ok = true;

	if (p & CLI_OPT_DRIVER)
		ok = put_str(nlh, size, UVDPA_ATTR_DEV_DRIVER, o->driver);
	if (ok && p & CLI_OPT_IFNAME)
		ok = put_str(nlh, size, UVDPA_ATTR_DEV_IFNAME, o->ifname);
	if (ok && p & CLI_OPT_BLK_PATH)
		ok = put_str(nlh, size, UVDPA_ATTR_BLK_PATH, o->path);
	if (ok && p & CLI_OPT_BLK_SERIAL)
		ok = put_str(nlh, size, UVDPA_ATTR_BLK_SERIAL, o->blk_serial);
	if (ok && p & CLI_OPT_BLK_READONLY)
		ok = mnl_attr_put_u8_check(nlh, size, UVDPA_ATTR_BLK_READONLY,
					   o->blk_readonly);
	if (ok && p & CLI_OPT_BLK_DIRECT)
		ok = mnl_attr_put_u8_check(nlh, size, UVDPA_ATTR_BLK_DIRECT,
					   o->blk_direct);
	if (ok && p & CLI_OPT_BLK_WRITEBACK)
		ok = mnl_attr_put_u8_check(nlh, size, UVDPA_ATTR_BLK_WRITEBACK,
					   o->blk_writeback);
	if (ok && p & CLI_OPT_BLK_AIO)
		ok = mnl_attr_put_u8_check(nlh, size, UVDPA_ATTR_BLK_AIO,
					   o->blk_aio);
	if (ok && p & CLI_OPT_BLK_NUM_QUEUES)
		ok = mnl_attr_put_u16_check(nlh, size,
					    UVDPA_ATTR_BLK_NUM_QUEUES,
					    o->blk_num_queues);
	if (ok && p & CLI_OPT_BLK_QUEUE_SIZE)
		ok = mnl_attr_put_u16_check(nlh, size,
					    UVDPA_ATTR_BLK_QUEUE_SIZE,
					    o->blk_queue_size);
	if (ok && p & CLI_OPT_BLK_LBS)
		ok = mnl_attr_put_u32_check(nlh, size,
					    UVDPA_ATTR_BLK_LOGICAL_BLOCK_SIZE,
					    o->blk_lbs);
	if (ok && p & CLI_OPT_BLK_CAPACITY)
		ok = mnl_attr_put_u64_check(nlh, size, UVDPA_ATTR_BLK_CAPACITY,
					    o->blk_capacity);
	return ok;
}
