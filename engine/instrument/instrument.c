/*
 * instrument.c - symbols, ticks and the registry of listed series.
 *
 * Design:
 *  - Parsing is strict and allocation-free: a symbol either parses into a
 *    ch_symbol or returns a specific error, and the output is only written on
 *    success.
 *  - The registry is sized once at creation (arrays of max_instruments and an
 *    open-addressing hash of twice that, keyed by the parsed fields, never by
 *    text, so "5JAN27" and "05JAN27" find the same series).
 *  - Series are never removed: an expired series keeps its id so that fills
 *    and positions that refer to it stay valid.
 *  - Prices are exact: decimal text <-> integer ticks with no floating point,
 *    and doubles only accepted when within 1e-9 (relative) of a tick.
 */
#include "ch/instrument.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/alloc.h"
#include "../core/snap.h"

static const char *const k_months[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                         "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* n decimal digits at s, or -1 if any is not a digit */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

ch_err ch_date_parse(const char *s, ch_time *out)
{
    int y = digits(s, 4);
    if (y < 0 || s[4] != '-')
        return CH_EBADDATE;
    int m = digits(s + 5, 2);
    if (m < 0 || s[7] != '-')
        return CH_EBADDATE;
    int d = digits(s + 8, 2);
    return d < 0 ? CH_EBADDATE : ch_date_to_time(y, m, d, out);
}

ch_err ch_datetime_parse(const char *s, ch_time *out)
{
    ch_time day;
    if (ch_date_parse(s, &day) != CH_OK || s[10] != 'T')
        return CH_EBADDATE;
    int h = digits(s + 11, 2), mi = h < 0 || s[13] != ':' ? -1 : digits(s + 14, 2);
    int se = mi < 0 || s[16] != ':' ? -1 : digits(s + 17, 2);
    if (h < 0 || mi < 0 || se < 0 || h > 23 || mi > 59 || se > 59)
        return CH_EBADDATE;
    *out = day + ((int64_t)h * 3600 + mi * 60 + se) * CH_NS_PER_SEC;
    return CH_OK;
}

ch_err ch_expiry_parse(const char *e, size_t el, ch_time *out)
{
    /* DMMMYY or DDMMMYY */
    if (el != 6 && el != 7)
        return CH_EBADSYMBOL;
    size_t dl = el - 5;
    int day = digits(e, (int)dl), month = 0;
    for (int m = 0; m < 12; m++) {
        if (memcmp(e + dl, k_months[m], 3) == 0) {
            month = m + 1;
            break;
        }
    }
    int yy = digits(e + dl + 3, 2);
    ch_time midnight;
    if (day < 0 || month == 0 || yy < 0)
        return CH_EBADSYMBOL;
    if (ch_date_to_time(2000 + yy, month, day, &midnight) != CH_OK)
        return CH_EBADDATE;
    *out = midnight + (int64_t)CH_EXPIRY_HOUR_UTC * 3600 * CH_NS_PER_SEC;
    return CH_OK;
}

ch_err ch_date_to_time(int year, int month, int day, ch_time *out)
{
    /* ch_time (int64 ns since 1970) ends on 11 April 2262 */
    if (year < 1970 || year > 2261 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month))
        return CH_EBADDATE;
    *out = days_from_civil(year, month, day) * 86400 * CH_NS_PER_SEC;
    return CH_OK;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool valid_underlying(const char *s, size_t n)
{
    if (n == 0 || n >= CH_UNDERLYING_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || is_digit(c) || c == '_'))
            return false;
    }
    return true;
}

