/*
 * test_book_diff.c - differential test of the order book against a naive
 * reference matcher written here from the matching rule alone.
 *
 * The reference keeps resting orders in an unordered array and finds the
 * best counter-order by a linear scan (best price, then earliest queue
 * entry). Rejects that must leave state unchanged (FOK, level capacity) are
 * modelled by running the match on a copy and throwing it away. Both engines
 * get the same seeded random stream of operations (limit, IOC, FOK, market,
 * post-only, cancel, replace, take, bad input, closing a book); every event
 * is compared field by field (order ids translated between the two), and
 * the books are compared in full periodically and at the end. Sides run
 * both ways (sorted and indexed by price), roomy and at tight capacity.
 *
 * CH_DIFF_OPS (default 1000000 in total) and CH_DIFF_SEED override the run;
 * the seed is printed on failure.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/book.h"
#include "ch_check.h"

#define N_INSTR  3
#define N_ACCT   4
#define BAND_MIN 1
#define BAND_MAX 128 /* prices around 64: a price-indexed side's marks cross a word */
#define MAXEV    8192

static uint64_t seed0;
static long op_no;
/* Check's passing assertions write a mark to a file; this loop runs
 * millions of them, so only a failure goes through Check. */
#define DIFF_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg("seed=%" PRIu64 " op=%ld: " __VA_ARGS__);                                 \
    } while (0)
#define REQUIRE(cond) DIFF_ASSERT(cond, "%s", seed0, op_no, #cond)

/* ---- random ---- */
static uint64_t rng;
static uint64_t rnd(void)
{
    return ch_xorshift64(&rng);
}
static int64_t rin(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* ---- event capture ---- */
typedef struct evbuf {
    ch_event ev[MAXEV];
    size_t n;
} evbuf;
static evbuf real_ev, ref_ev;

static void on_real(void *ctx, const ch_event *e)
{
    evbuf *b = ctx;
    REQUIRE(b->n < MAXEV);
    b->ev[b->n++] = *e;
}

/* ---- the reference matcher ---- */
typedef struct rord {
    uint64_t id; /* reference id: 1, 2, ... */
    uint32_t instr, account;
    int side, stp;
    bool post_only;
    int64_t price, rem, filled;
    uint64_t prio; /* queue entry counter: lower = earlier */
    uint64_t user;
} rord;

typedef struct ref {
    rord *o; /* resting orders, unordered */
    size_t n, cap;
    uint32_t max_orders, max_levels;
    bool closed[N_INSTR];
    uint64_t cmd_seq, ev_seq, trades, next_id, prio;
} ref;

static void ref_emit(ref *r, ch_event e)
{
    e.seq = ++r->ev_seq;
    e.cmd_seq = r->cmd_seq;
    REQUIRE(ref_ev.n < MAXEV);
    ref_ev.ev[ref_ev.n++] = e;
}

static ch_order_id rid(uint64_t v)
{
    return (ch_order_id){v};
}

static void ref_remove(ref *r, size_t i)
{
    r->o[i] = r->o[--r->n];
}

/* best resting order on `side` of `instr` (optionally not of `skip_acct`) */
static long ref_best(const ref *r, uint32_t instr, int side, long skip_acct)
{
    long best = -1;
    for (size_t i = 0; i < r->n; i++) {
        const rord *o = &r->o[i];
        if (o->instr != instr || o->side != side || (long)o->account == skip_acct)
            continue;
        if (best < 0)
            best = (long)i;
        else {
            const rord *b = &r->o[best];
            bool better = side == CH_BUY ? o->price > b->price : o->price < b->price;
            if (better || (o->price == b->price && o->prio < b->prio))
                best = (long)i;
        }
    }
    return best;
}

static bool ref_crosses(int tside, int64_t limit, int64_t px)
{
    return tside == CH_BUY ? px <= limit : px >= limit;
}

static size_t ref_levels(const ref *r, uint32_t instr, int side, bool *has_price, int64_t price)
{
    bool seen[BAND_MAX + 1] = {false};
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const rord *o = &r->o[i];
        if (o->instr == instr && o->side == side && !seen[o->price]) {
            seen[o->price] = true;
            n++;
        }
    }
    *has_price = seen[price];
    return n;
}

