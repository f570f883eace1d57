/*
 * dump.c - `chctl dump --db DIR`: accounts, positions, open orders and fills
 * of a store as JSON, for audits and tests. The state is rebuilt by replaying
 * the command log (under the configuration stored with it) into an engine in
 * memory, from its newest snapshot when chd pruned the log (log_prune); the
 * fills are the stored fill records, every one. The store is only read.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/cli.h"
#include "ch/store.h"
#include "chctl.h"

typedef struct dump_ctx {
    const ch_engine *e;
    cJSON *arr;
} dump_ctx;

static double price_of(const ch_engine *e, ch_instr_id id, int64_t ticks)
{
    const ch_instruments *reg = ch_engine_instruments(e);
    const ch_instrument *in = ch_instruments_get(reg, id);
    return in != NULL ? ch_price_to_double(ch_instruments_underlying(reg, in->underlying), ticks)
                      : 0.0;
}

static const char *symbol_of(const ch_engine *e, ch_instr_id id)
{
    const ch_instrument *in = ch_instruments_get(ch_engine_instruments(e), id);
    return in != NULL ? in->symbol : "?";
}

/* A log pruned by chd (log_prune) starts after its oldest snapshot: the
 * state comes from the newest snapshot then (*at its command), else from the
 * whole log (*at 0), which checks every command. */
static ch_err from_snapshot(ch_store *st, ch_engine *e, uint64_t *at)
{
    *at = 0;
    uint64_t first = ch_store_first_seq(st);
    if (first == 1 || (first == 0 && ch_store_last_seq(st) == 0))
        return CH_OK;
    uint8_t *blob;
    size_t len, elen;
    const uint8_t *eng;
    uint64_t seq;
    ch_err err = ch_store_get_snapshot(st, UINT64_MAX, &seq, &blob, &len);
    if (err != CH_OK)
        return err;
    if (blob == NULL) /* pruned without a snapshot: the replay says what is missing */
        return CH_OK;
    err = ch_store_snapshot_engine(blob, len, &eng, &elen) ? ch_engine_restore(e, eng, elen)
                                                           : CH_EBADREQ;
    free(blob);
    if (err == CH_OK)
        *at = seq;
    return err;
}

static void add_id(cJSON *o, const char *k, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddStringToObject(o, k, b);
}

static void put_position(void *ctx, const ch_position_info *p)
{
    dump_ctx *d = ctx;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "symbol", symbol_of(d->e, p->instr));
    cJSON_AddNumberToObject(o, "qty", (double)p->qty);
    cJSON_AddNumberToObject(o, "avg_price", p->avg_price);
    cJSON_AddNumberToObject(o, "realized", (double)p->realized / CH_CASH_SCALE);
    cJSON_AddItemToArray(d->arr, o);
}

static const char *name_of(const ch_engine *e, ch_account_id a)
{
    const char *n = ch_engine_account_name(e, a);
    return n != NULL ? n : "?";
}

static void put_order(void *ctx, const ch_order_info *oi)
{
    dump_ctx *d = ctx;
    cJSON *o = cJSON_CreateObject();
    add_id(o, "order_id", oi->id.v);
    cJSON_AddStringToObject(o, "account", name_of(d->e, oi->account));
    cJSON_AddStringToObject(o, "symbol", symbol_of(d->e, oi->instr));
    cJSON_AddStringToObject(o, "side", ch_side_name(oi->side));
    cJSON_AddNumberToObject(o, "price", price_of(d->e, oi->instr, oi->price));
    cJSON_AddNumberToObject(o, "remaining_qty", (double)oi->remaining);
    cJSON_AddNumberToObject(o, "filled_qty", (double)oi->filled);
    cJSON_AddItemToArray(d->arr, o);
}

static void put_fill(void *ctx, const ch_fill *f)
{
    static const char *const src[3] = {"book", "net", "pool"};
    dump_ctx *d = ctx;
    cJSON *o = cJSON_CreateObject();
    add_id(o, "trade_id", f->trade_id);
    cJSON_AddStringToObject(o, "source", src[f->source]);
    cJSON_AddStringToObject(o, "symbol", symbol_of(d->e, f->instr));
    cJSON_AddStringToObject(o, "taker", name_of(d->e, f->taker));
    cJSON_AddStringToObject(o, "side", ch_side_name(f->taker_side));
    cJSON_AddNumberToObject(o, "price", price_of(d->e, f->instr, f->price));
    cJSON_AddNumberToObject(o, "qty", (double)f->qty);
    cJSON_AddStringToObject(o, "maker", name_of(d->e, f->maker));
    if (f->taker_order.v != 0)
        add_id(o, "taker_order_id", f->taker_order.v);
    if (f->maker_order.v != 0)
        add_id(o, "maker_order_id", f->maker_order.v);
    if (f->source == CH_SRC_NET) {
        cJSON_AddStringToObject(o, "maker_symbol", symbol_of(d->e, f->maker_instr));
        cJSON_AddNumberToObject(o, "maker_price", price_of(d->e, f->maker_instr, f->maker_price));
    }
    cJSON_AddNumberToObject(o, "fee", (double)f->fee / CH_CASH_SCALE);
    cJSON_AddItemToArray(d->arr, o);
}

