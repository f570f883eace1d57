/*
 * ch/client.h - libchclient: talk to chd from C (and, through ctypes, from
 * Python).
 *
 * Two levels: ch_client_call() moves any request text (JSON, or a binary
 * message) and returns the reply as it came; the typed calls
 * (ch_client_hello_info() ... ch_client_stats_info(), one per op of PROTOCOL.md and
 * proto/README.md) take and fill plain C structs, add the client's key
 * (ch_client_set_key()) to every request, and return the reply's error code
 * as a ch_err. Typed calls speak JSON by default, or the binary encoding of
 * the same messages after ch_client_set_binary(c, true); both give the same
 * results and the same codes.
 *
 * Errors: one space, ch_err (ch/err.h), for every function that can fail,
 * the transport's included. CH_OK; a server error as the ch_err of its wire
 * code (CH_EBADREQ for BAD_REQUEST, CH_EUNKNOWN_SYMBOL, CH_EBADPRICE, ...,
 * CH_EUNAVAILABLE), its text in ch_client_message(); CH_ETIMEDOUT when no
 * reply came in time (the request may still have been executed: resend it
 * with the same client_order_id); CH_EIO when the request could not be sent
 * or the connection failed; CH_EINVAL for an argument the library refuses
 * (NULL where a name is needed, a URL NNG cannot use); CH_ENOMEM. The NNG
 * error behind a CH_EIO or CH_ETIMEDOUT is in ch_client_nng_error() (this
 * thread's last) and ch_client_transport_error() (the client's last typed
 * call); ch_client_strerror() gives a text with both. On an error the output
 * struct is unspecified (arrays are not allocated).
 *
 * ABI (SONAME libchclient.so.1): the structs below change only with the
 * SONAME. No result has a fixed-size array of what the server decides the
 * number of: lists come as owned arrays (ch_client_release()) or go to a
 * buffer the caller sizes (an order's fills: ch_client_order_result's
 * fills and fills_cap), and every count is the reply's whole count.
 *
 * Thread safety: a ch_client serves one request at a time (NNG REQ); use
 * one per thread, or ch_client_pipeline for many in flight. A ch_sub is used
 * by one thread.
 */
#ifndef CH_CLIENT_H
#define CH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/api.h"
#include "ch/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ch_client ch_client;

/**
 * Connect to chd's request endpoint @p url (tcp://, ipc://, tls+tcp://).
 * The first connection is made now (no server: CH_EIO at once, "Connection
 * refused" in ch_client_strerror()); after that NNG reconnects by itself if
 * the server restarts. @p timeout_ms bounds each call (0: 5000).
 * @return CH_OK; CH_EIO; CH_EINVAL (a URL NNG cannot use); CH_ENOMEM.
 */
CH_API ch_err ch_client_open(const char *url, int timeout_ms, ch_client **out);

/** Close; NULL is a no-op. */
CH_API void ch_client_close(ch_client *c);

/** The library's version ("0.2.0": the project's, as `--version` prints it). */
CH_API const char *ch_client_version(void);

/**
 * A client over several shards: @p map_path is a JSON shard map, each shard
 * its name, its underlyings and its chd endpoints (primary and standbys):
 *   {"shards": [{"name": "btc", "underlyings": ["BTC"],
 *                "endpoints": ["tcp://127.0.0.1:7450", "tcp://127.0.0.1:7460"]}, ...]}
 * Every call then goes to the shard of the request's underlying (its
 * `underlying`, or its symbol's); one that names none (positions, stats,
 * hello; binary requests) to the shard set with ch_client_set_shard(), the
 * first by default. A reply NOT_PRIMARY, or no reply from a dead endpoint,
 * is resent to the shard's next endpoint until one answers (10 s at most: a
 * failover takes about the lease's 1.5 s); after no reply or UNAVAILABLE only
 * when resending is harmless: a read, or a write with a client_order_id.
 * Connections are made on first use. @return CH_OK; CH_EIO (the file cannot
 * be read); CH_EBADCONFIG (not a shard map: @p msg says why); CH_ENOMEM.
 */
CH_API ch_err ch_client_open_shards(const char *map_path, int timeout_ms, ch_client **out,
                                    char *msg, size_t cap);

/** Requests that name no underlying go to this shard (its name, or one of its
 *  underlyings). @return CH_OK; CH_ENOTFOUND; CH_EINVAL (not a shard client). */
CH_API ch_err ch_client_set_shard(ch_client *c, const char *name_or_underlying);

