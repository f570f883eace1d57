/*
 * book_check.c - ch_book_check(): every invariant of book.c's records,
 * walked in full (tests run it after every operation; so may a server
 * after loading a snapshot).
 */
#include "ch/book.h"

#include "book_int.h"
#include "levels.h"

/* Level i of a price-indexed side is marked as holding orders. */
static bool marked(const side_book *sd, uint32_t i)
{
    return (lv_marks(sd)[i / 64] >> (i % 64)) & 1;
}

ch_err ch_book_check(const ch_book *b)
{
    uint64_t resting_seen = 0;
    for (uint32_t i = 0; i < b->max_instr; i++) {
        const ibook *bk = &b->books[i];
        if (bk->state == BOOK_ABSENT)
            continue;
        for (int side = 0; side < 2; side++) {
            const side_book *sd = &bk->s[side];
            if (sd->dead > sd->n || sd->n - sd->dead > b->max_levels ||
                sd->n > (sd->span != 0 ? sd->span : b->max_levels) ||
                (sd->n > 0 && sd->lv[sd->n - 1].count == 0))
                return CH_EINVAL;                            /* the best level holds orders */
            for (uint32_t li = sd->n; li < sd->span; li++) { /* price-indexed: empty above */
                const level *lv = &sd->lv[li];
                if (lv->key != sd->base + li || lv->count != 0 || lv->qty != 0 || lv->head != NIL ||
                    lv->tail != NIL || lv->head_account != NIL || marked(sd, li))
                    return CH_EINVAL;
            }
            uint32_t dead = 0;
            for (uint32_t li = 0; li < sd->n; li++) {
                const level *lv = &sd->lv[li];
                if (li > 0 && sd->lv[li - 1].key >= lv->key)
                    return CH_EINVAL;
                if (sd->span != 0 &&
                    (lv->key != sd->base + li || marked(sd, li) != (lv->count != 0)))
                    return CH_EINVAL; /* price-indexed: at its price, marked if it holds orders */
                int64_t px = price_of(side, lv->key);
                if (px < bk->min_price || px > bk->max_price)
                    return CH_EINVAL;
                if (lv->head_account != (lv->head != NIL && lv->head < b->max_orders
                                             ? b->orders[lv->head].account
                                             : NIL))
                    return CH_EINVAL;
                int64_t qty = 0;
                uint32_t count = 0, prev = NIL;
                for (uint32_t s = lv->head; s != NIL; s = b->orders[s].next) {
                    if (s >= b->max_orders || count > b->max_orders)
                        return CH_EINVAL;
                    const order *o = &b->orders[s];
                    if (o->state != SLOT_RESTING || o->instr != i || o->side != side ||
                        o->price != px || o->remaining <= 0 || o->prev != prev)
                        return CH_EINVAL;
                    if (prev != NIL && b->orders[prev].priority > o->priority)
                        return CH_EINVAL;
                    qty += o->remaining;
                    count++;
                    prev = s;
                }
                if (count != lv->count || qty != lv->qty || lv->tail != prev)
                    return CH_EINVAL;
                dead += count == 0;
                resting_seen += count;
            }
            if (dead != sd->dead)
                return CH_EINVAL;
        }
        if (bk->s[0].n > 0 && bk->s[1].n > 0 &&
            price_of(CH_BUY, bk->s[0].lv[bk->s[0].n - 1].key) >=
                price_of(CH_SELL, bk->s[1].lv[bk->s[1].n - 1].key))
            return CH_EINVAL;
        if (bk->state == BOOK_CLOSED && (bk->s[0].n != 0 || bk->s[1].n != 0))
            return CH_EINVAL;
    }
    if (resting_seen != b->open_orders)
        return CH_EINVAL;
    uint64_t free_seen = 0, resting = 0;
    for (uint32_t s = b->free_head; s != NIL; s = b->orders[s].next) {
        if (s >= b->max_orders || b->orders[s].state != SLOT_FREE || free_seen > b->max_orders)
            return CH_EINVAL;
        free_seen++;
    }
    if (free_seen != b->n_free)
        return CH_EINVAL;
    for (uint32_t s = 0; s < b->max_orders; s++) {
        if (b->orders[s].state == SLOT_ACTIVE)
            return CH_EINVAL;
        resting += b->orders[s].state == SLOT_RESTING;
    }
    if (resting != b->open_orders || resting + free_seen != b->max_orders)
        return CH_EINVAL;
    return CH_OK;
}
