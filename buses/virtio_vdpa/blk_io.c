// SPDX-License-Identifier: MIT
/*
 * The request engine of virtio-blk → file (blk_internal.h): a FUSE request
 * becomes an op, an op becomes one or more device requests on one queue.
 *
 * The device only reaches the arena, so data goes through bounce pages
 * taken from the device's pool for the op's whole life: a write's data is
 * copied in when FUSE hands it over (its buffer is gone after the
 * handler), a read is answered straight from the pages. A host program may
 * use any offset and length; the device takes whole blocks, so an op
 * covers the blocks around the caller's range, and an unaligned write
 * first reads its edge blocks (read-modify-write).
 *
 * An aligned write need not be copied when FUSE received it into one of
 * the device's receive buffers (blk_fuse.c picks one for each request
 * while one is free): its chains point into that buffer, which the op
 * keeps until it is freed, and the loop receives into another. Unaligned
 * writes are merged with their edge blocks in bounce pages as before.
 *
 * Ops start in arrival order. One that finds no free pages, or a write
 * whose edge blocks another write in flight touches (either being a
 * read-modify-write would lose an update otherwise), waits with everything
 * behind it until a completion makes room.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk_internal.h"

#define VV_READ_IOV 64 /* iovecs of a read answer kept on the stack */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- bounce pages ---- */

static uint8_t *vv_page_ptr(struct vv_blk *b, uint32_t page)
{
	return b->pool + (size_t)page * VV_PAGE;
}

static uint64_t vv_page_iova(struct vv_blk *b, uint32_t page)
{
	return b->pool_iova + (uint64_t)page * VV_PAGE;
}

static unsigned int vv_op_edge_count(const struct vv_op *op)
{
	return (op->edges & 1) + ((op->edges >> 1) & 1);
}

static bool vv_pages_get(struct vv_blk *b, struct vv_op *op)
{
	uint32_t need = op->npages + vv_op_edge_count(op);

	if (b->nfree_pages < need)
		return false;
	for (uint32_t i = 0; i < op->npages; i++)
		op->pages[i] = b->free_pages[--b->nfree_pages];
	for (int e = 0; e < 2; e++)
		if (op->edges & (1u << e))
			op->edge_page[e] = b->free_pages[--b->nfree_pages];
	return true;
}

static void vv_pages_put(struct vv_blk *b, struct vv_op *op)
{
	for (uint32_t i = 0; i < op->npages && op->pages[i] != VV_NO_PAGE; i++)
		b->free_pages[b->nfree_pages++] = op->pages[i];
	for (int e = 0; e < 2; e++)
		if (op->edge_page[e] != VV_NO_PAGE)
			b->free_pages[b->nfree_pages++] = op->edge_page[e];
}

/* Copy @n bytes into the op's device range at @pos. */
static void vv_op_copy_in(struct vv_op *op, uint64_t pos, const uint8_t *src,
			  uint64_t n)
{
	while (n) {
		uint64_t in = pos % VV_PAGE;
		uint64_t c = min_u64(VV_PAGE - in, n);

		memcpy(vv_page_ptr(op->b, op->pages[pos / VV_PAGE]) + in, src,
		       c);
		pos += c;
		src += c;
		n -= c;
	}
}

/* ---- receive buffers ---- */

void *vv_rx_mem(struct vv_blk *b, uint32_t i)
{
	return b->rx + (size_t)i * VV_RX_STRIDE + VV_PAGE - VV_RX_HDR;
}

void vv_rx_put(struct vv_blk *b, uint32_t i)
{
	b->rx_free[b->nrx_free++] = i;
}

/*
 * Take the receive buffer the request being processed came in, if
 * [@data, @data + @len) lies in it: @b's buffer's index, or VV_NO_RX.
 */
static uint32_t vv_rx_take(struct vv_blk *b, const void *data, uint64_t len)
{
	struct vv_blk_fs *fs = b->fs;
	uint32_t i = fs->rx_slot;
	uintptr_t p = (uintptr_t)data, mem;

	if (fs->rx_b != b || i == VV_NO_RX)
		return VV_NO_RX;
	mem = (uintptr_t)vv_rx_mem(b, i);
	if (p < mem || len > VV_RX_CAP || p - mem > VV_RX_CAP - len)
		return VV_NO_RX;
	fs->rx_slot = VV_NO_RX;
	return i;
}

/* ---- ops ---- */

