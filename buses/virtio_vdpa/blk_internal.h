/* SPDX-License-Identifier: MIT */
/*
 * Inside virtio-blk → file (virtio_vdpa.h): the FUSE filesystem
 * (blk_fuse.c), the virtio-blk driver of one device (blk_dev.c) and the
 * request engine between them (blk_io.c).
 *
 * Threads: one loop thread per filesystem reads FUSE requests from
 * /dev/fuse (non-blocking), starts device requests on the queues and
 * answers FUSE when the device completes them, waiting on the FUSE fd and
 * every queue's call eventfd in one epoll. Nothing it does blocks, so a
 * single thread keeps any number of requests in flight (the asynchronous
 * form of a FUSE server). The control thread probes and removes devices.
 * fs->lock serializes the two: every FUSE handler and every completion
 * runs with it held, so the data path state below has one owner at a time.
 */
#ifndef UVDPA_BUSES_VIRTIO_VDPA_BLK_INTERNAL_H
#define UVDPA_BUSES_VIRTIO_VDPA_BLK_INTERNAL_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <uvdpa/list.h>
#include <uvdpa/uapi.h>
#include <uvdpa/virtio_dev.h>

#include "virtio_vdpa.h"

#define VV_PAGE 4096u
#define VV_SEG_CAP 128u /* data segments per request */
#define VV_QSIZE_MAX 1024u
#define VV_POOL_PAGES 4096u /* 16 MiB of bounce pages per device */
#define VV_NO_PAGE UINT32_MAX

/*
 * FUSE receive buffers in the arena (blk_io.c, "receive buffers"): an
 * aligned write received into one goes to the device from where it is.
 * libfuse 3 reads a request with read(fd, mem, se->bufsize), bufsize being
 * FUSE_MAX_MAX_PAGES (256) pages plus a 4 KiB header: VV_RX_CAP bytes
 * leave room for that and for malloc's rounding of libfuse's own buffer,
 * whose usable size is what blk_fuse.c checks against VV_RX_CAP. A
 * buffer starts VV_RX_HDR bytes before a page boundary, so that a
 * FUSE_WRITE's data (after fuse_in_header and fuse_write_in, 40 bytes
 * each) starts on one.
 */
#define VV_RX_SLOTS 8u
#define VV_RX_CAP (256u * VV_PAGE + 2 * VV_PAGE)
#define VV_RX_HDR 80u
#define VV_RX_STRIDE                                                           \
	(((size_t)VV_PAGE - VV_RX_HDR + VV_RX_CAP + VV_PAGE - 1) &             \
	 ~((size_t)VV_PAGE - 1))
#define VV_NO_RX UINT32_MAX

enum vv_ev_kind { VV_EV_FUSE, VV_EV_WAKE, VV_EV_VQ, VV_EV_CONFIG };

/* What an epoll event points at. */
struct vv_ev {
	enum vv_ev_kind kind;
	void *obj;
};

struct vv_blk_fs {
	struct fuse_session *se;
	char *mountpoint; /* absolute */
	vv_log_fn log;
	uid_t uid; /* owner of the files: the daemon's user */
	gid_t gid;
	struct timespec mounted;

	pthread_t thread;
	bool thread_started;
	int epfd;
	int wakefd; /* stop, or a barrier wanted */
	struct vv_ev fuse_ev, wake_ev;
	struct fuse_buf fbuf; /* the loop thread's receive buffer */
	void *own_mem; /* libfuse's buffer for fbuf, when a slot is not used */
	bool rx_ok; /* own_mem fits a receive slot: slots may be used */

	pthread_mutex_t lock; /* guards everything below and every vv_blk's
			       * data path state (see the top of this file) */
	pthread_cond_t cond; /* gen moved */
	uint64_t gen; /* loop iterations, for vv_fs_barrier() */
	bool stop;
	bool running; /* the loop thread has not returned */
	bool fuse_gone; /* the kernel ended the session (umount) */
	struct list_head files; /* vv_blk, by ascending ino */
	unsigned int nfiles;
	fuse_ino_t next_ino;
	struct list_head dirty; /* vv_queue with chains to publish */
	fuse_ino_t rx_ino; /* the file whose slots take the next request */
	struct vv_blk *rx_b; /* while one is processed: the slot's file */
	uint32_t rx_slot; /* and the slot, VV_NO_RX once a write took it */
};

/* A request slot: the header and status of one chain, in the arena. */
struct vv_slot_mem {
	struct virtio_blk_outhdr hdr;
	struct virtio_blk_discard_write_zeroes seg;
	uint8_t status;
	uint8_t pad[15];
};

struct vv_op;

struct vv_slot {
	struct vv_op *op; /* NULL: free, or orphaned by a failed device */
	struct vv_slot_mem *mem;
	uint64_t iova;
};

struct vv_queue {
	struct vv_blk *b;
	uint16_t idx;
	struct vq_drv *drv;
	struct vv_slot *slots;
	uint32_t nslots;
	uint32_t *free; /* stack of free slot indices */
	uint32_t nfree;
	struct list_head issuing; /* vv_op with chains left to add */
	struct list_head dirty_link; /* on fs->dirty */
	struct vv_ev ev;
};

enum vv_op_kind { VV_OP_READ, VV_OP_WRITE, VV_OP_FLUSH, VV_OP_ZERO };

