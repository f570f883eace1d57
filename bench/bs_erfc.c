/*
 * bs_erfc.c - the in-run baseline of bench_risk's pricing figures: ch_bs()
 * as it was up to 0.1 (each normal CDF from libm's erfc, the density from its
 * own exp, the same validation and limits), compiled in its own unit with
 * the project's flags as the library's was, so that bench_risk and
 * bench/instructions --risk measure today's pricer beside yesterday's on the
 * same inputs. The ratio keeps its meaning across CPUs, where a ratio to one
 * exp() did not (4.96 on one CPU, 15.1 on another for the same ns).
 */
#include "bs_erfc.h"

#include <math.h>

#define SQRT1_2      0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

static double norm_cdf(double x)
{
    return 0.5 * erfc(-x * SQRT1_2);
}

static double norm_pdf(double x)
{
    return INV_SQRT_2PI * exp(-0.5 * x * x);
}

static bool valid(double S, double K, double T, double r, double q, double sigma)
{
    return isfinite(S) && S > 0 && isfinite(K) && K > 0 && isfinite(T) && T >= 0 &&
           isfinite(sigma) && sigma >= 0 && isfinite(r) && isfinite(q);
}

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

ch_err bench_bs_erfc(ch_opt type, double S, double K, double T, double r, double q, double sigma,
                     ch_greeks *out)
{
    if (!valid(S, K, T, r, q, sigma) || (type != CH_OPT_CALL && type != CH_OPT_PUT))
        return CH_EINVAL;
    double sqrtT = sqrt(T);
    double v = sigma * sqrtT;
    if (T == 0 || v == 0) {
        limit_greeks(type, S, K, T, r, q, out);
        return CH_OK;
    }
    double dq = q == 0 ? 1.0 : exp(-q * T);
    double dr = r == 0 ? 1.0 : exp(-r * T);
    double d1 = (log(S / K) + (r - q) * T) / v + 0.5 * v;
    double d2 = d1 - v;
    double pdf1 = norm_pdf(d1);
    double Sdq = S * dq, Kdr = K * dr;
    double vega = Sdq * pdf1 * sqrtT;
    double decay = -Sdq * pdf1 * sigma / (2.0 * sqrtT);
    ch_greeks g;
    if (type == CH_OPT_CALL) {
        double n1 = norm_cdf(d1), n2 = norm_cdf(d2);
        g.price = Sdq * n1 - Kdr * n2;
        g.delta = dq * n1;
        g.theta = decay - r * Kdr * n2 + q * Sdq * n1;
        g.rho = K * T * dr * n2;
    } else {
        double n1 = norm_cdf(-d1), n2 = norm_cdf(-d2);
        g.price = Kdr * n2 - Sdq * n1;
        g.delta = -dq * n1;
        g.theta = decay + r * Kdr * n2 - q * Sdq * n1;
        g.rho = -K * T * dr * n2;
    }
    if (g.price < 0)
        g.price = 0; /* rounding in the far tail */
    g.gamma = dq * pdf1 / (S * v);
    g.vega = vega;
    g.vanna = -dq * pdf1 * d2 / sigma;
    g.volga = vega * d1 * d2 / sigma;
    *out = g;
    return CH_OK;
}
