/*
 * replog.c - the replicated batch log of a shard on NATS JetStream (see
 * ch/replog.h): the stream bound or created, appends fenced by
 * ExpectLastSeq, term markers, and reads by stream sequence. Synchronous:
 * an append returns when JetStream acknowledged it (stored on a quorum of
 * the stream's replicas) or the timeout passed.
 */
#include "ch/replog.h"

#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HDR     32
#define VERSION 1

struct ch_replog {
    natsConnection *nc;
    jsCtx *js;
    char stream[48], subject[48], term_subject[48];
    char lease_key[48], shard[32];
    kvStore *kv;        /* the leases' bucket (bound on first use) */
    kvStore *dir;       /* the directory's bucket (bound on first use) */
    uint64_t lease_rev; /* the revision of the lease this writer holds (0: none) */
    int64_t lease_ms;
    int replicas;
    char holder[256];
    int64_t timeout_ms;
    uint64_t last;     /* the stream sequence this writer expects last */
    uint64_t first;    /* the stream's first sequence (at the last look) */
    uint64_t term;     /* the highest term seen */
    uint64_t next_cmd; /* the command after the last record */
    natsMsg *held;     /* the message of the last read */
    uint8_t *buf;      /* one record being written */
    size_t cap;
    int max_payload;
    uint64_t retried; /* appends acknowledged as duplicates of a retried one */
    char error[256];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

bool ch_replog_decode(const uint8_t *buf, size_t len, ch_replog_rec *out)
{
    if (len < HDR || memcmp(buf, "CHRL", 4) != 0 || buf[4] != VERSION ||
        (buf[5] != CH_REPLOG_BATCH && buf[5] != CH_REPLOG_TERM))
        return false;
    *out = (ch_replog_rec){.kind = buf[5],
                           .part = (uint16_t)get_le(buf + 6, 2),
                           .parts = (uint16_t)get_le(buf + 8, 2),
                           .term = get_le(buf + 12, 8),
                           .first = get_le(buf + 20, 8),
                           .n = (uint32_t)get_le(buf + 28, 4),
                           .payload = buf + HDR,
                           .len = len - HDR};
    return out->parts >= 1 && out->part < out->parts;
}

/* A JetStream call's outcome as a ch_err, with its text kept. */
static ch_err fail(ch_replog *r, const char *what, natsStatus s, jsErrCode je)
{
    if (s == NATS_OK)
        return CH_OK;
    snprintf(r->error, sizeof r->error, "%s: %s (%s%d)", what, natsStatus_GetText(s),
             je != 0 ? "jetstream error " : "status ", je != 0 ? (int)je : (int)s);
    if (je == JSStreamWrongLastSequenceErr)
        return CH_ENOT_PRIMARY;
    if (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_CLOSED ||
        s == NATS_CONNECTION_DISCONNECTED || s == NATS_NO_SERVER || s == NATS_INSUFFICIENT_BUFFER ||
        s == NATS_STALE_CONNECTION || s == NATS_IO_ERROR)
        return CH_EUNAVAILABLE;
    return CH_EIO;
}

static bool valid_shard(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n >= 1 && n <= 31 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* The stream's info (jsStreamInfo_Destroy it): CH_OK or the failure. */
static ch_err stream_info(ch_replog *r, const char *stream, jsStreamInfo **si)
{
    *si = NULL;
    jsErrCode je = 0;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = r->timeout_ms;
    natsStatus s = js_GetStreamInfo(si, r->js, stream, &o, &je);
    return fail(r, "stream info", s, je);
}

/* Read the stream's end: its last sequence, and from its last record the
 * next command and the term (every record carries its writer's term, and a
 * term only grows). */
static ch_err read_tail(ch_replog *r)
{
    jsStreamInfo *si;
    ch_err ie = stream_info(r, r->stream, &si);
    if (ie != CH_OK)
        return ie;
    r->last = si->State.LastSeq;
    r->first = si->State.FirstSeq;
    jsStreamInfo_Destroy(si);
    r->term = 0;
    r->next_cmd = 0;
    if (r->last == 0)
        return CH_OK;
    ch_replog_rec rec;
    ch_err e = ch_replog_read(r, r->last, &rec);
    if (e == CH_OK) {
        r->next_cmd = rec.first + rec.n;
        r->term = rec.term;
    }
    return e;
}

/* Bind stream @p stream (subjects @p subj), created if absent when
 * @p create (file storage, the replicas): CH_OK; CH_ENOTFOUND (absent, not
 * created); another failure, said with @p what. */
static ch_err bind_stream(ch_replog *r, const char *stream, const char **subj, int n, bool create,
                          const char *what)
{
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = r->timeout_ms;
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;
    natsStatus s = js_GetStreamInfo(&si, r->js, stream, &jo, &je);
    if (s != NATS_OK && je == JSStreamNotFoundErr && create) {
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        sc.Name = stream;
        sc.Subjects = subj;
        sc.SubjectsLen = n;
        sc.Storage = js_FileStorage;
        sc.Replicas = r->replicas;
        je = 0;
        s = js_AddStream(&si, r->js, &sc, &jo, &je);
    }
    jsStreamInfo_Destroy(si);
    ch_err e = fail(r, what, s, je);
    return e != CH_OK && je == JSStreamNotFoundErr ? CH_ENOTFOUND : e;
}

ch_err ch_replog_open(const ch_replog_config *cfg, ch_replog **out, char *err, size_t cap)
{
    *out = NULL;
    if (cfg->url == NULL || cfg->url[0] == '\0' || !valid_shard(cfg->shard) || cfg->replicas < 1 ||
        cfg->replicas > 5 || cfg->timeout_ms < 1) {
        snprintf(err, cap,
                 "replicated log: a NATS URL, a shard of 1 to 31 [a-z0-9_-], replicas "
                 "1 to 5 and a timeout are needed");
        return CH_EINVAL;
    }
    ch_replog *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, cap, "out of memory");
        return CH_ENOMEM;
    }
    r->timeout_ms = cfg->timeout_ms;
    snprintf(r->subject, sizeof r->subject, "ch.%s.log", cfg->shard);
    snprintf(r->term_subject, sizeof r->term_subject, "ch.%s.term", cfg->shard);
    snprintf(r->lease_key, sizeof r->lease_key, "lease.%s", cfg->shard);
    snprintf(r->shard, sizeof r->shard, "%s", cfg->shard);
    r->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : 1500;
    r->replicas = cfg->replicas;
    snprintf(r->stream, sizeof r->stream, "CH_%s", cfg->shard);
    for (char *p = r->stream; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (*p == '-')
            *p = '_';
    natsOptions *no = NULL;
    natsStatus s = natsOptions_Create(&no);
    /* the servers, comma-separated: each one a URL the client may use */
    char urls[1024];
    const char *list[16];
    int n_urls = 0;
    snprintf(urls, sizeof urls, "%s", cfg->url);
    for (char *save = NULL, *u = strtok_r(urls, ", ", &save); u != NULL && n_urls < 16;
         u = strtok_r(NULL, ", ", &save))
        list[n_urls++] = u;
    if (s == NATS_OK)
        s = natsOptions_SetServers(no, list, n_urls);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(no, cfg->timeout_ms);
    if (s == NATS_OK)
        s = natsOptions_SetName(no, "chd");
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(no, -1); /* keep trying: appends time out meanwhile */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(no, 100);
    /* no reconnect buffer: an append made while disconnected fails now,
     * instead of reaching the stream later, after its batch was refused */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(no, 1);
    if (s == NATS_OK)
        s = natsConnection_Connect(&r->nc, no);
    natsOptions_Destroy(no);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = cfg->timeout_ms;
    if (s == NATS_OK)
        s = natsConnection_JetStream(&r->js, r->nc, &jo);
    ch_err e = fail(r, "connecting to NATS", s, 0);
    if (e == CH_OK && cfg->no_stream) {
        *out = r;
        return CH_OK;
    }
    if (e == CH_OK) {
        r->max_payload = (int)natsConnection_GetMaxPayload(r->nc);
        const char *subj[2] = {r->subject, r->term_subject};
        e = bind_stream(r, r->stream, subj, 2, !cfg->no_create, "binding the stream");
    }
    if (e == CH_OK)
        e = read_tail(r);
    if (e != CH_OK) {
        snprintf(err, cap, "replicated log %s at %s: %s", r->stream, cfg->url, r->error);
        ch_replog_close(r);
        return e;
    }
    *out = r;
    return CH_OK;
}

void ch_replog_close(ch_replog *r)
{
    if (r == NULL)
        return;
    natsMsg_Destroy(r->held);
    kvStore_Destroy(r->kv);
    kvStore_Destroy(r->dir);
    jsCtx_Destroy(r->js);
    natsConnection_Destroy(r->nc);
    free(r->buf);
    free(r);
}

uint64_t ch_replog_last(const ch_replog *r)
{
    return r->last;
}

uint64_t ch_replog_term(const ch_replog *r)
{
    return r->term;
}

uint64_t ch_replog_next_cmd(const ch_replog *r)
{
    return r->next_cmd;
}

const char *ch_replog_error(const ch_replog *r)
{
    return r->error;
}

/* Append one record: its header and payload, fenced by the last sequence. */
static ch_err put(ch_replog *r, int kind, uint16_t part, uint16_t parts, uint64_t first, uint32_t n,
                  const uint8_t *payload, size_t len)
{
    if (HDR + len > r->cap) {
        uint8_t *nb = realloc(r->buf, HDR + len);
        if (nb == NULL)
            return CH_ENOMEM;
        r->buf = nb;
        r->cap = HDR + len;
    }
    memcpy(r->buf, "CHRL", 4);
    r->buf[4] = VERSION;
    r->buf[5] = (uint8_t)kind;
    put_le(r->buf + 6, part, 2);
    put_le(r->buf + 8, parts, 2);
    put_le(r->buf + 10, 0, 2);
    put_le(r->buf + 12, r->term, 8);
    put_le(r->buf + 20, first, 8);
    put_le(r->buf + 28, n, 4);
    if (len > 0)
        memcpy(r->buf + HDR, payload, len);
    /* retried until the timeout while the servers cannot answer (a stream
     * leader being elected, a reconnect): the message id makes a retry of an
     * append that was stored, its acknowledgement lost, a duplicate the
     * stream acknowledges again instead of a second copy */
    char msg_id[64];
    snprintf(msg_id, sizeof msg_id, "%" PRIu64 "-%" PRIu64 "-%u-%d", r->term, first, part, kind);
    int64_t deadline = now_ms() + r->timeout_ms;
    ch_err e;
    for (;;) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        int64_t left = deadline - now_ms();
        po.MaxWait = left > 1 ? left : 1;
        po.MsgId = msg_id;
        po.ExpectStream = r->stream;
        po.ExpectLastSeq = r->last;
        jsPubAck *ack = NULL;
        jsErrCode je = 0;
        natsStatus s =
            js_Publish(&ack, r->js, kind == CH_REPLOG_TERM ? r->term_subject : r->subject, r->buf,
                       (int)(HDR + len), &po, &je);
        e = fail(r, "append", s, je);
        if (e == CH_OK) {
            r->last = ack->Sequence;
            r->next_cmd = first + n;
            r->retried += ack->Duplicate ? 1 : 0;
        }
        jsPubAck_Destroy(ack);
        if (e != CH_EUNAVAILABLE || now_ms() + 50 >= deadline)
            return e;
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL); /* 50 ms, then again */
    }
}

