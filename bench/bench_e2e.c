/*
 * bench_e2e.c - orders per second end to end through chd over NNG, next to
 * raw NNG REQ/REP round trips measured by the same program in the same run,
 * with the same concurrency and message sizes.
 *
 *   baseline: an in-process REP echo server (asynchronous contexts that reply
 *             from the callback), N client threads each with a REQ socket
 *             sending a message the size of an order request;
 *   chd:      the daemon started by this program (nosync persistence, a
 *             temporary data directory), N client threads (libchclient)
 *             sending order.new requests, and order.batch requests of B
 *             orders.
 * Reported for 1, 8 and 32 clients over ipc:// and tcp://127.0.0.1: requests
 * and orders per second, latency p50/p99 per request.
 *
 * With --replicate: a nats-server (JetStream, file storage, loopback) is
 * started too, and over ipc:// chd runs twice in the same run, without and
 * with its replicated batch log (config `cluster`: every batch appended to
 * the shard's stream and acknowledged by JetStream before it is stored and
 * answered): orders/s and p50/p99 of order.new and of binary batches, and
 * the ratios.
 *
 * Usage: bench_e2e --chd PATH [--seconds S] [--batch B] [--json FILE] [--smoke]
 *                  [--replicate [--nats-servers 1|3]] [--single-only N] [--binary-only N]
 *                  [--json-batch-only N]
 * (--single-only N: only chd's order.new with N clients over ipc:// for S
 * seconds, chd's pid printed first: for a profiler attached to chd, e.g.
 * perf record -p PID, to see where the request path spends its time;
 * --binary-only N the same with binary batches of --batch orders,
 * --json-batch-only N with JSON order.batch requests)
 * (--nats-servers 3: three clustered nats-server, the stream with 3 replicas:
 * an append is acknowledged once two of them hold it)
 */
#include <fcntl.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "ch/cli.h"
#include "ch/client.h"
#include "ch/proto_bin.h"

extern char **environ;

static double g_secs = 1.5;
static int g_batch = 1000;

/* ---- the raw echo server ---- */
typedef struct echo {
    nng_aio *aio;
    nng_ctx ctx;
    int state;
} echo;

static void echo_cb(void *arg)
{
    echo *e = arg;
    if (nng_aio_result(e->aio) != 0) {
        if (e->state == 1)
            nng_msg_free(nng_aio_get_msg(e->aio));
        if (nng_aio_result(e->aio) == NNG_ECLOSED || nng_aio_result(e->aio) == NNG_ECANCELED)
            return;
        e->state = 0;
        nng_ctx_recv(e->ctx, e->aio);
        return;
    }
    if (e->state == 0) {
        e->state = 1;
        nng_aio_set_msg(e->aio, nng_aio_get_msg(e->aio));
        nng_ctx_send(e->ctx, e->aio);
    } else {
        e->state = 0;
        nng_ctx_recv(e->ctx, e->aio);
    }
}

typedef struct run {
    const char *url;
    const char *payload;
    size_t len; /* 0: strlen(payload) */
    bool raw;   /* raw REQ socket (baseline) or libchclient */
    int orders_per_request;
    uint64_t end_ns;
    /* results */
    uint64_t requests, errors;
    bench_lat lat;
} run;

