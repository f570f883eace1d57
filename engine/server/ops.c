/*
 * ops.c - the request handlers, one per message of the table
 * (ch/proto_msg.h), and the table that maps each message to its handler.
 * A handler reads the typed request, checks access through guard.c, applies
 * commands (commands.c) and writes its result fields.
 */
#include "server_int.h"

#include "ch/version.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- request handlers ------------------------------------------------------ */

/* The account named by field @p key, read (@p view: positions, which the
 * read-only key may read for house, pool and fees) or acted for. */
static ch_err find_account(ch_server *s, req_ctx *r, const char *key, bool view, ch_account_id *id)
{
    char name[CH_ACCOUNT_NAME_MAX];
    if (ch_proto_string(FIELD(r, key), true, name, sizeof name) != CH_OK)
        FAIL(CH_EBADREQ, "\"account\" must be an account name");
    bool found = ch_engine_account_find(s->e, name, strlen(name), id) == CH_OK;
    if (view)
        return chi_guard_account_view(s->guard, found, *id, found && id->v <= CH_ACCOUNT_FEES,
                                      &r->msg);
    return chi_guard_account(s->guard, found, *id, &r->msg);
}

ch_err chi_get_account(ch_server *s, req_ctx *r, const char *key, ch_account_id *id)
{
    return find_account(s, r, key, false, id);
}

static ch_err get_symbol(ch_server *s, req_ctx *r, ch_instr_id *id)
{
    char sym[CH_SYMBOL_MAX + 8];
    if (ch_proto_string(FIELD(r, "symbol"), true, sym, sizeof sym) != CH_OK)
        FAIL(CH_EBADREQ, "\"symbol\" must be a string");
    ch_err e = ch_instruments_lookup(ch_engine_instruments(s->e), sym, strlen(sym),
                                     ch_engine_now(s->e), id);
    if (e == CH_EEXPIRED)
        FAIL(CH_EEXPIRED, "the series has expired");
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    return CH_OK;
}

static cJSON *instrument_json(ch_server *s, const ch_instrument *in)
{
    const ch_underlying_config *u =
        ch_instruments_underlying(ch_engine_instruments(s->e), in->underlying);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "symbol", in->symbol);
    cJSON_AddNumberToObject(o, "id", (double)in->id.v); /* for the binary encoding */
    cJSON_AddStringToObject(o, "underlying", u->name);
    if (in->sym.kind != CH_PERP) {
        char t[40];
        ch_proto_format_time(in->sym.expiry, t, sizeof t);
        cJSON_AddStringToObject(o, "expiry", t);
        cJSON_AddNumberToObject(o, "strike", (double)in->sym.strike);
    } else {
        cJSON_AddNullToObject(o, "expiry");
        cJSON_AddNullToObject(o, "strike");
    }
    cJSON_AddStringToObject(o, "type",
                            in->sym.kind == CH_CALL  ? "call"
                            : in->sym.kind == CH_PUT ? "put"
                                                     : "perp");
    cJSON_AddNumberToObject(o, "tick", ch_price_to_double(u, 1));
    cJSON_AddNumberToObject(o, "contract_size", u->contract_size);
    return o;
}

static ch_err op_hello(ch_server *s, req_ctx *r)
{
    cJSON_AddNumberToObject(r->out, "version", CH_PROTO_VERSION);
    cJSON_AddStringToObject(r->out, "server", "chd");
    cJSON_AddStringToObject(r->out, "software", CH_VERSION);
    cJSON_AddBoolToObject(r->out, "auth", chi_guard_auth(s->guard));
    cJSON *a = cJSON_AddArrayToObject(r->out, "underlyings");
    const ch_instruments *reg = ch_engine_instruments(s->e);
    for (uint32_t i = 0; i < ch_instruments_underlying_count(reg); i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(ch_instruments_underlying(reg, i)->name));
    return CH_OK;
}

/* The optional "underlying" field: its index in *ui (0, the first, when
 * absent) and whether it was given. */
ch_err chi_opt_underlying(ch_server *s, req_ctx *r, uint32_t *ui, bool *given)
{
    char und[CH_UNDERLYING_MAX] = "";
    if (ch_proto_string(FIELD(r, "underlying"), false, und, sizeof und) != CH_OK)
        FAIL(CH_EBADREQ, "\"underlying\" must be a string");
    *ui = 0;
    *given = und[0] != '\0';
    if (*given &&
        ch_instruments_find_underlying(ch_engine_instruments(s->e), und, strlen(und), ui) != CH_OK)
        FAIL(CH_EUNKNOWN_SYMBOL, "unknown underlying");
    return CH_OK;
}

