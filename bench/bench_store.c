/*
 * bench_store.c - committed orders per second through the store, in both
 * durability modes, next to raw LMDB measured by the same program in the
 * same run on the same disk:
 *   - raw commits/s: one 100-byte put per write transaction;
 *   - raw batched puts/s: 1,000 puts per transaction;
 *   - store: order commands logged and group-committed 1,000 per batch;
 *   - engine + store: the same orders applied by the engine (with their
 *     fills recorded) and committed, the durable order path.
 * Ratios: store orders/s over raw batched puts/s; sync batches/s over raw
 * sync commits/s (the group-commit rate the disk allows).
 *
 * Usage: bench_store [--seconds S] [--json FILE] [--smoke] [--dir DIR]
 */
#include <inttypes.h>
#include <lmdb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "ch/cli.h"
#include "ch/store.h"

static char base[256];

static void wipe(const char *d)
{
    bench_wipe("bench_store", d);
}

/* raw LMDB: puts per txn; returns commits/s and puts/s */
static void raw(const char *dir, bool nosync, int per_txn, double secs, double *commits,
                double *puts)
{
    wipe(dir);
    char mk[400];
    snprintf(mk, sizeof mk, "mkdir -p %s", dir);
    if (system(mk) != 0)
        return;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, (size_t)8 << 30);
    mdb_env_open(env, dir, nosync ? MDB_NOSYNC : 0, 0600);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    mdb_txn_commit(txn);
    uint8_t val[100];
    memset(val, 7, sizeof val);
    uint64_t key = 0, n_commits = 0;
    uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(secs * 1e9), t;
    do {
        mdb_txn_begin(env, NULL, 0, &txn);
        for (int i = 0; i < per_txn; i++) {
            uint8_t k[8];
            for (int b = 0; b < 8; b++)
                k[b] = (uint8_t)(key >> (56 - 8 * b));
            key++;
            MDB_val mk2 = {8, k}, mv = {sizeof val, val};
            mdb_put(txn, dbi, &mk2, &mv, MDB_APPEND);
        }
        mdb_txn_commit(txn);
        n_commits++;
        t = bench_now_ns();
    } while (t < end);
    double el = (double)(t - t0) / 1e9;
    *commits = (double)n_commits / el;
    *puts = (double)key / el;
    mdb_env_close(env);
    wipe(dir);
}

/* the engine's fills go into the batch being committed */
static void fill_sink(void *ctx, const ch_engine_event *ev)
{
    if (ev->type == CH_EE_FILL && ch_store_record_fill(ctx, &ev->fill) != CH_OK)
        exit(3);
}

/* orders through the store (optionally the engine too), batch of 1000 */
/* what chd writes into the client order id index for an order.new: its reply */
#define COID_REPLY                                                                                 \
    "{\"order_id\":%" PRIu64 ",\"status\":\"resting\",\"filled\":0,\"remaining\":2,"               \
    "\"fills\":[],\"seq\":%" PRIu64 "}"

/* the client order id index measured by a run with coids */
static uint64_t coid_entries, coid_bytes, coid_ids;

/* orders through the store (optionally the engine too, optionally each
 * submit with a client order id looked up then indexed), batch of 1000 */