/* the incoming order / taker */
typedef struct rtaker {
    uint64_t id; /* 0 for take */
    uint32_t instr, account;
    int side, stp;
    bool skip_own;
    int64_t limit, rem, filled;
    uint64_t user;
    bool stp_stop;
} rtaker;

static void ref_match(ref *r, rtaker *t, ch_cmd cmd)
{
    while (t->rem > 0) {
        long i = ref_best(r, t->instr, t->side ^ 1, t->skip_own ? (long)t->account : -1);
        if (i < 0 || !ref_crosses(t->side, t->limit, r->o[i].price))
            return;
        rord *m = &r->o[i];
        if (m->account == t->account) {
            if (t->stp == CH_STP_CANCEL_INCOMING) {
                t->stp_stop = true;
                return;
            }
            ref_emit(r, (ch_event){.type = CH_EV_CANCEL,
                                   .cmd = cmd,
                                   .reason = CH_ESELF_TRADE,
                                   .side = m->side,
                                   .instr = {m->instr},
                                   .account = {m->account},
                                   .order = rid(m->id),
                                   .price = m->price,
                                   .qty = m->rem,
                                   .user = m->user});
            ref_remove(r, (size_t)i);
            if (t->stp == CH_STP_CANCEL_BOTH) {
                t->stp_stop = true;
                return;
            }
            continue;
        }
        int64_t q = t->rem < m->rem ? t->rem : m->rem;
        m->rem -= q;
        m->filled += q;
        t->rem -= q;
        t->filled += q;
        ref_emit(r, (ch_event){.type = CH_EV_FILL,
                               .cmd = cmd,
                               .side = t->side,
                               .instr = {t->instr},
                               .account = {t->account},
                               .order = rid(t->id),
                               .price = m->price,
                               .qty = q,
                               .remaining = t->rem,
                               .user = t->user,
                               .maker = rid(m->id),
                               .maker_account = {m->account},
                               .maker_remaining = m->rem,
                               .maker_user = m->user,
                               .trade_id = ++r->trades});
        if (m->rem == 0)
            ref_remove(r, (size_t)i);
    }
}

static void ref_push(ref *r, rord o)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->o = realloc(r->o, r->cap * sizeof *r->o);
        REQUIRE(r->o != NULL);
    }
    r->o[r->n++] = o;
}

typedef struct snap {
    rord *o;
    size_t n;
    uint64_t ev_seq, trades;
    size_t evn;
} snap;

static snap ref_save(const ref *r)
{
    snap s = {.n = r->n, .ev_seq = r->ev_seq, .trades = r->trades, .evn = ref_ev.n};
    s.o = malloc((r->n + 1) * sizeof *s.o);
    memcpy(s.o, r->o, r->n * sizeof *s.o);
    return s;
}

static void ref_restore(ref *r, snap *s)
{
    memcpy(r->o, s->o, s->n * sizeof *s->o);
    r->n = s->n;
    r->ev_seq = s->ev_seq;
    r->trades = s->trades;
    ref_ev.n = s->evn;
    free(s->o);
}

static ch_err ref_reject_submit(ref *r, const ch_order_req *q, ch_err why)
{
    ref_emit(r, (ch_event){.type = CH_EV_REJECT,
                           .cmd = CH_CMD_SUBMIT,
                           .reason = why,
                           .side = q->side,
                           .instr = q->instr,
                           .account = q->account,
                           .price = q->price,
                           .qty = q->qty,
                           .user = q->user});
    return why;
}