static ch_err op_instruments(ch_server *s, req_ctx *r)
{
    uint32_t ui;
    bool given;
    ch_err ue = chi_opt_underlying(s, r, &ui, &given);
    if (ue != CH_OK)
        return ue;
    const ch_instruments *reg = ch_engine_instruments(s->e);
    cJSON *a = cJSON_AddArrayToObject(r->out, "instruments");
    for (uint32_t i = 0; i < ch_instruments_count(reg); i++) {
        const ch_instrument *in = ch_instruments_get(reg, (ch_instr_id){i});
        if ((given && in->underlying != ui) ||
            (in->sym.kind != CH_PERP && in->sym.expiry <= ch_engine_now(s->e)))
            continue;
        cJSON_AddItemToArray(a, instrument_json(s, in));
    }
    return CH_OK;
}

static ch_err op_instrument_add(ch_server *s, req_ctx *r)
{
    ch_command c = ch_command_make(CH_C_LIST);
    if (ch_proto_string(FIELD(r, "symbol"), true, c.symbol, sizeof c.symbol) != CH_OK)
        FAIL(CH_EUNKNOWN_SYMBOL, "\"symbol\" must be a symbol such as BTC-27DEC26-100000-C");
    ch_command_result res;
    ch_err e = chi_exec(s, &c, &res);
    if (e == CH_ECAPACITY)
        FAIL(CH_ECAPACITY, "the instrument limit (max_instruments) is reached");
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    cJSON *o = instrument_json(s, instr_of(s, res.instr));
    for (cJSON *f = o->child; f != NULL;) {
        cJSON *next = f->next;
        /* the envelope's "id" is the request's: the instrument's is instrument_id */
        const char *name = strcmp(f->string, "id") == 0 ? "instrument_id" : f->string;
        cJSON_AddItemToObject(r->out, name, cJSON_DetachItemViaPointer(o, f));
        f = next;
    }
    cJSON_Delete(o);
    return CH_OK;
}

ch_err chi_get_cash(req_ctx *r, const char *key, int64_t *out)
{
    double d;
    if (ch_proto_number(FIELD(r, key), true, &d, NULL) != CH_OK || d < 0 || d > 1e12)
        FAIL(CH_EBADREQ, "the amount must be a number of USD between 0 and 1e12");
    *out = (int64_t)llround(d * CH_CASH_SCALE);
    return CH_OK;
}

static ch_err op_account_open(ch_server *s, req_ctx *r)
{
    ch_command c = ch_command_make(CH_C_ACCOUNT_OPEN);
    if (ch_proto_string(FIELD(r, "account"), true, c.name, sizeof c.name) != CH_OK)
        FAIL(CH_EBADREQ, "\"account\" must be a name of 1-31 characters");
    ch_err e = chi_get_cash(r, "cash", &c.amount);
    if (e != CH_OK)
        return e;
    char key[CHI_ACCOUNT_KEY_HEX + 1];
    uint8_t digest[CH_SHA256_LEN];
    if (chi_key_new(key, digest) != CH_OK) /* before any change */
        FAIL(CH_EUNAVAILABLE, "no random source for the account's key");
    ch_command_result res;
    e = chi_exec(s, &c, &res);
    if (e == CH_EEXISTS)
        FAIL(CH_EBADREQ, "an account of that name exists");
    if (e == CH_EINVAL)
        FAIL(CH_EBADREQ, "account names are 1-31 characters of A-Z a-z 0-9 _ . -");
    if (e == CH_ECAPACITY)
        FAIL(CH_ECAPACITY, "the account limit (max_accounts) is reached");
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    /* the digest is committed with this batch, or the batch is not acknowledged */
    if (ch_store_put_key(s->st, c.name, digest) != CH_OK)
        s->halted = true;
    chi_guard_set_key(s->guard, res.account, digest);
    cJSON_AddStringToObject(r->out, "account", c.name);
    cJSON_AddNumberToObject(r->out, "cash", (double)c.amount / CH_CASH_SCALE);
    cJSON_AddStringToObject(r->out, "key", key);
    return CH_OK;
}

static ch_err op_account_deposit(ch_server *s, req_ctx *r)
{
    ch_command c = ch_command_make(CH_C_DEPOSIT);
    ch_err e = chi_get_account(s, r, "account", &c.account);
    if (e != CH_OK)
        return e;
    double d;
    if (ch_proto_number(FIELD(r, "amount"), true, &d, NULL) != CH_OK || fabs(d) > 1e12 || d == 0)
        FAIL(CH_EBADREQ, "\"amount\" must be a non-zero number of USD (negative: withdraw)");
    c.amount = (int64_t)llround(d * CH_CASH_SCALE);
    e = chi_exec(s, &c, NULL);
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    ch_account_info ai;
    ch_engine_account(s->e, c.account, &ai);
    cJSON_AddNumberToObject(r->out, "cash", (double)ai.cash / CH_CASH_SCALE);
    return CH_OK;
}

