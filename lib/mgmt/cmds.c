// SPDX-License-Identifier: MIT
/*
 * The vdpa family's commands (Linux drivers/vdpa/vdpa.c vdpa_nl_ops): each
 * handler checks in the kernel's order, with the kernel's errno and
 * message (reference §1.5, §1.6), and replies with the kernel's
 * attributes in the kernel's order (§1.4).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "mgmt/internal.h"

#define VDPA_NET_CTRL_MQ_VQ_PAIRS_MAX 0x8000

static struct vdpa_bus *req_bus(struct mgmt_req *req)
{
	return req->srv->bus;
}

static uint16_t dump_flags(const struct mgmt_req *req, bool dump)
{
	return dump ? NLM_F_MULTI : 0;
}

/* ---- MGMTDEV_GET ---- */

static int mgmtdev_fill(struct mgmt_req *req, struct vdpa_mgmt_dev *m,
			bool dump)
{
	struct nlmsghdr *nlh = mgmt_msg_start(req, VDPA_CMD_MGMTDEV_NEW,
					      dump_flags(req, dump));

	if ((m->bus_name &&
	     mgmt_put_str(nlh, VDPA_ATTR_MGMTDEV_BUS_NAME, m->bus_name)) ||
	    mgmt_put_str(nlh, VDPA_ATTR_MGMTDEV_DEV_NAME, m->dev_name) ||
	    mgmt_put_u64(nlh, VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES,
			 vdpa_mgmtdev_classes(m)) ||
	    mgmt_put_u32(nlh, VDPA_ATTR_DEV_MGMTDEV_MAX_VQS,
			 m->max_supported_vqs) ||
	    mgmt_put_u64(nlh, VDPA_ATTR_DEV_SUPPORTED_FEATURES,
			 m->supported_features))
		return -EMSGSIZE;
	return mgmt_msg_end(req, nlh);
}

/* The mgmtdev a request names (reference §1.7); bus->lock held. */
static struct vdpa_mgmt_dev *req_mgmtdev(struct mgmt_req *req)
{
	char bus[VDPA_NAME_MAX], dev[VDPA_NAME_MAX];
	bool has_bus = mgmt_attr_str(req, VDPA_ATTR_MGMTDEV_BUS_NAME, bus,
				     sizeof(bus));

	if (!mgmt_attr_str(req, VDPA_ATTR_MGMTDEV_DEV_NAME, dev, sizeof(dev)))
		return NULL;
	return vdpa_mgmtdev_find(req_bus(req), has_bus ? bus : NULL, dev);
}

static int mgmtdev_get_doit(struct mgmt_req *req)
{
	struct vdpa_mgmt_dev *m;
	int ret;

	vdpa_bus_read_lock(req_bus(req));
	m = req_mgmtdev(req);
	if (!m) {
		mgmt_err(req, "Fail to find the specified mgmt device");
		ret = req->tb[VDPA_ATTR_MGMTDEV_DEV_NAME] ? -ENODEV : -EINVAL;
	} else {
		ret = mgmtdev_fill(req, m, false);
	}
	vdpa_bus_read_unlock(req_bus(req));
	return ret;
}

static int mgmtdev_get_dumpit(struct mgmt_req *req)
{
	struct vdpa_mgmt_dev *m;
	int ret = 0;

	vdpa_bus_read_lock(req_bus(req));
	vdpa_bus_for_each_mgmtdev(m, req_bus(req))
		if ((ret = mgmtdev_fill(req, m, true)))
			break;
	vdpa_bus_read_unlock(req_bus(req));
	return ret;
}

/* ---- DEV_GET ---- */

static int dev_fill_ext(struct mgmt_req *req, struct nlmsghdr *nlh,
			struct vdpa_device *vdev)
{
	struct mgmt_dev_info info = {
		.driver = vdev->driver ? vdev->driver->name : NULL,
	};

	if (req->srv->hooks.dev_info)
		req->srv->hooks.dev_info(req->srv->hooks_ctx, vdev, &info);
	if (info.driver &&
	    mgmt_put_str(nlh, UVDPA_ATTR_DEV_DRIVER, info.driver))
		return -EMSGSIZE;
	if (info.endpoint &&
	    mgmt_put_str(nlh, UVDPA_ATTR_DEV_ENDPOINT, info.endpoint))
		return -EMSGSIZE;
	return 0;
}

