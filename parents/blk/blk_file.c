// SPDX-License-Identifier: MIT
/*
 * The blk parent's file back end: a regular file or a block device, read
 * and written through the queue's io_uring.
 *
 *  - IN/OUT: readv/writev at the request's offset, straight from and into
 *    the driver's buffers; with CONFIG_WCE off, writes carry RWF_DSYNC so
 *    they are durable when they complete. Short transfers are resubmitted
 *    for the rest; a read past the end of the file (it shrank behind our
 *    back) reads zeroes.
 *  - direct on: O_DIRECT. Buffers the file system cannot take as they are
 *    (address or length not aligned to its STATX_DIOALIGN values) go
 *    through an aligned bounce buffer.
 *  - FLUSH: fsync with IORING_FSYNC_DATASYNC.
 *  - DISCARD: fallocate(PUNCH_HOLE | KEEP_SIZE); a file system without
 *    hole punching ignores it (discard is a hint).
 *  - WRITE_ZEROES: fallocate(ZERO_RANGE | KEEP_SIZE), or PUNCH_HOLE with
 *    the UNMAP flag; where the file system has neither (tmpfs has no
 *    ZERO_RANGE) the next one is tried, and zeroes are written at last.
 *
 * Inline I/O (aio inline, and aio auto on tmpfs and ramfs): the worker
 * makes each system call itself and queues the request with its result;
 * the round's post() hands those results to the same completion code a
 * CQE goes to. Memory file systems have no FMODE_NOWAIT, so io_uring
 * would run every one of their reads and writes in an io-wq thread: a
 * wake-up and a context switch per request for what is a memcpy, on the
 * CPUs the guest and the worker need.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <uvdpa/mgmt.h>

#include "blk_priv.h"

#define FILE_ZERO_CHUNK (1u << 20)

/* What WRITE_ZEROES tries, in order (blk_req.step). */
enum { WZ_ZERO_RANGE, WZ_PUNCH, WZ_WRITE };

/*
 * Written from when a file system can neither zero nor punch a range;
 * page aligned, as O_DIRECT wants its memory (the linker gives 32 bytes).
 */
static uint8_t file_zeroes[FILE_ZERO_CHUNK] __attribute__((aligned(4096)));

static bool file_dio_aligned(const struct blk_dev *blk, const struct iovec *iov,
			     unsigned int n)
{
	uintptr_t mem = blk->dio_mem_align - 1, len = blk->dio_off_align - 1;

	for (unsigned int i = 0; i < n; i++)
		if (((uintptr_t)iov[i].iov_base & mem) ||
		    (iov[i].iov_len & len))
			return false;
	return true;
}

static void file_prep_rw(struct blk_queue *q, struct blk_req *r,
			 struct io_uring_sqe *sqe)
{
	struct blk_dev *blk = q->blk;
	uint64_t off = r->offset + r->done;

	if (r->type == VIRTIO_BLK_T_IN) {
		io_uring_prep_readv(sqe, blk->fd, r->cur, r->ncur, off);
		return;
	}
	io_uring_prep_writev2(sqe, blk->fd, r->cur, r->ncur, off,
			      blk_wce(blk) ? 0 : RWF_DSYNC);
}

/* Inline I/O: @r's system call returned @res; post() completes it. */
static void file_inline_done(struct blk_queue *q, struct blk_req *r, int res)
{
	r->res = res;
	r->next = NULL;
	if (!q->done_head)
		q->done_tail = &q->done_head;
	*q->done_tail = r;
	q->done_tail = &r->next;
}

