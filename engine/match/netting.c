/*
 * netting.c - risk-aware internal netting (DESIGN section 4): the forward a
 * parity fill leaves the house, the terms of that fill (how many lots, at what
 * hedge cost per lot), and the delta term of the pool's quote. Both price
 * with one function, ch_marginal_hedge_cost, on the house's whole book (pool
 * options + parity forwards + the perp hedge: ch_engine_house_delta), so
 * book, parity and pool compete on one all-in price.
 */
#include "engine_int.h"

#include <math.h>

/* Expected funding to a horizon of T years, a fraction of notional: the
 * average per 8-hour period times the periods (0 without a funding feed). */
static double funding_to(const und_state *u, double T)
{
    return isnan(u->funding_avg) ? 0.0 : u->funding_avg * T * 365.0 * 3.0;
}

/* The forward to T the hedge can lock in: the index plus the perp's basis
 * to it (0 without a perp price), and with forward_funding the expected
 * funding to T (index x (1 + f_T) + basis). */
double chi_perp_forward(const ch_engine *e, const und_state *u, double T)
{
    double basis = u->perp > 0 ? u->perp - u->m.spot : 0.0;
    double carry = e->cfg.forward_funding ? funding_to(u, T) : 0.0;
    return u->m.spot * (1.0 + carry) + basis;
}

/* The marginal hedge cost's trading part of moving the house's delta from h
 * by d at the perp's forward to the series' expiry. */
static ch_hedge_cost trading_cost(const ch_engine *e, const series *s, double h, double d)
{
    ch_hedge_cost_params hp = {.fee_rate = e->cfg.hedge_fee_bps * 1e-4,
                               .impact_rate = e->cfg.hedge_impact_bps * 1e-4,
                               .delta_limit = e->cfg.house_delta_limit};
    /* the horizon matters only to the forward's expected funding */
    double T = e->cfg.forward_funding ? ch_years(e->now, s->rs.expiry) : 0.0;
    return ch_marginal_hedge_cost(&hp, h, d, chi_perp_forward(e, &e->und[s->und], T > 0 ? T : 0),
                                  0.0);
}

/*
 * The terms of a parity fill of the taker's `side` on x now. The house takes
 * a forward of d = ∓(delta_x - delta_sibling) per lot (a call buyer leaves it
 * short a forward). *q, the lots at the sibling's best level, is cut to what
 * keeps one price exact: the lots that take delta off the house up to zero
 * (rebated), or, from there, the lots within the house's delta limit
 * (paying). Sets e->net_cost_ticks, the cost per lot in ticks, for the
 * parity price. false: the fill would take the house's delta past its limit
 * (refused).
 *
 * The cost is ch_marginal_hedge_cost's trading part only: the forward is the
 * perp's, so the taker already pays the hedge's basis (and, with
 * forward_funding, its expected funding) in the parity price itself, and
 * charging the carry again would count it twice.
 */
bool chi_net_hedge_terms(ch_engine *e, ch_instr_id x, ch_side side, int64_t *q)
{
    const series *s = &e->ser[x.v];
    double per = s->unit.delta - e->ser[s->sibling.v].unit.delta;
    double d = side == CH_BUY ? -per : per; /* the house's delta per lot */
    double h = ch_engine_house_delta(e, s->und);
    int64_t n = *q;
    if (fabs(d) > 1e-12) {
        bool reduces = (h > 0 && d < 0) || (h < 0 && d > 0);
        double room = fabs(h) / fabs(d); /* lots until the house's delta crosses zero */
        if (reduces) {
            /* wholly reducing lots; a lot that crosses zero goes alone */
            int64_t k = room >= 1 ? (int64_t)fmin(floor(room), (double)INT64_MAX / 2) : 1;
            if (n > k)
                n = k;
        } else if (e->cfg.house_delta_limit > 0) {
            /* lots that keep |h + n d| within the limit */
            double lim = e->cfg.house_delta_limit;
            double far = d > 0 ? (lim - h) / d : (-lim - h) / d;
            if (far < 1)
                return false;
            if ((double)n > far)
                n = (int64_t)floor(far);
        }
    }
    ch_hedge_cost c = trading_cost(e, s, h, (double)n * d);
    if (c.refused)
        return false;
    e->net_cost_ticks = c.trading / (double)n / tick_value(e, s->und);
    *q = n;
    return true;
}

double chi_delta_span(const ch_engine *e, const series *s)
{
    /* the house's delta 0 and one lot of it: all adding, the most it pays
     * (a rebate is at most the same) */
    return fabs(trading_cost(e, s, 0.0, s->unit.delta).trading);
}

/*
 * The delta term of the pool's quote: what the house's whole book pays, or
 * is rebated, to hedge the delta of the pool taking dq lots (the trading
 * part). Its carry part is left out: the pool's marks price its options on
 * the index at the configured rate, and a quote that paid the expected
 * funding up front would sit hundreds of USD from its own mark (about
 * delta x F x f_T: 2-3 % of the forward a month at May 2021's funding) while
 * the funding itself arrives, or does not, over the life of the hedge. Never
 * refuses: the house's delta limit is parity's; the hedger catches up with
 * what the pool takes.
 */
double chi_delta_cost(const ch_engine *e, const series *s, double dq)
{
    /* past the delta limit the trading part is still the cost; inputs that
     * are not finite give 0 */
    return trading_cost(e, s, ch_engine_house_delta(e, s->und), dq * s->unit.delta).trading;
}
