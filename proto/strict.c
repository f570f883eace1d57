/*
 * strict.c - the strict half of reading a JSON request (ch/proto.h), and the
 * UTF-8 check and repair that replies use.
 *
 * cJSON 1.7.15 is lenient where the protocol must not be (DEPENDENCIES-NOTES
 * 4.1): "\u0000" ends a string early ("ab\u0000c" reads as "ab"), invalid
 * UTF-8 is kept byte for byte and printed back, raw control characters are
 * taken inside strings, a bad \u escape reads as \u0000, duplicate keys are
 * kept (lookups see the first), and a number is whatever strtod makes of the
 * characters [0-9+-.eE], so 00001, 1., .5, +1 and 1e pass. So
 * ch_proto_parse() first reads the raw bytes once with the RFC 8259 grammar
 * (chi_json_lex), and only then lets cJSON build the tree, whose objects it
 * checks for duplicate names (chi_json_unique_keys: after unescaping, so
 * "op" and "\u006fp" are the same name).
 *
 * Invariants: the lexer is one pass over the bytes, O(n), never reads past
 * the length it is given (bodies are not NUL-terminated) and recurses at most
 * max_depth + 1 times. The duplicate check is O(k log k) per object of k
 * members (pairwise below 17 members, sorted above). Every message written
 * is valid UTF-8: the only request text ever copied into one is a name that
 * passed the lexer, cut at a character boundary (chi_name_for_message).
 *
 * UTF-8 is checked per Unicode's table 3-7 (well-formed byte sequences): no
 * overlong form, no surrogate (U+D800..U+DFFF), nothing above U+10FFFF, no
 * truncated sequence. The repair (ch_proto_fix_utf8) replaces each maximal
 * ill-formed subpart by one U+FFFD, Unicode's recommended practice (so
 * "ED A0 80", an encoded surrogate, becomes three U+FFFD).
 */
#include "strict.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"
#include "../engine/core/alloc.h"

/* ---- UTF-8 ---- */

/* The length (1-4) of the well-formed UTF-8 sequence at @p p (before @p e),
 * or 0 with *bad = the length (1-3) of its maximal ill-formed subpart. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *e, size_t *bad)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* E0 80..9F: overlong */
        hi = c == 0xED ? 0x9F : 0xBF; /* ED A0..BF: surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80; /* F0 80..8F: overlong */
        hi = c == 0xF4 ? 0x8F : 0xBF; /* F4 90..: above U+10FFFF */
    } else {
        *bad = 1; /* 80..C1 (continuation, overlong C0/C1), F5..FF */
        return 0;
    }
    size_t i = 1;
    while (i <= need && p + i < e && p[i] >= lo && p[i] <= hi) {
        i++;
        lo = 0x80;
        hi = 0xBF;
    }
    if (i > need)
        return i;
    *bad = i;
    return 0;
}

bool ch_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        while (e - p >= 8) { /* ASCII eight bytes at a time */
            uint64_t w;
            memcpy(&w, p, sizeof w);
            if (w & UINT64_C(0x8080808080808080))
                break;
            p += 8;
        }
        if (p == e)
            break;
        size_t bad, k = *p < 0x80 ? 1 : utf8_seq(p, e, &bad);
        if (k == 0)
            return false;
        p += k;
    }
    return true;
}

static bool str_ok(const char *s)
{
    return s == NULL || ch_utf8_valid(s, strlen(s));
}

