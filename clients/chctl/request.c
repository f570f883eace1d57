/*
 * request.c - a protocol request from chctl's command line.
 *
 * The options of `chctl OP` and `chctl GROUP ACTION` (op GROUP.ACTION) are
 * the request fields of the op's row in the message table (ch/proto_msg.h),
 * the fields chd reads: chctl offers exactly those, per op, and anything else
 * is an error naming it, so a misspelled option never reaches the server.
 * A field's option is its name with '-' for '_' (--client-order-id; the '_'
 * spelling is accepted too). Values follow the field's type: STR and OID a
 * string, INT and NUM a number, DEC a number (else a string: a decimal
 * string price, an ISO-8601 time), BOOL a flag without a value (true), MAP,
 * OBJ, LIST, PAIRS and STRS a JSON value (--iv '{"27NOV26": 0.6}'). Required
 * fields must be given; a later option replaces an earlier one.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/cli.h"
#include "ch/proto_msg.h"
#include "chctl.h"

#define OPT_NAME_MAX 48
#define VAL_FIELD    256 /* getopt value of field i: VAL_FIELD + i */

/* How a field's value is shown in the usage (display only). */
static const struct {
    const char *field, *metavar;
} k_metavars[] = {
    {"account", "NAME"},       {"symbol", "SYMBOL"},   {"side", "buy|sell"},
    {"type", "limit|market"},  {"tif", "gtc|ioc|fok"}, {"underlying", "UNDERLYING"},
    {"time", "ISO-8601|NS"},   {"iv", "JSON"},         {"orders", "JSON"},
    {"cash", "USD"},           {"amount", "USD"},      {"key", "KEY"},
    {"client_order_id", "ID"}, {"order_id", "ID"},     {"price", "PRICE"},
    {"index", "PRICE"},
};

static const char *metavar(const ch_field *f)
{
    for (size_t i = 0; i < sizeof k_metavars / sizeof k_metavars[0]; i++)
        if (strcmp(k_metavars[i].field, f->name) == 0)
            return k_metavars[i].metavar;
    switch (f->type) {
    case CH_FT_INT:
        return "N";
    case CH_FT_NUM:
    case CH_FT_DEC:
        return "NUMBER";
    case CH_FT_OID:
        return "ID";
    case CH_FT_STR:
        return "TEXT";
    default:
        return "JSON";
    }
}

