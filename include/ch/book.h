/*
 * ch/book.h - limit order books with price-time priority (direct liquidity).
 *
 * One ch_book holds the books of many instruments. It is the matching core:
 * it depends on nothing but libc, does no I/O, reads no clock, never logs and
 * never allocates after ch_book_add_instrument(). Every mutating call is a
 * command: it gets the next command sequence number and reports what happened
 * as events, each with its own event sequence number, through the callback
 * given at creation. Events of one command are delivered synchronously, in
 * order, before the call returns.
 *
 * Units: prices are integer ticks, quantities integer lots (contracts). The
 * price band [min_price, max_price] of an instrument is fixed when it is added.
 *
 * Matching rule (direct liquidity only; netting and the pool come from the
 * layer above, which uses ch_book_best()/ch_book_take()):
 *  - an incoming buy trades with resting sells whose price <= its limit, best
 *    price first, then oldest first; fills are at the resting order's price;
 *  - limit GTC: the remainder rests; IOC: the remainder is cancelled; FOK: if
 *    the whole quantity cannot trade now, the order is rejected (CH_EFOK) and
 *    nothing changes; market: IOC with a protection price (the band edge when
 *    the caller gives none); post-only: rejected (CH_EPOST_ONLY) if any part
 *    would trade, otherwise rests;
 *  - self-trade prevention, taken from the incoming order (the account's
 *    setting, supplied by the caller): when the incoming order meets a
 *    resting order of the same account, CH_STP_CANCEL_INCOMING cancels the
 *    incoming remainder (reason CH_ESELF_TRADE) and stops; CH_STP_CANCEL_RESTING
 *    cancels that resting order and goes on; CH_STP_CANCEL_BOTH does both and
 *    stops. Fills before that point stand.
 *  - replace: the new quantity is the new *open* quantity. Same price and a
 *    smaller (or equal) quantity keeps time priority; a larger quantity or a
 *    new price loses it; a new price that crosses trades like an incoming
 *    limit order with the order's own STP mode (post-only orders are refused
 *    with CH_EPOST_ONLY instead).
 *
 * Capacity: `max_orders` order slots are shared by all instruments; every
 * order being processed holds one (IOC/FOK/market orders only during the
 * call). Each side of each book holds at most `max_levels` price levels.
 * Running out of either is a reject with CH_ECAPACITY that changes nothing.
 *
 * Thread safety: none. A ch_book is used by one thread at a time.
 */
#ifndef CH_BOOK_H
#define CH_BOOK_H

#include <stddef.h>

#include "ch/api.h"
#include "ch/err.h"
#include "ch/limits.h"
#include "ch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CH_QTY_MAX (lots of one order) and CH_PRICE_MAX (ticks): ch/limits.h */

typedef enum ch_ord_type { CH_ORD_LIMIT = 0, CH_ORD_MARKET = 1 } ch_ord_type;

typedef enum ch_tif { CH_TIF_GTC = 0, CH_TIF_IOC = 1, CH_TIF_FOK = 2 } ch_tif;

/** Self-trade prevention mode; the zero value is the default. */
typedef enum ch_stp {
    CH_STP_CANCEL_INCOMING = 0,
    CH_STP_CANCEL_RESTING = 1,
    CH_STP_CANCEL_BOTH = 2
} ch_stp;

/** A new order. Zero-initialise, then set the fields. */
typedef struct ch_order_req {
    ch_instr_id instr;
    ch_account_id account;
    ch_side side;
    ch_ord_type type;
    ch_tif tif; /**< ignored for market orders unless CH_TIF_FOK */
    ch_stp stp;
    bool post_only; /**< limit GTC only */
    int64_t price;  /**< limit price in ticks; for market orders the protection
                         price, 0 = none (the band edge) */
    int64_t qty;    /**< lots, 1..CH_QTY_MAX */
    uint64_t user;  /**< opaque to the book, echoed in this order's events */
} ch_order_req;

