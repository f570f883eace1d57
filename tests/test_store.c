/*
 * test_store.c - command and fill encodings, the LMDB store, and exact
 * recovery: a run applied and logged, then replayed into a fresh engine,
 * must give the same state and the same result for every command.
 */
#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ch/store.h"

#include <lmdb.h>
#include "ch_check.h"
#include "fixtures.h"

#define DAY    (INT64_C(86400) * CH_NS_PER_SEC)
#define USD(x) ((int64_t)((x)*CH_CASH_SCALE))

static char dir[256];
static int dir_n;

static void new_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/ch-store-test-%d-%d", (int)getpid(), dir_n++);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void rm_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static ch_engine_config small_cfg(void)
{
    return ch_test_engine_config(64, 32, 4096, 4096);
}

/* A run: apply each command, log it, record its fills, commit per batch. */
typedef struct run {
    ch_engine *e;
    ch_store *st;
    ch_command_result res[4096];
    size_t n;
    size_t fills;
} run;

static void on_fill(void *ctx, const ch_engine_event *ev)
{
    run *r = ctx;
    if (ev->type == CH_EE_FILL && r->st != NULL) {
        ck_assert_int_eq(ch_store_record_fill(r->st, &ev->fill), CH_OK);
        r->fills++;
    }
}

static void step(run *r, const ch_command *c)
{
    ck_assert_uint_lt(r->n, 4096);
    ch_command_apply(r->e, c, &r->res[r->n++]);
    ck_assert_int_eq(ch_store_log(r->st, c, NULL), CH_OK);
}

static ch_time t0(void)
{
    ch_time t;
    ch_date_to_time(2026, 11, 25, &t);
    return t;
}

static ch_time expiry(void)
{
    return t0() + 30 * DAY + 8 * 3600 * CH_NS_PER_SEC;
}

/* the whole set-up as commands */
static void setup_commands(run *r)
{
    ch_command c = ch_command_make(CH_C_ADVANCE);
    c.time = t0();
    step(r, &c);
    c = ch_command_make(CH_C_UNDERLYING);
    c.underlying = ch_test_btc();
    step(r, &c);
    const char *syms[] = {"BTC-25DEC26-100000-C", "BTC-25DEC26-100000-P", "BTC-25DEC26-90000-C",
                          "BTC-25DEC26-90000-P", "BTC-PERP"};
    for (int i = 0; i < 5; i++) {
        c = ch_command_make(CH_C_LIST);
        strcpy(c.symbol, syms[i]);
        step(r, &c);
    }
    c = ch_command_make(CH_C_MARKET);
    c.market.index = 100000;
    c.market.rate = 0.02;
    c.market.funding_rate = NAN;
    c.market.perp = NAN;
    c.market.n_marks = 2;
    c.market.expiry[0] = c.market.expiry[1] = expiry();
    c.market.strike[0] = 90000;
    c.market.vol[0] = 0.6;
    c.market.strike[1] = 100000;
    c.market.vol[1] = 0.5;
    step(r, &c);
    const char *names[] = {"alice", "bob", "carol", "lp"};
    for (int i = 0; i < 4; i++) {
        c = ch_command_make(CH_C_ACCOUNT_OPEN);
        strcpy(c.name, names[i]);
        c.stp = (ch_stp)(i % 3);
        c.amount = USD(5e6);
        step(r, &c);
    }
    c = ch_command_make(CH_C_POOL_DEPOSIT);
    c.account.v = 6; /* lp */
    c.amount = USD(3e6);
    step(r, &c);
    c = ch_command_make(CH_C_DEPOSIT);
    c.account.v = 3;
    c.amount = USD(1000);
    step(r, &c);
}

static void random_commands(run *r, uint64_t seed, int n)
{
    uint64_t x = seed;
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned u = (unsigned)(x >> 33);
        ch_command c;
        if (u % 10 < 7) {
            c = ch_command_make(CH_C_SUBMIT);
            c.order.account.v = 3 + u % 3;
            c.order.instr.v = (u >> 4) % 4;
            c.order.side = (ch_side)((u >> 8) & 1);
            c.order.tif = (u >> 9) % 5 == 0 ? CH_TIF_IOC : CH_TIF_GTC;
            double base = (c.order.instr.v % 2 == 0) ? (c.order.instr.v == 0 ? 5600 : 11300)
                                                     : (c.order.instr.v == 1 ? 5400 : 900);
            double px = base * (0.85 + 0.3 * ((u >> 12) % 100) / 100.0);
            c.order.price = (int64_t)llround(px / 0.5);
            c.order.qty = 1 + (u >> 20) % 4;
        } else if (u % 10 < 9) {
            /* cancel some resting order of an account (ids are deterministic) */
            c = ch_command_make(CH_C_CANCEL);
            c.account.v = 3 + u % 3;
            c.order_id.v = ((uint64_t)1 << 32) | (1 + (u >> 8) % 64);
        } else {
            c = ch_command_make(CH_C_MARKET);
            c.market.index = 100000 + (double)((int)((u >> 8) % 2001) - 1000);
            c.market.rate = NAN;
            c.market.funding_rate = 0.0001;
            c.market.perp = NAN;
        }
        step(r, &c);
        if (i % 25 == 24)
            ck_assert_int_eq(ch_store_commit(r->st), CH_OK);
    }
    ck_assert_int_eq(ch_store_commit(r->st), CH_OK);
}

