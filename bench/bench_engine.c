/*
 * bench_engine.c - orders/s through the full path (pre-trade funds and
 * margin checks, book + parity netting + pool, clearing, positions, margin
 * vectors, inventory and netting counters) next to the bare order book, on
 * the same deterministic feed in the same run.
 *
 * Chain: 10 expiries x 35 strikes x call/put = 700 series of BTC, marked at
 * a smile; 1000 funded accounts. Feed (cancel-heavy, as bench_book): resting
 * adds near each series' model price inside the pool's spread, cancels of
 * live orders, marketable IOC orders that sweep the book, the sibling
 * (parity netting) and the pool, and quantity-down replaces.
 *
 * Each round (3 by default) runs the book pass, then the full pass on a fresh
 * engine; the table shows the round with the median ratio, so that one
 * round hit by other tenants of the machine does not decide the figure.
 *
 * Usage: bench_engine [--ops N] [--rounds R] [--json FILE] [--smoke]
 *                     [--only book|full|feed] [--by-kind]
 * (--only runs one pass once, for profilers; no ratio is printed then;
 * --only feed builds the engine and the feed and runs neither pass, so that
 * bench/instructions can subtract what is not measured;
 * --by-kind reads the clock around every operation and adds a table of the
 * time per kind of operation, summed over all rounds: it slows both paths by
 * the same clock reads, so use its throughput figures for nothing else)
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_feed.h"
#include "bench_util.h"
#include "ch/cli.h"
#include "ch/engine.h"

#define N_EXP    10
#define N_STRIKE 35
#define N_ACCT   1000
#define DAY      (INT64_C(86400) * CH_NS_PER_SEC)

typedef bench_op op;

static uint64_t rng = 7;

static void build_engine(ch_engine **out, ch_account_id *acct, uint32_t *n_instr, int64_t *mid,
                         int64_t *spread)
{
    ch_engine_config cfg;
    ch_engine_defaults(&cfg);
    cfg.max_accounts = N_ACCT + 8;
    cfg.pool.max_vega_total = 1e9; /* a deep pool: the benchmark measures the path, not limits */
    cfg.pool.max_gamma_total = 1e6;
    cfg.pool.max_vega_strike = 1e8;
    cfg.pool.max_gamma_strike = 1e5;
    cfg.pool.max_notional = 1e13;
    ch_engine *e = ch_engine_create(&cfg);
    ch_underlying_config u = {
        .name = "BTC", .contract_size = 1.0, .min_price = 1, .max_price = 2000000};
    ch_tick_parse("0.5", 3, &u);
    ch_engine_add_underlying(e, &u, NULL);
    ch_time now;
    ch_date_to_time(2026, 11, 25, &now);
    ch_engine_advance(e, now);
    ch_time exps[N_EXP];
    int64_t strikes[N_STRIKE];
    for (int i = 0; i < N_EXP; i++)
        exps[i] = now + (2 + 14 * i) * DAY + 8 * 3600 * CH_NS_PER_SEC;
    for (int k = 0; k < N_STRIKE; k++)
        strikes[k] = 60000 + 2500 * k;
    ch_engine_list_grid(e, 0, exps, N_EXP, strikes, N_STRIKE);
    ch_time me[N_EXP];
    double mk[N_EXP], mv[N_EXP];
    for (int i = 0; i < N_EXP; i++) {
        me[i] = exps[i];
        mk[i] = 0;
        mv[i] = 0.5 + 0.01 * i;
    }
    ch_market_update mu = {.underlying = 0,
                           .index = 100000,
                           .rate = 0.0,
                           .funding_rate = NAN,
                           .perp = NAN,
                           .n_marks = N_EXP,
                           .mark_expiry = me,
                           .mark_strike = mk,
                           .mark_vol = mv};
    ch_engine_market(e, &mu);
    for (int a = 0; a < N_ACCT; a++) {
        char name[32];
        snprintf(name, sizeof name, "acct%d", a);
        ch_engine_account_open(e, name, INT64_C(1000000000) * CH_CASH_SCALE, CH_STP_CANCEL_RESTING,
                               &acct[a]);
    }
    int64_t sh;
    ch_engine_pool_deposit(e, acct[0], INT64_C(500000000) * CH_CASH_SCALE, &sh);
    *n_instr = ch_instruments_count(ch_engine_instruments(e));
    for (uint32_t i = 0; i < *n_instr; i++) {
        ch_quote qb, qs;
        if (ch_engine_quote(e, (ch_instr_id){i}, CH_BUY, 1, &qb) == CH_OK &&
            ch_engine_quote(e, (ch_instr_id){i}, CH_SELL, 1, &qs) == CH_OK) {
            mid[i] = (qb.price + qs.price) / 2;
            spread[i] = (qb.price - qs.price) / 2;
        } else {
            mid[i] = 1000;
            spread[i] = 10;
        }
    }
    *out = e;
}

