/*
 * book.c - per-instrument limit order books, price-time priority: what
 * changes a book (submit, the engine's split submit, cancel, replace, take,
 * closing). Beside it: levels.h (a side's level index), book_query.c (what
 * the book answers without changing), book_check.c (the invariants below),
 * book_snap.c (snapshots).
 *
 * Layout (all sized before the first order; nothing is allocated after
 * ch_book_add_instrument()):
 *  - one order pool of `max_orders` 64-byte slots (one cache line each),
 *    shared by all instruments, with a free list threaded through `next`;
 *    an order id is (generation << 32) | (slot + 1), so a stale id fails the
 *    generation check and needs no hash table;
 *  - per instrument and side, an array of price levels, worst first and
 *    best LAST, keyed so that "larger key = better price" on both sides
 *    (key = price for bids, -price for asks), taking the best in O(1); it
 *    is either sorted (the levels that hold orders: inserting or removing a
 *    level near the best is a short memmove at the end of the array; finding
 *    a level for a cancel is a hint, where that price's level was last seen,
 *    checked against the key, else a binary search; a level emptied far from
 *    the best stays "dead", with no orders, until many are, then one pass
 *    drops them, so that a stale deep level's cancel does not memmove every
 *    better one) or price-indexed (a level a tick of the band, found by its
 *    price, its empty ticks marked by a bit a tick): see levels.h;
 *  - each level is an intrusive doubly linked FIFO of order slots (O(1)
 *    unlink for cancels) with its total quantity and order count.
 *
 * Invariants (checked by ch_book_check()):
 *  - levels strictly increasing by key (price-indexed: at base + index,
 *    marked where they hold orders); qty and count of a level equal the sum
 *    over its FIFO; the levels with none are the side's `dead`, and the best
 *    level is never one; best bid < best ask;
 *  - every RESTING slot is in exactly one FIFO, of its own instrument, side
 *    and price; every FREE slot is on the free list; no slot is ACTIVE
 *    between commands.
 *
 * Rejects are decided before anything changes: FOK fillability, post-only
 * crossing and the capacity of the level arrays are computed by a read-only
 * walk (would_fill()) that applies the same self-trade rule as the match.
 */
#include "ch/book.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../core/mem.h"
#include "../core/alloc.h"

#include "book_int.h"
#include "levels.h"

/* ---- small helpers ------------------------------------------------------- */

/* Whether an event of @p type reaches the callback. One that does not is
 * not built, only numbered here (ch_book_set_event_mask: a filtered event
 * still takes its number); one that does is numbered by emit(). */
static inline bool wants(ch_book *b, ch_event_type type)
{
    if (b->fn != NULL && (b->ev_mask >> type & 1u))
        return true;
    b->ev_seq++;
    return false;
}

static inline void emit(ch_book *b, ch_event *ev)
{
    ev->seq = ++b->ev_seq;
    ev->cmd_seq = b->cmd_seq;
    if (b->fn != NULL && (b->ev_mask >> ev->type & 1u))
        b->fn(b->ctx, ev);
}

static uint32_t slot_alloc(ch_book *b)
{
    uint32_t s = b->free_head;
    order *o = &b->orders[s];
    b->free_head = o->next;
    b->n_free--;
    o->state = SLOT_ACTIVE;
    o->next = o->prev = NIL;
    return s;
}

static void slot_free(ch_book *b, uint32_t s)
{
    order *o = &b->orders[s];
    o->state = SLOT_FREE;
    /* generation 1 is a slot never taken (snapshots rely on it): a wrap skips it */
    o->gen = o->gen == UINT32_MAX ? 2 : o->gen + 1;
    o->next = b->free_head;
    o->prev = NIL;
    b->free_head = s;
    b->n_free++;
}

/* Unlink slot s from level lv (the level itself stays, maybe empty). */
static void fifo_unlink(ch_book *b, level *lv, uint32_t s)
{
    order *o = &b->orders[s];
    if (o->prev != NIL) {
        b->orders[o->prev].next = o->next;
    } else {
        lv->head = o->next;
        lv->head_account = o->next != NIL ? b->orders[o->next].account : NIL;
    }
    if (o->next != NIL)
        b->orders[o->next].prev = o->prev;
    else
        lv->tail = o->prev;
    lv->qty -= o->remaining;
    lv->count--;
    o->next = o->prev = NIL;
}

static void fifo_append(ch_book *b, level *lv, uint32_t s)
{
    order *o = &b->orders[s];
    o->next = NIL;
    o->prev = lv->tail;
    if (lv->tail != NIL)
        b->orders[lv->tail].next = s;
    else {
        lv->head = s;
        lv->head_account = o->account;
    }
    lv->tail = s;
    lv->qty += o->remaining;
    lv->count++;
}

