/*
 * sim_market.c - the market of a scenario, built once and shared by every
 * configuration: the spot path (CSV closes, or GBM with Poisson jumps and
 * volatility spikes), the funding series (CSV, constant, or a mean-reverting
 * daily series), the vol level (the surface times a multiplier that follows
 * trailing realized vol) and the listing rule (weekly and monthly Friday
 * expiries, strikes from the chain's moneyness grid around the spot).
 *
 * Random draws come from their own seeded streams (path, funding), so the
 * path does not change when the flow's parameters do.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/kit.h"
#include "sim.h"

#define YEAR_S (365.0 * 86400.0)

void sim_market_free(sim_market *m)
{
    free(m->s);
    memset(m, 0, sizeof *m);
}

static bool load_or_fail(const sim_config *c, const char *name, const char *what, char *path,
                         char *msg, size_t cap)
{
    if (!sim_resolve(c, name, path, SIM_PATH_MAX)) {
        snprintf(msg, cap,
                 "%s file \"%s\" not found (looked in the current directory and in \"%s\"; set "
                 "CH_SIM_DATA or data_dir)",
                 what, name, c->data_dir);
        return false;
    }
    return true;
}

/*
 * Resolve and load a series that must cover [from, to] (its last point
 * counts for @p tail after it: a daily series covers its last day).
 */
static bool load_covering(const sim_config *c, const char *name, const char *what,
                          bool (*load)(const char *, sim_series *, char *, size_t), ch_time from,
                          ch_time to, ch_time tail, sim_series *out, char *msg, size_t cap)
{
    char path[SIM_PATH_MAX];
    if (!load_or_fail(c, name, what, path, msg, cap) || !load(path, out, msg, cap))
        return false;
    /* a price file names its pair: the first underlying's, in USD */
    if (out->pair[0] != '\0' && !sim_pair_quotes_usd(out->pair, c->underlying, path, msg, cap)) {
        sim_series_free(out);
        return false;
    }
    if (from >= out->t[0] && to < out->t[out->n - 1] + tail + 1)
        return true;
    char d[4][24];
    ch_time ts[4] = {out->t[0], out->t[out->n - 1], from, to};
    for (int i = 0; i < 4; i++) {
        time_t secs = (time_t)(ts[i] / CH_NS_PER_SEC);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(d[i], sizeof d[i], "%Y-%m-%d %H:%M", &tm);
    }
    snprintf(msg, cap,
             "%s covers %s to %s UTC, the scenario needs %s to %s (with %.0f h before the "
             "start for the vol level): change start or days",
             path, d[0], d[1], d[2], d[3], c->chain.vol_window_hours);
    sim_series_free(out);
    return false;
}

static double spike_sigma(const sim_config *c, ch_time t, ch_time spike_end)
{
    return c->price.sigma * (t < spike_end ? c->price.spike_mult : 1.0);
}

/* Spot at every step from `first` (which may precede the start: warm-up for the vol level). */
static bool build_spot(const sim_config *c, double *spot, size_t n, ch_time first, char *msg,
                       size_t cap)
{
    double dt = (double)c->step_seconds / YEAR_S;
    ch_time step = c->step_seconds * CH_NS_PER_SEC;
    if (c->price.source == SIM_PRICE_GBM) {
        kit_rng r = kit_rng_seed(c->seed ^ UINT64_C(0x9e3779b97f4a7c15));
        ch_time spike_end = 0;
        spot[0] = c->price.spot0;
        for (size_t k = 1; k < n; k++) {
            ch_time t = first + (ch_time)k * step;
            if (kit_uniform(&r) < c->price.spikes_per_year * dt)
                spike_end = t + (ch_time)llround(c->price.spike_hours * (double)SIM_HOUR);
            double sig = spike_sigma(c, t, spike_end);
            double x = (c->price.mu - 0.5 * sig * sig) * dt + sig * sqrt(dt) * kit_normal(&r);
            uint32_t jumps = kit_poisson(&r, c->price.jumps_per_year * dt);
            for (uint32_t j = 0; j < jumps; j++)
                x += c->price.jump_mean + c->price.jump_sd * kit_normal(&r);
            spot[k] = spot[k - 1] * exp(x);
        }
        return true;
    }
    sim_series px;
    if (!load_covering(c, c->price.file, "price", sim_load_prices, first,
                       first + (ch_time)(n - 1) * step, 0, &px, msg, cap))
        return false;
    for (size_t k = 0; k < n; k++)
        spot[k] = sim_series_at(&px, first + (ch_time)k * step);
    sim_series_free(&px);
    return true;
}

