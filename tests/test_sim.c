/*
 * test_sim.c - sanity of chsim's simulation (clients/sim) against what must
 * hold whatever the parameters:
 *   - only offsetting flow: the book nets all of it, the pool trades nothing,
 *     nothing is hedged;
 *   - one-sided flow: nothing is netted, the hedge sends what a
 *     trade-by-trade hedger would;
 *   - a short option delta-hedged at zero cost earns the gamma/theta
 *     difference 1/2 Gamma S^2 (sigma_implied^2 - sigma_realized^2) dt;
 *   - the PnL attribution adds up; the same seed gives the same report bytes;
 *   - config: unknown keys and bad values are refused; flow CSV round trip;
 *   - a price file quotes the underlying in USD, one pair throughout;
 *   - two underlyings in one engine: the second's path is correlated with the
 *     first's as configured, each lane's fills and hedges are its own, a
 *     second underlying without flow changes nothing of the first's, and each
 *     lane's attribution adds up to its PnL.
 * Scenarios are small (hours to days of simulated time) and use a flat vol
 * surface and GBM paths, so no data file is needed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch_check.h"
#include "sim.h"

/* A small scenario: flat 60% vol, GBM without jumps or spikes, no funding,
 * one configuration hedging every step (through the JSON config, as chsim). */
static void small_cfg(sim_config *c, double sigma, double days)
{
    char json[1024], msg[SIM_MSG_MAX];
    snprintf(
        json, sizeof json,
        "{\"days\": %g, \"price\": {\"source\": \"gbm\", \"spot0\": 50000, \"mu\": 0, "
        "\"sigma\": %g, \"jumps_per_year\": 0, \"spikes_per_year\": 0},"
        " \"funding\": {\"source\": \"constant\", \"rate\": 0},"
        " \"chain\": {\"flat_vol\": 0.6, \"vol_follow\": 0, \"weeklies\": 2, \"monthlies\": 0},"
        " \"flow\": {\"orders_per_hour\": 6, \"traders\": 4},"
        " \"configurations\": [{\"name\": \"t\", \"hedge\": {\"policy\": \"every_batch\","
        " \"min_order\": 0}}]}",
        days, sigma);
    sim_config_defaults(c);
    ck_assert_msg(sim_config_parse(c, json, msg, sizeof msg), "%s", msg);
}

typedef struct scenario {
    sim_market m;
    sim_flow f;
    sim_result r;
} scenario;

static void run_scenario(const sim_config *c, scenario *s)
{
    char msg[SIM_MSG_MAX] = "";
    ck_assert_msg(sim_market_build(c, &s->m, msg, sizeof msg), "%s", msg);
    if (s->f.n == 0)
        ck_assert(sim_flow_generate(c, &s->m, &s->f));
    ck_assert_uint_gt(s->f.n, 0);
    ck_assert_msg(sim_run(c, &c->runs[0], &s->m, &s->f, NULL, &s->r, NULL, NULL, msg, sizeof msg),
                  "%s", msg);
    /* the attribution adds up to the PnL, whatever the scenario */
    double sum = 0;
    for (int p = 0; p < SIM_PNL_N; p++)
        sum += s->r.pnl[p];
    ck_assert_msg(fabs(sum - s->r.pool_pnl) < 1e-6 * (1 + fabs(s->r.pool_pnl)),
                  "attribution %.6f vs pnl %.6f", sum, s->r.pool_pnl);
}

static void free_scenario(scenario *s)
{
    sim_result_free(&s->r);
    sim_flow_free(&s->f);
    sim_market_free(&s->m);
}

