/*
 * cluster.c - chd on its shard's replicated batch log (config `cluster`,
 * ch/replog.h). At a start, after the store's replay: bind the stream,
 * check that it ends where the store ends, take the shard over (a term
 * marker: any earlier writer is fenced from then on), then hand the store a
 * replicator so that every batch (clients', hedging's, snapshots' none) is
 * appended to the stream before it is written and before its replies
 * leave. An append refused because another chd took over (10071) halts
 * intake with NOT_PRIMARY; one not acknowledged in time (no quorum, servers
 * down) halts it with UNAVAILABLE. Reads are served from the state as it was.
 *
 * A store behind the stream (the primary moved on while this one was down,
 * or an append whose acknowledgement was lost) is caught up first: the
 * stream's records after its last command are applied as a replay applies
 * the log (same results: the core is deterministic), logged and committed
 * locally, with the keys and client order id replies they carry.
 *
 * A standby (config `standby`) catches up the same way and then keeps
 * following the stream (chi_cluster_follow, on the engine thread every
 * 10 ms when idle): it applies each new batch, answers reads from the state
 * it reached, and refuses writes with NOT_PRIMARY naming the primary (the
 * URL in the newest term marker).
 *
 * The lease (key lease.<shard> in the KeyValue bucket CH_LEASES, TTL
 * cluster_lease_ms): a primary takes it at its start and renews it every
 * 200 ms by revision; losing it (another revision) fences it. A chd that
 * finds it held starts as a standby, and a standby takes it once it lapsed
 * (tried every 100 ms), follows the stream to its end, appends its term
 * marker and serves writes: a failover needs no operator. A clean stop gives
 * the lease up.
 *
 * Not here yet (issue 20): the directory of underlyings to shards, routing
 * clients by underlying.
 */
#include "server_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* One record of the stream applied: its commands (those after the store's
 * last), keys and client order id replies, committed locally. */
static ch_err apply_record(ch_server *s, const ch_replog_rec *rec, ch_command *c)
{
    uint64_t cmd = rec->first, want = ch_store_last_seq(s->st) + 1;
    const uint8_t *p = rec->payload, *end = rec->payload + rec->len;
    bool skip = false; /* the records of a command this store holds */
    while (p + 5 <= end) {
        int kind = p[0];
        size_t len = (size_t)le(p + 1, 4);
        const uint8_t *b = p + 5;
        if (len > (size_t)(end - b))
            return CH_EBADREQ;
        p = b + len;
        if (kind == CH_STORE_REC_COMMAND) {
            uint64_t this_cmd = cmd++;
            skip = this_cmd < want;
            if (skip)
                continue;
            if (ch_command_decode(b, len, c) != CH_OK)
                return CH_EBADREQ;
            ch_command_result res;
            if (ch_command_apply(s->e, c, &res) == CH_ENOMEM)
                return CH_ENOMEM;
            uint64_t seq;
            ch_err e = ch_store_log(s->st, c, &seq);
            if (e != CH_OK)
                return e;
            if (seq != this_cmd) /* a gap in the stream: never apply out of order */
                return CH_EBADREQ;
            chi_replay_command(s, seq, c, &res);
        } else if ((kind == CH_STORE_REC_KEY || kind == CH_STORE_REC_COID) && len >= 2 && !skip) {
            size_t kn = (size_t)le(b, 2);
            if (kn == 0 || kn > len - 2 || kn > 511)
                return CH_EBADREQ;
            char key[512];
            memcpy(key, b + 2, kn);
            key[kn] = '\0';
            ch_err e = CH_OK;
            if (kind == CH_STORE_REC_KEY && len - 2 - kn == CH_SHA256_LEN) {
                e = ch_store_put_key(s->st, key, b + 2 + kn);
                chi_restore_key(s, key, b + 2 + kn);
            } else if (kind == CH_STORE_REC_COID) {
                char *reply = malloc(len - 2 - kn + 1);
                if (reply == NULL)
                    return CH_ENOMEM;
                memcpy(reply, b + 2 + kn, len - 2 - kn);
                reply[len - 2 - kn] = '\0';
                e = ch_store_put_coid(s->st, key, reply);
                free(reply);
            } else {
                return CH_EBADREQ;
            }
            if (e != CH_OK)
                return e;
        }
    }
    return p == end ? ch_store_commit(s->st) : CH_EBADREQ;
}

