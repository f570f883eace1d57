/*
 * test_risk.c - pricing, Greeks, implied vol, smile, inventory, scenarios.
 *
 * The reference files (tests/data/reference, 50-digit values rounded to
 * double) are reproduced row by row within the tolerances of their README.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/hedge_cost.h"
#include "ch/risk.h"
#include "ch_check.h"

/* ---- CSV with quoted fields ---- */
#define MAXF 24
static int csv_split(char *line, char **f)
{
    int n = 0;
    char *p = line;
    while (n < MAXF) {
        if (*p == '"') {
            char *o = ++p;
            f[n++] = o;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"')
                    p++;
                *o++ = *p++;
            }
            if (*p == '"')
                p++;
            char *end = p;
            *o = '\0';
            if (*end == ',') {
                p = end + 1;
                continue;
            }
            break;
        }
        f[n++] = p;
        char *c = strpbrk(p, ",\r\n");
        if (c == NULL)
            break;
        bool more = *c == ',';
        *c = '\0';
        if (!more)
            break;
        p = c + 1;
    }
    return n;
}

static FILE *open_data(const char *name)
{
    const char *dir = getenv("CH_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/reference/%s", dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s (set CH_TEST_DATA)", path);
    return f;
}

static ch_opt opt_of(const char *s)
{
    return strcmp(s, "call") == 0 ? CH_OPT_CALL : CH_OPT_PUT;
}

/* ---- reference rows ---- */
START_TEST(reference_prices_and_greeks)
{
    FILE *f = open_data("bs_public.csv");
    char line[1024];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    long rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *fl[MAXF];
        ck_assert_int_eq(csv_split(line, fl), 15);
        double S = strtod(fl[1], NULL), K = strtod(fl[2], NULL), T = strtod(fl[3], NULL),
               r = strtod(fl[4], NULL), q = strtod(fl[5], NULL), v = strtod(fl[6], NULL);
        ch_greeks g;
        ck_assert_int_eq(ch_bs(opt_of(fl[0]), S, K, T, r, q, v, &g), CH_OK);
        double got[8] = {g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, g.vanna, g.volga};
        double rtol[8] = {1e-10, 1e-10, 1e-9, 1e-10, 1e-10, 1e-10, 1e-9, 1e-9};
        double scale[8] = {fmax(S, K),
                           1.0,
                           1.0 / (S * v * sqrt(T)),
                           S * sqrt(T),
                           S * v / sqrt(T) + fabs(r) * K + fabs(q) * S,
                           K * T,
                           1.0 / v,
                           S * sqrt(T) / v};
        for (int c = 0; c < 8; c++) {
            double ref = strtod(fl[7 + c], NULL);
            double tol = rtol[c] * fabs(ref) + 1e-13 * scale[c];
            ck_assert_msg(fabs(got[c] - ref) <= tol, "row %ld col %d: got %.17g ref %.17g", rows, c,
                          got[c], ref);
        }
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 2520);
}
END_TEST

static double vega_of(ch_opt t, double S, double K, double T, double r, double q, double v)
{
    ch_greeks g;
    ch_bs(t, S, K, T, r, q, v, &g);
    return g.vega;
}

/* the reference README's IV tolerance: max(1e-8, 16 ulp of the price scale / vega) */
static double iv_tol(ch_opt t, double S, double K, double T, double r, double q, double P,
                     double sig)
{
    double Dq = exp(-q * T), Dr = exp(-r * T);
    bool itm = (S * Dq > K * Dr) == (t == CH_OPT_CALL);
    double dP = 16 * DBL_EPSILON * (P + (itm ? S * Dq + K * Dr : 0.0));
    double vg = vega_of(t, S, K, T, r, q, sig);
    return fmax(1e-8, vg > 0 ? dP / vg : INFINITY);
}

START_TEST(reference_implied_vols)
{
    FILE *f = open_data("iv_public.csv");
    char line[1024];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    long rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *fl[MAXF];
        ck_assert_int_eq(csv_split(line, fl), 8);
        ch_opt t = opt_of(fl[0]);
        double S = strtod(fl[1], NULL), K = strtod(fl[2], NULL), T = strtod(fl[3], NULL),
               r = strtod(fl[4], NULL), q = strtod(fl[5], NULL), P = strtod(fl[6], NULL),
               ref = strtod(fl[7], NULL);
        double sig = -1;
        ch_err e = ch_implied_vol(t, S, K, T, r, q, P, &sig);
        if (isnan(ref)) {
            ck_assert_int_eq(e, CH_ENO_IV);
        } else {
            ck_assert_msg(e == CH_OK, "row %ld: %s", rows, ch_errname(e));
            double tol = iv_tol(t, S, K, T, r, q, P, ref);
            ck_assert_msg(fabs(sig - ref) <= tol, "row %ld: got %.17g ref %.17g tol %g", rows, sig,
                          ref, tol);
        }
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 705);
}
END_TEST

