/*
 * test_engine.c - the three liquidity sources, clearing, the pool, margin,
 * settlement and LP shares. ch_engine_check() (positions sum to zero per
 * instrument, cash conserved, reservations, shares) runs after every
 * operation.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/match/engine_int.h" /* the margin kernels */
#include "ch/engine.h"
#include "ch_check.h"
#include "fixtures.h"

#define DAY    (INT64_C(86400) * CH_NS_PER_SEC)
#define USD(x) ((int64_t)((x)*CH_CASH_SCALE))
#define TICK   0.5

static ch_engine *eng;
static ch_time now0, exp1;
static ch_instr_id C100, P100, C90, P90, C110;
static ch_account_id alice, bob, carol;

#define MAXF 256
static ch_fill fills[MAXF];
static int nfills;
static int nsettle;

static void on_ev(void *ctx, const ch_engine_event *ev)
{
    (void)ctx;
    if (ev->type == CH_EE_FILL && nfills < MAXF)
        fills[nfills++] = ev->fill;
    if (ev->type == CH_EE_SETTLE)
        nsettle++;
}

static void check_ok(void)
{
    ck_assert_int_eq(ch_engine_check(eng), CH_OK);
}

static ch_instr_id list(const char *sym)
{
    ch_instr_id id;
    ck_assert_int_eq(ch_engine_list(eng, sym, strlen(sym), &id), CH_OK);
    return id;
}

static void mark(double index, double vol)
{
    ck_assert_int_eq(ch_test_mark(eng, index, exp1, vol), CH_OK);
}

/* Defaults, sized down for unit tests; parity on price and the netting fee
 * alone (risk-aware netting has its own tests in test_netting.c). */
static ch_engine_config small_cfg(void)
{
    ch_engine_config c = ch_test_engine_config(64, 64, 4096, 4096);
    c.risk_aware = false;
    return c;
}

static void setup_with(const ch_engine_config *cfg)
{
    eng = ch_engine_create(cfg);
    ck_assert_ptr_nonnull(eng);
    ch_engine_set_sink(eng, on_ev, NULL);
    ch_underlying_config u = ch_test_btc();
    ck_assert_int_eq(ch_engine_add_underlying(eng, &u, NULL), CH_OK);
    ck_assert_int_eq(ch_date_to_time(2026, 11, 25, &now0), CH_OK);
    ck_assert_int_eq(ch_engine_advance(eng, now0), CH_OK);
    ck_assert_int_eq(ch_date_to_time(2026, 12, 25, &exp1), CH_OK);
    exp1 += 8 * 3600 * CH_NS_PER_SEC;
    C100 = list("BTC-25DEC26-100000-C");
    P100 = list("BTC-25DEC26-100000-P");
    C90 = list("BTC-25DEC26-90000-C");
    P90 = list("BTC-25DEC26-90000-P");
    C110 = list("BTC-25DEC26-110000-C");
    mark(100000, 0.5);
    ck_assert_int_eq(
        ch_engine_account_open(eng, "alice", USD(10e6), CH_STP_CANCEL_INCOMING, &alice), CH_OK);
    ck_assert_int_eq(ch_engine_account_open(eng, "bob", USD(10e6), CH_STP_CANCEL_INCOMING, &bob),
                     CH_OK);
    ck_assert_int_eq(
        ch_engine_account_open(eng, "carol", USD(10e6), CH_STP_CANCEL_INCOMING, &carol), CH_OK);
    int64_t sh;
    ck_assert_int_eq(ch_engine_pool_deposit(eng, carol, USD(5e6), &sh), CH_OK);
    nfills = 0;
    nsettle = 0;
    check_ok();
}

static void setup(void)
{
    ch_engine_config cfg = small_cfg();
    setup_with(&cfg);
}

static void setup_nopool(void)
{
    ch_engine_config cfg = small_cfg();
    cfg.pool.enabled = false;
    setup_with(&cfg);
}

static void teardown(void)
{
    check_ok();
    ch_engine_destroy(eng);
    eng = NULL;
}

static ch_engine_result order(ch_account_id a, ch_instr_id i, ch_side side, double price,
                              int64_t qty, ch_tif tif, ch_err want)
{
    ch_engine_order o = {.account = a,
                         .instr = i,
                         .side = side,
                         .tif = tif,
                         .price = (int64_t)llround(price / TICK),
                         .qty = qty};
    ch_engine_result r;
    nfills = 0;
    ck_assert_int_eq(ch_engine_submit(eng, &o, &r), want);
    check_ok();
    return r;
}

static int64_t cash(ch_account_id a)
{
    ch_account_info ai;
    ck_assert_int_eq(ch_engine_account(eng, a, &ai), CH_OK);
    return ai.cash;
}

static double years(void)
{
    return ch_years(now0, exp1);
}

