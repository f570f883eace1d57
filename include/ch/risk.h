/*
 * ch/risk.h - option pricing, Greeks, implied volatility, the smile, residual
 * inventory and scenario revaluation.
 *
 * Pure: no I/O, no clock (callers pass `now`), no logging, no allocation
 * outside the create functions. Doubles throughout (the risk model is the one
 * place where floating point is used; nothing here decides a match).
 *
 * Units (as in the reference values of tests/data/reference/):
 *   T      years (ACT/365: ch_years() converts engine time)
 *   sigma  per 1.00 (0.55 = 55 %)          r, q  continuous rates per year
 *   vega   dV/dsigma per 1.00 of vol       (ch_vega_per_point(): per vol point)
 *   theta  -dV/dT per year                 (ch_theta_per_day(): per day)
 *   rho    dV/dr per 1.00 of rate
 *   vanna  d(delta)/dsigma = d(vega)/dS    volga  d(vega)/dsigma
 * Black-76 on a forward F is Black-Scholes-Merton with S = F and q = r;
 * its delta is then dV/dF.
 *
 * Edge cases are limits, never NaN: T = 0 gives the payoff (delta 1, 0 or
 * 1/2 at the strike, other Greeks 0); sigma = 0 gives the discounted forward
 * intrinsic value; far tails use erfc, so deep out-of-the-money prices keep
 * their relative precision down to the underflow threshold.
 */
#ifndef CH_RISK_H
#define CH_RISK_H

#include <stddef.h>

#include "ch/api.h"
#include "ch/err.h"
#include "ch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ch_opt { CH_OPT_CALL = 0, CH_OPT_PUT = 1 } ch_opt;

/** Price and Greeks of one option, in the units above. */
typedef struct ch_greeks {
    double price, delta, gamma, vega, theta, rho, vanna, volga;
} ch_greeks;

/** Standard normal CDF, erfc-based (accurate in both tails). */
CH_API double ch_norm_cdf(double x);

/** Standard normal density. */
CH_API double ch_norm_pdf(double x);

/**
 * Black-Scholes-Merton price and all Greeks.
 * @return CH_OK; CH_EINVAL if S or K is not positive and finite, T or sigma
 *         is negative or not finite, or r, q are not finite (@p out then
 *         untouched).
 */
CH_API ch_err ch_bs(ch_opt type, double S, double K, double T, double r, double q, double sigma,
                    ch_greeks *out);

/** Price only (same rules as ch_bs); NAN on invalid input. */
CH_API double ch_bs_price(ch_opt type, double S, double K, double T, double r, double q,
                          double sigma);

/** Black-76 on forward @p F, discounted at @p r: ch_bs(type, F, K, T, r, r, sigma). */
CH_API ch_err ch_black76(ch_opt type, double F, double K, double T, double r, double sigma,
                         ch_greeks *out);

/**
 * Implied volatility of @p price. Bracketed Newton on the log of the
 * out-of-the-money price (in-the-money prices are mapped through put-call
 * parity), so it converges wherever a vol exists: expiries of a minute to
 * years, vols from 1e-4 to 50, prices down to 1e-300. Accuracy: 1e-8 or the
 * price's own rounding divided by vega, whichever is larger.
 * @return CH_OK (vol in @p sigma); CH_ENO_IV if the price is outside the
 *         no-arbitrage bounds (<= discounted intrinsic value or >= the upper
 *         bound S·e^{-qT} for a call, K·e^{-rT} for a put); CH_EINVAL for bad
 *         inputs (T must be > 0). @p sigma is untouched on error.
 */
CH_API ch_err ch_implied_vol(ch_opt type, double S, double K, double T, double r, double q,
                             double price, double *sigma);

/** Engine time interval to years, ACT/365: (to - from) / 365 days. */
CH_API double ch_years(ch_time from, ch_time to);

/** Vega per vol point (vega / 100). */
CH_API double ch_vega_per_point(double vega);

/** Theta per calendar day (theta / 365). */
CH_API double ch_theta_per_day(double theta);

/* ---- the smile ----------------------------------------------------------- */

/**
 * Implied vol by strike, per expiry, for one underlying. Within an expiry the
 * total variance w = sigma^2 T is interpolated linearly in log-strike between
 * the marked strikes, flat (constant vol) beyond them. Across expiries w is
 * linear in T at the same strike; before the first and after the last marked
 * expiry the vol is flat.
 */
typedef struct ch_smile ch_smile;

/**
 * @param max_expiries  marked expiries kept (1..1024)
 * @param max_points    strikes per expiry (1..4096)
 * @return owned (ch_smile_destroy()) or NULL on bad sizes / no memory.
 */
CH_API ch_smile *ch_smile_create(size_t max_expiries, size_t max_points);

/** Free; NULL is a no-op. */
CH_API void ch_smile_destroy(ch_smile *s);

