/* test_proto_strict.c - what ch_proto_parse refuses beyond cJSON (NUL,
 * duplicate keys, invalid UTF-8, surrogates, control characters, numbers
 * outside RFC 8259), the schema check of a request against its row of the
 * message table (ch_msg_check_json), and the U+FFFD repair of replies. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"
#include "ch/proto_msg.h"
#include "ch_check.h"

static const char *g_why;

static cJSON *parse_n(const char *s, size_t n)
{
    g_why = NULL;
    return ch_proto_parse(s, n, 1 << 20, &g_why);
}

/* @p n bytes at @p s are refused, for a reason that holds @p part. */
static void refused(const char *s, size_t n, const char *part)
{
    cJSON *j = parse_n(s, n);
    ck_assert_msg(j == NULL, "accepted: %.*s", (int)n, s);
    ck_assert_ptr_nonnull(g_why);
    ck_assert_msg(strstr(g_why, part) != NULL, "%.*s: why \"%s\", expected \"%s\"", (int)n, s,
                  g_why, part);
    ck_assert_msg(ch_utf8_valid(g_why, strlen(g_why)), "the reason is not UTF-8");
}

/* A literal (NUL bytes included) is refused. */
#define REFUSED(lit, part) refused(lit, sizeof(lit) - 1, part)

static cJSON *accepted_n(const char *s, size_t n)
{
    cJSON *j = parse_n(s, n);
    ck_assert_msg(j != NULL, "refused: %.*s (%s)", (int)n, s, g_why ? g_why : "");
    return j;
}

#define ACCEPTED(lit) accepted_n(lit, sizeof(lit) - 1)

static const char *str_of(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsString(v), "no string %s", key);
    return v->valuestring;
}

/* ---- NUL and duplicate keys (issue 3) ---- */

START_TEST(nul_is_refused)
{
    REFUSED("{\"op\":\"hello\\u0000junk\"}", "a string holds NUL (\\u0000) at byte 12");
    ck_assert_str_eq(g_why, "a string holds NUL (\\u0000) at byte 12");
    REFUSED("{\"op\":\"order.new\",\"client_order_id\":\"ab\\u0000c\"}", "NUL (\\u0000)");
    REFUSED("{\"op\":\"order.new\",\"client_order_id\":\"ab\\u0000d\"}", "NUL (\\u0000)");
    REFUSED("{\"op\":\"account.open\",\"account\":\"dave\\u0000x\",\"cash\":1}", "NUL (\\u0000)");
    REFUSED("{\"op\":\"hello\",\"id\":\"\\u0000\"}", "NUL (\\u0000)");
    REFUSED("{\"a\\u0000\":1}", "NUL (\\u0000)"); /* in a key */
    REFUSED("{\"op\":\"hello\",\"id\":[\"x\",{\"y\":\"\\u0000\"}]}", "NUL (\\u0000)");
    /* raw NUL and raw control characters inside a string */
    REFUSED("{\"op\":\"he\0llo\"}", "a string holds NUL at byte 9");
    REFUSED("{\"op\":\"he\001llo\"}", "raw control character");
    REFUSED("{\"op\":\"he\tllo\"}", "raw control character");
    REFUSED("{\"op\":\"he\nllo\"}", "raw control character");
    /* the id without the NUL is a different, accepted string */
    cJSON *j = ACCEPTED("{\"op\":\"order.new\",\"client_order_id\":\"ab\"}");
    ck_assert_str_eq(str_of(j, "client_order_id"), "ab");
    cJSON_Delete(j);
    /* other escapes stay accepted: \u0001, \t, \/ ... */
    j = ACCEPTED("{\"s\":\"a\\u0001\\t\\n\\r\\b\\f\\/\\\\\\\"z\"}");
    ck_assert_str_eq(str_of(j, "s"), "a\001\t\n\r\b\f/\\\"z");
    cJSON_Delete(j);
}
END_TEST