START_TEST(direct_fill_leaves_house_flat)
{
    /* inside the pool's spread (model ~5730, pool bid ~5610, ask ~5850) */
    order(bob, C100, CH_SELL, 5700, 2, CH_TIF_GTC, CH_OK);
    int64_t a0 = cash(alice), b0 = cash(bob);
    ch_engine_result r = order(alice, C100, CH_BUY, 5700, 2, CH_TIF_GTC, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    ck_assert_int_eq(r.by_source[CH_SRC_BOOK], 2);
    ck_assert_int_eq(nfills, 1);
    ck_assert_int_eq(fills[0].source, CH_SRC_BOOK);
    ck_assert_int_eq(fills[0].price, 11400);
    ck_assert_int_eq(ch_engine_position(eng, alice, C100), 2);
    ck_assert_int_eq(ch_engine_position(eng, bob, C100), -2);
    ck_assert_int_eq(ch_engine_position(eng, (ch_account_id){CH_ACCOUNT_HOUSE}, C100), 0);
    /* fee: min(3 bps of 100000, 12.5% of 5700) = 30 USD per contract, taker only */
    ck_assert_int_eq(fills[0].fee, USD(60));
    ck_assert_int_eq(cash(alice), a0 - USD(11400) - USD(60));
    ck_assert_int_eq(cash(bob), b0 + USD(11400));
    ck_assert_int_eq(cash((ch_account_id){CH_ACCOUNT_FEES}), USD(60));
}
END_TEST

START_TEST(parity_fill_books_a_forward)
{
    /* bob rests a sell put; alice buys the call: nothing on the call book, the
     * pool off, so the put ask nets against her call buy */
    teardown();
    ch_engine_config cfg = small_cfg();
    cfg.pool.enabled = false;
    setup_with(&cfg);
    order(bob, P90, CH_SELL, 1500, 3, CH_TIF_GTC, CH_OK);
    int64_t h0 = cash((ch_account_id){CH_ACCOUNT_HOUSE}), b0 = cash(bob);
    /* C = P + (S - K e^{-rT}) with r = q = 0: 1500 + 10000 = 11500, + 1 tick */
    ch_engine_result r = order(alice, C90, CH_BUY, 12000, 3, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    ck_assert_int_eq(r.by_source[CH_SRC_NET], 3);
    ck_assert_int_eq(nfills, 1);
    ck_assert_int_eq(fills[0].source, CH_SRC_NET);
    ck_assert_int_eq(fills[0].price, 23001); /* 11500.5 USD */
    ck_assert_int_eq(fills[0].maker_price, 3000);
    ck_assert_uint_eq(fills[0].maker_instr.v, P90.v);
    ch_account_id house = {CH_ACCOUNT_HOUSE};
    ck_assert_int_eq(ch_engine_position(eng, alice, C90), 3);
    ck_assert_int_eq(ch_engine_position(eng, house, C90), -3);
    ck_assert_int_eq(ch_engine_position(eng, house, P90), 3);
    ck_assert_int_eq(ch_engine_position(eng, bob, P90), -3);
    /* house cash: 3 x (11500.5 - 1500); with the forward (short call, long
     * put: worth -(S - K) = -10000 per lot at r = 0) it is up the netting
     * fee, 1 tick per lot */
    ck_assert_int_eq(cash(house) - h0, USD(3 * (11500.5 - 1500)));
    ch_account_info hi;
    ch_engine_account(eng, house, &hi);
    ck_assert_double_eq_tol(hi.equity - (double)h0 / CH_CASH_SCALE, 1.5, 1e-6);
    ck_assert_int_eq(cash(bob) - b0, USD(1500 * 3));
    /* short call + long put at one strike: zero gamma and vega, delta -3 */
    ch_risk_totals t;
    ck_assert_int_eq(ch_engine_risk(eng, 0, &t, NULL), CH_OK);
    ck_assert_double_eq_tol(t.gamma, 0, 1e-12);
    ck_assert_double_eq_tol(t.vega, 0, 1e-6);
    ck_assert_double_eq_tol(t.delta, -3, 1e-9);
    ck_assert_double_eq_tol(ch_engine_net_delta(eng, 0), -3, 1e-9);
    /* and a seller of the call nets against a resting put bid */
    order(carol, P100, CH_BUY, 4000, 2, CH_TIF_GTC, CH_OK);
    r = order(bob, C100, CH_SELL, 1, 2, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(r.by_source[CH_SRC_NET], 2);
    ck_assert_int_eq(fills[0].price, 7999); /* 4000 + 0 - 1 tick = 3999.5 USD */
    ch_netting n;
    ch_engine_netting(eng, &n);
    ck_assert_int_eq(n.lots[CH_SRC_NET], 5);
    ck_assert_double_eq_tol(n.gross_gamma, n.netted_gamma, 1e-12);
}
END_TEST

START_TEST(pool_quotes_model_plus_premium)
{
    double T = years();
    ch_greeks g;
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 100000, 110000, T, 0, 0, 0.5, &g), CH_OK);
    ch_engine_config cfg;
    ch_engine_defaults(&cfg);
    const ch_pool_config *pc = &cfg.pool;
    /* empty pool inventory; a customer buy of n: dq = -n */
    int64_t n = 2;
    double dq = -(double)n;
    double x = pc->pv_t * (0.5 * dq * g.vega) / pc->max_vega_total +
               pc->pg_t * (0.5 * dq * g.gamma) / pc->max_gamma_total +
               pc->pv_k * (0.5 * dq * g.vega) / pc->max_vega_strike +
               pc->pg_k * (0.5 * dq * g.gamma) / pc->max_gamma_strike;
    double skew = -x;
    double px = g.price + (pc->half_spread_vol + skew) * g.vega;
    int64_t want = (int64_t)ceil(px / TICK - 1e-9);
    ch_quote q;
    ck_assert_int_eq(ch_engine_quote(eng, C110, CH_BUY, n, &q), CH_OK);
    ck_assert_int_eq(q.price, want);
    ck_assert_double_eq_tol(q.model, g.price, 1e-6);
    ck_assert_double_eq_tol(q.vol, 0.5, 1e-12);
    ch_engine_result r = order(alice, C110, CH_BUY, 100000, n, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(r.by_source[CH_SRC_POOL], n);
    ck_assert_int_eq(fills[0].price, want);
    ck_assert_int_eq(fills[0].source, CH_SRC_POOL);
    ck_assert_int_eq(ch_engine_position(eng, (ch_account_id){CH_ACCOUNT_POOL}, C110), -n);
    /* a limit order below the pool's ask does not trade and rests */
    r = order(bob, C110, CH_BUY, 10, 1, CH_TIF_GTC, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_NEW);
}
END_TEST

START_TEST(zero_parameters_quote_the_model)
{
    teardown();
    ch_engine_config cfg = small_cfg();
    cfg.pool.half_spread_vol = cfg.pool.pv_t = cfg.pool.pg_t = cfg.pool.pv_k = cfg.pool.pg_k = 0;
    setup_with(&cfg);
    ch_greeks g;
    ch_bs(CH_OPT_CALL, 100000, 100000, years(), 0, 0, 0.5, &g);
    ch_quote q;
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_BUY, 5, &q), CH_OK);
    ck_assert_int_eq(q.price, (int64_t)ceil(g.price / TICK - 1e-9));
    ck_assert_double_eq_tol(q.premium, 0, 1e-12);
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_SELL, 5, &q), CH_OK);
    ck_assert_int_eq(q.price, (int64_t)floor(g.price / TICK + 1e-9));
}
END_TEST

START_TEST(mixed_sweep_book_net_pool)
{
    /* the call's model value at 0.5 vol is ~5700 USD; set up cheaper direct
     * and parity liquidity, then sweep through into the pool */
    ch_greeks g;
    ch_bs(CH_OPT_CALL, 100000, 100000, years(), 0, 0, 0.5, &g);
    double m = floor(g.price);
    /* both asks inside the pool's bid-ask (~m-115 .. m+115), so they rest */
    order(bob, C100, CH_SELL, m - 60, 2, CH_TIF_GTC, CH_OK);   /* direct ask */
    order(carol, P100, CH_SELL, m - 40, 3, CH_TIF_GTC, CH_OK); /* put ask: parity m-40+fee */
    ch_engine_result r = order(alice, C100, CH_BUY, m + 2000, 10, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    ck_assert_int_eq(r.by_source[CH_SRC_BOOK], 2);
    ck_assert_int_eq(r.by_source[CH_SRC_NET], 3);
    ck_assert_int_eq(r.by_source[CH_SRC_POOL], 5);
    ck_assert_int_ge(nfills, 3);
    ck_assert_int_eq(fills[0].source, CH_SRC_BOOK);
    ck_assert_int_eq(fills[1].source, CH_SRC_NET);
    ck_assert_int_eq(fills[1].price, (int64_t)llround((m - 40) / TICK) + 1);
    for (int i = 2; i < nfills; i++)
        ck_assert_int_eq(fills[i].source, CH_SRC_POOL);
    /* prices never improve for the taker along the sweep */
    for (int i = 1; i < nfills; i++)
        ck_assert_int_ge(fills[i].price, fills[i - 1].price);
    /* what reached the pool: 5 of 10 lots; gamma of 5 lots netted */
    ch_netting n;
    ch_engine_netting(eng, &n);
    ck_assert_int_eq(n.lots[0] + n.lots[1] + n.lots[2], 10);
    ck_assert_double_eq_tol(n.netted_gamma / n.gross_gamma, 0.5, 1e-9);
    ch_netting_bucket b[8];
    size_t nb = ch_engine_netting_buckets(eng, 0, b, 8);
    ck_assert_uint_eq(nb, 3);
    ck_assert_double_eq(b[1].strike, 100000);
    ck_assert_double_eq_tol(b[1].pool_gamma, 5 * g.gamma, 1e-12);
    ck_assert_double_eq_tol(b[1].netted_gamma, 5 * g.gamma, 1e-12);
    /* residual at that strike: pool short 5 calls, house short 3 calls long 3 puts */
    ck_assert_double_eq_tol(b[1].residual.gamma, -5 * g.gamma, 1e-12);
}
END_TEST

START_TEST(ties_prefer_book_then_net)
{
    teardown();
    ch_engine_config cfg = small_cfg();
    cfg.netting_fee_ticks = 0;
    cfg.pool.enabled = false;
    setup_with(&cfg);
    /* at r = 0 and K = S the parity price equals the put's own price */
    order(carol, P100, CH_SELL, 3000, 1, CH_TIF_GTC, CH_OK);
    order(bob, C100, CH_SELL, 3000, 1, CH_TIF_GTC, CH_OK);
    ch_engine_result r = order(alice, C100, CH_BUY, 3000, 2, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(nfills, 2);
    ck_assert_int_eq(fills[0].source, CH_SRC_BOOK);
    ck_assert_int_eq(fills[1].source, CH_SRC_NET);
    ck_assert_int_eq(r.filled, 2);
}
END_TEST

START_TEST(dynamic_pricing)
{
    ch_quote q1, q5, q20;
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_BUY, 1, &q1), CH_OK);
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_BUY, 5, &q5), CH_OK);
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_BUY, 20, &q20), CH_OK);
    /* bigger trades pay more per contract (they add more) */
    ck_assert_double_lt(q1.premium, q5.premium);
    ck_assert_double_lt(q5.premium, q20.premium);
    ch_quote sell0, buy0;
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_SELL, 1, &sell0), CH_OK);
    buy0 = q1;
    /* the pool sells 20 calls: now short vega and gamma */
    order(alice, C100, CH_BUY, 100000, 20, CH_TIF_IOC, CH_OK);
    ch_quote buy1, sell1;
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_BUY, 1, &buy1), CH_OK);
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_SELL, 1, &sell1), CH_OK);
    /* adding to the short costs more; offsetting it is paid better */
    ck_assert_double_gt(buy1.premium, buy0.premium);
    ck_assert_int_gt(buy1.price, buy0.price);
    ck_assert_int_gt(sell1.price, sell0.price);
    ck_assert_double_lt(sell1.premium, sell0.premium);
    /* an offsetting customer sell is cheaper for the pool than an adding buy */
    ck_assert_double_lt(sell1.premium, buy1.premium);
    /* the premium is a rebate beyond the half-spread for a big enough short */
    ch_engine_config cfg;
    ch_engine_defaults(&cfg);
    ck_assert_double_lt(sell1.premium, cfg.pool.half_spread_vol * (sell1.model > 0 ? 1e300 : 0));
}
END_TEST

