/*
 * sim_report.c - what chsim writes: report.json (every figure per
 * configuration), report.md (the comparison tables), series-N.csv (the time
 * series of configuration N), pnl.csv (the attribution, for plotting),
 * flow.csv (the orders, replayable), plots.gp and the PNGs it draws when
 * gnuplot is installed.
 *
 * Numbers are printed with fixed formats and nothing depends on the wall
 * clock or the machine, so a seed gives the same bytes every run.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static const char *const k_src[3] = {"book", "net", "pool"};

/* Rounding noise printed as 0, not "-0.00". */
static double z(double x)
{
    return fabs(x) < 0.005 ? 0.0 : x;
}

double sim_hedge_cost(const sim_result *r)
{
    return r->hedge_fees + r->hedge_slippage - r->hedge_funding;
}

double sim_contracts(const sim_result *r)
{
    return 2.0 * (double)(r->lots[0] + r->lots[1]) + (double)r->lots[2];
}

static void date_of(ch_time t, char *buf, size_t cap)
{
    time_t s = (time_t)(t / CH_NS_PER_SEC);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M", &tm);
}

/* JSON string body: the names are ours or the config's (no control characters allowed). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static const char *price_source(const sim_config *c)
{
    return c->price.source == SIM_PRICE_CSV ? c->price.file : "gbm";
}

static const char *funding_source(const sim_config *c)
{
    static const char *const names[] = {"csv", "constant", "generated"};
    return c->funding.source == SIM_FUND_CSV ? c->funding.file : names[c->funding.source];
}

/* Open a report file; the scenario's first and last step as dates. */
static FILE *open_report(const char *path, const sim_market *m, char d0[32], char d1[32])
{
    date_of(m->s[0].t, d0, 32);
    date_of(m->s[m->n - 1].t, d1, 32);
    return fopen(path, "w");
}

/* The second underlying's scenario (report.json's "second_underlying"). */
static void json_second(FILE *f, const sim_config *c, const sim_market *m, const sim_lane_input *s2)
{
    const sim_market *m2 = s2->m;
    double fund = 0;
    for (size_t k = 0; k < m2->n; k++)
        fund += m2->s[k].funding / (double)m2->n;
    fprintf(f, ",\n    \"second_underlying\": {\"name\": ");
    json_str(f, s2->c->underlying);
    fprintf(f,
            ", \"price\": \"generated, correlated\", \"correlation\": %.4f, "
            "\"realized_correlation\": %.4f, \"sigma\": %.4f, \"spot_start\": %.2f, "
            "\"spot_end\": %.2f, \"funding\": \"generated\", \"funding_mean\": %.8f, "
            "\"tick\": %g, \"strike_step\": %g, \"hedge_size_scale\": %.6f, \"orders\": %zu}",
            c->second.correlation, sim_market_correlation(m, m2), c->second.sigma, m2->s[0].spot,
            m2->s[m2->n - 1].spot, fund, s2->c->tick, s2->c->chain.strike_step,
            m->s[0].spot / m2->s[0].spot, s2->f->n);
}

