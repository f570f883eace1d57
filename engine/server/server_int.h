/*
 * server_int.h - what the files of chd's server share (private): the server
 * state, a request's context, small accessors, and the functions each file
 * offers the others. Data flows one way: wire.c decodes a request and
 * dispatches it to its handler (ops.c), which applies commands through
 * commands.c to the engine and the store; the engine's events become topics
 * (events.c); server.c runs the batch (commit, replies, events) and hedging.c
 * hedges after it. config.c reads the configuration.
 */
#ifndef CH_SERVER_INT_H
#define CH_SERVER_INT_H

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ch/hedge_nng.h"
#include "ch/replog.h"
#include "ch/log.h"
#include "ch/proto.h"
#include "ch/proto_bin.h"
#include "ch/proto_msg.h"
#include "ch/proto_req.h"
#include "ch/server.h"
#include "guard.h"
#include "ipcwatch.h"

typedef struct work work;

/* Where a request came from: its connection and when it was taken. */
typedef struct chi_origin {
    uint32_t pipe;
    int64_t now; /* monotonic ns */
} chi_origin;

/* What the engine's events of one command leave for its reply: events.c
 * fills it while the command runs (chi_exec_collect); the handler owns it,
 * on its stack. */
typedef struct chi_collect {
    cJSON *fills;         /* the fills as JSON (NULL: not kept) */
    bool bin;             /* ... and as binary, in the server's bin_fills */
    ch_order_id ack;      /* the order's id, from its ACK */
    bool stp, stp_others; /* self-trade prevention cancelled the order / others */
} chi_collect;
#define CHI_MAX_UND 64 /* the engine's most underlyings */

/* A transfer to another shard whose credit is not appended yet. */
#define CHI_XFER_MAX 64
typedef struct chi_xfer {
    uint64_t seq; /* its TRANSFER_OUT's command sequence: the transfer's id */
    ch_account_id account;
    int64_t amount; /* cash units */
    char to[32];
} chi_xfer;

struct ch_server {
    ch_server_config cfg;
    ch_engine *e;
    ch_store *st;
    /* one hedger per underlying (hedging.c), created on first use: policy,
     * book, orders in flight and venue adapter */
    ch_hedger **hedgers;
    uint32_t n_hedgers;
    uint64_t hedge_next_id; /* venue order ids: above every id logged */
    /* the vega policy's option orders at an external venue (hedging.c):
     * its adapter, and the orders sent and not yet answered (logged) */
    ch_hedge_adapter opt_adapter;
    struct opt_flight {
        uint32_t und;
        ch_instr_id instr;
        ch_hedge_order o;
    } opt_flight[4];
    size_t n_opt_flight;
    ch_err hedge_err; /* the first adapter that could not be created */
    /* the hedge policy logged with an underlying's listing (underlyings.c) */
    struct und_logged {
        bool set;
        ch_hedge_policy_kind kind;
        double band;
    } und_logged[CHI_MAX_UND];
    nng_socket rep, pub;
    nng_listener req_listener; /* re-created by the ipc watchdog */
    chi_ipc_watch *watch;
    work **works;
    int n_works;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    work *q_head, *q_tail;
    bool stop;
    /* engine thread only */
    chi_collect *collect; /* what the command being handled collects (NULL: none) */
    char **pubs;
    size_t n_pubs, cap_pubs;
    uint8_t *touched; /* instruments whose book changed in this batch */
    bool halted;
    ch_err halt_code; /* why writes are refused: CH_EUNAVAILABLE, or CH_ENOT_PRIMARY (fenced) */
    /* the shard's replicated batch log (cluster.c; NULL: none) */
    ch_replog *replog;
    uint64_t rep_batches, rep_failures;
    /* a standby (config standby): it applies the stream's records up to
     * follow_seq and refuses writes; primary_url from the newest term marker */
    /* transfers between shards (transfers.c): credits owed to other shards
     * (TRANSFER_OUT without its TRANSFER_SENT yet), and the last message of
     * this shard's transfer stream applied */
    chi_xfer xfer_out[CHI_XFER_MAX];
    size_t n_xfer_out;
    uint64_t xfer_in_seq, xfers_sent, xfers_received;
    int64_t xfer_at, xfer_warned_at;
    bool standby;
    int64_t lease_at;      /* when the lease was last renewed or tried (monotonic ns) */
    int64_t lease_lost_at; /* a standby: when it last saw the lease held (for the failover time) */
    double last_failover_ms;
    uint64_t follow_seq, follow_applied;
    int64_t follow_caught_at; /* when the last pass reached the stream's end (monotonic ns) */
    uint64_t stream_end;      /* the stream's last sequence at the last look (every 100 ms) */
    uint64_t follow_term;
    char primary_url[256];
    char lease_holder[300]; /* "<req URL>#<random instance>" */
    char not_primary[400];  /* chi_cluster_not_primary's text */
    uint64_t requests, errors, batches, commits, orders;
    int64_t commit_ns_last;   /* the last batch's store commit (stats: commit_ms) */
    uint64_t commit_ns_total; /* of every batch since the start (commit_ms_mean) */
    uint64_t last_cmd_seq;    /* sequence number of the last command logged */
    ch_time last_advance;
    /* client order ids (coids.c): the store's index, and a bounded cache of
     * two generations, key "account\x1fcoid" -> reply fields */
    struct coid_gen {
        struct coid {
            char *key;
            cJSON *result;
        } * t;
        size_t n, cap;
    } coid_cur, coid_old;
    uint64_t coid_store_hits; /* repeats answered from the store (older than the cache) */
    /* snapshots (snapshots.c) */
    uint64_t snap_last_seq; /* the command the last snapshot (taken or loaded) follows */
    int64_t snap_last_at;   /* monotonic ns of it */
    uint64_t snapshots, snapshot_failures;
    uint64_t log_pruned;          /* commands this process dropped from the log (log_prune) */
    uint64_t event_seq, epoch;    /* the events' numbering (server.c, flush_pubs) */
    bool risk_dirty[CHI_MAX_UND]; /* the residual may have moved since the last risk event */
    int64_t risk_at[CHI_MAX_UND]; /* when the last one left (monotonic ns) */
    size_t snap_bytes;            /* the last one's */
    double snap_ms;               /* the last one's time, engine thread */
    uint64_t restored_seq;        /* the start loaded the snapshot after this command (0: none) */
    bool coid_backfill_failed;    /* a replay could not index an old store's ids */
    /* replay: fills of the command being replayed */
    cJSON *replay_fills;
    /* binary batches: decoded orders, and room for one order's binary fills */
    ch_bin_order *bin_orders;
    ch_bin_fill *bin_fills;
    size_t n_bin_fills, cap_bin_fills;
    /* access and limits (guard.c) */
    chi_guard *guard;
    /* a failed start: remove what it created (ch_store_abandon) */
    bool discard, key_created[2]; /* by this start, per chi_key_kind */
    /* the admin endpoint (not counted against max_clients), the idle sweep,
     * and the connections closed for not reading or for idling */
    nng_listener admin_listener;
    bool has_admin_listener;
    nng_aio *idle_aio;
    uint64_t slow_closed, idle_closed; /* atomics: NNG's threads */
    int64_t slow_logged;
    /* halted: reads answered from the committed state once rebuilt */
    bool reads_ok;
    uint64_t halt_refused;
    int64_t halt_logged;
};

