// SPDX-License-Identifier: MIT
/*
 * Reply printers (output.h). The text and JSON are iproute2 vdpa's, its
 * quirks included (reference §2.3, §2.4, §11 item 3): trailing spaces,
 * the "link " and "link_announce " keys, bit_N names and bare numbers
 * for unnamed feature bits, the vstats queue_type guess.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <linux/genetlink.h>

#include <uvdpa/mgmt.h>
#include <uvdpa/uapi.h>

#include "json_print.h"
#include "output.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The transport feature range as iproute2 names it (bits 28..42). */
#define TRANSPORT_F_START 28
#define TRANSPORT_F_END UVDPA_TRANSPORT_F_END
#define INDENT_STEP 2
#define INDENT_MAX 32
/* iproute2 stops printing vstats at a longer vendor attribute name. */
#define VSTATS_NAME_MAX 200

static const char *const net_feature_names[64] = {
	[VIRTIO_NET_F_CSUM] = "CSUM",
	[VIRTIO_NET_F_GUEST_CSUM] = "GUEST_CSUM",
	[VIRTIO_NET_F_CTRL_GUEST_OFFLOADS] = "CTRL_GUEST_OFFLOADS",
	[VIRTIO_NET_F_MTU] = "MTU",
	[VIRTIO_NET_F_MAC] = "MAC",
	[VIRTIO_NET_F_GUEST_TSO4] = "GUEST_TSO4",
	[VIRTIO_NET_F_GUEST_TSO6] = "GUEST_TSO6",
	[VIRTIO_NET_F_GUEST_ECN] = "GUEST_ECN",
	[VIRTIO_NET_F_GUEST_UFO] = "GUEST_UFO",
	[VIRTIO_NET_F_HOST_TSO4] = "HOST_TSO4",
	[VIRTIO_NET_F_HOST_TSO6] = "HOST_TSO6",
	[VIRTIO_NET_F_HOST_ECN] = "HOST_ECN",
	[VIRTIO_NET_F_HOST_UFO] = "HOST_UFO",
	[VIRTIO_NET_F_MRG_RXBUF] = "MRG_RXBUF",
	[VIRTIO_NET_F_STATUS] = "STATUS",
	[VIRTIO_NET_F_CTRL_VQ] = "CTRL_VQ",
	[VIRTIO_NET_F_CTRL_RX] = "CTRL_RX",
	[VIRTIO_NET_F_CTRL_VLAN] = "CTRL_VLAN",
	[VIRTIO_NET_F_CTRL_RX_EXTRA] = "CTRL_RX_EXTRA",
	[VIRTIO_NET_F_GUEST_ANNOUNCE] = "GUEST_ANNOUNCE",
	[VIRTIO_NET_F_MQ] = "MQ",
	[24] = "NOTIFY_ON_EMPTY", /* VIRTIO_F_NOTIFY_ON_EMPTY (legacy) */
	[VIRTIO_NET_F_CTRL_MAC_ADDR] = "CTRL_MAC_ADDR",
	[27] = "ANY_LAYOUT", /* VIRTIO_F_ANY_LAYOUT (legacy) */
	[VIRTIO_NET_F_HASH_REPORT] = "HASH_REPORT",
	[VIRTIO_NET_F_RSS] = "RSS",
	[VIRTIO_NET_F_RSC_EXT] = "RSC_EXT",
	[VIRTIO_NET_F_STANDBY] = "STANDBY",
	[VIRTIO_NET_F_SPEED_DUPLEX] = "SPEED_DUPLEX",
};

static const char *const transport_feature_names[TRANSPORT_F_END + 1] = {
	[VIRTIO_RING_F_INDIRECT_DESC] = "RING_INDIRECT_DESC",
	[VIRTIO_RING_F_EVENT_IDX] = "RING_EVENT_IDX",
	[VIRTIO_F_VERSION_1] = "VERSION_1",
	[VIRTIO_F_ACCESS_PLATFORM] = "ACCESS_PLATFORM",
	[VIRTIO_F_RING_PACKED] = "RING_PACKED",
	[VIRTIO_F_IN_ORDER] = "IN_ORDER",
	[VIRTIO_F_ORDER_PLATFORM] = "ORDER_PLATFORM",
	[VIRTIO_F_SR_IOV] = "SR_IOV",
	[VIRTIO_F_NOTIFICATION_DATA] = "NOTIFICATION_DATA",
};