static uint32_t make_feed(op *feed, size_t n, uint32_t n_instr, const int64_t *mid,
                          const int64_t *spread)
{
    bench_feed_cfg c = {.n_instr = n_instr,
                        .live_per_instr = 40,
                        .mid = mid,
                        .spread = spread,
                        .add_qty = 5,
                        .market_qty = 4,
                        .add_accts = N_ACCT,
                        .market_base = 0,
                        .market_accts = N_ACCT};
    return bench_feed_make(feed, n, &c, &rng);
}

/* --by-kind: time per kind of operation (clock reads around every op) */
static bool by_kind;
static uint64_t kind_ns[2][4], kind_n[2][4];
#define KIND_T0() uint64_t kt0 = by_kind ? bench_now_ns() : 0
#define KIND_T1(path, kind)                                                                        \
    do {                                                                                           \
        if (by_kind) {                                                                             \
            kind_ns[path][kind] += bench_now_ns() - kt0;                                           \
            kind_n[path][kind]++;                                                                  \
        }                                                                                          \
    } while (0)

/* The bare book on the feed; operations per second. */
static double run_book(const op *feed, size_t n_ops, uint32_t n_instr, ch_order_id *ids,
                       uint16_t *owner)
{
    ch_book_config bc = {.max_instruments = n_instr, .max_orders = 1u << 20, .max_levels = 256};
    ch_book *bk = ch_book_create(&bc);
    for (uint32_t i = 0; i < n_instr; i++)
        ch_book_add_instrument(bk, (ch_instr_id){i}, 1, 2000000);
    uint64_t t0 = bench_now_ns();
    for (size_t k = 0; k < n_ops; k++) {
        const op *o = &feed[k];
        KIND_T0();
        switch (o->kind) {
        case BENCH_ADD: {
            ch_order_req q = {.instr = {o->instr},
                              .account = {o->acct},
                              .side = o->side,
                              .stp = CH_STP_CANCEL_RESTING,
                              .price = o->price,
                              .qty = o->qty};
            ch_order_result r;
            ch_book_submit(bk, &q, &r);
            ids[o->ref] = r.id;
            owner[o->ref] = o->acct;
            break;
        }
        case BENCH_CANCEL:
            ch_book_cancel(bk, (ch_account_id){owner[o->ref]}, ids[o->ref], NULL);
            break;
        case BENCH_MARKET: {
            ch_order_req q = {.instr = {o->instr},
                              .account = {o->acct},
                              .side = o->side,
                              .stp = CH_STP_CANCEL_RESTING,
                              .tif = CH_TIF_IOC,
                              .price = o->price,
                              .qty = o->qty};
            ch_book_submit(bk, &q, NULL);
            break;
        }
        default:
            ch_book_replace(bk, (ch_account_id){owner[o->ref]}, ids[o->ref], o->qty, 0, NULL);
        }
        KIND_T1(0, o->kind);
    }
    uint64_t t1 = bench_now_ns();
    double book_rate = (double)n_ops / ((double)(t1 - t0) / 1e9);
    ch_book_destroy(bk);
    return book_rate;
}