/* fsyncdir: one FLUSH per device, one answer. */
struct vv_group {
	fuse_req_t req;
	unsigned int pending;
	int err;
};

/* One FUSE request being served: one or more device requests. */
struct vv_op {
	struct list_head link; /* b->waiting, then b->active */
	struct list_head issue_link; /* q->issuing */
	struct vv_blk *b;
	struct vv_queue *q;
	fuse_req_t req;
	struct vv_group *group;
	enum vv_op_kind kind;
	uint32_t zero_flags; /* VV_OP_ZERO: WRITE_ZEROES flags */
	uint64_t off; /* the caller's range, in bytes */
	uint64_t len;
	uint64_t start; /* the device range, whole blocks */
	uint64_t total;
	uint64_t cursor; /* bytes of the device range issued */
	bool flush_issued;
	bool rmw; /* an unaligned write: edge blocks read first */
	bool merged; /* rmw: the edge blocks are read and merged */
	uint8_t edges; /* edge reads still to add (bit 0 head, 1 tail) */
	unsigned int inflight;
	int err; /* positive errno */
	uint32_t npages;
	uint32_t *pages; /* bounce pages holding [start, start + total) */
	uint32_t edge_page[2];
	void *hold; /* write data kept while waiting for pages */
	uint32_t rx; /* receive slot holding the write's data, or VV_NO_RX */
	uint64_t rx_iova; /* the data's address there */
};

struct vv_blk {
	struct vv_blk_fs *fs;
	struct list_head link; /* fs->files */
	fuse_ino_t ino;
	char name[VDPA_NAME_MAX];
	char *path;
	struct vdpa_device *vdev;
	struct virtio_dev vd;

	/* from the negotiated features and the config space */
	uint64_t capacity; /* 512-byte sectors; the loop thread updates it */
	uint32_t lbs; /* logical block size: the unit of every request */
	uint32_t blksize; /* st_blksize */
	uint32_t seg_bytes; /* bytes per data segment */
	uint32_t seg_max; /* data segments per request */
	uint32_t max_zero; /* sectors per WRITE_ZEROES request, whole blocks */
	bool ro, flush, wz;

	mode_t mode; /* chmod and chown stick until the device goes */
	uid_t uid;
	gid_t gid;

	bool dead; /* removed or NEEDS_RESET: everything fails with EIO */
	int cfgfd;
	struct vv_ev cfg_ev;
	struct vv_queue *qs;
	uint32_t nqs;
	uint32_t next_q;

	uint8_t *pool; /* VV_POOL_PAGES bounce pages in the arena */
	uint64_t pool_iova;
	uint32_t *free_pages;
	uint32_t nfree_pages;

	uint8_t *rx; /* VV_RX_SLOTS FUSE receive buffers in the arena */
	uint64_t rx_iova;
	uint32_t rx_free[VV_RX_SLOTS]; /* stack of free slots */
	uint32_t nrx_free;
	uint64_t rx_direct; /* writes sent from their receive slot */
	/*
	 * aligned writes copied: received in no slot of this file's (none
	 * was free, or the loop guessed another file would be written)
	 */
	uint64_t rx_copied;

	struct list_head waiting; /* ops not started yet, in arrival order */
	struct list_head active; /* started, not answered */
	unsigned int nrmw; /* active ops with rmw */
};

/* blk_io.c: the request engine. fs->lock held for all of it. */
/*
 * Serve @len bytes at @off (@data for writes). Answers @req itself, now
 * or when the device is done; returns -errno (nothing answered) only when
 * the op cannot even be set up.
 */
int vv_io_rw(struct vv_blk *b, fuse_req_t req, enum vv_op_kind kind,
	     uint64_t off, uint64_t len, const void *data);
/* FLUSH, answered on @req or counted in @group. */
int vv_io_flush(struct vv_blk *b, fuse_req_t req, struct vv_group *group);
/* WRITE_ZEROES of whole blocks. */
int vv_io_zero(struct vv_blk *b, fuse_req_t req, uint32_t flags, uint64_t off,
	       uint64_t len);
/* Receive buffers: slot @i's memory; return @i to @b's free slots. */
void *vv_rx_mem(struct vv_blk *b, uint32_t i);
void vv_rx_put(struct vv_blk *b, uint32_t i);
/* Collect queue @q's completed chains. */
void vv_io_complete(struct vv_queue *q);
/* Collect what the rings of every device hold; the chains collected. */
unsigned int vv_io_poll(struct vv_blk_fs *fs, bool *busy);
/* Answer every op of @b with @err and orphan its chains; @b is dead. */
void vv_io_fail_all(struct vv_blk *b, int err);
/* Publish and kick every queue given chains since the last call. */
void vv_io_kick(struct vv_blk_fs *fs);
/* fsyncdir's group: drop one count, answer when none is left. */
void vv_group_put(struct vv_group *g, int err);

/* blk_dev.c: the device. */
void vv_blk_config_changed(struct vv_blk *b);
uint64_t vv_blk_size(const struct vv_blk *b);

/* blk_fuse.c */
/* Wait until the loop thread starts a new round; fs->lock held. */
void vv_fs_barrier(struct vv_blk_fs *fs);
void vv_fs_log(struct vv_blk_fs *fs, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
