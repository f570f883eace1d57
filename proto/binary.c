/*
 * binary.c - the compact binary order.batch (see ch/proto_bin.h), on the
 * bounded little-endian reader and writer of bin_io.h: any read past the end
 * marks the message bad, so a truncated or lying length is refused, never
 * followed.
 */
#include "ch/proto_bin.h"

#include <string.h>

#include "../engine/core/bin_io.h"

static void put_str(chi_wr *w, const char *s, size_t max)
{
    chi_put_str(w, 1, s, strnlen(s, max));
}

/* ch_bin_writer is public (fixed buffer); its bytes go through a chi_wr */
static chi_wr wr_of(const ch_bin_writer *w)
{
    return (chi_wr){.buf = w->buf, .n = w->n, .cap = w->cap, .bad = w->bad};
}

static void wr_back(ch_bin_writer *w, const chi_wr *x)
{
    w->n = x->n;
    w->bad = x->bad;
}

bool ch_bin_is_binary(const void *buf, size_t len)
{
    const uint8_t *b = buf;
    return len >= 2 && b[0] == 'C' && b[1] == 'H';
}

size_t ch_bin_batch_encode(const ch_bin_batch *b, uint8_t *buf, size_t cap)
{
    chi_wr w = {.buf = buf, .cap = cap, .bad = b->count == 0 || b->count > CH_BIN_MAX_ORDERS};
    chi_put_header(&w, CH_BIN_VERSION, CH_BIN_OP_BATCH, b->id);
    put_str(&w, b->account, CH_ACCOUNT_NAME_MAX);
    chi_put(&w, b->count, 4);
    for (uint32_t i = 0; i < b->count && !w.bad; i++) {
        const ch_bin_order *o = &b->orders[i];
        chi_put(&w, o->instr, 4);
        chi_put(&w, o->side, 1);
        chi_put(&w, o->type, 1);
        chi_put(&w, o->tif, 1);
        chi_put(&w, o->flags, 1);
        chi_put(&w, (uint64_t)o->qty, 8);
        chi_put(&w, (uint64_t)o->price, 8);
        put_str(&w, o->client_order_id, sizeof o->client_order_id);
    }
    return w.bad ? 0 : w.n;
}

ch_err ch_bin_batch_decode(const uint8_t *buf, size_t len, ch_bin_batch *out)
{
    chi_rd r = {.p = buf, .len = len};
    if (!chi_get_header(&r, CH_BIN_VERSION, CH_BIN_OP_BATCH, NULL, &out->id))
        return CH_EBADREQ;
    chi_get_str(&r, 1, out->account, sizeof out->account);
    out->count = (uint32_t)chi_get(&r, 4);
    if (r.bad || out->count == 0 || out->count > CH_BIN_MAX_ORDERS)
        return CH_EBADREQ;
    for (uint32_t i = 0; i < out->count && !r.bad; i++) {
        ch_bin_order *o = &out->orders[i];
        o->instr = (uint32_t)chi_get(&r, 4);
        o->side = (uint8_t)chi_get(&r, 1);
        o->type = (uint8_t)chi_get(&r, 1);
        o->tif = (uint8_t)chi_get(&r, 1);
        o->flags = (uint8_t)chi_get(&r, 1);
        if ((o->flags & ~CH_BIN_FLAG_POST_ONLY) != 0)
            r.bad = true; /* undefined bits: refused, as the stored-record decoders do */
        o->qty = (int64_t)chi_get(&r, 8);
        o->price = (int64_t)chi_get(&r, 8);
        chi_get_str(&r, 1, o->client_order_id, sizeof o->client_order_id);
    }
    return r.bad || r.n != len ? CH_EBADREQ : CH_OK;
}

