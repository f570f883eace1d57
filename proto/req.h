/*
 * req.h - private to proto/: the arena a typed request (ch/proto_req.h)
 * lives in, shared by the JSON reader (req.c) and the binary decoder
 * (msg.c).
 */
#ifndef CH_PROTO_REQ_INT_H
#define CH_PROTO_REQ_INT_H

#include <stddef.h>

#include "ch/proto_req.h"

/** @p n bytes, zeroed, 8-aligned, from @p *a (a new chunk when full). NULL: out of memory. */
void *chi_arena_alloc(ch_req_arena **a, size_t n);

/** Free every chunk of @p a. */
void chi_arena_free(ch_req_arena *a);

#endif