static struct vv_op *vv_op_new(struct vv_blk *b, fuse_req_t req,
			       enum vv_op_kind kind, uint64_t start,
			       uint64_t total)
{
	struct vv_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	list_init(&op->link);
	list_init(&op->issue_link);
	op->b = b;
	op->req = req;
	op->kind = kind;
	op->start = start;
	op->total = total;
	op->edge_page[0] = op->edge_page[1] = VV_NO_PAGE;
	op->rx = VV_NO_RX;
	return op;
}

/* A read or a copied write: room for the bounce pages of its range. */
static int vv_op_pages_new(struct vv_op *op)
{
	uint32_t n = (uint32_t)((op->total + VV_PAGE - 1) / VV_PAGE);

	op->pages = malloc(n * sizeof(*op->pages));
	if (!op->pages)
		return -ENOMEM;
	op->npages = n;
	for (uint32_t i = 0; i < n; i++)
		op->pages[i] = VV_NO_PAGE;
	return 0;
}

static void vv_op_free(struct vv_op *op)
{
	vv_pages_put(op->b, op);
	if (op->rx != VV_NO_RX)
		vv_rx_put(op->b, op->rx);
	free(op->pages);
	free(op->hold);
	free(op);
}

void vv_group_put(struct vv_group *g, int err)
{
	if (err && !g->err)
		g->err = err;
	if (--g->pending)
		return;
	fuse_reply_err(g->req, g->err);
	free(g);
}

/* Answer a read from its pages, skipping the edges the caller did not ask. */
static void vv_reply_read(struct vv_op *op)
{
	struct iovec stack[VV_READ_IOV], *iov = stack;
	uint64_t pos = op->off - op->start, left = op->len;
	int n = 0;

	stack[0] = (struct iovec){ NULL, 0 }; /* -Wmaybe-uninitialized */
	if (op->npages > VV_READ_IOV) {
		iov = calloc(op->npages, sizeof(*iov));
		if (!iov) {
			fuse_reply_err(op->req, ENOMEM);
			return;
		}
	}
	while (left) {
		uint64_t in = pos % VV_PAGE, c = min_u64(VV_PAGE - in, left);

		iov[n].iov_base =
			vv_page_ptr(op->b, op->pages[pos / VV_PAGE]) + in;
		iov[n++].iov_len = c;
		pos += c;
		left -= c;
	}
	fuse_reply_iov(op->req, iov, n);
	if (iov != stack)
		free(iov);
}

static void vv_op_reply(struct vv_op *op)
{
	if (op->group) {
		vv_group_put(op->group, op->err);
		return;
	}
	if (op->err) {
		fuse_reply_err(op->req, op->err);
		return;
	}
	switch (op->kind) {
	case VV_OP_READ:
		vv_reply_read(op);
		break;
	case VV_OP_WRITE:
		fuse_reply_write(op->req, op->len);
		break;
	default:
		fuse_reply_err(op->req, 0);
		break;
	}
}

static bool vv_op_writes(const struct vv_op *op)
{
	return op->kind == VV_OP_WRITE || op->kind == VV_OP_ZERO;
}

/* Would starting @op now race a read-modify-write on a shared block? */
static bool vv_op_conflicts(struct vv_blk *b, const struct vv_op *op)
{
	struct vv_op *x;

	if (!vv_op_writes(op) || (!op->rmw && !b->nrmw))
		return false;
	list_for_each_entry(x, &b->active, link) {
		if (!vv_op_writes(x) || (!op->rmw && !x->rmw))
			continue;
		if (op->start < x->start + x->total &&
		    x->start < op->start + op->total)
			return true;
	}
	return false;
}

static void vv_pump(struct vv_queue *q);

static bool vv_op_try_start(struct vv_op *op, const void *data)
{
	struct vv_blk *b = op->b;

	if (vv_op_conflicts(b, op) || !vv_pages_get(b, op))
		return false;
	if (op->kind == VV_OP_WRITE && op->rx == VV_NO_RX) {
		vv_op_copy_in(op, op->off - op->start, data ? data : op->hold,
			      op->len);
		free(op->hold);
		op->hold = NULL;
	}
	list_del(&op->link);
	list_add_tail(&op->link, &b->active);
	if (op->rmw)
		b->nrmw++;
	op->q = &b->qs[b->next_q++ % b->nqs];
	list_add_tail(&op->issue_link, &op->q->issuing);
	vv_pump(op->q);
	return true;
}

static void vv_start_waiting(struct vv_blk *b)
{
	while (!b->dead && !list_empty(&b->waiting)) {
		struct vv_op *op =
			list_entry(b->waiting.next, struct vv_op, link);

		if (!vv_op_try_start(op, NULL))
			return;
	}
}

