/*
 * sim_chd.c - the scenario driven through a running chd with libchclient
 * (chsim --chd ENDPOINT): the same listing rule, price path, marks and
 * customer orders as sim_run.c, sent as instrument.add, market.update and
 * one order.batch per step; results read back from the order replies and
 * the daemon's `positions`, `hedge`, `risk` and `stats` replies.
 *
 * Time. chd refuses a market.update whose `time` lies before its engine
 * clock, and its clock follows the wall clock whenever that is ahead. So the
 * scenario is shifted by a whole number of weeks to start after the wall
 * clock (a day ahead at least): weekdays, hours and every interval (time to
 * expiry, funding periods) are unchanged, the symbols carry the shifted
 * expiry dates, and the daemon's clock then moves with the simulated one
 * (each market.update carries its step's time). A daemon whose clock was
 * already pushed past that (a previous simulated run) refuses the first
 * update: daemon mode wants a daemon started for it, on a fresh data folder.
 *
 * One configuration: the daemon's (netting, pricing, fees, pool capital and
 * hedge policy are chd's config). What the protocol does not expose is not
 * in the result: the PnL attribution, the trade-by-trade hedging baseline
 * (fills carry no delta) and the option notional.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch/client.h"
#include "sim.h"

#define SIM_WEEK      (7 * SIM_DAY)
#define SIM_CHD_MARKS 512 /* marks per market.update (chd's limit) */
#define SIM_CHD_BATCH 5000

typedef struct chd_resting {
    char id[CH_CLIENT_ID_MAX];
    uint32_t trader;
    ch_time deadline;
} chd_resting;

/* The house and pool as chd reports them, and the hedge book. */
typedef struct chd_state {
    double equity, delta, gamma, vega, contracts;
    ch_client_hedge_info h;
} chd_state;

typedef struct chd_run {
    const sim_config *c;
    const sim_market *m;
    ch_client *cl;
    ch_time shift;
    double tick;
    sim_chain *chain;
    /* expiries chd listed before the run (its own weeklies), in the scenario's
     * time: marked with the scenario's surface too, or their marks and ours
     * could make total variance decrease with expiry, which chd refuses */
    ch_time extra[SIM_TENORS_MAX];
    size_t n_extra;
    char (*listed)[CH_CLIENT_SYMBOL_MAX];
    size_t n_listed, cap_listed;
    char (*names)[CH_CLIENT_NAME_MAX];
    chd_resting *rest;
    size_t n_rest, cap_rest;
    /* one step's orders */
    ch_client_order *ord;
    char (*sym)[CH_CLIENT_SYMBOL_MAX];
    size_t *src; /* the flow index of each order of the batch */
    size_t cap_ord;
    /* one step's marks */
    ch_client_vol *iv;
    char (*ivkey)[CH_CLIENT_SYMBOL_MAX];
    ch_time gexp[SIM_CHD_MARKS / SIM_X_N]; /* the expiry of each group of SIM_X_N marks */
    uint64_t split_updates;                /* market.updates sent one expiry at a time */
    /* the loop's backend (sim_drive.c): the flow, the state at the start and
     * after the last step, the value at the start and the PnL's peak */
    const sim_flow *f;
    chd_state s0, s;
    double v0, peak;
} chd_run;

/* @p p with room for @p need items of @p size (NULL, @p p untouched: out of memory). */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * size);
    if (q != NULL)
        *cap = n;
    return q;
}

static bool call_fail(const chd_run *r, const char *what, ch_err err, char *msg, size_t cap)
{
    if (err == CH_EIO || err == CH_ETIMEDOUT)
        snprintf(msg, cap, "chd: %s: no reply (%s)", what, ch_client_message(r->cl));
    else
        snprintf(msg, cap, "chd: %s: %s (%s)", what, ch_strerror(err), ch_client_message(r->cl));
    return false;
}

static bool is_listed(const chd_run *r, const char *sym)
{
    for (size_t i = 0; i < r->n_listed; i++)
        if (strcmp(r->listed[i], sym) == 0)
            return true;
    return false;
}

static bool remember(chd_run *r, const char *sym)
{
    void *q = grow(r->listed, &r->cap_listed, r->n_listed + 1, sizeof *r->listed);
    if (q == NULL)
        return false;
    r->listed = q;
    snprintf(r->listed[r->n_listed++], CH_CLIENT_SYMBOL_MAX, "%s", sym);
    return true;
}

