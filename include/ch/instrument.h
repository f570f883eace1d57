/*
 * ch/instrument.h - instrument symbols, underlyings, ticks and the registry
 * of listed series.
 *
 * Symbols follow the Deribit convention:
 *   options     UNDERLYING-DMMMYY-STRIKE-C|P   e.g. BTC-27DEC26-100000-C
 *   perpetuals  UNDERLYING-PERP                e.g. BTC-PERP
 * The day has one or two digits (canonical form: no leading zero, so
 * "BTC-5JAN27-..." ; "05JAN27" is accepted on input and formatted as "5JAN27").
 * The month is the upper-case English abbreviation; YY is 2000+YY. Options
 * expire at 08:00 UTC on that date. The underlying is 1..15 characters of
 * [A-Z0-9_]; the strike a positive integer (quote currency units, no leading
 * zero, at most 12 digits).
 *
 * Prices are integer ticks. An underlying's tick is a decimal
 * `tick_units * 10^-price_decimals` quote-currency units (e.g. 0.5 = 5 * 10^-1),
 * so conversion between decimal text and ticks is exact.
 *
 * This module is pure: no I/O, no clock (callers pass `now`), no logging.
 */
#ifndef CH_INSTRUMENT_H
#define CH_INSTRUMENT_H

#include <stddef.h>

#include "ch/api.h"
#include "ch/err.h"
#include "ch/limits.h"
#include "ch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CH_UNDERLYING_MAX, CH_SYMBOL_MAX, CH_STRIKE_MAX, CH_PRICE_DECIMALS_MAX:
 * ch/limits.h */
/** Expiries are at this time of day, UTC. */
#define CH_EXPIRY_HOUR_UTC 8

typedef enum ch_kind { CH_CALL = 0, CH_PUT = 1, CH_PERP = 2 } ch_kind;

/** A parsed symbol. `expiry` and `strike` are 0 for a perpetual. */
typedef struct ch_symbol {
    char underlying[CH_UNDERLYING_MAX];
    ch_kind kind;
    ch_time expiry; /**< ns since epoch, 08:00 UTC of the expiry date */
    int64_t strike; /**< quote currency units */
} ch_symbol;

/**
 * Parse @p len bytes at @p s (need not be NUL-terminated).
 * @return CH_OK; CH_EBADSYMBOL (shape, characters, month, length),
 *         CH_EBADDATE (a day that does not exist, e.g. 30FEB27),
 *         CH_EBADSTRIKE (zero, leading zero, too many digits).
 *         @p out is written only on success.
 */
CH_API ch_err ch_symbol_parse(const char *s, size_t len, ch_symbol *out);

/**
 * Write the canonical text of @p sym into @p buf (NUL-terminated).
 * @return CH_OK; CH_ERANGE if @p cap is too small (buf then holds ""),
 *         CH_EINVAL if @p sym is not a valid symbol.
 */
CH_API ch_err ch_symbol_format(const ch_symbol *sym, char *buf, size_t cap);

/**
 * ns since epoch of 00:00 UTC on a civil date; CH_EBADDATE if the date does
 * not exist or the year is outside 1970..2261 (ch_time, int64 nanoseconds,
 * ends in April 2262).
 */
CH_API ch_err ch_date_to_time(int year, int month, int day, ch_time *out);

/**
 * The date "YYYY-MM-DD" (ten characters, digits where digits stand: no
 * sign, no space) at the start of @p s, midnight UTC. Reads at most
 * s[0..9] and never past a NUL.
 * @return CH_OK or CH_EBADDATE.
 */
CH_API ch_err ch_date_parse(const char *s, ch_time *out);

/**
 * The same followed by "THH:MM:SS" (19 characters, UTC): that second.
 * Reads at most s[0..18] and never past a NUL. @return CH_OK or CH_EBADDATE.
 */
CH_API ch_err ch_datetime_parse(const char *s, ch_time *out);

/**
 * An expiry as symbols write it, DMMMYY or DDMMMYY ("5JAN27", "25DEC26"),
 * the @p len bytes at @p s: its time, CH_EXPIRY_HOUR_UTC on that day.
 * @return CH_OK, CH_EBADSYMBOL (malformed) or CH_EBADDATE (no such day).
 */
CH_API ch_err ch_expiry_parse(const char *s, size_t len, ch_time *out);

/** Per-underlying settings (from configuration). */
typedef struct ch_underlying_config {
    char name[CH_UNDERLYING_MAX];
    int32_t price_decimals; /**< 0..8: decimals of the tick */
    int64_t tick_units;     /**< tick = tick_units * 10^-price_decimals, > 0 */
    double contract_size;   /**< units of the underlying per contract, > 0 */
    int64_t min_price;      /**< price band, ticks, >= 1 */
    int64_t max_price;      /**< price band, ticks, >= min_price */
} ch_underlying_config;

/**
 * Parse a decimal tick such as "0.5" or "5" into @p cfg's price_decimals
 * and tick_units. @return CH_OK or CH_EBADCONFIG (not positive, too many
 * decimals, malformed).
 */
CH_API ch_err ch_tick_parse(const char *s, size_t len, ch_underlying_config *cfg);

