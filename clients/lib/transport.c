/*
 * transport.c - libchclient's transport (see ch/client.h): thin, owned
 * wrappers over NNG REQ sockets (open, call, close) and a pipelined REQ with
 * contexts for throughput. The typed calls are in calls.c, the event
 * subscriber in sub.c.
 *
 * Every connection is made by ch_dial(): for tls+tcp:// it verifies the
 * server against $CH_TLS_CA (and $CH_TLS_SERVER_NAME, default the URL's
 * host).
 */
#include "ch/client.h"
#include "ch/version.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A synchronous dial (see ch_client_open()); TLS options for tls+tcp://. */
int ch_dial(nng_socket s, const char *url)
{
    if (strncmp(url, "tls+tcp://", 10) != 0)
        return nng_dial(s, url, NULL, 0);
    nng_dialer d;
    int rv = nng_dialer_create(&d, s, url);
    if (rv != 0)
        return rv;
    const char *ca = getenv("CH_TLS_CA");
    const char *name = getenv("CH_TLS_SERVER_NAME");
    char host[256];
    if (name == NULL) { /* the host part of tls+tcp://HOST:PORT */
        const char *h = url + 10, *colon = strrchr(h, ':');
        size_t n = colon != NULL ? (size_t)(colon - h) : strlen(h);
        snprintf(host, sizeof host, "%.*s", (int)(n < sizeof host ? n : sizeof host - 1), h);
        name = host;
    }
    if ((ca != NULL && (rv = nng_dialer_set_string(d, NNG_OPT_TLS_CA_FILE, ca)) != 0) ||
        (rv = nng_dialer_set_string(d, NNG_OPT_TLS_SERVER_NAME, name)) != 0 ||
        (rv = nng_dialer_start(d, 0)) != 0)
        nng_dialer_close(d);
    return rv;
}

void ch_tune_req(nng_socket s, int timeout_ms)
{
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms > 0 ? timeout_ms : 5000);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms > 0 ? timeout_ms : 5000);
    nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 2000);
    /* no automatic resend: a request that the server cannot take (too large)
     * would otherwise be resent on every reconnect; a call that gets no reply
     * fails, and the caller resends (with the same client_order_id) */
    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
}

/* The NNG error behind the calling thread's last result of this library
 * (0: none), for ch_client_strerror() and ch_client_nng_error(). */
static _Thread_local int t_nng;

ch_err ch_nng_err(int rv)
{
    t_nng = rv;
    switch (rv) {
    case 0:
        return CH_OK;
    case NNG_ETIMEDOUT:
        return CH_ETIMEDOUT;
    case NNG_ENOMEM:
        return CH_ENOMEM;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
    case NNG_ESTATE:
        return CH_EINVAL;
    default:
        return CH_EIO;
    }
}

int ch_client_nng_error(void)
{
    return t_nng;
}

const char *ch_client_strerror(ch_err err)
{
    static _Thread_local char text[160];
    if ((err == CH_EIO || err == CH_ETIMEDOUT || err == CH_EINVAL) && t_nng != 0) {
        snprintf(text, sizeof text, "%s: %s", ch_strerror(err), nng_strerror(t_nng));
        return text;
    }
    return ch_strerror(err);
}

static int client_open(const char *url, int timeout_ms, ch_client **out)
{
    if (url == NULL || out == NULL)
        return NNG_EINVAL;
    ch_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NNG_ENOMEM;
    int rv = nng_req0_open(&c->s);
    if (rv != 0) {
        free(c);
        return rv;
    }
    ch_tune_req(c->s, timeout_ms);
    /* a synchronous dial: no server fails fast (ECONNREFUSED), and no
     * background dialer is left retrying, which NNG 1.5.2's nng_close can
     * deadlock against (upstream #1543); an established connection is still
     * redialed after a server restart */
    if ((rv = ch_dial(c->s, url)) != 0) {
        nng_close(c->s);
        free(c);
        return rv;
    }
    *out = c;
    return 0;
}

ch_err ch_client_open(const char *url, int timeout_ms, ch_client **out)
{
    return ch_nng_err(client_open(url, timeout_ms, out));
}

const char *ch_client_version(void)
{
    return CH_VERSION;
}

void ch_client_close(ch_client *c)
{
    if (c == NULL)
        return;
    if (c->shards != NULL)
        ch_shards_close(c->shards); /* its connections; c->s is one of them */
    else
        nng_close(c->s);
    free(c);
}

static char *own_copy(const void *data, size_t len)
{
    char *r = malloc(len + 1);
    if (r != NULL) {
        memcpy(r, data, len);
        r[len] = '\0';
    }
    return r;
}

static int call(ch_client *c, const char *request, size_t len, char **reply, size_t *rlen)
{
    if (c == NULL)
        return NNG_ECLOSED; /* a closed client (the Python one after close()) */
    if (c->shards != NULL)
        return ch_shards_call(c, request, len, reply, rlen);
    int rv = nng_send(c->s, (void *)(uintptr_t)request, len, 0);
    if (rv != 0)
        return rv;
    return ch_recv_copy(c->s, reply, rlen);
}

ch_err ch_client_call(ch_client *c, const char *request, size_t len, char **reply, size_t *rlen)
{
    return ch_nng_err(call(c, request, len, reply, rlen));
}

int ch_recv_copy(nng_socket s, char **out, size_t *len)
{
    char *buf = NULL;
    size_t sz = 0;
    int rv = nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC);
    if (rv != 0)
        return rv;
    *out = own_copy(buf, sz);
    nng_free(buf, sz);
    if (*out == NULL)
        return NNG_ENOMEM;
    if (len != NULL)
        *len = sz;
    return 0;
}

void ch_client_free(char *reply)
{
    free(reply);
}

