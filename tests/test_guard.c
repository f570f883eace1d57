/*
 * test_guard.c - chd's access checks and bounds (engine/server/guard.c):
 * token buckets, the op classes, keys (admin file, account digests, the
 * same answer for unknown and wrong), the connection table under churn,
 * binary requests on authenticated connections, and the open-order cap.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/server/guard.h"
#include "ch/engine.h"
#include "ch_check.h"

#define SEC CH_NS_PER_SEC

START_TEST(bucket_refills_at_its_rate)
{
    chi_bucket b = {0};
    for (int i = 0; i < 5; i++)
        ck_assert(chi_bucket_take(&b, 10, 5, 0, 1)); /* the burst */
    ck_assert(!chi_bucket_take(&b, 10, 5, 0, 1));
    ck_assert(!chi_bucket_take(&b, 10, 5, SEC / 20, 1)); /* half a token */
    ck_assert(chi_bucket_take(&b, 10, 5, SEC / 10, 1));  /* one token after 0.1 s */
    ck_assert(chi_bucket_take(&b, 10, 5, 100 * SEC, 5)); /* capped at the burst */
    ck_assert(!chi_bucket_take(&b, 10, 5, 100 * SEC, 1));
    ck_assert(!chi_bucket_take(&b, 10, 5, 99 * SEC, 1)); /* a clock step back adds nothing */
    ck_assert(chi_bucket_take(&b, 0, 0, 0, 1e9));        /* rate 0: no limit */
}
END_TEST

START_TEST(op_classes)
{
    ck_assert_int_eq(chi_op_access("hello"), CHI_PUBLIC);
    ck_assert_int_eq(chi_op_access("quote"), CHI_PUBLIC);
    ck_assert_int_eq(chi_op_access("order.new"), CHI_ACCOUNT);
    ck_assert_int_eq(chi_op_access("positions"), CHI_ACCOUNT);
    ck_assert_int_eq(chi_op_access("account.open"), CHI_ADMIN);
    ck_assert_int_eq(chi_op_access("stats"), CHI_READ);
    ck_assert_int_eq(chi_op_access("risk"), CHI_READ);
    ck_assert_int_eq(chi_op_access("hedge"), CHI_READ);
    ck_assert_int_eq(chi_op_access("state.hash"), CHI_ADMIN);
    ck_assert_int_eq(chi_op_access("some.future.op"), CHI_ADMIN); /* closed by default */
}
END_TEST

static char dir[128];

/* The key chd wrote to DIR/@p file (its first line) into @p out. */
static void read_key(const char *file, char *out, size_t cap)
{
    char path[200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(out, (int)cap, f));
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
    ck_assert_int_eq((int)strlen(out), CHI_ADMIN_KEY_HEX);
}

