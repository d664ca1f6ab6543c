// SPDX-License-Identifier: MIT
/*
 * The `blk` parent driven through real driver-side rings: devices on temp
 * files (checked with pread/stat on the file itself), on /dev/shm (tmpfs)
 * and with O_DIRECT, through io_uring and inline. test_blk_nbd.c covers its NBD back end.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "blk_env.h"
#include "blk_priv.h"

/* ---- files ---- */

static void blk_file_rw(void **state)
{
	struct blk_env *e = *state;
	uint8_t pat[4096], r[4096];
	struct virtio_blk_config c;
	uint64_t f;

	test_file_make(e->path, FILE_SIZE);
	test_fill(pat, sizeof(pat), 42);
	test_file_write(e->path, 1 << 20, pat, sizeof(pat));
	start(e, 1, ~0ull);
	f = e->d.features;
	assert_true(f & BIT_ULL(VIRTIO_BLK_F_FLUSH));
	assert_true(f & BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE));
	assert_true(f & BIT_ULL(VIRTIO_BLK_F_DISCARD));
	assert_true(f & BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(f & BIT_ULL(VIRTIO_RING_F_EVENT_IDX));
	assert_false(f & BIT_ULL(VIRTIO_BLK_F_RO));
	config(e, &c);
	assert_int_equal(le64toh(c.capacity), FILE_SIZE / SECTOR);
	assert_int_equal(le32toh(c.blk_size), 512);
	assert_int_equal(le16toh(c.num_queues), 1);
	assert_int_equal(c.wce, 1);
	assert_true(le32toh(c.seg_max) >= 1 && le32toh(c.size_max) >= 4096);

	/* what the file held is what the device reads */
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_IN, 2048, r, sizeof(r), false),
		VIRTIO_BLK_S_OK);
	assert_memory_equal(r, pat, sizeof(r));
	rw_check(e, 0, 0, SECTOR, 1, 1, 0);
	rw_check(e, 0, 7, 8 * SECTOR, 2, 1, 0);
	rw_check(e, 0, 1000, 64 * 1024, 3, 8, 0); /* a scattered request */
	rw_check(e, 0, FILE_SIZE / SECTOR - 1, SECTOR, 4, 1, 0);
	rw_check(e, 0, 4096, 1 << 20, 5, 4, 0);
	assert_int_equal(test_vstat(e->vdev, 0, "writes"), 5);
	assert_int_equal(test_vstat(e->vdev, 0, "reads"), 6);
	assert_int_equal(test_vstat(e->vdev, 0, "write_bytes"),
			 SECTOR + 8 * SECTOR + 64 * 1024 + SECTOR + (1 << 20));
	assert_int_equal(test_vstat(e->vdev, 0, "requests"), 11);
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 0);
	assert_int_equal(test_vstat(e->vdev, 0, "inflight"), 0);
}

/* Every queue serves its own requests, all in flight at once. */
static void blk_multiqueue(void **state)
{
	struct blk_env *e = *state;
	enum { NQ = 4, PER = 8, LEN = 4096 };
	static struct qreq reqs[NQ][PER];
	uint8_t w[LEN], f[LEN];

	test_file_make(e->path, FILE_SIZE);
	e->cfg.blk.num_queues = NQ;
	e->cfg.ext_mask |= EXT(NUM_QUEUES);
	start(e, NQ, ~0ull);
	for (uint16_t q = 0; q < NQ; q++) {
		for (int i = 0; i < PER; i++) {
			struct qreq *r = &reqs[q][i];

			assert_int_equal(qreq_add(&e->d, q, r, VIRTIO_BLK_T_OUT,
						  (q * PER + i) * 8u, LEN, true,
						  1, 0),
					 0);
			test_fill(r->seg[0], LEN, q * 100u + (uint32_t)i);
		}
	}
	for (uint16_t q = 0; q < NQ; q++)
		test_drv_kick(&e->d, q);
	for (uint16_t q = 0; q < NQ; q++) {
		for (int i = 0; i < PER; i++) {
			struct qreq *r =
				test_drv_wait_used(&e->d, q, NULL, WAIT_MS);

			assert_non_null(r);
			assert_true(r >= reqs[q] && r < reqs[q] + PER);
			assert_int_equal(*r->status, VIRTIO_BLK_S_OK);
		}
		assert_int_equal(test_vstat(e->vdev, q, "writes"), PER);
		assert_int_equal(test_vstat(e->vdev, q, "write_bytes"),
				 PER * LEN);
	}
	for (uint32_t q = 0; q < NQ; q++) {
		for (uint32_t i = 0; i < PER; i++) {
			test_fill(w, LEN, q * 100u + i);
			test_file_pread(e->path, (q * PER + i) * (uint64_t)LEN,
					f, LEN);
			assert_memory_equal(f, w, LEN);
		}
	}
	/* and reads on each */
	for (uint16_t q = 0; q < NQ; q++)
		rw_check(e, q, 20000 + q * 64u, 8192, q, 2, 0);
	for (uint16_t q = 0; q < NQ; q++)
		assert_int_equal(test_vstat(e->vdev, q, "reads"), 1);
}

