/*
 * create.c - creating and destroying an engine, the defaults, underlyings.
 */
#include "engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../core/alloc.h"

/* ---- creation ---------------------------------------------------------------- */

void ch_engine_defaults(ch_engine_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_instruments = 1024;
    c->max_underlyings = 8;
    c->max_orders = 1u << 20;
    c->max_levels = 256;
    c->max_accounts = 4096;
    c->max_positions = 1u << 20;
    c->netting = true;
    c->netting_fee_ticks = 1;
    c->taker_fee_bps = 3.0;
    c->fee_cap = 0.125;
    c->risk_aware = true;
    c->hedge_fee_bps = 5.0;
    c->hedge_impact_bps = 1.0;
    c->funding_half_life_h = 72.0;
    c->pool = (ch_pool_config){.enabled = true,
                               .half_spread_vol = 0.01,
                               .pv_t = 0.02,
                               .pg_t = 0.01,
                               .pv_k = 0.01,
                               .pg_k = 0.02,
                               .max_skew_vol = 0.05,
                               .max_vega_total = 2e6,
                               .max_gamma_total = 50,
                               .max_vega_strike = 5e5,
                               .max_gamma_strike = 10,
                               .max_notional = 1e8};
    ch_scenario_defaults(&c->scenarios);
}

static void open_internal(ch_engine *e, uint32_t i, const char *name)
{
    account *a = &e->acct[i];
    a->open = true;
    a->internal = true;
    a->first_pos = NIL;
    strncpy(a->name, name, CH_ACCOUNT_NAME_MAX - 1);
}

ch_engine *ch_engine_create(const ch_engine_config *cfg)
{
    if (cfg == NULL || cfg->max_instruments == 0 || cfg->max_instruments >= (1u << 24) ||
        cfg->max_underlyings == 0 || cfg->max_underlyings > 64 || cfg->max_accounts < 4 ||
        cfg->max_accounts >= (1u << 24) || cfg->max_positions == 0 ||
        (uint64_t)cfg->max_accounts * cfg->max_instruments > (UINT64_C(1) << 28) ||
        cfg->max_positions >= (1u << 28) || cfg->netting_fee_ticks < 0 ||
        !(cfg->taker_fee_bps >= 0) || !(cfg->fee_cap >= 0 && cfg->fee_cap <= 1) ||
        cfg->scenarios.n_spot == 0 || cfg->scenarios.n_spot > CH_SCEN_MAX_SPOT ||
        !(cfg->pool.half_spread_vol >= 0) || !(cfg->pool.max_skew_vol >= 0))
        return NULL;
    ch_engine *e = ch_calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->cfg = *cfg;
    e->nscen = cfg->scenarios.n_spot * 3;
    e->fee_cap_ppm = (int64_t)llround(cfg->fee_cap * 1e6);
    ch_book_config bc = {.max_instruments = cfg->max_instruments,
                         .max_orders = cfg->max_orders,
                         .max_levels = cfg->max_levels,
                         .on_event = chi_on_book_event,
                         .ctx = e};
    e->reg = ch_instruments_create(cfg->max_instruments, cfg->max_underlyings);
    e->book = ch_book_create(&bc);
    e->ser = ch_table_alloc(cfg->max_instruments, sizeof *e->ser);
    e->hold = ch_table_alloc(cfg->max_instruments, sizeof *e->hold);
    e->und = ch_calloc(cfg->max_underlyings, sizeof *e->und);
    e->acct = ch_table_alloc(cfg->max_accounts, sizeof *e->acct);
    e->scen_stride = (e->nscen * sizeof(double) + CH_LINE - 1) / CH_LINE * CH_LINE / sizeof(double);
    e->axpy_min = chi_axpy_min_scalar;
    e->axpy_n = e->nscen;
#if defined(CH_AXPY_SSE2)
    e->axpy_min = chi_axpy_min_sse2;
    e->axpy_n = (e->nscen + 3) / 4 * 4;
#endif
#if defined(CH_AXPY_AVX)
    if (__builtin_cpu_supports("avx")) {
        e->axpy_min = chi_axpy_min_avx;
        e->axpy_n = (e->nscen + 7) / 8 * 8;
    }
#endif
    /* an account's region: a block per underlying, then a line-rounded
     * worst loss per underlying */
    e->worst_off = (size_t)cfg->max_underlyings * e->scen_stride;
    e->acct_stride = e->worst_off + ((size_t)cfg->max_underlyings + 7) / 8 * 8;
    e->scen_arena = ch_table_alloc((size_t)cfg->max_instruments * e->scen_stride +
                                       (size_t)cfg->max_accounts * e->acct_stride,
                                   sizeof(double));
    e->mscratch = ch_table_alloc(e->acct_stride, sizeof(double));
    /* ch_table_alloc writes its memory: the record pages fault in now, not on
     * the trading path (and large tables get huge pages where offered) */
    e->pos = ch_table_alloc(cfg->max_positions, sizeof *e->pos);
    e->pos_link = ch_table_alloc(cfg->max_positions, sizeof *e->pos_link);
    e->pos_index =
        ch_table_alloc((size_t)cfg->max_accounts * cfg->max_instruments, sizeof *e->pos_index);
    size_t names = 16;
    while (names < 2 * (size_t)cfg->max_accounts)
        names *= 2;
    e->names = ch_calloc(names, sizeof *e->names);
    e->names_mask = names - 1;
    e->sell_words = (cfg->max_instruments + 63) / 64;
    e->sell_bits = ch_table_alloc((size_t)cfg->max_accounts * e->sell_words, sizeof *e->sell_bits);
    if (e->reg == NULL || e->book == NULL || e->ser == NULL || e->hold == NULL || e->und == NULL ||
        e->acct == NULL || e->pos == NULL || e->pos_link == NULL || e->pos_index == NULL ||
        e->sell_bits == NULL || e->scen_arena == NULL || e->names == NULL || e->mscratch == NULL) {
        ch_engine_destroy(e);
        return NULL;
    }
    ch_book_set_event_mask(e->book, BOOK_EVENTS_OWN);
    for (uint32_t i = 0; i < cfg->max_instruments; i++) {
        e->ser[i].first_pos = NIL;
        e->ser[i].scen = e->scen_arena + (size_t)i * e->scen_stride;
    }
    for (uint32_t a = 0; a < cfg->max_accounts; a++) {
        e->acct[a].M = e->scen_arena + (size_t)cfg->max_instruments * e->scen_stride +
                       (size_t)a * e->acct_stride;
    }
    e->pool_epoch = 1;
    e->venue_acct = NIL;
    open_internal(e, CH_ACCOUNT_HOUSE, "house");
    open_internal(e, CH_ACCOUNT_POOL, "pool");
    e->acct[CH_ACCOUNT_POOL].pool_side = true;
    open_internal(e, CH_ACCOUNT_FEES, "fees");
    e->n_acct = 3;
    for (uint32_t i = 0; i < 3; i++)
        chi_account_index(e, i);
    return e;
}

