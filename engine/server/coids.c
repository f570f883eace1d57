/*
 * coids.c - client order ids: an order.new (JSON or binary) that repeats an
 * account's client_order_id gets the first order's reply and changes
 * nothing, however old the first one is. The index lives in the store
 * (written with the batch of the order, ch_store_put_coid), so memory does
 * not grow with history; a bounded cache in front of it holds the recent
 * ids in two generations of coid_cache / 2 entries each: when the current
 * one fills, the previous one is dropped and the current one takes its
 * place. A repeat missing from the cache is read from the store (which also
 * sees the batch not yet committed) and cached again.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

/* key's slot in g (its entry, or the empty slot it would take); NULL if g is empty */
static struct coid *slot(struct coid_gen *g, const char *key)
{
    if (g->cap == 0)
        return NULL;
    size_t m = g->cap - 1;
    for (size_t i = hash_str(key) & m;; i = (i + 1) & m)
        if (g->t[i].key == NULL || strcmp(g->t[i].key, key) == 0)
            return &g->t[i];
}

static void gen_free(struct coid_gen *g)
{
    for (size_t i = 0; i < g->cap; i++) {
        free(g->t[i].key);
        cJSON_Delete(g->t[i].result);
    }
    free(g->t);
    *g = (struct coid_gen){0};
}

/* Entries of one generation (half the cache, at least 1). */
static size_t gen_limit(const ch_server *s)
{
    return s->cfg.coid_cache / 2 > 0 ? s->cfg.coid_cache / 2 : 1;
}

/* Take result under key into the current generation (owning it); false: no memory. */
static bool cache(ch_server *s, const char *key, cJSON *result)
{
    struct coid_gen *g = &s->coid_cur;
    if (g->n >= gen_limit(s)) { /* rotate: the older generation goes */
        gen_free(&s->coid_old);
        s->coid_old = *g;
        *g = (struct coid_gen){0};
    }
    if (g->n * 2 >= g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 1024;
        struct coid *nt = calloc(nc, sizeof *nt);
        if (nt == NULL)
            return false;
        struct coid_gen ng = {.t = nt, .n = g->n, .cap = nc};
        for (size_t i = 0; i < g->cap; i++)
            if (g->t[i].key != NULL)
                *slot(&ng, g->t[i].key) = g->t[i];
        free(g->t);
        *g = ng;
    }
    struct coid *sl = slot(g, key);
    if (sl->key != NULL)
        return false; /* there already: the first reply stays */
    sl->key = strdup(key);
    if (sl->key == NULL)
        return false;
    sl->result = result;
    g->n++;
    return true;
}

const cJSON *chi_coid_find(ch_server *s, const char *key)
{
    struct coid *sl = slot(&s->coid_cur, key);
    if (sl != NULL && sl->key != NULL)
        return sl->result;
    sl = slot(&s->coid_old, key);
    if (sl != NULL && sl->key != NULL)
        return sl->result;
    char *text = NULL;
    if (ch_store_get_coid(s->st, key, &text) != CH_OK || text == NULL) {
        free(text);
        return NULL; /* (a store that cannot be read: served as a new order, as before) */
    }
    cJSON *r = cJSON_Parse(text);
    free(text);
    if (r == NULL)
        return NULL;
    s->coid_store_hits++;
    if (!cache(s, key, r)) {
        cJSON_Delete(r);
        return NULL;
    }
    return slot(&s->coid_cur, key)->result;
}

void chi_coid_put(ch_server *s, const char *key, const cJSON *result, bool log)
{
    if (log) {
        char *text = ch_json_print(result);
        if (text == NULL || ch_store_put_coid(s->st, key, text) != CH_OK) {
            /* not in the batch: the batch must not commit without it */
            s->halted = true;
        }
        free(text);
    }
    cJSON *copy = cJSON_Duplicate(result, 1);
    if (copy != NULL && !cache(s, key, copy))
        cJSON_Delete(copy);
}

void chi_coid_key(char *out, size_t cap, ch_account_id a, const char *coid)
{
    snprintf(out, cap, "%u\x1f%s", a.v, coid);
}

void chi_coids_clear(ch_server *s)
{
    gen_free(&s->coid_cur);
    gen_free(&s->coid_old);
}