/* Put ACTIVE slot s on its book at its price, at the back of the queue.
 * The caller has checked that a new level fits. */
static void rest(ch_book *b, ibook *bk, uint32_t s)
{
    order *o = &b->orders[s];
    side_book *sd = &bk->s[o->side];
    bool found;
    int64_t key = key_of(o->side, o->price);
    uint32_t i = lv_find(sd, key, &found);
    if (found) {
        if (sd->lv[i].count == 0)
            lv_revived(sd, i);
    } else {
        i = lv_open(sd, i, key, b->max_levels);
    }
    o->state = SLOT_RESTING;
    o->priority = b->cmd_seq;
    fifo_append(b, &sd->lv[i], s);
    b->open_orders++;
}

/* Take RESTING slot s off the book (level removed if emptied); it becomes ACTIVE. */
static void unrest(ch_book *b, ibook *bk, uint32_t s)
{
    order *o = &b->orders[s];
    side_book *sd = &bk->s[o->side];
    bool found;
    uint32_t i = lv_find(sd, key_of(o->side, o->price), &found);
    assert(found && o->state == SLOT_RESTING); /* a resting order has its level */
    fifo_unlink(b, &sd->lv[i], s);
    if (sd->lv[i].count == 0) {
        lv_emptied(sd, i);
        lv_tidy(sd);
    }
    o->state = SLOT_ACTIVE;
    b->open_orders--;
}

static void emit_cancel(ch_book *b, ch_cmd cmd, uint32_t s, int64_t qty, ch_err reason)
{
    const order *o = &b->orders[s];
    if (wants(b, CH_EV_CANCEL)) {
        ch_event ev = {.type = CH_EV_CANCEL,
                       .cmd = cmd,
                       .reason = reason,
                       .side = (ch_side)o->side,
                       .instr = {o->instr},
                       .account = {o->account},
                       .order = make_id(b, s),
                       .price = o->price,
                       .qty = qty,
                       .user = o->user};
        emit(b, &ev);
    }
}

/* ---- the match ------------------------------------------------------------ */

typedef struct taker {
    uint32_t slot; /* NIL for ch_book_take() */
    uint32_t account;
    int side;
    ch_stp stp;
    bool skip_own; /* ch_book_take(): own resting orders are passed over */
    int64_t limit;
    int64_t remaining;
    int64_t filled;
    bool stp_stop; /* stopped by self-trade prevention: remainder cancelled */
} taker;

static inline bool crosses(int taker_side, int64_t limit, int64_t px)
{
    return taker_side == CH_BUY ? px <= limit : px >= limit;
}

/*
 * Read-only walk: how much of `want` would trade now against the other side
 * for a taker (side, limit, account, stp, skip_own), and whether the walk
 * would stop at a self-trade (stp_stop).
 */
static int64_t would_fill(const ch_book *b, const ibook *bk, const taker *t, int64_t want,
                          bool *stp_stop)
{
    const side_book *os = &bk->s[t->side ^ 1];
    int64_t sum = 0;
    *stp_stop = false;
    for (uint32_t li = os->n - 1; li != NIL; li = lv_below(os, li)) { /* from the best */
        const level *lv = &os->lv[li];
        if (!crosses(t->side, t->limit, price_of(t->side ^ 1, lv->key)))
            break;
        for (uint32_t s = lv->head; s != NIL; s = b->orders[s].next) {
            const order *m = &b->orders[s];
            if (m->account == t->account) {
                if (t->skip_own || t->stp == CH_STP_CANCEL_RESTING)
                    continue;
                *stp_stop = true;
                return sum;
            }
            sum += m->remaining;
            if (sum >= want)
                return want;
        }
    }
    return sum;
}

