/* SPDX-License-Identifier: MIT */
/*
 * What the tests of the `blk` parent share: a bus with the parent
 * registered, a temp directory for images and NBD sockets, a device made
 * from e->cfg with a driver on it, and requests on any of its queues.
 */
#ifndef UVDPA_TEST_BLK_ENV_H
#define UVDPA_TEST_BLK_ENV_H

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/uapi.h>

#include "blk.h"
#include "helpers.h"

#define SECTOR 512u
#define QSIZE 128
#define WAIT_MS 5000
#define FILE_SIZE (16u << 20)
#define EXT(a) UVDPA_EXT_BIT(UVDPA_ATTR_BLK_##a)

struct blk_env {
	struct test_bus tb;
	struct vdpa_mgmt_dev *m;
	char dir[64];
	char path[128]; /* the image */
	char sock[128]; /* an NBD server's */
	char uri[256];
	char shm[64]; /* an image on tmpfs, if any */
	char mnt[96]; /* a file system mounted for a test, if any */
	struct vdpa_dev_set_config cfg;
	struct vdpa_device *vdev;
	struct test_drv d;
	bool started;
	pid_t server;
};

/* ---- environment ---- */

static inline int env_setup(void **state)
{
	struct blk_env *e = test_calloc(1, sizeof(*e));
	int err = 0;

	assert_non_null(e);
	assert_int_equal(test_bus_init(&e->tb, 2), 0);
	e->m = blk_mgmt_new(e->tb.pool, 50, &err);
	assert_non_null(e->m);
	assert_int_equal(vdpa_mgmtdev_register(e->tb.bus, e->m), 0);
	snprintf(e->dir, sizeof(e->dir), "/tmp/uvdpa-blk-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/disk.img", e->dir);
	snprintf(e->sock, sizeof(e->sock), "%s/nbd.sock", e->dir);
	snprintf(e->uri, sizeof(e->uri), "nbd+unix:///?socket=%s", e->sock);
	e->cfg.blk.path = e->path;
	e->cfg.ext_mask = EXT(PATH);
	e->server = -1;
	*state = e;
	return 0;
}

static inline void server_stop(struct blk_env *e, int sig)
{
	if (e->server > 0) {
		kill(e->server, sig);
		kill(e->server, SIGCONT); /* a stopped one too */
		waitpid(e->server, NULL, 0);
	}
	e->server = -1;
	unlink(e->sock);
}

static inline int env_teardown(void **state)
{
	struct blk_env *e = *state;
	char cmd[128];

	if (e->started)
		test_drv_stop(&e->d);
	vdpa_mgmtdev_unregister(e->m);
	test_bus_done(&e->tb);
	blk_mgmt_free(e->m);
	server_stop(e, SIGTERM);
	if (e->mnt[0])
		umount2(e->mnt, MNT_DETACH);
	if (e->shm[0])
		unlink(e->shm);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
	test_free(e);
	return 0;
}

static inline int dev_add(struct blk_env *e, const char *name,
			  struct vdpa_extack *ext)
{
	memset(ext, 0, sizeof(*ext));
	return vdpa_mgmtdev_dev_add(e->m, name, &e->cfg, ext);
}

/* Add "blk0" with e->cfg and start a driver on @nvqs queues. */
static inline void start(struct blk_env *e, uint32_t nvqs, uint64_t want)
{
	struct vdpa_extack ext;

	assert_int_equal(dev_add(e, "blk0", &ext), 0);
	vdpa_bus_read_lock(e->tb.bus);
	e->vdev = vdpa_find_device(e->tb.bus, "blk0");
	vdpa_bus_read_unlock(e->tb.bus);
	assert_non_null(e->vdev);
	assert_int_equal(test_drv_start(&e->d, e->vdev, want, nvqs, QSIZE, 0),
			 0);
	e->started = true;
}

static inline void config(struct blk_env *e, struct virtio_blk_config *c)
{
	assert_int_equal(vdpa_get_config(e->vdev, 0, c, sizeof(*c)), 0);
}

/* ---- requests on any queue, data in @nseg pieces, maybe misaligned ---- */

struct qreq {
	uint8_t *seg[8];
	uint32_t seglen;
	unsigned int nseg;
	uint8_t *status;
};

