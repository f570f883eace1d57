/*
 * hedger.c - a hedge policy tied to an adapter: the orders in flight, the
 * hedge book they fill, and the two phases a durable caller needs.
 *
 * A caller that must log before anything leaves (chd) decides
 * (ch_hedger_decide: the order is in flight, not yet sent), logs it, then
 * sends (ch_hedger_send); it takes the venue's answers
 * (ch_hedger_take_reports), logs them, then books them (ch_hedger_settle).
 * Replay rebuilds the same state with ch_hedger_restore and ch_hedger_settle.
 * A caller with nothing to log (chsim, the demo) uses ch_hedger_on_batch and
 * ch_hedger_poll, which do both phases at once.
 */
#include "ch/hedge.h"
#include "grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/alloc.h"
#include "../core/snap.h"

typedef struct pending {
    ch_hedge_order o;
    bool sent; /* handed to the adapter by this process */
} pending;

struct ch_hedger {
    ch_hedge_policy p;
    ch_hedge_adapter a;
    ch_hedge_book book;
    pending *pend;
    size_t npend, cap;
    uint64_t next_id;
    ch_time last_trade;
    bool traded;
    char perp[CH_SYMBOL_MAX];
};

ch_hedger *ch_hedger_create(const ch_hedge_policy *p, ch_hedge_adapter adapter)
{
    if (adapter.ops == NULL)
        return NULL;
    ch_hedger *h = ch_calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->p = *p;
    h->a = adapter;
    h->next_id = 1;
    return h;
}

void ch_hedger_set_perp(ch_hedger *h, const char *symbol)
{
    snprintf(h->perp, sizeof h->perp, "%s", symbol);
    for (size_t i = 0; i < h->npend; i++)
        if (h->pend[i].o.symbol[0] == '\0')
            memcpy(h->pend[i].o.perp, h->perp, sizeof h->perp);
}

void ch_hedger_destroy(ch_hedger *h)
{
    if (h == NULL)
        return;
    if (h->a.ops != NULL)
        h->a.ops->destroy(h->a.impl);
    free(h->pend);
    free(h);
}

double ch_hedger_in_flight(const ch_hedger *h)
{
    double q = 0;
    for (size_t i = 0; i < h->npend; i++)
        q += h->pend[i].o.qty;
    return q;
}

size_t ch_hedger_in_flight_orders(const ch_hedger *h)
{
    return h->npend;
}

static ch_err add_pending(ch_hedger *h, const ch_hedge_order *o, ch_time when)
{
    if (!chi_grow((void **)&h->pend, h->npend, &h->cap, sizeof *h->pend))
        return CH_ENOMEM;
    h->pend[h->npend] = (pending){.o = *o};
    if (o->symbol[0] == '\0' && o->perp[0] == '\0')
        memcpy(h->pend[h->npend].o.perp, h->perp, sizeof h->perp);
    h->npend++;
    if (o->id >= h->next_id)
        h->next_id = o->id + 1;
    h->book.orders++;
    h->last_trade = when;
    h->traded = true;
    return CH_OK;
}

ch_err ch_hedger_decide(ch_hedger *h, ch_hedge_inputs *in, double mark, uint64_t min_id,
                        ch_hedge_order *out)
{
    memset(out, 0, sizeof *out);
    in->position = h->book.position + ch_hedger_in_flight(h);
    in->last_trade = h->traded ? h->last_trade : INT64_MIN / 2;
    double q;
    ch_err e = ch_hedge_decide(&h->p, in, &q);
    if (e != CH_OK || q == 0)
        return e;
    ch_hedge_order o = {.id = min_id > h->next_id ? min_id : h->next_id, .qty = q, .mark = mark};
    if ((e = add_pending(h, &o, in->now)) != CH_OK)
        return e;
    *out = h->pend[h->npend - 1].o;
    return CH_OK;
}

ch_err ch_hedger_restore(ch_hedger *h, const ch_hedge_order *o, ch_time when)
{
    for (size_t i = 0; i < h->npend; i++)
        if (h->pend[i].o.id == o->id)
            return CH_EDUPLICATE;
    return add_pending(h, o, when);
}

ch_err ch_hedger_send(ch_hedger *h)
{
    for (size_t i = 0; i < h->npend; i++) {
        if (h->pend[i].sent)
            continue;
        ch_err e = h->a.ops->send(h->a.impl, &h->pend[i].o);
        if (e != CH_OK)
            return e; /* this one and the rest: at the next call */
        h->pend[i].sent = true;
    }
    return CH_OK;
}

static size_t find(const ch_hedger *h, uint64_t id)
{
    size_t k = 0;
    while (k < h->npend && h->pend[k].o.id != id)
        k++;
    return k;
}

