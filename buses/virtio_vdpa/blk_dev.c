// SPDX-License-Identifier: MIT
/*
 * The virtio-blk driver of one device (Linux drivers/block/virtio_blk.c,
 * over virtio_vdpa's queue setup): negotiation, geometry from the config
 * space, queues, the arena layout, config changes, and the device's file
 * in the filesystem of blk_fuse.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blk_internal.h"

/* Where the arena sits in the device's map: not this process's address. */
#define VV_ARENA_IOVA 0x100000000ull

/*
 * Linux virtio_blk's feature table, less what it has no use for here:
 * DISCARD (a punched hole is WRITE_ZEROES with UNMAP, see blk_fuse.c).
 */
#define VV_BLK_FEATURES                                                        \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) |     \
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |                                    \
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |                                \
	 BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |      \
	 BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) | BIT_ULL(VIRTIO_BLK_F_FLUSH) |        \
	 BIT_ULL(VIRTIO_BLK_F_RO) | BIT_ULL(VIRTIO_BLK_F_MQ) |                 \
	 BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES) |                                  \
	 BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE) | BIT_ULL(VIRTIO_BLK_F_TOPOLOGY))

#define vv_cfg(b, field, ptr)                                                  \
	vdpa_get_config((b)->vdev, offsetof(struct virtio_blk_config, field),  \
			(ptr), sizeof(*(ptr)))

static bool vv_has(const struct vv_blk *b, unsigned int bit)
{
	return b->vd.features & BIT_ULL(bit);
}

static uint32_t vv_cfg32(struct vv_blk *b, unsigned int off)
{
	uint32_t v = 0;

	vdpa_get_config(b->vdev, off, &v, sizeof(v));
	return le32toh(v);
}

uint64_t vv_blk_size(const struct vv_blk *b)
{
	uint64_t cap = __atomic_load_n(&b->capacity, __ATOMIC_RELAXED);
	uint64_t size =
		cap > (uint64_t)INT64_MAX >> 9 ? (uint64_t)INT64_MAX : cap << 9;

	/*
	 * A file size is an off_t, and whole blocks: every request covers
	 * whole blocks, and one reaching into a capacity's partial last block
	 * would go past the device's end.
	 */
	return size & ~(uint64_t)(b->lbs - 1);
}

static uint64_t vv_read_capacity(struct vv_blk *b)
{
	uint64_t cap = 0;

	vv_cfg(b, capacity, &cap);
	return le64toh(cap);
}

/*
 * Sectors per WRITE_ZEROES request, whole blocks: 0 in the config is no
 * limit. A limit below one block leaves no request to make: 0.
 */
static uint32_t vv_zero_max(struct vv_blk *b)
{
	uint32_t v = vv_cfg32(b, offsetof(struct virtio_blk_config,
					  max_write_zeroes_sectors));
	uint32_t per_block = b->lbs >> 9;

	if (!v)
		v = UINT32_MAX;
	return v - v % per_block;
}

static int vv_blk_geometry(struct vv_blk *b, struct vdpa_extack *ext)
{
	uint32_t blk = 512, size_max = 0, seg_max = 1;
	uint8_t pbe = 0;

	if (vv_has(b, VIRTIO_BLK_F_BLK_SIZE))
		blk = vv_cfg32(b, offsetof(struct virtio_blk_config, blk_size));
	/* as Linux's blk_validate_block_size(): a page at most */
	if (blk < 512 || blk > VV_PAGE || !is_power_of_2(blk)) {
		vdpa_extack_set(ext, "virtio-blk: invalid block size %u", blk);
		return -EINVAL;
	}
	b->lbs = blk;
	if (vv_has(b, VIRTIO_BLK_F_TOPOLOGY))
		vv_cfg(b, physical_block_exp, &pbe);
	b->blksize = pbe < 4 && (blk << pbe) > VV_PAGE ? blk << pbe : VV_PAGE;
	if (vv_has(b, VIRTIO_BLK_F_SIZE_MAX))
		size_max = vv_cfg32(
			b, offsetof(struct virtio_blk_config, size_max));
	if (!size_max || size_max > (1u << 20))
		size_max = 1u << 20;
	b->seg_bytes = size_max < blk ? blk : size_max & ~(blk - 1);
	/* we need at least one segment, whatever they say (Linux) */
	if (vv_has(b, VIRTIO_BLK_F_SEG_MAX))
		seg_max = vv_cfg32(b,
				   offsetof(struct virtio_blk_config, seg_max));
	b->seg_max =
		seg_max ? (seg_max < VV_SEG_CAP ? seg_max : VV_SEG_CAP) : 1;
	b->ro = vv_has(b, VIRTIO_BLK_F_RO);
	b->flush = vv_has(b, VIRTIO_BLK_F_FLUSH);
	b->wz = vv_has(b, VIRTIO_BLK_F_WRITE_ZEROES);
	if (b->wz)
		b->max_zero = vv_zero_max(b);
	if (b->wz && !b->max_zero) {
		/* a request of 0 sectors would make no progress, forever */
		vv_fs_log(b->fs, 1,
			  "%s: max_write_zeroes_sectors is below a block of %u "
			  "bytes: no fallocate",
			  b->name, blk);
		b->wz = false;
	}
	b->capacity = vv_read_capacity(b);
	return 0;
}

