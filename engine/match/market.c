/*
 * market.c - market data and the clock: marks and caches per series and account,
 * listing, settlement at expiry.
 */
#include "engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- caches ------------------------------------------------------------------ */

static void refresh_series(ch_engine *e, uint32_t i)
{
    series *s = &e->ser[i];
    und_state *u = &e->und[s->und];
    s->marked = false;
    if (!u->has_index)
        return;
    u->m.now = e->now;
    ch_greeks g;
    if (ch_series_mark(&s->rs, u->smile, &u->m, &g) != CH_OK)
        return;
    if (ch_series_scenarios(&s->rs, u->smile, &u->m, &e->cfg.scenarios, s->scen) != CH_OK)
        return;
    s->unit = g;
    s->marked = true;
    s->ticks_per_skew = fabs(g.vega) / tick_value(e, s->und);
    s->scen_up = 0;
    for (size_t k = 0; k < e->nscen; k++)
        if (s->scen[k] > s->scen_up)
            s->scen_up = s->scen[k];
    double up = ceil(s->scen_up * CH_CASH_SCALE) + 1;
    e->hold[i].up_cash = up < 0x1p62 ? (int64_t)up : UP_HUGE; /* (refresh_accounts follows) */
    if (!s->rs.is_linear) {
        double T = ch_years(e->now, s->rs.expiry);
        if (T < 0)
            T = 0;
        double fwd = u->m.spot * exp(-u->m.carry * T) - s->rs.strike * exp(-u->m.rate * T);
        if (e->cfg.risk_aware) /* D(F - K), F from the perp: what the hedge can lock in */
            fwd = exp(-u->m.rate * T) * (chi_perp_forward(e, u, T) - s->rs.strike);
        s->fwd_ticks = fwd / tick_value(e, s->und);
    }
}

/* refresh_accounts' first walk: pend of every account that is not exact */
static void pend_resting_sell(void *ctx, const ch_order_info *o)
{
    ch_engine *e = ctx;
    account *a = &e->acct[o->account.v];
    chi_mark_sells(e, o->account.v, o->instr);
    if (a->exact)
        return;
    int64_t up = e->hold[o->instr.v].up_cash, add, sum;
    if (up == UP_HUGE || __builtin_mul_overflow(o->remaining, up, &add) ||
        __builtin_add_overflow(a->pend, add, &sum))
        a->exact = true; /* no integer bound: its sells go into M */
    else
        a->pend = sum;
}

/* the second: the sells of exact accounts go into their vectors */
static void add_resting_sell(void *ctx, const ch_order_info *o)
{
    ch_engine *e = ctx;
    account *a = &e->acct[o->account.v];
    if (a->exact)
        chi_margin_add(e, a, -(double)o->remaining, &e->ser[o->instr.v]);
}

/*
 * Rebuild every account's margin vector, pend and mark value from the
 * caches, and decide again which accounts are exact: those whose bound
 * (worst + pend) is above half their free equity, where a check may soon
 * need the exact figure.
 */
void chi_refresh_accounts(ch_engine *e)
{
    for (uint32_t a = 0; a < e->n_acct; a++) {
        memset(e->acct[a].M, 0, e->acct_stride * sizeof(double));
        e->acct[a].worst = 0;
        e->acct[a].mtm = 0;
        e->acct[a].pend = 0;
        e->acct[a].exact = false;
    }
    memset(e->sell_bits, 0, (size_t)e->n_acct * e->sell_words * sizeof *e->sell_bits);
    for (uint32_t k = 0; k < e->n_pos; k++) {
        const position *p = &e->pos[k];
        if (p->qty == 0)
            continue;
        const series *s = &e->ser[p->instr];
        account *a = &e->acct[p->account];
        chi_margin_add(e, a, (double)p->qty, s);
        a->mtm += (double)p->qty * s->unit.price;
    }
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++)
        if (e->ser[i].listed)
            ch_book_foreach(e->book, (ch_instr_id){i}, CH_SELL, pend_resting_sell, e);
    bool any = false;
    for (uint32_t k = 0; k < e->n_acct; k++) {
        account *a = &e->acct[k];
        if (!a->exact && a->pend > 0 && 2 * chi_margin_bound(a) > chi_free_equity(a))
            a->exact = true;
        if (a->exact) {
            a->pend = 0;
            any = true;
        }
    }
    /* resting sells of exact accounts count as if filled */
    if (any)
        for (uint32_t i = 0; i < n; i++)
            if (e->ser[i].listed)
                ch_book_foreach(e->book, (ch_instr_id){i}, CH_SELL, add_resting_sell, e);
}

