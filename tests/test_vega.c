/*
 * test_vega.c - vega hedging (issue 18): the policy's band per expiry and in
 * total, the simulated options venue's price and fee, the engine's residual
 * vega per expiry, the straddle it asks for at the strike nearest the index,
 * and an option hedge booked against the venue account (positions still sum
 * to zero, the residual back at the band's edge, the house's delta moved),
 * replayed from the log.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/command.h"
#include "ch/engine.h"
#include "ch/hedge.h"
#include "ch_check.h"
#include "fixtures.h"

#define USD(x) ((int64_t)((x)*CH_CASH_SCALE))

START_TEST(the_policy_trades_the_expiry_that_left_the_band)
{
    ch_vega_policy p;
    ch_vega_policy_defaults(&p);
    ck_assert_int_eq(p.mode, CH_VEGA_OFF);
    ch_vega_exposure x[3] = {{1, -50000}, {2, -250000}, {3, 180000}};
    size_t w;
    double add;
    ck_assert(!ch_vega_decide(&p, x, 3, &w, &add)); /* off */
    p.mode = CH_VEGA_EXPIRY;
    p.band = 100000;
    ck_assert(ch_vega_decide(&p, x, 3, &w, &add));
    ck_assert_uint_eq(w, 1);                    /* the largest outside the band */
    ck_assert_double_eq_tol(add, 150000, 1e-9); /* back to the edge */
    p.to_edge = false;
    ck_assert(ch_vega_decide(&p, x, 3, &w, &add));
    ck_assert_double_eq_tol(add, 250000, 1e-9); /* to zero */
    /* in total: -120,000, outside a 100,000 band: at the largest negative */
    p.mode = CH_VEGA_TOTAL;
    p.to_edge = true;
    ck_assert(ch_vega_decide(&p, x, 3, &w, &add));
    ck_assert_uint_eq(w, 1);
    ck_assert_double_eq_tol(add, 20000, 1e-9);
    p.band = 200000; /* inside */
    ck_assert(!ch_vega_decide(&p, x, 3, &w, &add));
    ch_vega_mode m;
    ck_assert_int_eq(ch_vega_mode_parse("total", &m), CH_OK);
    ck_assert_int_eq(m, CH_VEGA_TOTAL);
    ck_assert_int_eq(ch_vega_mode_parse("both", &m), CH_EINVAL);
    ck_assert_str_eq(ch_vega_mode_name(CH_VEGA_EXPIRY), "expiry");
}
END_TEST

START_TEST(the_options_venue_charges_half_a_vol_point_and_a_capped_fee)
{
    ch_option_venue v;
    ch_option_venue_defaults(&v);
    double px, fee;
    /* a 4,000 USD option with vega 11,000 per 1.00: +-55 USD; fee 0.03 % of
     * 100,000 = 30 a contract, under 12.5 % of the premium */
    ck_assert_int_eq(ch_option_execute(&v, 4000, 11000, 100000, 1, 3, &px, &fee), CH_OK);
    ck_assert_double_eq_tol(px, 4055, 1e-9);
    ck_assert_double_eq_tol(fee, 90, 1e-9);
    ck_assert_int_eq(ch_option_execute(&v, 4000, 11000, 100000, 1, -2, &px, &fee), CH_OK);
    ck_assert_double_eq_tol(px, 3945, 1e-9);
    /* a cheap option: the fee is 12.5 % of its premium */
    ck_assert_int_eq(ch_option_execute(&v, 100, 500, 100000, 1, 1, &px, &fee), CH_OK);
    ck_assert_double_eq_tol(fee, 0.125 * 102.5, 1e-9);
    ck_assert_int_eq(ch_option_execute(&v, 100, 500, 100000, 1, 0, &px, &fee), CH_EINVAL);
    ck_assert_int_eq(ch_option_execute(&v, NAN, 500, 100000, 1, 1, &px, &fee), CH_EINVAL);
}
END_TEST

static ch_engine *eng;
static ch_command g_log[64];
static size_t g_n;

static ch_err apply(ch_command c, ch_command_result *r)
{
    g_log[g_n++] = c;
    ch_command_result tmp;
    ch_err e = ch_command_apply(eng, &c, r != NULL ? r : &tmp);
    ck_assert_int_eq(ch_engine_check(eng), CH_OK);
    return e;
}

