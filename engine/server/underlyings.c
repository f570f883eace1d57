/*
 * underlyings.c - chd's underlyings: listing one (the seed of a fresh data
 * folder, and the admin op underlying.add): the underlying, its grid of
 * weekly expiries x strikes, calls and puts, and its first marks (a flat
 * vol or a smile by strike), all logged commands, so a restart replays
 * them; and each underlying's hedge policy: its configuration entry (by
 * name), else the policy logged with its listing, else the global
 * `hedge_policy` and `hedge_band`.
 */
#include "server_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY (INT64_C(86400) * CH_NS_PER_SEC)

const ch_server_underlying *chi_underlying_config(const ch_server *s, uint32_t u)
{
    const ch_underlying_config *uc = ch_instruments_underlying(ch_engine_instruments(s->e), u);
    if (uc == NULL)
        return NULL;
    for (size_t i = 0; i < s->cfg.n_und; i++)
        if (strcmp(s->cfg.und[i].u.name, uc->name) == 0)
            return &s->cfg.und[i];
    return NULL;
}

ch_hedge_policy chi_hedge_policy_of(const ch_server *s, uint32_t u)
{
    ch_hedge_policy p = s->cfg.hedge;
    const ch_server_underlying *su = chi_underlying_config(s, u);
    if (su != NULL) {
        if (su->hedge_kind >= 0)
            p.kind = (ch_hedge_policy_kind)su->hedge_kind;
        if (su->hedge_band >= 0)
            p.band = su->hedge_band;
    } else if (u < CHI_MAX_UND && s->und_logged[u].set) {
        p.kind = s->und_logged[u].kind;
        p.band = s->und_logged[u].band;
    }
    return p;
}

void chi_underlying_replay(ch_server *s, const ch_command *c, const ch_command_result *r)
{
    if (c->type == CH_C_UNDERLYING && r->err == CH_OK && c->und_hedge.set &&
        r->underlying < CHI_MAX_UND) {
        s->und_logged[r->underlying].set = true;
        s->und_logged[r->underlying].kind = c->und_hedge.kind;
        s->und_logged[r->underlying].band = c->und_hedge.band;
    }
}

/* What listing su takes that may fail after its first command: checked
 * before, so that a listing is whole or nothing. NULL: it fits. */
static const char *listing_problem(const ch_server *s, const ch_server_underlying *su)
{
    const ch_instruments *reg = ch_engine_instruments(s->e);
    uint32_t ui;
    if (ch_instruments_find_underlying(reg, su->u.name, strlen(su->u.name), &ui) == CH_OK)
        return "an underlying of that name is listed";
    if (ch_instruments_underlying_count(reg) >= s->cfg.engine.max_underlyings ||
        ch_instruments_underlying_count(reg) >= CHI_MAX_UND)
        return "the underlying limit (max_underlyings) is reached";
    size_t series = (size_t)su->n_expiries * su->n_strikes * 2;
    if (ch_instruments_count(reg) + series > s->cfg.engine.max_instruments)
        return "its series would pass max_instruments";
    bool smile = false;
    for (size_t k = 0; k < su->n_strikes; k++) {
        if (su->strikes[k] <= 0 || su->strikes[k] > CH_STRIKE_MAX)
            return "a strike is not a positive whole number";
        if (!(su->smile[k] >= 0 && su->smile[k] <= 10))
            return "a smile vol is not in [0, 10]";
        smile |= su->smile[k] > 0;
    }
    if ((smile ? (size_t)su->n_expiries * su->n_strikes : (size_t)su->n_expiries) >
        CH_COMMAND_MAX_MARKS)
        return "expiries x strikes of a smile pass 512 marks";
    if (!(su->vol >= 0.01 && su->vol <= 10) || !(su->rate >= -1 && su->rate <= 1) ||
        su->n_expiries < 1 || su->n_expiries > 52 || su->n_strikes < 1)
        return "vol, rate, expiries or strikes out of range";
    int64_t ticks;
    if (ch_price_from_double(&su->u, su->index, &ticks) != CH_OK)
        return "the index is not a price on the underlying's tick within its band";
    return NULL;
}

