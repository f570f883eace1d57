/*
 * kit.h - small pieces the in-process programs (chdemo, chsim) share: a
 * seeded random generator, the trade-by-trade hedging baseline and a hedger
 * on the simulated venue. Not part of the engine's public API.
 */
#ifndef CH_KIT_H
#define CH_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/hedge.h"

/** xorshift64: deterministic for a seed on every platform. */
typedef struct kit_rng {
    uint64_t s;
} kit_rng;

/** A generator for @p seed (0 is mapped to 1: xorshift needs a non-zero state). */
kit_rng kit_rng_seed(uint64_t seed);
/** Uniform in [0, 1). */
double kit_uniform(kit_rng *r);
/** Standard normal (Box-Muller, one draw per call). */
double kit_normal(kit_rng *r);
/** Poisson with mean @p lambda (inversion; lambda up to a few hundred). */
uint32_t kit_poisson(kit_rng *r, double lambda);

/**
 * The baseline a clearinghouse without netting implies: every fill's delta
 * hedged on its own, at once, on the simulated venue.
 */
typedef struct kit_tbt {
    ch_perp_venue venue;
    double volume, fees, slippage;
    uint64_t orders;
} kit_tbt;

/** Hedge one fill's delta (the taker's delta change; the house takes the other side). */
void kit_tbt_fill(kit_tbt *b, double taker_delta, double mid);

/**
 * Room for element @p n of the array *@p items (of *@p cap elements of
 * @p elem bytes): the capacity doubles (from @p first). @return false when
 * out of memory (the array is then unchanged).
 */
bool kit_reserve(void *items, size_t *cap, size_t n, size_t elem, size_t first);

/** A hedger with policy @p p on the simulated venue @p v. @return owned or NULL. */
ch_hedger *kit_hedger_sim(const ch_hedge_policy *p, const ch_perp_venue *v);

#endif
