/* fuzz_binary.c - the binary order.batch request and reply decoders; what
 * decodes must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto_bin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ch_bin_order orders[CH_BIN_MAX_ORDERS];
    ch_bin_batch b = {.orders = orders};
    if (ch_bin_batch_decode(data, size, &b) == CH_OK) {
        uint8_t *again = malloc(size + 16);
        size_t n = again != NULL ? ch_bin_batch_encode(&b, again, size + 16) : 0;
        if (again != NULL && (n != size || memcmp(again, data, size) != 0))
            abort(); /* decode and encode disagree */
        free(again);
    }
    static ch_bin_result results[16];
    uint64_t id;
    uint16_t err;
    uint32_t count;
    ch_bin_reply_decode(data, size, &id, &err, results, 16, &count);
    return 0;
}
