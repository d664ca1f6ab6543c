// SPDX-License-Identifier: MIT
/*
 * The split ring's core paths, both halves in one process (vring_fx.h):
 * scatter-gather across shuffled map ranges, chain limits, index wrap,
 * every ring size, batches, unpop, out-of-order completion and resume.
 * test_vring_features.c covers indirect descriptors and notification
 * suppression.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>

#include "vring_fx.h"

static void roundtrip(void **state)
{
	struct fx *f = fx_new(8, 0, 0, 0);
	struct vq_buf b[2];
	struct vq_elem *e = &f->elems[0];
	uint32_t len = 0;
	char buf[8];

	memcpy(dhost(f, 0x100), "hello", 5);
	b[0] = (struct vq_buf){ diova(f, 0x100), 5 };
	b[1] = (struct vq_buf){ diova(f, 0x200), 64 };
	assert_int_equal(vq_drv_add(&f->drv, b, 1, 1, tok(7)), 0);
	assert_int_equal(vq_drv_num_free(&f->drv), 6);
	/* added is not published: the device sees nothing before the kick */
	assert_false(vq_dev_has_avail(&f->dev));
	assert_int_equal(pop(f, 8), 0);
	assert_true(vq_drv_kick_prepare(&f->drv));
	assert_true(vq_dev_has_avail(&f->dev));

	assert_int_equal(pop(f, 8), 1);
	assert_int_equal(e->ndesc, 2);
	assert_int_equal(e->out_num, 1);
	assert_int_equal(e->in_num, 1);
	assert_int_equal(e->out_len, 5);
	assert_int_equal(e->in_len, 64);
	assert_iov(&e->iov[0], dhost(f, 0x100), 5);
	assert_iov(&e->iov[1], dhost(f, 0x200), 64);
	assert_false(vq_dev_has_avail(&f->dev));
	assert_int_equal(vq_dev_avail_index(&f->dev), 1);

	assert_int_equal(vq_iov_to_buf(e->iov, e->out_num, 0, buf, 8), 5);
	for (int i = 0; i < 5; i++)
		buf[i] = (char)(buf[i] - 'a' + 'A');
	assert_int_equal(
		vq_buf_to_iov(e->iov + e->out_num, e->in_num, 0, buf, 5), 5);
	vq_dev_push(&f->dev, e, 5);
	assert_int_equal(used_idx(f), 0);
	assert_true(vq_dev_flush(&f->dev));
	assert_int_equal(used_idx(f), 1);
	assert_false(vq_dev_flush(&f->dev)); /* nothing new: no notify */

	assert_ptr_equal(vq_drv_get_used(&f->drv, &len), tok(7));
	assert_int_equal(len, 5);
	assert_memory_equal(dhost(f, 0x200), "HELLO", 5);
	assert_null(vq_drv_get_used(&f->drv, &len));
	assert_int_equal(vq_drv_num_free(&f->drv), 8);
	fx_free(f);
}

