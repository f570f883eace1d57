/*
 * config.c - chd's configuration: the embedded defaults, and one table of
 * keys (name, type, range, meaning) that parses the JSON file (unknown keys
 * and bad values are errors, see ch/server.h), prints the effective
 * configuration and documents every key.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"
#include "ch/proto_bin.h"
#include "ch/server.h"

/* ---- configuration ---------------------------------------------------------- */

void ch_server_defaults(ch_server_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->req_url, sizeof c->req_url, "tcp://127.0.0.1:7450");
    snprintf(c->pub_url, sizeof c->pub_url, "tcp://127.0.0.1:7451");
    snprintf(c->data_dir, sizeof c->data_dir, "./var");
    c->durability = CH_DURABLE_SYNC;
    c->max_request = (size_t)1 << 20;
    c->contexts = 64;
    c->max_batch = 5000;
    c->coid_cache = 65536;
    c->snapshot_every = 1000000;
    c->snapshot_seconds = 600;
    snprintf(c->shard, sizeof c->shard, "main");
    c->cluster_replicas = 1;
    c->cluster_timeout_ms = 2000;
    c->cluster_lease_ms = 1500;
    c->snapshot_keep = 2;
    c->snapshot_load = true;
    c->max_clients = 1024;
    c->conn_rate = 20000;
    c->conn_burst = 40000;
    c->account_rate = 100000;
    c->account_burst = 200000;
    c->max_open_orders = 10000;
    c->max_pending_replies = 8;
    c->send_timeout_ms = 2000;
    c->idle_timeout_ms = 10000;
    ch_engine_defaults(&c->engine);
    c->engine.max_accounts = 1024;
    c->engine.max_positions = 1u << 18;
    c->n_und = 2;
    ch_server_underlying *b = &c->und[0], *e = &c->und[1];
    *b = (ch_server_underlying){
        .u = {.name = "BTC", .contract_size = 1.0, .min_price = 1, .max_price = 2000000},
        .n_expiries = 4,
        .n_strikes = 9,
        .index = 100000,
        .vol = 0.6,
        .rate = 0.03,
        .hedge_kind = -1,
        .hedge_band = -1};
    ch_tick_parse("0.5", 3, &b->u);
    for (size_t i = 0; i < b->n_strikes; i++)
        b->strikes[i] = 80000 + 5000 * (int64_t)i;
    /* ETH: the strikes and smile of the Deribit ETH chain the simulator ships
     * (clients/sim/data/deribit_options.csv, 26JAN24, out-of-the-money marks
     * inverted to Black-Scholes vols), its index 2,222.2; band 200 ETH, about
     * the notional of BTC's 5 */
    static const double eth_smile[9] = {0.831, 0.789, 0.756, 0.731, 0.717,
                                        0.711, 0.713, 0.722, 0.730};
    *e = (ch_server_underlying){
        .u = {.name = "ETH", .contract_size = 1.0, .min_price = 1, .max_price = 2000000},
        .n_expiries = 4,
        .n_strikes = 9,
        .index = 2222.2,
        .vol = 0.72,
        .rate = 0.03,
        .hedge_kind = -1,
        .hedge_band = 200};
    ch_tick_parse("0.05", 4, &e->u);
    for (size_t i = 0; i < e->n_strikes; i++) {
        e->strikes[i] = 1800 + 100 * (int64_t)i;
        e->smile[i] = eth_smile[i];
    }
    c->lp_cash = 10000000;
    ch_hedge_policy_defaults(&c->hedge);
    ch_vega_policy_defaults(&c->vega);
    ch_option_venue_defaults(&c->option_venue);
    c->hedge.band = 5;
    ch_perp_venue_defaults(&c->venue);
}

/* ---- the keys ----------------------------------------------------------------
 *
 * One table drives parsing, printing (chd --print-config) and the
 * documentation (chd --config-doc, the README's configuration section).
 * A key's default is whatever ch_server_defaults sets: the table does not
 * repeat it.
 */

typedef enum {
    K_STR,      /* char[size], any string that fits */
    K_NONEMPTY, /* char[size], non-empty */
    K_BOOL,     /* bool */
    K_DBL,      /* double in [lo, hi] */
    K_U32,      /* uint32_t, an integer in [lo, hi] */
    K_INT,      /* int, an integer in [lo, hi] */
    K_I64,      /* int64_t, an integer in [lo, hi] */
    K_SIZE,     /* size_t, an integer in [lo, hi] */
    K_SECS_MS,  /* int milliseconds, given in seconds in [lo, hi] */
    K_DURABILITY,
    K_CLOCK, /* ch_time: 0 (the wall clock) or a fixed start */
    K_TICK,
    K_STRIKES,
    K_POLICY,
    K_RISK_AWARE,
    K_VEGA_MODE,
    K_SMILE,       /* vols per strike (ch_server_underlying) */
    K_UPOLICY,     /* an underlying's hedge policy, or "default" */
    K_UNDERLYINGS, /* the list of underlyings */
} key_kind;

