/*
 * ch/engine.h - the clearinghouse core: one entry point for orders that fills
 * them from three sources of liquidity, clears every trade through the house
 * (novation), keeps accounts, positions, the pool and its LP shares, prices
 * the residual inventory and settles expiries.
 *
 * Pure like the rest of the core: no I/O, no clock (time arrives with
 * ch_engine_market() / ch_engine_advance()), no logging. One thread.
 *
 * Matching rule. An order for option X (expiry E, strike K) is filled, lot
 * range by lot range, from the best effective price for the taker among
 *   1. BOOK  resting orders on X's own book (price-time; the book's self-trade
 *            prevention applies);
 *   2. NET   resting orders of the opposite gamma sign on X's sibling (same E
 *            and K, other type): a buy call takes a resting sell put, a sell
 *            call a resting buy put, and vice versa. The resting order trades
 *            at its own price; the taker's price is the parity translation
 *            C = P + D(F - K), D(F - K) = S e^{-qT} - K e^{-rT}, rounded in the
 *            house's favour (up for a taker buy, down for a sell) plus
 *            (minus) the netting fee. The house ends short the call and long
 *            the put (or the reverse): a forward, zero gamma and vega, whose
 *            delta goes to the hedge book. The taker's own sibling orders are
 *            passed over;
 *   3. POOL  the liquidity pool's quote: model value at the marked smile
 *            ± (base half-spread + inventory premium), within its risk
 *            limits (see ch_pool_config).
 * Ties go in that order. The unfilled part of a GTC limit order rests on X's
 * book; of IOC and market orders it is cancelled; a FOK order that the three
 * sources together cannot fill now is rejected and nothing changes; a
 * post-only order that any source would fill is rejected.
 *
 * Money. Cash is integer, in micro-units of the quote currency (1e-6 USD);
 * prices are ticks of the underlying; one contract's premium is its price
 * (not scaled by the contract size); settlement pays
 * contract_size × max(S - K, 0) (call) per contract, floored to a micro-unit.
 * Every transfer has two sides; fees go to the `fees` account; the house
 * (`house`), the pool (`pool`) and the fee account are accounts 0, 1, 2.
 *
 * Pre-trade checks. A buyer must have cash, net of what its resting buy
 * orders reserve, for limit × qty plus the largest possible taker fee; that
 * amount is reserved while the order rests. A seller must have equity (cash -
 * reserved + positions marked to the smile) covering the worst scenario loss
 * of its positions, its resting sell orders and the new order (the risk
 * core's grid), taken per underlying and summed: the grid moves one
 * underlying at a time, so a long BTC call never offsets a short ETH call
 * (no correlation between underlyings is assumed, none can be configured).
 * Failures: CH_EFUNDS, CH_EMARGIN; nothing changes. The house,
 * pool and fee accounts cannot place orders.
 */
#ifndef CH_ENGINE_H
#define CH_ENGINE_H

#include <stddef.h>

#include "ch/api.h"
#include "ch/book.h"
#include "ch/err.h"
#include "ch/hedge.h"
#include "ch/instrument.h"
#include "ch/limits.h"
#include "ch/risk.h"
#include "ch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Cash is counted in these units of the quote currency. */
#define CH_CASH_SCALE INT64_C(1000000)
/* CH_ACCOUNT_NAME_MAX: ch/limits.h */

enum { CH_ACCOUNT_HOUSE = 0, CH_ACCOUNT_POOL = 1, CH_ACCOUNT_FEES = 2 };

typedef enum ch_source { CH_SRC_BOOK = 0, CH_SRC_NET = 1, CH_SRC_POOL = 2 } ch_source;

