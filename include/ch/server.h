/*
 * ch/server.h - chd, the clearinghouse daemon: PROTOCOL.md over NNG.
 *
 * A REP socket with many contexts (asynchronous I/O) receives requests from
 * any number of clients; NNG's callbacks only queue them. One engine thread
 * drains the queue, applies every request in order, logs the commands of the
 * whole batch and commits them in one LMDB transaction (group commit), and
 * only then sends the replies and publishes the events (PUB socket, topics
 * fill.<account>, order.<account>, book.<symbol>, risk, hedge). A failed
 * commit stops intake: that batch and every later request get UNAVAILABLE.
 *
 * The server hedges the house's net delta after each batch with the
 * configured policy on the simulated perpetual venue; each booked hedge fill
 * is logged too, so a restart restores the hedge book with everything else.
 * With `hedge_venue` set, hedge orders go instead to an external venue over
 * NNG (ch/hedge_nng.h): the order is logged before it leaves, stays in flight
 * (the policy counts it) until the venue's fill comes back, and the fill is
 * logged when it is booked. The engine thread never waits for the venue; an
 * order in flight at a restart is sent again with its id, and the venue
 * answers with the original fill.
 */
#ifndef CH_SERVER_H
#define CH_SERVER_H

#include <stdio.h>

#include "ch/engine.h"
#include "ch/hedge.h"
#include "ch/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_SERVER_MAX_STRIKES     64
#define CH_SERVER_MAX_UNDERLYINGS 16

/** An underlying a fresh data directory lists (and, by name, the hedge
 *  policy of an underlying at every start). */
typedef struct ch_server_underlying {
    ch_underlying_config u; /**< name, tick, contract size, price band */
    int n_expiries;         /**< weekly Fridays from the start */
    size_t n_strikes;
    int64_t strikes[CH_SERVER_MAX_STRIKES];
    double smile[CH_SERVER_MAX_STRIKES]; /**< vol per strike (0: `vol`) */
    double index, vol, rate;
    int hedge_kind;    /**< a ch_hedge_policy_kind, or -1: the `hedge_policy` key's */
    double hedge_band; /**< underlying units, or -1: the `hedge_band` key's */
} ch_server_underlying;

