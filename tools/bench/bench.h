/* Shared by the benchmark programs. They are ordinary C programs that know nothing of
 * libgreen: tools/bench/suite.py runs each one natively and with LD_PRELOAD=libgreen.so.
 * Results go to stdout as one line of key=value pairs; diagnostics go to stderr. */
#ifndef GREEN_BENCH_H
#define GREEN_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np, accept4 */
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_u64(const void* a, const void* b)
{
    uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of v[0..n), which it sorts. */
static inline uint64_t bench_percentile(uint64_t* v, size_t n, double p)
{
    qsort(v, n, sizeof v[0], bench_cmp_u64);
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank == 0)
        rank = 1;
    return v[rank > n ? n - 1 : rank - 1];
}

static inline long bench_arg(const char* s, const char* what)
{
    char* end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0) {
        fprintf(stderr, "bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

/* A field of /proc/self/status ("VmRSS", "Threads"), in its own unit (kB for Vm*), or -1. */
static inline long bench_status_field(const char* name)
{
    FILE* f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long value = -1;
    size_t len = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            value = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return value;
}

#endif
