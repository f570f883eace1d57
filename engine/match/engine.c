/*
 * engine.c - the clearinghouse core's order path: three liquidity sources,
 * clearing, margin holds (contract in ch/engine.h; position records in
 * positions.c, the pool in pool.c, netting in netting.c, margin vectors in
 * margin.c, market data and settlement in market.c, accounts and NAV in
 * accounts.c, reports in reports.c).
 *
 * Structure:
 *  - The book keeps every rule of direct matching (FIFO, STP, capacity). An
 *    order that no source crosses rests with one ch_book_submit. Otherwise it
 *    is opened in its book (ch_book_open_order), then the engine repeatedly
 *    compares the best price of the three sources and takes from the best:
 *    the book through ch_book_match_open, the sibling's book through
 *    ch_book_take (the resting order trades at its own price), the pool at
 *    its quote; external fills are recorded with ch_book_fill_open; finally
 *    ch_book_close_order rests or cancels the remainder.
 *  - Book fills reach the engine through the book's event callback; the
 *    engine knows which source it is taking from (ctx_source) and clears
 *    each fill: cash, positions, reservations, margin vectors, inventories,
 *    netting counters. So a fill is cleared exactly once, where it happens.
 *  - Everything a pre-trade check or a pool quote needs is cached per series
 *    and recomputed on market data only: unit Greeks and mark, the scenario
 *    PnL vector of one contract, the parity forward term D(F - K) in ticks.
 *    The per-order path does arithmetic on those caches and never prices an
 *    option. One margin vector per account (27 doubles: positions, and
 *    resting sells as if filled) and its worst loss are updated together;
 *    for an account far from its limit, resting sells are held in one
 *    integer bound instead (pend), and go into the vector only when a check
 *    needs the exact figure (see chi_materialize).
 *    The pool's 1-lot quotes are cached per series and side; between pool
 *    fills they are bounded (pool_quote1), so most resting orders need none.
 *  - Memory is the cost of the order path: hot fields of a series and an
 *    account share cache lines, scenario vectors start on a line, submit and
 *    cancel prefetch what they will touch, and position records are made on
 *    an order's first fill rather than when it is accepted.
 *  - Rejects are decided before anything changes: account, series, price
 *    band, funds, margin, post-only, FOK (book + parity + pool fillable
 *    together), position capacity (house and pool records exist from
 *    listing; every live order without a record keeps room for one), so a
 *    fill never fails to find its record.
 *  - CH_ENGINE_SELF_CHECK builds (test_engine_selfcheck) compare every such
 *    shortcut with the exact computation it replaces.
 *
 * Invariants (ch_engine_check): positions sum to zero per instrument; cash
 * sums to what came in from outside; reservations equal resting buy orders;
 * pool shares add up; inventories mirror the pool and house positions; the
 * count of orders without a record matches the book; every margin vector
 * and pend match the positions and resting sells they stand for.
 */
#include "engine_int.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef CH_ENGINE_SELF_CHECK
unsigned long ch_engine_self_checks;
unsigned long ch_engine_exact_walks;
unsigned long ch_engine_exact_free;
#endif

/* The record of the order in progress (submit or replace). */
static uint32_t taker_rec(ch_engine *e)
{
    if (e->cur_taker_k == NIL)
        e->cur_taker_k = chi_order_rec(e, e->cur_taker, e->cur_instr, e->cur_order, NIL);
    return e->cur_taker_k;
}

/* ---- clearing -------------------------------------------------------------- */

/* Every line of a scenario vector (they start on a line). */
static void prefetch_vec(const ch_engine *e, const double *v)
{
    for (size_t i = 0; i < e->nscen; i += CH_LINE / sizeof(double))
        PREFETCH(v + i);
}

/*
 * Margin across underlyings: an account has one scenario block per
 * underlying (a series' scenarios move its own underlying only), and its
 * margin is the sum of the blocks' worst losses: no offset between
 * underlyings (DESIGN section 6). W = a->M + worst_off holds each block's
 * worst loss; worst is their sum, always added in underlying order, so that
 * a recomputation gives the same bits.
 */
double chi_worst_sum(const ch_engine *e, const double *W, uint32_t u, double wu)
{
    double sum = 0.0;
    for (uint32_t k = 0; k < e->n_und; k++)
        sum += k == u ? wu : W[k];
    return sum;
}

/* M += k x in s's block, and the account's worst scenario loss after it. */
void chi_margin_add(const ch_engine *e, account *a, double k, const series *s)
{
    double *M = a->M + (size_t)s->und * e->scen_stride;
    const double *x = s->scen;
#ifdef CH_ENGINE_SELF_CHECK
    /* the chosen kernel gives the scalar loop's bits */
    double ref[256], ref_low = 0.0;
    bool cmp = e->nscen <= 256;
    if (cmp) {
        memcpy(ref, M, e->nscen * sizeof(double));
        ref_low = chi_axpy_min_scalar(ref, k, x, e->nscen);
    }
#endif
    double low = e->axpy_min(M, k, x, e->axpy_n);
#ifdef CH_ENGINE_SELF_CHECK
    if (cmp)
        SELF_CHECK(memcmp(ref, M, e->nscen * sizeof(double)) == 0 &&
                       (ref_low < 0 ? -ref_low : 0.0) == (low < 0 ? -low : 0.0),
                   "margin kernel");
#endif
    double *W = a->M + e->worst_off;
    W[s->und] = low < 0 ? -low : 0.0;
    a->worst = chi_worst_sum(e, W, UINT32_MAX, 0.0);
}

