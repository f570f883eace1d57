/*
 * net.c - chctl's commands that talk to chd (through libchclient): one per
 * protocol op, plus `call` (any JSON) and `watch` (events). Human output by
 * default (a ladder for book, a table for positions, otherwise `key value`
 * lines with nested objects as dotted keys and lists of objects as tables);
 * --json prints the server's reply as it came. The exit status is 0 for an ok
 * reply, 1 for an error reply (its code on stderr), 2 for usage, 3 for
 * transport errors.
 *
 * The options of each op are its request fields (request.c), so nothing a
 * user misspells is sent.
 *
 * Keys (PROTOCOL.md, Authentication): --key KEY, else the first line of
 * --key-file FILE, else DIR/admin.key for --data DIR, else $CH_KEY, else
 * ./var/admin.key when it is readable (chd's default data folder, so the
 * operator on the daemon's machine needs no option). The key is added to
 * every request that has none.
 */
#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch/cli.h"
#include "ch/client.h"
#include "ch/proto_msg.h"
#include "chctl.h"

static const char *g_url = "tcp://127.0.0.1:7450";
static const char *g_shards, *g_shard; /* a shard map, and the shard for requests naming none */
static const char *g_pub = "tcp://127.0.0.1:7451";
static bool g_json;
static const char *g_key_opt, *g_key_file;
static double g_wait; /* --wait: seconds to retry a refused connection */
static char g_key[300];

/* The first line of @p path into g_key; false if unreadable or empty. */
static bool read_key_file(const char *path)
{
    return ch_client_read_key(path, g_key, sizeof g_key) == CH_OK;
}

/* The key to send, per the order above ("" for none); exits 2 on a named, unreadable file. */
static const char *key_to_send(void)
{
    if (g_key_opt != NULL)
        return g_key_opt;
    if (g_key_file != NULL) {
        if (!read_key_file(g_key_file)) {
            fprintf(stderr, "chctl: cannot read a key from %s\n", g_key_file);
            exit(2);
        }
        return g_key;
    }
    const char *env = getenv("CH_KEY");
    if (env != NULL && env[0] != '\0')
        return env;
    return read_key_file("./var/admin.key") ? g_key : "";
}

