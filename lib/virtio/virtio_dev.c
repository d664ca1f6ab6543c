// SPDX-License-Identifier: MIT
/*
 * The shared half of an in-process virtio driver (include/uvdpa/virtio_dev.h).
 * The steps and their order are virtio_vdpa's (reference §6).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <uvdpa/uapi.h>
#include <uvdpa/virtio_dev.h>

/* Give the arena to every address space, the way the device takes maps. */
static int virtio_dev_map(struct virtio_dev *d)
{
	const struct vdpa_config_ops *ops = d->vdev->config;
	struct vdpa_iotlb tlb;
	int ret = 0;

	if (!ops->set_map && !ops->dma_map)
		return -EOPNOTSUPP;
	vdpa_iotlb_init(&tlb, 0);
	ret = vdpa_iotlb_add(&tlb, d->mem_iova, d->mem_size, d->mem,
			     VDPA_PERM_RW);
	for (unsigned int as = 0; !ret && as < d->vdev->nas; as++) {
		if (ops->dma_map)
			ret = ops->dma_map(d->vdev, as, d->mem_iova,
					   d->mem_size, d->mem, VDPA_PERM_RW,
					   NULL);
		else
			ret = ops->set_map(d->vdev, as, &tlb);
	}
	vdpa_iotlb_clear(&tlb);
	return ret;
}

int virtio_dev_init(struct virtio_dev *d, struct vdpa_device *vdev,
		    size_t mem_size, uint64_t iova)
{
	void *mem;
	int ret;

	memset(d, 0, sizeof(*d));
	d->vdev = vdev;
	d->memfd = memfd_create("virtio-dev", MFD_CLOEXEC);
	if (d->memfd < 0)
		return -errno;
	if (ftruncate(d->memfd, (off_t)mem_size))
		goto out_errno;
	mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd,
		   0);
	if (mem == MAP_FAILED)
		goto out_errno;
	d->mem = mem;
	d->mem_size = mem_size;
	d->mem_iova = iova;
	vdpa_reset(vdev, VDPA_RESET_F_CLEAN_MAP);
	ret = virtio_dev_map(d);
	if (ret)
		goto out_done;
	return 0;

out_errno:
	ret = -errno;
out_done:
	virtio_dev_done(d);
	return ret;
}

void virtio_dev_done(struct virtio_dev *d)
{
	if (d->vdev)
		vdpa_reset(d->vdev, VDPA_RESET_F_CLEAN_MAP);
	for (uint32_t i = 0; d->vqs && i < d->nvqs; i++) {
		vq_drv_release(&d->vqs[i].drv);
		if (d->vqs[i].callfd >= 0)
			close(d->vqs[i].callfd);
	}
	free(d->vqs);
	if (d->mem)
		munmap(d->mem, d->mem_size);
	if (d->memfd >= 0)
		close(d->memfd);
	memset(d, 0, sizeof(*d));
	d->memfd = -1;
}

int virtio_dev_negotiate(struct virtio_dev *d, uint64_t want)
{
	struct vdpa_device *vdev = d->vdev;
	uint8_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	int ret;

	if ((ret = vdpa_set_status(vdev, status)))
		return ret;
	d->features = want & vdev->config->get_device_features(vdev);
	if ((ret = vdpa_set_features(vdev, d->features)))
		return ret;
	status |= VIRTIO_CONFIG_S_FEATURES_OK;
	if ((ret = vdpa_set_status(vdev, status)))
		return ret;
	/* the device may refuse the feature set by not keeping FEATURES_OK */
	if (!(vdpa_get_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK))
		return -ENODEV;
	return 0;
}

void *virtio_dev_alloc(struct virtio_dev *d, size_t size, size_t align,
		       uint64_t *iova)
{
	size_t off = (d->mem_used + align - 1) & ~(align - 1);

	if (off > d->mem_size || size > d->mem_size - off)
		return NULL;
	d->mem_used = off + size;
	if (iova)
		*iova = d->mem_iova + off;
	return d->mem + off;
}

static int virtio_vq_setup(struct virtio_dev *d, struct virtio_vq *vq,
			   uint32_t size, uint16_t ind_max)
{
	struct vdpa_vq_state state = { .split.avail_index = 0 };
	struct vdpa_device *vdev = d->vdev;
	uint64_t iova;
	void *mem;
	int ret;

	mem = virtio_dev_alloc(d, vq_drv_mem_size(size, ind_max), 4096, &iova);
	if (!mem)
		return -ENOMEM;
	ret = vq_drv_init(&vq->drv, size, d->features, mem, iova, ind_max);
	if (ret)
		return ret;
	vq->callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->callfd < 0)
		return -errno;
	if ((ret = vdpa_set_vq_callfd(vdev, vq->idx, vq->callfd)) ||
	    (ret = vdpa_set_vq_num(vdev, vq->idx, size)) ||
	    (ret = vdpa_set_vq_address(vdev, vq->idx, vq->drv.desc_iova,
				       vq->drv.avail_iova,
				       vq->drv.used_iova)) ||
	    (ret = vdpa_set_vq_state(vdev, vq->idx, &state)))
		return ret;
	return vdpa_set_vq_ready(vdev, vq->idx, true);
}

int virtio_dev_find_vqs(struct virtio_dev *d, uint32_t nvqs, uint32_t size,
			uint16_t ind_max)
{
	int ret;

	if (d->vqs || nvqs == 0 || nvqs > d->vdev->nvqs)
		return -EINVAL;
	d->vqs = calloc(nvqs, sizeof(*d->vqs));
	if (!d->vqs)
		return -ENOMEM;
	d->nvqs = nvqs;
	for (uint32_t i = 0; i < nvqs; i++) {
		d->vqs[i].idx = (uint16_t)i;
		d->vqs[i].callfd = -1;
	}
	for (uint32_t i = 0; i < nvqs; i++) {
		ret = virtio_vq_setup(d, &d->vqs[i], size, ind_max);
		if (ret)
			return ret;
	}
	return 0;
}

int virtio_dev_driver_ok(struct virtio_dev *d)
{
	return vdpa_set_status(d->vdev, vdpa_get_status(d->vdev) |
						VIRTIO_CONFIG_S_DRIVER_OK);
}

void virtio_vq_kick(struct virtio_dev *d, uint16_t idx)
{
	if (vq_drv_kick_prepare(&d->vqs[idx].drv))
		vdpa_kick_vq(d->vdev, idx);
}

int virtio_vq_wait(struct virtio_dev *d, uint16_t idx, int ms)
{
	struct pollfd pfd = { .fd = d->vqs[idx].callfd, .events = POLLIN };
	uint64_t v;
	int n = poll(&pfd, 1, ms);

	if (n <= 0)
		return 0;
	if (read(pfd.fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}