/* compare two engines' observable state */
static void same_state(const ch_engine *a, const ch_engine *b)
{
    ck_assert_int_eq(ch_engine_check(a), CH_OK);
    ck_assert_int_eq(ch_engine_check(b), CH_OK);
    for (uint32_t i = 0; i < 16; i++) {
        ch_account_info x, y;
        ch_err ea = ch_engine_account(a, (ch_account_id){i}, &x);
        ck_assert_int_eq(ea, ch_engine_account(b, (ch_account_id){i}, &y));
        if (ea != CH_OK)
            continue;
        ck_assert_str_eq(x.name, y.name);
        ck_assert_int_eq(x.cash, y.cash);
        ck_assert_int_eq(x.reserved, y.reserved);
        ck_assert_int_eq(x.shares, y.shares);
        ck_assert_double_eq_tol(x.margin, y.margin, 1e-6);
        for (uint32_t k = 0; k < 5; k++)
            ck_assert_int_eq(ch_engine_position(a, (ch_account_id){i}, (ch_instr_id){k}),
                             ch_engine_position(b, (ch_account_id){i}, (ch_instr_id){k}));
    }
    const ch_book *ba = ch_engine_book(a), *bb = ch_engine_book(b);
    for (uint32_t k = 0; k < 5; k++) {
        for (int side = 0; side < 2; side++) {
            ch_level la[64], lb[64];
            size_t na = ch_book_depth(ba, (ch_instr_id){k}, (ch_side)side, la, 64);
            size_t nb = ch_book_depth(bb, (ch_instr_id){k}, (ch_side)side, lb, 64);
            ck_assert_uint_eq(na, nb);
            for (size_t j = 0; j < na; j++) {
                ck_assert_int_eq(la[j].price, lb[j].price);
                ck_assert_int_eq(la[j].qty, lb[j].qty);
                ck_assert_uint_eq(la[j].orders, lb[j].orders);
            }
        }
    }
    ch_book_stats sa, sb;
    ch_book_get_stats(ba, &sa);
    ch_book_get_stats(bb, &sb);
    ck_assert_uint_eq(sa.commands, sb.commands);
    ck_assert_uint_eq(sa.events, sb.events);
    ck_assert_uint_eq(sa.trades, sb.trades);
    ch_pool_info pa, pb;
    ch_engine_pool(a, &pa);
    ch_engine_pool(b, &pb);
    ck_assert_int_eq(pa.cash, pb.cash);
    ck_assert_int_eq(pa.shares, pb.shares);
    ch_netting na, nb;
    ch_engine_netting(a, &na);
    ch_engine_netting(b, &nb);
    for (int s = 0; s < 3; s++)
        ck_assert_int_eq(na.lots[s], nb.lots[s]);
    ck_assert_int_eq(ch_engine_now(a), ch_engine_now(b));
}

typedef struct order_list {
    ch_order_info o[512];
    size_t n;
} order_list;

static void collect(void *ctx, const ch_order_info *o)
{
    order_list *l = ctx;
    if (l->n < 512)
        l->o[l->n++] = *o;
}