/* A symbol of the scenario as the daemon sees it: the expiry shifted. */
static void shifted(const chd_run *r, ch_symbol sym, char *out, size_t cap)
{
    sym.expiry += r->shift;
    ch_symbol_format(&sym, out, cap);
}

/*
 * chsim's flow, limit prices and report are per contract of one BTC (its
 * own runs' contract_size): a daemon whose contracts are another size would
 * fill those orders at prices and sizes the scenario did not mean, so it is
 * refused rather than reported in the wrong units.
 */
static bool one_btc_contract(const char *sym, double contract_size, char *msg, size_t cap)
{
    if (contract_size == 1.0)
        return true;
    snprintf(
        msg, cap,
        "chd's %s is a contract of %g BTC: chsim's flow, prices and report are per contract of "
        "1 BTC; run it against a chd whose BTC contract_size is 1",
        sym, contract_size);
    return false;
}

static bool add_symbol(chd_run *r, const char *sym, char *msg, size_t cap)
{
    if (is_listed(r, sym))
        return true;
    ch_client_instrument in;
    ch_err err = ch_client_instrument_add(r->cl, sym, &in);
    if (err != CH_OK) {
        char what[CH_CLIENT_SYMBOL_MAX + 32];
        snprintf(what, sizeof what, "instrument.add %s", sym);
        return call_fail(r, what, err, msg, cap);
    }
    r->tick = in.tick;
    if (!one_btc_contract(sym, in.contract_size, msg, cap))
        return false;
    if (!remember(r, sym)) {
        snprintf(msg, cap, "out of memory");
        return false;
    }
    return true;
}

static void iso_time(ch_time t, char *buf, size_t cap)
{
    time_t s = (time_t)(t / CH_NS_PER_SEC);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * chd applies the marks of one update expiry by expiry, shortest first, each
 * checked against its neighbours as they are at that moment (the protocol
 * has no "replace every mark"): when the whole surface moves, e.g. from the
 * flat vols chd starts with to the scenario's smile, a consistent new
 * surface can be refused half-way. Then the expiries go one update each:
 * longest first (right when vols rise), then what is left shortest first
 * (right when they fall). Each of these updates carries the step's market
 * data; chd runs its hedge policy after each.
 */
static bool split_update(chd_run *r, ch_client_market *mu, size_t ng, char *msg, size_t cap)
{
    size_t ord[SIM_CHD_MARKS / SIM_X_N];
    bool set[SIM_CHD_MARKS / SIM_X_N] = {false};
    for (size_t i = 0; i < ng; i++) { /* ascending expiry */
        size_t j = i;
        for (; j > 0 && r->gexp[ord[j - 1]] > r->gexp[i]; j--)
            ord[j] = ord[j - 1];
        ord[j] = i;
    }
    r->split_updates++;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < ng; i++) {
            size_t g = pass == 0 ? ord[ng - 1 - i] : ord[i];
            if (set[g])
                continue;
            mu->iv = r->iv + g * SIM_X_N;
            mu->n_iv = SIM_X_N;
            ch_err err = ch_client_market_update(r->cl, mu, NULL);
            if (err == CH_OK)
                set[g] = true;
            else if (err != CH_EBADREQ || strstr(ch_client_message(r->cl), "calendar") == NULL)
                return call_fail(r, "market.update", err, msg, cap);
        }
    for (size_t g = 0; g < ng; g++)
        if (!set[g]) {
            char when[32];
            iso_time(r->gexp[g] + r->shift, when, sizeof when);
            snprintf(msg, cap,
                     "chd refused the marks of the expiry %s, even one expiry at a "
                     "time: calendar arbitrage against its other marks",
                     when);
            return false;
        }
    return true;
}

/* market.update: index, perp, funding, rate, the step's time, and marks on
 * the log-moneyness grid of every live expiry (as in sim_run.c, each at a
 * whole-dollar strike: a mark's key is a symbol). */
