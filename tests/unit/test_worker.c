// SPDX-License-Identifier: MIT
/*
 * The data path worker pool: attach, kick, detach, the busy-poll window and
 * how it adapts, calls on the worker thread, many polls per worker, load
 * balancing.
 *
 * Timing is only ever checked through generous functional windows (this
 * runs on noisy, shared machines): "at least twice within 200 ms", "not
 * once in 100 ms", never an exact count that depends on the scheduler.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define WAIT_MS 3000 /* how long a functional wait may take at most */
#define IDLE_CPU_NS 20000000 /* CPU an idle worker may use in a window */
#define NR_WINDOWS 64

/* A poll whose callbacks count their calls; shared with the worker. */
struct tpoll {
	struct vdpa_poll p;
	int runs, busies, idles;
	int work; /* run() reports one unit per call while this is > 0 */
	int idle_true; /* idle() says "work arrived" this many more times */
	/*
	 * idle() kicks the poll's own fd and says "nothing" this many more
	 * times: an event that comes just after the window ended.
	 */
	int kick_in_idle;
	int every; /* >1: run() has work only on every this-many-th call */
	/* the window (p.poll_ns) each idle() saw, in order */
	uint64_t windows[NR_WINDOWS];
	int nr_windows;
	int detach_in_run; /* run() detaches: 1 itself, 2 its sibling */
	struct tpoll *sibling;
	int late; /* callbacks seen after the poll was detached */
	pthread_t thread; /* where run() ran last */
};

