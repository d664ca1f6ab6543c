/* SPDX-License-Identifier: MIT */
/*
 * virtio-net → TAP, shared between the set-up half (net_tap.c: probe,
 * negotiation, the TAP interface, the control queue) and the data path
 * (net_dp.c: one thread per device moving frames between the TAP and the
 * device's queues, as vhost-net's kthread does for a guest).
 */
#ifndef UVDPA_BUSES_VIRTIO_VDPA_NET_INTERNAL_H
#define UVDPA_BUSES_VIRTIO_VDPA_NET_INTERNAL_H

#include <liburing.h>
#include <net/if.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include <uvdpa/virtio_dev.h>

#include "virtio_vdpa.h"

#define NET_RXQ 0
#define NET_TXQ 1
#define NET_CVQ 2
#define NET_QSIZE 256 /* per queue, bounded by the device's maximum */

/* The four eventfds the data path waits on besides the TAP. */
enum net_event {
	NET_EV_STOP, /* vv_net_remove */
	NET_EV_CONFIG, /* the device's config interrupt */
	NET_EV_RX, /* the RX queue's interrupt: frames for the host */
	NET_EV_TX, /* the TX queue's interrupt: buffers to read into again */
	NET_EV_NR,
};

/*
 * The files the ring uses, registered (IORING_REGISTER_FILES) when the
 * kernel takes it: an SQE names them by index and skips the file table.
 */
enum net_file {
	NET_F_TAP,
	NET_F_KICK_RX, /* the queues' kick eventfds, when the parent has them */
	NET_F_KICK_TX,
	NET_F_EV, /* NET_EV_NR eventfds from here */
	NET_F_NR = NET_F_EV + NET_EV_NR,
};

/* Data path state, owned by its thread. */
struct net_dp {
	bool stopping;
	bool read_armed; /* a multishot read (or a poll) is pending */
	bool read_failed; /* reading the TAP failed for good: TX stops */
	bool read_ok; /* a multishot read has delivered a frame */
	unsigned int reads; /* single-shot reads pending (no multishot) */
	bool read_empty; /* one of them found the TAP empty */
	unsigned int inflight; /* requests whose last CQE is still to come */
	uint32_t tx_inflight; /* TX buffers in the device's queue */
	unsigned int br_pending; /* buffers added to the ring, not published */
	unsigned int tx_added, rx_added; /* chains added since the last kick */
	int write_err; /* the last TAP write error logged */
	int kick_err; /* the last kick write error logged */
	bool ev_armed[NET_EV_NR];
};

/* Written by the data path only; logged by vv_net_remove. */
struct net_counters {
	uint64_t tx_frames; /* read from the TAP, given to the device */
	uint64_t tx_dropped; /* read from the TAP but too long or short */
	uint64_t rx_frames; /* from the device, written into the TAP */
	uint64_t rx_dropped; /* the TAP refused them (e.g. interface down) */
};

struct vv_net {
	struct virtio_dev vd;
	bool vd_init; /* virtio_dev_init succeeded: virtio_dev_done runs */
	struct vdpa_device *vdev;
	vv_log_fn log;
	char ifname[IFNAMSIZ];
	int tapfd;
	uint8_t mac[6];
	uint16_t mtu;
	size_t hdr_len; /* the virtio-net header, also the TAP's vnet header */
	bool carrier;

	/* buffers in the arena: one per queue entry, @len bytes each */
	uint32_t rx_num, tx_num;
	uint32_t rx_len, tx_len;
	uint32_t tx_max; /* header and the largest frame the device takes */
	uint8_t *rx_buf, *tx_buf;
	uint64_t rx_iova, tx_iova;
	uint8_t *ctrl; /* a control queue command and its ack */
	uint64_t ctrl_iova;

	/* the data path */
	int evfd[NET_EV_NR]; /* NET_EV_RX/TX are the queues' callfds */
	/*
	 * The RX and TX queues' doorbells (vdpa_set_vq_kickfd), -1 when the
	 * parent has none: the data path kicks with an SQE in the
	 * io_uring_enter it makes anyway, instead of a write(2) each.
	 */
	int kickfd[2];
	uint64_t kick_val; /* 1: what a kick SQE writes */
	bool fixed_files; /* the ring has the files of enum net_file */
	bool fixed_rx; /* the RX buffers are the ring's registered buffer 0 */
	uint64_t evval[NET_EV_NR]; /* where the eventfd reads land */
	struct io_uring ring;
	bool ring_ready;
	struct io_uring_buf_ring *br; /* the TX buffers the TAP reads into */
	size_t br_size;
	bool multishot; /* IORING_OP_READ_MULTISHOT works (Linux 6.7) */
	pthread_t thread;
	bool thread_started;
	sem_t started; /* the thread posts once it owns the ring */
	bool sem_ok;
	int start_err;
	struct net_dp dp;
	struct net_counters cnt;
};

/* Messages go to cfg->log when there is one. */
void net_log(const struct vv_net *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline uint8_t *net_rx_buf(struct vv_net *n, uint32_t i)
{
	return n->rx_buf + (size_t)i * n->rx_len;
}

static inline uint8_t *net_tx_buf(struct vv_net *n, uint32_t i)
{
	return n->tx_buf + (size_t)i * n->tx_len;
}

/* Re-read the link status and set the carrier (data path thread). */
void net_config_changed(struct vv_net *n);

/* net_dp.c: create the ring (caller's thread), start and stop the thread. */
int net_dp_start(struct vv_net *n, struct vdpa_extack *ext);
void net_dp_stop(struct vv_net *n);

#endif
