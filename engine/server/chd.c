/*
 * chd - the clearinghouse daemon (see ch/server.h and PROTOCOL.md).
 *
 * Usage: chd [--req URL] [--pub URL] [--data DIR] [--config FILE]
 *            [--durability sync|nosync] [--no-auth] [--tls PEM] [--contexts N]
 *            [--log-level error|warn|info|debug] [--hedge-venue URL]
 * Runs until SIGINT or SIGTERM, then finishes the batch in progress, commits
 * and exits 0. Logs are key=value lines on stderr.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/log.h"
#include "ch/server.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: chd [--req URL] [--pub URL] [--data DIR] [--config FILE]\n"
               "           [--durability sync|nosync] [--no-auth] [--tls PEM] [--contexts N]\n"
               "           [--log-level error|warn|info|debug] [--hedge-venue URL]\n"
               "defaults: --req tcp://127.0.0.1:7450 --pub tcp://127.0.0.1:7451 --data ./var\n"
               "--tls PEM: certificate and key for tls+tcp:// URLs (clients: CH_TLS_CA)\n"
               "--hedge-venue URL: send hedge orders to an external venue (e.g. chvenue)\n"
               "                   instead of the simulated one\n");
}

int main(int argc, char **argv)
{
    ch_server_config cfg;
    ch_server_defaults(&cfg);
    char err[512];
    /* the config file first, so that flags override it */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            if (ch_server_config_load(&cfg, argv[i + 1], err, sizeof err) != CH_OK) {
                CH_LOG(CH_LOG_ERROR, "config_error", "file=%s reason=\"%s\"", argv[i + 1], err);
                fprintf(stderr, "chd: %s\n", err);
                return 2;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--no-auth") == 0) {
            cfg.no_auth = true;
        } else if (v == NULL) {
            usage(stderr);
            return 2;
        } else if (strcmp(a, "--req") == 0 && strlen(v) < sizeof cfg.req_url) {
            snprintf(cfg.req_url, sizeof cfg.req_url, "%s", v);
            i++;
        } else if (strcmp(a, "--pub") == 0 && strlen(v) < sizeof cfg.pub_url) {
            snprintf(cfg.pub_url, sizeof cfg.pub_url, "%s", v);
            i++;
        } else if (strcmp(a, "--data") == 0 && strlen(v) < sizeof cfg.data_dir) {
            snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", v);
            i++;
        } else if (strcmp(a, "--tls") == 0 && strlen(v) < sizeof cfg.tls_cert_key) {
            snprintf(cfg.tls_cert_key, sizeof cfg.tls_cert_key, "%s", v);
            i++;
        } else if (strcmp(a, "--hedge-venue") == 0 && strlen(v) < sizeof cfg.hedge_venue) {
            snprintf(cfg.hedge_venue, sizeof cfg.hedge_venue, "%s", v);
            i++;
        } else if (strcmp(a, "--config") == 0) {
            i++;
        } else if (strcmp(a, "--durability") == 0 &&
                   (strcmp(v, "sync") == 0 || strcmp(v, "nosync") == 0)) {
            cfg.durability = v[0] == 's' ? CH_DURABLE_SYNC : CH_DURABLE_NOSYNC;
            i++;
        } else if (strcmp(a, "--contexts") == 0 && atoi(v) > 0 && atoi(v) <= 4096) {
            cfg.contexts = atoi(v);
            i++;
        } else if (strcmp(a, "--log-level") == 0) {
            ch_log_level lv;
            if (!ch_log_parse_level(v, &lv)) {
                usage(stderr);
                return 2;
            }
            ch_log_set_level(lv);
            i++;
        } else {
            fprintf(stderr, "chd: unknown or bad option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    /* signals are taken by sigwait in this thread; every other thread
     * (NNG's, the engine's) inherits the blocked mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    ch_server *s = ch_server_start(&cfg, err, sizeof err);
    if (s == NULL) {
        CH_LOG(CH_LOG_ERROR, "start_failed", "reason=\"%s\"", err);
        fprintf(stderr, "chd: %s\n", err);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    CH_LOG(CH_LOG_INFO, "shutdown", "signal=%d", sig);
    bool halted = ch_server_halted(s);
    ch_server_stop(s);
    return halted ? 1 : 0;
}
