// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: descriptor chains over a memory map. The input lays
 * out a driver's memory (16 pages, each unmapped, readable, writable or
 * both, in one range or many, host pages in order or reversed, one page
 * also aliased at the very top of the iova space), the ring configuration
 * and the ring contents, then patches the driver applies between rounds.
 *
 * Mode 0 drives the device side of the split ring (lib/virtio/vring.c)
 * directly and checks every iovec it hands out against the map: inside
 * the arena, on pages that grant the access. With an inflight region
 * (vring_inflight.c; its first contents from the input, as a front end
 * hands one back), a round may restart the queue on the region as the
 * previous rounds left it, as a new back end after a crash would. Modes 1 and 2 give the same
 * memory to a vdpasim_net or vdpasim_blk device and let its worker serve
 * the rings (parents/sim), as a guest's driver would.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uvdpa/compiler.h>
#include <uvdpa/iotlb.h>
#include <uvdpa/sim.h>
#include <uvdpa/uapi.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/virtqueue.h>
#include <uvdpa/worker.h>

#include "fuzz_input.h"
#include "fuzz_sim.h"

#define PAGE 4096u
#define NPAGES 16u
#define ARENA (PAGE * NPAGES)
#define IOVA_BASE 0x40000000ull
#define TOP_IOVA (UINT64_MAX - PAGE + 1) /* the alias page ends at 2^64-1 */
#define NQ 3 /* queue configurations in an input */
#define ROUNDS 16
#define BATCH 32
#define IOV_CAP (VQ_MAX_CHAIN_IOV + BATCH * 4)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { L_SPLIT = 1, L_REVERSED = 2, L_TOP_ALIAS = 4, L_INFLIGHT = 8 };

/* A round's control byte with these three bits: the back end restarts. */
#define R_RESTART 0xe0

struct qcfg {
	uint8_t num_sel;
	uint8_t flags; /* bit 0: enabled; bit 1: a call eventfd */
	uint16_t desc, avail, used; /* offsets from IOVA_BASE */
	uint16_t avail_idx;
};

/* The driver's memory and the map the device gets of it. */
struct mem {
	uint8_t *arena;
	uint8_t layout;
	uint8_t perm[NPAGES]; /* VDPA_PERM_*, 0: a hole */
	struct vdpa_iotlb tlb;
};

static unsigned int host_page(const struct mem *m, unsigned int i)
{
	return m->layout & L_REVERSED ? NPAGES - 1 - i : i;
}

/* The driver writes its memory as it likes, whatever the device may do. */
static void mem_write(struct mem *m, uint32_t off, const uint8_t *p, size_t len)
{
	for (size_t k = 0; k < len; k++) {
		uint32_t o = (off + (uint32_t)k) % ARENA;

		m->arena[host_page(m, o / PAGE) * PAGE + o % PAGE] = p[k];
	}
}

static int mem_map(struct mem *m)
{
	unsigned int i = 0, j;
	int ret = 0;

	vdpa_iotlb_init(&m->tlb, 0);
	while (i < NPAGES && !ret) {
		if (!m->perm[i]) {
			i++;
			continue;
		}
		/* a run of pages alike, host-contiguous, as one range */
		for (j = i + 1;
		     j < NPAGES && !(m->layout & (L_SPLIT | L_REVERSED)); j++)
			if (m->perm[j] != m->perm[i])
				break;
		if (m->layout & (L_SPLIT | L_REVERSED))
			j = i + 1;
		ret = vdpa_iotlb_add(
			&m->tlb, IOVA_BASE + i * PAGE, (j - i) * PAGE,
			m->arena + host_page(m, i) * PAGE, m->perm[i]);
		i = j;
	}
	if (!ret && (m->layout & L_TOP_ALIAS) && m->perm[NPAGES - 1])
		ret = vdpa_iotlb_add(&m->tlb, TOP_IOVA, PAGE,
				     m->arena + host_page(m, NPAGES - 1) * PAGE,
				     m->perm[NPAGES - 1]);
	return ret;
}

static int mem_init(struct mem *m, struct fz_in *in)
{
	uint32_t perms;

	m->layout = fz_u8(in);
	perms = fz_u32(in);
	for (unsigned int i = 0; i < NPAGES; i++)
		m->perm[i] = (perms >> (2 * i)) & VDPA_PERM_RW;
	/* malloc'd, not mmap'd: ASan's redzones catch a step outside */
	m->arena = calloc(1, ARENA);
	if (!m->arena)
		abort();
	return mem_map(m);
}

/* The driver's memory at start: a count, then (offset, length, bytes). */
static void mem_fill(struct mem *m, struct fz_in *in)
{
	unsigned int chunks = fz_u8(in);

	for (unsigned int i = 0; i < chunks && in->left; i++) {
		uint16_t off = fz_u16(in);
		const uint8_t *p;
		size_t n = fz_take(in, &p, fz_u16(in));

		mem_write(m, off, p, n);
	}
}

