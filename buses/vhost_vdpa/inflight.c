// SPDX-License-Identifier: MIT
/*
 * vhost-user inflight I/O tracking (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD):
 * GET_INFLIGHT_FD makes a shared region, one part per queue, that the
 * front end keeps; SET_INFLIGHT_FD hands a region back, after a restart
 * of the back end (QEMU's vhost-user-blk sends it at every start). Each
 * queue's part goes to the device (set_vq_inflight) when the ring is
 * programmed; the ring core marks and resubmits in it (lib/virtio/
 * vring_inflight.c). Offered only for devices whose parent tracks.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uvdpa/virtqueue.h>

#include "vu_internal.h"

void vu_inflight_clear(struct vu_backend *b)
{
	if (b->inflight_map) {
		vu_mem_unguard(b->inflight_map);
		munmap(b->inflight_map, b->inflight_len);
	}
	if (b->inflight_fd >= 0)
		close(b->inflight_fd);
	b->inflight_map = NULL;
	b->inflight_fd = -1;
	b->inflight_len = 0;
	b->inflight_queues = b->inflight_qsize = 0;
}

/* What a front end asks for: no more queues than the device has. */
static int vu_inflight_check(struct vu_backend *b, const struct vu_inflight *i)
{
	if (!i->num_queues || i->num_queues > b->nvrings || !i->queue_size ||
	    i->queue_size > VQ_MAX_SIZE ||
	    (i->queue_size & (i->queue_size - 1)))
		return -EINVAL;
	for (unsigned int q = 0; q < b->nvrings; q++)
		if (b->vrings[q].ready)
			return -EBUSY; /* a running queue keeps its region */
	return 0;
}

static int vu_inflight_map(struct vu_backend *b, int fd, size_t len,
			   uint64_t offset, const struct vu_inflight *i)
{
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)offset);

	if (map == MAP_FAILED)
		return -errno;
	/* the front end can shrink the fd as it can a memory region's */
	if (vu_mem_guard(b, map, len)) {
		munmap(map, len);
		return -ENOMEM;
	}
	vu_inflight_clear(b);
	b->inflight_fd = fd;
	b->inflight_map = map;
	b->inflight_len = len;
	b->inflight_queues = i->num_queues;
	b->inflight_qsize = i->queue_size;
	return 0;
}

int vu_inflight_get(struct vu_backend *b, struct vu_msg *msg)
{
	struct vu_inflight *i = &msg->payload.inflight;
	size_t len = (size_t)i->num_queues * vq_inflight_size(i->queue_size);
	int fd, ret = vu_inflight_check(b, i);

	if (ret)
		return ret;
	fd = memfd_create("uvdpa-inflight", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len)) { /* zeroed: nothing in flight */
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = vu_inflight_map(b, fd, len, 0, i);
	if (ret) {
		close(fd);
		return ret;
	}
	i->mmap_size = len;
	i->mmap_offset = 0;
	msg->hdr.size = sizeof(*i);
	b->reply_fd = fd; /* the front end gets its own copy */
	return 0;
}

int vu_inflight_set(struct vu_backend *b, struct vu_msg *msg)
{
	const struct vu_inflight *i = &msg->payload.inflight;
	size_t len = (size_t)i->num_queues * vq_inflight_size(i->queue_size);
	struct stat st;
	int ret = vu_inflight_check(b, i);

	if (ret)
		return ret;
	if (i->mmap_size != len || fstat(msg->fds[0], &st) ||
	    i->mmap_offset > (uint64_t)st.st_size ||
	    len > (uint64_t)st.st_size - i->mmap_offset ||
	    (i->mmap_offset & 4095))
		return -EINVAL; /* not a region we made, or cut short */
	ret = vu_inflight_map(b, msg->fds[0], len, i->mmap_offset, i);
	if (!ret)
		msg->fds[0] = -1; /* kept */
	return ret;
}

int vu_inflight_program(struct vu_backend *b, unsigned int idx)
{
	struct vdpa_device *vdev = b->vdev;
	struct vq_inflight_split *r = NULL;

	if (!vdev->config->set_vq_inflight)
		return 0;
	if (b->inflight_map && idx < b->inflight_queues &&
	    b->vrings[idx].num == b->inflight_qsize)
		r = (void *)((char *)b->inflight_map +
			     idx * vq_inflight_size(b->inflight_qsize));
	return vdpa_set_vq_inflight(vdev, (uint16_t)idx, r);
}
