/* SPDX-License-Identifier: MIT */
/*
 * What the virtio-blk → file tests (test_vv_blk*.c) share: a real
 * vdpasim_blk device behind the filesystem of buses/virtio_vdpa (blk_*.c)
 * and a real FUSE mount; the test process uses the file with plain system
 * calls from its own threads while the filesystem's loop thread serves
 * them.
 *
 * A thin wrapper device in front of the simulator adds what the simulator
 * cannot do: the RO feature, config values of the test's choosing
 * (capacity, with a config interrupt; blk_size; max_write_zeroes_sectors),
 * NEEDS_RESET, and held kicks (requests that stay in flight until the
 * test acts). The data path is the simulator's throughout.
 */
#ifndef UVDPA_TEST_VV_BLK_ENV_H
#define UVDPA_TEST_VV_BLK_ENV_H

#define FUSE_USE_VERSION 34

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include <uvdpa/mgmt.h>

#include "blk.h"
#include "helpers.h"
#include "virtio_vdpa.h"

#define MiB (1ull << 20)
#define SIM_SIZE (128 * MiB)
#define WAIT_MS 10000 /* how long a wait for the loop thread may take */

/* ---- a wrapper device ---- */

struct wrap_dev {
	struct vdpa_device vdpa;
	struct vdpa_device *in;
	uint64_t add_features;
	uint64_t driver_added;
	uint64_t capacity; /* sectors; 0: the simulator's */
	uint32_t blk_size; /* bytes; 0: the simulator's */
	uint32_t max_wz; /* max_write_zeroes_sectors; 0: the simulator's */
	bool needs_reset;
	bool hold_kicks;
	unsigned int held; /* kicks swallowed */
	struct vdpa_callback cfg_cb;
};

static inline struct wrap_dev *W(struct vdpa_device *v)
{
	return container_of(v, struct wrap_dev, vdpa);
}

#define IN(v) (W(v)->in)
#define FWD(name, ...) IN(v)->config->name(IN(v), ##__VA_ARGS__)

static inline int w_set_vq_address(struct vdpa_device *v, uint16_t i,
				   uint64_t d, uint64_t dr, uint64_t dv)
{
	return FWD(set_vq_address, i, d, dr, dv);
}
static inline void w_set_vq_num(struct vdpa_device *v, uint16_t i, uint32_t n)
{
	FWD(set_vq_num, i, n);
}
static inline void w_kick_vq(struct vdpa_device *v, uint16_t i)
{
	if (__atomic_load_n(&W(v)->hold_kicks, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&W(v)->held, 1, __ATOMIC_RELEASE);
		return;
	}
	FWD(kick_vq, i);
}
static inline void w_set_vq_cb(struct vdpa_device *v, uint16_t i,
			       const struct vdpa_callback *cb)
{
	FWD(set_vq_cb, i, cb);
}
static inline void w_set_vq_ready(struct vdpa_device *v, uint16_t i, bool r)
{
	FWD(set_vq_ready, i, r);
}
static inline bool w_get_vq_ready(struct vdpa_device *v, uint16_t i)
{
	return FWD(get_vq_ready, i);
}
static inline int w_set_vq_state(struct vdpa_device *v, uint16_t i,
				 const struct vdpa_vq_state *s)
{
	return FWD(set_vq_state, i, s);
}
static inline int w_get_vq_state(struct vdpa_device *v, uint16_t i,
				 struct vdpa_vq_state *s)
{
	return FWD(get_vq_state, i, s);
}
static inline int w_set_vq_callfd(struct vdpa_device *v, uint16_t i, int fd)
{
	return FWD(set_vq_callfd, i, fd);
}
static inline uint32_t w_get_vq_align(struct vdpa_device *v)
{
	return FWD(get_vq_align);
}
static inline uint64_t w_get_device_features(struct vdpa_device *v)
{
	return FWD(get_device_features) | W(v)->add_features;
}
static inline int w_set_driver_features(struct vdpa_device *v, uint64_t f)
{
	W(v)->driver_added = f & W(v)->add_features;
	return FWD(set_driver_features, f & ~W(v)->add_features);
}
static inline uint64_t w_get_driver_features(struct vdpa_device *v)
{
	return FWD(get_driver_features) | W(v)->driver_added;
}
static inline void w_set_config_cb(struct vdpa_device *v,
				   const struct vdpa_callback *cb)
{
	W(v)->cfg_cb = cb ? *cb : (struct vdpa_callback){ .trigger = -1 };
	FWD(set_config_cb, cb);
}
static inline uint16_t w_get_vq_num_max(struct vdpa_device *v)
{
	return FWD(get_vq_num_max);
}
static inline uint32_t w_get_device_id(struct vdpa_device *v)
{
	return FWD(get_device_id);
}
static inline uint32_t w_get_vendor_id(struct vdpa_device *v)
{
	return FWD(get_vendor_id);
}
static inline uint8_t w_get_status(struct vdpa_device *v)
{
	bool nr = __atomic_load_n(&W(v)->needs_reset, __ATOMIC_ACQUIRE);

	return FWD(get_status) | (nr ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);
}
static inline void w_set_status(struct vdpa_device *v, uint8_t s)
{
	FWD(set_status, s);
}
static inline int w_reset(struct vdpa_device *v)
{
	return FWD(reset);
}
static inline int w_compat_reset(struct vdpa_device *v, uint32_t flags)
{
	return FWD(compat_reset, flags);
}
static inline size_t w_get_config_size(struct vdpa_device *v)
{
	return FWD(get_config_size);
}
/* A 32-bit config field the test set; 0 leaves the simulator's. */
static inline void wrap_patch32(uint8_t *cfg, size_t off, uint32_t val)
{
	val = htole32(val);
	if (val)
		memcpy(cfg + off, &val, sizeof(val));
}