static bool build_funding(const sim_config *c, sim_market *m, char *msg, size_t cap)
{
    if (c->funding.source == SIM_FUND_CONSTANT) {
        for (size_t k = 0; k < m->n; k++)
            m->s[k].funding = c->funding.rate;
        return true;
    }
    if (c->funding.source == SIM_FUND_GENERATED) {
        kit_rng r = kit_rng_seed(c->seed ^ UINT64_C(0xd1b54a32d192ed03));
        double f = c->funding.rate;
        ch_time day = m->s[0].t / SIM_DAY;
        for (size_t k = 0; k < m->n; k++) {
            for (; day < m->s[k].t / SIM_DAY; day++)
                f += c->funding.reversion * (c->funding.rate - f) + c->funding.sd * kit_normal(&r);
            m->s[k].funding = f;
        }
        return true;
    }
    sim_series fs;
    if (!load_covering(c, c->funding.file, "funding", sim_load_funding, m->s[0].t, m->s[m->n - 1].t,
                       SIM_DAY - 1, &fs, msg, cap))
        return false;
    for (size_t k = 0; k < m->n; k++)
        m->s[k].funding = sim_series_at(&fs, m->s[k].t);
    sim_series_free(&fs);
    return true;
}

/* The steps from spot[warm ..] (spot[0 .. warm - 1]: the warm-up), with the
 * vol level: (1 - f) + f * realized / the surface's 30-day ATM vol, over the
 * trailing window of `warm` steps. */
static void fill_steps(const sim_config *c, sim_market *m, const double *spot, size_t warm)
{
    size_t n = m->n;
    ch_time step = c->step_seconds * CH_NS_PER_SEC;
    double dt = (double)c->step_seconds / YEAR_S, sum2 = 0;
    for (size_t k = 0; k < n + warm; k++) {
        if (k > 0) {
            double r = log(spot[k] / spot[k - 1]);
            sum2 += r * r;
        }
        if (k > warm) {
            double r = log(spot[k - warm] / spot[k - warm - 1]);
            sum2 -= r * r;
        }
        if (k < warm)
            continue;
        size_t i = k - warm;
        double rv = warm > 0 ? sqrt(fmax(sum2, 0) / ((double)warm * dt)) : m->surf.atm30;
        double level = (1 - c->chain.vol_follow) + c->chain.vol_follow * rv / m->surf.atm30;
        m->s[i].t = c->start + (ch_time)i * step;
        m->s[i].spot = spot[k];
        m->s[i].level = c->chain.vol_scale * fmin(fmax(level, 0.5), 3.0);
    }
}

/* The rate and the vol surface (flat, or the chain's). */
static bool load_surface(const sim_config *c, sim_market *m, char *msg, size_t cap)
{
    memset(m, 0, sizeof *m);
    m->rate = c->chain.rate;
    if (c->chain.flat_vol > 0) {
        sim_surface_flat(&m->surf, c->chain.flat_vol);
        return true;
    }
    char path[SIM_PATH_MAX];
    return load_or_fail(c, c->chain.file, "chain", path, msg, cap) &&
           sim_load_chain(path, &m->surf, msg, cap);
}

