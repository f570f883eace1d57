/*
 * inventory.c - residual inventory: positions, net Greeks per (expiry,
 * strike) bucket, per expiry and in total, and scenario revaluation.
 *
 * Every series caches its unit Greeks (per contract, contract size applied)
 * from the last revaluation. A fill adds qty x unit to its bucket, its expiry
 * and the totals: O(1). A revaluation recomputes every unit Greek from the
 * smile and rebuilds all sums from the positions, so rounding drift from many
 * fills does not accumulate. Scenario PnL is linear in quantity, so extra
 * (hypothetical) positions are priced per unit and added without touching
 * the inventory.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch/risk.h"
#include "../core/alloc.h"
#include "../core/snap.h"

typedef struct ser {
    bool defined;
    ch_series s;
    double pos;
    ch_greeks unit; /* per contract, x contract size */
    uint32_t bucket, expiry;
} ser;

typedef struct bucket {
    ch_time expiry;
    double strike;
    ch_risk_totals net;
} bucket;

typedef struct exp_sum {
    ch_time expiry;
    ch_risk_totals net;
} exp_sum;

struct ch_inventory {
    size_t max;
    ser *s;
    bucket *b;
    size_t nb;
    exp_sum *e;
    size_t ne;
    ch_risk_totals total;
};

ch_inventory *ch_inventory_create(size_t max_series)
{
    if (max_series == 0 || max_series > (1u << 24))
        return NULL;
    ch_inventory *inv = ch_calloc(1, sizeof *inv);
    if (inv == NULL)
        return NULL;
    inv->max = max_series;
    inv->s = ch_calloc(max_series, sizeof *inv->s);
    inv->b = ch_calloc(max_series, sizeof *inv->b);
    inv->e = ch_calloc(max_series, sizeof *inv->e);
    if (inv->s == NULL || inv->b == NULL || inv->e == NULL) {
        ch_inventory_destroy(inv);
        return NULL;
    }
    return inv;
}

void ch_inventory_destroy(ch_inventory *inv)
{
    if (inv == NULL)
        return;
    free(inv->s);
    free(inv->b);
    free(inv->e);
    free(inv);
}

ch_err ch_inventory_define(ch_inventory *inv, uint32_t id, const ch_series *s)
{
    if (id >= inv->max)
        return CH_ERANGE;
    if (inv->s[id].defined)
        return CH_EEXISTS;
    if (!(isfinite(s->contract_size) && s->contract_size > 0) ||
        (!s->is_linear && !(isfinite(s->strike) && s->strike > 0)) ||
        (s->type != CH_OPT_CALL && s->type != CH_OPT_PUT))
        return CH_EINVAL;
    ser *x = &inv->s[id];
    /* linear series live in a bucket of their own kind: expiry 0, strike 0.
     * Buckets are kept sorted by (expiry, strike), so listing them is a copy;
     * inserting one renumbers the series after it (define is not a hot path). */
    ch_time ex = s->is_linear ? 0 : s->expiry;
    double k = s->is_linear ? 0.0 : s->strike;
    size_t bi = 0;
    while (bi < inv->nb &&
           (inv->b[bi].expiry < ex || (inv->b[bi].expiry == ex && inv->b[bi].strike < k)))
        bi++;
    if (bi == inv->nb || inv->b[bi].expiry != ex || inv->b[bi].strike != k) {
        if (inv->nb == inv->max)
            return CH_ECAPACITY;
        memmove(&inv->b[bi + 1], &inv->b[bi], (inv->nb - bi) * sizeof *inv->b);
        inv->b[bi] = (bucket){.expiry = ex, .strike = k};
        inv->nb++;
        for (size_t i = 0; i < inv->max; i++)
            if (inv->s[i].defined && inv->s[i].bucket >= bi)
                inv->s[i].bucket++;
    }
    size_t ei = 0;
    while (ei < inv->ne && inv->e[ei].expiry != ex)
        ei++;
    if (ei == inv->ne)
        inv->e[inv->ne++] = (exp_sum){.expiry = ex};
    memset(x, 0, sizeof *x);
    x->defined = true;
    x->s.type = s->type; /* member by member: snapshots write padding too */
    x->s.strike = s->strike;
    x->s.expiry = s->expiry;
    x->s.contract_size = s->contract_size;
    x->s.is_linear = s->is_linear;
    x->bucket = (uint32_t)bi;
    x->expiry = (uint32_t)ei;
    return CH_OK;
}