size_t ch_hedger_take_reports(ch_hedger *h, ch_hedge_report *out, size_t max)
{
    size_t n = 0;
    ch_hedge_report r[32];
    while (n < max) {
        size_t want = max - n < 32 ? max - n : 32;
        size_t got = h->a.ops->poll(h->a.impl, r, want);
        if (got == 0)
            break;
        /* a report for an order no longer in flight is dropped: never booked twice */
        for (size_t i = 0; i < got; i++)
            if (find(h, r[i].id) < h->npend)
                out[n++] = r[i];
    }
    return n;
}

bool ch_hedger_settle(ch_hedger *h, const ch_hedge_report *r)
{
    size_t k = find(h, r->id);
    if (k == h->npend)
        return false;
    h->pend[k] = h->pend[--h->npend];
    if (r->attempts > 1)
        h->book.retries += r->attempts - 1;
    if (r->filled)
        ch_hedge_book_fill(&h->book, &r->exec);
    else
        h->book.rejects++;
    return true;
}

void ch_hedger_book_exec(ch_hedger *h, const ch_hedge_exec *x, ch_time when)
{
    ch_hedge_book_fill(&h->book, x);
    h->book.orders++;
    h->last_trade = when;
    h->traded = true;
}

ch_err ch_hedger_on_batch(ch_hedger *h, ch_hedge_inputs *in, double mark, double *sent)
{
    if (sent != NULL)
        *sent = 0;
    ch_time last = h->last_trade;
    bool traded = h->traded;
    ch_hedge_order o;
    ch_err e = ch_hedger_decide(h, in, mark, 0, &o);
    if (e != CH_OK || o.qty == 0)
        return e;
    if ((e = ch_hedger_send(h)) != CH_OK) {
        /* nothing recorded as in flight (everything before it was sent) */
        h->npend--;
        h->book.orders--;
        h->last_trade = last;
        h->traded = traded;
        return e;
    }
    if (sent != NULL)
        *sent = o.qty;
    return CH_OK;
}

size_t ch_hedger_poll(ch_hedger *h)
{
    ch_hedge_report r[32];
    size_t total = 0, n;
    while ((n = ch_hedger_take_reports(h, r, 32)) > 0)
        for (size_t i = 0; i < n; i++)
            total += ch_hedger_settle(h, &r[i]) ? 1 : 0;
    return total;
}

void ch_hedger_mark(ch_hedger *h, ch_time now, double index, double perp, double funding_rate)
{
    ch_hedge_book_mark(&h->book, now, index, perp, funding_rate);
}

const ch_hedge_book *ch_hedger_book(const ch_hedger *h)
{
    return &h->book;
}

void ch_hedger_status(const ch_hedger *h, uint32_t *in_flight, uint64_t *retries)
{
    h->a.ops->status(h->a.impl, in_flight, retries);
}

const ch_hedge_policy *ch_hedger_policy(const ch_hedger *h)
{
    return &h->p;
}

/* ---- snapshot ------------------------------------------------------------ */

#define TAG_HEDGER CHI_SNAP_TAG('H', 'D', 'G', 'R')

void chi_hedger_save(const ch_hedger *h, chi_wr *w)
{
    chi_snap_tag(w, TAG_HEDGER);
    ch_hedge_book b;
    memcpy(&b, &h->book, sizeof b);
    b.retries = 0;
    chi_put_bytes(w, &b, sizeof b);
    chi_put(w, h->npend, 4);
    for (size_t i = 0; i < h->npend; i++)
        chi_put_bytes(w, &h->pend[i].o, sizeof h->pend[i].o);
    chi_put(w, h->next_id, 8);
    chi_put(w, (uint64_t)h->last_trade, 8);
    chi_put(w, h->traded, 1);
}

bool chi_hedger_load(ch_hedger *h, chi_rd *r)
{
    if (!chi_snap_expect(r, TAG_HEDGER) || h->npend != 0)
        return false;
    chi_snap_take(r, &h->book, 1, sizeof h->book);
    size_t n = (size_t)chi_get(r, 4);
    for (size_t i = 0; i < n && !r->bad; i++) {
        if (!chi_grow((void **)&h->pend, h->npend, &h->cap, sizeof *h->pend))
            return false;
        h->pend[h->npend] = (pending){.sent = false};
        chi_snap_take(r, &h->pend[h->npend].o, 1, sizeof h->pend[h->npend].o);
        h->npend++;
    }
    h->next_id = chi_get(r, 8);
    h->last_trade = (ch_time)chi_get(r, 8);
    h->traded = chi_get(r, 1) != 0;
    return !r->bad;
}
