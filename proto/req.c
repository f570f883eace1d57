/*
 * req.c - the typed request (ch/proto_req.h): its arena, its reading from
 * a checked JSON object, its JSON form (for the binary encoder and the
 * tests), and the field readers the server's handlers use.
 *
 * The readers map each problem to the error the protocol names; they are
 * the same for both encodings because both decoders give the same values
 * (an INT field is a number, an order id in binary a decimal string, a
 * price a number or a decimal string as it was sent).
 */
#include "ch/proto_req.h"

#include <ctype.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/core/alloc.h"
#include "ch/limits.h"
#include "req.h"

/* ---- the arena ---- */

struct ch_req_arena {
    ch_req_arena *next;
    size_t used, cap;
    max_align_t data[];
};

#define ARENA_CHUNK 4000

void *chi_arena_alloc(ch_req_arena **a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n == 0)
        n = 8;
    if (*a == NULL || (*a)->cap - (*a)->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        ch_req_arena *c = ch_malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->next = *a;
        c->used = 0;
        c->cap = cap;
        *a = c;
    }
    void *p = (char *)(*a)->data + (*a)->used;
    (*a)->used += n;
    memset(p, 0, n);
    return p;
}

void chi_arena_free(ch_req_arena *a)
{
    while (a != NULL) {
        ch_req_arena *next = a->next;
        free(a);
        a = next;
    }
}

void ch_req_free(ch_req *r)
{
    if (r == NULL)
        return;
    chi_arena_free(r->arena);
    r->arena = NULL;
    r->root.v = NULL;
    r->root.n = 0;
}

/* ---- from a checked JSON object ---- */

ch_value ch_value_of_json(const cJSON *v)
{
    ch_value x = {.kind = CH_V_ABSENT};
    if (v == NULL)
        return x;
    if (cJSON_IsNull(v)) {
        x.kind = CH_V_NULL;
    } else if (cJSON_IsString(v) && v->valuestring != NULL) {
        x.kind = CH_V_STR;
        x.u.str = v->valuestring;
        x.n = (uint32_t)strlen(v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        x.kind = CH_V_NUM;
        x.u.num = v->valuedouble;
    } else if (cJSON_IsBool(v)) {
        x.kind = CH_V_BOOL;
        x.u.b = cJSON_IsTrue(v);
    } else {
        x.kind = CH_V_OTHER;
    }
    return x;
}

static bool obj_of_json(const ch_field *f, size_t n, const cJSON *j, ch_req_arena **a,
                        ch_fields *out);

/* The value of @p j for field @p f; false: out of memory. */
static bool val_of_json(const ch_field *f, const cJSON *j, ch_req_arena **a, ch_value *out)
{
    *out = ch_value_of_json(j);
    if (out->kind != CH_V_OTHER)
        return true;
    uint32_t n = (uint32_t)cJSON_GetArraySize(j);
    const cJSON *x;
    uint32_t i = 0;
    if (cJSON_IsObject(j) && f->type == CH_FT_OBJ) {
        ch_fields *o = chi_arena_alloc(a, sizeof *o);
        if (o == NULL || !obj_of_json(f->sub, f->n_sub, j, a, o))
            return false;
        out->kind = CH_V_OBJ;
        out->n = 1;
        out->u.obj = o;
    } else if (cJSON_IsObject(j) && f->type == CH_FT_MAP) {
        ch_entry *m = chi_arena_alloc(a, (n > 0 ? n : 1) * sizeof *m);
        if (m == NULL)
            return false;
        cJSON_ArrayForEach(x, j)
        {
            if (!cJSON_IsNumber(x))
                return true; /* CH_V_OTHER */
            m[i].name = x->string;
            m[i++].num = x->valuedouble;
        }
        out->kind = CH_V_MAP;
        out->n = n;
        out->u.map = m;
    } else if (cJSON_IsArray(j) && f->type == CH_FT_LIST) {
        ch_fields *o = chi_arena_alloc(a, (n > 0 ? n : 1) * sizeof *o);
        if (o == NULL)
            return false;
        cJSON_ArrayForEach(x, j)
        {
            if (!cJSON_IsObject(x))
                return true;
            if (!obj_of_json(f->sub, f->n_sub, x, a, &o[i++]))
                return false;
        }
        out->kind = CH_V_LIST;
        out->n = n;
        out->u.obj = o;
    } else if (cJSON_IsArray(j) && f->type == CH_FT_STRS) {
        const char **s = chi_arena_alloc(a, (n > 0 ? n : 1) * sizeof *s);
        if (s == NULL)
            return false;
        cJSON_ArrayForEach(x, j)
        {
            if (!cJSON_IsString(x))
                return true;
            s[i++] = x->valuestring;
        }
        out->kind = CH_V_STRS;
        out->n = n;
        out->u.strs = s;
    } else if (cJSON_IsArray(j) && f->type == CH_FT_PAIRS) {
        double *p = chi_arena_alloc(a, (n > 0 ? 2 * n : 1) * sizeof *p);
        if (p == NULL)
            return false;
        cJSON_ArrayForEach(x, j)
        {
            if (cJSON_GetArraySize(x) != 2 || !cJSON_IsNumber(x->child) ||
                !cJSON_IsNumber(x->child->next))
                return true;
            p[i++] = x->child->valuedouble;
            p[i++] = x->child->next->valuedouble;
        }
        out->kind = CH_V_PAIRS;
        out->n = n;
        out->u.pairs = p;
    }
    return true;
}

static bool obj_of_json(const ch_field *f, size_t n, const cJSON *j, ch_req_arena **a,
                        ch_fields *out)
{
    ch_value *v = chi_arena_alloc(a, (n > 0 ? n : 1) * sizeof *v);
    if (v == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!val_of_json(&f[i], cJSON_GetObjectItemCaseSensitive(j, f[i].name), a, &v[i]))
            return false;
    *out = (ch_fields){.f = f, .n = n, .v = v};
    return true;
}

ch_err ch_req_from_json(const ch_msg *m, const cJSON *j, ch_req *r)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    if (!obj_of_json(m->req, m->n_req, j, &r->arena, &r->root)) {
        ch_req_free(r);
        return CH_ENOMEM;
    }
    return CH_OK;
}

