// SPDX-License-Identifier: MIT
/*
 * Checked, locked access to a device's config ops: what bus drivers call.
 * The rules of the kernel's vdpa core and vhost-vdpa live here once, so
 * every bus driver gets them (reference §1.8, §11 items 7 and 8):
 *  - status bits are only ever added; writing 0 resets;
 *  - features are frozen once FEATURES_OK is set;
 *  - ring addresses and state are set before DRIVER_OK, or while suspended,
 *    and a queue's state before the queue is enabled;
 *  - a queue index beyond nvqs is -ENOBUFS.
 */
#include <errno.h>

#include <uvdpa/vdpa.h>

static int vdpa_check_vq(const struct vdpa_device *vdev, uint16_t idx)
{
	return idx < vdev->nvqs ? 0 : -ENOBUFS;
}

/* cf_lock held for writing. */
static void vdpa_set_features_locked(struct vdpa_device *vdev,
				     uint64_t features, int *ret)
{
	vdev->features_valid = true;
	*ret = vdev->config->set_driver_features(vdev, features);
}

static bool vdpa_config_range_ok(struct vdpa_device *vdev, unsigned int offset,
				 unsigned int len)
{
	size_t size = vdev->config->get_config_size(vdev);

	return offset <= size && len <= size - offset;
}

int vdpa_get_config(struct vdpa_device *vdev, unsigned int offset, void *buf,
		    unsigned int len)
{
	int ret = 0;

	if (!vdpa_config_range_ok(vdev, offset, len))
		return -EINVAL;
	pthread_rwlock_rdlock(&vdev->cf_lock);
	if (!vdev->features_valid) {
		pthread_rwlock_unlock(&vdev->cf_lock);
		pthread_rwlock_wrlock(&vdev->cf_lock);
		/*
		 * Config read before features were set: a legacy driver, as
		 * the kernel assumes; features become 0 and valid.
		 */
		if (!vdev->features_valid)
			vdpa_set_features_locked(vdev, 0, &ret);
	}
	vdev->config->get_config(vdev, offset, buf, len);
	pthread_rwlock_unlock(&vdev->cf_lock);
	return 0;
}

int vdpa_set_config(struct vdpa_device *vdev, unsigned int offset,
		    const void *buf, unsigned int len)
{
	if (!vdpa_config_range_ok(vdev, offset, len))
		return -EINVAL;
	pthread_rwlock_wrlock(&vdev->cf_lock);
	vdev->config->set_config(vdev, offset, buf, len);
	pthread_rwlock_unlock(&vdev->cf_lock);
	return 0;
}

uint8_t vdpa_get_status(struct vdpa_device *vdev)
{
	uint8_t status;

	pthread_rwlock_rdlock(&vdev->cf_lock);
	status = vdev->config->get_status(vdev);
	pthread_rwlock_unlock(&vdev->cf_lock);
	return status;
}

/* cf_lock held for writing. */
static int vdpa_reset_locked(struct vdpa_device *vdev, uint32_t flags)
{
	vdev->features_valid = false;
	vdev->suspended = false;
	if (flags && vdev->config->compat_reset)
		return vdev->config->compat_reset(vdev, flags);
	return vdev->config->reset(vdev);
}

int vdpa_reset(struct vdpa_device *vdev, uint32_t flags)
{
	int ret;

	pthread_rwlock_wrlock(&vdev->cf_lock);
	ret = vdpa_reset_locked(vdev, flags);
	pthread_rwlock_unlock(&vdev->cf_lock);
	return ret;
}

int vdpa_set_status(struct vdpa_device *vdev, uint8_t status)
{
	uint8_t old;
	int ret = 0;

	pthread_rwlock_wrlock(&vdev->cf_lock);
	old = vdev->config->get_status(vdev);
	if (status == 0)
		ret = vdpa_reset_locked(vdev, 0);
	else if (old & ~status)
		ret = -EINVAL; /* only a reset clears bits */
	else
		vdev->config->set_status(vdev, status);
	pthread_rwlock_unlock(&vdev->cf_lock);
	return ret;
}

int vdpa_set_features(struct vdpa_device *vdev, uint64_t features)
{
	int ret;

	pthread_rwlock_wrlock(&vdev->cf_lock);
	if (vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK)
		ret = -EBUSY;
	else
		vdpa_set_features_locked(vdev, features, &ret);
	pthread_rwlock_unlock(&vdev->cf_lock);
	return ret;
}

/*
 * Suspend and resume are no-ops before DRIVER_OK, even for a parent without
 * the ops: vhost-vdpa looks at the status before it looks for the op.
 */
