/*
 * ch/hedge.h - the hedge book, hedge policies and venue adapters: only the
 * clearinghouse's net delta leaves the house.
 *
 * The engine nets what it can; its residual delta (parity forwards plus the
 * pool's options, ch_engine_net_delta()) is offset with a perpetual swap. A
 * policy decides when and how much to trade (pure functions of state, time
 * and marks); an adapter executes: the simulated venue in process, or an
 * external venue over NNG (ch/hedge_nng.h). Adapters never block the caller:
 * orders are sent after the batch that caused them and their fills come back
 * through ch_hedger_poll().
 *
 * Units: quantities in units of the underlying (BTC), prices and cash in the
 * quote currency (USD), doubles (the hedge book is reporting, not matching).
 * Funding is a rate per 8 hours, paid at 00:00, 08:00 and 16:00 UTC on the
 * position held: cash to the hedge book = -position x perp price x rate
 * (a short perp receives positive funding).
 */
#ifndef CH_HEDGE_H
#define CH_HEDGE_H

#include <stddef.h>

#include "ch/api.h"
#include "ch/err.h"
#include "ch/limits.h"
#include "ch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_FUNDING_PERIOD (INT64_C(8) * 3600 * CH_NS_PER_SEC)

/* ---- policies --------------------------------------------------------------- */

typedef enum ch_hedge_policy_kind {
    CH_HEDGE_OFF = 0,         /**< static: never trade */
    CH_HEDGE_EVERY_BATCH = 1, /**< back to zero net delta after every batch */
    CH_HEDGE_BAND = 2,        /**< when |gap| leaves the band: to the edge or to zero */
    CH_HEDGE_INTERVAL = 3,    /**< every `interval` of engine time */
    CH_HEDGE_HYBRID = 4,      /**< band or interval, whichever first (Lyra's hedger) */
    CH_HEDGE_WW = 5           /**< Whalley-Wilmott band from gamma, price, vol and cost */
} ch_hedge_policy_kind;

typedef struct ch_hedge_policy {
    ch_hedge_policy_kind kind;
    double band;             /**< BAND/HYBRID: tolerated |gap|, underlying units */
    bool to_edge;            /**< BAND/HYBRID: trade back to the band edge (else to zero) */
    ch_time interval;        /**< INTERVAL/HYBRID: engine time between rebalances */
    double min_order;        /**< gaps below this are not traded (dust) */
    double max_order;        /**< largest single hedge order (0 = no limit) */
    double hedge_cap;        /**< |target position| at most this (0 = no cap) */
    double ww_risk_aversion; /**< WW: gamma of the exponential utility, > 0 */
    double ww_cost;          /**< WW: proportional cost lambda (fee + impact), > 0 */
} ch_hedge_policy;

/** Defaults: BAND of 1 unit to the edge, 1 h interval, 0.001 dust, WW 1e-4 / 0.0006. */
CH_API void ch_hedge_policy_defaults(ch_hedge_policy *p);

/** Parse "off", "every_batch", "band", "interval", "hybrid", "whalley_wilmott". */
CH_API ch_err ch_hedge_policy_parse(const char *name, ch_hedge_policy_kind *out);
CH_API const char *ch_hedge_policy_name(ch_hedge_policy_kind k);

/** What a policy sees. */
typedef struct ch_hedge_inputs {
    ch_time now;
    double net_delta;   /**< options + forwards, underlying units */
    double position;    /**< hedge position held + in flight */
    double gamma;       /**< net gamma of the options (WW band) */
    double spot;        /**< index */
    double vol;         /**< a representative vol (WW band), per 1.00 */
    double rate;        /**< for the WW discount */
    double tau;         /**< years to a representative expiry (WW) */
    ch_time last_trade; /**< engine time of the last hedge order (INTERVAL) */
} ch_hedge_inputs;

/**
 * Decide. The target position is -net_delta (clamped to ±hedge_cap); the gap
 * is target - position. @p qty receives the signed order (0 = do nothing).
 * @return CH_OK or CH_EINVAL (bad policy values).
 */
CH_API ch_err ch_hedge_decide(const ch_hedge_policy *p, const ch_hedge_inputs *in, double *qty);