START_TEST(limits_cut_fills)
{
    teardown();
    ch_engine_config cfg = small_cfg();
    ch_greeks g;
    ch_time e1;
    ch_date_to_time(2026, 12, 25, &e1);
    ch_date_to_time(2026, 11, 25, &now0);
    ch_bs(CH_OPT_CALL, 100000, 100000, ch_years(now0, e1 + 8 * 3600 * CH_NS_PER_SEC), 0, 0, 0.5,
          &g);
    cfg.pool.max_gamma_strike = 7.5 * g.gamma; /* 7 lots fit, the 8th does not */
    setup_with(&cfg);
    ch_quote q;
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_BUY, 20, &q), CH_OK);
    ck_assert_int_eq(q.max_qty, 7);
    ch_engine_result r = order(alice, C100, CH_BUY, 100000, 20, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(r.filled, 7);
    ck_assert_int_eq(r.cancelled, 13);
    ck_assert_int_eq(ch_engine_quote(eng, C100, CH_BUY, 1, &q), CH_ERISK_LIMIT);
    /* reducing trades are still welcome */
    r = order(bob, C100, CH_SELL, 1, 3, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(r.by_source[CH_SRC_POOL], 3);
    /* FOK beyond the pool's room is refused whole */
    r = order(alice, C100, CH_BUY, 100000, 5, CH_TIF_FOK, CH_EFOK);
    ck_assert_int_eq(ch_engine_position(eng, alice, C100), 7);
    r = order(alice, C100, CH_BUY, 100000, 3, CH_TIF_FOK, CH_OK);
    ck_assert_int_eq(r.filled, 3);
}
END_TEST

START_TEST(funds_and_margin)
{
    ch_account_id poor;
    ck_assert_int_eq(ch_engine_account_open(eng, "poor", USD(1000), CH_STP_CANCEL_INCOMING, &poor),
                     CH_OK);
    /* 1 lot at 5000 USD: not affordable */
    order(poor, C100, CH_BUY, 5000, 1, CH_TIF_GTC, CH_EFUNDS);
    /* 1 lot at 800 (+12.5% fee cap = 900) is; it rests and reserves */
    ch_engine_result r = order(poor, C110, CH_BUY, 800, 1, CH_TIF_GTC, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_NEW);
    ch_account_info ai;
    ch_engine_account(eng, poor, &ai);
    ck_assert_int_eq(ai.reserved, USD(900));
    order(poor, C110, CH_BUY, 200, 1, CH_TIF_GTC, CH_EFUNDS); /* 225 > 100 left */
    int64_t c;
    ck_assert_int_eq(ch_engine_cancel(eng, poor, r.id, &c), CH_OK);
    check_ok();
    ch_engine_account(eng, poor, &ai);
    ck_assert_int_eq(ai.reserved, 0);
    /* a naked call sale needs margin: the worst scenario of a short call */
    order(poor, C100, CH_SELL, 5000, 1, CH_TIF_GTC, CH_EMARGIN);
    ch_engine_account(eng, poor, &ai);
    ck_assert_int_eq(ai.positions, 0);
    /* alice, rich, may sell; her resting sells count in her margin */
    r = order(alice, C100, CH_SELL, 9000, 1, CH_TIF_GTC, CH_OK);
    ch_engine_account(eng, alice, &ai);
    ck_assert_double_gt(ai.margin, 0);
    /* withdrawing the margin away is refused */
    ck_assert_int_eq(ch_engine_deposit(eng, alice, -(ai.cash - USD(1))), CH_EMARGIN);
    /* internal accounts cannot trade; unknown accounts neither */
    order((ch_account_id){CH_ACCOUNT_POOL}, C100, CH_BUY, 10, 1, CH_TIF_GTC, CH_EUNAUTHORIZED);
    order((ch_account_id){999}, C100, CH_BUY, 10, 1, CH_TIF_GTC, CH_EUNAUTHORIZED);
}
END_TEST

/* Accounts made exact by a walk of the books (self-check builds count them;
 * counters add up across tests when Check does not fork). */
static unsigned long exact_walks(void)
{
#ifdef CH_ENGINE_SELF_CHECK
    extern unsigned long ch_engine_exact_walks;
    return ch_engine_exact_walks;
#else
    return 0;
#endif
}

static void expect_walks(unsigned long n)
{
#ifdef CH_ENGINE_SELF_CHECK
    ck_assert_uint_eq(exact_walks(), n);
#else
    (void)n;
#endif
}

static double margin(ch_account_id a)
{
    ch_account_info ai;
    ck_assert_int_eq(ch_engine_account(eng, a, &ai), CH_OK);
    return ai.margin;
}

/* A price one tick inside the pool's quotes on the customer's side `side`:
 * a sell there rests, and a buy at it takes the resting sell first. */
static double inside(ch_instr_id i)
{
    ch_quote ask, bid;
    ck_assert_int_eq(ch_engine_quote(eng, i, CH_BUY, 1, &ask), CH_OK);
    ck_assert_int_eq(ch_engine_quote(eng, i, CH_SELL, 1, &bid), CH_OK);
    ck_assert_int_gt(ask.price - bid.price, 2);
    return (double)(ask.price - 1) * TICK;
}

/*
 * Resting sells count in the margin as if filled. A rich account keeps them
 * in an integer bound, a tight one in its vector (the engine switches when
 * the bound no longer settles a check); either way the margin reported, the
 * margin check and a withdrawal give the exact figure's answers.
 */
START_TEST(resting_sells_count_as_if_filled)
{
    /* exact margins of a short call, a short put and both (alice: rich) */
    double pc = inside(C110), pp = inside(P90);
    ch_engine_result rc = order(alice, C110, CH_SELL, pc, 1, CH_TIF_GTC, CH_OK);
    ck_assert_int_eq(rc.status, CH_STATUS_NEW);
    double m_call = margin(alice);
    ch_engine_result rp = order(alice, P90, CH_SELL, pp, 1, CH_TIF_GTC, CH_OK);
    ck_assert_int_eq(rp.status, CH_STATUS_NEW);
    double m_both = margin(alice);
    ck_assert_int_eq(ch_engine_replace(eng, alice, rp.id, 2, 0, NULL), CH_OK); /* 2 puts */
    check_ok();
    double m_c2p = margin(alice);
    ck_assert_int_eq(ch_engine_replace(eng, alice, rp.id, 1, 0, NULL), CH_OK); /* back to 1 */
    check_ok();
    ck_assert_double_eq_tol(margin(alice), m_both, 1e-6);
    ck_assert_int_eq(ch_engine_cancel(eng, alice, rc.id, NULL), CH_OK);
    check_ok();
    double m_put = margin(alice);
    ck_assert_int_eq(ch_engine_cancel(eng, alice, rp.id, NULL), CH_OK);
    check_ok();
    ck_assert_double_eq(margin(alice), 0);
    /* they lose in opposite scenarios: the exact figure is well below the sum */
    ck_assert_double_gt(m_call, 1000);
    ck_assert_double_gt(m_put, 1000);
    ck_assert_double_lt(m_both, m_call + m_put - 1000);

    /* dave can afford both exactly, not by the sum */
    double cash_usd = floor((m_both + m_call + m_put) / 2);
    ch_account_id dave;
    ck_assert_int_eq(
        ch_engine_account_open(eng, "dave", USD(cash_usd), CH_STP_CANCEL_INCOMING, &dave), CH_OK);
    ck_assert_str_eq(ch_engine_account_name(eng, dave), "dave");
    ck_assert_ptr_null(ch_engine_account_name(eng, (ch_account_id){999}));
    ch_engine_result dc = order(dave, C110, CH_SELL, pc, 1, CH_TIF_GTC, CH_OK);
    ck_assert_double_eq_tol(margin(dave), m_call, 1e-6);
    unsigned long walks = exact_walks();
    ch_engine_result dp = order(dave, P90, CH_SELL, pp, 1, CH_TIF_GTC, CH_OK);
    ck_assert_double_eq_tol(margin(dave), m_both, 1e-6);
    expect_walks(walks + 1); /* the bound did not settle it: the books did */
    /* a second call is beyond him, and a withdrawal below the margin too */
    order(dave, C110, CH_SELL, pc, 1, CH_TIF_GTC, CH_EMARGIN);
    double spare = cash_usd - m_both;
    ck_assert_int_eq(ch_engine_deposit(eng, dave, -USD(spare + 1)), CH_EMARGIN);
    ck_assert_int_eq(ch_engine_deposit(eng, dave, -USD(spare - 1)), CH_OK);
    check_ok();
    ck_assert_double_eq_tol(margin(dave), m_both, 1e-6);
    /* raising the put's quantity is checked the same way */
    ck_assert_int_eq(ch_engine_replace(eng, dave, dp.id, 2, 0, NULL), CH_EMARGIN);
    check_ok();
    /* a revaluation decides again who holds sells in the vector: same figures */
    mark(100000, 0.5);
    check_ok();
    ck_assert_double_eq_tol(margin(dave), m_both, 1e-6);
    ck_assert_double_eq(margin(alice), 0);

    /* filled, the sells become positions of the same margin: dave's call
     * (in his vector) and, for a rich account, alice's put (in her bound) */
    ch_engine_result b1 = order(bob, C110, CH_BUY, pc, 1, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(b1.by_source[CH_SRC_BOOK], 1);
    ck_assert_int_eq(ch_engine_position(eng, dave, C110), -1);
    ck_assert_double_eq_tol(margin(dave), m_both, 1e-6);
    ck_assert_int_eq(ch_engine_cancel(eng, dave, dp.id, NULL), CH_OK);
    check_ok();
    ck_assert_double_eq_tol(margin(dave), m_call, 1e-6);
    rp = order(alice, P90, CH_SELL, pp, 1, CH_TIF_GTC, CH_OK);
    ck_assert_double_eq_tol(margin(alice), m_put, 1e-6);
    ch_engine_result b2 = order(bob, P90, CH_BUY, pp, 1, CH_TIF_IOC, CH_OK);
    ck_assert_int_eq(b2.by_source[CH_SRC_BOOK], 1);
    ck_assert_int_eq(ch_engine_position(eng, alice, P90), -1);
    ck_assert_double_eq_tol(margin(alice), m_put, 1e-6);
    (void)dc;

    /* accounts that hold both sells in the bound (rich enough for the sum):
     * raising a quantity, or withdrawing, beyond the bound walks the books
     * once and answers exactly */
    double sum_usd = floor(m_call + m_put) + 10;
    ch_account_id fay, gil;
    ck_assert_int_eq(ch_engine_account_open(eng, "fay", USD(sum_usd), CH_STP_CANCEL_INCOMING, &fay),
                     CH_OK);
    ck_assert_int_eq(ch_engine_account_open(eng, "gil", USD(sum_usd), CH_STP_CANCEL_INCOMING, &gil),
                     CH_OK);
    walks = exact_walks();
    order(fay, C110, CH_SELL, pc, 1, CH_TIF_GTC, CH_OK);
    ch_engine_result fp = order(fay, P90, CH_SELL, pp, 1, CH_TIF_GTC, CH_OK);
    order(gil, C110, CH_SELL, pc, 1, CH_TIF_GTC, CH_OK);
    order(gil, P90, CH_SELL, pp, 1, CH_TIF_GTC, CH_OK);
    expect_walks(walks);                                /* the bound settled all four */
    ck_assert_double_eq_tol(margin(fay), m_both, 1e-6); /* exact, from the books */
    ck_assert_int_eq(ch_engine_replace(eng, fay, fp.id, 2, 0, NULL),
                     m_c2p <= sum_usd ? CH_OK : CH_EMARGIN);
    check_ok();
    expect_walks(walks + 1);
    ck_assert_double_eq_tol(margin(fay), m_c2p <= sum_usd ? m_c2p : m_both, 1e-6);
    double keep = ceil(m_both) + 1; /* below the bound, above the exact margin */
    ck_assert_int_eq(ch_engine_deposit(eng, gil, -USD(sum_usd - keep)), CH_OK);
    check_ok();
    expect_walks(walks + 2);
    ck_assert_double_eq_tol(margin(gil), m_both, 1e-6);
    ck_assert_int_eq(ch_engine_deposit(eng, gil, -USD(2)), CH_EMARGIN);
    expect_walks(walks + 2);
}
END_TEST

/* Accounts are found by name through a hash index: each of 3,000, none that
 * was not opened, the internal ones; "venue" is reserved for the options
 * venue's account. */
START_TEST(accounts_are_found_by_name)
{
    ch_engine_config c = ch_test_engine_config(8, 3010, 64, 64);
    ch_engine *e = ch_engine_create(&c);
    ck_assert_ptr_nonnull(e);
    char name[CH_ACCOUNT_NAME_MAX];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "acct-%d", i);
        ch_account_id id;
        ck_assert_int_eq(ch_engine_account_open(e, name, 0, CH_STP_CANCEL_INCOMING, &id), CH_OK);
        ck_assert_uint_eq(id.v, 3 + (uint32_t)i);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "acct-%d", i);
        ch_account_id id;
        ck_assert_int_eq(ch_engine_account_find(e, name, strlen(name), &id), CH_OK);
        ck_assert_uint_eq(id.v, 3 + (uint32_t)i);
        ck_assert_str_eq(ch_engine_account_name(e, id), name);
    }
    ch_account_id id;
    ck_assert_int_eq(ch_engine_account_find(e, "acct-3000", 9, &id), CH_ENOTFOUND);
    ck_assert_int_eq(ch_engine_account_find(e, "acct-1", 5, &id), CH_ENOTFOUND); /* a prefix */
    ck_assert_int_eq(ch_engine_account_find(e, "pool", 4, &id), CH_OK);
    ck_assert_uint_eq(id.v, CH_ACCOUNT_POOL);
    ck_assert_int_eq(ch_engine_account_open(e, "acct-7", 0, CH_STP_CANCEL_INCOMING, &id),
                     CH_EEXISTS);
    ck_assert_int_eq(ch_engine_account_open(e, "venue", 0, CH_STP_CANCEL_INCOMING, &id),
                     CH_EEXISTS);
    ch_engine_destroy(e);
}
END_TEST

