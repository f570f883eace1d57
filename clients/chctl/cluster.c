/*
 * cluster.c - `chctl cluster status --nats URL --shard NAME [--json]`: what
 * a shard's replicated batch log holds (ch/replog.h), read from JetStream
 * without writing: messages and bytes, the last sequence, the newest term
 * and the primary it names, the next command, the stream's replicas, its
 * leader and how far the replicas lag. Exit 0; 1 if the stream cannot be
 * read (the reason on stderr); 2 for a usage error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ch/cli.h"
#include "ch/replog.h"
#include "chctl.h"

static void cluster_usage(FILE *f)
{
    fprintf(f, "usage: chctl cluster status --nats URL [--shard NAME] [--json]\n"
               "  the shard's replicated batch log (JetStream stream CH_<SHARD>), read only;\n"
               "  --shard defaults to main\n");
}

int chctl_cluster(int argc, char **argv)
{
    enum { O_NATS = 256, O_SHARD, O_JSON };
    static const struct option lo[] = {{"nats", required_argument, NULL, O_NATS},
                                       {"shard", required_argument, NULL, O_SHARD},
                                       {"json", no_argument, NULL, O_JSON},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    if (argc < 2 || strcmp(argv[1], "status") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            cluster_usage(stdout);
            return 0;
        }
        fprintf(stderr, "chctl cluster: expected `status`\n");
        cluster_usage(stderr);
        return CH_CLI_USAGE;
    }
    const char *nats = NULL, *shard = "main";
    bool json = false;
    int c;
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