static void add(ch_risk_totals *t, double q, const ch_greeks *u)
{
    t->delta += q * u->delta;
    t->gamma += q * u->gamma;
    t->vega += q * u->vega;
    t->theta += q * u->theta;
    t->value += q * u->price;
}

ch_err ch_inventory_fill(ch_inventory *inv, uint32_t id, double qty)
{
    if (id >= inv->max || !inv->s[id].defined || !isfinite(qty))
        return CH_ENOTFOUND;
    ser *x = &inv->s[id];
    x->pos += qty;
    add(&inv->b[x->bucket].net, qty, &x->unit);
    add(&inv->e[x->expiry].net, qty, &x->unit);
    add(&inv->total, qty, &x->unit);
    return CH_OK;
}

/* Unit Greeks of a series at spot `spot` and vol multiplier `vm` (vm applies
 * to the smile's vol). Expired series are worth their payoff. */
static ch_err series_greeks(const ch_series *s, const ch_smile *sm, const ch_market *m, double spot,
                            double vm, ch_greeks *g)
{
    double cs = s->contract_size;
    if (s->is_linear) {
        *g = (ch_greeks){.price = spot * cs, .delta = cs};
        return CH_OK;
    }
    if (s->expiry <= m->now) {
        double k = s->strike;
        double itm = s->type == CH_OPT_CALL ? spot - k : k - spot;
        *g = (ch_greeks){0};
        if (itm > 0) {
            g->price = itm * cs;
            g->delta = (s->type == CH_OPT_CALL ? 1.0 : -1.0) * cs;
        }
        return CH_OK;
    }
    double vol;
    ch_err e = ch_smile_vol(sm, s->strike, s->expiry, m->now, &vol);
    if (e != CH_OK)
        return e;
    e = ch_bs(s->type, spot, s->strike, ch_years(m->now, s->expiry), m->rate, m->carry, vol * vm,
              g);
    if (e != CH_OK)
        return e;
    g->price *= cs;
    g->delta *= cs;
    g->gamma *= cs;
    g->vega *= cs;
    g->theta *= cs;
    g->rho *= cs;
    g->vanna *= cs;
    g->volga *= cs;
    return CH_OK;
}

static ch_err unit_greeks(const ser *x, const ch_smile *sm, const ch_market *m, double spot,
                          double vm, ch_greeks *g)
{
    return series_greeks(&x->s, sm, m, spot, vm, g);
}

ch_err ch_series_mark(const ch_series *s, const ch_smile *sm, const ch_market *m, ch_greeks *out)
{
    return series_greeks(s, sm, m, m->spot, 1.0, out);
}

ch_err ch_inventory_revalue(ch_inventory *inv, const ch_smile *sm, const ch_market *m)
{
    if (!(isfinite(m->spot) && m->spot > 0))
        return CH_EINVAL;
    ch_err first = CH_OK;
    for (size_t i = 0; i < inv->nb; i++)
        memset(&inv->b[i].net, 0, sizeof inv->b[i].net);
    for (size_t i = 0; i < inv->ne; i++)
        memset(&inv->e[i].net, 0, sizeof inv->e[i].net);
    memset(&inv->total, 0, sizeof inv->total);
    for (size_t i = 0; i < inv->max; i++) {
        ser *x = &inv->s[i];
        if (!x->defined)
            continue;
        ch_greeks g;
        ch_err e = unit_greeks(x, sm, m, m->spot, 1.0, &g);
        if (e == CH_OK)
            x->unit = g;
        else if (x->pos != 0 && first == CH_OK)
            first = e;
        if (x->pos != 0) {
            add(&inv->b[x->bucket].net, x->pos, &x->unit);
            add(&inv->e[x->expiry].net, x->pos, &x->unit);
            add(&inv->total, x->pos, &x->unit);
        }
    }
    return first;
}

