/*
 * alloc.c - the allocation wrapper and its failure injection (see alloc.h).
 */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>

static _Atomic long g_fail_at = -1; /* allocations to go before the failure; -1: none */
static _Atomic int g_failed;

/* false when this allocation is the one to fail */
static int go_on(void)
{
    if (atomic_load_explicit(&g_fail_at, memory_order_relaxed) < 0)
        return 1;
    long left = atomic_fetch_sub(&g_fail_at, 1);
    if (left == 0) {
        atomic_store(&g_failed, 1);
        return 0;
    }
    if (left < 0) /* another thread took the failure */
        atomic_store(&g_fail_at, -1);
    return 1;
}

void *ch_malloc(size_t n)
{
    return go_on() ? malloc(n) : NULL;
}

void *ch_calloc(size_t n, size_t size)
{
    return go_on() ? calloc(n, size) : NULL;
}

void *ch_realloc(void *p, size_t n)
{
    return go_on() ? realloc(p, n) : NULL;
}

void *ch_aligned_alloc(size_t align, size_t n)
{
    return go_on() ? aligned_alloc(align, n) : NULL;
}

void ch_alloc_fail_at(long n)
{
    if (n >= 0) /* a new injection; -1 only stops it, ch_alloc_failed still tells */
        atomic_store(&g_failed, 0);
    atomic_store(&g_fail_at, n < 0 ? -1 : n);
}

int ch_alloc_failed(void)
{
    return atomic_load(&g_failed);
}
