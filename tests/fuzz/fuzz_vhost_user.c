// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: a vhost-user front end's message stream, fds
 * included, into uvdpa's back end (buses/vhost_vdpa) over a vdpasim_blk
 * or vdpasim_net device, the way uvdpad's control thread serves it.
 *
 * An input is a device choice, then records. A record is a message
 * (request, control byte, payload size, optional raw flags, payload) sent
 * over a real connection to the back end's socket, with real fds attached
 * by SCM_RIGHTS: a memfd of guest memory for SET_MEM_TABLE, ADD_MEM_REG
 * and SET_INFLIGHT_FD, eventfds for the vring fds, a socket for BACKEND_REQ; or,
 * on request, an fd of the wrong kind. Harness records stand for the
 * guest and the VMM: writing guest memory (rings, requests), kicking a
 * ring, after which the device's worker is given a round to serve it, and
 * shrinking the memfd under the back end's mapping. When the back
 * end drops the front end (as uvdpad does after a refused message without
 * REPLY_ACK), the front end reconnects, up to three times, and goes on.
 *
 * Per input the back end is created, connected, fed and freed: LSan sees
 * every leak, and the process's fd count must be what it was before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uvdpa/sim.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/vhost_user.h>
#include <uvdpa/vu_backend.h>
#include <uvdpa/worker.h>

#include "fuzz_input.h"
#include "fuzz_sim.h"
#include "lib/vhost_user/msg.h"

#define GUEST_SIZE (256u << 10)
#define MAX_RECORDS 96
#define MAX_SEND_FDS 15 /* more than a message may carry, on purpose */
#define MAX_KEPT 64
#define MAX_RECONNECTS 3

/* Harness records, above any request this back end knows. */
#define OP_MEM 0xff /* the guest writes its memory */
#define OP_KICK 0xfe /* the guest kicks a ring through an eventfd */
#define OP_TRUNCATE 0xfd /* the front end shrinks (or regrows) its memfd */

/* Control byte of a message record. */
#define C_NFDS 0x0f
#define C_NEED_REPLY 0x10
#define C_RAW_FLAGS 0x20
#define C_SPLIT 0x40 /* header first, the back end runs, then payload */
#define C_WRONG_FD 0x80 /* fds of the wrong kind */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum kept_kind { K_OTHER, K_EVENTFD, K_CHANNEL };

struct session {
	struct vu_backend *be;
	int sock; /* the front end's end of the connection */
	int memfd; /* guest memory */
	uint8_t *guest;
	uint32_t guest_len; /* the memfd's size now: we touch no more */
	int kept[MAX_KEPT]; /* our ends of what we sent */
	unsigned int nkept;
	int efds[MAX_KEPT]; /* eventfds among them, to kick with */
	unsigned int nefds;
	int chans[MAX_KEPT]; /* BACKEND_REQ channels among them, to drain */
	unsigned int nchans;
};

static struct fz_sim fz;
static char dir[64], sock_path[96];

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static void cleanup_dir(void)
{
	unlink(sock_path);
	rmdir(dir);
}