static int ld(const int *v)
{
	return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static void inc(int *v)
{
	__atomic_add_fetch(v, 1, __ATOMIC_ACQ_REL);
}

/* Take one unit from *v if there is one. */
static bool take(int *v)
{
	int old = ld(v);

	while (old > 0)
		if (__atomic_compare_exchange_n(v, &old, old - 1, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* p->worker, which a run() that detaches writes on the worker thread */
static struct vdpa_worker *worker_of(struct tpoll *t)
{
	return __atomic_load_n(&t->p.worker, __ATOMIC_ACQUIRE);
}

static pthread_t run_thread(struct tpoll *t)
{
	return __atomic_load_n(&t->thread, __ATOMIC_RELAXED);
}

static struct tpoll *to_tpoll(struct vdpa_poll *p)
{
	return container_of(p, struct tpoll, p);
}

static unsigned int tpoll_run(struct vdpa_poll *p)
{
	struct tpoll *t = to_tpoll(p);
	int detach;

	detach = __atomic_exchange_n(&t->detach_in_run, 0, __ATOMIC_ACQ_REL);

	/* atomic: a busy-polled run() writes it while the test reads it */
	__atomic_store_n(&t->thread, pthread_self(), __ATOMIC_RELAXED);
	inc(&t->runs);
	/* the worker thread itself clears p->worker on detach */
	if (!p->worker)
		inc(&t->late);
	if (detach == 1)
		vdpa_worker_detach(p);
	else if (detach == 2)
		vdpa_worker_detach(&t->sibling->p);
	if (ld(&t->every) > 1 && ld(&t->runs) % ld(&t->every))
		return 0;
	return take(&t->work) ? 1 : 0;
}

static void tpoll_busy(struct vdpa_poll *p)
{
	inc(&to_tpoll(p)->busies);
}

static bool tpoll_idle(struct vdpa_poll *p)
{
	struct tpoll *t = to_tpoll(p);
	int n = ld(&t->nr_windows);
	uint64_t one = 1;

	if (n < NR_WINDOWS) {
		t->windows[n] = p->poll_ns;
		__atomic_store_n(&t->nr_windows, n + 1, __ATOMIC_RELEASE);
	}
	inc(&t->idles);
	if (!p->worker)
		inc(&t->late);
	if (take(&t->kick_in_idle)) {
		/* on the worker: no cmocka assertion, a failure shows late */
		if (write(p->fd, &one, sizeof(one)) != sizeof(one))
			inc(&t->late);
		return false;
	}
	return take(&t->idle_true);
}

static const struct vdpa_poll_ops tpoll_ops = {
	.run = tpoll_run,
	.busy = tpoll_busy,
	.idle = tpoll_idle,
};

static const struct vdpa_poll_ops run_only_ops = { .run = tpoll_run };

static void tpoll_init(struct tpoll *t, uint32_t poll_us)
{
	memset(t, 0, sizeof(*t));
	t->p.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(t->p.fd >= 0);
	t->p.ops = &tpoll_ops;
	t->p.poll_us = poll_us;
	/* most tests want the window poll_us gives from the start */
	t->p.poll_ns = (uint64_t)poll_us * 1000;
}

static void tpoll_done(struct tpoll *t)
{
	vdpa_worker_detach(&t->p);
	close(t->p.fd);
	t->p.fd = -1;
	assert_int_equal(ld(&t->late), 0);
}

static void kick(struct tpoll *t)
{
	uint64_t one = 1;

	assert_int_equal(write(t->p.fd, &one, sizeof(one)), sizeof(one));
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts))
		;
}

/* Wait until *v >= @min, for at most WAIT_MS. */
static bool wait_at_least(const int *v, int min)
{
	for (int i = 0; i < WAIT_MS; i++) {
		if (ld(v) >= min)
			return true;
		sleep_ms(1);
	}
	return ld(v) >= min;
}

/* Nothing happens to *v for @ms: the worker has gone to sleep. */
static void assert_quiet(const int *v, unsigned int ms)
{
	int before = ld(v);

	sleep_ms(ms);
	assert_int_equal(ld(v), before);
}

static void cpu_fn(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	*(uint64_t *)arg =
		(uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of @w's thread, read on that thread. */
static uint64_t worker_cpu_ns(struct vdpa_worker *w)
{
	uint64_t ns = 0;

	assert_int_equal(vdpa_worker_call(w, cpu_fn, &ns), 0);
	return ns;
}

/* An idle worker sleeps: it uses no CPU and calls nothing for @ms. */
static void assert_worker_idle(struct vdpa_worker *w, struct tpoll *t,
			       unsigned int ms)
{
	uint64_t cpu = worker_cpu_ns(w);
	int runs = ld(&t->runs);

	sleep_ms(ms);
	assert_int_equal(ld(&t->runs), runs);
	assert_true(worker_cpu_ns(w) - cpu < IDLE_CPU_NS);
}

#define MANY 200

/*
 * Each test's pool and polls. The polls live here, not on a test's stack,
 * so that a failed assertion cannot leave a poll attached to a dead frame:
 * teardown detaches whatever is left.
 */
struct fix {
	struct vdpa_worker_pool *pool;
	struct tpoll t[MANY];
};

static int fix_setup(void **state, unsigned int nr)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	for (int i = 0; i < MANY; i++)
		f->t[i].p.fd = -1;
	f->pool = vdpa_worker_pool_new(nr, nr == 1 ? "test-w" : NULL);
	if (!f->pool) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int pool1_setup(void **state)
{
	return fix_setup(state, 1);
}

static int pool4_setup(void **state)
{
	return fix_setup(state, 4);
}

static int fix_teardown(void **state)
{
	struct fix *f = *state;

	for (int i = 0; i < MANY; i++) {
		vdpa_worker_detach(&f->t[i].p);
		if (f->t[i].p.fd >= 0)
			close(f->t[i].p.fd);
	}
	vdpa_worker_pool_free(f->pool);
	free(f);
	return 0;
}

static struct vdpa_worker *w0(void **state)
{
	struct fix *f = *state;
	struct vdpa_worker *w = vdpa_worker_get(f->pool, 0);

	assert_non_null(w);
	return w;
}

/* Poll @i of the fixture, fresh. */
static struct tpoll *tp(void **state, int i, uint32_t poll_us)
{
	struct fix *f = *state;
	struct tpoll *t = &f->t[i];

	assert_int_equal(t->p.fd, -1); /* each test initialises a poll once */
	tpoll_init(t, poll_us);
	return t;
}

/* ---- attach, kick, detach ---- */

static void attach_runs_once_without_kick(void **state)
{
	struct vdpa_worker *w = w0(state);
	struct tpoll *t = tp(state, 0, 0);

	assert_int_equal(vdpa_worker_attach(w, &t->p), 0);
	assert_ptr_equal(t->p.worker, w);
	assert_int_equal(vdpa_worker_load(w), 1);
	/* work pending before the attach is served without a kick */
	assert_true(wait_at_least(&t->idles, 1));
	assert_int_equal(ld(&t->runs), 1);
	assert_int_equal(ld(&t->busies), 1);
	assert_quiet(&t->runs, 50);
	tpoll_done(t);
	assert_int_equal(vdpa_worker_load(w), 0);
	assert_null(t->p.worker);
}

static void kick_runs_and_drains(void **state)
{
	struct vdpa_worker *w = w0(state);
	struct tpoll *t = tp(state, 0, 0);
	uint64_t v;

	assert_int_equal(vdpa_worker_attach(w, &t->p), 0);
	assert_true(wait_at_least(&t->idles, 1));
	for (int i = 2; i <= 4; i++) {
		kick(t);
		assert_true(wait_at_least(&t->idles, i));
		assert_true(ld(&t->runs) >= i);
		/* activated again: notifications were turned off again */
		assert_int_equal(ld(&t->busies), i);
	}
	/* the worker read the eventfd, or it would wake forever */
	assert_int_equal(read(t->p.fd, &v, sizeof(v)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_worker_idle(w, t, 100);
	tpoll_done(t);
}

static void work_keeps_running(void **state)
{
	struct tpoll *t = tp(state, 0, 0);

	t->work = 5;
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 1));
	/* five rounds with work, then one that finds none, then idle */
	assert_int_equal(ld(&t->runs), 6);
	assert_int_equal(ld(&t->work), 0);
	assert_int_equal(ld(&t->idles), 1);
	assert_quiet(&t->runs, 50);
	tpoll_done(t);
}

static void idle_true_keeps_polling(void **state)
{
	struct tpoll *t = tp(state, 0, 0);

	t->idle_true = 3;
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 4));
	assert_quiet(&t->runs, 50);
	/* each "work arrived" bought one more run, without a new busy() */
	assert_int_equal(ld(&t->runs), 4);
	assert_int_equal(ld(&t->idles), 4);
	assert_int_equal(ld(&t->busies), 1);
	tpoll_done(t);
}

static void optional_ops_absent(void **state)
{
	struct tpoll *t = tp(state, 0, 0);

	t->p.ops = &run_only_ops;
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->runs, 1));
	kick(t);
	assert_true(wait_at_least(&t->runs, 2));
	assert_worker_idle(w0(state), t, 50);
	tpoll_done(t);
}

