// SPDX-License-Identifier: MIT
/*
 * virtio-blk → file (buses/virtio_vdpa, blk_*.c): the file a device
 * becomes, its I/O, and the wrapper's cases (vv_blk_env.h). Mounting, the
 * blk parent and host tools on the file are in test_vv_blk_host.c.
 */
#include "vv_blk_env.h"

#include <linux/aio_abi.h>
#include <sys/syscall.h>

#include "blk_internal.h" /* the receive buffers' counters */

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
	test_fill(w, sizeof(w), 1);
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
	test_fill(model, region, 99);
	assert_int_equal(pwrite(fd, model, region, 0), (ssize_t)region);
	for (size_t i = 0; i < ARRAY_SIZE(w); i++) {
		test_fill(data, w[i].len, (uint32_t)i + 1);
		assert_int_equal(pwrite(fd, data, w[i].len, (off_t)w[i].off),
				 (ssize_t)w[i].len);
		memcpy(model + w[i].off, data, w[i].len);
	}
	check_device(e->path, 0, model, region);
	/* and through the page cache, at odd offsets */
	assert_int_equal(pread(fd, back, 3001, 1001), 3001);
	assert_memory_equal(back, model + 1001, 3001);
	/* the end of the file: short writes and reads, then ENOSPC */
	test_fill(data, 200, 7);
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

		test_fill(w, sizes[i], (uint32_t)i + 40);
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

	test_fill(w, sizeof(w), 3);
	assert_int_equal(pwrite(fd, w, sizeof(w), 0), sizeof(w));
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(fdatasync(fd), 0);
	assert_int_equal(fsync(dfd), 0);
	close(fd);
	close(dfd);
	check_device(e->path, 0, w, sizeof(w));
}

static void zero_case(struct env *e, int mode)
{
	size_t len = 4 * MiB;
	uint8_t *w = malloc(len), *r = abuf(len);
	int fd = xopen(e->path, O_RDWR);
	int dfd = xopen(e->path, O_RDONLY | O_DIRECT);

	test_fill(w, len, 5);
	assert_int_equal(pwrite(fd, w, len, 0), (ssize_t)len);
	assert_int_equal(fallocate(fd, mode, MiB, 2 * MiB), 0);
	assert_int_equal(pread(dfd, r, len, 0), (ssize_t)len);
	assert_memory_equal(r, w, MiB);
	assert_true(test_all_zero(r + MiB, 2 * MiB));
	assert_memory_equal(r + 3 * MiB, w + 3 * MiB, MiB);
	/* the page cache agrees */
	assert_int_equal(pread(fd, r, 4096, MiB + 4096), 4096);
	assert_true(test_all_zero(r, 4096));
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
	assert_true(test_all_zero(r, sizeof(r)));
	assert_int_equal(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096), -1);
	close(fd);
	vv_blk_remove(b);
	vdpa_put_device(&w->vdpa);
}

/*
 * Config values not to be taken as they come: 4 KiB blocks over a capacity
 * that ends in a partial block, and a WRITE_ZEROES limit below a block
 * (whole-block requests of it would be of 0 sectors).
 */
static void vvb_odd_config(void **state)
{
	struct env *e = *state;
	struct vdpa_device *v1 = test_dev_add(&e->tb, e->tb.blk, "odd0", NULL);
	struct wrap_dev *w = wrap_new(v1, "odd1");
	uint8_t *buf = abuf(8192), w8[100];
	char path[200];
	struct vv_blk *b;
	struct stat st;
	int fd;

	w->blk_size = 4096;
	w->max_wz = 7;
	w->capacity = SIM_SIZE / 512 - 1;
	b = env_probe(e, &w->vdpa);
	snprintf(path, sizeof(path), "%s/odd1", e->mnt);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, SIM_SIZE - 4096);
	fd = xopen(path, O_RDWR | O_DIRECT);
	assert_int_equal(pread(fd, buf, 8192, SIM_SIZE - 8192), 4096);
	close(fd);
	fd = xopen(path, O_RDWR);
	test_fill(w8, sizeof(w8), 9);
	/* an unaligned write across the last two blocks: their edges are read */
	assert_int_equal(pwrite(fd, w8, sizeof(w8), SIM_SIZE - 8192 - 50),
			 sizeof(w8));
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	close(fd);
	check_device(path, SIM_SIZE - 8192 - 50, w8, sizeof(w8));
	vv_blk_remove(b);
	vdpa_put_device(&w->vdpa);
	free(buf);
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
	int64_t end = test_now_ms() + WAIT_MS;

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
		       test_now_ms() < end)
			usleep(1000);
		if (!__atomic_load_n(&io->done, __ATOMIC_ACQUIRE))
			break;
		pthread_join(io->t, NULL);
		free(io->buf);
		assert_true(test_now_ms() < end);
	}
	assert_true(__atomic_load_n(&e->wrap->held, __ATOMIC_ACQUIRE) > held);
}

static void io_join(struct io_thread *io)
{
	pthread_join(io->t, NULL);
	free(io->buf);
}

