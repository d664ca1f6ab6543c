// SPDX-License-Identifier: MIT
/*
 * virtio-blk → a file: the FUSE filesystem holding one regular file per
 * blk device bound to virtio_vdpa (virtio_vdpa.h, blk_internal.h).
 *
 * It is served by one loop thread with libfuse's low-level API and
 * asynchronous answers: a read or write becomes device requests and the
 * FUSE request is answered when the device completes them, so the
 * kernel's parallel requests (async_dio, async_read) reach the device as a
 * queue depth without a thread per request.
 *
 * The files behave as a block device does where a regular file has no
 * answer: their size is the capacity and cannot change, fallocate
 * takes whole blocks only, O_TRUNC and truncate are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "blk_internal.h"

#define VV_TIMEOUT 1.0 /* attribute and entry cache, in seconds */
#define VV_FUSE_BATCH 32 /* FUSE requests read per wakeup */
#define VV_EVENTS 32
#define VV_SPIN_NS 20000 /* see vv_spin() */
/* in-flight asynchronous requests the kernel lets us have */
#define VV_MAX_BACKGROUND 256

void vv_fs_log(struct vv_blk_fs *fs, int level, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	if (!fs->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fs->log(level, "%s", msg);
}

/* ---- libfuse's messages: kept for the extack, passed to the log ---- */

static __thread char vv_fuse_msg[160];
static vv_log_fn vv_fuse_log_to; /* the last filesystem's log */

__attribute__((format(printf, 2, 0))) static void
vv_fuse_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vv_log_fn to = __atomic_load_n(&vv_fuse_log_to, __ATOMIC_RELAXED);
	size_t n;

	vsnprintf(vv_fuse_msg, sizeof(vv_fuse_msg), fmt, ap);
	n = strlen(vv_fuse_msg);
	while (n && vv_fuse_msg[n - 1] == '\n')
		vv_fuse_msg[--n] = 0;
	if (to)
		to(level <= FUSE_LOG_ERR      ? 0
		   : level <= FUSE_LOG_NOTICE ? 1
					      : 3,
		   "libfuse: %s", vv_fuse_msg);
}

/* ---- lookups (fs->lock held) ---- */

static struct vv_blk *vv_file(struct vv_blk_fs *fs, fuse_ino_t ino)
{
	struct vv_blk *b;

	list_for_each_entry(b, &fs->files, link)
		if (b->ino == ino)
			return b;
	return NULL;
}

static struct vv_blk *vv_file_named(struct vv_blk_fs *fs, const char *name)
{
	struct vv_blk *b;

	list_for_each_entry(b, &fs->files, link)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}

static struct vv_blk_fs *vv_req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * The file behind an open handle or a known inode: NULL, with @req
 * answered EIO, when its device went (the numbers are never reused).
 */
static struct vv_blk *vv_file_io(fuse_req_t req, fuse_ino_t ino)
{
	struct vv_blk *b = vv_file(vv_req_fs(req), ino);

	if (!b || b->dead) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : EIO);
		return NULL;
	}
	return b;
}

static void vv_stat_root(struct vv_blk_fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_atim = st->st_mtim = st->st_ctim = fs->mounted;
}

static void vv_stat_file(const struct vv_blk *b, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = b->ino;
	st->st_mode = S_IFREG | b->mode;
	st->st_nlink = 1;
	st->st_uid = b->uid;
	st->st_gid = b->gid;
	st->st_size = (off_t)vv_blk_size(b);
	st->st_blksize = b->blksize;
	st->st_blocks = st->st_size / 512;
	st->st_atim = st->st_mtim = st->st_ctim = b->fs->mounted;
}

/* ---- metadata ---- */

static void vv_op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* the kernel's parallel requests are our queue depth */
	conn->want |=
		conn->capable & (FUSE_CAP_ASYNC_READ | FUSE_CAP_ASYNC_DIO);
	/* O_TRUNC comes as a setattr we refuse, not as an open flag */
	conn->want &= ~(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE |
			FUSE_CAP_SPLICE_READ);
	conn->max_background = VV_MAX_BACKGROUND;
	conn->congestion_threshold = VV_MAX_BACKGROUND * 3 / 4;
}

