/*
 * log.c - key=value operator logs (see ch/log.h). Reads the wall clock for
 * the timestamp, which is why only the server, store and programs link it.
 */
#include "ch/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static ch_log_level g_level = CH_LOG_INFO;
static FILE *g_file;

static const char *const k_level_names[] = {"error", "warn", "info", "debug"};

void ch_log_set_level(ch_log_level level)
{
    g_level = level;
}

void ch_log_set_file(FILE *f)
{
    g_file = f;
}

bool ch_log_parse_level(const char *s, ch_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (s != NULL && strcmp(s, k_level_names[i]) == 0) {
            *out = (ch_log_level)i;
            return true;
        }
    }
    return false;
}

bool ch_log_enabled(ch_log_level level)
{
    return level <= g_level;
}

void ch_log_write(ch_log_level level, const char *event, const char *fmt, ...)
{
    if (!ch_log_enabled(level))
        return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, k_level_names[level >= 0 && level <= 3 ? level : 0], event);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (fmt != NULL && fmt[0] != '\0' && len + 2 < sizeof line) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
        va_end(ap);
        if (m > 0)
            len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;
    }
    if (len + 1 >= sizeof line)
        len = sizeof line - 2;
    line[len++] = '\n';
    line[len] = '\0';
    FILE *f = g_file != NULL ? g_file : stderr;
    fputs(line, f);
    fflush(f);
}

const char *ch_log_quote(const char *s, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    bool needs = s[0] == '\0';
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            needs = true;
    if (!needs) {
        snprintf(buf, cap, "%s", s);
        return buf;
    }
    size_t o = 0;
    if (o + 1 < cap)
        buf[o++] = '"';
    for (const char *p = s; *p && o + 3 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            buf[o++] = '?';
        } else {
            buf[o++] = (char)c;
        }
    }
    if (o + 1 < cap)
        buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
