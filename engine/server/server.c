/*
 * server.c - chd: the JSON protocol over NNG, group commit, events, hedging.
 *
 * Threads: NNG's callbacks (any of its task threads) only move a request
 * onto the queue and, when told, send the reply that the engine thread set
 * on their aio. The engine thread owns the engine, the store, the hedge book
 * and every cJSON tree: it drains the whole queue, handles each request in
 * order (logging the commands it applies), commits the batch once, then
 * releases the replies and publishes the batch's events. A failed commit
 * replaces every reply of the batch with UNAVAILABLE and stops intake.
 *
 * Access and limits (guard.c): every request passes guard_request() once
 * (connection rate, client cap, the op's key class); every use of an account
 * passes get_account() (its key); every order passes guard_order() (account
 * rate, open-order cap). Key digests are written with the batch of the
 * account.open that made them and loaded from the store at start.
 *
 * Idempotency: an order.new with a client_order_id is remembered per account
 * (its reply fields); a repeat gets the original result and creates nothing.
 * The index is rebuilt from the command log at start, so it holds across
 * restarts.
 */
#include "ch/server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ch/hedge_nng.h"
#include "ch/log.h"
#include "ch/proto.h"
#include "ch/proto_bin.h"
#include "ch/proto_msg.h"
#include "guard.h"
#include "ipcwatch.h"

#define DAY (INT64_C(86400) * CH_NS_PER_SEC)

/* ---- configuration ---------------------------------------------------------- */

void ch_server_defaults(ch_server_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->req_url, sizeof c->req_url, "tcp://127.0.0.1:7450");
    snprintf(c->pub_url, sizeof c->pub_url, "tcp://127.0.0.1:7451");
    snprintf(c->data_dir, sizeof c->data_dir, "./var");
    c->durability = CH_DURABLE_SYNC;
    c->max_request = (size_t)1 << 20;
    c->contexts = 64;
    c->max_batch = 5000;
    c->max_clients = 1024;
    c->conn_rate = 20000;
    c->conn_burst = 40000;
    c->account_rate = 100000;
    c->account_burst = 200000;
    c->max_open_orders = 10000;
    c->max_pending_replies = 8;
    c->send_timeout_ms = 2000;
    c->idle_timeout_ms = 10000;
    ch_engine_defaults(&c->engine);
    c->engine.max_accounts = 1024;
    c->engine.max_positions = 1u << 18;
    c->underlying = (ch_underlying_config){.name = "BTC", .contract_size = 1.0, .min_price = 1,
                                           .max_price = 2000000};
    ch_tick_parse("0.5", 3, &c->underlying);
    c->n_expiries = 4;
    c->n_strikes = 9;
    for (size_t i = 0; i < c->n_strikes; i++)
        c->strikes[i] = 80000 + 5000 * (int64_t)i;
    c->index = 100000;
    c->vol = 0.6;
    c->rate = 0.03;
    c->lp_cash = 10000000;
    ch_hedge_policy_defaults(&c->hedge);
    c->hedge.band = 5;
    ch_perp_venue_defaults(&c->venue);
}

static ch_err cfg_fail(char *err, size_t cap, const char *key, const char *problem)
{
    snprintf(err, cap, "config: \"%s\": %s", key, problem);
    return CH_EBADCONFIG;
}

static bool num(const cJSON *v, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo) || !(v->valuedouble <= hi))
        return false;
    *out = v->valuedouble;
    return true;
}

/* The resource bounds (PROTOCOL.md limits); false: not one of them. */
static bool config_limit(ch_server_config *c, const char *k, const cJSON *v)
{
    double d;
    if (strcmp(k, "max_clients") == 0 && num(v, 1, 65536, &d))
        c->max_clients = (uint32_t)d;
    else if (strcmp(k, "conn_rate") == 0 && num(v, 0, 1e9, &d))
        c->conn_rate = d;
    else if (strcmp(k, "conn_burst") == 0 && num(v, 1, 1e9, &d))
        c->conn_burst = d;
    else if (strcmp(k, "account_rate") == 0 && num(v, 0, 1e9, &d))
        c->account_rate = d;
    else if (strcmp(k, "account_burst") == 0 && num(v, 1, 1e9, &d))
        c->account_burst = d;
    else if (strcmp(k, "max_open_orders") == 0 && num(v, 0, 1e8, &d))
        c->max_open_orders = (uint32_t)d;
    else if (strcmp(k, "max_batch") == 0 && num(v, 1, CH_BIN_MAX_ORDERS, &d))
        c->max_batch = (size_t)d;
    else if (strcmp(k, "map_size") == 0 && num(v, 65536, 1e13, &d))
        c->map_size = (size_t)d;
    else if (strcmp(k, "map_max") == 0 && num(v, 0, 1e13, &d))
        c->map_max = (size_t)d;
    else if (strcmp(k, "max_pending_replies") == 0 && num(v, 1, 4096, &d))
        c->max_pending_replies = (uint32_t)d;
    else if (strcmp(k, "send_timeout") == 0 && num(v, 0.01, 3600, &d))
        c->send_timeout_ms = (int)(d * 1000);
    else if (strcmp(k, "idle_timeout") == 0 && num(v, 0.1, 86400, &d))
        c->idle_timeout_ms = (int)(d * 1000);
    else
        return false;
    return true;
}

ch_err ch_server_config_load(ch_server_config *c, const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
        return CH_EIO;
    }
    char *buf = malloc((size_t)1 << 20);
    size_t n = buf != NULL ? fread(buf, 1, ((size_t)1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf == NULL)
        return CH_ENOMEM;
    ch_err e = ch_server_config_parse(c, buf, n, err, cap);
    free(buf);
    return e;
}

ch_err ch_server_config_parse(ch_server_config *c, const char *text, size_t len, char *err,
                              size_t cap)
{
    const char *why = NULL;
    cJSON *j = ch_proto_parse(text, len, (size_t)1 << 20, &why);
    if (j == NULL) {
        snprintf(err, cap, "config: %s", why);
        return CH_EBADCONFIG;
    }
    ch_err e = CH_OK;
    for (const cJSON *v = j->child; v != NULL && e == CH_OK; v = v->next) {
        const char *k = v->string;
        double d;
        if (strcmp(k, "req") == 0 || strcmp(k, "pub") == 0 || strcmp(k, "data") == 0 ||
            strcmp(k, "tls_cert_key") == 0 || strcmp(k, "admin") == 0) {
            char *dst = k[0] == 'r' ? c->req_url : k[0] == 'p' ? c->pub_url
                                                  : k[0] == 'd' ? c->data_dir
                                                  : k[0] == 'a' ? c->admin_url : c->tls_cert_key;
            if (!cJSON_IsString(v) || strlen(v->valuestring) == 0 ||
                strlen(v->valuestring) >= sizeof c->req_url)
                e = cfg_fail(err, cap, k, "must be a non-empty string");
            else
                snprintf(dst, sizeof c->req_url, "%s", v->valuestring);
        } else if (strcmp(k, "durability") == 0) {
            if (cJSON_IsString(v) && strcmp(v->valuestring, "sync") == 0)
                c->durability = CH_DURABLE_SYNC;
            else if (cJSON_IsString(v) && strcmp(v->valuestring, "nosync") == 0)
                c->durability = CH_DURABLE_NOSYNC;
            else
                e = cfg_fail(err, cap, k, "must be \"sync\" or \"nosync\"");
        } else if (strcmp(k, "max_request") == 0 && num(v, 1024, 64 << 20, &d)) {
            c->max_request = (size_t)d;
        } else if (strcmp(k, "contexts") == 0 && num(v, 1, 4096, &d)) {
            c->contexts = (int)d;
        } else if (strcmp(k, "no_auth") == 0 && cJSON_IsBool(v)) {
            c->no_auth = cJSON_IsTrue(v);
        } else if (config_limit(c, k, v)) {
            /* a bound of guard.c */
        } else if (strcmp(k, "underlying") == 0 && cJSON_IsString(v) &&
                   strlen(v->valuestring) < CH_UNDERLYING_MAX) {
            snprintf(c->underlying.name, sizeof c->underlying.name, "%s", v->valuestring);
        } else if (strcmp(k, "tick") == 0 && cJSON_IsString(v)) {
            if (ch_tick_parse(v->valuestring, strlen(v->valuestring), &c->underlying) != CH_OK)
                e = cfg_fail(err, cap, k, "is not a valid tick");
        } else if (strcmp(k, "contract_size") == 0 && num(v, 1e-9, 1e9, &d)) {
            c->underlying.contract_size = d;
        } else if (strcmp(k, "expiries") == 0 && num(v, 1, 52, &d)) {
            c->n_expiries = (int)d;
        } else if (strcmp(k, "strikes") == 0 && cJSON_IsArray(v)) {
            size_t i = 0;
            for (const cJSON *s = v->child; s != NULL; s = s->next) {
                if (i == CH_SERVER_MAX_STRIKES || !num(s, 1, 1e12, &d) || floor(d) != d) {
                    e = cfg_fail(err, cap, k, "must be up to 64 positive integers");
                    break;
                }
                c->strikes[i++] = (int64_t)d;
            }
            c->n_strikes = i;
        } else if (strcmp(k, "index") == 0 && num(v, 1e-9, 1e12, &d)) {
            c->index = d;
        } else if (strcmp(k, "vol") == 0 && num(v, 0.01, 10, &d)) {
            c->vol = d;
        } else if (strcmp(k, "rate") == 0 && num(v, -1, 1, &d)) {
            c->rate = d;
        } else if (strcmp(k, "lp_cash") == 0 && num(v, 0, 1e12, &d)) {
            c->lp_cash = (int64_t)d;
        } else if (strcmp(k, "netting") == 0 && cJSON_IsBool(v)) {
            c->engine.netting = cJSON_IsTrue(v);
        } else if (strcmp(k, "netting_fee_ticks") == 0 && num(v, 0, 1e6, &d)) {
            c->engine.netting_fee_ticks = (int64_t)d;
        } else if (strcmp(k, "taker_fee_bps") == 0 && num(v, 0, 1000, &d)) {
            c->engine.taker_fee_bps = d;
        } else if (strcmp(k, "pool") == 0 && cJSON_IsBool(v)) {
            c->engine.pool.enabled = cJSON_IsTrue(v);
        } else if (strcmp(k, "pool_half_spread_vol") == 0 && num(v, 0, 1, &d)) {
            c->engine.pool.half_spread_vol = d;
        } else if (strcmp(k, "pool_max_notional") == 0 && num(v, 0, 1e15, &d)) {
            c->engine.pool.max_notional = d;
        } else if (strcmp(k, "pool_max_vega_total") == 0 && num(v, 0, 1e15, &d)) {
            c->engine.pool.max_vega_total = d;
        } else if (strcmp(k, "pool_max_gamma_strike") == 0 && num(v, 0, 1e9, &d)) {
            c->engine.pool.max_gamma_strike = d;
        } else if (strcmp(k, "hedge_policy") == 0 && cJSON_IsString(v)) {
            if (ch_hedge_policy_parse(v->valuestring, &c->hedge.kind) != CH_OK)
                e = cfg_fail(err, cap, k, "is not a hedge policy");
        } else if (strcmp(k, "hedge_band") == 0 && num(v, 0, 1e9, &d)) {
            c->hedge.band = d;
        } else if (strcmp(k, "venue_fee_bps") == 0 && num(v, 0, 1000, &d)) {
            c->venue.taker_fee_bps = d;
        } else if (strcmp(k, "hedge_venue") == 0 && cJSON_IsString(v) &&
                   strlen(v->valuestring) < sizeof c->hedge_venue) {
            snprintf(c->hedge_venue, sizeof c->hedge_venue, "%s", v->valuestring);
        } else if (strcmp(k, "hedge_venue_timeout_ms") == 0 && num(v, 1, 600000, &d)) {
            c->hedge_venue_timeout_ms = (int)d;
        } else {
            e = cfg_fail(err, cap, k, "unknown key, or a value of the wrong type or range");
        }
    }
    cJSON_Delete(j);
    return e;
}

/* ---- the server ------------------------------------------------------------- */

typedef struct work work;
struct ch_server {
    ch_server_config cfg;
    ch_engine *e;
    ch_store *st;
    ch_hedge_book hedge;
    ch_time hedge_last;
    bool hedge_traded;
    /* the external venue (ops NULL: the simulated one, inline) and the orders
     * logged as sent whose answer is not logged yet; `queued`: handed to the
     * adapter by this process (replayed ones are sent again at start) */
    ch_hedge_adapter venue;
    struct hedge_pending {
        uint64_t id;
        double qty, mark;
        bool queued;
    } *pend;
    size_t n_pend, cap_pend;
    uint64_t hedge_next_id;
    nng_socket rep, pub;
    nng_listener req_listener; /* re-created by the ipc watchdog */
    chi_ipc_watch *watch;
    work **works;
    int n_works;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    work *q_head, *q_tail;
    bool stop;
    /* engine thread only */
    cJSON *cur_fills;  /* fills of the command being handled, for its reply */
    char **pubs;
    size_t n_pubs, cap_pubs;
    uint8_t *touched;  /* instruments whose book changed in this batch */
    bool halted;
    uint64_t requests, errors, batches, commits, orders;
    uint64_t last_cmd_seq; /* sequence number of the last command logged */
    bool cur_stp;          /* the current order was cancelled by self-trade prevention */
    bool cur_stp_others;   /* ... and it cancelled other (resting) orders too */
    ch_order_id cur_ack;   /* the current order's id (from its ACK) */
    ch_time last_advance;
    /* client order ids: open addressing, key "account\x1fcoid" -> reply fields */
    struct coid {
        char *key;
        cJSON *result;
    } *coids;
    size_t n_coids, cap_coids;
    /* replay: fills of the command being replayed */
    cJSON *replay_fills;
    /* binary batches: decoded orders, and the fills of the order being handled */
    ch_bin_order *bin_orders;
    ch_bin_fill *bin_fills;
    size_t n_bin_fills, cap_bin_fills;
    bool bin_active;
    /* access and limits (guard.c): the current request's connection and clock */
    chi_guard *guard;
    uint32_t cur_pipe;
    int64_t cur_now;
    /* a failed start: remove what it created (ch_store_abandon) */
    bool discard, admin_key_created;
    /* the admin endpoint (not counted against max_clients), the idle sweep,
     * and the connections closed for not reading or for idling */
    nng_listener admin_listener;
    bool has_admin_listener;
    nng_aio *idle_aio;
    uint64_t slow_closed, idle_closed; /* atomics: NNG's threads */
    int64_t slow_logged;
    /* halted: reads answered from the committed state once rebuilt */
    bool reads_ok;
    uint64_t halt_refused;
    int64_t halt_logged;
};