static ch_err op_market_update(ch_server *s, req_ctx *r)
{
    ch_command *c = calloc(1, sizeof *c);
    if (c == NULL)
        FAIL(CH_ENOMEM, "out of memory");
    c->type = CH_C_MARKET;
    ch_err e = CH_OK;
    char und[CH_UNDERLYING_MAX];
    const ch_instruments *reg = ch_engine_instruments(s->e);
    if (ch_proto_string(FIELD(r, "underlying"), true, und, sizeof und) != CH_OK) {
        e = CH_EBADREQ;
        r->msg = "\"underlying\" must be a string";
    } else if (ch_instruments_find_underlying(reg, und, strlen(und), &c->market.underlying) !=
               CH_OK) {
        e = CH_EUNKNOWN_SYMBOL;
        r->msg = "unknown underlying";
    }
    bool has;
    c->market.index = c->market.rate = c->market.funding_rate = c->market.perp = NAN;
    if (e == CH_OK && (ch_proto_number(FIELD(r, "index"), true, &c->market.index, NULL) != CH_OK ||
                       !(c->market.index > 0))) {
        e = CH_EBADPRICE;
        r->msg = "\"index\" must be a positive number";
    }
    if (e == CH_OK &&
        (ch_proto_number(FIELD(r, "rate"), false, &c->market.rate, &has) != CH_OK ||
         ch_proto_number(FIELD(r, "funding_rate"), false, &c->market.funding_rate, &has) != CH_OK ||
         ch_proto_number(FIELD(r, "perp"), false, &c->market.perp, &has) != CH_OK ||
         ch_proto_time(FIELD(r, "time"), &c->market.time, &has) != CH_OK)) {
        e = CH_EBADREQ;
        r->msg = "rate, funding_rate and perp are numbers; time is ISO-8601 or ns";
    }
    /* index and perp are prices: on the underlying's tick (PROTOCOL.md) */
    const ch_underlying_config *ucfg =
        e == CH_OK ? ch_instruments_underlying(reg, c->market.underlying) : NULL;
    int64_t ticks;
    if (e == CH_OK && ch_price_from_double(ucfg, c->market.index, &ticks) != CH_OK) {
        e = CH_EBADPRICE;
        r->msg = "\"index\" is not on the underlying's tick (round it to the tick)";
    } else if (e == CH_OK && !isnan(c->market.perp) &&
               (!(c->market.perp > 0) ||
                ch_price_from_double(ucfg, c->market.perp, &ticks) != CH_OK)) {
        e = CH_EBADPRICE;
        r->msg = "\"perp\" must be a positive price on the underlying's tick";
    }
    const ch_value *iv = FIELD(r, "iv");
    if (e == CH_OK && iv->kind != CH_V_ABSENT) {
        if (iv->kind != CH_V_MAP || iv->n > CH_COMMAND_MAX_MARKS) {
            e = CH_EBADREQ;
            r->msg = iv->kind != CH_V_MAP
                         ? "\"iv\" must be an object of symbol or expiry (e.g. 27DEC26) -> vol"
                         : "each \"iv\" value must be a number (at most 512)";
        }
        for (uint32_t i = 0; e == CH_OK && i < iv->n; i++) {
            const ch_entry *v = &iv->u.map[i];
            ch_symbol sym;
            char full[CH_SYMBOL_MAX + 24];
            size_t m = c->market.n_marks;
            if (ch_symbol_parse(v->name, strlen(v->name), &sym) == CH_OK && sym.kind != CH_PERP) {
                c->market.expiry[m] = sym.expiry;
                c->market.strike[m] = (double)sym.strike;
            } else {
                snprintf(full, sizeof full, "%s-%s-1-C", und, v->name);
                if (ch_symbol_parse(full, strlen(full), &sym) != CH_OK) {
                    e = CH_EBADREQ;
                    r->msg = "an \"iv\" key is neither a symbol nor an expiry such as 27DEC26";
                    break;
                }
                c->market.expiry[m] = sym.expiry;
                c->market.strike[m] = 0; /* flat for the expiry */
            }
            c->market.vol[m] = v->num;
            c->market.n_marks++;
        }
        /* group the marks of one expiry together (stable) */
        for (size_t i = 1; i < c->market.n_marks; i++)
            for (size_t k = i; k > 0 && c->market.expiry[k - 1] > c->market.expiry[k]; k--) {
                ch_time te = c->market.expiry[k];
                double ts = c->market.strike[k], tv = c->market.vol[k];
                c->market.expiry[k] = c->market.expiry[k - 1];
                c->market.strike[k] = c->market.strike[k - 1];
                c->market.vol[k] = c->market.vol[k - 1];
                c->market.expiry[k - 1] = te;
                c->market.strike[k - 1] = ts;
                c->market.vol[k - 1] = tv;
            }
    }
    if (e == CH_OK) {
        e = chi_exec(s, c, NULL);
        if (e != CH_OK)
            r->msg =
                e == CH_EINVAL ? "time goes backwards or a value is out of range" : ch_strerror(e);
        else if (c->market.underlying < CHI_MAX_UND)
            s->risk_dirty[c->market.underlying] = true; /* the marks moved: a risk event */
    }
    free(c);
    if (e == CH_OK)
        cJSON_AddNumberToObject(r->out, "seq", (double)s->last_cmd_seq);
    return e == CH_EINVAL ? CH_EBADREQ : e;
}

