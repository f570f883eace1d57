/*
 * sim_data.c - the CSV inputs of chsim and the vol surface made from the
 * Deribit chain.
 *
 * The chain snapshot is ETH with inverse quoting (option prices in ETH per
 * 1-ETH contract). Divided by the forward, a Black-76 price is a function of
 * moneyness K/F, tenor and vol only, and Deribit's mark_price is exactly that
 * normalised price (USD value / F). So each out-of-the-money mark gives an
 * implied vol at log-moneyness ln(K/F) without converting currencies, and the
 * surface is kept by moneyness: chsim applies it to BTC as a sticky-moneyness
 * smile and uses the chain's strikes (as K/F) for its listed strike grid.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/kit.h"
#include "sim.h"

#define MAX_FIELDS 32

void sim_series_free(sim_series *s)
{
    free(s->t);
    free(s->v);
    memset(s, 0, sizeof *s);
}

double sim_series_at(const sim_series *s, ch_time t)
{
    if (s->n == 0)
        return 0.0;
    size_t lo = 0, hi = s->n; /* last index with s->t[i] <= t */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->t[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return s->v[lo];
}

bool sim_resolve(const sim_config *c, const char *name, char *out, size_t cap)
{
    struct stat st;
    if (name[0] == '\0')
        return false;
    if (stat(name, &st) == 0) {
        snprintf(out, cap, "%s", name);
        return true;
    }
    if (name[0] != '/' && c->data_dir[0] != '\0') {
        int n = snprintf(out, cap, "%s/%s", c->data_dir, name);
        if (n > 0 && (size_t)n < cap && stat(out, &st) == 0)
            return true;
    }
    return false;
}

/* Split a line in place at commas; returns the field count. */
static size_t split(char *line, char **f, size_t max)
{
    size_t n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (c == NULL)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static bool push(sim_series *s, size_t *cap, ch_time t, double v)
{
    size_t tcap = *cap;
    if (!kit_reserve(&s->t, &tcap, s->n, sizeof *s->t, 1024) ||
        !kit_reserve(&s->v, cap, s->n, sizeof *s->v, 1024))
        return false;
    s->t[s->n] = t;
    s->v[s->n++] = v;
    return true;
}

static bool parse_num(const char *s, double *out)
{
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(x))
        return false;
    *out = x;
    return true;
}

/* Sort a series ascending (the price file is newest first); refuse duplicates. */
static bool finish_series(sim_series *s, const char *path, char *msg, size_t cap)
{
    if (s->n < 2) {
        snprintf(msg, cap, "%s: fewer than two rows", path);
        return false;
    }
    if (s->t[0] > s->t[s->n - 1])
        for (size_t i = 0, j = s->n - 1; i < j; i++, j--) {
            ch_time t = s->t[i];
            s->t[i] = s->t[j];
            s->t[j] = t;
            double v = s->v[i];
            s->v[i] = s->v[j];
            s->v[j] = v;
        }
    for (size_t i = 1; i < s->n; i++)
        if (s->t[i] <= s->t[i - 1]) {
            snprintf(msg, cap, "%s: times are not strictly ordered near row %zu", path, i + 1);
            return false;
        }
    return true;
}

bool sim_read_csv(const char *path, sim_row_fn fn, void *ctx, char *msg, size_t cap)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(msg, cap, "%s: cannot open", path);
        return false;
    }
    char *line = NULL;
    size_t lcap = 0, lineno = 0;
    bool ok = true;
    while (ok && getline(&line, &lcap, fp) > 0) {
        if (++lineno == 1)
            continue;
        if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0')
            continue;
        char *f[MAX_FIELDS];
        size_t n = split(line, f, MAX_FIELDS);
        ok = fn(ctx, f, n, lineno, msg, cap);
    }
    free(line);
    fclose(fp);
    return ok;
}

typedef struct series_ctx {
    sim_series *s;
    size_t cap;
    const char *path;
} series_ctx;

