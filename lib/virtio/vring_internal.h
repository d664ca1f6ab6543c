/* SPDX-License-Identifier: MIT */
/* What vring.c and vring_inflight.c share. */
#ifndef UVDPA_VRING_INTERNAL_H
#define UVDPA_VRING_INTERNAL_H

#include <uvdpa/virtqueue.h>

/* Mark the queue broken with @reason; returns -EIO. */
int vq_break(struct vq_dev *vq, const char *reason);

/* Start tracking in @r (rings mapped): may move the queue's indices. */
int vq_inflight_start(struct vq_dev *vq, struct vq_inflight_split *r);
/* @head was taken from the avail ring / given back unused. */
void vq_inflight_take(struct vq_dev *vq, uint16_t head);
void vq_inflight_untake(struct vq_dev *vq, uint16_t head);
/* used[from..to) were published with used->idx = @to. */
void vq_inflight_published(struct vq_dev *vq, uint16_t from, uint16_t to);
void vq_inflight_release(struct vq_dev *vq);

#endif
