/*
 * shards.c - a client over several shards (ch_client_open_shards): a map
 * file names each shard's underlyings and its chd endpoints (a primary and
 * its standbys, in any order):
 *
 *   {"shards": [{"name": "btc", "underlyings": ["BTC"],
 *                "endpoints": ["tcp://127.0.0.1:7450", "tcp://127.0.0.1:7460"]},
 *               {"name": "eth", "underlyings": ["ETH"], "endpoints": [...]}]}
 *
 * Each JSON request goes to the shard of its underlying: its "underlying",
 * else the underlying of its "symbol" (the text before the first '-'), else
 * of its first order's symbol (order.batch); a request that names none (an
 * account's positions, stats, hello) goes to the shard chosen with
 * ch_client_set_shard(), the first by default, and binary requests too: an
 * account holds cash per shard, and per shard it is asked.
 *
 * Failing over: a reply NOT_PRIMARY (the endpoint is a standby or was
 * fenced: the request was not stored) is resent to the shard's next
 * endpoint, and so is a request that got no reply (the endpoint died) or
 * UNAVAILABLE when resending it is safe: a read, or a write that carries a
 * client_order_id (the shard answers a repeat with the first result).
 * Endpoints are tried in turn until a reply that is none of these, or
 * failover_ms (10 s by default, covering the lease's lapse) has passed.
 */
#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch/client.h"
#include "ch/proto_msg.h"
#include "internal.h"

#define MAX_SHARDS    16
#define MAX_ENDPOINTS 8
#define MAX_UNDS      16

typedef struct shard {
    char name[32];
    char und[MAX_UNDS][16];
    size_t n_und;
    char url[MAX_ENDPOINTS][256];
    size_t n_url;
    size_t at; /* the endpoint in use */
    bool open; /* s is dialed to url[at] */
    nng_socket s;
} shard;

struct ch_shards {
    shard sh[MAX_SHARDS];
    size_t n;
    size_t chosen; /* for requests that name no underlying */
    int timeout_ms, failover_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ch_shards_close(struct ch_shards *m)
{
    for (size_t i = 0; m != NULL && i < m->n; i++)
        if (m->sh[i].open)
            nng_close(m->sh[i].s);
    free(m);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t n = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        if (sz >= 0 && sz < (1 << 20) && fseek(f, 0, SEEK_SET) == 0 &&
            (buf = malloc((size_t)sz + 1)) != NULL) {
            n = fread(buf, 1, (size_t)sz, f);
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/* The map file into m: CH_OK, or CH_EBADCONFIG with the reason in msg. */
static ch_err parse_map(struct ch_shards *m, const char *text, char *msg, size_t cap)
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "shards");
    ch_err e = CH_OK;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
        cJSON_GetArraySize(arr) > MAX_SHARDS) {
        snprintf(msg, cap, "expected {\"shards\": [1 to %d objects]}", MAX_SHARDS);
        e = CH_EBADCONFIG;
    }
    const cJSON *it;
    const cJSON *list = e == CH_OK ? arr : (const cJSON *)NULL;
    cJSON_ArrayForEach(it, list)
    {
        shard *sh = &m->sh[m->n++];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *unds = cJSON_GetObjectItemCaseSensitive(it, "underlyings");
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(it, "endpoints");
        if (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof sh->name ||
            !cJSON_IsArray(unds) || cJSON_GetArraySize(unds) > MAX_UNDS || !cJSON_IsArray(eps) ||
            cJSON_GetArraySize(eps) < 1 || cJSON_GetArraySize(eps) > MAX_ENDPOINTS) {
            snprintf(msg, cap,
                     "shard %zu: expected name, underlyings (up to %d) and endpoints (1 to %d)",
                     m->n, MAX_UNDS, MAX_ENDPOINTS);
            e = CH_EBADCONFIG;
            break;
        }
        snprintf(sh->name, sizeof sh->name, "%s", name->valuestring);
        const cJSON *u;
        cJSON_ArrayForEach(u, unds)
        {
            if (!cJSON_IsString(u) || strlen(u->valuestring) >= sizeof sh->und[0]) {
                snprintf(msg, cap, "shard %s: an underlying is not a short string", sh->name);
                e = CH_EBADCONFIG;
                break;
            }
            snprintf(sh->und[sh->n_und++], sizeof sh->und[0], "%s", u->valuestring);
        }
        const cJSON *eplist = e == CH_OK ? eps : (const cJSON *)NULL;
        cJSON_ArrayForEach(u, eplist)
        {
            if (!cJSON_IsString(u) || strlen(u->valuestring) >= sizeof sh->url[0]) {
                snprintf(msg, cap, "shard %s: an endpoint is not a URL string", sh->name);
                e = CH_EBADCONFIG;
                break;
            }
            snprintf(sh->url[sh->n_url++], sizeof sh->url[0], "%s", u->valuestring);
        }
        if (e != CH_OK)
            break;
    }
    cJSON_Delete(root);
    return e;
}

