// SPDX-License-Identifier: MIT
/*
 * Data path workers: a thread per worker, each with its own epoll over the
 * kick eventfds of the queues it serves (DESIGN.md). The control thread
 * talks to a worker only through calls that run between rounds, so a
 * worker's active list and its polls' state need no lock.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/compiler.h>
#include <uvdpa/worker.h>

/*
 * While busy-polling, look at the epoll for other queues every this many
 * rounds: a round under load serves a batch per queue, so this is tens of
 * microseconds, and it costs no clock read.
 */
#define WORKER_EPOLL_ROUNDS 32
/*
 * Rounds in which no poll did work reuse one clock read for this many
 * rounds: at queue depth 1 most rounds are such idle ones, each a few
 * loads, and a clock read per round was a quarter of the worker's time.
 * A window then ends at most this many idle rounds late, never early.
 */
#define WORKER_CLOCK_ROUNDS 16
/*
 * A window that grows starts here (QEMU's first step too): shorter, the
 * poll would rarely catch anything a wake-up would not; a window halved
 * below it goes to 0.
 */
#define WORKER_POLL_MIN_NS 4000
#define WORKER_MAX_EVENTS 64

struct worker_call {
	void (*fn)(void *arg);
	void *arg;
	bool done;
	struct worker_call *next;
};

struct vdpa_worker {
	pthread_t thread;
	int epfd;
	int ctl_fd; /* eventfd: calls are pending */
	pthread_mutex_t lock; /* guards calls, and done in each call */
	pthread_cond_t cond; /* a call is done */
	struct worker_call *calls;
	unsigned int nr_polls; /* atomic: read by vdpa_worker_pick() */

	/* worker thread only */
	struct vdpa_poll *active; /* polls being served or busy-polled */
	struct vdpa_poll *round_next; /* the next poll of the current round */
	unsigned int rounds; /* since the last look at the epoll */
	/* clock read when an idle poll needs it; 0: read again */
	uint64_t now_ns;
	unsigned int clock_rounds; /* rounds since now_ns was read */
	bool stop;
};

struct vdpa_worker_pool {
	unsigned int nr;
	struct vdpa_worker *workers;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void worker_drain(int fd)
{
	uint64_t v;

