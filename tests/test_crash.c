/*
 * test_crash.c - kill -9 while committing, many times, and lose nothing.
 *
 * A child process opens the store, replays it, and runs a seeded stream of
 * commands in batches: apply, log, commit, and only then report each
 * command's result and each fill to the parent through a pipe. The parent
 * kills the child with SIGKILL at a random moment, reopens the store, replays
 * it into a fresh engine and checks that
 *   - every acknowledged command has the same result after recovery,
 *   - every acknowledged fill is there, identical, and no trade id repeats,
 *   - the stored fill records are exactly the replayed fills,
 *   - each account's position in each series equals the sum of its fills,
 *   - positions sum to zero per instrument and cash is conserved.
 * The child also writes an engine snapshot every few batches (its own store
 * transaction, so kills land inside snapshot writes too) and starts from the
 * newest one; the parent checks that the newest snapshot restored and the
 * log after it replayed give exactly the full replay's state, byte for byte.
 * The next child continues on the same store. CH_CRASH_CYCLES sets the number
 * of kills (default 30); the seed is printed on failure.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ch/store.h"
#include "ch_check.h"
#include "fixtures.h"

#define DAY        (INT64_C(86400) * CH_NS_PER_SEC)
#define USD(x)     ((int64_t)((x)*CH_CASH_SCALE))
#define N_INSTR    5
#define N_ACCT     8
#define MAX_SEQ    400000
#define MAX_TRADES 400000

/* what goes through the pipe: fixed-size records, one write() each */
typedef struct ack {
    uint8_t kind; /* 1 = command result, 2 = fill, 3/4 = a snapshot begins/ends */
    uint8_t pad[3];
    int32_t err;
    uint64_t seq;
    uint64_t order_id;
    int64_t filled;
    int32_t status;
    int32_t pad2;
    ch_fill fill;
} ack;

static char dir[256];

static ch_engine_config cfg_of(void)
{
    return ch_test_engine_config(16, 16, 1 << 14, 4096);
}

typedef struct child_state {
    ch_engine *e;
    ch_store *st;
    ack *pending;
    size_t n_pending, cap;
    ch_order_id live[1024]; /* recent resting orders, to cancel */
    ch_account_id owner[1024];
    size_t n_live;
} child_state;

static void child_fill(void *ctx, const ch_engine_event *ev)
{
    child_state *cs = ctx;
    if (ev->type != CH_EE_FILL)
        return;
    ch_store_record_fill(cs->st, &ev->fill);
    if (cs->n_pending < cs->cap)
        cs->pending[cs->n_pending++] = (ack){.kind = 2, .fill = ev->fill};
}

static void child_step(child_state *cs, const ch_command *c)
{
    ch_command_result r;
    ch_command_apply(cs->e, c, &r);
    uint64_t seq;
    if (ch_store_log(cs->st, c, &seq) != CH_OK)
        _exit(3);
    if (cs->n_pending < cs->cap)
        cs->pending[cs->n_pending++] = (ack){.kind = 1,
                                             .err = r.err,
                                             .seq = seq,
                                             .order_id = r.order.id.v,
                                             .filled = r.order.filled,
                                             .status = (int32_t)r.order.status};
    if (c->type == CH_C_SUBMIT && r.err == CH_OK && r.order.remaining > 0) {
        size_t k = cs->n_live < 1024 ? cs->n_live++ : (size_t)(r.order.id.v % 1024);
        cs->live[k] = r.order.id;
        cs->owner[k] = c->order.account;
    }
}

static void child_commit_and_ack(child_state *cs, int fd)
{
    if (ch_store_commit(cs->st) != CH_OK)
        _exit(4);
    /* acknowledged only now, after the commit */
    for (size_t i = 0; i < cs->n_pending; i++)
        if (write(fd, &cs->pending[i], sizeof(ack)) != (ssize_t)sizeof(ack))
            _exit(5);
    cs->n_pending = 0;
}

/* What chd does at start: the newest loadable snapshot, then the log after
 * it (a snapshot that does not load: a fresh engine and the whole log). */