START_TEST(offsetting_flow_is_all_netted)
{
    static sim_config c;
    small_cfg(&c, 0.6, 2);
    c.flow.shape = SIM_SHAPE_OFFSETTING;
    /* a pool quote far from the mark, so that the resting half of each pair
     * (a limit at the mark) never trades with the pool, whatever the tick
     * rounding of cheap options */
    c.pool.half_spread_vol = 0.25;
    c.runs[0].dynamic_pricing = false;
    scenario s = {0};
    run_scenario(&c, &s);
    ck_assert_int_gt(s.r.lots[CH_SRC_BOOK], 0);
    ck_assert_int_eq(s.r.lots[CH_SRC_NET], 0);
    ck_assert_int_eq(s.r.lots[CH_SRC_POOL], 0);
    ck_assert_double_eq(s.r.internal_share, 1.0);
    ck_assert_double_eq(s.r.hedge_volume, 0.0);
    ck_assert_uint_eq(s.r.hedge_orders, 0);
    ck_assert_double_gt(s.r.gross_delta, 0.0);
    ck_assert_double_eq(s.r.netting_ratio, 1.0);
    /* the house and pool hold nothing, so they made and lost nothing */
    ck_assert_double_eq_tol(s.r.pool_pnl, 0.0, 1e-6);
    free_scenario(&s);
}
END_TEST

START_TEST(one_sided_flow_is_not_netted)
{
    static sim_config c;
    small_cfg(&c, 0.0, 1); /* a flat spot: delta changes only by fills (and decay) */
    c.flow.buy_share = 1;
    c.flow.call_share = 1;
    c.flow.limit_share = 0;
    scenario s = {0};
    run_scenario(&c, &s);
    ck_assert_int_eq(s.r.lots[CH_SRC_BOOK] + s.r.lots[CH_SRC_NET], 0);
    ck_assert_int_gt(s.r.lots[CH_SRC_POOL], 0);
    ck_assert_double_eq(s.r.internal_share, 0.0);
    /* every fill adds short delta to the pool and each step is hedged back:
     * the hedge sends what a trade-by-trade hedger would, up to the delta's
     * decay between steps (charm: well under 1% over a day here) */
    ck_assert_double_gt(s.r.hedge_volume, 0.0);
    ck_assert_msg(fabs(s.r.netting_ratio) < 0.01, "netting ratio %.6f", s.r.netting_ratio);
    free_scenario(&s);
}
END_TEST

/*
 * The pool sells 10 at-the-money calls (13 days) at the model price of a 60%
 * vol and hedges their delta every 2 minutes at zero cost while the spot
 * follows a GBM of 30% vol for 7 days. Its PnL (less the tick rounding of
 * the sale) must approach sum_k 1/2 q Gamma_k S_k^2 (sigma_i^2 - sigma_r^2) dt.
 * Tolerance: hedged at every step, the PnL is pathwise
 * sum_k 1/2 q Gamma_k S_k^2 (sigma_i^2 dt - r_k^2) up to third-order terms,
 * so it differs from the theory by the sampling error of the realized
 * variance, sum_k 1/2 q Gamma_k S_k^2 (sigma_r^2 dt - r_k^2), whose standard
 * deviation (Var r^2 = 2 sigma_r^4 dt^2 for a GBM step) is computed along the
 * path: 4 of those are allowed (about 3% of the expected PnL here, with
 * N = 5040 rebalances). The pathwise identity leaves only the O(dt) terms and
 * is held to 1%.
 */
