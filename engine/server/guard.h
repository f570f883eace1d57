/*
 * guard.h - chd's access control and resource bounds (private to the
 * server): who may send a request, how fast, and how much it may hold.
 *
 * Access (PROTOCOL.md, Authentication): each op is public, admin, account
 * or read (admin or read-only key). The admin key lives in DIR/admin.key and
 * the read-only key in DIR/readonly.key (0600, created at first start); the
 * read-only key may also read the positions of house, pool and fees; each account's key is returned
 * once by account.open and only its SHA-256 is kept (in the store, restored at start). A presented
 * key is hashed once per request and compared with ch_ct_equal(). An unknown account and a wrong
 * key get the same answer after the same work. The admin key may act for any account (the house's
 * operator).
 *
 * Limits: a token bucket per connection (requests) and per account
 * (orders), refilled from the server's monotonic clock, which the caller
 * passes in (`now`, ns); a cap on resting orders per account; a cap on
 * connected clients. Refusals carry RATE_LIMITED, RISK_LIMIT (capacity) or
 * UNAVAILABLE (too many clients) and change no state.
 *
 * Threads: the connection table is shared with NNG's pipe callbacks and has
 * its own lock; everything else belongs to the engine thread.
 */
#ifndef CH_SERVER_GUARD_H
#define CH_SERVER_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/book.h"
#include "ch/err.h"
#include "ch/sha256.h"
#include "ch/types.h"

/** Access keys are this many hex characters (128 random bits for accounts). */
#define CHI_ACCOUNT_KEY_HEX 32
#define CHI_ADMIN_KEY_HEX   64

typedef struct chi_guard_config {
    bool no_auth;             /**< keys are not checked (local experiments) */
    uint32_t max_clients;     /**< connections served; 0: no bound */
    double conn_rate;         /**< requests/s per connection; 0: no bound */
    double conn_burst;        /**< bucket size (requests) */
    double account_rate;      /**< orders/s per account; 0: no bound */
    double account_burst;     /**< bucket size (orders) */
    uint32_t max_open_orders; /**< resting orders per account; 0: no bound */
} chi_guard_config;

/** A token bucket: @p tokens available at time @p last (ns). */
typedef struct chi_bucket {
    double tokens;
    int64_t last;
    bool started;
} chi_bucket;

/**
 * Take @p n tokens at @p now (ns, monotonic) from a bucket filling at
 * @p rate per second up to @p burst. @return true if taken; false leaves
 * the bucket as it was (but refilled). rate 0: always true.
 */
bool chi_bucket_take(chi_bucket *b, double rate, double burst, int64_t now, double n);

/** Which key an op needs: none, the account's, the admin's or the
 * read-only key's (which the admin key also opens). */
typedef enum chi_access { CHI_PUBLIC, CHI_ACCOUNT, CHI_ADMIN, CHI_READ } chi_access;

/** The class of @p op; an op not in the table is admin (closed by default). */
chi_access chi_op_access(const char *op);

typedef struct chi_guard chi_guard;

/** @return owned (chi_guard_destroy) or NULL (no memory). */
chi_guard *chi_guard_create(const chi_guard_config *cfg, uint32_t max_accounts);
void chi_guard_destroy(chi_guard *g);

/** The two keys chd makes at first start. */
typedef enum chi_key_kind { CHI_KEY_ADMIN, CHI_KEY_READONLY } chi_key_kind;

/** The file name of a key in the data directory: "admin.key", "readonly.key". */
const char *chi_key_file(chi_key_kind kind);

/**
 * Read DIR/admin.key or DIR/readonly.key, creating it first (mode 0600, 64
 * hex characters) if it does not exist. @return CH_OK; CH_EIO (with the
 * reason in @p err; also when both files hold the same key).
 */
ch_err chi_guard_load_key(chi_guard *g, const char *dir, chi_key_kind kind, char *err, size_t cap);

/**
 * A fresh account key: CHI_ACCOUNT_KEY_HEX hex characters from the
 * kernel's random source into @p hex (>= CHI_ACCOUNT_KEY_HEX + 1 bytes), and
 * its digest. @return CH_OK or CH_EIO (no random source: refuse the open).
 */
ch_err chi_key_new(char *hex, uint8_t digest[CH_SHA256_LEN]);

