/*
 * sim_run.c - one configuration through the engine over the scenario.
 *
 * Each step: list what the listing rule wants, apply the step's market data
 * (index, clock, funding, marks for every live expiry: the surface at the
 * log-moneyness grid around the spot, times the vol level; expired series
 * settle here), mark the hedge book (funding at 8-hour boundaries), cancel
 * resting orders past their time to live, submit the step's orders, then
 * let the hedge policy act on the house's net delta (house + pool).
 *
 * PnL of the house and pool together (their equity at the engine's marks)
 * plus the hedge book is attributed exactly:
 *   - between steps, by revaluing the positions held after the previous step
 *     along vol, time and spot (see attribute()): vega, theta, delta
 *     (options and perp), gamma (with the higher orders in spot), funding;
 *     what the engine's marks differ from that is "other";
 *   - during a step's trading, the change of equity is the edge the pool
 *     and the house earned against the mark (spread, inventory premium,
 *     netting fee, tick rounding): "spread"; the hedge's fees and slippage
 *     are their own terms.
 * So the columns add up to the PnL by construction.
 *
 * Configurations: `internal` off makes every limit order immediate-or-cancel
 * at its limit, so nothing rests and no customer meets another: the same
 * orders at the same limits, with the pool as the only counterparty; `netting` is the
 * engine's parity-netting switch; `dynamic_pricing` off zeroes the pool's
 * inventory premium (the half-spread stays).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/kit.h"
#include "sim.h"

const char *const sim_pnl_names[SIM_PNL_N] = {"spread",  "delta", "gamma",    "vega", "theta",
                                              "funding", "fees",  "slippage", "other"};

/* expiries marked at once (the engine's smile holds 64) */
#define SIM_LIVE_MAX 64

typedef struct held {
    double qty, delta, gamma, vega, theta;
    double strike;
    ch_time expiry;
    ch_opt type;
} held;

typedef struct resting {
    ch_order_id id;
    ch_account_id account;
    ch_time deadline;
    uint32_t order; /* its index in the flow */
} resting;

struct lanes;

/* One underlying's lane of a run (sim_run() has one; sim_run_lanes() several
 * sharing the engine and the traders). */
typedef struct run {
    const sim_config *c;
    const sim_market *m;
    ch_engine *e;
    struct lanes *all;
    uint32_t und;
    const ch_underlying_config *u;
    ch_hedger *h;
    kit_tbt tbt;
    double spot, perp, taker_fees;
    const sim_run_opts *opts;
    size_t k;           /* the step */
    uint32_t cur_order; /* the flow order being submitted */
    bool failed;        /* a fill could not be recorded (out of memory) */
    sim_chain *chain;
    ch_account_id *traders;
    resting *rest;
    size_t n_rest, cap_rest;
    held *held;
    size_t n_held, cap_held;
    bool oom; /* a position could not be recorded */
    /* marks for the engine */
    ch_time *mk_exp;
    double *mk_strike, *mk_vol;
    /* the loop's backend (sim_drive.c): the flow, and what a step measures */
    const sim_run_config *rc;
    const sim_flow *f;
    sim_result *out;                        /* where fills by LP entity are counted */
    ch_option_venue option_venue;           /* the vega policy's options venue */
    double hedge_pos;                       /* the hedge held through the last move */
    double e0, h0, e_pre, h_pre;            /* equity and hedge value: first, and before trading */
    double e_prev, h_prev, fund_prev, peak; /* ... after the last step's trading */
    double fees0, slip0;                    /* the hedge's costs before this step's hedging */
    /* several lanes: the equity changes made outside this lane's phases (its
     * equity is the engine's minus these), and its settlements in the market
     * phase (house and pool cash) */
    double foreign, settled;
    size_t next; /* its next flow order */
} run;

typedef struct lanes {
    ch_engine *e;
    ch_account_id *traders;
    double unsplit; /* the market phases' equity moves no lane accounted for (USD) */
    size_t n;
    run r[SIM_LANES_MAX];
} lanes;

/* The resting order `id`, or NULL (a short list: orders live for hours). */
static const resting *find_resting(const run *r, ch_order_id id)
{
    for (size_t i = 0; i < r->n_rest; i++)
        if (r->rest[i].id.v == id.v)
            return &r->rest[i];
    return NULL;
}

/* One customer's side of a fill, for the equal-flow comparison. */
static void record_side(run *r, ch_instr_id id, ch_side side, int64_t qty, int64_t ticks,
                        double fee, bool house, uint32_t order)
{
    const ch_symbol *sym = &ch_instruments_get(ch_engine_instruments(r->e), id)->sym;
    sim_fill f = {.order = order,
                  .k_fill = (uint32_t)r->k,
                  .expiry = sym->expiry,
                  .strike = (double)sym->strike,
                  .type = sym->kind == CH_CALL ? CH_OPT_CALL : CH_OPT_PUT,
                  .side = side,
                  .qty = qty,
                  .price = ch_price_to_double(r->u, ticks),
                  .fee = fee};
    if (r->opts->record != NULL && !sim_fills_push(r->opts->record, &f))
        r->failed = true;
    if (r->opts->model != NULL) {
        sim_model_customer(r->opts->model, r->k, &f);
        if (house) /* the house (pool or parity) took the other side */
            sim_model_trade(r->opts->model, f.expiry, f.strike, f.type,
                            side == CH_BUY ? -(double)qty : (double)qty, f.price);
    }
}

