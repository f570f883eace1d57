/* test_instrument.c - symbols, dates, ticks, prices and the registry. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/instrument.h"
#include "ch_check.h"

#define DAY   (INT64_C(86400) * CH_NS_PER_SEC)
#define HOUR8 (INT64_C(8) * 3600 * CH_NS_PER_SEC)

static ch_err parse(const char *s, ch_symbol *out)
{
    return ch_symbol_parse(s, strlen(s), out);
}

START_TEST(parse_option)
{
    ch_symbol s;
    ck_assert_int_eq(parse("BTC-27DEC26-100000-C", &s), CH_OK);
    ck_assert_str_eq(s.underlying, "BTC");
    ck_assert_int_eq(s.kind, CH_CALL);
    ck_assert_int_eq(s.strike, 100000);
    ch_time mid;
    ck_assert_int_eq(ch_date_to_time(2026, 12, 27, &mid), CH_OK);
    ck_assert_int_eq(s.expiry, mid + HOUR8);
    /* 2026-12-27T08:00:00Z */
    ck_assert_int_eq(s.expiry / CH_NS_PER_SEC, INT64_C(1798358400));
    ck_assert_int_eq(parse("ETH-5JAN27-2000-P", &s), CH_OK);
    ck_assert_int_eq(s.kind, CH_PUT);
    ck_assert_int_eq(parse("XRP_USDC-30JUN27-1-C", &s), CH_OK);
    ck_assert_str_eq(s.underlying, "XRP_USDC");
}
END_TEST

START_TEST(parse_perp)
{
    ch_symbol s;
    ck_assert_int_eq(parse("BTC-PERP", &s), CH_OK);
    ck_assert_int_eq(s.kind, CH_PERP);
    ck_assert_int_eq(s.strike, 0);
    ck_assert_int_eq(s.expiry, 0);
    char buf[CH_SYMBOL_MAX];
    ck_assert_int_eq(ch_symbol_format(&s, buf, sizeof buf), CH_OK);
    ck_assert_str_eq(buf, "BTC-PERP");
}
END_TEST

START_TEST(leading_zero_day_canonicalised)
{
    ch_symbol a, b;
    ck_assert_int_eq(parse("BTC-05JAN27-50000-C", &a), CH_OK);
    ck_assert_int_eq(parse("BTC-5JAN27-50000-C", &b), CH_OK);
    ck_assert_int_eq(a.expiry, b.expiry);
    char buf[CH_SYMBOL_MAX];
    ck_assert_int_eq(ch_symbol_format(&a, buf, sizeof buf), CH_OK);
    ck_assert_str_eq(buf, "BTC-5JAN27-50000-C");
}
END_TEST

