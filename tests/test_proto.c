/* test_proto.c - the JSON request rules, the compact binary order.batch, and
 * the message table: every message round-trips through both codecs. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"
#include "ch/proto_bin.h"
#include "ch/proto_msg.h"
#include "ch/proto_req.h"
#include "ch_check.h"
#include "proto_samples.h"
#include "req_same.h"

static cJSON *parse(const char *s)
{
    const char *why = NULL;
    return ch_proto_parse(s, strlen(s), 1 << 20, &why);
}

START_TEST(json_limits)
{
    const char *why = NULL;
    ck_assert_ptr_null(ch_proto_parse("", 0, 100, &why));
    ck_assert_ptr_null(ch_proto_parse("{\"a\":1}", 7, 5, &why));
    ck_assert_str_eq(why, "request too large");
    ck_assert_ptr_null(parse("[1]"));
    ck_assert_ptr_null(parse("not json"));
    ck_assert_ptr_null(parse("{\"op\":\"hello\"} x"));
    cJSON *ok = parse("{\"op\":\"hello\"}  \n");
    ck_assert_ptr_nonnull(ok);
    cJSON_Delete(ok);
    char deep[200];
    strcpy(deep, "{\"a\":");
    for (int i = 0; i < 20; i++)
        strcat(deep, "[");
    for (int i = 0; i < 20; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    ck_assert_ptr_null(parse(deep));
    ck_assert_str_eq(why, "request too large"); /* unchanged: why set only on failure above */
    /* an unterminated body (as from NNG) is parsed within its length only */
    const char body[] = "{\"op\":\"x\"}GARBAGE";
    cJSON *j = ch_proto_parse(body, 10, 100, &why);
    ck_assert_ptr_nonnull(j);
    cJSON_Delete(j);
}
END_TEST

/* The value of member @p k of @p j as the field readers take it (valid
 * until the next call). */
static const ch_value *V(const cJSON *j, const char *k)
{
    static ch_value slot;
    slot = ch_value_of_json(cJSON_GetObjectItemCaseSensitive(j, k));
    return &slot;
}