static int dev_fill(struct mgmt_req *req, struct vdpa_device *vdev, bool dump)
{
	const struct vdpa_config_ops *ops = vdev->config;
	struct vdpa_mgmt_dev *m = vdev->mdev;
	struct nlmsghdr *nlh =
		mgmt_msg_start(req, VDPA_CMD_DEV_NEW, dump_flags(req, dump));

	if ((m->bus_name &&
	     mgmt_put_str(nlh, VDPA_ATTR_MGMTDEV_BUS_NAME, m->bus_name)) ||
	    mgmt_put_str(nlh, VDPA_ATTR_MGMTDEV_DEV_NAME, m->dev_name) ||
	    mgmt_put_str(nlh, VDPA_ATTR_DEV_NAME, vdev->name) ||
	    mgmt_put_u32(nlh, VDPA_ATTR_DEV_ID, ops->get_device_id(vdev)) ||
	    mgmt_put_u32(nlh, VDPA_ATTR_DEV_VENDOR_ID,
			 ops->get_vendor_id(vdev)) ||
	    mgmt_put_u32(nlh, VDPA_ATTR_DEV_MAX_VQS, vdev->nvqs) ||
	    mgmt_put_u16(nlh, VDPA_ATTR_DEV_MAX_VQ_SIZE,
			 ops->get_vq_num_max(vdev)) ||
	    mgmt_put_u16(nlh, VDPA_ATTR_DEV_MIN_VQ_SIZE,
			 vdpa_get_vq_num_min(vdev)) ||
	    dev_fill_ext(req, nlh, vdev))
		return -EMSGSIZE;
	return mgmt_msg_end(req, nlh);
}

/*
 * The device a doit names: -EINVAL without a name, -ENODEV "device not
 * found", -EINVAL (@unmanaged_msg, if any) for a device no mgmtdev made.
 * bus->lock held.
 */
static int req_device(struct mgmt_req *req, const char *unmanaged_msg,
		      struct vdpa_device **out)
{
	char name[VDPA_NAME_MAX];
	struct vdpa_device *vdev;

	if (!req->tb[VDPA_ATTR_DEV_NAME])
		return -EINVAL;
	if (!mgmt_attr_str(req, VDPA_ATTR_DEV_NAME, name, sizeof(name)) ||
	    !(vdev = vdpa_find_device(req_bus(req), name))) {
		mgmt_err(req, "device not found");
		return -ENODEV;
	}
	if (!vdev->mdev) {
		if (unmanaged_msg)
			mgmt_err(req, "%s", unmanaged_msg);
		return -EINVAL;
	}
	*out = vdev;
	return 0;
}

int mgmt_req_device(struct mgmt_req *req, const char *unmanaged_msg,
		    struct vdpa_device **vdev)
{
	return req_device(req, unmanaged_msg, vdev);
}

static int dev_get_doit(struct mgmt_req *req)
{
	struct vdpa_device *vdev;
	int ret;

	vdpa_bus_read_lock(req_bus(req));
	ret = req_device(req, NULL, &vdev);
	if (!ret)
		ret = dev_fill(req, vdev, false);
	vdpa_bus_read_unlock(req_bus(req));
	return ret;
}

static int dev_get_dumpit(struct mgmt_req *req)
{
	struct vdpa_device *vdev;
	int ret = 0;

	vdpa_bus_read_lock(req_bus(req));
	vdpa_bus_for_each_device(vdev, req_bus(req)) {
		if (!vdev->mdev)
			continue;
		if ((ret = dev_fill(req, vdev, true)))
			break;
	}
	vdpa_bus_read_unlock(req_bus(req));
	return ret;
}

/* ---- DEV_CONFIG_GET ---- */

static bool has(uint64_t features, unsigned int bit)
{
	return features & BIT_ULL(bit);
}

