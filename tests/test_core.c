/* test_core.c - the error table: stable values, names, wire codes, messages. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ch/err.h"
#include "ch/log.h"
#include "ch_check.h"

static const ch_err all[] = {
#define X_(name, num, wire, msg) name,
    CH_ERR_TABLE(X_)
#undef X_
};
static const int nums[] = {
#define X_(name, num, wire, msg) num,
    CH_ERR_TABLE(X_)
#undef X_
};
#define N_ERRS (sizeof all / sizeof all[0])

START_TEST(ok_is_zero)
{
    ck_assert_int_eq(CH_OK, 0);
    ck_assert_str_eq(ch_errname(CH_OK), "OK");
    ck_assert_str_eq(ch_errwire(CH_OK), "OK");
}
END_TEST

START_TEST(values_unique_and_named)
{
    for (size_t i = 0; i < N_ERRS; i++) {
        ck_assert_int_eq((int)all[i], nums[i]);
        ck_assert_ptr_nonnull(ch_errname(all[i]));
        ck_assert_int_gt((int)strlen(ch_strerror(all[i])), 3);
        ck_assert_int_gt((int)strlen(ch_errwire(all[i])), 1);
        ck_assert_str_ne(ch_errname(all[i]), "EUNKNOWN");
        for (size_t j = i + 1; j < N_ERRS; j++) {
            ck_assert_int_ne(nums[i], nums[j]);
            ck_assert_str_ne(ch_errname(all[i]), ch_errname(all[j]));
        }
    }
}
END_TEST

START_TEST(stable_wire_codes)
{
    /* PROTOCOL.md codes: these strings are the contract */
    ck_assert_str_eq(ch_errwire(CH_EBADREQ), "BAD_REQUEST");
    ck_assert_str_eq(ch_errwire(CH_EUNKNOWN_OP), "UNKNOWN_OP");
    ck_assert_str_eq(ch_errwire(CH_EUNKNOWN_SYMBOL), "UNKNOWN_SYMBOL");
    ck_assert_str_eq(ch_errwire(CH_EBADPRICE), "BAD_PRICE");
    ck_assert_str_eq(ch_errwire(CH_EBADQTY), "BAD_QTY");
    ck_assert_str_eq(ch_errwire(CH_EUNKNOWN_ORDER), "UNKNOWN_ORDER");
    ck_assert_str_eq(ch_errwire(CH_ENOT_OWNER), "NOT_OWNER");
    ck_assert_str_eq(ch_errwire(CH_EFUNDS), "INSUFFICIENT_FUNDS");
    ck_assert_str_eq(ch_errwire(CH_EMARGIN), "INSUFFICIENT_MARGIN");
    ck_assert_str_eq(ch_errwire(CH_ERISK_LIMIT), "RISK_LIMIT");
    ck_assert_str_eq(ch_errwire(CH_EPOST_ONLY), "POST_ONLY_WOULD_TRADE");
    ck_assert_str_eq(ch_errwire(CH_EFOK), "FOK_NOT_FILLED");
    ck_assert_str_eq(ch_errwire(CH_ESELF_TRADE), "SELF_TRADE");
    ck_assert_str_eq(ch_errwire(CH_EEXPIRED), "EXPIRED");
    ck_assert_str_eq(ch_errwire(CH_EUNAUTHORIZED), "UNAUTHORIZED");
    ck_assert_str_eq(ch_errwire(CH_EUNAVAILABLE), "UNAVAILABLE");
    ck_assert_str_eq(ch_errwire(CH_EBADSYMBOL), "UNKNOWN_SYMBOL");
    /* numbers on disk never change */
    ck_assert_int_eq(CH_EBADPRICE, 4);
    ck_assert_int_eq(CH_EBADSYMBOL, 32);
    ck_assert_int_eq(CH_ECAPACITY, 64);
}
END_TEST

START_TEST(unknown_value)
{
    ch_err bogus = (ch_err)12345;
    ck_assert_str_eq(ch_errname(bogus), "EUNKNOWN");
    ck_assert_str_eq(ch_errwire(bogus), "BAD_REQUEST");
    ck_assert_str_eq(ch_strerror(bogus), "unknown error");
}
END_TEST

static char *read_all(FILE *f)
{
    static char buf[8192];
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    return buf;
}

START_TEST(log_lines)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ch_log_set_file(f);
    ch_log_set_level(CH_LOG_INFO);
    CH_LOG(CH_LOG_INFO, "start", "port=%d data=%s", 7450, "./var");
    CH_LOG(CH_LOG_DEBUG, "noise", "x=%d", 1); /* dropped */
    CH_LOG(CH_LOG_ERROR, "commit_failed", "err=%s", "EIO");
    ch_log_write(CH_LOG_WARN, "bare", NULL);
    char *s = read_all(f);
    ck_assert_ptr_nonnull(strstr(s, " level=info event=start port=7450 data=./var\n"));
    ck_assert_ptr_null(strstr(s, "noise"));
    ck_assert_ptr_nonnull(strstr(s, " level=error event=commit_failed err=EIO\n"));
    ck_assert_ptr_nonnull(strstr(s, " level=warn event=bare\n"));
    ck_assert_int_eq(strncmp(s, "ts=", 3), 0);
    ck_assert_int_eq(s[26], 'Z'); /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
    ch_log_set_level(CH_LOG_DEBUG);
    ck_assert(ch_log_enabled(CH_LOG_DEBUG));
    ch_log_set_file(NULL);
    fclose(f);
    ch_log_level lv;
    ck_assert(ch_log_parse_level("warn", &lv));
    ck_assert_int_eq(lv, CH_LOG_WARN);
    ck_assert(!ch_log_parse_level("loud", &lv));
    ck_assert(!ch_log_parse_level(NULL, &lv));
    char q[32];
    ck_assert_str_eq(ch_log_quote("plain", q, sizeof q), "plain");
    ck_assert_str_eq(ch_log_quote("two words", q, sizeof q), "\"two words\"");
    ck_assert_str_eq(ch_log_quote("a\"b", q, sizeof q), "\"a\\\"b\"");
    ck_assert_str_eq(ch_log_quote("", q, sizeof q), "\"\"");
    char tiny[4];
    ch_log_quote("a long value", tiny, sizeof tiny);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, ok_is_zero);
    tcase_add_test(tc, values_unique_and_named);
    tcase_add_test(tc, stable_wire_codes);
    tcase_add_test(tc, unknown_value);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("log");
    tcase_add_test(tl, log_lines);
    suite_add_tcase(s, tl);
    return ch_check_run(s);
}