static bool market(chd_run *r, size_t k, char *msg, size_t cap)
{
    const sim_step *s = &r->m->s[k];
    size_t n = 0;
    for (size_t i = 0; i < r->chain->n + r->n_extra; i++) {
        ch_time expiry = i < r->chain->n ? r->chain->l[i].expiry : r->extra[i - r->chain->n];
        if (expiry <= s->t || (i >= r->chain->n && sim_listing_find(r->chain, expiry) != SIZE_MAX))
            continue;
        if (n + SIM_X_N > SIM_CHD_MARKS) {
            snprintf(msg, cap, "chd: more than %d live expiries (%d marks per market.update)",
                     SIM_CHD_MARKS / SIM_X_N, SIM_CHD_MARKS);
            return false;
        }
        double tau = ch_years(s->t, expiry);
        r->gexp[n / SIM_X_N] = expiry;
        for (size_t j = 0; j < SIM_X_N; j++) {
            double x = -1.0 + SIM_X_STEP * (double)j;
            ch_symbol sym = {
                .kind = CH_CALL, .expiry = expiry, .strike = (int64_t)llround(s->spot * exp(x))};
            snprintf(sym.underlying, sizeof sym.underlying, "BTC");
            shifted(r, sym, r->ivkey[n], sizeof r->ivkey[n]);
            r->iv[n] = (ch_client_vol){.key = r->ivkey[n],
                                       .vol = sim_surface_vol(&r->m->surf, tau, x) * s->level};
            n++;
        }
    }
    char when[32];
    iso_time(s->t + r->shift, when, sizeof when);
    /* chd takes prices on the tick only: the path's real spot, rounded */
    double spot = llround(s->spot / r->tick) * r->tick;
    if (spot < r->tick)
        spot = r->tick;
    ch_client_market mu = {.underlying = "BTC",
                           .index = spot,
                           .time = when,
                           .has_rate = true,
                           .rate = r->m->rate,
                           .has_funding_rate = true,
                           .funding_rate = s->funding,
                           .has_perp = true,
                           .perp = spot,
                           .iv = r->iv,
                           .n_iv = n};
    ch_err err = ch_client_market_update(r->cl, &mu, NULL);
    if (err == CH_EBADREQ && k == 0 && strstr(ch_client_message(r->cl), "backwards") != NULL) {
        snprintf(msg, cap,
                 "chd refused the scenario's first time (%s): its clock is past it (a previous "
                 "simulated run on this daemon?); run chsim --chd against a daemon started on a "
                 "fresh data folder (%s)",
                 when, ch_client_message(r->cl));
        return false;
    }
    if (err == CH_EBADREQ && strstr(ch_client_message(r->cl), "calendar") != NULL)
        return split_update(r, &mu, n / SIM_X_N, msg, cap);
    return err == CH_OK || call_fail(r, "market.update", err, msg, cap);
}

static bool account_state(chd_run *r, const char *name, chd_state *st, char *msg, size_t cap)
{
    ch_client_positions_info pi;
    ch_err err = ch_client_positions(r->cl, name, &pi);
    if (err != CH_OK)
        return call_fail(r, "positions", err, msg, cap);
    st->equity += pi.equity;
    for (size_t i = 0; i < pi.n; i++) {
        st->delta += pi.positions[i].delta;
        st->gamma += pi.positions[i].gamma;
        st->vega += pi.positions[i].vega;
        st->contracts += fabs((double)pi.positions[i].qty);
    }
    ch_client_release(pi.positions);
    return true;
}

static bool state(chd_run *r, chd_state *st, char *msg, size_t cap)
{
    memset(st, 0, sizeof *st);
    if (!account_state(r, "house", st, msg, cap) || !account_state(r, "pool", st, msg, cap))
        return false;
    ch_err err = ch_client_hedge(r->cl, &st->h);
    return err == CH_OK || call_fail(r, "hedge", err, msg, cap);
}

/* The hedge book's value at @p perp: realized + unrealized + funding - fees. */
static double hedge_value(const ch_client_hedge_info *h, double perp)
{
    return h->realized + h->position * (perp - h->avg_price) + h->funding - h->fees;
}

