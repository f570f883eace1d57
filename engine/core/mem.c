/*
 * mem.c - the engine's large tables: line-aligned, written at creation, and
 * on huge pages where the kernel offers them (see mem.h).
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#endif
#include "mem.h"

#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define LINE      ((size_t)64)
#define HUGE_PAGE ((size_t)2 << 20)

void *ch_table_alloc(size_t n, size_t size)
{
    if (size != 0 && n > (SIZE_MAX - HUGE_PAGE) / size)
        return NULL;
    size_t bytes = (n * size + LINE - 1) / LINE * LINE;
    if (bytes == 0)
        bytes = LINE;
    size_t align = LINE;
    if (bytes >= HUGE_PAGE) {
        align = HUGE_PAGE;
        bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    }
    void *p = ch_aligned_alloc(align, bytes);
    if (p == NULL)
        return NULL;
#if defined(MADV_HUGEPAGE)
    if (align == HUGE_PAGE)
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: a refusal changes nothing */
#endif
    memset(p, 0, bytes);
    return p;
}
