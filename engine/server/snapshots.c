/*
 * snapshots.c - chd's snapshots: every snapshot_every commands or
 * snapshot_seconds (with commands since), between batches, the engine's
 * state (ch_engine_snapshot) and what chd derives from the log (the hedge
 * policies logged with listings, each hedger's book and orders in flight,
 * the option orders in flight, the next venue order id) go into the store in
 * their own transaction. A start loads the newest snapshot it can read and
 * replays only the commands after it; one it cannot read (another build's,
 * damaged) is passed over for the one before, and with none the whole log
 * is replayed: the log stays complete, a snapshot only saves time. What a
 * start rebuilds from the engine (open-order counts, keys) is rebuilt from
 * the restored engine as after a replay.
 *
 * Blob: the engine's snapshot's length (8 bytes) and the snapshot, then
 * the server's part and its SHA-256.
 */
#include "server_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/snap.h"
#include "ch/sha256.h"

#define TAG_SERVER CHI_SNAP_TAG('C', 'H', 'D', 'S')

static void put_server(const ch_server *s, chi_wr *w)
{
    chi_snap_tag(w, TAG_SERVER);
    chi_put(w, CHI_MAX_UND, 4);
    for (size_t u = 0; u < CHI_MAX_UND; u++) {
        chi_put(w, s->und_logged[u].set, 1);
        chi_put(w, (uint64_t)s->und_logged[u].kind, 4);
        chi_put_f64(w, s->und_logged[u].band);
    }
    chi_put(w, s->hedge_next_id, 8);
    chi_put(w, s->n_hedgers, 4);
    for (uint32_t u = 0; u < s->n_hedgers; u++) {
        chi_put(w, s->hedgers[u] != NULL, 1);
        if (s->hedgers[u] != NULL)
            chi_hedger_save(s->hedgers[u], w);
    }
    chi_put(w, s->n_opt_flight, 4);
    for (size_t i = 0; i < s->n_opt_flight; i++) {
        chi_put(w, s->opt_flight[i].und, 4);
        chi_put(w, s->opt_flight[i].instr.v, 4);
        chi_put_bytes(w, &s->opt_flight[i].o, sizeof s->opt_flight[i].o);
    }
    /* transfers between shards: the credits owed, the cursor of those received */
    chi_put(w, s->xfer_in_seq, 8);
    chi_put(w, s->n_xfer_out, 4);
    for (size_t i = 0; i < s->n_xfer_out; i++) {
        const chi_xfer *x = &s->xfer_out[i];
        chi_put(w, x->seq, 8);
        chi_put(w, x->account.v, 4);
        chi_put(w, (uint64_t)x->amount, 8);
        chi_put_str(w, 1, x->to, strnlen(x->to, sizeof x->to));
    }
}

static bool get_server(ch_server *s, chi_rd *r)
{
    if (!chi_snap_expect(r, TAG_SERVER) || chi_get(r, 4) != CHI_MAX_UND)
        return false;
    for (size_t u = 0; u < CHI_MAX_UND; u++) {
        s->und_logged[u].set = chi_get(r, 1) != 0;
        s->und_logged[u].kind = (ch_hedge_policy_kind)chi_get(r, 4);
        s->und_logged[u].band = chi_get_f64(r);
    }
    s->hedge_next_id = chi_get(r, 8);
    uint32_t n = (uint32_t)chi_get(r, 4);
    if (r->bad || n > s->cfg.engine.max_underlyings)
        return false;
    for (uint32_t u = 0; u < n && !r->bad; u++) {
        if (chi_get(r, 1) == 0)
            continue;
        ch_hedger *h = chi_hedger(s, u); /* as a replay makes it: policy, perp, venue */
        if (h == NULL || !chi_hedger_load(h, r))
            return false;
    }
    size_t nf = (size_t)chi_get(r, 4);
    if (nf > sizeof s->opt_flight / sizeof s->opt_flight[0])
        return false;
    for (size_t i = 0; i < nf && !r->bad; i++) {
        s->opt_flight[i].und = (uint32_t)chi_get(r, 4);
        s->opt_flight[i].instr.v = (uint32_t)chi_get(r, 4);
        chi_snap_take(r, &s->opt_flight[i].o, 1, sizeof s->opt_flight[i].o);
    }
    s->n_opt_flight = nf;
    s->xfer_in_seq = chi_get(r, 8);
    size_t nx = (size_t)chi_get(r, 4);
    if (nx > CHI_XFER_MAX)
        return false;
    for (size_t i = 0; i < nx && !r->bad; i++) {
        chi_xfer *x = &s->xfer_out[i];
        x->seq = chi_get(r, 8);
        x->account.v = (uint32_t)chi_get(r, 4);
        x->amount = (int64_t)chi_get(r, 8);
        chi_get_str(r, 1, x->to, sizeof x->to);
    }
    s->n_xfer_out = nx;
    return !r->bad && r->n == r->len;
}

