/*
 * hedge_cost.c - the marginal hedge cost of a trade (see ch/hedge_cost.h).
 */
#include "ch/hedge_cost.h"

#include <math.h>

ch_hedge_cost ch_marginal_hedge_cost(const ch_hedge_cost_params *p, double house_delta,
                                     double trade_delta, double forward, double funding_to_expiry)
{
    ch_hedge_cost c = {0};
    if (!isfinite(house_delta) || !isfinite(trade_delta) || !isfinite(forward) ||
        !isfinite(funding_to_expiry) || forward < 0) {
        c.refused = true;
        return c;
    }
    double h = house_delta, d = trade_delta;
    /* the part of d that brings h toward zero (up to zero), then the rest */
    double reducing = (h > 0 && d < 0) || (h < 0 && d > 0) ? fmin(fabs(d), fabs(h)) : 0.0;
    c.reducing = reducing;
    c.adding = fabs(d) - reducing;
    double unit = 2.0 * (p->fee_rate + p->impact_rate) * forward;
    c.trading = unit * (c.adding - c.reducing);
    c.carry = -d * forward * funding_to_expiry;
    c.cost = c.trading + c.carry;
    double after = h + d;
    c.refused = p->delta_limit > 0 && fabs(after) > p->delta_limit && fabs(after) > fabs(h);
    return c;
}

double ch_funding_ewma(double avg, double rate, double dt_hours, double half_life_hours)
{
    if (!isfinite(rate))
        return avg;
    if (!isfinite(avg) || half_life_hours <= 0)
        return rate;
    double w = exp2(-(dt_hours > 0 ? dt_hours : 0) / half_life_hours);
    return w * avg + (1 - w) * rate;
}
