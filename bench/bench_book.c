/*
 * bench_book.c - throughput and latency of the order book (in process).
 *
 * A deterministic feed (seeded) over many instruments: resting adds near the
 * touch, cancels of live orders, marketable IOC orders that trade, and
 * quantity-down replaces, in cancel-heavy proportions (by default 46% add,
 * 44% cancel, 8% marketable, 2% replace). The feed is generated before the
 * clock starts. Two passes over fresh books:
 *   1. throughput: the whole feed, timed as one block;
 *   2. latency: each operation timed on its own (clock_gettime), reported as
 *      p50/p99/p99.9 per kind, next to the cost of one clock read.
 * The in-run CPU baseline is a trivial loop over the same feed (read each
 * operation and fold it into a checksum), so the ratio book/baseline says how
 * many "feed reads" one book operation costs on this machine.
 *
 * 3. the regime suite (book_regimes.h): five feeds (a cancel-heavy normal
 *    day, a deep static book, +-25 % and +-40 % swings, a flash crash) on one
 *    symbol and on 700, each through ch_book (twice: its levels indexed by
 *    price, as these bands get by default, and sorted, as chd's series are)
 *    and through a flat price-array book written here as the QuantCup 2011
 *    winner was (flat_book.h), the in-run baseline; all must make the same
 *    fills.
 *
 * Usage: bench_book [--ops N] [--instruments N] [--seed N] [--json FILE] [--smoke]
 *                   [--regime-ops N] [--rounds N] [--no-regimes] [--regime NAME]
 *                   [--symbols N]
 * (--rounds: each regime's rounds, 5 by default, 1 with --smoke; the
 * medians are reported)
 * (--regime and --symbols run one regime, or one size, of the suite alone:
 * for a profiler.)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_feed.h"
#include "book_regimes.h"
#include "bench_util.h"
#include "ch/book.h"

typedef bench_op op;

static uint64_t rng;
static uint64_t rnd(void)
{
    return bench_xorshift(&rng);
}

typedef struct counts {
    uint64_t ev[8];
} counts;

static void sink(void *ctx, const ch_event *ev)
{
    counts *c = ctx;
    c->ev[ev->type & 7]++;
}

/* Build the feed (mid prices, then the operations). Returns the number of adds. */
static uint32_t make_feed(op *feed, size_t n, uint32_t n_instr, int64_t *mid)
{
    for (uint32_t i = 0; i < n_instr; i++)
        mid[i] = 10000 + (int64_t)(rnd() % 40000);
    bench_feed_cfg c = {.n_instr = n_instr,
                        .live_per_instr = 60,
                        .mid = mid,
                        .add_qty = 20,
                        .market_qty = 10,
                        .add_accts = 1000,
                        .market_base = 1000,
                        .market_accts = 1000};
    return bench_feed_make(feed, n, &c, &rng);
}

typedef struct run_ctx {
    ch_book *bk;
    ch_order_id *ids;     /* add index -> order id */
    ch_account_id *owner; /* add index -> account */
    counts c;
} run_ctx;

static int run_ctx_init(run_ctx *r, uint32_t n_instr, uint32_t adds, size_t max_orders)
{
    memset(r, 0, sizeof *r);
    ch_book_config cfg = {.max_instruments = n_instr,
                          .max_orders = (uint32_t)max_orders,
                          .max_levels = 512,
                          .on_event = sink,
                          .ctx = &r->c};
    r->bk = ch_book_create(&cfg);
    r->ids = calloc(adds + 1, sizeof *r->ids);
    r->owner = calloc(adds + 1, sizeof *r->owner);
    if (r->bk == NULL || r->ids == NULL || r->owner == NULL)
        return -1;
    /* fault the bookkeeping pages in now, outside the timed region (a zero
     * memset of calloc'ed memory is elided by the compiler: write 0xff) */
    memset(r->ids, 0xff, (adds + 1) * sizeof *r->ids);
    memset(r->owner, 0xff, (adds + 1) * sizeof *r->owner);
    for (uint32_t i = 0; i < n_instr; i++)
        if (ch_book_add_instrument(r->bk, (ch_instr_id){i}, 1, 1000000) != CH_OK)
            return -1;
    return 0;
}

static void run_ctx_fini(run_ctx *r)
{
    ch_book_destroy(r->bk);
    free(r->ids);
    free(r->owner);
}

