/*
 * chsim - the simulator for protocol designers: how much hedging does
 * internal netting save for an order flow, what does it cost the pool, and
 * which pricing and hedge settings work best. Runs the clearinghouse engine
 * in process (the library chd runs) over simulated time for several
 * configurations on the same seeded flow and price path, and writes a report.
 *
 * Usage: chsim [--config FILE] [--out DIR] [--seed N] [--no-plots] [--quiet]
 *              [--chd ENDPOINT [--key KEY | --key-file FILE]]
 *        chsim --help | --version
 * (getopt_long: "--opt value" or "--opt=value"; anything else is an error
 * naming it, exit 2).
 *
 * With --chd: the same scenario through a running chd (sim_chd.c), one
 * configuration (the daemon's), the key from --key, --key-file or $CH_KEY.
 *
 * With no arguments: the default scenario on the shipped data (BTC hourly
 * closes, Binance funding, the Deribit chain), output in ./chsim-out/.
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
    const char *cands[] = {getenv("CH_SIM_DATA"),
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
    fprintf(f, "usage: chsim [--config FILE] [--out DIR] [--seed N] [--no-plots] [--quiet]\n"
               "             [--chd ENDPOINT [--key KEY | --key-file FILE]]\n"
               "       chsim --help | --version\n"
               "defaults: the shipped scenario, --out chsim-out; --chd runs it through a chd\n");
}

enum { O_CONFIG = 256, O_OUT, O_SEED, O_CHD, O_KEY, O_KEY_FILE, O_QUIET, O_NO_PLOTS, O_VERSION };

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"out", required_argument, NULL, O_OUT},
        {"seed", required_argument, NULL, O_SEED},
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
    const char *chd = NULL, *key = NULL, *key_file = NULL;
    bool quiet = false, plots = true, has_seed = false;
    uint64_t seed = 0;
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
    if (config != NULL) {
        char *text = read_all(config);
        if (text == NULL) {
            fprintf(stderr, "chsim: %s: %s\n", config, strerror(errno));
            return 2;
        }
        bool ok = sim_config_parse(&c, text, msg, sizeof msg);
        free(text);
        if (!ok) {
            fprintf(stderr, "chsim: %s: %s\n", config, msg);
            return 2;
        }
    }
    if (has_seed)
        c.seed = seed;
    static sim_market m;
    if (!sim_market_build(&c, &m, msg, sizeof msg)) {
        fprintf(stderr, "chsim: %s\n", msg);
        return 1;
    }
    sim_flow flow;
    bool ok;
    if (c.flow.source == SIM_FLOW_CSV) {
        char path[SIM_PATH_MAX];
        ok = sim_resolve(&c, c.flow.file, path, sizeof path);
        if (!ok)
            snprintf(msg, sizeof msg, "flow file \"%.400s\" not found", c.flow.file);
        else
            ok = sim_flow_load(path, &flow, msg, sizeof msg);
    } else {
        ok = sim_flow_generate(&c, &m, &flow);
        if (!ok)
            snprintf(msg, sizeof msg, "generating the flow failed (out of memory or too many "
                                      "expiries)");
    }
    if (!ok) {
        fprintf(stderr, "chsim: %s\n", msg);
        sim_market_free(&m);
        return 1;
    }
    /* daemon mode: one configuration, the daemon's */
    size_t n_runs = chd != NULL ? 1 : c.n_runs;
    sim_result *res = calloc(n_runs, sizeof *res);
    progress p = {.on = !quiet && isatty(2), .n_runs = n_runs, .last = -1};
    size_t done = 0;
    if (res != NULL && chd != NULL) {
        p.run = 1;
        p.name = "chd";
        if (sim_run_chd(&c, &m, &flow, chd, key, &res[0], on_progress, &p, msg, sizeof msg)) {
            done = 1;
        } else {
            if (p.on)
                fprintf(stderr, "\n");
            fprintf(stderr, "chsim: %s\n", msg);
        }
    }
    for (; res != NULL && chd == NULL && done < c.n_runs; done++) {
        p.run = done + 1;
        p.name = c.runs[done].name;
        p.last = -1;
        if (!sim_run(&c, &c.runs[done], &m, &flow, &res[done], on_progress, &p, msg, sizeof msg)) {
            if (p.on)
                fprintf(stderr, "\n");
            fprintf(stderr, "chsim: configuration \"%s\": %s\n", c.runs[done].name, msg);
            break;
        }
    }
    int rc = res != NULL && done == n_runs ? 0 : 1;
    bool plotted = false;
    if (rc == 0 && mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "chsim: %s: %s\n", out, strerror(errno));
        rc = 1;
    }
    if (rc == 0 && !sim_report_write(out, &c, &m, &flow, res, n_runs, plots, &plotted, msg,
                                       sizeof msg)) {
        fprintf(stderr, "chsim: %s\n", msg);
        rc = 1;
    }
    if (rc == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (!quiet)
            sim_report_table(stdout, res, n_runs);
        if (chd != NULL)
            printf("\nchsim: through chd at %s, the scenario shifted by %" PRId64 " weeks; fills "
                   "by source in the order replies %" PRIu64 "/%" PRIu64 "/%" PRIu64
                   ", in chd's stats %" PRIu64 "/%" PRIu64 "/%" PRIu64 " (book/net/pool)\n",
                   chd, res[0].shift_weeks, res[0].fills[0], res[0].fills[1], res[0].fills[2],
                   res[0].daemon_fills[0], res[0].daemon_fills[1], res[0].daemon_fills[2]);
        printf("\nchsim: %zu configurations x %zu steps, %zu orders, in %.1f s; wrote %s/ "
               "(report.json, report.md, series-N.csv, pnl.csv, flow.csv, plots.gp%s)\n",
               n_runs, m.n, flow.n, secs, out,
               plotted ? ", inventory.png, hedge_cost.png, pnl.png, pnl_breakdown.png" : "");
        if (plots && !plotted)
            printf("chsim: plots skipped: gnuplot not found (apt-get install gnuplot-nox, then "
                   "run `gnuplot plots.gp` in %s)\n",
                   out);
    }
    for (size_t i = 0; res != NULL && i < n_runs; i++)
        sim_result_free(&res[i]);
    free(res);
    sim_flow_free(&flow);
    sim_market_free(&m);
    return rc;
}
