/*
 * test_proto_text.c - the typed request read straight from JSON text
 * (ch_req_from_text) against the full reading (ch_proto_parse,
 * ch_msg_check_json, ch_req_from_json): what the one takes, the other takes
 * too, as the same typed request and the same envelope "id", over every
 * message's sample and a few hundred thousand mutations of them; it takes
 * the plain requests clients send (op first or last, an id); its numbers
 * are strtod's, bit for bit; and it leaves to the full reading what only
 * that can judge.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"
#include "ch/proto_msg.h"
#include "ch/proto_req.h"
#include "ch_check.h"
#include "proto_samples.h"
#include "req_same.h"

/*
 * @p text (@p len bytes): if the text reader takes it, the full reading must
 * take it as the same request. @return whether the text reader took it.
 */
static bool agree(const char *text, size_t len)
{
    ch_req t;
    ch_value id;
    ch_err e = ch_req_from_text(text, len, &t, &id);
    ck_assert_msg(e == CH_OK || e == CH_EBADREQ, "%d", e);
    if (e != CH_OK)
        return false;
    const char *why = NULL;
    cJSON *j = ch_proto_parse(text, len, (size_t)1 << 20, &why);
    ck_assert_msg(j != NULL, "taken by the text reader, refused by the parser (%s): %.*s", why,
                  (int)len, text);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
    ck_assert(cJSON_IsString(op));
    const ch_msg *m = ch_msg_find(op->valuestring);
    ck_assert_ptr_eq(m, t.m);
    char msg[CH_PROTO_WHY_MAX] = "";
    ck_assert_msg(ch_msg_check_json(m, j, msg, sizeof msg) == CH_OK,
                  "taken by the text reader, refused by the schema (%s): %.*s", msg, (int)len,
                  text);
    ch_req f;
    ck_assert_int_eq(ch_req_from_json(m, j, &f), CH_OK);
    ck_assert_msg(same_fields(&t.root, &f.root), "different typed requests: %.*s", (int)len, text);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
    const ch_value *tkey = ch_fields_get(&t.root, "key");
    ck_assert(key == NULL ? tkey->kind == CH_V_ABSENT
                          : cJSON_IsString(key) && tkey->kind == CH_V_STR &&
                                strcmp(key->valuestring, tkey->u.str) == 0);
    if (id.kind == CH_V_ABSENT)
        ck_assert_ptr_null(jid);
    else if (id.kind == CH_V_STR)
        ck_assert(cJSON_IsString(jid) && strcmp(jid->valuestring, id.u.str) == 0);
    else
        ck_assert(id.kind == CH_V_NUM && cJSON_IsNumber(jid) &&
                  same_num(jid->valuedouble, id.u.num));
    ch_req_free(&f);
    ch_req_free(&t);
    cJSON_Delete(j);
    return true;
}

static bool agree_str(const char *text)
{
    return agree(text, strlen(text));
}

/* The sample request of @p op with "op" first (or last) and an optional id. */
static void with_op(const char *op, const char *req, bool last, const char *id, char *out,
                    size_t cap)
{
    char env[160];
    snprintf(env, sizeof env, "\"op\":\"%s\"%s%s", op, id ? ",\"id\":" : "", id ? id : "");
    bool empty = strcmp(req, "{}") == 0;
    if (last)
        snprintf(out, cap, "%.*s%s%s}", (int)strlen(req) - 1, req, empty ? "" : ",", env);
    else
        snprintf(out, cap, "{%s%s%s", env, empty ? "}" : ",", empty ? "" : req + 1);
}

