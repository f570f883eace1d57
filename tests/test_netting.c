/*
 * test_netting.c - risk-aware internal netting (issue 16): a parity fill is
 * chosen and priced by its marginal hedge cost on the house's whole book.
 * An adding forward pays, an offsetting one is rebated, a fill that crosses
 * zero is split there, the house's delta limit refuses, hedge fills reach
 * the engine as logged commands, and the dealer baseline counts both legs.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "ch/command.h"
#include "ch/engine.h"
#include "ch_check.h"
#include "fixtures.h"

#define USD(x) ((int64_t)((x)*CH_CASH_SCALE))
#define TICK   0.5

static ch_engine *eng;
static ch_instr_id C90, P90;
static ch_account_id alice, bob, carol, dave;
static ch_fill fills[64];
static int nfills;

static void on_ev(void *ctx, const ch_engine_event *ev)
{
    (void)ctx;
    if (ev->type == CH_EE_FILL && nfills < 64)
        fills[nfills++] = ev->fill;
}

static void open_acct(const char *name, ch_account_id *id)
{
    ck_assert_int_eq(ch_engine_account_open(eng, name, USD(10e6), CH_STP_CANCEL_INCOMING, id),
                     CH_OK);
}

/* One December expiry, a flat 50 % smile at index 100,000, r = q = 0, the pool
 * off: the only internal source is parity. The venue: 5 bps fee + 1 bp
 * impact, in and out: 120 USD per unit of delta at F = 100,000. */
static bool g_pool, g_forward_funding;

static void start(double delta_limit)
{
    ch_engine_config c = ch_test_engine_config(16, 16, 1024, 1024);
    c.pool.enabled = g_pool;
    c.forward_funding = g_forward_funding;
    c.risk_aware = true;
    c.hedge_fee_bps = 5;
    c.hedge_impact_bps = 1;
    c.house_delta_limit = delta_limit;
    eng = ch_engine_create(&c);
    ck_assert_ptr_nonnull(eng);
    ch_engine_set_sink(eng, on_ev, NULL);
    ch_underlying_config u = ch_test_btc();
    ck_assert_int_eq(ch_engine_add_underlying(eng, &u, NULL), CH_OK);
    ch_time now, exp1;
    ck_assert_int_eq(ch_date_to_time(2026, 11, 25, &now), CH_OK);
    ck_assert_int_eq(ch_engine_advance(eng, now), CH_OK);
    ck_assert_int_eq(ch_date_to_time(2026, 12, 25, &exp1), CH_OK);
    exp1 += 8 * 3600 * CH_NS_PER_SEC;
    ck_assert_int_eq(ch_engine_list(eng, "BTC-25DEC26-90000-C", 19, &C90), CH_OK);
    ck_assert_int_eq(ch_engine_list(eng, "BTC-25DEC26-90000-P", 19, &P90), CH_OK);
    ck_assert_int_eq(ch_test_mark(eng, 100000, exp1, 0.5), CH_OK);
    open_acct("alice", &alice);
    open_acct("bob", &bob);
    open_acct("carol", &carol);
    open_acct("dave", &dave);
}

static void stop(void)
{
    ck_assert_int_eq(ch_engine_check(eng), CH_OK);
    ch_engine_destroy(eng);
}

static ch_engine_result order(ch_account_id a, ch_instr_id i, ch_side side, double price,
                              int64_t qty, ch_tif tif)
{
    ch_engine_order o = {.account = a,
                         .instr = i,
                         .side = side,
                         .tif = tif,
                         .price = (int64_t)llround(price / TICK),
                         .qty = qty};
    ch_engine_result r;
    nfills = 0;
    ck_assert_int_eq(ch_engine_submit(eng, &o, &r), CH_OK);
    ck_assert_int_eq(ch_engine_check(eng), CH_OK);
    return r;
}

/* ticks of a USD price */
static int64_t T(double usd)
{
    return (int64_t)llround(usd / TICK);
}