const char *cli_feature_name(unsigned int bit, bool net)
{
	if (bit >= 64)
		return NULL;
	if (bit >= TRANSPORT_F_START && bit <= TRANSPORT_F_END)
		return transport_feature_names[bit];
	return net ? net_feature_names[bit] : NULL;
}

/* ---- parsing a reply ---- */

/*
 * The attributes read, by type; a malformed one ends the parse, as in
 * iproute2. Unknown attributes are skipped, the extensions kept apart.
 */
struct cli_attrs {
	const struct nlattr *tb[UVDPA_ATTR_MAX + 1];
	const struct nlattr *driver;
	const struct nlattr *endpoint;
};

static const enum mnl_attr_data_type attr_policy[UVDPA_ATTR_MAX + 1] = {
	[VDPA_ATTR_MGMTDEV_BUS_NAME] = MNL_TYPE_NUL_STRING,
	[VDPA_ATTR_MGMTDEV_DEV_NAME] = MNL_TYPE_NUL_STRING,
	[VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES] = MNL_TYPE_U64,
	[VDPA_ATTR_DEV_NAME] = MNL_TYPE_NUL_STRING,
	[VDPA_ATTR_DEV_ID] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_VENDOR_ID] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_MAX_VQS] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_MAX_VQ_SIZE] = MNL_TYPE_U16,
	[VDPA_ATTR_DEV_NET_STATUS] = MNL_TYPE_U16,
	[VDPA_ATTR_DEV_NET_CFG_MAX_VQP] = MNL_TYPE_U16,
	[VDPA_ATTR_DEV_NET_CFG_MTU] = MNL_TYPE_U16,
	[VDPA_ATTR_DEV_NEGOTIATED_FEATURES] = MNL_TYPE_U64,
	[VDPA_ATTR_DEV_MGMTDEV_MAX_VQS] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_SUPPORTED_FEATURES] = MNL_TYPE_U64,
	[VDPA_ATTR_DEV_QUEUE_INDEX] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_VENDOR_ATTR_NAME] = MNL_TYPE_NUL_STRING,
	[VDPA_ATTR_DEV_VENDOR_ATTR_VALUE] = MNL_TYPE_U64,
	[VDPA_ATTR_DEV_BLK_CFG_CAPACITY] = MNL_TYPE_U64,
	[VDPA_ATTR_DEV_BLK_CFG_SIZE_MAX] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_CFG_BLK_SIZE] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_CFG_SEG_MAX] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_CFG_NUM_QUEUES] = MNL_TYPE_U16,
	[VDPA_ATTR_DEV_BLK_CFG_PHY_BLK_EXP] = MNL_TYPE_U8,
	[VDPA_ATTR_DEV_BLK_CFG_ALIGN_OFFSET] = MNL_TYPE_U8,
	[VDPA_ATTR_DEV_BLK_CFG_MIN_IO_SIZE] = MNL_TYPE_U16,
	[VDPA_ATTR_DEV_BLK_CFG_OPT_IO_SIZE] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEC] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEG] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_CFG_DISCARD_SEC_ALIGN] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEC] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEG] = MNL_TYPE_U32,
	[VDPA_ATTR_DEV_BLK_READ_ONLY] = MNL_TYPE_U8,
	[VDPA_ATTR_DEV_BLK_FLUSH] = MNL_TYPE_U8,
};

static int attr_valid(const struct nlattr *attr)
{
	uint16_t type = mnl_attr_get_type(attr);

	if (type == UVDPA_ATTR_DEV_DRIVER || type == UVDPA_ATTR_DEV_ENDPOINT)
		return mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0;
	if (type > UVDPA_ATTR_MAX)
		return true;
	return mnl_attr_validate(attr, attr_policy[type]) == 0;
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct cli_attrs *a = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (!attr_valid(attr))
		return MNL_CB_ERROR;
	if (type <= UVDPA_ATTR_MAX)
		a->tb[type] = attr;
	else if (type == UVDPA_ATTR_DEV_DRIVER)
		a->driver = attr;
	else if (type == UVDPA_ATTR_DEV_ENDPOINT)
		a->endpoint = attr;
	return MNL_CB_OK;
}