/**
 * Convert a decimal price text ("1234.5", "-1", "1e3" is refused) to ticks.
 * @return CH_OK; CH_EBADPRICE if malformed, not positive, not on tick, or
 *         outside [min_price, max_price].
 */
CH_API ch_err ch_price_parse(const ch_underlying_config *u, const char *s, size_t len,
                             int64_t *ticks);

/**
 * Convert a binary floating-point price (as JSON numbers arrive) to ticks.
 * The value must be within 1e-9 (relative) of a tick; errors as
 * ch_price_parse().
 */
CH_API ch_err ch_price_from_double(const ch_underlying_config *u, double price, int64_t *ticks);

/** The price of @p ticks in quote currency, as a double (for display and risk). */
CH_API double ch_price_to_double(const ch_underlying_config *u, int64_t ticks);

/**
 * Exact decimal text of @p ticks ("1234.5"); CH_ERANGE if @p cap is too small.
 */
CH_API ch_err ch_price_format(const ch_underlying_config *u, int64_t ticks, char *buf, size_t cap);

/** One listed instrument. */
typedef struct ch_instrument {
    ch_instr_id id;
    uint32_t underlying;        /**< index of the underlying in the registry */
    ch_symbol sym;              /**< parsed symbol */
    char symbol[CH_SYMBOL_MAX]; /**< canonical text */
    ch_instr_id sibling;        /**< same expiry/strike, other option type, if
                                     listed; CH_INSTR_NONE otherwise */
} ch_instrument;

#define CH_INSTR_NONE UINT32_MAX

/** The registry of underlyings and listed series. */
typedef struct ch_instruments ch_instruments;

/**
 * Create a registry for at most @p max_instruments series and
 * @p max_underlyings underlyings (memory is allocated here, once).
 * @return owned (free with ch_instruments_destroy()), or NULL on bad sizes
 *         (0 or above 2^24) or out of memory.
 */
CH_API ch_instruments *ch_instruments_create(uint32_t max_instruments, uint32_t max_underlyings);

/** Free @p r; NULL is a no-op. */
CH_API void ch_instruments_destroy(ch_instruments *r);

/**
 * Register an underlying (@p cfg copied).
 * @return CH_OK; CH_EBADCONFIG (bad name, tick, contract size or band),
 *         CH_EEXISTS (name taken), CH_ECAPACITY (max_underlyings reached).
 *         @p out_index receives its index (may be NULL).
 */
CH_API ch_err ch_instruments_add_underlying(ch_instruments *r, const ch_underlying_config *cfg,
                                            uint32_t *out_index);

/** Index of the underlying named @p name, or CH_EUNKNOWN_UNDERLYING. */
CH_API ch_err ch_instruments_find_underlying(const ch_instruments *r, const char *name, size_t len,
                                             uint32_t *out_index);

/** The config of underlying @p index (view, valid until destroy), NULL if none. */
CH_API const ch_underlying_config *ch_instruments_underlying(const ch_instruments *r,
                                                             uint32_t index);

/** Number of underlyings. */
CH_API uint32_t ch_instruments_underlying_count(const ch_instruments *r);

/**
 * List the series @p symbol at time @p now.
 * @return CH_OK (id in @p out, may be NULL); the parse errors of
 *         ch_symbol_parse(); CH_EUNKNOWN_UNDERLYING; CH_EEXPIRED (expiry <= now);
 *         CH_EEXISTS (already listed: @p out still receives its id);
 *         CH_ECAPACITY (max_instruments reached). Nothing changes on error.
 */
CH_API ch_err ch_instruments_add(ch_instruments *r, const char *symbol, size_t len, ch_time now,
                                 ch_instr_id *out);

/** As ch_instruments_add() for an already parsed symbol. */
CH_API ch_err ch_instruments_add_parsed(ch_instruments *r, const ch_symbol *sym, ch_time now,
                                        ch_instr_id *out);

/**
 * Find a listed series by text.
 * @return CH_OK; parse errors; CH_EUNKNOWN_SYMBOL (valid but not listed);
 *         CH_EEXPIRED (listed but expired at @p now).
 */
CH_API ch_err ch_instruments_lookup(const ch_instruments *r, const char *symbol, size_t len,
                                    ch_time now, ch_instr_id *out);

/** The instrument @p id (view, valid until destroy), or NULL. */
CH_API const ch_instrument *ch_instruments_get(const ch_instruments *r, ch_instr_id id);

/** Number of listed series (expired ones included). */
CH_API uint32_t ch_instruments_count(const ch_instruments *r);

/**
 * List the grid expiries × strikes, calls and puts, of underlying @p index
 * (expiries as ns at 08:00 UTC). Already listed series are skipped; expired
 * ones are refused. @return CH_OK, CH_EEXPIRED, CH_EBADSTRIKE, CH_ECAPACITY
 * (in which case the series added before the limit stay listed),
 * CH_EUNKNOWN_UNDERLYING.
 */
CH_API ch_err ch_instruments_add_grid(ch_instruments *r, uint32_t underlying,
                                      const ch_time *expiries, size_t n_expiries,
                                      const int64_t *strikes, size_t n_strikes, ch_time now);

#ifdef __cplusplus
}
#endif
#endif