ch_err ch_symbol_parse(const char *s, size_t len, ch_symbol *out)
{
    if (s == NULL || out == NULL || len == 0 || len >= CH_SYMBOL_MAX)
        return CH_EBADSYMBOL;
    /* split on '-' into at most 4 fields */
    const char *f[4];
    size_t fl[4];
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '-') {
            if (nf == 4)
                return CH_EBADSYMBOL;
            f[nf] = s + start;
            fl[nf] = i - start;
            nf++;
            start = i + 1;
        } else if (s[i] == '\0') {
            return CH_EBADSYMBOL;
        }
    }
    if (!valid_underlying(f[0], fl[0]))
        return CH_EBADSYMBOL;
    ch_symbol sym;
    memset(&sym, 0, sizeof sym);
    memcpy(sym.underlying, f[0], fl[0]);

    if (nf == 2) {
        if (fl[1] != 4 || memcmp(f[1], "PERP", 4) != 0)
            return CH_EBADSYMBOL;
        sym.kind = CH_PERP;
        *out = sym;
        return CH_OK;
    }
    if (nf != 4)
        return CH_EBADSYMBOL;

    ch_err ee = ch_expiry_parse(f[1], fl[1], &sym.expiry);
    if (ee != CH_OK)
        return ee;

    /* strike */
    const char *k = f[2];
    size_t kl = fl[2];
    if (kl == 0)
        return CH_EBADSYMBOL;
    for (size_t i = 0; i < kl; i++)
        if (!is_digit(k[i]))
            return CH_EBADSYMBOL;
    if (kl > 12 || k[0] == '0')
        return CH_EBADSTRIKE;
    int64_t strike = 0;
    for (size_t i = 0; i < kl; i++)
        strike = strike * 10 + (k[i] - '0');
    sym.strike = strike;

    if (fl[3] != 1 || (f[3][0] != 'C' && f[3][0] != 'P'))
        return CH_EBADSYMBOL;
    sym.kind = f[3][0] == 'C' ? CH_CALL : CH_PUT;
    *out = sym;
    return CH_OK;
}

ch_err ch_symbol_format(const ch_symbol *sym, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0)
        return CH_ERANGE;
    buf[0] = '\0';
    if (sym == NULL)
        return CH_EINVAL;
    size_t ul = strnlen(sym->underlying, CH_UNDERLYING_MAX);
    if (!valid_underlying(sym->underlying, ul))
        return CH_EINVAL;
    int n;
    if (sym->kind == CH_PERP) {
        n = snprintf(buf, cap, "%s-PERP", sym->underlying);
    } else {
        if ((sym->kind != CH_CALL && sym->kind != CH_PUT) || sym->strike <= 0 ||
            sym->strike > CH_STRIKE_MAX || sym->expiry < 0)
            return CH_EINVAL;
        int64_t days = sym->expiry / (86400 * CH_NS_PER_SEC);
        int y, m, d;
        civil_from_days(days, &y, &m, &d);
        if (y < 2000 || y > 2099)
            return CH_EINVAL;
        n = snprintf(buf, cap, "%s-%d%s%02d-%lld-%c", sym->underlying, d, k_months[m - 1], y - 2000,
                     (long long)sym->strike, sym->kind == CH_CALL ? 'C' : 'P');
    }
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return CH_ERANGE;
    }
    return CH_OK;
}

/* ---- ticks and prices ---------------------------------------------------- */

static int64_t pow10i(int d)
{
    int64_t p = 1;
    while (d-- > 0)
        p *= 10;
    return p;
}

/*
 * Parse an unsigned decimal "123", "123.45" into an integer scaled by
 * 10^decimals. Fails on sign, exponent, empty parts, more significant
 * decimals than allowed (trailing zeros are fine), or overflow past 10^15.
 */
static bool parse_decimal(const char *s, size_t len, int decimals, int64_t *out)
{
    const int64_t limit = INT64_C(1000000000000000); /* 1e15 */
    size_t i = 0;
    int64_t v = 0;
    size_t int_digits = 0;
    while (i < len && is_digit(s[i])) {
        v = v * 10 + (s[i] - '0');
        if (v >= limit)
            return false;
        i++;
        int_digits++;
    }
    if (int_digits == 0)
        return false;
    int frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t frac_start = i;
        while (i < len && is_digit(s[i])) {
            if (frac < decimals) {
                if (v > (INT64_MAX - 9) / 10)
                    return false;
                v = v * 10 + (s[i] - '0');
                frac++;
            } else if (s[i] != '0') {
                return false; /* finer than the tick's decimals */
            }
            i++;
        }
        if (i == frac_start)
            return false;
    }
    if (i != len)
        return false;
    while (frac < decimals) {
        if (v > INT64_MAX / 10)
            return false;
        v *= 10;
        frac++;
    }
    *out = v;
    return true;
}