/* A chain of four buffers, three of them crossing range boundaries. */
static void sg_splits(void **state)
{
	struct fx *f = fx_new(16, 0, 0, 0);
	const struct vq_buf b[] = {
		{ diova(f, 0x10), 32 }, /* inside quarter 0 */
		{ diova(f, QUARTER - 8), 24 }, /* 8 + 16 */
		{ diova(f, 2 * QUARTER - 100), 300 }, /* 100 + 200 */
		{ diova(f, 3 * QUARTER - 1), 2 }, /* 1 + 1 */
	};
	struct vq_elem *e = &f->elems[0];
	uint8_t out[56], in[302];

	for (unsigned int i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 3 + 1);
	/* the driver's view: write through its own (host) addresses */
	for (unsigned int i = 0; i < 32; i++)
		*dhost(f, 0x10 + i) = out[i];
	for (unsigned int i = 0; i < 24; i++)
		*dhost(f, QUARTER - 8 + i) = out[32 + i];

	assert_int_equal(vq_drv_add(&f->drv, b, 2, 2, tok(1)), 0);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 4), 1);
	assert_int_equal(e->ndesc, 4);
	assert_int_equal(e->out_num, 3);
	assert_int_equal(e->in_num, 4);
	assert_int_equal(e->out_len, 56);
	assert_int_equal(e->in_len, 302);
	assert_iov(&e->iov[0], dhost(f, 0x10), 32);
	assert_iov(&e->iov[1], dhost(f, QUARTER - 8), 8);
	assert_iov(&e->iov[2], dhost(f, QUARTER), 16);
	assert_iov(&e->iov[3], dhost(f, 2 * QUARTER - 100), 100);
	assert_iov(&e->iov[4], dhost(f, 2 * QUARTER), 200);
	assert_iov(&e->iov[5], dhost(f, 3 * QUARTER - 1), 1);
	assert_iov(&e->iov[6], dhost(f, 3 * QUARTER), 1);
	/* the host pieces really are apart */
	assert_ptr_not_equal((uint8_t *)e->iov[1].iov_base + 8,
			     e->iov[2].iov_base);

	/* the device reads the bytes the driver wrote, in order */
	memset(in, 0, sizeof(in));
	assert_int_equal(vq_iov_to_buf(e->iov, e->out_num, 0, in, 56), 56);
	assert_memory_equal(in, out, 56);
	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(
		vq_buf_to_iov(e->iov + 3, e->in_num, 0, in, sizeof(in)),
		sizeof(in));
	for (unsigned int i = 0; i < 300; i++)
		assert_int_equal(*dhost(f, 2 * QUARTER - 100 + i), in[i]);
	assert_int_equal(*dhost(f, 3 * QUARTER - 1), in[300]);
	assert_int_equal(*dhost(f, 3 * QUARTER), in[301]);
	fx_free(f);
}

/* Zero-length buffers take a descriptor but no iovec. */
static void zero_length(void **state)
{
	struct fx *f = fx_new(4, 0, 0, 0);
	const struct vq_buf b[] = { { diova(f, 0), 0 }, { diova(f, 64), 4 } };
	struct vq_elem *e = &f->elems[0];

	assert_int_equal(vq_drv_add(&f->drv, b, 1, 1, tok(0)), 0);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 4), 1);
	assert_int_equal(e->ndesc, 2);
	assert_int_equal(e->out_num, 0);
	assert_int_equal(e->out_len, 0);
	assert_int_equal(e->in_num, 1);
	assert_iov(&e->iov[0], dhost(f, 64), 4);
	fx_free(f);
}

/* Exactly VQ_MAX_CHAIN_IOV iovecs is still a valid chain. */
static void longest_chain(void **state)
{
	struct fx *f = fx_new(VQ_MAX_CHAIN_IOV, 0, 0, 0);
	struct vq_buf *b = calloc(VQ_MAX_CHAIN_IOV, sizeof(*b));
	struct vq_elem *e = &f->elems[0];

	assert_non_null(b);
	for (unsigned int i = 0; i < VQ_MAX_CHAIN_IOV; i++)
		b[i] = (struct vq_buf){ diova(f, 2 * i), 1 };
	assert_int_equal(vq_drv_add(&f->drv, b, VQ_MAX_CHAIN_IOV, 0, tok(0)),
			 0);
	assert_int_equal(vq_drv_num_free(&f->drv), 0);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 1), 1);
	assert_int_equal(e->ndesc, VQ_MAX_CHAIN_IOV);
	assert_int_equal(e->out_num, VQ_MAX_CHAIN_IOV);
	assert_iov(&e->iov[VQ_MAX_CHAIN_IOV - 1],
		   dhost(f, 2 * (VQ_MAX_CHAIN_IOV - 1)), 1);
	free(b);
	fx_free(f);
}

/* Indices start 6 short of 2^16: every counter wraps within the test. */
static void wrap_one(uint32_t num, uint64_t features)
{
	struct fx *f = fx_new(num, features, 0, 65530);
	uint16_t expect = 65530;
	unsigned long t = 0;

	for (unsigned int round = 0; round < 24; round++) {
		unsigned int k = 1 + round % 3;
		uint32_t lens[3] = { 1, 2, 3 };

		if (k > num)
			k = num;
		for (unsigned int i = 0; i < k; i++)
			add1(f, 16 * i, 8, false, t + i);
		assert_true(vq_drv_kick_prepare(&f->drv));
		assert_int_equal(pop(f, k), k);
		assert_true(vq_dev_complete_batch(&f->dev, f->elems, lens, k));
		expect += k;
		assert_int_equal(used_idx(f), expect);
		assert_int_equal(vq_dev_avail_index(&f->dev), expect);
		for (unsigned int i = 0; i < k; i++) {
			uint32_t len;

			assert_ptr_equal(vq_drv_get_used(&f->drv, &len),
					 tok(t++));
			assert_int_equal(len, i + 1);
		}
		assert_true(vq_drv_enable_cb(&f->drv));
		assert_int_equal(pop(f, 1), 0);
		assert_false(vq_dev_enable_notify(&f->dev));
	}
	assert_true(expect < 65530); /* it did wrap */
	fx_free(f);
}