/* Cancel resting orders past their time to live (they may have filled since). */
static bool expire_orders(chd_run *r, ch_time now, char *msg, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < r->n_rest; i++) {
        if (r->rest[i].deadline > now) {
            r->rest[w++] = r->rest[i];
            continue;
        }
        ch_err err =
            ch_client_order_cancel(r->cl, r->names[r->rest[i].trader], r->rest[i].id, NULL);
        /* UNKNOWN_ORDER: filled meanwhile; anything else is the daemon failing */
        if (err != CH_OK && err != CH_EUNKNOWN_ORDER)
            return call_fail(r, "order.cancel", err, msg, cap);
    }
    r->n_rest = w;
    return true;
}

static int fill_source(const char *s)
{
    return strcmp(s, "book") == 0 ? 0 : strcmp(s, "net") == 0 ? 1 : strcmp(s, "pool") == 0 ? 2 : -1;
}

/* One order of the flow into the step's batch (or counted as rejected). */
static bool prepare(chd_run *r, const sim_order *o, size_t k, size_t n, sim_result *out,
                    bool *queued, char *msg, size_t cap)
{
    const sim_config *c = r->c;
    *queued = false;
    ch_symbol sym;
    if (!sim_order_check(c, o, &sym, msg, cap))
        return false;
    out->orders++;
    if (sym.expiry <= r->m->s[k].t) {
        out->rejected++; /* a replayed order for an expired series */
        return true;
    }
    shifted(r, sym, r->sym[n], sizeof r->sym[n]);
    if (!is_listed(r, r->sym[n])) {
        /* a replayed series the listing rule did not list: list it, and mark its expiry */
        bool added;
        if (!sim_chain_ensure(r->chain, sym.expiry, &added, msg, cap) ||
            (added && !market(r, k, msg, cap)))
            return false;
        if (!add_symbol(r, r->sym[n], msg, cap))
            return false;
    }
    ch_client_order *co = &r->ord[n];
    *co = (ch_client_order){.account = r->names[o->trader],
                            .symbol = r->sym[n],
                            .side = o->side == CH_BUY ? CH_CLIENT_BUY : CH_CLIENT_SELL,
                            .qty = o->qty};
    if (o->limit) {
        const sim_step *s = &r->m->s[k];
        double tau = ch_years(s->t, sym.expiry);
        double vol =
            sim_surface_vol(&r->m->surf, tau, log((double)sym.strike / s->spot)) * s->level;
        vol += o->side == CH_BUY ? o->vol_offset : -o->vol_offset;
        double px = ch_bs_price(sym.kind == CH_CALL ? CH_OPT_CALL : CH_OPT_PUT, s->spot,
                                (double)sym.strike, tau, r->m->rate, 0, fmax(vol, 0.01));
        double ticks = px / r->tick;
        co->type = CH_CLIENT_LIMIT;
        co->has_price = true;
        co->price = (isfinite(ticks) && ticks >= 1 ? (double)llround(ticks) : 1.0) * r->tick;
        co->tif = CH_CLIENT_GTC;
    } else {
        co->type = CH_CLIENT_MARKET;
    }
    *queued = true;
    return true;
}

static bool send_batch(chd_run *r, const sim_flow *f, size_t n, size_t k, sim_result *out,
                       char *msg, size_t cap)
{
    for (size_t at = 0; at < n; at += SIM_CHD_BATCH) {
        size_t m = n - at < SIM_CHD_BATCH ? n - at : SIM_CHD_BATCH;
        ch_client_batch_result *res = NULL;
        ch_err err = ch_client_order_batch(r->cl, NULL, r->ord + at, m, &res);
        if (err != CH_OK)
            return call_fail(r, "order.batch", err, msg, cap);
        for (size_t i = 0; i < m; i++) {
            const ch_client_batch_result *b = &res[i];
            if (b->err != CH_OK) {
                out->rejected++;
                continue;
            }
            for (size_t j = 0; j < b->result.n_fills; j++) {
                int s = fill_source(b->result.fills[j].source);
                if (s < 0) {
                    snprintf(msg, cap, "chd: a fill of unknown source \"%s\"",
                             b->result.fills[j].source);
                    ch_client_release(res);
                    return false;
                }
                out->fills[s]++;
                out->lots[s] += b->result.fills[j].qty;
            }
            const sim_order *o = &f->o[r->src[at + i]];
            if (b->result.remaining_qty > 0 && r->ord[at + i].type == CH_CLIENT_LIMIT &&
                strcmp(b->result.status, "cancelled") != 0) {
                void *q = grow(r->rest, &r->cap_rest, r->n_rest + 1, sizeof *r->rest);
                if (q == NULL) {
                    ch_client_release(res);
                    snprintf(msg, cap, "out of memory");
                    return false;
                }
                r->rest = q;
                chd_resting *rs = &r->rest[r->n_rest++];
                snprintf(rs->id, sizeof rs->id, "%s", b->result.order_id);
                rs->trader = o->trader;
                rs->deadline =
                    r->m->s[k].t + (ch_time)llround(r->c->flow.order_ttl_hours * (double)SIM_HOUR);
            }
        }
        ch_client_release(res);
    }
    return true;
}

