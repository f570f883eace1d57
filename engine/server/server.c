/*
 * server.c - chd: the JSON protocol over NNG, group commit, events, hedging.
 *
 * Threads: NNG's callbacks (any of its task threads) only move a request
 * onto the queue and, when told, send the reply that the engine thread set
 * on their aio. The engine thread owns the engine, the store, the hedge book
 * and every cJSON tree: it drains the whole queue, handles each request in
 * order (logging the commands it applies), commits the batch once, then
 * releases the replies and publishes the batch's events. A failed commit
 * replaces every reply of the batch with UNAVAILABLE and stops intake.
 *
 * Access and limits (guard.c): every request passes chi_request_guard() once (ops.c)
 * (connection rate, client cap, the op's key class); every use of an account
 * passes get_account() (its key); every order passes chi_order_guard() (account
 * rate, open-order cap). Key digests are written with the batch of the
 * account.open that made them and loaded from the store at start.
 *
 * Idempotency: an order.new with a client_order_id is remembered per account
 * (its reply fields); a repeat gets the original result and creates nothing.
 * The index is rebuilt from the command log at start, so it holds across
 * restarts.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server_int.h"

/* ---- the engine thread ------------------------------------------------------ */

/* Receive the next request on @p w's context (no deadline: a context waits
 * for as long as no request comes). */
