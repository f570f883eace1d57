/*
 * ch/hedge_nng.h - the external hedge adapter: hedge orders go to a separate
 * venue process over NNG REQ/REP, one JSON request per order:
 *
 *   request  {"op":"hedge","id":"<decimal>","qty":<signed units>,"mark":<price>}
 *            {"op":"option","id":"<decimal>","symbol":"BTC-25DEC26-100000-C",
 *             "qty":<signed contracts>,"mark":<price per contract>,"vega":<per
 *             contract, per 1.00 vol>,"index":<price>,"contract_size":<units>}
 *   reply    {"ok":true,"id":"...","qty":..,"price":..,"fee":..,"slippage":..}
 *            (an option: qty may be less than asked, the venue's depth)
 *            {"ok":false,"id":"...","error":{"code":"REJECTED","message":"..."}}
 *
 * The venue must treat `id` as idempotent (a repeat returns the original
 * result): the adapter retries a timed-out request with the same id, so an
 * order is executed and booked once even when replies are lost. A timeout is
 * retried with exponential backoff for as long as it takes (the order stays
 * in flight, visible in the status); an explicit rejection is retried with
 * backoff up to `max_attempts` and then reported as rejected.
 *
 * A worker thread does the I/O; send() and poll() never block the engine
 * thread. `clients/venue` ships a mock venue (chvenue) with the simulated
 * venue's rules and fault injection, for tests and demos.
 */
#ifndef CH_HEDGE_NNG_H
#define CH_HEDGE_NNG_H

#include "ch/hedge.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ch_hedge_nng_config {
    const char *url;    /**< the venue's REP endpoint, e.g. ipc:///tmp/venue.ipc */
    int timeout_ms;     /**< per attempt (default 500) */
    int backoff_ms;     /**< first backoff (default 50), doubled per retry */
    int backoff_max_ms; /**< cap (default 2000) */
    int max_attempts;   /**< for rejections (default 5) */
} ch_hedge_nng_config;

/**
 * Create the adapter and start its worker (it dials in the background).
 * @p url is copied. @return CH_OK; CH_EINVAL (no url); CH_EIO (NNG could not
 * open a socket or start dialing); CH_ENOMEM.
 */
CH_API ch_err ch_hedge_adapter_nng(const ch_hedge_nng_config *cfg, ch_hedge_adapter *out);

#ifdef __cplusplus
}
#endif
#endif
