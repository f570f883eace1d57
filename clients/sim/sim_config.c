/*
 * sim_config.c - the scenario as data. The defaults are the shipped scenario
 * (BTC hourly closes from May 2021, Binance funding, the Deribit chain's
 * smile, a mixed flow, seven configurations). A JSON config overrides any of
 * it; each section is parsed from a table of fields, so an unknown key, a
 * value of the wrong type or out of range is refused with its name.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sim.h"

static void run_defaults(sim_run_config *r, const char *name)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->internal = true;
    r->netting = true;
    r->dynamic_pricing = true;
    r->risk_aware = true;
    ch_hedge_policy_defaults(&r->hedge);
    r->hedge.kind = CH_HEDGE_BAND;
    r->hedge.band = 5;
    r->hedge.to_edge = true;
    r->hedge.interval = 8 * SIM_HOUR;
    r->tranche_share = 0.6;
    r->tranche_width = 0.1;
    ch_vega_policy_defaults(&r->vega);
}

void sim_config_defaults(sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 7;
    snprintf(c->underlying, sizeof c->underlying, "BTC");
    c->tick = 0.5;
    ch_date_to_time(2021, 5, 1, &c->start);
    c->days = 30;
    c->step_seconds = 3600;

    c->price.source = SIM_PRICE_CSV;
    snprintf(c->price.file, sizeof c->price.file, "BTC_USD-Hourly.csv");
    c->price.spot0 = 50000;
    c->price.sigma = 0.7;
    c->price.jumps_per_year = 12;
    c->price.jump_mean = -0.01;
    c->price.jump_sd = 0.05;
    c->price.spikes_per_year = 6;
    c->price.spike_mult = 2.5;
    c->price.spike_hours = 48;

    c->funding.source = SIM_FUND_CSV;
    snprintf(c->funding.file, sizeof c->funding.file, "funding_rates.csv");
    c->funding.rate = 0.0001;
    c->funding.sd = 0.0002;
    c->funding.reversion = 0.2;

    snprintf(c->chain.file, sizeof c->chain.file, "deribit_options.csv");
    c->chain.vol_scale = 1.0;
    c->chain.vol_follow = 0.5;
    c->chain.vol_window_hours = 72;
    c->chain.weeklies = 4;
    c->chain.monthlies = 1;
    c->chain.strike_step = 1000;
    c->chain.min_moneyness = 0.7;
    c->chain.max_moneyness = 1.4;
    c->chain.rate = 0.0;

    c->flow.source = SIM_FLOW_GENERATED;
    c->flow.shape = SIM_SHAPE_MIXED;
    c->flow.orders_per_hour = 30;
    c->flow.call_share = 0.55;
    c->flow.buy_share = 0.55;
    c->flow.limit_share = 0.7;
    c->flow.moneyness_sd = 0.08;
    c->flow.limit_vol_spread = 0.02;
    c->flow.order_ttl_hours = 6;
    c->flow.size_min = 1;
    c->flow.size_max = 10;
    c->flow.traders = 12;

    ch_perp_venue_defaults(&c->venue);
    c->pool_capital = 50e6;
    ch_engine_config ec;
    ch_engine_defaults(&ec);
    c->taker_fee_bps = ec.taker_fee_bps;
    c->netting_fee_ticks = ec.netting_fee_ticks;
    c->hedge_impact_bps = ec.hedge_impact_bps;
    c->house_delta_limit = ec.house_delta_limit;
    c->funding_half_life_h = ec.funding_half_life_h;
    c->pool = ec.pool;

    static const struct {
        const char *name;
        bool internal, netting, dynamic, risk_aware;
        ch_hedge_policy_kind kind;
    } k_runs[] = {
        {"netting, dynamic, band 5", true, true, true, true, CH_HEDGE_BAND},
        {"netting on price alone", true, true, true, false, CH_HEDGE_BAND},
        {"no parity netting", true, false, true, true, CH_HEDGE_BAND},
        {"no internal netting", false, false, true, true, CH_HEDGE_BAND},
        {"static pricing", true, true, false, true, CH_HEDGE_BAND},
        {"hedge every step", true, true, true, true, CH_HEDGE_EVERY_BATCH},
        {"hedge every 8 h", true, true, true, true, CH_HEDGE_INTERVAL},
        {"hybrid 25 or 8 h", true, true, true, true, CH_HEDGE_HYBRID},
        {"whalley-wilmott", true, true, true, true, CH_HEDGE_WW},
        {"unhedged", true, true, true, true, CH_HEDGE_OFF},
        {"per-strike tranches", true, true, true, true, CH_HEDGE_BAND},
        {"vega hedged", true, true, true, true, CH_HEDGE_BAND},
    };
    c->n_runs = sizeof k_runs / sizeof k_runs[0];
    for (size_t i = 0; i < c->n_runs; i++) {
        run_defaults(&c->runs[i], k_runs[i].name);
        c->runs[i].internal = k_runs[i].internal;
        c->runs[i].netting = k_runs[i].netting;
        c->runs[i].dynamic_pricing = k_runs[i].dynamic;
        c->runs[i].risk_aware = k_runs[i].risk_aware;
        c->runs[i].hedge.kind = k_runs[i].kind;
        if (k_runs[i].kind == CH_HEDGE_HYBRID)
            c->runs[i].hedge.band = 25;
    }
    /* a second underlying (off): ETH about its May 2021 level, more volatile than BTC */
    snprintf(c->second.name, sizeof c->second.name, "ETH");
    c->second.correlation = 0.8;
    c->second.spot0 = 2900;
    c->second.sigma = 0.9;
    c->second.tick = 0.05;
    c->second.strike_step = 50;
    c->second.orders_per_hour = 20;
    c->second.funding_rate = 0.0001;
    c->second.funding_sd = 0.0002;
    c->second.funding_reversion = 0.2;
    c->runs[c->n_runs - 2].tranches = 3;               /* below, around and above the money */
    c->runs[c->n_runs - 1].vega.mode = CH_VEGA_EXPIRY; /* a straddle when an expiry's vega */
    c->runs[c->n_runs - 1].vega.band = 1e5;            /* passes 1,000 USD per vol point */
}