typedef struct cfg_key {
    const char *name;
    key_kind kind;
    size_t off, size; /* of the field in ch_server_config */
    double lo, hi;    /* numbers: the accepted range */
    bool zero_ok;     /* numbers: 0 is also accepted (it means a default) */
    const char *doc;
} cfg_key;

#define F(field) offsetof(ch_server_config, field), sizeof(((ch_server_config *)NULL)->field)

static const cfg_key k_keys[] = {
    /* where it listens and keeps its data */
    {"req", K_NONEMPTY, F(req_url), 0, 0, false,
     "request endpoint (REP): tcp://, tls+tcp://, ipc://"},
    {"pub", K_NONEMPTY, F(pub_url), 0, 0, false, "event endpoint (PUB)"},
    {"admin", K_STR, F(admin_url), 0, 0, false,
     "second endpoint that max_clients does not count (keys still apply); \"\": "
     "ipc://DATA/admin.sock (mode 0600); \"none\": no admin endpoint"},
    {"data", K_NONEMPTY, F(data_dir), 0, 0, false, "data folder: LMDB store, keys, lock"},
    {"tls_cert_key", K_STR, F(tls_cert_key), 0, 0, false,
     "PEM file with certificate and key, for tls+tcp:// endpoints"},
    {"durability", K_DURABILITY, F(durability), 0, 0, false,
     "\"sync\": every batch is on disk before its replies; \"nosync\": the OS writes it"},
    {"no_auth", K_BOOL, F(no_auth), 0, 0, false, "keys are not checked (tests, benchmarks)"},
    {"clock", K_CLOCK, F(clock_start), 0, 0, false,
     "\"wall\": the engine's clock follows the wall clock; an ISO-8601 UTC time "
     "(2026-01-02T08:00:00Z): a fixed clock that starts there (series listed from it) and "
     "moves only with market.update's time, so runs repeat exactly (demos, tests)"},
    /* transport and bounds */
    {"max_request", K_SIZE, F(max_request), 1024, 64 << 20, false, "bytes of one request"},
    {"contexts", K_INT, F(contexts), 1, 4096, false, "REP contexts in flight"},
    {"max_batch", K_SIZE, F(max_batch), 1, CH_BIN_MAX_ORDERS, false, "orders in one order.batch"},
    {"coid_cache", K_SIZE, F(coid_cache), 2, 1e8, false,
     "client order ids kept in memory (the index of every id is in the store; older repeats "
     "are read from it)"},
    {"snapshot_every", K_SIZE, F(snapshot_every), 1000, 1e12, true,
     "commands between snapshots of the state (0: none by count); a start loads the newest "
     "and replays only the log after it"},
    {"snapshot_seconds", K_DBL, F(snapshot_seconds), 1, 1e7, true,
     "seconds between snapshots when commands came since the last one (or since the start) (0: "
     "none by time)"},
    {"snapshot_keep", K_U32, F(snapshot_keep), 1, 100, false,
     "snapshots kept in the store (the newest; an older one serves if the newest cannot)"},
    {"snapshot_load", K_BOOL, F(snapshot_load), 0, 0, false,
     "a start loads the newest snapshot; false: it replays the whole log (to check the "
     "snapshots against it)"},
    {"log_prune", K_BOOL, F(log_prune), 0, 0, false,
     "after each snapshot, drop the log's commands up to the oldest kept snapshot (the fill "
     "records stay; a start then needs a snapshot that loads)"},
    {"max_clients", K_U32, F(max_clients), 1, 65536, false,
     "connections served; more are answered UNAVAILABLE, beyond twice as many closed"},
    {"conn_rate", K_DBL, F(conn_rate), 0, 1e9, false, "requests/s per connection (0: no limit)"},
    {"conn_burst", K_DBL, F(conn_burst), 1, 1e9, false, "burst of conn_rate, requests"},
    {"account_rate", K_DBL, F(account_rate), 0, 1e9, false, "orders/s per account (0: no limit)"},
    {"account_burst", K_DBL, F(account_burst), 1, 1e9, false, "burst of account_rate, orders"},
    {"max_open_orders", K_U32, F(max_open_orders), 0, 1e8, false,
     "resting orders per account (0: no limit)"},
    {"map_size", K_SIZE, F(map_size), 65536, 1e13, true, "initial LMDB map, bytes (0: 64 MiB)"},
    {"map_max", K_SIZE, F(map_max), 65536, 1e13, true,
     "largest LMDB map, bytes (0: no limit); a batch past it halts the store"},
    {"max_pending_replies", K_U32, F(max_pending_replies), 1, 4096, false,
     "replies one connection leaves unread before it is closed"},
    {"send_timeout", K_SECS_MS, F(send_timeout_ms), 0.01, 3600, false,
     "seconds to write one reply before its connection is closed"},
    {"idle_timeout", K_SECS_MS, F(idle_timeout_ms), 0.1, 86400, false,
     "seconds a connection with nothing in flight stays open"},
    /* engine sizes (memory is taken at start) */
    {"max_accounts", K_U32, F(engine.max_accounts), 4, 1 << 20, false,
     "accounts, the house, pool and fee accounts included"},
    {"max_instruments", K_U32, F(engine.max_instruments), 1, 1 << 20, false,
     "listed series, all underlyings (max_accounts x max_instruments <= 2^28)"},
    {"max_underlyings", K_U32, F(engine.max_underlyings), 1, 64, false,
     "underlyings (each account keeps a margin vector per underlying)"},
    {"max_orders", K_U32, F(engine.max_orders), 1, 1 << 26, false, "resting orders, all books"},
    {"max_levels", K_U32, F(engine.max_levels), 1, 1 << 16, false,
     "price levels per side of one book (a series whose band has no more ticks than this is "
     "indexed by price)"},
    {"max_positions", K_U32, F(engine.max_positions), 1, 1 << 28, false,
     "(account, series) position records"},
    /* what a fresh data folder starts with */
    {"underlyings", K_UNDERLYINGS, F(und), 0, 0, false,
     "the underlyings a fresh data folder lists, 1 to 16 objects: name, tick, strikes and index "
     "(required), contract_size, min_price and max_price (ticks; 1 .. 2000000), expiries (4), "
     "smile (a vol per strike; 0: vol), vol (0.6), rate (0.03), hedge_policy (\"default\": "
     "hedge_policy's) and hedge_band (-1: hedge_band's), as the keys below; the policy and band "
     "also apply by name at every start. The keys that follow set the first one"},
    {"underlying", K_NONEMPTY, F(und[0].u.name), 0, 0, false,
     "name of the first underlying (given without `underlyings`: the only one, as in 1.0)"},
    {"tick", K_TICK, F(und[0].u), 0, 0, false, "price tick, a decimal string"},
    {"contract_size", K_DBL, F(und[0].u.contract_size), 1e-9, 1e9, false,
     "units of the underlying per contract"},
    {"expiries", K_INT, F(und[0].n_expiries), 1, 52, false, "weekly Friday expiries listed"},
    {"strikes", K_STRIKES, F(und[0]), 1, 1e12, false,
     "strikes listed for each expiry, up to 64 positive integers, USD"},
    {"index", K_DBL, F(und[0].index), 1e-9, 1e12, false, "starting index price, USD"},
    {"vol", K_DBL, F(und[0].vol), 0.01, 10, false, "starting implied volatility (0.6 = 60 %)"},
    {"rate", K_DBL, F(und[0].rate), -1, 1, false, "interest rate, a year"},
    {"lp_cash", K_I64, F(lp_cash), 0, 1e12, false, "seed capital of the pool, USD"},
    /* netting and the pool */
    {"netting", K_BOOL, F(engine.netting), 0, 0, false, "parity netting (calls against puts)"},
    {"netting_fee_ticks", K_I64, F(engine.netting_fee_ticks), 0, 1e6, false,
     "minimum fee of a parity fill, ticks per contract"},
    {"taker_fee_bps", K_DBL, F(engine.taker_fee_bps), 0, 1000, false,
     "taker fee, bps of index x contract size per contract"},
    {"risk_aware", K_RISK_AWARE, F(engine.risk_aware), 0, 0, false,
     "choose and price internal fills by their marginal hedge cost on the house's whole book"},
    {"forward_funding", K_BOOL, F(engine.forward_funding), 0, 0, false,
     "the parity forward includes the expected funding to expiry (measured losing)"},
    {"hedge_fee_bps", K_DBL, F(engine.hedge_fee_bps), 0, 1000, false,
     "the hedge venue's taker fee in the marginal hedge cost, bps of notional"},
    {"hedge_impact_bps", K_DBL, F(engine.hedge_impact_bps), 0, 1000, false,
     "impact of a typical hedge order in the marginal hedge cost, bps of notional"},
    {"house_delta_limit", K_DBL, F(engine.house_delta_limit), 0, 1e12, false,
     "parity fills that take the house's |unhedged delta| past this are refused (0: none)"},
    {"funding_half_life_h", K_DBL, F(engine.funding_half_life_h), 0, 24 * 3650, false,
     "half-life of the expected funding's average, hours"},
    {"pool", K_BOOL, F(engine.pool.enabled), 0, 0, false, "the pool quotes and takes the residual"},
    {"pool_half_spread_vol", K_DBL, F(engine.pool.half_spread_vol), 0, 1, false,
     "the pool's half-spread, in vol"},
    {"pool_max_notional", K_DBL, F(engine.pool.max_notional), 0, 1e15, false,
     "the pool's largest notional, USD"},
    {"pool_max_vega_total", K_DBL, F(engine.pool.max_vega_total), 0, 1e15, false,
     "the pool's largest |vega|, USD per 1.00 vol"},
    {"pool_max_gamma_strike", K_DBL, F(engine.pool.max_gamma_strike), 0, 1e9, false,
     "the pool's largest |gamma| at one strike, underlying units per unit spot"},
    /* hedging */
    {"hedge_policy", K_POLICY, F(hedge.kind), 0, 0, false,
     "off, every_batch, band, interval, hybrid or whalley_wilmott"},
    {"hedge_band", K_DBL, F(hedge.band), 0, 1e9, false,
     "band policy: |net delta| that triggers a hedge, underlying units"},
    {"venue_fee_bps", K_DBL, F(venue.taker_fee_bps), 0, 1000, false,
     "the simulated venue's taker fee, bps"},
    {"hedge_venue", K_STR, F(hedge_venue), 0, 0, false,
     "an external venue's REP URL (\"\": the simulated venue)"},
    {"hedge_venue_timeout_ms", K_INT, F(hedge_venue_timeout_ms), 1, 600000, true,
     "per attempt at the external venue, ms (0: 500)"},
    /* scale-out: the shard's replicated batch log */
    {"cluster", K_STR, F(cluster), 0, 0, false,
     "NATS servers of the replicated batch log, comma-separated (\"\": none); each batch is "
     "appended to the shard's JetStream stream before it is written and answered"},
    {"shard", K_STR, F(shard), 0, 0, false,
     "the shard's name (1 to 31 of a-z 0-9 _ -): its stream is CH_<SHARD>"},
    {"cluster_replicas", K_INT, F(cluster_replicas), 1, 5, false,
     "replicas of the shard's stream when chd creates it (3 in a 3-server cluster)"},
    {"cluster_timeout_ms", K_INT, F(cluster_timeout_ms), 1, 600000, false,
     "an append not acknowledged by then fails: writes stop with UNAVAILABLE"},
    {"standby", K_BOOL, F(standby), 0, 0, false,
     "with cluster: start by following the shard's stream (apply its batches, answer reads, "
     "refuse writes with NOT_PRIMARY) and take the shard over when the primary's lease lapses"},
    {"cluster_lease_ms", K_INT, F(cluster_lease_ms), 200, 60000, false,
     "the primary's lease in JetStream KeyValue: renewed every 200 ms, a standby takes the "
     "shard once it lapses"},
    /* vega hedging: options at the simulated options venue */
    {"vega_policy", K_VEGA_MODE, F(vega.mode), 0, 0, false,
     "off, expiry (a band on each expiry's residual vega) or total (on the sum)"},
    {"vega_band", K_DBL, F(vega.band), 0, 1e15, false,
     "|residual vega| allowed, USD per 1.00 vol (100000 = 1,000 per vol point)"},
    {"vega_to_edge", K_BOOL, F(vega.to_edge), 0, 0, false,
     "trade back to the band's edge (else to zero)"},
    {"vega_straddle", K_BOOL, F(vega.straddle), 0, 0, false,
     "trade a straddle at the strike nearest the index (else the call)"},
    {"option_vol_spread", K_DBL, F(option_venue.vol_spread), 0, 1, false,
     "the options venue's spread each side, in vol (0.005: half a vol point)"},
    {"option_fee_rate", K_DBL, F(option_venue.fee_rate), 0, 0.1, false,
     "the options venue's fee per contract, share of index x contract size"},
    {"option_fee_cap", K_DBL, F(option_venue.fee_cap), 0, 1, false,
     "the options venue's fee at most this share of the premium"},
};
#undef F