/* Writes received so far into a receive buffer, and copied ones. */
static void rx_counts(struct env *e, uint64_t *direct, uint64_t *copied,
		      uint32_t *nfree)
{
	pthread_mutex_lock(&e->fs->lock);
	*direct = e->b->rx_direct;
	*copied = e->b->rx_copied;
	*nfree = e->b->nrx_free;
	pthread_mutex_unlock(&e->fs->lock);
}

#define RX_N (VV_RX_SLOTS + 3)

/*
 * Aligned writes go to the device from the buffer FUSE received them in:
 * with more of them in flight than there are buffers (the device holds
 * them), the later ones are copied as before; all arrive intact. Async
 * direct I/O: FUSE takes concurrent pwrite()s one at a time.
 */
static void vvb_rx_buffers(void **state)
{
	struct env *e = *state;
	int fd = xopen(e->path, O_RDWR | O_DIRECT);
	struct iocb cbs[RX_N], *cbp[RX_N];
	struct io_event evs[RX_N];
	aio_context_t ctx = 0;
	uint64_t d0, c0, d, c;
	uint32_t nfree;
	int64_t end = test_now_ms() + WAIT_MS;
	uint8_t *w = abuf(MiB), *bufs = abuf(RX_N * MiB);
	long got = 0;

	assert_int_equal(syscall(SYS_io_setup, RX_N, &ctx), 0);
	/* the file's first write makes its buffers the ones that receive */
	test_fill(w, MiB, 90);
	assert_int_equal(pwrite(fd, w, MiB, 0), (ssize_t)MiB);
	rx_counts(e, &d0, &c0, &nfree);
	assert_int_equal(nfree, VV_RX_SLOTS);
	usleep(20000); /* the simulator stops polling */
	__atomic_store_n(&e->wrap->hold_kicks, true, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < RX_N; i++) {
		test_fill(bufs + i * MiB, MiB, 100 + i);
		cbs[i] = (struct iocb){
			.aio_lio_opcode = IOCB_CMD_PWRITE,
			.aio_fildes = (uint32_t)fd,
			.aio_buf = (uintptr_t)(bufs + i * MiB),
			.aio_nbytes = MiB,
			.aio_offset = (int64_t)((2 * i + 1) * MiB),
		};
		cbp[i] = &cbs[i];
	}
	assert_int_equal(syscall(SYS_io_submit, ctx, RX_N, cbp), RX_N);
	do {
		usleep(2000);
		rx_counts(e, &d, &c, &nfree);
		assert_true(test_now_ms() < end);
	} while (d - d0 + c - c0 < RX_N);
	/* every buffer is held by a write in flight, the rest were copied */
	assert_int_equal(d - d0, VV_RX_SLOTS);
	assert_true(c > c0);
	assert_int_equal(nfree, 0);
	__atomic_store_n(&e->wrap->hold_kicks, false, __ATOMIC_RELEASE);
	for (uint32_t q = 0; q < e->b->nqs; q++)
		e->vdev->config->kick_vq(e->vdev, (uint16_t)q);
	while (got < RX_N) {
		long n = syscall(SYS_io_getevents, ctx, 1, RX_N - got,
				 evs + got, NULL);

		assert_true(n > 0);
		got += n;
	}
	for (long i = 0; i < RX_N; i++)
		assert_int_equal(evs[i].res, (int64_t)MiB);
	for (unsigned int i = 0; i < RX_N; i++)
		check_device(e->path, (2 * i + 1) * MiB, bufs + i * MiB, MiB);
	rx_counts(e, &d, &c, &nfree);
	assert_int_equal(nfree, VV_RX_SLOTS);
	/* buffers free again: the next aligned write is not copied */
	assert_int_equal(pwrite(fd, w, MiB, 0), (ssize_t)MiB);
	rx_counts(e, &d0, &c0, &nfree);
	assert_int_equal(d0, d + 1);
	assert_int_equal(c0, c);
	check_device(e->path, 0, w, MiB);
	syscall(SYS_io_destroy, ctx);
	close(fd);
	free(w);
	free(bufs);
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
	int64_t end = test_now_ms() + WAIT_MS;
	int fds = test_count_fds();

	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .path = e->path, .id = i };
		assert_int_equal(
			pthread_create(&h[i].t, NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		while (__atomic_load_n(&h[i].ops, __ATOMIC_ACQUIRE) < 3 &&
		       test_now_ms() < end)
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

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
#define TW(f) cmocka_unit_test_setup_teardown(f, env_setup_wrap, env_teardown)
	const struct CMUnitTest tests[] = {
		T(vvb_file),	     T(vvb_listing),
		T(vvb_other_users),  T(vvb_unaligned),
		T(vvb_direct),	     T(vvb_fsync),
		T(vvb_punch_hole),   T(vvb_zero_range),
		T(vvb_readonly),     T(vvb_odd_config),
		TW(vvb_resize),	     TW(vvb_rx_buffers),
		TW(vvb_needs_reset), TW(vvb_remove_inflight),
		T(vvb_remove_busy),
	};
#undef T
#undef TW
	if (!vv_blk_may_run())
		return 0;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