START_TEST(adding_pays_offsetting_is_rebated_and_zero_splits)
{
    start(0);
    /* the house is flat; alice buys 3 calls against bob's put ask: the house
     * goes short 3 forwards (delta -3), which it must hedge: +120 USD a lot
     * on top of parity (1500 + 10000) and the 1-tick fee */
    order(bob, P90, CH_SELL, 1500, 3, CH_TIF_GTC);
    ch_engine_result r = order(alice, C90, CH_BUY, 12000, 3, CH_TIF_IOC);
    ck_assert_int_eq(r.by_source[CH_SRC_NET], 3);
    ck_assert_int_eq(fills[0].price, T(11500 + 120) + 1);
    ck_assert_double_eq_tol(ch_engine_house_delta(eng, 0), -3, 1e-9);
    /* carol sells 5 calls against dave's put bid: the first 3 take the house
     * back to zero (rebated 120 a lot), the other 2 add (pay 120): split */
    order(dave, P90, CH_BUY, 1400, 5, CH_TIF_GTC);
    r = order(carol, C90, CH_SELL, 10000, 5, CH_TIF_IOC);
    ck_assert_int_eq(r.by_source[CH_SRC_NET], 5);
    ck_assert_int_eq(nfills, 2);
    ck_assert_int_eq(fills[0].qty, 3);
    ck_assert_int_eq(fills[0].price, T(11400 + 120) - 1);
    ck_assert_int_eq(fills[1].qty, 2);
    ck_assert_int_eq(fills[1].price, T(11400 - 120) - 1);
    ck_assert_double_eq_tol(ch_engine_house_delta(eng, 0), 2, 1e-9);
    /* the dealer baseline counts both customers of each parity fill: the
     * call's |delta| and the put's add up to the forward's 1 a lot (r = q =
     * 0), 8 lots in all; the taker-leg count is the calls' alone */
    ch_netting n;
    ch_engine_netting(eng, &n);
    ck_assert_double_eq_tol(n.dealer_delta, 8, 1e-9);
    ck_assert(n.gross_delta > 4 && n.gross_delta < 8);
    stop();
}
END_TEST

START_TEST(a_hedge_fill_reaches_the_engine_through_the_log)
{
    start(0);
    order(bob, P90, CH_SELL, 1500, 2, CH_TIF_GTC);
    order(alice, C90, CH_BUY, 12000, 2, CH_TIF_IOC); /* house delta -2 */
    /* the hedge buys 2 on the perp: a logged command, as chd and replay apply it */
    ch_command c;
    memset(&c, 0, sizeof c);
    c.type = CH_C_HEDGE;
    c.hedge.underlying = 0;
    c.hedge.qty = 2;
    c.hedge.price = 100000;
    ch_command_result res;
    ck_assert_int_eq(ch_command_apply(eng, &c, &res), CH_OK);
    ck_assert_double_eq_tol(ch_engine_hedge_position(eng, 0), 2, 1e-12);
    ck_assert_double_eq_tol(ch_engine_house_delta(eng, 0), 0, 1e-9);
    /* a rejected report books nothing; a filled one does */
    c.type = CH_C_HEDGE_REPORT;
    c.hedge.filled = false;
    ck_assert_int_eq(ch_command_apply(eng, &c, &res), CH_OK);
    ck_assert_double_eq_tol(ch_engine_hedge_position(eng, 0), 2, 1e-12);
    c.hedge.filled = true;
    c.hedge.qty = -0.5;
    ck_assert_int_eq(ch_command_apply(eng, &c, &res), CH_OK);
    ck_assert_double_eq_tol(ch_engine_hedge_position(eng, 0), 1.5, 1e-12);
    c.hedge.underlying = 7;
    ck_assert_int_eq(ch_command_apply(eng, &c, &res), CH_EUNKNOWN_UNDERLYING);
    /* flat again (+1.5 - 2 < 0 is -0.5): the next adding fill pays */
    order(bob, P90, CH_SELL, 1500, 1, CH_TIF_GTC);
    order(alice, C90, CH_BUY, 12000, 1, CH_TIF_IOC);
    ck_assert_int_eq(fills[0].price, T(11500 + 120) + 1);
    stop();
}
END_TEST

START_TEST(the_delta_limit_refuses)
{
    start(2);
    order(bob, P90, CH_SELL, 1500, 3, CH_TIF_GTC);
    ch_engine_result r = order(alice, C90, CH_BUY, 12000, 3, CH_TIF_IOC);
    /* two lots take the house to its limit (-2); the third is refused */
    ck_assert_int_eq(r.by_source[CH_SRC_NET], 2);
    ck_assert_int_eq(r.filled, 2);
    ck_assert_double_eq_tol(ch_engine_house_delta(eng, 0), -2, 1e-9);
    /* what takes delta off the house is never refused */
    order(dave, P90, CH_BUY, 1400, 4, CH_TIF_GTC);
    r = order(carol, C90, CH_SELL, 10000, 2, CH_TIF_IOC);
    ck_assert_int_eq(r.by_source[CH_SRC_NET], 2);
    ck_assert_double_eq_tol(ch_engine_house_delta(eng, 0), 0, 1e-9);
    stop();
}
END_TEST

