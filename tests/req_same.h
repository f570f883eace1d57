/*
 * req_same.h - for the protocol's tests and fuzzers: whether two typed
 * requests (ch/proto_req.h) hold the same values, kind for kind (numbers
 * with their sign of zero).
 */
#ifndef CH_TEST_REQ_SAME_H
#define CH_TEST_REQ_SAME_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "ch/proto_req.h"

/* The same double: equal, with the same sign of zero (or both NaN). */
static inline bool same_num(double a, double b)
{
    return (a == b && signbit(a) == signbit(b)) || (isnan(a) && isnan(b));
}

/* Whether two typed requests hold the same values, kind for kind. */
static inline bool same_fields(const ch_fields *a, const ch_fields *b)
{
    if (a->n != b->n || a->f != b->f)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const ch_value *x = &a->v[i], *y = &b->v[i];
        if (x->kind != y->kind ||
            (x->kind >= CH_V_STR && x->kind != CH_V_NUM && x->kind != CH_V_BOOL && x->n != y->n))
            return false;
        bool same = true;
        switch (x->kind) {
        case CH_V_STR:
            same = memcmp(x->u.str, y->u.str, x->n + 1) == 0;
            break;
        case CH_V_NUM:
            same = same_num(x->u.num, y->u.num);
            break;
        case CH_V_BOOL:
            same = x->u.b == y->u.b;
            break;
        case CH_V_OBJ:
        case CH_V_LIST:
            for (uint32_t k = 0; k < x->n && same; k++)
                same = same_fields(&x->u.obj[k], &y->u.obj[k]);
            break;
        case CH_V_MAP:
            for (uint32_t k = 0; k < x->n && same; k++)
                same = strcmp(x->u.map[k].name, y->u.map[k].name) == 0 &&
                       same_num(x->u.map[k].num, y->u.map[k].num);
            break;
        default:
            break;
        }
        if (!same)
            return false;
    }
    return true;
}

#endif