START_TEST(json_fields)
{
    cJSON *j = parse("{\"qty\":3,\"q2\":1.5,\"q3\":-1,\"q4\":\"3\",\"s\":\"abc\",\"e\":\"\","
                     "\"p\":1234.5,\"ps\":\"1234.5\",\"pb\":1234.25,\"b\":true,\"n\":\"7\","
                     "\"id\":\"18446744073709551615\",\"idn\":12,\"t\":\"2026-11-25T08:00:00.5Z\","
                     "\"tn\":1000,\"tb\":\"2026-02-30T00:00:00Z\",\"inf\":1e999}");
    ck_assert_ptr_nonnull(j);
    int64_t q = 0;
    ck_assert_int_eq(ch_proto_qty(V(j, "qty"), true, &q), CH_OK);
    ck_assert_int_eq(q, 3);
    ck_assert_int_eq(ch_proto_qty(V(j, "q2"), true, &q), CH_EBADQTY);
    ck_assert_int_eq(ch_proto_qty(V(j, "q3"), true, &q), CH_EBADQTY);
    ck_assert_int_eq(ch_proto_qty(V(j, "q4"), true, &q), CH_EBADQTY);
    ck_assert_int_eq(ch_proto_qty(V(j, "missing"), true, &q), CH_EBADREQ);
    ck_assert_int_eq(ch_proto_qty(V(j, "missing"), false, &q), CH_OK);
    char s[8];
    ck_assert_int_eq(ch_proto_string(V(j, "s"), true, s, sizeof s), CH_OK);
    ck_assert_str_eq(s, "abc");
    ck_assert_int_eq(ch_proto_string(V(j, "e"), true, s, sizeof s), CH_EBADREQ);
    ck_assert_int_eq(ch_proto_string(V(j, "qty"), true, s, sizeof s), CH_EBADREQ);
    ck_assert_int_eq(ch_proto_string(V(j, "s"), true, s, 3), CH_EBADREQ);
    ch_underlying_config u = {
        .name = "BTC", .contract_size = 1, .min_price = 1, .max_price = 1000000};
    ch_tick_parse("0.5", 3, &u);
    int64_t t;
    bool has;
    ck_assert_int_eq(ch_proto_price(V(j, "p"), &u, true, &t, &has), CH_OK);
    ck_assert_int_eq(t, 2469);
    ck_assert_int_eq(ch_proto_price(V(j, "ps"), &u, true, &t, &has), CH_OK);
    ck_assert_int_eq(t, 2469);
    ck_assert_int_eq(ch_proto_price(V(j, "pb"), &u, true, &t, &has), CH_EBADPRICE);
    ck_assert_int_eq(ch_proto_price(V(j, "b"), &u, true, &t, &has), CH_EBADPRICE);
    ck_assert_int_eq(ch_proto_price(V(j, "none"), &u, true, &t, &has), CH_EBADREQ);
    ck_assert(!has);
    bool bv;
    ck_assert_int_eq(ch_proto_bool(V(j, "b"), false, &bv), CH_OK);
    ck_assert(bv);
    ck_assert_int_eq(ch_proto_bool(V(j, "s"), false, &bv), CH_EBADREQ);
    double d;
    ck_assert_int_eq(ch_proto_number(V(j, "n"), true, &d, NULL), CH_OK);
    ck_assert_double_eq(d, 7);
    ck_assert_int_eq(ch_proto_number(V(j, "s"), true, &d, NULL), CH_EBADREQ);
    ck_assert_int_eq(ch_proto_number(V(j, "inf"), true, &d, NULL), CH_EBADREQ);
    ch_order_id id;
    ck_assert_int_eq(ch_proto_order_id(V(j, "id"), &id), CH_OK);
    ck_assert_uint_eq(id.v, UINT64_MAX);
    ck_assert_int_eq(ch_proto_order_id(V(j, "idn"), &id), CH_OK);
    ck_assert_uint_eq(id.v, 12);
    ck_assert_int_eq(ch_proto_order_id(V(j, "s"), &id), CH_EUNKNOWN_ORDER);
    ch_time tm;
    ck_assert_int_eq(ch_proto_time(V(j, "t"), &tm, &has), CH_OK);
    ch_time day;
    ch_date_to_time(2026, 11, 25, &day);
    ck_assert_int_eq(tm, day + 8 * 3600 * CH_NS_PER_SEC + CH_NS_PER_SEC / 2);
    char txt[40];
    ch_proto_format_time(tm, txt, sizeof txt);
    ck_assert_str_eq(txt, "2026-11-25T08:00:00.500Z");
    ck_assert_int_eq(ch_proto_time(V(j, "tn"), &tm, &has), CH_OK);
    ck_assert_int_eq(tm, 1000);
    ck_assert_int_eq(ch_proto_time(V(j, "tb"), &tm, &has), CH_EBADREQ);
    cJSON_Delete(j);
    /* digits where digits stand: no sign, no space, no short field */
    static const char *const bad_times[] = {"+026-11-25T08:00:00Z",
                                            "2026-+1-25T08:00:00Z",
                                            "2026-11- 5T08:00:00Z",
                                            "2026-11-25T 8:00:00Z",
                                            "2026-11-25T08:-1:00Z",
                                            "2026-11-25T08:00:6Z",
                                            "2026-11-25T08:00",
                                            "2026-11-25",
                                            "2026-02-30T08:00:00Z",
                                            "2026-11-25T24:00:00Z",
                                            "2026-11-25 08:00:00Z",
                                            "9999-11-25T08:00:00Z",
                                            ""};
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "t", bad_times[i]);
        ck_assert_msg(ch_proto_time(V(o, "t"), &tm, &has) == CH_EBADREQ, "accepted %s",
                      bad_times[i]);
        cJSON_Delete(o);
    }
    ch_time d2;
    ck_assert_int_eq(ch_date_parse("2026-11-25", &d2), CH_OK);
    ck_assert_int_eq(d2, day);
    ck_assert_int_eq(ch_date_parse("2026-11-2", &d2), CH_EBADDATE);
    ck_assert_int_eq(ch_date_parse("-026-11-25", &d2), CH_EBADDATE);
    ck_assert_int_eq(ch_date_parse("2261-12-31", &d2), CH_OK); /* ch_time's last year */
    ck_assert_int_eq(ch_date_parse("2262-01-01", &d2), CH_EBADDATE);
}
END_TEST

