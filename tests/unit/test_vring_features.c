// SPDX-License-Identifier: MIT
/*
 * The split ring's negotiated features, both halves in one process
 * (vring_fx.h): indirect descriptors (also where the device must fall
 * back or bounce them) and notification suppression, by EVENT_IDX and by
 * flags, checked step by step and in random interleavings.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvdpa/compiler.h>

#include "vring_fx.h"

static void indirect(void **state)
{
	struct fx *f = fx_new(4, F_INDIRECT, 8, 0);
	struct vq_buf b[8];
	struct vq_elem *e = &f->elems[0], first;
	uint16_t head;

	assert_true(f->drv.indirect);
	b[0] = (struct vq_buf){ diova(f, 0), 16 };
	b[1] = (struct vq_buf){ diova(f, QUARTER - 4), 8 }; /* 4 + 4 */
	b[2] = (struct vq_buf){ diova(f, 100), 1 };
	b[3] = (struct vq_buf){ diova(f, 200), 64 };
	b[4] = (struct vq_buf){ diova(f, 3 * QUARTER - 32), 64 }; /* 32+32 */
	assert_int_equal(vq_drv_add(&f->drv, b, 3, 2, tok(0)), 0);
	/* five buffers, one ring descriptor */
	assert_int_equal(vq_drv_num_free(&f->drv), 3);
	head = le16toh(f->drv.avail->ring[0]);
	assert_int_equal(le16toh(f->drv.desc[head].flags),
			 VRING_DESC_F_INDIRECT);
	assert_int_equal(le32toh(f->drv.desc[head].len), 5 * 16);
	vq_drv_kick_prepare(&f->drv);

	assert_int_equal(pop(f, 4), 1);
	assert_int_equal(e->id, head);
	assert_int_equal(e->ndesc, 1);
	assert_int_equal(e->out_num, 4);
	assert_int_equal(e->in_num, 3);
	assert_int_equal(e->out_len, 25);
	assert_int_equal(e->in_len, 128);
	assert_iov(&e->iov[0], dhost(f, 0), 16);
	assert_iov(&e->iov[1], dhost(f, QUARTER - 4), 4);
	assert_iov(&e->iov[2], dhost(f, QUARTER), 4);
	assert_iov(&e->iov[3], dhost(f, 100), 1);
	assert_iov(&e->iov[4], dhost(f, 200), 64);
	assert_iov(&e->iov[5], dhost(f, 3 * QUARTER - 32), 32);
	assert_iov(&e->iov[6], dhost(f, 3 * QUARTER), 32);
	first = *e;

	/* three more full tables fill a ring of four */
	for (unsigned int i = 0; i < 8; i++)
		b[i] = (struct vq_buf){ diova(f, 1024 * i), 8 };
	for (unsigned long t = 1; t < 4; t++)
		assert_int_equal(vq_drv_add(&f->drv, b, 4, 4, tok(t)), 0);
	assert_int_equal(vq_drv_add(&f->drv, b, 1, 0, tok(9)), -ENOSPC);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 4), 3);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(f->elems[i].ndesc, 1);
		assert_int_equal(f->elems[i].out_num, 4);
		assert_int_equal(f->elems[i].in_num, 4);
		assert_iov(&f->elems[i].iov[7], dhost(f, 1024 * 7), 8);
	}
	vq_dev_push(&f->dev, &first, 0);
	for (unsigned int i = 0; i < 3; i++)
		vq_dev_push(&f->dev, &f->elems[i], i);
	vq_dev_flush(&f->dev);
	for (unsigned long t = 0; t < 4; t++)
		assert_ptr_equal(vq_drv_get_used(&f->drv, NULL), tok(t));
	assert_int_equal(vq_drv_num_free(&f->drv), 4);
	fx_free(f);
}

