/*
 * hedging.c - chd's hedging: one ch_hedger per underlying (its policy on the
 * house's net delta, its book, its orders in flight, its venue: the
 * simulated one in process, or an external one over NNG). Every order and
 * every answer is logged and committed before it leaves or is booked, and
 * the engine books each fill (ch_engine_hedge_fill through the logged
 * command), so a restart rebuilds the same hedge state by replay.
 */
#include "server_int.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

ch_hedger *chi_hedger(ch_server *s, uint32_t u)
{
    if (u >= s->cfg.engine.max_underlyings)
        return NULL;
    if (u < s->n_hedgers && s->hedgers[u] != NULL)
        return s->hedgers[u];
    if (u >= s->n_hedgers) {
        ch_hedger **nh = realloc(s->hedgers, (u + 1) * sizeof *nh);
        if (nh == NULL)
            return NULL;
        for (uint32_t k = s->n_hedgers; k <= u; k++)
            nh[k] = NULL;
        s->hedgers = nh;
        s->n_hedgers = u + 1;
    }
    ch_hedge_adapter a = {0};
    ch_err e;
    if (s->cfg.hedge_venue[0] != '\0') {
        ch_hedge_nng_config hc = {.url = s->cfg.hedge_venue,
                                  .timeout_ms = s->cfg.hedge_venue_timeout_ms};
        e = ch_hedge_adapter_nng(&hc, &a);
    } else {
        e = ch_hedge_adapter_sim(&s->cfg.venue, &a);
    }
    if (e != CH_OK) {
        if (s->hedge_err == CH_OK)
            s->hedge_err = e;
        return NULL;
    }
    ch_hedge_policy pol = chi_hedge_policy_of(s, u);
    s->hedgers[u] = ch_hedger_create(&pol, a);
    const ch_underlying_config *uc = ch_instruments_underlying(ch_engine_instruments(s->e), u);
    if (s->hedgers[u] != NULL && uc != NULL) { /* its perpetual: NAME-PERP */
        char perp[CH_SYMBOL_MAX];
        snprintf(perp, sizeof perp, "%s-PERP", uc->name);
        ch_hedger_set_perp(s->hedgers[u], perp);
    }
    if (s->hedgers[u] == NULL) {
        a.ops->destroy(a.impl);
        if (s->hedge_err == CH_OK)
            s->hedge_err = CH_ENOMEM;
    }
    return s->hedgers[u];
}

void chi_hedgers_close(ch_server *s)
{
    /* an external adapter's worker finishes its attempt in flight (bounded
     * by the venue timeout); an order still unanswered is resent at the
     * next start, with the same id */
    for (uint32_t u = 0; u < s->n_hedgers; u++)
        ch_hedger_destroy(s->hedgers[u]);
    free(s->hedgers);
    s->hedgers = NULL;
    s->n_hedgers = 0;
    s->hedge_next_id = 0;
    s->hedge_err = CH_OK;
    if (s->opt_adapter.ops != NULL) /* an order still unanswered is resent at the next start */
        s->opt_adapter.ops->destroy(s->opt_adapter.impl);
    s->opt_adapter = (ch_hedge_adapter){0};
    s->n_opt_flight = 0;
}

/* The orders in flight at the external venue (options and hedges, as the
 * log left them), sent again with their ids: the venue answers a known id
 * with its first answer. */
static void send_in_flight(ch_server *s)
{
    for (size_t i = 0; s->opt_adapter.ops != NULL && i < s->n_opt_flight; i++)
        s->opt_adapter.ops->send(s->opt_adapter.impl, &s->opt_flight[i].o);
    for (uint32_t u = 0; u < s->n_hedgers; u++)
        if (s->hedgers[u] != NULL)
            ch_hedger_send(s->hedgers[u]); /* the ones not sent yet */
}

