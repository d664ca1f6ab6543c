/* SPDX-License-Identifier: MIT */
/*
 * Inside the `blk` parent. A device is a simulator-core device (parents/sim,
 * which owns status, features, maps and ring plumbing) of a class whose
 * requests complete asynchronously:
 *
 *  - blk.c: the management device, dev_add validation, config space,
 *    resize and counters;
 *  - blk_queue.c: the per-queue engine. Each queue has its own io_uring;
 *    its worker waits on one eventfd registered with that ring, and the
 *    queue's kick fd is watched by a multishot poll in the same ring, so a
 *    kick and a completion wake the worker alike. Requests are taken in
 *    batches, submitted with one io_uring_enter and reaped from the
 *    completion ring without a system call each; they complete in any
 *    order, each holding its chain until then;
 *  - blk_file.c: regular files and block devices (read/write/fsync/
 *    fallocate SQEs, O_DIRECT bounce buffers);
 *  - blk_nbd.c: NBD servers through libnbd's asynchronous API, a
 *    connection per queue whose socket is polled through the same ring,
 *    reconnected with backoff (ring timeouts) when it is lost.
 *
 * Threads: a queue's state belongs to the worker serving it while it is
 * attached, and to the control thread otherwise (vq_start/vq_stop, which
 * the core calls with the queue detached). Counters are atomics with one
 * writer at a time.
 */
#ifndef UVDPA_PARENTS_BLK_PRIV_H
#define UVDPA_PARENTS_BLK_PRIV_H

#include <limits.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <uvdpa/uapi.h>

#include "blk.h"
#include "sim.h"

#define BLK_QUEUE_SIZE_DEFAULT 256
#define BLK_SERIAL_MAX VIRTIO_BLK_ID_BYTES /* 20 */
#define BLK_SIZE_MAX (64u << 10) /* size_max: bytes per segment */
#define BLK_SEG_MAX 126u /* seg_max, at most queue_size - 2 */
#define BLK_MAX_IO ((uint64_t)BLK_SIZE_MAX * BLK_SEG_MAX)
/* one discard or write-zeroes request: 2 GiB, under NBD's 32-bit length */
#define BLK_MAX_DISCARD_SECTORS (1u << 22)
#define BLK_BATCH 32 /* chains taken per pop */
/* bounce buffers a queue may hold at once (O_DIRECT, NBD) */
#define BLK_BOUNCE_BUDGET (64u << 20)
#define BLK_BOUNCE_KEEP (256u << 10) /* larger ones are freed after use */
#define BLK_DRAIN_ABORT_MS 5000 /* then the back end's abort() */

#define BLK_FEATURES                                                           \
	(SIM_FEATURES | BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |                     \
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |                                \
	 BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |      \
	 BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) | BIT_ULL(VIRTIO_BLK_F_TOPOLOGY) |     \
	 BIT_ULL(VIRTIO_BLK_F_FLUSH) | BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE) |      \
	 BIT_ULL(VIRTIO_BLK_F_MQ) | BIT_ULL(VIRTIO_BLK_F_DISCARD) |            \
	 BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES) | BIT_ULL(VIRTIO_BLK_F_RO))

/* A virtio status, or what became of a request handed to a back end. */
#define BLK_INFLIGHT (-1) /* it completes later */
#define BLK_DEFER (-2) /* no resources now: take it again later */

/*
 * CQE user_data: a struct blk_req pointer (8-aligned), or a tag with bit 0
 * set: (generation << 8) | (type << 1) | 1.
 */
enum blk_tag {
	BLK_TAG_KICK = 1,
	BLK_TAG_CANCEL, /* the answer to a cancel: nothing to do */
	BLK_TAG_NBD_IN, /* the NBD socket is readable */
	BLK_TAG_NBD_OUT, /* the NBD socket is writable */
	BLK_TAG_TIMER, /* NBD reconnect backoff */
};

static inline uint64_t blk_tag(enum blk_tag type, uint64_t gen)
{
	return gen << 8 | (uint64_t)type << 1 | 1;
}

enum blk_phase {
	BLK_STOPPED,
	BLK_RUNNING,
	BLK_DRAINING, /* in flight requests finish, nothing new is taken */
	BLK_CANCELLING, /* polls and timers are being cancelled */
};

/* One request between its pop and its completion. */
struct blk_req {
	struct blk_queue *q;
	struct vq_elem elem; /* elem.iov: iov below */
	struct iovec *iov; /* the chain's iovecs, our copy */
	uint32_t iov_cap;
	uint32_t ndata; /* data iovecs, at data */
	struct iovec *data;
	uint8_t *status; /* the chain's last writable byte */
	uint32_t type;
	uint32_t written; /* bytes the driver gets back, status excluded */
	uint64_t offset; /* bytes (IN, OUT, DISCARD, WRITE_ZEROES) */
	uint64_t len; /* bytes */
	uint32_t flags; /* the discard/write-zeroes segment's */

	/* back end progress */
	struct iovec *cur; /* what is left to transfer */
	uint32_t ncur;
	uint64_t done; /* bytes transferred */
	struct iovec one; /* cur when the transfer is one buffer */
	void *bounce; /* aligned (O_DIRECT) or flat (NBD) copy of data */
	size_t bounce_cap;
	size_t bounce_used; /* charged to the queue's budget */
	uint8_t step; /* back end state machine (retries, fallbacks) */
	uint8_t result; /* NBD: the status its command ended with */
	int res; /* inline I/O: the system call's result, as a CQE's */

	struct blk_req *next; /* free list, back end lists */
};

struct blk_stats {
	uint64_t requests, read_bytes, write_bytes, reads, writes, flushes,
		discards, write_zeroes, errors, inflight;
};