START_TEST(textbook_values)
{
    FILE *f = open_data("textbook_reference.csv");
    char line[2048];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        char *fl[MAXF];
        ck_assert_int_ge(csv_split(line, fl), 12);
        ch_opt t = opt_of(fl[1]);
        double S = strtod(fl[2], NULL), K = strtod(fl[3], NULL), T = strtod(fl[4], NULL),
               r = strtod(fl[5], NULL), q = strtod(fl[6], NULL), v = strtod(fl[7], NULL);
        const char *qty = fl[9];
        double pub = strtod(fl[10], NULL), tol = strtod(fl[11], NULL) * (1 + 1e-9);
        double got;
        if (strcmp(qty, "implied_vol") == 0) {
            ck_assert_int_eq(ch_implied_vol(t, S, K, T, r, q, strtod(fl[8], NULL), &got), CH_OK);
        } else {
            ch_greeks g;
            ck_assert_int_eq(ch_bs(t, S, K, T, r, q, v, &g), CH_OK);
            if (strcmp(qty, "price") == 0)
                got = g.price;
            else if (strcmp(qty, "delta") == 0)
                got = g.delta;
            else if (strcmp(qty, "gamma") == 0)
                got = g.gamma;
            else if (strcmp(qty, "vega") == 0)
                got = g.vega;
            else if (strcmp(qty, "theta") == 0)
                got = g.theta;
            else if (strcmp(qty, "theta_per_day365") == 0)
                got = ch_theta_per_day(g.theta);
            else if (strcmp(qty, "rho") == 0)
                got = g.rho;
            else if (strcmp(qty, "vanna") == 0)
                got = g.vanna;
            else if (strcmp(qty, "volga") == 0)
                got = g.volga;
            else if (strcmp(qty, "elasticity") == 0)
                got = g.delta * S / g.price;
            else if (strcmp(qty, "dividend_rho") == 0)
                got = -T * S * g.delta; /* dV/dq = -T S e^{-qT} N(+-d1) */
            else
                ck_abort_msg("unknown quantity %s", qty);
        }
        ck_assert_msg(fabs(got - pub) <= tol, "%s %s: got %.10g published %.10g", fl[0], qty, got,
                      pub);
        checked++;
    }
    fclose(f);
    ck_assert_int_eq(checked, 88);
}
END_TEST

/* ---- edges ---- */
static void assert_finite(const ch_greeks *g)
{
    const double *v = &g->price;
    for (int i = 0; i < 8; i++)
        ck_assert_msg(isfinite(v[i]), "greek %d not finite", i);
}

START_TEST(limits_without_nan)
{
    ch_greeks g;
    /* T = 0: payoff */
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 110, 100, 0, 0.05, 0, 0.5, &g), CH_OK);
    ck_assert_double_eq(g.price, 10);
    ck_assert_double_eq(g.delta, 1);
    ck_assert_double_eq(g.gamma, 0);
    ck_assert_int_eq(ch_bs(CH_OPT_PUT, 110, 100, 0, 0.05, 0, 0.5, &g), CH_OK);
    ck_assert_double_eq(g.price, 0);
    ck_assert_double_eq(g.delta, 0);
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 100, 100, 0, 0.05, 0, 0.5, &g), CH_OK);
    ck_assert_double_eq(g.delta, 0.5);
    /* sigma = 0: discounted forward intrinsic */
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 100, 90, 1, 0.05, 0.01, 0, &g), CH_OK);
    ck_assert_double_eq_tol(g.price, 100 * exp(-0.01) - 90 * exp(-0.05), 1e-12);
    ck_assert_double_eq_tol(g.delta, exp(-0.01), 1e-15);
    ck_assert_double_eq_tol(g.rho, 90 * exp(-0.05), 1e-12);
    assert_finite(&g);
    /* tiny sigma*sqrt(T), extreme moneyness, huge vol, one minute, years */
    double Ts[] = {1.0 / (365 * 24 * 60), 1e-12, 1.0 / 365, 1, 30};
    double Ks[] = {1e-3, 50, 99.999, 100, 100.001, 200, 1e6};
    double vs[] = {1e-8, 0.01, 0.3, 5.0, 50.0};
    for (int t = 0; t < 2; t++)
        for (size_t a = 0; a < 5; a++)
            for (size_t b = 0; b < 7; b++)
                for (size_t c = 0; c < 5; c++) {
                    ck_assert_int_eq(ch_bs(t, 100, Ks[b], Ts[a], 0.05, 0.02, vs[c], &g), CH_OK);
                    assert_finite(&g);
                    ck_assert(g.price >= 0);
                }
    /* invalid input */
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 0, 100, 1, 0, 0, 0.5, &g), CH_EINVAL);
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 100, -1, 1, 0, 0, 0.5, &g), CH_EINVAL);
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 100, 100, -1, 0, 0, 0.5, &g), CH_EINVAL);
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 100, 100, 1, 0, 0, -0.1, &g), CH_EINVAL);
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, 100, 100, 1, NAN, 0, 0.5, &g), CH_EINVAL);
    ck_assert_int_eq(ch_bs(CH_OPT_CALL, INFINITY, 100, 1, 0, 0, 0.5, &g), CH_EINVAL);
    ck_assert_int_eq(ch_bs((ch_opt)3, 100, 100, 1, 0, 0, 0.5, &g), CH_EINVAL);
    ck_assert(isnan(ch_bs_price(CH_OPT_PUT, -1, 100, 1, 0, 0, 0.5)));
    /* far tail keeps relative precision: N(-30) */
    ck_assert_double_eq_tol(ch_norm_cdf(-30) / 4.906713927148187e-198, 1.0, 1e-13);
    ck_assert_double_eq_tol(ch_norm_cdf(10), 1.0, 1e-16);
}
END_TEST