static double store_run(const char *dir, ch_durability mode, bool with_engine, bool coids,
                        double secs, double *batches_per_s, uint64_t *fills_out)
{
    wipe(dir);
    ch_engine_config cfg;
    ch_engine_defaults(&cfg);
    cfg.max_accounts = 64;
    cfg.max_positions = 1 << 16;
    ch_store_config sc = {.dir = dir, .durability = mode, .map_size = (size_t)1 << 30};
    ch_store *st;
    if (ch_store_open(&sc, &cfg, false, &st) != CH_OK) {
        fprintf(stderr, "bench_store: %s\n", ch_store_open_error());
        exit(2);
    }
    ch_engine *e = ch_engine_create(&cfg);
    ch_engine_set_sink(e, fill_sink, st);
    ch_command c;
    memset(&c, 0, sizeof c);
    /* set-up */
    ch_time now;
    ch_date_to_time(2026, 11, 25, &now);
    c.type = CH_C_ADVANCE;
    c.time = now;
    ch_command_apply(e, &c, NULL);
    ch_store_log(st, &c, NULL);
    c.type = CH_C_UNDERLYING;
    c.underlying = (ch_underlying_config){
        .name = "BTC", .contract_size = 1, .min_price = 1, .max_price = 2000000};
    ch_tick_parse("0.5", 3, &c.underlying);
    ch_command_apply(e, &c, NULL);
    ch_store_log(st, &c, NULL);
    const char *syms[4] = {"BTC-25DEC26-100000-C", "BTC-25DEC26-100000-P", "BTC-25DEC26-110000-C",
                           "BTC-25DEC26-110000-P"};
    for (int i = 0; i < 4; i++) {
        memset(&c, 0, sizeof c);
        c.type = CH_C_LIST;
        strcpy(c.symbol, syms[i]);
        ch_command_apply(e, &c, NULL);
        ch_store_log(st, &c, NULL);
    }
    memset(&c, 0, sizeof c);
    c.type = CH_C_MARKET;
    c.market.index = 100000;
    c.market.rate = 0;
    c.market.funding_rate = NAN;
    c.market.perp = NAN;
    c.market.n_marks = 1;
    c.market.expiry[0] = now + 30 * INT64_C(86400) * CH_NS_PER_SEC + 8 * 3600 * CH_NS_PER_SEC;
    c.market.vol[0] = 0.5;
    ch_command_apply(e, &c, NULL);
    ch_store_log(st, &c, NULL);
    for (int a = 0; a < 32; a++) {
        memset(&c, 0, sizeof c);
        c.type = CH_C_ACCOUNT_OPEN;
        snprintf(c.name, sizeof c.name, "t%d", a);
        c.amount = INT64_C(1000000000) * CH_CASH_SCALE;
        ch_command_apply(e, &c, NULL);
        ch_store_log(st, &c, NULL);
    }
    ch_store_commit(st);
    uint64_t rng = 3, orders = 0, batches = 0;
    ch_order_id live[4096];
    uint32_t owner[4096];
    size_t nlive = 0;
    uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(secs * 1e9), t;
    do {
        for (int i = 0; i < 1000; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            unsigned u = (unsigned)(rng >> 33);
            ch_command_reset(&c, CH_C_SUBMIT); /* as chd makes a command per order */
            if (u % 10 < 5 || nlive == 0) {
                c.order.account.v = 3 + u % 32;
                c.order.instr.v = (u >> 5) % 4;
                c.order.side = (ch_side)((u >> 7) & 1);
                int64_t mid = c.order.instr.v < 2 ? 11400 : 5000;
                c.order.price =
                    mid + (c.order.side == CH_BUY ? -1 : 1) * (int64_t)(1 + (u >> 8) % 60);
                c.order.qty = 1 + (u >> 16) % 3;
            } else if (u % 10 < 9) {
                size_t k = (u >> 8) % nlive;
                ch_command_reset(&c, CH_C_CANCEL);
                c.account.v = owner[k];
                c.order_id = live[k];
                live[k] = live[--nlive];
                owner[k] = owner[nlive];
            } else {
                c.order.account.v = 3 + u % 32;
                c.order.instr.v = (u >> 5) % 4;
                c.order.side = (ch_side)((u >> 7) & 1);
                c.order.tif = CH_TIF_IOC;
                int64_t mid = c.order.instr.v < 2 ? 11400 : 5000;
                c.order.price = mid + (c.order.side == CH_BUY ? 200 : -200);
                c.order.qty = 1 + (u >> 16) % 3;
            }
            if (with_engine) {
                ch_command_result r;
                ch_command_apply(e, &c, &r);
                if (c.type == CH_C_SUBMIT && r.err == CH_OK && r.order.remaining > 0 &&
                    nlive < 4096) {
                    live[nlive] = r.order.id;
                    owner[nlive++] = c.order.account.v;
                }
            } else if (c.type == CH_C_SUBMIT && nlive < 4096) {
                live[nlive] = (ch_order_id){orders + 1};
                owner[nlive++] = c.order.account.v;
            }
            if (ch_store_log(st, &c, NULL) != CH_OK)
                exit(3);
            orders++;
            if (coids && c.type == CH_C_SUBMIT) {
                char key[64], reply[200], *old = NULL;
                snprintf(key, sizeof key,
                         "%u\x1f"
                         "cl-%" PRIu64,
                         c.order.account.v, orders);
                if (ch_store_get_coid(st, key, &old) != CH_OK || old != NULL)
                    exit(3); /* every id is new: a miss, as for chd's new orders */
                snprintf(reply, sizeof reply, COID_REPLY, orders, orders);
                if (ch_store_put_coid(st, key, reply) != CH_OK)
                    exit(3);
                coid_ids++;
            }
        }
        if (ch_store_commit(st) != CH_OK) {
            fprintf(stderr, "bench_store: commit failed: %s\n", ch_store_error(st));
            exit(3);
        }
        batches++;
        t = bench_now_ns();
    } while (t < end);
    double el = (double)(t - t0) / 1e9;
    ch_store_stats ss;
    ch_store_get_stats(st, &ss);
    *fills_out = ss.fills;
    *batches_per_s = (double)batches / el;
    if (coids)
        ch_store_coid_stat(st, &coid_entries, &coid_bytes);
    ch_store_close(st);
    ch_engine_destroy(e);
    wipe(dir);
    return (double)orders / el;
}

