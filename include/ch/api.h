/*
 * ch/api.h - export control for the public C API.
 *
 * The shared libraries are built with -fvisibility=hidden; only declarations
 * marked CH_API are exported, and every one of them starts with `ch_`.
 */
#ifndef CH_API_H
#define CH_API_H

#if defined(__GNUC__) && !defined(CH_STATIC_ONLY)
#define CH_API __attribute__((visibility("default")))
#else
#define CH_API
#endif

#endif
