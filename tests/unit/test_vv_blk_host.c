// SPDX-License-Identifier: MIT
/*
 * virtio-blk → file (buses/virtio_vdpa, blk_*.c) around the file itself:
 * mounting (over a killed server's mount, without permission), devices of
 * the blk parent (an image file, four queues, 4 KiB blocks, a resize), and
 * host tools on the file (losetup + ext4, fio's verify). The environment
 * is vv_blk_env.h.
 */
#include "vv_blk_env.h"

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

/* ---- over the blk parent: a file, four queues, 4 KiB blocks ---- */

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
	test_fill(w, len, 77);
	assert_int_equal(pwrite(fd, w, len, 0), (ssize_t)len);
	test_fill(w + 100, 5000, 78);
	assert_int_equal(pwrite(fd, w + 100, 5000, 100), 5000);
	test_fill(w + 3 * MiB + 4095, 3, 79);
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
	test_file_make(img, 64 * MiB);
	test_file_make(img2, 16 * MiB);
	env_mount(&e);
	b = env_probe(&e, parent_add(&e, m, "disk0", img, false));
	b2 = env_probe(&e, parent_add(&e, m, "ro0", img2, true));
	parent_io(&e, vv_blk_path(b), img);
	if (test_have("fio"))
		assert_int_equal(
			test_sh("fio --name=vv --filename=%s "
				"--ioengine=libaio --direct=1 --iodepth=16 "
				"--numjobs=2 --offset_increment=8M "
				"--rw=randwrite --bs=4k --verify=crc32c "
				"--verify_fatal=1 --verify_state_save=0 "
				"--size=8M "
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

/* How a container gets a disk: losetup, mkfs.ext4, mount. */
static void vvb_loop_ext4(void **state)
{
	struct env *e = *state;
	char loop[64] = "", dir[96], cmd[256];
	FILE *p;

	if (!test_have("losetup") || !test_have("mkfs.ext4") ||
	    !test_have("e2fsck"))
		skip();
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s", e->path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(loop, sizeof(loop), p));
	assert_int_equal(pclose(p), 0);
	loop[strcspn(loop, "\n")] = 0;
	snprintf(dir, sizeof(dir), "%s/mnt", e->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(test_sh("mkfs.ext4 -q -F %s", loop), 0);
	assert_int_equal(test_sh("mount %s %s", loop, dir), 0);
	assert_int_equal(test_sh("head -c 3000000 /dev/urandom > %s/f && "
				 "cp %s/f %s/g && sync",
				 dir, dir, dir),
			 0);
	assert_int_equal(test_sh("umount %s", dir), 0);
	assert_int_equal(test_sh("e2fsck -fn %s >/dev/null 2>&1", loop), 0);
	assert_int_equal(
		test_sh("mount %s %s && cmp %s/f %s/g", loop, dir, dir, dir),
		0);
	assert_int_equal(test_sh("umount %s && losetup -d %s", dir, loop), 0);
	rmdir(dir);
}

/* fio's verify over O_DIRECT at queue depth 16, as the issue asks. */
static void vvb_fio_verify(void **state)
{
	struct env *e = *state;

	if (!test_have("fio"))
		skip();
	assert_int_equal(
		test_sh("fio --name=vv --filename=%s --ioengine=libaio "
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
	assert_int_equal(
		test_sh("fio --name=vv-rmw --filename=%s "
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
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vvb_stale_mount),
		cmocka_unit_test(vvb_mount_error),
		cmocka_unit_test(vvb_blk_parent),
		T(vvb_loop_ext4),
		T(vvb_fio_verify),
	};
#undef T
	if (!vv_blk_may_run())
		return 0;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
