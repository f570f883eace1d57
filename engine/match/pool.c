/*
 * pool.c - the pool's price for a trade (model value +/- half-spread,
 * inventory premium and, risk-aware, the delta term of netting.c), its limits,
 * the largest fill within a bound, and the quote clients ask for.
 */
#include "engine_int.h"

#include <math.h>

/* The pool's price for a customer trade of n lots (n >= 1). */
pool_px chi_pool_price(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t n)
{
    pool_px r = {0};
    const series *s = &e->ser[id.v];
    const ch_pool_config *pc = &e->cfg.pool;
    if (!pc->enabled || !s->marked || s->rs.is_linear)
        return r;
    const und_state *u = &e->und[s->und];
    ch_risk_totals tot, bk;
    ch_inventory_totals(u->pool_inv, &tot);
    ch_inventory_series_bucket(u->pool_inv, id.v, &bk);
    double dq = cust == CH_BUY ? -(double)n : (double)n;
    double vg = s->unit.vega, gm = s->unit.gamma;
    double hv = 0.5 * dq * vg, hg = 0.5 * dq * gm;
    double x = 0;
    if (pc->max_vega_total > 0)
        x += pc->pv_t * (tot.vega + hv) / pc->max_vega_total;
    if (pc->max_gamma_total > 0)
        x += pc->pg_t * (tot.gamma + hg) / pc->max_gamma_total;
    if (pc->max_vega_strike > 0)
        x += pc->pv_k * (bk.vega + hv) / pc->max_vega_strike;
    if (pc->max_gamma_strike > 0)
        x += pc->pg_k * (bk.gamma + hg) / pc->max_gamma_strike;
    double skew = dq > 0 ? x : -x; /* sign(dq) */
    if (skew > pc->max_skew_vol)
        skew = pc->max_skew_vol;
    if (skew < -pc->max_skew_vol)
        skew = -pc->max_skew_vol;
    double prem = (pc->half_spread_vol + skew) * vg;
    double util;
    if (e->n_tranches > 0 && chi_tranche_util(e, s, &util)) /* thin strikes price risk higher */
        prem *= 1 + CH_TRANCHE_UTIL_PREMIUM * (util < 1 ? util : 1);
    double hc = e->cfg.risk_aware ? chi_delta_cost(e, s, dq) / (double)n : 0.0;
    double px = cust == CH_BUY ? s->unit.price + prem + hc : s->unit.price - prem - hc;
    double tv = tick_value(e, s->und);
    r.raw = px / tv;
    int64_t t = cust == CH_BUY ? (int64_t)ceil(r.raw - 1e-9) : (int64_t)floor(r.raw + 1e-9);
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    if (t < uc->min_price) {
        if (cust == CH_SELL)
            return r; /* the pool bids nothing */
        t = uc->min_price;
    }
    if (t > uc->max_price) {
        if (cust == CH_BUY)
            return r;
        t = uc->max_price;
    }
    r.ok = true;
    r.ticks = t;
    r.mid = s->unit.price;
    r.premium = prem;
    r.hedge_cost = hc;
    return r;
}

/* Within the pool's risk limits after the customer's dq lots? */
static bool within_limits(const ch_engine *e, const series *s, double dq)
{
    const ch_pool_config *pc = &e->cfg.pool;
    const und_state *u = &e->und[s->und];
    ch_risk_totals tot, bk;
    ch_inventory_totals(u->pool_inv, &tot);
    ch_inventory_series_bucket(u->pool_inv, (uint32_t)(s - e->ser), &bk);
    if (!within(tot.vega, tot.vega + dq * s->unit.vega, pc->max_vega_total) ||
        !within(tot.gamma, tot.gamma + dq * s->unit.gamma, pc->max_gamma_total) ||
        !within(bk.vega, bk.vega + dq * s->unit.vega, pc->max_vega_strike) ||
        !within(bk.gamma, bk.gamma + dq * s->unit.gamma, pc->max_gamma_strike))
        return false;
    double held = (double)e->pos[s->pool_k].qty;
    double units_now = u->pool_abs_notional_units;
    double units_after = units_now + (fabs(held + dq) - fabs(held)) * s->rs.contract_size;
    double spot = u->has_index ? u->m.spot : 0.0;
    return within(units_now * spot, units_after * spot, pc->max_notional);
}

/* May the pool take n lots of this trade (limits unless no_limits, cash)? */
bool chi_pool_allows(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t n, int64_t ticks)
{
    const series *s = &e->ser[id.v];
    double dq = cust == CH_BUY ? -(double)n : (double)n;
    if (!e->cfg.pool.no_limits && !within_limits(e, s, dq))
        return false;
    if (cust == CH_SELL) { /* the pool pays */
        int64_t cost = ticks * e->und[s->und].tick_cash * n;
        if (cost > e->acct[CH_ACCOUNT_POOL].cash)
            return false;
    }
    return true;
}

/*
 * Largest n <= want the pool fills at an average price no worse than
 * `bound` (strictly better if `strict`), within limits. 0 if none. With
 * `marginal`, the price of the n-th lot itself must be within the bound (the
 * premium is linear in the lot index, so the average over 2n-1 lots is the
 * price at lot n - 1/2): however a sweep splits the pool's share into chunks,
 * each chunk's average is then within the bound, which is what a FOK check
 * needs.
 */
int64_t chi_pool_fill_qty_ex(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t want,
                             int64_t bound, bool strict, bool marginal, pool_px *px_out)
{
    int64_t lo = 0, hi = want;
    pool_px best = {0};
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        pool_px p = chi_pool_price(e, id, cust, marginal ? 2 * mid - 1 : mid);
        if (p.ok && better(cust, p.ticks, bound, strict) &&
            chi_pool_allows(e, id, cust, mid, p.ticks)) {
            lo = mid;
            best = p;
        } else {
            hi = mid - 1;
        }
    }
    if (lo > 0 && px_out != NULL)
        *px_out = best;
    return lo;
}

int64_t chi_pool_fill_qty(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t want,
                          int64_t bound, bool strict, pool_px *px_out)
{
    return chi_pool_fill_qty_ex(e, id, cust, want, bound, strict, false, px_out);
}

ch_err ch_engine_quote(const ch_engine *e, ch_instr_id instr, ch_side side, int64_t qty,
                       ch_quote *out)
{
    const ch_instrument *in = ch_instruments_get(e->reg, instr);
    if (in == NULL || !e->ser[instr.v].listed)
        return CH_EUNKNOWN_SYMBOL;
    const series *s = &e->ser[instr.v];
    if (s->settled || (!s->rs.is_linear && s->rs.expiry <= e->now))
        return CH_EEXPIRED;
    if (side != CH_BUY && side != CH_SELL)
        return CH_EBADSIDE;
    if (qty <= 0 || qty > CH_QTY_MAX)
        return CH_EBADQTY;
    pool_px p = chi_pool_price(e, instr, side, qty);
    if (!p.ok)
        return CH_ENOTFOUND;
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    int64_t bound = side == CH_BUY ? uc->max_price : uc->min_price;
    int64_t maxq = chi_pool_fill_qty(e, instr, side, qty, bound, false, NULL);
    out->price = p.ticks;
    out->model = p.mid;
    out->premium = p.premium;
    out->hedge_cost = p.hedge_cost;
    double vol = 0;
    const und_state *u = und_of(e, instr);
    ch_smile_vol(u->smile, s->rs.strike, s->rs.expiry, e->now, &vol);
    out->vol = vol;
    out->max_qty = maxq;
    return maxq > 0 ? CH_OK : CH_ERISK_LIMIT;
}
