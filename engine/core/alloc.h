/*
 * alloc.h - the one allocation wrapper of the engine's libraries, the
 * store and the protocol codecs (internal; not installed). Every heap
 * allocation of those goes through it, so a test can make the n-th one fail
 * and check that each failure path returns its error, changes nothing it
 * should not and leaks nothing (tests/test_alloc.c; LeakSanitizer in the
 * sanitizer build). Memory is released with free().
 */
#ifndef CH_CORE_ALLOC_H
#define CH_CORE_ALLOC_H

#include <stddef.h>

void *ch_malloc(size_t n);
void *ch_calloc(size_t n, size_t size);
void *ch_realloc(void *p, size_t n);
void *ch_aligned_alloc(size_t align, size_t n);

/*
 * Tests only: the @p n-th allocation from now (0: the next) fails, and only
 * that one; -1 (the default) fails none (and keeps what ch_alloc_failed
 * says). Thread-safe.
 */
void ch_alloc_fail_at(long n);
/* Tests only: whether the failure set by ch_alloc_fail_at happened. */
int ch_alloc_failed(void);

#endif