static void vv_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vv_blk *b = vv_file_named(vv_req_fs(req), name);
	struct fuse_entry_param e = {
		.attr_timeout = VV_TIMEOUT,
		.entry_timeout = VV_TIMEOUT,
	};

	if (parent != FUSE_ROOT_ID || !b) {
		/* not cached: a device bound later shows up at once */
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.ino = b->ino;
	vv_stat_file(b, &e.attr);
	fuse_reply_entry(req, &e);
}

static void vv_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req); /* inodes live as long as their device */
}

static void vv_op_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

static void vv_op_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct stat st;
	struct vv_blk *b;

	if (ino == FUSE_ROOT_ID) {
		vv_stat_root(vv_req_fs(req), &st);
	} else {
		/* a failed device's file is still there: only I/O fails */
		b = vv_file(vv_req_fs(req), ino);
		if (!b) {
			fuse_reply_err(req, EIO);
			return;
		}
		vv_stat_file(b, &st);
	}
	fuse_reply_attr(req, &st, VV_TIMEOUT);
}

static void vv_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	struct vv_blk *b;
	struct stat st;

	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!(b = vv_file_io(req, ino)))
		return;
	if ((to_set & FUSE_SET_ATTR_SIZE) &&
	    (uint64_t)attr->st_size != vv_blk_size(b)) {
		/* the size is the device's capacity */
		fuse_reply_err(req, b->ro ? EROFS : EPERM);
		return;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		b->mode = attr->st_mode & 07777;
	if (to_set & FUSE_SET_ATTR_UID)
		b->uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		b->gid = attr->st_gid;
	vv_stat_file(b, &st);
	fuse_reply_attr(req, &st, VV_TIMEOUT);
}

static bool vv_dirent(fuse_req_t req, char *buf, size_t size, size_t *pos,
		      const char *name, fuse_ino_t ino, mode_t type, off_t next)
{
	struct stat st = { .st_ino = ino, .st_mode = type };
	size_t n = fuse_add_direntry(req, buf + *pos, size - *pos, name, &st,
				     next);

	if (n > size - *pos)
		return false;
	*pos += n;
	return true;
}

/* Offsets: "." 1, ".." 2, a file the number after its inode. */
static void vv_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	struct vv_blk_fs *fs = vv_req_fs(req);
	char *buf = malloc(size);
	size_t pos = 0;
	struct vv_blk *b;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if ((off < 1 &&
	     !vv_dirent(req, buf, size, &pos, ".", FUSE_ROOT_ID, S_IFDIR, 1)) ||
	    (off < 2 &&
	     !vv_dirent(req, buf, size, &pos, "..", FUSE_ROOT_ID, S_IFDIR, 2)))
		goto out;
	list_for_each_entry(b, &fs->files, link)
		if ((off_t)b->ino >= off &&
		    !vv_dirent(req, buf, size, &pos, b->name, b->ino, S_IFREG,
			       (off_t)b->ino + 1))
			break;
out:
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void vv_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct vv_blk_fs *fs = vv_req_fs(req);
	struct statvfs sv = {
		.f_bsize = VV_PAGE,
		.f_frsize = VV_PAGE,
		.f_files = fs->nfiles + 1,
		.f_namemax = VDPA_NAME_MAX - 1,
	};
	struct vv_blk *b;

	list_for_each_entry(b, &fs->files, link)
		sv.f_blocks += vv_blk_size(b) / VV_PAGE;
	fuse_reply_statfs(req, &sv);
}

/* Files come and go with devices, never by a system call. */
static void vv_op_refuse(fuse_req_t req)
{
	fuse_reply_err(req, EPERM);
}

static void vv_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	vv_op_refuse(req);
}

