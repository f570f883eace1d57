/*
 * cluster.c - `chctl cluster status --nats URL --shard NAME [--json]`: what
 * a shard's replicated batch log holds (ch/replog.h), read from JetStream
 * without writing: messages and bytes, the last sequence, the newest term
 * and the primary it names, the next command, the stream's replicas, its
 * leader and how far the replicas lag. `chctl cluster map --nats URL`: the
 * shard directory (CH_DIRECTORY) as a shard map for clients (--shards):
 * each shard's underlyings and endpoints, its primary first. Exit 0; 1 if
 * the stream or the directory cannot be read (the reason on stderr); 2 for
 * a usage error.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/cli.h"
#include "ch/replog.h"
#include "chctl.h"

static void cluster_usage(FILE *f)
{
    fprintf(f, "usage: chctl cluster status --nats URL [--shard NAME] [--json]\n"
               "       chctl cluster map --nats URL\n"
               "  status: the shard's replicated batch log (JetStream stream CH_<SHARD>), read\n"
               "  only; --shard defaults to main. map: the shard directory as a shard map\n"
               "  (JSON, for --shards and ch_client_open_shards)\n");
}

/* The directory's entries into a shard map: {"shards": [...]} by name. */
typedef struct map_ctx {
    cJSON *shards; /* name -> {"name", "underlyings", "endpoints"} */
} map_ctx;

static cJSON *shard_of(map_ctx *m, const char *name)
{
    cJSON *sh = cJSON_GetObjectItemCaseSensitive(m->shards, name);
    if (sh == NULL) {
        sh = cJSON_AddObjectToObject(m->shards, name);
        cJSON_AddStringToObject(sh, "name", name);
        cJSON_AddArrayToObject(sh, "underlyings");
        cJSON_AddArrayToObject(sh, "endpoints");
    }
    return sh;
}

static void add_unique(cJSON *arr, const char *v, bool first)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, v) == 0)
            return;
    }
    if (first)
        cJSON_InsertItemInArray(arr, 0, cJSON_CreateString(v));
    else
        cJSON_AddItemToArray(arr, cJSON_CreateString(v));
}

static void on_entry(void *ctx, const char *key, const char *value)
{
    map_ctx *m = ctx;
    char name[64];
    if (strncmp(key, "und.", 4) == 0) {
        add_unique(cJSON_GetObjectItemCaseSensitive(shard_of(m, value), "underlyings"), key + 4,
                   false);
    } else if (strncmp(key, "primary.", 8) == 0) {
        snprintf(name, sizeof name, "%s", key + 8);
        cJSON *eps = cJSON_GetObjectItemCaseSensitive(shard_of(m, name), "endpoints");
        for (int i = 0; i < cJSON_GetArraySize(eps); i++) /* the primary goes first */
            if (strcmp(cJSON_GetArrayItem(eps, i)->valuestring, value) == 0) {
                cJSON_DeleteItemFromArray(eps, i);
                break;
            }
        add_unique(eps, value, true);
    } else if (strncmp(key, "member.", 7) == 0) {
        snprintf(name, sizeof name, "%.*s", (int)strcspn(key + 7, "."), key + 7);
        char role[16], url[512];
        if (sscanf(value, "%15s %511s", role, url) == 2) {
            /* after the primary (if known), in the directory's order */
            add_unique(cJSON_GetObjectItemCaseSensitive(shard_of(m, name), "endpoints"), url,
                       false);
        }
    }
}

static int cluster_map(const char *nats)
{
    ch_replog_config rc = {
        .url = nats, .shard = "directory", .replicas = 1, .timeout_ms = 3000, .no_stream = true};
    ch_replog *r;
    char err[512];
    ch_err e = ch_replog_open(&rc, &r, err, sizeof err);
    if (e != CH_OK) {
        fprintf(stderr, "chctl cluster map: %s\n", err);
        return 1;
    }
    map_ctx m = {cJSON_CreateObject()};
    e = ch_replog_directory_list(r, on_entry, &m);
    if (e != CH_OK) {
        fprintf(stderr, "chctl cluster map: %s\n", ch_replog_error(r));
        ch_replog_close(r);
        cJSON_Delete(m.shards);
        return 1;
    }
    ch_replog_close(r);
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "shards");
    cJSON *sh;
    cJSON_ArrayForEach(sh, m.shards)
    {
        cJSON_AddItemToArray(arr, cJSON_Duplicate(sh, 1));
    }
    char *text = cJSON_Print(out);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(out);
    cJSON_Delete(m.shards);
    return text != NULL ? 0 : 1;
}

