/*
 * chvenue - a mock venue for the external hedge adapter: a REP server that
 * executes perpetual hedge orders ("hedge") with the simulated venue's rules
 * (taker fee, market impact around the mark the order carries) and option
 * orders of the vega policy ("option") with the simulated options venue's
 * (the mark +/- a vol spread x vega, a fee of a share of the index capped at
 * a share of the premium, at most --option-depth contracts an order), and
 * answers {"op":"stats"} with what it executed.
 *
 * Orders are idempotent by id: a repeat gets the original reply. Fault
 * injection for tests: --drop N executes the first N orders but does not
 * reply (lost replies), --reject N refuses the first N requests, --delay-ms D
 * waits before every reply.
 *
 * Usage: chvenue --listen URL [--fee-bps F] [--depth D] [--vol-spread V]
 *                [--option-fee F] [--option-depth N] [--drop N] [--reject N]
 *                [--delay-ms D]
 *        chvenue --help | --version
 * (getopt_long: "--opt value" or "--opt=value"; an unknown option or a bad
 * value is an error naming it, exit 2). Stops on SIGINT/SIGTERM.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch/cli.h"
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

static void usage(FILE *f)
{
    fprintf(f, "usage: chvenue --listen URL [--fee-bps F] [--depth D] [--vol-spread V]\n"
               "               [--option-fee F] [--option-depth N] [--drop N] [--reject N]\n"
               "               [--delay-ms D]\n"
               "       chvenue --help | --version\n"
               "--fee-bps F: taker fee (default 5); --depth D: units for the linear impact\n"
               "(default 50000; 0: none); options: --vol-spread V each side in vol (0.005),\n"
               "--option-fee F of index x contract size (0.0003, capped at 12.5 %% of the\n"
               "premium), --option-depth N contracts an order at most (0: no limit); faults:\n"
               "--drop N executes the first N orders without replying, --reject N refuses the\n"
               "first N, --delay-ms D waits before each reply\n");
}

enum {
    O_LISTEN = 256,
    O_FEE_BPS,
    O_DEPTH,
    O_VOL_SPREAD,
    O_OPTION_FEE,
    O_OPTION_DEPTH,
    O_DROP,
    O_REJECT,
    O_DELAY_MS,
    O_VERSION
};

/* The options side of the venue. */
typedef struct opt_side {
    ch_option_venue v;
    long depth; /* contracts an order at most (0: no limit) */
} opt_side;

