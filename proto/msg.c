/*
 * msg.c - the message table (ch/proto_msg.h) and the binary codec it
 * drives.
 *
 * The table is data: one row per op, field lists shared where the protocol
 * shares a shape (an order's fields, an order's result). The codec walks a
 * row's fields and a cJSON object side by side, so it has no per-message
 * code. Decoding is bounded by the schema (objects nest at most as deep as
 * the table), every length is checked against the bytes left and the
 * field's bound, and anything that would not encode back to the same bytes
 * (a NaN, an integer beyond 2^53, a NUL in a string, unused state bits) is
 * refused, so decode -> encode is the identity on accepted input (the fuzz
 * target checks it).
 *
 * Required fields are enforced by the encoder only: the server's handlers
 * check presence themselves, so a request missing a field gets the same
 * error code in both encodings.
 */
#include "ch/proto_msg.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/core/bin_io.h"
#include "ch/limits.h"
#include "ch/proto_bin.h"
#include "req.h"
#include "strict.h"
#include "ch/proto.h"
#include "../engine/core/alloc.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define STR(name, fl, max)                                                                         \
    {                                                                                              \
        name, CH_FT_STR, fl, max, NULL, 0                                                          \
    }
#define INT(name, fl)                                                                              \
    {                                                                                              \
        name, CH_FT_INT, fl, 0, NULL, 0                                                            \
    }
#define NUM(name, fl)                                                                              \
    {                                                                                              \
        name, CH_FT_NUM, fl, 0, NULL, 0                                                            \
    }
#define BOOL(name, fl)                                                                             \
    {                                                                                              \
        name, CH_FT_BOOL, fl, 0, NULL, 0                                                           \
    }
#define DEC(name, fl)                                                                              \
    {                                                                                              \
        name, CH_FT_DEC, fl, 64, NULL, 0                                                           \
    }
#define OID(name, fl)                                                                              \
    {                                                                                              \
        name, CH_FT_OID, fl, 0, NULL, 0                                                            \
    }
#define OBJ(name, fl, sub)                                                                         \
    {                                                                                              \
        name, CH_FT_OBJ, fl, 0, sub, N(sub)                                                        \
    }
#define LIST(name, fl, max, sub)                                                                   \
    {                                                                                              \
        name, CH_FT_LIST, fl, max, sub, N(sub)                                                     \
    }

#define NAME (CH_ACCOUNT_NAME_MAX - 1)
#define SYM  (CH_SYMBOL_MAX + 7)
#define UND  (CH_UNDERLYING_MAX - 1)
#define KEY  STR("key", CH_F_OPT, 256)

/* ---- requests ---- */

static const ch_field rq_key[] = {KEY};
static const ch_field rq_underlying[] = {KEY, STR("underlying", CH_F_OPT, UND)};
static const ch_field rq_symbol[] = {KEY, STR("symbol", CH_F_REQ, SYM)};
static const ch_field rq_account[] = {KEY, STR("account", CH_F_REQ, NAME)};
static const ch_field rq_account_open[] = {KEY, STR("account", CH_F_REQ, NAME),
                                           DEC("cash", CH_F_REQ)};
static const ch_field rq_amount[] = {KEY, STR("account", CH_F_REQ, NAME), DEC("amount", CH_F_REQ)};
static const ch_field rq_transfer[] = {KEY, STR("account", CH_F_REQ, NAME), DEC("amount", CH_F_REQ),
                                       STR("to_shard", CH_F_REQ, 31)};
/* pool.deposit, pool.withdraw: "tranche" (protocol 1.2) names a strike tranche */
static const ch_field rq_pool_deposit[] = {KEY, STR("account", CH_F_REQ, NAME),
                                           DEC("amount", CH_F_REQ), INT("tranche", CH_F_OPT)};
static const ch_field rq_pool_withdraw[] = {KEY, STR("account", CH_F_REQ, NAME),
                                            INT("shares", CH_F_REQ), INT("tranche", CH_F_OPT)};
static const ch_field rq_tranche_add[] = {KEY,
                                          STR("underlying", CH_F_REQ, UND),
                                          DEC("strike_lo", CH_F_REQ),
                                          DEC("strike_hi", CH_F_REQ),
                                          DEC("expiry_lo", CH_F_OPT),
                                          DEC("expiry_hi", CH_F_OPT)};
static const ch_field rq_underlying_add[] = {KEY,
                                             STR("underlying", CH_F_REQ, UND),
                                             STR("tick", CH_F_REQ, 24),
                                             NUM("contract_size", CH_F_OPT),
                                             INT("min_price", CH_F_OPT),
                                             INT("max_price", CH_F_OPT),
                                             INT("expiries", CH_F_OPT),
                                             {"strikes", CH_FT_PAIRS, CH_F_REQ, 64, NULL, 0},
                                             DEC("index", CH_F_REQ),
                                             NUM("vol", CH_F_OPT),
                                             NUM("rate", CH_F_OPT),
                                             STR("perp", CH_F_OPT, SYM),
                                             STR("hedge_policy", CH_F_OPT, 32),
                                             NUM("hedge_band", CH_F_OPT)};