ch_err ch_client_open_shards(const char *map_path, int timeout_ms, ch_client **out, char *msg,
                             size_t cap)
{
    *out = NULL;
    char *text = read_file(map_path);
    if (text == NULL) {
        snprintf(msg, cap, "%s: cannot read the shard map", map_path);
        return CH_EIO;
    }
    struct ch_shards *m = calloc(1, sizeof *m);
    ch_client *c = calloc(1, sizeof *c);
    ch_err e = m != NULL && c != NULL ? parse_map(m, text, msg, cap) : CH_ENOMEM;
    free(text);
    if (e != CH_OK) {
        if (e == CH_ENOMEM)
            snprintf(msg, cap, "out of memory");
        free(m);
        free(c);
        return e;
    }
    m->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    m->failover_ms = 10000;
    c->shards = m;
    *out = c;
    return CH_OK;
}

ch_err ch_client_set_shard(ch_client *c, const char *name_or_underlying)
{
    struct ch_shards *m = c->shards;
    if (m == NULL)
        return CH_EINVAL;
    for (size_t i = 0; i < m->n; i++) {
        bool match = strcmp(m->sh[i].name, name_or_underlying) == 0;
        for (size_t k = 0; !match && k < m->sh[i].n_und; k++)
            match = strcmp(m->sh[i].und[k], name_or_underlying) == 0;
        if (match) {
            m->chosen = i;
            return CH_OK;
        }
    }
    return CH_ENOTFOUND;
}

/* The shard of request @p j (its parsed JSON; NULL: binary), see the top of
 * the file. */
static size_t route(const struct ch_shards *m, const cJSON *j)
{
    if (j == NULL)
        return m->chosen; /* binary */
    char und[16] = "";
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "underlying");
    const cJSON *sym = cJSON_GetObjectItemCaseSensitive(j, "symbol");
    const cJSON *orders = cJSON_GetObjectItemCaseSensitive(j, "orders");
    if (!cJSON_IsString(sym) && cJSON_IsArray(orders))
        sym = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(orders, 0), "symbol");
    if (cJSON_IsString(u))
        snprintf(und, sizeof und, "%s", u->valuestring);
    else if (cJSON_IsString(sym))
        snprintf(und, sizeof und, "%.*s", (int)strcspn(sym->valuestring, "-"), sym->valuestring);
    for (size_t i = 0; und[0] != '\0' && i < m->n; i++)
        for (size_t k = 0; k < m->sh[i].n_und; k++)
            if (strcmp(m->sh[i].und[k], und) == 0)
                return i;
    return m->chosen;
}

/* Whether resending request @p j (NULL: binary) after no reply or
 * UNAVAILABLE is safe. */
static bool safe_to_resend(const cJSON *j)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
    const ch_msg *mm = cJSON_IsString(op) ? ch_msg_find(op->valuestring) : NULL;
    return mm != NULL && (!mm->mutating ||
                          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "client_order_id")));
}

static int dial(shard *sh, int timeout_ms)
{
    if (sh->open)
        return 0;
    int rv = nng_req0_open(&sh->s);
    if (rv != 0)
        return rv;
    ch_tune_req(sh->s, timeout_ms);
    if ((rv = ch_dial(sh->s, sh->url[sh->at])) != 0) {
        nng_close(sh->s);
        return rv;
    }
    sh->open = true;
    return 0;
}

/* The next endpoint of the shard: the current connection is dropped. */
static void rotate(shard *sh)
{
    if (sh->open)
        nng_close(sh->s);
    sh->open = false;
    sh->at = (sh->at + 1) % sh->n_url;
}

int ch_shards_call(ch_client *c, const char *request, size_t len, char **reply, size_t *rlen)
{
    struct ch_shards *m = c->shards;
    /* parsed once: where it goes, and whether a second copy is harmless */
    cJSON *j = len > 0 && request[0] == '{' ? cJSON_ParseWithLength(request, len) : NULL;
    shard *sh = &m->sh[route(m, j)];
    bool resend_ok = safe_to_resend(j);
    cJSON_Delete(j);
    int64_t deadline = now_ms() + m->failover_ms;
    int rv = NNG_ETIMEDOUT;
    for (;;) {
        bool sent = false;
        rv = dial(sh, m->timeout_ms);
        if (rv == 0) {
            c->s = sh->s; /* for what reads the client's socket */
            rv = nng_send(sh->s, (void *)(uintptr_t)request, len, 0);
            sent = rv == 0;
            if (rv == 0)
                rv = ch_recv_copy(sh->s, reply, rlen);
        }
        bool again;
        if (rv == 0) {
            const char *r = *reply;
            bool not_primary = strstr(r, "\"code\":\"NOT_PRIMARY\"") != NULL;
            bool unavailable = strstr(r, "\"code\":\"UNAVAILABLE\"") != NULL;
            again = not_primary || (unavailable && resend_ok);
            if (!again)
                return 0;
            if (not_primary) /* a standby or a fenced primary: the next endpoint */
                rotate(sh);
        } else {
            /* not sent (no server there): always again; sent and no reply:
             * only if a second copy is harmless */
            again = !sent || resend_ok;
            rotate(sh);
        }
        if (!again || now_ms() >= deadline)
            return rv;
        if (rv == 0) { /* the last reply stays the answer if time runs out */
            if (now_ms() + 50 >= deadline)
                return 0;
            ch_client_free(*reply);
            *reply = NULL;
        }
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    }
}