/** The Whalley-Wilmott half-band H = (3/2 e^{-r tau} lambda S Gamma^2 / gamma)^{1/3}. */
CH_API double ch_hedge_ww_band(double gamma_net, double spot, double cost, double risk_aversion,
                               double rate, double tau);

/* ---- the simulated perpetual venue ---------------------------------------- */

typedef enum ch_impact_model { CH_IMPACT_LINEAR = 0, CH_IMPACT_SQRT = 1 } ch_impact_model;

typedef struct ch_perp_venue {
    double taker_fee_bps; /**< on notional */
    double maker_fee_bps; /**< kept for completeness; hedges take liquidity */
    ch_impact_model impact;
    double depth;    /**< LINEAR: impact fraction = qty / depth / 2 (units) */
    double impact_y; /**< SQRT: fraction = Y sigma_daily sqrt(qty / adv) */
    double sigma_daily;
    double adv; /**< SQRT: average daily volume, units */
} ch_perp_venue;

/** Defaults: taker 5 bps, maker 2 bps, linear impact with 50,000 units of depth (~1 bp for 10). */
CH_API void ch_perp_venue_defaults(ch_perp_venue *v);

/** The result of one execution. */
typedef struct ch_hedge_exec {
    double qty;      /**< signed units filled */
    double price;    /**< average fill price */
    double fee;      /**< quote ccy, >= 0 */
    double slippage; /**< quote ccy, >= 0: |qty| x |price - mid| */
} ch_hedge_exec;

/**
 * Execute @p qty (signed) at mid @p mid on the simulated venue: deterministic.
 * @return CH_OK or CH_EINVAL (mid not positive, qty not finite).
 */
CH_API ch_err ch_perp_execute(const ch_perp_venue *v, double mid, double qty, ch_hedge_exec *out);

/* ---- vega: the policy and the simulated options venue (hedge/vega.c) ------- */

/*
 * The perpetual cannot touch vega: a vega policy sends option orders. It
 * watches the residual vega of the house and the pool (USD per 1.00 of vol)
 * per expiry or in total; when it leaves the band it trades, at the expiry
 * whose vega left it (the largest, if several; in total mode the largest
 * contributor of the total's sign), the listed strike nearest the index: the
 * call, or a straddle (the call and the put), enough contracts to bring the
 * residual back to the band's edge (to_edge) or to zero.
 */
typedef enum ch_vega_mode {
    CH_VEGA_OFF = 0,
    CH_VEGA_EXPIRY = 1, /**< a band on each expiry's vega */
    CH_VEGA_TOTAL = 2   /**< a band on the total */
} ch_vega_mode;

typedef struct ch_vega_policy {
    ch_vega_mode mode;
    double band;   /**< |vega| allowed, USD per 1.00 vol (per expiry or in total) */
    bool to_edge;  /**< back to the band's edge (default), else to zero */
    bool straddle; /**< the call and the put at the strike, else the call alone */
} ch_vega_policy;

/** Off; band 100,000 USD per 1.00 vol (1,000 USD per vol point), to the edge, a straddle. */
CH_API void ch_vega_policy_defaults(ch_vega_policy *p);
/** "off", "expiry", "total". @return CH_OK or CH_EINVAL. */
CH_API ch_err ch_vega_mode_parse(const char *name, ch_vega_mode *out);
CH_API const char *ch_vega_mode_name(ch_vega_mode m);

/** One expiry's residual vega. */
typedef struct ch_vega_exposure {
    ch_time expiry;
    double vega; /**< USD per 1.00 vol */
} ch_vega_exposure;

/**
 * Which expiry to trade (@p which: an index of @p x) and the vega to add
 * there (@p add, signed). @return true if an order is due.
 */
CH_API bool ch_vega_decide(const ch_vega_policy *p, const ch_vega_exposure *x, size_t n,
                           size_t *which, double *add);

/** The simulated options venue: fills at the mark's vol +/- a spread, with a fee. */
typedef struct ch_option_venue {
    double vol_spread; /**< paid on each side, in vol (0.005 = half a vol point) */
    double fee_rate;   /**< of the index x contract size, per contract (0.0003) */
    double fee_cap;    /**< at most this share of the premium (0.125) */
} ch_option_venue;

CH_API void ch_option_venue_defaults(ch_option_venue *v);

