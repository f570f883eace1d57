/*
 * bench_risk.c - cost of the risk core, ns per operation:
 *   - price + all Greeks of one option (BSM), over a spread of inputs;
 *   - implied vol of one price;
 *   - full revaluation of a 700-series inventory (10 expiries x 35 strikes x
 *     C/P) from the smile;
 *   - incremental update of the inventory per fill;
 *   - one scenario grid (27 scenarios) over the 700 series.
 * The in-run baseline of pricing is the erfc-based pricer of 0.1
 * (bs_erfc.h) on the same inputs, so that its ratio keeps its meaning on
 * another CPU; implied vol and the inventory update are put beside one
 * price + 7 Greeks (how many pricings one costs). --only greeks|erfc|inputs
 * runs that loop alone (bench/instructions --risk counts its instructions
 * with valgrind: instructions per call do not move with the machine).
 *
 * Usage: bench_risk [--n N] [--json FILE] [--smoke] [--only greeks|erfc|inputs]
 */
#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "bs_erfc.h"
#include "ch/risk.h"

#define DAY (INT64_C(86400) * CH_NS_PER_SEC)

typedef struct in {
    ch_opt t;
    double S, K, T, r, q, v, price;
} in;

int main(int argc, char **argv)
{
    size_t n = 2000000;
    const char *json = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--smoke") == 0)
            n = 20000;
        else {
            fprintf(stderr,
                    "usage: %s [--n N] [--json FILE] [--smoke] [--only greeks|erfc|inputs]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1000)
        n = 1000;
    in *x = malloc(n * sizeof *x);
    if (x == NULL)
        return 2;
    uint64_t rng = 12345;
    for (size_t i = 0; i < n; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = (double)(rng >> 11) / 9007199254740992.0;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (double)(rng >> 11) / 9007199254740992.0;
        x[i] = (in){.t = (ch_opt)(i & 1),
                    .S = 100000,
                    .K = 100000 * (0.6 + 0.8 * u1),
                    .T = 1.0 / 365 + 1.5 * u2,
                    .r = 0.03,
                    .q = 0.0,
                    .v = 0.3 + 0.9 * u1 * u2};
        x[i].price = ch_bs_price(x[i].t, x[i].S, x[i].K, x[i].T, x[i].r, x[i].q, x[i].v);
    }
    ch_greeks g;
    double acc = 0;
    volatile double sink;
    if (only != NULL) { /* one loop, for an instruction count */
        bool mine = strcmp(only, "greeks") == 0, erfc_ = strcmp(only, "erfc") == 0;
        if (!mine && !erfc_ && strcmp(only, "inputs") != 0) {
            fprintf(stderr, "bench_risk: --only greeks, erfc or inputs\n");
            return 2;
        }
        for (size_t i = 0; i < n; i++) {
            if (mine)
                ch_bs(x[i].t, x[i].S, x[i].K, x[i].T, x[i].r, x[i].q, x[i].v, &g);
            else if (erfc_)
                bench_bs_erfc(x[i].t, x[i].S, x[i].K, x[i].T, x[i].r, x[i].q, x[i].v, &g);
            else
                g = (ch_greeks){.price = x[i].K};
            acc += g.price + g.delta + g.gamma + g.vega + g.theta + g.rho + g.vanna + g.volga;
        }
        sink = acc;
        free(x);
        return 0;
    }
    /* baseline: the erfc-based pricer of 0.1 on the same inputs */
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        bench_bs_erfc(x[i].t, x[i].S, x[i].K, x[i].T, x[i].r, x[i].q, x[i].v, &g);
        acc += g.price + g.delta + g.gamma + g.vega + g.theta + g.rho + g.vanna + g.volga;
    }
    uint64_t t1 = bench_now_ns();
    sink = acc;
    double base_ns = (double)(t1 - t0) / (double)n;

    /* price + greeks */
    acc = 0;
    t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        ch_bs(x[i].t, x[i].S, x[i].K, x[i].T, x[i].r, x[i].q, x[i].v, &g);
        acc += g.price + g.delta + g.gamma + g.vega + g.theta + g.rho + g.vanna + g.volga;
    }
    t1 = bench_now_ns();
    sink = acc;
    double greeks_ns = (double)(t1 - t0) / (double)n;

    /* implied vol (a quarter of the inputs: it is slower) */
    size_t niv = n / 4, ok = 0;
    double maxerr = 0;
    t0 = bench_now_ns();
    for (size_t i = 0; i < niv; i++) {
        double s;
        if (ch_implied_vol(x[i].t, x[i].S, x[i].K, x[i].T, x[i].r, x[i].q, x[i].price, &s) ==
            CH_OK) {
            ok++;
            acc += s;
        }
    }
    t1 = bench_now_ns();
    sink = acc;
    double iv_ns = (double)(t1 - t0) / (double)niv;
    /* accuracy, outside the timing: error / tolerance of the reference README
     * (max(1e-8, 16 ulp of the price scale / vega)); a price whose time value
     * is lost in rounding has no implied vol in double precision */
    size_t unsolvable = 0, wrong = 0;
    double worst_ratio = 0;
    for (size_t i = 0; i < niv; i++) {
        const in *a = &x[i];
        double Dq = exp(-a->q * a->T), Dr = exp(-a->r * a->T);
        bool itm = (a->S * Dq > a->K * Dr) == (a->t == CH_OPT_CALL);
        double lower =
            a->t == CH_OPT_CALL ? fmax(a->S * Dq - a->K * Dr, 0) : fmax(a->K * Dr - a->S * Dq, 0);
        double dP = 16 * DBL_EPSILON * (a->price + (itm ? a->S * Dq + a->K * Dr : 0));
        ch_greeks ga;
        ch_bs(a->t, a->S, a->K, a->T, a->r, a->q, a->v, &ga);
        double tol = fmax(1e-8, ga.vega > 0 ? dP / ga.vega : INFINITY);
        double s = 0;
        ch_err e = ch_implied_vol(a->t, a->S, a->K, a->T, a->r, a->q, a->price, &s);
        if (a->price - lower <= dP) {
            unsolvable++;
            continue;
        }
        if (e != CH_OK || !(fabs(s - a->v) <= tol))
            wrong++;
        else
            worst_ratio = fmax(worst_ratio, fabs(s - a->v) / tol);
    }
    maxerr = worst_ratio;

    /* a 700-series inventory */
    ch_time now = 20000 * DAY;
    ch_market m = {.spot = 100000, .rate = 0.03, .now = now};
    ch_smile *sm = ch_smile_create(16, 64);
    ch_inventory *inv = ch_inventory_create(1024);
    uint32_t ns = 0;
    for (int e = 0; e < 10; e++) {
        ch_time ex = now + (7 + 14 * e) * DAY;
        double ks[35], vs[35];
        for (int k = 0; k < 35; k++) {
            ks[k] = 50000 + 2500 * k;
            double lx = log(ks[k] / 100000);
            vs[k] = 0.5 + 0.3 * lx * lx + 0.01 * e;
        }
        ch_smile_set(sm, ex, ks, vs, 35, now);
        for (int k = 0; k < 35; k++)
            for (int t = 0; t < 2; t++) {
                ch_series s = {.type = t, .strike = ks[k], .expiry = ex, .contract_size = 1};
                ch_inventory_define(inv, ns++, &s);
            }
    }
    for (uint32_t i = 0; i < ns; i++)
        ch_inventory_fill(inv, i, (double)((int)(i % 7) - 3));
    int reps = n >= 1000000 ? 2000 : 50;
    t0 = bench_now_ns();
    for (int k = 0; k < reps; k++) {
        m.spot = 100000 + (k & 15);
        ch_inventory_revalue(inv, sm, &m);
    }
    t1 = bench_now_ns();
    double reval_us = (double)(t1 - t0) / reps / 1e3;

    size_t nfill = n;
    t0 = bench_now_ns();
    for (size_t i = 0; i < nfill; i++)
        ch_inventory_fill(inv, (uint32_t)(i % ns), (i & 1) ? 1.0 : -1.0);
    t1 = bench_now_ns();
    double fill_ns = (double)(t1 - t0) / (double)nfill;

    ch_scenario_config cfg;
    ch_scenario_defaults(&cfg);
    ch_scenario_result r;
    int sreps = n >= 1000000 ? 50 : 3;
    t0 = bench_now_ns();
    for (int k = 0; k < sreps; k++)
        ch_inventory_scenarios(inv, sm, &m, &cfg, NULL, NULL, 0, &r);
    t1 = bench_now_ns();
    double scen_us = (double)(t1 - t0) / sreps / 1e3;
    (void)sink;

    char machine[300];
    bench_machine(machine, sizeof machine);
    printf("risk benchmark: %zu options (BSM, spread of strikes 0.6-1.4 S, T 1 day-1.5 y, vol "
           "30-120%%)\nmachine: %s\n\n",
           n, machine);
    printf("| operation | cost | target |\n|---|---|---|\n");
    printf("| baseline: price + 7 Greeks, erfc-based (0.1) | %.1f ns | |\n", base_ns);
    printf("| price + 7 Greeks | %.1f ns (%.2f x baseline) | <= 100 ns |\n", greeks_ns,
           greeks_ns / base_ns);
    printf("| implied vol | %.1f ns (%.1f pricings); %zu inputs: %zu solved within tolerance "
           "(worst err/tol %.2f), %zu wrong, %zu with no vol in double precision | <= 1 us |\n",
           iv_ns, iv_ns / greeks_ns, niv, niv - unsolvable - wrong, maxerr, wrong, unsolvable);
    printf("| revalue 700 series from the smile | %.1f us | < 100 us |\n", reval_us);
    printf("| inventory update per fill | %.1f ns | O(1) |\n", fill_ns);
    printf("| scenario grid (27) over 700 series | %.0f us | |\n", scen_us);
    if (json != NULL) {
        FILE *f = bench_json_open(json);
        if (f == NULL)
            return 2;
        fprintf(f,
                "{\"bench\":\"risk\",\"machine\":\"%s\",\"n\":%zu,"
                "\"baseline\":{\"name\":\"erfc-based price + 7 Greeks (0.1)\",\"ns\":%.2f},"
                "\"greeks_ns\":%.2f,\"iv_ns\":%.2f,\"iv_worst_err_over_tol\":%.3g,\"iv_wrong\":%zu,"
                "\"revalue_700_us\":%.2f,\"fill_ns\":%.2f,\"scenarios_700_us\":%.1f}\n",
                machine, n, base_ns, greeks_ns, iv_ns, maxerr, wrong, reval_us, fill_ns, scen_us);
        fclose(f);
    }
    ch_inventory_destroy(inv);
    ch_smile_destroy(sm);
    free(x);
    (void)ok;
    return wrong == 0 ? 0 : 1;
}