static void mem_done(struct mem *m)
{
	vdpa_iotlb_clear(&m->tlb);
	free(m->arena);
}

/* A driver patch between rounds: new chains, a moved index, garbage. */
static void mem_patch(struct mem *m, struct fz_in *in)
{
	uint16_t off = fz_u16(in);
	const uint8_t *p;
	size_t n = fz_take(in, &p, fz_u8(in));

	mem_write(m, off, p, n);
}

static uint32_t qnum(uint8_t sel)
{
	/* mostly powers of two up to 4096; the rest raw, to be refused */
	return sel < 0xf0 ? 1u << (sel % 13) : (uint32_t)(sel & 0xf) * 3;
}

static void qcfg_read(struct qcfg *q, struct fz_in *in)
{
	q->num_sel = fz_u8(in);
	q->flags = fz_u8(in);
	q->desc = fz_u16(in);
	q->avail = fz_u16(in);
	q->used = fz_u16(in);
	q->avail_idx = fz_u16(in);
}

/* ---- mode 0: the ring alone, every iovec checked ---- */

/* The device may only be given bytes of pages that grant @perm. */
static void check_iov(const struct mem *m, const struct iovec *v, uint32_t perm)
{
	uintptr_t a = (uintptr_t)m->arena, b = (uintptr_t)v->iov_base;

	if (!v->iov_len)
		return;
	if (b < a || b - a > ARENA || v->iov_len > ARENA - (b - a)) {
		fprintf(stderr, "iovec %p+%zu outside the arena\n", v->iov_base,
			v->iov_len);
		abort();
	}
	for (size_t o = b - a; o < b - a + v->iov_len; o += PAGE - o % PAGE) {
		unsigned int hp = (unsigned int)(o / PAGE);
		unsigned int ip = m->layout & L_REVERSED ? NPAGES - 1 - hp : hp;

		if ((m->perm[ip] & perm) != perm) {
			fprintf(stderr, "iovec on page %u without perm %u\n",
				ip, perm);
			abort();
		}
	}
}

static uint32_t serve_elem(const struct mem *m, const struct vq_elem *e,
			   uint8_t *scratch)
{
	uint64_t out = 0, in = 0;

	for (unsigned int i = 0; i < e->out_num; i++) {
		check_iov(m, &e->iov[i], VDPA_PERM_READ);
		out += e->iov[i].iov_len;
	}
	for (unsigned int i = e->out_num; i < e->out_num + e->in_num; i++) {
		check_iov(m, &e->iov[i], VDPA_PERM_WRITE);
		in += e->iov[i].iov_len;
	}
	if (out != e->out_len || in != e->in_len)
		abort(); /* the lengths a parent trusts must add up */
	/*
	 * Read what the driver gave, write what it asked for: ASan looks.
	 * Through a buffer: in and out buffers may overlap.
	 */
	vq_iov_to_buf(e->iov, e->out_num, 0, scratch, ARENA);
	vq_buf_to_iov(e->iov + e->out_num, e->in_num, 0, scratch, ARENA);
	return (uint32_t)(e->in_len < ARENA ? e->in_len : ARENA);
}

static void ring_round(struct vq_dev *vq, const struct mem *m, uint8_t ctl,
		       struct vq_elem *elems, struct iovec *iov,
		       uint8_t *scratch)
{
	uint32_t lens[BATCH];
	int n;

	if (ctl & 0x80)
		vq_dev_has_avail(vq);
	n = vq_dev_pop_batch(vq, elems, 1 + (ctl & (BATCH - 1)), iov, IOV_CAP);
	if (n <= 0)
		return;
	for (int i = 0; i < n; i++)
		lens[i] = serve_elem(m, &elems[i], scratch);
	if (ctl & 0x20) {
		vq_dev_unpop(vq, 1); /* the last one is taken again */
		n--;
	}
	vq_dev_complete_batch(vq, elems, lens, (unsigned int)n);
	if (ctl & 0x40)
		vq_dev_disable_notify(vq);
	else
		vq_dev_enable_notify(vq);
}

static void fuzz_ring(struct mem *m, const struct qcfg *q, uint64_t features,
		      struct vq_inflight_split *inflight, struct fz_in *in)
{
	static struct vq_elem elems[BATCH];
	static struct iovec iov[IOV_CAP];
	static uint8_t scratch[ARENA];
	struct vq_config cfg = {
		.num = qnum(q->num_sel),
		.features = features,
		.desc_addr = IOVA_BASE + q->desc,
		.driver_addr = IOVA_BASE + q->avail,
		.device_addr = IOVA_BASE + q->used,
		.avail_idx = q->avail_idx,
		.iotlb = &m->tlb,
		.inflight = inflight,
	};
	struct vq_dev vq = { 0 };