void chctl_net_setup(const chctl_global *g)
{
    if (g->url != NULL)
        g_url = g->url;
    g_shards = g->shards;
    g_shard = g->shard;
    if (g->pub != NULL)
        g_pub = g->pub;
    g_json = g->json;
    g_key_opt = g->key;
    g_key_file = g->key_file;
    g_wait = g->wait;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A client of chd at g_url, or of the shard map g_shards (an error in
 * @p msg). With --wait, an endpoint that refuses the connection (chd not
 * listening yet: a refused tcp connect, no ipc socket file) is tried again
 * every 50 ms until the time is up; nothing has been sent then, so a retry
 * cannot repeat a request. Any other error is returned at once.
 */
static ch_err open_client(ch_client **c, char *msg, size_t cap)
{
    double until = now_s() + g_wait;
    for (;;) {
        ch_err e;
        if (g_shards != NULL) {
            e = ch_client_open_shards(g_shards, 5000, c, msg, cap);
        } else {
            e = ch_client_open(g_url, 5000, c);
            if (e != CH_OK)
                snprintf(msg, cap, "%s", ch_client_strerror(e));
        }
        int ne = e != CH_OK && g_shards == NULL ? ch_client_nng_error() : 0;
        if (e == CH_OK || (ne != NNG_ECONNREFUSED && ne != NNG_ENOENT) || now_s() >= until)
            return e;
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* One value as text: numbers in full, strings bare, null as "-", anything
 * nested as compact JSON. */
static void cell(const cJSON *v, char *out, size_t cap)
{
    if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, cap, "%.10g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(out, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNull(v) || v == NULL) {
        snprintf(out, cap, "-");
    } else {
        char *t = cJSON_PrintUnformatted(v);
        snprintf(out, cap, "%s", t != NULL ? t : "?");
        cJSON_free(t);
    }
}

static bool is_table(const cJSON *v)
{
    return cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0 && cJSON_IsObject(v->child);
}

/* A list of objects as a table: the first object's keys are the columns. */
static void print_rows(const char *title, const cJSON *arr)
{
    enum { MAXC = 24, W = 64 };
    const char *col[MAXC];
    int w[MAXC], nc = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, arr->child)
    {
        if (nc < MAXC && f->string != NULL) {
            col[nc] = f->string;
            w[nc++] = (int)strlen(f->string);
        }
    }
    char buf[W];
    const cJSON *row;
    cJSON_ArrayForEach(row, arr)
    {
        for (int c = 0; c < nc; c++) {
            cell(cJSON_GetObjectItemCaseSensitive(row, col[c]), buf, sizeof buf);
            int n = (int)strlen(buf);
            w[c] = n > w[c] ? n : w[c];
        }
    }
    printf("%s:\n", title);
    for (int c = 0; c < nc; c++)
        printf("  %*s", w[c], col[c]);
    printf("\n");
    cJSON_ArrayForEach(row, arr)
    {
        for (int c = 0; c < nc; c++) {
            cell(cJSON_GetObjectItemCaseSensitive(row, col[c]), buf, sizeof buf);
            printf("  %*s", w[c], buf);
        }
        printf("\n");
    }
}

/* `key value` lines for the scalars of an object (nested objects as dotted
 * keys), then a table for each list of objects. */
static void print_object(const cJSON *o, const char *prefix)
{
    const cJSON *v;
    char key[128], buf[256];
    cJSON_ArrayForEach(v, o)
    {
        snprintf(key, sizeof key, "%s%s", prefix, v->string != NULL ? v->string : "?");
        if (cJSON_IsObject(v)) {
            char sub[130];
            snprintf(sub, sizeof sub, "%s.", key);
            print_object(v, sub);
        } else if (!is_table(v)) {
            cell(v, buf, sizeof buf);
            printf("%-24s %s\n", key, buf);
        }
    }
    cJSON_ArrayForEach(v, o)
    {
        if (is_table(v)) {
            snprintf(key, sizeof key, "%s%s", prefix, v->string != NULL ? v->string : "?");
            print_rows(key, v);
        }
    }
}

static void print_table(const cJSON *r, const char *op)
{
    if (strcmp(op, "book") == 0) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "bids");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "asks");
        int nb = cJSON_GetArraySize(b), na = cJSON_GetArraySize(a);
        printf("%10s %12s | %-12s %-10s\n", "bid qty", "bid", "ask", "ask qty");
        for (int i = 0; i < nb || i < na; i++) {
            const cJSON *bi = cJSON_GetArrayItem(b, i), *ai = cJSON_GetArrayItem(a, i);
            if (bi != NULL)
                printf("%10g %12g | ", cJSON_GetArrayItem(bi, 1)->valuedouble,
                       cJSON_GetArrayItem(bi, 0)->valuedouble);
            else
                printf("%10s %12s | ", "", "");
            if (ai != NULL)
                printf("%-12g %-10g\n", cJSON_GetArrayItem(ai, 0)->valuedouble,
                       cJSON_GetArrayItem(ai, 1)->valuedouble);
            else
                printf("\n");
        }
        return;
    }
    if (strcmp(op, "positions") == 0) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "cash");
        printf("cash %.2f\n%-24s %8s %12s %12s %10s %12s\n", c ? c->valuedouble : 0.0, "symbol",
               "qty", "avg_price", "mark", "delta", "vega");
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "positions"))
        {
            printf("%-24s %8g %12.2f %12.2f %10.4f %12.1f\n",
                   cJSON_GetObjectItemCaseSensitive(p, "symbol")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(p, "qty")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(p, "avg_price")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(p, "mark")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(p, "delta")->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(p, "vega")->valuedouble);
        }
        return;
    }
    print_object(r, "");
}

/* Send one request (a tree, consumed): its reply text (owned, ch_client_free)
 * into *@p reply, or NULL with the error printed; @p op gets its op. */
