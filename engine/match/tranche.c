/*
 * tranche.c - strike tranches (ch/engine.h, "strike tranches"): LP capital
 * for some strikes and expiries of one underlying, each in its own internal
 * account beside the general pool; how a pool fill is split between them,
 * the utilisation that prices their strikes, the house's value shared by
 * delta contribution, their shares, and their part of ch_engine_check.
 */
#include "engine_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"

static bool covers(const tranche *t, const series *s)
{
    const ch_tranche_spec *p = &t->spec;
    if (p->underlying != s->und || s->rs.is_linear || s->rs.strike < (double)p->strike_lo ||
        s->rs.strike > (double)p->strike_hi)
        return false;
    return (p->expiry_lo == 0 && p->expiry_hi == 0) ||
           (s->rs.expiry >= p->expiry_lo && s->rs.expiry <= p->expiry_hi);
}

/* Capital (cash + positions at mark) of an account, quote ccy. */
static double capital(const account *a)
{
    return (double)a->cash / CH_CASH_SCALE + a->mtm;
}

/* Worst scenario loss of an account's positions (its vector is exact: pool-side
 * accounts never have resting orders). */
static double worst(const account *a)
{
    return a->worst;
}

/* ---- creation ---------------------------------------------------------------- */

ch_err ch_engine_tranche_add(ch_engine *e, const ch_tranche_spec *spec, uint32_t *id)
{
    if (spec->underlying >= e->n_und || spec->strike_lo <= 0 || spec->strike_hi < spec->strike_lo ||
        spec->expiry_hi < spec->expiry_lo || (spec->expiry_lo == 0) != (spec->expiry_hi == 0))
        return CH_EINVAL;
    if (e->n_tranches == CH_TRANCHES_MAX || e->n_acct == e->cfg.max_accounts)
        return CH_ECAPACITY;
    if (e->tranches == NULL) {
        e->tranches = ch_calloc(CH_TRANCHES_MAX, sizeof *e->tranches);
        if (e->tranches == NULL)
            return CH_ENOMEM;
    }
    uint32_t k = e->n_tranches;
    char name[CH_ACCOUNT_NAME_MAX];
    int len = snprintf(name, sizeof name, "tranche#%u", k + 1);
    uint32_t a = chi_account_new(e, name, (size_t)len, true);
    e->acct[a].pool_side = true; /* cannot be NIL: capacity was checked */
    e->acct[a].tranche = k + 1;
    tranche *t = &e->tranches[k];
    memset(t, 0, sizeof *t); /* padding too: snapshots write the record's bytes */
    t->spec.underlying = spec->underlying;
    t->spec.strike_lo = spec->strike_lo;
    t->spec.strike_hi = spec->strike_hi;
    t->spec.expiry_lo = spec->expiry_lo;
    t->spec.expiry_hi = spec->expiry_hi;
    t->acct = a;
    e->n_tranches++;
    e->seq++;
    chi_quotes_moved(e);
    if (id != NULL)
        *id = k + 1;
    return CH_OK;
}

uint32_t ch_engine_tranche_count(const ch_engine *e)
{
    return e->n_tranches;
}

/* ---- the house's value, shared by delta contribution ------------------------- */

double chi_house_value(const ch_engine *e)
{
    double v = capital(&e->acct[CH_ACCOUNT_HOUSE]);
    for (uint32_t u = 0; u < e->n_und; u++)
        v += chi_hedge_value(&e->und[u]);
    return v;
}

/* |delta| (underlying units) or, with @p vega, |vega| (USD per 1.00 vol) of
 * an account's positions. */
static double abs_risk(const ch_engine *e, const account *a, bool vega)
{
    double d[64] = {0}; /* per underlying: different underlyings do not offset */
    double total = 0;
    for (uint32_t k = a->first_pos; k != NIL; k = e->pos_link[k].next_acct) {
        const series *s = &e->ser[e->pos[k].instr];
        double x =
            (double)e->pos[k].qty * (vega ? s->unit.vega : s->unit.delta * s->rs.contract_size);
        if (s->und < 64)
            d[s->und] += x;
        else
            total += fabs(x);
    }
    for (int u = 0; u < 64; u++)
        total += fabs(d[u]);
    return total;
}

