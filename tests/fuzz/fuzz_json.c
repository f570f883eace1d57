/* fuzz_json.c - the JSON request rules: parse, then every field helper on
 * every key of the object, as the server would, and the schema check of
 * every op. Invariants checked: whatever parses has only valid UTF-8 strings
 * (so the U+FFFD repair has nothing to do), every reason given is valid
 * UTF-8, and the repair of any bytes leaves valid UTF-8; whatever the text
 * reader (ch_req_from_text) takes, the full reading takes too, as the same
 * typed request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"
#include "ch/proto_req.h"
#include "ch/proto_msg.h"
#include "../req_same.h"

/* The input up to its first NUL as one string value, repaired. */
static void repair(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    cJSON *v = cJSON_CreateString(s);
    free(s);
    if (v == NULL)
        return;
    bool valid = ch_utf8_valid(v->valuestring, strlen(v->valuestring));
    if (ch_proto_fix_utf8(v) != (valid ? 0u : 1u) ||
        !ch_utf8_valid(v->valuestring, strlen(v->valuestring)))
        abort();
    cJSON_Delete(v);
}

/* Every field reader on one value: none may crash, whatever the value. */
static void read_value(const ch_value *v, const ch_underlying_config *u)
{
    char s[64];
    int64_t q, t;
    double d;
    bool b, has;
    ch_order_id id;
    ch_time tm;
    ch_proto_string(v, false, s, sizeof s);
    ch_proto_qty(v, false, &q);
    ch_proto_price(v, u, false, &t, &has);
    ch_proto_number(v, false, &d, &has);
    ch_proto_bool(v, false, &b);
    ch_proto_order_id(v, &id);
    ch_proto_time(v, &tm, &has);
}

/* ... on every field of a typed request, its lists' objects included. */
static void read_all(const ch_fields *o, const ch_underlying_config *u)
{
    for (size_t i = 0; i < o->n; i++) {
        read_value(&o->v[i], u);
        if (o->v[i].kind == CH_V_LIST || o->v[i].kind == CH_V_OBJ)
            for (uint32_t k = 0; k < o->v[i].n; k++)
                read_all(&o->v[i].u.obj[k], u);
    }
}

/* What the text reader takes, the full reading (@p j) takes as the same request. */
static void text_reader_agrees(const uint8_t *data, size_t size, const cJSON *j,
                               const ch_underlying_config *u)
{
    ch_req t;
    ch_value id;
    ch_err e = ch_req_from_text((const char *)data, size, &t, &id);
    if (e != CH_OK) {
        if (e != CH_EBADREQ && e != CH_ENOMEM)
            abort();
        return;
    }
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
    char reason[CH_PROTO_WHY_MAX];
    ch_req f;
    if (j == NULL || !cJSON_IsString(op) || ch_msg_find(op->valuestring) != t.m ||
        ch_msg_check_json(t.m, j, reason, sizeof reason) != CH_OK ||
        ch_req_from_json(t.m, j, &f) != CH_OK)
        abort();
    if (!same_fields(&t.root, &f.root))
        abort();
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(j, "id");
    if ((id.kind == CH_V_ABSENT) != (jid == NULL) ||
        (id.kind == CH_V_STR &&
         (!cJSON_IsString(jid) || strcmp(jid->valuestring, id.u.str) != 0)) ||
        (id.kind == CH_V_NUM && (!cJSON_IsNumber(jid) || !same_num(jid->valuedouble, id.u.num))))
        abort();
    read_all(&t.root, u);
    ch_req_free(&f);
    ch_req_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    cJSON *j = ch_proto_parse((const char *)data, size, 1 << 20, &why);
    {
        ch_underlying_config u = {
            .name = "BTC", .contract_size = 1, .min_price = 1, .max_price = 1000000};
        ch_tick_parse("0.5", 3, &u);
        text_reader_agrees(data, size, j, &u);
    }
    if (j == NULL) {
        if (why == NULL || !ch_utf8_valid(why, strlen(why)))
            abort();
        repair(data, size);
        return 0;
    }
    if (ch_proto_fix_utf8(j) != 0)
        abort();
    ch_underlying_config u = {
        .name = "BTC", .contract_size = 1, .min_price = 1, .max_price = 1000000};
    ch_tick_parse("0.5", 3, &u);
    for (int k = 0; k < CH_MSG_COUNT; k++) {
        char reason[CH_PROTO_WHY_MAX];
        const ch_msg *m = ch_msg_get((ch_msg_id)k);
        ch_err e = ch_msg_check_json(m, j, reason, sizeof reason);
        if ((e != CH_OK && e != CH_EBADREQ) || !ch_utf8_valid(reason, strlen(reason)))
            abort();
        ch_req q;
        if (e == CH_OK && ch_req_from_json(m, j, &q) == CH_OK) { /* as the server reads it */
            read_all(&q.root, &u);
            ch_req_free(&q);
        }
    }
    for (const cJSON *v = j->child; v != NULL; v = v->next) {
        ch_value x = ch_value_of_json(v);
        read_value(&x, &u);
    }
    cJSON_Delete(j);
    return 0;
}