static void recv_next(work *w)
{
    w->state = 0;
    nng_aio_set_timeout(w->aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(w->ctx, w->aio);
}

/* A connection that does not read its replies: closed, so that it costs only
 * itself (NNG answers the contexts waiting on it as sent). Logged at most
 * once a second. */
static void close_slow(ch_server *s, nng_pipe p, const char *why)
{
    uint64_t n = __atomic_add_fetch(&s->slow_closed, 1, __ATOMIC_RELAXED);
    int64_t now = mono_now(), was = __atomic_load_n(&s->slow_logged, __ATOMIC_RELAXED);
    if (now - was > CH_NS_PER_SEC &&
        __atomic_compare_exchange_n(&s->slow_logged, &was, now, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        CH_LOG(CH_LOG_WARN, "client_closed", "pipe=%u reason=\"%s\" closed_so_far=%" PRIu64,
               (unsigned)nng_pipe_id(p), why, n);
    nng_pipe_close(p);
}

/* The hand-off below completes at once: there is nothing to cancel. */
static void handed_off(nng_aio *aio, void *arg, int rv)
{
    (void)aio;
    (void)arg;
    (void)rv;
}

/*
 * Reply to @p w's request with @p text (freed here; NULL: out of memory).
 * The send itself (nng_ctx_send: the REP socket's lock, which NNG's threads
 * also take, and the write) is handed to one of NNG's threads by completing
 * the context's aio as a provider would (begin, defer, finish: its callback
 * runs there, state 3), so that the engine thread does not pay it for every
 * reply of its batch in turn: measured at 8 clients over ipc, +10 to +19 %
 * order.new throughput (3 interleaved runs each), none at 1 client.
 */
static void send_reply(work *w, char *text, size_t len)
{
    ch_server *s = w->s;
    uint32_t pipe = nng_pipe_id(w->pipe);
    nng_msg *m = NULL;
    if (text == NULL || nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, text, len) != 0) {
        if (m != NULL)
            nng_msg_free(m);
        m = NULL;
    }
    free(text);
    if (m == NULL) { /* out of memory: the client's REQ will resend */
        chi_guard_conn_done(s->guard, pipe, false, mono_now());
        recv_next(w);
        return;
    }
    /* a client that does not read: its replies pile up in the transport and
     * each holds a context; past the bound the connection is closed */
    if (chi_guard_conn_sending(s->guard, pipe) > s->cfg.max_pending_replies) {
        nng_msg_free(m);
        chi_guard_conn_done(s->guard, pipe, true, mono_now());
        close_slow(s, w->pipe, "max_pending_replies unread replies");
        recv_next(w);
        return;
    }
    w->state = 3;
    w->reply = m;
    if (nng_aio_begin(w->aio)) {
        nng_aio_defer(w->aio, handed_off, w);
        nng_aio_finish(w->aio, 0);
    } else { /* the aio is stopped: chd is stopping */
        w->reply = NULL;
        nng_msg_free(m);
    }
}

/* @p v in decimal at @p p (room for 20 digits): the digits written. */
static size_t put_u64(char *p, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        p[i] = d[n - 1 - i];
    return n;
}

/*
 * The queued events, out. Each is numbered as it leaves: "event_seq" (1, 2,
 * ... within an epoch) and "epoch" (the shard's term for a cluster primary,
 * else this process's start time in ns) go first in its object, so that a
 * subscriber sees a gap (PUB drops what a slow subscriber cannot take) or a
 * new epoch (a restart, a failover: resynchronise from the replies).
 */
static void flush_pubs(ch_server *s)
{
    for (size_t k = 0; k < s->n_pubs; k++) {
        const char *ev = s->pubs[k], *brace = strchr(ev, '{');
        if (brace != NULL) {
            /* "TOPIC {" "\"event_seq\":N,\"epoch\":N" ["," the rest] "}":
             * one message of the final size, written in place */
            char head[64];
            size_t h = 0;
            memcpy(head + h, "{\"event_seq\":", 13);
            h += 13;
            h += put_u64(head + h, ++s->event_seq);
            memcpy(head + h, ",\"epoch\":", 9);
            h += 9;
            h += put_u64(head + h, s->epoch);
            if (brace[1] != '}')
                head[h++] = ',';
            size_t topic = (size_t)(brace - ev), rest = strlen(brace + 1);
            nng_msg *m;
            if (nng_msg_alloc(&m, topic + h + rest) == 0) {
                char *b = nng_msg_body(m);
                memcpy(b, ev, topic);
                memcpy(b + topic, head, h);
                memcpy(b + topic + h, brace + 1, rest);
                if (nng_sendmsg(s->pub, m, 0) != 0)
                    nng_msg_free(m); /* PUB is best effort */
            }
        }
        free(s->pubs[k]);
    }
    s->n_pubs = 0;
}

static void replay_cb(void *ctx, uint64_t seq, const ch_command *c, const ch_command_result *r);

/* Replay the command log into the engine, rebuilding what chd derives from
 * it (replay_cb); @p n gets the commands replayed. At start and after a
 * halt. */
static ch_err replay_log(ch_server *s, uint64_t *n)
{
    s->replay_fills = cJSON_CreateArray();
    if (s->replay_fills == NULL)
        return CH_ENOMEM;
    uint64_t at = 0;
    ch_err e = chi_snapshot_restore(s, &at);
    s->restored_seq = at;
    uint64_t pruned = chi_log_pruned_upto(s);
    if (e == CH_OK && at < pruned) { /* log_prune dropped what it would need */
        CH_LOG(CH_LOG_ERROR, "log_pruned_no_snapshot",
               "pruned_upto=%" PRIu64 " loaded_seq=%" PRIu64
               " reason=\"the log was pruned and no snapshot at or after it loads (snapshot_load "
               "false, or written by another build): restore the data folder from a backup or "
               "start with the build that wrote the snapshot\"",
               pruned, at);
        e = CH_EBADCONFIG;
    }
    if (e == CH_OK)
        e = ch_store_replay_from(s->st, s->e, at, replay_cb, s, n);
    cJSON_Delete(s->replay_fills);
    s->replay_fills = NULL;
    return e;
}

/* After a failed commit the engine holds work that was never stored. Rebuild
 * it, and everything derived from the log (client order ids, the hedge book,
 * orders in flight at the venue, keys, open-order counts), from the committed
 * state, as a start does; reads are then answered from it. Writes stay
 * refused until a restart. */
static ch_err rebuild(ch_server *s)
{
    ch_engine *e = ch_engine_create(&s->cfg.engine);
    if (e == NULL)
        return CH_ENOMEM;
    ch_engine_destroy(s->e);
    s->e = e;
    ch_engine_set_sink(e, chi_on_engine_event, s);
    chi_coids_clear(s);
    chi_hedgers_close(s);
    chi_transfers_clear(s);
    chi_guard_reset_accounts(s->guard);
    uint64_t n = 0;
    ch_err err = replay_log(s, &n);
    if (err == CH_OK)
        err = ch_store_foreach_key(s->st, chi_restore_key, s);
    chi_events_drop(s);
    return err;
}

/* The store could not commit: log it once, rebuild, serve reads. */
static void on_halt(ch_server *s, size_t requests)
{
    CH_LOG(CH_LOG_ERROR, "store_halted",
           "reason=\"%s\" requests=%zu action=\"writes refused until a restart; rebuilding "
           "the committed state to serve reads\"",
           ch_store_error(s->st), requests);
    int64_t t0 = mono_now();
    ch_err e = rebuild(s);
    s->reads_ok = e == CH_OK;
    if (e == CH_OK)
        CH_LOG(CH_LOG_WARN, "store_halted_reads", "rebuilt_ms=%.1f seq=%" PRIu64,
               (double)(mono_now() - t0) / 1e6, ch_store_last_seq(s->st));
    else
        CH_LOG(CH_LOG_ERROR, "store_halted_rebuild_failed",
               "reason=\"%s\" action=\"every request is refused\"", ch_strerror(e));
}

void chi_halt(ch_server *s)
{
    s->halted = true;
    on_halt(s, 0);
}

ch_err chi_rebuild(ch_server *s)
{
    ch_err e = rebuild(s);
    s->reads_ok = e == CH_OK;
    return e;
}

static void batch(ch_server *s, work *list)
{
    size_t n = 0;
    for (work *w = list; w != NULL; w = w->next)
        n++;
    char **replies = calloc(n, sizeof *replies);
    size_t *lens = calloc(n, sizeof *lens);
    bool *mut = calloc(n, sizeof *mut);
    bool *bin = calloc(n, sizeof *bin);
    if (replies == NULL || mut == NULL || lens == NULL || bin == NULL) {
        free(replies);
        free(lens);
        free(mut);
        free(bin);
        for (work *w = list, *next; w != NULL; w = next) {
            next = w->next;
            nng_msg_free(w->msg);
            send_reply(w, NULL, 0);
        }
        return;
    }
    /* the engine clock follows the wall clock (logged, so replay agrees),
     * unless it is fixed (config clock: moved by market.update only) */
    ch_time now = wall_now();
    if (!s->halted && !s->standby && s->cfg.clock_start == 0 &&
        now > ch_engine_now(s->e) + CH_NS_PER_SEC) {
        ch_command c;
        ch_command_reset(&c, CH_C_ADVANCE);
        c.time = now;
        chi_exec(s, &c, NULL);
    }
    size_t i = 0;
    for (work *w = list; w != NULL; w = w->next, i++) {
        chi_origin from = {.pipe = nng_pipe_id(nng_msg_get_pipe(w->msg)), .now = mono_now()};
        const uint8_t *body = nng_msg_body(w->msg);
        size_t blen = nng_msg_len(w->msg);
        if (ch_bin_is_binary(body, blen)) {
            bin[i] = true;
            /* the op byte tells the compact order.batch from the table's messages */
            if (blen >= 4 && body[3] != CH_BIN_OP_BATCH && ch_msg_by_code(body[3]) != NULL)
                replies[i] = (char *)chi_handle_msg(s, &from, body, blen, &lens[i]);
            else
                replies[i] = (char *)chi_handle_bin(s, &from, body, blen, &lens[i]);
        } else {
            replies[i] = chi_handle(s, &from, nng_msg_body(w->msg), nng_msg_len(w->msg), &mut[i]);
            lens[i] = replies[i] != NULL ? strlen(replies[i]) : 0;
        }
        nng_msg_free(w->msg);
        w->msg = NULL;
    }
    s->batches++;
    bool was_halted = s->halted;
    int64_t t0 = mono_now();
    if (!s->halted && ch_store_commit(s->st) != CH_OK)
        s->halted = true;
    s->commit_ns_last = mono_now() - t0; /* stats: commit_ms, commit_ms_mean */
    s->commit_ns_total += (uint64_t)s->commit_ns_last;
    if (s->halted && !was_halted) {
        /* nothing of this batch is stored: every reply says so */
        for (size_t k = 0; k < n; k++) {
            char *was = replies[k];
            if (bin[k]) {
                uint64_t id = 0; /* the request's id, from the reply header (bytes 4..11) */
                for (int b = 0; was != NULL && lens[k] >= 12 && b < 8; b++)
                    id |= (uint64_t)(uint8_t)was[4 + b] << (8 * b);
                replies[k] = malloc(256);
                lens[k] = replies[k] != NULL
                              ? ch_bin_reply_error((uint8_t *)replies[k], 256, id, s->halt_code,
                                                   s->halt_code == CH_ENOT_PRIMARY
                                                       ? "not the primary: this batch was not "
                                                         "stored"
                                                       : "the store could not commit: intake "
                                                         "stopped")
                              : 0;
            } else {
                replies[k] = chi_unavailable_reply(s, was, s->halt_code);
                lens[k] = replies[k] != NULL ? strlen(replies[k]) : 0;
            }
            free(was);
        }
        chi_events_drop(s); /* of work that was not stored */
        on_halt(s, n);
    } else if (!s->halted && !s->standby) {
        chi_hedge_after_batch(s);
    }
    i = 0;
    for (work *w = list, *next; w != NULL; w = next, i++) {
        next = w->next;
        send_reply(w, replies[i], lens[i]);
    }
    /* book updates for the instruments touched, then everything in order */
    uint32_t ni = ch_instruments_count(ch_engine_instruments(s->e));
    for (uint32_t k = 0; k < ni && !s->halted; k++) {
        if (!s->touched[k])
            continue;
        s->touched[k] = 0;
        uint32_t und = instr_of(s, (ch_instr_id){k})->underlying;
        if (und < CHI_MAX_UND) /* trades or orders there: its residual may have moved */
            s->risk_dirty[und] = true;
        cJSON *o = cJSON_CreateObject();
        ch_level lv[5];
        for (int side = 0; side < 2; side++) {
            cJSON *a = cJSON_AddArrayToObject(o, side == 0 ? "bids" : "asks");
            size_t m = ch_book_depth(ch_engine_book(s->e), (ch_instr_id){k}, (ch_side)side, lv, 5);
            for (size_t q = 0; q < m; q++) {
                cJSON *pq = cJSON_CreateArray();
                cJSON_AddItemToArray(pq, cJSON_CreateNumber(px(s, (ch_instr_id){k}, lv[q].price)));
                cJSON_AddItemToArray(pq, cJSON_CreateNumber((double)lv[q].qty));
                cJSON_AddItemToArray(a, pq);
            }
        }
        char topic[80];
        snprintf(topic, sizeof topic, "book.%s", instr_of(s, (ch_instr_id){k})->symbol);
        chi_publish(s, topic, o);
    }
    if (!s->halted)
        chi_publish_risk(s);
    flush_pubs(s);
    chi_snapshot_maybe(s); /* after the replies: a snapshot delays the next batch only */
    free(replies);
    free(lens);
    free(mut);
    free(bin);
}

static void *engine_thread(void *arg)
{
    ch_server *s = arg;
    for (;;) {
        /* with orders in flight at an external venue, wake up every 10 ms to
         * book its answers even when no request comes */
        /* a cluster member keeps its lease or follows its stream */
        bool waiting = chi_hedge_waiting(s) || s->replog != NULL;
        pthread_mutex_lock(&s->mu);
        if (waiting && s->q_head == NULL && !s->stop) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_nsec += 10 * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &dl);
        } else {
            while (s->q_head == NULL && !s->stop)
                pthread_cond_wait(&s->cv, &s->mu);
        }
        work *list = s->q_head;
        s->q_head = s->q_tail = NULL;
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (list != NULL)
            batch(s, list);
        if (s->standby) { /* what the stream gained, then its events; the lease */
            chi_cluster_tick(s);
            flush_pubs(s);
            chi_snapshot_maybe(s);
        } else if (s->replog != NULL) {
            chi_cluster_tick(s);
            chi_transfers_tick(s);
        }
        if (!s->standby && list == NULL && chi_hedge_waiting(s)) {
            chi_hedge_after_batch(s);
            flush_pubs(s);
        }
        if (stop)
            return NULL;
    }
}

