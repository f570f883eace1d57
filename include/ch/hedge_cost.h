/*
 * ch/hedge_cost.h - the marginal hedge cost of a trade: what taking on (or
 * giving back) some delta costs the house, whose whole book (pool options,
 * parity forwards, the perpetual hedge) is hedged on a perpetual venue.
 *
 * One function prices every internal fill on one scale (DESIGN section 4):
 * a parity fill's forward, and the delta term of the pool's quote. Pure: no
 * I/O, no clock, no allocation.
 *
 * The model, per unit of the underlying:
 *   trading   the delta will be hedged in and unwound out on the venue:
 *             2 x (taker fee + impact at the policy's typical order size) x F
 *   carry     the hedge (a perp position of -delta) is held to expiry and
 *             pays funding: a perp long pays F x f per period, so taking on
 *             delta d costs -d x F x f_T, where f_T is the expected funding
 *             to expiry (an exponential average of the funding feed times
 *             the periods to expiry)
 * A trade that moves the house's delta H toward zero is split at zero: the
 * part up to |H| reduces what must be hedged and is rebated at the trading
 * rate; only the part beyond zero pays it. The carry is linear in d and is
 * never split. F is the forward the parity translation uses (the perp's:
 * index x (1 + f_T) + basis), not spot at a zero rate.
 */
#ifndef CH_HEDGE_COST_H
#define CH_HEDGE_COST_H

#include <stdbool.h>

#include "ch/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ch_hedge_cost_params {
    double fee_rate;    /**< the venue's taker fee, a fraction of notional (5 bps: 0.0005) */
    double impact_rate; /**< slippage of a typical hedge order, a fraction of notional */
    double delta_limit; /**< largest |unhedged delta| of the house (underlying units); 0: none */
} ch_hedge_cost_params;

typedef struct ch_hedge_cost {
    double cost;     /**< quote currency, the whole trade; negative: a rebate */
    double trading;  /**< its trading part (adding pays, reducing is rebated) */
    double carry;    /**< its funding part */
    double adding;   /**< |delta| the trade adds beyond zero */
    double reducing; /**< |delta| the trade takes off the house's delta */
    bool refused;    /**< the house's delta would leave delta_limit and grow */
} ch_hedge_cost;

/**
 * The marginal hedge cost of a trade that moves the house's unhedged delta
 * from @p house_delta by @p trade_delta (underlying units; the house's side),
 * at forward @p forward (quote currency per unit) with expected funding to
 * expiry @p funding_to_expiry (a fraction: 0.01 = 1 % of notional). Inputs
 * that are not finite give a refused, zero-cost answer.
 */
CH_API ch_hedge_cost ch_marginal_hedge_cost(const ch_hedge_cost_params *p, double house_delta,
                                            double trade_delta, double forward,
                                            double funding_to_expiry);

/**
 * Expected funding per period as an exponential average: the new average
 * after observing @p rate over @p dt_hours with half-life @p half_life_hours
 * (0: no averaging, the last rate). NaN @p avg starts from @p rate.
 */
CH_API double ch_funding_ewma(double avg, double rate, double dt_hours, double half_life_hours);

#ifdef __cplusplus
}
#endif
#endif