static inline ch_err do_op(run_ctx *r, const op *o)
{
    switch (o->kind) {
    case BENCH_ADD: {
        ch_order_req q = {.instr = {o->instr},
                          .account = {o->acct},
                          .side = o->side,
                          .price = o->price,
                          .qty = o->qty};
        ch_order_result res;
        ch_err e = ch_book_submit(r->bk, &q, &res);
        r->ids[o->ref] = res.id;
        r->owner[o->ref].v = o->acct;
        return e;
    }
    case BENCH_CANCEL:
        return ch_book_cancel(r->bk, r->owner[o->ref], r->ids[o->ref], NULL);
    case BENCH_MARKET: {
        ch_order_req q = {.instr = {o->instr},
                          .account = {o->acct},
                          .side = o->side,
                          .tif = CH_TIF_IOC,
                          .price = o->price,
                          .qty = o->qty};
        return ch_book_submit(r->bk, &q, NULL);
    }
    default:
        return ch_book_replace(r->bk, r->owner[o->ref], r->ids[o->ref], o->qty, 0, NULL);
    }
}

int main(int argc, char **argv)
{
    size_t n_ops = 5000000;
    uint32_t n_instr = 700;
    uint64_t seed = 42;
    const char *json = NULL;
    size_t regime_ops = 2000000;
    bool regimes = true;
    int rounds = 5;
    const char *only_regime = NULL;
    uint32_t only_symbols = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            n_ops = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--instruments") == 0 && i + 1 < argc)
            n_instr = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--smoke") == 0)
            n_ops = 200000, regime_ops = 50000, rounds = 1;
        else if (strcmp(argv[i], "--regime-ops") == 0 && i + 1 < argc)
            regime_ops = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--no-regimes") == 0)
            regimes = false;
        else if (strcmp(argv[i], "--regime") == 0 && i + 1 < argc)
            only_regime = argv[++i];
        else if (strcmp(argv[i], "--symbols") == 0 && i + 1 < argc)
            only_symbols = (uint32_t)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: %s [--ops N] [--instruments N] [--seed N] [--json FILE] [--smoke]\n"
                    "          [--regime-ops N] [--rounds N] [--no-regimes] [--regime NAME]\n"
                    "          [--symbols N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n_ops < 1000 || n_instr == 0 || rounds < 1) {
        fprintf(stderr, "bench_book: --ops must be >= 1000, --instruments and --rounds >= 1\n");
        return 2;
    }
    rng = seed ? seed : 1;
    op *feed = malloc(n_ops * sizeof *feed);
    int64_t *mid = malloc(n_instr * sizeof *mid);
    if (feed == NULL || mid == NULL) {
        fprintf(stderr, "bench_book: out of memory\n");
        return 2;
    }
    uint32_t adds = make_feed(feed, n_ops, n_instr, mid);
    size_t max_orders = (size_t)n_instr * 200 + 1024;
    size_t kind_n[BENCH_KINDS] = {0};
    for (size_t k = 0; k < n_ops; k++)
        kind_n[feed[k].kind]++;

    /* baseline: a trivial loop over the same feed */
    uint64_t t0 = bench_now_ns();
    uint64_t sum = 0;
    for (size_t k = 0; k < n_ops; k++) {
        const op *o = &feed[k];
        sum = sum * 31 + (uint64_t)o->price + o->qty + o->ref + o->kind;
    }
    uint64_t t1 = bench_now_ns();
    volatile uint64_t sink_sum = sum;
    (void)sink_sum;
    double base_s = (double)(t1 - t0) / 1e9;
    double base_rate = (double)n_ops / (base_s > 0 ? base_s : 1e-9);

    /* pass 1: throughput */
    run_ctx r;
    if (run_ctx_init(&r, n_instr, adds, max_orders) != 0) {
        fprintf(stderr, "bench_book: cannot create the books\n");
        return 2;
    }
    size_t rejects = 0;
    t0 = bench_now_ns();
    for (size_t k = 0; k < n_ops; k++)
        rejects += do_op(&r, &feed[k]) != CH_OK;
    t1 = bench_now_ns();
    double secs = (double)(t1 - t0) / 1e9;
    double rate = (double)n_ops / secs;
    ch_book_stats st;
    ch_book_get_stats(r.bk, &st);
    if (ch_book_check(r.bk) != CH_OK) {
        fprintf(stderr, "bench_book: integrity check failed\n");
        return 1;
    }
    counts c1 = r.c;
    run_ctx_fini(&r);

    /* pass 2: latency per operation */
    bench_lat lat[BENCH_KINDS + 1] = {{0}};
    for (int k = 0; k < BENCH_KINDS; k++) {
        lat[k].name = bench_kind_names[k];
        bench_lat_reserve(&lat[k], kind_n[k]);
    }
    lat[BENCH_KINDS].name = "all";
    bench_lat_reserve(&lat[BENCH_KINDS], n_ops);
    if (run_ctx_init(&r, n_instr, adds, max_orders) != 0)
        return 2;
    for (size_t k = 0; k < n_ops; k++) {
        uint64_t a = bench_now_ns();
        do_op(&r, &feed[k]);
        uint64_t b = bench_now_ns();
        bench_lat_add(&lat[feed[k].kind], b - a);
        bench_lat_add(&lat[BENCH_KINDS], b - a);
    }
    run_ctx_fini(&r);
    double timer = bench_timer_overhead_ns();
    for (int k = 0; k <= BENCH_KINDS; k++)
        bench_lat_sort(&lat[k]);

    char machine[300];
    bench_machine(machine, sizeof machine);
    printf("order book benchmark: %zu operations over %u instruments (seed %" PRIu64 ")\n", n_ops,
           n_instr, seed);
    printf("machine: %s\n", machine);
    printf("mix: add %zu, cancel %zu, marketable IOC %zu, replace %zu; trades %" PRIu64
           ", rejects %zu (cancels of already filled orders), open at end %u\n",
           kind_n[BENCH_ADD], kind_n[BENCH_CANCEL], kind_n[BENCH_MARKET], kind_n[BENCH_REPLACE],
           st.trades, rejects, st.open_orders);
    printf("events: ack %" PRIu64 " fill %" PRIu64 " cancel %" PRIu64 " reject %" PRIu64
           " replace %" PRIu64 " rest %" PRIu64 "\n",
           c1.ev[CH_EV_ACK], c1.ev[CH_EV_FILL], c1.ev[CH_EV_CANCEL], c1.ev[CH_EV_REJECT],
           c1.ev[CH_EV_REPLACE], c1.ev[CH_EV_REST]);
    printf("\n| measure | value |\n|---|---|\n");
    printf("| book throughput | %.2f M ops/s (%.1f ns/op) |\n", rate / 1e6, 1e9 / rate);
    printf("| baseline: trivial loop over the feed | %.1f M ops/s |\n", base_rate / 1e6);
    printf("| ratio book / baseline | %.3f |\n", rate / base_rate);
    printf("\n| latency (ns, incl. one clock read of %.0f ns) | n | p50 | p99 | p99.9 | max |\n"
           "|---|---|---|---|---|---|\n",
           timer);
    for (int k = 0; k <= BENCH_KINDS; k++)
        printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f |\n", lat[k].name, lat[k].n,
               bench_pct(&lat[k], 0.5), bench_pct(&lat[k], 0.99), bench_pct(&lat[k], 0.999),
               bench_pct(&lat[k], 1.0));
    /* 3: the regime suite against the flat price-array book */
    regime_result rr[2 * R_COUNT];
    size_t n_rr = 0;
    bool agree = true;
    double lo_ratio = 1e9, hi_ratio = 0, worst = 1e18, best = 0;
    if (regimes && regime_ops >= 1000) {
        printf(
            "\n| regime | symbols | ch_book M ops/s (price-indexed) | flat array M ops/s | ratio "
            "| ch_book sorted M ops/s | ratio | trades | most levels a side | same fills |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n");
        static const uint32_t sizes[] = {1, 700}; /* symbols */
        for (int z = 0; z < 2; z++) {
            /* a size's regimes take their rounds in turn (round 1 of each, then
             * round 2...): a slow spell of a shared machine falls on them alike */
            uint32_t n_sym = sizes[z];
            regime_run runs[R_COUNT];
            int kinds[R_COUNT], n_runs = 0;
            for (int k = 0; k < R_COUNT; k++)
                if ((only_regime == NULL || strcmp(only_regime, regime_names[k]) == 0) &&
                    (only_symbols == 0 || only_symbols == n_sym))
                    kinds[n_runs++] = k;
            for (int j = 0; j < n_runs; j++)
                if (regime_open(&runs[j], kinds[j], regime_ops, n_sym, seed + (uint64_t)kinds[j],
                                rounds) != 0) {
                    fprintf(stderr, "bench_book: regime %s: out of memory\n",
                            regime_names[kinds[j]]);
                    return 2;
                }
            for (int round = 0; round < rounds; round++)
                for (int j = 0; j < n_runs; j++)
                    if (regime_round_of(&runs[j]) != 0) {
                        fprintf(stderr, "bench_book: regime %s: out of memory\n",
                                regime_names[kinds[j]]);
                        return 2;
                    }
            for (int j = 0; j < n_runs; j++) {
                regime_result *x = &rr[n_rr++];
                *x = regime_finish(&runs[j]);
                regime_close(&runs[j]);
                agree = agree && x->agree;
                double ratio = x->ratio_median;
                if (n_sym == 1) { /* single symbol: the targets */
                    lo_ratio = ratio < lo_ratio ? ratio : lo_ratio;
                    hi_ratio = ratio > hi_ratio ? ratio : hi_ratio;
                    worst = x->book_ops_per_s < worst ? x->book_ops_per_s : worst;
                    best = x->book_ops_per_s > best ? x->book_ops_per_s : best;
                }
                printf("| %s | %u | %.2f | %.2f | %.3f | %.2f | %.3f | %" PRIu64 " | %" PRIu64
                       " | %s |\n",
                       x->name, x->instruments, x->book_ops_per_s / 1e6, x->flat_ops_per_s / 1e6,
                       ratio, x->sorted_ops_per_s / 1e6, x->sorted_ratio_median, x->trades,
                       x->levels_max, x->agree ? "yes" : "NO");
            }
        }
        if (best > 0) /* one-symbol regimes ran */
            printf("\nmedians of %d rounds. One symbol: ch_book / flat array %.3f .. %.3f; "
                   "ch_book's worst regime / its best %.3f\n",
                   rounds, lo_ratio, hi_ratio, worst / best);
        else
            printf("\nmedians of %d rounds\n", rounds);
    }
    if (json != NULL) {
        FILE *f = bench_json_open(json);
        if (f == NULL)
            return 2;
        fprintf(f,
                "{\"bench\":\"book\",\"machine\":\"%s\",\"ops\":%zu,\"instruments\":%u,"
                "\"seed\":%" PRIu64 ",\"throughput_ops_per_s\":%.0f,"
                "\"baseline\":{\"name\":\"trivial loop over the feed\",\"ops_per_s\":%.0f},"
                "\"ratio\":%.4f,\"timer_overhead_ns\":%.0f,\"trades\":%" PRIu64 ",\"latency_ns\":{",
                machine, n_ops, n_instr, seed, rate, base_rate, rate / base_rate, timer, st.trades);
        for (int k = 0; k <= BENCH_KINDS; k++)
            fprintf(f, "%s\"%s\":{\"n\":%zu,\"p50\":%.0f,\"p99\":%.0f,\"p999\":%.0f,\"max\":%.0f}",
                    k ? "," : "", lat[k].name, lat[k].n, bench_pct(&lat[k], 0.5),
                    bench_pct(&lat[k], 0.99), bench_pct(&lat[k], 0.999), bench_pct(&lat[k], 1.0));
        fprintf(f, "},\"regimes\":[");
        for (size_t k = 0; k < n_rr; k++)
            fprintf(f,
                    "%s{\"name\":\"%s\",\"instruments\":%u,\"ops\":%zu,\"rounds\":%d,"
                    "\"book_ops_per_s\":%.0f,\"flat_ops_per_s\":%.0f,\"ratio\":%.4f,"
                    "\"sorted_ops_per_s\":%.0f,\"sorted_ratio\":%.4f,"
                    "\"trades\":%" PRIu64 ",\"levels_max\":%" PRIu64 ",\"agree\":%s}",
                    k ? "," : "", rr[k].name, rr[k].instruments, rr[k].ops, rr[k].rounds,
                    rr[k].book_ops_per_s, rr[k].flat_ops_per_s, rr[k].ratio_median,
                    rr[k].sorted_ops_per_s, rr[k].sorted_ratio_median, rr[k].trades,
                    rr[k].levels_max, rr[k].agree ? "true" : "false");
        fprintf(f, "]}\n");
        fclose(f);
    }
    for (int k = 0; k <= BENCH_KINDS; k++)
        free(lat[k].v);
    free(feed);
    free(mid);
    return agree ? 0 : 1;
}
