// SPDX-License-Identifier: MIT
/*
 * vdpasim_blk: a 128 MiB ramdisk (Linux vdpa_sim_blk.c, reference §4.3).
 *
 * Where it differs from the kernel, on purpose (reference §11, note):
 *  - an unknown request type gets VIRTIO_BLK_S_UNSUPP, as the spec says;
 *  - a chain without a 16-byte header gets IOERR when it has a writable
 *    status byte; one without any writable byte cannot be answered and
 *    sets NEEDS_RESET;
 *  - IN/OUT are limited to size_max * seg_max bytes (the kernel compares a
 *    sector count against that byte count) and must be whole sectors;
 *  - DISCARD and WRITE_ZEROES punch a hole in the memfd, so discarded
 *    space goes back to the host;
 *  - requests are taken and completed in batches, one notification each.
 * The ramdisk is a memfd, or a file in the directory the daemon gives
 * (vdpasim_blk_set_dir) so that it survives a restart of the daemon:
 * pages never written cost nothing either way.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "sim.h"

#define SIM_BLK_CAPACITY 0x40000ull /* sectors: 128 MiB */
#define SIM_BLK_SIZE_MAX 4096u
#define SIM_BLK_SEG_MAX 32u
#define SIM_BLK_ID "vdpa_blk_sim"
/*
 * The kernel's struct virtio_blk_config, zoned fields included (reference
 * §4.3): fixed, so the size a front end sees does not follow the build
 * host's linux-libc-dev.
 */
#define SIM_BLK_CONFIG_SIZE 96

_Static_assert(sizeof(struct virtio_blk_config) <= SIM_BLK_CONFIG_SIZE,
	       "virtio_blk_config grew past the kernel's");

#define SIM_BLK_FEATURES                                                       \
	(SIM_FEATURES | BIT_ULL(VIRTIO_BLK_F_FLUSH) |                          \
	 BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |      \
	 BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) | BIT_ULL(VIRTIO_BLK_F_TOPOLOGY) |     \
	 BIT_ULL(VIRTIO_BLK_F_MQ) | BIT_ULL(VIRTIO_BLK_F_DISCARD) |            \
	 BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES) | BIT_ULL(VIRTIO_BLK_F_OUT_FUA))

struct sim_blk {
	struct sim_dev sim;
	int memfd; /* or the file's fd */
	bool file; /* memfd is a file of the mgmtdev's directory */
	uint8_t *disk;
	uint64_t capacity; /* sectors */
};

/* vdpasim_blk's management device: the simulators' plus a directory. */
struct sim_blk_mgmt {
	struct sim_mgmt m; /* first: vdpasim_mgmtdev_free() frees it */
	char dir[PATH_MAX]; /* "": memfds */
	bool keep; /* a device going away keeps its file */
};

static struct sim_blk_mgmt *sim_blk_mgmt(struct sim_dev *sim)
{
	return container_of(sim->attr.mgmt, struct sim_blk_mgmt, m);
}

static struct sim_blk *sim_to_blk(struct sim_dev *sim)
{
	return container_of(sim, struct sim_blk, sim);
}

/* One request being answered. */
struct blk_req {
	const struct vq_elem *e;
	const struct iovec *in; /* writable iovecs: data, then status */
	uint64_t data_in; /* writable bytes before the status byte */
	uint64_t data_out; /* readable bytes after the header */
	uint32_t written; /* data bytes written to the driver */
};

static bool blk_range_ok(struct sim_blk *blk, uint64_t sector, uint64_t bytes)
{
	if (sector > blk->capacity)
		return false;
	return bytes <= (blk->capacity - sector) << VIRTIO_BLK_SECTOR_SHIFT;
}

static uint8_t blk_rw(struct sim_blk *blk, struct blk_req *r, uint64_t sector,
		      bool write)
{
	uint64_t bytes = write ? r->data_out : r->data_in;
	uint8_t *at;

	if (bytes % VIRTIO_BLK_SECTOR_SIZE ||
	    bytes > (uint64_t)SIM_BLK_SIZE_MAX * SIM_BLK_SEG_MAX ||
	    !blk_range_ok(blk, sector, bytes))
		return VIRTIO_BLK_S_IOERR;
	/* only now: a guest's sector must not even form a wild pointer */
	at = blk->disk + (sector << VIRTIO_BLK_SECTOR_SHIFT);
	if (write) {
		vq_iov_to_buf(r->e->iov, r->e->out_num,
			      sizeof(struct virtio_blk_outhdr), at, bytes);
	} else {
		vq_buf_to_iov(r->in, r->e->in_num, 0, at, bytes);
		r->written = (uint32_t)bytes;
	}
	return VIRTIO_BLK_S_OK;
}

static void blk_zero(struct sim_blk *blk, uint64_t sector, uint64_t sectors)
{
	off_t off = (off_t)(sector << VIRTIO_BLK_SECTOR_SHIFT);
	off_t len = (off_t)(sectors << VIRTIO_BLK_SECTOR_SHIFT);

	if (fallocate(blk->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, len))
		memset(blk->disk + off, 0, (size_t)len);
}