ch_err ch_replog_take_over(ch_replog *r, uint64_t next_cmd, const char *url)
{
    r->term++;
    ch_err e = put(r, CH_REPLOG_TERM, 0, 1, next_cmd, 0, (const uint8_t *)url,
                   url != NULL ? strlen(url) : 0);
    if (e != CH_OK)
        r->term--;
    return e;
}

ch_err ch_replog_append(ch_replog *r, uint64_t first, uint32_t n, const uint8_t *recs, size_t len)
{
    /* each part within max_payload, its headers (message id, expected stream
     * and sequence) included: 1 KiB kept for them */
    size_t room = r->max_payload > HDR + 2048 ? (size_t)r->max_payload - HDR - 1024 : 1024;
    /* the parts: whole commands up to room bytes each */
    uint16_t parts = 0;
    for (size_t at = 0; at < len; parts++) {
        size_t end = at;
        while (end + 5 <= len) {
            size_t one = 5 + (size_t)get_le(recs + end + 1, 4);
            if (end + one > len)
                return CH_EINVAL;
            if (end > at && end + one - at > room)
                break;
            end += one;
        }
        if (end - at > room) {
            snprintf(r->error, sizeof r->error, "append: a record of %zu bytes exceeds max_payload",
                     end - at);
            return CH_EINVAL;
        }
        at = end;
    }
    if (parts == 0)
        return CH_OK;
    uint64_t cmd = first;
    size_t at = 0;
    for (uint16_t p = 0; p < parts; p++) {
        size_t end = at;
        uint32_t k = 0;
        while (end + 5 <= len) {
            size_t one = 5 + (size_t)get_le(recs + end + 1, 4);
            if (end > at && end + one - at > room)
                break;
            k += recs[end] == 1; /* commands (keys ride with them) */
            end += one;
        }
        ch_err e = put(r, CH_REPLOG_BATCH, p, parts, cmd, k, recs + at, end - at);
        if (e != CH_OK)
            return e;
        cmd += k;
        at = end;
    }
    return cmd == first + n ? CH_OK : CH_EINVAL;
}

