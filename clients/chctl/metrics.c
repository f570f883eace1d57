/*
 * metrics.c - `chctl metrics`: chd's counters and the netting, risk, hedge
 * and pool gauges in Prometheus' text exposition format (version 0.0.4),
 * for a scrape through node_exporter's textfile collector, a cron job or any
 * wrapper that serves a file:
 *
 *   chctl --key-file DIR/readonly.key metrics > /var/lib/node_exporter/ch.prom
 *
 * It asks chd for stats, risk, hedge and pools (the read-only key may ask
 * for all four) and prints one family per metric: `# HELP`, `# TYPE`, then
 * its samples; per-underlying families carry the label underlying="BTC".
 * Names follow Prometheus' conventions: ch_ prefix, _total on counters, the
 * unit in the name where there is one (_usd, _ms, _bytes). A numeric field
 * of stats that the table below does not know (a newer chd) is printed as
 * ch_stats_<name>, untyped, so nothing chd counts is dropped.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ch/cli.h"
#include "chctl.h"

typedef struct metric {
    const char *field; /* in the reply ("a.b": member b of object a) */
    const char *name, *type, *help;
} metric;

/* stats: chd's counters (all since its start, except the gauges) */
static const metric k_stats[] = {
    {"requests", "ch_requests_total", "counter", "Requests served."},
    {"errors", "ch_request_errors_total", "counter", "Requests answered with an error."},
    {"orders", "ch_orders_total", "counter", "Orders received (order.new and each of a batch)."},
    {"batches", "ch_batches_total", "counter", "Batches of commands committed."},
    {"commits", "ch_commits_total", "counter", "Store commits."},
    {"commit_ms", "ch_commit_ms", "gauge", "The last batch's store commit, ms."},
    {"commit_ms_mean", "ch_commit_ms_mean", "gauge", "Mean store commit per batch, ms."},
    {"seq", "ch_log_seq", "gauge", "Sequence number of the last stored command."},
    {"halted", "ch_halted", "gauge", "1 when writes are stopped (the store could not commit)."},
    {"connections", "ch_connections", "gauge", "Client connections open."},
    {"coid_store_hits", "ch_client_order_id_store_hits_total", "counter",
     "Repeated client_order_ids answered from the store."},
    {"snapshots", "ch_snapshots_total", "counter", "Snapshots written."},
    {"snapshot_failures", "ch_snapshot_failures_total", "counter", "Snapshots that failed."},
    {"snapshot_seq", "ch_snapshot_seq", "gauge", "Sequence number of the newest snapshot."},
    {"snapshot_bytes", "ch_snapshot_bytes", "gauge", "Size of the newest snapshot."},
    {"snapshot_ms", "ch_snapshot_ms", "gauge", "Time the newest snapshot took to build and write."},
    {"restored_seq", "ch_restored_seq", "gauge", "Sequence number the last start restored from."},
    {"log_first_seq", "ch_log_first_seq", "gauge", "First command still in the log."},
    {"log_pruned", "ch_log_pruned_total", "counter", "Commands cut from the log."},
    {"unauthorized", "ch_unauthorized_total", "counter", "Requests refused UNAUTHORIZED."},
    {"rate_limited", "ch_rate_limited_total", "counter", "Requests refused RATE_LIMITED."},
    {"refused_clients", "ch_refused_clients_total", "counter",
     "Connections refused beyond max_clients."},
    {"open_order_cap", "ch_open_order_cap_total", "counter", "Orders refused by max_open_orders."},
    {"slow_clients_closed", "ch_slow_clients_closed_total", "counter",
     "Connections closed for not reading their replies."},
    {"idle_closed", "ch_idle_closed_total", "counter", "Connections closed for idleness."},
    {"hedge_venue_retries", "ch_hedge_venue_retries_total", "counter",
     "Hedge orders sent again to the venue."},
    {"hedge_venue_rejects", "ch_hedge_venue_rejects_total", "counter",
     "Hedge orders the venue rejected."},
};

