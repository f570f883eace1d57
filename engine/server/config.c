/*
 * config.c - chd's configuration: the embedded defaults and the JSON file
 * (unknown keys and bad values are errors, see ch/server.h).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
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
    c->underlying = (ch_underlying_config){.name = "BTC", .contract_size = 1.0, .min_price = 1,
                                           .max_price = 2000000};
    ch_tick_parse("0.5", 3, &c->underlying);
    c->n_expiries = 4;
    c->n_strikes = 9;
    for (size_t i = 0; i < c->n_strikes; i++)
        c->strikes[i] = 80000 + 5000 * (int64_t)i;
    c->index = 100000;
    c->vol = 0.6;
    c->rate = 0.03;
    c->lp_cash = 10000000;
    ch_hedge_policy_defaults(&c->hedge);
    c->hedge.band = 5;
    ch_perp_venue_defaults(&c->venue);
}

static ch_err cfg_fail(char *err, size_t cap, const char *key, const char *problem)
{
    snprintf(err, cap, "config: \"%s\": %s", key, problem);
    return CH_EBADCONFIG;
}

static bool num(const cJSON *v, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo) || !(v->valuedouble <= hi))
        return false;
    *out = v->valuedouble;
    return true;
}

/* The resource bounds (PROTOCOL.md limits); false: not one of them. */
static bool config_limit(ch_server_config *c, const char *k, const cJSON *v)
{
    double d;
    if (strcmp(k, "max_clients") == 0 && num(v, 1, 65536, &d))
        c->max_clients = (uint32_t)d;
    else if (strcmp(k, "conn_rate") == 0 && num(v, 0, 1e9, &d))
        c->conn_rate = d;
    else if (strcmp(k, "conn_burst") == 0 && num(v, 1, 1e9, &d))
        c->conn_burst = d;
    else if (strcmp(k, "account_rate") == 0 && num(v, 0, 1e9, &d))
        c->account_rate = d;
    else if (strcmp(k, "account_burst") == 0 && num(v, 1, 1e9, &d))
        c->account_burst = d;
    else if (strcmp(k, "max_open_orders") == 0 && num(v, 0, 1e8, &d))
        c->max_open_orders = (uint32_t)d;
    else if (strcmp(k, "max_batch") == 0 && num(v, 1, CH_BIN_MAX_ORDERS, &d))
        c->max_batch = (size_t)d;
    else if (strcmp(k, "map_size") == 0 && num(v, 65536, 1e13, &d))
        c->map_size = (size_t)d;
    else if (strcmp(k, "map_max") == 0 && num(v, 0, 1e13, &d))
        c->map_max = (size_t)d;
    else if (strcmp(k, "max_pending_replies") == 0 && num(v, 1, 4096, &d))
        c->max_pending_replies = (uint32_t)d;
    else if (strcmp(k, "send_timeout") == 0 && num(v, 0.01, 3600, &d))
        c->send_timeout_ms = (int)(d * 1000);
    else if (strcmp(k, "idle_timeout") == 0 && num(v, 0.1, 86400, &d))
        c->idle_timeout_ms = (int)(d * 1000);
    else
        return false;
    return true;
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
    ch_err e = CH_OK;
    for (const cJSON *v = j->child; v != NULL && e == CH_OK; v = v->next) {
        const char *k = v->string;
        double d;
        if (strcmp(k, "req") == 0 || strcmp(k, "pub") == 0 || strcmp(k, "data") == 0 ||
            strcmp(k, "tls_cert_key") == 0 || strcmp(k, "admin") == 0) {
            char *dst = k[0] == 'r' ? c->req_url : k[0] == 'p' ? c->pub_url
                                                  : k[0] == 'd' ? c->data_dir
                                                  : k[0] == 'a' ? c->admin_url : c->tls_cert_key;
            if (!cJSON_IsString(v) || strlen(v->valuestring) == 0 ||
                strlen(v->valuestring) >= sizeof c->req_url)
                e = cfg_fail(err, cap, k, "must be a non-empty string");
            else
                snprintf(dst, sizeof c->req_url, "%s", v->valuestring);
        } else if (strcmp(k, "durability") == 0) {
            if (cJSON_IsString(v) && strcmp(v->valuestring, "sync") == 0)
                c->durability = CH_DURABLE_SYNC;
            else if (cJSON_IsString(v) && strcmp(v->valuestring, "nosync") == 0)
                c->durability = CH_DURABLE_NOSYNC;
            else
                e = cfg_fail(err, cap, k, "must be \"sync\" or \"nosync\"");
        } else if (strcmp(k, "max_request") == 0 && num(v, 1024, 64 << 20, &d)) {
            c->max_request = (size_t)d;
        } else if (strcmp(k, "contexts") == 0 && num(v, 1, 4096, &d)) {
            c->contexts = (int)d;
        } else if (strcmp(k, "no_auth") == 0 && cJSON_IsBool(v)) {
            c->no_auth = cJSON_IsTrue(v);
        } else if (config_limit(c, k, v)) {
            /* a bound of guard.c */
        } else if (strcmp(k, "underlying") == 0 && cJSON_IsString(v) &&
                   strlen(v->valuestring) < CH_UNDERLYING_MAX) {
            snprintf(c->underlying.name, sizeof c->underlying.name, "%s", v->valuestring);
        } else if (strcmp(k, "tick") == 0 && cJSON_IsString(v)) {
            if (ch_tick_parse(v->valuestring, strlen(v->valuestring), &c->underlying) != CH_OK)
                e = cfg_fail(err, cap, k, "is not a valid tick");
        } else if (strcmp(k, "contract_size") == 0 && num(v, 1e-9, 1e9, &d)) {
            c->underlying.contract_size = d;
        } else if (strcmp(k, "expiries") == 0 && num(v, 1, 52, &d)) {
            c->n_expiries = (int)d;
        } else if (strcmp(k, "strikes") == 0 && cJSON_IsArray(v)) {
            size_t i = 0;
            for (const cJSON *s = v->child; s != NULL; s = s->next) {
                if (i == CH_SERVER_MAX_STRIKES || !num(s, 1, 1e12, &d) || floor(d) != d) {
                    e = cfg_fail(err, cap, k, "must be up to 64 positive integers");
                    break;
                }
                c->strikes[i++] = (int64_t)d;
            }
            c->n_strikes = i;
        } else if (strcmp(k, "index") == 0 && num(v, 1e-9, 1e12, &d)) {
            c->index = d;
        } else if (strcmp(k, "vol") == 0 && num(v, 0.01, 10, &d)) {
            c->vol = d;
        } else if (strcmp(k, "rate") == 0 && num(v, -1, 1, &d)) {
            c->rate = d;
        } else if (strcmp(k, "lp_cash") == 0 && num(v, 0, 1e12, &d)) {
            c->lp_cash = (int64_t)d;
        } else if (strcmp(k, "netting") == 0 && cJSON_IsBool(v)) {
            c->engine.netting = cJSON_IsTrue(v);
        } else if (strcmp(k, "netting_fee_ticks") == 0 && num(v, 0, 1e6, &d)) {
            c->engine.netting_fee_ticks = (int64_t)d;
        } else if (strcmp(k, "taker_fee_bps") == 0 && num(v, 0, 1000, &d)) {
            c->engine.taker_fee_bps = d;
        } else if (strcmp(k, "risk_aware") == 0 && cJSON_IsBool(v)) {
            c->engine.risk_aware = cJSON_IsTrue(v);
            c->risk_aware_set = true;
        } else if (strcmp(k, "forward_funding") == 0 && cJSON_IsBool(v)) {
            c->engine.forward_funding = cJSON_IsTrue(v);
        } else if (strcmp(k, "hedge_fee_bps") == 0 && num(v, 0, 1000, &d)) {
            c->engine.hedge_fee_bps = d;
        } else if (strcmp(k, "hedge_impact_bps") == 0 && num(v, 0, 1000, &d)) {
            c->engine.hedge_impact_bps = d;
        } else if (strcmp(k, "house_delta_limit") == 0 && num(v, 0, 1e12, &d)) {
            c->engine.house_delta_limit = d;
        } else if (strcmp(k, "funding_half_life_h") == 0 && num(v, 0, 24 * 3650, &d)) {
            c->engine.funding_half_life_h = d;
        } else if (strcmp(k, "pool") == 0 && cJSON_IsBool(v)) {
            c->engine.pool.enabled = cJSON_IsTrue(v);
        } else if (strcmp(k, "pool_half_spread_vol") == 0 && num(v, 0, 1, &d)) {
            c->engine.pool.half_spread_vol = d;
        } else if (strcmp(k, "pool_max_notional") == 0 && num(v, 0, 1e15, &d)) {
            c->engine.pool.max_notional = d;
        } else if (strcmp(k, "pool_max_vega_total") == 0 && num(v, 0, 1e15, &d)) {
            c->engine.pool.max_vega_total = d;
        } else if (strcmp(k, "pool_max_gamma_strike") == 0 && num(v, 0, 1e9, &d)) {
            c->engine.pool.max_gamma_strike = d;
        } else if (strcmp(k, "hedge_policy") == 0 && cJSON_IsString(v)) {
            if (ch_hedge_policy_parse(v->valuestring, &c->hedge.kind) != CH_OK)
                e = cfg_fail(err, cap, k, "is not a hedge policy");
        } else if (strcmp(k, "hedge_band") == 0 && num(v, 0, 1e9, &d)) {
            c->hedge.band = d;
        } else if (strcmp(k, "venue_fee_bps") == 0 && num(v, 0, 1000, &d)) {
            c->venue.taker_fee_bps = d;
        } else if (strcmp(k, "hedge_venue") == 0 && cJSON_IsString(v) &&
                   strlen(v->valuestring) < sizeof c->hedge_venue) {
            snprintf(c->hedge_venue, sizeof c->hedge_venue, "%s", v->valuestring);
        } else if (strcmp(k, "hedge_venue_timeout_ms") == 0 && num(v, 1, 600000, &d)) {
            c->hedge_venue_timeout_ms = (int)d;
        } else {
            e = cfg_fail(err, cap, k, "unknown key, or a value of the wrong type or range");
        }
    }
    cJSON_Delete(j);
    return e;
}