static void blk_flush_writeback(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_config c;
	uint8_t zero = 0;

	test_file_make(e->path, FILE_SIZE);
	start(e, 1, ~0ull);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(test_vstat(e->vdev, 0, "flushes"), 1);
	/* CONFIG_WCE: the driver turns the cache off; writes go on */
	assert_int_equal(
		vdpa_set_config(e->vdev,
				offsetof(struct virtio_blk_config, wce), &zero,
				1),
		0);
	config(e, &c);
	assert_int_equal(c.wce, 0);
	rw_check(e, 0, 64, 4096, 7, 1, 0);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(test_vstat(e->vdev, 0, "flushes"), 2);

	/* without CONFIG_WCE and FLUSH negotiated, the cache is off */
	test_drv_stop(&e->d);
	assert_int_equal(test_drv_start(&e->d, e->vdev,
					~(BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE) |
					  BIT_ULL(VIRTIO_BLK_F_FLUSH)),
					1, QSIZE, 0),
			 0);
	config(e, &c);
	assert_int_equal(c.wce, 0);
	rw_check(e, 0, 64, 4096, 8, 1, 0);
}

/* writeback off: the cache starts off even with CONFIG_WCE negotiated */
static void blk_writeback_off(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_config c;

	test_file_make(e->path, FILE_SIZE);
	e->cfg.blk.writeback = false;
	e->cfg.ext_mask |= EXT(WRITEBACK);
	start(e, 1, ~0ull);
	config(e, &c);
	assert_int_equal(c.wce, 0);
	rw_check(e, 0, 8, 8192, 9, 2, 0);
}

static void blk_discard(void **state)
{
	struct blk_env *e = *state;
	static uint8_t w[1 << 20], r[1 << 20];
	long long before, after;

	test_file_make(e->path, FILE_SIZE);
	start(e, 1, ~0ull);
	for (uint32_t i = 0; i < 4; i++) {
		test_fill(w, sizeof(w), i + 1);
		assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_OUT, i * 2048, w,
				     sizeof(w), true),
				 VIRTIO_BLK_S_OK);
	}
	before = test_file_blocks(e->path);
	assert_true(before >= 4 * 2048);
	assert_int_equal(
		discard_wz(&e->d, VIRTIO_BLK_T_DISCARD, 0, 3 * 2048, 0),
		VIRTIO_BLK_S_OK);
	after = test_file_blocks(e->path);
	assert_true(after <= before - 3 * 2048);
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_IN, 1024, r, sizeof(r), false),
		VIRTIO_BLK_S_OK);
	assert_true(test_all_zero(r, sizeof(r)));
	/* the last MiB stayed */
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_IN, 3 * 2048, r, sizeof(r), false),
		VIRTIO_BLK_S_OK);
	assert_memory_equal(r, w, sizeof(r));
	assert_int_equal(test_vstat(e->vdev, 0, "discards"), 1);
	/* flags are not a discard's */
	assert_int_equal(discard_wz(&e->d, VIRTIO_BLK_T_DISCARD, 0, 8, 1),
			 VIRTIO_BLK_S_UNSUPP);
}

/* Write @w (1 MiB) to sectors 0 and 2048: 2 MiB to zero or punch. */
static void write_two_mib(struct blk_env *e, uint8_t *w, uint32_t seed)
{
	test_fill(w, 1 << 20, seed);
	for (uint32_t i = 0; i < 2; i++)
		assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_OUT, i * 2048, w,
				     1 << 20, true),
				 VIRTIO_BLK_S_OK);
}