START_TEST(bad_orders_change_nothing)
{
    /* a position query for an account or series that does not exist: 0 */
    ck_assert_int_eq(ch_engine_position(eng, (ch_account_id){40}, C100), 0); /* not opened */
    ck_assert_int_eq(ch_engine_position(eng, (ch_account_id){1u << 30}, C100), 0);
    ck_assert_int_eq(ch_engine_position(eng, alice, (ch_instr_id){1u << 30}), 0);
    int64_t tot0, ext0;
    ch_engine_cash_totals(eng, &tot0, &ext0);
    order(alice, C100, CH_BUY, 5000, 0, CH_TIF_GTC, CH_EBADQTY);
    order(alice, C100, CH_BUY, 5000, -1, CH_TIF_GTC, CH_EBADQTY);
    order(alice, C100, CH_BUY, 2000000, 1, CH_TIF_GTC, CH_EBADPRICE);
    order(alice, (ch_instr_id){60}, CH_BUY, 5000, 1, CH_TIF_GTC, CH_EUNKNOWN_SYMBOL);
    ch_engine_order o = {
        .account = alice, .instr = C100, .side = (ch_side)5, .price = 10, .qty = 1};
    ck_assert_int_eq(ch_engine_submit(eng, &o, NULL), CH_EBADSIDE);
    o.side = CH_BUY;
    o.post_only = true;
    o.tif = CH_TIF_IOC;
    ck_assert_int_eq(ch_engine_submit(eng, &o, NULL), CH_EBADTYPE);
    /* post-only that the pool would fill */
    order(alice, C100, CH_BUY, 100000, 1, CH_TIF_GTC, CH_OK); /* fills from the pool */
    o.tif = CH_TIF_GTC;
    o.price = 200000; /* far above the pool's ask */
    ck_assert_int_eq(ch_engine_submit(eng, &o, NULL), CH_EPOST_ONLY);
    /* a replace to a quantity whose reservation does not fit in 64 bits is
     * unaffordable, not an overflow */
    ch_engine_result rr = order(alice, C100, CH_BUY, 10, 1, CH_TIF_GTC, CH_OK);
    ck_assert_int_eq(ch_engine_replace(eng, alice, rr.id, CH_QTY_MAX, 1999999, NULL), CH_EFUNDS);
    ck_assert_int_eq(ch_engine_cancel(eng, alice, rr.id, NULL), CH_OK);
    /* an underlying whose band top cannot be reserved in 64-bit cash */
    ch_underlying_config big = {
        .name = "ETH", .contract_size = 1.0, .min_price = 1, .max_price = INT64_C(1) << 50};
    ck_assert_int_eq(ch_tick_parse("0.5", 3, &big), CH_OK);
    ck_assert_int_eq(ch_engine_add_underlying(eng, &big, NULL), CH_EBADCONFIG);
    int64_t tot, ext;
    ch_engine_cash_totals(eng, &tot, &ext);
    ck_assert_int_eq(tot, ext);
    ck_assert_int_eq(ext, ext0);
    check_ok();
}
END_TEST