/* ---- table-driven JSON fields ---------------------------------------------- */

typedef enum fkind { F_DBL, F_U32, F_I64, F_U64, F_BOOL, F_STR, F_ENUM, F_DATE, F_HOURS } fkind;

typedef struct field {
    const char *key;
    fkind kind;
    void *p;
    double lo, hi;            /* numbers: inclusive range */
    const char *const *names; /* F_ENUM: NULL-terminated; the index is stored as int */
    size_t cap;               /* F_STR */
} field;

static const char *const k_price_src[] = {"csv", "gbm", NULL};
static const char *const k_fund_src[] = {"csv", "constant", "generated", NULL};
static const char *const k_flow_src[] = {"generated", "csv", NULL};
static const char *const k_shape[] = {"mixed", "offsetting", NULL};
static const char *const k_impact[] = {"linear", "sqrt", NULL};
static const char *const k_vega_mode[] = {"off", "expiry", "total", NULL};
static const char *const k_policy[] = {"off",    "every_batch",     "band", "interval",
                                       "hybrid", "whalley_wilmott", NULL};

#define DBL(k, ptr, l, h)                                                                          \
    {                                                                                              \
        .key = k, .kind = F_DBL, .p = (ptr), .lo = (l), .hi = (h)                                  \
    }
#define U32(k, ptr, l, h)                                                                          \
    {                                                                                              \
        .key = k, .kind = F_U32, .p = (ptr), .lo = (l), .hi = (h)                                  \
    }
#define BOOLF(k, ptr)                                                                              \
    {                                                                                              \
        .key = k, .kind = F_BOOL, .p = (ptr)                                                       \
    }
#define STR(k, arr)                                                                                \
    {                                                                                              \
        .key = k, .kind = F_STR, .p = (arr), .cap = sizeof(arr)                                    \
    }
#define ENUMF(k, ptr, tab)                                                                         \
    {                                                                                              \
        .key = k, .kind = F_ENUM, .p = (ptr), .names = (tab)                                       \
    }

static bool fail(char *msg, size_t cap, const char *sect, const char *key, const char *what)
{
    snprintf(msg, cap, "config: %s%s%s: %s", sect, *sect ? "." : "", key, what);
    return false;
}