static bool price_row(void *ctx, char **f, size_t n, size_t line, char *msg, size_t cap)
{
    series_ctx *sc = ctx;
    double unix_s, close;
    if (n < 7 || !parse_num(f[0], &unix_s) || !parse_num(f[6], &close) || close <= 0) {
        snprintf(msg, cap, "%s:%zu: expected unix,date,symbol,open,high,low,close,...", sc->path,
                 line);
        return false;
    }
    /* one pair in the whole file: its quote currency is the report's */
    char *pair = sc->s->pair;
    if (sc->s->n == 0 && (f[2][0] == '\0' || strlen(f[2]) >= sizeof sc->s->pair)) {
        snprintf(msg, cap, "%s:%zu: the symbol column (\"%.40s\") is not a pair like BTC/USD",
                 sc->path, line, f[2]);
        return false;
    }
    if (sc->s->n == 0)
        memcpy(pair, f[2], strlen(f[2]) + 1);
    else if (strcmp(pair, f[2]) != 0) {
        snprintf(msg, cap,
                 "%s:%zu: symbol \"%.40s\" where the file began with \"%s\": one pair a file",
                 sc->path, line, f[2], pair);
        return false;
    }
    if (!push(sc->s, &sc->cap, (ch_time)llround(unix_s) * CH_NS_PER_SEC, close)) {
        snprintf(msg, cap, "%s: out of memory", sc->path);
        return false;
    }
    return true;
}

static bool load_series(const char *path, sim_row_fn row, sim_series *out, char *msg, size_t cap)
{
    memset(out, 0, sizeof *out);
    series_ctx sc = {.s = out, .path = path};
    if (!sim_read_csv(path, row, &sc, msg, cap) || !finish_series(out, path, msg, cap)) {
        sim_series_free(out);
        return false;
    }
    return true;
}

bool sim_load_prices(const char *path, sim_series *out, char *msg, size_t cap)
{
    return load_series(path, price_row, out, msg, cap);
}

bool sim_pair_quotes_usd(const char *pair, const char *base, const char *path, char *msg,
                         size_t cap)
{
    static const char *const usd[] = {"USD", "USDT", "USDC"};
    size_t nb = strlen(base);
    const char *q = strncmp(pair, base, nb) == 0 ? pair + nb : NULL;
    if (q != NULL && (*q == '/' || *q == '-' || *q == '_'))
        q++;
    for (size_t i = 0; q != NULL && i < sizeof usd / sizeof usd[0]; i++)
        if (strcmp(q, usd[i]) == 0)
            return true;
    snprintf(msg, cap,
             "%s: prices of %s, where chsim needs %s quoted in USD (BTC/USD, BTC-USD, BTCUSD; "
             "USDT or USDC for USD): every money figure of the report is in the price file's "
             "quote currency",
             path, pair, base);
    return false;
}

static bool parse_date(const char *s, ch_time *t)
{
    return strlen(s) == 10 && ch_date_parse(s, t) == CH_OK;
}

static bool funding_row(void *ctx, char **f, size_t n, size_t line, char *msg, size_t cap)
{
    series_ctx *sc = ctx;
    ch_time t;
    double rate;
    if (n < 2 || !parse_date(f[0], &t) || !parse_num(f[1], &rate) || fabs(rate) > 0.1) {
        snprintf(msg, cap, "%s:%zu: expected date,funding_mean,...", sc->path, line);
        return false;
    }
    if (!push(sc->s, &sc->cap, t, rate)) {
        snprintf(msg, cap, "%s: out of memory", sc->path);
        return false;
    }
    return true;
}

bool sim_load_funding(const char *path, sim_series *out, char *msg, size_t cap)
{
    return load_series(path, funding_row, out, msg, cap);
}

/* ---- the chain ---------------------------------------------------------------- */

typedef struct chain_pt {
    double x, iv;
} chain_pt;