bool sim_market_build(const sim_config *c, sim_market *m, char *msg, size_t cap)
{
    if (!load_surface(c, m, msg, cap))
        return false;
    ch_time step = c->step_seconds * CH_NS_PER_SEC;
    size_t n = (size_t)llround(c->days * 86400.0 / (double)c->step_seconds) + 1;
    size_t warm = (size_t)ceil(c->chain.vol_window_hours * 3600.0 / (double)c->step_seconds);
    if (n < 2) {
        snprintf(msg, cap, "config: days: the scenario needs at least two steps");
        return false;
    }
    double *spot = malloc((n + warm) * sizeof *spot);
    m->s = calloc(n, sizeof *m->s);
    if (spot == NULL || m->s == NULL) {
        free(spot);
        snprintf(msg, cap, "out of memory");
        return false;
    }
    m->n = n;
    ch_time first = c->start - (ch_time)warm * step;
    if (!build_spot(c, spot, n + warm, first, msg, cap)) {
        free(spot);
        sim_market_free(m);
        return false;
    }
    fill_steps(c, m, spot, warm);
    free(spot);
    if (!build_funding(c, m, msg, cap)) {
        sim_market_free(m);
        return false;
    }
    return true;
}

bool sim_market_correlated(const sim_config *c2, const sim_market *first, double rho, sim_market *m,
                           char *msg, size_t cap)
{
    if (!load_surface(c2, m, msg, cap))
        return false;
    size_t n = first->n;
    size_t warm = (size_t)ceil(c2->chain.vol_window_hours * 3600.0 / (double)c2->step_seconds);
    double *spot = malloc((n + warm) * sizeof *spot);
    m->s = calloc(n, sizeof *m->s);
    if (spot == NULL || m->s == NULL) {
        free(spot);
        sim_market_free(m);
        snprintf(msg, cap, "out of memory");
        return false;
    }
    m->n = n;
    /* the first's log returns, standardised */
    double mean = 0, var = 0;
    for (size_t k = 1; k < n; k++)
        mean += log(first->s[k].spot / first->s[k - 1].spot) / (double)(n - 1);
    for (size_t k = 1; k < n; k++) {
        double r = log(first->s[k].spot / first->s[k - 1].spot) - mean;
        var += r * r / (double)(n - 1);
    }
    double sd = sqrt(var), dt = (double)c2->step_seconds / YEAR_S, sig = c2->price.sigma;
    double drift = (c2->price.mu - 0.5 * sig * sig) * dt, mix = sqrt(fmax(1 - rho * rho, 0));
    kit_rng r = kit_rng_seed(c2->seed ^ UINT64_C(0x9e3779b97f4a7c15));
    /* the warm-up (for the vol level only) is independent; the scenario's
     * steps move with the first's */
    spot[0] = 1;
    for (size_t k = 1; k < n + warm; k++) {
        double e = kit_normal(&r), z = e;
        if (k > warm) {
            size_t i = k - warm;
            double zf = sd > 0 ? (log(first->s[i].spot / first->s[i - 1].spot) - mean) / sd : 0;
            z = rho * zf + mix * e;
        }
        spot[k] = spot[k - 1] * exp(drift + sig * sqrt(dt) * z);
    }
    double scale = c2->price.spot0 / spot[warm];
    for (size_t k = 0; k < n + warm; k++)
        spot[k] *= scale;
    fill_steps(c2, m, spot, warm);
    free(spot);
    for (size_t k = 0; k < n; k++)
        m->s[k].t = first->s[k].t;
    if (!build_funding(c2, m, msg, cap)) {
        sim_market_free(m);
        return false;
    }
    return true;
}

double sim_market_correlation(const sim_market *a, const sim_market *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    if (n < 3)
        return 0;
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, k = (double)(n - 1);
    for (size_t i = 1; i < n; i++) {
        double x = log(a->s[i].spot / a->s[i - 1].spot), y = log(b->s[i].spot / b->s[i - 1].spot);
        sa += x;
        sb += y;
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    double cov = sab - sa * sb / k, va = saa - sa * sa / k, vb = sbb - sb * sb / k;
    return va > 0 && vb > 0 ? cov / sqrt(va * vb) : 0;
}

/* ---- listing ------------------------------------------------------------------- */

static int weekday(ch_time t) /* 0 = Sunday */
{
    int64_t days = t / SIM_DAY;
    return (int)((days + 4) % 7);
}

static bool has(const ch_time *v, size_t n, ch_time t)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == t)
            return true;
    return false;
}