START_TEST(the_forward_comes_from_the_perp)
{
    /* by default the index plus the perp's basis, as the marks price options */
    start(0);
    ch_market_update m0 = {
        .underlying = 0, .index = NAN, .rate = NAN, .funding_rate = 0.0001, .perp = 100050};
    ck_assert_int_eq(ch_engine_market(eng, &m0), CH_OK);
    order(bob, P90, CH_SELL, 1500, 1, CH_TIF_GTC);
    order(alice, C90, CH_BUY, 20000, 1, CH_TIF_IOC);
    double F0 = 100050;
    ck_assert(labs(fills[0].price - (T(1500 + (F0 - 90000) + 2 * 6e-4 * F0) + 1)) <= 2);
    stop();
    /* with forward_funding, the expected funding to expiry too */
    g_forward_funding = true;
    start(0);
    g_forward_funding = false;
    /* expected funding 0.01 % per 8 h for 30 days = 0.9 %, and a perp 50
     * over the index: F = 100,000 x 1.009 + 50 = 100,950 */
    ch_market_update mu = {
        .underlying = 0, .index = NAN, .rate = NAN, .funding_rate = 0.0001, .perp = 100050};
    ck_assert_int_eq(ch_engine_market(eng, &mu), CH_OK);
    ck_assert_double_eq_tol(ch_engine_expected_funding(eng, 0), 0.0001, 1e-15);
    order(bob, P90, CH_SELL, 1500, 1, CH_TIF_GTC);
    order(alice, C90, CH_BUY, 20000, 1, CH_TIF_IOC);
    double F = 100000 * (1 + 0.0001 * 3 * 30.333333) + 50; /* to 25 Dec 08:00 */
    double want = 1500 + (F - 90000) + 2 * 6e-4 * F;
    ck_assert(labs(fills[0].price - (T(want) + 1)) <= 2);
    stop();
}
END_TEST

/* The pool's quote has the same delta term: adding delta pays, reducing is rebated. */
START_TEST(the_pool_quote_has_a_delta_term)
{
    g_pool = true;
    start(0);
    g_pool = false;
    ch_quote q;
    /* a customer buying the call leaves the house short its delta: pays */
    ck_assert_int_eq(ch_engine_quote(eng, C90, CH_BUY, 1, &q), CH_OK);
    ck_assert(q.hedge_cost > 0);
    double delta = q.hedge_cost / (2 * 6e-4 * 100000); /* |delta| of one call */
    ck_assert(delta > 0.5 && delta < 1);
    /* the house long 5 on the perp: the same trade now takes delta off it */
    ch_hedge_exec x = {.qty = 5, .price = 100000};
    ck_assert_int_eq(ch_engine_hedge_fill(eng, 0, &x), CH_OK);
    ch_quote r;
    ck_assert_int_eq(ch_engine_quote(eng, C90, CH_BUY, 1, &r), CH_OK);
    ck_assert_double_eq_tol(r.hedge_cost, -q.hedge_cost, 1e-9);
    ck_assert_int_lt(r.price, q.price);
    stop();
}
END_TEST

/* The pool's quotes are cached per series and side; a move of the house's
 * delta must reach an order that only the moved quote fills (the cache's
 * bound covers the delta term). */
