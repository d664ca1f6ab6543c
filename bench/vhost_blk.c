// SPDX-License-Identifier: MIT
/*
 * bench-vhost-blk: a vhost-user-blk load generator on uvdpa's own front
 * end (vu_frontend.h), for any back end: uvdpad, qemu-storage-daemon, ...
 * One case per run: 4 KiB random reads or writes at a queue depth, the
 * front end busy-polling its used ring or sleeping on its call eventfd,
 * pinned to one CPU. Prints one line of key=value pairs; with --pid, the
 * back end's CPU time over the same window (from /proc/PID/stat).
 *
 * bench-vhost-blk --socket PATH [--rw read|write] [--qd N] [--seconds S]
 *                 [--wait poll|sleep] [--cpu N] [--pid PID] [--label L]
 *                 [--fill] [--idle S]
 * --fill writes the whole disk once (so reads find real pages); --idle
 * starts the queue, runs a short burst, then submits nothing for S
 * seconds and reports the back end's CPU time meanwhile.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uvdpa/uapi.h>
#include <uvdpa/vu_frontend.h>

#include "bench.h"

#define BLOCK 4096
#define QSIZE 256 /* two descriptors a request: depth 128 fills it */
#define MAX_QD 128
#define SLOT (3 * BLOCK) /* header at the end of page 0, data, status */
#define ARENA (8u << 20)
#define GPA 0x100000000ull
#define WARMUP_S 0.3

struct opts {
	const char *socket, *label;
	bool write, poll, fill;
	unsigned int qd;
	double seconds, idle;
	int cpu, pid;
};

struct req {
	struct virtio_blk_outhdr *hdr;
	uint8_t *status;
	struct vq_buf rd[2], wr[2]; /* read: hdr | data+status; write: ... */
};

