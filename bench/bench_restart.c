/*
 * bench_restart.c - how long a restart takes against the length of the
 * history, with and without snapshots, and what snapshots cost.
 *
 * A seeded mixed flow (1,000 accounts, 40 BTC series, the pool quoting:
 * resting orders near the mark, cancels, marketable IOC orders that fill
 * against the book and the pool, a market update and a clock step every
 * 10,000 commands; cancels keep about 20,000 orders resting, so the state
 * stops growing while the history does) is applied by the engine and committed through the store
 * in batches of 1,000, as chd does, with a snapshot every --every commands
 * (chd's default snapshot_every, 1,000,000). Then a restart is timed the way
 * chd restarts (ch_store_open, then the state):
 *   - full replay: the whole command log into a fresh engine (snapshot_load
 *     false, or a build that cannot read the snapshot);
 *   - kill -9: the newest snapshot and the log after it (what is left since
 *     the last periodic snapshot: between 0 and --every commands);
 *   - worst kill -9: the snapshot before the newest and the log after it, so
 *     --every commands or more to replay (the worst case of that setting);
 *   - clean stop: a snapshot written at the end (chd takes one when it stops
 *     cleanly), nothing to replay.
 * Each restart runs --rounds times (median) on the page cache warm from
 * writing the history; a restart after a reboot also reads the files from
 * disk. The snapshot's cost: its size, the time to build it (engine) and to
 * write it (store, its own transaction), and the commit rate of the same
 * flow with a snapshot every --rate-every commands (100,000) against none
 * (both in the run).
 *
 * Usage: bench_restart [--sizes 10000,1000000,10000000] [--every N]
 *                      [--rate-every N] [--rounds R] [--dir DIR] [--json FILE]
 *                      [--smoke]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "ch/book.h"
#include "ch/cli.h"
#include "ch/store.h"

#define N_ACCT      1000
#define N_STRIKES   10
#define N_EXP       2
#define N_SERIES    (N_STRIKES * N_EXP * 2)
#define MAX_LIVE    65536
#define LIVE_TARGET 20000
#define BATCH       1000
#define DAY         (INT64_C(86400) * CH_NS_PER_SEC)

static char base[256];

static void wipe(const char *d)
{
    bench_wipe("bench_restart", d);
}

static ch_engine_config engine_config(void)
{
    ch_engine_config cfg;
    ch_engine_defaults(&cfg);
    return cfg;
}

static void fill_sink(void *ctx, const ch_engine_event *ev)
{
    if (ev->type == CH_EE_FILL && ch_store_record_fill(ctx, &ev->fill) != CH_OK)
        exit(3);
}

/* The flow's generator and what it needs to remember. */
typedef struct flow {
    ch_engine *e;
    ch_store *st;
    uint64_t rng, commands;
    ch_time now, expiry[N_EXP];
    double index;
    ch_order_id live[MAX_LIVE];
    uint32_t owner[MAX_LIVE];
    size_t nlive;
} flow;

static void step(flow *f, const ch_command *c)
{
    ch_command_result r;
    ch_command_apply(f->e, c, &r);
    if (ch_store_log(f->st, c, NULL) != CH_OK)
        exit(3);
    f->commands++;
    if (c->type == CH_C_SUBMIT && r.err == CH_OK && r.order.remaining > 0 && f->nlive < MAX_LIVE) {
        f->live[f->nlive] = r.order.id;
        f->owner[f->nlive++] = c->order.account.v;
    }
}

static void commit(flow *f)
{
    if (ch_store_commit(f->st) != CH_OK) {
        fprintf(stderr, "bench_restart: commit failed\n");
        exit(3);
    }
}

static void market(flow *f)
{
    ch_command c = ch_command_make(CH_C_MARKET);
    c.market.index = f->index;
    c.market.rate = 0.0;
    c.market.funding_rate = NAN;
    c.market.perp = NAN;
    c.market.n_marks = N_EXP;
    for (int x = 0; x < N_EXP; x++) {
        c.market.expiry[x] = f->expiry[x];
        c.market.vol[x] = 0.5 + 0.05 * x;
    }
    step(f, &c);
}

