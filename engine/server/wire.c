/*
 * wire.c - one request in either encoding: JSON (strict parse, schema
 * check), the table's binary messages and the compact binary order.batch;
 * dispatch to the handler, the reply, and the UNAVAILABLE reply of a batch
 * that could not commit.
 */
#include "server_int.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* A write refused while halted: counted, logged at most once every 10 s. */
static void refused_while_halted(ch_server *s)
{
    s->halt_refused++;
    if (chi_due(&s->halt_logged, mono_now(), 10 * CH_NS_PER_SEC))
        CH_LOG(CH_LOG_WARN, "store_halted_refusing", "refused_so_far=%" PRIu64, s->halt_refused);
}

/* Run the typed request @p q (either encoding), its result fields into
 * @p result; @p msg gets the error text. */
static ch_err dispatch(ch_server *s, const chi_origin *from, const ch_req *q, cJSON *result,
                       const char **msg)
{
    const ch_msg *m = q->m;
    if (s->standby && m->mutating) {
        *msg = chi_cluster_not_primary(s);
        return CH_ENOT_PRIMARY;
    }
    if (s->halted && (m->mutating || !s->reads_ok)) {
        if (m->mutating)
            refused_while_halted(s);
        *msg = !m->mutating ? "the store could not commit and its state could not be rebuilt"
               : s->halt_code == CH_ENOT_PRIMARY
                   ? "not the primary: another chd took this shard's replicated log over "
                     "(reads are served from the state as it was)"
                   : "writes stopped: the store could not commit (reads are served from the "
                     "committed state)";
        return m->mutating && s->halt_code == CH_ENOT_PRIMARY ? CH_ENOT_PRIMARY : CH_EUNAVAILABLE;
    }
    req_ctx r = {.from = from, .q = &q->root, .out = result};
    ch_err e = chi_guard_op(s->guard, chi_op_access(m->op), &r.msg); /* the op's key class */
    if (e == CH_OK)
        e = chi_handlers[m->id](s, &r);
    *msg = r.msg;
    return e;
}

/* A stored JSON result (client order id index) as a binary result. */
static void bin_from_json(ch_server *s, ch_instr_id instr, const cJSON *j, ch_bin_result *r)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "order_id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    r->order_id = cJSON_IsString(id) ? strtoull(id->valuestring, NULL, 10) : 0;
    r->status = CH_STATUS_NEW;
    for (int k = 0; k <= CH_STATUS_REJECTED; k++)
        if (cJSON_IsString(st) && strcmp(st->valuestring, ch_status_name((ch_order_status)k)) == 0)
            r->status = (uint8_t)k;
    r->filled = (int64_t)cJSON_GetObjectItemCaseSensitive(j, "filled_qty")->valuedouble;
    r->remaining = (int64_t)cJSON_GetObjectItemCaseSensitive(j, "remaining_qty")->valuedouble;
    r->n_fills = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "fills"))
    {
        if (r->n_fills == CH_BIN_MAX_FILLS)
            break;
        ch_bin_fill *b = &r->fills[r->n_fills++];
        b->trade_id =
            strtoull(cJSON_GetObjectItemCaseSensitive(f, "trade_id")->valuestring, NULL, 10);
        int64_t t = 0;
        ch_price_from_double(und_of(s, instr),
                             cJSON_GetObjectItemCaseSensitive(f, "price")->valuedouble, &t);
        b->price = t;
        b->qty = (int64_t)cJSON_GetObjectItemCaseSensitive(f, "qty")->valuedouble;
        const char *src = cJSON_GetObjectItemCaseSensitive(f, "source")->valuestring;
        b->source = (uint8_t)(src[0] == 'b'   ? CH_SRC_BOOK
                              : src[0] == 'n' ? CH_SRC_NET
                                              : CH_SRC_POOL);
    }
}

