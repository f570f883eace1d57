/*
 * hedging.c - chd's hedge loop after each batch: the policy on the house's
 * net delta, the simulated venue inline or an external one over NNG with
 * its orders in flight (logged when sent and when answered).
 */
#include "server_int.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- hedging after a batch ------------------------------------------------ */

bool chi_pend_add(ch_server *s, uint64_t id, double qty, double mark)
{
    if (s->n_pend == s->cap_pend) {
        size_t nc = s->cap_pend ? s->cap_pend * 2 : 8;
        struct hedge_pending *np = realloc(s->pend, nc * sizeof *np);
        if (np == NULL)
            return false;
        s->pend = np;
        s->cap_pend = nc;
    }
    s->pend[s->n_pend++] = (struct hedge_pending){.id = id, .qty = qty, .mark = mark};
    if (id >= s->hedge_next_id)
        s->hedge_next_id = id + 1;
    return true;
}

/* Remove order @p id. @return false if it was not in flight. */
bool chi_pend_del(ch_server *s, uint64_t id)
{
    for (size_t i = 0; i < s->n_pend; i++) {
        if (s->pend[i].id == id) {
            s->pend[i] = s->pend[--s->n_pend];
            return true;
        }
    }
    return false;
}

double chi_pend_qty(const ch_server *s)
{
    double q = 0;
    for (size_t i = 0; i < s->n_pend; i++)
        q += s->pend[i].qty;
    return q;
}

static void publish_hedge_fill(ch_server *s, const ch_hedge_exec *x, uint64_t id)
{
    cJSON *o = cJSON_CreateObject();
    if (id != 0) {
        char t[24];
        snprintf(t, sizeof t, "%" PRIu64, id);
        cJSON_AddStringToObject(o, "id", t);
    }
    cJSON_AddNumberToObject(o, "qty", x->qty);
    cJSON_AddNumberToObject(o, "price", x->price);
    cJSON_AddNumberToObject(o, "fee", x->fee);
    cJSON_AddNumberToObject(o, "position", s->hedge.position);
    chi_publish(s, "hedge", o);
}

/* Hand the orders in flight that this process has not sent yet (new ones,
 * and those replayed from the log) to the adapter. Never blocks. */
void chi_hedge_send_pending(ch_server *s)
{
    for (size_t i = 0; i < s->n_pend; i++) {
        struct hedge_pending *p = &s->pend[i];
        if (p->queued)
            continue;
        ch_hedge_order o = {.id = p->id, .qty = p->qty, .mark = p->mark};
        if (s->venue.ops->send(s->venue.impl, &o) != CH_OK) {
            CH_LOG(CH_LOG_WARN, "hedge_send_failed", "id=%" PRIu64 " reason=out_of_memory", p->id);
            return; /* tried again after the next batch */
        }
        p->queued = true;
        CH_LOG(CH_LOG_INFO, "hedge_sent", "id=%" PRIu64 " qty=%.8g mark=%.8g venue=%s", p->id,
               p->qty, p->mark, s->cfg.hedge_venue);
    }
}

/* After each batch (and, while orders are in flight at an external venue,
 * whenever the engine thread is idle): log and book the venue's answers,
 * then let the policy decide on position + in flight. Every hedge fill is
 * logged and committed before it is booked; an external order is logged and
 * committed before it leaves, so a restart knows it. */
