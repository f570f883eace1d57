/*
 * smile.c - implied vol by strike per expiry, interpolated in total variance.
 *
 * Marks are stored as (strike, vol) points per expiry, sorted by strike;
 * slices are sorted by expiry. Total variance w = vol^2 * T depends on the
 * time left, so it is computed at query time from `now`:
 *  - within a slice, w is linear in log-strike between marked strikes (with T
 *    fixed this is linear interpolation of vol^2), flat vol outside;
 *  - between slices, w is linear in T at the queried strike; flat vol before
 *    the first and after the last slice.
 * A mark update is refused if it would make total variance decrease with
 * expiry at any marked strike of it or its neighbours (calendar arbitrage),
 * so the interpolated w is non-decreasing in T as well.
 * Memory is allocated once in ch_smile_create().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ch/risk.h"
#include "../core/alloc.h"
#include "../core/snap.h"

#define VOL_MAX 10.0

typedef struct slice {
    ch_time expiry;
    size_t n;
    double *k;   /* strikes, ascending (view into the pool) */
    double *lnk; /* log strikes */
    double *v2;  /* vol squared */
} slice;

struct ch_smile {
    size_t max_exp, max_pts, n;
    slice *s;      /* s[0..n) sorted by expiry; each owns a fixed pool area */
    double *pool;  /* 3 * max_pts doubles per slot */
    double *tmp_k; /* scratch for sorting an update: 2 * max_pts */
};

ch_smile *ch_smile_create(size_t max_expiries, size_t max_points)
{
    if (max_expiries == 0 || max_expiries > 1024 || max_points == 0 || max_points > 4096)
        return NULL;
    ch_smile *sm = ch_calloc(1, sizeof *sm);
    if (sm == NULL)
        return NULL;
    sm->max_exp = max_expiries;
    sm->max_pts = max_points;
    sm->s = ch_calloc(max_expiries + 1, sizeof *sm->s);
    sm->pool = ch_calloc((max_expiries + 1) * max_points * 3, sizeof *sm->pool);
    sm->tmp_k = ch_calloc(max_points * 2, sizeof *sm->tmp_k);
    if (sm->s == NULL || sm->pool == NULL || sm->tmp_k == NULL) {
        ch_smile_destroy(sm);
        return NULL;
    }
    /* slot i of s[] always points at pool area i; slots are swapped, never copied */
    for (size_t i = 0; i <= max_expiries; i++) {
        double *base = sm->pool + i * max_points * 3;
        sm->s[i].k = base;
        sm->s[i].lnk = base + max_points;
        sm->s[i].v2 = base + 2 * max_points;
    }
    return sm;
}

void ch_smile_destroy(ch_smile *s)
{
    if (s == NULL)
        return;
    free(s->s);
    free(s->pool);
    free(s->tmp_k);
    free(s);
}

size_t ch_smile_count(const ch_smile *s)
{
    return s->n;
}