static void match(ch_book *b, ibook *bk, uint32_t instr, taker *t, ch_cmd cmd, uint64_t user)
{
    side_book *os = &bk->s[t->side ^ 1];
    int mside = t->side ^ 1;
    ch_order_id tid = {0};
    if (t->slot != NIL)
        tid = make_id(b, t->slot);
    for (uint32_t li = os->n - 1; li != NIL && t->remaining > 0; li = lv_below(os, li)) {
        level *lv = &os->lv[li];
        int64_t px = price_of(mside, lv->key);
        if (!crosses(t->side, t->limit, px))
            break;
        if (lv->count == 0)
            continue; /* dead */
        uint32_t s = lv->head;
        while (s != NIL && t->remaining > 0) {
            order *m = &b->orders[s];
            uint32_t next = m->next;
            if (m->account == t->account) {
                if (t->skip_own) {
                    s = next;
                    continue;
                }
                if (t->stp == CH_STP_CANCEL_INCOMING) {
                    t->stp_stop = true;
                    break;
                }
                /* CANCEL_RESTING or CANCEL_BOTH: the resting order goes */
                int64_t q = m->remaining;
                fifo_unlink(b, lv, s);
                b->open_orders--;
                emit_cancel(b, cmd, s, q, CH_ESELF_TRADE);
                slot_free(b, s);
                if (t->stp == CH_STP_CANCEL_BOTH) {
                    t->stp_stop = true;
                    break;
                }
                s = next;
                continue;
            }
            int64_t q = t->remaining < m->remaining ? t->remaining : m->remaining;
            m->remaining -= q;
            m->filled += q;
            lv->qty -= q;
            t->remaining -= q;
            t->filled += q;
            uint64_t trade = ++b->trades; /* counted whether or not it is delivered */
            if (wants(b, CH_EV_FILL)) {
                ch_event ev = {.type = CH_EV_FILL,
                               .cmd = cmd,
                               .side = (ch_side)t->side,
                               .instr = {instr},
                               .account = {t->account},
                               .order = tid,
                               .price = px,
                               .qty = q,
                               .remaining = t->remaining,
                               .user = user,
                               .maker = make_id(b, s),
                               .maker_account = {m->account},
                               .maker_remaining = m->remaining,
                               .maker_user = m->user,
                               .trade_id = trade};
                emit(b, &ev);
            }
            if (m->remaining == 0) {
                fifo_unlink(b, lv, s);
                b->open_orders--;
                slot_free(b, s);
            }
            s = next;
        }
        if (lv->count == 0) {
            lv_emptied(os, li); /* levels below li keep their index... */
            if (li > os->n)
                li = os->n; /* ...unless dead ones under it went with it */
        }
        if (t->stp_stop)
            break;
    }
    lv_tidy(os);
}

/* ---- public API ----------------------------------------------------------- */

ch_book *ch_book_create(const ch_book_config *cfg)
{
    if (cfg == NULL || cfg->max_orders == 0 || cfg->max_orders >= (1u << 31) ||
        cfg->max_instruments == 0 || cfg->max_instruments >= (1u << 24) || cfg->max_levels == 0 ||
        cfg->max_levels >= (1u << 24) || (unsigned)cfg->level_index > CH_LEVELS_PRICE)
        return NULL;
    ch_book *b = ch_calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->orders = ch_table_alloc(cfg->max_orders, sizeof *b->orders); /* huge pages if offered */
    b->books = ch_calloc(cfg->max_instruments, sizeof *b->books);
    if (b->orders == NULL || b->books == NULL) {
        ch_book_destroy(b);
        return NULL;
    }
    b->max_orders = cfg->max_orders;
    b->max_instr = cfg->max_instruments;
    b->max_levels = cfg->max_levels;
    b->level_index = cfg->level_index;
    b->fn = cfg->on_event;
    b->ctx = cfg->ctx;
    b->ev_mask = CH_EV_ALL;
    /* free list in slot order so that ids are predictable for a fresh book */
    for (uint32_t i = 0; i < b->max_orders; i++) {
        b->orders[i].gen = 1;
        b->orders[i].next = i + 1 < b->max_orders ? i + 1 : NIL;
        b->orders[i].prev = NIL;
    }
    b->free_head = 0;
    b->n_free = b->max_orders;
    return b;
}

void ch_book_destroy(ch_book *b)
{
    if (b == NULL)
        return;
    if (b->books != NULL) {
        for (uint32_t i = 0; i < b->max_instr; i++) {
            lv_side_close(&b->books[i].s[0]);
            lv_side_close(&b->books[i].s[1]);
        }
    }
    free(b->books);
    free(b->orders);
    free(b);
}

void ch_book_set_sink(ch_book *b, ch_event_fn on_event, void *ctx)
{
    b->fn = on_event;
    b->ctx = ctx;
}

void ch_book_set_event_mask(ch_book *b, uint32_t mask)
{
    b->ev_mask = mask;
}

