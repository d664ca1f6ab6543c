// SPDX-License-Identifier: MIT
/*
 * bench-mgmt: the management plane of a real uvdpad. It starts the daemon
 * in a private runtime dir and measures:
 *  - dev add + dev del pairs per second, over the socket (one connection,
 *    libmnl) and through the uvdpa CLI (a process per command);
 *  - the time of a `dev show` dump of 1,000 devices, socket and CLI;
 *  - uvdpad's RSS idle, with 1,000 vdpasim_net devices and with 1,000
 *    vdpasim_blk devices (whose ramdisks are never written).
 * Usage: bench-mgmt [BUILD_DIR]. Figures are printed; nothing is asserted.
 */
#include <errno.h>
#include <ftw.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/mgmt.h>

#include "bench.h"

#define NDEV 1000

static char build[1024] = "build";
static char base[] = "/tmp/uvdpa-bench-XXXXXX";
static char sock_path[1200];
static pid_t daemon_pid;
static unsigned int seq;

static int nl_open(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = strlen(sock_path);
	int fd;

	if (len >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, sock_path, len);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one request, read to its ack or dump end; returns error or count. */
static int nl_do(int fd, uint16_t type, uint8_t cmd, uint16_t flags,
		 const char *name, const char *mgmt)
{
	static char buf[UVDPA_MGMT_MSG_MAX];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	int msgs = 0;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++seq;
	g->cmd = cmd;
	g->version = 1;
	if (type == GENL_ID_CTRL)
		mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME);
	if (name)
		mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, name);
	if (mgmt)
		mnl_attr_put_strz(nlh, VDPA_ATTR_MGMTDEV_DEV_NAME, mgmt);
	if (send(fd, buf, nlh->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			return -EIO;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, (int)n);
		     nlh = mnl_nlmsg_next(nlh, (int *)&n)) {
			if (nlh->nlmsg_type == NLMSG_ERROR ||
			    nlh->nlmsg_type == NLMSG_DONE) {
				int err = *(int *)mnl_nlmsg_get_payload(nlh);

				return err ? err : msgs;
			}
			msgs++;
		}
	}
}

static int start_daemon(void)
{
	char run[1100], state[1100], uvdpad[1100];

	snprintf(run, sizeof(run), "%s/run", base);
	snprintf(state, sizeof(state), "%s/state", base);
	snprintf(uvdpad, sizeof(uvdpad), "%s/daemon/uvdpad", build);
	snprintf(sock_path, sizeof(sock_path), "%s/uvdpad.sock", run);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		execl(uvdpad, "uvdpad", "--runtime-dir", run, "--state-dir",
		      state, "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400; i++) {
		int fd = nl_open();

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(10000);
	}
	return -1;
}