ch_err ch_replog_read(ch_replog *r, uint64_t seq, ch_replog_rec *out)
{
    natsMsg_Destroy(r->held);
    r->held = NULL;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = r->timeout_ms;
    jsErrCode je = 0;
    natsStatus s = js_GetMsg(&r->held, r->js, r->stream, seq, &o, &je);
    if (s != NATS_OK && (je == JSNoMessageFoundErr || s == NATS_NOT_FOUND))
        return CH_ENOTFOUND;
    ch_err e = fail(r, "read", s, je);
    if (e != CH_OK)
        return e;
    const uint8_t *d = (const uint8_t *)natsMsg_GetData(r->held);
    int n = natsMsg_GetDataLength(r->held);
    return n > 0 && ch_replog_decode(d, (size_t)n, out) ? CH_OK : CH_EBADREQ;
}

ch_err ch_replog_status_get(ch_replog *r, ch_replog_status *out)
{
    memset(out, 0, sizeof *out);
    jsStreamInfo *si;
    ch_err ie = stream_info(r, r->stream, &si);
    if (ie != CH_OK)
        return ie;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = r->timeout_ms;
    jsErrCode je = 0;
    natsStatus s;
    out->messages = si->State.Msgs;
    out->bytes = si->State.Bytes;
    out->first_seq = si->State.FirstSeq;
    out->last_seq = si->State.LastSeq;
    out->replicas = si->Config != NULL ? (int)si->Config->Replicas : 0;
    if (si->Cluster != NULL) {
        snprintf(out->leader, sizeof out->leader, "%s",
                 si->Cluster->Leader != NULL ? si->Cluster->Leader : "");
        for (int i = 0; i < si->Cluster->ReplicasLen; i++) {
            const jsPeerInfo *p = si->Cluster->Replicas[i];
            out->current += p->Current ? 1 : 0;
            if (p->Lag > out->max_lag)
                out->max_lag = p->Lag;
        }
    }
    jsStreamInfo_Destroy(si);
    natsMsg *m = NULL;
    je = 0;
    s = js_GetLastMsg(&m, r->js, r->stream, r->term_subject, &o, &je);
    ch_replog_rec rec;
    if (s == NATS_OK && ch_replog_decode((const uint8_t *)natsMsg_GetData(m),
                                         (size_t)natsMsg_GetDataLength(m), &rec)) {
        out->term = rec.term;
        snprintf(out->primary, sizeof out->primary, "%.*s", (int)rec.len,
                 (const char *)rec.payload);
    }
    natsMsg_Destroy(m);
    if (out->last_seq > 0 && ch_replog_read(r, out->last_seq, &rec) == CH_OK)
        out->next_cmd = rec.first + rec.n;
    return CH_OK;
}

