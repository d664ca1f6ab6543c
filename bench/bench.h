/* SPDX-License-Identifier: MIT */
/* What every benchmark needs: clocks and CPU pinning. */
#ifndef UVDPA_BENCH_H
#define UVDPA_BENCH_H

#include <sched.h>
#include <time.h>

static inline double bench_clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock seconds. */
static inline double now_s(void)
{
	return bench_clock_s(CLOCK_MONOTONIC);
}

/* CPU seconds this process used. */
static inline double cpu_s(void)
{
	return bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* Pin the calling thread to @cpu; 0 or -1. */
static inline int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

#endif
