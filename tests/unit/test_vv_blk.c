// SPDX-License-Identifier: MIT
/*
 * virtio-blk → file (buses/virtio_vdpa, blk_*.c) over a real vdpasim_blk
 * device and a real FUSE mount: the test process uses the file with plain
 * system calls from its own threads while the filesystem's loop thread
 * serves them.
 *
 * A thin wrapper device in front of the simulator adds what the simulator
 * cannot do: the RO feature, another capacity with a config interrupt,
 * NEEDS_RESET, and held kicks (requests that stay in flight until the
 * test acts). The data path is the simulator's throughout.
 */
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
	bool needs_reset;
	bool hold_kicks;
	unsigned int held; /* kicks swallowed */
	struct vdpa_callback cfg_cb;
};

static struct wrap_dev *W(struct vdpa_device *v)
{
	return container_of(v, struct wrap_dev, vdpa);
}

#define IN(v) (W(v)->in)
#define FWD(name, ...) IN(v)->config->name(IN(v), ##__VA_ARGS__)

static int w_set_vq_address(struct vdpa_device *v, uint16_t i, uint64_t d,
			    uint64_t dr, uint64_t dv)
{
	return FWD(set_vq_address, i, d, dr, dv);
}
static void w_set_vq_num(struct vdpa_device *v, uint16_t i, uint32_t n)
{
	FWD(set_vq_num, i, n);
}
static void w_kick_vq(struct vdpa_device *v, uint16_t i)
{
	if (__atomic_load_n(&W(v)->hold_kicks, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&W(v)->held, 1, __ATOMIC_RELEASE);
		return;
	}
	FWD(kick_vq, i);
}
static void w_set_vq_cb(struct vdpa_device *v, uint16_t i,
			const struct vdpa_callback *cb)
{
	FWD(set_vq_cb, i, cb);
}
static void w_set_vq_ready(struct vdpa_device *v, uint16_t i, bool r)
{
	FWD(set_vq_ready, i, r);
}
static bool w_get_vq_ready(struct vdpa_device *v, uint16_t i)
{
	return FWD(get_vq_ready, i);
}
static int w_set_vq_state(struct vdpa_device *v, uint16_t i,
			  const struct vdpa_vq_state *s)
{
	return FWD(set_vq_state, i, s);
}
static int w_get_vq_state(struct vdpa_device *v, uint16_t i,
			  struct vdpa_vq_state *s)
{
	return FWD(get_vq_state, i, s);
}
static int w_set_vq_callfd(struct vdpa_device *v, uint16_t i, int fd)
{
	return FWD(set_vq_callfd, i, fd);
}
static uint32_t w_get_vq_align(struct vdpa_device *v)
{
	return FWD(get_vq_align);
}
static uint64_t w_get_device_features(struct vdpa_device *v)
{
	return FWD(get_device_features) | W(v)->add_features;
}
static int w_set_driver_features(struct vdpa_device *v, uint64_t f)
{
	W(v)->driver_added = f & W(v)->add_features;
	return FWD(set_driver_features, f & ~W(v)->add_features);
}
static uint64_t w_get_driver_features(struct vdpa_device *v)
{
	return FWD(get_driver_features) | W(v)->driver_added;
}
static void w_set_config_cb(struct vdpa_device *v,
			    const struct vdpa_callback *cb)
{
	W(v)->cfg_cb = cb ? *cb : (struct vdpa_callback){ .trigger = -1 };
	FWD(set_config_cb, cb);
}
static uint16_t w_get_vq_num_max(struct vdpa_device *v)
{
	return FWD(get_vq_num_max);
}
static uint32_t w_get_device_id(struct vdpa_device *v)
{
	return FWD(get_device_id);
}
static uint32_t w_get_vendor_id(struct vdpa_device *v)
{
	return FWD(get_vendor_id);
}
static uint8_t w_get_status(struct vdpa_device *v)
{
	bool nr = __atomic_load_n(&W(v)->needs_reset, __ATOMIC_ACQUIRE);

	return FWD(get_status) | (nr ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);
}
static void w_set_status(struct vdpa_device *v, uint8_t s)
{
	FWD(set_status, s);
}
static int w_reset(struct vdpa_device *v)
{
	return FWD(reset);
}
static int w_compat_reset(struct vdpa_device *v, uint32_t flags)
{
	return FWD(compat_reset, flags);
}
static size_t w_get_config_size(struct vdpa_device *v)
{
	return FWD(get_config_size);
}
static void w_get_config(struct vdpa_device *v, unsigned int off, void *buf,
			 unsigned int len)
{
	uint64_t cap = __atomic_load_n(&W(v)->capacity, __ATOMIC_ACQUIRE);
	uint8_t cfg[256];

	unsigned int size = (unsigned int)w_get_config_size(v);

	FWD(get_config, 0, cfg, size);
	if (cap) {
		cap = htole64(cap);
		memcpy(cfg, &cap, sizeof(cap));
	}
	memcpy(buf, cfg + off, len);
}
static void w_set_config(struct vdpa_device *v, unsigned int off,
			 const void *buf, unsigned int len)
{
	FWD(set_config, off, buf, len);
}
static int w_dma_map(struct vdpa_device *v, unsigned int as, uint64_t iova,
		     uint64_t size, void *hva, uint32_t perm,
		     const struct vdpa_map_file *file)
{
	return FWD(dma_map, as, iova, size, hva, perm, file);
}
static int w_dma_unmap(struct vdpa_device *v, unsigned int as, uint64_t iova,
		       uint64_t size)
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

