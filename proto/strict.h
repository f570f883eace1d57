/*
 * strict.h - private to proto/: the strict RFC 8259 reading that
 * ch_proto_parse() does before and after cJSON (proto/strict.c).
 */
#ifndef CH_PROTO_STRICT_H
#define CH_PROTO_STRICT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/**
 * Check @p len bytes (not NUL-terminated) as one JSON text per RFC 8259,
 * stricter than cJSON: valid UTF-8 everywhere, no NUL in a string (raw or
 * \u0000), escapes well formed with surrogates paired, no raw control
 * character in a string, the number grammar, nothing after the value but
 * white space (or NUL padding), values at most @p max_depth deep (the root is
 * depth 1, each container adds one). A UTF-8 byte order mark at the start is
 * skipped, as cJSON skips it. @return true, or false with @p why (capacity
 * @p cap, always valid UTF-8) naming the problem and its byte offset.
 */
bool chi_json_lex(const char *buf, size_t len, int max_depth, char *why, size_t cap);

/**
 * The end of the RFC 8259 number at @p p (before @p e): -? (0 | [1-9][0-9]*)
 * (. [0-9]+)? ([eE] [+-]? [0-9]+)?, which must be followed by white space,
 * ',', ']', '}', NUL or the end; NULL if the bytes there are not one. The
 * lexer and the text reader (req_text.c) share it.
 */
const unsigned char *chi_json_number_end(const unsigned char *p, const unsigned char *e);

/**
 * Whether no object of the tree @p j (recursively) has two members of the
 * same name (compared after unescaping, byte for byte). @return true, or
 * false with @p why ("duplicate key \"op\"").
 */
bool chi_json_unique_keys(const cJSON *j, char *why, size_t cap);

/**
 * Copy @p name into @p out (capacity @p cap) for a message, cut at a
 * character boundary to at most @p max bytes with "..." when longer, so the
 * copy is valid UTF-8 whenever @p name is. @return @p out.
 */
char *chi_name_for_message(const char *name, size_t max, char *out, size_t cap);

#endif
