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

/* The pieces, for tests. */
int cli_parse_handle(char *arg, const char **bus, const char **dev);
int cli_parse_lladdr(uint8_t *addr, int len, char *arg);

#endif
