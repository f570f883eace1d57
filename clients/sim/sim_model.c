/*
 * sim_model.c - a model's book at equal flow: the options it holds, its cash,
 * and its perp hedges on the simulated venue, valued every step at the
 * scenario's surface (Black-Scholes, as the engine marks), with the metrics
 * the equal-flow report compares (DESIGN section 10).
 *
 * The same code measures the clearinghouse (its house and pool), the AMM
 * and the dealer, so a difference between them is a difference of what they
 * hold and trade, never of how it is counted:
 *   - value = cash + options at the marks + every hedge book (realized,
 *     unrealized at the perp, funding, minus fees; slippage is in the fill
 *     prices); PnL is its change from the start; drawdown from its peak;
 *   - capital = the worst loss of options + perp on the margin's scenario
 *     grid (ch_scenario_defaults: spot ±20 % × vol down/flat/up, the vol
 *     shock by time to expiry), revalued every step; peak_capital its max;
 *   - expiry unwinds: an expiry removes its legs' delta at once (±1 per unit
 *     in the money, netted across legs); the policy's hedge orders of the
 *     next 24 hours, up to that |delta|, are counted as its unwind, their
 *     fees and slippage as `expiry_unwind_cost` (the rest as `fees` and
 *     `slippage`), so the parts add up to the hedge cost.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/kit.h"
#include "sim.h"

bool sim_fills_push(sim_fills *fs, const sim_fill *f)
{
    if (!kit_reserve(&fs->f, &fs->cap, fs->n, sizeof *fs->f, 1024))
        return false;
    fs->f[fs->n++] = *f;
    return true;
}

void sim_fills_free(sim_fills *fs)
{
    free(fs->f);
    memset(fs, 0, sizeof *fs);
}

double sim_vol(const sim_market *m, size_t k, double strike, ch_time expiry)
{
    const sim_step *s = &m->s[k];
    double tau = ch_years(s->t, expiry);
    return sim_surface_vol(&m->surf, tau, log(strike / s->spot)) * s->level;
}

double sim_model_mark(const sim_market *m, size_t k, ch_opt type, double strike, ch_time expiry)
{
    double tau = ch_years(m->s[k].t, expiry);
    if (tau <= 0) {
        double S = m->s[k].spot;
        return type == CH_OPT_CALL ? fmax(S - strike, 0) : fmax(strike - S, 0);
    }
    return ch_bs_price(type, m->s[k].spot, strike, tau, m->rate, 0,
                       fmax(sim_vol(m, k, strike, expiry), 1e-4));
}

double sim_perp(const sim_config *c, const sim_market *m, size_t k)
{
    return m->s[k].spot * (1.0 + c->price.basis_bps * 1e-4);
}

void sim_model_init(sim_model *md, const sim_config *c, const sim_market *m, const ch_hedger *h)
{
    memset(md, 0, sizeof *md);
    md->c = c;
    md->m = m;
    md->h = h;
}

void sim_model_free(sim_model *md)
{
    free(md->leg);
    md->leg = NULL;
    md->n_leg = md->cap_leg = 0;
}

void sim_model_trade(sim_model *md, ch_time expiry, double strike, ch_opt type, double qty,
                     double price)
{
    md->cash -= qty * price;
    for (size_t i = 0; i < md->n_leg; i++) {
        sim_leg *l = &md->leg[i];
        if (l->expiry == expiry && l->strike == strike && l->type == type) {
            l->qty += qty;
            return;
        }
    }
    if (!kit_reserve(&md->leg, &md->cap_leg, md->n_leg, sizeof *md->leg, 64)) {
        md->oom = true;
        return;
    }
    md->leg[md->n_leg++] = (sim_leg){expiry, strike, type, qty};
}

void sim_model_customer(sim_model *md, size_t k, const sim_fill *f)
{
    double mark = sim_model_mark(md->m, k, f->type, f->strike, f->expiry);
    double sign = f->side == CH_BUY ? 1.0 : -1.0;
    md->cust_edge += sign * (f->price - mark) * (double)f->qty + f->fee;
    md->out.contracts += (double)f->qty;
}

void sim_model_settle(sim_model *md, size_t k)
{
    const sim_step *s = &md->m->s[k];
    double removed = 0;
    size_t w = 0;
    for (size_t i = 0; i < md->n_leg; i++) {
        sim_leg *l = &md->leg[i];
        if (l->expiry > s->t) {
            md->leg[w++] = *l;
            continue;
        }
        bool call = l->type == CH_OPT_CALL;
        double payoff = call ? fmax(s->spot - l->strike, 0) : fmax(l->strike - s->spot, 0);
        md->cash += l->qty * payoff;
        if (payoff > 0)
            removed += call ? l->qty : -l->qty;
    }
    md->n_leg = w;
    if (fabs(removed) > 0) {
        md->pending_unwind += fabs(removed);
        md->unwind_until = s->t + SIM_DAY;
    }
}

/* Value and Greeks of the options held at step k (settled legs are gone, so
 * every leg has time left). */
typedef struct book_greeks {
    double value, delta, gamma, vega, tau;
} book_greeks;

static book_greeks greeks_at(const sim_model *md, size_t k)
{
    const sim_market *m = md->m;
    book_greeks b = {0};
    double ga = 0, gt = 0;
    for (size_t i = 0; i < md->n_leg; i++) {
        const sim_leg *l = &md->leg[i];
        double T = ch_years(m->s[k].t, l->expiry);
        ch_greeks gr;
        if (T <= 0 || ch_bs(l->type, m->s[k].spot, l->strike, T, m->rate, 0,
                            fmax(sim_vol(m, k, l->strike, l->expiry), 1e-4), &gr) != CH_OK)
            continue;
        b.value += l->qty * gr.price;
        b.delta += l->qty * gr.delta;
        b.gamma += l->qty * gr.gamma;
        b.vega += l->qty * gr.vega;
        ga += fabs(l->qty * gr.gamma);
        gt += fabs(l->qty * gr.gamma) * T;
    }
    b.tau = ga > 0 ? gt / ga : 30.0 / 365;
    return b;
}

