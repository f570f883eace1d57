/*
 * chdemo - the main job until the daemon lands: a small BTC option chain
 * (embedded defaults), a liquidity pool funded by an LP, four traders sending
 * a seeded stream of orders on both sides of several strikes, calls and
 * puts, through the clearinghouse engine. Prints fills by source, sample
 * fills, the residual inventory per strike and what netting saved.
 *
 * The engine clock is fixed (2026-11-25 00:00 UTC), so a given seed always
 * prints the same report.
 *
 * With --db DIR every command is also logged to an LMDB store there (one
 * commit per order, fills recorded), so that `chctl dump --db DIR` shows the
 * same accounts, positions, orders and fills, and a rerun refuses to mix.
 *
 * Usage: chdemo [--orders N] [--seed N] [--quiet] [--db DIR]
 *        chdemo --help | --version
 * (getopt_long: "--opt value" or "--opt=value"; an unknown option or a bad
 * value is an error naming it, exit 2)
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/cli.h"
#include "ch/engine.h"
#include "ch/hedge.h"
#include "ch/store.h"
#include "ch/log.h"
#include "../common/kit.h"

#define N_EXP     3
#define N_STRIKE  5
#define N_TRADERS 4
#define DAY       (INT64_C(86400) * CH_NS_PER_SEC)

static const char *const k_traders[N_TRADERS] = {"alice", "bob", "carol", "dave"};
static const int64_t k_strikes[N_STRIKE] = {90000, 95000, 100000, 105000, 110000};
static const char *const k_src[3] = {"book", "net", "pool"};

typedef struct demo {
    const ch_engine *e;
    const ch_underlying_config *u;
    size_t printed, max_print;
    uint64_t settles;
    /* the trade-by-trade baseline: every fill's delta hedged on its own */
    kit_tbt base;
    ch_store *st; /* --db */
} demo;

/* Apply a command; with a store, log it (and its fills, via the sink) and
 * commit. Exits on a storage failure: nothing unstored is reported. */
static ch_err run_cmd(ch_engine *e, demo *d, const ch_command *c, ch_command_result *r)
{
    ch_err err = ch_command_apply(e, c, r);
    if (d->st != NULL &&
        (ch_store_log(d->st, c, NULL) != CH_OK || ch_store_commit(d->st) != CH_OK)) {
        fprintf(stderr, "chdemo: storing failed: %s\n", ch_store_error(d->st));
        exit(1);
    }
    return err;
}

static void on_event(void *ctx, const ch_engine_event *ev)
{
    demo *d = ctx;
    if (ev->type == CH_EE_SETTLE)
        d->settles++;
    if (ev->type != CH_EE_FILL)
        return;
    const ch_fill *f = &ev->fill;
    if (d->st != NULL && ch_store_record_fill(d->st, f) != CH_OK) {
        fprintf(stderr, "chdemo: storing a fill failed\n");
        exit(1);
    }
    kit_tbt_fill(&d->base, f->delta, 100000.0);
    if (d->printed < d->max_print) {
        const ch_instruments *reg = ch_engine_instruments(d->e);
        char px[32];
        ch_price_format(d->u, f->price, px, sizeof px);
        const char *taker = ch_engine_account_name(d->e, f->taker);
        const char *maker = ch_engine_account_name(d->e, f->maker);
        printf("  #%-4" PRIu64 " %-4s %-6s %-5s %2" PRId64 " %-21s at %9s", f->trade_id,
               k_src[f->source], taker, f->taker_side == CH_BUY ? "buys" : "sells", f->qty,
               ch_instruments_get(reg, f->instr)->symbol, px);
        if (f->source == CH_SRC_NET) {
            char mp[32];
            ch_price_format(d->u, f->maker_price, mp, sizeof mp);
            printf("  (vs %s's %s %s at %s)", maker,
                   f->taker_side == CH_BUY ? "offer of" : "bid for",
                   ch_instruments_get(reg, f->maker_instr)->symbol, mp);
        } else {
            printf("  from %s", maker);
        }
        printf("\n");
    } else if (d->printed == d->max_print) {
        printf("  ...\n");
    }
    d->printed++;
}

