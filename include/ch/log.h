/*
 * ch/log.h - operator logs: one line per event, `key=value` pairs.
 *
 * Only the server, the store and the programs (daemon, demo, tools) log; the
 * core modules (instrument, book, matching, clearing, risk, hedge policy)
 * return codes and never include this header. The level is checked before
 * anything is formatted (CH_LOG), so a disabled DEBUG line costs one
 * comparison. Never log per order at INFO: count, and expose the counters.
 *
 * Line format:  ts=2026-11-25T06:30:55.123Z level=info event=NAME k=v ...
 * Values with spaces, quotes or '=' should be passed through ch_log_quote().
 * Not thread-safe to reconfigure; writing is one fputs per line (atomic for
 * lines under PIPE_BUF on a pipe).
 */
#ifndef CH_LOG_H
#define CH_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ch/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ch_log_level {
    CH_LOG_ERROR = 0,
    CH_LOG_WARN = 1,
    CH_LOG_INFO = 2,
    CH_LOG_DEBUG = 3
} ch_log_level;

/** Lines above @p level are dropped. Default CH_LOG_INFO. */
CH_API void ch_log_set_level(ch_log_level level);

/** Where lines go (borrowed; default stderr). NULL restores stderr. */
CH_API void ch_log_set_file(FILE *f);

/** Parse "error", "warn", "info", "debug"; false if unknown. */
CH_API bool ch_log_parse_level(const char *s, ch_log_level *out);

CH_API bool ch_log_enabled(ch_log_level level);

/**
 * Write one line: the timestamp, level and @p event, then the printf-style
 * key=value text of @p fmt (may be NULL). Prefer CH_LOG().
 */
CH_API void ch_log_write(ch_log_level level, const char *event, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/**
 * Quote @p s for a value if it needs it (spaces, quotes, '=', control
 * characters), into @p buf; returns buf. Truncates to @p cap.
 */
CH_API const char *ch_log_quote(const char *s, char *buf, size_t cap);

#define CH_LOG(level, event, ...)                                                                  \
    do {                                                                                           \
        if (ch_log_enabled(level))                                                                 \
            ch_log_write(level, event, __VA_ARGS__);                                               \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