static void wrap_at_65535(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 4, 256, 32768 };

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		wrap_one(sizes[i], 0);
		wrap_one(sizes[i], F_EVENT_IDX);
	}
}

/* Per slot: 8-byte header, 8-byte payload, 8-byte reply. */
#define SLOT 24

static void long_run_check(struct fx *f, struct vq_elem *e)
{
	uint64_t seq, buf[2], reply;
	size_t n = vq_iov_to_buf(e->iov, e->out_num, 0, buf, sizeof(buf));

	assert_int_equal(n, e->out_len);
	seq = buf[0];
	if (n == 16)
		assert_true(buf[1] == ~seq);
	reply = seq * 3;
	if (e->in_num)
		assert_int_equal(vq_buf_to_iov(e->iov + e->out_num, e->in_num,
					       0, &reply, 8),
				 8);
}

/* More than 2^16 chains of 1 to 3 buffers, direct and indirect. */
static void long_run(void **state)
{
	const unsigned long total = 70000;
	struct fx *f = fx_new(256, F_EVENT_IDX | F_INDIRECT, 4, 0);
	unsigned long added = 0, got = 0;
	/* slots straddle the first quarter boundary at odd offsets */
	const uint64_t base = QUARTER - 128 * SLOT + 5;
	uint32_t lens[64];

	while (got < total) {
		while (added < total && vq_drv_num_free(&f->drv) >= 3) {
			uint64_t off = base + SLOT * (added % 256);
			uint64_t v[2] = { added, ~added };
			unsigned int n = 1 + added % 3;
			struct vq_buf b[3] = {
				{ diova(f, off), 8 },
				{ diova(f, off + 8), 8 },
				{ diova(f, off + 16), 8 },
			};

			for (unsigned int i = 0; i < 16; i++)
				*dhost(f, off + i) = ((uint8_t *)v)[i];
			assert_int_equal(vq_drv_add(&f->drv, b, n < 3 ? n : 2,
						    n == 3, tok(added)),
					 0);
			added++;
		}
		vq_drv_kick_prepare(&f->drv);
		for (int n; (n = pop(f, 64)) > 0;) {
			for (int i = 0; i < n; i++) {
				long_run_check(f, &f->elems[i]);
				lens[i] = f->elems[i].in_num ? 8 : 0;
			}
			vq_dev_complete_batch(&f->dev, f->elems, lens,
					      (unsigned int)n);
		}
		assert_false(f->dev.broken);
		for (uint32_t len; got < added; got++) {
			uint64_t off = base + SLOT * (got % 256), reply = 0;

			assert_ptr_equal(vq_drv_get_used(&f->drv, &len),
					 tok(got));
			assert_int_equal(len, got % 3 == 2 ? 8 : 0);
			for (unsigned int i = 0; len && i < 8; i++)
				((uint8_t *)&reply)[i] =
					*dhost(f, off + 16 + i);
			assert_true(len == 0 || reply == got * 3);
		}
	}
	assert_int_equal(used_idx(f), total & 0xffff);
	fx_free(f);
}

