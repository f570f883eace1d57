/*
 * internal.h - what libchclient's files share (not installed, not exported).
 */
#ifndef CH_CLIENT_INTERNAL_H
#define CH_CLIENT_INTERNAL_H

#include <nng/nng.h>
#include <stddef.h>

/* Dial `url` on `s`, synchronously (chd must be there); for tls+tcp:// the
 * server is verified against $CH_TLS_CA and $CH_TLS_SERVER_NAME. */
int ch_dial(nng_socket s, const char *url);

/* A malloc'd copy of len bytes with a NUL after them (the caller frees it
 * with ch_client_free), or NULL. */
char *ch_own_copy(const void *data, size_t len);

#endif