/* The lane of a series: the lanes list their underlyings in order. */
static run *lane_of(lanes *L, ch_instr_id id)
{
    const ch_instrument *in = ch_instruments_get(ch_engine_instruments(L->e), id);
    return &L->r[in != NULL && in->underlying < L->n ? in->underlying : 0];
}

static void on_event(void *ctx, const ch_engine_event *ev)
{
    lanes *L = ctx;
    if (ev->type == CH_EE_SETTLE) {
        ch_account_id a = ev->settle.account;
        if (a.v == CH_ACCOUNT_HOUSE || a.v == CH_ACCOUNT_POOL)
            lane_of(L, ev->settle.instr)->settled += (double)ev->settle.amount / CH_CASH_SCALE;
        return;
    }
    if (ev->type != CH_EE_FILL)
        return;
    const ch_fill *f = &ev->fill;
    run *r = lane_of(L, f->instr);
    kit_tbt_fill(&r->tbt, f->delta, r->spot);
    sim_lp_fill(r->e, f, r->out);
    r->taker_fees += (double)f->fee / CH_CASH_SCALE;
    if (r->opts->record == NULL && r->opts->model == NULL)
        return;
    record_side(r, f->instr, f->taker_side, f->qty, f->price, (double)f->fee / CH_CASH_SCALE,
                f->source != CH_SRC_BOOK, r->cur_order);
    if (f->source == CH_SRC_POOL)
        return;
    const resting *mk = find_resting(r, f->maker_order);
    if (mk == NULL) { /* every resting order is listed when it rests */
        r->failed = true;
        return;
    }
    record_side(r, f->maker_instr, f->taker_side == CH_BUY ? CH_SELL : CH_BUY, f->qty,
                f->maker_price, 0, f->source == CH_SRC_NET, mk->order);
}

static double equity(const run *r)
{
    return sim_lp_equity(r->e) - r->foreign; /* the house, the general pool, every tranche */
}

/* Hedge book value at the perp: realized + unrealized + funding - fees. */
static double hedge_value(const run *r)
{
    const ch_hedge_book *b = ch_hedger_book(r->h);
    return b->realized + ch_hedge_book_unrealized(b, r->perp) + b->funding - b->fees;
}

static void collect(void *ctx, const ch_position_info *p)
{
    run *r = ctx;
    const ch_instrument *in = ch_instruments_get(ch_engine_instruments(r->e), p->instr);
    if (in->underlying != r->und)
        return; /* another lane's */
    if (!kit_reserve(&r->held, &r->cap_held, r->n_held, sizeof *r->held, 256)) {
        r->oom = true; /* snapshot() reports it */
        return;
    }
    double q = (double)p->qty;
    r->held[r->n_held++] = (held){q,
                                  q * p->unit.delta,
                                  q * p->unit.gamma,
                                  q * p->unit.vega,
                                  q * p->unit.theta,
                                  (double)in->sym.strike,
                                  in->sym.expiry,
                                  in->sym.kind == CH_CALL ? CH_OPT_CALL : CH_OPT_PUT};
}

static bool snapshot(run *r)
{
    r->n_held = 0;
    ch_engine_positions(r->e, (ch_account_id){CH_ACCOUNT_HOUSE}, collect, r);
    ch_engine_positions(r->e, (ch_account_id){CH_ACCOUNT_POOL}, collect, r);
    for (uint32_t k = 1; k <= ch_engine_tranche_count(r->e); k++) { /* the pool's too */
        ch_tranche_info t;
        ch_engine_tranche(r->e, k, &t);
        ch_engine_positions(r->e, t.account, collect, r);
    }
    return !r->oom;
}

static bool fail(char *msg, size_t cap, const char *what, ch_err err)
{
    snprintf(msg, cap, "%s: %s", what, ch_strerror(err));
    return false;
}