/* Fill the whole ring, empty it, and again: free list reuse. */
static void one_size(uint32_t num)
{
	struct fx *f = fx_new(num, 0, 0, 0);
	uint32_t *lens = calloc(num, sizeof(*lens));
	uint8_t *seen = calloc(num, 1);

	assert_true(lens && seen);
	for (unsigned int round = 0; round < 2; round++) {
		for (uint32_t k = 0; k < num; k++) {
			memcpy(dhost(f, 8 * k), &k, sizeof(k));
			add1(f, 8 * k, 4, false, k);
		}
		assert_int_equal(vq_drv_num_free(&f->drv), 0);
		assert_int_equal(vq_drv_add(&f->drv,
					    &(struct vq_buf){ diova(f, 0), 1 },
					    1, 0, tok(0)),
				 -ENOSPC);
		assert_true(vq_drv_kick_prepare(&f->drv));
		assert_int_equal(pop(f, num), (int)num);
		memset(seen, 0, num);
		for (uint32_t k = 0; k < num; k++) {
			struct vq_elem *e = &f->elems[k];
			uint32_t v = 0;

			assert_true(e->id < num && !seen[e->id]);
			seen[e->id] = 1;
			assert_int_equal(
				vq_iov_to_buf(e->iov, e->out_num, 0, &v, 4), 4);
			assert_int_equal(v, k);
			lens[k] = k ^ round;
		}
		assert_int_equal(pop(f, num), 0);
		vq_dev_complete_batch(&f->dev, f->elems, lens, num);
		for (uint32_t k = 0; k < num; k++) {
			uint32_t len;

			assert_ptr_equal(vq_drv_get_used(&f->drv, &len),
					 tok(k));
			assert_int_equal(len, k ^ round);
		}
		assert_null(vq_drv_get_used(&f->drv, NULL));
	}
	free(lens);
	free(seen);
	fx_free(f);
}

static void every_size(void **state)
{
	for (uint32_t num = 1; num <= VQ_MAX_SIZE; num *= 2)
		one_size(num);
}

/* One batch, one used->idx store, at most one notification. */
static void batch(void **state)
{
	struct fx *f = fx_new(64, F_EVENT_IDX, 0, 0);
	uint32_t lens[64];

	for (unsigned long t = 0; t < 40; t++)
		add1(f, 16 * t, 16, true, t);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 16), 16);
	for (unsigned int i = 0; i < 16; i++) {
		assert_int_equal(f->elems[i].id,
				 le16toh(f->drv.avail->ring[i]));
		vq_dev_push(&f->dev, &f->elems[i], i);
		/* staged in the ring, not published */
		assert_int_equal(le32toh(f->drv.used->ring[i].id),
				 f->elems[i].id);
		assert_int_equal(used_idx(f), 0);
	}
	assert_true(vq_dev_flush(&f->dev));
	assert_int_equal(used_idx(f), 16);
	assert_false(vq_dev_flush(&f->dev));

	/* more than there is: what there is */
	assert_int_equal(pop(f, 64), 24);
	for (unsigned int i = 0; i < 24; i++)
		lens[i] = 100 + i;
	/* the driver has not looked at the first 16: no notification */
	assert_false(vq_dev_complete_batch(&f->dev, f->elems, lens, 24));
	assert_int_equal(used_idx(f), 40);
	for (unsigned long t = 0; t < 40; t++) {
		uint32_t len;

		assert_ptr_equal(vq_drv_get_used(&f->drv, &len), tok(t));
		assert_int_equal(len, t < 16 ? t : 100 + t - 16);
	}
	assert_int_equal(pop(f, 64), 0);
	/* the driver is idle now: a batch of 8 notifies exactly once */
	for (unsigned long t = 0; t < 8; t++)
		add1(f, 16 * t, 16, true, t);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 64), 8);
	assert_true(vq_dev_complete_batch(&f->dev, f->elems, lens, 8));
	assert_int_equal(used_idx(f), 48);
	assert_false(vq_dev_complete_batch(&f->dev, f->elems, lens, 0));
	fx_free(f);
}

/* A small iovec arena ends a batch early without breaking anything. */
static void batch_small_arena(void **state)
{
	struct fx *f = fx_new(16, 0, 0, 0);
	struct vq_buf b[2];
	struct iovec iov[5];
	int n;

	for (unsigned long t = 0; t < 6; t++) {
		b[0] = (struct vq_buf){ diova(f, 64 * t), 8 };
		b[1] = (struct vq_buf){ diova(f, 64 * t + 32), 8 };
		assert_int_equal(vq_drv_add(&f->drv, b, 1, 1, tok(t)), 0);
	}
	vq_drv_kick_prepare(&f->drv);
	n = vq_dev_pop_batch(&f->dev, f->elems, 16, iov, 5);
	assert_int_equal(n, 2);
	assert_false(f->dev.broken);
	assert_ptr_equal(f->elems[1].iov, iov + 2);
	assert_iov(&f->elems[1].iov[1], dhost(f, 64 + 32), 8);
	assert_int_equal(vq_dev_avail_index(&f->dev), 2);
	n = vq_dev_pop_batch(&f->dev, f->elems, 16, iov, 5);
	assert_int_equal(n, 2);
	assert_iov(&f->elems[0].iov[0], dhost(f, 128), 8);
	fx_free(f);
}

