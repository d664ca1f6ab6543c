// SPDX-License-Identifier: MIT
/*
 * The two halves in two processes, as with an out-of-process device: the
 * parent drives the ring in a memfd, a forked child maps the same memfd
 * elsewhere (in two pieces with a hole between, so buffers crossing the
 * seam come back as two iovecs) and serves it through its own map. The
 * child drops the parent's mapping it inherited, so any address that
 * bypassed the map would fault. Kicks and calls are eventfds, with the
 * suppression each side asks for, so a lost wake-up stalls the run and
 * fails it at the deadline.
 *
 * Each buffer carries a sequence number and a pattern derived from it; the
 * device checks order and contents and answers with a checksum the driver
 * checks in turn.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/compiler.h>

#include "helpers.h"

#define F_EVENT_IDX BIT_ULL(VIRTIO_RING_F_EVENT_IDX)
#define F_INDIRECT BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC)

#define XP_IOVA 0x300000000000ull
#define XP_NUM 256
#define XP_IND_MAX 4
#define XP_SLOT 1300 /* payload, then a 16-byte reply at XP_REPLY */
#define XP_REPLY 1280
#define XP_MAX_PAYLOAD 1015
#define XP_HALF (192u << 10) /* data is mapped in two halves */
#define XP_DEADLINE_MS 6000
#define XP_BATCH 64

/* Child exit codes: which check failed. */
enum {
	XP_OK,
	XP_EMAP = 10,
	XP_ESAME,
	XP_EINIT,
	XP_EBROKEN,
	XP_ELEN,
	XP_ESEQ,
	XP_EDATA,
	XP_EREPLY,
	XP_ETIME,
	XP_EFD,
};

struct xp {
	struct drv_mem mem; /* the parent's mapping */
	struct vq_drv drv;
	uint64_t features;
	size_t ring_len;
	unsigned long total;
	int kickfd, callfd;
	pid_t child;
};

struct xp_reply {
	uint64_t seq;
	uint64_t sum;
};

static uint32_t xp_len(unsigned long seq)
{
	return 16 + (uint32_t)(seq * 37 % (XP_MAX_PAYLOAD - 15));
}