START_TEST(command_round_trips)
{
    ch_command all[14];
    for (int t = 0; t < 14; t++)
        all[t] = ch_command_make((ch_command_type)(t + 1));
    all[12].hedge.id = UINT64_C(1798358400000000123);
    all[12].hedge.qty = 4.5;
    all[12].hedge.mark = 100020;
    all[13].hedge.id = UINT64_C(1798358400000000123);
    all[13].hedge.filled = true;
    all[13].hedge.qty = 4.5;
    all[13].hedge.price = 100030.25;
    all[13].hedge.fee = 22.5;
    all[13].hedge.slippage = 0.25;
    all[11].hedge.underlying = 2;
    all[11].hedge.qty = -3.25;
    all[11].hedge.price = 100012.5;
    all[11].hedge.fee = 16.25;
    all[11].hedge.slippage = 0.5;
    all[0].underlying = (ch_underlying_config){.name = "ETH",
                                               .price_decimals = 2,
                                               .tick_units = 5,
                                               .contract_size = 0.1,
                                               .min_price = 1,
                                               .max_price = 99999};
    strcpy(all[1].symbol, "ETH-27DEC26-3000-P");
    all[2].market.underlying = 1;
    all[2].market.index = 3000.5;
    all[2].market.rate = 0.03;
    all[2].market.funding_rate = -1e-4;
    all[2].market.perp = NAN;
    all[2].market.time = 42;
    all[2].market.n_marks = 3;
    for (int i = 0; i < 3; i++) {
        all[2].market.expiry[i] = 1000 + i;
        all[2].market.strike[i] = 2000 + 500 * i;
        all[2].market.vol[i] = 0.5 + 0.1 * i;
    }
    all[3].time = INT64_C(1798358400000000000);
    strcpy(all[4].name, "desk-7.a_b");
    all[4].stp = CH_STP_CANCEL_BOTH;
    all[4].amount = USD(123.456789);
    all[5].account.v = 9;
    all[5].amount = -77;
    all[6].order = (ch_engine_order){.account = {4},
                                     .instr = {3},
                                     .side = CH_SELL,
                                     .type = CH_ORD_MARKET,
                                     .tif = CH_TIF_FOK,
                                     .post_only = true,
                                     .price = 123,
                                     .qty = 456};
    strcpy(all[6].client_order_id, "my-order-1");
    all[7].account.v = 5;
    all[7].order_id.v = UINT64_MAX - 3;
    all[8].account.v = 5;
    all[8].order_id.v = 77;
    all[8].qty = 3;
    all[8].price = 99;
    all[9].account.v = 1;
    all[9].amount = 5;
    all[10].account.v = 2;
    all[10].amount = 6;
    for (int t = 0; t < 14; t++) {
        uint8_t buf[16384];
        size_t n = ch_command_encode(&all[t], buf, sizeof buf);
        ck_assert_uint_gt(n, 2);
        ch_command back;
        ck_assert_int_eq(ch_command_decode(buf, n, &back), CH_OK);
        uint8_t again[16384];
        ck_assert_uint_eq(ch_command_encode(&back, again, sizeof again), n);
        ck_assert_int_eq(memcmp(buf, again, n), 0);
        /* every truncation and a wrong version are refused */
        for (size_t cut = 0; cut < n; cut++)
            ck_assert_int_eq(ch_command_decode(buf, cut, &back), CH_EBADREQ);
        buf[0] = 99;
        ck_assert_int_eq(ch_command_decode(buf, n, &back), CH_EBADREQ);
        ck_assert_uint_eq(ch_command_encode(&all[t], buf, n - 1), 0);
    }
    ck_assert_str_eq(all[1].symbol, "ETH-27DEC26-3000-P");
    { /* transfers between shards keep their account, amount, shard and sequence */
        ch_command x[3] = {ch_command_make(CH_C_TRANSFER_OUT), ch_command_make(CH_C_TRANSFER_IN),
                           ch_command_make(CH_C_TRANSFER_SENT)};
        for (int i = 0; i < 2; i++) {
            x[i].account.v = 7;
            x[i].amount = USD(1234.5);
            strcpy(x[i].transfer.shard, i == 0 ? "eth" : "btc-2");
        }
        x[1].transfer.seq = 42;
        x[2].transfer.seq = UINT64_C(1) << 40;
        for (int i = 0; i < 3; i++) {
            uint8_t buf[256], again[256];
            ch_command back;
            size_t n = ch_command_encode(&x[i], buf, sizeof buf);
            ck_assert_uint_gt(n, 2);
            ck_assert_int_eq(ch_command_decode(buf, n, &back), CH_OK);
            ck_assert_int_eq(back.type, x[i].type);
            ck_assert_uint_eq(back.account.v, x[i].account.v);
            ck_assert_int_eq(back.amount, x[i].amount);
            ck_assert_str_eq(back.transfer.shard, x[i].transfer.shard);
            ck_assert_uint_eq(back.transfer.seq, x[i].transfer.seq);
            ck_assert_uint_eq(ch_command_encode(&back, again, sizeof again), n);
            for (size_t cut = 0; cut < n; cut++)
                ck_assert_int_eq(ch_command_decode(buf, cut, &back), CH_EBADREQ);
        }
    }
    { /* the external venue's order and its report keep their id, mark and fill */
        uint8_t buf[256];
        ch_command back;
        size_t n = ch_command_encode(&all[12], buf, sizeof buf);
        ck_assert_int_eq(ch_command_decode(buf, n, &back), CH_OK);
        ck_assert_int_eq(back.type, CH_C_HEDGE_SENT);
        ck_assert(back.hedge.id == UINT64_C(1798358400000000123));
        ck_assert(back.hedge.qty == 4.5 && back.hedge.mark == 100020);
        n = ch_command_encode(&all[13], buf, sizeof buf);
        ck_assert_int_eq(ch_command_decode(buf, n, &back), CH_OK);
        ck_assert(back.hedge.filled && back.hedge.id == all[13].hedge.id);
        ck_assert(back.hedge.price == 100030.25 && back.hedge.fee == 22.5 &&
                  back.hedge.slippage == 0.25);
        buf[1 + 1 + 4 + 8] = 2; /* version, type, underlying, id: the filled flag */
        ck_assert_int_eq(ch_command_decode(buf, n, &back), CH_EBADREQ);
    }
    uint8_t junk[3] = {1, 200, 0};
    ch_command back;
    ck_assert_int_eq(ch_command_decode(junk, 3, &back), CH_EBADREQ);
    /* fill records */
    ch_fill f = {.trade_id = 1ull << 40,
                 .source = CH_SRC_NET,
                 .instr = {3},
                 .taker_side = CH_SELL,
                 .price = 1234,
                 .qty = 5,
                 .taker = {7},
                 .maker = {8},
                 .taker_order = {99},
                 .maker_order = {100},
                 .maker_instr = {4},
                 .maker_price = 1200,
                 .fee = 17,
                 .delta = -2.5};
    uint8_t fb[128];
    size_t fn = ch_fill_encode(&f, fb, sizeof fb);
    ch_fill g;
    ck_assert_int_eq(ch_fill_decode(fb, fn, &g), CH_OK);
    ck_assert(ch_test_fill_eq(&f, &g));
    ck_assert_int_eq(ch_fill_decode(fb, fn - 1, &g), CH_EBADREQ);
    /* configuration */
    ch_engine_config c = small_cfg(), d;
    uint8_t cb[1024];
    size_t cn = ch_config_encode(&c, cb, sizeof cb);
    ck_assert_int_eq(ch_config_decode(cb, cn, &d), CH_OK);
    uint8_t cb2[1024];
    ck_assert_uint_eq(ch_config_encode(&d, cb2, sizeof cb2), cn);
    ck_assert_int_eq(memcmp(cb, cb2, cn), 0);
}
END_TEST

typedef struct fill_count {
    size_t n;
    uint64_t last;
} fill_count;

static void count_fill(void *ctx, const ch_fill *f)
{
    fill_count *c = ctx;
    ck_assert_uint_gt(f->trade_id, c->last); /* in order, no duplicates */
    c->last = f->trade_id;
    c->n++;
}

/* A run on the fresh store folder @p sc names: its engine, the store open,
 * the setup commands committed. */
static run *start_run(ch_engine_config *cfg, const ch_store_config *sc)
{
    run *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->e = ch_engine_create(cfg);
    ck_assert_int_eq(ch_store_open(sc, cfg, false, &r->st), CH_OK);
    ch_engine_set_sink(r->e, on_fill, r);
    setup_commands(r);
    ck_assert_int_eq(ch_store_commit(r->st), CH_OK);
    return r;
}

