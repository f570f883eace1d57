/*
 * sim_report_eq.c - the report's sections across seeds: the equal-flow
 * comparison of the clearinghouse, the AMM and the dealer (per seed and
 * summarized: mean, min, max), and the configurations' hedge cost per
 * contract per seed (unequal flow).
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

static const char *const k_blocks[2] = {"equal_flow", "equal_flow_every_step"};

static void stats(const sim_seeds *sd, int b, int model, size_t metric, double *mean, double *lo,
                  double *hi)
{
    double sum = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < sd->n; i++) {
        double v = sim_metric(&sd->s[i].eq[b][model], metric);
        sum += v;
        *lo = fmin(*lo, v);
        *hi = fmax(*hi, v);
    }
    *mean = sd->n > 0 ? sum / (double)sd->n : 0;
}

static void json_metrics(FILE *f, const sim_metrics *m)
{
    for (size_t j = 0; j < SIM_METRICS; j++)
        fprintf(f, "%s\"%s\": %.10g", j ? ", " : "", sim_metric_fields[j].name, sim_metric(m, j));
}

void sim_report_eq_json(FILE *f, const sim_seeds *sd)
{
    fprintf(f, ",\n  \"seeds\": [");
    for (size_t i = 0; i < sd->n; i++) {
        const sim_seed *s = &sd->s[i];
        fprintf(f, "%s\n    {\"seed\": %" PRIu64 ", \"configurations\": [", i ? "," : "", s->seed);
        for (size_t r = 0; r < sd->n_runs; r++)
            fprintf(f, "%s{\"contracts\": %.0f, \"hedge_cost\": %.2f, \"pool_pnl\": %.2f}",
                    r ? ", " : "", s->contracts[r], s->hedge_cost[r], s->pool_pnl[r]);
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ]");
    for (int b = 0; b < 2; b++) {
        if (!sd->equal_flow) {
            fprintf(f, ",\n  \"%s\": {\"available\": false, \"reason\": \"%s\"}", k_blocks[b],
                    sd->why_not);
            continue;
        }
        fprintf(f, ",\n  \"%s\": {\n    \"runs\": [", k_blocks[b]);
        for (size_t i = 0; i < sd->n; i++) {
            fprintf(f, "%s\n      {\"seed\": %" PRIu64 ", \"models\": [", i ? "," : "",
                    sd->s[i].seed);
            for (int m = 0; m < SIM_MODELS; m++) {
                fprintf(f, "%s\n        {\"model\": \"%s\", ", m ? "," : "", sim_model_names[m]);
                json_metrics(f, &sd->s[i].eq[b][m]);
                fprintf(f, "}");
            }
            fprintf(f, "]}");
        }
        fprintf(f, "\n    ],\n    \"summary\": [");
        for (int m = 0; m < SIM_MODELS; m++) {
            fprintf(f, "%s\n      {\"model\": \"%s\"", m ? "," : "", sim_model_names[m]);
            for (size_t j = 0; j < SIM_METRICS; j++) {
                double mean, lo, hi;
                stats(sd, b, m, j, &mean, &lo, &hi);
                fprintf(f, ", \"%s\": {\"mean\": %.10g, \"min\": %.10g, \"max\": %.10g}",
                        sim_metric_fields[j].name, mean, lo, hi);
            }
            fprintf(f, "}");
        }
        fprintf(f, "\n    ]\n  }");
    }
}

/* How many seeds meet the equal-flow targets (DESIGN section 10). */
static void targets(FILE *f, const sim_seeds *sd)
{
    size_t half = 0, per_contract = 0, capital = 0, table = 0;
    for (size_t i = 0; i < sd->n; i++) {
        const sim_metrics *e = sd->s[i].eq[0];
        double dealer = e[SIM_DEALER].hedge_cost;
        half += dealer > 0 ? e[SIM_CH].hedge_cost <= 0.5 * dealer : e[SIM_CH].hedge_cost <= dealer;
        per_contract += e[SIM_CH].hedge_cost_per_contract < e[SIM_AMM].hedge_cost_per_contract;
        capital += e[SIM_CH].peak_capital < e[SIM_AMM].peak_capital;
    }
    /* the per-configuration target: netting (configuration 1) against the
     * configuration named "no internal netting", when the scenario has it */
    size_t pool_only = SIZE_MAX;
    for (size_t r = 0; r < sd->n_runs; r++)
        if (strcmp(sd->names[r], "no internal netting") == 0)
            pool_only = r;
    for (size_t i = 0; pool_only != SIZE_MAX && i < sd->n; i++) {
        const sim_seed *s = &sd->s[i];
        double a = s->contracts[0] > 0 ? s->hedge_cost[0] / s->contracts[0] : 0;
        double b =
            s->contracts[pool_only] > 0 ? s->hedge_cost[pool_only] / s->contracts[pool_only] : 0;
        table += a <= b;
    }
    fprintf(f, "\nTargets, seeds meeting each (of %zu):\n\n", sd->n);
    fprintf(f,
            "- clearinghouse hedge cost at most half the dealer's (at most the dealer's "
            "where that is <= 0): %zu\n",
            half);
    fprintf(f, "- clearinghouse hedge cost per contract below the AMM's: %zu\n", per_contract);
    fprintf(f, "- clearinghouse peak capital below the AMM's: %zu\n", capital);
    if (pool_only != SIZE_MAX)
        fprintf(f,
                "- unequal flow: \"%s\" hedge cost per contract no higher than \"no internal "
                "netting\"'s: %zu\n",
                sd->names[0], table);
}

