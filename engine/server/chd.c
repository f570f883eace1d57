/*
 * chd - the clearinghouse daemon (see ch/server.h and PROTOCOL.md).
 *
 * Usage: chd [--req URL] [--pub URL] [--data DIR] [--config FILE]
 *            [--durability sync|nosync] [--no-auth] [--tls PEM] [--contexts N]
 *            [--log-level error|warn|info|debug] [--hedge-venue URL] [--cluster NATS]
 *            [--clock wall|TIME]
 *        chd [--config FILE]... [flags] --print-config
 *        chd --config-doc | --help | --version
 * Options are read with getopt_long: "--opt value" or "--opt=value"; an
 * unknown option, a missing value or a bad value (named with the option) is
 * an error (exit 2). Every --config FILE is loaded first, in order, so that
 * the other flags override it wherever they stand.
 * Runs until SIGINT or SIGTERM, then finishes the batch in progress, commits
 * and exits 0. SIGHUP (a closed terminal, or a habit of reloading daemons
 * with it) does not stop it: the configuration is read at start only, so it
 * is logged and otherwise ignored. Logs are key=value lines on stderr.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ch/cli.h"
#include "ch/log.h"
#include "ch/server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chd [--req URL] [--pub URL] [--data DIR] [--config FILE]\n"
            "           [--durability sync|nosync] [--no-auth] [--tls PEM] [--contexts N]\n"
            "           [--log-level error|warn|info|debug] [--hedge-venue URL] [--cluster NATS]\n"
            "           [--clock wall|TIME]\n"
            "       chd [--config FILE]... [flags] --print-config\n"
            "       chd --config-doc | --help | --version\n"
            "defaults: --req tcp://127.0.0.1:7450 --pub tcp://127.0.0.1:7451 --data ./var\n"
            "--config FILE: a JSON configuration, read first (the flags override it)\n"
            "--contexts N: requests in flight, 1..4096 (default 64)\n"
            "--tls PEM: certificate and key for tls+tcp:// URLs (clients: CH_TLS_CA)\n"
            "--hedge-venue URL: send hedge orders to an external venue (e.g. chvenue)\n"
            "                   instead of the simulated one\n"
            "--cluster NATS: append every batch to the shard's JetStream stream first\n"
            "--clock TIME: a fixed clock from TIME (ISO-8601 UTC, 2026-01-02T08:00:00Z),\n"
            "              moved only by market.update's time: runs repeat exactly\n"
            "--print-config: print the effective configuration (JSON, every key) and exit\n"
            "--config-doc: print every configuration key (type, range, default, meaning)\n");
}

enum {
    O_REQ = 256,
    O_PUB,
    O_DATA,
    O_CONFIG,
    O_DURABILITY,
    O_NO_AUTH,
    O_TLS,
    O_CONTEXTS,
    O_LOG_LEVEL,
    O_HEDGE_VENUE,
    O_CLUSTER,
    O_CLOCK,
    O_VERSION,
    O_PRINT_CONFIG,
    O_CONFIG_DOC
};

static const struct option k_options[] = {
    {"req", required_argument, NULL, O_REQ},
    {"pub", required_argument, NULL, O_PUB},
    {"data", required_argument, NULL, O_DATA},
    {"config", required_argument, NULL, O_CONFIG},
    {"durability", required_argument, NULL, O_DURABILITY},
    {"no-auth", no_argument, NULL, O_NO_AUTH},
    {"tls", required_argument, NULL, O_TLS},
    {"contexts", required_argument, NULL, O_CONTEXTS},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"hedge-venue", required_argument, NULL, O_HEDGE_VENUE},
    {"cluster", required_argument, NULL, O_CLUSTER},
    {"clock", required_argument, NULL, O_CLOCK},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, O_VERSION},
    {"print-config", no_argument, NULL, O_PRINT_CONFIG},
    {"config-doc", no_argument, NULL, O_CONFIG_DOC},
    {NULL, 0, NULL, 0},
};

/* The flags as given (the last of each wins), applied over the config files. */
typedef struct flags {
    const char *req, *pub, *data, *tls, *hedge_venue, *cluster, *clock;
    bool no_auth, has_durability, print_config;
    ch_durability durability;
    long contexts; /* 0: not given */
} flags;