/*
 * Resting sells and the margin vector. An account far from its margin limit
 * is not exact: its vector holds positions only, and pend, in whole cash
 * units, adds up lots x up_cash of its resting sells, so that adding or
 * cancelling a resting sell moves one integer instead of the vector (and a
 * cancel reads neither the vector nor the series). worst + pend is an upper
 * bound of the exact margin, M's worst loss with the sells as if filled
 * (each sell adds at most its lots x max(scen, 0) to any scenario's loss).
 * When that bound does not settle a check, the account becomes exact
 * (materialize: its sells from the books go into M, pend to 0), and stays so
 * until the next revaluation (chi_refresh_accounts) decides again. Answers are
 * those of the exact vector either way.
 */
typedef struct sells_ctx {
    const ch_engine *e;
    uint32_t acct;
    double *M;
} sells_ctx;

static void add_sell_of(void *ctx, const ch_order_info *o)
{
    sells_ctx *c = ctx;
    const series *s = &c->e->ser[o->instr.v];
    if (o->account.v == c->acct)
        (void)c->e->axpy_min(c->M + (size_t)s->und * c->e->scen_stride, -(double)o->remaining,
                             s->scen, c->e->axpy_n);
}

/* M += every resting sell of account acct as if filled: walks the sell side
 * of the books its sell_bits name. */
static void add_sells(const ch_engine *e, uint32_t acct, double *M)
{
    sells_ctx c = {e, acct, M};
    const uint64_t *bits = e->sell_bits + (size_t)acct * e->sell_words;
    for (size_t w = 0; w < e->sell_words; w++)
        for (uint64_t b = bits[w]; b != 0; b &= b - 1) {
            uint32_t i = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
            ch_book_foreach(e->book, (ch_instr_id){i}, CH_SELL, add_sell_of, &c);
        }
}

void chi_mark_sells(ch_engine *e, uint32_t acct, ch_instr_id id)
{
    e->sell_bits[(size_t)acct * e->sell_words + id.v / 64] |= UINT64_C(1) << (id.v % 64);
}

/* The worst loss of one block. */
double chi_block_worst(const ch_engine *e, const double *B)
{
    double low = 0.0;
    for (size_t i = 0; i < e->nscen; i++)
        if (B[i] < low)
            low = B[i];
    return low < 0 ? -low : 0.0;
}

/* The margin of a region's blocks: the sum of their worst losses. */
double chi_worst_of(const ch_engine *e, const double *M)
{
    double sum = 0.0;
    for (uint32_t u = 0; u < e->n_und; u++)
        sum += chi_block_worst(e, M + (size_t)u * e->scen_stride);
    return sum;
}

/* W and worst from the blocks as they are. */
void chi_margin_rescan(const ch_engine *e, account *a)
{
    double *W = a->M + e->worst_off;
    for (uint32_t u = 0; u < e->n_und; u++)
        W[u] = chi_block_worst(e, a->M + (size_t)u * e->scen_stride);
    a->worst = chi_worst_sum(e, W, UINT32_MAX, 0.0);
}

/* Account a becomes exact: its vector takes its resting sells, found in the
 * books (whatever pend says). */
static void become_exact(ch_engine *e, account *a)
{
#ifdef CH_ENGINE_SELF_CHECK
    ch_engine_exact_walks++;
#endif
    add_sells(e, (uint32_t)(a - e->acct), a->M);
    chi_margin_rescan(e, a);
    a->pend = 0;
    a->exact = true;
}

void chi_materialize(ch_engine *e, account *a)
{
    if (a->exact)
        return;
    if (a->pend == 0) {
        a->exact = true; /* no resting sells: M is exact as it is */
#ifdef CH_ENGINE_SELF_CHECK
        ch_engine_exact_free++;
#endif
    } else {
        become_exact(e, a);
    }
}

/* The engine's scratch region = account a's exact blocks, without changing
 * a: its vector plus, unless exact, its sells from the books. */
static double *exact_vector(const ch_engine *e, const account *a)
{
    double *M = e->mscratch;
    memcpy(M, a->M, (size_t)e->n_und * e->scen_stride * sizeof(double));
    if (!a->exact)
        add_sells(e, (uint32_t)(a - e->acct), M);
    return M;
}

/* The margin in use: the worst loss of positions and resting sells. */
double chi_exact_worst(const ch_engine *e, const account *a)
{
    if (a->exact || a->pend == 0)
        return a->worst;
    return chi_worst_of(e, exact_vector(e, a));
}

double chi_free_equity(const account *a)
{
    return (double)(a->cash - a->reserved) / CH_CASH_SCALE + a->mtm;
}

/* An upper bound of the exact margin, without reading the vector. */
double chi_margin_bound(const account *a)
{
    return a->worst + (double)a->pend / CH_CASH_SCALE;
}

/*
 * The inventory terms of the pool's skew for series id: the total term (all
 * of the underlying) and its (expiry, strike) bucket's. A quote's skew is
 * their sum plus the trade's own half-step (chi_pool_price).
 */
static void pool_skew_terms(const ch_engine *e, const und_state *u, ch_instr_id id, double *total,
                            double *bucket)
{
    const ch_pool_config *pc = &e->cfg.pool;
    ch_risk_totals tot, bk = {0};
    ch_inventory_totals(u->pool_inv, &tot);
    ch_inventory_series_bucket(u->pool_inv, id.v, &bk);
    double t = 0, b = 0;
    if (pc->max_vega_total > 0)
        t += pc->pv_t * tot.vega / pc->max_vega_total;
    if (pc->max_gamma_total > 0)
        t += pc->pg_t * tot.gamma / pc->max_gamma_total;
    if (pc->max_vega_strike > 0)
        b += pc->pv_k * bk.vega / pc->max_vega_strike;
    if (pc->max_gamma_strike > 0)
        b += pc->pg_k * bk.gamma / pc->max_gamma_strike;
    *total = t;
    *bucket = b;
}