struct work {
    ch_server *s;
    nng_aio *aio;
    nng_ctx ctx;
    int state; /* 0 recv, 1 queued, 2 send */
    nng_msg *msg;
    nng_pipe pipe; /* the request's connection */
    work *next;
};

static ch_time wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (ch_time)ts.tv_sec * CH_NS_PER_SEC + ts.tv_nsec;
}

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CH_NS_PER_SEC + ts.tv_nsec;
}

static const char *acct_name(const ch_server *s, ch_account_id a)
{
    const char *n = ch_engine_account_name(s->e, a);
    return n != NULL ? n : "?";
}

static const ch_instrument *instr_of(const ch_server *s, ch_instr_id id)
{
    return ch_instruments_get(ch_engine_instruments(s->e), id);
}

static const ch_underlying_config *und_of(const ch_server *s, ch_instr_id id)
{
    const ch_instrument *in = instr_of(s, id);
    return in != NULL ? ch_instruments_underlying(ch_engine_instruments(s->e), in->underlying)
                      : NULL;
}

static double px(const ch_server *s, ch_instr_id id, int64_t ticks)
{
    const ch_underlying_config *u = und_of(s, id);
    return u != NULL ? ch_price_to_double(u, ticks) : 0.0;
}

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddStringToObject(o, k, b);
}

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

static void publish(ch_server *s, const char *topic, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (text == NULL)
        return;
    size_t n = strlen(topic) + 1 + strlen(text) + 1;
    char *m = malloc(n);
    if (m != NULL)
        snprintf(m, n, "%s %s", topic, text);
    publish_owned(s, m);
    cJSON_free(text);
}

static const char *const k_src[3] = {"book", "net", "pool"};