/* finish an incoming order (submit, or replace with a new price) */
static void ref_finish(ref *r, rtaker *t, int64_t prior_filled, bool can_rest, bool post_only)
{
    if (t->rem > 0 && can_rest && !t->stp_stop) {
        ref_push(r, (rord){.id = t->id,
                           .instr = t->instr,
                           .account = t->account,
                           .side = t->side,
                           .stp = t->stp,
                           .post_only = post_only,
                           .price = t->limit,
                           .rem = t->rem,
                           .filled = prior_filled + t->filled,
                           .prio = ++r->prio,
                           .user = t->user});
        ref_emit(r, (ch_event){.type = CH_EV_REST,
                               .cmd = ref_ev.ev[ref_ev.n - 1].cmd,
                               .side = t->side,
                               .instr = {t->instr},
                               .account = {t->account},
                               .order = rid(t->id),
                               .price = t->limit,
                               .remaining = t->rem,
                               .user = t->user});
    } else if (t->rem > 0) {
        ref_emit(r, (ch_event){.type = CH_EV_CANCEL,
                               .cmd = ref_ev.ev[ref_ev.n - 1].cmd,
                               .reason = t->stp_stop ? CH_ESELF_TRADE : CH_OK,
                               .side = t->side,
                               .instr = {t->instr},
                               .account = {t->account},
                               .order = rid(t->id),
                               .price = t->limit,
                               .qty = t->rem,
                               .user = t->user});
    }
}

static ch_err ref_submit(ref *r, const ch_order_req *q)
{
    r->cmd_seq++;
    if (q->instr.v >= N_INSTR)
        return ref_reject_submit(r, q, CH_EUNKNOWN_SYMBOL);
    if (r->closed[q->instr.v])
        return ref_reject_submit(r, q, CH_EEXPIRED);
    if (q->side != CH_BUY && q->side != CH_SELL)
        return ref_reject_submit(r, q, CH_EBADSIDE);
    if ((unsigned)q->type > 1 || (unsigned)q->tif > 2 || (unsigned)q->stp > 2 ||
        (q->post_only && (q->type != CH_ORD_LIMIT || q->tif != CH_TIF_GTC)))
        return ref_reject_submit(r, q, CH_EBADTYPE);
    if (q->qty <= 0 || q->qty > CH_QTY_MAX)
        return ref_reject_submit(r, q, CH_EBADQTY);
    int64_t limit = q->price;
    if (q->type == CH_ORD_MARKET && limit == 0)
        limit = q->side == CH_BUY ? BAND_MAX : BAND_MIN;
    if (limit < BAND_MIN || limit > BAND_MAX)
        return ref_reject_submit(r, q, CH_EBADPRICE);
    if (r->n >= r->max_orders)
        return ref_reject_submit(r, q, CH_ECAPACITY);
    if (q->post_only) {
        long b = ref_best(r, q->instr.v, q->side ^ 1, -1);
        if (b >= 0 && ref_crosses(q->side, limit, r->o[b].price))
            return ref_reject_submit(r, q, CH_EPOST_ONLY);
    }
    bool can_rest = q->type == CH_ORD_LIMIT && q->tif == CH_TIF_GTC;
    bool has;
    size_t nl = ref_levels(r, q->instr.v, q->side, &has, limit);
    bool tentative = q->tif == CH_TIF_FOK || (can_rest && !has && nl >= r->max_levels);
    snap s = {0};
    if (tentative)
        s = ref_save(r);
    uint64_t id = ++r->next_id;
    ref_emit(r, (ch_event){.type = CH_EV_ACK,
                           .cmd = CH_CMD_SUBMIT,
                           .side = q->side,
                           .instr = q->instr,
                           .account = q->account,
                           .order = rid(id),
                           .price = limit,
                           .qty = q->qty,
                           .remaining = q->qty,
                           .user = q->user});
    rtaker t = {.id = id,
                .instr = q->instr.v,
                .account = q->account.v,
                .side = q->side,
                .stp = q->stp,
                .limit = limit,
                .rem = q->qty,
                .user = q->user};
    ref_match(r, &t, CH_CMD_SUBMIT);
    if (tentative) {
        ch_err why = CH_OK;
        if (q->tif == CH_TIF_FOK && t.filled < q->qty)
            why = CH_EFOK;
        else if (can_rest && t.rem > 0 && !t.stp_stop)
            why = CH_ECAPACITY;
        if (why != CH_OK) {
            ref_restore(r, &s);
            r->next_id--;
            return ref_reject_submit(r, q, why);
        }
        free(s.o);
    }
    ref_finish(r, &t, 0, can_rest, q->post_only);
    return CH_OK;
}