START_TEST(hedged_short_option_earns_gamma_theory)
{
    static sim_config c;
    small_cfg(&c, 0.3, 7);
    c.step_seconds = 120;
    c.chain.weeklies = 0;
    c.pool.half_spread_vol = 0;
    c.taker_fee_bps = 0;
    c.netting_fee_ticks = 0;
    c.venue.taker_fee_bps = 0;
    c.venue.depth = 1e15;
    c.runs[0].dynamic_pricing = false;
    scenario s = {0};
    /* the flow: one market buy of 10 calls, listed on demand */
    sim_order o = {.trader = 0, .side = CH_BUY, .qty = 10, .limit = false};
    ck_assert(ch_date_to_time(2021, 5, 1, &o.t) == CH_OK);
    snprintf(o.symbol, sizeof o.symbol, "BTC-14MAY21-50000-C");
    ck_assert(sim_flow_push(&s.f, &o));
    run_scenario(&c, &s);
    ck_assert_int_eq(s.r.lots[CH_SRC_POOL], 10);

    ch_symbol sym;
    ck_assert(ch_symbol_parse(o.symbol, strlen(o.symbol), &sym) == CH_OK);
    double si = 0.6, sr = 0.3, q = 10, theory = 0, pathwise = 0, var = 0;
    double dt = 120.0 / (365 * 86400.0);
    for (size_t k = 0; k + 1 < s.m.n; k++) {
        ch_greeks g;
        double S = s.m.s[k].spot, tau = ch_years(s.m.s[k].t, sym.expiry);
        ck_assert(ch_bs(CH_OPT_CALL, S, 50000, tau, 0, 0, si, &g) == CH_OK);
        double ret = log(s.m.s[k + 1].spot / S);
        theory += 0.5 * q * g.gamma * S * S * (si * si - sr * sr) * dt;
        pathwise += 0.5 * q * g.gamma * S * S * (si * si * dt - ret * ret);
        double w = 0.5 * q * g.gamma * S * S;
        var += w * w * 2 * pow(sr, 4) * dt * dt;
    }
    double tol = 4 * sqrt(var);
    double pnl = s.r.pool_pnl - s.r.pnl[SIM_PNL_SPREAD];
    ck_assert_msg(theory > 0 && fabs(pnl - theory) < tol,
                  "hedged PnL %.2f vs theory %.2f (tolerance %.2f)", pnl, theory, tol);
    ck_assert_msg(fabs(pnl - pathwise) < 0.01 * fabs(pathwise), "hedged PnL %.2f vs pathwise %.2f",
                  pnl, pathwise);
    /* every step hedged at zero cost: (almost) no delta PnL, no costs; the
     * hedge follows the engine's net delta, the attribution the positions'
     * cached unit deltas, which agree to well within 1% of the PnL */
    ck_assert_double_eq_tol(s.r.pnl[SIM_PNL_DELTA], 0.0, 0.01 * fabs(pnl));
    ck_assert_double_eq_tol(s.r.pnl[SIM_PNL_FEES] + s.r.pnl[SIM_PNL_SLIPPAGE], 0.0, 1e-3);
    free_scenario(&s);
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert(b != NULL && fread(b, 1, (size_t)n, f) == (size_t)n);
    b[n] = '\0';
    fclose(f);
    return b;
}

static void report_once(const sim_config *c, const char *dir)
{
    scenario s = {0};
    run_scenario(c, &s);
    char msg[SIM_MSG_MAX];
    bool plotted;
    ck_assert(mkdir(dir, 0700) == 0);
    ck_assert_msg(
        sim_report_write(dir, c, &s.m, &s.f, NULL, &s.r, 1, NULL, false, &plotted, msg, sizeof msg),
        "%s", msg);
    ck_assert(!plotted);
    free_scenario(&s);
}

