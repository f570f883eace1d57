/*
 * kit.c - see kit.h. The generator is xorshift64 (Marsaglia 2003): tiny,
 * fast and identical everywhere, which is all a seeded simulation needs.
 */
#include "kit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

kit_rng kit_rng_seed(uint64_t seed)
{
    return (kit_rng){seed ? seed : 1};
}

double kit_uniform(kit_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (double)(r->s >> 11) / 9007199254740992.0;
}

double kit_normal(kit_rng *r)
{
    double u = kit_uniform(r), v = kit_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

uint32_t kit_poisson(kit_rng *r, double lambda)
{
    if (!(lambda > 0))
        return 0;
    /* inversion by sequential search, in log space so large means do not underflow */
    double u = kit_uniform(r), logp = -lambda, cum = exp(logp);
    uint32_t k = 0;
    while (u > cum && k < 100000) {
        k++;
        logp += log(lambda) - log((double)k);
        cum += exp(logp);
    }
    return k;
}

void kit_tbt_fill(kit_tbt *b, double taker_delta, double mid)
{
    ch_hedge_exec x;
    if (fabs(taker_delta) > 0 && ch_perp_execute(&b->venue, mid, -taker_delta, &x) == CH_OK) {
        b->volume += fabs(taker_delta);
        b->fees += x.fee;
        b->slippage += x.slippage;
        b->orders++;
    }
}

ch_hedger *kit_hedger_sim(const ch_hedge_policy *p, const ch_perp_venue *v)
{
    ch_hedge_adapter adapter;
    if (ch_hedge_adapter_sim(v, &adapter) != CH_OK)
        return NULL;
    ch_hedger *h = ch_hedger_create(p, adapter);
    if (h == NULL)
        adapter.ops->destroy(adapter.impl); /* not consumed on failure */
    return h;
}

bool kit_reserve(void *items, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : first;
    void *old;
    memcpy(&old, items, sizeof old);
    void *grown = realloc(old, nc * elem);
    if (grown == NULL)
        return false;
    memcpy(items, &grown, sizeof grown);
    *cap = nc;
    return true;
}