/**
 * Execute @p qty contracts (signed: > 0 buys) of an option marked at
 * @p mark (price per contract) with vega @p vega per contract: the price
 * moves by vol_spread x vega against the taker (never below zero), the fee is
 * per contract. @return CH_OK or CH_EINVAL (not finite, mark < 0, qty 0).
 */
CH_API ch_err ch_option_execute(const ch_option_venue *v, double mark, double vega, double index,
                                double contract_size, double qty, double *price, double *fee);

/* ---- the hedge book ----------------------------------------------------------- */

typedef struct ch_hedge_book {
    double position;       /**< perp units, signed */
    double avg_price;      /**< of the open position */
    double realized;       /**< closed trading PnL, quote ccy */
    double fees, slippage; /**< costs paid, >= 0 */
    double funding;        /**< funding received (negative: paid) */
    double basis_pnl;      /**< position x (change of perp - change of index) */
    double volume;         /**< units traded */
    uint64_t orders, fills, rejects, retries;
    double last_perp, last_index; /**< marks for the basis PnL */
    ch_time last_funding;         /**< last funding boundary accounted */
} ch_hedge_book;

/** Book one execution (position, average price, realized PnL, costs). */
CH_API void ch_hedge_book_fill(ch_hedge_book *b, const ch_hedge_exec *x);

/**
 * Move the marks and the clock: basis PnL on the held position, and funding
 * at every 8-hour boundary crossed since the last call (at @p funding_rate
 * per 8 h, on @p perp). The first call only sets the marks.
 */
CH_API void ch_hedge_book_mark(ch_hedge_book *b, ch_time now, double index, double perp,
                               double funding_rate);

/** Unrealized PnL of the position at @p perp. */
CH_API double ch_hedge_book_unrealized(const ch_hedge_book *b, double perp);

/* ---- adapters and the hedger ----------------------------------------------- */

/** A hedge order; `id` makes it idempotent at the venue. */
typedef struct ch_hedge_order {
    uint64_t id;
    double qty;  /**< signed units (an option: contracts) */
    double mark; /**< the perp price when sent (the simulated venue fills around it); an
                      option: its price per contract at the mark */
    /* an option order of the vega policy (symbol[0] == 0: the perpetual) */
    char symbol[CH_SYMBOL_MAX];
    double vega, index, contract_size; /**< per contract at the mark; the index */
    char perp[CH_SYMBOL_MAX]; /**< a perpetual order: the perp's symbol (ch_hedger_set_perp;
                                   "": unnamed, the venue's one perpetual) */
} ch_hedge_order;

/** What comes back: a fill, or a final rejection. */
typedef struct ch_hedge_report {
    uint64_t id;
    bool filled;
    ch_hedge_exec exec;
    ch_err reason; /**< when not filled */
    uint32_t attempts;
} ch_hedge_report;

/**
 * An adapter (ops table, like NNG's transports): send() queues and returns at
 * once; poll() hands back reports. Ownership: `impl` belongs to the adapter
 * and is freed by destroy().
 */
typedef struct ch_hedge_adapter_ops {
    const char *name;
    ch_err (*send)(void *impl, const ch_hedge_order *o);
    size_t (*poll)(void *impl, ch_hedge_report *out, size_t max);
    /* in flight (sent, not yet reported) and retry counters, for status */
    void (*status)(void *impl, uint32_t *in_flight, uint64_t *retries);
    void (*destroy)(void *impl);
} ch_hedge_adapter_ops;

typedef struct ch_hedge_adapter {
    const ch_hedge_adapter_ops *ops;
    void *impl;
} ch_hedge_adapter;

/** The simulated venue as an adapter (fills at once, reported by the next poll). */
CH_API ch_err ch_hedge_adapter_sim(const ch_perp_venue *v, ch_hedge_adapter *out);

typedef struct ch_hedger ch_hedger;