static void work_cb(void *arg)
{
    work *w = arg;
    ch_server *s = w->s;
    switch (w->state) {
    case 0: /* received */
        if (nng_aio_result(w->aio) != 0) {
            if (nng_aio_result(w->aio) == NNG_ECLOSED || nng_aio_result(w->aio) == NNG_ECANCELED)
                return;
            recv_next(w);
            return;
        }
        w->msg = nng_aio_get_msg(w->aio);
        w->pipe = nng_msg_get_pipe(w->msg);
        chi_guard_conn_request(s->guard, nng_pipe_id(w->pipe), mono_now());
        w->state = 1;
        w->next = NULL;
        pthread_mutex_lock(&s->mu);
        if (s->q_tail != NULL)
            s->q_tail->next = w;
        else
            s->q_head = w;
        s->q_tail = w;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        break;
    case 2: { /* sent (or failed: the message is still ours) */
        int rv = nng_aio_result(w->aio);
        chi_guard_conn_done(s->guard, nng_pipe_id(w->pipe), true, mono_now());
        if (rv != 0) {
            nng_msg *m = nng_aio_get_msg(w->aio);
            if (m != NULL)
                nng_msg_free(m);
            if (rv == NNG_ECLOSED)
                return;
            if (rv == NNG_ETIMEDOUT)
                close_slow(s, w->pipe, "a reply waited send_timeout for the client to read");
        }
        recv_next(w);
        break;
    }
    case 3: { /* the reply handed over by send_reply(): send it from here */
        nng_msg *m = w->reply;
        w->reply = NULL;
        if (nng_aio_result(w->aio) != 0) {
            nng_msg_free(m);
            return;
        }
        w->state = 2;
        nng_aio_set_msg(w->aio, m);
        nng_aio_set_timeout(w->aio, s->cfg.send_timeout_ms);
        nng_ctx_send(w->ctx, w->aio);
        break;
    }
    default:
        break;
    }
}