static void rm_dir(const char *dir)
{
    static const char *const files[] = {"report.json", "report.md", "series-1.csv",
                                        "pnl.csv",     "flow.csv",  "plots.gp"};
    char p[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

START_TEST(same_seed_same_report)
{
    static sim_config c;
    small_cfg(&c, 0.8, 1);
    c.price.jumps_per_year = 50;
    c.runs[0].hedge.kind = CH_HEDGE_WW;
    /* a fresh directory beside the test: mkdtemp replaces the six X's */
    char tmpl[] = "chsim-test-XXXXXX";
    ck_assert(mkdtemp(tmpl) != NULL);
    char a[64], b[64];
    snprintf(a, sizeof a, "%s/a", tmpl);
    snprintf(b, sizeof b, "%s/b", tmpl);
    report_once(&c, a);
    report_once(&c, b);
    static const char *const files[] = {"report.json", "report.md", "series-1.csv", "flow.csv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char pa[128], pb[128];
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        char *x = slurp(pa), *y = slurp(pb);
        ck_assert_msg(strcmp(x, y) == 0, "%s differs between two runs", files[i]);
        free(x);
        free(y);
    }
    /* the written flow replays to the same numbers */
    char flow[128];
    snprintf(flow, sizeof flow, "%s/flow.csv", a);
    static sim_config r;
    r = c;
    r.flow.source = SIM_FLOW_CSV;
    snprintf(r.flow.file, sizeof r.flow.file, "%s", flow);
    scenario s1 = {0}, s2 = {0};
    run_scenario(&c, &s1);
    char msg[SIM_MSG_MAX];
    ck_assert_msg(sim_flow_load(flow, &s2.f, msg, sizeof msg), "%s", msg);
    ck_assert_uint_eq(s2.f.n, s1.f.n);
    run_scenario(&r, &s2);
    ck_assert_double_eq(s1.r.pool_pnl, s2.r.pool_pnl);
    ck_assert_double_eq(s1.r.hedge_volume, s2.r.hedge_volume);
    free_scenario(&s1);
    free_scenario(&s2);
    rm_dir(a);
    rm_dir(b);
    rmdir(tmpl);
}
END_TEST

START_TEST(config_is_strict)
{
    static sim_config c;
    char msg[SIM_MSG_MAX];
    sim_config_defaults(&c);
    ck_assert(!sim_config_parse(&c, "{\"seed\": 1, \"colour\": 2}", msg, sizeof msg));
    ck_assert_msg(strstr(msg, "colour") && strstr(msg, "unknown key"), "%s", msg);
    ck_assert(!sim_config_parse(&c, "{\"flow\": {\"buy_share\": 1.5}}", msg, sizeof msg));
    ck_assert_msg(strstr(msg, "flow.buy_share") && strstr(msg, "out of range"), "%s", msg);
    ck_assert(!sim_config_parse(&c, "{\"price\": {\"source\": \"sine\"}}", msg, sizeof msg));
    ck_assert_msg(strstr(msg, "price.source"), "%s", msg);
    ck_assert(!sim_config_parse(&c, "{\"days\": \"ten\"}", msg, sizeof msg));
    ck_assert(!sim_config_parse(&c, "{\"start\": \"2021-02-30\"}", msg, sizeof msg));
    ck_assert(!sim_config_parse(&c, "{\"configurations\": [{\"hedge\": {\"polcy\": \"band\"}}]}",
                                msg, sizeof msg));
    ck_assert_msg(strstr(msg, "configurations[0].hedge.polcy"), "%s", msg);
    ck_assert(!sim_config_parse(&c, "{\"seed\": ", msg, sizeof msg));
    sim_config_defaults(&c);
    ck_assert_msg(sim_config_parse(&c,
                                   "{\"seed\": 42, \"days\": 3, \"price\": {\"source\": \"gbm\", "
                                   "\"sigma\": 0.5}, \"configurations\": [{\"name\": \"a\", "
                                   "\"netting\": false, \"hedge\": {\"policy\": \"interval\", "
                                   "\"interval_hours\": 2}}]}",
                                   msg, sizeof msg),
                  "%s", msg);
    ck_assert_uint_eq(c.seed, 42);
    ck_assert_int_eq(c.price.source, SIM_PRICE_GBM);
    ck_assert_double_eq(c.price.sigma, 0.5);
    ck_assert_uint_eq(c.n_runs, 1);
    ck_assert_str_eq(c.runs[0].name, "a");
    ck_assert(!c.runs[0].netting && c.runs[0].internal);
    ck_assert_int_eq(c.runs[0].hedge.kind, CH_HEDGE_INTERVAL);
    ck_assert_int_eq(c.runs[0].hedge.interval, 2 * SIM_HOUR);
    /* the second underlying: its name, its tick, and no tranches beside it */
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"second_underlying\": {\"name\": \"BTC\"}}", "second_underlying.name"},
        {"{\"second_underlying\": {\"name\": \"eth\"}}", "second_underlying.name"},
        {"{\"second_underlying\": {\"tick\": 0.0000001}}", "second_underlying.tick"},
        {"{\"second_underlying\": {\"correlation\": 1.5}}", "second_underlying.correlation"},
        {"{\"second_underlying\": {\"enabled\": true}, \"configurations\": [{\"name\": "
         "\"x\", \"tranches\": 2}]}",
         "configurations[0].tranches"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sim_config_defaults(&c);
        ck_assert_msg(!sim_config_parse(&c, bad[i].json, msg, sizeof msg), "%s", bad[i].json);
        ck_assert_msg(strstr(msg, bad[i].want), "%s: %s", bad[i].json, msg);
    }
}
END_TEST

/* An hourly price file at @p path (newest row first, as the shipped one):
 * 40 days from 2022-01-01, every row's symbol @p pair except row @p odd_row
 * (1-based; 0: none), which says @p odd. */
static void write_prices(const char *path, const char *pair, size_t odd_row, const char *odd)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "unix,date,symbol,open,high,low,close,volume,Volume USD\n");
    const long t0 = 1640995200, hours = 40 * 24;
    for (long h = hours - 1, row = 1; h >= 0; h--, row++) {
        double px = 40000 + 500 * sin((double)h / 24);
        fprintf(f, "%ld,x,%s,%.2f,%.2f,%.2f,%.2f,1,1\n", t0 + h * 3600,
                (size_t)row == odd_row ? odd : pair, px, px, px, px);
    }
    fclose(f);
}