static void *client_thread(void *arg)
{
    run *r = arg;
    nng_socket s;
    ch_client *c = NULL;
    if (r->raw) {
        nng_req0_open(&s);
        nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
        if (nng_dial(s, r->url, NULL, 0) != 0) {
            r->errors++;
            return NULL;
        }
    } else if (ch_client_open(r->url, 10000, &c) != 0) {
        r->errors++;
        return NULL;
    }
    while (bench_now_ns() < r->end_ns) {
        uint64_t t0 = bench_now_ns();
        int rv;
        if (r->raw) {
            rv = nng_send(s, (void *)(uintptr_t)r->payload, r->len, 0);
            char *buf = NULL;
            size_t sz = 0;
            if (rv == 0 && (rv = nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC)) == 0)
                nng_free(buf, sz);
        } else {
            char *reply = NULL;
            rv = ch_client_call(c, r->payload, r->len, &reply, NULL);
            if (rv == 0 && strncmp(reply, "{\"ok\":true", 10) != 0 &&
                !(reply[0] == 'C' && reply[1] == 'H' && reply[12] == 0 && reply[13] == 0))
                rv = -1;
            ch_client_free(reply);
        }
        uint64_t t1 = bench_now_ns();
        if (rv != 0) {
            r->errors++;
            continue;
        }
        r->requests++;
        bench_lat_add(&r->lat, t1 - t0);
    }
    if (r->raw)
        nng_close(s);
    else
        ch_client_close(c);
    return NULL;
}

typedef struct result {
    double req_per_s, orders_per_s, p50_us, p99_us;
    uint64_t errors;
} result;

static result measure_len(const char *url, const char *const *payloads, const size_t *lens,
                          int n_clients, bool raw, int orders_per_request);

static result measure(const char *url, const char *const *payloads, int n_clients, bool raw,
                      int orders_per_request)
{
    return measure_len(url, payloads, NULL, n_clients, raw, orders_per_request);
}

static result measure_len(const char *url, const char *const *payloads, const size_t *lens,
                          int n_clients, bool raw, int orders_per_request)
{
    pthread_t th[64];
    run runs[64];
    uint64_t start = bench_now_ns();
    for (int i = 0; i < n_clients; i++) {
        runs[i] = (run){.url = url,
                        .payload = payloads[i],
                        .len = lens != NULL ? lens[i] : strlen(payloads[i]),
                        .raw = raw,
                        .orders_per_request = orders_per_request,
                        .end_ns = start + (uint64_t)(g_secs * 1e9)};
        pthread_create(&th[i], NULL, client_thread, &runs[i]);
    }
    bench_lat all = {.name = "all"};
    uint64_t reqs = 0, errs = 0;
    for (int i = 0; i < n_clients; i++) {
        pthread_join(th[i], NULL);
        reqs += runs[i].requests;
        errs += runs[i].errors;
        for (size_t k = 0; k < runs[i].lat.n; k++)
            bench_lat_add(&all, runs[i].lat.v[k]);
        free(runs[i].lat.v);
    }
    double el = (double)(bench_now_ns() - start) / 1e9;
    bench_lat_sort(&all);
    result res = {.req_per_s = (double)reqs / el,
                  .orders_per_s = (double)reqs * orders_per_request / el,
                  .p50_us = bench_pct(&all, 0.5) / 1e3,
                  .p99_us = bench_pct(&all, 0.99) / 1e3,
                  .errors = errs};
    free(all.v);
    return res;
}

static char *order_json(const char *acct, const char *sym, int k)
{
    char *b = malloc(320);
    snprintf(b, 320,
             "{\"op\":\"order.new\",\"account\":\"%s\",\"symbol\":\"%s\",\"side\":\"%s\","
             "\"qty\":1,\"price\":%d.5,\"tif\":\"ioc\"}",
             acct, sym, k % 2 ? "buy" : "sell", k % 2 ? 50 : 90000);
    return b;
}

static char *batch_json(const char *acct, const char *sym, int n)
{
    size_t cap = (size_t)n * 120 + 256, o = 0;
    char *b = malloc(cap);
    o += (size_t)snprintf(b + o, cap - o, "{\"op\":\"order.batch\",\"account\":\"%s\",\"orders\":[",
                          acct);
    for (int k = 0; k < n; k++)
        o += (size_t)snprintf(b + o, cap - o,
                              "%s{\"symbol\":\"%s\",\"side\":\"%s\",\"qty\":1,\"price\":%d.5,"
                              "\"tif\":\"ioc\"}",
                              k ? "," : "", sym, k % 2 ? "buy" : "sell", k % 2 ? 50 : 90000);
    snprintf(b + o, cap - o, "]}");
    return b;
}

