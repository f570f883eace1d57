/*
 * commands.c - the command path: apply a command to the engine and log it
 * for the batch's commit; the index of client order ids (their first
 * result per account, rebuilt from the log at start).
 */
#include "server_int.h"
#include <stdio.h>
#include <stdlib.h>

/* ---- commands ------------------------------------------------------------ */

/* Apply a command and log it (the batch is committed later). */
ch_err chi_exec(ch_server *s, const ch_command *c, ch_command_result *r)
{
    if (s->halted)
        return CH_EUNAVAILABLE;
    ch_err e = ch_command_apply(s->e, c, r);
    if (e == CH_ENOMEM) /* changed nothing, and a replay with memory would not fail it */
        return e;
    if (ch_store_log(s->st, c, &s->last_cmd_seq) != CH_OK) {
        s->halted = true;
        return CH_EUNAVAILABLE;
    }
    return e;
}

ch_err chi_exec_collect(ch_server *s, const ch_command *c, ch_command_result *r, chi_collect *k)
{
    s->collect = k;
    ch_err e = chi_exec(s, c, r);
    s->collect = NULL;
    return e;
}

/* ---- client order ids ------------------------------------------------------- */

static uint64_t hash_str(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

struct coid *chi_coid_slot(ch_server *s, const char *key)
{
    if (s->cap_coids == 0)
        return NULL;
    size_t m = s->cap_coids - 1;
    for (size_t i = hash_str(key) & m;; i = (i + 1) & m)
        if (s->coids[i].key == NULL || strcmp(s->coids[i].key, key) == 0)
            return &s->coids[i];
}

void chi_coid_put(ch_server *s, const char *key, const cJSON *result)
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
                *chi_coid_slot(s, old[i].key) = old[i];
        free(old);
    }
    struct coid *sl = chi_coid_slot(s, key);
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

void chi_coid_key(char *out, size_t cap, ch_account_id a, const char *coid)
{
    snprintf(out, cap, "%u\x1f%s", a.v, coid);
}

void chi_coids_clear(ch_server *s)
{
    for (size_t i = 0; i < s->cap_coids; i++) {
        free(s->coids[i].key);
        cJSON_Delete(s->coids[i].result);
        s->coids[i].key = NULL;
        s->coids[i].result = NULL;
    }
    s->n_coids = 0;
}