static void detach_is_synchronous(void **state)
{
	struct tpoll *t = tp(state, 0, 10000000);
	int runs;

	/* a poll being busy-polled, so run() is called all the time */
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->runs, 3));
	vdpa_worker_detach(&t->p);
	runs = ld(&t->runs);
	assert_null(t->p.worker);
	kick(t);
	sleep_ms(50);
	assert_int_equal(ld(&t->runs), runs);
	assert_int_equal(ld(&t->idles), 0);
	assert_int_equal(vdpa_worker_load(w0(state)), 0);
	vdpa_worker_detach(&t->p); /* not attached: nothing to do */
	tpoll_done(t);
}

static void detach_idle_poll(void **state)
{
	struct tpoll *t = tp(state, 0, 0);

	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 1));
	vdpa_worker_detach(&t->p);
	kick(t);
	assert_quiet(&t->runs, 50);
	assert_int_equal(ld(&t->runs), 1);
	/* and it can come back */
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->runs, 2));
	tpoll_done(t);
}

/* run() may detach its own poll: no callback follows. */
static void detach_self_from_run(void **state)
{
	struct tpoll *t = tp(state, 0, 0);

	t->detach_in_run = 1;
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->runs, 1));
	assert_quiet(&t->runs, 50);
	assert_int_equal(ld(&t->idles), 0);
	assert_null(worker_of(t));
	assert_int_equal(vdpa_worker_load(w0(state)), 0);
	tpoll_done(t);
}