static long rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* Run the CLI with @args (NULL-terminated), output discarded. */
static int cli(const char *const args[])
{
	char uvdpa[1100], env[1200];
	pid_t pid;
	int status;

	snprintf(uvdpa, sizeof(uvdpa), "%s/cli/uvdpa", build);
	snprintf(env, sizeof(env), "UVDPA_RUNTIME_DIR=%s/run", base);
	fflush(stdout); /* or the child's freopen writes our buffer again */
	pid = fork();
	if (pid == 0) {
		char *const envp[] = { env, NULL };

		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execve(uvdpa, (char *const *)args, envp);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool have_cli(void)
{
	char uvdpa[1100];

	snprintf(uvdpa, sizeof(uvdpa), "%s/cli/uvdpa", build);
	return access(uvdpa, X_OK) == 0;
}

static void bench_socket_pairs(int fd, uint16_t fam)
{
	const int n = 2000;
	double t0 = now_s();
	int err = 0;

	for (int i = 0; i < n && !err; i++) {
		err = nl_do(fd, fam, VDPA_CMD_DEV_NEW, 0, "bench0",
			    "vdpasim_net");
		if (!err)
			err = nl_do(fd, fam, VDPA_CMD_DEV_DEL, 0, "bench0",
				    NULL);
	}
	printf("dev add + dev del over the socket: %.0f pairs/s%s\n",
	       n / (now_s() - t0), err ? " (ERRORS)" : "");
}

static void bench_cli_pairs(void)
{
	const char *const add[] = { "uvdpa",  "dev",	 "add",		"name",
				    "bench1", "mgmtdev", "vdpasim_net", NULL };
	const char *const del[] = { "uvdpa", "dev", "del", "bench1", NULL };
	const int n = 200;
	double t0 = now_s();
	int err = 0;

	for (int i = 0; i < n && !err; i++)
		err = cli(add) || cli(del);
	printf("dev add + dev del through the CLI: %.0f pairs/s%s\n",
	       n / (now_s() - t0), err ? " (ERRORS)" : "");
}

static int add_many(int fd, uint16_t fam, const char *prefix, const char *mgmt)
{
	char name[32];

	for (int i = 0; i < NDEV; i++) {
		snprintf(name, sizeof(name), "%s%04d", prefix, i);
		if (nl_do(fd, fam, VDPA_CMD_DEV_NEW, 0, name, mgmt))
			return -1;
	}
	return 0;
}

static void del_many(int fd, uint16_t fam, const char *prefix)
{
	char name[32];

	for (int i = 0; i < NDEV; i++) {
		snprintf(name, sizeof(name), "%s%04d", prefix, i);
		nl_do(fd, fam, VDPA_CMD_DEV_DEL, 0, name, NULL);
	}
}

static void bench_dump(int fd, uint16_t fam)
{
	const char *const show[] = { "uvdpa", "dev", "show", NULL };
	const char *const showj[] = { "uvdpa", "-j", "dev", "show", NULL };
	double t0 = now_s();
	int n = nl_do(fd, fam, VDPA_CMD_DEV_GET, NLM_F_DUMP, NULL, NULL);

	printf("dev show dump of %d devices over the socket: %.2f ms\n", n,
	       (now_s() - t0) * 1e3);
	if (!have_cli())
		return;
	t0 = now_s();
	cli(show);
	printf("uvdpa dev show with %d devices: %.2f ms\n", NDEV,
	       (now_s() - t0) * 1e3);
	t0 = now_s();
	cli(showj);
	printf("uvdpa -j dev show with %d devices: %.2f ms\n", NDEV,
	       (now_s() - t0) * 1e3);
}

static void bench_rss(int fd, uint16_t fam)
{
	long idle = rss_kib(), net, blk;

	printf("uvdpad RSS idle: %.1f MiB\n", idle / 1024.0);
	if (add_many(fd, fam, "n", "vdpasim_net")) {
		printf("adding %d net devices failed\n", NDEV);
		return;
	}
	net = rss_kib();
	printf("uvdpad RSS with %d idle vdpasim_net devices: %.1f MiB "
	       "(%.1f KiB per device)\n",
	       NDEV, net / 1024.0, (double)(net - idle) / NDEV);
	bench_dump(fd, fam);
	del_many(fd, fam, "n");
	idle = rss_kib();
	if (add_many(fd, fam, "b", "vdpasim_blk")) {
		printf("adding %d blk devices failed\n", NDEV);
		return;
	}
	blk = rss_kib();
	printf("uvdpad RSS with %d unwritten vdpasim_blk devices: %.1f MiB "
	       "(%.1f KiB per device)\n",
	       NDEV, blk / 1024.0, (double)(blk - idle) / NDEV);
	del_many(fd, fam, "b");
}

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path) ? -1 : 0;
}

/* The private runtime and state dirs, once uvdpad has gone. */
static void remove_base(void)
{
	if (nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS))
		perror(base);
}

int main(int argc, char **argv)
{
	int fd, fam, status;

	if (argc > 1)
		snprintf(build, sizeof(build), "%s", argv[1]);
	if (!mkdtemp(base) || start_daemon()) {
		fprintf(stderr, "bench-mgmt: cannot start %s/daemon/uvdpad\n",
			build);
		return 1;
	}
	fd = nl_open();
	fam = nl_do(fd, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0, NULL, NULL);
	/* the family id is in the reply; uvdpad's is fixed */
	fam = fam == 1 ? UVDPA_GENL_FAMILY_ID : -1;
	if (fd < 0 || fam < 0) {
		fprintf(stderr, "bench-mgmt: cannot resolve the vdpa family\n");
		return 1;
	}
	printf("bench-mgmt: uvdpad pid %d in %s\n", (int)daemon_pid, base);
	bench_socket_pairs(fd, (uint16_t)fam);
	if (have_cli())
		bench_cli_pairs();
	else
		printf("dev add + dev del through the CLI: skipped, no %s/cli/"
		       "uvdpa\n",
		       build);
	bench_rss(fd, (uint16_t)fam);
	close(fd);
	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &status, 0);
	printf("uvdpad stopped, exit %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	remove_base();
	return 0;
}