static void refresh_underlying(ch_engine *e, uint32_t und)
{
    chi_quotes_moved(e);
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++)
        if (e->ser[i].listed && e->ser[i].und == und)
            refresh_series(e, i);
    und_state *u = &e->und[und];
    if (u->has_index) {
        u->m.now = e->now;
        ch_inventory_revalue(u->pool_inv, u->smile, &u->m);
        ch_inventory_revalue(u->house_inv, u->smile, &u->m);
    }
}

/* ---- listing ----------------------------------------------------------------- */

static ch_err after_listing(ch_engine *e, ch_instr_id id)
{
    const ch_instrument *in = ch_instruments_get(e->reg, id);
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, in->underlying);
    series *s = &e->ser[id.v];
    if (s->listed)
        return CH_OK;
    /* house and pool records first, so that no fill ever allocates; live
     * orders keep their claim on one record each (see chi_order_rec) */
    if ((uint64_t)e->n_pos + e->unrecorded + 2 > e->cfg.max_positions)
        return CH_ECAPACITY;
    ch_err err = ch_book_add_instrument(e->book, id, uc->min_price, uc->max_price);
    if (err != CH_OK)
        return err;
    s->listed = true;
    s->und = in->underlying;
    s->sibling = in->sibling;
    /* member by member: snapshots write the record's bytes, padding too */
    memset(&s->rs, 0, sizeof s->rs);
    s->rs.type = in->sym.kind == CH_PUT ? CH_OPT_PUT : CH_OPT_CALL;
    s->rs.strike = (double)in->sym.strike;
    s->rs.expiry = in->sym.expiry;
    s->rs.contract_size = uc->contract_size;
    s->rs.is_linear = in->sym.kind == CH_PERP;
    if (s->rs.is_linear)
        s->rs.strike = 1.0;
    s->trade_until = s->rs.is_linear ? INT64_MAX : s->rs.expiry;
    e->hold[id.v].tick_cash = e->und[s->und].tick_cash;
    s->house_k = chi_pos_get(e, CH_ACCOUNT_HOUSE, id.v);
    s->pool_k = chi_pos_get(e, CH_ACCOUNT_POOL, id.v);
    und_state *u = &e->und[s->und];
    ch_inventory_define(u->pool_inv, id.v, &s->rs);
    ch_inventory_define(u->house_inv, id.v, &s->rs);
    if (in->sibling.v != CH_INSTR_NONE)
        e->ser[in->sibling.v].sibling = id;
    refresh_series(e, id.v);
    return CH_OK;
}

ch_err ch_engine_list(ch_engine *e, const char *symbol, size_t len, ch_instr_id *id)
{
    ch_instr_id x;
    ch_err err = ch_instruments_add(e->reg, symbol, len, e->now, &x);
    if (err == CH_EEXISTS && e->ser[x.v].listed) {
        if (id != NULL)
            *id = x;
        return CH_EEXISTS;
    }
    if (err != CH_OK && err != CH_EEXISTS)
        return err;
    err = after_listing(e, x);
    if (err == CH_OK && id != NULL)
        *id = x;
    return err;
}

ch_err ch_engine_list_grid(ch_engine *e, uint32_t underlying, const ch_time *expiries, size_t n_exp,
                           const int64_t *strikes, size_t n_strikes)
{
    ch_err err =
        ch_instruments_add_grid(e->reg, underlying, expiries, n_exp, strikes, n_strikes, e->now);
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++) {
        if (!e->ser[i].listed) {
            ch_err e2 = after_listing(e, (ch_instr_id){i});
            if (e2 != CH_OK && err == CH_OK)
                err = e2;
        }
    }
    return err;
}

/* ---- settlement --------------------------------------------------------------- */

static void settle_series(ch_engine *e, uint32_t i)
{
    series *s = &e->ser[i];
    und_state *u = &e->und[s->und];
    ch_book_close_instrument(e->book, (ch_instr_id){i});
    double S = u->m.spot;
    double itm = s->rs.type == CH_OPT_CALL ? S - s->rs.strike : s->rs.strike - S;
    int64_t pay = itm > 0 ? (int64_t)floor(itm * s->rs.contract_size * CH_CASH_SCALE) : 0;
    for (uint32_t k = s->first_pos; k != NIL; k = e->pos_link[k].next_series) {
        position *p = &e->pos[k];
        if (p->qty == 0)
            continue;
        int64_t q = p->qty;
        int64_t amount = q * pay;
        e->acct[p->account].cash += amount;
        chi_pos_apply(e, k, -q, pay);
        if (e->acct[p->account].pool_side) {
            u->pool_abs_notional_units -= fabs((double)q) * s->rs.contract_size;
            ch_inventory_fill(u->pool_inv, i, -(double)q);
        } else if (p->account == CH_ACCOUNT_HOUSE) {
            ch_inventory_fill(u->house_inv, i, -(double)q);
        }
        ch_engine_event ev = {
            .type = CH_EE_SETTLE,
            .settle = {
                .instr = {i}, .account = {p->account}, .qty = q, .amount = amount, .index = S}};
        emit(e, &ev);
    }
    s->settled = true;
    chi_quotes_moved(e);
}

