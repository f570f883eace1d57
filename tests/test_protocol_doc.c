/*
 * test_protocol_doc.c - proto/PROTOCOL.md, the contract every client relies
 * on, against the code: the message table (ch/proto_msg.h) and the error
 * table (ch/err.h).
 *
 * The document has a machine-readable part, described in it:
 *   - "## Messages": one table `| op | code | writes | access | ... |`;
 *   - "## Op reference": a "### `op`" section per op, holding a table
 *     `| request field | JSON type | required | meaning |` and a table
 *     `| result field | JSON type | binary | meaning |`; nested fields are
 *     written `orders[].qty` (a list's element) and `totals.delta` (an
 *     object's member); the `key` of every request is not repeated;
 *   - "## Error codes": one table `| number | error.code | C name | ... |`.
 * Every op, request field (its type and whether it is required), binary
 * result field, op code and error code must be in both the code and the
 * document; each difference is printed, and the suite fails.
 *
 * The document's path is compiled in (CH_PROTOCOL_DOC); the environment
 * variable of the same name overrides it (to try a changed copy).
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/err.h"
#include "ch/proto_msg.h"
#include "ch_check.h"

#ifndef CH_PROTOCOL_DOC
#define CH_PROTOCOL_DOC "proto/PROTOCOL.md"
#endif

enum { MAX_OPS = 64, MAX_ROWS = 192, MAX_ERRS = 128, NAME_CAP = 96 };

typedef struct row {
    char name[NAME_CAP];
    char type[40];
    char flag[16]; /* request: required / optional; result: yes / JSON only */
} row;

typedef struct doc_op {
    char op[40];
    long code; /* from "Messages"; -1: not there */
    char writes[8];
    int sections; /* "### `op`" headings */
    row req[MAX_ROWS], res[MAX_ROWS];
    size_t n_req, n_res;
} doc_op;

typedef struct doc_err {
    long number;
    char wire[40], cname[40];
} doc_err;

typedef struct doc {
    doc_op ops[MAX_OPS];
    size_t n_ops;
    doc_err errs[MAX_ERRS];
    size_t n_errs;
    size_t index_rows, ref_sections, err_rows;
} doc;

static doc D;
static int problems;

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("PROTOCOL.md: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    problems++;
}

/* ---- reading the document ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Split table line @p line (modified) into at most @p cap cells; "\|" is
 * text, not a border. @return the number of cells. */
static size_t cells_of(char *line, char **cell, size_t cap)
{
    size_t n = 0;
    char *p = trim(line);
    if (*p != '|')
        return 0;
    char *start = ++p;
    for (; *p != '\0'; p++) {
        if (*p == '\\' && p[1] == '|') {
            p++;
        } else if (*p == '|') {
            *p = '\0';
            if (n < cap)
                cell[n++] = trim(start);
            start = p + 1;
        }
    }
    return n;
}

/* The text of a cell that is one code span, `x`, into @p out; false otherwise. */
static bool code_span(const char *cell, char *out, size_t cap)
{
    size_t n = strlen(cell);
    if (n < 3 || cell[0] != '`' || cell[n - 1] != '`' || memchr(cell + 1, '`', n - 2) != NULL ||
        n - 2 >= cap)
        return false;
    memcpy(out, cell + 1, n - 2);
    out[n - 2] = '\0';
    return true;
}

static bool parse_long(const char *s, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0')
        return false;
    *out = v;
    return true;
}

static doc_op *doc_find(const char *op, bool add)
{
    for (size_t i = 0; i < D.n_ops; i++)
        if (strcmp(D.ops[i].op, op) == 0)
            return &D.ops[i];
    if (!add || D.n_ops == MAX_OPS)
        return NULL;
    doc_op *o = &D.ops[D.n_ops++];
    memset(o, 0, sizeof *o);
    snprintf(o->op, sizeof o->op, "%s", op);
    o->code = -1;
    return o;
}

static void add_row(row *rows, size_t *n, const char *op, char **c)
{
    char name[NAME_CAP];
    if (!code_span(c[0], name, sizeof name)) {
        problem("op %s: a field cell that is not one `name`: %s", op, c[0]);
        return;
    }
    for (size_t i = 0; i < *n; i++)
        if (strcmp(rows[i].name, name) == 0) {
            problem("op %s: field %s listed twice", op, name);
            return;
        }
    if (*n == MAX_ROWS) {
        problem("op %s: too many fields", op);
        return;
    }
    row *r = &rows[(*n)++];
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->type, sizeof r->type, "%s", c[1]);
    snprintf(r->flag, sizeof r->flag, "%s", c[2]);
}