START_TEST(duplicate_keys_are_refused)
{
    REFUSED("{\"op\":\"hello\",\"op\":\"order.new\"}", "duplicate key \"op\"");
    ck_assert_str_eq(g_why, "duplicate key \"op\"");
    REFUSED("{\"op\":\"order.new\",\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy\",\"qty\":1,"
            "\"price\":5,\"qty\":2}",
            "duplicate key \"qty\"");
    /* the same name written with an escape */
    REFUSED("{\"op\":\"hello\",\"\\u006fp\":\"order.new\"}", "duplicate key \"op\"");
    REFUSED("{\"\":1,\"\":2}", "duplicate key \"\"");
    /* at any depth: an order of order.batch, an object in an id */
    REFUSED("{\"op\":\"order.batch\",\"orders\":[{\"symbol\":\"S\",\"qty\":1},"
            "{\"symbol\":\"S\",\"qty\":1,\"side\":\"buy\",\"qty\":2}]}",
            "duplicate key \"qty\"");
    REFUSED("{\"op\":\"hello\",\"id\":{\"a\":{\"b\":1,\"b\":1}}}", "duplicate key \"b\"");
    REFUSED("{\"op\":\"market.update\",\"iv\":{\"27NOV26\":0.5,\"27NOV26\":0.6}}",
            "duplicate key \"27NOV26\"");
    /* the same name in two objects, and case differences, are fine */
    cJSON *j = ACCEPTED("{\"a\":{\"x\":1},\"b\":{\"x\":1},\"A\":1,\"x\":[{\"x\":1},{\"x\":2}]}");
    cJSON_Delete(j);
    /* wide objects: the sorted paths (on the stack up to 64 members, then heap) */
    for (int wide = 20; wide <= 300; wide += 280) {
        char *big = malloc(16384);
        size_t n = 0;
        n += (size_t)sprintf(big + n, "{");
        for (int i = 0; i < wide; i++)
            n += (size_t)sprintf(big + n, "%s\"k%d\":%d", i ? "," : "", i, i);
        n += (size_t)sprintf(big + n, "}");
        cJSON *ok = accepted_n(big, n);
        ck_assert_int_eq(cJSON_GetArraySize(ok), wide);
        cJSON_Delete(ok);
        n -= 1;
        n += (size_t)sprintf(big + n, ",\"k%d\":0}", wide / 2);
        refused(big, n, "duplicate key \"k");
        char want[32];
        snprintf(want, sizeof want, "duplicate key \"k%d\"", wide / 2);
        ck_assert_str_eq(g_why, want);
        free(big);
    }
    /* a long duplicate name is cut in the message, at a character boundary */
    char lng[400];
    size_t n = (size_t)snprintf(lng, sizeof lng, "{\"");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(lng + n, sizeof lng - n, "\xC3\xA9"); /* é, 2 bytes */
    n += (size_t)snprintf(lng + n, sizeof lng - n, "\":1,\"");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(lng + n, sizeof lng - n, "\xC3\xA9");
    n += (size_t)snprintf(lng + n, sizeof lng - n, "\":2}");
    refused(lng, n, "...\"");
}
END_TEST

/* ---- UTF-8 (issue 4) ---- */

START_TEST(invalid_utf8_is_refused)
{
    REFUSED("{\"id\":\"\xff\xfe\"}", "invalid UTF-8 at byte 7");
    ck_assert_str_eq(g_why, "invalid UTF-8 at byte 7");
    static const char *const bad[] = {
        "\xff",
        "\xfe",
        "\x80",
        "\xbf", /* never a lead byte */
        "\xc0\xaf",
        "\xc1\xbf", /* overlong 2-byte */
        "\xe0\x80\xaf",
        "\xe0\x9f\xbf", /* overlong 3-byte */
        "\xf0\x80\x80\xaf",
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xed\xb0\x80", /* encoded surrogates */
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xf7\xbf\xbf\xbf", /* above U+10FFFF */
        "\xf8\x88\x80\x80\x80",
        "\xfc\x84\x80\x80\x80\x80", /* 5 and 6 byte forms */
        "\xc3",
        "\xe2\x82",
        "\xf0\x9f\x98", /* truncated */
        ("\xc3"
         "A"),
        ("\xe2\x82"
         "A"),
        ("\xf0\x9f\x98"
         "A"), /* cut by ASCII */
        ("\xe2"
         "\xc3\xa9"), /* cut by another sequence */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[64];
        /* as a value, and as a key, of a request */
        int n = snprintf(t, sizeof t, "{\"op\":\"hello\",\"id\":\"x%sy\"}", bad[i]);
        refused(t, (size_t)n, "invalid UTF-8 at byte 21");
        n = snprintf(t, sizeof t, "{\"op\":\"hello\",\"%s\":1}", bad[i]);
        refused(t, (size_t)n, "invalid UTF-8 at byte 15");
        /* and the byte check alone */
        ck_assert_msg(!ch_utf8_valid(bad[i], strlen(bad[i])), "valid: case %zu", i);
    }
    /* outside strings a non-ASCII byte is not JSON at all */
    REFUSED("{\"op\":\"hello\",\"id\":\xc3\xa9}", "not JSON: unexpected byte 0xc3 at byte 19");
    REFUSED("\xef\xbb{\"op\":\"hello\"}", "not JSON"); /* half a byte order mark */
}
END_TEST