/* ch_command_reset() (made per order by chd) leaves the command as
 * ch_command_make() would, but for the market marks past n_marks, and a
 * decode into a used command reads back the same command. */
START_TEST(command_reset_is_make_but_the_marks)
{
    static ch_command dirty, made; /* 12.9 KiB each */
    size_t prefix = offsetof(ch_command, market.expiry);
    for (int t = CH_C_UNDERLYING; t <= CH_C_TRANSFER_SENT; t++) {
        memset(&dirty, 0xab, sizeof dirty);
        ch_command_reset(&dirty, (ch_command_type)t);
        made = ch_command_make((ch_command_type)t);
        ck_assert_int_eq(memcmp(&dirty, &made, prefix), 0);
        ck_assert_uint_eq(dirty.market.n_marks, 0);
    }
    /* a market update decoded into a command that held another */
    made = ch_command_make(CH_C_MARKET);
    made.market.underlying = 1;
    made.market.index = 3000.5;
    made.market.n_marks = 2;
    for (int i = 0; i < 2; i++) {
        made.market.expiry[i] = 1000 + i;
        made.market.strike[i] = 2000 + 500 * i;
        made.market.vol[i] = 0.5 + 0.1 * i;
    }
    uint8_t buf[512], again[512];
    size_t n = ch_command_encode(&made, buf, sizeof buf);
    ck_assert_uint_gt(n, 2);
    memset(&dirty, 0xab, sizeof dirty);
    ck_assert_int_eq(ch_command_decode(buf, n, &dirty), CH_OK);
    ck_assert_int_eq(memcmp(&dirty, &made, prefix), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(dirty.market.expiry[i], made.market.expiry[i]);
        ck_assert(dirty.market.strike[i] == made.market.strike[i]);
        ck_assert(dirty.market.vol[i] == made.market.vol[i]);
    }
    ck_assert_uint_eq(ch_command_encode(&dirty, again, sizeof again), n);
    ck_assert_int_eq(memcmp(buf, again, n), 0);
}
END_TEST

START_TEST(recovery_is_exact)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir, .durability = CH_DURABLE_SYNC};
    run *r = start_run(&cfg, &sc);
    random_commands(r, 7, 1500);
    ck_assert_uint_eq(ch_store_last_seq(r->st), r->n);
    ck_assert_uint_gt(r->fills, 20);
    ch_store_close(r->st);

    /* reopen, replay into a fresh engine, collect results */
    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert_uint_eq(ch_store_last_seq(st), r->n);
    ch_engine *e2 = ch_engine_create(&cfg);
    uint64_t n;
    ck_assert_int_eq(ch_store_replay(st, e2, NULL, NULL, &n), CH_OK);
    ck_assert_uint_eq(n, r->n);
    same_state(r->e, e2);
    /* resting orders with their ids and time priority */
    for (uint32_t k = 0; k < 4; k++) {
        for (int side = 0; side < 2; side++) {
            order_list la = {0}, lb = {0};
            ch_book_foreach(ch_engine_book(r->e), (ch_instr_id){k}, (ch_side)side, collect, &la);
            ch_book_foreach(ch_engine_book(e2), (ch_instr_id){k}, (ch_side)side, collect, &lb);
            ck_assert_uint_eq(la.n, lb.n);
            for (size_t j = 0; j < la.n; j++) {
                ck_assert_uint_eq(la.o[j].id.v, lb.o[j].id.v);
                ck_assert_uint_eq(la.o[j].priority, lb.o[j].priority);
                ck_assert_int_eq(la.o[j].remaining, lb.o[j].remaining);
            }
        }
    }
    /* the stored fill records equal the fills the run produced */
    fill_count cnt = {0, 0};
    ck_assert_int_eq(ch_store_foreach_fill(st, count_fill, &cnt), CH_OK);
    ck_assert_uint_eq(cnt.n, r->fills);
    /* settlement after recovery, on both, stays identical */
    ch_command c = ch_command_make(CH_C_MARKET);
    c.market.index = 97000;
    c.market.rate = NAN;
    c.market.funding_rate = NAN;
    c.market.perp = NAN;
    c.market.time = expiry() + 1;
    ck_assert_int_eq(ch_command_apply(r->e, &c, NULL), CH_OK);
    ck_assert_int_eq(ch_command_apply(e2, &c, NULL), CH_OK);
    same_state(r->e, e2);
    ch_store_close(st);
    ch_engine_destroy(e2);
    ch_engine_destroy(r->e);
    free(r);
    rm_dir();
}
END_TEST

/* The resting orders of two engines: the same ids, time priority, sizes. */
static void same_orders(const ch_engine *a, const ch_engine *b)
{
    for (uint32_t k = 0; k < 4; k++) {
        for (int side = 0; side < 2; side++) {
            order_list la = {0}, lb = {0};
            ch_book_foreach(ch_engine_book(a), (ch_instr_id){k}, (ch_side)side, collect, &la);
            ch_book_foreach(ch_engine_book(b), (ch_instr_id){k}, (ch_side)side, collect, &lb);
            ck_assert_uint_eq(la.n, lb.n);
            for (size_t j = 0; j < la.n; j++) {
                ck_assert_uint_eq(la.o[j].id.v, lb.o[j].id.v);
                ck_assert_uint_eq(la.o[j].priority, lb.o[j].priority);
                ck_assert_int_eq(la.o[j].remaining, lb.o[j].remaining);
            }
        }
    }
}

