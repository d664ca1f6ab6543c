/* SPDX-License-Identifier: MIT */
/* What the files of the vhost-user front end share. */
#ifndef UVDPA_LIB_VHOST_USER_FE_INTERNAL_H
#define UVDPA_LIB_VHOST_USER_FE_INTERNAL_H

#include <uvdpa/vu_frontend.h>

static inline bool fe_has(const struct vu_fe *fe, unsigned int proto_bit)
{
	return fe->protocol_features & (1ull << proto_bit);
}

/* The arena and the queues (fe_rings.c). */
int fe_arena_new(struct vu_fe *fe, const struct vu_fe_cfg *cfg);
void fe_arena_free(struct vu_fe *fe);
void fe_vqs_free(struct vu_fe *fe);

#endif
