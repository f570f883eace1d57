/*
 * test_tranche.c - strike tranches (issue 18): LP capital for some strikes
 * takes the pool's side of trades there, pro rata to free capital by
 * largest remainder, then the general pool; each tranche's NAV moves with
 * its strikes only; the house's value is shared by delta contribution and
 * adds up; utilisation raises the premium; withdrawals stop at what open
 * risk leaves free; everything survives a replay of the command log.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/command.h"
#include "ch/engine.h"
#include "ch_check.h"
#include "fixtures.h"

#define USD(x) ((int64_t)((x)*CH_CASH_SCALE))

static ch_engine *eng;
static ch_instr_id C90, C100, C110;
static ch_account_id alice, lp1, lp2, lp3;
static ch_time exp1;
static ch_fill fills[64];
static int nfills;
/* every command applied, for the replay test */
static ch_command *g_log;
static size_t g_n;

static void on_ev(void *ctx, const ch_engine_event *ev)
{
    (void)ctx;
    if (ev->type == CH_EE_FILL && nfills < 64)
        fills[nfills++] = ev->fill;
}

/* Apply a command (logged) and check the engine. */
static ch_err apply(ch_command c, ch_command_result *r)
{
    g_log[g_n++] = c;
    ch_command_result tmp;
    ch_err e = ch_command_apply(eng, &c, r != NULL ? r : &tmp);
    ck_assert_int_eq(ch_engine_check(eng), CH_OK);
    return e;
}

static ch_engine *make(bool risk_aware)
{
    ch_engine_config c = ch_test_engine_config(16, 16, 1024, 1024);
    c.risk_aware = risk_aware;
    ch_engine *e = ch_engine_create(&c);
    ck_assert_ptr_nonnull(e);
    return e;
}

static ch_account_id open_acct(const char *name)
{
    ch_command c = ch_command_make(CH_C_ACCOUNT_OPEN);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.amount = USD(20e6);
    ch_command_result r;
    ck_assert_int_eq(apply(c, &r), CH_OK);
    return r.account;
}

static ch_instr_id list(const char *sym)
{
    ch_command c = ch_command_make(CH_C_LIST);
    snprintf(c.symbol, sizeof c.symbol, "%s", sym);
    ch_command_result r;
    ck_assert_int_eq(apply(c, &r), CH_OK);
    return r.instr;
}

/* The index, and a vol per strike (90k, 100k, 110k) for the one expiry. */
static void mark(double index, double v90, double v100, double v110)
{
    ch_command c = ch_command_make(CH_C_MARKET);
    c.market.underlying = 0;
    c.market.index = index;
    c.market.rate = 0;
    c.market.funding_rate = NAN;
    c.market.perp = NAN;
    c.market.n_marks = 3;
    double k[3] = {90000, 100000, 110000}, v[3] = {v90, v100, v110};
    for (int i = 0; i < 3; i++) {
        c.market.expiry[i] = exp1;
        c.market.strike[i] = k[i];
        c.market.vol[i] = v[i];
    }
    ck_assert_int_eq(apply(c, NULL), CH_OK);
}

static void start(bool risk_aware)
{
    g_log = calloc(256, sizeof *g_log);
    ck_assert_ptr_nonnull(g_log);
    g_n = 0;
    eng = make(risk_aware);
    ch_engine_set_sink(eng, on_ev, NULL);
    ch_command c = ch_command_make(CH_C_UNDERLYING);
    c.underlying = ch_test_btc();
    ck_assert_int_eq(apply(c, NULL), CH_OK);
    ch_time now;
    ck_assert_int_eq(ch_date_to_time(2026, 11, 25, &now), CH_OK);
    c = ch_command_make(CH_C_ADVANCE);
    c.time = now;
    ck_assert_int_eq(apply(c, NULL), CH_OK);
    ck_assert_int_eq(ch_date_to_time(2026, 12, 25, &exp1), CH_OK);
    exp1 += 8 * 3600 * CH_NS_PER_SEC;
    C90 = list("BTC-25DEC26-90000-C");
    C100 = list("BTC-25DEC26-100000-C");
    C110 = list("BTC-25DEC26-110000-C");
    mark(100000, 0.5, 0.5, 0.5);
    alice = open_acct("alice");
    lp1 = open_acct("lp1");
    lp2 = open_acct("lp2");
    lp3 = open_acct("lp3");
    c = ch_command_make(CH_C_POOL_DEPOSIT);
    c.account = lp1;
    c.amount = USD(5e6);
    ck_assert_int_eq(apply(c, NULL), CH_OK);
}