/* A price file's pair must be the underlying's in USD (or a USD stablecoin),
 * the same on every row: the report's money is in its quote currency. */
START_TEST(price_file_pair_is_checked)
{
    static const struct {
        const char *pair;
        size_t odd_row;
        const char *odd, *want; /* want NULL: accepted */
    } cases[] = {
        {"BTC/USD", 0, NULL, NULL},
        {"BTCUSDT", 0, NULL, NULL},
        {"BTC-USDC", 0, NULL, NULL},
        {"BTC/EUR", 0, NULL, "prices of BTC/EUR"},
        {"ETH/USD", 0, NULL, "prices of ETH/USD"},
        {"BTC/USDX", 0, NULL, "quoted in USD"},
        {"", 0, NULL, "not a pair"},
        {"BTC/USD", 500, "ETH/USD", "one pair a file"},
    };
    /* a fresh directory beside the test: mkdtemp replaces the six X's */
    char dir[] = "chsim-pair-XXXXXX", path[256], json[768];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/prices.csv", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_prices(path, cases[i].pair, cases[i].odd_row, cases[i].odd);
        static sim_config c;
        char msg[SIM_MSG_MAX] = "";
        snprintf(json, sizeof json,
                 "{\"start\": \"2022-01-30\", \"days\": 1, \"price\": {\"source\": \"csv\", "
                 "\"file\": \"%s\"}, \"funding\": {\"source\": \"constant\", \"rate\": 0},"
                 " \"chain\": {\"flat_vol\": 0.6, \"weeklies\": 2, \"monthlies\": 0}}",
                 path);
        sim_config_defaults(&c);
        ck_assert_msg(sim_config_parse(&c, json, msg, sizeof msg), "%s", msg);
        static sim_market m;
        bool ok = sim_market_build(&c, &m, msg, sizeof msg);
        if (cases[i].want == NULL) {
            ck_assert_msg(ok, "%s: %s", cases[i].pair, msg);
            ck_assert_double_gt(m.s[0].spot, 39000);
            sim_market_free(&m);
        } else {
            ck_assert_msg(!ok, "%s accepted", cases[i].pair);
            ck_assert_msg(strstr(msg, cases[i].want) && strstr(msg, "prices.csv"), "%s: %s",
                          cases[i].pair, msg);
        }
    }
    unlink(path);
    rmdir(dir);
}
END_TEST

/* The second underlying of small_cfg(): a 80% vol GBM correlated by rho. */
static void second_cfg(sim_config *c, double rho, double orders_per_hour)
{
    char json[512], msg[SIM_MSG_MAX];
    snprintf(json, sizeof json,
             "{\"second_underlying\": {\"enabled\": true, \"name\": \"ETH\", "
             "\"correlation\": %g, \"spot0\": 2500, \"sigma\": 0.8, \"tick\": 0.05, "
             "\"strike_step\": 50, \"orders_per_hour\": %g}}",
             rho, orders_per_hour);
    ck_assert_msg(sim_config_parse(c, json, msg, sizeof msg), "%s", msg);
}