ch_err chi_hedgers_open(ch_server *s)
{
    uint32_t n = ch_instruments_underlying_count(ch_engine_instruments(s->e));
    for (uint32_t u = 0; u < n; u++)
        chi_hedger(s, u);
    if (s->hedge_err != CH_OK)
        return s->hedge_err;
    bool external = s->cfg.hedge_venue[0] != '\0';
    if (external && (s->cfg.vega.mode != CH_VEGA_OFF || s->n_opt_flight > 0)) {
        ch_hedge_nng_config hc = {.url = s->cfg.hedge_venue,
                                  .timeout_ms = s->cfg.hedge_venue_timeout_ms};
        ch_err e = ch_hedge_adapter_nng(&hc, &s->opt_adapter);
        if (e != CH_OK)
            return e;
        if (s->n_opt_flight > 0)
            CH_LOG(CH_LOG_INFO, "vega_venue_resend", "in_flight=%zu url=%s", s->n_opt_flight,
                   s->cfg.hedge_venue);
    }
    for (uint32_t u = 0; u < s->n_hedgers; u++) {
        ch_hedger *h = s->hedgers[u];
        size_t n_in = ch_hedger_in_flight_orders(h);
        if (external) {
            CH_LOG(CH_LOG_INFO, "hedge_venue", "underlying=%u url=%s in_flight=%zu", u,
                   s->cfg.hedge_venue, n_in);
        } else if (n_in > 0) {
            CH_LOG(CH_LOG_WARN, "hedge_unresolved",
                   "underlying=%u in_flight=%zu qty=%.8g reason=\"orders sent to an external "
                   "venue are in flight; they stay so until chd runs with that hedge_venue "
                   "again\"",
                   u, n_in, ch_hedger_in_flight(h));
        }
    }
    /* in flight at the last stop (a standby leaves them to its primary;
     * promoted, it sends them: chi_hedge_resend) */
    if (external && !s->standby)
        send_in_flight(s);
    return CH_OK;
}

bool chi_hedge_waiting(const ch_server *s)
{
    if (s->cfg.hedge_venue[0] == '\0' || s->halted)
        return false;
    if (s->n_opt_flight > 0)
        return true;
    for (uint32_t u = 0; u < s->n_hedgers; u++)
        if (s->hedgers[u] != NULL && ch_hedger_in_flight_orders(s->hedgers[u]) > 0)
            return true;
    return false;
}

static ch_hedge_exec exec_of(const ch_command *c)
{
    return (ch_hedge_exec){.qty = c->hedge.qty,
                           .price = c->hedge.price,
                           .fee = c->hedge.fee,
                           .slippage = c->hedge.slippage};
}

void chi_hedge_replay(ch_server *s, const ch_command *c)
{
    ch_time now = ch_engine_now(s->e);
    ch_hedger *h = chi_hedger(s, c->hedge.underlying);
    if (h == NULL) {
        CH_LOG(CH_LOG_ERROR, "hedge_replay_failed", "underlying=%u reason=\"%s\"",
               c->hedge.underlying, ch_strerror(s->hedge_err));
        return;
    }
    if (c->type == CH_C_HEDGE) { /* an order the simulated venue filled at once */
        ch_hedge_exec x = exec_of(c);
        ch_hedger_book_exec(h, &x, now);
    } else if (c->type == CH_C_HEDGE_SENT) { /* in flight at an external venue */
        ch_hedge_order o = {.id = c->hedge.id, .qty = c->hedge.qty, .mark = c->hedge.mark};
        ch_err e = ch_hedger_restore(h, &o, now);
        if (e != CH_OK)
            CH_LOG(CH_LOG_ERROR, "hedge_replay_failed", "id=%" PRIu64 " reason=%s", o.id,
                   ch_errwire(e));
        if (o.id >= s->hedge_next_id)
            s->hedge_next_id = o.id + 1;
    } else if (c->type == CH_C_HEDGE_REPORT) {
        ch_hedge_report r = {.id = c->hedge.id, .filled = c->hedge.filled, .attempts = 1};
        if (c->hedge.filled)
            r.exec = exec_of(c);
        ch_hedger_settle(h, &r);
    }
}

static void flight_remove(ch_server *s, uint64_t id)
{
    for (size_t i = 0; i < s->n_opt_flight; i++)
        if (s->opt_flight[i].o.id == id) {
            s->opt_flight[i] = s->opt_flight[--s->n_opt_flight];
            return;
        }
}

static void flight_add(ch_server *s, const ch_command *c)
{
    const ch_instrument *in = instr_of(s, c->option_hedge.instr);
    if (s->n_opt_flight == sizeof s->opt_flight / sizeof s->opt_flight[0] || in == NULL)
        return;
    struct opt_flight *f = &s->opt_flight[s->n_opt_flight++];
    f->und = in->underlying;
    f->instr = c->option_hedge.instr;
    f->o = (ch_hedge_order){.id = c->option_hedge.id,
                            .qty = (double)c->option_hedge.qty,
                            .mark = c->option_hedge.mark,
                            .vega = c->option_hedge.vega,
                            .index = c->option_hedge.index,
                            .contract_size = c->option_hedge.contract_size};
    snprintf(f->o.symbol, sizeof f->o.symbol, "%s", in->symbol);
}

