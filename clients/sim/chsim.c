/*
 * chsim - the simulator for protocol designers: how much hedging does
 * internal netting save for an order flow, what does it cost the pool, and
 * which pricing and hedge settings work best. Runs the clearinghouse engine
 * in process (the library chd runs) over simulated time for several
 * configurations on the same seeded flow and price path, and writes a report.
 *
 * Usage: chsim [--regime NAME] [--config FILE] [--out DIR] [--seed N] [--seeds N]
 *              [--no-plots] [--quiet] [--chd ENDPOINT [--key KEY | --key-file FILE]]
 *        chsim --help | --version
 * (getopt_long: "--opt value" or "--opt=value"; anything else is an error
 * naming it, exit 2).
 *
 * With --chd: the same scenario through a running chd (sim_chd.c), one
 * configuration (the daemon's), the key from --key, --key-file or $CH_KEY.
 *
 * With no arguments: the default scenario on the shipped data (BTC hourly
 * closes, Binance funding, the Deribit chain) with 5 seeds (seed ... seed+4:
 * the flow, and with a GBM path the path, per seed), output in ./chsim-out/.
 * Every seed runs every configuration and the equal-flow comparison
 * (sim_equal.c); the full tables are the first seed's. --regime NAME applies
 * a shipped regime (regimes/NAME.json in the data directory: busy,
 * one-sided, high-volatility, negative-funding, two-underlyings) before
 * --config. two-underlyings lists ETH beside BTC in the same engine (its
 * path generated, correlated with BTC's; see sim_second in sim.h) and
 * reports every configuration per underlying.
 * Data files are looked up as given, then in $CH_SIM_DATA, then in the data
 * directory of the source tree this binary was built from, then in the
 * installed data directory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ch/cli.h"
#include "sim.h"

typedef struct progress {
    bool on;
    size_t run, n_runs;
    const char *name;
    int last;
} progress;

static void on_progress(void *ctx, size_t step, size_t n_steps)
{
    progress *p = ctx;
    int pct = (int)(100 * step / n_steps);
    if (!p->on || pct == p->last)
        return;
    p->last = pct;
    char bar[31];
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\rchsim [%zu/%zu] %-26.26s |%s| %3d%%", p->run, p->n_runs, p->name, bar, pct);
    if (step == n_steps && p->run == p->n_runs)
        fprintf(stderr, "\n");
}

static bool dir_exists(const char *d)
{
    struct stat st;
    return d != NULL && d[0] != '\0' && stat(d, &st) == 0 && S_ISDIR(st.st_mode);
}

static void default_data_dir(sim_config *c)
{
    const char *cands[] = {
        getenv("CH_SIM_DATA"),
#ifdef CH_SIM_DATA_DIR
        CH_SIM_DATA_DIR,
#endif
#ifdef CH_SIM_INSTALL_DATA_DIR
        CH_SIM_INSTALL_DATA_DIR,
#endif
    };
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (dir_exists(cands[i])) {
            snprintf(c->data_dir, sizeof c->data_dir, "%s", cands[i]);
            return;
        }
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chsim [--regime NAME] [--config FILE] [--out DIR] [--seed N] [--seeds N]\n"
            "             [--no-plots] [--quiet] [--chd ENDPOINT [--key KEY | --key-file FILE]]\n"
            "       chsim --help | --version\n"
            "defaults: the shipped scenario, 5 seeds (1 with --chd), --out chsim-out;\n"
            "regimes: busy, one-sided, high-volatility, negative-funding, two-underlyings;\n"
            "--chd runs it through a chd\n");
}

enum {
    O_CONFIG = 256,
    O_OUT,
    O_SEED,
    O_CHD,
    O_KEY,
    O_KEY_FILE,
    O_QUIET,
    O_NO_PLOTS,
    O_VERSION,
    O_SEEDS,
    O_REGIME
};

/* A scenario's markets and flows for one seed: the first underlying's, and
 * the second's when the config lists one. */
typedef struct scenario {
    sim_market m, m2;
    sim_flow f, f2;
    sim_config c2; /* the second underlying as a single-underlying config */
    bool two;
} scenario;

static void scenario_free(scenario *sc)
{
    sim_flow_free(&sc->f);
    sim_flow_free(&sc->f2);
    sim_market_free(&sc->m);
    sim_market_free(&sc->m2);
}

