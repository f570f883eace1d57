/*
 * ops_pool.c - the liquidity providers' requests: deposits into and
 * withdrawals from the general pool or a strike tranche, creating a tranche
 * (admin), and the pools' state (the general pool and every tranche:
 * capital, utilisation, NAV).
 */
#include "server_int.h"
#include <math.h>

/* The optional "tranche" field: 0 (the general pool) when absent. */
static ch_err opt_tranche(ch_server *s, req_ctx *r, uint32_t *id)
{
    const ch_value *v = FIELD(r, "tranche");
    *id = 0;
    if (v->kind == CH_V_ABSENT)
        return CH_OK;
    if (v->kind != CH_V_NUM || !(v->u.num >= 1) || v->u.num != floor(v->u.num) ||
        v->u.num > (double)ch_engine_tranche_count(s->e))
        FAIL(CH_EBADREQ, "\"tranche\" must be the id of a strike tranche (pools lists them)");
    *id = (uint32_t)v->u.num;
    return CH_OK;
}

static ch_err op_pool(ch_server *s, req_ctx *r, bool deposit)
{
    uint32_t tranche;
    ch_err e = opt_tranche(s, r, &tranche);
    if (e != CH_OK)
        return e;
    ch_command c = ch_command_make(tranche == 0 ? deposit ? CH_C_POOL_DEPOSIT : CH_C_POOL_WITHDRAW
                                   : deposit    ? CH_C_TRANCHE_DEPOSIT
                                                : CH_C_TRANCHE_WITHDRAW);
    c.tranche = tranche;
    if ((e = chi_get_account(s, r, "account", &c.account)) != CH_OK)
        return e;
    if (deposit) {
        if ((e = chi_get_cash(r, "amount", &c.amount)) != CH_OK)
            return e;
    } else if (ch_proto_qty(FIELD(r, "shares"), true, &c.amount) != CH_OK) {
        FAIL(CH_EBADREQ, "\"shares\" must be a positive integer");
    }
    ch_command_result res;
    e = chi_exec(s, &c, &res);
    if (e == CH_EFUNDS && !deposit && tranche != 0)
        FAIL(e, "not that many shares, or more than the tranche's open risk leaves free");
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    if (deposit)
        cJSON_AddNumberToObject(r->out, "shares", (double)res.value);
    else
        cJSON_AddNumberToObject(r->out, "cash", (double)res.value / CH_CASH_SCALE);
    double nps;
    if (tranche == 0) {
        ch_pool_info pi;
        ch_engine_pool(s->e, &pi);
        nps = pi.nav_per_share;
    } else {
        ch_tranche_info ti;
        ch_engine_tranche(s->e, tranche, &ti);
        nps = ti.nav_per_share;
    }
    cJSON_AddNumberToObject(r->out, "nav_per_share", nps);
    return CH_OK;
}

ch_err chi_op_pool_deposit(ch_server *s, req_ctx *r)
{
    return op_pool(s, r, true);
}

ch_err chi_op_pool_withdraw(ch_server *s, req_ctx *r)
{
    return op_pool(s, r, false);
}

/* A strike bound: a positive whole number of the quote currency. */
static ch_err strike_of(req_ctx *r, const char *key, int64_t *out)
{
    double d;
    if (ch_proto_number(FIELD(r, key), true, &d, NULL) != CH_OK || !(d >= 1) ||
        d > (double)CH_STRIKE_MAX || d != floor(d))
        FAIL(CH_EBADREQ, "\"strike_lo\" and \"strike_hi\" are whole strikes, low <= high");
    *out = (int64_t)d;
    return CH_OK;
}