/* One binary order.batch: the same command path as JSON order.new. */
uint8_t *chi_handle_bin(ch_server *s, const chi_origin *from, const uint8_t *body, size_t len,
                        size_t *out_len)
{
    s->requests++;
    ch_bin_batch b = {.orders = s->bin_orders};
    size_t cap = 4096;
    uint8_t *out = malloc(cap);
    if (out == NULL)
        return NULL;
    ch_err e = CH_OK;
    const char *msg = NULL;
    ch_account_id acct = {0};
    if (ch_bin_batch_decode(body, len, &b) != CH_OK) {
        e = CH_EBADREQ;
        msg = "malformed binary order.batch";
    } else if (b.count > s->cfg.max_batch) {
        e = CH_EBADREQ;
        msg = "too many orders in one batch (max_batch, 5000 by default)";
    } else if (s->standby) {
        e = CH_ENOT_PRIMARY;
        msg = chi_cluster_not_primary(s);
    } else if (s->halted) {
        refused_while_halted(s);
        e = s->halt_code == CH_ENOT_PRIMARY ? CH_ENOT_PRIMARY : CH_EUNAVAILABLE;
        msg = e == CH_ENOT_PRIMARY ? "not the primary: another chd took this shard's replicated "
                                     "log over"
                                   : "writes stopped: the store could not commit (reads are "
                                     "served from the committed state)";
    } else if ((e = chi_guard_begin(s->guard, from->pipe, NULL, from->now, &msg)) == CH_OK) {
        bool found = ch_engine_account_find(s->e, b.account, strlen(b.account), &acct) == CH_OK;
        e = chi_guard_binary(s->guard, from->pipe, found, acct, &msg);
    }
    if (e != CH_OK) {
        s->errors++;
        *out_len = ch_bin_reply_error(out, cap, b.id, e, msg);
        return out;
    }
    /* worst case per order: the fixed part and CH_BIN_MAX_FILLS fills */
    cap = 64 + (size_t)b.count * (37 + 25 * (size_t)CH_BIN_MAX_FILLS);
    uint8_t *big = realloc(out, cap);
    if (big == NULL) {
        free(out);
        return NULL;
    }
    out = big;
    ch_bin_writer w;
    ch_bin_reply_begin(&w, out, cap, b.id);
    ch_command c;
    for (uint32_t i = 0; i < b.count; i++) {
        const ch_bin_order *o = &b.orders[i];
        ch_bin_result r;
        memset(&r, 0, offsetof(ch_bin_result, fills)); /* its n_fills fills are written */
        ch_command_reset(&c, CH_C_SUBMIT);
        c.order = (ch_engine_order){.account = acct,
                                    .instr = {o->instr},
                                    .side = (ch_side)o->side,
                                    .type = (ch_ord_type)o->type,
                                    .tif = (ch_tif)o->tif,
                                    .post_only = (o->flags & 1) != 0,
                                    .price = o->price,
                                    .qty = o->qty};
        memcpy(c.client_order_id, o->client_order_id, sizeof c.client_order_id);
        char key[CH_CLIENT_ORDER_ID_MAX + 16];
        const cJSON *first = NULL;
        if (c.client_order_id[0] != '\0') {
            chi_coid_key(key, sizeof key, acct, c.client_order_id);
            first = chi_coid_find(s, key);
        }
        if (first != NULL) { /* a repeat: the original result */
            bin_from_json(s, c.order.instr, first, &r);
            ch_bin_reply_add(&w, &r);
            continue;
        }
        s->n_bin_fills = 0;
        const char *gmsg;
        if ((r.error = (uint16_t)chi_order_guard(s, from, &c, &gmsg)) != CH_OK) {
            ch_bin_reply_add(&w, &r);
            continue;
        }
        cJSON *jf = c.client_order_id[0] != '\0' ? cJSON_CreateArray() : NULL;
        chi_collect k = {.fills = jf, .bin = true};
        ch_command_result res;
        ch_err oe = chi_exec_collect(s, &c, &res, &k);
        if (oe == CH_OK && k.stp && !k.stp_others && res.order.filled == 0 &&
            res.order.status == CH_STATUS_CANCELLED)
            oe = CH_ESELF_TRADE;
        if (oe != CH_OK) {
            r.error = (uint16_t)oe;
            cJSON_Delete(jf);
        } else {
            s->orders++;
            chi_order_rested(s, &c, &res);
            r.order_id = res.order.id.v;
            r.status = (uint8_t)res.order.status;
            r.filled = res.order.filled;
            r.remaining = res.order.remaining;
            r.n_fills =
                (uint16_t)(s->n_bin_fills < CH_BIN_MAX_FILLS ? s->n_bin_fills : CH_BIN_MAX_FILLS);
            if (r.n_fills > 0)
                memcpy(r.fills, s->bin_fills, r.n_fills * sizeof r.fills[0]);
            if (jf != NULL) { /* remembered as for JSON: a resend in either encoding */
                cJSON *o2 = cJSON_CreateObject();
                chi_order_result_json(s, &res.order, o2);
                cJSON_AddItemToObject(o2, "fills", jf);
                chi_coid_put(s, key, o2, true);
                cJSON_Delete(o2);
            }
        }
        ch_bin_reply_add(&w, &r);
    }
    *out_len = ch_bin_reply_end(&w);
    return out;
}