char *chi_name_for_message(const char *name, size_t max, char *out, size_t cap)
{
    if (cap < 4) {
        if (cap > 0)
            out[0] = '\0';
        return out;
    }
    size_t lim = max < cap - 4 ? max : cap - 4, o = 0;
    const unsigned char *p = (const unsigned char *)name, *e = p + strlen(name);
    while (p < e) {
        size_t bad, k = utf8_seq(p, e, &bad);
        if (o + (k != 0 ? k : 1) > lim)
            break;
        if (k == 0) { /* not from the lexer: keep the message valid anyway */
            out[o++] = '?';
            p += bad;
        } else {
            memcpy(out + o, p, k);
            o += k;
            p += k;
        }
    }
    if (p < e) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* ---- repair ---- */

static const char k_fffd[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* @p s with each maximal ill-formed subpart replaced by U+FFFD, allocated
 * with cJSON's allocator (so cJSON_Delete frees it), or NULL (memory). */
static char *repaired(const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + strlen(s);
    size_t n = 0, bad, k;
    for (const unsigned char *q = p; q < e; q += k != 0 ? k : bad)
        n += (k = utf8_seq(q, e, &bad)) != 0 ? k : 3;
    char *out = cJSON_malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (const unsigned char *q = p; q < e; q += k != 0 ? k : bad) {
        k = utf8_seq(q, e, &bad);
        memcpy(o, k != 0 ? (const char *)q : k_fffd, k != 0 ? k : 3);
        o += k != 0 ? k : 3;
    }
    *o = '\0';
    return out;
}

/* Out of memory: each ill-formed byte of a string we own becomes '?'. */
static void repair_in_place(char *s)
{
    unsigned char *p = (unsigned char *)s, *e = p + strlen(s);
    while (p < e) {
        size_t bad, k = utf8_seq(p, e, &bad);
        if (k != 0) {
            p += k;
        } else {
            memset(p, '?', bad);
            p += bad;
        }
    }
}

/* Repair one string slot: *slot is owned (freed with cJSON_free) unless
 * @p borrowed. @return the new borrowed state. */
static bool repair_slot(char **slot, bool borrowed)
{
    char *r = repaired(*slot);
    if (r != NULL) {
        if (!borrowed)
            cJSON_free(*slot);
        *slot = r;
        return false;
    }
    if (!borrowed) {
        repair_in_place(*slot);
        return false;
    }
    static char fffd[] = "\xEF\xBF\xBD"; /* never written or freed: stays borrowed */
    *slot = fffd;
    return true;
}

static size_t fix_one(cJSON *n)
{
    size_t fixed = 0;
    if (n->string != NULL && !str_ok(n->string)) {
        if (repair_slot(&n->string, (n->type & cJSON_StringIsConst) != 0))
            n->type |= cJSON_StringIsConst;
        else
            n->type &= ~cJSON_StringIsConst;
        fixed++;
    }
    if ((cJSON_IsString(n) || cJSON_IsRaw(n)) && !str_ok(n->valuestring)) {
        /* a string item's reference flag only says valuestring is borrowed */
        if (repair_slot(&n->valuestring, (n->type & cJSON_IsReference) != 0))
            n->type |= cJSON_IsReference;
        else
            n->type &= ~cJSON_IsReference;
        fixed++;
    }
    for (cJSON *c = n->child; c != NULL; c = c->next)
        fixed += fix_one(c);
    return fixed;
}

size_t ch_proto_fix_utf8(cJSON *tree)
{
    return tree != NULL ? fix_one(tree) : 0;
}

/* ---- the lexer ---- */

typedef struct lexer {
    const unsigned char *s, *p, *e; /* start, position, end */
    int max_depth;
    char *why;
    size_t cap;
} lexer;

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_WS(c)    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

static bool fail(lexer *x, const unsigned char *at, const char *what)
{
    snprintf(x->why, x->cap, "%s at byte %zu", what, (size_t)(at - x->s));
    return false;
}

static bool unexpected(lexer *x)
{
    if (x->p >= x->e)
        return fail(x, x->p, "not JSON: the text ends early");
    char what[48];
    unsigned c = *x->p;
    if (c > 0x20 && c < 0x7f)
        snprintf(what, sizeof what, "not JSON: unexpected '%c'", (char)c);
    else
        snprintf(what, sizeof what, "not JSON: unexpected byte 0x%02x", c);
    return fail(x, x->p, what);
}

static void skip_ws(lexer *x)
{
    while (x->p < x->e && IS_WS(*x->p))
        x->p++;
}

/* Four hex digits at @p p (all readable), or -1. */
static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (IS_DIGIT(c))
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool lex_string(lexer *x)
{
    const unsigned char *p = x->p + 1, *e = x->e;
    for (;;) {
        while (p < e && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p >= e)
            return fail(x, x->p, "not JSON: a string is not closed");
        unsigned c = *p;
        if (c == '"') {
            x->p = p + 1;
            return true;
        }
        if (c == 0)
            return fail(x, p, "a string holds NUL");
        if (c < 0x20)
            return fail(x, p, "a string holds a raw control character (escape it)");
        if (c >= 0x80) {
            size_t bad, k = utf8_seq(p, e, &bad);
            if (k == 0)
                return fail(x, p, "invalid UTF-8");
            p += k;
            continue;
        }
        if (e - p < 2) /* a backslash, last byte */
            return fail(x, x->p, "not JSON: a string is not closed");
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            continue;
        case 'u':
            break;
        default:
            return fail(x, p, "a bad escape in a string");
        }
        int u = e - p >= 6 ? hex4(p + 2) : -1;
        if (u < 0)
            return fail(x, p, "a bad \\u escape in a string");
        if (u == 0)
            return fail(x, p, "a string holds NUL (\\u0000)");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(x, p, "an unpaired surrogate escape in a string");
        if (u >= 0xD800 && u <= 0xDBFF) {
            int lo = e - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(x, p, "an unpaired surrogate escape in a string");
            p += 6;
        }
        p += 6;
    }
}

/* RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, ended by
 * white space, ',', ']', '}', NUL padding or the end (so 00001, 0x1F, 1.2.3,
 * 1e5e5 and 1_000 are not numbers rather than a number and garbage). */
const unsigned char *chi_json_number_end(const unsigned char *p, const unsigned char *e)
{
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0') {
        p++;
    } else if (p < e && *p >= '1' && *p <= '9') {
        while (p < e && IS_DIGIT(*p))
            p++;
    } else {
        return NULL;
    }
    if (p < e && *p == '.') {
        if (++p >= e || !IS_DIGIT(*p))
            return NULL;
        while (p < e && IS_DIGIT(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !IS_DIGIT(*p))
            return NULL;
        while (p < e && IS_DIGIT(*p))
            p++;
    }
    if (p < e && !IS_WS(*p) && *p != ',' && *p != ']' && *p != '}' && *p != '\0')
        return NULL;
    return p;
}

static bool lex_number(lexer *x)
{
    const unsigned char *end = chi_json_number_end(x->p, x->e);
    if (end == NULL)
        return fail(x, x->p, "not a JSON number");
    x->p = end;
    return true;
}

static bool lex_word(lexer *x, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(x->e - x->p) < n || memcmp(x->p, w, n) != 0)
        return fail(x, x->p, "not JSON: expected true, false or null");
    x->p += n;
    return true;
}