static inline void w_get_config(struct vdpa_device *v, unsigned int off,
				void *buf, unsigned int len)
{
	uint64_t cap = __atomic_load_n(&W(v)->capacity, __ATOMIC_ACQUIRE);
	uint8_t cfg[256];

	unsigned int size = (unsigned int)w_get_config_size(v);

	FWD(get_config, 0, cfg, size);
	if (cap) {
		cap = htole64(cap);
		memcpy(cfg, &cap, sizeof(cap));
	}
	wrap_patch32(cfg, offsetof(struct virtio_blk_config, blk_size),
		     W(v)->blk_size);
	wrap_patch32(
		cfg,
		offsetof(struct virtio_blk_config, max_write_zeroes_sectors),
		W(v)->max_wz);
	memcpy(buf, cfg + off, len);
}
static inline void w_set_config(struct vdpa_device *v, unsigned int off,
				const void *buf, unsigned int len)
{
	FWD(set_config, off, buf, len);
}
static inline int w_dma_map(struct vdpa_device *v, unsigned int as,
			    uint64_t iova, uint64_t size, void *hva,
			    uint32_t perm, const struct vdpa_map_file *file)
{
	return FWD(dma_map, as, iova, size, hva, perm, file);
}
static inline int w_dma_unmap(struct vdpa_device *v, unsigned int as,
			      uint64_t iova, uint64_t size)
{
	return FWD(dma_unmap, as, iova, size);
}

static const struct vdpa_config_ops wrap_ops = {
	.set_vq_address = w_set_vq_address,
	.set_vq_num = w_set_vq_num,
	.kick_vq = w_kick_vq,
	.set_vq_cb = w_set_vq_cb,
	.set_vq_ready = w_set_vq_ready,
	.get_vq_ready = w_get_vq_ready,
	.set_vq_state = w_set_vq_state,
	.get_vq_state = w_get_vq_state,
	.set_vq_callfd = w_set_vq_callfd,
	.get_vq_align = w_get_vq_align,
	.get_device_features = w_get_device_features,
	.set_driver_features = w_set_driver_features,
	.get_driver_features = w_get_driver_features,
	.set_config_cb = w_set_config_cb,
	.get_vq_num_max = w_get_vq_num_max,
	.get_device_id = w_get_device_id,
	.get_vendor_id = w_get_vendor_id,
	.get_status = w_get_status,
	.set_status = w_set_status,
	.reset = w_reset,
	.compat_reset = w_compat_reset,
	.get_config_size = w_get_config_size,
	.get_config = w_get_config,
	.set_config = w_set_config,
	.dma_map = w_dma_map,
	.dma_unmap = w_dma_unmap,
};

static inline struct wrap_dev *wrap_new(struct vdpa_device *in,
					const char *name)
{
	int err = 0;
	struct wrap_dev *w = vdpa_alloc_device(in->bus, struct wrap_dev, vdpa,
					       &wrap_ops, 1, 1, name, &err);

	assert_non_null(w);
	w->in = in;
	w->vdpa.nvqs = in->nvqs;
	w->cfg_cb.trigger = -1;
	return w;
}