static const ch_field rq_market[] = {
    KEY,
    STR("underlying", CH_F_REQ, UND),
    DEC("index", CH_F_REQ),
    DEC("time", CH_F_OPT),
    DEC("rate", CH_F_OPT),
    DEC("funding_rate", CH_F_OPT),
    DEC("perp", CH_F_OPT),
    {"iv", CH_FT_MAP, CH_F_OPT, CH_COMMAND_MAX_MARKS, NULL, 0},
};
#define ORDER_FIELDS                                                                               \
    STR("symbol", CH_F_REQ, SYM), STR("side", CH_F_REQ, 7), INT("qty", CH_F_REQ),                  \
        STR("type", CH_F_OPT, 7), DEC("price", CH_F_OPT), STR("tif", CH_F_OPT, 7),                 \
        BOOL("post_only", CH_F_OPT), STR("client_order_id", CH_F_OPT, CH_CLIENT_ORDER_ID_MAX - 1)
static const ch_field rq_order_new[] = {KEY, STR("account", CH_F_REQ, NAME), ORDER_FIELDS};
static const ch_field rq_batch_order[] = {STR("account", CH_F_OPT, NAME), ORDER_FIELDS};
static const ch_field rq_order_batch[] = {
    KEY, STR("account", CH_F_OPT, NAME),
    LIST("orders", CH_F_REQ, CH_BIN_MAX_ORDERS, rq_batch_order)};
static const ch_field rq_order_cancel[] = {KEY, STR("account", CH_F_REQ, NAME),
                                           OID("order_id", CH_F_REQ)};
static const ch_field rq_order_replace[] = {KEY, STR("account", CH_F_REQ, NAME),
                                            OID("order_id", CH_F_REQ), INT("qty", CH_F_OPT),
                                            DEC("price", CH_F_OPT)};
static const ch_field rq_book[] = {KEY, STR("symbol", CH_F_REQ, SYM), INT("depth", CH_F_OPT)};
static const ch_field rq_quote[] = {KEY, STR("symbol", CH_F_REQ, SYM), STR("side", CH_F_REQ, 7),
                                    INT("qty", CH_F_REQ)};

/* ---- replies ---- */

#define INSTRUMENT_FIELDS                                                                          \
    STR("symbol", CH_F_OPT, SYM), INT("id", CH_F_OPT), STR("underlying", CH_F_OPT, UND),           \
        STR("expiry", CH_F_NULL, 40), NUM("strike", CH_F_NULL), STR("type", CH_F_OPT, 8),          \
        NUM("tick", CH_F_OPT), NUM("contract_size", CH_F_OPT)
static const ch_field rp_instrument[] = {INSTRUMENT_FIELDS};
/* instrument.add: the envelope's "id" is the request's, so the new
 * instrument's id travels as "instrument_id" */
static const ch_field rp_instrument_add[] = {
    STR("symbol", CH_F_OPT, SYM), INT("instrument_id", CH_F_OPT), STR("underlying", CH_F_OPT, UND),
    STR("expiry", CH_F_NULL, 40), NUM("strike", CH_F_NULL),       STR("type", CH_F_OPT, 8),
    NUM("tick", CH_F_OPT),        NUM("contract_size", CH_F_OPT)};
static const ch_field rp_hello[] = {INT("version", CH_F_OPT),
                                    STR("server", CH_F_OPT, 64),
                                    STR("software", CH_F_OPT, 32),
                                    {"underlyings", CH_FT_STRS, CH_F_OPT, 4096, NULL, 0}};
static const ch_field rp_instruments[] = {LIST("instruments", CH_F_OPT, 1u << 20, rp_instrument)};
static const ch_field rp_account_open[] = {STR("account", CH_F_OPT, NAME), NUM("cash", CH_F_OPT),
                                           STR("key", CH_F_OPT, 256)};
static const ch_field rp_cash[] = {NUM("cash", CH_F_OPT)};
static const ch_field rp_pool_deposit[] = {INT("shares", CH_F_OPT), NUM("nav_per_share", CH_F_OPT)};
static const ch_field rp_pool_withdraw[] = {NUM("cash", CH_F_OPT), NUM("nav_per_share", CH_F_OPT)};
static const ch_field rp_seq[] = {INT("seq", CH_F_OPT)};
static const ch_field rp_fill[] = {OID("trade_id", CH_F_OPT), NUM("price", CH_F_OPT),
                                   INT("qty", CH_F_OPT), STR("source", CH_F_OPT, 8)};
#define ORDER_RESULT_FIELDS                                                                        \
    OID("order_id", CH_F_OPT), STR("status", CH_F_OPT, 32), INT("filled_qty", CH_F_OPT),           \
        INT("remaining_qty", CH_F_OPT), LIST("fills", CH_F_OPT, 1u << 20, rp_fill)
static const ch_field rp_order[] = {ORDER_RESULT_FIELDS};
static const ch_field rp_error[] = {STR("code", CH_F_OPT, 64), STR("message", CH_F_OPT, 1024)};
static const ch_field rp_batch_result[] = {BOOL("ok", CH_F_OPT), OBJ("error", CH_F_OPT, rp_error),
                                           ORDER_RESULT_FIELDS};
static const ch_field rp_order_batch[] = {
    LIST("results", CH_F_OPT, CH_BIN_MAX_ORDERS, rp_batch_result)};