static int net_config_fill(struct nlmsghdr *nlh, struct vdpa_device *vdev,
			   uint64_t features)
{
	struct virtio_net_config c;

	memset(&c, 0, sizeof(c));
	vdpa_get_config(
		vdev, 0, &c,
		vdev->config->get_config_size(vdev) < sizeof(c)
			? (unsigned int)vdev->config->get_config_size(vdev)
			: sizeof(c));
	if (mgmt_put_u64(nlh, VDPA_ATTR_DEV_FEATURES, features) ||
	    (has(features, VIRTIO_NET_F_MTU) &&
	     mgmt_put_u16(nlh, VDPA_ATTR_DEV_NET_CFG_MTU, le16toh(c.mtu))) ||
	    (has(features, VIRTIO_NET_F_MAC) &&
	     mgmt_put(nlh, VDPA_ATTR_DEV_NET_CFG_MACADDR, 6, c.mac)) ||
	    /* a u16, whatever the uapi comment says (reference §1.3) */
	    (has(features, VIRTIO_NET_F_STATUS) &&
	     mgmt_put_u16(nlh, VDPA_ATTR_DEV_NET_STATUS, le16toh(c.status))) ||
	    ((has(features, VIRTIO_NET_F_MQ) ||
	      has(features, VIRTIO_NET_F_RSS)) &&
	     mgmt_put_u16(nlh, VDPA_ATTR_DEV_NET_CFG_MAX_VQP,
			  le16toh(c.max_virtqueue_pairs))))
		return -EMSGSIZE;
	return 0;
}

static int blk_topology_fill(struct nlmsghdr *nlh,
			     const struct virtio_blk_config *c)
{
	return mgmt_put_u8(nlh, VDPA_ATTR_DEV_BLK_CFG_PHY_BLK_EXP,
			   c->physical_block_exp) ||
	       mgmt_put_u8(nlh, VDPA_ATTR_DEV_BLK_CFG_ALIGN_OFFSET,
			   c->alignment_offset) ||
	       mgmt_put_u16(nlh, VDPA_ATTR_DEV_BLK_CFG_MIN_IO_SIZE,
			    le16toh(c->min_io_size)) ||
	       mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_OPT_IO_SIZE,
			    le32toh(c->opt_io_size));
}

static int blk_discard_fill(struct nlmsghdr *nlh,
			    const struct virtio_blk_config *c, uint64_t f)
{
	if (has(f, VIRTIO_BLK_F_DISCARD) &&
	    (mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEC,
			  le32toh(c->max_discard_sectors)) ||
	     mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEG,
			  le32toh(c->max_discard_seg)) ||
	     mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_DISCARD_SEC_ALIGN,
			  le32toh(c->discard_sector_alignment))))
		return -EMSGSIZE;
	if (has(f, VIRTIO_BLK_F_WRITE_ZEROES) &&
	    (mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEC,
			  le32toh(c->max_write_zeroes_sectors)) ||
	     mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEG,
			  le32toh(c->max_write_zeroes_seg))))
		return -EMSGSIZE;
	return 0;
}

static int blk_config_fill(struct nlmsghdr *nlh, struct vdpa_device *vdev,
			   uint64_t f)
{
	struct virtio_blk_config c;
	size_t size = vdev->config->get_config_size(vdev);

	memset(&c, 0, sizeof(c));
	vdpa_get_config(vdev, 0, &c,
			size < sizeof(c) ? (unsigned int)size : sizeof(c));
	if (mgmt_put_u64(nlh, VDPA_ATTR_DEV_FEATURES, f) ||
	    mgmt_put_u64(nlh, VDPA_ATTR_DEV_BLK_CFG_CAPACITY,
			 le64toh(c.capacity)) ||
	    (has(f, VIRTIO_BLK_F_SIZE_MAX) &&
	     mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_SIZE_MAX,
			  le32toh(c.size_max))) ||
	    (has(f, VIRTIO_BLK_F_BLK_SIZE) &&
	     mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_BLK_SIZE,
			  le32toh(c.blk_size))) ||
	    (has(f, VIRTIO_BLK_F_SEG_MAX) &&
	     mgmt_put_u32(nlh, VDPA_ATTR_DEV_BLK_CFG_SEG_MAX,
			  le32toh(c.seg_max))) ||
	    (has(f, VIRTIO_BLK_F_MQ) &&
	     mgmt_put_u16(nlh, VDPA_ATTR_DEV_BLK_CFG_NUM_QUEUES,
			  le16toh(c.num_queues))) ||
	    (has(f, VIRTIO_BLK_F_TOPOLOGY) && blk_topology_fill(nlh, &c)) ||
	    blk_discard_fill(nlh, &c, f) ||
	    mgmt_put_u8(nlh, VDPA_ATTR_DEV_BLK_READ_ONLY,
			has(f, VIRTIO_BLK_F_RO)) ||
	    mgmt_put_u8(nlh, VDPA_ATTR_DEV_BLK_FLUSH,
			has(f, VIRTIO_BLK_F_FLUSH)))
		return -EMSGSIZE;
	return 0;
}

