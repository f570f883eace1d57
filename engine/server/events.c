/*
 * events.c - the engine's events as PUB topics (fill.<account>,
 * order.<account>, book updates marked per batch), queued until the batch
 * commits (see ch/server.h).
 */
#include "server_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- events --------------------------------------------------------------- */

/* Queue "TOPIC TEXT" (m, owned) for after the commit. */
static void publish_owned(ch_server *s, char *m)
{
    if (m == NULL)
        return;
    if (s->n_pubs == s->cap_pubs) {
        size_t nc = s->cap_pubs ? s->cap_pubs * 2 : 64;
        char **np = realloc(s->pubs, nc * sizeof *np);
        if (np == NULL) {
            free(m);
            return;
        }
        s->pubs = np;
        s->cap_pubs = nc;
    }
    s->pubs[s->n_pubs++] = m;
}

void chi_events_drop(ch_server *s)
{
    for (size_t k = 0; k < s->n_pubs; k++)
        free(s->pubs[k]);
    s->n_pubs = 0;
    memset(s->touched, 0, s->cfg.engine.max_instruments);
}

/* Queue "TOPIC TEXT" (copies of both). */
static void publish_text(ch_server *s, const char *topic, const char *text, size_t len)
{
    size_t tl = strlen(topic);
    char *m = malloc(tl + 1 + len + 1);
    if (m == NULL)
        return;
    memcpy(m, topic, tl);
    m[tl] = ' ';
    memcpy(m + tl + 1, text, len + 1);
    publish_owned(s, m);
}

void chi_publish(ch_server *s, const char *topic, cJSON *body)
{
    char *text = ch_json_print(body);
    cJSON_Delete(body);
    if (text == NULL)
        return;
    publish_text(s, topic, text, strlen(text));
    cJSON_free(text);
}

const char *const chi_source_names[3] = {"book", "net", "pool"};

static cJSON *fill_json(const ch_server *s, const ch_fill *f, bool full)
{
    cJSON *o = cJSON_CreateObject();
    add_u64(o, "trade_id", f->trade_id);
    cJSON_AddNumberToObject(o, "price", px(s, f->instr, f->price));
    cJSON_AddNumberToObject(o, "qty", (double)f->qty);
    cJSON_AddStringToObject(o, "source", chi_source_names[f->source]);
    if (full) {
        cJSON_AddStringToObject(o, "symbol", instr_of(s, f->instr)->symbol);
        cJSON_AddStringToObject(o, "side", ch_side_name(f->taker_side));
        cJSON_AddStringToObject(o, "taker", acct_name(s, f->taker));
        cJSON_AddStringToObject(o, "maker", acct_name(s, f->maker));
        add_u64(o, "taker_order_id", f->taker_order.v);
        if (f->maker_order.v != 0)
            add_u64(o, "maker_order_id", f->maker_order.v);
        if (f->source == CH_SRC_NET) {
            cJSON_AddStringToObject(o, "maker_symbol", instr_of(s, f->maker_instr)->symbol);
            cJSON_AddNumberToObject(o, "maker_price", px(s, f->maker_instr, f->maker_price));
        }
        cJSON_AddNumberToObject(o, "fee", (double)f->fee / CH_CASH_SCALE);
    }
    return o;
}