/* Position, margin vector, mark value and inventory of one side of a trade;
 * `k` is acct's record for id. `held`: the margin vector already counts these
 * lots (a resting sell, held as if filled, that now fills). */
static void book_leg(ch_engine *e, uint32_t acct, uint32_t k, ch_instr_id id, int64_t q,
                     int64_t px_cash, bool held)
{
    series *s = &e->ser[id.v];
    chi_pos_apply(e, k, q, px_cash);
    account *a = &e->acct[acct];
    if (held && !a->exact) /* pend held the lots (q < 0): now they are a position */
        a->pend += q * e->hold[id.v].up_cash;
    if (!held || !a->exact)
        chi_margin_add(e, a, (double)q, s);
    a->mtm += (double)q * s->unit.price;
    und_state *u = &e->und[s->und];
    if (a->pool_side) {
        if (a->tranche != 0)
            chi_quotes_moved(e);  /* its utilisation prices the strikes it covers */
        e->pool_epoch++;          /* not base_mark: pool_drift bounds what a pool fill moves */
        chi_house_delta_moved(e); /* ... and each quote's span its delta term */
        double before = fabs((double)(e->pos[k].qty - q));
        double after = fabs((double)e->pos[k].qty);
        u->pool_abs_notional_units += (after - before) * s->rs.contract_size;
        double t0, b0, t1, b1;
        pool_skew_terms(e, u, id, &t0, &b0);
        ch_inventory_fill(u->pool_inv, id.v, (double)q);
        pool_skew_terms(e, u, id, &t1, &b1);
        /* every other series' skew moved by the total term only; this
         * bucket's by both */
        u->pool_drift += fabs(t1 - t0) + fabs(b1 - b0);
    } else if (acct == CH_ACCOUNT_HOUSE) {
        ch_inventory_fill(u->house_inv, id.v, (double)q);
        chi_house_delta_moved(e);
    }
}

/*
 * One trade of q lots of `id` at `price` ticks between buyer and seller
 * (records bk, sk); the taker (one of them) pays `fee`. Cash moves both ways
 * exactly. `seller_held`: the seller is a resting sell order, whose lots its
 * margin vector already holds as if filled; they stay there as its position.
 */
static void clear_trade(ch_engine *e, ch_instr_id id, uint32_t buyer, uint32_t bk, uint32_t seller,
                        uint32_t sk, int64_t price, int64_t q, uint32_t fee_payer, int64_t fee,
                        bool seller_held)
{
    /* a trade: lots > 0, two different records, a price in the band */
    assert(q > 0 && bk != sk && price > 0);
    int64_t px_cash = price * e->und[e->ser[id.v].und].tick_cash;
    int64_t amount = px_cash * q;
    e->acct[buyer].cash -= amount;
    e->acct[seller].cash += amount;
    if (fee > 0) {
        e->acct[fee_payer].cash -= fee;
        e->acct[CH_ACCOUNT_FEES].cash += fee;
    }
    book_leg(e, buyer, bk, id, q, px_cash, false);
    book_leg(e, seller, sk, id, -q, px_cash, seller_held);
}

void chi_clear_trade(ch_engine *e, ch_instr_id id, uint32_t buyer, uint32_t bk, uint32_t seller,
                     uint32_t sk, int64_t price, int64_t q, uint32_t fee_payer, int64_t fee,
                     bool seller_held)
{
    clear_trade(e, id, buyer, bk, seller, sk, price, q, fee_payer, fee, seller_held);
}

/* One fill's contribution to netting counters (the totals and its underlying's). */
static void count_into(ch_netting *n, double g, double v, double dx, double dealer, double notional,
                       ch_source src, int64_t q)
{
    n->gross_gamma += g;
    n->gross_vega += v;
    if (src != CH_SRC_POOL) {
        n->netted_gamma += g;
        n->netted_vega += v;
    }
    n->gross_delta += dx;
    n->dealer_delta += dealer;
    n->notional += notional;
    n->fills[src]++;
    n->lots[src] += q;
}

static void count_fill(ch_engine *e, ch_instr_id id, ch_source src, int64_t q)
{
    series *s = &e->ser[id.v];
    double g = fabs((double)q * s->unit.gamma), v = fabs((double)q * s->unit.vega);
    s->gross_g += g;
    s->gross_v += v;
    if (src == CH_SRC_POOL) {
        s->pool_g += g;
        s->pool_v += v;
    } else {
        s->netted_g += g;
        s->netted_v += v;
    }
    double dx = fabs((double)q * s->unit.delta);
    /* the dealer baseline: every customer's leg (book: both customers on x;
     * parity: the taker on x, the maker on the sibling; pool: the taker) */
    double dealer = src == CH_SRC_BOOK  ? 2 * dx
                    : src == CH_SRC_NET ? dx + fabs((double)q * e->ser[s->sibling.v].unit.delta)
                                        : dx;
    double notional = fabs((double)q) * s->rs.contract_size * e->und[s->und].m.spot;
    count_into(&e->net, g, v, dx, dealer, notional, src, q);
    count_into(&e->und[s->und].net, g, v, dx, dealer, notional, src, q);
}

static void report_fill(ch_engine *e, ch_fill *f)
{
    double d = (double)f->qty * e->ser[f->instr.v].unit.delta;
    f->delta = f->taker_side == CH_BUY ? d : -d;
    if (e->cur_res != NULL) {
        e->cur_res->by_source[f->source] += f->qty;
        e->cur_res->fills++;
    }
    if (e->fn != NULL) {
        ch_engine_event ev = {.type = CH_EE_FILL, .fill = *f};
        emit(e, &ev);
    }
}

/* Release what a resting order holds: buy reservation, sell pend or margin
 * vector. Reads the account and the series' hold_param, and, for a sell of
 * an exact account, the vectors. */