/* run() may detach another poll of its worker, even the next one. */
static void detach_sibling_from_run(void **state)
{
	struct tpoll *a = tp(state, 0, 10000000);
	struct tpoll *b = tp(state, 1, 10000000);

	assert_int_equal(vdpa_worker_attach(w0(state), &a->p), 0);
	assert_int_equal(vdpa_worker_attach(w0(state), &b->p), 0);
	assert_true(wait_at_least(&a->runs, 2));
	assert_true(wait_at_least(&b->runs, 2));
	/* b was attached last, so it is served first: it detaches a */
	b->sibling = a;
	__atomic_store_n(&b->detach_in_run, 2, __ATOMIC_RELEASE);
	assert_true(wait_at_least(&b->runs, ld(&b->runs) + 2));
	assert_null(worker_of(a));
	assert_quiet(&a->runs, 50);
	assert_int_equal(ld(&a->late), 0);
	/* b goes on */
	assert_true(wait_at_least(&b->runs, ld(&b->runs) + 2));
	tpoll_done(b);
	tpoll_done(a);
}

/* ---- the busy-poll window ---- */

/* @t's current window, read on its worker. */
struct window_arg {
	struct vdpa_poll *p;
	uint64_t ns;
};

static void window_fn(void *arg)
{
	struct window_arg *a = arg;

	a->ns = a->p->poll_ns;
}

static uint64_t window_of(struct tpoll *t)
{
	struct window_arg a = { .p = &t->p };

	assert_int_equal(vdpa_worker_call(worker_of(t), window_fn, &a), 0);
	return a.ns;
}

/* The window each idle() saw, once @n of them were seen. */
static uint64_t window_seen(struct tpoll *t, int n)
{
	assert_true(n < NR_WINDOWS);
	assert_true(wait_at_least(&t->nr_windows, n + 1));
	return t->windows[n];
}

/*
 * poll_us 0 never polls, whatever the window it starts with, and kicks
 * that come right after the window do not grow one.
 */
static void window_zero_sleeps_at_once(void **state)
{
	struct tpoll *t = tp(state, 0, 0);

	t->p.poll_ns = 5000000000ull;
	t->kick_in_idle = 5;
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 6));
	assert_worker_idle(w0(state), t, 100);
	/* one run per wake-up: not one spent polling */
	assert_int_equal(ld(&t->runs), 6);
	assert_int_equal(ld(&t->idles), 6);
	assert_int_equal(window_of(t), 0);
	tpoll_done(t);
}

static void window_large_keeps_polling(void **state)
{
	struct tpoll *t = tp(state, 0, 1000000); /* 1 s */

	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	sleep_ms(200);
	/* no kick, no work: still polled, and not yet idle */
	assert_true(ld(&t->runs) >= 2);
	assert_int_equal(ld(&t->idles), 0);
	assert_int_equal(ld(&t->busies), 1);
	tpoll_done(t);
}

static void window_ends_in_sleep(void **state)
{
	struct tpoll *t = tp(state, 0, 20000); /* 20 ms */

	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 1));
	assert_true(ld(&t->runs) >= 2);
	assert_worker_idle(w0(state), t, 100);
	/* a kick opens a new window */
	kick(t);
	assert_true(wait_at_least(&t->idles, 2));
	assert_int_equal(ld(&t->busies), 2);
	/* the kick came after more than poll_us asleep: the window halved */
	assert_int_equal(window_seen(t, 0), 20000000);
	assert_int_equal(window_seen(t, 1), 10000000);
	assert_worker_idle(w0(state), t, 100);
	tpoll_done(t);
}

/*
 * Events that come soon after the window ended, well within poll_us:
 * polling a bit longer would have caught them, so the window doubles
 * each time, from 0 (a poll's default) over a first step.
 */
static void window_grows_for_events_just_after(void **state)
{
	struct tpoll *t = tp(state, 0, 1000000); /* at most 1 s */
	uint64_t first;

	t->p.poll_ns = 0;
	t->kick_in_idle = 8;
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 9));
	assert_quiet(&t->runs, 50);
	/* the first window, 0: one run, then asleep, woken by its kick */
	assert_int_equal(window_seen(t, 0), 0);
	first = window_seen(t, 1);
	assert_true(first > 0 && first <= 100000);
	for (int i = 2; i <= 8; i++)
		assert_int_equal(window_seen(t, i), first << (i - 1));
	/* the last wait never ended: the window stays as it was */
	assert_int_equal(window_of(t), first << 7);
	tpoll_done(t);
}