static uint32_t vv_blk_nqs(struct vv_blk *b)
{
	uint16_t n = 0;

	if (!vv_has(b, VIRTIO_BLK_F_MQ))
		return 1;
	vv_cfg(b, num_queues, &n);
	n = le16toh(n);
	if (!n)
		return 1;
	return n < b->vdev->nvqs ? n : b->vdev->nvqs;
}

static uint32_t vv_qsize(struct vdpa_device *vdev)
{
	uint32_t n = vdev->config->get_vq_num_max(vdev);

	if (n > VV_QSIZE_MAX)
		n = VV_QSIZE_MAX;
	while (n & (n - 1))
		n &= n - 1; /* the split ring wants a power of two */
	return n;
}

/*
 * The arena: rings, request slots and bounce pages of every queue, and
 * the FUSE receive buffers (the memfd takes pages only when they are
 * touched: receive buffers past the largest request stay empty).
 */
static size_t vv_arena_size(uint32_t nqs, uint32_t qsize)
{
	size_t per_q = vq_drv_mem_size(qsize, VV_SEG_CAP + 2) + VV_PAGE +
		       (size_t)qsize * sizeof(struct vv_slot_mem) + 64;

	return nqs * per_q + (size_t)VV_POOL_PAGES * VV_PAGE + VV_PAGE +
	       VV_RX_SLOTS * VV_RX_STRIDE;
}

static int vv_queue_init(struct vv_blk *b, struct vv_queue *q, uint16_t idx)
{
	struct vv_slot_mem *mem;
	uint64_t iova;

	q->b = b;
	q->idx = idx;
	q->drv = &b->vd.vqs[idx].drv;
	q->nslots = q->drv->num;
	list_init(&q->issuing);
	list_init(&q->dirty_link);
	q->ev = (struct vv_ev){ VV_EV_VQ, q };
	mem = virtio_dev_alloc(&b->vd, q->nslots * sizeof(*mem), 64, &iova);
	q->slots = calloc(q->nslots, sizeof(*q->slots));
	q->free = calloc(q->nslots, sizeof(*q->free));
	if (!mem || !q->slots || !q->free)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->nslots; i++) {
		q->slots[i].mem = &mem[i];
		q->slots[i].iova = iova + i * sizeof(*mem);
		q->free[i] = q->nslots - 1 - i;
	}
	q->nfree = q->nslots;
	return 0;
}