	/* A failed read (EAGAIN) only means another reader got there first. */
	if (read(fd, &v, sizeof(v)) < 0)
		return;
}

static void worker_run_calls(struct vdpa_worker *w)
{
	struct worker_call *c;

	/* the common case, polling at full speed: no call, no lock */
	if (!__atomic_load_n(&w->calls, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&w->lock);
	while ((c = w->calls)) {
		__atomic_store_n(&w->calls, c->next, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&w->lock);
		c->fn(c->arg);
		pthread_mutex_lock(&w->lock);
		c->done = true;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

/* The longest window @p may have. */
static uint64_t max_ns(const struct vdpa_poll *p)
{
	return (uint64_t)p->poll_us * 1000;
}

/*
 * A wait of @p ended after @wait_ns: adapt its window (see worker.h). Called
 * once per wait, never per round, so it may cost a clock read.
 */
static void poll_adapt(struct vdpa_poll *p, uint64_t wait_ns)
{
	uint64_t max = max_ns(p);

	if (wait_ns <= p->poll_ns)
		return; /* the window caught it */
	if (wait_ns > max) {
		/* polling was wasted: the wait outlasted any window */
		p->poll_ns /= 2;
		if (p->poll_ns < WORKER_POLL_MIN_NS)
			p->poll_ns = 0;
		return;
	}
	/* a longer window would have caught it, without kick and wake-up */
	p->poll_ns = p->poll_ns ? p->poll_ns * 2 : WORKER_POLL_MIN_NS;
	if (p->poll_ns > max)
		p->poll_ns = max;
}

/*
 * @p's fd fired. *@now is the clock read after the epoll_wait that said so
 * (0: not yet read): one read serves every poll it woke.
 */
static void worker_activate(struct vdpa_worker *w, struct vdpa_poll *p,
			    uint64_t *now)
{
	/*
	 * Busy-polled already: the next run() finds the work and ends the
	 * wait, if any, itself.
	 */
	if (p->active)
		return;
	if (p->idle_since_ns) {
		/* it slept after its window: the kick ends its wait */
		if (!*now)
			*now = now_ns();
		poll_adapt(p, *now - p->idle_since_ns);
		p->idle_since_ns = 0;
	}
	/* a window starts now: not at a read from before an epoll sleep */
	w->now_ns = *now;
	w->clock_rounds = 0;
	p->active = true;
	p->next_active = w->active;
	w->active = p;
	if (p->ops->busy)
		p->ops->busy(p);
}

static void worker_deactivate(struct vdpa_worker *w, struct vdpa_poll *p)
{
	struct vdpa_poll **pp;

	for (pp = &w->active; *pp; pp = &(*pp)->next_active) {
		if (*pp == p) {
			*pp = p->next_active;
			break;
		}
	}
	/* a callback detached the poll the round was about to serve */
	if (w->round_next == p)
		w->round_next = p->next_active;
	p->active = false;
	p->next_active = NULL;
}

/* The clock, read only when a poll is idle and the last read is stale. */
static uint64_t worker_now(struct vdpa_worker *w)
{
	if (!w->now_ns) {
		w->now_ns = now_ns();
		w->clock_rounds = 0;
	}
	return w->now_ns;
}

/* @p found nothing: poll on, or back to notifications and sleep. */
static void worker_serve_idle(struct vdpa_worker *w, struct vdpa_poll *p)
{
	uint64_t now, waited, wait;

	if (!p->poll_us) {
		/* never polls: no wait to measure, no clock to read */
		if (!p->ops->idle || !p->ops->idle(p))
			worker_deactivate(w, p);
		return;
	}
	now = worker_now(w);
	if (!p->idle_since_ns)
		p->idle_since_ns = now;
	waited = now - p->idle_since_ns;
	if (waited < p->poll_ns)
		return;
	if (p->ops->idle && p->ops->idle(p)) {
		if (!p->active)
			return; /* idle() detached it */
		/*
		 * Work came as the window ended, on the clock the window
		 * ended by: a longer window would have caught it. A stale
		 * clock (WORKER_CLOCK_ROUNDS) or a preemption may make the
		 * wait look longer than the maximum: that is no reason to
		 * shrink, so it counts as the maximum (kept there).
		 */
		wait = waited > p->poll_ns ? waited : p->poll_ns + 1;
		poll_adapt(p, wait < max_ns(p) ? wait : max_ns(p));
		p->idle_since_ns = 0;
		return;
	}
	/* idle_since_ns stays: the kick that wakes it ends this wait */
	worker_deactivate(w, p);
}

static void worker_serve(struct vdpa_worker *w, struct vdpa_poll *p)
{
	unsigned int done = p->ops->run(p);

	/* run() detached its own poll (the call ran inline): not ours now */
	if (!p->active)
		return;
	if (!done) {
		worker_serve_idle(w, p);
		return;
	}
	if (p->idle_since_ns) {
		/*
		 * A wait the busy-poll caught ends: one fresh read per wait,
		 * none per round at full speed. Fresh, for a preemption
		 * while polling (another thread had the CPU) is what a
		 * stale read would hide. Read after the work, it is also
		 * when the next wait starts: the read an idle round would
		 * make next, not one more.
		 */
		uint64_t now = now_ns();

		poll_adapt(p, now - p->idle_since_ns);
		p->idle_since_ns = 0;
		w->now_ns = now;
		w->clock_rounds = 0;
		return;
	}
	w->now_ns = 0; /* work takes unknown time: the clock is stale */
}

/*
 * One pass over the active polls; idle ones go back to notifications.
 * The cursor lives in the worker so that a callback may detach any poll,
 * the next one included, without the round serving it afterwards.
 */
static void worker_round(struct vdpa_worker *w)
{
	struct vdpa_poll *p;

	if (++w->clock_rounds >= WORKER_CLOCK_ROUNDS)
		w->now_ns = 0;
	for (p = w->active; p; p = w->round_next) {
		w->round_next = p->next_active;
		worker_serve(w, p);
	}
}

static void worker_wait(struct vdpa_worker *w)
{
	struct epoll_event ev[WORKER_MAX_EVENTS];
	uint64_t now = 0;
	int n;

	if (w->active && ++w->rounds < WORKER_EPOLL_ROUNDS)
		return;
	w->rounds = 0;
	n = epoll_wait(w->epfd, ev, WORKER_MAX_EVENTS, w->active ? 0 : -1);
	for (int i = 0; i < n; i++) {
		struct vdpa_poll *p = ev[i].data.ptr;

		if (!p) {
			worker_drain(w->ctl_fd);
			continue;
		}
		worker_drain(p->fd);
		worker_activate(w, p, &now);
	}
}

static void *worker_main(void *arg)
{
	struct vdpa_worker *w = arg;

	for (;;) {
		worker_run_calls(w);
		if (w->stop)
			break;
		worker_wait(w);
		worker_round(w);
	}
	return NULL;
}

int vdpa_worker_call(struct vdpa_worker *w, void (*fn)(void *), void *arg)
{
	struct worker_call call = { .fn = fn, .arg = arg };
	struct worker_call **pp;
	uint64_t one = 1;

	if (pthread_equal(pthread_self(), w->thread)) {
		fn(arg);
		return 0;
	}
	pthread_mutex_lock(&w->lock);
	for (pp = &w->calls; *pp; pp = &(*pp)->next)
		;
	__atomic_store_n(pp, &call, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&w->lock);
	if (write(w->ctl_fd, &one, sizeof(one)) != sizeof(one))
		return -errno; /* cannot happen with an eventfd below 2^64-1 */
	pthread_mutex_lock(&w->lock);
	while (!call.done)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

struct attach_args {
	struct vdpa_worker *w;
	struct vdpa_poll *p;
	int ret;
};

static void worker_attach_fn(void *arg)
{
	struct attach_args *a = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = a->p };
	uint64_t now = 0;

	if (epoll_ctl(a->w->epfd, EPOLL_CTL_ADD, a->p->fd, &ev)) {
		a->ret = -errno;
		return;
	}
	/* atomic: read outside calls, see worker_detach_fn() */
	__atomic_store_n(&a->p->worker, a->w, __ATOMIC_RELEASE);
	__atomic_add_fetch(&a->w->nr_polls, 1, __ATOMIC_RELAXED);
	/* serve what was pending before the attach */
	worker_activate(a->w, a->p, &now);
}

int vdpa_worker_attach(struct vdpa_worker *w, struct vdpa_poll *p)
{
	struct attach_args a = { .w = w, .p = p };
	int ret;

	if (!w || !p || !p->ops || !p->ops->run || p->fd < 0)
		return -EINVAL;
	if (__atomic_load_n(&p->worker, __ATOMIC_ACQUIRE))
		return -EBUSY;
	p->active = false;
	p->next_active = NULL;
	p->idle_since_ns = 0; /* no wait of an earlier attachment to end */
	if (p->poll_ns > max_ns(p))
		p->poll_ns = max_ns(p);
	ret = vdpa_worker_call(w, worker_attach_fn, &a);
	return ret ? ret : a.ret;
}

static void worker_detach_fn(void *arg)
{
	struct vdpa_poll *p = arg;
	struct vdpa_worker *w = p->worker;

	epoll_ctl(w->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	if (p->active)
		worker_deactivate(w, p);
	/* a run() may detach itself: another thread may read this next */
	__atomic_store_n(&p->worker, NULL, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&w->nr_polls, 1, __ATOMIC_RELAXED);
}

void vdpa_worker_detach(struct vdpa_poll *p)
{
	struct vdpa_worker *w;

	if (!p)
		return;
	w = __atomic_load_n(&p->worker, __ATOMIC_ACQUIRE);
	if (w)
		vdpa_worker_call(w, worker_detach_fn, p);
}

unsigned int vdpa_worker_load(const struct vdpa_worker *w)
{
	return __atomic_load_n(&w->nr_polls, __ATOMIC_RELAXED);
}

static int worker_init(struct vdpa_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->epfd < 0 || w->ctl_fd < 0)
		return -errno;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->ctl_fd, &ev))
		return -errno;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	return 0;
}

static void worker_stop_fn(void *arg)
{
	struct vdpa_worker *w = arg;

	w->stop = true;
}

static int worker_start(struct vdpa_worker *w, const char *name, unsigned int i)
{
	sigset_t all, old;
	char tname[16];
	int ret;

	/*
	 * Signals belong to the daemon's control thread; but a fault in guest
	 * memory (a front end that shrank its memfd) must reach the SIGBUS
	 * guard (buses/vhost_vdpa/mem.c) on the worker that touched it:
	 * blocked, the kernel would kill the whole daemon instead.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	snprintf(tname, sizeof(tname), "%s-%u", name ? name : "uvdpa-w", i);
	pthread_setname_np(w->thread, tname);
	return 0;
}

static void worker_done(struct vdpa_worker *w, bool started)
{
	if (started) {
		vdpa_worker_call(w, worker_stop_fn, w);
		pthread_join(w->thread, NULL);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
	}
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
}

struct vdpa_worker_pool *vdpa_worker_pool_new(unsigned int nr, const char *name)
{
	struct vdpa_worker_pool *pool;
	unsigned int i;
	int ret = 0;

	if (nr == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		nr = cpus > 0 ? (unsigned int)cpus : 1;
	}
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->workers = calloc(nr, sizeof(*pool->workers));
	if (!pool->workers)
		goto out_free_pool;
	for (i = 0; i < nr; i++) {
		pool->workers[i].epfd = -1;
		pool->workers[i].ctl_fd = -1;
		ret = worker_init(&pool->workers[i]);
		if (!ret)
			ret = worker_start(&pool->workers[i], name, i);
		if (ret)
			break;
		pool->nr++;
	}
	if (!ret)
		return pool;
	worker_done(&pool->workers[i], false);
	vdpa_worker_pool_free(pool);
	errno = -ret;
	return NULL;

out_free_pool:
	free(pool);
	errno = ENOMEM;
	return NULL;
}

void vdpa_worker_pool_free(struct vdpa_worker_pool *pool)
{
	if (!pool)
		return;
	for (unsigned int i = 0; i < pool->nr; i++)
		worker_done(&pool->workers[i], true);
	free(pool->workers);
	free(pool);
}

unsigned int vdpa_worker_pool_size(const struct vdpa_worker_pool *pool)
{
	return pool->nr;
}

struct vdpa_worker *vdpa_worker_get(struct vdpa_worker_pool *pool,
				    unsigned int i)
{
	return i < pool->nr ? &pool->workers[i] : NULL;
}

struct vdpa_worker *vdpa_worker_pick(struct vdpa_worker_pool *pool)
{
	struct vdpa_worker *best = &pool->workers[0];

	for (unsigned int i = 1; i < pool->nr; i++)
		if (vdpa_worker_load(&pool->workers[i]) <
		    vdpa_worker_load(best))
			best = &pool->workers[i];
	return best;
}
