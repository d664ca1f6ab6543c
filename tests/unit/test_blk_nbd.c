// SPDX-License-Identifier: MIT
/*
 * The `blk` parent on real NBD servers: nbdkit's memory plugin (also with
 * filters that take FUA and zeroing away), qemu-nbd serving a qcow2 that
 * qemu-io reads back, a server that hangs, and one that dies and comes
 * back.
 */
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk_env.h"

/* nbdkit [@filters...] memory 64M [@params...] on e->sock */
static void nbdkit_start_with(struct blk_env *e, const char *const *filters,
			      const char *const *params)
{
	const char *argv[16] = { "nbdkit", "-U", e->sock, "-f" };
	int n = 4;

	for (; filters && *filters; filters++)
		argv[n++] = *filters;
	argv[n++] = "memory";
	argv[n++] = "64M";
	for (; params && *params; params++)
		argv[n++] = *params;
	argv[n] = NULL;
	unlink(e->sock);
	e->server = test_spawn(argv);
	assert_true(e->server > 0);
	assert_true(test_sock_ready(e->sock, 5000));
}

static void nbdkit_start(struct blk_env *e)
{
	nbdkit_start_with(e, NULL, NULL);
}

/* A device to be on nbdkit memory 64M with @filters; false: skipped. */
static bool nbdkit_env(struct blk_env *e, const char *const *filters)
{
	if (!test_have("nbdkit")) {
		skip();
		return false;
	}
	nbdkit_start_with(e, filters, NULL);
	e->cfg.blk.path = e->uri;
	return true;
}

static void nbd_common(struct blk_env *e, uint16_t nq)
{
	struct virtio_blk_config c;
	uint8_t r[8192];

	config(e, &c);
	assert_int_equal(le64toh(c.capacity), (64u << 20) / SECTOR);
	for (uint16_t q = 0; q < nq; q++) {
		rw_check(e, q, 8 + q * 100u, 4096, 1 + q, 1, 0);
		rw_check(e, q, 1000 + q * 100u, 64 * 1024, 3 + q, 8, 0);
		rw_check(e, q, (64u << 20) / SECTOR - 16, 8192, 5 + q, 2, 1);
		assert_int_equal(test_vstat(e->vdev, q, "writes"), 3);
	}
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
			 VIRTIO_BLK_S_OK);
	if (e->d.features & BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES)) {
		assert_int_equal(
			discard_wz(&e->d, VIRTIO_BLK_T_WRITE_ZEROES, 8, 16, 0),
			VIRTIO_BLK_S_OK);
		assert_int_equal(
			qio(&e->d, 0, VIRTIO_BLK_T_IN, 8, r, sizeof(r), false),
			VIRTIO_BLK_S_OK);
		assert_true(test_all_zero(r, sizeof(r)));
	}
	if (e->d.features & BIT_ULL(VIRTIO_BLK_F_DISCARD))
		assert_int_equal(
			discard_wz(&e->d, VIRTIO_BLK_T_DISCARD, 1000, 128, 0),
			VIRTIO_BLK_S_OK);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_IN, (64u << 20) / SECTOR, r,
			     SECTOR, false),
			 VIRTIO_BLK_S_IOERR);
}

static void blk_nbd_nbdkit(void **state)
{
	struct blk_env *e = *state;

	if (!nbdkit_env(e, NULL))
		return;
	e->cfg.blk.num_queues = 2; /* nbdkit memory allows multi-conn */
	e->cfg.ext_mask |= EXT(NUM_QUEUES);
	start(e, 2, ~0ull);
	assert_true(e->d.features & BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(e->d.features & BIT_ULL(VIRTIO_BLK_F_DISCARD));
	nbd_common(e, 2);
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 1);
	assert_int_equal(test_vstat(e->vdev, 1, "errors"), 0);
}

/* An export is not grown: a resize fits in it or is refused. */
static void blk_nbd_resize(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_config c;
	struct vdpa_extack ext;

	if (!nbdkit_env(e, NULL))
		return;
	e->cfg.blk.capacity = 32u << 20;
	e->cfg.ext_mask |= EXT(CAPACITY);
	start(e, 1, ~0ull);
	config(e, &c);
	assert_int_equal(le64toh(c.capacity), (32u << 20) / SECTOR);
	assert_int_equal(resize(e, 128u << 20, &ext), -EINVAL);
	assert_non_null(strstr(ext.msg, "exceeds the size of the NBD export"));
	assert_int_equal(resize(e, 64u << 20, &ext), 0);
	config(e, &c);
	assert_int_equal(le64toh(c.capacity), (64u << 20) / SECTOR);
	rw_check(e, 0, (64u << 20) / SECTOR - 8, 4096, 3, 1, 0);
}