START_TEST(malformed)
{
    static const struct {
        const char *s;
        ch_err e;
    } bad[] = {
        {"", CH_EBADSYMBOL},
        {"BTC", CH_EBADSYMBOL},
        {"BTC-", CH_EBADSYMBOL},
        {"btc-27DEC26-100000-C", CH_EBADSYMBOL},
        {"BTC-27dec26-100000-C", CH_EBADSYMBOL},
        {"BTC-27DEC26-100000-X", CH_EBADSYMBOL},
        {"BTC-27DEC26-100000-CC", CH_EBADSYMBOL},
        {"BTC-27DEC26-100000", CH_EBADSYMBOL},
        {"BTC-27DEC26--C", CH_EBADSYMBOL},
        {"BTC-27DEC26-1e5-C", CH_EBADSYMBOL},
        {"BTC-27DEC26-100000-C-", CH_EBADSYMBOL},
        {"BTC-27XYZ26-100000-C", CH_EBADSYMBOL},
        {"BTC-127DEC26-100000-C", CH_EBADSYMBOL},
        {"BTC-DEC26-100000-C", CH_EBADSYMBOL},
        {"BTC-27DEC2-100000-C", CH_EBADSYMBOL},
        {"BTC-27DECAB-100000-C", CH_EBADSYMBOL},
        {"-27DEC26-100000-C", CH_EBADSYMBOL},
        {"ABCDEFGHIJKLMNOP-PERP", CH_EBADSYMBOL},
        {"BTC-PERPETUAL", CH_EBADSYMBOL},
        {"BTC-27DEC26-+100-C", CH_EBADSYMBOL},
        {"BTC 27DEC26 100000 C", CH_EBADSYMBOL},
        {"BTC-27DEC26-100000-C ", CH_EBADSYMBOL},
        {"BTC-30FEB27-100000-C", CH_EBADDATE},
        {"BTC-29FEB27-100000-C", CH_EBADDATE},
        {"BTC-31APR27-100000-C", CH_EBADDATE},
        {"BTC-0JAN27-100000-C", CH_EBADDATE},
        {"BTC-32JAN27-100000-C", CH_EBADDATE},
        {"BTC-27DEC26-0-C", CH_EBADSTRIKE},
        {"BTC-27DEC26-0100-C", CH_EBADSTRIKE},
        {"BTC-27DEC26-1000000000000-C", CH_EBADSTRIKE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ch_symbol s;
        memset(&s, 0x5a, sizeof s);
        ch_err e = parse(bad[i].s, &s);
        ck_assert_msg(e == bad[i].e, "%s: got %s want %s", bad[i].s, ch_errname(e),
                      ch_errname(bad[i].e));
        ck_assert_int_eq((unsigned char)s.underlying[0], 0x5a); /* untouched */
    }
    ch_symbol s;
    ck_assert_int_eq(parse("BTC-29FEB28-100000-C", &s), CH_OK); /* leap year */
    ck_assert_int_eq(ch_symbol_parse("BTC-PERP\0X", 10, &s), CH_EBADSYMBOL);
    ck_assert_int_eq(ch_symbol_parse(NULL, 3, &s), CH_EBADSYMBOL);
}
END_TEST

START_TEST(round_trip_every_day)
{
    /* every expiry day of 2000..2099, a spread of strikes, both types */
    static const int64_t strikes[] = {1, 9, 10, 999, 25000, 100000, 123456789, CH_STRIKE_MAX};
    ch_time start, end;
    ck_assert_int_eq(ch_date_to_time(2000, 1, 1, &start), CH_OK);
    ck_assert_int_eq(ch_date_to_time(2099, 12, 31, &end), CH_OK);
    long n = 0;
    for (ch_time t = start; t <= end; t += DAY) {
        for (size_t k = 0; k < sizeof strikes / sizeof strikes[0]; k++) {
            for (int c = 0; c < 2; c++) {
                ch_symbol s = {
                    .kind = c ? CH_PUT : CH_CALL, .expiry = t + HOUR8, .strike = strikes[k]};
                strcpy(s.underlying, n % 2 ? "BTC" : "ETH_USDC");
                char buf[CH_SYMBOL_MAX];
                ck_assert_int_eq(ch_symbol_format(&s, buf, sizeof buf), CH_OK);
                ch_symbol back;
                ck_assert_msg(parse(buf, &back) == CH_OK, "%s", buf);
                ck_assert_int_eq(back.expiry, s.expiry);
                ck_assert_int_eq(back.strike, s.strike);
                ck_assert_int_eq(back.kind, s.kind);
                ck_assert_str_eq(back.underlying, s.underlying);
                char again[CH_SYMBOL_MAX];
                ck_assert_int_eq(ch_symbol_format(&back, again, sizeof again), CH_OK);
                ck_assert_str_eq(buf, again);
                n++;
            }
        }
    }
    ck_assert_int_eq(n, 36525L * 8 * 2);
}
END_TEST

START_TEST(random_bytes_never_crash)
{
    /* whatever parses formats back to a canonical text that parses the same */
    unsigned seed = 12345;
    const char alphabet[] = "BTCEHPRJANFMYULGSOVD-0123456789_CPx ";
    for (int i = 0; i < 200000; i++) {
        char s[40];
        seed = seed * 1103515245u + 12345u;
        int len = (int)(seed >> 16) % 30;
        for (int j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            s[j] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        ch_symbol sym;
        if (ch_symbol_parse(s, (size_t)len, &sym) == CH_OK) {
            char buf[CH_SYMBOL_MAX];
            ck_assert_int_eq(ch_symbol_format(&sym, buf, sizeof buf), CH_OK);
            ch_symbol back;
            ck_assert_int_eq(parse(buf, &back), CH_OK);
            ck_assert_int_eq(back.expiry, sym.expiry);
            ck_assert_int_eq(back.strike, sym.strike);
        }
    }
}
END_TEST

START_TEST(format_errors)
{
    ch_symbol s;
    ck_assert_int_eq(parse("BTC-27DEC26-100000-C", &s), CH_OK);
    char small[8];
    ck_assert_int_eq(ch_symbol_format(&s, small, sizeof small), CH_ERANGE);
    ck_assert_str_eq(small, "");
    s.strike = 0;
    char buf[CH_SYMBOL_MAX];
    ck_assert_int_eq(ch_symbol_format(&s, buf, sizeof buf), CH_EINVAL);
}
END_TEST

START_TEST(dates)
{
    ch_time t;
    ck_assert_int_eq(ch_date_to_time(1970, 1, 1, &t), CH_OK);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(ch_date_to_time(2000, 2, 29, &t), CH_OK);
    ck_assert_int_eq(ch_date_to_time(1900, 2, 29, &t), CH_EBADDATE);
    ck_assert_int_eq(ch_date_to_time(2100, 2, 29, &t), CH_EBADDATE);
    ck_assert_int_eq(ch_date_to_time(2024, 13, 1, &t), CH_EBADDATE);
    ck_assert_int_eq(ch_date_to_time(2024, 0, 1, &t), CH_EBADDATE);
    ck_assert_int_eq(ch_date_to_time(2024, 6, 31, &t), CH_EBADDATE);
    ck_assert_int_eq(ch_date_to_time(2024, 1, 1, &t), CH_OK);
    ck_assert_int_eq(t / CH_NS_PER_SEC, INT64_C(1704067200));
}
END_TEST

static ch_underlying_config btc(void)
{
    ch_underlying_config u = {
        .name = "BTC", .contract_size = 1.0, .min_price = 1, .max_price = 2000000};
    ck_assert_int_eq(ch_tick_parse("0.5", 3, &u), CH_OK);
    return u;
}

START_TEST(ticks_and_prices)
{
    ch_underlying_config u = btc();
    ck_assert_int_eq(u.price_decimals, 1);
    ck_assert_int_eq(u.tick_units, 5);
    int64_t t;
    ck_assert_int_eq(ch_price_parse(&u, "1234.5", 6, &t), CH_OK);
    ck_assert_int_eq(t, 2469);
    ck_assert_int_eq(ch_price_parse(&u, "1234.50", 7, &t), CH_OK);
    ck_assert_int_eq(t, 2469);
    ck_assert_int_eq(ch_price_parse(&u, "1234", 4, &t), CH_OK);
    ck_assert_int_eq(t, 2468);
    ck_assert_int_eq(ch_price_parse(&u, "0.5", 3, &t), CH_OK);
    ck_assert_int_eq(t, 1);
    static const char *bad[] = {
        "1234.25", "1234.1", "0", "0.0", "-1", "+1",        "1e3",
        ".5",      "5.",     "",  "abc", "1 ", "1000000.5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ch_price_parse(&u, bad[i], strlen(bad[i]), &t) == CH_EBADPRICE, "%s", bad[i]);
    ck_assert_int_eq(ch_price_from_double(&u, 1234.5, &t), CH_OK);
    ck_assert_int_eq(t, 2469);
    ck_assert_int_eq(ch_price_from_double(&u, 1234.4, &t), CH_EBADPRICE);
    ck_assert_int_eq(ch_price_from_double(&u, 0.0, &t), CH_EBADPRICE);
    ck_assert_int_eq(ch_price_from_double(&u, -0.5, &t), CH_EBADPRICE);
    ck_assert_int_eq(ch_price_from_double(&u, 1.0 / 0.0, &t), CH_EBADPRICE);
    char buf[32];
    ck_assert_int_eq(ch_price_format(&u, 2469, buf, sizeof buf), CH_OK);
    ck_assert_str_eq(buf, "1234.5");
    ck_assert_int_eq(ch_price_format(&u, 2468, buf, sizeof buf), CH_OK);
    ck_assert_str_eq(buf, "1234");
    ck_assert_double_eq_tol(ch_price_to_double(&u, 2469), 1234.5, 1e-12);
    /* decimals round trip: every tick of a fine grid */
    ch_underlying_config f = btc();
    ck_assert_int_eq(ch_tick_parse("0.0025", 6, &f), CH_OK);
    f.max_price = 10000000;
    for (int64_t k = 1; k < 100000; k += 7) {
        ck_assert_int_eq(ch_price_format(&f, k, buf, sizeof buf), CH_OK);
        ck_assert_int_eq(ch_price_parse(&f, buf, strlen(buf), &t), CH_OK);
        ck_assert_int_eq(t, k);
        ck_assert_int_eq(ch_price_from_double(&f, ch_price_to_double(&f, k), &t), CH_OK);
        ck_assert_int_eq(t, k);
    }
    ch_underlying_config g;
    ck_assert_int_eq(ch_tick_parse("0", 1, &g), CH_EBADCONFIG);
    ck_assert_int_eq(ch_tick_parse("0.000000001", 11, &g), CH_EBADCONFIG);
    ck_assert_int_eq(ch_tick_parse("x", 1, &g), CH_EBADCONFIG);
    ck_assert_int_eq(ch_tick_parse("10", 2, &g), CH_OK);
    ck_assert_int_eq(g.tick_units, 10);
    ck_assert_int_eq(g.price_decimals, 0);
}
END_TEST

START_TEST(registry)
{
    ch_instruments *r = ch_instruments_create(8, 2);
    ck_assert_ptr_nonnull(r);
    ch_underlying_config u = btc();
    uint32_t ui;
    ck_assert_int_eq(ch_instruments_add_underlying(r, &u, &ui), CH_OK);
    ck_assert_int_eq(ui, 0);
    ck_assert_int_eq(ch_instruments_add_underlying(r, &u, NULL), CH_EEXISTS);
    ch_underlying_config bad = u;
    strcpy(bad.name, "eth");
    ck_assert_int_eq(ch_instruments_add_underlying(r, &bad, NULL), CH_EBADCONFIG);
    bad = u;
    strcpy(bad.name, "ETH");
    bad.tick_units = 0;
    ck_assert_int_eq(ch_instruments_add_underlying(r, &bad, NULL), CH_EBADCONFIG);
    bad.tick_units = 1;
    bad.contract_size = 0;
    ck_assert_int_eq(ch_instruments_add_underlying(r, &bad, NULL), CH_EBADCONFIG);
    bad.contract_size = 1;
    bad.max_price = 0;
    ck_assert_int_eq(ch_instruments_add_underlying(r, &bad, NULL), CH_EBADCONFIG);

    ch_time now;
    ck_assert_int_eq(ch_date_to_time(2026, 11, 25, &now), CH_OK);
    ch_instr_id c, p, x;
    const char *cs = "BTC-27DEC26-100000-C", *ps = "BTC-27DEC26-100000-P";
    ck_assert_int_eq(ch_instruments_add(r, cs, strlen(cs), now, &c), CH_OK);
    ck_assert_int_eq(ch_instruments_get(r, c)->sibling.v, CH_INSTR_NONE);
    ck_assert_int_eq(ch_instruments_add(r, ps, strlen(ps), now, &p), CH_OK);
    ck_assert_int_eq(ch_instruments_get(r, c)->sibling.v, p.v);
    ck_assert_int_eq(ch_instruments_get(r, p)->sibling.v, c.v);
    ck_assert_int_eq(ch_instruments_add(r, cs, strlen(cs), now, &x), CH_EEXISTS);
    ck_assert_int_eq(x.v, c.v);
    ck_assert_int_eq(ch_instruments_lookup(r, "BTC-27DEC26-100000-C", 20, now, &x), CH_OK);
    ck_assert_int_eq(x.v, c.v);
    ck_assert_int_eq(ch_instruments_lookup(r, "BTC-27DEC26-90000-C", 19, now, &x),
                     CH_EUNKNOWN_SYMBOL);
    ck_assert_int_eq(ch_instruments_lookup(r, "ETH-27DEC26-100000-C", 20, now, &x),
                     CH_EUNKNOWN_SYMBOL);
    ck_assert_int_eq(ch_instruments_lookup(r, "BTC-27DEC26-100000", 18, now, &x), CH_EBADSYMBOL);
    ck_assert_int_eq(ch_instruments_add(r, "ETH-27DEC26-1-C", 15, now, &x), CH_EUNKNOWN_UNDERLYING);
    /* expiry: 08:00 UTC on the day */
    ch_time exp = ch_instruments_get(r, c)->sym.expiry;
    ck_assert_int_eq(ch_instruments_lookup(r, cs, strlen(cs), exp - 1, &x), CH_OK);
    ck_assert_int_eq(ch_instruments_lookup(r, cs, strlen(cs), exp, &x), CH_EEXPIRED);
    ck_assert_int_eq(ch_instruments_add(r, "BTC-1JAN26-100000-C", 19, now, &x), CH_EEXPIRED);
    ck_assert_str_eq(ch_instruments_get(r, c)->symbol, cs);
    /* perp and capacity */
    ck_assert_int_eq(ch_instruments_add(r, "BTC-PERP", 8, now, &x), CH_OK);
    ck_assert_int_eq(ch_instruments_get(r, x)->sym.kind, CH_PERP);
    ch_time exps[1];
    ck_assert_int_eq(ch_date_to_time(2027, 3, 26, &exps[0]), CH_OK);
    exps[0] += HOUR8;
    int64_t strikes[] = {80000, 90000, 110000};
    ck_assert_int_eq(ch_instruments_add_grid(r, 0, exps, 1, strikes, 3, now), CH_ECAPACITY);
    ck_assert_int_eq(ch_instruments_count(r), 8);
    ck_assert_ptr_null(ch_instruments_get(r, (ch_instr_id){8}));
    ch_instruments_destroy(r);
    ch_instruments_destroy(NULL);
    ck_assert_ptr_null(ch_instruments_create(0, 1));
}
END_TEST

START_TEST(grid_of_a_real_chain)
{
    /* ~700 series: 10 expiries x 35 strikes x 2 */
    ch_instruments *r = ch_instruments_create(1024, 1);
    ch_underlying_config u = btc();
    ck_assert_int_eq(ch_instruments_add_underlying(r, &u, NULL), CH_OK);
    ch_time now, exps[10];
    ck_assert_int_eq(ch_date_to_time(2026, 11, 25, &now), CH_OK);
    for (int i = 0; i < 10; i++)
        exps[i] = now + (i + 1) * 7 * DAY + HOUR8;
    int64_t strikes[35];
    for (int k = 0; k < 35; k++)
        strikes[k] = 50000 + 2500 * k;
    ck_assert_int_eq(ch_instruments_add_grid(r, 0, exps, 10, strikes, 35, now), CH_OK);
    ck_assert_int_eq(ch_instruments_count(r), 700);
    for (uint32_t i = 0; i < 700; i++) {
        const ch_instrument *in = ch_instruments_get(r, (ch_instr_id){i});
        ch_instr_id back;
        ck_assert_int_eq(ch_instruments_lookup(r, in->symbol, strlen(in->symbol), now, &back),
                         CH_OK);
        ck_assert_int_eq(back.v, i);
        const ch_instrument *sib = ch_instruments_get(r, in->sibling);
        ck_assert_ptr_nonnull(sib);
        ck_assert_int_eq(sib->sym.strike, in->sym.strike);
        ck_assert_int_eq(sib->sym.expiry, in->sym.expiry);
        ck_assert_int_ne(sib->sym.kind, in->sym.kind);
    }
    /* an expiry not at 08:00 UTC is refused */
    ch_time odd = exps[0] + 1;
    ck_assert_int_eq(ch_instruments_add_grid(r, 0, &odd, 1, strikes, 1, now), CH_EBADDATE);
    ch_instruments_destroy(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("instrument");
    TCase *tc = tcase_create("symbols");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parse_option);
    tcase_add_test(tc, parse_perp);
    tcase_add_test(tc, leading_zero_day_canonicalised);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, round_trip_every_day);
    tcase_add_test(tc, random_bytes_never_crash);
    tcase_add_test(tc, format_errors);
    tcase_add_test(tc, dates);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("prices");
    tcase_add_test(tp, ticks_and_prices);
    suite_add_tcase(s, tp);
    TCase *tr = tcase_create("registry");
    tcase_add_test(tr, registry);
    tcase_add_test(tr, grid_of_a_real_chain);
    suite_add_tcase(s, tr);
    return ch_check_run(s);
}
