/*
 * binary.c - the compact binary order.batch (see ch/proto_bin.h): a bounded
 * little-endian reader and writer; any read past the end marks the message
 * bad, so a truncated or lying length is refused, never followed.
 */
#include "ch/proto_bin.h"

#include <string.h>

typedef struct rd {
    const uint8_t *p;
    size_t n, len;
    bool bad;
} rd;

static const uint8_t *take(rd *r, size_t n)
{
    if (r->bad || n > r->len - r->n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *x = r->p + r->n;
    r->n += n;
    return x;
}

static uint64_t get(rd *r, int bytes)
{
    const uint8_t *b = take(r, (size_t)bytes);
    uint64_t v = 0;
    for (int i = 0; b != NULL && i < bytes; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void get_str(rd *r, char *out, size_t max)
{
    size_t n = (size_t)get(r, 1);
    const uint8_t *b = take(r, n);
    if (b == NULL || n >= max || memchr(b, 0, n) != NULL) {
        r->bad = true;
        out[0] = '\0';
        return;
    }
    memcpy(out, b, n);
    out[n] = '\0';
}

static void put(uint8_t *buf, size_t cap, size_t *n, bool *bad, uint64_t v, int bytes)
{
    if (*bad || *n + (size_t)bytes > cap) {
        *bad = true;
        return;
    }
    for (int i = 0; i < bytes; i++)
        buf[(*n)++] = (uint8_t)(v >> (8 * i));
}

static void put_str(uint8_t *buf, size_t cap, size_t *n, bool *bad, const char *s, size_t max)
{
    size_t len = strnlen(s, max);
    if (len > 255)
        *bad = true;
    put(buf, cap, n, bad, len, 1);
    if (*bad || *n + len > cap) {
        *bad = true;
        return;
    }
    memcpy(buf + *n, s, len);
    *n += len;
}

bool ch_bin_is_binary(const void *buf, size_t len)
{
    const uint8_t *b = buf;
    return len >= 2 && b[0] == 'C' && b[1] == 'H';
}

static void header(uint8_t *buf, size_t cap, size_t *n, bool *bad, uint8_t op, uint64_t id)
{
    put(buf, cap, n, bad, 'C', 1);
    put(buf, cap, n, bad, 'H', 1);
    put(buf, cap, n, bad, CH_BIN_VERSION, 1);
    put(buf, cap, n, bad, op, 1);
    put(buf, cap, n, bad, id, 8);
}

size_t ch_bin_batch_encode(const ch_bin_batch *b, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    bool bad = b->count == 0 || b->count > CH_BIN_MAX_ORDERS;
    header(buf, cap, &n, &bad, CH_BIN_OP_BATCH, b->id);
    put_str(buf, cap, &n, &bad, b->account, CH_ACCOUNT_NAME_MAX);
    put(buf, cap, &n, &bad, b->count, 4);
    for (uint32_t i = 0; i < b->count && !bad; i++) {
        const ch_bin_order *o = &b->orders[i];
        put(buf, cap, &n, &bad, o->instr, 4);
        put(buf, cap, &n, &bad, o->side, 1);
        put(buf, cap, &n, &bad, o->type, 1);
        put(buf, cap, &n, &bad, o->tif, 1);
        put(buf, cap, &n, &bad, o->flags, 1);
        put(buf, cap, &n, &bad, (uint64_t)o->qty, 8);
        put(buf, cap, &n, &bad, (uint64_t)o->price, 8);
        put_str(buf, cap, &n, &bad, o->client_order_id, sizeof o->client_order_id);
    }
    return bad ? 0 : n;
}

ch_err ch_bin_batch_decode(const uint8_t *buf, size_t len, ch_bin_batch *out)
{
    rd r = {.p = buf, .len = len};
    if (get(&r, 1) != 'C' || get(&r, 1) != 'H' || get(&r, 1) != CH_BIN_VERSION ||
        get(&r, 1) != CH_BIN_OP_BATCH)
        return CH_EBADREQ;
    out->id = get(&r, 8);
    get_str(&r, out->account, sizeof out->account);
    out->count = (uint32_t)get(&r, 4);
    if (r.bad || out->count == 0 || out->count > CH_BIN_MAX_ORDERS)
        return CH_EBADREQ;
    for (uint32_t i = 0; i < out->count && !r.bad; i++) {
        ch_bin_order *o = &out->orders[i];
        o->instr = (uint32_t)get(&r, 4);
        o->side = (uint8_t)get(&r, 1);
        o->type = (uint8_t)get(&r, 1);
        o->tif = (uint8_t)get(&r, 1);
        o->flags = (uint8_t)get(&r, 1);
        o->qty = (int64_t)get(&r, 8);
        o->price = (int64_t)get(&r, 8);
        get_str(&r, o->client_order_id, sizeof o->client_order_id);
    }
    return r.bad || r.n != len ? CH_EBADREQ : CH_OK;
}

void ch_bin_reply_begin(ch_bin_writer *w, uint8_t *buf, size_t cap, uint64_t id)
{
    *w = (ch_bin_writer){.buf = buf, .cap = cap};
    header(buf, cap, &w->n, &w->bad, CH_BIN_OP_BATCH_REPLY, id);
    put(buf, cap, &w->n, &w->bad, 0, 2);
    w->count_at = w->n;
    put(buf, cap, &w->n, &w->bad, 0, 4);
}

void ch_bin_reply_add(ch_bin_writer *w, const ch_bin_result *r)
{
    put(w->buf, w->cap, &w->n, &w->bad, r->error, 2);
    put(w->buf, w->cap, &w->n, &w->bad, r->order_id, 8);
    put(w->buf, w->cap, &w->n, &w->bad, r->status, 1);
    put(w->buf, w->cap, &w->n, &w->bad, (uint64_t)r->filled, 8);
    put(w->buf, w->cap, &w->n, &w->bad, (uint64_t)r->remaining, 8);
    uint16_t nf = r->n_fills > CH_BIN_MAX_FILLS ? CH_BIN_MAX_FILLS : r->n_fills;
    put(w->buf, w->cap, &w->n, &w->bad, nf, 2);
    for (uint16_t i = 0; i < nf; i++) {
        put(w->buf, w->cap, &w->n, &w->bad, r->fills[i].trade_id, 8);
        put(w->buf, w->cap, &w->n, &w->bad, (uint64_t)r->fills[i].price, 8);
        put(w->buf, w->cap, &w->n, &w->bad, (uint64_t)r->fills[i].qty, 8);
        put(w->buf, w->cap, &w->n, &w->bad, r->fills[i].source, 1);
    }
    w->count++;
}

size_t ch_bin_reply_end(ch_bin_writer *w)
{
    if (w->bad)
        return 0;
    size_t at = w->count_at;
    bool bad = false;
    put(w->buf, w->cap, &at, &bad, w->count, 4);
    return w->n;
}

size_t ch_bin_reply_error(uint8_t *buf, size_t cap, uint64_t id, ch_err e, const char *message)
{
    size_t n = 0;
    bool bad = false;
    header(buf, cap, &n, &bad, CH_BIN_OP_BATCH_REPLY, id);
    put(buf, cap, &n, &bad, (uint64_t)e, 2);
    size_t len = strlen(message);
    if (len > 1000)
        len = 1000;
    put(buf, cap, &n, &bad, len, 2);
    if (bad || n + len > cap)
        return 0;
    memcpy(buf + n, message, len);
    return n + len;
}

ch_err ch_bin_reply_decode(const uint8_t *buf, size_t len, uint64_t *id, uint16_t *error,
                           ch_bin_result *results, uint32_t max, uint32_t *count)
{
    rd r = {.p = buf, .len = len};
    if (get(&r, 1) != 'C' || get(&r, 1) != 'H' || get(&r, 1) != CH_BIN_VERSION ||
        get(&r, 1) != CH_BIN_OP_BATCH_REPLY)
        return CH_EBADREQ;
    *id = get(&r, 8);
    *error = (uint16_t)get(&r, 2);
    *count = 0;
    if (*error != 0) {
        size_t ml = (size_t)get(&r, 2);
        take(&r, ml);
        return r.bad || r.n != len ? CH_EBADREQ : CH_OK;
    }
    uint32_t n = (uint32_t)get(&r, 4);
    if (r.bad || n > max || n > CH_BIN_MAX_ORDERS)
        return CH_EBADREQ;
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        ch_bin_result *x = &results[i];
        x->error = (uint16_t)get(&r, 2);
        x->order_id = get(&r, 8);
        x->status = (uint8_t)get(&r, 1);
        x->filled = (int64_t)get(&r, 8);
        x->remaining = (int64_t)get(&r, 8);
        x->n_fills = (uint16_t)get(&r, 2);
        if (x->n_fills > CH_BIN_MAX_FILLS)
            return CH_EBADREQ;
        for (uint16_t k = 0; k < x->n_fills; k++) {
            x->fills[k].trade_id = get(&r, 8);
            x->fills[k].price = (int64_t)get(&r, 8);
            x->fills[k].qty = (int64_t)get(&r, 8);
            x->fills[k].source = (uint8_t)get(&r, 1);
        }
    }
    if (r.bad || r.n != len)
        return CH_EBADREQ;
    *count = n;
    return CH_OK;
}