static bool set_field(const field *f, const cJSON *v, const char *sect, char *msg, size_t cap)
{
    char why[160];
    switch (f->kind) {
    case F_BOOL:
        if (!cJSON_IsBool(v))
            return fail(msg, cap, sect, f->key, "expected true or false");
        *(bool *)f->p = cJSON_IsTrue(v);
        return true;
    case F_STR:
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= f->cap)
            return fail(msg, cap, sect, f->key, "expected a string (shorter than the limit)");
        snprintf(f->p, f->cap, "%s", v->valuestring);
        return true;
    case F_ENUM:
        if (cJSON_IsString(v))
            for (int i = 0; f->names[i] != NULL; i++)
                if (strcmp(v->valuestring, f->names[i]) == 0) {
                    *(int *)f->p = i;
                    return true;
                }
        snprintf(why, sizeof why, "expected one of");
        for (int i = 0; f->names[i] != NULL; i++)
            snprintf(why + strlen(why), sizeof why - strlen(why), " \"%s\"", f->names[i]);
        return fail(msg, cap, sect, f->key, why);
    case F_DATE: {
        if (!cJSON_IsString(v) || strlen(v->valuestring) != 10 ||
            ch_date_parse(v->valuestring, f->p) != CH_OK)
            return fail(msg, cap, sect, f->key, "expected a date YYYY-MM-DD");
        return true;
    }
    default:
        break;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail(msg, cap, sect, f->key, "expected a number");
    double x = v->valuedouble;
    if (x < f->lo || x > f->hi) {
        snprintf(why, sizeof why, "%g is out of range [%g, %g]", x, f->lo, f->hi);
        return fail(msg, cap, sect, f->key, why);
    }
    if (f->kind != F_DBL && f->kind != F_HOURS && x != floor(x))
        return fail(msg, cap, sect, f->key, "expected a whole number");
    switch (f->kind) {
    case F_DBL:
        *(double *)f->p = x;
        break;
    case F_U32:
        *(uint32_t *)f->p = (uint32_t)x;
        break;
    case F_I64:
        *(int64_t *)f->p = (int64_t)x;
        break;
    case F_U64:
        *(uint64_t *)f->p = (uint64_t)x;
        break;
    case F_HOURS:
        *(ch_time *)f->p = (ch_time)llround(x * (double)SIM_HOUR);
        break;
    default:
        break;
    }
    return true;
}

static bool parse_obj(const cJSON *obj, const field *fs, size_t n, const char *sect,
                      const char *const *sections, char *msg, size_t cap)
{
    if (!cJSON_IsObject(obj))
        return fail(msg, cap, "", sect[0] ? sect : "(top level)", "expected an object");
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            if (strcmp(it->string, fs[i].key) == 0) {
                if (!set_field(&fs[i], it, sect, msg, cap))
                    return false;
                known = true;
            }
        for (size_t i = 0; sections != NULL && sections[i] != NULL && !known; i++)
            known = strcmp(it->string, sections[i]) == 0;
        if (!known)
            return fail(msg, cap, sect, it->string, "unknown key");
    }
    return true;
}

static bool parse_run(const cJSON *o, sim_run_config *r, size_t idx, char *msg, size_t cap)
{
    char sect[48];
    snprintf(sect, sizeof sect, "configurations[%zu]", idx);
    int kind = (int)r->hedge.kind;
    const field fs[] = {
        STR("name", r->name),
        BOOLF("internal", &r->internal),
        BOOLF("netting", &r->netting),
        BOOLF("dynamic_pricing", &r->dynamic_pricing),
        BOOLF("risk_aware", &r->risk_aware),
        BOOLF("forward_funding", &r->forward_funding),
        U32("tranches", &r->tranches, 0, SIM_LP_MAX - 1),
        DBL("tranche_share", &r->tranche_share, 0, 1),
        DBL("tranche_width", &r->tranche_width, 0.001, 1),
    };
    static const char *const subs[] = {"hedge", "vega", NULL};
    if (!parse_obj(o, fs, sizeof fs / sizeof fs[0], sect, subs, msg, cap))
        return false;
    if (r->name[0] == '\0')
        return fail(msg, cap, sect, "name", "must not be empty");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "hedge");
    if (h != NULL) {
        char hs[64];
        snprintf(hs, sizeof hs, "%s.hedge", sect);
        const field hf[] = {
            ENUMF("policy", &kind, k_policy),
            DBL("band", &r->hedge.band, 0, 1e9),
            BOOLF("to_edge", &r->hedge.to_edge),
            {.key = "interval_hours",
             .kind = F_HOURS,
             .p = &r->hedge.interval,
             .lo = 0,
             .hi = 24 * 365},
            DBL("min_order", &r->hedge.min_order, 0, 1e9),
            DBL("max_order", &r->hedge.max_order, 0, 1e9),
            DBL("hedge_cap", &r->hedge.hedge_cap, 0, 1e9),
            DBL("ww_risk_aversion", &r->hedge.ww_risk_aversion, 1e-12, 1e6),
            DBL("ww_cost", &r->hedge.ww_cost, 1e-12, 1),
        };
        if (!parse_obj(h, hf, sizeof hf / sizeof hf[0], hs, NULL, msg, cap))
            return false;
        r->hedge.kind = (ch_hedge_policy_kind)kind;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vega");
    if (v != NULL) {
        char vs[64];
        snprintf(vs, sizeof vs, "%s.vega", sect);
        int mode = (int)r->vega.mode;
        const field vf[] = {
            ENUMF("mode", &mode, k_vega_mode),
            DBL("band", &r->vega.band, 0, 1e12),
            BOOLF("to_edge", &r->vega.to_edge),
            BOOLF("straddle", &r->vega.straddle),
        };
        if (!parse_obj(v, vf, sizeof vf / sizeof vf[0], vs, NULL, msg, cap))
            return false;
        r->vega.mode = (ch_vega_mode)mode;
    }
    return true;
}

