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

#include <stdio.h>
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