/* The idle sweep (NNG's timer thread): connections with nothing in flight
 * and nothing received or sent for idle_timeout are closed; this also ends
 * connections stuck half way through a handshake or a request. */
static void idle_cb(void *arg)
{
    ch_server *s = arg;
    if (nng_aio_result(s->idle_aio) != 0)
        return; /* stopped */
    uint32_t pipes[256];
    int64_t idle = (int64_t)s->cfg.idle_timeout_ms * 1000000;
    size_t n = chi_guard_idle(s->guard, mono_now(), idle, pipes, 256);
    for (size_t i = 0; i < n; i++) {
        nng_pipe p = NNG_PIPE_INITIALIZER;
        p.id = pipes[i];
        nng_pipe_close(p);
    }
    __atomic_add_fetch(&s->idle_closed, n, __ATOMIC_RELAXED);
    int period = s->cfg.idle_timeout_ms / 4;
    nng_sleep_aio(period < 50 ? 50 : period > 1000 ? 1000 : period, s->idle_aio);
}

/* ---- start and stop --------------------------------------------------------- */

void chi_replay_command(ch_server *s, uint64_t seq, const ch_command *c, const ch_command_result *r)
{
    replay_cb(s, seq, c, r);
}

static void replay_cb(void *ctx, uint64_t seq, const ch_command *c, const ch_command_result *r)
{
    (void)seq;
    ch_server *s = ctx;
    if (c->type == CH_C_SUBMIT && c->client_order_id[0] != '\0' && r->err == CH_OK &&
        ch_store_coid_backfill(s->st)) {
        /* a store from before the client order id index: its ids go into
         * the index once (committed after the replay) */
        cJSON *o = cJSON_CreateObject();
        chi_order_result_json(s, &r->order, o);
        cJSON_AddItemToObject(o, "fills", s->replay_fills);
        char key[CH_CLIENT_ORDER_ID_MAX + 16];
        chi_coid_key(key, sizeof key, c->order.account, c->client_order_id);
        char *text = ch_json_print(o);
        if (text == NULL || ch_store_put_coid(s->st, key, text) != CH_OK)
            s->coid_backfill_failed = true;
        free(text);
        cJSON_Delete(o);
        s->replay_fills = cJSON_CreateArray();
    }
    if (c->type == CH_C_UNDERLYING) {
        chi_underlying_replay(s, c, r);
    } else if (c->type == CH_C_SUBMIT && r->err == CH_OK) {
        chi_order_rested(s, c, r);
    } else if (c->type == CH_C_HEDGE || c->type == CH_C_HEDGE_SENT ||
               c->type == CH_C_HEDGE_REPORT) {
        chi_hedge_replay(s, c);
    } else if (c->type == CH_C_OPTION_SENT || c->type == CH_C_OPTION_REPORT) {
        chi_option_replay(s, c);
    } else if (c->type == CH_C_TRANSFER_OUT || c->type == CH_C_TRANSFER_IN ||
               c->type == CH_C_TRANSFER_SENT) {
        chi_transfer_replay(s, seq, c, r->err);
    }
    /* fills of other commands are not needed after their command */
    if (cJSON_GetArraySize(s->replay_fills) > 0) {
        cJSON_Delete(s->replay_fills);
        s->replay_fills = cJSON_CreateArray();
    }
}