static void attrs_parse(const struct nlmsghdr *nlh, struct cli_attrs *a)
{
	memset(a, 0, sizeof(*a));
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), attr_cb, a);
}

/* A reply without what every reply of its kind has. */
static int malformed(void)
{
	errno = EPROTO;
	return MNL_CB_ERROR;
}

/* ---- common pieces ---- */

void cli_pr_section_start(const char *name)
{
	open_json_object(NULL);
	open_json_object(name);
}

void cli_pr_section_end(void)
{
	close_json_object();
	close_json_object();
}

/* "NAME: " in text, "NAME": { in JSON. */
static void pr_handle_start(const char *name)
{
	open_json_object(name);
	print_string(PRINT_FP, NULL, "%s: ", name);
}

static void pr_handle_end(void)
{
	close_json_object();
	print_nl();
}

/* The management device handle: "bus/dev" or "dev". */
static void mgmtdev_handle(const struct cli_attrs *a, char *buf, size_t len)
{
	const char *dev = mnl_attr_get_str(a->tb[VDPA_ATTR_MGMTDEV_DEV_NAME]);
	const struct nlattr *bus = a->tb[VDPA_ATTR_MGMTDEV_BUS_NAME];

	if (bus)
		snprintf(buf, len, "%s/%s", mnl_attr_get_str(bus), dev);
	else
		snprintf(buf, len, "%s", dev);
}

/* Text arrays go on their own indented line: "\n  name v1 v2". */
static void pr_array_start(struct cli_out *out, const char *name)
{
	static const char spaces[INDENT_MAX + 1] =
		"                                ";

	if (!is_json_context()) {
		print_nl();
		if (out->indent + INDENT_STEP <= INDENT_MAX)
			out->indent += INDENT_STEP;
		print_string(PRINT_FP, NULL, "%s",
			     spaces + INDENT_MAX - out->indent);
	}
	open_json_array(PRINT_ANY, name);
}

static void pr_array_end(struct cli_out *out)
{
	close_json_array(PRINT_JSON, NULL);
	if (!is_json_context() && out->indent >= INDENT_STEP)
		out->indent -= INDENT_STEP;
}

void cli_pr_features(struct cli_out *out, uint64_t features, bool mgmtdevf,
		     uint16_t dev_id)
{
	const char *name;
	unsigned int i;

	pr_array_start(out, mgmtdevf ? "dev_features" : "negotiated_features");
	for (i = 0; i < 64; i++) {
		if (!(features & (1ULL << i)))
			continue;
		name = cli_feature_name(i, dev_id == VIRTIO_ID_NET);
		if (name)
			print_string(PRINT_ANY, NULL, " %s", name);
		else
			print_uint(PRINT_ANY, NULL, " bit_%u", i);
	}
	pr_array_end(out);
}

/* ---- mgmtdev show ---- */

static const char *class_name(unsigned int id)
{
	switch (id) {
	case VIRTIO_ID_NET:
		return "net";
	case VIRTIO_ID_BLOCK:
		return "block";
	default:
		return "< unknown class >";
	}
}

static void pr_classes(struct cli_out *out, uint64_t classes)
{
	unsigned int i;

	pr_array_start(out, "supported_classes");
	for (i = 1; i < 64; i++) {
		if (classes & (1ULL << i))
			print_string(PRINT_ANY, NULL, " %s", class_name(i));
	}
	pr_array_end(out);
}

int cli_pr_mgmtdev(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr;
	struct cli_out *out = data;
	uint16_t dev_id = 0;
	struct cli_attrs a;
	uint64_t classes = 0;
	char handle[512];

	attrs_parse(nlh, &a);
	if (!a.tb[VDPA_ATTR_MGMTDEV_DEV_NAME])
		return malformed();
	mgmtdev_handle(&a, handle, sizeof(handle));
	pr_handle_start(handle);
	attr = a.tb[VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES];
	if (attr) {
		classes = mnl_attr_get_u64(attr);
		pr_classes(out, classes);
	}
	/* Net names for net bits only if the net class is there. */
	if (classes & (1ULL << VIRTIO_ID_NET))
		dev_id = VIRTIO_ID_NET;
	attr = a.tb[VDPA_ATTR_DEV_MGMTDEV_MAX_VQS];
	if (attr) {
		print_nl();
		print_uint(PRINT_ANY, "max_supported_vqs",
			   "  max_supported_vqs %d", mnl_attr_get_u32(attr));
	}
	/* Printed even when 0: the kernel always sends it. */
	attr = a.tb[VDPA_ATTR_DEV_SUPPORTED_FEATURES];
	if (attr)
		cli_pr_features(out, mnl_attr_get_u64(attr), true, dev_id);
	pr_handle_end();
	return MNL_CB_OK;
}

