/*
 * grow.h - a growable array for the hedge module (private: the simulated
 * venue's report queue, the hedger's orders in flight).
 */
#ifndef CH_HEDGE_GROW_H
#define CH_HEDGE_GROW_H

#include <stdbool.h>
#include <stdlib.h>
#include "../core/alloc.h"

/* Make room for one more element after @p n in *@p arr (capacity *@p cap,
 * doubled from 16). @return false, nothing changed, when out of memory. */
static inline bool chi_grow(void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *na = ch_realloc(*arr, nc * elem);
    if (na == NULL)
        return false;
    *arr = na;
    *cap = nc;
    return true;
}

#endif