/**
 * The pool's quote for a customer trade of n contracts of option j, with
 * mid_j, vega_j, gamma_j per contract at the marked smile, and the pool's net
 * vega V and gamma G in total and at j's (expiry, strike) after the midpoint
 * of the trade (Δq = -n for a customer buy, +n for a sell):
 *   premium = sign(Δq) · vega_j · [ pv_t (V_t + Δq vega_j/2) / Vmax_t
 *                                  + pg_t (G_t + Δq gamma_j/2) / Gmax_t
 *                                  + pv_k (V_k + Δq vega_j/2) / Vmax_k
 *                                  + pg_k (G_k + Δq gamma_j/2) / Gmax_k ]
 * clamped to ± max_skew_vol · vega_j; buy = mid + half_spread_vol·vega + premium,
 * sell = mid - half_spread_vol·vega - premium, rounded to the tick in the
 * pool's favour. So a trade that adds to the pool's exposure pays a premium
 * growing with what it adds (pv_t is the extra vol charged when total vega
 * sits at its limit), a trade that reduces it gets the premium as a rebate,
 * and with every parameter 0 the pool quotes the model. The pool refuses the
 * part of a trade that would take |V_t|, |G_t|, |V_k|, |G_k| or its notional
 * (Σ|position| × contract size × spot) beyond the limits, unless that
 * measure shrinks; it never buys more than its cash pays for.
 */
typedef struct ch_pool_config {
    bool enabled;
    double half_spread_vol;        /**< 0.01 = one vol point */
    double pv_t, pg_t, pv_k, pg_k; /**< vol charged at each limit */
    double max_skew_vol;           /**< clamp of the premium, in vol */
    double max_vega_total;         /**< Vmax_t, quote ccy per 1.00 vol */
    double max_gamma_total;        /**< Gmax_t, underlying units per unit spot */
    double max_vega_strike;        /**< Vmax_k */
    double max_gamma_strike;       /**< Gmax_k */
    double max_notional;           /**< quote ccy */
    bool no_limits; /**< price with the limits as scales but never refuse for them (the
                         simulator's AMM: takes every trade; cash is still checked) */
} ch_pool_config;

typedef struct ch_engine_config {
    uint32_t max_instruments; /**< listed series, all underlyings */
    uint32_t max_underlyings;
    uint32_t max_orders;    /**< resting orders */
    uint32_t max_levels;    /**< price levels per side per book */
    uint32_t max_accounts;  /**< including house, pool, fees */
    uint32_t max_positions; /**< (account, instrument) records; an order is admitted only
                                 while records + resting orders + 1 fit (each may
                                 need one on its first fill) */
    /* max_accounts x max_instruments must not exceed 2^28: positions are
     * indexed by a dense table of that many 4-byte entries */
    bool netting;              /**< parity netting on (the default) */
    int64_t netting_fee_ticks; /**< added to the taker's parity price */
    double taker_fee_bps;      /**< of index × contract size, per contract */
    double fee_cap;            /**< taker fee at most this share of the premium */
    ch_pool_config pool;
    ch_scenario_config scenarios;
    /* risk-aware internal netting (DESIGN section 4): a parity fill is chosen
     * and priced by its marginal hedge cost on the house's whole book (pool
     * options + parity forwards + the perp hedge, per underlying;
     * ch/hedge_cost.h), its forward taken from the perp; off: on price and
     * netting_fee_ticks alone, the forward from spot and the rate */
    bool risk_aware;
    double hedge_fee_bps;       /**< the hedge venue's taker fee, bps of notional */
    double hedge_impact_bps;    /**< impact of a typical hedge order, bps of notional */
    double house_delta_limit;   /**< |unhedged delta| of the house per underlying, in
                                     underlying units, that parity fills may not pass; 0: none */
    double funding_half_life_h; /**< half-life of the expected-funding average, hours */
    bool forward_funding;       /**< the parity forward projects the expected funding to
                                     expiry (index x (1 + f_T) + basis); off (default): index +
                                     basis, as the marks price options. chsim measured the
                                     projection losing (DESIGN section 4) */
} ch_engine_config;

/**
 * Defaults: 1024 series, 8 underlyings, 1M orders, 256 levels, 4096
 * accounts, 1M positions; netting on with a 1-tick fee; taker fee 3 bps
 * capped at 12.5 % of the premium; the pool on with a 1 vol point
 * half-spread, 2 vol points charged at the total vega / strike gamma limits
 * and 1 at the others, premium clamped to 5 vol points, limits 2M vega, 50
 * gamma, 500k vega and 10 gamma per strike, 100M notional; the risk core's
 * default scenarios; risk-aware netting off (opt-in), with a 5 bps venue fee, 1 bp of
 * impact, no house delta limit and a 72-hour funding half-life.
 */
CH_API void ch_engine_defaults(ch_engine_config *cfg);

typedef struct ch_engine ch_engine;