/* ---- dev show ---- */

static const char *device_type_name(uint32_t id)
{
	switch (id) {
	case VIRTIO_ID_NET:
		return "network";
	case VIRTIO_ID_BLOCK:
		return "block";
	default:
		return "<unknown type>";
	}
}

/* uvdpa's own fields come after all of iproute2's. */
static void pr_dev_extensions(const struct cli_attrs *a)
{
	if (a->driver)
		print_string(PRINT_ANY, "driver", " driver %s",
			     mnl_attr_get_str(a->driver));
	if (a->endpoint)
		print_string(PRINT_ANY, "endpoint", " endpoint %s",
			     mnl_attr_get_str(a->endpoint));
}

PRINT_FMT(3)
static void pr_dev_u32(const struct nlattr *attr, const char *key,
		       const char *fmt)
{
	if (attr)
		print_uint(PRINT_ANY, key, fmt, mnl_attr_get_u32(attr));
}

int cli_pr_dev(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr;
	struct cli_attrs a;
	char handle[512];

	attrs_parse(nlh, &a);
	if (!a.tb[VDPA_ATTR_MGMTDEV_DEV_NAME] || !a.tb[VDPA_ATTR_DEV_NAME] ||
	    !a.tb[VDPA_ATTR_DEV_ID])
		return malformed();
	mgmtdev_handle(&a, handle, sizeof(handle));
	pr_handle_start(mnl_attr_get_str(a.tb[VDPA_ATTR_DEV_NAME]));
	print_string(
		PRINT_ANY, "type", "type %s",
		device_type_name(mnl_attr_get_u32(a.tb[VDPA_ATTR_DEV_ID])));
	print_string(PRINT_ANY, "mgmtdev", " mgmtdev %s", handle);
	pr_dev_u32(a.tb[VDPA_ATTR_DEV_VENDOR_ID], "vendor_id", " vendor_id %u");
	pr_dev_u32(a.tb[VDPA_ATTR_DEV_MAX_VQS], "max_vqs", " max_vqs %u");
	attr = a.tb[VDPA_ATTR_DEV_MAX_VQ_SIZE];
	if (attr)
		print_uint(PRINT_ANY, "max_vq_size", " max_vq_size %u",
			   mnl_attr_get_u16(attr));
	pr_dev_extensions(&a);
	pr_handle_end();
	return MNL_CB_OK;
}

/* ---- dev config show ---- */

/* Lower-case "xx:xx:...", at most the 64 bytes iproute2 formats into. */
static void format_lladdr(const uint8_t *addr, size_t alen, char *buf,
			  size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < alen && used + 3 < len; i++)
		used += snprintf(buf + used, len - used, i ? ":%02x" : "%02x",
				 addr[i]);
}

static void pr_net_status(uint16_t status)
{
	/* The keys really end in a space: iproute2 passes "link ". */
	print_string(PRINT_ANY, "link ", "link %s ",
		     status & VIRTIO_NET_S_LINK_UP ? "up" : "down");
	print_bool(PRINT_ANY, "link_announce ", "link_announce %s ",
		   status & VIRTIO_NET_S_ANNOUNCE);
}