/* Room for @p n orders in the step's batch. */
static bool reserve_orders(chd_run *r, size_t n)
{
    if (n <= r->cap_ord)
        return true;
    ch_client_order *o = realloc(r->ord, n * sizeof *o);
    if (o != NULL)
        r->ord = o;
    char(*y)[CH_CLIENT_SYMBOL_MAX] = o != NULL ? realloc(r->sym, n * sizeof *y) : NULL;
    if (y != NULL)
        r->sym = y;
    size_t *x = y != NULL ? realloc(r->src, n * sizeof *x) : NULL;
    if (x == NULL)
        return false;
    r->src = x;
    r->cap_ord = n;
    return true;
}

static bool setup(chd_run *r, const char *endpoint, const char *key, char *msg, size_t cap)
{
    const sim_config *c = r->c;
    r->chain = calloc(1, sizeof *r->chain);
    r->names = calloc(c->flow.traders, sizeof *r->names);
    r->iv = calloc(SIM_CHD_MARKS, sizeof *r->iv);
    r->ivkey = calloc(SIM_CHD_MARKS, sizeof *r->ivkey);
    if (r->chain == NULL || r->names == NULL || r->iv == NULL || r->ivkey == NULL) {
        snprintf(msg, cap, "out of memory");
        return false;
    }
    ch_err rc = ch_client_open(endpoint, 30000, &r->cl);
    if (rc != CH_OK) {
        snprintf(msg, cap, "chd at %s: %s", endpoint, ch_client_strerror(rc));
        return false;
    }
    ch_err err = ch_client_set_key(r->cl, key);
    if (err != CH_OK) {
        snprintf(msg, cap, "the key is longer than 255 bytes");
        return false;
    }
    ch_client_hello_info hi;
    err = ch_client_hello(r->cl, &hi);
    if (err != CH_OK)
        return call_fail(r, "hello", err, msg, cap);
    bool btc = false;
    for (size_t i = 0; i < hi.n_underlyings; i++)
        btc = btc || strcmp(hi.underlyings[i].name, "BTC") == 0;
    ch_client_release(hi.underlyings);
    if (!btc) {
        snprintf(msg, cap, "chd at %s does not list BTC options (chsim simulates BTC)", endpoint);
        return false;
    }
    /* whole weeks, so that the first step lies a day or more after the wall clock */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ch_time now = (ch_time)ts.tv_sec * CH_NS_PER_SEC + ts.tv_nsec + SIM_DAY;
    ch_time t0 = r->m->s[0].t;
    r->shift = now > t0 ? (now - t0 + SIM_WEEK - 1) / SIM_WEEK * SIM_WEEK : 0;
    /* what is listed already (chd lists a few weeklies at its first start) */
    ch_client_instrument *ins = NULL;
    size_t n_ins = 0;
    err = ch_client_instruments(r->cl, "BTC", &ins, &n_ins);
    if (err != CH_OK)
        return call_fail(r, "instruments", err, msg, cap);
    r->tick = 0.5;
    for (size_t i = 0; i < n_ins; i++) {
        r->tick = ins[i].tick;
        if (!one_btc_contract(ins[i].symbol, ins[i].contract_size, msg, cap)) {
            ch_client_release(ins);
            return false;
        }
        ch_symbol sym;
        if (ch_symbol_parse(ins[i].symbol, strlen(ins[i].symbol), &sym) == CH_OK &&
            sym.kind != CH_PERP) {
            ch_time ex = sym.expiry - r->shift;
            bool known = false;
            for (size_t j = 0; j < r->n_extra; j++)
                known = known || r->extra[j] == ex;
            if (!known && r->n_extra == SIM_TENORS_MAX) {
                ch_client_release(ins);
                snprintf(msg, cap, "chd lists more than %d expiries already", SIM_TENORS_MAX);
                return false;
            }
            if (!known)
                r->extra[r->n_extra++] = ex;
        }
        if (!remember(r, ins[i].symbol)) {
            ch_client_release(ins);
            snprintf(msg, cap, "out of memory");
            return false;
        }
    }
    ch_client_release(ins);
    for (uint32_t t = 0; t < c->flow.traders; t++) {
        snprintf(r->names[t], sizeof r->names[t], "chsim-t%u", t);
        err = ch_client_account_open(r->cl, r->names[t], 1e10, NULL);
        if (err != CH_OK) {
            char what[64];
            snprintf(what, sizeof what, "account.open %s (needs the admin key)", r->names[t]);
            return call_fail(r, what, err, msg, cap);
        }
    }
    return true;
}