/**
 * A hedger: policy + book + orders in flight + adapter (consumed on success:
 * the hedger destroys it). @return owned (ch_hedger_destroy()) or NULL.
 *
 * Two ways to drive it. In one step, for a caller with nothing to log
 * (chsim, the demo): ch_hedger_on_batch() then ch_hedger_poll(). In two
 * phases, for a caller that logs every order before it leaves and every
 * answer before it is booked (chd): ch_hedger_decide(), log, commit,
 * ch_hedger_send(); ch_hedger_take_reports(), log, commit,
 * ch_hedger_settle(). Replay rebuilds the state with ch_hedger_restore()
 * (an order logged as sent), ch_hedger_settle() (its answer) and
 * ch_hedger_book_exec() (a fill booked at once).
 */
CH_API ch_hedger *ch_hedger_create(const ch_hedge_policy *p, ch_hedge_adapter adapter);
CH_API void ch_hedger_destroy(ch_hedger *h);

/** Name the perpetual this hedger trades (e.g. "ETH-PERP"): every perp order it
 *  holds or makes from now on carries it to the venue. */
CH_API void ch_hedger_set_perp(ch_hedger *h, const char *symbol);

/**
 * Decide with @p in (its `position` and `last_trade` are filled in by the
 * hedger: booked + in flight, the last order's time). If the policy fires,
 * the order (id at least @p min_id and above every id this hedger has seen,
 * mark @p mark) is in flight from now on, not yet sent, and copied to
 * @p out; otherwise out->qty is 0. @return CH_OK, CH_EINVAL (bad policy
 * values) or CH_ENOMEM (nothing recorded).
 */
CH_API ch_err ch_hedger_decide(ch_hedger *h, ch_hedge_inputs *in, double mark, uint64_t min_id,
                               ch_hedge_order *out);

/** An order logged as sent (replay): in flight, not yet sent by this process.
 *  @return CH_OK, CH_EDUPLICATE (already in flight) or CH_ENOMEM. */
CH_API ch_err ch_hedger_restore(ch_hedger *h, const ch_hedge_order *o, ch_time when);

/** Hand every order in flight that this process has not sent yet to the
 *  adapter (never blocks). @return CH_OK or the adapter's error (the rest
 *  are sent by the next call). */
CH_API ch_err ch_hedger_send(ch_hedger *h);

/** Up to @p max of the adapter's answers to orders in flight, not booked
 *  (answers to orders no longer in flight are dropped). @return how many. */
CH_API size_t ch_hedger_take_reports(ch_hedger *h, ch_hedge_report *out, size_t max);

/** Book an answer: the order leaves the flight; a fill goes to the book, a
 *  rejection is counted. @return false if the order was not in flight
 *  (nothing booked). */
CH_API bool ch_hedger_settle(ch_hedger *h, const ch_hedge_report *r);

/** Book a fill executed at once (an order and its fill; replay of a fill
 *  the simulated venue made inline). */
CH_API void ch_hedger_book_exec(ch_hedger *h, const ch_hedge_exec *x, ch_time when);

/**
 * Both phases of a decision at once: decide and send.
 * @return CH_OK (@p sent may be NULL: the signed quantity sent, 0 if none) or
 *         the adapter's error (nothing recorded as in flight).
 */
CH_API ch_err ch_hedger_on_batch(ch_hedger *h, ch_hedge_inputs *in, double mark, double *sent);

/** Take and book every answer of the adapter. @return how many were booked. */
CH_API size_t ch_hedger_poll(ch_hedger *h);

/** Marks and funding (ch_hedge_book_mark()). */
CH_API void ch_hedger_mark(ch_hedger *h, ch_time now, double index, double perp,
                           double funding_rate);

/** The hedge book (view, valid until destroy). */
CH_API const ch_hedge_book *ch_hedger_book(const ch_hedger *h);

/** Quantity in flight (decided or sent, not yet answered). */
CH_API double ch_hedger_in_flight(const ch_hedger *h);

/** Orders in flight. */
CH_API size_t ch_hedger_in_flight_orders(const ch_hedger *h);

/** Adapter status: orders in flight, retries. */
CH_API void ch_hedger_status(const ch_hedger *h, uint32_t *in_flight, uint64_t *retries);

CH_API const ch_hedge_policy *ch_hedger_policy(const ch_hedger *h);

/**
 * Netting ratio = 1 - hedge volume / gross delta a trade-by-trade hedger
 * would have sent (0 if nothing was traded).
 */
CH_API double ch_netting_ratio(double hedge_volume, double gross_delta);

#ifdef __cplusplus
}
#endif
#endif