typedef enum { T_NONE, T_INDEX, T_REQ, T_RES, T_ERR } table_kind;

/* One table row (not a header or a border) of kind @p t. */
static void table_row(table_kind t, doc_op *cur, char **c, size_t n)
{
    char name[NAME_CAP];
    if (t == T_INDEX) {
        D.index_rows++;
        doc_op *o = n >= 3 && code_span(c[0], name, sizeof name) ? doc_find(name, true) : NULL;
        if (o == NULL || !parse_long(c[1], &o->code))
            problem("Messages: a bad row: | %s |", n > 0 ? c[0] : "");
        else
            snprintf(o->writes, sizeof o->writes, "%s", c[2]);
    } else if (t == T_REQ || t == T_RES) {
        if (cur == NULL || n < 4)
            problem("a field table outside an op's section, or a short row");
        else if (t == T_REQ)
            add_row(cur->req, &cur->n_req, cur->op, c);
        else
            add_row(cur->res, &cur->n_res, cur->op, c);
    } else if (t == T_ERR) {
        D.err_rows++;
        doc_err *e = D.n_errs < MAX_ERRS ? &D.errs[D.n_errs] : NULL;
        if (e == NULL || n < 3 || !parse_long(c[0], &e->number) ||
            !code_span(c[1], e->wire, sizeof e->wire) ||
            !code_span(c[2], e->cname, sizeof e->cname))
            problem("Error codes: a bad row: | %s |", n > 0 ? c[0] : "");
        else
            D.n_errs++;
    }
}

static table_kind header_kind(const char *first)
{
    return strcmp(first, "op") == 0              ? T_INDEX
           : strcmp(first, "request field") == 0 ? T_REQ
           : strcmp(first, "result field") == 0  ? T_RES
           : strcmp(first, "number") == 0        ? T_ERR
                                                 : T_NONE;
}

/* Read the document into D; false (reported) if it cannot be read. */
static bool load(void)
{
    memset(&D, 0, sizeof D);
    problems = 0;
    const char *path = getenv("CH_PROTOCOL_DOC");
    if (path == NULL || path[0] == '\0')
        path = CH_PROTOCOL_DOC;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        problem("cannot open %s", path);
        return false;
    }
    char line[4096], section[128] = "";
    doc_op *cur = NULL;
    table_kind t = T_NONE;
    bool in_table = false;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *s = trim(line);
        if (s[0] != '|') {
            in_table = false;
            t = T_NONE;
        }
        if (strncmp(s, "## ", 3) == 0) {
            snprintf(section, sizeof section, "%s", trim(s + 3));
            cur = NULL;
        } else if (strncmp(s, "### ", 4) == 0) {
            char op[40];
            cur = NULL;
            if (strcmp(section, "Op reference") == 0) {
                if (!code_span(trim(s + 4), op, sizeof op)) {
                    problem("Op reference: a heading that is not one `op`: %s", s);
                } else if ((cur = doc_find(op, true)) != NULL) {
                    cur->sections++;
                    D.ref_sections++;
                }
            }
        } else if (s[0] == '|') {
            char *c[8];
            size_t n = cells_of(s, c, 8);
            if (n == 0)
                continue;
            if (!in_table) { /* the header */
                in_table = true;
                t = header_kind(c[0]);
                if ((t == T_INDEX && strcmp(section, "Messages") != 0) ||
                    (t == T_ERR && strcmp(section, "Error codes") != 0) ||
                    ((t == T_REQ || t == T_RES) && strcmp(section, "Op reference") != 0))
                    t = T_NONE; /* a table of the same shape elsewhere (1.0's ops) */
            } else if (strncmp(c[0], "---", 3) != 0) {
                table_row(t, cur, c, n);
            }
        }
    }
    fclose(f);
    if (D.index_rows == 0 || D.ref_sections == 0 || D.err_rows == 0)
        problem("%s: no Messages table, Op reference sections or Error codes table", path);
    return true;
}

/* ---- the code's side ---- */

