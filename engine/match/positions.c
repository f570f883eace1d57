/*
 * positions.c - the engine's position records: found through a dense
 * account x instrument index, made on an order's first fill, and the
 * average-cost arithmetic of a trade applied to one.
 */
#include "engine_int.h"

#include <assert.h>

/*
 * Position records are found through a dense account x instrument table: one
 * direct access, no probing (a hash sized for the configured maximum misses
 * the cache on nearly every probe). Its size is bounded by configuration.
 */
uint32_t chi_pos_find(const ch_engine *e, uint32_t a, uint32_t i)
{
    assert(a < e->n_acct && i < e->cfg.max_instruments);
    uint32_t v = e->pos_index[(size_t)a * e->cfg.max_instruments + i];
    return v == 0 ? NIL : v - 1;
}

/* The record for (a, i), created if needed; NIL when capacity is exhausted. */
uint32_t chi_pos_get(ch_engine *e, uint32_t a, uint32_t i)
{
    uint32_t *slot = &e->pos_index[(size_t)a * e->cfg.max_instruments + i];
    if (*slot != 0)
        return *slot - 1;
    if (e->n_pos == e->cfg.max_positions)
        return NIL;
    uint32_t k = e->n_pos++;
    position *p = &e->pos[k];
    *p = (position){.account = a, .instr = i};
    e->pos_link[k] =
        (pos_link){.next_acct = e->acct[a].first_pos, .next_series = e->ser[i].first_pos};
    e->acct[a].first_pos = k;
    e->ser[i].first_pos = k;
    *slot = k + 1;
    return k;
}

/*
 * Records are created lazily, on an order's first fill, so that accepting a
 * resting order touches no position at all (the records of a large book do
 * not fit in any cache). Capacity is still decided before trading: each live
 * order without a record (e->unrecorded, counted from the book's ACK and
 * CANCEL events) may need one, so submit admits an order only while
 * n_pos + unrecorded + 1 <= max_positions. An order caches its record in the
 * book's `user` word once known.
 */
uint32_t chi_order_rec(ch_engine *e, uint32_t acct, ch_instr_id id, ch_order_id order,
                       uint64_t user)
{
    if (user != NIL)
        return (uint32_t)user;
    uint32_t k = chi_pos_get(e, acct, id.v); /* cannot fail: admitted within capacity */
    SELF_CHECK(k != NIL && e->unrecorded > 0, "a record within the admitted capacity");
    e->unrecorded--;
    ch_book_set_user(e->book, order, k);
    return k;
}

/* Apply a trade of q lots (signed) at `px` cash per contract to a position. */
void chi_pos_apply(ch_engine *e, uint32_t k, int64_t q, int64_t px)
{
    assert(k < e->cfg.max_positions && q != 0);
    position *p = &e->pos[k];
    account *a = &e->acct[p->account];
    if (p->qty == 0)
        a->npos++;
    if (p->qty == 0 || (p->qty > 0) == (q > 0)) {
        p->cost += q * px;
        p->qty += q;
    } else {
        int64_t held = p->qty > 0 ? p->qty : -p->qty;
        int64_t n = q > 0 ? q : -q;
        int64_t closed = n < held ? n : held;
        int64_t cost_part = (int64_t)((__int128)p->cost * closed / held);
        int64_t sign = p->qty > 0 ? 1 : -1;
        p->realized += sign * closed * px - cost_part;
        p->cost -= cost_part;
        p->qty += q > 0 ? closed : -closed;
        int64_t rest = n - closed;
        if (rest > 0) {
            int64_t rq = q > 0 ? rest : -rest;
            p->cost = rq * px;
            p->qty = rq;
        }
    }
    if (p->qty == 0) {
        a->npos--;
        p->cost = 0;
    }
}
