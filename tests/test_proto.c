/* test_proto.c - the JSON request rules and the binary order.batch codec. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"
#include "ch/proto_bin.h"
#include "ch_check.h"

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

START_TEST(json_fields)
{
    cJSON *j = parse("{\"qty\":3,\"q2\":1.5,\"q3\":-1,\"q4\":\"3\",\"s\":\"abc\",\"e\":\"\","
                     "\"p\":1234.5,\"ps\":\"1234.5\",\"pb\":1234.25,\"b\":true,\"n\":\"7\","
                     "\"id\":\"18446744073709551615\",\"idn\":12,\"t\":\"2026-11-25T08:00:00.5Z\","
                     "\"tn\":1000,\"tb\":\"2026-02-30T00:00:00Z\",\"inf\":1e999}");
    ck_assert_ptr_nonnull(j);
    int64_t q = 0;
    ck_assert_int_eq(ch_proto_qty(j, "qty", true, &q), CH_OK);
    ck_assert_int_eq(q, 3);
    ck_assert_int_eq(ch_proto_qty(j, "q2", true, &q), CH_EBADQTY);
    ck_assert_int_eq(ch_proto_qty(j, "q3", true, &q), CH_EBADQTY);
    ck_assert_int_eq(ch_proto_qty(j, "q4", true, &q), CH_EBADQTY);
    ck_assert_int_eq(ch_proto_qty(j, "missing", true, &q), CH_EBADREQ);
    ck_assert_int_eq(ch_proto_qty(j, "missing", false, &q), CH_OK);
    char s[8];
    ck_assert_int_eq(ch_proto_string(j, "s", true, s, sizeof s), CH_OK);
    ck_assert_str_eq(s, "abc");
    ck_assert_int_eq(ch_proto_string(j, "e", true, s, sizeof s), CH_EBADREQ);
    ck_assert_int_eq(ch_proto_string(j, "qty", true, s, sizeof s), CH_EBADREQ);
    ck_assert_int_eq(ch_proto_string(j, "s", true, s, 3), CH_EBADREQ);
    ch_underlying_config u = {.name = "BTC", .contract_size = 1, .min_price = 1, .max_price = 1000000};
    ch_tick_parse("0.5", 3, &u);
    int64_t t;
    bool has;
    ck_assert_int_eq(ch_proto_price(j, "p", &u, true, &t, &has), CH_OK);
    ck_assert_int_eq(t, 2469);
    ck_assert_int_eq(ch_proto_price(j, "ps", &u, true, &t, &has), CH_OK);
    ck_assert_int_eq(t, 2469);
    ck_assert_int_eq(ch_proto_price(j, "pb", &u, true, &t, &has), CH_EBADPRICE);
    ck_assert_int_eq(ch_proto_price(j, "b", &u, true, &t, &has), CH_EBADPRICE);
    ck_assert_int_eq(ch_proto_price(j, "none", &u, true, &t, &has), CH_EBADREQ);
    ck_assert(!has);
    bool bv;
    ck_assert_int_eq(ch_proto_bool(j, "b", false, &bv), CH_OK);
    ck_assert(bv);
    ck_assert_int_eq(ch_proto_bool(j, "s", false, &bv), CH_EBADREQ);
    double d;
    ck_assert_int_eq(ch_proto_number(j, "n", true, &d, NULL), CH_OK);
    ck_assert_double_eq(d, 7);
    ck_assert_int_eq(ch_proto_number(j, "s", true, &d, NULL), CH_EBADREQ);
    ck_assert_int_eq(ch_proto_number(j, "inf", true, &d, NULL), CH_EBADREQ);
    ch_order_id id;
    ck_assert_int_eq(ch_proto_order_id(j, "id", &id), CH_OK);
    ck_assert_uint_eq(id.v, UINT64_MAX);
    ck_assert_int_eq(ch_proto_order_id(j, "idn", &id), CH_OK);
    ck_assert_uint_eq(id.v, 12);
    ck_assert_int_eq(ch_proto_order_id(j, "s", &id), CH_EUNKNOWN_ORDER);
    ch_time tm;
    ck_assert_int_eq(ch_proto_time(j, "t", &tm, &has), CH_OK);
    ch_time day;
    ch_date_to_time(2026, 11, 25, &day);
    ck_assert_int_eq(tm, day + 8 * 3600 * CH_NS_PER_SEC + CH_NS_PER_SEC / 2);
    char txt[40];
    ch_proto_format_time(tm, txt, sizeof txt);
    ck_assert_str_eq(txt, "2026-11-25T08:00:00.500Z");
    ck_assert_int_eq(ch_proto_time(j, "tn", &tm, &has), CH_OK);
    ck_assert_int_eq(tm, 1000);
    ck_assert_int_eq(ch_proto_time(j, "tb", &tm, &has), CH_EBADREQ);
    cJSON_Delete(j);
}
END_TEST

START_TEST(binary_round_trips)
{
    ch_bin_order *orders = calloc(CH_BIN_MAX_ORDERS, sizeof *orders);
    ch_bin_order *back_o = calloc(CH_BIN_MAX_ORDERS, sizeof *back_o);
    ch_bin_batch b = {.id = 0x1122334455667788ull, .count = 3, .orders = orders};
    strcpy(b.account, "alice");
    orders[0] = (ch_bin_order){.instr = 7, .side = 0, .type = 0, .tif = 1, .qty = 5, .price = 1234};
    orders[1] = (ch_bin_order){.instr = 8, .side = 1, .type = 1, .tif = 2, .flags = 0, .qty = 1,
                               .price = 0};
    orders[2] = (ch_bin_order){.instr = 9, .side = 0, .flags = 1, .qty = INT64_C(1) << 40,
                               .price = -1};
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

int main(void)
{
    Suite *s = suite_create("proto");
    TCase *tc = tcase_create("codecs");
    tcase_add_test(tc, json_limits);
    tcase_add_test(tc, json_fields);
    tcase_add_test(tc, binary_round_trips);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
