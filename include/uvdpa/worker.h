/* SPDX-License-Identifier: MIT */
/*
 * Data path workers (DESIGN.md, "Processes and threads"): a small pool of
 * threads, each waiting on many queues' kick eventfds with its own epoll.
 * A parent attaches a vdpa_poll per queue (or per device, when its queues
 * must be served together) and the worker calls it when the fd fires.
 *
 * After a round that did work, a worker keeps calling its active polls for
 * a while with notifications off, then turns them back on (idle) and
 * sleeps: full speed under load, no CPU when idle.
 *
 * How long it polls adapts per poll, as QEMU's AioContext polling does
 * (poll-max-ns, poll-grow, poll-shrink): the window is poll_ns, at most
 * poll_us. A wait is the time from a poll's first run that found nothing
 * to the run that found work, or to the kick that woke it. A wait the
 * window covered keeps it; one that ended after the window but within
 * poll_us doubles it (from a few microseconds), since polling a bit longer
 * would have saved the kick and the wake-up; one longer than poll_us
 * halves it (to 0 below a few microseconds), since polling was wasted.
 * On a small machine a fixed window takes CPU from the very threads that
 * produce the work; this one polls only while events come soon enough.
 * A wait that ends in a wake-up includes the worker's own wake-up latency
 * (tens of microseconds on a VM), which polling would not pay: a poll_us
 * near that latency seldom polls once a producer makes the worker sleep,
 * even where polling would then have caught its events.
 *
 * Attach and detach are synchronous: when vdpa_worker_detach() returns, the
 * poll's callbacks are not running and will not run again, so the control
 * thread may then change what they read.
 */
#ifndef UVDPA_WORKER_H
#define UVDPA_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct vdpa_worker;
struct vdpa_worker_pool;

struct vdpa_poll;

struct vdpa_poll_ops {
	/* Serve what is pending; return how much work was done. Mandatory. */
	unsigned int (*run)(struct vdpa_poll *p);
	/* About to poll: ask the driver not to kick. Optional. */
	void (*busy)(struct vdpa_poll *p);
	/*
	 * About to sleep: ask the driver to kick again. Return true when work
	 * arrived meanwhile, so the worker keeps serving. Optional.
	 */
	bool (*idle)(struct vdpa_poll *p);
};

struct vdpa_poll {
	int fd; /* eventfd that wakes this poll; read (drained) by the worker */
	const struct vdpa_poll_ops *ops;
	uint32_t poll_us; /* longest busy-poll window after work; 0: none */
	/*
	 * The current window, in nanoseconds. Set before attach: the window
	 * to start with (0, as a zeroed poll has: none until events show that
	 * polling pays; clamped to poll_us). While attached it is the
	 * worker's, which adapts it; read it on the worker (a call, or a
	 * callback) if at all.
	 */
	uint64_t poll_ns;

	/* owned by the worker */
	struct vdpa_worker *worker;
	struct vdpa_poll *next_active;
	bool active;
	/* when its current wait began; 0: it did work in its last run */
	uint64_t idle_since_ns;
};

/* @nr 0: one worker per online CPU. Returns NULL with errno set. */
struct vdpa_worker_pool *vdpa_worker_pool_new(unsigned int nr,
					      const char *name);
void vdpa_worker_pool_free(struct vdpa_worker_pool *pool);
unsigned int vdpa_worker_pool_size(const struct vdpa_worker_pool *pool);

/* The worker serving the fewest polls: where a new device should go. */
struct vdpa_worker *vdpa_worker_pick(struct vdpa_worker_pool *pool);
struct vdpa_worker *vdpa_worker_get(struct vdpa_worker_pool *pool,
				    unsigned int i);

/*
 * Attach @p to @w. Its run() is called once soon after, so work that was
 * pending before the attach (kicks while suspended) is served.
 */
int vdpa_worker_attach(struct vdpa_worker *w, struct vdpa_poll *p);
/*
 * Detach @p; a no-op when it is not attached. A poll's own callbacks may
 * detach it, or another poll of the same worker: the call then runs inline
 * and the detached poll gets no further callback, not even in this round.
 */
void vdpa_worker_detach(struct vdpa_poll *p);

/* Run @fn(@arg) on @w's thread between rounds, and wait for it. */
int vdpa_worker_call(struct vdpa_worker *w, void (*fn)(void *), void *arg);

/* Number of polls attached to @w. */
unsigned int vdpa_worker_load(const struct vdpa_worker *w);

#endif