ch_err ch_replog_find(ch_replog *r, uint64_t cmd, uint64_t *seq)
{
    ch_err e = read_tail(r); /* where the stream is now */
    if (e != CH_OK)
        return e;
    if (r->last == 0)
        return CH_ENOTFOUND;
    uint64_t lo = r->first > 0 ? r->first : 1, hi = r->last, found = 0;
    while (lo <= hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        ch_replog_rec rec;
        e = ch_replog_read(r, mid, &rec);
        if (e != CH_OK)
            return e;
        if (rec.first <= cmd) {
            found = mid;
            lo = mid + 1;
        } else {
            if (mid == 0)
                break;
            hi = mid - 1;
        }
    }
    if (found == 0)
        return CH_ENOTFOUND;
    *seq = found;
    return CH_OK;
}

/* ---- the lease ---------------------------------------------------------- */

/* Bind KeyValue bucket @p bucket into *kv, created if absent (history 1, file
 * storage, the stream's replicas; @p ttl_ns 0: none). */
static ch_err bind_kv(ch_replog *r, kvStore **kv, const char *bucket, int64_t ttl_ns)
{
    if (*kv != NULL)
        return CH_OK;
    natsStatus s = js_KeyValue(kv, r->js, bucket);
    if (s != NATS_OK) {
        kvConfig kc;
        kvConfig_Init(&kc);
        kc.Bucket = bucket;
        kc.History = 1;
        kc.TTL = ttl_ns; /* nanoseconds, as libnats 3.4 takes it */
        kc.StorageType = js_FileStorage;
        kc.Replicas = r->replicas;
        s = js_CreateKeyValue(kv, r->js, &kc);
        if (s != NATS_OK) { /* another chd made it meanwhile? */
            char why[160];
            snprintf(why, sizeof why, "%s", nats_GetLastError(NULL));
            s = js_KeyValue(kv, r->js, bucket);
            if (s != NATS_OK) {
                snprintf(r->error, sizeof r->error, "creating the bucket %s: %s", bucket, why);
                return CH_EIO;
            }
        }
    }
    return fail(r, "binding a bucket", s, 0);
}

