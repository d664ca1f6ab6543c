// SPDX-License-Identifier: MIT
/*
 * The data path of virtio-net → TAP: one thread per device, as vhost-net
 * runs one kthread per guest NIC. A TAP file descriptor moves one frame
 * per read or write; io_uring moves many per system call:
 *  - TX (host → device): one multishot read (Linux 6.7) takes frames from
 *    the TAP straight into the TX buffers, which it gets as a provided
 *    buffer ring; each completion is a frame, added to the TX queue where
 *    it lies. When every buffer is in the device's queue the read ends
 *    with ENOBUFS and the TAP is not read until TX buffers come back: the
 *    TAP's own queue fills and the host drops, as with a full NIC. Older
 *    kernels get bursts of single reads after a poll.
 *  - RX (device → host): each used RX buffer becomes a write; a round's
 *    writes go in one io_uring_enter, and each buffer returns to the RX
 *    queue when its write is done. A write the TAP refuses (interface
 *    down) drops the frame and counts it.
 *  - The queues' interrupts, the config interrupt and the stop request are
 *    eventfd reads on the same ring: one io_uring_enter submits, and
 *    sleeps when there is nothing to do.
 *  - Kicks are writes to the queues' doorbells (vdpa_set_vq_kickfd) on the
 *    same ring too, ahead of the round's TAP writes: no write(2) per kick,
 *    and a device thread on the same CPU is woken once for both queues,
 *    when the io_uring_enter returns, instead of preempting the round at
 *    the first kick. A parent without doorbells is kicked through kick_vq.
 *  - The TAP, doorbells and eventfds are registered files, the RX buffers
 *    a registered buffer (write_fixed), when the kernel and RLIMIT_MEMLOCK
 *    allow: no file lookup per request, no user copy checks per write.
 * Interrupts are handled as NAPI does: off while the thread works, on
 * (checking for what came meanwhile) before it sleeps; a TX interrupt is
 * only asked for when reading waits for TX buffers.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "net_internal.h"

#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49 /* Linux 6.7; liburing 2.5 */
#endif

#define NET_BGID 1 /* the TX buffers' group */
#define NET_SQ 512 /* a round queues at most one write per RX buffer */
#define NET_CQ 2048
#define NET_BURST 32 /* single reads per burst, without multishot */

enum net_ud { UD_READ = 1, UD_POLL, UD_WRITE, UD_EVENT, UD_CANCEL, UD_KICK };

static uint64_t ud(enum net_ud kind, uint32_t idx)
{
	return (uint64_t)kind << 32 | idx;
}

static struct vq_drv *net_vq(struct vv_net *n, uint16_t idx)
{
	return &n->vd.vqs[idx].drv;
}

/* An SQE, submitting what is queued when the ring is full. */
static struct io_uring_sqe *net_sqe(struct vv_net *n, uint64_t user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&n->ring);

	if (!sqe) {
		io_uring_submit(&n->ring);
		sqe = io_uring_get_sqe(&n->ring);
	}
	if (sqe) {
		io_uring_sqe_set_data64(sqe, user_data);
		n->dp.inflight++;
	}
	return sqe;
}