static int file_sys_rw(struct blk_dev *blk, struct blk_req *r, bool zeroes)
{
	uint64_t off = r->offset + r->done;
	ssize_t ret;
	int flags = 0;

	if (r->type != VIRTIO_BLK_T_IN && !zeroes && !blk_wce(blk))
		flags = RWF_DSYNC;
	do {
		if (r->type == VIRTIO_BLK_T_IN)
			ret = preadv2(blk->fd, r->cur, (int)r->ncur, (off_t)off,
				      0);
		else
			ret = pwritev2(blk->fd, r->cur, (int)r->ncur,
				       (off_t)off, flags);
	} while (ret < 0 && errno == EINTR);
	/* at most BLK_MAX_IO (8 MiB) or a zero chunk: fits an int */
	return ret < 0 ? -errno : (int)ret;
}

/* Queue what is left of a read or write; false when the ring is gone. */
static bool file_rw_submit(struct blk_queue *q, struct blk_req *r)
{
	bool zeroes =
		r->step == WZ_WRITE && r->type == VIRTIO_BLK_T_WRITE_ZEROES;
	struct io_uring_sqe *sqe;

	if (zeroes) {
		uint64_t left = r->len - r->done;

		r->one.iov_base = file_zeroes;
		r->one.iov_len =
			left < FILE_ZERO_CHUNK ? left : FILE_ZERO_CHUNK;
		r->cur = &r->one;
		r->ncur = 1;
	}
	if (q->blk->inline_io) {
		file_inline_done(q, r, file_sys_rw(q->blk, r, zeroes));
		return true;
	}
	sqe = blk_get_sqe(q);
	if (!sqe)
		return false;
	if (zeroes)
		io_uring_prep_writev2(sqe, q->blk->fd, r->cur, 1,
				      r->offset + r->done, 0);
	else
		file_prep_rw(q, r, sqe);
	io_uring_sqe_set_data(sqe, r);
	return true;
}

static int file_rw_start(struct blk_queue *q, struct blk_req *r)
{
	struct blk_dev *blk = q->blk;
	void *buf;

	r->cur = r->data;
	r->ncur = r->ndata;
	if (blk->p.direct && !file_dio_aligned(blk, r->data, r->ndata)) {
		buf = blk_bounce_get(q, r, r->len);
		if (!buf)
			return q->inflight > 1 ? BLK_DEFER : VIRTIO_BLK_S_IOERR;
		if (r->type == VIRTIO_BLK_T_OUT)
			vq_iov_to_buf(r->data, r->ndata, 0, buf, r->len);
		r->one.iov_base = buf;
		r->one.iov_len = r->len;
		r->cur = &r->one;
		r->ncur = 1;
	}
	return file_rw_submit(q, r) ? BLK_INFLIGHT : VIRTIO_BLK_S_IOERR;
}

static int file_fallocate(struct blk_queue *q, struct blk_req *r, int mode)
{
	struct io_uring_sqe *sqe;

	mode |= FALLOC_FL_KEEP_SIZE;
	if (q->blk->inline_io) {
		file_inline_done(q, r,
				 fallocate(q->blk->fd, mode, (off_t)r->offset,
					   (off_t)r->len)
					 ? -errno
					 : 0);
		return BLK_INFLIGHT;
	}
	sqe = blk_get_sqe(q);
	if (!sqe)
		return VIRTIO_BLK_S_IOERR;
	io_uring_prep_fallocate(sqe, q->blk->fd, mode, r->offset, r->len);
	io_uring_sqe_set_data(sqe, r);
	return BLK_INFLIGHT;
}

static int file_write_zeroes(struct blk_queue *q, struct blk_req *r)
{
	switch (r->step) {
	case WZ_ZERO_RANGE:
		return file_fallocate(q, r, FALLOC_FL_ZERO_RANGE);
	case WZ_PUNCH:
		return file_fallocate(q, r, FALLOC_FL_PUNCH_HOLE);
	default:
		return file_rw_submit(q, r) ? BLK_INFLIGHT : VIRTIO_BLK_S_IOERR;
	}
}

