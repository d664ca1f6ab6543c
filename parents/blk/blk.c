// SPDX-License-Identifier: MIT
/*
 * The `blk` parent (blk.h; the pieces are described in blk_priv.h): its
 * management device, what dev_add checks, the config space, resize and
 * the per-queue counters.
 *
 * Config space (virtio 1.2 5.2.4): capacity in 512-byte sectors whatever
 * the logical block size; blk_size the logical block size; size_max and
 * seg_max bound a request to BLK_MAX_IO bytes; topology says nothing
 * beyond the logical block; writeback is the cache mode, which a driver
 * that negotiated CONFIG_WCE may change; one discard or write-zeroes
 * segment per request.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/uapi.h>

#include "blk_priv.h"

/* struct virtio_blk_config as the kernel has it, zoned fields included */
#define BLK_CONFIG_SIZE 96

_Static_assert(sizeof(struct virtio_blk_config) <= BLK_CONFIG_SIZE,
	       "virtio_blk_config grew past the kernel's");

#define BLK_EXT_ATTRS                                                          \
	(UVDPA_EXT_BIT(UVDPA_ATTR_BLK_PATH) |                                  \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_READONLY) |                              \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_NUM_QUEUES) |                            \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_QUEUE_SIZE) |                            \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_DIRECT) |                                \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_WRITEBACK) |                             \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_SERIAL) |                                \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_LOGICAL_BLOCK_SIZE) |                    \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_CAPACITY) |                              \
	 UVDPA_EXT_BIT(UVDPA_ATTR_BLK_AIO))

static bool blk_given(const struct vdpa_dev_set_config *c, unsigned int attr)
{
	return c->ext_mask & UVDPA_EXT_BIT(attr);
}

/* ---- dev add: the parameters ---- */

