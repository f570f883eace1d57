/*
 * book_snap.c - the book in an engine snapshot: counters, the generations
 * of the slots ever taken (they make old ids stale), the live orders with
 * their priority, the free list in its order (so the next ids are the
 * same), and each listed instrument's levels. Its size follows the most
 * orders ever open at once, not the history.
 */
#include <string.h>

#include "../core/snap.h"
#include "book_int.h"
#include "levels.h"

#define TAG_BOOK CHI_SNAP_TAG('B', 'O', 'O', 'K')

/* How many slots were ever taken: [0, n) (binary search: taken slots are a
 * prefix, see chi_book_save). */
static uint32_t taken(const ch_book *b)
{
    uint32_t lo = 0, hi = b->max_orders; /* [0, lo) taken; [hi, max) not */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (b->orders[mid].gen != 1 || b->orders[mid].state != SLOT_FREE)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void put_run(chi_wr *w, uint32_t start, uint32_t len, uint32_t *runs)
{
    chi_put(w, start, 4);
    chi_put(w, len, 4);
    (*runs)++;
}

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
    /* the slots ever taken: a prefix of the pool, [0, hwm) (the free list
     * starts in slot order and gives back the slot freed last, so fresh
     * slots are taken lowest first; a slot never taken is free with
     * generation 1, which a freed slot never has again): their generations,
     * and the orders that live in them */
    uint32_t hwm = taken(b);
    chi_put(w, hwm, 4);
    uint32_t live = 0;
    for (uint32_t i = 0; i < hwm; i++) {
        chi_put(w, b->orders[i].gen, 4);
        live += b->orders[i].state != SLOT_FREE;
    }
    chi_put(w, live, 4);
    for (uint32_t i = 0; i < hwm; i++) {
        if (b->orders[i].state != SLOT_FREE) {
            chi_put(w, i, 4);
            chi_put_bytes(w, &b->orders[i], sizeof(order));
        }
    }
    /* the free list in its order, as runs of consecutive slots: the slots
     * freed (last freed first), then the slots never taken, hwm.. in order */
    if (b->n_free < b->max_orders - hwm) {
        w->bad = true; /* not the list this book keeps: no snapshot */
        return;
    }
    size_t at = w->n;
    chi_put(w, 0, 4); /* the runs' count, written once known */
    uint32_t runs = 0, start = NIL, len = 0, k = b->free_head;
    for (uint32_t i = b->max_orders - hwm; i < b->n_free; i++, k = b->orders[k].next) {
        if (k == NIL) {
            w->bad = true;
            return;
        }
        if (len > 0 && k == start + len) {
            len++;
            continue;
        }
        if (len > 0)
            put_run(w, start, len, &runs);
        start = k;
        len = 1;
    }
    if (hwm < b->max_orders) {
        if (k != hwm) {
            w->bad = true; /* the never-taken slots are not the list's tail */
            return;
        }
        if (len > 0 && hwm == start + len) {
            len += b->max_orders - hwm;
        } else {
            if (len > 0)
                put_run(w, start, len, &runs);
            start = hwm;
            len = b->max_orders - hwm;
        }
    }
    if (len > 0)
        put_run(w, start, len, &runs);
    chi_put_at(w, at, runs, 4);
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
        for (int s = 0; s < 2; s++) { /* the levels that hold orders (no dead ones) */
            const side_book *sd = &bk->s[s];
            chi_put(w, sd->n - sd->dead, 4);
            for (uint32_t li = 0; li < sd->n; li++)
                if (sd->lv[li].count != 0)
                    chi_put_bytes(w, &sd->lv[li], sizeof(level));
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
    uint32_t hwm = (uint32_t)chi_get(r, 4);
    if (r->bad || hwm > b->max_orders || b->n_free > b->max_orders)
        return false;
    for (uint32_t i = 0; i < hwm && !r->bad; i++)
        b->orders[i].gen = (uint32_t)chi_get(r, 4);
    uint32_t live = (uint32_t)chi_get(r, 4);
    for (uint32_t j = 0; j < live && !r->bad; j++) {
        uint32_t i = (uint32_t)chi_get(r, 4);
        if (i >= hwm)
            return false;
        chi_snap_take(r, &b->orders[i], 1, sizeof(order));
    }
    uint32_t runs = (uint32_t)chi_get(r, 4), total = 0, prev = NIL;
    for (uint32_t j = 0; j < runs && !r->bad; j++) {
        uint32_t start = (uint32_t)chi_get(r, 4), len = (uint32_t)chi_get(r, 4);
        if (len == 0 || start >= b->max_orders || len > b->max_orders - start ||
            len > b->n_free - total)
            return false;
        /* slots from hwm on are as the fresh book made them: free, each
         * linked to the next; only the link into the run is written */
        if (prev == NIL)
            b->free_head = start;
        else
            b->orders[prev].next = start;
        for (uint32_t k = start; k < start + len && k <= hwm; k++) {
            if (k < hwm && b->orders[k].state != SLOT_FREE)
                return false;
            if (k > start)
                b->orders[k - 1].next = k;
        }
        prev = start + len - 1;
        total += len;
    }
    if (total != b->n_free)
        return false;
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
            int64_t k_lo = s == CH_BUY ? lo : -hi, k_hi = s == CH_BUY ? hi : -lo; /* keys */
            for (uint32_t k = 0; k < n && !r->bad; k++) {                         /* worst first */
                level l;
                chi_snap_take(r, &l, 1, sizeof(level));
                if (!r->bad && !lv_push_loaded(&bk->s[s], &l, b->max_levels, k_lo, k_hi))
                    return false;
            }
        }
    }
    /* every order at its level's price, on its chain, counted: what the
     * book will trust from now on (a sealed snapshot passes; the check is
     * for one written by another build) */
    return !r->bad && ch_book_check(b) == CH_OK;
}