static void check_write_zeroes(struct blk_env *e, const char *path)
{
	static uint8_t w[1 << 20], r[1 << 20];
	long long before, after;

	write_two_mib(e, w, 11);
	/* zero sectors 8..2047 of the first MiB; its first 4 KiB stay */
	assert_int_equal(
		discard_wz(&e->d, VIRTIO_BLK_T_WRITE_ZEROES, 8, 2040, 0),
		VIRTIO_BLK_S_OK);
	test_file_pread(path, 0, r, sizeof(r));
	assert_memory_equal(r, w, 4096);
	assert_true(test_all_zero(r + 4096, sizeof(r) - 4096));
	/* UNMAP: the second MiB's blocks go back */
	before = test_file_blocks(path);
	assert_int_equal(discard_wz(&e->d, VIRTIO_BLK_T_WRITE_ZEROES, 2048,
				    2048, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 VIRTIO_BLK_S_OK);
	after = test_file_blocks(path);
	assert_true(after <= before - 2048);
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_IN, 2048, r, sizeof(r), false),
		VIRTIO_BLK_S_OK);
	assert_true(test_all_zero(r, sizeof(r)));
	assert_int_equal(test_vstat(e->vdev, 0, "write_zeroes"), 2);
}

static void blk_write_zeroes(void **state)
{
	struct blk_env *e = *state;

	test_file_make(e->path, FILE_SIZE);
	start(e, 1, ~0ull);
	check_write_zeroes(e, e->path);
}

/* tmpfs has no ZERO_RANGE: the punch-hole fallback */
static void blk_write_zeroes_tmpfs(void **state)
{
	struct blk_env *e = *state;

	if (access("/dev/shm", W_OK)) {
		skip();
		return;
	}
	snprintf(e->shm, sizeof(e->shm), "/dev/shm/uvdpa-blk-test-%d",
		 getpid());
	test_file_make(e->shm, FILE_SIZE);
	e->cfg.blk.path = e->shm;
	start(e, 1, ~0ull);
	check_write_zeroes(e, e->shm);
}

/*
 * ramfs has neither ZERO_RANGE nor PUNCH_HOLE: zeroes are written, in
 * chunks, with or without UNMAP.
 */
static void blk_write_zeroes_written(void **state)
{
	static uint8_t w[1 << 20], r[1 << 20];
	struct blk_env *e = *state;

	snprintf(e->mnt, sizeof(e->mnt), "%s/mnt", e->dir);
	if (mkdir(e->mnt, 0700) || mount("ramfs", e->mnt, "ramfs", 0, NULL)) {
		e->mnt[0] = 0; /* no ramfs or no permission */
		skip();
		return;
	}
	snprintf(e->path, sizeof(e->path), "%s/disk.img", e->mnt);
	test_file_make(e->path, FILE_SIZE);
	start(e, 1, ~0ull);
	write_two_mib(e, w, 12);
	/* more than one chunk of zeroes, then the rest with UNMAP */
	assert_int_equal(
		discard_wz(&e->d, VIRTIO_BLK_T_WRITE_ZEROES, 8, 2048 + 8, 0),
		VIRTIO_BLK_S_OK);
	assert_int_equal(discard_wz(&e->d, VIRTIO_BLK_T_WRITE_ZEROES, 2056,
				    2040, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 VIRTIO_BLK_S_OK);
	test_file_pread(e->path, 0, r, sizeof(r));
	assert_memory_equal(r, w, 4096);
	assert_true(test_all_zero(r + 4096, sizeof(r) - 4096));
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_IN, 2048, r, sizeof(r), false),
		VIRTIO_BLK_S_OK);
	assert_true(test_all_zero(r, sizeof(r)));
	assert_int_equal(test_vstat(e->vdev, 0, "write_zeroes"), 2);
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 0);
}

static void blk_readonly(void **state)
{
	struct blk_env *e = *state;
	uint8_t pat[4096], r[4096], f[4096];

	test_file_make(e->path, FILE_SIZE);
	test_fill(pat, sizeof(pat), 5);
	test_file_write(e->path, 0, pat, sizeof(pat));
	e->cfg.blk.readonly = true;
	e->cfg.ext_mask |= EXT(READONLY);
	start(e, 1, ~0ull);
	assert_true(e->d.features & BIT_ULL(VIRTIO_BLK_F_RO));
	assert_false(e->d.features & BIT_ULL(VIRTIO_BLK_F_DISCARD));
	assert_false(e->d.features & BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_IN, 0, r, sizeof(r), false),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(r, pat, sizeof(r));
	memset(r, 0, sizeof(r));
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_OUT, 0, r, sizeof(r), true),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(discard_wz(&e->d, VIRTIO_BLK_T_DISCARD, 0, 8, 0),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(discard_wz(&e->d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0),
			 VIRTIO_BLK_S_IOERR);
	test_file_pread(e->path, 0, f, sizeof(f));
	assert_memory_equal(f, pat, sizeof(f));
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 3);
}