/* Read the command line: -1 to run, else the exit status. */
static int parse(int argc, char **argv, const char **url, ch_perp_venue *v, opt_side *ov,
                 long *drop, long *reject, long *delay_ms)
{
    static const struct option lo[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"fee-bps", required_argument, NULL, O_FEE_BPS},
        {"depth", required_argument, NULL, O_DEPTH},
        {"vol-spread", required_argument, NULL, O_VOL_SPREAD},
        {"option-fee", required_argument, NULL, O_OPTION_FEE},
        {"option-depth", required_argument, NULL, O_OPTION_DEPTH},
        {"drop", required_argument, NULL, O_DROP},
        {"reject", required_argument, NULL, O_REJECT},
        {"delay-ms", required_argument, NULL, O_DELAY_MS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    const char *p = "chvenue";
    bool ok = true;
    int c;
    while (ok && (c = ch_cli_next(p, argc, argv, "h", lo)) != -1) {
        switch (c) {
        case O_LISTEN:
            *url = optarg;
            break;
        case O_FEE_BPS:
            ok = ch_cli_double(p, "--fee-bps", optarg, -10000, 10000, &v->taker_fee_bps);
            break;
        case O_DEPTH:
            ok = ch_cli_double(p, "--depth", optarg, 0, INFINITY, &v->depth);
            break;
        case O_VOL_SPREAD:
            ok = ch_cli_double(p, "--vol-spread", optarg, 0, 1, &ov->v.vol_spread);
            break;
        case O_OPTION_FEE:
            ok = ch_cli_double(p, "--option-fee", optarg, 0, 0.1, &ov->v.fee_rate);
            break;
        case O_OPTION_DEPTH:
            ok = ch_cli_long(p, "--option-depth", optarg, 0, LONG_MAX, &ov->depth);
            break;
        case O_DROP:
            ok = ch_cli_long(p, "--drop", optarg, 0, LONG_MAX, drop);
            break;
        case O_REJECT:
            ok = ch_cli_long(p, "--reject", optarg, 0, LONG_MAX, reject);
            break;
        case O_DELAY_MS:
            ok = ch_cli_long(p, "--delay-ms", optarg, 0, 3600000, delay_ms);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            ch_cli_version(p);
            return 0;
        default:
            return 2;
        }
    }
    if (!ok || !ch_cli_no_operands(p, argc, argv))
        return 2;
    if (*url == NULL) {
        fprintf(stderr, "chvenue: --listen URL is required\n");
        ch_cli_hint(p);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    ch_perp_venue v;
    ch_perp_venue_defaults(&v);
    opt_side ov = {.depth = 0};
    ch_option_venue_defaults(&ov.v);
    long drop = 0, reject = 0, delay_ms = 0;
    int rc = parse(argc, argv, &url, &v, &ov, &drop, &reject, &delay_ms);
    if (rc >= 0)
        return rc;
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
    long requests = 0, executed = 0, options = 0;
    double qty_total = 0, contracts = 0;
    CH_LOG(CH_LOG_INFO, "venue_start",
           "url=%s fee_bps=%g depth=%g drop=%ld reject=%ld delay_ms=%ld", url, v.taker_fee_bps,
           v.depth, drop, reject, delay_ms);
    while (!g_stop) {
        char *buf = NULL;
        size_t sz = 0;
        if (nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC) != 0)
            continue;
        cJSON *j = cJSON_ParseWithLength(buf, sz);
        nng_free(buf, sz);
        if (delay_ms > 0) {
            struct timespec ts = {.tv_sec = delay_ms / 1000,
                                  .tv_nsec = (delay_ms % 1000) * 1000000L};
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
            char out[256];
            snprintf(out, sizeof out,
                     "{\"ok\":true,\"requests\":%ld,\"executed\":%ld,\"qty\":%.17g,"
                     "\"options\":%ld,\"contracts\":%.17g}",
                     requests, executed, qty_total, options, contracts);
            reply(s, out);
            cJSON_Delete(j);
            continue;
        }
        requests++;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "qty");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "mark");
        bool option = strcmp(op->valuestring, "option") == 0;
        const cJSON *vg = cJSON_GetObjectItemCaseSensitive(j, "vega");
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
        const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "contract_size");
        if ((!option && strcmp(op->valuestring, "hedge") != 0) || !cJSON_IsString(id) ||
            strlen(id->valuestring) >= 32 || !cJSON_IsNumber(q) || !cJSON_IsNumber(m) ||
            (option && (!cJSON_IsNumber(vg) || !cJSON_IsNumber(ix) || !cJSON_IsNumber(cs)))) {
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
        ch_hedge_exec x = {0};
        ch_err xe;
        if (option) { /* at most the depth; the spread against the mark as slippage */
            double want = q->valuedouble, lots = fabs(want);
            if (ov.depth > 0 && lots > (double)ov.depth)
                lots = (double)ov.depth;
            x.qty = copysign(lots, want);
            xe = ch_option_execute(&ov.v, m->valuedouble, vg->valuedouble, ix->valuedouble,
                                   cs->valuedouble, x.qty, &x.price, &x.fee);
            x.slippage = fabs(x.price - m->valuedouble) * lots;
        } else {
            xe = ch_perp_execute(&v, m->valuedouble, q->valuedouble, &x);
        }
        if (xe != CH_OK || n_done == MAX_ORDERS) {
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
        if (option) {
            options++;
            contracts += fabs(x.qty);
        } else {
            qty_total += fabs(x.qty);
        }
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