ch_err ch_book_add_instrument(ch_book *b, ch_instr_id id, int64_t min_price, int64_t max_price)
{
    if (id.v >= b->max_instr)
        return CH_ERANGE;
    ibook *bk = &b->books[id.v];
    if (bk->state != BOOK_ABSENT)
        return CH_EEXISTS;
    if (min_price < 1 || max_price < min_price || max_price > CH_PRICE_MAX)
        return CH_EBADCONFIG;
    /* price-indexed when asked, or when the band's ticks fit in the levels a
     * sorted side would reserve and in CH_LEVELS_PRICE_MAX (CH_LEVELS_AUTO) */
    uint64_t band = (uint64_t)(max_price - min_price) + 1;
    bool by_price =
        b->level_index == CH_LEVELS_PRICE ||
        (b->level_index == CH_LEVELS_AUTO && band <= b->max_levels && band <= CH_LEVELS_PRICE_MAX);
    if (by_price && band > CH_LEVELS_PRICE_MAX)
        return CH_EBADCONFIG;
    side_book sd[2];
    /* keys: bids price, asks -price (a larger key is better) */
    bool ok0 = by_price ? lv_side_open_indexed(&sd[0], min_price, (uint32_t)band)
                        : lv_side_open(&sd[0], b->max_levels),
         ok1 = by_price ? lv_side_open_indexed(&sd[1], -max_price, (uint32_t)band)
                        : lv_side_open(&sd[1], b->max_levels);
    if (!ok0 || !ok1) {
        lv_side_close(&sd[0]);
        lv_side_close(&sd[1]);
        return CH_ENOMEM;
    }
    bk->s[0] = sd[0];
    bk->s[1] = sd[1];
    bk->min_price = min_price;
    bk->max_price = max_price;
    bk->state = BOOK_OPEN;
    return CH_OK;
}

void ch_book_prefetch(const ch_book *b, ch_instr_id id)
{
#if defined(__GNUC__)
    if (id.v >= b->max_instr)
        return;
    const ibook *bk = &b->books[id.v];
    for (int side = 0; side < 2; side++) {
        const side_book *sd = &bk->s[side];
        if (sd->n > 0) {
            __builtin_prefetch(&sd->lv[sd->n - 1]);
            __builtin_prefetch((const char *)&sd->lv[sd->n - 1] - 64);
        }
    }
#else
    (void)b;
    (void)id;
#endif
}

static ch_err reject_submit(ch_book *b, const ch_order_req *r, ch_err why, ch_order_result *res)
{
    if (wants(b, CH_EV_REJECT)) {
        ch_event ev = {.type = CH_EV_REJECT,
                       .cmd = CH_CMD_SUBMIT,
                       .reason = why,
                       .side = r->side,
                       .instr = r->instr,
                       .account = r->account,
                       .price = r->price,
                       .qty = r->qty,
                       .user = r->user};
        emit(b, &ev);
    }
    if (res != NULL) {
        memset(res, 0, sizeof *res);
        res->status = CH_STATUS_REJECTED;
    }
    return why;
}

/* Would a new level be needed on `side` at `price`, with no room for it? */
static bool level_full(const ch_book *b, const ibook *bk, int side, int64_t price, uint32_t freed)
{
    const side_book *sd = &bk->s[side];
    if (sd->n - sd->dead - freed < b->max_levels)
        return false; /* room for a new level (rest() compacts the dead): no need to look */
    bool found;
    uint32_t i = lv_find(sd, key_of(side, price), &found);
    return !found || sd->lv[i].count == 0; /* a dead level revived is one more */
}

static inline __attribute__((always_inline)) void
finish(ch_book *b, ibook *bk, uint32_t s, taker *t, ch_cmd cmd, bool can_rest, ch_order_result *res)
{
    order *o = &b->orders[s];
    o->remaining = t->remaining;
    o->filled += t->filled;
    int64_t cancelled = 0;
    ch_order_id id = make_id(b, s);
    if (t->remaining > 0 && can_rest && !t->stp_stop) {
        rest(b, bk, s);
        if (wants(b, CH_EV_REST)) {
            ch_event ev = {.type = CH_EV_REST,
                           .cmd = cmd,
                           .side = (ch_side)o->side,
                           .instr = {o->instr},
                           .account = {o->account},
                           .order = id,
                           .price = o->price,
                           .remaining = o->remaining,
                           .user = o->user};
            emit(b, &ev);
        }
    } else {
        if (t->remaining > 0) {
            cancelled = t->remaining;
            emit_cancel(b, cmd, s, cancelled, t->stp_stop ? CH_ESELF_TRADE : CH_OK);
        }
        o->remaining = 0;
    }
    if (res != NULL) {
        res->id = id;
        res->filled = t->filled;
        res->cancelled = cancelled;
        if (o->state == SLOT_RESTING) {
            res->remaining = o->remaining;
            res->status = o->filled > 0 ? CH_STATUS_PARTIALLY_FILLED : CH_STATUS_NEW;
        } else {
            res->remaining = 0;
            res->status = cancelled > 0 ? CH_STATUS_CANCELLED : CH_STATUS_FILLED;
        }
    }
    if (o->state != SLOT_RESTING)
        slot_free(b, s);
}

