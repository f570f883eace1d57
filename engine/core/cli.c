/*
 * cli.c - the programs' shared command-line pieces (see ch/cli.h). getopt's
 * own messages are turned off and rebuilt here from what getopt_long leaves
 * behind (optind, optopt), so that every program words them the same way and
 * names the option as the user typed it.
 */
#include "ch/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/version.h"

void ch_cli_reset(void)
{
    optind = 0;
}

void ch_cli_hint(const char *prog)
{
    fprintf(stderr, "Try '%s --help'.\n", prog);
}

void ch_cli_version(const char *prog)
{
    printf("%s %s\n", prog, CH_VERSION);
}

/* Does argv element @p el (a "--name[=value]") name the long option whose value is @p val? */
static bool names_option(const char *el, int val, const struct option *lo)
{
    size_t n = strcspn(el + 2, "=");
    for (; lo != NULL && lo->name != NULL; lo++)
        if (lo->val == val && strncmp(lo->name, el + 2, n) == 0)
            return true;
    return false;
}

/* An unknown or ambiguous "--name[=value]": which, and the candidates. */
static void report_long(const char *prog, const char *el, const struct option *lo)
{
    int n = (int)strcspn(el + 2, "=");
    const struct option *first = NULL;
    bool ambiguous = false;
    for (const struct option *o = lo; o != NULL && o->name != NULL; o++) {
        if (strncmp(o->name, el + 2, (size_t)n) != 0)
            continue;
        if (first == NULL)
            first = o;
        else if (o->has_arg != first->has_arg || o->flag != first->flag || o->val != first->val)
            ambiguous = true;
    }
    if (!ambiguous) {
        fprintf(stderr, "%s: unknown option '--%.*s'\n", prog, n, el + 2);
        return;
    }
    fprintf(stderr, "%s: ambiguous option '--%.*s' (could be", prog, n, el + 2);
    const char *sep = " ";
    for (const struct option *o = lo; o->name != NULL; o++)
        if (strncmp(o->name, el + 2, (size_t)n) == 0) {
            fprintf(stderr, "%s--%s", sep, o->name);
            sep = ", ";
        }
    fprintf(stderr, ")\n");
}

static void report(const char *prog, char **argv, bool missing, const struct option *lo)
{
    const char *el = optind > 0 ? argv[optind - 1] : "";
    bool is_long =
        strncmp(el, "--", 2) == 0 && el[2] != '\0' && (optopt == 0 || names_option(el, optopt, lo));
    if (!is_long)
        fprintf(stderr, missing ? "%s: option '-%c' needs a value\n" : "%s: unknown option '-%c'\n",
                prog, optopt);
    else if (missing)
        fprintf(stderr, "%s: option '%s' needs a value\n", prog, el);
    else if (optopt != 0)
        fprintf(stderr, "%s: option '%.*s' takes no value\n", prog, (int)strcspn(el, "="), el);
    else
        report_long(prog, el, lo);
    ch_cli_hint(prog);
}

int ch_cli_next(const char *prog, int argc, char **argv, const char *shortopts,
                const struct option *longopts)
{
    /* a leading ':' (after '+') makes a missing value ':' rather than '?' */
    char spec[128];
    bool plus = shortopts[0] == '+';
    snprintf(spec, sizeof spec, "%s:%s", plus ? "+" : "", shortopts + (plus ? 1 : 0));
    opterr = 0;
    int c = getopt_long(argc, argv, spec, longopts, NULL);
    if (c != '?' && c != ':')
        return c;
    report(prog, argv, c == ':', longopts);
    return '?';
}

bool ch_cli_no_operands(const char *prog, int argc, char **argv)
{
    if (optind >= argc)
        return true;
    fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
    ch_cli_hint(prog);
    return false;
}

bool ch_cli_long(const char *prog, const char *opt, const char *arg, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (arg[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "%s: %s: expected a whole number in %ld..%ld, not '%s'\n", prog, opt, min,
                max, arg);
        return false;
    }
    *out = v;
    return true;
}

bool ch_cli_u64(const char *prog, const char *opt, const char *arg, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0) {
        fprintf(stderr, "%s: %s: expected a whole number in 0..%llu, not '%s'\n", prog, opt,
                (unsigned long long)UINT64_MAX, arg);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

bool ch_cli_double(const char *prog, const char *opt, const char *arg, double min, double max,
                   double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (arg[0] != '\0' && *end == '\0' && errno == 0 && isfinite(v) && v >= min && v <= max) {
        *out = v;
        return true;
    }
    if (isinf(min) && isinf(max))
        fprintf(stderr, "%s: %s: expected a number, not '%s'\n", prog, opt, arg);
    else if (isinf(max))
        fprintf(stderr, "%s: %s: expected a number >= %g, not '%s'\n", prog, opt, min, arg);
    else
        fprintf(stderr, "%s: %s: expected a number in %g..%g, not '%s'\n", prog, opt, min, max,
                arg);
    return false;
}

bool ch_cli_fits(const char *prog, const char *opt, const char *arg, size_t cap)
{
    if (strlen(arg) < cap)
        return true;
    fprintf(stderr, "%s: %s: longer than %zu bytes\n", prog, opt, cap - 1);
    return false;
}
