/*
 * test_alloc.c - allocation failure, at every allocation site a scenario
 * reaches (engine/core/alloc.h): the engine's creation, listing, marks,
 * accounts, the pool, orders by every source, the consistency check and the
 * reports; the hedger and its simulated venue; the command log (open, log,
 * commit, replay into a fresh engine); the protocol's JSON and binary
 * codecs (cJSON's own allocations routed through the same wrapper).
 *
 * The sweep runs the scenario once per allocation: run n makes the n-th
 * allocation fail. Each run must report that failure as an error of the
 * call that met it (none swallows it), leave the engine consistent
 * (ch_engine_check), and free everything; leaks are LeakSanitizer's to find
 * in the sanitizer build, where this test runs too. The sweep ends with the
 * first run that reaches no n-th allocation: about 150 runs, under a second
 * (8 s under ASan), so CI runs the whole sweep in both builds.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/core/alloc.h"
#include "ch/command.h"
#include "ch/engine.h"
#include "ch/hedge.h"
#include "ch/proto.h"
#include "ch/proto_msg.h"
#include "ch/store.h"
#include "ch_check.h"
#include "fixtures.h"

#define USD(x) ((int64_t)((x)*CH_CASH_SCALE))
#define DAY    (INT64_C(86400) * CH_NS_PER_SEC)

static void *hook_malloc(size_t n)
{
    return ch_malloc(n);
}

/* One run. Returns false at the first error, after checking that it came
 * from the injected failure and that what remains is consistent. */
typedef struct run {
    ch_engine *e, *replayed;
    ch_store *st;
    ch_hedger *h;
    char dir[64];
    const char *where; /* the step that failed */
} run;

static bool failed_ok(run *r, ch_err e, const char *where)
{
    if (e == CH_OK)
        return true;
    r->where = where;
    ck_assert_msg(ch_alloc_failed(), "%s failed (%s) without an injected allocation failure", where,
                  ch_strerror(e));
    return false;
}

static bool engine_ok(run *r, ch_err e, const char *where)
{
    if (e == CH_OK)
        return true;
    failed_ok(r, e, where);
    if (r->e != NULL) { /* consistent after the failure (the check allocates: no injection) */
        ch_alloc_fail_at(-1);
        ck_assert_msg(ch_engine_check(r->e) == CH_OK, "inconsistent after %s failed", where);
    }
    return false;
}

/* apply a command to the engine and log it */
static bool step(run *r, const ch_command *c, const char *where)
{
    ch_command_result res;
    ch_err e = ch_command_apply(r->e, c, &res);
    if (e == CH_ENOMEM || (e != CH_OK && ch_alloc_failed()))
        return engine_ok(r, e, where);
    return failed_ok(r, ch_store_log(r->st, c, NULL), "ch_store_log");
}

