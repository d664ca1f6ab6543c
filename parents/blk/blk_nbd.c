// SPDX-License-Identifier: MIT
/*
 * The blk parent's NBD back end: `nbd://host[:port]/export`,
 * `nbd+unix:///export?socket=PATH` and the other URIs libnbd takes.
 *
 * A connection per queue, each used only by the thread that owns the
 * queue at the time (libnbd handles are not shared). Commands are issued
 * with libnbd's asynchronous API, as many in flight as the queue has
 * requests; the socket is watched by polls in the queue's io_uring, so the
 * worker wakes on the one fd for kicks, file completions and NBD replies.
 *
 * A request finishes in its command's .free callback, which libnbd calls
 * exactly once, also when the command could not even be issued and when
 * the handle is closed with the command in flight; the completion callback
 * only records the outcome.
 *
 * A lost connection fails the requests in flight with IOERR, and every
 * request while it is down; it is reopened in the background with a
 * backoff (100 ms doubling to 5 s) driven by io_uring timeouts, so the
 * worker never blocks on it (a host name is resolved by libnbd with
 * getaddrinfo, which can block: use addresses or UNIX sockets).
 *
 * Several connections to one writable export need a server that
 * advertises multi-conn (a flush on one connection then covers writes
 * completed on any): without it, a writable device has one queue.
 */
#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "blk_priv.h"

#define NBD_CONNECT_TIMEOUT_MS 10000 /* dev add's own connections */
#define NBD_BACKOFF_MIN_MS 100
#define NBD_BACKOFF_MAX_MS 5000

enum nbd_state { NBD_UP, NBD_CONNECTING, NBD_DOWN };

/* Steps of an OUT request (blk_req.step). */
enum { NBD_WRITE, NBD_WRITE_THEN_FLUSH, NBD_FLUSH_AFTER_WRITE };

struct blk_nbd_conn {
	struct blk_queue *q;
	struct nbd_handle *h;
	enum nbd_state state;
	uint64_t gen; /* of the socket the polls watch: older CQEs are stale */
	bool in_armed, out_armed;
	unsigned int backoff_ms;
	struct __kernel_timespec ts; /* the armed timeout's */
	struct __kernel_timespec hs_ts; /* the handshake watchdog's */
	struct blk_req *post; /* written, to flush (no FUA, writethrough) */
};

struct blk_nbd {
	uint64_t size;
	bool can_flush, can_fua, can_trim, can_zero;
	struct blk_nbd_conn *conns;
};

bool blk_is_nbd_uri(const char *path)
{
	const char *sep = strstr(path, "://");

	return sep && !strncmp(path, "nbd", 3) &&
	       strspn(path, "abcdefghijklmnopqrstuvwxyz+") ==
		       (size_t)(sep - path);
}

static uint64_t nbd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct nbd_handle *nbd_handle_new(void)
{
	struct nbd_handle *h = nbd_create();

	/* buffers are the guest's: no zeroing first, no use on error */
	if (h)
		nbd_set_pread_initialize(h, false);
	return h;
}

/* ---- requests ---- */

static int nbd_done_cb(void *user_data, int *error)
{
	struct blk_req *r = user_data;

	if (*error)
		return 1;
	if (r->type == VIRTIO_BLK_T_IN && r->bounce_used)
		vq_buf_to_iov(r->data, r->ndata, 0, r->bounce, r->len);
	r->result = VIRTIO_BLK_S_OK;
	return 1; /* retire the command now */
}

/* libnbd's lock is held: no nbd_* call from here (libnbd(3)). */
static void nbd_free_cb(void *user_data)
{
	struct blk_req *r = user_data;
	struct blk_nbd_conn *conn = r->q->nbd;

	if (r->result == VIRTIO_BLK_S_OK && r->step == NBD_WRITE_THEN_FLUSH) {
		r->next = conn->post;
		conn->post = r;
		return;
	}
	blk_req_finish(r->q, r, r->result);
}

static nbd_completion_callback nbd_cb(struct blk_req *r)
{
	r->result = VIRTIO_BLK_S_IOERR;
	return (nbd_completion_callback){
		.callback = nbd_done_cb,
		.user_data = r,
		.free = nbd_free_cb,
	};
}

/* The request's data as one buffer: its own, or a bounce copy. */
static void *nbd_buf(struct blk_queue *q, struct blk_req *r, bool write)
{
	void *buf;

	if (r->ndata == 1)
		return r->data[0].iov_base;
	buf = blk_bounce_get(q, r, r->len);
	if (buf && write)
		vq_iov_to_buf(r->data, r->ndata, 0, buf, r->len);
	return buf;
}

