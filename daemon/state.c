// SPDX-License-Identifier: MIT
/*
 * What uvdpad remembers about devices: each device's bus driver options
 * (kept while it exists) and the driver overrides, which outlive the
 * device and uvdpad itself, as driverctl's do: $STATE/overrides holds one
 * "NAME DRIVER" line per device, rewritten atomically (write, fsync,
 * rename, fsync the directory) at every change, and applied when a device
 * of that name appears.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "uvdpad.h"

#define OVERRIDES_FILE "overrides"

struct override {
	struct list_head link;
	char name[VDPA_NAME_MAX];
	char driver[32];
};

static struct override *override_find(struct daemon *d, const char *name)
{
	struct override *o;

	list_for_each_entry(o, &d->overrides, link)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

/* A name that a line of the file can hold. */
static bool name_storable(const char *name)
{
	return *name && !strpbrk(name, " \t\n\r");
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replace @file in the state dir with @len bytes of @buf, atomically. */
int state_write_file(struct daemon *d, const char *file, const char *buf,
		     size_t len)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	int fd, dfd, ret;

	snprintf(path, sizeof(path), "%s/%s", d->opts.state_dir, file);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", d->opts.state_dir, file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	dfd = open(d->opts.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int state_save(struct daemon *d, const char *file,
	       void (*put)(struct daemon *d, FILE *f))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret = -ENOMEM;

	if (f) {
		put(d, f);
		if (!fclose(f))
			ret = state_write_file(d, file, buf, len);
		free(buf);
	}
	if (ret)
		log_err("cannot save %s/%s: %s", d->opts.state_dir, file,
			strerror(-ret));
	return ret;
}

static void put_overrides(struct daemon *d, FILE *f)
{
	struct override *o;

	list_for_each_entry(o, &d->overrides, link)
		fprintf(f, "%s %s\n", o->name, o->driver);
}

static int overrides_save(struct daemon *d)
{
	return state_save(d, OVERRIDES_FILE, put_overrides);
}

const char *state_override(struct daemon *d, const char *name)
{
	struct override *o = override_find(d, name);

	return o ? o->driver : NULL;
}

int state_set_override(struct daemon *d, const char *name, const char *driver)
{
	struct override *o = override_find(d, name);

	if (!driver) {
		if (!o)
			return 0;
		list_del(&o->link);
		free(o);
		return overrides_save(d);
	}
	if (!name_storable(name) || strlen(driver) >= sizeof(o->driver))
		return -EINVAL;
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		snprintf(o->name, sizeof(o->name), "%s", name);
		list_add_tail(&o->link, &d->overrides);
	}
	snprintf(o->driver, sizeof(o->driver), "%s", driver);
	return overrides_save(d);
}

/* Read $STATE/overrides; a line that does not parse is skipped, loudly. */
void state_load(struct daemon *d)
{
	char path[PATH_MAX + 64], line[256], name[VDPA_NAME_MAX], drv[32];
	unsigned int lineno = 0;
	struct override *o;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d->opts.state_dir,
		 OVERRIDES_FILE);
	f = fopen(path, "re");
	if (!f) {
		if (errno != ENOENT)
			log_warn("cannot read %s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (sscanf(line, "%63s %31s", name, drv) != 2 ||
		    override_find(d, name)) {
			log_warn("%s:%u: ignored", path, lineno);
			continue;
		}
		o = calloc(1, sizeof(*o));
		if (!o)
			break;
		snprintf(o->name, sizeof(o->name), "%s", name);
		snprintf(o->driver, sizeof(o->driver), "%s", drv);
		list_add_tail(&o->link, &d->overrides);
	}
	fclose(f);
}

/* ---- per-device options, while the device exists ---- */

struct dev_rec *state_dev(struct daemon *d, const char *name)
{
	struct dev_rec *r;

	list_for_each_entry(r, &d->devs, link)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

struct dev_rec *state_dev_add(struct daemon *d, struct vdpa_device *vdev,
			      const struct vdpa_dev_set_config *cfg,
			      const struct mgmt_dev_opts *opts)
{
	struct dev_rec *r = state_dev(d, vdev->name);

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		list_add_tail(&r->link, &d->devs);
	}
	r->dormant = false;
	snprintf(r->name, sizeof(r->name), "%s", vdev->name);
	snprintf(r->mgmtdev, sizeof(r->mgmtdev), "%s",
		 vdev->mdev ? vdev->mdev->dev_name : "");
	r->index = vdev->index;
	r->cfg = *cfg;
	r->cfg.restoring = false;
	free(r->path);
	r->path = cfg->blk.path ? strdup(cfg->blk.path) : NULL;
	if (cfg->blk.path && !r->path) {
		list_del(&r->link);
		free(r);
		return NULL;
	}
	snprintf(r->serial, sizeof(r->serial), "%s",
		 cfg->blk.serial ? cfg->blk.serial : "");
	r->cfg.blk.path = r->path;
	r->cfg.blk.serial = cfg->blk.serial ? r->serial : NULL;
	r->opts = *opts;
	r->opts.driver = NULL;
	r->opts.ifname = NULL;
	snprintf(r->ifname, sizeof(r->ifname), "%s",
		 opts->ifname ? opts->ifname : "");
	return r;
}

void state_dev_del(struct daemon *d, const char *name)
{
	struct dev_rec *r = state_dev(d, name);

	if (r) {
		list_del(&r->link);
		free(r->path);
		free(r);
	}
}

void state_free(struct daemon *d)
{
	struct override *o, *on;
	struct dev_rec *r, *rn;

	list_for_each_entry_safe(o, on, &d->overrides, link)
		free(o);
	list_for_each_entry_safe(r, rn, &d->devs, link) {
		free(r->path);
		free(r);
	}
	list_init(&d->overrides);
	list_init(&d->devs);
}
