/* SPDX-License-Identifier: MIT */
/*
 * Test harness: driver-side memory and a minimal in-process virtio driver
 * over the vdpa config ops (what the virtio bus does), so tests drive real
 * devices through real rings.
 */
#ifndef UVDPA_TEST_HELPERS_H
#define UVDPA_TEST_HELPERS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include <uvdpa/iotlb.h>
#include <uvdpa/sim.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/virtqueue.h>
#include <uvdpa/virtqueue_drv.h>
#include <uvdpa/worker.h>

/* Driver memory: a memfd mapped here, handed to devices at @iova. */
struct drv_mem {
	int fd;
	uint8_t *base;
	size_t size;
	uint64_t iova;
	size_t used; /* bump allocator */
};

int drv_mem_init(struct drv_mem *m, size_t size, uint64_t iova);
void drv_mem_done(struct drv_mem *m);
/* Allocate @size bytes aligned to @align; returns the pointer, sets *iova. */
void *drv_mem_alloc(struct drv_mem *m, size_t size, size_t align,
		    uint64_t *iova);
static inline void *drv_mem_ptr(struct drv_mem *m, uint64_t iova)
{
	return m->base + (iova - m->iova);
}
/* A map of the whole area, for set_map. */
void drv_mem_iotlb(struct drv_mem *m, struct vdpa_iotlb *tlb);

/* A bus with a worker pool and both simulators registered. */
struct test_bus {
	struct vdpa_bus *bus;
	struct vdpa_worker_pool *pool;
	struct vdpa_mgmt_dev *net;
	struct vdpa_mgmt_dev *blk;
};

int test_bus_init(struct test_bus *tb, unsigned int workers);
void test_bus_done(struct test_bus *tb);
/* Create a device through a mgmtdev; returns it or NULL. */
struct vdpa_device *test_dev_add(struct test_bus *tb,
				 struct vdpa_mgmt_dev *mdev, const char *name,
				 const struct vdpa_dev_set_config *cfg);

#define TEST_MAX_VQS 4

/* A virtio driver bound to a device by hand. */
struct test_drv {
	struct vdpa_device *vdev;
	struct drv_mem mem;
	uint64_t features;
	uint32_t nvqs;
	struct vq_drv vq[TEST_MAX_VQS];
	int callfd[TEST_MAX_VQS];
};

/*
 * Reset, negotiate @want & device features, map memory, set up @nvqs
 * queues of @qsize entries and set DRIVER_OK. @ind_max 0: no indirect.
 */
int test_drv_start(struct test_drv *d, struct vdpa_device *vdev, uint64_t want,
		   uint32_t nvqs, uint32_t qsize, uint16_t ind_max);
void test_drv_stop(struct test_drv *d);
/* Publish and kick queue @idx if the device wants it. */
void test_drv_kick(struct test_drv *d, uint16_t idx);
/* Wait up to @ms for a used buffer on @idx; returns its token or NULL. */
void *test_drv_wait_used(struct test_drv *d, uint16_t idx, uint32_t *len,
			 int ms);

/* drv_mem_alloc of @len bytes, 64-byte aligned, that must succeed. */
void *test_drv_mem(struct test_drv *d, size_t len, uint64_t *iova);
/*
 * Add a chain of @out readable then @in writable buffers to queue 0, kick
 * and wait for it: its used length.
 */
uint32_t test_drv_chain(struct test_drv *d, const struct vq_buf *b,
			unsigned int out, unsigned int in);

/* A blk request laid out in driver memory. */
struct test_blk_req {
	uint64_t hdr_iova, data_iova, status_iova;
	uint8_t *data;
	uint8_t *status;
};

/* Submit a request (@data_len 0: none); returns 0 or -errno. */
int test_blk_submit(struct test_drv *d, struct test_blk_req *r, uint32_t type,
		    uint64_t sector, uint32_t data_len, bool write);
/* Submit, kick, wait and return the status byte, or -1 on timeout. */
int test_blk_do(struct test_drv *d, uint32_t type, uint64_t sector, void *buf,
		uint32_t len, bool write);

/* Collect vendor stats of queue @idx into names/values; returns count. */
int test_vstats(struct vdpa_device *vdev, uint16_t idx, char names[][32],
		uint64_t *values, int max);
/* Value of one vstats key of queue @idx, or UINT64_MAX. */
uint64_t test_vstat(struct vdpa_device *vdev, uint16_t idx, const char *key);

/* Open fds of this process, for leak checks. */
int test_count_fds(void);

/* A pattern that differs with @seed and along the buffer, for data checks. */
void test_fill(void *buf, size_t len, uint32_t seed);
bool test_all_zero(const void *buf, size_t len);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t test_now_ms(void);
/* Wait up to @ms for status bit @bit of @vdev; false when it never came. */
bool test_wait_status(struct vdpa_device *vdev, uint8_t bit, int ms);

/*
 * Files looked at from outside the device that serves them; each asserts
 * that it worked.
 */
void test_file_make(const char *path, uint64_t size); /* sparse, 0600 */
void test_file_pread(const char *path, uint64_t off, void *buf, size_t len);
void test_file_write(const char *path, uint64_t off, const void *buf,
		     size_t len);
/* Allocated 512-byte blocks of @path, after its data reached the disk. */
long long test_file_blocks(const char *path);
uint64_t test_file_size(const char *path);

/* Whether @tool is on PATH: tests of external servers skip without it. */
bool test_have(const char *tool);
/* system() of the formatted command (up to 511 bytes); its status. */
int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run argv quietly in a child that dies with this process; its pid. */
pid_t test_spawn(const char *const argv[]);
/* Wait up to @ms for a unix socket at @path to accept connections. */
bool test_sock_ready(const char *path, int ms);

/* Run cmocka tests; TAP output is chosen by CMOCKA_MESSAGE_OUTPUT. */
#define TEST_MAIN(tests)                                                       \
	int main(void)                                                         \
	{                                                                      \
		return cmocka_run_group_tests(tests, NULL, NULL);              \
	}

#endif