/* Start @op, or queue it behind the ops already waiting. */
static int vv_op_submit(struct vv_op *op, const void *data)
{
	struct vv_blk *b = op->b;

	if (list_empty(&b->waiting) && vv_op_try_start(op, data))
		return 0;
	if (op->kind == VV_OP_WRITE && op->rx == VV_NO_RX) {
		/* FUSE's buffer is gone when the handler returns */
		op->hold = malloc(op->len);
		if (!op->hold) {
			vv_op_free(op);
			return -ENOMEM;
		}
		memcpy(op->hold, data, op->len);
	}
	list_add_tail(&op->link, &b->waiting);
	return 0;
}

static void vv_op_finish(struct vv_op *op)
{
	struct vv_blk *b = op->b;
	bool started = op->q != NULL;

	list_del(&op->link);
	list_del(&op->issue_link);
	if (started && op->rmw)
		b->nrmw--;
	vv_op_reply(op);
	vv_op_free(op);
	vv_start_waiting(b);
}

/* ---- chains ---- */

static struct vv_slot *vv_slot_peek(struct vv_queue *q)
{
	return q->nfree ? &q->slots[q->free[q->nfree - 1]] : NULL;
}

/*
 * Add a chain on @s: @bufs[0] and @bufs[out + in - 1] are filled here with
 * the header and the status byte. 1 when added, -ENOSPC when the ring is
 * full.
 */
static int vv_chain_add(struct vv_op *op, struct vv_slot *s,
			struct vq_buf *bufs, unsigned int out, unsigned int in,
			uint32_t type, uint64_t sector)
{
	struct vv_queue *q = op->q;
	int ret;

	s->mem->hdr.type = htole32(type);
	s->mem->hdr.ioprio = 0;
	s->mem->hdr.sector = htole64(sector);
	/* a device that never writes the status fails the request */
	s->mem->status = 0xff;
	bufs[0] = (struct vq_buf){ s->iova, sizeof(s->mem->hdr) };
	bufs[out + in - 1] =
		(struct vq_buf){ s->iova + offsetof(struct vv_slot_mem, status),
				 1 };
	ret = vq_drv_add(q->drv, bufs, out, in, s);
	if (ret)
		return ret;
	q->nfree--;
	s->op = op;
	op->inflight++;
	if (list_empty(&q->dirty_link))
		list_add_tail(&q->dirty_link, &q->b->fs->dirty);
	return 1;
}

static int vv_add_edge(struct vv_op *op, struct vv_slot *s)
{
	struct vv_blk *b = op->b;
	int e = (op->edges & 1) ? 0 : 1;
	uint64_t at = e ? op->start + op->total - b->lbs : op->start;
	struct vq_buf bufs[3];
	int ret;

	bufs[1] = (struct vq_buf){ vv_page_iova(b, op->edge_page[e]), b->lbs };
	ret = vv_chain_add(op, s, bufs, 1, 2, VIRTIO_BLK_T_IN, at >> 9);
	if (ret == 1)
		op->edges &= (uint8_t) ~(1u << e);
	return ret;
}

/* The next IN or OUT request: as many segments as the device takes. */
static int vv_add_data(struct vv_op *op, struct vv_slot *s)
{
	struct vq_buf bufs[VV_SEG_CAP + 2];
	struct vv_blk *b = op->b;
	uint64_t pos = op->cursor;
	unsigned int n = 1, nseg = 0;
	bool write = op->kind == VV_OP_WRITE;
	int ret;

	while (pos < op->total) {
		uint64_t iova =
			op->rx != VV_NO_RX
				? op->rx_iova + pos
				: vv_page_iova(b, op->pages[pos / VV_PAGE]) +
					  pos % VV_PAGE;
		uint64_t in = iova % VV_PAGE;
		uint32_t c = (uint32_t)min_u64(
			min_u64(VV_PAGE - in, op->total - pos), b->seg_bytes);
		struct vq_buf *last = &bufs[n - 1];

		if (nseg && last->iova + last->len == iova &&
		    last->len + c <= b->seg_bytes) {
			last->len += c;
		} else {
			if (nseg == b->seg_max)
				break;
			bufs[n++] = (struct vq_buf){ iova, c };
			nseg++;
		}
		pos += c;
	}
	ret = vv_chain_add(op, s, bufs, write ? n : 1, write ? 1 : n,
			   write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			   (op->start + op->cursor) >> 9);
	if (ret == 1)
		op->cursor = pos;
	return ret;
}