/* The size of a field of the server's config (for a flag's value). */
#define CAP(field) sizeof(((ch_server_config *)NULL)->field)

/* Read the command line into @p fl and @p configs: -1 to go on, else the exit
 * status (0 after --help or --version, 2 after an error, which is printed). */
static int parse(int argc, char **argv, flags *fl, const char **configs, int *n_configs)
{
    int c;
    while ((c = ch_cli_next("chd", argc, argv, "h", k_options)) != -1) {
        switch (c) {
        case O_REQ:
            if (!ch_cli_fits("chd", "--req", optarg, CAP(req_url)))
                return CH_CLI_USAGE;
            fl->req = optarg;
            break;
        case O_PUB:
            if (!ch_cli_fits("chd", "--pub", optarg, CAP(pub_url)))
                return CH_CLI_USAGE;
            fl->pub = optarg;
            break;
        case O_DATA:
            if (!ch_cli_fits("chd", "--data", optarg, CAP(data_dir)))
                return CH_CLI_USAGE;
            fl->data = optarg;
            break;
        case O_TLS:
            if (!ch_cli_fits("chd", "--tls", optarg, CAP(tls_cert_key)))
                return CH_CLI_USAGE;
            fl->tls = optarg;
            break;
        case O_HEDGE_VENUE:
            if (!ch_cli_fits("chd", "--hedge-venue", optarg, CAP(hedge_venue)))
                return CH_CLI_USAGE;
            fl->hedge_venue = optarg;
            break;
        case O_CLUSTER:
            if (!ch_cli_fits("chd", "--cluster", optarg, CAP(cluster)))
                return CH_CLI_USAGE;
            fl->cluster = optarg;
            break;
        case O_CLOCK:
            if (!ch_cli_fits("chd", "--clock", optarg, 64))
                return CH_CLI_USAGE;
            fl->clock = optarg;
            break;
        case O_CONFIG:
            configs[(*n_configs)++] = optarg;
            break;
        case O_NO_AUTH:
            fl->no_auth = true;
            break;
        case O_DURABILITY:
            if (strcmp(optarg, "sync") != 0 && strcmp(optarg, "nosync") != 0) {
                fprintf(stderr, "chd: --durability: expected sync or nosync, not '%s'\n", optarg);
                return CH_CLI_USAGE;
            }
            fl->has_durability = true;
            fl->durability = optarg[0] == 's' ? CH_DURABLE_SYNC : CH_DURABLE_NOSYNC;
            break;
        case O_CONTEXTS:
            if (!ch_cli_long("chd", "--contexts", optarg, 1, 4096, &fl->contexts))
                return CH_CLI_USAGE;
            break;
        case O_LOG_LEVEL: {
            ch_log_level lv;
            if (!ch_log_parse_level(optarg, &lv)) {
                fprintf(stderr, "chd: --log-level: expected error, warn, info or debug, not '%s'\n",
                        optarg);
                return CH_CLI_USAGE;
            }
            ch_log_set_level(lv);
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            ch_cli_version("chd");
            return 0;
        case O_PRINT_CONFIG:
            fl->print_config = true;
            break;
        case O_CONFIG_DOC:
            ch_server_config_doc(stdout);
            return 0;
        default:
            return CH_CLI_USAGE;
        }
    }
    return ch_cli_no_operands("chd", argc, argv) ? -1 : CH_CLI_USAGE;
}

static void *shutdown_watchdog(void *arg)
{
    struct timespec ts = {.tv_sec = 10};
    nanosleep(&ts, NULL);
    CH_LOG(CH_LOG_ERROR, "shutdown_stuck",
           "reason=\"closing the sockets took over 10 s; the store was closed before\"");
    _exit(*(int *)arg);
}

typedef struct stopping {
    ch_server *s;
    int exit_code;
} stopping;

/* The store is closed and the engine thread joined: whether it halted can be
 * read now (1 if it did), then the watchdog starts. */
static void start_watchdog(void *arg)
{
    stopping *st = arg;
    st->exit_code = ch_server_halted(st->s) ? 1 : 0;
    pthread_t dog;
    if (pthread_create(&dog, NULL, shutdown_watchdog, &st->exit_code) == 0)
        pthread_detach(dog);
}

int main(int argc, char **argv)
{
    flags fl = {0};
    const char **configs = calloc((size_t)argc + 1, sizeof *configs);
    int n_configs = 0;
    if (configs == NULL) {
        fprintf(stderr, "chd: out of memory\n");
        return 1;
    }
    int rc = parse(argc, argv, &fl, configs, &n_configs);
    if (rc >= 0) {
        free(configs);
        return rc;
    }
    ch_server_config cfg;
    ch_server_defaults(&cfg);
    char err[512];
    /* the config files first, so that flags override them */
    for (int i = 0; i < n_configs; i++) {
        if (ch_server_config_load(&cfg, configs[i], err, sizeof err) != CH_OK) {
            CH_LOG(CH_LOG_ERROR, "config_error", "file=%s reason=\"%s\"", configs[i], err);
            fprintf(stderr, "chd: %s\n", err);
            free(configs);
            return 2;
        }
    }
    free(configs);
    if (fl.req != NULL)
        snprintf(cfg.req_url, sizeof cfg.req_url, "%s", fl.req);
    if (fl.pub != NULL)
        snprintf(cfg.pub_url, sizeof cfg.pub_url, "%s", fl.pub);
    if (fl.data != NULL)
        snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", fl.data);
    if (fl.tls != NULL)
        snprintf(cfg.tls_cert_key, sizeof cfg.tls_cert_key, "%s", fl.tls);
    if (fl.hedge_venue != NULL)
        snprintf(cfg.hedge_venue, sizeof cfg.hedge_venue, "%s", fl.hedge_venue);
    if (fl.cluster != NULL)
        snprintf(cfg.cluster, sizeof cfg.cluster, "%s", fl.cluster);
    if (fl.clock != NULL) { /* the config key's parser, so both read it alike */
        cJSON *j = cJSON_CreateObject();
        char *text = j != NULL && cJSON_AddStringToObject(j, "clock", fl.clock) != NULL
                         ? cJSON_PrintUnformatted(j)
                         : NULL;
        cJSON_Delete(j);
        ch_err e = text != NULL ? ch_server_config_parse(&cfg, text, strlen(text), err, sizeof err)
                                : CH_ENOMEM;
        cJSON_free(text);
        if (e != CH_OK) {
            fprintf(stderr, "chd: --clock: %s\n", e == CH_ENOMEM ? "out of memory" : err);
            return 2;
        }
    }
    if (fl.no_auth)
        cfg.no_auth = true;
    if (fl.has_durability)
        cfg.durability = fl.durability;
    if (fl.contexts > 0)
        cfg.contexts = (int)fl.contexts;
    if (fl.print_config) { /* the effective configuration, files and flags applied */
        ch_server_config_print(&cfg, stdout);
        return 0;
    }
    /* signals are taken by sigwait in this thread; every other thread
     * (NNG's, the engine's) inherits the blocked mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    ch_server *s = ch_server_start(&cfg, err, sizeof err);
    if (s == NULL) {
        CH_LOG(CH_LOG_ERROR, "start_failed", "reason=\"%s\"", err);
        fprintf(stderr, "chd: %s\n", err);
        return 1;
    }
    int sig = 0;
    while (sigwait(&set, &sig) != 0 || sig == SIGHUP) {
        if (sig == SIGHUP)
            CH_LOG(CH_LOG_WARN, "sighup_ignored",
                   "reason=\"the configuration is read at start only: restart chd to apply a "
                   "change\"");
        sig = 0;
    }
    CH_LOG(CH_LOG_INFO, "shutdown", "signal=%d", sig);
    /* once the store is committed and closed, a watchdog ends the process
     * if NNG then hangs closing a socket (1.5.2, a peer mid-exchange) */
    static stopping st;
    st.s = s;
    ch_server_stop_then(s, start_watchdog, &st);
    return st.exit_code;
}
