// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/uapi.h>

#include "helpers.h"

#define TEST_MEM_SIZE (64u << 20)
#define TEST_MEM_IOVA 0x100000000ull /* not the host address, on purpose */

int drv_mem_init(struct drv_mem *m, size_t size, uint64_t iova)
{
	memset(m, 0, sizeof(*m));
	m->fd = memfd_create("test-drv-mem", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)size))
		return -errno;
	m->base =
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		return -errno;
	}
	m->size = size;
	m->iova = iova;
	return 0;
}

void drv_mem_done(struct drv_mem *m)
{
	if (m->base)
		munmap(m->base, m->size);
	if (m->fd > 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
}

void *drv_mem_alloc(struct drv_mem *m, size_t size, size_t align,
		    uint64_t *iova)
{
	size_t off = (m->used + align - 1) & ~(align - 1);

	if (off + size > m->size)
		return NULL;
	m->used = off + size;
	if (iova)
		*iova = m->iova + off;
	return m->base + off;
}

void drv_mem_iotlb(struct drv_mem *m, struct vdpa_iotlb *tlb)
{
	vdpa_iotlb_init(tlb, 0);
	vdpa_iotlb_add(tlb, m->iova, m->size, m->base, VDPA_PERM_RW);
}

int test_bus_init(struct test_bus *tb, unsigned int workers)
{
	memset(tb, 0, sizeof(*tb));
	tb->bus = vdpa_bus_new();
	tb->pool = vdpa_worker_pool_new(workers, "test-w");
	if (!tb->bus || !tb->pool)
		return -ENOMEM;
	tb->net = vdpasim_net_mgmtdev_new(tb->pool);
	tb->blk = vdpasim_blk_mgmtdev_new(tb->pool);
	if (!tb->net || !tb->blk)
		return -ENOMEM;
	if (vdpa_mgmtdev_register(tb->bus, tb->net) ||
	    vdpa_mgmtdev_register(tb->bus, tb->blk))
		return -EINVAL;
	return 0;
}

void test_bus_done(struct test_bus *tb)
{
	if (tb->net)
		vdpa_mgmtdev_unregister(tb->net);
	if (tb->blk)
		vdpa_mgmtdev_unregister(tb->blk);
	vdpa_bus_free(tb->bus);
	vdpasim_mgmtdev_free(tb->net);
	vdpasim_mgmtdev_free(tb->blk);
	vdpa_worker_pool_free(tb->pool);
	memset(tb, 0, sizeof(*tb));
}

struct vdpa_device *test_dev_add(struct test_bus *tb,
				 struct vdpa_mgmt_dev *mdev, const char *name,
				 const struct vdpa_dev_set_config *cfg)
{
	struct vdpa_device *vdev;

	if (vdpa_mgmtdev_dev_add(mdev, name, cfg, NULL))
		return NULL;
	vdpa_bus_read_lock(tb->bus);
	vdev = vdpa_find_device(tb->bus, name);
	vdpa_bus_read_unlock(tb->bus);
	return vdev;
}

static int test_drv_setup_vq(struct test_drv *d, uint16_t i, uint32_t qsize,
			     uint16_t ind_max)
{
	struct vq_drv *vq = &d->vq[i];
	uint64_t iova;
	void *mem;
	int ret;

	mem = drv_mem_alloc(&d->mem, vq_drv_mem_size(qsize, ind_max), 4096,
			    &iova);
	if (!mem)
		return -ENOMEM;
	ret = vq_drv_init(vq, qsize, d->features, mem, iova, ind_max);
	if (ret)
		return ret;
	d->callfd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->callfd[i] < 0)
		return -errno;
	if ((ret = vdpa_set_vq_num(d->vdev, i, qsize)) ||
	    (ret = vdpa_set_vq_address(d->vdev, i, vq->desc_iova,
				       vq->avail_iova, vq->used_iova)) ||
	    (ret = vdpa_set_vq_callfd(d->vdev, i, d->callfd[i])))
		return ret;
	return vdpa_set_vq_ready(d->vdev, i, true);
}