START_TEST(binary_round_trips)
{
    ch_bin_order *orders = calloc(CH_BIN_MAX_ORDERS, sizeof *orders);
    ch_bin_order *back_o = calloc(CH_BIN_MAX_ORDERS, sizeof *back_o);
    ch_bin_batch b = {.id = 0x1122334455667788ull, .count = 3, .orders = orders};
    strcpy(b.account, "alice");
    orders[0] = (ch_bin_order){.instr = 7, .side = 0, .type = 0, .tif = 1, .qty = 5, .price = 1234};
    orders[1] = (ch_bin_order){
        .instr = 8, .side = 1, .type = 1, .tif = 2, .flags = 0, .qty = 1, .price = 0};
    orders[2] =
        (ch_bin_order){.instr = 9, .side = 0, .flags = 1, .qty = INT64_C(1) << 40, .price = -1};
    strcpy(orders[2].client_order_id, "coid-xyz");
    uint8_t buf[4096];
    size_t n = ch_bin_batch_encode(&b, buf, sizeof buf);
    ck_assert_uint_gt(n, 0);
    ck_assert(ch_bin_is_binary(buf, n));
    ck_assert(!ch_bin_is_binary("{\"op\"", 5));
    ch_bin_batch back = {.orders = back_o};
    ck_assert_int_eq(ch_bin_batch_decode(buf, n, &back), CH_OK);
    ck_assert_uint_eq(back.id, b.id);
    ck_assert_str_eq(back.account, "alice");
    ck_assert_uint_eq(back.count, 3);
    ck_assert_int_eq(memcmp(orders, back_o, 3 * sizeof *orders), 0);
    for (size_t cut = 0; cut < n; cut++)
        ck_assert_int_eq(ch_bin_batch_decode(buf, cut, &back), CH_EBADREQ);
    /* issue 15, item 6: undefined flag bits are refused (0xFF made an order post-only) */
    uint8_t flags_bad[] = {0x02, 0x80, 0xFF};
    for (size_t i = 0; i < sizeof flags_bad; i++) {
        orders[1].flags = flags_bad[i];
        size_t m = ch_bin_batch_encode(&b, buf, sizeof buf);
        ck_assert_uint_gt(m, 0);
        ck_assert_int_eq(ch_bin_batch_decode(buf, m, &back), CH_EBADREQ);
    }
    orders[1].flags = 0;
    n = ch_bin_batch_encode(&b, buf, sizeof buf);
    ck_assert_int_eq(ch_bin_batch_decode(buf, n, &back), CH_OK);
    buf[2] = 9; /* version */
    ck_assert_int_eq(ch_bin_batch_decode(buf, n, &back), CH_EBADREQ);
    b.count = 0;
    ck_assert_uint_eq(ch_bin_batch_encode(&b, buf, sizeof buf), 0);
    /* replies */
    ch_bin_result r[2];
    memset(r, 0, sizeof r);
    r[0] = (ch_bin_result){.order_id = 99, .status = 2, .filled = 5, .remaining = 0, .n_fills = 2};
    r[0].fills[0] = (ch_bin_fill){.trade_id = 1, .price = 1234, .qty = 3, .source = 1};
    r[0].fills[1] = (ch_bin_fill){.trade_id = 2, .price = 1235, .qty = 2, .source = 2};
    r[1] = (ch_bin_result){.error = CH_EBADQTY};
    ch_bin_writer w;
    ch_bin_reply_begin(&w, buf, sizeof buf, 42);
    ch_bin_reply_add(&w, &r[0]);
    ch_bin_reply_add(&w, &r[1]);
    n = ch_bin_reply_end(&w);
    ck_assert_uint_gt(n, 0);
    ch_bin_result got[2];
    uint64_t id;
    uint16_t err;
    uint32_t count;
    ck_assert_int_eq(ch_bin_reply_decode(buf, n, &id, &err, got, 2, &count), CH_OK);
    ck_assert_uint_eq(id, 42);
    ck_assert_uint_eq(err, 0);
    ck_assert_uint_eq(count, 2);
    ck_assert_uint_eq(got[0].order_id, 99);
    ck_assert_uint_eq(got[0].n_fills, 2);
    ck_assert_int_eq(got[0].fills[1].price, 1235);
    ck_assert_uint_eq(got[0].fills[0].source, 1);
    ck_assert_uint_eq(got[1].error, CH_EBADQTY);
    for (size_t cut = 0; cut < n; cut++)
        ck_assert_int_eq(ch_bin_reply_decode(buf, cut, &id, &err, got, 2, &count), CH_EBADREQ);
    ck_assert_int_eq(ch_bin_reply_decode(buf, n, &id, &err, got, 1, &count), CH_EBADREQ);
    n = ch_bin_reply_error(buf, sizeof buf, 7, CH_EUNAUTHORIZED, "no");
    ck_assert_int_eq(ch_bin_reply_decode(buf, n, &id, &err, got, 2, &count), CH_OK);
    ck_assert_uint_eq(err, CH_EUNAUTHORIZED);
    ck_assert_uint_eq(count, 0);
    /* a small buffer is refused, never overrun */
    ch_bin_reply_begin(&w, buf, 20, 1);
    ch_bin_reply_add(&w, &r[0]);
    ck_assert_uint_eq(ch_bin_reply_end(&w), 0);
    free(orders);
    free(back_o);
}
END_TEST

