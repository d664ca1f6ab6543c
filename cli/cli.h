/* SPDX-License-Identifier: MIT */
/*
 * The uvdpa command line: iproute2 vdpa's grammar over a transport.
 * Object -> verb -> options; each command builds one request, sends it
 * and prints the replies through output.h.
 */
#ifndef UVDPA_CLI_CLI_H
#define UVDPA_CLI_CLI_H

#include "transport.h"

/*
 * Runs one command line (argv[0] is the program) against @ops and
 * returns the exit status: 0, or 1 on any failure.
 */
int cli_run(int argc, char **argv, const struct cli_transport_ops *ops);

#endif