void chi_on_engine_event(void *ctx, const ch_engine_event *ev)
{
    ch_server *s = ctx;
    char topic[80];
    if (ev->type == CH_EE_FILL) {
        const ch_fill *f = &ev->fill;
        if (s->replay_fills != NULL) {
            cJSON_AddItemToArray(s->replay_fills, fill_json(s, f, false));
            return;
        }
        if (s->st != NULL && ch_store_record_fill(s->st, f) != CH_OK)
            s->halted = true;
        chi_collect *col = s->collect;
        if (col != NULL && col->fills != NULL)
            cJSON_AddItemToArray(col->fills, fill_json(s, f, false));
        if (col != NULL && col->bin) {
            if (s->n_bin_fills == s->cap_bin_fills) {
                size_t nc = s->cap_bin_fills ? s->cap_bin_fills * 2 : 256;
                ch_bin_fill *nf = realloc(s->bin_fills, nc * sizeof *nf);
                if (nf != NULL) {
                    s->bin_fills = nf;
                    s->cap_bin_fills = nc;
                }
            }
            if (s->n_bin_fills < s->cap_bin_fills)
                s->bin_fills[s->n_bin_fills++] = (ch_bin_fill){.trade_id = f->trade_id,
                                                               .price = f->price,
                                                               .qty = f->qty,
                                                               .source = (uint8_t)f->source};
        }
        /* one body for the taker's topic and the maker's: built and
         * printed once */
        cJSON *body = fill_json(s, f, true);
        char *text = ch_json_print(body);
        cJSON_Delete(body);
        if (text != NULL) {
            size_t len = strlen(text);
            snprintf(topic, sizeof topic, "fill.%s", acct_name(s, f->taker));
            publish_text(s, topic, text, len);
            if (f->maker.v != f->taker.v) {
                snprintf(topic, sizeof topic, "fill.%s", acct_name(s, f->maker));
                publish_text(s, topic, text, len);
            }
            cJSON_free(text);
        }
        s->touched[f->instr.v] = 1;
        s->touched[f->maker_instr.v] = 1;
    } else if (ev->type == CH_EE_ORDER && s->replay_fills == NULL) {
        const ch_event *be = ev->book;
        static const char *const names[] = {"",       "ack",     "fill", "cancel",
                                            "reject", "replace", "rest"};
        chi_collect *col = s->collect;
        ch_order_id ack = {0};
        if (col != NULL) {
            if (be->type == CH_EV_ACK && be->cmd == CH_CMD_SUBMIT)
                col->ack = be->order;
            if (be->type == CH_EV_CANCEL && be->reason == CH_ESELF_TRADE &&
                be->cmd == CH_CMD_SUBMIT) {
                if (be->order.v == col->ack.v)
                    col->stp = true;
                else
                    col->stp_others = true;
            }
            ack = col->ack;
        }
        if (be->type == CH_EV_FILL || be->type == CH_EV_REJECT || be->order.v == 0)
            return;
        /* order events are about the book: an order that rests, is replaced, or
         * leaves the book. The ack and the end of an order that never rested
         * are in its requester's reply already. */
        if (be->type == CH_EV_ACK ||
            (be->type == CH_EV_CANCEL && be->cmd == CH_CMD_SUBMIT && be->order.v == ack.v))
            return;
        /* one per order event: formatted directly, not through a cJSON tree
         * (names and symbols are plain [A-Za-z0-9_.-] text, no escaping) */
        char *m = malloc(320);
        if (m != NULL) {
            int k = snprintf(m, 320,
                             "order.%s {\"event\":\"%s\",\"order_id\":\"%" PRIu64
                             "\",\"symbol\":\"%s\",\"side\":\"%s\",\"price\":%.10g",
                             acct_name(s, be->account), names[be->type], be->order.v,
                             instr_of(s, be->instr)->symbol, ch_side_name(be->side),
                             px(s, be->instr, be->price));
            if (be->type == CH_EV_CANCEL)
                snprintf(m + k, 320 - (size_t)k, ",\"cancelled_qty\":%" PRId64 "%s%s%s}", be->qty,
                         be->reason != CH_OK ? ",\"reason\":\"" : "",
                         be->reason != CH_OK ? ch_errwire(be->reason) : "",
                         be->reason != CH_OK ? "\"" : "");
            else
                snprintf(m + k, 320 - (size_t)k, ",\"remaining_qty\":%" PRId64 "}", be->remaining);
        }
        publish_owned(s, m);
        s->touched[be->instr.v] = 1;
    }
}