/* @sqe works on @f: its registered index, or its descriptor. */
static void net_sqe_file(struct vv_net *n, struct io_uring_sqe *sqe,
			 enum net_file f)
{
	if (n->fixed_files) {
		sqe->fd = (int)f;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
}

/* ---- TX: TAP → device ---- */

static void net_br_put(struct vv_net *n, uint32_t bid)
{
	io_uring_buf_ring_add(
		n->br, net_tx_buf(n, bid), n->tx_len, (unsigned short)bid,
		io_uring_buf_ring_mask(n->tx_num), (int)n->dp.br_pending++);
}

static void net_br_publish(struct vv_net *n)
{
	if (n->dp.br_pending) {
		io_uring_buf_ring_advance(n->br, (int)n->dp.br_pending);
		n->dp.br_pending = 0;
	}
}

/* A frame the TAP put in buffer @bid goes to the TX queue in place. */
static void net_tx_frame(struct vv_net *n, uint32_t bid, int len)
{
	struct vq_buf b = { n->tx_iova + (uint64_t)bid * n->tx_len,
			    (uint32_t)len };
	uint8_t *p = net_tx_buf(n, bid);

	if (len <= (int)n->hdr_len || (uint32_t)len > n->tx_max) {
		n->cnt.tx_dropped++; /* longer than the device's MTU */
		net_br_put(n, bid);
		return;
	}
	/*
	 * The TAP marks checksummed frames DATA_VALID, a flag a driver must
	 * not send (virtio 1.2 5.1.6.2); num_buffers it leaves alone, and a
	 * driver sends 0.
	 */
	p[0] &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (n->hdr_len == VIRTIO_NET_HDR_V1_LEN)
		memset(p + VIRTIO_NET_HDR_LEGACY_LEN, 0, 2);
	/* a buffer per entry: the queue cannot be full */
	if (vq_drv_add(net_vq(n, NET_TXQ), &b, 1, 0,
		       (void *)(uintptr_t)(bid + 1))) {
		n->cnt.tx_dropped++;
		net_br_put(n, bid);
		return;
	}
	n->dp.tx_inflight++;
	n->dp.tx_added++;
	n->cnt.tx_frames++;
}

static unsigned int net_tx_used(struct vv_net *n)
{
	unsigned int k = 0;
	void *tok;

	while ((tok = vq_drv_get_used(net_vq(n, NET_TXQ), NULL))) {
		net_br_put(n, (uint32_t)(uintptr_t)tok - 1);
		n->dp.tx_inflight--;
		k++;
	}
	return k;
}

/* A read ended with @res < 0. */
static void net_read_error(struct vv_net *n, int res)
{
	struct net_dp *dp = &n->dp;

	switch (res) {
	case -ENOBUFS: /* every TX buffer is in the device's queue */
	case -ECANCELED:
	case -EINTR:
		return;
	case -EAGAIN:
		dp->read_empty = true;
		return;
	case -EINVAL: /* an opcode this kernel does not know */
	case -EBADFD:
		if (n->multishot && !dp->read_ok) {
			n->multishot = false;
			net_log(n, 3, "no multishot reads: reading in bursts");
			return;
		}
		break;
	}
	net_log(n, 0,
		"reading the TAP failed: %s; no more frames to the "
		"device",
		strerror(-res));
	dp->read_failed = true;
}

static void net_on_read(struct vv_net *n, const struct io_uring_cqe *cqe,
			bool single)
{
	struct net_dp *dp = &n->dp;

	if (cqe->flags & IORING_CQE_F_BUFFER)
		net_tx_frame(n, cqe->flags >> IORING_CQE_BUFFER_SHIFT,
			     cqe->res);
	if (single)
		dp->reads--;
	else if (!(cqe->flags & IORING_CQE_F_MORE))
		dp->read_armed = false;
	else
		dp->read_ok = true;
	if (cqe->res < 0)
		net_read_error(n, cqe->res);
}

static void net_read_burst(struct vv_net *n)
{
	uint32_t k = n->tx_num - n->dp.tx_inflight;

	if (k > NET_BURST)
		k = NET_BURST;
	for (uint32_t i = 0; i < k; i++) {
		struct io_uring_sqe *sqe = net_sqe(n, ud(UD_READ, 1));

		if (!sqe)
			break;
		io_uring_prep_read(sqe, n->tapfd, NULL, n->tx_len, 0);
		net_sqe_file(n, sqe, NET_F_TAP);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = NET_BGID;
		n->dp.reads++;
	}
}

/* Read the TAP again if it is not read and a TX buffer is free. */
static void net_arm_read(struct vv_net *n)
{
	struct net_dp *dp = &n->dp;
	struct io_uring_sqe *sqe;

	if (dp->read_armed || dp->reads || dp->read_failed || dp->stopping ||
	    dp->tx_inflight == n->tx_num)
		return;
	if (!n->multishot && !dp->read_empty) {
		net_read_burst(n);
		return;
	}
	sqe = net_sqe(n, ud(n->multishot ? UD_READ : UD_POLL, 0));
	if (!sqe)
		return;
	if (n->multishot) {
		io_uring_prep_rw(IORING_OP_READ_MULTISHOT, sqe, n->tapfd, NULL,
				 0, 0);
		net_sqe_file(n, sqe, NET_F_TAP);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = NET_BGID;
	} else {
		io_uring_prep_poll_add(sqe, n->tapfd, POLLIN);
		net_sqe_file(n, sqe, NET_F_TAP);
	}
	dp->read_armed = true;
}

/* ---- RX: device → TAP ---- */

static void net_rx_repost(struct vv_net *n, uint32_t i)
{
	struct vq_buf b = { n->rx_iova + (uint64_t)i * n->rx_len, n->rx_len };

	if (!vq_drv_add(net_vq(n, NET_RXQ), &b, 0, 1,
			(void *)(uintptr_t)(i + 1)))
		n->dp.rx_added++;
}

static unsigned int net_rx_used(struct vv_net *n)
{
	unsigned int k = 0;
	uint32_t len;
	void *tok;

	while ((tok = vq_drv_get_used(net_vq(n, NET_RXQ), &len))) {
		uint32_t i = (uint32_t)(uintptr_t)tok - 1;
		struct io_uring_sqe *sqe = NULL;

		k++;
		/* no frame: the device could not fill the buffer */
		if (len <= n->hdr_len) {
			net_rx_repost(n, i);
			continue;
		}
		if (len <= n->rx_len)
			sqe = net_sqe(n, ud(UD_WRITE, i));
		if (!sqe) {
			n->cnt.rx_dropped++;
			net_rx_repost(n, i);
			continue;
		}
		if (n->fixed_rx)
			io_uring_prep_write_fixed(sqe, n->tapfd,
						  net_rx_buf(n, i), len, 0, 0);
		else
			io_uring_prep_write(sqe, n->tapfd, net_rx_buf(n, i),
					    len, 0);
		net_sqe_file(n, sqe, NET_F_TAP);
	}
	return k;
}

static void net_on_write(struct vv_net *n, uint32_t i, int res)
{
	if (res >= 0) {
		n->cnt.rx_frames++;
	} else {
		n->cnt.rx_dropped++;
		if (res != n->dp.write_err)
			net_log(n, 2, "the TAP refuses frames: %s (dropped)",
				strerror(-res));
		n->dp.write_err = res;
	}
	net_rx_repost(n, i);
}

/* ---- kicks ---- */

/*
 * Publish queue @q's new chains; when the device wants a kick, write its
 * doorbell in the coming io_uring_enter (or kick through the parent).
 */
static void net_kick_vq(struct vv_net *n, uint16_t q)
{
	struct io_uring_sqe *sqe = NULL;

	if (!vq_drv_kick_prepare(net_vq(n, q)))
		return;
	if (n->kickfd[q] >= 0)
		sqe = net_sqe(n, ud(UD_KICK, q));
	if (!sqe) {
		vdpa_kick_vq(n->vdev, q);
		return;
	}
	io_uring_prep_write(sqe, n->kickfd[q], &n->kick_val,
			    sizeof(n->kick_val), 0);
	net_sqe_file(n, sqe, q == NET_RXQ ? NET_F_KICK_RX : NET_F_KICK_TX);
}

static void net_kick(struct vv_net *n)
{
	/* RX first: the device loops TX frames into RX buffers */
	if (n->dp.rx_added)
		net_kick_vq(n, NET_RXQ);
	if (n->dp.tx_added)
		net_kick_vq(n, NET_TXQ);
	n->dp.rx_added = n->dp.tx_added = 0;
}

/* A kick SQE failed: the device still needs its kick. */
static void net_on_kick(struct vv_net *n, uint16_t q, int res)
{
	/* EAGAIN: the eventfd's counter is at its maximum, so it is set */
	if (res >= 0 || res == -EAGAIN)
		return;
	if (res != n->dp.kick_err)
		net_log(n, 1, "kicking queue %u: %s (kicking directly)", q,
			strerror(-res));
	n->dp.kick_err = res;
	vdpa_kick_vq(n->vdev, q);
}

/* ---- events ---- */

static void net_arm_events(struct vv_net *n)
{
	for (uint32_t ev = 0; ev < NET_EV_NR && !n->dp.stopping; ev++) {
		struct io_uring_sqe *sqe;

		if (n->dp.ev_armed[ev])
			continue;
		sqe = net_sqe(n, ud(UD_EVENT, ev));
		if (!sqe)
			return;
		io_uring_prep_read(sqe, n->evfd[ev], &n->evval[ev],
				   sizeof(n->evval[ev]), 0);
		net_sqe_file(n, sqe, (enum net_file)(NET_F_EV + ev));
		n->dp.ev_armed[ev] = true;
	}
}

static void net_on_event(struct vv_net *n, uint32_t ev, int res)
{
	n->dp.ev_armed[ev] = false;
	if (res == -ECANCELED)
		return;
	if (res < 0 && res != -EINTR && res != -EAGAIN)
		net_log(n, 1, "waiting for an event: %s", strerror(-res));
	if (ev == NET_EV_STOP)
		n->dp.stopping = true;
	else if (ev == NET_EV_CONFIG)
		net_config_changed(n);
}

/* ---- the loop ---- */

static void net_on_cqe(struct vv_net *n, const struct io_uring_cqe *cqe)
{
	uint32_t idx = (uint32_t)cqe->user_data;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		n->dp.inflight--;
	switch (cqe->user_data >> 32) {
	case UD_READ:
		net_on_read(n, cqe, idx == 1);
		break;
	case UD_POLL:
		n->dp.read_armed = false;
		if (cqe->res > 0)
			n->dp.read_empty = false;
		else if (cqe->res != -ECANCELED)
			net_read_error(n, cqe->res);
		break;
	case UD_WRITE:
		net_on_write(n, idx, cqe->res);
		break;
	case UD_EVENT:
		net_on_event(n, idx, cqe->res);
		break;
	case UD_KICK:
		net_on_kick(n, (uint16_t)idx, cqe->res);
		break;
	}
}

static unsigned int net_reap(struct vv_net *n)
{
	struct io_uring_cqe *cqe;
	unsigned int head, k = 0;

	io_uring_for_each_cqe(&n->ring, head, cqe)
	{
		net_on_cqe(n, cqe);
		k++;
	}
	io_uring_cq_advance(&n->ring, k);
	return k;
}

/* Interrupts back on before sleeping; false when work came meanwhile. */
static bool net_may_sleep(struct vv_net *n)
{
	struct vq_drv *rx = net_vq(n, NET_RXQ), *tx = net_vq(n, NET_TXQ);
	bool tx_wait = n->dp.tx_inflight && !n->dp.read_armed && !n->dp.reads;

	if (vq_drv_enable_cb(rx) && (!tx_wait || vq_drv_enable_cb(tx)))
		return true;
	vq_drv_disable_cb(rx);
	vq_drv_disable_cb(tx);
	return false;
}

static void net_round(struct vv_net *n)
{
	unsigned int work = net_reap(n);

	work += net_tx_used(n);
	/* the kicks first in the ring: the device starts before the writes */
	net_kick(n);
	work += net_rx_used(n);
	/* buffers net_rx_used() gave straight back (a frame it dropped) */
	net_kick(n);
	net_br_publish(n);
	net_arm_events(n);
	net_arm_read(n);
	if (work) {
		io_uring_submit_and_get_events(&n->ring);
		return;
	}
	if (n->dp.stopping || !net_may_sleep(n))
		return;
	io_uring_submit_and_wait(&n->ring, 1);
	vq_drv_disable_cb(net_vq(n, NET_RXQ));
	vq_drv_disable_cb(net_vq(n, NET_TXQ));
}

/*
 * Registered files hold their files until unregistered: the ring's own
 * teardown is asynchronous, and the TAP interface would outlive
 * vv_net_remove. With SINGLE_ISSUER, only the thread that enabled the
 * ring (or anyone before) may unregister.
 */
static void net_files_done(struct vv_net *n)
{
	if (n->fixed_files && !io_uring_unregister_files(&n->ring))
		n->fixed_files = false;
}

/*
 * Cancel what is pending and wait for it: a request left in the ring
 * holds the TAP open, and the interface would outlive vv_net_remove.
 */
static void net_drain(struct vv_net *n)
{
	struct __kernel_timespec ts = { .tv_sec = 2 };
	struct io_uring_sqe *sqe = net_sqe(n, ud(UD_CANCEL, 0));
	struct io_uring_cqe *cqe;

	if (sqe)
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_submit(&n->ring);
	while (n->dp.inflight) {
		if (io_uring_wait_cqe_timeout(&n->ring, &cqe, &ts)) {
			net_log(n, 1, "%u requests did not end",
				n->dp.inflight);
			break;
		}
		net_reap(n);
	}
	io_uring_unregister_buf_ring(&n->ring, NET_BGID);
	/* the RX buffers' pages stay pinned until unregistered, as files */
	if (n->fixed_rx && !io_uring_unregister_buffers(&n->ring))
		n->fixed_rx = false;
	net_files_done(n);
}

/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
static int net_ring_enable(struct vv_net *n)
{
	if (syscall(__NR_io_uring_register, n->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

static void *net_dp_thread(void *arg)
{
	struct vv_net *n = arg;

	/* with SINGLE_ISSUER the ring belongs to the thread that enables it */
	if (n->ring.flags & IORING_SETUP_R_DISABLED)
		n->start_err = net_ring_enable(n);
	sem_post(&n->started);
	if (n->start_err)
		return NULL;
	while (!n->dp.stopping)
		net_round(n);
	net_drain(n);
	return NULL;
}

static int net_ring_init(struct vv_net *n)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
		.cq_entries = NET_CQ,
	};
	int ret = io_uring_queue_init_params(NET_SQ, &n->ring, &p);

	if (ret == -EINVAL) { /* before Linux 6.1: task work runs anywhere */
		p = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE,
					      .cq_entries = NET_CQ };
		ret = io_uring_queue_init_params(NET_SQ, &n->ring, &p);
	}
	if (ret)
		return ret;
	n->ring_ready = true;
	return 0;
}

/*
 * Register the files the SQEs name: a registered file is not looked up
 * and referenced per request. Without (an old kernel), plain descriptors.
 */
static void net_files_init(struct vv_net *n)
{
	int fds[NET_F_NR];

	fds[NET_F_TAP] = n->tapfd;
	fds[NET_F_KICK_RX] = n->kickfd[NET_RXQ];
	fds[NET_F_KICK_TX] = n->kickfd[NET_TXQ];
	for (int ev = 0; ev < NET_EV_NR; ev++)
		fds[NET_F_EV + ev] = n->evfd[ev];
	n->fixed_files = !io_uring_register_files(&n->ring, fds, NET_F_NR);
}

/*
 * The RX buffers stay where they are for the device's lifetime: pinned
 * once as a registered buffer, the writes from them skip the user copy's
 * checks. Without (RLIMIT_MEMLOCK, an old kernel), plain writes.
 */
static void net_bufs_init(struct vv_net *n)
{
	struct iovec iov = { n->rx_buf, (size_t)n->rx_num * n->rx_len };

	n->fixed_rx = !io_uring_register_buffers(&n->ring, &iov, 1);
}

/* The TX buffers, given to the TAP reads as a provided buffer ring. */
static int net_br_init(struct vv_net *n)
{
	struct io_uring_buf_reg reg = { 0 };
	size_t size = (n->tx_num * sizeof(struct io_uring_buf) + 4095) &
		      ~(size_t)4095;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (p == MAP_FAILED)
		return -errno;
	n->br = p;
	n->br_size = size;
	io_uring_buf_ring_init(n->br);
	reg.ring_addr = (uintptr_t)p;
	reg.ring_entries = n->tx_num;
	reg.bgid = NET_BGID;
	ret = io_uring_register_buf_ring(&n->ring, &reg, 0);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < n->tx_num; i++)
		net_br_put(n, i);
	net_br_publish(n);
	return 0;
}