static void release_order(ch_engine *e, uint32_t acct, ch_instr_id id, ch_side side, int64_t price,
                          int64_t q)
{
    account *a = &e->acct[acct];
    const hold_param *h = &e->hold[id.v];
    if (side == CH_BUY)
        a->reserved -= reserve_per_lot_tc(e, h->tick_cash, price) * q;
    else if (!a->exact)
        a->pend -= q * h->up_cash;
    else
        chi_margin_add(e, a, (double)q, &e->ser[id.v]); /* a resting sell held -q x scen */
}

/* Hold what the order resting in its book now takes (the order is there). */
static void hold_order(ch_engine *e, uint32_t acct, ch_instr_id id, ch_side side, int64_t price,
                       int64_t q)
{
    account *a = &e->acct[acct];
    const hold_param *h = &e->hold[id.v];
    if (side == CH_BUY) {
        a->reserved += reserve_per_lot_tc(e, h->tick_cash, price) * q;
    } else if (!a->exact) {
        int64_t add, sum;
        chi_mark_sells(e, acct, id);
        if (h->up_cash != UP_HUGE && !__builtin_mul_overflow(q, h->up_cash, &add) &&
            !__builtin_add_overflow(a->pend, add, &sum))
            a->pend = sum;
        else
            become_exact(e, a); /* beyond an integer (the walk finds this order too) */
    } else {
        chi_margin_add(e, a, -(double)q, &e->ser[id.v]);
    }
}

/* Parity: the taker's price for a resting sibling order at `p` ticks. With
 * risk-aware netting the fill also pays (or, taking delta off the house, is
 * rebated) the marginal hedge cost per lot that chi_net_hedge_terms set for this
 * step; rounding is in the house's favour. */
static int64_t parity_price(const ch_engine *e, ch_instr_id x, ch_side taker_side, int64_t p)
{
    const series *s = &e->ser[x.v];
    /* C = P + D(F-K): a call taker gets P + fwd, a put taker C - fwd */
    double fwd = s->rs.type == CH_OPT_CALL ? s->fwd_ticks : -s->fwd_ticks;
    double extra = e->cfg.risk_aware ? e->net_cost_ticks : 0.0;
    if (taker_side == CH_BUY)
        return (int64_t)ceil((double)p + fwd + extra - 1e-9) + e->cfg.netting_fee_ticks;
    return (int64_t)floor((double)p + fwd - extra + 1e-9) - e->cfg.netting_fee_ticks;
}

/* The book's events: clear fills, release what resting orders held. */
void chi_on_book_event(void *ctx, const ch_event *ev)
{
    ch_engine *e = ctx;
    if (ev->type == CH_EV_CANCEL && ev->user == NIL)
        e->unrecorded--; /* left the book without ever trading (submit counted it) */
    if (ev->type == CH_EV_FILL) {
        ch_instr_id id = ev->instr;
        uint32_t maker = ev->maker_account.v;
        ch_side taker_side = ev->side;
        /* the misses a fill takes (the maker's account and the index
         * entries of both records, then the records) start together */
        PREFETCH(&e->acct[maker]);
        if (ev->maker_user == NIL)
            PREFETCH(&e->pos_index[(size_t)maker * e->cfg.max_instruments + id.v]);
        if (e->cur_taker_k == NIL)
            PREFETCH(&e->pos_index[(size_t)e->cur_taker * e->cfg.max_instruments + e->cur_instr.v]);
        /* the resting order traded: release what a buy held for those lots
         * (a sell's margin hold becomes its position's, see clear_trade) */
        if (taker_side == CH_SELL)
            release_order(e, maker, id, CH_BUY, ev->price, ev->qty);
        uint32_t mk = chi_order_rec(e, maker, id, ev->maker, ev->maker_user);
        PREFETCH(&e->pos[mk]);
        PREFETCH(&e->pos[taker_rec(e)]);
        if (e->ctx_source == CH_SRC_NET) {
            /* taker vs house on the taker's series, house vs maker on the sibling */
            ch_instr_id x = e->cur_instr;
            int64_t pe = parity_price(e, x, taker_side, ev->price);
            int64_t fee = taker_fee(e, x, pe, ev->qty);
            uint32_t t = e->cur_taker, tk = taker_rec(e);
            uint32_t hx = e->ser[x.v].house_k, hs = e->ser[id.v].house_k;
            if (taker_side == CH_BUY) {
                clear_trade(e, x, t, tk, CH_ACCOUNT_HOUSE, hx, pe, ev->qty, t, fee, false);
                /* the resting sibling order is a sell (an ask) */
                clear_trade(e, id, CH_ACCOUNT_HOUSE, hs, maker, mk, ev->price, ev->qty, maker, 0,
                            true);
            } else {
                clear_trade(e, x, CH_ACCOUNT_HOUSE, hx, t, tk, pe, ev->qty, t, fee, false);
                clear_trade(e, id, maker, mk, CH_ACCOUNT_HOUSE, hs, ev->price, ev->qty, maker, 0,
                            false);
            }
            count_fill(e, x, CH_SRC_NET, ev->qty);
            ch_fill f = {.trade_id = ++e->trades,
                         .source = CH_SRC_NET,
                         .instr = x,
                         .taker_side = taker_side,
                         .price = pe,
                         .qty = ev->qty,
                         .taker = {t},
                         .maker = {maker},
                         .taker_order = e->cur_order,
                         .maker_order = ev->maker,
                         .maker_instr = id,
                         .maker_price = ev->price,
                         .fee = fee};
            report_fill(e, &f);
        } else {
            uint32_t t = e->cur_taker, tk = taker_rec(e);
            int64_t fee = taker_fee(e, id, ev->price, ev->qty);
            if (taker_side == CH_BUY)
                clear_trade(e, id, t, tk, maker, mk, ev->price, ev->qty, t, fee, true);
            else
                clear_trade(e, id, maker, mk, t, tk, ev->price, ev->qty, t, fee, false);
            count_fill(e, id, CH_SRC_BOOK, ev->qty);
            ch_fill f = {.trade_id = ++e->trades,
                         .source = CH_SRC_BOOK,
                         .instr = id,
                         .taker_side = taker_side,
                         .price = ev->price,
                         .qty = ev->qty,
                         .taker = {t},
                         .maker = {maker},
                         .taker_order = ev->order,
                         .maker_order = ev->maker,
                         .maker_instr = id,
                         .maker_price = ev->price,
                         .fee = fee};
            report_fill(e, &f);
        }
    } else if (ev->type == CH_EV_CANCEL && ev->order.v != e->cur_order.v) {
        /* a resting order left the book (cancel, STP, expiry) */
        release_order(e, ev->account.v, ev->instr, ev->side, ev->price, ev->qty);
    }
    if (e->fn != NULL) {
        ch_engine_event out = {.type = CH_EE_ORDER, .book = ev};
        emit(e, &out);
    }
}

