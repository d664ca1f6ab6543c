// SPDX-License-Identifier: MIT
/*
 * bench-vhost-blk: a vhost-user-blk load generator on uvdpa's own front
 * end (vu_frontend.h), for any back end: uvdpad, qemu-storage-daemon, ...
 * One case per run: random (or, with --seq, sequential) reads or writes of
 * --bs bytes at a queue depth per queue, on --queues queues, the front end
 * busy-polling its used rings or sleeping on its call eventfds. Prints one
 * line of key=value pairs; with --pid, the back end's CPU time over the
 * same window (from /proc/PID/stat).
 *
 * bench-vhost-blk --socket PATH [--rw read|write|randread|randwrite]
 *                 [--seq] [--bs BYTES] [--qd N] [--queues N]
 *                 [--threads N] [--seconds S] [--wait poll|sleep]
 *                 [--cpu N[,N...]] [--pid PID] [--label L] [--fill]
 *                 [--idle S]
 * read and write are random unless --seq (randread/randwrite say so
 * explicitly). --bs is a multiple of 512 (K and M suffixes). --qd is per
 * queue. The --queues queues are dealt round-robin to --threads threads
 * (default one: the front end's CPU budget stays the same whatever the
 * number of queues, so what more queues gain is the back end's); thread
 * i is pinned to the i-th CPU of --cpu, cycling. With --seq each queue
 * walks its own slice of the disk, wrapping.
 * --fill writes the whole disk once in --bs blocks on queue 0 (so reads
 * find real pages); --idle starts the queues, runs a short burst, then
 * submits nothing for S seconds and reports the back end's CPU time.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/uapi.h>
#include <uvdpa/vu_frontend.h>

#include "bench.h"

#define PAGE 4096
#define QSIZE 256 /* two descriptors a 4 KiB request: depth 128 fills it */
#define MAX_QSIZE 1024 /* what libvhost-user and uvdpa's blk accept */
#define MAX_QD 128
#define MAX_QUEUES 16
#define MAX_CPUS 16
#define MAX_BS (1u << 20)
#define MAX_SEGS 16 /* descriptors a request may take */
#define GPA 0x100000000ull
#define WARMUP_S 0.3
#define STALL_S 5.0 /* no completion for this long: the back end hung */

struct opts {
	const char *socket, *label;
	bool write, poll, fill, seq;
	unsigned int qd, bs, queues, threads, ncpus;
	int cpus[MAX_CPUS];
	double seconds, idle;
	int pid;
};

struct req {
	struct virtio_blk_outhdr *hdr;
	uint8_t *status;
	struct vq_buf rd[MAX_SEGS], wr[MAX_SEGS];
	unsigned int rd_out, rd_in, wr_out, wr_in;
};

struct counters {
	uint64_t done, errors, kicks, sleeps;
};

/* One queue, driven by one thread: its counters are that thread's. */
struct queue {
	struct vu_fe *fe;
	struct vq_drv *vq;
	uint16_t idx;
	struct req *reqs;
	uint64_t rnd; /* xorshift64 state */
	uint64_t lo, hi, next; /* --seq / --fill: slice and cursor, blocks */
	struct counters c;
};

struct bench;

struct thread {
	struct bench *b;
	pthread_t tid;
	int cpu;
	unsigned int nq;
	struct queue *qs[MAX_QUEUES];
	/* the measured window, as this thread saw it */
	double t0, t1;
	struct counters c0, c1;
	int ret;
};

struct bench {
	struct vu_fe fe;
	const struct opts *o;
	struct queue qs[MAX_QUEUES];
	struct thread th[MAX_QUEUES];
	uint64_t blocks; /* disk size in --bs blocks */
	uint32_t size_max; /* bytes per descriptor; 0: no limit */
	uint32_t seg_max; /* data descriptors per request; 0: no limit */
	unsigned int num_queues; /* the device's */
	uint32_t qsize; /* ring entries */
	bool filling;
	double t_start, t_end; /* the window the threads measure */
	double t_stop; /* when the threads stop submitting */
};