static void setup(flow *f)
{
    ch_date_to_time(2026, 11, 25, &f->now);
    f->index = 100000;
    f->rng = 7;
    ch_command c = ch_command_make(CH_C_ADVANCE);
    c.time = f->now;
    step(f, &c);
    c = ch_command_make(CH_C_UNDERLYING);
    c.underlying = (ch_underlying_config){
        .name = "BTC", .contract_size = 1, .min_price = 1, .max_price = 2000000};
    ch_tick_parse("0.5", 3, &c.underlying);
    step(f, &c);
    static const char *dates[N_EXP] = {"25DEC26", "29JAN27"};
    static const int ymd[N_EXP][3] = {{2026, 12, 25}, {2027, 1, 29}};
    for (int x = 0; x < N_EXP; x++) {
        ch_date_to_time(ymd[x][0], ymd[x][1], ymd[x][2], &f->expiry[x]);
        f->expiry[x] += 8 * 3600 * CH_NS_PER_SEC;
        for (int k = 0; k < N_STRIKES; k++)
            for (int cp = 0; cp < 2; cp++) {
                c = ch_command_make(CH_C_LIST);
                snprintf(c.symbol, sizeof c.symbol, "BTC-%s-%d-%c", dates[x], 80000 + 4000 * k,
                         cp ? 'P' : 'C');
                step(f, &c);
            }
    }
    market(f);
    for (int a = 0; a < N_ACCT; a++) {
        c = ch_command_make(CH_C_ACCOUNT_OPEN);
        snprintf(c.name, sizeof c.name, "trader%04d", a);
        c.amount = INT64_C(100000000) * CH_CASH_SCALE;
        step(f, &c);
    }
    c = ch_command_make(CH_C_POOL_DEPOSIT);
    c.account.v = 3;
    c.amount = INT64_C(50000000) * CH_CASH_SCALE;
    step(f, &c);
    commit(f);
}

/* The mark price of series i in ticks, roughly (the flow quotes around it). */
static int64_t mid_ticks(const flow *f, uint32_t i)
{
    double k = 80000 + 4000 * (int)((i / 2) % N_STRIKES);
    double intrinsic = i % 2 == 0 ? f->index - k : k - f->index;
    double px = (intrinsic > 0 ? intrinsic : 0) + 4500 + 1500 * (int)(i / (2 * N_STRIKES));
    return (int64_t)(px / 0.5);
}

/* One command of the mixed flow (and, every 10,000, the clock and marks). */
static void next(flow *f)
{
    if (f->commands % 10000 == 0) {
        f->now += CH_NS_PER_SEC;
        ch_command c = ch_command_make(CH_C_ADVANCE);
        c.time = f->now;
        step(f, &c);
        f->rng = f->rng * 6364136223846793005ull + 1442695040888963407ull;
        f->index *= 1.0 + 0.002 * ((double)((f->rng >> 33) % 2001) / 1000.0 - 1.0);
        market(f);
        return;
    }
    f->rng = f->rng * 6364136223846793005ull + 1442695040888963407ull;
    unsigned u = (unsigned)(f->rng >> 33);
    ch_command c;
    unsigned kind = u % 20;
    if (kind < 17 && f->nlive >= LIVE_TARGET)
        kind = 10; /* the book stays about this deep: the state does not grow with history */
    if (kind < 10 || (kind < 17 && f->nlive == 0)) { /* rests near the mark */
        c = ch_command_make(CH_C_SUBMIT);
        c.order.account.v = 3 + (u >> 5) % N_ACCT;
        c.order.instr.v = (u >> 15) % N_SERIES;
        c.order.side = (ch_side)((u >> 21) & 1);
        int64_t mid = mid_ticks(f, c.order.instr.v);
        c.order.price = mid + (c.order.side == CH_BUY ? -1 : 1) * (int64_t)(10 + (u >> 22) % 200);
        c.order.qty = 1 + (u >> 28) % 4;
    } else if (kind < 17) { /* cancels one */
        size_t k = (u >> 5) % f->nlive;
        c = ch_command_make(CH_C_CANCEL);
        c.account.v = f->owner[k];
        c.order_id = f->live[k];
        f->live[k] = f->live[--f->nlive];
        f->owner[k] = f->owner[f->nlive];
    } else { /* takes: the book, the pool, the other option by parity */
        c = ch_command_make(CH_C_SUBMIT);
        c.order.account.v = 3 + (u >> 5) % N_ACCT;
        c.order.instr.v = (u >> 15) % N_SERIES;
        c.order.side = (ch_side)((u >> 21) & 1);
        c.order.tif = CH_TIF_IOC;
        int64_t mid = mid_ticks(f, c.order.instr.v);
        c.order.price = mid + (c.order.side == CH_BUY ? 1 : -1) * (mid / 5);
        c.order.qty = 1;
    }
    step(f, &c);
}