/* Growing never passes poll_us: it stops there, whatever the events do. */
static void window_grows_up_to_max(void **state)
{
	struct tpoll *t = tp(state, 0, 768);
	bool reached = false;

	t->p.poll_ns = 0;
	t->kick_in_idle = 30;
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 31));
	for (int i = 0; i < 31; i++) {
		assert_true(window_seen(t, i) <= 768000);
		reached |= window_seen(t, i) == 768000;
	}
	/*
	 * Doubling reaches 512 us, and a wait just past it grows the window
	 * to the maximum; the wait after that, just past 768 us, halves it.
	 * Preemption can only delay reaching it: of 30 tries one reaches it.
	 */
	assert_true(reached);
	tpoll_done(t);
}

/*
 * Events that always come long after poll_us: each wait halves the
 * window, down to 0, and then a kick costs one run and the worker sleeps
 * the rest of the time (the run count, not a timing, says so).
 */
static void window_shrinks_to_zero_for_late_events(void **state)
{
	struct tpoll *t = tp(state, 0, 2000); /* starts at 2 ms */
	int kicks = 0, runs, polled = 0;

	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 1));
	for (;;) {
		assert_true(kicks < 30); /* 2 ms halves to 0 in 10 */
		sleep_ms(20); /* well after poll_us: polling could not help */
		runs = ld(&t->runs);
		kick(t);
		assert_true(wait_at_least(&t->idles, ++kicks + 1));
		if (ld(&t->runs) - runs == 1)
			break;
		polled++;
	}
	/* it polled for a window at first, as a fixed window always does */
	assert_true(polled > 0);
	assert_int_equal(window_of(t), 0);
	for (int i = 0; i < 3; i++) {
		sleep_ms(20);
		runs = ld(&t->runs);
		kick(t);
		assert_true(wait_at_least(&t->idles, ++kicks + 1));
		assert_quiet(&t->runs, 20);
		assert_int_equal(ld(&t->runs) - runs, 1);
	}
	assert_worker_idle(w0(state), t, 50);
	tpoll_done(t);
}

/*
 * Work back to back (no wait), or events the window catches (waits of a
 * few runs), keep the window as it is: neither grow nor shrink it.
 */
static void window_kept_when_it_catches_events(void **state)
{
	struct tpoll *t = tp(state, 0, 1000000); /* at most 1 s */

	t->p.poll_ns = 100000000; /* 100 ms: between 0 and the maximum */
	t->work = 1000; /* every run */
	assert_int_equal(vdpa_worker_attach(w0(state), &t->p), 0);
	assert_true(wait_at_least(&t->idles, 1));
	assert_int_equal(ld(&t->work), 0);
	assert_int_equal(window_seen(t, 0), 100000000);
	assert_int_equal(window_of(t), 100000000);

	/* now work on every third run: two idle runs, then work */
	__atomic_store_n(&t->every, 3, __ATOMIC_RELEASE);
	__atomic_store_n(&t->work, 300, __ATOMIC_RELEASE);
	kick(t);
	assert_true(wait_at_least(&t->idles, 2));
	assert_int_equal(ld(&t->work), 0);
	assert_true(ld(&t->runs) >= 1000 + 900);
	/*
	 * The kick ended a wait just past the window (the window, then the
	 * test's pause): it doubled the window, once; the caught events did
	 * not change it.
	 */
	assert_int_equal(window_seen(t, 1), 200000000);
	assert_int_equal(window_of(t), window_seen(t, 1));
	tpoll_done(t);
}

/* ---- calls ---- */

struct call_arg {
	pthread_t thread;
	struct vdpa_worker *w;
	int done, nested, nested_ret;
};

static void nested_fn(void *arg)
{
	struct call_arg *c = arg;

	c->nested = pthread_equal(pthread_self(), c->thread) ? 1 : -1;
}

/* Runs on the worker: no cmocka assertion here, they jump. */
static void call_fn(void *arg)
{
	struct call_arg *c = arg;

	c->thread = pthread_self();
	sleep_ms(30); /* the caller must wait for this */
	/* a call from the worker itself runs inline, without deadlock */
	c->nested_ret = vdpa_worker_call(c->w, nested_fn, c);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
}