/* N's central range (|x| <= 0.67448975) is erfc's own polynomial inline:
 * bit for bit libm's 0.5 erfc(-x / sqrt 2), small and subnormal x too. */
START_TEST(central_cdf_is_libm_erfc)
{
    uint64_t rng = 7;
    for (int i = 0; i < 1000000; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        double x = ((double)(rng >> 11) / 9007199254740992.0 * 2 - 1) * 0.67448975;
        if (i % 4 == 0)
            x = ldexp(x, -(i % 1100));
        double want = 0.5 * erfc(-x * 0.70710678118654752440);
        if (ch_norm_cdf(x) != want)
            ck_abort_msg("N(%a) = %a, libm %a", x, ch_norm_cdf(x), want);
    }
    ck_assert(ch_norm_cdf(0.0) == 0.5 && ch_norm_cdf(-0.0) == 0.5);
    ck_assert(ch_norm_cdf(0.67448975) == 0.5 * erfc(-0.67448975 * 0.70710678118654752440));
}
END_TEST

START_TEST(parity_and_finite_differences)
{
    double S = 95000, K = 100000, T = 0.1, r = 0.04, q = 0.01, v = 0.65;
    ch_greeks c, p, up, dn;
    ch_bs(CH_OPT_CALL, S, K, T, r, q, v, &c);
    ch_bs(CH_OPT_PUT, S, K, T, r, q, v, &p);
    ck_assert_double_eq_tol(c.price - p.price, S * exp(-q * T) - K * exp(-r * T), 1e-8);
    double h = S * 1e-5;
    ch_bs(CH_OPT_CALL, S + h, K, T, r, q, v, &up);
    ch_bs(CH_OPT_CALL, S - h, K, T, r, q, v, &dn);
    ck_assert_double_eq_tol((up.price - dn.price) / (2 * h), c.delta, 1e-7);
    ck_assert_double_eq_tol((up.delta - dn.delta) / (2 * h), c.gamma, 1e-9);
    ck_assert_double_eq_tol((up.vega - dn.vega) / (2 * h), c.vanna, 1e-6);
    double dv = 1e-5;
    ch_bs(CH_OPT_CALL, S, K, T, r, q, v + dv, &up);
    ch_bs(CH_OPT_CALL, S, K, T, r, q, v - dv, &dn);
    ck_assert_double_eq_tol((up.price - dn.price) / (2 * dv), c.vega, 1e-3);
    ck_assert_double_eq_tol((up.vega - dn.vega) / (2 * dv), c.volga, 1e-2);
    double dt = 1e-6;
    ch_bs(CH_OPT_CALL, S, K, T + dt, r, q, v, &up);
    ch_bs(CH_OPT_CALL, S, K, T - dt, r, q, v, &dn);
    ck_assert_double_eq_tol(-(up.price - dn.price) / (2 * dt), c.theta, 1e-2);
    double dr = 1e-6;
    ch_bs(CH_OPT_CALL, S, K, T, r + dr, q, v, &up);
    ch_bs(CH_OPT_CALL, S, K, T, r - dr, q, v, &dn);
    ck_assert_double_eq_tol((up.price - dn.price) / (2 * dr), c.rho, 1e-3);
    /* Black-76 = BSM with S = F and q = r */
    ch_greeks b;
    ck_assert_int_eq(ch_black76(CH_OPT_CALL, 101000, K, T, r, v, &b), CH_OK);
    ck_assert_double_eq_tol(b.price, ch_bs_price(CH_OPT_CALL, 101000, K, T, r, r, v), 1e-12);
    /* units helpers */
    ck_assert_double_eq(ch_vega_per_point(250.0), 2.5);
    ck_assert_double_eq(ch_theta_per_day(365.0), 1.0);
    ck_assert_double_eq_tol(ch_years(0, 365 * 86400 * CH_NS_PER_SEC), 1.0, 1e-15);
}
END_TEST

