/*
 * reports.c - netting, residual risk, the house's hedge position, cash totals and
 * ch_engine_check (the invariants, after every operation in tests).
 */
#include "engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"

/* ---- reports -------------------------------------------------------------- */

void ch_engine_netting(const ch_engine *e, ch_netting *out)
{
    *out = e->net;
    double d = 0;
    for (uint32_t u = 0; u < e->n_und; u++)
        d += ch_engine_net_delta(e, u);
    out->net_delta = d;
}

ch_err ch_engine_netting_of(const ch_engine *e, uint32_t underlying, ch_netting *out)
{
    if (underlying >= e->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    *out = e->und[underlying].net;
    out->net_delta = ch_engine_net_delta(e, underlying);
    return CH_OK;
}

double ch_engine_net_delta(const ch_engine *e, uint32_t underlying)
{
    if (underlying >= e->n_und)
        return 0;
    ch_risk_totals a, b;
    ch_inventory_totals(e->und[underlying].pool_inv, &a);
    ch_inventory_totals(e->und[underlying].house_inv, &b);
    return a.delta + b.delta;
}

ch_err ch_engine_hedge_fill(ch_engine *e, uint32_t underlying, const ch_hedge_exec *x)
{
    if (underlying >= e->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    if (!isfinite(x->qty) || !isfinite(x->price) || !(x->price >= 0) || !isfinite(x->fee) ||
        !(x->fee >= 0) || !isfinite(x->slippage) || !(x->slippage >= 0))
        return CH_EINVAL;
    e->seq++;
    und_state *u = &e->und[underlying];
    ch_hedge_book_fill(&u->hb, x);
    u->hedge_cash += -x->qty * x->price - x->fee;
    chi_house_delta_moved(e);
    chi_tranches_allocate(e); /* its fee and slippage are the house's */
    return CH_OK;
}

double ch_engine_hedge_position(const ch_engine *e, uint32_t underlying)
{
    return underlying < e->n_und ? e->und[underlying].hb.position : 0.0;
}

const ch_hedge_book *ch_engine_hedge_book(const ch_engine *e, uint32_t underlying)
{
    return underlying < e->n_und ? &e->und[underlying].hb : NULL;
}

double ch_engine_house_delta(const ch_engine *e, uint32_t underlying)
{
    return underlying < e->n_und
               ? ch_engine_net_delta(e, underlying) + e->und[underlying].hb.position
               : 0.0;
}

double ch_engine_expected_funding(const ch_engine *e, uint32_t underlying)
{
    if (underlying >= e->n_und || isnan(e->und[underlying].funding_avg))
        return 0.0;
    return e->und[underlying].funding_avg;
}

size_t ch_engine_netting_buckets(const ch_engine *e, uint32_t underlying, ch_netting_bucket *out,
                                 size_t max)
{
    if (underlying >= e->n_und)
        return 0;
    const und_state *u = &e->und[underlying];
    /* both inventories define the same series: their buckets match index
     * by index */
    ch_bucket pb, hb;
    size_t n = 0;
    for (size_t i = 0; n < max && ch_inventory_bucket_at(u->pool_inv, i, &pb) == CH_OK &&
                       ch_inventory_bucket_at(u->house_inv, i, &hb) == CH_OK;
         i++) {
        if (pb.expiry == 0 && pb.strike == 0)
            continue; /* linear series */
        ch_netting_bucket *o = &out[n++];
        memset(o, 0, sizeof *o);
        o->expiry = pb.expiry;
        o->strike = pb.strike;
        o->residual = pb.net;
        o->residual.delta += hb.net.delta;
        o->residual.gamma += hb.net.gamma;
        o->residual.vega += hb.net.vega;
        o->residual.theta += hb.net.theta;
        o->residual.value += hb.net.value;
        uint32_t cnt = ch_instruments_count(e->reg);
        for (uint32_t k = 0; k < cnt; k++) {
            const series *s = &e->ser[k];
            if (!s->listed || s->und != underlying || s->rs.is_linear ||
                s->rs.expiry != o->expiry || s->rs.strike != o->strike)
                continue;
            o->gross_gamma += s->gross_g;
            o->gross_vega += s->gross_v;
            o->netted_gamma += s->netted_g;
            o->netted_vega += s->netted_v;
            o->pool_gamma += s->pool_g;
            o->pool_vega += s->pool_v;
        }
    }
    return n;
}

ch_err ch_engine_gamma_horizon(const ch_engine *e, uint32_t underlying, double *gamma,
                               double *years)
{
    *gamma = 0;
    *years = 30.0 / 365;
    if (underlying >= e->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    const und_state *u = &e->und[underlying];
    /* the residual per (expiry, strike): pool + house buckets, index by index
     * (both inventories define the same series) */
    ch_bucket pb, hb;
    double g_abs = 0, g_tau = 0;
    for (size_t i = 0; ch_inventory_bucket_at(u->pool_inv, i, &pb) == CH_OK &&
                       ch_inventory_bucket_at(u->house_inv, i, &hb) == CH_OK;
         i++) {
        double g = pb.net.gamma + hb.net.gamma;
        *gamma += g;
        g_abs += fabs(g);
        g_tau += fabs(g) * fmax(ch_years(e->now, pb.expiry), 0);
    }
    if (g_abs > 0)
        *years = g_tau / g_abs;
    return CH_OK;
}

ch_err ch_engine_risk(const ch_engine *e, uint32_t underlying, ch_risk_totals *totals,
                      ch_scenario_result *scen)
{
    if (underlying >= e->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    const und_state *u = &e->und[underlying];
    ch_risk_totals a, b;
    ch_inventory_totals(u->pool_inv, &a);
    ch_inventory_totals(u->house_inv, &b);
    if (totals != NULL) {
        totals->delta = a.delta + b.delta;
        totals->gamma = a.gamma + b.gamma;
        totals->vega = a.vega + b.vega;
        totals->theta = a.theta + b.theta;
        totals->value = a.value + b.value;
    }
    if (scen != NULL) {
        if (!u->has_index)
            return CH_ENOTFOUND;
        ch_scenario_result s2;
        ch_err err = ch_inventory_scenarios(u->pool_inv, u->smile, &u->m, &e->cfg.scenarios, NULL,
                                            NULL, 0, scen);
        if (err != CH_OK)
            return err;
        err = ch_inventory_scenarios(u->house_inv, u->smile, &u->m, &e->cfg.scenarios, NULL, NULL,
                                     0, &s2);
        if (err != CH_OK)
            return err;
        scen->worst = 0;
        for (size_t k = 0; k < scen->n; k++) {
            scen->pnl[k] += s2.pnl[k];
            if (scen->pnl[k] < scen->pnl[scen->worst])
                scen->worst = k;
        }
        scen->worst_loss = scen->pnl[scen->worst] < 0 ? -scen->pnl[scen->worst] : 0;
    }
    return CH_OK;
}

void ch_engine_cash_totals(const ch_engine *e, int64_t *total, int64_t *external)
{
    int64_t t = 0;
    for (uint32_t a = 0; a < e->n_acct; a++)
        t += e->acct[a].cash;
    *total = t;
    *external = e->external;
}

typedef struct check_ctx {
    const ch_engine *e;
    int64_t *reserved;
    int64_t *pend;
    double *M, *mag; /* per account (acct_stride each): expected M, sum of |terms| */
    uint32_t unrecorded;
} check_ctx;

/* the term q x scen of series i in account a's expected vector */
static void check_term(check_ctx *c, uint32_t a, uint32_t i, double q)
{
    const ch_engine *e = c->e;
    size_t at = (size_t)a * e->acct_stride + (size_t)e->ser[i].und * e->scen_stride;
    double *M = c->M + at, *mag = c->mag + at;
    for (size_t k = 0; k < e->nscen; k++) {
        M[k] += q * e->ser[i].scen[k];
        mag[k] += fabs(q * e->ser[i].scen[k]);
    }
}

static void check_order(void *ctx, const ch_order_info *o)
{
    check_ctx *c = ctx;
    c->unrecorded += o->user == NIL;
    if (o->side == CH_BUY)
        c->reserved[o->account.v] +=
            reserve_per_lot(c->e, c->e->ser[o->instr.v].und, o->price) * o->remaining;
    else if (c->e->acct[o->account.v].exact)
        check_term(c, o->account.v, o->instr.v, -(double)o->remaining);
    else {
        int64_t *p = &c->pend[o->account.v], add;
        if (*p < 0 || __builtin_mul_overflow(o->remaining, c->e->hold[o->instr.v].up_cash, &add) ||
            __builtin_add_overflow(*p, add, p) ||
            !(c->e->sell_bits[(size_t)o->account.v * c->e->sell_words + o->instr.v / 64] >>
                  (o->instr.v % 64) &
              1))
            *p = -1; /* beyond an integer (so not in pend), or a walk would miss it */
    }
}

/* Each account's vector, worst and pend against a recomputation. */
static bool margins_ok(const ch_engine *e, check_ctx *c)
{
    for (uint32_t k = 0; k < e->n_pos; k++)
        if (e->pos[k].qty != 0)
            check_term(c, e->pos[k].account, e->pos[k].instr, (double)e->pos[k].qty);
    for (uint32_t a = 0; a < e->n_acct; a++) {
        const account *ac = &e->acct[a];
        const double *M = c->M + (size_t)a * e->acct_stride;
        const double *mag = c->mag + (size_t)a * e->acct_stride;
        if (ac->pend != c->pend[a] || ac->pend < 0 || (ac->exact && ac->pend != 0) ||
            chi_worst_of(e, ac->M) != ac->worst)
            return false;
        /* each underlying's worst loss as kept, and the sum of them */
        const double *W = ac->M + e->worst_off;
        for (uint32_t u = 0; u < e->n_und; u++)
            if (W[u] != chi_block_worst(e, ac->M + (size_t)u * e->scen_stride))
                return false;
        if (chi_worst_sum(e, W, UINT32_MAX, 0.0) != ac->worst)
            return false;
        /* the vector was summed in another order, over a history whose
         * rounding this cannot see: a missing or doubled term is what counts */
        for (size_t k = 0; k < (size_t)e->n_und * e->scen_stride; k++)
            if (!(fabs(ac->M[k] - M[k]) <= 1e-7 * mag[k] + 1e-3))
                return false;
    }
    return true;
}

/* The LPs' NAV, recomputed from independent sources: positions x marks
 * instead of the accounts' running mtm, each hedge book's cash flows instead
 * of its average-price view. Everything the customers, the fee account, the
 * pool and the house hold adds up to the cash that came in from outside; the
 * pool's NAV is its part + the house's + the hedge books'. */
static bool nav_ok(const ch_engine *e)
{
    double ext = (double)e->external / CH_CASH_SCALE, total = 0, gross = 0;
    double part[2] = {0, 0}; /* pool, house */
    for (uint32_t a = 0; a < e->n_acct; a++) {
        const account *ac = &e->acct[a];
        double mtm = 0, mag = 0;
        for (uint32_t k = ac->first_pos; k != NIL; k = e->pos_link[k].next_acct) {
            double v = (double)e->pos[k].qty * e->ser[e->pos[k].instr].unit.price;
            mtm += v;
            mag += fabs(v);
        }
        if (!(fabs(mtm - ac->mtm) <= 1e-9 * mag + 1e-6))
            return false;
        double cash = (double)ac->cash / CH_CASH_SCALE;
        total += cash + mtm;
        gross += fabs(cash) + mag;
        if (a == CH_ACCOUNT_POOL || a == CH_ACCOUNT_HOUSE)
            part[a == CH_ACCOUNT_HOUSE] = cash + mtm;
    }
    if (!(fabs(total - ext) <= 1e-9 * gross + 1e-6))
        return false;
    double hedge = 0, hedge_mag = 0;
    for (uint32_t u = 0; u < e->n_und; u++) {
        const und_state *us = &e->und[u];
        const ch_hedge_book *b = &us->hb;
        double mark = chi_hedge_mark(b);
        double by_cash = us->hedge_cash + b->position * mark;
        double mag = fabs(us->hedge_cash) + fabs(b->position * mark) + b->fees + fabs(b->funding);
        if (!(fabs(by_cash - chi_hedge_value(us)) <= 1e-9 * mag + 1e-6))
            return false;
        hedge += by_cash;
        hedge_mag += mag;
    }
    /* the general pool and the tranches together hold the pool side and the
     * whole house */
    ch_pool_info pi;
    ch_engine_pool(e, &pi);
    double whole = part[0] + part[1] + hedge, navs = pi.nav;
    for (uint32_t k = 0; k < e->n_tranches; k++) {
        const account *ta = &e->acct[e->tranches[k].acct];
        whole += (double)ta->cash / CH_CASH_SCALE + ta->mtm;
        ch_tranche_info ti;
        ch_engine_tranche(e, k + 1, &ti);
        navs += ti.nav;
    }
    return fabs(navs - whole) <= 1e-9 * (gross + hedge_mag) + 1e-6 &&
           fabs(pi.house_value - part[1]) <= 1e-9 * gross + 1e-6;
}

#ifdef CH_ENGINE_DEBUG_CHECK
#include <stdio.h>
#define CHECK_FAIL(why) (fprintf(stderr, "ch_engine_check: %s\n", why), CH_EINVAL)
#else
#define CHECK_FAIL(why) CH_EINVAL
#endif

ch_err ch_engine_check(const ch_engine *e)
{
    if (ch_book_check(e->book) != CH_OK)
        return CHECK_FAIL("book");
    int64_t total, ext;
    ch_engine_cash_totals(e, &total, &ext);
    if (total != ext)
        return CHECK_FAIL("cash");
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++) {
        if (!e->ser[i].listed)
            continue;
        int64_t sum = 0;
        for (uint32_t k = e->ser[i].first_pos; k != NIL; k = e->pos_link[k].next_series)
            sum += e->pos[k].qty;
        if (sum != 0)
            return CHECK_FAIL("positions do not sum to zero");
        const und_state *u = &e->und[e->ser[i].und];
        int64_t pool_side =
            ch_engine_position(e, (ch_account_id){CH_ACCOUNT_POOL}, (ch_instr_id){i});
        for (uint32_t k = 0; k < e->n_tranches; k++)
            pool_side +=
                ch_engine_position(e, (ch_account_id){e->tranches[k].acct}, (ch_instr_id){i});
        if (ch_inventory_position(u->pool_inv, i) != (double)pool_side ||
            ch_inventory_position(u->house_inv, i) !=
                (double)ch_engine_position(e, (ch_account_id){CH_ACCOUNT_HOUSE}, (ch_instr_id){i}))
            return CHECK_FAIL("inventory");
    }
    int64_t *res = ch_calloc(e->n_acct, sizeof *res);
    int64_t *pend = ch_calloc(e->n_acct, sizeof *pend);
    double *vec = ch_calloc((size_t)e->n_acct * e->acct_stride * 2, sizeof *vec);
    if (res == NULL || pend == NULL || vec == NULL) {
        free(res);
        free(pend);
        free(vec);
        return CH_ENOMEM;
    }
    check_ctx c = {e, res, pend, vec, vec + (size_t)e->n_acct * e->acct_stride, 0};
    for (uint32_t i = 0; i < n; i++) {
        if (e->ser[i].listed) {
            ch_book_foreach(e->book, (ch_instr_id){i}, CH_BUY, check_order, &c);
            ch_book_foreach(e->book, (ch_instr_id){i}, CH_SELL, check_order, &c);
        }
    }
    bool margins = margins_ok(e, &c);
    free(pend);
    free(vec);
    if (c.unrecorded != e->unrecorded) {
        free(res);
        return CHECK_FAIL("orders without a position record");
    }
    if (!margins) {
        free(res);
        return CHECK_FAIL("margin vector or pend");
    }
    int64_t shares = 0;
    ch_err out = CH_OK;
    for (uint32_t a = 0; a < e->n_acct; a++) {
        if (res[a] != e->acct[a].reserved || e->acct[a].reserved < 0 || e->acct[a].shares < 0)
            out = CHECK_FAIL("reservation");
        shares += e->acct[a].shares;
    }
    free(res);
    if (shares != e->pool_shares)
        return CHECK_FAIL("shares");
    if (!chi_tranches_ok(e))
        return CHECK_FAIL("tranches: shares, holdings or the house's value shared");
    if (out == CH_OK && !nav_ok(e))
        return CHECK_FAIL("NAV: pool + house + hedge books");
    return out;
}