static struct wrap_dev *wrap_new(struct vdpa_device *in, const char *name)
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
static void wrap_config_irq(struct wrap_dev *w)
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

static void test_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > 1)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void env_mount(struct env *e)
{
	struct vdpa_extack ext = { "" };
	int err = 0;

	e->fs = vv_blk_fs_new(e->mnt, test_log, &ext, &err);
	if (!e->fs)
		fail_msg("vv_blk_fs_new: %d %s", err, ext.msg);
}

static struct vv_blk *env_probe(struct env *e, struct vdpa_device *vdev)
{
	struct vdpa_extack ext = { "" };
	int err = 0;
	struct vv_blk *b = vv_blk_probe(e->fs, vdev, &ext, &err);

	if (!b)
		fail_msg("vv_blk_probe: %d %s", err, ext.msg);
	return b;
}

static int env_setup_common(void **state, bool wrap)
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

static int env_setup(void **state)
{
	return env_setup_common(state, false);
}

static int env_setup_wrap(void **state)
{
	return env_setup_common(state, true);
}

static int env_teardown(void **state)
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

static void fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) ^ (seed >> 2));
}

static void *abuf(size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len), 0);
	return p;
}

static int xopen(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	return fd;
}

/* Read [off, off + len) past the page cache and compare with @want. */
static void check_device(const char *path, uint64_t off, const void *want,
			 size_t len)
{
	int fd = xopen(path, O_RDONLY | O_DIRECT);
	uint64_t a = off & ~4095ull, end = (off + len + 4095) & ~4095ull;
	uint8_t *buf = abuf(end - a);

	assert_int_equal(pread(fd, buf, end - a, (off_t)a), (ssize_t)(end - a));
	assert_memory_equal(buf + (off - a), want, len);
	free(buf);
	close(fd);
}

/* ---- the file ---- */