static ch_err start_from_snapshot(ch_store *st, ch_engine **e, const ch_engine_config *cfg)
{
    uint64_t seq = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    ch_err err = ch_store_get_snapshot(st, UINT64_MAX, &seq, &buf, &len);
    if (err != CH_OK)
        return err;
    if (buf != NULL && ch_engine_restore(*e, buf, len) != CH_OK) {
        ch_engine_destroy(*e);
        *e = ch_engine_create(cfg);
        seq = 0;
    }
    free(buf);
    if (*e == NULL)
        return CH_ENOMEM;
    return ch_store_replay_from(st, *e, seq, NULL, NULL, NULL);
}

/* A snapshot after a committed batch, as chd takes them (keep two). */
static void child_snapshot(child_state *cs, int fd)
{
    ack mark = {.kind = 3};
    if (write(fd, &mark, sizeof mark) != (ssize_t)sizeof mark)
        _exit(5);
    uint8_t *buf;
    size_t len;
    if (ch_engine_snapshot(cs->e, &buf, &len) != CH_OK)
        _exit(7);
    if (ch_store_put_snapshot(cs->st, ch_store_last_seq(cs->st), buf, len, 2) != CH_OK)
        _exit(8);
    free(buf);
    mark.kind = 4;
    if (write(fd, &mark, sizeof mark) != (ssize_t)sizeof mark)
        _exit(5);
}

static void child_main(uint64_t seed, int fd, ch_durability mode)
{
    ch_engine_config cfg = cfg_of();
    child_state cs = {.cap = 1 << 16};
    cs.pending = calloc(cs.cap, sizeof(ack));
    cs.e = ch_engine_create(&cfg);
    ch_store_config sc = {.dir = dir, .durability = mode};
    if (cs.e == NULL || cs.pending == NULL || ch_store_open(&sc, &cfg, false, &cs.st) != CH_OK)
        _exit(2);
    if (start_from_snapshot(cs.st, &cs.e, &cfg) != CH_OK)
        _exit(6);
    ch_engine_set_sink(cs.e, child_fill, &cs);
    if (ch_store_last_seq(cs.st) == 0) {
        ch_time t0;
        ch_date_to_time(2026, 11, 25, &t0);
        ch_command c = ch_command_make(CH_C_ADVANCE);
        c.time = t0;
        child_step(&cs, &c);
        c = ch_command_make(CH_C_UNDERLYING);
        c.underlying = ch_test_btc();
        child_step(&cs, &c);
        const char *syms[N_INSTR] = {"BTC-25DEC26-100000-C", "BTC-25DEC26-100000-P",
                                     "BTC-25DEC26-95000-C", "BTC-25DEC26-95000-P",
                                     "BTC-25DEC26-105000-C"};
        for (int i = 0; i < N_INSTR; i++) {
            c = ch_command_make(CH_C_LIST);
            strcpy(c.symbol, syms[i]);
            child_step(&cs, &c);
        }
        c = ch_command_make(CH_C_MARKET);
        c.market.index = 100000;
        c.market.rate = 0.01;
        c.market.funding_rate = NAN;
        c.market.perp = NAN;
        c.market.n_marks = 1;
        c.market.expiry[0] = t0 + 30 * DAY + 8 * 3600 * CH_NS_PER_SEC;
        c.market.vol[0] = 0.55;
        child_step(&cs, &c);
        for (int a = 0; a < N_ACCT - 3; a++) {
            c = ch_command_make(CH_C_ACCOUNT_OPEN);
            snprintf(c.name, sizeof c.name, "trader%d", a);
            c.stp = (ch_stp)(a % 3);
            c.amount = USD(10e6);
            child_step(&cs, &c);
        }
        c = ch_command_make(CH_C_POOL_DEPOSIT);
        c.account.v = 3;
        c.amount = USD(5e6);
        child_step(&cs, &c);
        child_commit_and_ack(&cs, fd);
    }
    uint64_t x = seed;
    for (;;) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int batch = 1 + (int)((x >> 33) % 40);
        for (int i = 0; i < batch; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            unsigned u = (unsigned)(x >> 33);
            ch_command c;
            if (u % 10 < 6) {
                c = ch_command_make(CH_C_SUBMIT);
                c.order.account.v = 3 + u % (N_ACCT - 3);
                c.order.instr.v = (u >> 4) % N_INSTR;
                c.order.side = (ch_side)((u >> 8) & 1);
                c.order.tif = (u >> 9) % 4 == 0 ? CH_TIF_IOC : CH_TIF_GTC;
                double base = c.order.instr.v < 2 ? 6000 : c.order.instr.v < 4 ? 4000 : 3500;
                c.order.price =
                    (int64_t)llround(base * (0.8 + 0.4 * ((u >> 12) % 100) / 100.0) / 0.5);
                c.order.qty = 1 + (u >> 20) % 5;
            } else if (cs.n_live > 0) {
                size_t k = (u >> 8) % cs.n_live;
                c = ch_command_make(CH_C_CANCEL);
                c.account = cs.owner[k];
                c.order_id = cs.live[k];
                cs.live[k] = cs.live[--cs.n_live];
                cs.owner[k] = cs.owner[cs.n_live];
            } else {
                continue;
            }
            child_step(&cs, &c);
        }
        child_commit_and_ack(&cs, fd);
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        if ((x >> 33) % 4 == 0)
            child_snapshot(&cs, fd);
    }
}