static int vv_blk_queues(struct vv_blk *b, uint32_t qsize)
{
	bool ind = vv_has(b, VIRTIO_RING_F_INDIRECT_DESC);
	int ret;

	/* a request without indirect tables must fit the ring */
	if (!ind && b->seg_max > qsize - 2)
		b->seg_max = qsize - 2;
	b->nqs = vv_blk_nqs(b);
	ret = virtio_dev_find_vqs(&b->vd, b->nqs, qsize,
				  ind ? (uint16_t)(b->seg_max + 2) : 0);
	if (ret)
		return ret;
	b->qs = calloc(b->nqs, sizeof(*b->qs));
	if (!b->qs)
		return -ENOMEM;
	for (uint32_t i = 0; i < b->nqs; i++)
		if ((ret = vv_queue_init(b, &b->qs[i], (uint16_t)i)))
			return ret;
	b->pool = virtio_dev_alloc(&b->vd, (size_t)VV_POOL_PAGES * VV_PAGE,
				   VV_PAGE, &b->pool_iova);
	b->free_pages = calloc(VV_POOL_PAGES, sizeof(*b->free_pages));
	if (!b->pool || !b->free_pages)
		return -ENOMEM;
	for (uint32_t i = 0; i < VV_POOL_PAGES; i++)
		b->free_pages[i] = VV_POOL_PAGES - 1 - i;
	b->nfree_pages = VV_POOL_PAGES;
	b->rx = virtio_dev_alloc(&b->vd, VV_RX_SLOTS * VV_RX_STRIDE, VV_PAGE,
				 &b->rx_iova);
	if (!b->rx)
		return -ENOMEM;
	for (uint32_t i = 0; i < VV_RX_SLOTS; i++)
		b->rx_free[i] = VV_RX_SLOTS - 1 - i;
	b->nrx_free = VV_RX_SLOTS;
	return 0;
}

static void vv_blk_config_cb(struct vv_blk *b, int fd)
{
	struct vdpa_callback cb = { .trigger = fd };

	b->vdev->config->set_config_cb(b->vdev, &cb);
}

/* Everything before the file exists; @ext says what failed. */
static int vv_blk_start(struct vv_blk *b, struct vdpa_extack *ext)
{
	uint32_t qsize = vv_qsize(b->vdev);
	int ret;

	if (qsize < 4 || !b->vdev->nvqs) {
		vdpa_extack_set(ext, "virtio-blk: no usable queue");
		return -ENODEV;
	}
	ret = virtio_dev_init(&b->vd, b->vdev,
			      vv_arena_size(b->vdev->nvqs, qsize),
			      VV_ARENA_IOVA);
	if (ret) {
		vdpa_extack_set(ext, "virtio-blk: cannot map the driver's "
				     "memory into the device");
		return ret;
	}
	ret = virtio_dev_negotiate(&b->vd, VV_BLK_FEATURES);
	if (ret) {
		vdpa_extack_set(ext, "virtio-blk: feature negotiation failed");
		return ret;
	}
	if ((ret = vv_blk_geometry(b, ext)))
		return ret;
	if ((ret = vv_blk_queues(b, qsize))) {
		vdpa_extack_set(ext, "virtio-blk: queue setup failed");
		return ret;
	}
	b->cfgfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->cfgfd < 0)
		return -errno;
	vv_blk_config_cb(b, b->cfgfd);
	ret = virtio_dev_driver_ok(&b->vd);
	if (!ret && !(vdpa_get_status(b->vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
		ret = -EIO;
	if (ret)
		vdpa_extack_set(ext,
				"virtio-blk: the device refused DRIVER_OK");
	return ret;
}

static void vv_blk_destroy(struct vv_blk *b)
{
	if (b->cfgfd >= 0)
		vv_blk_config_cb(b, -1);
	virtio_dev_done(&b->vd); /* resets the device */
	if (b->cfgfd >= 0)
		close(b->cfgfd);
	for (uint32_t i = 0; b->qs && i < b->nqs; i++) {
		free(b->qs[i].slots);
		free(b->qs[i].free);
	}
	free(b->qs);
	free(b->free_pages);
	free(b->path);
	free(b);
}

static int vv_epoll(struct vv_blk_fs *fs, int op, int fd, struct vv_ev *ev)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = ev };

	return epoll_ctl(fs->epfd, op, fd, &e) ? -errno : 0;
}