/* The weights of the general pool (w[0]) and each tranche (w[k + 1]): the
 * delta each holds or, with @p vega, its vega; their sum. */
static double weights_of(const ch_engine *e, double *w, bool vega)
{
    w[0] = abs_risk(e, &e->acct[CH_ACCOUNT_POOL], vega);
    double sum = w[0];
    for (uint32_t k = 0; k < e->n_tranches; k++)
        sum += w[k + 1] = abs_risk(e, &e->acct[e->tranches[k].acct], vega);
    return sum;
}

static double weights(const ch_engine *e, double *w)
{
    return weights_of(e, w, false);
}

/* Tranche k's share of a change dh of the house's value (the general pool
 * keeps the rest, so the shares add up to dh). */
static double share_of(double dh, const double *w, double sum, uint32_t k)
{
    return sum > 0 ? dh * w[k + 1] / sum : 0.0;
}

static void allocate(ch_engine *e, bool by_vega)
{
    if (e->n_tranches == 0)
        return;
    double h = chi_house_value(e), dh = h - e->house_allocated;
    if (dh == 0)
        return;
    double w[CH_TRANCHES_MAX + 1];
    double sum = weights_of(e, w, by_vega);
    for (uint32_t k = 0; k < e->n_tranches; k++)
        e->tranches[k].house_alloc += share_of(dh, w, sum, k);
    e->house_allocated = h;
}

void chi_tranches_allocate(ch_engine *e)
{
    allocate(e, false);
}

void chi_tranches_allocate_vega(ch_engine *e)
{
    allocate(e, true);
}

/* Tranche k's part of the house's value now: what it was given, and its
 * share of the change not given yet. */
static double house_part(const ch_engine *e, uint32_t k, const double *w, double sum, double dh)
{
    return e->tranches[k].house_alloc + share_of(dh, w, sum, k);
}

/* The general pool's part: the whole less every tranche's. */
double chi_general_house_share(const ch_engine *e)
{
    double h = chi_house_value(e);
    if (e->n_tranches == 0)
        return h;
    double w[CH_TRANCHES_MAX + 1];
    double sum = weights(e, w), dh = h - e->house_allocated, part = h;
    for (uint32_t k = 0; k < e->n_tranches; k++)
        part -= house_part(e, k, w, sum, dh);
    return part;
}

ch_err ch_engine_tranche(const ch_engine *e, uint32_t id, ch_tranche_info *out)
{
    if (id == 0 || id > e->n_tranches)
        return CH_ENOTFOUND;
    const tranche *t = &e->tranches[id - 1];
    const account *a = &e->acct[t->acct];
    double w[CH_TRANCHES_MAX + 1];
    double sum = weights(e, w), dh = chi_house_value(e) - e->house_allocated;
    memset(out, 0, sizeof *out);
    out->id = id;
    out->spec = t->spec;
    out->account.v = t->acct;
    out->cash = a->cash;
    out->inventory_value = a->mtm;
    out->house_share = house_part(e, id - 1, w, sum, dh);
    out->nav = capital(a) + out->house_share;
    out->shares = t->shares;
    out->nav_per_share = t->shares > 0 ? out->nav * CH_CASH_SCALE / (double)t->shares : 1.0;
    out->worst = worst(a);
    double cap = capital(a);
    out->utilisation = cap > 0 ? out->worst / cap : 0.0;
    out->delta = w[id];
    return CH_OK;
}

/* ---- pricing and splitting a pool fill ------------------------------------- */

bool chi_tranche_util(const ch_engine *e, const series *s, double *util)
{
    double loss = 0, cap = 0;
    bool any = false;
    for (uint32_t k = 0; k < e->n_tranches; k++) {
        if (!covers(&e->tranches[k], s))
            continue;
        const account *a = &e->acct[e->tranches[k].acct];
        any = true;
        loss += worst(a);
        cap += capital(a);
    }
    *util = !any ? 0.0 : cap > 0 ? loss / cap : 1.0;
    return any;
}

/* Free capital of account a after taking dq lots of series s at px_cash
 * per lot: capital less the worst scenario loss, and whether its cash
 * stays >= 0. */