static void stop(void)
{
    ch_engine_destroy(eng);
    eng = NULL;
    free(g_log);
}

static uint32_t tranche_add(int64_t lo, int64_t hi)
{
    ch_command c = ch_command_make(CH_C_TRANCHE_ADD);
    c.tranche_spec = (ch_tranche_spec){.underlying = 0, .strike_lo = lo, .strike_hi = hi};
    ch_command_result r;
    ck_assert_int_eq(apply(c, &r), CH_OK);
    return r.tranche;
}

static ch_err tranche_move(ch_command_type t, ch_account_id lp, uint32_t id, int64_t amount,
                           int64_t *value)
{
    ch_command c = ch_command_make(t);
    c.account = lp;
    c.tranche = id;
    c.amount = amount;
    ch_command_result r = {0};
    ch_err e = apply(c, &r);
    if (value != NULL)
        *value = r.value;
    return e;
}

/* alice takes qty from the pool (buys: the pool side goes short), up to
 * 100,000 USD a contract. */
static ch_engine_result buy(ch_instr_id i, int64_t qty)
{
    ch_command c = ch_command_make(CH_C_SUBMIT);
    c.order = (ch_engine_order){.account = alice,
                                .instr = i,
                                .side = CH_BUY,
                                .type = CH_ORD_LIMIT,
                                .tif = CH_TIF_IOC,
                                .price = 200000, /* ticks of 0.5 */
                                .qty = qty};
    ch_command_result r;
    nfills = 0;
    ck_assert_int_eq(apply(c, &r), CH_OK);
    return r.order;
}

static ch_tranche_info info(uint32_t id)
{
    ch_tranche_info ti;
    ck_assert_int_eq(ch_engine_tranche(eng, id, &ti), CH_OK);
    return ti;
}

START_TEST(each_tranche_takes_its_strikes_and_its_nav_moves_with_them_only)
{
    start(false);
    uint32_t a = tranche_add(85000, 95000), b = tranche_add(105000, 115000);
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(b, 2);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(1e6), NULL), CH_OK);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp3, b, USD(1e6), NULL), CH_OK);
    ck_assert_int_eq(ch_engine_tranche_shares(eng, lp2, a), USD(1e6));
    /* a trade at 90k goes to tranche a, one at 110k to b, one at 100k
     * (no tranche) to the general pool */
    ck_assert_int_eq(buy(C90, 5).filled, 5);
    ck_assert_int_eq(nfills, 1);
    ck_assert_uint_eq(fills[0].maker.v, info(a).account.v);
    ck_assert_int_eq(buy(C110, 4).filled, 4);
    ck_assert_uint_eq(fills[0].maker.v, info(b).account.v);
    ck_assert_int_eq(buy(C100, 3).filled, 3);
    ck_assert_uint_eq(fills[0].maker.v, CH_ACCOUNT_POOL);
    ck_assert_int_eq(ch_engine_position(eng, info(a).account, C90), -5);
    ck_assert_int_eq(ch_engine_position(eng, info(b).account, C110), -4);
    ck_assert_int_eq(ch_engine_position(eng, (ch_account_id){CH_ACCOUNT_POOL}, C100), -3);
    ck_assert_int_eq(ch_engine_position(eng, (ch_account_id){CH_ACCOUNT_POOL}, C90), 0);
    /* each earned its own premium: NAV per share above 1 */
    ch_tranche_info ta = info(a), tb = info(b);
    ck_assert(ta.nav_per_share > 1 && tb.nav_per_share > 1);
    ck_assert(ta.worst > 0 && ta.utilisation > 0 && ta.utilisation < 1);
    ch_pool_info p0;
    ch_engine_pool(eng, &p0);
    /* the 90k vol rises 10 points, the others stay: a (short 90k calls) loses,
     * b and the general pool do not move */
    mark(100000, 0.6, 0.5, 0.5);
    ch_tranche_info ta2 = info(a), tb2 = info(b);
    ch_pool_info p1;
    ch_engine_pool(eng, &p1);
    ck_assert(ta2.nav < ta.nav - 1000);
    ck_assert_double_eq_tol(tb2.nav, tb.nav, 1e-6);
    ck_assert_double_eq_tol(p1.nav, p0.nav, 1e-6);
    /* the house holds nothing here: no share of it anywhere */
    ck_assert_double_eq_tol(ta2.house_share, 0, 1e-9);
    stop();
}
END_TEST

