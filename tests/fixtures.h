/*
 * fixtures.h - what the engine, store and crash tests each set up the same
 * way: an engine configuration sized for a test, the BTC underlying chd
 * lists by default (tick 0.5, band 1..2,000,000 ticks, one unit per
 * contract), market updates of underlying 0, and fills compared field by
 * field (an empty command is ch_command_make, ch/command.h). Header-only,
 * for tests.
 */
#ifndef CH_TESTS_FIXTURES_H
#define CH_TESTS_FIXTURES_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch/command.h"
#include "ch/engine.h"

/* The engine's defaults with tables of the given sizes. */
static inline ch_engine_config ch_test_engine_config(uint32_t instruments, uint32_t accounts,
                                                     uint32_t orders, uint32_t positions)
{
    ch_engine_config c;
    ch_engine_defaults(&c);
    c.max_instruments = instruments;
    c.max_accounts = accounts;
    c.max_orders = orders;
    c.max_positions = positions;
    return c;
}

/* BTC as chd lists it by default. */
static inline ch_underlying_config ch_test_btc(void)
{
    ch_underlying_config u = {
        .name = "BTC", .contract_size = 1.0, .min_price = 1, .max_price = 2000000};
    (void)ch_tick_parse("0.5", 3, &u); /* a valid literal tick */
    return u;
}

/* A market update of underlying 0: the index at @p time (0: the engine's
 * clock), no rate, funding, perp or marks (set what a test needs). */
static inline ch_market_update ch_test_market(double index, ch_time time)
{
    ch_market_update mu = {.underlying = 0,
                           .index = index,
                           .rate = NAN,
                           .funding_rate = NAN,
                           .perp = NAN,
                           .time = time};
    return mu;
}

/* The index and one flat volatility for the expiry @p expiry, at a zero
 * rate, applied to @p e. */
static inline ch_err ch_test_mark(ch_engine *e, double index, ch_time expiry, double vol)
{
    ch_time ex[1] = {expiry};
    double k[1] = {0}, v[1] = {vol};
    ch_market_update mu = ch_test_market(index, 0);
    mu.rate = 0;
    mu.n_marks = 1;
    mu.mark_expiry = ex;
    mu.mark_strike = k;
    mu.mark_vol = v;
    return ch_engine_market(e, &mu);
}

/* Apply the @p n commands of @p log to @p e through their encoding, as a
 * restart replays the command log; each result in @p errs (may be NULL).
 * false if a command does not encode and decode back. */
static inline bool ch_test_apply(ch_engine *e, const ch_command *log, size_t n, ch_err *errs)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[16384];
        size_t len = ch_command_encode(&log[i], buf, sizeof buf);
        ch_command c;
        ch_command_result r;
        if (len == 0 || ch_command_decode(buf, len, &c) != CH_OK)
            return false;
        ch_err err = ch_command_apply(e, &c, &r);
        if (errs != NULL)
            errs[i] = err;
    }
    return true;
}

/* A fresh engine of @p cfg with the @p n commands of @p log applied
 * (ch_test_apply). NULL if a command does not encode and decode back, or
 * the engine cannot be created. */
static inline ch_engine *ch_test_replay(const ch_engine_config *cfg, const ch_command *log,
                                        size_t n, ch_err *errs)
{
    ch_engine *e = ch_engine_create(cfg);
    if (e != NULL && !ch_test_apply(e, log, n, errs)) {
        ch_engine_destroy(e);
        return NULL;
    }
    return e;
}

/* Snapshots taken at cuts through @p log (about 16, the first and last
 * included), each restored into a fresh engine that then applies the rest
 * of the log, end byte for byte in the snapshot of the full replay: what a
 * restart from any snapshot gives is what a full replay gives. */
/* Two engines in the same state: their snapshots are equal byte for byte. */
static inline bool ch_test_same_state(const ch_engine *a, const ch_engine *b)
{
    uint8_t *sa = NULL, *sb = NULL;
    size_t la = 0, lb = 0;
    bool same = ch_engine_snapshot(a, &sa, &la) == CH_OK &&
                ch_engine_snapshot(b, &sb, &lb) == CH_OK && la == lb && memcmp(sa, sb, la) == 0;
    free(sa);
    free(sb);
    return same;
}

static inline bool ch_test_snapshot_cuts(const ch_engine_config *cfg, const ch_command *log,
                                         size_t n)
{
    ch_engine *full = ch_test_replay(cfg, log, n, NULL);
    bool ok = full != NULL;
    size_t step = n / 16 > 0 ? n / 16 : 1;
    for (size_t k = 0; ok && k <= n; k = k < n && k + step > n ? n : k + step) {
        ch_engine *head = ch_test_replay(cfg, log, k, NULL), *b = ch_engine_create(cfg);
        uint8_t *s = NULL;
        size_t len = 0;
        ok = head != NULL && b != NULL && ch_engine_snapshot(head, &s, &len) == CH_OK &&
             ch_engine_restore(b, s, len) == CH_OK && ch_test_apply(b, log + k, n - k, NULL) &&
             ch_test_same_state(b, full);
        free(s);
        ch_engine_destroy(head);
        ch_engine_destroy(b);
        if (k == n)
            break;
    }
    ch_engine_destroy(full);
    return ok;
}

/* Two fills equal field by field (memcmp would compare padding too). */
static inline bool ch_test_fill_eq(const ch_fill *a, const ch_fill *b)
{
    return a->trade_id == b->trade_id && a->source == b->source && a->instr.v == b->instr.v &&
           a->taker_side == b->taker_side && a->price == b->price && a->qty == b->qty &&
           a->taker.v == b->taker.v && a->maker.v == b->maker.v &&
           a->taker_order.v == b->taker_order.v && a->maker_order.v == b->maker_order.v &&
           a->maker_instr.v == b->maker_instr.v && a->maker_price == b->maker_price &&
           a->fee == b->fee && a->delta == b->delta;
}

#endif