const ch_value *ch_fields_get(const ch_fields *o, const char *name)
{
    static const ch_value absent = {.kind = CH_V_ABSENT};
    for (size_t i = 0; o != NULL && i < o->n; i++)
        if (o->f[i].name[0] == name[0] && strcmp(o->f[i].name, name) == 0)
            return &o->v[i];
    return &absent;
}

/* ---- to JSON ---- */

static cJSON *json_of(const ch_value *v, const ch_field *f)
{
    cJSON *x = NULL;
    switch (v->kind) {
    case CH_V_NULL:
        return cJSON_CreateNull();
    case CH_V_STR:
        return cJSON_CreateString(v->u.str);
    case CH_V_NUM:
        return cJSON_CreateNumber(v->u.num);
    case CH_V_BOOL:
        return cJSON_CreateBool(v->u.b);
    case CH_V_OBJ:
        return ch_fields_to_json(v->u.obj, NULL);
    case CH_V_LIST:
    case CH_V_PAIRS:
    case CH_V_STRS:
        x = cJSON_CreateArray();
        for (uint32_t i = 0; x != NULL && i < v->n; i++) {
            cJSON *e = v->kind == CH_V_LIST    ? ch_fields_to_json(&v->u.obj[i], NULL)
                       : v->kind == CH_V_PAIRS ? cJSON_CreateDoubleArray(&v->u.pairs[2 * i], 2)
                                               : cJSON_CreateString(v->u.strs[i]);
            if (e == NULL || !cJSON_AddItemToArray(x, e)) {
                cJSON_Delete(e);
                cJSON_Delete(x);
                return NULL;
            }
        }
        return x;
    case CH_V_MAP:
        x = cJSON_CreateObject();
        for (uint32_t i = 0; x != NULL && i < v->n; i++)
            if (cJSON_AddNumberToObject(x, v->u.map[i].name, v->u.map[i].num) == NULL) {
                cJSON_Delete(x);
                return NULL;
            }
        return x;
    case CH_V_ABSENT:
    case CH_V_OTHER:
        break;
    }
    (void)f;
    return NULL;
}