struct bench {
	struct vu_fe fe;
	struct req reqs[MAX_QD];
	uint64_t blocks; /* disk size in 4 KiB blocks */
	uint64_t rnd; /* xorshift64 state */
	uint64_t done, errors, kicks, sleeps;
	uint64_t fill_next; /* --fill: the next block */
	bool filling;
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

/* ---- requests ---- */

static int req_init(struct vu_fe *fe, struct req *r)
{
	uint64_t gpa;
	uint8_t *slot = vu_fe_alloc(fe, SLOT, BLOCK, &gpa);

	if (!slot)
		return -ENOMEM;
	/* header, data and status back to back: two descriptors suffice */
	r->hdr = (void *)(slot + BLOCK - sizeof(*r->hdr));
	r->status = slot + 2 * BLOCK;
	memset(slot, 0xa5, SLOT);
	r->rd[0] = (struct vq_buf){ gpa + BLOCK - 16, 16 };
	r->rd[1] = (struct vq_buf){ gpa + BLOCK, BLOCK + 1 };
	r->wr[0] = (struct vq_buf){ gpa + BLOCK - 16, 16 + BLOCK };
	r->wr[1] = (struct vq_buf){ gpa + 2 * BLOCK, 1 };
	return 0;
}

static uint64_t next_block(struct bench *b)
{
	if (b->filling)
		return b->fill_next++;
	return xorshift(&b->rnd) % b->blocks;
}

static int req_submit(struct bench *b, struct req *r, bool write)
{
	r->hdr->type = htole32(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
	r->hdr->ioprio = 0;
	r->hdr->sector = htole64(next_block(b) * (BLOCK / 512));
	*r->status = 0xff;
	return vq_drv_add(&b->fe.vqs[0].drv, write ? r->wr : r->rd, 1, 1, r);
}

/* ---- the loop ---- */

static void kick(struct bench *b)
{
	if (vu_fe_kick(&b->fe, 0) > 0)
		b->kicks++;
}

/* Complete what is used and submit as many again; how many there were. */
static unsigned int reap(struct bench *b, const struct opts *o, bool refill)
{
	struct vq_drv *vq = &b->fe.vqs[0].drv;
	unsigned int n = 0;
	struct req *r;

	while ((r = vq_drv_get_used(vq, NULL))) {
		b->errors += *r->status != VIRTIO_BLK_S_OK;
		b->done++;
		n++;
		if (refill && (!b->filling || b->fill_next < b->blocks))
			req_submit(b, r, o->write || b->filling);
	}
	return n;
}

/* Sleep on the call fd unless a completion raced the re-enable. */
static void wait_call(struct bench *b)
{
	struct vq_drv *vq = &b->fe.vqs[0].drv;

	if (vq_drv_enable_cb(vq)) {
		b->sleeps++;
		vu_fe_wait(&b->fe, 0, 100);
	}
	vq_drv_disable_cb(vq);
}

/* Keep o->qd requests in flight until @end; false if they stopped. */
static bool run_until(struct bench *b, const struct opts *o, double end)
{
	double last = now_s(), t;
	uint64_t rounds = 0;

	for (;;) {
		if (reap(b, o, true)) {
			kick(b);
			last = now_s();
		} else if (!o->poll) {
			wait_call(b);
		}
		if (++rounds % 64)
			continue;
		t = now_s();
		if (t >= end || (b->filling && b->fill_next >= b->blocks))
			return true;
		if (t - last > 5.0)
			return false; /* the back end stopped answering */
	}
}

/* Wait for every request in flight. */
static bool drain(struct bench *b, const struct opts *o)
{
	struct vq_drv *vq = &b->fe.vqs[0].drv;
	double end = now_s() + 5.0;

	while (vq_drv_num_free(vq) < vq->num && now_s() < end)
		if (!reap(b, o, false) && !o->poll)
			wait_call(b);
	return vq_drv_num_free(vq) == vq->num;
}

static void submit_all(struct bench *b, const struct opts *o)
{
	for (unsigned int i = 0; i < o->qd; i++)
		req_submit(b, &b->reqs[i], o->write || b->filling);
	kick(b);
}

/* ---- setup ---- */

static int bench_setup(struct bench *b, const struct opts *o)
{
	struct vu_fe_cfg cfg = {
		.path = o->socket,
		.mem_size = ARENA,
		.mem_gpa = GPA,
	};
	uint64_t sectors = 0;
	int ret;

	if ((ret = vu_fe_connect(&b->fe, &cfg)))
		return ret;
	if ((ret = vu_fe_start(&b->fe, ~0ull, 1, QSIZE, 0)) ||
	    (ret = vu_fe_get_config(&b->fe, 0, &sectors, sizeof(sectors))))
		return ret;
	b->blocks = le64toh(sectors) / (BLOCK / 512);
	if (!b->blocks)
		return -ENOSPC;
	for (unsigned int i = 0; i < o->qd; i++)
		if ((ret = req_init(&b->fe, &b->reqs[i])))
			return ret;
	if (o->poll)
		vq_drv_disable_cb(&b->fe.vqs[0].drv);
	b->rnd = 0x9e3779b97f4a7c15ull;
	return 0;
}

static void pin(int cpu)
{
	if (cpu >= 0 && pin_self(cpu))
		perror("sched_setaffinity");
}

/* ---- modes ---- */

static int do_fill(struct bench *b, struct opts *o)
{
	double t0 = now_s();

	b->filling = true;
	submit_all(b, o);
	if (!run_until(b, o, t0 + 120) || !drain(b, o))
		return -ETIMEDOUT;
	printf("label=%s mode=fill blocks=%" PRIu64 " seconds=%.2f "
	       "errors=%" PRIu64 "\n",
	       o->label, b->done, now_s() - t0, b->errors);
	return b->errors ? -EIO : 0;
}

static int do_idle(struct bench *b, struct opts *o)
{
	double c0, c1;

	/* a burst first: a back end that polls after I/O shows it here */
	submit_all(b, o);
	if (!run_until(b, o, now_s() + 0.2) || !drain(b, o))
		return -ETIMEDOUT;
	c0 = pid_cpu_s(o->pid);
	usleep((useconds_t)(o->idle * 1e6));
	c1 = pid_cpu_s(o->pid);
	printf("label=%s mode=idle seconds=%.1f be_cpu_ms=%.1f "
	       "be_cpu_pct=%.2f\n",
	       o->label, o->idle, (c1 - c0) * 1e3, (c1 - c0) / o->idle * 100);
	return 0;
}

static int do_load(struct bench *b, struct opts *o)
{
	double t0, t1, c0, c1, p0, p1, s0, s1, fe, be;
	uint64_t done0, kicks0, sleeps0;

	submit_all(b, o);
	if (!run_until(b, o, now_s() + WARMUP_S))
		return -ETIMEDOUT;
	done0 = b->done, kicks0 = b->kicks, sleeps0 = b->sleeps;
	t0 = now_s(), c0 = cpu_s(), p0 = pid_cpu_s(o->pid);
	s0 = sys_busy_s();
	if (!run_until(b, o, t0 + o->seconds))
		return -ETIMEDOUT;
	t1 = now_s(), c1 = cpu_s(), p1 = pid_cpu_s(o->pid);
	s1 = sys_busy_s();
	done0 = b->done - done0;
	fe = (c1 - c0) / (t1 - t0);
	be = o->pid > 0 ? (p1 - p0) / (t1 - t0) : 0;
	/* others: what the rest of the machine ran meanwhile, in CPUs */
	printf("label=%s rw=%s qd=%u wait=%s iops=%.0f lat_us=%.2f "
	       "kicks_per_io=%.3f sleeps_per_io=%.3f fe_cpu=%.2f be_cpu=%.2f "
	       "others=%.2f errors=%" PRIu64 "\n",
	       o->label, o->write ? "write" : "read", o->qd,
	       o->poll ? "poll" : "sleep", (double)done0 / (t1 - t0),
	       (t1 - t0) * 1e6 * o->qd / (double)done0,
	       (double)(b->kicks - kicks0) / (double)done0,
	       (double)(b->sleeps - sleeps0) / (double)done0, fe, be,
	       (s1 - s0) / (t1 - t0) - fe - be, b->errors);
	return drain(b, o) && !b->errors ? 0 : -EIO;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-vhost-blk --socket PATH [--rw read|write] "
		"[--qd N] [--seconds S]\n"
		"       [--wait poll|sleep] [--cpu N] [--pid PID] [--label L] "
		"[--fill] [--idle S]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "rw", required_argument, NULL, 'r' },
		{ "qd", required_argument, NULL, 'q' },
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
			    .seconds = 3,
			    .poll = true,
			    .cpu = -1,
			    .pid = -1 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'r':
			o->write = !strcmp(optarg, "write");
			break;
		case 'q':
			o->qd = (unsigned int)atoi(optarg);
			break;
		case 't':
			o->seconds = atof(optarg);
			break;
		case 'w':
			o->poll = strcmp(optarg, "sleep");
			break;
		case 'c':
			o->cpu = atoi(optarg);
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
	if (!o->socket || o->qd < 1 || o->qd > MAX_QD || o->seconds <= 0)
		usage();
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct opts o;
	int ret;

	parse(argc, argv, &o);
	if (o.fill)
		o.qd = MAX_QD;
	pin(o.cpu);
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