/* Apply the stream's records after stream sequence *seq up to its end (a
 * record not there yet): batches applied (*batches counts them), term
 * markers noted when @p note_terms (a standby names its primary from them);
 * *seq is the last record taken. */
static ch_err walk_stream(ch_server *s, uint64_t *seq, uint64_t *batches, bool note_terms)
{
    ch_command *c = NULL;
    ch_err e;
    for (;;) {
        ch_replog_rec rec;
        e = ch_replog_read(s->replog, *seq + 1, &rec);
        if (e == CH_ENOTFOUND) {
            e = CH_OK;
            break;
        }
        if (e == CH_OK && rec.kind == CH_REPLOG_TERM) {
            if (note_terms) {
                s->follow_term = rec.term;
                snprintf(s->primary_url, sizeof s->primary_url, "%.*s", (int)rec.len,
                         (const char *)rec.payload);
            }
        } else if (e == CH_OK) {
            if (c == NULL && (c = malloc(sizeof *c)) == NULL)
                e = CH_ENOMEM;
            if (e == CH_OK)
                e = apply_record(s, &rec, c);
            if (e == CH_OK)
                (*batches)++;
        }
        if (e != CH_OK)
            break;
        (*seq)++;
    }
    free(c);
    return e;
}

/* Apply the stream's records after the store's last command. */
static ch_err catch_up(ch_server *s, uint64_t *applied)
{
    uint64_t from = ch_store_last_seq(s->st), q, batches = 0;
    *applied = 0;
    ch_err e = ch_replog_find(s->replog, from + 1, &q);
    if (e != CH_OK)
        return e;
    q--; /* the walk starts after it */
    e = walk_stream(s, &q, &batches, false);
    chi_events_drop(s); /* the applied commands' events: no one asked yet */
    *applied = ch_store_last_seq(s->st) - from;
    return e;
}

static void note_primary(ch_server *s);

static ch_err replicate(void *ctx, uint64_t first, uint32_t n, const uint8_t *recs, size_t len)
{
    ch_server *s = ctx;
    ch_err e = ch_replog_append(s->replog, first, n, recs, len);
    if (e == CH_OK) {
        s->rep_batches++;
        return CH_OK;
    }
    s->rep_failures++;
    s->halt_code = e == CH_ENOT_PRIMARY ? CH_ENOT_PRIMARY : CH_EUNAVAILABLE;
    if (e == CH_ENOT_PRIMARY)
        note_primary(s); /* who took the shard: NOT_PRIMARY replies name it */
    CH_LOG(CH_LOG_ERROR, e == CH_ENOT_PRIMARY ? "fenced" : "replication_failed",
           "first=%" PRIu64 " commands=%u reason=\"%s\"", first, n, ch_replog_error(s->replog));
    return s->halt_code;
}

/* This chd in the shard directory (its role, URL and underlyings); a
 * failure is logged, never fatal: clients can use a map file instead. */
static void directory(ch_server *s, bool primary)
{
    char unds[512] = "";
    const ch_instruments *reg = ch_engine_instruments(s->e);
    for (uint32_t i = 0; i < ch_instruments_underlying_count(reg); i++)
        snprintf(unds + strlen(unds), sizeof unds - strlen(unds), "%s%s", i ? "," : "",
                 ch_instruments_underlying(reg, i)->name);
    if (unds[0] == '\0') /* a standby of an empty stream: the configuration's */
        for (size_t i = 0; i < s->cfg.n_und; i++)
            snprintf(unds + strlen(unds), sizeof unds - strlen(unds), "%s%s", i ? "," : "",
                     s->cfg.und[i].u.name);
    if (ch_replog_directory_put(s->replog, s->cfg.req_url, unds, primary) != CH_OK)
        CH_LOG(CH_LOG_WARN, "directory_failed", "shard=%s reason=\"%s\"", s->cfg.shard,
               ch_replog_error(s->replog));
}