static const ch_field rp_order_cancel[] = {OID("order_id", CH_F_OPT), STR("status", CH_F_OPT, 32),
                                           INT("remaining_qty", CH_F_OPT),
                                           INT("cancelled_qty", CH_F_OPT)};
static const ch_field rp_open_order[] = {
    OID("order_id", CH_F_OPT),  STR("symbol", CH_F_OPT, SYM),   STR("side", CH_F_OPT, 8),
    NUM("price", CH_F_OPT),     INT("remaining_qty", CH_F_OPT), INT("filled_qty", CH_F_OPT),
    BOOL("post_only", CH_F_OPT)};
static const ch_field rp_orders[] = {LIST("orders", CH_F_OPT, 1u << 20, rp_open_order)};
static const ch_field rp_book[] = {{"bids", CH_FT_PAIRS, CH_F_OPT, 1000, NULL, 0},
                                   {"asks", CH_FT_PAIRS, CH_F_OPT, 1000, NULL, 0}};
static const ch_field rp_quote[] = {NUM("price", CH_F_OPT), NUM("model", CH_F_OPT),
                                    NUM("premium", CH_F_OPT), NUM("vol", CH_F_OPT),
                                    INT("max_qty", CH_F_OPT)};
static const ch_field rp_position[] = {
    STR("symbol", CH_F_OPT, SYM), INT("qty", CH_F_OPT),   NUM("avg_price", CH_F_OPT),
    NUM("mark", CH_F_OPT),        NUM("delta", CH_F_OPT), NUM("gamma", CH_F_OPT),
    NUM("vega", CH_F_OPT),        NUM("theta", CH_F_OPT), NUM("realized", CH_F_OPT)};
static const ch_field rp_positions[] = {
    STR("account", CH_F_OPT, NAME), NUM("cash", CH_F_OPT),
    NUM("reserved", CH_F_OPT),      NUM("equity", CH_F_OPT),
    NUM("margin", CH_F_OPT),        LIST("positions", CH_F_OPT, 1u << 20, rp_position)};
static const ch_field rp_strike[] = {STR("expiry", CH_F_OPT, 40),  NUM("strike", CH_F_OPT),
                                     NUM("delta", CH_F_OPT),       NUM("gamma", CH_F_OPT),
                                     NUM("vega", CH_F_OPT),        NUM("gross_gamma", CH_F_OPT),
                                     NUM("netted_gamma", CH_F_OPT)};
static const ch_field rp_totals[] = {NUM("delta", CH_F_OPT), NUM("gamma", CH_F_OPT),
                                     NUM("vega", CH_F_OPT), NUM("theta", CH_F_OPT)};
static const ch_field rp_scenario[] = {NUM("spot_shock", CH_F_OPT), STR("vol_shock", CH_F_OPT, 8),
                                       NUM("pnl", CH_F_OPT)};
static const ch_field rp_netting[] = {NUM("gross_delta", CH_F_OPT), NUM("hedged_delta", CH_F_OPT),
                                      NUM("ratio", CH_F_OPT),       NUM("net_delta", CH_F_OPT),
                                      NUM("gross_gamma", CH_F_OPT), NUM("netted_gamma", CH_F_OPT)};
static const ch_field rp_risk[] = {
    LIST("strikes", CH_F_OPT, 1u << 16, rp_strike), OBJ("totals", CH_F_OPT, rp_totals),
    LIST("scenarios", CH_F_OPT, 1024, rp_scenario), NUM("worst_loss", CH_F_OPT),
    OBJ("netting", CH_F_OPT, rp_netting)};
static const ch_field rp_vega_residual[] = {STR("expiry", CH_F_OPT, 40), NUM("vega", CH_F_OPT)};
static const ch_field rp_vega[] = {STR("policy", CH_F_OPT, 16),
                                   NUM("band", CH_F_OPT),
                                   INT("orders", CH_F_OPT),
                                   INT("contracts", CH_F_OPT),
                                   NUM("premium", CH_F_OPT),
                                   NUM("fees", CH_F_OPT),
                                   NUM("spread_cost", CH_F_OPT),
                                   NUM("vega_traded", CH_F_OPT),
                                   INT("in_flight_orders", CH_F_OPT),
                                   STR("venue", CH_F_OPT, 1024),
                                   LIST("residual", CH_F_OPT, 64, rp_vega_residual)};
static const ch_field rp_hedge[] = {
    STR("policy", CH_F_OPT, 32),    NUM("position", CH_F_OPT),
    NUM("avg_price", CH_F_OPT),     NUM("fees", CH_F_OPT),
    NUM("slippage", CH_F_OPT),      NUM("funding", CH_F_OPT),
    NUM("basis_pnl", CH_F_OPT),     NUM("realized", CH_F_OPT),
    NUM("volume", CH_F_OPT),        INT("orders", CH_F_OPT),
    NUM("netting_ratio", CH_F_OPT), NUM("cost_per_1m_notional", CH_F_OPT),
    OBJ("vega", CH_F_OPT, rp_vega)};
static const ch_field rp_fills_by_source[] = {INT("book", CH_F_OPT), INT("net", CH_F_OPT),
                                              INT("pool", CH_F_OPT)};