void chi_option_replay(ch_server *s, const ch_command *c)
{
    if (c->type == CH_C_OPTION_SENT)
        flight_add(s, c);
    else
        flight_remove(s, c->option_hedge.id);
    if (c->option_hedge.id >= s->hedge_next_id)
        s->hedge_next_id = c->option_hedge.id + 1;
}

static void publish_hedge_fill(ch_server *s, uint32_t u, const ch_hedge_exec *x, uint64_t id)
{
    cJSON *o = cJSON_CreateObject();
    if (id != 0) {
        char t[24];
        snprintf(t, sizeof t, "%" PRIu64, id);
        cJSON_AddStringToObject(o, "id", t);
    }
    const ch_underlying_config *uc = ch_instruments_underlying(ch_engine_instruments(s->e), u);
    if (uc != NULL)
        cJSON_AddStringToObject(o, "underlying", uc->name);
    cJSON_AddNumberToObject(o, "qty", x->qty);
    cJSON_AddNumberToObject(o, "price", x->price);
    cJSON_AddNumberToObject(o, "fee", x->fee);
    cJSON_AddNumberToObject(o, "position", ch_engine_hedge_position(s->e, u));
    chi_publish(s, "hedge", o);
}

static bool log_and_commit(ch_server *s, const ch_command *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ch_store_log(s->st, &c[i], NULL) != CH_OK) {
            s->halted = true;
            break;
        }
    if (!s->halted && ch_store_commit(s->st) != CH_OK)
        s->halted = true;
    if (s->halted)
        CH_LOG(CH_LOG_ERROR, "store_halted", "during=hedge reason=\"%s\"", ch_store_error(s->st));
    return !s->halted;
}

/* The external venue's answers: logged and committed, then booked. */
static void take_answers(ch_server *s, uint32_t u, ch_hedger *h)
{
    ch_hedge_report rep[64];
    size_t n = ch_hedger_take_reports(h, rep, 64);
    if (n == 0)
        return;
    ch_command c[64];
    for (size_t i = 0; i < n; i++) {
        c[i] = ch_command_make(CH_C_HEDGE_REPORT);
        c[i].hedge.underlying = u;
        c[i].hedge.id = rep[i].id;
        c[i].hedge.filled = rep[i].filled;
        if (rep[i].filled) {
            c[i].hedge.qty = rep[i].exec.qty;
            c[i].hedge.price = rep[i].exec.price;
            c[i].hedge.fee = rep[i].exec.fee;
            c[i].hedge.slippage = rep[i].exec.slippage;
        }
    }
    if (!log_and_commit(s, c, n))
        return; /* nothing booked; the venue answers again after a restart */
    for (size_t i = 0; i < n; i++) {
        ch_hedger_settle(h, &rep[i]);
        if (rep[i].filled) {
            ch_engine_hedge_fill(s->e, u, &rep[i].exec);
            CH_LOG(CH_LOG_INFO, "hedge_filled",
                   "underlying=%u id=%" PRIu64 " qty=%.8g price=%.8g fee=%.8g attempts=%u "
                   "position=%.8g",
                   u, rep[i].id, rep[i].exec.qty, rep[i].exec.price, rep[i].exec.fee,
                   rep[i].attempts, ch_hedger_book(h)->position);
            publish_hedge_fill(s, u, &rep[i].exec, rep[i].id);
        } else {
            CH_LOG(CH_LOG_WARN, "hedge_rejected",
                   "underlying=%u id=%" PRIu64 " attempts=%u reason=%s", u, rep[i].id,
                   rep[i].attempts, ch_errwire(rep[i].reason));
        }
    }
}

/* The policy on the house's net delta in @p u; an order it sends is logged
 * and committed before it leaves (external venue) or before its fill is
 * booked (the simulated venue, which fills at once). */
