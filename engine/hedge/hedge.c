/*
 * hedge.c - hedge policies, the simulated perpetual venue, the hedge book and
 * the hedger that ties a policy to an adapter.
 *
 * Pure apart from the adapters it is given: no clock (time comes in the
 * inputs), no I/O, no logging. The simulated venue is deterministic, so a
 * seeded simulation always books the same hedge costs.
 *
 * Sign conventions: quantities are signed (buy > 0). Costs (fees, slippage)
 * are positive amounts paid. Funding is cash received: at each 8-hour
 * boundary, -position x perp x rate.
 */
#include "ch/hedge.h"
#include "grow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../core/alloc.h"

void ch_hedge_policy_defaults(ch_hedge_policy *p)
{
    memset(p, 0, sizeof *p);
    p->kind = CH_HEDGE_BAND;
    p->band = 1.0;
    p->to_edge = true;
    p->interval = 3600 * CH_NS_PER_SEC;
    p->min_order = 0.001;
    p->ww_risk_aversion = 1e-4;
    p->ww_cost = 0.0006;
}

static const char *const k_policy_names[] = {"off",      "every_batch", "band",
                                             "interval", "hybrid",      "whalley_wilmott"};

ch_err ch_hedge_policy_parse(const char *name, ch_hedge_policy_kind *out)
{
    for (int i = 0; i < 6; i++)
        if (name != NULL && strcmp(name, k_policy_names[i]) == 0) {
            *out = (ch_hedge_policy_kind)i;
            return CH_OK;
        }
    return CH_EBADCONFIG;
}

const char *ch_hedge_policy_name(ch_hedge_policy_kind k)
{
    return (unsigned)k < 6 ? k_policy_names[k] : "?";
}

double ch_hedge_ww_band(double gamma_net, double spot, double cost, double risk_aversion,
                        double rate, double tau)
{
    if (!(risk_aversion > 0) || !(cost >= 0) || !(spot > 0))
        return INFINITY;
    double disc = exp(-rate * (tau > 0 ? tau : 0));
    return cbrt(1.5 * disc * cost * spot * gamma_net * gamma_net / risk_aversion);
}

static double sgn(double x)
{
    return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
}

ch_err ch_hedge_decide(const ch_hedge_policy *p, const ch_hedge_inputs *in, double *qty)
{
    *qty = 0;
    if (p->band < 0 || p->min_order < 0 || p->max_order < 0 || p->hedge_cap < 0 ||
        p->interval < 0 || !isfinite(in->net_delta) || !isfinite(in->position))
        return CH_EINVAL;
    double target = -in->net_delta;
    if (p->hedge_cap > 0) {
        if (target > p->hedge_cap)
            target = p->hedge_cap;
        if (target < -p->hedge_cap)
            target = -p->hedge_cap;
    }
    double gap = target - in->position;
    double q = 0;
    bool interval_due = p->interval > 0 && in->now - in->last_trade >= p->interval;
    switch (p->kind) {
    case CH_HEDGE_OFF:
        break;
    case CH_HEDGE_EVERY_BATCH:
        q = gap;
        break;
    case CH_HEDGE_INTERVAL:
        if (interval_due)
            q = gap;
        break;
    case CH_HEDGE_BAND:
    case CH_HEDGE_HYBRID:
        if (fabs(gap) > p->band)
            q = p->to_edge ? gap - sgn(gap) * p->band : gap;
        else if (p->kind == CH_HEDGE_HYBRID && interval_due)
            q = gap; /* the time leg trades back to the target */
        break;
    case CH_HEDGE_WW: {
        if (!(p->ww_risk_aversion > 0) || !(p->ww_cost >= 0))
            return CH_EINVAL;
        double h = ch_hedge_ww_band(in->gamma, in->spot, p->ww_cost, p->ww_risk_aversion, in->rate,
                                    in->tau);
        if (fabs(gap) > h)
            q = gap - sgn(gap) * h; /* to the band edge */
        break;
    }
    default:
        return CH_EINVAL;
    }
    if (fabs(q) < p->min_order || !isfinite(q))
        q = 0;
    if (p->max_order > 0 && fabs(q) > p->max_order)
        q = sgn(q) * p->max_order;
    *qty = q;
    return CH_OK;
}

void ch_perp_venue_defaults(ch_perp_venue *v)
{
    memset(v, 0, sizeof *v);
    v->taker_fee_bps = 5.0;
    v->maker_fee_bps = 2.0;
    v->impact = CH_IMPACT_LINEAR;
    v->depth = 50000.0; /* 10 BTC moves the price ~1 bp */
    v->impact_y = 0.7;
    v->sigma_daily = 0.03;
    v->adv = 50000.0;
}

