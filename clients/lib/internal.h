/*
 * internal.h - what libchclient's files share (not installed, not exported).
 */
#ifndef CH_CLIENT_INTERNAL_H
#define CH_CLIENT_INTERNAL_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ch/err.h"

struct ch_shards;

/* A REQ connection (ch_client_open) and what its typed calls keep; opened
 * on a shard map (ch_client_open_shards), one connection per shard, each
 * request routed by its underlying (shards.c). */
struct ch_client {
    nng_socket s;
    char key[256];
    bool binary;
    int nng_err;
    uint64_t seq;
    char message[256];
    struct ch_shards *shards; /* NULL: one server */
};

/* The shard map's call (shards.c): route, send, fail over. */
int ch_shards_call(ch_client *c, const char *request, size_t len, char **reply, size_t *rlen);
void ch_shards_close(struct ch_shards *m);

/* REQ socket options (timeouts, reconnect) of every client connection. */
void ch_tune_req(nng_socket s, int timeout_ms);

/* Dial `url` on `s`, synchronously (chd must be there); for tls+tcp:// the
 * server is verified against $CH_TLS_CA and $CH_TLS_SERVER_NAME. */
int ch_dial(nng_socket s, const char *url);

/* Receive one message on `s` (its receive timeout applies) as a malloc'd
 * copy with a NUL after it (freed with ch_client_free) and its length:
 * 0, or an NNG error. */
int ch_recv_copy(nng_socket s, char **out, size_t *len);

/* An NNG result as the library's ch_err (0: CH_OK, NNG_ETIMEDOUT:
 * CH_ETIMEDOUT, NNG_ENOMEM: CH_ENOMEM, a bad address: CH_EINVAL, else
 * CH_EIO), remembered per thread for ch_client_strerror() and
 * ch_client_nng_error(). */
ch_err ch_nng_err(int rv);

#endif
