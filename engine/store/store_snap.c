/*
 * store_snap.c - snapshots in the store (database `snap`: big-endian u64
 * sequence of the last command they hold -> the caller's bytes), each in its
 * own write transaction, the newest `keep` kept; and pruning the command log
 * up to the oldest kept snapshot (see ch/store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "../core/alloc.h"

static int write_snapshot(ch_store *st, uint64_t seq, const uint8_t *buf, size_t len, unsigned keep)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    uint8_t key[8];
    be64(key, seq);
    MDB_val k = {8, key}, v = {len, (void *)(uintptr_t)buf};
    rc = mdb_put(txn, st->snap, &k, &v, 0);
    MDB_cursor *cur = NULL;
    if (rc == 0)
        rc = mdb_cursor_open(txn, st->snap, &cur);
    unsigned seen = 0;
    int g = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : MDB_NOTFOUND;
    while (rc == 0 && g == 0) {
        if (++seen > keep)
            rc = mdb_cursor_del(cur, 0);
        g = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : g;
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (rc == 0 && g != MDB_NOTFOUND)
        rc = g;
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

ch_err ch_store_put_snapshot(ch_store *st, uint64_t seq, const uint8_t *buf, size_t len,
                             unsigned keep)
{
    if (st->halted)
        return CH_EUNAVAILABLE;
    if (st->read_only || seq != st->last_seq || st->n_recs != 0 || keep == 0)
        return CH_EINVAL;
    for (int attempt = 0;; attempt++) {
        int rc = write_snapshot(st, seq, buf, len, keep);
        if (rc == 0)
            break;
        if (rc == MDB_MAP_FULL && attempt < 16 && (rc = chi_store_grow_map(st)) == 0)
            continue;
        snprintf(st->snap_error, sizeof st->snap_error, "snapshot: %s", mdb_strerror(rc));
        return CH_EIO; /* not written: the log still holds everything */
    }
    st->stats.snapshots++;
    st->stats.snapshot_bytes = len;
    return CH_OK;
}

const char *ch_store_snapshot_error(const ch_store *st)
{
    return st->snap_error;
}

ch_err ch_store_get_snapshot(ch_store *st, uint64_t before, uint64_t *seq, uint8_t **buf,
                             size_t *len)
{
    *seq = 0;
    *buf = NULL;
    *len = 0;
    if (st->no_snap_db)
        return CH_OK;
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return CH_EIO;
    if (mdb_cursor_open(txn, st->snap, &cur) != 0) {
        mdb_txn_abort(txn);
        return CH_EIO;
    }
    MDB_val k, v;
    ch_err e = CH_OK;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    while (rc == 0 && (k.mv_size != 8 || from_be64(k.mv_data) >= before))
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    if (rc == 0) {
        *buf = ch_malloc(v.mv_size > 0 ? v.mv_size : 1);
        if (*buf == NULL) {
            e = CH_ENOMEM;
        } else {
            memcpy(*buf, v.mv_data, v.mv_size);
            *len = v.mv_size;
            *seq = from_be64(k.mv_data);
        }
    } else if (rc != MDB_NOTFOUND) {
        e = CH_EIO;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return e;
}

bool ch_store_snapshot_engine(const uint8_t *blob, size_t len, const uint8_t **eng, size_t *elen)
{
    if (len < 8)
        return false;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | blob[i];
    if (n > len - 8)
        return false;
    *eng = blob + 8;
    *elen = (size_t)n;
    return true;
}

/* ---- pruning the log ------------------------------------------------------ */

#define PRUNE_CHUNK 65536

/* One transaction: drop commands <= the oldest snapshot, at most a chunk;
 * *n the number dropped. 0 or an LMDB code. */
static int prune_chunk(ch_store *st, uint64_t *n)
{
    *n = 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t upto = 0;
    rc = mdb_cursor_open(txn, st->snap, &cur);
    if (rc == 0) {
        int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (g == 0 && k.mv_size == 8)
            upto = from_be64(k.mv_data);
        else if (g != MDB_NOTFOUND && g != 0)
            rc = g;
        mdb_cursor_close(cur);
        cur = NULL;
    }
    if (rc == 0 && upto > 0)
        rc = mdb_cursor_open(txn, st->cmd, &cur);
    while (rc == 0 && upto > 0 && *n < PRUNE_CHUNK) {
        int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (g == MDB_NOTFOUND || (g == 0 && (k.mv_size != 8 || from_be64(k.mv_data) > upto)))
            break;
        rc = g != 0 ? g : mdb_cursor_del(cur, 0);
        if (rc == 0)
            (*n)++;
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        *n = 0;
        return rc;
    }
    return mdb_txn_commit(txn);
}

ch_err ch_store_prune(ch_store *st, uint64_t *removed)
{
    if (removed != NULL)
        *removed = 0;
    if (st->halted)
        return CH_EUNAVAILABLE;
    if (st->read_only || st->n_recs != 0)
        return CH_EINVAL;
    if (st->no_snap_db)
        return CH_OK;
    for (int grown = 0;;) {
        uint64_t n;
        int rc = prune_chunk(st, &n);
        if (rc == MDB_MAP_FULL && grown++ < 16 && chi_store_grow_map(st) == 0)
            continue; /* deleting copies pages too */
        if (rc != 0) {
            snprintf(st->snap_error, sizeof st->snap_error, "prune: %s", mdb_strerror(rc));
            return CH_EIO; /* what was dropped before stays dropped: each chunk is whole */
        }
        if (removed != NULL)
            *removed += n;
        if (n < PRUNE_CHUNK)
            return CH_OK;
    }
}

uint64_t ch_store_first_seq(ch_store *st)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    uint64_t first = 0;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (mdb_cursor_open(txn, st->cmd, &cur) == 0) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8)
            first = from_be64(k.mv_data);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return first;
}