ch_err ch_perp_execute(const ch_perp_venue *v, double mid, double qty, ch_hedge_exec *out)
{
    if (!(mid > 0) || !isfinite(mid) || !isfinite(qty))
        return CH_EINVAL;
    double a = fabs(qty);
    double frac = 0;
    if (v->impact == CH_IMPACT_LINEAR)
        frac = v->depth > 0 ? 0.5 * a / v->depth : 0; /* average of a linear book walk */
    else
        frac = v->adv > 0 ? v->impact_y * v->sigma_daily * sqrt(a / v->adv) : 0;
    double price = mid * (1.0 + sgn(qty) * frac);
    out->qty = qty;
    out->price = price;
    out->slippage = a * mid * frac;
    out->fee = a * price * v->taker_fee_bps * 1e-4;
    return CH_OK;
}

void ch_hedge_book_fill(ch_hedge_book *b, const ch_hedge_exec *x)
{
    double q = x->qty;
    b->fees += x->fee;
    b->slippage += x->slippage;
    b->volume += fabs(q);
    b->fills++;
    if (b->position == 0 || sgn(b->position) == sgn(q)) {
        double np = b->position + q;
        b->avg_price = (b->avg_price * fabs(b->position) + x->price * fabs(q)) / fabs(np);
        b->position = np;
        return;
    }
    double closed = fabs(q) < fabs(b->position) ? fabs(q) : fabs(b->position);
    b->realized += closed * (x->price - b->avg_price) * sgn(b->position);
    double rest = fabs(q) - closed;
    b->position += sgn(q) * closed;
    if (fabs(b->position) < 1e-12)
        b->position = 0;
    if (rest > 0) {
        b->position = sgn(q) * rest;
        b->avg_price = x->price;
    } else if (b->position == 0) {
        b->avg_price = 0;
    }
}

void ch_hedge_book_mark(ch_hedge_book *b, ch_time now, double index, double perp,
                        double funding_rate)
{
    if (!(index > 0) || !(perp > 0))
        return;
    if (b->last_index > 0) {
        b->basis_pnl += b->position * ((perp - b->last_perp) - (index - b->last_index));
        /* funding at each 8-hour boundary passed, on the position held */
        ch_time next = (b->last_funding / CH_FUNDING_PERIOD + 1) * CH_FUNDING_PERIOD;
        while (next <= now) {
            if (isfinite(funding_rate))
                b->funding += -b->position * perp * funding_rate;
            b->last_funding = next;
            next += CH_FUNDING_PERIOD;
        }
    } else {
        b->last_funding = now;
    }
    b->last_index = index;
    b->last_perp = perp;
}

double ch_hedge_book_unrealized(const ch_hedge_book *b, double perp)
{
    return b->position * (perp - b->avg_price);
}

double ch_netting_ratio(double hedge_volume, double gross_delta)
{
    if (!(gross_delta > 0))
        return 0.0;
    return 1.0 - hedge_volume / gross_delta;
}

/* ---- the simulated adapter ------------------------------------------------- */

typedef struct sim_adapter {
    ch_perp_venue v;
    ch_hedge_report *q;
    size_t n, cap;
} sim_adapter;

static ch_err sim_send(void *impl, const ch_hedge_order *o)
{
    sim_adapter *s = impl;
    if (!chi_grow((void **)&s->q, s->n, &s->cap, sizeof *s->q))
        return CH_ENOMEM;
    ch_hedge_report r = {.id = o->id, .attempts = 1};
    if (ch_perp_execute(&s->v, o->mark, o->qty, &r.exec) == CH_OK) {
        r.filled = true;
    } else {
        r.reason = CH_EINVAL;
    }
    s->q[s->n++] = r;
    return CH_OK;
}

static size_t sim_poll(void *impl, ch_hedge_report *out, size_t max)
{
    sim_adapter *s = impl;
    size_t n = s->n < max ? s->n : max;
    if (n == 0)
        return 0; /* the queue may not even be allocated yet */
    memcpy(out, s->q, n * sizeof *out);
    memmove(s->q, s->q + n, (s->n - n) * sizeof *s->q);
    s->n -= n;
    return n;
}

static void sim_status(void *impl, uint32_t *in_flight, uint64_t *retries)
{
    sim_adapter *s = impl;
    *in_flight = (uint32_t)s->n;
    *retries = 0;
}

static void sim_destroy(void *impl)
{
    sim_adapter *s = impl;
    if (s != NULL)
        free(s->q);
    free(s);
}

static const ch_hedge_adapter_ops k_sim_ops = {.name = "sim",
                                               .send = sim_send,
                                               .poll = sim_poll,
                                               .status = sim_status,
                                               .destroy = sim_destroy};

ch_err ch_hedge_adapter_sim(const ch_perp_venue *v, ch_hedge_adapter *out)
{
    sim_adapter *s = ch_calloc(1, sizeof *s);
    if (s == NULL)
        return CH_ENOMEM;
    s->v = *v;
    out->ops = &k_sim_ops;
    out->impl = s;
    return CH_OK;
}
