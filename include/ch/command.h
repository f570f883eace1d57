/*
 * ch/command.h - every input of the engine as a value: encoded to bytes for
 * the command log, decoded and applied on recovery.
 *
 * The engine is deterministic: the same commands, in the same order, give the
 * same state, event for event. So the store logs commands (with the engine
 * configuration), and recovery replays them. The encoding is versioned,
 * little-endian and length-checked: a truncated or foreign record is refused
 * with CH_EBADREQ, never read past its end.
 */
#ifndef CH_COMMAND_H
#define CH_COMMAND_H

#include <stddef.h>
#include <string.h>

#include "ch/api.h"
#include "ch/engine.h"
#include "ch/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_COMMAND_VERSION 1
/* CH_COMMAND_MAX_MARKS, CH_CLIENT_ORDER_ID_MAX: ch/limits.h */

typedef enum ch_command_type {
    CH_C_UNDERLYING = 1,
    CH_C_LIST = 2,
    CH_C_MARKET = 3,
    CH_C_ADVANCE = 4,
    CH_C_ACCOUNT_OPEN = 5,
    CH_C_DEPOSIT = 6,
    CH_C_SUBMIT = 7,
    CH_C_CANCEL = 8,
    CH_C_REPLACE = 9,
    CH_C_POOL_DEPOSIT = 10,
    CH_C_POOL_WITHDRAW = 11,
    CH_C_HEDGE = 12, /**< a hedge fill booked (the hedge book; the engine keeps the position) */
    CH_C_HEDGE_SENT = 13,       /**< a hedge order handed to an external venue (id, qty, mark) */
    CH_C_HEDGE_REPORT = 14,     /**< the venue's answer to it: a fill, or a final rejection */
    CH_C_TRANCHE_ADD = 15,      /**< a strike tranche (tranche_spec) */
    CH_C_TRANCHE_DEPOSIT = 16,  /**< account, tranche, amount (cash) */
    CH_C_TRANCHE_WITHDRAW = 17, /**< account, tranche, amount (shares) */
    CH_C_OPTION_HEDGE = 18,     /**< an option hedge filled at the venue (option_hedge) */
    CH_C_OPTION_SENT = 19,      /**< an option order handed to an external venue */
    CH_C_OPTION_REPORT = 20,    /**< the venue's answer to it: a fill, or a final rejection */
    CH_C_TRANSFER_OUT = 21, /**< cash leaves for another shard: account, amount, transfer.shard */
    CH_C_TRANSFER_IN = 22,  /**< cash from another shard: account, amount, transfer.shard (the
                                 source), transfer.seq (its message in this shard's
                                 transfer stream) */
    CH_C_TRANSFER_SENT = 23 /**< the credit of the TRANSFER_OUT logged as command
                                 transfer.seq is in the destination's transfer stream */
} ch_command_type;

