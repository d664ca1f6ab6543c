// SPDX-License-Identifier: MIT
/*
 * The front end's memory and rings: the arena handed over as guest memory,
 * and the per-queue messages of QEMU's vhost_virtqueue_start (reference
 * §9.5), with user addresses in SET_VRING_ADDR.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <uvdpa/compiler.h>

#include "vhost_user/fe_internal.h"

#define FE_MEM_SIZE (16u << 20)
#define FE_PAGE 4096u

/* ---- the arena ---- */

int fe_arena_new(struct vu_fe *fe, const struct vu_fe_cfg *cfg)
{
	size_t size = cfg->mem_size ? cfg->mem_size : FE_MEM_SIZE;
	unsigned int n = cfg->nregions ? cfg->nregions : 1;
	void *mem;

	/* equal regions, each whole pages */
	if (n > VU_MAX_MEM_REGIONS || size % ((size_t)n * FE_PAGE))
		return -EINVAL;
	fe->memfd = memfd_create("vu-fe-arena", MFD_CLOEXEC);
	if (fe->memfd < 0)
		return -errno;
	if (ftruncate(fe->memfd, (off_t)size))
		return -errno;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->memfd,
		   0);
	if (mem == MAP_FAILED)
		return -errno;
	fe->mem = mem;
	fe->mem_size = size;
	fe->mem_gpa = cfg->mem_gpa;
	fe->nregions = n;
	fe->mem_slots = cfg->mem_slots;
	return 0;
}

void fe_arena_free(struct vu_fe *fe)
{
	if (fe->mem)
		munmap(fe->mem, fe->mem_size);
	if (fe->memfd >= 0)
		close(fe->memfd);
	fe->mem = NULL;
	fe->memfd = -1;
	fe->mem_size = fe->mem_used = 0;
}

void *vu_fe_alloc(struct vu_fe *fe, size_t size, size_t align, uint64_t *gpa)
{
	size_t off = (fe->mem_used + align - 1) & ~(align - 1);

	if (!is_power_of_2(align) || off > fe->mem_size ||
	    size > fe->mem_size - off)
		return NULL;
	fe->mem_used = off + size;
	if (gpa)
		*gpa = fe->mem_gpa + off;
	return fe->mem + off;
}

static void fe_region(const struct vu_fe *fe, unsigned int i,
		      struct vu_mem_region *r)
{
	uint64_t part = fe->mem_size / fe->nregions;

	r->guest_addr = fe->mem_gpa + i * part;
	r->size = part;
	r->user_addr = (uintptr_t)fe->mem + i * part;
	r->mmap_offset = i * part;
}

static int fe_set_mem_table(struct vu_fe *fe)
{
	struct vu_mem_table t = { .nregions = fe->nregions };
	int fds[VU_MAX_MEM_REGIONS];

	for (unsigned int i = 0; i < fe->nregions; i++) {
		fe_region(fe, i, &t.regions[i]);
		fds[i] = fe->memfd;
	}
	return vu_fe_request(fe, VU_SET_MEM_TABLE, &t,
			     8 + fe->nregions * sizeof(t.regions[0]), fds,
			     fe->nregions);
}

