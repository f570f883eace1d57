/*
 * ops_risk.c - the residual and the hedge, per underlying: the `risk` and
 * `hedge` replies. With `underlying` they answer for that one; without it
 * they keep their version-1 fields for the first underlying and add
 * `underlyings`, every underlying's reply by name (PROTOCOL.md 1.1).
 * Netting figures are each underlying's own: netting never crosses them.
 */
#include "server_int.h"

#include <stdio.h>

/* The risk reply's fields of underlying ui, into out. */
static void risk_fields(ch_server *s, uint32_t ui, cJSON *out)
{
    ch_netting_bucket b[512];
    size_t nb = ch_engine_netting_buckets(s->e, ui, b, 512);
    cJSON *st = cJSON_AddArrayToObject(out, "strikes");
    for (size_t i = 0; i < nb; i++) {
        cJSON *o = cJSON_CreateObject();
        char t[40];
        ch_proto_format_time(b[i].expiry, t, sizeof t);
        cJSON_AddStringToObject(o, "expiry", t);
        cJSON_AddNumberToObject(o, "strike", b[i].strike);
        cJSON_AddNumberToObject(o, "delta", b[i].residual.delta);
        cJSON_AddNumberToObject(o, "gamma", b[i].residual.gamma);
        cJSON_AddNumberToObject(o, "vega", b[i].residual.vega);
        cJSON_AddNumberToObject(o, "gross_gamma", b[i].gross_gamma);
        cJSON_AddNumberToObject(o, "netted_gamma", b[i].netted_gamma);
        cJSON_AddItemToArray(st, o);
    }
    ch_risk_totals t;
    ch_scenario_result sc;
    ch_err e = ch_engine_risk(s->e, ui, &t, &sc);
    cJSON *tot = cJSON_AddObjectToObject(out, "totals");
    cJSON_AddNumberToObject(tot, "delta", t.delta);
    cJSON_AddNumberToObject(tot, "gamma", t.gamma);
    cJSON_AddNumberToObject(tot, "vega", t.vega);
    cJSON_AddNumberToObject(tot, "theta", t.theta);
    cJSON *sa = cJSON_AddArrayToObject(out, "scenarios");
    if (e == CH_OK) {
        for (size_t k = 0; k < sc.n; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "spot_shock", sc.spot_shock[k]);
            cJSON_AddStringToObject(o, "vol_shock",
                                    sc.vol_shock[k] < 0   ? "down"
                                    : sc.vol_shock[k] > 0 ? "up"
                                                          : "flat");
            cJSON_AddNumberToObject(o, "pnl", sc.pnl[k]);
            cJSON_AddItemToArray(sa, o);
        }
        cJSON_AddNumberToObject(out, "worst_loss", sc.worst_loss);
    }
    ch_netting n;
    ch_engine_netting_of(s->e, ui, &n); /* its own fills: netting never crosses underlyings */
    cJSON *no = cJSON_AddObjectToObject(out, "netting");
    cJSON_AddNumberToObject(no, "gross_delta", n.gross_delta);
    const ch_hedge_book *hb = ch_engine_hedge_book(s->e, ui);
    double hedged = hb != NULL ? hb->volume : 0.0;
    cJSON_AddNumberToObject(no, "hedged_delta", hedged);
    /* the ratio's baseline: a dealer hedging every customer leg of every fill */
    cJSON_AddNumberToObject(no, "ratio", ch_netting_ratio(hedged, n.dealer_delta));
    cJSON_AddNumberToObject(no, "dealer_delta", n.dealer_delta);
    cJSON_AddStringToObject(no, "baseline", "dealer");
    cJSON_AddNumberToObject(no, "net_delta", n.net_delta);
    cJSON_AddNumberToObject(no, "gross_gamma", n.gross_gamma);
    cJSON_AddNumberToObject(no, "netted_gamma", n.netted_gamma);
    /* the limits the residual is held to (config; 0: none), for a view to draw */
    const ch_pool_config *pc = &s->cfg.engine.pool;
    cJSON *lim = cJSON_AddObjectToObject(out, "limits");
    cJSON_AddNumberToObject(lim, "pool_max_gamma_strike", pc->max_gamma_strike);
    cJSON_AddNumberToObject(lim, "pool_max_vega_strike", pc->max_vega_strike);
    cJSON_AddNumberToObject(lim, "pool_max_gamma_total", pc->max_gamma_total);
    cJSON_AddNumberToObject(lim, "pool_max_vega_total", pc->max_vega_total);
    cJSON_AddNumberToObject(lim, "pool_max_notional", pc->max_notional);
    cJSON_AddNumberToObject(lim, "house_delta_limit", s->cfg.engine.house_delta_limit);
}