static void decide(ch_server *s, uint32_t u, ch_hedger *h, bool external)
{
    const ch_hedge_book *b = ch_engine_hedge_book(s->e, u); /* its marks */
    /* one order at a time goes to an external venue: while it is unanswered
     * (a slow or hung venue) the next decision waits, then covers the whole
     * gap in one order; no index yet: nothing to hedge at */
    ch_hedge_policy_kind kind = ch_hedger_policy(h)->kind;
    if (kind == CH_HEDGE_OFF || b->last_index <= 0 ||
        (external && ch_hedger_in_flight_orders(h) > 0))
        return;
    const ch_server_underlying *su = chi_underlying_config(s, u);
    if (su == NULL) /* listed by underlying.add: the first underlying's vol and rate */
        su = &s->cfg.und[0];
    ch_hedge_inputs in = {.now = ch_engine_now(s->e),
                          .net_delta = ch_engine_net_delta(s->e, u),
                          .spot = b->last_index,
                          .vol = su->vol,
                          .rate = su->rate};
    /* Whalley-Wilmott's band: the residual's gamma over its gamma-weighted
     * mean time to expiry (only that policy reads them) */
    if (kind == CH_HEDGE_WW && ch_engine_gamma_horizon(s->e, u, &in.gamma, &in.tau) != CH_OK)
        return;
    double mark = b->last_perp > 0 ? b->last_perp : in.spot;
    uint64_t min_id = s->hedge_next_id > (uint64_t)in.now ? s->hedge_next_id : (uint64_t)in.now;
    ch_hedge_order o;
    ch_err e = ch_hedger_decide(h, &in, mark, min_id, &o);
    if (e != CH_OK) {
        CH_LOG(CH_LOG_WARN, "hedge_decide_failed", "underlying=%u reason=%s", u, ch_errwire(e));
        return;
    }
    if (o.qty == 0)
        return;
    s->hedge_next_id = o.id + 1;
    if (external) { /* logged as sent, booked when it is answered */
        ch_command c = ch_command_make(CH_C_HEDGE_SENT);
        c.hedge.underlying = u;
        c.hedge.id = o.id;
        c.hedge.qty = o.qty;
        c.hedge.mark = o.mark;
        if (!log_and_commit(s, &c, 1))
            return; /* not sent: a restart finds it in flight and sends it */
        if ((e = ch_hedger_send(h)) != CH_OK)
            CH_LOG(CH_LOG_ERROR, "hedge_send_failed", "id=%" PRIu64 " reason=%s", o.id,
                   ch_errwire(e));
        else
            CH_LOG(CH_LOG_INFO, "hedge_sent",
                   "underlying=%u id=%" PRIu64 " qty=%.8g mark=%.8g "
                   "venue=%s",
                   u, o.id, o.qty, o.mark, s->cfg.hedge_venue);
        return;
    }
    /* the simulated venue fills at send; its answer is taken at once. The
     * order and the answer, filled or not, are logged together as an
     * external venue's are (sent, then its report), so that a replay makes
     * the hedger's bookkeeping (orders, rejects, last trade, next id) what
     * it was, from a snapshot or from the start */
    ch_hedge_report r = {.id = o.id, .reason = CH_ENOMEM};
    if (ch_hedger_send(h) == CH_OK)
        ch_hedger_take_reports(h, &r, 1);
    ch_command two[2] = {ch_command_make(CH_C_HEDGE_SENT), ch_command_make(CH_C_HEDGE_REPORT)};
    for (int i = 0; i < 2; i++) {
        two[i].hedge.underlying = u;
        two[i].hedge.id = o.id;
    }
    two[0].hedge.qty = o.qty;
    two[0].hedge.mark = o.mark;
    two[1].hedge.filled = r.filled;
    if (r.filled) {
        two[1].hedge.qty = r.exec.qty;
        two[1].hedge.price = r.exec.price;
        two[1].hedge.fee = r.exec.fee;
        two[1].hedge.slippage = r.exec.slippage;
    }
    if (!log_and_commit(s, two, 2))
        return;
    ch_hedger_settle(h, &r);
    if (!r.filled) { /* out of memory, or a mark the venue cannot fill at */
        CH_LOG(CH_LOG_ERROR, "hedge_send_failed", "underlying=%u qty=%.8g mark=%.8g reason=%s", u,
               o.qty, o.mark, ch_errwire(r.reason));
        return;
    }
    ch_engine_hedge_fill(s->e, u, &r.exec);
    publish_hedge_fill(s, u, &r.exec, 0);
}

