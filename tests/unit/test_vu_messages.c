// SPDX-License-Identifier: MIT
/*
 * The vhost-user back end's message table through uvdpa's front end, in
 * one process (vu_env.h): every message it handles, those it does not,
 * and malformed ones (wrong fd counts, short payloads, bad headers, vring
 * indices, addresses, memory regions and values), each refused with an
 * error ack or a disconnect while the back end serves on.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_env.h"

/* ---- tests: every message of the table ---- */

static int ack(struct vu_fe *fe, uint32_t req, const void *p, uint32_t size,
	       const int *fds, unsigned int nfds)
{
	return vu_fe_request(fe, req, p, size, fds, nfds);
}

static int ack_u64(struct vu_fe *fe, uint32_t req, uint64_t v)
{
	return vu_fe_set_u64(fe, req, v, NULL, 0);
}

static void test_message_table_gets(void **state)
{
	struct env *e = *state;
	struct vu_fe fe;
	uint64_t v;

	fe_open(&fe, e, BLK);
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_FEATURES, &v), 0);
	assert_int_equal(v, fe.dev_features);
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_PROTOCOL_FEATURES, &v), 0);
	assert_int_equal(v, fe.protocol_offered);
	assert_true(v & BIT_ULL(VU_PROTOCOL_F_BACKEND_REQ));
	assert_false(v & BIT_ULL(VU_PROTOCOL_F_NET_MTU)); /* blk */
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_QUEUE_NUM, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_MAX_MEM_SLOTS, &v), 0);
	assert_int_equal(v, VU_MAX_MEM_SLOTS);
	assert_int_equal(vu_fe_get_u64(&fe, VU_GET_STATUS, &v), 0);
	assert_int_equal(v, 0);
	vu_fe_close(&fe);
}

