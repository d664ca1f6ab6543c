// SPDX-License-Identifier: MIT
/*
 * $STATE/devices: every device uvdpad created, one line each, so that a
 * restart (a crash, SIGKILL, an upgrade) brings them back with the same
 * names, indices (hence vhost-vdpa-N sockets), parent settings and bus
 * driver options. A line is "key=value" words; strings are
 * percent-encoded. The file is rewritten atomically at every change
 * (state_write_file), so a crash leaves the old or the new one.
 *
 *   name=blk0 mgmtdev=blk index=3 mask=0x0 ext=0x30001 features=0x0
 *   mac=00:00:00:00:00:00 mtu=0 max_vqp=0 path=/srv/disk.img serial=
 *   capacity=0 lbs=0 queues=4 qsize=0 ro=0 direct=0 wb=1 owner=- group=-
 *   mode=- ifname=
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "uvdpad.h"

#define DEVICES_FILE "devices"
#define LINE_MAX_LEN (3 * PATH_MAX + 1024)

/* Percent-encode what would split a word or a line. */
static void put_enc(FILE *f, const char *key, const char *s)
{
	fprintf(f, " %s=", key);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '%' || c == '=' || c >= 0x7f)
			fprintf(f, "%%%02x", c);
		else
			fputc(c, f);
	}
}

static void put_opt_u32(FILE *f, const char *key, bool has, uint32_t v)
{
	if (has)
		fprintf(f, " %s=%" PRIu32, key, v);
	else
		fprintf(f, " %s=-", key);
}

static void put_rec(FILE *f, const struct dev_rec *r)
{
	const struct vdpa_dev_set_config *c = &r->cfg;
	const uint8_t *m = c->net.mac;

	put_enc(f, "name", r->name);
	put_enc(f, "mgmtdev", r->mgmtdev);
	fprintf(f,
		" index=%u mask=0x%" PRIx64 " ext=0x%" PRIx64
		" features=0x%" PRIx64
		" mac=%02x:%02x:%02x:%02x:%02x:%02x mtu=%u max_vqp=%u",
		r->index, c->mask, c->ext_mask, c->device_features, m[0], m[1],
		m[2], m[3], m[4], m[5], c->net.mtu, c->net.max_vq_pairs);
	put_enc(f, "path", c->blk.path ? c->blk.path : "");
	put_enc(f, "serial", c->blk.serial ? c->blk.serial : "");
	fprintf(f,
		" capacity=%" PRIu64
		" lbs=%u queues=%u qsize=%u ro=%d direct=%d wb=%d aio=%u",
		c->blk.capacity, c->blk.logical_block_size, c->blk.num_queues,
		c->blk.queue_size, c->blk.readonly, c->blk.direct,
		c->blk.writeback, c->blk.aio);
	put_opt_u32(f, "owner", r->opts.has_owner, r->opts.owner);
	put_opt_u32(f, "group", r->opts.has_group, r->opts.group);
	put_opt_u32(f, "mode", r->opts.has_mode, r->opts.mode);
	put_enc(f, "ifname", r->ifname);
	fputc('\n', f);
}

static void put_recs(struct daemon *d, FILE *f)
{
	struct dev_rec *r;

	list_for_each_entry(r, &d->devs, link)
		put_rec(f, r);
}

int state_devices_save(struct daemon *d)
{
	return state_save(d, DEVICES_FILE, put_recs);
}