struct work {
    ch_server *s;
    nng_aio *aio;
    nng_ctx ctx;
    int state; /* 0 recv, 1 queued, 2 send, 3 reply handed to NNG's threads */
    nng_msg *msg;
    nng_msg *reply; /* state 3: sent from the callback */
    nng_pipe pipe;  /* the request's connection */
    work *next;
};

static inline ch_time wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (ch_time)ts.tv_sec * CH_NS_PER_SEC + ts.tv_nsec;
}

static inline int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CH_NS_PER_SEC + ts.tv_nsec;
}

/* Whether a warning limited to one every @p period ns is due at @p now,
 * noting it in @p last (0: none yet, whatever the machine's uptime, the
 * monotonic clock's origin). */
static inline bool chi_due(int64_t *last, int64_t now, int64_t period)
{
    if (*last != 0 && now - *last < period)
        return false;
    *last = now;
    return true;
}

static inline const char *acct_name(const ch_server *s, ch_account_id a)
{
    const char *n = ch_engine_account_name(s->e, a);
    return n != NULL ? n : "?";
}

static inline const ch_instrument *instr_of(const ch_server *s, ch_instr_id id)
{
    return ch_instruments_get(ch_engine_instruments(s->e), id);
}

static inline const ch_underlying_config *und_of(const ch_server *s, ch_instr_id id)
{
    const ch_instrument *in = instr_of(s, id);
    return in != NULL ? ch_instruments_underlying(ch_engine_instruments(s->e), in->underlying)
                      : NULL;
}

static inline double px(const ch_server *s, ch_instr_id id, int64_t ticks)
{
    const ch_underlying_config *u = und_of(s, id);
    return u != NULL ? ch_price_to_double(u, ticks) : 0.0;
}

/* Every field of @p from moved to the end of @p to, in order, with its key
 * (cJSON_AddItemToArray appends an item as it is, its own key kept, where
 * cJSON_AddItemToObject would copy the key and free the old one). */