typedef struct chain_exp {
    ch_time expiry;
    double tau;
    size_t n, nk;
    chain_pt pt[SIM_STRIKES_MAX];
    double k[SIM_STRIKES_MAX];
} chain_exp;

typedef struct chain_ctx {
    const char *path;
    size_t n;
    chain_exp e[SIM_TENORS_MAX];
} chain_ctx;

/* Deribit writes expiries as the symbols do ("5JAN24", "25DEC26"). */
static bool parse_deribit_date(const char *s, ch_time *t)
{
    return ch_expiry_parse(s, strlen(s), t) == CH_OK;
}

enum {
    COL_CREATED = 5,
    COL_UNDERLYING = 10,
    COL_MARK = 12,
    COL_EXPIRE = 21,
    COL_STRIKE = 22,
    COL_TYPE = 23,
    N_COLS = 24
};

static bool chain_row(void *ctx, char **f, size_t n, size_t line, char *msg, size_t cap)
{
    chain_ctx *cc = ctx;
    double created, fwd, mark, strike;
    ch_time expiry;
    if (n < N_COLS || !parse_num(f[COL_CREATED], &created) || !parse_num(f[COL_UNDERLYING], &fwd) ||
        !parse_num(f[COL_MARK], &mark) || !parse_num(f[COL_STRIKE], &strike) ||
        !parse_deribit_date(f[COL_EXPIRE], &expiry) || fwd <= 0 || strike <= 0 ||
        (strcmp(f[COL_TYPE], "C") != 0 && strcmp(f[COL_TYPE], "P") != 0)) {
        snprintf(msg, cap, "%s:%zu: not a Deribit book-summary row", cc->path, line);
        return false;
    }
    size_t i = 0;
    while (i < cc->n && cc->e[i].expiry != expiry)
        i++;
    if (i == cc->n) {
        if (cc->n == SIM_TENORS_MAX) {
            snprintf(msg, cap, "%s: more than %d expiries", cc->path, SIM_TENORS_MAX);
            return false;
        }
        memset(&cc->e[i], 0, sizeof cc->e[i]);
        cc->e[i].expiry = expiry;
        cc->e[i].tau = ((double)expiry / CH_NS_PER_SEC - created / 1000.0) / (365.0 * 86400.0);
        cc->n++;
    }
    chain_exp *e = &cc->e[i];
    double m = strike / fwd;
    bool call = f[COL_TYPE][0] == 'C';
    if (call && e->nk < SIM_STRIKES_MAX) /* each strike once (calls and puts share it) */
        e->k[e->nk++] = m;
    /* out-of-the-money marks only: their vols are the ones quoted */
    double iv;
    if ((call == (m >= 1.0)) && mark > 0 && e->tau > 0 && e->n < SIM_STRIKES_MAX &&
        ch_implied_vol(call ? CH_OPT_CALL : CH_OPT_PUT, 1.0, m, e->tau, 0, 0, mark, &iv) == CH_OK &&
        iv > 0.01 && iv < 5)
        e->pt[e->n++] = (chain_pt){log(m), iv};
    return true;
}