void chi_order_result_json(ch_server *s, const ch_engine_result *res, cJSON *out)
{
    (void)s;
    add_u64(out, "order_id", res->id.v);
    cJSON_AddStringToObject(out, "status", ch_status_name(res->status));
    cJSON_AddNumberToObject(out, "filled_qty", (double)res->filled);
    cJSON_AddNumberToObject(out, "remaining_qty", (double)res->remaining);
}

/* ---- access and limits: the calls into guard.c on the request path ------ */

/* Every request: its connection's rate and the client cap, and its key
 * (NULL: none, or not a string). */
ch_err chi_request_guard(ch_server *s, const chi_origin *from, const char *key, const char **msg)
{
    return chi_guard_begin(s->guard, from->pipe, key, from->now, msg);
}

/* Every order: the account's order rate and, if it may rest, its open-order cap. */
ch_err chi_order_guard(ch_server *s, const chi_origin *from, const ch_command *c, const char **msg)
{
    bool may_rest = c->order.type == CH_ORD_LIMIT && c->order.tif == CH_TIF_GTC;
    return chi_guard_order(s->guard, c->order.account, may_rest, ch_engine_book(s->e), from->now,
                           msg);
}

/* After a submit (live or replayed): count the order if it rests. */
void chi_order_rested(ch_server *s, const ch_command *c, const ch_command_result *res)
{
    if (res->order.remaining > 0 &&
        (res->order.status == CH_STATUS_NEW || res->order.status == CH_STATUS_PARTIALLY_FILLED))
        chi_guard_order_rests(s->guard, c->order.account, res->order.id, ch_engine_book(s->e));
}

/* One order.new field set (also one element of order.batch). */
static ch_err new_order(ch_server *s, req_ctx *r, ch_account_id acct_default, bool has_default)
{
    ch_command c;
    ch_command_reset(&c, CH_C_SUBMIT);
    ch_err e;
    if (FIELD(r, "account")->kind != CH_V_ABSENT || !has_default) {
        if ((e = chi_get_account(s, r, "account", &c.order.account)) != CH_OK)
            return e;
    } else {
        c.order.account = acct_default;
    }
    if ((e = get_symbol(s, r, &c.order.instr)) != CH_OK)
        return e;
    char side[8], type[8] = "limit", tif[8] = "gtc";
    if (ch_proto_string(FIELD(r, "side"), true, side, sizeof side) != CH_OK ||
        (strcmp(side, "buy") != 0 && strcmp(side, "sell") != 0))
        FAIL(CH_EBADREQ, "\"side\" must be \"buy\" or \"sell\"");
    c.order.side = side[0] == 'b' ? CH_BUY : CH_SELL;
    if (ch_proto_string(FIELD(r, "type"), false, type, sizeof type) != CH_OK ||
        (strcmp(type, "limit") != 0 && strcmp(type, "market") != 0))
        FAIL(CH_EBADREQ, "\"type\" must be \"limit\" or \"market\"");
    c.order.type = type[0] == 'l' ? CH_ORD_LIMIT : CH_ORD_MARKET;
    if (ch_proto_string(FIELD(r, "tif"), false, tif, sizeof tif) != CH_OK ||
        (strcmp(tif, "gtc") != 0 && strcmp(tif, "ioc") != 0 && strcmp(tif, "fok") != 0))
        FAIL(CH_EBADREQ, "\"tif\" must be \"gtc\", \"ioc\" or \"fok\"");
    c.order.tif = tif[0] == 'g' ? CH_TIF_GTC : tif[0] == 'i' ? CH_TIF_IOC : CH_TIF_FOK;
    if (ch_proto_bool(FIELD(r, "post_only"), false, &c.order.post_only) != CH_OK)
        FAIL(CH_EBADREQ, "\"post_only\" must be true or false");
    if ((e = ch_proto_qty(FIELD(r, "qty"), true, &c.order.qty)) != CH_OK)
        FAIL(e, e == CH_EBADQTY ? "\"qty\" must be a positive whole number of contracts"
                                : "\"qty\" is required");
    bool has_price;
    e = ch_proto_price(FIELD(r, "price"), und_of(s, c.order.instr), c.order.type == CH_ORD_LIMIT,
                       &c.order.price, &has_price);
    if (e != CH_OK)
        FAIL(e == CH_EBADREQ ? CH_EBADREQ : CH_EBADPRICE,
             e == CH_EBADREQ ? "\"price\" is required for a limit order"
                             : "price not positive, not on tick or outside the band");
    if (ch_proto_string(FIELD(r, "client_order_id"), false, c.client_order_id,
                        sizeof c.client_order_id) != CH_OK)
        FAIL(CH_EBADREQ, "\"client_order_id\" must be a string of 1-63 bytes");
    char key[CH_CLIENT_ORDER_ID_MAX + 16];
    if (c.client_order_id[0] != '\0') {
        chi_coid_key(key, sizeof key, c.order.account, c.client_order_id);
        const cJSON *first = chi_coid_find(s, key);
        if (first != NULL) { /* a repeat: the original result */
            for (const cJSON *f = first->child; f != NULL; f = f->next)
                cJSON_AddItemToObject(r->out, f->string, cJSON_Duplicate(f, 1));
            return CH_OK;
        }
    }
    if ((e = chi_order_guard(s, r->from, &c, &r->msg)) != CH_OK)
        return e;
    cJSON *fills = cJSON_CreateArray();
    chi_collect k = {.fills = fills};
    ch_command_result res;
    e = chi_exec_collect(s, &c, &res, &k);
    if (e != CH_OK) {
        cJSON_Delete(fills);
        FAIL(e, ch_strerror(e));
    }
    s->orders++;
    chi_order_rested(s, &c, &res);
    if (k.stp && !k.stp_others && res.order.filled == 0 &&
        res.order.status == CH_STATUS_CANCELLED) {
        /* self-trade prevention cancelled it before anything traded: nothing
         * changed for this account, so it is reported as a reject */
        cJSON_Delete(fills);
        FAIL(CH_ESELF_TRADE, "the order would trade with the account's own resting order");
    }
    chi_order_result_json(s, &res.order, r->out);
    cJSON_AddItemToObject(r->out, "fills", fills);
    if (c.client_order_id[0] != '\0')
        chi_coid_put(s, key, r->out, true);
    return CH_OK;
}