static const ch_field rp_stats[] = {
    INT("requests", CH_F_OPT), INT("errors", CH_F_OPT),
    INT("orders", CH_F_OPT),   OBJ("fills", CH_F_OPT, rp_fills_by_source),
    INT("batches", CH_F_OPT),  INT("commits", CH_F_OPT),
    INT("seq", CH_F_OPT),      BOOL("halted", CH_F_OPT)};

static const ch_field rp_transfer[] = {STR("transfer_id", CH_F_OPT, 64), NUM("cash", CH_F_OPT)};
static const ch_field rp_state_hash[] = {INT("seq", CH_F_OPT), STR("sha256", CH_F_OPT, 64),
                                         INT("bytes", CH_F_OPT)};
static const ch_field rp_underlying_add[] = {
    STR("underlying", CH_F_OPT, UND), INT("instruments", CH_F_OPT), STR("perp", CH_F_OPT, SYM),
    STR("hedge_policy", CH_F_OPT, 32), NUM("hedge_band", CH_F_OPT)};
static const ch_field rp_tranche_add[] = {INT("tranche", CH_F_OPT), STR("account", CH_F_OPT, NAME)};
#define LP_FIELDS                                                                                  \
    NUM("cash", CH_F_OPT), NUM("inventory_value", CH_F_OPT), NUM("house_share", CH_F_OPT),         \
        NUM("nav", CH_F_OPT), INT("shares", CH_F_OPT), NUM("nav_per_share", CH_F_OPT)
static const ch_field rp_general_pool[] = {LP_FIELDS};
static const ch_field rp_tranche[] = {
    INT("tranche", CH_F_OPT),        STR("underlying", CH_F_OPT, UND),
    NUM("strike_lo", CH_F_OPT),      NUM("strike_hi", CH_F_OPT),
    STR("expiry_lo", CH_F_NULL, 40), STR("expiry_hi", CH_F_NULL, 40),
    STR("account", CH_F_OPT, NAME),  LP_FIELDS,
    NUM("worst_loss", CH_F_OPT),     NUM("utilisation", CH_F_OPT),
    NUM("delta", CH_F_OPT)};
static const ch_field rp_pools[] = {OBJ("general", CH_F_OPT, rp_general_pool),
                                    LIST("tranches", CH_F_OPT, CH_TRANCHES_MAX, rp_tranche)};

static const ch_msg k_msgs[CH_MSG_COUNT] = {
#define CH_MSG_ROW_(e, name, code_, mut, rq, rp)                                                   \
    [CH_MSG_##e] = {.id = CH_MSG_##e,                                                              \
                    .op = name,                                                                    \
                    .code = code_,                                                                 \
                    .mutating = mut,                                                               \
                    .req = rq,                                                                     \
                    .rep = rp,                                                                     \
                    .n_req = N(rq),                                                                \
                    .n_rep = N(rp)},
    CH_MSG_TABLE(CH_MSG_ROW_)
#undef CH_MSG_ROW_
};

const ch_msg *ch_msg_get(ch_msg_id id)
{
    return (unsigned)id < CH_MSG_COUNT ? &k_msgs[id] : NULL;
}

const ch_msg *ch_msg_find(const char *op)
{
    for (size_t i = 0; i < CH_MSG_COUNT; i++)
        if (strcmp(k_msgs[i].op, op) == 0)
            return &k_msgs[i];
    return NULL;
}

const ch_msg *ch_msg_by_code(uint8_t code)
{
    for (size_t i = 0; i < CH_MSG_COUNT; i++)
        if (k_msgs[i].code == code)
            return &k_msgs[i];
    return NULL;
}

/* ---- checking a JSON request against its row ---- */

static const char *kind_of(ch_ftype t)
{
    switch (t) {
    case CH_FT_STR:
        return "a string";
    case CH_FT_INT:
        return "an integer";
    case CH_FT_NUM:
        return "a number";
    case CH_FT_BOOL:
        return "true or false";
    case CH_FT_DEC:
        return "a number or a decimal string";
    case CH_FT_OID:
        return "an id (a decimal string)";
    case CH_FT_OBJ:
        return "an object";
    case CH_FT_LIST:
        return "an array of objects";
    case CH_FT_PAIRS:
        return "an array of [number, number]";
    case CH_FT_STRS:
        return "an array of strings";
    case CH_FT_MAP:
        return "an object of numbers";
    }
    return "of another type";
}

typedef struct checker {
    char *why;
    size_t cap;
} checker;

/* @p path ends with '.' or is empty; @p name is the request's (cut for the
 * message); @p kind NULL: an unknown field. */
static bool refuse(checker *c, const char *path, const char *name, const char *kind)
{
    char n[80];
    chi_name_for_message(name, 64, n, sizeof n);
    if (kind == NULL)
        snprintf(c->why, c->cap, "unknown field \"%s%s\"", path, n);
    else
        snprintf(c->why, c->cap, "field \"%s%s\" must be %s", path, n, kind);
    return false;
}

static bool check_obj(checker *c, const ch_field *f, size_t n, const cJSON *o, const char *path,
                      bool top);

/* Append @p len bytes of @p s at @p at of @p out, cut at @p cap - 1 bytes
 * as snprintf cuts. @return the new end. */