static long ref_find(const ref *r, uint64_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->o[i].id == id)
            return (long)i;
    return -1;
}

static ch_err ref_reject_order(ref *r, ch_cmd cmd, uint32_t acct, uint64_t id, int64_t qty,
                               int64_t price, ch_err why)
{
    ch_event e = {.type = CH_EV_REJECT,
                  .cmd = cmd,
                  .reason = why,
                  .account = {acct},
                  .order = rid(id),
                  .price = price,
                  .qty = qty};
    long i = ref_find(r, id);
    if (i >= 0) {
        e.instr.v = r->o[i].instr;
        e.side = r->o[i].side;
        e.user = r->o[i].user;
    }
    ref_emit(r, e);
    return why;
}

static ch_err ref_cancel(ref *r, uint32_t acct, uint64_t id)
{
    r->cmd_seq++;
    long i = ref_find(r, id);
    if (i < 0)
        return ref_reject_order(r, CH_CMD_CANCEL, acct, id, 0, 0, CH_EUNKNOWN_ORDER);
    rord *o = &r->o[i];
    if (o->account != acct)
        return ref_reject_order(r, CH_CMD_CANCEL, acct, id, 0, 0, CH_ENOT_OWNER);
    ref_emit(r, (ch_event){.type = CH_EV_CANCEL,
                           .cmd = CH_CMD_CANCEL,
                           .side = o->side,
                           .instr = {o->instr},
                           .account = {o->account},
                           .order = rid(o->id),
                           .price = o->price,
                           .qty = o->rem,
                           .user = o->user});
    ref_remove(r, (size_t)i);
    return CH_OK;
}

static ch_err ref_replace(ref *r, uint32_t acct, uint64_t id, int64_t nq, int64_t np)
{
    r->cmd_seq++;
    long i = ref_find(r, id);
    if (i < 0)
        return ref_reject_order(r, CH_CMD_REPLACE, acct, id, nq, np, CH_EUNKNOWN_ORDER);
    rord o = r->o[i];
    if (o.account != acct)
        return ref_reject_order(r, CH_CMD_REPLACE, acct, id, nq, np, CH_ENOT_OWNER);
    if (nq == 0 && np == 0)
        return ref_reject_order(r, CH_CMD_REPLACE, acct, id, nq, np, CH_EINVAL);
    if (nq < 0 || nq > CH_QTY_MAX)
        return ref_reject_order(r, CH_CMD_REPLACE, acct, id, nq, np, CH_EBADQTY);
    if (np != 0 && (np < BAND_MIN || np > BAND_MAX))
        return ref_reject_order(r, CH_CMD_REPLACE, acct, id, nq, np, CH_EBADPRICE);
    int64_t qty = nq ? nq : o.rem, price = np ? np : o.price;
    ch_event rev = {.type = CH_EV_REPLACE,
                    .cmd = CH_CMD_REPLACE,
                    .side = o.side,
                    .instr = {o.instr},
                    .account = {acct},
                    .order = rid(id),
                    .price = price,
                    .qty = qty,
                    .remaining = qty,
                    .user = o.user};
    if (price == o.price) {
        if (qty > o.rem)
            r->o[i].prio = ++r->prio;
        r->o[i].rem = qty;
        ref_emit(r, rev);
        return CH_OK;
    }
    long b = ref_best(r, o.instr, o.side ^ 1, -1);
    bool crossing = b >= 0 && ref_crosses(o.side, price, r->o[b].price);
    if (crossing && o.post_only)
        return ref_reject_order(r, CH_CMD_REPLACE, acct, id, nq, np, CH_EPOST_ONLY);
    snap s = ref_save(r);
    ref_remove(r, (size_t)i);
    bool has;
    size_t nl = ref_levels(r, o.instr, o.side, &has, price);
    ref_emit(r, rev);
    rtaker t = {.id = id,
                .instr = o.instr,
                .account = acct,
                .side = o.side,
                .stp = o.stp,
                .limit = price,
                .rem = qty,
                .user = o.user};
    ref_match(r, &t, CH_CMD_REPLACE);
    if (t.rem > 0 && !t.stp_stop && !has && nl >= r->max_levels) {
        ref_restore(r, &s);
        return ref_reject_order(r, CH_CMD_REPLACE, acct, id, nq, np, CH_ECAPACITY);
    }
    free(s.o);
    ref_finish(r, &t, o.filled, true, o.post_only);
    return CH_OK;
}