/**
 * Send @p len bytes of @p request and wait for the reply. @p reply receives
 * an owned, NUL-terminated buffer (free with ch_client_free()) of @p reply_len
 * bytes (may be NULL). @return CH_OK; CH_ETIMEDOUT (the request may still
 * be executed: resend it with the same client_order_id); CH_EIO.
 */
CH_API ch_err ch_client_call(ch_client *c, const char *request, size_t len, char **reply,
                             size_t *reply_len);

/** Free a reply. */
CH_API void ch_client_free(char *reply);

/**
 * Text of @p err, with the NNG error behind it when this thread's last
 * failure was the transport's ("input/output error: Connection refused").
 * Valid until this thread's next call of it.
 */
CH_API const char *ch_client_strerror(ch_err err);

/** The NNG error number behind this thread's last result of this library (0: none). */
CH_API int ch_client_nng_error(void);

/**
 * Read a key file (chd's DIR/admin.key or DIR/readonly.key, or an
 * account's key saved by the caller): its first line, without surrounding
 * white space, into @p key (@p cap bytes, 257 is always enough). @return
 * CH_OK; CH_EIO (cannot be read: errno tells why); CH_EINVAL (empty, or
 * longer than @p cap - 1 or 255).
 */
CH_API ch_err ch_client_read_key(const char *path, char *key, size_t cap);

/** ch_client_read_key() of chd's DIR/admin.key for the data folder @p data_dir. */
CH_API ch_err ch_client_admin_key(const char *data_dir, char *key, size_t cap);

/**
 * Pipelined requests for throughput: up to @p depth requests in flight on one
 * connection; ch_client_pipeline_send() queues (blocking while @p depth are
 * in flight), ch_client_pipeline_recv() returns replies in completion order
 * with the tag given at send.
 */
typedef struct ch_client_pipeline ch_client_pipeline;
/** @p depth 1..1024. @return CH_OK; CH_EINVAL; CH_EIO; CH_ENOMEM. */
CH_API ch_err ch_client_pipeline_open(const char *url, int depth, int timeout_ms,
                                      ch_client_pipeline **out);
CH_API void ch_client_pipeline_close(ch_client_pipeline *p);
CH_API ch_err ch_client_pipeline_send(ch_client_pipeline *p, const char *request, size_t len,
                                      unsigned long tag);
/** @return CH_OK (reply owned by the caller, ch_client_free); CH_ETIMEDOUT
 *  or CH_EIO (that request's; its @p tag is set); CH_EINVAL (nothing in flight). */
CH_API ch_err ch_client_pipeline_recv(ch_client_pipeline *p, char **reply, size_t *reply_len,
                                      unsigned long *tag);

/* ---- typed calls ------------------------------------------------------------ */

#define CH_CLIENT_ID_MAX     24 /**< an order or trade id: decimal text + NUL */
#define CH_CLIENT_NAME_MAX   32 /**< an account name + NUL */
#define CH_CLIENT_SYMBOL_MAX 56 /**< an instrument symbol + NUL */
#define CH_CLIENT_TEXT_MAX   40 /**< short texts: status, times, keys... */

/**
 * The key sent as "key" with every typed call (PROTOCOL.md, Authentication):
 * copied; NULL or "" sends none. @return CH_OK or CH_EINVAL (longer than 255
 * bytes).
 */
CH_API ch_err ch_client_set_key(ch_client *c, const char *key);

/** Typed calls use the binary encoding (true) or JSON (false, the default). */
CH_API void ch_client_set_binary(ch_client *c, bool binary);

/** The server's message of the last failed typed call ("" if none). View, valid until the next
 * call. */
CH_API const char *ch_client_message(const ch_client *c);

/** The NNG error of the last typed call that returned CH_EIO or CH_ETIMEDOUT (0 if none). */
CH_API int ch_client_transport_error(const ch_client *c);

/** Free an array returned by a typed call; NULL is a no-op. */
CH_API void ch_client_release(void *array);

typedef enum ch_client_side { CH_CLIENT_BUY = 0, CH_CLIENT_SELL = 1 } ch_client_side;
typedef enum ch_client_type { CH_CLIENT_LIMIT = 0, CH_CLIENT_MARKET = 1 } ch_client_type;
typedef enum ch_client_tif {
    CH_CLIENT_GTC = 0,
    CH_CLIENT_IOC = 1,
    CH_CLIENT_FOK = 2
} ch_client_tif;

/** A name (of an underlying...). */
typedef struct ch_client_name {
    char name[CH_CLIENT_NAME_MAX];
} ch_client_name;