static int blk_parse_path(const struct vdpa_dev_set_config *c,
			  struct blk_params *p, struct vdpa_extack *ext)
{
	p->path = blk_given(c, UVDPA_ATTR_BLK_PATH) ? c->blk.path : NULL;
	if (!p->path || !*p->path) {
		vdpa_extack_set(ext, "path is required: a file, a block "
				     "device or an NBD URI");
		return -EINVAL;
	}
	if (strlen(p->path) >= PATH_MAX) {
		vdpa_extack_set(ext, "path is longer than %d bytes",
				PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	p->nbd = blk_is_nbd_uri(p->path);
	return 0;
}

static int blk_parse_queues(const struct vdpa_dev_set_config *c,
			    struct blk_params *p, struct vdpa_extack *ext)
{
	p->num_queues =
		blk_given(c, UVDPA_ATTR_BLK_NUM_QUEUES) ? c->blk.num_queues : 1;
	p->queue_size = blk_given(c, UVDPA_ATTR_BLK_QUEUE_SIZE)
				? c->blk.queue_size
				: BLK_QUEUE_SIZE_DEFAULT;
	if (!p->num_queues || p->num_queues > BLK_NUM_QUEUES_MAX) {
		vdpa_extack_set(ext, "num_queues must be between 1 and %d",
				BLK_NUM_QUEUES_MAX);
		return -EINVAL;
	}
	if (p->queue_size < 2 || p->queue_size > BLK_QUEUE_SIZE_MAX ||
	    (p->queue_size & (p->queue_size - 1))) {
		vdpa_extack_set(ext,
				"queue_size must be a power of two between 2 "
				"and %d",
				BLK_QUEUE_SIZE_MAX);
		return -EINVAL;
	}
	return 0;
}

static int blk_parse_geometry(const struct vdpa_dev_set_config *c,
			      struct blk_params *p, struct vdpa_extack *ext)
{
	p->lbs = blk_given(c, UVDPA_ATTR_BLK_LOGICAL_BLOCK_SIZE)
			 ? c->blk.logical_block_size
			 : 512;
	if (p->lbs != 512 && p->lbs != 4096) {
		vdpa_extack_set(ext, "logical_block_size must be 512 or 4096");
		return -EINVAL;
	}
	if (!blk_given(c, UVDPA_ATTR_BLK_CAPACITY))
		return 0;
	p->capacity = c->blk.capacity;
	if (!p->capacity || p->capacity % p->lbs) {
		vdpa_extack_set(ext,
				"capacity %llu is not a positive multiple of "
				"the logical block size %u",
				(unsigned long long)p->capacity, p->lbs);
		return -EINVAL;
	}
	return 0;
}

static int blk_parse_modes(const struct vdpa_dev_set_config *c,
			   struct blk_params *p, struct vdpa_extack *ext)
{
	const char *serial =
		blk_given(c, UVDPA_ATTR_BLK_SERIAL) ? c->blk.serial : NULL;

	p->readonly = blk_given(c, UVDPA_ATTR_BLK_READONLY) && c->blk.readonly;
	p->direct = blk_given(c, UVDPA_ATTR_BLK_DIRECT) && c->blk.direct;
	p->writeback =
		!blk_given(c, UVDPA_ATTR_BLK_WRITEBACK) || c->blk.writeback;
	if (p->direct && p->nbd) {
		vdpa_extack_set(ext, "direct applies to files and block "
				     "devices, not to NBD");
		return -EINVAL;
	}
	p->aio = blk_given(c, UVDPA_ATTR_BLK_AIO) ? c->blk.aio
						  : UVDPA_BLK_AIO_AUTO;
	if (p->aio > UVDPA_BLK_AIO_INLINE) {
		vdpa_extack_set(ext, "aio must be auto, io_uring or inline");
		return -EINVAL;
	}
	if (p->aio != UVDPA_BLK_AIO_AUTO && p->nbd) {
		vdpa_extack_set(ext, "aio applies to files and block devices, "
				     "not to NBD");
		return -EINVAL;
	}
	if (serial && strlen(serial) > BLK_SERIAL_MAX) {
		vdpa_extack_set(ext, "serial is longer than %d bytes",
				BLK_SERIAL_MAX);
		return -EINVAL;
	}
	/* GET_ID returns 20 bytes, NUL padded, not terminated when full */
	if (serial)
		strncpy(p->serial, serial, sizeof(p->serial));
	return 0;
}

/* What dev add asked for, with the defaults; checks that need no I/O. */
static int blk_params_parse(const struct vdpa_dev_set_config *c,
			    struct blk_params *p, struct vdpa_extack *ext)
{
	int ret;

	memset(p, 0, sizeof(*p));
	ret = blk_parse_path(c, p, ext);
	if (!ret)
		ret = blk_parse_queues(c, p, ext);
	if (!ret)
		ret = blk_parse_geometry(c, p, ext);
	if (!ret)
		ret = blk_parse_modes(c, p, ext);
	return ret;
}

static uint64_t blk_features(const struct blk_params *p)
{
	uint64_t f = BLK_FEATURES & ~BIT_ULL(VIRTIO_BLK_F_RO);

	if (p->readonly)
		f = (f | BIT_ULL(VIRTIO_BLK_F_RO)) &
		    ~(BIT_ULL(VIRTIO_BLK_F_DISCARD) |
		      BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	return f;
}

int blk_init_capacity(struct blk_dev *blk, uint64_t size,
		      struct vdpa_extack *ext)
{
	uint64_t cap = blk->p.capacity;
	bool growable = !blk->p.nbd && !blk->is_bdev && !blk->p.readonly;
	int ret;

	if (cap > size) {
		ret = blk->ops->resize(blk, cap, ext);
		if (ret)
			return ret;
	} else if (!cap) {
		cap = size - size % blk->p.lbs;
	}
	if (!cap) {
		vdpa_extack_set(ext,
				"%s is smaller than one block (%u bytes)%s",
				blk->p.path, blk->p.lbs,
				growable ? ": give a capacity" : "");
		return -EINVAL;
	}
	blk->capacity = cap;
	return 0;
}

/* ---- the device class ---- */

static int blk_init(struct sim_dev *sim,
		    const struct vdpa_dev_set_config *config,
		    struct vdpa_extack *ext)
{
	struct blk_dev *blk = sim_to_blk(sim);
	int ret;

	blk->fd = -1;
	ret = blk_params_parse(config, &blk->p, ext);
	if (ret)
		return ret;
	snprintf(blk->path, sizeof(blk->path), "%s", blk->p.path);
	blk->p.path = blk->path;
	/* without INDIRECT_DESC a request must fit in the ring */
	blk->seg_max = blk->p.queue_size - 2u;
	if (blk->seg_max > BLK_SEG_MAX)
		blk->seg_max = BLK_SEG_MAX;
	if (!blk->seg_max)
		blk->seg_max = 1;
	blk->wce = blk->p.writeback;
	ret = blk_queues_alloc(blk);
	if (ret)
		return ret;
	if (blk->p.nbd)
		return blk_nbd_open(blk, ext);
	return blk_file_open(blk, ext);
}

static void blk_free(struct sim_dev *sim)
{
	struct blk_dev *blk = sim_to_blk(sim);

	blk_queues_free(blk);
	if (blk->ops)
		blk->ops->free(blk);
}

static void blk_reset(struct sim_dev *sim)
{
	struct blk_dev *blk = sim_to_blk(sim);

	__atomic_store_n(&blk->wce, blk->p.writeback, __ATOMIC_RELAXED);
}

static void blk_get_config(struct sim_dev *sim, void *config)
{
	struct blk_dev *blk = sim_to_blk(sim);
	struct virtio_blk_config *c = config;
	uint32_t lbs_sectors = blk->p.lbs >> VIRTIO_BLK_SECTOR_SHIFT;

	/* rebuilt on every read: only writeback is the driver's to write */
	memset(config, 0, BLK_CONFIG_SIZE);
	c->capacity = htole64(blk_capacity(blk) >> VIRTIO_BLK_SECTOR_SHIFT);
	c->size_max = htole32(BLK_SIZE_MAX);
	c->seg_max = htole32(blk->seg_max);
	c->blk_size = htole32(blk->p.lbs);
	c->min_io_size = htole16(1);
	c->wce = blk_wce(blk);
	c->num_queues = htole16(blk->p.num_queues);
	c->max_discard_sectors = htole32(blk->max_discard_sectors);
	c->max_discard_seg = htole32(1);
	c->discard_sector_alignment = htole32(lbs_sectors);
	c->max_write_zeroes_sectors = htole32(blk->max_discard_sectors);
	c->max_write_zeroes_seg = htole32(1);
	c->write_zeroes_may_unmap = 1;
}

static void blk_set_config(struct sim_dev *sim, void *config)
{
	struct blk_dev *blk = sim_to_blk(sim);
	const struct virtio_blk_config *c = config;

	if (sim->features & BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE))
		__atomic_store_n(&blk->wce, c->wce != 0, __ATOMIC_RELAXED);
}

static int blk_get_stats(struct sim_dev *sim, uint16_t idx,
			 struct vdpa_stats_writer *w, struct vdpa_extack *ext)
{
	const struct blk_stats *st = &sim_to_blk(sim)->queues[idx].st;
	const struct {
		const char *name;
		const uint64_t *value;
	} rows[] = {
		{ "requests", &st->requests },
		{ "read_bytes", &st->read_bytes },
		{ "write_bytes", &st->write_bytes },
		{ "reads", &st->reads },
		{ "writes", &st->writes },
		{ "flushes", &st->flushes },
		{ "discards", &st->discards },
		{ "write_zeroes", &st->write_zeroes },
		{ "errors", &st->errors },
		{ "inflight", &st->inflight },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		uint64_t v = sim_stat_read(rows[i].value);
		int ret;

		/* a malformed ring is this queue's error too */
		if (rows[i].value == &st->errors)
			v += sim_stat_read(&sim->vqs[idx].ring_errors);
		ret = w->put(w, rows[i].name, v);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- the management device ---- */

static int blk_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
		       const struct vdpa_dev_set_config *config,
		       struct vdpa_extack *ext)
{
	struct blk_params p;
	struct sim_dev_attr attr = {
		.mgmt = container_of(mdev, struct sim_mgmt, mdev),
		.name = name,
		.id = VIRTIO_ID_BLOCK,
		.config_size = BLK_CONFIG_SIZE,
		.alloc_size = sizeof(struct blk_dev),
		.ngroups = 1,
		.nas = 1,
		.init = blk_init,
		.serve = blk_serve,
		.get_config = blk_get_config,
		.set_config = blk_set_config,
		.get_stats = blk_get_stats,
		.reset = blk_reset,
		.free = blk_free,
		.vq_workers = true,
		.vq_start = blk_vq_start,
		.vq_stop = blk_vq_stop,
		.vq_idle = blk_vq_idle,
	};
	int err = blk_params_parse(config, &p, ext);

	if (err)
		return err;
	attr.supported_features = blk_features(&p);
	attr.nvqs = p.num_queues;
	attr.vq_num_max = p.queue_size;
	return sim_create(&attr, name, config, ext, &err) ? 0 : err;
}

static void blk_dev_del(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdev)
{
	_vdpa_unregister_device(vdev);
}

static int blk_dev_resize(struct vdpa_mgmt_dev *mdev, struct vdpa_device *vdev,
			  uint64_t capacity, struct vdpa_extack *ext)
{
	struct blk_dev *blk;
	int ret;

	if (vdev->mdev != mdev) {
		vdpa_extack_set(ext, "%s is not a blk device", vdev->name);
		return -EINVAL;
	}
	blk = sim_to_blk(vdpa_to_sim(vdev));
	if (!capacity || capacity % blk->p.lbs) {
		vdpa_extack_set(ext,
				"capacity %llu is not a positive multiple of "
				"the logical block size %u",
				(unsigned long long)capacity, blk->p.lbs);
		return -EINVAL;
	}
	ret = blk->ops->resize(blk, capacity, ext);
	if (ret)
		return ret;
	__atomic_store_n(&blk->capacity, capacity, __ATOMIC_RELAXED);
	sim_config_changed(&blk->sim);
	return 0;
}

static const struct vdpa_mgmtdev_ops blk_mgmtdev_ops = {
	.dev_add = blk_dev_add,
	.dev_del = blk_dev_del,
	.dev_resize = blk_dev_resize,
};

static const uint32_t blk_ids[] = { VIRTIO_ID_BLOCK, 0 };

struct vdpa_mgmt_dev *blk_mgmt_new(struct vdpa_worker_pool *pool,
				   uint32_t poll_us, int *err)
{
	struct sim_mgmt *m = calloc(1, sizeof(*m));

	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	m->pool = pool;
	m->poll_us = poll_us;
	m->mdev.dev_name = "blk";
	m->mdev.ops = &blk_mgmtdev_ops;
	m->mdev.id_table = blk_ids;
	m->mdev.config_attr_mask = BIT_ULL(VDPA_ATTR_DEV_FEATURES);
	m->mdev.ext_attr_mask = BLK_EXT_ATTRS;
	m->mdev.supported_features = BLK_FEATURES;
	m->mdev.max_supported_vqs = BLK_NUM_QUEUES_MAX;
	list_init(&m->mdev.bus_link);
	return &m->mdev;
}

void blk_mgmt_free(struct vdpa_mgmt_dev *m)
{
	if (m)
		free(container_of(m, struct sim_mgmt, mdev));
}