/** One fill, as reported to the event callback. */
typedef struct ch_fill {
    uint64_t trade_id;
    ch_source source;
    ch_instr_id instr; /**< the taker's instrument */
    ch_side taker_side;
    int64_t price; /**< the taker's price, ticks */
    int64_t qty;
    ch_account_id taker, maker; /**< maker: resting order's account, or pool */
    ch_order_id taker_order;    /**< the incoming order (0 for none) */
    ch_order_id maker_order;    /**< the resting order (0 for the pool) */
    ch_instr_id maker_instr;    /**< = instr, or the sibling for NET */
    int64_t maker_price;        /**< the resting order's own price */
    int64_t fee;                /**< taker fee, cash units */
    double delta;               /**< the taker's delta change: ±qty x delta per contract,
                                     underlying units (what a trade-by-trade hedger offsets) */
} ch_fill;

typedef enum ch_engine_event_type {
    CH_EE_FILL = 1,   /**< fill */
    CH_EE_ORDER = 2,  /**< book: an order event (ack, cancel, rest, ...) */
    CH_EE_SETTLE = 3, /**< settle: one position cash-settled at expiry */
    CH_EE_MARKET = 4  /**< market data applied */
} ch_engine_event_type;

typedef struct ch_settlement {
    ch_instr_id instr;
    ch_account_id account;
    int64_t qty;    /**< position settled */
    int64_t amount; /**< cash received (negative: paid) */
    double index;   /**< settlement price */
} ch_settlement;

typedef struct ch_engine_event {
    ch_engine_event_type type;
    uint64_t seq; /**< engine command sequence number */
    ch_fill fill;
    const ch_event *book;
    ch_settlement settle;
} ch_engine_event;

typedef void (*ch_engine_event_fn)(void *ctx, const ch_engine_event *ev);

/** @return owned (ch_engine_destroy()) or NULL (bad sizes, no memory). */
CH_API ch_engine *ch_engine_create(const ch_engine_config *cfg);

CH_API void ch_engine_destroy(ch_engine *e);

/**
 * The engine's whole state as bytes (*out malloc'ed, free()): books with
 * time priority and the next order ids, accounts, cash, reservations,
 * positions, margin vectors, pool and tranches with their shares, marks and
 * smiles, hedge books, counters and the command sequence number. Records are
 * written as they are in memory: a snapshot is for the build that wrote it
 * (its version and record layout are in it) and the engine configuration it
 * ran with. @return CH_OK; CH_ENOMEM.
 */
CH_API ch_err ch_engine_snapshot(const ch_engine *e, uint8_t **out, size_t *len);

/**
 * Load a snapshot into @p e, an engine just made by ch_engine_create() with
 * the snapshot's configuration and given no command yet; afterwards it is
 * the engine that wrote the snapshot (the event sink stays @p e's own).
 * @return CH_OK; CH_EBADCONFIG (another build's snapshot or another
 * configuration's: replay the log instead; e unchanged); CH_EBADREQ
 * (damaged: e must be destroyed); CH_EINVAL (@p e is not fresh).
 */
CH_API ch_err ch_engine_restore(ch_engine *e, const uint8_t *buf, size_t len);

/** Event callback (may be NULL); events arrive during the call that causes them. */
CH_API void ch_engine_set_sink(ch_engine *e, ch_engine_event_fn fn, void *ctx);

/** The instrument registry (view, valid until destroy). */
CH_API const ch_instruments *ch_engine_instruments(const ch_engine *e);

/** The order books (view; read-only use: depth, best, order lookups). */
CH_API const ch_book *ch_engine_book(const ch_engine *e);

/**
 * Add an underlying. Its tick must have at most 6 decimals (cash is counted
 * in 1e-6). @return as ch_instruments_add_underlying(), or CH_EBADCONFIG.
 */
CH_API ch_err ch_engine_add_underlying(ch_engine *e, const ch_underlying_config *u,
                                       uint32_t *index);

/**
 * List a series (option or perpetual) at the engine's current time.
 * @return as ch_instruments_add(); also opens its book.
 */
CH_API ch_err ch_engine_list(ch_engine *e, const char *symbol, size_t len, ch_instr_id *id);