static int config_fill(struct mgmt_req *req, struct vdpa_device *vdev,
		       bool dump)
{
	const struct vdpa_config_ops *ops = vdev->config;
	struct nlmsghdr *nlh = mgmt_msg_start(req, VDPA_CMD_DEV_CONFIG_GET,
					      dump_flags(req, dump));
	uint32_t id = ops->get_device_id(vdev);
	uint64_t features = ops->get_device_features(vdev);
	int ret;

	if (mgmt_put_str(nlh, VDPA_ATTR_DEV_NAME, vdev->name) ||
	    mgmt_put_u32(nlh, VDPA_ATTR_DEV_ID, id))
		return -EMSGSIZE;
	/* negotiated features exist only once the driver said FEATURES_OK */
	if ((vdpa_get_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    mgmt_put_u64(nlh, VDPA_ATTR_DEV_NEGOTIATED_FEATURES,
			 ops->get_driver_features(vdev)))
		return -EMSGSIZE;
	if (id == VIRTIO_ID_NET)
		ret = net_config_fill(nlh, vdev, features);
	else if (id == VIRTIO_ID_BLOCK)
		ret = blk_config_fill(nlh, vdev, features);
	else
		ret = -EOPNOTSUPP;
	return ret ? ret : mgmt_msg_end(req, nlh);
}

static int config_get_doit(struct mgmt_req *req)
{
	struct vdpa_device *vdev;
	int ret;

	vdpa_bus_read_lock(req_bus(req));
	ret = req_device(req, "unmanaged vdpa device", &vdev);
	if (!ret)
		ret = config_fill(req, vdev, false);
	vdpa_bus_read_unlock(req_bus(req));
	return ret;
}

static int config_get_dumpit(struct mgmt_req *req)
{
	struct vdpa_device *vdev;

	vdpa_bus_read_lock(req_bus(req));
	vdpa_bus_for_each_device(vdev, req_bus(req)) {
		/* the kernel stops at the first error, keeping what it has */
		if (vdev->mdev && config_fill(req, vdev, true))
			break;
	}
	vdpa_bus_read_unlock(req_bus(req));
	return 0;
}

/* ---- DEV_VSTATS_GET ---- */

struct vstats_msg {
	struct vdpa_stats_writer w;
	struct nlmsghdr *nlh;
};

static int vstats_put(struct vdpa_stats_writer *w, const char *name,
		      uint64_t value)
{
	struct vstats_msg *m = container_of(w, struct vstats_msg, w);

	if (mgmt_put_str(m->nlh, VDPA_ATTR_DEV_VENDOR_ATTR_NAME, name) ||
	    mgmt_put_u64(m->nlh, VDPA_ATTR_DEV_VENDOR_ATTR_VALUE, value))
		return -EMSGSIZE;
	return 0;
}

static int vstats_fill(struct mgmt_req *req, struct vdpa_device *vdev,
		       uint32_t index)
{
	const struct vdpa_config_ops *ops = vdev->config;
	uint64_t features = ops->get_driver_features(vdev);
	struct vstats_msg m = { .w = { vstats_put } };
	struct virtio_net_config c = { 0 };
	int ret;

	m.nlh = mgmt_msg_start(req, VDPA_CMD_DEV_VSTATS_GET, 0);
	if (mgmt_put_str(m.nlh, VDPA_ATTR_DEV_NAME, vdev->name) ||
	    mgmt_put_u32(m.nlh, VDPA_ATTR_DEV_ID, ops->get_device_id(vdev)) ||
	    mgmt_put_u64(m.nlh, VDPA_ATTR_DEV_NEGOTIATED_FEATURES, features))
		return -EMSGSIZE;
	if (has(features, VIRTIO_NET_F_MQ) || has(features, VIRTIO_NET_F_RSS)) {
		vdpa_get_config(vdev, 0, &c, sizeof(c));
		if (mgmt_put_u16(m.nlh, VDPA_ATTR_DEV_NET_CFG_MAX_VQP,
				 le16toh(c.max_virtqueue_pairs)))
			return -EMSGSIZE;
	}
	if (mgmt_put_u32(m.nlh, VDPA_ATTR_DEV_QUEUE_INDEX, index))
		return -EMSGSIZE;
	ret = ops->get_vendor_vq_stats(vdev, (uint16_t)index, &m.w,
				       &req->ext_ack);
	return ret ? ret : mgmt_msg_end(req, m.nlh);
}

/*
 * The kernel answers EOPNOTSUPP for every class but net; uvdpa's block
 * parents keep per-queue counters too (an addition, DESIGN.md).
 */
static int vstats_check(struct mgmt_req *req, struct vdpa_device *vdev,
			uint32_t index)
{
	uint32_t id = vdev->config->get_device_id(vdev);

	if (id != VIRTIO_ID_NET && id != VIRTIO_ID_BLOCK)
		return -EOPNOTSUPP;
	if (!vdev->config->get_vendor_vq_stats)
		return -EOPNOTSUPP;
	if (id == VIRTIO_ID_BLOCK) {
		/* counters before negotiation are zeros, not an error */
		if (index < vdev->nvqs)
			return 0;
		mgmt_err(req, "queue index exceeds the %u queues of %s",
			 vdev->nvqs, vdev->name);
		return -ERANGE;
	}
	if (index > VDPA_NET_CTRL_MQ_VQ_PAIRS_MAX) {
		mgmt_err(req, "queue index exceeds max value");
		return -ERANGE;
	}
	if (!(vdpa_get_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		mgmt_err(req, "feature negotiation not complete");
		return -EAGAIN;
	}
	return 0;
}

static int vstats_get_doit(struct mgmt_req *req)
{
	const struct nlattr *qidx = req->tb[VDPA_ATTR_DEV_QUEUE_INDEX];
	struct vdpa_device *vdev;
	int ret;

	if (!req->tb[VDPA_ATTR_DEV_NAME] || !qidx)
		return -EINVAL;
	vdpa_bus_read_lock(req_bus(req));
	ret = req_device(req, "unmanaged vdpa device", &vdev);
	if (!ret)
		ret = vstats_check(req, vdev, mnl_attr_get_u32(qidx));
	if (!ret)
		ret = vstats_fill(req, vdev, mnl_attr_get_u32(qidx));
	vdpa_bus_read_unlock(req_bus(req));
	return ret;
}

/* ---- DEV_NEW ---- */

#define NET_ATTRS_MASK                                                         \
	(BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR) |                              \
	 BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU) |                                  \
	 BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MAX_VQP))