START_TEST(overlapping_tranches_split_pro_rata_by_largest_remainder)
{
    start(false);
    uint32_t a = tranche_add(85000, 95000), b = tranche_add(80000, 100000);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(2e6), NULL), CH_OK);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp3, b, USD(1e6), NULL), CH_OK);
    /* 10 lots, free capital 2:1: 6.67 and 3.33 -> 6 + 3 whole, the lot left
     * to the larger remainder: 7 and 3; one fill each, the fee on the first */
    ck_assert_int_eq(buy(C90, 10).filled, 10);
    ck_assert_int_eq(nfills, 2);
    ck_assert_int_eq(fills[0].qty, 7);
    ck_assert_uint_eq(fills[0].maker.v, info(a).account.v);
    ck_assert_int_eq(fills[1].qty, 3);
    ck_assert_uint_eq(fills[1].maker.v, info(b).account.v);
    ck_assert_int_eq(fills[1].price, fills[0].price);
    ck_assert_int_gt(fills[0].fee, 0);
    ck_assert_int_eq(fills[1].fee, 0);
    stop();
}
END_TEST

START_TEST(a_tranche_full_of_risk_passes_the_rest_to_the_general_pool)
{
    start(false);
    uint32_t a = tranche_add(85000, 95000);
    /* 20,000 USD of capital: a few short calls use it up */
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(20000), NULL), CH_OK);
    ck_assert_int_eq(buy(C90, 20).filled, 20);
    int64_t in_a = ch_engine_position(eng, info(a).account, C90);
    int64_t in_pool = ch_engine_position(eng, (ch_account_id){CH_ACCOUNT_POOL}, C90);
    ck_assert_int_lt(in_a, 0);
    ck_assert_int_gt(in_a, -20);
    ck_assert_int_eq(in_a + in_pool, -20);
    ch_tranche_info ti = info(a);
    ck_assert(ti.worst <= (double)ti.cash / CH_CASH_SCALE + ti.inventory_value + 1e-6);
    /* its open risk leaves little free: all its shares cannot leave */
    int64_t shares = ch_engine_tranche_shares(eng, lp2, a);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_WITHDRAW, lp2, a, shares, NULL), CH_EFUNDS);
    ck_assert_int_eq(ch_engine_tranche_shares(eng, lp2, a), shares);
    /* and not someone else's shares */
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_WITHDRAW, lp3, a, 1, NULL), CH_EFUNDS);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_WITHDRAW, lp2, 9, 1, NULL), CH_ENOTFOUND);
    stop();
}
END_TEST

START_TEST(withdrawals_pay_nav_within_what_risk_leaves_free)
{
    start(false);
    uint32_t a = tranche_add(85000, 95000);
    int64_t s2, s3, cash;
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(1e6), &s2), CH_OK);
    buy(C90, 5);
    ch_tranche_info ti = info(a);
    /* a second LP buys in at the NAV per share */
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp3, a, USD(1e6), &s3), CH_OK);
    ck_assert_int_eq(s3, (int64_t)floor((double)USD(1e6) / ti.nav_per_share));
    ck_assert_int_lt(s3, s2);
    /* a part of lp2's shares leaves at NAV per share */
    ti = info(a);
    int64_t half = s2 / 2;
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_WITHDRAW, lp2, a, half, &cash), CH_OK);
    ck_assert_int_eq(cash, (int64_t)floor((double)half * ti.nav_per_share));
    ck_assert_int_eq(ch_engine_tranche_shares(eng, lp2, a), s2 - half);
    ck_assert_int_eq(info(a).shares, s2 - half + s3);
    stop();
}
END_TEST

START_TEST(the_house_value_is_shared_by_delta_and_adds_up)
{
    start(true);
    uint32_t a = tranche_add(85000, 95000);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(1e6), NULL), CH_OK);
    buy(C90, 4); /* tranche a: short 4 calls, the only delta on the pool side */
    ch_command h = ch_command_make(CH_C_HEDGE);
    h.hedge.underlying = 0;
    h.hedge.qty = 2;
    h.hedge.price = 100000;
    h.hedge.fee = 100;
    ck_assert_int_eq(apply(h, NULL), CH_OK);
    /* the hedge's fee is the house's value: all of it a's (the only delta) */
    ch_pool_info p;
    ch_engine_pool(eng, &p);
    ch_tranche_info ti = info(a);
    double whole = p.house_value + p.hedge_value;
    ck_assert_double_eq_tol(ti.house_share, whole, 1e-6);
    ck_assert_double_eq_tol(p.house_share, 0, 1e-6);
    /* now the general pool holds delta too (100k calls: no tranche): the
     * next fee is shared by |delta| */
    buy(C100, 4);
    ti = info(a);
    double da = ti.delta;
    ch_engine_pool(eng, &p);
    double before_a = ti.house_share, before_pool = p.house_share;
    h.hedge.qty = 0;
    h.hedge.fee = 1000;
    ck_assert_int_eq(apply(h, NULL), CH_OK);
    ti = info(a);
    ch_engine_pool(eng, &p);
    double change = (ti.house_share - before_a) + (p.house_share - before_pool);
    ck_assert_double_eq_tol(change, -1000, 1e-6);
    /* both paid a part, a's in proportion to its |delta| */
    ck_assert(ti.house_share - before_a < -100 && p.house_share - before_pool < -100);
    ck_assert(da > 0);
    /* the parts add up to the whole */
    whole = p.house_value + p.hedge_value;
    ck_assert_double_eq_tol(ti.house_share + p.house_share, whole, 1e-6);
    stop();
}
END_TEST