static ch_err bind_leases(ch_replog *r)
{
    return bind_kv(r, &r->kv, "CH_LEASES", r->lease_ms * 1000000);
}

ch_err ch_replog_lease_take(ch_replog *r, const char *holder, char *who, size_t cap)
{
    if (who != NULL && cap > 0)
        who[0] = '\0';
    ch_err e = bind_leases(r);
    if (e != CH_OK)
        return e;
    uint64_t rev = 0;
    natsStatus s = kvStore_CreateString(&rev, r->kv, r->lease_key, holder);
    if (s == NATS_OK) {
        r->lease_rev = rev;
        snprintf(r->holder, sizeof r->holder, "%s", holder);
        return CH_OK;
    }
    kvEntry *ent = NULL;
    if (kvStore_Get(&ent, r->kv, r->lease_key) == NATS_OK) { /* held: by whom */
        const char *v = kvEntry_ValueString(ent);
        if (v != NULL && strcmp(v, holder) == 0) { /* by this chd already (an answer lost) */
            r->lease_rev = kvEntry_Revision(ent);
            snprintf(r->holder, sizeof r->holder, "%s", holder);
            kvEntry_Destroy(ent);
            return CH_OK;
        }
        if (who != NULL && cap > 0)
            snprintf(who, cap, "%s", v != NULL ? v : "");
        kvEntry_Destroy(ent);
        return CH_EBUSY;
    }
    e = fail(r, "taking the lease", s, 0);
    return e == CH_EIO ? CH_EBUSY : e; /* it was there when asked, gone since: not ours */
}