static ch_err seed(ch_server *s)
{
    ch_command c = ch_command_make(CH_C_ADVANCE);
    c.time = s->cfg.clock_start != 0 ? s->cfg.clock_start : wall_now();
    ch_err e = chi_exec(s, &c, NULL);
    for (size_t i = 0; i < s->cfg.n_und && e == CH_OK; i++) {
        size_t listed;
        const char *why;
        e = chi_list_underlying(s, &s->cfg.und[i], &listed, &why);
        if (e != CH_OK)
            CH_LOG(CH_LOG_ERROR, "seed_failed", "underlying=%s reason=\"%s\" err=%s",
                   s->cfg.und[i].u.name, why, ch_errwire(e));
    }
    if (e == CH_OK && s->cfg.lp_cash > 0) {
        c = ch_command_make(CH_C_ACCOUNT_OPEN);
        snprintf(c.name, sizeof c.name, "lp");
        c.amount = s->cfg.lp_cash * CH_CASH_SCALE;
        ch_command_result r;
        e = chi_exec(s, &c, &r);
        if (e == CH_OK) {
            c = ch_command_make(CH_C_POOL_DEPOSIT);
            c.account = r.account;
            c.amount = s->cfg.lp_cash * CH_CASH_SCALE;
            e = chi_exec(s, &c, NULL);
        }
    }
    if (e == CH_OK && ch_store_commit(s->st) != CH_OK)
        e = CH_EIO;
    return e;
}

/* Key digests from the store, by account id (the replay made the accounts). */
void chi_restore_key(void *ctx, const char *account, const uint8_t *digest)
{
    ch_server *s = ctx;
    ch_account_id id;
    if (ch_engine_account_find(s->e, account, strlen(account), &id) == CH_OK)
        chi_guard_set_key(s->guard, id, digest);
}

/* NNG's pipe callbacks (its threads): the connection table and the client cap. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    ch_server *s = arg;
    bool admin = s->has_admin_listener &&
                 nng_listener_id(nng_pipe_listener(p)) == nng_listener_id(s->admin_listener);
    if (ev == NNG_PIPE_EV_ADD_POST &&
        !chi_guard_conn_added_at(s->guard, (uint32_t)nng_pipe_id(p), admin, mono_now()))
        nng_pipe_close(p);
    else if (ev == NNG_PIPE_EV_REM_POST)
        chi_guard_conn_removed(s->guard, (uint32_t)nng_pipe_id(p));
}

static int listen_on(nng_socket sock, const char *url, size_t max_request, const char *tls,
                     nng_listener *out)
{
    nng_listener l;
    int rv = nng_listener_create(&l, sock, url);
    if (rv != 0)
        return rv;
    /* tls+tcp://: our certificate and key (one PEM file), no client certificates */
    if (strncmp(url, "tls+tcp://", 10) == 0) {
        rv = tls[0] == '\0' ? NNG_EINVAL
                            : nng_listener_set_string(l, NNG_OPT_TLS_CERT_KEY_FILE, tls);
        if (rv != 0) {
            nng_listener_close(l);
            return rv;
        }
    }
    /* up to twice the limit a request is read and answered "too large"; far
     * beyond it the transport drops the connection (PROTOCOL.md allows it) */
    if (max_request > 0)
        nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, 2 * max_request);
    if (strncmp(url, "ipc://", 6) == 0)
        nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
    if (strncmp(url, "tcp://", 6) == 0)
        nng_listener_set_bool(l, NNG_OPT_TCP_KEEPALIVE, true);
    *out = l;
    return nng_listener_start(l, 0);
}