void sim_report_eq_md(FILE *f, const sim_seeds *sd)
{
    fprintf(f, "\n## Across seeds (unequal flow): hedge cost per contract, USD\n\n"
               "| configuration |");
    for (size_t i = 0; i < sd->n; i++)
        fprintf(f, " seed %" PRIu64 " |", sd->s[i].seed);
    fprintf(f, "\n|---|");
    for (size_t i = 0; i < sd->n; i++)
        fprintf(f, "---:|");
    fprintf(f, "\n");
    for (size_t r = 0; r < sd->n_runs; r++) {
        fprintf(f, "| %s |", sd->names[r]);
        for (size_t i = 0; i < sd->n; i++) {
            const sim_seed *s = &sd->s[i];
            fprintf(f, " %.2f (%.0f) |",
                    s->contracts[r] > 0 ? s->hedge_cost[r] / s->contracts[r] : 0, s->contracts[r]);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\nIn brackets: the contracts each configuration filled (each customer side).\n");
    if (!sd->equal_flow) {
        fprintf(f, "\n## Equal flow\n\nUnavailable: %s.\n", sd->why_not);
        return;
    }
    static const char *const titles[2] = {
        "## Equal flow: the clearinghouse, an AMM and a dealer on the same customer fills",
        "## Equal flow, every model hedging every step"};
    for (int b = 0; b < 2; b++) {
        fprintf(f, "\n%s\n\nMean over %zu seeds [min, max].\n\n| metric |", titles[b], sd->n);
        for (int m = 0; m < SIM_MODELS; m++)
            fprintf(f, " %s |", sim_model_names[m]);
        fprintf(f, "\n|---|---:|---:|---:|\n");
        for (size_t j = 0; j < SIM_METRICS; j++) {
            fprintf(f, "| %s |", sim_metric_fields[j].name);
            for (int m = 0; m < SIM_MODELS; m++) {
                double mean, lo, hi;
                stats(sd, b, m, j, &mean, &lo, &hi);
                fprintf(f, " %.4g [%.4g, %.4g] |", mean, lo, hi);
            }
            fprintf(f, "\n");
        }
        if (b == 0)
            targets(f, sd);
    }
    fprintf(f, "\ncontracts: customer lots, each side counted, the same for the three models; "
               "hedge_cost = fees + slippage + expiry_unwind_cost + funding (positive: paid); "
               "expiry_unwind_cost: the policy's orders within a day of an expiry, up to the "
               "delta it removed; rebalancing_cost: fees and slippage of the policy's orders "
               "(the dealer's per-fill hedges excluded); peak_capital: the largest worst loss "
               "of options + perp on the margin's scenario grid; pool_pnl: the model's total "
               "PnL at the scenario's marks; customer_cost_per_contract: (price - mark) x side "
               "+ taker fee, per contract.\n");
}

/* The metrics equal_flow.csv carries for the plot, with their scale and unit. */
static const struct {
    const char *name;
    double scale;
    const char *title;
} k_plotted[] = {
    {"hedge_cost_per_contract", 1, "hedge cost per contract (USD)"},
    {"hedge_volume", 1, "hedge volume (BTC)"},
    {"peak_capital", 1e-6, "peak capital (million USD)"},
    {"pool_pnl", 1e-6, "total PnL (million USD)"},
};
#define N_PLOTTED (sizeof k_plotted / sizeof k_plotted[0])

static size_t metric_index(const char *name)
{
    for (size_t j = 0; j < SIM_METRICS; j++)
        if (strcmp(sim_metric_fields[j].name, name) == 0)
            return j;
    return 0; /* the table above names only existing metrics */
}

bool sim_report_eq_csv(const char *path, const sim_seeds *sd)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fprintf(f, "model");
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < N_PLOTTED; i++)
            fprintf(f, ",%s.%s.mean,%s.%s.min,%s.%s.max", k_blocks[b], k_plotted[i].name,
                    k_blocks[b], k_plotted[i].name, k_blocks[b], k_plotted[i].name);
    fprintf(f, "\n");
    for (int m = 0; m < SIM_MODELS; m++) {
        fprintf(f, "%s", sim_model_names[m]);
        for (int b = 0; b < 2; b++)
            for (size_t i = 0; i < N_PLOTTED; i++) {
                double mean, lo, hi, k = k_plotted[i].scale;
                stats(sd, b, m, metric_index(k_plotted[i].name), &mean, &lo, &hi);
                fprintf(f, ",%.6f,%.6f,%.6f", mean * k, lo * k, hi * k);
            }
        fprintf(f, "\n");
    }
    return fclose(f) == 0;
}