static void call_runs_on_worker_thread(void **state)
{
	struct call_arg c = { .w = w0(state) };
	struct tpoll *t = tp(state, 0, 0);

	assert_int_equal(vdpa_worker_attach(c.w, &t->p), 0);
	assert_true(wait_at_least(&t->idles, 1));
	assert_int_equal(vdpa_worker_call(c.w, call_fn, &c), 0);
	assert_int_equal(ld(&c.done), 1);
	assert_int_equal(c.nested_ret, 0);
	assert_int_equal(c.nested, 1);
	assert_false(pthread_equal(c.thread, pthread_self()));
	assert_true(pthread_equal(c.thread, run_thread(t)));
	tpoll_done(t);
}

static void mask_fn(void *arg)
{
	pthread_sigmask(SIG_BLOCK, NULL, arg);
}

/*
 * A worker blocks the signals the daemon's control thread handles, but
 * not the faults: a SIGBUS from a front end's shrunk memfd must reach
 * the vhost-user back end's guard on the thread that touched it.
 */
static void workers_take_faults(void **state)
{
	sigset_t mask;

	sigemptyset(&mask);
	assert_int_equal(vdpa_worker_call(w0(state), mask_fn, &mask), 0);
	assert_true(sigismember(&mask, SIGTERM));
	assert_false(sigismember(&mask, SIGBUS));
	assert_false(sigismember(&mask, SIGSEGV));
}

/* Calls are served between rounds even while the worker busy-polls. */
static void call_while_polling(void **state)
{
	struct call_arg c = { .w = w0(state) };
	struct tpoll *t = tp(state, 0, 10000000);

	assert_int_equal(vdpa_worker_attach(c.w, &t->p), 0);
	assert_true(wait_at_least(&t->runs, 2));
	assert_int_equal(vdpa_worker_call(c.w, call_fn, &c), 0);
	assert_int_equal(ld(&c.done), 1);
	assert_true(pthread_equal(c.thread, run_thread(t)));
	tpoll_done(t);
}

/* ---- many polls, many workers ---- */

static void many_polls_one_worker(void **state)
{
	struct vdpa_worker *w = w0(state);
	struct tpoll *t[MANY];

	for (int i = 0; i < MANY; i++) {
		t[i] = tp(state, i, 0);
		assert_int_equal(vdpa_worker_attach(w, &t[i]->p), 0);
	}
	assert_int_equal(vdpa_worker_load(w), MANY);
	for (int i = 0; i < MANY; i++)
		assert_true(wait_at_least(&t[i]->idles, 1));
	/* more kicks at once than one epoll_wait returns */
	for (int i = 0; i < MANY; i++)
		kick(t[i]);
	for (int i = 0; i < MANY; i++)
		assert_true(wait_at_least(&t[i]->runs, 2));
	for (int i = 0; i < MANY; i++)
		tpoll_done(t[i]);
	assert_int_equal(vdpa_worker_load(w), 0);
}

static void pick_balances_by_load(void **state)
{
	struct vdpa_worker_pool *pool = ((struct fix *)*state)->pool;
	unsigned int n = vdpa_worker_pool_size(pool);
	struct vdpa_worker *w;
	struct tpoll *t[8];

	assert_int_equal(n, 4);
	assert_null(vdpa_worker_get(pool, n));
	for (int i = 0; i < 8; i++) {
		t[i] = tp(state, i, 0);
		w = vdpa_worker_pick(pool);
		assert_int_equal(vdpa_worker_attach(w, &t[i]->p), 0);
	}
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(vdpa_worker_load(vdpa_worker_get(pool, i)), 2);
	/* the least loaded worker is picked, wherever it is */
	w = t[5]->p.worker;
	vdpa_worker_detach(&t[5]->p);
	assert_int_equal(vdpa_worker_load(w), 1);
	assert_ptr_equal(vdpa_worker_pick(pool), w);
	for (int i = 0; i < 8; i++)
		tpoll_done(t[i]);
}

static void thread_fn(void *arg)
{
	*(pthread_t *)arg = pthread_self();
}

