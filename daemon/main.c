// SPDX-License-Identifier: MIT
/*
 * uvdpad: the daemon that owns the vdpa bus. One control thread runs the
 * epoll loop over the management socket (and, later, every bus driver's
 * sockets); data paths run on the worker pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/sim.h>

#include "blk.h"
#include "log.h"
#include "uvdpad.h"

/* The longest socket name uvdpad puts in its runtime dir. */
#define LONGEST_SOCK_NAME "/vhost-vdpa-4294967295"

int daemon_watch(struct daemon *d, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->fd, &ev) ? -errno : 0;
}

int daemon_rewatch(struct daemon *d, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(d->epfd, EPOLL_CTL_MOD, w->fd, &ev) ? -errno : 0;
}

void daemon_unwatch(struct daemon *d, struct watch *w)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: uvdpad [OPTIONS]\n"
		"The uvdpa daemon: the vdpa bus, its parents and bus drivers, "
		"and the\nmanagement socket the uvdpa tool talks to. Runs in "
		"the foreground.\n\n"
		"  --runtime-dir DIR     sockets (default $UVDPA_RUNTIME_DIR, "
		"/run/uvdpa as\n"
		"                        root, else $XDG_RUNTIME_DIR/uvdpa)\n"
		"  --state-dir DIR       kept state (default $UVDPA_STATE_DIR, "
		"/var/lib/uvdpa\n"
		"                        as root, else "
		"$XDG_STATE_HOME/uvdpa)\n"
		"  --log-level LEVEL     error, warn, info (default) or debug\n"
		"  --default-driver DRV  bus driver for new devices: "
		"vhost_vdpa "
		"(default),\n"
		"                        virtio_vdpa or none\n"
		"  --help                this text\n"
		"  --version             the version\n");
}

static int parse_opts(struct daemon_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "default-driver", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, level;

	o->default_driver = "vhost_vdpa";
	if (uvdpa_default_runtime_dir(o->runtime_dir, sizeof(o->runtime_dir)) ||
	    uvdpa_default_state_dir(o->state_dir, sizeof(o->state_dir)))
		return -ENAMETOOLONG;
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			snprintf(o->runtime_dir, sizeof(o->runtime_dir), "%s",
				 optarg);
			break;
		case 's':
			snprintf(o->state_dir, sizeof(o->state_dir), "%s",
				 optarg);
			break;
		case 'l':
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr,
					"uvdpad: unknown log level "
					"\"%s\" (error, warn, info, "
					"debug)\n",
					optarg);
				return -EINVAL;
			}
			log_level = (enum log_level)level;
			break;
		case 'd':
			if (strcmp(optarg, "vhost_vdpa") &&
			    strcmp(optarg, "virtio_vdpa") &&
			    strcmp(optarg, "none")) {
				fprintf(stderr,
					"uvdpad: unknown driver \"%s\" "
					"(vhost_vdpa, virtio_vdpa, "
					"none)\n",
					optarg);
				return -EINVAL;
			}
			o->default_driver = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("uvdpad %s\n", UVDPA_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "uvdpad: unexpected argument \"%s\"\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* mkdir -p */
static int make_dir(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* each device holds sockets, eventfds and memory region fds */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_warn("cannot raise the open file limit: %s",
				 strerror(errno));
	}
}

/* One uvdpad per runtime dir: a lock held for the daemon's life. */
static int lock_runtime_dir(struct daemon *d)
{
	char path[PATH_MAX + 16], pid[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/uvdpad.lock", d->opts.runtime_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err("cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_err("another uvdpad%s%s already serves %s",
			*pid ? " pid " : "", pid, d->opts.runtime_dir);
		close(fd);
		return -EBUSY;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("cannot write the pid to %s", path);
	d->lock_fd = fd;
	return 0;
}

static int setup_runtime_dir(struct daemon *d)
{
	const char *dir = d->opts.runtime_dir;
	int ret;

	if (strlen(dir) + strlen(LONGEST_SOCK_NAME) >=
	    sizeof(((struct sockaddr_un *)0)->sun_path)) {
		log_err("runtime dir %s is too long: the socket paths under it "
			"(up to %s%s) would not fit the %zu bytes of a UNIX "
			"socket address",
			dir, dir, LONGEST_SOCK_NAME,
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	ret = make_dir(dir, 0755);
	if (ret) {
		log_err("cannot create runtime dir %s: %s", dir,
			strerror(-ret));
		return ret;
	}
	ret = lock_runtime_dir(d);
	if (ret)
		return ret;
	snprintf(d->sock_path, sizeof(d->sock_path), "%s/%s", dir,
		 UVDPA_SOCK_NAME);
	return 0;
}

static void signals_cb(struct watch *w, uint32_t events)
{
	struct daemon *d = container_of(w, struct daemon, signals);
	struct signalfd_siginfo si;

	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		log_info("signal %d: stopping", (int)si.ssi_signo);
		d->stop = true;
	}
}

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	d->signals.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->signals.fd < 0)
		return -errno;
	d->signals.cb = signals_cb;
	return daemon_watch(d, &d->signals, EPOLLIN);
}

