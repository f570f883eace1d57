/* fuzz_json.c - the JSON request rules: parse, then every field helper on
 * every key of the object, as the server would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    cJSON *j = ch_proto_parse((const char *)data, size, 1 << 20, &why);
    if (j == NULL)
        return 0;
    ch_underlying_config u = {.name = "BTC", .contract_size = 1, .min_price = 1,
                              .max_price = 1000000};
    ch_tick_parse("0.5", 3, &u);
    for (const cJSON *v = j->child; v != NULL; v = v->next) {
        char s[64];
        int64_t q, t;
        double d;
        bool b, has;
        ch_order_id id;
        ch_time tm;
        ch_proto_string(j, v->string, false, s, sizeof s);
        ch_proto_qty(j, v->string, false, &q);
        ch_proto_price(j, v->string, &u, false, &t, &has);
        ch_proto_number(j, v->string, false, &d, &has);
        ch_proto_bool(j, v->string, false, &b);
        ch_proto_order_id(j, v->string, &id);
        ch_proto_time(j, v->string, &tm, &has);
    }
    cJSON_Delete(j);
    return 0;
}