void ch_bin_reply_begin(ch_bin_writer *w, uint8_t *buf, size_t cap, uint64_t id)
{
    *w = (ch_bin_writer){.buf = buf, .cap = cap};
    chi_wr x = wr_of(w);
    chi_put_header(&x, CH_BIN_VERSION, CH_BIN_OP_BATCH_REPLY, id);
    chi_put(&x, 0, 2);
    w->count_at = x.n;
    chi_put(&x, 0, 4);
    wr_back(w, &x);
}

void ch_bin_reply_add(ch_bin_writer *w, const ch_bin_result *r)
{
    chi_wr x = wr_of(w);
    chi_put(&x, r->error, 2);
    chi_put(&x, r->order_id, 8);
    chi_put(&x, r->status, 1);
    chi_put(&x, (uint64_t)r->filled, 8);
    chi_put(&x, (uint64_t)r->remaining, 8);
    uint16_t nf = r->n_fills > CH_BIN_MAX_FILLS ? CH_BIN_MAX_FILLS : r->n_fills;
    chi_put(&x, nf, 2);
    for (uint16_t i = 0; i < nf; i++) {
        chi_put(&x, r->fills[i].trade_id, 8);
        chi_put(&x, (uint64_t)r->fills[i].price, 8);
        chi_put(&x, (uint64_t)r->fills[i].qty, 8);
        chi_put(&x, r->fills[i].source, 1);
    }
    wr_back(w, &x);
    w->count++;
}

size_t ch_bin_reply_end(ch_bin_writer *w)
{
    if (w->bad)
        return 0;
    chi_wr x = {.buf = w->buf, .n = w->count_at, .cap = w->cap};
    chi_put(&x, w->count, 4);
    return w->n;
}

size_t ch_bin_reply_error(uint8_t *buf, size_t cap, uint64_t id, ch_err e, const char *message)
{
    chi_wr w = {.buf = buf, .cap = cap};
    chi_put_header(&w, CH_BIN_VERSION, CH_BIN_OP_BATCH_REPLY, id);
    chi_put(&w, (uint64_t)e, 2);
    size_t len = strlen(message);
    chi_put_str(&w, 2, message, len > 1000 ? 1000 : len);
    return w.bad ? 0 : w.n;
}

ch_err ch_bin_reply_decode(const uint8_t *buf, size_t len, uint64_t *id, uint16_t *error,
                           ch_bin_result *results, uint32_t max, uint32_t *count)
{
    chi_rd r = {.p = buf, .len = len};
    if (!chi_get_header(&r, CH_BIN_VERSION, CH_BIN_OP_BATCH_REPLY, NULL, id))
        return CH_EBADREQ;
    *error = (uint16_t)chi_get(&r, 2);
    *count = 0;
    if (*error != 0) {
        size_t ml = (size_t)chi_get(&r, 2);
        chi_take(&r, ml);
        return r.bad || r.n != len ? CH_EBADREQ : CH_OK;
    }
    uint32_t n = (uint32_t)chi_get(&r, 4);
    if (r.bad || n > max || n > CH_BIN_MAX_ORDERS)
        return CH_EBADREQ;
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        ch_bin_result *x = &results[i];
        x->error = (uint16_t)chi_get(&r, 2);
        x->order_id = chi_get(&r, 8);
        x->status = (uint8_t)chi_get(&r, 1);
        x->filled = (int64_t)chi_get(&r, 8);
        x->remaining = (int64_t)chi_get(&r, 8);
        x->n_fills = (uint16_t)chi_get(&r, 2);
        if (x->n_fills > CH_BIN_MAX_FILLS)
            return CH_EBADREQ;
        for (uint16_t k = 0; k < x->n_fills; k++) {
            x->fills[k].trade_id = chi_get(&r, 8);
            x->fills[k].price = (int64_t)chi_get(&r, 8);
            x->fills[k].qty = (int64_t)chi_get(&r, 8);
            x->fills[k].source = (uint8_t)chi_get(&r, 1);
        }
    }
    if (r.bad || r.n != len)
        return CH_EBADREQ;
    *count = n;
    return CH_OK;
}