START_TEST(implied_vol_round_trips)
{
    double ks[] = {0.3, 0.5, 0.8, 0.95, 0.99, 1.0, 1.01, 1.05, 1.2, 1.5, 2, 3};
    double ts[] = {
        1.0 / (365 * 24 * 60), 1.0 / (365 * 24), 1.0 / 365, 7.0 / 365, 30.0 / 365, 0.5, 1, 2, 5};
    double vs[] = {0.01, 0.02, 0.05, 0.1, 0.3, 0.6, 1, 2, 3, 5};
    long n = 0;
    for (int t = 0; t < 2; t++)
        for (size_t a = 0; a < 12; a++)
            for (size_t b = 0; b < 9; b++)
                for (size_t c = 0; c < 10; c++)
                    for (int d = 0; d < 2; d++) {
                        double S = 100, K = 100 * ks[a], T = ts[b], sig = vs[c], r = d ? 0.05 : 0.0,
                               q = d ? 0.03 : 0.0;
                        ch_greeks g;
                        ch_bs(t, S, K, T, r, q, sig, &g);
                        double Dq = exp(-q * T), Dr = exp(-r * T);
                        bool itm = (S * Dq > K * Dr) == (t == CH_OPT_CALL);
                        double lower =
                            t == CH_OPT_CALL ? fmax(S * Dq - K * Dr, 0) : fmax(K * Dr - S * Dq, 0);
                        double dP = 16 * DBL_EPSILON * (g.price + (itm ? S * Dq + K * Dr : 0));
                        if (g.price - lower <= dP || g.price < 1e-300)
                            continue; /* the time value is lost in rounding */
                        double s;
                        ck_assert_int_eq(ch_implied_vol(t, S, K, T, r, q, g.price, &s), CH_OK);
                        double tol = iv_tol(t, S, K, T, r, q, g.price, sig);
                        ck_assert_msg(fabs(s - sig) <= tol,
                                      "type %d K %g T %g sig %g: got %.17g tol %g", t, K, T, sig, s,
                                      tol);
                        n++;
                    }
    ck_assert_int_gt(n, 2500);
}
END_TEST

START_TEST(no_implied_vol)
{
    double s = 42;
    /* at or below intrinsic, at or above the upper bound, non-positive */
    ck_assert_int_eq(ch_implied_vol(CH_OPT_CALL, 100, 80, 1, 0, 0, 20.0, &s), CH_ENO_IV);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_CALL, 100, 80, 1, 0, 0, 19.0, &s), CH_ENO_IV);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_CALL, 100, 80, 1, 0, 0, 100.0, &s), CH_ENO_IV);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_CALL, 100, 80, 1, 0, 0, 150.0, &s), CH_ENO_IV);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_PUT, 100, 80, 1, 0, 0, 0.0, &s), CH_ENO_IV);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_PUT, 100, 80, 1, 0, 0, -1.0, &s), CH_ENO_IV);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_PUT, 100, 120, 1, 0.05, 0, 120.0, &s), CH_ENO_IV);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_PUT, 100, 120, 1, 0.05, 0, 14.0, &s), CH_ENO_IV);
    /* above the discounted intrinsic 14.15 (though below 20): a European vol exists */
    double s2;
    ck_assert_int_eq(ch_implied_vol(CH_OPT_PUT, 100, 120, 1, 0.05, 0, 18.0, &s2), CH_OK);
    ck_assert_double_eq(s, 42); /* untouched */
    ck_assert_int_eq(ch_implied_vol(CH_OPT_PUT, 100, 120, 0, 0, 0, 21.0, &s), CH_EINVAL);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_PUT, 100, 120, 1, 0, 0, NAN, &s), CH_EINVAL);
    ck_assert_int_eq(ch_implied_vol(CH_OPT_PUT, -100, 120, 1, 0, 0, 21.0, &s), CH_EINVAL);
}
END_TEST

/* ---- smile ---- */
#define DAY (INT64_C(86400) * CH_NS_PER_SEC)