/* The newest term marker's term and primary URL. */
static void note_primary(ch_server *s)
{
    ch_replog_status st;
    if (ch_replog_status_get(s->replog, &st) == CH_OK) {
        s->follow_term = st.term;
        snprintf(s->primary_url, sizeof s->primary_url, "%s", st.primary);
    }
}

void chi_cluster_follow(ch_server *s)
{
    if (!s->standby || s->halted)
        return;
    ch_err e = walk_stream(s, &s->follow_seq, &s->follow_applied, true);
    if (e == CH_OK) { /* at the stream's end */
        s->follow_caught_at = mono_now();
        return;
    }
    if (e != CH_EUNAVAILABLE) { /* a stream this store cannot follow: stop here */
        s->halt_code = CH_ENOT_PRIMARY;
        ch_store_discard(s->st);
        chi_halt(s); /* reads from the committed state, rebuilt */
    }
    CH_LOG(CH_LOG_ERROR, "follow_failed", "stream_seq=%" PRIu64 " reason=\"%s\" (%s)",
           s->follow_seq + 1, ch_strerror(e), ch_replog_error(s->replog));
}

bool chi_cluster_start(ch_server *s, char *err, size_t cap)
{
    if (s->cfg.cluster[0] == '\0')
        return true;
    /* the lease's holder: this process (its URL, for operators, and a
     * random instance: two chd can share a URL on two machines) */
    uint64_t inst = (uint64_t)wall_now() ^ ((uint64_t)getpid() << 32);
    FILE *ur = fopen("/dev/urandom", "rb");
    if (ur != NULL) {
        if (fread(&inst, sizeof inst, 1, ur) != 1)
            inst ^= (uint64_t)mono_now();
        fclose(ur);
    }
    snprintf(s->lease_holder, sizeof s->lease_holder, "%s#%016" PRIx64, s->cfg.req_url, inst);
    ch_replog_config rc = {.url = s->cfg.cluster,
                           .shard = s->cfg.shard,
                           .replicas = s->cfg.cluster_replicas,
                           .timeout_ms = s->cfg.cluster_timeout_ms,
                           .lease_ms = s->cfg.cluster_lease_ms};
    char why[384];
    if (ch_replog_open(&rc, &s->replog, why, sizeof why) != CH_OK) {
        snprintf(err, cap, "cluster: %s", why);
        return false;
    }
    uint64_t local = ch_store_last_seq(s->st), next = ch_replog_next_cmd(s->replog);
    if (next > local + 1) { /* the stream is ahead: apply what this store lacks */
        uint64_t applied = 0;
        int64_t t0 = mono_now();
        ch_err ce = catch_up(s, &applied);
        local = ch_store_last_seq(s->st);
        CH_LOG(ce == CH_OK ? CH_LOG_INFO : CH_LOG_ERROR, "caught_up",
               "shard=%s commands=%" PRIu64 " ms=%.1f result=%s", s->cfg.shard, applied,
               (double)(mono_now() - t0) / 1e6, ch_errwire(ce));
        if (ce != CH_OK) {
            snprintf(err, cap, "cluster: catching up from shard %s's stream failed: %s (%s)",
                     s->cfg.shard, ch_strerror(ce), ch_replog_error(s->replog));
            chi_cluster_stop(s);
            return false;
        }
        next = ch_replog_next_cmd(s->replog);
    }
    /* an empty stream starts after this store's history (a marker says where);
     * else it must end exactly where the store ends */
    if (next != 0 && next != local + 1) {
        snprintf(err, cap,
                 "cluster: shard %s's stream ends at command %" PRIu64 " and this store at %" PRIu64
                 ": %s",
                 s->cfg.shard, next - 1, local,
                 next - 1 > local ? "the stream moved on while it was caught up (another chd "
                                    "writing?)"
                                  : "the stream lost commands this store holds (a stream "
                                    "recreated?): refusing to diverge");
        chi_cluster_stop(s);
        return false;
    }
    char holder[256] = "";
    ch_err le = s->cfg.standby
                    ? CH_EBUSY
                    : ch_replog_lease_take(s->replog, s->lease_holder, holder, sizeof holder);
    if (le != CH_OK && le != CH_EBUSY) {
        snprintf(err, cap, "cluster: shard %s's lease: %s", s->cfg.shard,
                 ch_replog_error(s->replog));
        chi_cluster_stop(s);
        return false;
    }
    s->lease_at = mono_now();
    if (le == CH_EBUSY) { /* follow from here; writes go to the primary */
        s->standby = true;
        s->lease_lost_at = 0;
        s->follow_seq = ch_replog_last(s->replog);
        note_primary(s);
        directory(s, false);
        CH_LOG(CH_LOG_INFO, "standby",
               "shard=%s term=%" PRIu64 " stream_seq=%" PRIu64 " next_command=%" PRIu64
               " primary=%s nats=%s",
               s->cfg.shard, s->follow_term, s->follow_seq, local + 1, s->primary_url,
               s->cfg.cluster);
        return true;
    }
    ch_err e = ch_replog_take_over(s->replog, local + 1, s->cfg.req_url);
    if (e != CH_OK) {
        ch_replog_lease_release(s->replog);
        snprintf(err, cap, "cluster: taking shard %s over failed: %s", s->cfg.shard,
                 ch_replog_error(s->replog));
        chi_cluster_stop(s);
        return false;
    }
    ch_store_set_replicator(s->st, replicate, s);
    directory(s, true);
    s->epoch = ch_replog_term(s->replog);
    CH_LOG(CH_LOG_INFO, "primary",
           "shard=%s term=%" PRIu64 " stream_seq=%" PRIu64 " next_command=%" PRIu64 " nats=%s",
           s->cfg.shard, ch_replog_term(s->replog), ch_replog_last(s->replog), local + 1,
           s->cfg.cluster);
    return true;
}