static ch_instr_id list(const char *sym)
{
    ch_command c = ch_command_make(CH_C_LIST);
    snprintf(c.symbol, sizeof c.symbol, "%s", sym);
    ch_command_result r;
    ck_assert_int_eq(apply(c, &r), CH_OK);
    return r.instr;
}

START_TEST(an_option_hedge_takes_the_residual_back_to_the_band)
{
    g_n = 0;
    ch_engine_config cfg = ch_test_engine_config(16, 16, 1024, 1024);
    eng = ch_engine_create(&cfg);
    ck_assert_ptr_nonnull(eng);
    ch_command c = ch_command_make(CH_C_UNDERLYING);
    c.underlying = ch_test_btc();
    ck_assert_int_eq(apply(c, NULL), CH_OK);
    c = ch_command_make(CH_C_ADVANCE);
    ck_assert_int_eq(ch_date_to_time(2026, 11, 25, &c.time), CH_OK);
    ck_assert_int_eq(apply(c, NULL), CH_OK);
    ch_instr_id c95 = list("BTC-25DEC26-95000-C"), c100 = list("BTC-25DEC26-100000-C"),
                p100 = list("BTC-25DEC26-100000-P");
    (void)c95;
    ch_time exp1;
    ck_assert_int_eq(ch_date_to_time(2026, 12, 25, &exp1), CH_OK);
    exp1 += 8 * 3600 * CH_NS_PER_SEC;
    c = ch_command_make(CH_C_MARKET);
    c.market.index = 101000; /* nearest strike: 100,000 */
    c.market.rate = 0;
    c.market.funding_rate = c.market.perp = NAN;
    c.market.n_marks = 1;
    c.market.expiry[0] = exp1;
    c.market.vol[0] = 0.5;
    ck_assert_int_eq(apply(c, NULL), CH_OK);
    c = ch_command_make(CH_C_ACCOUNT_OPEN);
    snprintf(c.name, sizeof c.name, "lp");
    c.amount = USD(50e6);
    ch_command_result r;
    ck_assert_int_eq(apply(c, &r), CH_OK);
    ch_account_id lp = r.account;
    snprintf(c.name, sizeof c.name, "cust");
    ck_assert_int_eq(apply(c, &r), CH_OK);
    ch_account_id cust = r.account;
    c = ch_command_make(CH_C_POOL_DEPOSIT);
    c.account = lp;
    c.amount = USD(20e6);
    ck_assert_int_eq(apply(c, NULL), CH_OK);
    /* the customer buys 40 of the 95k calls from the pool: the pool is short vega */
    c = ch_command_make(CH_C_SUBMIT);
    c.order = (ch_engine_order){.account = cust,
                                .instr = c95,
                                .side = CH_BUY,
                                .type = CH_ORD_LIMIT,
                                .tif = CH_TIF_IOC,
                                .price = 60000,
                                .qty = 40};
    ck_assert_int_eq(apply(c, &r), CH_OK);
    ck_assert_int_eq(r.order.filled, 40);
    ch_vega_exposure x[4];
    ck_assert_uint_eq(ch_engine_vega_exposures(eng, 0, x, 4), 1);
    ck_assert_int_eq(x[0].expiry, exp1);
    double v0 = x[0].vega;
    ck_assert(v0 < -100000);
    /* a band of 100,000: a straddle at 100k, bought */
    ch_vega_policy p;
    ch_vega_policy_defaults(&p);
    p.mode = CH_VEGA_EXPIRY;
    p.band = 100000;
    ch_vega_order o[2];
    ck_assert_uint_eq(ch_engine_vega_orders(eng, 0, &p, o), 2);
    ck_assert_uint_eq(o[0].instr.v, c100.v);
    ck_assert_uint_eq(o[1].instr.v, p100.v);
    ck_assert_int_gt(o[0].qty, 0);
    ck_assert_int_eq(o[1].qty, o[0].qty);
    double want = -(v0 + 100000); /* back to the edge */
    ck_assert(fabs((double)o[0].qty * (o[0].vega + o[1].vega) - want) <=
              0.5 * (o[0].vega + o[1].vega));
    /* filled at the simulated venue and booked as the log would */
    ch_option_venue venue;
    ch_option_venue_defaults(&venue);
    double delta_before = ch_engine_net_delta(eng, 0), fees = 0;
    for (int i = 0; i < 2; i++) {
        double px, fee;
        ck_assert_int_eq(ch_option_execute(&venue, o[i].mark, o[i].vega, o[i].index,
                                           o[i].contract_size, (double)o[i].qty, &px, &fee),
                         CH_OK);
        c = ch_command_make(CH_C_OPTION_HEDGE);
        c.option_hedge.instr = o[i].instr;
        c.option_hedge.qty = o[i].qty;
        c.option_hedge.price = (int64_t)ceil(px / 0.5); /* on the tick, the venue's side */
        c.option_hedge.fee = (int64_t)llround(fee * CH_CASH_SCALE);
        fees += fee;
        ck_assert_int_eq(apply(c, NULL), CH_OK);
    }
    ck_assert_uint_eq(ch_engine_vega_exposures(eng, 0, x, 4), 1);
    ck_assert(fabs(x[0].vega + 100000) < 0.5 * (o[0].vega + o[1].vega));
    /* the house holds the straddle, the venue the other side */
    ck_assert_int_eq(ch_engine_position(eng, (ch_account_id){CH_ACCOUNT_HOUSE}, c100), o[0].qty);
    ch_account_id venue_acct;
    ck_assert_int_eq(ch_engine_account_find(eng, "venue", 5, &venue_acct), CH_OK);
    ck_assert_int_eq(ch_engine_position(eng, venue_acct, p100), -o[1].qty);
    const ch_vega_book *vb = ch_engine_vega_book(eng, 0);
    ck_assert_uint_eq(vb->orders, 2);
    ck_assert_int_eq(vb->contracts, 2 * o[0].qty);
    ck_assert_double_eq_tol(vb->fees, fees, 1e-5);
    ck_assert(vb->spread_cost > 0 && vb->vega_traded > 0);
    /* a straddle near the money adds little delta; the delta hedge sees it */
    ck_assert(ch_engine_net_delta(eng, 0) != delta_before);
    /* no new order: inside the band */
    ck_assert_uint_eq(ch_engine_vega_orders(eng, 0, &p, o), 0);
    /* refused: not an option, no qty, a negative fee */
    ck_assert_int_eq(ch_engine_option_hedge_fill(eng, (ch_instr_id){99}, 1, 10, 0),
                     CH_EUNKNOWN_SYMBOL);
    ck_assert_int_eq(ch_engine_option_hedge_fill(eng, c100, 0, 10, 0), CH_EINVAL);
    ck_assert_int_eq(ch_engine_option_hedge_fill(eng, c100, 1, 10, -1), CH_EINVAL);
    /* replayed from the log: the same */
    ch_err errs[64];
    ch_engine *e2 = ch_test_replay(&cfg, g_log, g_n, errs);
    ck_assert_ptr_nonnull(e2);
    for (size_t i = 0; i < g_n; i++)
        ck_assert_int_eq(errs[i], CH_OK);
    ck_assert_int_eq(ch_engine_check(e2), CH_OK);
    ck_assert_int_eq(ch_engine_position(e2, venue_acct, p100), -o[1].qty);
    ck_assert_double_eq(ch_engine_vega_book(e2, 0)->fees, vb->fees);
    ch_pool_info a, b;
    ch_engine_pool(eng, &a);
    ch_engine_pool(e2, &b);
    ck_assert_double_eq(a.nav, b.nav);
    ch_engine_destroy(e2);
    ck_assert(ch_test_snapshot_cuts(&cfg, g_log, g_n)); /* and from a snapshot anywhere in it */
    ch_engine_destroy(eng);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vega");
    TCase *t = tcase_create("vega");
    tcase_add_test(t, the_policy_trades_the_expiry_that_left_the_band);
    tcase_add_test(t, the_options_venue_charges_half_a_vol_point_and_a_capped_fee);
    tcase_add_test(t, an_option_hedge_takes_the_residual_back_to_the_band);
    suite_add_tcase(s, t);
    return ch_check_run(s);
}
