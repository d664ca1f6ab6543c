// SPDX-License-Identifier: MIT
/*
 * The blk parent's queue engine (blk_priv.h): taking virtio-blk requests
 * off a ring, handing them to the back end, completing them in whatever
 * order they finish.
 *
 * One io_uring per queue, created when the queue starts and closed when it
 * stops: closing the ring cancels its polls and timers, so a stopped queue
 * leaves nothing armed behind (and a new kick fd is simply watched by the
 * next ring). Its eventfd is what the worker waits on; the kick fd is
 * watched by a multishot poll in the ring, and an NBD socket the same way,
 * so every event a queue waits for is a CQE that also signals that one fd.
 * (Registering the kick fd itself as the ring's eventfd would save that
 * hop, but a kick fd a driver gives two queues, on two workers, would then
 * be drained by one worker for the other's completions: a lost wakeup.)
 *
 * Stopping (vq_stop, control thread, worker detached) drains: requests in
 * flight are reaped until none is left, since the map they point into may
 * change next and vhost-user's GET_VRING_BASE wants them completed.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "blk_priv.h"

static struct blk_queue *vq_to_queue(struct sim_vq *vq)
{
	return &sim_to_blk(vq->sim)->queues[vq->idx];
}

static uint64_t blk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- completion ---- */

static void blk_count(struct blk_queue *q, const struct blk_req *r,
		      uint8_t status)
{
	struct blk_stats *st = &q->st;
	bool ok = status == VIRTIO_BLK_S_OK;

	sim_stat_add(&st->requests, 1);
	sim_stat_add(&st->errors, !ok);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		sim_stat_add(&st->reads, 1);
		sim_stat_add(&st->read_bytes, ok ? r->len : 0);
		break;
	case VIRTIO_BLK_T_OUT:
		sim_stat_add(&st->writes, 1);
		sim_stat_add(&st->write_bytes, ok ? r->len : 0);
		break;
	case VIRTIO_BLK_T_FLUSH:
		sim_stat_add(&st->flushes, 1);
		break;
	case VIRTIO_BLK_T_DISCARD:
		sim_stat_add(&st->discards, 1);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		sim_stat_add(&st->write_zeroes, 1);
		break;
	}
}

static void blk_bounce_put(struct blk_queue *q, struct blk_req *r)
{
	q->bounce_bytes -= r->bounce_used;
	r->bounce_used = 0;
	/* keep small buffers for the next request, not a guest's 8 MiB */
	if (r->bounce_cap > BLK_BOUNCE_KEEP) {
		free(r->bounce);
		r->bounce = NULL;
		r->bounce_cap = 0;
	}
}

void blk_req_finish(struct blk_queue *q, struct blk_req *r, uint8_t status)
{
	/* a chain without a writable byte cannot be answered: used len 0 */
	if (r->status)
		*r->status = status;
	vq_dev_push(&q->vq->ring, &r->elem, r->status ? r->written + 1 : 0);
	q->pushed++;
	if (r->status)
		blk_count(q, r, status);
	if (r->bounce_used || r->bounce_cap > BLK_BOUNCE_KEEP)
		blk_bounce_put(q, r);
	r->next = q->free;
	q->free = r;
	q->inflight--;
}

void *blk_bounce_get(struct blk_queue *q, struct blk_req *r, size_t len)
{
	size_t cap = (len + 4095) & ~(size_t)4095;
	void *buf;

	/* others in flight will give budget back; alone, it may have it all */
	if (q->inflight > 1 && q->bounce_bytes + len > BLK_BOUNCE_BUDGET)
		return NULL;
	if (r->bounce_cap < len) {
		free(r->bounce);
		r->bounce = NULL;
		r->bounce_cap = 0;
		/* page aligned: good for any O_DIRECT memory alignment */
		if (posix_memalign(&buf, 4096, cap))
			return NULL;
		r->bounce = buf;
		r->bounce_cap = cap;
	}
	q->bounce_bytes += len;
	r->bounce_used = len;
	return r->bounce;
}