START_TEST(expiry_settles_in_cash)
{
    order(bob, C90, CH_SELL, 11000, 2, CH_TIF_GTC, CH_OK);
    order(alice, C90, CH_BUY, 11000, 2, CH_TIF_GTC, CH_OK);
    order(alice, P90, CH_BUY, 100, 1, CH_TIF_GTC, CH_OK);   /* rests below the pool's bid? */
    order(bob, C100, CH_SELL, 99999, 1, CH_TIF_GTC, CH_OK); /* resting, will be cancelled */
    int64_t a0 = cash(alice), b0 = cash(bob);
    ch_account_info ai;
    ch_engine_account(eng, bob, &ai);
    /* index at expiry 103000: C90 pays 13000 per contract */
    ch_market_update mu = ch_test_market(103000, exp1);
    nsettle = 0;
    ck_assert_int_eq(ch_engine_market(eng, &mu), CH_OK);
    check_ok();
    ck_assert_int_gt(nsettle, 0);
    ck_assert_int_eq(ch_engine_position(eng, alice, C90), 0);
    ck_assert_int_eq(ch_engine_position(eng, bob, C90), 0);
    int64_t released = 0;
    ch_engine_account(eng, alice, &ai);
    released = ai.reserved;
    ck_assert_int_eq(released, 0); /* resting buy cancelled at expiry */
    ck_assert_int_eq(cash(alice) - a0, USD(26000));
    ck_assert_int_eq(cash(bob) - b0, -USD(26000));
    order(alice, C90, CH_BUY, 100, 1, CH_TIF_GTC, CH_EEXPIRED);
    ch_quote q;
    ck_assert_int_eq(ch_engine_quote(eng, C90, CH_BUY, 1, &q), CH_EEXPIRED);
}
END_TEST

START_TEST(lp_shares_at_nav)
{
    ch_pool_info p0;
    ch_engine_pool(eng, &p0);
    ck_assert_int_eq(p0.shares, USD(5e6));
    ck_assert_double_eq_tol(p0.nav_per_share, 1.0, 1e-12);
    /* the pool sells options at a premium over the model: NAV per share rises */
    order(alice, C100, CH_BUY, 100000, 10, CH_TIF_IOC, CH_OK);
    ch_pool_info p1;
    ch_engine_pool(eng, &p1);
    ck_assert_double_gt(p1.nav_per_share, 1.0);
    /* a second LP buys in at NAV: existing holders are not diluted */
    int64_t sh;
    ck_assert_int_eq(ch_engine_pool_deposit(eng, bob, USD(1e6), &sh), CH_OK);
    check_ok();
    ck_assert_int_lt(sh, USD(1e6));
    ch_pool_info p2;
    ch_engine_pool(eng, &p2);
    ck_assert_double_eq_tol(p2.nav_per_share, p1.nav_per_share, 1e-9);
    int64_t got;
    ck_assert_int_eq(ch_engine_pool_withdraw(eng, bob, sh, &got), CH_OK);
    check_ok();
    ck_assert_int_le(got, USD(1e6));
    ck_assert_int_ge(got, USD(1e6) - 2);
    ck_assert_int_eq(ch_engine_pool_withdraw(eng, bob, 1, &got), CH_EFUNDS);
    /* the LPs carry the hedge: its fee lowers NAV per share by fee / shares,
     * and a parity forward's value is theirs too */
    ch_pool_info p3, p4;
    ch_engine_pool(eng, &p3);
    ch_hedge_exec x = {.qty = 2, .price = 100000, .fee = 100};
    ck_assert_int_eq(ch_engine_hedge_fill(eng, 0, &x), CH_OK);
    check_ok();
    ch_engine_pool(eng, &p4);
    ck_assert_double_eq_tol(p4.hedge_value, -100, 1e-9); /* marked at its own price */
    ck_assert_double_eq_tol(p4.nav, p3.nav - 100, 1e-6);
    ck_assert_double_eq_tol(p4.nav_per_share, p4.nav * CH_CASH_SCALE / (double)p4.shares, 1e-12);
    ck_assert_double_eq_tol(p4.nav,
                            (double)p4.cash / CH_CASH_SCALE + p4.inventory_value + p4.house_value +
                                p4.hedge_value,
                            1e-6);
    ck_assert_int_eq(ch_engine_pool_deposit(eng, bob, 0, &got), CH_EINVAL);
    ck_assert_int_eq(ch_engine_pool_deposit(eng, bob, USD(1e9), &got), CH_EFUNDS);
}
END_TEST