/* ---- the parent ---- */
typedef struct expect {
    ack *by_seq;    /* [seq] */
    ch_fill *fills; /* [trade id] */
    uint8_t *have_seq, *have_fill;
} expect;

static uint64_t g_seed;

typedef struct replayed {
    const expect *x;
    ch_fill *fills;
    uint8_t *seen;
    uint64_t last_trade, n_fills, checked;
    ch_engine *e;
} replayed;

static void on_replay_fill(void *ctx, const ch_engine_event *ev)
{
    replayed *r = ctx;
    if (ev->type != CH_EE_FILL)
        return;
    const ch_fill *f = &ev->fill;
    ck_assert_msg(f->trade_id > r->last_trade && f->trade_id < MAX_TRADES,
                  "seed %llu: trade ids out of order or repeated", (unsigned long long)g_seed);
    r->last_trade = f->trade_id;
    r->fills[f->trade_id] = *f;
    r->seen[f->trade_id] = 1;
    r->n_fills++;
}

static void on_replay_cmd(void *ctx, uint64_t seq, const ch_command *c,
                          const ch_command_result *res)
{
    (void)c;
    replayed *r = ctx;
    if (seq >= MAX_SEQ || !r->x->have_seq[seq])
        return;
    const ack *a = &r->x->by_seq[seq];
    if (a->err != (int32_t)res->err ||
        (res->err == CH_OK && c->type == CH_C_SUBMIT &&
         (a->order_id != res->order.id.v || a->filled != res->order.filled ||
          a->status != (int32_t)res->order.status)))
        ck_abort_msg("seed %llu: acknowledged command %llu came back different",
                     (unsigned long long)g_seed, (unsigned long long)seq);
    r->checked++;
}

typedef struct stored {
    const replayed *r;
    uint64_t n;
} stored;

static void on_stored_fill(void *ctx, const ch_fill *f)
{
    stored *s = ctx;
    ck_assert_msg(f->trade_id < MAX_TRADES && s->r->seen[f->trade_id] &&
                      ch_test_fill_eq(f, &s->r->fills[f->trade_id]),
                  "seed %llu: stored fill %llu differs from the replay", (unsigned long long)g_seed,
                  (unsigned long long)f->trade_id);
    s->n++;
}

