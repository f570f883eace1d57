/*
 * test_underlyings.c - one engine, two underlyings (BTC and ETH): margin is
 * taken per underlying and the worst losses add up (no offset between
 * them), netting never crosses underlyings, and each underlying keeps its own
 * netting counters, residual and hedge book. ch_engine_check() runs after
 * every step.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "ch/engine.h"
#include "ch_check.h"
#include "fixtures.h"

#define USD(x) ((int64_t)((x)*CH_CASH_SCALE))

static ch_engine *eng;
static ch_engine_config cfg;
static ch_time exp1;
static ch_instr_id BC, BP, EC, EP; /* BTC 100000 call/put, ETH 3500 call/put */

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

static void mark(uint32_t u, double index, double vol)
{
    ch_time ex[1] = {exp1};
    double k[1] = {0}, v[1] = {vol};
    ch_market_update mu = ch_test_market(index, 0);
    mu.underlying = u;
    mu.rate = 0;
    mu.n_marks = 1;
    mu.mark_expiry = ex;
    mu.mark_strike = k;
    mu.mark_vol = v;
    ck_assert_int_eq(ch_engine_market(eng, &mu), CH_OK);
}

static void setup(void)
{
    cfg = ch_test_engine_config(64, 64, 4096, 4096);
    cfg.pool.enabled = false; /* book and parity fills only: the accounts' own */
    eng = ch_engine_create(&cfg);
    ck_assert_ptr_nonnull(eng);
    ch_underlying_config btc = ch_test_btc();
    ch_underlying_config eth = {
        .name = "ETH", .contract_size = 1.0, .min_price = 1, .max_price = 2000000};
    ck_assert_int_eq(ch_tick_parse("0.1", 3, &eth), CH_OK);
    uint32_t ub, ue;
    ck_assert_int_eq(ch_engine_add_underlying(eng, &btc, &ub), CH_OK);
    ck_assert_int_eq(ch_engine_add_underlying(eng, &eth, &ue), CH_OK);
    ck_assert_uint_eq(ub, 0);
    ck_assert_uint_eq(ue, 1);
    ch_time now0;
    ck_assert_int_eq(ch_date_to_time(2026, 11, 25, &now0), CH_OK);
    ck_assert_int_eq(ch_engine_advance(eng, now0), CH_OK);
    ck_assert_int_eq(ch_date_to_time(2026, 12, 25, &exp1), CH_OK);
    exp1 += 8 * 3600 * CH_NS_PER_SEC;
    BC = list("BTC-25DEC26-100000-C");
    BP = list("BTC-25DEC26-100000-P");
    EC = list("ETH-25DEC26-3500-C");
    EP = list("ETH-25DEC26-3500-P");
    mark(0, 100000, 0.6);
    mark(1, 3500, 0.7);
    check_ok();
}

static void teardown(void)
{
    ch_engine_destroy(eng);
    eng = NULL;
}

static ch_account_id open_acct(const char *name, double usd)
{
    ch_account_id id;
    ck_assert_int_eq(ch_engine_account_open(eng, name, USD(usd), CH_STP_CANCEL_INCOMING, &id),
                     CH_OK);
    return id;
}

static ch_err order(ch_account_id a, ch_instr_id x, ch_side side, int64_t price, int64_t qty,
                    ch_tif tif)
{
    ch_engine_order o = {
        .account = a, .instr = x, .side = side, .price = price, .qty = qty, .tif = tif};
    ch_engine_result r;
    ch_err e = ch_engine_submit(eng, &o, &r);
    check_ok();
    return e;
}

/* a trade of qty lots of x at price ticks between seller and buyer, on the book */
static void trade(ch_account_id seller, ch_account_id buyer, ch_instr_id x, int64_t price,
                  int64_t qty)
{
    int64_t before = ch_engine_position(eng, buyer, x);
    ck_assert_int_eq(order(seller, x, CH_SELL, price, qty, CH_TIF_GTC), CH_OK);
    ck_assert_int_eq(order(buyer, x, CH_BUY, price, qty, CH_TIF_IOC), CH_OK);
    ck_assert_int_eq(ch_engine_position(eng, buyer, x) - before, qty);
}

static double margin(ch_account_id a)
{
    ch_account_info ai;
    ck_assert_int_eq(ch_engine_account(eng, a, &ai), CH_OK);
    return ai.margin;
}

