/* SPDX-License-Identifier: MIT */
/* What the files of the vhost-user back end share. */
#ifndef UVDPA_VU_INTERNAL_H
#define UVDPA_VU_INTERNAL_H

#include <stdbool.h>

#include <uvdpa/iotlb.h>
#include <uvdpa/vdpa.h>
#include <uvdpa/vhost_user.h>
#include <uvdpa/vu_backend.h>

/* framing: lib/vhost_user/msg.c */
#include "lib/vhost_user/msg.h"

/* A guest memory region, mapped from the front end's fd. */
struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva; /* where the front end sees it */
	uint64_t mmap_offset;
	void *map; /* our mapping, from the page holding mmap_offset */
	size_t map_len;
	void *hva; /* host address of gpa */
};

struct vu_vring {
	uint32_t num;
	uint64_t desc, avail, used; /* guest physical addresses */
	bool addr_set;
	uint16_t base; /* avail index to start from */
	int kick_fd, call_fd, err_fd;
	bool started; /* kicked, and not stopped by GET_VRING_BASE */
	bool enabled;
	bool ready; /* enabled on the device */
};

struct vu_backend {
	struct vdpa_device *vdev;
	struct vu_backend_cfg cfg;
	char path[108];
	int listen_fd;
	int conn_fd;
	int event_fd; /* the device's config interrupt */
	struct vu_rx rx;

	uint64_t features; /* acked by the front end, bit 30 stripped */
	bool features_set;
	bool proto_negotiated; /* bit 30 acked */
	uint64_t protocol_features;
	bool proto_set; /* SET_PROTOCOL_FEATURES came */
	uint16_t mtu;

	struct vu_region *regions;
	unsigned int nregions;
	struct vdpa_iotlb iotlb;

	struct vu_vring *vrings;
	unsigned int nvrings;
	int backend_req_fd;
	int reply_fd; /* sent with the next reply (GET_INFLIGHT_FD), or -1 */

	/* the inflight region (inflight.c), the front end's memory */
	int inflight_fd;
	void *inflight_map;
	size_t inflight_len;
	uint16_t inflight_queues;
	uint16_t inflight_qsize;

	bool mem_lost; /* atomic: set by the SIGBUS handler (mem.c) */
};

/* Without F_STATUS the back end drives the device status itself. */
static inline bool vu_status_synth(const struct vu_backend *b)
{
	return !(b->protocol_features & (1ULL << VU_PROTOCOL_F_STATUS));
}

void vu_log(struct vu_backend *b, enum vu_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Memory (mem.c). */
int vu_mem_set_table(struct vu_backend *b, struct vu_msg *msg);
int vu_mem_add(struct vu_backend *b, struct vu_msg *msg);
int vu_mem_rem(struct vu_backend *b, struct vu_msg *msg);
void vu_mem_clear(struct vu_backend *b);
void vu_mem_clear_regions(struct vu_backend *b);
/* A region's file shrank under it: hang up; false if none did. */
bool vu_mem_lost(struct vu_backend *b);
/* Let a SIGBUS in @map (a mapping of the front end's fd) hang @b up. */
int vu_mem_guard(struct vu_backend *b, void *map, size_t len);
void vu_mem_unguard(void *map);
/* A front-end virtual address to a guest physical one; false if none. */
bool vu_uva_to_gpa(const struct vu_backend *b, uint64_t uva, uint64_t *gpa);

/* Rings and status (rings.c). */
int vu_ring_update(struct vu_backend *b, unsigned int idx);
int vu_features_apply(struct vu_backend *b);

/* Inflight I/O tracking (inflight.c). */
int vu_inflight_get(struct vu_backend *b, struct vu_msg *msg);
int vu_inflight_set(struct vu_backend *b, struct vu_msg *msg);
/* Give queue @idx its part of the region, or none; before it starts. */
int vu_inflight_program(struct vu_backend *b, unsigned int idx);
void vu_inflight_clear(struct vu_backend *b);

/* Handlers (handlers.c). */
int vu_dispatch(struct vu_backend *b, struct vu_msg *msg);
void vu_rings_reset(struct vu_backend *b);

#endif