static void ref_take(ref *r, uint32_t instr, int side, int64_t limit, int64_t qty, uint32_t acct)
{
    r->cmd_seq++;
    rtaker t = {.instr = instr,
                .account = acct,
                .side = side ^ 1,
                .skip_own = true,
                .limit = limit,
                .rem = qty};
    ref_match(r, &t, CH_CMD_TAKE);
}

static void ref_close(ref *r, uint32_t instr)
{
    r->cmd_seq++;
    for (int side = 0; side < 2; side++) {
        long i;
        while ((i = ref_best(r, instr, side, -1)) >= 0) {
            rord *o = &r->o[i];
            ref_emit(r, (ch_event){.type = CH_EV_CANCEL,
                                   .cmd = CH_CMD_CLOSE,
                                   .reason = CH_EEXPIRED,
                                   .side = o->side,
                                   .instr = {o->instr},
                                   .account = {o->account},
                                   .order = rid(o->id),
                                   .price = o->price,
                                   .qty = o->rem,
                                   .user = o->user});
            ref_remove(r, (size_t)i);
        }
    }
    r->closed[instr] = true;
}

/* ---- comparison ---- */
static uint64_t *real_of; /* reference id -> real id */
static size_t real_of_cap;

static uint64_t map_id(uint64_t ref_id)
{
    if (ref_id == 0)
        return 0;
    REQUIRE(ref_id < real_of_cap);
    return real_of[ref_id];
}

static void compare_events(void)
{
    DIFF_ASSERT(real_ev.n == ref_ev.n, "event count real %zu ref %zu", seed0, op_no, real_ev.n,
                ref_ev.n);
    for (size_t i = 0; i < real_ev.n; i++) {
        const ch_event *a = &real_ev.ev[i], *b = &ref_ev.ev[i];
        if (a->type == CH_EV_ACK) {
            REQUIRE(b->order.v < real_of_cap);
            real_of[b->order.v] = a->order.v;
        }
        DIFF_ASSERT(a->type == b->type && a->cmd == b->cmd && a->reason == b->reason,
                    "event %zu type %d/%d cmd %d/%d reason %s/%s", seed0, op_no, i, a->type,
                    b->type, a->cmd, b->cmd, ch_errname(a->reason), ch_errname(b->reason));
        DIFF_ASSERT(a->seq == b->seq && a->cmd_seq == b->cmd_seq, "event %zu seq", seed0, op_no, i);
        DIFF_ASSERT(a->side == b->side && a->instr.v == b->instr.v && a->account.v == b->account.v,
                    "event %zu side/instr/account", seed0, op_no, i);
        DIFF_ASSERT(a->order.v == map_id(b->order.v), "event %zu order id", seed0, op_no, i);
        DIFF_ASSERT(a->price == b->price && a->qty == b->qty && a->remaining == b->remaining,
                    "event %zu price %" PRId64 "/%" PRId64 " qty %" PRId64 "/%" PRId64
                    " rem %" PRId64 "/%" PRId64,
                    seed0, op_no, i, a->price, b->price, a->qty, b->qty, a->remaining,
                    b->remaining);
        DIFF_ASSERT(a->user == b->user && a->maker.v == map_id(b->maker.v) &&
                        a->maker_account.v == b->maker_account.v &&
                        a->maker_remaining == b->maker_remaining &&
                        a->maker_user == b->maker_user && a->trade_id == b->trade_id,
                    "event %zu fill fields", seed0, op_no, i);
    }
}