/* The full path on the same feed; operations per second. */
static double run_full(ch_engine *e, const ch_account_id *acct, const op *feed, size_t n_ops,
                       ch_order_id *ids, uint16_t *owner, size_t *rejects_out)
{
    size_t rejects = 0;
    uint64_t t0 = bench_now_ns();
    for (size_t k = 0; k < n_ops; k++) {
        const op *o = &feed[k];
        KIND_T0();
        ch_err err;
        switch (o->kind) {
        case BENCH_ADD: {
            ch_engine_order q = {.account = acct[o->acct],
                                 .instr = {o->instr},
                                 .side = o->side,
                                 .price = o->price,
                                 .qty = o->qty};
            ch_engine_result r;
            err = ch_engine_submit(e, &q, &r);
            ids[o->ref] = r.id;
            owner[o->ref] = o->acct;
            break;
        }
        case BENCH_CANCEL:
            err = ch_engine_cancel(e, acct[owner[o->ref]], ids[o->ref], NULL);
            break;
        case BENCH_MARKET: {
            ch_engine_order q = {.account = acct[o->acct],
                                 .instr = {o->instr},
                                 .side = o->side,
                                 .tif = CH_TIF_IOC,
                                 .price = o->price,
                                 .qty = o->qty};
            err = ch_engine_submit(e, &q, NULL);
            break;
        }
        default:
            err = ch_engine_replace(e, acct[owner[o->ref]], ids[o->ref], o->qty, 0, NULL);
        }
        KIND_T1(1, o->kind);
        rejects += err != CH_OK;
    }
    uint64_t t1 = bench_now_ns();
    double full_rate = (double)n_ops / ((double)(t1 - t0) / 1e9);
    *rejects_out = rejects;
    return full_rate;
}

static void count_order(void *ctx, const ch_order_info *o)
{
    (void)o;
    ++*(size_t *)ctx;
}

/*
 * Microseconds per ch_engine_account call over every account after the full
 * pass: an account whose resting sells the engine holds in its integer
 * bound gets its exact margin by walking the sell side of every book.
 */
static double account_query_us(const ch_engine *e, const ch_account_id *acct, size_t *sells)
{
    const ch_book *b = ch_engine_book(e);
    uint32_t n = ch_instruments_count(ch_engine_instruments(e));
    *sells = 0;
    for (uint32_t i = 0; i < n; i++)
        ch_book_foreach(b, (ch_instr_id){i}, CH_SELL, count_order, sells);
    double sink = 0;
    uint64_t t0 = bench_now_ns();
    for (int a = 0; a < N_ACCT; a++) {
        ch_account_info ai;
        ch_engine_account(e, acct[a], &ai);
        sink += ai.margin;
    }
    uint64_t t1 = bench_now_ns();
    if (sink < 0)
        printf("(negative margin?)\n");
    return (double)(t1 - t0) / 1e3 / N_ACCT;
}

/*
 * Nanoseconds per account lookup by name among @p n accounts (each name once,
 * in a scrambled order): the engine's hash index, and as the in-run baseline
 * the linear scan over the same names it replaced (what a batch naming an
 * account paid per order).
 */
static void lookup_ns(uint32_t n, double *index_ns, double *scan_ns)
{
    ch_engine_config c;
    ch_engine_defaults(&c);
    c.max_instruments = 4;
    c.max_accounts = n + 4;
    c.max_orders = c.max_levels = 16;
    c.max_positions = 16;
    ch_engine *e = ch_engine_create(&c);
    char(*names)[CH_ACCOUNT_NAME_MAX] = calloc(n, sizeof *names);
    if (e == NULL || names == NULL) {
        *index_ns = *scan_ns = 0;
        ch_engine_destroy(e);
        free(names);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "trader-%u", i);
        ch_engine_account_open(e, names[i], 0, CH_STP_CANCEL_INCOMING, NULL);
    }
    uint64_t sum = 0, t0 = bench_now_ns();
    for (uint32_t k = 0; k < n; k++) {
        const char *nm = names[(k * 2654435761u) % n];
        ch_account_id id = {0};
        ch_engine_account_find(e, nm, strlen(nm), &id);
        sum += id.v;
    }
    uint64_t t1 = bench_now_ns();
    uint32_t probes = n < 2000 ? n : 2000; /* the scan is slow: a sample of lookups */
    for (uint32_t k = 0; k < probes; k++) {
        const char *nm = names[(k * 2654435761u) % n];
        size_t len = strlen(nm);
        for (uint32_t i = 0; i < n; i++)
            if (strncmp(names[i], nm, len) == 0 && names[i][len] == '\0') {
                sum += i;
                break;
            }
    }
    uint64_t t2 = bench_now_ns();
    if (sum == 1)
        printf("(?)\n");
    *index_ns = (double)(t1 - t0) / n;
    *scan_ns = (double)(t2 - t1) / probes;
    ch_engine_destroy(e);
    free(names);
}