void sim_report_eq_gnuplot(FILE *f, const sim_seeds *sd)
{
    fprintf(f,
            "# the equal-flow comparison: mean over %zu seeds, bars from min to max\n"
            "set terminal pngcairo size 1400,1000 font 'sans,11'\n"
            "set output 'equal_flow.png'\n"
            "set multiplot layout 2,2 title 'Equal flow: the clearinghouse, an AMM and a "
            "dealer on the same customer fills (mean of %zu seeds, min-max bars)'\n"
            "set style data histograms\nset style histogram errorbars gap 2 lw 1\n"
            "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
            "set xtics norotate\nset xlabel ''\nset key outside bottom center horizontal autotitle "
            "columnhead\n"
            "set rmargin 2\nset xzeroaxis lt -1\nset format y '%%g'\n",
            sd->n, sd->n);
    for (size_t i = 0; i < N_PLOTTED; i++) {
        size_t c0 = 2 + i * 3, c1 = 2 + (N_PLOTTED + i) * 3;
        double lo = 0; /* the bars start at zero: their lengths compare */
        for (int b = 0; b < 2; b++)
            for (int m = 0; m < SIM_MODELS; m++) {
                double mean, mn, mx;
                stats(sd, b, m, metric_index(k_plotted[i].name), &mean, &mn, &mx);
                lo = fmin(lo, 1.1 * mn * k_plotted[i].scale);
            }
        fprintf(f, "set yrange [%g:*]\n", lo);
        fprintf(f,
                "set title '%s'\nset ylabel '%s'\n"
                "plot 'equal_flow.csv' using %zu:%zu:%zu:xtic(1) lc rgb '#1f77b4' "
                "title 'hedge policy P', \\\n"
                "  '' using %zu:%zu:%zu lc rgb '#ff7f0e' title 'every model hedging every step'\n",
                k_plotted[i].title, k_plotted[i].title, c0, c0 + 1, c0 + 2, c1, c1 + 1, c1 + 2);
    }
    fprintf(f, "unset multiplot\n");
}
