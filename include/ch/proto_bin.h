/*
 * ch/proto_bin.h - the compact binary encoding of order.batch, for
 * high-throughput clients. chd tells it apart from JSON per message: a binary
 * message starts with the bytes 'C' 'H' (a JSON request starts with '{' or
 * white space). Little-endian, versioned, every length checked.
 *
 * Request  (op 1, order.batch):
 *   "CH" u8 version(1) u8 op(1) u64 id  u8 account_len, account bytes
 *   u32 count (1..5000), then per order:
 *     u32 instrument id (the "id" of the instruments reply)
 *     u8 side (0 buy, 1 sell)  u8 type (0 limit, 1 market)
 *     u8 tif (0 gtc, 1 ioc, 2 fok)  u8 flags (bit 0 post-only; any other bit
 *     set makes the batch malformed: BAD_REQUEST)
 *     i64 qty (lots)  i64 price (ticks of the instrument's tick; 0 = none for
 *     a market order)  u8 client_order_id_len, bytes (0 = none)
 * Reply    (op 129):
 *   "CH" u8 version u8 op(129) u64 id  u16 error (0 = ok; else a ch_err of
 *   the whole request, then u16 message_len + bytes and nothing more)
 *   u32 count, then per order:
 *     u16 error (0 = accepted; else the ch_err that rejected this order)
 *     u64 order_id  u8 status (ch_order_status)  i64 filled  i64 remaining
 *     u16 n_fills, then per fill: u64 trade_id  i64 price (ticks)  i64 qty
 *     u8 source (0 book, 1 net, 2 pool)
 * Error codes are ch_err numbers (ch/err.h: stable); ch_errwire() names them.
 */
#ifndef CH_PROTO_BIN_H
#define CH_PROTO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/err.h"
#include "ch/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_BIN_VERSION        1
#define CH_BIN_OP_BATCH       1
#define CH_BIN_OP_BATCH_REPLY 129
#define CH_BIN_MAX_ORDERS     5000
#define CH_BIN_MAX_FILLS      64 /* per order in a reply; more are counted, not listed */

#define CH_BIN_FLAG_POST_ONLY 0x01 /**< the only defined order flag */

typedef struct ch_bin_order {
    uint32_t instr;
    uint8_t side, type, tif, flags; /**< flags: CH_BIN_FLAG_* only */
    int64_t qty, price;
    char client_order_id[CH_CLIENT_ORDER_ID_MAX];
} ch_bin_order;

typedef struct ch_bin_batch {
    uint64_t id;
    char account[CH_ACCOUNT_NAME_MAX];
    uint32_t count;
    ch_bin_order *orders; /* caller's array of CH_BIN_MAX_ORDERS */
} ch_bin_batch;

typedef struct ch_bin_fill {
    uint64_t trade_id;
    int64_t price, qty;
    uint8_t source;
} ch_bin_fill;

typedef struct ch_bin_result {
    uint16_t error;
    uint64_t order_id;
    uint8_t status;
    int64_t filled, remaining;
    uint16_t n_fills;
    ch_bin_fill fills[CH_BIN_MAX_FILLS];
} ch_bin_result;

/** True if @p buf holds a binary message (starts with "CH"). */
bool ch_bin_is_binary(const void *buf, size_t len);

/** Encode a batch request. @return the length, or 0 if @p cap is too small or it is malformed. */
size_t ch_bin_batch_encode(const ch_bin_batch *b, uint8_t *buf, size_t cap);

/** Decode a batch request into @p out (its `orders` must hold CH_BIN_MAX_ORDERS). */
ch_err ch_bin_batch_decode(const uint8_t *buf, size_t len, ch_bin_batch *out);

/** Reply writer: begin, add each order's result, end. */
typedef struct ch_bin_writer {
    uint8_t *buf;
    size_t n, cap;
    size_t count_at;
    uint32_t count;
    bool bad;
} ch_bin_writer;

void ch_bin_reply_begin(ch_bin_writer *w, uint8_t *buf, size_t cap, uint64_t id);
void ch_bin_reply_add(ch_bin_writer *w, const ch_bin_result *r);
/** @return the reply's length, or 0 if it did not fit. */
size_t ch_bin_reply_end(ch_bin_writer *w);
/** A whole-request error reply. */
size_t ch_bin_reply_error(uint8_t *buf, size_t cap, uint64_t id, ch_err e, const char *message);

/**
 * Decode a reply: @p results (room for @p max) receives the per-order results.
 * @return CH_OK (count in @p count, request error in @p error) or CH_EBADREQ.
 */
ch_err ch_bin_reply_decode(const uint8_t *buf, size_t len, uint64_t *id, uint16_t *error,
                           ch_bin_result *results, uint32_t max, uint32_t *count);

#ifdef __cplusplus
}
#endif
#endif