static bool write_json(const char *path, const sim_config *c, const sim_market *m,
                       const sim_flow *fl, const sim_lane_input *s2, const sim_result *res,
                       size_t n, const sim_seeds *sd)
{
    char d0[32], d1[32];
    FILE *f = open_report(path, m, d0, d1);
    if (f == NULL)
        return false;
    fprintf(f, "{\n  \"scenario\": {\n    \"seed\": %" PRIu64 ",\n    \"start\": ", c->seed);
    json_str(f, d0);
    fprintf(f, ",\n    \"end\": ");
    json_str(f, d1);
    fprintf(f, ",\n    \"steps\": %zu,\n    \"step_seconds\": %" PRId64 ",\n    \"price\": ", m->n,
            c->step_seconds);
    json_str(f, price_source(c));
    fprintf(f, ",\n    \"funding\": ");
    json_str(f, funding_source(c));
    fprintf(f, ",\n    \"chain\": ");
    json_str(f, c->chain.flat_vol > 0 ? "flat" : c->chain.file);
    fprintf(f, ",\n    \"underlying\": ");
    json_str(f, c->underlying);
    fprintf(f,
            ",\n    \"spot_start\": %.2f,\n    \"spot_end\": %.2f,\n    \"atm_vol_30d\": %.4f,\n"
            "    \"orders\": %zu",
            m->s[0].spot, m->s[m->n - 1].spot, m->surf.atm30, fl->n);
    if (s2 != NULL)
        json_second(f, c, m, s2);
    fprintf(f, "\n  },\n  \"configurations\": [\n");
    for (size_t i = 0; i < n; i++) {
        const sim_result *r = &res[i];
        fprintf(f, "    {\n      \"name\": ");
        json_str(f, r->name);
        fprintf(f, ",\n      \"underlying\": ");
        json_str(f, r->underlying);
        fprintf(f, ",\n      \"engine\": \"%s\",\n", r->chd ? "chd" : "in_process");
        if (r->chd)
            fprintf(f,
                    "      \"shift_weeks\": %" PRId64 ",\n"
                    "      \"split_market_updates\": %" PRIu64 ",\n"
                    "      \"not_available\": [\"internal\", \"netting\", "
                    "\"dynamic_pricing\", \"pnl\", \"trade_by_trade_hedge_cost\", "
                    "\"option_notional\"],\n"
                    "      \"hedge_policy\": \"%s\",\n",
                    r->shift_weeks, r->split_updates, ch_hedge_policy_name(r->run.hedge.kind));
        else
            fprintf(f,
                    "      \"internal\": %s,\n      \"netting\": %s,\n"
                    "      \"dynamic_pricing\": %s,\n      \"hedge_policy\": \"%s\",\n",
                    r->run.internal ? "true" : "false", r->run.netting ? "true" : "false",
                    r->run.dynamic_pricing ? "true" : "false",
                    ch_hedge_policy_name(r->run.hedge.kind));
        fprintf(f, "      \"orders\": %" PRIu64 ",\n      \"rejected\": %" PRIu64 ",\n", r->orders,
                r->rejected);
        fprintf(f, "      \"fills\": {");
        for (int s = 0; s < 3; s++)
            fprintf(f, "%s\"%s\": %" PRIu64, s ? ", " : "", k_src[s], r->fills[s]);
        if (r->chd) {
            fprintf(f, "},\n      \"daemon_fills\": {");
            for (int s = 0; s < 3; s++)
                fprintf(f, "%s\"%s\": %" PRIu64, s ? ", " : "", k_src[s], r->daemon_fills[s]);
        }
        fprintf(f, "},\n      \"contracts\": {");
        for (int s = 0; s < 3; s++)
            fprintf(f, "%s\"%s\": %" PRId64, s ? ", " : "", k_src[s], r->lots[s]);
        fprintf(f,
                "},\n      \"internal_share\": %.6f,\n      \"gross_delta\": %.4f,\n"
                "      \"netting_ratio\": %.6f,\n      \"hedge_volume\": %.4f,\n"
                "      \"hedge_orders\": %" PRIu64 ",\n      \"hedge_cost\": %.2f,\n"
                "      \"hedge_fees\": %.2f,\n      \"hedge_slippage\": %.2f,\n"
                "      \"hedge_funding_received\": %.2f,\n",
                r->internal_share, r->gross_delta, r->netting_ratio, r->hedge_volume,
                r->hedge_orders, sim_hedge_cost(r), r->hedge_fees, r->hedge_slippage,
                r->hedge_funding);
        if (!r->chd)
            fprintf(
                f, "      \"trade_by_trade_hedge_cost\": %.2f,\n      \"option_notional\": %.2f,\n",
                r->tbt_cost, r->notional);
        fprintf(f, "      \"taker_fees_collected\": %.2f,\n      \"pool_pnl\": %.2f,\n",
                r->taker_fees, r->pool_pnl);
        if (!r->chd) {
            fprintf(f, "      \"pnl\": {");
            for (int p = 0; p < SIM_PNL_N; p++)
                fprintf(f, "%s\"%s\": %.2f", p ? ", " : "", sim_pnl_names[p], z(r->pnl[p]));
            fprintf(f, "},\n");
        }
        if (r->run.vega.mode != CH_VEGA_OFF)
            fprintf(f,
                    "      \"vega_hedge\": {\"mode\": \"%s\", \"band\": %.2f, \"orders\": %" PRIu64
                    ", \"contracts\": %" PRId64 ", \"fees\": %.2f, \"spread_cost\": %.2f, "
                    "\"premium_paid\": %.2f, \"max_abs_residual_vega\": %.2f},\n",
                    ch_vega_mode_name(r->run.vega.mode), r->run.vega.band, r->vega_orders,
                    r->vega_contracts, r->vega_fees, r->vega_spread_cost, r->vega_premium,
                    r->vega_abs_max);
        if (r->n_lp > 1) { /* the LP entities: the general pool and the tranches */
            fprintf(f, "      \"lps\": [");
            for (uint32_t k = 0; k < r->n_lp; k++) {
                const sim_lp *l = &r->lp[k];
                fprintf(f,
                        "%s\n        {\"name\": \"%s\", \"strike_lo\": %.0f, \"strike_hi\": %.0f, "
                        "\"capital\": %.2f, \"nav\": %.2f, \"return\": %.6f, "
                        "\"max_drawdown\": %.2f, \"max_utilisation\": %.4f, \"contracts\": %" PRId64
                        "}",
                        k ? "," : "", l->name, l->strike_lo, l->strike_hi, l->capital, l->nav_end,
                        l->ret, l->max_drawdown, l->util_max, l->lots);
            }
            fprintf(f, "\n      ],\n");
        }
        fprintf(
            f,
            "      \"max_drawdown\": %.2f,\n      \"final\": {\"delta\": %.4f, "
            "\"gamma\": %.6f, \"vega\": %.2f},\n      \"series\": \"series-%zu.csv\"\n    }%s\n",
            r->max_drawdown, r->final_delta, r->final_gamma, r->final_vega, i + 1,
            i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]");
    if (sd != NULL)
        sim_report_eq_json(f, sd);
    fprintf(f, "\n}\n");
    return fclose(f) == 0;
}

void sim_report_table(FILE *f, const sim_result *res, size_t n)
{
    bool one = true; /* one underlying: its name in the header, else in each row's name */
    for (size_t i = 1; i < n; i++)
        one = one && strcmp(res[i].underlying, res[0].underlying) == 0;
    fprintf(f,
            "| configuration | contracts | internal fills | netting ratio | hedge volume %s "
            "| hedge orders | hedge cost USD | per contract | trade-by-trade cost USD "
            "| pool PnL USD | max drawdown USD |\n",
            one && n > 0 ? res[0].underlying : "(underlying units)");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < n; i++) {
        const sim_result *r = &res[i];
        char tbt[32];
        if (r->chd)
            snprintf(tbt, sizeof tbt, "n/a");
        else
            snprintf(tbt, sizeof tbt, "%.0f", r->tbt_cost);
        double k = sim_contracts(r);
        fprintf(f,
                "| %s | %.0f | %.1f%% | %.3f | %.1f | %" PRIu64 " | %.0f | %.2f | %s | %.0f "
                "| %.0f |\n",
                r->name, k, 100 * r->internal_share, r->netting_ratio, r->hedge_volume,
                r->hedge_orders, sim_hedge_cost(r), k > 0 ? sim_hedge_cost(r) / k : 0, tbt,
                r->pool_pnl, r->max_drawdown);
    }
}