static int exchange(cJSON *req, char op[64], char **reply, size_t *len)
{
    *reply = NULL;
    const char *key = key_to_send();
    if (key[0] != '\0' && cJSON_GetObjectItemCaseSensitive(req, "key") == NULL)
        cJSON_AddStringToObject(req, "key", key);
    char *text = cJSON_PrintUnformatted(req);
    snprintf(op, 64, "%s", cJSON_GetObjectItemCaseSensitive(req, "op")->valuestring);
    cJSON_Delete(req);
    if (text == NULL)
        return 3;
    ch_client *c;
    char msg[256];
    ch_err rv = open_client(&c, msg, sizeof msg);
    if (rv == CH_OK && g_shards != NULL && g_shard != NULL &&
        ch_client_set_shard(c, g_shard) != CH_OK) {
        snprintf(msg, sizeof msg, "no shard %s", g_shard);
        ch_client_close(c);
        rv = CH_ENOTFOUND;
    }
    if (rv != CH_OK) {
        fprintf(stderr, "chctl: %s: %s%s\n", g_shards != NULL ? g_shards : g_url, msg,
                g_shards == NULL && g_wait == 0 ? " (is chd running? --wait SECONDS waits for it)"
                                                : "");
        cJSON_free(text);
        return 3;
    }
    if (g_shards != NULL)
        g_url = g_shards;
    rv = ch_client_call(c, text, strlen(text), reply, len);
    cJSON_free(text);
    ch_client_close(c);
    if (rv != CH_OK) {
        fprintf(stderr, "chctl: %s: %s (is chd running?)\n", g_url, ch_client_strerror(rv));
        *reply = NULL;
        return 3;
    }
    return 0;
}

/* The reply @p reply as a tree, or NULL with the error printed and the
 * exit status in *@p status (1: the server refused, 3: not JSON). */
static cJSON *parse_reply(const char *reply, size_t len, int *status)
{
    cJSON *r = cJSON_ParseWithLength(reply, len);
    if (r == NULL) {
        fprintf(stderr, "chctl: the reply is not JSON: %s\n", reply);
        *status = 3;
    } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"))) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        if (g_json)
            puts(reply);
        fprintf(stderr, "chctl: %s: %s\n", cJSON_IsString(code) ? code->valuestring : "?",
                cJSON_IsString(msg) ? msg->valuestring : "");
        cJSON_Delete(r);
        r = NULL;
        *status = 1;
    }
    return r;
}

cJSON *chctl_fetch(const char *op, int *status)
{
    cJSON *req = cJSON_CreateObject();
    char name[64], *reply;
    size_t len = 0;
    if (req == NULL || cJSON_AddStringToObject(req, "op", op) == NULL) {
        cJSON_Delete(req);
        *status = 3;
        return NULL;
    }
    if ((*status = exchange(req, name, &reply, &len)) != 0)
        return NULL;
    cJSON *r = parse_reply(reply, len, status);
    ch_client_free(reply);
    return r;
}

/* Send one request (a tree, consumed) and print the reply. */
static int send_request(cJSON *req)
{
    char op[64], *reply;
    size_t len = 0;
    int status = exchange(req, op, &reply, &len);
    if (status != 0)
        return status;
    cJSON *r = parse_reply(reply, len, &status);
    if (r != NULL && g_json) {
        puts(reply);
    } else if (r != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(r, "ok");
        print_table(r, op);
    }
    cJSON_Delete(r);
    ch_client_free(reply);
    return status;
}

static void call_usage(FILE *f)
{
    fprintf(f, "usage: chctl call JSON   (any request, sent as it is: '{\"op\":\"hello\"}')\n");
}

int chctl_call(int argc, char **argv)
{
    int rc = chctl_plain_args("chctl call", argc, argv, call_usage);
    if (rc >= 0)
        return rc;
    if (optind + 1 != argc) {
        call_usage(stderr);
        return CH_CLI_USAGE;
    }
    cJSON *r = cJSON_Parse(argv[optind]);
    if (r == NULL || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "op"))) {
        fprintf(stderr, "chctl call: the argument must be a JSON object with an \"op\"\n");
        cJSON_Delete(r);
        return CH_CLI_USAGE;
    }
    return send_request(r);
}

/* chctl OP [POSITIONAL] [--field value ...]: the options are op's request fields */
static int simple(const char *op, const char *positional, int argc, char **argv)
{
    char prog[96];
    snprintf(prog, sizeof prog, "chctl %s", argv[0]);
    cJSON *r;
    int rc = chctl_request(op, prog, positional, argc, argv, &r);
    return r == NULL ? rc : send_request(r);
}