/* Chains longer than a table, and single buffers, stay direct. */
static void indirect_fallback(void **state)
{
	struct fx *f = fx_new(16, F_INDIRECT, 4, 0);
	struct vq_buf b[5];

	for (unsigned int i = 0; i < 5; i++)
		b[i] = (struct vq_buf){ diova(f, 64 * i), 8 };
	assert_int_equal(vq_drv_add(&f->drv, b, 5, 0, tok(0)), 0);
	assert_int_equal(vq_drv_add(&f->drv, b, 0, 1, tok(1)), 0);
	assert_int_equal(vq_drv_add(&f->drv, b, 2, 2, tok(2)), 0);
	assert_int_equal(vq_drv_num_free(&f->drv), 16 - 5 - 1 - 1);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 16), 3);
	assert_int_equal(f->elems[0].ndesc, 5);
	assert_int_equal(f->elems[0].out_num, 5);
	assert_int_equal(f->elems[1].ndesc, 1);
	assert_int_equal(f->elems[1].in_num, 1);
	assert_int_equal(f->elems[2].ndesc, 1);
	assert_int_equal(f->elems[2].out_num + f->elems[2].in_num, 4);
	fx_free(f);

	/* no feature, or tables of one entry: never indirect */
	f = fx_new(16, 0, 8, 0);
	assert_false(f->drv.indirect);
	fx_free(f);
	f = fx_new(16, F_INDIRECT, 1, 0);
	assert_false(f->drv.indirect);
	fx_free(f);
}

static void put_ind(struct fx *f, uint64_t off, unsigned int k, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	/* byte by byte: the entry may straddle a range boundary */
	for (unsigned int i = 0; i < sizeof(d); i++)
		*dhost(f, off + 16 * k + i) = ((uint8_t *)&d)[i];
}

/* Publish a hand-made indirect descriptor at ring slot 0. */
static void publish_ind(struct fx *f, uint64_t off, unsigned int n)
{
	f->drv.desc[0].addr = htole64(diova(f, off));
	f->drv.desc[0].len = htole32(16 * n);
	f->drv.desc[0].flags = htole16(VRING_DESC_F_INDIRECT);
	f->drv.avail->ring[f->drv.avail_idx & (f->drv.num - 1)] = 0;
	f->drv.avail_idx++;
	vq_drv_kick_prepare(&f->drv);
}

/*
 * Tables the map splits, or that sit at host addresses a struct
 * vring_desc may not be read from, are copied before the walk.
 */
static void indirect_bounced(void **state)
{
	static const uint64_t where[] = {
		QUARTER - 24, /* straddles quarters 0 and 1 */
		2 * QUARTER - 64, /* ends exactly on a boundary */
		0x1004, /* host pointer only 4-aligned */
	};
	struct fx *f = fx_new(4, F_INDIRECT, 0, 0);

	for (unsigned int w = 0; w < ARRAY_SIZE(where); w++) {
		struct vq_elem *e = &f->elems[0];

		/* two readable, two writable */
		for (unsigned int k = 0; k < 4; k++)
			put_ind(f, where[w], k, diova(f, 0x8000 + 0x100 * k),
				16 + k,
				(k >= 2 ? VRING_DESC_F_WRITE : 0) |
					(k < 3 ? VRING_DESC_F_NEXT : 0),
				(uint16_t)(k + 1));
		publish_ind(f, where[w], 4);
		assert_int_equal(pop(f, 4), 1);
		assert_false(f->dev.broken);
		assert_int_equal(e->id, 0);
		assert_int_equal(e->out_num, 2);
		assert_int_equal(e->in_num, 2);
		for (unsigned int k = 0; k < 4; k++)
			assert_iov(&e->iov[k], dhost(f, 0x8000 + 0x100 * k),
				   16 + k);
		vq_dev_push(&f->dev, e, 0);
		vq_dev_flush(&f->dev);
	}
	fx_free(f);
}