ch_err ch_tick_parse(const char *s, size_t len, ch_underlying_config *cfg)
{
    if (s == NULL || cfg == NULL)
        return CH_EBADCONFIG;
    size_t dot = len;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.') {
            dot = i;
            break;
        }
    int decimals = 0;
    if (dot < len) {
        size_t end = len;
        while (end > dot + 1 && s[end - 1] == '0')
            end--;
        decimals = (int)(end - dot - 1);
    }
    if (decimals > CH_PRICE_DECIMALS_MAX)
        return CH_EBADCONFIG;
    int64_t units;
    if (!parse_decimal(s, len, decimals, &units) || units <= 0)
        return CH_EBADCONFIG;
    cfg->price_decimals = decimals;
    cfg->tick_units = units;
    return CH_OK;
}

static ch_err ticks_in_band(const ch_underlying_config *u, int64_t units, int64_t *ticks)
{
    if (units <= 0 || units % u->tick_units != 0)
        return CH_EBADPRICE;
    int64_t t = units / u->tick_units;
    if (t < u->min_price || t > u->max_price)
        return CH_EBADPRICE;
    *ticks = t;
    return CH_OK;
}

ch_err ch_price_parse(const ch_underlying_config *u, const char *s, size_t len, int64_t *ticks)
{
    int64_t units;
    if (u == NULL || s == NULL || !parse_decimal(s, len, u->price_decimals, &units))
        return CH_EBADPRICE;
    return ticks_in_band(u, units, ticks);
}

ch_err ch_price_from_double(const ch_underlying_config *u, double price, int64_t *ticks)
{
    if (u == NULL || !(price > 0.0) || !isfinite(price) || price > 1e15)
        return CH_EBADPRICE;
    double scaled = price * (double)pow10i(u->price_decimals);
    double r = nearbyint(scaled);
    if (fabs(scaled - r) > 1e-9 * (r > 1.0 ? r : 1.0))
        return CH_EBADPRICE;
    return ticks_in_band(u, (int64_t)r, ticks);
}

double ch_price_to_double(const ch_underlying_config *u, int64_t ticks)
{
    return (double)(ticks * u->tick_units) / (double)pow10i(u->price_decimals);
}

ch_err ch_price_format(const ch_underlying_config *u, int64_t ticks, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0)
        return CH_ERANGE;
    int64_t units = ticks * u->tick_units;
    int64_t scale = pow10i(u->price_decimals);
    bool neg = units < 0;
    uint64_t a = neg ? (uint64_t)0 - (uint64_t)units : (uint64_t)units;
    uint64_t ip = a / (uint64_t)scale, fp = a % (uint64_t)scale;
    int n;
    if (fp == 0) {
        n = snprintf(buf, cap, "%s%llu", neg ? "-" : "", (unsigned long long)ip);
    } else {
        char frac[CH_PRICE_DECIMALS_MAX + 1];
        int nd = u->price_decimals;
        for (int i = nd - 1; i >= 0; i--) {
            frac[i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        frac[nd] = '\0';
        while (nd > 0 && frac[nd - 1] == '0')
            frac[--nd] = '\0';
        n = snprintf(buf, cap, "%s%llu.%s", neg ? "-" : "", (unsigned long long)ip, frac);
    }
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return CH_ERANGE;
    }
    return CH_OK;
}

/* ---- registry ------------------------------------------------------------ */