#define N_KEYS (sizeof k_keys / sizeof k_keys[0])

/* The keys of one entry of `underlyings` (offsets in ch_server_underlying). */
#define U(field)                                                                                   \
    offsetof(ch_server_underlying, field), sizeof(((ch_server_underlying *)NULL)->field)
static const cfg_key k_und_keys[] = {
    {"name", K_NONEMPTY, U(u.name), 0, 0, false, ""},
    {"tick", K_TICK, U(u), 0, 0, false, ""},
    {"contract_size", K_DBL, U(u.contract_size), 1e-9, 1e9, false, ""},
    {"min_price", K_I64, U(u.min_price), 1, 1e15, false, ""},
    {"max_price", K_I64, U(u.max_price), 1, 1e15, false, ""},
    {"expiries", K_INT, U(n_expiries), 1, 52, false, ""},
    {"strikes", K_STRIKES, 0, sizeof(ch_server_underlying), 1, 1e12, false, ""},
    {"smile", K_SMILE, 0, sizeof(ch_server_underlying), 0, 10, true, ""},
    {"index", K_DBL, U(index), 1e-9, 1e12, false, ""},
    {"vol", K_DBL, U(vol), 0.01, 10, false, ""},
    {"rate", K_DBL, U(rate), -1, 1, false, ""},
    {"hedge_policy", K_UPOLICY, U(hedge_kind), 0, 0, false, ""},
    {"hedge_band", K_DBL, U(hedge_band), -1, 1e9, false, ""},
};
#undef U
#define N_UND_KEYS (sizeof k_und_keys / sizeof k_und_keys[0])

