/*
 * hedge_nng.c - the external hedge adapter over NNG REQ/REP (see
 * ch/hedge_nng.h). One worker thread owns the socket; the engine thread only
 * touches two mutex-protected queues. Timeouts are retried with the same id
 * (the venue dedupes), so nothing is booked twice; NNG's own REQ resend is
 * turned off so that retries follow our backoff.
 */
#include "ch/hedge_nng.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct queue {
    void *v;
    size_t n, cap, elem;
} queue;

static int q_push(queue *q, const void *x)
{
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 16;
        void *nv = realloc(q->v, nc * q->elem);
        if (nv == NULL)
            return -1;
        q->v = nv;
        q->cap = nc;
    }
    memcpy((char *)q->v + q->n * q->elem, x, q->elem);
    q->n++;
    return 0;
}

typedef struct nng_adapter {
    ch_hedge_nng_config cfg;
    char *url;
    nng_socket sock;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    queue in;  /* ch_hedge_order */
    queue out; /* ch_hedge_report */
    uint32_t in_flight;
    uint64_t retries;
    bool stop;
} nng_adapter;

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One attempt. 1 = filled, 0 = rejected by the venue, -1 = no reply. */
static int attempt(nng_adapter *a, const ch_hedge_order *o, ch_hedge_report *r)
{
    char req[512];
    int n = o->symbol[0] == '\0' && o->perp[0] == '\0'
                ? snprintf(req, sizeof req,
                           "{\"op\":\"hedge\",\"id\":\"%" PRIu64 "\",\"qty\":%.17g,\"mark\":%.17g}",
                           o->id, o->qty, o->mark)
            : o->symbol[0] == '\0'
                ? snprintf(req, sizeof req,
                           "{\"op\":\"hedge\",\"id\":\"%" PRIu64
                           "\",\"symbol\":\"%s\",\"qty\":%.17g,\"mark\":%.17g}",
                           o->id, o->perp, o->qty, o->mark)
                : snprintf(req, sizeof req,
                           "{\"op\":\"option\",\"id\":\"%" PRIu64 "\",\"symbol\":\"%s\","
                           "\"qty\":%.17g,\"mark\":%.17g,\"vega\":%.17g,\"index\":%.17g,"
                           "\"contract_size\":%.17g}",
                           o->id, o->symbol, o->qty, o->mark, o->vega, o->index, o->contract_size);
    if (n < 0 || (size_t)n >= sizeof req)
        return 0;
    if (nng_send(a->sock, req, (size_t)n, 0) != 0)
        return -1;
    char *buf = NULL;
    size_t sz = 0;
    if (nng_recv(a->sock, &buf, &sz, NNG_FLAG_ALLOC) != 0)
        return -1;
    int result = -1;
    cJSON *j = cJSON_ParseWithLength(buf, sz);
    nng_free(buf, sz);
    if (j == NULL)
        return -1; /* garbage: treat like no reply, retry */
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    char want[32];
    snprintf(want, sizeof want, "%" PRIu64, o->id);
    if (!cJSON_IsString(id) || strcmp(id->valuestring, want) != 0) {
        result = -1;
    } else if (cJSON_IsTrue(ok)) {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "qty");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "price");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "fee");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "slippage");
        if (cJSON_IsNumber(q) && cJSON_IsNumber(p) && cJSON_IsNumber(f) && cJSON_IsNumber(s) &&
            (p->valuedouble > 0 || (o->symbol[0] != '\0' && p->valuedouble == 0))) {
            r->filled = true;
            r->exec = (ch_hedge_exec){.qty = q->valuedouble,
                                      .price = p->valuedouble,
                                      .fee = f->valuedouble,
                                      .slippage = s->valuedouble};
            result = 1;
        }
    } else if (cJSON_IsFalse(ok)) {
        result = 0;
    }
    cJSON_Delete(j);
    return result;
}

static void *worker(void *arg)
{
    nng_adapter *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (a->in.n == 0 && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->stop) {
            pthread_mutex_unlock(&a->mu);
            return NULL;
        }
        ch_hedge_order o = ((ch_hedge_order *)a->in.v)[0];
        memmove(a->in.v, (char *)a->in.v + sizeof o, (a->in.n - 1) * sizeof o);
        a->in.n--;
        pthread_mutex_unlock(&a->mu);

        ch_hedge_report r = {.id = o.id};
        int backoff = a->cfg.backoff_ms;
        int rejects = 0;
        for (;;) {
            r.attempts++;
            int res = attempt(a, &o, &r);
            if (res == 1)
                break;
            if (res == 0 && ++rejects >= a->cfg.max_attempts) {
                r.filled = false;
                r.reason = CH_EUNAVAILABLE;
                break;
            }
            pthread_mutex_lock(&a->mu);
            a->retries++;
            bool stop = a->stop;
            pthread_mutex_unlock(&a->mu);
            if (stop)
                return NULL; /* shutting down: the order stays unreported */
            sleep_ms(backoff);
            backoff = backoff * 2 > a->cfg.backoff_max_ms ? a->cfg.backoff_max_ms : backoff * 2;
        }
        pthread_mutex_lock(&a->mu);
        q_push(&a->out, &r);
        pthread_mutex_unlock(&a->mu);
    }
}

