/*
 * pricer.c - `chctl price` and `chctl iv`: CSV in on stdin, CSV out on stdout.
 *
 *   price: type,S,K,T,r,q,sigma  ->  type,S,K,T,r,q,sigma,price,delta,gamma,
 *                                      vega,theta,rho,vanna,volga
 *   iv:    type,S,K,T,r,q,price  ->  type,S,K,T,r,q,price,sigma
 *
 * Inputs are echoed and every number printed with 17 significant digits (so
 * they read back to the same double). A malformed row gets an error on stderr
 * naming its line and is skipped; the exit status is then 1. A price with no
 * implied vol is not an error: its sigma is `nan`.
 */
#include <ctype.h>
#include <strings.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/cli.h"
#include "ch/risk.h"
#include "chctl.h"

#define MAX_LINE 4096

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Split a line into exactly n comma-separated trimmed fields. */
static int split(char *line, char **f, int n)
{
    int k = 0;
    char *p = line;
    for (;;) {
        char *c = strchr(p, ',');
        if (k == n)
            return -1;
        if (c != NULL)
            *c = '\0';
        f[k++] = trim(p);
        if (c == NULL)
            break;
        p = c + 1;
    }
    return k == n ? 0 : -1;
}

static int parse_num(const char *s, double *out)
{
    if (*s == '\0')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_type(const char *s, ch_opt *out)
{
    if (strcasecmp(s, "call") == 0 || strcasecmp(s, "c") == 0) {
        *out = CH_OPT_CALL;
        return 0;
    }
    if (strcasecmp(s, "put") == 0 || strcasecmp(s, "p") == 0) {
        *out = CH_OPT_PUT;
        return 0;
    }
    return -1;
}

static int header_is(const char *line, const char *want)
{
    char buf[MAX_LINE];
    size_t o = 0;
    for (const char *p = line; *p && o + 1 < sizeof buf; p++)
        if (!isspace((unsigned char)*p))
            buf[o++] = *p;
    buf[o] = '\0';
    return strcmp(buf, want) == 0;
}

static int run(FILE *in, FILE *out, FILE *err, bool iv)
{
    const char *cmd = iv ? "iv" : "price";
    const char *in_hdr = iv ? "type,S,K,T,r,q,price" : "type,S,K,T,r,q,sigma";
    char line[MAX_LINE];
    long lineno = 0;
    int status = 0;
    bool header_seen = false;
    if (iv)
        fputs("type,S,K,T,r,q,price,sigma\n", out);
    else
        fputs("type,S,K,T,r,q,sigma,price,delta,gamma,vega,theta,rho,vanna,volga\n", out);
    while (fgets(line, sizeof line, in) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            fprintf(err, "chctl %s: line %ld: longer than %d bytes\n", cmd, lineno, MAX_LINE - 2);
            status = 1;
            int c;
            while ((c = fgetc(in)) != EOF && c != '\n')
                ;
            continue;
        }
        char *t = trim(line);
        if (*t == '\0')
            continue;
        if (!header_seen) {
            header_seen = true;
            if (!header_is(t, in_hdr)) {
                fprintf(err, "chctl %s: line %ld: expected the header line %s\n", cmd, lineno,
                        in_hdr);
                return 1;
            }
            continue;
        }
        char *f[7];
        double v[6];
        ch_opt type;
        if (split(t, f, 7) != 0) {
            fprintf(err, "chctl %s: line %ld: expected 7 comma-separated fields\n", cmd, lineno);
            status = 1;
            continue;
        }
        if (parse_type(f[0], &type) != 0) {
            fprintf(err, "chctl %s: line %ld: type must be call or put, not \"%s\"\n", cmd, lineno,
                    f[0]);
            status = 1;
            continue;
        }
        int bad = -1;
        for (int i = 0; i < 6 && bad < 0; i++)
            if (parse_num(f[i + 1], &v[i]) != 0)
                bad = i;
        static const char *const names_p[6] = {"S", "K", "T", "r", "q", "sigma"};
        static const char *const names_i[6] = {"S", "K", "T", "r", "q", "price"};
        if (bad >= 0) {
            fprintf(err, "chctl %s: line %ld: %s is not a finite number: \"%s\"\n", cmd, lineno,
                    (iv ? names_i : names_p)[bad], f[bad + 1]);
            status = 1;
            continue;
        }
        const char *tn = type == CH_OPT_CALL ? "call" : "put";
        if (!iv) {
            ch_greeks g;
            if (ch_bs(type, v[0], v[1], v[2], v[3], v[4], v[5], &g) != CH_OK) {
                fprintf(err, "chctl price: line %ld: invalid inputs (S, K > 0; T, sigma >= 0)\n",
                        lineno);
                status = 1;
                continue;
            }
            fprintf(out,
                    "%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,"
                    "%.17g,%.17g\n",
                    tn, v[0], v[1], v[2], v[3], v[4], v[5], g.price, g.delta, g.gamma, g.vega,
                    g.theta, g.rho, g.vanna, g.volga);
        } else {
            double sigma;
            ch_err e = ch_implied_vol(type, v[0], v[1], v[2], v[3], v[4], v[5], &sigma);
            if (e == CH_EINVAL) {
                fprintf(err, "chctl iv: line %ld: invalid inputs (S, K, T > 0)\n", lineno);
                status = 1;
                continue;
            }
            if (e == CH_OK)
                fprintf(out, "%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", tn, v[0], v[1], v[2],
                        v[3], v[4], v[5], sigma);
            else
                fprintf(out, "%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,nan\n", tn, v[0], v[1], v[2],
                        v[3], v[4], v[5]);
        }
    }
    if (!header_seen) {
        fprintf(err, "chctl %s: no input (expected the header line %s)\n", cmd, in_hdr);
        return 1;
    }
    return status;
}

static void price_usage(FILE *f)
{
    fprintf(f, "usage: chctl price < CSV   (type,S,K,T,r,q,sigma -> the same columns, price,\n"
               "       delta, gamma, vega, theta, rho, vanna, volga)\n");
}

static void iv_usage(FILE *f)
{
    fprintf(f, "usage: chctl iv < CSV   (type,S,K,T,r,q,price -> the same columns, sigma)\n");
}

/* Options (--help only) and no operands: -1 to run, else the exit status. */
static int args(const char *prog, int argc, char **argv, void (*usage)(FILE *))
{
    int rc = chctl_plain_args(prog, argc, argv, usage);
    if (rc < 0 && !ch_cli_no_operands(prog, argc, argv))
        rc = CH_CLI_USAGE;
    return rc;
}

int chctl_price(int argc, char **argv)
{
    int rc = args("chctl price", argc, argv, price_usage);
    return rc >= 0 ? rc : run(stdin, stdout, stderr, false);
}

int chctl_iv(int argc, char **argv)
{
    int rc = args("chctl iv", argc, argv, iv_usage);
    return rc >= 0 ? rc : run(stdin, stdout, stderr, true);
}