/* risk, per underlying: the residual of house + pool and the netting */
static const metric k_risk[] = {
    {"totals.delta", "ch_residual_delta", "gauge",
     "Residual delta of house and pool, underlying units."},
    {"totals.gamma", "ch_residual_gamma", "gauge",
     "Residual gamma of house and pool, underlying units per 1 USD of spot."},
    {"totals.vega", "ch_residual_vega_usd", "gauge",
     "Residual vega of house and pool, USD per 1.00 of volatility."},
    {"totals.theta", "ch_residual_theta_usd", "gauge", "Residual theta, USD per year."},
    {"worst_loss", "ch_worst_scenario_loss_usd", "gauge",
     "Loss of the residual in the worst spot and vol scenario, USD."},
    {"netting.gross_delta", "ch_netting_gross_delta", "gauge",
     "Delta of every customer leg before netting, underlying units."},
    {"netting.hedged_delta", "ch_netting_hedged_delta", "gauge",
     "Delta sent to the hedge, underlying units."},
    {"netting.dealer_delta", "ch_netting_dealer_delta", "gauge",
     "Delta a dealer taking every leg would have hedged, underlying units."},
    {"netting.ratio", "ch_netting_ratio", "gauge",
     "Hedged delta over the dealer baseline (lower: more netted)."},
    {"netting.net_delta", "ch_netting_net_delta", "gauge", "Net delta, underlying units."},
    {"netting.gross_gamma", "ch_netting_gross_gamma", "gauge", "Gamma traded by customers."},
    {"netting.netted_gamma", "ch_netting_netted_gamma", "gauge",
     "Gamma netted internally (book and parity)."},
};

/* hedge, per underlying */
static const metric k_hedge[] = {
    {"position", "ch_hedge_position", "gauge",
     "Perpetual position of the hedge, underlying units."},
    {"house_delta", "ch_hedge_house_delta", "gauge", "The house's net delta, underlying units."},
    {"band", "ch_hedge_band", "gauge", "Band of the hedge policy, underlying units."},
    {"orders", "ch_hedge_orders_total", "counter", "Hedge orders sent."},
    {"volume", "ch_hedge_volume", "counter", "Hedge volume traded, underlying units."},
    {"fees", "ch_hedge_fees_usd", "gauge", "Hedge fees paid, USD."},
    {"slippage", "ch_hedge_slippage_usd", "gauge", "Hedge slippage against the index, USD."},
    {"funding", "ch_hedge_funding_usd", "gauge",
     "Perpetual funding paid (negative: received), USD."},
    {"realized", "ch_hedge_realized_usd", "gauge", "Realized PnL of the hedge book, USD."},
    {"in_flight_orders", "ch_hedge_in_flight_orders", "gauge",
     "Hedge orders sent and not answered yet."},
};

/* pools: the general pool */
static const metric k_pool[] = {
    {"general.nav", "ch_pool_nav_usd", "gauge", "NAV of the general pool, USD."},
    {"general.nav_per_share", "ch_pool_nav_per_share_usd", "gauge", "NAV per LP share, USD."},
    {"general.cash", "ch_pool_cash_usd", "gauge", "Cash of the pool, USD."},
    {"general.shares", "ch_pool_shares", "gauge", "LP shares outstanding."},
};

/* The number at @p path ("a" or "a.b") of @p o; false if there is none. */
static bool number_at(const cJSON *o, const char *path, double *v)
{
    const char *dot = strchr(path, '.');
    char head[64];
    if (dot != NULL) {
        snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
        o = cJSON_GetObjectItemCaseSensitive(o, head);
        path = dot + 1;
    }
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, path);
    if (cJSON_IsBool(x)) {
        *v = cJSON_IsTrue(x) ? 1 : 0;
        return true;
    }
    if (!cJSON_IsNumber(x))
        return false;
    *v = x->valuedouble;
    return true;
}