int vu_fe_set_mem(struct vu_fe *fe)
{
	struct vu_mem_single one = { 0 };
	int ret = 0;

	if (fe->nregions > fe->max_mem_slots)
		return -ENOSPC;
	if (!fe->mem_slots || !fe_has(fe, VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
		return fe_set_mem_table(fe);
	for (unsigned int i = 0; i < fe->nregions && !ret; i++) {
		fe_region(fe, i, &one.region);
		ret = vu_fe_request(fe, VU_ADD_MEM_REG, &one, sizeof(one),
				    &fe->memfd, 1);
	}
	return ret;
}

/* ---- queues ---- */

static void fe_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void fe_vqs_free(struct vu_fe *fe)
{
	for (uint32_t i = 0; fe->vqs && i < fe->nvqs; i++) {
		struct vu_fe_vq *vq = &fe->vqs[i];

		vq_drv_release(&vq->drv);
		fe_close(&vq->kickfd);
		fe_close(&vq->callfd);
		fe_close(&vq->errfd);
	}
	free(fe->vqs);
	fe->vqs = NULL;
	fe->nvqs = 0;
}

static int fe_vq_init(struct vu_fe *fe, struct vu_fe_vq *vq, uint32_t size,
		      uint16_t ind_max)
{
	uint64_t gpa;
	void *mem;
	int ret;

	if (!is_power_of_2(size) || size > 32768)
		return -EINVAL;
	mem = vu_fe_alloc(fe, vq_drv_mem_size(size, ind_max), FE_PAGE, &gpa);
	if (!mem)
		return -ENOMEM;
	ret = vq_drv_init(&vq->drv, size, fe->features, mem, gpa, ind_max);
	if (ret)
		return ret;
	vq->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->errfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kickfd < 0 || vq->callfd < 0 || vq->errfd < 0)
		return -errno;
	return 0;
}

static int fe_vq_addr(struct vu_fe *fe, const struct vu_fe_vq *vq)
{
	struct vu_vring_addr a = {
		.index = vq->idx,
		/* where this process sees the ring, as QEMU sends its own */
		.desc_user_addr = (uintptr_t)vq->drv.desc,
		.used_user_addr = (uintptr_t)vq->drv.used,
		.avail_user_addr = (uintptr_t)vq->drv.avail,
	};

	return vu_fe_request(fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

int vu_fe_vq_start(struct vu_fe *fe, uint16_t idx)
{
	struct vu_fe_vq *vq;
	struct vu_vring_state st = { .index = idx };
	int ret;

	if (idx >= fe->nvqs)
		return -EINVAL;
	vq = &fe->vqs[idx];
	st.num = vq->drv.num;
	if ((ret = vu_fe_request(fe, VU_SET_VRING_NUM, &st, sizeof(st), NULL,
				 0)))
		return ret;
	st.num = vq->base;
	if ((ret = vu_fe_request(fe, VU_SET_VRING_BASE, &st, sizeof(st), NULL,
				 0)) ||
	    (ret = fe_vq_addr(fe, vq)) ||
	    (ret = vu_fe_set_u64(fe, VU_SET_VRING_KICK, idx, &vq->kickfd, 1)) ||
	    (ret = vu_fe_set_u64(fe, VU_SET_VRING_CALL, idx, &vq->callfd, 1)) ||
	    (ret = vu_fe_set_u64(fe, VU_SET_VRING_ERR, idx, &vq->errfd, 1)))
		return ret;
	vq->started = true;
	return 0;
}

int vu_fe_vq_enable(struct vu_fe *fe, uint16_t idx, bool enable)
{
	struct vu_vring_state st = { .index = idx, .num = enable };

	return vu_fe_request(fe, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
}

int vu_fe_setup_vqs(struct vu_fe *fe, uint32_t nvqs, uint32_t size,
		    uint16_t ind_max)
{
	int ret = 0;

	if (fe->vqs || nvqs == 0 || nvqs > VU_FE_MAX_VQS)
		return -EINVAL;
	fe->vqs = calloc(nvqs, sizeof(*fe->vqs));
	if (!fe->vqs)
		return -ENOMEM;
	fe->nvqs = nvqs;
	for (uint32_t i = 0; i < nvqs; i++)
		fe->vqs[i] = (struct vu_fe_vq){ .idx = (uint16_t)i,
						.kickfd = -1,
						.callfd = -1,
						.errfd = -1 };
	for (uint32_t i = 0; i < nvqs && !ret; i++)
		ret = fe_vq_init(fe, &fe->vqs[i], size, ind_max);
	for (uint32_t i = 0; i < nvqs && !ret; i++)
		ret = vu_fe_vq_start(fe, (uint16_t)i);
	/* with bit 30 rings start disabled (reference §9.4) */
	for (uint32_t i = 0; i < nvqs && !ret && fe->vring_enable; i++)
		ret = vu_fe_vq_enable(fe, (uint16_t)i, true);
	return ret;
}

int vu_fe_vq_stop(struct vu_fe *fe, uint16_t idx)
{
	struct vu_vring_state st = { .index = idx };
	struct vu_msg msg = { .hdr = { .request = VU_GET_VRING_BASE,
				       .flags = VU_VERSION,
				       .size = sizeof(st) } };
	int ret;

	if (idx >= fe->nvqs)
		return -EINVAL;
	msg.payload.state = st;
	ret = vu_fe_xfer(fe, &msg, NULL, 0, &msg);
	if (ret)
		return ret;
	if (msg.hdr.request != VU_GET_VRING_BASE || msg.nfds ||
	    !(msg.hdr.flags & VU_FLAG_REPLY) || msg.hdr.size != sizeof(st) ||
	    msg.payload.state.index != idx ||
	    msg.payload.state.num > UINT16_MAX) {
		for (unsigned int i = 0; i < msg.nfds; i++)
			close(msg.fds[i]);
		return -EPROTO;
	}
	fe->vqs[idx].base = (uint16_t)msg.payload.state.num;
	fe->vqs[idx].started = false;
	return 0;
}

int vu_fe_stop(struct vu_fe *fe)
{
	int ret = 0;

	for (uint32_t i = 0; i < fe->nvqs && !ret; i++)
		if (fe->vqs[i].started)
			ret = vu_fe_vq_stop(fe, (uint16_t)i);
	return ret;
}

int vu_fe_kick(struct vu_fe *fe, uint16_t idx)
{
	uint64_t one = 1;

	if (!vq_drv_kick_prepare(&fe->vqs[idx].drv))
		return 0;
	/* EAGAIN: the counter is saturated, the back end will see it */
	if (write(fe->vqs[idx].kickfd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		return -errno;
	return 1;
}

int vu_fe_wait(struct vu_fe *fe, uint16_t idx, int ms)
{
	struct pollfd p = { .fd = fe->vqs[idx].callfd, .events = POLLIN };
	uint64_t v;
	int n = poll(&p, 1, ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 0;
	if (read(p.fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}