typedef struct olist {
    ch_order_info o[4096];
    size_t n;
} olist;

static void collect(void *ctx, const ch_order_info *o)
{
    olist *l = ctx;
    REQUIRE(l->n < 4096);
    l->o[l->n++] = *o;
}

static int cmp_rord(const void *x, const void *y)
{
    const rord *a = x, *b = y;
    if (a->price != b->price)
        return (a->side == CH_BUY ? a->price < b->price : a->price > b->price) ? 1 : -1;
    return a->prio < b->prio ? -1 : 1;
}

static void compare_books(ch_book *bk, ref *r)
{
    static olist l;
    static rord tmp[4096];
    for (uint32_t i = 0; i < N_INSTR; i++) {
        for (int side = 0; side < 2; side++) {
            l.n = 0;
            ch_book_foreach(bk, (ch_instr_id){i}, side, collect, &l);
            size_t n = 0;
            for (size_t k = 0; k < r->n; k++)
                if (r->o[k].instr == i && r->o[k].side == side)
                    tmp[n++] = r->o[k];
            qsort(tmp, n, sizeof tmp[0], cmp_rord);
            DIFF_ASSERT(l.n == n, "book %u side %d: %zu orders, reference %zu", seed0, op_no, i,
                        side, l.n, n);
            for (size_t k = 0; k < n; k++) {
                DIFF_ASSERT(l.o[k].id.v == map_id(tmp[k].id) && l.o[k].price == tmp[k].price &&
                                l.o[k].remaining == tmp[k].rem && l.o[k].filled == tmp[k].filled &&
                                l.o[k].account.v == tmp[k].account,
                            "book %u side %d order %zu differs", seed0, op_no, i, side, k);
            }
        }
    }
}