/** List the grid expiries × strikes, calls and puts (see ch_instruments_add_grid()). */
CH_API ch_err ch_engine_list_grid(ch_engine *e, uint32_t underlying, const ch_time *expiries,
                                  size_t n_exp, const int64_t *strikes, size_t n_strikes);

/** Market data for one underlying; fields set to NAN / 0 count are left unchanged. */
typedef struct ch_market_update {
    uint32_t underlying;
    double index;        /**< > 0, or NAN */
    double rate;         /**< NAN = unchanged */
    double funding_rate; /**< kept for the hedge book; NAN = unchanged */
    double perp;         /**< perp price; NAN = unchanged */
    ch_time time;        /**< 0 = unchanged; must not go backwards */
    size_t n_marks;      /**< smile marks: per expiry, flat or by strike */
    const ch_time *mark_expiry;
    const double *mark_strike; /**< 0 = a flat vol for the whole expiry */
    const double *mark_vol;
    bool replace_marks; /**< the marks replace the whole smile (expiries not given are
                             dropped), so they are checked against each other only, not
                             against the previous marks (a simulator moving every expiry
                             at once); false: they update the expiries given */
} ch_market_update;

/**
 * Apply market data: the index, rate, clock and smile marks; then settle
 * series that have expired (ch_engine_advance()), and revalue every cached
 * mark, scenario vector, account margin and the inventory.
 * @return CH_OK; CH_EUNKNOWN_UNDERLYING; CH_EINVAL (index not positive, time
 *         going backwards); the smile's errors (CH_EBADVOL, CH_ECALENDAR,
 *         CH_EEXPIRED): marks are all-or-nothing, nothing changes on error.
 */
CH_API ch_err ch_engine_market(ch_engine *e, const ch_market_update *u);

/**
 * Move the clock to @p now (never back) and settle what expired: resting
 * orders cancelled, every position cash-settled at the underlying's index.
 * @return CH_OK or CH_EINVAL (backwards).
 */
CH_API ch_err ch_engine_advance(ch_engine *e, ch_time now);

/** The engine clock. */
CH_API ch_time ch_engine_now(const ch_engine *e);

/* ---- accounts -------------------------------------------------------------- */

/**
 * Open account @p name (1..31 chars of [A-Za-z0-9_.-]) with @p cash (cash
 * units, >= 0, deposited from outside) and self-trade mode @p stp.
 * @return CH_OK; CH_EEXISTS; CH_EINVAL (name, cash); CH_ECAPACITY.
 */
CH_API ch_err ch_engine_account_open(ch_engine *e, const char *name, int64_t cash, ch_stp stp,
                                     ch_account_id *id);

/** Find an account by name. @return CH_OK or CH_ENOTFOUND. */
CH_API ch_err ch_engine_account_find(const ch_engine *e, const char *name, size_t len,
                                     ch_account_id *id);

/** Deposit (> 0) or withdraw (< 0, up to the free cash) from outside. */
CH_API ch_err ch_engine_deposit(ch_engine *e, ch_account_id id, int64_t amount);

typedef struct ch_account_info {
    ch_account_id id;
    char name[CH_ACCOUNT_NAME_MAX];
    ch_stp stp;
    int64_t cash;       /**< cash units */
    int64_t reserved;   /**< held by resting buy orders */
    double equity;      /**< cash - reserved + positions at mark, quote ccy */
    double margin;      /**< worst scenario loss of positions + resting sells, summed over
                             underlyings */
    int64_t shares;     /**< pool shares held */
    uint32_t positions; /**< non-zero positions */
} ch_account_info;

/**
 * An account's state. The margin is exact: for an account far from its
 * limit, whose resting sells the engine holds in a bound rather than in its
 * scenario vector, this walks the sell side of the books where the account
 * has rested sells since the last market update (time in the number of
 * orders there); ch_engine_account_name() is the cheap lookup.
 */
CH_API ch_err ch_engine_account(const ch_engine *e, ch_account_id id, ch_account_info *out);

/** An account's name, or NULL if there is no such account. */
CH_API const char *ch_engine_account_name(const ch_engine *e, ch_account_id id);

typedef struct ch_position_info {
    ch_instr_id instr;
    int64_t qty;      /**< signed contracts */
    double avg_price; /**< quote ccy per contract */
    int64_t realized; /**< cash units */
    double mark;      /**< quote ccy per contract */
    ch_greeks unit;   /**< per contract, contract size applied */
} ch_position_info;