double ch_inventory_position(const ch_inventory *inv, uint32_t id)
{
    return id < inv->max && inv->s[id].defined ? inv->s[id].pos : 0.0;
}

void ch_inventory_totals(const ch_inventory *inv, ch_risk_totals *out)
{
    *out = inv->total;
}

size_t ch_inventory_buckets(const ch_inventory *inv, ch_bucket *out, size_t max)
{
    for (size_t i = 0; i < inv->nb && i < max; i++)
        ch_inventory_bucket_at(inv, i, &out[i]);
    return inv->nb;
}

ch_err ch_inventory_bucket_at(const ch_inventory *inv, size_t i, ch_bucket *out)
{
    if (i >= inv->nb)
        return CH_ENOTFOUND;
    *out =
        (ch_bucket){.expiry = inv->b[i].expiry, .strike = inv->b[i].strike, .net = inv->b[i].net};
    return CH_OK;
}

ch_err ch_inventory_series_bucket(const ch_inventory *inv, uint32_t id, ch_risk_totals *out)
{
    if (id >= inv->max || !inv->s[id].defined)
        return CH_ENOTFOUND;
    *out = inv->b[inv->s[id].bucket].net;
    return CH_OK;
}

ch_err ch_inventory_expiry(const ch_inventory *inv, ch_time expiry, ch_risk_totals *out)
{
    for (size_t i = 0; i < inv->ne; i++) {
        if (inv->e[i].expiry == expiry) {
            *out = inv->e[i].net;
            return CH_OK;
        }
    }
    return CH_ENOTFOUND;
}

void ch_scenario_defaults(ch_scenario_config *cfg)
{
    static const double shocks[] = {-0.20, -0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15, 0.20};
    memset(cfg, 0, sizeof *cfg);
    cfg->n_spot = sizeof shocks / sizeof shocks[0];
    memcpy(cfg->spot_shocks, shocks, sizeof shocks);
    cfg->vol_up = 0.6;
    cfg->vol_down = 0.3;
    cfg->short_power = 0.3;
    cfg->long_power = 0.13;
    cfg->floor_days = 1.0;
}

double ch_scenario_vol_mult(const ch_scenario_config *c, double T, int mode)
{
    if (mode == 0)
        return 1.0;
    double days = T * 365.0;
    double tau = 30.0 / (days > c->floor_days ? days : c->floor_days);
    double p = days <= 30.0 ? c->short_power : c->long_power;
    double m = pow(tau, p);
    if (mode > 0)
        return 1.0 + c->vol_up * m;
    double d = 1.0 - c->vol_down * m;
    return d > 0 ? d : 0.0;
}

static bool scenario_config_ok(const ch_scenario_config *cfg)
{
    if (cfg->n_spot == 0 || cfg->n_spot > CH_SCEN_MAX_SPOT || cfg->vol_up < 0 ||
        cfg->vol_down < 0 || !(cfg->floor_days > 0))
        return false;
    for (size_t i = 0; i < cfg->n_spot; i++)
        if (!(cfg->spot_shocks[i] > -1.0) || !isfinite(cfg->spot_shocks[i]))
            return false;
    return true;
}

ch_err ch_series_scenarios(const ch_series *s, const ch_smile *sm, const ch_market *m,
                           const ch_scenario_config *cfg, double *pnl)
{
    if (!scenario_config_ok(cfg) || !(m->spot > 0))
        return CH_EINVAL;
    ch_greeks base, g;
    ch_err e = series_greeks(s, sm, m, m->spot, 1.0, &base);
    if (e != CH_OK)
        return e;
    double T = s->is_linear ? 0.0 : ch_years(m->now, s->expiry);
    for (size_t i = 0; i < cfg->n_spot; i++) {
        for (int mode = -1; mode <= 1; mode++) {
            double spot = m->spot * (1.0 + cfg->spot_shocks[i]);
            double vm = ch_scenario_vol_mult(cfg, T, mode); /* 0 is fine: ch_bs takes the limit */
            e = series_greeks(s, sm, m, spot, vm, &g);
            if (e != CH_OK)
                return e;
            pnl[i * 3 + (size_t)(mode + 1)] = g.price - base.price;
        }
    }
    return CH_OK;
}