/* A standby that holds the lease now: follow to the stream's end, append
 * its term marker (retried if the stream moved meanwhile: a primary that
 * was only paused), then take writes. */
static void promote(ch_server *s)
{
    int64_t t0 = mono_now();
    for (int attempt = 0; attempt < 20; attempt++) {
        chi_cluster_follow(s);
        if (s->halted)
            break;
        uint64_t seq;
        uint64_t local = ch_store_last_seq(s->st);
        /* where the stream ends now (find reads its tail) */
        if (ch_replog_find(s->replog, local + 1, &seq) == CH_EUNAVAILABLE)
            continue;
        if (ch_replog_next_cmd(s->replog) > local + 1)
            continue; /* more came in: follow again */
        if (ch_replog_take_over(s->replog, local + 1, s->cfg.req_url) != CH_OK)
            continue;
        ch_store_set_replicator(s->st, replicate, s);
        s->standby = false;
        s->lease_at = mono_now();
        s->epoch = ch_replog_term(s->replog); /* the events' numbering restarts */
        s->event_seq = 0;
        directory(s, true);
        chi_hedge_resend(s); /* in flight at the venue when the old primary went */
        s->last_failover_ms =
            s->lease_lost_at > 0 ? (double)(mono_now() - s->lease_lost_at) / 1e6 : 0;
        CH_LOG(CH_LOG_INFO, "promoted",
               "shard=%s term=%" PRIu64 " next_command=%" PRIu64
               " ms=%.1f since_lease_seen_ms=%.1f",
               s->cfg.shard, ch_replog_term(s->replog), local + 1, (double)(mono_now() - t0) / 1e6,
               s->last_failover_ms);
        return;
    }
    ch_replog_lease_release(s->replog); /* could not take the stream: let another try */
    CH_LOG(CH_LOG_ERROR, "promotion_failed", "shard=%s reason=\"%s\"", s->cfg.shard,
           ch_replog_error(s->replog));
}