START_TEST(smile_interpolation)
{
    ch_smile *sm = ch_smile_create(8, 16);
    ck_assert_ptr_nonnull(sm);
    ch_time now = 1000 * DAY, e1 = now + 30 * DAY, e2 = now + 90 * DAY;
    double v;
    ck_assert_int_eq(ch_smile_vol(sm, 100, e1, now, &v), CH_ENOTFOUND);
    double k1[] = {120, 80, 100}, v1[] = {0.5, 0.7, 0.55}; /* any order */
    ck_assert_int_eq(ch_smile_set(sm, e1, k1, v1, 3, now), CH_OK);
    ck_assert_int_eq(ch_smile_vol(sm, 100, e1, now, &v), CH_OK);
    ck_assert_double_eq_tol(v, 0.55, 1e-15);
    /* flat outside the marked strikes */
    ck_assert_int_eq(ch_smile_vol(sm, 50, e1, now, &v), CH_OK);
    ck_assert_double_eq_tol(v, 0.7, 1e-15);
    ck_assert_int_eq(ch_smile_vol(sm, 500, e1, now, &v), CH_OK);
    ck_assert_double_eq_tol(v, 0.5, 1e-15);
    /* linear in total variance (vol^2) in log-strike */
    double k = exp(0.5 * (log(100) + log(120)));
    ck_assert_int_eq(ch_smile_vol(sm, k, e1, now, &v), CH_OK);
    ck_assert_double_eq_tol(v * v, 0.5 * (0.55 * 0.55 + 0.5 * 0.5), 1e-14);
    /* flat vol before the first and after the only expiry */
    ck_assert_int_eq(ch_smile_vol(sm, 100, now + DAY, now, &v), CH_OK);
    ck_assert_double_eq_tol(v, 0.55, 1e-15);
    ck_assert_int_eq(ch_smile_vol(sm, 100, now + 400 * DAY, now, &v), CH_OK);
    ck_assert_double_eq_tol(v, 0.55, 1e-15);
    /* second expiry, flat 0.6: between them w is linear in T */
    ck_assert_int_eq(ch_smile_set_flat(sm, e2, 0.6, now), CH_OK);
    ck_assert_int_eq(ch_smile_count(sm), 2);
    ch_time em = now + 60 * DAY;
    ck_assert_int_eq(ch_smile_vol(sm, 100, em, now, &v), CH_OK);
    double w1 = 0.55 * 0.55 * 30 / 365, w2 = 0.36 * 90 / 365, w = 0.5 * (w1 + w2);
    ck_assert_double_eq_tol(v, sqrt(w / (60.0 / 365)), 1e-14);
    /* mark price follows */
    ch_market m = {.spot = 100, .rate = 0.05, .now = now};
    ch_greeks g;
    double vol;
    ck_assert_int_eq(ch_mark(sm, &m, CH_OPT_CALL, 100, em, &g, &vol), CH_OK);
    ck_assert_double_eq_tol(vol, v, 1e-15);
    ck_assert_double_eq_tol(g.price, ch_bs_price(CH_OPT_CALL, 100, 100, 60.0 / 365, 0.05, 0, v),
                            1e-12);
    ck_assert_int_eq(ch_smile_vol(sm, 100, now, now, &v), CH_EEXPIRED);
    ck_assert_int_eq(ch_smile_vol(sm, -1, e1, now, &v), CH_EINVAL);
    /* expiry passes */
    ck_assert_uint_eq(ch_smile_expire(sm, e1), 1);
    ck_assert_int_eq(ch_smile_count(sm), 1);
    ck_assert_int_eq(ch_smile_vol(sm, 100, e1 + DAY, e1, &v), CH_OK);
    ck_assert_double_eq_tol(v, 0.6, 1e-15);
    ch_smile_destroy(sm);
    ch_smile_destroy(NULL);
}
END_TEST

START_TEST(smile_rejects_arbitrage_and_bad_marks)
{
    ch_smile *sm = ch_smile_create(2, 4);
    ch_time now = 1000 * DAY, e1 = now + 30 * DAY, e2 = now + 60 * DAY, e3 = now + 90 * DAY;
    ck_assert_int_eq(ch_smile_set_flat(sm, e1, 0.8, now), CH_OK);
    /* 60d at 0.5: w = 0.25*60 < 0.64*30? 15 < 19.2: decreasing: refused */
    ck_assert_int_eq(ch_smile_set_flat(sm, e2, 0.5, now), CH_ECALENDAR);
    ck_assert_int_eq(ch_smile_count(sm), 1);
    ck_assert_int_eq(ch_smile_set_flat(sm, e2, 0.6, now), CH_OK); /* 21.6 >= 19.2 */
    /* re-marking e1 above e2's total variance is refused too, and changes nothing */
    ck_assert_int_eq(ch_smile_set_flat(sm, e1, 0.9, now), CH_ECALENDAR);
    double v;
    ck_assert_int_eq(ch_smile_vol(sm, 100, e1, now, &v), CH_OK);
    ck_assert_double_eq_tol(v, 0.8, 1e-15);
    ck_assert_int_eq(ch_smile_set_flat(sm, e1, 0.7, now), CH_OK); /* replace */
    ck_assert_int_eq(ch_smile_vol(sm, 100, e1, now, &v), CH_OK);
    ck_assert_double_eq_tol(v, 0.7, 1e-15);
    /* per strike: a skewed slice crossing the flat one at one strike */
    double ks[] = {50, 100, 150}, vs[] = {0.9, 0.6, 0.55};
    ck_assert_int_eq(ch_smile_set(sm, e1, ks, vs, 3, now), CH_ECALENDAR);
    /* bad marks */
    double bad_v[] = {0.5, -0.1};
    double two_k[] = {90, 110};
    ck_assert_int_eq(ch_smile_set(sm, e3, two_k, bad_v, 2, now), CH_EBADVOL);
    double big_v[] = {0.5, 11};
    ck_assert_int_eq(ch_smile_set(sm, e3, two_k, big_v, 2, now), CH_EBADVOL);
    double dup_k[] = {90, 90}, ok_v[] = {0.7, 0.7};
    ck_assert_int_eq(ch_smile_set(sm, e3, dup_k, ok_v, 2, now), CH_EBADVOL);
    double nan_v[] = {NAN, 0.7};
    ck_assert_int_eq(ch_smile_set(sm, e3, two_k, nan_v, 2, now), CH_EBADVOL);
    ck_assert_int_eq(ch_smile_set(sm, e3, two_k, ok_v, 0, now), CH_EBADVOL);
    double five_k[] = {1, 2, 3, 4, 5}, five_v[] = {1, 1, 1, 1, 1};
    ck_assert_int_eq(ch_smile_set(sm, e3, five_k, five_v, 5, now), CH_ECAPACITY);
    ck_assert_int_eq(ch_smile_set(sm, e3, two_k, ok_v, 2, now), CH_ECAPACITY); /* 2 expiries */
    ck_assert_int_eq(ch_smile_set_flat(sm, now, 0.5, now), CH_EEXPIRED);
    ck_assert_int_eq(ch_smile_count(sm), 2);
    ch_smile_destroy(sm);
    ck_assert_ptr_null(ch_smile_create(0, 4));
}
END_TEST

