// SPDX-License-Identifier: MIT
/* uvdpa: manage uvdpad's vdpa devices, as iproute2's vdpa manages Linux's. */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_run(argc, argv, &cli_unix_transport);
}