START_TEST(replace_keeps_reservations_exact)
{
    ch_engine_result r = order(alice, C110, CH_BUY, 500, 4, CH_TIF_GTC, CH_OK);
    ch_engine_result rr;
    ck_assert_int_eq(ch_engine_replace(eng, alice, r.id, 2, 0, &rr), CH_OK);
    check_ok();
    ck_assert_int_eq(ch_engine_replace(eng, alice, r.id, 0, 1200, &rr), CH_OK); /* ticks */
    check_ok();
    ck_assert_int_eq(ch_engine_replace(eng, bob, r.id, 0, 1200, &rr), CH_ENOT_OWNER);
    ck_assert_int_eq(ch_engine_replace(eng, alice, r.id, 0, 0, &rr), CH_EINVAL);
    ck_assert_int_eq(ch_engine_replace(eng, alice, r.id, 1000000000, 0, &rr), CH_EFUNDS);
    check_ok();
    /* a crossing replace trades with the book */
    order(bob, C110, CH_SELL, 700, 1, CH_TIF_GTC, CH_OK);
    ck_assert_int_eq(ch_engine_replace(eng, alice, r.id, 0, 1400, &rr), CH_OK);
    check_ok();
    ck_assert_int_eq(rr.filled, 1);
    ck_assert_int_eq(ch_engine_position(eng, alice, C110), 1);
    ck_assert_int_eq(ch_engine_cancel(eng, alice, r.id, NULL), CH_OK);
    check_ok();
}
END_TEST

/* A resting order with no level left on its side is refused, whichever way
 * it reaches the book (no source crosses it, or one does but it rests after). */
START_TEST(full_side_refuses_a_new_level)
{
    teardown();
    ch_engine_config cfg = small_cfg();
    cfg.max_levels = 2;
    setup_with(&cfg);
    order(alice, C100, CH_BUY, 100, 1, CH_TIF_GTC, CH_OK);
    order(alice, C100, CH_BUY, 101, 1, CH_TIF_GTC, CH_OK);
    ch_account_info before, after;
    ck_assert_int_eq(ch_engine_account(eng, alice, &before), CH_OK);
    ch_engine_result r = order(alice, C100, CH_BUY, 102, 1, CH_TIF_GTC, CH_ECAPACITY);
    ck_assert_int_eq(r.status, CH_STATUS_REJECTED);
    ck_assert_int_eq(ch_engine_account(eng, alice, &after), CH_OK);
    ck_assert_int_eq(after.reserved, before.reserved);
    ck_assert_int_eq(after.cash, before.cash);
    /* an existing level still takes more */
    order(alice, C100, CH_BUY, 101, 2, CH_TIF_GTC, CH_OK);
}
END_TEST

/* Orders the randomized tests may cancel or replace later (up to `max`). */
typedef struct live_orders {
    ch_order_id id[1024];
    ch_account_id owner[1024];
    int n, max;
} live_orders;

/* Remember a's order if part of it rests. */
static void live_add(live_orders *l, ch_account_id a, const ch_engine_result *res)
{
    if (res->remaining > 0 && l->n < l->max) {
        l->id[l->n] = res->id;
        l->owner[l->n++] = a;
    }
}

/* Cancel the k-th remembered order (it may have traded away) and forget it. */
static void live_cancel(live_orders *l, int k)
{
    ch_engine_cancel(eng, l->owner[k], l->id[k], NULL);
    l->id[k] = l->id[--l->n];
    l->owner[k] = l->owner[l->n];
}

/* Position records are made on first fills; admission keeps room for one per
 * resting order plus the incoming one, so with very few records orders are
 * refused up front (CAPACITY) and every fill still finds its record. */
START_TEST(tight_position_capacity)
{
    teardown();
    ch_engine_config cfg = small_cfg();
    cfg.max_positions = 22; /* 5 series x (house, pool) = 10 at listing */
    setup_with(&cfg);
    ch_account_id acc[3] = {alice, bob, carol};
    ch_instr_id ins[5] = {C100, P100, C90, P90, C110};
    uint64_t rng = 99;
    long ok = 0, capacity = 0;
    static live_orders live;
    live = (live_orders){.max = 64};
    for (int step = 0; step < 3000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(rng >> 33);
        if (live.n > 0 && r % 100 < 35) { /* cancels free admission room */
            live_cancel(&live, (int)((r >> 8) % (unsigned)live.n));
            continue;
        }
        ch_instr_id i = ins[r % 5];
        ch_side side = (ch_side)((r >> 4) & 1);
        ch_quote q;
        if (ch_engine_quote(eng, i, side, 1, &q) != CH_OK)
            continue;
        int64_t off = (int64_t)((r >> 8) % 40) - 20;
        ch_engine_order o = {.account = acc[(r >> 16) % 3],
                             .instr = i,
                             .side = side,
                             .tif = (r >> 20) % 3 == 0 ? CH_TIF_IOC : CH_TIF_GTC,
                             .price = q.price + (side == CH_BUY ? off : -off),
                             .qty = 1 + (int64_t)((r >> 24) % 3)};
        if (o.price < 1)
            o.price = 1;
        ch_engine_result res;
        ch_err err = ch_engine_submit(eng, &o, &res);
        ok += err == CH_OK;
        capacity += err == CH_ECAPACITY;
        if (err == CH_OK)
            live_add(&live, o.account, &res);
        ck_assert_msg(err == CH_OK || err == CH_ECAPACITY || err == CH_EMARGIN || err == CH_EFUNDS,
                      "step %d: %s", step, ch_errname(err));
        ck_assert_msg(ch_engine_check(eng) == CH_OK, "invariants broken at step %d", step);
    }
    ck_assert_int_gt(ok, 100);
    ck_assert_int_gt(capacity, 0);
}
END_TEST

#if defined(CH_AXPY_SSE2) || defined(CH_AXPY_AVX)
/* The same bits in n doubles (not ==: -0.0 and 0.0 differ here). */
static bool same_bits(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x, y;
        memcpy(&x, &a[i], sizeof x);
        memcpy(&y, &b[i], sizeof y);
        if (x != y)
            return false;
    }
    return true;
}
#endif

/* The margin kernels (margin.c): the scalar loop, SSE2 and AVX give the same
 * bits, vector and minimum, on every length the engine pads to. */