static void blk_out_of_range(void **state)
{
	struct blk_env *e = *state;
	const uint64_t cap = (8u << 20) / SECTOR;
	uint8_t buf[4096] = { 0 };

	test_file_make(e->path, FILE_SIZE);
	/* a capacity below the file's size exposes its first part */
	e->cfg.blk.capacity = 8u << 20;
	e->cfg.ext_mask |= EXT(CAPACITY);
	start(e, 1, ~0ull);
	rw_check(e, 0, cap - 1, SECTOR, 1, 1, 0);
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_IN, cap, buf, SECTOR, false),
		VIRTIO_BLK_S_IOERR);
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_OUT, cap - 1, buf, 2 * SECTOR, true),
		VIRTIO_BLK_S_IOERR);
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_IN, UINT64_MAX, buf, SECTOR, false),
		VIRTIO_BLK_S_IOERR);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_IN, 0, buf, 100, false),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(discard_wz(&e->d, VIRTIO_BLK_T_DISCARD, cap - 4, 8, 0),
			 VIRTIO_BLK_S_IOERR);
	/* types it does not know, or that are not the device's */
	assert_int_equal(qio(&e->d, 0, 2 /* SCSI */, 0, buf, SECTOR, false),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(
		qio(&e->d, 0, 16 /* ZONE_REPORT */, 0, buf, SECTOR, false),
		VIRTIO_BLK_S_UNSUPP);
	/* the file beyond the capacity was not touched */
	assert_int_equal(test_file_size(e->path), FILE_SIZE);
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 7);
}

static void blk_get_id(void **state)
{
	struct blk_env *e = *state;
	char id[VIRTIO_BLK_ID_BYTES], want[VIRTIO_BLK_ID_BYTES] = "disk-0042";

	test_file_make(e->path, FILE_SIZE);
	e->cfg.blk.serial = "disk-0042";
	e->cfg.ext_mask |= EXT(SERIAL);
	start(e, 1, ~0ull);
	memset(id, 0xff, sizeof(id));
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), false),
		VIRTIO_BLK_S_OK);
	assert_memory_equal(id, want, sizeof(id));

	/* 20 bytes: the whole field, no terminating NUL */
	test_drv_stop(&e->d);
	e->started = false;
	assert_int_equal(vdpa_dev_del(e->tb.bus, "blk0", NULL), 0);
	e->cfg.blk.serial = "ABCDEFGHIJKLMNOPQRST";
	start(e, 1, ~0ull);
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), false),
		VIRTIO_BLK_S_OK);
	assert_memory_equal(id, "ABCDEFGHIJKLMNOPQRST", sizeof(id));
}

/* O_DIRECT with buffers a file system cannot take: bounced. */
static void blk_direct_unaligned(void **state)
{
	struct blk_env *e = *state;

	test_file_make(e->path, FILE_SIZE);
	e->cfg.blk.direct = true;
	e->cfg.ext_mask |= EXT(DIRECT);
	start(e, 1, ~0ull);
	rw_check(e, 0, 0, 4096, 1, 1, 0); /* aligned */
	rw_check(e, 0, 8, 4096, 2, 1, 64); /* misaligned */
	rw_check(e, 0, 100, 8192, 3, 4, 3); /* scattered, odd */
	rw_check(e, 0, 2000, 1 << 20, 4, 8, 8);
	rw_check(e, 0, FILE_SIZE / SECTOR - 1, SECTOR, 5, 1, 1);
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 0);
}

/* ---- dev add's checks ---- */

struct bad_case {
	const char *path; /* NULL: the temp image */
	uint64_t mask;
	uint64_t capacity;
	uint32_t lbs;
	uint16_t nq, qs;
	bool readonly, direct;
	uint8_t aio;
	const char *serial;
	const char *msg;
};