struct ch_instruments {
    uint32_t max_instr, max_und;
    uint32_t n_instr, n_und;
    ch_instrument *instr;
    ch_underlying_config *und;
    uint32_t *hash; /* slot -> instrument index + 1, 0 = empty */
    uint32_t hash_mask;
};

ch_instruments *ch_instruments_create(uint32_t max_instruments, uint32_t max_underlyings)
{
    if (max_instruments == 0 || max_instruments > (1u << 24) || max_underlyings == 0 ||
        max_underlyings > 4096)
        return NULL;
    ch_instruments *r = ch_calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    uint32_t hs = 16;
    while (hs < 2 * max_instruments)
        hs <<= 1;
    r->max_instr = max_instruments;
    r->max_und = max_underlyings;
    r->instr = ch_calloc(max_instruments, sizeof *r->instr);
    r->und = ch_calloc(max_underlyings, sizeof *r->und);
    r->hash = ch_calloc(hs, sizeof *r->hash);
    r->hash_mask = hs - 1;
    if (r->instr == NULL || r->und == NULL || r->hash == NULL) {
        ch_instruments_destroy(r);
        return NULL;
    }
    return r;
}

void ch_instruments_destroy(ch_instruments *r)
{
    if (r == NULL)
        return;
    free(r->instr);
    free(r->und);
    free(r->hash);
    free(r);
}

ch_err ch_instruments_add_underlying(ch_instruments *r, const ch_underlying_config *cfg,
                                     uint32_t *out_index)
{
    size_t nl = strnlen(cfg->name, CH_UNDERLYING_MAX);
    if (!valid_underlying(cfg->name, nl) || cfg->price_decimals < 0 ||
        cfg->price_decimals > CH_PRICE_DECIMALS_MAX || cfg->tick_units <= 0 ||
        cfg->tick_units > INT64_C(1000000000000) || !(cfg->contract_size > 0.0) ||
        !isfinite(cfg->contract_size) || cfg->min_price < 1 || cfg->max_price < cfg->min_price ||
        cfg->max_price > INT64_C(1000000000000000) / cfg->tick_units)
        return CH_EBADCONFIG;
    uint32_t dummy;
    if (ch_instruments_find_underlying(r, cfg->name, nl, &dummy) == CH_OK)
        return CH_EEXISTS;
    if (r->n_und == r->max_und)
        return CH_ECAPACITY;
    ch_underlying_config *u = &r->und[r->n_und];
    memset(u, 0, sizeof *u); /* padding too: snapshots write the record's bytes */
    memcpy(u->name, cfg->name, nl);
    u->price_decimals = cfg->price_decimals;
    u->tick_units = cfg->tick_units;
    u->contract_size = cfg->contract_size;
    u->min_price = cfg->min_price;
    u->max_price = cfg->max_price;
    if (out_index != NULL)
        *out_index = r->n_und;
    r->n_und++;
    return CH_OK;
}

ch_err ch_instruments_find_underlying(const ch_instruments *r, const char *name, size_t len,
                                      uint32_t *out_index)
{
    if (len == 0 || len >= CH_UNDERLYING_MAX)
        return CH_EUNKNOWN_UNDERLYING;
    for (uint32_t i = 0; i < r->n_und; i++) {
        if (strncmp(r->und[i].name, name, len) == 0 && r->und[i].name[len] == '\0') {
            *out_index = i;
            return CH_OK;
        }
    }
    return CH_EUNKNOWN_UNDERLYING;
}

const ch_underlying_config *ch_instruments_underlying(const ch_instruments *r, uint32_t index)
{
    return index < r->n_und ? &r->und[index] : NULL;
}

uint32_t ch_instruments_underlying_count(const ch_instruments *r)
{
    return r->n_und;
}

static uint64_t key_hash(uint32_t und, ch_kind kind, ch_time expiry, int64_t strike)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    uint64_t parts[4] = {und, (uint64_t)kind, (uint64_t)expiry, (uint64_t)strike};
    for (int i = 0; i < 4; i++) {
        h ^= parts[i] + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    }
    return h;
}