static bool can_take(const ch_engine *e, const account *a, const series *s, double dq,
                     int64_t px_cash)
{
    double cash = (double)a->cash - dq * (double)px_cash; /* a buyer pays */
    if (cash < 0)
        return false;
    const double *B = a->M + (size_t)s->und * e->scen_stride;
    double low = 0;
    for (size_t i = 0; i < e->nscen; i++) {
        double m = B[i] + dq * s->scen[i];
        if (m < low)
            low = m;
    }
    double cap = cash / CH_CASH_SCALE + a->mtm + dq * s->unit.price;
    return cap - chi_worst_sum(e, a->M + e->worst_off, s->und, -low) >= 0;
}

/* The most lots (<= want) account a can take: a binary search on can_take. */
static int64_t capacity(const ch_engine *e, const account *a, const series *s, int sign,
                        int64_t want, int64_t px_cash)
{
    int64_t lo = 0, hi = want;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (can_take(e, a, s, (double)(sign * mid), px_cash))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

int chi_pool_legs(ch_engine *e, ch_instr_id id, ch_side cust, int64_t q, int64_t ticks,
                  pool_leg *legs)
{
    const series *s = &e->ser[id.v];
    int n = 0;
    int64_t left = q;
    if (e->n_tranches > 0) {
        uint32_t cov[CH_TRANCHES_MAX];
        double freec[CH_TRANCHES_MAX], sum = 0;
        uint32_t m = 0;
        for (uint32_t k = 0; k < e->n_tranches; k++) {
            if (!covers(&e->tranches[k], s))
                continue;
            const account *a = &e->acct[e->tranches[k].acct];
            double f = capital(a) - worst(a);
            if (f > 0) {
                cov[m] = k;
                freec[m++] = f;
                sum += f;
            }
        }
        /* pro rata to free capital, whole lots by largest remainder */
        int64_t take[CH_TRANCHES_MAX];
        double rem[CH_TRANCHES_MAX];
        int64_t given = 0;
        for (uint32_t i = 0; i < m; i++) {
            double x = (double)q * freec[i] / sum;
            take[i] = (int64_t)floor(x);
            rem[i] = x - (double)take[i];
            given += take[i];
        }
        for (; given < q && m > 0; given++) { /* the largest remainders, first come on ties */
            uint32_t best = 0;
            for (uint32_t i = 1; i < m; i++)
                if (rem[i] > rem[best])
                    best = i;
            take[best]++;
            rem[best] = -1;
        }
        int sign = cust == CH_BUY ? -1 : 1; /* the pool side's change */
        int64_t px_cash = ticks * e->und[s->und].tick_cash;
        for (uint32_t i = 0; i < m; i++) {
            const tranche *t = &e->tranches[cov[i]];
            int64_t x = take[i] > 0 ? capacity(e, &e->acct[t->acct], s, sign, take[i], px_cash) : 0;
            if (x > 0) {
                legs[n++] =
                    (pool_leg){.acct = t->acct, .rec = chi_pos_get(e, t->acct, id.v), .qty = x};
                left -= x;
            }
        }
    }
    if (left > 0)
        legs[n++] = (pool_leg){.acct = CH_ACCOUNT_POOL, .rec = s->pool_k, .qty = left};
    return n;
}

/* ---- shares ------------------------------------------------------------------- */

static lp_holding *holding(ch_engine *e, uint32_t acct, uint32_t id, bool create)
{
    for (uint32_t i = 0; i < e->n_holdings; i++)
        if (e->holdings[i].acct == acct && e->holdings[i].tranche == id)
            return &e->holdings[i];
    if (!create)
        return NULL;
    if (e->n_holdings == e->cap_holdings) {
        uint32_t cap = e->cap_holdings ? 2 * e->cap_holdings : 16;
        lp_holding *h = ch_realloc(e->holdings, cap * sizeof *h);
        if (h == NULL)
            return NULL;
        e->holdings = h;
        e->cap_holdings = cap;
    }
    lp_holding *h = &e->holdings[e->n_holdings++];
    *h = (lp_holding){.acct = acct, .tranche = id};
    return h;
}

int64_t ch_engine_tranche_shares(const ch_engine *e, ch_account_id lp, uint32_t id)
{
    for (uint32_t i = 0; i < e->n_holdings; i++)
        if (e->holdings[i].acct == lp.v && e->holdings[i].tranche == id)
            return e->holdings[i].shares;
    return 0;
}

ch_err ch_engine_tranche_deposit(ch_engine *e, ch_account_id lp, uint32_t id, int64_t cash,
                                 int64_t *shares)
{
    if (lp.v >= e->n_acct || e->acct[lp.v].internal)
        return CH_EUNAUTHORIZED;
    if (id == 0 || id > e->n_tranches)
        return CH_ENOTFOUND;
    account *a = &e->acct[lp.v];
    if (cash <= 0)
        return CH_EINVAL;
    if (a->cash - a->reserved < cash)
        return CH_EFUNDS;
    ch_tranche_info ti;
    ch_engine_tranche(e, id, &ti);
    int64_t minted =
        ti.shares == 0 || !(ti.nav > 0) ? cash : (int64_t)floor((double)cash / ti.nav_per_share);
    if (minted <= 0)
        return CH_EINVAL;
    lp_holding *h = holding(e, lp.v, id, true);
    if (h == NULL)
        return CH_ENOMEM;
    tranche *t = &e->tranches[id - 1];
    e->seq++;
    chi_quotes_moved(e);
    a->cash -= cash;
    e->acct[t->acct].cash += cash;
    h->shares += minted;
    t->shares += minted;
    if (shares != NULL)
        *shares = minted;
    return CH_OK;
}

ch_err ch_engine_tranche_withdraw(ch_engine *e, ch_account_id lp, uint32_t id, int64_t shares,
                                  int64_t *cash)
{
    if (lp.v >= e->n_acct || e->acct[lp.v].internal)
        return CH_EUNAUTHORIZED;
    if (id == 0 || id > e->n_tranches)
        return CH_ENOTFOUND;
    if (shares <= 0)
        return CH_EINVAL;
    lp_holding *h = holding(e, lp.v, id, false);
    if (h == NULL || shares > h->shares)
        return CH_EFUNDS;
    tranche *t = &e->tranches[id - 1];
    account *ta = &e->acct[t->acct];
    ch_tranche_info ti;
    ch_engine_tranche(e, id, &ti);
    double v = floor((double)shares * ti.nav_per_share);
    int64_t pay = v >= 0 ? (int64_t)v : 0;
    /* what its open risk leaves free: its cash, and its capital less its
     * worst scenario loss */
    double free_cap = (capital(ta) - worst(ta)) * CH_CASH_SCALE;
    if (pay > ta->cash || (double)pay > free_cap)
        return CH_EFUNDS;
    e->seq++;
    chi_quotes_moved(e);
    h->shares -= shares;
    t->shares -= shares;
    ta->cash -= pay;
    e->acct[lp.v].cash += pay;
    if (cash != NULL)
        *cash = pay;
    return CH_OK;
}

/* ---- check ---------------------------------------------------------------------- */

bool chi_tranches_ok(const ch_engine *e)
{
    for (uint32_t k = 0; k < e->n_tranches; k++) {
        const tranche *t = &e->tranches[k];
        const account *a = &e->acct[t->acct];
        if (!a->pool_side || a->tranche != k + 1 || !a->internal || t->shares < 0)
            return false;
        int64_t held = 0;
        for (uint32_t i = 0; i < e->n_holdings; i++)
            if (e->holdings[i].tranche == k + 1) {
                if (e->holdings[i].shares < 0)
                    return false;
                held += e->holdings[i].shares;
            }
        if (held != t->shares)
            return false;
        /* a tranche holds only series it covers */
        for (uint32_t p = a->first_pos; p != NIL; p = e->pos_link[p].next_acct)
            if (e->pos[p].qty != 0 && !covers(t, &e->ser[e->pos[p].instr]))
                return false;
    }
    /* the parts of the house's value add up to the whole */
    double h = chi_house_value(e), parts = chi_general_house_share(e);
    double mag = fabs(h) + fabs(parts);
    for (uint32_t k = 1; k <= e->n_tranches; k++) {
        ch_tranche_info ti;
        ch_engine_tranche(e, k, &ti);
        parts += ti.house_share;
        mag += fabs(ti.house_share);
    }
    return fabs(parts - h) <= 1e-9 * mag + 1e-6;
}