static bool write_md(const char *path, const sim_config *c, const sim_market *m, const sim_flow *fl,
                     const sim_lane_input *s2, const sim_result *res, size_t n, const sim_seeds *sd)
{
    char d0[32], d1[32];
    FILE *f = open_report(path, m, d0, d1);
    if (f == NULL)
        return false;
    fprintf(f, "# chsim report\n\n");
    fprintf(f,
            "Scenario: %s to %s UTC, %zu steps of %" PRId64 " s, seed %" PRIu64
            "; spot %s (%.0f to %.0f USD), funding %s, smile %s (30-day ATM vol %.1f%%); "
            "%zu customer orders.\n\n",
            d0, d1, m->n, c->step_seconds, c->seed, price_source(c), m->s[0].spot,
            m->s[m->n - 1].spot, funding_source(c), c->chain.flat_vol > 0 ? "flat" : c->chain.file,
            100 * m->surf.atm30, fl->n);
    if (s2 != NULL) {
        const sim_market *m2 = s2->m;
        fprintf(f,
                "Two underlyings in one engine: %s as above and %s, whose spot is generated "
                "(%.0f to %.0f USD, %.0f%% vol a year, log returns correlated with %s's by "
                "%.2f, measured %.3f), funding generated (mean-reverting, seeded), smile and "
                "strikes from the chain by moneyness (strike step %g USD, tick %g USD); "
                "%zu customer orders from the same traders. Hedge bands, order sizes and the "
                "venue's depth are %s's scaled by the ratio of starting spots (%.2f), so both "
                "hedge at the same USD notional. Each configuration has a row per underlying "
                "([%s], [%s]): fills, netting and hedging are that underlying's; its PnL is its "
                "part of the house and pool's equity plus its hedge book. The traders' margin, "
                "the house and the pool are shared.\n\n",
                c->underlying, s2->c->underlying, m2->s[0].spot, m2->s[m2->n - 1].spot,
                100 * c->second.sigma, c->underlying, c->second.correlation,
                sim_market_correlation(m, m2), s2->c->chain.strike_step, s2->c->tick, s2->f->n,
                c->underlying, m->s[0].spot / m2->s[0].spot, c->underlying, s2->c->underlying);
    }
    for (size_t i = 0; i < n; i++)
        if (res[i].chd)
            fprintf(f,
                    "Engine: a running chd, through its protocol (chsim --chd), one "
                    "configuration: the daemon's. The scenario's times were shifted by %" PRId64
                    " weeks for it (chd's clock never goes back). Not available in daemon "
                    "mode: the PnL attribution (only the total: house + pool equity at "
                    "chd's marks plus the hedge book), the trade-by-trade baseline (fills "
                    "carry no delta) and the option notional.\n\n",
                    res[i].shift_weeks);
    fprintf(f, "## Netting and hedging\n\n");
    sim_report_table(f, res, n);
    fprintf(f, "\nInternal fills: contracts filled by the book or parity netting. Netting ratio: "
               "1 - hedge volume / the delta a dealer would have sent (every customer leg of every "
               "fill, both sides of a book or parity match). Hedge "
               "cost: fees + slippage - funding received; per contract: over the contracts, "
               "each customer side counted (book and parity fills twice). Trade-by-trade cost: "
               "what hedging every fill's delta on its own would have cost on the same venue. "
               "These configurations see unequal flow: each fills what its own prices meet; "
               "the equal-flow section below compares at the same fills.\n\n");
    bool any_vega = false;
    for (size_t i = 0; i < n; i++)
        any_vega |= res[i].run.vega.mode != CH_VEGA_OFF;
    if (any_vega && n > 0) {
        const sim_result *b = &res[0];
        fprintf(f,
                "## Vega hedging\n\nThe perpetual cannot touch vega: these configurations also "
                "trade options at a simulated options venue (the mark's vol +/- half a vol point, "
                "a fee of 0.03 %% of the index capped at 12.5 %% of the premium) when the "
                "residual vega leaves the band, at the listed strike nearest the index. Beside "
                "them, the first configuration (%s), which does not.\n\n"
                "| configuration | policy | option orders | contracts | fees USD | spread paid "
                "USD | largest residual vega USD/vol pt | pool PnL USD | max drawdown USD |\n"
                "|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
                "| %s | off | 0 | 0 | 0 | 0 | %.0f | %.0f | %.0f |\n",
                b->name, b->name, b->vega_abs_max / 100, b->pool_pnl, b->max_drawdown);
        for (size_t i = 0; i < n; i++) {
            const sim_result *r = &res[i];
            if (r->run.vega.mode == CH_VEGA_OFF)
                continue;
            fprintf(f,
                    "| %s | %s, band %.0f | %" PRIu64 " | %" PRId64 " | %.0f | %.0f | %.0f | %.0f "
                    "| %.0f |\n",
                    r->name, ch_vega_mode_name(r->run.vega.mode), r->run.vega.band / 100,
                    r->vega_orders, r->vega_contracts, r->vega_fees, r->vega_spread_cost,
                    r->vega_abs_max / 100, r->pool_pnl, r->max_drawdown);
        }
        fprintf(f, "\nVega in USD per vol point (a band of 1,000 is 100,000 per 1.00 of vol). "
                   "The options' fees and spread are in the attribution's fees and slippage; "
                   "their delta is the perp hedge's.\n\n");
    }
    for (size_t i = 0; i < n; i++) {
        const sim_result *r = &res[i];
        if (r->n_lp <= 1)
            continue;
        fprintf(f,
                "## Liquidity per strike: %s\n\nThe LP capital split between the general pool "
                "and strike tranches (bands of strikes around the starting spot); each takes the "
                "pool's side of trades at its strikes, pro rata to free capital, and its NAV "
                "carries its options and its share of the house's value (by delta).\n\n"
                "| LP | strikes | capital USD | contracts taken | NAV USD | return | max "
                "drawdown USD | drawdown / capital | highest utilisation |\n"
                "|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
                r->name);
        for (uint32_t k = 0; k < r->n_lp; k++) {
            const sim_lp *l = &r->lp[k];
            char band[48];
            if (k == 0)
                snprintf(band, sizeof band, "the rest");
            else if (l->strike_hi >= (double)CH_STRIKE_MAX)
                snprintf(band, sizeof band, "%.0f and above", l->strike_lo);
            else
                snprintf(band, sizeof band, "%.0f to %.0f", l->strike_lo, l->strike_hi);
            char util[16] = "n/a";
            if (k > 0)
                snprintf(util, sizeof util, "%.1f%%", 100 * l->util_max);
            fprintf(f, "| %s | %s | %.0f | %" PRId64 " | %.0f | %.3f%% | %.0f | %.3f%% | %s |\n",
                    l->name, band, l->capital, l->lots, l->nav_end, 100 * l->ret, l->max_drawdown,
                    l->capital > 0 ? 100 * l->max_drawdown / l->capital : 0, util);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "## Fills by source (contracts)\n\n| configuration | book | net | pool | orders "
               "| rejected |\n|---|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "| %s | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRIu64 " | %" PRIu64 " |\n",
                res[i].name, res[i].lots[0], res[i].lots[1], res[i].lots[2], res[i].orders,
                res[i].rejected);
    fprintf(f, "\n## Pool PnL attribution (USD, house + pool + hedge book)\n\n| configuration |");
    for (int p = 0; p < SIM_PNL_N; p++)
        fprintf(f, " %s |", sim_pnl_names[p]);
    fprintf(f, " total |\n|---|");
    for (int p = 0; p <= SIM_PNL_N; p++)
        fprintf(f, "---:|");
    fprintf(f, "\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "| %s |", res[i].name);
        for (int p = 0; p < SIM_PNL_N; p++)
            if (res[i].chd)
                fprintf(f, " n/a |");
            else
                fprintf(f, " %.0f |", z(res[i].pnl[p]));
        fprintf(f, " %.0f |\n", res[i].pool_pnl);
    }
    fprintf(f, "\nspread: edge against the mark at trade time (half-spread, inventory premium, "
               "netting fee, tick rounding); delta: options (delta x dS) and perp against the "
               "spot; vega, theta, gamma: the options held between steps revalued along vol, "
               "then time (expiry included), then spot (gamma: the spot move beyond delta); "
               "funding: received on the perp; fees, slippage: the hedge's; other: where the "
               "engine's marks differ from that revaluation.\n");
    if (sd != NULL)
        sim_report_eq_md(f, sd);
    return fclose(f) == 0;
}

static bool write_series(const char *dir, const sim_result *res, size_t n)
{
    char path[SIM_PATH_MAX + 32];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/series-%zu.csv", dir, i + 1);
        FILE *f = fopen(path, "w");
        if (f == NULL)
            return false;
        fprintf(f, "time,hours,spot,atm_vol,option_delta,hedge_position,net_delta,gamma,vega,"
                   "pnl,hedge_cost,contracts\n");
        for (size_t k = 0; k < res[i].n_points; k++) {
            const sim_point *p = &res[i].points[k];
            fprintf(f, "%" PRId64 ",%.2f,%.2f,%.4f,%.4f,%.4f,%.4f,%.6f,%.2f,%.2f,%.2f,%.0f\n",
                    p->t / CH_NS_PER_SEC, (double)(p->t - res[i].points[0].t) / (double)SIM_HOUR,
                    p->spot, p->atm_vol, p->option_delta, p->hedge_position,
                    p->option_delta + p->hedge_position, p->gamma, p->vega, p->pnl, p->hedge_cost,
                    p->pool_contracts);
        }
        if (fclose(f) != 0)
            return false;
    }
    snprintf(path, sizeof path, "%s/pnl.csv", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fprintf(f, "configuration");
    for (int p = 0; p < SIM_PNL_N; p++)
        fprintf(f, ",%s", sim_pnl_names[p]);
    fprintf(f, ",total\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "\"%zu %s\"", i + 1, res[i].name);
        for (int p = 0; p < SIM_PNL_N; p++) /* daemon mode: no attribution, empty cells */
            if (res[i].chd)
                fprintf(f, ",");
            else
                fprintf(f, ",%.2f", z(res[i].pnl[p]));
        fprintf(f, ",%.2f\n", res[i].pool_pnl);
    }
    return fclose(f) == 0;
}