static uint8_t blk_discard_wz(struct sim_blk *blk, struct blk_req *r,
			      uint32_t type)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint64_t sector;
	uint32_t num, flags;

	/* max_discard_seg and max_write_zeroes_seg are 1 */
	if (r->data_out != sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	vq_iov_to_buf(r->e->iov, r->e->out_num,
		      sizeof(struct virtio_blk_outhdr), &seg, sizeof(seg));
	sector = le64toh(seg.sector);
	num = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	if (type == VIRTIO_BLK_T_DISCARD && flags)
		return VIRTIO_BLK_S_UNSUPP;
	if (type == VIRTIO_BLK_T_WRITE_ZEROES &&
	    (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
		return VIRTIO_BLK_S_UNSUPP;
	if (!blk_range_ok(blk, sector,
			  (uint64_t)num << VIRTIO_BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	blk_zero(blk, sector, num);
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_get_id(struct blk_req *r)
{
	char id[VIRTIO_BLK_ID_BYTES] = SIM_BLK_ID;
	uint64_t n = r->data_in < sizeof(id) ? r->data_in : sizeof(id);

	r->written = (uint32_t)vq_buf_to_iov(r->in, r->e->in_num, 0, id, n);
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_dispatch(struct sim_blk *blk, struct blk_req *r,
			    uint32_t type, uint64_t sector)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return blk_rw(blk, r, sector, false);
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_OUT_FUA:
		return blk_rw(blk, r, sector, true);
	case VIRTIO_BLK_T_FLUSH:
	case VIRTIO_BLK_T_GET_ID:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		break;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (sector)
		return VIRTIO_BLK_S_IOERR; /* non-data requests name no sector */
	if (type == VIRTIO_BLK_T_FLUSH)
		return VIRTIO_BLK_S_OK; /* memory is as durable as it gets */
	if (type == VIRTIO_BLK_T_GET_ID)
		return blk_get_id(r);
	return blk_discard_wz(blk, r, type);
}

/* Answer one request; returns the used length. */
static uint32_t blk_handle(struct sim_blk *blk, const struct vq_elem *e)
{
	struct virtio_blk_outhdr hdr;
	struct blk_req r = { .e = e, .in = e->iov + e->out_num };
	uint8_t status = VIRTIO_BLK_S_IOERR;

	if (e->in_len == 0) {
		/* nowhere to put a status: the driver side is broken */
		sim_needs_reset(&blk->sim);
		return 0;
	}
	r.data_in = e->in_len - 1;
	if (e->out_len >= sizeof(hdr)) {
		vq_iov_to_buf(e->iov, e->out_num, 0, &hdr, sizeof(hdr));
		r.data_out = e->out_len - sizeof(hdr);
		status = blk_dispatch(blk, &r, le32toh(hdr.type),
				      le64toh(hdr.sector));
	}
	/* the status is the last writable byte, whatever came before it */
	vq_buf_to_iov(r.in, e->in_num, r.data_in, &status, 1);
	return r.written + 1;
}

static unsigned int sim_blk_serve(struct sim_dev *sim, struct sim_vq *vq)
{
	struct sim_blk *blk = sim_to_blk(sim);
	struct vq_elem elems[SIM_BATCH];
	uint32_t lens[SIM_BATCH];
	unsigned int n;

	if (!sim_vq_ready(vq))
		return 0;
	n = sim_vq_pop(vq, elems, SIM_BATCH);
	for (unsigned int i = 0; i < n; i++)
		lens[i] = blk_handle(blk, &elems[i]);
	sim_vq_complete(vq, elems, lens, n);
	return n;
}

static void sim_blk_get_config(struct sim_dev *sim, void *config)
{
	struct virtio_blk_config *c = config;

	/* rebuilt on every read, as the kernel does: writes do not stick */
	memset(config, 0, SIM_BLK_CONFIG_SIZE);
	c->capacity = htole64(sim_to_blk(sim)->capacity);
	c->size_max = htole32(SIM_BLK_SIZE_MAX);
	c->seg_max = htole32(SIM_BLK_SEG_MAX);
	c->num_queues = htole16(1);
	c->min_io_size = htole16(1);
	c->opt_io_size = htole32(1);
	c->blk_size = htole32(VIRTIO_BLK_SECTOR_SIZE);
	c->max_discard_sectors = htole32(UINT32_MAX);
	c->max_discard_seg = htole32(1);
	c->discard_sector_alignment = htole32(VIRTIO_BLK_SECTOR_SIZE);
	c->max_write_zeroes_sectors = htole32(UINT32_MAX);
	c->max_write_zeroes_seg = htole32(1);
}

/* A file a name can safely become: no path, nothing hidden. */
static bool sim_blk_file_name_ok(const char *name)
{
	return *name && *name != '.' && !strchr(name, '/');
}

/* The ramdisk's fd: @dir/NAME (kept on a restore, else new), or a memfd. */
static int sim_blk_open(struct sim_dev *sim,
			const struct vdpa_dev_set_config *config,
			struct vdpa_extack *ext)
{
	struct sim_blk_mgmt *bm = sim_blk_mgmt(sim);
	struct sim_blk *blk = sim_to_blk(sim);
	char name[PATH_MAX + VDPA_NAME_MAX + 2];
	int flags = O_RDWR | O_CREAT | O_CLOEXEC;

	blk->memfd = -1;
	if (!*bm->dir || !sim_blk_file_name_ok(sim->vdpa.name)) {
		snprintf(name, sizeof(name), "vdpasim_blk:%s", sim->vdpa.name);
		blk->memfd = memfd_create(name, MFD_CLOEXEC);
		return blk->memfd < 0 ? -errno : 0;
	}
	snprintf(name, sizeof(name), "%s/%s", bm->dir, sim->vdpa.name);
	if (!config->restoring)
		flags |= O_TRUNC; /* a new device starts with zeros */
	blk->memfd = open(name, flags, 0600);
	if (blk->memfd < 0) {
		vdpa_extack_set(ext, "cannot open the ramdisk %s: %s", name,
				strerror(errno));
		return -errno;
	}
	blk->file = true;
	return 0;
}

static int sim_blk_init(struct sim_dev *sim,
			const struct vdpa_dev_set_config *config,
			struct vdpa_extack *ext)
{
	struct sim_blk *blk = sim_to_blk(sim);
	size_t size = SIM_BLK_CAPACITY << VIRTIO_BLK_SECTOR_SHIFT;
	void *disk;
	int ret;

	blk->capacity = SIM_BLK_CAPACITY;
	ret = sim_blk_open(sim, config, ext);
	if (ret)
		return ret;
	if (ftruncate(blk->memfd, (off_t)size))
		return -errno;
	disk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, blk->memfd,
		    0);
	if (disk == MAP_FAILED)
		return -errno;
	blk->disk = disk;
	return 0;
}

static void sim_blk_free(struct sim_dev *sim)
{
	struct sim_blk *blk = sim_to_blk(sim);

	if (blk->disk)
		munmap(blk->disk, blk->capacity << VIRTIO_BLK_SECTOR_SHIFT);
	if (blk->memfd >= 0)
		close(blk->memfd);
	if (blk->file && !sim_blk_mgmt(sim)->keep) {
		char name[PATH_MAX + VDPA_NAME_MAX + 2];

		snprintf(name, sizeof(name), "%s/%s", sim_blk_mgmt(sim)->dir,
			 sim->vdpa.name);
		unlink(name);
	}
}

static int sim_blk_dev_add(struct vdpa_mgmt_dev *mdev, const char *name,
			   const struct vdpa_dev_set_config *config,
			   struct vdpa_extack *ext)
{
	struct sim_dev_attr attr = {
		.mgmt = container_of(mdev, struct sim_mgmt, mdev),
		.name = name,
		.id = VIRTIO_ID_BLOCK,
		.supported_features = SIM_BLK_FEATURES,
		.config_size = SIM_BLK_CONFIG_SIZE,
		.alloc_size = sizeof(struct sim_blk),
		.nvqs = 1,
		.ngroups = 1,
		.nas = 1,
		.init = sim_blk_init,
		.serve = sim_blk_serve,
		.get_config = sim_blk_get_config,
		.free = sim_blk_free,
	};
	int err = 0;

	return sim_create(&attr, name, config, ext, &err) ? 0 : err;
}

static void sim_blk_dev_del(struct vdpa_mgmt_dev *mdev,
			    struct vdpa_device *vdev)
{
	_vdpa_unregister_device(vdev);
}

static const struct vdpa_mgmtdev_ops sim_blk_mgmtdev_ops = {
	.dev_add = sim_blk_dev_add,
	.dev_del = sim_blk_dev_del,
};

static const uint32_t sim_blk_ids[] = { VIRTIO_ID_BLOCK, 0 };

struct vdpa_mgmt_dev *vdpasim_blk_mgmtdev_new(struct vdpa_worker_pool *pool)
{
	struct sim_blk_mgmt *bm = calloc(1, sizeof(*bm));
	struct sim_mgmt *m = bm ? &bm->m : NULL;

	if (!m)
		return NULL;
	m->pool = pool;
	m->poll_us = VDPASIM_POLL_US_DEFAULT;
	/* config_attr_mask, max_supported_vqs and features stay 0 (§4.3) */
	m->mdev.dev_name = "vdpasim_blk";
	m->mdev.ops = &sim_blk_mgmtdev_ops;
	m->mdev.id_table = sim_blk_ids;
	list_init(&m->mdev.bus_link);
	return &m->mdev;
}

int vdpasim_blk_set_dir(struct vdpa_mgmt_dev *mdev, const char *dir)
{
	struct sim_blk_mgmt *bm =
		container_of(mdev, struct sim_blk_mgmt, m.mdev);

	if (strlen(dir) >= sizeof(bm->dir) - VDPA_NAME_MAX - 1)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	snprintf(bm->dir, sizeof(bm->dir), "%s", dir);
	return 0;
}

void vdpasim_blk_keep_files(struct vdpa_mgmt_dev *mdev)
{
	container_of(mdev, struct sim_blk_mgmt, m.mdev)->keep = true;
}