/* Index of the series, or UINT32_MAX; *slot receives where it is or would go. */
static uint32_t find_series(const ch_instruments *r, uint32_t und, ch_kind kind, ch_time expiry,
                            int64_t strike, uint32_t *slot)
{
    uint32_t s = (uint32_t)key_hash(und, kind, expiry, strike) & r->hash_mask;
    for (;;) {
        uint32_t v = r->hash[s];
        if (v == 0) {
            *slot = s;
            return UINT32_MAX;
        }
        const ch_instrument *in = &r->instr[v - 1];
        if (in->underlying == und && in->sym.kind == kind && in->sym.expiry == expiry &&
            in->sym.strike == strike) {
            *slot = s;
            return v - 1;
        }
        s = (s + 1) & r->hash_mask;
    }
}

ch_err ch_instruments_add_parsed(ch_instruments *r, const ch_symbol *sym, ch_time now,
                                 ch_instr_id *out)
{
    uint32_t und;
    ch_err e = ch_instruments_find_underlying(r, sym->underlying,
                                              strnlen(sym->underlying, CH_UNDERLYING_MAX), &und);
    if (e != CH_OK)
        return e;
    char text[CH_SYMBOL_MAX];
    if (ch_symbol_format(sym, text, sizeof text) != CH_OK)
        return CH_EBADSYMBOL;
    uint32_t slot;
    uint32_t idx = find_series(r, und, sym->kind, sym->expiry, sym->strike, &slot);
    if (idx != UINT32_MAX) {
        if (out != NULL)
            out->v = idx;
        return CH_EEXISTS;
    }
    if (sym->kind != CH_PERP) {
        const int64_t day = 86400 * CH_NS_PER_SEC;
        if (sym->expiry % day != (int64_t)CH_EXPIRY_HOUR_UTC * 3600 * CH_NS_PER_SEC)
            return CH_EBADDATE; /* expiries are 08:00 UTC */
        if (sym->expiry <= now)
            return CH_EEXPIRED;
    }
    if (r->n_instr == r->max_instr)
        return CH_ECAPACITY;
    idx = r->n_instr++;
    ch_instrument *in = &r->instr[idx];
    /* Zeroed, then field by field: snapshots write the record's bytes, so
     * padding and the bytes after each name's NUL must not be the caller's. */
    memset(in, 0, sizeof *in);
    in->id.v = idx;
    in->underlying = und;
    memcpy(in->sym.underlying, sym->underlying, strnlen(sym->underlying, CH_UNDERLYING_MAX));
    in->sym.kind = sym->kind;
    in->sym.expiry = sym->expiry;
    in->sym.strike = sym->strike;
    memcpy(in->symbol, text, strnlen(text, sizeof text));
    in->sibling.v = CH_INSTR_NONE;
    r->hash[slot] = idx + 1;
    if (sym->kind != CH_PERP) {
        ch_kind other = sym->kind == CH_CALL ? CH_PUT : CH_CALL;
        uint32_t oslot;
        uint32_t sib = find_series(r, und, other, sym->expiry, sym->strike, &oslot);
        if (sib != UINT32_MAX) {
            in->sibling.v = sib;
            r->instr[sib].sibling.v = idx;
        }
    }
    if (out != NULL)
        out->v = idx;
    return CH_OK;
}

ch_err ch_instruments_add(ch_instruments *r, const char *symbol, size_t len, ch_time now,
                          ch_instr_id *out)
{
    ch_symbol sym;
    ch_err e = ch_symbol_parse(symbol, len, &sym);
    if (e != CH_OK)
        return e;
    return ch_instruments_add_parsed(r, &sym, now, out);
}