static void vvb_file(void **state)
{
	struct env *e = *state;
	struct stat st;

	assert_int_equal(stat(e->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_size, SIM_SIZE);
	assert_int_equal(vv_blk_fs_count(e->fs), 1);
	/* files come with devices only */
	assert_int_equal(unlink(e->path), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(open(e->path, O_WRONLY | O_TRUNC), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(truncate(e->path, 4096), -1);
	assert_int_equal(truncate(e->path, SIM_SIZE), 0);
	assert_int_equal(creat(e->path, 0600), -1);
}

/* What another user may do: 0 when @path opens for reading, or errno. */
static int open_as(uid_t uid, const char *path)
{
	int status = 0;
	pid_t pid = fork();
	struct stat st;
	int fd;

	assert_true(pid >= 0);
	if (!pid) {
		if (setgid(uid) || setuid(uid))
			_exit(100);
		/* allow_other: without it, even stat fails for others */
		if (stat(path, &st))
			_exit(101);
		fd = open(path, O_RDONLY);
		_exit(fd < 0 ? errno : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Other users see the files; the mode decides who opens them. */
static void vvb_other_users(void **state)
{
	struct env *e = *state;

	if (geteuid())
		skip();
	assert_int_equal(chmod(e->dir, 0755), 0); /* mkdtemp's is 0700 */
	assert_int_equal(open_as(65534, e->path), EACCES);
	assert_int_equal(chmod(e->path, 0644), 0);
	assert_int_equal(open_as(65534, e->path), 0);
	assert_int_equal(chown(e->path, 65534, 65534), 0);
	assert_int_equal(chmod(e->path, 0600), 0);
	assert_int_equal(open_as(65534, e->path), 0);
	assert_int_equal(open_as(65533, e->path), EACCES);
}

static int list_dir(const char *dir, char names[][VDPA_NAME_MAX], int max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    n < max)
			snprintf(names[n++], VDPA_NAME_MAX, "%.63s",
				 de->d_name);
	closedir(d);
	return n;
}

/* ls, two devices, each file its own device. */
static void vvb_listing(void **state)
{
	struct env *e = *state;
	char names[4][VDPA_NAME_MAX], p1[200];
	struct vdpa_device *v1 = test_dev_add(&e->tb, e->tb.blk, "blk1", NULL);
	uint8_t w[4096], r[4096];
	struct vv_blk *b1;
	int fd0, fd1;

	assert_non_null(v1);
	b1 = env_probe(e, v1);
	snprintf(p1, sizeof(p1), "%s/blk1", e->mnt);
	assert_int_equal(list_dir(e->mnt, names, 4), 2);
	assert_true(!strcmp(names[0], "blk0") || !strcmp(names[1], "blk0"));
	assert_true(!strcmp(names[0], "blk1") || !strcmp(names[1], "blk1"));
	fd0 = xopen(e->path, O_RDWR);
	fd1 = xopen(p1, O_RDWR);
	fill(w, sizeof(w), 1);
	assert_int_equal(pwrite(fd1, w, sizeof(w), 8192), sizeof(w));
	assert_int_equal(pread(fd0, r, sizeof(r), 8192), sizeof(r));
	assert_false(memcmp(r, w, sizeof(w)) == 0);
	assert_int_equal(pread(fd1, r, sizeof(r), 8192), sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	close(fd0);
	close(fd1);
	vv_blk_remove(b1);
	assert_int_equal(list_dir(e->mnt, names, 4), 1);
	assert_string_equal(names[0], "blk0");
	assert_int_equal(vv_blk_fs_count(e->fs), 1);
}

/* Writes at any offset and length land exactly, the rest untouched. */
static void vvb_unaligned(void **state)
{
	static const struct {
		uint64_t off, len;
	} w[] = {
		{ 0, 512 },	    { 1000, 3000 },	  { 4095, 2 },
		{ 7, 100 },	    { 65536 + 511, 513 }, { 777, MiB + 123 },
		{ 3 * MiB + 1, 1 }, { 2 * MiB - 5, 10 },
	};
	struct env *e = *state;
	size_t region = 4 * MiB;
	uint8_t *model = malloc(region), *data = malloc(2 * MiB);
	uint8_t *back = malloc(region);
	int fd = xopen(e->path, O_RDWR);

	assert_non_null(model);
	fill(model, region, 99);
	assert_int_equal(pwrite(fd, model, region, 0), (ssize_t)region);
	for (size_t i = 0; i < ARRAY_SIZE(w); i++) {
		fill(data, w[i].len, (uint32_t)i + 1);
		assert_int_equal(pwrite(fd, data, w[i].len, (off_t)w[i].off),
				 (ssize_t)w[i].len);
		memcpy(model + w[i].off, data, w[i].len);
	}
	check_device(e->path, 0, model, region);
	/* and through the page cache, at odd offsets */
	assert_int_equal(pread(fd, back, 3001, 1001), 3001);
	assert_memory_equal(back, model + 1001, 3001);
	/* the end of the file: short writes and reads, then ENOSPC */
	fill(data, 200, 7);
	assert_int_equal(pwrite(fd, data, 200, SIM_SIZE - 100), 100);
	assert_int_equal(pread(fd, back, 200, SIM_SIZE - 100), 100);
	assert_memory_equal(back, data, 100);
	assert_int_equal(pread(fd, back, 200, SIM_SIZE), 0);
	assert_int_equal(pwrite(fd, data, 1, SIM_SIZE), -1);
	assert_int_equal(errno, ENOSPC);
	close(fd);
	free(model);
	free(data);
	free(back);
}

static void vvb_direct(void **state)
{
	static const size_t sizes[] = { 4096, 65536, MiB, 3 * MiB + 4096 };
	struct env *e = *state;
	uint8_t *w = abuf(4 * MiB), *r = abuf(4 * MiB);
	int fd = xopen(e->path, O_RDWR | O_DIRECT);

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		off_t off = (off_t)(i * 8 * MiB + 4096 * i);

		fill(w, sizes[i], (uint32_t)i + 40);
		assert_int_equal(pwrite(fd, w, sizes[i], off),
				 (ssize_t)sizes[i]);
		memset(r, 0, sizes[i]);
		assert_int_equal(pread(fd, r, sizes[i], off),
				 (ssize_t)sizes[i]);
		assert_memory_equal(r, w, sizes[i]);
	}
	close(fd);
	free(w);
	free(r);
}

static void vvb_fsync(void **state)
{
	struct env *e = *state;
	int fd = xopen(e->path, O_RDWR), dfd = xopen(e->mnt, O_RDONLY);
	uint8_t w[8192];

	fill(w, sizeof(w), 3);
	assert_int_equal(pwrite(fd, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(fdatasync(fd), 0);
	assert_int_equal(fsync(dfd), 0);
	close(fd);
	close(dfd);
	check_device(e->path, 0, w, sizeof(w));
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void zero_case(struct env *e, int mode)
{
	size_t len = 4 * MiB;
	uint8_t *w = malloc(len), *r = abuf(len);
	int fd = xopen(e->path, O_RDWR);
	int dfd = xopen(e->path, O_RDONLY | O_DIRECT);

	fill(w, len, 5);
	assert_int_equal(pwrite(fd, w, len, 0), (ssize_t)len);
	assert_int_equal(fallocate(fd, mode, MiB, 2 * MiB), 0);
	assert_int_equal(pread(dfd, r, len, 0), (ssize_t)len);
	assert_memory_equal(r, w, MiB);
	assert_true(is_zero(r + MiB, 2 * MiB));
	assert_memory_equal(r + 3 * MiB, w + 3 * MiB, MiB);
	/* the page cache agrees */
	assert_int_equal(pread(fd, r, 4096, MiB + 4096), 4096);
	assert_true(is_zero(r, 4096));
	/* whole blocks only, as a block device */
	assert_int_equal(fallocate(fd, mode, 100, 4096), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
	close(dfd);
	free(w);
	free(r);
}

static void vvb_punch_hole(void **state)
{
	zero_case(*state, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
}

static void vvb_zero_range(void **state)
{
	struct env *e = *state;
	int fd;

	zero_case(e, FALLOC_FL_ZERO_RANGE);
	fd = xopen(e->path, O_RDWR);
	/* the file keeps its size; other modes are not a block device's */
	assert_int_equal(
		fallocate(fd, FALLOC_FL_ZERO_RANGE, SIM_SIZE - 4096, 8192), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fallocate(fd,
				   FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				   SIM_SIZE - 4096, 8192),
			 0);
	assert_int_equal(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	assert_int_equal(fallocate(fd, 0, 0, 4096), 0);
	assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	close(fd);
}

/* ---- the wrapper's cases ---- */

static void vvb_readonly(void **state)
{
	struct env *e = *state;
	struct vdpa_device *v1 = test_dev_add(&e->tb, e->tb.blk, "ro0", NULL);
	struct wrap_dev *w = wrap_new(v1, "ro1");
	char path[200];
	uint8_t r[4096];
	struct vv_blk *b;
	struct stat st;
	int fd;

	w->add_features = BIT_ULL(VIRTIO_BLK_F_RO);
	b = env_probe(e, &w->vdpa);
	snprintf(path, sizeof(path), "%s/ro1", e->mnt);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_int_equal(st.st_size, SIM_SIZE);
	/* root passes the mode bits: the file itself refuses */
	assert_int_equal(open(path, O_RDWR), -1);
	assert_int_equal(errno, EROFS);
	assert_int_equal(open(path, O_WRONLY), -1);
	assert_int_equal(errno, EROFS);
	fd = xopen(path, O_RDONLY);
	assert_int_equal(pread(fd, r, sizeof(r), 4096), sizeof(r));
	assert_true(is_zero(r, sizeof(r)));
	assert_int_equal(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096), -1);
	close(fd);
	vv_blk_remove(b);
	vdpa_put_device(&w->vdpa);
}

static bool wait_size(const char *path, off_t size)
{
	int64_t end = now_ms() + WAIT_MS;
	struct stat st;

	while (now_ms() < end) {
		if (!stat(path, &st) && st.st_size == size)
			return true;
		usleep(2000);
	}
	return false;
}

/* A capacity change reaches the file; the device's IOERR is EIO. */
static void vvb_resize(void **state)
{
	struct env *e = *state;
	uint8_t *buf = abuf(4096);
	int fd;

	__atomic_store_n(&e->wrap->capacity, 2 * SIM_SIZE / 512,
			 __ATOMIC_RELEASE);
	wrap_config_irq(e->wrap);
	assert_true(wait_size(e->path, 2 * SIM_SIZE));
	fd = xopen(e->path, O_RDWR | O_DIRECT);
	/* past the simulator's ramdisk: it answers IOERR */
	assert_int_equal(pread(fd, buf, 4096, SIM_SIZE + 4096), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(pread(fd, buf, 4096, SIM_SIZE - 4096), 4096);
	__atomic_store_n(&e->wrap->capacity, SIM_SIZE / 512 / 2,
			 __ATOMIC_RELEASE);
	wrap_config_irq(e->wrap);
	assert_true(wait_size(e->path, SIM_SIZE / 2));
	assert_int_equal(pread(fd, buf, 4096, SIM_SIZE / 2), 0);
	close(fd);
	free(buf);
}

/* A request on a thread of its own. */
struct io_thread {
	pthread_t t;
	int fd;
	bool write;
	size_t len;
	off_t off;
	uint8_t *buf;
	ssize_t ret;
	int err;
	bool done;
};

static void *io_run(void *arg)
{
	struct io_thread *io = arg;

	io->ret = io->write ? pwrite(io->fd, io->buf, io->len, io->off)
			    : pread(io->fd, io->buf, io->len, io->off);
	io->err = io->ret < 0 ? errno : 0;
	__atomic_store_n(&io->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Start a request the device holds: its kick is swallowed. The
 * simulator may still take it while it polls after earlier work, so
 * try until one is held.
 */
static void io_start_held(struct env *e, struct io_thread *io, int fd,
			  bool write)
{
	unsigned int held = __atomic_load_n(&e->wrap->held, __ATOMIC_ACQUIRE);
	int64_t end = now_ms() + WAIT_MS;

	__atomic_store_n(&e->wrap->hold_kicks, true, __ATOMIC_RELEASE);
	for (;;) {
		usleep(20000); /* the simulator stops polling */
		*io = (struct io_thread){
			.fd = fd, .write = write, .len = 65536, .off = 65536
		};
		io->buf = abuf(io->len);
		memset(io->buf, 0x5a, io->len);
		assert_int_equal(pthread_create(&io->t, NULL, io_run, io), 0);
		while (!__atomic_load_n(&io->done, __ATOMIC_ACQUIRE) &&
		       __atomic_load_n(&e->wrap->held, __ATOMIC_ACQUIRE) ==
			       held &&
		       now_ms() < end)
			usleep(1000);
		if (!__atomic_load_n(&io->done, __ATOMIC_ACQUIRE))
			break;
		pthread_join(io->t, NULL);
		free(io->buf);
		assert_true(now_ms() < end);
	}
	assert_true(__atomic_load_n(&e->wrap->held, __ATOMIC_ACQUIRE) > held);
}

static void io_join(struct io_thread *io)
{
	pthread_join(io->t, NULL);
	free(io->buf);
}

/* NEEDS_RESET: what is in flight and what comes later get EIO. */
static void vvb_needs_reset(void **state)
{
	struct env *e = *state;
	int fd = xopen(e->path, O_RDWR | O_DIRECT);
	uint8_t *buf = abuf(4096);
	struct io_thread io;
	struct stat st;

	io_start_held(e, &io, fd, false);
	__atomic_store_n(&e->wrap->needs_reset, true, __ATOMIC_RELEASE);
	wrap_config_irq(e->wrap);
	io_join(&io);
	assert_int_equal(io.ret, -1);
	assert_int_equal(io.err, EIO);
	assert_int_equal(pread(fd, buf, 4096, 0), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(pwrite(fd, buf, 4096, 0), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(fsync(fd), -1);
	assert_int_equal(errno, EIO);
	close(fd);
	/* the file stays until the device goes; opening it fails */
	assert_int_equal(stat(e->path, &st), 0);
	assert_int_equal(open(e->path, O_RDONLY), -1);
	assert_int_equal(errno, EIO);
	free(buf);
}

/* Remove with a request in flight: EIO, no hang, the file is gone. */
static void vvb_remove_inflight(void **state)
{
	struct env *e = *state;
	int fd = xopen(e->path, O_RDWR | O_DIRECT);
	int cfd = xopen(e->path, O_RDWR);
	char names[2][VDPA_NAME_MAX];
	uint8_t *buf = abuf(4096);
	struct io_thread io;
	struct stat st;

	/* something in the page cache, which must not outlive the device */
	assert_int_equal(pread(cfd, buf, 4096, 0), 4096);
	io_start_held(e, &io, fd, true);
	vv_blk_remove(e->b);
	e->b = NULL;
	io_join(&io);
	assert_int_equal(io.ret, -1);
	assert_int_equal(io.err, EIO);
	assert_int_equal(stat(e->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(list_dir(e->mnt, names, 2), 0);
	assert_int_equal(vv_blk_fs_count(e->fs), 0);
	assert_int_equal(pread(fd, buf, 4096, 0), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(pread(cfd, buf, 4096, 0), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(pwrite(cfd, buf, 100, 1), -1);
	assert_int_equal(errno, EIO);
	close(fd);
	close(cfd);
	free(buf);
}

struct hammer {
	pthread_t t;
	const char *path;
	int id;
	unsigned long ops;
	int err;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	int fd = open(h->path, O_RDWR | (h->id & 1 ? O_DIRECT : 0));
	uint8_t *buf = abuf(MiB);

	h->err = fd < 0 ? errno : 0;
	for (unsigned int i = 0; fd >= 0 && !h->err; i++) {
		off_t off = (off_t)(((i * 7919u + (unsigned)h->id * 104729u) %
				     100) *
				    MiB);
		ssize_t n = (i + (unsigned)h->id) % 2
				    ? pwrite(fd, buf, MiB, off)
				    : pread(fd, buf, MiB, off);

		if (n < 0)
			h->err = errno;
		else
			__atomic_add_fetch(&h->ops, 1, __ATOMIC_RELEASE);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Remove under load from four threads: each gets EIO and returns. */
static void vvb_remove_busy(void **state)
{
	struct env *e = *state;
	struct hammer h[4];
	int64_t end = now_ms() + WAIT_MS;
	int fds = test_count_fds();

	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .path = e->path, .id = i };
		assert_int_equal(
			pthread_create(&h[i].t, NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		while (__atomic_load_n(&h[i].ops, __ATOMIC_ACQUIRE) < 3 &&
		       now_ms() < end)
			usleep(1000);
	vv_blk_remove(e->b);
	e->b = NULL;
	for (int i = 0; i < 4; i++) {
		pthread_join(h[i].t, NULL);
		assert_true(h[i].ops >= 3);
		assert_int_equal(h[i].err, EIO);
	}
	/* the device's eventfds and the arena's memfd are gone */
	assert_true(test_count_fds() < fds);
}

/* ---- mounting ---- */

/* A FUSE server that mounts @dir and waits to be killed. */
static void stale_server(const char *dir, int wfd)
{
	static const struct fuse_lowlevel_ops ops = { 0 };
	char prog[] = "stale";
	char *argv[] = { prog, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_session *se =
		fuse_session_new(&args, &ops, sizeof(ops), NULL);

	if (!se || fuse_session_mount(se, dir))
		_exit(1);
	if (write(wfd, "m", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

/* A mount left by a killed server is detached; the new one serves. */
static void vvb_stale_mount(void **state)
{
	char dir[64] = "/tmp/test-vv-stale.XXXXXX", mnt[96], c;
	struct env e = { 0 };
	struct stat st;
	int pfd[2], status;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(mnt, sizeof(mnt), "%s/blk", dir);
	assert_int_equal(mkdir(mnt, 0755), 0);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		stale_server(mnt, pfd[1]);
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* what uvdpad finds after a crash */
	assert_int_equal(stat(mnt, &st), -1);
	assert_int_equal(errno, ENOTCONN);

	assert_int_equal(test_bus_init(&e.tb, 1), 0);
	e.vdev = test_dev_add(&e.tb, e.tb.blk, "blk0", NULL);
	snprintf(e.mnt, sizeof(e.mnt), "%s", mnt);
	env_mount(&e);
	e.b = env_probe(&e, e.vdev);
	snprintf(e.path, sizeof(e.path), "%s/blk0", mnt);
	assert_int_equal(stat(e.path, &st), 0);
	assert_int_equal(st.st_size, SIM_SIZE);
	vv_blk_remove(e.b);
	vv_blk_fs_free(e.fs);
	test_bus_done(&e.tb);
	/* unmounted: the directory is plain again */
	assert_int_equal(stat(mnt, &st), 0);
	assert_int_equal(rmdir(mnt), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* No permission to mount: a clear error, nothing left behind. */
static void vvb_mount_error(void **state)
{
	struct vdpa_extack ext = { "" };
	int err = 0;

	assert_null(vv_blk_fs_new("/proc/self/blk", NULL, &ext, &err));
	assert_true(err < 0);
	assert_true(strlen(ext.msg) > 0);
}

static bool have(const char *tool);
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- over the blk parent: a file, four queues, 4 KiB blocks ---- */

static void make_image(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static struct vdpa_device *parent_add(struct env *e, struct vdpa_mgmt_dev *m,
				      const char *name, const char *img,
				      bool ro)
{
	struct vdpa_dev_set_config cfg = { 0 };
	struct vdpa_extack ext = { "" };

	cfg.blk.path = img;
	cfg.blk.num_queues = 4;
	cfg.blk.logical_block_size = 4096;
	cfg.blk.readonly = ro;
	cfg.blk.writeback = true;
	cfg.ext_mask = UVDPA_EXT_BIT(UVDPA_ATTR_BLK_PATH) |
		       UVDPA_EXT_BIT(UVDPA_ATTR_BLK_NUM_QUEUES) |
		       UVDPA_EXT_BIT(UVDPA_ATTR_BLK_LOGICAL_BLOCK_SIZE) |
		       UVDPA_EXT_BIT(UVDPA_ATTR_BLK_READONLY) |
		       UVDPA_EXT_BIT(UVDPA_ATTR_BLK_WRITEBACK);
	if (vdpa_mgmtdev_dev_add(m, name, &cfg, &ext))
		fail_msg("dev add %s: %s", name, ext.msg);
	return vdpa_find_device(e->tb.bus, name);
}

static void parent_io(struct env *e, const char *path, const char *img)
{
	size_t len = 8 * MiB;
	uint8_t *w = malloc(len), *r = malloc(len);
	int fd = xopen(path, O_RDWR), ifd = xopen(img, O_RDONLY);

	/* 4 KiB blocks: these all read-modify-write, on four queues */
	fill(w, len, 77);
	assert_int_equal(pwrite(fd, w, len, 0), (ssize_t)len);
	fill(w + 100, 5000, 78);
	assert_int_equal(pwrite(fd, w + 100, 5000, 100), 5000);
	fill(w + 3 * MiB + 4095, 3, 79);
	assert_int_equal(pwrite(fd, w + 3 * MiB + 4095, 3, 3 * MiB + 4095), 3);
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(fallocate(fd,
				   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   4 * MiB, MiB),
			 0);
	memset(w + 4 * MiB, 0, MiB);
	assert_int_equal(fallocate(fd, FALLOC_FL_ZERO_RANGE, 4 * MiB, 512), -1);
	assert_int_equal(errno, EINVAL);
	check_device(path, 0, w, len);
	/* the image file is the truth */
	assert_int_equal(pread(ifd, r, len, 0), (ssize_t)len);
	assert_memory_equal(r, w, len);
	close(fd);
	close(ifd);
	free(w);
	free(r);
}

static void vvb_blk_parent(void **state)
{
	struct env e = { 0 };
	struct vdpa_mgmt_dev *m;
	struct vdpa_extack ext;
	char img[128], img2[128], path[200], cmd[160];
	struct vv_blk *b, *b2;
	struct stat st;
	int err = 0, fd;

	assert_int_equal(test_bus_init(&e.tb, 2), 0);
	m = blk_mgmt_new(e.tb.pool, 50, &err);
	assert_non_null(m);
	assert_int_equal(vdpa_mgmtdev_register(e.tb.bus, m), 0);
	snprintf(e.dir, sizeof(e.dir), "/tmp/test-vv-blkp.XXXXXX");
	assert_non_null(mkdtemp(e.dir));
	snprintf(e.mnt, sizeof(e.mnt), "%s/blk", e.dir);
	snprintf(img, sizeof(img), "%s/disk.img", e.dir);
	snprintf(img2, sizeof(img2), "%s/ro.img", e.dir);
	make_image(img, 64 * MiB);
	make_image(img2, 16 * MiB);
	env_mount(&e);
	b = env_probe(&e, parent_add(&e, m, "disk0", img, false));
	b2 = env_probe(&e, parent_add(&e, m, "ro0", img2, true));
	parent_io(&e, vv_blk_path(b), img);
	if (have("fio"))
		assert_int_equal(
			run("fio --name=vv --filename=%s "
			    "--ioengine=libaio --direct=1 --iodepth=16 "
			    "--numjobs=2 --offset_increment=8M "
			    "--rw=randwrite --bs=4k --verify=crc32c "
			    "--verify_fatal=1 --verify_state_save=0 --size=8M "
			    "--output=/dev/null",
			    vv_blk_path(b)),
			0);
	/* a real resize: the parent raises the config interrupt */
	vdpa_bus_lock(e.tb.bus);
	err = m->ops->dev_resize(m, vdpa_find_device(e.tb.bus, "disk0"),
				 96 * MiB, &ext);
	vdpa_bus_unlock(e.tb.bus);
	assert_int_equal(err, 0);
	assert_true(wait_size(vv_blk_path(b), 96 * MiB));
	/* a read-only device */
	snprintf(path, sizeof(path), "%s/ro0", e.mnt);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_int_equal(open(path, O_RDWR), -1);
	assert_int_equal(errno, EROFS);
	fd = xopen(path, O_RDONLY);
	assert_int_equal(pread(fd, cmd, sizeof(cmd), 0), sizeof(cmd));
	close(fd);
	vv_blk_remove(b2);
	vv_blk_remove(b);
	vv_blk_fs_free(e.fs);
	vdpa_mgmtdev_unregister(m);
	test_bus_done(&e.tb);
	blk_mgmt_free(m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e.dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- host tools on the file ---- */

static bool have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* How a container gets a disk: losetup, mkfs.ext4, mount. */
static void vvb_loop_ext4(void **state)
{
	struct env *e = *state;
	char loop[64] = "", dir[96], cmd[256];
	FILE *p;

	if (!have("losetup") || !have("mkfs.ext4") || !have("e2fsck"))
		skip();
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s", e->path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(loop, sizeof(loop), p));
	assert_int_equal(pclose(p), 0);
	loop[strcspn(loop, "\n")] = 0;
	snprintf(dir, sizeof(dir), "%s/mnt", e->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(run("mkfs.ext4 -q -F %s", loop), 0);
	assert_int_equal(run("mount %s %s", loop, dir), 0);
	assert_int_equal(run("head -c 3000000 /dev/urandom > %s/f && "
			     "cp %s/f %s/g && sync",
			     dir, dir, dir),
			 0);
	assert_int_equal(run("umount %s", dir), 0);
	assert_int_equal(run("e2fsck -fn %s >/dev/null 2>&1", loop), 0);
	assert_int_equal(
		run("mount %s %s && cmp %s/f %s/g", loop, dir, dir, dir), 0);
	assert_int_equal(run("umount %s && losetup -d %s", dir, loop), 0);
	rmdir(dir);
}

/* fio's verify over O_DIRECT at queue depth 16, as the issue asks. */
static void vvb_fio_verify(void **state)
{
	struct env *e = *state;

	if (!have("fio"))
		skip();
	assert_int_equal(run("fio --name=vv --filename=%s --ioengine=libaio "
			     "--direct=1 --iodepth=16 --rw=randwrite "
			     "--verify=crc32c --verify_fatal=1 --bs=4k "
			     "--verify_state_save=0 "
			     "--size=32M --output=/dev/null",
			     e->path),
			 0);
	/*
	 * Blocks of 1000 bytes at depth 32: neighbours share sectors, so
	 * concurrent read-modify-writes must not lose each other's bytes.
	 */
	assert_int_equal(run("fio --name=vv-rmw --filename=%s "
			     "--ioengine=libaio --direct=1 --iodepth=32 "
			     "--rw=randwrite --verify=crc32c --verify_fatal=1 "
			     "--verify_state_save=0 "
			     "--bs=1000 --size=4M --output=/dev/null",
			     e->path),
			 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
#define TW(f) cmocka_unit_test_setup_teardown(f, env_setup_wrap, env_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vvb_stale_mount),
		cmocka_unit_test(vvb_mount_error),
		T(vvb_file),
		T(vvb_listing),
		T(vvb_other_users),
		T(vvb_unaligned),
		T(vvb_direct),
		T(vvb_fsync),
		T(vvb_punch_hole),
		T(vvb_zero_range),
		T(vvb_readonly),
		TW(vvb_resize),
		TW(vvb_needs_reset),
		TW(vvb_remove_inflight),
		T(vvb_remove_busy),
		cmocka_unit_test(vvb_blk_parent),
		T(vvb_loop_ext4),
		T(vvb_fio_verify),
	};
#undef T
#undef TW
	/* FUSE mounts with allow_other, losetup and mount need root */
	if (geteuid() || access("/dev/fuse", R_OK | W_OK)) {
		printf("1..0 # SKIP needs root and /dev/fuse\n");
		return 0;
	}
	/* VVB_TEST=vvb_readonly runs one case */
	if (getenv("VVB_TEST"))
		cmocka_set_test_filter(getenv("VVB_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
