// SPDX-License-Identifier: MIT
/*
 * vdpasim_blk's requests driven through real driver-side rings: data,
 * flush, GET_ID, discard and write zeroes, the errors of each, config and
 * features (reference §4.3, §10.5, §11 item 6 and the uvdpa differences
 * noted at the top of §11). test_sim_blk_ring.c covers the ring and the
 * device's lifecycle.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "sim_blk_env.h"

#define T_SCSI_CMD 2
#define T_GET_LIFETIME 10
#define T_SECURE_ERASE 14
#define T_ZONE_REPORT 16

static int discard_wz(struct test_drv *d, uint32_t type, uint64_t sector,
		      uint32_t num, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector),
		.num_sectors = htole32(num),
		.flags = htole32(flags),
	};

	return io(d, type, 0, &seg, sizeof(seg), true);
}

/* ---- data requests ---- */

static void blk_out_in(void **state)
{
	struct blk_env *e = *state;

	write_read(&e->d, VIRTIO_BLK_T_OUT, 0, SECTOR, 1);
	write_read(&e->d, VIRTIO_BLK_T_OUT, 1, 4096, 2);
	write_read(&e->d, VIRTIO_BLK_T_OUT, 12345, 3 * SECTOR, 3);
	write_read(&e->d, VIRTIO_BLK_T_OUT, CAPACITY / 2 + 3, MAX_IO, 4);
	write_read(&e->d, VIRTIO_BLK_T_OUT, CAPACITY - 1, SECTOR, 5);
	write_read(&e->d, VIRTIO_BLK_T_OUT, CAPACITY - 8, 8 * SECTOR, 6);
	write_read(&e->d, VIRTIO_BLK_T_OUT_FUA, 7, 2 * SECTOR, 7);
	write_read(&e->d, VIRTIO_BLK_T_OUT_FUA, CAPACITY - 1, SECTOR, 8);
}

/* Writes land where they were aimed and nowhere else. */
static void blk_sectors_independent(void **state)
{
	struct blk_env *e = *state;
	uint8_t w[3][SECTOR], r[3 * SECTOR];

	for (int i = 0; i < 3; i++) {
		test_fill(w[i], SECTOR, 100 + i);
		assert_int_equal(io(&e->d, VIRTIO_BLK_T_OUT, 500 + i, w[i],
				    SECTOR, true),
				 VIRTIO_BLK_S_OK);
	}
	test_fill(w[1], SECTOR, 200);
	assert_int_equal(
		io(&e->d, VIRTIO_BLK_T_OUT_FUA, 501, w[1], SECTOR, true),
		VIRTIO_BLK_S_OK);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_IN, 500, r, sizeof(r), false),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(r, w[0], SECTOR);
	assert_memory_equal(r + SECTOR, w[1], SECTOR);
	assert_memory_equal(r + 2 * SECTOR, w[2], SECTOR);
}

/* Used length: data written to the driver plus the status byte. */
static void blk_used_len(void **state)
{
	struct blk_env *e = *state;
	struct test_blk_req r;
	uint32_t len = 0;

	assert_int_equal(
		test_blk_submit(&e->d, &r, VIRTIO_BLK_T_IN, 4, 4096, false), 0);
	test_drv_kick(&e->d, 0);
	assert_ptr_equal(test_drv_wait_used(&e->d, 0, &len, WAIT_MS), &r);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(len, 4096 + 1);
	assert_int_equal(
		test_blk_submit(&e->d, &r, VIRTIO_BLK_T_OUT, 4, 4096, true), 0);
	test_drv_kick(&e->d, 0);
	assert_ptr_equal(test_drv_wait_used(&e->d, 0, &len, WAIT_MS), &r);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
}

/*
 * ANY_LAYOUT: the header may share a descriptor with the data, the status
 * with the read data, and data may be split over many descriptors.
 */
