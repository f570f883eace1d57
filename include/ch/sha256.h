/*
 * ch/sha256.h - SHA-256 (FIPS 180-4) and a constant-time comparison, for
 * access keys: the store keeps a key's digest, never the key, and a
 * presented key is checked by comparing digests in time that does not
 * depend on where they differ. Pure: no I/O, no allocation.
 */
#ifndef CH_SHA256_H
#define CH_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_SHA256_LEN 32

/** Incremental state (caller's memory: init, update any number of times, final). */
typedef struct ch_sha256 {
    uint32_t h[8];
    uint64_t bytes; /**< message length so far */
    uint8_t block[64];
    size_t fill; /**< bytes buffered in block */
} ch_sha256;

CH_API void ch_sha256_init(ch_sha256 *s);
/** Add @p len bytes of @p data (borrowed; NULL allowed when len is 0). */
CH_API void ch_sha256_update(ch_sha256 *s, const void *data, size_t len);
/** Write the digest to @p out; @p s must be initialised again before reuse. */
CH_API void ch_sha256_final(ch_sha256 *s, uint8_t out[CH_SHA256_LEN]);
/** One-shot digest of @p len bytes. */
CH_API void ch_sha256_digest(const void *data, size_t len, uint8_t out[CH_SHA256_LEN]);

/** True if the @p n bytes at @p a and @p b are equal; the time taken depends on n only. */
CH_API bool ch_ct_equal(const void *a, const void *b, size_t n);

#ifdef __cplusplus
}
#endif
#endif