/* The checks every new order passes (submit and open): CH_OK or why not. */
static ch_err validate(const ch_book *b, const ch_order_req *r, int64_t *limit_out)
{
    const ibook *bk = book_of(b, r->instr);
    if (bk == NULL)
        return CH_EUNKNOWN_SYMBOL;
    if (bk->state != BOOK_OPEN)
        return CH_EEXPIRED;
    if (r->side != CH_BUY && r->side != CH_SELL)
        return CH_EBADSIDE;
    if ((r->type != CH_ORD_LIMIT && r->type != CH_ORD_MARKET) ||
        (r->tif != CH_TIF_GTC && r->tif != CH_TIF_IOC && r->tif != CH_TIF_FOK) ||
        (r->stp != CH_STP_CANCEL_INCOMING && r->stp != CH_STP_CANCEL_RESTING &&
         r->stp != CH_STP_CANCEL_BOTH) ||
        (r->post_only && (r->type != CH_ORD_LIMIT || r->tif != CH_TIF_GTC)))
        return CH_EBADTYPE;
    if (r->qty <= 0 || r->qty > CH_QTY_MAX)
        return CH_EBADQTY;
    int64_t limit = r->price;
    if (r->type == CH_ORD_MARKET && limit == 0)
        limit = r->side == CH_BUY ? bk->max_price : bk->min_price;
    if (limit < bk->min_price || limit > bk->max_price)
        return CH_EBADPRICE;
    if (b->n_free == 0)
        return CH_ECAPACITY;
    *limit_out = limit;
    return CH_OK;
}

/* Take a slot for a validated order and emit its ACK. */
static uint32_t open_slot(ch_book *b, const ch_order_req *r, int64_t limit)
{
    uint32_t s = slot_alloc(b);
    order *o = &b->orders[s];
    o->price = limit;
    o->remaining = r->qty;
    o->filled = 0;
    o->priority = b->cmd_seq;
    o->user = r->user;
    o->instr = r->instr.v;
    o->account = r->account.v;
    o->side = (uint8_t)r->side;
    o->stp = (uint8_t)r->stp;
    o->post_only = r->post_only;
    /* the tif/type decide whether it may rest: kept in the spare state bits */
    o->state = SLOT_ACTIVE;
    if (wants(b, CH_EV_ACK)) {
        ch_event ack = {.type = CH_EV_ACK,
                        .cmd = CH_CMD_SUBMIT,
                        .side = r->side,
                        .instr = r->instr,
                        .account = r->account,
                        .order = make_id(b, s),
                        .price = limit,
                        .qty = r->qty,
                        .remaining = r->qty,
                        .user = r->user};
        emit(b, &ack);
    }
    return s;
}

ch_err ch_book_submit(ch_book *b, const ch_order_req *r, ch_order_result *res)
{
    b->cmd_seq++;
    int64_t limit = 0;
    ch_err e = validate(b, r, &limit);
    if (e != CH_OK)
        return reject_submit(b, r, e, res);
    ibook *bk = &b->books[r->instr.v];
    bool can_rest = r->type == CH_ORD_LIMIT && r->tif == CH_TIF_GTC;
    taker t = {.slot = NIL,
               .account = r->account.v,
               .side = r->side,
               .stp = r->stp,
               .limit = limit,
               .remaining = r->qty};
    if (r->post_only) {
        int64_t bp, bq;
        if (ch_book_best(b, r->instr, (ch_side)(r->side ^ 1), &bp, &bq) == CH_OK &&
            crosses(r->side, limit, bp))
            return reject_submit(b, r, CH_EPOST_ONLY, res);
    }
    if (r->tif == CH_TIF_FOK || (can_rest && level_full(b, bk, r->side, limit, 0))) {
        bool stop;
        int64_t f = would_fill(b, bk, &t, r->qty, &stop);
        if (r->tif == CH_TIF_FOK && f < r->qty)
            return reject_submit(b, r, CH_EFOK, res);
        if (can_rest && f < r->qty && !stop)
            return reject_submit(b, r, CH_ECAPACITY, res);
    }
    uint32_t s = open_slot(b, r, limit);
    t.slot = s;
    match(b, bk, r->instr.v, &t, CH_CMD_SUBMIT, r->user);
    finish(b, bk, s, &t, CH_CMD_SUBMIT, can_rest, res);
    return CH_OK;
}