static size_t path_put(char *out, size_t at, size_t cap, const char *s, size_t len)
{
    size_t room = at + 1 < cap ? cap - 1 - at : 0;
    if (len > room)
        len = room;
    memcpy(out + at, s, len);
    return at + len;
}

/* "PATHNAME[I]" in @p out (@p cap bytes, cut as snprintf cuts): a list
 * element's path, made for every element, so without snprintf. */
static void path_of_item(char *out, size_t cap, const char *path, const char *name, size_t i)
{
    char idx[24], *q = idx + sizeof idx;
    *--q = ']';
    do {
        *--q = (char)('0' + i % 10);
        i /= 10;
    } while (i != 0);
    *--q = '[';
    size_t at = path_put(out, 0, cap, path, strlen(path));
    at = path_put(out, at, cap, name, strlen(name));
    at = path_put(out, at, cap, q, (size_t)(idx + sizeof idx - q));
    out[at] = '\0';
}

static bool check_val(checker *c, const ch_field *f, const cJSON *v, const char *path)
{
    char sub[128];
    const cJSON *x;
    size_t i = 0;
    bool ok = false;
    if (cJSON_IsNull(v) && (f->flags & CH_F_NULL))
        return true;
    switch (f->type) {
    case CH_FT_STR:
        ok = cJSON_IsString(v);
        break;
    case CH_FT_INT:
    case CH_FT_NUM:
        ok = cJSON_IsNumber(v);
        break;
    case CH_FT_BOOL:
        ok = cJSON_IsBool(v);
        break;
    case CH_FT_DEC:
    case CH_FT_OID:
        ok = cJSON_IsNumber(v) || cJSON_IsString(v);
        break;
    case CH_FT_OBJ:
        if (!cJSON_IsObject(v))
            break;
        snprintf(sub, sizeof sub, "%s%s.", path, f->name);
        return check_obj(c, f->sub, f->n_sub, v, sub, false);
    case CH_FT_LIST:
        if (!cJSON_IsArray(v))
            break;
        cJSON_ArrayForEach(x, v)
        {
            path_of_item(sub, sizeof sub, path, f->name, i++);
            if (!cJSON_IsObject(x))
                return refuse(c, "", sub, "an object");
            size_t end = path_put(sub, strlen(sub), sizeof sub, ".", 1);
            sub[end] = '\0'; /* cut as the element's path is */
            if (!check_obj(c, f->sub, f->n_sub, x, sub, false))
                return false;
        }
        return true;
    case CH_FT_PAIRS:
    case CH_FT_STRS:
        if (!cJSON_IsArray(v))
            break;
        ok = true;
        cJSON_ArrayForEach(x, v)
        {
            if (f->type == CH_FT_STRS
                    ? !cJSON_IsString(x)
                    : !cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 ||
                          !cJSON_IsNumber(x->child) || !cJSON_IsNumber(x->child->next))
                ok = false;
        }
        break;
    case CH_FT_MAP:
        if (!cJSON_IsObject(v))
            break;
        snprintf(sub, sizeof sub, "%s%s.", path, f->name);
        cJSON_ArrayForEach(x, v)
        {
            if (!cJSON_IsNumber(x))
                return refuse(c, sub, x->string, "a number");
        }
        return true;
    }
    return ok || refuse(c, path, f->name, kind_of(f->type));
}

static bool check_obj(checker *c, const ch_field *f, size_t n, const cJSON *o, const char *path,
                      bool top)
{
    for (const cJSON *v = o->child; v != NULL; v = v->next) {
        if (top && (strcmp(v->string, "op") == 0 || strcmp(v->string, "id") == 0))
            continue; /* the envelope */
        const ch_field *fd = NULL;
        for (size_t i = 0; i < n && fd == NULL; i++)
            if (strcmp(f[i].name, v->string) == 0)
                fd = &f[i];
        if (fd == NULL)
            return refuse(c, path, v->string, NULL);
        if (top && strcmp(v->string, "key") == 0)
            continue; /* the guard's: any bad key is UNAUTHORIZED */
        if (!check_val(c, fd, v, path))
            return false;
    }
    return true;
}

ch_err ch_msg_check_json(const ch_msg *m, const cJSON *req, char *why, size_t cap)
{
    char none[1];
    checker c = {why != NULL && cap > 0 ? why : none, why != NULL && cap > 0 ? cap : 1};
    c.why[0] = '\0';
    if (m == NULL) {
        snprintf(c.why, c.cap, "unknown op");
        return CH_EUNKNOWN_OP;
    }
    if (!cJSON_IsObject(req)) {
        snprintf(c.why, c.cap, "not a JSON object");
        return CH_EBADREQ;
    }
    return check_obj(&c, m->req, m->n_req, req, "", true) ? CH_OK : CH_EBADREQ;
}

/* ---- encoding ---- */

#define MAX_EXACT 9007199254740992.0 /* 2^53 */

static bool is_finite_num(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble);
}

static void enc_str(chi_wr *w, const cJSON *v, uint32_t max)
{
    if (!cJSON_IsString(v) || v->valuestring == NULL || strlen(v->valuestring) > max) {
        w->bad = true;
        return;
    }
    chi_put_str(w, 2, v->valuestring, strlen(v->valuestring));
}