static cJSON *fill_json(const ch_server *s, const ch_fill *f, bool full)
{
    cJSON *o = cJSON_CreateObject();
    add_u64(o, "trade_id", f->trade_id);
    cJSON_AddNumberToObject(o, "price", px(s, f->instr, f->price));
    cJSON_AddNumberToObject(o, "qty", (double)f->qty);
    cJSON_AddStringToObject(o, "source", k_src[f->source]);
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

static void on_engine_event(void *ctx, const ch_engine_event *ev)
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
        if (s->cur_fills != NULL)
            cJSON_AddItemToArray(s->cur_fills, fill_json(s, f, false));
        if (s->bin_active) {
            if (s->n_bin_fills == s->cap_bin_fills) {
                size_t nc = s->cap_bin_fills ? s->cap_bin_fills * 2 : 256;
                ch_bin_fill *nf = realloc(s->bin_fills, nc * sizeof *nf);
                if (nf != NULL) {
                    s->bin_fills = nf;
                    s->cap_bin_fills = nc;
                }
            }
            if (s->n_bin_fills < s->cap_bin_fills)
                s->bin_fills[s->n_bin_fills++] =
                    (ch_bin_fill){.trade_id = f->trade_id, .price = f->price, .qty = f->qty,
                                  .source = (uint8_t)f->source};
        }
        snprintf(topic, sizeof topic, "fill.%s", acct_name(s, f->taker));
        publish(s, topic, fill_json(s, f, true));
        if (f->maker.v != f->taker.v) {
            snprintf(topic, sizeof topic, "fill.%s", acct_name(s, f->maker));
            publish(s, topic, fill_json(s, f, true));
        }
        s->touched[f->instr.v] = 1;
        s->touched[f->maker_instr.v] = 1;
    } else if (ev->type == CH_EE_ORDER && s->replay_fills == NULL) {
        const ch_event *be = ev->book;
        static const char *const names[] = {"", "ack", "fill", "cancel", "reject", "replace",
                                            "rest"};
        if (be->type == CH_EV_ACK && be->cmd == CH_CMD_SUBMIT)
            s->cur_ack = be->order;
        if (be->type == CH_EV_CANCEL && be->reason == CH_ESELF_TRADE && be->cmd == CH_CMD_SUBMIT) {
            if (be->order.v == s->cur_ack.v)
                s->cur_stp = true;
            else
                s->cur_stp_others = true;
        }
        if (be->type == CH_EV_FILL || be->type == CH_EV_REJECT || be->order.v == 0)
            return;
        /* order events are about the book: an order that rests, is replaced, or
         * leaves the book. The ack and the end of an order that never rested
         * are in its requester's reply already. */
        if (be->type == CH_EV_ACK ||
            (be->type == CH_EV_CANCEL && be->cmd == CH_CMD_SUBMIT && be->order.v == s->cur_ack.v))
            return;
        /* one per order event: formatted directly, not through a cJSON tree
         * (names and symbols are plain [A-Za-z0-9_.-] text, no escaping) */
        char *m = malloc(320);
        if (m != NULL) {
            int k = snprintf(m, 320, "order.%s {\"event\":\"%s\",\"order_id\":\"%" PRIu64
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

/* ---- commands ------------------------------------------------------------ */

/* Apply a command and log it (the batch is committed later). */
static ch_err exec(ch_server *s, const ch_command *c, ch_command_result *r)
{
    if (s->halted)
        return CH_EUNAVAILABLE;
    ch_err e = ch_command_apply(s->e, c, r);
    if (ch_store_log(s->st, c, &s->last_cmd_seq) != CH_OK) {
        s->halted = true;
        return CH_EUNAVAILABLE;
    }
    return e;
}

static ch_command cmd(ch_command_type t)
{
    ch_command c;
    memset(&c, 0, sizeof c);
    c.type = t;
    return c;
}

/* ---- client order ids ------------------------------------------------------- */

static uint64_t hash_str(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

static struct coid *coid_slot(ch_server *s, const char *key)
{
    if (s->cap_coids == 0)
        return NULL;
    size_t m = s->cap_coids - 1;
    for (size_t i = hash_str(key) & m;; i = (i + 1) & m)
        if (s->coids[i].key == NULL || strcmp(s->coids[i].key, key) == 0)
            return &s->coids[i];
}

static void coid_put(ch_server *s, const char *key, const cJSON *result)
{
    if (s->n_coids * 2 >= s->cap_coids) {
        size_t nc = s->cap_coids ? s->cap_coids * 2 : 1024;
        struct coid *old = s->coids;
        size_t oc = s->cap_coids;
        s->coids = calloc(nc, sizeof *s->coids);
        if (s->coids == NULL) {
            s->coids = old;
            return;
        }
        s->cap_coids = nc;
        for (size_t i = 0; i < oc; i++)
            if (old[i].key != NULL)
                *coid_slot(s, old[i].key) = old[i];
        free(old);
    }
    struct coid *sl = coid_slot(s, key);
    if (sl->key != NULL)
        return;
    sl->key = strdup(key);
    sl->result = cJSON_Duplicate(result, 1);
    if (sl->key == NULL || sl->result == NULL) {
        free(sl->key);
        cJSON_Delete(sl->result);
        sl->key = NULL;
        sl->result = NULL;
        return;
    }
    s->n_coids++;
}

static void coid_key(char *out, size_t cap, ch_account_id a, const char *coid)
{
    snprintf(out, cap, "%u\x1f%s", a.v, coid);
}

/* ---- request handlers ------------------------------------------------------ */

typedef struct req_ctx {
    const cJSON *j;
    cJSON *out;      /* result fields */
    const char *msg; /* error message, static */
} req_ctx;

#define FAIL(rc, m)        \
    do {                   \
        r->msg = (m);      \
        return (rc);       \
    } while (0)

static ch_err get_account(ch_server *s, req_ctx *r, const char *key, ch_account_id *id)
{
    char name[CH_ACCOUNT_NAME_MAX];
    if (ch_proto_string(r->j, key, true, name, sizeof name) != CH_OK)
        FAIL(CH_EBADREQ, "\"account\" must be an account name");
    bool found = ch_engine_account_find(s->e, name, strlen(name), id) == CH_OK;
    return chi_guard_account(s->guard, found, *id, &r->msg);
}

static ch_err get_symbol(ch_server *s, req_ctx *r, ch_instr_id *id)
{
    char sym[CH_SYMBOL_MAX + 8];
    if (ch_proto_string(r->j, "symbol", true, sym, sizeof sym) != CH_OK)
        FAIL(CH_EBADREQ, "\"symbol\" must be a string");
    ch_err e = ch_instruments_lookup(ch_engine_instruments(s->e), sym, strlen(sym),
                                     ch_engine_now(s->e), id);
    if (e == CH_EEXPIRED)
        FAIL(CH_EEXPIRED, "the series has expired");
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    return CH_OK;
}

static cJSON *instrument_json(ch_server *s, const ch_instrument *in)
{
    const ch_underlying_config *u =
        ch_instruments_underlying(ch_engine_instruments(s->e), in->underlying);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "symbol", in->symbol);
    cJSON_AddNumberToObject(o, "id", (double)in->id.v); /* for the binary encoding */
    cJSON_AddStringToObject(o, "underlying", u->name);
    if (in->sym.kind != CH_PERP) {
        char t[40];
        ch_proto_format_time(in->sym.expiry, t, sizeof t);
        cJSON_AddStringToObject(o, "expiry", t);
        cJSON_AddNumberToObject(o, "strike", (double)in->sym.strike);
    } else {
        cJSON_AddNullToObject(o, "expiry");
        cJSON_AddNullToObject(o, "strike");
    }
    cJSON_AddStringToObject(o, "type",
                            in->sym.kind == CH_CALL ? "call" : in->sym.kind == CH_PUT ? "put"
                                                                                      : "perp");
    cJSON_AddNumberToObject(o, "tick", ch_price_to_double(u, 1));
    cJSON_AddNumberToObject(o, "contract_size", u->contract_size);
    return o;
}

static ch_err op_hello(ch_server *s, req_ctx *r)
{
    cJSON_AddNumberToObject(r->out, "version", CH_PROTO_VERSION);
    cJSON_AddStringToObject(r->out, "server", "chd");
    cJSON_AddBoolToObject(r->out, "auth", chi_guard_auth(s->guard));
    cJSON *a = cJSON_AddArrayToObject(r->out, "underlyings");
    const ch_instruments *reg = ch_engine_instruments(s->e);
    for (uint32_t i = 0; i < ch_instruments_underlying_count(reg); i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(ch_instruments_underlying(reg, i)->name));
    return CH_OK;
}

/* The optional "underlying" field: its index in *ui (0, the first, when
 * absent) and whether it was given. */
static ch_err opt_underlying(ch_server *s, req_ctx *r, uint32_t *ui, bool *given)
{
    char und[CH_UNDERLYING_MAX] = "";
    if (ch_proto_string(r->j, "underlying", false, und, sizeof und) != CH_OK)
        FAIL(CH_EBADREQ, "\"underlying\" must be a string");
    *ui = 0;
    *given = und[0] != '\0';
    if (*given && ch_instruments_find_underlying(ch_engine_instruments(s->e), und, strlen(und),
                                                 ui) != CH_OK)
        FAIL(CH_EUNKNOWN_SYMBOL, "unknown underlying");
    return CH_OK;
}

static ch_err op_instruments(ch_server *s, req_ctx *r)
{
    uint32_t ui;
    bool given;
    ch_err ue = opt_underlying(s, r, &ui, &given);
    if (ue != CH_OK)
        return ue;
    const ch_instruments *reg = ch_engine_instruments(s->e);
    cJSON *a = cJSON_AddArrayToObject(r->out, "instruments");
    for (uint32_t i = 0; i < ch_instruments_count(reg); i++) {
        const ch_instrument *in = ch_instruments_get(reg, (ch_instr_id){i});
        if ((given && in->underlying != ui) ||
            (in->sym.kind != CH_PERP && in->sym.expiry <= ch_engine_now(s->e)))
            continue;
        cJSON_AddItemToArray(a, instrument_json(s, in));
    }
    return CH_OK;
}

static ch_err op_instrument_add(ch_server *s, req_ctx *r)
{
    ch_command c = cmd(CH_C_LIST);
    if (ch_proto_string(r->j, "symbol", true, c.symbol, sizeof c.symbol) != CH_OK)
        FAIL(CH_EUNKNOWN_SYMBOL, "\"symbol\" must be a symbol such as BTC-27DEC26-100000-C");
    ch_command_result res;
    ch_err e = exec(s, &c, &res);
    if (e == CH_ECAPACITY)
        FAIL(CH_ECAPACITY, "the instrument limit (max_instruments) is reached");
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    cJSON *o = instrument_json(s, instr_of(s, res.instr));
    for (cJSON *f = o->child; f != NULL;) {
        cJSON *next = f->next;
        /* the envelope's "id" is the request's: the instrument's is instrument_id */
        const char *name = strcmp(f->string, "id") == 0 ? "instrument_id" : f->string;
        cJSON_AddItemToObject(r->out, name, cJSON_DetachItemViaPointer(o, f));
        f = next;
    }
    cJSON_Delete(o);
    return CH_OK;
}

static ch_err get_cash(req_ctx *r, const char *key, int64_t *out)
{
    double d;
    if (ch_proto_number(r->j, key, true, &d, NULL) != CH_OK || d < 0 || d > 1e12)
        FAIL(CH_EBADREQ, "the amount must be a number of USD between 0 and 1e12");
    *out = (int64_t)llround(d * CH_CASH_SCALE);
    return CH_OK;
}

static ch_err op_account_open(ch_server *s, req_ctx *r)
{
    ch_command c = cmd(CH_C_ACCOUNT_OPEN);
    if (ch_proto_string(r->j, "account", true, c.name, sizeof c.name) != CH_OK)
        FAIL(CH_EBADREQ, "\"account\" must be a name of 1-31 characters");
    ch_err e = get_cash(r, "cash", &c.amount);
    if (e != CH_OK)
        return e;
    char key[CHI_ACCOUNT_KEY_HEX + 1];
    uint8_t digest[CH_SHA256_LEN];
    if (chi_key_new(key, digest) != CH_OK) /* before any change */
        FAIL(CH_EUNAVAILABLE, "no random source for the account's key");
    ch_command_result res;
    e = exec(s, &c, &res);
    if (e == CH_EEXISTS)
        FAIL(CH_EBADREQ, "an account of that name exists");
    if (e == CH_EINVAL)
        FAIL(CH_EBADREQ, "account names are 1-31 characters of A-Z a-z 0-9 _ . -");
    if (e == CH_ECAPACITY)
        FAIL(CH_ECAPACITY, "the account limit (max_accounts) is reached");
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    /* the digest is committed with this batch, or the batch is not acknowledged */
    if (ch_store_put_key(s->st, c.name, digest) != CH_OK)
        s->halted = true;
    chi_guard_set_key(s->guard, res.account, digest);
    cJSON_AddStringToObject(r->out, "account", c.name);
    cJSON_AddNumberToObject(r->out, "cash", (double)c.amount / CH_CASH_SCALE);
    cJSON_AddStringToObject(r->out, "key", key);
    return CH_OK;
}

static ch_err op_account_deposit(ch_server *s, req_ctx *r)
{
    ch_command c = cmd(CH_C_DEPOSIT);
    ch_err e = get_account(s, r, "account", &c.account);
    if (e != CH_OK)
        return e;
    double d;
    if (ch_proto_number(r->j, "amount", true, &d, NULL) != CH_OK || fabs(d) > 1e12 || d == 0)
        FAIL(CH_EBADREQ, "\"amount\" must be a non-zero number of USD (negative: withdraw)");
    c.amount = (int64_t)llround(d * CH_CASH_SCALE);
    e = exec(s, &c, NULL);
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    ch_account_info ai;
    ch_engine_account(s->e, c.account, &ai);
    cJSON_AddNumberToObject(r->out, "cash", (double)ai.cash / CH_CASH_SCALE);
    return CH_OK;
}

static ch_err op_pool(ch_server *s, req_ctx *r, bool deposit)
{
    ch_command c = cmd(deposit ? CH_C_POOL_DEPOSIT : CH_C_POOL_WITHDRAW);
    ch_err e = get_account(s, r, "account", &c.account);
    if (e != CH_OK)
        return e;
    if (deposit) {
        if ((e = get_cash(r, "amount", &c.amount)) != CH_OK)
            return e;
    } else if (ch_proto_qty(r->j, "shares", true, &c.amount) != CH_OK) {
        FAIL(CH_EBADREQ, "\"shares\" must be a positive integer");
    }
    ch_command_result res;
    e = exec(s, &c, &res);
    if (e != CH_OK)
        FAIL(e, ch_strerror(e));
    if (deposit)
        cJSON_AddNumberToObject(r->out, "shares", (double)res.value);
    else
        cJSON_AddNumberToObject(r->out, "cash", (double)res.value / CH_CASH_SCALE);
    ch_pool_info pi;
    ch_engine_pool(s->e, &pi);
    cJSON_AddNumberToObject(r->out, "nav_per_share", pi.nav_per_share);
    return CH_OK;
}

static ch_err op_pool_deposit(ch_server *s, req_ctx *r)
{
    return op_pool(s, r, true);
}

static ch_err op_pool_withdraw(ch_server *s, req_ctx *r)
{
    return op_pool(s, r, false);
}

static ch_err op_market_update(ch_server *s, req_ctx *r)
{
    ch_command *c = calloc(1, sizeof *c);
    if (c == NULL)
        FAIL(CH_ENOMEM, "out of memory");
    c->type = CH_C_MARKET;
    ch_err e = CH_OK;
    char und[CH_UNDERLYING_MAX];
    const ch_instruments *reg = ch_engine_instruments(s->e);
    if (ch_proto_string(r->j, "underlying", true, und, sizeof und) != CH_OK) {
        e = CH_EBADREQ;
        r->msg = "\"underlying\" must be a string";
    } else if (ch_instruments_find_underlying(reg, und, strlen(und), &c->market.underlying) !=
               CH_OK) {
        e = CH_EUNKNOWN_SYMBOL;
        r->msg = "unknown underlying";
    }
    bool has;
    c->market.index = c->market.rate = c->market.funding_rate = c->market.perp = NAN;
    if (e == CH_OK && (ch_proto_number(r->j, "index", true, &c->market.index, NULL) != CH_OK ||
                       !(c->market.index > 0))) {
        e = CH_EBADPRICE;
        r->msg = "\"index\" must be a positive number";
    }
    if (e == CH_OK && (ch_proto_number(r->j, "rate", false, &c->market.rate, &has) != CH_OK ||
                       ch_proto_number(r->j, "funding_rate", false, &c->market.funding_rate,
                                       &has) != CH_OK ||
                       ch_proto_number(r->j, "perp", false, &c->market.perp, &has) != CH_OK ||
                       ch_proto_time(r->j, "time", &c->market.time, &has) != CH_OK)) {
        e = CH_EBADREQ;
        r->msg = "rate, funding_rate and perp are numbers; time is ISO-8601 or ns";
    }
    /* index and perp are prices: on the underlying's tick (PROTOCOL.md) */
    const ch_underlying_config *ucfg =
        e == CH_OK ? ch_instruments_underlying(reg, c->market.underlying) : NULL;
    int64_t ticks;
    if (e == CH_OK && ch_price_from_double(ucfg, c->market.index, &ticks) != CH_OK) {
        e = CH_EBADPRICE;
        r->msg = "\"index\" is not on the underlying's tick (round it to the tick)";
    } else if (e == CH_OK && !isnan(c->market.perp) &&
               (!(c->market.perp > 0) || ch_price_from_double(ucfg, c->market.perp, &ticks) != CH_OK)) {
        e = CH_EBADPRICE;
        r->msg = "\"perp\" must be a positive price on the underlying's tick";
    }
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(r->j, "iv");
    if (e == CH_OK && iv != NULL) {
        if (!cJSON_IsObject(iv)) {
            e = CH_EBADREQ;
            r->msg = "\"iv\" must be an object of symbol or expiry (e.g. 27DEC26) -> vol";
        }
        for (const cJSON *v = iv ? iv->child : NULL; v != NULL && e == CH_OK; v = v->next) {
            if (!cJSON_IsNumber(v) || c->market.n_marks == CH_COMMAND_MAX_MARKS) {
                e = CH_EBADREQ;
                r->msg = "each \"iv\" value must be a number (at most 512)";
                break;
            }
            ch_symbol sym;
            char full[CH_SYMBOL_MAX + 24];
            size_t m = c->market.n_marks;
            if (ch_symbol_parse(v->string, strlen(v->string), &sym) == CH_OK &&
                sym.kind != CH_PERP) {
                c->market.expiry[m] = sym.expiry;
                c->market.strike[m] = (double)sym.strike;
            } else {
                snprintf(full, sizeof full, "%s-%s-1-C", und, v->string);
                if (ch_symbol_parse(full, strlen(full), &sym) != CH_OK) {
                    e = CH_EBADREQ;
                    r->msg = "an \"iv\" key is neither a symbol nor an expiry such as 27DEC26";
                    break;
                }
                c->market.expiry[m] = sym.expiry;
                c->market.strike[m] = 0; /* flat for the expiry */
            }
            c->market.vol[m] = v->valuedouble;
            c->market.n_marks++;
        }
        /* group the marks of one expiry together (stable) */
        for (size_t i = 1; i < c->market.n_marks; i++)
            for (size_t k = i; k > 0 && c->market.expiry[k - 1] > c->market.expiry[k]; k--) {
                ch_time te = c->market.expiry[k];
                double ts = c->market.strike[k], tv = c->market.vol[k];
                c->market.expiry[k] = c->market.expiry[k - 1];
                c->market.strike[k] = c->market.strike[k - 1];
                c->market.vol[k] = c->market.vol[k - 1];
                c->market.expiry[k - 1] = te;
                c->market.strike[k - 1] = ts;
                c->market.vol[k - 1] = tv;
            }
    }
    if (e == CH_OK) {
        e = exec(s, c, NULL);
        if (e != CH_OK)
            r->msg = e == CH_EINVAL ? "time goes backwards or a value is out of range"
                                    : ch_strerror(e);
        else
            ch_hedge_book_mark(&s->hedge, ch_engine_now(s->e), c->market.index,
                               isnan(c->market.perp) ? c->market.index : c->market.perp,
                               c->market.funding_rate);
    }
    free(c);
    if (e == CH_OK)
        cJSON_AddNumberToObject(r->out, "seq", (double)s->last_cmd_seq);
    return e == CH_EINVAL ? CH_EBADREQ : e;
}

static void order_result_json(ch_server *s, const ch_engine_result *res, cJSON *out)
{
    (void)s;
    add_u64(out, "order_id", res->id.v);
    cJSON_AddStringToObject(out, "status", ch_status_name(res->status));
    cJSON_AddNumberToObject(out, "filled_qty", (double)res->filled);
    cJSON_AddNumberToObject(out, "remaining_qty", (double)res->remaining);
}

/* ---- access and limits: the calls into guard.c on the request path ------ */

/* Every request: its connection's rate and the client cap, its key, and the
 * key class of its op (NULL: not known yet, or not an op of the table). */
static ch_err guard_request(ch_server *s, const cJSON *j, const char *op, const char **msg)
{
    const cJSON *key = j != NULL ? cJSON_GetObjectItemCaseSensitive(j, "key") : NULL;
    ch_err e = chi_guard_begin(s->guard, s->cur_pipe, cJSON_IsString(key) ? key->valuestring : NULL,
                               s->cur_now, msg);
    if (e == CH_OK && op != NULL)
        e = chi_guard_op(s->guard, chi_op_access(op), msg);
    return e;
}

/* Every order: the account's order rate and, if it may rest, its open-order cap. */
static ch_err guard_order(ch_server *s, const ch_command *c, const char **msg)
{
    bool may_rest = c->order.type == CH_ORD_LIMIT && c->order.tif == CH_TIF_GTC;
    return chi_guard_order(s->guard, c->order.account, may_rest, ch_engine_book(s->e), s->cur_now,
                           msg);
}

/* After a submit (live or replayed): count the order if it rests. */
static void order_rested(ch_server *s, const ch_command *c, const ch_command_result *res)
{
    if (res->order.remaining > 0 && (res->order.status == CH_STATUS_NEW ||
                                      res->order.status == CH_STATUS_PARTIALLY_FILLED))
        chi_guard_order_rests(s->guard, c->order.account, res->order.id, ch_engine_book(s->e));
}

/* One order.new field set (also one element of order.batch). */
static ch_err new_order(ch_server *s, req_ctx *r, ch_account_id acct_default, bool has_default)
{
    ch_command c = cmd(CH_C_SUBMIT);
    ch_err e;
    if (cJSON_GetObjectItemCaseSensitive(r->j, "account") != NULL || !has_default) {
        if ((e = get_account(s, r, "account", &c.order.account)) != CH_OK)
            return e;
    } else {
        c.order.account = acct_default;
    }
    if ((e = get_symbol(s, r, &c.order.instr)) != CH_OK)
        return e;
    char side[8], type[8] = "limit", tif[8] = "gtc";
    if (ch_proto_string(r->j, "side", true, side, sizeof side) != CH_OK ||
        (strcmp(side, "buy") != 0 && strcmp(side, "sell") != 0))
        FAIL(CH_EBADREQ, "\"side\" must be \"buy\" or \"sell\"");
    c.order.side = side[0] == 'b' ? CH_BUY : CH_SELL;
    if (ch_proto_string(r->j, "type", false, type, sizeof type) != CH_OK ||
        (strcmp(type, "limit") != 0 && strcmp(type, "market") != 0))
        FAIL(CH_EBADREQ, "\"type\" must be \"limit\" or \"market\"");
    c.order.type = type[0] == 'l' ? CH_ORD_LIMIT : CH_ORD_MARKET;
    if (ch_proto_string(r->j, "tif", false, tif, sizeof tif) != CH_OK ||
        (strcmp(tif, "gtc") != 0 && strcmp(tif, "ioc") != 0 && strcmp(tif, "fok") != 0))
        FAIL(CH_EBADREQ, "\"tif\" must be \"gtc\", \"ioc\" or \"fok\"");
    c.order.tif = tif[0] == 'g' ? CH_TIF_GTC : tif[0] == 'i' ? CH_TIF_IOC : CH_TIF_FOK;
    if (ch_proto_bool(r->j, "post_only", false, &c.order.post_only) != CH_OK)
        FAIL(CH_EBADREQ, "\"post_only\" must be true or false");
    if ((e = ch_proto_qty(r->j, "qty", true, &c.order.qty)) != CH_OK)
        FAIL(e, e == CH_EBADQTY ? "\"qty\" must be a positive whole number of contracts"
                                : "\"qty\" is required");
    bool has_price;
    e = ch_proto_price(r->j, "price", und_of(s, c.order.instr), c.order.type == CH_ORD_LIMIT,
                       &c.order.price, &has_price);
    if (e != CH_OK)
        FAIL(e == CH_EBADREQ ? CH_EBADREQ : CH_EBADPRICE,
             e == CH_EBADREQ ? "\"price\" is required for a limit order"
                             : "price not positive, not on tick or outside the band");
    if (ch_proto_string(r->j, "client_order_id", false, c.client_order_id,
                        sizeof c.client_order_id) != CH_OK)
        FAIL(CH_EBADREQ, "\"client_order_id\" must be a string of 1-63 bytes");
    char key[CH_CLIENT_ORDER_ID_MAX + 16];
    if (c.client_order_id[0] != '\0') {
        coid_key(key, sizeof key, c.order.account, c.client_order_id);
        struct coid *sl = coid_slot(s, key);
        if (sl != NULL && sl->key != NULL) { /* a repeat: the original result */
            for (const cJSON *f = sl->result->child; f != NULL; f = f->next)
                cJSON_AddItemToObject(r->out, f->string, cJSON_Duplicate(f, 1));
            return CH_OK;
        }
    }
    if ((e = guard_order(s, &c, &r->msg)) != CH_OK)
        return e;
    cJSON *fills = cJSON_CreateArray();
    s->cur_fills = fills;
    s->cur_stp = s->cur_stp_others = false;
    s->cur_ack.v = 0;
    ch_command_result res;
    e = exec(s, &c, &res);
    s->cur_fills = NULL;
    if (e != CH_OK) {
        cJSON_Delete(fills);
        FAIL(e, ch_strerror(e));
    }
    s->orders++;
    order_rested(s, &c, &res);
    if (s->cur_stp && !s->cur_stp_others && res.order.filled == 0 &&
        res.order.status == CH_STATUS_CANCELLED) {
        /* self-trade prevention cancelled it before anything traded: nothing
         * changed for this account, so it is reported as a reject */
        cJSON_Delete(fills);
        FAIL(CH_ESELF_TRADE, "the order would trade with the account's own resting order");
    }
    order_result_json(s, &res.order, r->out);
    cJSON_AddItemToObject(r->out, "fills", fills);
    if (c.client_order_id[0] != '\0')
        coid_put(s, key, r->out);
    return CH_OK;
}

static ch_err op_order_new(ch_server *s, req_ctx *r)
{
    return new_order(s, r, (ch_account_id){0}, false);
}

static ch_err op_order_batch(ch_server *s, req_ctx *r)
{
    ch_account_id acct = {0};
    bool has = cJSON_GetObjectItemCaseSensitive(r->j, "account") != NULL;
    ch_err e;
    if (has && (e = get_account(s, r, "account", &acct)) != CH_OK)
        return e;
    const cJSON *orders = cJSON_GetObjectItemCaseSensitive(r->j, "orders");
    if (!cJSON_IsArray(orders))
        FAIL(CH_EBADREQ, "\"orders\" must be an array");
    if ((size_t)cJSON_GetArraySize(orders) > s->cfg.max_batch)
        FAIL(CH_EBADREQ, "too many orders in one batch (max_batch, 5000 by default)");
    cJSON *results = cJSON_AddArrayToObject(r->out, "results");
    for (const cJSON *o = orders->child; o != NULL; o = o->next) {
        req_ctx sub = {.j = o, .out = cJSON_CreateObject()};
        ch_err oe = cJSON_IsObject(o) ? new_order(s, &sub, acct, has) : CH_EBADREQ;
        if (!cJSON_IsObject(o))
            sub.msg = "each order must be an object";
        if (oe == CH_OK) {
            cJSON *ok = cJSON_CreateObject();
            cJSON_AddBoolToObject(ok, "ok", 1);
            for (cJSON *f = sub.out->child; f != NULL;) {
                cJSON *next = f->next;
                cJSON_AddItemToObject(ok, f->string, cJSON_DetachItemViaPointer(sub.out, f));
                f = next;
            }
            cJSON_AddItemToArray(results, ok);
        } else {
            cJSON *err = cJSON_CreateObject();
            cJSON_AddBoolToObject(err, "ok", 0);
            cJSON *eo = cJSON_AddObjectToObject(err, "error");
            cJSON_AddStringToObject(eo, "code", ch_errwire(oe));
            cJSON_AddStringToObject(eo, "message", sub.msg ? sub.msg : ch_strerror(oe));
            cJSON_AddItemToArray(results, err);
        }
        cJSON_Delete(sub.out);
    }
    return CH_OK;
}

static ch_err order_target(ch_server *s, req_ctx *r, ch_command *c)
{
    ch_err e = get_account(s, r, "account", &c->account);
    if (e != CH_OK)
        return e;
    e = ch_proto_order_id(r->j, "order_id", &c->order_id);
    if (e == CH_EBADREQ)
        FAIL(CH_EBADREQ, "\"order_id\" must be a decimal string");
    if (e != CH_OK)
        FAIL(CH_EUNKNOWN_ORDER, "no such open order");
    return CH_OK;
}

static ch_err op_order_cancel(ch_server *s, req_ctx *r)
{
    ch_command c = cmd(CH_C_CANCEL);
    ch_err e = order_target(s, r, &c);
    if (e != CH_OK)
        return e;
    ch_command_result res;
    e = exec(s, &c, &res);
    if (e != CH_OK)
        FAIL(e, e == CH_EUNKNOWN_ORDER ? "no such open order" : ch_strerror(e));
    add_u64(r->out, "order_id", c.order_id.v);
    cJSON_AddStringToObject(r->out, "status", "cancelled");
    cJSON_AddNumberToObject(r->out, "remaining_qty", 0);
    cJSON_AddNumberToObject(r->out, "cancelled_qty", (double)res.value);
    return CH_OK;
}

static ch_err op_order_replace(ch_server *s, req_ctx *r)
{
    ch_command c = cmd(CH_C_REPLACE);
    ch_err e = order_target(s, r, &c);
    if (e != CH_OK)
        return e;
    ch_order_info oi;
    if (ch_book_order(ch_engine_book(s->e), c.order_id, &oi) != CH_OK)
        FAIL(CH_EUNKNOWN_ORDER, "no such open order");
    if ((e = ch_proto_qty(r->j, "qty", false, &c.qty)) != CH_OK)
        FAIL(e, "\"qty\" must be a positive whole number of contracts");
    bool has_price;
    if ((e = ch_proto_price(r->j, "price", und_of(s, oi.instr), false, &c.price, &has_price)) !=
        CH_OK)
        FAIL(CH_EBADPRICE, "price not positive, not on tick or outside the band");
    if (c.qty == 0 && !has_price)
        FAIL(CH_EBADREQ, "give \"qty\" and/or \"price\"");
    cJSON *fills = cJSON_CreateArray();
    s->cur_fills = fills;
    ch_command_result res;
    e = exec(s, &c, &res);
    s->cur_fills = NULL;
    if (e != CH_OK) {
        cJSON_Delete(fills);
        FAIL(e, ch_strerror(e));
    }
    order_result_json(s, &res.order, r->out);
    cJSON_AddItemToObject(r->out, "fills", fills);
    return CH_OK;
}

typedef struct orders_ctx {
    ch_server *s;
    ch_account_id acct;
    cJSON *arr;
} orders_ctx;

static void put_open_order(void *ctx, const ch_order_info *o)
{
    orders_ctx *c = ctx;
    if (o->account.v != c->acct.v)
        return;
    cJSON *x = cJSON_CreateObject();
    add_u64(x, "order_id", o->id.v);
    cJSON_AddStringToObject(x, "symbol", instr_of(c->s, o->instr)->symbol);
    cJSON_AddStringToObject(x, "side", ch_side_name(o->side));
    cJSON_AddNumberToObject(x, "price", px(c->s, o->instr, o->price));
    cJSON_AddNumberToObject(x, "remaining_qty", (double)o->remaining);
    cJSON_AddNumberToObject(x, "filled_qty", (double)o->filled);
    cJSON_AddBoolToObject(x, "post_only", o->post_only);
    cJSON_AddItemToArray(c->arr, x);
}

static ch_err op_orders(ch_server *s, req_ctx *r)
{
    orders_ctx c = {.s = s};
    ch_err e = get_account(s, r, "account", &c.acct);
    if (e != CH_OK)
        return e;
    c.arr = cJSON_AddArrayToObject(r->out, "orders");
    uint32_t n = ch_instruments_count(ch_engine_instruments(s->e));
    for (uint32_t i = 0; i < n; i++)
        for (int side = 0; side < 2; side++)
            ch_book_foreach(ch_engine_book(s->e), (ch_instr_id){i}, (ch_side)side,
                            put_open_order, &c);
    return CH_OK;
}

static ch_err op_book(ch_server *s, req_ctx *r)
{
    ch_instr_id id;
    ch_err e = get_symbol(s, r, &id);
    if (e != CH_OK)
        return e;
    double depth = 10;
    bool has;
    if (ch_proto_number(r->j, "depth", false, &depth, &has) != CH_OK || depth < 1 ||
        depth > 1000 || floor(depth) != depth)
        FAIL(CH_EBADREQ, "\"depth\" must be an integer 1..1000");
    ch_level lv[1000];
    for (int side = 0; side < 2; side++) {
        cJSON *a = cJSON_AddArrayToObject(r->out, side == 0 ? "bids" : "asks");
        size_t n = ch_book_depth(ch_engine_book(s->e), id, (ch_side)side, lv, (size_t)depth);
        for (size_t i = 0; i < n; i++) {
            cJSON *pq = cJSON_CreateArray();
            cJSON_AddItemToArray(pq, cJSON_CreateNumber(px(s, id, lv[i].price)));
            cJSON_AddItemToArray(pq, cJSON_CreateNumber((double)lv[i].qty));
            cJSON_AddItemToArray(a, pq);
        }
    }
    return CH_OK;
}

static ch_err op_quote(ch_server *s, req_ctx *r)
{
    ch_instr_id id;
    ch_err e = get_symbol(s, r, &id);
    if (e != CH_OK)
        return e;
    char side[8];
    if (ch_proto_string(r->j, "side", true, side, sizeof side) != CH_OK ||
        (strcmp(side, "buy") != 0 && strcmp(side, "sell") != 0))
        FAIL(CH_EBADREQ, "\"side\" must be \"buy\" or \"sell\"");
    int64_t qty;
    if ((e = ch_proto_qty(r->j, "qty", true, &qty)) != CH_OK)
        FAIL(e, "\"qty\" must be a positive whole number of contracts");
    ch_quote q;
    e = ch_engine_quote(s->e, id, side[0] == 'b' ? CH_BUY : CH_SELL, qty, &q);
    if (e == CH_ENOTFOUND)
        FAIL(CH_EUNAVAILABLE, "the pool does not quote this series (no mark, or off)");
    if (e != CH_OK)
        FAIL(e, e == CH_ERISK_LIMIT ? "the pool is at its risk limits for this trade"
                                    : ch_strerror(e));
    cJSON_AddNumberToObject(r->out, "price", px(s, id, q.price));
    cJSON_AddNumberToObject(r->out, "model", q.model);
    cJSON_AddNumberToObject(r->out, "premium", q.premium);
    cJSON_AddNumberToObject(r->out, "vol", q.vol);
    cJSON_AddNumberToObject(r->out, "max_qty", (double)q.max_qty);
    return CH_OK;
}

typedef struct pos_ctx {
    ch_server *s;
    cJSON *arr;
} pos_ctx;

static void put_position(void *ctx, const ch_position_info *p)
{
    pos_ctx *c = ctx;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "symbol", instr_of(c->s, p->instr)->symbol);
    cJSON_AddNumberToObject(o, "qty", (double)p->qty);
    cJSON_AddNumberToObject(o, "avg_price", p->avg_price);
    cJSON_AddNumberToObject(o, "mark", p->mark);
    cJSON_AddNumberToObject(o, "delta", p->unit.delta * (double)p->qty);
    cJSON_AddNumberToObject(o, "gamma", p->unit.gamma * (double)p->qty);
    cJSON_AddNumberToObject(o, "vega", p->unit.vega * (double)p->qty);
    cJSON_AddNumberToObject(o, "theta", p->unit.theta * (double)p->qty);
    cJSON_AddNumberToObject(o, "realized", (double)p->realized / CH_CASH_SCALE);
    cJSON_AddItemToArray(c->arr, o);
}

static ch_err op_positions(ch_server *s, req_ctx *r)
{
    ch_account_id a;
    ch_err e = get_account(s, r, "account", &a);
    if (e != CH_OK)
        return e;
    ch_account_info ai;
    ch_engine_account(s->e, a, &ai);
    cJSON_AddStringToObject(r->out, "account", ai.name);
    cJSON_AddNumberToObject(r->out, "cash", (double)ai.cash / CH_CASH_SCALE);
    cJSON_AddNumberToObject(r->out, "reserved", (double)ai.reserved / CH_CASH_SCALE);
    cJSON_AddNumberToObject(r->out, "equity", ai.equity);
    cJSON_AddNumberToObject(r->out, "margin", ai.margin);
    pos_ctx c = {s, cJSON_AddArrayToObject(r->out, "positions")};
    ch_engine_positions(s->e, a, put_position, &c);
    return CH_OK;
}

static ch_err op_risk(ch_server *s, req_ctx *r)
{
    uint32_t ui;
    bool given;
    ch_err ue = opt_underlying(s, r, &ui, &given);
    if (ue != CH_OK)
        return ue;
    ch_netting_bucket b[512];
    size_t nb = ch_engine_netting_buckets(s->e, ui, b, 512);
    cJSON *st = cJSON_AddArrayToObject(r->out, "strikes");
    for (size_t i = 0; i < nb; i++) {
        cJSON *o = cJSON_CreateObject();
        char t[40];
        ch_proto_format_time(b[i].expiry, t, sizeof t);
        cJSON_AddStringToObject(o, "expiry", t);
        cJSON_AddNumberToObject(o, "strike", b[i].strike);
        cJSON_AddNumberToObject(o, "delta", b[i].residual.delta);
        cJSON_AddNumberToObject(o, "gamma", b[i].residual.gamma);
        cJSON_AddNumberToObject(o, "vega", b[i].residual.vega);
        cJSON_AddNumberToObject(o, "gross_gamma", b[i].gross_gamma);
        cJSON_AddNumberToObject(o, "netted_gamma", b[i].netted_gamma);
        cJSON_AddItemToArray(st, o);
    }
    ch_risk_totals t;
    ch_scenario_result sc;
    ch_err e = ch_engine_risk(s->e, ui, &t, &sc);
    cJSON *tot = cJSON_AddObjectToObject(r->out, "totals");
    cJSON_AddNumberToObject(tot, "delta", t.delta);
    cJSON_AddNumberToObject(tot, "gamma", t.gamma);
    cJSON_AddNumberToObject(tot, "vega", t.vega);
    cJSON_AddNumberToObject(tot, "theta", t.theta);
    cJSON *sa = cJSON_AddArrayToObject(r->out, "scenarios");
    if (e == CH_OK) {
        for (size_t k = 0; k < sc.n; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "spot_shock", sc.spot_shock[k]);
            cJSON_AddStringToObject(o, "vol_shock",
                                    sc.vol_shock[k] < 0 ? "down" : sc.vol_shock[k] > 0 ? "up"
                                                                                       : "flat");
            cJSON_AddNumberToObject(o, "pnl", sc.pnl[k]);
            cJSON_AddItemToArray(sa, o);
        }
        cJSON_AddNumberToObject(r->out, "worst_loss", sc.worst_loss);
    }
    ch_netting n;
    ch_engine_netting(s->e, &n);
    cJSON *no = cJSON_AddObjectToObject(r->out, "netting");
    cJSON_AddNumberToObject(no, "gross_delta", n.gross_delta);
    cJSON_AddNumberToObject(no, "hedged_delta", s->hedge.volume);
    cJSON_AddNumberToObject(no, "ratio", ch_netting_ratio(s->hedge.volume, n.gross_delta));
    cJSON_AddNumberToObject(no, "net_delta", n.net_delta);
    cJSON_AddNumberToObject(no, "gross_gamma", n.gross_gamma);
    cJSON_AddNumberToObject(no, "netted_gamma", n.netted_gamma);
    return CH_OK;
}

static double pend_qty(const ch_server *s);

static ch_err op_hedge(ch_server *s, req_ctx *r)
{
    const ch_hedge_book *h = &s->hedge;
    cJSON_AddStringToObject(r->out, "policy", ch_hedge_policy_name(s->cfg.hedge.kind));
    cJSON_AddNumberToObject(r->out, "position", h->position);
    cJSON_AddNumberToObject(r->out, "avg_price", h->avg_price);
    cJSON_AddNumberToObject(r->out, "fees", h->fees);
    cJSON_AddNumberToObject(r->out, "slippage", h->slippage);
    cJSON_AddNumberToObject(r->out, "funding", h->funding);
    cJSON_AddNumberToObject(r->out, "basis_pnl", h->basis_pnl);
    cJSON_AddNumberToObject(r->out, "realized", h->realized);
    cJSON_AddNumberToObject(r->out, "volume", h->volume);
    cJSON_AddNumberToObject(r->out, "orders", (double)h->orders);
    /* where orders go, and what is sent but not yet answered */
    cJSON_AddStringToObject(r->out, "venue", s->venue.ops != NULL ? s->cfg.hedge_venue : "sim");
    cJSON_AddNumberToObject(r->out, "in_flight", pend_qty(s));
    cJSON_AddNumberToObject(r->out, "in_flight_orders", (double)s->n_pend);
    cJSON_AddNumberToObject(r->out, "fills", (double)h->fills);
    cJSON_AddNumberToObject(r->out, "rejects", (double)h->rejects);
    uint32_t infl = 0;
    uint64_t retries = 0;
    if (s->venue.ops != NULL)
        s->venue.ops->status(s->venue.impl, &infl, &retries);
    cJSON_AddNumberToObject(r->out, "retries", (double)retries);
    ch_netting n;
    ch_engine_netting(s->e, &n);
    cJSON_AddNumberToObject(r->out, "netting_ratio", ch_netting_ratio(h->volume, n.gross_delta));
    cJSON_AddNumberToObject(r->out, "cost_per_1m_notional",
                            n.notional > 0 ? (h->fees + h->slippage - h->funding) / n.notional * 1e6
                                           : 0.0);
    return CH_OK;
}

static ch_err op_stats(ch_server *s, req_ctx *r)
{
    ch_netting n;
    ch_engine_netting(s->e, &n);
    ch_store_stats ss;
    ch_store_get_stats(s->st, &ss);
    cJSON_AddNumberToObject(r->out, "requests", (double)s->requests);
    cJSON_AddNumberToObject(r->out, "errors", (double)s->errors);
    cJSON_AddNumberToObject(r->out, "orders", (double)s->orders);
    cJSON *f = cJSON_AddObjectToObject(r->out, "fills");
    for (int k = 0; k < 3; k++)
        cJSON_AddNumberToObject(f, k_src[k], (double)n.fills[k]);
    cJSON_AddNumberToObject(r->out, "batches", (double)s->batches);
    cJSON_AddNumberToObject(r->out, "commits", (double)ss.commits);
    cJSON_AddNumberToObject(r->out, "seq", (double)ch_store_last_seq(s->st));
    cJSON_AddBoolToObject(r->out, "halted", s->halted);
    chi_guard_stats gs;
    chi_guard_get_stats(s->guard, &gs);
    cJSON_AddNumberToObject(r->out, "unauthorized", (double)gs.unauthorized);
    cJSON_AddNumberToObject(r->out, "rate_limited", (double)gs.rate_limited);
    cJSON_AddNumberToObject(r->out, "refused_clients", (double)gs.refused_clients);
    cJSON_AddNumberToObject(r->out, "open_order_cap", (double)gs.open_order_cap);
    cJSON_AddNumberToObject(r->out, "connections", (double)chi_guard_conns(s->guard));
    cJSON_AddNumberToObject(r->out, "slow_clients_closed",
                            (double)__atomic_load_n(&s->slow_closed, __ATOMIC_RELAXED));
    cJSON_AddNumberToObject(r->out, "idle_closed",
                            (double)__atomic_load_n(&s->idle_closed, __ATOMIC_RELAXED));
    uint32_t infl = 0;
    uint64_t retries = 0;
    if (s->venue.ops != NULL)
        s->venue.ops->status(s->venue.impl, &infl, &retries);
    cJSON_AddNumberToObject(r->out, "hedge_venue_retries", (double)retries);
    cJSON_AddNumberToObject(r->out, "hedge_venue_rejects", (double)s->hedge.rejects);
    return CH_OK;
}

/* The handler of each message of the table (ch/proto_msg.h): both codecs
 * reach it through the table, JSON by op name and binary by op code. */
typedef ch_err (*op_fn)(ch_server *s, req_ctx *r);
static const op_fn k_handlers[CH_MSG_COUNT] = {
    [CH_MSG_HELLO] = op_hello,
    [CH_MSG_INSTRUMENTS] = op_instruments,
    [CH_MSG_INSTRUMENT_ADD] = op_instrument_add,
    [CH_MSG_ACCOUNT_OPEN] = op_account_open,
    [CH_MSG_ACCOUNT_DEPOSIT] = op_account_deposit,
    [CH_MSG_POOL_DEPOSIT] = op_pool_deposit,
    [CH_MSG_POOL_WITHDRAW] = op_pool_withdraw,
    [CH_MSG_MARKET_UPDATE] = op_market_update,
    [CH_MSG_ORDER_NEW] = op_order_new,
    [CH_MSG_ORDER_BATCH] = op_order_batch,
    [CH_MSG_ORDER_CANCEL] = op_order_cancel,
    [CH_MSG_ORDER_REPLACE] = op_order_replace,
    [CH_MSG_ORDERS] = op_orders,
    [CH_MSG_BOOK] = op_book,
    [CH_MSG_QUOTE] = op_quote,
    [CH_MSG_POSITIONS] = op_positions,
    [CH_MSG_RISK] = op_risk,
    [CH_MSG_HEDGE] = op_hedge,
    [CH_MSG_STATS] = op_stats,
};

/* A write refused while halted: counted, logged at most once every 10 s. */
static void refused_while_halted(ch_server *s)
{
    s->halt_refused++;
    int64_t now = mono_now();
    if (now - s->halt_logged >= 10 * CH_NS_PER_SEC) {
        CH_LOG(CH_LOG_WARN, "store_halted_refusing", "refused_so_far=%" PRIu64, s->halt_refused);
        s->halt_logged = now;
    }
}

/* Run message @p m on request @p j (either codec), its result fields into
 * @p result; @p msg gets the error text. */
static ch_err dispatch(ch_server *s, const ch_msg *m, const cJSON *j, cJSON *result,
                       const char **msg)
{
    if (s->halted && (m->mutating || !s->reads_ok)) {
        if (m->mutating)
            refused_while_halted(s);
        *msg = m->mutating ? "writes stopped: the store could not commit (reads are served from "
                             "the committed state)"
                           : "the store could not commit and its state could not be rebuilt";
        return CH_EUNAVAILABLE;
    }
    req_ctx r = {.j = j, .out = result};
    ch_err e = chi_guard_op(s->guard, chi_op_access(m->op), &r.msg); /* the op's key class */
    if (e == CH_OK)
        e = k_handlers[m->id](s, &r);
    *msg = r.msg;
    return e;
}

/* A stored JSON result (client order id index) as a binary result. */
static void bin_from_json(ch_server *s, ch_instr_id instr, const cJSON *j, ch_bin_result *r)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "order_id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    r->order_id = cJSON_IsString(id) ? strtoull(id->valuestring, NULL, 10) : 0;
    r->status = CH_STATUS_NEW;
    for (int k = 0; k <= CH_STATUS_REJECTED; k++)
        if (cJSON_IsString(st) && strcmp(st->valuestring, ch_status_name((ch_order_status)k)) == 0)
            r->status = (uint8_t)k;
    r->filled = (int64_t)cJSON_GetObjectItemCaseSensitive(j, "filled_qty")->valuedouble;
    r->remaining = (int64_t)cJSON_GetObjectItemCaseSensitive(j, "remaining_qty")->valuedouble;
    r->n_fills = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "fills"))
    {
        if (r->n_fills == CH_BIN_MAX_FILLS)
            break;
        ch_bin_fill *b = &r->fills[r->n_fills++];
        b->trade_id = strtoull(cJSON_GetObjectItemCaseSensitive(f, "trade_id")->valuestring, NULL, 10);
        int64_t t = 0;
        ch_price_from_double(und_of(s, instr), cJSON_GetObjectItemCaseSensitive(f, "price")->valuedouble,
                             &t);
        b->price = t;
        b->qty = (int64_t)cJSON_GetObjectItemCaseSensitive(f, "qty")->valuedouble;
        const char *src = cJSON_GetObjectItemCaseSensitive(f, "source")->valuestring;
        b->source = (uint8_t)(src[0] == 'b' ? CH_SRC_BOOK : src[0] == 'n' ? CH_SRC_NET : CH_SRC_POOL);
    }
}

