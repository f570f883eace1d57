/*
 * sim_lp.c - the liquidity providers of an in-process run: the general pool
 * and, when the configuration asks for them, strike tranches (bands of
 * strikes around the starting spot, each funded with a share of the LP
 * capital); what each takes from the flow, its NAV's return and drawdown,
 * and the highest utilisation of each tranche.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

bool sim_lp_setup(ch_engine *e, const sim_run_config *rc, int64_t capital, double spot0,
                  ch_account_id lp, sim_result *out, char *msg, size_t cap)
{
    uint32_t n = rc->tranches;
    int64_t per = n > 0 ? (int64_t)floor((double)capital * rc->tranche_share / n) : 0;
    int64_t general = capital - per * (int64_t)n;
    int64_t shares;
    ch_err err = ch_engine_pool_deposit(e, lp, general, &shares);
    if (err != CH_OK) {
        snprintf(msg, cap, "funding the pool: %s", ch_strerror(err));
        return false;
    }
    out->n_lp = 1;
    sim_lp *g = &out->lp[0];
    snprintf(g->name, sizeof g->name, "general pool");
    g->capital = g->peak_nav = (double)general / CH_CASH_SCALE;
    int64_t prev_hi = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* edges at spot0 x (1 + width x (i - n/2)): the outer bands open */
        double hi_m = 1 + rc->tranche_width * ((double)(i + 1) - (double)n / 2);
        ch_tranche_spec sp = {.underlying = 0,
                              .strike_lo = prev_hi + 1,
                              .strike_hi =
                                  i + 1 == n ? CH_STRIKE_MAX : (int64_t)floor(spot0 * hi_m)};
        if (sp.strike_hi < sp.strike_lo)
            sp.strike_hi = sp.strike_lo;
        prev_hi = sp.strike_hi;
        uint32_t id;
        err = ch_engine_tranche_add(e, &sp, &id);
        if (err == CH_OK && per > 0)
            err = ch_engine_tranche_deposit(e, lp, id, per, &shares);
        if (err != CH_OK) {
            snprintf(msg, cap, "strike tranche %u: %s", i + 1, ch_strerror(err));
            return false;
        }
        sim_lp *t = &out->lp[out->n_lp++];
        snprintf(t->name, sizeof t->name, "tranche %u", id);
        t->strike_lo = (double)sp.strike_lo;
        t->strike_hi = (double)sp.strike_hi;
        t->capital = t->peak_nav = (double)per / CH_CASH_SCALE;
    }
    return true;
}

/* The NAV of LP entity i (0: the general pool, k: tranche k) and its utilisation. */
static double nav_of(const ch_engine *e, uint32_t i, double *util)
{
    *util = 0;
    if (i == 0) {
        ch_pool_info p;
        ch_engine_pool(e, &p);
        return p.nav;
    }
    ch_tranche_info t;
    ch_engine_tranche(e, i, &t);
    *util = t.utilisation;
    return t.nav;
}

double sim_lp_equity(const ch_engine *e)
{
    ch_account_info a;
    double sum = 0;
    ch_engine_account(e, (ch_account_id){CH_ACCOUNT_HOUSE}, &a);
    sum += a.equity;
    ch_engine_account(e, (ch_account_id){CH_ACCOUNT_POOL}, &a);
    sum += a.equity;
    for (uint32_t k = 1; k <= ch_engine_tranche_count(e); k++) {
        ch_tranche_info t;
        ch_engine_tranche(e, k, &t);
        sum += (double)t.cash / CH_CASH_SCALE + t.inventory_value;
    }
    return sum;
}

void sim_lp_fill(const ch_engine *e, const ch_fill *f, sim_result *out)
{
    if (f->source != CH_SRC_POOL)
        return;
    if (f->maker.v == CH_ACCOUNT_POOL) {
        out->lp[0].lots += f->qty;
        return;
    }
    for (uint32_t k = 1; k < out->n_lp; k++) {
        ch_tranche_info t;
        if (ch_engine_tranche(e, k, &t) == CH_OK && t.account.v == f->maker.v) {
            out->lp[k].lots += f->qty;
            return;
        }
    }
}

void sim_lp_step(const ch_engine *e, sim_result *out)
{
    for (uint32_t i = 0; i < out->n_lp; i++) {
        sim_lp *l = &out->lp[i];
        double util, nav = nav_of(e, i, &util);
        l->peak_nav = fmax(l->peak_nav, nav);
        l->max_drawdown = fmax(l->max_drawdown, l->peak_nav - nav);
        l->util_max = fmax(l->util_max, util);
        l->nav_end = nav;
    }
}

void sim_lp_finish(const ch_engine *e, sim_result *out)
{
    sim_lp_step(e, out);
    for (uint32_t i = 0; i < out->n_lp; i++) {
        sim_lp *l = &out->lp[i];
        l->ret = l->capital > 0 ? l->nav_end / l->capital - 1 : 0;
    }
}