/* The blob: the engine's snapshot (its length in 8 bytes), chd's part, a
 * SHA-256 of chd's part (the engine's closes itself). */
static ch_err build_blob(ch_server *s, chi_wr *w)
{
    chi_put(w, 0, 8); /* the engine part's length, written once known */
    ch_err e = chi_engine_save(s->e, w);
    if (e != CH_OK)
        return e;
    chi_put_at(w, 0, w->n - 8, 8);
    size_t from = w->n;
    put_server(s, w);
    chi_snap_seal(w, from);
    return w->bad ? CH_ENOMEM : CH_OK;
}

/*
 * state.hash: what a snapshot taken now would hold (the engine and chd's
 * part), hashed: two chd that applied the same log, from a snapshot or from
 * the start, on a primary or a standby, answer the same for the same `seq`
 * (the batch of the request may step the clock first: a logged command).
 * Admin only (it serialises the whole state: milliseconds for a large
 * book).
 */
ch_err chi_op_state_hash(ch_server *s, req_ctx *r)
{
    chi_wr w = {.grow = true};
    ch_err e = build_blob(s, &w);
    if (e != CH_OK) {
        free(w.buf);
        FAIL(e, "the state could not be serialised");
    }
    uint8_t d[CH_SHA256_LEN];
    ch_sha256_digest(w.buf, w.n, d);
    char hex[2 * CH_SHA256_LEN + 1];
    for (size_t i = 0; i < CH_SHA256_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    /* the last command applied: this batch's own (a clock step) count */
    uint64_t seq = ch_store_last_seq(s->st);
    if (s->last_cmd_seq > seq)
        seq = s->last_cmd_seq;
    cJSON_AddNumberToObject(r->out, "seq", (double)seq);
    cJSON_AddStringToObject(r->out, "sha256", hex);
    cJSON_AddNumberToObject(r->out, "bytes", (double)w.n);
    free(w.buf);
    return CH_OK;
}

/* log_prune: the commands every kept snapshot holds leave the log. */
static void prune(ch_server *s)
{
    uint64_t n = 0;
    int64_t t0 = mono_now();
    ch_err e = ch_store_prune(s->st, &n);
    s->log_pruned += n;
    if (e != CH_OK)
        CH_LOG(CH_LOG_WARN, "log_prune_failed", "reason=\"%s\"",
               e == CH_EIO ? ch_store_snapshot_error(s->st) : ch_strerror(e));
    else if (n > 0)
        CH_LOG(CH_LOG_INFO, "log_pruned", "commands=%" PRIu64 " first_seq=%" PRIu64 " ms=%.1f", n,
               ch_store_first_seq(s->st), (double)(mono_now() - t0) / 1e6);
}

ch_err chi_snapshot_take(ch_server *s)
{
    int64_t t0 = mono_now();
    uint64_t seq = ch_store_last_seq(s->st);
    chi_wr w = {.grow = true};
    ch_err e = build_blob(s, &w);
    int64_t t1 = mono_now();
    if (e == CH_OK)
        e = ch_store_put_snapshot(s->st, seq, w.buf, w.n, s->cfg.snapshot_keep);
    int64_t t2 = mono_now();
    /* an attempt, written or not, restarts the count: a snapshot that cannot
     * be made is not tried again after every batch */
    s->snap_last_seq = seq;
    s->snap_last_at = t2;
    if (e == CH_OK) {
        s->snapshots++;
        s->snap_bytes = w.n;
        s->snap_ms = (double)(t2 - t0) / 1e6;
        CH_LOG(CH_LOG_INFO, "snapshot", "seq=%" PRIu64 " bytes=%zu serialize_ms=%.1f write_ms=%.1f",
               seq, w.n, (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6);
        if (s->cfg.log_prune)
            prune(s);
    } else {
        s->snapshot_failures++;
        CH_LOG(CH_LOG_WARN, "snapshot_failed", "seq=%" PRIu64 " reason=\"%s\"", seq,
               e == CH_EIO ? ch_store_snapshot_error(s->st) : ch_strerror(e));
    }
    free(w.buf);
    return e;
}

void chi_snapshot_maybe(ch_server *s)
{
    if (s->halted || s->st == NULL)
        return;
    uint64_t seq = ch_store_last_seq(s->st);
    if (seq == s->snap_last_seq)
        return;
    bool by_count =
        s->cfg.snapshot_every > 0 && seq - s->snap_last_seq >= (uint64_t)s->cfg.snapshot_every;
    bool by_time = s->cfg.snapshot_seconds > 0 &&
                   (double)(mono_now() - s->snap_last_at) >= s->cfg.snapshot_seconds * 1e9;
    if (by_count || by_time)
        chi_snapshot_take(s);
}

/* A fresh engine in place of one a failed restore left half written. */
static ch_err fresh_engine(ch_server *s)
{
    ch_engine_destroy(s->e); /* first: two engines may not fit */
    s->e = ch_engine_create(&s->cfg.engine);
    if (s->e == NULL)
        return CH_ENOMEM;
    ch_engine_set_sink(s->e, chi_on_engine_event, s);
    chi_hedgers_close(s);
    chi_transfers_clear(s);
    memset(s->und_logged, 0, sizeof s->und_logged);
    return CH_OK;
}

/* Load blob into the fresh engine and server: CH_OK, CH_EBADCONFIG
 * (another build's or configuration's), CH_EBADREQ (damaged). */
static ch_err load_blob(ch_server *s, const uint8_t *b, size_t len)
{
    chi_rd r = {.p = b, .len = len};
    uint64_t elen = chi_get(&r, 8);
    const uint8_t *eng = elen <= len ? chi_take(&r, (size_t)elen) : NULL;
    if (eng == NULL || !chi_snap_sealed(b + r.n, len - r.n))
        return CH_EBADREQ;
    ch_err e = ch_engine_restore(s->e, eng, (size_t)elen);
    if (e != CH_OK)
        return e;
    chi_rd sr = {.p = b + r.n, .len = len - r.n - CH_SHA256_LEN};
    return get_server(s, &sr) ? CH_OK : CH_EBADREQ;
}

static void count_rest(void *ctx, const ch_order_info *o)
{
    ch_server *s = ctx;
    chi_guard_order_rests(s->guard, o->account, o->id, ch_engine_book(s->e));
}

/* The command before the log's first: a start must load a snapshot at or
 * after it (0: the log was never pruned). */
uint64_t chi_log_pruned_upto(ch_server *s)
{
    uint64_t first = ch_store_first_seq(s->st), last = ch_store_last_seq(s->st);
    return first > 0 ? first - 1 : last;
}

ch_err chi_snapshot_restore(ch_server *s, uint64_t *seq)
{
    *seq = 0;
    /* snapshot_seconds counts from this start (or restore), not from the
     * monotonic clock's origin: a fresh data folder on a machine up longer
     * than snapshot_seconds took a snapshot at its first batch */
    s->snap_last_at = mono_now();
    if (!s->cfg.snapshot_load)
        return CH_OK;
    uint64_t before = UINT64_MAX;
    for (uint32_t tries = 0; tries <= s->cfg.snapshot_keep; tries++) {
        uint64_t at;
        uint8_t *b;
        size_t len;
        ch_err e = ch_store_get_snapshot(s->st, before, &at, &b, &len);
        if (e != CH_OK || b == NULL)
            return e == CH_ENOMEM ? e : CH_OK; /* none (or unreadable): the whole log */
        int64_t t0 = mono_now();
        e = load_blob(s, b, len);
        free(b);
        if (e == CH_OK) {
            const ch_book *book = ch_engine_book(s->e);
            uint32_t n = ch_instruments_count(ch_engine_instruments(s->e));
            for (uint32_t k = 0; k < n; k++)
                for (int side = 0; side < 2; side++)
                    ch_book_foreach(book, (ch_instr_id){k}, (ch_side)side, count_rest, s);
            *seq = at;
            s->snap_last_seq = at;
            s->snap_last_at = mono_now();
            CH_LOG(CH_LOG_INFO, "snapshot_loaded", "seq=%" PRIu64 " bytes=%zu ms=%.1f", at, len,
                   (double)(mono_now() - t0) / 1e6);
            return CH_OK;
        }
        CH_LOG(CH_LOG_WARN, "snapshot_skipped", "seq=%" PRIu64 " reason=\"%s\"", at,
               e == CH_EBADCONFIG ? "written by another build or configuration" : "damaged");
        if ((e = fresh_engine(s)) != CH_OK)
            return e;
        before = at;
    }
    return CH_OK;
}