static void blk_any_layout(void **state)
{
	struct blk_env *e = *state;
	struct test_drv *d = &e->d;
	uint8_t pat[2 * SECTOR];
	struct vq_buf b[9];
	uint64_t a, s;
	uint8_t *p, *st;

	test_fill(pat, sizeof(pat), 77);
	p = test_drv_mem(d, 16 + sizeof(pat), &a);
	put_hdr(p, VIRTIO_BLK_T_OUT, 900);
	memcpy(p + 16, pat, sizeof(pat));
	st = test_drv_mem(d, 1, &s);
	*st = 0xff;
	b[0] = (struct vq_buf){ a, 16 + sizeof(pat) };
	b[1] = (struct vq_buf){ s, 1 };
	assert_int_equal(test_drv_chain(d, b, 1, 1), 1);
	assert_int_equal(*st, VIRTIO_BLK_S_OK);

	/* read back into 8 pieces of 128 bytes, the last one with status */
	p = test_drv_mem(d, 16, &a);
	put_hdr(p, VIRTIO_BLK_T_IN, 900);
	b[0] = (struct vq_buf){ a, 16 };
	st = test_drv_mem(d, sizeof(pat) + 1, &s);
	memset(st, 0xee, sizeof(pat) + 1);
	for (int i = 0; i < 8; i++)
		b[1 + i] = (struct vq_buf){ s + 128 * i, 128 };
	b[8].len = 129;
	assert_int_equal(test_drv_chain(d, b, 1, 8), sizeof(pat) + 1);
	assert_memory_equal(st, pat, sizeof(pat));
	assert_int_equal(st[sizeof(pat)], VIRTIO_BLK_S_OK);
}

/* ---- non-data requests ---- */

static void blk_flush(void **state)
{
	struct blk_env *e = *state;

	assert_int_equal(io(&e->d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_FLUSH, 1, NULL, 0, false),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(
		io(&e->d, VIRTIO_BLK_T_FLUSH, CAPACITY + 9, NULL, 0, false),
		VIRTIO_BLK_S_IOERR);
}

static void blk_get_id(void **state)
{
	struct blk_env *e = *state;
	struct test_blk_req r;
	char want[VIRTIO_BLK_ID_BYTES] = "vdpa_blk_sim";
	uint32_t len = 0;

	assert_int_equal(test_blk_submit(&e->d, &r, VIRTIO_BLK_T_GET_ID, 0,
					 VIRTIO_BLK_ID_BYTES, false),
			 0);
	memset(r.data, 0xff, VIRTIO_BLK_ID_BYTES);
	test_drv_kick(&e->d, 0);
	assert_ptr_equal(test_drv_wait_used(&e->d, 0, &len, WAIT_MS), &r);
	assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
	assert_memory_equal(r.data, want, VIRTIO_BLK_ID_BYTES);
	assert_int_equal(len, VIRTIO_BLK_ID_BYTES + 1);

	/* GET_ID names no sector */
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_GET_ID, 3, want,
			    VIRTIO_BLK_ID_BYTES, false),
			 VIRTIO_BLK_S_IOERR);
}

