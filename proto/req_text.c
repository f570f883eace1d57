/*
 * req_text.c - the typed request read straight from a JSON request's text
 * (ch_req_from_text, ch/proto_req.h), without a cJSON tree.
 *
 * The full reading of a JSON request is four steps over two copies: the
 * strict lexer (strict.c), cJSON's tree (a malloc per value and per key,
 * strtod and localeconv per number), the duplicate-key and schema checks
 * over the tree (msg.c), and the typed request (req.c); then the tree is
 * freed. For an order that is most of what the server spends before the
 * engine sees it. This reader does the same in one pass into the request's
 * arena, for the requests whose every byte it understands, and says "not
 * taken" for every other: the caller then reads the request the full way,
 * which gives the answer or the error the protocol names. So the reader
 * never refuses anything itself and need not know any error message; what
 * it must keep is that whatever it takes, the full way takes too, as the
 * same typed request (test_proto's differential test holds it to that).
 *
 * Taken: one JSON object (an optional UTF-8 BOM and white space before,
 * white space and NUL padding after), its "op" a string naming a message,
 * every other key a field of that message's request (or "id"), each key
 * once per object, each value of its field's kind as ch_msg_check_json
 * would check it: a string, number, bool, null where the field may be null,
 * an object or a list of objects of the field's own fields. Strings are
 * printable ASCII without escapes; numbers follow RFC 8259 and are at most
 * 40 characters; "id" is such a string or number; "key" a string.
 * Not taken: everything else (escapes, other bytes, PAIRS, STRS and MAP
 * fields, deeper nesting than the schema's, an "id" of another kind, an
 * unknown key, a mistyped value, malformed JSON).
 *
 * Numbers read as cJSON reads them: strtod over the number's characters,
 * so the values are the same doubles (short decimals by one exact division,
 * as correctly rounded as strtod, where doubles are evaluated as doubles:
 * FLT_EVAL_METHOD 0, and no -ffast-math). cJSON puts the locale's decimal
 * point in place of '.'; where that is not '.' (a program that set another
 * locale: chd never does) nothing is taken.
 */
#include <float.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ch/proto.h"
#include "ch/proto_req.h"
#include "req.h"
#include "strict.h"

#define NUM_MAX 40 /* characters of a number taken */

typedef struct rd {
    const unsigned char *p, *e;
    ch_req_arena **a;
    bool mem; /* out of memory: said as CH_ENOMEM, not as "not taken" */
} rd;

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_WS(c)    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

static void ws(rd *r)
{
    while (r->p < r->e && IS_WS(*r->p))
        r->p++;
}

/* At '"': a string of printable ASCII without escapes, its bytes at
 * [*b, *b + *n). */