/* ---- pipelined ---- */

typedef struct slot {
    ch_client_pipeline *p;
    nng_ctx ctx;
    nng_aio *aio;
    unsigned long tag;
    int state; /* 0 free, 1 sending, 2 receiving, 3 done */
    int err;
    nng_msg *reply;
} slot;

struct ch_client_pipeline {
    nng_socket s;
    slot *slots;
    int depth;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy;
    int timeout_ms;
};

static void slot_cb(void *arg)
{
    slot *sl = arg;
    ch_client_pipeline *p = sl->p;
    int rv = nng_aio_result(sl->aio);
    if (sl->state == 1) {
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(sl->aio));
            pthread_mutex_lock(&p->mu);
            sl->err = rv;
            sl->state = 3;
            pthread_cond_broadcast(&p->cv);
            pthread_mutex_unlock(&p->mu);
            return;
        }
        sl->state = 2;
        nng_ctx_recv(sl->ctx, sl->aio);
        return;
    }
    pthread_mutex_lock(&p->mu);
    sl->err = rv;
    sl->reply = rv == 0 ? nng_aio_get_msg(sl->aio) : NULL;
    sl->state = 3;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static int pipeline_open(const char *url, int depth, int timeout_ms, ch_client_pipeline **out)
{
    if (depth < 1 || depth > 1024)
        return NNG_EINVAL;
    ch_client_pipeline *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NNG_ENOMEM;
    p->depth = depth;
    p->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    int rv = nng_req0_open(&p->s);
    if (rv != 0) {
        free(p);
        return rv;
    }
    ch_tune_req(p->s, p->timeout_ms);
    p->slots = calloc((size_t)depth, sizeof *p->slots);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; p->slots != NULL && i < depth; i++) {
        p->slots[i].p = p;
        if ((rv = nng_ctx_open(&p->slots[i].ctx, p->s)) != 0 ||
            (rv = nng_aio_alloc(&p->slots[i].aio, slot_cb, &p->slots[i])) != 0)
            break;
        nng_aio_set_timeout(p->slots[i].aio, p->timeout_ms);
    }
    if (rv == 0 && p->slots != NULL)
        rv = ch_dial(p->s, url); /* synchronous: see ch_client_open() */
    if (rv != 0 || p->slots == NULL) {
        ch_client_pipeline_close(p);
        return rv != 0 ? rv : NNG_ENOMEM;
    }
    *out = p;
    return 0;
}

ch_err ch_client_pipeline_open(const char *url, int depth, int timeout_ms, ch_client_pipeline **out)
{
    return ch_nng_err(pipeline_open(url, depth, timeout_ms, out));
}

void ch_client_pipeline_close(ch_client_pipeline *p)
{
    if (p == NULL)
        return;
    for (int i = 0; p->slots != NULL && i < p->depth; i++) {
        if (p->slots[i].aio != NULL)
            nng_aio_stop(p->slots[i].aio);
    }
    for (int i = 0; p->slots != NULL && i < p->depth; i++) {
        if (p->slots[i].reply != NULL)
            nng_msg_free(p->slots[i].reply);
        if (p->slots[i].aio != NULL)
            nng_aio_free(p->slots[i].aio);
        nng_ctx_close(p->slots[i].ctx);
    }
    nng_close(p->s);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->slots);
    free(p);
}

ch_err ch_client_pipeline_send(ch_client_pipeline *p, const char *request, size_t len,
                               unsigned long tag)
{
    pthread_mutex_lock(&p->mu);
    slot *sl = NULL;
    for (;;) {
        for (int i = 0; i < p->depth && sl == NULL; i++)
            if (p->slots[i].state == 0)
                sl = &p->slots[i];
        if (sl != NULL)
            break;
        pthread_cond_wait(&p->cv, &p->mu); /* all in flight: wait for a reply to be taken */
    }
    sl->state = 1;
    sl->tag = tag;
    sl->err = 0;
    p->busy++;
    pthread_mutex_unlock(&p->mu);
    nng_msg *m;
    int rv = nng_msg_alloc(&m, 0);
    if (rv == 0 && (rv = nng_msg_append(m, request, len)) != 0)
        nng_msg_free(m);
    if (rv != 0) {
        pthread_mutex_lock(&p->mu);
        sl->state = 0;
        p->busy--;
        pthread_mutex_unlock(&p->mu);
        return ch_nng_err(rv);
    }
    nng_aio_set_msg(sl->aio, m);
    nng_ctx_send(sl->ctx, sl->aio);
    return ch_nng_err(0);
}

static int pipeline_recv(ch_client_pipeline *p, char **reply, size_t *reply_len, unsigned long *tag)
{
    pthread_mutex_lock(&p->mu);
    slot *sl = NULL;
    for (;;) {
        if (p->busy == 0) {
            pthread_mutex_unlock(&p->mu);
            return NNG_ESTATE; /* nothing in flight */
        }
        for (int i = 0; i < p->depth && sl == NULL; i++)
            if (p->slots[i].state == 3)
                sl = &p->slots[i];
        if (sl != NULL)
            break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    nng_msg *m = sl->reply;
    int err = sl->err;
    *tag = sl->tag;
    sl->reply = NULL;
    sl->state = 0;
    p->busy--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (err != 0)
        return err;
    *reply = own_copy(nng_msg_body(m), nng_msg_len(m));
    if (reply_len != NULL)
        *reply_len = nng_msg_len(m);
    nng_msg_free(m);
    return *reply != NULL ? 0 : NNG_ENOMEM;
}

ch_err ch_client_pipeline_recv(ch_client_pipeline *p, char **reply, size_t *reply_len,
                               unsigned long *tag)
{
    return ch_nng_err(pipeline_recv(p, reply, reply_len, tag));
}
