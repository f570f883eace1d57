/*
 * sim_drive.c - the scenario's one loop, over a backend: the engine in
 * process (sim_run.c) or a running chd through libchclient (sim_chd.c).
 *
 * Each step: list the series of the expiries the chain adds, apply the step's market
 * data, open the step (what the backend measures before trading), cancel
 * resting orders past their life, send the step's orders, close the step
 * (hedging, what it records). A flow order left after the last step is an
 * error: the flow and the scenario do not match. The steps' parts are
 * functions of their own (listing, due orders, the end check) for the
 * in-process run over several underlyings (sim_run.c), whose lanes share
 * one market phase per step.
 */
#include <stdio.h>

#include "sim.h"

bool sim_drive_list(const sim_config *c, const sim_market *m, size_t k, sim_chain *chain,
                    const sim_backend *be, char *msg, size_t cap)
{
    size_t added = sim_chain_update(c, m, k, chain);
    if (added == SIZE_MAX) {
        snprintf(msg, cap, "more than %d expiries: shorten the scenario", SIM_CHAIN_MAX);
        return false;
    }
    for (size_t i = chain->n - added; i < chain->n; i++) /* a call and a put per strike */
        for (size_t j = 0; j < chain->l[i].n; j++)
            for (int t = 0; t < 2; t++) {
                ch_symbol sym = {.kind = t ? CH_PUT : CH_CALL,
                                 .expiry = chain->l[i].expiry,
                                 .strike = chain->l[i].strike[j]};
                snprintf(sym.underlying, sizeof sym.underlying, "%s", c->underlying);
                if (!be->list(be->b, &sym, msg, cap))
                    return false;
            }
    return true;
}

size_t sim_drive_due(const sim_flow *f, size_t next, ch_time t)
{
    size_t n = 0;
    while (next + n < f->n && f->o[next + n].t <= t)
        n++;
    return n;
}

bool sim_drive_end(const sim_flow *f, size_t next, char *msg, size_t cap)
{
    if (next < f->n) {
        snprintf(msg, cap, "flow: %zu orders after the scenario's end", f->n - next);
        return false;
    }
    return true;
}

bool sim_drive(const sim_config *c, const sim_market *m, const sim_flow *f, sim_chain *chain,
               const sim_backend *be, sim_result *out, sim_progress_fn progress, void *pctx,
               char *msg, size_t cap)
{
    size_t next = 0;
    for (size_t k = 0; k < m->n; k++) {
        if (!sim_drive_list(c, m, k, chain, be, msg, cap) || !be->market(be->b, k, msg, cap) ||
            !be->open_step(be->b, k, out, msg, cap) || !be->expire(be->b, m->s[k].t, msg, cap))
            return false;
        size_t n = sim_drive_due(f, next, m->s[k].t);
        if (!be->orders(be->b, next, n, k, out, msg, cap))
            return false;
        next += n;
        if (!be->close_step(be->b, k, out, msg, cap))
            return false;
        if (progress != NULL)
            progress(pctx, k + 1, m->n);
    }
    return sim_drive_end(f, next, msg, cap);
}