static ch_err op_order_new(ch_server *s, req_ctx *r)
{
    return new_order(s, r, (ch_account_id){0}, false);
}

static ch_err op_order_batch(ch_server *s, req_ctx *r)
{
    ch_account_id acct = {0};
    bool has = FIELD(r, "account")->kind != CH_V_ABSENT;
    ch_err e;
    if (has && (e = chi_get_account(s, r, "account", &acct)) != CH_OK)
        return e;
    const ch_value *orders = FIELD(r, "orders");
    if (orders->kind != CH_V_LIST)
        FAIL(CH_EBADREQ, "\"orders\" must be an array");
    if (orders->n > s->cfg.max_batch)
        FAIL(CH_EBADREQ, "too many orders in one batch (max_batch, 5000 by default)");
    cJSON *results = cJSON_AddArrayToObject(r->out, "results");
    for (uint32_t i = 0; i < orders->n; i++) {
        req_ctx sub = {.from = r->from, .q = &orders->u.obj[i], .out = cJSON_CreateObject()};
        ch_err oe = new_order(s, &sub, acct, has);
        if (oe == CH_OK) {
            cJSON *ok = cJSON_CreateObject();
            cJSON_AddBoolToObject(ok, "ok", 1);
            move_fields(ok, sub.out);
            cJSON_AddItemToArray(results, ok);
        } else {
            cJSON *err = cJSON_CreateObject();
            cJSON_AddBoolToObject(err, "ok", 0);
            cJSON *eo = cJSON_AddObjectToObject(err, "error");
            cJSON_AddStringToObject(eo, "code", ch_errwire(oe));
            cJSON_AddStringToObject(eo, "message", sub.msg ? sub.msg : ch_strerror(oe));
            cJSON_AddItemToArray(results, err);
        }
        cJSON_Delete(sub.out);
    }
    return CH_OK;
}

static ch_err order_target(ch_server *s, req_ctx *r, ch_command *c)
{
    ch_err e = chi_get_account(s, r, "account", &c->account);
    if (e != CH_OK)
        return e;
    e = ch_proto_order_id(FIELD(r, "order_id"), &c->order_id);
    if (e == CH_EBADREQ)
        FAIL(CH_EBADREQ, "\"order_id\" must be a decimal string");
    if (e != CH_OK)
        FAIL(CH_EUNKNOWN_ORDER, "no such open order");
    return CH_OK;
}