START_TEST(samples_agree)
{
    static const char *const ids[] = {NULL, "\"r-1\"", "17", "-0", "1e400", "0.1"};
    size_t taken = 0, all = 0;
    for (int k = 0; k < CH_MSG_COUNT; k++) {
        const ch_msg *m = ch_msg_get((ch_msg_id)k);
        const struct sample *smp = sample_of(m->op);
        for (int last = 0; last < 2; last++)
            for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
                char text[2048];
                with_op(m->op, smp->req, last, ids[i], text, sizeof text);
                bool t = agree_str(text);
                taken += t;
                all++;
                /* what clients send most is taken */
                if (m->id == CH_MSG_ORDER_NEW || m->id == CH_MSG_ORDER_BATCH ||
                    m->id == CH_MSG_ORDER_CANCEL || m->id == CH_MSG_HELLO)
                    ck_assert_msg(t, "not taken: %s", text);
            }
    }
    /* all but the messages with a list of pairs, of strings or a map */
    ck_assert_uint_ge(taken, all - 3 * 12);
}
END_TEST

/* Left to the full reading, each for a reason of its own. */
START_TEST(plain_only)
{
    static const char *const taken[] = {
        "\xEF\xBB\xBF {\"op\":\"hello\"} \n",
        "{\"op\":\"hello\"}\0\0",
        "{ \"key\" : \"k\" , \"op\" : \"hello\" }",
        "{\"op\":\"order.cancel\",\"account\":\"a\",\"order_id\":12}",
        "{\"op\":\"order.batch\",\"orders\":[]}",
        "{\"op\":\"order.new\",\"qty\":1e400,\"price\":-0}",
    };
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        size_t len = strlen(taken[i]) + (i == 1 ? 2 : 0);
        ck_assert_msg(agree(taken[i], len), "not taken: %s", taken[i]);
    }
    static const char *const left[] = {
        "",                                                            /* empty */
        "{}",                                                          /* no op */
        "{\"op\":\"nope\"}",                                           /* unknown op */
        "{\"op\":\"hello\",\"op\":\"hello\"}",                         /* duplicate */
        "{\"op\":\"order.new\",\"qty\":1,\"qty\":2}",                  /* duplicate field */
        "{\"op\":\"order.new\",\"colour\":1}",                         /* unknown key */
        "{\"op\":\"order.new\",\"qty\":\"1\"}",                        /* mistyped */
        "{\"op\":\"order.new\",\"symbol\":\"a\\u0062\"}",              /* an escape */
        "{\"op\":\"order.new\",\"symbol\":\"\xC3\xA9\"}",              /* not ASCII */
        "{\"op\":\"order.new\",\"qty\":01}",                           /* not a JSON number */
        "{\"op\":\"order.new\",\"qty\":1.}",                           /* nor this */
        "{\"op\":\"hello\",\"id\":[1]}",                               /* an id of another kind */
        "{\"op\":\"hello\",\"key\":1}",                                /* a key of another kind */
        "{\"op\":\"hello\"} x",                                        /* trailing bytes */
        "{\"op\":\"hello\"",                                           /* cut */
        "[{\"op\":\"hello\"}]",                                        /* not an object */
        "{\"\\u006fp\":\"hello\"}",                                    /* an escaped key */
        "{\"op\":\"order.batch\",\"orders\":[{\"qty\":1,\"qty\":1}]}", /* nested duplicate */
        "{\"op\":\"order.batch\",\"orders\":[1]}",                     /* not an object */
        "{\"op\":\"market.update\",\"iv\":{\"27NOV26\":0.5}}",         /* a map */
        "{\"op\":\"order.new\",\"qty\":1234567890123456789012345678901234567890123}",
    };
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        ch_req r;
        ch_value id;
        ck_assert_msg(ch_req_from_text(left[i], strlen(left[i]), &r, &id) == CH_EBADREQ,
                      "taken: %s", left[i]);
        ck_assert_ptr_null(r.arena);
    }
}
END_TEST

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    return ch_xorshift64(&rng);
}

/* Random edits of every sample: bytes replaced by JSON's own characters,
 * deleted, inserted, a span repeated. Whatever the text reader takes must
 * agree with the full reading. */
