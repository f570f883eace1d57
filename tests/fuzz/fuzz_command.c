/* fuzz_command.c - the stored records: commands, fills, configurations;
 * what decodes must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ch_command c;
    static uint8_t again[sizeof(ch_command) + 64];
    if (ch_command_decode(data, size, &c) == CH_OK) {
        size_t n = ch_command_encode(&c, again, sizeof again);
        if (n != size || memcmp(again, data, size) != 0)
            abort();
    }
    ch_fill f;
    if (ch_fill_decode(data, size, &f) == CH_OK) {
        size_t n = ch_fill_encode(&f, again, sizeof again);
        if (n != size || memcmp(again, data, size) != 0)
            abort();
    }
    ch_engine_config cfg;
    ch_config_decode(data, size, &cfg);
    return 0;
}
