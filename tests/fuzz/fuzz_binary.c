/* fuzz_binary.c - the binary decoders: the compact order.batch request and
 * reply, and every message of the table (requests and replies). What decodes
 * must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto_bin.h"
#include "ch/proto_msg.h"

static void same_or_abort(uint8_t *again, size_t n, const uint8_t *data, size_t size)
{
    if (again != NULL && (n != size || memcmp(again, data, size) != 0))
        abort(); /* decode and encode disagree */
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ch_bin_order orders[CH_BIN_MAX_ORDERS];
    ch_bin_batch b = {.orders = orders};
    if (ch_bin_batch_decode(data, size, &b) == CH_OK) {
        uint8_t *again = malloc(size + 16);
        size_t n = again != NULL ? ch_bin_batch_encode(&b, again, size + 16) : 0;
        same_or_abort(again, n, data, size);
    }
    static ch_bin_result results[16];
    uint64_t id;
    uint16_t err;
    uint32_t count;
    ch_bin_reply_decode(data, size, &id, &err, results, 16, &count);

    const ch_msg *m = NULL;
    cJSON *j = NULL;
    size_t n = 0;
    if (ch_msg_bin_decode_request(data, size, &m, &id, &j) == CH_OK) {
        /* a request missing a required field decodes (the server answers it)
         * but does not encode */
        cJSON_DeleteItemFromObjectCaseSensitive(j, "op");
        uint8_t *again = ch_msg_bin_encode_request(m, id, j, &n);
        same_or_abort(again, n, data, size);
        cJSON_Delete(j);
    }
    ch_err e;
    char *text = NULL;
    if (ch_msg_bin_decode_reply(data, size, &m, &id, &e, &text, &j) == CH_OK) {
        if (m != NULL) {
            uint8_t *again = ch_msg_bin_encode_reply(m, id, e, text, j, &n);
            same_or_abort(again, n, data, size);
        }
        free(text);
        cJSON_Delete(j);
    }
    return 0;
}