/* Once: a bus, one worker, a device of each simulator, a socket dir. */
static void setup(void)
{
	fz_sim_setup(&fz, "fz-vu");
	snprintf(dir, sizeof(dir), "/tmp/uvdpa-fuzz-vu-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(sock_path, sizeof(sock_path), "%s/vu.sock", dir);
	atexit(cleanup_dir);
}

/* The back end's messages are formatted even when nobody reads them. */
static void be_log(void *ctx, enum vu_log_level level, const char *msg)
{
	if (getenv("FUZZ_VU_LOG"))
		fprintf(stderr, "be: %s\n", msg);
}

static void keep(struct session *s, int fd, enum kept_kind kind)
{
	if (fd < 0 || s->nkept == MAX_KEPT)
		abort();
	s->kept[s->nkept++] = fd;
	if (kind == K_EVENTFD)
		s->efds[s->nefds++] = fd;
	else if (kind == K_CHANNEL)
		s->chans[s->nchans++] = fd;
}

/* An fd to send with @req; the caller closes it once sent. */
static int make_fd(struct session *s, uint32_t req, bool wrong)
{
	bool mem = req == VU_SET_MEM_TABLE || req == VU_ADD_MEM_REG ||
		   req == VU_SET_INFLIGHT_FD;
	int sp[2], fd;

	if (mem && !wrong)
		return dup(s->memfd);
	if (s->nkept == MAX_KEPT)
		return eventfd(0, EFD_CLOEXEC); /* sent, not kept */
	if (req == VU_SET_BACKEND_REQ_FD && !wrong) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
			abort();
		keep(s, sp[0], K_CHANNEL);
		return sp[1];
	}
	if (wrong && !mem) {
		/* a pipe where an eventfd belongs: to be refused */
		if (pipe2(sp, O_CLOEXEC))
			abort();
		keep(s, sp[1], K_OTHER);
		return sp[0];
	}
	/* an eventfd; for memory, the wrong kind: mmap must fail */
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	keep(s, dup(fd), K_EVENTFD);
	return fd;
}

/* Read and drop what the back end sent (and any fd riding on it). */
static void drain(int fd)
{
	char buf[4096], cbuf[CMSG_SPACE(8 * sizeof(int))];

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;

		if (recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
			return;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			int *fds = (int *)CMSG_DATA(c);
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++)
				close(fds[i]);
		}
	}
}

/* What uvdpad's loop does when the back end's fds are ready. */
static int serve(struct session *s)
{
	struct pollfd p = { vu_backend_event_fd(s->be), POLLIN, 0 };
	int ret = vu_backend_handle(s->be);

	drain(s->sock);
	for (unsigned int i = 0; i < s->nchans; i++)
		drain(s->chans[i]);
	if (poll(&p, 1, 0) == 1)
		vu_backend_device_event(s->be);
	return ret;
}

static void op_mem(struct session *s, struct fz_in *in)
{
	uint32_t off = fz_u32(in) % GUEST_SIZE;
	const uint8_t *p;
	size_t n = fz_take(in, &p, fz_u16(in));

	if (off >= s->guest_len)
		return;
	if (n > s->guest_len - off)
		n = s->guest_len - off;
	memcpy(s->guest + off, p, n);
}

/*
 * The memfd shrinks under the back end's mapping: a device reading the
 * lost pages faults, and the back end must survive it (SIGBUS guard).
 */
static void op_truncate(struct session *s, struct fz_in *in)
{
	uint32_t len = fz_u32(in) % (GUEST_SIZE + 1);

	if (ftruncate(s->memfd, len))
		abort();
	s->guest_len = len;
}

static void op_kick(struct session *s, struct fz_in *in)
{
	uint8_t k = fz_u8(in);
	uint64_t one = 1;

	if (!s->nefds)
		return;
	if (write(s->efds[k % s->nefds], &one, sizeof(one)) < 0)
		return; /* saturated: a kick is pending anyway */
	/* the worker looks at what the kick announced before this returns */
	fz_sim_barrier(&fz);
}

/* One sendmsg, whatever the fds (the framing's own, with no checks). */
static int send_part(int sock, const void *buf, size_t len, const int *fds,
		     unsigned int nfds)
{
	ssize_t n = vu_sendmsg(sock, buf, len, fds, nfds, MSG_DONTWAIT);

	return n < 0 ? (int)n : 0;
}