static bool oid_of(const cJSON *v, uint64_t *out)
{
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(d >= 0) || d > MAX_EXACT || floor(d) != d)
            return false;
        *out = (uint64_t)d;
        return true;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
        return false;
    uint64_t x = 0;
    for (const char *p = v->valuestring; *p; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (*p < '0' || *p > '9' || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    /* only the canonical spelling, so that decoding gives the same text */
    char canon[24];
    snprintf(canon, sizeof canon, "%" PRIu64, x);
    if (strcmp(canon, v->valuestring) != 0)
        return false;
    *out = x;
    return true;
}

static void enc_obj(chi_wr *w, const ch_field *f, size_t n, const cJSON *o, bool check_req);

static void enc_val(chi_wr *w, const ch_field *f, const cJSON *v, bool check_req)
{
    const cJSON *x;
    uint64_t u;
    switch (f->type) {
    case CH_FT_STR:
        enc_str(w, v, f->max);
        return;
    case CH_FT_INT:
        if (!is_finite_num(v) || fabs(v->valuedouble) > MAX_EXACT ||
            floor(v->valuedouble) != v->valuedouble)
            break;
        chi_put(w, (uint64_t)(int64_t)v->valuedouble, 8);
        return;
    case CH_FT_NUM:
        if (!is_finite_num(v))
            break;
        chi_put_f64(w, v->valuedouble);
        return;
    case CH_FT_BOOL:
        if (!cJSON_IsBool(v))
            break;
        chi_put(w, cJSON_IsTrue(v) ? 1 : 0, 1);
        return;
    case CH_FT_DEC:
        chi_put(w, cJSON_IsString(v) ? 1 : 0, 1);
        if (cJSON_IsString(v))
            enc_str(w, v, f->max);
        else if (is_finite_num(v))
            chi_put_f64(w, v->valuedouble);
        else
            break;
        return;
    case CH_FT_OID:
        if (!oid_of(v, &u))
            break;
        chi_put(w, u, 8);
        return;
    case CH_FT_OBJ:
        if (!cJSON_IsObject(v))
            break;
        enc_obj(w, f->sub, f->n_sub, v, check_req);
        return;
    case CH_FT_LIST:
    case CH_FT_PAIRS:
    case CH_FT_STRS:
    case CH_FT_MAP:
        if ((f->type == CH_FT_MAP ? !cJSON_IsObject(v) : !cJSON_IsArray(v)) ||
            (size_t)cJSON_GetArraySize(v) > f->max)
            break;
        chi_put(w, (uint64_t)cJSON_GetArraySize(v), 4);
        cJSON_ArrayForEach(x, v)
        {
            if (f->type == CH_FT_LIST) {
                if (!cJSON_IsObject(x))
                    w->bad = true;
                else
                    enc_obj(w, f->sub, f->n_sub, x, check_req);
            } else if (f->type == CH_FT_PAIRS) {
                if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 || !is_finite_num(x->child) ||
                    !is_finite_num(x->child->next)) {
                    w->bad = true;
                } else {
                    chi_put_f64(w, x->child->valuedouble);
                    chi_put_f64(w, x->child->next->valuedouble);
                }
            } else if (f->type == CH_FT_STRS) {
                enc_str(w, x, 65535);
            } else if (!is_finite_num(x) || strlen(x->string) > 65535) {
                w->bad = true;
            } else {
                chi_put_str(w, 2, x->string, strlen(x->string));
                chi_put_f64(w, x->valuedouble);
            }
            if (w->bad)
                return;
        }
        return;
    }
    w->bad = true;
}

static void enc_obj(chi_wr *w, const ch_field *f, size_t n, const cJSON *o, bool check_req)
{
    uint64_t state = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f[i].name);
        if (v == NULL) {
            if (check_req && (f[i].flags & CH_F_REQ))
                w->bad = true;
        } else if (cJSON_IsNull(v)) {
            if (!(f[i].flags & CH_F_NULL))
                w->bad = true;
            state |= (uint64_t)2 << (2 * i);
        } else {
            state |= (uint64_t)1 << (2 * i);
        }
    }
    chi_put(w, state, 8);
    for (size_t i = 0; i < n && !w->bad; i++)
        if (((state >> (2 * i)) & 3) == 1)
            enc_val(w, &f[i], cJSON_GetObjectItemCaseSensitive(o, f[i].name), check_req);
}

static uint8_t *finish(chi_wr *w, size_t *len)
{
    if (w->bad) {
        free(w->buf);
        return NULL;
    }
    *len = w->n;
    return w->buf;
}

uint8_t *ch_msg_bin_encode_request(const ch_msg *m, uint64_t id, const cJSON *req, size_t *len)
{
    chi_wr w = {.grow = true, .bad = !cJSON_IsObject(req)};
    chi_put_header(&w, CH_MSG_VERSION, m->code, id);
    if (!w.bad)
        enc_obj(&w, m->req, m->n_req, req, true);
    return finish(&w, len);
}