typedef enum ch_event_type {
    CH_EV_ACK = 1,     /**< order accepted, id assigned (before any fill) */
    CH_EV_FILL = 2,    /**< a trade: taker = `order`, maker = `maker` */
    CH_EV_CANCEL = 3,  /**< an order's open quantity left the book */
    CH_EV_REJECT = 4,  /**< a command refused; nothing changed */
    CH_EV_REPLACE = 5, /**< a resting order's price/quantity changed */
    CH_EV_REST = 6     /**< the incoming order's remainder now rests */
} ch_event_type;

/** Why a command was issued (in every event). */
typedef enum ch_cmd {
    CH_CMD_SUBMIT = 1,
    CH_CMD_CANCEL = 2,
    CH_CMD_REPLACE = 3,
    CH_CMD_CLOSE = 4, /**< ch_book_close_instrument() */
    CH_CMD_TAKE = 5   /**< ch_book_take() */
} ch_cmd;

/**
 * One event. Fields not listed for a type are zero.
 *  ACK:     order, account, instr, side, price (limit/protection), qty, user.
 *  FILL:    order/account/user = taker (0 for ch_book_take), maker/maker_account/
 *           maker_user, price (the maker's), qty (traded), remaining (taker open
 *           qty after it), maker_remaining, trade_id (1, 2, ... per book).
 *  CANCEL:  order, account, price, qty (cancelled), reason (CH_OK for a cancel
 *           request or an unfilled IOC/market remainder, CH_ESELF_TRADE,
 *           CH_EEXPIRED for ch_book_close_instrument()).
 *  REJECT:  reason; for submit the request's fields (order = 0); for cancel
 *           and replace the target order id.
 *  REPLACE: order, price (new), qty (new open qty), remaining (= qty).
 *  REST:    order, price, remaining (open qty now on the book).
 */
typedef struct ch_event {
    ch_event_type type;
    ch_cmd cmd;
    ch_err reason;
    ch_side side;
    uint64_t seq;     /**< event sequence number, 1, 2, ... */
    uint64_t cmd_seq; /**< command sequence number, 1, 2, ... */
    ch_instr_id instr;
    ch_account_id account;
    ch_order_id order;
    int64_t price;
    int64_t qty;
    int64_t remaining;
    uint64_t user;
    ch_order_id maker;
    ch_account_id maker_account;
    int64_t maker_remaining;
    uint64_t maker_user;
    uint64_t trade_id;
} ch_event;

/** Event callback: @p ev is borrowed, valid only during the call. */
typedef void (*ch_event_fn)(void *ctx, const ch_event *ev);

/**
 * How a side finds its price levels (ch_book_config.level_index).
 *  - CH_LEVELS_AUTO (0, the default): price-indexed when the instrument's
 *    band has at most max_levels ticks (the memory a side reserves for its
 *    levels anyway), sorted otherwise;
 *  - CH_LEVELS_SORTED: a sorted array of the levels that hold orders, best
 *    last, with a hint that finds a level without a search (a wide band of
 *    few levels: chd's series);
 *  - CH_LEVELS_PRICE: one level per tick of the band, found by its price:
 *    no search and no move when a level opens or closes; a bit a tick marks
 *    the levels that hold orders, so walks skip empty ticks 64 at a time
 *    (bands of at most CH_LEVELS_PRICE_MAX ticks; ch_book_add_instrument()
 *    refuses wider ones with CH_EBADCONFIG).
 * Behaviour is the same in every mode, max_levels included; only speed and
 * memory differ. Price-indexed sides are faster where the levels stay put
 * (a deep book: no insert moves the others) and slower where the price
 * travels over many books (each move touches levels no cache holds yet).
 * bench_book's regimes measure both.
 */
typedef enum ch_level_index {
    CH_LEVELS_AUTO = 0,
    CH_LEVELS_SORTED = 1,
    CH_LEVELS_PRICE = 2
} ch_level_index;

#define CH_LEVELS_PRICE_MAX (1u << 22) /* ticks of a price-indexed band (128 MiB a side) */

