// SPDX-License-Identifier: MIT
/*
 * bench-tap-forward: the reference for bench/virtio-net.py. Two TAP
 * interfaces, frames read from the first written into the second, in the
 * same style as virtio-net → TAP's data path (buses/virtio_vdpa/net_dp.c):
 * one thread, a vnet header on both TAPs, one multishot io_uring read
 * into a provided buffer ring, one write per frame, a round's writes in
 * one io_uring_enter. What the kernel allows a TAP-to-TAP forwarder: the
 * ceiling of a virtio-net device looped back through one TAP, which does
 * the same reads and writes plus the device's work.
 *
 *   bench-tap-forward IN OUT [--cpu N]
 *
 * Prints "ready" once both interfaces exist, forwards until SIGINT or
 * SIGTERM, then prints "forwarded N dropped M".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <liburing.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49
#endif

#define NBUF 256 /* as many as the virtio queues have entries */
#define BUF_LEN 1600 /* a 1500-MTU frame, VLAN tag and header */
#define HDR_LEN 12 /* virtio_net_hdr_v1, as with VERSION_1 */
#define BGID 1

enum { UD_READ = 1, UD_WRITE, UD_SIGNAL };

struct fwd {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	int in, out, sigfd;
	struct signalfd_siginfo si;
	unsigned int br_pending;
	bool read_armed, stop;
	unsigned long long forwarded, dropped;
};

static int tap_open(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
					  IFF_TUN_EXCL };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int sz = HDR_LEN;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETVNETHDRSZ, &sz)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void buf_put(struct fwd *f, unsigned int bid)
{
	io_uring_buf_ring_add(f->br, f->bufs + (size_t)bid * BUF_LEN, BUF_LEN,
			      (unsigned short)bid, io_uring_buf_ring_mask(NBUF),
			      (int)f->br_pending++);
}

static void buf_publish(struct fwd *f)
{
	if (f->br_pending)
		io_uring_buf_ring_advance(f->br, (int)f->br_pending);
	f->br_pending = 0;
}

static struct io_uring_sqe *sqe_get(struct fwd *f, uint64_t ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);

	if (!sqe) {
		io_uring_submit(&f->ring);
		sqe = io_uring_get_sqe(&f->ring);
	}
	if (sqe)
		io_uring_sqe_set_data64(sqe, ud);
	return sqe;
}

static void on_read(struct fwd *f, const struct io_uring_cqe *cqe)
{
	unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	struct io_uring_sqe *sqe;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		f->read_armed = false;
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return; /* ENOBUFS: every buffer is being written */
	sqe = cqe->res > HDR_LEN ? sqe_get(f, (uint64_t)UD_WRITE << 32 | bid)
				 : NULL;
	if (!sqe) {
		f->dropped++;
		buf_put(f, bid);
		return;
	}
	io_uring_prep_write(sqe, f->out, f->bufs + (size_t)bid * BUF_LEN,
			    (unsigned int)cqe->res, 0);
}

static void on_cqe(struct fwd *f, const struct io_uring_cqe *cqe)
{
	switch (cqe->user_data >> 32) {
	case UD_READ:
		on_read(f, cqe);
		break;
	case UD_WRITE:
		if (cqe->res < 0)
			f->dropped++;
		else
			f->forwarded++;
		buf_put(f, (unsigned int)cqe->user_data);
		break;
	case UD_SIGNAL:
		f->stop = true;
		break;
	}
}

static void arm_read(struct fwd *f)
{
	struct io_uring_sqe *sqe;

	if (f->read_armed || !(sqe = sqe_get(f, (uint64_t)UD_READ << 32)))
		return;
	io_uring_prep_rw(IORING_OP_READ_MULTISHOT, sqe, f->in, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	f->read_armed = true;
}

static void loop(struct fwd *f)
{
	struct io_uring_sqe *sqe = sqe_get(f, (uint64_t)UD_SIGNAL << 32);

	io_uring_prep_read(sqe, f->sigfd, &f->si, sizeof(f->si), 0);
	while (!f->stop) {
		struct io_uring_cqe *cqe;
		unsigned int head, k = 0;

		io_uring_for_each_cqe(&f->ring, head, cqe)
		{
			on_cqe(f, cqe);
			k++;
		}
		io_uring_cq_advance(&f->ring, k);
		buf_publish(f);
		arm_read(f);
		if (k)
			io_uring_submit_and_get_events(&f->ring);
		else
			io_uring_submit_and_wait(&f->ring, 1);
	}
}

static int setup(struct fwd *f)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
		.cq_entries = 2048,
	};
	struct io_uring_buf_reg reg = { .ring_entries = NBUF, .bgid = BGID };
	int ret = io_uring_queue_init_params(512, &f->ring, &p);

	if (ret)
		return ret;
	f->br = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->bufs = mmap(NULL, (size_t)NBUF * BUF_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->br == MAP_FAILED || f->bufs == MAP_FAILED)
		return -ENOMEM;
	io_uring_buf_ring_init(f->br);
	reg.ring_addr = (uintptr_t)f->br;
	if ((ret = io_uring_register_buf_ring(&f->ring, &reg, 0)))
		return ret;
	for (unsigned int i = 0; i < NBUF; i++)
		buf_put(f, i);
	buf_publish(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct fwd f = { 0 };
	sigset_t sigs;
	int ret;

	if (argc < 3) {
		fprintf(stderr, "usage: %s IN OUT [--cpu N]\n", argv[0]);
		return 2;
	}
	if (argc == 5 && !strcmp(argv[3], "--cpu") && pin_self(atoi(argv[4])))
		perror("pinning");
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	f.sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	f.in = tap_open(argv[1]);
	f.out = tap_open(argv[2]);
	if (f.sigfd < 0 || f.in < 0 || f.out < 0) {
		perror("creating the TAP interfaces");
		return 1;
	}
	if ((ret = setup(&f))) {
		fprintf(stderr, "io_uring: %s\n", strerror(-ret));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	loop(&f);
	printf("forwarded %llu dropped %llu\n", f.forwarded, f.dropped);
	return 0;
}