static void check_refused(struct blk_env *e, const struct bad_case *c)
{
	struct vdpa_extack ext;
	struct vdpa_device *vdev;

	memset(&e->cfg, 0, sizeof(e->cfg));
	e->cfg.blk.path = c->path ? c->path : e->path;
	e->cfg.ext_mask = c->mask;
	e->cfg.blk.capacity = c->capacity;
	e->cfg.blk.logical_block_size = c->lbs;
	e->cfg.blk.num_queues = c->nq;
	e->cfg.blk.queue_size = c->qs;
	e->cfg.blk.readonly = c->readonly;
	e->cfg.blk.direct = c->direct;
	e->cfg.blk.aio = c->aio;
	e->cfg.blk.serial = c->serial;
	assert_true(dev_add(e, "bad", &ext) < 0);
	if (!strstr(ext.msg, c->msg))
		fail_msg("\"%s\" has no \"%s\"", ext.msg, c->msg);
	vdpa_bus_read_lock(e->tb.bus);
	vdev = vdpa_find_device(e->tb.bus, "bad");
	vdpa_bus_read_unlock(e->tb.bus);
	assert_null(vdev);
}

static void blk_add_refused(void **state)
{
	struct blk_env *e = *state;
	char small[160], uri[200];
	const uint64_t P = EXT(PATH);
	const struct bad_case cases[] = {
		{ .mask = 0, .msg = "path is required" },
		{ .path = "/nonexistent/disk",
		  .mask = P,
		  .msg = "cannot open /nonexistent/disk read-write: No such "
			 "file or directory" },
		{ .path = e->dir, .mask = P, .msg = "Is a directory" },
		{ .path = e->dir,
		  .mask = P | EXT(READONLY),
		  .readonly = true,
		  .msg = "neither a regular file nor a block device" },
		{ .mask = P | EXT(CAPACITY),
		  .capacity = 1000,
		  .msg = "capacity 1000 is not a positive multiple of the "
			 "logical block size 512" },
		{ .mask = P | EXT(CAPACITY) | EXT(LOGICAL_BLOCK_SIZE),
		  .capacity = 3 * 4096 + 512,
		  .lbs = 4096,
		  .msg = "logical block size 4096" },
		{ .mask = P | EXT(CAPACITY),
		  .capacity = 0,
		  .msg = "capacity 0 is not a positive multiple" },
		{ .mask = P | EXT(NUM_QUEUES),
		  .nq = 0,
		  .msg = "num_queues must be between 1 and 64" },
		{ .mask = P | EXT(NUM_QUEUES),
		  .nq = 65,
		  .msg = "num_queues must be between 1 and 64" },
		{ .mask = P | EXT(QUEUE_SIZE),
		  .qs = 100,
		  .msg = "queue_size must be a power of two between 2 and "
			 "1024" },
		{ .mask = P | EXT(QUEUE_SIZE),
		  .qs = 2048,
		  .msg = "queue_size must be a power of two" },
		{ .mask = P | EXT(LOGICAL_BLOCK_SIZE),
		  .lbs = 1024,
		  .msg = "logical_block_size must be 512 or 4096" },
		{ .mask = P | EXT(SERIAL),
		  .serial = "123456789012345678901",
		  .msg = "serial is longer than 20 bytes" },
		{ .mask = P | EXT(READONLY) | EXT(CAPACITY),
		  .readonly = true,
		  .capacity = 2 * FILE_SIZE,
		  .msg = "exceeds the size of" },
		{ .path = small,
		  .mask = P,
		  .msg = "is smaller than one block (512 bytes): give a "
			 "capacity" },
		{ .path = uri,
		  .mask = P | EXT(DIRECT),
		  .direct = true,
		  .msg = "direct applies to files and block devices" },
		{ .path = uri,
		  .mask = P | EXT(AIO),
		  .aio = UVDPA_BLK_AIO_INLINE,
		  .msg = "aio applies to files and block devices, not to "
			 "NBD" },
		/* the policy stops it on the socket; a state file may not */
		{ .mask = P | EXT(AIO),
		  .aio = 3,
		  .msg = "aio must be auto, io_uring or inline" },
		{ .path = uri, .mask = P, .msg = "cannot connect to" },
	};
	int fds;

	test_file_make(e->path, FILE_SIZE);
	snprintf(small, sizeof(small), "%s/small.img", e->dir);
	test_file_make(small, 100);
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s/none.sock", e->dir);
	fds = test_count_fds();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_refused(e, &cases[i]);
	assert_int_equal(test_count_fds(), fds);
}