static int cmp_pt(const void *a, const void *b)
{
    double x = ((const chain_pt *)a)->x, y = ((const chain_pt *)b)->x;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_exp(const void *a, const void *b)
{
    double x = ((const chain_exp *)a)->tau, y = ((const chain_exp *)b)->tau;
    return x < y ? -1 : x > y;
}

/* Vol at x from sorted points: linear between, flat beyond. */
static double interp_pts(const chain_pt *p, size_t n, double x)
{
    if (x <= p[0].x)
        return p[0].iv;
    if (x >= p[n - 1].x)
        return p[n - 1].iv;
    size_t i = 1;
    while (p[i].x < x)
        i++;
    double a = (x - p[i - 1].x) / (p[i].x - p[i - 1].x);
    return p[i - 1].iv + a * (p[i].iv - p[i - 1].iv);
}

static double grid_x(size_t i)
{
    return -1.0 + SIM_X_STEP * (double)i;
}

/* Total variance non-decreasing in tenor at every grid point; the 30-day ATM vol. */
static void surface_finish(sim_surface *s)
{
    for (size_t j = 1; j < s->n; j++)
        for (size_t i = 0; i < SIM_X_N; i++)
            if (s->w[j][i] < s->w[j - 1][i])
                s->w[j][i] = s->w[j - 1][i];
    s->atm30 = sim_surface_vol(s, 30.0 / 365.0, 0.0);
}

bool sim_load_chain(const char *path, sim_surface *out, char *msg, size_t cap)
{
    chain_ctx *cc = calloc(1, sizeof *cc);
    if (cc == NULL) {
        snprintf(msg, cap, "%s: out of memory", path);
        return false;
    }
    cc->path = path;
    bool ok = sim_read_csv(path, chain_row, cc, msg, cap);
    memset(out, 0, sizeof *out);
    if (ok) {
        qsort(cc->e, cc->n, sizeof cc->e[0], cmp_exp);
        for (size_t j = 0; j < cc->n; j++) {
            chain_exp *e = &cc->e[j];
            if (e->n < 3 || e->tau <= 0)
                continue; /* too few quoted vols to make a smile */
            qsort(e->pt, e->n, sizeof e->pt[0], cmp_pt);
            qsort(e->k, e->nk, sizeof e->k[0], cmp_dbl);
            size_t t = out->n++;
            out->tau[t] = e->tau;
            for (size_t i = 0; i < SIM_X_N; i++) {
                double v = interp_pts(e->pt, e->n, grid_x(i));
                out->w[t][i] = v * v * e->tau;
            }
            out->n_k[t] = e->nk;
            memcpy(out->moneyness[t], e->k, e->nk * sizeof e->k[0]);
        }
        if (out->n == 0) {
            snprintf(msg, cap, "%s: no expiry with at least three implied vols", path);
            ok = false;
        }
    }
    free(cc);
    if (ok)
        surface_finish(out);
    return ok;
}

void sim_surface_flat(sim_surface *s, double vol)
{
    memset(s, 0, sizeof *s);
    s->n = 2;
    s->tau[0] = 1.0 / 365;
    s->tau[1] = 2.0;
    for (size_t j = 0; j < 2; j++) {
        for (size_t i = 0; i < SIM_X_N; i++)
            s->w[j][i] = vol * vol * s->tau[j];
        for (size_t k = 0; k <= 30; k++)
            s->moneyness[j][s->n_k[j]++] = 0.5 + 0.05 * (double)k;
    }
    surface_finish(s);
}

/* Total variance of tenor j at x: linear in x between grid points, flat beyond. */
static double w_at(const sim_surface *s, size_t j, double x)
{
    double u = (x - grid_x(0)) / SIM_X_STEP;
    if (u <= 0)
        return s->w[j][0];
    if (u >= SIM_X_N - 1)
        return s->w[j][SIM_X_N - 1];
    size_t i = (size_t)u;
    double a = u - (double)i;
    return s->w[j][i] + a * (s->w[j][i + 1] - s->w[j][i]);
}

double sim_surface_vol(const sim_surface *s, double tau, double x)
{
    if (tau <= s->tau[0])
        return sqrt(w_at(s, 0, x) / s->tau[0]);
    if (tau >= s->tau[s->n - 1])
        return sqrt(w_at(s, s->n - 1, x) / s->tau[s->n - 1]);
    size_t j = 1;
    while (s->tau[j] < tau)
        j++;
    double a = (tau - s->tau[j - 1]) / (s->tau[j] - s->tau[j - 1]);
    double w = w_at(s, j - 1, x) + a * (w_at(s, j, x) - w_at(s, j - 1, x));
    return sqrt(w / tau);
}