/* ---- the run ---- */
static void run(uint64_t seed, long ops, uint32_t max_orders, uint32_t max_levels,
                ch_level_index index)
{
    seed0 = seed;
    rng = seed ? seed : 1;
    ch_book_config cfg = {.max_instruments = N_INSTR + 1,
                          .max_orders = max_orders,
                          .max_levels = max_levels,
                          .level_index = index,
                          .on_event = on_real,
                          .ctx = &real_ev};
    ch_book *bk = ch_book_create(&cfg);
    ck_assert_ptr_nonnull(bk);
    for (uint32_t i = 0; i < N_INSTR; i++)
        ck_assert_int_eq(ch_book_add_instrument(bk, (ch_instr_id){i}, BAND_MIN, BAND_MAX), CH_OK);
    ref r = {.max_orders = max_orders, .max_levels = max_levels};
    real_of_cap = (size_t)ops + 2;
    real_of = calloc(real_of_cap, sizeof *real_of);
    uint64_t *dead = calloc(1024, sizeof *dead); /* recently gone reference ids */
    size_t ndead = 0;
    long counts[16] = {0};
    for (op_no = 0; op_no < ops; op_no++) {
        real_ev.n = ref_ev.n = 0;
        int roll = (int)rin(0, 999);
        /* the depth the stream aims at varies over time, within capacity */
        size_t want_depth = 60 + (size_t)(op_no / 1000 % 4) * 40;
        if (want_depth > max_orders / 2)
            want_depth = max_orders / 2;
        uint32_t acct = (uint32_t)rin(0, N_ACCT - 1);
        if (op_no == ops * 9 / 10) {
            ck_assert_int_eq(ch_book_close_instrument(bk, (ch_instr_id){N_INSTR - 1}), CH_OK);
            ref_close(&r, N_INSTR - 1);
            counts[9]++;
        } else if (roll < 600 || r.n < want_depth) {
            /* new order */
            ch_order_req q = {.instr = {(uint32_t)(rin(0, 99) < 98 ? rin(0, N_INSTR - 1) : 3)},
                              .account = {acct},
                              .side = (ch_side)rin(0, 1),
                              .stp = (ch_stp)rin(0, 2),
                              .qty = rin(1, 10),
                              .user = rnd() & 0xffff};
            int64_t mid = 64;
            q.price = q.side == CH_BUY ? mid - rin(-3, 12) : mid + rin(-3, 12);
            int kind = (int)rin(0, 99);
            if (kind < 55) {
                q.tif = CH_TIF_GTC;
            } else if (kind < 65) {
                q.tif = CH_TIF_IOC;
            } else if (kind < 75) {
                q.tif = CH_TIF_FOK;
                q.qty = rin(1, 25);
            } else if (kind < 85) {
                q.type = CH_ORD_MARKET;
                q.price = rin(0, 3) == 0 ? 0 : q.price;
                q.tif = rin(0, 4) == 0 ? CH_TIF_FOK : CH_TIF_IOC;
            } else if (kind < 95) {
                q.post_only = true;
            } else {
                /* bad input of some kind */
                switch (rin(0, 6)) {
                case 0:
                    q.qty = -rin(0, 5);
                    break;
                case 1:
                    q.price = rin(0, 1) ? 0 : BAND_MAX + rin(1, 5);
                    break;
                case 2:
                    q.side = (ch_side)rin(2, 9);
                    break;
                case 3:
                    q.tif = (ch_tif)rin(3, 9);
                    break;
                case 4:
                    q.post_only = true;
                    q.tif = CH_TIF_IOC;
                    break;
                case 5:
                    q.qty = CH_QTY_MAX + 1;
                    break;
                default:
                    q.stp = (ch_stp)5;
                    break;
                }
            }
            ch_order_result res;
            ch_err a = ch_book_submit(bk, &q, &res);
            ch_err b = ref_submit(&r, &q);
            DIFF_ASSERT(a == b, "submit %s vs %s", seed0, op_no, ch_errname(a), ch_errname(b));
            counts[a == CH_OK ? 0 : 1]++;
        } else if (roll < 850) {
            /* cancel: mostly a live order, sometimes foreign, gone or bogus */
            int pick = (int)rin(0, 9);
            uint64_t target;
            uint32_t who;
            if (pick < 7 || ndead == 0) {
                rord *o = &r.o[rin(0, (int64_t)r.n - 1)];
                target = o->id;
                who = pick < 6 ? o->account : acct;
            } else {
                target = dead[rin(0, (int64_t)ndead - 1)];
                who = acct;
            }
            ch_order_id real_target = {map_id(target)};
            if (pick == 9)
                real_target.v = target = 0;
            ch_err a = ch_book_cancel(bk, (ch_account_id){who}, real_target, NULL);
            ch_err b = ref_cancel(&r, who, target);
            DIFF_ASSERT(a == b, "cancel %s vs %s", seed0, op_no, ch_errname(a), ch_errname(b));
            if (a == CH_OK && ndead < 1024)
                dead[ndead++] = target;
            counts[a == CH_OK ? 2 : 3]++;
        } else if (roll < 980) {
            rord *o = &r.o[rin(0, (int64_t)r.n - 1)];
            uint64_t target = o->id;
            uint32_t who = rin(0, 19) ? o->account : acct;
            int64_t nq = 0, np = 0;
            switch (rin(0, 5)) {
            case 0:
                nq = rin(1, o->rem);
                break; /* down: keeps priority */
            case 1:
                nq = o->rem + rin(1, 5);
                break; /* up: loses it */
            case 2:
                np = o->price + rin(-4, 4);
                break; /* price */
            case 3:
                nq = rin(1, 12);
                np = o->price + rin(-8, 8);
                break;
            case 4:
                np = o->side == CH_BUY ? 30 + rin(0, 10) : 30 - rin(0, 10);
                break; /* cross */
            default:
                nq = rin(-2, 0);
                np = rin(0, 3) ? 0 : BAND_MAX + 1;
                break;
            }
            if (np < 0)
                np = 0;
            ch_order_result res;
            ch_err a = ch_book_replace(bk, (ch_account_id){who}, (ch_order_id){map_id(target)}, nq,
                                       np, &res);
            ch_err b = ref_replace(&r, who, target, nq, np);
            DIFF_ASSERT(a == b, "replace %s vs %s", seed0, op_no, ch_errname(a), ch_errname(b));
            counts[a == CH_OK ? 4 : 5]++;
        } else {
            uint32_t instr = (uint32_t)rin(0, N_INSTR - 2);
            int side = (int)rin(0, 1);
            int64_t limit = 30 + rin(-8, 8), qty = rin(1, 15), filled;
            ch_err a = ch_book_take(bk, (ch_instr_id){instr}, side, limit, qty,
                                    (ch_account_id){acct}, &filled);
            REQUIRE(a == CH_OK);
            ref_take(&r, instr, side, limit, qty, acct);
            counts[6]++;
        }
        compare_events();
        ch_err chk = ch_book_check(bk);
        DIFF_ASSERT(chk == CH_OK, "integrity check failed", seed0, op_no);
        if (op_no % 5000 == 0)
            compare_books(bk, &r);
    }
    compare_books(bk, &r);
    ch_book_stats st;
    ch_book_get_stats(bk, &st);
    ck_assert_uint_eq(st.trades, r.trades);
    ck_assert_uint_eq(st.open_orders, r.n);
    fprintf(stderr,
            "diff seed=%" PRIu64
            " ops=%ld orders=%u levels=%u index=%d: submits ok %ld rejected %ld, "
            "cancels ok %ld rejected %ld, replaces ok %ld rejected %ld, takes %ld, trades %" PRIu64
            ", open at end %u\n",
            seed, ops, max_orders, max_levels, (int)index, counts[0], counts[1], counts[2],
            counts[3], counts[4], counts[5], counts[6], st.trades, st.open_orders);
    free(dead);
    free(real_of);
    free(r.o);
    ch_book_destroy(bk);
}