/* A snapshot taken half way, restored and followed by the rest of the log,
 * is the engine of the full run: the same observable state, the same
 * orders, and byte for byte the same snapshot at the end (every field of
 * every record), also after both settle; the next order gets the same id
 * on both. A snapshot of another configuration or a damaged one is
 * refused, and the store keeps the newest `keep` snapshots only. */
START_TEST(snapshot_restores_exactly)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir, .durability = CH_DURABLE_NOSYNC};
    run *r = start_run(&cfg, &sc);
    random_commands(r, 11, 700);
    uint8_t *snap;
    size_t len;
    ck_assert_int_eq(ch_engine_snapshot(r->e, &snap, &len), CH_OK);
    uint64_t at = ch_store_last_seq(r->st);
    ck_assert_int_eq(ch_store_put_snapshot(r->st, at, snap, len, 2), CH_OK);
    ck_assert_int_eq(ch_store_put_snapshot(r->st, at - 1, snap, len, 2), CH_EINVAL);
    random_commands(r, 12, 800);
    ck_assert_uint_gt(r->fills, 20);
    ch_store_close(r->st);

    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    uint64_t seq;
    uint8_t *got;
    size_t glen;
    ck_assert_int_eq(ch_store_get_snapshot(st, UINT64_MAX, &seq, &got, &glen), CH_OK);
    ck_assert_uint_eq(seq, at);
    ck_assert_uint_eq(glen, len);
    ck_assert_mem_eq(got, snap, len);
    ch_engine *e2 = ch_engine_create(&cfg);
    ck_assert_int_eq(ch_engine_restore(e2, got, glen), CH_OK);
    ck_assert_int_eq(ch_engine_restore(e2, got, glen), CH_EINVAL); /* not fresh */
    uint64_t n;
    ck_assert_int_eq(ch_store_replay_from(st, e2, seq, NULL, NULL, &n), CH_OK);
    ck_assert_uint_eq(seq + n, r->n);
    same_state(r->e, e2);
    same_orders(r->e, e2);
    uint8_t *end_a, *end_b;
    size_t la, lb;
    ck_assert_int_eq(ch_engine_snapshot(r->e, &end_a, &la), CH_OK);
    ck_assert_int_eq(ch_engine_snapshot(e2, &end_b, &lb), CH_OK);
    ck_assert_uint_eq(la, lb);
    ck_assert_mem_eq(end_a, end_b, la);
    free(end_a);
    free(end_b);
    /* the next order and a settlement */
    ch_command c = ch_command_make(CH_C_SUBMIT);
    c.order.account.v = 4;
    c.order.instr.v = 0;
    c.order.side = CH_BUY;
    c.order.price = 100;
    c.order.qty = 1;
    ch_command_result ra, rb;
    ck_assert_int_eq(ch_command_apply(r->e, &c, &ra), ch_command_apply(e2, &c, &rb));
    ck_assert_uint_eq(ra.order.id.v, rb.order.id.v);
    c = ch_command_make(CH_C_MARKET);
    c.market.index = 97000;
    c.market.rate = NAN;
    c.market.funding_rate = NAN;
    c.market.perp = NAN;
    c.market.time = expiry() + 1;
    ck_assert_int_eq(ch_command_apply(r->e, &c, NULL), CH_OK);
    ck_assert_int_eq(ch_command_apply(e2, &c, NULL), CH_OK);
    same_state(r->e, e2);
    ck_assert_int_eq(ch_engine_snapshot(r->e, &end_a, &la), CH_OK);
    ck_assert_int_eq(ch_engine_snapshot(e2, &end_b, &lb), CH_OK);
    ck_assert_uint_eq(la, lb);
    ck_assert_mem_eq(end_a, end_b, la);
    free(end_a);
    free(end_b);
    ch_engine_destroy(e2);

    /* damaged: refused, and the engine it was read into can be destroyed */
    got[len / 2] ^= 1;
    e2 = ch_engine_create(&cfg);
    ck_assert_int_eq(ch_engine_restore(e2, got, glen), CH_EBADREQ);
    ch_engine_destroy(e2);
    got[len / 2] ^= 1;
    /* another configuration's: refused before anything changes */
    ch_engine_config other = cfg;
    other.max_orders = cfg.max_orders + 1;
    e2 = ch_engine_create(&other);
    ck_assert_int_eq(ch_engine_restore(e2, got, glen), CH_EBADCONFIG);
    ch_engine_destroy(e2);
    /* the newest two are kept; an older one is found by its bound */
    uint64_t last = ch_store_last_seq(st);
    ck_assert_int_eq(ch_store_put_snapshot(st, last, snap, len, 2), CH_OK);
    uint8_t *older;
    ck_assert_int_eq(ch_store_get_snapshot(st, last, &seq, &older, &glen), CH_OK);
    ck_assert_uint_eq(seq, at);
    free(older);
    ch_store_close(st);
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert_int_eq(ch_store_commit(st), CH_OK);
    ck_assert_int_eq(ch_store_put_snapshot(st, last, snap, len, 1), CH_OK);
    ck_assert_int_eq(ch_store_get_snapshot(st, last, &seq, &older, &glen), CH_OK);
    ck_assert_ptr_null(older); /* keep 1: only the newest is left */
    ck_assert_int_eq(ch_store_get_snapshot(st, UINT64_MAX, &seq, &older, &glen), CH_OK);
    ck_assert_uint_eq(seq, last);
    free(older);
    free(got);
    free(snap);
    ch_store_close(st);
    ch_engine_destroy(r->e);
    free(r);
    rm_dir();
}
END_TEST

/* Pruning drops the commands every kept snapshot holds, and nothing else:
 * a kept snapshot still replays to the full replay's state, the fills stay,
 * and a replay from the start is refused instead of skipping commands. */