void sim_model_greeks(const sim_model *md, size_t k, double *delta, double *gamma, double *tau)
{
    book_greeks b = greeks_at(md, k);
    *delta = b.delta;
    *gamma = b.gamma;
    *tau = b.tau;
}

void sim_model_fill_hedge(sim_model *md, size_t k, double qty)
{
    ch_hedge_exec x;
    if (fabs(qty) > 0 &&
        ch_perp_execute(&md->c->venue, sim_perp(md->c, md->m, k), qty, &x) == CH_OK)
        ch_hedge_book_fill(&md->fill_hedge, &x);
}

static double book_value(const ch_hedge_book *b, double perp)
{
    return b->realized + ch_hedge_book_unrealized(b, perp) + b->funding - b->fees;
}

/* The worst loss of options + perp on the margin's scenario grid at step k. */
static double worst_loss(const sim_model *md, size_t k, double perp_pos)
{
    const sim_market *m = md->m;
    ch_scenario_config sc;
    ch_scenario_defaults(&sc);
    double pnl[CH_SCEN_MAX_SPOT * 3] = {0};
    double S = m->s[k].spot;
    for (size_t i = 0; i < md->n_leg; i++) {
        const sim_leg *l = &md->leg[i];
        double T = ch_years(m->s[k].t, l->expiry);
        if (T <= 0 || l->qty == 0)
            continue;
        double vol = fmax(sim_vol(m, k, l->strike, l->expiry), 1e-4);
        double v0 = ch_bs_price(l->type, S, l->strike, T, m->rate, 0, vol);
        for (int mode = -1; mode <= 1; mode++) {
            double sv = fmax(vol * ch_scenario_vol_mult(&sc, T, mode), 1e-4);
            for (size_t j = 0; j < sc.n_spot; j++) {
                double v =
                    ch_bs_price(l->type, S * (1 + sc.spot_shocks[j]), l->strike, T, m->rate, 0, sv);
                pnl[j * 3 + (size_t)(mode + 1)] += l->qty * (v - v0);
            }
        }
    }
    double worst = 0;
    for (size_t j = 0; j < sc.n_spot; j++)
        for (size_t v = 0; v < 3; v++)
            worst = fmax(worst, -(pnl[j * 3 + v] + perp_pos * S * sc.spot_shocks[j]));
    return worst;
}

void sim_model_close_step(sim_model *md, size_t k)
{
    const ch_hedge_book *b = ch_hedger_book(md->h);
    /* the policy's orders this step: the unwind of expired delta first */
    double dv = b->volume - md->last_volume;
    double df = b->fees - md->last_fees, ds = b->slippage - md->last_slippage;
    if (md->pending_unwind > 0 && md->m->s[k].t > md->unwind_until)
        md->pending_unwind = 0;
    if (dv > 0) {
        double u = fmin(dv, md->pending_unwind);
        md->pending_unwind -= u;
        md->unwind_cost += (df + ds) * u / dv;
        md->fees += df * (1 - u / dv);
        md->slippage += ds * (1 - u / dv);
    }
    md->last_volume = b->volume;
    md->last_fees = b->fees;
    md->last_slippage = b->slippage;

    /* every model starts with nothing: its PnL is its value */
    book_greeks g = greeks_at(md, k);
    double perp = sim_perp(md->c, md->m, k);
    md->pnl = md->cash + g.value + book_value(b, perp) + book_value(&md->fill_hedge, perp);
    md->peak = fmax(md->peak, md->pnl);
    md->out.max_drawdown = fmax(md->out.max_drawdown, md->peak - md->pnl);
    md->sum_gamma += fabs(g.gamma);
    md->sum_vega += fabs(g.vega);
    md->steps++;
    double pos = b->position + md->fill_hedge.position;
    md->out.peak_capital = fmax(md->out.peak_capital, worst_loss(md, k, pos));
}

void sim_model_finish(sim_model *md, double pool_capital)
{
    const ch_hedge_book *b = ch_hedger_book(md->h), *t = &md->fill_hedge;
    sim_metrics *o = &md->out;
    o->hedge_volume = b->volume + t->volume;
    o->fees = md->fees + t->fees;
    o->slippage = md->slippage + t->slippage;
    o->expiry_unwind_cost = md->unwind_cost;
    o->funding = -(b->funding + t->funding);
    o->hedge_cost = o->fees + o->slippage + o->expiry_unwind_cost + o->funding;
    o->hedge_cost_per_contract = o->contracts > 0 ? o->hedge_cost / o->contracts : 0;
    o->rebalancing_cost = md->fees + md->slippage + md->unwind_cost;
    o->mean_abs_gamma = md->steps > 0 ? md->sum_gamma / (double)md->steps : 0;
    o->mean_abs_vega = md->steps > 0 ? md->sum_vega / (double)md->steps : 0;
    o->pool_pnl = md->pnl;
    o->lp_return_on_capital = pool_capital > 0 ? md->pnl / pool_capital : 0;
    o->customer_cost_per_contract = o->contracts > 0 ? md->cust_edge / o->contracts : 0;
    o->fill_ratio = md->ordered > 0 ? o->contracts / md->ordered : 0;
}