/* One binary order.batch: the same command path as JSON order.new. */
static uint8_t *handle_bin(ch_server *s, const uint8_t *body, size_t len, size_t *out_len)
{
    s->requests++;
    ch_bin_batch b = {.orders = s->bin_orders};
    size_t cap = 4096;
    uint8_t *out = malloc(cap);
    if (out == NULL)
        return NULL;
    ch_err e = CH_OK;
    const char *msg = NULL;
    ch_account_id acct = {0};
    if (ch_bin_batch_decode(body, len, &b) != CH_OK) {
        e = CH_EBADREQ;
        msg = "malformed binary order.batch";
    } else if (b.count > s->cfg.max_batch) {
        e = CH_EBADREQ;
        msg = "too many orders in one batch (max_batch, 5000 by default)";
    } else if (s->halted) {
        refused_while_halted(s);
        e = CH_EUNAVAILABLE;
        msg = "writes stopped: the store could not commit (reads are served from the committed "
              "state)";
    } else if ((e = chi_guard_begin(s->guard, s->cur_pipe, NULL, s->cur_now, &msg)) == CH_OK) {
        bool found = ch_engine_account_find(s->e, b.account, strlen(b.account), &acct) == CH_OK;
        e = chi_guard_binary(s->guard, s->cur_pipe, found, acct, &msg);
    }
    if (e != CH_OK) {
        s->errors++;
        *out_len = ch_bin_reply_error(out, cap, b.id, e, msg);
        return out;
    }
    /* worst case per order: the fixed part and CH_BIN_MAX_FILLS fills */
    cap = 64 + (size_t)b.count * (37 + 25 * (size_t)CH_BIN_MAX_FILLS);
    uint8_t *big = realloc(out, cap);
    if (big == NULL) {
        free(out);
        return NULL;
    }
    out = big;
    ch_bin_writer w;
    ch_bin_reply_begin(&w, out, cap, b.id);
    for (uint32_t i = 0; i < b.count; i++) {
        const ch_bin_order *o = &b.orders[i];
        ch_bin_result r;
        memset(&r, 0, sizeof r);
        ch_command c = cmd(CH_C_SUBMIT);
        c.order = (ch_engine_order){.account = acct,
                                    .instr = {o->instr},
                                    .side = (ch_side)o->side,
                                    .type = (ch_ord_type)o->type,
                                    .tif = (ch_tif)o->tif,
                                    .post_only = (o->flags & 1) != 0,
                                    .price = o->price,
                                    .qty = o->qty};
        memcpy(c.client_order_id, o->client_order_id, sizeof c.client_order_id);
        char key[CH_CLIENT_ORDER_ID_MAX + 16];
        struct coid *sl = NULL;
        if (c.client_order_id[0] != '\0') {
            coid_key(key, sizeof key, acct, c.client_order_id);
            sl = coid_slot(s, key);
        }
        if (sl != NULL && sl->key != NULL) { /* a repeat: the original result */
            bin_from_json(s, c.order.instr, sl->result, &r);
            ch_bin_reply_add(&w, &r);
            continue;
        }
        s->bin_active = true;
        s->n_bin_fills = 0;
        s->cur_stp = s->cur_stp_others = false;
        s->cur_ack.v = 0;
        const char *gmsg;
        if ((r.error = (uint16_t)guard_order(s, &c, &gmsg)) != CH_OK) {
            ch_bin_reply_add(&w, &r);
            continue;
        }
        cJSON *jf = c.client_order_id[0] != '\0' ? cJSON_CreateArray() : NULL;
        s->cur_fills = jf;
        ch_command_result res;
        ch_err oe = exec(s, &c, &res);
        s->cur_fills = NULL;
        s->bin_active = false;
        if (oe == CH_OK && s->cur_stp && !s->cur_stp_others && res.order.filled == 0 &&
            res.order.status == CH_STATUS_CANCELLED)
            oe = CH_ESELF_TRADE;
        if (oe != CH_OK) {
            r.error = (uint16_t)oe;
            cJSON_Delete(jf);
        } else {
            s->orders++;
            order_rested(s, &c, &res);
            r.order_id = res.order.id.v;
            r.status = (uint8_t)res.order.status;
            r.filled = res.order.filled;
            r.remaining = res.order.remaining;
            r.n_fills = (uint16_t)(s->n_bin_fills < CH_BIN_MAX_FILLS ? s->n_bin_fills
                                                                      : CH_BIN_MAX_FILLS);
            if (r.n_fills > 0)
                memcpy(r.fills, s->bin_fills, r.n_fills * sizeof r.fills[0]);
            if (jf != NULL) { /* remembered as for JSON: a resend in either encoding */
                cJSON *o2 = cJSON_CreateObject();
                order_result_json(s, &res.order, o2);
                cJSON_AddItemToObject(o2, "fills", jf);
                coid_put(s, key, o2);
                cJSON_Delete(o2);
            }
        }
        ch_bin_reply_add(&w, &r);
    }
    *out_len = ch_bin_reply_end(&w);
    return out;
}