int chctl_cluster(int argc, char **argv)
{
    enum { O_NATS = 256, O_SHARD, O_JSON };
    static const struct option lo[] = {{"nats", required_argument, NULL, O_NATS},
                                       {"shard", required_argument, NULL, O_SHARD},
                                       {"json", no_argument, NULL, O_JSON},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int c;
    if (argc >= 2 && strcmp(argv[1], "map") == 0) {
        const char *nats = NULL;
        ch_cli_reset();
        argc--;
        argv++;
        while ((c = ch_cli_next("chctl cluster map", argc, argv, "h", lo)) != -1) {
            if (c == O_NATS) {
                nats = optarg;
            } else if (c == 'h') {
                cluster_usage(stdout);
                return 0;
            } else {
                return CH_CLI_USAGE;
            }
        }
        if (!ch_cli_no_operands("chctl cluster map", argc, argv))
            return CH_CLI_USAGE;
        if (nats == NULL) {
            fprintf(stderr, "chctl cluster map: missing --nats URL\n");
            return CH_CLI_USAGE;
        }
        return cluster_map(nats);
    }
    if (argc < 2 || strcmp(argv[1], "status") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            cluster_usage(stdout);
            return 0;
        }
        fprintf(stderr, "chctl cluster: expected `status` or `map`\n");
        cluster_usage(stderr);
        return CH_CLI_USAGE;
    }
    const char *nats = NULL, *shard = "main";
    bool json = false;
    ch_cli_reset();
    argc--;
    argv++;
    while ((c = ch_cli_next("chctl cluster status", argc, argv, "h", lo)) != -1) {
        if (c == O_NATS)
            nats = optarg;
        else if (c == O_SHARD)
            shard = optarg;
        else if (c == O_JSON)
            json = true;
        else if (c == 'h') {
            cluster_usage(stdout);
            return 0;
        } else
            return CH_CLI_USAGE;
    }
    if (!ch_cli_no_operands("chctl cluster status", argc, argv))
        return CH_CLI_USAGE;
    if (nats == NULL) {
        fprintf(stderr, "chctl cluster status: missing --nats URL\n");
        return CH_CLI_USAGE;
    }
    ch_replog_config rc = {
        .url = nats, .shard = shard, .replicas = 1, .timeout_ms = 3000, .no_create = true};
    ch_replog *r;
    char err[512];
    ch_err e = ch_replog_open(&rc, &r, err, sizeof err);
    if (e != CH_OK) {
        fprintf(stderr, "chctl cluster status: %s\n",
                e == CH_ENOTFOUND ? "no such shard (no stream CH_<SHARD> on these servers)" : err);
        return 1;
    }
    ch_replog_status st;
    e = ch_replog_status_get(r, &st);
    if (e != CH_OK) {
        fprintf(stderr, "chctl cluster status: %s\n", ch_replog_error(r));
        ch_replog_close(r);
        return 1;
    }
    ch_replog_close(r);
    if (json) {
        printf("{\"shard\":\"%s\",\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"term\":%" PRIu64
               ",\"primary\":\"%s\",\"next_command\":%" PRIu64
               ",\"replicas\":%d,\"leader\":\"%s\",\"current_replicas\":%d,\"max_lag\":%" PRIu64
               "}\n",
               shard, st.messages, st.bytes, st.first_seq, st.last_seq, st.term, st.primary,
               st.next_cmd, st.replicas, st.leader, st.current, st.max_lag);
        return 0;
    }
    printf(
        "shard            %s\nmessages         %" PRIu64 "\nbytes            %" PRIu64
        "\nlast_seq         %" PRIu64 "\nterm             %" PRIu64
        "\nprimary          %s\nnext_command     %" PRIu64
        "\nreplicas         %d\nleader           %s\ncurrent_replicas %d\nmax_lag          %" PRIu64
        "\n",
        shard, st.messages, st.bytes, st.last_seq, st.term, st.primary[0] ? st.primary : "(none)",
        st.next_cmd, st.replicas, st.leader[0] ? st.leader : "(single server)", st.current,
        st.max_lag);
    return 0;
}