ch_err ch_instruments_lookup(const ch_instruments *r, const char *symbol, size_t len, ch_time now,
                             ch_instr_id *out)
{
    ch_symbol sym;
    ch_err e = ch_symbol_parse(symbol, len, &sym);
    if (e != CH_OK)
        return e;
    uint32_t und;
    if (ch_instruments_find_underlying(r, sym.underlying,
                                       strnlen(sym.underlying, CH_UNDERLYING_MAX), &und) != CH_OK)
        return CH_EUNKNOWN_SYMBOL;
    uint32_t slot;
    uint32_t idx = find_series(r, und, sym.kind, sym.expiry, sym.strike, &slot);
    if (idx == UINT32_MAX)
        return CH_EUNKNOWN_SYMBOL;
    if (sym.kind != CH_PERP && sym.expiry <= now)
        return CH_EEXPIRED;
    out->v = idx;
    return CH_OK;
}

const ch_instrument *ch_instruments_get(const ch_instruments *r, ch_instr_id id)
{
    return id.v < r->n_instr ? &r->instr[id.v] : NULL;
}

uint32_t ch_instruments_count(const ch_instruments *r)
{
    return r->n_instr;
}

ch_err ch_instruments_add_grid(ch_instruments *r, uint32_t underlying, const ch_time *expiries,
                               size_t n_expiries, const int64_t *strikes, size_t n_strikes,
                               ch_time now)
{
    if (underlying >= r->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    for (size_t i = 0; i < n_expiries; i++)
        if (expiries[i] <= now)
            return CH_EEXPIRED;
    for (size_t j = 0; j < n_strikes; j++)
        if (strikes[j] <= 0 || strikes[j] > CH_STRIKE_MAX)
            return CH_EBADSTRIKE;
    for (size_t i = 0; i < n_expiries; i++) {
        for (size_t j = 0; j < n_strikes; j++) {
            for (int k = 0; k < 2; k++) {
                ch_symbol sym;
                memset(&sym, 0, sizeof sym);
                memcpy(sym.underlying, r->und[underlying].name, CH_UNDERLYING_MAX);
                sym.kind = k == 0 ? CH_CALL : CH_PUT;
                sym.expiry = expiries[i];
                sym.strike = strikes[j];
                ch_err e = ch_instruments_add_parsed(r, &sym, now, NULL);
                if (e != CH_OK && e != CH_EEXISTS)
                    return e;
            }
        }
    }
    return CH_OK;
}

/* ---- snapshot ------------------------------------------------------------ */

#define TAG_REG CHI_SNAP_TAG('I', 'N', 'S', 'T')

void chi_instruments_save(const ch_instruments *r, chi_wr *w)
{
    chi_snap_tag(w, TAG_REG);
    chi_put(w, r->max_instr, 4);
    chi_put(w, r->max_und, 4);
    chi_put(w, r->hash_mask, 4);
    chi_put(w, r->n_instr, 4);
    chi_put(w, r->n_und, 4);
    chi_put_bytes(w, r->instr, (size_t)r->n_instr * sizeof *r->instr);
    chi_put_bytes(w, r->und, (size_t)r->n_und * sizeof *r->und);
    chi_put_bytes(w, r->hash, ((size_t)r->hash_mask + 1) * sizeof *r->hash);
}

bool chi_instruments_load(ch_instruments *r, chi_rd *rd)
{
    if (!chi_snap_expect(rd, TAG_REG) || chi_get(rd, 4) != r->max_instr ||
        chi_get(rd, 4) != r->max_und || chi_get(rd, 4) != r->hash_mask)
        return false;
    uint32_t ni = (uint32_t)chi_get(rd, 4), nu = (uint32_t)chi_get(rd, 4);
    if (rd->bad || ni > r->max_instr || nu > r->max_und)
        return false;
    r->n_instr = ni;
    r->n_und = nu;
    chi_snap_take(rd, r->instr, ni, sizeof *r->instr);
    chi_snap_take(rd, r->und, nu, sizeof *r->und);
    chi_snap_take(rd, r->hash, (size_t)r->hash_mask + 1, sizeof *r->hash);
    return !rd->bad;
}