int main(int argc, char **argv)
{
    double secs = 2.0;
    const char *json = NULL;
    snprintf(base, sizeof base, "/tmp/ch-bench-store-%d", (int)getpid());
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            if (!ch_cli_double("bench_store", "--seconds", argv[++i], 0.01, 86400, &secs))
                return 2;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--smoke") == 0)
            secs = 0.2;
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            snprintf(base, sizeof base, "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--seconds S] [--json FILE] [--smoke] [--dir DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    char d[300];
    snprintf(d, sizeof d, "%s-raw", base);
    double rc_sync, rp1_sync, rc_nosync, rp1_nosync, rbc_sync, rbp_sync, rbc_nosync, rbp_nosync;
    raw(d, false, 1, secs, &rc_sync, &rp1_sync);
    raw(d, true, 1, secs, &rc_nosync, &rp1_nosync);
    raw(d, false, 1000, secs, &rbc_sync, &rbp_sync);
    raw(d, true, 1000, secs, &rbc_nosync, &rbp_nosync);
    snprintf(d, sizeof d, "%s-store", base);
    double bps[6];
    uint64_t fills[6];
    double s_sync = store_run(d, CH_DURABLE_SYNC, false, false, secs, &bps[0], &fills[0]);
    double s_nosync = store_run(d, CH_DURABLE_NOSYNC, false, false, secs, &bps[1], &fills[1]);
    double e_sync = store_run(d, CH_DURABLE_SYNC, true, false, secs, &bps[2], &fills[2]);
    double e_nosync = store_run(d, CH_DURABLE_NOSYNC, true, false, secs, &bps[3], &fills[3]);
    double c_nosync = store_run(d, CH_DURABLE_NOSYNC, true, true, secs, &bps[4], &fills[4]);

    char machine[300];
    bench_machine(machine, sizeof machine);
    printf("store benchmark: %.1f s per measurement, 100-byte raw values, batches of 1,000 "
           "orders\nmachine: %s, disk under %s\n\n",
           secs, machine, base);
    printf("| measure | sync | nosync |\n|---|---|---|\n");
    printf("| raw LMDB commits/s (1 put per commit) | %.0f | %.0f |\n", rc_sync, rc_nosync);
    printf("| raw LMDB puts/s (1,000 per commit) | %.0f | %.0f |\n", rbp_sync, rbp_nosync);
    printf("| store: orders committed/s (log only) | %.0f | %.0f |\n", s_sync, s_nosync);
    printf("| engine + store: orders applied and committed/s | %.0f | %.0f |\n", e_sync, e_nosync);
    printf("| engine + store + client order id index (every submit): orders/s | | %.0f |\n",
           c_nosync);
    printf("| store / raw batched puts | %.2f | %.2f |\n", s_sync / rbp_sync,
           s_nosync / rbp_nosync);
    printf("| sync group commits/s vs raw sync commits/s | %.0f / %.0f = %.2f | |\n", bps[0],
           rc_sync, bps[0] / rc_sync);
    printf("\n(engine + store runs recorded %" PRIu64 " and %" PRIu64 " fills)\n", fills[2],
           fills[3]);
    double per_id = coid_entries > 0 ? (double)coid_bytes / (double)coid_entries : 0;
    printf("client order id index: %" PRIu64 " ids, %" PRIu64 " bytes of pages = %.0f bytes per id "
           "(key ~12 bytes, reply %zu bytes; LMDB's B-tree pages, 4 KiB)\n",
           coid_entries, coid_bytes, per_id,
           strlen("{\"order_id\":1000000,\"status\":\"resting\","
                  "\"filled\":0,\"remaining\":2,\"fills\":[],"
                  "\"seq\":1000000}"));
    if (json != NULL) {
        FILE *f = bench_json_open(json);
        if (f == NULL)
            return 2;
        fprintf(f,
                "{\"bench\":\"store\",\"machine\":\"%s\",\"seconds\":%.2f,"
                "\"baseline\":{\"raw_commits_per_s\":{\"sync\":%.0f,\"nosync\":%.0f},"
                "\"raw_batched_puts_per_s\":{\"sync\":%.0f,\"nosync\":%.0f}},"
                "\"store_orders_per_s\":{\"sync\":%.0f,\"nosync\":%.0f},"
                "\"engine_store_orders_per_s\":{\"sync\":%.0f,\"nosync\":%.0f},"
                "\"ratio_store_to_raw_batched\":{\"sync\":%.3f,\"nosync\":%.3f},"
                "\"engine_store_coid_orders_per_s\":{\"nosync\":%.0f},"
                "\"coid_index\":{\"ids\":%" PRIu64 ",\"bytes\":%" PRIu64
                ",\"bytes_per_id\":%.1f}}\n",
                machine, secs, rc_sync, rc_nosync, rbp_sync, rbp_nosync, s_sync, s_nosync, e_sync,
                e_nosync, s_sync / rbp_sync, s_nosync / rbp_nosync, c_nosync, coid_entries,
                coid_bytes, per_id);
        fclose(f);
    }
    return 0;
}