/* The config interrupt, as a parent raises it. */
static inline void wrap_config_irq(struct wrap_dev *w)
{
	uint64_t one = 1;

	assert_true(w->cfg_cb.trigger >= 0);
	assert_int_equal(write(w->cfg_cb.trigger, &one, sizeof(one)),
			 sizeof(one));
}

/* ---- environment ---- */

struct env {
	struct test_bus tb;
	struct vdpa_device *vdev; /* blk0 */
	struct wrap_dev *wrap; /* in front of vdev when a test wants one */
	char dir[64];
	char mnt[96];
	struct vv_blk_fs *fs;
	struct vv_blk *b;
	char path[160];
};

__attribute__((format(printf, 2, 3))) static inline void
test_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > 1)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static inline void env_mount(struct env *e)
{
	struct vdpa_extack ext = { "" };
	int err = 0;

	e->fs = vv_blk_fs_new(e->mnt, test_log, &ext, &err);
	if (!e->fs)
		fail_msg("vv_blk_fs_new: %d %s", err, ext.msg);
}

static inline struct vv_blk *env_probe(struct env *e, struct vdpa_device *vdev)
{
	struct vdpa_extack ext = { "" };
	int err = 0;
	struct vv_blk *b = vv_blk_probe(e->fs, vdev, &ext, &err);

	if (!b)
		fail_msg("vv_blk_probe: %d %s", err, ext.msg);
	return b;
}

static inline int env_setup_common(void **state, bool wrap)
{
	struct env *e = test_calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(test_bus_init(&e->tb, 1), 0);
	e->vdev = test_dev_add(&e->tb, e->tb.blk, "blk0", NULL);
	assert_non_null(e->vdev);
	snprintf(e->dir, sizeof(e->dir), "/tmp/test-vv-blk.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->mnt, sizeof(e->mnt), "%s/blk", e->dir);
	env_mount(e);
	if (wrap)
		e->wrap = wrap_new(e->vdev, "wblk");
	e->b = env_probe(e, wrap ? &e->wrap->vdpa : e->vdev);
	snprintf(e->path, sizeof(e->path), "%s/%s", e->mnt,
		 wrap ? "wblk" : "blk0");
	assert_string_equal(vv_blk_path(e->b), e->path);
	*state = e;
	return 0;
}

static inline int env_setup(void **state)
{
	return env_setup_common(state, false);
}

static inline int env_setup_wrap(void **state)
{
	return env_setup_common(state, true);
}

static inline int env_teardown(void **state)
{
	struct env *e = *state;

	if (e->b)
		vv_blk_remove(e->b);
	vv_blk_fs_free(e->fs);
	if (e->wrap)
		vdpa_put_device(&e->wrap->vdpa);
	test_bus_done(&e->tb);
	rmdir(e->mnt);
	rmdir(e->dir);
	test_free(e);
	return 0;
}

static inline void *abuf(size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len), 0);
	return p;
}

static inline int xopen(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	return fd;
}

/* Read [off, off + len) past the page cache and compare with @want. */
static inline void check_device(const char *path, uint64_t off,
				const void *want, size_t len)
{
	int fd = xopen(path, O_RDONLY | O_DIRECT);
	uint64_t a = off & ~4095ull, end = (off + len + 4095) & ~4095ull;
	uint8_t *buf = abuf(end - a);

	assert_int_equal(pread(fd, buf, end - a, (off_t)a), (ssize_t)(end - a));
	assert_memory_equal(buf + (off - a), want, len);
	free(buf);
	close(fd);
}

static inline bool wait_size(const char *path, off_t size)
{
	int64_t end = test_now_ms() + WAIT_MS;
	struct stat st;

	while (test_now_ms() < end) {
		if (!stat(path, &st) && st.st_size == size)
			return true;
		usleep(2000);
	}
	return false;
}

/* Root and /dev/fuse, or a TAP "skip" line; VVB_TEST=name runs one case. */
static inline bool vv_blk_may_run(void)
{
	/* FUSE mounts with allow_other, losetup and mount need root */
	if (geteuid() || access("/dev/fuse", R_OK | W_OK)) {
		printf("1..0 # SKIP needs root and /dev/fuse\n");
		return false;
	}
	if (getenv("VVB_TEST"))
		cmocka_set_test_filter(getenv("VVB_TEST"));
	return true;
}

#endif