/* ---- orders ---------------------------------------------------------------- */

static bool margin_ok(ch_engine *e, account *a, const series *s, int64_t q)
{
    double eq = chi_free_equity(a);
    double bound = (chi_margin_bound(a) + (double)q * s->scen_up) * (1 + 1e-9);
    bool fast = bound <= eq;
#ifndef CH_ENGINE_SELF_CHECK
    if (fast)
        return true;
#endif
    double need = 0.0;
    if (fast && !a->exact) { /* self-check: the exact vector, left as it was */
        double *M = exact_vector(e, a);
        (void)e->axpy_min(M + (size_t)s->und * e->scen_stride, -(double)q, s->scen, e->axpy_n);
        need = chi_worst_of(e, M);
    } else {
        chi_materialize(e, a);
        const double *B = a->M + (size_t)s->und * e->scen_stride;
        double nu = 0.0; /* s's block after the sale; the others as they are */
        for (size_t i = 0; i < e->nscen; i++) {
            double v = B[i] - (double)q * s->scen[i];
            if (-v > nu)
                nu = -v;
        }
        need = chi_worst_sum(e, a->M + e->worst_off, s->und, nu);
    }
    bool ok = !(need > 0 && need > eq);
    if (fast)
        SELF_CHECK(ok, "margin bound");
    return ok;
}

static ch_err reject(ch_engine *e, ch_engine_result *res, ch_err why)
{
    if (res != NULL) {
        memset(res, 0, sizeof *res);
        res->status = CH_STATUS_REJECTED;
    }
    (void)e;
    return why;
}

/*
 * The pool's 1-lot price for the customer's side now, 0 if it does not quote.
 * Cached per series and side: exact while nothing moved pool quotes
 * (pool_epoch). After pool fills and moves of the house's delta only (no
 * base_mark since), the unrounded quote has moved by at most the
 * underlying's pool drift since, times ticks_per_skew, plus (risk-aware, if
 * the house's delta moved) the span of its delta term, which lies within
 * +/- one lot's full hedge cost (rounding to a tick and clamping to the band
 * are monotone); when even that cannot bring it to `limit`, the answer is 0
 * (it cannot fill this order) without requoting. Otherwise requote, exactly.
 */
static int64_t pool_quote1(ch_engine *e, ch_instr_id x, ch_side side, int64_t limit)
{
    series *s = &e->ser[x.v];
    const und_state *u = &e->und[s->und];
    if (s->quote_epoch[side] != e->pool_epoch) {
        if (e->base_mark <= s->quote_epoch[side] && s->quote_px[side] > 0) {
            /* a covering tranche's utilisation scales the skew's effect by up
             * to 1 + CH_TRANCHE_UTIL_PREMIUM (the utilisation itself only
             * changes with a tranche's fills, cash and marks: base_mark) */
            double scale = e->n_tranches > 0 ? 1 + CH_TRANCHE_UTIL_PREMIUM : 1;
            double moved =
                (u->pool_drift - s->quote_drift[side]) * s->ticks_per_skew * scale * (1 + 1e-6) +
                1e-6;
            if (e->house_mark > s->quote_epoch[side])
                moved += s->quote_span[side];
            double reach = side == CH_BUY ? ceil(s->quote_raw[side] - moved - 1e-9)
                                          : floor(s->quote_raw[side] + moved + 1e-9);
            if (side == CH_BUY ? reach > (double)limit : reach < (double)limit) {
#ifdef CH_ENGINE_SELF_CHECK
                pool_px p = chi_pool_price(e, x, side, 1);
                SELF_CHECK(!p.ok || !better(side, p.ticks, limit, false), "pool quote bound");
#endif
                return 0;
            }
        }
        pool_px p = chi_pool_price(e, x, side, 1);
        s->quote_px[side] = p.ok && chi_pool_allows(e, x, side, 1, p.ticks) ? p.ticks : 0;
        s->quote_raw[side] = p.raw;
        s->quote_epoch[side] = e->pool_epoch;
        s->quote_span[side] =
            e->cfg.risk_aware ? 2 * chi_delta_span(e, s) / tick_value(e, s->und) * (1 + 1e-6) + 1e-6
                              : 0.0;
        s->quote_drift[side] = u->pool_drift;
    }
#ifdef CH_ENGINE_SELF_CHECK
    {
        pool_px p = chi_pool_price(e, x, side, 1);
        int64_t fresh = p.ok && chi_pool_allows(e, x, side, 1, p.ticks) ? p.ticks : 0;
        SELF_CHECK(fresh == s->quote_px[side], "cached pool quote");
    }
#endif
    return s->quote_px[side];
}