typedef struct snap_cost {
    uint64_t n, bytes;
    double build_ms, put_ms, worst_ms; /* sums, and the worst (build + put) */
} snap_cost;

static void snapshot(flow *f, snap_cost *sc)
{
    uint64_t t0 = bench_now_ns();
    uint8_t *buf;
    size_t len;
    if (ch_engine_snapshot(f->e, &buf, &len) != CH_OK)
        exit(3);
    uint64_t t1 = bench_now_ns();
    if (ch_store_put_snapshot(f->st, ch_store_last_seq(f->st), buf, len, 2) != CH_OK) {
        fprintf(stderr, "bench_restart: %s\n", ch_store_snapshot_error(f->st));
        exit(3);
    }
    uint64_t t2 = bench_now_ns();
    free(buf);
    sc->n++;
    sc->bytes = len;
    sc->build_ms += (double)(t1 - t0) / 1e6;
    sc->put_ms += (double)(t2 - t1) / 1e6;
    double ms = (double)(t2 - t0) / 1e6;
    if (ms > sc->worst_ms)
        sc->worst_ms = ms;
}

static ch_store *open_store(const char *dir, bool fresh)
{
    if (fresh)
        wipe(dir);
    ch_engine_config cfg = engine_config();
    ch_store_config sc = {.dir = dir, .durability = CH_DURABLE_NOSYNC, .map_size = (size_t)1 << 30};
    ch_store *st;
    if (ch_store_open(&sc, &cfg, false, &st) != CH_OK) {
        fprintf(stderr, "bench_restart: %s\n", ch_store_open_error());
        exit(2);
    }
    return st;
}

/* Write a history of `total` commands; a snapshot every `every` (0: none).
 * Returns the commands per second of the whole run. */
static double history(const char *dir, uint64_t total, uint64_t every, snap_cost *sc, flow **out)
{
    ch_engine_config cfg = engine_config();
    flow *f = calloc(1, sizeof *f);
    if (f == NULL)
        exit(2);
    f->st = open_store(dir, true);
    f->e = ch_engine_create(&cfg);
    if (f->e == NULL)
        exit(2);
    ch_engine_set_sink(f->e, fill_sink, f->st);
    setup(f);
    uint64_t since = 0, t0 = bench_now_ns(); /* chd counts from its first command */
    while (f->commands < total) {
        for (int i = 0; i < BATCH && f->commands < total; i++)
            next(f);
        commit(f);
        if (every > 0 && f->commands - since >= every) {
            snapshot(f, sc);
            since = f->commands;
        }
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    *out = f;
    return (double)f->commands / secs;
}

static void close_flow(flow *f)
{
    ch_engine_destroy(f->e);
    ch_store_close(f->st);
    free(f);
}

typedef struct state {
    uint32_t open_orders;
    uint64_t positions, trades;
} state;

static void count_pos(void *ctx, const ch_position_info *p)
{
    (void)p;
    (*(uint64_t *)ctx)++;
}

static state state_of(const ch_engine *e)
{
    state s = {0};
    ch_book_stats bs;
    ch_book_get_stats(ch_engine_book(e), &bs);
    s.open_orders = bs.open_orders;
    s.trades = bs.trades;
    for (uint32_t a = 0; a < N_ACCT + 3; a++)
        ch_engine_positions(e, (ch_account_id){a}, count_pos, &s.positions);
    return s;
}

enum { FULL, NEWEST, OLDER };

/* One restart: open the store and make the engine; returns seconds and the
 * commands replayed. */
static double restart(const char *dir, int how, uint64_t *replayed, uint8_t *digest_out,
                      size_t *dlen)
{
    ch_engine_config cfg = engine_config();
    uint64_t t0 = bench_now_ns();
    ch_store *st = open_store(dir, false);
    ch_engine *e = ch_engine_create(&cfg);
    uint64_t from = 0, n = 0;
    if (how != FULL) {
        uint8_t *buf = NULL;
        size_t len = 0;
        uint64_t before = UINT64_MAX;
        if (how == OLDER && ch_store_get_snapshot(st, UINT64_MAX, &from, &buf, &len) == CH_OK) {
            before = from;
            free(buf);
            buf = NULL;
        }
        if (ch_store_get_snapshot(st, before, &from, &buf, &len) != CH_OK)
            exit(3);
        if (buf != NULL && ch_engine_restore(e, buf, len) != CH_OK) {
            fprintf(stderr, "bench_restart: the snapshot did not load\n");
            exit(3);
        }
        free(buf);
    }
    if (ch_store_replay_from(st, e, from, NULL, NULL, &n) != CH_OK)
        exit(3);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    *replayed = n;
    if (digest_out != NULL) { /* the state, to check every way gives the same */
        uint8_t *snap;
        size_t len;
        if (ch_engine_snapshot(e, &snap, &len) != CH_OK)
            exit(3);
        size_t k = len < *dlen ? len : *dlen;
        memcpy(digest_out, snap + len - k, k); /* its SHA-256 trailer */
        *dlen = k;
        free(snap);
    }
    ch_engine_destroy(e);
    ch_store_close(st);
    return secs;
}

static double median_restart(const char *dir, int how, int rounds, uint64_t *replayed,
                             const uint8_t *want)
{
    double t[16];
    for (int r = 0; r < rounds; r++) {
        uint8_t d[32];
        size_t dl = sizeof d;
        t[r] = restart(dir, how, replayed, d, &dl);
        if (memcmp(d, want, dl) != 0) {
            fprintf(stderr, "bench_restart: a restart reached another state\n");
            exit(4);
        }
    }
    return bench_median(t, (size_t)rounds);
}

static uint64_t dir_bytes(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "du -sb %s", dir);
    FILE *p = popen(cmd, "r");
    unsigned long long n = 0;
    if (p != NULL) {
        char line[128];
        if (fgets(line, sizeof line, p) != NULL)
            n = strtoull(line, NULL, 10);
        pclose(p);
    }
    return n;
}

