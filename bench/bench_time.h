/*
 * bench_time: what the C benchmarks under bench/ share: a monotonic
 * clock in microseconds and a comparison for qsort() of doubles (to
 * take the median of rounds).
 */
#ifndef ISPMAIL_BENCH_TIME_H
#define ISPMAIL_BENCH_TIME_H

#include <time.h>

static inline double
bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

#endif