static int nbd_rw(struct blk_queue *q, struct blk_req *r)
{
	struct blk_nbd *nbd = q->blk->nbd;
	struct nbd_handle *h = q->nbd->h;
	bool write = r->type == VIRTIO_BLK_T_OUT;
	void *buf = nbd_buf(q, r, write);
	uint32_t flags = 0;

	if (!buf)
		return q->inflight > 1 ? BLK_DEFER : VIRTIO_BLK_S_IOERR;
	if (!write) {
		nbd_aio_pread(h, buf, r->len, r->offset, nbd_cb(r), 0);
		return BLK_INFLIGHT;
	}
	if (!blk_wce(q->blk) && nbd->can_fua)
		flags = LIBNBD_CMD_FLAG_FUA;
	else if (!blk_wce(q->blk) && nbd->can_flush)
		r->step = NBD_WRITE_THEN_FLUSH;
	nbd_aio_pwrite(h, buf, r->len, r->offset, nbd_cb(r), flags);
	return BLK_INFLIGHT;
}

/* Every path that issues a command returns BLK_INFLIGHT: .free finishes. */
static int nbd_submit(struct blk_queue *q, struct blk_req *r)
{
	struct blk_nbd *nbd = q->blk->nbd;
	struct nbd_handle *h = q->nbd->h;
	uint32_t flags = 0;

	if (q->nbd->state != NBD_UP)
		return VIRTIO_BLK_S_IOERR; /* never wait for a server */
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return nbd_rw(q, r);
	case VIRTIO_BLK_T_FLUSH:
		if (!nbd->can_flush)
			return VIRTIO_BLK_S_OK; /* no cache to flush */
		nbd_aio_flush(h, nbd_cb(r), 0);
		return BLK_INFLIGHT;
	case VIRTIO_BLK_T_DISCARD:
		if (!nbd->can_trim)
			return VIRTIO_BLK_S_OK; /* a hint */
		nbd_aio_trim(h, r->len, r->offset, nbd_cb(r), 0);
		return BLK_INFLIGHT;
	default: /* VIRTIO_BLK_T_WRITE_ZEROES, offered with can_zero */
		if (!nbd->can_zero)
			return VIRTIO_BLK_S_IOERR;
		if (!(r->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			flags = LIBNBD_CMD_FLAG_NO_HOLE;
		nbd_aio_zero(h, r->len, r->offset, nbd_cb(r), flags);
		return BLK_INFLIGHT;
	}
}

/* ---- the connection ---- */

static void nbd_poll_arm(struct blk_queue *q, enum blk_tag type, int fd)
{
	struct blk_nbd_conn *conn = q->nbd;
	struct io_uring_sqe *sqe = blk_get_sqe(q);

	if (!sqe)
		return;
	if (type == BLK_TAG_NBD_IN) {
		io_uring_prep_poll_multishot(sqe, fd, POLLIN);
		conn->in_armed = true;
	} else {
		io_uring_prep_poll_add(sqe, fd, POLLOUT);
		conn->out_armed = true;
	}
	io_uring_sqe_set_data64(sqe, blk_tag(type, conn->gen));
}

/* Watch the socket in the directions libnbd waits for. */
static void nbd_arm(struct blk_queue *q)
{
	struct blk_nbd_conn *conn = q->nbd;
	int fd = nbd_aio_get_fd(conn->h);

	if (fd < 0)
		return;
	if (!conn->in_armed)
		nbd_poll_arm(q, BLK_TAG_NBD_IN, fd);
	if (!conn->out_armed &&
	    (nbd_aio_get_direction(conn->h) & LIBNBD_AIO_DIRECTION_WRITE))
		nbd_poll_arm(q, BLK_TAG_NBD_OUT, fd);
}

static void nbd_cancel(struct blk_queue *q, enum blk_tag type)
{
	struct io_uring_sqe *sqe = blk_get_sqe(q);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, blk_tag(type, q->nbd->gen), 0);
	io_uring_sqe_set_data64(sqe, blk_tag(BLK_TAG_CANCEL, 0));
}

