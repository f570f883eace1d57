/*
 * bench_util.h - timing, percentiles and report helpers shared by the
 * benchmarks in bench/. Header-only, for benchmark programs only.
 */
#ifndef CH_BENCH_UTIL_H
#define CH_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* xorshift64: the benchmarks' feeds, the same for a seed on every platform */
static inline uint64_t bench_xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of @p n > 0 rounds' figures (sorted in place; the upper of the
 * middle two for an even n). */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

/* Latency samples (ns) of one kind of operation. */
typedef struct bench_lat {
    const char *name;
    uint32_t *v;
    size_t n, cap;
} bench_lat;

static inline void bench_lat_add(bench_lat *l, uint64_t ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1 << 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (l->v == NULL) {
            fprintf(stderr, "bench: out of memory\n");
            exit(2);
        }
    }
    l->v[l->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Room for n samples, faulted in, so that recording never allocates. */
static inline void bench_lat_reserve(bench_lat *l, size_t n)
{
    l->cap = n > 0 ? n : 1;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (l->v == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        exit(2);
    }
    memset(l->v, 0xff, l->cap * sizeof *l->v); /* 0 could be elided */
}

/* Sorts the samples; q in [0,1]. */
static inline double bench_pct(bench_lat *l, double q)
{
    if (l->n == 0)
        return 0.0;
    size_t i = (size_t)(q * (double)(l->n - 1) + 0.5);
    return (double)l->v[i];
}

static inline void bench_lat_sort(bench_lat *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, bench_cmp_u32);
}

/* Median cost of one clock read, to be read next to the latencies. */
static inline double bench_timer_overhead_ns(void)
{
    bench_lat l = {.name = "timer"};
    for (int i = 0; i < 100000; i++) {
        uint64_t a = bench_now_ns();
        uint64_t b = bench_now_ns();
        bench_lat_add(&l, b - a);
    }
    bench_lat_sort(&l);
    double p50 = bench_pct(&l, 0.5);
    free(l.v);
    return p50;
}

/* Open the --json file for writing, or say why not (NULL). */
static inline FILE *bench_json_open(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        perror(path);
    return f;
}

static inline void bench_machine(char *buf, size_t cap)
{
    char model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c != NULL) {
                    snprintf(model, sizeof model, "%s", c + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    long ncpu = 0;
    f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof line, f))
            ncpu += strncmp(line, "processor", 9) == 0;
        fclose(f);
    }
    snprintf(buf, cap, "%s, %ld CPUs", model, ncpu);
}

/* Remove a benchmark's folder (rm -rf), saying so if that fails. */
static inline void bench_wipe(const char *prog, const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: could not remove %s\n", prog, dir);
}

#endif