typedef struct ch_book_config {
    uint32_t max_instruments;   /**< instrument ids are 0 .. max_instruments-1 */
    uint32_t max_orders;        /**< order slots, all instruments together */
    uint32_t max_levels;        /**< price levels per side per instrument */
    ch_event_fn on_event;       /**< may be NULL (events dropped) */
    void *ctx;                  /**< passed to on_event */
    ch_level_index level_index; /**< CH_LEVELS_AUTO unless set */
} ch_book_config;

typedef struct ch_book ch_book;

/**
 * Create the books. Memory for the order pool is allocated here; each
 * instrument's level arrays in ch_book_add_instrument().
 * @return owned (ch_book_destroy()); NULL if a size is 0 or too large
 *         (max_orders < 2^31, max_instruments < 2^24, max_levels < 2^24)
 *         or memory is short.
 */
CH_API ch_book *ch_book_create(const ch_book_config *cfg);

/** Free everything; NULL is a no-op. */
CH_API void ch_book_destroy(ch_book *b);

/** Replace the event callback. */
CH_API void ch_book_set_sink(ch_book *b, ch_event_fn on_event, void *ctx);

/** Every event type, for ch_book_set_event_mask(). */
#define CH_EV_ALL UINT32_MAX

/**
 * Deliver to the callback only the events whose bit `1u << type` is set in
 * @p mask (CH_EV_ALL, the default, delivers all). Commands and event
 * sequence numbers are the same either way: a filtered event still takes its
 * number. For a caller that needs, say, only fills and cancels.
 */
CH_API void ch_book_set_event_mask(ch_book *b, uint32_t mask);

/**
 * Open the book of instrument @p id with price band [min_price, max_price].
 * Its sides' levels are allocated here: max_levels levels a side when
 * sorted, one a tick of the band when price-indexed (32 bytes a level; see
 * ch_level_index).
 * @return CH_OK; CH_ERANGE (id >= max_instruments); CH_EEXISTS; CH_EBADCONFIG
 *         (band not within 1..CH_PRICE_MAX, or wider than CH_LEVELS_PRICE_MAX
 *         ticks with CH_LEVELS_PRICE); CH_ENOMEM.
 */
CH_API ch_err ch_book_add_instrument(ch_book *b, ch_instr_id id, int64_t min_price,
                                     int64_t max_price);

/** Result of submit/replace. */
typedef enum ch_order_status {
    CH_STATUS_NEW = 0,              /**< resting, nothing filled */
    CH_STATUS_PARTIALLY_FILLED = 1, /**< resting, some filled */
    CH_STATUS_FILLED = 2,
    CH_STATUS_CANCELLED = 3, /**< done with an unfilled remainder */
    CH_STATUS_REJECTED = 4
} ch_order_status;

typedef struct ch_order_result {
    ch_order_id id;
    ch_order_status status;
    int64_t filled;    /**< lots traded by this command */
    int64_t remaining; /**< open lots resting on the book afterwards */
    int64_t cancelled; /**< lots cancelled by this command */
} ch_order_result;

/**
 * Submit a new order.
 * @param res  may be NULL; written on success and on reject.
 * @return CH_OK (the order was accepted; it may be filled, resting or
 *         cancelled: see res->status) or the reject reason, with a REJECT
 *         event and no state change: CH_EUNKNOWN_SYMBOL (no such book),
 *         CH_EEXPIRED (book closed), CH_EBADSIDE, CH_EBADTYPE (unknown type,
 *         tif or stp, post-only not on a GTC limit), CH_EBADQTY (not in
 *         1..CH_QTY_MAX), CH_EBADPRICE (limit outside the band or <= 0),
 *         CH_EPOST_ONLY, CH_EFOK, CH_ECAPACITY.
 */
CH_API ch_err ch_book_submit(ch_book *b, const ch_order_req *req, ch_order_result *res);

/**
 * Cancel a resting order of @p account.
 * @param cancelled  may be NULL; receives the open quantity cancelled.
 * @return CH_OK with a CANCEL event; CH_EUNKNOWN_ORDER (no such open order:
 *         never existed, filled, cancelled); CH_ENOT_OWNER. Rejects emit a
 *         REJECT event and change nothing.
 */
CH_API ch_err ch_book_cancel(ch_book *b, ch_account_id account, ch_order_id id, int64_t *cancelled);