static bool settle_due(ch_engine *e)
{
    bool any = false;
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++) {
        series *s = &e->ser[i];
        if (s->listed && !s->settled && !s->rs.is_linear && s->rs.expiry <= e->now &&
            e->und[s->und].has_index) {
            settle_series(e, i);
            any = true;
        }
    }
    return any;
}

/* Move the clock: drop expired marks, settle what expired, revalue. */
static void move_clock(ch_engine *e, ch_time now)
{
    e->now = now;
    for (uint32_t u = 0; u < e->n_und; u++) {
        e->und[u].m.now = now;
        ch_smile_expire(e->und[u].smile, now);
    }
    settle_due(e);
    for (uint32_t u = 0; u < e->n_und; u++)
        refresh_underlying(e, u);
    chi_refresh_accounts(e);
}

ch_err ch_engine_advance(ch_engine *e, ch_time now)
{
    if (now < e->now)
        return CH_EINVAL;
    e->seq++;
    move_clock(e, now);
    return CH_OK;
}

ch_err ch_engine_market(ch_engine *e, const ch_market_update *mu)
{
    if (mu->underlying >= e->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    und_state *u = &e->und[mu->underlying];
    if (!isnan(mu->index) && !(isfinite(mu->index) && mu->index > 0))
        return CH_EINVAL;
    if (!isnan(mu->rate) && !isfinite(mu->rate))
        return CH_EINVAL;
    if (mu->time != 0 && mu->time < e->now)
        return CH_EINVAL;
    ch_time now = mu->time != 0 ? mu->time : e->now;
    if (mu->n_marks > 0) {
        /* apply to a copy: all or nothing */
        ch_err err = ch_smile_copy(u->scratch, u->smile);
        if (err != CH_OK)
            return err;
        ch_smile_expire(u->scratch, mu->replace_marks ? INT64_MAX : now);
        for (size_t i = 0; i < mu->n_marks; i++) {
            /* group the marks of one expiry (they must be adjacent) */
            if (i > 0 && mu->mark_expiry[i] == mu->mark_expiry[i - 1])
                continue;
            size_t j = i;
            while (j < mu->n_marks && mu->mark_expiry[j] == mu->mark_expiry[i])
                j++;
            if (j - i == 1 && mu->mark_strike[i] == 0)
                err = ch_smile_set_flat(u->scratch, mu->mark_expiry[i], mu->mark_vol[i], now);
            else
                err = ch_smile_set(u->scratch, mu->mark_expiry[i], &mu->mark_strike[i],
                                   &mu->mark_vol[i], j - i, now);
            if (err != CH_OK)
                return err;
        }
        ch_smile *t = u->smile;
        u->smile = u->scratch;
        u->scratch = t;
    }
    e->seq++;
    if (!isnan(mu->index)) {
        u->m.spot = mu->index;
        u->has_index = true;
    }
    if (!isnan(mu->rate))
        u->m.rate = mu->rate;
    if (!isnan(mu->funding_rate)) {
        u->funding = mu->funding_rate;
        double hours = isnan(u->funding_avg) ? 0 : (double)(now - u->funding_at) / 3.6e12;
        u->funding_avg =
            ch_funding_ewma(u->funding_avg, mu->funding_rate, hours, e->cfg.funding_half_life_h);
        u->funding_at = now;
    }
    if (!isnan(mu->perp))
        u->perp = mu->perp;
    move_clock(e, now);
    if (u->has_index) { /* the hedge book's marks, and funding on its position */
        double funded = u->hb.funding;
        ch_hedge_book_mark(&u->hb, e->now, u->m.spot, u->perp > 0 ? u->perp : u->m.spot,
                           u->funding);
        u->hedge_cash += u->hb.funding - funded;
    }
    chi_tranches_allocate(e); /* the house's marks moved */
    ch_engine_event ev = {.type = CH_EE_MARKET};
    emit(e, &ev);
    return CH_OK;
}