/* The hedge reply's fields of underlying ui (its hedger hg), into out. */
static void hedge_fields(ch_server *s, uint32_t ui, ch_hedger *hg, cJSON *out)
{
    /* the book is the engine's (replayed from the logged fills, marked and
     * funded by market updates); the orders in flight are the hedger's */
    const ch_hedge_book *h = ch_engine_hedge_book(s->e, ui);
    const ch_hedge_policy *pol = ch_hedger_policy(hg);
    const ch_underlying_config *uc = ch_instruments_underlying(ch_engine_instruments(s->e), ui);
    char perp[CH_SYMBOL_MAX];
    snprintf(perp, sizeof perp, "%s-PERP", uc->name);
    cJSON_AddStringToObject(out, "policy", ch_hedge_policy_name(pol->kind));
    cJSON_AddNumberToObject(out, "band", pol->band);
    cJSON_AddStringToObject(out, "perp", perp);
    cJSON_AddNumberToObject(out, "position", h->position);
    cJSON_AddNumberToObject(out, "avg_price", h->avg_price);
    cJSON_AddNumberToObject(out, "fees", h->fees);
    cJSON_AddNumberToObject(out, "slippage", h->slippage);
    cJSON_AddNumberToObject(out, "funding", h->funding);
    cJSON_AddNumberToObject(out, "basis_pnl", h->basis_pnl);
    cJSON_AddNumberToObject(out, "realized", h->realized);
    cJSON_AddNumberToObject(out, "volume", h->volume);
    /* orders sent and refused are the hedger's (an order is logged when
     * sent; the engine books fills only) */
    cJSON_AddNumberToObject(out, "orders", (double)ch_hedger_book(hg)->orders);
    /* where orders go, and what is sent but not yet answered */
    cJSON_AddStringToObject(out, "venue",
                            s->cfg.hedge_venue[0] != '\0' ? s->cfg.hedge_venue : "sim");
    cJSON_AddNumberToObject(out, "in_flight", ch_hedger_in_flight(hg));
    cJSON_AddNumberToObject(out, "in_flight_orders", (double)ch_hedger_in_flight_orders(hg));
    cJSON_AddNumberToObject(out, "fills", (double)h->fills);
    cJSON_AddNumberToObject(out, "rejects", (double)ch_hedger_book(hg)->rejects);
    uint32_t infl = 0;
    uint64_t retries = 0;
    ch_hedger_status(hg, &infl, &retries);
    cJSON_AddNumberToObject(out, "retries", (double)retries);
    /* options + parity forwards + this position: what risk-aware netting
     * prices against */
    cJSON_AddNumberToObject(out, "house_delta", ch_engine_house_delta(s->e, ui));
    ch_netting n;
    ch_engine_netting_of(s->e, ui, &n);
    cJSON_AddNumberToObject(out, "netting_ratio", ch_netting_ratio(h->volume, n.dealer_delta));
    cJSON_AddNumberToObject(out, "cost_per_1m_notional",
                            n.notional > 0 ? (h->fees + h->slippage - h->funding) / n.notional * 1e6
                                           : 0.0);
    /* the option hedges of the vega policy, and the residual vega per expiry */
    const ch_vega_book *vb = ch_engine_vega_book(s->e, ui);
    cJSON *v = cJSON_AddObjectToObject(out, "vega");
    cJSON_AddStringToObject(v, "policy", ch_vega_mode_name(s->cfg.vega.mode));
    cJSON_AddNumberToObject(v, "band", s->cfg.vega.band);
    cJSON_AddNumberToObject(v, "orders", (double)vb->orders);
    cJSON_AddNumberToObject(v, "contracts", (double)vb->contracts);
    cJSON_AddNumberToObject(v, "premium", vb->premium);
    cJSON_AddNumberToObject(v, "fees", vb->fees);
    cJSON_AddNumberToObject(v, "spread_cost", vb->spread_cost);
    cJSON_AddNumberToObject(v, "vega_traded", vb->vega_traded);
    size_t opt_infl = 0;
    for (size_t i = 0; i < s->n_opt_flight; i++)
        opt_infl += s->opt_flight[i].und == ui;
    cJSON_AddNumberToObject(v, "in_flight_orders", (double)opt_infl);
    cJSON_AddStringToObject(v, "venue", s->opt_adapter.ops != NULL ? s->cfg.hedge_venue : "sim");
    ch_vega_exposure x[64];
    size_t nx = ch_engine_vega_exposures(s->e, ui, x, 64);
    cJSON *res = cJSON_AddArrayToObject(v, "residual");
    for (size_t i = 0; i < nx && i < 64; i++) {
        char t[40];
        ch_proto_format_time(x[i].expiry, t, sizeof t);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "expiry", t);
        cJSON_AddNumberToObject(o, "vega", x[i].vega);
        cJSON_AddItemToArray(res, o);
    }
}