/*
 * A server without FUA or zeroing: WRITE_ZEROES is not offered, and with
 * the cache off each write is followed by a flush before it completes.
 */
static void blk_nbd_no_fua(void **state)
{
	struct blk_env *e = *state;
	/* their default modes: neither FUA nor zero advertised */
	const char *filters[] = { "--filter=fua", "--filter=nozero", NULL };
	struct virtio_blk_config c;

	if (!nbdkit_env(e, filters))
		return;
	e->cfg.blk.writeback = false;
	e->cfg.ext_mask |= EXT(WRITEBACK);
	start(e, 1, ~0ull);
	assert_false(e->d.features & BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES));
	config(e, &c);
	assert_int_equal(c.wce, 0);
	rw_check(e, 0, 8, 4096, 1, 1, 0);
	rw_check(e, 0, 800, 65536, 2, 8, 0);
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 0);
}

/*
 * A server's block size constraints reach the guest: a minimum over the
 * logical block is refused at add, a maximum under BLK_MAX_IO lowers
 * seg_max, and a request of seg_max * size_max bytes goes through.
 */
static void blk_nbd_block_size(void **state)
{
	struct blk_env *e = *state;
	const char *filters[] = { "--filter=blocksize-policy", NULL };
	const char *params[] = { "blocksize-minimum=4096",
				 "blocksize-maximum=1M",
				 "blocksize-error-policy=error", NULL };
	struct virtio_blk_config c;
	struct vdpa_extack ext;

	if (!test_have("nbdkit")) {
		skip();
		return;
	}
	nbdkit_start_with(e, filters, params);
	e->cfg.blk.path = e->uri;
	assert_int_equal(dev_add(e, "blk0", &ext), -EINVAL);
	assert_non_null(strstr(ext.msg, "takes blocks of 4096 bytes"));
	e->cfg.blk.logical_block_size = 4096;
	e->cfg.ext_mask |= EXT(LOGICAL_BLOCK_SIZE);
	start(e, 1, ~0ull);
	config(e, &c);
	assert_int_equal(le32toh(c.seg_max), (1u << 20) / le32toh(c.size_max));
	rw_check(e, 0, 8, 1u << 20, 4, 8, 0);
	assert_int_equal(test_vstat(e->vdev, 0, "errors"), 0);
}