/* One binary message of the table (not the compact order.batch): decoded
 * into the request JSON would carry, run by the same handler, the result
 * encoded by the same table (owned: free()). */
static uint8_t *handle_msg(ch_server *s, const uint8_t *body, size_t len, size_t *out_len)
{
    s->requests++;
    const ch_msg *m = NULL;
    uint64_t id = 0;
    cJSON *j = NULL;
    cJSON *result = cJSON_CreateObject();
    const char *msg = "malformed binary message";
    ch_err e = ch_msg_bin_decode_request(body, len, &m, &id, &j);
    if (e == CH_OK && len > s->cfg.max_request) {
        e = CH_EBADREQ;
        msg = "request too large";
    } else if (e == CH_OK && result != NULL) {
        e = guard_request(s, j, NULL, &msg); /* the connection's rate and the key */
        if (e == CH_OK)
            e = dispatch(s, m, j, result, &msg);
    } else if (e == CH_OK) {
        e = CH_ENOMEM;
    }
    uint8_t *out = NULL;
    if (m != NULL) {
        out = ch_msg_bin_encode_reply(m, id, e, msg != NULL ? msg : ch_strerror(e), result,
                                      out_len);
        if (out == NULL && e == CH_OK) { /* a result outside the table: a bug, said so */
            CH_LOG(CH_LOG_ERROR, "binary_reply_unencodable", "op=%s", m->op);
            e = CH_EUNAVAILABLE;
            out = ch_msg_bin_encode_reply(m, id, e, "reply not encodable", NULL, out_len);
        }
    } else {
        e = CH_EBADREQ;
        out = malloc(256);
        *out_len = out != NULL ? ch_bin_reply_error(out, 256, id, e, msg) : 0;
    }
    if (e != CH_OK)
        s->errors++;
    cJSON_Delete(j);
    cJSON_Delete(result);
    return out;
}