static void pool_one_worker_per_cpu(void **state)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct vdpa_worker_pool *pool = vdpa_worker_pool_new(0, NULL);
	pthread_t *th;
	unsigned int n;

	assert_non_null(pool);
	n = vdpa_worker_pool_size(pool);
	assert_int_equal(n, cpus > 0 ? cpus : 1);
	th = calloc(n, sizeof(*th));
	assert_non_null(th);
	/* one thread each */
	for (unsigned int i = 0; i < n; i++) {
		struct vdpa_worker *w = vdpa_worker_get(pool, i);

		assert_int_equal(vdpa_worker_call(w, thread_fn, &th[i]), 0);
		for (unsigned int j = 0; j < i; j++)
			assert_false(pthread_equal(th[i], th[j]));
	}
	free(th);
	vdpa_worker_pool_free(pool);
}

static const struct vdpa_poll_ops no_run_ops = { .busy = tpoll_busy };

static void attach_invalid(void **state)
{
	struct vdpa_worker *w = w0(state);
	struct tpoll *t = tp(state, 0, 0);
	int fd = t->p.fd;

	assert_int_equal(vdpa_worker_attach(NULL, &t->p), -EINVAL);
	assert_int_equal(vdpa_worker_attach(w, NULL), -EINVAL);
	t->p.ops = NULL;
	assert_int_equal(vdpa_worker_attach(w, &t->p), -EINVAL);
	t->p.ops = &no_run_ops;
	assert_int_equal(vdpa_worker_attach(w, &t->p), -EINVAL);
	t->p.ops = &tpoll_ops;
	t->p.fd = -1;
	assert_int_equal(vdpa_worker_attach(w, &t->p), -EINVAL);

	/* a closed fd, and a file epoll cannot watch, fail on the worker */
	close(fd);
	t->p.fd = fd;
	assert_int_equal(vdpa_worker_attach(w, &t->p), -EBADF);
	t->p.fd = memfd_create("not-pollable", MFD_CLOEXEC);
	assert_true(t->p.fd >= 0);
	assert_int_equal(vdpa_worker_attach(w, &t->p), -EPERM);
	close(t->p.fd);
	t->p.fd = -1;
	assert_null(t->p.worker);
	assert_int_equal(vdpa_worker_load(w), 0);
	assert_int_equal(ld(&t->runs) + ld(&t->busies), 0);

	/* the same poll then attaches cleanly, once */
	tpoll_init(t, 0);
	assert_int_equal(vdpa_worker_attach(w, &t->p), 0);
	assert_int_equal(vdpa_worker_attach(w, &t->p), -EBUSY);
	assert_int_equal(vdpa_worker_load(w), 1);
	assert_true(wait_at_least(&t->runs, 1));
	tpoll_done(t);
}

static void pool_free_empty(void **state)
{
	int fds = test_count_fds();

	for (int i = 0; i < 3; i++) {
		struct vdpa_worker_pool *pool = vdpa_worker_pool_new(2, "x");

		assert_non_null(pool);
		assert_int_equal(vdpa_worker_pool_size(pool), 2);
		vdpa_worker_pool_free(pool);
	}
	vdpa_worker_pool_free(NULL);
	assert_int_equal(test_count_fds(), fds);
}

#define T1(fn) cmocka_unit_test_setup_teardown(fn, pool1_setup, fix_teardown)
#define T4(fn) cmocka_unit_test_setup_teardown(fn, pool4_setup, fix_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T1(attach_runs_once_without_kick),
		T1(kick_runs_and_drains),
		T1(work_keeps_running),
		T1(idle_true_keeps_polling),
		T1(optional_ops_absent),
		T1(detach_is_synchronous),
		T1(detach_idle_poll),
		T1(detach_self_from_run),
		T1(detach_sibling_from_run),
		T1(window_zero_sleeps_at_once),
		T1(window_large_keeps_polling),
		T1(window_ends_in_sleep),
		T1(window_grows_for_events_just_after),
		T1(window_grows_up_to_max),
		T1(window_shrinks_to_zero_for_late_events),
		T1(window_kept_when_it_catches_events),
		T1(call_runs_on_worker_thread),
		T1(call_while_polling),
		T1(workers_take_faults),
		T1(many_polls_one_worker),
		T4(pick_balances_by_load),
		cmocka_unit_test(pool_one_worker_per_cpu),
		T1(attach_invalid),
		cmocka_unit_test(pool_free_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
