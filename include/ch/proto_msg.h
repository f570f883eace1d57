/*
 * ch/proto_msg.h - the one table of protocol messages, and the binary codec
 * it drives for every op.
 *
 * Each message is one row of CH_MSG_TABLE: its op name (PROTOCOL.md and
 * proto/README.md), its binary op code, whether it changes state, and two
 * field lists: the request's and the reply's. A field has a name, a type, a
 * requirement (required / optional / may be null), a bound (string bytes or
 * list length) and, for objects and lists of objects, its own fields.
 *
 * Both codecs follow the table. JSON: a request's "op" is looked up here
 * (ch_msg_find) to reach its handler; the reply the handler builds is the
 * JSON text. Binary: the table alone decides the layout, so the binary form
 * of every message is generated from its row (ch_msg_bin_*), and a new
 * message is one row plus its handler. The binary codec converts between
 * bytes and the same cJSON shapes the JSON codec uses, so a handler serves
 * both encodings and both give the same answers and error codes.
 *
 * Layout (all little-endian; "CH", version CH_MSG_VERSION, documented in
 * proto/README.md):
 *   request  "CH" u8 version u8 code        u64 id  object(request fields)
 *   reply    "CH" u8 version u8 code|0x80   u64 id  u16 error
 *            error == 0: object(reply fields)
 *            else: u16 length + message bytes (error is a ch_err number)
 *   object   u64 state: 2 bits per field in table order (0 absent,
 *            1 present, 2 null), then the present values in table order
 *   values   STR u16 length + bytes (no NUL) | INT i64 | NUM f64 (finite) |
 *            BOOL u8 0/1 | DEC u8 tag (0: f64, 1: STR) | OID u64 (a decimal
 *            string in JSON) | OBJ object | LIST u32 count + objects |
 *            PAIRS u32 count + (f64, f64) | STRS u32 count + STRs |
 *            MAP u32 count + (STR key, f64)
 * Every request also has the optional "key" (PROTOCOL.md, Authentication)
 * as its first field.
 */
#ifndef CH_PROTO_MSG_H
#define CH_PROTO_MSG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_MSG_VERSION    1    /* the same version byte as the compact order.batch */
#define CH_MSG_REPLY      0x80 /* a reply's code: the request's code | CH_MSG_REPLY */
#define CH_MSG_MAX_FIELDS 32

typedef enum ch_ftype {
    CH_FT_STR = 1, /**< JSON string; bound: bytes */
    CH_FT_INT,     /**< JSON number, integral, |x| <= 2^53 */
    CH_FT_NUM,     /**< JSON number (finite) */
    CH_FT_BOOL,    /**< true / false */
    CH_FT_DEC,     /**< JSON number or string (prices, amounts, times) */
    CH_FT_OID,     /**< order or trade id: decimal string (a number accepted on encode) */
    CH_FT_OBJ,     /**< object of `sub` fields */
    CH_FT_LIST,    /**< array of objects of `sub` fields; bound: count */
    CH_FT_PAIRS,   /**< array of [number, number]; bound: count */
    CH_FT_STRS,    /**< array of strings; bound: count */
    CH_FT_MAP      /**< object name -> number; bound: count */
} ch_ftype;

enum { CH_F_OPT = 0, CH_F_REQ = 1, CH_F_NULL = 2 };

typedef struct ch_field {
    const char *name;
    ch_ftype type;
    int flags;                  /**< CH_F_REQ (must be present), CH_F_NULL (may be null) */
    uint32_t max;               /**< STR/DEC string: bytes; LIST/PAIRS/STRS/MAP: count */
    const struct ch_field *sub; /**< OBJ, LIST: the element's fields */
    size_t n_sub;
} ch_field;

/*
 * X(ENUM suffix, op name, binary code, mutating, request fields, reply fields)
 * - the messages. The field lists are defined in proto/msg.c; adding a
 * message is one row here, its field lists there (shared shapes are reused)
 * and its handler in the server.
 */
#define CH_MSG_TABLE(X)                                                                            \
    X(HELLO, "hello", 2, 0, rq_key, rp_hello)                                                      \
    X(INSTRUMENTS, "instruments", 3, 0, rq_underlying, rp_instruments)                             \
    X(INSTRUMENT_ADD, "instrument.add", 4, 1, rq_symbol, rp_instrument_add)                        \
    X(ACCOUNT_OPEN, "account.open", 5, 1, rq_account_open, rp_account_open)                        \
    X(ACCOUNT_DEPOSIT, "account.deposit", 6, 1, rq_amount, rp_cash)                                \
    X(POOL_DEPOSIT, "pool.deposit", 7, 1, rq_pool_deposit, rp_pool_deposit)                        \
    X(POOL_WITHDRAW, "pool.withdraw", 8, 1, rq_pool_withdraw, rp_pool_withdraw)                    \
    X(MARKET_UPDATE, "market.update", 9, 1, rq_market, rp_seq)                                     \
    X(ORDER_NEW, "order.new", 10, 1, rq_order_new, rp_order)                                       \
    X(ORDER_BATCH, "order.batch", 11, 1, rq_order_batch, rp_order_batch)                           \
    X(ORDER_CANCEL, "order.cancel", 12, 1, rq_order_cancel, rp_order_cancel)                       \
    X(ORDER_REPLACE, "order.replace", 13, 1, rq_order_replace, rp_order)                           \
    X(ORDERS, "orders", 14, 0, rq_account, rp_orders)                                              \
    X(BOOK, "book", 15, 0, rq_book, rp_book)                                                       \
    X(QUOTE, "quote", 16, 0, rq_quote, rp_quote)                                                   \
    X(POSITIONS, "positions", 17, 0, rq_account, rp_positions)                                     \
    X(RISK, "risk", 18, 0, rq_underlying, rp_risk)                                                 \
    X(HEDGE, "hedge", 19, 0, rq_underlying, rp_hedge)                                              \
    X(STATS, "stats", 20, 0, rq_key, rp_stats)                                                     \
    X(POOL_TRANCHE_ADD, "pool.tranche.add", 21, 1, rq_tranche_add, rp_tranche_add)                 \
    X(POOLS, "pools", 22, 0, rq_underlying, rp_pools)                                              \
    X(UNDERLYING_ADD, "underlying.add", 23, 1, rq_underlying_add, rp_underlying_add)               \
    X(STATE_HASH, "state.hash", 24, 0, rq_key, rp_state_hash)                                      \
    X(ACCOUNT_TRANSFER, "account.transfer", 25, 1, rq_transfer, rp_transfer)