/* utime + stime of @pid, all threads, in seconds; -1 if unreadable. */
static double pid_cpu_s(int pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* fields 14 and 15, counted after the ")" that ends comm */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
			 "%llu",
			 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy time of every CPU of the machine, in seconds (/proc/stat). */
static double sys_busy_s(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	/* user nice system idle iowait irq softirq steal */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
	       (double)sysconf(_SC_CLK_TCK);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void sleep_until(double t)
{
	double d = t - now_s();

	if (d > 0)
		usleep((useconds_t)(d * 1e6));
}

/* ---- requests ---- */

/* Descriptors @len bytes take at most @max bytes each (0: no limit). */
static unsigned int segs(uint64_t len, uint32_t max)
{
	return max ? (unsigned int)((len + max - 1) / max) : 1;
}

/*
 * Cut [@iova, @iova + @len) into descriptors of at most @max bytes (0: no
 * limit) at @bufs; how many.
 */
static unsigned int cut(struct vq_buf *bufs, uint64_t iova, uint64_t len,
			uint32_t max)
{
	unsigned int n = 0;

	while (len) {
		uint32_t l = max && len > max ? max : (uint32_t)len;

		bufs[n++] = (struct vq_buf){ iova, l };
		iova += l;
		len -= l;
	}
	return n;
}

/*
 * Header, data and status lie back to back. Data that fits in one
 * descriptor (size_max, when the back end sets it) shares it with the
 * header or the status, so a 4 KiB request takes two: a read is
 * hdr | data+status, a write hdr+data | status, what bench/vhost-blk.py
 * has always measured (size_max is read as a bound on data segments:
 * vdpasim_blk's is 4096 and its merged descriptors pass it by the 16
 * header bytes). Larger data is cut into size_max pieces, header and
 * status on their own.
 */
static bool merged(const struct bench *b)
{
	return !b->size_max || b->o->bs <= b->size_max;
}

static unsigned int descs_per_req(const struct bench *b)
{
	return merged(b) ? 2 : segs(b->o->bs, b->size_max) + 2;
}

static void layout(struct bench *b, struct req *r, uint64_t hdr, uint64_t data)
{
	uint32_t bs = b->o->bs, hl = sizeof(*r->hdr);

	if (merged(b)) {
		r->rd[0] = (struct vq_buf){ hdr, hl };
		r->rd[1] = (struct vq_buf){ data, bs + 1 };
		r->wr[0] = (struct vq_buf){ hdr, hl + bs };
		r->wr[1] = (struct vq_buf){ data + bs, 1 };
		r->rd_out = r->rd_in = r->wr_out = r->wr_in = 1;
		return;
	}
	r->rd[0] = r->wr[0] = (struct vq_buf){ hdr, hl };
	r->rd_in = cut(r->rd + 1, data, bs, b->size_max);
	r->wr_out = cut(r->wr + 1, data, bs, b->size_max);
	r->rd[1 + r->rd_in++] = r->wr[1 + r->wr_out++] =
		(struct vq_buf){ data + bs, 1 };
	r->rd_out = r->wr_in = 1;
}

static int req_init(struct bench *b, struct req *r)
{
	const struct opts *o = b->o;
	size_t size = PAGE + o->bs + PAGE;
	uint64_t gpa, hdr, data;
	uint8_t *slot = vu_fe_alloc(&b->fe, size, PAGE, &gpa);

	if (!slot)
		return -ENOMEM;
	memset(slot, 0xa5, size);
	hdr = gpa + PAGE - sizeof(*r->hdr);
	data = gpa + PAGE;
	r->hdr = vu_fe_ptr(&b->fe, hdr);
	r->status = vu_fe_ptr(&b->fe, data + o->bs);
	layout(b, r, hdr, data);
	return 0;
}

/* The next block of @q; false when a fill has reached its end. */
static bool next_block(struct bench *b, struct queue *q, uint64_t *blk)
{
	if (b->filling && q->next >= q->hi)
		return false;
	if (b->filling || b->o->seq) {
		*blk = q->next++;
		if (q->next >= q->hi && !b->filling)
			q->next = q->lo;
		return true;
	}
	*blk = xorshift(&q->rnd) % b->blocks;
	return true;
}

static void req_submit(struct bench *b, struct queue *q, struct req *r)
{
	bool write = b->o->write || b->filling;
	uint64_t blk;

	if (!next_block(b, q, &blk))
		return;
	r->hdr->type = htole32(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
	r->hdr->ioprio = 0;
	r->hdr->sector = htole64(blk * (b->o->bs / 512));
	*r->status = 0xff;
	if (write)
		vq_drv_add(q->vq, r->wr, r->wr_out, r->wr_in, r);
	else
		vq_drv_add(q->vq, r->rd, r->rd_out, r->rd_in, r);
}

/* ---- the loop, one thread over its queues ---- */

static void kick(struct queue *q)
{
	if (vu_fe_kick(q->fe, q->idx) > 0)
		q->c.kicks++;
}

/* Complete what is used and submit as many again; how many there were. */
static unsigned int reap(struct bench *b, struct queue *q, bool refill)
{
	unsigned int n = 0;
	struct req *r;

	while ((r = vq_drv_get_used(q->vq, NULL))) {
		q->c.errors += *r->status != VIRTIO_BLK_S_OK;
		q->c.done++;
		n++;
		if (refill)
			req_submit(b, q, r);
	}
	return n;
}

/* Sleep on the queues' call fds unless a completion raced the re-enable. */
static void wait_calls(struct thread *t)
{
	struct pollfd p[MAX_QUEUES];
	bool pending = false;
	uint64_t v;

	for (unsigned int i = 0; i < t->nq; i++) {
		pending |= !vq_drv_enable_cb(t->qs[i]->vq);
		p[i] = (struct pollfd){
			.fd = t->qs[i]->fe->vqs[t->qs[i]->idx].callfd,
			.events = POLLIN
		};
	}
	if (!pending) {
		t->qs[0]->c.sleeps++;
		if (poll(p, t->nq, 100) > 0)
			for (unsigned int i = 0; i < t->nq; i++)
				if ((p[i].revents & POLLIN) &&
				    read(p[i].fd, &v, sizeof(v)) < 0) {
					/* EAGAIN: another read drained it */
				}
	}
	for (unsigned int i = 0; i < t->nq; i++)
		vq_drv_disable_cb(t->qs[i]->vq);
}

/* One pass over the thread's queues; how many requests completed. */
static unsigned int pass(struct thread *t, bool refill)
{
	unsigned int n = 0, got;

	for (unsigned int i = 0; i < t->nq; i++) {
		got = reap(t->b, t->qs[i], refill);
		if (got && refill)
			kick(t->qs[i]);
		n += got;
	}
	if (!n && !t->b->o->poll)
		wait_calls(t);
	return n;
}

static void sum(const struct thread *t, struct counters *c)
{
	*c = (struct counters){ 0 };
	for (unsigned int i = 0; i < t->nq; i++) {
		c->done += t->qs[i]->c.done;
		c->errors += t->qs[i]->c.errors;
		c->kicks += t->qs[i]->c.kicks;
		c->sleeps += t->qs[i]->c.sleeps;
	}
}

static bool in_flight(const struct thread *t)
{
	for (unsigned int i = 0; i < t->nq; i++)
		if (vq_drv_num_free(t->qs[i]->vq) < t->qs[i]->vq->num)
			return true;
	return false;
}

/*
 * Keep the queues full until @end, or while a fill has requests in
 * flight; false if the back end stopped answering.
 */
static bool run_until(struct thread *t, double end)
{
	double last = now_s(), now;
	uint64_t rounds = 0;

	for (;;) {
		if (pass(t, true))
			last = 0;
		if (++rounds % 64)
			continue;
		now = now_s();
		if (!last)
			last = now;
		if (t->b->filling ? !in_flight(t) : now >= end)
			return true;
		if (now - last > STALL_S)
			return false;
	}
}

/* Wait for every request in flight. */
static bool drain(struct thread *t)
{
	double end = now_s() + STALL_S;

	while (in_flight(t) && now_s() < end)
		pass(t, false);
	return !in_flight(t);
}

static void submit_all(struct thread *t)
{
	for (unsigned int i = 0; i < t->nq; i++) {
		struct queue *q = t->qs[i];

		for (unsigned int j = 0; j < t->b->o->qd; j++)
			req_submit(t->b, q, &q->reqs[j]);
		kick(q);
	}
}

static void pin(int cpu)
{
	if (cpu >= 0 && pin_self(cpu))
		perror("sched_setaffinity");
}

/* Warm up, then count over [t_start, t_end], run on to t_stop, drain. */
static void *thread_main(void *arg)
{
	struct thread *t = arg;
	struct bench *b = t->b;
	struct counters end;

	pin(t->cpu);
	submit_all(t);
	t->ret = -ETIMEDOUT;
	if (!run_until(t, b->t_start))
		return NULL;
	t->t0 = now_s();
	sum(t, &t->c0);
	if (!run_until(t, b->t_end))
		return NULL;
	t->t1 = now_s();
	sum(t, &t->c1);
	if (!run_until(t, b->t_stop) || !drain(t))
		return NULL;
	sum(t, &end);
	t->ret = end.errors ? -EIO : 0;
	return NULL;
}

/* Start the threads; how many started (fewer: stop them early). */
static unsigned int start_threads(struct bench *b)
{
	for (unsigned int i = 0; i < b->o->threads; i++)
		if (pthread_create(&b->th[i].tid, NULL, thread_main,
				   &b->th[i])) {
			b->t_start = b->t_end = b->t_stop = 0;
			return i;
		}
	return b->o->threads;
}

/* Join @n threads; the first error, -EAGAIN if not all started. */
static int join_threads(struct bench *b, unsigned int n)
{
	int ret = n < b->o->threads ? -EAGAIN : 0;

	for (unsigned int i = 0; i < n; i++) {
		pthread_join(b->th[i].tid, NULL);
		if (!ret)
			ret = b->th[i].ret;
	}
	return ret;
}

/* ---- setup ---- */

/* The blk config fields read here: capacity, size_max, num_queues. */
static int read_config(struct bench *b)
{
	struct virtio_blk_config c = { 0 };
	uint32_t len = offsetof(struct virtio_blk_config, num_queues) +
		       sizeof(c.num_queues);
	int ret = vu_fe_get_config(&b->fe, 0, &c, len);
	unsigned int nq = 1;

	if (ret)
		return ret;
	/* divided, not multiplied: a huge capacity must not wrap */
	b->blocks = le64toh(c.capacity) / (b->o->bs / 512);
	if (b->fe.features & (1ull << VIRTIO_BLK_F_SIZE_MAX))
		b->size_max = le32toh(c.size_max);
	if (b->fe.features & (1ull << VIRTIO_BLK_F_SEG_MAX))
		b->seg_max = le32toh(c.seg_max);
	if (b->fe.features & (1ull << VIRTIO_BLK_F_MQ))
		nq = le16toh(c.num_queues);
	b->num_queues = nq;
	if (b->o->queues > nq) {
		fprintf(stderr, "bench-vhost-blk: the device has %u queues\n",
			nq);
		return -EINVAL;
	}
	return b->blocks ? 0 : -ENOSPC;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/*
 * Ring entries: QSIZE (what bench/vhost-blk.py has always measured) unless
 * the requests at depth qd take more descriptors than that.
 */
static int ring_size(struct bench *b)
{
	unsigned int descs = descs_per_req(b);

	b->qsize = pow2_at_least(descs * b->o->qd);
	if (b->qsize < QSIZE)
		b->qsize = QSIZE;
	if (b->seg_max && descs - 2 > b->seg_max) {
		fprintf(stderr,
			"bench-vhost-blk: %u bytes take %u segments of "
			"size_max %u, above seg_max %u\n",
			b->o->bs, descs - 2, b->size_max, b->seg_max);
		return -E2BIG;
	}
	if (descs > MAX_SEGS || descs * b->o->qd > MAX_QSIZE) {
		fprintf(stderr,
			"bench-vhost-blk: %u descriptors a request at "
			"depth %u need a ring of %u\n",
			descs, b->o->qd, descs * b->o->qd);
		return -E2BIG;
	}
	return 0;
}

static size_t arena_size(const struct opts *o)
{
	size_t reqs = (size_t)o->queues * o->qd * (2 * PAGE + o->bs);

	/* and rings of up to MAX_QSIZE entries */
	return reqs + (size_t)o->queues * (64u << 10) + (1u << 20);
}

static int queues_init(struct bench *b)
{
	const struct opts *o = b->o;
	uint64_t slice = b->blocks / o->queues;
	int ret;

	for (unsigned int i = 0; i < o->queues; i++) {
		struct queue *q = &b->qs[i];

		*q = (struct queue){ .fe = &b->fe,
				     .vq = &b->fe.vqs[i].drv,
				     .idx = (uint16_t)i,
				     .rnd = 0x9e3779b97f4a7c15ull * (i + 1),
				     .lo = i * slice,
				     .hi = (i + 1) * slice,
				     .next = i * slice };
		q->reqs = calloc(o->qd, sizeof(*q->reqs));
		if (!q->reqs)
			return -ENOMEM;
		for (unsigned int j = 0; j < o->qd; j++)
			if ((ret = req_init(b, &q->reqs[j])))
				return ret;
		if (o->poll)
			vq_drv_disable_cb(q->vq);
	}
	return 0;
}

static int bench_setup(struct bench *b, const struct opts *o)
{
	struct vu_fe_cfg cfg = {
		.path = o->socket,
		.mem_size = arena_size(o),
		.mem_gpa = GPA,
	};
	int ret;

	b->o = o;
	if ((ret = vu_fe_connect(&b->fe, &cfg)))
		return ret;
	/* size_max decides the ring size: the config before the rings */
	if ((ret = vu_fe_negotiate(&b->fe, ~0ull)) || (ret = read_config(b)) ||
	    (ret = ring_size(b)) || (ret = vu_fe_set_mem(&b->fe)) ||
	    (ret = vu_fe_setup_vqs(&b->fe, o->queues, b->qsize, 0)) ||
	    (ret = vu_fe_driver_ok(&b->fe)) || (ret = queues_init(b)))
		return ret;
	/* deal the queues to the threads */
	for (unsigned int i = 0; i < o->queues; i++) {
		struct thread *t = &b->th[i % o->threads];

		t->b = b;
		t->cpu = o->ncpus ? o->cpus[i % o->threads % o->ncpus] : -1;
		t->qs[t->nq++] = &b->qs[i];
	}
	return 0;
}

/* ---- modes ---- */

/* The whole disk, in order, on queue 0 by the calling thread. */
static int do_fill(struct bench *b, const struct opts *o)
{
	struct thread t = { .b = b, .nq = 1, .qs = { &b->qs[0] } };
	double t0 = now_s();

	b->filling = true;
	b->qs[0].lo = b->qs[0].next = 0;
	b->qs[0].hi = b->blocks;
	submit_all(&t);
	if (!run_until(&t, 0) || !drain(&t))
		return -ETIMEDOUT;
	printf("label=%s mode=fill blocks=%" PRIu64 " bs=%u seconds=%.2f "
	       "errors=%" PRIu64 "\n",
	       o->label, b->qs[0].c.done, o->bs, now_s() - t0,
	       b->qs[0].c.errors);
	return b->qs[0].c.errors ? -EIO : 0;
}

static int do_idle(struct bench *b, const struct opts *o)
{
	double c0, c1;
	int ret;

	/* a burst first: a back end that polls after I/O shows it here */
	b->t_start = b->t_end = b->t_stop = now_s() + 0.2;
	if ((ret = join_threads(b, start_threads(b))))
		return ret;
	c0 = pid_cpu_s(o->pid);
	usleep((useconds_t)(o->idle * 1e6));
	c1 = pid_cpu_s(o->pid);
	printf("label=%s mode=idle seconds=%.1f be_cpu_ms=%.1f "
	       "be_cpu_pct=%.2f\n",
	       o->label, o->idle, (c1 - c0) * 1e3, (c1 - c0) / o->idle * 100);
	return 0;
}

struct sample {
	double t, fe, be, sys;
};

static void sample(struct sample *s, int pid)
{
	s->t = now_s();
	s->fe = cpu_s();
	s->be = pid_cpu_s(pid);
	s->sys = sys_busy_s();
}

static void report(const struct bench *b, const struct opts *o,
		   const struct sample *s0, const struct sample *s1)
{
	double iops = 0, win = s1->t - s0->t, fe, be;
	uint64_t done = 0, kicks = 0, sleeps = 0, errors = 0;

	for (unsigned int i = 0; i < o->threads; i++) {
		const struct thread *t = &b->th[i];

		iops += (double)(t->c1.done - t->c0.done) / (t->t1 - t->t0);
		done += t->c1.done - t->c0.done;
		kicks += t->c1.kicks - t->c0.kicks;
		sleeps += t->c1.sleeps - t->c0.sleeps;
	}
	for (unsigned int i = 0; i < o->queues; i++)
		errors += b->qs[i].c.errors;
	fe = (s1->fe - s0->fe) / win;
	be = o->pid > 0 ? (s1->be - s0->be) / win : 0;
	/* others: what the rest of the machine ran meanwhile, in CPUs */
	printf("label=%s rw=%s pattern=%s bs=%u qd=%u queues=%u/%u threads=%u "
	       "ring=%u wait=%s iops=%.0f mbps=%.1f lat_us=%.2f "
	       "kicks_per_io=%.3f sleeps_per_io=%.3f fe_cpu=%.2f be_cpu=%.2f "
	       "others=%.2f errors=%" PRIu64 "\n",
	       o->label, o->write ? "write" : "read", o->seq ? "seq" : "rand",
	       o->bs, o->qd, o->queues, b->num_queues, o->threads, b->qsize,
	       o->poll ? "poll" : "sleep", iops, iops * o->bs / 1e6,
	       1e6 * o->qd * o->queues / iops, (double)kicks / (double)done,
	       (double)sleeps / (double)done, fe, be,
	       (s1->sys - s0->sys) / win - fe - be, errors);
}

static int do_load(struct bench *b, const struct opts *o)
{
	struct sample s0, s1;
	unsigned int n;
	int ret;

	b->t_start = now_s() + WARMUP_S;
	b->t_end = b->t_start + o->seconds;
	b->t_stop = b->t_end + 0.05; /* a margin: no thread stops early */
	n = start_threads(b);
	sleep_until(b->t_start);
	sample(&s0, o->pid);
	sleep_until(b->t_end);
	sample(&s1, o->pid);
	if ((ret = join_threads(b, n)) && ret != -EIO)
		return ret;
	report(b, o, &s0, &s1);
	return ret;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-vhost-blk --socket PATH "
		"[--rw read|write|randread|randwrite] [--seq]\n"
		"       [--bs BYTES] [--qd N] [--queues N] [--threads N] "
		"[--seconds S]\n"
		"       [--wait poll|sleep] [--cpu N[,N...]] [--pid PID] "
		"[--label L] [--fill] [--idle S]\n");
	exit(2);
}

/* 4096, 4K, 128K, 1M. */
static unsigned int parse_size(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	unsigned int shift = 0;

	if (*end == 'k' || *end == 'K')
		shift = 10, end++;
	else if (*end == 'm' || *end == 'M')
		shift = 20, end++;
	/* bound before the shift, which could wrap a huge number small */
	return *end || v > MAX_BS >> shift ? 0 : (unsigned int)(v << shift);
}

static void parse_cpus(const char *s, struct opts *o)
{
	char *end;

	o->ncpus = 0;
	while (*s && o->ncpus < MAX_CPUS) {
		o->cpus[o->ncpus++] = (int)strtol(s, &end, 10);
		if (end == s || (*end && *end != ','))
			usage();
		s = *end ? end + 1 : end;
	}
}

static void parse_rw(const char *s, struct opts *o)
{
	if (!strcmp(s, "read") || !strcmp(s, "randread"))
		o->write = false;
	else if (!strcmp(s, "write") || !strcmp(s, "randwrite"))
		o->write = true;
	else
		usage();
}

static void parse_opt(int c, struct opts *o)
{
	switch (c) {
	case 's':
		o->socket = optarg;
		break;
	case 'r':
		parse_rw(optarg, o);
		break;
	case 'S':
		o->seq = true;
		break;
	case 'b':
		o->bs = parse_size(optarg);
		break;
	case 'q':
		o->qd = (unsigned int)atoi(optarg);
		break;
	case 'Q':
		o->queues = (unsigned int)atoi(optarg);
		break;
	case 'T':
		o->threads = (unsigned int)atoi(optarg);
		break;
	case 't':
		o->seconds = atof(optarg);
		break;
	case 'w':
		o->poll = strcmp(optarg, "sleep");
		break;
	case 'c':
		parse_cpus(optarg, o);
		break;
	case 'p':
		o->pid = atoi(optarg);
		break;
	case 'l':
		o->label = optarg;
		break;
	case 'f':
		o->fill = true;
		break;
	case 'i':
		o->idle = atof(optarg);
		break;
	default:
		usage();
	}
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "rw", required_argument, NULL, 'r' },
		{ "seq", no_argument, NULL, 'S' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "threads", required_argument, NULL, 'T' },
		{ "seconds", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "label", required_argument, NULL, 'l' },
		{ "fill", no_argument, NULL, 'f' },
		{ "idle", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .label = "target",
			    .qd = 1,
			    .bs = PAGE,
			    .queues = 1,
			    .threads = 1,
			    .seconds = 3,
			    .poll = true,
			    .pid = -1 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		parse_opt(c, o);
	if (o->fill) /* one queue, as deep as it goes */
		o->qd = MAX_QD, o->queues = o->threads = 1;
	if (!o->socket || o->qd < 1 || o->qd > MAX_QD || o->seconds <= 0 ||
	    !o->bs || o->bs % 512 || o->queues < 1 || o->queues > MAX_QUEUES ||
	    o->threads < 1 || o->threads > o->queues || optind < argc)
		usage();
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct opts o;
	int ret;

	parse(argc, argv, &o);
	/* setup and --fill run on the first CPU, as the first thread does */
	pin(o.ncpus ? o.cpus[0] : -1);
	ret = bench_setup(&b, &o);
	if (!ret) {
		if (o.fill)
			ret = do_fill(&b, &o);
		else if (o.idle > 0)
			ret = do_idle(&b, &o);
		else
			ret = do_load(&b, &o);
	}
	if (ret)
		fprintf(stderr, "bench-vhost-blk: %s: %s\n", o.socket,
			strerror(-ret));
	vu_fe_close(&b.fe);
	return ret ? 1 : 0;
}