START_TEST(margin_kernels_agree_bit_for_bit)
{
    CH_LINE_ALIGNED double x[64], m0[64], m1[64], m2[64];
    uint64_t rng = 99;
    long compared = 0;
    for (int round = 0; round < 2000; round++) {
        size_t n = 8 * (1 + (size_t)round % 8);
        for (size_t i = 0; i < n; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = ((double)(rng >> 11) / 9007199254740992.0 - 0.5) * 1e4;
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            m0[i] = m1[i] = m2[i] = ((double)(rng >> 11) / 9007199254740992.0 - 0.3) * 1e6;
        }
        double k = (double)(round % 21) - 10.0;
        double a = chi_axpy_min_scalar(m0, k, x, n);
        ck_assert(a <= 0);
#if defined(CH_AXPY_SSE2)
        double b = chi_axpy_min_sse2(m1, k, x, n);
        ck_assert(same_bits(&a, &b, 1) && same_bits(m0, m1, n));
        compared++;
#endif
#if defined(CH_AXPY_AVX)
        if (__builtin_cpu_supports("avx")) {
            double c = chi_axpy_min_avx(m2, k, x, n);
            ck_assert(same_bits(&a, &c, 1) && same_bits(m0, m2, n));
            compared++;
        }
#endif
    }
#if defined(CH_AXPY_SSE2)
    ck_assert_int_ge(compared, 2000);
#endif
    (void)m1;
    (void)m2;
    (void)compared;
}
END_TEST

START_TEST(randomized_invariants)
{
    /* three rich accounts, one less so, two near their margin limits */
    ch_account_id acc[8] = {alice, bob, carol};
    const char *names[5] = {"dan", "erin", "frank", "gus", "hal"};
    const double usd[5] = {2e6, 2e6, 2e6, 40000, 150000};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(
            ch_engine_account_open(eng, names[i], USD(usd[i]), (ch_stp)(i % 3), &acc[3 + i]),
            CH_OK);
    ch_instr_id ins[5] = {C100, P100, C90, P90, C110};
    /* strike tranches beside the general pool: one at 90k, one around 100k
     * (overlapping at 95k), funded by an LP who also takes shares out */
    ch_account_id lpt;
    ck_assert_int_eq(ch_engine_account_open(eng, "lpt", USD(5e6), CH_STP_CANCEL_INCOMING, &lpt),
                     CH_OK);
    ch_tranche_spec ts[2] = {{.underlying = 0, .strike_lo = 85000, .strike_hi = 95000},
                             {.underlying = 0, .strike_lo = 95000, .strike_hi = 105000}};
    for (uint32_t t = 0; t < 2; t++) {
        uint32_t id;
        ck_assert_int_eq(ch_engine_tranche_add(eng, &ts[t], &id), CH_OK);
        ck_assert_int_eq(ch_engine_tranche_deposit(eng, lpt, id, USD(300000), NULL), CH_OK);
    }
    long option_hedges = 0;
    uint64_t rng = 4242;
    static live_orders live;
    live = (live_orders){.max = 512};
    long ok = 0, rejected = 0, hedges = 0, hours = 0;
    for (int step = 0; step < 20000; step++) {
        /* the middle part without a sink: the book then delivers only fills
         * and cancels, and the engine keeps its own count of new orders */
        if (step == 8000)
            ch_engine_set_sink(eng, NULL, NULL);
        else if (step == 14000)
            ch_engine_set_sink(eng, on_ev, NULL);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(rng >> 33);
        if (r % 100 < 70 || live.n == 0) {
            ch_account_id a = acc[r % 8];
            ch_instr_id i = ins[(r >> 3) % 5];
            ch_side side = (ch_side)((r >> 6) & 1);
            ch_greeks g;
            const ch_instrument *in = ch_instruments_get(ch_engine_instruments(eng), i);
            ch_bs(in->sym.kind == CH_PUT ? CH_OPT_PUT : CH_OPT_CALL, 100000, (double)in->sym.strike,
                  years(), 0, 0, 0.5, &g);
            double off = g.price * (((double)((r >> 8) % 41) - 20.0) / 100.0);
            double px = side == CH_BUY ? g.price - off : g.price + off;
            px = floor(px / TICK) * TICK;
            if (px < TICK)
                px = TICK;
            ch_tif tif = (ch_tif)((r >> 14) % 4 == 0   ? CH_TIF_IOC
                                  : (r >> 14) % 9 == 1 ? CH_TIF_FOK
                                                       : CH_TIF_GTC);
            ch_engine_order o = {.account = a,
                                 .instr = i,
                                 .side = side,
                                 .tif = tif,
                                 .price = (int64_t)llround(px / TICK),
                                 .qty = 1 + (int64_t)((r >> 18) % 6)};
            ch_engine_result res;
            ch_err e = ch_engine_submit(eng, &o, &res);
            if (e == CH_OK) {
                ok++;
                if (tif == CH_TIF_FOK)
                    ck_assert_msg(res.filled == o.qty, "FOK filled %lld of %lld at step %d",
                                  (long long)res.filled, (long long)o.qty, step);
                live_add(&live, a, &res);
            } else {
                rejected++;
            }
        } else if (r % 100 < 85) {
            live_cancel(&live, (int)((r >> 8) % (unsigned)live.n));
        } else if (r % 100 < 95) {
            int k = (int)((r >> 8) % (unsigned)live.n);
            ch_engine_result res;
            ch_engine_replace(eng, live.owner[k], live.id[k], 1 + (r >> 20) % 4, 0, &res);
        } else if (r % 100 < 98) {
            /* market moves: index and vol */
            double idx = 100000 * (1 + (((double)((r >> 8) % 21)) - 10) / 1000);
            mark(idx, 0.45 + (double)((r >> 16) % 10) / 100);
        } else if (r % 2 == 1 && (r >> 24) % 2 == 0) {
            /* a vega hedge at the options venue, or an LP in or out of a tranche */
            ch_instr_id i = ins[(r >> 8) % 5];
            int64_t q = (int64_t)((r >> 12) % 5) - 2;
            if ((r >> 16) % 3 == 0) {
                uint32_t id = 1 + (r >> 18) % 2;
                if ((r >> 20) % 2 == 0)
                    ch_engine_tranche_deposit(eng, lpt, id, USD(10000), NULL);
                else
                    ch_engine_tranche_withdraw(eng, lpt, id, USD(5000), NULL);
            } else if (q != 0) {
                ck_assert_int_eq(
                    ch_engine_option_hedge_fill(eng, i, q, 2000 + (r >> 16) % 50, USD(3)), CH_OK);
                option_hedges++;
            }
        } else if (r % 2 == 0) {
            /* the hedge: a perp fill with its fee, booked into the LPs' NAV */
            double px = 100000 * (1 + (((double)((r >> 8) % 11)) - 5) / 2000);
            ch_hedge_exec x = {.qty = ((double)((r >> 12) % 17) - 8) / 4, .price = px};
            x.fee = fabs(x.qty) * px * 5e-4;
            ck_assert_int_eq(ch_engine_hedge_fill(eng, 0, &x), CH_OK);
            hedges++;
        } else {
            /* an hour on, the perp off the index, funding paid on the hedge */
            hours++;
            double idx = 100000 * (1 + (((double)((r >> 8) % 21)) - 10) / 1000);
            ch_time e1[1] = {exp1};
            double k[1] = {0}, v[1] = {0.5};
            ch_market_update mu = {.underlying = 0,
                                   .index = idx,
                                   .rate = 0,
                                   .funding_rate = ((double)((r >> 16) % 7) - 3) * 1e-4,
                                   .perp = idx * (1 + ((double)((r >> 20) % 5) - 2) * 1e-4),
                                   .time = now0 + hours * 3600 * CH_NS_PER_SEC,
                                   .n_marks = 1,
                                   .mark_expiry = e1,
                                   .mark_strike = k,
                                   .mark_vol = v};
            ck_assert_int_eq(ch_engine_market(eng, &mu), CH_OK);
        }
        ck_assert_msg(ch_engine_check(eng) == CH_OK, "invariants broken at step %d", step);
    }
    ck_assert_int_gt(ok, 1000);
    ch_netting n;
    ch_engine_netting(eng, &n);
    ck_assert_int_gt(n.lots[CH_SRC_BOOK], 0);
    ck_assert_int_gt(n.lots[CH_SRC_NET], 0);
    ck_assert_int_gt(n.lots[CH_SRC_POOL], 0);
    const ch_hedge_book *hb = ch_engine_hedge_book(eng, 0);
    ck_assert_int_gt(hedges, 50);
    ck_assert_int_gt(option_hedges, 10);
    for (uint32_t t = 1; t <= 2; t++) { /* the tranches took part */
        ch_tranche_info ti;
        ck_assert_int_eq(ch_engine_tranche(eng, t, &ti), CH_OK);
        ck_assert(ti.inventory_value != 0 || ti.cash != USD(300000));
    }
    ck_assert_double_gt(hb->fees, 0);
    ck_assert_double_ne(hb->funding, 0); /* funding boundaries were crossed */
    ch_pool_info pi;
    ch_engine_pool(eng, &pi);
    ck_assert_double_ne(pi.hedge_value, 0);
    ck_assert_double_ne(pi.house_value, 0);
    fprintf(stderr,
            "engine random: %ld accepted, %ld rejected; lots book %lld net %lld pool %lld\n", ok,
            rejected, (long long)n.lots[0], (long long)n.lots[1], (long long)n.lots[2]);
#ifdef CH_ENGINE_SELF_CHECK
    extern unsigned long ch_engine_self_checks;
    extern unsigned long ch_engine_exact_walks, ch_engine_exact_free;
    fprintf(stderr,
            "engine self-checks: %lu shortcuts verified; accounts made exact between "
            "revaluations: %lu by a walk of the books, %lu without resting sells\n",
            ch_engine_self_checks, ch_engine_exact_walks, ch_engine_exact_free);
    ck_assert_uint_gt(ch_engine_self_checks, 1000);
#endif
    /* expiry settles everything */
    ch_market_update mu = ch_test_market(101234.5, exp1 + 1);
    ck_assert_int_eq(ch_engine_market(eng, &mu), CH_OK);
    check_ok();
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 5; k++)
            ck_assert_int_eq(ch_engine_position(eng, acc[i], ins[k]), 0);
}
END_TEST