struct io_uring_sqe *blk_get_sqe(struct blk_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

/* ---- taking requests ---- */

static bool blk_range_ok(struct blk_dev *blk, uint64_t sector, uint64_t bytes)
{
	uint64_t cap = blk_capacity(blk) >> VIRTIO_BLK_SECTOR_SHIFT;

	if (sector > cap)
		return false;
	return bytes <= (cap - sector) << VIRTIO_BLK_SECTOR_SHIFT;
}

/* The status byte: the last byte of the last non-empty writable iovec. */
static uint8_t *blk_status_ptr(const struct vq_elem *e)
{
	for (unsigned int i = e->out_num + e->in_num; i-- > e->out_num;)
		if (e->iov[i].iov_len)
			return (uint8_t *)e->iov[i].iov_base +
			       e->iov[i].iov_len - 1;
	return NULL;
}

static int blk_req_iov_reserve(struct blk_req *r, unsigned int n)
{
	struct iovec *iov;
	unsigned int cap = n < 16 ? 16 : n;

	if (n <= r->iov_cap)
		return 0;
	iov = realloc(r->iov, cap * sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	r->iov = iov;
	r->iov_cap = cap;
	return 0;
}

/*
 * Keep the data iovecs of @e for when the request completes: the out ones
 * after the header (OUT), or the in ones before the status byte (IN).
 */
static int blk_req_keep_data(struct blk_req *r, const struct vq_elem *e,
			     bool write)
{
	unsigned int n = write ? e->out_num : e->in_num;
	struct iovec *iov;
	size_t skip = write ? sizeof(struct virtio_blk_outhdr) : 0;

	if (blk_req_iov_reserve(r, n))
		return -ENOMEM;
	memcpy(r->iov, write ? e->iov : e->iov + e->out_num, n * sizeof(*iov));
	iov = r->iov;
	while (n && skip >= iov->iov_len) {
		skip -= iov->iov_len;
		iov++;
		n--;
	}
	if (n && skip) {
		iov->iov_base = (uint8_t *)iov->iov_base + skip;
		iov->iov_len -= skip;
	}
	if (!write) {
		/* drop the status byte, and empty iovecs around it */
		while (n && !iov[n - 1].iov_len)
			n--;
		if (n && !--iov[n - 1].iov_len)
			n--;
	}
	r->data = iov;
	r->ndata = n;
	return 0;
}

static int blk_rw(struct blk_queue *q, struct blk_req *r,
		  const struct vq_elem *e, uint64_t sector)
{
	struct blk_dev *blk = q->blk;
	bool write = r->type == VIRTIO_BLK_T_OUT;
	uint64_t len = write ? e->out_len - sizeof(struct virtio_blk_outhdr)
			     : e->in_len - 1;

	if (write && blk->p.readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % VIRTIO_BLK_SECTOR_SIZE || len > BLK_MAX_IO ||
	    !blk_range_ok(blk, sector, len))
		return VIRTIO_BLK_S_IOERR;
	r->offset = sector << VIRTIO_BLK_SECTOR_SHIFT;
	r->len = len;
	if (!write)
		r->written = (uint32_t)len;
	if (!len)
		return VIRTIO_BLK_S_OK;
	if (blk_req_keep_data(r, e, write))
		return VIRTIO_BLK_S_IOERR;
	return blk->ops->submit(q, r);
}

static int blk_discard_wz(struct blk_queue *q, struct blk_req *r,
			  const struct vq_elem *e)
{
	struct virtio_blk_discard_write_zeroes seg;
	struct blk_dev *blk = q->blk;
	uint64_t sector;
	uint32_t num;

	if (blk->p.readonly)
		return VIRTIO_BLK_S_IOERR;
	/* max_discard_seg and max_write_zeroes_seg are 1 */
	if (e->out_len != sizeof(struct virtio_blk_outhdr) + sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	vq_iov_to_buf(e->iov, e->out_num, sizeof(struct virtio_blk_outhdr),
		      &seg, sizeof(seg));
	sector = le64toh(seg.sector);
	num = le32toh(seg.num_sectors);
	r->flags = le32toh(seg.flags);
	if (r->type == VIRTIO_BLK_T_DISCARD && r->flags)
		return VIRTIO_BLK_S_UNSUPP;
	if (r->flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		return VIRTIO_BLK_S_UNSUPP;
	if (num > blk->max_discard_sectors ||
	    !blk_range_ok(blk, sector, (uint64_t)num << 9))
		return VIRTIO_BLK_S_IOERR;
	r->offset = sector << VIRTIO_BLK_SECTOR_SHIFT;
	r->len = (uint64_t)num << VIRTIO_BLK_SECTOR_SHIFT;
	if (!num)
		return VIRTIO_BLK_S_OK;
	return blk->ops->submit(q, r);
}

static int blk_get_id(struct blk_queue *q, struct blk_req *r,
		      const struct vq_elem *e)
{
	uint64_t n = e->in_len - 1;

	if (n > BLK_SERIAL_MAX)
		n = BLK_SERIAL_MAX;
	r->written = (uint32_t)vq_buf_to_iov(e->iov + e->out_num, e->in_num, 0,
					     q->blk->p.serial, n);
	return VIRTIO_BLK_S_OK;
}

/*
 * Take chain @e into @r and start it: a status to complete with now,
 * BLK_INFLIGHT or BLK_DEFER. @e's iovecs are only valid during this call.
 */
static int blk_req_take(struct blk_queue *q, struct blk_req *r,
			const struct vq_elem *e)
{
	struct virtio_blk_outhdr hdr;
	uint64_t sector;

	r->elem = *e;
	r->elem.iov = NULL;
	r->status = blk_status_ptr(e);
	r->type = UINT32_MAX; /* counted as a request of no known type */
	r->written = 0;
	r->len = 0;
	r->done = 0;
	r->step = 0;
	if (!r->status) {
		/* nowhere to put a status: the driver side is broken */
		sim_needs_reset(&q->blk->sim);
		return VIRTIO_BLK_S_IOERR;
	}
	if (e->out_len < sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	vq_iov_to_buf(e->iov, e->out_num, 0, &hdr, sizeof(hdr));
	r->type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return blk_rw(q, r, e, sector);
	case VIRTIO_BLK_T_FLUSH:
		/* the sector of a non-data request is unused (spec 5.2.6) */
		return q->blk->ops->submit(q, r);
	case VIRTIO_BLK_T_GET_ID:
		return blk_get_id(q, r, e);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_discard_wz(q, r, e);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static unsigned int blk_pop(struct blk_queue *q)
{
	struct vq_elem elems[BLK_BATCH];
	unsigned int max = BLK_BATCH, n, i;
	struct sim_vq *vq = q->vq;

	q->starved = false;
	if (q->blk->p.queue_size - q->inflight < max)
		max = q->blk->p.queue_size - q->inflight;
	if (!max) {
		q->starved = true; /* a driver reusing heads: wait */
		return 0;
	}
	n = sim_vq_pop(vq, elems, max);
	for (i = 0; i < n; i++) {
		struct blk_req *r = q->free;
		int ret;

		q->free = r->next;
		q->inflight++; /* before: a back end may finish it inside */
		ret = blk_req_take(q, r, &elems[i]);
		if (ret == BLK_DEFER) {
			q->inflight--;
			r->next = q->free;
			q->free = r;
			vq_dev_unpop(&vq->ring, n - i);
			q->starved = true;
			break;
		}
		if (ret >= 0)
			blk_req_finish(q, r, (uint8_t)ret);
	}
	return i;
}

/* ---- the ring ---- */

static void blk_arm_kick(struct blk_queue *q);

static void blk_cqe(struct blk_queue *q, uint64_t ud, int res, uint32_t flags)
{
	if (!(ud & 1)) {
		q->blk->ops->cqe(q, (struct blk_req *)(uintptr_t)ud, res);
		return;
	}
	switch ((ud >> 1) & 0x7f) {
	case BLK_TAG_KICK:
		/* a multishot poll may end (CQ overflow): watch again */
		if (!(flags & IORING_CQE_F_MORE) && q->phase == BLK_RUNNING) {
			if (res < 0)
				sim_needs_reset(
					&q->blk->sim); /* a bad kick fd */
			else
				blk_arm_kick(q);
		}
		break;
	case BLK_TAG_CANCEL:
		break;
	default:
		if (q->blk->ops->event)
			q->blk->ops->event(q, ud, res, flags);
	}
}

/* Handle every CQE there is, without a system call. */
static unsigned int blk_reap(struct blk_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	if (io_uring_cq_has_overflow(&q->ring))
		io_uring_get_events(&q->ring);
	io_uring_for_each_cqe(&q->ring, head, cqe)
	{
		n++;
		blk_cqe(q, cqe->user_data, cqe->res, cqe->flags);
	}
	io_uring_cq_advance(&q->ring, n);
	return n;
}

/*
 * Submit what the round prepared and publish what it completed, with one
 * notification. What completed during the submit itself (buffered I/O on
 * a page cache hit does) goes out in this round too; returns how much.
 */
static unsigned int blk_commit(struct blk_queue *q)
{
	struct sim_vq *vq = q->vq;
	unsigned int n = 0;

	if (q->blk->ops->post)
		q->blk->ops->post(q);
	if (io_uring_sq_ready(&q->ring)) {
		io_uring_submit(&q->ring); /* a failure stays queued: retried */
		n = blk_reap(q);
		/* resubmissions of that reap, not to wait for another round */
		if (io_uring_sq_ready(&q->ring))
			io_uring_submit(&q->ring);
	}
	/* before the used ring: whoever sees a completion sees it counted */
	__atomic_store_n(&q->st.inflight, q->inflight, __ATOMIC_RELEASE);
	if (q->pushed) {
		q->pushed = 0;
		if (vq_dev_flush(&vq->ring))
			sim_vq_notify(vq);
	}
	return n;
}

static void blk_arm_kick(struct blk_queue *q)
{
	struct io_uring_sqe *sqe = blk_get_sqe(q);

	if (!sqe) {
		sim_needs_reset(&q->blk->sim);
		return;
	}
	io_uring_prep_poll_multishot(sqe, q->kickfd, POLLIN);
	io_uring_sqe_set_data64(sqe, blk_tag(BLK_TAG_KICK, 0));
}

unsigned int blk_serve(struct sim_dev *sim, struct sim_vq *vq)
{
	struct blk_queue *q = vq_to_queue(vq);
	unsigned int work = blk_reap(q);

	if (q->phase == BLK_RUNNING && sim_vq_ready(vq))
		work += blk_pop(q);
	return work + blk_commit(q);
}

int blk_vq_idle(struct sim_dev *sim, struct sim_vq *vq)
{
	struct blk_queue *q = vq_to_queue(vq);

	if (io_uring_cq_ready(&q->ring) || io_uring_sq_ready(&q->ring) ||
	    q->done_head)
		return 1;
	/* chains wait for a slot: the completion that frees it wakes us */
	if (q->starved && q->inflight)
		return -1;
	return 0;
}

static int blk_ring_open(struct blk_queue *q)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL,
		/* every slot's completion, and polls, fit without overflow */
		.cq_entries = 2u * (q->blk->p.queue_size + 64u),
	};
	int ret = io_uring_queue_init_params(64, &q->ring, &p);

	if (ret)
		return ret;
	ret = io_uring_register_eventfd(&q->ring, q->evfd);
	if (ret) {
		io_uring_queue_exit(&q->ring);
		return ret;
	}
	q->ring_ok = true;
	return 0;
}

static void blk_ring_close(struct blk_queue *q)
{
	if (!q->ring_ok)
		return;
	/* cancels the polls and timers still armed */
	io_uring_queue_exit(&q->ring);
	q->ring_ok = false;
}

/* Whether the driver may keep writes in a volatile cache (CONFIG_WCE). */
static void blk_update_wce(struct blk_dev *blk)
{
	uint64_t f = blk->sim.features;
	bool wce;

	/* with CONFIG_WCE the driver chose through the writeback field */
	if (f & BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE))
		return;
	/* without it, writeback mode only if the driver can flush (spec) */
	wce = blk->p.writeback && (f & BIT_ULL(VIRTIO_BLK_F_FLUSH));
	__atomic_store_n(&blk->wce, wce, __ATOMIC_RELAXED);
}

int blk_vq_start(struct sim_dev *sim, struct sim_vq *vq, int kickfd)
{
	struct blk_queue *q = vq_to_queue(vq);
	int ret;

	blk_update_wce(q->blk);
	ret = blk_ring_open(q);
	if (ret)
		return ret;
	q->phase = BLK_RUNNING;
	q->kickfd = kickfd;
	/*
	 * Prepared, not submitted: the worker's first run() (at attach)
	 * submits them, so the polls' completions are the worker's task work
	 * and not interruptions of the control thread.
	 */
	blk_arm_kick(q);
	if (q->blk->ops->start)
		q->blk->ops->start(q);
	return q->evfd;
}

/* Wait up to @ms for a completion, then handle what came. */
static void blk_wait(struct blk_queue *q, unsigned int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long long)(ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;

	blk_commit(q);
	if (io_uring_wait_cqe_timeout(&q->ring, &cqe, &ts) == 0)
		blk_reap(q);
}

void blk_vq_stop(struct sim_dev *sim, struct sim_vq *vq)
{
	struct blk_queue *q = vq_to_queue(vq);
	uint64_t start = blk_now_ms();
	bool aborted = false;

	if (!q->ring_ok)
		return;
	q->phase = BLK_DRAINING;
	blk_reap(q);
	while (q->inflight) {
		blk_wait(q, 100);
		if (!aborted && q->inflight && q->blk->ops->abort &&
		    blk_now_ms() - start > BLK_DRAIN_ABORT_MS) {
			q->blk->ops->abort(q);
			aborted = true;
		}
	}
	blk_commit(q);
	q->phase = BLK_STOPPED;
	blk_ring_close(q);
}

/* ---- setup ---- */

int blk_queues_alloc(struct blk_dev *blk)
{
	uint32_t nq = blk->p.num_queues, qs = blk->p.queue_size;

	blk->queues = calloc(nq, sizeof(*blk->queues));
	if (!blk->queues)
		return -ENOMEM;
	for (uint32_t i = 0; i < nq; i++)
		blk->queues[i].evfd = -1;
	for (uint32_t i = 0; i < nq; i++) {
		struct blk_queue *q = &blk->queues[i];

		q->blk = blk;
		q->vq = &blk->sim.vqs[i];
		q->kickfd = -1;
		q->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->reqs = calloc(qs, sizeof(*q->reqs));
		if (q->evfd < 0 || !q->reqs)
			return q->evfd < 0 ? -errno : -ENOMEM;
		for (uint32_t s = qs; s-- > 0;) {
			q->reqs[s].q = q;
			q->reqs[s].next = q->free;
			q->free = &q->reqs[s];
		}
	}
	return 0;
}

void blk_queues_free(struct blk_dev *blk)
{
	if (!blk->queues)
		return;
	for (uint32_t i = 0; i < blk->p.num_queues; i++) {
		struct blk_queue *q = &blk->queues[i];

		blk_ring_close(q);
		if (q->evfd >= 0)
			close(q->evfd);
		for (uint32_t s = 0; q->reqs && s < blk->p.queue_size; s++) {
			free(q->reqs[s].iov);
			free(q->reqs[s].bounce);
		}
		free(q->reqs);
	}
	free(blk->queues);
	blk->queues = NULL;
}