/* A capacity beyond a writable file grows it. */
static void blk_add_grows_file(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_config c;

	test_file_make(e->path, 1 << 20);
	e->cfg.blk.capacity = 4u << 20;
	e->cfg.ext_mask |= EXT(CAPACITY);
	start(e, 1, ~0ull);
	assert_int_equal(test_file_size(e->path), 4u << 20);
	config(e, &c);
	assert_int_equal(le64toh(c.capacity), (4u << 20) / SECTOR);
	rw_check(e, 0, (4u << 20) / SECTOR - 8, 4096, 1, 1, 0);
}

/* ---- resize ---- */

static void count_cb(void *priv)
{
	__atomic_add_fetch((int *)priv, 1, __ATOMIC_RELAXED);
}

static void blk_resize(void **state)
{
	struct blk_env *e = *state;
	int calls = 0;
	struct vdpa_callback cb = { count_cb, &calls, -1 };
	struct virtio_blk_config c;
	struct vdpa_extack ext;
	uint8_t buf[4096];
	uint32_t gen;

	test_file_make(e->path, 8u << 20);
	start(e, 1, ~0ull);
	e->vdev->config->set_config_cb(e->vdev, &cb);
	gen = e->vdev->config->get_generation(e->vdev);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_IN, (8u << 20) / SECTOR,
			     buf, SECTOR, false),
			 VIRTIO_BLK_S_IOERR);

	assert_int_equal(resize(e, 16u << 20, &ext), 0);
	assert_int_equal(calls, 1);
	assert_int_not_equal(e->vdev->config->get_generation(e->vdev), gen);
	config(e, &c);
	assert_int_equal(le64toh(c.capacity), (16u << 20) / SECTOR);
	assert_int_equal(test_file_size(e->path), 16u << 20);
	rw_check(e, 0, (16u << 20) / SECTOR - 8, 4096, 1, 1, 0);

	/* smaller: the file stays, the device ends earlier */
	assert_int_equal(resize(e, 4u << 20, &ext), 0);
	assert_int_equal(calls, 2);
	config(e, &c);
	assert_int_equal(le64toh(c.capacity), (4u << 20) / SECTOR);
	assert_int_equal(test_file_size(e->path), 16u << 20);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_IN, (4u << 20) / SECTOR,
			     buf, SECTOR, false),
			 VIRTIO_BLK_S_IOERR);

	assert_int_equal(resize(e, 4097, &ext), -EINVAL);
	assert_non_null(strstr(ext.msg, "not a positive multiple"));
	assert_int_equal(calls, 2);
	config(e, &c);
	assert_int_equal(le64toh(c.capacity), (4u << 20) / SECTOR);
}

static void blk_resize_readonly(void **state)
{
	struct blk_env *e = *state;
	struct vdpa_extack ext;

	test_file_make(e->path, 8u << 20);
	e->cfg.blk.readonly = true;
	e->cfg.ext_mask |= EXT(READONLY);
	start(e, 1, ~0ull);
	assert_int_equal(resize(e, 16u << 20, &ext), -EINVAL);
	assert_non_null(strstr(ext.msg, "exceeds the size of"));
	assert_int_equal(test_file_size(e->path), 8u << 20);
}

/* A file that shrank behind the device reads as zeroes past its end. */
/*
 * @path shrinks behind the device's back, to 2 KiB into a request: the
 * request reads what is left, and zeroes past it.
 */