static ch_err cfg_fail(char *err, size_t cap, const char *key, const char *problem)
{
    snprintf(err, cap, "config: \"%s\": %s", key, problem);
    return CH_EBADCONFIG;
}

/* v is a number in the key's range (an integer for integer kinds), or 0
 * where 0 is accepted. */
static bool in_range(const cfg_key *k, const cJSON *v, double *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    bool integral = k->kind == K_U32 || k->kind == K_INT || k->kind == K_I64 || k->kind == K_SIZE;
    if (integral && floor(d) != d)
        return false;
    if (!((d >= k->lo && d <= k->hi) || (k->zero_ok && d == 0)))
        return false;
    *out = d;
    return true;
}

static const char *kind_problem(const cfg_key *k, char *buf, size_t cap)
{
    switch (k->kind) {
    case K_NONEMPTY:
        snprintf(buf, cap, "must be a non-empty string of at most %zu bytes", k->size - 1);
        return buf;
    case K_STR:
        snprintf(buf, cap, "must be a string of at most %zu bytes", k->size - 1);
        return buf;
    case K_BOOL:
    case K_RISK_AWARE:
        return "must be true or false";
    case K_DURABILITY:
        return "must be \"sync\" or \"nosync\"";
    case K_CLOCK:
        return "must be \"wall\" or an ISO-8601 UTC time such as \"2026-01-02T08:00:00Z\"";
    case K_TICK:
        return "is not a valid tick";
    case K_STRIKES:
        return "must be up to 64 positive integers";
    case K_POLICY:
        return "is not a hedge policy";
    case K_VEGA_MODE:
        return "must be \"off\", \"expiry\" or \"total\"";
    case K_SMILE:
        return "must be one vol in (0, 10] per strike, or 0 for `vol`";
    case K_UPOLICY:
        return "is not a hedge policy (or \"default\")";
    case K_UNDERLYINGS:
        return "must be an array of 1 to 16 objects with distinct names";
    default:
        snprintf(buf, cap, "must be %s in [%.10g, %.10g]%s",
                 k->kind == K_DBL || k->kind == K_SECS_MS ? "a number" : "an integer", k->lo, k->hi,
                 k->zero_ok ? " or 0" : "");
        return buf;
    }
}