START_TEST(prune_keeps_what_snapshots_need)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir, .durability = CH_DURABLE_NOSYNC};
    run *r = start_run(&cfg, &sc);
    uint64_t removed = 1;
    ck_assert_int_eq(ch_store_prune(r->st, &removed), CH_OK); /* no snapshot: nothing */
    ck_assert_uint_eq(removed, 0);
    ck_assert_uint_eq(ch_store_first_seq(r->st), 1);
    uint64_t snaps[2];
    for (int i = 0; i < 2; i++) {
        random_commands(r, 21 + (unsigned)i, 600);
        uint8_t *snap;
        size_t len;
        ck_assert_int_eq(ch_engine_snapshot(r->e, &snap, &len), CH_OK);
        snaps[i] = ch_store_last_seq(r->st);
        ck_assert_int_eq(ch_store_put_snapshot(r->st, snaps[i], snap, len, 2), CH_OK);
        free(snap);
    }
    random_commands(r, 23, 600);
    ck_assert_int_eq(ch_store_prune(r->st, &removed), CH_OK);
    ck_assert_uint_eq(removed, snaps[0]); /* up to the oldest kept snapshot */
    ck_assert_uint_eq(ch_store_first_seq(r->st), snaps[0] + 1);
    ck_assert_int_eq(ch_store_prune(r->st, &removed), CH_OK);
    ck_assert_uint_eq(removed, 0);
    uint64_t fills = r->fills, last = ch_store_last_seq(r->st);
    ck_assert_uint_gt(fills, 20);
    ch_store_close(r->st);

    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert_uint_eq(ch_store_last_seq(st), last);
    ck_assert_uint_eq(ch_store_first_seq(st), snaps[0] + 1);
    for (int i = 0; i < 2; i++) { /* either kept snapshot, then the log after it */
        uint64_t seq, n;
        uint8_t *got;
        size_t glen;
        ck_assert_int_eq(
            ch_store_get_snapshot(st, i == 0 ? UINT64_MAX : snaps[1], &seq, &got, &glen), CH_OK);
        ck_assert_uint_eq(seq, snaps[1 - i]);
        ch_engine *e2 = ch_engine_create(&cfg);
        ck_assert_int_eq(ch_engine_restore(e2, got, glen), CH_OK);
        ck_assert_int_eq(ch_store_replay_from(st, e2, seq, NULL, NULL, &n), CH_OK);
        ck_assert_uint_eq(seq + n, last);
        ck_assert(ch_test_same_state(r->e, e2));
        ch_engine_destroy(e2);
        free(got);
    }
    /* from the start: the first command is missing, refused as damaged */
    ch_engine *e3 = ch_engine_create(&cfg);
    ck_assert_int_eq(ch_store_replay(st, e3, NULL, NULL, NULL), CH_EBADREQ);
    ch_engine_destroy(e3);
    /* the fill records are all there */
    fill_count stored = {0};
    ck_assert_int_eq(ch_store_foreach_fill(st, count_fill, &stored), CH_OK);
    ck_assert_uint_eq(stored.n, fills);
    /* a batch buffered: refused */
    ch_command c = ch_command_make(CH_C_ADVANCE);
    c.time = t0();
    ck_assert_int_eq(ch_store_log(st, &c, NULL), CH_OK);
    ck_assert_int_eq(ch_store_prune(st, NULL), CH_EINVAL);
    ch_store_discard(st);
    ch_store_close(st);
    ch_engine_destroy(r->e);
    free(r);
    rm_dir();
}
END_TEST

START_TEST(schema_and_config_are_checked)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir};
    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ch_store_close(st);
    ch_engine_config other = cfg;
    other.netting_fee_ticks = 7;
    ck_assert_int_eq(ch_store_open(&sc, &other, false, &st), CH_EBADCONFIG);
    ck_assert_ptr_nonnull(strstr(ch_store_open_error(), "another engine configuration"));
    ch_engine_config adopted;
    memset(&adopted, 0, sizeof adopted);
    ck_assert_int_eq(ch_store_open(&sc, &adopted, true, &st), CH_OK);
    ck_assert_int_eq(adopted.netting_fee_ticks, cfg.netting_fee_ticks);
    ck_assert_uint_eq(adopted.max_orders, cfg.max_orders);
    ch_store_close(st);
    /* a store of another schema version: stamp version 2 into its meta */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint8_t v2[4] = {2, 0, 0, 0};
    MDB_val k = {6, (void *)(uintptr_t) "schema"}, v = {4, v2};
    ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_EBADCONFIG);
    ck_assert_ptr_nonnull(strstr(ch_store_open_error(), "schema 2"));
    rm_dir();
    /* an empty directory is no store for tools */
    new_dir();
    memset(&adopted, 0, sizeof adopted);
    ck_assert_int_eq(ch_store_open(&sc, &adopted, true, &st), CH_EBADCONFIG);
    rm_dir();
}
END_TEST

START_TEST(full_map_grows)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir, .durability = CH_DURABLE_NOSYNC, .map_size = 256 * 1024};
    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ch_command c = ch_command_make(CH_C_SUBMIT);
    c.order = (ch_engine_order){.account = {3}, .instr = {0}, .side = CH_BUY, .price = 1, .qty = 1};
    for (int b = 0; b < 20; b++) {
        for (int i = 0; i < 1000; i++)
            ck_assert_int_eq(ch_store_log(st, &c, NULL), CH_OK);
        ck_assert_int_eq(ch_store_commit(st), CH_OK);
    }
    ch_store_stats s;
    ch_store_get_stats(st, &s);
    ck_assert_uint_ge(s.map_grows, 1);
    ck_assert_uint_eq(s.commands, 20000);
    ck_assert_uint_eq(ch_store_last_seq(st), 20000);
    ch_store_close(st);
    rm_dir();
}
END_TEST

