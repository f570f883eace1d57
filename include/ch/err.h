/*
 * ch/err.h - the one error table of the clearinghouse.
 *
 * Every fallible function in the engine returns a `ch_err`; CH_OK is 0.
 * The numeric values are stable: they travel on the wire (as the wire code
 * string) and sit on disk, so a code is never renumbered or reused. New codes
 * are appended with the next free number.
 *
 * Each row is X(ENUM, number, wire code, message):
 *   - ENUM       the C name (CH_E...),
 *   - number     the stable value,
 *   - wire code  the `error.code` string of the JSON protocol (PROTOCOL.md);
 *                several internal codes may share one wire code (for example
 *                a malformed symbol and an unlisted one are both
 *                UNKNOWN_SYMBOL on the wire), the message tells them apart,
 *   - message    the human text returned by ch_strerror().
 */
#ifndef CH_ERR_H
#define CH_ERR_H

#include "ch/api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_ERR_TABLE(X)                                                                            \
    X(CH_OK, 0, "OK", "success")                                                                   \
    /* requests */                                                                                 \
    X(CH_EBADREQ, 1, "BAD_REQUEST", "malformed request")                                           \
    X(CH_EUNKNOWN_OP, 2, "UNKNOWN_OP", "unknown operation")                                        \
    X(CH_EUNKNOWN_SYMBOL, 3, "UNKNOWN_SYMBOL", "instrument is not listed")                         \
    X(CH_EBADPRICE, 4, "BAD_PRICE",                                                                \
      "price is not positive, not on tick or outside the price band")                              \
    X(CH_EBADQTY, 5, "BAD_QTY", "quantity is not a positive whole number of lots")                 \
    X(CH_EUNKNOWN_ORDER, 6, "UNKNOWN_ORDER", "no such open order")                                 \
    X(CH_ENOT_OWNER, 7, "NOT_OWNER", "order belongs to another account")                           \
    X(CH_EFUNDS, 8, "INSUFFICIENT_FUNDS", "insufficient funds")                                    \
    X(CH_EMARGIN, 9, "INSUFFICIENT_MARGIN", "insufficient margin")                                 \
    X(CH_ERISK_LIMIT, 10, "RISK_LIMIT", "risk limit reached")                                      \
    X(CH_EPOST_ONLY, 11, "POST_ONLY_WOULD_TRADE", "post-only order would trade")                   \
    X(CH_EFOK, 12, "FOK_NOT_FILLED", "fill-or-kill order cannot be filled in full")                \
    X(CH_ESELF_TRADE, 13, "SELF_TRADE", "order would trade with its own account")                  \
    X(CH_EEXPIRED, 14, "EXPIRED", "instrument has expired")                                        \
    X(CH_EUNAUTHORIZED, 15, "UNAUTHORIZED", "unauthorized")                                        \
    X(CH_EUNAVAILABLE, 16, "UNAVAILABLE", "service unavailable")                                   \
    X(CH_ERATE_LIMITED, 17, "RATE_LIMITED", "request rate limit exceeded")                         \
    X(CH_ENOT_PRIMARY, 18, "NOT_PRIMARY",                                                          \
      "not the shard's primary: another chd took over its replicated log")                         \
    /* symbols and instruments (UNKNOWN_SYMBOL / BAD_REQUEST on the wire) */                       \
    X(CH_EBADSYMBOL, 32, "UNKNOWN_SYMBOL", "malformed instrument symbol")                          \
    X(CH_EBADDATE, 33, "UNKNOWN_SYMBOL", "expiry date does not exist")                             \
    X(CH_EBADSTRIKE, 34, "UNKNOWN_SYMBOL", "strike is not a positive integer in range")            \
    X(CH_EUNKNOWN_UNDERLYING, 35, "UNKNOWN_SYMBOL", "unknown underlying")                          \
    X(CH_EEXISTS, 36, "BAD_REQUEST", "already exists")                                             \
    X(CH_EBADCONFIG, 37, "BAD_REQUEST", "invalid configuration value")                             \
    /* risk (marks and implied vol) */                                                             \
    X(CH_ENO_IV, 38, "BAD_PRICE", "price outside the no-arbitrage bounds: no implied volatility")  \
    X(CH_EBADVOL, 39, "BAD_REQUEST", "volatility mark out of range or malformed")                  \
    X(CH_ECALENDAR, 40, "BAD_REQUEST",                                                             \
      "mark would make total variance decrease with expiry (calendar arbitrage)")                  \
    /* orders */                                                                                   \
    X(CH_EBADSIDE, 48, "BAD_REQUEST", "side must be buy or sell")                                  \
    X(CH_EBADTYPE, 49, "BAD_REQUEST", "invalid order type or time in force")                       \
    X(CH_EDUPLICATE, 50, "BAD_REQUEST", "duplicate client order id")                               \
    /* resources (all refuse the request, none crash) */                                           \
    X(CH_ECAPACITY, 64, "RISK_LIMIT", "configured capacity exhausted")                             \
    X(CH_ENOMEM, 65, "UNAVAILABLE", "out of memory")                                               \
    X(CH_ERANGE, 66, "BAD_REQUEST", "value out of range")                                          \
    X(CH_EINVAL, 67, "BAD_REQUEST", "invalid argument")                                            \
    X(CH_EIO, 68, "UNAVAILABLE", "input/output error")                                             \
    X(CH_ENOTFOUND, 69, "BAD_REQUEST", "not found")                                                \
    X(CH_EBUSY, 70, "UNAVAILABLE", "in use by another process")                                    \
    /* a client's (libchclient): no reply in time; the request may have run */                     \
    X(CH_ETIMEDOUT, 71, "UNAVAILABLE", "timed out")

/** The error codes. Values are stable (see the table). */
typedef enum ch_err {
#define CH_ERR_ENUM_(name, num, wire, msg) name = num,
    CH_ERR_TABLE(CH_ERR_ENUM_)
#undef CH_ERR_ENUM_
} ch_err;

/**
 * The C name of @p e without the CH_ prefix, e.g. "EBADPRICE"; "EUNKNOWN" for
 * a value not in the table. Returns a static string (never NULL).
 */
CH_API const char *ch_errname(ch_err e);

/**
 * The protocol's error code for @p e, e.g. "BAD_PRICE" (PROTOCOL.md,
 * Envelope). "BAD_REQUEST" for a value not in the table. Static string.
 */
CH_API const char *ch_errwire(ch_err e);

/** Human text for @p e. Static string, never NULL. */
CH_API const char *ch_strerror(ch_err e);

#ifdef __cplusplus
}
#endif
#endif