START_TEST(a_moved_delta_term_reaches_the_cached_quote)
{
    g_pool = true;
    start(0);
    g_pool = false;
    ch_quote q;
    ck_assert_int_eq(ch_engine_quote(eng, C90, CH_BUY, 1, &q), CH_OK);
    ck_assert(q.hedge_cost > 0);
    /* a bid 1 tick under the pool's ask rests: the quote is now cached */
    double under = (double)(q.price - 1) * TICK;
    ch_engine_result r = order(alice, C90, CH_BUY, under, 1, CH_TIF_GTC);
    ck_assert_int_eq(r.filled, 0);
    /* the house long 5 on the perp: buying the call now takes delta off it,
     * and the pool's ask falls by twice the hedge cost */
    ch_hedge_exec x = {.qty = 5, .price = 100000};
    ck_assert_int_eq(ch_engine_hedge_fill(eng, 0, &x), CH_OK);
    ch_quote q2;
    ck_assert_int_eq(ch_engine_quote(eng, C90, CH_BUY, 1, &q2), CH_OK);
    ck_assert_int_le(q2.price, q.price - 2);
    /* bob bids what alice bid: the moved quote fills him, from the pool */
    r = order(bob, C90, CH_BUY, under, 1, CH_TIF_IOC);
    ck_assert_int_eq(r.filled, 1);
    ck_assert_int_eq(r.by_source[CH_SRC_POOL], 1);
    ck_assert_int_eq(fills[0].price, q2.price);
    stop();
}
END_TEST

/* Whalley-Wilmott's inputs for chd's hedger: the residual's net gamma and
 * its gamma-weighted years to expiry. */
START_TEST(the_gamma_horizon_of_the_residual)
{
    g_pool = true;
    start(0);
    g_pool = false;
    double g, years;
    ck_assert_int_eq(ch_engine_gamma_horizon(eng, 0, &g, &years), CH_OK);
    ck_assert_double_eq(g, 0);
    ck_assert_double_eq_tol(years, 30.0 / 365, 1e-12); /* nothing held: 30 days */
    int64_t shares;
    ck_assert_int_eq(ch_engine_pool_deposit(eng, dave, USD(1e6), &shares), CH_OK);
    order(alice, C90, CH_BUY, 20000, 3, CH_TIF_IOC); /* the pool sells 3 calls */
    ck_assert_int_eq(nfills > 0, 1);
    ck_assert_int_eq(ch_engine_gamma_horizon(eng, 0, &g, &years), CH_OK);
    ck_assert(g < 0); /* short calls: short gamma */
    ch_time now, exp1;
    ck_assert_int_eq(ch_date_to_time(2026, 11, 25, &now), CH_OK);
    ck_assert_int_eq(ch_date_to_time(2026, 12, 25, &exp1), CH_OK);
    exp1 += 8 * 3600 * CH_NS_PER_SEC;
    ck_assert_double_eq_tol(years, ch_years(now, exp1), 1e-12); /* one expiry: its time */
    ck_assert_int_eq(ch_engine_gamma_horizon(eng, 9, &g, &years), CH_EUNKNOWN_UNDERLYING);
    stop();
}
END_TEST

/* One hedge decision on the house's net delta, its fills booked into the
 * engine as chd books them. @return the signed quantity traded. */
static double hedge_step(ch_hedger *h, double index)
{
    ch_hedge_inputs in = {.now = ch_engine_now(eng),
                          .net_delta = ch_engine_net_delta(eng, 0),
                          .spot = index,
                          .vol = 0.5};
    double sent = 0;
    ck_assert_int_eq(ch_engine_gamma_horizon(eng, 0, &in.gamma, &in.tau), CH_OK);
    ck_assert_int_eq(ch_hedger_on_batch(h, &in, index, &sent), CH_OK);
    ch_hedge_report r;
    while (ch_hedger_take_reports(h, &r, 1) == 1) {
        ck_assert(ch_hedger_settle(h, &r));
        ck_assert_int_eq(ch_engine_hedge_fill(eng, 0, &r.exec), CH_OK);
    }
    ck_assert_int_eq(ch_engine_check(eng), CH_OK);
    return sent;
}

/* Static hedges stay static: parity forwards have no gamma, so however the
 * index moves the policy sends nothing after the first hedge; at expiry the
 * forwards settle in cash and the unwind is one order on the net delta. */
