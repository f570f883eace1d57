/*
 * mem.h - allocation of the engine's large tables (internal to the engine
 * libraries; not installed).
 */
#ifndef CH_CORE_MEM_H
#define CH_CORE_MEM_H

#include <stddef.h>

/*
 * n * size bytes, zeroed and aligned to a cache line, or NULL (overflow or
 * no memory); free with free(). The memory is written here, so its pages
 * fault in at creation rather than on the order path. A table of 2 MiB or
 * more is aligned to 2 MiB and, where the kernel offers it (Linux
 * transparent huge pages in "madvise" mode), backed by huge pages: tables
 * read at random (order slots, position records and their index) then miss
 * the TLB far less often.
 */
void *ch_table_alloc(size_t n, size_t size);

#endif