/**
 * Call @p fn for each non-zero position of @p id (instrument order not
 * specified). @return CH_OK or CH_ENOTFOUND.
 */
CH_API ch_err ch_engine_positions(const ch_engine *e, ch_account_id id,
                                  void (*fn)(void *ctx, const ch_position_info *p), void *ctx);

/** Position of @p acct in @p instr (0 if none). */
CH_API int64_t ch_engine_position(const ch_engine *e, ch_account_id acct, ch_instr_id instr);

/* ---- orders ---------------------------------------------------------------- */

typedef struct ch_engine_order {
    ch_account_id account;
    ch_instr_id instr;
    ch_side side;
    ch_ord_type type;
    ch_tif tif;
    bool post_only;
    int64_t price; /**< ticks; protection price for a market order (0 = band edge) */
    int64_t qty;
} ch_engine_order;

typedef struct ch_engine_result {
    ch_order_id id;
    ch_order_status status;
    int64_t filled, remaining, cancelled;
    int64_t by_source[3]; /**< lots filled from book, net, pool */
    uint32_t fills;       /**< fill events emitted */
} ch_engine_result;

/**
 * Submit an order. @return CH_OK (see res->status) or a reject with no state
 * change: the book's validation errors, CH_EUNAUTHORIZED (unknown account or
 * an internal one), CH_EFUNDS, CH_EMARGIN, CH_EPOST_ONLY, CH_EFOK,
 * CH_ECAPACITY, CH_EEXPIRED (the series has expired at the engine clock).
 */
CH_API ch_err ch_engine_submit(ch_engine *e, const ch_engine_order *o, ch_engine_result *res);

/** Cancel a resting order (releases its reservation). Errors as ch_book_cancel(). */
CH_API ch_err ch_engine_cancel(ch_engine *e, ch_account_id acct, ch_order_id id,
                               int64_t *cancelled);

/**
 * Replace a resting order (ch_book_replace() rules: a crossing replace trades
 * with the book only). Buy orders re-reserve; sells are margin-checked on an
 * increase. Errors: those of ch_book_replace(), CH_EFUNDS, CH_EMARGIN.
 */
CH_API ch_err ch_engine_replace(ch_engine *e, ch_account_id acct, ch_order_id id, int64_t qty,
                                int64_t price, ch_engine_result *res);

/** The pool's price for a customer trade now, without trading. */
typedef struct ch_quote {
    int64_t price;     /**< ticks, rounded in the pool's favour */
    double model;      /**< model value per contract at the mark */
    double premium;    /**< half-spread + inventory premium, quote ccy per contract
                            (signed: negative is a rebate beyond the half-spread) */
    double vol;        /**< marked vol */
    int64_t max_qty;   /**< how much of qty the pool would fill (limits, cash) */
    double hedge_cost; /**< the delta term (risk-aware; 0 otherwise): the house's marginal
                            hedge cost of the trade per contract, quote ccy, signed (negative:
                            a rebate, the trade takes delta off the house); in price */
} ch_quote;

/**
 * @return CH_OK; CH_EUNKNOWN_SYMBOL; CH_EEXPIRED; CH_EBADQTY; CH_EBADSIDE;
 *         CH_ENOTFOUND (no smile mark for the series or the pool is off);
 *         CH_ERISK_LIMIT (the pool would fill nothing).
 */
CH_API ch_err ch_engine_quote(const ch_engine *e, ch_instr_id instr, ch_side customer_side,
                              int64_t qty, ch_quote *out);

/* ---- pool shares ----------------------------------------------------------- */

/**
 * LP deposit of @p cash (cash units) for shares at NAV per share (1 share =
 * 1 quote-currency unit for the first deposit). @return CH_OK, CH_EFUNDS,
 * CH_EINVAL, CH_EUNAUTHORIZED.
 */
CH_API ch_err ch_engine_pool_deposit(ch_engine *e, ch_account_id lp, int64_t cash, int64_t *shares);

/**
 * Redeem @p shares at NAV per share (floored). @return CH_OK; CH_EFUNDS (not
 * that many shares, or the pool's cash cannot pay it now); CH_EINVAL.
 */