/* The scenario's markets and flows for c->seed. false + msg on error. */
static bool load_scenario(const sim_config *c, scenario *sc, char *msg, size_t cap)
{
    memset(&sc->f, 0, sizeof sc->f);
    memset(&sc->f2, 0, sizeof sc->f2);
    memset(&sc->m2, 0, sizeof sc->m2);
    sc->two = c->second.enabled;
    if (!sim_market_build(c, &sc->m, msg, cap))
        return false;
    bool ok;
    if (c->flow.source == SIM_FLOW_CSV) {
        char path[SIM_PATH_MAX];
        ok = sim_resolve(c, c->flow.file, path, sizeof path);
        if (!ok)
            snprintf(msg, cap, "flow file \"%.400s\" not found", c->flow.file);
        else
            ok = sim_flow_load(path, &sc->f, msg, cap);
    } else {
        ok = sim_flow_generate(c, &sc->m, &sc->f);
        if (!ok)
            snprintf(msg, cap,
                     "generating the flow failed (out of memory or too many "
                     "expiries)");
    }
    if (ok && sc->two) {
        sim_config_second(c, sc->m.s[0].spot / c->second.spot0, &sc->c2);
        ok = sim_market_correlated(&sc->c2, &sc->m, c->second.correlation, &sc->m2, msg, cap);
        if (ok && !(ok = sim_flow_generate(&sc->c2, &sc->m2, &sc->f2)))
            snprintf(msg, cap, "generating the %s flow failed", sc->c2.underlying);
    }
    if (!ok)
        scenario_free(sc);
    return ok;
}