/* Steps 2-5 of reference §1.5: what the attributes ask for. */
static int dev_new_config(struct mgmt_req *req, struct vdpa_dev_set_config *c)
{
	const struct nlattr *const *tb = req->tb;
	uint64_t missing = 0;

	if (tb[VDPA_ATTR_DEV_NET_CFG_MACADDR]) {
		memcpy(c->net.mac,
		       mnl_attr_get_payload(tb[VDPA_ATTR_DEV_NET_CFG_MACADDR]),
		       6);
		c->mask |= BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR);
	}
	if (tb[VDPA_ATTR_DEV_NET_CFG_MTU]) {
		c->net.mtu = mnl_attr_get_u16(tb[VDPA_ATTR_DEV_NET_CFG_MTU]);
		c->mask |= BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU);
	}
	if (tb[VDPA_ATTR_DEV_NET_CFG_MAX_VQP]) {
		c->net.max_vq_pairs =
			mnl_attr_get_u16(tb[VDPA_ATTR_DEV_NET_CFG_MAX_VQP]);
		if (!c->net.max_vq_pairs) {
			mgmt_err(req, "At least one pair of VQs is required");
			return -EINVAL;
		}
		c->mask |= BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MAX_VQP);
	}
	if (!tb[VDPA_ATTR_DEV_FEATURES])
		return 0;
	c->device_features = mnl_attr_get_u64(tb[VDPA_ATTR_DEV_FEATURES]);
	if ((c->mask & BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR)) &&
	    !has(c->device_features, VIRTIO_NET_F_MAC))
		missing |= BIT_ULL(VIRTIO_NET_F_MAC);
	if ((c->mask & BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU)) &&
	    !has(c->device_features, VIRTIO_NET_F_MTU))
		missing |= BIT_ULL(VIRTIO_NET_F_MTU);
	if (c->net.max_vq_pairs > 1 &&
	    !has(c->device_features, VIRTIO_NET_F_MQ))
		missing |= BIT_ULL(VIRTIO_NET_F_MQ);
	if (missing) {
		mgmt_err(req, "Missing features 0x%llx for provided attributes",
			 (unsigned long long)missing);
		return -EINVAL;
	}
	c->mask |= BIT_ULL(VDPA_ATTR_DEV_FEATURES);
	return 0;
}

