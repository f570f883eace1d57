/*
 * ch/proto.h - the JSON wire protocol's request side (PROTOCOL.md): parsing
 * an untrusted request into a cJSON tree with the limits the contract
 * promises, and typed field access that maps every problem to the error the
 * protocol names (BAD_REQUEST for a missing or mistyped field, BAD_QTY,
 * BAD_PRICE...). cJSON trees never leave proto/ and the server.
 */
#ifndef CH_PROTO_H
#define CH_PROTO_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "ch/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_PROTO_VERSION 1
#define CH_PROTO_MAX_DEPTH 16

/**
 * Parse @p len bytes (not NUL-terminated) as one JSON object of at most
 * @p max_size bytes and CH_PROTO_MAX_DEPTH levels, no trailing garbage.
 * @return the tree (owned: cJSON_Delete) or NULL with @p why set to a static
 *         message (the reply is BAD_REQUEST).
 */
cJSON *ch_proto_parse(const char *buf, size_t len, size_t max_size, const char **why);

/** A field that must be a string of 1..max-1 bytes with no NUL: CH_OK, CH_EBADREQ. */
ch_err ch_proto_string(const cJSON *o, const char *key, bool required, char *out, size_t max);

/** A quantity: a JSON integer 1..CH_QTY_MAX. Missing: CH_EBADREQ; bad: CH_EBADQTY. */
ch_err ch_proto_qty(const cJSON *o, const char *key, bool required, int64_t *out);

/** A price on @p u's tick: a JSON number or decimal string. CH_EBADREQ, CH_EBADPRICE. */
ch_err ch_proto_price(const cJSON *o, const char *key, const ch_underlying_config *u,
                      bool required, int64_t *ticks, bool *present);

/** A finite number. @p present (may be NULL) tells whether it was there. */
ch_err ch_proto_number(const cJSON *o, const char *key, bool required, double *out,
                       bool *present);

/** A boolean (absent = @p dflt). */
ch_err ch_proto_bool(const cJSON *o, const char *key, bool dflt, bool *out);

/** An order id: a decimal string (or an integral number below 2^53). */
ch_err ch_proto_order_id(const cJSON *o, const char *key, ch_order_id *out);

/**
 * A time: an ISO-8601 UTC string (YYYY-MM-DDTHH:MM:SS[.fff...]Z) or a
 * number of nanoseconds since the epoch. CH_EBADREQ if malformed.
 */
ch_err ch_proto_time(const cJSON *o, const char *key, ch_time *out, bool *present);

/** Format @p t as ISO-8601 UTC with milliseconds into @p buf (>= 32 bytes). */
void ch_proto_format_time(ch_time t, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