static void vv_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	vv_op_refuse(req);
}

static void vv_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	vv_op_refuse(req);
}

static void vv_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	vv_op_refuse(req);
}

static void vv_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		       const char *newname)
{
	vv_op_refuse(req);
}

static void vv_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			  const char *name)
{
	vv_op_refuse(req);
}

static void vv_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	vv_op_refuse(req);
}

/* ---- data ---- */

static void vv_op_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct vv_blk *b = vv_file(vv_req_fs(req), ino);

	if (!b) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (b->dead) {
		fuse_reply_err(req, EIO);
		return;
	}
	/* root passes default_permissions whatever the mode says */
	if ((fi->flags & O_ACCMODE) != O_RDONLY && b->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* only this driver changes the device while the file exists */
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void vv_op_release(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void vv_op_flush(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0); /* close(): fsync is what flushes */
}

/* @size cut at the end of the file; 0 when @off is not inside it. */
static size_t vv_clip(const struct vv_blk *b, off_t off, size_t size)
{
	uint64_t fsize = vv_blk_size(b);

	if (off < 0 || (uint64_t)off >= fsize)
		return 0;
	return size < fsize - (uint64_t)off ? size : fsize - (uint64_t)off;
}

static void vv_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct vv_blk *b = vv_file_io(req, ino);
	int ret;

	if (!b)
		return;
	if (!(size = vv_clip(b, off, size))) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	ret = vv_io_rw(b, req, VV_OP_READ, (uint64_t)off, size, NULL);
	if (ret)
		fuse_reply_err(req, -ret);
}

static void vv_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			size_t size, off_t off, struct fuse_file_info *fi)
{
	struct vv_blk *b = vv_file_io(req, ino);
	int ret;

	if (!b)
		return;
	if (b->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (!size) {
		fuse_reply_write(req, 0);
		return;
	}
	if (!(size = vv_clip(b, off, size))) {
		fuse_reply_err(req, ENOSPC); /* as past a block device's end */
		return;
	}
	b->fs->rx_ino = b->ino; /* the next request goes to its buffers */
	ret = vv_io_rw(b, req, VV_OP_WRITE, (uint64_t)off, size, buf);
	if (ret)
		fuse_reply_err(req, -ret);
}

static void vv_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct vv_blk *b = vv_file_io(req, ino);
	int ret;

	if (!b)
		return;
	if (!b->flush) {
		fuse_reply_err(req, 0); /* no volatile cache to flush */
		return;
	}
	ret = vv_io_flush(b, req, NULL);
	if (ret)
		fuse_reply_err(req, -ret);
}

/* The directory holds every device: flush them all. */
static void vv_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			   struct fuse_file_info *fi)
{
	struct vv_group *g = calloc(1, sizeof(*g));
	struct vv_blk *b;
	int ret;

	if (!g) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	g->req = req;
	g->pending = 1;
	list_for_each_entry(b, &vv_req_fs(req)->files, link) {
		if (b->dead || !b->flush)
			continue;
		ret = vv_io_flush(b, NULL, g);
		if (ret && !g->err)
			g->err = -ret;
	}
	vv_group_put(g, 0);
}

/*
 * Block device semantics (Linux blkdev_fallocate): whole blocks, within
 * the size. A punched hole must read back zeros, which DISCARD does not
 * promise: it becomes WRITE_ZEROES with UNMAP (the device may deallocate).
 */