/* Optionally write an encoded message into the fuzz corpus (CH_WRITE_CORPUS=dir). */
static void corpus_out(const char *op, const char *kind, const uint8_t *b, size_t n)
{
    const char *dir = getenv("CH_WRITE_CORPUS");
    if (dir == NULL)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/msg-%s-%s", dir, op, kind);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* JSON: text -> tree -> text -> tree is the same object. */
static void json_round_trip(const char *text)
{
    cJSON *a = parse(text);
    ck_assert_msg(a != NULL, "sample is not JSON: %s", text);
    char *again = cJSON_PrintUnformatted(a);
    cJSON *b = parse(again);
    ck_assert_ptr_nonnull(b);
    ck_assert(cJSON_Compare(a, b, true));
    cJSON_free(again);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* Every cut of an encoded message is refused, and so is a changed version. */
static void check_cuts(uint8_t *buf, size_t n, bool reply)
{
    const ch_msg *m;
    uint64_t id;
    cJSON *j;
    ch_err e;
    char *text;
    for (size_t cut = 0; cut < n; cut++) {
        if (reply)
            ck_assert_int_eq(ch_msg_bin_decode_reply(buf, cut, &m, &id, &e, &text, &j), CH_EBADREQ);
        else
            ck_assert_int_eq(ch_msg_bin_decode_request(buf, cut, &m, &id, &j), CH_EBADREQ);
    }
    buf[2]++;
    if (reply)
        ck_assert_int_eq(ch_msg_bin_decode_reply(buf, n, &m, &id, &e, &text, &j), CH_EBADREQ);
    else
        ck_assert_int_eq(ch_msg_bin_decode_request(buf, n, &m, &id, &j), CH_EBADREQ);
    buf[2]--;
}

START_TEST(msg_round_trips)
{
    for (int k = 0; k < CH_MSG_COUNT; k++) {
        const ch_msg *m = ch_msg_get((ch_msg_id)k);
        ck_assert_ptr_nonnull(m);
        ck_assert_ptr_eq(ch_msg_find(m->op), m);
        ck_assert_ptr_eq(ch_msg_by_code(m->code), m);
        ck_assert_uint_ne(m->code, CH_BIN_OP_BATCH);
        ck_assert_uint_lt(m->code, CH_MSG_REPLY);
        const struct sample *smp = sample_of(m->op);
        ck_assert_msg(smp != NULL, "no sample for %s", m->op);
        json_round_trip(smp->req);
        json_round_trip(smp->rep);
        /* binary request: the tree comes back with "op" added */
        cJSON *req = parse(smp->req);
        size_t n = 0;
        uint8_t *b = ch_msg_bin_encode_request(m, 0xfeedbeef00000000ull + (uint64_t)k, req, &n);
        ck_assert_msg(b != NULL, "request of %s does not encode", m->op);
        ck_assert(ch_bin_is_binary(b, n));
        corpus_out(m->op, "req", b, n);
        const ch_msg *got = NULL;
        uint64_t id = 0;
        cJSON *back = NULL;
        ck_assert_int_eq(ch_msg_bin_decode_request(b, n, &got, &id, &back), CH_OK);
        ck_assert_ptr_eq(got, m);
        ck_assert_uint_eq(id, 0xfeedbeef00000000ull + (uint64_t)k);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(back, "op")->valuestring, m->op);
        /* both forms of the request pass the schema check of JSON requests */
        char why[CH_PROTO_WHY_MAX] = "";
        ck_assert_msg(ch_msg_check_json(m, req, why, sizeof why) == CH_OK, "%s: %s", m->op, why);
        ck_assert_msg(ch_msg_check_json(m, back, why, sizeof why) == CH_OK, "%s: %s", m->op, why);
        cJSON_DeleteItemFromObjectCaseSensitive(back, "op");
        ck_assert_msg(cJSON_Compare(req, back, true), "request of %s changed", m->op);
        /* the handlers' view: the same typed request from either encoding */
        ch_req qj, qb;
        ck_assert_int_eq(ch_req_from_json(m, req, &qj), CH_OK);
        ck_assert_int_eq(ch_req_from_bin(b, n, &id, &qb), CH_OK);
        ck_assert_ptr_eq(qb.m, m);
        ck_assert_msg(same_fields(&qj.root, &qb.root), "typed request of %s differs", m->op);
        ch_req_free(&qj);
        ch_req_free(&qb);
        check_cuts(b, n, false);
        free(b);
        cJSON_Delete(back);
        cJSON_Delete(req);
        /* binary reply, ok and error */
        cJSON *rep = parse(smp->rep);
        b = ch_msg_bin_encode_reply(m, 42, CH_OK, NULL, rep, &n);
        ck_assert_msg(b != NULL, "reply of %s does not encode", m->op);
        corpus_out(m->op, "rep", b, n);
        ch_err e = CH_EIO;
        char *text = NULL;
        ck_assert_int_eq(ch_msg_bin_decode_reply(b, n, &got, &id, &e, &text, &back), CH_OK);
        ck_assert_ptr_eq(got, m);
        ck_assert_int_eq(e, CH_OK);
        ck_assert_ptr_null(text);
        ck_assert_msg(cJSON_Compare(rep, back, true), "reply of %s changed", m->op);
        check_cuts(b, n, true);
        free(b);
        cJSON_Delete(back);
        cJSON_Delete(rep);
        b = ch_msg_bin_encode_reply(m, 43, CH_EBADQTY, "no such qty", NULL, &n);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(ch_msg_bin_decode_reply(b, n, &got, &id, &e, &text, &back), CH_OK);
        ck_assert_int_eq(e, CH_EBADQTY);
        ck_assert_uint_eq(id, 43);
        ck_assert_str_eq(text, "no such qty");
        ck_assert_ptr_null(back);
        free(text);
        free(b);
    }
}
END_TEST

/* The reply @p json to @p op, with @p k bytes at @p at replaced by @p bytes, is refused. */
static void reply_refused(const char *op, const char *json, size_t at, const void *bytes, size_t k)
{
    cJSON *j = parse(json);
    size_t n = 0;
    uint8_t *b = ch_msg_bin_encode_reply(ch_msg_find(op), 1, CH_OK, NULL, j, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_le(at + k, n);
    memcpy(b + at, bytes, k);
    const ch_msg *m;
    uint64_t id;
    ch_err e;
    char *text;
    cJSON *back;
    ck_assert_int_eq(ch_msg_bin_decode_reply(b, n, &m, &id, &e, &text, &back), CH_EBADREQ);
    free(b);
    cJSON_Delete(j);
}

/* What the binary encoder refuses, and what the decoder refuses beyond cuts. */
START_TEST(msg_refusals)
{
    const ch_msg *on = ch_msg_find("order.new");
    ck_assert_ptr_nonnull(on);
    ck_assert_ptr_null(ch_msg_find("order.nope"));
    ck_assert_ptr_null(ch_msg_by_code(CH_BIN_OP_BATCH));
    size_t n;
    static const char *const bad[] = {
        "{\"symbol\":\"S\",\"side\":\"buy\",\"qty\":1}",                     /* no account */
        "{\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy\",\"qty\":1.5}", /* qty not integral */
        "{\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy\",\"qty\":\"1\"}", /* qty a string */
        "{\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy\",\"qty\":1,\"price\":true}",
        "{\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy\",\"qty\":1,\"post_only\":1}",
        "{\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy\",\"qty\":1e16}",   /* beyond 2^53 */
        "{\"account\":\"a\",\"symbol\":null,\"side\":\"buy\",\"qty\":1}",       /* null */
        "{\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy!!!!!\",\"qty\":1}", /* too long */
        ("{\"account\":\"0123456789012345678901234567890123\",\"symbol\":\"S\",\"side\":"
         "\"buy\",\"qty\":1}"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = parse(bad[i]);
        ck_assert_ptr_nonnull(j);
        ck_assert_msg(ch_msg_bin_encode_request(on, 1, j, &n) == NULL, "encoded: %s", bad[i]);
        cJSON_Delete(j);
    }
    /* a batch's refusals name the order by its place in the list */
    const ch_msg *obatch = ch_msg_find("order.batch");
    ck_assert_ptr_nonnull(obatch);
    char why[CH_PROTO_WHY_MAX];
    static const char *const batch_bad[][2] = {
        {"{\"op\":\"order.batch\",\"account\":\"a\",\"orders\":[{\"symbol\":\"S\",\"side\":"
         "\"buy\",\"qty\":1},{},{},{},{},{},{},{},{},{},{},{},7]}",
         "\"orders[12]\" must be an object"},
        {"{\"op\":\"order.batch\",\"account\":\"a\",\"orders\":[{},{},{},{\"qty\":\"1\"}]}",
         "field \"orders[3].qty\" must be"},
        {"{\"op\":\"order.batch\",\"account\":\"a\",\"orders\":[{\"nope\":1}]}",
         "unknown field \"orders[0].nope\""},
    };
    for (size_t i = 0; i < sizeof batch_bad / sizeof batch_bad[0]; i++) {
        cJSON *j = parse(batch_bad[i][0]);
        ck_assert_ptr_nonnull(j);
        ck_assert_int_eq(ch_msg_check_json(obatch, j, why, sizeof why), CH_EBADREQ);
        ck_assert_msg(strstr(why, batch_bad[i][1]) != NULL, "%s: %s", batch_bad[i][0], why);
        cJSON_Delete(j);
    }
    /* order ids: only canonical decimal text within 64 bits */
    const ch_msg *oc = ch_msg_find("order.cancel");
    static const char *const ids[] = {"\"007\"", "\"\"", "\"12a\"", "\"18446744073709551616\"",
                                      "-1",      "1.5"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char t[128];
        snprintf(t, sizeof t, "{\"account\":\"a\",\"order_id\":%s}", ids[i]);
        cJSON *j = parse(t);
        ck_assert_msg(ch_msg_bin_encode_request(oc, 1, j, &n) == NULL, "encoded: %s", t);
        cJSON_Delete(j);
    }
    /* a number order id travels as its decimal text */
    cJSON *j = parse("{\"account\":\"a\",\"order_id\":12}");
    uint8_t *b = ch_msg_bin_encode_request(oc, 1, j, &n);
    ck_assert_ptr_nonnull(b);
    const ch_msg *m;
    uint64_t id;
    cJSON *back;
    ck_assert_int_eq(ch_msg_bin_decode_request(b, n, &m, &id, &back), CH_OK);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(back, "order_id")->valuestring, "12");
    cJSON_Delete(back);
    /* trailing bytes, unused state bits, a NaN, a bool that is not 0/1 */
    uint8_t big[256];
    memcpy(big, b, n);
    big[n] = 0;
    ck_assert_int_eq(ch_msg_bin_decode_request(big, n + 1, &m, &id, &back), CH_EBADREQ);
    size_t state_at = 12;
    big[state_at + 7] |= 0x80; /* field 31's state */
    ck_assert_int_eq(ch_msg_bin_decode_request(big, n, &m, &id, &back), CH_EBADREQ);
    free(b);
    cJSON_Delete(j);
    double nan = NAN;
    reply_refused("quote", "{\"price\":1,\"model\":2}", 12 + 2 + 8, &nan,
                  8); /* after header, error, state */
    reply_refused("stats", "{\"halted\":true}", 12 + 2 + 8, "\2", 1); /* a bool of 2 */
    const ch_msg *st = ch_msg_find("stats");
    ch_err e;
    char *text;
    /* a reply field of the wrong type does not encode; unknown fields are left out */
    j = parse("{\"halted\":1}");
    ck_assert_ptr_null(ch_msg_bin_encode_reply(st, 1, CH_OK, NULL, j, &n));
    cJSON_Delete(j);
    j = parse("{\"halted\":false,\"extra\":[1,2]}");
    b = ch_msg_bin_encode_reply(st, 1, CH_OK, NULL, j, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(ch_msg_bin_decode_reply(b, n, &m, &id, &e, &text, &back), CH_OK);
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(back, "extra"));
    cJSON_Delete(back);
    free(b);
    cJSON_Delete(j);
    /* a string that is not UTF-8 is refused, as in JSON (the encoder does not look) */
    static const char *const bad_utf8[] = {"a\xff", "\xed\xa0\x80", "\xc0\xaf", "x\xe2\x82"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        j = parse("{\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy\",\"qty\":1}");
        cJSON_AddStringToObject(j, "client_order_id", bad_utf8[i]);
        b = ch_msg_bin_encode_request(on, 1, j, &n);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(ch_msg_bin_decode_request(b, n, &m, &id, &back), CH_EBADREQ);
        free(b);
        cJSON_ReplaceItemInObjectCaseSensitive(j, "client_order_id",
                                               cJSON_CreateString("ok\xC3\xA9"));
        b = ch_msg_bin_encode_request(on, 1, j, &n);
        ck_assert_int_eq(ch_msg_bin_decode_request(b, n, &m, &id, &back), CH_OK);
        cJSON_Delete(back);
        free(b);
        cJSON_Delete(j);
    }
    /* a count beyond the bytes left is refused before anything is built */
    const ch_msg *ob = ch_msg_find("order.batch");
    j = parse("{\"orders\":[]}");
    b = ch_msg_bin_encode_request(ob, 1, j, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(n, 12 + 8 + 4);
    b[n - 3] = 0x10; /* 4096 orders announced, none there */
    ck_assert_int_eq(ch_msg_bin_decode_request(b, n, &m, &id, &back), CH_EBADREQ);
    free(b);
    cJSON_Delete(j);
}
END_TEST

/* ---- ch_json_print against cJSON_PrintUnformatted -------------------------- */

static uint64_t print_rng = 88172645463325252ull;
static uint64_t print_rnd(void)
{
    return ch_xorshift64(&print_rng);
}

/* A number of the kinds replies carry and of the edges of both printers'
 * paths: small and 64-bit integers, the 1e15 and 2^53 edges, prices with
 * cents, values that need 17 digits, tiny and huge ones, zeros, NaN, inf. */
static double print_number_of(void)
{
    static const double edges[] = {0.0,
                                   -0.0,
                                   1.0,
                                   -1.0,
                                   2147483647.0,
                                   2147483648.0,
                                   -2147483648.0,
                                   -2147483649.0,
                                   999999999999999.0,
                                   -999999999999999.0,
                                   1e15,
                                   -1e15,
                                   1e15 + 1,
                                   9007199254740992.0,
                                   9223372036854775807.0,
                                   -9223372036854775808.0,
                                   1e300,
                                   -1e-300,
                                   4.9e-324,
                                   1.7976931348623157e308,
                                   0.1,
                                   0.3,
                                   1.0 / 3.0,
                                   2.0 / 3.0,
                                   123456.789,
                                   1e-7,
                                   5e-5};
    uint64_t r = print_rnd();
    switch (r % 9) {
    case 0:
        return edges[(r >> 8) % (sizeof edges / sizeof edges[0])];
    case 1:
        return (double)(int64_t)(print_rnd() % 2000001) - 1000000.0;
    case 2:
        return (double)(int64_t)print_rnd(); /* any 64-bit integer */
    case 3:
        return (double)(print_rnd() >> (r >> 8) % 64); /* every magnitude */
    case 4:
        return (double)(int64_t)(print_rnd() % 10000000) / 100.0; /* cents */
    case 5:
        return ldexp((double)(print_rnd() >> 11), (int)((r >> 8) % 200) - 100);
    case 6: {
        uint64_t bits = print_rnd(); /* any double, NaN and inf included */
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    case 7:
        return (r >> 8) % 2 ? NAN : ((r >> 9) % 2 ? INFINITY : -INFINITY);
    default:
        return (double)(print_rnd() % 1000000) * 1e-6 * ((r >> 8) % 2 ? 1 : -1);
    }
}

/* Bytes of every class: plain, quote and backslash, each control byte,
 * DEL, UTF-8 and stray high bytes. */
static void print_string_of(char *buf, size_t cap)
{
    size_t n = print_rnd() % (cap - 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = print_rnd();
        switch (r % 6) {
        case 0:
            buf[i] = (char)(1 + (r >> 8) % 31);
            break; /* control bytes */
        case 1:
            buf[i] = "\"\\/\b\f\n\r\t"[(r >> 8) % 8];
            break;
        case 2:
            buf[i] = (char)(0x80 + (r >> 8) % 128);
            break;
        case 3:
            buf[i] = 0x7f;
            break;
        default:
            buf[i] = (char)(' ' + (r >> 8) % 95);
            break;
        }
    }
    buf[n] = '\0';
}

static cJSON *print_tree(int depth)
{
    char s[40];
    uint64_t r = print_rnd();
    int kind = depth >= 4 ? (int)(r % 6) : (int)(r % 8);
    switch (kind) {
    case 0:
        return cJSON_CreateNull();
    case 1:
        return cJSON_CreateBool((r >> 8) % 2);
    case 2:
    case 3:
        return cJSON_CreateNumber(print_number_of());
    case 4:
        print_string_of(s, sizeof s);
        return cJSON_CreateString(s);
    case 5:
        return cJSON_CreateRaw((r >> 8) % 2 ? "{\"raw\":[1,2]}" : "-0.5e+3");
    case 6: {
        cJSON *a = cJSON_CreateArray();
        for (uint64_t k = (r >> 8) % 5; k > 0; k--)
            cJSON_AddItemToArray(a, print_tree(depth + 1));
        return a;
    }
    default: {
        cJSON *o = cJSON_CreateObject();
        for (uint64_t k = (r >> 8) % 6; k > 0; k--) {
            print_string_of(s, 12);
            cJSON_AddItemToObject(o, s, print_tree(depth + 1));
        }
        return o;
    }
    }
}

static void print_same(const cJSON *t)
{
    char *want = cJSON_PrintUnformatted(t), *got = ch_json_print(t);
    if (want == NULL)
        ck_assert_ptr_null(got);
    else
        ck_assert_msg(got != NULL && strcmp(want, got) == 0, "cJSON: %s\nours:  %s", want,
                      got != NULL ? got : "(null)");
    cJSON_free(want);
    cJSON_free(got);
}

START_TEST(json_print_as_cjson)
{
    /* every edge number alone, then random trees */
    for (int k = 0; k < 2000; k++) {
        cJSON *n = cJSON_CreateNumber(print_number_of());
        print_same(n);
        cJSON_Delete(n);
    }
    for (int k = 0; k < 20000; k++) {
        cJSON *t = print_tree(0);
        print_same(t);
        cJSON_Delete(t);
    }
    /* the edges by name: what a reply prints, and where cJSON fails */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "price", 1234.5);
    cJSON_AddNumberToObject(o, "qty", 3);
    cJSON_AddStringToObject(o, "order_id", "18446744073709551615");
    cJSON_AddNumberToObject(o, "time", 1764979200123456789.0);
    cJSON_AddNumberToObject(o, "neg_zero", -0.0);
    cJSON_AddItemToObject(o, "empty", cJSON_CreateArray());
    cJSON_AddItemToObject(o, "nested", cJSON_CreateObject());
    print_same(o);
    char *text = ch_json_print(o);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "\"price\":1234.5,\"qty\":3,"));
    cJSON_free(text);
    cJSON *raw = cJSON_CreateRaw("1");
    cJSON_free(raw->valuestring);
    raw->valuestring = NULL; /* cJSON fails on it: so do we */
    cJSON_AddItemToObject(o, "raw", raw);
    print_same(o);
    ck_assert_ptr_null(ch_json_print(o));
    cJSON *s = cJSON_CreateString("x");
    cJSON_free(s->valuestring);
    s->valuestring = NULL; /* a string without text prints "" in both */
    print_same(s);
    s->type = 1 << 12; /* no known type: both fail */
    print_same(s);
    cJSON_Delete(s);
    cJSON_Delete(o);
    ck_assert_ptr_null(ch_json_print(NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto");
    TCase *tc = tcase_create("codecs");
    tcase_add_test(tc, json_limits);
    tcase_add_test(tc, json_fields);
    tcase_add_test(tc, binary_round_trips);
    tcase_add_test(tc, msg_round_trips);
    tcase_add_test(tc, msg_refusals);
    tcase_add_test(tc, json_print_as_cjson);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