START_TEST(failed_commit_halts)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir};
    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ch_command c = ch_command_make(CH_C_ADVANCE);
    c.time = t0();
    ck_assert_int_eq(ch_store_log(st, &c, NULL), CH_OK);
    ck_assert_int_eq(ch_store_commit(st), CH_OK);
    c.time = t0() + 1;
    ck_assert_int_eq(ch_store_log(st, &c, NULL), CH_OK);
    ch_store_inject_commit_failure(st);
    ck_assert_int_eq(ch_store_commit(st), CH_EUNAVAILABLE);
    ck_assert(ch_store_halted(st));
    ck_assert_ptr_nonnull(strstr(ch_store_error(st), "commit"));
    /* intake stays stopped */
    ck_assert_int_eq(ch_store_log(st, &c, NULL), CH_EUNAVAILABLE);
    ck_assert_int_eq(ch_store_commit(st), CH_EUNAVAILABLE);
    ck_assert_uint_eq(ch_store_last_seq(st), 1);
    ch_store_close(st);
    /* what was committed before is intact, what failed is not there */
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert_uint_eq(ch_store_last_seq(st), 1);
    ch_engine *e = ch_engine_create(&cfg);
    uint64_t n;
    ck_assert_int_eq(ch_store_replay(st, e, NULL, NULL, &n), CH_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ch_engine_now(e), t0());
    ch_engine_destroy(e);
    ch_store_close(st);
    rm_dir();
}
END_TEST

typedef struct keys_seen {
    int n;
    char name[4][CH_ACCOUNT_NAME_MAX];
    uint8_t digest[4][CH_SHA256_LEN];
} keys_seen;

static void on_key(void *ctx, const char *account, const uint8_t *digest)
{
    keys_seen *k = ctx;
    ck_assert_int_lt(k->n, 4);
    snprintf(k->name[k->n], CH_ACCOUNT_NAME_MAX, "%s", account);
    memcpy(k->digest[k->n], digest, CH_SHA256_LEN);
    k->n++;
}

START_TEST(keys_are_stored_with_their_batch)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir, .durability = CH_DURABLE_NOSYNC};
    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    uint8_t d1[CH_SHA256_LEN], d2[CH_SHA256_LEN], d3[CH_SHA256_LEN];
    ch_sha256_digest("k1", 2, d1);
    ch_sha256_digest("k2", 2, d2);
    ch_sha256_digest("k3", 2, d3);
    ck_assert_int_eq(ch_store_put_key(st, "", d1), CH_EINVAL);
    ck_assert_int_eq(ch_store_put_key(st, "alice", d1), CH_OK);
    ck_assert_int_eq(ch_store_put_key(st, "bob", d2), CH_OK);
    ck_assert_int_eq(ch_store_commit(st), CH_OK);
    /* a discarded batch leaves no key behind */
    ck_assert_int_eq(ch_store_put_key(st, "carol", d3), CH_OK);
    ch_store_discard(st);
    ch_store_close(st);
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    keys_seen k = {0};
    ck_assert_int_eq(ch_store_foreach_key(st, on_key, &k), CH_OK);
    ck_assert_int_eq(k.n, 2);
    ck_assert_str_eq(k.name[0], "alice");
    ck_assert_mem_eq(k.digest[0], d1, CH_SHA256_LEN);
    ck_assert_str_eq(k.name[1], "bob");
    ck_assert_mem_eq(k.digest[1], d2, CH_SHA256_LEN);
    ch_store_close(st);
    rm_dir();
}
END_TEST

/* The client order id index: an id is found in its own batch and after its
 * commit, across a reopen; the first reply stays; a discarded batch leaves
 * none; thousands in one batch (the batch's hash grows) all come back. */
static void expect_coid(ch_store *st, const char *key, const char *want)
{
    char *got = NULL;
    ck_assert_int_eq(ch_store_get_coid(st, key, &got), CH_OK);
    if (want == NULL) {
        ck_assert_ptr_null(got);
    } else {
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(got, want);
    }
    free(got);
}

START_TEST(coids_are_indexed_with_their_batch)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir, .durability = CH_DURABLE_NOSYNC};
    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert(!ch_store_coid_backfill(st)); /* a new store has no log to index */
    ck_assert_int_eq(ch_store_put_coid(st, "", "{}"), CH_EINVAL);
    expect_coid(st,
                "3\x1f"
                "a",
                NULL);
    ck_assert_int_eq(ch_store_put_coid(st,
                                       "3\x1f"
                                       "a",
                                       "{\"order_id\":1}"),
                     CH_OK);
    ck_assert_int_eq(ch_store_put_coid(st,
                                       "3\x1f"
                                       "a",
                                       "{\"order_id\":2}"),
                     CH_OK);
    expect_coid(st,
                "3\x1f"
                "a",
                "{\"order_id\":1}"); /* in the batch, the first */
    expect_coid(st,
                "4\x1f"
                "a",
                NULL); /* another account's */
    ck_assert_int_eq(ch_store_commit(st), CH_OK);
    expect_coid(st,
                "3\x1f"
                "a",
                "{\"order_id\":1}");
    ck_assert_int_eq(ch_store_put_coid(st,
                                       "3\x1f"
                                       "a",
                                       "{\"order_id\":3}"),
                     CH_OK);
    ck_assert_int_eq(ch_store_commit(st), CH_OK);
    expect_coid(st,
                "3\x1f"
                "a",
                "{\"order_id\":1}"); /* committed: the first stays */
    ck_assert_int_eq(ch_store_put_coid(st,
                                       "3\x1f"
                                       "b",
                                       "{}"),
                     CH_OK);
    ch_store_discard(st);
    expect_coid(st,
                "3\x1f"
                "b",
                NULL);
    char key[32], val[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key,
                 "5\x1f"
                 "k%d",
                 i);
        snprintf(val, sizeof val, "{\"n\":%d}", i);
        ck_assert_int_eq(ch_store_put_coid(st, key, val), CH_OK);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(key, sizeof key,
                 "5\x1f"
                 "k%d",
                 i);
        snprintf(val, sizeof val, "{\"n\":%d}", i);
        expect_coid(st, key, val);
    }
    ck_assert_int_eq(ch_store_commit(st), CH_OK);
    ch_store_close(st);
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    expect_coid(st,
                "3\x1f"
                "a",
                "{\"order_id\":1}");
    expect_coid(st,
                "5\x1f"
                "k4999",
                "{\"n\":4999}");
    uint64_t n, bytes;
    ck_assert_int_eq(ch_store_coid_stat(st, &n, &bytes), CH_OK);
    ck_assert_uint_eq(n, 5001);
    ck_assert_uint_gt(bytes, 5001 * 8);
    ch_store_close(st);
    rm_dir();
}
END_TEST