static void teardown(chd_run *r)
{
    ch_client_close(r->cl);
    free(r->chain);
    free(r->listed);
    free(r->names);
    free(r->rest);
    free(r->ord);
    free(r->sym);
    free(r->src);
    free(r->iv);
    free(r->ivkey);
}

/* ---- the backend of sim_drive.c ------------------------------------------ */

/* One series, as instrument.add of its symbol in the shifted time. */
static bool be_list(void *b, const ch_symbol *sym, char *msg, size_t cap)
{
    char name[CH_CLIENT_SYMBOL_MAX];
    shifted(b, *sym, name, sizeof name);
    return add_symbol(b, name, msg, cap);
}

static bool be_market(void *b, size_t k, char *msg, size_t cap)
{
    return market(b, k, msg, cap);
}

/* The daemon's state before the first step's orders: the run's origin. */
static bool be_open(void *b, size_t k, sim_result *out, char *msg, size_t cap)
{
    (void)out;
    chd_run *r = b;
    if (k != 0)
        return true;
    if (!state(r, &r->s0, msg, cap))
        return false;
    r->v0 = r->s0.equity + hedge_value(&r->s0.h, r->m->s[0].spot);
    return true;
}

static bool be_expire(void *b, ch_time now, char *msg, size_t cap)
{
    return expire_orders(b, now, msg, cap);
}

/* The step's orders as one order.batch. */
static bool be_orders(void *b, size_t first, size_t n, size_t k, sim_result *out, char *msg,
                      size_t cap)
{
    chd_run *r = b;
    if (!reserve_orders(r, n)) {
        snprintf(msg, cap, "out of memory");
        return false;
    }
    size_t q = 0;
    for (size_t i = first; i < first + n; i++) {
        bool queued;
        if (!prepare(r, &r->f->o[i], k, q, out, &queued, msg, cap))
            return false;
        if (queued)
            r->src[q++] = i;
    }
    return q == 0 || send_batch(r, r->f, q, k, out, msg, cap);
}

/* The daemon's state after the step: its point. */
static bool be_close(void *b, size_t k, sim_result *out, char *msg, size_t cap)
{
    chd_run *r = b;
    const sim_market *m = r->m;
    if (!state(r, &r->s, msg, cap))
        return false;
    const chd_state *s = &r->s, *s0 = &r->s0;
    double pnl = s->equity + hedge_value(&s->h, m->s[k].spot) - r->v0;
    r->peak = fmax(r->peak, pnl);
    out->max_drawdown = fmax(out->max_drawdown, r->peak - pnl);
    out->points[k] =
        (sim_point){.t = m->s[k].t,
                    .spot = m->s[k].spot,
                    .atm_vol = sim_surface_vol(&m->surf, 30.0 / 365, 0) * m->s[k].level,
                    .option_delta = s->delta,
                    .hedge_position = s->h.position,
                    .gamma = s->gamma,
                    .vega = s->vega,
                    .pnl = pnl,
                    .hedge_cost = (s->h.fees - s0->h.fees) + (s->h.slippage - s0->h.slippage) -
                                  (s->h.funding - s0->h.funding),
                    .pool_contracts = s->contracts};
    out->n_points = k + 1;
    return true;
}