/* Best source for the taker now. Returns -1 if none crosses the limit. */
typedef struct offer {
    int64_t price; /* taker's price */
    int64_t qty;   /* book/net: at that level */
    int64_t sib_price;
} offer;

static int best_source(ch_engine *e, ch_instr_id x, ch_side side, uint32_t taker, int64_t limit,
                       bool book_on, bool net_on, bool pool_on, offer o[3])
{
    ch_side opp = side == CH_BUY ? CH_SELL : CH_BUY;
    bool have[3] = {false, false, false};
    if (book_on && ch_book_best(e->book, x, opp, &o[0].price, &o[0].qty) == CH_OK &&
        better(side, o[0].price, limit, false))
        have[0] = true;
    const series *s = &e->ser[x.v];
    if (net_on && e->cfg.netting && s->sibling.v != CH_INSTR_NONE && s->marked) {
        /* opposite gamma sign: a buyer takes the sibling's asks, a seller its bids */
        int64_t p, q;
        if (ch_book_best_other(e->book, s->sibling, opp, (ch_account_id){taker}, &p, &q) == CH_OK &&
            (!e->cfg.risk_aware || chi_net_hedge_terms(e, x, side, &q))) {
            int64_t pe = parity_price(e, x, side, p);
            const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
            if (pe >= uc->min_price && pe <= uc->max_price && better(side, pe, limit, false)) {
                o[1].price = pe;
                o[1].qty = q;
                o[1].sib_price = p;
                have[1] = true;
            }
        }
    }
    if (pool_on) {
        int64_t qp = pool_quote1(e, x, side, limit);
        if (qp > 0 && better(side, qp, limit, false)) {
            o[2].price = qp;
            have[2] = true;
        }
    }
    int best = -1;
    for (int k = 0; k < 3; k++) {
        if (!have[k])
            continue;
        if (best < 0 || better(side, o[k].price, o[best].price, true))
            best = k;
    }
    return best;
}

/* The limit translated to the sibling's price scale, for fillable checks. */
static int64_t sibling_limit(const ch_engine *e, ch_instr_id x, ch_side side, int64_t limit)
{
    const series *s = &e->ser[x.v];
    double fwd = s->rs.type == CH_OPT_CALL ? s->fwd_ticks : -s->fwd_ticks;
    /* parity_price(p) <= limit (buy)  <=>  p <= limit - fee - fwd, rounded */
    if (side == CH_BUY)
        return (int64_t)floor((double)(limit - e->cfg.netting_fee_ticks) - fwd + 1e-9);
    return (int64_t)ceil((double)(limit + e->cfg.netting_fee_ticks) - fwd - 1e-9);
}