/* A map that may not grow: the batch that does not fit halts the store;
 * every batch committed before it is intact after a reopen. */
START_TEST(map_at_its_maximum_halts)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {
        .dir = dir, .durability = CH_DURABLE_NOSYNC, .map_size = 256 * 1024, .map_max = 256 * 1024};
    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ch_command c = ch_command_make(CH_C_SUBMIT);
    c.order = (ch_engine_order){.account = {3}, .instr = {0}, .side = CH_BUY, .price = 1, .qty = 1};
    uint64_t committed = 0;
    ch_err e = CH_OK;
    for (int b = 0; b < 100 && e == CH_OK; b++) {
        for (int i = 0; i < 100; i++)
            ck_assert_int_eq(ch_store_log(st, &c, NULL), CH_OK);
        e = ch_store_commit(st);
        if (e == CH_OK)
            committed += 100;
    }
    ck_assert_int_eq(e, CH_EUNAVAILABLE);
    ck_assert(ch_store_halted(st));
    ck_assert_ptr_nonnull(strstr(ch_store_error(st), "maximum"));
    ck_assert_uint_gt(committed, 0);
    ck_assert_uint_eq(ch_store_last_seq(st), committed);
    ch_store_close(st);
    /* reopened with room: exactly the committed batches */
    sc.map_max = 0;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert_uint_eq(ch_store_last_seq(st), committed);
    ch_store_close(st);
    rm_dir();
}
END_TEST

/* Issue 15, item 1: one writer per folder; a refused or abandoned open leaves
 * the disk as it found it; a read-only open works beside the writer. */
START_TEST(one_writer_per_folder)
{
    new_dir();
    ch_engine_config cfg = small_cfg();
    ch_store_config sc = {.dir = dir};
    ch_store *st, *second;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    char lock[300];
    snprintf(lock, sizeof lock, "%s/chd.lock", dir);
    FILE *f = fopen(lock, "r");
    ck_assert_ptr_nonnull(f);
    char text[32] = "";
    ck_assert_ptr_nonnull(fgets(text, sizeof text, f));
    fclose(f);
    long pid = strtol(text, NULL, 10);
    ck_assert_int_eq(pid, (long)getpid());
    /* a second writer (same process: flock conflicts per open) is refused,
     * naming the holder */
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &second), CH_EBUSY);
    char want[64];
    snprintf(want, sizeof want, "pid %ld", pid);
    ck_assert_ptr_nonnull(strstr(ch_store_open_error(), want));
    /* a reader (chctl dump) is not */
    ch_engine_config adopted;
    ck_assert_int_eq(ch_store_open(&sc, &adopted, true, &second), CH_OK);
    ch_store_close(second);
    /* the writer still writes */
    ch_command c;
    memset(&c, 0, sizeof c);
    c.type = CH_C_ADVANCE;
    c.time = 1;
    uint64_t seq;
    ck_assert_int_eq(ch_store_log(st, &c, &seq), CH_OK);
    ck_assert_int_eq(ch_store_commit(st), CH_OK);
    ch_store_close(st);
    /* released at close */
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert_uint_eq(ch_store_last_seq(st), 1);
    /* abandoning an open that created nothing removes nothing */
    ch_store_abandon(st);
    ck_assert_int_eq(access(lock, F_OK), 0);
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert_uint_eq(ch_store_last_seq(st), 1);
    ch_store_close(st);
    rm_dir();
    /* a read-only open of a missing folder creates nothing */
    ck_assert_int_eq(ch_store_open(&sc, &adopted, true, &st), CH_EBADCONFIG);
    ck_assert_int_ne(access(dir, F_OK), 0);
    /* abandoning the open that created the folder removes the folder */
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    ck_assert_int_eq(access(dir, F_OK), 0);
    ch_store_abandon(st);
    ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, command_round_trips);
    tcase_add_test(tc, command_reset_is_make_but_the_marks);
    tcase_add_test(tc, recovery_is_exact);
    tcase_add_test(tc, snapshot_restores_exactly);
    tcase_add_test(tc, prune_keeps_what_snapshots_need);
    tcase_add_test(tc, schema_and_config_are_checked);
    tcase_add_test(tc, full_map_grows);
    tcase_add_test(tc, failed_commit_halts);
    tcase_add_test(tc, keys_are_stored_with_their_batch);
    tcase_add_test(tc, coids_are_indexed_with_their_batch);
    tcase_add_test(tc, map_at_its_maximum_halts);
    tcase_add_test(tc, one_writer_per_folder);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
