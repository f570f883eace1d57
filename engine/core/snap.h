/*
 * snap.h - the pieces of an engine snapshot (ch_engine_snapshot): each
 * module writes its own state into one growable writer and reads it back
 * into an object freshly created with the same sizes. Records are copied as
 * they are in memory (a snapshot is read back by the same build: the
 * snapshot's header carries a layout fingerprint, engine/match/snapshot.c);
 * pointers are never written, the loader keeps the fresh object's own.
 * Each piece starts with a tag so that a reader that lost its place stops.
 * Internal (not installed).
 */
#ifndef CH_CORE_SNAP_H
#define CH_CORE_SNAP_H

#include "bin_io.h"
#include "ch/book.h"
#include "ch/engine.h"
#include "ch/hedge.h"
#include "ch/instrument.h"
#include "ch/risk.h"
#include "ch/sha256.h"

/* A tag of four letters. */
#define CHI_SNAP_TAG(a, b, c, d)                                                                   \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

static inline void chi_snap_tag(chi_wr *w, uint32_t tag)
{
    chi_put(w, tag, 4);
}

/* False (and the reader bad) unless the next tag is @p tag. */
static inline bool chi_snap_expect(chi_rd *r, uint32_t tag)
{
    if (chi_get(r, 4) != tag)
        r->bad = true;
    return !r->bad;
}

/* @p n records of @p size bytes into @p dst (exactly what chi_put_bytes wrote). */
static inline void chi_snap_take(chi_rd *r, void *dst, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        r->bad = true;
        return;
    }
    const uint8_t *p = chi_take(r, n * size);
    if (p != NULL && n * size > 0)
        memcpy(dst, p, n * size);
}

/* Close what @p w holds since @p from with its SHA-256 (snapshots end so). */
static inline void chi_snap_seal(chi_wr *w, size_t from)
{
    if (w->bad)
        return;
    uint8_t d[CH_SHA256_LEN];
    ch_sha256_digest(w->buf + from, w->n - from, d);
    chi_put_bytes(w, d, sizeof d);
}

/* Whether the @p len bytes at @p p end with the SHA-256 of what precedes
 * them (what chi_snap_seal wrote). */
static inline bool chi_snap_sealed(const uint8_t *p, size_t len)
{
    if (len < CH_SHA256_LEN)
        return false;
    uint8_t d[CH_SHA256_LEN];
    ch_sha256_digest(p, len - CH_SHA256_LEN, d);
    return memcmp(d, p + len - CH_SHA256_LEN, CH_SHA256_LEN) == 0;
}

/* The engine's snapshot (ch_engine_snapshot's bytes, closed by their
 * SHA-256) appended to @p w, so that a caller adding its own part needs no
 * copy. @return CH_OK or CH_ENOMEM. */
ch_err chi_engine_save(const ch_engine *e, chi_wr *w);

/* The book: orders (with their time priority and ids), levels, counters. */
void chi_book_save(const ch_book *b, chi_wr *w);
bool chi_book_load(ch_book *b, chi_rd *r);

/* The instrument registry. */
void chi_instruments_save(const ch_instruments *reg, chi_wr *w);
bool chi_instruments_load(ch_instruments *reg, chi_rd *r);

/* A smile and an inventory (risk). */
void chi_smile_save(const ch_smile *s, chi_wr *w);
bool chi_smile_load(ch_smile *s, chi_rd *r);
void chi_inventory_save(const ch_inventory *inv, chi_wr *w);
bool chi_inventory_load(ch_inventory *inv, chi_rd *r);

/* A hedger's replayed state: its book (retries are this process's, not the
 * log's: written as 0, as a replay has them), orders in flight (as not
 * sent: a start sends them again), next id, last trade. */
void chi_hedger_save(const ch_hedger *h, chi_wr *w);
bool chi_hedger_load(ch_hedger *h, chi_rd *r);

#endif