/* Build the reply to one request (text, owned by the caller: free()). */
static char *handle(ch_server *s, const char *body, size_t len, bool *mutating)
{
    s->requests++;
    const char *why = NULL;
    char schema_why[CH_PROTO_WHY_MAX];
    cJSON *j = ch_proto_parse(body, len, s->cfg.max_request, &why);
    cJSON *reply = cJSON_CreateObject();
    ch_err e;
    const char *msg = NULL;
    cJSON *result = cJSON_CreateObject();
    *mutating = false;
    if ((e = guard_request(s, j, NULL, &msg)) != CH_OK) {
        /* refused before anything else: msg says why */
    } else if (j == NULL) {
        e = CH_EBADREQ;
        msg = why;
    } else {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
        if (id != NULL)
            cJSON_AddItemToObject(reply, "id", cJSON_Duplicate(id, 1));
        const ch_msg *m = cJSON_IsString(op) ? ch_msg_find(op->valuestring) : NULL;
        if (!cJSON_IsString(op)) {
            e = CH_EBADREQ;
            msg = "\"op\" must be a string";
        } else if (m == NULL) {
            e = CH_EUNKNOWN_OP;
            msg = "unknown op";
        } else if (ch_msg_check_json(m, j, schema_why, sizeof schema_why) != CH_OK) {
            e = CH_EBADREQ; /* an unknown or mistyped field, named */
            msg = schema_why;
        } else {
            e = dispatch(s, m, j, result, &msg);
            *mutating = m->mutating;
        }
    }
    if (e == CH_OK) {
        cJSON_AddBoolToObject(reply, "ok", 1);
        for (cJSON *f = result->child; f != NULL;) {
            cJSON *next = f->next;
            cJSON_AddItemToObject(reply, f->string, cJSON_DetachItemViaPointer(result, f));
            f = next;
        }
    } else {
        s->errors++;
        cJSON_AddBoolToObject(reply, "ok", 0);
        cJSON *eo = cJSON_AddObjectToObject(reply, "error");
        cJSON_AddStringToObject(eo, "code", ch_errwire(e));
        cJSON_AddStringToObject(eo, "message", msg != NULL ? msg : ch_strerror(e));
    }
    cJSON_Delete(result);
    cJSON_Delete(j);
    ch_proto_fix_utf8(reply); /* strings from an older log may hold invalid UTF-8 */
    char *text = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
    return text;
}

/* The reply to a request of a batch that could not be committed: the
 * request's id (taken from the reply it would have had) and UNAVAILABLE. */
static char *unavailable_reply(const char *would_have)
{
    cJSON *was = would_have != NULL ? cJSON_Parse(would_have) : NULL;
    cJSON *o = cJSON_CreateObject();
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(was, "id");
    if (id != NULL)
        cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
    cJSON_AddBoolToObject(o, "ok", 0);
    cJSON *eo = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(eo, "code", "UNAVAILABLE");
    cJSON_AddStringToObject(eo, "message", "the store could not commit: intake stopped");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    cJSON_Delete(was);
    return text;
}

/* ---- hedging after a batch ------------------------------------------------ */

static bool pend_add(ch_server *s, uint64_t id, double qty, double mark)
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
static bool pend_del(ch_server *s, uint64_t id)
{
    for (size_t i = 0; i < s->n_pend; i++) {
        if (s->pend[i].id == id) {
            s->pend[i] = s->pend[--s->n_pend];
            return true;
        }
    }
    return false;
}

static double pend_qty(const ch_server *s)
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
    publish(s, "hedge", o);
}

/* Hand the orders in flight that this process has not sent yet (new ones,
 * and those replayed from the log) to the adapter. Never blocks. */
static void hedge_send_pending(ch_server *s)
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
static void hedge_after_batch(ch_server *s)
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
            ch_command c = cmd(CH_C_HEDGE_REPORT);
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
    double position = s->hedge.position, in_flight = pend_qty(s);
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
            ch_command c = cmd(CH_C_HEDGE);
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
        ch_command c = cmd(CH_C_HEDGE_SENT);
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
        pend_del(s, rep[i].id);
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
            hedge_send_pending(s);
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
    if (!pend_add(s, id, q, mark)) /* logged: a restart sends it */
        CH_LOG(CH_LOG_ERROR, "hedge_send_failed", "id=%" PRIu64 " reason=out_of_memory", id);
    hedge_send_pending(s);
}

/* ---- the engine thread ------------------------------------------------------ */

/* Receive the next request on @p w's context (no deadline: a context waits
 * for as long as no request comes). */
