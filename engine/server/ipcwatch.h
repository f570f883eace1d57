/*
 * ipcwatch.h - a watchdog for chd's ipc:// request listener (private to the
 * server).
 *
 * NNG 1.5.2 has a bug (upstream #1518, fixed in 1.6.0): after a peer
 * connects to an ipc:// listener and disconnects before the SP handshake,
 * the listener still accepts and handshakes, but no request from a new
 * connection is ever answered. One crashing or careless local client would
 * stop the daemon's intake. The watchdog sends a `hello` over a fresh
 * connection every period; after two unanswered probes in a row it has the
 * caller re-create the listener (clients reconnect by themselves).
 */
#ifndef CH_SERVER_IPCWATCH_H
#define CH_SERVER_IPCWATCH_H

#include <stdint.h>

/** Re-create the listener; 0 on success or an NNG error. */
typedef int (*chi_relisten_fn)(void *ctx);

typedef struct chi_ipc_watch chi_ipc_watch;

/**
 * Watch the request listener at @p url (copied) every @p period_ms, a probe
 * waiting up to @p timeout_ms. @return the watchdog (owned:
 * chi_ipc_watch_stop) or NULL if @p url is not ipc:// or no thread started.
 */
chi_ipc_watch *chi_ipc_watch_start(const char *url, int period_ms, int timeout_ms,
                                   chi_relisten_fn fn, void *ctx);

/** Stop and free; NULL is a no-op. */
void chi_ipc_watch_stop(chi_ipc_watch *w);

#endif