/* The second underlying: a name a symbol can carry, a tick the engine takes,
 * and configurations a two-underlying run supports. */
static bool check_second(const sim_config *c, char *msg, size_t cap)
{
    const sim_second *s = &c->second;
    size_t len = strlen(s->name);
    if (len == 0 || strspn(s->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != len)
        return fail(msg, cap, "second_underlying", "name", "expected 1 to 15 capitals or digits");
    if (strcmp(s->name, c->underlying) == 0)
        return fail(msg, cap, "second_underlying", "name", "must differ from the first (BTC)");
    char tick[32];
    ch_underlying_config u = {0};
    snprintf(tick, sizeof tick, "%.10g", s->tick);
    if (ch_tick_parse(tick, strlen(tick), &u) != CH_OK)
        return fail(msg, cap, "second_underlying", "tick", "not a decimal tick the engine takes");
    if (!s->enabled)
        return true;
    for (size_t i = 0; i < c->n_runs; i++)
        if (c->runs[i].tranches > 0) {
            char sect[48];
            snprintf(sect, sizeof sect, "configurations[%zu]", i);
            return fail(msg, cap, sect, "tranches",
                        "strike tranches are for one underlying; give configurations without "
                        "them for a two-underlying scenario");
        }
    return true;
}

void sim_config_second(const sim_config *c, double spot_ratio, sim_config *o)
{
    *o = *c;
    o->second.enabled = false;
    snprintf(o->underlying, sizeof o->underlying, "%s", c->second.name);
    o->tick = c->second.tick;
    o->seed = c->seed ^ UINT64_C(0x5bd1e9955bd1e995); /* its own flow and funding streams */
    o->price.source = SIM_PRICE_GBM;
    o->price.spot0 = c->second.spot0;
    o->price.mu = c->second.mu;
    o->price.sigma = c->second.sigma;
    o->price.jumps_per_year = o->price.spikes_per_year = 0; /* jumps come with the first's */
    o->funding.source = SIM_FUND_GENERATED;
    o->funding.rate = c->second.funding_rate;
    o->funding.sd = c->second.funding_sd;
    o->funding.reversion = c->second.funding_reversion;
    o->chain.strike_step = c->second.strike_step;
    o->flow.source = SIM_FLOW_GENERATED;
    o->flow.orders_per_hour = c->second.orders_per_hour;
    o->venue.depth *= spot_ratio;
    o->venue.adv *= spot_ratio;
    for (size_t i = 0; i < o->n_runs; i++) {
        ch_hedge_policy *h = &o->runs[i].hedge;
        h->band *= spot_ratio;
        h->min_order *= spot_ratio;
        h->max_order *= spot_ratio;
        h->hedge_cap *= spot_ratio;
    }
}

bool sim_config_parse(sim_config *c, const char *json, char *msg, size_t cap)
{
    cJSON *root = cJSON_Parse(json);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        snprintf(msg, cap, "config: not valid JSON near \"%.20s\"", at ? at : "");
        return false;
    }
    int psrc = (int)c->price.source, fsrc = (int)c->funding.source;
    int flsrc = (int)c->flow.source, shape = (int)c->flow.shape, impact = (int)c->venue.impact;
    double step = (double)c->step_seconds;
    const field top[] = {
        {.key = "seed", .kind = F_U64, .p = &c->seed, .lo = 0, .hi = 9007199254740992.0},
        {.key = "start", .kind = F_DATE, .p = &c->start},
        DBL("days", &c->days, 1.0 / 24, 3650),
        DBL("step_seconds", &step, 1, 86400),
        STR("data_dir", c->data_dir),
    };
    static const char *const sections[] = {
        "price",          "funding",           "chain", "flow", "venue", "pool", "engine",
        "configurations", "second_underlying", NULL};
    const field price[] = {
        ENUMF("source", &psrc, k_price_src),
        STR("file", c->price.file),
        DBL("spot0", &c->price.spot0, 1, 1e9),
        DBL("mu", &c->price.mu, -10, 10),
        DBL("sigma", &c->price.sigma, 0, 10),
        DBL("jumps_per_year", &c->price.jumps_per_year, 0, 10000),
        DBL("jump_mean", &c->price.jump_mean, -1, 1),
        DBL("jump_sd", &c->price.jump_sd, 0, 2),
        DBL("spikes_per_year", &c->price.spikes_per_year, 0, 1000),
        DBL("spike_mult", &c->price.spike_mult, 1, 20),
        DBL("spike_hours", &c->price.spike_hours, 0, 24 * 365),
        DBL("basis_bps", &c->price.basis_bps, -5000, 5000),
    };
    const field funding[] = {
        ENUMF("source", &fsrc, k_fund_src),
        STR("file", c->funding.file),
        DBL("rate", &c->funding.rate, -0.1, 0.1),
        DBL("sd", &c->funding.sd, 0, 0.1),
        DBL("reversion", &c->funding.reversion, 0, 1),
    };
    const field chain[] = {
        STR("file", c->chain.file),
        DBL("flat_vol", &c->chain.flat_vol, 0, 5),
        DBL("vol_scale", &c->chain.vol_scale, 0.05, 10),
        DBL("vol_follow", &c->chain.vol_follow, 0, 1),
        DBL("vol_window_hours", &c->chain.vol_window_hours, 1, 24 * 365),
        U32("weeklies", &c->chain.weeklies, 0, 12),
        U32("monthlies", &c->chain.monthlies, 0, 6),
        DBL("strike_step", &c->chain.strike_step, 1, 1e6),
        DBL("min_moneyness", &c->chain.min_moneyness, 0.05, 1),
        DBL("max_moneyness", &c->chain.max_moneyness, 1, 20),
        DBL("rate", &c->chain.rate, -0.5, 1),
    };
    const field flow[] = {
        ENUMF("source", &flsrc, k_flow_src),
        ENUMF("shape", &shape, k_shape),
        STR("file", c->flow.file),
        DBL("orders_per_hour", &c->flow.orders_per_hour, 0, 10000),
        DBL("call_share", &c->flow.call_share, 0, 1),
        DBL("buy_share", &c->flow.buy_share, 0, 1),
        DBL("limit_share", &c->flow.limit_share, 0, 1),
        DBL("moneyness_sd", &c->flow.moneyness_sd, 0, 2),
        DBL("limit_vol_spread", &c->flow.limit_vol_spread, 0, 1),
        DBL("order_ttl_hours", &c->flow.order_ttl_hours, 0, 24 * 365),
        U32("size_min", &c->flow.size_min, 1, 1000000),
        U32("size_max", &c->flow.size_max, 1, 1000000),
        U32("traders", &c->flow.traders, 1, 1000),
    };
    const field venue[] = {
        DBL("taker_fee_bps", &c->venue.taker_fee_bps, 0, 1000),
        ENUMF("impact", &impact, k_impact),
        DBL("depth", &c->venue.depth, 1e-9, 1e15),
        DBL("impact_y", &c->venue.impact_y, 0, 100),
        DBL("sigma_daily", &c->venue.sigma_daily, 0, 10),
        DBL("adv", &c->venue.adv, 1e-9, 1e15),
    };
    const field pool[] = {
        DBL("capital", &c->pool_capital, 1, 1e13),
        DBL("half_spread_vol", &c->pool.half_spread_vol, 0, 1),
        DBL("pv_t", &c->pool.pv_t, 0, 1),
        DBL("pg_t", &c->pool.pg_t, 0, 1),
        DBL("pv_k", &c->pool.pv_k, 0, 1),
        DBL("pg_k", &c->pool.pg_k, 0, 1),
        DBL("max_skew_vol", &c->pool.max_skew_vol, 0, 5),
        DBL("max_vega_total", &c->pool.max_vega_total, 1e-9, 1e15),
        DBL("max_gamma_total", &c->pool.max_gamma_total, 1e-12, 1e15),
        DBL("max_vega_strike", &c->pool.max_vega_strike, 1e-9, 1e15),
        DBL("max_gamma_strike", &c->pool.max_gamma_strike, 1e-12, 1e15),
        DBL("max_notional", &c->pool.max_notional, 1, 1e18),
    };
    const field engine[] = {
        DBL("taker_fee_bps", &c->taker_fee_bps, 0, 1000),
        {.key = "netting_fee_ticks", .kind = F_I64, .p = &c->netting_fee_ticks, .lo = 0, .hi = 1e9},
        DBL("hedge_impact_bps", &c->hedge_impact_bps, 0, 1000),
        DBL("house_delta_limit", &c->house_delta_limit, 0, 1e12),
        DBL("funding_half_life_h", &c->funding_half_life_h, 0, 24 * 3650),
    };
    const field second[] = {
        BOOLF("enabled", &c->second.enabled),
        STR("name", c->second.name),
        DBL("correlation", &c->second.correlation, -1, 1),
        DBL("spot0", &c->second.spot0, 1e-6, 1e9),
        DBL("mu", &c->second.mu, -10, 10),
        DBL("sigma", &c->second.sigma, 0, 10),
        DBL("tick", &c->second.tick, 1e-6, 1e6),
        DBL("strike_step", &c->second.strike_step, 1, 1e6),
        DBL("orders_per_hour", &c->second.orders_per_hour, 0, 10000),
        DBL("funding_rate", &c->second.funding_rate, -0.1, 0.1),
        DBL("funding_sd", &c->second.funding_sd, 0, 0.1),
        DBL("funding_reversion", &c->second.funding_reversion, 0, 1),
    };
    struct {
        const char *name;
        const field *fs;
        size_t n;
    } subs[] = {
        {"second_underlying", second, sizeof second / sizeof second[0]},
        {"price", price, sizeof price / sizeof price[0]},
        {"funding", funding, sizeof funding / sizeof funding[0]},
        {"chain", chain, sizeof chain / sizeof chain[0]},
        {"flow", flow, sizeof flow / sizeof flow[0]},
        {"venue", venue, sizeof venue / sizeof venue[0]},
        {"pool", pool, sizeof pool / sizeof pool[0]},
        {"engine", engine, sizeof engine / sizeof engine[0]},
    };
    bool ok = parse_obj(root, top, sizeof top / sizeof top[0], "", sections, msg, cap);
    for (size_t i = 0; ok && i < sizeof subs / sizeof subs[0]; i++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, subs[i].name);
        if (o != NULL)
            ok = parse_obj(o, subs[i].fs, subs[i].n, subs[i].name, NULL, msg, cap);
    }
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "configurations");
    if (ok && runs != NULL) {
        size_t n = (size_t)cJSON_GetArraySize(runs);
        if (!cJSON_IsArray(runs) || n == 0 || n > SIM_MAX_RUNS) {
            snprintf(msg, cap, "config: configurations: expected an array of 1 to %d objects",
                     SIM_MAX_RUNS);
            ok = false;
        }
        for (size_t i = 0; ok && i < n; i++) {
            char name[SIM_NAME_MAX];
            snprintf(name, sizeof name, "configuration %zu", i + 1);
            run_defaults(&c->runs[i], name);
            ok = parse_run(cJSON_GetArrayItem(runs, (int)i), &c->runs[i], i, msg, cap);
        }
        if (ok)
            c->n_runs = n;
    }
    cJSON_Delete(root);
    if (!ok)
        return false;
    c->price.source = (sim_price_src)psrc;
    c->funding.source = (sim_funding_src)fsrc;
    c->flow.source = (sim_flow_src)flsrc;
    c->flow.shape = (sim_flow_shape)shape;
    c->venue.impact = (ch_impact_model)impact;
    c->step_seconds = (int64_t)step;
    if (step != floor(step))
        return fail(msg, cap, "", "step_seconds", "expected a whole number");
    if (c->flow.size_max < c->flow.size_min)
        return fail(msg, cap, "flow", "size_max", "must be >= size_min");
    if (c->chain.weeklies + c->chain.monthlies == 0 && c->flow.source == SIM_FLOW_GENERATED)
        return fail(msg, cap, "chain", "weeklies", "a generated flow needs listed expiries");
    if ((c->flow.source == SIM_FLOW_CSV && c->flow.file[0] == '\0'))
        return fail(msg, cap, "flow", "file", "a csv flow needs a file");
    return check_second(c, msg, cap);
}