/*
 * Writes stopped because appends were not acknowledged (NATS down, no
 * quorum): every 500 ms, see whether the shard can be written again. Still
 * ours (the lease renews, or lapsed and nobody took it): apply what the
 * stream holds beyond the store (an append whose acknowledgement was lost),
 * then take writes again. Another's: follow it as a standby.
 */
static void try_resume(ch_server *s)
{
    ch_err e = ch_replog_lease_renew(s->replog);
    if (e == CH_ENOT_PRIMARY) {
        char who[256];
        e = ch_replog_lease_take(s->replog, s->lease_holder, who, sizeof who);
        if (e == CH_EBUSY) {             /* another primary now: follow it */
            if (chi_rebuild(s) != CH_OK) /* from what was stored */
                return;
            uint64_t q = 1;
            if (ch_replog_find(s->replog, ch_store_last_seq(s->st) + 1, &q) != CH_OK)
                q = 1;
            ch_store_set_replicator(s->st, NULL, NULL);
            if (ch_store_resume(s->st) == CH_OK) {
                s->standby = true;
                s->halted = false;
                s->halt_code = CH_EUNAVAILABLE;
                s->follow_seq = q - 1; /* held commands are skipped */
                note_primary(s);
                CH_LOG(CH_LOG_WARN, "demoted", "shard=%s primary=%s", s->cfg.shard, who);
            }
            return;
        }
    }
    if (e != CH_OK)
        return; /* still unreachable */
    /* the engine exactly as stored (a hedge's commit may have failed after
     * its command was applied) */
    if (chi_rebuild(s) != CH_OK)
        return;
    uint64_t local = ch_store_last_seq(s->st), q;
    e = ch_replog_find(s->replog, local + 1, &q); /* reads where the stream ends */
    if (e != CH_OK && e != CH_ENOTFOUND)
        return;
    uint64_t next = ch_replog_next_cmd(s->replog), applied = 0;
    if (next > local + 1) { /* our last append made it; its acknowledgement did not */
        ch_store_set_replicator(s->st, NULL, NULL);
        if (ch_store_resume(s->st) != CH_OK || catch_up(s, &applied) != CH_OK) {
            ch_store_set_replicator(s->st, replicate, s);
            return;
        }
        ch_store_set_replicator(s->st, replicate, s);
        next = ch_replog_next_cmd(s->replog);
        local = ch_store_last_seq(s->st);
    }
    if (next != 0 && next != local + 1)
        return; /* the stream lost commands: stay stopped (logged at the halt) */
    if (ch_store_resume(s->st) != CH_OK)
        return;
    s->halted = false;
    s->halt_code = CH_EUNAVAILABLE;
    CH_LOG(CH_LOG_INFO, "resumed", "shard=%s applied_from_stream=%" PRIu64 " stream_seq=%" PRIu64,
           s->cfg.shard, applied, ch_replog_last(s->replog));
}