/* vol^2 of a slice at log-strike lk */
static double slice_v2(const slice *sl, double lk)
{
    if (sl->n == 1 || lk <= sl->lnk[0])
        return sl->v2[0];
    if (lk >= sl->lnk[sl->n - 1])
        return sl->v2[sl->n - 1];
    size_t lo = 0, hi = sl->n - 1; /* lnk[lo] <= lk < lnk[hi] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (sl->lnk[mid] <= lk)
            lo = mid;
        else
            hi = mid;
    }
    double x = (lk - sl->lnk[lo]) / (sl->lnk[hi] - sl->lnk[lo]);
    return sl->v2[lo] + x * (sl->v2[hi] - sl->v2[lo]);
}

/* total variance of slice i at log-strike lk, time now */
static double slice_w(const slice *sl, double lk, ch_time now)
{
    return slice_v2(sl, lk) * ch_years(now, sl->expiry);
}

/* Calendar check of slice `mid` against slice `other` (other before mid if
 * `before`): at every marked strike of both, w_before <= w_after. */
static bool calendar_ok(const slice *a, const slice *b, ch_time now)
{
    /* a expires before b */
    for (int pass = 0; pass < 2; pass++) {
        const slice *src = pass == 0 ? a : b;
        for (size_t i = 0; i < src->n; i++) {
            double wa = slice_w(a, src->lnk[i], now), wb = slice_w(b, src->lnk[i], now);
            if (wa > wb * (1.0 + 1e-12))
                return false;
        }
    }
    return true;
}

static int cmp_pair(const void *x, const void *y)
{
    double a = ((const double *)x)[0], b = ((const double *)y)[0];
    return a < b ? -1 : a > b;
}

ch_err ch_smile_set(ch_smile *s, ch_time expiry, const double *strikes, const double *vols,
                    size_t n, ch_time now)
{
    if (n == 0 || strikes == NULL || vols == NULL)
        return CH_EBADVOL;
    if (n > s->max_pts)
        return CH_ECAPACITY;
    if (expiry <= now)
        return CH_EEXPIRED;
    for (size_t i = 0; i < n; i++) {
        if (!(isfinite(strikes[i]) && strikes[i] > 0) ||
            !(isfinite(vols[i]) && vols[i] > 0 && vols[i] <= VOL_MAX))
            return CH_EBADVOL;
        s->tmp_k[2 * i] = strikes[i];
        s->tmp_k[2 * i + 1] = vols[i];
    }
    qsort(s->tmp_k, n, 2 * sizeof(double), cmp_pair);
    for (size_t i = 1; i < n; i++)
        if (s->tmp_k[2 * i] == s->tmp_k[2 * i - 2])
            return CH_EBADVOL;
    /* where does it go? */
    size_t pos = 0;
    while (pos < s->n && s->s[pos].expiry < expiry)
        pos++;
    bool replace = pos < s->n && s->s[pos].expiry == expiry;
    if (!replace && s->n == s->max_exp)
        return CH_ECAPACITY;
    /* build the candidate in the spare slot s[n] (its pool area is free) */
    slice *cand = &s->s[s->max_exp];
    if (s->n < s->max_exp) {
        /* keep the spare at index max_exp: swap the unused slot n there */
        slice t = s->s[s->n];
        s->s[s->n] = s->s[s->max_exp];
        s->s[s->max_exp] = t;
        cand = &s->s[s->max_exp];
    }
    cand->expiry = expiry;
    cand->n = n;
    for (size_t i = 0; i < n; i++) {
        cand->k[i] = s->tmp_k[2 * i];
        cand->lnk[i] = log(s->tmp_k[2 * i]);
        cand->v2[i] = s->tmp_k[2 * i + 1] * s->tmp_k[2 * i + 1];
    }
    /* neighbours among unexpired slices */
    long prev = -1, next = -1;
    for (long i = (long)pos - 1; i >= 0; i--)
        if (s->s[i].expiry > now) {
            prev = i;
            break;
        }
    for (size_t i = pos + (replace ? 1 : 0); i < s->n; i++)
        if (s->s[i].expiry > now) {
            next = (long)i;
            break;
        }
    if ((prev >= 0 && !calendar_ok(&s->s[prev], cand, now)) ||
        (next >= 0 && !calendar_ok(cand, &s->s[next], now)))
        return CH_ECALENDAR;
    /* commit: the candidate's slot takes position pos */
    slice c = *cand;
    if (replace) {
        *cand = s->s[pos];
        s->s[pos] = c;
    } else {
        /* shift [pos, n) up by one; the slot at n (unused) becomes the spare */
        slice spare = s->s[s->n];
        memmove(&s->s[pos + 1], &s->s[pos], (s->n - pos) * sizeof(slice));
        s->s[pos] = c;
        *cand = spare;
        s->n++;
    }
    return CH_OK;
}

ch_err ch_smile_set_flat(ch_smile *s, ch_time expiry, double vol, ch_time now)
{
    double k = 1.0;
    return ch_smile_set(s, expiry, &k, &vol, 1, now);
}

ch_err ch_smile_copy(ch_smile *dst, const ch_smile *src)
{
    if (dst->max_exp < src->n)
        return CH_ECAPACITY;
    for (size_t i = 0; i < src->n; i++)
        if (src->s[i].n > dst->max_pts)
            return CH_ECAPACITY;
    for (size_t i = 0; i < src->n; i++) {
        const slice *a = &src->s[i];
        slice *b = &dst->s[i];
        b->expiry = a->expiry;
        b->n = a->n;
        memcpy(b->k, a->k, a->n * sizeof(double));
        memcpy(b->lnk, a->lnk, a->n * sizeof(double));
        memcpy(b->v2, a->v2, a->n * sizeof(double));
    }
    dst->n = src->n;
    return CH_OK;
}

size_t ch_smile_expire(ch_smile *s, ch_time now)
{
    size_t gone = 0;
    while (s->n > 0 && s->s[0].expiry <= now) {
        slice first = s->s[0];
        memmove(&s->s[0], &s->s[1], (s->n - 1) * sizeof(slice));
        s->s[s->n - 1] = first;
        s->n--;
        gone++;
    }
    return gone;
}

ch_err ch_smile_vol(const ch_smile *s, double strike, ch_time expiry, ch_time now, double *vol)
{
    if (!(isfinite(strike) && strike > 0))
        return CH_EINVAL;
    if (expiry <= now)
        return CH_EEXPIRED;
    /* unexpired slices only */
    size_t first = 0;
    while (first < s->n && s->s[first].expiry <= now)
        first++;
    if (first == s->n)
        return CH_ENOTFOUND;
    double lk = log(strike);
    size_t i = first;
    while (i < s->n && s->s[i].expiry < expiry)
        i++;
    double v2;
    if (i < s->n && s->s[i].expiry == expiry) {
        v2 = slice_v2(&s->s[i], lk);
    } else if (i == first) {
        v2 = slice_v2(&s->s[first], lk); /* before the first: flat vol */
    } else if (i == s->n) {
        v2 = slice_v2(&s->s[s->n - 1], lk); /* after the last: flat vol */
    } else {
        const slice *a = &s->s[i - 1], *b = &s->s[i];
        double T = ch_years(now, expiry), Ta = ch_years(now, a->expiry),
               Tb = ch_years(now, b->expiry);
        double wa = slice_v2(a, lk) * Ta, wb = slice_v2(b, lk) * Tb;
        double w = wa + (wb - wa) * (T - Ta) / (Tb - Ta);
        v2 = w / T;
    }
    *vol = sqrt(v2);
    return CH_OK;
}

ch_err ch_mark(const ch_smile *s, const ch_market *m, ch_opt type, double strike, ch_time expiry,
               ch_greeks *out, double *vol)
{
    double v;
    ch_err e = ch_smile_vol(s, strike, expiry, m->now, &v);
    if (e != CH_OK)
        return e;
    e = ch_bs(type, m->spot, strike, ch_years(m->now, expiry), m->rate, m->carry, v, out);
    if (e == CH_OK && vol != NULL)
        *vol = v;
    return e;
}

/* ---- snapshot ------------------------------------------------------------ */

#define TAG_SMILE CHI_SNAP_TAG('S', 'M', 'I', 'L')

/* Each slice: its expiry, its points, and which pool area it owns (slots are
 * swapped, so the area is not the slot's index). */
void chi_smile_save(const ch_smile *sm, chi_wr *w)
{
    chi_snap_tag(w, TAG_SMILE);
    chi_put(w, sm->max_exp, 4);
    chi_put(w, sm->max_pts, 4);
    chi_put(w, sm->n, 4);
    for (size_t i = 0; i <= sm->max_exp; i++) {
        const slice *sl = &sm->s[i];
        chi_put(w, (uint64_t)sl->expiry, 8);
        chi_put(w, sl->n, 4);
        chi_put(w, (uint64_t)(sl->k - sm->pool) / (sm->max_pts * 3), 4);
        chi_put_bytes(w, sl->k, sl->n * sizeof(double));
        chi_put_bytes(w, sl->lnk, sl->n * sizeof(double));
        chi_put_bytes(w, sl->v2, sl->n * sizeof(double));
    }
}

bool chi_smile_load(ch_smile *sm, chi_rd *r)
{
    if (!chi_snap_expect(r, TAG_SMILE) || chi_get(r, 4) != sm->max_exp ||
        chi_get(r, 4) != sm->max_pts)
        return false;
    sm->n = (size_t)chi_get(r, 4);
    if (sm->n > sm->max_exp)
        return false;
    for (size_t i = 0; i <= sm->max_exp && !r->bad; i++) {
        slice *sl = &sm->s[i];
        sl->expiry = (ch_time)chi_get(r, 8);
        sl->n = (size_t)chi_get(r, 4);
        size_t area = (size_t)chi_get(r, 4);
        if (sl->n > sm->max_pts || area > sm->max_exp)
            return false;
        double *base = sm->pool + area * sm->max_pts * 3;
        sl->k = base;
        sl->lnk = base + sm->max_pts;
        sl->v2 = base + 2 * sm->max_pts;
        chi_snap_take(r, sl->k, sl->n, sizeof(double));
        chi_snap_take(r, sl->lnk, sl->n, sizeof(double));
        chi_snap_take(r, sl->v2, sl->n, sizeof(double));
    }
    return !r->bad;
}