CH_API ch_err ch_engine_pool_withdraw(ch_engine *e, ch_account_id lp, int64_t shares,
                                      int64_t *cash);

/**
 * The general pool. Its LPs carry the house's risk, so its NAV is the pool
 * account (cash + options at mark) plus the house's value: the house account
 * (the parity forwards: their cash + their value at mark) plus every hedge
 * book (realized + unrealized at the perp mark - fees + funding). With strike
 * tranches, the house's value is shared with them (house_share: the part
 * that is the general pool's; see ch_tranche_info).
 */
typedef struct ch_pool_info {
    int64_t cash;           /**< the pool account's */
    double inventory_value; /**< the pool account's positions at mark */
    double nav;             /**< cash + inventory value + house_share */
    int64_t shares;         /**< outstanding */
    double nav_per_share;
    double house_value; /**< the house account: cash + positions at mark */
    double hedge_value; /**< Σ over underlyings of the hedge book's value */
    double house_share; /**< the general pool's part of house_value + hedge_value (all of it
                         *   without tranches) */
} ch_pool_info;

CH_API void ch_engine_pool(const ch_engine *e, ch_pool_info *out);

/* ---- strike tranches ---------------------------------------------------------
 *
 * LP capital for given strikes (and expiries) of one underlying, beside the
 * general pool. After internal netting, the pool's side of a trade at strike
 * K is taken by the tranches covering K, pro rata to their free capital
 * (capital - worst scenario loss; whole lots by largest remainder), each as
 * far as its capital and cash allow, then by the general pool, which stands
 * behind every pool fill (its cash must cover the whole trade, as without
 * tranches). Each tranche is an internal account ("tranche#N"): its cash and
 * positions are its own, so its NAV moves with its strikes. The house's value
 * (parity forwards and hedges, which exist for the pool side's delta) is
 * shared by contribution: each change of it is given to the general pool and
 * the tranches in proportion to the absolute delta each holds then, except
 * an option hedge's cost (its fee and spread against the mark, at its fill),
 * given in proportion to the absolute vega each holds (all to the general
 * pool when none holds any), so the shares always add up to the whole. The pool's premium at K
 * (half-spread + inventory skew) grows with the utilisation u of the tranches covering K (their
 * worst scenario loss / their capital, as Lyra prices vega utilisation per board): it is multiplied
 * by 1 + CH_TRANCHE_UTIL_PREMIUM x min(u, 1), so thin strikes price risk higher. Without a covering
 * tranche nothing changes.
 */

/* CH_TRANCHES_MAX: ch/limits.h */
#define CH_TRANCHE_UTIL_PREMIUM 1.0

typedef struct ch_tranche_spec {
    uint32_t underlying;
    int64_t strike_lo, strike_hi; /**< inclusive, in the quote currency */
    ch_time expiry_lo, expiry_hi; /**< inclusive; both 0: every expiry */
} ch_tranche_spec;

typedef struct ch_tranche_info {
    uint32_t id; /**< 1.. */
    ch_tranche_spec spec;
    ch_account_id account;  /**< its internal account */
    int64_t cash;           /**< its account's */
    double inventory_value; /**< its positions at mark */
    double house_share;     /**< its part of the house's value */
    double nav;             /**< cash + inventory value + house_share */
    int64_t shares;
    double nav_per_share;
    double worst;       /**< worst scenario loss of its positions */
    double utilisation; /**< worst / (cash + inventory value); 0 without capital */
    double delta;       /**< its positions' delta: its weight in the house's value */
} ch_tranche_info;

/** A tranche. @return CH_OK (its id in @p id); CH_EINVAL (a bad range or
 *  underlying); CH_ECAPACITY (CH_TRANCHES_MAX, or no account left). */
CH_API ch_err ch_engine_tranche_add(ch_engine *e, const ch_tranche_spec *spec, uint32_t *id);
CH_API uint32_t ch_engine_tranche_count(const ch_engine *e);
/** @return CH_OK or CH_ENOTFOUND. */
CH_API ch_err ch_engine_tranche(const ch_engine *e, uint32_t id, ch_tranche_info *out);
/** Deposit into tranche @p id at its NAV per share (as ch_engine_pool_deposit). */
CH_API ch_err ch_engine_tranche_deposit(ch_engine *e, ch_account_id lp, uint32_t id, int64_t cash,
                                        int64_t *shares);