/* Features above the transport range, or below it, are the class's own. */
#define DEVICE_SPECIFIC_MASK                                                   \
	((~0ULL << (UVDPA_TRANSPORT_F_END + 1)) |                              \
	 ((1ULL << VIRTIO_TRANSPORT_F_START) - 1))

/* Bus driver attributes: every management device takes them. */
#define BUS_EXT_ATTRS                                                          \
	(UVDPA_EXT_BIT(UVDPA_ATTR_DEV_DRIVER) |                                \
	 UVDPA_EXT_BIT(UVDPA_ATTR_DEV_SOCK_OWNER) |                            \
	 UVDPA_EXT_BIT(UVDPA_ATTR_DEV_SOCK_GROUP) |                            \
	 UVDPA_EXT_BIT(UVDPA_ATTR_DEV_SOCK_MODE) |                             \
	 UVDPA_EXT_BIT(UVDPA_ATTR_DEV_IFNAME))

static const struct nlattr *ext_attr(const struct mgmt_req *req,
				     unsigned int type)
{
	return req->ext[type - UVDPA_ATTR_EXT_FIRST];
}

static const char *ext_str(const struct mgmt_req *req, unsigned int type)
{
	const struct nlattr *a = ext_attr(req, type);

	return a ? mnl_attr_get_str(a) : NULL; /* NUL-terminated (policy) */
}

/*
 * uvdpa's extension attributes, checked against what the management
 * device and the bus drivers take (not config_attr_mask).
 */