static bool market(run *r, size_t k, char *msg, size_t cap)
{
    const sim_step *s = &r->m->s[k];
    size_t n = 0;
    for (size_t i = 0; i < r->chain->n; i++) {
        ch_time expiry = r->chain->l[i].expiry;
        if (expiry <= s->t)
            continue;
        if (n + SIM_X_N > SIM_LIVE_MAX * SIM_X_N) {
            snprintf(msg, cap, "more than %d live expiries", SIM_LIVE_MAX);
            return false;
        }
        double tau = ch_years(s->t, expiry);
        for (size_t j = 0; j < SIM_X_N; j++) {
            double x = -1.0 + SIM_X_STEP * (double)j;
            r->mk_exp[n] = expiry;
            r->mk_strike[n] = s->spot * exp(x);
            r->mk_vol[n] = sim_surface_vol(&r->m->surf, tau, x) * s->level;
            n++;
        }
    }
    /* on the tick, as chd takes it (and as chsim --chd sends it) */
    double tick = ch_price_to_double(r->u, 1);
    double spot = fmax(round(s->spot / tick) * tick, tick);
    double perp = fmax(round(sim_perp(r->c, r->m, k) / tick) * tick, tick);
    ch_market_update mu = {.underlying = r->und,
                           .index = spot,
                           .rate = r->m->rate,
                           .funding_rate = s->funding,
                           .perp = perp,
                           .time = s->t,
                           .n_marks = n,
                           .mark_expiry = r->mk_exp,
                           .mark_strike = r->mk_strike,
                           .mark_vol = r->mk_vol,
                           .replace_marks = true};
    ch_err err = ch_engine_market(r->e, &mu);
    if (err != CH_OK)
        return fail(msg, cap, "market update", err);
    r->spot = s->spot;
    r->perp = perp;
    ch_hedger_mark(r->h, s->t, spot, perp, s->funding);
    return true;
}

/* A lane's own parts: its hedger, chain, marks and underlying. */
static bool setup_lane(run *r, char *msg, size_t cap)
{
    const sim_config *c = r->c;
    r->h = kit_hedger_sim(&r->rc->hedge, &c->venue);
    r->chain = calloc(1, sizeof *r->chain);
    size_t max_marks = SIM_LIVE_MAX * SIM_X_N;
    r->mk_exp = calloc(max_marks, sizeof *r->mk_exp);
    r->mk_strike = calloc(max_marks, sizeof *r->mk_strike);
    r->mk_vol = calloc(max_marks, sizeof *r->mk_vol);
    if (r->h == NULL || r->chain == NULL || r->mk_exp == NULL || r->mk_strike == NULL ||
        r->mk_vol == NULL) {
        snprintf(msg, cap, "out of memory");
        return false;
    }
    r->tbt.venue = c->venue;
    /* band: 1 tick to 10 M ticks per contract (an option is worth less than the
     * spot); a market buy reserves cash at the band edge */
    ch_underlying_config u = {.contract_size = 1.0, .min_price = 1, .max_price = 20000000};
    snprintf(u.name, sizeof u.name, "%s", c->underlying);
    char tick[32];
    snprintf(tick, sizeof tick, "%.10g", c->tick);
    ch_err err = ch_tick_parse(tick, strlen(tick), &u);
    if (err == CH_OK)
        err = ch_engine_add_underlying(r->e, &u, &r->und);
    if (err != CH_OK)
        return fail(msg, cap, "underlying", err);
    r->u = ch_instruments_underlying(ch_engine_instruments(r->e), r->und);
    return true;
}

/* The engine the lanes share, their underlyings, the traders and the LPs. */
static bool setup(lanes *L, const sim_run_config *rc, const sim_run_opts *opts, char *msg,
                  size_t cap)
{
    const sim_config *c = L->r[0].c;
    ch_engine_config ec;
    ch_engine_defaults(&ec);
    ec.max_instruments = (uint32_t)L->n * 2 * SIM_STRIKES_MAX * SIM_LIVE_MAX;
    ec.max_underlyings = (uint32_t)L->n;
    ec.max_orders = 1u << 16;
    ec.max_accounts = c->flow.traders + 5 + rc->tranches; /* + the options venue */
    ec.max_positions = (uint32_t)L->n << 18;
    bool amm = opts->amm_qty != NULL;
    ec.netting = rc->internal && rc->netting && !amm;
    ec.netting_fee_ticks = c->netting_fee_ticks;
    ec.taker_fee_bps = c->taker_fee_bps;
    ec.risk_aware = rc->risk_aware;
    ec.forward_funding = rc->forward_funding;
    ec.hedge_fee_bps = c->venue.taker_fee_bps;
    ec.hedge_impact_bps = c->hedge_impact_bps;
    ec.house_delta_limit = c->house_delta_limit;
    ec.funding_half_life_h = c->funding_half_life_h;
    ec.pool = c->pool;
    ec.pool.enabled = true;
    ec.pool.no_limits = amm;
    if (!rc->dynamic_pricing)
        ec.pool.pv_t = ec.pool.pg_t = ec.pool.pv_k = ec.pool.pg_k = 0;
    L->e = ch_engine_create(&ec);
    L->traders = calloc(c->flow.traders, sizeof *L->traders);
    if (L->e == NULL || L->traders == NULL) {
        snprintf(msg, cap, "out of memory");
        return false;
    }
    ch_engine_set_sink(L->e, on_event, L);
    ch_err err = ch_engine_advance(L->e, L->r[0].m->s[0].t);
    if (err != CH_OK)
        return fail(msg, cap, "clock", err);
    for (size_t i = 0; i < L->n; i++) {
        L->r[i].e = L->e;
        L->r[i].traders = L->traders;
        if (!setup_lane(&L->r[i], msg, cap))
            return false;
    }
    for (uint32_t t = 0; t < c->flow.traders; t++) {
        char name[CH_ACCOUNT_NAME_MAX];
        snprintf(name, sizeof name, "trader%u", t);
        err = ch_engine_account_open(L->e, name, INT64_C(10000000000) * CH_CASH_SCALE,
                                     CH_STP_CANCEL_INCOMING, &L->traders[t]);
        if (err != CH_OK)
            return fail(msg, cap, "opening a trader's account", err);
    }
    ch_account_id lp;
    int64_t capital = (int64_t)llround(c->pool_capital) * CH_CASH_SCALE;
    err = ch_engine_account_open(L->e, "lp", capital, CH_STP_CANCEL_INCOMING, &lp);
    if (err != CH_OK)
        return fail(msg, cap, "funding the pool", err);
    return sim_lp_setup(L->e, rc, capital, L->r[0].m->s[0].spot, lp, L->r[0].out, msg, cap);
}