/** One command. Only the fields of its type are used. */
typedef struct ch_command {
    ch_command_type type;
    ch_underlying_config underlying; /* UNDERLYING */
    struct {                         /* UNDERLYING, optional: its hedge policy (chd's, logged
                                        with the listing; the engine ignores it) */
        bool set;
        ch_hedge_policy_kind kind;
        double band; /* underlying units */
    } und_hedge;
    char symbol[CH_SYMBOL_MAX];     /* LIST */
    ch_time time;                   /* ADVANCE */
    char name[CH_ACCOUNT_NAME_MAX]; /* ACCOUNT_OPEN */
    ch_stp stp;                     /* ACCOUNT_OPEN */
    ch_account_id account;          /* DEPOSIT, CANCEL, REPLACE, POOL_*, TRANCHE_DEPOSIT/WITHDRAW */
    int64_t amount;        /* ACCOUNT_OPEN cash, DEPOSIT, POOL_*, TRANCHE_DEPOSIT/WITHDRAW */
    ch_engine_order order; /* SUBMIT */
    char client_order_id[CH_CLIENT_ORDER_ID_MAX]; /* SUBMIT, optional ("" = none) */
    struct {                                      /* HEDGE, HEDGE_SENT, HEDGE_REPORT */
        uint32_t underlying;
        double qty, price, fee, slippage; /* HEDGE, HEDGE_REPORT (the fill) */
        uint64_t id;                      /* HEDGE_SENT, HEDGE_REPORT: the venue order id */
        double mark;                      /* HEDGE_SENT */
        bool filled;                      /* HEDGE_REPORT: false = rejected, nothing booked */
    } hedge;
    ch_order_id order_id;         /* CANCEL, REPLACE */
    int64_t qty, price;           /* REPLACE */
    ch_tranche_spec tranche_spec; /* TRANCHE_ADD */
    struct {                      /* OPTION_HEDGE, OPTION_SENT, OPTION_REPORT */
        ch_instr_id instr;
        int64_t qty, price, fee; /* contracts (> 0 the house buys), ticks, cash units */
        uint64_t id;             /* SENT, REPORT: the venue order id */
        bool filled;             /* REPORT: false = rejected, nothing booked */
        double mark, vega, index, contract_size; /* SENT: what the venue prices from */
    } option_hedge;
    uint32_t tranche; /* TRANCHE_DEPOSIT, TRANCHE_WITHDRAW */
    struct {          /* TRANSFER_OUT, TRANSFER_IN, TRANSFER_SENT (chd's; the engine moves
                         the cash of OUT and IN, account and amount > 0) */
        char shard[32];
        uint64_t seq;
    } transfer;
    struct { /* MARKET; last, for ch_command_reset() (its marks are 12 KiB) */
        uint32_t underlying;
        double index, rate, funding_rate, perp;
        ch_time time;
        size_t n_marks;
        ch_time expiry[CH_COMMAND_MAX_MARKS];
        double strike[CH_COMMAND_MAX_MARKS];
        double vol[CH_COMMAND_MAX_MARKS];
    } market;
} ch_command;

/**
 * Encode @p c into @p buf (at most @p cap bytes). @return the length, or 0
 * if @p cap is too small or the command is malformed.
 */
CH_API size_t ch_command_encode(const ch_command *c, uint8_t *buf, size_t cap);

/** Decode @p len bytes. @return CH_OK or CH_EBADREQ (version, type, length). */
CH_API ch_err ch_command_decode(const uint8_t *buf, size_t len, ch_command *out);

/** What applying a command returned (for replies). */
typedef struct ch_command_result {
    ch_err err;
    ch_engine_result order; /* SUBMIT, REPLACE */
    ch_instr_id instr;      /* LIST */
    uint32_t underlying;    /* UNDERLYING */
    ch_account_id account;  /* ACCOUNT_OPEN */
    int64_t value;    /* CANCEL: cancelled qty; POOL_*, TRANCHE_DEPOSIT/WITHDRAW: shares or cash */
    uint32_t tranche; /* TRANCHE_ADD: its id */
} ch_command_result;

/** A command of type @p t, every other field zero. */
static inline ch_command ch_command_make(ch_command_type t)
{
    ch_command c;
    memset(&c, 0, sizeof c);
    c.type = t;
    return c;
}

/**
 * Make @p c a command of type @p t in place: every field zero but the
 * market marks (their first market.n_marks are read, and n_marks becomes
 * 0), so that a command made per order costs no 12 KiB memset and copy as
 * ch_command_make()'s would (a third of chd's time on binary batches).
 */
static inline void ch_command_reset(ch_command *c, ch_command_type t)
{
    memset(c, 0, offsetof(ch_command, market.expiry));
    c->type = t;
}

/** Apply @p c to @p e. @return the engine's result code (also in @p res, may be NULL). */
CH_API ch_err ch_command_apply(ch_engine *e, const ch_command *c, ch_command_result *res);

/** Encode / decode a fill record (stored for audits). 0 / CH_EBADREQ on failure. */
CH_API size_t ch_fill_encode(const ch_fill *f, uint8_t *buf, size_t cap);
CH_API ch_err ch_fill_decode(const uint8_t *buf, size_t len, ch_fill *out);

/** Encode / decode an engine configuration (stored with the log). */
CH_API size_t ch_config_encode(const ch_engine_config *cfg, uint8_t *buf, size_t cap);
CH_API ch_err ch_config_decode(const uint8_t *buf, size_t len, ch_engine_config *out);

#ifdef __cplusplus
}
#endif
#endif
