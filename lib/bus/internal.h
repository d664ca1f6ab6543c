/* SPDX-License-Identifier: MIT */
/* What the files of lib/bus share and nobody else sees. */
#ifndef UVDPA_BUS_INTERNAL_H
#define UVDPA_BUS_INTERNAL_H

#include <uvdpa/vdpa.h>

/* vdpa_dev_match(): driver_override, else every driver matches. */
bool vdpa_driver_match(const struct vdpa_device *vdev,
		       const struct vdpa_driver *drv);

#endif
