/*
 * ch/cli.h - what the programs' command lines (chd, chctl, chsim, chvenue,
 * chdemo) share: getopt_long with errors that name the option, --version,
 * and option values checked with messages that name the option and value.
 *
 * Conventions: an error is one line "PROG: what is wrong" on stderr plus a
 * hint to run PROG --help, and the program exits 2; --help prints the usage
 * on stdout and exits 0; --version prints "PROG VERSION" (the CMake project
 * version, ch/version.h) and exits 0. Both "--opt value" and "--opt=value"
 * are accepted (getopt_long), as are unambiguous abbreviations.
 *
 * For the programs only: not part of any library's exported API.
 */
#ifndef CH_CLI_H
#define CH_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The exit status of a command-line error. */
#define CH_CLI_USAGE 2

/**
 * Start getopt_long afresh on another argument vector (a subcommand's):
 * optind 0, which glibc (and musl) take as "reinitialise", so that the
 * permutation state of an earlier scan is dropped too.
 */
void ch_cli_reset(void);

/**
 * getopt_long(argc, argv, shortopts, longopts, NULL) that reports its own
 * errors: returns the next option's value, -1 after the last option, or '?'
 * after printing what is wrong (an unknown or ambiguous option, a missing
 * value, a value given to an option that takes none), naming the option as
 * typed: "PROG: unknown option '--tiff'". getopt's own messages are off;
 * @p shortopts may start with '+' (stop at the first operand) and must not
 * start with ':' (added here). Long options' values should be 'c' for an
 * option with a short form -c and >= 256 otherwise.
 */
int ch_cli_next(const char *prog, int argc, char **argv, const char *shortopts,
                const struct option *longopts);

/** "Try 'PROG --help'." on stderr, after an error of the caller's own. */
void ch_cli_hint(const char *prog);

/** "PROG VERSION\n" on stdout (--version). */
void ch_cli_version(const char *prog);

/**
 * Check there are no operands left (argv[optind..]): else print
 * "PROG: unexpected argument 'X'" and return false.
 */
bool ch_cli_no_operands(const char *prog, int argc, char **argv);

/**
 * @p arg as a whole number in [@p min, @p max] into @p out; else print
 * "PROG: OPT: expected a whole number in MIN..MAX, not 'ARG'" and return
 * false (@p out unchanged).
 */
bool ch_cli_long(const char *prog, const char *opt, const char *arg, long min, long max, long *out);

/** As ch_cli_long() for an unsigned 64-bit whole number (a seed). */
bool ch_cli_u64(const char *prog, const char *opt, const char *arg, uint64_t *out);

/** As ch_cli_long() for a finite number in [@p min, @p max]. */
bool ch_cli_double(const char *prog, const char *opt, const char *arg, double min, double max,
                   double *out);

/**
 * Does @p arg fit a buffer of @p cap bytes (with its NUL)? Else print
 * "PROG: OPT: longer than CAP-1 bytes" and return false.
 */
bool ch_cli_fits(const char *prog, const char *opt, const char *arg, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