/* ---- split submit --------------------------------------------------------- */

/* Open orders remember whether they may rest and whether STP stopped them in
 * two bits of `post_only` (bit 0 stays the post-only flag). */
enum { OPEN_CAN_REST = 2, OPEN_STP_STOP = 4 };

static uint32_t open_slot_of(const ch_book *b, ch_order_id id)
{
    return live_slot(b, id, SLOT_ACTIVE);
}

ch_err ch_book_open_order(ch_book *b, const ch_order_req *r, ch_order_id *id)
{
    b->cmd_seq++;
    int64_t limit = 0;
    ch_err e = validate(b, r, &limit);
    if (e != CH_OK)
        return reject_submit(b, r, e, NULL);
    uint32_t s = open_slot(b, r, limit);
    if (r->type == CH_ORD_LIMIT && r->tif == CH_TIF_GTC)
        b->orders[s].post_only |= OPEN_CAN_REST;
    *id = make_id(b, s);
    return CH_OK;
}

ch_err ch_book_match_open(ch_book *b, ch_order_id id, int64_t limit, int64_t max_qty,
                          int64_t *filled, bool *stopped)
{
    uint32_t s = open_slot_of(b, id);
    if (filled != NULL)
        *filled = 0;
    if (stopped != NULL)
        *stopped = false;
    if (s == NIL)
        return CH_EUNKNOWN_ORDER;
    order *o = &b->orders[s];
    if (o->post_only & OPEN_STP_STOP) {
        if (stopped != NULL)
            *stopped = true;
        return CH_OK;
    }
    int64_t lim = o->side == CH_BUY ? (limit < o->price ? limit : o->price)
                                    : (limit > o->price ? limit : o->price);
    int64_t q = max_qty < o->remaining ? max_qty : o->remaining;
    if (q <= 0)
        return CH_OK;
    taker t = {.slot = s,
               .account = o->account,
               .side = o->side,
               .stp = (ch_stp)o->stp,
               .limit = lim,
               .remaining = q};
    match(b, &b->books[o->instr], o->instr, &t, CH_CMD_SUBMIT, o->user);
    o->remaining -= t.filled;
    o->filled += t.filled;
    if (t.stp_stop)
        o->post_only |= OPEN_STP_STOP;
    if (filled != NULL)
        *filled = t.filled;
    if (stopped != NULL)
        *stopped = t.stp_stop;
    return CH_OK;
}

ch_err ch_book_fill_open(ch_book *b, ch_order_id id, int64_t qty)
{
    uint32_t s = open_slot_of(b, id);
    if (s == NIL)
        return CH_EUNKNOWN_ORDER;
    order *o = &b->orders[s];
    if (qty <= 0 || qty > o->remaining)
        return CH_EBADQTY;
    o->remaining -= qty;
    o->filled += qty;
    return CH_OK;
}

int64_t ch_book_open_remaining(const ch_book *b, ch_order_id id)
{
    uint32_t s = open_slot_of(b, id);
    return s == NIL ? 0 : b->orders[s].remaining;
}

ch_err ch_book_close_order(ch_book *b, ch_order_id id, ch_order_result *res)
{
    uint32_t s = open_slot_of(b, id);
    if (s == NIL)
        return CH_EUNKNOWN_ORDER;
    order *o = &b->orders[s];
    ibook *bk = &b->books[o->instr];
    bool can_rest = (o->post_only & OPEN_CAN_REST) != 0;
    bool stop = (o->post_only & OPEN_STP_STOP) != 0;
    o->post_only &= 1;
    int64_t filled = o->filled;
    taker t = {.slot = s, .side = o->side, .remaining = o->remaining, .stp_stop = stop};
    if (can_rest && !stop && o->remaining > 0 && level_full(b, bk, o->side, o->price, 0)) {
        /* no level left for the remainder: cancelled, fills stand */
        int64_t q = o->remaining;
        emit_cancel(b, CH_CMD_SUBMIT, s, q, CH_ECAPACITY);
        if (res != NULL) {
            res->id = id;
            res->filled = filled;
            res->cancelled = q;
            res->remaining = 0;
            res->status = CH_STATUS_CANCELLED;
        }
        slot_free(b, s);
        return CH_OK;
    }
    /* finish() adds t.filled to o->filled: the fills are already counted */
    o->filled = 0;
    finish(b, bk, s, &t, CH_CMD_SUBMIT, can_rest, res);
    if (o->state == SLOT_RESTING) {
        o->filled = filled;
        if (res != NULL)
            res->status = filled > 0 ? CH_STATUS_PARTIALLY_FILLED : CH_STATUS_NEW;
    }
    if (res != NULL)
        res->filled = filled;
    return CH_OK;
}