/**
 * Replace a resting order: @p new_qty (0 = unchanged) is the new open
 * quantity, @p new_price (0 = unchanged) the new limit.
 * @return CH_OK (REPLACE event, then fills and REST/CANCEL as for a submit);
 *         CH_EUNKNOWN_ORDER, CH_ENOT_OWNER, CH_EBADQTY, CH_EBADPRICE,
 *         CH_EINVAL (neither given), CH_EPOST_ONLY, CH_ECAPACITY, with a
 *         REJECT event and no change.
 */
CH_API ch_err ch_book_replace(ch_book *b, ch_account_id account, ch_order_id id, int64_t new_qty,
                              int64_t new_price, ch_order_result *res);

/**
 * Close instrument @p id (expiry or delisting): every resting order is
 * cancelled (CANCEL events, reason CH_EEXPIRED) and later submits are refused
 * with CH_EEXPIRED. @return CH_OK or CH_EUNKNOWN_SYMBOL.
 */
CH_API ch_err ch_book_close_instrument(ch_book *b, ch_instr_id id);

/**
 * A hint: start loading the book of @p id and the best levels of both sides
 * into the cache, for a caller that will match or rest there shortly and has
 * other work to do first. No effect on state; ignores an unknown id.
 */
CH_API void ch_book_prefetch(const ch_book *b, ch_instr_id id);

/**
 * Best resting price and the total quantity at it on @p side of @p id.
 * @return CH_OK or CH_ENOTFOUND (side empty or no such book).
 */
CH_API ch_err ch_book_best(const ch_book *b, ch_instr_id id, ch_side side, int64_t *price,
                           int64_t *qty);

/**
 * Trade up to @p qty lots against the resting orders on @p side of @p id
 * whose price is no worse than @p limit (for the taker), for a taker that is
 * not an order of this book (the netting layer). Self-trade prevention: resting
 * orders of @p account are skipped. FILL events have order = 0.
 * @param filled  receives the lots traded (may be 0).
 * @return CH_OK; CH_EUNKNOWN_SYMBOL; CH_EEXPIRED; CH_EBADQTY.
 */
CH_API ch_err ch_book_take(ch_book *b, ch_instr_id id, ch_side side, int64_t limit, int64_t qty,
                           ch_account_id account, int64_t *filled);

/*
 * Split submit, for the matching layer that interleaves other liquidity
 * (parity netting, the pool) with this book. ch_book_submit() is exactly
 * open + match_open(limit, all) + close, plus its up-front FOK, post-only
 * and capacity rejects, which the split form leaves to the caller.
 */

/**
 * Validate and accept @p req without trading: its slot is taken and an ACK
 * emitted. The order stays open (not on the book) until ch_book_close_order()
 * in the same command. @return as ch_book_submit() without CH_EPOST_ONLY,
 * CH_EFOK or the level-capacity reject.
 */
CH_API ch_err ch_book_open_order(ch_book *b, const ch_order_req *req, ch_order_id *id);

/**
 * Match the open order @p id against its own book, up to @p limit (clamped
 * to the order's own limit) and at most @p max_qty lots, with its self-trade
 * prevention. @p filled receives the lots traded, @p stopped whether STP
 * stopped it (the remainder will then be cancelled by close).
 * @return CH_OK or CH_EUNKNOWN_ORDER (not an open order).
 */
CH_API ch_err ch_book_match_open(ch_book *b, ch_order_id id, int64_t limit, int64_t max_qty,
                                 int64_t *filled, bool *stopped);

/**
 * Record @p qty lots of the open order as filled elsewhere (no event: the
 * caller reports that fill). @return CH_OK, CH_EUNKNOWN_ORDER, CH_EBADQTY
 * (more than what is left).
 */
CH_API ch_err ch_book_fill_open(ch_book *b, ch_order_id id, int64_t qty);

/** Open quantity left of the open order @p id (0 if none). */
CH_API int64_t ch_book_open_remaining(const ch_book *b, ch_order_id id);