static inline int qreq_add(struct test_drv *d, uint16_t idx, struct qreq *r,
			   uint32_t type, uint64_t sector, uint32_t len,
			   bool write, unsigned int nseg, size_t misalign)
{
	struct virtio_blk_outhdr *hdr;
	struct vq_buf b[10];
	unsigned int n = 0, out;
	uint64_t iova;

	hdr = drv_mem_alloc(&d->mem, sizeof(*hdr), 16, &iova);
	if (!hdr)
		return -ENOMEM;
	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	b[n++] = (struct vq_buf){ iova, sizeof(*hdr) };
	r->nseg = len ? nseg : 0;
	r->seglen = len && nseg ? len / nseg : 0;
	for (unsigned int i = 0; i < r->nseg; i++) {
		/* a gap between pieces: they are not one buffer */
		uint8_t *p = drv_mem_alloc(&d->mem, r->seglen + misalign + 64,
					   512, &iova);

		if (!p)
			return -ENOMEM;
		r->seg[i] = p + misalign;
		b[n++] = (struct vq_buf){ iova + misalign, r->seglen };
	}
	out = write ? n : 1;
	r->status = drv_mem_alloc(&d->mem, 1, 1, &iova);
	if (!r->status)
		return -ENOMEM;
	*r->status = 0xff;
	b[n++] = (struct vq_buf){ iova, 1 };
	return vq_drv_add(&d->vq[idx], b, out, n - out, r);
}

/* One request on queue @idx, waited for: its status, or -1. */
static inline int qio_seg(struct test_drv *d, uint16_t idx, uint32_t type,
			  uint64_t sector, void *buf, uint32_t len, bool write,
			  unsigned int nseg, size_t misalign)
{
	size_t mark = d->mem.used;
	struct qreq r;
	int status = -1;

	if (qreq_add(d, idx, &r, type, sector, len, write, nseg, misalign))
		return -1;
	for (unsigned int i = 0; write && i < r.nseg; i++)
		memcpy(r.seg[i], (uint8_t *)buf + i * r.seglen, r.seglen);
	test_drv_kick(d, idx);
	if (test_drv_wait_used(d, idx, NULL, WAIT_MS) == &r) {
		for (unsigned int i = 0; !write && i < r.nseg; i++)
			memcpy((uint8_t *)buf + i * r.seglen, r.seg[i],
			       r.seglen);
		status = *r.status;
	}
	d->mem.used = mark;
	return status;
}

static inline int qio(struct test_drv *d, uint16_t idx, uint32_t type,
		      uint64_t sector, void *buf, uint32_t len, bool write)
{
	return qio_seg(d, idx, type, sector, buf, len, write, 1, 0);
}

static inline int discard_wz(struct test_drv *d, uint32_t type, uint64_t sector,
			     uint32_t num, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector),
		.num_sectors = htole32(num),
		.flags = htole32(flags),
	};

	return qio(d, 0, type, 0, &seg, sizeof(seg), true);
}

/* Write through the device, check the file, read back through it. */
static inline void rw_check(struct blk_env *e, uint16_t idx, uint64_t sector,
			    uint32_t len, uint32_t seed, unsigned int nseg,
			    size_t misalign)
{
	static uint8_t w[1 << 20], r[1 << 20], f[1 << 20];

	test_fill(w, len, seed);
	memset(r, 0xa5, len);
	assert_int_equal(qio_seg(&e->d, idx, VIRTIO_BLK_T_OUT, sector, w, len,
				 true, nseg, misalign),
			 VIRTIO_BLK_S_OK);
	if (e->cfg.blk.path == e->path) {
		test_file_pread(e->path, sector * SECTOR, f, len);
		assert_memory_equal(f, w, len);
	}
	assert_int_equal(qio_seg(&e->d, idx, VIRTIO_BLK_T_IN, sector, r, len,
				 false, nseg, misalign),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(r, w, len);
}

/* The parent's dev_resize, called as the management layer does. */
static inline int resize(struct blk_env *e, uint64_t bytes,
			 struct vdpa_extack *ext)
{
	int ret;

	memset(ext, 0, sizeof(*ext));
	vdpa_bus_lock(e->tb.bus);
	ret = e->m->ops->dev_resize(e->m, e->vdev, bytes, ext);
	vdpa_bus_unlock(e->tb.bus);
	return ret;
}

#endif
