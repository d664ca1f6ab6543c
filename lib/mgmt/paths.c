// SPDX-License-Identifier: MIT
/* Where uvdpad keeps its sockets and state (DESIGN.md "Runtime files"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvdpa/mgmt.h>

static int put_path(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int uvdpa_default_runtime_dir(char *buf, size_t len)
{
	const char *env = getenv("UVDPA_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return put_path(buf, len, env, "");
	if (geteuid() == 0 || !xdg || !*xdg)
		return put_path(buf, len, "/run/uvdpa", "");
	return put_path(buf, len, xdg, "/uvdpa");
}

int uvdpa_default_state_dir(char *buf, size_t len)
{
	const char *env = getenv("UVDPA_STATE_DIR");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		return put_path(buf, len, env, "");
	if (geteuid() == 0)
		return put_path(buf, len, "/var/lib/uvdpa", "");
	if (xdg && *xdg)
		return put_path(buf, len, xdg, "/uvdpa");
	if (home && *home)
		return put_path(buf, len, home, "/.local/state/uvdpa");
	return put_path(buf, len, "/var/lib/uvdpa", "");
}

int uvdpa_runtime_dir_candidates(char dirs[][4096], int max)
{
	const char *env = getenv("UVDPA_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n = 0;

	if (n < max && env && *env && !put_path(dirs[n], 4096, env, ""))
		n++;
	if (n < max && xdg && *xdg && !put_path(dirs[n], 4096, xdg, "/uvdpa"))
		n++;
	if (n < max && !put_path(dirs[n], 4096, "/run/uvdpa", ""))
		n++;
	return n;
}