/* ---- inventory ---- */
static ch_inventory *chain(ch_smile **smp, ch_market *m, uint32_t *n_out)
{
    ch_time now = 20000 * DAY;
    *m = (ch_market){.spot = 100000, .rate = 0.03, .now = now};
    ch_smile *sm = ch_smile_create(16, 64);
    ch_inventory *inv = ch_inventory_create(1024);
    uint32_t n = 0;
    for (int e = 0; e < 10; e++) {
        ch_time ex = now + (7 + 14 * e) * DAY;
        double ks[35], vs[35];
        for (int k = 0; k < 35; k++) {
            ks[k] = 50000 + 2500 * k;
            double x = log(ks[k] / 100000);
            vs[k] = 0.5 + 0.3 * x * x + 0.01 * e;
        }
        ck_assert_int_eq(ch_smile_set(sm, ex, ks, vs, 35, now), CH_OK);
        for (int k = 0; k < 35; k++)
            for (int t = 0; t < 2; t++) {
                ch_series s = {.type = t, .strike = ks[k], .expiry = ex, .contract_size = 1};
                ck_assert_int_eq(ch_inventory_define(inv, n++, &s), CH_OK);
            }
    }
    *smp = sm;
    *n_out = n;
    return inv;
}

static void totals_close(const ch_risk_totals *a, const ch_risk_totals *b)
{
    ck_assert_double_eq_tol(a->delta, b->delta, 1e-9 * (1 + fabs(b->delta)));
    ck_assert_double_eq_tol(a->gamma, b->gamma, 1e-9 * (1e-6 + fabs(b->gamma)));
    ck_assert_double_eq_tol(a->vega, b->vega, 1e-9 * (1 + fabs(b->vega)));
    ck_assert_double_eq_tol(a->theta, b->theta, 1e-9 * (1 + fabs(b->theta)));
    ck_assert_double_eq_tol(a->value, b->value, 1e-9 * (1 + fabs(b->value)));
}

