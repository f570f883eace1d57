/*
 * bench_feed.h - the order feed bench_book and bench_engine replay: adds
 * near the touch, cancels, marketable IOC orders and replaces, over many
 * instruments, the same for a seed on every platform. Header-only, for
 * benchmark programs only.
 */
#ifndef CH_BENCH_FEED_H
#define CH_BENCH_FEED_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

enum { BENCH_ADD, BENCH_CANCEL, BENCH_MARKET, BENCH_REPLACE, BENCH_KINDS };
static const char *const bench_kind_names[BENCH_KINDS] = {"add", "cancel", "marketable", "replace"};

typedef struct bench_op {
    uint8_t kind, side; /* side: 0 buy, 1 sell */
    uint16_t acct;
    uint32_t instr;
    int64_t price;
    uint32_t qty;
    uint32_t ref; /* add index targeted by cancel/replace */
} bench_op;

/* The feed's shape. Per 100 operations: 46 adds, 44 cancels, 8 marketable,
 * 2 replaces (adds only until half the target of live orders rests). */
typedef struct bench_feed_cfg {
    uint32_t n_instr;
    size_t live_per_instr;        /* target of resting orders per instrument */
    const int64_t *mid;           /* per instrument, ticks */
    const int64_t *spread;        /* per instrument (the pool's half-spread): adds rest 1..spread-1
                                     from mid and marketable orders reach 3 spreads; NULL: adds rest
                                     1 + (0..7)(0..7) ticks from mid and marketable orders reach 10 */
    uint32_t add_qty, market_qty; /* largest lots of an add, of a marketable order */
    uint32_t add_accts;           /* adds come from accounts 0..add_accts-1 */
    uint32_t market_base, market_accts; /* marketable orders from market_base + 0..n-1 */
} bench_feed_cfg;

/* Fill @p feed with @p n operations drawn from @p rng. Returns the number of
 * adds (the orders a replay must track); 0 if out of memory. */
static inline uint32_t bench_feed_make(bench_op *feed, size_t n, const bench_feed_cfg *c,
                                       uint64_t *rng)
{
    uint32_t *live = malloc((n ? n : 1) * sizeof *live);
    if (live == NULL)
        return 0;
    size_t n_live = 0;
    uint32_t adds = 0;
    const size_t target = (size_t)c->n_instr * c->live_per_instr;
    for (size_t k = 0; k < n; k++) {
        bench_op *o = &feed[k];
        memset(o, 0, sizeof *o);
        unsigned roll = (unsigned)(bench_xorshift(rng) % 100);
        if (n_live < target / 2)
            roll = 0; /* fill the books first */
        if (roll < 46 || n_live == 0) {
            o->kind = BENCH_ADD;
            o->instr = (uint32_t)(bench_xorshift(rng) % c->n_instr);
            o->side = (uint8_t)(bench_xorshift(rng) & 1);
            o->acct = (uint16_t)(bench_xorshift(rng) % c->add_accts);
            int64_t off;
            if (c->spread != NULL) { /* inside the pool's spread, so that adds rest */
                int64_t half = c->spread[o->instr] > 2 ? c->spread[o->instr] - 1 : 1;
                off = 1 + (int64_t)(bench_xorshift(rng) % (uint64_t)half);
            } else { /* near the touch */
                int64_t a = (int64_t)(bench_xorshift(rng) % 8);
                off = 1 + a * (int64_t)(bench_xorshift(rng) % 8);
            }
            o->price = o->side == 0 ? c->mid[o->instr] - off : c->mid[o->instr] + off;
            if (o->price < 1)
                o->price = 1;
            o->qty = 1 + (uint32_t)(bench_xorshift(rng) % c->add_qty);
            live[n_live++] = adds++;
            o->ref = adds - 1;
        } else if (roll < 90) {
            o->kind = BENCH_CANCEL;
            size_t j = (size_t)(bench_xorshift(rng) % n_live);
            o->ref = live[j];
            live[j] = live[--n_live];
        } else if (roll < 98) {
            o->kind = BENCH_MARKET;
            o->instr = (uint32_t)(bench_xorshift(rng) % c->n_instr);
            o->side = (uint8_t)(bench_xorshift(rng) & 1);
            o->acct = (uint16_t)(c->market_base + bench_xorshift(rng) % c->market_accts);
            int64_t reach = c->spread != NULL ? c->spread[o->instr] * 3 : 10;
            o->price = o->side == 0 ? c->mid[o->instr] + reach : c->mid[o->instr] - reach;
            if (o->price < 1)
                o->price = 1;
            o->qty = 1 + (uint32_t)(bench_xorshift(rng) % c->market_qty);
        } else {
            o->kind = BENCH_REPLACE;
            o->ref = live[(size_t)(bench_xorshift(rng) % n_live)];
            o->qty = 1;
        }
    }
    free(live);
    return adds;
}

#endif
