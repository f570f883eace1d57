/*
 * book_query.c - what the book answers without changing: the best price
 * (and the best another account offers), depth, one order, every order of
 * a side, counters, and the names of sides and statuses.
 */
#include "ch/book.h"

#include "book_int.h"
#include "levels.h"

ch_err ch_book_best(const ch_book *b, ch_instr_id id, ch_side side, int64_t *price, int64_t *qty)
{
    const ibook *bk = book_of(b, id);
    if (bk == NULL || (side != CH_BUY && side != CH_SELL) || bk->s[side].n == 0)
        return CH_ENOTFOUND;
    const level *lv = &bk->s[side].lv[bk->s[side].n - 1];
    *price = price_of(side, lv->key);
    *qty = lv->qty;
    return CH_OK;
}

ch_err ch_book_best_other(const ch_book *b, ch_instr_id id, ch_side side, ch_account_id account,
                          int64_t *price, int64_t *qty)
{
    const ibook *bk = book_of(b, id);
    if (bk == NULL || (side != CH_BUY && side != CH_SELL))
        return CH_ENOTFOUND;
    const side_book *sd = &bk->s[side];
    for (uint32_t li = sd->n - 1; li != NIL; li = lv_below(sd, li)) { /* from the best */
        /* the first order of another account decides; the level's total is
         * an upper bound of what others offer there (ch_book_take skips the
         * account's own orders) */
        if (sd->lv[li].count == 0)
            continue;                               /* dead */
        if (sd->lv[li].head_account != account.v) { /* the common case */
            *price = price_of(side, sd->lv[li].key);
            *qty = sd->lv[li].qty;
            return CH_OK;
        }
        for (uint32_t s = sd->lv[li].head; s != NIL; s = b->orders[s].next) {
            if (b->orders[s].account != account.v) {
                *price = price_of(side, sd->lv[li].key);
                *qty = sd->lv[li].qty;
                return CH_OK;
            }
        }
    }
    return CH_ENOTFOUND;
}

size_t ch_book_depth(const ch_book *b, ch_instr_id id, ch_side side, ch_level *out, size_t max)
{
    const ibook *bk = book_of(b, id);
    if (bk == NULL || (side != CH_BUY && side != CH_SELL))
        return 0;
    const side_book *sd = &bk->s[side];
    size_t n = 0;
    for (uint32_t i = sd->n - 1; i != NIL && n < max; i = lv_below(sd, i)) {
        if (sd->lv[i].count == 0)
            continue; /* dead */
        out[n].price = price_of(side, sd->lv[i].key);
        out[n].qty = sd->lv[i].qty;
        out[n].orders = sd->lv[i].count;
        n++;
    }
    return n;
}

static void info_of(const ch_book *b, uint32_t s, ch_order_info *out)
{
    const order *o = &b->orders[s];
    out->id = make_id(b, s);
    out->instr.v = o->instr;
    out->account.v = o->account;
    out->side = (ch_side)o->side;
    out->stp = (ch_stp)o->stp;
    out->post_only = o->post_only != 0;
    out->price = o->price;
    out->remaining = o->remaining;
    out->filled = o->filled;
    out->priority = o->priority;
    out->user = o->user;
}

ch_err ch_book_order(const ch_book *b, ch_order_id id, ch_order_info *out)
{
    uint32_t s = slot_of(b, id);
    if (s == NIL)
        return CH_EUNKNOWN_ORDER;
    info_of(b, s, out);
    return CH_OK;
}

void ch_book_foreach(const ch_book *b, ch_instr_id id, ch_side side,
                     void (*fn)(void *ctx, const ch_order_info *o), void *ctx)
{
    const ibook *bk = book_of(b, id);
    if (bk == NULL || (side != CH_BUY && side != CH_SELL))
        return;
    const side_book *sd = &bk->s[side];
    for (uint32_t i = sd->n - 1; i != NIL; i = lv_below(sd, i)) {
        for (uint32_t s = sd->lv[i].head; s != NIL; s = b->orders[s].next) {
            ch_order_info info;
            info_of(b, s, &info);
            fn(ctx, &info);
        }
    }
}

void ch_book_get_stats(const ch_book *b, ch_book_stats *out)
{
    out->commands = b->cmd_seq;
    out->events = b->ev_seq;
    out->trades = b->trades;
    out->open_orders = b->open_orders;
    out->free_orders = b->n_free;
}

const char *ch_side_name(ch_side s)
{
    return s == CH_BUY ? "buy" : s == CH_SELL ? "sell" : "?";
}

const char *ch_status_name(ch_order_status s)
{
    switch (s) {
    case CH_STATUS_NEW:
        return "new";
    case CH_STATUS_PARTIALLY_FILLED:
        return "partially_filled";
    case CH_STATUS_FILLED:
        return "filled";
    case CH_STATUS_CANCELLED:
        return "cancelled";
    case CH_STATUS_REJECTED:
        return "rejected";
    }
    return "?";
}