static bool lex_value(lexer *x, int depth);

static bool lex_container(lexer *x, int depth, bool object)
{
    unsigned char close = object ? '}' : ']';
    x->p++;
    skip_ws(x);
    if (x->p < x->e && *x->p == close) {
        x->p++;
        return true;
    }
    for (;;) {
        if (object) {
            if (x->p >= x->e || *x->p != '"')
                return unexpected(x);
            if (!lex_string(x))
                return false;
            skip_ws(x);
            if (x->p >= x->e || *x->p != ':')
                return unexpected(x);
            x->p++;
            skip_ws(x);
        }
        if (!lex_value(x, depth + 1))
            return false;
        skip_ws(x);
        if (x->p < x->e && *x->p == ',') {
            x->p++;
            skip_ws(x);
        } else if (x->p < x->e && *x->p == close) {
            x->p++;
            return true;
        } else {
            return unexpected(x);
        }
    }
}

static bool lex_value(lexer *x, int depth)
{
    if (depth > x->max_depth)
        return fail(x, x->p, "nested too deep");
    if (x->p >= x->e)
        return unexpected(x);
    switch (*x->p) {
    case '{':
        return lex_container(x, depth, true);
    case '[':
        return lex_container(x, depth, false);
    case '"':
        return lex_string(x);
    case 't':
        return lex_word(x, "true");
    case 'f':
        return lex_word(x, "false");
    case 'n':
        return lex_word(x, "null");
    case '-':
    case '+':
    case '.':
    case 'N':
    case 'I':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return lex_number(x); /* +1, .5, NaN, Infinity fail there */
    default:
        return unexpected(x);
    }
}

bool chi_json_lex(const char *buf, size_t len, int max_depth, char *why, size_t cap)
{
    lexer x = {.s = (const unsigned char *)buf,
               .p = (const unsigned char *)buf,
               .e = (const unsigned char *)buf + len,
               .max_depth = max_depth,
               .why = why,
               .cap = cap};
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        x.p += 3;
    skip_ws(&x);
    if (!lex_value(&x, 1))
        return false;
    while (x.p < x.e && (IS_WS(*x.p) || *x.p == '\0')) /* white space, NUL padding */
        x.p++;
    if (x.p < x.e)
        return fail(&x, x.p, "trailing bytes after the JSON object");
    return true;
}

/* ---- duplicate keys ---- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool duplicate(const char *name, char *why, size_t cap)
{
    char n[80];
    snprintf(why, cap, "duplicate key \"%s\"", chi_name_for_message(name, 64, n, sizeof n));
    return false;
}

/* Whether the k members of object @p o have distinct names. */
static bool names_distinct(const cJSON *o, size_t k, char *why, size_t cap)
{
    if (k <= 16) {
        for (const cJSON *a = o->child; a != NULL; a = a->next)
            for (const cJSON *b = a->next; b != NULL; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return duplicate(a->string, why, cap);
        return true;
    }
    const char *local[64], **v = k <= 64 ? local : ch_malloc(k * sizeof *v);
    if (v == NULL) {
        snprintf(why, cap, "out of memory");
        return false;
    }
    size_t i = 0;
    for (const cJSON *a = o->child; a != NULL; a = a->next)
        v[i++] = a->string;
    qsort(v, k, sizeof *v, cmp_names);
    bool ok = true;
    for (i = 1; i < k && ok; i++)
        if (strcmp(v[i - 1], v[i]) == 0)
            ok = duplicate(v[i], why, cap);
    if (v != local)
        free(v);
    return ok;
}

bool chi_json_unique_keys(const cJSON *j, char *why, size_t cap)
{
    if (cJSON_IsObject(j)) {
        size_t k = 0;
        for (const cJSON *c = j->child; c != NULL; c = c->next)
            k++;
        if (k > 1 && !names_distinct(j, k, why, cap))
            return false;
    }
    for (const cJSON *c = j->child; c != NULL; c = c->next)
        if (!chi_json_unique_keys(c, why, cap))
            return false;
    return true;
}