ch_err chi_list_underlying(ch_server *s, const ch_server_underlying *su, size_t *listed,
                           const char **why)
{
    *listed = 0;
    *why = listing_problem(s, su);
    if (*why != NULL)
        return CH_EBADCONFIG;
    ch_command c = ch_command_make(CH_C_UNDERLYING);
    c.underlying = su->u;
    if (su->hedge_kind >= 0 || su->hedge_band >= 0) { /* logged: it outlives the config */
        c.und_hedge.set = true;
        c.und_hedge.kind =
            su->hedge_kind >= 0 ? (ch_hedge_policy_kind)su->hedge_kind : s->cfg.hedge.kind;
        c.und_hedge.band = su->hedge_band >= 0 ? su->hedge_band : s->cfg.hedge.band;
    }
    ch_command_result res;
    ch_err e = chi_exec(s, &c, &res);
    if (e != CH_OK) {
        *why = "the underlying is refused (name, tick, contract size or price band)";
        return e;
    }
    chi_underlying_replay(s, &c, &res);
    uint32_t ui = res.underlying;
    /* weekly Fridays, 08:00 UTC, from the engine's clock */
    ch_time now = ch_engine_now(s->e);
    ch_time midnight = now / DAY * DAY;
    int64_t dow = (now / DAY + 4) % 7;
    int64_t to_friday = (5 - dow + 7) % 7;
    if (to_friday == 0)
        to_friday = 7;
    ch_command *m = calloc(1, sizeof *m);
    if (m == NULL)
        return CH_ENOMEM;
    m->type = CH_C_MARKET;
    m->market.underlying = ui;
    m->market.index = su->index;
    m->market.rate = su->rate;
    m->market.funding_rate = NAN;
    m->market.perp = NAN;
    bool smile = false;
    for (size_t k = 0; k < su->n_strikes; k++)
        smile |= su->smile[k] > 0;
    for (int i = 0; i < su->n_expiries && e == CH_OK; i++) {
        ch_time ex = midnight + (to_friday + 7 * i) * DAY + 8 * 3600 * CH_NS_PER_SEC;
        for (size_t k = 0; k < su->n_strikes && e == CH_OK; k++) {
            for (int t = 0; t < 2 && e == CH_OK; t++) {
                ch_symbol sym = {
                    .kind = t ? CH_PUT : CH_CALL, .expiry = ex, .strike = su->strikes[k]};
                memcpy(sym.underlying, su->u.name, CH_UNDERLYING_MAX);
                c = ch_command_make(CH_C_LIST);
                ch_symbol_format(&sym, c.symbol, sizeof c.symbol);
                e = chi_exec(s, &c, NULL);
                *listed += e == CH_OK;
            }
            if (smile) {
                m->market.expiry[m->market.n_marks] = ex;
                m->market.strike[m->market.n_marks] = (double)su->strikes[k];
                m->market.vol[m->market.n_marks++] = su->smile[k] > 0 ? su->smile[k] : su->vol;
            }
        }
        if (!smile) {
            m->market.expiry[m->market.n_marks] = ex;
            m->market.vol[m->market.n_marks++] = su->vol;
        }
    }
    if (e == CH_OK)
        e = chi_exec(s, m, NULL);
    free(m);
    if (e != CH_OK)
        *why = "listing its series or marks failed";
    return e;
}

/* ---- underlying.add ------------------------------------------------------------ */

static ch_err opt_number(req_ctx *r, const char *key, double lo, double hi, double *out)
{
    bool present = false;
    double d;
    if (ch_proto_number(FIELD(r, key), false, &d, &present) != CH_OK ||
        (present && !(d >= lo && d <= hi)))
        return CH_EBADREQ;
    if (present)
        *out = d;
    return CH_OK;
}