/* Device to driver: vq_dev_flush() against used_event. */
static void event_idx_notify(void **state)
{
	struct fx *f = fx_new(8, F_EVENT_IDX, 0, 0);
	struct vq_elem *e = f->elems;

	for (unsigned long t = 0; t < 4; t++)
		add1(f, 64 * t, 8, false, t);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 8), 4);

	/* the first decision always notifies */
	vq_dev_push(&f->dev, &e[0], 0);
	assert_true(vq_dev_flush(&f->dev));
	/* used_event is still 0: the driver was told about entry 0 */
	vq_dev_push(&f->dev, &e[1], 0);
	assert_false(vq_dev_flush(&f->dev));
	/* the driver drains: used_event follows it to 2 */
	assert_ptr_equal(vq_drv_get_used(&f->drv, NULL), tok(0));
	assert_ptr_equal(vq_drv_get_used(&f->drv, NULL), tok(1));
	assert_null(vq_drv_get_used(&f->drv, NULL));
	assert_int_equal(le16toh(f->drv.avail->ring[8]), 2);
	vq_dev_push(&f->dev, &e[2], 0);
	assert_true(vq_dev_flush(&f->dev));

	/* disabled while caught up: no notification, and flags stay 0 */
	assert_ptr_equal(vq_drv_get_used(&f->drv, NULL), tok(2));
	vq_drv_disable_cb(&f->drv);
	assert_int_equal(le16toh(f->drv.avail->flags), 0);
	vq_dev_push(&f->dev, &e[3], 0);
	assert_false(vq_dev_flush(&f->dev));
	/* enabling with an entry pending says so */
	assert_false(vq_drv_enable_cb(&f->drv));
	assert_ptr_equal(vq_drv_get_used(&f->drv, NULL), tok(3));
	assert_true(vq_drv_enable_cb(&f->drv));

	add1(f, 0, 8, false, 4);
	vq_drv_kick_prepare(&f->drv);
	assert_int_equal(pop(f, 8), 1);
	vq_dev_push(&f->dev, &e[0], 0);
	assert_true(vq_dev_flush(&f->dev));
	fx_free(f);
}

/* Driver to device: vq_drv_kick_prepare() against avail_event. */
static void event_idx_kick(void **state)
{
	struct fx *f = fx_new(8, F_EVENT_IDX, 0, 0);

	assert_false(vq_drv_kick_prepare(&f->drv)); /* nothing added */
	add1(f, 0, 8, false, 0);
	assert_true(vq_drv_kick_prepare(&f->drv));
	/* the device has not looked again: no second kick */
	add1(f, 64, 8, false, 1);
	assert_false(vq_drv_kick_prepare(&f->drv));
	assert_int_equal(pop(f, 8), 2);
	assert_false(vq_dev_enable_notify(&f->dev));
	assert_int_equal(avail_event(f), 2);
	add1(f, 128, 8, false, 2);
	assert_true(vq_drv_kick_prepare(&f->drv));

	/* polling: kicks suppressed; avail_event stays behind */
	vq_dev_disable_notify(&f->dev);
	assert_int_equal(pop(f, 8), 1);
	add1(f, 192, 8, false, 3);
	assert_false(vq_drv_kick_prepare(&f->drv));
	/* re-enabling finds what came meanwhile: serve, do not sleep */
	assert_true(vq_dev_enable_notify(&f->dev));
	assert_int_equal(pop(f, 8), 1);
	assert_false(vq_dev_enable_notify(&f->dev));
	assert_int_equal(avail_event(f), 4);
	add1(f, 256, 8, false, 4);
	assert_true(vq_drv_kick_prepare(&f->drv));
	fx_free(f);
}

/* Without EVENT_IDX the two flags do the suppressing. */
static void flags_no_event_idx(void **state)
{
	struct fx *f = fx_new(8, 0, 0, 0);
	struct vq_elem *e = f->elems;

	add1(f, 0, 8, false, 0);
	assert_true(vq_drv_kick_prepare(&f->drv));
	vq_dev_disable_notify(&f->dev);
	assert_int_equal(le16toh(f->drv.used->flags), VRING_USED_F_NO_NOTIFY);
	add1(f, 64, 8, false, 1);
	assert_false(vq_drv_kick_prepare(&f->drv));
	assert_true(vq_dev_enable_notify(&f->dev));
	assert_int_equal(le16toh(f->drv.used->flags), 0);
	add1(f, 128, 8, false, 2);
	assert_true(vq_drv_kick_prepare(&f->drv));
	assert_int_equal(pop(f, 8), 3);
	assert_false(vq_dev_enable_notify(&f->dev));

	vq_drv_disable_cb(&f->drv);
	assert_int_equal(le16toh(f->drv.avail->flags),
			 VRING_AVAIL_F_NO_INTERRUPT);
	vq_dev_push(&f->dev, &e[0], 0);
	assert_false(vq_dev_flush(&f->dev));
	assert_false(vq_drv_enable_cb(&f->drv));
	assert_int_equal(le16toh(f->drv.avail->flags), 0);
	assert_ptr_equal(vq_drv_get_used(&f->drv, NULL), tok(0));
	assert_true(vq_drv_enable_cb(&f->drv));
	vq_dev_push(&f->dev, &e[1], 0);
	assert_true(vq_dev_flush(&f->dev));
	/* without EVENT_IDX every flush with the flag clear notifies */
	vq_dev_push(&f->dev, &e[2], 0);
	assert_true(vq_dev_flush(&f->dev));
	fx_free(f);
}

