/*
 * cluster.c - chd on its shard's replicated batch log (config `cluster`,
 * ch/replog.h). At a start, after the store's replay: bind the stream,
 * check that it ends where the store ends, take the shard over (a term
 * marker: any earlier writer is fenced from then on), then hand the store a
 * replicator so that every batch (clients', hedging's, snapshots' none) is
 * appended to the stream before it is written and before its replies
 * leave. An append refused because another chd took over (10071) halts
 * intake with NOT_PRIMARY; one not acknowledged in time (no quorum, servers
 * down) halts it with UNAVAILABLE. Reads are served from the state as it was.
 *
 * Not here yet (issue 20): a standby following the stream, the lease and
 * directory in KeyValue, catching up a store behind the stream.
 */
#include "server_int.h"

#include <inttypes.h>

static ch_err replicate(void *ctx, uint64_t first, uint32_t n, const uint8_t *recs, size_t len)
{
    ch_server *s = ctx;
    ch_err e = ch_replog_append(s->replog, first, n, recs, len);
    if (e == CH_OK) {
        s->rep_batches++;
        return CH_OK;
    }
    s->rep_failures++;
    s->halt_code = e == CH_ENOT_PRIMARY ? CH_ENOT_PRIMARY : CH_EUNAVAILABLE;
    CH_LOG(CH_LOG_ERROR, e == CH_ENOT_PRIMARY ? "fenced" : "replication_failed",
           "first=%" PRIu64 " commands=%u reason=\"%s\"", first, n, ch_replog_error(s->replog));
    return s->halt_code;
}

bool chi_cluster_start(ch_server *s, char *err, size_t cap)
{
    if (s->cfg.cluster[0] == '\0')
        return true;
    ch_replog_config rc = {.url = s->cfg.cluster,
                           .shard = s->cfg.shard,
                           .replicas = s->cfg.cluster_replicas,
                           .timeout_ms = s->cfg.cluster_timeout_ms};
    char why[384];
    if (ch_replog_open(&rc, &s->replog, why, sizeof why) != CH_OK) {
        snprintf(err, cap, "cluster: %s", why);
        return false;
    }
    uint64_t local = ch_store_last_seq(s->st), next = ch_replog_next_cmd(s->replog);
    /* an empty stream starts after this store's history (a marker says where);
     * else it must end exactly where the store ends */
    if (next != 0 && next != local + 1) {
        snprintf(err, cap,
                 "cluster: shard %s's stream ends at command %" PRIu64 " and this store at %" PRIu64
                 ": %s",
                 s->cfg.shard, next - 1, local,
                 next - 1 > local ? "another chd wrote after this one (start this one from a copy "
                                    "of the primary's data folder; a standby that follows the "
                                    "stream is not implemented yet)"
                                  : "the stream lost commands this store holds (a stream "
                                    "recreated?): refusing to diverge");
        chi_cluster_stop(s);
        return false;
    }
    ch_err e = ch_replog_take_over(s->replog, local + 1, s->cfg.req_url);
    if (e != CH_OK) {
        snprintf(err, cap, "cluster: taking shard %s over failed: %s", s->cfg.shard,
                 ch_replog_error(s->replog));
        chi_cluster_stop(s);
        return false;
    }
    ch_store_set_replicator(s->st, replicate, s);
    CH_LOG(CH_LOG_INFO, "primary",
           "shard=%s term=%" PRIu64 " stream_seq=%" PRIu64 " next_command=%" PRIu64 " nats=%s",
           s->cfg.shard, ch_replog_term(s->replog), ch_replog_last(s->replog), local + 1,
           s->cfg.cluster);
    return true;
}

void chi_cluster_stop(ch_server *s)
{
    if (s->st != NULL)
        ch_store_set_replicator(s->st, NULL, NULL);
    ch_replog_close(s->replog);
    s->replog = NULL;
}

void chi_cluster_stats(ch_server *s, cJSON *out)
{
    if (s->replog == NULL)
        return;
    cJSON *c = cJSON_AddObjectToObject(out, "cluster");
    cJSON_AddStringToObject(c, "shard", s->cfg.shard);
    cJSON_AddStringToObject(c, "role", s->halt_code == CH_ENOT_PRIMARY ? "fenced" : "primary");
    cJSON_AddNumberToObject(c, "term", (double)ch_replog_term(s->replog));
    cJSON_AddNumberToObject(c, "stream_seq", (double)ch_replog_last(s->replog));
    cJSON_AddNumberToObject(c, "replicated_batches", (double)s->rep_batches);
    cJSON_AddNumberToObject(c, "replication_failures", (double)s->rep_failures);
}