static int vv_fallocate(struct vv_blk *b, fuse_req_t req, int mode,
			uint64_t off, uint64_t len)
{
	uint64_t size = vv_blk_size(b);
	uint32_t flags = 0;

	switch (mode & ~FALLOC_FL_KEEP_SIZE) {
	case 0:
		/* every block of the file exists already */
		return off + len > size && !(mode & FALLOC_FL_KEEP_SIZE)
			       ? -ENOSPC
			       : 1;
	case FALLOC_FL_PUNCH_HOLE:
		if (!(mode & FALLOC_FL_KEEP_SIZE))
			return -EOPNOTSUPP;
		flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		break;
	case FALLOC_FL_ZERO_RANGE:
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (b->ro)
		return -EROFS;
	if ((off | len) & (b->lbs - 1) || off >= size)
		return -EINVAL;
	if (len > size - off) {
		if (!(mode & FALLOC_FL_KEEP_SIZE))
			return -EINVAL;
		len = size - off;
	}
	if (!b->wz)
		return -EOPNOTSUPP;
	return vv_io_zero(b, req, flags, off, len);
}

static void vv_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			    off_t len, struct fuse_file_info *fi)
{
	struct vv_blk *b = vv_file_io(req, ino);
	int ret;

	if (!b)
		return;
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	ret = vv_fallocate(b, req, mode, (uint64_t)off, (uint64_t)len);
	if (ret)
		fuse_reply_err(req, ret > 0 ? 0 : -ret);
}

static const struct fuse_lowlevel_ops vv_fuse_ops = {
	.init = vv_op_init,
	.lookup = vv_op_lookup,
	.forget = vv_op_forget,
	.forget_multi = vv_op_forget_multi,
	.getattr = vv_op_getattr,
	.setattr = vv_op_setattr,
	.readdir = vv_op_readdir,
	.statfs = vv_op_statfs,
	.mknod = vv_op_mknod,
	.mkdir = vv_op_mkdir,
	.unlink = vv_op_unlink,
	.rmdir = vv_op_unlink,
	.rename = vv_op_rename,
	.link = vv_op_link,
	.symlink = vv_op_symlink,
	.create = vv_op_create,
	.open = vv_op_open,
	.release = vv_op_release,
	.flush = vv_op_flush,
	.read = vv_op_read,
	.write = vv_op_write,
	.fsync = vv_op_fsync,
	.fsyncdir = vv_op_fsyncdir,
	.fallocate = vv_op_fallocate,
};

/* ---- the loop thread ---- */

/* The kernel ended the session (umount, or a connection abort). */
static void vv_fuse_gone(struct vv_blk_fs *fs)
{
	if (fs->fuse_gone)
		return;
	fs->fuse_gone = true;
	epoll_ctl(fs->epfd, EPOLL_CTL_DEL, fuse_session_fd(fs->se), NULL);
	vv_fs_log(fs, 0, "%s: the FUSE session ended (unmounted from outside?)",
		  fs->mountpoint);
}

/*
 * Receive the next request into a free receive buffer of the file the
 * last write went to (blk_io.c): libfuse reads into fbuf.mem when it is
 * set, se->bufsize bytes at most, and splice is not asked for. Until
 * libfuse's own buffer exists (the first request) its size is unknown.
 */
static void vv_rx_pick(struct vv_blk_fs *fs)
{
	struct vv_blk *b;

	fs->rx_b = NULL;
	fs->fbuf.mem = fs->own_mem;
	if (!fs->rx_ok)
		return;
	list_for_each_entry(b, &fs->files, link) {
		if (b->ino != fs->rx_ino)
			continue;
		if (b->dead || !b->nrx_free)
			return; /* libfuse's buffer, and a copy */
		fs->rx_b = b;
		fs->rx_slot = b->rx_free[--b->nrx_free];
		fs->fbuf.mem = vv_rx_mem(b, fs->rx_slot);
		return;
	}
}

/* The request is processed: keep the buffer only if a write took it. */
static void vv_rx_done(struct vv_blk_fs *fs)
{
	if (fs->rx_b) {
		if (fs->rx_slot != VV_NO_RX)
			vv_rx_put(fs->rx_b, fs->rx_slot);
		fs->rx_b = NULL;
		fs->fbuf.mem = fs->own_mem;
		return;
	}
	if (fs->own_mem || !fs->fbuf.mem)
		return;
	/* libfuse's bufsize is at most what it allocated for itself */
	fs->own_mem = fs->fbuf.mem;
	fs->rx_ok = malloc_usable_size(fs->own_mem) <= VV_RX_CAP;
	if (!fs->rx_ok)
		vv_fs_log(fs, 1,
			  "%s: libfuse's receive buffer is %zu bytes: "
			  "writes are copied",
			  fs->mountpoint, malloc_usable_size(fs->own_mem));
}