static int test_drv_map(struct test_drv *d)
{
	struct vdpa_iotlb tlb;
	int ret = 0;

	drv_mem_iotlb(&d->mem, &tlb);
	for (unsigned int as = 0; as < d->vdev->nas && !ret; as++)
		ret = d->vdev->config->set_map(d->vdev, as, &tlb);
	vdpa_iotlb_clear(&tlb);
	return ret;
}

int test_drv_start(struct test_drv *d, struct vdpa_device *vdev, uint64_t want,
		   uint32_t nvqs, uint32_t qsize, uint16_t ind_max)
{
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	int ret;

	memset(d, 0, sizeof(*d));
	for (int i = 0; i < TEST_MAX_VQS; i++)
		d->callfd[i] = -1;
	d->vdev = vdev;
	d->nvqs = nvqs;
	ret = drv_mem_init(&d->mem, TEST_MEM_SIZE, TEST_MEM_IOVA);
	if (ret)
		return ret;
	vdpa_reset(vdev, 0);
	vdpa_set_status(vdev, s);
	d->features = want & vdev->config->get_device_features(vdev);
	if ((ret = vdpa_set_features(vdev, d->features)))
		return ret;
	s |= VIRTIO_CONFIG_S_FEATURES_OK;
	vdpa_set_status(vdev, s);
	if ((ret = test_drv_map(d)))
		return ret;
	for (uint16_t i = 0; i < nvqs; i++)
		if ((ret = test_drv_setup_vq(d, i, qsize, ind_max)))
			return ret;
	return vdpa_set_status(vdev, s | VIRTIO_CONFIG_S_DRIVER_OK);
}

void test_drv_stop(struct test_drv *d)
{
	if (d->vdev)
		vdpa_reset(d->vdev, VDPA_RESET_F_CLEAN_MAP);
	for (uint32_t i = 0; i < TEST_MAX_VQS; i++) {
		vq_drv_release(&d->vq[i]);
		if (d->callfd[i] >= 0)
			close(d->callfd[i]);
		d->callfd[i] = -1;
	}
	drv_mem_done(&d->mem);
}

void test_drv_kick(struct test_drv *d, uint16_t idx)
{
	if (vq_drv_kick_prepare(&d->vq[idx]))
		vdpa_kick_vq(d->vdev, idx);
}

int64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void *test_drv_wait_used(struct test_drv *d, uint16_t idx, uint32_t *len,
			 int ms)
{
	int64_t end = test_now_ms() + ms;
	void *token;

	for (;;) {
		struct pollfd pfd = { .fd = d->callfd[idx], .events = POLLIN };
		uint64_t v;
		int64_t left;

		token = vq_drv_get_used(&d->vq[idx], len);
		if (token)
			return token;
		left = end - test_now_ms();
		if (left <= 0)
			return NULL;
		/* a short wait: notifications may be suppressed by the test */
		if (poll(&pfd, 1, left < 10 ? (int)left : 10) > 0 &&
		    read(d->callfd[idx], &v, sizeof(v)) < 0)
			continue;
	}
}

void *test_drv_mem(struct test_drv *d, size_t len, uint64_t *iova)
{
	void *p = drv_mem_alloc(&d->mem, len, 64, iova);

	assert_non_null(p);
	return p;
}

uint32_t test_drv_chain(struct test_drv *d, const struct vq_buf *b,
			unsigned int out, unsigned int in)
{
	uint32_t len = UINT32_MAX;
	int token;

	assert_int_equal(vq_drv_add(&d->vq[0], b, out, in, &token), 0);
	test_drv_kick(d, 0);
	assert_ptr_equal(test_drv_wait_used(d, 0, &len, 5000), &token);
	return len;
}