static void pr_net_config(struct cli_out *out, const struct cli_attrs *a)
{
	const struct nlattr *attr;
	char mac[64];

	attr = a->tb[VDPA_ATTR_DEV_NET_CFG_MACADDR];
	if (attr) {
		format_lladdr(mnl_attr_get_payload(attr),
			      mnl_attr_get_payload_len(attr), mac, sizeof(mac));
		print_string(PRINT_ANY, "mac", "mac %s ", mac);
	}
	attr = a->tb[VDPA_ATTR_DEV_NET_STATUS];
	if (attr)
		pr_net_status(mnl_attr_get_u16(attr));
	attr = a->tb[VDPA_ATTR_DEV_NET_CFG_MAX_VQP];
	if (attr)
		print_uint(PRINT_ANY, "max_vq_pairs", "max_vq_pairs %d ",
			   mnl_attr_get_u16(attr));
	attr = a->tb[VDPA_ATTR_DEV_NET_CFG_MTU];
	if (attr)
		print_uint(PRINT_ANY, "mtu", "mtu %d ", mnl_attr_get_u16(attr));
	attr = a->tb[VDPA_ATTR_DEV_NEGOTIATED_FEATURES];
	if (attr)
		cli_pr_features(out, mnl_attr_get_u64(attr), false,
				mnl_attr_get_u32(a->tb[VDPA_ATTR_DEV_ID]));
}

/*
 * uvdpa's addition: iproute2 prints a block device's config as "blk0: "
 * and nothing more; uvdpa prints its fields after that, on the same line,
 * named after the virtio_blk_config members (capacity in 512-byte
 * sectors, as the config holds it).
 */
static void pr_blk_config(const struct cli_attrs *a)
{
	static const struct {
		uint16_t type;
		const char *name;
	} fields[] = {
		{ VDPA_ATTR_DEV_BLK_CFG_CAPACITY, "capacity" },
		{ VDPA_ATTR_DEV_BLK_CFG_BLK_SIZE, "blk_size" },
		{ VDPA_ATTR_DEV_BLK_CFG_SIZE_MAX, "size_max" },
		{ VDPA_ATTR_DEV_BLK_CFG_SEG_MAX, "seg_max" },
		{ VDPA_ATTR_DEV_BLK_CFG_NUM_QUEUES, "num_queues" },
		{ VDPA_ATTR_DEV_BLK_CFG_PHY_BLK_EXP, "physical_block_exp" },
		{ VDPA_ATTR_DEV_BLK_CFG_ALIGN_OFFSET, "alignment_offset" },
		{ VDPA_ATTR_DEV_BLK_CFG_MIN_IO_SIZE, "min_io_size" },
		{ VDPA_ATTR_DEV_BLK_CFG_OPT_IO_SIZE, "opt_io_size" },
		{ VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEC,
		  "max_discard_sectors" },
		{ VDPA_ATTR_DEV_BLK_CFG_MAX_DISCARD_SEG, "max_discard_seg" },
		{ VDPA_ATTR_DEV_BLK_CFG_DISCARD_SEC_ALIGN,
		  "discard_sector_alignment" },
		{ VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEC,
		  "max_write_zeroes_sectors" },
		{ VDPA_ATTR_DEV_BLK_CFG_MAX_WRITE_ZEROES_SEG,
		  "max_write_zeroes_seg" },
	};
	const struct nlattr *attr;
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		attr = a->tb[fields[i].type];
		if (!attr)
			continue;
		switch (mnl_attr_get_payload_len(attr)) {
		case 1:
			v = mnl_attr_get_u8(attr);
			break;
		case 2:
			v = mnl_attr_get_u16(attr);
			break;
		case 4:
			v = mnl_attr_get_u32(attr);
			break;
		default:
			v = mnl_attr_get_u64(attr);
		}
		print_string(PRINT_FP, NULL, "%s ", fields[i].name);
		print_u64(PRINT_ANY, fields[i].name, "%" PRIu64 " ", v);
	}
	if ((attr = a->tb[VDPA_ATTR_DEV_BLK_READ_ONLY]))
		print_bool(PRINT_ANY, "read_only", "read_only %s ",
			   mnl_attr_get_u8(attr));
	if ((attr = a->tb[VDPA_ATTR_DEV_BLK_FLUSH]))
		print_bool(PRINT_ANY, "flush", "flush %s ",
			   mnl_attr_get_u8(attr));
}