void chi_cluster_tick(ch_server *s)
{
    if (s->replog == NULL)
        return;
    int64_t now = mono_now();
    if (s->standby) {
        chi_cluster_follow(s);
        if (s->halted || now - s->lease_at < 100 * 1000000LL)
            return;
        s->lease_at = now;
        uint64_t end;
        if (ch_replog_end(s->replog, &end) == CH_OK) /* how far behind reads are */
            s->stream_end = end;
        char who[256];
        ch_err e = ch_replog_lease_take(s->replog, s->lease_holder, who, sizeof who);
        if (e == CH_EBUSY)
            s->lease_lost_at = now; /* still held: a failover is timed from here */
        else if (e == CH_OK)
            promote(s);
        return;
    }
    if (s->halted && s->halt_code == CH_EUNAVAILABLE && s->rep_failures > 0 &&
        now - s->lease_at >= 500 * 1000000LL) {
        s->lease_at = now;
        try_resume(s);
        return;
    }
    if (s->halted || now - s->lease_at < 200 * 1000000LL)
        return;
    s->lease_at = now;
    if (ch_replog_lease_renew(s->replog) == CH_ENOT_PRIMARY) {
        s->halted = true; /* another took the shard: no more writes from here */
        s->halt_code = CH_ENOT_PRIMARY;
        note_primary(s);
        s->reads_ok = true; /* between batches: the engine holds the committed state */
        CH_LOG(CH_LOG_ERROR, "lease_lost", "shard=%s action=\"writes refused: NOT_PRIMARY\"",
               s->cfg.shard);
    }
}

void chi_cluster_stop(ch_server *s)
{
    if (s->replog != NULL && !s->standby && !s->halted)
        ch_replog_lease_release(s->replog); /* a clean stop: a standby need not wait */
    if (s->st != NULL)
        ch_store_set_replicator(s->st, NULL, NULL);
    ch_replog_close(s->replog);
    s->replog = NULL;
}

const char *chi_cluster_not_primary(ch_server *s)
{
    snprintf(s->not_primary, sizeof s->not_primary,
             "a standby: writes go to the shard's primary at %s",
             s->primary_url[0] ? s->primary_url : "(unknown yet)");
    return s->not_primary;
}

void chi_cluster_staleness(ch_server *s, cJSON *out)
{
    uint64_t behind = s->stream_end > s->follow_seq ? s->stream_end - s->follow_seq : 0;
    cJSON_AddNumberToObject(out, "stale_batches", (double)behind);
    cJSON_AddNumberToObject(
        out, "stale_ms",
        s->follow_caught_at > 0 ? (double)(mono_now() - s->follow_caught_at) / 1e6 : -1);
}

void chi_cluster_stats(ch_server *s, cJSON *out)
{
    if (s->replog == NULL)
        return;
    cJSON *c = cJSON_AddObjectToObject(out, "cluster");
    cJSON_AddStringToObject(c, "shard", s->cfg.shard);
    cJSON_AddStringToObject(c, "role",
                            s->standby                        ? "standby"
                            : s->halt_code == CH_ENOT_PRIMARY ? "fenced"
                                                              : "primary");
    if (s->standby) {
        cJSON_AddNumberToObject(c, "term", (double)s->follow_term);
        cJSON_AddNumberToObject(c, "stream_seq", (double)s->follow_seq); /* applied up to */
        cJSON_AddStringToObject(c, "primary", s->primary_url);
        cJSON_AddNumberToObject(c, "applied_batches", (double)s->follow_applied);
        return;
    }
    cJSON_AddNumberToObject(c, "last_failover_ms", s->last_failover_ms);
    cJSON_AddNumberToObject(c, "transfers_pending", (double)s->n_xfer_out);
    cJSON_AddNumberToObject(c, "transfers_sent", (double)s->xfers_sent);
    cJSON_AddNumberToObject(c, "transfers_received", (double)s->xfers_received);
    cJSON_AddNumberToObject(c, "transfer_in_seq", (double)s->xfer_in_seq);
    cJSON_AddNumberToObject(c, "term", (double)ch_replog_term(s->replog));
    cJSON_AddNumberToObject(c, "stream_seq", (double)ch_replog_last(s->replog));
    cJSON_AddNumberToObject(c, "replicated_batches", (double)s->rep_batches);
    cJSON_AddNumberToObject(c, "replication_failures", (double)s->rep_failures);
}
