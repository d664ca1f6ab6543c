// SPDX-License-Identifier: MIT
/*
 * bench-fuse-passthrough: what FUSE alone allows, the reference of
 * bench/virtio-blk.py. One regular file passed through to a backing file
 * (a tmpfs file in the benchmark) with libfuse3's low-level API, built
 * the way the virtio_vdpa blk filesystem (buses/virtio_vdpa/blk_fuse.c)
 * is: the same mount options, the same init (async_read, async_dio,
 * max_background 256, no atomic_o_trunc), keep_cache, one thread reading
 * /dev/fuse without blocking under epoll, up to 32 requests per wakeup.
 * The requests are served inline with pread/pwrite, which on tmpfs cost
 * what the simulator's memcpy costs.
 *
 * usage: bench-fuse-passthrough MOUNTPOINT BACKING [--loop epoll|blocking]
 * "blocking" serves with libfuse's own single-threaded loop instead.
 * Prints the file's path once mounted; SIGINT or SIGTERM unmounts.
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define PT_INO 2
#define PT_NAME "file"
#define PT_BATCH 32
#define PT_MAX_BACKGROUND 256

static int pt_fd = -1; /* the backing file */
static char *pt_buf; /* read buffer: one thread, one request at a time */

static void pt_stat(fuse_ino_t ino, struct stat *st)
{
	struct stat b;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	fstat(pt_fd, &b);
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = b.st_size;
	st->st_blksize = 4096;
	st->st_blocks = b.st_size / 512;
}

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->want |=
		conn->capable & (FUSE_CAP_ASYNC_READ | FUSE_CAP_ASYNC_DIO);
	conn->want &= ~(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE |
			FUSE_CAP_SPLICE_READ);
	conn->max_background = PT_MAX_BACKGROUND;
	conn->congestion_threshold = PT_MAX_BACKGROUND * 3 / 4;
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = PT_INO,
				      .attr_timeout = 1.0,
				      .entry_timeout = 1.0 };

	if (parent != FUSE_ROOT_ID || strcmp(name, PT_NAME)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pt_stat(PT_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;

	pt_stat(ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	char buf[512];
	struct stat st = { .st_ino = PT_INO, .st_mode = S_IFREG };
	size_t room = size < sizeof(buf) ? size : sizeof(buf), n = 0;

	if (off < 1)
		n = fuse_add_direntry(req, buf, room, PT_NAME, &st, 1);
	fuse_reply_buf(req, buf, n <= room ? n : 0);
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	ssize_t n = pread(pt_fd, pt_buf, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, pt_buf, (size_t)n);
}

static void pt_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = pwrite(pt_fd, buf, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, fsync(pt_fd) ? errno : 0);
}

static const struct fuse_lowlevel_ops pt_ops = {
	.init = pt_init,
	.lookup = pt_lookup,
	.getattr = pt_getattr,
	.readdir = pt_readdir,
	.open = pt_open,
	.read = pt_read,
	.write = pt_write,
	.fsync = pt_fsync,
};

static int pt_loop_epoll(struct fuse_session *se, int sigfd)
{
	struct fuse_buf fbuf = { .mem = NULL };
	int fd = fuse_session_fd(se), ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN }, evs[2];

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	e.data.fd = fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	e.data.fd = sigfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sigfd, &e);
	while (!fuse_session_exited(se)) {
		int n = epoll_wait(ep, evs, 2, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sigfd)
				fuse_session_exit(se);
			for (int k = 0; evs[i].data.fd == fd && k < PT_BATCH;
			     k++) {
				int ret = fuse_session_receive_buf(se, &fbuf);

				if (ret == -EAGAIN || ret == -EINTR)
					break;
				if (ret <= 0) {
					fuse_session_exit(se);
					break;
				}
				fuse_session_process_buf(se, &fbuf);
			}
		}
	}
	free(fbuf.mem);
	close(ep);
	return 0;
}

static int pt_serve(struct fuse_session *se, bool blocking)
{
	sigset_t set;
	int sigfd, ret;

	if (blocking) {
		if (fuse_set_signal_handlers(se))
			return 1;
		ret = fuse_session_loop(se);
		fuse_remove_signal_handlers(se);
		return ret;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sigfd < 0)
		return 1;
	ret = pt_loop_epoll(se, sigfd);
	close(sigfd);
	return ret;
}

int main(int argc, char **argv)
{
	char prog[] = "bench-fuse-passthrough", o[] = "-o",
	     opts[] = "allow_other,default_permissions,fsname=passthrough";
	char *fargv[] = { prog, o, opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se;
	bool blocking = false;
	int ret;

	if (argc == 5 && !strcmp(argv[3], "--loop"))
		blocking = !strcmp(argv[4], "blocking");
	else if (argc != 3) {
		fprintf(stderr,
			"usage: %s MOUNTPOINT BACKING [--loop "
			"epoll|blocking]\n",
			argv[0]);
		return 2;
	}
	pt_fd = open(argv[2], O_RDWR | O_CLOEXEC);
	pt_buf = malloc(1u << 21);
	if (pt_fd < 0 || !pt_buf) {
		perror(argv[2]);
		return 1;
	}
	se = fuse_session_new(&args, &pt_ops, sizeof(pt_ops), NULL);
	if (!se || fuse_session_mount(se, argv[1]))
		return 1;
	printf("%s/%s\n", argv[1], PT_NAME);
	fflush(stdout);
	ret = pt_serve(se, blocking);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	free(pt_buf);
	close(pt_fd);
	return ret;
}