START_TEST(margin_adds_up_across_underlyings)
{
    ch_account_id mm = open_acct("mm", 1e8); /* the other side of every trade */
    ch_account_id both = open_acct("both", 1e7);
    ch_account_id eth_only = open_acct("eth_only", 1e7);
    ch_account_id btc_only = open_acct("btc_only", 1e7);
    /* short 10 ETH calls, long 1 BTC call: on one joint grid the long BTC
     * call would offset the short ETH call when both rise */
    trade(both, mm, EC, 2000, 10);     /* 200.0 per ETH call */
    trade(mm, both, BC, 14000, 1);     /* 7,000 per BTC call */
    trade(eth_only, mm, EC, 2000, 10); /* the same two positions apart */
    trade(mm, btc_only, BC, 14000, 1);
    double m_both = margin(both), m_eth = margin(eth_only), m_btc = margin(btc_only);
    ck_assert_double_gt(m_eth, 0);
    ck_assert_double_gt(m_btc, 0); /* a long call loses its premium when spot falls */
    ck_assert_double_eq_tol(m_both, m_eth + m_btc, 1e-9 * (m_eth + m_btc));
    ck_assert_double_gt(m_both, m_eth); /* no offset */
}
END_TEST

START_TEST(margin_check_counts_the_other_underlying)
{
    ch_account_id mm = open_acct("mm", 1e8);
    ch_account_id probe = open_acct("probe", 1e7);
    trade(probe, mm, EC, 2000, 10);
    double m_eth = margin(probe);
    ch_account_id probe2 = open_acct("probe2", 1e7);
    trade(probe2, mm, BC, 14000, 1);
    double m_btc = margin(probe2);
    /* an account whose equity covers the BTC sale alone but not both: the
     * ETH position it holds counts in full */
    ch_account_id tight = open_acct("tight", 0);
    ck_assert_int_eq(ch_engine_deposit(eng, tight, USD(m_btc + 0.5 * m_eth)), CH_OK);
    trade(tight, mm, EC, 2000, 10); /* its premium comes in as cash, its value as a short */
    ch_account_info ai;
    ck_assert_int_eq(ch_engine_account(eng, tight, &ai), CH_OK);
    ck_assert_double_lt(ai.equity, m_eth + m_btc); /* both would not fit */
    ck_assert_double_ge(ai.equity, m_btc);         /* the BTC sale alone would */
    ck_assert_int_eq(order(tight, BC, CH_SELL, 14000, 1, CH_TIF_GTC), CH_EMARGIN);
    ck_assert_double_eq_tol(margin(tight), m_eth, 1e-9 * m_eth); /* nothing changed */
    /* after buying back the ETH calls the BTC sale fits */
    ck_assert_int_eq(order(mm, EC, CH_SELL, 2000, 10, CH_TIF_GTC), CH_OK);
    ck_assert_int_eq(order(tight, EC, CH_BUY, 2000, 10, CH_TIF_IOC), CH_OK);
    ck_assert_double_eq_tol(margin(tight), 0, 1e-9);
    ck_assert_int_eq(order(tight, BC, CH_SELL, 14000, 1, CH_TIF_GTC), CH_OK);
}
END_TEST

START_TEST(netting_stays_within_an_underlying)
{
    ch_account_id a = open_acct("a", 1e7), b = open_acct("b", 1e7);
    /* a resting ETH put sell: a BTC call buyer never reaches it */
    ck_assert_int_eq(order(b, EP, CH_SELL, 1500, 5, CH_TIF_GTC), CH_OK);
    ck_assert_int_eq(order(a, BC, CH_BUY, 1999998, 1, CH_TIF_IOC), CH_OK);
    ck_assert_int_eq(ch_engine_position(eng, a, BC), 0);
    ck_assert_int_eq(ch_engine_position(eng, b, EP), -0);
    /* an ETH call buyer does (parity on ETH's own sibling) */
    ck_assert_int_eq(order(a, EC, CH_BUY, 100000, 2, CH_TIF_IOC), CH_OK);
    ck_assert_int_eq(ch_engine_position(eng, a, EC), 2);
    ck_assert_int_eq(ch_engine_position(eng, b, EP), -2);
    /* the counters are per underlying; the totals are their sum */
    ch_netting nb, ne, nt;
    ck_assert_int_eq(ch_engine_netting_of(eng, 0, &nb), CH_OK);
    ck_assert_int_eq(ch_engine_netting_of(eng, 1, &ne), CH_OK);
    ck_assert_int_eq(ch_engine_netting_of(eng, 2, &ne), CH_EUNKNOWN_UNDERLYING);
    ck_assert_int_eq(ch_engine_netting_of(eng, 1, &ne), CH_OK);
    ch_engine_netting(eng, &nt);
    ck_assert_uint_eq(nb.fills[CH_SRC_NET] + nb.fills[CH_SRC_BOOK], 0);
    ck_assert_uint_eq(ne.fills[CH_SRC_NET], 1);
    ck_assert_int_eq(ne.lots[CH_SRC_NET], 2);
    ck_assert_uint_eq(nt.fills[CH_SRC_NET], 1);
    ck_assert_double_gt(ne.gross_gamma, 0);
    ck_assert_double_eq(nb.gross_gamma, 0);
    ck_assert_double_eq_tol(nt.gross_gamma, nb.gross_gamma + ne.gross_gamma, 1e-12);
    /* the parity forward is the house's, in ETH: BTC's residual is untouched */
    ck_assert_double_eq(ch_engine_net_delta(eng, 0), 0);
    ck_assert_double_ne(ch_engine_net_delta(eng, 1), 0);
    ck_assert_double_eq(ne.net_delta, ch_engine_net_delta(eng, 1));
}
END_TEST