static bool scenario(run *r)
{
    ch_engine_config cfg = ch_test_engine_config(16, 16, 256, 256);
    r->e = ch_engine_create(&cfg);
    if (r->e == NULL)
        return failed_ok(r, CH_ENOMEM, "ch_engine_create");
    ch_store_config sc = {.dir = r->dir, .durability = CH_DURABLE_NOSYNC};
    if (!failed_ok(r, ch_store_open(&sc, &cfg, false, &r->st), "ch_store_open"))
        return false;
    ch_time t0;
    ch_date_to_time(2026, 11, 25, &t0);
    ch_command c = ch_command_make(CH_C_ADVANCE);
    c.time = t0;
    if (!step(r, &c, "advance"))
        return false;
    c = ch_command_make(CH_C_UNDERLYING);
    c.underlying = ch_test_btc();
    if (!step(r, &c, "underlying"))
        return false;
    const char *syms[] = {"BTC-25DEC26-100000-C", "BTC-25DEC26-100000-P", "BTC-25DEC26-90000-C",
                          "BTC-25DEC26-90000-P", "BTC-PERP"};
    for (int i = 0; i < 5; i++) {
        c = ch_command_make(CH_C_LIST);
        strcpy(c.symbol, syms[i]);
        if (!step(r, &c, "list"))
            return false;
    }
    c = ch_command_make(CH_C_MARKET);
    c.market.index = 100000;
    c.market.rate = 0.02;
    c.market.funding_rate = 0.0001;
    c.market.perp = 100020;
    c.market.n_marks = 2;
    ch_time exp1;
    ch_date_to_time(2026, 12, 25, &exp1);
    c.market.expiry[0] = c.market.expiry[1] = exp1 + 8 * 3600 * CH_NS_PER_SEC;
    c.market.strike[0] = 90000;
    c.market.vol[0] = 0.6;
    c.market.strike[1] = 100000;
    c.market.vol[1] = 0.5;
    if (!step(r, &c, "market"))
        return false;
    const char *names[] = {"alice", "bob", "lp"};
    for (int i = 0; i < 3; i++) {
        c = ch_command_make(CH_C_ACCOUNT_OPEN);
        strcpy(c.name, names[i]);
        c.amount = USD(5e6);
        if (!step(r, &c, "account.open"))
            return false;
    }
    c = ch_command_make(CH_C_POOL_DEPOSIT);
    c.account.v = 5; /* lp */
    c.amount = USD(3e6);
    if (!step(r, &c, "pool.deposit"))
        return false;
    /* a resting put, a call against it (parity), a call from the pool, a
     * book match */
    struct {
        uint32_t acct, instr;
        ch_side side;
        double px;
        ch_tif tif;
    } orders[] = {{4, 1, CH_SELL, 5000, CH_TIF_GTC},
                  {3, 0, CH_BUY, 20000, CH_TIF_IOC},
                  {3, 2, CH_BUY, 30000, CH_TIF_IOC},
                  {4, 2, CH_SELL, 12000, CH_TIF_GTC},
                  {3, 2, CH_BUY, 12000, CH_TIF_IOC}};
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
        c = ch_command_make(CH_C_SUBMIT);
        c.order.account.v = orders[i].acct;
        c.order.instr.v = orders[i].instr;
        c.order.side = orders[i].side;
        c.order.tif = orders[i].tif;
        c.order.price = (int64_t)llround(orders[i].px / 0.5);
        c.order.qty = 2;
        if (!step(r, &c, "submit"))
            return false;
    }
    if (!engine_ok(r, ch_engine_check(r->e), "ch_engine_check"))
        return false;
    ch_netting_bucket b[8];
    ck_assert_uint_eq(ch_engine_netting_buckets(r->e, 0, b, 8), 2); /* no allocation */
    double g, years;
    if (!engine_ok(r, ch_engine_gamma_horizon(r->e, 0, &g, &years), "gamma_horizon"))
        return false;
    /* the hedger and the simulated venue: the residual's delta out, the
     * fill booked into the engine as a logged command */
    ch_hedge_policy pol;
    ch_hedge_policy_defaults(&pol);
    pol.kind = CH_HEDGE_EVERY_BATCH;
    ch_perp_venue v;
    ch_perp_venue_defaults(&v);
    ch_hedge_adapter ad;
    if (!failed_ok(r, ch_hedge_adapter_sim(&v, &ad), "ch_hedge_adapter_sim"))
        return false;
    r->h = ch_hedger_create(&pol, ad);
    if (r->h == NULL) {
        ad.ops->destroy(ad.impl);
        return failed_ok(r, CH_ENOMEM, "ch_hedger_create");
    }
    ch_hedger_mark(r->h, t0, 100000, 100020, 0.0001);
    ch_hedge_inputs in = {
        .net_delta = ch_engine_house_delta(r->e, 0), .now = t0, .spot = 100000, .vol = 0.5};
    double sent = 0;
    if (!failed_ok(r, ch_hedger_on_batch(r->h, &in, 100020, &sent), "ch_hedger_on_batch"))
        return false;
    ch_hedge_exec x = {.qty = sent, .price = 100020, .fee = fabs(sent) * 100020 * 5e-4};
    c = ch_command_make(CH_C_HEDGE);
    c.hedge.qty = x.qty;
    c.hedge.price = x.price;
    c.hedge.fee = x.fee;
    if (sent != 0 && !step(r, &c, "hedge fill"))
        return false;
    if (!failed_ok(r, ch_store_commit(r->st), "ch_store_commit"))
        return false;
    /* replay into a fresh engine */
    ch_store_close(r->st);
    r->st = NULL;
    if (!failed_ok(r, ch_store_open(&sc, &cfg, false, &r->st), "ch_store_open (again)"))
        return false;
    r->replayed = ch_engine_create(&cfg);
    if (r->replayed == NULL)
        return failed_ok(r, CH_ENOMEM, "ch_engine_create (replay)");
    uint64_t n = 0;
    ch_err e = ch_store_replay(r->st, r->replayed, NULL, NULL, &n);
    if (e != CH_OK)
        return failed_ok(r, e, "ch_store_replay");
    ck_assert_double_eq_tol(ch_engine_house_delta(r->replayed, 0), ch_engine_house_delta(r->e, 0),
                            1e-9);
    /* the protocol: a JSON request, its binary form and back */
    static const char req[] = "{\"op\":\"order.new\",\"id\":7,\"account\":\"alice\","
                              "\"symbol\":\"BTC-25DEC26-100000-C\",\"side\":\"buy\",\"qty\":2,"
                              "\"price\":\"5600\",\"client_order_id\":\"a-1\"}";
    const char *why = NULL;
    cJSON *j = ch_proto_parse(req, sizeof req - 1, 4096, &why);
    if (j == NULL)
        return failed_ok(r, CH_EBADREQ, "ch_proto_parse");
    const ch_msg *m = ch_msg_find("order.new");
    size_t len = 0;
    uint8_t *bin = ch_msg_bin_encode_request(m, 7, j, &len);
    cJSON_Delete(j);
    if (bin == NULL)
        return failed_ok(r, CH_EBADREQ, "ch_msg_bin_encode_request");
    const ch_msg *m2;
    uint64_t id;
    cJSON *back = NULL;
    e = ch_msg_bin_decode_request(bin, len, &m2, &id, &back);
    free(bin);
    if (e != CH_OK)
        return failed_ok(r, e, "ch_msg_bin_decode_request");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(back, "client_order_id")->valuestring, "a-1");
    cJSON_Delete(back);
    return true;
}

