/*
 * bs.c - Black-Scholes-Merton / Black-76 prices, Greeks and implied vol.
 *
 * Accuracy first: the normal CDF is erfc-based so that N(-x) of a deep
 * out-of-the-money option keeps full relative precision, and the put uses
 * N(-d) directly (never 1 - N(d)). Limits (T = 0, sigma*sqrt(T) = 0) are
 * handled explicitly so that no input produces NaN or a division by zero.
 *
 * ch_bs() computes its two CDFs without erfc: W. J. Cody's rational
 * approximations of the normal CDF (ACM TOMS 19 (1993), algorithm 715;
 * relative accuracy near double precision in each range) take the tail as
 * exp(-x^2/2) times a rational function, and that factor is already known:
 * (the central range, |x| <= 0.674, keeps erfc's own polynomial, inline:
 * it is within half an ulp there, where Cody's 0.5 + x R(x^2) lost a few
 * ulps that an at-the-money price's cancellation multiplies):
 * exp(-d1^2/2) is the density's (computed once for gamma and vega) and
 * exp(-d2^2/2) follows from it by the identity S e^{-qT} phi(d1) =
 * K e^{-rT} phi(d2). So one exp serves the density and both CDFs where
 * erfc called exp up to twice per CDF. The factor's own rounding (about
 * d1^2/2 ulp) stays far inside the reference tolerances (1e-10 relative).
 *
 * Implied vol: the price is mapped to the out-of-the-money option's price
 * (its time value, by put-call parity), then a Newton iteration on
 * ln(price(sigma)) - ln(target), whose derivative vega/price stays well
 * scaled even for prices of 1e-200, safeguarded by a bracket [lo, hi] that
 * every evaluation narrows: a step that leaves the bracket is replaced by a
 * (geometric) bisection. So it converges wherever a vol exists.
 */
#include "ch/risk.h"

#include <math.h>

#define SQRT1_2      0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

/*
 * N(x) for |x| <= 0.67448975 (|x| / sqrt(2) < 0.84375): 0.5 erfc(-x / sqrt 2)
 * with erfc's central branch inline, FDLIBM's rational erf(u) = u + u R(u^2)
 * (Sun Microsystems 1993, freely distributable; the coefficients are its
 * pp0..pp4, qq1..qq5), evaluated in the order glibc's s_erf.c uses, so that
 * the result is bit for bit libm's (test_risk compares them over the range):
 * the call, and erfc's dispatch over its five ranges, are what is saved.
 */
static inline double cdf_central(double x)
{
    double u = -x * SQRT1_2, z = u * u, z2 = z * z, z4 = z2 * z2;
    double r = (1.28379167095512558561e-01 + z * -3.25042107247001499370e-01) +
               z2 * (-2.84817495755985104766e-02 + z * -5.77027029648944159157e-03) +
               z4 * -2.37630166566501626084e-05;
    double s = (1.0 + z * 3.97917223959155352819e-01) +
               z2 * (6.50222499887672944485e-02 + z * 5.08130628187576562776e-03) +
               z4 * (1.32494738004321644526e-04 + z * -3.96022827877536812320e-06);
    double y = r / s;
    return 0.5 * (u < 0.25 ? 1.0 - (u + u * y) : 0.5 - (u * y + (u - 0.5)));
}

double ch_norm_cdf(double x)
{
    if (fabs(x) <= 0.67448975)
        return cdf_central(x);
    return 0.5 * erfc(-x * SQRT1_2);
}

double ch_norm_pdf(double x)
{
    return INV_SQRT_2PI * exp(-0.5 * x * x);
}

static bool valid(double S, double K, double T, double r, double q, double sigma)
{
    return S > 0 && S < INFINITY && K > 0 && K < INFINITY && T >= 0 && T < INFINITY && sigma >= 0 &&
           sigma < INFINITY && fabs(r) < INFINITY && fabs(q) < INFINITY;
}

/* Cody's coefficients (algorithm 715, ANORM), numerator and denominator of
 * each range side by side, so that both polynomials are evaluated at once in
 * one pair of doubles (GCC and Clang vector extensions: SSE2 on x86-64, the
 * same IEEE operations per lane, so the same results as two scalar loops). */
typedef double pair __attribute__((vector_size(16)));

/* up to sqrt(32), in |x|: c[8] ... c[0..7], d */
static const pair k_cd[8] = {{0.39894151208813466764, 22.266688044328115691},
                             {8.8831497943883759412, 235.38790178262499861},
                             {93.506656132177855979, 1519.377599407554805},
                             {597.27027639480026226, 6485.558298266760755},
                             {2494.5375852903726711, 18615.571640885098091},
                             {6848.1904505362823326, 34900.952721145977266},
                             {11602.651437647350124, 38912.003286093271411},
                             {9842.7148383839780218, 19685.429676859990727}};
