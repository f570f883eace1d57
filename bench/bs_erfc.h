/* bs_erfc.h - the erfc-based pricer of 0.1, bench_risk's in-run baseline (bs_erfc.c). */
#ifndef CH_BENCH_BS_ERFC_H
#define CH_BENCH_BS_ERFC_H

#include "ch/risk.h"

/** ch_bs() as it was up to 0.1: the same contract, erfc-based CDFs. */
ch_err bench_bs_erfc(ch_opt type, double S, double K, double T, double r, double q, double sigma,
                     ch_greeks *out);

#endif