/**
 * Redeem @p shares of tranche @p id at its NAV per share (floored), at most
 * what its open risk leaves free: its cash, and its capital less its worst
 * scenario loss. @return CH_OK; CH_EFUNDS; CH_ENOTFOUND; CH_EINVAL.
 */
CH_API ch_err ch_engine_tranche_withdraw(ch_engine *e, ch_account_id lp, uint32_t id,
                                         int64_t shares, int64_t *cash);
/** The shares of tranche @p id that @p lp holds. */
CH_API int64_t ch_engine_tranche_shares(const ch_engine *e, ch_account_id lp, uint32_t id);

/* ---- risk and netting reports ---------------------------------------------- */

/** Per (expiry, strike): what was traded and where its risk went. */
typedef struct ch_netting_bucket {
    ch_time expiry;
    double strike;
    double gross_gamma, gross_vega;   /**< |traded|, all sources */
    double netted_gamma, netted_vega; /**< book + net */
    double pool_gamma, pool_vega;     /**< left to the pool */
    ch_risk_totals residual;          /**< pool + house now */
} ch_netting_bucket;

typedef struct ch_netting {
    double gross_delta;  /**< Σ|delta| of every fill, the taker's leg only (its meaning
                              since version 1; see dealer_delta) */
    double dealer_delta; /**< Σ|delta| of every customer's leg of every fill (a book match
                              and a parity fill count both customers, a pool fill one):
                              what a dealer hedging each fill on its own would send, the
                              baseline of the netting ratio */
    double notional;     /**< Σ|qty| x contract size x index of every fill, quote ccy */
    double net_delta;    /**< house + pool net delta now */
    double gross_gamma, netted_gamma, gross_vega, netted_vega;
    uint64_t fills[3];
    int64_t lots[3]; /**< lots filled by source */
} ch_netting;

/** Totals over every underlying (deltas and notionals add units of different
 *  underlyings: per underlying, ch_engine_netting_of()). */
CH_API void ch_engine_netting(const ch_engine *e, ch_netting *out);

/** The fills of one underlying. @return CH_OK or CH_EUNKNOWN_UNDERLYING. */
CH_API ch_err ch_engine_netting_of(const ch_engine *e, uint32_t underlying, ch_netting *out);

/** Per (expiry, strike) for one underlying; @return the number of buckets. */
CH_API size_t ch_engine_netting_buckets(const ch_engine *e, uint32_t underlying,
                                        ch_netting_bucket *out, size_t max);

/**
 * Residual inventory (pool + house) of @p underlying: totals and the
 * scenario grid. @return CH_OK, CH_EUNKNOWN_UNDERLYING, or scenario errors.
 */
CH_API ch_err ch_engine_risk(const ch_engine *e, uint32_t underlying, ch_risk_totals *totals,
                             ch_scenario_result *scen);

/** Net delta of the house and pool in @p underlying (what the hedge book must offset). */
CH_API double ch_engine_net_delta(const ch_engine *e, uint32_t underlying);

/**
 * What a Whalley-Wilmott hedge band needs of @p underlying's residual (pool +
 * house): its net gamma (@p gamma) and the gamma-weighted mean years to
 * expiry of its (expiry, strike) buckets (@p years; 30 days when the
 * residual holds no gamma). @return CH_OK, CH_EUNKNOWN_UNDERLYING, CH_ENOMEM.
 */
CH_API ch_err ch_engine_gamma_horizon(const ch_engine *e, uint32_t underlying, double *gamma,
                                      double *years);

/**
 * A hedge fill on @p underlying's perpetual (@p x: signed quantity, the
 * house's side; average price; fee; slippage), booked by whoever hedges
 * (chd's hedger, chsim) through a logged command (CH_C_HEDGE, or a filled
 * CH_C_HEDGE_REPORT), so that replay reproduces it. The engine keeps the
 * hedge book (position, realized PnL, costs; marked and paid funding by
 * ch_engine_market): risk-aware netting prices against its position, and
 * the LPs' NAV includes its value. @return CH_OK, CH_EUNKNOWN_UNDERLYING,
 * CH_EINVAL (a value not finite, a negative price or cost).
 */
CH_API ch_err ch_engine_hedge_fill(ch_engine *e, uint32_t underlying, const ch_hedge_exec *x);