static bool set_underlyings(ch_server_config *c, const cJSON *v, char *err, size_t cap);

/* Set one key from v, at base (the configuration, or one of its
 * underlyings); false: a value of the wrong type or range. */
static bool set_key(ch_server_config *c, char *base, const cfg_key *k, const cJSON *v)
{
    char *p = base + k->off;
    double d;
    switch (k->kind) {
    case K_NONEMPTY:
    case K_STR:
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= k->size ||
            (k->kind == K_NONEMPTY && v->valuestring[0] == '\0'))
            return false;
        snprintf(p, k->size, "%s", v->valuestring);
        return true;
    case K_BOOL:
    case K_RISK_AWARE:
        if (!cJSON_IsBool(v))
            return false;
        *(bool *)p = cJSON_IsTrue(v);
        if (k->kind == K_RISK_AWARE)
            c->risk_aware_set = true;
        return true;
    case K_DBL:
        if (!in_range(k, v, &d))
            return false;
        *(double *)p = d;
        return true;
    case K_U32:
        if (!in_range(k, v, &d))
            return false;
        *(uint32_t *)p = (uint32_t)d;
        return true;
    case K_INT:
        if (!in_range(k, v, &d))
            return false;
        *(int *)p = (int)d;
        return true;
    case K_I64:
        if (!in_range(k, v, &d))
            return false;
        *(int64_t *)p = (int64_t)d;
        return true;
    case K_SIZE:
        if (!in_range(k, v, &d))
            return false;
        *(size_t *)p = (size_t)d;
        return true;
    case K_SECS_MS:
        if (!in_range(k, v, &d))
            return false;
        *(int *)p = (int)(d * 1000);
        return true;
    case K_CLOCK: {
        ch_time t;
        if (!cJSON_IsString(v))
            return false;
        if (strcmp(v->valuestring, "wall") == 0) {
            *(ch_time *)p = 0;
            return true;
        }
        if (strlen(v->valuestring) != 20 || v->valuestring[19] != 'Z' ||
            ch_datetime_parse(v->valuestring, &t) != CH_OK || t <= 0)
            return false;
        *(ch_time *)p = t;
        return true;
    }
    case K_DURABILITY:
        if (cJSON_IsString(v) && strcmp(v->valuestring, "sync") == 0)
            c->durability = CH_DURABLE_SYNC;
        else if (cJSON_IsString(v) && strcmp(v->valuestring, "nosync") == 0)
            c->durability = CH_DURABLE_NOSYNC;
        else
            return false;
        return true;
    case K_TICK: {
        ch_underlying_config *u = (ch_underlying_config *)p, t = *u;
        if (!cJSON_IsString(v) ||
            ch_tick_parse(v->valuestring, strlen(v->valuestring), &t) != CH_OK)
            return false;
        *u = t;
        return true;
    }
    case K_STRIKES:
    case K_SMILE: {
        ch_server_underlying *u = (ch_server_underlying *)p;
        double x[CH_SERVER_MAX_STRIKES];
        size_t i = 0;
        if (!cJSON_IsArray(v))
            return false;
        for (const cJSON *e = v->child; e != NULL; e = e->next) {
            if (i == CH_SERVER_MAX_STRIKES || !in_range(k, e, &d) ||
                (k->kind == K_STRIKES && floor(d) != d))
                return false;
            x[i++] = d;
        }
        if (k->kind == K_STRIKES) {
            if (i == 0)
                return false;
            for (size_t j = 0; j < i; j++)
                u->strikes[j] = (int64_t)x[j];
            u->n_strikes = i;
        } else {
            memset(u->smile, 0, sizeof u->smile);
            memcpy(u->smile, x, i * sizeof x[0]);
        }
        return true;
    }
    case K_UPOLICY: {
        ch_hedge_policy_kind kind;
        if (cJSON_IsString(v) && strcmp(v->valuestring, "default") == 0) {
            *(int *)p = -1;
            return true;
        }
        if (!cJSON_IsString(v) || ch_hedge_policy_parse(v->valuestring, &kind) != CH_OK)
            return false;
        *(int *)p = (int)kind;
        return true;
    }
    case K_UNDERLYINGS:
        return set_underlyings(c, v, NULL, 0);
    case K_POLICY:
        return cJSON_IsString(v) && ch_hedge_policy_parse(v->valuestring, &c->hedge.kind) == CH_OK;
    case K_VEGA_MODE:
        return cJSON_IsString(v) && ch_vega_mode_parse(v->valuestring, &c->vega.mode) == CH_OK;
    }
    return false;
}