static void sample(const char *name, const char *labels, double v)
{
    if (isnan(v))
        printf("%s%s NaN\n", name, labels);
    else if (isinf(v))
        printf("%s%s %sInf\n", name, labels, v < 0 ? "-" : "+");
    else
        printf("%s%s %.17g\n", name, labels, v);
}

static void family(const metric *m)
{
    printf("# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
}

/* A family of per-underlying gauges: one sample per member of @p by (each
 * underlying's reply), labelled with its name. */
static void per_underlying(const metric *table, size_t n, const cJSON *by)
{
    for (size_t i = 0; i < n; i++) {
        family(&table[i]);
        const cJSON *u;
        cJSON_ArrayForEach(u, by)
        {
            double v;
            char labels[96];
            snprintf(labels, sizeof labels, "{underlying=\"%s\"}", u->string);
            if (number_at(u, table[i].field, &v))
                sample(table[i].name, labels, v);
        }
    }
}

static bool known_stat(const char *field)
{
    for (size_t i = 0; i < sizeof k_stats / sizeof k_stats[0]; i++)
        if (strcmp(k_stats[i].field, field) == 0)
            return true;
    return strcmp(field, "fills") == 0;
}

static void print_stats(const cJSON *st)
{
    for (size_t i = 0; i < sizeof k_stats / sizeof k_stats[0]; i++) {
        double v;
        if (!number_at(st, k_stats[i].field, &v))
            continue;
        family(&k_stats[i]);
        sample(k_stats[i].name, "", v);
    }
    static const metric fills = {"fills", "ch_fills_total", "counter",
                                 "Fills by source: book, net (internal netting), pool."};
    family(&fills);
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(st, "fills"))
    {
        char labels[64];
        snprintf(labels, sizeof labels, "{source=\"%s\"}", f->string);
        if (cJSON_IsNumber(f))
            sample(fills.name, labels, f->valuedouble);
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, st)
    {
        if (x->string == NULL || known_stat(x->string) || strcmp(x->string, "ok") == 0 ||
            !(cJSON_IsNumber(x) || cJSON_IsBool(x)))
            continue;
        char name[96];
        snprintf(name, sizeof name, "ch_stats_%s", x->string);
        printf("# TYPE %s untyped\n", name);
        sample(name, "", cJSON_IsBool(x) ? cJSON_IsTrue(x) : x->valuedouble);
    }
}

static void metrics_usage(FILE *f)
{
    fprintf(f, "usage: chctl metrics   (chd's counters and the netting, risk, hedge and pool\n"
               "gauges in Prometheus' text format; the read-only key suffices)\n");
}

int chctl_metrics(int argc, char **argv)
{
    int rc = chctl_plain_args("chctl metrics", argc, argv, metrics_usage);
    if (rc >= 0)
        return rc;
    if (optind != argc) {
        metrics_usage(stderr);
        return CH_CLI_USAGE;
    }
    static const char *const ops[] = {"stats", "risk", "hedge", "pools"};
    cJSON *r[4] = {NULL};
    int status = 0;
    for (size_t i = 0; i < 4 && status == 0; i++)
        r[i] = chctl_fetch(ops[i], &status);
    if (status == 0) {
        print_stats(r[0]);
        per_underlying(k_risk, sizeof k_risk / sizeof k_risk[0],
                       cJSON_GetObjectItemCaseSensitive(r[1], "underlyings"));
        per_underlying(k_hedge, sizeof k_hedge / sizeof k_hedge[0],
                       cJSON_GetObjectItemCaseSensitive(r[2], "underlyings"));
        for (size_t i = 0; i < sizeof k_pool / sizeof k_pool[0]; i++) {
            double v;
            if (!number_at(r[3], k_pool[i].field, &v))
                continue;
            family(&k_pool[i]);
            sample(k_pool[i].name, "", v);
        }
    }
    for (size_t i = 0; i < 4; i++)
        cJSON_Delete(r[i]);
    return status;
}