static int vdpa_suspend_resume(struct vdpa_device *vdev, bool suspend)
{
	const struct vdpa_config_ops *ops = vdev->config;
	int ret = 0;

	pthread_rwlock_wrlock(&vdev->cf_lock);
	if (!(ops->get_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
		goto out_unlock;
	if (!ops->suspend) {
		ret = -EOPNOTSUPP;
		goto out_unlock;
	}
	if (vdev->suspended != suspend)
		ret = suspend ? ops->suspend(vdev) : ops->resume(vdev);
	if (!ret)
		vdev->suspended = suspend;
out_unlock:
	pthread_rwlock_unlock(&vdev->cf_lock);
	return ret;
}

int vdpa_suspend(struct vdpa_device *vdev)
{
	return vdpa_suspend_resume(vdev, true);
}

int vdpa_resume(struct vdpa_device *vdev)
{
	return vdpa_suspend_resume(vdev, false);
}

uint16_t vdpa_get_vq_num_min(struct vdpa_device *vdev)
{
	if (vdev->config->get_vq_num_min)
		return vdev->config->get_vq_num_min(vdev);
	return 1;
}

int vdpa_set_vq_num(struct vdpa_device *vdev, uint16_t idx, uint32_t num)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	if (!is_power_of_2(num) || num > vdev->config->get_vq_num_max(vdev) ||
	    num < vdpa_get_vq_num_min(vdev))
		return -EINVAL;
	vdev->config->set_vq_num(vdev, idx, num);
	return 0;
}

/*
 * Ring programming is refused while the data path runs; a queue's state
 * also while the queue is enabled, since enabling latched it and a later
 * one would be lost.
 */
static int vdpa_check_vq_stopped(struct vdpa_device *vdev, uint16_t idx,
				 bool state)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	pthread_rwlock_rdlock(&vdev->cf_lock);
	if (vdev->suspended)
		ret = 0;
	else if (vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK)
		ret = -EINVAL;
	else if (state && vdev->config->get_vq_ready(vdev, idx))
		ret = -EBUSY;
	pthread_rwlock_unlock(&vdev->cf_lock);
	return ret;
}

int vdpa_set_vq_address(struct vdpa_device *vdev, uint16_t idx, uint64_t desc,
			uint64_t driver, uint64_t device)
{
	int ret = vdpa_check_vq_stopped(vdev, idx, false);

	if (ret)
		return ret;
	return vdev->config->set_vq_address(vdev, idx, desc, driver, device);
}

int vdpa_set_vq_state(struct vdpa_device *vdev, uint16_t idx,
		      const struct vdpa_vq_state *state)
{
	int ret = vdpa_check_vq_stopped(vdev, idx, true);

	if (ret)
		return ret;
	return vdev->config->set_vq_state(vdev, idx, state);
}

int vdpa_get_vq_state(struct vdpa_device *vdev, uint16_t idx,
		      struct vdpa_vq_state *state)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	return vdev->config->get_vq_state(vdev, idx, state);
}

int vdpa_set_vq_ready(struct vdpa_device *vdev, uint16_t idx, bool ready)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	vdev->config->set_vq_ready(vdev, idx, ready);
	return 0;
}

int vdpa_set_vq_cb(struct vdpa_device *vdev, uint16_t idx,
		   const struct vdpa_callback *cb)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	vdev->config->set_vq_cb(vdev, idx, cb);
	return 0;
}

int vdpa_set_vq_kickfd(struct vdpa_device *vdev, uint16_t idx, int fd)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	if (!vdev->config->set_vq_kickfd)
		return -EOPNOTSUPP;
	return vdev->config->set_vq_kickfd(vdev, idx, fd);
}

int vdpa_set_vq_callfd(struct vdpa_device *vdev, uint16_t idx, int fd)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	if (!vdev->config->set_vq_callfd)
		return -EOPNOTSUPP;
	return vdev->config->set_vq_callfd(vdev, idx, fd);
}

int vdpa_set_vq_inflight(struct vdpa_device *vdev, uint16_t idx,
			 struct vq_inflight_split *region)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	if (!vdev->config->set_vq_inflight)
		return region ? -EOPNOTSUPP : 0;
	return vdev->config->set_vq_inflight(vdev, idx, region);
}

int vdpa_kick_vq(struct vdpa_device *vdev, uint16_t idx)
{
	int ret = vdpa_check_vq(vdev, idx);

	if (ret)
		return ret;
	vdev->config->kick_vq(vdev, idx);
	return 0;
}
