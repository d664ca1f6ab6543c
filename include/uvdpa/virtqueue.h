/* SPDX-License-Identifier: MIT */
/*
 * Device side of a virtqueue: what a parent uses to serve a ring the driver
 * side fills. The ring lives in driver memory and is reached only through
 * the device's vdpa_iotlb; every index, descriptor and address read from it
 * is validated. A violation marks the queue broken (vq->broken, with a
 * reason), after which every call on it is a no-op returning -EIO: the
 * parent then sets VIRTIO_CONFIG_S_NEEDS_RESET.
 *
 * Callers see elements (a buffer id and its iovecs), never the ring format,
 * so the packed ring can be added behind the same calls.
 *
 * A queue is used by one thread at a time (the worker serving it).
 */
#ifndef UVDPA_VIRTQUEUE_H
#define UVDPA_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include <uvdpa/iotlb.h>

#define VQ_MAX_SIZE 32768

/*
 * Most iovecs one chain may need. Longer chains break the queue, as in
 * QEMU's virtqueue_pop (VIRTQUEUE_MAX_SIZE); IOV_MAX is the same number.
 */
#define VQ_MAX_CHAIN_IOV 1024

struct vq_elem {
	uint16_t id; /* head index (split) or buffer id (packed) */
	uint16_t ndesc; /* ring descriptors the chain occupies */
	uint16_t out_num; /* device-readable iovecs, first in iov[] */
	uint16_t in_num; /* device-writable iovecs, after them */
	uint64_t out_len; /* bytes in the readable iovecs */
	uint64_t in_len; /* bytes in the writable iovecs */
	struct iovec *iov;
};

/*
 * vhost-user's inflight region of one split queue (docs/interop/
 * vhost-user.rst, "Inflight I/O tracking"): memory the front end keeps
 * across a restart of the back end, in which the device marks each chain
 * it took and has not completed, so that a new back end resubmits them.
 */
struct vq_inflight_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

struct vq_inflight_split {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct vq_inflight_desc desc[];
};

/* Bytes of a queue's region, each queue's start 64-byte aligned. */
static inline size_t vq_inflight_size(uint32_t num)
{
	return (sizeof(struct vq_inflight_split) +
		num * sizeof(struct vq_inflight_desc) + 63) &
	       ~(size_t)63;
}

/* Ring configuration latched when a queue is enabled. */
struct vq_config {
	uint32_t num; /* entries: a power of two, 1..VQ_MAX_SIZE */
	/* negotiated: EVENT_IDX, INDIRECT_DESC, RING_PACKED */
	uint64_t features;
	uint64_t desc_addr; /* iovas of the three areas */
	uint64_t driver_addr;
	uint64_t device_addr;
	uint16_t avail_idx; /* first avail entry to take (vq state) */
	const struct vdpa_iotlb *iotlb;
	/*
	 * Optional inflight region of vq_inflight_size(num) bytes. With one,
	 * the queue starts where the region says (used->idx plus the chains
	 * still marked), not at @avail_idx, and takes the marked chains
	 * again first, oldest first.
	 */
	struct vq_inflight_split *inflight;
};

struct vq_dev {
	/* latched at vq_dev_init() */
	uint32_t num;
	bool event_idx;
	bool indirect;
	const struct vdpa_iotlb *iotlb;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *used_event; /* in the avail ring, after ring[num] */
	uint16_t *avail_event; /* in the used ring, after ring[num] */

	/* device state */
	uint16_t last_avail_idx; /* next avail entry to take */
	uint16_t shadow_avail_idx; /* avail->idx as last read */
	uint16_t used_idx; /* next used entry; published by vq_dev_flush() */
	uint16_t flushed_used_idx; /* used->idx as last published */
	uint16_t signalled_used; /* used idx at the last notify decision */
	bool signalled_used_valid;
	bool notify_enabled;

	/* set once, never cleared until the queue is re-initialised */
	bool broken;
	const char *broken_reason;

	struct vdpa_iotlb_hint hint;
	struct vring_desc *bounce; /* indirect tables that span ranges */

