/*
 * flat_book.h - bench_book's in-run baseline for the regime suite: a flat
 * price-array order book built as the QuantCup 2011 winner was (price-
 * indexed levels, each a FIFO list threaded through a preallocated arena of
 * orders, a best-price index per side that a level's emptying moves by a
 * scan). It does only what the regimes ask of a book: limit orders (GTC rest,
 * IOC do not), cancels, price-time matching; no self-trade prevention, no
 * events (a checksum of the fills instead, compared with ch_book's on the
 * same feed). Header-only, for the benchmark.
 */
#ifndef CH_BENCH_FLAT_BOOK_H
#define CH_BENCH_FLAT_BOOK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The engine's table allocator: the flat book's arena and levels get the
 * memory policy ch_book's order table gets (2 MiB aligned, transparent
 * huge pages offered when that large), so that neither book is faster only
 * by its TLB. */
#include "../engine/core/mem.h"

typedef struct flat_order {
    uint32_t next, prev; /* in its level's FIFO (0: none) */
    uint32_t qty;        /* open lots; 0: not resting */
    uint32_t level;      /* price - lo */
    uint32_t sym;
    uint8_t side; /* 0 buy, 1 sell */
} flat_order;

typedef struct flat_level {
    uint32_t head, tail;
} flat_level;

typedef struct flat_sym {
    int64_t lo;
    uint32_t n;        /* levels: prices lo .. lo + n - 1 */
    flat_level *lv[2]; /* bids, asks */
    int64_t best[2];   /* level index; bids: -1 empty, asks: n empty */
} flat_sym;

typedef struct flat_book {
    flat_sym *sym;
    uint32_t n_sym;
    flat_order *ord; /* slot 0 unused */
    uint32_t cap;
    uint64_t trades, volume, checksum;
} flat_book;

static inline void flat_destroy(flat_book *b)
{
    if (b == NULL)
        return;
    for (uint32_t i = 0; b->sym != NULL && i < b->n_sym; i++) {
        free(b->sym[i].lv[0]);
        free(b->sym[i].lv[1]);
    }
    free(b->sym);
    free(b->ord);
    free(b);
}

/* Books for @p n_sym symbols, each over prices lo[i] .. hi[i], and room for
 * orders in slots 1 .. max_orders; every page written now, outside the timed
 * region. NULL: out of memory. */
static inline flat_book *flat_create(uint32_t n_sym, const int64_t *lo, const int64_t *hi,
                                     uint32_t max_orders)
{
    flat_book *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->sym = calloc(n_sym, sizeof *b->sym);
    b->ord = ch_table_alloc((size_t)max_orders + 1, sizeof *b->ord);
    b->n_sym = n_sym;
    b->cap = max_orders;
    if (b->sym == NULL || b->ord == NULL) {
        flat_destroy(b);
        return NULL;
    }
    for (uint32_t i = 0; i < n_sym; i++) {
        flat_sym *s = &b->sym[i];
        s->lo = lo[i];
        s->n = (uint32_t)(hi[i] - lo[i] + 1);
        for (int d = 0; d < 2; d++) {
            s->lv[d] = ch_table_alloc(s->n, sizeof(flat_level));
            if (s->lv[d] == NULL) {
                flat_destroy(b);
                return NULL;
            }
        }
        s->best[0] = -1;
        s->best[1] = s->n;
    }
    return b;
}

/* Take order @p id out of its level; move the side's best past empty levels. */
static inline void flat_unlink(flat_book *b, uint32_t id)
{
    flat_order *o = &b->ord[id];
    flat_sym *s = &b->sym[o->sym];
    flat_level *l = &s->lv[o->side][o->level];
    if (o->prev)
        b->ord[o->prev].next = o->next;
    else
        l->head = o->next;
    if (o->next)
        b->ord[o->next].prev = o->prev;
    else
        l->tail = o->prev;
    o->qty = 0;
    if (l->head == 0 && (int64_t)o->level == s->best[o->side]) {
        if (o->side == 0) {
            int64_t p = s->best[0];
            while (p >= 0 && s->lv[0][p].head == 0)
                p--;
            s->best[0] = p;
        } else {
            int64_t p = s->best[1];
            while (p < (int64_t)s->n && s->lv[1][p].head == 0)
                p++;
            s->best[1] = p;
        }
    }
}

/* A limit order of @p qty lots at @p price on @p side of @p sym: it trades
 * with the other side's best levels while they cross, then its remainder
 * rests in slot @p id unless @p ioc. Returns the lots traded. */
static inline uint32_t flat_limit(flat_book *b, uint32_t id, uint32_t sym, int side, int64_t price,
                                  uint32_t qty, bool ioc)
{
    flat_sym *s = &b->sym[sym];
    int64_t at = price - s->lo;
    int other = side ^ 1;
    uint32_t traded = 0;
    while (qty > 0) {
        int64_t best = s->best[other];
        if (side == 0 ? (best >= (int64_t)s->n || best > at) : (best < 0 || best < at))
            break;
        flat_level *l = &s->lv[other][best];
        while (qty > 0 && l->head != 0) {
            uint32_t m = l->head;
            flat_order *mo = &b->ord[m];
            uint32_t q = mo->qty < qty ? mo->qty : qty;
            mo->qty -= q;
            qty -= q;
            traded += q;
            b->trades++;
            b->volume += q;
            b->checksum = b->checksum * 1000003u ^ (uint64_t)((best + s->lo) * 131 + q);
            if (mo->qty == 0) {
                mo->qty = 1; /* flat_unlink clears it */
                flat_unlink(b, m);
            }
        }
    }
    if (qty > 0 && !ioc) {
        flat_order *o = &b->ord[id];
        flat_level *l = &s->lv[side][at];
        *o = (flat_order){
            .prev = l->tail, .qty = qty, .level = (uint32_t)at, .sym = sym, .side = (uint8_t)side};
        if (l->tail)
            b->ord[l->tail].next = id;
        else
            l->head = id;
        l->tail = id;
        if (side == 0 ? at > s->best[0] : at < s->best[1])
            s->best[side] = at;
    }
    return traded;
}

/* Cancel the order in slot @p id: false if it is not resting. */
static inline bool flat_cancel(flat_book *b, uint32_t id)
{
    if (b->ord[id].qty == 0)
        return false;
    flat_unlink(b, id);
    return true;
}

#endif