START_TEST(forwards_are_not_churned_and_unwind_once)
{
    start(0);
    ch_perp_venue v;
    ch_perp_venue_defaults(&v);
    ch_hedge_policy p;
    ch_hedge_policy_defaults(&p);
    p.kind = CH_HEDGE_EVERY_BATCH; /* the most eager policy: any drift would trade */
    ch_hedge_adapter a;
    ck_assert_int_eq(ch_hedge_adapter_sim(&v, &a), CH_OK);
    ch_hedger *h = ch_hedger_create(&p, a);
    order(bob, P90, CH_SELL, 1500, 3, CH_TIF_GTC);
    order(alice, C90, CH_BUY, 12000, 3, CH_TIF_IOC); /* the house: short 3 forwards */
    ck_assert_double_eq_tol(hedge_step(h, 100000), 3, 1e-9);
    ch_time now = ch_engine_now(eng), exp1;
    ck_assert_int_eq(ch_date_to_time(2026, 12, 25, &exp1), CH_OK);
    exp1 += 8 * 3600 * CH_NS_PER_SEC;
    uint64_t rng = 7;
    for (int i = 0; i < 200; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        double index = 70000 + (double)(rng >> 40) / (double)(1ull << 24) * 60000;
        now += 3 * 3600 * CH_NS_PER_SEC; /* 25 days in all, up to the expiry */
        ch_market_update mu = ch_test_market(index, now);
        mu.funding_rate = 1e-4;
        mu.perp = index;
        ck_assert_int_eq(ch_engine_market(eng, &mu), CH_OK);
        ck_assert_double_eq(hedge_step(h, index), 0);
    }
    ck_assert_uint_eq(ch_hedger_book(h)->orders, 1);
    ck_assert_double_eq_tol(ch_engine_house_delta(eng, 0), 0, 1e-9);
    /* expiry: the forwards settle in cash; one order takes the perp back */
    ch_market_update mu = ch_test_market(95000, exp1);
    mu.perp = 95000;
    ck_assert_int_eq(ch_engine_market(eng, &mu), CH_OK);
    ck_assert_double_eq_tol(ch_engine_net_delta(eng, 0), 0, 1e-9);
    ck_assert_double_eq_tol(hedge_step(h, 95000), -3, 1e-9);
    ck_assert_uint_eq(ch_hedger_book(h)->orders, 2);
    ck_assert_double_eq_tol(ch_engine_hedge_position(eng, 0), 0, 1e-12);
    const ch_hedge_book *b = ch_engine_hedge_book(eng, 0);
    ck_assert_double_lt(b->funding, 0); /* long the perp at positive funding: paid */
    ch_hedger_destroy(h);
    stop();
}
END_TEST

/* The stored configuration carries the risk-aware settings, and a store
 * written without them still reads (no tail unless risk-aware), as price
 * alone. */
START_TEST(the_config_record_carries_risk_aware)
{
    ch_engine_config a, b;
    ch_engine_defaults(&a);
    ck_assert(a.risk_aware); /* the default */
    a.risk_aware = false;    /* as every store before it was */
    uint8_t buf[1024], old[1024];
    size_t n_old = ch_config_encode(&a, old, sizeof old);
    ck_assert_uint_gt(n_old, 0);
    a.risk_aware = true;
    a.forward_funding = true;
    a.house_delta_limit = 25;
    a.hedge_impact_bps = 2.5;
    size_t n = ch_config_encode(&a, buf, sizeof buf);
    ck_assert_uint_eq(n, n_old + 1 + 4 * 8);
    ck_assert_int_eq(ch_config_decode(buf, n, &b), CH_OK);
    ck_assert(b.risk_aware && b.forward_funding && !b.pool.no_limits);
    ck_assert_double_eq(b.house_delta_limit, 25);
    ck_assert_double_eq(b.hedge_impact_bps, 2.5);
    ck_assert_int_eq(ch_config_decode(old, n_old, &b), CH_OK);
    ck_assert(!b.risk_aware && !b.forward_funding);
    /* a damaged tail is refused */
    buf[n_old] = 0;
    ck_assert_int_eq(ch_config_decode(buf, n, &b), CH_EBADREQ);
    ck_assert_int_eq(ch_config_decode(buf, n_old + 3, &b), CH_EBADREQ);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("netting");
    TCase *tc = tcase_create("risk-aware");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, adding_pays_offsetting_is_rebated_and_zero_splits);
    tcase_add_test(tc, a_hedge_fill_reaches_the_engine_through_the_log);
    tcase_add_test(tc, the_delta_limit_refuses);
    tcase_add_test(tc, the_forward_comes_from_the_perp);
    tcase_add_test(tc, the_pool_quote_has_a_delta_term);
    tcase_add_test(tc, a_moved_delta_term_reaches_the_cached_quote);
    tcase_add_test(tc, the_gamma_horizon_of_the_residual);
    tcase_add_test(tc, forwards_are_not_churned_and_unwind_once);
    tcase_add_test(tc, the_config_record_carries_risk_aware);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