/* A server that stops answering does not keep a stop waiting forever. */
static void blk_nbd_hung(void **state)
{
	struct blk_env *e = *state;
	struct qreq r;
	uint32_t len = 0;
	int wst;

	if (!nbdkit_env(e, NULL))
		return;
	start(e, 1, ~0ull);
	rw_check(e, 0, 0, 4096, 1, 1, 0);
	kill(e->server, SIGSTOP);
	/* stopped only once every thread is: before, one may still reply */
	assert_int_equal(waitpid(e->server, &wst, WUNTRACED), e->server);
	assert_true(WIFSTOPPED(wst));
	assert_int_equal(
		qreq_add(&e->d, 0, &r, VIRTIO_BLK_T_IN, 0, 4096, false, 1, 0),
		0);
	test_drv_kick(&e->d, 0);
	for (int i = 0; i < WAIT_MS && !test_vstat(e->vdev, 0, "inflight"); i++)
		usleep(1000);
	assert_int_equal(test_vstat(e->vdev, 0, "inflight"), 1);
	/* GET_VRING_BASE's suspend: the request is given up on */
	assert_int_equal(vdpa_suspend(e->vdev), 0);
	assert_int_equal(test_vstat(e->vdev, 0, "inflight"), 0);
	assert_int_equal(test_vstat(e->vdev, 0, "requests"), 3);
	assert_ptr_equal(vq_drv_get_used(&e->d.vq[0], &len), &r);
	assert_int_equal(*r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(test_vstat(e->vdev, 0, "inflight"), 0);
	server_stop(e, SIGKILL);
}

/* Run qemu-io on the image; true when it exited 0 and printed @want. */
static bool qemu_io(const char *img, const char *cmd, const char *want)
{
	char line[512], out[4096] = "";
	FILE *p;

	snprintf(line, sizeof(line), "qemu-io -r -f qcow2 -c '%s' %s 2>&1", cmd,
		 img);
	p = popen(line, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		strncat(out, line, sizeof(out) - strlen(out) - 1);
	return pclose(p) == 0 && strstr(out, want);
}

static void blk_nbd_qemu_qcow2(void **state)
{
	struct blk_env *e = *state;
	const char *argv[] = { "qemu-nbd", "-k", e->sock, "-f",
			       "qcow2",	   "-t", e->path, NULL };
	char cmd[512];
	struct vdpa_extack ext;
	uint8_t w[65536];

	if (!test_have("qemu-nbd") || !test_have("qemu-img") ||
	    !test_have("qemu-io")) {
		skip();
		return;
	}
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 %s 64M",
		 e->path);
	assert_int_equal(system(cmd), 0);
	e->server = test_spawn(argv);
	assert_true(test_sock_ready(e->sock, 5000));
	e->cfg.blk.path = e->uri;
	/* no multi-conn from qemu-nbd: one writable queue only */
	e->cfg.blk.num_queues = 2;
	e->cfg.ext_mask |= EXT(NUM_QUEUES);
	assert_int_equal(dev_add(e, "blk0", &ext), -EINVAL);
	assert_non_null(strstr(ext.msg, "multi-conn"));
	e->cfg.ext_mask &= ~EXT(NUM_QUEUES);
	start(e, 1, ~0ull);
	nbd_common(e, 1);
	memset(w, 0x5a, sizeof(w));
	assert_int_equal(qio_seg(&e->d, 0, VIRTIO_BLK_T_OUT, 4096, w, sizeof(w),
				 true, 4, 0),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false),
			 VIRTIO_BLK_S_OK);
	test_drv_stop(&e->d);
	e->started = false;
	assert_int_equal(vdpa_dev_del(e->tb.bus, "blk0", NULL), 0);
	server_stop(e, SIGTERM);
	/* QEMU reads what the guest wrote, through the qcow2 format */
	assert_true(
		qemu_io(e->path, "read -P 0x5a 2M 64k", "read 65536/65536"));
	assert_false(
		qemu_io(e->path, "read -P 0x00 2M 64k", "read 65536/65536"));
}

/* A dead server fails requests at once; a new one serves them again. */
static void blk_nbd_reconnect(void **state)
{
	struct blk_env *e = *state;
	uint8_t w[4096], r[4096];
	int status = -1;

	if (!nbdkit_env(e, NULL))
		return;
	start(e, 1, ~0ull);
	rw_check(e, 0, 0, 4096, 1, 1, 0);
	server_stop(e, SIGKILL);
	test_fill(w, sizeof(w), 9);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
			qio(&e->d, 0, VIRTIO_BLK_T_OUT, 8, w, sizeof(w), true),
			VIRTIO_BLK_S_IOERR);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_IN, 8, r, sizeof(r), false),
			 VIRTIO_BLK_S_IOERR);
	assert_true(test_vstat(e->vdev, 0, "errors") >= 4);
	nbdkit_start(e);
	/* the backoff is at most 5 s; each try fails at once or succeeds */
	for (int i = 0; i < 300 && status != VIRTIO_BLK_S_OK; i++) {
		status = qio(&e->d, 0, VIRTIO_BLK_T_OUT, 8, w, sizeof(w), true);
		if (status == -1)
			fail_msg("try %d hung", i);
		if (status != VIRTIO_BLK_S_OK)
			usleep(50000);
	}
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	assert_int_equal(qio(&e->d, 0, VIRTIO_BLK_T_IN, 8, r, sizeof(r), false),
			 VIRTIO_BLK_S_OK);
	assert_memory_equal(r, w, sizeof(r));
}

#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

/* clang-format off */
static const struct CMUnitTest tests[] = {
	T(blk_nbd_nbdkit),
	T(blk_nbd_qemu_qcow2),
	T(blk_nbd_reconnect),
	T(blk_nbd_resize),
	T(blk_nbd_no_fua),
	T(blk_nbd_block_size),
	T(blk_nbd_hung),
};
/* clang-format on */

/* BLK_TEST_FILTER=pattern runs the matching tests only (cmocka globs). */
int main(void)
{
	const char *filter = getenv("BLK_TEST_FILTER");

	if (filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