/* An option hedge booked: logged for operators, published on `vega`. */
static void vega_filled(ch_server *s, const ch_underlying_config *uc, const ch_command *c)
{
    const ch_instrument *in = instr_of(s, c->option_hedge.instr);
    double price = ch_price_to_double(uc, c->option_hedge.price);
    double fee = (double)c->option_hedge.fee / CH_CASH_SCALE;
    CH_LOG(CH_LOG_INFO, "vega_hedge_filled",
           "underlying=%s symbol=%s qty=%" PRId64 " price=%.8g fee=%.8g", uc->name,
           in != NULL ? in->symbol : "?", c->option_hedge.qty, price, fee);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "underlying", uc->name);
    cJSON_AddStringToObject(ev, "symbol", in != NULL ? in->symbol : "?");
    cJSON_AddNumberToObject(ev, "qty", (double)c->option_hedge.qty);
    cJSON_AddNumberToObject(ev, "price", price);
    cJSON_AddNumberToObject(ev, "fee", fee);
    chi_publish(s, "vega", ev);
}

/* The external venue's answers to option orders: logged and committed, then
 * booked (the price on the underlying's tick, the nearest; the fee in cash
 * units), as a replay books them. */
static void take_option_answers(ch_server *s)
{
    ch_hedge_report rep[8];
    size_t n = s->opt_adapter.ops->poll(s->opt_adapter.impl, rep, 8);
    if (n == 0)
        return;
    ch_command c[8];
    const ch_underlying_config *ucs[8];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct opt_flight *f = NULL;
        for (size_t j = 0; j < s->n_opt_flight && f == NULL; j++)
            if (s->opt_flight[j].o.id == rep[i].id)
                f = &s->opt_flight[j];
        if (f == NULL)
            continue; /* not ours (cannot happen) */
        const ch_underlying_config *uc =
            ch_instruments_underlying(ch_engine_instruments(s->e), f->und);
        ch_command *x = &c[k];
        *x = ch_command_make(CH_C_OPTION_REPORT);
        x->option_hedge.instr = f->instr;
        x->option_hedge.id = rep[i].id;
        double t = round(rep[i].exec.price / ch_price_to_double(uc, 1));
        t = t < (double)uc->min_price ? (double)uc->min_price : t;
        x->option_hedge.filled = rep[i].filled && fabs(rep[i].exec.qty) >= 0.5 && isfinite(t) &&
                                 t <= (double)uc->max_price;
        if (x->option_hedge.filled) {
            x->option_hedge.qty = (int64_t)llround(rep[i].exec.qty);
            x->option_hedge.price = (int64_t)t;
            x->option_hedge.fee = (int64_t)llround(fmax(rep[i].exec.fee, 0) * CH_CASH_SCALE);
        }
        ucs[k++] = uc;
    }
    if (k == 0 || !log_and_commit(s, c, k))
        return; /* nothing booked; the venue answers again after a restart */
    for (size_t i = 0; i < k; i++) {
        flight_remove(s, c[i].option_hedge.id);
        if (!c[i].option_hedge.filled) {
            CH_LOG(CH_LOG_WARN, "vega_rejected", "id=%" PRIu64, c[i].option_hedge.id);
            continue;
        }
        ch_command_result res;
        ch_err e = ch_command_apply(s->e, &c[i], &res);
        if (e != CH_OK)
            CH_LOG(CH_LOG_ERROR, "vega_hedge_failed", "id=%" PRIu64 " reason=%s",
                   c[i].option_hedge.id, ch_errwire(e));
        else
            vega_filled(s, ucs[i], &c[i]);
    }
}

/* The vega policy on the residual vega of @p u: option orders at the
 * simulated options venue, which fills at once; the fills are logged and
 * committed (OPTION_HEDGE), then booked by the same path as a replay. */
