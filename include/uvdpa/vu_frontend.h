/* SPDX-License-Identifier: MIT */
/*
 * uvdpa's vhost-user front end ("fe"): what QEMU's hw/virtio/vhost-user.c
 * does for one device (reference §9.5), as a library, so that tests and
 * benchmarks drive any vhost-user back end (uvdpad, qemu-storage-daemon,
 * DPDK's vhost) from a native process.
 *
 * Memory: the front end owns an arena, a memfd mapped in this process,
 * which it gives the back end as guest memory at cfg->mem_gpa, in
 * cfg->nregions equal regions (SET_MEM_TABLE, or one ADD_MEM_REG each with
 * CONFIGURE_MEM_SLOTS). Rings and buffers are carved from the arena.
 * Descriptors carry guest physical addresses; SET_VRING_ADDR carries user
 * addresses, where this process maps the rings, as QEMU's do.
 *
 * Queues are driver-side split rings (virtqueue_drv.h): add chains to
 * fe->vqs[i].drv, publish them with vu_fe_kick(), and either busy-poll
 * vq_drv_get_used() or sleep in vu_fe_wait() on the queue's call eventfd.
 *
 * Every request waits for its reply, and with REPLY_ACK for its ack, at
 * most fe->timeout_ms. Errors are -errno; an error ack from the back end
 * is its errno. -ECONNRESET: the back end hung up. One thread sets a front
 * end up; afterwards each queue may be driven by its own thread.
 */
#ifndef UVDPA_VU_FRONTEND_H
#define UVDPA_VU_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvdpa/vhost_user.h>
#include <uvdpa/virtqueue_drv.h>