static void finish(run *r)
{
    ch_alloc_fail_at(-1);
    ch_hedger_destroy(r->h);
    if (r->st != NULL)
        ch_store_close(r->st);
    ch_engine_destroy(r->e);
    ch_engine_destroy(r->replayed);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(every_allocation_failure_is_reported_and_leaves_nothing_behind)
{
    cJSON_Hooks hooks = {.malloc_fn = hook_malloc, .free_fn = free};
    cJSON_InitHooks(&hooks);
    /* the reference run: no failure, everything succeeds */
    run ref = {0};
    snprintf(ref.dir, sizeof ref.dir, "alloc-test-%d-ref", (int)getpid());
    ck_assert(scenario(&ref));
    finish(&ref);
    long runs = 0, sites = 0;
    for (long n = 0;; n++) {
        run r = {0};
        snprintf(r.dir, sizeof r.dir, "alloc-test-%d-%ld", (int)getpid(), n);
        ch_alloc_fail_at(n);
        bool ok = scenario(&r);
        bool failed = ch_alloc_failed();
        runs++;
        if (!failed) {
            ck_assert_msg(ok, "run %ld failed at %s without an injected failure", n, r.where);
            finish(&r);
            sites = n;
            break;
        }
        ck_assert_msg(!ok, "allocation %ld failed and the scenario went on as if not", n);
        finish(&r);
    }
    fprintf(stderr, "alloc: %ld runs over %ld allocations, each failure reported\n", runs, sites);
    ck_assert_int_gt(sites, 50);
    cJSON_InitHooks(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, every_allocation_failure_is_reported_and_leaves_nothing_behind);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