typedef enum ch_msg_id {
#define CH_MSG_ENUM_(e, name, code, mut, rq, rp) CH_MSG_##e,
    CH_MSG_TABLE(CH_MSG_ENUM_)
#undef CH_MSG_ENUM_
        CH_MSG_COUNT
} ch_msg_id;

typedef struct ch_msg {
    ch_msg_id id;
    const char *op;
    uint8_t code; /**< binary op code (1 is the compact order.batch of ch/proto_bin.h) */
    bool mutating;
    const ch_field *req, *rep;
    size_t n_req, n_rep;
} ch_msg;

/** The row of @p id (view of static data). */
const ch_msg *ch_msg_get(ch_msg_id id);

/** The row of op name @p op, or NULL (UNKNOWN_OP). */
const ch_msg *ch_msg_find(const char *op);

/** The row of binary request code @p code, or NULL. */
const ch_msg *ch_msg_by_code(uint8_t code);

/**
 * Check JSON request @p req (a parsed object: ch_proto_parse) against the
 * request fields of @p m, the row of its "op": every member must be a field
 * of the row, or "op" or "id" (the envelope: PROTOCOL.md), and a field must
 * have its type's JSON kind, in nested objects and in every element of a
 * list as well (an order of order.batch):
 *   STR a string; INT, NUM a number; BOOL true or false; DEC, OID a number
 *   or a string; OBJ an object; LIST an array of objects; PAIRS an array of
 *   [number, number]; STRS an array of strings; MAP an object of numbers;
 *   null only where the field may be null.
 * Only the kind: values (a qty of 1.5 or 0, a price off the tick, a string
 * too long, an order id that is not a number, a missing field) are left to
 * the handlers, which answer them with their own codes (BAD_QTY, BAD_PRICE,
 * UNKNOWN_ORDER...), as before. The top-level "key" is a field of every row
 * but its kind is not checked either: a missing, mistyped or wrong key is
 * the access guard's, UNAUTHORIZED with one message (proto/README.md).
 * @param why   receives the reason, naming the field with its path, e.g.
 *              unknown field "tiff", field "depth" must be an integer,
 *              field "orders[2].qty" must be an integer, unknown field
 *              "orders[0].op"; valid UTF-8 (a long name is cut with "...");
 *              CH_PROTO_WHY_MAX bytes are always enough.
 * @return CH_OK; CH_EBADREQ (@p why says which field); CH_EUNKNOWN_OP if
 *         @p m is NULL. Reads only; O(members x row fields).
 */
ch_err ch_msg_check_json(const ch_msg *m, const cJSON *req, char *why, size_t cap);

/**
 * Encode request @p req (a JSON object; fields not in the table are left
 * out) as message @p m with @p id. @return an owned buffer (free()) of
 * @p len bytes, or NULL if a field has the wrong type or bound, a required
 * one is missing, or memory ran out.
 */
uint8_t *ch_msg_bin_encode_request(const ch_msg *m, uint64_t id, const cJSON *req, size_t *len);

/**
 * Decode a binary request. @return CH_OK with @p m, @p id and @p req (owned:
 * cJSON_Delete; the fields as JSON would carry them, "op" included), or
 * CH_EBADREQ (not binary, version, unknown code, truncated, trailing bytes,
 * a bound or a required field) with @p id set if the header was readable.
 */
ch_err ch_msg_bin_decode_request(const uint8_t *buf, size_t len, const ch_msg **m, uint64_t *id,
                                 cJSON **req);

/**
 * Encode the reply to @p m: @p e == CH_OK: the reply fields of @p result
 * ("ok" and "id" are not fields: the header carries them); else error
 * @p e with @p message. @return owned (free()) or NULL as for requests.
 */
uint8_t *ch_msg_bin_encode_reply(const ch_msg *m, uint64_t id, ch_err e, const char *message,
                                 const cJSON *result, size_t *len);

/**
 * Decode a binary reply. @return CH_OK with @p m (NULL for an error reply
 * under a code outside the table, e.g. the compact batch's), @p id, the request's
 * error in @p e and then @p message (owned, free(); NULL when ok) or the
 * result fields in @p result (owned, cJSON_Delete; NULL on error); or
 * CH_EBADREQ if malformed.
 */
ch_err ch_msg_bin_decode_reply(const uint8_t *buf, size_t len, const ch_msg **m, uint64_t *id,
                               ch_err *e, char **message, cJSON **result);

#ifdef __cplusplus
}
#endif
#endif