static void xp_fill(unsigned long seq, uint8_t *buf)
{
	uint64_t s = seq;

	memcpy(buf, &s, 8);
	for (uint32_t j = 8; j < xp_len(seq); j++)
		buf[j] = (uint8_t)(seq * 31 + j * 7);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for @fd to count up; false at the deadline. */
static bool xp_wait(int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	while (poll(&p, 1, 100) == 0)
		if (now_ms() > deadline)
			return false;
	return read(fd, &v, sizeof(v)) == sizeof(v);
}

static void xp_signal(int fd)
{
	uint64_t one = 1;

	/* a saturated counter has woken the peer already */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		_exit(XP_EFD);
}

/* ---- the device, in the child ---- */

struct xdev {
	struct vdpa_iotlb tlb;
	struct vq_dev vq;
	unsigned long expect; /* next sequence number */
	struct vq_elem elems[XP_BATCH];
	struct iovec iov[2 * VQ_MAX_CHAIN_IOV];
	uint32_t lens[XP_BATCH];
};

/* Map the memfd in two pieces with a hole between; drop the parent's. */
static int xdev_map(struct xp *x, struct xdev *d)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t a = x->ring_len + XP_HALF, b = x->mem.size - a;
	uint8_t *r;

	r = mmap(NULL, a + pg + b, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (r == MAP_FAILED)
		return XP_EMAP;
	/* MAP_FIXED inside our own reservation only */
	if (mmap(r, a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 x->mem.fd, 0) == MAP_FAILED ||
	    mmap(r + a + pg, b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 x->mem.fd, (off_t)a) == MAP_FAILED)
		return XP_EMAP;
	if (r == x->mem.base)
		return XP_ESAME;
	munmap(x->mem.base, x->mem.size);
	vdpa_iotlb_init(&d->tlb, 0);
	if (vdpa_iotlb_add(&d->tlb, XP_IOVA, a, r, VDPA_PERM_RW) ||
	    vdpa_iotlb_add(&d->tlb, XP_IOVA + a, b, r + a + pg, VDPA_PERM_RW))
		return XP_EMAP;
	return XP_OK;
}

static int xdev_serve_one(struct xdev *d, const struct vq_elem *e)
{
	uint8_t buf[XP_MAX_PAYLOAD + 1];
	struct xp_reply reply;
	uint64_t seq;
	size_t n;

	n = vq_iov_to_buf(e->iov, e->out_num, 0, buf, sizeof(buf));
	if (n != e->out_len || n < 8)
		return XP_ELEN;
	memcpy(&seq, buf, 8);
	if (seq != d->expect)
		return XP_ESEQ;
	if (n != xp_len(seq))
		return XP_ELEN;
	for (size_t j = 8; j < n; j++)
		if (buf[j] != (uint8_t)(seq * 31 + j * 7))
			return XP_EDATA;
	reply = (struct xp_reply){ seq, fnv1a(buf, n) };
	if (e->in_len != sizeof(reply) ||
	    vq_buf_to_iov(e->iov + e->out_num, e->in_num, 0, &reply,
			  sizeof(reply)) != sizeof(reply))
		return XP_EREPLY;
	d->expect++;
	return XP_OK;
}

static int xdev_run(struct xp *x, struct xdev *d, uint64_t deadline)
{
	while (d->expect < x->total) {
		int n = vq_dev_pop_batch(&d->vq, d->elems, XP_BATCH, d->iov,
					 ARRAY_SIZE(d->iov));

		if (n < 0)
			return XP_EBROKEN;
		for (int i = 0; i < n; i++) {
			int ret = xdev_serve_one(d, &d->elems[i]);

			if (ret)
				return ret;
			d->lens[i] = sizeof(struct xp_reply);
		}
		if (n && vq_dev_complete_batch(&d->vq, d->elems, d->lens,
					       (unsigned int)n))
			xp_signal(x->callfd);
		if (n || vq_dev_enable_notify(&d->vq))
			continue;
		/* idle with kicks enabled: sleep, then poll while busy */
		if (!xp_wait(x->kickfd, deadline))
			return XP_ETIME;
		vq_dev_disable_notify(&d->vq);
	}
	return XP_OK;
}

static void xdev_main(struct xp *x)
{
	struct xdev *d = calloc(1, sizeof(*d));
	uint64_t deadline = now_ms() + XP_DEADLINE_MS;
	struct vq_config cfg = {
		.num = XP_NUM,
		.features = x->features,
		.desc_addr = x->drv.desc_iova,
		.driver_addr = x->drv.avail_iova,
		.device_addr = x->drv.used_iova,
		.iotlb = NULL,
	};
	int ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(XP_DEADLINE_MS / 1000 + 5); /* whatever happens to the parent */
	if (!d)
		_exit(XP_EMAP);
	ret = xdev_map(x, d);
	if (ret)
		_exit(ret);
	cfg.iotlb = &d->tlb;
	if (vq_dev_init(&d->vq, &cfg))
		_exit(XP_EINIT);
	ret = xdev_run(x, d, deadline);
	/* _exit: no cmocka or leak-checker epilogue in the child */
	_exit(ret);
}

/* ---- the driver, in the parent ---- */

static struct xp *xp_running; /* for the teardown after a failure */

static uint64_t xp_slot(struct xp *x, unsigned long seq)
{
	return x->ring_len + XP_SLOT * (seq % XP_NUM);
}

/* Payload in one or two readable buffers, then the reply buffer. */
static int xp_add(struct xp *x, unsigned long seq)
{
	uint64_t off = xp_slot(x, seq);
	uint32_t len = xp_len(seq);
	struct vq_buf b[3];
	unsigned int out = 0;

	xp_fill(seq, x->mem.base + off);
	if (seq % 3 == 0) {
		b[out++] = (struct vq_buf){ XP_IOVA + off, 8 };
		b[out++] = (struct vq_buf){ XP_IOVA + off + 8, len - 8 };
	} else {
		b[out++] = (struct vq_buf){ XP_IOVA + off, len };
	}
	b[out] = (struct vq_buf){ XP_IOVA + off + XP_REPLY,
				  sizeof(struct xp_reply) };
	return vq_drv_add(&x->drv, b, out, 1, (void *)(uintptr_t)(seq + 1));
}

static void xp_check(struct xp *x, unsigned long seq, void *token, uint32_t len)
{
	uint8_t buf[XP_MAX_PAYLOAD];
	struct xp_reply r;

	assert_ptr_equal(token, (void *)(uintptr_t)(seq + 1));
	assert_int_equal(len, sizeof(r));
	memcpy(&r, x->mem.base + xp_slot(x, seq) + XP_REPLY, sizeof(r));
	xp_fill(seq, buf);
	assert_int_equal(r.seq, seq);
	assert_true(r.sum == fnv1a(buf, xp_len(seq)));
}

/*
 * Chains in flight: mostly a full ring, but now and then only 1 to 4, so
 * the driver also sleeps right after a lone kick and the device after a
 * lone call: each must have been the right decision or the run stalls.
 */
static unsigned long xp_window(unsigned long seq)
{
	return seq % 4000 < 50 ? 1 + seq / 4000 % 4 : XP_NUM;
}

/* Wait for a call; a device that gave up fails the test at once. */
static void xp_drv_wait(struct xp *x, uint64_t deadline)
{
	struct pollfd p = { .fd = x->callfd, .events = POLLIN };
	int status;
	uint64_t v;

	while (poll(&p, 1, 50) == 0) {
		if (waitpid(x->child, &status, WNOHANG) == x->child) {
			x->child = 0;
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), XP_OK);
			fail_msg("device exited before the end");
		}
		assert_true(now_ms() < deadline);
	}
	assert_int_equal(read(x->callfd, &v, sizeof(v)), sizeof(v));
}