/* the same batch in the binary encoding (instrument id 0) */
static char *batch_bin(const char *acct, int n, size_t *len)
{
    ch_bin_order *o = calloc(CH_BIN_MAX_ORDERS, sizeof *o);
    ch_bin_batch b = {.count = (uint32_t)n, .orders = o};
    snprintf(b.account, sizeof b.account, "%s", acct);
    for (int k = 0; k < n; k++)
        o[k] = (ch_bin_order){.instr = 0,
                              .side = (uint8_t)(k % 2 ? 0 : 1),
                              .tif = 1,
                              .qty = 1,
                              .price = k % 2 ? 101 : 180001};
    size_t cap = 64 + (size_t)n * 40;
    char *buf = malloc(cap);
    *len = ch_bin_batch_encode(&b, (uint8_t *)buf, cap);
    free(o);
    return buf;
}

static int g_replicas = 1;

/* The first listed symbol of the chd at @p req into @p out ("" if none). */
static bool first_symbol(const char *req, char *out, size_t cap)
{
    out[0] = '\0';
    ch_client *c;
    if (ch_client_open(req, 5000, &c) != 0)
        return false;
    char *r = NULL;
    const char *iq = "{\"op\":\"instruments\"}";
    ch_client_call(c, iq, strlen(iq), &r, NULL);
    const char *p = r ? strstr(r, "\"symbol\":\"") : NULL;
    if (p != NULL)
        snprintf(out, cap, "%.*s", (int)strcspn(p + 10, "\""), p + 10);
    ch_client_free(r);
    ch_client_close(c);
    return out[0] != '\0';
}

static pid_t start_chd(const char *chd, const char *req, const char *pub, const char *dir,
                       const char *cluster)
{
    /* capacity is measured, not policy: no keys (--no-auth) and no rate or
     * open-order limits, which a production chd keeps on */
    char cfg[160];
    snprintf(cfg, sizeof cfg, "%s.json", dir);
    FILE *f = fopen(cfg, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "{\"conn_rate\":0,\"account_rate\":0,\"max_open_orders\":0");
    if (cluster != NULL) /* a shard of its own per run */
        fprintf(f, ",\"cluster\":\"%s\",\"shard\":\"bench%d\",\"cluster_replicas\":%d", cluster,
                (int)getpid(), g_replicas);
    fprintf(f, "}\n");
    fclose(f);
    char *argv[] = {(char *)(uintptr_t)chd,
                    "--req",
                    (char *)(uintptr_t)req,
                    "--pub",
                    (char *)(uintptr_t)pub,
                    "--data",
                    (char *)(uintptr_t)dir,
                    "--durability",
                    "nosync",
                    "--log-level",
                    "warn",
                    "--no-auth",
                    "--config",
                    cfg,
                    NULL};
    pid_t pid;
    if (posix_spawn(&pid, chd, NULL, NULL, argv, environ) != 0)
        return -1;
    for (int i = 0; i < 100; i++) { /* until it answers */
        ch_client *c;
        if (ch_client_open(req, 500, &c) == 0) {
            char *r = NULL;
            const char *hq = "{\"op\":\"hello\"}";
            int rv = ch_client_call(c, hq, strlen(hq), &r, NULL);
            ch_client_free(r);
            ch_client_close(c);
            if (rv == 0)
                return pid;
        }
        nanosleep(&(struct timespec){0, 50000000L}, NULL);
    }
    return -1;
}

static void call_ok(const char *url, const char *req)
{
    ch_client *c;
    if (ch_client_open(url, 5000, &c) != 0)
        return;
    char *r = NULL;
    ch_client_call(c, req, strlen(req), &r, NULL);
    ch_client_free(r);
    ch_client_close(c);
}