/*
 * Margin holds of resting sells under churn: accounts from 20k to 400k USD
 * rest sells (mostly above the market), cancel them, see them taken, through
 * revaluations; some stay far from their limits (integer bound), some come
 * close (exact vector), some cross over between revaluations. Invariants
 * (vectors and bounds match the books) after every operation; in the
 * self-check build every fast margin answer is compared with the exact one.
 */
START_TEST(randomized_margin_holds)
{
    enum { NA = 12 };
    ch_account_id acc[NA];
    for (int i = 0; i < NA; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        ck_assert_int_eq(ch_engine_account_open(eng, name, USD(20000 * pow(1.5, i)),
                                                CH_STP_CANCEL_INCOMING, &acc[i]),
                         CH_OK);
    }
    ch_instr_id ins[5] = {C100, P100, C90, P90, C110};
    uint64_t rng = 99;
    unsigned long walks = exact_walks();
    static live_orders live;
    live = (live_orders){.max = 1024};
    long ok = 0, margin_rejects = 0, taken = 0;
    for (int step = 0; step < 12000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(rng >> 33);
        unsigned kind = r % 100;
        ch_instr_id i = ins[(r >> 8) % 5];
        const ch_instrument *in = ch_instruments_get(ch_engine_instruments(eng), i);
        ch_greeks g;
        ch_bs(in->sym.kind == CH_PUT ? CH_OPT_PUT : CH_OPT_CALL, 100000, (double)in->sym.strike,
              years(), 0, 0, 0.5, &g);
        if (kind < 65 || live.n == 0) {
            /* a resting order: mostly sells above the market, some bids */
            ch_account_id a = acc[(r >> 12) % NA];
            ch_side side = kind < 55 ? CH_SELL : CH_BUY;
            double off = g.price * (0.05 + (double)((r >> 16) % 30) / 100.0);
            double px = floor((side == CH_SELL ? g.price + off : g.price - off) / TICK) * TICK;
            ch_engine_order o = {.account = a,
                                 .instr = i,
                                 .side = side,
                                 .tif = CH_TIF_GTC,
                                 .price = (int64_t)llround(fmax(px, TICK) / TICK),
                                 .qty = 1 + (int64_t)((r >> 22) % 3)};
            ch_engine_result res;
            ch_err e = ch_engine_submit(eng, &o, &res);
            ok += e == CH_OK;
            margin_rejects += e == CH_EMARGIN;
            if (e == CH_OK)
                live_add(&live, a, &res);
        } else if (kind < 90) {
            live_cancel(&live, (int)((r >> 8) % (unsigned)live.n));
        } else if (kind < 98) {
            /* someone takes what rests: bob's IOC buy well above the market */
            ch_engine_order o = {.account = bob,
                                 .instr = i,
                                 .side = CH_BUY,
                                 .tif = CH_TIF_IOC,
                                 .price = (int64_t)llround(floor(g.price * 1.4 / TICK)),
                                 .qty = 1 + (int64_t)((r >> 22) % 4)};
            ch_engine_result res;
            if (ch_engine_submit(eng, &o, &res) == CH_OK)
                taken += res.by_source[CH_SRC_BOOK];
        } else {
            mark(100000 * (1 + (((double)((r >> 8) % 21)) - 10) / 500),
                 0.45 + (double)((r >> 16) % 10) / 100);
        }
        ck_assert_msg(ch_engine_check(eng) == CH_OK, "invariants broken at step %d", step);
    }
    fprintf(stderr, "margin holds: %ld accepted, %ld refused for margin, %ld lots taken\n", ok,
            margin_rejects, taken);
    ck_assert_int_gt(ok, 1000);
    ck_assert_int_gt(margin_rejects, 100);
    ck_assert_int_gt(taken, 100);
#ifdef CH_ENGINE_SELF_CHECK
    fprintf(stderr, "margin holds: %lu accounts made exact by a walk of the books\n",
            exact_walks() - walks);
    ck_assert_uint_ge(exact_walks() - walks, 10);
#else
    (void)walks;
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("sources");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, direct_fill_leaves_house_flat);
    tcase_add_test(tc, accounts_are_found_by_name);
    TCase *tn = tcase_create("no_pool");
    tcase_add_checked_fixture(tn, setup_nopool, teardown);
    tcase_set_timeout(tn, 60);
    tcase_add_test(tn, expiry_settles_in_cash);
    tcase_add_test(tn, replace_keeps_reservations_exact);
    suite_add_tcase(s, tn);
    tcase_add_test(tc, parity_fill_books_a_forward);
    tcase_add_test(tc, pool_quotes_model_plus_premium);
    tcase_add_test(tc, zero_parameters_quote_the_model);
    tcase_add_test(tc, mixed_sweep_book_net_pool);
    tcase_add_test(tc, ties_prefer_book_then_net);
    tcase_add_test(tc, dynamic_pricing);
    tcase_add_test(tc, limits_cut_fills);
    tcase_add_test(tc, funds_and_margin);
    tcase_add_test(tc, resting_sells_count_as_if_filled);
    tcase_add_test(tc, bad_orders_change_nothing);
    tcase_add_test(tc, lp_shares_at_nav);
    tcase_add_test(tc, randomized_invariants);
    tcase_add_test(tc, margin_kernels_agree_bit_for_bit);
    tcase_add_test(tc, randomized_margin_holds);
    tcase_add_test(tc, full_side_refuses_a_new_level);
    tcase_add_test(tc, tight_position_capacity);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