struct blk_nbd_conn;

struct blk_queue {
	struct blk_dev *blk;
	struct sim_vq *vq;
	struct io_uring ring;
	bool ring_ok;
	int evfd; /* registered with the ring: what the worker waits on */
	enum blk_phase phase;
	int kickfd;
	bool kick_armed;
	unsigned int armed; /* polls and timers not finished yet */
	unsigned int pushed; /* completions not flushed to the used ring */

	struct blk_req *reqs; /* queue_size slots */
	struct blk_req *free;
	unsigned int inflight;
	bool starved; /* chains wait for a slot or bounce budget */
	size_t bounce_bytes;

	struct blk_stats st;
	struct blk_nbd_conn *nbd; /* NBD back end */
	/* inline I/O: requests whose system call is done, in order */
	struct blk_req *done_head, **done_tail;
};

struct blk_dev;

/**
 * struct blk_backend_ops - a storage back end.
 * @submit: start @r (checked: type, range, data); 0..2 to complete it now
 *	with that status, BLK_INFLIGHT or BLK_DEFER.
 * @cqe: optional; a CQE for @r with result @res.
 * @event: optional; a CQE with a tag (@tag, @res, @flags).
 * @start: optional; the queue runs again: arm what it watches.
 * @post: optional; after a serve round, before the ring is submitted.
 * @abort: optional; draining takes too long: fail what is in flight.
 * @resize: optional; make room for @bytes (a grow, or check it fits).
 * @free: release the device's back end.
 */
struct blk_backend_ops {
	int (*submit)(struct blk_queue *q, struct blk_req *r);
	void (*cqe)(struct blk_queue *q, struct blk_req *r, int res);
	void (*event)(struct blk_queue *q, uint64_t tag, int res,
		      uint32_t flags);
	void (*start)(struct blk_queue *q);
	void (*post)(struct blk_queue *q);
	void (*abort)(struct blk_queue *q);
	int (*resize)(struct blk_dev *blk, uint64_t bytes,
		      struct vdpa_extack *ext);
	void (*free)(struct blk_dev *blk);
};

/* What dev_add asked for, defaults applied and checked. */
struct blk_params {
	const char *path;
	char serial[BLK_SERIAL_MAX]; /* zero padded, as GET_ID returns it */
	uint64_t capacity; /* bytes; 0: the size of path */
	uint32_t lbs;
	uint16_t num_queues;
	uint16_t queue_size;
	bool readonly, direct, writeback;
	bool nbd;
	uint8_t aio; /* enum uvdpa_blk_aio */
};

struct blk_nbd;

struct blk_dev {
	struct sim_dev sim;
	const struct blk_backend_ops *ops;
	struct blk_params p;
	char path[PATH_MAX]; /* p.path points here */
	uint32_t seg_max;
	uint32_t max_discard_sectors;
	uint64_t capacity; /* bytes; atomic: resize vs the workers */
	bool wce; /* atomic: writes may stay in a volatile cache */

	/* file back end */
	int fd;
	bool is_bdev;
	bool inline_io; /* system calls from the worker, not the ring */
	uint32_t dio_mem_align, dio_off_align; /* O_DIRECT */

	struct blk_nbd *nbd; /* NBD back end */
	struct blk_queue *queues;
};

static inline struct blk_dev *sim_to_blk(struct sim_dev *sim)
{
	return container_of(sim, struct blk_dev, sim);
}

static inline uint64_t blk_capacity(struct blk_dev *blk)
{
	return __atomic_load_n(&blk->capacity, __ATOMIC_RELAXED);
}

static inline bool blk_wce(struct blk_dev *blk)
{
	return __atomic_load_n(&blk->wce, __ATOMIC_RELAXED);
}

/* blk_queue.c: the core hooks and what back ends call. */
int blk_vq_start(struct sim_dev *sim, struct sim_vq *vq, int kickfd);
void blk_vq_stop(struct sim_dev *sim, struct sim_vq *vq);
int blk_vq_idle(struct sim_dev *sim, struct sim_vq *vq);
unsigned int blk_serve(struct sim_dev *sim, struct sim_vq *vq);
int blk_queues_alloc(struct blk_dev *blk);
void blk_queues_free(struct blk_dev *blk);

/* Complete @r with @status: status byte, used ring, counters. */
void blk_req_finish(struct blk_queue *q, struct blk_req *r, uint8_t status);
/* An SQE of @q's ring, submitting what is queued when the ring is full. */
struct io_uring_sqe *blk_get_sqe(struct blk_queue *q);
/*
 * A page-aligned bounce buffer of @len bytes for @r, charged to the
 * queue's budget until @r finishes. NULL: over budget while others are in
 * flight (defer), or out of memory.
 */
void *blk_bounce_get(struct blk_queue *q, struct blk_req *r, size_t len);
/* Whether the queue may arm new polls or timers. */
static inline bool blk_queue_live(const struct blk_queue *q)
{
	return q->phase == BLK_RUNNING || q->phase == BLK_DRAINING;
}

/* blk.c */
/*
 * Set the capacity at dev add: the one asked for (ops->resize makes room,
 * or refuses), else @size, the back end's, rounded down to a block.
 */
int blk_init_capacity(struct blk_dev *blk, uint64_t size,
		      struct vdpa_extack *ext);

/* blk_file.c */
int blk_file_open(struct blk_dev *blk, struct vdpa_extack *ext);
extern const struct blk_backend_ops blk_file_ops;

/* blk_nbd.c */
bool blk_is_nbd_uri(const char *path);
int blk_nbd_open(struct blk_dev *blk, struct vdpa_extack *ext);
extern const struct blk_backend_ops blk_nbd_ops;

#endif