static void blk_discard_write_zeroes(void **state)
{
	struct blk_env *e = *state;
	uint8_t w[8 * SECTOR], r[8 * SECTOR];
	const struct {
		uint32_t type, flags;
	} ok[] = {
		{ VIRTIO_BLK_T_DISCARD, 0 },
		{ VIRTIO_BLK_T_WRITE_ZEROES, 0 },
		{ VIRTIO_BLK_T_WRITE_ZEROES,
		  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(ok); i++) {
		/* zero sectors 2..4 of 8; the page-sized hole punch must
		 * not take the neighbours with it */
		test_fill(w, sizeof(w), 300 + i);
		assert_int_equal(
			io(&e->d, VIRTIO_BLK_T_OUT, 1000, w, sizeof(w), true),
			VIRTIO_BLK_S_OK);
		assert_int_equal(
			discard_wz(&e->d, ok[i].type, 1002, 3, ok[i].flags),
			VIRTIO_BLK_S_OK);
		assert_int_equal(
			io(&e->d, VIRTIO_BLK_T_IN, 1000, r, sizeof(r), false),
			VIRTIO_BLK_S_OK);
		assert_memory_equal(r, w, 2 * SECTOR);
		assert_true(test_all_zero(r + 2 * SECTOR, 3 * SECTOR));
		assert_memory_equal(r + 5 * SECTOR, w + 5 * SECTOR, 3 * SECTOR);
	}

	/* a whole page range, and the last sector of the disk */
	write_read(&e->d, VIRTIO_BLK_T_OUT, 4096, 4096 * 4, 9);
	assert_int_equal(
		discard_wz(&e->d, VIRTIO_BLK_T_WRITE_ZEROES, 4096, 32, 0),
		VIRTIO_BLK_S_OK);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_IN, 4096, r, sizeof(r), false),
			 VIRTIO_BLK_S_OK);
	assert_true(test_all_zero(r, sizeof(r)));
	write_read(&e->d, VIRTIO_BLK_T_OUT, CAPACITY - 1, SECTOR, 10);
	assert_int_equal(
		discard_wz(&e->d, VIRTIO_BLK_T_DISCARD, CAPACITY - 1, 1, 0),
		VIRTIO_BLK_S_OK);
	assert_int_equal(
		io(&e->d, VIRTIO_BLK_T_IN, CAPACITY - 1, r, SECTOR, false),
		VIRTIO_BLK_S_OK);
	assert_true(test_all_zero(r, SECTOR));
}