/* Try again after the backoff, which doubles for the next time. */
static void nbd_schedule(struct blk_queue *q)
{
	struct blk_nbd_conn *conn = q->nbd;
	struct io_uring_sqe *sqe;

	if (q->phase != BLK_RUNNING)
		return; /* the next start schedules it */
	sqe = blk_get_sqe(q);
	if (!sqe)
		return;
	if (!conn->backoff_ms)
		conn->backoff_ms = NBD_BACKOFF_MIN_MS;
	conn->ts.tv_sec = conn->backoff_ms / 1000;
	conn->ts.tv_nsec = (long long)(conn->backoff_ms % 1000) * 1000000;
	io_uring_prep_timeout(sqe, &conn->ts, 0, 0);
	io_uring_sqe_set_data64(sqe, blk_tag(BLK_TAG_TIMER, 0));
	conn->backoff_ms *= 2;
	if (conn->backoff_ms > NBD_BACKOFF_MAX_MS)
		conn->backoff_ms = NBD_BACKOFF_MAX_MS;
}

/*
 * The connection is gone (or a reconnect failed): fail what is in flight
 * (closing the handle retires its commands) and try again later.
 */
static void nbd_lost(struct blk_queue *q)
{
	struct blk_nbd_conn *conn = q->nbd;

	if (conn->in_armed)
		nbd_cancel(q, BLK_TAG_NBD_IN);
	if (conn->out_armed)
		nbd_cancel(q, BLK_TAG_NBD_OUT);
	conn->in_armed = conn->out_armed = false;
	conn->gen++;
	if (conn->h)
		nbd_close(conn->h);
	conn->h = NULL;
	conn->state = NBD_DOWN;
	nbd_schedule(q);
}

/* After libnbd ran: notice a death or a finished handshake, watch on. */
static void nbd_check(struct blk_queue *q)
{
	struct blk_nbd_conn *conn = q->nbd;
	struct nbd_handle *h = conn->h;

	if (!h)
		return;
	if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h) ||
	    nbd_aio_get_fd(h) < 0) {
		nbd_lost(q);
		return;
	}
	if (conn->state == NBD_CONNECTING && nbd_aio_is_ready(h)) {
		conn->state = NBD_UP;
		conn->backoff_ms = 0;
	}
	if (blk_queue_live(q))
		nbd_arm(q);
}

/* Timer tags: the backoff's is gen 0; a handshake's carries its socket. */
#define NBD_HS_TIMER(gen) ((gen) << 1 | 1)
#define NBD_HANDSHAKE_S 3

/*
 * A handshake that does not finish (a server that accepted and went
 * quiet, a lost wakeup) must not leave the queue failing requests for
 * good: after NBD_HANDSHAKE_S it counts as a lost connection.
 */
static void nbd_watch_handshake(struct blk_queue *q)
{
	struct blk_nbd_conn *conn = q->nbd;
	struct io_uring_sqe *sqe = blk_get_sqe(q);

	if (!sqe)
		return;
	conn->hs_ts.tv_sec = NBD_HANDSHAKE_S;
	conn->hs_ts.tv_nsec = 0;
	io_uring_prep_timeout(sqe, &conn->hs_ts, 0, 0);
	io_uring_sqe_set_data64(
		sqe, blk_tag(BLK_TAG_TIMER, NBD_HS_TIMER(conn->gen)));
}

static void nbd_reconnect(struct blk_queue *q)
{
	struct blk_nbd_conn *conn = q->nbd;

	conn->h = nbd_handle_new();
	if (!conn->h || nbd_aio_connect_uri(conn->h, q->blk->p.path) == -1) {
		nbd_lost(q);
		return;
	}
	conn->state = NBD_CONNECTING;
	nbd_watch_handshake(q);
	nbd_check(q);
}

static void nbd_timer(struct blk_queue *q, uint64_t tag, int res)
{
	struct blk_nbd_conn *conn = q->nbd;
	uint64_t g = tag >> 8;

	if (res != -ETIME || q->phase != BLK_RUNNING)
		return;
	if (!(g & 1)) {
		if (!conn->h)
			nbd_reconnect(q);
	} else if (conn->h && conn->state == NBD_CONNECTING &&
		   g >> 1 == conn->gen) {
		nbd_lost(q);
	}
}

/*
 * Whether the socket has data (or an end) to read. A poll CQE is not
 * proof: it reports the wakeup's mask, and the data may have been read
 * since by an earlier notify. libnbd must not be notified for nothing: in
 * its READY state that leaves it waiting in REPLY.START for a reply to a
 * command it then never sends (libnbd 1.14).
 */
