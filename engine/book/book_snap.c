/*
 * book_snap.c - the book in an engine snapshot: counters, every order slot
 * that is not as a fresh book has it (resting orders with their priority,
 * and the generations that make old ids stale), the free list in its order
 * (so the next ids are the same), and each listed instrument's levels.
 */
#include <string.h>

#include "../core/snap.h"
#include "book_int.h"

#define TAG_BOOK CHI_SNAP_TAG('B', 'O', 'O', 'K')

void chi_book_save(const ch_book *b, chi_wr *w)
{
    chi_snap_tag(w, TAG_BOOK);
    chi_put(w, b->max_orders, 4);
    chi_put(w, b->max_instr, 4);
    chi_put(w, b->max_levels, 4);
    chi_put(w, b->free_head, 4);
    chi_put(w, b->n_free, 4);
    chi_put(w, b->open_orders, 4);
    chi_put(w, b->cmd_seq, 8);
    chi_put(w, b->ev_seq, 8);
    chi_put(w, b->trades, 8);
    uint32_t used = 0;
    for (uint32_t i = 0; i < b->max_orders; i++)
        used += b->orders[i].gen != 1 || b->orders[i].state != SLOT_FREE;
    chi_put(w, used, 4);
    for (uint32_t i = 0; i < b->max_orders; i++) {
        if (b->orders[i].gen != 1 || b->orders[i].state != SLOT_FREE) {
            chi_put(w, i, 4);
            chi_put_bytes(w, &b->orders[i], sizeof(order));
        }
    }
    /* the free list, in its order */
    for (uint32_t i = 0, k = b->free_head; i < b->n_free; i++, k = b->orders[k].next)
        chi_put(w, k, 4);
    uint32_t listed = 0;
    for (uint32_t i = 0; i < b->max_instr; i++)
        listed += b->books[i].state != BOOK_ABSENT;
    chi_put(w, listed, 4);
    for (uint32_t i = 0; i < b->max_instr; i++) {
        const ibook *bk = &b->books[i];
        if (bk->state == BOOK_ABSENT)
            continue;
        chi_put(w, i, 4);
        chi_put(w, (uint64_t)bk->state, 4);
        chi_put(w, (uint64_t)bk->min_price, 8);
        chi_put(w, (uint64_t)bk->max_price, 8);
        for (int s = 0; s < 2; s++) {
            chi_put(w, bk->s[s].n, 4);
            chi_put_bytes(w, bk->s[s].lv, (size_t)bk->s[s].n * sizeof(level));
        }
    }
}

bool chi_book_load(ch_book *b, chi_rd *r)
{
    if (!chi_snap_expect(r, TAG_BOOK) || chi_get(r, 4) != b->max_orders ||
        chi_get(r, 4) != b->max_instr || chi_get(r, 4) != b->max_levels)
        return false;
    b->free_head = (uint32_t)chi_get(r, 4);
    b->n_free = (uint32_t)chi_get(r, 4);
    b->open_orders = (uint32_t)chi_get(r, 4);
    b->cmd_seq = chi_get(r, 8);
    b->ev_seq = chi_get(r, 8);
    b->trades = chi_get(r, 8);
    uint32_t used = (uint32_t)chi_get(r, 4);
    if (used > b->max_orders || b->n_free > b->max_orders)
        return false;
    for (uint32_t j = 0; j < used && !r->bad; j++) {
        uint32_t i = (uint32_t)chi_get(r, 4);
        if (i >= b->max_orders)
            return false;
        chi_snap_take(r, &b->orders[i], 1, sizeof(order));
    }
    uint32_t prev = NIL;
    for (uint32_t j = 0; j < b->n_free && !r->bad; j++) {
        uint32_t k = (uint32_t)chi_get(r, 4);
        if (k >= b->max_orders || b->orders[k].state != SLOT_FREE)
            return false;
        if (prev == NIL)
            b->free_head = k;
        else
            b->orders[prev].next = k;
        prev = k;
    }
    if (prev != NIL)
        b->orders[prev].next = NIL;
    else
        b->free_head = NIL;
    uint32_t listed = (uint32_t)chi_get(r, 4);
    for (uint32_t j = 0; j < listed && !r->bad; j++) {
        uint32_t i = (uint32_t)chi_get(r, 4);
        int state = (int)chi_get(r, 4);
        int64_t lo = (int64_t)chi_get(r, 8), hi = (int64_t)chi_get(r, 8);
        if (r->bad || i >= b->max_instr ||
            ch_book_add_instrument(b, (ch_instr_id){i}, lo, hi) != CH_OK)
            return false;
        ibook *bk = &b->books[i];
        bk->state = state;
        for (int s = 0; s < 2; s++) {
            uint32_t n = (uint32_t)chi_get(r, 4);
            if (n > b->max_levels)
                return false;
            chi_snap_take(r, bk->s[s].lv, n, sizeof(level));
            bk->s[s].n = n;
        }
    }
    return !r->bad;
}