bool sim_run_chd(const sim_config *c, const sim_market *m, const sim_flow *f, const char *endpoint,
                 const char *key, sim_result *out, sim_progress_fn progress, void *pctx, char *msg,
                 size_t cap)
{
    memset(out, 0, sizeof *out);
    out->chd = true;
    snprintf(out->underlying, sizeof out->underlying, "%s", c->underlying);
    out->points = calloc(m->n, sizeof *out->points);
    chd_run r = {.c = c, .m = m};
    bool ok = out->points != NULL && setup(&r, endpoint, key, msg, cap);
    if (out->points == NULL)
        snprintf(msg, cap, "out of memory");
    out->shift_weeks = r.shift / SIM_WEEK;
    ch_client_stats_info st0 = {0}, st1 = {0};
    ch_client_risk_info rk0 = {0}, rk1 = {0};
    double fees0 = 0, fees1 = 0;
    if (ok) {
        ch_err err = ch_client_stats(r.cl, &st0);
        if (err == CH_OK)
            err = ch_client_risk(r.cl, "BTC", &rk0);
        ch_client_release(rk0.strikes);
        ch_client_release(rk0.scenarios);
        ch_client_positions_info pf;
        if (err == CH_OK && (err = ch_client_positions(r.cl, "fees", &pf)) == CH_OK) {
            fees0 = pf.cash;
            ch_client_release(pf.positions);
        }
        if (err != CH_OK)
            ok = call_fail(&r, "stats, risk and positions before the run", err, msg, cap);
    }
    r.f = f;
    sim_backend be = {.b = &r,
                      .list = be_list,
                      .market = be_market,
                      .open_step = be_open,
                      .expire = be_expire,
                      .orders = be_orders,
                      .close_step = be_close};
    ok = ok && sim_drive(c, m, f, r.chain, &be, out, progress, pctx, msg, cap);
    const chd_state s0 = r.s0, s = r.s;
    if (ok) {
        ch_err err = ch_client_stats(r.cl, &st1);
        if (err == CH_OK)
            err = ch_client_risk(r.cl, "BTC", &rk1);
        ch_client_release(rk1.strikes);
        ch_client_release(rk1.scenarios);
        ch_client_positions_info pf;
        if (err == CH_OK && (err = ch_client_positions(r.cl, "fees", &pf)) == CH_OK) {
            fees1 = pf.cash;
            ch_client_release(pf.positions);
        }
        if (err != CH_OK)
            ok = call_fail(&r, "stats, risk and positions after the run", err, msg, cap);
    }
    if (ok) {
        snprintf(out->name, sizeof out->name, "chd (hedge %s)", s.h.policy);
        ch_hedge_policy_parse(s.h.policy, &out->run.hedge.kind);
        snprintf(out->run.name, sizeof out->run.name, "%s", out->name);
        out->daemon_fills[0] = (uint64_t)(st1.fills_book - st0.fills_book);
        out->daemon_fills[1] = (uint64_t)(st1.fills_net - st0.fills_net);
        out->daemon_fills[2] = (uint64_t)(st1.fills_pool - st0.fills_pool);
        int64_t lots = out->lots[0] + out->lots[1] + out->lots[2];
        out->internal_share = lots > 0 ? (double)(out->lots[0] + out->lots[1]) / (double)lots : 0;
        out->gross_delta = rk1.gross_delta - rk0.gross_delta;
        out->hedge_volume = s.h.volume - s0.h.volume;
        out->hedge_orders = (uint64_t)(s.h.orders - s0.h.orders);
        out->hedge_fees = s.h.fees - s0.h.fees;
        out->hedge_slippage = s.h.slippage - s0.h.slippage;
        out->hedge_funding = s.h.funding - s0.h.funding;
        out->netting_ratio =
            ch_netting_ratio(out->hedge_volume, rk1.dealer_delta - rk0.dealer_delta);
        out->taker_fees = fees1 - fees0;
        out->split_updates = r.split_updates;
        const sim_point *last = &out->points[out->n_points - 1];
        out->pool_pnl = last->pnl;
        out->final_delta = last->option_delta;
        out->final_gamma = last->gamma;
        out->final_vega = last->vega;
    }
    teardown(&r);
    if (!ok)
        sim_result_free(out);
    return ok;
}