static void dump_usage(FILE *f)
{
    fprintf(f, "usage: chctl dump --db DIR [--pretty]   (the store in DIR, read only, as JSON)\n");
}

int chctl_dump(int argc, char **argv)
{
    enum { O_DB = 256, O_PRETTY };
    static const struct option lo[] = {{"db", required_argument, NULL, O_DB},
                                       {"pretty", no_argument, NULL, O_PRETTY},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *db = NULL;
    bool pretty = false;
    int c;
    ch_cli_reset();
    while ((c = ch_cli_next("chctl dump", argc, argv, "h", lo)) != -1) {
        if (c == O_DB) {
            db = optarg;
        } else if (c == O_PRETTY) {
            pretty = true;
        } else if (c == 'h') {
            dump_usage(stdout);
            return 0;
        } else {
            return CH_CLI_USAGE;
        }
    }
    if (!ch_cli_no_operands("chctl dump", argc, argv))
        return CH_CLI_USAGE;
    if (db == NULL) {
        fprintf(stderr, "chctl dump: missing --db DIR\n");
        dump_usage(stderr);
        return CH_CLI_USAGE;
    }
    ch_engine_config cfg;
    memset(&cfg, 0, sizeof cfg);
    ch_store_config sc = {.dir = db};
    ch_store *st;
    ch_err err = ch_store_open(&sc, &cfg, true, &st);
    if (err != CH_OK) {
        fprintf(stderr, "chctl dump: %s: %s\n", db, ch_store_open_error());
        return 1;
    }
    ch_engine *e = ch_engine_create(&cfg);
    uint64_t n = 0, at = 0;
    if (e != NULL)
        err = from_snapshot(st, e, &at);
    if (e == NULL || err != CH_OK ||
        (err = ch_store_replay_from(st, e, at, NULL, NULL, &n)) != CH_OK) {
        fprintf(stderr, "chctl dump: replaying %s failed: %s\n", db,
                e == NULL ? "out of memory" : ch_strerror(err));
        ch_engine_destroy(e);
        ch_store_close(st);
        return 1;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "last_seq", (double)(at + n));
    if (at > 0)
        cJSON_AddNumberToObject(root, "snapshot_seq", (double)at);
    cJSON *accts = cJSON_AddArrayToObject(root, "accounts");
    for (uint32_t a = 0;; a++) {
        ch_account_info ai;
        if (ch_engine_account(e, (ch_account_id){a}, &ai) != CH_OK)
            break;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", ai.name);
        cJSON_AddNumberToObject(o, "cash", (double)ai.cash / CH_CASH_SCALE);
        cJSON_AddNumberToObject(o, "reserved", (double)ai.reserved / CH_CASH_SCALE);
        cJSON_AddNumberToObject(o, "pool_shares", (double)ai.shares);
        dump_ctx d = {e, cJSON_AddArrayToObject(o, "positions")};
        ch_engine_positions(e, (ch_account_id){a}, put_position, &d);
        cJSON_AddItemToArray(accts, o);
    }
    dump_ctx od = {e, cJSON_AddArrayToObject(root, "open_orders")};
    uint32_t ni = ch_instruments_count(ch_engine_instruments(e));
    for (uint32_t i = 0; i < ni; i++)
        for (int side = 0; side < 2; side++)
            ch_book_foreach(ch_engine_book(e), (ch_instr_id){i}, (ch_side)side, put_order, &od);
    dump_ctx fd = {e, cJSON_AddArrayToObject(root, "fills")};
    err = ch_store_foreach_fill(st, put_fill, &fd);
    int rc = 0;
    if (err != CH_OK) {
        fprintf(stderr, "chctl dump: reading the fills failed: %s\n", ch_strerror(err));
        rc = 1;
    } else {
        char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
        if (text == NULL) {
            fprintf(stderr, "chctl dump: out of memory\n");
            rc = 1;
        } else {
            puts(text);
            cJSON_free(text);
        }
    }
    cJSON_Delete(root);
    ch_engine_destroy(e);
    ch_store_close(st);
    return rc;
}