static void dashed(const char *name, char *out)
{
    snprintf(out, OPT_NAME_MAX, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = '-';
}

/* Words of a usage line, wrapped at 79 columns under the first word's end. */
typedef struct line {
    FILE *f;
    int col, indent;
} line;

static void word(line *l, const char *w)
{
    int n = (int)strlen(w);
    if (l->col + 1 + n > 79 && l->col > l->indent) {
        fprintf(l->f, "\n%*s", l->indent - 1, "");
        l->col = l->indent - 1;
    }
    l->col += fprintf(l->f, " %s", w);
}

/* The operand's name in the usage: the field's name in capitals. */
static void operand(const char *field, char *out)
{
    snprintf(out, OPT_NAME_MAX, "%s", field);
    for (char *p = out; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
}

/* The order of fields in a usage line: the operand, the required fields,
 * the optional ones, the key. */
static int rank(const ch_field *fd, const char *positional)
{
    if (positional != NULL && strcmp(fd->name, positional) == 0)
        return 0;
    if (strcmp(fd->name, "key") == 0)
        return 3;
    return (fd->flags & CH_F_REQ) ? 1 : 2;
}

/* "LEAD --field VALUE ... [--field VALUE]" for @p m; @p positional is shown as an operand. */
static void synopsis(FILE *f, const char *lead, const ch_msg *m, const char *positional)
{
    line l = {f, 0, 0};
    l.col = fprintf(f, "%s", lead);
    l.indent = l.col < 40 ? l.col + 1 : 8;
    for (int pass = 0; pass < 4; pass++) {
        for (size_t i = 0; i < m->n_req; i++) {
            const ch_field *fd = &m->req[i];
            if (rank(fd, positional) != pass)
                continue;
            bool req = (fd->flags & CH_F_REQ) != 0;
            char name[OPT_NAME_MAX], w[2 * OPT_NAME_MAX + 8];
            dashed(fd->name, name);
            if (pass == 0) {
                operand(fd->name, name);
                snprintf(w, sizeof w, req ? "%s" : "[%s]", name);
            } else if (fd->type == CH_FT_BOOL) {
                snprintf(w, sizeof w, req ? "--%s" : "[--%s]", name);
            } else {
                snprintf(w, sizeof w, req ? "--%s %s" : "[--%s %s]", name, metavar(fd));
            }
            word(&l, w);
        }
    }
    fprintf(f, "\n");
}

void chctl_request_usage(FILE *f, const char *prog, const char *op, const char *positional)
{
    const ch_msg *m = ch_msg_find(op);
    if (m == NULL)
        return;
    char lead[96];
    snprintf(lead, sizeof lead, "usage: %s", prog);
    synopsis(f, lead, m, positional);
    fprintf(f, "sends \"%s\" (PROTOCOL.md) and prints the reply; --key: this request's own key\n",
            op);
    if (positional != NULL)
        fprintf(f, "the operand is the same as --%s\n", positional);
}

/* The actions of GROUP (ops "GROUP.ACTION" in the table), each with its options. */
void chctl_group_usage(FILE *f, const char *group)
{
    fprintf(f, "usage: chctl %s ACTION [OPTIONS]   (chctl %s ACTION --help: one action)\n", group,
            group);
    size_t n = strlen(group);
    for (int i = 0; i < CH_MSG_COUNT; i++) {
        const ch_msg *m = ch_msg_get((ch_msg_id)i);
        if (strncmp(m->op, group, n) != 0 || m->op[n] != '.')
            continue;
        char lead[96];
        int at = snprintf(lead, sizeof lead, "  chctl %s ", group);
        snprintf(lead + at, sizeof lead - (size_t)at, "%s", m->op + n + 1);
        for (char *p = lead + at; *p; p++) /* pool.tranche.add: chctl pool tranche-add */
            if (*p == '.')
                *p = '-';
        synopsis(f, lead, m, NULL);
    }
}

/* @p arg as field @p fd's JSON value, or NULL after an error naming the option. */
static cJSON *value(const char *prog, const char *opt, const ch_field *fd, const char *arg)
{
    char *end;
    double d;
    switch (fd->type) {
    case CH_FT_STR:
    case CH_FT_OID:
        return cJSON_CreateString(arg);
    case CH_FT_BOOL:
        return cJSON_CreateTrue();
    case CH_FT_INT:
    case CH_FT_NUM:
    case CH_FT_DEC:
        d = strtod(arg, &end);
        if (arg[0] != '\0' && *end == '\0' && isfinite(d))
            return cJSON_CreateNumber(d);
        if (fd->type == CH_FT_DEC)
            return cJSON_CreateString(arg);
        fprintf(stderr, "%s: --%s: expected a number, not '%s'\n", prog, opt, arg);
        return NULL;
    default: {
        bool object = fd->type == CH_FT_OBJ || fd->type == CH_FT_MAP;
        cJSON *j = cJSON_ParseWithOpts(arg, NULL, true); /* nothing after the value */
        if (j != NULL && (object ? cJSON_IsObject(j) : cJSON_IsArray(j)))
            return j;
        cJSON_Delete(j);
        fprintf(stderr, "%s: --%s: expected a JSON %s, not '%s'\n", prog, opt,
                object ? "object" : "array", arg);
        return NULL;
    }
    }
}

static void put(cJSON *r, const char *key, cJSON *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(r, key);
    cJSON_AddItemToObject(r, key, v);
}

/* Fill @p r from the options: 0 to send it, -1 after --help, 2 after an error (printed). */
static int parse(cJSON *r, const ch_msg *m, const char *prog, const char *positional, int argc,
                 char **argv)
{
    struct option lo[2 * CH_MSG_MAX_FIELDS + 2];
    char names[CH_MSG_MAX_FIELDS][OPT_NAME_MAX];
    size_t n = 0;
    if (m->n_req > CH_MSG_MAX_FIELDS)
        return 2;
    for (size_t i = 0; i < m->n_req; i++) {
        const ch_field *fd = &m->req[i];
        int has_arg = fd->type == CH_FT_BOOL ? no_argument : required_argument;
        dashed(fd->name, names[i]);
        lo[n++] = (struct option){names[i], has_arg, NULL, VAL_FIELD + (int)i};
        if (strcmp(names[i], fd->name) != 0)
            lo[n++] = (struct option){fd->name, has_arg, NULL, VAL_FIELD + (int)i};
    }
    lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n] = (struct option){NULL, 0, NULL, 0};
    int c;
    ch_cli_reset();
    while ((c = ch_cli_next(prog, argc, argv, "h", lo)) != -1) {
        if (c == 'h') {
            chctl_request_usage(stdout, prog, m->op, positional);
            return -1;
        }
        if (c < VAL_FIELD || c >= VAL_FIELD + (int)m->n_req)
            return 2;
        const ch_field *fd = &m->req[c - VAL_FIELD];
        cJSON *v = value(prog, names[c - VAL_FIELD], fd, optarg);
        if (v == NULL)
            return 2;
        put(r, fd->name, v);
    }
    if (positional != NULL && optind < argc) {
        if (cJSON_GetObjectItemCaseSensitive(r, positional) != NULL) {
            fprintf(stderr, "%s: '%s' and --%s: give one\n", prog, argv[optind], positional);
            return 2;
        }
        put(r, positional, cJSON_CreateString(argv[optind++]));
    }
    if (!ch_cli_no_operands(prog, argc, argv))
        return 2;
    for (size_t i = 0; i < m->n_req; i++) {
        if ((m->req[i].flags & CH_F_REQ) &&
            cJSON_GetObjectItemCaseSensitive(r, m->req[i].name) == NULL) {
            char up[OPT_NAME_MAX];
            operand(m->req[i].name, up);
            if (positional != NULL && strcmp(m->req[i].name, positional) == 0)
                fprintf(stderr, "%s: missing %s (or --%s)\n", prog, up, names[i]);
            else
                fprintf(stderr, "%s: missing --%s\n", prog, names[i]);
            ch_cli_hint(prog);
            return 2;
        }
    }
    return 0;
}

int chctl_request(const char *op, const char *prog, const char *positional, int argc, char **argv,
                  cJSON **out)
{
    *out = NULL;
    const ch_msg *m = ch_msg_find(op);
    cJSON *r = cJSON_CreateObject();
    if (m == NULL || r == NULL || cJSON_AddStringToObject(r, "op", op) == NULL) {
        fprintf(stderr, "%s: %s\n", prog,
                m == NULL ? "not an op of the protocol" : "out of memory");
        cJSON_Delete(r);
        return 2;
    }
    int rc = parse(r, m, prog, positional, argc, argv);
    if (rc != 0) {
        cJSON_Delete(r);
        return rc < 0 ? 0 : rc;
    }
    *out = r;
    return 0;
}