ch_err ch_engine_submit(ch_engine *e, const ch_engine_order *o, ch_engine_result *res)
{
    e->seq++;
    if (o->account.v < e->n_acct && o->instr.v < e->cfg.max_instruments) {
        PREFETCH(&e->acct[o->account.v]);
        PREFETCH(&e->ser[o->instr.v]);
        if (o->side == CH_SELL && e->acct[o->account.v].exact) { /* its check and hold read these */
            prefetch_vec(e,
                         e->acct[o->account.v].M + (size_t)e->ser[o->instr.v].und * e->scen_stride);
            prefetch_vec(e, e->ser[o->instr.v].scen);
        }
        ch_book_prefetch(e->book, o->instr);
        ch_book_prefetch(e->book, e->ser[o->instr.v].sibling); /* parity netting reads it */
        if (o->tif != CH_TIF_GTC) /* it means to trade: its record's index entry */
            PREFETCH(&e->pos_index[(size_t)o->account.v * e->cfg.max_instruments + o->instr.v]);
    }
    if (o->account.v >= e->n_acct || e->acct[o->account.v].internal)
        return reject(e, res, CH_EUNAUTHORIZED);
    if (o->instr.v >= e->cfg.max_instruments || !e->ser[o->instr.v].listed)
        return reject(e, res, CH_EUNKNOWN_SYMBOL);
    series *s = &e->ser[o->instr.v];
    if (s->settled || s->trade_until <= e->now)
        return reject(e, res, CH_EEXPIRED);
    if (o->side != CH_BUY && o->side != CH_SELL)
        return reject(e, res, CH_EBADSIDE);
    if ((o->type != CH_ORD_LIMIT && o->type != CH_ORD_MARKET) ||
        (o->tif != CH_TIF_GTC && o->tif != CH_TIF_IOC && o->tif != CH_TIF_FOK) ||
        (o->post_only && (o->type != CH_ORD_LIMIT || o->tif != CH_TIF_GTC)))
        return reject(e, res, CH_EBADTYPE);
    if (o->qty <= 0 || o->qty > CH_QTY_MAX)
        return reject(e, res, CH_EBADQTY);
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    int64_t limit = o->price;
    if (o->type == CH_ORD_MARKET && limit == 0)
        limit = o->side == CH_BUY ? uc->max_price : uc->min_price;
    if (limit < uc->min_price || limit > uc->max_price)
        return reject(e, res, CH_EBADPRICE);
    account *a = &e->acct[o->account.v];
    if (o->side == CH_BUY) {
        /* per x qty <= free cash (a product beyond 64 bits is beyond any
         * cash); the same answer as (cash - reserved) / per >= qty, without
         * a division */
        int64_t per = reserve_per_lot(e, s->und, limit), need;
        if (per > 0 && (__builtin_mul_overflow(per, o->qty, &need) || a->cash - a->reserved < need))
            return reject(e, res, CH_EFUNDS);
    } else {
        if (!s->marked)
            return reject(e, res, CH_EMARGIN); /* no mark, no margin */
        if (!margin_ok(e, a, s, o->qty))
            return reject(e, res, CH_EMARGIN);
    }
    ch_stp stp = a->stp;
    bool net_on = s->marked;
    bool gtc_limit = o->type == CH_ORD_LIMIT && o->tif == CH_TIF_GTC;
    int first = -1; /* the best source before anything trades (GTC limit orders) */
    if (gtc_limit) {
        offer of[3];
        first = best_source(e, o->instr, o->side, o->account.v, limit, true, net_on, true, of);
        if (o->post_only && first >= 0)
            return reject(e, res, CH_EPOST_ONLY);
    }
    if (o->tif == CH_TIF_FOK) {
        int64_t f = ch_book_fillable(e->book, o->instr, o->side, limit, o->account, stp, false,
                                     o->qty, NULL);
        /* risk-aware parity prices depend on the house's delta as the order
         * fills: FOK orders take the book and the pool only */
        if (e->cfg.risk_aware)
            net_on = false;
        if (f < o->qty && e->cfg.netting && net_on && s->sibling.v != CH_INSTR_NONE)
            f += ch_book_fillable(e->book, s->sibling, o->side,
                                  sibling_limit(e, o->instr, o->side, limit), o->account, stp, true,
                                  o->qty - f, NULL);
        if (f < o->qty)
            f += chi_pool_fill_qty_ex(e, o->instr, o->side, o->qty - f, limit, false, true, NULL);
        if (f < o->qty)
            return reject(e, res, CH_EFOK);
    }
    uint64_t user = NIL; /* the order's position record, once it has one */
    if ((uint64_t)e->n_pos + e->unrecorded + 1 > e->cfg.max_positions) {
        /* near capacity: an order whose record exists already claims none */
        uint32_t k = chi_pos_find(e, o->account.v, o->instr.v);
        if (k == NIL || (uint64_t)e->n_pos + e->unrecorded > e->cfg.max_positions)
            return reject(e, res, CH_ECAPACITY);
        user = k;
    }
    ch_order_req rq = {.instr = o->instr,
                       .account = o->account,
                       .side = o->side,
                       .type = o->type,
                       .tif = o->tif,
                       .stp = stp,
                       .post_only = o->post_only,
                       .price = o->price,
                       .qty = o->qty,
                       .user = user};
    if (gtc_limit && first < 0) {
        /* nothing crosses it: it only rests, in one call to its book (which
         * then neither matches nor cancels, so emits no fill or cancel) */
        ch_order_result br;
        ch_err err = ch_book_submit(e->book, &rq, &br);
        if (err != CH_OK)
            return reject(e, res, err);
        if (user == NIL)
            e->unrecorded++; /* accepted without a record (and it neither traded nor left) */
        if (br.status == CH_STATUS_NEW)
            hold_order(e, o->account.v, o->instr, o->side, limit, br.remaining);
        if (res != NULL) {
            memset(res, 0, sizeof *res);
            res->id = br.id;
            res->status = br.status;
            res->remaining = br.remaining;
            res->cancelled = br.cancelled;
        }
        return CH_OK;
    }
    if (user == NIL && o->tif == CH_TIF_GTC) /* it crosses: it will need its record */
        PREFETCH(&e->pos_index[(size_t)o->account.v * e->cfg.max_instruments + o->instr.v]);
    ch_order_id id;
    ch_err err = ch_book_open_order(e->book, &rq, &id);
    if (err != CH_OK)
        return reject(e, res, err);
    if (user == NIL)
        e->unrecorded++; /* until its first fill, or its CANCEL event */

    ch_engine_result local;
    ch_engine_result *r = res != NULL ? res : &local;
    memset(r, 0, sizeof *r);
    r->id = id;
    e->cur_res = r;
    e->cur_order = id;
    e->cur_taker = o->account.v;
    e->cur_taker_k = (uint32_t)user;
    e->cur_instr = o->instr;
    e->cur_side = o->side;
    bool book_on = true;
    for (;;) {
        int64_t left = ch_book_open_remaining(e->book, id);
        if (left <= 0)
            break;
        offer of[3];
        int src = best_source(e, o->instr, o->side, o->account.v, limit, book_on, net_on, true, of);
        if (src < 0)
            break;
        if (src == CH_SRC_BOOK) {
            int64_t filled;
            bool stopped;
            e->ctx_source = CH_SRC_BOOK;
            ch_book_match_open(e->book, id, of[0].price, left, &filled, &stopped);
            if (stopped) {
                book_on = false; /* STP: no more from the book; the remainder won't rest */
            } else if (filled == 0) {
                /* only the taker's own orders were there and STP cancelled them
                 * (cancel-resting): the best level has moved; if it has not,
                 * stop using the book rather than loop */
                int64_t p2, q2;
                ch_side opp = o->side == CH_BUY ? CH_SELL : CH_BUY;
                if (ch_book_best(e->book, o->instr, opp, &p2, &q2) == CH_OK && p2 == of[0].price &&
                    q2 == of[0].qty)
                    book_on = false;
            }
        } else if (src == CH_SRC_NET) {
            int64_t q = left < of[1].qty ? left : of[1].qty, filled = 0;
            ch_side resting = o->side == CH_BUY ? CH_SELL : CH_BUY;
            e->ctx_source = CH_SRC_NET;
            ch_book_take(e->book, s->sibling, resting, of[1].sib_price, q, o->account, &filled);
            e->ctx_source = CH_SRC_BOOK;
            if (filled > 0)
                ch_book_fill_open(e->book, id, filled);
            else
                net_on = false;
        } else {
            /* the pool: as much as it gives at an average price strictly
             * better than the other sources' best (ties go to them), and
             * within the limit */
            int64_t bound = limit;
            bool strict = false;
            offer other[3];
            int ob = best_source(e, o->instr, o->side, o->account.v, limit, book_on, net_on, false,
                                 other);
            if (ob >= 0) {
                bound = other[ob].price;
                strict = true;
            }
            pool_px px;
            int64_t q = chi_pool_fill_qty(e, o->instr, o->side, left, bound, strict, &px);
            if (q <= 0)
                break; /* cannot happen: one lot qualified in best_source */
            int64_t fee = taker_fee(e, o->instr, px.ticks, q);
            /* the strike tranches covering it first, then the general pool:
             * a fill each, the fee on the first */
            pool_leg legs[CH_TRANCHES_MAX + 1];
            int n_legs = 1;
            if (e->n_tranches == 0)
                legs[0] = (pool_leg){.acct = CH_ACCOUNT_POOL, .rec = s->pool_k, .qty = q};
            else
                n_legs = chi_pool_legs(e, o->instr, o->side, q, px.ticks, legs);
            for (int l = 0; l < n_legs; l++, fee = 0) {
                const pool_leg *g = &legs[l];
                if (o->side == CH_BUY)
                    clear_trade(e, o->instr, o->account.v, taker_rec(e), g->acct, g->rec, px.ticks,
                                g->qty, o->account.v, fee, false);
                else
                    clear_trade(e, o->instr, g->acct, g->rec, o->account.v, taker_rec(e), px.ticks,
                                g->qty, o->account.v, fee, false);
                ch_book_fill_open(e->book, id, g->qty);
                count_fill(e, o->instr, CH_SRC_POOL, g->qty);
                ch_fill f = {.trade_id = ++e->trades,
                             .source = CH_SRC_POOL,
                             .instr = o->instr,
                             .taker_side = o->side,
                             .price = px.ticks,
                             .qty = g->qty,
                             .taker = o->account,
                             .maker = {g->acct},
                             .taker_order = id,
                             .maker_instr = o->instr,
                             .maker_price = px.ticks,
                             .fee = fee};
                report_fill(e, &f);
            }
        }
    }
    ch_order_result br;
    ch_book_close_order(e->book, id, &br);
    if (br.status == CH_STATUS_NEW || br.status == CH_STATUS_PARTIALLY_FILLED)
        hold_order(e, o->account.v, o->instr, o->side, limit, br.remaining);
    r->status = br.status;
    r->filled = br.filled;
    r->remaining = br.remaining;
    r->cancelled = br.cancelled;
    e->cur_res = NULL;
    e->cur_order = (ch_order_id){0};
    if (e->n_tranches > 0)
        chi_tranches_allocate(e); /* parity fills move the house's value */
    return CH_OK;
}