/* Apply a config file over c. false + message on stderr. */
static bool apply_config(sim_config *c, const char *path)
{
    char msg[SIM_MSG_MAX];
    char *text = read_all(path);
    if (text == NULL) {
        fprintf(stderr, "chsim: %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = sim_config_parse(c, text, msg, sizeof msg);
    free(text);
    if (!ok)
        fprintf(stderr, "chsim: %s: %s\n", path, msg);
    return ok;
}

/* Prefix msg with the seed and the run it came from. @return false. */
static bool blame(char *msg, size_t cap, uint64_t seed, const char *run)
{
    char tmp[SIM_MSG_MAX];
    snprintf(tmp, sizeof tmp, "%s", msg);
    snprintf(msg, cap, "seed %" PRIu64 ", \"%.64s\": %.400s", seed, run, tmp);
    return false;
}

/* One seed: every configuration (the first with the equal-flow models) and
 * the every-step block; with two underlyings, every configuration over both
 * in one engine, a result per underlying (no equal flow). res: n_res
 * results. false + msg on error. */
static bool run_seed(sim_config *c, const scenario *sc, bool equal, sim_result *res, size_t n_res,
                     sim_seed *out, progress *p, char *msg, size_t cap)
{
    out->seed = c->seed;
    size_t lanes = sc->two ? 2 : 1;
    for (size_t i = 0; i < n_res / lanes; i++) {
        p->run++;
        p->name = c->runs[i].name;
        p->last = -1;
        bool ok;
        if (sc->two) {
            sim_lane_input in[2] = {{c, &c->runs[i], &sc->m, &sc->f},
                                    {&sc->c2, &sc->c2.runs[i], &sc->m2, &sc->f2}};
            ok = sim_run_lanes(in, 2, &res[2 * i], on_progress, p, msg, cap);
        } else if (i == 0 && equal) {
            ok = sim_equal(c, &c->runs[0], &sc->m, &sc->f, &res[0], out->eq[0], msg, cap);
        } else {
            ok = sim_run(c, &c->runs[i], &sc->m, &sc->f, NULL, &res[i], on_progress, p, msg, cap);
        }
        if (!ok)
            return blame(msg, cap, c->seed, c->runs[i].name);
    }
    for (size_t i = 0; i < n_res; i++) {
        out->contracts[i] = sim_contracts(&res[i]);
        out->hedge_cost[i] = sim_hedge_cost(&res[i]);
        out->pool_pnl[i] = res[i].pool_pnl;
    }
    if (!equal || sc->two)
        return true;
    sim_run_config every = c->runs[0];
    every.hedge.kind = CH_HEDGE_EVERY_BATCH;
    p->run++;
    p->name = "equal flow, every step";
    return sim_equal(c, &every, &sc->m, &sc->f, NULL, out->eq[1], msg, cap) ||
           blame(msg, cap, c->seed, "equal flow, every step");
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"out", required_argument, NULL, O_OUT},
        {"seed", required_argument, NULL, O_SEED},
        {"seeds", required_argument, NULL, O_SEEDS},
        {"regime", required_argument, NULL, O_REGIME},
        {"chd", required_argument, NULL, O_CHD},
        {"key", required_argument, NULL, O_KEY},
        {"key-file", required_argument, NULL, O_KEY_FILE},
        {"quiet", no_argument, NULL, O_QUIET},
        {"no-plots", no_argument, NULL, O_NO_PLOTS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *out = "chsim-out";
    const char *chd = NULL, *key = NULL, *key_file = NULL, *regime = NULL;
    bool quiet = false, plots = true, has_seed = false;
    uint64_t seed = 0, n_seeds = 0;
    int opt;
    while ((opt = ch_cli_next("chsim", argc, argv, "h", lo)) != -1) {
        switch (opt) {
        case O_CONFIG:
            config = optarg;
            break;
        case O_OUT:
            out = optarg;
            break;
        case O_SEED:
            if (!ch_cli_u64("chsim", "--seed", optarg, &seed))
                return 2;
            has_seed = true;
            break;
        case O_SEEDS:
            if (!ch_cli_u64("chsim", "--seeds", optarg, &n_seeds))
                return 2;
            if (n_seeds < 1 || n_seeds > SIM_SEEDS_MAX) {
                fprintf(stderr, "chsim: --seeds: expected 1 to %d, got %s\n", SIM_SEEDS_MAX,
                        optarg);
                return 2;
            }
            break;
        case O_REGIME:
            regime = optarg;
            break;
        case O_CHD:
            chd = optarg;
            break;
        case O_KEY:
            key = optarg;
            break;
        case O_KEY_FILE:
            key_file = optarg;
            break;
        case O_QUIET:
            quiet = true;
            break;
        case O_NO_PLOTS:
            plots = false;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            ch_cli_version("chsim");
            return 0;
        default:
            return 2;
        }
    }
    if (!ch_cli_no_operands("chsim", argc, argv))
        return 2;
    if ((key != NULL || key_file != NULL) && chd == NULL) {
        fprintf(stderr, "chsim: %s is for --chd only\n", key != NULL ? "--key" : "--key-file");
        return 2;
    }
    if (chd != NULL && n_seeds > 1) {
        fprintf(stderr, "chsim: --seeds is for the in-process engine (--chd runs one seed)\n");
        return 2;
    }
    if (key != NULL && key_file != NULL) {
        fprintf(stderr, "chsim: --key and --key-file: give one\n");
        return 2;
    }
    char key_buf[256] = "";
    if (key_file != NULL) {
        char *text = read_all(key_file);
        if (text == NULL) {
            fprintf(stderr, "chsim: %s: %s\n", key_file, strerror(errno));
            return 2;
        }
        text[strcspn(text, " \t\r\n")] = '\0';
        bool fits = strlen(text) < sizeof key_buf;
        snprintf(key_buf, sizeof key_buf, "%s", fits ? text : "");
        free(text);
        if (!fits) {
            fprintf(stderr, "chsim: %s: not a key (longer than 255 bytes)\n", key_file);
            return 2;
        }
        key = key_buf;
    } else if (chd != NULL && key == NULL) {
        key = getenv("CH_KEY");
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    static sim_config c;
    char msg[SIM_MSG_MAX];
    sim_config_defaults(&c);
    default_data_dir(&c);
    if (regime != NULL) {
        char name[SIM_PATH_MAX], path[SIM_PATH_MAX];
        bool known = strspn(regime, "abcdefghijklmnopqrstuvwxyz-") == strlen(regime) &&
                     regime[0] != '\0' && strlen(regime) < 64;
        snprintf(name, sizeof name, "regimes/%.64s.json", regime);
        if (!known || !sim_resolve(&c, name, path, sizeof path)) {
            fprintf(stderr,
                    "chsim: --regime %s: no such regime (busy, one-sided, "
                    "high-volatility, negative-funding, two-underlyings)\n",
                    regime);
            return 2;
        }
        if (!apply_config(&c, path))
            return 2;
    }
    if (config != NULL && !apply_config(&c, config))
        return 2;
    if (has_seed)
        c.seed = seed;
    if (n_seeds == 0)
        n_seeds = chd != NULL ? 1 : 5;
    if (chd != NULL && c.second.enabled) {
        fprintf(stderr, "chsim: second_underlying: --chd runs one underlying (the in-process "
                        "engine runs two)\n");
        return 2;
    }
    static scenario sc;
    if (!load_scenario(&c, &sc, msg, sizeof msg)) {
        fprintf(stderr, "chsim: %s\n", msg);
        return 1;
    }
    /* daemon mode: one configuration, the daemon's; two underlyings: a result per underlying */
    size_t n_runs = chd != NULL ? 1 : c.n_runs * (sc.two ? 2 : 1);
    sim_result *res = calloc(n_runs, sizeof *res);
    sim_result *more = calloc(n_runs, sizeof *more);
    static sim_seeds sd;
    sd.equal_flow = chd == NULL && !sc.two;
    snprintf(sd.why_not, sizeof sd.why_not, "%s",
             chd != NULL ? "chsim --chd runs the daemon's one configuration; the comparison "
                           "needs the engine in process"
                         : "a two-underlying scenario reports per underlying; the comparison "
                           "runs on one underlying (chsim without second_underlying)");
    sd.n_runs = n_runs;
    progress p = {.on = !quiet && isatty(2),
                  .n_runs = (size_t)n_seeds * (chd != NULL || sc.two ? c.n_runs : c.n_runs + 1),
                  .last = -1};
    size_t done = 0;
    if (res != NULL && chd != NULL) {
        p.run = 1;
        p.n_runs = 1;
        p.name = "chd";
        if (sim_run_chd(&c, &sc.m, &sc.f, chd, key, &res[0], on_progress, &p, msg, sizeof msg)) {
            done = 1;
            sd.n = 1;
            sd.s[0].seed = c.seed;
            sd.s[0].contracts[0] = sim_contracts(&res[0]);
            sd.s[0].hedge_cost[0] = sim_hedge_cost(&res[0]);
            sd.s[0].pool_pnl[0] = res[0].pool_pnl;
        } else {
            if (p.on)
                fprintf(stderr, "\n");
            fprintf(stderr, "chsim: %s\n", msg);
        }
    }
    if (res != NULL && more != NULL && chd == NULL) {
        uint64_t base = c.seed;
        bool ok = run_seed(&c, &sc, true, res, n_runs, &sd.s[0], &p, msg, sizeof msg);
        for (uint64_t i = 1; ok && i < n_seeds; i++) {
            static scenario si;
            c.seed = base + i;
            ok = load_scenario(&c, &si, msg, sizeof msg);
            if (ok) {
                ok = run_seed(&c, &si, true, more, n_runs, &sd.s[i], &p, msg, sizeof msg);
                for (size_t r = 0; ok && r < n_runs; r++)
                    sim_result_free(&more[r]);
                scenario_free(&si);
            }
        }
        c.seed = base;
        if (ok) {
            done = n_runs;
            sd.n = (size_t)n_seeds;
        } else {
            if (p.on)
                fprintf(stderr, "\n");
            fprintf(stderr, "chsim: %s\n", msg);
        }
    }
    for (size_t i = 0; done == n_runs && i < n_runs; i++)
        snprintf(sd.names[i], sizeof sd.names[i], "%s", res[i].name);
    if (p.on && done == n_runs)
        fprintf(stderr, "\n");
    int rc = res != NULL && done == n_runs ? 0 : 1;
    bool plotted = false;
    if (rc == 0 && mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "chsim: %s: %s\n", out, strerror(errno));
        rc = 1;
    }
    sim_lane_input second = {&sc.c2, NULL, &sc.m2, &sc.f2};
    if (rc == 0 && !sim_report_write(out, &c, &sc.m, &sc.f, sc.two ? &second : NULL, res, n_runs,
                                     &sd, plots, &plotted, msg, sizeof msg)) {
        fprintf(stderr, "chsim: %s\n", msg);
        rc = 1;
    }
    if (rc == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (!quiet) {
            sim_report_table(stdout, res, n_runs);
            if (sd.equal_flow) {
                printf("\n");
                sim_report_eq_md(stdout, &sd);
            }
        }
        if (chd != NULL)
            printf("\nchsim: through chd at %s, the scenario shifted by %" PRId64 " weeks; fills "
                   "by source in the order replies %" PRIu64 "/%" PRIu64 "/%" PRIu64
                   ", in chd's stats %" PRIu64 "/%" PRIu64 "/%" PRIu64 " (book/net/pool)\n",
                   chd, res[0].shift_weeks, res[0].fills[0], res[0].fills[1], res[0].fills[2],
                   res[0].daemon_fills[0], res[0].daemon_fills[1], res[0].daemon_fills[2]);
        char what[64], flow2[48] = "";
        if (sc.two)
            snprintf(flow2, sizeof flow2, ", flow-%s.csv", sc.c2.underlying);
        if (sc.two)
            snprintf(what, sizeof what, "%zu configurations x 2 underlyings", c.n_runs);
        else
            snprintf(what, sizeof what, "%zu configurations", n_runs);
        printf("\nchsim: %s x %zu steps x %zu seeds, %zu orders (first seed), "
               "in %.1f s; wrote %s/ "
               "(report.json, report.md, series-N.csv, pnl.csv, flow.csv%s%s, plots.gp%s%s)\n",
               what, sc.m.n, sd.n, sc.f.n + sc.f2.n, secs, out, flow2,
               sd.equal_flow ? ", equal_flow.csv" : "",
               plotted ? ", inventory.png, hedge_cost.png, pnl.png, pnl_breakdown.png" : "",
               plotted && sd.equal_flow ? ", equal_flow.png" : "");
        if (plots && !plotted)
            printf("chsim: plots skipped: gnuplot not found (apt-get install gnuplot-nox, then "
                   "run `gnuplot plots.gp` in %s)\n",
                   out);
    }
    for (size_t i = 0; res != NULL && i < n_runs; i++)
        sim_result_free(&res[i]);
    free(res);
    free(more);
    scenario_free(&sc);
    return rc;
}