int64_t ch_book_fillable(const ch_book *b, ch_instr_id id, ch_side taker_side, int64_t limit,
                         ch_account_id account, ch_stp stp, bool skip_own, int64_t want,
                         bool *stp_stop)
{
    const ibook *bk = book_of(b, id);
    bool stop = false;
    int64_t f = 0;
    if (bk != NULL && want > 0 && (taker_side == CH_BUY || taker_side == CH_SELL)) {
        taker t = {.slot = NIL,
                   .account = account.v,
                   .side = taker_side,
                   .stp = stp,
                   .skip_own = skip_own,
                   .limit = limit};
        f = would_fill(b, bk, &t, want, &stop);
    }
    if (stp_stop != NULL)
        *stp_stop = stop;
    return f;
}

static ch_err reject_order(ch_book *b, ch_cmd cmd, ch_account_id account, ch_order_id id,
                           int64_t qty, int64_t price, ch_err why, ch_order_result *res)
{
    if (wants(b, CH_EV_REJECT)) {
        ch_event ev = {.type = CH_EV_REJECT,
                       .cmd = cmd,
                       .reason = why,
                       .account = account,
                       .order = id,
                       .price = price,
                       .qty = qty};
        uint32_t s = slot_of(b, id);
        if (s != NIL) {
            ev.instr.v = b->orders[s].instr;
            ev.side = (ch_side)b->orders[s].side;
            ev.user = b->orders[s].user;
        }
        emit(b, &ev);
    }
    if (res != NULL) {
        memset(res, 0, sizeof *res);
        res->id = id;
        res->status = CH_STATUS_REJECTED;
    }
    return why;
}

ch_err ch_book_cancel(ch_book *b, ch_account_id account, ch_order_id id, int64_t *cancelled)
{
    b->cmd_seq++;
    if (cancelled != NULL)
        *cancelled = 0;
    uint32_t s = slot_of(b, id);
    if (s == NIL)
        return reject_order(b, CH_CMD_CANCEL, account, id, 0, 0, CH_EUNKNOWN_ORDER, NULL);
    order *o = &b->orders[s];
    if (o->account != account.v)
        return reject_order(b, CH_CMD_CANCEL, account, id, 0, 0, CH_ENOT_OWNER, NULL);
    int64_t q = o->remaining;
    unrest(b, &b->books[o->instr], s);
    emit_cancel(b, CH_CMD_CANCEL, s, q, CH_OK);
    slot_free(b, s);
    if (cancelled != NULL)
        *cancelled = q;
    return CH_OK;
}