static const char *type_word(ch_ftype t)
{
    switch (t) {
    case CH_FT_STR:
        return "string";
    case CH_FT_INT:
        return "integer";
    case CH_FT_NUM:
        return "number";
    case CH_FT_BOOL:
        return "boolean";
    case CH_FT_DEC:
        return "decimal";
    case CH_FT_OID:
        return "id";
    case CH_FT_OBJ:
        return "object";
    case CH_FT_LIST:
        return "array of objects";
    case CH_FT_PAIRS:
        return "array of pairs";
    case CH_FT_STRS:
        return "array of strings";
    case CH_FT_MAP:
        return "map";
    }
    return "?";
}

typedef struct flat {
    char name[NAME_CAP];
    char type[40];
    int flags;
} flat;

/* The fields of @p f, nested ones as "a[].b" / "a.b", into @p out. */
static void flatten(const ch_field *f, size_t n, const char *prefix, bool top, flat *out, size_t *k,
                    size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        if (top && strcmp(f[i].name, "key") == 0)
            continue; /* every request's; the document says so once */
        if (*k == cap)
            return;
        flat *x = &out[(*k)++];
        snprintf(x->name, sizeof x->name, "%s%s", prefix, f[i].name);
        snprintf(x->type, sizeof x->type, "%s%s", type_word(f[i].type),
                 (f[i].flags & CH_F_NULL) ? " or null" : "");
        x->flags = f[i].flags;
        if (f[i].type == CH_FT_OBJ || f[i].type == CH_FT_LIST) {
            char sub[NAME_CAP + 4];
            snprintf(sub, sizeof sub, "%s%s", x->name, f[i].type == CH_FT_LIST ? "[]." : ".");
            flatten(f[i].sub, f[i].n_sub, sub, false, out, k, cap);
        }
    }
}

static const flat *flat_find(const flat *x, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(x[i].name, name) == 0)
            return &x[i];
    return NULL;
}

static const row *row_find(const row *r, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].name, name) == 0)
            return &r[i];
    return NULL;
}

static flat g_flat[MAX_ROWS];

/* ---- the checks ---- */

START_TEST(every_op_documented)
{
    ck_assert(load());
    for (size_t i = 0; i < CH_MSG_COUNT; i++) {
        const ch_msg *m = ch_msg_get((ch_msg_id)i);
        const doc_op *o = doc_find(m->op, false);
        if (o == NULL || o->code < 0) {
            problem("op %s (code %u) is in the message table, not in Messages", m->op,
                    (unsigned)m->code);
        } else {
            if (o->code != (long)m->code)
                problem("op %s: code %ld in Messages, %u in the table", m->op, o->code,
                        (unsigned)m->code);
            if (strcmp(o->writes, m->mutating ? "yes" : "no") != 0)
                problem("op %s: writes \"%s\" in Messages, the table says %s", m->op, o->writes,
                        m->mutating ? "yes" : "no");
        }
        if (o == NULL || o->sections != 1)
            problem("op %s: %d sections \"### `%s`\" in Op reference, 1 expected", m->op,
                    o != NULL ? o->sections : 0, m->op);
    }
    for (size_t i = 0; i < D.n_ops; i++)
        if (ch_msg_find(D.ops[i].op) == NULL)
            problem("op %s is documented, not in the message table (ch/proto_msg.h)", D.ops[i].op);
    ck_assert_int_eq(problems, 0);
}
END_TEST

START_TEST(request_fields_match)
{
    ck_assert(load());
    for (size_t i = 0; i < CH_MSG_COUNT; i++) {
        const ch_msg *m = ch_msg_get((ch_msg_id)i);
        const doc_op *o = doc_find(m->op, false);
        if (o == NULL)
            continue; /* every_op_documented reports it */
        size_t n = 0;
        flatten(m->req, m->n_req, "", true, g_flat, &n, MAX_ROWS);
        for (size_t k = 0; k < n; k++) {
            const flat *x = &g_flat[k];
            const row *r = row_find(o->req, o->n_req, x->name);
            const char *need = (x->flags & CH_F_REQ) ? "required" : "optional";
            if (r == NULL)
                problem("op %s: request field %s (%s, %s) is in the table, not documented", m->op,
                        x->name, x->type, need);
            else if (strcmp(r->type, x->type) != 0 || strcmp(r->flag, need) != 0)
                problem("op %s: request field %s is \"%s, %s\" in the document, \"%s, %s\" in "
                        "the table",
                        m->op, x->name, r->type, r->flag, x->type, need);
        }
        for (size_t k = 0; k < o->n_req; k++)
            if (flat_find(g_flat, n, o->req[k].name) == NULL)
                problem("op %s: request field %s is documented, not in the table", m->op,
                        o->req[k].name);
    }
    ck_assert_int_eq(problems, 0);
}
END_TEST

