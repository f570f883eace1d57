/*
 * ch/types.h - identifiers and small value types shared by every module.
 *
 * Ids are one-field structs passed by value, so that an order id cannot be
 * passed where an account id is expected: the compiler refuses it.
 */
#ifndef CH_TYPES_H
#define CH_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An instrument: a dense index assigned by the instrument registry. */
typedef struct ch_instr_id {
    uint32_t v;
} ch_instr_id;

/** An account: a dense index assigned by the caller (clearing layer). */
typedef struct ch_account_id {
    uint32_t v;
} ch_account_id;

/**
 * An order: slot (low 32 bits, 1-based) | generation (high 32 bits).
 * 0 is never a valid order id. A slot is reused only with a new generation,
 * so a stale id is recognised as unknown without any lookup table.
 */
typedef struct ch_order_id {
    uint64_t v;
} ch_order_id;

/** Engine time: nanoseconds since the Unix epoch, UTC, supplied by callers. */
typedef int64_t ch_time;

#define CH_NS_PER_SEC INT64_C(1000000000)

typedef enum ch_side { CH_BUY = 0, CH_SELL = 1 } ch_side;

#ifdef __cplusplus
}
#endif
#endif