START_TEST(surrogate_escapes)
{
    REFUSED("{\"id\":\"\\uD800\"}", "an unpaired surrogate escape in a string at byte 7");
    REFUSED("{\"id\":\"\\ud800x\"}", "unpaired surrogate");
    REFUSED("{\"id\":\"\\uDBFF\\u0041\"}", "unpaired surrogate");
    REFUSED("{\"id\":\"\\uD800\\uD800\"}", "unpaired surrogate");
    REFUSED("{\"id\":\"\\uDC00\"}", "unpaired surrogate"); /* a lone low one */
    REFUSED("{\"id\":\"\\uDFFF\\uD800\"}", "unpaired surrogate");
    REFUSED("{\"id\":\"a\\uD834\\\\uDD1E\"}", "unpaired surrogate");
    REFUSED("{\"id\":\"\\uD834\"", "unpaired surrogate"); /* cut short */
    /* bad escapes */
    REFUSED("{\"id\":\"\\x41\"}", "a bad escape in a string at byte 7");
    REFUSED("{\"id\":\"\\u12G4\"}", "a bad \\u escape");
    REFUSED("{\"id\":\"\\u12\"}", "a bad \\u escape");
    REFUSED("{\"id\":\"\\U0041\"}", "a bad escape");
    REFUSED("{\"id\":\"\\", "not closed");
    /* pairs, and the edges of the planes, are accepted */
    cJSON *j =
        ACCEPTED("{\"a\":\"\\uD834\\uDD1E\",\"b\":\"\\ud83d\\ude00\",\"c\":\"\\uDBFF\\uDFFF\","
                 "\"d\":\"\\uFFFF\\uE000\\uD7FF\\u00e9\\u20AC\"}");
    ck_assert_str_eq(str_of(j, "a"), "\xF0\x9D\x84\x9E");
    ck_assert_str_eq(str_of(j, "b"), "\xF0\x9F\x98\x80");
    ck_assert_str_eq(str_of(j, "c"), "\xF4\x8F\xBF\xBF");
    ck_assert_str_eq(str_of(j, "d"), "\xEF\xBF\xBF\xEE\x80\x80\xED\x9F\xBF\xC3\xA9\xE2\x82\xAC");
    cJSON_Delete(j);
}
END_TEST