void ch_engine_destroy(ch_engine *e)
{
    if (e == NULL)
        return;
    if (e->und != NULL) {
        for (uint32_t i = 0; i < e->n_und; i++) {
            ch_smile_destroy(e->und[i].smile);
            ch_smile_destroy(e->und[i].scratch);
            ch_inventory_destroy(e->und[i].pool_inv);
            ch_inventory_destroy(e->und[i].house_inv);
        }
    }
    ch_instruments_destroy(e->reg);
    ch_book_destroy(e->book);
    free(e->ser);
    free(e->hold);
    free(e->und);
    free(e->acct);
    free(e->pos);
    free(e->pos_link);
    free(e->pos_index);
    free(e->sell_bits);
    free(e->scen_arena);
    free(e->mscratch);
    free(e->tranches);
    free(e->holdings);
    free(e->names);
    free(e);
}

void ch_engine_set_sink(ch_engine *e, ch_engine_event_fn fn, void *ctx)
{
    e->fn = fn;
    e->fn_ctx = ctx;
    ch_book_set_event_mask(e->book, fn != NULL ? CH_EV_ALL : BOOK_EVENTS_OWN);
}

const ch_instruments *ch_engine_instruments(const ch_engine *e)
{
    return e->reg;
}

const ch_book *ch_engine_book(const ch_engine *e)
{
    return e->book;
}

ch_time ch_engine_now(const ch_engine *e)
{
    return e->now;
}

ch_err ch_engine_add_underlying(ch_engine *e, const ch_underlying_config *u, uint32_t *index)
{
    if (u->price_decimals > 6 || u->price_decimals < 0)
        return CH_EBADCONFIG;
    /* a lot's reservation (premium at the band's top plus the largest fee)
     * must fit in 64-bit cash units with room to spare */
    double top = (double)u->max_price * (double)u->tick_units;
    for (int i = u->price_decimals; i < 6; i++)
        top *= 10;
    if (!(top * (1.0 + e->cfg.fee_cap) < 0x1p62))
        return CH_EBADCONFIG;
    /* everything it needs first: a failure registers nothing */
    ch_smile *smile = ch_smile_create(CHI_SMILE_EXPIRIES, CHI_SMILE_POINTS);
    ch_smile *scratch = ch_smile_create(CHI_SMILE_EXPIRIES, CHI_SMILE_POINTS);
    ch_inventory *pool_inv = ch_inventory_create(e->cfg.max_instruments);
    ch_inventory *house_inv = ch_inventory_create(e->cfg.max_instruments);
    uint32_t idx = 0;
    ch_err err = smile == NULL || scratch == NULL || pool_inv == NULL || house_inv == NULL
                     ? CH_ENOMEM
                     : ch_instruments_add_underlying(e->reg, u, &idx);
    if (err != CH_OK) {
        ch_smile_destroy(smile);
        ch_smile_destroy(scratch);
        ch_inventory_destroy(pool_inv);
        ch_inventory_destroy(house_inv);
        return err;
    }
    und_state *s = &e->und[idx];
    s->smile = smile;
    s->scratch = scratch;
    s->pool_inv = pool_inv;
    s->house_inv = house_inv;
    int64_t p10 = 1;
    for (int i = u->price_decimals; i < 6; i++)
        p10 *= 10;
    s->tick_cash = u->tick_units * p10;
    s->m.now = e->now;
    s->funding_avg = NAN;
    e->n_und = idx + 1;
    if (index != NULL)
        *index = idx;
    return CH_OK;
}