#define C_LEAD 1.0765576773720192317e-8
/* beyond, in 1/x^2: p[5] ... p[0..4], q */
static const pair k_pq[5] = {{0.21589853405795699, 1.28426009614491121},
                             {0.1274011611602473639, 0.468238212480865118},
                             {0.022235277870649807, 0.0659881378689285515},
                             {0.001421619193227893466, 0.00378239633202758244},
                             {2.9112874951168792e-5, 7.29751555083966205e-5}};
#define P_LEAD 0.02307344176494017303

/* (lead t^n + k[0] t^(n-1) + ... + k[n-1]) / (t^n + ...), both at once */
static inline double rational(const pair *k, int n, double lead, double t)
{
    pair acc = {lead * t, t}, tt = {t, t};
    for (int i = 0; i < n - 1; i++)
        acc = (acc + k[i]) * tt;
    acc += k[n - 1];
    return acc[0] / acc[1];
}

/* N(x), given e = exp(-x^2/2): Cody's three ranges; the tail is e times
 * the range's rational function. */
static inline __attribute__((always_inline)) double cdf_with(double x, double e)
{
    double y = fabs(x);
    if (y <= 0.67448975) /* libm's erfc's own polynomial here, within half an ulp */
        return cdf_central(x);
    double tail;
    if (y <= 5.656854249492380195) { /* sqrt(32) */
        tail = e * rational(k_cd, 8, C_LEAD, y);
    } else {
        double z = 1.0 / (x * x);
        tail = e * (INV_SQRT_2PI - z * rational(k_pq, 5, P_LEAD, z)) / y;
    }
    return x > 0 ? 1.0 - tail : tail;
}

/* Degenerate cases: no diffusion left (T == 0) or none at all (sigma == 0). */
static void limit_greeks(ch_opt type, double S, double K, double T, double r, double q,
                         ch_greeks *g)
{
    double dq = exp(-q * T), dr = exp(-r * T);
    double fwd = S * dq - K * dr; /* discounted forward minus discounted strike */
    double sign = type == CH_OPT_CALL ? 1.0 : -1.0;
    double itm = sign * fwd;
    *g = (ch_greeks){0};
    if (itm > 0) {
        g->price = itm;
        g->delta = sign * dq;
        /* -dV/dT with V = sign*(S e^{-qT} - K e^{-rT}) */
        g->theta = sign * (q * S * dq - r * K * dr);
        g->rho = sign * K * T * dr;
    } else if (fwd == 0) {
        g->delta = sign * 0.5 * dq; /* at the strike: the average of the two sides */
    }
}

ch_err ch_bs(ch_opt type, double S, double K, double T, double r, double q, double sigma,
             ch_greeks *out)
{
    if (!valid(S, K, T, r, q, sigma) || (type != CH_OPT_CALL && type != CH_OPT_PUT))
        return CH_EINVAL;
    double sqrtT = sqrt(T);
    double v = sigma * sqrtT;
    if (!(v > 0)) { /* T == 0, sigma == 0, or their product below the smallest double */
        limit_greeks(type, S, K, T, r, q, out);
        return CH_OK;
    }
    double dq = q == 0 ? 1.0 : exp(-q * T);
    double dr = r == 0 ? 1.0 : exp(-r * T);
    double d1 = (log(S / K) + (r - q) * T) / v + 0.5 * v;
    double d2 = d1 - v;
    double e1 = exp(-0.5 * d1 * d1); /* sqrt(2 pi) phi(d1) */
    double pdf1 = INV_SQRT_2PI * e1;
    double Sdq = S * dq, Kdr = K * dr;
    /* exp(-d2^2/2) from e1 (S e^-qT phi(d1) = K e^-rT phi(d2)), unless e1
     * underflowed where e2 has not */
    double e2 = e1 > 1e-290 ? e1 * (Sdq / Kdr) : exp(-0.5 * d2 * d2);
    double vega = Sdq * pdf1 * sqrtT;
    double decay = -Sdq * pdf1 * sigma / (2.0 * sqrtT);
    ch_greeks *g = out;
    if (type == CH_OPT_CALL) {
        double n1 = cdf_with(d1, e1), n2 = cdf_with(d2, e2);
        g->price = Sdq * n1 - Kdr * n2;
        g->delta = dq * n1;
        g->theta = decay - r * Kdr * n2 + q * Sdq * n1;
        g->rho = K * T * dr * n2;
    } else {
        double n1 = cdf_with(-d1, e1), n2 = cdf_with(-d2, e2);
        g->price = Kdr * n2 - Sdq * n1;
        g->delta = -dq * n1;
        g->theta = decay + r * Kdr * n2 - q * Sdq * n1;
        g->rho = -K * T * dr * n2;
    }
    if (g->price < 0)
        g->price = 0; /* rounding in the far tail */
    g->gamma = dq * pdf1 / (S * v);
    g->vega = vega;
    g->vanna = -dq * pdf1 * d2 / sigma;
    g->volga = vega * d1 * d2 / sigma;
    return CH_OK;
}