/* gnuplot title text: no double quotes inside */
static void gp_title(FILE *f, size_t i, const char *name)
{
    fprintf(f, "\"%zu ", i + 1);
    for (; *name; name++)
        fputc(*name == '"' ? '\'' : *name, f);
    fputc('"', f);
}

static void gp_lines(FILE *f, size_t n, const sim_result *res, const char *col)
{
    fprintf(f, "plot ");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s'series-%zu.csv' using ($2/24):(%s) with lines ls %zu title ",
                i ? ", \\\n  " : "", i + 1, col, i % 9 + 1);
        gp_title(f, i, res[i].name);
    }
    fprintf(f, "\n");
}

static bool write_gnuplot(const char *path, const sim_result *res, size_t n, const sim_seeds *seeds)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    static const char *const colors[9] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#17becf"};
    fprintf(f, "# chsim plots: gnuplot plots.gp (in this directory)\n"
               "set datafile separator ','\nset key outside right top box opaque\n"
               "set grid\nset xlabel 'day'\nset format y '%%.0f'\n"
               "set lmargin 12\nset rmargin at screen 0.78\n");
    for (int i = 0; i < 9; i++)
        fprintf(f, "set style line %d lc rgb '%s' lw 2 dt %d\n", i + 1, colors[i], i < 5 ? 1 : 2);
    /* inventory: spot, the options' net delta, the hedge position */
    const char *und = n > 0 ? res[0].underlying : "";
    bool one = true; /* one underlying: deltas in its units; else each row's own */
    for (size_t i = 1; i < n; i++)
        one = one && strcmp(res[i].underlying, und) == 0;
    fprintf(f,
            "set terminal pngcairo size 1400,1100 font 'sans,11'\nset output 'inventory.png'\n"
            "set multiplot layout 3,1 title 'Inventory of the house and pool over time'\n"
            "set ylabel 'USD'\nset title '%s index'\n"
            "plot 'series-1.csv' using ($2/24):3 every ::1 with lines lc rgb 'black' lw 2 "
            "title 'spot'\n"
            "set ylabel '%s'\nset title 'net delta of the options (house + pool), before "
            "hedging'\n",
            und, one ? und : "units of each underlying");
    gp_lines(f, n, res, "$5");
    fprintf(f, "set title 'hedge position (perpetual)'\n");
    gp_lines(f, n, res, "$6");
    fprintf(f, "unset multiplot\n");
    fprintf(f, "set terminal pngcairo size 1400,700 font 'sans,11'\nset output 'hedge_cost.png'\n"
               "set title 'Cumulative hedge cost (fees + slippage - funding received)'\n"
               "set ylabel 'USD'\n");
    gp_lines(f, n, res, "$11");
    fprintf(f, "set output 'pnl.png'\nset title 'Cumulative PnL of house + pool + hedge "
               "book'\nset ylabel 'USD'\n");
    gp_lines(f, n, res, "$10");
    /* attribution: one cluster per configuration, one bar per component */
    fprintf(f,
            "set terminal pngcairo size 1400,800 font 'sans,11'\nset output "
            "'pnl_breakdown.png'\nset title 'PnL attribution per configuration'\n"
            "set style data histograms\nset style histogram clustered gap 2\n"
            "set style fill solid 0.9 border -1\nset boxwidth 0.9\nset xtics rotate by -25 "
            "left\nset xlabel ''\nset ylabel 'USD'\nset key autotitle columnhead\n"
            "set xzeroaxis lt -1\nset ylabel 'thousand USD'\n"
            "plot 'pnl.csv' using ($2/1000):xtic(1) lc rgb '%s'",
            colors[0]);
    for (int p = 1; p <= SIM_PNL_N; p++) /* the components, then the total in black */
        fprintf(f, ", '' using ($%d/1000) lc rgb '%s'", p + 2, p < 9 ? colors[p] : "#000000");
    fprintf(f, "\n");
    if (seeds != NULL && seeds->equal_flow)
        sim_report_eq_gnuplot(f, seeds);
    return fclose(f) == 0;
}