static void vv_fuse_read(struct vv_blk_fs *fs)
{
	for (int i = 0; i < VV_FUSE_BATCH; i++) {
		int ret;

		vv_rx_pick(fs);
		ret = fuse_session_receive_buf(fs->se, &fs->fbuf);
		if (ret > 0 && !fuse_session_exited(fs->se))
			fuse_session_process_buf(fs->se, &fs->fbuf);
		vv_rx_done(fs);
		if (ret == -EAGAIN || ret == -EINTR)
			return;
		if (ret <= 0 || fuse_session_exited(fs->se)) {
			vv_fuse_gone(fs);
			return;
		}
	}
}

static void vv_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: someone drained it already */
}

static void vv_dispatch(struct vv_blk_fs *fs, struct vv_ev *ev)
{
	struct vv_queue *q;
	struct vv_blk *b;

	switch (ev->kind) {
	case VV_EV_FUSE:
		vv_fuse_read(fs);
		break;
	case VV_EV_WAKE:
		vv_drain(fs->wakefd);
		break;
	case VV_EV_VQ:
		q = ev->obj;
		if (q->b->dead)
			break; /* an event from before its removal */
		vv_drain(q->b->vd.vqs[q->idx].callfd);
		vv_io_complete(q);
		break;
	case VV_EV_CONFIG:
		b = ev->obj;
		if (!b->dead)
			vv_blk_config_changed(b);
		break;
	}
}

static int64_t vv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static inline void vv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * With requests just handed to a device, wait for its first answer a
 * little on the CPU before sleeping: a device that is awake answers in a
 * few microseconds, and its interrupt would cost a sleep and a wakeup of
 * this thread for every batch. Memory reads only: no system call, no
 * FUSE lock. Bounded, so a slow or polling-less device costs at most this.
 */
static void vv_spin(struct vv_blk_fs *fs)
{
	int64_t end = vv_now_ns() + VV_SPIN_NS;
	bool busy;

	do {
		if (vv_io_poll(fs, &busy)) {
			vv_io_kick(fs);
			return;
		}
		vv_cpu_relax();
	} while (busy && vv_now_ns() < end);
}

static void *vv_loop(void *arg)
{
	struct vv_blk_fs *fs = arg;
	struct epoll_event evs[VV_EVENTS];

	for (;;) {
		int n = epoll_wait(fs->epfd, evs, VV_EVENTS, -1);

		pthread_mutex_lock(&fs->lock);
		if (fs->stop)
			break;
		for (int i = 0; i < n; i++)
			vv_dispatch(fs, evs[i].data.ptr);
		vv_io_kick(fs);
		vv_spin(fs);
		fs->gen++;
		pthread_cond_broadcast(&fs->cond);
		pthread_mutex_unlock(&fs->lock);
	}
	fs->running = false;
	pthread_cond_broadcast(&fs->cond);
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

void vv_fs_barrier(struct vv_blk_fs *fs)
{
	uint64_t gen = fs->gen, one = 1;

	if (write(fs->wakefd, &one, sizeof(one)) < 0)
		return; /* saturated: the loop is woken anyway */
	while (fs->running && fs->gen == gen)
		pthread_cond_wait(&fs->cond, &fs->lock);
}

/* ---- the mount point ---- */

/* mountinfo escapes blanks and backslashes as octal. */
static void vv_unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = 0;
}