ch_err chi_op_underlying_add(ch_server *s, req_ctx *r)
{
    ch_server_underlying su = {.u = {.contract_size = 1.0, .min_price = 1, .max_price = 2000000},
                               .n_expiries = 4,
                               .vol = 0.6,
                               .rate = 0.03,
                               .hedge_kind = -1,
                               .hedge_band = -1};
    if (ch_proto_string(FIELD(r, "underlying"), true, su.u.name, sizeof su.u.name) != CH_OK ||
        su.u.name[0] == '\0')
        FAIL(CH_EBADREQ, "\"underlying\" must be a name of 1 to 15 bytes");
    char tick[32];
    if (ch_proto_string(FIELD(r, "tick"), true, tick, sizeof tick) != CH_OK ||
        ch_tick_parse(tick, strlen(tick), &su.u) != CH_OK)
        FAIL(CH_EBADREQ, "\"tick\" must be a decimal string such as \"0.05\"");
    double d;
    if (opt_number(r, "contract_size", 1e-9, 1e9, &su.u.contract_size) != CH_OK)
        FAIL(CH_EBADREQ, "\"contract_size\" must be a number in [1e-9, 1e9]");
    d = (double)su.u.min_price;
    if (opt_number(r, "min_price", 1, 1e15, &d) != CH_OK || d != floor(d))
        FAIL(CH_EBADREQ, "\"min_price\" must be a whole number of ticks >= 1");
    su.u.min_price = (int64_t)d;
    d = (double)su.u.max_price;
    if (opt_number(r, "max_price", 1, 1e15, &d) != CH_OK || d != floor(d) ||
        (int64_t)d < su.u.min_price)
        FAIL(CH_EBADREQ, "\"max_price\" must be a whole number of ticks >= min_price");
    su.u.max_price = (int64_t)d;
    d = su.n_expiries;
    if (opt_number(r, "expiries", 1, 52, &d) != CH_OK || d != floor(d))
        FAIL(CH_EBADREQ, "\"expiries\" must be a whole number of weekly expiries in [1, 52]");
    su.n_expiries = (int)d;
    const ch_value *st = FIELD(r, "strikes");
    if (st->kind != CH_V_PAIRS || st->n < 1 || st->n > CH_SERVER_MAX_STRIKES)
        FAIL(CH_EBADREQ, "\"strikes\" must be 1 to 64 pairs [strike, vol] (vol 0: \"vol\")");
    su.n_strikes = st->n;
    for (uint32_t k = 0; k < st->n; k++) {
        double K = st->u.pairs[2 * k], v = st->u.pairs[2 * k + 1];
        if (!(K >= 1 && K <= (double)CH_STRIKE_MAX) || K != floor(K) || !(v >= 0 && v <= 10))
            FAIL(CH_EBADREQ, "a strike must be a whole positive number and its vol in [0, 10]");
        su.strikes[k] = (int64_t)K;
        su.smile[k] = v;
    }
    if (ch_proto_number(FIELD(r, "index"), true, &su.index, NULL) != CH_OK || !(su.index > 0))
        FAIL(CH_EBADREQ, "\"index\" must be a positive price");
    if (opt_number(r, "vol", 0.01, 10, &su.vol) != CH_OK)
        FAIL(CH_EBADREQ, "\"vol\" must be a number in [0.01, 10]");
    if (opt_number(r, "rate", -1, 1, &su.rate) != CH_OK)
        FAIL(CH_EBADREQ, "\"rate\" must be a number in [-1, 1]");
    char perp[CH_SYMBOL_MAX] = "", want[CH_SYMBOL_MAX];
    snprintf(want, sizeof want, "%s-PERP", su.u.name);
    if (ch_proto_string(FIELD(r, "perp"), false, perp, sizeof perp) != CH_OK ||
        (perp[0] != '\0' && strcmp(perp, want) != 0))
        FAIL(CH_EBADREQ, "\"perp\" must be the underlying's perpetual, NAME-PERP");
    char pol[32] = "";
    ch_hedge_policy_kind kind;
    if (ch_proto_string(FIELD(r, "hedge_policy"), false, pol, sizeof pol) != CH_OK ||
        (pol[0] != '\0' && ch_hedge_policy_parse(pol, &kind) != CH_OK))
        FAIL(CH_EBADREQ, "\"hedge_policy\" must be off, every_batch, band, interval, hybrid or "
                         "whalley_wilmott");
    if (pol[0] != '\0')
        su.hedge_kind = (int)kind;
    if (opt_number(r, "hedge_band", 0, 1e9, &su.hedge_band) != CH_OK)
        FAIL(CH_EBADREQ, "\"hedge_band\" must be a number in [0, 1e9], underlying units");
    size_t listed;
    const char *why;
    ch_err e = chi_list_underlying(s, &su, &listed, &why);
    if (e == CH_EBADCONFIG && listed == 0)
        FAIL(CH_EBADREQ, why);
    if (e != CH_OK)
        FAIL(e, why);
    uint32_t ui = ch_instruments_underlying_count(ch_engine_instruments(s->e)) - 1;
    ch_hedge_policy p = chi_hedge_policy_of(s, ui);
    cJSON_AddStringToObject(r->out, "underlying", su.u.name);
    cJSON_AddNumberToObject(r->out, "instruments", (double)listed);
    cJSON_AddStringToObject(r->out, "perp", want);
    cJSON_AddStringToObject(r->out, "hedge_policy", ch_hedge_policy_name(p.kind));
    cJSON_AddNumberToObject(r->out, "hedge_band", p.band);
    return CH_OK;
}