int cli_pr_dev_config(const struct nlmsghdr *nlh, void *data)
{
	struct cli_attrs a;

	attrs_parse(nlh, &a);
	if (!a.tb[VDPA_ATTR_DEV_NAME] || !a.tb[VDPA_ATTR_DEV_ID])
		return malformed();
	pr_handle_start(mnl_attr_get_str(a.tb[VDPA_ATTR_DEV_NAME]));
	if (mnl_attr_get_u32(a.tb[VDPA_ATTR_DEV_ID]) == VIRTIO_ID_NET)
		pr_net_config(data, &a);
	else if (mnl_attr_get_u32(a.tb[VDPA_ATTR_DEV_ID]) == VIRTIO_ID_BLOCK)
		pr_blk_config(&a);
	pr_handle_end();
	return MNL_CB_OK;
}

/* ---- dev vstats show ---- */

/*
 * iproute2 guesses the queue type from the index: the control queue is
 * 2 * max_vqp when CTRL_VQ was negotiated, where max_vqp is 0 unless the
 * reply carried it (only with MQ or RSS); so a device without MQ shows
 * queue 0 as control_vq. Reproduced as is. The index is read as a u16.
 */
static void pr_queue_type(uint16_t qidx, uint16_t max_vqp, uint64_t features)
{
	const char *type = qidx & 1 ? "tx" : "rx";

	if (features & (1ULL << VIRTIO_NET_F_CTRL_VQ) && qidx == 2 * max_vqp)
		type = "control_vq";
	print_string(PRINT_ANY, "queue_type", "queue_type %s ", type);
}

/* Vendor pairs print as "<name> <value> ", the name verbatim as key. */
static void pr_vendor_value(const char *name, uint64_t value)
{
	print_string(PRINT_FP, NULL, "%s ", name);
	print_u64(PRINT_ANY, name, "%" PRIu64 " ", value);
}

/* What the vstats attributes said so far, in the order they came. */
struct vstats_state {
	bool blk; /* uvdpa's block counters: every queue is a request queue */
	const char *name; /* of the next value */
	uint64_t features;
	uint16_t max_vqp;
};

static int vstats_attr_cb(const struct nlattr *attr, void *data)
{
	struct vstats_state *st = data;

	if (!attr_valid(attr))
		return MNL_CB_OK;
	switch (mnl_attr_get_type(attr)) {
	case VDPA_ATTR_DEV_NET_CFG_MAX_VQP:
		st->max_vqp = mnl_attr_get_u16(attr);
		break;
	case VDPA_ATTR_DEV_NEGOTIATED_FEATURES:
		st->features = mnl_attr_get_u64(attr);
		break;
	case VDPA_ATTR_DEV_QUEUE_INDEX:
		if (st->blk)
			print_string(PRINT_ANY, "queue_type", "queue_type %s ",
				     "req");
		else
			pr_queue_type(mnl_attr_get_u32(attr), st->max_vqp,
				      st->features);
		break;
	case VDPA_ATTR_DEV_VENDOR_ATTR_NAME:
		st->name = mnl_attr_get_str(attr);
		if (strlen(st->name) > VSTATS_NAME_MAX)
			return MNL_CB_STOP;
		break;
	case VDPA_ATTR_DEV_VENDOR_ATTR_VALUE:
		if (st->name)
			pr_vendor_value(st->name, mnl_attr_get_u64(attr));
		break;
	}
	return MNL_CB_OK;
}

/* Each value goes with the name before it, the queue type with what
 * came before the index: the order of the attributes matters. */
static void pr_vstats(const struct nlmsghdr *nlh, bool blk)
{
	struct vstats_state st = { .blk = blk };

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), vstats_attr_cb, &st);
}

int cli_pr_dev_vstats(const struct nlmsghdr *nlh, void *data)
{
	struct cli_attrs a;

	attrs_parse(nlh, &a);
	if (!a.tb[VDPA_ATTR_DEV_NAME] || !a.tb[VDPA_ATTR_DEV_ID])
		return malformed();
	pr_handle_start(mnl_attr_get_str(a.tb[VDPA_ATTR_DEV_NAME]));
	if (mnl_attr_get_u32(a.tb[VDPA_ATTR_DEV_ID]) == VIRTIO_ID_NET)
		pr_vstats(nlh, false);
	else if (mnl_attr_get_u32(a.tb[VDPA_ATTR_DEV_ID]) == VIRTIO_ID_BLOCK)
		pr_vstats(nlh, true);
	pr_handle_end();
	return MNL_CB_OK;
}
