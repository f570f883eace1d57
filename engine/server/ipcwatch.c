/*
 * ipcwatch.c - see ipcwatch.h. The probe is an ordinary client: a REQ
 * socket that dials, sends a public `hello` and waits for the answer; it
 * goes through the engine thread like any request, so a probe can be slow
 * under load, which is why one miss is not enough to act.
 */
#include "ipcwatch.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch/log.h"

struct chi_ipc_watch {
    char url[256];
    int period_ms, timeout_ms;
    chi_relisten_fn fn;
    void *ctx;
    pthread_t thread;
    atomic_bool stop;
};

/* True if a hello over a fresh connection is answered within @p ms. */
static bool probe(const char *url, int ms)
{
    nng_socket s;
    if (nng_req0_open(&s) != 0)
        return true; /* cannot probe: not the listener's fault */
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, ms);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, ms);
    static const char hello[] = "{\"op\":\"hello\",\"id\":\"ipc-watchdog\"}";
    char *buf = NULL;
    size_t sz = 0;
    bool ok = nng_dial(s, url, NULL, 0) == 0 &&
              nng_send(s, (void *)(uintptr_t)hello, sizeof hello - 1, 0) == 0 &&
              nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC) == 0;
    if (buf != NULL)
        nng_free(buf, sz);
    nng_close(s);
    return ok;
}

/* Sleep @p ms in 50 ms steps unless stopped; true if stopped. */
static bool wait_or_stop(chi_ipc_watch *w, int ms)
{
    const struct timespec step = {0, 50 * 1000000L};
    for (int t = 0; t < ms && !atomic_load(&w->stop); t += 50)
        nanosleep(&step, NULL);
    return atomic_load(&w->stop);
}

static void *watch_main(void *arg)
{
    chi_ipc_watch *w = arg;
    int misses = 0;
    while (!wait_or_stop(w, w->period_ms)) {
        misses = probe(w->url, w->timeout_ms) ? 0 : misses + 1;
        if (misses < 2)
            continue;
        misses = 0;
        int rv = w->fn(w->ctx);
        CH_LOG(rv == 0 ? CH_LOG_WARN : CH_LOG_ERROR, "ipc_listener_restarted",
               "url=%s result=%d reason=\"two probes unanswered (NNG 1.5.2 #1518)\"", w->url, rv);
    }
    return NULL;
}

chi_ipc_watch *chi_ipc_watch_start(const char *url, int period_ms, int timeout_ms,
                                   chi_relisten_fn fn, void *ctx)
{
    if (strncmp(url, "ipc://", 6) != 0)
        return NULL;
    chi_ipc_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    snprintf(w->url, sizeof w->url, "%s", url);
    w->period_ms = period_ms;
    w->timeout_ms = timeout_ms;
    w->fn = fn;
    w->ctx = ctx;
    atomic_init(&w->stop, false);
    if (pthread_create(&w->thread, NULL, watch_main, w) == 0)
        return w;
    free(w);
    return NULL;
}

void chi_ipc_watch_stop(chi_ipc_watch *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true); /* seen within 50 ms, or after a probe in flight */
    pthread_join(w->thread, NULL);
    free(w);
}