ch_err ch_server_config_load(ch_server_config *c, const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
        return CH_EIO;
    }
    char *buf = malloc((size_t)1 << 20);
    size_t n = buf != NULL ? fread(buf, 1, ((size_t)1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf == NULL)
        return CH_ENOMEM;
    ch_err e = ch_server_config_parse(c, buf, n, err, cap);
    free(buf);
    return e;
}

ch_err ch_server_config_parse(ch_server_config *c, const char *text, size_t len, char *err,
                              size_t cap)
{
    const char *why = NULL;
    cJSON *j = ch_proto_parse(text, len, (size_t)1 << 20, &why);
    if (j == NULL) {
        snprintf(err, cap, "config: %s", why);
        return CH_EBADCONFIG;
    }
    ch_err e = CH_OK; /* ch_proto_parse took objects only */
    /* `underlyings` first, wherever it stands: the flat keys then set its first */
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "underlyings");
    if (list != NULL && !set_underlyings(c, list, err, cap))
        e = CH_EBADCONFIG;
    for (const cJSON *v = j->child; v != NULL && e == CH_OK; v = v->next) {
        const cfg_key *k = NULL;
        for (size_t i = 0; i < N_KEYS && k == NULL; i++)
            if (strcmp(k_keys[i].name, v->string) == 0)
                k = &k_keys[i];
        char buf[128];
        if (k == NULL)
            e = cfg_fail(err, cap, v->string, "unknown key");
        else if (k->kind == K_UNDERLYINGS)
            continue; /* done */
        else if (!set_key(c, (char *)c, k, v))
            e = cfg_fail(err, cap, k->name, kind_problem(k, buf, sizeof buf));
        else if (strcmp(k->name, "underlying") == 0)
            c->und_named = true;
    }
    /* a 1.0 configuration naming its underlying lists that one only */
    if (e == CH_OK && c->und_named && !c->und_list)
        c->n_und = 1;
    for (size_t i = 0; e == CH_OK && i < c->n_und; i++)
        for (size_t k = i + 1; k < c->n_und; k++)
            if (strcmp(c->und[i].u.name, c->und[k].u.name) == 0)
                e = cfg_fail(err, cap, "underlyings", "an underlying is listed twice");
    cJSON_Delete(j);
    return e;
}

/* `underlyings`: each entry starts from defaults (one unit per contract,
 * band 1..2,000,000 ticks, 4 expiries, vol 0.6, rate 0.03, the global hedge
 * policy and band); name, tick, strikes and index are required. */