static ch_err op_order_cancel(ch_server *s, req_ctx *r)
{
    ch_command c;
    ch_command_reset(&c, CH_C_CANCEL);
    ch_err e = order_target(s, r, &c);
    if (e != CH_OK)
        return e;
    ch_command_result res;
    e = chi_exec(s, &c, &res);
    if (e != CH_OK)
        FAIL(e, e == CH_EUNKNOWN_ORDER ? "no such open order" : ch_strerror(e));
    add_u64(r->out, "order_id", c.order_id.v);
    cJSON_AddStringToObject(r->out, "status", "cancelled");
    cJSON_AddNumberToObject(r->out, "remaining_qty", 0);
    cJSON_AddNumberToObject(r->out, "cancelled_qty", (double)res.value);
    return CH_OK;
}

static ch_err op_order_replace(ch_server *s, req_ctx *r)
{
    ch_command c;
    ch_command_reset(&c, CH_C_REPLACE);
    ch_err e = order_target(s, r, &c);
    if (e != CH_OK)
        return e;
    ch_order_info oi;
    if (ch_book_order(ch_engine_book(s->e), c.order_id, &oi) != CH_OK)
        FAIL(CH_EUNKNOWN_ORDER, "no such open order");
    if ((e = ch_proto_qty(FIELD(r, "qty"), false, &c.qty)) != CH_OK)
        FAIL(e, "\"qty\" must be a positive whole number of contracts");
    bool has_price;
    if ((e = ch_proto_price(FIELD(r, "price"), und_of(s, oi.instr), false, &c.price, &has_price)) !=
        CH_OK)
        FAIL(CH_EBADPRICE, "price not positive, not on tick or outside the band");
    if (c.qty == 0 && !has_price)
        FAIL(CH_EBADREQ, "give \"qty\" and/or \"price\"");
    cJSON *fills = cJSON_CreateArray();
    chi_collect k = {.fills = fills};
    ch_command_result res;
    e = chi_exec_collect(s, &c, &res, &k);
    if (e != CH_OK) {
        cJSON_Delete(fills);
        FAIL(e, ch_strerror(e));
    }
    chi_order_result_json(s, &res.order, r->out);
    cJSON_AddItemToObject(r->out, "fills", fills);
    return CH_OK;
}

typedef struct orders_ctx {
    ch_server *s;
    ch_account_id acct;
    cJSON *arr;
} orders_ctx;

static void put_open_order(void *ctx, const ch_order_info *o)
{
    orders_ctx *c = ctx;
    if (o->account.v != c->acct.v)
        return;
    cJSON *x = cJSON_CreateObject();
    add_u64(x, "order_id", o->id.v);
    cJSON_AddStringToObject(x, "symbol", instr_of(c->s, o->instr)->symbol);
    cJSON_AddStringToObject(x, "side", ch_side_name(o->side));
    cJSON_AddNumberToObject(x, "price", px(c->s, o->instr, o->price));
    cJSON_AddNumberToObject(x, "remaining_qty", (double)o->remaining);
    cJSON_AddNumberToObject(x, "filled_qty", (double)o->filled);
    cJSON_AddBoolToObject(x, "post_only", o->post_only);
    cJSON_AddItemToArray(c->arr, x);
}

static ch_err op_orders(ch_server *s, req_ctx *r)
{
    orders_ctx c = {.s = s};
    ch_err e = chi_get_account(s, r, "account", &c.acct);
    if (e != CH_OK)
        return e;
    c.arr = cJSON_AddArrayToObject(r->out, "orders");
    uint32_t n = ch_instruments_count(ch_engine_instruments(s->e));
    for (uint32_t i = 0; i < n; i++)
        for (int side = 0; side < 2; side++)
            ch_book_foreach(ch_engine_book(s->e), (ch_instr_id){i}, (ch_side)side, put_open_order,
                            &c);
    return CH_OK;
}

static ch_err op_book(ch_server *s, req_ctx *r)
{
    ch_instr_id id;
    ch_err e = get_symbol(s, r, &id);
    if (e != CH_OK)
        return e;
    double depth = 10;
    bool has;
    if (ch_proto_number(FIELD(r, "depth"), false, &depth, &has) != CH_OK || depth < 1 ||
        depth > 1000 || floor(depth) != depth)
        FAIL(CH_EBADREQ, "\"depth\" must be an integer 1..1000");
    ch_level lv[1000];
    for (int side = 0; side < 2; side++) {
        cJSON *a = cJSON_AddArrayToObject(r->out, side == 0 ? "bids" : "asks");
        size_t n = ch_book_depth(ch_engine_book(s->e), id, (ch_side)side, lv, (size_t)depth);
        for (size_t i = 0; i < n; i++) {
            cJSON *pq = cJSON_CreateArray();
            cJSON_AddItemToArray(pq, cJSON_CreateNumber(px(s, id, lv[i].price)));
            cJSON_AddItemToArray(pq, cJSON_CreateNumber((double)lv[i].qty));
            cJSON_AddItemToArray(a, pq);
        }
    }
    return CH_OK;
}