static void recv_next(work *w)
{
    w->state = 0;
    nng_aio_set_timeout(w->aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(w->ctx, w->aio);
}

/* A connection that does not read its replies: closed, so that it costs only
 * itself (NNG answers the contexts waiting on it as sent). Logged at most
 * once a second. */
static void close_slow(ch_server *s, nng_pipe p, const char *why)
{
    uint64_t n = __atomic_add_fetch(&s->slow_closed, 1, __ATOMIC_RELAXED);
    int64_t now = mono_now(), was = __atomic_load_n(&s->slow_logged, __ATOMIC_RELAXED);
    if (now - was > CH_NS_PER_SEC &&
        __atomic_compare_exchange_n(&s->slow_logged, &was, now, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        CH_LOG(CH_LOG_WARN, "client_closed", "pipe=%u reason=\"%s\" closed_so_far=%" PRIu64,
               (unsigned)nng_pipe_id(p), why, n);
    nng_pipe_close(p);
}

static void send_reply(work *w, char *text, size_t len)
{
    ch_server *s = w->s;
    uint32_t pipe = nng_pipe_id(w->pipe);
    nng_msg *m = NULL;
    if (text == NULL || nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, text, len) != 0) {
        if (m != NULL)
            nng_msg_free(m);
        m = NULL;
    }
    free(text);
    if (m == NULL) { /* out of memory: the client's REQ will resend */
        chi_guard_conn_done(s->guard, pipe, false, mono_now());
        recv_next(w);
        return;
    }
    /* a client that does not read: its replies pile up in the transport and
     * each holds a context; past the bound the connection is closed */
    if (chi_guard_conn_sending(s->guard, pipe) > s->cfg.max_pending_replies) {
        nng_msg_free(m);
        chi_guard_conn_done(s->guard, pipe, true, mono_now());
        close_slow(s, w->pipe, "max_pending_replies unread replies");
        recv_next(w);
        return;
    }
    w->state = 2;
    nng_aio_set_msg(w->aio, m);
    nng_aio_set_timeout(w->aio, s->cfg.send_timeout_ms);
    nng_ctx_send(w->ctx, w->aio);
}

static void flush_pubs(ch_server *s)
{
    for (size_t k = 0; k < s->n_pubs; k++) {
        nng_msg *m;
        if (nng_msg_alloc(&m, 0) == 0) {
            if (nng_msg_append(m, s->pubs[k], strlen(s->pubs[k])) != 0 || nng_sendmsg(s->pub, m, 0) != 0)
                nng_msg_free(m); /* PUB is best effort */
        }
        free(s->pubs[k]);
    }
    s->n_pubs = 0;
}

static void replay_cb(void *ctx, uint64_t seq, const ch_command *c, const ch_command_result *r);
static void restore_key(void *ctx, const char *account, const uint8_t *digest);

/* After a failed commit the engine holds work that was never stored. Rebuild
 * it, and everything derived from the log (client order ids, the hedge book,
 * orders in flight at the venue, keys, open-order counts), from the committed
 * state, as a start does; reads are then answered from it. Writes stay
 * refused until a restart. */
static ch_err rebuild(ch_server *s)
{
    ch_engine *e = ch_engine_create(&s->cfg.engine);
    if (e == NULL)
        return CH_ENOMEM;
    ch_engine_destroy(s->e);
    s->e = e;
    ch_engine_set_sink(e, on_engine_event, s);
    for (size_t i = 0; i < s->cap_coids; i++) {
        free(s->coids[i].key);
        cJSON_Delete(s->coids[i].result);
        s->coids[i].key = NULL;
        s->coids[i].result = NULL;
    }
    s->n_coids = 0;
    s->n_pend = 0;
    s->hedge_next_id = 0;
    memset(&s->hedge, 0, sizeof s->hedge);
    s->hedge_last = 0;
    s->hedge_traded = false;
    chi_guard_reset_accounts(s->guard);
    s->replay_fills = cJSON_CreateArray();
    uint64_t n = 0;
    ch_err err = s->replay_fills != NULL ? ch_store_replay(s->st, s->e, replay_cb, s, &n)
                                         : CH_ENOMEM;
    cJSON_Delete(s->replay_fills);
    s->replay_fills = NULL;
    if (err == CH_OK)
        err = ch_store_foreach_key(s->st, restore_key, s);
    for (size_t k = 0; k < s->n_pubs; k++)
        free(s->pubs[k]);
    s->n_pubs = 0;
    memset(s->touched, 0, s->cfg.engine.max_instruments);
    return err;
}

/* The store could not commit: log it once, rebuild, serve reads. */
static void on_halt(ch_server *s, size_t requests)
{
    CH_LOG(CH_LOG_ERROR, "store_halted",
           "reason=\"%s\" requests=%zu action=\"writes refused until a restart; rebuilding "
           "the committed state to serve reads\"",
           ch_store_error(s->st), requests);
    int64_t t0 = mono_now();
    ch_err e = rebuild(s);
    s->reads_ok = e == CH_OK;
    if (e == CH_OK)
        CH_LOG(CH_LOG_WARN, "store_halted_reads", "rebuilt_ms=%.1f seq=%" PRIu64,
               (double)(mono_now() - t0) / 1e6, ch_store_last_seq(s->st));
    else
        CH_LOG(CH_LOG_ERROR, "store_halted_rebuild_failed",
               "reason=\"%s\" action=\"every request is refused\"", ch_strerror(e));
}

static void batch(ch_server *s, work *list)
{
    size_t n = 0;
    for (work *w = list; w != NULL; w = w->next)
        n++;
    char **replies = calloc(n, sizeof *replies);
    size_t *lens = calloc(n, sizeof *lens);
    bool *mut = calloc(n, sizeof *mut);
    bool *bin = calloc(n, sizeof *bin);
    if (replies == NULL || mut == NULL || lens == NULL || bin == NULL) {
        free(replies);
        free(lens);
        free(mut);
        free(bin);
        for (work *w = list, *next; w != NULL; w = next) {
            next = w->next;
            nng_msg_free(w->msg);
            send_reply(w, NULL, 0);
        }
        return;
    }
    /* the engine clock follows the wall clock (logged, so replay agrees) */
    ch_time now = wall_now();
    if (!s->halted && now > ch_engine_now(s->e) + CH_NS_PER_SEC) {
        ch_command c = cmd(CH_C_ADVANCE);
        c.time = now;
        exec(s, &c, NULL);
    }
    size_t i = 0;
    for (work *w = list; w != NULL; w = w->next, i++) {
        s->cur_pipe = nng_pipe_id(nng_msg_get_pipe(w->msg));
        s->cur_now = mono_now();
        const uint8_t *body = nng_msg_body(w->msg);
        size_t blen = nng_msg_len(w->msg);
        if (ch_bin_is_binary(body, blen)) {
            bin[i] = true;
            /* the op byte tells the compact order.batch from the table's messages */
            if (blen >= 4 && body[3] != CH_BIN_OP_BATCH && ch_msg_by_code(body[3]) != NULL)
                replies[i] = (char *)handle_msg(s, body, blen, &lens[i]);
            else
                replies[i] = (char *)handle_bin(s, body, blen, &lens[i]);
        } else {
            replies[i] = handle(s, nng_msg_body(w->msg), nng_msg_len(w->msg), &mut[i]);
            lens[i] = replies[i] != NULL ? strlen(replies[i]) : 0;
        }
        nng_msg_free(w->msg);
        w->msg = NULL;
    }
    s->batches++;
    bool was_halted = s->halted;
    if (!s->halted && ch_store_commit(s->st) != CH_OK)
        s->halted = true;
    if (s->halted && !was_halted) {
        /* nothing of this batch is stored: every reply says so */
        for (size_t k = 0; k < n; k++) {
            char *was = replies[k];
            if (bin[k]) {
                uint64_t id = 0; /* the request's id, from the reply header (bytes 4..11) */
                for (int b = 0; was != NULL && lens[k] >= 12 && b < 8; b++)
                    id |= (uint64_t)(uint8_t)was[4 + b] << (8 * b);
                replies[k] = malloc(256);
                lens[k] = replies[k] != NULL
                              ? ch_bin_reply_error((uint8_t *)replies[k], 256, id, CH_EUNAVAILABLE,
                                                   "the store could not commit: intake stopped")
                              : 0;
            } else {
                replies[k] = unavailable_reply(was);
                lens[k] = replies[k] != NULL ? strlen(replies[k]) : 0;
            }
            free(was);
        }
        for (size_t k = 0; k < s->n_pubs; k++)
            free(s->pubs[k]);
        s->n_pubs = 0;
        on_halt(s, n);
    } else if (!s->halted) {
        hedge_after_batch(s);
    }
    i = 0;
    for (work *w = list, *next; w != NULL; w = next, i++) {
        next = w->next;
        send_reply(w, replies[i], lens[i]);
    }
    /* book updates for the instruments touched, then everything in order */
    uint32_t ni = ch_instruments_count(ch_engine_instruments(s->e));
    for (uint32_t k = 0; k < ni && !s->halted; k++) {
        if (!s->touched[k])
            continue;
        s->touched[k] = 0;
        cJSON *o = cJSON_CreateObject();
        ch_level lv[5];
        for (int side = 0; side < 2; side++) {
            cJSON *a = cJSON_AddArrayToObject(o, side == 0 ? "bids" : "asks");
            size_t m = ch_book_depth(ch_engine_book(s->e), (ch_instr_id){k}, (ch_side)side, lv, 5);
            for (size_t q = 0; q < m; q++) {
                cJSON *pq = cJSON_CreateArray();
                cJSON_AddItemToArray(pq, cJSON_CreateNumber(px(s, (ch_instr_id){k}, lv[q].price)));
                cJSON_AddItemToArray(pq, cJSON_CreateNumber((double)lv[q].qty));
                cJSON_AddItemToArray(a, pq);
            }
        }
        char topic[80];
        snprintf(topic, sizeof topic, "book.%s", instr_of(s, (ch_instr_id){k})->symbol);
        publish(s, topic, o);
    }
    flush_pubs(s);
    free(replies);
    free(lens);
    free(mut);
    free(bin);
}

static void *engine_thread(void *arg)
{
    ch_server *s = arg;
    for (;;) {
        /* with orders in flight at an external venue, wake up every 10 ms to
         * book its answers even when no request comes */
        bool waiting = s->venue.ops != NULL && s->n_pend > 0 && !s->halted;
        pthread_mutex_lock(&s->mu);
        if (waiting && s->q_head == NULL && !s->stop) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_nsec += 10 * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &dl);
        } else {
            while (s->q_head == NULL && !s->stop)
                pthread_cond_wait(&s->cv, &s->mu);
        }
        work *list = s->q_head;
        s->q_head = s->q_tail = NULL;
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (list != NULL) {
            batch(s, list);
        } else if (waiting) {
            hedge_after_batch(s);
            flush_pubs(s);
        }
        if (stop)
            return NULL;
    }
}

static void work_cb(void *arg)
{
    work *w = arg;
    ch_server *s = w->s;
    switch (w->state) {
    case 0: /* received */
        if (nng_aio_result(w->aio) != 0) {
            if (nng_aio_result(w->aio) == NNG_ECLOSED || nng_aio_result(w->aio) == NNG_ECANCELED)
                return;
            recv_next(w);
            return;
        }
        w->msg = nng_aio_get_msg(w->aio);
        w->pipe = nng_msg_get_pipe(w->msg);
        chi_guard_conn_request(s->guard, nng_pipe_id(w->pipe), mono_now());
        w->state = 1;
        w->next = NULL;
        pthread_mutex_lock(&s->mu);
        if (s->q_tail != NULL)
            s->q_tail->next = w;
        else
            s->q_head = w;
        s->q_tail = w;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        break;
    case 2: { /* sent (or failed: the message is still ours) */
        int rv = nng_aio_result(w->aio);
        chi_guard_conn_done(s->guard, nng_pipe_id(w->pipe), true, mono_now());
        if (rv != 0) {
            nng_msg *m = nng_aio_get_msg(w->aio);
            if (m != NULL)
                nng_msg_free(m);
            if (rv == NNG_ECLOSED)
                return;
            if (rv == NNG_ETIMEDOUT)
                close_slow(s, w->pipe, "a reply waited send_timeout for the client to read");
        }
        recv_next(w);
        break;
    }
    default:
        break;
    }
}

/* The idle sweep (NNG's timer thread): connections with nothing in flight
 * and nothing received or sent for idle_timeout are closed; this also ends
 * connections stuck half way through a handshake or a request. */
static void idle_cb(void *arg)
{
    ch_server *s = arg;
    if (nng_aio_result(s->idle_aio) != 0)
        return; /* stopped */
    uint32_t pipes[256];
    int64_t idle = (int64_t)s->cfg.idle_timeout_ms * 1000000;
    size_t n = chi_guard_idle(s->guard, mono_now(), idle, pipes, 256);
    for (size_t i = 0; i < n; i++) {
        nng_pipe p = NNG_PIPE_INITIALIZER;
        p.id = pipes[i];
        nng_pipe_close(p);
    }
    __atomic_add_fetch(&s->idle_closed, n, __ATOMIC_RELAXED);
    int period = s->cfg.idle_timeout_ms / 4;
    nng_sleep_aio(period < 50 ? 50 : period > 1000 ? 1000 : period, s->idle_aio);
}

/* ---- start and stop --------------------------------------------------------- */

static void replay_cb(void *ctx, uint64_t seq, const ch_command *c, const ch_command_result *r)
{
    (void)seq;
    ch_server *s = ctx;
    if (c->type == CH_C_SUBMIT && c->client_order_id[0] != '\0' && r->err == CH_OK) {
        /* rebuild the reply fields of an order with a client order id */
        cJSON *o = cJSON_CreateObject();
        order_result_json(s, &r->order, o);
        cJSON_AddItemToObject(o, "fills", s->replay_fills);
        char key[CH_CLIENT_ORDER_ID_MAX + 16];
        coid_key(key, sizeof key, c->order.account, c->client_order_id);
        coid_put(s, key, o);
        cJSON_Delete(o);
        s->replay_fills = cJSON_CreateArray();
    }
    if (c->type == CH_C_SUBMIT && r->err == CH_OK) {
        order_rested(s, c, r);
    } else if (c->type == CH_C_HEDGE || c->type == CH_C_HEDGE_SENT) {
        /* an order: filled at once (simulated venue) or in flight (external) */
        if (c->type == CH_C_HEDGE) {
            ch_hedge_exec x = {.qty = c->hedge.qty, .price = c->hedge.price,
                               .fee = c->hedge.fee, .slippage = c->hedge.slippage};
            ch_hedge_book_fill(&s->hedge, &x);
        } else if (!pend_add(s, c->hedge.id, c->hedge.qty, c->hedge.mark)) {
            CH_LOG(CH_LOG_ERROR, "hedge_replay_failed", "id=%" PRIu64 " reason=out_of_memory",
                   c->hedge.id);
        }
        s->hedge.orders++;
        s->hedge_last = ch_engine_now(s->e);
        s->hedge_traded = true;
    } else if (c->type == CH_C_HEDGE_REPORT) {
        pend_del(s, c->hedge.id);
        if (c->hedge.filled) {
            ch_hedge_exec x = {.qty = c->hedge.qty, .price = c->hedge.price,
                               .fee = c->hedge.fee, .slippage = c->hedge.slippage};
            ch_hedge_book_fill(&s->hedge, &x);
        } else {
            s->hedge.rejects++;
        }
    } else if (c->type == CH_C_MARKET && r->err == CH_OK) {
        ch_hedge_book_mark(&s->hedge, ch_engine_now(s->e), c->market.index,
                           isnan(c->market.perp) ? c->market.index : c->market.perp,
                           c->market.funding_rate);
    }
    /* fills of other commands are not needed after their command */
    if (cJSON_GetArraySize(s->replay_fills) > 0) {
        cJSON_Delete(s->replay_fills);
        s->replay_fills = cJSON_CreateArray();
    }
}

static ch_err seed(ch_server *s)
{
    ch_time now = wall_now();
    ch_command c = cmd(CH_C_ADVANCE);
    c.time = now;
    ch_err e = exec(s, &c, NULL);
    c = cmd(CH_C_UNDERLYING);
    c.underlying = s->cfg.underlying;
    if (e == CH_OK)
        e = exec(s, &c, NULL);
    /* weekly Fridays, 08:00 UTC */
    ch_time midnight = now / DAY * DAY;
    int64_t dow = (now / DAY + 4) % 7;
    int64_t to_friday = (5 - dow + 7) % 7;
    if (to_friday == 0)
        to_friday = 7;
    ch_command *m = calloc(1, sizeof *m);
    if (m == NULL)
        return CH_ENOMEM;
    m->type = CH_C_MARKET;
    m->market.index = s->cfg.index;
    m->market.rate = s->cfg.rate;
    m->market.funding_rate = NAN;
    m->market.perp = NAN;
    for (int i = 0; i < s->cfg.n_expiries && e == CH_OK; i++) {
        ch_time ex = midnight + (to_friday + 7 * i) * DAY + 8 * 3600 * CH_NS_PER_SEC;
        for (size_t k = 0; k < s->cfg.n_strikes && e == CH_OK; k++) {
            for (int t = 0; t < 2 && e == CH_OK; t++) {
                ch_symbol sym = {.kind = t ? CH_PUT : CH_CALL, .expiry = ex,
                                 .strike = s->cfg.strikes[k]};
                memcpy(sym.underlying, s->cfg.underlying.name, CH_UNDERLYING_MAX);
                c = cmd(CH_C_LIST);
                ch_symbol_format(&sym, c.symbol, sizeof c.symbol);
                e = exec(s, &c, NULL);
            }
        }
        m->market.expiry[m->market.n_marks] = ex;
        m->market.vol[m->market.n_marks++] = s->cfg.vol;
    }
    if (e == CH_OK)
        e = exec(s, m, NULL);
    free(m);
    if (e == CH_OK && s->cfg.lp_cash > 0) {
        c = cmd(CH_C_ACCOUNT_OPEN);
        snprintf(c.name, sizeof c.name, "lp");
        c.amount = s->cfg.lp_cash * CH_CASH_SCALE;
        ch_command_result r;
        e = exec(s, &c, &r);
        if (e == CH_OK) {
            c = cmd(CH_C_POOL_DEPOSIT);
            c.account = r.account;
            c.amount = s->cfg.lp_cash * CH_CASH_SCALE;
            e = exec(s, &c, NULL);
        }
    }
    if (e == CH_OK && ch_store_commit(s->st) != CH_OK)
        e = CH_EIO;
    ch_hedge_book_mark(&s->hedge, ch_engine_now(s->e), s->cfg.index, s->cfg.index, NAN);
    return e;
}