static bool set_underlyings(ch_server_config *c, const cJSON *v, char *err, size_t cap)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        cap = sizeof dummy;
    }
    size_t n = 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 ||
        cJSON_GetArraySize(v) > CH_SERVER_MAX_UNDERLYINGS) {
        cfg_fail(err, cap, "underlyings", "must be an array of 1 to 16 objects");
        return false;
    }
    ch_server_underlying list[CH_SERVER_MAX_UNDERLYINGS];
    for (const cJSON *o = v->child; o != NULL; o = o->next, n++) {
        ch_server_underlying *u = &list[n];
        *u = (ch_server_underlying){
            .u = {.contract_size = 1.0, .min_price = 1, .max_price = 2000000},
            .n_expiries = 4,
            .vol = 0.6,
            .rate = 0.03,
            .hedge_kind = -1,
            .hedge_band = -1};
        if (!cJSON_IsObject(o)) {
            cfg_fail(err, cap, "underlyings", "each entry must be an object");
            return false;
        }
        static const char *const required[] = {"name", "tick", "strikes", "index"};
        for (size_t r = 0; r < 4; r++)
            if (cJSON_GetObjectItemCaseSensitive(o, required[r]) == NULL) {
                char what[96];
                snprintf(what, sizeof what, "entry %zu has no \"%s\"", n + 1, required[r]);
                cfg_fail(err, cap, "underlyings", what);
                return false;
            }
        for (const cJSON *f = o->child; f != NULL; f = f->next) {
            const cfg_key *k = NULL;
            for (size_t i = 0; i < N_UND_KEYS && k == NULL; i++)
                if (strcmp(k_und_keys[i].name, f->string) == 0)
                    k = &k_und_keys[i];
            char what[192], buf[128];
            if (k == NULL) {
                snprintf(what, sizeof what, "entry %zu: \"%s\": unknown key", n + 1, f->string);
                cfg_fail(err, cap, "underlyings", what);
                return false;
            }
            if (!set_key(c, (char *)u, k, f)) {
                snprintf(what, sizeof what, "entry %zu: \"%s\" %s", n + 1, k->name,
                         kind_problem(k, buf, sizeof buf));
                cfg_fail(err, cap, "underlyings", what);
                return false;
            }
        }
    }
    memcpy(c->und, list, n * sizeof list[0]);
    c->n_und = n;
    c->und_list = true;
    return true;
}

/* ---- printing ------------------------------------------------------------------ */

static void print_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* The shortest decimal that reads back as d. */
static void print_double(FILE *f, double d)
{
    char buf[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    fputs(buf, f);
}

/* The tick as the decimal string ch_tick_parse reads. */
static void format_tick(const ch_underlying_config *u, char *buf, size_t cap)
{
    int64_t scale = 1;
    for (int i = 0; i < u->price_decimals; i++)
        scale *= 10;
    int64_t whole = u->tick_units / scale, frac = u->tick_units % scale;
    if (frac == 0) {
        snprintf(buf, cap, "%" PRId64, whole);
        return;
    }
    int w = snprintf(buf, cap, "%" PRId64 ".%0*" PRId64, whole, u->price_decimals, frac);
    while (w > 0 && (size_t)w < cap && buf[w - 1] == '0') /* 0.50 -> 0.5 */
        buf[--w] = '\0';
}

static void print_value(FILE *f, const ch_server_config *c, const char *base, const cfg_key *k);

/* The underlyings as a JSON array, every key of each (one line each, or
 * all on one line). */
static void print_underlyings(FILE *f, const ch_server_config *c, bool one_line)
{
    fputc('[', f);
    for (size_t i = 0; i < c->n_und; i++) {
        fputs(one_line ? (i ? ", {" : "{") : (i ? ",\n    {" : "\n    {"), f);
        for (size_t k = 0; k < N_UND_KEYS; k++) {
            fprintf(f, "%s\"%s\": ", k ? ", " : "", k_und_keys[k].name);
            print_value(f, c, (const char *)&c->und[i], &k_und_keys[k]);
        }
        fputc('}', f);
    }
    fputs("]", f);
}

/* One key's value as JSON, at base (the configuration or an underlying). */
static void print_value(FILE *f, const ch_server_config *c, const char *base, const cfg_key *k)
{
    const char *p = base + k->off;
    char buf[64];
    switch (k->kind) {
    case K_NONEMPTY:
    case K_STR:
        print_string(f, p);
        break;
    case K_BOOL:
    case K_RISK_AWARE:
        fputs(*(const bool *)p ? "true" : "false", f);
        break;
    case K_DBL:
        print_double(f, *(const double *)p);
        break;
    case K_U32:
        fprintf(f, "%" PRIu32, *(const uint32_t *)p);
        break;
    case K_INT:
        fprintf(f, "%d", *(const int *)p);
        break;
    case K_I64:
        fprintf(f, "%" PRId64, *(const int64_t *)p);
        break;
    case K_SIZE:
        fprintf(f, "%zu", *(const size_t *)p);
        break;
    case K_SECS_MS:
        print_double(f, *(const int *)p / 1000.0);
        break;
    case K_DURABILITY:
        fputs(c->durability == CH_DURABLE_SYNC ? "\"sync\"" : "\"nosync\"", f);
        break;
    case K_CLOCK:
        if (*(const ch_time *)p == 0) {
            fputs("\"wall\"", f);
        } else {
            ch_proto_format_time(*(const ch_time *)p, buf, sizeof buf);
            buf[19] = 'Z'; /* whole seconds: as it was given */
            buf[20] = '\0';
            print_string(f, buf);
        }
        break;
    case K_TICK:
        format_tick((const ch_underlying_config *)p, buf, sizeof buf);
        print_string(f, buf);
        break;
    case K_STRIKES: {
        const ch_server_underlying *u = (const ch_server_underlying *)p;
        fputc('[', f);
        for (size_t i = 0; i < u->n_strikes; i++)
            fprintf(f, "%s%" PRId64, i ? ", " : "", u->strikes[i]);
        fputc(']', f);
        break;
    }
    case K_SMILE: {
        const ch_server_underlying *u = (const ch_server_underlying *)p;
        size_t n = 0;
        for (size_t i = 0; i < u->n_strikes; i++)
            if (u->smile[i] != 0)
                n = i + 1;
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ", " : "", f);
            print_double(f, u->smile[i]);
        }
        fputc(']', f);
        break;
    }
    case K_UPOLICY: {
        int kind = *(const int *)p;
        print_string(f, kind < 0 ? "default" : ch_hedge_policy_name((ch_hedge_policy_kind)kind));
        break;
    }
    case K_UNDERLYINGS:
        print_underlyings(f, c, false);
        break;
    case K_POLICY:
        print_string(f, ch_hedge_policy_name(c->hedge.kind));
        break;
    case K_VEGA_MODE:
        print_string(f, ch_vega_mode_name(c->vega.mode));
        break;
    }
}