static void rm_dir(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* An empty data folder /tmp/ch-guard-NAME-PID in dir. */
static void fresh_dir(const char *name)
{
    snprintf(dir, sizeof dir, "/tmp/ch-guard-%s-%d", name, (int)getpid());
    rm_dir();
    ck_assert_int_eq(mkdir(dir, 0700), 0);
}

START_TEST(keys)
{
    fresh_dir("test");
    chi_guard_config cfg = {.max_clients = 8};
    chi_guard *g = chi_guard_create(&cfg, 16);
    char err[256];
    ck_assert_int_eq(chi_guard_load_key(g, dir, CHI_KEY_ADMIN, err, sizeof err), CH_OK);
    char path[200], admin[100] = "";
    snprintf(path, sizeof path, "%s/admin.key", dir);
    read_key("admin.key", admin, sizeof admin);
    char k1[CHI_ACCOUNT_KEY_HEX + 1], k2[CHI_ACCOUNT_KEY_HEX + 1];
    uint8_t d1[CH_SHA256_LEN], d2[CH_SHA256_LEN];
    ck_assert_int_eq(chi_key_new(k1, d1), CH_OK);
    ck_assert_int_eq(chi_key_new(k2, d2), CH_OK);
    ck_assert_str_ne(k1, k2);
    chi_guard_set_key(g, (ch_account_id){5}, d1);
    chi_guard_set_key(g, (ch_account_id){6}, d2);
    const char *msg = NULL, *msg2 = NULL;
    /* the account's own key */
    ck_assert_int_eq(chi_guard_begin(g, 0, k1, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){5}, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_ACCOUNT, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_ADMIN, &msg), CH_EUNAUTHORIZED);
    /* another account's, an unknown account, an account without a key: one answer */
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){6}, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_account(g, false, (ch_account_id){0}, &msg2), CH_EUNAUTHORIZED);
    ck_assert_str_eq(msg, msg2);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){7}, &msg2), CH_EUNAUTHORIZED);
    ck_assert_str_eq(msg, msg2);
    /* no key, a wrong one */
    ck_assert_int_eq(chi_guard_begin(g, 0, NULL, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_begin(g, 0, k2, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    /* the admin key: admin ops and every existing account */
    ck_assert_int_eq(chi_guard_begin(g, 0, admin, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_ADMIN, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){6}, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, false, (ch_account_id){0}, &msg), CH_EUNAUTHORIZED);
    chi_guard_stats st;
    chi_guard_get_stats(g, &st);
    ck_assert_uint_eq(st.unauthorized, 7);
    chi_guard_destroy(g);
    /* a second start reads the same file; a short file is refused */
    g = chi_guard_create(&cfg, 16);
    ck_assert_int_eq(chi_guard_load_key(g, dir, CHI_KEY_ADMIN, err, sizeof err), CH_OK);
    ck_assert_int_eq(chi_guard_begin(g, 0, admin, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_ADMIN, &msg), CH_OK);
    chi_guard_destroy(g);
    FILE *f = fopen(path, "w");
    fputs("short\n", f);
    fclose(f);
    g = chi_guard_create(&cfg, 16);
    ck_assert_int_eq(chi_guard_load_key(g, dir, CHI_KEY_ADMIN, err, sizeof err), CH_EIO);
    ck_assert_ptr_nonnull(strstr(err, "admin.key"));
    chi_guard_destroy(g);
    /* --no-auth: nothing is checked but the account's existence */
    cfg.no_auth = true;
    g = chi_guard_create(&cfg, 16);
    ck_assert_int_eq(chi_guard_begin(g, 0, NULL, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_ADMIN, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){5}, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, false, (ch_account_id){0}, &msg), CH_EUNAUTHORIZED);
    chi_guard_destroy(g);
    rm_dir();
}
END_TEST

/* The read-only key (PROTOCOL.md 1.1): read ops and the positions of house,
 * pool and fees; nothing else, and never a binary batch. */