static void check_shrunk(struct blk_env *e, const char *path)
{
	uint8_t w[8192], r[8192];

	test_fill(w, sizeof(w), 3);
	assert_int_equal(
		qio(&e->d, 0, VIRTIO_BLK_T_OUT, 16384, w, sizeof(w), true),
		VIRTIO_BLK_S_OK);
	assert_int_equal(truncate(path, (off_t)(16384 * SECTOR + 2048)), 0);
	memset(r, 0xa5, sizeof(r));
	assert_int_equal(qio_seg(&e->d, 0, VIRTIO_BLK_T_IN, 16384, r, sizeof(r),
				 false, 2, 0),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(r, w, 2048);
	assert_true(test_all_zero(r + 2048, sizeof(r) - 2048));
}

static void blk_file_shrunk(void **state)
{
	struct blk_env *e = *state;

	test_file_make(e->path, FILE_SIZE);
	start(e, 1, ~0ull);
	check_shrunk(e, e->path);
	/* writes there grow the file again */
	rw_check(e, 0, 20000, 4096, 4, 1, 0);
}

/*
 * Any layout: the header may share a descriptor with the data, and the
 * status with the data read; a chain with no room for a status cannot
 * be answered and needs a reset.
 */
static void blk_any_layout(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_OUT),
				       .sector = htole64(40) };
	uint8_t pat[1024], f[1024], *p, *st;
	struct vq_buf b[3];
	uint64_t a, s;

	test_file_make(e->path, FILE_SIZE);
	start(e, 1, ~0ull);
	test_fill(pat, sizeof(pat), 21);
	p = test_drv_mem(&e->d, sizeof(h) + sizeof(pat), &a);
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), pat, sizeof(pat));
	st = test_drv_mem(&e->d, 1, &s);
	b[0] = (struct vq_buf){ a, sizeof(h) + sizeof(pat) };
	b[1] = (struct vq_buf){ s, 1 };
	assert_int_equal(test_drv_chain(&e->d, b, 1, 1), 1);
	assert_int_equal(*st, VIRTIO_BLK_S_OK);
	test_file_pread(e->path, 40 * SECTOR, f, sizeof(f));
	assert_memory_equal(f, pat, sizeof(f));

	/* read: data and status in one descriptor, after an empty one */
	h.type = htole32(VIRTIO_BLK_T_IN);
	p = test_drv_mem(&e->d, sizeof(h), &a);
	memcpy(p, &h, sizeof(h));
	st = test_drv_mem(&e->d, sizeof(pat) + 1, &s);
	b[0] = (struct vq_buf){ a, sizeof(h) };
	b[1] = (struct vq_buf){ s, sizeof(pat) + 1 };
	b[2] = (struct vq_buf){ s, 0 };
	assert_int_equal(test_drv_chain(&e->d, b, 1, 2), sizeof(pat) + 1);
	assert_memory_equal(st, pat, sizeof(pat));
	assert_int_equal(st[sizeof(pat)], VIRTIO_BLK_S_OK);

	/* a header cut short */
	b[0] = (struct vq_buf){ a, 8 };
	b[1] = (struct vq_buf){ s, 1 };
	assert_int_equal(test_drv_chain(&e->d, b, 1, 1), 1);
	assert_int_equal(st[0], VIRTIO_BLK_S_IOERR);

	/* nothing writable: no status, used len 0, NEEDS_RESET */
	b[0] = (struct vq_buf){ a, sizeof(h) };
	assert_int_equal(test_drv_chain(&e->d, b, 1, 0), 0);
	assert_true(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Suspend drains: what was taken is completed, nothing is left over. */
static void blk_suspend_drains(void **state)
{
	struct blk_env *e = *state;
	enum { N = 30, LEN = 8192 }; /* 4 descriptors each: fits QSIZE */
	static struct qreq reqs[N];
	unsigned int done = 0;

	test_file_make(e->path, FILE_SIZE);
	start(e, 1, ~0ull);
	for (int i = 0; i < N; i++)
		assert_int_equal(qreq_add(&e->d, 0, &reqs[i], VIRTIO_BLK_T_OUT,
					  (uint64_t)i * 16, LEN, true, 2, 0),
				 0);
	test_drv_kick(&e->d, 0);
	/* suspend once the worker took some */
	for (int i = 0; i < WAIT_MS && !test_vstat(e->vdev, 0, "inflight") &&
			!test_vstat(e->vdev, 0, "requests");
	     i++)
		usleep(1000);
	assert_int_equal(vdpa_suspend(e->vdev), 0);
	assert_int_equal(test_vstat(e->vdev, 0, "inflight"), 0);
	while (vq_drv_get_used(&e->d.vq[0], NULL))
		done++;
	assert_int_equal(test_vstat(e->vdev, 0, "requests"), done);
	assert_int_equal(vdpa_resume(e->vdev), 0);
	for (; done < N; done++)
		assert_non_null(test_drv_wait_used(&e->d, 0, NULL, WAIT_MS));
	for (int i = 0; i < N; i++)
		assert_int_equal(*reqs[i].status, VIRTIO_BLK_S_OK);
}

/* ---- aio: io_uring or inline ---- */

/*
 * Every request type through one aio mode: reads and writes (scattered,
 * many in flight), a read past the end of a file that shrank, flush,
 * discard and write-zeroes (the fallbacks on tmpfs), and writes with the
 * cache off (RWF_DSYNC).
 */
static void aio_case(struct blk_env *e, bool shm, uint8_t aio, bool inl)
{
	enum { N = 24 };
	static struct qreq reqs[N];
	const char *path = e->path;
	uint8_t w[8192], r[8192];

	if (shm) {
		if (access("/dev/shm", W_OK)) {
			skip();
			return;
		}
		snprintf(e->shm, sizeof(e->shm), "/dev/shm/uvdpa-aio-%d",
			 getpid());
		path = e->shm;
	}
	test_file_make(path, FILE_SIZE);
	e->cfg.blk.path = path;
	e->cfg.blk.aio = aio;
	e->cfg.ext_mask |= EXT(AIO);
	start(e, 1, ~0ull);
	assert_int_equal(sim_to_blk(vdpa_to_sim(e->vdev))->inline_io, inl);

	/* first: ext4 counts blocks differently once the file has extents */
	check_write_zeroes(e, path);
	rw_check(e, 0, 0, SECTOR, 1, 1, 0);
	rw_check(e, 0, 1000, 64 * 1024, 3, 8, 0);
	rw_check(e, 0, 4096, 1 << 20, 5, 4, 0);
	/* many in one round: completed in order of their system calls */
	for (int i = 0; i < N; i++) {
		assert_int_equal(qreq_add(&e->d, 0, &reqs[i], VIRTIO_BLK_T_OUT,
					  8192 + (uint64_t)i * 16, 8192, true,
					  2, 0),
				 0);
		test_fill(reqs[i].seg[0], 4096, 100u + (uint32_t)i);
	}
	test_drv_kick(&e->d, 0);
	for (int i = 0; i < N; i++)
		assert_non_null(test_drv_wait_used(&e->d, 0, NULL, WAIT_MS));
	for (int i = 0; i < N; i++) {
		assert_int_equal(*reqs[i].status, VIRTIO_BLK_S_OK);
		test_fill(w, 4096, 100u + (uint32_t)i);
		test_file_pread(path, (8192 + (uint64_t)i * 16) * SECTOR, r,
				4096);
		assert_memory_equal(r, w, 4096);
	}
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(discard_wz(&e->d, VIRTIO_BLK_T_DISCARD, 0, 64, 0),
			 VIRTIO_BLK_S_OK);

	check_shrunk(e, path);
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 0);
	assert_int_equal(test_vstat(e->vdev, 0, "inflight"), 0);
}