static uint32_t get_base(struct vu_fe *fe, uint32_t idx)
{
	struct vu_msg m = { .hdr = { VU_GET_VRING_BASE, VU_VERSION, 8 } };

	m.payload.state.index = idx;
	assert_int_equal(vu_fe_xfer(fe, &m, NULL, 0, &m), 0);
	assert_int_equal(m.hdr.request, VU_GET_VRING_BASE);
	assert_int_equal(m.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(m.hdr.size, 8);
	assert_int_equal(m.payload.state.index, idx);
	return m.payload.state.num;
}

static void vring_msgs(struct vu_fe *fe)
{
	struct vu_vring_state st = { 0, 64 };
	int efd = eventfd(0, EFD_CLOEXEC);

	assert_int_equal(ack(fe, VU_SET_VRING_NUM, &st, 8, NULL, 0), 0);
	st.num = 5;
	assert_int_equal(ack(fe, VU_SET_VRING_BASE, &st, 8, NULL, 0), 0);
	assert_int_equal(vu_fe_set_u64(fe, VU_SET_VRING_CALL, 0, &efd, 1), 0);
	assert_int_equal(
		vu_fe_set_u64(fe, VU_SET_VRING_CALL, VU_VRING_NOFD, NULL, 0),
		0);
	assert_int_equal(vu_fe_set_u64(fe, VU_SET_VRING_ERR, 0, &efd, 1), 0);
	assert_int_equal(
		vu_fe_set_u64(fe, VU_SET_VRING_ERR, VU_VRING_NOFD, NULL, 0), 0);
	st.num = 0;
	assert_int_equal(ack(fe, VU_SET_VRING_ENABLE, &st, 8, NULL, 0), 0);
	/* a ring never started reports the base it was given */
	assert_int_equal(get_base(fe, 0), 5);
	close(efd);
}

/* Every SET message the back end implements, acked with REPLY_ACK. */
static void test_message_table_sets(void **state)
{
	struct env *e = *state;
	struct vu_mem_single reg = { 0 };
	uint8_t rarp[8] = { 0 }, mac[6];
	struct vu_fe fe;
	int sp[2];

	memcpy(rarp, MYMAC, 6);
	fe_open(&fe, e, NET);
	assert_int_equal(ack(&fe, VU_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(ack(&fe, VU_RESET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(vu_fe_negotiate(&fe, ~0ull), 0);
	assert_int_equal(vu_fe_set_mem(&fe), 0);
	/* a second region by ADD_MEM_REG, then removed */
	reg.region = (struct vu_mem_region){ GPA + ARENA, 4096,
					     (uintptr_t)fe.mem + ARENA, 0 };
	assert_int_equal(
		ack(&fe, VU_ADD_MEM_REG, &reg, sizeof(reg), &fe.memfd, 1), 0);
	assert_int_equal(ack(&fe, VU_REM_MEM_REG, &reg, sizeof(reg), NULL, 0),
			 0);
	assert_int_equal(ack_u64(&fe, VU_NET_SET_MTU, 9000), 0);
	assert_int_equal(ack(&fe, VU_SEND_RARP, rarp, 8, NULL, 0), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	assert_int_equal(ack(&fe, VU_SET_BACKEND_REQ_FD, NULL, 0, &sp[1], 1),
			 0);
	close(sp[0]);
	close(sp[1]);
	vring_msgs(&fe);
	assert_int_equal(vu_fe_setup_vqs(&fe, 2, 64, 0), 0);
	assert_int_equal(vu_fe_driver_ok(&fe), 0);
	net_loop_one(&fe, 1);
	assert_int_equal(vu_fe_set_config(&fe, 0, OTHER, 6, 0), 0);
	assert_int_equal(vu_fe_get_config(&fe, 0, mac, 6), 0);
	assert_memory_equal(mac, OTHER, 6);
	assert_int_equal(vu_fe_stop(&fe), 0);
	assert_int_equal(fe.vqs[0].base, 1);
	assert_int_equal(fe.vqs[1].base, 1);
	assert_int_equal(ack(&fe, VU_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_int_equal(ack_u64(&fe, VU_SET_STATUS, 0), 0);
	vu_fe_close(&fe);
}

/* Ids the back end has no row for: an error ack, the session goes on. */
static void test_message_table_unsupported(void **state)
{
	static const uint32_t ids[] = {
		VU_NONE,
		VU_SET_LOG_BASE,
		VU_SET_LOG_FD,
		VU_IOTLB_MSG,
		VU_SET_VRING_ENDIAN,
		VU_CREATE_CRYPTO_SESSION,
		VU_CLOSE_CRYPTO_SESSION,
		VU_POSTCOPY_ADVISE,
		VU_POSTCOPY_LISTEN,
		VU_POSTCOPY_END,
		VU_GPU_SET_SOCKET,
		VU_VRING_KICK,
		41,
		42,
		43,
		44,
		1000,
		0xffffffffu,
	};
	struct env *e = *state;
	uint64_t payload[4] = { 0 };
	struct vu_fe fe;

	blk_open(&fe, e);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_int_equal(
			ack(&fe, ids[i], payload, sizeof(payload), NULL, 0),
			-EOPNOTSUPP);
	vu_fe_close(&fe);
	blk_alive(e);
}

/* ---- tests: malformed messages ---- */

/* An error ack (with REPLY_ACK) or a hang-up; never success. */
static bool refused(int ret)
{
	return ret < 0 && ret != -ETIMEDOUT;
}

static void send_fds(struct vu_fe *fe, uint32_t req, uint64_t v, int nfds,
		     int *ret)
{
	struct vu_msg m = { .hdr = { req, VU_VERSION | VU_FLAG_NEED_REPLY,
				     8 } };
	struct vu_msg reply;
	int fds[16];

	m.payload.u64 = v;
	for (int i = 0; i < nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	*ret = vu_fe_xfer(fe, &m, fds, (unsigned int)nfds, &reply);
	if (!*ret) {
		assert_int_equal(reply.nfds, 0);
		*ret = reply.payload.u64 ? -(int)reply.payload.u64 : 0;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Wrong fd counts: refused, and every fd sent is closed. */
static void test_bad_fd_counts(void **state)
{
	static const struct {
		uint32_t req;
		uint64_t v;
		int nfds;
	} cases[] = {
		{ VU_SET_OWNER, 0, 2 },
		{ VU_GET_FEATURES, 0, 1 },
		{ VU_SET_FEATURES, 0, 3 },
		{ VU_SET_VRING_CALL, 0, 2 },
		{ VU_SET_VRING_CALL, VU_VRING_NOFD, 1 },
		{ VU_SET_VRING_KICK, 0, 0 },
		{ VU_SET_VRING_ERR, 0, 4 },
		{ VU_SET_BACKEND_REQ_FD, 0, 0 },
		{ VU_SET_BACKEND_REQ_FD, 0, 2 },
		{ VU_ADD_MEM_REG, 0, 0 },
		{ VU_SET_MEM_TABLE, 0, 3 }, /* nregions 0 */
		{ VU_SET_OWNER, 0, 8 },
		{ VU_SET_OWNER, 0, 16 }, /* beyond what a message may carry */
	};
	struct env *e = *state;
	struct vu_fe fe, net;

	net_open(&net, e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before, ret;

		fe_open(&fe, e, BLK);
		before = test_count_fds();
		send_fds(&fe, cases[i].req, cases[i].v, cases[i].nfds, &ret);
		assert_true(refused(ret));
		vu_fe_close(&fe);
		/*
		 * Once a new front end is served, the back end has handled
		 * the old one's messages and hang-up: the fds are settled.
		 */
		fe_open(&fe, e, BLK);
		assert_int_equal(test_count_fds(), before);
		vu_fe_close(&fe);
		survived(e, &net, (uint8_t)i);
	}
	vu_fe_close(&net);
}

/* Send @m (NEED_REPLY set) on a fresh blk session; the answer. */
static int try_msg(struct env *e, struct vu_msg *m, bool start)
{
	struct vu_fe fe;
	struct vu_msg reply;
	int ret;

	if (start)
		blk_open(&fe, e);
	else
		fe_open(&fe, e, BLK);
	m->hdr.flags |= VU_VERSION | VU_FLAG_NEED_REPLY;
	ret = vu_fe_xfer(&fe, m, NULL, 0, &reply);
	if (!ret && reply.hdr.size == 8)
		ret = -(int)reply.payload.u64;
	else if (!ret)
		ret = -EPROTO; /* a GET_* reply to a malformed request */
	vu_fe_close(&fe);
	return ret;
}

static struct vu_msg mk(uint32_t req, uint32_t size)
{
	return (struct vu_msg){ .hdr = { .request = req, .size = size } };
}

/* Payloads shorter than their message needs. */
static void test_short_payloads(void **state)
{
	static const struct {
		uint32_t req, size;
	} cases[] = {
		{ VU_SET_FEATURES, 0 },		 { VU_SET_FEATURES, 4 },
		{ VU_SET_VRING_NUM, 4 },	 { VU_SET_VRING_BASE, 7 },
		{ VU_SET_VRING_ADDR, 16 },	 { VU_SET_VRING_ENABLE, 4 },
		{ VU_GET_VRING_BASE, 4 },	 { VU_GET_CONFIG, 8 },
		{ VU_SET_CONFIG, 11 },		 { VU_SET_STATUS, 1 },
		{ VU_SET_PROTOCOL_FEATURES, 2 }, { VU_REM_MEM_REG, 16 },
		{ VU_NET_SET_MTU, 0 },
	};
	struct env *e = *state;
	struct vu_fe net;

	net_open(&net, e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vu_msg m = mk(cases[i].req, cases[i].size);

		assert_true(refused(try_msg(e, &m, false)));
		survived(e, &net, (uint8_t)i);
	}
	vu_fe_close(&net);
}

/* A header announcing more than any payload, a bad version: hang-up. */
static void test_bad_headers(void **state)
{
	struct env *e = *state;
	struct vu_msg m = mk(VU_GET_FEATURES, 0), reply;
	struct vu_fe fe, net;
	uint8_t big[VU_HDR_SIZE + 512] = { 0 };
	struct vu_msg_hdr h = { VU_SET_OWNER, VU_VERSION, 4096 };

	net_open(&net, e);
	fe_open(&fe, e, BLK);
	memcpy(big, &h, sizeof(h));
	vu_fe_send_raw(&fe, big, sizeof(big), NULL, 0);
	assert_int_equal(vu_fe_recv(&fe, &reply, WAIT_MS), -ECONNRESET);
	vu_fe_close(&fe);
	survived(e, &net, 1);
	fe_open(&fe, e, BLK);
	m.hdr.flags = 0; /* version 0 */
	assert_int_equal(vu_fe_xfer(&fe, &m, NULL, 0, &reply), -ECONNRESET);
	vu_fe_close(&fe);
	fe_open(&fe, e, BLK);
	m.hdr.flags = 2 | VU_FLAG_NEED_REPLY;
	assert_int_equal(vu_fe_xfer(&fe, &m, NULL, 0, &reply), -ECONNRESET);
	vu_fe_close(&fe);
	survived(e, &net, 2);
	/* without REPLY_ACK a failure cannot be told: a hang-up */
	{
		struct vu_fe_cfg cfg = fe_cfg(e, BLK);
		struct vu_vring_state st = { 0, 100 };
		uint64_t v;

		cfg.protocol_mask = VU_FE_PROTOCOL_NONE;
		fe_open_cfg(&fe, &cfg);
		vu_fe_request(&fe, VU_SET_VRING_NUM, &st, 8, NULL, 0);
		assert_int_equal(vu_fe_get_u64(&fe, VU_GET_FEATURES, &v),
				 -ECONNRESET);
		vu_fe_close(&fe);
	}
	survived(e, &net, 3);
	vu_fe_close(&net);
}

static int vring_state(struct env *e, uint32_t req, uint32_t idx, uint32_t num,
		       bool start)
{
	struct vu_msg m = mk(req, 8);

	m.payload.state = (struct vu_vring_state){ idx, num };
	return try_msg(e, &m, start);
}

static int vring_u64(struct env *e, uint32_t req, uint64_t v)
{
	struct vu_msg m = mk(req, 8);

	m.payload.u64 = v;
	return try_msg(e, &m, false);
}

static void test_bad_vrings(void **state)
{
	struct env *e = *state;
	struct vu_fe fe, net;
	int efd = eventfd(0, EFD_CLOEXEC);

	net_open(&net, e);
	/* indices beyond the device's queues */
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 1, 64, false),
			 -ENOBUFS);
	assert_int_equal(vring_state(e, VU_SET_VRING_BASE, 7, 0, false),
			 -ENOBUFS);
	assert_int_equal(vring_state(e, VU_SET_VRING_ENABLE, 300, 1, false),
			 -ENOBUFS);
	assert_int_equal(vring_state(e, VU_GET_VRING_BASE, 1, 0, false),
			 -ECONNRESET);
	assert_int_equal(vring_u64(e, VU_SET_VRING_CALL, 200 | VU_VRING_NOFD),
			 -ENOBUFS);
	assert_int_equal(vring_u64(e, VU_SET_VRING_ERR, 255 | VU_VRING_NOFD),
			 -ENOBUFS);
	survived(e, &net, 1);
	/* sizes: not a power of two, beyond the spec, beyond the device */
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 100, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 0, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 65536, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 512, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_BASE, 0, 0x10000, false),
			 -EINVAL);
	assert_int_equal(vring_state(e, VU_SET_VRING_ENABLE, 0, 2, false),
			 -EINVAL);
	/* a started ring is not resized, rebased or moved */
	assert_int_equal(vring_state(e, VU_SET_VRING_NUM, 0, 64, true), -EBUSY);
	assert_int_equal(vring_state(e, VU_SET_VRING_BASE, 0, 0, true), -EBUSY);
	survived(e, &net, 2);
	/* a kick fd is required */
	assert_int_equal(vring_u64(e, VU_SET_VRING_KICK, VU_VRING_NOFD),
			 -EOPNOTSUPP);
	/* kicked and enabled before it was described */
	fe_open(&fe, e, BLK);
	assert_int_equal(vu_fe_set_u64(&fe, VU_SET_VRING_KICK, 0, &efd, 1), 0);
	assert_int_equal(vu_fe_vq_enable(&fe, 0, true), -EINVAL);
	vu_fe_close(&fe);
	close(efd);
	survived(e, &net, 3);
	vu_fe_close(&net);
}

/* SET_VRING_ADDR with addresses outside every region. */
static void test_bad_vring_addr(void **state)
{
	struct env *e = *state;
	struct vu_fe fe, net;
	struct vu_vring_addr a = { 0 };

	net_open(&net, e);
	fe_open(&fe, e, BLK);
	a.desc_user_addr = (uintptr_t)fe.mem;
	a.avail_user_addr = (uintptr_t)fe.mem + 4096;
	a.used_user_addr = (uintptr_t)fe.mem + 8192;
	/* no memory table yet */
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EFAULT);
	assert_int_equal(vu_fe_negotiate(&fe, ~0ull), 0);
	assert_int_equal(vu_fe_set_mem(&fe), 0);
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 0);
	a.used_user_addr = (uintptr_t)fe.mem + ARENA; /* one past the end */
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EFAULT);
	a.used_user_addr = GPA; /* a guest address is not a user one */
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EFAULT);
	a.used_user_addr = (uintptr_t)fe.mem + 8192;
	a.desc_user_addr = (uintptr_t)fe.mem - 4096;
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EFAULT);
	a.desc_user_addr = (uintptr_t)fe.mem;
	a.flags = 1; /* VHOST_VRING_F_LOG: no dirty log offered */
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -EINVAL);
	a.index = 3;
	assert_int_equal(ack(&fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			 -ENOBUFS);
	vu_fe_close(&fe);
	survived(e, &net, 1);
	vu_fe_close(&net);
}

static int mem_table(struct vu_fe *fe, const struct vu_mem_region *r,
		     uint32_t n, unsigned int nfds)
{
	struct vu_mem_table t = { .nregions = n };
	int fds[VU_MAX_MEM_REGIONS];

	for (unsigned int i = 0; i < nfds; i++)
		fds[i] = fe->memfd;
	for (uint32_t i = 0; i < n && i < VU_MAX_MEM_REGIONS; i++)
		t.regions[i] = r[i]; /* @r holds min(n, 8) */
	return ack(fe, VU_SET_MEM_TABLE, &t, sizeof(t), fds, nfds);
}

static int add_reg(struct vu_fe *fe, const struct vu_mem_region *r)
{
	struct vu_mem_single one = { .region = *r };

	return ack(fe, VU_ADD_MEM_REG, &one, sizeof(one), &fe->memfd, 1);
}

/* Regions that overflow, exceed their fd, or are empty: both ways. */
static void test_bad_regions(void **state)
{
	struct env *e = *state;
	struct vu_mem_region good, bad[6], r[VU_MAX_MEM_REGIONS];
	struct vu_fe fe, net;
	int before;

	net_open(&net, e);
	fe_open(&fe, e, BLK);
	before = test_count_fds();
	good = (struct vu_mem_region){ GPA, ARENA, (uintptr_t)fe.mem, 0 };
	for (int i = 0; i < 6; i++)
		bad[i] = good;
	bad[0].mmap_offset = UINT64_MAX - 100; /* offset + size overflows */
	bad[0].size = 4096;
	bad[1].size = ARENA + 4096; /* beyond the memfd */
	bad[2].mmap_offset = ARENA - 4096; /* ends beyond it */
	bad[3].guest_addr = UINT64_MAX - 4095;
	bad[4].user_addr = UINT64_MAX - 4095;
	bad[5].size = 0;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(mem_table(&fe, &bad[i], 1, 1), -EINVAL);
		assert_int_equal(add_reg(&fe, &bad[i]), -EINVAL);
	}
	/* region count and fd count disagree, or too many regions */
	for (int i = 0; i < VU_MAX_MEM_REGIONS; i++)
		r[i] = good;
	assert_int_equal(mem_table(&fe, r, 1, 2), -EINVAL);
	assert_int_equal(mem_table(&fe, r, 2, 1), -EINVAL);
	assert_int_equal(mem_table(&fe, r, 9, 8), -EINVAL);
	/* the fds were closed before the acks */
	assert_int_equal(test_count_fds(), before);
	vu_fe_close(&fe);
	survived(e, &net, 1);
	vu_fe_close(&net);
}

/* ADD_MEM_REG over a region there, REM_MEM_REG of one not there. */
static void test_bad_mem_slots(void **state)
{
	struct env *e = *state;
	struct vu_mem_single one = { 0 };
	struct vu_fe fe;
	int before;

	fe_open(&fe, e, BLK);
	before = test_count_fds();
	one.region = (struct vu_mem_region){ GPA, ARENA, (uintptr_t)fe.mem, 0 };
	assert_int_equal(add_reg(&fe, &one.region), 0);
	assert_int_equal(add_reg(&fe, &one.region), -EEXIST);
	one.region.guest_addr += 4096;
	one.region.size = 4096;
	assert_int_equal(add_reg(&fe, &one.region), -EEXIST);
	assert_int_equal(ack(&fe, VU_REM_MEM_REG, &one, sizeof(one), NULL, 0),
			 -ENOENT);
	assert_int_equal(test_count_fds(), before);
	vu_fe_close(&fe);
	blk_alive(e);
}

/* Features, protocol features, config, status, MTU out of range. */
static void test_bad_values(void **state)
{
	struct env *e = *state;
	struct vu_fe fe, net;
	uint8_t buf[VU_CONFIG_MAX];

	net_open(&net, e);
	fe_open(&fe, e, BLK);
	assert_int_equal(ack_u64(&fe, VU_SET_FEATURES,
				 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)),
			 -EINVAL);
	assert_int_equal(ack_u64(&fe, VU_SET_FEATURES, BIT_ULL(63)), -EINVAL);
	assert_int_equal(ack_u64(&fe, VU_SET_PROTOCOL_FEATURES,
				 BIT_ULL(VU_PROTOCOL_F_NET_MTU)),
			 -EINVAL);
	assert_int_equal(ack_u64(&fe, VU_SET_STATUS, 0x100), -EINVAL);
	assert_int_equal(ack_u64(&fe, VU_NET_SET_MTU, 1500), -EINVAL); /* blk */
	/* config beyond the device's: a reply of size 0 */
	assert_int_equal(vu_fe_get_config(&fe, 90, buf, 100), -EIO);
	assert_int_equal(vu_fe_get_config(&fe, 0xffffffffu, buf, 4), -EIO);
	assert_int_equal(vu_fe_set_config(&fe, 90, buf, 100, 0), -EINVAL);
	assert_int_equal(vu_fe_get_config(&fe, 0, buf, 8), 0);
	vu_fe_close(&fe);
	/* refused on a running device: the session goes on */
	assert_int_equal(ack_u64(&net, VU_NET_SET_MTU, 67), -EINVAL);
	assert_int_equal(ack_u64(&net, VU_NET_SET_MTU, 65536), -EINVAL);
	survived(e, &net, 1);
	vu_fe_close(&net);
}

/* Each test gets fresh devices, back ends and back-end thread. */
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		T(test_message_table_gets),
		T(test_message_table_sets),
		T(test_message_table_unsupported),
		T(test_bad_fd_counts),
		T(test_short_payloads),
		T(test_bad_headers),
		T(test_bad_vrings),
		T(test_bad_vring_addr),
		T(test_bad_regions),
		T(test_bad_mem_slots),
		T(test_bad_values),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, NULL, NULL);
}
