/*
 * ch_check.h - what every Check test program ends with: run the suite
 * (output as CK_VERBOSITY asks) and turn the result into an exit status.
 */
#ifndef CH_TESTS_CH_CHECK_H
#define CH_TESTS_CH_CHECK_H

#include <check.h>
#include <stdlib.h>

static inline int ch_check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
