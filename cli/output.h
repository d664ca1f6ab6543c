/* SPDX-License-Identifier: MIT */
/*
 * Printers of the replies, each an mnl_cb_t taking one reply message
 * (nlmsghdr + genlmsghdr + attributes) and a struct cli_out: the same
 * text and JSON as iproute2's vdpa, then uvdpa's extension fields.
 */
#ifndef UVDPA_CLI_OUTPUT_H
#define UVDPA_CLI_OUTPUT_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stdint.h>

/* Text-mode state: the indent of array lines ("  dev_features ..."). */
struct cli_out {
	unsigned int indent;
};

/* {"<name>":{ ... }} around a command's replies (JSON only). */
void cli_pr_section_start(const char *name);
void cli_pr_section_end(void);

int cli_pr_mgmtdev(const struct nlmsghdr *nlh, void *out);
int cli_pr_dev(const struct nlmsghdr *nlh, void *out);
int cli_pr_dev_config(const struct nlmsghdr *nlh, void *out);
int cli_pr_dev_vstats(const struct nlmsghdr *nlh, void *out);

/* iproute2's name of feature @bit, NULL when it prints "bit_N". */
const char *cli_feature_name(unsigned int bit, bool net);
/* A dev_features (@mgmtdevf) or negotiated_features line/array. */
void cli_pr_features(struct cli_out *out, uint64_t features, bool mgmtdevf,
		     uint16_t dev_id);

#endif
