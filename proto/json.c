/*
 * json.c - the request side of the JSON protocol (see ch/proto.h).
 *
 * cJSON pitfalls handled here (DEPENDENCIES-NOTES): bodies are not
 * NUL-terminated, so parsing is length-bounded and trailing bytes other than
 * white space are refused; lookups are case-sensitive; numbers are doubles,
 * so quantities must be integral and below 2^53 and large ids travel as
 * strings. What cJSON lets through and the protocol refuses (a NUL in a
 * string, invalid UTF-8, duplicate keys, numbers outside RFC 8259) is caught
 * by the strict pass of proto/strict.c around it.
 */
#include "ch/proto.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strict.h"

cJSON *ch_proto_parse(const char *buf, size_t len, size_t max_size, const char **why)
{
    /* the reasons that name a byte or a key: valid until this thread's next call */
    static _Thread_local char msg[CH_PROTO_WHY_MAX];
    if (len == 0) {
        *why = "empty request";
        return NULL;
    }
    if (len > max_size) {
        *why = "request too large";
        return NULL;
    }
    /* the raw bytes first: what cJSON would accept and the protocol refuses */
    if (!chi_json_lex(buf, len, CH_PROTO_MAX_DEPTH, msg, sizeof msg)) {
        *why = msg;
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, NULL, 0);
    if (j == NULL) { /* cJSON's own limits, or memory */
        *why = "not JSON";
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *why = "not a JSON object";
        return NULL;
    }
    if (!chi_json_unique_keys(j, msg, sizeof msg)) {
        cJSON_Delete(j);
        *why = msg;
        return NULL;
    }
    return j;
}

ch_err ch_proto_string(const cJSON *o, const char *key, bool required, char *out, size_t max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        return required ? CH_EBADREQ : CH_OK;
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return CH_EBADREQ;
    size_t n = strlen(v->valuestring);
    if (n == 0 || n >= max)
        return CH_EBADREQ;
    memcpy(out, v->valuestring, n + 1);
    return CH_OK;
}

ch_err ch_proto_qty(const cJSON *o, const char *key, bool required, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        return required ? CH_EBADREQ : CH_OK;
    if (!cJSON_IsNumber(v))
        return CH_EBADQTY;
    double d = v->valuedouble;
    if (!(d >= 1) || d > (double)CH_QTY_MAX || floor(d) != d)
        return CH_EBADQTY;
    *out = (int64_t)d;
    return CH_OK;
}

ch_err ch_proto_price(const cJSON *o, const char *key, const ch_underlying_config *u, bool required,
                      int64_t *ticks, bool *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return required ? CH_EBADREQ : CH_OK;
    if (cJSON_IsNumber(v))
        return ch_price_from_double(u, v->valuedouble, ticks);
    if (cJSON_IsString(v) && v->valuestring != NULL)
        return ch_price_parse(u, v->valuestring, strlen(v->valuestring), ticks);
    return CH_EBADPRICE;
}

ch_err ch_proto_number(const cJSON *o, const char *key, bool required, double *out, bool *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return required ? CH_EBADREQ : CH_OK;
    double d;
    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
    } else if (cJSON_IsString(v) && v->valuestring != NULL) {
        char *end;
        d = strtod(v->valuestring, &end);
        if (end == v->valuestring || *end != '\0')
            return CH_EBADREQ;
    } else {
        return CH_EBADREQ;
    }
    if (!isfinite(d))
        return CH_EBADREQ;
    *out = d;
    return CH_OK;
}

ch_err ch_proto_bool(const cJSON *o, const char *key, bool dflt, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL) {
        *out = dflt;
        return CH_OK;
    }
    if (!cJSON_IsBool(v))
        return CH_EBADREQ;
    *out = cJSON_IsTrue(v);
    return CH_OK;
}

ch_err ch_proto_order_id(const cJSON *o, const char *key, ch_order_id *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        return CH_EBADREQ;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(d >= 1) || d > 9007199254740992.0 || floor(d) != d)
            return CH_EUNKNOWN_ORDER;
        out->v = (uint64_t)d;
        return CH_OK;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
        return CH_EBADREQ;
    uint64_t x = 0;
    for (const char *p = v->valuestring; *p; p++) {
        if (*p < '0' || *p > '9')
            return CH_EUNKNOWN_ORDER;
        uint64_t d = (uint64_t)(*p - '0');
        if (x > UINT64_MAX / 10 || (x == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return CH_EUNKNOWN_ORDER; /* beyond 64 bits: no such order */
        x = x * 10 + d;
    }
    out->v = x;
    return CH_OK;
}

ch_err ch_proto_time(const cJSON *o, const char *key, ch_time *out, bool *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return CH_OK;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(d >= 0) || d > 9.2e18)
            return CH_EBADREQ;
        *out = (ch_time)d;
        return CH_OK;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return CH_EBADREQ;
    const char *s = v->valuestring;
    ch_time second;
    if (ch_datetime_parse(s, &second) != CH_OK)
        return CH_EBADREQ;
    const char *p = s + 19;
    int64_t frac = 0, scale = CH_NS_PER_SEC;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return CH_EBADREQ;
        while (isdigit((unsigned char)*p)) {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
            p++;
        }
    }
    if (strcmp(p, "Z") != 0)
        return CH_EBADREQ;
    *out = second + frac;
    return CH_OK;
}

void ch_proto_format_time(ch_time t, char *buf, size_t cap)
{
    int64_t secs = t / CH_NS_PER_SEC, ms = (t % CH_NS_PER_SEC) / 1000000;
    int64_t days = secs / 86400, rem = secs % 86400;
    /* civil from days (Hinnant) */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(buf, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ", (long long)y,
             (long long)m, (long long)d, (long long)(rem / 3600), (long long)(rem / 60 % 60),
             (long long)(rem % 60), (long long)ms);
}