typedef struct ch_server_config {
    char req_url[256];      /**< default tcp://127.0.0.1:7450 */
    char pub_url[256];      /**< default tcp://127.0.0.1:7451 */
    char data_dir[256];     /**< default ./var */
    char tls_cert_key[256]; /**< for tls+tcp:// URLs: a PEM file with the certificate and key */
    ch_durability durability;
    bool no_auth;            /**< keys are not checked (--no-auth, "no_auth": true) */
    bool risk_aware_set;     /**< the configuration named `risk_aware`; if it did not, a
                                  store written under the other setting keeps its own (a
                                  store from before risk-aware netting was the default) */
    size_t max_request;      /**< bytes, default 1 MiB */
    int contexts;            /**< REP contexts in flight, default 64 */
    size_t max_batch;        /**< orders in one order.batch, default 5000 */
    size_t coid_cache;       /**< client order ids cached in memory, default 65,536 (the
                                  index itself is in the store) */
    size_t snapshot_every;   /**< commands between snapshots, default 1,000,000 (0: none) */
    double snapshot_seconds; /**< seconds between snapshots, default 600 (0: none) */
    uint32_t snapshot_keep;  /**< snapshots kept, default 2 */
    bool snapshot_load;      /**< a start loads the newest snapshot, default true */
    bool log_prune;          /**< drop the log's commands up to the oldest kept snapshot after
                                  each snapshot, default false (fills stay) */
    /* bounds (README, Security): each refusal is an error reply, never a crash */
    uint32_t max_clients;     /**< connections served, default 1024; more are answered
                                   UNAVAILABLE, beyond twice as many they are closed */
    double conn_rate;         /**< requests/s per connection, default 20,000 (0: none) */
    double conn_burst;        /**< ... burst, default 40,000 */
    double account_rate;      /**< orders/s per account, default 100,000 (0: none) */
    double account_burst;     /**< ... burst, default 200,000 */
    uint32_t max_open_orders; /**< resting orders per account, default 10,000 (0: none) */
    size_t map_size, map_max; /**< LMDB map: initial (0: 64 MiB) and largest (0: none) */
    /* connections: no client can stall the others */
    uint32_t max_pending_replies; /**< replies of one connection waiting for it to read,
                                       default 8; past it the connection is closed */
    int send_timeout_ms;          /**< a reply not written in this long closes its
                                       connection, default 2,000 */
    int idle_timeout_ms;          /**< a connection with no request in flight and nothing
                                       received or sent for this long (half a handshake or
                                       a request included) is closed, default 10,000;
                                       NNG clients reconnect on their next request */
    char admin_url[256];          /**< a second endpoint that max_clients does not count
                                       (keys still apply); "" (default): ipc://DATA/admin.sock
                                       (mode 0600); "none": no admin endpoint */
    ch_engine_config engine;
    /* what a fresh data directory starts with: BTC (tick 0.5, band
     * 0.5..1,000,000, strikes 80,000..120,000 step 5,000, index 100,000,
     * vol 0.6, rate 0.03, band 5 BTC) and ETH (tick 0.05, strikes
     * 1,800..2,600 step 100 with the Deribit chain's smile, index 2,222.2,
     * band 200 ETH); the flat keys (`underlying`, `tick`, ...) set und[0] */
    ch_server_underlying und[CH_SERVER_MAX_UNDERLYINGS];
    size_t n_und;
    bool und_named;  /**< the flat `underlying` key was given (without `underlyings`:
                          that one underlying only, as before 1.1) */
    bool und_list;   /**< the `underlyings` key was given */
    int64_t lp_cash; /**< seed LP capital of the pool, USD: 10M */
    ch_hedge_policy hedge;
    ch_vega_policy vega;          /**< option hedges of the residual vega (off by default) */
    ch_option_venue option_venue; /**< the simulated options venue they go to */
    ch_perp_venue venue;          /**< the simulated venue (when hedge_venue is empty) */
    char hedge_venue[256];        /**< an external venue's REP URL ("": the simulated venue) */
    ch_time clock_start;          /**< 0: the engine's clock follows the wall clock; else a fixed
                                       clock starting there, moved by market.update only */
    int hedge_venue_timeout_ms;   /**< per attempt at the external venue (0: 500) */
    /* scale-out: the shard's replicated batch log on NATS JetStream (ch/replog.h) */
    char cluster[256];      /**< NATS servers ("": no replication) */
    char shard[32];         /**< the shard's name, default "main" */
    int cluster_replicas;   /**< the stream's replicas when chd creates it, default 1 */
    int cluster_timeout_ms; /**< an append not acknowledged by then fails, default 2000 */
    bool standby;           /**< start by following the shard's stream (reads only) */
    int cluster_lease_ms;   /**< the primary's lease: lapses after this, default 1500 */
} ch_server_config;

/** The embedded defaults (runs with no file). */
void ch_server_defaults(ch_server_config *cfg);

/**
 * Override @p cfg from a JSON file. Unknown keys and bad values are errors
 * (message in @p err), never ignored. @return CH_OK, CH_EBADCONFIG, CH_EIO.
 */
ch_err ch_server_config_load(ch_server_config *cfg, const char *path, char *err, size_t cap);

/**
 * The same from @p len bytes of JSON text (borrowed, not NUL-terminated).
 * On an error @p cfg may be partly overridden. @return CH_OK, CH_EBADCONFIG.
 */
ch_err ch_server_config_parse(ch_server_config *cfg, const char *text, size_t len, char *err,
                              size_t cap);

/**
 * Write @p cfg as the JSON object ch_server_config_parse reads: every key,
 * so `chd --print-config > my.json` and `chd --config my.json` start alike.
 */
void ch_server_config_print(const ch_server_config *cfg, FILE *f);

/**
 * Write every configuration key as a Markdown table (key, type, range,
 * default, meaning): `chd --config-doc`, and the README's section.
 */
void ch_server_config_doc(FILE *f);

typedef struct ch_server ch_server;

/**
 * Open the store (replaying it, or seeding a fresh one with the defaults),
 * bind the sockets and start serving. @return the server or NULL with the
 * reason in @p err.
 */
ch_server *ch_server_start(const ch_server_config *cfg, char *err, size_t cap);

/** Finish the batch in progress, commit, close everything. NULL is a no-op. */
void ch_server_stop(ch_server *s);

/**
 * The same, calling @p store_closed(@p ctx) once the store is committed and
 * closed, before the sockets close (NNG 1.5.2 can hang closing a REP socket
 * with a peer mid-exchange: a daemon may then end itself safely).
 */
void ch_server_stop_then(ch_server *s, void (*store_closed)(void *), void *ctx);

/** True once the store halted (intake stopped). The engine thread sets it:
 *  read it from another thread only once that one is joined (in
 *  ch_server_stop_then()'s @p store_closed). */
bool ch_server_halted(const ch_server *s);

#ifdef __cplusplus
}
#endif
#endif