static void teardown(lanes *L)
{
    for (size_t i = 0; i < L->n; i++) {
        run *r = &L->r[i];
        ch_hedger_destroy(r->h);
        free(r->chain);
        free(r->rest);
        free(r->held);
        free(r->mk_exp);
        free(r->mk_strike);
        free(r->mk_vol);
    }
    ch_engine_destroy(L->e);
    free(L->traders);
}

/* Cancel resting orders past their deadline (they may have filled meanwhile). */
static void expire_orders(run *r, ch_time now)
{
    size_t w = 0;
    for (size_t i = 0; i < r->n_rest; i++) {
        if (r->rest[i].deadline <= now) {
            int64_t cancelled;
            ch_engine_cancel(r->e, r->rest[i].account, r->rest[i].id, &cancelled);
        } else {
            r->rest[w++] = r->rest[i];
        }
    }
    r->n_rest = w;
}

static bool submit(run *r, const sim_run_config *rc, const sim_order *o, size_t k, sim_result *out,
                   char *msg, size_t cap)
{
    const sim_config *c = r->c;
    ch_symbol sym;
    ch_instr_id id;
    if (!sim_order_check(c, o, &sym, msg, cap))
        return false;
    out->orders++;
    if (sym.expiry <= r->m->s[k].t) {
        out->rejected++; /* a replayed order for an expired series */
        return true;
    }
    ch_err err = ch_instruments_lookup(ch_engine_instruments(r->e), o->symbol, strlen(o->symbol),
                                       r->m->s[k].t, &id);
    if (err == CH_EUNKNOWN_SYMBOL) {
        /* a replayed series the listing rule did not list: list it, and mark its expiry */
        bool added;
        if (!sim_chain_ensure(r->chain, sym.expiry, &added, msg, cap) ||
            (added && !market(r, k, msg, cap)))
            return false;
        err = ch_engine_list(r->e, o->symbol, strlen(o->symbol), &id);
    }
    if (err != CH_OK) {
        snprintf(msg, cap, "flow: %s: %s", o->symbol, ch_strerror(err));
        return false;
    }
    ch_engine_order eo = {
        .account = r->traders[o->trader], .instr = id, .side = o->side, .qty = o->qty};
    if (o->limit) {
        double vol = sim_vol(r->m, k, (double)sym.strike, sym.expiry);
        vol += o->side == CH_BUY ? o->vol_offset : -o->vol_offset;
        double px =
            ch_bs_price(sym.kind == CH_CALL ? CH_OPT_CALL : CH_OPT_PUT, r->spot, (double)sym.strike,
                        ch_years(r->m->s[k].t, sym.expiry), r->m->rate, 0, fmax(vol, 0.01));
        /* to the nearest tick: both halves of an offsetting pair get the same price */
        double ticks = px / ch_price_to_double(r->u, 1);
        eo.price = isfinite(ticks) && ticks >= 1 ? (int64_t)llround(ticks) : 1;
        eo.type = CH_ORD_LIMIT;
        eo.tif = rc->internal ? CH_TIF_GTC : CH_TIF_IOC; /* without netting nothing rests */
    } else {
        eo.type = CH_ORD_MARKET;
    }
    if (r->opts->amm_qty != NULL) {
        /* the AMM takes what the clearinghouse filled of this order, now, at its quote */
        eo.qty = r->opts->amm_qty[r->cur_order];
        eo.type = CH_ORD_MARKET;
        eo.price = 0;
        if (eo.qty == 0)
            return true;
    }
    ch_engine_result res;
    err = ch_engine_submit(r->e, &eo, &res);
    if (err != CH_OK || res.filled == 0)
        out->rejected += err != CH_OK;
    if (err == CH_OK && res.remaining > 0 && eo.type == CH_ORD_LIMIT) {
        if (!kit_reserve(&r->rest, &r->cap_rest, r->n_rest, sizeof *r->rest, 256)) {
            snprintf(msg, cap, "out of memory");
            return false;
        }
        r->rest[r->n_rest++] =
            (resting){res.id, eo.account,
                      r->m->s[k].t + (ch_time)llround(c->flow.order_ttl_hours * (double)SIM_HOUR),
                      r->cur_order};
    }
    return true;
}