static ch_err nng_send_order(void *impl, const ch_hedge_order *o)
{
    nng_adapter *a = impl;
    pthread_mutex_lock(&a->mu);
    int rc = q_push(&a->in, o);
    if (rc == 0)
        a->in_flight++;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return rc == 0 ? CH_OK : CH_ENOMEM;
}

static size_t nng_poll_reports(void *impl, ch_hedge_report *out, size_t max)
{
    nng_adapter *a = impl;
    pthread_mutex_lock(&a->mu);
    size_t n = a->out.n < max ? a->out.n : max;
    if (n == 0) { /* the queue may not even be allocated yet */
        pthread_mutex_unlock(&a->mu);
        return 0;
    }
    memcpy(out, a->out.v, n * sizeof *out);
    memmove(a->out.v, (char *)a->out.v + n * sizeof *out, (a->out.n - n) * sizeof *out);
    a->out.n -= n;
    a->in_flight -= (uint32_t)n;
    pthread_mutex_unlock(&a->mu);
    return n;
}

static void nng_status(void *impl, uint32_t *in_flight, uint64_t *retries)
{
    nng_adapter *a = impl;
    pthread_mutex_lock(&a->mu);
    *in_flight = a->in_flight;
    *retries = a->retries;
    pthread_mutex_unlock(&a->mu);
}

static void nng_destroy(void *impl)
{
    nng_adapter *a = impl;
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    /* the worker sees `stop` after its attempt in flight (bounded by
     * timeout_ms); closing the socket only then, with no send or recv
     * pending, avoids NNG 1.5.2's nng_close hanging on one (upstream #1813) */
    pthread_join(a->thread, NULL);
    nng_close(a->sock);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->in.v);
    free(a->out.v);
    free(a->url);
    free(a);
}

static const ch_hedge_adapter_ops k_nng_ops = {.name = "nng",
                                               .send = nng_send_order,
                                               .poll = nng_poll_reports,
                                               .status = nng_status,
                                               .destroy = nng_destroy};

ch_err ch_hedge_adapter_nng(const ch_hedge_nng_config *cfg, ch_hedge_adapter *out)
{
    if (cfg == NULL || cfg->url == NULL || cfg->url[0] == '\0')
        return CH_EINVAL;
    nng_adapter *a = calloc(1, sizeof *a);
    if (a == NULL)
        return CH_ENOMEM;
    a->cfg = *cfg;
    if (a->cfg.timeout_ms <= 0)
        a->cfg.timeout_ms = 500;
    if (a->cfg.backoff_ms <= 0)
        a->cfg.backoff_ms = 50;
    if (a->cfg.backoff_max_ms <= 0)
        a->cfg.backoff_max_ms = 2000;
    if (a->cfg.max_attempts <= 0)
        a->cfg.max_attempts = 5;
    a->url = strdup(cfg->url);
    a->in.elem = sizeof(ch_hedge_order);
    a->out.elem = sizeof(ch_hedge_report);
    if (a->url == NULL) {
        free(a);
        return CH_ENOMEM;
    }
    if (nng_req0_open(&a->sock) != 0) {
        free(a->url);
        free(a);
        return CH_EIO;
    }
    nng_socket_set_ms(a->sock, NNG_OPT_RECVTIMEO, a->cfg.timeout_ms);
    nng_socket_set_ms(a->sock, NNG_OPT_SENDTIMEO, a->cfg.timeout_ms);
    nng_socket_set_ms(a->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(a->sock, NNG_OPT_RECONNMINT, 20);
    nng_socket_set_ms(a->sock, NNG_OPT_RECONNMAXT, 1000);
    if (nng_dial(a->sock, a->url, NULL, NNG_FLAG_NONBLOCK) != 0) {
        nng_close(a->sock);
        free(a->url);
        free(a);
        return CH_EIO;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, worker, a) != 0) {
        nng_close(a->sock);
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a->url);
        free(a);
        return CH_EIO;
    }
    out->ops = &k_nng_ops;
    out->impl = a;
    return CH_OK;
}