/**
 * Mark the expiry @p expiry with @p n (strike, vol) points (copied; any order;
 * a strike given twice is refused), replacing any previous marks of that
 * expiry, at time @p now.
 * Arbitrage sanity: every vol finite and in (0, 10]; total variance
 * non-decreasing in expiry at every marked strike of this and the
 * neighbouring expiries (no calendar arbitrage).
 * @return CH_OK; CH_EBADVOL (a vol out of range, a bad or repeated strike,
 *         n == 0); CH_EEXPIRED (expiry <= now); CH_ECALENDAR (total variance
 *         would decrease with expiry); CH_ECAPACITY (too many expiries or
 *         points). Nothing changes on error.
 */
CH_API ch_err ch_smile_set(ch_smile *s, ch_time expiry, const double *strikes, const double *vols,
                           size_t n, ch_time now);

/** As ch_smile_set() with one vol for every strike (a flat smile). */
CH_API ch_err ch_smile_set_flat(ch_smile *s, ch_time expiry, double vol, ch_time now);

/**
 * Copy every mark of @p src into @p dst (same or larger sizes).
 * @return CH_OK or CH_ECAPACITY (dst too small; dst unchanged).
 */
CH_API ch_err ch_smile_copy(ch_smile *dst, const ch_smile *src);

/** Remove the marks of expiries at or before @p now. Returns how many went. */
CH_API size_t ch_smile_expire(ch_smile *s, ch_time now);

/**
 * The implied vol for (@p strike, @p expiry) at @p now.
 * @return CH_OK; CH_ENOTFOUND (no marks at all); CH_EEXPIRED (expiry <= now);
 *         CH_EINVAL (strike not positive).
 */
CH_API ch_err ch_smile_vol(const ch_smile *s, double strike, ch_time expiry, ch_time now,
                           double *vol);

/** Number of marked expiries. */
CH_API size_t ch_smile_count(const ch_smile *s);

/** Market inputs of one underlying. */
typedef struct ch_market {
    double spot;  /**< index price, > 0 */
    double rate;  /**< r, continuous, per year */
    double carry; /**< q, continuous, per year (0 for crypto: forward = spot e^{rT}) */
    ch_time now;
} ch_market;

/**
 * Mark price and Greeks of one option from the smile: BSM at the smile's vol.
 * @p vol may be NULL. @return CH_OK or the errors of ch_smile_vol() / ch_bs().
 */
CH_API ch_err ch_mark(const ch_smile *s, const ch_market *m, ch_opt type, double strike,
                      ch_time expiry, ch_greeks *out, double *vol);

/* ---- residual inventory -------------------------------------------------- */

/** Net Greeks of a set of positions (per position: qty x contract size x unit Greek). */
typedef struct ch_risk_totals {
    double delta; /**< units of the underlying */
    double gamma; /**< units of the underlying per unit of spot */
    double vega;  /**< quote currency per 1.00 of vol */
    double theta; /**< quote currency per year */
    double value; /**< mark value, quote currency */
} ch_risk_totals;

/**
 * Positions in option series with net Greeks per (expiry, strike), per expiry
 * and in total. A fill updates them in O(1) from the unit Greeks cached at the
 * last revaluation; ch_inventory_revalue() recomputes every unit Greek from
 * the smile and rebuilds every sum (the two agree to rounding: tested).
 * Perpetual / linear positions can be carried as a series with is_linear set
 * (delta 1 per unit, no other Greek).
 */
typedef struct ch_inventory ch_inventory;

/** @return owned (ch_inventory_destroy()) or NULL; max_series 1..2^24. */
CH_API ch_inventory *ch_inventory_create(size_t max_series);

/** Free; NULL is a no-op. */
CH_API void ch_inventory_destroy(ch_inventory *inv);

/** One series of the inventory. */
typedef struct ch_series {
    ch_opt type;
    double strike;
    ch_time expiry;
    double contract_size; /**< > 0 */
    bool is_linear;       /**< a perpetual or spot: delta 1, no optionality */
} ch_series;

/**
 * Declare series number @p id (0..max_series-1; the caller uses its
 * instrument ids). @return CH_OK; CH_ERANGE; CH_EEXISTS; CH_EINVAL (bad
 * strike, contract size); CH_ECAPACITY (more than max_series distinct
 * (expiry, strike) buckets cannot happen; kept for symmetry).
 */
CH_API ch_err ch_inventory_define(ch_inventory *inv, uint32_t id, const ch_series *s);

/**
 * Add @p qty (signed, contracts) to series @p id: O(1), using the unit
 * Greeks of the last revaluation (zero before the first one).
 * @return CH_OK or CH_ENOTFOUND (series not defined).
 */
CH_API ch_err ch_inventory_fill(ch_inventory *inv, uint32_t id, double qty);

/**
 * Revalue every series from the smile and market, and rebuild all sums.
 * Series whose expiry has passed are valued at their payoff.
 * @return CH_OK or the first error of ch_mark() for a series with a
 *         position (the others keep their previous unit Greeks).
 */
CH_API ch_err ch_inventory_revalue(ch_inventory *inv, const ch_smile *s, const ch_market *m);