/*
 * Attribution of the move from step k-1 to k for what was held after k-1, by
 * revaluation along vol, then time, then spot (each position at the model
 * the engine marks with):
 *   vega  = V(S0, sigma1, t0) - V(S0, sigma0, t0)
 *   theta = V(S0, sigma1, t1) - V(S0, sigma1, t0)   (to expiry if it expired: intrinsic)
 *   delta = delta0 x dS (options) + perp position x dS
 *   gamma = V(S1, sigma1, t1) - V(S0, sigma1, t1) - delta0 x dS (gamma and higher orders in S)
 * so the option terms add up to the change of value; "other" keeps only what
 * the engine's marks differ from this (interpolation, settlement rounding).
 */
static void attribute(const run *r, size_t k, double hedge_pos, double *pnl, double *explained)
{
    const sim_step *a = &r->m->s[k - 1], *b = &r->m->s[k];
    double s0 = a->spot, s1 = b->spot, ds = s1 - s0, rate = r->m->rate;
    double d = 0, g = 0, v = 0, th = 0;
    for (size_t i = 0; i < r->n_held; i++) {
        const held *p = &r->held[i];
        double t0 = ch_years(a->t, p->expiry), t1 = fmax(ch_years(b->t, p->expiry), 0);
        double v0 = sim_vol(r->m, k - 1, p->strike, p->expiry);
        double v1 = t1 > 0 ? sim_vol(r->m, k, p->strike, p->expiry) : v0;
        double pa = ch_bs_price(p->type, s0, p->strike, t0, rate, 0, v0);
        double pb = ch_bs_price(p->type, s0, p->strike, t0, rate, 0, v1);
        double pc = ch_bs_price(p->type, s0, p->strike, t1, rate, 0, v1);
        double pd = ch_bs_price(p->type, s1, p->strike, t1, rate, 0, v1);
        v += p->qty * (pb - pa);
        th += p->qty * (pc - pb);
        d += p->delta * ds;
        g += p->qty * (pd - pc) - p->delta * ds;
    }
    pnl[SIM_PNL_DELTA] += d + hedge_pos * ds;
    pnl[SIM_PNL_GAMMA] += g;
    pnl[SIM_PNL_VEGA] += v;
    pnl[SIM_PNL_THETA] += th;
    *explained = d + g + v + th + hedge_pos * ds;
}

static void point(const run *r, size_t k, double pnl, sim_point *p)
{
    const sim_step *s = &r->m->s[k];
    double g = 0, v = 0, contracts = 0;
    for (size_t i = 0; i < r->n_held; i++) {
        g += r->held[i].gamma;
        v += r->held[i].vega;
        contracts += fabs(r->held[i].qty);
    }
    const ch_hedge_book *b = ch_hedger_book(r->h);
    *p = (sim_point){.t = s->t,
                     .spot = s->spot,
                     .atm_vol = sim_surface_vol(&r->m->surf, 30.0 / 365, 0) * s->level,
                     .option_delta = ch_engine_net_delta(r->e, r->und),
                     .hedge_position = b->position,
                     .gamma = g,
                     .vega = v,
                     .pnl = pnl,
                     .hedge_cost = b->fees + b->slippage - b->funding,
                     .pool_contracts = contracts};
}

/* The vega policy: option orders at the simulated options venue, booked in
 * the engine as chd books them (OPTION_HEDGE); their fees and their spread
 * against the mark go to the attribution's fees and slippage. */
static bool vega_step(run *r, sim_result *out, char *msg, size_t cap)
{
    ch_vega_order o[2];
    size_t n = ch_engine_vega_orders(r->e, r->und, &r->rc->vega, o);
    double tv = ch_price_to_double(r->u, 1);
    for (size_t i = 0; i < n; i++) {
        double px, fee;
        ch_err err = ch_option_execute(&r->option_venue, o[i].mark, o[i].vega, o[i].index,
                                       o[i].contract_size, (double)o[i].qty, &px, &fee);
        /* on the tick, rounded in the venue's favour */
        int64_t ticks = (int64_t)(o[i].qty > 0 ? ceil(px / tv - 1e-9) : floor(px / tv + 1e-9));
        if (ticks < r->u->min_price)
            ticks = r->u->min_price;
        if (err == CH_OK)
            err = ch_engine_option_hedge_fill(r->e, o[i].instr, o[i].qty, ticks,
                                              (int64_t)llround(fee * CH_CASH_SCALE));
        if (err != CH_OK)
            return fail(msg, cap, "vega hedge", err);
        double paid = (double)ticks * tv, spread = fabs(paid - o[i].mark) * fabs((double)o[i].qty);
        out->vega_orders++;
        out->vega_contracts += o[i].qty > 0 ? o[i].qty : -o[i].qty;
        out->vega_fees += fee;
        out->vega_spread_cost += spread;
        out->vega_premium += (double)o[i].qty * paid;
        out->pnl[SIM_PNL_FEES] -= fee;
        out->pnl[SIM_PNL_SLIPPAGE] -= spread;
        out->pnl[SIM_PNL_SPREAD] += fee + spread; /* the equity's change holds them */
    }
    return true;
}

/* ---- the backend of sim_drive.c ------------------------------------------ */