static bool nbd_readable(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
	       (errno != EAGAIN && errno != EWOULDBLOCK);
}

static void nbd_event(struct blk_queue *q, uint64_t tag, int res,
		      uint32_t flags)
{
	struct blk_nbd_conn *conn = q->nbd;
	enum blk_tag type = (enum blk_tag)((tag >> 1) & 0x7f);

	if (type == BLK_TAG_TIMER) {
		nbd_timer(q, tag, res);
		return;
	}
	if (tag >> 8 != conn->gen || !conn->h)
		return; /* a poll of a closed socket, cancelled */
	if (type == BLK_TAG_NBD_IN) {
		if (!(flags & IORING_CQE_F_MORE))
			conn->in_armed = false;
		if (res > 0 && nbd_readable(nbd_aio_get_fd(conn->h)))
			nbd_aio_notify_read(conn->h);
	} else {
		conn->out_armed = false;
		if (res > 0 && (nbd_aio_get_direction(conn->h) &
				LIBNBD_AIO_DIRECTION_WRITE))
			nbd_aio_notify_write(conn->h);
	}
	nbd_check(q);
}

/* After a round: flushes that follow writes, the socket's directions. */
static void nbd_post(struct blk_queue *q)
{
	struct blk_nbd_conn *conn = q->nbd;
	struct blk_req *r;

	while ((r = conn->post)) {
		conn->post = r->next;
		r->step = NBD_FLUSH_AFTER_WRITE;
		if (conn->state != NBD_UP)
			blk_req_finish(q, r, VIRTIO_BLK_S_IOERR);
		else
			nbd_aio_flush(conn->h, nbd_cb(r), 0);
	}
	nbd_check(q);
}

static void nbd_start(struct blk_queue *q)
{
	struct blk_nbd_conn *conn = q->nbd;

	/* a new ring: nothing of the last one is armed */
	conn->in_armed = conn->out_armed = false;
	conn->gen++;
	if (conn->h)
		nbd_check(q);
	else
		nbd_schedule(q);
}

/* Draining waits for a server that does not answer: give up on it. */
static void nbd_abort(struct blk_queue *q)
{
	nbd_lost(q);
}

/* ---- opening ---- */

static int nbd_fail(struct vdpa_extack *ext, const char *uri)
{
	int err = nbd_get_errno();

	vdpa_extack_set(ext, "cannot connect to %s: %s", uri,
			nbd_get_error() ? nbd_get_error() : "unknown error");
	return err ? -err : -ECONNREFUSED;
}

/* Connect and finish the handshake, within NBD_CONNECT_TIMEOUT_MS. */
static int nbd_connect_sync(struct blk_nbd_conn *conn, const char *uri,
			    struct vdpa_extack *ext)
{
	uint64_t deadline = nbd_now_ms() + NBD_CONNECT_TIMEOUT_MS;
	struct nbd_handle *h = nbd_handle_new();

	if (!h)
		return nbd_fail(ext, uri);
	conn->h = h;
	if (nbd_aio_connect_uri(h, uri) == -1)
		return nbd_fail(ext, uri);
	while (!nbd_aio_is_ready(h)) {
		uint64_t now = nbd_now_ms();

		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
			return nbd_fail(ext, uri);
		if (now >= deadline) {
			vdpa_extack_set(ext, "timed out connecting to %s", uri);
			return -ETIMEDOUT;
		}
		if (nbd_poll(h, deadline - now > 100
					? 100
					: (int)(deadline - now)) == -1)
			return nbd_fail(ext, uri);
	}
	conn->state = NBD_UP;
	return 0;
}

/*
 * The server's block size constraints (NBD_INFO_BLOCK_SIZE), which the
 * guest must see: libnbd refuses a request not aligned to the minimum
 * (strict mode) and a server may refuse one over the maximum, so every
 * such request would fail. The minimum must fit in a logical block; the
 * maximum bounds a request through seg_max (size_max stays 64 KiB).
 */