static ch_err op_quote(ch_server *s, req_ctx *r)
{
    ch_instr_id id;
    ch_err e = get_symbol(s, r, &id);
    if (e != CH_OK)
        return e;
    char side[8];
    if (ch_proto_string(FIELD(r, "side"), true, side, sizeof side) != CH_OK ||
        (strcmp(side, "buy") != 0 && strcmp(side, "sell") != 0))
        FAIL(CH_EBADREQ, "\"side\" must be \"buy\" or \"sell\"");
    int64_t qty;
    if ((e = ch_proto_qty(FIELD(r, "qty"), true, &qty)) != CH_OK)
        FAIL(e, "\"qty\" must be a positive whole number of contracts");
    ch_quote q;
    e = ch_engine_quote(s->e, id, side[0] == 'b' ? CH_BUY : CH_SELL, qty, &q);
    if (e == CH_ENOTFOUND)
        FAIL(CH_EUNAVAILABLE, "the pool does not quote this series (no mark, or off)");
    if (e != CH_OK)
        FAIL(e, e == CH_ERISK_LIMIT ? "the pool is at its risk limits for this trade"
                                    : ch_strerror(e));
    cJSON_AddNumberToObject(r->out, "price", px(s, id, q.price));
    cJSON_AddNumberToObject(r->out, "model", q.model);
    cJSON_AddNumberToObject(r->out, "premium", q.premium);
    cJSON_AddNumberToObject(r->out, "hedge_cost", q.hedge_cost);
    cJSON_AddNumberToObject(r->out, "vol", q.vol);
    cJSON_AddNumberToObject(r->out, "max_qty", (double)q.max_qty);
    return CH_OK;
}

typedef struct pos_ctx {
    ch_server *s;
    cJSON *arr;
} pos_ctx;

static void put_position(void *ctx, const ch_position_info *p)
{
    pos_ctx *c = ctx;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "symbol", instr_of(c->s, p->instr)->symbol);
    cJSON_AddNumberToObject(o, "qty", (double)p->qty);
    cJSON_AddNumberToObject(o, "avg_price", p->avg_price);
    cJSON_AddNumberToObject(o, "mark", p->mark);
    cJSON_AddNumberToObject(o, "delta", p->unit.delta * (double)p->qty);
    cJSON_AddNumberToObject(o, "gamma", p->unit.gamma * (double)p->qty);
    cJSON_AddNumberToObject(o, "vega", p->unit.vega * (double)p->qty);
    cJSON_AddNumberToObject(o, "theta", p->unit.theta * (double)p->qty);
    cJSON_AddNumberToObject(o, "realized", (double)p->realized / CH_CASH_SCALE);
    cJSON_AddItemToArray(c->arr, o);
}

static ch_err op_positions(ch_server *s, req_ctx *r)
{
    ch_account_id a;
    ch_err e = find_account(s, r, "account", true, &a);
    if (e != CH_OK)
        return e;
    ch_account_info ai;
    ch_engine_account(s->e, a, &ai);
    cJSON_AddStringToObject(r->out, "account", ai.name);
    cJSON_AddNumberToObject(r->out, "cash", (double)ai.cash / CH_CASH_SCALE);
    cJSON_AddNumberToObject(r->out, "reserved", (double)ai.reserved / CH_CASH_SCALE);
    cJSON_AddNumberToObject(r->out, "equity", ai.equity);
    cJSON_AddNumberToObject(r->out, "margin", ai.margin);
    pos_ctx c = {s, cJSON_AddArrayToObject(r->out, "positions")};
    ch_engine_positions(s->e, a, put_position, &c);
    return CH_OK;
}