/* One series, listed in the engine (already listed: fine). */
static bool be_list(void *b, const ch_symbol *sym, char *msg, size_t cap)
{
    run *r = b;
    char name[CH_SYMBOL_MAX];
    ch_symbol_format(sym, name, sizeof name);
    ch_instr_id id;
    ch_err err = ch_engine_list(r->e, name, strlen(name), &id);
    return err == CH_OK || err == CH_EEXISTS || fail(msg, cap, name, err);
}

static bool be_market(void *b, size_t k, char *msg, size_t cap)
{
    run *r = b;
    r->hedge_pos = ch_hedger_book(r->h)->position; /* held through the move */
    return market(r, k, msg, cap);
}

/* Before trading: the move since the last step, attributed. */
static bool be_open(void *b, size_t k, sim_result *out, char *msg, size_t cap)
{
    (void)msg;
    (void)cap;
    run *r = b;
    const ch_hedge_book *hb = ch_hedger_book(r->h);
    r->e_pre = equity(r);
    r->h_pre = hedge_value(r);
    if (k == 0) {
        r->e0 = r->e_pre;
        r->h0 = r->h_pre;
    } else {
        double explained;
        attribute(r, k, r->hedge_pos, out->pnl, &explained);
        out->pnl[SIM_PNL_FUNDING] += hb->funding - r->fund_prev;
        out->pnl[SIM_PNL_OTHER] += (r->e_pre - r->e_prev) + (r->h_pre - r->h_prev) - explained -
                                   (hb->funding - r->fund_prev);
    }
    r->fees0 = hb->fees;
    r->slip0 = hb->slippage;
    r->k = k;
    if (r->opts->model != NULL)
        sim_model_settle(r->opts->model, k);
    return true;
}

static bool be_expire(void *b, ch_time now, char *msg, size_t cap)
{
    (void)msg;
    (void)cap;
    expire_orders(b, now);
    return true;
}

static bool be_orders(void *b, size_t first, size_t n, size_t k, sim_result *out, char *msg,
                      size_t cap)
{
    run *r = b;
    sim_model *md = r->opts->model;
    bool ok = true;
    for (size_t i = first; ok && i < first + n; i++) {
        r->cur_order = (uint32_t)i;
        if (md != NULL)
            md->ordered += (double)r->f->o[i].qty;
        ok = submit(r, r->rc, &r->f->o[i], k, out, msg, cap);
    }
    if (ok && (r->failed || (md != NULL && md->oom))) {
        snprintf(msg, cap, "out of memory recording fills");
        ok = false;
    }
    return ok;
}

/* After trading: the policy hedges, the step's PnL and point are recorded. */
static bool be_close(void *b, size_t k, sim_result *out, char *msg, size_t cap)
{
    run *r = b;
    const sim_market *m = r->m;
    sim_model *md = r->opts->model;
    /* vega first: the delta hedge then covers the options' delta too */
    if (r->rc->vega.mode != CH_VEGA_OFF && !vega_step(r, out, msg, cap))
        return false;
    ch_hedge_inputs in = {.now = m->s[k].t,
                          .net_delta = ch_engine_net_delta(r->e, r->und),
                          .spot = r->spot,
                          .rate = m->rate};
    if (!snapshot(r)) {
        snprintf(msg, cap, "out of memory");
        return false;
    }
    /* Whalley-Wilmott's horizon: the gamma-weighted mean time to expiry */
    double g_abs = 0, g_tau = 0;
    for (size_t i = 0; i < r->n_held; i++) {
        in.gamma += r->held[i].gamma;
        g_abs += fabs(r->held[i].gamma);
        g_tau += fabs(r->held[i].gamma) * fmax(ch_years(m->s[k].t, r->held[i].expiry), 0);
    }
    in.tau = g_abs > 0 ? g_tau / g_abs : 30.0 / 365;
    in.vol = sim_surface_vol(&m->surf, 30.0 / 365, 0) * m->s[k].level;
    ch_err err = ch_hedger_on_batch(r->h, &in, r->perp, NULL);
    if (err != CH_OK)
        return fail(msg, cap, "hedge policy", err);
    /* the hedge's fills enter the engine, as chd logs them: the house's
     * delta that risk-aware netting and the pool's quote see, and the
     * hedge book in the LPs' NAV */
    ch_hedge_report rep[8];
    size_t n_rep;
    while ((n_rep = ch_hedger_take_reports(r->h, rep, 8)) > 0)
        for (size_t i = 0; i < n_rep; i++) {
            ch_hedger_settle(r->h, &rep[i]);
            if (rep[i].filled && (err = ch_engine_hedge_fill(r->e, r->und, &rep[i].exec)) != CH_OK)
                return fail(msg, cap, "booking the hedge", err);
        }
    if (md != NULL)
        sim_model_close_step(md, k);
    const ch_hedge_book *hb = ch_hedger_book(r->h);
    r->e_prev = equity(r);
    r->h_prev = hedge_value(r);
    r->fund_prev = hb->funding;
    /* the trading phase: edge against the mark, and the hedge's costs */
    out->pnl[SIM_PNL_SPREAD] += r->e_prev - r->e_pre;
    out->pnl[SIM_PNL_FEES] -= hb->fees - r->fees0;
    out->pnl[SIM_PNL_SLIPPAGE] -= hb->slippage - r->slip0;
    out->pnl[SIM_PNL_OTHER] +=
        (r->h_prev - r->h_pre) + (hb->fees - r->fees0) + (hb->slippage - r->slip0);
    double pnl = (r->e_prev - r->e0) + (r->h_prev - r->h0);
    r->peak = fmax(r->peak, pnl);
    out->max_drawdown = fmax(out->max_drawdown, r->peak - pnl);
    point(r, k, pnl, &out->points[k]);
    out->n_points = k + 1;
    out->vega_abs_max = fmax(out->vega_abs_max, fabs(out->points[k].vega));
    sim_lp_step(r->e, out);
    return true;
}