static void verify(const expect *x, uint64_t *acked_cmds, uint64_t *acked_fills, int *from_snapshot)
{
    ch_engine_config cfg = cfg_of();
    ch_store_config sc = {.dir = dir};
    ch_store *st;
    ck_assert_int_eq(ch_store_open(&sc, &cfg, false, &st), CH_OK);
    replayed r = {.x = x};
    r.fills = calloc(MAX_TRADES, sizeof *r.fills);
    r.seen = calloc(MAX_TRADES, 1);
    r.e = ch_engine_create(&cfg);
    ch_engine_set_sink(r.e, on_replay_fill, &r);
    uint64_t n;
    ck_assert_int_eq(ch_store_replay(st, r.e, on_replay_cmd, &r, &n), CH_OK);
    /* every acknowledged command was checked, every acknowledged fill is there */
    uint64_t want = 0, fills = 0;
    for (uint64_t s = 0; s < MAX_SEQ; s++)
        want += x->have_seq[s];
    ck_assert_msg(r.checked == want, "seed %llu: %llu acknowledged commands, %llu recovered",
                  (unsigned long long)g_seed, (unsigned long long)want,
                  (unsigned long long)r.checked);
    for (uint64_t t = 0; t < MAX_TRADES; t++) {
        if (!x->have_fill[t])
            continue;
        fills++;
        ck_assert_msg(r.seen[t] && ch_test_fill_eq(&x->fills[t], &r.fills[t]),
                      "seed %llu: acknowledged fill %llu lost or changed",
                      (unsigned long long)g_seed, (unsigned long long)t);
    }
    /* the stored fill records are exactly the replayed fills */
    stored s = {.r = &r};
    ck_assert_int_eq(ch_store_foreach_fill(st, on_stored_fill, &s), CH_OK);
    ck_assert_uint_eq(s.n, r.n_fills);
    /* positions are the sum of fills; they sum to zero; cash is conserved */
    int64_t pos[N_ACCT][N_INSTR];
    memset(pos, 0, sizeof pos);
    for (uint64_t t = 1; t <= r.last_trade; t++) {
        const ch_fill *f = &r.fills[t];
        int64_t q = f->taker_side == CH_BUY ? f->qty : -f->qty;
        pos[f->taker.v][f->instr.v] += q;
        if (f->source == CH_SRC_NET) {
            pos[CH_ACCOUNT_HOUSE][f->instr.v] -= q;
            pos[CH_ACCOUNT_HOUSE][f->maker_instr.v] += q;
            pos[f->maker.v][f->maker_instr.v] -= q;
        } else {
            pos[f->maker.v][f->instr.v] -= q;
        }
    }
    for (uint32_t a = 0; a < N_ACCT; a++)
        for (uint32_t i = 0; i < N_INSTR; i++)
            ck_assert_msg(pos[a][i] ==
                              ch_engine_position(r.e, (ch_account_id){a}, (ch_instr_id){i}),
                          "seed %llu: position of %u in %u is not the sum of its fills",
                          (unsigned long long)g_seed, a, i);
    ck_assert_int_eq(ch_engine_check(r.e), CH_OK);
    /* the newest snapshot and the log after it: the full replay, byte for byte */
    uint64_t snap_seq;
    uint8_t *snap;
    size_t snap_len;
    ck_assert_int_eq(ch_store_get_snapshot(st, UINT64_MAX, &snap_seq, &snap, &snap_len), CH_OK);
    if (snap != NULL) {
        ch_engine *b = ch_engine_create(&cfg);
        ck_assert_int_eq(ch_engine_restore(b, snap, snap_len), CH_OK);
        ck_assert_int_eq(ch_store_replay_from(st, b, snap_seq, NULL, NULL, NULL), CH_OK);
        ck_assert_msg(ch_test_same_state(b, r.e),
                      "seed %llu: snapshot %llu and the log after it differ from a full replay",
                      (unsigned long long)g_seed, (unsigned long long)snap_seq);
        free(snap);
        ch_engine_destroy(b);
        (*from_snapshot)++;
    }
    *acked_cmds = want;
    *acked_fills = fills;
    ch_engine_destroy(r.e);
    free(r.fills);
    free(r.seen);
    ch_store_close(st);
}