/* Key digests from the store, by account id (the replay made the accounts). */
static void restore_key(void *ctx, const char *account, const uint8_t *digest)
{
    ch_server *s = ctx;
    ch_account_id id;
    if (ch_engine_account_find(s->e, account, strlen(account), &id) == CH_OK)
        chi_guard_set_key(s->guard, id, digest);
}

/* NNG's pipe callbacks (its threads): the connection table and the client cap. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    ch_server *s = arg;
    bool admin = s->has_admin_listener &&
                 nng_listener_id(nng_pipe_listener(p)) == nng_listener_id(s->admin_listener);
    if (ev == NNG_PIPE_EV_ADD_POST &&
        !chi_guard_conn_added_at(s->guard, (uint32_t)nng_pipe_id(p), admin, mono_now()))
        nng_pipe_close(p);
    else if (ev == NNG_PIPE_EV_REM_POST)
        chi_guard_conn_removed(s->guard, (uint32_t)nng_pipe_id(p));
}

static int listen_on(nng_socket sock, const char *url, size_t max_request, const char *tls,
                     nng_listener *out)
{
    nng_listener l;
    int rv = nng_listener_create(&l, sock, url);
    if (rv != 0)
        return rv;
    /* tls+tcp://: our certificate and key (one PEM file), no client certificates */
    if (strncmp(url, "tls+tcp://", 10) == 0) {
        rv = tls[0] == '\0' ? NNG_EINVAL
                            : nng_listener_set_string(l, NNG_OPT_TLS_CERT_KEY_FILE, tls);
        if (rv != 0) {
            nng_listener_close(l);
            return rv;
        }
    }
    /* up to twice the limit a request is read and answered "too large"; far
     * beyond it the transport drops the connection (PROTOCOL.md allows it) */
    if (max_request > 0)
        nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, 2 * max_request);
    if (strncmp(url, "ipc://", 6) == 0)
        nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
    if (strncmp(url, "tcp://", 6) == 0)
        nng_listener_set_bool(l, NNG_OPT_TCP_KEEPALIVE, true);
    *out = l;
    return nng_listener_start(l, 0);
}

/* The ipc watchdog's callback (its thread): a fresh listener for a wedged one. */
static int relisten(void *ctx)
{
    ch_server *s = ctx;
    nng_listener_close(s->req_listener);
    return listen_on(s->rep, s->cfg.req_url, s->cfg.max_request, "", &s->req_listener);
}

/* A start that fails after opening the store leaves the disk as it found it:
 * the store removes what its open created, and the admin key goes if this
 * start made it. */
static ch_server *fail_start(ch_server *s)
{
    s->discard = true;
    ch_server_stop(s);
    return NULL;
}

ch_server *ch_server_start(const ch_server_config *cfg, char *err, size_t cap)
{
    ch_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->touched = calloc(cfg->engine.max_instruments, 1);
    s->bin_orders = calloc(CH_BIN_MAX_ORDERS, sizeof *s->bin_orders);
    s->replay_fills = cJSON_CreateArray();
    s->e = ch_engine_create(&s->cfg.engine);
    chi_guard_config gc = {.no_auth = cfg->no_auth, .max_clients = cfg->max_clients,
                           .conn_rate = cfg->conn_rate, .conn_burst = cfg->conn_burst,
                           .account_rate = cfg->account_rate, .account_burst = cfg->account_burst,
                           .max_open_orders = cfg->max_open_orders};
    s->guard = chi_guard_create(&gc, cfg->engine.max_accounts);
    if (s->touched == NULL || s->e == NULL || s->replay_fills == NULL || s->bin_orders == NULL ||
        s->guard == NULL) {
        snprintf(err, cap, "out of memory (engine sizes too large?)");
        ch_server_stop(s);
        return NULL;
    }
    ch_engine_set_sink(s->e, on_engine_event, s);
    ch_store_config sc = {.dir = cfg->data_dir, .durability = cfg->durability,
                          .map_size = cfg->map_size, .map_max = cfg->map_max};
    ch_engine_config ecfg = s->cfg.engine;
    if (ch_store_open(&sc, &ecfg, false, &s->st) != CH_OK) {
        snprintf(err, cap, "store: %s", ch_store_open_error());
        ch_server_stop(s);
        return NULL;
    }
    uint64_t n = 0;
    ch_err e = ch_store_replay(s->st, s->e, replay_cb, s, &n);
    cJSON_Delete(s->replay_fills);
    s->replay_fills = NULL;
    if (e != CH_OK) {
        snprintf(err, cap, "store: replay failed after %" PRIu64 " commands: %s", n,
                 ch_strerror(e));
        return fail_start(s);
    }
    if (n == 0 && (e = seed(s)) != CH_OK) {
        snprintf(err, cap, "seeding a fresh store failed: %s", ch_strerror(e));
        return fail_start(s);
    }
    if ((e = ch_store_foreach_key(s->st, restore_key, s)) != CH_OK) {
        snprintf(err, cap, "store: reading the account keys failed: %s", ch_strerror(e));
        return fail_start(s);
    }
    char kerr[600];
    char kpath[sizeof cfg->data_dir + 16];
    struct stat kst;
    snprintf(kpath, sizeof kpath, "%s/admin.key", cfg->data_dir);
    s->admin_key_created = stat(kpath, &kst) != 0 && errno == ENOENT;
    if (chi_guard_load_admin_key(s->guard, cfg->data_dir, kerr, sizeof kerr) != CH_OK &&
        !cfg->no_auth) {
        snprintf(err, cap, "admin key: %s", kerr);
        return fail_start(s);
    }
    CH_LOG(CH_LOG_INFO, "store_open", "dir=%s recovered_commands=%" PRIu64 " durability=%s",
           cfg->data_dir, n, cfg->durability == CH_DURABLE_SYNC ? "sync" : "nosync");
    int rv;
    if ((rv = nng_rep0_open(&s->rep)) != 0 || (rv = nng_pub0_open(&s->pub)) != 0) {
        snprintf(err, cap, "nng: %s", nng_strerror(rv));
        return fail_start(s);
    }
    nng_socket_set_int(s->pub, NNG_OPT_SENDBUF, 8192);
    nng_pipe_notify(s->rep, NNG_PIPE_EV_ADD_POST, on_pipe, s);
    nng_pipe_notify(s->rep, NNG_PIPE_EV_REM_POST, on_pipe, s);
    /* the admin endpoint first: the pipe callback reads its id */
    char admin_url[sizeof cfg->data_dir + 32];
    if (cfg->admin_url[0] == '\0')
        snprintf(admin_url, sizeof admin_url, "ipc://%s/admin.sock", cfg->data_dir);
    else
        snprintf(admin_url, sizeof admin_url, "%s", cfg->admin_url);
    if (strcmp(admin_url, "none") != 0) {
        if ((rv = listen_on(s->rep, admin_url, cfg->max_request, cfg->tls_cert_key,
                            &s->admin_listener)) != 0) {
            snprintf(err, cap, "cannot listen on the admin endpoint %s: %s (config \"admin\")",
                     admin_url, nng_strerror(rv));
            return fail_start(s);
        }
        s->has_admin_listener = true;
    }
    if ((rv = listen_on(s->rep, cfg->req_url, cfg->max_request, cfg->tls_cert_key,
                        &s->req_listener)) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s%s", cfg->req_url, nng_strerror(rv),
                 strncmp(cfg->req_url, "tls+", 4) == 0 ? " (tls_cert_key: a PEM file with the "
                                                         "certificate and its key)"
                                                       : "");
        return fail_start(s);
    }
    nng_listener pub_listener;
    if ((rv = listen_on(s->pub, cfg->pub_url, 0, cfg->tls_cert_key, &pub_listener)) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s", cfg->pub_url, nng_strerror(rv));
        return fail_start(s);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (s->cfg.hedge_venue[0] != '\0') {
        ch_hedge_nng_config hc = {.url = s->cfg.hedge_venue,
                                  .timeout_ms = s->cfg.hedge_venue_timeout_ms};
        if ((e = ch_hedge_adapter_nng(&hc, &s->venue)) != CH_OK) {
            snprintf(err, cap, "hedge venue %s: %s", s->cfg.hedge_venue, ch_strerror(e));
            pthread_mutex_destroy(&s->mu);
            pthread_cond_destroy(&s->cv);
            return fail_start(s);
        }
        CH_LOG(CH_LOG_INFO, "hedge_venue", "url=%s in_flight=%zu", s->cfg.hedge_venue, s->n_pend);
        hedge_send_pending(s); /* orders in flight at the last stop: same ids */
    } else if (s->n_pend > 0) {
        CH_LOG(CH_LOG_WARN, "hedge_unresolved",
               "in_flight=%zu qty=%.8g reason=\"orders sent to an external venue are in flight; "
               "they stay so until chd runs with that hedge_venue again\"",
               s->n_pend, pend_qty(s));
    }
    if (pthread_create(&s->thread, NULL, engine_thread, s) != 0) {
        snprintf(err, cap, "cannot start the engine thread");
        return fail_start(s);
    }
    s->thread_started = true;
    s->n_works = cfg->contexts > 0 ? cfg->contexts : 64;
    s->works = calloc((size_t)s->n_works, sizeof *s->works);
    for (int i = 0; s->works != NULL && i < s->n_works; i++) {
        work *w = calloc(1, sizeof *w);
        if (w == NULL || nng_aio_alloc(&w->aio, work_cb, w) != 0 ||
            nng_ctx_open(&w->ctx, s->rep) != 0) {
            snprintf(err, cap, "cannot allocate NNG contexts");
            free(w);
            return fail_start(s);
        }
        w->s = s;
        s->works[i] = w;
        recv_next(w);
    }
    if (nng_aio_alloc(&s->idle_aio, idle_cb, s) != 0) {
        snprintf(err, cap, "cannot allocate the idle timer");
        return fail_start(s);
    }
    nng_sleep_aio(100, s->idle_aio);
    s->watch = chi_ipc_watch_start(cfg->req_url, 1000, 5000, relisten, s);
    CH_LOG(CH_LOG_INFO, "listening", "req=%s pub=%s admin=%s contexts=%d auth=%s", cfg->req_url,
           cfg->pub_url, s->has_admin_listener ? admin_url : "none", s->n_works,
           cfg->no_auth ? "off" : "on");
    return s;
}

void ch_server_stop(ch_server *s)
{
    if (s == NULL)
        return;
    chi_ipc_watch_stop(s->watch); /* before the sockets it may re-listen on */
    if (s->idle_aio != NULL) {
        nng_aio_stop(s->idle_aio);
        nng_aio_free(s->idle_aio);
    }
    /* finish the batch in progress (it commits and replies), then stop the
     * contexts; requests still queued are not answered and will be resent */
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    /* the adapter's worker finishes its attempt in flight (bounded by the
     * venue timeout); an order still unanswered is resent at the next start */
    if (s->venue.ops != NULL)
        s->venue.ops->destroy(s->venue.impl);
    s->venue.ops = NULL;
    free(s->pend);
    s->pend = NULL;
    s->n_pend = 0;
    for (int i = 0; s->works != NULL && i < s->n_works; i++)
        if (s->works[i] != NULL)
            nng_aio_stop(s->works[i]->aio);
    for (int i = 0; s->works != NULL && i < s->n_works; i++) {
        work *w = s->works[i];
        if (w == NULL)
            continue;
        nng_ctx_close(w->ctx);
        nng_aio_free(w->aio);
        if (w->msg != NULL)
            nng_msg_free(w->msg);
        free(w);
    }
    free(s->works);
    nng_close(s->rep);
    nng_close(s->pub);
    if (s->st != NULL && s->discard) {
        if (s->admin_key_created) {
            char path[sizeof s->cfg.data_dir + 16];
            snprintf(path, sizeof path, "%s/admin.key", s->cfg.data_dir);
            unlink(path);
        }
        ch_store_abandon(s->st);
    } else if (s->st != NULL) {
        ch_store_commit(s->st);
        ch_store_close(s->st);
    }
    ch_engine_destroy(s->e);
    for (size_t i = 0; i < s->cap_coids; i++) {
        free(s->coids[i].key);
        cJSON_Delete(s->coids[i].result);
    }
    free(s->coids);
    for (size_t i = 0; i < s->n_pubs; i++)
        free(s->pubs[i]);
    free(s->pubs);
    free(s->touched);
    free(s->bin_orders);
    free(s->bin_fills);
    cJSON_Delete(s->replay_fills);
    chi_guard_destroy(s->guard);
    CH_LOG(CH_LOG_INFO, "stopped", "requests=%" PRIu64 " batches=%" PRIu64, s->requests,
           s->batches);
    free(s);
}

bool ch_server_halted(const ch_server *s)
{
    return s->halted;
}
