/*
 * bin_io.h - the one bounded little-endian reader and writer of the
 * project's byte formats: the wire's binary codecs (proto/binary.c, the
 * compact order.batch; proto/msg.c, every message of the table) and the
 * engine's command log (engine/match/command.c). Internal (not installed).
 *
 * Reading: every take checks `k > len - n` (no overflow for any k), and the
 * first read past the end marks the reader bad; later reads return zeros,
 * so a decoder checks `bad` once at the end. Writing: a writer over a fixed
 * buffer marks itself bad instead of overrunning; a growable writer
 * (grow = true, buf from malloc or NULL) doubles its buffer as needed.
 */
#ifndef CH_CORE_BIN_IO_H
#define CH_CORE_BIN_IO_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"

typedef struct chi_rd {
    const uint8_t *p;
    size_t n, len;
    bool bad;
} chi_rd;

static inline const uint8_t *chi_take(chi_rd *r, size_t k)
{
    if (r->bad || k > r->len - r->n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *x = r->p + r->n;
    r->n += k;
    return x;
}

static inline uint64_t chi_get(chi_rd *r, int bytes)
{
    assert(bytes >= 1 && bytes <= 8);
    const uint8_t *b = chi_take(r, (size_t)bytes);
    uint64_t v = 0;
    for (int i = 0; b != NULL && i < bytes; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* A string of a @p len_bytes length prefix, at most @p max - 1 bytes, no
 * NUL, copied NUL-terminated into @p out. */
static inline void chi_get_str(chi_rd *r, int len_bytes, char *out, size_t max)
{
    size_t n = (size_t)chi_get(r, len_bytes);
    const uint8_t *b = chi_take(r, n);
    if (b == NULL || n >= max || memchr(b, 0, n) != NULL) {
        r->bad = true;
        out[0] = '\0';
        return;
    }
    memcpy(out, b, n);
    out[n] = '\0';
}

typedef struct chi_wr {
    uint8_t *buf;
    size_t n, cap;
    bool bad, grow;
} chi_wr;

static inline bool chi_room(chi_wr *w, size_t k)
{
    if (w->bad)
        return false;
    if (k <= w->cap - w->n)
        return true;
    if (!w->grow || k > SIZE_MAX / 4 - w->n) {
        w->bad = true;
        return false;
    }
    size_t nc = w->cap ? w->cap : 256;
    while (nc - w->n < k)
        nc *= 2;
    uint8_t *nb = ch_realloc(w->buf, nc);
    if (nb == NULL) {
        w->bad = true;
        return false;
    }
    w->buf = nb;
    w->cap = nc;
    return true;
}

static inline void chi_put(chi_wr *w, uint64_t v, int bytes)
{
    assert(bytes >= 1 && bytes <= 8);
    if (!chi_room(w, (size_t)bytes))
        return;
    /* through a local pointer: a byte store may alias *w, and reloading
     * w->buf and w->n after each one kept the loop from being one store */
    uint8_t *p = w->buf + w->n;
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    w->n += (size_t)bytes;
}

/* Over @p bytes already written at @p at (a count or a length known only
 * after what follows it was written). */
static inline void chi_put_at(chi_wr *w, size_t at, uint64_t v, int bytes)
{
    assert(bytes >= 1 && bytes <= 8);
    if (w->bad || at > w->n || (size_t)bytes > w->n - at)
        return;
    for (int i = 0; i < bytes; i++)
        w->buf[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static inline void chi_put_bytes(chi_wr *w, const void *p, size_t k)
{
    if (k == 0 || !chi_room(w, k))
        return;
    memcpy(w->buf + w->n, p, k);
    w->n += k;
}

/* A string with a @p len_bytes length prefix; longer than the prefix can
 * say marks the writer bad. */
static inline void chi_put_str(chi_wr *w, int len_bytes, const char *s, size_t len)
{
    if (len_bytes < 8 && len >> (8 * len_bytes) != 0)
        w->bad = true;
    chi_put(w, len, len_bytes);
    chi_put_bytes(w, s, len);
}

/* A double as its IEEE 754 bits. */
static inline void chi_put_f64(chi_wr *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    chi_put(w, u, 8);
}

static inline double chi_get_f64(chi_rd *r)
{
    uint64_t u = chi_get(r, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* "CH" version op id: the header of every binary message. */
static inline void chi_put_header(chi_wr *w, uint8_t version, uint8_t op, uint64_t id)
{
    chi_put(w, 'C', 1);
    chi_put(w, 'H', 1);
    chi_put(w, version, 1);
    chi_put(w, op, 1);
    chi_put(w, id, 8);
}

/* Reads the header; false unless it is "CH" @p version and @p op (op 0: any, stored in *op_out). */
static inline bool chi_get_header(chi_rd *r, uint8_t version, uint8_t op, uint8_t *op_out,
                                  uint64_t *id)
{
    uint64_t c = chi_get(r, 1), h = chi_get(r, 1), v = chi_get(r, 1);
    uint8_t o = (uint8_t)chi_get(r, 1);
    if (c != 'C' || h != 'H' || v != version)
        return false;
    if (op_out != NULL)
        *op_out = o;
    *id = chi_get(r, 8);
    return !r->bad && (op == 0 || o == op);
}

#endif