/* An option hedge's cost goes by vega, other changes of the house's value by
 * delta: the general pool holds deep in-the-money calls (delta, little vega),
 * a tranche at-the-money calls (vega). */
START_TEST(an_option_hedge_cost_is_shared_by_vega)
{
    start(true);
    ch_instr_id c130 = list("BTC-25DEC26-130000-C");
    mark(130000, 0.5, 0.5, 0.5);
    uint32_t a = tranche_add(125000, 135000);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(2e6), NULL), CH_OK);
    buy(C90, 10);
    buy(c130, 10);
    ck_assert_int_eq(ch_engine_position(eng, info(a).account, c130), -10);
    ch_pool_info p0, p1, p2;
    ch_engine_pool(eng, &p0);
    ch_tranche_info t0 = info(a);
    ch_quote q;
    ck_assert_int_eq(ch_engine_quote(eng, c130, CH_BUY, 1, &q), CH_OK);
    ch_command c = ch_command_make(CH_C_OPTION_HEDGE);
    c.option_hedge.instr = c130;
    c.option_hedge.qty = 2;
    c.option_hedge.price = (int64_t)ceil(q.model / 0.5) + 200; /* 100 USD over the mark */
    c.option_hedge.fee = USD(40);
    ck_assert_int_eq(apply(c, NULL), CH_OK);
    ch_engine_pool(eng, &p1);
    ch_tranche_info t1 = info(a);
    double da = t1.house_share - t0.house_share, dg = p1.house_share - p0.house_share;
    ck_assert(da + dg < -200); /* 2 x (100 + tick rounding) + 2 x 40 */
    ck_assert_msg(da / (da + dg) > 0.9, "the tranche's part %.3f", da / (da + dg));
    /* a perp hedge's fee: by delta, most of it the general pool's */
    ch_command h = ch_command_make(CH_C_HEDGE);
    h.hedge.qty = 0.001;
    h.hedge.price = 130000;
    h.hedge.fee = 1000;
    ck_assert_int_eq(apply(h, NULL), CH_OK);
    ch_engine_pool(eng, &p2);
    ch_tranche_info t2 = info(a);
    da = t2.house_share - t1.house_share;
    dg = p2.house_share - p1.house_share;
    ck_assert_msg(da / (da + dg) < 0.5, "the tranche's part %.3f", da / (da + dg));
    ck_assert_double_eq_tol(t2.house_share + p2.house_share, p2.house_value + p2.hedge_value, 1e-6);
    stop();
}
END_TEST

START_TEST(utilisation_raises_the_premium_at_the_strikes_it_covers)
{
    /* two engines with the same trades: in one the general pool takes them,
     * in the other a tranche covering every strike: the same inventory, so
     * the same skew; the premium differs by the factor 1 + utilisation */
    start(false);
    buy(C90, 6);
    ch_quote q0;
    ck_assert_int_eq(ch_engine_quote(eng, C90, CH_BUY, 1, &q0), CH_OK);
    stop();
    start(false);
    uint32_t a = tranche_add(50000, 150000);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(200000), NULL), CH_OK);
    buy(C90, 6);
    ck_assert_int_eq(ch_engine_position(eng, info(a).account, C90), -6);
    ch_tranche_info ti = info(a);
    ck_assert(ti.utilisation > 0.05 && ti.utilisation < 1);
    ch_quote q1;
    ck_assert_int_eq(ch_engine_quote(eng, C90, CH_BUY, 1, &q1), CH_OK);
    ck_assert_double_eq_tol(q1.premium, q0.premium * (1 + ti.utilisation), 1e-9 * q0.premium);
    ck_assert_int_gt(q1.price, q0.price);
    stop();
}
END_TEST

