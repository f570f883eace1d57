/*
 * vega.c - vega hedging in the engine (ch/engine.h, "vega hedging"): the
 * residual vega per expiry, the option orders the policy asks for at the
 * strike nearest the index, and the booking of an option hedge filled at
 * the external options venue (the house against the "venue" account).
 */
#include "engine_int.h"

#include <math.h>
#include <string.h>

size_t ch_engine_vega_exposures(const ch_engine *e, uint32_t underlying, ch_vega_exposure *out,
                                size_t max)
{
    if (underlying >= e->n_und)
        return 0;
    const und_state *u = &e->und[underlying];
    size_t n = 0;
    const ch_inventory *inv[2] = {u->pool_inv, u->house_inv};
    for (int w = 0; w < 2; w++) {
        ch_bucket b;
        for (size_t i = 0; ch_inventory_bucket_at(inv[w], i, &b) == CH_OK; i++) {
            if (b.net.vega == 0)
                continue;
            size_t k = 0;
            while (k < n && k < max && out[k].expiry != b.expiry)
                k++;
            if (k < n && k < max) {
                out[k].vega += b.net.vega;
                continue;
            }
            if (n < max) /* a new expiry, kept sorted */
            {
                size_t at = n;
                while (at > 0 && out[at - 1].expiry > b.expiry) {
                    out[at] = out[at - 1];
                    at--;
                }
                out[at] = (ch_vega_exposure){.expiry = b.expiry, .vega = b.net.vega};
            }
            n++;
        }
    }
    return n;
}

/* The live call and put at @p expiry with the strike nearest the index. */
static bool nearest(const ch_engine *e, uint32_t und, ch_time expiry, ch_instr_id *call,
                    ch_instr_id *put)
{
    const und_state *u = &e->und[und];
    double best = INFINITY, strike = 0;
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++) {
        const series *s = &e->ser[i];
        if (!s->listed || s->settled || !s->marked || s->und != und || s->rs.is_linear ||
            s->rs.expiry != expiry || e->now >= s->trade_until)
            continue;
        double d = fabs(s->rs.strike - u->m.spot);
        if (d < best) {
            best = d;
            strike = s->rs.strike;
        }
    }
    bool c = false, p = false;
    for (uint32_t i = 0; i < n && isfinite(best); i++) {
        const series *s = &e->ser[i];
        if (!s->listed || s->settled || !s->marked || s->und != und || s->rs.is_linear ||
            s->rs.expiry != expiry || s->rs.strike != strike || e->now >= s->trade_until)
            continue;
        if (s->rs.type == CH_OPT_CALL) {
            call->v = i;
            c = true;
        } else {
            put->v = i;
            p = true;
        }
    }
    (void)p; /* a straddle needs the put too; the call alone is enough */
    return c;
}

size_t ch_engine_vega_orders(const ch_engine *e, uint32_t underlying, const ch_vega_policy *p,
                             ch_vega_order out[2])
{
    if (underlying >= e->n_und || !e->und[underlying].has_index)
        return 0;
    ch_vega_exposure x[64];
    size_t n = ch_engine_vega_exposures(e, underlying, x, 64);
    if (n > 64)
        n = 64;
    size_t which;
    double add;
    if (!ch_vega_decide(p, x, n, &which, &add))
        return 0;
    ch_instr_id call = {NIL}, put = {NIL};
    if (!nearest(e, underlying, x[which].expiry, &call, &put) || call.v == NIL)
        return 0;
    bool straddle = p->straddle && put.v != NIL;
    const series *c = &e->ser[call.v];
    double per = c->unit.vega + (straddle ? e->ser[put.v].unit.vega : 0);
    if (!(per > 0))
        return 0;
    /* whole contracts: back inside the band if a whole number gets there
     * (the fewest that do), else the nearest to it; to zero: the nearest */
    double now = 0;
    for (size_t i = 0; i < n; i++)
        now += p->mode == CH_VEGA_TOTAL || i == which ? x[i].vega : 0;
    double qa = fabs(add) / per, up = ceil(qa - 1e-9), down = floor(qa + 1e-9);
    double after_up = fabs(now + copysign(up * per, add));
    double after_down = fabs(now + copysign(down * per, add));
    double lots = !p->to_edge                                    ? round(qa)
                  : after_up <= p->band || after_up < after_down ? up
                                                                 : down;
    double q = copysign(lots, add);
    if (lots == 0 || !isfinite(q) || fabs(q) > 1e9)
        return 0;
    const und_state *u = &e->und[underlying];
    size_t k = 0;
    ch_instr_id legs[2] = {call, put};
    for (int i = 0; i < (straddle ? 2 : 1); i++) {
        const series *s = &e->ser[legs[i].v];
        out[k++] = (ch_vega_order){.instr = legs[i],
                                   .qty = (int64_t)q,
                                   .mark = s->unit.price,
                                   .vega = s->unit.vega,
                                   .index = u->m.spot,
                                   .contract_size = s->rs.contract_size};
    }
    return k;
}

/* The venue's internal account, opened at the first option hedge. */
static uint32_t venue_account(ch_engine *e)
{
    if (e->venue_acct != NIL)
        return e->venue_acct;
    e->venue_acct = chi_account_new(e, "venue", 5, true); /* NIL: no room */
    return e->venue_acct;
}

ch_err ch_engine_option_hedge_fill(ch_engine *e, ch_instr_id instr, int64_t qty, int64_t price,
                                   int64_t fee)
{
    if (instr.v >= e->cfg.max_instruments || !e->ser[instr.v].listed || e->ser[instr.v].settled ||
        e->ser[instr.v].rs.is_linear)
        return CH_EUNKNOWN_SYMBOL;
    series *s = &e->ser[instr.v];
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    if (qty == 0 || qty < -CH_QTY_MAX || qty > CH_QTY_MAX || price < uc->min_price ||
        price > uc->max_price || fee < 0)
        return CH_EINVAL;
    if (e->n_pos + e->unrecorded + 2 > e->cfg.max_positions)
        return CH_ECAPACITY;
    chi_tranches_allocate(e); /* what the house's value did before, by delta */
    uint32_t v = venue_account(e);
    if (v == NIL)
        return CH_ECAPACITY;
    e->seq++;
    uint32_t vk = chi_pos_get(e, v, instr.v);
    int64_t q = qty > 0 ? qty : -qty;
    if (qty > 0)
        chi_clear_trade(e, instr, CH_ACCOUNT_HOUSE, s->house_k, v, vk, price, q, CH_ACCOUNT_HOUSE,
                        0, false);
    else
        chi_clear_trade(e, instr, v, vk, CH_ACCOUNT_HOUSE, s->house_k, price, q, CH_ACCOUNT_HOUSE,
                        0, false);
    e->acct[CH_ACCOUNT_HOUSE].cash -= fee; /* the venue's fee leaves the house */
    e->acct[v].cash += fee;
    und_state *u = &e->und[s->und];
    double px = (double)price * tick_value(e, s->und);
    u->vb.orders++;
    u->vb.contracts += q;
    u->vb.premium += (double)qty * px;
    u->vb.fees += (double)fee / CH_CASH_SCALE;
    u->vb.spread_cost += (double)q * fabs(px - s->unit.price);
    u->vb.vega_traded += (double)qty * s->unit.vega;
    chi_quotes_moved(e);
    chi_tranches_allocate_vega(e); /* its cost, by the vega each holds */
    return CH_OK;
}

const ch_vega_book *ch_engine_vega_book(const ch_engine *e, uint32_t underlying)
{
    return underlying < e->n_und ? &e->und[underlying].vb : NULL;
}