START_TEST(inventory_incremental_equals_full)
{
    ch_smile *sm;
    ch_market m;
    uint32_t n;
    ch_inventory *inv = chain(&sm, &m, &n);
    ck_assert_int_eq(n, 700);
    ck_assert_int_eq(ch_inventory_revalue(inv, sm, &m), CH_OK);
    uint64_t rng = 99;
    for (int i = 0; i < 20000; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t id = (uint32_t)(rng >> 33) % n;
        double q = (double)((int)((rng >> 20) % 21) - 10);
        ck_assert_int_eq(ch_inventory_fill(inv, id, q), CH_OK);
    }
    ch_risk_totals inc, full;
    ch_inventory_totals(inv, &inc);
    ch_bucket b[400];
    size_t nb = ch_inventory_buckets(inv, b, 400);
    ck_assert_uint_eq(nb, 350);
    ch_bucket inc_b[400];
    memcpy(inc_b, b, sizeof b);
    ck_assert_int_eq(ch_inventory_revalue(inv, sm, &m), CH_OK);
    ch_inventory_totals(inv, &full);
    totals_close(&inc, &full);
    ch_inventory_buckets(inv, b, 400);
    ch_risk_totals sum = {0};
    for (size_t i = 0; i < nb; i++) {
        totals_close(&inc_b[i].net, &b[i].net);
        if (i > 0)
            ck_assert(b[i - 1].expiry < b[i].expiry ||
                      (b[i - 1].expiry == b[i].expiry && b[i - 1].strike < b[i].strike));
        sum.delta += b[i].net.delta;
        sum.vega += b[i].net.vega;
    }
    ck_assert_double_eq_tol(sum.delta, full.delta, 1e-6 * (1 + fabs(full.delta)));
    ck_assert_double_eq_tol(sum.vega, full.vega, 1e-6 * (1 + fabs(full.vega)));
    /* per expiry */
    ch_risk_totals ex;
    ck_assert_int_eq(ch_inventory_expiry(inv, b[0].expiry, &ex), CH_OK);
    ck_assert_int_eq(ch_inventory_expiry(inv, 1, &ex), CH_ENOTFOUND);
    /* a position's Greeks are qty x unit Greeks x contract size */
    ch_inventory *one = ch_inventory_create(4);
    ch_series s = {
        .type = CH_OPT_CALL, .strike = 100000, .expiry = b[0].expiry, .contract_size = 0.1};
    ck_assert_int_eq(ch_inventory_define(one, 0, &s), CH_OK);
    ck_assert_int_eq(ch_inventory_define(one, 0, &s), CH_EEXISTS);
    ck_assert_int_eq(ch_inventory_define(one, 9, &s), CH_ERANGE);
    ck_assert_int_eq(ch_inventory_fill(one, 1, 1), CH_ENOTFOUND);
    ck_assert_int_eq(ch_inventory_revalue(one, sm, &m), CH_OK);
    ck_assert_int_eq(ch_inventory_fill(one, 0, -5), CH_OK);
    ck_assert_double_eq(ch_inventory_position(one, 0), -5);
    ch_greeks g;
    ch_mark(sm, &m, CH_OPT_CALL, 100000, b[0].expiry, &g, NULL);
    ch_inventory_totals(one, &ex);
    ck_assert_double_eq_tol(ex.delta, -5 * 0.1 * g.delta, 1e-12);
    ck_assert_double_eq_tol(ex.gamma, -5 * 0.1 * g.gamma, 1e-18);
    ck_assert_double_eq_tol(ex.vega, -5 * 0.1 * g.vega, 1e-9);
    ch_inventory_destroy(one);
    ch_inventory_destroy(inv);
    ch_smile_destroy(sm);
}
END_TEST

START_TEST(scenarios)
{
    ch_smile *sm;
    ch_market m;
    uint32_t n;
    ch_inventory *inv = chain(&sm, &m, &n);
    ch_scenario_config cfg;
    ch_scenario_defaults(&cfg);
    ck_assert_uint_eq(cfg.n_spot, 9);
    ch_scenario_result r;
    /* empty: nothing at risk */
    ck_assert_int_eq(ch_inventory_scenarios(inv, sm, &m, &cfg, NULL, NULL, 0, &r), CH_OK);
    ck_assert_uint_eq(r.n, 27);
    ck_assert_double_eq(r.worst_loss, 0);
    /* long 10 ATM calls (series 2*14 = the 100000 call of the first expiry) */
    uint32_t call = 2 * 20, put = 2 * 20 + 1;
    ck_assert_int_eq(ch_inventory_fill(inv, call, 10), CH_OK);
    ck_assert_int_eq(ch_inventory_scenarios(inv, sm, &m, &cfg, NULL, NULL, 0, &r), CH_OK);
    ck_assert_double_eq(r.spot_shock[r.worst], -0.2);
    ck_assert_int_eq(r.vol_shock[r.worst], -1);
    ch_greeks g;
    ck_assert_int_eq(
        ch_mark(sm, &m, CH_OPT_CALL, 100000 - 50000 + 2500 * 20, m.now + 7 * DAY, &g, NULL), CH_OK);
    ck_assert(r.worst_loss > 0 && r.worst_loss <= 10 * g.price + 1e-9);
    /* scenario 0 flat at spot 0 shock: pnl 0 */
    ck_assert_double_eq_tol(r.pnl[4 * 3 + 1], 0, 1e-9);
    /* the same trade as an extra position gives the same grid */
    ch_scenario_result r2;
    ck_assert_int_eq(ch_inventory_fill(inv, call, -10), CH_OK);
    double q = 10;
    ck_assert_int_eq(ch_inventory_scenarios(inv, sm, &m, &cfg, &call, &q, 1, &r2), CH_OK);
    for (size_t i = 0; i < r.n; i++)
        ck_assert_double_eq_tol(r.pnl[i], r2.pnl[i], 1e-6);
    /* short call + long put: losses on the upside */
    ck_assert_int_eq(ch_inventory_fill(inv, call, -3), CH_OK);
    ck_assert_int_eq(ch_inventory_fill(inv, put, 3), CH_OK);
    ck_assert_int_eq(ch_inventory_scenarios(inv, sm, &m, &cfg, NULL, NULL, 0, &r), CH_OK);
    ck_assert_double_eq(r.spot_shock[r.worst], 0.2);
    /* bad config */
    cfg.n_spot = 0;
    ck_assert_int_eq(ch_inventory_scenarios(inv, sm, &m, &cfg, NULL, NULL, 0, &r), CH_EINVAL);
    ch_scenario_defaults(&cfg);
    cfg.spot_shocks[0] = -1.5;
    ck_assert_int_eq(ch_inventory_scenarios(inv, sm, &m, &cfg, NULL, NULL, 0, &r), CH_EINVAL);
    ch_inventory_destroy(inv);
    ch_smile_destroy(sm);
}
END_TEST

