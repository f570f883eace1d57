/*
 * ch/client.h - libchclient: talk to chd from C (and, through ctypes, from
 * Python). Requests and replies are the JSON texts of PROTOCOL.md; the
 * library moves them, it does not interpret them.
 *
 * Thread safety: a ch_client serves one request at a time (NNG REQ); use
 * one per thread, or ch_client_pipeline for many in flight. A ch_sub is used
 * by one thread.
 */
#ifndef CH_CLIENT_H
#define CH_CLIENT_H

#include <stddef.h>

#include "ch/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ch_client ch_client;

/**
 * Connect to chd's request endpoint @p url (tcp://, ipc://). The first
 * connection is made now (no server: an error at once, e.g. "Connection
 * refused"); after that NNG reconnects by itself if the server restarts.
 * @p timeout_ms bounds each call (0: 5000). @return 0, or an NNG error
 * number (see ch_client_strerror()).
 */
CH_API int ch_client_open(const char *url, int timeout_ms, ch_client **out);

/** Close; NULL is a no-op. */
CH_API void ch_client_close(ch_client *c);

/**
 * Send @p len bytes of @p request and wait for the reply. @p reply receives
 * an owned, NUL-terminated buffer (free with ch_client_free()) of @p reply_len
 * bytes (may be NULL). @return 0 or an NNG error (timeout: the request may
 * still be executed; resend it with the same client_order_id).
 */
CH_API int ch_client_call(ch_client *c, const char *request, size_t len, char **reply,
                          size_t *reply_len);

/** Free a reply. */
CH_API void ch_client_free(char *reply);

/** Text of an error number from this library. */
CH_API const char *ch_client_strerror(int err);

/**
 * Pipelined requests for throughput: up to @p depth requests in flight on one
 * connection; ch_client_pipeline_send() queues (blocking while @p depth are
 * in flight), ch_client_pipeline_recv() returns replies in completion order
 * with the tag given at send.
 */
typedef struct ch_client_pipeline ch_client_pipeline;
CH_API int ch_client_pipeline_open(const char *url, int depth, int timeout_ms,
                                   ch_client_pipeline **out);
CH_API void ch_client_pipeline_close(ch_client_pipeline *p);
CH_API int ch_client_pipeline_send(ch_client_pipeline *p, const char *request, size_t len,
                                   unsigned long tag);
/** @return 0 (reply owned by the caller, ch_client_free) or an error. */
CH_API int ch_client_pipeline_recv(ch_client_pipeline *p, char **reply, size_t *reply_len,
                                   unsigned long *tag);

typedef struct ch_sub ch_sub;

/**
 * Subscribe to chd's event endpoint @p url for topics starting with
 * @p prefix ("" = all: fill.<account>, order.<account>, book.<symbol>, risk,
 * hedge). Delivery is best effort (PUB/SUB drops under load); the system of
 * record is the request side. @return 0 or an NNG error.
 */
CH_API int ch_sub_open(const char *url, const char *prefix, ch_sub **out);
CH_API void ch_sub_close(ch_sub *s);

/**
 * Wait up to @p timeout_ms for one event: "TOPIC JSON", owned (ch_client_free).
 * @return 0, or an NNG error (timed out: NNG_ETIMEDOUT = 5).
 */
CH_API int ch_sub_recv(ch_sub *s, int timeout_ms, char **event, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
