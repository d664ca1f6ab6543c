/* SPDX-License-Identifier: MIT */
/*
 * Command options, parsed the way iproute2's vdpa parses them: each
 * command names the options it requires and those it allows; the
 * parser fills struct cli_opts and marks what it found in `present`.
 */
#ifndef UVDPA_CLI_OPTS_H
#define UVDPA_CLI_OPTS_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_OPT_MGMTDEV_HANDLE (1ULL << 0) /* positional MGMTDEV */
#define CLI_OPT_VDEV_MGMTDEV_HANDLE (1ULL << 1) /* mgmtdev MGMTDEV */
#define CLI_OPT_VDEV_NAME (1ULL << 2) /* name NAME */
#define CLI_OPT_VDEV_HANDLE (1ULL << 3) /* positional DEV */
#define CLI_OPT_VDEV_MAC (1ULL << 4) /* mac MAC */
#define CLI_OPT_VDEV_MTU (1ULL << 5) /* mtu N */
#define CLI_OPT_MAX_VQP (1ULL << 6) /* max_vqp N */
#define CLI_OPT_QUEUE_INDEX (1ULL << 7) /* qidx N */
#define CLI_OPT_VDEV_FEATURES (1ULL << 8) /* device_features HEX */
/* uvdpa's own, after iproute2's: the vhost-user socket's permissions */
#define CLI_OPT_SOCK_OWNER (1ULL << 9) /* owner USER|UID */
#define CLI_OPT_SOCK_GROUP (1ULL << 10) /* group GROUP|GID */
#define CLI_OPT_SOCK_MODE (1ULL << 11) /* mode OCTAL */
#define CLI_OPT_DRIVER (1ULL << 12) /* driver vhost_vdpa|virtio_vdpa|none */
#define CLI_OPT_IFNAME (1ULL << 13) /* ifname NAME */
/* the `blk` management device's */
#define CLI_OPT_BLK_PATH (1ULL << 14) /* path PATH|URI */
#define CLI_OPT_BLK_READONLY (1ULL << 15) /* readonly (a word alone) */
#define CLI_OPT_BLK_NUM_QUEUES (1ULL << 16) /* num_queues N */
#define CLI_OPT_BLK_QUEUE_SIZE (1ULL << 17) /* queue_size N */
#define CLI_OPT_BLK_DIRECT (1ULL << 18) /* direct on|off */
#define CLI_OPT_BLK_WRITEBACK (1ULL << 19) /* writeback on|off */
#define CLI_OPT_BLK_SERIAL (1ULL << 20) /* serial STR */
#define CLI_OPT_BLK_LBS (1ULL << 21) /* logical_block_size 512|4096 */
#define CLI_OPT_BLK_CAPACITY (1ULL << 22) /* capacity SIZE */
#define CLI_OPT_BLK_AIO (1ULL << 23) /* aio auto|io_uring|inline */

/* What `dev add` takes beyond iproute2's words. */
#define CLI_OPT_DEV_ADD_EXT                                                    \
	(CLI_OPT_SOCK_OWNER | CLI_OPT_SOCK_GROUP | CLI_OPT_SOCK_MODE |         \
	 CLI_OPT_DRIVER | CLI_OPT_IFNAME | CLI_OPT_BLK_PATH |                  \
	 CLI_OPT_BLK_READONLY | CLI_OPT_BLK_NUM_QUEUES |                       \
	 CLI_OPT_BLK_QUEUE_SIZE | CLI_OPT_BLK_DIRECT | CLI_OPT_BLK_WRITEBACK | \
	 CLI_OPT_BLK_SERIAL | CLI_OPT_BLK_LBS | CLI_OPT_BLK_CAPACITY |         \
	 CLI_OPT_BLK_AIO)

#define CLI_ETH_ALEN 6

struct cli_opts {
	uint64_t present; /* CLI_OPT_* found */
	const char *mdev_bus_name; /* NULL: a bus-less management device */
	const char *mdev_name;
	const char *vdev_name;
	uint8_t mac[CLI_ETH_ALEN];
	uint16_t mtu;
	uint16_t max_vqp;
	uint32_t queue_idx;
	uint64_t device_features;
	uint32_t sock_owner;
	uint32_t sock_group;
	uint32_t sock_mode;
	const char *driver;
	const char *ifname;
	const char *path; /* path_buf, or an NBD URI as given */
	char path_buf[4096];
	const char *blk_serial;
	uint64_t blk_capacity; /* bytes */
	uint32_t blk_lbs;
	uint16_t blk_num_queues;
	uint16_t blk_queue_size;
	uint8_t blk_readonly;
	uint8_t blk_direct;
	uint8_t blk_writeback;
	uint8_t blk_aio; /* enum uvdpa_blk_aio */
};

/* iproute2's matches(): @arg is a non-empty prefix of @keyword. */
bool cli_matches(const char *arg, const char *keyword);

/*
 * Parses @argv (whose strings it may split in place) into @opts. Prints
 * the reason and returns nonzero when an argument is wrong, unknown or
 * a required one is missing. Some failures print nothing, as in
 * iproute2 (a number that does not parse).
 */
int cli_opts_parse(struct cli_opts *opts, int argc, char **argv,
		   uint64_t required, uint64_t optional);
/*
 * Appends the attributes of the options present to @nlh, a buffer of
 * @size bytes; -EMSGSIZE when they do not fit (names are argv strings).
 */
int cli_opts_put(struct nlmsghdr *nlh, size_t size,
		 const struct cli_opts *opts);

/* uvdpa's own words (opts_ext.c). */
int cli_opt_driver(struct cli_opts *o, char *arg);
int cli_opt_ifname(struct cli_opts *o, char *arg);
int cli_opt_path(struct cli_opts *o, char *arg);
int cli_opt_readonly(struct cli_opts *o, char *arg);
int cli_opt_num_queues(struct cli_opts *o, char *arg);
int cli_opt_queue_size(struct cli_opts *o, char *arg);
int cli_opt_direct(struct cli_opts *o, char *arg);
int cli_opt_writeback(struct cli_opts *o, char *arg);
int cli_opt_aio(struct cli_opts *o, char *arg);
int cli_opt_serial(struct cli_opts *o, char *arg);
int cli_opt_lbs(struct cli_opts *o, char *arg);
int cli_opt_capacity(struct cli_opts *o, char *arg);
bool cli_opts_put_ext(struct nlmsghdr *nlh, size_t size,
		      const struct cli_opts *o);
/*
 * A whole word as a number in @base up to @max; -1, quietly, when it is
 * not one. cli_parse_ull is iproute2's get_u16/u32/u64 (a blank or a sign
 * first passes); cli_parse_uint, for uvdpa's own words, takes digits only.
 */
int cli_parse_ull(const char *arg, int base, unsigned long long max,
		  unsigned long long *val);
int cli_parse_uint(const char *arg, int base, unsigned long long max,
		   unsigned long long *val);
/* Bytes with an optional K/M/G/T suffix (powers of 1024). */
int cli_parse_size(const char *arg, uint64_t *bytes);

/* The pieces, for tests. */
int cli_parse_handle(char *arg, const char **bus, const char **dev);
int cli_parse_lladdr(uint8_t *addr, int len, char *arg);

#endif