static void xp_drive(struct xp *x)
{
	uint64_t deadline = now_ms() + XP_DEADLINE_MS;
	unsigned long added = 0, got = 0;
	void *token;
	uint32_t len;

	vq_drv_disable_cb(&x->drv);
	for (unsigned int round = 0; got < x->total; round++) {
		/* bursts of 1 to 8: single-chain kicks need the exact index */
		unsigned int burst = 1 + round % 8;
		bool progress = false;

		while (burst-- && added < x->total &&
		       added - got < xp_window(added) &&
		       vq_drv_num_free(&x->drv) >= 3) {
			assert_int_equal(xp_add(x, added), 0);
			added++;
			progress = true;
		}
		if (vq_drv_kick_prepare(&x->drv))
			xp_signal(x->kickfd);
		while ((token = vq_drv_get_used(&x->drv, &len))) {
			xp_check(x, got++, token, len);
			progress = true;
		}
		if (progress || !vq_drv_enable_cb(&x->drv))
			continue;
		xp_drv_wait(x, deadline);
		vq_drv_disable_cb(&x->drv);
	}
}

static void xp_start(struct xp *x, uint64_t features, unsigned long total)
{
	uint16_t ind_max = (features & F_INDIRECT) ? XP_IND_MAX : 0;

	memset(x, 0, sizeof(*x));
	x->features = features;
	x->total = total;
	x->ring_len = (vq_drv_mem_size(XP_NUM, ind_max) + 4095) & ~4095ul;
	assert_true(XP_SLOT * XP_NUM <= 2 * XP_HALF);
	assert_int_equal(
		drv_mem_init(&x->mem, x->ring_len + 2 * XP_HALF, XP_IOVA), 0);
	assert_int_equal(vq_drv_init(&x->drv, XP_NUM, features, x->mem.base,
				     XP_IOVA, ind_max),
			 0);
	x->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(x->kickfd >= 0 && x->callfd >= 0);
	x->child = fork();
	assert_true(x->child >= 0);
	if (x->child == 0)
		xdev_main(x);
	xp_running = x;
}

/* Reap the child; kill it first when the test ended early. */
static int xp_reap(struct xp *x, bool kill_it)
{
	int status = -1;

	if (x->child > 0) {
		if (kill_it)
			kill(x->child, SIGKILL);
		while (waitpid(x->child, &status, 0) < 0 && errno == EINTR)
			;
		x->child = 0;
	}
	return status;
}

static void xp_done(struct xp *x)
{
	vq_drv_release(&x->drv);
	drv_mem_done(&x->mem);
	if (x->kickfd >= 0)
		close(x->kickfd);
	if (x->callfd >= 0)
		close(x->callfd);
	x->kickfd = x->callfd = -1;
}

static int xp_teardown(void **state)
{
	if (xp_running) {
		xp_reap(xp_running, true);
		xp_done(xp_running);
		xp_running = NULL;
	}
	return 0;
}

static void xp_run(uint64_t features, unsigned long total)
{
	static struct xp x;
	int status;

	xp_start(&x, features, total);
	xp_drive(&x);
	status = xp_reap(&x, false);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), XP_OK);
	assert_int_equal(le16toh(x.drv.used->idx), total & 0xffff);
	xp_done(&x);
	xp_running = NULL;
}

static void xproc_event_idx_indirect(void **state)
{
	xp_run(F_EVENT_IDX | F_INDIRECT, 200000);
}

static void xproc_flags_direct(void **state)
{
	xp_run(0, 100000);
}

static void xproc_event_idx_direct(void **state)
{
	xp_run(F_EVENT_IDX, 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(xproc_event_idx_indirect,
					  xp_teardown),
		cmocka_unit_test_teardown(xproc_flags_direct, xp_teardown),
		cmocka_unit_test_teardown(xproc_event_idx_direct, xp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