void chi_publish_risk(ch_server *s)
{
    const ch_instruments *reg = ch_engine_instruments(s->e);
    uint32_t n = ch_instruments_underlying_count(reg);
    int64_t now = mono_now();
    for (uint32_t u = 0; u < n && u < CHI_MAX_UND; u++) {
        if (!s->risk_dirty[u] || now - s->risk_at[u] < 100 * 1000000LL)
            continue; /* unchanged, or one left less than 100 ms ago: a later batch sends it */
        s->risk_dirty[u] = false;
        s->risk_at[u] = now;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "underlying", ch_instruments_underlying(reg, u)->name);
        risk_fields(s, u, o);
        chi_publish(s, "risk", o);
    }
}

ch_err chi_op_risk(ch_server *s, req_ctx *r)
{
    uint32_t ui;
    bool given;
    ch_err ue = chi_opt_underlying(s, r, &ui, &given);
    if (ue != CH_OK)
        return ue;
    risk_fields(s, ui, r->out);
    if (given)
        return CH_OK;
    const ch_instruments *reg = ch_engine_instruments(s->e);
    cJSON *all = cJSON_AddObjectToObject(r->out, "underlyings");
    for (uint32_t u = 0; u < ch_instruments_underlying_count(reg); u++) {
        cJSON *o = cJSON_AddObjectToObject(all, ch_instruments_underlying(reg, u)->name);
        risk_fields(s, u, o);
    }
    return CH_OK;
}

ch_err chi_op_hedge(ch_server *s, req_ctx *r)
{
    uint32_t ui;
    bool given;
    ch_err ue = chi_opt_underlying(s, r, &ui, &given);
    if (ue != CH_OK)
        return ue;
    const ch_instruments *reg = ch_engine_instruments(s->e);
    uint32_t n = ch_instruments_underlying_count(reg);
    for (uint32_t u = given ? ui : 0; u < (given ? ui + 1 : n); u++)
        if (chi_hedger(s, u) == NULL)
            FAIL(CH_ENOMEM, "out of memory");
    hedge_fields(s, ui, chi_hedger(s, ui), r->out);
    if (given)
        return CH_OK;
    cJSON *all = cJSON_AddObjectToObject(r->out, "underlyings");
    for (uint32_t u = 0; u < n; u++) {
        cJSON *o = cJSON_AddObjectToObject(all, ch_instruments_underlying(reg, u)->name);
        hedge_fields(s, u, chi_hedger(s, u), o);
    }
    return CH_OK;
}