static void blk_discard_write_zeroes_errors(void **state)
{
	struct blk_env *e = *state;
	struct test_drv *d = &e->d;
	uint8_t w[SECTOR], r[SECTOR], segs[32] = { 0 };

	test_fill(w, sizeof(w), 11);
	assert_int_equal(io(d, VIRTIO_BLK_T_OUT, CAPACITY - 1, w, SECTOR, true),
			 VIRTIO_BLK_S_OK);
	/* flags */
	assert_int_equal(discard_wz(d, VIRTIO_BLK_T_DISCARD, 8, 1,
				    VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(discard_wz(d, VIRTIO_BLK_T_DISCARD, 8, 1, 2),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(discard_wz(d, VIRTIO_BLK_T_WRITE_ZEROES, 8, 1, 2),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(
		discard_wz(d, VIRTIO_BLK_T_WRITE_ZEROES, 8, 1, 0x80000001u),
		VIRTIO_BLK_S_UNSUPP);
	/* payload not one 16-byte segment */
	for (uint32_t t = VIRTIO_BLK_T_DISCARD; t <= VIRTIO_BLK_T_WRITE_ZEROES;
	     t += 2) {
		assert_int_equal(io(d, t, 0, NULL, 0, true),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(io(d, t, 0, segs, 8, true),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(io(d, t, 0, segs, 32, true),
				 VIRTIO_BLK_S_IOERR);
		/* ranges beyond the capacity, and a sector in the header */
		assert_int_equal(discard_wz(d, t, CAPACITY - 1, 2, 0),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(discard_wz(d, t, CAPACITY, 1, 0),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(discard_wz(d, t, CAPACITY + 1, 0, 0),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(discard_wz(d, t, UINT64_MAX, 1, 0),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(discard_wz(d, t, 0, UINT32_MAX, 0),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(io(d, t, 5, segs, 16, true),
				 VIRTIO_BLK_S_IOERR);
	}
	/* nothing of the above touched the last sector */
	assert_int_equal(io(d, VIRTIO_BLK_T_IN, CAPACITY - 1, r, SECTOR, false),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(r, w, SECTOR);
}

/* ---- errors ---- */

static void blk_out_of_range(void **state)
{
	struct blk_env *e = *state;
	struct test_drv *d = &e->d;
	static const uint64_t bad[][2] = {
		/* sector, bytes */
		{ CAPACITY, SECTOR },
		{ CAPACITY + 1, SECTOR },
		{ CAPACITY - 1, 2 * SECTOR },
		{ CAPACITY - 8, 4096 + SECTOR },
		{ 0x7fffffffffffffffull, SECTOR }, /* sector << 9 wraps */
		{ 0x0080000000000000ull, SECTOR }, /* sector << 9 == 2^64 */
		{ UINT64_MAX, SECTOR },
	};
	static uint8_t w[2 * 4096], r[2 * 4096];

	test_fill(w, SECTOR, 12);
	assert_int_equal(io(d, VIRTIO_BLK_T_OUT, CAPACITY - 1, w, SECTOR, true),
			 VIRTIO_BLK_S_OK);
	test_fill(w, sizeof(w), 13);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t sector = bad[i][0];
		uint32_t n = (uint32_t)bad[i][1];

		assert_int_equal(io(d, VIRTIO_BLK_T_IN, sector, r, n, false),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(io(d, VIRTIO_BLK_T_OUT, sector, w, n, true),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(
			io(d, VIRTIO_BLK_T_OUT_FUA, sector, w, n, true),
			VIRTIO_BLK_S_IOERR);
	}
	/* a refused write wrote nothing */
	test_fill(w, SECTOR, 12);
	assert_int_equal(io(d, VIRTIO_BLK_T_IN, CAPACITY - 1, r, SECTOR, false),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(r, w, SECTOR);
	/* a zero-length request at the very end is in range */
	assert_int_equal(io(d, VIRTIO_BLK_T_IN, CAPACITY, NULL, 0, false),
			 VIRTIO_BLK_S_OK);
}

static void blk_bad_length(void **state)
{
	struct blk_env *e = *state;
	static uint8_t buf[MAX_IO + SECTOR];

	test_fill(buf, sizeof(buf), 14);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_OUT, 0, buf, 1000, true),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_OUT, 0, buf, 1, true),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_IN, 0, buf, 513, false),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(io(&e->d, VIRTIO_BLK_T_OUT_FUA, 0, buf, 511, true),
			 VIRTIO_BLK_S_IOERR);
	/* 128 KiB is the limit: exactly it passes, a sector more fails */
	write_read(&e->d, VIRTIO_BLK_T_OUT, 64, MAX_IO, 15);
	assert_int_equal(
		io(&e->d, VIRTIO_BLK_T_OUT, 64, buf, MAX_IO + SECTOR, true),
		VIRTIO_BLK_S_IOERR);
	assert_int_equal(
		io(&e->d, VIRTIO_BLK_T_IN, 64, buf, MAX_IO + SECTOR, false),
		VIRTIO_BLK_S_IOERR);
}

static void blk_unsupported_types(void **state)
{
	struct blk_env *e = *state;
	static const uint32_t types[] = {
		T_SCSI_CMD,    3,  5,  T_GET_LIFETIME,	     T_SECURE_ERASE,
		T_ZONE_REPORT, 26, 99, VIRTIO_BLK_T_BARRIER,
	};
	uint8_t buf[SECTOR] = { 0 };

	for (unsigned int i = 0; i < ARRAY_SIZE(types); i++) {
		assert_int_equal(io(&e->d, types[i], 0, NULL, 0, false),
				 VIRTIO_BLK_S_UNSUPP);
		assert_int_equal(
			io(&e->d, types[i], 0, buf, sizeof(buf), false),
			VIRTIO_BLK_S_UNSUPP);
	}
}

/* A header shorter than 16 bytes, or none: IOERR in the status byte. */
static void blk_short_header(void **state)
{
	struct blk_env *e = *state;
	struct test_drv *d = &e->d;
	struct vq_buf b[3];
	uint64_t a, s;
	uint8_t *h, *st;

	h = test_drv_mem(d, 16, &a);
	put_hdr(h, VIRTIO_BLK_T_IN, 0);
	st = test_drv_mem(d, SECTOR + 1, &s);
	for (uint32_t hl = 0; hl < 16; hl += 5) {
		unsigned int n = 0;

		memset(st, 0xee, SECTOR + 1);
		if (hl)
			b[n++] = (struct vq_buf){ a, hl };
		b[n++] = (struct vq_buf){ s, SECTOR + 1 };
		assert_int_equal(test_drv_chain(d, b, n - 1, 1), 1);
		assert_int_equal(st[SECTOR], VIRTIO_BLK_S_IOERR);
		assert_int_equal(st[0], 0xee);
	}
	assert_int_equal(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET,
			 0);
}

/* Nowhere to put a status: NEEDS_RESET, once signalled, and we live on. */
static void blk_no_writable_byte(void **state)
{
	struct blk_env *e = *state;
	struct test_drv *d = &e->d;
	struct vdpa_callback cb = { .trigger = -1 };
	struct pollfd pfd = { .events = POLLIN };
	struct vq_buf b[2];
	uint64_t a, v = 0;
	uint8_t *h;

	pfd.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(pfd.fd >= 0);
	cb.trigger = pfd.fd;
	e->vdev->config->set_config_cb(e->vdev, &cb);
	h = test_drv_mem(d, 16 + SECTOR, &a);
	put_hdr(h, VIRTIO_BLK_T_OUT, 3);
	b[0] = (struct vq_buf){ a, 16 + SECTOR };
	b[1] = (struct vq_buf){ a, 16 }; /* a second readable one */
	assert_int_equal(test_drv_chain(d, b, 1, 0), 0);
	assert_true(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(read(pfd.fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1);
	assert_int_equal(test_drv_chain(d, b, 2, 0), 0);
	/* the config interrupt came once */
	assert_int_equal(poll(&pfd, 1, 50), 0);
	/* the queue itself is fine: the driver may still be answered */
	write_read(d, VIRTIO_BLK_T_OUT, 3, SECTOR, 16);
	e->vdev->config->set_config_cb(e->vdev, NULL);
	close(pfd.fd);
}

/* ---- config and features ---- */

/*
 * The kernel's struct virtio_blk_config is 96 bytes (zoned fields included),
 * whatever the build host's linux-libc-dev says.
 */
#define BLK_CONFIG_SIZE 96

static void blk_config(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_config c, z;
	uint8_t raw[BLK_CONFIG_SIZE], tail[BLK_CONFIG_SIZE - 60];
	uint64_t cap = htole64(1);
	uint8_t wce = 1;

	memset(&c, 0xff, sizeof(c));
	assert_int_equal(e->vdev->config->get_config_size(e->vdev),
			 BLK_CONFIG_SIZE);
	assert_int_equal(vdpa_get_config(e->vdev, 0, &c, sizeof(c)), 0);
	assert_int_equal(le64toh(c.capacity), CAPACITY);
	assert_int_equal(le32toh(c.size_max), 4096);
	assert_int_equal(le32toh(c.seg_max), 32);
	assert_int_equal(le32toh(c.blk_size), 512);
	assert_int_equal(le16toh(c.num_queues), 1);
	assert_int_equal(le16toh(c.min_io_size), 1);
	assert_int_equal(le32toh(c.opt_io_size), 1);
	assert_int_equal(le32toh(c.max_discard_sectors), UINT32_MAX);
	assert_int_equal(le32toh(c.max_discard_seg), 1);
	assert_int_equal(le32toh(c.discard_sector_alignment), 512);
	assert_int_equal(le32toh(c.max_write_zeroes_sectors), UINT32_MAX);
	assert_int_equal(le32toh(c.max_write_zeroes_seg), 1);
	assert_int_equal(c.write_zeroes_may_unmap, 0);
	assert_int_equal(c.wce, 0);
	assert_int_equal(c.physical_block_exp, 0);
	assert_int_equal(c.alignment_offset, 0);
	memset(&z, 0, sizeof(z));
	assert_memory_equal(&c.geometry, &z.geometry, sizeof(z.geometry));
	/* secure erase and zoned fields: all 0 */
	assert_int_equal(vdpa_get_config(e->vdev, 0, raw, sizeof(raw)), 0);
	assert_memory_equal(raw, &c, 60);
	assert_true(test_all_zero(raw + 60, sizeof(raw) - 60));
	assert_int_equal(vdpa_get_config(e->vdev, 1, raw, BLK_CONFIG_SIZE),
			 -EINVAL);

	/* rebuilt on every read: writes do not stick, anywhere */
	memset(tail, 0x5a, sizeof(tail));
	assert_int_equal(vdpa_set_config(e->vdev, 0, &cap, sizeof(cap)), 0);
	assert_int_equal(
		vdpa_set_config(e->vdev,
				offsetof(struct virtio_blk_config, wce), &wce,
				1),
		0);
	assert_int_equal(vdpa_set_config(e->vdev, 60, tail, sizeof(tail)), 0);
	memset(&z, 0xff, sizeof(z));
	assert_int_equal(vdpa_get_config(e->vdev, 0, &z, sizeof(z)), 0);
	assert_memory_equal(&z, &c, sizeof(c));
	assert_int_equal(vdpa_get_config(e->vdev, 0, raw, sizeof(raw)), 0);
	assert_true(test_all_zero(raw + 60, sizeof(raw) - 60));
	/* a partial read at an offset */
	cap = 0;
	assert_int_equal(vdpa_get_config(e->vdev, 0, &cap, sizeof(cap)), 0);
	assert_int_equal(le64toh(cap), CAPACITY);
	wce = 0xff;
	assert_int_equal(
		vdpa_get_config(e->vdev,
				offsetof(struct virtio_blk_config, wce), &wce,
				1),
		0);
	assert_int_equal(wce, 0);
}

static void blk_identity(void **state)
{
	struct blk_env *e = *state;
	const struct vdpa_config_ops *ops = e->vdev->config;

	assert_int_equal(ops->get_device_features(e->vdev), 0x308047646ull);
	assert_true(ops->get_device_features(e->vdev) &
		    BIT_ULL(VIRTIO_F_ACCESS_PLATFORM));
	assert_int_equal(ops->get_device_id(e->vdev), VIRTIO_ID_BLOCK);
	assert_int_equal(ops->get_vendor_id(e->vdev), 0);
	assert_int_equal(ops->get_vq_num_max(e->vdev), 256);
	assert_int_equal(ops->get_vq_align(e->vdev), 4096);
	assert_int_equal(e->vdev->nvqs, 1);
	assert_int_equal(e->vdev->ngroups, 1);
	assert_int_equal(e->vdev->nas, 1);
	assert_int_equal(ops->get_driver_features(e->vdev), 0x308047646ull);
	/* blk takes no attributes on creation (§4.3) */
	assert_int_equal(e->tb.blk->config_attr_mask, 0);
	assert_int_equal(e->tb.blk->max_supported_vqs, 0);
	assert_int_equal(e->tb.blk->supported_features, 0);
	assert_int_equal(vdpa_mgmtdev_classes(e->tb.blk),
			 BIT_ULL(VIRTIO_ID_BLOCK));
}

/* uvdpa accepts features without ACCESS_PLATFORM (reference §11 note). */
static void blk_no_access_platform(void **state)
{
	struct blk_env *e = *state;
	uint64_t want = ~BIT_ULL(VIRTIO_F_ACCESS_PLATFORM);

	test_drv_stop(&e->d);
	assert_int_equal(test_drv_start(&e->d, e->vdev, want, 1, QSIZE, 0), 0);
	assert_int_equal(e->vdev->config->get_driver_features(e->vdev),
			 0x308047646ull & want);
	assert_true(vdpa_get_status(e->vdev) & VIRTIO_CONFIG_S_DRIVER_OK);
	write_read(&e->d, VIRTIO_BLK_T_OUT, 77, 4096, 17);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, blk_setup, blk_teardown)
	const struct CMUnitTest tests[] = {
		T(blk_out_in),
		T(blk_sectors_independent),
		T(blk_used_len),
		T(blk_any_layout),
		T(blk_flush),
		T(blk_get_id),
		T(blk_discard_write_zeroes),
		T(blk_discard_write_zeroes_errors),
		T(blk_out_of_range),
		T(blk_bad_length),
		T(blk_unsupported_types),
		T(blk_short_header),
		T(blk_no_writable_byte),
		T(blk_config),
		T(blk_identity),
		T(blk_no_access_platform),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