/* Whether the topmost mount at @path is a FUSE filesystem. */
static bool vv_fuse_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, mp[4096], type[64];
	size_t cap = 0;
	bool fuse = false;

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%63s", type) != 1)
			continue;
		vv_unescape(mp);
		if (!strcmp(mp, path))
			fuse = !strncmp(type, "fuse", 4);
	}
	free(line);
	fclose(f);
	return fuse;
}

/* @path made absolute through its parent; the last part may be a mount. */
static char *vv_abspath(const char *path)
{
	char *copy = strdup(path), *slash, *parent, *abs = NULL;
	const char *base;

	if (!copy)
		return NULL;
	for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
		copy[n - 1] = 0;
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = 0;
		base = slash + 1;
		parent = realpath(slash == copy ? "/" : copy, NULL);
	} else {
		base = copy;
		parent = realpath(".", NULL);
	}
	if (parent && *base &&
	    asprintf(&abs, "%s/%s", strcmp(parent, "/") ? parent : "", base) <
		    0)
		abs = NULL;
	free(parent);
	free(copy);
	return abs;
}

/* Detach what a killed server left, and make the directory. */
static int vv_mnt_prepare(struct vv_blk_fs *fs, struct vdpa_extack *ext)
{
	const char *mp = fs->mountpoint;
	struct stat st;

	for (int i = 0; i < 16; i++) {
		/* mountinfo first: stat on a hung server would hang */
		bool stale = vv_fuse_mounted(mp);

		if (!stale && !stat(mp, &st)) {
			if (S_ISDIR(st.st_mode))
				return 0;
			vdpa_extack_set(ext, "%s is not a directory", mp);
			return -ENOTDIR;
		}
		if (!stale && errno == ENOENT) {
			if (!mkdir(mp, 0755) || errno == EEXIST)
				continue;
			vdpa_extack_set(ext, "cannot create %s: %s", mp,
					strerror(errno));
			return -errno;
		}
		if (!stale && errno != ENOTCONN && errno != ECONNABORTED) {
			vdpa_extack_set(ext, "%s: %s", mp, strerror(errno));
			return -errno;
		}
		if (umount2(mp, MNT_DETACH)) {
			vdpa_extack_set(ext,
					"cannot detach the stale mount "
					"at %s: %s",
					mp, strerror(errno));
			return -errno;
		}
		vv_fs_log(fs, 1, "%s: detached a stale FUSE mount", mp);
	}
	vdpa_extack_set(ext, "%s: too many stale mounts", mp);
	return -ELOOP;
}

static int vv_fuse_mount(struct vv_blk_fs *fs, struct vdpa_extack *ext)
{
	char prog[] = "uvdpad", o[] = "-o",
	     opts[] = "allow_other,default_permissions,fsname=uvdpa,"
		      "subtype=uvdpa";
	char *argv[] = { prog, o, opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	if (access("/dev/fuse", R_OK | W_OK)) {
		vdpa_extack_set(ext,
				"/dev/fuse: %s (virtio-blk files need "
				"FUSE)",
				strerror(errno));
		return -errno;
	}
	vv_fuse_msg[0] = 0;
	fs->se = fuse_session_new(&args, &vv_fuse_ops, sizeof(vv_fuse_ops), fs);
	fuse_opt_free_args(&args);
	if (!fs->se) {
		vdpa_extack_set(ext, "FUSE: %s", vv_fuse_msg);
		return -ENOMEM;
	}
	if (fuse_session_mount(fs->se, fs->mountpoint)) {
		/* fusermount3, the unprivileged way, says why on stderr */
		vdpa_extack_set(
			ext, "cannot mount FUSE at %s: %s", fs->mountpoint,
			*vv_fuse_msg ? vv_fuse_msg
				     : "needs CAP_SYS_ADMIN, or "
				       "user_allow_other in "
				       "/etc/fuse.conf for fusermount3");
		fuse_session_destroy(fs->se);
		fs->se = NULL;
		return -EPERM;
	}
	return 0;
}

static int vv_loop_start(struct vv_blk_fs *fs)
{
	int fd = fuse_session_fd(fs->se);
	struct epoll_event e = { .events = EPOLLIN };
	int ret;

	/* replies never block; reads must not, so the loop sees its queues */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		return -errno;
	fs->epfd = epoll_create1(EPOLL_CLOEXEC);
	fs->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->epfd < 0 || fs->wakefd < 0)
		return -errno;
	e.data.ptr = &fs->fuse_ev;
	if (epoll_ctl(fs->epfd, EPOLL_CTL_ADD, fd, &e))
		return -errno;
	e.data.ptr = &fs->wake_ev;
	if (epoll_ctl(fs->epfd, EPOLL_CTL_ADD, fs->wakefd, &e))
		return -errno;
	fs->running = true;
	ret = pthread_create(&fs->thread, NULL, vv_loop, fs);
	if (ret) {
		fs->running = false;
		return -ret;
	}
	pthread_setname_np(fs->thread, "uvdpa-blk");
	fs->thread_started = true;
	return 0;
}