typedef struct two {
    sim_config c2;
    sim_market m, m2;
    sim_flow f, f2;
    sim_result r[2];
} two;

static void run_two(const sim_config *c, two *t)
{
    char msg[SIM_MSG_MAX] = "";
    ck_assert_msg(sim_market_build(c, &t->m, msg, sizeof msg), "%s", msg);
    sim_config_second(c, t->m.s[0].spot / c->second.spot0, &t->c2);
    ck_assert_msg(
        sim_market_correlated(&t->c2, &t->m, c->second.correlation, &t->m2, msg, sizeof msg), "%s",
        msg);
    ck_assert(sim_flow_generate(c, &t->m, &t->f));
    ck_assert(sim_flow_generate(&t->c2, &t->m2, &t->f2));
    sim_lane_input in[2] = {{c, &c->runs[0], &t->m, &t->f},
                            {&t->c2, &t->c2.runs[0], &t->m2, &t->f2}};
    ck_assert_msg(sim_run_lanes(in, 2, t->r, NULL, NULL, msg, sizeof msg), "%s", msg);
    for (int i = 0; i < 2; i++) {
        double sum = 0;
        for (int p = 0; p < SIM_PNL_N; p++)
            sum += t->r[i].pnl[p];
        ck_assert_msg(fabs(sum - t->r[i].pool_pnl) < 1e-6 * (1 + fabs(t->r[i].pool_pnl)),
                      "lane %d: attribution %.6f vs pnl %.6f", i, sum, t->r[i].pool_pnl);
    }
}

static void free_two(two *t)
{
    for (int i = 0; i < 2; i++)
        sim_result_free(&t->r[i]);
    sim_flow_free(&t->f);
    sim_flow_free(&t->f2);
    sim_market_free(&t->m);
    sim_market_free(&t->m2);
}

START_TEST(second_path_is_correlated)
{
    static const double rhos[] = {0.8, 0.0, -0.5, 1.0};
    for (size_t i = 0; i < sizeof rhos / sizeof rhos[0]; i++) {
        static sim_config c, c2;
        small_cfg(&c, 0.6, 30); /* 720 hourly returns: the sample correlation's sd ~0.04 */
        second_cfg(&c, rhos[i], 0);
        sim_market m, m2;
        char msg[SIM_MSG_MAX];
        ck_assert_msg(sim_market_build(&c, &m, msg, sizeof msg), "%s", msg);
        sim_config_second(&c, m.s[0].spot / c.second.spot0, &c2);
        ck_assert_msg(sim_market_correlated(&c2, &m, rhos[i], &m2, msg, sizeof msg), "%s", msg);
        ck_assert_uint_eq(m2.n, m.n);
        ck_assert_double_eq_tol(m2.s[0].spot, 2500, 1e-9);
        double rho = sim_market_correlation(&m, &m2);
        ck_assert_msg(fabs(rho - rhos[i]) < 0.15, "rho %.3f, wanted %.3f", rho, rhos[i]);
        /* its vol: 80% a year, within the sampling error of 720 returns */
        double s2 = 0;
        for (size_t k = 1; k < m2.n; k++) {
            double r = log(m2.s[k].spot / m2.s[k - 1].spot);
            s2 += r * r;
        }
        double vol = sqrt(s2 / (double)(m2.n - 1) * 365 * 24);
        ck_assert_msg(fabs(vol - 0.8) < 0.1, "vol %.3f", vol);
        for (size_t k = 0; k < m.n; k++)
            ck_assert_int_eq(m2.s[k].t, m.s[k].t);
        sim_market_free(&m);
        sim_market_free(&m2);
    }
}
END_TEST