int chctl_hello(int argc, char **argv)
{
    return simple("hello", NULL, argc, argv);
}
int chctl_instruments(int argc, char **argv)
{
    return simple("instruments", "underlying", argc, argv);
}
int chctl_book(int argc, char **argv)
{
    return simple("book", "symbol", argc, argv);
}
int chctl_positions(int argc, char **argv)
{
    return simple("positions", "account", argc, argv);
}
int chctl_orders(int argc, char **argv)
{
    return simple("orders", "account", argc, argv);
}
int chctl_risk(int argc, char **argv)
{
    return simple("risk", "underlying", argc, argv);
}
int chctl_hedge(int argc, char **argv)
{
    return simple("hedge", NULL, argc, argv);
}
int chctl_stats(int argc, char **argv)
{
    return simple("stats", NULL, argc, argv);
}
int chctl_quote(int argc, char **argv)
{
    return simple("quote", "symbol", argc, argv);
}
int chctl_pools(int argc, char **argv)
{
    return simple("pools", "underlying", argc, argv);
}

/* chctl GROUP ACTION [--field value ...] for op GROUP.ACTION (order new, account
 * open, pool withdraw, market update, instrument add ...): each action takes
 * its own op's fields only */
static int grouped(const char *group, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    char prog[96];
    snprintf(prog, sizeof prog, "chctl %s", group);
    int c;
    ch_cli_reset();
    while ((c = ch_cli_next(prog, argc, argv, "+h", lo)) != -1) {
        if (c != 'h')
            return CH_CLI_USAGE;
        chctl_group_usage(stdout, group);
        return 0;
    }
    if (optind >= argc) {
        fprintf(stderr, "%s: which action?\n", prog);
        chctl_group_usage(stderr, group);
        return CH_CLI_USAGE;
    }
    char op[64];
    snprintf(op, sizeof op, "%s.%s", group, argv[optind]);
    for (char *p = op + strlen(group) + 1; *p; p++) /* tranche-add: op pool.tranche.add */
        if (*p == '-')
            *p = '.';
    if (strchr(argv[optind], '.') != NULL || ch_msg_find(op) == NULL) {
        fprintf(stderr, "%s: unknown action '%s'\n", prog, argv[optind]);
        chctl_group_usage(stderr, group);
        return CH_CLI_USAGE;
    }
    snprintf(prog, sizeof prog, "chctl %s %s", group, argv[optind]);
    cJSON *r;
    int rc = chctl_request(op, prog, NULL, argc - optind, argv + optind, &r);
    return r == NULL ? rc : send_request(r);
}

int chctl_order(int argc, char **argv)
{
    return grouped("order", argc, argv);
}
int chctl_account(int argc, char **argv)
{
    return grouped("account", argc, argv);
}
int chctl_pool(int argc, char **argv)
{
    return grouped("pool", argc, argv);
}
int chctl_market(int argc, char **argv)
{
    return grouped("market", argc, argv);
}
int chctl_instrument(int argc, char **argv)
{
    return grouped("instrument", argc, argv);
}

static void watch_usage(FILE *f)
{
    fprintf(f, "usage: chctl watch [TOPIC_PREFIX [COUNT]]   (events from --pub; COUNT 0: "
               "until stopped)\n");
}

int chctl_watch(int argc, char **argv)
{
    int rc = chctl_plain_args("chctl watch", argc, argv, watch_usage);
    if (rc >= 0)
        return rc;
    if (argc - optind > 2) {
        watch_usage(stderr);
        return CH_CLI_USAGE;
    }
    const char *prefix = optind < argc ? argv[optind] : "";
    long count = 0;
    if (optind + 1 < argc &&
        !ch_cli_long("chctl watch", "COUNT", argv[optind + 1], 0, 1000000000L, &count))
        return CH_CLI_USAGE;
    ch_sub *s;
    int rv = ch_sub_open(g_pub, prefix, &s);
    if (rv != 0) {
        fprintf(stderr, "chctl watch: %s: %s\n", g_pub, ch_client_strerror(rv));
        return 3;
    }
    for (long n = 0; count == 0 || n < count;) {
        char *ev;
        size_t len;
        rv = ch_sub_recv(s, 1000, &ev, &len);
        if (rv != 0)
            continue; /* timeouts: keep waiting */
        puts(ev);
        fflush(stdout);
        ch_client_free(ev);
        n++;
    }
    ch_sub_close(s);
    return 0;
}