/* One message record: 0, or < 0 when the back end dropped the peer. */
static int op_msg(struct session *s, uint8_t req, struct fz_in *in)
{
	uint8_t ctl = fz_u8(in);
	struct vu_msg_hdr hdr = { .request = req, .size = fz_u16(in) };
	static uint8_t buf[VU_HDR_SIZE + UINT16_MAX];
	int fds[MAX_SEND_FDS];
	unsigned int nfds = ctl & C_NFDS;
	const uint8_t *p;
	size_t n;
	int ret = 0;

	hdr.flags = ctl & C_RAW_FLAGS ? fz_u32(in) : VU_VERSION;
	if (!(ctl & C_RAW_FLAGS) && (ctl & C_NEED_REPLY))
		hdr.flags |= VU_FLAG_NEED_REPLY;
	n = fz_take(in, &p, hdr.size);
	if (nfds > MAX_SEND_FDS)
		nfds = MAX_SEND_FDS;
	for (unsigned int i = 0; i < nfds; i++)
		fds[i] = make_fd(s, req, ctl & C_WRONG_FD);
	memcpy(buf, &hdr, VU_HDR_SIZE);
	memcpy(buf + VU_HDR_SIZE, p, n);
	/* a send the back end does not take ends the connection too */
	if (ctl & C_SPLIT) {
		/* fds ride with both parts: more than 8 in all, in two cmsgs */
		unsigned int first = n ? nfds / 2 : nfds;

		ret = send_part(s->sock, buf, VU_HDR_SIZE, fds, first);
		if (!ret)
			ret = serve(s);
		if (!ret && n)
			ret = send_part(s->sock, buf + VU_HDR_SIZE, n,
					fds + first, nfds - first);
	} else {
		ret = send_part(s->sock, buf, VU_HDR_SIZE + n, fds, nfds);
	}
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	return ret ? ret : serve(s);
}

/* A front end connects, as QEMU does at start and at each reconnect. */
static void session_connect(struct session *s)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	s->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->sock < 0)
		abort();
	memcpy(addr.sun_path, sock_path, strlen(sock_path));
	if (connect(s->sock, (struct sockaddr *)&addr, sizeof(addr)) ||
	    vu_backend_accept(s->be) || !vu_backend_connected(s->be))
		abort();
}

static void session_open(struct session *s, struct vdpa_device *vdev)
{
	struct vu_backend_cfg cfg = {
		.path = sock_path,
		.owner = (uid_t)-1,
		.group = (gid_t)-1,
		.log = be_log,
	};
	int err = 0;

	s->memfd = memfd_create("fz-guest", MFD_CLOEXEC);
	if (s->memfd < 0 || ftruncate(s->memfd, GUEST_SIZE))
		abort();
	s->guest_len = GUEST_SIZE;
	s->guest = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			s->memfd, 0);
	s->be = vu_backend_new(vdev, &cfg, &err);
	if (s->guest == MAP_FAILED || !s->be)
		abort();
	session_connect(s);
}

/*
 * The back end found the front end broken: uvdpad disconnects it, and
 * the front end (QEMU with reconnect=1) comes back and starts over.
 */
static void session_reconnect(struct session *s)
{
	vu_backend_disconnect(s->be);
	close(s->sock);
	session_connect(s);
}

static void session_close(struct session *s)
{
	/* the device forgets the map before the guest memory goes */
	vu_backend_free(s->be);
	close(s->sock);
	for (unsigned int i = 0; i < s->nkept; i++)
		close(s->kept[i]);
	munmap(s->guest, GUEST_SIZE);
	close(s->memfd);
}

/* One record; false when the session is over. */
static bool record(struct session *s, struct fz_in *in, int *reconnects)
{
	uint8_t req = fz_u8(in);

	if (req == OP_MEM)
		op_mem(s, in);
	else if (req == OP_KICK)
		op_kick(s, in);
	else if (req == OP_TRUNCATE)
		op_truncate(s, in);
	else if (op_msg(s, req, in) < 0) {
		if (++*reconnects > MAX_RECONNECTS)
			return false;
		session_reconnect(s);
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct session s = { 0 };
	int fds0, reconnects = 0;

	if (!fz.bus)
		setup();
	fds0 = count_fds();
	session_open(&s, fz_u8(&in) & 1 ? fz.net : fz.blk);
	for (int r = 0; r < MAX_RECORDS && in.left; r++)
		if (!record(&s, &in, &reconnects))
			break;
	session_close(&s);
	if (count_fds() != fds0) {
		fprintf(stderr, "fd leak: %d open, %d before\n", count_fds(),
			fds0);
		abort();
	}
	return 0;
}