/** Position in series @p id (0 if not defined). */
CH_API double ch_inventory_position(const ch_inventory *inv, uint32_t id);

/** Totals over everything. */
CH_API void ch_inventory_totals(const ch_inventory *inv, ch_risk_totals *out);

/** One (expiry, strike) bucket's net Greeks. */
typedef struct ch_bucket {
    ch_time expiry;
    double strike;
    ch_risk_totals net;
} ch_bucket;

/**
 * Copy up to @p max buckets (sorted by expiry then strike) into @p out.
 * @return the number of buckets in the inventory (may exceed @p max).
 */
CH_API size_t ch_inventory_buckets(const ch_inventory *inv, ch_bucket *out, size_t max);

/**
 * Bucket @p i of the same order, without copying the others.
 * @return CH_OK, or CH_ENOTFOUND past the last bucket.
 */
CH_API ch_err ch_inventory_bucket_at(const ch_inventory *inv, size_t i, ch_bucket *out);

/**
 * Net Greeks of the (expiry, strike) bucket that series @p id belongs to.
 * @return CH_OK or CH_ENOTFOUND.
 */
CH_API ch_err ch_inventory_series_bucket(const ch_inventory *inv, uint32_t id, ch_risk_totals *out);

/**
 * Net Greeks of the series expiring at @p expiry. @return CH_OK or
 * CH_ENOTFOUND (no series with that expiry).
 */
CH_API ch_err ch_inventory_expiry(const ch_inventory *inv, ch_time expiry, ch_risk_totals *out);

/* ---- scenarios ----------------------------------------------------------- */

#define CH_SCEN_MAX_SPOT 32

/**
 * A SPAN-like grid: every spot shock × vol {down, flat, up}. The vol shock
 * depends on time to expiry as in Deribit/Derive portfolio margin:
 *   tau = 30 days / max(T, floor_days); p = T <= 30 days ? short_power : long_power
 *   up = 1 + vol_up * tau^p      down = max(0, 1 - vol_down * tau^p)
 * (multipliers of the vol).
 */
typedef struct ch_scenario_config {
    size_t n_spot;
    double spot_shocks[CH_SCEN_MAX_SPOT]; /**< relative, e.g. -0.2 .. 0.2 */
    double vol_up, vol_down;              /**< 0.6 and 0.3 by default */
    double short_power, long_power;       /**< 0.3 and 0.13 */
    double floor_days;                    /**< 1 */
} ch_scenario_config;

/** Defaults: spot ±5/10/15/20 % and 0, vol down/flat/up as above. */
CH_API void ch_scenario_defaults(ch_scenario_config *cfg);

/** The vol multiplier of mode @p mode (-1 down, 0 flat, +1 up) for an expiry @p T years away. */
CH_API double ch_scenario_vol_mult(const ch_scenario_config *cfg, double T, int mode);

typedef struct ch_scenario_result {
    size_t n; /**< n_spot * 3 */
    double spot_shock[CH_SCEN_MAX_SPOT * 3];
    int vol_shock[CH_SCEN_MAX_SPOT * 3]; /**< -1 down, 0 flat, +1 up */
    double pnl[CH_SCEN_MAX_SPOT * 3];    /**< value change, quote currency */
    double worst_loss;                   /**< max(0, -min pnl) */
    size_t worst;                        /**< index of the worst scenario */
} ch_scenario_result;

/**
 * Scenario PnL of one contract of @p s, long: @p pnl[i*3 + v + 1] for spot
 * shock i and vol mode v in {-1, 0, +1} (cfg->n_spot * 3 values), in quote
 * currency, contract size applied. Expired series use their payoff.
 * @return CH_OK; CH_EINVAL (bad config); errors of ch_smile_vol().
 */
CH_API ch_err ch_series_scenarios(const ch_series *s, const ch_smile *sm, const ch_market *m,
                                  const ch_scenario_config *cfg, double *pnl);

/**
 * Mark value and Greeks of one contract of @p s (contract size applied;
 * expired series at their payoff at m->spot).
 */
CH_API ch_err ch_series_mark(const ch_series *s, const ch_smile *sm, const ch_market *m,
                             ch_greeks *out);

/**
 * Revalue the inventory's positions under every scenario (full repricing at
 * the shocked spot and vol; the smile's vol of each series is shocked by its
 * expiry's multiplier). @p extra (may be NULL) adds hypothetical positions
 * (@p n_extra pairs of series id and qty: e.g. an order being checked for
 * margin) without changing the inventory.
 * @return CH_OK; CH_EINVAL (bad config); errors of ch_mark().
 */
CH_API ch_err ch_inventory_scenarios(const ch_inventory *inv, const ch_smile *s, const ch_market *m,
                                     const ch_scenario_config *cfg, const uint32_t *extra_ids,
                                     const double *extra_qty, size_t n_extra,
                                     ch_scenario_result *out);

#ifdef __cplusplus
}
#endif
#endif