typedef struct ch_client_hello_info {
    int version;                       /**< the protocol's (1) */
    char server[CH_CLIENT_TEXT_MAX];   /**< "chd" */
    char software[CH_CLIENT_TEXT_MAX]; /**< chd's version, e.g. "0.2.0" */
    size_t n_underlyings;
    ch_client_name *underlyings; /**< owned: ch_client_release() */
} ch_client_hello_info;

/** hello. */
CH_API ch_err ch_client_hello(ch_client *c, ch_client_hello_info *out);

typedef struct ch_client_instrument {
    char symbol[CH_CLIENT_SYMBOL_MAX];
    uint32_t id; /**< the id of the binary order.batch */
    char underlying[CH_CLIENT_NAME_MAX];
    char expiry[CH_CLIENT_TEXT_MAX]; /**< ISO-8601; "" for a perpetual */
    double strike;                   /**< 0 for a perpetual */
    char type[8];                    /**< call, put, perp */
    double tick, contract_size;
} ch_client_instrument;

/**
 * instruments: every listed, unexpired series (of @p underlying; NULL: all).
 * @p out returns owned (ch_client_release()), @p n entries.
 */
CH_API ch_err ch_client_instruments(ch_client *c, const char *underlying,
                                    ch_client_instrument **out, size_t *n);

/** instrument.add (admin): list @p symbol; @p out (may be NULL) the new instrument. */
CH_API ch_err ch_client_instrument_add(ch_client *c, const char *symbol, ch_client_instrument *out);

typedef struct ch_client_account {
    char account[CH_CLIENT_NAME_MAX];
    double cash;
    char key[CH_CLIENT_TEXT_MAX * 2]; /**< the new account's key */
} ch_client_account;

/** account.open: a new account with @p cash USD deposited. @p out may be NULL. */
CH_API ch_err ch_client_account_open(ch_client *c, const char *account, double cash,
                                     ch_client_account *out);

/** account.deposit: @p amount USD (negative withdraws); @p cash (may be NULL) the new balance. */
CH_API ch_err ch_client_account_deposit(ch_client *c, const char *account, double amount,
                                        double *cash);

/** pool.deposit: @p amount USD into the pool; shares received and NAV per share (may be NULL). */
CH_API ch_err ch_client_pool_deposit(ch_client *c, const char *account, double amount,
                                     int64_t *shares, double *nav_per_share);

/** pool.withdraw: redeem @p shares; cash received and NAV per share (may be NULL). */
CH_API ch_err ch_client_pool_withdraw(ch_client *c, const char *account, int64_t shares,
                                      double *cash, double *nav_per_share);

/** pool.deposit / pool.withdraw into strike tranche @p tranche (an id from ch_client_pools). */
CH_API ch_err ch_client_tranche_deposit(ch_client *c, const char *account, uint32_t tranche,
                                        double amount, int64_t *shares, double *nav_per_share);
CH_API ch_err ch_client_tranche_withdraw(ch_client *c, const char *account, uint32_t tranche,
                                         int64_t shares, double *cash, double *nav_per_share);

/**
 * pool.tranche.add (admin): a strike tranche for strikes @p strike_lo ..
 * @p strike_hi of @p underlying, and (both or neither, ISO-8601 times; NULL:
 * every expiry) expiries @p expiry_lo .. @p expiry_hi. Its id in @p id (may be NULL).
 */
CH_API ch_err ch_client_tranche_add(ch_client *c, const char *underlying, int64_t strike_lo,
                                    int64_t strike_hi, const char *expiry_lo, const char *expiry_hi,
                                    uint32_t *id);

/** The general pool (pools' "general"). */
typedef struct ch_client_pool_info {
    double cash, inventory_value, house_share, nav;
    int64_t shares;
    double nav_per_share;
} ch_client_pool_info;

/** One strike tranche (pools' "tranches"). */
typedef struct ch_client_tranche {
    uint32_t tranche;
    char underlying[CH_CLIENT_NAME_MAX];
    double strike_lo, strike_hi;
    char expiry_lo[CH_CLIENT_ID_MAX], expiry_hi[CH_CLIENT_ID_MAX]; /**< "" = every expiry */
    char account[CH_CLIENT_NAME_MAX];
    double cash, inventory_value, house_share, nav;
    int64_t shares;
    double nav_per_share, worst_loss, utilisation, delta;
} ch_client_tranche;

/**
 * pools: the general pool (@p general, may be NULL) and the strike tranches
 * of @p underlying (NULL: all); @p out returns owned (ch_client_release()),
 * @p n entries.
 */
CH_API ch_err ch_client_pools(ch_client *c, const char *underlying, ch_client_pool_info *general,
                              ch_client_tranche **out, size_t *n);