static inline void move_fields(cJSON *to, cJSON *from)
{
    for (cJSON *f = from->child; f != NULL;) {
        cJSON *next = f->next;
        cJSON_AddItemToArray(to, cJSON_DetachItemViaPointer(from, f));
        f = next;
    }
}

static inline void add_u64(cJSON *o, const char *k, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddStringToObject(o, k, b);
}

typedef struct req_ctx {
    const chi_origin *from; /* its connection and arrival (the guard's rates and keys) */
    const ch_fields *q;     /* the typed request (an order of a batch: that order's fields) */
    cJSON *out;             /* result fields */
    const char *msg;        /* error message, static */
} req_ctx;

/* A field of the request being handled (an absent value if not sent). */
#define FIELD(r, name) ch_fields_get((r)->q, (name))

#define FAIL(rc, m)                                                                                \
    do {                                                                                           \
        r->msg = (m);                                                                              \
        return (rc);                                                                               \
    } while (0)

/** The handler of one message of the table. */
typedef ch_err (*chi_op_fn)(ch_server *s, req_ctx *r);
extern const chi_op_fn chi_handlers[CH_MSG_COUNT];
extern const char *const chi_source_names[3]; /**< by ch_source */

/* ---- events: engine events to PUB topics (events.c) */
void chi_publish(ch_server *s, const char *topic, cJSON *body);
/* The queued events and the marks of touched books dropped, unpublished
 * (work that was not stored, or applied where no one asked for events). */
void chi_events_drop(ch_server *s);
void chi_on_engine_event(void *ctx, const ch_engine_event *ev);

/* ---- the command path and the client order id index (commands.c) */
ch_err chi_exec(ch_server *s, const ch_command *c, ch_command_result *r);
/** The same, the command's fills and order events collected into @p k. */
ch_err chi_exec_collect(ch_server *s, const ch_command *c, ch_command_result *r, chi_collect *k);
/* ---- snapshots (snapshots.c) */
/* Write one now (between batches, nothing buffered). */
ch_err chi_snapshot_take(ch_server *s);
/* After a batch: one is written when snapshot_every or snapshot_seconds says. */
void chi_snapshot_maybe(ch_server *s);
/* Into the fresh engine: the newest snapshot that loads; *seq its command
 * (0: none, the whole log replays). */
ch_err chi_snapshot_restore(ch_server *s, uint64_t *seq);

/* ---- client order ids (coids.c) */
/** The reply remembered under key (the cache, then the store), or NULL;
 *  borrowed until the next chi_coid_put. */
const cJSON *chi_coid_find(ch_server *s, const char *key);
/** Remember result under key in the cache and, if log, in the batch's index. */
void chi_coid_put(ch_server *s, const char *key, const cJSON *result, bool log);
void chi_coid_key(char *out, size_t cap, ch_account_id a, const char *coid);
/** Forget every client order id (the table keeps its size). */
void chi_coids_clear(ch_server *s);

/* ---- request handlers (ops.c; the liquidity providers' in ops_pool.c) */
/** The account named by field @p key, known and allowed to this request's key. */
ch_err chi_get_account(ch_server *s, req_ctx *r, const char *key, ch_account_id *id);
/** A cash amount in USD, 0..1e12, as cash units. */
ch_err chi_get_cash(req_ctx *r, const char *key, int64_t *out);
/** The optional "underlying": its index (0 when absent) and whether it was given. */
ch_err chi_opt_underlying(ch_server *s, req_ctx *r, uint32_t *ui, bool *given);
ch_err chi_op_pool_deposit(ch_server *s, req_ctx *r);
ch_err chi_op_pool_withdraw(ch_server *s, req_ctx *r);
ch_err chi_op_tranche_add(ch_server *s, req_ctx *r);
ch_err chi_op_pools(ch_server *s, req_ctx *r);
/* The shard's replicated log (cluster.c): bound, checked against the store
 * and taken over at a start (the store then replicates every batch through
 * it); closed at a stop. */
bool chi_cluster_start(ch_server *s, char *err, size_t cap);
/* What a replay derives from one command (server.c: client order ids, open
 * orders, hedgers, option hedges, listed underlyings), for commands applied
 * from the stream; an account key into the guard (ch_store_foreach_key's
 * callback). */
void chi_replay_command(ch_server *s, uint64_t seq, const ch_command *c,
                        const ch_command_result *r);
void chi_restore_key(void *ctx, const char *account, const uint8_t *digest);
void chi_cluster_stop(ch_server *s);
/* A standby: apply what the stream gained since the last look (engine thread). */
void chi_cluster_follow(ch_server *s);
/* Every pass of the engine thread: a primary renews its lease (every 200 ms;
 * lost: fenced), a standby follows and takes the lease once it lapsed. */