static int nbd_block_size(struct blk_dev *blk, struct nbd_handle *h,
			  struct vdpa_extack *ext)
{
	int64_t min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	int64_t max = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);

	if (min > (int64_t)blk->p.lbs) {
		vdpa_extack_set(ext,
				"the NBD export %s takes blocks of %lld bytes: "
				"logical_block_size must be at least that",
				blk->p.path, (long long)min);
		return -EINVAL;
	}
	if (max <= 0 || (uint64_t)max >= BLK_MAX_IO)
		return 0;
	if (max < BLK_SIZE_MAX) {
		vdpa_extack_set(ext,
				"the NBD export %s takes requests of at most "
				"%lld bytes, less than size_max %u",
				blk->p.path, (long long)max, BLK_SIZE_MAX);
		return -EINVAL;
	}
	if (blk->seg_max > (uint64_t)max / BLK_SIZE_MAX)
		blk->seg_max = (uint32_t)((uint64_t)max / BLK_SIZE_MAX);
	return 0;
}

/* What the first connection says about the export. */
static int nbd_probe(struct blk_dev *blk, struct vdpa_extack *ext)
{
	struct blk_nbd *nbd = blk->nbd;
	struct nbd_handle *h = nbd->conns[0].h;
	int64_t size = nbd_get_size(h);
	int ret;

	if (size < 0)
		return nbd_fail(ext, blk->p.path);
	ret = nbd_block_size(blk, h, ext);
	if (ret)
		return ret;
	nbd->size = (uint64_t)size;
	nbd->can_flush = nbd_can_flush(h) == 1;
	nbd->can_fua = nbd_can_fua(h) == 1;
	nbd->can_trim = nbd_can_trim(h) == 1;
	nbd->can_zero = nbd_can_zero(h) == 1;
	if (!blk->p.readonly && nbd_is_read_only(h) == 1) {
		vdpa_extack_set(ext,
				"the NBD export %s is read-only: add "
				"readonly",
				blk->p.path);
		return -EROFS;
	}
	if (!blk->p.readonly && blk->p.num_queues > 1 &&
	    nbd_can_multi_conn(h) != 1) {
		vdpa_extack_set(ext,
				"the NBD server of %s does not allow "
				"multi-conn: a writable device takes "
				"num_queues 1",
				blk->p.path);
		return -EINVAL;
	}
	if (!nbd->can_trim)
		blk->sim.dev_features &= ~BIT_ULL(VIRTIO_BLK_F_DISCARD);
	if (!nbd->can_zero)
		blk->sim.dev_features &= ~BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES);
	return 0;
}

int blk_nbd_open(struct blk_dev *blk, struct vdpa_extack *ext)
{
	uint16_t nq = blk->p.num_queues;
	struct blk_nbd *nbd;
	int ret;

	blk->ops = &blk_nbd_ops;
	nbd = blk->nbd = calloc(1, sizeof(*nbd));
	if (!nbd)
		return -ENOMEM;
	nbd->conns = calloc(nq, sizeof(*nbd->conns));
	if (!nbd->conns)
		return -ENOMEM;
	for (uint16_t i = 0; i < nq; i++) {
		nbd->conns[i].q = &blk->queues[i];
		nbd->conns[i].state = NBD_DOWN;
		blk->queues[i].nbd = &nbd->conns[i];
	}
	ret = nbd_connect_sync(&nbd->conns[0], blk->p.path, ext);
	if (!ret)
		ret = nbd_probe(blk, ext);
	if (!ret)
		ret = blk_init_capacity(blk, nbd->size, ext);
	/* the other queues' connections, once multi-conn is known */
	for (uint16_t i = 1; !ret && i < nq; i++)
		ret = nbd_connect_sync(&nbd->conns[i], blk->p.path, ext);
	blk->max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
	return ret;
}

static int nbd_resize(struct blk_dev *blk, uint64_t bytes,
		      struct vdpa_extack *ext)
{
	if (bytes <= blk->nbd->size)
		return 0;
	vdpa_extack_set(ext,
			"capacity %llu exceeds the size of the NBD export %s "
			"(%llu bytes)",
			(unsigned long long)bytes, blk->p.path,
			(unsigned long long)blk->nbd->size);
	return -EINVAL;
}

static void nbd_free(struct blk_dev *blk)
{
	struct blk_nbd *nbd = blk->nbd;

	if (!nbd)
		return;
	for (uint16_t i = 0; nbd->conns && i < blk->p.num_queues; i++)
		if (nbd->conns[i].h)
			nbd_close(nbd->conns[i].h);
	free(nbd->conns);
	free(nbd);
	blk->nbd = NULL;
}

const struct blk_backend_ops blk_nbd_ops = {
	.submit = nbd_submit,
	.event = nbd_event,
	.start = nbd_start,
	.post = nbd_post,
	.abort = nbd_abort,
	.resize = nbd_resize,
	.free = nbd_free,
};