START_TEST(valid_utf8_is_accepted)
{
    /* 1-4 byte characters, raw, in values and keys; the boundaries of each form */
    cJSON *j = ACCEPTED("{\"op\":\"hello\",\"id\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E "
                        "\xF0\x9F\x98\x80\",\"\xE6\x97\xA5\xE6\x9C\xAC\":\"\xC2\x80\xDF\xBF"
                        "\xE0\xA0\x80\xEF\xBF\xBF\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80"
                        "\xF4\x8F\xBF\xBF\"}");
    ck_assert_str_eq(str_of(j, "id"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E \xF0\x9F\x98\x80");
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(j, "\xE6\x97\xA5\xE6\x9C\xAC"));
    cJSON_Delete(j);
    ck_assert(ch_utf8_valid("", 0));
    ck_assert(ch_utf8_valid("a\0b", 3)); /* U+0000 is UTF-8; the protocol refuses it apart */
    ck_assert(ch_utf8_valid("\xF4\x8F\xBF\xBF", 4));
    /* the eight-bytes-at-a-time path: a bad byte at every offset of a long ASCII run */
    char run[64];
    for (size_t at = 0; at < 40; at++) {
        memset(run, 'a', sizeof run);
        ck_assert(ch_utf8_valid(run, 40));
        run[at] = (char)0xC3;
        ck_assert(!ch_utf8_valid(run, 40)); /* C3 then 'a' */
        run[at + 1] = (char)0xA9;
        ck_assert(ch_utf8_valid(run, 41));
        ck_assert(!ch_utf8_valid(run, at + 1)); /* cut in the middle */
    }
    /* a byte order mark, white space and NUL padding around the object */
    j = ACCEPTED("\xEF\xBB\xBF \t\r\n{\"op\":\"hello\"} \r\n\0\0");
    cJSON_Delete(j);
    REFUSED("{\"op\":\"hello\"}\0x", "trailing bytes after the JSON object at byte 15");
    REFUSED("{\"op\":\"hello\"}\v", "trailing bytes");
    REFUSED("{\"op\":\v\"hello\"}", "not JSON: unexpected byte 0x0b at byte 6");
}
END_TEST

/* ---- numbers (issue 4) ---- */

START_TEST(numbers_follow_rfc8259)
{
    static const char *const bad[] = {
        "00001", "01",       "-01",       "1.",    "1.e5", ".5",   "-.5",  "+1",    "-",
        "--1",   "1e",       "1e+",       "1E-",   "1ee5", "0x1F", "0X1f", "1.2.3", "1e5e5",
        "NaN",   "Infinity", "-Infinity", "1_000", "1f",   "0b1",  "1-2",  "2+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[64];
        int n = snprintf(t, sizeof t, "{\"op\":\"book\",\"depth\":%s}", bad[i]);
        refused(t, (size_t)n, "not a JSON number at byte 21");
        n = snprintf(t, sizeof t, "{\"op\":\"book\",\"depth\":[1,%s,2]}", bad[i]);
        refused(t, (size_t)n, "not a JSON number at byte 24");
    }
    REFUSED("{\"a\":nan}", "not JSON");
    REFUSED("{\"a\":inf}", "not JSON");
    REFUSED("{\"a\":tru}", "not JSON: expected true, false or null at byte 5");
    REFUSED("{\"a\":[1,]}", "not JSON: unexpected ']' at byte 8");
    REFUSED("{\"a\":1,}", "not JSON: unexpected '}' at byte 7");
    REFUSED("{\"a\" 1}", "not JSON: unexpected '1'");
    REFUSED("{\"a\":1", "not JSON: the text ends early at byte 6");
    REFUSED("{'a':1}", "not JSON: unexpected ''' at byte 1");
    static const struct {
        const char *text;
        double v;
    } good[] = {{"0", 0},           {"-0", -0.0},
                {"1e5", 1e5},       {"1E5", 1e5},
                {"1.5E-3", 1.5e-3}, {"-1.25e+10", -1.25e10},
                {"0.5", 0.5},       {"-0.0e0", -0.0},
                {"10", 10},         {"123456789", 123456789},
                {"1e-0", 1},        {"9007199254740993", 9007199254740992.0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char t[160];
        int n = snprintf(t, sizeof t, "{\"x\":%s,\"y\":[%s],\"z\":{\"w\":%s}}", good[i].text,
                         good[i].text, good[i].text);
        cJSON *j = accepted_n(t, (size_t)n);
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "x");
        ck_assert(cJSON_IsNumber(x));
        ck_assert_msg(x->valuedouble == good[i].v, "%s read as %g", good[i].text, x->valuedouble);
        ck_assert_int_eq(signbit(x->valuedouble) != 0, signbit(good[i].v) != 0);
        cJSON_Delete(j);
    }
    /* in range for the grammar, out of range for a double: the handlers refuse it */
    cJSON *j = ACCEPTED("{\"x\":1e999,\"y\":"
                        "123456789012345678901234567890123456789012345678901234567890123456789}");
    ck_assert(isinf(cJSON_GetObjectItemCaseSensitive(j, "x")->valuedouble));
    cJSON_Delete(j);
}
END_TEST

START_TEST(limits_keep_their_messages)
{
    char deep[128];
    strcpy(deep, "{\"op\":\"hello\",\"a\":");
    for (int i = 0; i < 20; i++)
        strcat(deep, "[");
    for (int i = 0; i < 20; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    refused(deep, strlen(deep), "nested too deep");
    /* exactly 16 levels (the root is 1; a scalar counts) pass, 17 do not */
    char t[128];
    strcpy(t, "{\"a\":");
    for (int i = 0; i < 14; i++)
        strcat(t, "[");
    strcat(t, "1");
    for (int i = 0; i < 14; i++)
        strcat(t, "]");
    strcat(t, "}");
    cJSON *j = accepted_n(t, strlen(t));
    cJSON_Delete(j);
    strcpy(t, "{\"a\":");
    for (int i = 0; i < 15; i++)
        strcat(t, "[");
    strcat(t, "1");
    for (int i = 0; i < 15; i++)
        strcat(t, "]");
    strcat(t, "}");
    refused(t, strlen(t), "nested too deep at byte 20");
    REFUSED("[1]", "not a JSON object");
    REFUSED("\"x\"", "not a JSON object");
    REFUSED("not json", "not JSON");
    REFUSED(" ", "not JSON: the text ends early at byte 1");
}
END_TEST

/* ---- the schema check (issues 5 and 9) ---- */

static ch_err check(const char *text, char *why)
{
    cJSON *j = parse_n(text, strlen(text));
    ck_assert_msg(j != NULL, "refused by the parser: %s (%s)", text, g_why);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
    ck_assert(cJSON_IsString(op));
    ch_err e = ch_msg_check_json(ch_msg_find(op->valuestring), j, why, CH_PROTO_WHY_MAX);
    ck_assert(ch_utf8_valid(why, strlen(why)));
    cJSON_Delete(j);
    return e;
}

static void check_ok(const char *text)
{
    char why[CH_PROTO_WHY_MAX] = "";
    ck_assert_msg(check(text, why) == CH_OK, "%s: %s", text, why);
}

static void check_refused(const char *text, const char *want)
{
    char why[CH_PROTO_WHY_MAX] = "";
    ck_assert_msg(check(text, why) == CH_EBADREQ, "accepted: %s", text);
    ck_assert_msg(strcmp(why, want) == 0, "%s: why \"%s\", expected \"%s\"", text, why, want);
}

/* Requests as the clients send them (PROTOCOL.md's ops, proto/README's
 * additions; chctl, chclient.py, libchclient, the harness's ids). */
/* NOLINTBEGIN(bugprone-suspicious-missing-comma): long requests split over lines */
static const char *const k_requests[] = {
    "{\"op\":\"hello\"}",
    "{\"op\":\"hello\",\"id\":1,\"key\":\"0123456789abcdef0123456789abcdef\"}",
    "{\"op\":\"instruments\",\"id\":\"alice-7\"}",
    "{\"op\":\"instruments\",\"underlying\":\"BTC\",\"id\":{\"any\":[\"json\",null,true]}}",
    "{\"op\":\"instrument.add\",\"symbol\":\"BTC-27DEC26-100000-C\",\"key\":\"k\"}",
    "{\"op\":\"account.open\",\"account\":\"alice\",\"cash\":1000000,\"key\":\"k\"}",
    "{\"op\":\"account.open\",\"account\":\"bob\",\"cash\":\"250000.50\"}",
    "{\"op\":\"account.deposit\",\"account\":\"alice\",\"amount\":-12.5}",
    "{\"op\":\"pool.deposit\",\"account\":\"lp\",\"amount\":100000}",
    "{\"op\":\"pool.withdraw\",\"account\":\"lp\",\"shares\":10}",
    "{\"op\":\"market.update\",\"underlying\":\"BTC\",\"index\":100000}",
    "{\"op\":\"market.update\",\"underlying\":\"BTC\",\"index\":\"100000.5\","
    "\"time\":\"2026-11-25T08:00:00Z\",\"rate\":0.03,\"funding_rate\":0.0001,\"perp\":100010,"
    "\"iv\":{\"27NOV26\":0.55,\"BTC-27NOV26-100000-C\":0.5}}",
    "{\"op\":\"market.update\",\"underlying\":\"BTC\",\"index\":100000,"
    "\"time\":1764057600000000000}",
    "{\"op\":\"order.new\",\"account\":\"alice\",\"symbol\":\"BTC-27NOV26-100000-C\","
    "\"side\":\"buy\",\"qty\":2,\"price\":2500.5}",
    "{\"op\":\"order.new\",\"id\":\"r-1\",\"key\":\"k\",\"account\":\"alice\","
    "\"symbol\":\"BTC-27NOV26-100000-C\",\"side\":\"sell\",\"qty\":1,\"type\":\"market\","
    "\"price\":\"10\",\"tif\":\"ioc\",\"post_only\":false,\"client_order_id\":\"c-1\"}",
    "{\"op\":\"order.batch\",\"account\":\"alice\",\"orders\":[{\"symbol\":\"S\",\"side\":\"buy\","
    "\"qty\":1,\"price\":50},{\"account\":\"bob\",\"symbol\":\"S\",\"side\":\"sell\",\"qty\":3,"
    "\"type\":\"market\",\"tif\":\"fok\",\"post_only\":true,\"client_order_id\":\"x\"}]}",
    "{\"op\":\"order.batch\",\"orders\":[]}",
    "{\"op\":\"order.cancel\",\"account\":\"alice\",\"order_id\":\"12345\"}",
    "{\"op\":\"order.cancel\",\"account\":\"alice\",\"order_id\":12345}",
    "{\"op\":\"order.replace\",\"account\":\"alice\",\"order_id\":\"12345\",\"qty\":3}",
    "{\"op\":\"order.replace\",\"account\":\"alice\",\"order_id\":\"1\",\"price\":99.5}",
    "{\"op\":\"orders\",\"account\":\"alice\"}",
    "{\"op\":\"book\",\"symbol\":\"BTC-27NOV26-100000-C\"}",
    "{\"op\":\"book\",\"symbol\":\"BTC-27NOV26-100000-C\",\"depth\":10}",
    "{\"op\":\"quote\",\"symbol\":\"BTC-27NOV26-100000-C\",\"side\":\"buy\",\"qty\":1}",
    "{\"op\":\"positions\",\"account\":\"house\",\"key\":\"admin\"}",
    "{\"op\":\"risk\"}",
    "{\"op\":\"risk\",\"underlying\":\"BTC\"}",
    "{\"op\":\"hedge\"}",
    "{\"op\":\"stats\",\"key\":\"admin\"}",
    "{\"op\":\"pool.tranche.add\",\"underlying\":\"BTC\",\"strike_lo\":90000,"
    "\"strike_hi\":\"95000\"}",
    "{\"op\":\"pool.deposit\",\"account\":\"lp\",\"amount\":10,\"tranche\":1}",
    "{\"op\":\"pools\"}",
    "{\"op\":\"state.hash\",\"key\":\"admin\"}",
    "{\"op\":\"account.transfer\",\"account\":\"alice\",\"amount\":5,\"to_shard\":\"eth\"}",
    "{\"op\":\"underlying.add\",\"underlying\":\"SOL\",\"tick\":\"0.01\","
    "\"strikes\":[[100,0.9],[120,0]],\"index\":120}",
};
/* NOLINTEND(bugprone-suspicious-missing-comma) */

START_TEST(schema_accepts_every_op)
{
    bool seen[CH_MSG_COUNT] = {false};
    for (size_t i = 0; i < sizeof k_requests / sizeof k_requests[0]; i++) {
        check_ok(k_requests[i]);
        cJSON *j = parse_n(k_requests[i], strlen(k_requests[i]));
        seen[ch_msg_find(cJSON_GetObjectItemCaseSensitive(j, "op")->valuestring)->id] = true;
        cJSON_Delete(j);
    }
    for (int k = 0; k < CH_MSG_COUNT; k++)
        ck_assert_msg(seen[k], "no request of %s", ch_msg_get((ch_msg_id)k)->op);
    /* values are the handlers' (BAD_QTY, BAD_PRICE, UNKNOWN_ORDER...), not the schema's */
    check_ok("{\"op\":\"order.new\",\"qty\":1.5,\"price\":-5,\"side\":\"up\"}");
    check_ok("{\"op\":\"order.new\",\"qty\":0,\"price\":\"abc\",\"client_order_id\":\"\"}");
    check_ok("{\"op\":\"order.new\",\"qty\":1e999,\"account\":\"" /* too long: the handler's */
             "0123456789012345678901234567890123456789\"}");
    check_ok("{\"op\":\"order.cancel\",\"order_id\":\"abc\"}");
    check_ok("{\"op\":\"order.cancel\",\"order_id\":-1.5}");
    check_ok("{\"op\":\"book\",\"depth\":2.5}");
    /* a mistyped key is the guard's (UNAUTHORIZED), whatever the op */
    check_ok("{\"op\":\"positions\",\"account\":\"kate\",\"key\":12}");
    check_ok("{\"op\":\"positions\",\"account\":\"kate\",\"key\":null}");
    check_ok("{\"op\":\"hello\",\"key\":{\"a\":[1]}}");
}
END_TEST

START_TEST(schema_refuses_unknown_and_mistyped)
{
    check_refused("{\"op\":\"order.new\",\"account\":\"a\",\"symbol\":\"S\",\"side\":\"buy\","
                  "\"qty\":1,\"price\":5,\"tiff\":\"ioc\"}",
                  "unknown field \"tiff\"");
    check_refused("{\"op\":\"hello\",\"pad\":\"x\"}", "unknown field \"pad\"");
    check_refused("{\"op\":\"hello\",\"Op\":\"x\"}", "unknown field \"Op\"");
    check_refused("{\"op\":\"stats\",\"underlying\":\"BTC\"}", "unknown field \"underlying\"");
    check_refused("{\"op\":\"book\",\"symbol\":\"S\",\"depth\":\"2\"}",
                  "field \"depth\" must be an integer");
    check_refused("{\"op\":\"book\",\"symbol\":5}", "field \"symbol\" must be a string");
    check_refused("{\"op\":\"book\",\"symbol\":null}", "field \"symbol\" must be a string");
    check_refused("{\"op\":\"order.new\",\"qty\":\"5\"}", "field \"qty\" must be an integer");
    check_refused("{\"op\":\"order.new\",\"post_only\":1}",
                  "field \"post_only\" must be true or false");
    check_refused("{\"op\":\"order.new\",\"price\":true}",
                  "field \"price\" must be a number or a decimal string");
    check_refused("{\"op\":\"order.new\",\"price\":null}",
                  "field \"price\" must be a number or a decimal string");
    check_refused("{\"op\":\"order.new\",\"price\":[5]}",
                  "field \"price\" must be a number or a decimal string");
    check_refused("{\"op\":\"order.cancel\",\"order_id\":{}}",
                  "field \"order_id\" must be an id (a decimal string)");
    check_refused("{\"op\":\"pool.withdraw\",\"shares\":\"10\"}",
                  "field \"shares\" must be an integer");
    check_refused("{\"op\":\"account.open\",\"cash\":false}",
                  "field \"cash\" must be a number or a decimal string");
    check_refused("{\"op\":\"market.update\",\"iv\":[0.5]}",
                  "field \"iv\" must be an object of numbers");
    check_refused("{\"op\":\"market.update\",\"iv\":{\"27NOV26\":\"0.5\"}}",
                  "field \"iv.27NOV26\" must be a number");
    check_refused("{\"op\":\"market.update\",\"time\":{}}",
                  "field \"time\" must be a number or a decimal string");
    /* inside the orders of a batch */
    check_refused("{\"op\":\"order.batch\",\"orders\":{}}",
                  "field \"orders\" must be an array of objects");
    check_refused("{\"op\":\"order.batch\",\"orders\":[{\"symbol\":\"S\"},{\"tiff\":\"gtc\"}]}",
                  "unknown field \"orders[1].tiff\"");
    check_refused("{\"op\":\"order.batch\",\"orders\":[{\"qty\":\"1\"}]}",
                  "field \"orders[0].qty\" must be an integer");
    check_refused("{\"op\":\"order.batch\",\"orders\":[{\"op\":\"order.new\"}]}",
                  "unknown field \"orders[0].op\"");
    check_refused("{\"op\":\"order.batch\",\"orders\":[{\"key\":\"k\"}]}",
                  "unknown field \"orders[0].key\"");
    check_refused("{\"op\":\"order.batch\",\"orders\":[{\"symbol\":\"S\"},7]}",
                  "field \"orders[1]\" must be an object");
    check_refused("{\"op\":\"order.batch\",\"account\":\"a\",\"orders\":[{\"account\":1}]}",
                  "field \"orders[0].account\" must be a string");
    /* the first offending member, in the request's order */
    check_refused("{\"op\":\"book\",\"zz\":1,\"depth\":\"x\"}", "unknown field \"zz\"");
    /* an unknown name is cut in the message, whole characters only */
    char t[400];
    int n = snprintf(t, sizeof t, "{\"op\":\"hello\",\"");
    for (int i = 0; i < 100; i++)
        n += snprintf(t + n, sizeof t - (size_t)n, "\xE2\x82\xAC"); /* €, 3 bytes */
    snprintf(t + n, sizeof t - (size_t)n, "\":1}");
    char why[CH_PROTO_WHY_MAX];
    ck_assert_int_eq(check(t, why), CH_EBADREQ);
    ck_assert_msg(strstr(why, "\xE2\x82\xAC...\"") != NULL, "%s", why);
    ck_assert(ch_utf8_valid(why, strlen(why)));
    /* no row, not an object; a small buffer is filled and ended */
    cJSON *j = cJSON_CreateObject();
    ck_assert_int_eq(ch_msg_check_json(NULL, j, why, sizeof why), CH_EUNKNOWN_OP);
    cJSON *arr = cJSON_CreateArray();
    ck_assert_int_eq(ch_msg_check_json(ch_msg_find("hello"), arr, why, sizeof why), CH_EBADREQ);
    cJSON_AddNumberToObject(j, "tiff", 1);
    char small[8];
    ck_assert_int_eq(ch_msg_check_json(ch_msg_find("hello"), j, small, sizeof small), CH_EBADREQ);
    ck_assert_uint_eq(strlen(small), 7);
    ck_assert_int_eq(ch_msg_check_json(ch_msg_find("hello"), j, NULL, 0), CH_EBADREQ);
    cJSON_Delete(j);
    cJSON_Delete(arr);
}
END_TEST

/* A value of each type's kind, and one of another kind. */
static const char *good_of(ch_ftype t)
{
    static const char *const v[] = {
        [CH_FT_STR] = "\"x\"",    [CH_FT_INT] = "3",        [CH_FT_NUM] = "1.5",
        [CH_FT_BOOL] = "true",    [CH_FT_DEC] = "\"2.5\"",  [CH_FT_OID] = "\"77\"",
        [CH_FT_OBJ] = "{}",       [CH_FT_LIST] = "[{}]",    [CH_FT_PAIRS] = "[[1,2]]",
        [CH_FT_STRS] = "[\"a\"]", [CH_FT_MAP] = "{\"a\":1}"};
    return v[t];
}

static const char *bad_of(ch_ftype t)
{
    static const char *const v[] = {
        [CH_FT_STR] = "1",    [CH_FT_INT] = "\"3\"",        [CH_FT_NUM] = "\"1.5\"",
        [CH_FT_BOOL] = "1",   [CH_FT_DEC] = "true",         [CH_FT_OID] = "[]",
        [CH_FT_OBJ] = "[]",   [CH_FT_LIST] = "[1]",         [CH_FT_PAIRS] = "[[1]]",
        [CH_FT_STRS] = "[1]", [CH_FT_MAP] = "{\"a\":\"b\"}"};
    return v[t];
}

/* Every field of every row: its kind passes, another kind is refused naming it. */
START_TEST(schema_covers_the_table)
{
    for (int k = 0; k < CH_MSG_COUNT; k++) {
        const ch_msg *m = ch_msg_get((ch_msg_id)k);
        for (size_t i = 0; i < m->n_req; i++) {
            const ch_field *f = &m->req[i];
            char t[256], why[CH_PROTO_WHY_MAX];
            snprintf(t, sizeof t, "{\"op\":\"%s\",\"%s\":%s}", m->op, f->name, good_of(f->type));
            check_ok(t);
            if (strcmp(f->name, "key") == 0)
                continue; /* the guard's */
            snprintf(t, sizeof t, "{\"op\":\"%s\",\"%s\":%s}", m->op, f->name, bad_of(f->type));
            ck_assert_msg(check(t, why) == CH_EBADREQ, "accepted: %s", t);
            ck_assert_msg(strstr(why, f->name) != NULL, "%s: %s", t, why);
            for (size_t s = 0; s < f->n_sub; s++) { /* one level down */
                const ch_field *g = &f->sub[s];
                bool list = f->type == CH_FT_LIST;
                snprintf(t, sizeof t, "{\"op\":\"%s\",\"%s\":%s{\"%s\":%s}%s}", m->op, f->name,
                         list ? "[" : "", g->name, good_of(g->type), list ? "]" : "");
                check_ok(t);
                snprintf(t, sizeof t, "{\"op\":\"%s\",\"%s\":%s{\"%s\":%s}%s}", m->op, f->name,
                         list ? "[" : "", g->name, bad_of(g->type), list ? "]" : "");
                ck_assert_msg(check(t, why) == CH_EBADREQ, "accepted: %s", t);
                ck_assert_msg(strstr(why, g->name) != NULL, "%s: %s", t, why);
            }
        }
        char t[128];
        snprintf(t, sizeof t, "{\"op\":\"%s\",\"id\":[1],\"no_such_field\":1}", m->op);
        check_refused(t, "unknown field \"no_such_field\"");
    }
}
END_TEST

/* ---- the repair of replies ---- */

START_TEST(fix_utf8_replaces_bad_bytes)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\xff"
         "b",
         "a\xEF\xBF\xBD"
         "b"},
        {"\xff\xfe", "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* a surrogate: 3 */
        {"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD"},                 /* overlong: 2 */
        {"\xf4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"x\xe2\x82", "x\xEF\xBF\xBD"}, /* truncated at the end: 1 */
        {"\xf0\x9f\x98"
         "A",
         "\xEF\xBF\xBD"
         "A"}, /* cut by ASCII: 1 */
        {"\xe2"
         "\xc3\xa9",
         "\xEF\xBF\xBD\xC3\xA9"}, /* cut by a character */
        {"ok \xC3\xA9", "ok \xC3\xA9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "v", cases[i].in);
        cJSON_AddNumberToObject(o, cases[i].in, 1); /* as a key too */
        bool bad = !ch_utf8_valid(cases[i].in, strlen(cases[i].in));
        ck_assert_uint_eq(ch_proto_fix_utf8(o), bad ? 2 : 0);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "v")->valuestring, cases[i].out);
        ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(o, cases[i].out));
        ck_assert_uint_eq(ch_proto_fix_utf8(o), 0);
        cJSON_Delete(o);
    }
    /* nested, borrowed strings and constant keys; valid strings are left in place */
    static const char ref[] = "ref\xff";
    static const char ckey[] = "const\xfe";
    cJSON *r = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(r, "list");
    cJSON *inner = cJSON_CreateObject();
    cJSON_AddItemToArray(arr, inner);
    cJSON_AddStringToObject(inner, "name", "alice\xc3(");
    cJSON_AddItemToArray(arr, cJSON_CreateStringReference(ref));
    cJSON_AddItemToObjectCS(r, ckey, cJSON_CreateString("fine"));
    cJSON_AddRawToObject(r, "raw", "\"r\xff\"");
    cJSON_AddStringToObject(r, "good", "\xE2\x82\xAC");
    const char *good_before = cJSON_GetObjectItemCaseSensitive(r, "good")->valuestring;
    ck_assert_uint_eq(ch_proto_fix_utf8(r), 4);
    ck_assert_ptr_eq(cJSON_GetObjectItemCaseSensitive(r, "good")->valuestring, good_before);
    ck_assert_str_eq(ref, "ref\xff"); /* the borrowed text itself is not touched */
    ck_assert_str_eq(cJSON_GetArrayItem(arr, 1)->valuestring, "ref\xEF\xBF\xBD");
    ck_assert_str_eq(str_of(inner, "name"), "alice\xEF\xBF\xBD(");
    ck_assert_str_eq(str_of(r, "const\xEF\xBF\xBD"), "fine");
    char *text = cJSON_PrintUnformatted(r);
    ck_assert(ch_utf8_valid(text, strlen(text)));
    ck_assert_ptr_nonnull(strstr(text, "\"raw\":\"r\xEF\xBF\xBD\""));
    /* what it prints is what the strict parser takes */
    cJSON *back = parse_n(text, strlen(text));
    ck_assert_msg(back != NULL, "%s", g_why);
    cJSON_Delete(back);
    cJSON_free(text);
    cJSON_Delete(r); /* frees the rewritten borrowed and constant slots: ASan checks */
    ck_assert_uint_eq(ch_proto_fix_utf8(NULL), 0);
    /* a leaf given alone: its siblings are not its business */
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateString("\xff"));
    cJSON_AddItemToArray(a, cJSON_CreateString("\xfe"));
    ck_assert_uint_eq(ch_proto_fix_utf8(a->child), 1);
    ck_assert_str_eq(a->child->next->valuestring, "\xfe");
    cJSON_Delete(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_strict");
    TCase *tc = tcase_create("strict");
    tcase_add_test(tc, nul_is_refused);
    tcase_add_test(tc, duplicate_keys_are_refused);
    tcase_add_test(tc, invalid_utf8_is_refused);
    tcase_add_test(tc, surrogate_escapes);
    tcase_add_test(tc, valid_utf8_is_accepted);
    tcase_add_test(tc, numbers_follow_rfc8259);
    tcase_add_test(tc, limits_keep_their_messages);
    tcase_add_test(tc, schema_accepts_every_op);
    tcase_add_test(tc, schema_refuses_unknown_and_mistyped);
    tcase_add_test(tc, schema_covers_the_table);
    tcase_add_test(tc, fix_utf8_replaces_bad_bytes);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
