/*
 * calls.c - libchclient's typed calls (see ch/client.h), over the transport
 * of transport.c.
 *
 * A typed call builds its request as the JSON object of its message and
 * sends it through the message table (ch/proto_msg.h): as JSON text, or
 * binary-encoded by the table. The reply comes back as the same object in
 * either encoding, and one reader per op fills the caller's struct, so the
 * two encodings share every line after the wire. Server error codes become
 * the ch_err of their wire code, whichever encoding carried them.
 */
#include "ch/client.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto_msg.h"
#include "internal.h"

/* ---- typed calls ---- */

ch_err ch_client_set_key(ch_client *c, const char *key)
{
    if (key != NULL && strlen(key) >= sizeof c->key)
        return CH_EINVAL;
    snprintf(c->key, sizeof c->key, "%s", key != NULL ? key : "");
    return CH_OK;
}

void ch_client_set_binary(ch_client *c, bool binary)
{
    c->binary = binary;
}

const char *ch_client_message(const ch_client *c)
{
    return c->message;
}

int ch_client_transport_error(const ch_client *c)
{
    return c->nng_err;
}

void ch_client_release(void *array)
{
    free(array);
}

static ch_err fail(ch_client *c, ch_err e, const char *message)
{
    snprintf(c->message, sizeof c->message, "%s", message != NULL ? message : "");
    return e;
}

/* The ch_err that the protocol's code @p wire names (the first of the table
 * with that code: CH_EBADREQ ... CH_EUNAVAILABLE). */
static ch_err from_wire(const char *wire)
{
    static const struct {
        ch_err e;
        const char *wire;
    } k[] = {
#define CH_ERR_ROW_(name, num, w, msg) {name, w},
        CH_ERR_TABLE(CH_ERR_ROW_)
#undef CH_ERR_ROW_
    };
    for (size_t i = 1; wire != NULL && i < sizeof k / sizeof k[0]; i++)
        if (strcmp(k[i].wire, wire) == 0)
            return k[i].e;
    return CH_EBADREQ;
}

static ch_err send_binary(ch_client *c, const ch_msg *m, const cJSON *req, cJSON **result)
{
    size_t n = 0;
    uint8_t *b = ch_msg_bin_encode_request(m, ++c->seq, req, &n);
    if (b == NULL)
        return fail(c, CH_EINVAL, "the request does not fit the message table");
    char *reply = NULL;
    size_t rlen = 0;
    ch_err rv = ch_client_call(c, (const char *)b, n, &reply, &rlen);
    free(b);
    if (rv != 0) {
        c->nng_err = ch_client_nng_error();
        return fail(c, rv, nng_strerror(c->nng_err));
    }
    const ch_msg *rm;
    uint64_t id;
    ch_err se = CH_OK;
    char *text = NULL;
    ch_err e = ch_msg_bin_decode_reply((const uint8_t *)reply, rlen, &rm, &id, &se, &text, result);
    ch_client_free(reply);
    if (e != CH_OK || (se == CH_OK && (rm != m || id != c->seq))) {
        cJSON_Delete(*result);
        *result = NULL;
        return fail(c, CH_EIO, "the reply is not a binary reply to this request");
    }
    if (se != CH_OK) {
        e = fail(c, from_wire(ch_errwire(se)), text);
        free(text);
        return e;
    }
    return CH_OK;
}