ch_err ch_replog_lease_renew(ch_replog *r)
{
    if (r->lease_rev == 0)
        return CH_ENOT_PRIMARY;
    ch_err e = bind_leases(r);
    if (e != CH_OK)
        return e;
    uint64_t rev = 0;
    natsStatus s = kvStore_UpdateString(&rev, r->kv, r->lease_key, r->holder, r->lease_rev);
    if (s == NATS_OK) {
        r->lease_rev = rev;
        return CH_OK;
    }
    e = fail(r, "renewing the lease", s, 0);
    /* refused: lost only if the lease now holds another revision (someone
     * else's) or is gone; a server that could not answer (an election,
     * "temporarily unavailable") is tried again */
    kvEntry *ent = NULL;
    natsStatus g = kvStore_Get(&ent, r->kv, r->lease_key);
    if (g == NATS_OK) {
        /* ours if our revision, or our name with a newer one (an update of
         * ours that the server made but whose answer was lost) */
        uint64_t rev_now = kvEntry_Revision(ent);
        const char *holder = kvEntry_ValueString(ent);
        bool ours = holder != NULL && strcmp(holder, r->holder) == 0;
        kvEntry_Destroy(ent);
        if (rev_now == r->lease_rev)
            return CH_EUNAVAILABLE; /* ours, unchanged: the update failed, try again */
        if (ours) {
            r->lease_rev = rev_now;
            return CH_OK;
        }
    } else if (g == NATS_NOT_FOUND) {
        /* lapsed while the servers could not renew it (no quorum) and no one
         * took it: take it again (another primary would have fenced this one
         * in the stream already) */
        uint64_t again = 0;
        g = kvStore_CreateString(&again, r->kv, r->lease_key, r->holder);
        if (g == NATS_OK) {
            r->lease_rev = again;
            return CH_OK;
        }
        kvEntry *now = NULL;
        if (kvStore_Get(&now, r->kv, r->lease_key) != NATS_OK)
            return CH_EUNAVAILABLE;
        const char *v = kvEntry_ValueString(now);
        bool ours = v != NULL && strcmp(v, r->holder) == 0;
        uint64_t rev_now = kvEntry_Revision(now);
        kvEntry_Destroy(now);
        if (ours) { /* our create made it; its answer did not */
            r->lease_rev = rev_now;
            return CH_OK;
        }
    } else {
        return CH_EUNAVAILABLE;
    }
    (void)e;
    r->lease_rev = 0; /* another's now: not ours */
    return CH_ENOT_PRIMARY;
}

void ch_replog_lease_release(ch_replog *r)
{
    if (r->lease_rev == 0 || bind_leases(r) != CH_OK)
        return;
    kvStore_Delete(r->kv, r->lease_key);
    r->lease_rev = 0;
}

ch_err ch_replog_end(ch_replog *r, uint64_t *last)
{
    jsStreamInfo *si;
    ch_err e = stream_info(r, r->stream, &si);
    if (e == CH_OK)
        *last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return e;
}

/* ---- the directory ------------------------------------------------------ */

static ch_err bind_directory(ch_replog *r)
{
    return bind_kv(r, &r->dir, "CH_DIRECTORY", 0);
}

