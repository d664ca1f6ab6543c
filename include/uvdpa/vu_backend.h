/* SPDX-License-Identifier: MIT */
/*
 * The vhost_vdpa bus driver's engine: a vhost-user back end for one vdpa
 * device. It turns vhost-user messages into the device's config ops, the
 * way the kernel's vhost-vdpa turns ioctls into them, and holds no
 * device-specific code. It owns no loop: the embedder watches the fds it
 * exposes and calls in when they are ready.
 *
 * One front end at a time. A disconnect resets the device; the back end
 * then listens again.
 *
 * Guest memory is the front end's file, which it may shrink under us: when
 * it maps its first region the back end installs a process-wide SIGBUS
 * handler that puts blank memory over the lost pages and hangs up on that
 * front end only (buses/vhost_vdpa/mem.c). Threads that touch guest memory
 * (data path workers) must therefore not block SIGBUS.
 */
#ifndef UVDPA_VU_BACKEND_H
#define UVDPA_VU_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvdpa/vdpa.h>

struct vu_backend;

enum vu_log_level { VU_LOG_ERR, VU_LOG_WARN, VU_LOG_INFO, VU_LOG_DEBUG };

struct vu_backend_cfg {
	const char *path; /* the listening socket */
	uid_t owner; /* (uid_t)-1: leave */
	gid_t group; /* (gid_t)-1: leave */
	mode_t mode; /* 0: 0660 */
	/* optional: where the back end's messages go */
	void (*log)(void *ctx, enum vu_log_level level, const char *msg);
	void *log_ctx;
};

/* Listen on cfg->path for @vdev. NULL with *err set on failure. */
struct vu_backend *vu_backend_new(struct vdpa_device *vdev,
				  const struct vu_backend_cfg *cfg, int *err);
/* Disconnect, reset the device, close and unlink the socket. */
void vu_backend_free(struct vu_backend *b);

/* The fds to watch for reading, -1 when there is none. */
int vu_backend_listen_fd(const struct vu_backend *b);
int vu_backend_conn_fd(const struct vu_backend *b);
int vu_backend_event_fd(const struct vu_backend *b);

/* The listening fd is ready: accept (or refuse a second front end). */
int vu_backend_accept(struct vu_backend *b);
/*
 * The connection is ready: handle every whole message that arrived.
 * A negative return means the front end is gone or broke the protocol:
 * call vu_backend_disconnect().
 */
int vu_backend_handle(struct vu_backend *b);
void vu_backend_disconnect(struct vu_backend *b);
/* The event fd is ready: the device raised a config interrupt. */
void vu_backend_device_event(struct vu_backend *b);

/* Change the socket's owner, group (-1: leave) and mode (0: leave). */
int vu_backend_set_perms(struct vu_backend *b, uid_t owner, gid_t group,
			 mode_t mode);

bool vu_backend_connected(const struct vu_backend *b);
const char *vu_backend_path(const struct vu_backend *b);
/* The MTU the front end announced with NET_SET_MTU, 0 if none. */
uint16_t vu_backend_mtu(const struct vu_backend *b);

#endif