/* The request's key, for the guard (NULL: none, or not a string). */
static const char *key_of(const ch_req *q)
{
    const ch_value *k = ch_fields_get(&q->root, "key");
    return k->kind == CH_V_STR ? k->u.str : NULL;
}

/* One binary message of the table (not the compact order.batch): decoded
 * into its typed request, run by the same handler as JSON's, the result
 * encoded by the same table (owned: free()). */
uint8_t *chi_handle_msg(ch_server *s, const chi_origin *from, const uint8_t *body, size_t len,
                        size_t *out_len)
{
    s->requests++;
    uint64_t id = 0;
    ch_req q;
    cJSON *result = cJSON_CreateObject();
    const char *msg = "malformed binary message";
    ch_err e = ch_req_from_bin(body, len, &id, &q);
    const ch_msg *m = e == CH_OK ? q.m : NULL;
    if (e == CH_ENOMEM) {
        msg = "out of memory";
    } else if (e == CH_OK && len > s->cfg.max_request) {
        e = CH_EBADREQ;
        msg = "request too large";
    } else if (e == CH_OK && result != NULL) {
        e = chi_request_guard(s, from, key_of(&q), &msg); /* the connection's rate and the key */
        if (e == CH_OK)
            e = dispatch(s, from, &q, result, &msg);
    } else if (e == CH_OK) {
        e = CH_ENOMEM;
    }
    uint8_t *out = NULL;
    if (m != NULL) {
        out =
            ch_msg_bin_encode_reply(m, id, e, msg != NULL ? msg : ch_strerror(e), result, out_len);
        if (out == NULL && e == CH_OK) { /* a result outside the table: a bug, said so */
            CH_LOG(CH_LOG_ERROR, "binary_reply_unencodable", "op=%s", m->op);
            e = CH_EUNAVAILABLE;
            out = ch_msg_bin_encode_reply(m, id, e, "reply not encodable", NULL, out_len);
        }
    } else {
        if (e != CH_ENOMEM)
            e = CH_EBADREQ;
        out = malloc(256);
        *out_len = out != NULL ? ch_bin_reply_error(out, 256, id, e, msg) : 0;
    }
    if (e != CH_OK)
        s->errors++;
    if (m != NULL)
        ch_req_free(&q);
    cJSON_Delete(result);
    return out;
}

/* Run the typed request @p q (the guard passed) into @p result. */
static ch_err run_json(ch_server *s, const chi_origin *from, ch_req *q, cJSON *result,
                       const char **msg, bool *mutating)
{
    ch_err e = dispatch(s, from, q, result, msg);
    /* a standby's read: how far behind (state.hash and stats say it their own way) */
    if (e == CH_OK && s->standby && q->m->id != CH_MSG_STATE_HASH && q->m->id != CH_MSG_STATS)
        chi_cluster_staleness(s, result);
    *mutating = q->m->mutating;
    return e;
}

/*
 * Read a JSON request the full way (strict lexer, cJSON, duplicate keys,
 * schema) and run it: what ch_req_from_text did not take, so also every
 * malformed request, whose error this names. The envelope's "id" goes into
 * @p reply first. The tree, *@p tree, outlives the reply's message (which
 * may name what it holds): the caller frees it.
 */