static int vv_add_zero(struct vv_op *op, struct vv_slot *s)
{
	uint64_t num = min_u64((op->total - op->cursor) >> 9, op->b->max_zero);
	struct vq_buf bufs[3];
	int ret;

	s->mem->seg.sector = htole64((op->start + op->cursor) >> 9);
	s->mem->seg.num_sectors = htole32((uint32_t)num);
	s->mem->seg.flags = htole32(op->zero_flags);
	bufs[1] = (struct vq_buf){
		s->iova + offsetof(struct vv_slot_mem, seg),
		sizeof(s->mem->seg),
	};
	ret = vv_chain_add(op, s, bufs, 2, 1, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	if (ret == 1)
		op->cursor += num << 9;
	return ret;
}

/* Everything the op needs is on the ring (or it failed). */
static bool vv_op_issued_all(const struct vv_op *op)
{
	if (op->err)
		return true;
	if (op->edges || (op->rmw && !op->merged))
		return false;
	if (op->kind == VV_OP_FLUSH)
		return op->flush_issued;
	return op->cursor == op->total;
}

/* Add @op's next chain: 1 added, 0 none to add now, -ENOSPC no room. */
static int vv_op_add(struct vv_op *op)
{
	struct vv_slot *s = vv_slot_peek(op->q);
	struct vq_buf bufs[2];
	int ret;

	if (vv_op_issued_all(op) || (op->rmw && !op->edges && !op->merged))
		return 0; /* done, or waiting for its edge blocks */
	if (!s)
		return -ENOSPC;
	if (op->edges)
		return vv_add_edge(op, s);
	switch (op->kind) {
	case VV_OP_FLUSH:
		ret = vv_chain_add(op, s, bufs, 1, 1, VIRTIO_BLK_T_FLUSH, 0);
		if (ret == 1)
			op->flush_issued = true;
		return ret;
	case VV_OP_ZERO:
		return vv_add_zero(op, s);
	default:
		return vv_add_data(op, s);
	}
}

static void vv_pump(struct vv_queue *q)
{
	while (!list_empty(&q->issuing)) {
		struct vv_op *op =
			list_entry(q->issuing.next, struct vv_op, issue_link);
		int ret = vv_op_add(op);

		if (ret < 0)
			return;
		if (ret == 0)
			list_del(&op->issue_link);
	}
}

/* The edge blocks are in: put the caller's data between them. */
static void vv_op_merge(struct vv_op *op)
{
	struct vv_blk *b = op->b;
	uint64_t head = op->off - op->start;
	uint64_t tail = op->start + op->total - (op->off + op->len);
	uint32_t tail_page = op->edge_page[1] != VV_NO_PAGE ? op->edge_page[1]
							    : op->edge_page[0];

	if (head)
		vv_op_copy_in(op, 0, vv_page_ptr(b, op->edge_page[0]), head);
	if (tail)
		vv_op_copy_in(op, op->total - tail,
			      vv_page_ptr(b, tail_page) + b->lbs - tail, tail);
	op->merged = true;
}

static void vv_op_progress(struct vv_op *op)
{
	if (vv_op_issued_all(op)) {
		if (!op->inflight)
			vv_op_finish(op);
		return;
	}
	if (op->rmw && !op->merged && !op->edges && !op->inflight)
		vv_op_merge(op);
	if (list_empty(&op->issue_link))
		list_add_tail(&op->issue_link, &op->q->issuing);
}

static void vv_slot_done(struct vv_queue *q, struct vv_slot *s)
{
	struct vv_op *op = s->op;
	uint8_t status = READ_ONCE(s->mem->status);

	q->free[q->nfree++] = (uint32_t)(s - q->slots);
	s->op = NULL;
	if (!op)
		return; /* its op was failed already */
	op->inflight--;
	if (status != VIRTIO_BLK_S_OK && !op->err)
		op->err = status == VIRTIO_BLK_S_UNSUPP ? EOPNOTSUPP : EIO;
	vv_op_progress(op);
}

void vv_io_complete(struct vv_queue *q)
{
	struct vv_slot *s;
	uint32_t len;

	/*
	 * Until a look at the ring after the used event index went out finds
	 * nothing: with EVENT_IDX, a chain the device completes meanwhile
	 * may otherwise see the old index and not interrupt (Linux's
	 * virtqueue_enable_cb_prepare and virtqueue_poll).
	 */
	do {
		while ((s = vq_drv_get_used(q->drv, &len)))
			vv_slot_done(q, s);
	} while (!vq_drv_enable_cb(q->drv));
	vv_pump(q);
}

unsigned int vv_io_poll(struct vv_blk_fs *fs, bool *busy)
{
	unsigned int n = 0;
	struct vv_blk *b;

	*busy = false;
	list_for_each_entry(b, &fs->files, link) {
		for (uint32_t i = 0; !b->dead && i < b->nqs; i++) {
			struct vv_queue *q = &b->qs[i];
			struct vq_drv *d = q->drv;

			if (q->nfree == q->nslots)
				continue;
			*busy = true;
			if (!vq_drv_has_used(d))
				continue;
			n += q->nslots - q->nfree;
			vv_io_complete(q);
			n -= q->nslots - q->nfree;
		}
	}
	return n;
}

void vv_io_kick(struct vv_blk_fs *fs)
{
	while (!list_empty(&fs->dirty)) {
		struct vv_queue *q =
			list_entry(fs->dirty.next, struct vv_queue, dirty_link);

		list_del(&q->dirty_link);
		virtio_vq_kick(&q->b->vd, q->idx);
	}
}

void vv_io_fail_all(struct vv_blk *b, int err)
{
	/* the device keeps what it holds; its completions find no op */
	for (uint32_t i = 0; i < b->nqs; i++)
		for (uint32_t k = 0; k < b->qs[i].nslots; k++)
			b->qs[i].slots[k].op = NULL;
	while (!list_empty(&b->active)) {
		struct vv_op *op =
			list_entry(b->active.next, struct vv_op, link);

		op->err = err;
		op->inflight = 0;
		vv_op_finish(op);
	}
	while (!list_empty(&b->waiting)) {
		struct vv_op *op =
			list_entry(b->waiting.next, struct vv_op, link);

		op->err = err;
		vv_op_finish(op);
	}
}

/* ---- entry points ---- */

/* An aligned write: send it from its receive buffer if it is in one. */
static void vv_op_zero_copy(struct vv_op *op, const void *data)
{
	struct vv_blk *b = op->b;

	op->rx = vv_rx_take(b, data, op->len);
	if (op->rx == VV_NO_RX) {
		b->rx_copied++;
		return;
	}
	op->rx_iova = b->rx_iova + ((uintptr_t)data - (uintptr_t)b->rx);
	b->rx_direct++;
}

int vv_io_rw(struct vv_blk *b, fuse_req_t req, enum vv_op_kind kind,
	     uint64_t off, uint64_t len, const void *data)
{
	uint64_t mask = b->lbs - 1;
	uint64_t start = off & ~mask, end = (off + len + mask) & ~mask;
	struct vv_op *op = vv_op_new(b, req, kind, start, end - start);
	bool head = off & mask, tail = (off + len) & mask;

	if (!op)
		return -ENOMEM;
	op->off = off;
	op->len = len;
	if (kind == VV_OP_WRITE && (head || tail)) {
		op->rmw = true;
		op->edges = (uint8_t)((head ? 1 : 0) | (tail ? 2 : 0));
		/* one block holds both edges: read it once */
		if (head && tail && op->total == b->lbs)
			op->edges = 1;
	} else if (kind == VV_OP_WRITE) {
		vv_op_zero_copy(op, data);
	}
	/* sent from its receive buffer: no bounce pages, no array of them */
	if (op->rx == VV_NO_RX && vv_op_pages_new(op)) {
		vv_op_free(op);
		return -ENOMEM;
	}
	return vv_op_submit(op, data);
}

int vv_io_flush(struct vv_blk *b, fuse_req_t req, struct vv_group *group)
{
	struct vv_op *op = vv_op_new(b, req, VV_OP_FLUSH, 0, 0);

	if (!op)
		return -ENOMEM;
	op->group = group;
	if (group)
		group->pending++;
	/* a flush covers completed writes only: it need not queue */
	list_add_tail(&op->link, &b->waiting);
	if (!vv_op_try_start(op, NULL)) {
		list_del(&op->link);
		if (group)
			group->pending--;
		vv_op_free(op);
		return -EIO;
	}
	return 0;
}

int vv_io_zero(struct vv_blk *b, fuse_req_t req, uint32_t flags, uint64_t off,
	       uint64_t len)
{
	struct vv_op *op = vv_op_new(b, req, VV_OP_ZERO, off, len);

	if (!op)
		return -ENOMEM;
	op->off = off;
	op->len = len;
	op->zero_flags = flags;
	return vv_op_submit(op, NULL);
}