void chi_hedge_after_batch(ch_server *s)
{
    if (s->halted)
        return;
    bool logged = false;
    ch_hedge_report rep[64];
    size_t n_rep = 0;
    if (s->venue.ops != NULL) {
        size_t n = s->venue.ops->poll(s->venue.impl, rep, 64);
        for (size_t i = 0; i < n; i++) {
            bool known = false;
            for (size_t k = 0; k < s->n_pend && !known; k++)
                known = s->pend[k].id == rep[i].id;
            if (!known) { /* cannot happen: one adapter, one send per id */
                CH_LOG(CH_LOG_WARN, "hedge_report_unknown", "id=%" PRIu64, rep[i].id);
                continue;
            }
            ch_command c = chi_cmd(CH_C_HEDGE_REPORT);
            c.hedge.id = rep[i].id;
            c.hedge.filled = rep[i].filled;
            if (rep[i].filled) {
                c.hedge.qty = rep[i].exec.qty;
                c.hedge.price = rep[i].exec.price;
                c.hedge.fee = rep[i].exec.fee;
                c.hedge.slippage = rep[i].exec.slippage;
            }
            if (ch_store_log(s->st, &c, NULL) != CH_OK) {
                s->halted = true;
                break;
            }
            logged = true;
            rep[n_rep++] = rep[i];
        }
    }
    /* after the answers just polled: the position they book, and the orders
     * still in flight */
    double position = s->hedge.position, in_flight = chi_pend_qty(s);
    size_t n_in_flight = s->n_pend - n_rep;
    for (size_t i = 0; i < n_rep; i++) {
        for (size_t k = 0; k < s->n_pend; k++)
            if (s->pend[k].id == rep[i].id)
                in_flight -= s->pend[k].qty;
        if (rep[i].filled)
            position += rep[i].exec.qty;
    }
    double q = 0;
    ch_hedge_inputs in = {.now = ch_engine_now(s->e),
                          .net_delta = ch_engine_net_delta(s->e, 0),
                          .spot = s->hedge.last_index > 0 ? s->hedge.last_index : s->cfg.index,
                          .vol = s->cfg.vol,
                          .rate = s->cfg.rate,
                          .tau = 30.0 / 365,
                          .last_trade = s->hedge_traded ? s->hedge_last : INT64_MIN / 2};
    /* the policy sees position + in flight; and one order at a time goes to
     * an external venue: while it is unanswered (a slow or hung venue) the
     * next decision waits, then covers the whole gap in one order */
    in.position = position + in_flight;
    if (!s->halted && s->cfg.hedge.kind != CH_HEDGE_OFF && n_in_flight == 0) {
        ch_risk_totals t;
        ch_engine_risk(s->e, 0, &t, NULL);
        in.gamma = t.gamma;
        if (ch_hedge_decide(&s->cfg.hedge, &in, &q) != CH_OK)
            q = 0;
    }
    double mark = s->hedge.last_perp > 0 ? s->hedge.last_perp : in.spot;
    ch_hedge_exec x = {0};
    uint64_t id = 0;
    if (q != 0 && s->venue.ops == NULL) { /* the simulated venue fills at once */
        if (ch_perp_execute(&s->cfg.venue, mark, q, &x) != CH_OK) {
            q = 0;
        } else {
            ch_command c = chi_cmd(CH_C_HEDGE);
            c.hedge.qty = x.qty;
            c.hedge.price = x.price;
            c.hedge.fee = x.fee;
            c.hedge.slippage = x.slippage;
            if (ch_store_log(s->st, &c, NULL) != CH_OK)
                s->halted = true;
            logged = true;
        }
    } else if (q != 0) { /* the external venue: logged as sent, booked when it fills */
        id = s->hedge_next_id > (uint64_t)in.now ? s->hedge_next_id : (uint64_t)in.now;
        ch_command c = chi_cmd(CH_C_HEDGE_SENT);
        c.hedge.id = id;
        c.hedge.qty = q;
        c.hedge.mark = mark;
        if (ch_store_log(s->st, &c, NULL) != CH_OK)
            s->halted = true;
        logged = true;
    }
    if (!s->halted && logged && ch_store_commit(s->st) != CH_OK)
        s->halted = true;
    if (s->halted) {
        CH_LOG(CH_LOG_ERROR, "store_halted", "during=hedge reason=\"%s\"", ch_store_error(s->st));
        return; /* nothing booked or sent; the venue's answers come again after a restart */
    }
    for (size_t i = 0; i < n_rep; i++) {
        chi_pend_del(s, rep[i].id);
        if (rep[i].filled) {
            ch_hedge_book_fill(&s->hedge, &rep[i].exec);
            CH_LOG(CH_LOG_INFO, "hedge_filled",
                   "id=%" PRIu64 " qty=%.8g price=%.8g fee=%.8g attempts=%u position=%.8g",
                   rep[i].id, rep[i].exec.qty, rep[i].exec.price, rep[i].exec.fee,
                   rep[i].attempts, s->hedge.position);
            publish_hedge_fill(s, &rep[i].exec, rep[i].id);
        } else {
            s->hedge.rejects++;
            CH_LOG(CH_LOG_WARN, "hedge_rejected", "id=%" PRIu64 " attempts=%u reason=%s",
                   rep[i].id, rep[i].attempts, ch_errwire(rep[i].reason));
        }
    }
    if (q == 0) {
        if (s->venue.ops != NULL)
            chi_hedge_send_pending(s);
        return;
    }
    s->hedge.orders++;
    s->hedge_last = in.now;
    s->hedge_traded = true;
    if (s->venue.ops == NULL) {
        ch_hedge_book_fill(&s->hedge, &x);
        publish_hedge_fill(s, &x, 0);
        return;
    }
    if (!chi_pend_add(s, id, q, mark)) /* logged: a restart sends it */
        CH_LOG(CH_LOG_ERROR, "hedge_send_failed", "id=%" PRIu64 " reason=out_of_memory", id);
    chi_hedge_send_pending(s);
}
