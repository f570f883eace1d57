/*
 * ch/proto.h - the JSON wire protocol's request side (PROTOCOL.md): parsing
 * an untrusted request into a cJSON tree with the limits the contract
 * promises (then ch/proto_req.h makes it a typed request, whose field
 * readers map every problem to the error the protocol names), and the
 * formatting of times. cJSON trees never leave proto/ and the server.
 */
#ifndef CH_PROTO_H
#define CH_PROTO_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "ch/err.h"
#include "ch/instrument.h"
#include "ch/limits.h"
#include "ch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CH_PROTO_VERSION   1
#define CH_PROTO_MAX_DEPTH 16
/** Room for any reason ch_proto_parse() or ch_msg_check_json() gives. */
#define CH_PROTO_WHY_MAX 192

/**
 * Parse @p len bytes (not NUL-terminated) as one JSON object of at most
 * @p max_size bytes and CH_PROTO_MAX_DEPTH levels, no trailing garbage
 * (white space and NUL padding may follow it; a UTF-8 byte order mark may
 * lead it).
 *
 * Strict RFC 8259 (proto/README.md, "Strict JSON"), beyond what cJSON checks:
 * valid UTF-8 everywhere (no overlong form, no encoded surrogate, nothing
 * above U+10FFFF, no truncated sequence); no NUL in a string, raw or
 * \u0000; no raw control character in a string; well-formed escapes, a
 * \uD800-\uDBFF escape followed by a \uDC00-\uDFFF one and no lone low
 * surrogate; numbers per the RFC grammar (00001, 1., .5, +1, -, 1e, 0x1F,
 * NaN and Infinity are refused); no object, at any depth, with two members
 * of the same name. So every string of the tree is valid UTF-8 without NUL.
 *
 * @return the tree (owned: cJSON_Delete) or NULL with @p why set to the
 *         reason (the reply is BAD_REQUEST): "request too large", "nested
 *         too deep at byte N", "a string holds NUL (\u0000) at byte N",
 *         "invalid UTF-8 at byte N", "not a JSON number at byte N",
 *         "duplicate key \"op\"", "not JSON..."... Always valid UTF-8; static
 *         text or this thread's buffer, valid until its next call here.
 */
cJSON *ch_proto_parse(const char *buf, size_t len, size_t max_size, const char **why);

/**
 * Whether @p n bytes at @p s are well-formed UTF-8 (Unicode table 3-7: no
 * overlong form, no surrogate, nothing above U+10FFFF, no truncated
 * sequence). A NUL byte is valid UTF-8 (U+0000); the protocol refuses it
 * separately. Fast on ASCII (eight bytes per step).
 */
bool ch_utf8_valid(const char *s, size_t n);

/**
 * Make every string of @p tree valid UTF-8: each key and each string (and
 * raw) value, @p tree itself and everything below it (not its siblings),
 * with every maximal ill-formed subpart of its bytes replaced by U+FFFD
 * (Unicode's recommended practice: an encoded surrogate ED A0 80 gives
 * three U+FFFD). For replies and events built from strings that were stored
 * before requests were checked (an old command log). Valid strings are only
 * read, so a valid tree costs one pass over its text and no allocation.
 * A rewritten string is allocated with cJSON_malloc (cJSON_Delete frees it,
 * borrowed ones included: the flag is cleared); if memory runs out, a string
 * the tree owns has its invalid bytes overwritten with '?' in place and a
 * borrowed one is pointed at a constant U+FFFD, so it never fails.
 * Recurses as deep as the tree is. @p tree may be NULL.
 * @return how many strings (keys and values) were rewritten; 0 if all were valid.
 */
size_t ch_proto_fix_utf8(cJSON *tree);

/**
 * @p item printed as cJSON_PrintUnformatted() prints it, byte for byte
 * (cJSON 1.7.15's numbers, escapes and failures), several times faster:
 * integers are written digit by digit where cJSON prints and reads back
 * every number beyond 32 bits through sprintf and sscanf. For replies and
 * events. Recurses as deep as the tree is.
 * @return a string to free with cJSON_free(), or NULL when out of memory or
 * when cJSON would fail too (a raw item without text, an item of no type).
 */
char *ch_json_print(const cJSON *item);

/** Format @p t as ISO-8601 UTC with milliseconds into @p buf (>= 32 bytes). */
void ch_proto_format_time(ch_time t, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
