/*
 * chvenue - a mock perpetual-swap venue for the external hedge adapter: a REP
 * server that executes hedge orders with the simulated venue's rules (taker
 * fee, market impact around the mark the order carries) and answers
 * {"op":"stats"} with what it executed.
 *
 * Orders are idempotent by id: a repeat gets the original reply. Fault
 * injection for tests: --drop N executes the first N orders but does not
 * reply (lost replies), --reject N refuses the first N requests, --delay-ms D
 * waits before every reply.
 *
 * Usage: chvenue --listen URL [--fee-bps F] [--depth D] [--drop N]
 *                [--reject N] [--delay-ms D]
 * Stops on SIGINT/SIGTERM.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch/hedge.h"
#include "ch/log.h"

#define MAX_ORDERS 100000

typedef struct done {
    char id[32];
    char reply[256];
} done;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void reply(nng_socket s, const char *text)
{
    nng_send(s, (void *)(uintptr_t)text, strlen(text), 0);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    ch_perp_venue v;
    ch_perp_venue_defaults(&v);
    long drop = 0, reject = 0, delay_ms = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--fee-bps") == 0 && i + 1 < argc)
            v.taker_fee_bps = atof(argv[++i]);
        else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc)
            v.depth = atof(argv[++i]);
        else if (strcmp(argv[i], "--drop") == 0 && i + 1 < argc)
            drop = atol(argv[++i]);
        else if (strcmp(argv[i], "--reject") == 0 && i + 1 < argc)
            reject = atol(argv[++i]);
        else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
            delay_ms = atol(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: chvenue --listen URL [--fee-bps F] [--depth D] [--drop N] "
                    "[--reject N] [--delay-ms D]\n");
            return 2;
        }
    }
    if (url == NULL) {
        fprintf(stderr, "chvenue: --listen URL is required\n");
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    nng_socket s;
    int rv;
    if ((rv = nng_rep0_open(&s)) != 0 || (rv = nng_listen(s, url, NULL, 0)) != 0) {
        CH_LOG(CH_LOG_ERROR, "venue_listen_failed", "url=%s err=\"%s\"", url, nng_strerror(rv));
        return 1;
    }
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 100);
    done *book = calloc(MAX_ORDERS, sizeof *book);
    size_t n_done = 0;
    long requests = 0, executed = 0;
    double qty_total = 0;
    CH_LOG(CH_LOG_INFO, "venue_start", "url=%s fee_bps=%g depth=%g drop=%ld reject=%ld delay_ms=%ld",
           url, v.taker_fee_bps, v.depth, drop, reject, delay_ms);
    while (!g_stop) {
        char *buf = NULL;
        size_t sz = 0;
        if (nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC) != 0)
            continue;
        cJSON *j = cJSON_ParseWithLength(buf, sz);
        nng_free(buf, sz);
        if (delay_ms > 0) {
            struct timespec ts = {.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        const cJSON *op = j ? cJSON_GetObjectItemCaseSensitive(j, "op") : NULL;
        if (!cJSON_IsString(op)) {
            reply(s, "{\"ok\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"not a "
                     "request\"}}");
            cJSON_Delete(j);
            continue;
        }
        if (strcmp(op->valuestring, "stats") == 0) {
            char out[160];
            snprintf(out, sizeof out,
                     "{\"ok\":true,\"requests\":%ld,\"executed\":%ld,\"qty\":%.17g}", requests,
                     executed, qty_total);
            reply(s, out);
            cJSON_Delete(j);
            continue;
        }
        requests++;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "qty");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "mark");
        if (strcmp(op->valuestring, "hedge") != 0 || !cJSON_IsString(id) ||
            strlen(id->valuestring) >= 32 || !cJSON_IsNumber(q) || !cJSON_IsNumber(m)) {
            reply(s, "{\"ok\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"bad "
                     "hedge order\"}}");
            cJSON_Delete(j);
            continue;
        }
        size_t k = 0;
        while (k < n_done && strcmp(book[k].id, id->valuestring) != 0)
            k++;
        if (k < n_done) { /* a repeat: the original answer, never a second execution */
            reply(s, book[k].reply);
            cJSON_Delete(j);
            continue;
        }
        if (reject > 0) {
            reject--;
            char out[200];
            snprintf(out, sizeof out,
                     "{\"ok\":false,\"id\":\"%s\",\"error\":{\"code\":\"REJECTED\",\"message\":"
                     "\"venue busy\"}}",
                     id->valuestring);
            reply(s, out);
            cJSON_Delete(j);
            continue;
        }
        ch_hedge_exec x;
        if (ch_perp_execute(&v, m->valuedouble, q->valuedouble, &x) != CH_OK ||
            n_done == MAX_ORDERS) {
            char out[200];
            snprintf(out, sizeof out,
                     "{\"ok\":false,\"id\":\"%s\",\"error\":{\"code\":\"REJECTED\",\"message\":"
                     "\"invalid order\"}}",
                     id->valuestring);
            reply(s, out);
            cJSON_Delete(j);
            continue;
        }
        executed++;
        qty_total += fabs(x.qty);
        done *d = &book[n_done++];
        snprintf(d->id, sizeof d->id, "%s", id->valuestring);
        snprintf(d->reply, sizeof d->reply,
                 "{\"ok\":true,\"id\":\"%s\",\"qty\":%.17g,\"price\":%.17g,\"fee\":%.17g,"
                 "\"slippage\":%.17g}",
                 id->valuestring, x.qty, x.price, x.fee, x.slippage);
        cJSON_Delete(j);
        if (drop > 0) { /* executed, reply lost */
            drop--;
            continue;
        }
        reply(s, d->reply);
    }
    CH_LOG(CH_LOG_INFO, "venue_stop", "requests=%ld executed=%ld qty=%g", requests, executed,
           qty_total);
    nng_close(s);
    free(book);
    return 0;
}