/* The ipc watchdog's callback (its thread): a fresh listener for a wedged one. */
static int relisten(void *ctx)
{
    ch_server *s = ctx;
    nng_listener_close(s->req_listener);
    return listen_on(s->rep, s->cfg.req_url, s->cfg.max_request, "", &s->req_listener);
}

/* A start that fails after opening the store leaves the disk as it found it:
 * the store removes what its open created, and the keys go if this start
 * made them. */
static ch_server *fail_start(ch_server *s)
{
    s->discard = true;
    ch_server_stop(s);
    return NULL;
}

ch_server *ch_server_start(const ch_server_config *cfg, char *err, size_t cap)
{
    uint64_t cells = (uint64_t)cfg->engine.max_accounts * cfg->engine.max_instruments;
    if (cells > ((uint64_t)1 << 28)) { /* the engine's dense position index */
        snprintf(err, cap, "config: max_accounts x max_instruments = %" PRIu64 " exceeds 2^28",
                 cells);
        return NULL;
    }
    ch_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->halt_code = CH_EUNAVAILABLE;
    s->epoch = (uint64_t)wall_now(); /* a cluster primary: its term (cluster.c) */
    s->touched = calloc(cfg->engine.max_instruments, 1);
    s->bin_orders = calloc(CH_BIN_MAX_ORDERS, sizeof *s->bin_orders);
    s->e = ch_engine_create(&s->cfg.engine);
    chi_guard_config gc = {.no_auth = cfg->no_auth,
                           .max_clients = cfg->max_clients,
                           .conn_rate = cfg->conn_rate,
                           .conn_burst = cfg->conn_burst,
                           .account_rate = cfg->account_rate,
                           .account_burst = cfg->account_burst,
                           .max_open_orders = cfg->max_open_orders};
    s->guard = chi_guard_create(&gc, cfg->engine.max_accounts);
    if (s->touched == NULL || s->e == NULL || s->bin_orders == NULL || s->guard == NULL) {
        snprintf(err, cap, "out of memory (engine sizes too large?)");
        ch_server_stop(s);
        return NULL;
    }
    ch_engine_set_sink(s->e, chi_on_engine_event, s);
    ch_store_config sc = {.dir = cfg->data_dir,
                          .durability = cfg->durability,
                          .map_size = cfg->map_size,
                          .map_max = cfg->map_max};
    ch_engine_config ecfg = s->cfg.engine;
    ch_err oe = ch_store_open(&sc, &ecfg, false, &s->st);
    if (oe == CH_EBADCONFIG && !cfg->risk_aware_set) {
        /* risk-aware netting became the default: a store written on price
         * alone keeps replaying on price alone unless the configuration says */
        ecfg.risk_aware = !ecfg.risk_aware;
        if ((oe = ch_store_open(&sc, &ecfg, false, &s->st)) == CH_OK) {
            s->cfg.engine.risk_aware = ecfg.risk_aware;
            ch_engine *e2 = ch_engine_create(&s->cfg.engine); /* nothing in it yet */
            if (e2 == NULL) {
                snprintf(err, cap, "out of memory (engine sizes too large?)");
                ch_server_stop(s);
                return NULL;
            }
            ch_engine_destroy(s->e);
            s->e = e2;
            ch_engine_set_sink(s->e, chi_on_engine_event, s);
            CH_LOG(CH_LOG_WARN, "store_setting_kept",
                   "risk_aware=%s reason=\"%s was written with it; set risk_aware in the "
                   "configuration to be explicit (a store cannot change it)\"",
                   ecfg.risk_aware ? "true" : "false", cfg->data_dir);
        } else {
            ecfg.risk_aware = !ecfg.risk_aware;
            oe = ch_store_open(&sc, &ecfg, false, &s->st); /* the error of the setting asked */
        }
    }
    if (oe != CH_OK) {
        snprintf(err, cap, "store: %s", ch_store_open_error());
        ch_server_stop(s);
        return NULL;
    }
    uint64_t n = 0;
    ch_err e = replay_log(s, &n);
    if (e != CH_OK) {
        if (e == CH_EBADCONFIG)
            snprintf(err, cap,
                     "store: the log was pruned up to command %" PRIu64
                     " (log_prune) and no snapshot at or after it loads (snapshot_load false, or "
                     "written by another build): restore the data folder from a backup",
                     chi_log_pruned_upto(s));
        else
            snprintf(err, cap, "store: replay failed after %" PRIu64 " commands: %s", n,
                     ch_strerror(e));
        return fail_start(s);
    }
    if (ch_store_coid_backfill(s->st)) { /* the replay indexed an older store's ids */
        if (s->coid_backfill_failed || ch_store_commit(s->st) != CH_OK) {
            snprintf(err, cap, "store: indexing the client order ids of the log failed");
            return fail_start(s);
        }
        uint64_t ids, bytes;
        ch_store_coid_stat(s->st, &ids, &bytes);
        CH_LOG(CH_LOG_INFO, "coid_index_built", "ids=%" PRIu64 " bytes=%" PRIu64, ids, bytes);
    }
    if (!chi_cluster_start(s, err, cap)) /* before the seed: it is replicated too */
        return fail_start(s);
    if (ch_store_last_seq(s->st) == 0 && !s->standby && (e = seed(s)) != CH_OK) {
        snprintf(err, cap, "seeding a fresh store failed: %s", ch_strerror(e));
        return fail_start(s);
    }
    if ((e = ch_store_foreach_key(s->st, chi_restore_key, s)) != CH_OK) {
        snprintf(err, cap, "store: reading the account keys failed: %s", ch_strerror(e));
        return fail_start(s);
    }
    for (int k = CHI_KEY_ADMIN; k <= CHI_KEY_READONLY; k++) {
        char kerr[600];
        char kpath[sizeof cfg->data_dir + 16];
        struct stat kst;
        snprintf(kpath, sizeof kpath, "%s/%s", cfg->data_dir, chi_key_file((chi_key_kind)k));
        s->key_created[k] = stat(kpath, &kst) != 0 && errno == ENOENT;
        if (chi_guard_load_key(s->guard, cfg->data_dir, (chi_key_kind)k, kerr, sizeof kerr) !=
                CH_OK &&
            !cfg->no_auth) {
            snprintf(err, cap, "%s: %s", chi_key_file((chi_key_kind)k), kerr);
            return fail_start(s);
        }
    }
    CH_LOG(CH_LOG_INFO, "store_open",
           "dir=%s snapshot_seq=%" PRIu64 " replayed_commands=%" PRIu64 " durability=%s",
           cfg->data_dir, s->restored_seq, n,
           cfg->durability == CH_DURABLE_SYNC ? "sync" : "nosync");
    int rv;
    if ((rv = nng_rep0_open(&s->rep)) != 0 || (rv = nng_pub0_open(&s->pub)) != 0) {
        snprintf(err, cap, "nng: %s", nng_strerror(rv));
        return fail_start(s);
    }
    nng_socket_set_int(s->pub, NNG_OPT_SENDBUF, 8192);
    nng_pipe_notify(s->rep, NNG_PIPE_EV_ADD_POST, on_pipe, s);
    nng_pipe_notify(s->rep, NNG_PIPE_EV_REM_POST, on_pipe, s);
    /* the admin endpoint first: the pipe callback reads its id */
    char admin_url[sizeof cfg->data_dir + 32];
    if (cfg->admin_url[0] == '\0')
        snprintf(admin_url, sizeof admin_url, "ipc://%s/admin.sock", cfg->data_dir);
    else
        snprintf(admin_url, sizeof admin_url, "%s", cfg->admin_url);
    if (strcmp(admin_url, "none") != 0) {
        if ((rv = listen_on(s->rep, admin_url, cfg->max_request, cfg->tls_cert_key,
                            &s->admin_listener)) != 0) {
            snprintf(err, cap, "cannot listen on the admin endpoint %s: %s (config \"admin\")",
                     admin_url, nng_strerror(rv));
            return fail_start(s);
        }
        s->has_admin_listener = true;
    }
    if ((rv = listen_on(s->rep, cfg->req_url, cfg->max_request, cfg->tls_cert_key,
                        &s->req_listener)) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s%s", cfg->req_url, nng_strerror(rv),
                 strncmp(cfg->req_url, "tls+", 4) == 0 ? " (tls_cert_key: a PEM file with the "
                                                         "certificate and its key)"
                                                       : "");
        return fail_start(s);
    }
    nng_listener pub_listener;
    if ((rv = listen_on(s->pub, cfg->pub_url, 0, cfg->tls_cert_key, &pub_listener)) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s", cfg->pub_url, nng_strerror(rv));
        return fail_start(s);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if ((e = chi_hedgers_open(s)) != CH_OK) {
        if (s->cfg.hedge_venue[0] != '\0')
            snprintf(err, cap, "hedge venue %s: %s", s->cfg.hedge_venue, ch_strerror(e));
        else
            snprintf(err, cap, "hedger: %s", ch_strerror(e));
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        return fail_start(s);
    }
    if (pthread_create(&s->thread, NULL, engine_thread, s) != 0) {
        snprintf(err, cap, "cannot start the engine thread");
        return fail_start(s);
    }
    s->thread_started = true;
    s->n_works = cfg->contexts > 0 ? cfg->contexts : 64;
    s->works = calloc((size_t)s->n_works, sizeof *s->works);
    for (int i = 0; s->works != NULL && i < s->n_works; i++) {
        work *w = calloc(1, sizeof *w);
        if (w == NULL || nng_aio_alloc(&w->aio, work_cb, w) != 0 ||
            nng_ctx_open(&w->ctx, s->rep) != 0) {
            snprintf(err, cap, "cannot allocate NNG contexts");
            free(w);
            return fail_start(s);
        }
        w->s = s;
        s->works[i] = w;
        recv_next(w);
    }
    if (nng_aio_alloc(&s->idle_aio, idle_cb, s) != 0) {
        snprintf(err, cap, "cannot allocate the idle timer");
        return fail_start(s);
    }
    nng_sleep_aio(100, s->idle_aio);
    s->watch = chi_ipc_watch_start(cfg->req_url, 1000, 5000, relisten, s);
    CH_LOG(CH_LOG_INFO, "listening", "req=%s pub=%s admin=%s contexts=%d auth=%s", cfg->req_url,
           cfg->pub_url, s->has_admin_listener ? admin_url : "none", s->n_works,
           cfg->no_auth ? "off" : "on");
    return s;
}