static long total_ops(void)
{
    const char *s = getenv("CH_DIFF_OPS");
    long n = s ? strtol(s, NULL, 10) : 1000000;
    return n > 10 ? n : 10;
}

static uint64_t base_seed(void)
{
    const char *s = getenv("CH_DIFF_SEED");
    return s ? strtoull(s, NULL, 10) : UINT64_C(20261125);
}

/* The band (128 ticks) fits in 128 levels: sides are indexed by price. */
START_TEST(roomy_books)
{
    run(base_seed(), total_ops() * 35 / 100, 4096, 128, CH_LEVELS_AUTO);
}
END_TEST

START_TEST(roomy_books_sorted)
{
    run(base_seed() + 2, total_ops() * 35 / 100, 4096, 64, CH_LEVELS_SORTED);
}
END_TEST

/* 5 levels of a 128-tick band: sorted sides, full often. */
START_TEST(tight_capacity)
{
    run(base_seed() + 1, total_ops() * 15 / 100, 48, 5, CH_LEVELS_AUTO);
}
END_TEST

/* The same limit on price-indexed sides: levels counted, not places. */
START_TEST(tight_capacity_by_price)
{
    run(base_seed() + 3, total_ops() * 15 / 100, 48, 5, CH_LEVELS_PRICE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("book_diff");
    TCase *tc = tcase_create("differential");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, roomy_books);
    tcase_add_test(tc, roomy_books_sorted);
    tcase_add_test(tc, tight_capacity);
    tcase_add_test(tc, tight_capacity_by_price);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