static void decide_vega(ch_server *s, uint32_t u)
{
    if (s->cfg.vega.mode == CH_VEGA_OFF || s->n_opt_flight > 0)
        return; /* an external venue: one decision at a time, as for the perp */
    ch_vega_order o[2];
    size_t n = ch_engine_vega_orders(s->e, u, &s->cfg.vega, o);
    if (n == 0)
        return;
    const ch_underlying_config *uc = ch_instruments_underlying(ch_engine_instruments(s->e), u);
    double tv = ch_price_to_double(uc, 1);
    ch_command c[2];
    if (s->opt_adapter.ops != NULL) { /* an external venue: logged as sent, booked when answered */
        uint64_t id = s->hedge_next_id > (uint64_t)ch_engine_now(s->e)
                          ? s->hedge_next_id
                          : (uint64_t)ch_engine_now(s->e);
        for (size_t i = 0; i < n; i++) {
            c[i] = ch_command_make(CH_C_OPTION_SENT);
            c[i].option_hedge.instr = o[i].instr;
            c[i].option_hedge.id = id + i;
            c[i].option_hedge.qty = o[i].qty;
            c[i].option_hedge.mark = o[i].mark;
            c[i].option_hedge.vega = o[i].vega;
            c[i].option_hedge.index = o[i].index;
            c[i].option_hedge.contract_size = o[i].contract_size;
        }
        s->hedge_next_id = id + n;
        if (!log_and_commit(s, c, n))
            return; /* not sent: a restart finds them in flight and sends them */
        for (size_t i = 0; i < n; i++) {
            flight_add(s, &c[i]);
            const struct opt_flight *f = &s->opt_flight[s->n_opt_flight - 1];
            if (s->opt_adapter.ops->send(s->opt_adapter.impl, &f->o) != CH_OK)
                CH_LOG(CH_LOG_ERROR, "vega_send_failed", "id=%" PRIu64, f->o.id);
            else
                CH_LOG(CH_LOG_INFO, "vega_sent", "underlying=%u id=%" PRIu64 " symbol=%s qty=%g", u,
                       f->o.id, f->o.symbol, f->o.qty);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double px, fee;
        if (ch_option_execute(&s->cfg.option_venue, o[i].mark, o[i].vega, o[i].index,
                              o[i].contract_size, (double)o[i].qty, &px, &fee) != CH_OK)
            return;
        /* on the tick, rounded in the venue's favour, inside the band */
        int64_t t = (int64_t)(o[i].qty > 0 ? ceil(px / tv - 1e-9) : floor(px / tv + 1e-9));
        t = t < uc->min_price ? uc->min_price : t > uc->max_price ? uc->max_price : t;
        c[i] = ch_command_make(CH_C_OPTION_HEDGE);
        c[i].option_hedge.instr = o[i].instr;
        c[i].option_hedge.qty = o[i].qty;
        c[i].option_hedge.price = t;
        c[i].option_hedge.fee = (int64_t)llround(fee * CH_CASH_SCALE);
    }
    if (!log_and_commit(s, c, n))
        return;
    for (size_t i = 0; i < n; i++) {
        ch_command_result res;
        ch_err e = ch_command_apply(s->e, &c[i], &res);
        const ch_instrument *in = instr_of(s, c[i].option_hedge.instr);
        if (e != CH_OK) { /* logged: a replay books it the same way, or refuses it the same way */
            CH_LOG(CH_LOG_ERROR, "vega_hedge_failed", "underlying=%u symbol=%s reason=%s", u,
                   in != NULL ? in->symbol : "?", ch_errwire(e));
            continue;
        }
        vega_filled(s, uc, &c[i]);
    }
}

void chi_hedge_resend(ch_server *s)
{
    if (s->cfg.hedge_venue[0] == '\0')
        return;
    send_in_flight(s);
    CH_LOG(CH_LOG_INFO, "hedge_venue_resend", "option_orders=%zu url=%s", s->n_opt_flight,
           s->cfg.hedge_venue);
}

/* After each batch (and, while orders are in flight at an external venue,
 * whenever the engine thread is idle), for each underlying: book the venue's
 * answers, then let the policy decide on position + in flight. */
void chi_hedge_after_batch(ch_server *s)
{
    bool external = s->cfg.hedge_venue[0] != '\0';
    if (s->opt_adapter.ops != NULL && !s->halted)
        take_option_answers(s);
    uint32_t n = ch_instruments_underlying_count(ch_engine_instruments(s->e));
    for (uint32_t u = 0; u < n && !s->halted; u++) {
        ch_hedger *h = chi_hedger(s, u);
        if (h == NULL)
            continue; /* cannot happen after chi_hedgers_open(); out of memory */
        if (external)
            take_answers(s, u, h);
        if (!s->halted) /* vega first: the delta hedge then covers the options' delta */
            decide_vega(s, u);
        if (!s->halted)
            decide(s, u, h, external);
        if (external && !s->halted)
            ch_hedger_send(h); /* anything a failed send left behind */
    }
}