/*
 * Random interleavings of both sides, checking the one promise the
 * suppression schemes make: a side that armed its notification and was
 * found idle is always woken by the next publication.
 */
struct sim_state {
	struct fx *f;
	uint32_t seed;
	unsigned long added, got;
	bool dev_armed; /* found idle with kicks enabled, not woken yet */
	bool drv_armed; /* same for the driver and notifications */
};

static unsigned int rnd(struct sim_state *s, unsigned int n)
{
	s->seed = s->seed * 1103515245 + 12345;
	return (s->seed >> 8) % n;
}

static void sim_driver_add(struct sim_state *s)
{
	unsigned int n = 1 + rnd(s, 3), i;
	bool kick;

	for (i = 0; i < n && vq_drv_num_free(&s->f->drv); i++) {
		add1(s->f, 8 * (s->added % 256), 8, false, s->added);
		s->added++;
	}
	kick = vq_drv_kick_prepare(&s->f->drv);
	if (s->dev_armed && i > 0)
		assert_true(kick);
	if (kick)
		s->dev_armed = false;
}

static void sim_device(struct sim_state *s)
{
	struct fx *f = s->f;
	int n = pop(f, 1 + rnd(s, 8));

	assert_true(n >= 0);
	if (n == 0) {
		if (!vq_dev_enable_notify(&f->dev))
			s->dev_armed = true;
		return;
	}
	s->dev_armed = false;
	if (rnd(s, 2))
		vq_dev_disable_notify(&f->dev);
	for (int i = 0; i < n; i++)
		vq_dev_push(&f->dev, &f->elems[i], 8);
	if (vq_dev_flush(&f->dev))
		s->drv_armed = false;
	else
		assert_false(s->drv_armed);
}

static void sim_driver_get(struct sim_state *s)
{
	void *t;

	while ((t = vq_drv_get_used(&s->f->drv, NULL))) {
		assert_ptr_equal(t, tok(s->got));
		s->got++;
	}
	if (rnd(s, 4) == 0) {
		vq_drv_disable_cb(&s->f->drv);
		s->drv_armed = false;
	} else {
		s->drv_armed = vq_drv_enable_cb(&s->f->drv);
	}
}

static void suppression_random(uint64_t features)
{
	struct sim_state s = { .seed = 42 };

	s.f = fx_new(16, features, 0, 0);
	for (unsigned int step = 0; step < 20000; step++) {
		switch (rnd(&s, 3)) {
		case 0:
			sim_driver_add(&s);
			break;
		case 1:
			sim_device(&s);
			break;
		default:
			sim_driver_get(&s);
			break;
		}
	}
	assert_true(s.got > 1000);
	fx_free(s.f);
}

static void suppression_random_event_idx(void **state)
{
	suppression_random(F_EVENT_IDX);
}

static void suppression_random_flags(void **state)
{
	suppression_random(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(indirect),
		cmocka_unit_test(indirect_fallback),
		cmocka_unit_test(indirect_bounced),
		cmocka_unit_test(event_idx_notify),
		cmocka_unit_test(event_idx_kick),
		cmocka_unit_test(flags_no_event_idx),
		cmocka_unit_test(suppression_random_event_idx),
		cmocka_unit_test(suppression_random_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