static ch_err send_json(ch_client *c, const ch_msg *m, cJSON *req, cJSON **result)
{
    if (cJSON_AddStringToObject(req, "op", m->op) == NULL)
        return fail(c, CH_ENOMEM, "out of memory");
    char *text = cJSON_PrintUnformatted(req);
    if (text == NULL)
        return fail(c, CH_ENOMEM, "out of memory");
    char *reply = NULL;
    size_t rlen = 0;
    ch_err rv = ch_client_call(c, text, strlen(text), &reply, &rlen);
    cJSON_free(text);
    if (rv != 0) {
        c->nng_err = ch_client_nng_error();
        return fail(c, rv, nng_strerror(c->nng_err));
    }
    cJSON *r = cJSON_ParseWithLength(reply, rlen);
    ch_client_free(reply);
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
    if (!cJSON_IsBool(ok)) {
        cJSON_Delete(r);
        return fail(c, CH_EIO, "the reply is not a protocol reply");
    }
    if (cJSON_IsTrue(ok)) {
        *result = r;
        return CH_OK;
    }
    const cJSON *eo = cJSON_GetObjectItemCaseSensitive(r, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(eo, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(eo, "message");
    ch_err e = fail(c, from_wire(cJSON_IsString(code) ? code->valuestring : NULL),
                    cJSON_IsString(msg) ? msg->valuestring : "");
    cJSON_Delete(r);
    return e;
}

/* Send @p req (consumed) as message @p id; on CH_OK *result is the reply
 * object (owned: cJSON_Delete). */
static ch_err call_msg(ch_client *c, ch_msg_id id, cJSON *req, cJSON **result)
{
    c->message[0] = '\0';
    c->nng_err = 0;
    *result = NULL;
    if (req == NULL)
        return fail(c, CH_ENOMEM, "out of memory");
    ch_err e = CH_OK;
    if (c->key[0] != '\0' && cJSON_AddStringToObject(req, "key", c->key) == NULL)
        e = fail(c, CH_ENOMEM, "out of memory");
    if (e == CH_OK)
        e = c->binary ? send_binary(c, ch_msg_get(id), req, result)
                      : send_json(c, ch_msg_get(id), req, result);
    cJSON_Delete(req);
    return e;
}

/* ---- request building and reply reading ---- */

static cJSON *request(void)
{
    return cJSON_CreateObject();
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (o != NULL && v != NULL)
        cJSON_AddStringToObject(o, k, v);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (o != NULL)
        cJSON_AddNumberToObject(o, k, v);
}

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = item(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static void str(const cJSON *o, const char *k, char *out, size_t cap)
{
    const cJSON *v = item(o, k);
    snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* Replies are read into the caller's structs by tables of fields: the
 * reply field's name, where it goes, and as what. A missing field reads as
 * 0 or "". */
typedef struct rfield {
    const char *name;
    char kind; /* d double, i int64_t, u uint32_t, s char[cap], b bool */
    size_t off, cap;
} rfield;

/* entries of a table of struct T (#define T before the table) */
#define F_AS(name, f, k)                                                                           \
    {                                                                                              \
        name, k, offsetof(T, f), sizeof(((T *)0)->f)                                               \
    }
#define D(f)  F_AS(#f, f, 'd')
#define I(f)  F_AS(#f, f, 'i')
#define U(f)  F_AS(#f, f, 'u')
#define S(f)  F_AS(#f, f, 's')
#define B(f)  F_AS(#f, f, 'b')
#define NF(a) (sizeof(a) / sizeof((a)[0]))

static void read_fields(const cJSON *o, const rfield *f, size_t n, void *out)
{
    for (size_t i = 0; i < n; i++) {
        char *at = (char *)out + f[i].off;
        double d = num(o, f[i].name);
        switch (f[i].kind) {
        case 'd':
            memcpy(at, &d, sizeof d);
            break;
        case 'i':
            *(int64_t *)(void *)at = (int64_t)d;
            break;
        case 'u':
            *(uint32_t *)(void *)at = (uint32_t)d;
            break;
        case 'b':
            *(bool *)(void *)at = cJSON_IsTrue(item(o, f[i].name));
            break;
        default:
            str(o, f[i].name, at, f[i].cap);
            break;
        }
    }
}

/* The elements of list @p k of @p r read into an owned array (*out, *n). */
static ch_err read_list(ch_client *c, const cJSON *r, const char *k, const rfield *f, size_t nf,
                        size_t size, void **out, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(item(r, k));
    char *a = calloc(*n > 0 ? *n : 1, size);
    if (a == NULL)
        return fail(c, CH_ENOMEM, "out of memory");
    size_t i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, item(r, k)) read_fields(o, f, nf, a + size * i++);
    *out = a;
    return CH_OK;
}

static const char *const k_side[] = {"buy", "sell"};
static const char *const k_type[] = {"limit", "market"};
static const char *const k_tif[] = {"gtc", "ioc", "fok"};

/* A call whose request is @p q (consumed) and whose reply is read by @p f
 * into @p out (may be NULL: not read). */
static ch_err call_read(ch_client *c, ch_msg_id id, cJSON *q, const rfield *f, size_t nf, void *out)
{
    cJSON *r;
    ch_err e = call_msg(c, id, q, &r);
    if (e == CH_OK && out != NULL)
        read_fields(r, f, nf, out);
    cJSON_Delete(r);
    return e;
}

/* A call whose reply is one list @p key, read by @p f into an owned array. */
static ch_err list_call(ch_client *c, ch_msg_id id, cJSON *q, const char *key, const rfield *f,
                        size_t nf, size_t size, void **out, size_t *n)
{
    cJSON *r;
    ch_err e = call_msg(c, id, q, &r);
    if (e == CH_OK)
        e = read_list(c, r, key, f, nf, size, out, n);
    cJSON_Delete(r);
    return e;
}

ch_err ch_client_hello(ch_client *c, ch_client_hello_info *out)
{
    cJSON *r;
    ch_err e = call_msg(c, CH_MSG_HELLO, request(), &r);
    if (e != CH_OK)
        return e;
    memset(out, 0, sizeof *out);
    out->version = (int)num(r, "version");
    str(r, "server", out->server, sizeof out->server);
    str(r, "software", out->software, sizeof out->software);
    const cJSON *list = item(r, "underlyings"), *u;
    out->underlyings = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *out->underlyings);
    if (out->underlyings == NULL) {
        cJSON_Delete(r);
        return fail(c, CH_ENOMEM, "out of memory");
    }
    cJSON_ArrayForEach(u, list)
    {
        if (cJSON_IsString(u))
            snprintf(out->underlyings[out->n_underlyings++].name, CH_CLIENT_NAME_MAX, "%s",
                     u->valuestring);
    }
    cJSON_Delete(r);
    return CH_OK;
}

#define T ch_client_instrument
static const rfield k_instrument[] = {S(symbol), U(id),   S(underlying), S(expiry),
                                      D(strike), S(type), D(tick),       D(contract_size)};
/* instrument.add's reply: the envelope's "id" is the request's */
static const rfield k_instrument_add[] = {S(symbol),     F_AS("instrument_id", id, 'u'),
                                          S(underlying), S(expiry),
                                          D(strike),     S(type),
                                          D(tick),       D(contract_size)};
#undef T

ch_err ch_client_instruments(ch_client *c, const char *underlying, ch_client_instrument **out,
                             size_t *n)
{
    cJSON *q = request();
    add_str(q, "underlying", underlying);
    return list_call(c, CH_MSG_INSTRUMENTS, q, "instruments", k_instrument, NF(k_instrument),
                     sizeof **out, (void **)out, n);
}

ch_err ch_client_instrument_add(ch_client *c, const char *symbol, ch_client_instrument *out)
{
    if (symbol == NULL)
        return fail(c, CH_EINVAL, "a symbol is required");
    cJSON *q = request();
    add_str(q, "symbol", symbol);
    return call_read(c, CH_MSG_INSTRUMENT_ADD, q, k_instrument_add, NF(k_instrument_add), out);
}

/* A request naming @p account (required). */
static cJSON *for_account(ch_client *c, const char *account, ch_err *e)
{
    *e = CH_OK;
    if (account == NULL) {
        *e = fail(c, CH_EINVAL, "an account is required");
        return NULL;
    }
    cJSON *q = request();
    add_str(q, "account", account);
    return q;
}

#define T ch_client_account
static const rfield k_account[] = {S(account), D(cash), S(key)};
#undef T

ch_err ch_client_account_open(ch_client *c, const char *account, double cash,
                              ch_client_account *out)
{
    ch_err e;
    cJSON *q = for_account(c, account, &e);
    if (e != CH_OK)
        return e;
    add_num(q, "cash", cash);
    return call_read(c, CH_MSG_ACCOUNT_OPEN, q, k_account, NF(k_account), out);
}

/* account.deposit, pool.deposit, pool.withdraw: @p field = @p value, two numbers back. */
static ch_err money_call(ch_client *c, ch_msg_id id, const char *account, const char *field,
                         double value, const char *k1, double *v1, const char *k2, double *v2)
{
    ch_err e;
    cJSON *q = for_account(c, account, &e), *r;
    if (e != CH_OK)
        return e;
    add_num(q, field, value);
    if ((e = call_msg(c, id, q, &r)) == CH_OK) {
        if (v1 != NULL)
            *v1 = num(r, k1);
        if (v2 != NULL)
            *v2 = num(r, k2);
    }
    cJSON_Delete(r);
    return e;
}

ch_err ch_client_account_deposit(ch_client *c, const char *account, double amount, double *cash)
{
    return money_call(c, CH_MSG_ACCOUNT_DEPOSIT, account, "amount", amount, "cash", cash, NULL,
                      NULL);
}

ch_err ch_client_pool_deposit(ch_client *c, const char *account, double amount, int64_t *shares,
                              double *nav_per_share)
{
    double sh = 0;
    ch_err e = money_call(c, CH_MSG_POOL_DEPOSIT, account, "amount", amount, "shares", &sh,
                          "nav_per_share", nav_per_share);
    if (e == CH_OK && shares != NULL)
        *shares = (int64_t)sh;
    return e;
}

ch_err ch_client_pool_withdraw(ch_client *c, const char *account, int64_t shares, double *cash,
                               double *nav_per_share)
{
    return money_call(c, CH_MSG_POOL_WITHDRAW, account, "shares", (double)shares, "cash", cash,
                      "nav_per_share", nav_per_share);
}

/* A pool.deposit / pool.withdraw with a tranche. */
static ch_err tranche_call(ch_client *c, ch_msg_id id, const char *account, uint32_t tranche,
                           const char *field, double value, const char *k1, double *v1,
                           double *nav_per_share)
{
    ch_err e;
    cJSON *q = for_account(c, account, &e), *r;
    if (e != CH_OK)
        return e;
    add_num(q, field, value);
    add_num(q, "tranche", (double)tranche);
    if ((e = call_msg(c, id, q, &r)) == CH_OK) {
        if (v1 != NULL)
            *v1 = num(r, k1);
        if (nav_per_share != NULL)
            *nav_per_share = num(r, "nav_per_share");
    }
    cJSON_Delete(r);
    return e;
}

ch_err ch_client_tranche_deposit(ch_client *c, const char *account, uint32_t tranche, double amount,
                                 int64_t *shares, double *nav_per_share)
{
    double sh = 0;
    ch_err e = tranche_call(c, CH_MSG_POOL_DEPOSIT, account, tranche, "amount", amount, "shares",
                            &sh, nav_per_share);
    if (e == CH_OK && shares != NULL)
        *shares = (int64_t)sh;
    return e;
}

ch_err ch_client_tranche_withdraw(ch_client *c, const char *account, uint32_t tranche,
                                  int64_t shares, double *cash, double *nav_per_share)
{
    return tranche_call(c, CH_MSG_POOL_WITHDRAW, account, tranche, "shares", (double)shares, "cash",
                        cash, nav_per_share);
}

ch_err ch_client_tranche_add(ch_client *c, const char *underlying, int64_t strike_lo,
                             int64_t strike_hi, const char *expiry_lo, const char *expiry_hi,
                             uint32_t *id)
{
    if (underlying == NULL || (expiry_lo == NULL) != (expiry_hi == NULL))
        return fail(c, CH_EINVAL, "an underlying, and both expiries or neither");
    cJSON *q = request(), *r;
    add_str(q, "underlying", underlying);
    add_num(q, "strike_lo", (double)strike_lo);
    add_num(q, "strike_hi", (double)strike_hi);
    if (expiry_lo != NULL) {
        add_str(q, "expiry_lo", expiry_lo);
        add_str(q, "expiry_hi", expiry_hi);
    }
    ch_err e = call_msg(c, CH_MSG_POOL_TRANCHE_ADD, q, &r);
    if (e == CH_OK && id != NULL)
        *id = (uint32_t)num(r, "tranche");
    cJSON_Delete(r);
    return e;
}

#define T ch_client_pool_info
static const rfield k_general_pool[] = {D(cash), D(inventory_value), D(house_share),
                                        D(nav),  I(shares),          D(nav_per_share)};
#undef T
#define T ch_client_tranche
static const rfield k_tranche[] = {U(tranche),         S(underlying),  S(account),     D(strike_lo),
                                   D(strike_hi),       S(expiry_lo),   S(expiry_hi),   D(cash),
                                   D(inventory_value), D(house_share), D(nav),         I(shares),
                                   D(nav_per_share),   D(worst_loss),  D(utilisation), D(delta)};
#undef T

ch_err ch_client_pools(ch_client *c, const char *underlying, ch_client_pool_info *general,
                       ch_client_tranche **out, size_t *n)
{
    cJSON *q = request(), *r;
    if (underlying != NULL)
        add_str(q, "underlying", underlying);
    ch_err e = call_msg(c, CH_MSG_POOLS, q, &r);
    if (e == CH_OK) {
        if (general != NULL) {
            memset(general, 0, sizeof *general);
            read_fields(item(r, "general"), k_general_pool, NF(k_general_pool), general);
        }
        e = read_list(c, r, "tranches", k_tranche, NF(k_tranche), sizeof **out, (void **)out, n);
    }
    cJSON_Delete(r);
    return e;
}

ch_err ch_client_market_update(ch_client *c, const ch_client_market *m, uint64_t *seq)
{
    if (m == NULL || m->underlying == NULL || (m->n_iv > 0 && m->iv == NULL))
        return fail(c, CH_EINVAL, "an underlying is required");
    cJSON *q = request(), *r;
    add_str(q, "underlying", m->underlying);
    add_num(q, "index", m->index);
    if (m->time != NULL && m->time[0] != '\0' && strspn(m->time, "0123456789") == strlen(m->time))
        add_num(q, "time", strtod(m->time, NULL)); /* nanoseconds */
    else
        add_str(q, "time", m->time);
    if (m->has_rate)
        add_num(q, "rate", m->rate);
    if (m->has_funding_rate)
        add_num(q, "funding_rate", m->funding_rate);
    if (m->has_perp)
        add_num(q, "perp", m->perp);
    if (m->n_iv > 0) {
        cJSON *iv = cJSON_AddObjectToObject(q, "iv");
        for (size_t i = 0; i < m->n_iv && iv != NULL; i++)
            if (m->iv[i].key != NULL)
                cJSON_AddNumberToObject(iv, m->iv[i].key, m->iv[i].vol);
    }
    ch_err e = call_msg(c, CH_MSG_MARKET_UPDATE, q, &r);
    if (e == CH_OK && seq != NULL)
        *seq = (uint64_t)num(r, "seq");
    cJSON_Delete(r);
    return e;
}

/* The fields of one order; NULL if an enum is out of range or memory ran out. */
static cJSON *order_json(const ch_client_order *o)
{
    if ((unsigned)o->side > CH_CLIENT_SELL || (unsigned)o->type > CH_CLIENT_MARKET ||
        (unsigned)o->tif > CH_CLIENT_FOK || o->symbol == NULL)
        return NULL;
    cJSON *q = request();
    add_str(q, "account", o->account);
    add_str(q, "symbol", o->symbol);
    add_str(q, "side", k_side[o->side]);
    add_num(q, "qty", (double)o->qty);
    add_str(q, "type", k_type[o->type]);
    if (o->has_price)
        add_num(q, "price", o->price);
    add_str(q, "tif", k_tif[o->tif]);
    if (q != NULL)
        cJSON_AddBoolToObject(q, "post_only", o->post_only);
    add_str(q, "client_order_id", o->client_order_id);
    return q;
}

#define T ch_client_fill
static const rfield k_fill[] = {S(trade_id), D(price), I(qty), S(source)};
#undef T
#define T ch_client_order_result
static const rfield k_order_result[] = {S(order_id), S(status), I(filled_qty), I(remaining_qty)};
#undef T

/* The fills go to the caller's buffer (out->fills, out->fills_cap), which
 * the reading keeps; n_fills counts every fill of the reply. */
static void read_order_result(const cJSON *r, ch_client_order_result *out)
{
    ch_client_fill *fills = out->fills;
    size_t cap = fills != NULL ? out->fills_cap : 0;
    memset(out, 0, sizeof *out);
    out->fills = fills;
    out->fills_cap = cap;
    read_fields(r, k_order_result, NF(k_order_result), out);
    const cJSON *f;
    cJSON_ArrayForEach(f, item(r, "fills"))
    {
        if (out->n_fills < cap)
            read_fields(f, k_fill, NF(k_fill), &fills[out->n_fills]);
        out->n_fills++;
    }
}

ch_err ch_client_order_new(ch_client *c, const ch_client_order *o, ch_client_order_result *out)
{
    if (o == NULL || o->account == NULL)
        return fail(c, CH_EINVAL, "an order with an account is required");
    cJSON *q = order_json(o), *r;
    if (q == NULL)
        return fail(c, CH_EINVAL, "no symbol, or side, type or tif out of range");
    ch_err e = call_msg(c, CH_MSG_ORDER_NEW, q, &r);
    if (e == CH_OK && out != NULL)
        read_order_result(r, out);
    cJSON_Delete(r);
    return e;
}

ch_err ch_client_order_batch(ch_client *c, const char *account, const ch_client_order *orders,
                             size_t n, ch_client_batch_result **out)
{
    if (orders == NULL || n == 0 || n > 5000)
        return fail(c, CH_EINVAL, "a batch has 1 to 5000 orders");
    cJSON *q = request(), *r;
    add_str(q, "account", account);
    cJSON *arr = q != NULL ? cJSON_AddArrayToObject(q, "orders") : NULL;
    for (size_t i = 0; i < n && arr != NULL; i++) {
        cJSON *o = order_json(&orders[i]);
        if (o == NULL) {
            cJSON_Delete(q);
            return fail(c, CH_EINVAL, "an order without a symbol, or an enum out of range");
        }
        cJSON_AddItemToArray(arr, o);
    }
    ch_err e = call_msg(c, CH_MSG_ORDER_BATCH, q, &r);
    if (e != CH_OK)
        return e;
    if ((size_t)cJSON_GetArraySize(item(r, "results")) != n) {
        cJSON_Delete(r);
        return fail(c, CH_EIO, "the reply has not one result per order");
    }
    /* one block (ch_client_release): the results, then every result's fills */
    size_t n_fills = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, item(r, "results"))
    {
        n_fills += (size_t)cJSON_GetArraySize(item(x, "fills"));
    }
    ch_client_batch_result *a = calloc(1, n * sizeof *a + n_fills * sizeof(ch_client_fill));
    if (a == NULL) {
        cJSON_Delete(r);
        return fail(c, CH_ENOMEM, "out of memory");
    }
    ch_client_fill *fills = (ch_client_fill *)(a + n);
    size_t i = 0;
    cJSON_ArrayForEach(x, item(r, "results"))
    {
        ch_client_batch_result *b = &a[i++];
        if (cJSON_IsTrue(item(x, "ok"))) {
            b->result.fills = fills;
            b->result.fills_cap = (size_t)cJSON_GetArraySize(item(x, "fills"));
            read_order_result(x, &b->result);
            fills += b->result.n_fills;
        } else {
            const cJSON *eo = item(x, "error");
            const cJSON *code = item(eo, "code");
            b->err = from_wire(cJSON_IsString(code) ? code->valuestring : NULL);
            str(eo, "message", b->message, sizeof b->message);
        }
    }
    cJSON_Delete(r);
    *out = a;
    return CH_OK;
}

/* A request for @p account's order @p order_id. */
static cJSON *for_order(ch_client *c, const char *account, const char *order_id, ch_err *e)
{
    if (order_id == NULL) {
        *e = fail(c, CH_EINVAL, "an order id is required");
        return NULL;
    }
    cJSON *q = for_account(c, account, e);
    add_str(q, "order_id", order_id);
    return q;
}

#define T ch_client_cancel_result
static const rfield k_cancel[] = {S(order_id), S(status), I(remaining_qty), I(cancelled_qty)};
#undef T

ch_err ch_client_order_cancel(ch_client *c, const char *account, const char *order_id,
                              ch_client_cancel_result *out)
{
    ch_err e;
    cJSON *q = for_order(c, account, order_id, &e);
    if (e != CH_OK)
        return e;
    return call_read(c, CH_MSG_ORDER_CANCEL, q, k_cancel, NF(k_cancel), out);
}

ch_err ch_client_order_replace(ch_client *c, const char *account, const char *order_id, int64_t qty,
                               bool has_price, double price, ch_client_order_result *out)
{
    ch_err e;
    cJSON *q = for_order(c, account, order_id, &e), *r;
    if (e != CH_OK)
        return e;
    if (qty != 0)
        add_num(q, "qty", (double)qty);
    if (has_price)
        add_num(q, "price", price);
    if ((e = call_msg(c, CH_MSG_ORDER_REPLACE, q, &r)) == CH_OK && out != NULL)
        read_order_result(r, out);
    cJSON_Delete(r);
    return e;
}

ch_err ch_client_orders(ch_client *c, const char *account, ch_client_open_order **out, size_t *n)
{
#define T ch_client_open_order
    static const rfield k_open_order[] = {S(order_id),      S(symbol),     S(side),     D(price),
                                          I(remaining_qty), I(filled_qty), B(post_only)};
#undef T
    ch_err e;
    cJSON *q = for_account(c, account, &e);
    return e != CH_OK ? e
                      : list_call(c, CH_MSG_ORDERS, q, "orders", k_open_order, NF(k_open_order),
                                  sizeof **out, (void **)out, n);
}

static size_t read_levels(const cJSON *a, ch_client_level *out, size_t max)
{
    size_t n = 0;
    const cJSON *pq;
    cJSON_ArrayForEach(pq, a)
    {
        if (n == max || cJSON_GetArraySize(pq) != 2)
            break;
        out[n].price = cJSON_GetArrayItem(pq, 0)->valuedouble;
        out[n].qty = (int64_t)cJSON_GetArrayItem(pq, 1)->valuedouble;
        n++;
    }
    return n;
}

ch_err ch_client_book(ch_client *c, const char *symbol, int depth, ch_client_level *bids,
                      size_t *n_bids, ch_client_level *asks, size_t *n_asks)
{
    if (symbol == NULL || depth < 1 || depth > 1000)
        return fail(c, CH_EINVAL, "a symbol and a depth of 1..1000 are required");
    cJSON *q = request(), *r;
    add_str(q, "symbol", symbol);
    add_num(q, "depth", depth);
    ch_err e = call_msg(c, CH_MSG_BOOK, q, &r);
    if (e == CH_OK) {
        *n_bids = read_levels(item(r, "bids"), bids, (size_t)depth);
        *n_asks = read_levels(item(r, "asks"), asks, (size_t)depth);
    }
    cJSON_Delete(r);
    return e;
}

#define T ch_client_quote_info
static const rfield k_quote[] = {D(price), D(model), D(premium), D(vol), I(max_qty)};
#undef T

ch_err ch_client_quote(ch_client *c, const char *symbol, ch_client_side side, int64_t qty,
                       ch_client_quote_info *out)
{
    if (symbol == NULL || (unsigned)side > CH_CLIENT_SELL)
        return fail(c, CH_EINVAL, "a symbol and a side are required");
    cJSON *q = request();
    add_str(q, "symbol", symbol);
    add_str(q, "side", k_side[side]);
    add_num(q, "qty", (double)qty);
    return call_read(c, CH_MSG_QUOTE, q, k_quote, NF(k_quote), out);
}

#define T ch_client_positions_info
static const rfield k_positions[] = {S(account), D(cash), D(reserved), D(equity), D(margin)};
#undef T
#define T ch_client_position
static const rfield k_position[] = {S(symbol), I(qty),  D(avg_price), D(mark),    D(delta),
                                    D(gamma),  D(vega), D(theta),     D(realized)};
#undef T

ch_err ch_client_positions(ch_client *c, const char *account, ch_client_positions_info *out)
{
    ch_err e;
    cJSON *q = for_account(c, account, &e), *r;
    if (e != CH_OK || (e = call_msg(c, CH_MSG_POSITIONS, q, &r)) != CH_OK)
        return e;
    memset(out, 0, sizeof *out);
    read_fields(r, k_positions, NF(k_positions), out);
    e = read_list(c, r, "positions", k_position, NF(k_position), sizeof *out->positions,
                  (void **)&out->positions, &out->n);
    cJSON_Delete(r);
    return e;
}

ch_err ch_client_risk(ch_client *c, const char *underlying, ch_client_risk_info *out)
{
#define T ch_client_strike
    static const rfield k_strike[] = {S(expiry), D(strike),      D(delta),       D(gamma),
                                      D(vega),   D(gross_gamma), D(netted_gamma)};
#undef T
#define T ch_client_scenario
    static const rfield k_scenario[] = {D(spot_shock), S(vol_shock), D(pnl)};
#undef T
#define T ch_client_greeks
    static const rfield k_greeks[] = {D(delta), D(gamma), D(vega), D(theta)};
#undef T
#define T ch_client_risk_info
    static const rfield k_netting[] = {D(gross_delta), D(hedged_delta), D(ratio),
                                       D(net_delta),   D(dealer_delta), D(gross_gamma),
                                       D(netted_gamma)};
#undef T
    cJSON *q = request(), *r;
    add_str(q, "underlying", underlying);
    ch_err e = call_msg(c, CH_MSG_RISK, q, &r);
    if (e != CH_OK)
        return e;
    memset(out, 0, sizeof *out);
    e = read_list(c, r, "strikes", k_strike, NF(k_strike), sizeof *out->strikes,
                  (void **)&out->strikes, &out->n_strikes);
    if (e == CH_OK &&
        (e = read_list(c, r, "scenarios", k_scenario, NF(k_scenario), sizeof *out->scenarios,
                       (void **)&out->scenarios, &out->n_scenarios)) != CH_OK) {
        free(out->strikes);
        out->strikes = NULL;
    }
    read_fields(item(r, "totals"), k_greeks, NF(k_greeks), &out->totals);
    read_fields(item(r, "netting"), k_netting, NF(k_netting), out);
    out->worst_loss = num(r, "worst_loss");
    cJSON_Delete(r);
    return e;
}

#define T ch_client_hedge_info
static const rfield k_hedge[] = {
    S(policy),    D(position), D(avg_price), D(fees),   D(slippage),      D(funding),
    D(basis_pnl), D(realized), D(volume),    I(orders), D(netting_ratio), D(cost_per_1m_notional)};
#undef T

ch_err ch_client_hedge(ch_client *c, ch_client_hedge_info *out)
{
    return call_read(c, CH_MSG_HEDGE, request(), k_hedge, NF(k_hedge), out);
}

#define T ch_client_stats_info
static const rfield k_stats[] = {I(requests), I(errors), I(orders), I(batches),
                                 I(commits),  I(seq),    B(halted)};
#undef T
#define T ch_client_stats_info
static const rfield k_fills_by_source[] = {
    F_AS("book", fills_book, 'i'), F_AS("net", fills_net, 'i'), F_AS("pool", fills_pool, 'i')};
#undef T

ch_err ch_client_stats(ch_client *c, ch_client_stats_info *out)
{
    cJSON *r;
    ch_err e = call_msg(c, CH_MSG_STATS, request(), &r);
    if (e == CH_OK) {
        read_fields(r, k_stats, NF(k_stats), out);
        read_fields(item(r, "fills"), k_fills_by_source, NF(k_fills_by_source), out);
    }
    cJSON_Delete(r);
    return e;
}