	if (!vq_dev_init(&vq, &cfg)) {
		for (int r = 0; r < ROUNDS && in->left && !vq.broken; r++) {
			uint8_t ctl = fz_u8(in);

			mem_patch(m, in);
			if (inflight && (ctl & R_RESTART) == R_RESTART)
				vq_dev_init(&vq, &cfg);
			else
				ring_round(&vq, m, ctl, elems, iov, scratch);
		}
	}
	vq_dev_release(&vq);
}

/* ---- modes 1 and 2: a simulator device serves the rings ---- */

static struct fz_sim fz;

static void sim_queue(struct vdpa_device *vdev, uint16_t i,
		      const struct qcfg *q, int callfd)
{
	struct vdpa_vq_state st = { .split.avail_index = q->avail_idx };

	/* errors are part of the game: a refused size leaves num 0 */
	vdpa_set_vq_num(vdev, i, qnum(q->num_sel));
	vdpa_set_vq_address(vdev, i, IOVA_BASE + q->desc, IOVA_BASE + q->avail,
			    IOVA_BASE + q->used);
	vdpa_set_vq_state(vdev, i, &st);
	vdpa_set_vq_callfd(vdev, i, q->flags & 2 ? callfd : -1);
	vdpa_set_vq_ready(vdev, i, q->flags & 1);
}

static bool sim_start(struct vdpa_device *vdev, struct mem *m,
		      const struct qcfg *q, uint64_t features, int callfd)
{
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	vdpa_set_status(vdev, s);
	vdpa_set_features(vdev, features);
	vdpa_set_status(vdev, s | VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(vdpa_get_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK))
		return false;
	for (unsigned int as = 0; as < vdev->nas; as++)
		vdev->config->set_map(vdev, as, &m->tlb);
	for (uint16_t i = 0; i < vdev->nvqs && i < NQ; i++)
		sim_queue(vdev, i, &q[i], callfd);
	vdpa_set_status(vdev, s | VIRTIO_CONFIG_S_FEATURES_OK |
				      VIRTIO_CONFIG_S_DRIVER_OK);
	return true;
}

static void sim_round(struct vdpa_device *vdev, struct mem *m, uint8_t ctl)
{
	struct vdpa_vq_state st;

	for (uint16_t i = 0; i < vdev->nvqs; i++)
		if (ctl & (1u << i))
			vdpa_kick_vq(vdev, i);
	fz_sim_barrier(&fz);
	if (ctl & 0x08)
		vdpa_get_vq_state(vdev, (uint16_t)(ctl >> 4) % vdev->nvqs, &st);
	if (ctl & 0x80) {
		/* a new map: every ring is latched again */
		for (unsigned int as = 0; as < vdev->nas; as++)
			vdev->config->set_map(vdev, as, &m->tlb);
	}
}

static void fuzz_sim(struct vdpa_device *vdev, struct mem *m,
		     const struct qcfg *q, uint64_t features, struct fz_in *in)
{
	int callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (callfd < 0)
		abort();
	vdpa_reset(vdev, VDPA_RESET_F_CLEAN_MAP);
	if (sim_start(vdev, m, q, features, callfd)) {
		fz_sim_barrier(&fz);
		for (int r = 0; r < ROUNDS && in->left; r++) {
			uint8_t ctl = fz_u8(in);

			mem_patch(m, in);
			sim_round(vdev, m, ctl);
		}
	}
	/* the worker lets go of the rings before the memory goes */
	vdpa_reset(vdev, VDPA_RESET_F_CLEAN_MAP);
	close(callfd);
}

/* The front end's inflight region for queue 0: its bytes from the input. */
static struct vq_inflight_split *inflight_new(const struct qcfg *q,
					      struct fz_in *in)
{
	size_t len = vq_inflight_size(qnum(q->num_sel));
	struct vq_inflight_split *r = calloc(1, len);
	const uint8_t *p;
	size_t n = fz_take(in, &p, fz_u16(in));

	if (!r)
		abort();
	memcpy(r, p, n < len ? n : len);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct vq_inflight_split *inflight = NULL;
	struct qcfg q[NQ];
	struct mem m = { 0 };
	uint8_t mode = fz_u8(&in) % 3;
	uint64_t features;

	if (mode && !fz.bus)
		fz_sim_setup(&fz, "fz-vring");
	if (mem_init(&m, &in))
		abort(); /* the harness's own map must be valid */
	features = fz_u64(&in);
	for (int i = 0; i < NQ; i++)
		qcfg_read(&q[i], &in);
	if (mode == 0 && (m.layout & L_INFLIGHT))
		inflight = inflight_new(&q[0], &in);
	mem_fill(&m, &in);
	if (mode == 0)
		fuzz_ring(&m, &q[0], features, inflight, &in);
	else
		fuzz_sim(mode == 1 ? fz.net : fz.blk, &m, q, features, &in);
	free(inflight);
	mem_done(&m);
	return 0;
}