double ch_bs_price(ch_opt type, double S, double K, double T, double r, double q, double sigma)
{
    ch_greeks g;
    return ch_bs(type, S, K, T, r, q, sigma, &g) == CH_OK ? g.price : NAN;
}

ch_err ch_black76(ch_opt type, double F, double K, double T, double r, double sigma, ch_greeks *out)
{
    return ch_bs(type, F, K, T, r, r, sigma, out);
}

/* Price and vega of an option at vol s (no validation: the caller did it). */
static void price_vega(ch_opt type, double S, double K, double T, double r, double q, double s,
                       double *price, double *vega)
{
    double sqrtT = sqrt(T), v = s * sqrtT;
    double dq = exp(-q * T), dr = exp(-r * T);
    double d1 = (log(S / K) + (r - q) * T) / v + 0.5 * v, d2 = d1 - v;
    if (type == CH_OPT_CALL)
        *price = S * dq * ch_norm_cdf(d1) - K * dr * ch_norm_cdf(d2);
    else
        *price = K * dr * ch_norm_cdf(-d2) - S * dq * ch_norm_cdf(-d1);
    *vega = S * dq * ch_norm_pdf(d1) * sqrtT;
}

ch_err ch_implied_vol(ch_opt type, double S, double K, double T, double r, double q, double price,
                      double *sigma)
{
    if (!valid(S, K, T, r, q, 0.0) || T <= 0 || !isfinite(price) ||
        (type != CH_OPT_CALL && type != CH_OPT_PUT))
        return CH_EINVAL;
    double Sd = S * exp(-q * T), Kd = K * exp(-r * T);
    double fwd = type == CH_OPT_CALL ? Sd - Kd : Kd - Sd; /* intrinsic, may be < 0 */
    double lower = fwd > 0 ? fwd : 0.0;
    double upper = type == CH_OPT_CALL ? Sd : Kd;
    if (!(price > lower) || !(price < upper))
        return CH_ENO_IV;
    /* solve for the out-of-the-money option, whose price is the time value */
    ch_opt otm = type;
    double target = price;
    if (fwd > 0) {
        otm = type == CH_OPT_CALL ? CH_OPT_PUT : CH_OPT_CALL;
        target = price - fwd;
        if (!(target > 0))
            return CH_ENO_IV;
    }
    double ln_target = log(target);
    double lo = 0.0, hi = INFINITY;
    /* start where vega peaks (sqrt(2|ln F/K| / T)), or from the ATM
     * approximation price ~ 0.4 S sigma sqrt(T) */
    double x = log(Sd / Kd);
    double s = sqrt(2.0 * fabs(x) / T);
    double atm_guess = target / (0.3989422804 * sqrt(Sd * Kd) * sqrt(T));
    if (s < atm_guess || !(s > 0))
        s = atm_guess;
    if (!(s > 1e-8))
        s = 1e-8;
    if (s > 50)
        s = 50;
    for (int it = 0; it < 200; it++) {
        double p, vg;
        price_vega(otm, S, K, T, r, q, s, &p, &vg);
        double f = p > 0 ? log(p) - ln_target : -INFINITY;
        if (f == 0) {
            *sigma = s;
            return CH_OK;
        }
        if (f > 0)
            hi = s;
        else
            lo = s;
        double next;
        if (p > 0 && vg > 0 && isfinite(f)) {
            next = s - f * p / vg;
        } else {
            next = NAN;
        }
        if (!(next > lo && next < hi)) {
            if (isinf(hi))
                next = s * 2.0;
            else if (lo > 0 && hi > 4.0 * lo)
                next = sqrt(lo * hi);
            else
                next = 0.5 * (lo + hi);
        }
        if (fabs(next - s) <= 4e-16 * s || (isfinite(hi) && hi - lo <= 4e-16 * hi)) {
            *sigma = next;
            return CH_OK;
        }
        if (next > 1e4) { /* the price is at the upper bound to double precision */
            *sigma = next;
            return CH_OK;
        }
        s = next;
    }
    *sigma = s;
    return CH_OK;
}

double ch_years(ch_time from, ch_time to)
{
    return (double)(to - from) / (365.0 * 86400.0 * 1e9);
}

double ch_vega_per_point(double vega)
{
    return vega / 100.0;
}

double ch_theta_per_day(double theta)
{
    return theta / 365.0;
}