int test_blk_submit(struct test_drv *d, struct test_blk_req *r, uint32_t type,
		    uint64_t sector, uint32_t data_len, bool write)
{
	struct virtio_blk_outhdr *hdr;
	struct vq_buf bufs[3];
	unsigned int n = 0, out;

	hdr = drv_mem_alloc(&d->mem, sizeof(*hdr), 16, &r->hdr_iova);
	r->data = data_len
			  ? drv_mem_alloc(&d->mem, data_len, 512, &r->data_iova)
			  : NULL;
	r->status = drv_mem_alloc(&d->mem, 1, 1, &r->status_iova);
	if (!hdr || (data_len && !r->data) || !r->status)
		return -ENOMEM;
	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	*r->status = 0xff;
	bufs[n++] = (struct vq_buf){ r->hdr_iova, sizeof(*hdr) };
	if (data_len && write)
		bufs[n++] = (struct vq_buf){ r->data_iova, data_len };
	out = n;
	if (data_len && !write)
		bufs[n++] = (struct vq_buf){ r->data_iova, data_len };
	bufs[n++] = (struct vq_buf){ r->status_iova, 1 };
	return vq_drv_add(&d->vq[0], bufs, out, n - out, r);
}

int test_blk_do(struct test_drv *d, uint32_t type, uint64_t sector, void *buf,
		uint32_t len, bool write)
{
	size_t mark = d->mem.used;
	struct test_blk_req r;
	int status;

	if (test_blk_submit(d, &r, type, sector, len, write))
		return -1;
	if (write && len)
		memcpy(r.data, buf, len);
	test_drv_kick(d, 0);
	if (test_drv_wait_used(d, 0, NULL, 5000) != &r)
		return -1;
	if (!write && len && buf)
		memcpy(buf, r.data, len);
	status = *r.status;
	d->mem.used = mark;
	return status;
}

struct vstats_collect {
	struct vdpa_stats_writer w;
	char (*names)[32];
	uint64_t *values;
	int n, max;
};

static int vstats_put(struct vdpa_stats_writer *w, const char *name,
		      uint64_t value)
{
	struct vstats_collect *c = container_of(w, struct vstats_collect, w);

	if (c->n == c->max)
		return -EMSGSIZE;
	snprintf(c->names[c->n], 32, "%s", name);
	c->values[c->n++] = value;
	return 0;
}

int test_vstats(struct vdpa_device *vdev, uint16_t idx, char names[][32],
		uint64_t *values, int max)
{
	struct vstats_collect c = { { vstats_put }, names, values, 0, max };
	int ret;

	ret = vdev->config->get_vendor_vq_stats(vdev, idx, &c.w, NULL);
	return ret ? ret : c.n;
}

uint64_t test_vstat(struct vdpa_device *vdev, uint16_t idx, const char *key)
{
	char names[16][32];
	uint64_t values[16];
	int n = test_vstats(vdev, idx, names, values, 16);

	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], key))
			return values[i];
	return UINT64_MAX;
}

int test_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own fd */
}

void test_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 31 + seed * 7 + (i >> 9)) ^ (seed >> 3));
}

bool test_all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

bool test_wait_status(struct vdpa_device *vdev, uint8_t bit, int ms)
{
	int64_t end = test_now_ms() + ms;

	while (!(vdpa_get_status(vdev) & bit)) {
		if (test_now_ms() > end)
			return false;
		usleep(1000);
	}
	return true;
}

void test_file_make(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

void test_file_pread(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

void test_file_write(const char *path, uint64_t off, const void *buf,
		     size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

long long test_file_blocks(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	return (long long)st.st_blocks;
}

uint64_t test_file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

bool test_have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

int test_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

pid_t test_spawn(const char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		/* readiness probes make servers complain of broken pipes */
		dup2(null, STDERR_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

bool test_sock_ready(const char *path, int ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < ms / 10; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));

		close(fd);
		if (!ret)
			return true;
		usleep(10000);
	}
	return false;
}