/* ---- the lanes' loop ------------------------------------------------------ */

/* The value of a lane's house and pool positions at the engine's marks. */
typedef struct lane_sum {
    const run *r;
    double v;
} lane_sum;

static void add_value(void *ctx, const ch_position_info *p)
{
    lane_sum *s = ctx;
    const ch_instrument *in = ch_instruments_get(ch_engine_instruments(s->r->e), p->instr);
    if (in->underlying == s->r->und)
        s->v += (double)p->qty * p->mark;
}

static double lane_value(const run *r)
{
    lane_sum s = {r, 0};
    ch_engine_positions(r->e, (ch_account_id){CH_ACCOUNT_HOUSE}, add_value, &s);
    ch_engine_positions(r->e, (ch_account_id){CH_ACCOUNT_POOL}, add_value, &s);
    return s.v;
}

/*
 * Every lane's market data for step k. One lane: its update. Several: the
 * other lanes' index first (so what expires settles at this step's prices
 * when the first lane's update moves the clock), then each lane's update;
 * the equity this moved is split by lane (its positions' change of value
 * and its settlements), the rest of the move being foreign to it.
 */
static bool market_phase(lanes *L, size_t k, char *msg, size_t cap)
{
    if (L->n == 1)
        return be_market(&L->r[0], k, msg, cap);
    double e0 = sim_lp_equity(L->e), v0[SIM_LANES_MAX];
    for (size_t i = 0; i < L->n; i++) {
        v0[i] = lane_value(&L->r[i]);
        L->r[i].settled = 0;
    }
    for (size_t i = 1; i < L->n; i++) {
        run *r = &L->r[i];
        double tick = ch_price_to_double(r->u, 1);
        ch_market_update mu = {.underlying = r->und,
                               .index = fmax(round(r->m->s[k].spot / tick) * tick, tick),
                               .rate = NAN,
                               .funding_rate = NAN,
                               .perp = NAN};
        ch_err err = ch_engine_market(L->e, &mu);
        if (err != CH_OK)
            return fail(msg, cap, "market update", err);
    }
    for (size_t i = 0; i < L->n; i++)
        if (!be_market(&L->r[i], k, msg, cap))
            return false;
    double moved = sim_lp_equity(L->e) - e0, own = 0;
    for (size_t i = 0; i < L->n; i++) {
        run *r = &L->r[i];
        double mine = lane_value(r) - v0[i] + r->settled;
        r->foreign += moved - mine;
        own += mine;
    }
    L->unsplit += moved - own;
    return true;
}

/* Step k of every lane: listing, the market phase, then each lane's trading
 * and hedging in turn, what it moves being foreign to the others. */
static bool drive_step(lanes *L, size_t k, const sim_backend *be, char *msg, size_t cap)
{
    for (size_t i = 0; i < L->n; i++)
        if (!sim_drive_list(L->r[i].c, L->r[i].m, k, L->r[i].chain, &be[i], msg, cap))
            return false;
    if (!market_phase(L, k, msg, cap))
        return false;
    for (size_t i = 0; i < L->n; i++) {
        run *r = &L->r[i];
        double e0 = sim_lp_equity(L->e);
        ch_time now = r->m->s[k].t;
        size_t n = sim_drive_due(r->f, r->next, now);
        if (!be_open(r, k, r->out, msg, cap) || !be_expire(r, now, msg, cap) ||
            !be_orders(r, r->next, n, k, r->out, msg, cap) || !be_close(r, k, r->out, msg, cap))
            return false;
        r->next += n;
        double moved = sim_lp_equity(L->e) - e0;
        for (size_t j = 0; j < L->n; j++)
            if (j != i)
                L->r[j].foreign += moved;
    }
    return true;
}

