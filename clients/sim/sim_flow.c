/*
 * sim_flow.c - customer orders. The generator draws, per step, a Poisson
 * number of orders; each picks a live expiry (nearer ones more often: weight
 * 1/rank), a strike near the spot (log-moneyness normal with moneyness_sd,
 * snapped to the listed grid), call or put, buy or sell, a size, and limit
 * (GTC, priced at the mark vol plus an offset) or market. Orders are data
 * (symbol, side, size, vol offset), priced only when submitted, so every
 * configuration sees the same flow whatever its engine did before.
 *
 * CSV (written to chsim-out/flow.csv, read back with flow.source "csv"):
 *   time,trader,symbol,side,qty,type,vol_offset
 *   1619827200,3,BTC-7MAY21-58000-C,buy,4,limit,-0.0061
 * time in Unix seconds (ascending), type limit|market, vol_offset in vol.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/kit.h"
#include "sim.h"

bool sim_order_check(const sim_config *c, const sim_order *o, ch_symbol *sym, char *msg, size_t cap)
{
    if (o->trader >= c->flow.traders) {
        snprintf(msg, cap, "flow: trader %u, but flow.traders is %u", o->trader, c->flow.traders);
        return false;
    }
    if (ch_symbol_parse(o->symbol, strlen(o->symbol), sym) != CH_OK ||
        strcmp(sym->underlying, c->underlying) != 0 || sym->kind == CH_PERP) {
        snprintf(msg, cap, "flow: %s: not an option on %s", o->symbol, c->underlying);
        return false;
    }
    return true;
}

bool sim_flow_push(sim_flow *f, const sim_order *o)
{
    if (!kit_reserve(&f->o, &f->cap, f->n, sizeof *f->o, 4096))
        return false;
    f->o[f->n++] = *o;
    return true;
}

void sim_flow_free(sim_flow *f)
{
    free(f->o);
    memset(f, 0, sizeof *f);
}

static void symbol_of(const char *und, ch_time expiry, int64_t strike, bool call, char *out)
{
    ch_symbol sym = {.kind = call ? CH_CALL : CH_PUT, .expiry = expiry, .strike = strike};
    snprintf(sym.underlying, sizeof sym.underlying, "%s", und);
    ch_symbol_format(&sym, out, CH_SYMBOL_MAX);
}

bool sim_flow_generate(const sim_config *c, const sim_market *m, sim_flow *f)
{
    memset(f, 0, sizeof *f);
    sim_chain *ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return false;
    kit_rng r = kit_rng_seed(c->seed);
    double step_h = (double)c->step_seconds / 3600.0;
    bool ok = true;
    /* no orders at the last step: the run ends with its marks */
    for (size_t k = 0; ok && k + 1 < m->n; k++) {
        if (sim_chain_update(c, m, k, ch) == SIZE_MAX) {
            ok = false;
            break;
        }
        ch_time now = m->s[k].t;
        size_t live[SIM_CHAIN_MAX], nl = 0;
        for (size_t i = 0; i < ch->n; i++)
            if (ch->l[i].expiry > now + 12 * SIM_HOUR && ch->l[i].n > 0)
                live[nl++] = i;
        if (nl == 0)
            continue;
        /* live[] is in listing order, which is expiry order except across rolls: sort */
        for (size_t i = 1; i < nl; i++)
            for (size_t j = i; j > 0 && ch->l[live[j]].expiry < ch->l[live[j - 1]].expiry; j--) {
                size_t t = live[j];
                live[j] = live[j - 1];
                live[j - 1] = t;
            }
        double wsum = 0;
        for (size_t i = 0; i < nl; i++)
            wsum += 1.0 / (double)(i + 1);
        uint32_t n = kit_poisson(&r, c->flow.orders_per_hour * step_h);
        for (uint32_t q = 0; ok && q < n; q++) {
            double u = kit_uniform(&r) * wsum;
            size_t e = 0;
            while (e + 1 < nl && (u -= 1.0 / (double)(e + 1)) > 0)
                e++;
            const sim_listing *l = &ch->l[live[e]];
            double target = m->s[k].spot * exp(c->flow.moneyness_sd * kit_normal(&r));
            size_t best = 0;
            for (size_t i = 1; i < l->n; i++)
                if (fabs((double)l->strike[i] - target) < fabs((double)l->strike[best] - target))
                    best = i;
            sim_order o = {.t = now, .trader = (uint32_t)(kit_uniform(&r) * c->flow.traders)};
            bool call = kit_uniform(&r) < c->flow.call_share;
            symbol_of(c->underlying, l->expiry, l->strike[best], call, o.symbol);
            o.side = kit_uniform(&r) < c->flow.buy_share ? CH_BUY : CH_SELL;
            o.qty = c->flow.size_min +
                    (int64_t)(kit_uniform(&r) * (double)(c->flow.size_max - c->flow.size_min + 1));
            if (c->flow.shape == SIM_SHAPE_OFFSETTING) {
                /* a resting limit at the mark, then its exact opposite from another trader */
                o.limit = true;
                o.vol_offset = 0;
                sim_order back = o;
                back.side = o.side == CH_BUY ? CH_SELL : CH_BUY;
                back.trader = (o.trader + 1) % c->flow.traders;
                ok = sim_flow_push(f, &o) && sim_flow_push(f, &back);
                continue;
            }
            o.limit = kit_uniform(&r) < c->flow.limit_share;
            /* limits from a spread below the mark to 0.6 of it above (passive on average) */
            o.vol_offset = o.limit ? c->flow.limit_vol_spread * (1.6 * kit_uniform(&r) - 1.0) : 0;
            ok = sim_flow_push(f, &o);
        }
    }
    free(ch);
    if (!ok)
        sim_flow_free(f);
    return ok;
}