/* Scenario PnL of series x, times qty, added to out. */
static ch_err add_series_pnl(const ser *x, double qty, const ch_smile *sm, const ch_market *m,
                             const ch_scenario_config *cfg, ch_scenario_result *out)
{
    double v[CH_SCEN_MAX_SPOT * 3];
    ch_err e = ch_series_scenarios(&x->s, sm, m, cfg, v);
    if (e != CH_OK)
        return e;
    for (size_t k = 0; k < cfg->n_spot * 3; k++)
        out->pnl[k] += qty * v[k];
    return CH_OK;
}

ch_err ch_inventory_scenarios(const ch_inventory *inv, const ch_smile *sm, const ch_market *m,
                              const ch_scenario_config *cfg, const uint32_t *extra_ids,
                              const double *extra_qty, size_t n_extra, ch_scenario_result *out)
{
    if (!scenario_config_ok(cfg) || !(m->spot > 0))
        return CH_EINVAL;
    memset(out, 0, sizeof *out);
    out->n = cfg->n_spot * 3;
    for (size_t i = 0; i < cfg->n_spot; i++) {
        for (int mode = -1; mode <= 1; mode++) {
            out->spot_shock[i * 3 + (size_t)(mode + 1)] = cfg->spot_shocks[i];
            out->vol_shock[i * 3 + (size_t)(mode + 1)] = mode;
        }
    }
    for (size_t i = 0; i < inv->max; i++) {
        const ser *x = &inv->s[i];
        if (!x->defined || x->pos == 0)
            continue;
        ch_err e = add_series_pnl(x, x->pos, sm, m, cfg, out);
        if (e != CH_OK)
            return e;
    }
    for (size_t j = 0; j < n_extra; j++) {
        if (extra_ids[j] >= inv->max || !inv->s[extra_ids[j]].defined)
            return CH_ENOTFOUND;
        ch_err e = add_series_pnl(&inv->s[extra_ids[j]], extra_qty[j], sm, m, cfg, out);
        if (e != CH_OK)
            return e;
    }
    double worst = 0.0;
    out->worst = 0;
    for (size_t k = 0; k < out->n; k++) {
        if (out->pnl[k] < out->pnl[out->worst])
            out->worst = k;
    }
    worst = -out->pnl[out->worst];
    out->worst_loss = worst > 0 ? worst : 0.0;
    return CH_OK;
}

/* ---- snapshot ------------------------------------------------------------ */

#define TAG_INV CHI_SNAP_TAG('I', 'N', 'V', 'T')

/* The series records up to the last defined one, the buckets and expiries. */
void chi_inventory_save(const ch_inventory *inv, chi_wr *w)
{
    chi_snap_tag(w, TAG_INV);
    size_t top = inv->max;
    while (top > 0 && !inv->s[top - 1].defined)
        top--;
    chi_put(w, inv->max, 4);
    chi_put(w, top, 4);
    chi_put(w, inv->nb, 4);
    chi_put(w, inv->ne, 4);
    chi_put_bytes(w, inv->s, top * sizeof *inv->s);
    chi_put_bytes(w, inv->b, inv->nb * sizeof *inv->b);
    chi_put_bytes(w, inv->e, inv->ne * sizeof *inv->e);
    chi_put_bytes(w, &inv->total, sizeof inv->total);
}

bool chi_inventory_load(ch_inventory *inv, chi_rd *r)
{
    if (!chi_snap_expect(r, TAG_INV) || chi_get(r, 4) != inv->max)
        return false;
    size_t top = (size_t)chi_get(r, 4), nb = (size_t)chi_get(r, 4), ne = (size_t)chi_get(r, 4);
    if (r->bad || top > inv->max || nb > inv->max || ne > inv->max)
        return false;
    chi_snap_take(r, inv->s, top, sizeof *inv->s);
    chi_snap_take(r, inv->b, nb, sizeof *inv->b);
    chi_snap_take(r, inv->e, ne, sizeof *inv->e);
    chi_snap_take(r, &inv->total, 1, sizeof inv->total);
    inv->nb = nb;
    inv->ne = ne;
    return !r->bad;
}