/* A lane's totals after the last step. */
static void finish_lane(const run *r, sim_result *out)
{
    ch_netting n;
    ch_engine_netting_of(r->e, r->und, &n);
    const ch_hedge_book *hb = ch_hedger_book(r->h);
    for (int s = 0; s < 3; s++) {
        out->fills[s] = n.fills[s];
        out->lots[s] = n.lots[s];
    }
    int64_t lots = n.lots[0] + n.lots[1] + n.lots[2];
    out->internal_share = lots > 0 ? (double)(n.lots[0] + n.lots[1]) / (double)lots : 0;
    out->gross_delta = n.gross_delta;
    out->notional = n.notional;
    out->hedge_volume = hb->volume;
    out->hedge_orders = hb->orders;
    out->hedge_fees = hb->fees;
    out->hedge_slippage = hb->slippage;
    out->hedge_funding = hb->funding;
    out->tbt_cost = r->tbt.fees + r->tbt.slippage;
    out->netting_ratio = ch_netting_ratio(hb->volume, n.dealer_delta);
    out->taker_fees = r->taker_fees;
    const sim_point *last = &out->points[out->n_points - 1];
    out->pool_pnl = last->pnl;
    out->final_delta = last->option_delta;
    out->final_gamma = last->gamma;
    out->final_vega = last->vega;
}

static bool run_lanes(const sim_lane_input *in, size_t n, const sim_run_opts *opts, sim_result *out,
                      sim_progress_fn progress, void *pctx, char *msg, size_t cap)
{
    static const sim_run_opts none = {0};
    lanes L = {.n = n};
    opts = opts != NULL ? opts : &none;
    bool ok = true;
    sim_backend be[SIM_LANES_MAX];
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        if (n > 1) /* one result per underlying */
            snprintf(out[i].name, sizeof out[i].name, "%.*s [%s]",
                     (int)(SIM_NAME_MAX - 4 - strlen(in[i].c->underlying)), in[i].rc->name,
                     in[i].c->underlying);
        else
            snprintf(out[i].name, sizeof out[i].name, "%s", in[i].rc->name);
        snprintf(out[i].underlying, sizeof out[i].underlying, "%s", in[i].c->underlying);
        out[i].run = *in[i].rc;
        out[i].points = calloc(in[i].m->n, sizeof *out[i].points);
        ok = ok && out[i].points != NULL;
        run *r = &L.r[i];
        *r = (run){.c = in[i].c,
                   .m = in[i].m,
                   .f = in[i].f,
                   .opts = opts,
                   .out = &out[i],
                   .all = &L,
                   .rc = in[i].rc};
        ch_option_venue_defaults(&r->option_venue);
        be[i] = (sim_backend){.b = r, .list = be_list};
    }
    if (!ok)
        snprintf(msg, cap, "out of memory");
    sim_model *md = opts->model;
    ok = ok && setup(&L, in[0].rc, opts, msg, cap);
    if (ok && md != NULL)
        md->h = L.r[0].h;
    const sim_market *m = in[0].m;
    for (size_t k = 0; ok && k < m->n; k++) {
        ok = drive_step(&L, k, be, msg, cap);
        if (ok && progress != NULL)
            progress(pctx, k + 1, m->n);
    }
    for (size_t i = 0; ok && i < n; i++)
        ok = sim_drive_end(in[i].f, L.r[i].next, msg, cap);
    if (ok && ch_engine_check(L.e) != CH_OK) {
        snprintf(msg, cap, "engine invariant check failed");
        ok = false;
    }
    /* the lanes' PnL adds up to the house and pool's: every market move was
     * split (to a cent over the run; float sums of USD amounts) */
    if (ok && !(fabs(L.unsplit) < 0.01)) {
        snprintf(msg, cap, "the underlyings' PnL split missed %.6f USD", L.unsplit);
        ok = false;
    }
    if (ok) {
        for (size_t i = 0; i < n; i++)
            finish_lane(&L.r[i], &out[i]);
        sim_lp_finish(L.e, &out[0]);
        if (md != NULL)
            sim_model_finish(md, in[0].c->pool_capital);
    }
    if (md != NULL)
        md->h = NULL; /* the hedger goes with the run */
    teardown(&L);
    for (size_t i = 0; !ok && i < n; i++)
        sim_result_free(&out[i]);
    return ok;
}

bool sim_run(const sim_config *c, const sim_run_config *rc, const sim_market *m, const sim_flow *f,
             const sim_run_opts *opts, sim_result *out, sim_progress_fn progress, void *pctx,
             char *msg, size_t cap)
{
    sim_lane_input in = {c, rc, m, f};
    return run_lanes(&in, 1, opts, out, progress, pctx, msg, cap);
}

bool sim_run_lanes(const sim_lane_input *in, size_t n, sim_result *out, sim_progress_fn progress,
                   void *pctx, char *msg, size_t cap)
{
    if (n == 0 || n > SIM_LANES_MAX) {
        snprintf(msg, cap, "1 to %d underlyings", SIM_LANES_MAX);
        return false;
    }
    for (size_t i = 1; i < n; i++)
        if (in[i].m->n != in[0].m->n) {
            snprintf(msg, cap, "the underlyings' markets have different steps");
            return false;
        }
    for (size_t i = 0; n > 1 && i < n; i++)
        if (in[i].rc->tranches > 0) {
            snprintf(msg, cap, "strike tranches are for one underlying");
            return false;
        }
    return run_lanes(in, n, NULL, out, progress, pctx, msg, cap);
}

void sim_result_free(sim_result *r)
{
    free(r->points);
    r->points = NULL;
    r->n_points = 0;
}