static int dev_new_check_ext(struct mgmt_req *req, struct vdpa_mgmt_dev *m)
{
	uint64_t takes = BUS_EXT_ATTRS | m->ext_attr_mask;
	unsigned int type = req->unknown_ext;

	for (unsigned int i = 0; !type && i < MGMT_EXT_ATTRS; i++)
		if (req->ext[i] && !(takes & BIT_ULL(i)))
			type = UVDPA_ATTR_EXT_FIRST + i;
	if (type) {
		mgmt_err(req, "Attribute 0x%x is not supported by %s", type,
			 m->dev_name);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The `blk` parent's attributes, into config->blk; the parent checks them. */
static void dev_new_blk(struct mgmt_req *req, struct vdpa_dev_set_config *c)
{
	const struct nlattr *a;

	for (unsigned int i = 0; i < MGMT_EXT_ATTRS; i++)
		if (req->ext[i])
			c->ext_mask |= BIT_ULL(i);
	c->blk.path = ext_str(req, UVDPA_ATTR_BLK_PATH);
	c->blk.serial = ext_str(req, UVDPA_ATTR_BLK_SERIAL);
	if ((a = ext_attr(req, UVDPA_ATTR_BLK_READONLY)))
		c->blk.readonly = mnl_attr_get_u8(a);
	if ((a = ext_attr(req, UVDPA_ATTR_BLK_DIRECT)))
		c->blk.direct = mnl_attr_get_u8(a);
	if ((a = ext_attr(req, UVDPA_ATTR_BLK_WRITEBACK)))
		c->blk.writeback = mnl_attr_get_u8(a);
	if ((a = ext_attr(req, UVDPA_ATTR_BLK_AIO)))
		c->blk.aio = mnl_attr_get_u8(a);
	if ((a = ext_attr(req, UVDPA_ATTR_BLK_NUM_QUEUES)))
		c->blk.num_queues = mnl_attr_get_u16(a);
	if ((a = ext_attr(req, UVDPA_ATTR_BLK_QUEUE_SIZE)))
		c->blk.queue_size = mnl_attr_get_u16(a);
	if ((a = ext_attr(req, UVDPA_ATTR_BLK_LOGICAL_BLOCK_SIZE)))
		c->blk.logical_block_size = mnl_attr_get_u32(a);
	if ((a = ext_attr(req, UVDPA_ATTR_BLK_CAPACITY)))
		c->blk.capacity = mnl_attr_get_u64(a);
}

/* The bus driver options of `dev add`. */
static int dev_new_opts(struct mgmt_req *req, struct mgmt_dev_opts *o)
{
	const struct nlattr *a;

	if ((a = ext_attr(req, UVDPA_ATTR_DEV_SOCK_OWNER))) {
		o->has_owner = true;
		o->owner = mnl_attr_get_u32(a);
	}
	if ((a = ext_attr(req, UVDPA_ATTR_DEV_SOCK_GROUP))) {
		o->has_group = true;
		o->group = mnl_attr_get_u32(a);
	}
	if ((a = ext_attr(req, UVDPA_ATTR_DEV_SOCK_MODE))) {
		o->has_mode = true;
		o->mode = mnl_attr_get_u32(a);
		if (o->mode > 07777) {
			mgmt_err(req, "mode %o is not a permission mode",
				 o->mode);
			return -EINVAL;
		}
	}
	o->driver = ext_str(req, UVDPA_ATTR_DEV_DRIVER);
	o->ifname = ext_str(req, UVDPA_ATTR_DEV_IFNAME);
	return 0;
}

/*
 * Create the device with autoprobe held off, then let the daemon bind it
 * with its options (driverctl's way: the override is set before any
 * driver sees the device). bus->lock is held for writing.
 */
static int dev_new_add(struct mgmt_req *req, struct vdpa_mgmt_dev *m,
		       const char *name, const struct vdpa_dev_set_config *c,
		       const struct mgmt_dev_opts *o)
{
	const struct mgmt_hooks *h = &req->srv->hooks;
	struct vdpa_device *vdev;
	int ret;

	if (!h->dev_new)
		return m->ops->dev_add(m, name, c, &req->ext_ack);
	ret = _vdpa_mgmtdev_dev_add_unbound(m, name, c, -1, &req->ext_ack,
					    &vdev);
	if (ret)
		return ret;
	ret = h->dev_new(req->srv->hooks_ctx, vdev, c, o, &req->ext_ack);
	if (ret)
		m->ops->dev_del(m, vdev);
	return ret;
}

/* Steps 8-10 of reference §1.5: can this mgmtdev take the request? */
static int dev_new_check_mgmtdev(struct mgmt_req *req, struct vdpa_mgmt_dev *m,
				 const struct vdpa_dev_set_config *c)
{
	uint64_t classes = vdpa_mgmtdev_classes(m);

	if ((c->mask & m->config_attr_mask) != c->mask) {
		mgmt_err(req,
			 "Some provided attributes are not supported: "
			 "0x%llx",
			 (unsigned long long)(c->mask & ~m->config_attr_mask));
		return -EOPNOTSUPP;
	}
	if ((c->mask & NET_ATTRS_MASK) && !(classes & BIT_ULL(VIRTIO_ID_NET))) {
		mgmt_err(req, "Network class attributes provided on "
			      "unsupported management device");
		return -EINVAL;
	}
	if (!(c->mask & NET_ATTRS_MASK) &&
	    (c->mask & BIT_ULL(VDPA_ATTR_DEV_FEATURES)) &&
	    (classes & BIT_ULL(VIRTIO_ID_NET)) && (classes & (classes - 1)) &&
	    (c->device_features & DEVICE_SPECIFIC_MASK)) {
		mgmt_err(req, "Management device supports multi-class while "
			      "device features specified are ambiguous");
		return -EINVAL;
	}
	return dev_new_check_ext(req, m);
}

static int dev_new_doit(struct mgmt_req *req)
{
	struct vdpa_dev_set_config c = { 0 };
	struct mgmt_dev_opts opts = { 0 };
	char name[VDPA_NAME_MAX];
	struct vdpa_mgmt_dev *m;
	int ret;

	if (!req->tb[VDPA_ATTR_DEV_NAME])
		return -EINVAL;
	if (!mgmt_attr_str(req, VDPA_ATTR_DEV_NAME, name, sizeof(name)))
		return -EINVAL; /* longer than any device name can be */
	ret = dev_new_config(req, &c);
	if (!ret)
		ret = dev_new_opts(req, &opts);
	dev_new_blk(req, &c);
	if (ret)
		return ret;
	vdpa_bus_lock(req_bus(req));
	m = req_mgmtdev(req);
	if (!m) {
		mgmt_err(req, "Fail to find the specified management device");
		ret = req->tb[VDPA_ATTR_MGMTDEV_DEV_NAME] ? -ENODEV : -EINVAL;
	} else {
		ret = dev_new_check_mgmtdev(req, m, &c);
		if (!ret)
			ret = dev_new_add(req, m, name, &c, &opts);
	}
	vdpa_bus_unlock(req_bus(req));
	return ret;
}

/* ---- DEV_DEL ---- */

static int dev_del_doit(struct mgmt_req *req)
{
	const struct mgmt_hooks *h = &req->srv->hooks;
	char name[VDPA_NAME_MAX];
	int ret;

	if (!req->tb[VDPA_ATTR_DEV_NAME])
		return -EINVAL;
	if (!mgmt_attr_str(req, VDPA_ATTR_DEV_NAME, name, sizeof(name))) {
		mgmt_err(req, "device not found");
		return -ENODEV;
	}
	vdpa_bus_lock(req_bus(req));
	ret = _vdpa_dev_del(req_bus(req), name, &req->ext_ack, h->dev_del,
			    req->srv->hooks_ctx);
	vdpa_bus_unlock(req_bus(req));
	return ret;
}

/* ---- DEV_ATTR_SET ---- */

static bool valid_ether_addr(const uint8_t *mac)
{
	static const uint8_t zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

static int attr_set_net(struct mgmt_req *req, struct vdpa_device *vdev)
{
	const struct nlattr *mac = req->tb[VDPA_ATTR_DEV_NET_CFG_MACADDR];
	struct vdpa_mgmt_dev *m = vdev->mdev;
	struct vdpa_dev_set_config c = { 0 };
	int ret = -EOPNOTSUPP;

	if (!mac)
		return ret;
	memcpy(c.net.mac, mnl_attr_get_payload(mac), 6);
	if (!valid_ether_addr(c.net.mac)) {
		mgmt_err(req, "Invalid MAC address");
		return ret;
	}
	if (!m->ops->dev_set_attr) {
		mgmt_err(req, "Operation not supported by the device.");
		return ret;
	}
	c.mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR);
	pthread_rwlock_wrlock(&vdev->cf_lock);
	ret = m->ops->dev_set_attr(m, vdev, &c, &req->ext_ack);
	pthread_rwlock_unlock(&vdev->cf_lock);
	return ret;
}

static int attr_set_doit(struct mgmt_req *req)
{
	struct vdpa_device *vdev;
	int ret;

	vdpa_bus_lock(req_bus(req));
	ret = req_device(req, "unmanaged vdpa device", &vdev);
	if (!ret) {
		if (vdpa_mgmtdev_classes(vdev->mdev) & BIT_ULL(VIRTIO_ID_NET))
			ret = attr_set_net(req, vdev);
		else
			/* the kernel warns and succeeds (reference §1.6) */
			mgmt_err(req, "%s device not supported",
				 vdev->mdev->dev_name);
	}
	vdpa_bus_unlock(req_bus(req));
	return ret;
}

const struct mgmt_cmd mgmt_cmds[] = {
	{ VDPA_CMD_MGMTDEV_GET, "mgmtdev_get", mgmtdev_get_doit,
	  mgmtdev_get_dumpit, false, false },
	{ VDPA_CMD_DEV_NEW, "dev_new", dev_new_doit, NULL, true, false },
	{ VDPA_CMD_DEV_DEL, "dev_del", dev_del_doit, NULL, true, false },
	{ VDPA_CMD_DEV_GET, "dev_get", dev_get_doit, dev_get_dumpit, false,
	  false },
	{ VDPA_CMD_DEV_CONFIG_GET, "dev_config_get", config_get_doit,
	  config_get_dumpit, false, false },
	{ VDPA_CMD_DEV_VSTATS_GET, "dev_vstats_get", vstats_get_doit, NULL,
	  true, false },
	{ VDPA_CMD_DEV_ATTR_SET, "dev_attr_set", attr_set_doit, NULL, true,
	  true },
	/* uvdpa's own (cmds_ext.c) */
	{ UVDPA_CMD_DEV_BIND, "dev_bind", mgmt_dev_bind_doit, NULL, true,
	  true },
	{ UVDPA_CMD_DEV_UNBIND, "dev_unbind", mgmt_dev_unbind_doit, NULL, true,
	  true },
	{ UVDPA_CMD_DEV_RESIZE, "dev_resize", mgmt_dev_resize_doit, NULL, true,
	  true },
};

const unsigned int mgmt_ncmds = ARRAY_SIZE(mgmt_cmds);
