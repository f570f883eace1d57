/*
 * vega.c - the vega policy (when residual vega leaves its band, which
 * expiry to trade and how much vega to add) and the simulated options
 * venue (ch/hedge.h, "vega"). Pure functions: the engine finds the
 * exposures and the option to trade, chd and chsim book the fills.
 */
#include <math.h>
#include <string.h>

#include "ch/hedge.h"

void ch_vega_policy_defaults(ch_vega_policy *p)
{
    memset(p, 0, sizeof *p);
    p->mode = CH_VEGA_OFF;
    p->band = 1e5;
    p->to_edge = true;
    p->straddle = true;
}

static const char *const k_modes[] = {"off", "expiry", "total"};

ch_err ch_vega_mode_parse(const char *name, ch_vega_mode *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, k_modes[i]) == 0) {
            *out = (ch_vega_mode)i;
            return CH_OK;
        }
    return CH_EINVAL;
}

const char *ch_vega_mode_name(ch_vega_mode m)
{
    return (unsigned)m < 3 ? k_modes[m] : "?";
}

/* What to add to bring v inside the band (to its edge, or to zero). */
static double target_add(const ch_vega_policy *p, double v)
{
    if (!(fabs(v) > p->band))
        return 0;
    return p->to_edge ? -(v - copysign(p->band, v)) : -v;
}

bool ch_vega_decide(const ch_vega_policy *p, const ch_vega_exposure *x, size_t n, size_t *which,
                    double *add)
{
    *add = 0;
    if (p->mode == CH_VEGA_OFF || n == 0 || !(p->band >= 0))
        return false;
    size_t best = n;
    if (p->mode == CH_VEGA_EXPIRY) {
        for (size_t i = 0; i < n; i++)
            if (fabs(x[i].vega) > p->band && (best == n || fabs(x[i].vega) > fabs(x[best].vega)))
                best = i;
        if (best == n)
            return false;
        *which = best;
        *add = target_add(p, x[best].vega);
        return *add != 0;
    }
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += x[i].vega;
    double a = target_add(p, total);
    if (a == 0)
        return false;
    /* at the largest contributor of the total's sign */
    for (size_t i = 0; i < n; i++)
        if (x[i].vega * total > 0 && (best == n || fabs(x[i].vega) > fabs(x[best].vega)))
            best = i;
    if (best == n)
        return false;
    *which = best;
    *add = a;
    return true;
}

void ch_option_venue_defaults(ch_option_venue *v)
{
    v->vol_spread = 0.005;
    v->fee_rate = 0.0003;
    v->fee_cap = 0.125;
}

ch_err ch_option_execute(const ch_option_venue *v, double mark, double vega, double index,
                         double contract_size, double qty, double *price, double *fee)
{
    if (!isfinite(mark) || !isfinite(vega) || !isfinite(index) || !isfinite(qty) || mark < 0 ||
        qty == 0 || !(contract_size > 0))
        return CH_EINVAL;
    double p = mark + copysign(v->vol_spread * fabs(vega), qty);
    if (p < 0)
        p = 0;
    double per = fmin(v->fee_rate * index * contract_size, v->fee_cap * p);
    *price = p;
    *fee = fabs(qty) * fmax(per, 0);
    return CH_OK;
}