/* Elements of two pops go back together, as they did before inflight. */
static void unpop_across_pops(void **state)
{
	struct fx *f = fx_new(8, 0, 0, 0);

	for (unsigned long t = 0; t < 4; t++)
		add1(f, 64 * t, 8, false, t);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 2), 2);
	assert_int_equal(pop(f, 2), 2);
	vq_dev_unpop(&f->dev, 3);
	assert_int_equal(vq_dev_avail_index(&f->dev), 1);
	assert_int_equal(pop(f, 8), 3);
	fx_free(f);
}

static void unpop(void **state)
{
	struct fx *f = fx_new(8, 0, 0, 0);
	struct vq_elem first[5];
	uint32_t lens[5] = { 0 };

	for (unsigned long t = 0; t < 5; t++)
		add1(f, 64 * t, (uint32_t)(8 + t), false, t);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 8), 5);
	memcpy(first, f->elems, sizeof(first));
	vq_dev_unpop(&f->dev, 3);
	assert_int_equal(vq_dev_avail_index(&f->dev), 2);
	assert_true(vq_dev_has_avail(&f->dev));
	vq_dev_unpop(&f->dev, 0);
	assert_int_equal(vq_dev_avail_index(&f->dev), 2);

	/* the same three come back, with a sixth added meanwhile */
	add1(f, 64 * 5, 13, false, 5);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(vq_dev_pop_batch(&f->dev, f->elems + 2, 3, f->iov + 2,
					  f->iov_cap - 2),
			 3);
	for (unsigned int i = 2; i < 5; i++) {
		assert_int_equal(f->elems[i].id, first[i].id);
		assert_int_equal(f->elems[i].out_len, 8 + i);
		assert_iov(&f->elems[i].iov[0], dhost(f, 64 * i), 8 + i);
	}
	assert_int_equal(pop(f, 8), 1);
	assert_int_equal(f->elems[0].out_len, 13);
	memcpy(&f->elems[5], &f->elems[0], sizeof(f->elems[0]));
	memcpy(f->elems, first, 2 * sizeof(first[0]));
	vq_dev_complete_batch(&f->dev, f->elems, lens, 5);
	vq_dev_push(&f->dev, &f->elems[5], 0);
	vq_dev_flush(&f->dev);
	for (unsigned long t = 0; t < 6; t++)
		assert_ptr_equal(vq_drv_get_used(&f->drv, NULL), tok(t));
	fx_free(f);
}

/* In-flight chains of the out-of-order test: token, slot, device id. */
struct ooo {
	struct fx *f;
	uint32_t seed;
	unsigned long next; /* next token */
	uint8_t slot_busy[8];
	unsigned long tok_slot[8]; /* per slot: its token */
	struct {
		uint16_t id;
		unsigned long t;
	} held[8];
	unsigned int nheld;
};

static unsigned int ooo_rnd(struct ooo *o, unsigned int n)
{
	o->seed = o->seed * 1103515245 + 12345;
	return (o->seed >> 8) % n;
}

/* Chain t: 1 + t % 4 buffers, each holding (t, k), in a slot of its own. */
static void ooo_add(struct ooo *o)
{
	unsigned int n = 1 + o->next % 4, s = 0;
	struct vq_buf b[4];

	while (vq_drv_num_free(&o->f->drv) >= n) {
		while (o->slot_busy[s])
			s++;
		for (unsigned int k = 0; k < n; k++) {
			uint32_t v[2] = { (uint32_t)o->next, k };
			uint64_t off = 256 * s + 32 * k;

			memcpy(dhost(o->f, off), v, sizeof(v));
			b[k] = (struct vq_buf){ diova(o->f, off), 8 };
		}
		assert_int_equal(
			vq_drv_add(&o->f->drv, b, n, 0, tok(256 * o->next + s)),
			0);
		o->slot_busy[s] = 1;
		o->tok_slot[s] = o->next++;
		n = 1 + o->next % 4;
	}
	vq_drv_kick_prepare(&o->f->drv);
}