cJSON *ch_fields_to_json(const ch_fields *o, const char *op)
{
    cJSON *j = cJSON_CreateObject();
    if (j == NULL || (op != NULL && cJSON_AddStringToObject(j, "op", op) == NULL)) {
        cJSON_Delete(j);
        return NULL;
    }
    for (size_t i = 0; i < o->n; i++) {
        if (o->v[i].kind == CH_V_ABSENT || o->v[i].kind == CH_V_OTHER)
            continue;
        cJSON *x = json_of(&o->v[i], &o->f[i]);
        if (x == NULL || !cJSON_AddItemToObject(j, o->f[i].name, x)) {
            cJSON_Delete(x);
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

/* ---- field readers ---- */

ch_err ch_proto_string(const ch_value *v, bool required, char *out, size_t max)
{
    if (v->kind == CH_V_ABSENT)
        return required ? CH_EBADREQ : CH_OK;
    if (v->kind != CH_V_STR || v->n == 0 || v->n >= max)
        return CH_EBADREQ;
    memcpy(out, v->u.str, (size_t)v->n + 1);
    return CH_OK;
}

ch_err ch_proto_qty(const ch_value *v, bool required, int64_t *out)
{
    if (v->kind == CH_V_ABSENT)
        return required ? CH_EBADREQ : CH_OK;
    if (v->kind != CH_V_NUM)
        return CH_EBADQTY;
    double d = v->u.num;
    if (!(d >= 1) || d > (double)CH_QTY_MAX || floor(d) != d)
        return CH_EBADQTY;
    *out = (int64_t)d;
    return CH_OK;
}

ch_err ch_proto_price(const ch_value *v, const ch_underlying_config *u, bool required,
                      int64_t *ticks, bool *present)
{
    if (present != NULL)
        *present = v->kind != CH_V_ABSENT;
    if (v->kind == CH_V_ABSENT)
        return required ? CH_EBADREQ : CH_OK;
    if (v->kind == CH_V_NUM)
        return ch_price_from_double(u, v->u.num, ticks);
    if (v->kind == CH_V_STR)
        return ch_price_parse(u, v->u.str, v->n, ticks);
    return CH_EBADPRICE;
}

ch_err ch_proto_number(const ch_value *v, bool required, double *out, bool *present)
{
    if (present != NULL)
        *present = v->kind != CH_V_ABSENT;
    if (v->kind == CH_V_ABSENT)
        return required ? CH_EBADREQ : CH_OK;
    double d;
    if (v->kind == CH_V_NUM) {
        d = v->u.num;
    } else if (v->kind == CH_V_STR) {
        char *end;
        d = strtod(v->u.str, &end);
        if (end == v->u.str || *end != '\0')
            return CH_EBADREQ;
    } else {
        return CH_EBADREQ;
    }
    if (!isfinite(d))
        return CH_EBADREQ;
    *out = d;
    return CH_OK;
}

ch_err ch_proto_bool(const ch_value *v, bool dflt, bool *out)
{
    if (v->kind == CH_V_ABSENT) {
        *out = dflt;
        return CH_OK;
    }
    if (v->kind != CH_V_BOOL)
        return CH_EBADREQ;
    *out = v->u.b;
    return CH_OK;
}

ch_err ch_proto_order_id(const ch_value *v, ch_order_id *out)
{
    if (v->kind == CH_V_NUM) {
        double d = v->u.num;
        if (!(d >= 1) || d > 9007199254740992.0 || floor(d) != d)
            return CH_EUNKNOWN_ORDER;
        out->v = (uint64_t)d;
        return CH_OK;
    }
    if (v->kind != CH_V_STR || v->n == 0)
        return CH_EBADREQ;
    uint64_t x = 0;
    for (const char *p = v->u.str; *p; p++) {
        if (*p < '0' || *p > '9')
            return CH_EUNKNOWN_ORDER;
        uint64_t d = (uint64_t)(*p - '0');
        if (x > UINT64_MAX / 10 || (x == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return CH_EUNKNOWN_ORDER; /* beyond 64 bits: no such order */
        x = x * 10 + d;
    }
    out->v = x;
    return CH_OK;
}

ch_err ch_proto_time(const ch_value *v, ch_time *out, bool *present)
{
    if (present != NULL)
        *present = v->kind != CH_V_ABSENT;
    if (v->kind == CH_V_ABSENT)
        return CH_OK;
    if (v->kind == CH_V_NUM) {
        double d = v->u.num;
        if (!(d >= 0) || d > 9.2e18)
            return CH_EBADREQ;
        *out = (ch_time)d;
        return CH_OK;
    }
    if (v->kind != CH_V_STR)
        return CH_EBADREQ;
    const char *s = v->u.str;
    ch_time second;
    if (ch_datetime_parse(s, &second) != CH_OK)
        return CH_EBADREQ;
    const char *p = s + 19;
    int64_t frac = 0, scale = CH_NS_PER_SEC;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return CH_EBADREQ;
        while (isdigit((unsigned char)*p)) {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
            p++;
        }
    }
    if (strcmp(p, "Z") != 0)
        return CH_EBADREQ;
    *out = second + frac;
    return CH_OK;
}