static ch_err op_stats(ch_server *s, req_ctx *r)
{
    ch_netting n;
    ch_engine_netting(s->e, &n);
    ch_store_stats ss;
    ch_store_get_stats(s->st, &ss);
    cJSON_AddNumberToObject(r->out, "requests", (double)s->requests);
    cJSON_AddNumberToObject(r->out, "errors", (double)s->errors);
    cJSON_AddNumberToObject(r->out, "orders", (double)s->orders);
    cJSON_AddNumberToObject(r->out, "coid_store_hits", (double)s->coid_store_hits);
    cJSON_AddNumberToObject(r->out, "snapshots", (double)s->snapshots);
    cJSON_AddNumberToObject(r->out, "snapshot_failures", (double)s->snapshot_failures);
    cJSON_AddNumberToObject(r->out, "snapshot_seq", (double)s->snap_last_seq);
    cJSON_AddNumberToObject(r->out, "snapshot_bytes", (double)s->snap_bytes);
    cJSON_AddNumberToObject(r->out, "snapshot_ms", s->snap_ms);
    cJSON_AddNumberToObject(r->out, "restored_seq", (double)s->restored_seq);
    cJSON_AddNumberToObject(r->out, "log_first_seq", (double)ch_store_first_seq(s->st));
    cJSON_AddNumberToObject(r->out, "log_pruned", (double)s->log_pruned);
    cJSON *f = cJSON_AddObjectToObject(r->out, "fills");
    for (int k = 0; k < 3; k++)
        cJSON_AddNumberToObject(f, chi_source_names[k], (double)n.fills[k]);
    cJSON_AddNumberToObject(r->out, "batches", (double)s->batches);
    cJSON_AddNumberToObject(r->out, "commits", (double)ss.commits);
    cJSON_AddNumberToObject(r->out, "commit_ms", (double)s->commit_ns_last / 1e6);
    cJSON_AddNumberToObject(r->out, "commit_ms_mean",
                            s->batches ? (double)s->commit_ns_total / 1e6 / (double)s->batches
                                       : 0.0);
    cJSON_AddNumberToObject(r->out, "seq", (double)ch_store_last_seq(s->st));
    cJSON_AddBoolToObject(r->out, "halted", s->halted);
    chi_guard_stats gs;
    chi_guard_get_stats(s->guard, &gs);
    cJSON_AddNumberToObject(r->out, "unauthorized", (double)gs.unauthorized);
    cJSON_AddNumberToObject(r->out, "rate_limited", (double)gs.rate_limited);
    cJSON_AddNumberToObject(r->out, "refused_clients", (double)gs.refused_clients);
    cJSON_AddNumberToObject(r->out, "open_order_cap", (double)gs.open_order_cap);
    cJSON_AddNumberToObject(r->out, "connections", (double)chi_guard_conns(s->guard));
    cJSON_AddNumberToObject(r->out, "slow_clients_closed",
                            (double)__atomic_load_n(&s->slow_closed, __ATOMIC_RELAXED));
    cJSON_AddNumberToObject(r->out, "idle_closed",
                            (double)__atomic_load_n(&s->idle_closed, __ATOMIC_RELAXED));
    uint64_t retries = 0, rejects = 0;
    for (uint32_t u = 0; u < s->n_hedgers; u++) {
        if (s->hedgers[u] == NULL)
            continue;
        uint32_t infl = 0;
        uint64_t rt = 0;
        ch_hedger_status(s->hedgers[u], &infl, &rt);
        retries += rt;
        rejects += ch_hedger_book(s->hedgers[u])->rejects; /* not logged as a fill */
    }
    cJSON_AddNumberToObject(r->out, "hedge_venue_retries", (double)retries);
    cJSON_AddNumberToObject(r->out, "hedge_venue_rejects", (double)rejects);
    chi_cluster_stats(s, r->out);
    return CH_OK;
}

/* The handler of each message of the table (ch/proto_msg.h): both codecs
 * reach it through the table, JSON by op name and binary by op code. */
const chi_op_fn chi_handlers[CH_MSG_COUNT] = {
    [CH_MSG_HELLO] = op_hello,
    [CH_MSG_INSTRUMENTS] = op_instruments,
    [CH_MSG_INSTRUMENT_ADD] = op_instrument_add,
    [CH_MSG_ACCOUNT_OPEN] = op_account_open,
    [CH_MSG_ACCOUNT_DEPOSIT] = op_account_deposit,
    [CH_MSG_POOL_DEPOSIT] = chi_op_pool_deposit,
    [CH_MSG_POOL_WITHDRAW] = chi_op_pool_withdraw,
    [CH_MSG_MARKET_UPDATE] = op_market_update,
    [CH_MSG_ORDER_NEW] = op_order_new,
    [CH_MSG_ORDER_BATCH] = op_order_batch,
    [CH_MSG_ORDER_CANCEL] = op_order_cancel,
    [CH_MSG_ORDER_REPLACE] = op_order_replace,
    [CH_MSG_ORDERS] = op_orders,
    [CH_MSG_BOOK] = op_book,
    [CH_MSG_QUOTE] = op_quote,
    [CH_MSG_POSITIONS] = op_positions,
    [CH_MSG_RISK] = chi_op_risk,
    [CH_MSG_HEDGE] = chi_op_hedge,
    [CH_MSG_STATS] = op_stats,
    [CH_MSG_POOL_TRANCHE_ADD] = chi_op_tranche_add,
    [CH_MSG_UNDERLYING_ADD] = chi_op_underlying_add,
    [CH_MSG_POOLS] = chi_op_pools,
    [CH_MSG_STATE_HASH] = chi_op_state_hash,
    [CH_MSG_ACCOUNT_TRANSFER] = chi_op_account_transfer,
};