/** Remember @p a's key digest (account.open, or the store at start). */
void chi_guard_set_key(chi_guard *g, ch_account_id a, const uint8_t digest[CH_SHA256_LEN]);

/**
 * Forget every account's key and open orders (their rate buckets stay), for
 * a server that rebuilds its state from the store: the replay and the
 * store's keys fill them again.
 */
void chi_guard_reset_accounts(chi_guard *g);

/* ---- connections (any thread) ---- */

/**
 * A connection arrived at @p now (ns, monotonic, the start of its idle
 * clock): false if it must be closed (twice max_clients). An @p exempt
 * connection (the admin endpoint) is not counted against max_clients and
 * never refused for it.
 */
bool chi_guard_conn_added_at(chi_guard *g, uint32_t pipe, bool exempt, int64_t now);

/*
 * A connection's I/O, for the two bounds that keep one client from stalling
 * the others: replies handed to the transport and not yet written (a client
 * that does not read makes them pile up: the server closes it past its
 * bound), and the idle clock (no request in flight and nothing received or
 * sent for idle_timeout: closed). Unknown pipes are ignored.
 */
/** A request arrived on @p pipe. */
void chi_guard_conn_request(chi_guard *g, uint32_t pipe, int64_t now);
/** Its reply is handed to the transport. @return the replies of @p pipe now in the transport. */
uint32_t chi_guard_conn_sending(chi_guard *g, uint32_t pipe);
/** A request of @p pipe is finished: its reply written (@p was_sending) or dropped. */
void chi_guard_conn_done(chi_guard *g, uint32_t pipe, bool was_sending, int64_t now);
/** Up to @p cap connections idle for more than @p idle ns at @p now, into @p pipes. */
size_t chi_guard_idle(chi_guard *g, int64_t now, int64_t idle, uint32_t *pipes, size_t cap);
void chi_guard_conn_removed(chi_guard *g, uint32_t pipe);
uint32_t chi_guard_conns(chi_guard *g);

/* ---- one request (engine thread) ---- */

/**
 * Start a request from connection @p pipe presenting @p key (NULL: none) at
 * @p now: admits it against the connection's bucket and the client cap.
 * @return CH_OK; CH_ERATE_LIMITED; CH_EUNAVAILABLE (beyond max_clients);
 * @p msg gets the reason.
 */
ch_err chi_guard_begin(chi_guard *g, uint32_t pipe, const char *key, int64_t now, const char **msg);

/** The current request may run an op of class @p access (admin check). */
ch_err chi_guard_op(chi_guard *g, chi_access access, const char **msg);

/**
 * The current request may act for an account: @p found tells whether the
 * named account exists (@p a is then its id). Unknown account and wrong key
 * take the same path and give the same UNAUTHORIZED.
 */
ch_err chi_guard_account(chi_guard *g, bool found, ch_account_id a, const char **msg);

/**
 * chi_guard_account for a read of @p a (positions): the read-only key may
 * also read the @p house_account ones (house, pool, fees).
 */
ch_err chi_guard_account_view(chi_guard *g, bool found, ch_account_id a, bool house_account,
                              const char **msg);

/**
 * A compact binary order.batch (no key field) for @p a from connection
 * @p pipe: allowed when the connection's last keyed request authenticated as
 * @p a or as admin. Any refused request (UNAUTHORIZED) clears the
 * connection's authorization.
 */
ch_err chi_guard_binary(chi_guard *g, uint32_t pipe, bool found, ch_account_id a, const char **msg);

/**
 * An order of @p a at @p now, which may rest if @p may_rest: the account's
 * order bucket and (for a resting one) its open-order cap, counted against
 * @p book. @return CH_OK; CH_ERATE_LIMITED; CH_ECAPACITY.
 */
ch_err chi_guard_order(chi_guard *g, ch_account_id a, bool may_rest, const ch_book *book,
                       int64_t now, const char **msg);

/** An order of @p a now rests on @p book (counted toward its cap). */
void chi_guard_order_rests(chi_guard *g, ch_account_id a, ch_order_id id, const ch_book *book);

typedef struct chi_guard_stats {
    uint64_t unauthorized, rate_limited, refused_clients, open_order_cap;
} chi_guard_stats;

void chi_guard_get_stats(const chi_guard *g, chi_guard_stats *out);

/** Whether keys are checked. */
bool chi_guard_auth(const chi_guard *g);

#endif