static int net_thread_start(struct vv_net *n)
{
	char name[16];
	sigset_t all, old;
	int ret;

	if (sem_init(&n->started, 0, 0))
		return -errno;
	n->sem_ok = true;
	/* signals are for the daemon's own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&n->thread, NULL, net_dp_thread, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return ret;
	n->thread_started = true;
	snprintf(name, sizeof(name), "vv-%.12s", n->ifname);
	pthread_setname_np(n->thread, name);
	while (sem_wait(&n->started) && errno == EINTR)
		;
	return n->start_err;
}

int net_dp_start(struct vv_net *n, struct vdpa_extack *ext)
{
	int ret;

	/* a knob for tests: the path of kernels before 6.7 */
	n->multishot = !getenv("UVDPA_NET_NO_MULTISHOT");
	n->dp.read_empty = true;
	if ((ret = net_ring_init(n))) {
		vdpa_extack_set(ext, "io_uring: %s", strerror(-ret));
		return ret;
	}
	/* a knob for tests: a ring that cannot register (RLIMIT_MEMLOCK) */
	if (!getenv("UVDPA_NET_NO_REGISTER")) {
		net_files_init(n);
		net_bufs_init(n);
	}
	if ((ret = net_br_init(n))) {
		vdpa_extack_set(ext,
				"io_uring provided buffer rings (Linux 5.19): "
				"%s",
				strerror(-ret));
		return ret;
	}
	if ((ret = net_thread_start(n))) {
		vdpa_extack_set(ext, "starting the data path: %s",
				strerror(-ret));
		return ret;
	}
	return 0;
}

void net_dp_stop(struct vv_net *n)
{
	uint64_t one = 1;

	if (n->thread_started) {
		if (write(n->evfd[NET_EV_STOP], &one, sizeof(one)) < 0)
			net_log(n, 0, "cannot stop the data path: %s",
				strerror(errno));
		pthread_join(n->thread, NULL);
		n->thread_started = false;
	}
	if (n->ring_ready) {
		net_files_done(n); /* the thread never ran */
		if (n->fixed_files)
			net_log(n, 0, "cannot unregister the ring's files");
		io_uring_queue_exit(&n->ring);
	}
	n->ring_ready = false;
	if (n->br)
		munmap(n->br, n->br_size);
	n->br = NULL;
	if (n->sem_ok)
		sem_destroy(&n->started);
	n->sem_ok = false;
}