/* Funded account b<i> at the chd of @p req; its name into @p acct. */
static void open_account(const char *req, int i, char *acct, size_t cap)
{
    char open_req[160];
    snprintf(acct, cap, "b%d", i);
    snprintf(open_req, sizeof open_req,
             "{\"op\":\"account.open\",\"account\":\"%s\",\"cash\":100000000000}", acct);
    call_ok(req, open_req);
}

/* ---- replication on and off (--replicate) ---- */

/* A chd with its accounts and requests; the measurements of one setting. */
typedef struct rep_run {
    result single[3], bin[3];
} rep_run;

/* nats-server number i of n (n 3: clustered on loopback, routes to the others). */
static pid_t start_nats(const char *dir, int port, int i, int n)
{
    char ports[16], sd[160], name[16], cl[64], routes[160] = "";
    snprintf(ports, sizeof ports, "%d", port + i);
    snprintf(sd, sizeof sd, "%s/n%d", dir, i);
    snprintf(name, sizeof name, "n%d", i);
    snprintf(cl, sizeof cl, "nats://127.0.0.1:%d", port + 100 + i);
    for (int j = 0; j < n; j++)
        if (j != i)
            snprintf(routes + strlen(routes), sizeof routes - strlen(routes),
                     "%snats://127.0.0.1:%d", routes[0] ? "," : "", port + 100 + j);
    char *one[] = {"nats-server", "-js", "-sd", sd, "-a", "127.0.0.1", "-p", ports, NULL};
    char *three[] = {
        "nats-server",    "-js", "-sd",       sd, "-a",       "127.0.0.1", "-p", ports, "-n", name,
        "--cluster_name", "ch",  "--cluster", cl, "--routes", routes,      NULL};
    char **argv = n > 1 ? three : one;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid, "nats-server", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static bool run_setting(const char *chd, const char *cluster, const int *conc, int n_conc,
                        rep_run *out)
{
    char dir[128], req[160], pub[160];
    snprintf(dir, sizeof dir, "/tmp/ch-bench-rep-%d-%s", (int)getpid(), cluster ? "on" : "off");
    snprintf(req, sizeof req, "ipc://%s.req", dir);
    snprintf(pub, sizeof pub, "ipc://%s.pub", dir);
    pid_t pid = start_chd(chd, req, pub, dir, cluster);
    if (pid < 0)
        return false;
    char sym[64];
    first_symbol(req, sym, sizeof sym);
    char *orders[64], *bins[64];
    size_t bin_lens[64];
    for (int i = 0; i < 32; i++) {
        char acct[16];
        open_account(req, i, acct, sizeof acct);
        orders[i] = order_json(acct, sym, i);
        bins[i] = batch_bin(acct, g_batch, &bin_lens[i]);
    }
    bool ok = sym[0] != '\0';
    for (int k = 0; ok && k < n_conc; k++) {
        out->single[k] = measure(req, (const char *const *)orders, conc[k], false, 1);
        out->bin[k] =
            measure_len(req, (const char *const *)bins, bin_lens, conc[k], false, g_batch);
        ok = out->single[k].errors == 0 && out->bin[k].errors == 0;
    }
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    for (int i = 0; i < 32; i++) {
        free(orders[i]);
        free(bins[i]);
    }
    char rm[720];
    snprintf(rm, sizeof rm, "rm -rf %s %s.req %s.pub %s.json", dir, dir, dir, dir);
    if (system(rm) != 0)
        fprintf(stderr, "bench_e2e: could not remove %s\n", dir);
    return ok;
}

static int g_servers = 1;

static int replicate_bench(const char *chd)
{
    char ndir[128], url[256] = "";
    snprintf(ndir, sizeof ndir, "/tmp/ch-bench-nats-%d", (int)getpid());
    int port = 24000 + (int)(getpid() % 20000);
    pid_t np[3];
    for (int i = 0; i < g_servers; i++) {
        snprintf(url + strlen(url), sizeof url - strlen(url), "%snats://127.0.0.1:%d", i ? "," : "",
                 port + i);
        if ((np[i] = start_nats(ndir, port, i, g_servers)) < 0) {
            fprintf(stderr,
                    "bench_e2e: --replicate needs nats-server (apt-get install nats-server)\n");
            return 1;
        }
    }
    /* JetStream answers once its meta leader is elected (clustered: seconds) */
    nanosleep(&(struct timespec){g_servers > 1 ? 6 : 0, 500000000L}, NULL);
    g_replicas = g_servers;
    const int conc[3] = {1, 8, 32};
    rep_run off, on;
    bool ok = run_setting(chd, NULL, conc, 3, &off) && run_setting(chd, url, conc, 3, &on);
    for (int i = 0; i < g_servers; i++) {
        int st;
        kill(np[i], SIGTERM);
        waitpid(np[i], &st, 0);
    }
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf %s", ndir);
    if (system(rm) != 0)
        fprintf(stderr, "bench_e2e: could not remove %s\n", ndir);
    if (!ok) {
        fprintf(stderr, "bench_e2e: a replication run failed\n");
        return 1;
    }
    printf("replication: chd over ipc://, nosync, without and with its replicated batch log "
           "(%s, JetStream file storage, loopback), same run, %.1f s each\n\n"
           "| clients | order.new orders/s off / on (ratio) | p50 / p99 us off | p50 / p99 us on "
           "| binary batch of %d orders/s off / on (ratio) | p50 / p99 ms off | p50 / p99 ms on "
           "|\n|---|---|---|---|---|---|---|\n",
           g_servers > 1 ? "three nats-server, replicas 3" : "one nats-server", g_secs, g_batch);
    for (int k = 0; k < 3; k++)
        printf("| %d | %.0f / %.0f (%.2f) | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f (%.2f) | "
               "%.1f / %.1f | %.1f / %.1f |\n",
               conc[k], off.single[k].orders_per_s, on.single[k].orders_per_s,
               on.single[k].orders_per_s / off.single[k].orders_per_s, off.single[k].p50_us,
               off.single[k].p99_us, on.single[k].p50_us, on.single[k].p99_us,
               off.bin[k].orders_per_s, on.bin[k].orders_per_s,
               on.bin[k].orders_per_s / off.bin[k].orders_per_s, off.bin[k].p50_us / 1e3,
               off.bin[k].p99_us / 1e3, on.bin[k].p50_us / 1e3, on.bin[k].p99_us / 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    const char *chd = NULL, *json = NULL;
    int smoke = 0, replicate = 0, single_only = 0, binary_only = 0, json_batch_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--chd") == 0 && i + 1 < argc)
            chd = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            if (!ch_cli_double("bench_e2e", "--seconds", argv[++i], 0.01, 86400, &g_secs))
                return 2;
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            long v;
            if (!ch_cli_long("bench_e2e", "--batch", argv[++i], 1, 5000, &v))
                return 2;
            g_batch = (int)v;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--replicate") == 0)
            replicate = 1;
        else if (strcmp(argv[i], "--single-only") == 0 && i + 1 < argc) {
            long v;
            if (!ch_cli_long("bench_e2e", "--single-only", argv[++i], 1, 32, &v))
                return 2;
            single_only = (int)v;
        } else if (strcmp(argv[i], "--binary-only") == 0 && i + 1 < argc) {
            long v;
            if (!ch_cli_long("bench_e2e", "--binary-only", argv[++i], 1, 32, &v))
                return 2;
            binary_only = (int)v;
        } else if (strcmp(argv[i], "--json-batch-only") == 0 && i + 1 < argc) {
            long v;
            if (!ch_cli_long("bench_e2e", "--json-batch-only", argv[++i], 1, 32, &v))
                return 2;
            json_batch_only = (int)v;
        } else if (strcmp(argv[i], "--nats-servers") == 0 && i + 1 < argc) {
            long v;
            if (!ch_cli_long("bench_e2e", "--nats-servers", argv[++i], 1, 3, &v) || v == 2) {
                fprintf(stderr, "bench_e2e: --nats-servers 1 or 3\n");
                return 2;
            }
            g_servers = (int)v;
        } else {
            fprintf(stderr,
                    "usage: %s --chd PATH [--seconds S] [--batch B] [--json FILE] [--smoke] "
                    "[--replicate [--nats-servers 1|3]] [--single-only N]\n"
                    "          [--binary-only N] [--json-batch-only N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (chd == NULL) {
        fprintf(stderr, "bench_e2e: --chd PATH is required\n");
        return 2;
    }
    if (smoke) {
        g_secs = 0.2;
        g_batch = 50;
    }
    signal(SIGPIPE, SIG_IGN);
    if (replicate)
        return replicate_bench(chd);
    const int conc[] = {1, 8, 32};
    const int n_conc = smoke ? 2 : 3;
    char machine[300];
    bench_machine(machine, sizeof machine);
    FILE *jf = json ? fopen(json, "w") : NULL;
    if (jf)
        fprintf(jf,
                "{\"bench\":\"e2e\",\"machine\":\"%s\",\"seconds\":%.2f,\"batch\":%d,\"runs\":[",
                machine, g_secs, g_batch);
    printf("end-to-end benchmark: %.1f s per measurement, chd with nosync persistence, "
           "order.batch of %d\nmachine: %s\n\n",
           g_secs, g_batch, machine);
    printf("| transport | clients | raw NNG round trips/s | chd order.new orders/s (ratio) | "
           "p50 / p99 us | chd JSON batch orders/s | p50 / p99 ms | chd binary batch orders/s | "
           "p50 / p99 ms |\n|---|---|---|---|---|---|---|---|---|\n");
    int first = 1, failed = 0;
    for (int t = 0; t < 2; t++) {
        char dir[128], req[160], pub[160], raw_url[160];
        snprintf(dir, sizeof dir, "/tmp/ch-bench-e2e-%d-%d", (int)getpid(), t);
        if (t == 0) {
            snprintf(req, sizeof req, "ipc://%s.req", dir);
            snprintf(pub, sizeof pub, "ipc://%s.pub", dir);
            snprintf(raw_url, sizeof raw_url, "ipc://%s.raw", dir);
        } else {
            int base = 17000 + (int)(getpid() % 20000);
            snprintf(req, sizeof req, "tcp://127.0.0.1:%d", base);
            snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", base + 1);
            snprintf(raw_url, sizeof raw_url, "tcp://127.0.0.1:%d", base + 2);
        }
        /* the raw echo server */
        nng_socket rep;
        nng_rep0_open(&rep);
        if (nng_listen(rep, raw_url, NULL, 0) != 0) {
            fprintf(stderr, "bench_e2e: cannot listen on %s\n", raw_url);
            return 1;
        }
        echo ec[64];
        for (int i = 0; i < 64; i++) {
            ec[i].state = 0;
            nng_aio_alloc(&ec[i].aio, echo_cb, &ec[i]);
            nng_ctx_open(&ec[i].ctx, rep);
            nng_ctx_recv(ec[i].ctx, ec[i].aio);
        }
        pid_t pid = start_chd(chd, req, pub, dir, NULL);
        if (pid < 0) {
            fprintf(stderr, "bench_e2e: chd did not start\n");
            return 1;
        }
        /* 32 funded accounts; orders far from the market so they do not rest
         * (IOC) and the run measures the request path, not a growing book */
        char symbuf[64];
        const char *sym = first_symbol(req, symbuf, sizeof symbuf) ? symbuf : NULL;
        if (sym == NULL) {
            fprintf(stderr, "bench_e2e: no instruments\n");
            return 1;
        }
        char *orders[64], *batches[64], *bins[64];
        size_t bin_lens[64];
        for (int i = 0; i < 32; i++) {
            char acct[16];
            open_account(req, i, acct, sizeof acct);
            orders[i] = order_json(acct, sym, i);
            batches[i] = batch_json(acct, sym, g_batch);
            bins[i] = batch_bin(acct, g_batch, &bin_lens[i]);
        }
        if (single_only || binary_only || json_batch_only) { /* one measurement, for a profiler */
            printf("chd pid %d\n", (int)pid);
            fflush(stdout);
            result one;
            const char *what;
            int n;
            if (single_only) {
                one = measure(req, (const char *const *)orders, n = single_only, false, 1);
                what = "order.new";
            } else if (json_batch_only) {
                one =
                    measure(req, (const char *const *)batches, n = json_batch_only, false, g_batch);
                what = "JSON batches";
            } else {
                one = measure_len(req, (const char *const *)bins, bin_lens, n = binary_only, false,
                                  g_batch);
                what = "binary batches";
            }
            printf("%s, %d clients over ipc: %.0f orders/s, p50 %.1f us\n", what, n,
                   one.orders_per_s, one.p50_us);
            kill(pid, SIGTERM);
            int st;
            waitpid(pid, &st, 0);
            return one.errors > 0;
        }
        for (int k = 0; k < n_conc; k++) {
            int n = conc[k];
            result base = measure(raw_url, (const char *const *)orders, n, true, 1);
            result single = measure(req, (const char *const *)orders, n, false, 1);
            result bat = measure(req, (const char *const *)batches, n, false, g_batch);
            result bb = measure_len(req, (const char *const *)bins, bin_lens, n, false, g_batch);
            failed |= single.errors > 0 || bat.errors > 0 || base.errors > 0 || bb.errors > 0;
            printf("| %s | %d | %.0f | %.0f (%.2f) | %.0f / %.0f | %.0f | %.1f / %.1f | %.0f | "
                   "%.1f / %.1f |\n",
                   t == 0 ? "ipc" : "tcp", n, base.req_per_s, single.orders_per_s,
                   single.orders_per_s / base.req_per_s, single.p50_us, single.p99_us,
                   bat.orders_per_s, bat.p50_us / 1e3, bat.p99_us / 1e3, bb.orders_per_s,
                   bb.p50_us / 1e3, bb.p99_us / 1e3);
            fflush(stdout);
            if (jf)
                fprintf(
                    jf,
                    "%s{\"transport\":\"%s\",\"clients\":%d,\"baseline_raw_rtt_per_s\":%.0f,"
                    "\"single_orders_per_s\":%.0f,\"single_p50_us\":%.1f,\"single_p99_us\":%.1f,"
                    "\"batch_orders_per_s\":%.0f,\"batch_p50_ms\":%.2f,\"batch_p99_ms\":%.2f,"
                    "\"ratio_single_to_raw\":%.3f,\"binary_batch_orders_per_s\":%.0f}",
                    first ? "" : ",", t == 0 ? "ipc" : "tcp", n, base.req_per_s,
                    single.orders_per_s, single.p50_us, single.p99_us, bat.orders_per_s,
                    bat.p50_us / 1e3, bat.p99_us / 1e3, single.orders_per_s / base.req_per_s,
                    bb.orders_per_s);
            first = 0;
        }
        kill(pid, SIGTERM);
        int st;
        waitpid(pid, &st, 0);
        for (int i = 0; i < 64; i++) {
            nng_aio_stop(ec[i].aio);
        }
        for (int i = 0; i < 64; i++) {
            nng_ctx_close(ec[i].ctx);
            nng_aio_free(ec[i].aio);
        }
        nng_close(rep);
        for (int i = 0; i < 32; i++) {
            free(orders[i]);
            free(batches[i]);
            free(bins[i]);
        }
        char rm[720];
        snprintf(rm, sizeof rm, "rm -rf %s %s.req %s.pub %s.raw %s.json", dir, dir, dir, dir, dir);
        if (system(rm) != 0)
            fprintf(stderr, "bench_e2e: could not remove %s\n", dir);
    }
    if (jf) {
        fprintf(jf, "]}\n");
        fclose(jf);
    }
    return failed ? 1 : 0;
}