	/* inflight tracking (vring_inflight.c); inflight NULL: none */
	struct vq_inflight_split *inflight;
	uint64_t counter; /* order of the next chain taken */
	uint16_t *resubmit; /* heads to take again, oldest first */
	uint16_t resubmit_num, resubmit_pos;
	uint16_t last_pop_resubmit; /* of the last pop: for vq_dev_unpop */
	uint16_t last_pop_avail;
};

/*
 * Latch @cfg. Returns -EINVAL for a bad size or feature set, -EFAULT when
 * an area is misaligned or not wholly inside one writable/readable range.
 * On error the queue is left broken, with a reason. A re-init keeps the
 * bounce buffer, so @vq must be zeroed (or released) before the first.
 */
int vq_dev_init(struct vq_dev *vq, const struct vq_config *cfg);
void vq_dev_release(struct vq_dev *vq);
/* Back to a zeroed queue (a device reset), keeping only the bounce buffer. */
void vq_dev_forget(struct vq_dev *vq);

/*
 * Take up to @max available chains into @elems, their iovecs into @iov
 * (@iov_cap entries shared by the batch; give at least VQ_MAX_CHAIN_IOV).
 * Returns how many were taken (0: ring empty) or -EIO when the queue is,
 * or has just become, broken. Elements taken before a violation was found
 * are still returned (the count) and must be completed.
 */
int vq_dev_pop_batch(struct vq_dev *vq, struct vq_elem *elems, unsigned int max,
		     struct iovec *iov, unsigned int iov_cap);

static inline int vq_dev_pop(struct vq_dev *vq, struct vq_elem *elem,
			     struct iovec *iov, unsigned int iov_cap)
{
	return vq_dev_pop_batch(vq, elem, 1, iov, iov_cap);
}

/*
 * Return the last @n taken elements unused: they are taken again next
 * time. Chains a start resubmits go back only from the last pop.
 */
void vq_dev_unpop(struct vq_dev *vq, unsigned int n);

/* Stage one used element; vq_dev_flush() publishes it. */
void vq_dev_push(struct vq_dev *vq, const struct vq_elem *elem, uint32_t len);

/*
 * Publish staged used elements with one index update. Returns true when
 * the driver asked to be notified (EVENT_IDX or NO_INTERRUPT honoured).
 */
bool vq_dev_flush(struct vq_dev *vq);

/* Push @n elements (lens[i] bytes written) and flush: one index update. */
bool vq_dev_complete_batch(struct vq_dev *vq, const struct vq_elem *elems,
			   const uint32_t *lens, unsigned int n);

/* Ask the driver not to kick: the device is polling. */
void vq_dev_disable_notify(struct vq_dev *vq);
/*
 * Ask the driver to kick again. Returns true when chains became available
 * meanwhile: the caller must serve them rather than sleep.
 */
bool vq_dev_enable_notify(struct vq_dev *vq);

/* Chains the last start found in flight and will take again first. */
static inline unsigned int vq_dev_resubmit_pending(const struct vq_dev *vq)
{
	return (unsigned int)(vq->resubmit_num - vq->resubmit_pos);
}

/* True when the driver has published chains not yet taken. */
bool vq_dev_has_avail(struct vq_dev *vq);

/* Split ring state (vdpa_vq_state.split.avail_index). */
static inline uint16_t vq_dev_avail_index(const struct vq_dev *vq)
{
	return vq->last_avail_idx;
}

/* Copy helpers between iovecs and flat memory; return bytes copied. */
size_t vq_iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip,
		     void *buf, size_t len);
size_t vq_buf_to_iov(const struct iovec *iov, unsigned int n, size_t skip,
		     const void *buf, size_t len);
size_t vq_iov_length(const struct iovec *iov, unsigned int n);
/* Copy @len bytes from @src to @dst; returns bytes copied. */
size_t vq_iov_copy(const struct iovec *dst, unsigned int dn,
		   const struct iovec *src, unsigned int sn, size_t len);

#endif