static bool gnuplot_available(void)
{
    FILE *p = popen("gnuplot --version 2>/dev/null", "r");
    if (p == NULL)
        return false;
    char buf[64];
    bool got = fgets(buf, sizeof buf, p) != NULL;
    return pclose(p) == 0 && got;
}

bool sim_report_write(const char *dir, const sim_config *c, const sim_market *m, const sim_flow *f,
                      const sim_lane_input *second, const sim_result *res, size_t n,
                      const sim_seeds *seeds, bool plots, bool *plotted, char *msg, size_t cap)
{
    char path[SIM_PATH_MAX + 32];
    *plotted = false;
    snprintf(path, sizeof path, "%s/report.json", dir);
    bool ok = write_json(path, c, m, f, second, res, n, seeds);
    if (ok) {
        snprintf(path, sizeof path, "%s/report.md", dir);
        ok = write_md(path, c, m, f, second, res, n, seeds);
    }
    if (ok)
        ok = write_series(dir, res, n);
    if (ok) {
        snprintf(path, sizeof path, "%s/flow.csv", dir);
        ok = sim_flow_write(path, f);
    }
    if (ok && second != NULL) { /* the second underlying's orders */
        snprintf(path, sizeof path, "%s/flow-%s.csv", dir, second->c->underlying);
        ok = sim_flow_write(path, second->f);
    }
    if (ok && seeds != NULL && seeds->equal_flow) {
        snprintf(path, sizeof path, "%s/equal_flow.csv", dir);
        ok = sim_report_eq_csv(path, seeds);
    }
    if (ok) {
        snprintf(path, sizeof path, "%s/plots.gp", dir);
        ok = write_gnuplot(path, res, n, seeds);
    }
    if (!ok) {
        snprintf(msg, cap, "%s: cannot write", path);
        return false;
    }
    if (!plots || !gnuplot_available())
        return true;
    /* the directory name goes to the shell: quote it */
    char cmd[3 * SIM_PATH_MAX];
    size_t w = (size_t)snprintf(cmd, sizeof cmd, "cd '");
    for (const char *s = dir; *s && w + 8 < sizeof cmd; s++) {
        if (*s == '\'') {
            memcpy(cmd + w, "'\\''", 4);
            w += 4;
        } else {
            cmd[w++] = *s;
        }
    }
    snprintf(cmd + w, sizeof cmd - w, "' && gnuplot plots.gp");
    if (system(cmd) != 0) {
        snprintf(msg, cap, "gnuplot failed on %s/plots.gp", dir);
        return false;
    }
    *plotted = true;
    return true;
}