size_t sim_expiries(const sim_config *c, ch_time now, ch_time *out, size_t max)
{
    /* the first Friday 08:00 at least 12 hours away (the trading cutoff) */
    ch_time t = (now + 12 * SIM_HOUR) / SIM_DAY * SIM_DAY + CH_EXPIRY_HOUR_UTC * SIM_HOUR;
    if (t < now + 12 * SIM_HOUR)
        t += SIM_DAY;
    while (weekday(t) != 5)
        t += SIM_DAY;
    size_t n = 0;
    for (uint32_t w = 0; w < c->chain.weeklies && n < max; w++, t += 7 * SIM_DAY)
        out[n++] = t;
    /* monthlies: the last Friday of each following month, beyond the weeklies */
    for (uint32_t mth = 0; mth < c->chain.monthlies && n < max; t += 7 * SIM_DAY) {
        /* t is a last Friday if a week later is in another month */
        time_t a = (time_t)(t / CH_NS_PER_SEC), b = a + 7 * 86400;
        struct tm ta, tb;
        gmtime_r(&a, &ta);
        gmtime_r(&b, &tb);
        if (ta.tm_mon != tb.tm_mon && !has(out, n, t)) {
            out[n++] = t;
            mth++;
        }
    }
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

size_t sim_listing_find(const sim_chain *ch, ch_time expiry)
{
    for (size_t i = 0; i < ch->n; i++)
        if (ch->l[i].expiry == expiry)
            return i;
    return SIZE_MAX;
}

bool sim_chain_ensure(sim_chain *ch, ch_time expiry, bool *added, char *msg, size_t cap)
{
    *added = false;
    if (sim_listing_find(ch, expiry) != SIZE_MAX)
        return true;
    if (ch->n == SIM_CHAIN_MAX) {
        snprintf(msg, cap, "flow: more than %d expiries", SIM_CHAIN_MAX);
        return false;
    }
    ch->l[ch->n++] = (sim_listing){.expiry = expiry};
    *added = true;
    return true;
}

size_t sim_chain_update(const sim_config *c, const sim_market *m, size_t k, sim_chain *ch)
{
    ch_time want[SIM_TENORS_MAX];
    ch_time now = m->s[k].t;
    double spot = m->s[k].spot;
    size_t n = sim_expiries(c, now, want, SIM_TENORS_MAX), added = 0;
    for (size_t i = 0; i < n; i++) {
        if (sim_listing_find(ch, want[i]) != SIZE_MAX)
            continue;
        if (ch->n == SIM_CHAIN_MAX)
            return SIZE_MAX;
        /* the chain expiry with the nearest tenor gives the strike grid */
        double tau = ch_years(now, want[i]);
        size_t best = 0;
        for (size_t j = 1; j < m->surf.n; j++)
            if (fabs(log(m->surf.tau[j] / tau)) < fabs(log(m->surf.tau[best] / tau)))
                best = j;
        sim_listing *l = &ch->l[ch->n++];
        l->expiry = want[i];
        l->n = 0;
        for (size_t j = 0; j < m->surf.n_k[best]; j++) {
            double mny = m->surf.moneyness[best][j];
            if (mny < c->chain.min_moneyness || mny > c->chain.max_moneyness)
                continue;
            int64_t kk = (int64_t)llround(mny * spot / c->chain.strike_step) *
                         (int64_t)llround(c->chain.strike_step);
            if (kk > 0 && (l->n == 0 || !has(l->strike, l->n, kk)))
                l->strike[l->n++] = kk;
        }
        qsort(l->strike, l->n, sizeof l->strike[0], cmp_i64);
        added++;
    }
    return added;
}