uint8_t *ch_msg_bin_encode_reply(const ch_msg *m, uint64_t id, ch_err e, const char *message,
                                 const cJSON *result, size_t *len)
{
    chi_wr w = {.grow = true};
    chi_put_header(&w, CH_MSG_VERSION, (uint8_t)(m->code | CH_MSG_REPLY), id);
    chi_put(&w, (uint64_t)e, 2);
    if (e != CH_OK) {
        size_t ml = message != NULL ? strlen(message) : 0;
        chi_put_str(&w, 2, message, ml > 1000 ? 1000 : ml);
    } else if (!cJSON_IsObject(result)) {
        w.bad = true;
    } else {
        enc_obj(&w, m->rep, m->n_rep, result, false);
    }
    return finish(&w, len);
}

/* ---- decoding ---- */

/* The binary reader, into typed values (ch/proto_req.h) in an arena. */
typedef struct chi_dec {
    chi_rd r;
    ch_req_arena **arena;
    bool utf8;  /* a request: every string valid UTF-8, as JSON's are */
    bool nomem; /* the arena ran out (r.bad is set too) */
} chi_dec;

static void *take_mem(chi_dec *d, size_t n)
{
    void *p = chi_arena_alloc(d->arena, n);
    if (p == NULL)
        d->nomem = d->r.bad = true;
    return p;
}

/* A string of at most @p max bytes, no NUL, copied NUL-terminated into the arena. */
static const char *dec_str(chi_dec *d, uint32_t max, uint32_t *len)
{
    size_t n = (size_t)chi_get(&d->r, 2);
    const uint8_t *b = chi_take(&d->r, n);
    if (b == NULL || n > max || memchr(b, 0, n) != NULL ||
        (d->utf8 && !ch_utf8_valid((const char *)b, n))) {
        d->r.bad = true;
        return NULL;
    }
    char *s = take_mem(d, n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, b, n);
    if (len != NULL)
        *len = (uint32_t)n;
    return s;
}

static bool get_f64(chi_rd *r, double *d)
{
    *d = chi_get_f64(r);
    if (!isfinite(*d))
        r->bad = true;
    return !r->bad;
}

static void dec_obj(chi_dec *d, const ch_field *f, size_t n, ch_fields *out);

/* Read a u32 count within the field's bound; each element takes at least
 * @p min_size bytes, so a count beyond what is left is refused at once. */
static uint32_t get_count(chi_rd *r, const ch_field *f, size_t min_size)
{
    uint32_t k = (uint32_t)chi_get(r, 4);
    if (k > f->max || k > (r->len - r->n) / min_size)
        r->bad = true;
    return r->bad ? 0 : k;
}

static void dec_val(chi_dec *d, const ch_field *f, ch_value *v)
{
    chi_rd *r = &d->r;
    uint64_t u;
    switch (f->type) {
    case CH_FT_STR:
        v->kind = CH_V_STR;
        v->u.str = dec_str(d, f->max, &v->n);
        return;
    case CH_FT_INT: {
        int64_t x = (int64_t)chi_get(r, 8);
        if (x > (int64_t)MAX_EXACT || x < -(int64_t)MAX_EXACT)
            r->bad = true;
        v->kind = CH_V_NUM;
        v->u.num = (double)x;
        return;
    }
    case CH_FT_NUM:
        v->kind = CH_V_NUM;
        get_f64(r, &v->u.num);
        return;
    case CH_FT_BOOL:
        u = chi_get(r, 1);
        if (u > 1)
            r->bad = true;
        v->kind = CH_V_BOOL;
        v->u.b = u == 1;
        return;
    case CH_FT_DEC:
        u = chi_get(r, 1);
        if (u == 1) {
            v->kind = CH_V_STR;
            v->u.str = dec_str(d, f->max, &v->n);
        } else {
            if (u != 0)
                r->bad = true;
            v->kind = CH_V_NUM;
            get_f64(r, &v->u.num);
        }
        return;
    case CH_FT_OID: {
        char b[24];
        u = chi_get(r, 8);
        int n = snprintf(b, sizeof b, "%" PRIu64, u);
        char *s = take_mem(d, (size_t)n + 1);
        if (s != NULL)
            memcpy(s, b, (size_t)n + 1);
        v->kind = CH_V_STR;
        v->u.str = s;
        v->n = (uint32_t)n;
        return;
    }
    case CH_FT_OBJ: {
        ch_fields *o = take_mem(d, sizeof *o);
        if (o != NULL)
            dec_obj(d, f->sub, f->n_sub, o);
        v->kind = CH_V_OBJ;
        v->n = 1;
        v->u.obj = o;
        return;
    }
    case CH_FT_LIST:
    case CH_FT_PAIRS:
    case CH_FT_STRS:
    case CH_FT_MAP:
        break;
    }
    uint32_t k = get_count(r, f,
                           f->type == CH_FT_PAIRS  ? 16
                           : f->type == CH_FT_MAP  ? 10
                           : f->type == CH_FT_LIST ? 8
                                                   : 2);
    size_t each = f->type == CH_FT_LIST    ? sizeof(ch_fields)
                  : f->type == CH_FT_PAIRS ? 2 * sizeof(double)
                  : f->type == CH_FT_STRS  ? sizeof(const char *)
                                           : sizeof(ch_entry);
    void *items = r->bad ? NULL : take_mem(d, (k > 0 ? k : 1) * each);
    v->n = k;
    for (uint32_t i = 0; items != NULL && i < k && !r->bad; i++) {
        if (f->type == CH_FT_LIST) {
            dec_obj(d, f->sub, f->n_sub, &((ch_fields *)items)[i]);
        } else if (f->type == CH_FT_PAIRS) {
            double *p = &((double *)items)[2 * i];
            if (get_f64(r, &p[0]))
                get_f64(r, &p[1]);
        } else if (f->type == CH_FT_STRS) {
            ((const char **)items)[i] = dec_str(d, 65535, NULL);
        } else {
            ch_entry *e = &((ch_entry *)items)[i];
            if ((e->name = dec_str(d, 65535, NULL)) != NULL)
                get_f64(r, &e->num);
        }
    }
    v->kind = f->type == CH_FT_LIST    ? CH_V_LIST
              : f->type == CH_FT_PAIRS ? CH_V_PAIRS
              : f->type == CH_FT_STRS  ? CH_V_STRS
                                       : CH_V_MAP;
    if (f->type == CH_FT_LIST)
        v->u.obj = items;
    else if (f->type == CH_FT_PAIRS)
        v->u.pairs = items;
    else if (f->type == CH_FT_STRS)
        v->u.strs = items;
    else
        v->u.map = items;
}