/* What vu_fe_connect() asks for when cfg->protocol_mask is 0. */
#define VU_FE_PROTOCOL_DEFAULT                                                 \
	((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |      \
	 (1ull << VU_PROTOCOL_F_CONFIG) | (1ull << VU_PROTOCOL_F_STATUS) |     \
	 (1ull << VU_PROTOCOL_F_RESET_DEVICE) |                                \
	 (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
/* cfg->protocol_mask that asks for nothing (0 means the default). */
#define VU_FE_PROTOCOL_NONE (1ull << 63)

#define VU_FE_MAX_VQS 256 /* a vring index is 8 bits in KICK/CALL/ERR */

struct vu_fe_cfg {
	const char *path; /* the back end's socket */
	size_t mem_size; /* arena bytes; 0: 16 MiB */
	uint64_t mem_gpa; /* its guest physical address */
	unsigned int nregions; /* 0 or 1: one region; at most 8 */
	bool mem_slots; /* ADD_MEM_REG when CONFIGURE_MEM_SLOTS is offered */
	uint64_t protocol_mask; /* protocol features to ask for */
	int timeout_ms; /* per reply; 0: 5000 */
};

struct vu_fe_vq {
	struct vq_drv drv; /* add, get_used, enable/disable_cb */
	uint16_t idx;
	int kickfd; /* the doorbell: vu_fe_kick() */
	int callfd; /* the back end's interrupt: vu_fe_wait() */
	int errfd; /* SET_VRING_ERR: written when the ring is found broken */
	bool started; /* kicked and not stopped by GET_VRING_BASE */
	uint16_t base; /* avail index for SET_VRING_BASE */
};

struct vu_rx;

struct vu_fe {
	int sock;
	int timeout_ms;
	uint64_t dev_features; /* GET_FEATURES, bit 30 included */
	uint64_t features; /* negotiated (vu_fe_negotiate), bit 30 excluded */
	bool vring_enable; /* bit 30 acked: rings need SET_VRING_ENABLE */
	uint64_t protocol_offered; /* GET_PROTOCOL_FEATURES */
	uint64_t protocol_features; /* acked with SET_PROTOCOL_FEATURES */
	uint64_t queue_num; /* GET_QUEUE_NUM with MQ, else 0 */
	uint64_t max_mem_slots; /* GET_MAX_MEM_SLOTS, else 8 */
	uint8_t status; /* the last status set, with STATUS */

	uint32_t nvqs;
	struct vu_fe_vq *vqs;

	/* the arena */
	int memfd;
	uint8_t *mem;
	size_t mem_size;
	uint64_t mem_gpa;
	size_t mem_used;
	unsigned int nregions;
	bool mem_slots;

	struct vu_rx *rx; /* private: a reply being received */
};

/*
 * Create the arena, connect, and do what QEMU does at connect:
 * GET_FEATURES; with bit 30 GET/SET_PROTOCOL_FEATURES (offered & mask),
 * GET_QUEUE_NUM with MQ, GET_MAX_MEM_SLOTS with CONFIGURE_MEM_SLOTS; then
 * SET_OWNER. On failure everything is undone. vu_fe_close() in any case.
 */
int vu_fe_connect(struct vu_fe *fe, const struct vu_fe_cfg *cfg);
/* Hang up (the back end resets its device) and free everything. */
void vu_fe_close(struct vu_fe *fe);

/*
 * SET_FEATURES with @want & the back end's features (less the ring
 * features the rings here do not implement: packed, in order,
 * notification data, ring reset); with STATUS,
 * ACKNOWLEDGE|DRIVER before and FEATURES_OK after, checked with GET_STATUS
 * (-ENODEV when the device refused them). Bit 30 is acked when @want has
 * it: rings then wait for SET_VRING_ENABLE; without it they run at once.
 */
int vu_fe_negotiate(struct vu_fe *fe, uint64_t want);
/* Give the arena to the back end: SET_MEM_TABLE or ADD_MEM_REG. */
int vu_fe_set_mem(struct vu_fe *fe);
/*
 * Lay out @nvqs rings of @size entries in the arena (@ind_max entries per
 * indirect table, 0: none), start each (SET_VRING_NUM, _BASE, _ADDR,
 * _KICK, _CALL, _ERR) and enable it when bit 30 was acked.
 */
int vu_fe_setup_vqs(struct vu_fe *fe, uint32_t nvqs, uint32_t size,
		    uint16_t ind_max);
/* With STATUS: add DRIVER_OK. Without it, a no-op (the ring starts it). */
int vu_fe_driver_ok(struct vu_fe *fe);
/* negotiate, set_mem, setup_vqs, driver_ok. */
int vu_fe_start(struct vu_fe *fe, uint64_t want, uint32_t nvqs, uint32_t size,
		uint16_t ind_max);

/* Start queue @idx again from fe->vqs[idx].base (after a stop). */
int vu_fe_vq_start(struct vu_fe *fe, uint16_t idx);
/* GET_VRING_BASE: stops the ring; its answer goes to fe->vqs[idx].base. */
int vu_fe_vq_stop(struct vu_fe *fe, uint16_t idx);
int vu_fe_vq_enable(struct vu_fe *fe, uint16_t idx, bool enable);
/* Stop every started queue. */
int vu_fe_stop(struct vu_fe *fe);
/*
 * RESET_DEVICE (or, without it, status 0 with STATUS; else -EOPNOTSUPP).
 * The queues are forgotten (their arena space is not reused); the memory
 * table stays.
 */
int vu_fe_reset(struct vu_fe *fe);

/* Publish queue @idx's new chains; kick when the ring asks. 1: kicked. */
int vu_fe_kick(struct vu_fe *fe, uint16_t idx);
/* Wait up to @ms for queue @idx's call: 1 if it came, 0 on timeout. */
int vu_fe_wait(struct vu_fe *fe, uint16_t idx, int ms);

/* Carve @size bytes from the arena; NULL when it is exhausted. */
void *vu_fe_alloc(struct vu_fe *fe, size_t size, size_t align, uint64_t *gpa);

static inline void *vu_fe_ptr(struct vu_fe *fe, uint64_t gpa)
{
	return fe->mem + (gpa - fe->mem_gpa);
}

/* GET_CONFIG and SET_CONFIG. A GET_CONFIG reply of size 0 is -EIO. */
int vu_fe_get_config(struct vu_fe *fe, uint32_t offset, void *buf,
		     uint32_t len);
int vu_fe_set_config(struct vu_fe *fe, uint32_t offset, const void *buf,
		     uint32_t len, uint32_t flags);
int vu_fe_get_status(struct vu_fe *fe, uint8_t *status);
int vu_fe_set_status(struct vu_fe *fe, uint8_t status);

/* ---- one message at a time ---- */

/*
 * A request without a reply payload: @size bytes of @payload and @fds;
 * with REPLY_ACK, NEED_REPLY is set and the ack checked.
 */
int vu_fe_request(struct vu_fe *fe, uint32_t req, const void *payload,
		  uint32_t size, const int *fds, unsigned int nfds);
/* A request with no payload answered by a u64 (GET_FEATURES, ...). */
int vu_fe_get_u64(struct vu_fe *fe, uint32_t req, uint64_t *val);
/* A request carrying a u64 (SET_FEATURES, SET_VRING_KICK, ...). */
int vu_fe_set_u64(struct vu_fe *fe, uint32_t req, uint64_t val, const int *fds,
		  unsigned int nfds);

/*
 * For negative tests, nothing checked: send @msg as it is (its request,
 * flags and size; size at most the payload) with @nfds fds (up to 32, more
 * than the protocol allows) and, when @reply is not NULL, wait for the
 * next message, which lands in @reply with its fds (the caller's to
 * close). -ETIMEDOUT when none came, -ECONNRESET when the back end hung up.
 */
int vu_fe_xfer(struct vu_fe *fe, const struct vu_msg *msg, const int *fds,
	       unsigned int nfds, struct vu_msg *reply);
/* Send @len raw bytes with @fds (a header announcing any size, ...). */
int vu_fe_send_raw(struct vu_fe *fe, const void *buf, size_t len,
		   const int *fds, unsigned int nfds);
/* Wait up to @ms for the next message from the back end, as vu_fe_xfer. */
int vu_fe_recv(struct vu_fe *fe, struct vu_msg *msg, int ms);

#endif