bool sim_flow_write(const char *path, const sim_flow *f)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return false;
    fprintf(fp, "time,trader,symbol,side,qty,type,vol_offset\n");
    for (size_t i = 0; i < f->n; i++) {
        const sim_order *o = &f->o[i];
        fprintf(fp, "%" PRId64 ",%u,%s,%s,%" PRId64 ",%s,%.17g\n", o->t / CH_NS_PER_SEC, o->trader,
                o->symbol, o->side == CH_BUY ? "buy" : "sell", o->qty,
                o->limit ? "limit" : "market", o->vol_offset);
    }
    return fclose(fp) == 0;
}

typedef struct flow_ctx {
    sim_flow *f;
    const char *path;
} flow_ctx;

static bool flow_row(void *ctx, char **fld, size_t n, size_t line, char *msg, size_t cap)
{
    sim_flow *f = ((flow_ctx *)ctx)->f;
    const char *path = ((flow_ctx *)ctx)->path;
    sim_order o;
    ch_symbol parsed;
    char *end;
    memset(&o, 0, sizeof o);
    bool ok = n == 7;
    long long t = ok ? strtoll(fld[0], &end, 10) : 0;
    ok = ok && *end == '\0';
    unsigned long trader = ok ? strtoul(fld[1], &end, 10) : 0;
    ok = ok && *end == '\0' && trader < 100000 && strlen(fld[2]) < sizeof o.symbol;
    long long qty = ok ? strtoll(fld[4], &end, 10) : 0;
    ok = ok && *end == '\0' && qty >= 1;
    double off = ok ? strtod(fld[6], &end) : 0;
    ok = ok && *end == '\0' && isfinite(off) && fabs(off) <= 1 &&
         (strcmp(fld[3], "buy") == 0 || strcmp(fld[3], "sell") == 0) &&
         (strcmp(fld[5], "limit") == 0 || strcmp(fld[5], "market") == 0) &&
         ch_symbol_parse(fld[2], strlen(fld[2]), &parsed) == CH_OK && parsed.kind != CH_PERP &&
         !(f->n > 0 && t * CH_NS_PER_SEC < f->o[f->n - 1].t);
    if (!ok) {
        snprintf(msg, cap,
                 "%s:%zu: expected time,trader,symbol,side,qty,type,vol_offset (times "
                 "ascending, side buy|sell, type limit|market, an option symbol)",
                 path, line);
        return false;
    }
    o.t = (ch_time)t * CH_NS_PER_SEC;
    o.trader = (uint32_t)trader;
    snprintf(o.symbol, sizeof o.symbol, "%s", fld[2]);
    o.side = fld[3][0] == 'b' ? CH_BUY : CH_SELL;
    o.qty = qty;
    o.limit = fld[5][0] == 'l';
    o.vol_offset = off;
    if (!sim_flow_push(f, &o)) {
        snprintf(msg, cap, "%s: out of memory", path);
        return false;
    }
    return true;
}

bool sim_flow_load(const char *path, sim_flow *f, char *msg, size_t cap)
{
    memset(f, 0, sizeof *f);
    flow_ctx ctx = {f, path};
    if (!sim_read_csv(path, flow_row, &ctx, msg, cap)) {
        sim_flow_free(f);
        return false;
    }
    return true;
}