ch_err ch_book_replace(ch_book *b, ch_account_id account, ch_order_id id, int64_t new_qty,
                       int64_t new_price, ch_order_result *res)
{
    b->cmd_seq++;
    uint32_t s = slot_of(b, id);
    if (s == NIL)
        return reject_order(b, CH_CMD_REPLACE, account, id, new_qty, new_price, CH_EUNKNOWN_ORDER,
                            res);
    order *o = &b->orders[s];
    ibook *bk = &b->books[o->instr];
    if (o->account != account.v)
        return reject_order(b, CH_CMD_REPLACE, account, id, new_qty, new_price, CH_ENOT_OWNER, res);
    if (new_qty == 0 && new_price == 0)
        return reject_order(b, CH_CMD_REPLACE, account, id, new_qty, new_price, CH_EINVAL, res);
    if (new_qty < 0 || new_qty > CH_QTY_MAX)
        return reject_order(b, CH_CMD_REPLACE, account, id, new_qty, new_price, CH_EBADQTY, res);
    if (new_price != 0 && (new_price < bk->min_price || new_price > bk->max_price))
        return reject_order(b, CH_CMD_REPLACE, account, id, new_qty, new_price, CH_EBADPRICE, res);
    int64_t qty = new_qty != 0 ? new_qty : o->remaining;
    int64_t price = new_price != 0 ? new_price : o->price;
    ch_event rev = {.type = CH_EV_REPLACE,
                    .cmd = CH_CMD_REPLACE,
                    .side = (ch_side)o->side,
                    .instr = {o->instr},
                    .account = account,
                    .order = id,
                    .price = price,
                    .qty = qty,
                    .remaining = qty,
                    .user = o->user};

    if (price == o->price) {
        side_book *sd = &bk->s[o->side];
        bool found;
        level *lv = &sd->lv[lv_find(sd, key_of(o->side, price), &found)];
        if (qty <= o->remaining) { /* keeps its place in the queue */
            lv->qty -= o->remaining - qty;
            o->remaining = qty;
        } else { /* loses it: to the back of the same level */
            fifo_unlink(b, lv, s);
            o->remaining = qty;
            fifo_append(b, lv, s);
            o->priority = b->cmd_seq;
        }
        emit(b, &rev);
        if (res != NULL) {
            res->id = id;
            res->filled = 0;
            res->cancelled = 0;
            res->remaining = o->remaining;
            res->status = o->filled > 0 ? CH_STATUS_PARTIALLY_FILLED : CH_STATUS_NEW;
        }
        return CH_OK;
    }

    /* new price: leaves its level and re-enters as an incoming limit order */
    taker t = {.slot = s,
               .account = o->account,
               .side = o->side,
               .stp = (ch_stp)o->stp,
               .limit = price,
               .remaining = qty};
    int64_t bp, bq;
    bool crossing =
        ch_book_best(b, (ch_instr_id){o->instr}, (ch_side)(o->side ^ 1), &bp, &bq) == CH_OK &&
        crosses(o->side, price, bp);
    if (crossing && o->post_only)
        return reject_order(b, CH_CMD_REPLACE, account, id, new_qty, new_price, CH_EPOST_ONLY, res);
    {
        /* would the order need a new level with none free? its old level is
         * freed if it is alone there */
        side_book *sd = &bk->s[o->side];
        bool found;
        uint32_t oi = lv_find(sd, key_of(o->side, o->price), &found);
        uint32_t freed = sd->lv[oi].count == 1 ? 1 : 0;
        if (level_full(b, bk, o->side, price, freed)) {
            bool stop = false;
            int64_t f = crossing ? would_fill(b, bk, &t, qty, &stop) : 0;
            if (f < qty && !stop)
                return reject_order(b, CH_CMD_REPLACE, account, id, new_qty, new_price,
                                    CH_ECAPACITY, res);
        }
    }
    unrest(b, bk, s);
    o->price = price;
    o->remaining = qty;
    emit(b, &rev);
    match(b, bk, o->instr, &t, CH_CMD_REPLACE, o->user);
    finish(b, bk, s, &t, CH_CMD_REPLACE, true, res);
    return CH_OK;
}

ch_err ch_book_close_instrument(ch_book *b, ch_instr_id id)
{
    b->cmd_seq++;
    ibook *bk = book_of(b, id);
    if (bk == NULL)
        return CH_EUNKNOWN_SYMBOL;
    for (int side = 0; side < 2; side++) {
        side_book *sd = &bk->s[side];
        for (uint32_t li = sd->n - 1; li != NIL; li = lv_below(sd, li)) { /* best first */
            level *lv = &sd->lv[li];
            while (lv->head != NIL) { /* oldest first */
                uint32_t s = lv->head;
                int64_t q = b->orders[s].remaining;
                fifo_unlink(b, lv, s);
                b->open_orders--;
                emit_cancel(b, CH_CMD_CLOSE, s, q, CH_EEXPIRED);
                slot_free(b, s);
            }
        }
        lv_side_emptied(sd);
    }
    bk->state = BOOK_CLOSED;
    return CH_OK;
}

ch_err ch_book_take(ch_book *b, ch_instr_id id, ch_side side, int64_t limit, int64_t qty,
                    ch_account_id account, int64_t *filled)
{
    b->cmd_seq++;
    if (filled != NULL)
        *filled = 0;
    ibook *bk = book_of(b, id);
    if (bk == NULL)
        return CH_EUNKNOWN_SYMBOL;
    if (bk->state != BOOK_OPEN)
        return CH_EEXPIRED;
    if (qty <= 0 || qty > CH_QTY_MAX || (side != CH_BUY && side != CH_SELL))
        return CH_EBADQTY;
    /* `side` is the side of the resting orders taken; the taker is opposite */
    taker t = {.slot = NIL,
               .account = account.v,
               .side = side ^ 1,
               .skip_own = true,
               .limit = limit,
               .remaining = qty};
    match(b, bk, id.v, &t, CH_CMD_TAKE, 0);
    if (filled != NULL)
        *filled = t.filled;
    return CH_OK;
}

ch_err ch_book_set_user(ch_book *b, ch_order_id id, uint64_t user)
{
    uint32_t s = live_slot(b, id, SLOT_LIVE); /* resting or open */
    if (s == NIL)
        return CH_EUNKNOWN_ORDER;
    b->orders[s].user = user;
    return CH_OK;
}
