/*
 * sim_equal.c - the equal-flow comparison (DESIGN section 10): the
 * clearinghouse, an AMM and a dealer on the same customer fills.
 *
 *   clearinghouse  configuration 1 of the scenario with its hedge policy P;
 *                  every customer fill is recorded (order, arrival step,
 *                  fill step, series, side, lots, price, fee);
 *   amm            for each customer order, the lots the clearinghouse
 *                  filled for it, at the order's arrival, at the AMM's own
 *                  quote (the same engine pool: its pricing, delta term
 *                  included, with no limits), hedged by P with the same
 *                  ch_hedger on the same venue;
 *   dealer         each customer fill, at its step and the clearinghouse's
 *                  price: the dealer takes the other side and at once sends
 *                  a perp order of -delta of that fill alone, then rebalances
 *                  its book with P.
 * All three are measured by sim_model.c. A second block repeats the three
 * with P = hedge every step, which removes the band's effect.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/kit.h"
#include "sim.h"

const char *const sim_model_names[SIM_MODELS] = {"clearinghouse", "amm", "dealer"};

#define M(name)                                                                                    \
    {                                                                                              \
#name, offsetof(sim_metrics, name)                                                         \
    }
const sim_metric_field sim_metric_fields[SIM_METRICS] = {
    M(contracts),        M(hedge_volume),         M(hedge_cost),     M(fees),
    M(slippage),         M(expiry_unwind_cost),   M(funding),        M(hedge_cost_per_contract),
    M(rebalancing_cost), M(peak_capital),         M(mean_abs_gamma), M(mean_abs_vega),
    M(pool_pnl),         M(lp_return_on_capital), M(max_drawdown),   M(customer_cost_per_contract),
    M(fill_ratio),
};
#undef M

double sim_metric(const sim_metrics *m, size_t i)
{
    return *(const double *)((const char *)m + sim_metric_fields[i].off);
}

/* The dealer: every recorded fill taken at its step and price, hedged alone,
 * then the book rebalanced with the policy. */
static bool dealer(const sim_config *c, const sim_run_config *rc, const sim_market *m,
                   const sim_fills *fs, double ordered, sim_metrics *out, char *msg, size_t cap)
{
    ch_hedger *h = kit_hedger_sim(&rc->hedge, &c->venue);
    if (h == NULL) {
        snprintf(msg, cap, "out of memory");
        return false;
    }
    sim_model md;
    sim_model_init(&md, c, m, h);
    md.ordered = ordered;
    size_t next = 0;
    bool ok = true;
    for (size_t k = 0; ok && k < m->n; k++) {
        const sim_step *s = &m->s[k];
        double perp = sim_perp(c, m, k);
        ch_hedger_mark(h, s->t, s->spot, perp, s->funding);
        ch_hedge_book_mark(&md.fill_hedge, s->t, s->spot, perp, s->funding);
        sim_model_settle(&md, k);
        for (; next < fs->n && fs->f[next].k_fill == k; next++) {
            const sim_fill *f = &fs->f[next];
            double sign = f->side == CH_BUY ? 1.0 : -1.0;
            sim_model_customer(&md, k, f);
            sim_model_trade(&md, f->expiry, f->strike, f->type, -sign * (double)f->qty, f->price);
            ch_greeks g;
            double T = ch_years(s->t, f->expiry);
            if (T > 0 && ch_bs(f->type, s->spot, f->strike, T, m->rate, 0,
                               fmax(sim_vol(m, k, f->strike, f->expiry), 1e-4), &g) == CH_OK)
                sim_model_fill_hedge(&md, k, sign * (double)f->qty * g.delta);
        }
        ch_hedge_inputs in = {.now = s->t,
                              .spot = s->spot,
                              .rate = m->rate,
                              .vol = sim_surface_vol(&m->surf, 30.0 / 365, 0) * s->level};
        sim_model_greeks(&md, k, &in.net_delta, &in.gamma, &in.tau);
        in.net_delta += md.fill_hedge.position; /* what the per-fill hedges left */
        ch_err err = ch_hedger_on_batch(h, &in, perp, NULL);
        if (err != CH_OK) {
            snprintf(msg, cap, "dealer: hedge policy: %s", ch_strerror(err));
            ok = false;
            break;
        }
        ch_hedger_poll(h);
        sim_model_close_step(&md, k);
    }
    if (ok && md.oom) {
        snprintf(msg, cap, "dealer: out of memory");
        ok = false;
    }
    if (ok) {
        sim_model_finish(&md, c->pool_capital);
        *out = md.out;
    }
    sim_model_free(&md);
    ch_hedger_destroy(h);
    return ok;
}

bool sim_equal(const sim_config *c, const sim_run_config *rc, const sim_market *m,
               const sim_flow *f, sim_result *ch_res, sim_metrics out[SIM_MODELS], char *msg,
               size_t cap)
{
    sim_fills fs = {0};
    sim_model md;
    sim_result scratch;
    sim_result *res = ch_res != NULL ? ch_res : &scratch;
    int64_t *qty = calloc(f->n > 0 ? f->n : 1, sizeof *qty);
    bool ok = qty != NULL;
    if (!ok)
        snprintf(msg, cap, "out of memory");
    /* the clearinghouse, its fills recorded */
    sim_model_init(&md, c, m, NULL);
    sim_run_opts opts = {.record = &fs, .model = &md};
    if (ok && (ok = sim_run(c, rc, m, f, &opts, res, NULL, NULL, msg, cap)))
        out[SIM_CH] = md.out;
    double ordered = md.ordered;
    sim_model_free(&md);
    if (ch_res == NULL && ok)
        sim_result_free(&scratch);
    /* the AMM: each order's filled lots at its arrival */
    for (size_t i = 0; ok && i < fs.n; i++)
        qty[fs.f[i].order] += fs.f[i].qty;
    if (ok) {
        sim_run_config amm = *rc;
        snprintf(amm.name, sizeof amm.name, "amm");
        sim_model_init(&md, c, m, NULL);
        opts = (sim_run_opts){.model = &md, .amm_qty = qty};
        ok = sim_run(c, &amm, m, f, &opts, &scratch, NULL, NULL, msg, cap);
        if (ok) {
            out[SIM_AMM] = md.out;
            sim_result_free(&scratch);
        }
        sim_model_free(&md);
    }
    if (ok)
        ok = dealer(c, rc, m, &fs, ordered, &out[SIM_DEALER], msg, cap);
    free(qty);
    sim_fills_free(&fs);
    return ok;
}