/* Put @b in the filesystem: from now on the loop thread serves it. */
static int vv_blk_publish(struct vv_blk *b)
{
	struct vv_blk_fs *fs = b->fs;
	int ret = 0;

	pthread_mutex_lock(&fs->lock);
	for (uint32_t i = 0; !ret && i < b->nqs; i++)
		ret = vv_epoll(fs, EPOLL_CTL_ADD, b->vd.vqs[i].callfd,
			       &b->qs[i].ev);
	if (!ret)
		ret = vv_epoll(fs, EPOLL_CTL_ADD, b->cfgfd, &b->cfg_ev);
	if (ret) {
		for (uint32_t i = 0; i < b->nqs; i++)
			epoll_ctl(fs->epfd, EPOLL_CTL_DEL, b->vd.vqs[i].callfd,
				  NULL);
	} else {
		b->ino = fs->next_ino++;
		list_add_tail(&b->link, &fs->files);
		fs->nfiles++;
	}
	pthread_mutex_unlock(&fs->lock);
	return ret;
}

struct vv_blk *vv_blk_probe(struct vv_blk_fs *fs, struct vdpa_device *vdev,
			    struct vdpa_extack *ext, int *err)
{
	struct vv_blk *b;
	int ret;

	if (!strcmp(vdev->name, ".") || !strcmp(vdev->name, "..")) {
		vdpa_extack_set(ext, "'%s' cannot name a file", vdev->name);
		*err = -EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		*err = -ENOMEM;
		return NULL;
	}
	b->fs = fs;
	b->vdev = vdev;
	b->cfgfd = -1;
	b->vd.memfd = -1;
	b->mode = 0600;
	b->uid = fs->uid;
	b->gid = fs->gid;
	b->cfg_ev = (struct vv_ev){ VV_EV_CONFIG, b };
	list_init(&b->link);
	list_init(&b->waiting);
	list_init(&b->active);
	snprintf(b->name, sizeof(b->name), "%s", vdev->name);
	ret = vv_blk_start(b, ext);
	if (!ret && asprintf(&b->path, "%s/%s", fs->mountpoint, b->name) < 0) {
		b->path = NULL;
		ret = -ENOMEM;
	}
	if (!ret) {
		if (b->ro)
			b->mode = 0400;
		ret = vv_blk_publish(b);
	}
	if (ret) {
		vv_blk_destroy(b);
		*err = ret;
		return NULL;
	}
	return b;
}

void vv_blk_remove(struct vv_blk *b)
{
	struct vv_blk_fs *fs = b->fs;

	pthread_mutex_lock(&fs->lock);
	b->dead = true;
	vv_io_fail_all(b, EIO);
	list_del(&b->link);
	fs->nfiles--;
	for (uint32_t i = 0; i < b->nqs; i++) {
		list_del(&b->qs[i].dirty_link);
		epoll_ctl(fs->epfd, EPOLL_CTL_DEL, b->vd.vqs[i].callfd, NULL);
	}
	epoll_ctl(fs->epfd, EPOLL_CTL_DEL, b->cfgfd, NULL);
	vv_fs_barrier(fs);
	pthread_mutex_unlock(&fs->lock);
	/*
	 * Outside the lock: the kernel may wait on page locks of requests
	 * the loop thread answers. The page cache goes so that an open
	 * handle reads EIO too, then the name.
	 */
	fuse_lowlevel_notify_inval_inode(fs->se, b->ino, 0, 0);
	fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, b->name,
					 strlen(b->name));
	vv_blk_destroy(b);
}

const char *vv_blk_path(const struct vv_blk *b)
{
	return b->path;
}

void vv_blk_config_changed(struct vv_blk *b)
{
	struct vv_blk_fs *fs = b->fs;
	uint64_t v, cap;

	if (read(b->cfgfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (vdpa_get_status(b->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET) {
		vv_fs_log(fs, 0, "%s: device needs a reset: I/O fails from now",
			  b->name);
		b->dead = true;
		vv_io_fail_all(b, EIO);
		return;
	}
	cap = vv_read_capacity(b);
	if (cap == b->capacity)
		return;
	vv_fs_log(fs, 2, "%s: capacity %llu -> %llu sectors", b->name,
		  (unsigned long long)b->capacity, (unsigned long long)cap);
	__atomic_store_n(&b->capacity, cap, __ATOMIC_RELAXED);
	/*
	 * Attributes only (offset -1): the page cache needs no invalidation
	 * from here, where waiting on a page lock would wait on ourselves;
	 * the kernel trims it when it sees the new size.
	 */
	fuse_lowlevel_notify_inval_inode(fs->se, b->ino, -1, 0);
}