START_TEST(two_underlyings_net_and_hedge_apart)
{
    static sim_config c;
    small_cfg(&c, 0.6, 2);
    second_cfg(&c, 0.8, 6);
    static two t;
    run_two(&c, &t);
    ck_assert_str_eq(t.r[0].underlying, "BTC");
    ck_assert_str_eq(t.r[1].underlying, "ETH");
    ck_assert_str_eq(t.r[1].name, "t [ETH]");
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(t.r[i].orders, i == 0 ? t.f.n : t.f2.n);
        ck_assert_int_gt(
            t.r[i].lots[CH_SRC_BOOK] + t.r[i].lots[CH_SRC_NET] + t.r[i].lots[CH_SRC_POOL], 0);
        ck_assert_double_gt(t.r[i].hedge_volume, 0.0); /* every step, its own delta */
    }
    free_two(&t);
    /* ETH's flow alone: BTC's hedger never trades, and BTC's lane made nothing */
    small_cfg(&c, 0.6, 2);
    c.flow.orders_per_hour = 0;
    second_cfg(&c, 0.8, 6);
    memset(&t, 0, sizeof t);
    run_two(&c, &t);
    ck_assert_uint_eq(t.r[0].orders, 0);
    ck_assert_double_eq(t.r[0].hedge_volume, 0.0);
    ck_assert_double_eq_tol(t.r[0].pool_pnl, 0.0, 1e-6);
    ck_assert_double_gt(t.r[1].hedge_volume, 0.0);
    free_two(&t);
}
END_TEST

START_TEST(idle_second_underlying_changes_nothing)
{
    /* a second underlying listed and marked every step but without flow: the
     * first's lane equals the single-underlying run of the same scenario */
    static sim_config c;
    small_cfg(&c, 0.6, 3);
    scenario s = {0};
    run_scenario(&c, &s);
    second_cfg(&c, 0.5, 0);
    static two t;
    run_two(&c, &t);
    ck_assert_uint_eq(t.f2.n, 0);
    ck_assert_uint_eq(t.r[0].orders, s.r.orders);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(t.r[0].lots[k], s.r.lots[k]);
    ck_assert_double_eq(t.r[0].hedge_volume, s.r.hedge_volume);
    ck_assert_double_eq_tol(t.r[0].pool_pnl, s.r.pool_pnl, 1e-6 * (1 + fabs(s.r.pool_pnl)));
    ck_assert_double_eq_tol(t.r[1].pool_pnl, 0.0, 1e-6);
    free_two(&t);
    free_scenario(&s);
}
END_TEST

START_TEST(surface_has_no_calendar_arbitrage)
{
    /* total variance non-decreasing in tenor at every moneyness of the grid */
    sim_surface s;
    sim_surface_flat(&s, 0.5);
    for (int i = -12; i <= 12; i++)
        for (double t = 0.001; t < 3; t *= 1.5) { /* NOLINT(cert-flp30-c): a geometric grid */
            double x = i / 10.0;
            double v1 = sim_surface_vol(&s, t, x), v2 = sim_surface_vol(&s, t * 1.5, x);
            ck_assert_double_le(v1 * v1 * t, v2 * v2 * t * 1.5 * (1 + 1e-12));
        }
    ck_assert_double_eq_tol(s.atm30, 0.5, 1e-12);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim");
    TCase *t = tcase_create("sanity");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, offsetting_flow_is_all_netted);
    tcase_add_test(t, one_sided_flow_is_not_netted);
    tcase_add_test(t, hedged_short_option_earns_gamma_theory);
    tcase_add_test(t, same_seed_same_report);
    tcase_add_test(t, config_is_strict);
    tcase_add_test(t, price_file_pair_is_checked);
    tcase_add_test(t, surface_has_no_calendar_arbitrage);
    tcase_add_test(t, second_path_is_correlated);
    tcase_add_test(t, two_underlyings_net_and_hedge_apart);
    tcase_add_test(t, idle_second_underlying_changes_nothing);
    suite_add_tcase(s, t);
    return ch_check_run(s);
}
