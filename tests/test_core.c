/* test_core.c - the error table: stable values, names, wire codes, messages. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/err.h"
#include "ch/log.h"
#include "ch/sha256.h"
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
    ck_assert_str_eq(ch_errwire(CH_ERATE_LIMITED), "RATE_LIMITED");
    ck_assert_int_eq(CH_ERATE_LIMITED, 17);
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

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < CH_SHA256_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* FIPS 180-4 examples (NIST "SHA256.pdf", "SHA2_Additional.pdf") */
START_TEST(sha256_fips_vectors)
{
    static const struct {
        const char *msg, *digest;
    } v[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrl"
         "mnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    uint8_t d[CH_SHA256_LEN];
    char h[2 * CH_SHA256_LEN + 1];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ch_sha256_digest(v[i].msg, strlen(v[i].msg), d);
        hex(d, h);
        ck_assert_str_eq(h, v[i].digest);
    }
    /* one million 'a', fed in uneven pieces (crossing block boundaries) */
    static char a[1000];
    memset(a, 'a', sizeof a);
    ch_sha256 s;
    ch_sha256_init(&s);
    size_t left = 1000000, step = 1;
    while (left > 0) {
        size_t n = step < left ? step : left;
        ch_sha256_update(&s, a, n);
        left -= n;
        step = step % 977 + 13; /* 13..989: within a */
    }
    ch_sha256_final(&s, d);
    hex(d, h);
    ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* 55, 56 and 64 bytes: the padding edge cases agree with one-shot and pieces */
    for (size_t n = 54; n <= 65; n++) {
        uint8_t d1[CH_SHA256_LEN], d2[CH_SHA256_LEN];
        ch_sha256_digest(a, n, d1);
        ch_sha256_init(&s);
        ch_sha256_update(&s, a, n / 2);
        ch_sha256_update(&s, a, n - n / 2);
        ch_sha256_final(&s, d2);
        ck_assert_mem_eq(d1, d2, CH_SHA256_LEN);
    }
}
END_TEST

START_TEST(constant_time_equal)
{
    uint8_t x[32], y[32];
    memset(x, 7, sizeof x);
    memcpy(y, x, sizeof y);
    ck_assert(ch_ct_equal(x, y, sizeof x));
    for (size_t i = 0; i < sizeof x; i++) {
        y[i] ^= 0x80;
        ck_assert(!ch_ct_equal(x, y, sizeof x));
        y[i] ^= 0x80;
    }
    ck_assert(ch_ct_equal(x, y, 0));
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
    TCase *th = tcase_create("sha256");
    tcase_add_test(th, sha256_fips_vectors);
    tcase_add_test(th, constant_time_equal);
    suite_add_tcase(s, th);
    return ch_check_run(s);
}