void ch_server_stop(ch_server *s)
{
    ch_server_stop_then(s, NULL, NULL);
}

void ch_server_stop_then(ch_server *s, void (*store_closed)(void *), void *ctx)
{
    if (s == NULL)
        return;
    chi_ipc_watch_stop(s->watch); /* before the sockets it may re-listen on */
    if (s->idle_aio != NULL) {
        nng_aio_stop(s->idle_aio);
        nng_aio_free(s->idle_aio);
    }
    /* finish the batch in progress (it commits and replies), then stop the
     * contexts; requests still queued are not answered and will be resent */
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        /* a clean stop leaves a snapshot of its last state: the next start
         * replays nothing */
        if (s->st != NULL && !s->discard && !s->halted &&
            (s->cfg.snapshot_every > 0 || s->cfg.snapshot_seconds > 0) &&
            ch_store_commit(s->st) == CH_OK && ch_store_last_seq(s->st) != s->snap_last_seq)
            chi_snapshot_take(s);
    }
    chi_hedgers_close(s);
    /* the store is done with before the sockets close: nothing runs on it
     * any more (the engine thread is joined), and NNG 1.5.2's nng_close of
     * the REP socket can hang with a peer mid-exchange (seen under load in
     * test_hardening.py), which must never cost a commit */
    if (s->st != NULL && s->discard) {
        for (int k = CHI_KEY_ADMIN; k <= CHI_KEY_READONLY; k++) {
            char path[sizeof s->cfg.data_dir + 16];
            snprintf(path, sizeof path, "%s/%s", s->cfg.data_dir, chi_key_file((chi_key_kind)k));
            if (s->key_created[k])
                unlink(path);
        }
        ch_store_abandon(s->st);
    } else if (s->st != NULL) {
        ch_store_commit(s->st); /* replicated first, as every batch */
        ch_store_close(s->st);
    }
    s->st = NULL;
    chi_cluster_stop(s); /* after the store's last commit */
    if (store_closed != NULL)
        store_closed(ctx);
    for (int i = 0; s->works != NULL && i < s->n_works; i++)
        if (s->works[i] != NULL)
            nng_aio_stop(s->works[i]->aio);
    for (int i = 0; s->works != NULL && i < s->n_works; i++) {
        work *w = s->works[i];
        if (w == NULL)
            continue;
        nng_ctx_close(w->ctx);
        nng_aio_free(w->aio);
        if (w->msg != NULL)
            nng_msg_free(w->msg);
        if (w->reply != NULL)
            nng_msg_free(w->reply);
        free(w);
    }
    free(s->works);
    nng_close(s->rep);
    nng_close(s->pub);
    ch_engine_destroy(s->e);
    chi_coids_clear(s);
    for (size_t i = 0; i < s->n_pubs; i++)
        free(s->pubs[i]);
    free(s->pubs);
    free(s->touched);
    free(s->bin_orders);
    free(s->bin_fills);
    cJSON_Delete(s->replay_fills);
    chi_guard_destroy(s->guard);
    CH_LOG(CH_LOG_INFO, "stopped", "requests=%" PRIu64 " batches=%" PRIu64, s->requests,
           s->batches);
    free(s);
}

bool ch_server_halted(const ch_server *s)
{
    return s->halted;
}