/* aio auto: inline on tmpfs, io_uring on a disk file system */
static void blk_aio_auto(void **state)
{
	struct blk_env *e = *state;

	aio_case(e, true, UVDPA_BLK_AIO_AUTO, true);
}

static void blk_aio_auto_disk(void **state)
{
	struct blk_env *e = *state;
	struct statfs sf;

	/* /tmp may itself be a tmpfs: then auto goes inline there too */
	assert_int_equal(statfs("/tmp", &sf), 0);
	aio_case(e, false, UVDPA_BLK_AIO_AUTO, sf.f_type == TMPFS_MAGIC);
}

static void blk_aio_io_uring_tmpfs(void **state)
{
	struct blk_env *e = *state;

	aio_case(e, true, UVDPA_BLK_AIO_IO_URING, false);
}

static void blk_aio_inline_disk(void **state)
{
	struct blk_env *e = *state;

	aio_case(e, false, UVDPA_BLK_AIO_INLINE, true);
}

/* inline with writeback off: every write is RWF_DSYNC, flush included */
static void blk_aio_inline_writethrough(void **state)
{
	struct blk_env *e = *state;

	e->cfg.blk.writeback = false;
	e->cfg.ext_mask |= EXT(WRITEBACK);
	aio_case(e, false, UVDPA_BLK_AIO_INLINE, true);
}

#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

static const struct CMUnitTest tests[] = {
	T(blk_file_rw),
	T(blk_multiqueue),
	T(blk_flush_writeback),
	T(blk_writeback_off),
	T(blk_discard),
	T(blk_write_zeroes),
	T(blk_write_zeroes_tmpfs),
	T(blk_write_zeroes_written),
	T(blk_readonly),
	T(blk_out_of_range),
	T(blk_get_id),
	T(blk_direct_unaligned),
	T(blk_add_refused),
	T(blk_add_grows_file),
	T(blk_resize),
	T(blk_resize_readonly),
	T(blk_file_shrunk),
	T(blk_any_layout),
	T(blk_suspend_drains),
	T(blk_aio_auto),
	T(blk_aio_auto_disk),
	T(blk_aio_io_uring_tmpfs),
	T(blk_aio_inline_disk),
	T(blk_aio_inline_writethrough),
};

/* BLK_TEST_FILTER=pattern runs the matching tests only (cmocka globs). */
int main(void)
{
	const char *filter = getenv("BLK_TEST_FILTER");

	if (filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