void chi_cluster_tick(ch_server *s);
/* A standby's JSON read reply: stale_batches (stream records past what it
 * applied, as of its last look at the stream's end, every 100 ms) and
 * stale_ms (since it last applied up to the stream's end). */
void chi_cluster_staleness(ch_server *s, cJSON *out);
/* A standby's refusal of a write, naming the primary's URL (cluster.c;
 * valid until the next call, on the engine thread). */
const char *chi_cluster_not_primary(ch_server *s);
/* Transfers between shards (transfers.c): the op, what the log says of them
 * (replay and live), the clearing of that state before a rebuild, and the
 * primary's work between batches (send what is owed, apply what came). */
ch_err chi_op_account_transfer(ch_server *s, req_ctx *r);
void chi_transfer_replay(ch_server *s, uint64_t seq, const ch_command *c, ch_err err);
void chi_transfers_clear(ch_server *s);
void chi_transfers_tick(ch_server *s);

/* A standby promoted: the orders its predecessor had in flight at an
 * external venue, sent again by id (the venue answers a known id with its
 * first answer: none executes twice) (hedging.c). */
void chi_hedge_resend(ch_server *s);

/* Stop writes now and rebuild the committed state for reads (server.c). */
void chi_halt(ch_server *s);
/* The engine rebuilt from the store (what a halt does), without a halt. */
ch_err chi_rebuild(ch_server *s);
/* stats fields of the replicated log */
void chi_cluster_stats(ch_server *s, cJSON *out);

/* The `risk` event (ops_risk.c): the risk reply's fields of each underlying
 * whose residual a batch may have moved, at most every 100 ms each. */
void chi_publish_risk(ch_server *s);

/* state.hash (snapshots.c): the SHA-256 of the snapshot chd would write now */
ch_err chi_op_state_hash(ch_server *s, req_ctx *r);
/* The command before the log's first (snapshots.c): a start must load a
 * snapshot at or after it (0: the log was never pruned). */
uint64_t chi_log_pruned_upto(ch_server *s);
ch_err chi_op_risk(ch_server *s, req_ctx *r);  /* ops_risk.c */
ch_err chi_op_hedge(ch_server *s, req_ctx *r); /* ops_risk.c */
void chi_order_result_json(ch_server *s, const ch_engine_result *res, cJSON *out);
ch_err chi_request_guard(ch_server *s, const chi_origin *from, const char *key, const char **msg);
ch_err chi_order_guard(ch_server *s, const chi_origin *from, const ch_command *c, const char **msg);
void chi_order_rested(ch_server *s, const ch_command *c, const ch_command_result *res);

/* ---- one request in either encoding (wire.c) */
uint8_t *chi_handle_bin(ch_server *s, const chi_origin *from, const uint8_t *body, size_t len,
                        size_t *out_len);
uint8_t *chi_handle_msg(ch_server *s, const chi_origin *from, const uint8_t *body, size_t len,
                        size_t *out_len);
char *chi_handle(ch_server *s, const chi_origin *from, const char *body, size_t len,
                 bool *mutating);
char *chi_unavailable_reply(ch_server *s, const char *would_have, ch_err code);

/* ---- hedging after a batch (hedging.c) */
/** The hedger of underlying @p u, created on first use (NULL: out of memory,
 *  or the venue adapter failed: s->hedge_err says why). */
ch_hedger *chi_hedger(ch_server *s, uint32_t u);
/** At start, after replay: a hedger per underlying; orders in flight at the
 *  last stop go to the venue again. @return CH_OK or the adapter's error. */
ch_err chi_hedgers_open(ch_server *s);
/* ---- underlyings: listing, underlying.add, hedge policy per underlying (underlyings.c) */
const ch_server_underlying *chi_underlying_config(const ch_server *s, uint32_t u);
ch_hedge_policy chi_hedge_policy_of(const ch_server *s, uint32_t u);
void chi_underlying_replay(ch_server *s, const ch_command *c, const ch_command_result *r);
/** List su (logged commands), whole or not at all; *why says what failed. */
ch_err chi_list_underlying(ch_server *s, const ch_server_underlying *su, size_t *listed,
                           const char **why);
ch_err chi_op_underlying_add(ch_server *s, req_ctx *r);
void chi_hedgers_close(ch_server *s);
/** A logged hedge command replayed into its hedger. */
void chi_hedge_replay(ch_server *s, const ch_command *c);
/** A logged option order or answer (external venue) replayed: what is in flight. */
void chi_option_replay(ch_server *s, const ch_command *c);
/** Orders in flight at an external venue (the engine thread polls for answers). */
bool chi_hedge_waiting(const ch_server *s);
void chi_hedge_after_batch(ch_server *s);

#endif