static ch_err handle_tree(ch_server *s, const chi_origin *from, const char *body, size_t len,
                          cJSON *reply, cJSON *result, const char **msg, char *why_buf,
                          bool *mutating, cJSON **tree)
{
    const char *why = NULL;
    cJSON *j = *tree = ch_proto_parse(body, len, s->cfg.max_request, &why);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
    ch_err e = chi_request_guard(s, from, cJSON_IsString(key) ? key->valuestring : NULL, msg);
    if (e != CH_OK) {
        /* refused before anything else: msg says why */
    } else if (j == NULL) {
        e = CH_EBADREQ;
        *msg = why;
    } else {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
        if (id != NULL)
            cJSON_AddItemToObject(reply, "id", cJSON_Duplicate(id, 1));
        const ch_msg *m = cJSON_IsString(op) ? ch_msg_find(op->valuestring) : NULL;
        ch_req q;
        if (!cJSON_IsString(op)) {
            e = CH_EBADREQ;
            *msg = "\"op\" must be a string";
        } else if (m == NULL) {
            e = CH_EUNKNOWN_OP;
            *msg = "unknown op";
        } else if (ch_msg_check_json(m, j, why_buf, CH_PROTO_WHY_MAX) != CH_OK) {
            e = CH_EBADREQ; /* an unknown or mistyped field, named */
            *msg = why_buf;
        } else if ((e = ch_req_from_json(m, j, &q)) == CH_OK) {
            e = run_json(s, from, &q, result, msg, mutating);
            ch_req_free(&q);
        } else {
            *msg = "out of memory";
            *mutating = m->mutating;
        }
    }
    return e;
}

/*
 * Build the reply to one request (text, owned by the caller: free()). A
 * plain request is read straight from its text (ch_req_from_text: no cJSON
 * tree), anything else the full way; both give the same typed request, so
 * the same reply.
 */
char *chi_handle(ch_server *s, const chi_origin *from, const char *body, size_t len, bool *mutating)
{
    s->requests++;
    char schema_why[CH_PROTO_WHY_MAX];
    cJSON *reply = cJSON_CreateObject();
    cJSON *result = cJSON_CreateObject();
    const char *msg = NULL;
    *mutating = false;
    ch_req q = {0}; /* what the reply's message may point into: freed after it */
    cJSON *tree = NULL;
    ch_value id;
    ch_err e;
    if (len > 0 && len <= s->cfg.max_request && ch_req_from_text(body, len, &q, &id) == CH_OK) {
        e = chi_request_guard(s, from, key_of(&q), &msg);
        if (e == CH_OK) {
            if (id.kind != CH_V_ABSENT) /* as cJSON_Duplicate would copy it */
                cJSON_AddItemToObject(reply, "id",
                                      id.kind == CH_V_STR ? cJSON_CreateString(id.u.str)
                                                          : cJSON_CreateNumber(id.u.num));
            e = run_json(s, from, &q, result, &msg, mutating);
        }
    } else {
        e = handle_tree(s, from, body, len, reply, result, &msg, schema_why, mutating, &tree);
    }
    if (e == CH_OK) {
        cJSON_AddBoolToObject(reply, "ok", 1);
        move_fields(reply, result);
    } else {
        s->errors++;
        cJSON_AddBoolToObject(reply, "ok", 0);
        cJSON *eo = cJSON_AddObjectToObject(reply, "error");
        cJSON_AddStringToObject(eo, "code", ch_errwire(e));
        cJSON_AddStringToObject(eo, "message", msg != NULL ? msg : ch_strerror(e));
        if (e == CH_ENOT_PRIMARY && s->primary_url[0] != '\0') /* PROTOCOL.md 1.1 */
            cJSON_AddStringToObject(eo, "primary", s->primary_url);
    }
    cJSON_Delete(result);
    ch_req_free(&q);
    cJSON_Delete(tree);
    ch_proto_fix_utf8(reply); /* strings from an older log may hold invalid UTF-8 */
    char *text = ch_json_print(reply);
    cJSON_Delete(reply);
    return text;
}

/* The reply to a request of a batch that could not be committed: the
 * request's id (taken from the reply it would have had) and UNAVAILABLE. */
char *chi_unavailable_reply(ch_server *s, const char *would_have, ch_err code)
{
    cJSON *was = would_have != NULL ? cJSON_Parse(would_have) : NULL;
    cJSON *o = cJSON_CreateObject();
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(was, "id");
    if (id != NULL)
        cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
    cJSON_AddBoolToObject(o, "ok", 0);
    cJSON *eo = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(eo, "code", ch_errwire(code));
    cJSON_AddStringToObject(eo, "message",
                            code == CH_ENOT_PRIMARY
                                ? "not the primary: another chd took this shard's replicated log "
                                  "over; this batch was not stored"
                                : "the store could not commit: intake stopped");
    if (code == CH_ENOT_PRIMARY && s->primary_url[0] != '\0')
        cJSON_AddStringToObject(eo, "primary", s->primary_url);
    char *text = ch_json_print(o);
    cJSON_Delete(o);
    cJSON_Delete(was);
    return text;
}