ch_err ch_replog_directory_put(ch_replog *r, const char *url, const char *underlyings, bool primary)
{
    ch_err e = bind_directory(r);
    if (e != CH_OK)
        return e;
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a of the URL: the member's id */
    for (const char *p = url; *p; p++)
        h = (h ^ (uint8_t)*p) * UINT64_C(1099511628211);
    char key[96], val[768];
    snprintf(key, sizeof key, "member.%s.%016" PRIx64, r->shard, h);
    snprintf(val, sizeof val, "%s %s %s", primary ? "primary" : "standby", url, underlyings);
    natsStatus s = kvStore_PutString(NULL, r->dir, key, val);
    if (s == NATS_OK && primary) {
        snprintf(key, sizeof key, "primary.%s", r->shard);
        s = kvStore_PutString(NULL, r->dir, key, url);
    }
    char list[512];
    snprintf(list, sizeof list, "%s", underlyings);
    for (char *save = NULL, *u = strtok_r(list, ",", &save); s == NATS_OK && u != NULL;
         u = strtok_r(NULL, ",", &save)) {
        snprintf(key, sizeof key, "und.%s", u);
        s = kvStore_PutString(NULL, r->dir, key, r->shard);
    }
    return fail(r, "writing the directory", s, 0);
}

ch_err ch_replog_directory_list(ch_replog *r,
                                void (*fn)(void *ctx, const char *key, const char *value),
                                void *ctx)
{
    ch_err e = bind_directory(r);
    if (e != CH_OK)
        return e;
    kvKeysList keys = {0};
    natsStatus s = kvStore_Keys(&keys, r->dir, NULL);
    if (s == NATS_NOT_FOUND) /* an empty bucket */
        return CH_OK;
    for (int i = 0; s == NATS_OK && i < keys.Count; i++) {
        kvEntry *ent = NULL;
        if (kvStore_Get(&ent, r->dir, keys.Keys[i]) == NATS_OK)
            fn(ctx, keys.Keys[i], kvEntry_ValueString(ent));
        kvEntry_Destroy(ent);
    }
    kvKeysList_Destroy(&keys);
    return fail(r, "reading the directory", s, 0);
}

/* ---- transfers between shards ------------------------------------------- */

/* Stream and subject names of shard @p shard's transfer stream. */
static bool xfer_names(const char *shard, char *stream, char *subject, size_t cap)
{
    if (!valid_shard(shard))
        return false;
    snprintf(subject, cap, "ch.xfer.%s", shard);
    snprintf(stream, cap, "CH_XFER_%s", shard);
    for (char *p = stream; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (*p == '-')
            *p = '_';
    return true;
}

ch_err ch_replog_xfer_put(ch_replog *r, const char *to, const char *msg_id, const char *data,
                          size_t len)
{
    char stream[64], subject[64];
    if (!xfer_names(to, stream, subject, sizeof stream))
        return CH_EINVAL;
    const char *subj[1] = {subject};
    ch_err e = bind_stream(r, stream, subj, 1, true, "the transfer stream");
    if (e != CH_OK)
        return e;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = r->timeout_ms;
    po.MsgId = msg_id;
    po.ExpectStream = stream;
    jsPubAck *ack = NULL;
    jsErrCode je = 0;
    natsStatus s = js_Publish(&ack, r->js, subject, data, (int)len, &po, &je);
    jsPubAck_Destroy(ack);
    return fail(r, "appending a transfer", s, je);
}

ch_err ch_replog_xfer_get(ch_replog *r, const char *shard, uint64_t seq, char *buf, size_t cap)
{
    char stream[64], subject[64];
    if (!xfer_names(shard, stream, subject, sizeof stream))
        return CH_EINVAL;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = r->timeout_ms;
    natsMsg *m = NULL;
    jsErrCode je = 0;
    natsStatus s = js_GetMsg(&m, r->js, stream, seq, &o, &je);
    if (s != NATS_OK &&
        (je == JSNoMessageFoundErr || je == JSStreamNotFoundErr || s == NATS_NOT_FOUND)) {
        natsMsg_Destroy(m);
        return CH_ENOTFOUND;
    }
    ch_err e = fail(r, "reading a transfer", s, je);
    if (e == CH_OK) {
        int n = natsMsg_GetDataLength(m);
        if (n < 0 || (size_t)n >= cap)
            e = CH_ERANGE;
        else {
            memcpy(buf, natsMsg_GetData(m), (size_t)n);
            buf[n] = '\0';
        }
    }
    natsMsg_Destroy(m);
    return e;
}