void ch_server_config_print(const ch_server_config *c, FILE *f)
{
    fprintf(f, "{\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        fprintf(f, "  \"%s\": ", k_keys[i].name);
        print_value(f, c, (const char *)c, &k_keys[i]);
        fprintf(f, "%s\n", i + 1 < N_KEYS ? "," : "");
    }
    fprintf(f, "}\n");
}

static const char *kind_type(key_kind k)
{
    switch (k) {
    case K_NONEMPTY:
    case K_STR:
    case K_DURABILITY:
    case K_CLOCK:
    case K_TICK:
    case K_POLICY:
    case K_VEGA_MODE:
    case K_UPOLICY:
        return "string";
    case K_UNDERLYINGS:
        return "objects";
    case K_SMILE:
        return "numbers";
    case K_BOOL:
    case K_RISK_AWARE:
        return "bool";
    case K_DBL:
    case K_SECS_MS:
        return "number";
    case K_STRIKES:
        return "integers";
    default:
        return "integer";
    }
}

void ch_server_config_doc(FILE *f)
{
    ch_server_config d;
    ch_server_defaults(&d);
    fprintf(f, "| key | type | range | default | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &k_keys[i];
        fprintf(f, "| `%s` | %s | ", k->name, kind_type(k->kind));
        switch (k->kind) {
        case K_DBL:
        case K_U32:
        case K_INT:
        case K_I64:
        case K_SIZE:
        case K_SECS_MS:
            fprintf(f, "%.10g .. %.10g%s", k->lo, k->hi, k->zero_ok ? ", or 0" : "");
            break;
        case K_STR:
            fprintf(f, "< %zu bytes", k->size);
            break;
        case K_NONEMPTY:
            fprintf(f, "1 .. %zu bytes", k->size - 1);
            break;
        case K_STRIKES:
            fprintf(f, "up to %d, each %.10g .. %.10g", CH_SERVER_MAX_STRIKES, k->lo, k->hi);
            break;
        default:
            break;
        }
        if (k->kind == K_UNDERLYINGS) { /* the names: chd --print-config shows each */
            fprintf(f, " | ");
            for (size_t u = 0; u < d.n_und; u++)
                fprintf(f, "%s`%s`", u ? ", " : "", d.und[u].u.name);
            fprintf(f, " (`chd --print-config` shows every key) | ");
        } else {
            fprintf(f, " | `");
            print_value(f, &d, (const char *)&d, k);
            fprintf(f, "` | ");
        }
        for (const char *c = k->doc; *c; c++) /* a bar would end the cell */
            fputs(*c == '|' ? "\\|" : (char[2]){*c, 0}, f);
        fprintf(f, " |\n");
    }
}
