/* SPDX-License-Identifier: MIT */
/*
 * Kernel interface numbers: the system's <linux/...> headers
 * (linux-libc-dev) first, then the numbers newer than them, then uvdpa's
 * own extensions. Values follow reference §1.2, §1.3, §10.
 *
 * The build probes which names the system headers lack (uvdpa-config.h),
 * so a newer linux-libc-dev is used as it is.
 */
#ifndef UVDPA_UAPI_H
#define UVDPA_UAPI_H

#include <linux/vdpa.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "uvdpa-config.h"

/* ---- <linux/vdpa.h>, kernel 6.12 .. 7.0 ---- */

#if !HAVE_VDPA_CMD_DEV_ATTR_SET
#define VDPA_CMD_DEV_ATTR_SET 8
#endif

/*
 * 6.1's header still has the short-lived VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES
 * at 21; upstream put the block attributes there (reference §1.3).
 */
#if !HAVE_VDPA_ATTR_DEV_BLK_CFG_CAPACITY
#define VDPA_ATTR_DEV_BLK_CFG_CAPACITY 21
#define VDPA_ATTR_DEV_BLK_CFG_SIZE_MAX 22
#define VDPA_ATTR_DEV_BLK_CFG_BLK_SIZE 23
#define VDPA_ATTR_DEV_BLK_CFG_SEG_MAX 24
#define VDPA_ATTR_DEV_BLK_CFG_NUM_QUEUES 25
#define VDPA_ATTR_DEV_BLK_CFG_PHY_BLK_EXP 26
#define VDPA_ATTR_DEV_BLK_CFG_ALIGN_OFFSET 27
#define VDPA_ATTR_DEV_BLK_CFG_MIN_IO_SIZE 28
#define VDPA_ATTR_DEV_BLK_CFG_OPT_IO_SIZE 29
#define VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEC 30
#define VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEG 31
#define VDPA_ATTR_DEV_BLK_CFG_DISCARD_SEC_ALIGN 32
#define VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEC 33
#define VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEG 34
#define VDPA_ATTR_DEV_BLK_READ_ONLY 35
#define VDPA_ATTR_DEV_BLK_FLUSH 36
#define UVDPA_ATTR_MAX 37
#else
#define UVDPA_ATTR_MAX VDPA_ATTR_MAX
#endif

/* ---- <linux/virtio_config.h> ---- */

/* The vdpa core treats bit 42 as the last transport bit (reference §1.5). */
#define UVDPA_TRANSPORT_F_END 42

#ifndef VIRTIO_F_NOTIFICATION_DATA
#define VIRTIO_F_NOTIFICATION_DATA 38
#endif
#ifndef VIRTIO_F_ADMIN_VQ
#define VIRTIO_F_ADMIN_VQ 41
#endif

/* ---- <linux/virtio_blk.h> ---- */

#ifndef VIRTIO_BLK_F_ZONED
#define VIRTIO_BLK_F_ZONED 17
#endif
#ifndef VIRTIO_BLK_F_OUT_FUA
#define VIRTIO_BLK_F_OUT_FUA 18
#endif
#ifndef VIRTIO_BLK_T_OUT_FUA
#define VIRTIO_BLK_T_OUT_FUA 27
#endif
#ifndef VIRTIO_BLK_ID_BYTES
#define VIRTIO_BLK_ID_BYTES 20
#endif
#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_SECTOR_SHIFT 9

/* ---- <linux/virtio_net.h> ---- */

#define VIRTIO_NET_HDR_V1_LEN 12 /* struct virtio_net_hdr_v1 */
#define VIRTIO_NET_HDR_LEGACY_LEN 10 /* struct virtio_net_hdr */

#endif