/** The perp position booked with ch_engine_hedge_fill (0 for an unknown underlying). */
CH_API double ch_engine_hedge_position(const ch_engine *e, uint32_t underlying);

/* ---- vega hedging ------------------------------------------------------------
 *
 * Option orders at an external options venue (ch/hedge.h, "vega"): the
 * house trades listed series with the venue, whose side is booked in the
 * internal account "venue" (opened at the first fill), so every series'
 * positions still sum to zero; the house holds the options, so the delta
 * hedge covers their delta and the LPs' NAV their value.
 */

/** The residual vega (pool + house) of @p underlying per expiry, sorted by
 *  expiry. @return how many expiries (may exceed @p max). */
CH_API size_t ch_engine_vega_exposures(const ch_engine *e, uint32_t underlying,
                                       ch_vega_exposure *out, size_t max);

/** One option order of the vega policy, with its series' mark. */
typedef struct ch_vega_order {
    ch_instr_id instr;
    int64_t qty;  /**< contracts, signed: > 0 the house buys */
    double mark;  /**< price per contract at the mark */
    double vega;  /**< per contract, USD per 1.00 vol */
    double index; /**< the underlying's index */
    double contract_size;
} ch_vega_order;

/**
 * What @p p asks for in @p underlying now: 0, 1 (the call) or 2 (a straddle)
 * orders at the listed strike nearest the index of the expiry it picks.
 */
CH_API size_t ch_engine_vega_orders(const ch_engine *e, uint32_t underlying,
                                    const ch_vega_policy *p, ch_vega_order out[2]);

/**
 * Book an option hedge filled at the venue: @p qty contracts (> 0 the house
 * buys) of @p instr at @p price (ticks) and @p fee (cash units, paid to the
 * venue). @return CH_OK; CH_EUNKNOWN_SYMBOL (not a listed, live option);
 * CH_EINVAL (qty 0, price outside the band, fee < 0); CH_ECAPACITY (no
 * account or position record left for the venue).
 */
CH_API ch_err ch_engine_option_hedge_fill(ch_engine *e, ch_instr_id instr, int64_t qty,
                                          int64_t price, int64_t fee);

/** What the vega hedges of one underlying did. */
typedef struct ch_vega_book {
    uint64_t orders;
    int64_t contracts;  /**< Σ |qty| */
    double premium;     /**< Σ qty x price paid (negative: received), USD */
    double fees;        /**< USD */
    double spread_cost; /**< Σ |qty| x |price - mark| at the fill, USD */
    double vega_traded; /**< Σ qty x vega at the fill, USD per 1.00 vol */
} ch_vega_book;

CH_API const ch_vega_book *ch_engine_vega_book(const ch_engine *e, uint32_t underlying);

/** The engine's hedge book of @p underlying (view; NULL for an unknown one). */
CH_API const ch_hedge_book *ch_engine_hedge_book(const ch_engine *e, uint32_t underlying);

/**
 * The house's unhedged delta in @p underlying: pool options + parity
 * forwards + the perp position (ch_engine_net_delta + ch_engine_hedge_position).
 */
CH_API double ch_engine_house_delta(const ch_engine *e, uint32_t underlying);

/** The expected funding per 8-hour period (the exponential average of the feed). */
CH_API double ch_engine_expected_funding(const ch_engine *e, uint32_t underlying);

/** Sum of all cash, and what came in from outside (deposits - withdrawals). */
CH_API void ch_engine_cash_totals(const ch_engine *e, int64_t *total, int64_t *external);

/**
 * Invariants, for tests after every operation: per instrument the positions
 * of all accounts sum to zero; total cash equals what came in from outside;
 * every account's reservation equals its resting buy orders; pool shares add
 * up; the books pass ch_book_check(); every account's running mark-to-market
 * equals its positions x marks; what customers, fees, pool and house hold
 * (cash + positions at mark) adds up to the external cash; each hedge book's
 * value from its cash flows equals its average-price view; and the pool's NAV
 * is pool + house + hedge books (ch_pool_info; to 1e-9 relative).
 * @return CH_OK or CH_EINVAL.
 */
CH_API ch_err ch_engine_check(const ch_engine *e);

#ifdef __cplusplus
}
#endif
#endif