START_TEST(kill_nine_loses_nothing)
{
    const char *env = getenv("CH_CRASH_CYCLES");
    int cycles = env ? (int)strtol(env, NULL, 10) : 30;
    const char *senv = getenv("CH_CRASH_SEED");
    g_seed = senv ? strtoull(senv, NULL, 10) : (uint64_t)time(NULL);
    snprintf(dir, sizeof dir, "/tmp/ch-crash-%d", (int)getpid());
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    ck_assert_int_eq(system(rm), 0);
    expect x;
    x.by_seq = calloc(MAX_SEQ, sizeof *x.by_seq);
    x.fills = calloc(MAX_TRADES, sizeof *x.fills);
    x.have_seq = calloc(MAX_SEQ, 1);
    x.have_fill = calloc(MAX_TRADES, 1);
    uint64_t rng = g_seed;
    uint64_t total_cmds = 0, total_fills = 0;
    int from_snapshot = 0, in_snapshot_kills = 0;
    for (int cycle = 0; cycle < cycles; cycle++) {
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        ch_durability mode = cycle % 2 ? CH_DURABLE_NOSYNC : CH_DURABLE_SYNC;
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            child_main(rng, p[1], mode);
            _exit(0);
        }
        close(p[1]);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        int ms = 20 + (int)((rng >> 40) % 150);
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        uint8_t buf[sizeof(ack) * 256];
        size_t have = 0;
        bool killed = false, in_snapshot = false;
        /* every third cycle dies as soon as a snapshot begins: inside its write */
        bool at_snapshot = cycle % 3 == 2;
        for (;;) {
            struct pollfd pf = {.fd = p[0], .events = POLLIN};
            poll(&pf, 1, 5);
            ssize_t n = read(p[0], buf + have, sizeof buf - have);
            if (n > 0)
                have += (size_t)n;
            size_t whole = have / sizeof(ack) * sizeof(ack);
            for (size_t off = 0; off < whole; off += sizeof(ack)) {
                ack a;
                memcpy(&a, buf + off, sizeof a);
                if (a.kind == 1 && a.seq < MAX_SEQ) {
                    x.by_seq[a.seq] = a;
                    x.have_seq[a.seq] = 1;
                } else if (a.kind == 2 && a.fill.trade_id < MAX_TRADES) {
                    x.fills[a.fill.trade_id] = a.fill;
                    x.have_fill[a.fill.trade_id] = 1;
                } else if (a.kind == 3 || a.kind == 4) {
                    in_snapshot = a.kind == 3;
                    if (in_snapshot && at_snapshot && !killed) {
                        kill(pid, SIGKILL);
                        killed = true;
                    }
                }
            }
            memmove(buf, buf + whole, have - whole);
            have -= whole;
            if (n == 0)
                break; /* EOF: the child is gone and everything is read */
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long el = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (!killed && el >= (at_snapshot ? 10 * ms : ms)) {
                kill(pid, SIGKILL);
                killed = true;
            }
        }
        int st;
        waitpid(pid, &st, 0);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                      "seed %llu: the child stopped by itself (status %d)",
                      (unsigned long long)g_seed, st);
        close(p[0]);
        verify(&x, &total_cmds, &total_fills, &from_snapshot);
        in_snapshot_kills += in_snapshot;
    }
    fprintf(stderr,
            "crash: %d kills (seed %llu; %d inside a snapshot's write), %llu acknowledged "
            "commands and %llu fills all recovered; %d recoveries from a snapshot equal the "
            "full replay\n",
            cycles, (unsigned long long)g_seed, in_snapshot_kills, (unsigned long long)total_cmds,
            (unsigned long long)total_fills, from_snapshot);
    ck_assert_int_gt(from_snapshot, 0);
    ck_assert_uint_gt(total_fills, 0);
    free(x.by_seq);
    free(x.fills);
    free(x.have_seq);
    free(x.have_fill);
    ck_assert_int_eq(system(rm), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("kill9");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, kill_nine_loses_nothing);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