static bool span(rd *r, const unsigned char **b, size_t *n)
{
    const unsigned char *p = r->p + 1;
    while (p < r->e && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
        p++;
    if (p >= r->e || *p != '"')
        return false;
    *b = r->p + 1;
    *n = (size_t)(p - *b);
    r->p = p + 1;
    return true;
}

/* At '"': the string copied into the arena. */
static bool str(rd *r, ch_value *v)
{
    const unsigned char *b;
    size_t n;
    if (!span(r, &b, &n))
        return false;
    char *s = chi_arena_alloc(r->a, n + 1);
    if (s == NULL) {
        r->mem = true;
        return false;
    }
    memcpy(s, b, n); /* the arena zeroed the NUL */
    *v = (ch_value){.kind = CH_V_STR, .n = (uint32_t)n, .u.str = s};
    return true;
}

/*
 * The double nearest the JSON number @p s (@p n <= NUM_MAX characters), as
 * strtod gives it. Up to 15 significant digits with at most 22 of them after
 * the point and no exponent (prices, quantities, amounts), the digits make
 * an integer below 2^53 and 10^k is exact, so one IEEE division is already
 * correctly rounded, as strtod is (Clinger's fast path); anything else goes
 * to strtod.
 */
static double decimal(const unsigned char *s, size_t n)
{
#if FLT_EVAL_METHOD != 0 /* wider intermediates (x87) could round twice: strtod only */
    char num[NUM_MAX + 1];
    memcpy(num, s, n);
    num[n] = '\0';
    return strtod(num, NULL);
#else
    static const double k_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const unsigned char *p = s, *e = s + n;
    bool neg = p < e && *p == '-';
    p += neg;
    uint64_t m = 0;
    int digits = 0, frac = -1; /* frac: digits after the point, -1 before it */
    for (; p < e; p++) {
        if (*p == '.') {
            frac = 0;
            continue;
        }
        if (!IS_DIGIT(*p) || digits >= 15)
            break; /* an exponent, or too many digits */
        if (m != 0 || *p != '0')
            digits++;
        m = m * 10 + (uint64_t)(*p - '0');
        frac += frac >= 0;
    }
    if (p == e && frac <= 22) {
        double x = (double)m / k_pow10[frac > 0 ? frac : 0];
        return neg ? -x : x;
    }
    char buf[NUM_MAX + 1];
    memcpy(buf, s, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
#endif
}

/* A number by RFC 8259's grammar (the lexer's), of NUM_MAX characters at most. */
static bool num(rd *r, ch_value *v)
{
    const unsigned char *end = chi_json_number_end(r->p, r->e);
    if (end == NULL || (size_t)(end - r->p) > NUM_MAX)
        return false;
    *v = (ch_value){.kind = CH_V_NUM, .u.num = decimal(r->p, (size_t)(end - r->p))};
    r->p = end;
    return true;
}

static bool word(rd *r, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(r->e - r->p) < n || memcmp(r->p, w, n) != 0)
        return false;
    r->p += n;
    return true;
}

static bool object(rd *r, const ch_field *f, size_t nf, ch_fields *out, const ch_msg *top,
                   ch_value *id);

/* After a member of a list or object: 1 at the next one (past ',' and white
 * space), 0 past the container's @p close, -1 at anything else. */
static int after_member(rd *r, unsigned char close)
{
    ws(r);
    if (r->p < r->e && (*r->p == ',' || *r->p == close)) {
        bool comma = *r->p++ == ',';
        if (comma)
            ws(r);
        return comma;
    }
    return -1;
}

/* The value of field @p f, of the kinds ch_msg_check_json takes for it. */
static bool value(rd *r, const ch_field *f, ch_value *v)
{
    if (r->p >= r->e)
        return false;
    unsigned c = *r->p;
    if (c == 'n') {
        v->kind = CH_V_NULL;
        return (f->flags & CH_F_NULL) != 0 && word(r, "null");
    }
    switch (f->type) {
    case CH_FT_STR:
        return c == '"' && str(r, v);
    case CH_FT_INT:
    case CH_FT_NUM:
        return num(r, v);
    case CH_FT_DEC:
    case CH_FT_OID:
        return c == '"' ? str(r, v) : num(r, v);
    case CH_FT_BOOL:
        v->kind = CH_V_BOOL;
        v->u.b = c == 't';
        return word(r, c == 't' ? "true" : "false");
    case CH_FT_OBJ: {
        ch_fields *o = chi_arena_alloc(r->a, sizeof *o);
        if (o == NULL) {
            r->mem = true;
            return false;
        }
        *v = (ch_value){.kind = CH_V_OBJ, .n = 1, .u.obj = o};
        return c == '{' && object(r, f->sub, f->n_sub, o, NULL, NULL);
    }
    case CH_FT_LIST: {
        if (c != '[')
            return false;
        r->p++;
        ws(r);
        size_t n = 0, cap = 16;
        ch_fields *o = chi_arena_alloc(r->a, cap * sizeof *o);
        if (o == NULL) {
            r->mem = true;
            return false;
        }
        if (r->p < r->e && *r->p == ']') {
            r->p++;
        } else {
            for (;;) {
                if (n == cap) { /* grown in the arena: the old block stays until it is freed */
                    ch_fields *g = chi_arena_alloc(r->a, 2 * cap * sizeof *g);
                    if (g == NULL) {
                        r->mem = true;
                        return false;
                    }
                    memcpy(g, o, n * sizeof *o);
                    o = g;
                    cap *= 2;
                }
                if (r->p >= r->e || *r->p != '{' ||
                    !object(r, f->sub, f->n_sub, &o[n++], NULL, NULL))
                    return false;
                int more = after_member(r, ']');
                if (more < 0)
                    return false;
                if (more == 0)
                    break;
            }
        }
        *v = (ch_value){.kind = CH_V_LIST, .n = (uint32_t)n, .u.obj = o};
        return true;
    }
    default: /* PAIRS, STRS, MAP: the full way */
        return false;
    }
}

/*
 * At '{': an object of the fields @p f. At the top (@p top, the message),
 * "op" (its name, checked) and "id" (a string or number, into @p id) are
 * the envelope, and "key" is taken only as a string.
 */
static bool object(rd *r, const ch_field *f, size_t nf, ch_fields *out, const ch_msg *top,
                   ch_value *id)
{
    ch_value *v = chi_arena_alloc(r->a, (nf > 0 ? nf : 1) * sizeof *v);
    if (v == NULL) {
        r->mem = true;
        return false;
    }
    *out = (ch_fields){.f = f, .n = nf, .v = v};
    uint64_t seen = 0; /* bit i: field i; bits 62, 63: "op", "id" */
    r->p++;
    ws(r);
    if (r->p < r->e && *r->p == '}') {
        r->p++;
        return top == NULL; /* a request has its "op" */
    }
    for (;;) {
        const unsigned char *k;
        size_t kn;
        if (r->p >= r->e || *r->p != '"' || !span(r, &k, &kn))
            return false;
        ws(r);
        if (r->p >= r->e || *r->p != ':')
            return false;
        r->p++;
        ws(r);
        size_t i = 0;
        while (i < nf && (f[i].name[0] != (char)k[0] ||
                          strncmp(f[i].name, (const char *)k, kn) != 0 || f[i].name[kn] != '\0'))
            i++;
        if (top != NULL && i == nf && kn == 2 && memcmp(k, "op", 2) == 0) {
            const unsigned char *o;
            size_t on;
            if ((seen >> 62 & 1) || r->p >= r->e || *r->p != '"' || !span(r, &o, &on) ||
                strlen(top->op) != on || memcmp(top->op, o, on) != 0)
                return false;
            seen |= UINT64_C(1) << 62;
        } else if (top != NULL && i == nf && kn == 2 && memcmp(k, "id", 2) == 0) {
            if ((seen >> 63 & 1) || r->p >= r->e || !(*r->p == '"' ? str(r, id) : num(r, id)))
                return false;
            seen |= UINT64_C(1) << 63;
        } else {
            if (i == nf || i >= 62 || (seen >> i & 1))
                return false;
            seen |= UINT64_C(1) << i;
            if (top != NULL && strcmp(f[i].name, "key") == 0) {
                if (r->p >= r->e || *r->p != '"' || !str(r, &v[i]))
                    return false;
            } else if (!value(r, &f[i], &v[i])) {
                return false;
            }
        }
        int more = after_member(r, '}');
        if (more <= 0)
            return more == 0 && (top == NULL || (seen >> 62 & 1));
    }
}

/* The top object's "op", wherever it stands: the message it names, or NULL.
 * Only keys and plain strings are looked at; the reading proper checks the
 * rest. */
static const ch_msg *find_op(const unsigned char *p, const unsigned char *e)
{
    int depth = 0;
    bool key = false; /* the next string at depth 1 is a key */
    while (p < e) {
        unsigned c = *p;
        if (c == '"') {
            const unsigned char *q = p + 1;
            while (q < e && *q != '"' && *q != '\\')
                q++;
            if (q >= e || *q == '\\')
                return NULL; /* escapes: the full way */
            bool is_op = depth == 1 && key && q - p == 3 && memcmp(p + 1, "op", 2) == 0;
            p = q + 1;
            if (!is_op)
                continue;
            while (p < e && IS_WS(*p))
                p++;
            if (p >= e || *p != ':')
                return NULL;
            p++;
            while (p < e && IS_WS(*p))
                p++;
            char name[40];
            if (p >= e || *p != '"')
                return NULL;
            q = p + 1;
            while (q < e && *q != '"' && *q != '\\' && (size_t)(q - p) < sizeof name)
                q++;
            if (q >= e || *q != '"')
                return NULL;
            memcpy(name, p + 1, (size_t)(q - p - 1));
            name[q - p - 1] = '\0';
            return ch_msg_find(name);
        }
        if (c == '{' || c == '[') {
            depth++;
            key = c == '{' && depth == 1;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',' && depth == 1) {
            key = true;
        } else if (c == ':' && depth == 1) {
            key = false;
        }
        p++;
    }
    return NULL;
}

ch_err ch_req_from_text(const char *buf, size_t len, ch_req *req, ch_value *id)
{
    memset(req, 0, sizeof *req);
    *id = (ch_value){.kind = CH_V_ABSENT};
    rd r = {
        .p = (const unsigned char *)buf, .e = (const unsigned char *)buf + len, .a = &req->arena};
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        r.p += 3;
    ws(&r);
    const char *point = localeconv()->decimal_point;
    const ch_msg *m =
        r.p < r.e && *r.p == '{' && strcmp(point, ".") == 0 ? find_op(r.p, r.e) : NULL;
    bool ok = m != NULL && object(&r, m->req, m->n_req, &req->root, m, id);
    while (ok && r.p < r.e && (IS_WS(*r.p) || *r.p == '\0'))
        r.p++;
    if (ok && r.p == r.e) {
        req->m = m;
        return CH_OK;
    }
    ch_req_free(req);
    *id = (ch_value){.kind = CH_V_ABSENT};
    return r.mem ? CH_ENOMEM : CH_EBADREQ;
}