START_TEST(binary_result_fields_match)
{
    ck_assert(load());
    for (size_t i = 0; i < CH_MSG_COUNT; i++) {
        const ch_msg *m = ch_msg_get((ch_msg_id)i);
        const doc_op *o = doc_find(m->op, false);
        if (o == NULL)
            continue;
        size_t n = 0;
        flatten(m->rep, m->n_rep, "", false, g_flat, &n, MAX_ROWS);
        for (size_t k = 0; k < n; k++) {
            const flat *x = &g_flat[k];
            const row *r = row_find(o->res, o->n_res, x->name);
            if (r == NULL)
                problem("op %s: result field %s (%s) is in the table, not documented", m->op,
                        x->name, x->type);
            else if (strcmp(r->type, x->type) != 0 || strcmp(r->flag, "yes") != 0)
                problem("op %s: result field %s is \"%s, binary %s\" in the document, \"%s\" "
                        "and binary in the table",
                        m->op, x->name, r->type, r->flag, x->type);
        }
        for (size_t k = 0; k < o->n_res; k++) {
            const row *r = &o->res[k];
            bool in_table = flat_find(g_flat, n, r->name) != NULL;
            if (strcmp(r->flag, "yes") != 0 && strcmp(r->flag, "JSON only") != 0)
                problem("op %s: result field %s: binary column \"%s\", not yes or JSON only", m->op,
                        r->name, r->flag);
            else if (!in_table && strcmp(r->flag, "yes") == 0)
                problem("op %s: result field %s is documented as binary, not in the table", m->op,
                        r->name);
            else if (in_table && strcmp(r->flag, "JSON only") == 0)
                problem("op %s: result field %s is documented JSON only, the table has it", m->op,
                        r->name);
        }
    }
    ck_assert_int_eq(problems, 0);
}
END_TEST

typedef struct code_err {
    long number;
    const char *cname, *wire;
} code_err;

static const code_err k_errs[] = {
#define ROW_(name, num, wire, msg) {num, #name, wire},
    CH_ERR_TABLE(ROW_)
#undef ROW_
};

START_TEST(error_codes_match)
{
    ck_assert(load());
    size_t n = sizeof k_errs / sizeof k_errs[0];
    for (size_t i = 0; i < n; i++) {
        const code_err *c = &k_errs[i];
        if (c->number == CH_OK)
            continue; /* success, not an error code */
        const doc_err *d = NULL;
        for (size_t k = 0; k < D.n_errs && d == NULL; k++)
            if (D.errs[k].number == c->number)
                d = &D.errs[k];
        if (d == NULL)
            problem("error %ld (%s, %s) is in ch/err.h, not in Error codes", c->number, c->wire,
                    c->cname);
        else if (strcmp(d->wire, c->wire) != 0 || strcmp(d->cname, c->cname) != 0)
            problem("error %ld is %s %s in the document, %s %s in ch/err.h", c->number, d->wire,
                    d->cname, c->wire, c->cname);
    }
    for (size_t k = 0; k < D.n_errs; k++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = k_errs[i].number == D.errs[k].number && D.errs[k].number != CH_OK;
        if (!found)
            problem("error %ld (%s) is documented, not in ch/err.h", D.errs[k].number,
                    D.errs[k].wire);
        for (size_t j = 0; j < k; j++)
            if (D.errs[j].number == D.errs[k].number)
                problem("error %ld is listed twice", D.errs[k].number);
    }
    ck_assert_int_eq(problems, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("protocol_doc");
    TCase *tc = tcase_create("contract");
    tcase_add_test(tc, every_op_documented);
    tcase_add_test(tc, request_fields_match);
    tcase_add_test(tc, binary_result_fields_match);
    tcase_add_test(tc, error_codes_match);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