struct vv_blk_fs *vv_blk_fs_new(const char *mountpoint, vv_log_fn log,
				struct vdpa_extack *ext, int *err)
{
	struct vv_blk_fs *fs = calloc(1, sizeof(*fs));
	int ret = -ENOMEM;

	if (!fs)
		goto out;
	fs->log = log;
	fs->epfd = fs->wakefd = -1;
	fs->uid = geteuid();
	fs->gid = getegid();
	fs->next_ino = FUSE_ROOT_ID + 1;
	fs->fuse_ev = (struct vv_ev){ VV_EV_FUSE, fs };
	fs->wake_ev = (struct vv_ev){ VV_EV_WAKE, fs };
	clock_gettime(CLOCK_REALTIME, &fs->mounted);
	list_init(&fs->files);
	list_init(&fs->dirty);
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->cond, NULL);
	__atomic_store_n(&vv_fuse_log_to, log, __ATOMIC_RELAXED);
	fuse_set_log_func(vv_fuse_log);
	errno = 0;
	fs->mountpoint = vv_abspath(mountpoint);
	if (!fs->mountpoint) {
		ret = errno ? -errno : -ENOMEM;
		vdpa_extack_set(ext, "%s: %s", mountpoint, strerror(-ret));
		goto out;
	}
	if ((ret = vv_mnt_prepare(fs, ext)) || (ret = vv_fuse_mount(fs, ext)))
		goto out;
	if ((ret = vv_loop_start(fs))) {
		vdpa_extack_set(ext, "FUSE loop: %s", strerror(-ret));
		goto out;
	}
	return fs;
out:
	vv_blk_fs_free(fs);
	*err = ret;
	return NULL;
}

void vv_blk_fs_free(struct vv_blk_fs *fs)
{
	uint64_t one = 1;

	if (!fs)
		return;
	if (fs->nfiles)
		vv_fs_log(fs, 0, "%s: unmounted with %u files left",
			  fs->mountpoint, fs->nfiles);
	if (fs->thread_started) {
		pthread_mutex_lock(&fs->lock);
		fs->stop = true;
		pthread_mutex_unlock(&fs->lock);
		if (write(fs->wakefd, &one, sizeof(one)) < 0)
			vv_fs_log(fs, 0, "wake: %s", strerror(errno));
		pthread_join(fs->thread, NULL);
	}
	if (fs->se) {
		fuse_session_unmount(fs->se);
		fuse_session_destroy(fs->se);
	}
	free(fs->fbuf.mem);
	if (fs->epfd >= 0)
		close(fs->epfd);
	if (fs->wakefd >= 0)
		close(fs->wakefd);
	pthread_cond_destroy(&fs->cond);
	pthread_mutex_destroy(&fs->lock);
	free(fs->mountpoint);
	free(fs);
}

unsigned int vv_blk_fs_count(const struct vv_blk_fs *fs)
{
	return __atomic_load_n(&fs->nfiles, __ATOMIC_RELAXED);
}