/* One round's figures. */
typedef struct rates {
    double book_rate, full_rate;
} rates;

static int by_ratio(const void *x, const void *y)
{
    const rates *a = x, *b = y;
    double ra = a->full_rate / a->book_rate, rb = b->full_rate / b->book_rate;
    return (ra > rb) - (ra < rb);
}

int main(int argc, char **argv)
{
    size_t n_ops = 2000000;
    int rounds = 3;
    const char *json = NULL;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            n_ops = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            long v;
            if (!ch_cli_long("bench_engine", "--rounds", argv[++i], 1, 99, &v))
                return 2;
            rounds = (int)v;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--by-kind") == 0)
            by_kind = true;
        else if (strcmp(argv[i], "--smoke") == 0) {
            n_ops = 50000;
            rounds = 1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
                   (strcmp(argv[i + 1], "book") == 0 || strcmp(argv[i + 1], "full") == 0 ||
                    strcmp(argv[i + 1], "feed") == 0))
            only = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--ops N] [--rounds R] [--json FILE] [--smoke] "
                    "[--only book|full|feed] [--by-kind]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n_ops < 1000)
        n_ops = 1000;
    if (rounds < 1 || rounds > 99)
        rounds = 3;
    if (only != NULL)
        rounds = 1;
    bool do_book = only == NULL || strcmp(only, "book") == 0;
    bool do_full = only == NULL || strcmp(only, "full") == 0;

    /* the feed comes from the first round's engine (the same every round) */
    ch_engine *e;
    ch_account_id acct[N_ACCT];
    uint32_t n_instr;
    int64_t mid[N_EXP * N_STRIKE * 2], spread[N_EXP * N_STRIKE * 2];
    build_engine(&e, acct, &n_instr, mid, spread);
    op *feed = malloc(n_ops * sizeof *feed);
    uint32_t adds = make_feed(feed, n_ops, n_instr, mid, spread);
    ch_order_id *ids = malloc((adds + 1) * sizeof *ids);
    uint16_t *owner = malloc((adds + 1) * sizeof *owner);
    rates rs[99];
    size_t rejects = 0;
    bool broken = false; /* the invariants, checked after every round */
    ch_netting n;
    for (int r = 0; r < rounds; r++) {
        if (r > 0) { /* a fresh engine: each round starts from the same state */
            ch_engine_destroy(e);
            build_engine(&e, acct, &n_instr, mid, spread);
        }
        memset(ids, 0xff, (adds + 1) * sizeof *ids);
        memset(owner, 0xff, (adds + 1) * sizeof *owner);
        rs[r].book_rate = do_book ? run_book(feed, n_ops, n_instr, ids, owner) : 0.0;
        rs[r].full_rate = do_full ? run_full(e, acct, feed, n_ops, ids, owner, &rejects) : 0.0;
        if (ch_engine_check(e) != CH_OK)
            broken = true;
    }
    ch_engine_netting(e, &n);
    size_t sells = 0;
    double query_us = do_full ? account_query_us(e, acct, &sells) : 0.0;
    rates all[99];
    memcpy(all, rs, (size_t)rounds * sizeof *rs);
    if (do_book && do_full)
        qsort(rs, (size_t)rounds, sizeof *rs, by_ratio);
    double book_rate = rs[rounds / 2].book_rate, full_rate = rs[rounds / 2].full_rate;

    char machine[300];
    bench_machine(machine, sizeof machine);
    printf("full matching path benchmark: %zu operations over %u series, %d accounts; "
           "%d round%s (book pass, then full pass, on a fresh engine each)\n",
           n_ops, n_instr, N_ACCT, rounds, rounds == 1 ? "" : "s");
    printf("machine: %s\n", machine);
    printf("fills: book %" PRIu64 " (%" PRId64 " lots), net %" PRIu64 " (%" PRId64
           " lots), pool %" PRIu64 " (%" PRId64 " lots); rejects %zu (cancels of filled orders, "
           "etc.); invariants %s\n",
           n.fills[0], n.lots[0], n.fills[1], n.lots[1], n.fills[2], n.lots[2], rejects,
           broken ? "BROKEN" : "hold");
    if (do_full)
        printf("account query after the full pass (exact margin; for an account whose resting "
               "sells are held in the bound, a walk of the %zu resting sells): %.1f us\n",
               sells, query_us);
    if (do_book && do_full && rounds > 1) {
        printf("ratio per round:");
        for (int r = 0; r < rounds; r++)
            printf(" %.3f", all[r].full_rate / all[r].book_rate);
        printf(" (the table shows the median round)\n");
    }
    if (!do_book && !do_full)
        printf("(--only feed: the engine and the feed were built; no pass ran)\n");
    else
        printf("\n| path | throughput | ns/op |\n|---|---|---|\n");
    if (do_book)
        printf("| book only (baseline, same feed, same run) | %.2f M ops/s | %.0f |\n",
               book_rate / 1e6, 1e9 / book_rate);
    if (do_full)
        printf("| full path: checks + book + netting + pool + clearing + risk | %.2f M ops/s | "
               "%.0f |\n",
               full_rate / 1e6, 1e9 / full_rate);
    if (do_book && do_full)
        printf("| ratio full / book | %.3f | (target >= 0.5) |\n", full_rate / book_rate);
    if (only == NULL) {
        printf("\n| account lookup by name | hash index ns | linear scan ns (baseline, same "
               "run) |\n|---|---:|---:|\n");
        for (uint32_t na = 1000; na <= 100000; na *= 100) {
            double ix, scan;
            lookup_ns(na, &ix, &scan);
            printf("| among %u accounts | %.0f | %.0f |\n", na, ix, scan);
        }
    }
    if (by_kind) {
        static const char *const names[4] = {"resting add", "cancel", "marketable IOC", "replace"};
        printf("\n| kind (clock reads included) | share | book ns | full ns | full - book ns "
               "| of the gap |\n|---|---:|---:|---:|---:|---:|\n");
        /* per kind: its share of the operations (of whichever pass ran) and
         * the mean time in each pass; the gap is the share-weighted sum */
        double per[4][2] = {{0}}, share[4], gap = 0.0;
        uint64_t cnt[4], total = 0;
        for (int k = 0; k < 4; k++) {
            cnt[k] = kind_n[1][k] > kind_n[0][k] ? kind_n[1][k] : kind_n[0][k];
            total += cnt[k];
            for (int p = 0; p < 2; p++)
                per[k][p] = kind_n[p][k] ? (double)kind_ns[p][k] / (double)kind_n[p][k] : 0.0;
        }
        for (int k = 0; k < 4; k++) {
            share[k] = (double)cnt[k] / (double)(total ? total : 1);
            gap += (per[k][1] - per[k][0]) * share[k];
        }
        for (int k = 0; k < 4; k++)
            printf("| %s | %.1f%% | %.0f | %.0f | %+.0f | %.0f%% |\n", names[k], 100 * share[k],
                   per[k][0], per[k][1], per[k][1] - per[k][0],
                   gap != 0 ? 100 * (per[k][1] - per[k][0]) * share[k] / gap : 0.0);
    }
    if (json != NULL && do_book && do_full) {
        FILE *f = bench_json_open(json);
        if (f == NULL)
            return 2;
        fprintf(f,
                "{\"bench\":\"engine\",\"machine\":\"%s\",\"ops\":%zu,\"series\":%u,"
                "\"rounds\":%d,\"round_ratios\":[",
                machine, n_ops, n_instr, rounds);
        for (int r = 0; r < rounds; r++)
            fprintf(f, "%s%.4f", r > 0 ? "," : "", all[r].full_rate / all[r].book_rate);
        fprintf(f,
                "],\"baseline\":{\"name\":\"book only, same feed\",\"ops_per_s\":%.0f},"
                "\"full_ops_per_s\":%.0f,\"ratio\":%.4f,\"fills\":[%" PRIu64 ",%" PRIu64 ",%" PRIu64
                "]}\n",
                book_rate, full_rate, full_rate / book_rate, n.fills[0], n.fills[1], n.fills[2]);
        fclose(f);
    }
    ch_engine_destroy(e);
    free(feed);
    free(ids);
    free(owner);
    return broken ? 1 : 0;
}