static void dec_obj(chi_dec *d, const ch_field *f, size_t n, ch_fields *out)
{
    chi_rd *r = &d->r;
    uint64_t state = chi_get(r, 8);
    ch_value *v = r->bad ? NULL : take_mem(d, (n > 0 ? n : 1) * sizeof *v);
    *out = (ch_fields){.f = f, .n = n, .v = v};
    if (v == NULL || (n < 32 && state >> (2 * n) != 0)) {
        r->bad = true;
        return;
    }
    for (size_t i = 0; i < n && !r->bad; i++) {
        unsigned s = (unsigned)(state >> (2 * i)) & 3;
        if (s == 3 || (s == 2 && !(f[i].flags & CH_F_NULL)))
            r->bad = true;
        else if (s == 2)
            v[i].kind = CH_V_NULL;
        else if (s == 1)
            dec_val(d, &f[i], &v[i]);
    }
}

/* The result of a decode that read @p len bytes. */
static ch_err dec_result(const chi_dec *d, size_t len)
{
    return d->nomem ? CH_ENOMEM : d->r.bad || d->r.n != len ? CH_EBADREQ : CH_OK;
}

ch_err ch_req_from_bin(const uint8_t *buf, size_t len, uint64_t *id, ch_req *q)
{
    memset(q, 0, sizeof *q);
    chi_dec d = {.r = {.p = buf, .len = len}, .arena = &q->arena, .utf8 = true};
    uint8_t code = 0;
    *id = 0;
    if (!chi_get_header(&d.r, CH_MSG_VERSION, 0, &code, id) ||
        (q->m = ch_msg_by_code(code)) == NULL)
        return CH_EBADREQ;
    dec_obj(&d, q->m->req, q->m->n_req, &q->root);
    ch_err e = dec_result(&d, len);
    if (e != CH_OK)
        ch_req_free(q);
    return e;
}

ch_err ch_msg_bin_decode_request(const uint8_t *buf, size_t len, const ch_msg **m, uint64_t *id,
                                 cJSON **req)
{
    ch_req q;
    *req = NULL;
    *m = NULL;
    ch_err e = ch_req_from_bin(buf, len, id, &q);
    if (e != CH_OK)
        return e;
    *m = q.m;
    *req = ch_fields_to_json(&q.root, q.m->op);
    ch_req_free(&q);
    return *req != NULL ? CH_OK : CH_ENOMEM;
}

ch_err ch_msg_bin_decode_reply(const uint8_t *buf, size_t len, const ch_msg **m, uint64_t *id,
                               ch_err *e, char **message, cJSON **result)
{
    ch_req_arena *arena = NULL;
    chi_dec d = {.r = {.p = buf, .len = len}, .arena = &arena};
    uint8_t code = 0;
    *message = NULL;
    *result = NULL;
    if (!chi_get_header(&d.r, CH_MSG_VERSION, 0, &code, id) || !(code & CH_MSG_REPLY))
        return CH_EBADREQ;
    /* an error reply may come under another code (the compact batch's when
     * chd stops intake), so *m may be NULL for an error */
    *m = ch_msg_by_code((uint8_t)(code & ~CH_MSG_REPLY));
    *e = (ch_err)chi_get(&d.r, 2);
    if (d.r.bad || (*m == NULL && *e == CH_OK))
        return CH_EBADREQ;
    ch_err rc;
    if (*e != CH_OK) {
        uint32_t n = 0;
        const char *s = dec_str(&d, 1000, &n);
        if ((rc = dec_result(&d, len)) == CH_OK) {
            *message = ch_malloc((size_t)n + 1);
            if (*message != NULL)
                memcpy(*message, s, (size_t)n + 1);
            else
                rc = CH_ENOMEM;
        }
    } else {
        ch_fields o;
        dec_obj(&d, (*m)->rep, (*m)->n_rep, &o);
        if ((rc = dec_result(&d, len)) == CH_OK && (*result = ch_fields_to_json(&o, NULL)) == NULL)
            rc = CH_ENOMEM;
    }
    chi_arena_free(arena);
    return rc;
}