static int file_submit(struct blk_queue *q, struct blk_req *r)
{
	struct io_uring_sqe *sqe;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return file_rw_start(q, r);
	case VIRTIO_BLK_T_FLUSH:
		if (q->blk->inline_io) {
			file_inline_done(q, r,
					 fdatasync(q->blk->fd) ? -errno : 0);
			return BLK_INFLIGHT;
		}
		sqe = blk_get_sqe(q);
		if (!sqe)
			return VIRTIO_BLK_S_IOERR;
		io_uring_prep_fsync(sqe, q->blk->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data(sqe, r);
		return BLK_INFLIGHT;
	case VIRTIO_BLK_T_DISCARD:
		return file_fallocate(q, r, FALLOC_FL_PUNCH_HOLE);
	default: /* VIRTIO_BLK_T_WRITE_ZEROES */
		r->step = (r->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
				  ? WZ_PUNCH
				  : WZ_ZERO_RANGE;
		return file_write_zeroes(q, r);
	}
}

/* Drop @n transferred bytes from the front of r->cur. */
static void file_advance(struct blk_req *r, uint64_t n)
{
	while (n && r->ncur) {
		if (n < r->cur->iov_len) {
			r->cur->iov_base = (uint8_t *)r->cur->iov_base + n;
			r->cur->iov_len -= n;
			return;
		}
		n -= r->cur->iov_len;
		r->cur++;
		r->ncur--;
	}
}

/* A read or write (or the zeroes written) moved @res bytes. */
static void file_rw_done(struct blk_queue *q, struct blk_req *r, int res)
{
	if (res < 0)
		goto fail;
	r->done += (uint64_t)res;
	if (r->done < r->len) {
		if (res > 0) {
			file_advance(r, (uint64_t)res);
			if (file_rw_submit(q, r))
				return;
			goto fail;
		}
		if (r->type != VIRTIO_BLK_T_IN)
			goto fail; /* a write that moves nothing: no space */
		/* end of file: the rest of the device reads as zeroes */
		for (unsigned int i = 0; i < r->ncur; i++)
			memset(r->cur[i].iov_base, 0, r->cur[i].iov_len);
	}
	if (r->type == VIRTIO_BLK_T_IN && r->bounce_used)
		vq_buf_to_iov(r->data, r->ndata, 0, r->bounce, r->len);
	blk_req_finish(q, r, VIRTIO_BLK_S_OK);
	return;
fail:
	blk_req_finish(q, r, VIRTIO_BLK_S_IOERR);
}

static void file_cqe(struct blk_queue *q, struct blk_req *r, int res)
{
	int ret;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		file_rw_done(q, r, res);
		return;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (r->step == WZ_WRITE) {
			file_rw_done(q, r, res);
			return;
		}
		if (res != -EOPNOTSUPP && res != -EINVAL)
			break;
		r->step++;
		ret = file_write_zeroes(q, r);
		if (ret != BLK_INFLIGHT)
			blk_req_finish(q, r, (uint8_t)ret);
		return;
	case VIRTIO_BLK_T_DISCARD:
		if (res == -EOPNOTSUPP)
			res = 0; /* a hint the file system cannot take */
		break;
	}
	blk_req_finish(q, r, res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

/* After a serve round: complete what inline I/O did, in order. */
static void file_post(struct blk_queue *q)
{
	struct blk_req *r;

	/* a completion may queue the rest of its transfer: taken here too */
	while ((r = q->done_head)) {
		q->done_head = r->next;
		file_cqe(q, r, r->res);
	}
}

/* ---- opening, sizing ---- */

static int file_size(struct blk_dev *blk, uint64_t *size)
{
	struct stat st;

	if (fstat(blk->fd, &st))
		return -errno;
	if (blk->is_bdev)
		return ioctl(blk->fd, BLKGETSIZE64, size) ? -errno : 0;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* The O_DIRECT alignment of the open file. */
static int file_dio_setup(struct blk_dev *blk, struct vdpa_extack *ext)
{
	struct statx stx;
	int lbs = 512;

	blk->dio_mem_align = 512;
	blk->dio_off_align = 512;
	if (!statx(blk->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		blk->dio_mem_align = stx.stx_dio_mem_align;
		blk->dio_off_align = stx.stx_dio_offset_align;
	} else if (blk->is_bdev && !ioctl(blk->fd, BLKSSZGET, &lbs)) {
		blk->dio_off_align = (uint32_t)lbs;
	}
	if (blk->dio_mem_align < 1)
		blk->dio_mem_align = 1;
	if (blk->dio_off_align > blk->p.lbs) {
		vdpa_extack_set(ext,
				"direct on needs logical_block_size %u or "
				"more on %s",
				blk->dio_off_align, blk->p.path);
		return -EINVAL;
	}
	return 0;
}

static int file_open_fd(struct blk_dev *blk, struct vdpa_extack *ext)
{
	int flags = (blk->p.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;

	if (blk->p.direct)
		flags |= O_DIRECT;
	blk->fd = open(blk->p.path, flags);
	if (blk->fd < 0) {
		int err = errno;

		vdpa_extack_set(ext, "cannot open %s%s%s: %s", blk->p.path,
				blk->p.readonly ? "" : " read-write",
				blk->p.direct ? " with O_DIRECT" : "",
				strerror(err));
		return -err;
	}
	if (fstat(blk->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		vdpa_extack_set(ext,
				"%s is neither a regular file nor a block "
				"device",
				blk->p.path);
		return -EINVAL;
	}
	blk->is_bdev = S_ISBLK(st.st_mode);
	return 0;
}

/*
 * A file whose I/O is a memcpy, never a wait for a device (hugetlbfs is
 * not one: it has no write()).
 */
static bool file_in_memory(const struct blk_dev *blk)
{
	struct statfs sf;

	if (blk->is_bdev || fstatfs(blk->fd, &sf))
		return false;
	return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

int blk_file_open(struct blk_dev *blk, struct vdpa_extack *ext)
{
	uint64_t size;
	int ret;

	blk->ops = &blk_file_ops;
	ret = file_open_fd(blk, ext);
	if (!ret)
		blk->inline_io = blk->p.aio == UVDPA_BLK_AIO_INLINE ||
				 (blk->p.aio == UVDPA_BLK_AIO_AUTO &&
				  file_in_memory(blk));
	if (!ret && blk->p.direct)
		ret = file_dio_setup(blk, ext);
	if (!ret)
		ret = file_size(blk, &size);
	if (!ret)
		ret = blk_init_capacity(blk, size, ext);
	blk->max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
	return ret;
}

/* Grow a writable regular file to @bytes; a block device must be large. */
static int file_resize(struct blk_dev *blk, uint64_t bytes,
		       struct vdpa_extack *ext)
{
	uint64_t size;
	int ret = file_size(blk, &size);

	if (ret || bytes <= size)
		return ret;
	if (blk->is_bdev || blk->p.readonly) {
		vdpa_extack_set(ext,
				"capacity %llu exceeds the size of %s (%llu "
				"bytes)%s",
				(unsigned long long)bytes, blk->p.path,
				(unsigned long long)size,
				blk->is_bdev ? ""
					     : " and the device is readonly");
		return -EINVAL;
	}
	if (ftruncate(blk->fd, (off_t)bytes)) {
		ret = -errno;
		vdpa_extack_set(ext, "cannot grow %s to %llu bytes: %s",
				blk->p.path, (unsigned long long)bytes,
				strerror(-ret));
		return ret;
	}
	return 0;
}

static void file_free(struct blk_dev *blk)
{
	if (blk->fd >= 0)
		close(blk->fd);
	blk->fd = -1;
}

const struct blk_backend_ops blk_file_ops = {
	.submit = file_submit,
	.cqe = file_cqe,
	.post = file_post,
	.resize = file_resize,
	.free = file_free,
};