/* sd_notify(3)'s protocol: one datagram to $NOTIFY_SOCKET. */
static void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(addr.sun_path))
		return;
	memcpy(addr.sun_path, path, strlen(path));
	if (path[0] == '@')
		addr.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&addr, len) < 0)
		log_warn("sd_notify %s: %s", state, strerror(errno));
	close(fd);
}

static int register_parents(struct daemon *d)
{
	char dir[PATH_MAX + 16];
	int ret;

	d->sim_net = vdpasim_net_mgmtdev_new(d->pool);
	d->sim_blk = vdpasim_blk_mgmtdev_new(d->pool);
	if (!d->sim_net || !d->sim_blk)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s/vdpasim_blk", d->opts.runtime_dir);
	ret = vdpasim_blk_set_dir(d->sim_blk, dir);
	if (ret)
		log_warn("cannot keep vdpasim_blk ramdisks in %s (%s): they "
			 "will not outlive uvdpad",
			 dir, strerror(-ret));
	d->blk = blk_mgmt_new(d->pool, BLK_POLL_US_DEFAULT, &ret);
	if (!d->blk)
		return ret;
	if (vdpa_mgmtdev_register(d->bus, d->sim_net) ||
	    vdpa_mgmtdev_register(d->bus, d->sim_blk) ||
	    vdpa_mgmtdev_register(d->bus, d->blk))
		return -EINVAL;
	return 0;
}

static int setup_bus(struct daemon *d)
{
	int ret;

	d->bus = vdpa_bus_new();
	d->pool = vdpa_worker_pool_new(0, "uvdpa-w");
	if (!d->bus || !d->pool)
		return -ENOMEM;
	/* new devices bind to the default driver; "none" leaves them be */
	d->bus->autoprobe = strcmp(d->opts.default_driver, "none") != 0;
	ret = daemon_register_drivers(d);
	if (!ret)
		ret = register_parents(d);
	if (ret)
		return ret;
	d->mgmt = mgmt_server_new(d->bus, geteuid());
	if (!d->mgmt)
		return -ENOMEM;
	mgmt_server_set_hooks(d->mgmt, &daemon_mgmt_hooks, d);
	return 0;
}

static int daemon_start(struct daemon *d)
{
	struct group *g = getgrnam("uvdpa");
	int ret;

	/* once: an NSS lookup per device costs more than the device */
	d->opts.sock_group = g ? g->gr_gid : (gid_t)-1;
	raise_nofile();
	ret = setup_runtime_dir(d);
	if (ret)
		return ret;
	if (make_dir(d->opts.state_dir, 0700))
		log_warn("cannot create state dir %s: %s", d->opts.state_dir,
			 strerror(errno));
	state_load(d);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	if ((ret = setup_signals(d)) || (ret = setup_bus(d))) {
		log_err("cannot start: %s", strerror(-ret));
		return ret;
	}
	state_devices_restore(d);
	ret = mgmt_sock_open(d);
	if (ret) {
		log_err("cannot listen on %s: %s", d->sock_path,
			strerror(-ret));
		return ret;
	}
	log_info("serving %s (pid %d, %u data path workers)", d->sock_path,
		 (int)getpid(), vdpa_worker_pool_size(d->pool));
	return 0;
}

static void daemon_run(struct daemon *d)
{
	struct epoll_event ev[32];

	notify_systemd("READY=1");
	while (!d->stop) {
		int n = epoll_wait(d->epfd, ev, 32, -1);

		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = ev[i].data.ptr;

			w->cb(w, ev[i].events);
		}
	}
	notify_systemd("STOPPING=1");
}

/* Stop data paths, disconnect peers, remove sockets. */
static void daemon_stop(struct daemon *d)
{
	mgmt_sock_close(d);
	if (d->bus) {
		if (d->sim_net)
			vdpa_mgmtdev_unregister(d->sim_net);
		if (d->sim_blk) {
			/* the next start restores the devices, data included */
			vdpasim_blk_keep_files(d->sim_blk);
			vdpa_mgmtdev_unregister(d->sim_blk);
		}
		if (d->blk)
			vdpa_mgmtdev_unregister(d->blk);
		vdpa_bus_free(d->bus);
	}
	bus_virtio_fini(d);
	state_free(d);
	vdpasim_mgmtdev_free(d->sim_net);
	vdpasim_mgmtdev_free(d->sim_blk);
	blk_mgmt_free(d->blk);
	vdpa_worker_pool_free(d->pool);
	mgmt_server_free(d->mgmt);
	if (d->signals.fd >= 0)
		close(d->signals.fd);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
}

int main(int argc, char **argv)
{
	static struct daemon d = {
		.epfd = -1,
		.lock_fd = -1,
		.signals.fd = -1,
		.listener.fd = -1,
	};
	int ret;

	list_init(&d.conns);
	list_init(&d.devs);
	list_init(&d.overrides);
	if (parse_opts(&d.opts, argc, argv))
		return 2;
	ret = daemon_start(&d);
	if (!ret)
		daemon_run(&d);
	daemon_stop(&d);
	if (!ret)
		log_info("stopped");
	return ret ? 1 : 0;
}