/* Issue 16: the marginal hedge cost of a trade (ch/hedge_cost.h). */
START_TEST(marginal_hedge_cost)
{
    ch_hedge_cost_params p = {.fee_rate = 0.0005, .impact_rate = 0.0003, .delta_limit = 50};
    const double F = 100000, unit = 2 * 0.0008 * F; /* 160 USD per unit in and out */
    /* an adding forward pays; an offsetting one is rebated, the same amount */
    ch_hedge_cost c = ch_marginal_hedge_cost(&p, 10, 1, F, 0);
    ck_assert_double_eq_tol(c.cost, unit, 1e-9);
    ck_assert(!c.refused);
    c = ch_marginal_hedge_cost(&p, 10, -1, F, 0);
    ck_assert_double_eq_tol(c.cost, -unit, 1e-9);
    ck_assert_double_eq_tol(c.reducing, 1, 1e-12);
    /* a trade that crosses zero is split there: 3 rebated, 2 paid */
    c = ch_marginal_hedge_cost(&p, 3, -5, F, 0);
    ck_assert_double_eq_tol(c.reducing, 3, 1e-12);
    ck_assert_double_eq_tol(c.adding, 2, 1e-12);
    ck_assert_double_eq_tol(c.cost, -unit, 1e-9);
    c = ch_marginal_hedge_cost(&p, -3, 5, F, 0);
    ck_assert_double_eq_tol(c.cost, -unit, 1e-9);
    /* from a flat house every delta adds */
    c = ch_marginal_hedge_cost(&p, 0, -2, F, 0);
    ck_assert_double_eq_tol(c.cost, 2 * unit, 1e-9);
    /* carry: 1 % funding to expiry; taking on +1 means a short perp hedge,
     * which receives it */
    c = ch_marginal_hedge_cost(&p, 0, 1, F, 0.01);
    ck_assert_double_eq_tol(c.carry, -1000, 1e-9);
    ck_assert_double_eq_tol(c.cost, unit - 1000, 1e-9);
    c = ch_marginal_hedge_cost(&p, 0, -1, F, 0.01);
    ck_assert_double_eq_tol(c.carry, 1000, 1e-9);
    /* the limit refuses growth beyond it, never a reduction */
    ck_assert(ch_marginal_hedge_cost(&p, 49.5, 1, F, 0).refused);
    ck_assert(!ch_marginal_hedge_cost(&p, 49.5, 0.5, F, 0).refused);
    ck_assert(!ch_marginal_hedge_cost(&p, 60, -1, F, 0).refused);
    ck_assert(ch_marginal_hedge_cost(&p, 40, -100, F, 0).refused); /* -60 beyond -50 */
    ck_assert(ch_marginal_hedge_cost(&p, 0, NAN, F, 0).refused);
    p.delta_limit = 0; /* none */
    ck_assert(!ch_marginal_hedge_cost(&p, 1e9, 1e9, F, 0).refused);
    /* the funding average */
    ck_assert_double_eq_tol(ch_funding_ewma(NAN, 0.0001, 8, 24), 0.0001, 1e-15);
    double a = ch_funding_ewma(0.0001, 0.0003, 24, 24); /* one half-life: half way */
    ck_assert_double_eq_tol(a, 0.0002, 1e-12);
    ck_assert_double_eq_tol(ch_funding_ewma(0.0001, 0.0003, 8, 0), 0.0003, 1e-15);
    ck_assert_double_eq_tol(ch_funding_ewma(0.0001, NAN, 8, 24), 0.0001, 1e-15);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("risk");
    TCase *tr = tcase_create("reference");
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, reference_prices_and_greeks);
    tcase_add_test(tr, reference_implied_vols);
    tcase_add_test(tr, textbook_values);
    suite_add_tcase(s, tr);
    TCase *te = tcase_create("edges");
    tcase_set_timeout(te, 120);
    tcase_add_test(te, limits_without_nan);
    tcase_add_test(te, central_cdf_is_libm_erfc);
    tcase_add_test(te, parity_and_finite_differences);
    tcase_add_test(te, implied_vol_round_trips);
    tcase_add_test(te, no_implied_vol);
    suite_add_tcase(s, te);
    TCase *ts = tcase_create("smile");
    tcase_add_test(ts, smile_interpolation);
    tcase_add_test(ts, smile_rejects_arbitrage_and_bad_marks);
    suite_add_tcase(s, ts);
    TCase *ti = tcase_create("inventory");
    tcase_set_timeout(ti, 60);
    tcase_add_test(ti, inventory_incremental_equals_full);
    tcase_add_test(ti, scenarios);
    tcase_add_test(ti, marginal_hedge_cost);
    suite_add_tcase(s, ti);
    return ch_check_run(s);
}