typedef struct ch_client_vol {
    const char *key; /**< an option symbol, or an expiry such as 27NOV26 */
    double vol;
} ch_client_vol;

typedef struct ch_client_market {
    const char *underlying;
    double index;
    const char *time; /**< NULL: none; ISO-8601 UTC or nanoseconds as decimal text */
    bool has_rate, has_funding_rate, has_perp;
    double rate, funding_rate, perp;
    const ch_client_vol *iv; /**< n_iv marks (borrowed) */
    size_t n_iv;
} ch_client_market;

/** market.update (admin); @p seq (may be NULL) the command's sequence number. */
CH_API ch_err ch_client_market_update(ch_client *c, const ch_client_market *m, uint64_t *seq);

/** An order (order.new, and each order of order.batch). Strings are borrowed. */
typedef struct ch_client_order {
    const char *account; /**< NULL in a batch: the batch's account */
    const char *symbol;
    ch_client_side side;
    int64_t qty;
    ch_client_type type;
    bool has_price; /**< a limit order needs a price; a market order may give a protection price */
    double price;
    ch_client_tif tif;
    bool post_only;
    const char *client_order_id; /**< NULL: none */
} ch_client_order;

typedef struct ch_client_fill {
    char trade_id[CH_CLIENT_ID_MAX];
    double price;
    int64_t qty;
    char source[8]; /**< book, net, pool */
} ch_client_fill;

/**
 * An order's result. Its fills go to a buffer the caller sizes: set
 * @c fills and @c fills_cap before the call (NULL and 0: the count only);
 * the call writes the first min(n_fills, fills_cap) and counts them all in
 * @c n_fills, so a caller that wants every fill calls with a buffer of
 * n_fills after a short one, or sizes it by the order's qty (each fill is
 * at least one contract). In a batch result the library points @c fills
 * at the batch's own block, holding every fill.
 */
typedef struct ch_client_order_result {
    char order_id[CH_CLIENT_ID_MAX];
    char status[CH_CLIENT_TEXT_MAX]; /**< new, partially_filled, filled, cancelled */
    int64_t filled_qty, remaining_qty;
    size_t n_fills;        /**< out: fills of the reply, all of them counted */
    ch_client_fill *fills; /**< in: the caller's buffer (may be NULL); out: kept */
    size_t fills_cap;      /**< in: entries of @c fills */
} ch_client_order_result;

/** order.new. */
CH_API ch_err ch_client_order_new(ch_client *c, const ch_client_order *o,
                                  ch_client_order_result *out);

typedef struct ch_client_batch_result {
    ch_err err;                    /**< this order's code: CH_OK or why it was rejected */
    char message[128];             /**< the server's text when err != CH_OK */
    ch_client_order_result result; /**< when err == CH_OK */
} ch_client_batch_result;

/**
 * order.batch: @p n orders (1..5000) for @p account (NULL: each order names
 * its own). Each order stands alone: @p out returns owned (ch_client_release())
 * @p n results in order, each result's fills in the same block (all of them). The call's own code
 * is CH_OK unless the whole batch was refused.
 */
CH_API ch_err ch_client_order_batch(ch_client *c, const char *account,
                                    const ch_client_order *orders, size_t n,
                                    ch_client_batch_result **out);

typedef struct ch_client_cancel_result {
    char order_id[CH_CLIENT_ID_MAX];
    char status[CH_CLIENT_TEXT_MAX];
    int64_t remaining_qty, cancelled_qty;
} ch_client_cancel_result;

/** order.cancel. @p out may be NULL. */
CH_API ch_err ch_client_order_cancel(ch_client *c, const char *account, const char *order_id,
                                     ch_client_cancel_result *out);

/** order.replace: a new open @p qty (0: unchanged) and/or price (has_price). */
CH_API ch_err ch_client_order_replace(ch_client *c, const char *account, const char *order_id,
                                      int64_t qty, bool has_price, double price,
                                      ch_client_order_result *out);

typedef struct ch_client_open_order {
    char order_id[CH_CLIENT_ID_MAX];
    char symbol[CH_CLIENT_SYMBOL_MAX];
    char side[8];
    double price;
    int64_t remaining_qty, filled_qty;
    bool post_only;
} ch_client_open_order;

/** orders: @p account's open orders; @p out returns owned (ch_client_release()), @p n entries. */
CH_API ch_err ch_client_orders(ch_client *c, const char *account, ch_client_open_order **out,
                               size_t *n);

typedef struct ch_client_level {
    double price;
    int64_t qty;
} ch_client_level;