START_TEST(mutations_agree)
{
    static const char k_bytes[] = "{}[]\",:\\ 0123456789.eE+-tfnul\"ab\x00\x7f\x80\xc3\xff\t\n";
    size_t taken = 0, tried = 0;
    for (int k = 0; k < CH_MSG_COUNT; k++) {
        const ch_msg *m = ch_msg_get((ch_msg_id)k);
        char base[2048];
        with_op(m->op, sample_of(m->op)->req, k % 2, k % 3 ? "\"x\"" : NULL, base, sizeof base);
        size_t blen = strlen(base);
        for (int round = 0; round < 12000; round++) {
            char t[4096];
            memcpy(t, base, blen);
            size_t n = blen;
            int edits = 1 + (int)(rnd() % 3);
            for (int e = 0; e < edits && n > 2; e++) {
                size_t at = rnd() % n;
                char c = k_bytes[rnd() % (sizeof k_bytes - 1)];
                switch (rnd() % 4) {
                case 0:
                    t[at] = c;
                    break;
                case 1:
                    memmove(t + at, t + at + 1, n - at - 1);
                    n--;
                    break;
                case 2:
                    memmove(t + at + 1, t + at, n - at);
                    t[at] = c;
                    n++;
                    break;
                default: { /* repeat a span: duplicate keys, longer lists */
                    size_t len = 1 + rnd() % 40;
                    if (at + len > n)
                        len = n - at;
                    if (n + len < sizeof t) {
                        memmove(t + at + len, t + at, n - at);
                        n += len;
                    }
                    break;
                }
                }
            }
            taken += agree(t, n);
            tried++;
        }
    }
    /* the differential half is exercised: some mutants are still plain */
    ck_assert_uint_gt(taken, tried / 50);
    printf("text reader: %zu of %zu mutated requests taken, all as the full reading\n", taken,
           tried);
}
END_TEST

/* Numbers of every shape read as cJSON's strtod reads them, bit for bit:
 * the text reader divides short decimals and leaves the rest to strtod. */
START_TEST(numbers_as_strtod)
{
    size_t taken = 0;
    for (int k = 0; k < 200000; k++) {
        char num[64], text[192];
        size_t o = 0;
        if (rnd() % 3 == 0)
            num[o++] = '-';
        int ints = 1 + (int)(rnd() % 18), fracs = (int)(rnd() % 26) - 3;
        num[o++] = ints == 1 ? (char)('0' + rnd() % 10) : (char)('1' + rnd() % 9);
        for (int i = 1; i < ints; i++)
            num[o++] = rnd() % 4 == 0 ? '0' : (char)('0' + rnd() % 10);
        if (fracs > 0) {
            num[o++] = '.';
            for (int i = 0; i < fracs; i++)
                num[o++] = rnd() % 3 == 0 ? '0' : (char)('0' + rnd() % 10);
        }
        if (rnd() % 8 == 0)
            o += (size_t)snprintf(num + o, sizeof num - o, "e%d", (int)(rnd() % 80) - 40);
        num[o] = '\0';
        snprintf(text, sizeof text, "{\"op\":\"order.new\",\"price\":%s,\"qty\":%s}", num, num);
        if (!agree_str(text))
            continue;
        taken++;
        ch_req r;
        ch_value id;
        ck_assert_int_eq(ch_req_from_text(text, strlen(text), &r, &id), CH_OK);
        double want = strtod(num, NULL), got = ch_fields_get(&r.root, "price")->u.num;
        ck_assert_msg(same_num(want, got), "%s: %.17g, strtod %.17g", num, got, want);
        ch_req_free(&r);
    }
    ck_assert_uint_gt(taken, 190000); /* only the longest are left */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_text");
    TCase *tc = tcase_create("reader");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, samples_agree);
    tcase_add_test(tc, plain_only);
    tcase_add_test(tc, mutations_agree);
    tcase_add_test(tc, numbers_as_strtod);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