static kit_rng rng;
static double urand(void)
{
    return kit_uniform(&rng);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: chdemo [--orders N] [--seed N] [--quiet] [--db DIR]\n"
               "       chdemo --help | --version\n"
               "defaults: --orders 2000 (1..10000000) --seed 7; --db DIR: also log every\n"
               "command to a store there (read it back with chctl dump --db DIR)\n");
}

enum { O_ORDERS = 256, O_SEED, O_QUIET, O_DB, O_VERSION };

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"orders", required_argument, NULL, O_ORDERS},
        {"seed", required_argument, NULL, O_SEED},
        {"quiet", no_argument, NULL, O_QUIET},
        {"db", required_argument, NULL, O_DB},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    long n_orders = 2000;
    uint64_t seed = 7;
    bool quiet = false;
    const char *db = NULL;
    int opt;
    while ((opt = ch_cli_next("chdemo", argc, argv, "h", lo)) != -1) {
        switch (opt) {
        case O_ORDERS:
            if (!ch_cli_long("chdemo", "--orders", optarg, 1, 10000000, &n_orders))
                return 2;
            break;
        case O_SEED:
            if (!ch_cli_u64("chdemo", "--seed", optarg, &seed))
                return 2;
            break;
        case O_QUIET:
            quiet = true;
            break;
        case O_DB:
            db = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            ch_cli_version("chdemo");
            return 0;
        default:
            return 2;
        }
    }
    if (!ch_cli_no_operands("chdemo", argc, argv))
        return 2;
    rng = kit_rng_seed(seed);

    ch_engine_config cfg;
    ch_engine_defaults(&cfg);
    cfg.max_instruments = 64;
    cfg.max_orders = 1u << 16;
    cfg.max_accounts = 16;
    cfg.max_positions = 1024;
    ch_engine *e = ch_engine_create(&cfg);
    demo d = {.e = e, .max_print = quiet ? 0 : 20};
    if (e == NULL) {
        fprintf(stderr, "chdemo: out of memory\n");
        return 1;
    }
    ch_engine_set_sink(e, on_event, &d);
    ch_perp_venue_defaults(&d.base.venue);
    /* the house's hedger under three policies, side by side on the same flow */
    enum { N_HEDGERS = 3 };
    static const char *const hedger_names[N_HEDGERS] = {"house, every order (every_batch)",
                                                        "house, band 10 BTC to the edge",
                                                        "house, band 25 BTC to the edge"};
    ch_hedger *hedgers[N_HEDGERS];
    for (int k = 0; k < N_HEDGERS; k++) {
        ch_hedge_policy policy;
        ch_hedge_policy_defaults(&policy);
        policy.kind = k == 0 ? CH_HEDGE_EVERY_BATCH : CH_HEDGE_BAND;
        policy.band = k == 1 ? 10 : 25;
        hedgers[k] = kit_hedger_sim(&policy, &d.base.venue);
        if (hedgers[k] == NULL) {
            fprintf(stderr, "chdemo: out of memory\n");
            return 1;
        }
    }
    if (db != NULL) {
        ch_store_config sc = {.dir = db, .durability = CH_DURABLE_SYNC};
        if (ch_store_open(&sc, &cfg, false, &d.st) != CH_OK) {
            fprintf(stderr, "chdemo: %s: %s\n", db, ch_store_open_error());
            for (int h = 0; h < N_HEDGERS; h++)
                ch_hedger_destroy(hedgers[h]);
            ch_engine_destroy(e);
            return 1;
        }
        if (ch_store_last_seq(d.st) != 0) {
            fprintf(stderr, "chdemo: %s already holds a run; use an empty directory\n", db);
            ch_store_close(d.st);
            for (int h = 0; h < N_HEDGERS; h++)
                ch_hedger_destroy(hedgers[h]);
            ch_engine_destroy(e);
            return 1;
        }
    }
    ch_command c;
    ch_command_result cr;
    memset(&c, 0, sizeof c);
    ch_time now;
    ch_date_to_time(2026, 11, 25, &now);
    c.type = CH_C_ADVANCE;
    c.time = now;
    run_cmd(e, &d, &c, &cr);
    c.type = CH_C_UNDERLYING;
    c.underlying = (ch_underlying_config){
        .name = "BTC", .contract_size = 1.0, .min_price = 1, .max_price = 2000000};
    ch_tick_parse("0.5", 3, &c.underlying);
    if (run_cmd(e, &d, &c, &cr) != CH_OK) {
        fprintf(stderr, "chdemo: cannot set up the underlying\n");
        return 1;
    }
    uint32_t und = cr.underlying;
    d.u = ch_instruments_underlying(ch_engine_instruments(e), und);
    /* three Friday expiries: 27 Nov, 4 Dec, 11 Dec 2026; calls and puts */
    ch_time exps[N_EXP];
    for (int i = 0; i < N_EXP; i++) {
        exps[i] = now + (2 + 7 * i) * DAY + 8 * 3600 * CH_NS_PER_SEC;
        for (int k = 0; k < N_STRIKE; k++) {
            for (int t = 0; t < 2; t++) {
                ch_symbol sym = {
                    .kind = t ? CH_PUT : CH_CALL, .expiry = exps[i], .strike = k_strikes[k]};
                strcpy(sym.underlying, "BTC");
                memset(&c, 0, sizeof c);
                c.type = CH_C_LIST;
                ch_symbol_format(&sym, c.symbol, sizeof c.symbol);
                ch_err err = run_cmd(e, &d, &c, &cr);
                if (err != CH_OK) {
                    fprintf(stderr, "chdemo: listing %s failed: %s\n", c.symbol, ch_strerror(err));
                    return 1;
                }
            }
        }
    }
    /* marks: a smile per expiry (higher wings), index 100000, rate 3% */
    memset(&c, 0, sizeof c);
    c.type = CH_C_MARKET;
    c.market.underlying = und;
    c.market.index = 100000;
    c.market.rate = 0.03;
    c.market.funding_rate = NAN;
    c.market.perp = NAN;
    for (int i = 0; i < N_EXP; i++)
        for (int k = 0; k < N_STRIKE; k++) {
            double x = log((double)k_strikes[k] / 100000.0);
            size_t m = c.market.n_marks++;
            c.market.expiry[m] = exps[i];
            c.market.strike[m] = (double)k_strikes[k];
            c.market.vol[m] = 0.50 + 0.8 * x * x + 0.01 * i;
        }
    ch_err err;
    if ((err = run_cmd(e, &d, &c, &cr)) != CH_OK) {
        fprintf(stderr, "chdemo: marking the chain failed: %s\n", ch_strerror(err));
        return 1;
    }
    ch_account_id tr[N_TRADERS], lp;
    for (int t = 0; t <= N_TRADERS; t++) {
        memset(&c, 0, sizeof c);
        c.type = CH_C_ACCOUNT_OPEN;
        strcpy(c.name, t < N_TRADERS ? k_traders[t] : "lp");
        c.amount = (t < N_TRADERS ? INT64_C(20000000) : INT64_C(50000000)) * CH_CASH_SCALE;
        run_cmd(e, &d, &c, &cr);
        if (t < N_TRADERS)
            tr[t] = cr.account;
        else
            lp = cr.account;
    }
    memset(&c, 0, sizeof c);
    c.type = CH_C_POOL_DEPOSIT;
    c.account = lp;
    c.amount = INT64_C(30000000) * CH_CASH_SCALE;
    run_cmd(e, &d, &c, &cr);
    uint32_t n_instr = ch_instruments_count(ch_engine_instruments(e));
    CH_LOG(CH_LOG_INFO, "demo_start", "series=%u orders=%ld seed=%" PRIu64, n_instr, n_orders,
           seed);

    printf("Clearinghouse demo: %u BTC option series (3 expiries x 5 strikes, calls and puts), "
           "%d traders, a pool of 30M USD, %ld orders, seed %" PRIu64 "\n\n",
           n_instr, N_TRADERS, n_orders, seed);
    printf("First fills (book: trader vs trader; net: a call against a put of the opposite "
           "gamma sign, through put-call parity; pool: the residual):\n");
    ch_order_id *live = calloc((size_t)n_orders, sizeof *live);
    ch_account_id *owner = calloc((size_t)n_orders, sizeof *owner);
    size_t n_live = 0;
    long rejected = 0;
    for (long k = 0; k < n_orders; k++) {
        if (urand() < 0.12 && n_live > 0) {
            size_t j = (size_t)(urand() * (double)n_live);
            memset(&c, 0, sizeof c);
            c.type = CH_C_CANCEL;
            c.account = owner[j];
            c.order_id = live[j];
            run_cmd(e, &d, &c, &cr);
            live[j] = live[--n_live];
            owner[j] = owner[n_live];
            continue;
        }
        uint32_t instr = (uint32_t)(urand() * n_instr);
        ch_quote qb, qs;
        if (ch_engine_quote(e, (ch_instr_id){instr}, CH_BUY, 1, &qb) != CH_OK ||
            ch_engine_quote(e, (ch_instr_id){instr}, CH_SELL, 1, &qs) != CH_OK)
            continue;
        ch_engine_order o = {.account = tr[(int)(urand() * N_TRADERS)],
                             .instr = {instr},
                             .side = urand() < 0.5 ? CH_BUY : CH_SELL,
                             .qty = 1 + (int64_t)(urand() * 5)};
        double mid = 0.5 * (double)(qb.price + qs.price),
               half = 0.5 * (double)(qb.price - qs.price);
        /* most quotes inside the pool's spread (they rest and meet each
         * other, directly or through parity); some cross it */
        double off = half * (2.4 * urand() - 0.9);
        o.price = (int64_t)llround(o.side == CH_BUY ? mid + off : mid - off);
        if (o.price < 1)
            o.price = 1;
        if (urand() < 0.15)
            o.tif = CH_TIF_IOC;
        memset(&c, 0, sizeof c);
        c.type = CH_C_SUBMIT;
        c.order = o;
        if (run_cmd(e, &d, &c, &cr) != CH_OK) {
            rejected++;
            continue;
        }
        const ch_engine_result r = cr.order;
        if (r.remaining > 0) {
            live[n_live] = r.id;
            owner[n_live++] = o.account;
        }
        /* after each order (a batch of one): only the house's net delta is hedged */
        for (int h = 0; h < N_HEDGERS; h++) {
            ch_hedge_inputs hin = {
                .now = now, .net_delta = ch_engine_net_delta(e, und), .spot = 100000, .vol = 0.5};
            ch_hedger_on_batch(hedgers[h], &hin, 100000.0, NULL);
            ch_hedger_poll(hedgers[h]);
        }
    }

    ch_netting n;
    ch_engine_netting(e, &n);
    int64_t lots = n.lots[0] + n.lots[1] + n.lots[2];
    printf("\nFills by source:\n");
    for (int s = 0; s < 3; s++)
        printf("  %-5s %5" PRIu64 " fills %6" PRId64 " contracts (%4.1f%%)\n", k_src[s], n.fills[s],
               n.lots[s], lots > 0 ? 100.0 * (double)n.lots[s] / (double)lots : 0.0);
    printf("\nResidual inventory of the house and the pool, per strike (what was not netted):\n");
    printf("  %-9s %8s %10s %10s %12s %12s %12s\n", "expiry", "strike", "traded_G", "netted_G",
           "residual_D", "residual_G", "residual_V");
    ch_netting_bucket b[64];
    size_t nb = ch_engine_netting_buckets(e, und, b, 64);
    for (size_t i = 0; i < nb; i++) {
        ch_symbol sym = {.kind = CH_CALL, .expiry = b[i].expiry, .strike = (int64_t)b[i].strike};
        strcpy(sym.underlying, "BTC");
        char name[CH_SYMBOL_MAX];
        ch_symbol_format(&sym, name, sizeof name);
        char *dash = strchr(name, '-');
        char *dash2 = dash ? strchr(dash + 1, '-') : NULL;
        if (dash2)
            *dash2 = '\0';
        printf("  %-9s %8.0f %10.5f %10.5f %12.3f %12.6f %12.1f\n", dash ? dash + 1 : name,
               b[i].strike, b[i].gross_gamma, b[i].netted_gamma, b[i].residual.delta,
               b[i].residual.gamma, b[i].residual.vega);
    }
    ch_risk_totals t;
    ch_scenario_result sc;
    ch_engine_risk(e, und, &t, &sc);
    printf("\nNetting:\n");
    printf("  gamma traded %.5f, netted internally %.5f (%.1f%%), left to the pool %.5f\n",
           n.gross_gamma, n.netted_gamma,
           n.gross_gamma > 0 ? 100.0 * n.netted_gamma / n.gross_gamma : 0.0,
           n.gross_gamma - n.netted_gamma);
    printf("  vega traded %.0f, netted internally %.0f (%.1f%%)\n", n.gross_vega, n.netted_vega,
           n.gross_vega > 0 ? 100.0 * n.netted_vega / n.gross_vega : 0.0);
    printf("  delta a trade-by-trade hedger would have sent: %.3f BTC\n", n.gross_delta);
    printf("  net delta the house must hedge now:             %.3f BTC (%.1f%% of it)\n",
           n.net_delta, n.gross_delta > 0 ? 100.0 * fabs(n.net_delta) / n.gross_delta : 0.0);
    printf("  residual: delta %.3f, gamma %.6f, vega %.1f USD/vol, theta %.1f USD/day; worst "
           "scenario loss %.0f USD\n",
           t.delta, t.gamma, t.vega, ch_theta_per_day(t.theta), sc.worst_loss);
    ch_pool_info pi;
    ch_engine_pool(e, &pi);
    printf("\nHedging in the perpetual (simulated venue: 5 bps taker fee, linear impact, 50k BTC "
           "depth):\n");
    printf("  %-34s %10s %7s %10s %10s %12s %8s\n", "", "volume BTC", "orders", "fees USD",
           "slip. USD", "per 1M opt.", "netting");
    double notional = n.notional > 0 ? n.notional / 1e6 : 1;
    printf("  %-34s %10.1f %7" PRIu64 " %10.0f %10.0f %12.1f %8s\n",
           "trade-by-trade hedger (baseline)", d.base.volume, d.base.orders, d.base.fees,
           d.base.slippage, (d.base.fees + d.base.slippage) / notional, "0");
    for (int h = 0; h < N_HEDGERS; h++) {
        const ch_hedge_book *hb = ch_hedger_book(hedgers[h]);
        printf("  %-34s %10.1f %7" PRIu64 " %10.0f %10.0f %12.1f %8.3f\n", hedger_names[h],
               hb->volume, hb->orders, hb->fees, hb->slippage, (hb->fees + hb->slippage) / notional,
               ch_netting_ratio(hb->volume, n.gross_delta));
    }
    printf("  (netting = 1 - hedge volume / the delta a trade-by-trade hedger sends; cost per 1M "
           "USD of option notional traded)\n");
    printf("  pool: NAV %.0f USD (cash %.0f, options %.0f), %.6f USD per share\n", pi.nav,
           (double)pi.cash / CH_CASH_SCALE, pi.inventory_value, pi.nav_per_share);
    printf("  %ld orders rejected (funds, margin, pool limits)\n", rejected);
    int rc = ch_engine_check(e) == CH_OK ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "chdemo: invariant check failed\n");
    CH_LOG(CH_LOG_INFO, "demo_done", "fills=%" PRIu64 " net_delta=%.3f",
           n.fills[0] + n.fills[1] + n.fills[2], n.net_delta);
    free(live);
    free(owner);
    for (int h = 0; h < N_HEDGERS; h++)
        ch_hedger_destroy(hedgers[h]);
    if (d.st != NULL) {
        printf("\nStored %" PRIu64 " commands in %s (chctl dump --db %s shows them)\n",
               ch_store_last_seq(d.st), db, db);
        ch_store_close(d.st);
    }
    ch_engine_destroy(e);
    return rc;
}