/**
 * book: up to @p depth (1..1000) levels a side, best first, into the
 * caller's arrays of @p depth entries; their counts in @p n_bids, @p n_asks.
 */
CH_API ch_err ch_client_book(ch_client *c, const char *symbol, int depth, ch_client_level *bids,
                             size_t *n_bids, ch_client_level *asks, size_t *n_asks);

typedef struct ch_client_quote_info {
    double price, model, premium, vol;
    int64_t max_qty;
} ch_client_quote_info;

/** quote: the pool's price for @p qty of @p symbol on @p side now. */
CH_API ch_err ch_client_quote(ch_client *c, const char *symbol, ch_client_side side, int64_t qty,
                              ch_client_quote_info *out);

typedef struct ch_client_position {
    char symbol[CH_CLIENT_SYMBOL_MAX];
    int64_t qty; /**< negative: short */
    double avg_price, mark, delta, gamma, vega, theta, realized;
} ch_client_position;

typedef struct ch_client_positions_info {
    char account[CH_CLIENT_NAME_MAX];
    double cash, reserved, equity, margin;
    size_t n;
    ch_client_position *positions; /**< owned: ch_client_release() */
} ch_client_positions_info;

/** positions. */
CH_API ch_err ch_client_positions(ch_client *c, const char *account, ch_client_positions_info *out);

typedef struct ch_client_greeks {
    double delta, gamma, vega, theta;
} ch_client_greeks;

typedef struct ch_client_strike {
    char expiry[CH_CLIENT_TEXT_MAX];
    double strike, delta, gamma, vega, gross_gamma, netted_gamma;
} ch_client_strike;

typedef struct ch_client_scenario {
    double spot_shock;
    char vol_shock[8]; /**< down, flat, up */
    double pnl;
} ch_client_scenario;

typedef struct ch_client_risk_info {
    size_t n_strikes;
    ch_client_strike *strikes; /**< owned: ch_client_release() */
    ch_client_greeks totals;
    size_t n_scenarios;
    ch_client_scenario *scenarios; /**< owned: ch_client_release() */
    double worst_loss;
    double gross_delta, hedged_delta, ratio, net_delta, gross_gamma, netted_gamma; /**< netting */
    double dealer_delta; /**< netting: the ratio's baseline, every customer leg (protocol 1.1) */
} ch_client_risk_info;

/** risk (of @p underlying; NULL: the first). */
CH_API ch_err ch_client_risk(ch_client *c, const char *underlying, ch_client_risk_info *out);

typedef struct ch_client_hedge_info {
    char policy[CH_CLIENT_TEXT_MAX];
    double position, avg_price, fees, slippage, funding, basis_pnl, realized, volume;
    int64_t orders;
    double netting_ratio, cost_per_1m_notional;
} ch_client_hedge_info;

/** hedge. */
CH_API ch_err ch_client_hedge(ch_client *c, ch_client_hedge_info *out);

typedef struct ch_client_stats_info {
    int64_t requests, errors, orders, fills_book, fills_net, fills_pool, batches, commits, seq;
    bool halted;
} ch_client_stats_info;

/** stats. */
CH_API ch_err ch_client_stats(ch_client *c, ch_client_stats_info *out);

typedef struct ch_sub ch_sub;

/**
 * Subscribe to chd's event endpoint @p url for topics starting with
 * @p prefix ("" = all: fill.<account>, order.<account>, book.<symbol>, risk,
 * hedge). Delivery is best effort (PUB/SUB drops under load); the system of
 * record is the request side. Connects at once (chd must be listening);
 * later, a dropped connection is made again inside ch_sub_recv(), as an NNG
 * dialer would. On ipc:// and tcp:// the library speaks SP itself over a
 * plain socket, so that ch_sub_close() never blocks (NNG 1.5.2 can deadlock
 * closing a SUB socket that is receiving); tls+tcp:// uses NNG.
 * One thread at a time per subscriber. @return CH_OK; CH_EIO (nothing
 * listens there, or not a PUB endpoint: see ch_client_strerror()); CH_EINVAL;
 * CH_ENOMEM.
 */
CH_API ch_err ch_sub_open(const char *url, const char *prefix, ch_sub **out);
CH_API void ch_sub_close(ch_sub *s);

/**
 * Wait up to @p timeout_ms (< 0: without end) for one event: "TOPIC JSON",
 * owned (ch_client_free). @return CH_OK; CH_ETIMEDOUT (nothing came: not
 * an error of the connection, which reconnects by itself); CH_EINVAL; CH_EIO.
 */
CH_API ch_err ch_sub_recv(ch_sub *s, int timeout_ms, char **event, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