ch_err chi_op_tranche_add(ch_server *s, req_ctx *r)
{
    ch_command c = ch_command_make(CH_C_TRANCHE_ADD);
    char und[CH_UNDERLYING_MAX];
    if (ch_proto_string(FIELD(r, "underlying"), true, und, sizeof und) != CH_OK)
        FAIL(CH_EBADREQ, "\"underlying\" must be a string");
    if (ch_instruments_find_underlying(ch_engine_instruments(s->e), und, strlen(und),
                                       &c.tranche_spec.underlying) != CH_OK)
        FAIL(CH_EUNKNOWN_SYMBOL, "unknown underlying");
    ch_err e;
    if ((e = strike_of(r, "strike_lo", &c.tranche_spec.strike_lo)) != CH_OK ||
        (e = strike_of(r, "strike_hi", &c.tranche_spec.strike_hi)) != CH_OK)
        return e;
    bool has_lo = false, has_hi = false;
    if (ch_proto_time(FIELD(r, "expiry_lo"), &c.tranche_spec.expiry_lo, &has_lo) != CH_OK ||
        ch_proto_time(FIELD(r, "expiry_hi"), &c.tranche_spec.expiry_hi, &has_hi) != CH_OK ||
        has_lo != has_hi || (has_lo && c.tranche_spec.expiry_lo <= 0))
        FAIL(CH_EBADREQ, "\"expiry_lo\" and \"expiry_hi\" are times (ISO-8601 or ns), both or "
                         "neither");
    ch_command_result res;
    e = chi_exec(s, &c, &res);
    if (e == CH_EINVAL)
        FAIL(CH_EBADREQ, "strike_lo must not exceed strike_hi, nor expiry_lo expiry_hi");
    if (e == CH_ECAPACITY)
        FAIL(e, "the tranche limit (64) or the account limit (max_accounts) is reached");
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    ch_tranche_info ti;
    ch_engine_tranche(s->e, res.tranche, &ti);
    cJSON_AddNumberToObject(r->out, "tranche", (double)res.tranche);
    cJSON_AddStringToObject(r->out, "account", ch_engine_account_name(s->e, ti.account));
    return CH_OK;
}

static void lp_fields(cJSON *o, int64_t cash, double inventory, double house, double nav,
                      int64_t shares, double nps)
{
    cJSON_AddNumberToObject(o, "cash", (double)cash / CH_CASH_SCALE);
    cJSON_AddNumberToObject(o, "inventory_value", inventory);
    cJSON_AddNumberToObject(o, "house_share", house);
    cJSON_AddNumberToObject(o, "nav", nav);
    cJSON_AddNumberToObject(o, "shares", (double)shares);
    cJSON_AddNumberToObject(o, "nav_per_share", nps);
}

ch_err chi_op_pools(ch_server *s, req_ctx *r)
{
    uint32_t ui;
    bool given;
    ch_err e = chi_opt_underlying(s, r, &ui, &given);
    if (e != CH_OK)
        return e;
    ch_pool_info pi;
    ch_engine_pool(s->e, &pi);
    cJSON *g = cJSON_AddObjectToObject(r->out, "general");
    lp_fields(g, pi.cash, pi.inventory_value, pi.house_share, pi.nav, pi.shares, pi.nav_per_share);
    cJSON *a = cJSON_AddArrayToObject(r->out, "tranches");
    const ch_instruments *reg = ch_engine_instruments(s->e);
    for (uint32_t k = 1; k <= ch_engine_tranche_count(s->e); k++) {
        ch_tranche_info t;
        ch_engine_tranche(s->e, k, &t);
        if (given && t.spec.underlying != ui)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "tranche", (double)k);
        cJSON_AddStringToObject(o, "underlying",
                                ch_instruments_underlying(reg, t.spec.underlying)->name);
        cJSON_AddNumberToObject(o, "strike_lo", (double)t.spec.strike_lo);
        cJSON_AddNumberToObject(o, "strike_hi", (double)t.spec.strike_hi);
        char lo[40], hi[40];
        ch_proto_format_time(t.spec.expiry_lo, lo, sizeof lo);
        ch_proto_format_time(t.spec.expiry_hi, hi, sizeof hi);
        if (t.spec.expiry_lo == 0 && t.spec.expiry_hi == 0) {
            cJSON_AddNullToObject(o, "expiry_lo");
            cJSON_AddNullToObject(o, "expiry_hi");
        } else {
            cJSON_AddStringToObject(o, "expiry_lo", lo);
            cJSON_AddStringToObject(o, "expiry_hi", hi);
        }
        cJSON_AddStringToObject(o, "account", ch_engine_account_name(s->e, t.account));
        lp_fields(o, t.cash, t.inventory_value, t.house_share, t.nav, t.shares, t.nav_per_share);
        cJSON_AddNumberToObject(o, "worst_loss", t.worst);
        cJSON_AddNumberToObject(o, "utilisation", t.utilisation);
        cJSON_AddNumberToObject(o, "delta", t.delta);
        cJSON_AddItemToArray(a, o);
    }
    return CH_OK;
}