START_TEST(tranches_replay_from_the_log)
{
    start(true);
    uint32_t a = tranche_add(85000, 95000), b = tranche_add(80000, 115000);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(1e6), NULL), CH_OK);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp3, b, USD(5e5), NULL), CH_OK);
    buy(C90, 7);
    buy(C110, 3);
    mark(101000, 0.55, 0.5, 0.45);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_WITHDRAW, lp3, b, 1000, NULL), CH_OK);
    /* every command through its encoding, into a fresh engine */
    ch_engine_config cfg = ch_test_engine_config(16, 16, 1024, 1024);
    ch_engine *e2 = ch_test_replay(&cfg, g_log, g_n, NULL);
    ck_assert_ptr_nonnull(e2);
    ck_assert_int_eq(ch_engine_check(e2), CH_OK);
    ck_assert_uint_eq(ch_engine_tranche_count(e2), 2);
    for (uint32_t k = 1; k <= 2; k++) {
        ch_tranche_info x = info(k), y;
        ck_assert_int_eq(ch_engine_tranche(e2, k, &y), CH_OK);
        ck_assert_int_eq(x.cash, y.cash);
        ck_assert_int_eq(x.shares, y.shares);
        ck_assert_double_eq(x.nav, y.nav);
    }
    ck_assert_int_eq(ch_engine_tranche_shares(e2, lp3, b), ch_engine_tranche_shares(eng, lp3, b));
    ch_engine_destroy(e2);
    /* and from a snapshot at any point of that log */
    ck_assert(ch_test_snapshot_cuts(&cfg, g_log, g_n));
    stop();
}
END_TEST

START_TEST(bad_tranches_are_refused)
{
    start(false);
    ch_command c = ch_command_make(CH_C_TRANCHE_ADD);
    c.tranche_spec = (ch_tranche_spec){.underlying = 0, .strike_lo = 100, .strike_hi = 50};
    ck_assert_int_eq(apply(c, NULL), CH_EINVAL);
    c.tranche_spec = (ch_tranche_spec){.underlying = 3, .strike_lo = 1, .strike_hi = 50};
    ck_assert_int_eq(apply(c, NULL), CH_EINVAL);
    c.tranche_spec =
        (ch_tranche_spec){.underlying = 0, .strike_lo = 1, .strike_hi = 50, .expiry_lo = 5};
    ck_assert_int_eq(apply(c, NULL), CH_EINVAL);
    ck_assert_uint_eq(ch_engine_tranche_count(eng), 0);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, 1, USD(5), NULL), CH_ENOTFOUND);
    uint32_t a = tranche_add(1, 50);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, 0, NULL), CH_EINVAL);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, a, USD(1e9), NULL), CH_EFUNDS);
    ck_assert_int_eq(
        tranche_move(CH_C_TRANCHE_DEPOSIT, (ch_account_id){CH_ACCOUNT_POOL}, a, USD(5), NULL),
        CH_EUNAUTHORIZED);
    /* an expiry range that does not hold the series: the general pool takes it */
    c.tranche_spec = (ch_tranche_spec){
        .underlying = 0, .strike_lo = 85000, .strike_hi = 95000, .expiry_lo = 1, .expiry_hi = 2};
    ch_command_result r;
    ck_assert_int_eq(apply(c, &r), CH_OK);
    ck_assert_int_eq(tranche_move(CH_C_TRANCHE_DEPOSIT, lp2, r.tranche, USD(1e6), NULL), CH_OK);
    buy(C90, 2);
    ck_assert_uint_eq(fills[0].maker.v, CH_ACCOUNT_POOL);
    stop();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tranche");
    TCase *t = tcase_create("tranche");
    tcase_add_test(t, each_tranche_takes_its_strikes_and_its_nav_moves_with_them_only);
    tcase_add_test(t, overlapping_tranches_split_pro_rata_by_largest_remainder);
    tcase_add_test(t, a_tranche_full_of_risk_passes_the_rest_to_the_general_pool);
    tcase_add_test(t, withdrawals_pay_nav_within_what_risk_leaves_free);
    tcase_add_test(t, the_house_value_is_shared_by_delta_and_adds_up);
    tcase_add_test(t, an_option_hedge_cost_is_shared_by_vega);
    tcase_add_test(t, utilisation_raises_the_premium_at_the_strikes_it_covers);
    tcase_add_test(t, tranches_replay_from_the_log);
    tcase_add_test(t, bad_tranches_are_refused);
    suite_add_tcase(s, t);
    return ch_check_run(s);
}