static void ooo_pop(struct ooo *o)
{
	int n = pop(o->f, 8);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		struct vq_elem *e = &o->f->elems[i];
		uint32_t v[2], t = 0;

		for (unsigned int k = 0; k < e->out_num; k++) {
			assert_int_equal(e->iov[k].iov_len, 8);
			memcpy(v, e->iov[k].iov_base, sizeof(v));
			if (k == 0)
				t = v[0];
			assert_int_equal(v[0], t);
			assert_int_equal(v[1], k);
		}
		assert_int_equal(e->out_num, 1 + t % 4);
		o->held[o->nheld].id = e->id;
		o->held[o->nheld].t = t;
		o->nheld++;
	}
}

/* Complete a random few of the held chains, in random order. */
static void ooo_complete(struct ooo *o)
{
	unsigned int k = ooo_rnd(o, o->nheld + 1);
	void *t;
	uint32_t len;

	while (k--) {
		unsigned int i = ooo_rnd(o, o->nheld);
		struct vq_elem e = { .id = o->held[i].id };

		vq_dev_push(&o->f->dev, &e, (uint32_t)o->held[i].t);
		o->held[i] = o->held[--o->nheld];
	}
	vq_dev_flush(&o->f->dev);
	while ((t = vq_drv_get_used(&o->f->drv, &len))) {
		unsigned long v = (unsigned long)t - 1, s = v % 256;

		assert_true(o->slot_busy[s]);
		assert_int_equal(v / 256, o->tok_slot[s]);
		assert_int_equal(len, (uint32_t)o->tok_slot[s]);
		o->slot_busy[s] = 0;
	}
}

/*
 * The device may complete chains in any order: the driver must give each
 * chain back to its free list whole, or later chains would share
 * descriptors with ones still in flight.
 */
static void out_of_order(void **state)
{
	struct ooo o = { .seed = 99 };
	uint8_t seen[8] = { 0 };
	uint16_t i;

	o.f = fx_new(8, 0, 0, 0);
	for (unsigned int step = 0; step < 3000; step++) {
		ooo_add(&o);
		ooo_pop(&o);
		ooo_complete(&o);
		assert_false(o.f->dev.broken);
	}
	while (o.nheld)
		ooo_complete(&o);
	assert_true(o.next > 3000);
	/* all eight descriptors are free, each once */
	assert_int_equal(vq_drv_num_free(&o.f->drv), 8);
	i = o.f->drv.free_head;
	for (unsigned int k = 0; k < 8; k++) {
		assert_true(i < 8 && !seen[i]);
		seen[i] = 1;
		i = le16toh(o.f->drv.desc[i].next);
	}
	fx_free(o.f);
}

/* Re-initialising from the saved index resumes (suspend/resume). */
static void resume(void **state)
{
	struct fx *f = fx_new(8, F_EVENT_IDX | F_INDIRECT, 4, 0);
	struct vq_buf b[2];
	uint16_t idx;

	b[0] = (struct vq_buf){ diova(f, QUARTER - 8), 16 };
	b[1] = (struct vq_buf){ diova(f, 64), 8 };
	for (unsigned long t = 0; t < 3; t++)
		assert_int_equal(vq_drv_add(&f->drv, b, 1, 1, tok(t)), 0);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 2), 2);
	vq_dev_complete_batch(&f->dev, f->elems, (uint32_t[]){ 1, 2 }, 2);
	idx = vq_dev_avail_index(&f->dev);
	assert_int_equal(idx, 2);
	assert_int_equal(fx_dev_init(f, 8, F_EVENT_IDX | F_INDIRECT, idx), 0);
	assert_int_equal(pop(f, 8), 1);
	assert_int_equal(f->elems[0].out_num, 2);
	vq_dev_push(&f->dev, &f->elems[0], 3);
	vq_dev_flush(&f->dev);
	assert_int_equal(used_idx(f), 3);
	for (unsigned long t = 0; t < 3; t++)
		assert_ptr_equal(vq_drv_get_used(&f->drv, NULL), tok(t));
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(sg_splits),
		cmocka_unit_test(zero_length),
		cmocka_unit_test(longest_chain),
		cmocka_unit_test(wrap_at_65535),
		cmocka_unit_test(long_run),
		cmocka_unit_test(every_size),
		cmocka_unit_test(batch),
		cmocka_unit_test(batch_small_arena),
		cmocka_unit_test(unpop),
		cmocka_unit_test(unpop_across_pops),
		cmocka_unit_test(out_of_order),
		cmocka_unit_test(resume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