/**
 * Finish the open order: a GTC limit remainder rests (REST event) unless STP
 * stopped it or its price level cannot be created (CANCEL with reason
 * CH_ECAPACITY); any other remainder is cancelled. @p res as for submit,
 * with `filled` counting book and external fills. @return CH_OK or
 * CH_EUNKNOWN_ORDER.
 */
CH_API ch_err ch_book_close_order(ch_book *b, ch_order_id id, ch_order_result *res);

/**
 * Read-only: how many of @p want lots a taker (@p taker_side, @p limit,
 * @p account, @p stp) would trade against @p id's book now; with @p skip_own
 * the account's own orders are passed over (as ch_book_take() does).
 * @p stp_stop (may be NULL) tells whether the walk stops at a self-trade.
 */
CH_API int64_t ch_book_fillable(const ch_book *b, ch_instr_id id, ch_side taker_side, int64_t limit,
                                ch_account_id account, ch_stp stp, bool skip_own, int64_t want,
                                bool *stp_stop);

/**
 * Best price level on @p side of @p id holding an order of an account other
 * than @p account, and the level's total quantity (an upper bound of what
 * others offer there: own orders are not subtracted, to keep this O(1) in
 * the common case). @return CH_OK or CH_ENOTFOUND.
 */
CH_API ch_err ch_book_best_other(const ch_book *b, ch_instr_id id, ch_side side,
                                 ch_account_id account, int64_t *price, int64_t *qty);

/** One aggregated price level. */
typedef struct ch_level {
    int64_t price;
    int64_t qty;
    uint32_t orders;
} ch_level;

/**
 * Copy up to @p max levels of @p side, best first, into @p out.
 * @return the number copied (0 for an unknown book).
 */
CH_API size_t ch_book_depth(const ch_book *b, ch_instr_id id, ch_side side, ch_level *out,
                            size_t max);

/** A resting order as seen from outside. */
typedef struct ch_order_info {
    ch_order_id id;
    ch_instr_id instr;
    ch_account_id account;
    ch_side side;
    ch_stp stp;
    bool post_only;
    int64_t price;
    int64_t remaining; /**< open lots */
    int64_t filled;    /**< lots traded since it was accepted */
    uint64_t priority; /**< command sequence at which it took its place in the queue */
    uint64_t user;
} ch_order_info;

/** Look up a resting order. @return CH_OK or CH_EUNKNOWN_ORDER. */
CH_API ch_err ch_book_order(const ch_book *b, ch_order_id id, ch_order_info *out);

/**
 * Change the opaque `user` word of a live order (resting, or the order opened
 * by ch_book_open_order and not yet closed), e.g. to cache what the owner
 * resolved on its first fill. Allowed from inside an event callback: events
 * emitted afterwards carry the new value. @return CH_OK or CH_EUNKNOWN_ORDER.
 */
CH_API ch_err ch_book_set_user(ch_book *b, ch_order_id id, uint64_t user);

/**
 * Call @p fn for every resting order of @p id's @p side, best price first,
 * then time priority. @p fn must not modify the book.
 */
CH_API void ch_book_foreach(const ch_book *b, ch_instr_id id, ch_side side,
                            void (*fn)(void *ctx, const ch_order_info *o), void *ctx);

typedef struct ch_book_stats {
    uint64_t commands;    /**< last command sequence number */
    uint64_t events;      /**< last event sequence number */
    uint64_t trades;      /**< fills, all books */
    uint32_t open_orders; /**< resting orders, all books */
    uint32_t free_orders; /**< free order slots */
} ch_book_stats;

CH_API void ch_book_get_stats(const ch_book *b, ch_book_stats *out);

/**
 * Integrity check of every structure (levels sorted and non-crossed unless
 * allowed, level totals, FIFO links, slot accounting, free list). Meant for
 * tests, after every operation. @return CH_OK or CH_EINVAL with no change.
 */
CH_API ch_err ch_book_check(const ch_book *b);

/** Names for display: "buy"/"sell", "new"/"partially_filled"/... */
CH_API const char *ch_side_name(ch_side s);
CH_API const char *ch_status_name(ch_order_status s);

#ifdef __cplusplus
}
#endif
#endif