START_TEST(hedge_books_are_per_underlying)
{
    ch_hedge_exec x = {.qty = -3, .price = 3500, .fee = 1};
    ck_assert_int_eq(ch_engine_hedge_fill(eng, 1, &x), CH_OK);
    check_ok();
    ck_assert_double_eq(ch_engine_hedge_book(eng, 1)->position, -3);
    ck_assert_double_eq(ch_engine_hedge_book(eng, 0)->position, 0);
    ck_assert_int_eq(ch_engine_hedge_fill(eng, 2, &x), CH_EUNKNOWN_UNDERLYING);
}
END_TEST

/* Both engines' snapshots, byte for byte. */
static void same_snapshot(const ch_engine *a, const ch_engine *b)
{
    uint8_t *x, *y;
    size_t nx, ny;
    ck_assert_int_eq(ch_engine_snapshot(a, &x, &nx), CH_OK);
    ck_assert_int_eq(ch_engine_snapshot(b, &y, &ny), CH_OK);
    ck_assert_uint_eq(nx, ny);
    ck_assert_mem_eq(x, y, nx);
    free(x);
    free(y);
}

/* A snapshot holds both underlyings (positions, margin blocks, hedge books,
 * resting orders): the restored engine is the same, and stays the same
 * through the same trades and hedges in both. */
START_TEST(a_snapshot_holds_every_underlying)
{
    ch_account_id a = open_acct("a", 1e7), b = open_acct("b", 1e7);
    trade(a, b, BC, 5000, 2);
    trade(b, a, EC, 1000, 3);
    ck_assert_int_eq(order(a, EP, CH_BUY, 100, 4, CH_TIF_GTC), CH_OK);
    ch_hedge_exec x = {.qty = -3, .price = 3500, .fee = 1};
    ck_assert_int_eq(ch_engine_hedge_fill(eng, 1, &x), CH_OK);
    uint8_t *s;
    size_t n;
    ck_assert_int_eq(ch_engine_snapshot(eng, &s, &n), CH_OK);
    ch_engine *e2 = ch_engine_create(&cfg);
    ck_assert_int_eq(ch_engine_restore(e2, s, n), CH_OK);
    free(s);
    ck_assert_int_eq(ch_engine_check(e2), CH_OK);
    same_snapshot(eng, e2);
    ch_engine *mine = eng;
    for (int k = 0; k < 2; k++) { /* the same steps on each */
        eng = k == 0 ? mine : e2;
        trade(b, a, BP, 4000, 1);
        trade(a, b, EP, 200, 2);
        ch_hedge_exec y = {.qty = 1.5, .price = 100100, .fee = 2};
        ck_assert_int_eq(ch_engine_hedge_fill(eng, 0, &y), CH_OK);
        mark(1, 3600, 0.72);
    }
    eng = mine;
    same_snapshot(eng, e2);
    ck_assert_double_eq(ch_engine_hedge_book(e2, 1)->position, -3);
    ch_engine_destroy(e2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("underlyings");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, margin_adds_up_across_underlyings);
    tcase_add_test(tc, margin_check_counts_the_other_underlying);
    tcase_add_test(tc, netting_stays_within_an_underlying);
    tcase_add_test(tc, hedge_books_are_per_underlying);
    tcase_add_test(tc, a_snapshot_holds_every_underlying);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
