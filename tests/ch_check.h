/*
 * ch_check.h - what every Check test program ends with: run the suite
 * (output as CK_VERBOSITY asks) and turn the result into an exit status;
 * and the tests' reproducible random numbers.
 */
#ifndef CH_TESTS_CH_CHECK_H
#define CH_TESTS_CH_CHECK_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

static inline int ch_check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The next of xorshift64's numbers from state @p s (never 0): the same
 * sequence on every machine, so a failing seed can be replayed. */
static inline uint64_t ch_xorshift64(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif
