/*
 * sim.h - chsim, the simulator for protocol designers: the real engine
 * (ch_engine, the library chd runs) driven in process over simulated time by
 * a price path, a funding series, a listed option chain with a smile and a
 * customer order flow; several configurations (netting, pricing, hedge
 * policy) run side by side on the same flow and path.
 *
 * The parts:
 *   sim_config.c  the scenario as data: defaults, JSON config (strict)
 *   sim_data.c    CSV inputs: BTC hourly closes, daily funding, the Deribit
 *                 chain (implied vols by moneyness and tenor), order flow
 *   sim_market.c  the market of a scenario: path (CSV or GBM with jumps and
 *                 vol spikes), funding, the vol surface and the listing rule
 *   sim_flow.c    customer orders: generated (seeded) or replayed, and CSV out
 *   sim_run.c     one configuration through the engine: fills, hedging, PnL
 *                 attribution, time series
 *   sim_model.c   a model's book at equal flow (options, cash, perp hedges):
 *                 settlement, value, Greeks, scenario capital, costs
 *   sim_equal.c   the equal-flow comparison: the clearinghouse, an AMM and a
 *                 dealer on the same customer fills, over several seeds
 *   sim_report.c  report.json, report.md, CSV series, gnuplot plots
 *   sim_chd.c     the same scenario through a running chd (chsim --chd; in
 *                 the chsim program only, it needs libchclient)
 *
 * Everything is deterministic: the same config (and seed) gives the same
 * numbers, so the same report bytes. Only sim_data.c, sim_flow.c (the flow
 * CSV) and sim_report.c touch files; nothing here logs. The engine never
 * does I/O: chsim feeds it time and market data.
 */
#ifndef CH_SIM_H
#define CH_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ch/engine.h"
#include "ch/hedge.h"

#define SIM_PATH_MAX 1024
#define SIM_NAME_MAX 64
#define SIM_PAIR_MAX 24
#define SIM_MAX_RUNS 16
#define SIM_MSG_MAX  512
#define SIM_HOUR     (INT64_C(3600) * CH_NS_PER_SEC)
#define SIM_DAY      (INT64_C(86400) * CH_NS_PER_SEC)

/* ---- configuration ------------------------------------------------------- */

typedef enum sim_price_src { SIM_PRICE_CSV = 0, SIM_PRICE_GBM = 1 } sim_price_src;
typedef enum sim_funding_src {
    SIM_FUND_CSV = 0,
    SIM_FUND_CONSTANT = 1,
    SIM_FUND_GENERATED = 2
} sim_funding_src;
typedef enum sim_flow_src { SIM_FLOW_GENERATED = 0, SIM_FLOW_CSV = 1 } sim_flow_src;
typedef enum sim_flow_shape {
    SIM_SHAPE_MIXED = 0,      /* the generator's mix */
    SIM_SHAPE_OFFSETTING = 1, /* each order followed by its exact opposite */
} sim_flow_shape;

/** One configuration compared in the report. */
typedef struct sim_run_config {
    char name[SIM_NAME_MAX];
    bool internal;        /* book and parity netting before the pool; false:
                             every order goes to the pool at its quote */
    bool netting;         /* parity netting (the engine's switch) */
    bool dynamic_pricing; /* the pool's inventory premium (else half-spread only) */
    bool risk_aware;      /* the engine's risk-aware netting and the pool's delta term */
    bool forward_funding; /* the parity forward projects expected funding (engine key) */
    /* strike tranches: 0 = the general pool alone; N = N bands of strikes
     * (edges at spot0 x (1 + width x (i - N/2)), the outer ones open), each
     * a tranche funded with tranche_share / N of the LP capital */
    uint32_t tranches;
    double tranche_share, tranche_width;
    ch_hedge_policy hedge;
    ch_vega_policy vega; /* option hedges at the simulated options venue (off by default) */
} sim_run_config;

/**
 * A second underlying listed in the same engine (off by default): its spot
 * is generated, seeded, with log returns correlated with the first
 * underlying's by `correlation` (the first's returns standardised, mixed
 * with an independent normal); its funding is generated (mean-reverting,
 * seeded); its smile and strike grid come from the chain file by moneyness
 * (the shipped chain is Deribit's ETH chain); its flow is generated like the
 * first's, at its own rate, by the same traders. Hedge bands, order sizes and
 * the venue's depth are given in the first underlying's units and scaled by
 * the ratio of starting spots, so both hedge at the same USD notional.
 */
typedef struct sim_second {
    bool enabled;
    char name[CH_UNDERLYING_MAX];
    double correlation; /* of log returns with the first underlying's, -1 .. 1 */
    double spot0, mu, sigma;
    double tick;        /* USD per price tick */
    double strike_step; /* USD */
    double orders_per_hour;
    double funding_rate, funding_sd, funding_reversion; /* per 8 h; AR(1) per day */
} sim_second;

typedef struct sim_config {
    uint64_t seed;
    char underlying[CH_UNDERLYING_MAX]; /* the options' underlying: "BTC" */
    double tick;                        /* USD per price tick: 0.5 */
    char data_dir[SIM_PATH_MAX];        /* where relative data file names are looked up */
    ch_time start;                      /* first step (00:00 UTC of the start date) */
    double days;
    int64_t step_seconds;

    struct {
        sim_price_src source;
        char file[SIM_PATH_MAX];
        double spot0, mu, sigma; /* GBM, per year */
        double jumps_per_year, jump_mean, jump_sd;
        double spikes_per_year, spike_mult, spike_hours;
        double basis_bps; /* perp = index x (1 + basis), 0 = off */
    } price;
    struct {
        sim_funding_src source;
        char file[SIM_PATH_MAX];
        double rate;          /* constant, or the generated series' mean, per 8 h */
        double sd, reversion; /* generated: AR(1) per day */
    } funding;
    struct {
        char file[SIM_PATH_MAX];
        double flat_vol;   /* > 0: a flat surface instead of the chain's smile */
        double vol_scale;  /* multiplies the chain's vols */
        double vol_follow; /* 0..1: how far the vol level follows realized vol */
        double vol_window_hours;
        uint32_t weeklies, monthlies;
        double strike_step; /* USD */
        double min_moneyness, max_moneyness;
        double rate;
    } chain;
    struct {
        sim_flow_src source;
        sim_flow_shape shape;
        char file[SIM_PATH_MAX];
        double orders_per_hour, call_share, buy_share, limit_share;
        double moneyness_sd, limit_vol_spread, order_ttl_hours;
        uint32_t size_min, size_max, traders;
    } flow;
    ch_perp_venue venue;
    double pool_capital;  /* USD */
    double taker_fee_bps; /* engine taker fee */
    int64_t netting_fee_ticks;
    double hedge_impact_bps;    /* the engine's impact of a typical hedge order */
    double house_delta_limit;   /* the engine's limit on the house's unhedged delta (0: none) */
    double funding_half_life_h; /* the engine's expected-funding average */
    ch_pool_config pool;        /* dynamic pricing parameters */
    size_t n_runs;
    sim_run_config runs[SIM_MAX_RUNS];
    sim_second second;
} sim_config;

/**
 * The second underlying's scenario as a single-underlying config of its own
 * (its name, tick, generated path and funding, strike step, flow rate, a seed
 * of its own; hedge sizes and venue depth scaled by @p spot_ratio, the first
 * underlying's starting spot over the second's). Only when c->second.enabled.
 */
void sim_config_second(const sim_config *c, double spot_ratio, sim_config *out);

/** The default scenario (shipped data, seven configurations). */
void sim_config_defaults(sim_config *c);

/**
 * Apply a JSON config (text) over @p c. Unknown keys, wrong types and values
 * out of range are refused: returns false with a message naming the key.
 */
bool sim_config_parse(sim_config *c, const char *json, char *msg, size_t cap);

/* ---- inputs -------------------------------------------------------------- */

/** A time series: ascending times, one value each. */
typedef struct sim_series {
    size_t n;
    ch_time *t;
    double *v;
    char pair[SIM_PAIR_MAX]; /**< a price file's symbol column ("BTC/USD"), "" otherwise */
} sim_series;

void sim_series_free(sim_series *s);
/** Value at @p t: the last point at or before it (the first before the start). */
double sim_series_at(const sim_series *s, ch_time t);

/** One CSV data row (fields split at commas, the header skipped); false + msg stops. */
typedef bool (*sim_row_fn)(void *ctx, char **f, size_t n, size_t line, char *msg, size_t cap);
/** Read a CSV with a header line, calling @p fn per data row. false + msg on error. */
bool sim_read_csv(const char *path, sim_row_fn fn, void *ctx, char *msg, size_t cap);

/** Hourly closes (any row order in the file), the same symbol on every row
 * (out->pair). false + msg on error. */
bool sim_load_prices(const char *path, sim_series *out, char *msg, size_t cap);
/**
 * Whether a price file's pair (@p pair, its symbol column) quotes @p base in
 * USD, the currency of every money figure chsim reports: "BTC/USD",
 * "BTC-USD", "BTC_USD" or "BTCUSD", and the USD stablecoins USDT and USDC in
 * their place. false + a message naming @p path otherwise.
 */
bool sim_pair_quotes_usd(const char *pair, const char *base, const char *path, char *msg,
                         size_t cap);
/** Daily funding means per 8 h (`date,funding_mean,...`). */
bool sim_load_funding(const char *path, sim_series *out, char *msg, size_t cap);

/**
 * The vol surface: total variance on a log-moneyness grid per tenor,
 * non-decreasing in tenor at every grid point (so marks have no calendar
 * arbitrage), and the chain's listed strikes as moneyness per tenor.
 */
#define SIM_X_N         41 /* log-moneyness grid: -1.0 .. 1.0 step 0.05 */
#define SIM_X_STEP      0.05
#define SIM_TENORS_MAX  32
#define SIM_STRIKES_MAX 128
typedef struct sim_surface {
    size_t n;                   /* tenors */
    double tau[SIM_TENORS_MAX]; /* years, ascending */
    double w[SIM_TENORS_MAX][SIM_X_N];
    size_t n_k[SIM_TENORS_MAX];
    double moneyness[SIM_TENORS_MAX][SIM_STRIKES_MAX]; /* K/F listed */
    double atm30;                                      /* 30-day ATM vol */
} sim_surface;

/**
 * The Deribit book-summary snapshot to a surface: implied vol of each
 * out-of-the-money mark (inverse quoting: mark_price in ETH is the Black-76
 * value per unit of forward, so the vol is solved with F = 1, K = K/F),
 * interpolated in log-moneyness per expiry.
 */
bool sim_load_chain(const char *path, sim_surface *out, char *msg, size_t cap);
/** A flat surface at @p vol with strikes every 5% of moneyness. */
void sim_surface_flat(sim_surface *s, double vol);
/** Implied vol at tenor @p tau (years) and log-moneyness @p x. */
double sim_surface_vol(const sim_surface *s, double tau, double x);

/** Resolve a data file: as given if it exists, else under data_dir. */
bool sim_resolve(const sim_config *c, const char *name, char *out, size_t cap);

/* ---- the market of a scenario -------------------------------------------- */

typedef struct sim_step {
    ch_time t;
    double spot;
    double funding; /* per 8 h */
    double level;   /* multiplier of the surface's vols */
} sim_step;

typedef struct sim_market {
    size_t n;
    sim_step *s;
    sim_surface surf;
    double rate;
} sim_market;

/** Build the path, funding and surface of @p c. false + msg on error. */
bool sim_market_build(const sim_config *c, sim_market *m, char *msg, size_t cap);
/**
 * The second underlying's market (@p c2 from sim_config_second()) on the
 * steps of @p first: spot from c2->price.spot0 with log returns
 * rho z_k + sqrt(1 - rho^2) e_k (z: the first's returns standardised by their
 * sample sd, e: seeded normals) scaled to c2->price.sigma; funding generated;
 * the chain's surface; the vol level from its own trailing realized vol.
 */
bool sim_market_correlated(const sim_config *c2, const sim_market *first, double rho, sim_market *m,
                           char *msg, size_t cap);
/** Correlation of the log returns of two markets over the same steps. */
double sim_market_correlation(const sim_market *a, const sim_market *b);
void sim_market_free(sim_market *m);

/** Expiries that must be listed at @p now (08:00 UTC Fridays); returns how many. */
size_t sim_expiries(const sim_config *c, ch_time now, ch_time *out, size_t max);

/** The listed chain: every expiry listed so far and its strikes. */
#define SIM_CHAIN_MAX 256
typedef struct sim_listing {
    ch_time expiry;
    size_t n;
    int64_t strike[SIM_STRIKES_MAX];
} sim_listing;
typedef struct sim_chain {
    size_t n;
    sim_listing l[SIM_CHAIN_MAX];
} sim_chain;

/**
 * Append the expiries the listing rule wants at step @p k, with strikes from
 * the chain's moneyness (nearest tenor) around that step's spot, rounded to
 * the strike step. @return how many were appended, SIZE_MAX when full.
 */
size_t sim_chain_update(const sim_config *c, const sim_market *m, size_t k, sim_chain *ch);
/** Index of @p expiry in the chain, or SIZE_MAX. */
size_t sim_listing_find(const sim_chain *ch, ch_time expiry);
/**
 * Make sure @p expiry is in the chain (a replayed series the listing rule did
 * not list), with no strikes. @p added says whether it was appended, so the
 * caller marks it. @return false with @p msg when the chain is full.
 */
bool sim_chain_ensure(sim_chain *ch, ch_time expiry, bool *added, char *msg, size_t cap);

/* ---- order flow ---------------------------------------------------------- */

typedef struct sim_order {
    ch_time t;
    uint32_t trader;
    char symbol[CH_SYMBOL_MAX];
    ch_side side;
    int64_t qty;
    bool limit;        /* GTC limit priced at the mark + vol_offset; else market */
    double vol_offset; /* in vol (0.01 = one point) */
} sim_order;

/**
 * Check an order of the flow against the configuration: a known trader and a
 * BTC option symbol, parsed into @p sym. @return false with @p msg if not.
 */
bool sim_order_check(const sim_config *c, const sim_order *o, ch_symbol *sym, char *msg,
                     size_t cap);

typedef struct sim_flow {
    size_t n, cap;
    sim_order *o;
} sim_flow;

bool sim_flow_push(sim_flow *f, const sim_order *o);
void sim_flow_free(sim_flow *f);
/** Generate the seeded flow over the market (listing follows sim_expiries()). */
bool sim_flow_generate(const sim_config *c, const sim_market *m, sim_flow *f);
bool sim_flow_load(const char *path, sim_flow *f, char *msg, size_t cap);
bool sim_flow_write(const char *path, const sim_flow *f);

/* ---- equal flow: a model's book (sim_model.c) ----------------------------- */

/**
 * A customer fill as the clearinghouse made it: the order (its index in the
 * flow, whose time is its arrival), the step it filled at, the series, the
 * customer's side, lots, price and taker fee.
 */
typedef struct sim_fill {
    uint32_t order;
    uint32_t k_fill;
    ch_time expiry;
    double strike;
    ch_opt type;
    ch_side side;
    int64_t qty;
    double price; /* USD per contract */
    double fee;   /* USD, the taker's; 0 for a maker */
} sim_fill;

typedef struct sim_fills {
    size_t n, cap;
    sim_fill *f;
} sim_fills;

bool sim_fills_push(sim_fills *fs, const sim_fill *f);
void sim_fills_free(sim_fills *fs);

/** What the equal-flow report shows per model (DESIGN section 10). */
typedef struct sim_metrics {
    double contracts;          /* Σ customer lots, each customer side counted */
    double hedge_volume;       /* perp units traded */
    double hedge_cost;         /* fees + slippage + expiry_unwind_cost + funding (paid > 0) */
    double fees, slippage;     /* of hedge orders other than expiry unwinds */
    double expiry_unwind_cost; /* fees + slippage of the unwinds of expired delta */
    double funding;            /* paid (> 0) or received (< 0) */
    double hedge_cost_per_contract;
    double rebalancing_cost; /* fees + slippage of the policy's orders (all of a pool's) */
    double peak_capital;     /* largest worst scenario loss over the steps */
    double mean_abs_gamma, mean_abs_vega;
    double pool_pnl; /* the model's total PnL */
    double lp_return_on_capital;
    double max_drawdown;
    double customer_cost_per_contract;
    double fill_ratio; /* contracts filled / ordered (the clearinghouse's) */
} sim_metrics;

/** One option position of a model. */
typedef struct sim_leg {
    ch_time expiry;
    double strike;
    ch_opt type;
    double qty;
} sim_leg;

/**
 * A model's book: options, cash, and its hedge on the simulated venue (the
 * policy's hedger and, for the dealer, a book of per-fill hedges).
 */
typedef struct sim_model {
    const sim_config *c;
    const sim_market *m;
    sim_leg *leg;
    size_t n_leg, cap_leg;
    double cash;              /* USD: premiums and settlements */
    const ch_hedger *h;       /* the policy's hedger (the model does not own it) */
    ch_hedge_book fill_hedge; /* the dealer's per-fill hedges */
    double pending_unwind;    /* |delta| expiries removed, not yet unwound */
    ch_time unwind_until;
    double unwind_cost, fees, slippage; /* of the policy's orders */
    double last_fees, last_slippage, last_volume;
    double sum_gamma, sum_vega;
    size_t steps;
    double pnl, peak;
    double ordered;   /* lots the customers ordered */
    double cust_edge; /* Σ customer's (price - mark) x side + fees */
    sim_metrics out;
    bool oom;
} sim_model;

void sim_model_init(sim_model *md, const sim_config *c, const sim_market *m, const ch_hedger *h);
void sim_model_free(sim_model *md);
/** The model takes @p qty (signed: + bought) of a series at @p price (USD per contract). */
void sim_model_trade(sim_model *md, ch_time expiry, double strike, ch_opt type, double qty,
                     double price);
/** A customer's fill against this model, for the customer-cost metric (at step @p k). */
void sim_model_customer(sim_model *md, size_t k, const sim_fill *f);
/** Settle what expired by step @p k (intrinsic at the step's spot). Before its trades. */
void sim_model_settle(sim_model *md, size_t k);
/** Options delta, gamma and the gamma-weighted years to expiry at step @p k. */
void sim_model_greeks(const sim_model *md, size_t k, double *delta, double *gamma, double *tau);
/** The dealer's hedge of one fill alone: a perp order of @p qty at step @p k. */
void sim_model_fill_hedge(sim_model *md, size_t k, double qty);
/** After step @p k's trades and hedges: value, Greeks, capital, costs. */
void sim_model_close_step(sim_model *md, size_t k);
/** The metrics over the run (after the last step). */
void sim_model_finish(sim_model *md, double pool_capital);
/** The scenario's vol at step @p k for a strike and expiry (surface x level). */
double sim_vol(const sim_market *m, size_t k, double strike, ch_time expiry);
/** Black-Scholes value of one contract at step @p k at the scenario's surface. */
double sim_model_mark(const sim_market *m, size_t k, ch_opt type, double strike, ch_time expiry);
/** Perp price at step @p k (index x (1 + basis)). */
double sim_perp(const sim_config *c, const sim_market *m, size_t k);

/* ---- equal flow: the three models (sim_equal.c) --------------------------- */

enum { SIM_CH = 0, SIM_AMM = 1, SIM_DEALER = 2, SIM_MODELS = 3 };
extern const char *const sim_model_names[SIM_MODELS];

#define SIM_METRICS 17
typedef struct sim_metric_field {
    const char *name;
    size_t off;
} sim_metric_field;
/** The metrics' names (report keys) in report order. */
extern const sim_metric_field sim_metric_fields[SIM_METRICS];
double sim_metric(const sim_metrics *m, size_t i);

struct sim_result;
/**
 * The three models on configuration @p rc's customer fills. @p ch_res (may
 * be NULL) receives the clearinghouse's run as a configuration's result.
 * false + msg on error.
 */
bool sim_equal(const sim_config *c, const sim_run_config *rc, const sim_market *m,
               const sim_flow *f, struct sim_result *ch_res, sim_metrics out[SIM_MODELS], char *msg,
               size_t cap);

/* ---- one configuration --------------------------------------------------- */

enum {
    SIM_PNL_SPREAD,
    SIM_PNL_DELTA,
    SIM_PNL_GAMMA,
    SIM_PNL_VEGA,
    SIM_PNL_THETA,
    SIM_PNL_FUNDING,
    SIM_PNL_FEES,
    SIM_PNL_SLIPPAGE,
    SIM_PNL_OTHER,
    SIM_PNL_N
};
extern const char *const sim_pnl_names[SIM_PNL_N];

typedef struct sim_point {
    ch_time t;
    double spot, atm_vol;
    double option_delta, hedge_position, gamma, vega;
    double pnl, hedge_cost, pool_contracts;
} sim_point;

#define SIM_LP_MAX 9 /* the general pool and up to 8 tranches */

/* One LP entity over a run: the general pool (lp[0]) or a strike tranche. */
typedef struct sim_lp {
    char name[32];
    double strike_lo, strike_hi; /* the tranche's band (the general pool: 0, 0) */
    double capital;              /* deposited at the start */
    double nav_end;              /* its NAV at the end */
    double ret;                  /* nav_end / capital - 1 */
    double max_drawdown;         /* largest fall of its NAV from a peak, USD */
    double peak_nav;             /* (running) */
    double util_max;             /* highest utilisation seen (tranches) */
    int64_t lots;                /* lots it took from customers (pool fills) */
} sim_lp;

typedef struct sim_result {
    char name[SIM_NAME_MAX];
    char underlying[CH_UNDERLYING_MAX];
    sim_run_config run;
    uint64_t orders, rejected;
    uint64_t fills[3];
    int64_t lots[3];
    double gross_delta; /* what a trade-by-trade hedger would send */
    double notional;
    double hedge_volume;
    uint64_t hedge_orders;
    double hedge_fees, hedge_slippage, hedge_funding;
    double tbt_cost; /* trade-by-trade hedger: fees + slippage */
    double netting_ratio;
    double internal_share; /* lots filled by book + net / all lots */
    double pnl[SIM_PNL_N]; /* attribution; sums to pool_pnl */
    double pool_pnl;
    double max_drawdown;
    double taker_fees; /* collected by the fee account */
    double final_delta, final_gamma, final_vega;
    /* vega hedging (the policy on): what the option hedges did */
    uint64_t vega_orders;
    int64_t vega_contracts;
    double vega_fees, vega_spread_cost, vega_premium;
    double vega_abs_max; /* the largest |residual vega| over the run's steps, USD per 1.00 vol */
    uint32_t n_lp;       /* LP entities tracked: 1 (the general pool) + tranches */
    sim_lp lp[SIM_LP_MAX];
    size_t n_points;
    sim_point *points;
    /* daemon mode (sim_run_chd()): what chd could not tell is left out of the report */
    bool chd;
    int64_t shift_weeks;      /* the scenario as chd saw it: this many weeks later */
    uint64_t daemon_fills[3]; /* chd's `stats` fills by source over the run */
    uint64_t split_updates;   /* steps whose marks went one expiry per market.update */
} sim_result;

typedef void (*sim_progress_fn)(void *ctx, size_t step, size_t n_steps);

/**
 * A backend of the scenario's loop (sim_drive.c): the engine in process
 * (sim_run.c) or a running chd (sim_chd.c). Each call returns false with
 * the reason in msg.
 */
typedef struct sim_backend {
    void *b;
    bool (*list)(void *b, const ch_symbol *sym, char *msg, size_t cap); /* one series */
    bool (*market)(void *b, size_t k, char *msg, size_t cap);
    bool (*open_step)(void *b, size_t k, struct sim_result *out, char *msg, size_t cap);
    bool (*expire)(void *b, ch_time now, char *msg, size_t cap);
    /* the flow's orders first .. first + n - 1, all due at step k */
    bool (*orders)(void *b, size_t first, size_t n, size_t k, struct sim_result *out, char *msg,
                   size_t cap);
    bool (*close_step)(void *b, size_t k, struct sim_result *out, char *msg, size_t cap);
} sim_backend;

/** The scenario's steps through @p be (see sim_drive.c). */
bool sim_drive(const sim_config *c, const sim_market *m, const sim_flow *f, sim_chain *chain,
               const sim_backend *be, struct sim_result *out, sim_progress_fn progress, void *pctx,
               char *msg, size_t cap);

/** Step @p k's listing: the expiries the chain adds, a call and a put per strike. */
bool sim_drive_list(const sim_config *c, const sim_market *m, size_t k, sim_chain *chain,
                    const sim_backend *be, char *msg, size_t cap);
/** How many of the flow's orders from @p next are due at @p t. */
size_t sim_drive_due(const sim_flow *f, size_t next, ch_time t);
/** After the last step: false + msg if orders of the flow are left. */
bool sim_drive_end(const sim_flow *f, size_t next, char *msg, size_t cap);

/** What a run records or plays for the equal-flow comparison (all optional). */
typedef struct sim_run_opts {
    sim_fills *record;      /* every customer fill is appended */
    sim_model *model;       /* the house's book (house + pool) is measured here */
    const int64_t *amm_qty; /* the AMM: per flow order, the lots it takes from the pool at
                               the order's arrival (market orders; no book, no netting, no
                               pool limits); NULL: the configuration as it is */
} sim_run_opts;

/** Run configuration @p r over the market and flow (@p opts may be NULL). false + msg on error. */
bool sim_run(const sim_config *c, const sim_run_config *r, const sim_market *m, const sim_flow *f,
             const sim_run_opts *opts, sim_result *out, sim_progress_fn progress, void *pctx,
             char *msg, size_t cap);
void sim_result_free(sim_result *r);

/** One underlying of a run over several: its scenario, market and flow. */
typedef struct sim_lane_input {
    const sim_config *c;      /* a single-underlying config (sim_config_second() for the second) */
    const sim_run_config *rc; /* the configuration as this lane runs it (its hedge sizes); the
                                 first lane's sets the engine (netting, pricing, fees) */
    const sim_market *m;      /* every lane's market has the same steps */
    const sim_flow *f;
} sim_lane_input;

#define SIM_LANES_MAX 2

/**
 * A configuration over @p n underlyings in one engine: the traders, the
 * house and the pool are shared (margin adds up across underlyings), while
 * netting, pool limits and hedging stay per underlying (one hedger each, with
 * the lane's hedge policy). out[i] is underlying i's result. At each step
 * every lane's market data is applied, then the lanes trade and hedge in
 * turn. Each result's PnL is its underlying's part of the house and pool's
 * equity: what changed while its lane traded, plus its share of the market
 * phase (its positions' revaluation and settlements). No tranches, no
 * equal-flow recording. false + msg on error.
 */
bool sim_run_lanes(const sim_lane_input *in, size_t n, sim_result *out, sim_progress_fn progress,
                   void *pctx, char *msg, size_t cap);

/* ---- the LPs of an in-process run (sim_lp.c) ---- */

/** Fund the general pool and, if @p rc asks for them, strike tranches from
 *  @p capital (cash units) of account @p lp; out->lp lists them. */
bool sim_lp_setup(ch_engine *e, const sim_run_config *rc, int64_t capital, double spot0,
                  ch_account_id lp, sim_result *out, char *msg, size_t cap);
/** What the LP side holds: the house, the general pool and every tranche (cash + options). */
double sim_lp_equity(const ch_engine *e);
/** A fill: the lots an LP entity took from a customer. */
void sim_lp_fill(const ch_engine *e, const ch_fill *f, sim_result *out);
/** After a step: each entity's NAV peak, drawdown and utilisation. */
void sim_lp_step(const ch_engine *e, sim_result *out);
/** At the end: each entity's final NAV and return. */
void sim_lp_finish(const ch_engine *e, sim_result *out);

/**
 * The scenario through a running chd at @p endpoint (libchclient; @p key:
 * the admin key, NULL for a daemon run with --no-auth): one configuration,
 * the daemon's. The scenario is shifted by whole weeks to lie after the wall
 * clock (chd's clock never goes back); the result has no PnL attribution and
 * no trade-by-trade baseline (sim_chd.c). false + msg on error.
 */
bool sim_run_chd(const sim_config *c, const sim_market *m, const sim_flow *f, const char *endpoint,
                 const char *key, sim_result *out, sim_progress_fn progress, void *pctx, char *msg,
                 size_t cap);

/* ---- several seeds ------------------------------------------------------- */

#define SIM_SEEDS_MAX   64
#define SIM_MAX_RESULTS (SIM_LANES_MAX * SIM_MAX_RUNS) /* a result per configuration and lane */

/** What one seed contributes to the report beyond the first seed's full tables. */
typedef struct sim_seed {
    uint64_t seed;
    double contracts[SIM_MAX_RESULTS]; /* per result (sim_contracts) */
    double hedge_cost[SIM_MAX_RESULTS];
    double pool_pnl[SIM_MAX_RESULTS];
    sim_metrics eq[2][SIM_MODELS]; /* [0]: policy P, [1]: hedge every step */
} sim_seed;

typedef struct sim_seeds {
    size_t n;          /* seeds run */
    bool equal_flow;   /* false: the report says the section is unavailable, and why */
    char why_not[160]; /* the reason (chd, two underlyings) */
    size_t n_runs;     /* results per seed */
    char names[SIM_MAX_RESULTS][SIM_NAME_MAX];
    sim_seed s[SIM_SEEDS_MAX];
} sim_seeds;

/** Customer contracts of a run: each customer side counted (book and parity fills twice). */
double sim_contracts(const struct sim_result *r);
/** Hedge cost of a run: fees + slippage - funding received. */
double sim_hedge_cost(const struct sim_result *r);

/** The equal-flow and across-seeds sections (sim_report_eq.c). */
void sim_report_eq_json(FILE *f, const sim_seeds *s);
void sim_report_eq_md(FILE *f, const sim_seeds *s);
/** equal_flow.csv: per model, the plotted metrics' mean, min, max per block. */
bool sim_report_eq_csv(const char *path, const sim_seeds *s);
/** The equal-flow chart's gnuplot commands (equal_flow.png from equal_flow.csv). */
void sim_report_eq_gnuplot(FILE *f, const sim_seeds *s);

/* ---- output -------------------------------------------------------------- */

/**
 * report.json, report.md, series-N.csv, pnl.csv, flow.csv, plots.gp in @p dir
 * (which must exist); @p second: the second underlying's scenario (NULL:
 * one underlying); with @p plots, the PNGs if gnuplot is installed
 * (@p plotted says whether they were drawn). false + msg on error.
 */
bool sim_report_write(const char *dir, const sim_config *c, const sim_market *m, const sim_flow *f,
                      const sim_lane_input *second, const sim_result *res, size_t n,
                      const sim_seeds *seeds, bool plots, bool *plotted, char *msg, size_t cap);

/** The comparison table (Markdown). */
void sim_report_table(FILE *out, const sim_result *res, size_t n);
#endif