START_TEST(readonly_key)
{
    fresh_dir("ro");
    chi_guard_config cfg = {.max_clients = 8};
    chi_guard *g = chi_guard_create(&cfg, 16);
    char err[256], path[200], ro[100] = "";
    ck_assert_int_eq(chi_guard_load_key(g, dir, CHI_KEY_ADMIN, err, sizeof err), CH_OK);
    ck_assert_int_eq(chi_guard_load_key(g, dir, CHI_KEY_READONLY, err, sizeof err), CH_OK);
    read_key(chi_key_file(CHI_KEY_READONLY), ro, sizeof ro);
    uint8_t d[CH_SHA256_LEN];
    char k[CHI_ACCOUNT_KEY_HEX + 1];
    ck_assert_int_eq(chi_key_new(k, d), CH_OK);
    chi_guard_set_key(g, (ch_account_id){5}, d);
    const char *msg = NULL;
    ck_assert_int_eq(chi_guard_conn_added_at(g, 9, false, 0), true);
    ck_assert_int_eq(chi_guard_begin(g, 9, ro, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_PUBLIC, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_READ, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_ADMIN, &msg), CH_EUNAUTHORIZED);
    /* positions: house, pool, fees yes; an account (its own key or not) no */
    ck_assert_int_eq(chi_guard_account_view(g, true, (ch_account_id){1}, true, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account_view(g, true, (ch_account_id){5}, false, &msg),
                     CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_account_view(g, false, (ch_account_id){0}, true, &msg),
                     CH_EUNAUTHORIZED);
    /* orders for any account, and a binary batch on its connection */
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){0}, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_op(g, CHI_READ, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_binary(g, 9, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    /* an account key cannot read; the admin key can */
    ck_assert_int_eq(chi_guard_begin(g, 9, k, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_READ, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_account_view(g, true, (ch_account_id){1}, true, &msg),
                     CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_account_view(g, true, (ch_account_id){5}, false, &msg), CH_OK);
    char admin[100] = "";
    read_key(chi_key_file(CHI_KEY_ADMIN), admin, sizeof admin);
    ck_assert_str_ne(admin, ro);
    snprintf(path, sizeof path, "%s/%s", dir, chi_key_file(CHI_KEY_ADMIN));
    ck_assert_int_eq(chi_guard_begin(g, 9, admin, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_READ, &msg), CH_OK);
    chi_guard_destroy(g);
    /* the same key in both files is refused */
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", ro);
    fclose(f);
    g = chi_guard_create(&cfg, 16);
    ck_assert_int_eq(chi_guard_load_key(g, dir, CHI_KEY_ADMIN, err, sizeof err), CH_OK);
    ck_assert_int_eq(chi_guard_load_key(g, dir, CHI_KEY_READONLY, err, sizeof err), CH_EIO);
    ck_assert_ptr_nonnull(strstr(err, "same key"));
    chi_guard_destroy(g);
    rm_dir();
}
END_TEST

START_TEST(connections_under_churn)
{
    chi_guard_config cfg = {.max_clients = 64, .conn_rate = 1, .conn_burst = 2};
    chi_guard *g = chi_guard_create(&cfg, 4);
    const char *msg;
    /* 64 served, 64 more answered UNAVAILABLE, then closed */
    for (uint32_t p = 1; p <= 128; p++)
        ck_assert(chi_guard_conn_added_at(g, p * 7919, false, 0));
    ck_assert(!chi_guard_conn_added_at(g, 999999, false, 0));
    ck_assert_uint_eq(chi_guard_conns(g), 128);
    ck_assert_int_eq(chi_guard_begin(g, 64 * 7919, NULL, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_begin(g, 65 * 7919, NULL, 0, &msg), CH_EUNAVAILABLE);
    /* each connection has its own bucket */
    ck_assert_int_eq(chi_guard_begin(g, 1 * 7919, NULL, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_begin(g, 1 * 7919, NULL, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_begin(g, 1 * 7919, NULL, 0, &msg), CH_ERATE_LIMITED);
    ck_assert_int_eq(chi_guard_begin(g, 2 * 7919, NULL, 0, &msg), CH_OK);
    /* remove in a scattered order; every remaining one is still found */
    for (uint32_t p = 1; p <= 128; p += 2)
        chi_guard_conn_removed(g, p * 7919);
    chi_guard_conn_removed(g, 424242); /* unknown: nothing */
    ck_assert_uint_eq(chi_guard_conns(g), 64);
    for (uint32_t p = 2; p <= 128; p += 2) {
        /* found: its own (fresh) bucket allows two, not three */
        ck_assert_int_ne(chi_guard_begin(g, p * 7919, NULL, 10 * SEC, &msg), CH_ERATE_LIMITED);
    }
    /* the freed slots serve again */
    for (uint32_t p = 1; p <= 128; p += 2)
        ck_assert(chi_guard_conn_added_at(g, p * 7919 + 1, false, 0));
    ck_assert_uint_eq(chi_guard_conns(g), 128);
    for (uint32_t p = 1; p <= 128; p++)
        chi_guard_conn_removed(g, p % 2 ? p * 7919 + 1 : p * 7919);
    ck_assert_uint_eq(chi_guard_conns(g), 0);
    ck_assert(chi_guard_conn_added_at(g, 5, false, 0));
    ck_assert_int_eq(chi_guard_begin(g, 5, NULL, 0, &msg), CH_OK);
    chi_guard_destroy(g);
}
END_TEST

START_TEST(binary_needs_a_bound_connection)
{
    chi_guard_config cfg = {.max_clients = 8};
    chi_guard *g = chi_guard_create(&cfg, 16);
    uint8_t d[CH_SHA256_LEN];
    char k[CHI_ACCOUNT_KEY_HEX + 1];
    ck_assert_int_eq(chi_key_new(k, d), CH_OK);
    chi_guard_set_key(g, (ch_account_id){5}, d);
    ck_assert(chi_guard_conn_added_at(g, 11, false, 0));
    ck_assert(chi_guard_conn_added_at(g, 12, false, 0));
    const char *msg;
    ck_assert_int_eq(chi_guard_binary(g, 11, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_begin(g, 11, k, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){5}, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_binary(g, 11, true, (ch_account_id){5}, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_binary(g, 11, true, (ch_account_id){6}, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_binary(g, 12, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    /* issue 15, item 7: a refused keyed request clears the authorization,
     * the wrong key and the admin op without the admin key alike */
    ck_assert_int_eq(chi_guard_begin(g, 11, "0123456789abcdef0123456789abcdef", 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_binary(g, 11, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_begin(g, 11, k, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_account(g, true, (ch_account_id){5}, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_binary(g, 11, true, (ch_account_id){5}, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_begin(g, 11, k, 0, &msg), CH_OK);
    ck_assert_int_eq(chi_guard_op(g, CHI_ADMIN, &msg), CH_EUNAUTHORIZED);
    ck_assert_int_eq(chi_guard_binary(g, 11, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    chi_guard_conn_removed(g, 11);
    ck_assert(
        chi_guard_conn_added_at(g, 11, false, 0)); /* a new connection with a reused id: unbound */
    ck_assert_int_eq(chi_guard_binary(g, 11, true, (ch_account_id){5}, &msg), CH_EUNAUTHORIZED);
    chi_guard_destroy(g);
}
END_TEST

/* Issue 15, items 2 and 11: replies in the transport per connection, the
 * idle clock, and admin-endpoint connections beside max_clients. */
START_TEST(connection_io_and_idle)
{
    chi_guard_config cfg = {.max_clients = 1};
    chi_guard *g = chi_guard_create(&cfg, 4);
    const char *msg;
    ck_assert(chi_guard_conn_added_at(g, 1, false, 0));
    ck_assert(chi_guard_conn_added_at(g, 2, false, 0)); /* over max_clients: answered UNAVAILABLE */
    ck_assert(chi_guard_conn_added_at(g, 3, true, 0));  /* the admin endpoint: served */
    ck_assert_int_eq(chi_guard_begin(g, 2, NULL, 0, &msg), CH_EUNAVAILABLE);
    ck_assert_int_eq(chi_guard_begin(g, 3, NULL, 0, &msg), CH_OK);
    chi_guard_conn_request(g, 1, 10);
    chi_guard_conn_request(g, 1, 10);
    ck_assert_uint_eq(chi_guard_conn_sending(g, 1), 1);
    ck_assert_uint_eq(chi_guard_conn_sending(g, 1), 2);
    uint32_t idle[8];
    /* 1 has requests in flight: never idle; 2 and 3 are */
    size_t n = chi_guard_idle(g, 100 * SEC, SEC, idle, 8);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(idle[0] + idle[1], 5);
    chi_guard_conn_done(g, 1, true, 50 * SEC);
    chi_guard_conn_done(g, 1, true, 50 * SEC);
    ck_assert_uint_eq(chi_guard_conn_sending(g, 1), 1); /* back to none, then one */
    chi_guard_conn_done(g, 1, true, 50 * SEC);
    ck_assert_uint_eq(chi_guard_idle(g, 50 * SEC + SEC / 2, SEC, idle, 8), 2);
    ck_assert_uint_eq(chi_guard_idle(g, 52 * SEC, SEC, idle, 8), 3);
    chi_guard_conn_done(g, 99, true, 0); /* unknown pipes are ignored */
    chi_guard_conn_removed(g, 3);
    chi_guard_conn_removed(g, 1);
    ck_assert(chi_guard_conn_added_at(g, 4, false, 0)); /* 2 is still over: 4 is served */
    ck_assert_int_eq(chi_guard_begin(g, 4, NULL, 0, &msg), CH_OK);
    chi_guard_destroy(g);
}
END_TEST

START_TEST(open_order_cap)
{
    ch_engine_config ec;
    ch_engine_defaults(&ec);
    ec.max_instruments = ec.max_accounts = 16;
    ec.max_orders = ec.max_positions = 256;
    ch_engine *e = ch_engine_create(&ec);
    ck_assert_ptr_nonnull(e);
    ch_underlying_config u = {
        .name = "BTC", .contract_size = 1, .min_price = 1, .max_price = 2000000};
    ch_tick_parse("0.5", 3, &u);
    ck_assert_int_eq(ch_engine_add_underlying(e, &u, NULL), CH_OK);
    ch_time t;
    ch_date_to_time(2026, 11, 25, &t);
    ck_assert_int_eq(ch_engine_advance(e, t), CH_OK);
    ch_instr_id c;
    ck_assert_int_eq(ch_engine_list(e, "BTC-25DEC26-100000-C", 20, &c), CH_OK);
    ch_account_id a;
    ck_assert_int_eq(
        ch_engine_account_open(e, "a", 1000000 * CH_CASH_SCALE, CH_STP_CANCEL_INCOMING, &a), CH_OK);
    chi_guard_config cfg = {
        .max_clients = 8, .max_open_orders = 3, .account_rate = 1000, .account_burst = 1000};
    chi_guard *g = chi_guard_create(&cfg, 16);
    const char *msg;
    ch_order_id ids[4];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(chi_guard_order(g, a, true, ch_engine_book(e), 0, &msg), CH_OK);
        ch_engine_order o = {.account = a, .instr = c, .side = CH_BUY, .price = 2 + i, .qty = 1};
        ch_engine_result r;
        ck_assert_int_eq(ch_engine_submit(e, &o, &r), CH_OK);
        ids[i] = r.id;
        chi_guard_order_rests(g, a, r.id, ch_engine_book(e));
    }
    ck_assert_int_eq(chi_guard_order(g, a, true, ch_engine_book(e), 0, &msg), CH_ECAPACITY);
    ck_assert_ptr_nonnull(strstr(msg, "max_open_orders"));
    ck_assert_int_eq(chi_guard_order(g, a, false, ch_engine_book(e), 0, &msg), CH_OK); /* IOC */
    ck_assert_int_eq(ch_engine_cancel(e, a, ids[1], NULL), CH_OK);
    ck_assert_int_eq(chi_guard_order(g, a, true, ch_engine_book(e), 0, &msg), CH_OK);
    chi_guard_stats st;
    chi_guard_get_stats(g, &st);
    ck_assert_uint_eq(st.open_order_cap, 1);
    chi_guard_destroy(g);
    ch_engine_destroy(e);
}
END_TEST

int main(void)
{
    const TTest *const tests[] = {bucket_refills_at_its_rate,
                                  op_classes,
                                  keys,
                                  readonly_key,
                                  connections_under_churn,
                                  binary_needs_a_bound_connection,
                                  connection_io_and_idle,
                                  open_order_cap};
    Suite *s = suite_create("guard");
    TCase *tc = tcase_create("guard");
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return ch_check_run(s);
}