int main(int argc, char **argv)
{
    uint64_t sizes[8] = {10000, 1000000, 10000000}, every = 1000000, rate_every = 100000;
    size_t n_sizes = 3;
    int rounds = 3;
    const char *json = NULL, *dir = NULL;
    bool smoke = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            n_sizes = 0;
            for (char *s = argv[++i]; *s && n_sizes < 8;) {
                sizes[n_sizes++] = strtoull(s, &s, 10);
                if (*s == ',')
                    s++;
            }
        } else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc) {
            every = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--rate-every") == 0 && i + 1 < argc) {
            rate_every = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else if (strcmp(argv[i], "--smoke") == 0) {
            smoke = true;
        } else {
            fprintf(stderr, "usage: bench_restart [--sizes A,B,C] [--every N] [--rate-every N] "
                            "[--rounds R] [--dir DIR] [--json FILE] [--smoke]\n");
            return 2;
        }
    }
    if (smoke) {
        sizes[0] = 10000;
        sizes[1] = 60000;
        n_sizes = 2;
        every = 20000;
        rate_every = 10000;
        rounds = 1;
    }
    if (rounds < 1 || rounds > 15 || every < BATCH || rate_every < BATCH) {
        fprintf(stderr, "bench_restart: --rounds 1..15, --every and --rate-every >= %d\n", BATCH);
        return 2;
    }
    snprintf(base, sizeof base, "%s/ch-bench-restart-%d", dir ? dir : "/tmp", (int)getpid());
    FILE *js = json ? fopen(json, "w") : NULL;
    if (js != NULL)
        fprintf(js, "{\"bench\":\"restart\",\"every\":%" PRIu64 ",\"rows\":[", every);

    /* the commit rate with and without snapshots, same flow, same run */
    uint64_t rate_n = smoke ? 50000 : 1000000;
    snap_cost none = {0}, some = {0};
    flow *f;
    double r_none = history(base, rate_n, 0, &none, &f);
    close_flow(f);
    double r_some = history(base, rate_n, rate_every, &some, &f);
    close_flow(f);
    wipe(base);

    printf("## Restart time against history (engine + store as chd restarts; every %" PRIu64
           " commands a snapshot)\n\n",
           every);
    printf("| commands | accounts | resting orders | positions | fills | store MB | full replay "
           "s | kill -9: newest snapshot s (replayed) | worst kill -9: older snapshot s "
           "(replayed) | clean stop s | snapshot bytes | build ms | write ms |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    double base_full = 0, base_clean = 0, last_full = 0, last_newest = 0, last_clean = 0,
           last_older = 0;
    for (size_t k = 0; k < n_sizes; k++) {
        snap_cost sc = {0};
        double gen = history(base, sizes[k], every, &sc, &f);
        state s = state_of(f->e);
        uint64_t total = f->commands;
        /* the state every restart must reach: the running engine's */
        uint8_t *want_snap;
        size_t want_len;
        if (ch_engine_snapshot(f->e, &want_snap, &want_len) != CH_OK)
            return 3;
        uint8_t want[32];
        memcpy(want, want_snap + want_len - 32, 32);
        free(want_snap);
        ch_store *st = f->st;
        ch_engine *e = f->e;
        f->st = NULL;
        f->e = NULL;
        ch_store_close(st); /* kill -9 after the last commit: the log and the snapshots */
        uint64_t mb = dir_bytes(base) >> 20;
        uint64_t n_full, n_newest, n_older, n_clean;
        double t_full = median_restart(base, FULL, rounds, &n_full, want);
        double t_newest = median_restart(base, NEWEST, rounds, &n_newest, want);
        double t_older = sc.n >= 2 ? median_restart(base, OLDER, rounds, &n_older, want) : NAN;
        /* a clean stop: chd writes a snapshot at the end */
        st = open_store(base, false);
        flow g = {.e = e, .st = st};
        snap_cost end = {0};
        snapshot(&g, &end);
        ch_store_close(st);
        ch_engine_destroy(e);
        double t_clean = median_restart(base, NEWEST, rounds, &n_clean, want);
        free(f);
        wipe(base);
        char older[64];
        if (isnan(t_older))
            snprintf(older, sizeof older, "n/a (one snapshot)");
        else
            snprintf(older, sizeof older, "%.3f (%" PRIu64 ")", t_older, n_older);
        printf("| %" PRIu64 " | %d | %u | %" PRIu64 " | %" PRIu64 " | %" PRIu64
               " | %.3f | %.3f (%" PRIu64 ") | %s | %.4f | %" PRIu64 " | %.1f | %.1f |\n",
               total, N_ACCT, s.open_orders, s.positions, s.trades, mb, t_full, t_newest, n_newest,
               older, t_clean, end.bytes, end.build_ms, end.put_ms);
        fflush(stdout);
        if (js != NULL)
            fprintf(js,
                    "%s{\"commands\":%" PRIu64
                    ",\"accounts\":%d,\"resting\":%u,\"positions\":%" PRIu64 ",\"fills\":%" PRIu64
                    ",\"store_mb\":%" PRIu64
                    ",\"full_s\":%.6f,\"newest_s\":%.6f,\"newest_replayed\":%" PRIu64
                    ",\"older_s\":%.6f,\"clean_s\":%.6f,\"snapshot_bytes\":%" PRIu64
                    ",\"build_ms\":%.3f,\"write_ms\":%.3f,\"write_cmds_per_s\":%.0f}",
                    k ? "," : "", total, N_ACCT, s.open_orders, s.positions, s.trades, mb, t_full,
                    t_newest, n_newest, isnan(t_older) ? -1.0 : t_older, t_clean, end.bytes,
                    end.build_ms, end.put_ms, gen);
        if (k == 0) {
            base_full = t_full;
            base_clean = t_clean;
        }
        last_full = t_full;
        last_newest = t_newest;
        last_older = t_older;
        last_clean = t_clean;
    }
    printf("\nLargest history against the smallest: full replay %.1fx, clean stop %.2fx, kill -9 "
           "(newest snapshot) %.2fx",
           last_full / base_full, last_clean / base_clean, last_newest / base_full);
    if (!isnan(last_older))
        printf(", worst kill -9 %.2fx", last_older / base_full);
    printf(" (the smallest history's restart is a full replay or, clean, its snapshot).\n");
    printf("\n## Commit rate while snapshots are written (%" PRIu64 " commands, batches of %d, "
           "nosync)\n\n",
           rate_n, BATCH);
    printf("| run | commands/s | snapshots | each: bytes | build ms | write ms | worst stall "
           "ms |\n|---|---:|---:|---:|---:|---:|---:|\n");
    printf("| no snapshot (baseline) | %.0f | 0 | - | - | - | - |\n", r_none);
    printf("| a snapshot every %" PRIu64 " | %.0f (%.2fx) | %" PRIu64 " | %" PRIu64
           " | %.2f | %.2f | %.1f |\n",
           rate_every, r_some, r_some / r_none, some.n, some.bytes,
           some.n ? some.build_ms / (double)some.n : 0, some.n ? some.put_ms / (double)some.n : 0,
           some.worst_ms);
    if (js != NULL) {
        fprintf(js,
                "],\"rate\":{\"commands\":%" PRIu64 ",\"every\":%" PRIu64
                ",\"none_per_s\":%.0f,\"with_per_s\":%.0f,\"snapshots\":%" PRIu64
                ",\"worst_stall_ms\":%.3f}}\n",
                rate_n, rate_every, r_none, r_some, some.n, some.worst_ms);
        fclose(js);
    }
    return 0;
}