ch_err ch_engine_cancel(ch_engine *e, ch_account_id acct, ch_order_id id, int64_t *cancelled)
{
    e->seq++;
    if (acct.v < e->n_acct)
        PREFETCH(&e->acct[acct.v]);                      /* releasing the order reads it */
    return ch_book_cancel(e->book, acct, id, cancelled); /* the CANCEL event releases */
}

ch_err ch_engine_replace(ch_engine *e, ch_account_id acct, ch_order_id id, int64_t qty,
                         int64_t price, ch_engine_result *res)
{
    e->seq++;
    ch_order_info info;
    if (ch_book_order(e->book, id, &info) != CH_OK || info.account.v != acct.v) {
        ch_order_result br;
        ch_err err = ch_book_replace(e->book, acct, id, qty, price, &br); /* the book's reject */
        return reject(e, res, err);
    }
    account *a = &e->acct[acct.v];
    series *s = &e->ser[info.instr.v];
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    bool args_ok = qty >= 0 && qty <= CH_QTY_MAX && !(qty == 0 && price == 0) &&
                   (price == 0 || (price >= uc->min_price && price <= uc->max_price));
    if (args_ok) { /* bad arguments are left to the book's specific reject */
        int64_t nq = qty != 0 ? qty : info.remaining;
        int64_t np = price != 0 ? price : info.price;
        if (info.side == CH_BUY) {
            /* affordable: per x nq <= free cash + what the order holds now
             * (by division: per x nq may not fit in 64 bits) */
            int64_t held = reserve_per_lot(e, s->und, info.price) * info.remaining;
            int64_t per = reserve_per_lot(e, s->und, np);
            if (per > 0 && (a->cash - a->reserved + held) / per < nq)
                return reject(e, res, CH_EFUNDS);
        } else if (nq > info.remaining) {
            if (!margin_ok(e, a, s, nq - info.remaining))
                return reject(e, res, CH_EMARGIN);
        }
    }
    /* release the old hold, replace, hold the new state */
    release_order(e, acct.v, info.instr, info.side, info.price, info.remaining);
    ch_engine_result local;
    ch_engine_result *r = res != NULL ? res : &local;
    memset(r, 0, sizeof *r);
    e->cur_res = r;
    e->cur_order = id;
    e->cur_taker = acct.v;
    e->cur_taker_k = (uint32_t)info.user;
    e->cur_instr = info.instr;
    e->cur_side = info.side;
    e->ctx_source = CH_SRC_BOOK;
    ch_order_result br;
    ch_err err = ch_book_replace(e->book, acct, id, qty, price, &br);
    e->cur_res = NULL;
    e->cur_order = (ch_order_id){0};
    ch_order_info after;
    if (ch_book_order(e->book, id, &after) == CH_OK)
        hold_order(e, acct.v, after.instr, after.side, after.price, after.remaining);
    if (err != CH_OK)
        return reject(e, res, err);
    r->id = id;
    r->status = br.status;
    r->filled = br.filled;
    r->remaining = br.remaining;
    r->cancelled = br.cancelled;
    return CH_OK;
}
