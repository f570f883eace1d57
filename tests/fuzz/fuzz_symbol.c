/* fuzz_symbol.c - symbols, ticks and prices: whatever parses formats back to
 * a canonical text that parses to the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/instrument.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ch_symbol s;
    if (ch_symbol_parse((const char *)data, size, &s) == CH_OK) {
        char buf[CH_SYMBOL_MAX];
        ch_symbol back;
        if (ch_symbol_format(&s, buf, sizeof buf) != CH_OK ||
            ch_symbol_parse(buf, strlen(buf), &back) != CH_OK || back.expiry != s.expiry ||
            back.strike != s.strike || back.kind != s.kind)
            abort();
    }
    ch_underlying_config u = {
        .name = "BTC", .contract_size = 1, .min_price = 1, .max_price = 1000000000};
    if (ch_tick_parse((const char *)data, size, &u) != CH_OK)
        ch_tick_parse("0.25", 4, &u);
    int64_t t;
    if (ch_price_parse(&u, (const char *)data, size, &t) == CH_OK) {
        char buf[64];
        int64_t back;
        if (ch_price_format(&u, t, buf, sizeof buf) != CH_OK ||
            ch_price_parse(&u, buf, strlen(buf), &back) != CH_OK || back != t)
            abort();
    }
    return 0;
}