/* Decode a percent-encoded value into @out (@size bytes); false: bad. */
static bool dec(const char *s, char *out, size_t size)
{
	size_t n = 0;
	unsigned int c;

	for (; *s; s++) {
		if (n + 1 >= size)
			return false;
		if (*s == '%') {
			if (sscanf(s + 1, "%2x", &c) != 1)
				return false;
			out[n++] = (char)c;
			s += 2;
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
	return true;
}

/* A decoded value of any length up to PATH_MAX, in a new string. */
static bool dec_dup(const char *s, char **out)
{
	char buf[PATH_MAX];

	free(*out);
	*out = NULL;
	if (!dec(s, buf, sizeof(buf)))
		return false;
	*out = strdup(buf);
	return *out != NULL;
}

static bool get_opt_u32(const char *v, bool *has, uint32_t *out)
{
	*has = strcmp(v, "-") != 0;
	return !*has || sscanf(v, "%" SCNu32, out) == 1;
}

/* One key=value of a line into @r; false when it does not parse. */
static bool parse_word(struct dev_rec *r, const char *k, const char *v)
{
	struct vdpa_dev_set_config *c = &r->cfg;
	unsigned int a, b, e, g, h, i, n;

	if (!strcmp(k, "name"))
		return dec(v, r->name, sizeof(r->name));
	if (!strcmp(k, "mgmtdev"))
		return dec(v, r->mgmtdev, sizeof(r->mgmtdev));
	if (!strcmp(k, "path"))
		return dec_dup(v, &r->path);
	if (!strcmp(k, "serial"))
		return dec(v, r->serial, sizeof(r->serial));
	if (!strcmp(k, "ifname"))
		return dec(v, r->ifname, sizeof(r->ifname));
	if (!strcmp(k, "index"))
		return sscanf(v, "%u", &r->index) == 1;
	if (!strcmp(k, "mask"))
		return sscanf(v, "%" SCNx64, &c->mask) == 1;
	if (!strcmp(k, "ext"))
		return sscanf(v, "%" SCNx64, &c->ext_mask) == 1;
	if (!strcmp(k, "features"))
		return sscanf(v, "%" SCNx64, &c->device_features) == 1;
	if (!strcmp(k, "mac")) {
		if (sscanf(v, "%x:%x:%x:%x:%x:%x", &a, &b, &e, &g, &h, &i) != 6)
			return false;
		c->net.mac[0] = a, c->net.mac[1] = b, c->net.mac[2] = e;
		c->net.mac[3] = g, c->net.mac[4] = h, c->net.mac[5] = i;
		return true;
	}
	if (!strcmp(k, "capacity"))
		return sscanf(v, "%" SCNu64, &c->blk.capacity) == 1;
	if (!strcmp(k, "lbs"))
		return sscanf(v, "%" SCNu32, &c->blk.logical_block_size) == 1;
	if (!strcmp(k, "owner"))
		return get_opt_u32(v, &r->opts.has_owner, &r->opts.owner);
	if (!strcmp(k, "group"))
		return get_opt_u32(v, &r->opts.has_group, &r->opts.group);
	if (!strcmp(k, "mode")) /* a hand-edited file gets the checks too */
		return get_opt_u32(v, &r->opts.has_mode, &r->opts.mode) &&
		       r->opts.mode <= 07777;
	if (sscanf(v, "%u", &n) != 1)
		return false;
	if (!strcmp(k, "mtu"))
		c->net.mtu = (uint16_t)n;
	else if (!strcmp(k, "max_vqp"))
		c->net.max_vq_pairs = (uint16_t)n;
	else if (!strcmp(k, "queues"))
		c->blk.num_queues = (uint16_t)n;
	else if (!strcmp(k, "qsize"))
		c->blk.queue_size = (uint16_t)n;
	else if (!strcmp(k, "ro"))
		c->blk.readonly = n;
	else if (!strcmp(k, "direct"))
		c->blk.direct = n;
	else if (!strcmp(k, "wb"))
		c->blk.writeback = n;
	else if (!strcmp(k, "aio"))
		c->blk.aio = (uint8_t)n; /* the parent checks it again */
	/* an unknown key: written by a newer uvdpad, ignored */
	return true;
}

static bool parse_line(char *line, struct dev_rec *r)
{
	char *save = NULL, *w, *eq;

	free(r->path);
	memset(r, 0, sizeof(*r));
	for (w = strtok_r(line, " \n", &save); w;
	     w = strtok_r(NULL, " \n", &save)) {
		eq = strchr(w, '=');
		if (!eq)
			return false;
		*eq = '\0';
		if (!parse_word(r, w, eq + 1))
			return false;
	}
	if (r->path && !*r->path) {
		free(r->path);
		r->path = NULL;
	}
	r->cfg.blk.path = r->path;
	r->cfg.blk.serial = *r->serial ? r->serial : NULL;
	r->opts.ifname = *r->ifname ? r->ifname : NULL;
	return *r->name && *r->mgmtdev;
}

/*
 * A device that could not be created again (its file missing, say) is
 * kept as a dormant record, written back with the others, so that the
 * next start tries again: a restart never forgets a device.
 */
static void keep_dormant(struct daemon *d, const struct dev_rec *r)
{
	struct dev_rec *k = malloc(sizeof(*k));

	if (!k)
		return;
	*k = *r;
	k->path = r->path ? strdup(r->path) : NULL;
	if (r->path && !k->path) {
		free(k);
		return;
	}
	k->cfg.blk.path = k->path;
	k->cfg.blk.serial = r->cfg.blk.serial ? k->serial : NULL;
	k->opts.ifname = NULL;
	k->dormant = true;
	list_add_tail(&k->link, &d->devs);
}

/* Create the device @r describes, at its index; bus->lock held. */
static int restore_one(struct daemon *d, struct dev_rec *r)
{
	struct vdpa_mgmt_dev *m = vdpa_mgmtdev_find(d->bus, NULL, r->mgmtdev);
	struct vdpa_extack ext = { "" };
	struct vdpa_device *vdev;
	int ret;

	if (!m) {
		log_err("%s: management device %s is gone", r->name,
			r->mgmtdev);
		return -ENODEV;
	}
	r->cfg.restoring = true;
	ret = _vdpa_mgmtdev_dev_add_unbound(m, r->name, &r->cfg, (int)r->index,
					    &ext, &vdev);
	if (!ret) {
		ret = daemon_dev_new(d, vdev, &r->cfg, &r->opts, &ext);
		if (ret)
			m->ops->dev_del(m, vdev);
	}
	if (ret)
		log_err("%s: cannot restore it: %s", r->name,
			*ext.msg ? ext.msg : strerror(-ret));
	else if (vdev->index != r->index)
		log_warn("%s: restored as index %u, was %u", r->name,
			 vdev->index, r->index);
	return ret;
}

void state_devices_restore(struct daemon *d)
{
	char path[PATH_MAX + 64], *line = malloc(LINE_MAX_LEN);
	struct dev_rec *r = calloc(1, sizeof(*r));
	unsigned int lineno = 0, restored = 0, failed = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d->opts.state_dir, DEVICES_FILE);
	f = line && r ? fopen(path, "re") : NULL;
	if (!f) {
		if (line && r && errno != ENOENT)
			log_err("cannot read %s: %s", path, strerror(errno));
		free(line);
		free(r);
		return;
	}
	vdpa_bus_lock(d->bus);
	while (fgets(line, LINE_MAX_LEN, f)) {
		lineno++;
		if (!parse_line(line, r)) {
			log_err("%s:%u: not a device; ignored", path, lineno);
			failed++;
		} else if (restore_one(d, r)) {
			keep_dormant(d, r);
			failed++;
		} else {
			restored++;
		}
		free(r->path); /* the records made from @r have copies */
		r->path = NULL;
	}
	vdpa_bus_unlock(d->bus);
	fclose(f);
	free(line);
	free(r);
	if (restored || failed)
		log_info("restored %u devices from %s (%u kept for the next "
			 "start)",
			 restored, path, failed);
}
