/*
 * print.c - a cJSON tree printed as cJSON_PrintUnformatted() prints it,
 * byte for byte, in a fraction of its time (see ch/proto.h).
 *
 * cJSON 1.7.15 prints every number that is not a 32-bit integer with
 * sprintf("%1.15g") and reads it back with sscanf("%lg") to decide whether
 * 17 digits are needed; an integer beyond 32 bits (an order id, a time)
 * takes that path too, and a reply of a dozen numbers spends most of its
 * printing there. Here:
 *  - an integral value under 10^15 in magnitude is printed with its digits,
 *    which is what "%1.15g" gives for it (%g switches to an exponent only at
 *    10^15, its precision), -0 as "-0";
 *  - any other finite value takes cJSON's own two steps, "%1.15g" then
 *    "%1.17g" when the first does not read back equal (by cJSON's
 *    comparison), read back with strtod, the conversion sscanf's %lg makes;
 *  - NaN and infinities print null, as cJSON prints them;
 *  - strings are escaped as cJSON escapes them: \" \\ \b \f \n \r \t, other
 *    bytes under 0x20 as \u00xx (lower-case hex), every other byte as is; a
 *    missing string prints "";
 *  - raw items print their text (none: the print fails, as cJSON's does);
 *    an item of no known type fails it too.
 * tests/test_proto.c compares both printers over random trees.
 */
#include "ch/proto.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
    char *p;
    size_t len, cap;
    bool failed;
    char decimal_point; /* the locale's, which cJSON turns into '.' */
} out;

static bool grow(out *o, size_t more)
{
    if (o->failed)
        return false;
    if (o->len + more < o->cap)
        return true;
    size_t cap = o->cap * 2;
    while (cap <= o->len + more)
        cap *= 2;
    char *p = cJSON_malloc(cap);
    if (p == NULL) {
        o->failed = true;
        return false;
    }
    memcpy(p, o->p, o->len);
    cJSON_free(o->p);
    o->p = p;
    o->cap = cap;
    return true;
}

static void put(out *o, const char *s, size_t n)
{
    if (!grow(o, n))
        return;
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_c(out *o, char c)
{
    if (grow(o, 1))
        o->p[o->len++] = c;
}

/* cJSON's compare_double: equal within a relative DBL_EPSILON */
static bool same_double(double a, double b)
{
    double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= max * DBL_EPSILON;
}

static void print_number(out *o, double d)
{
    char buf[32];
    int n;
    if (isnan(d) || isinf(d)) {
        put(o, "null", 4);
        return;
    }
    if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d && !(d == 0 && signbit(d))) {
        /* the integer's digits, written backwards */
        int64_t v = (int64_t)d;
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        char *e = buf + sizeof buf, *q = e;
        do {
            *--q = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (v < 0)
            *--q = '-';
        put(o, q, (size_t)(e - q));
        return;
    }
    n = snprintf(buf, sizeof buf, "%1.15g", d);
    if (n > 0 && (size_t)n < sizeof buf) {
        char *end;
        double back = strtod(buf, &end);
        if (end != buf + n || !same_double(back, d))
            n = snprintf(buf, sizeof buf, "%1.17g", d);
    }
    if (n <= 0 || (size_t)n >= sizeof buf) {
        o->failed = true;
        return;
    }
    for (int i = 0; i < n; i++)
        if (buf[i] == o->decimal_point)
            buf[i] = '.';
    put(o, buf, (size_t)n);
}

static void print_string(out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put_c(o, '"');
    if (s != NULL) {
        const char *run = s; /* bytes copied as they are, in one go */
        for (; *s != '\0'; s++) {
            unsigned char c = (unsigned char)*s;
            if (c >= 0x20 && c != '"' && c != '\\')
                continue;
            put(o, run, (size_t)(s - run));
            run = s + 1;
            char esc[6] = {'\\', 0};
            size_t n = 2;
            switch (c) {
            case '"':
                esc[1] = '"';
                break;
            case '\\':
                esc[1] = '\\';
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            }
            put(o, esc, n);
        }
        put(o, run, (size_t)(s - run));
    }
    put_c(o, '"');
}

static void print_value(out *o, const cJSON *item)
{
    switch (item->type & 0xff) {
    case cJSON_NULL:
        put(o, "null", 4);
        return;
    case cJSON_False:
        put(o, "false", 5);
        return;
    case cJSON_True:
        put(o, "true", 4);
        return;
    case cJSON_Number:
        print_number(o, item->valuedouble);
        return;
    case cJSON_String:
        print_string(o, item->valuestring);
        return;
    case cJSON_Raw:
        if (item->valuestring == NULL)
            o->failed = true;
        else
            put(o, item->valuestring, strlen(item->valuestring));
        return;
    case cJSON_Array:
        put_c(o, '[');
        for (const cJSON *c = item->child; c != NULL && !o->failed; c = c->next) {
            print_value(o, c);
            if (c->next != NULL)
                put_c(o, ',');
        }
        put_c(o, ']');
        return;
    case cJSON_Object:
        put_c(o, '{');
        for (const cJSON *c = item->child; c != NULL && !o->failed; c = c->next) {
            print_string(o, c->string);
            put_c(o, ':');
            print_value(o, c);
            if (c->next != NULL)
                put_c(o, ',');
        }
        put_c(o, '}');
        return;
    default:
        o->failed = true;
        return;
    }
}

char *ch_json_print(const cJSON *item)
{
    if (item == NULL)
        return NULL;
    const struct lconv *lc = localeconv();
    out o = {.cap = 256,
             .decimal_point = lc != NULL && lc->decimal_point != NULL ? lc->decimal_point[0] : '.'};
    o.p = cJSON_malloc(o.cap);
    if (o.p == NULL)
        return NULL;
    print_value(&o, item);
    put_c(&o, '\0');
    if (o.failed) {
        cJSON_free(o.p);
        return NULL;
    }
    return o.p;
}
