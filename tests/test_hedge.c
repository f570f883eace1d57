/*
 * test_hedge.c - hedge policies on constructed paths, funding, fees and
 * slippage, the hedge book, and the external adapter over ipc:// against
 * the mock venue (chvenue) with lost replies, delays, rejections and a venue
 * that is down.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ch/hedge.h"
#include "ch/hedge_nng.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include "ch_check.h"

extern char **environ;

#define HOUR (INT64_C(3600) * CH_NS_PER_SEC)

static ch_hedge_inputs at(ch_time now, double net_delta, double position)
{
    ch_hedge_inputs in = {.now = now,
                          .net_delta = net_delta,
                          .position = position,
                          .gamma = 0.01,
                          .spot = 100000,
                          .vol = 0.5,
                          .rate = 0,
                          .tau = 0.1,
                          .last_trade = 0};
    return in;
}

START_TEST(policy_off_and_every_batch)
{
    ch_hedge_policy p;
    ch_hedge_policy_defaults(&p);
    double q;
    p.kind = CH_HEDGE_OFF;
    ck_assert_int_eq(ch_hedge_decide(&p, &(ch_hedge_inputs){.net_delta = 50}, &q), CH_OK);
    ck_assert_double_eq(q, 0);
    p.kind = CH_HEDGE_EVERY_BATCH;
    ch_hedge_inputs in = at(0, 12.5, 2.0);
    ck_assert_int_eq(ch_hedge_decide(&p, &in, &q), CH_OK);
    ck_assert_double_eq(q, -14.5); /* target -12.5, holding +2 */
    in = at(0, 0.0005, 0);         /* dust */
    ck_assert_int_eq(ch_hedge_decide(&p, &in, &q), CH_OK);
    ck_assert_double_eq(q, 0);
    p.max_order = 5;
    in = at(0, 12.5, 0);
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, -5);
    p.max_order = 0;
    p.hedge_cap = 10;
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, -10);
    p.band = -1;
    ck_assert_int_eq(ch_hedge_decide(&p, &in, &q), CH_EINVAL);
}
END_TEST

START_TEST(policy_band)
{
    ch_hedge_policy p;
    ch_hedge_policy_defaults(&p);
    p.kind = CH_HEDGE_BAND;
    p.band = 2;
    p.to_edge = true;
    double q;
    ch_hedge_inputs in = at(0, 1.5, 0);
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, 0); /* inside the band */
    in = at(0, 5, 0);
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, -3); /* to the edge: gap -5, back to -2 */
    p.to_edge = false;
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, -5); /* to zero */
    /* a constructed path: delta drifts up by 0.7 per step */
    p.to_edge = true;
    double pos = 0;
    int trades = 0;
    for (int k = 1; k <= 20; k++) {
        in = at(k, 0.7 * k, pos);
        ch_hedge_decide(&p, &in, &q);
        if (q != 0) {
            trades++;
            pos += q;
            ck_assert_double_eq_tol(fabs(-0.7 * k - pos), 2.0, 1e-9); /* on the edge */
        }
        ck_assert(fabs(-0.7 * k - pos) <= 2.0 + 1e-9);
    }
    ck_assert_int_eq(trades, 18); /* from step 3 on, every step crosses the edge */
}
END_TEST

START_TEST(policy_interval_and_hybrid)
{
    ch_hedge_policy p;
    ch_hedge_policy_defaults(&p);
    p.kind = CH_HEDGE_INTERVAL;
    p.interval = 4 * HOUR;
    double q;
    ch_hedge_inputs in = at(3 * HOUR, 5, 0);
    in.last_trade = 0;
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, 0);
    in.now = 4 * HOUR;
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, -5);
    p.kind = CH_HEDGE_HYBRID;
    p.band = 10;
    in = at(HOUR, 12, 0); /* band breached before the interval */
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, -2); /* to the edge */
    in = at(5 * HOUR, 3, 0);    /* inside the band, interval due: back to target */
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, -3);
    in = at(HOUR, 3, 0);
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, 0);
}
END_TEST

START_TEST(policy_whalley_wilmott)
{
    double h = ch_hedge_ww_band(0.002, 100000, 0.0006, 1e-4, 0, 0.1);
    ck_assert_double_eq_tol(h, cbrt(1.5 * 0.0006 * 100000 * 0.002 * 0.002 / 1e-4), 1e-12);
    /* more gamma, wider band; zero gamma, no band */
    ck_assert_double_gt(ch_hedge_ww_band(0.004, 100000, 0.0006, 1e-4, 0, 0.1), h);
    ck_assert_double_eq(ch_hedge_ww_band(0, 100000, 0.0006, 1e-4, 0, 0.1), 0);
    ch_hedge_policy p;
    ch_hedge_policy_defaults(&p);
    p.kind = CH_HEDGE_WW;
    ch_hedge_inputs in = at(0, h * 0.5, 0);
    in.gamma = 0.002;
    double q;
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq(q, 0);
    in.net_delta = h + 3;
    ch_hedge_decide(&p, &in, &q);
    ck_assert_double_eq_tol(q, -3, 1e-9); /* to the band edge */
    p.ww_risk_aversion = 0;
    ck_assert_int_eq(ch_hedge_decide(&p, &in, &q), CH_EINVAL);
    ch_hedge_policy_kind k;
    ck_assert_int_eq(ch_hedge_policy_parse("whalley_wilmott", &k), CH_OK);
    ck_assert_int_eq(k, CH_HEDGE_WW);
    ck_assert_int_eq(ch_hedge_policy_parse("nope", &k), CH_EBADCONFIG);
    ck_assert_str_eq(ch_hedge_policy_name(CH_HEDGE_EVERY_BATCH), "every_batch");
}
END_TEST

START_TEST(fees_and_slippage)
{
    ch_perp_venue v;
    ch_perp_venue_defaults(&v);
    v.depth = 500;
    ch_hedge_exec x;
    /* linear: 10 units into 500 of depth: 1% average impact */
    ck_assert_int_eq(ch_perp_execute(&v, 100000, 10, &x), CH_OK);
    ck_assert_double_eq_tol(x.price, 101000, 1e-6);
    ck_assert_double_eq_tol(x.slippage, 10 * 100000 * 0.01, 1e-6);
    ck_assert_double_eq_tol(x.fee, 10 * 101000 * 5e-4, 1e-6);
    ck_assert_int_eq(ch_perp_execute(&v, 100000, -10, &x), CH_OK);
    ck_assert_double_eq_tol(x.price, 99000, 1e-6);
    /* square root: Y sigma sqrt(q / adv) */
    v.impact = CH_IMPACT_SQRT;
    ck_assert_int_eq(ch_perp_execute(&v, 100000, 200, &x), CH_OK);
    double frac = 0.7 * 0.03 * sqrt(200.0 / 50000);
    ck_assert_double_eq_tol(x.slippage, 200 * 100000 * frac, 1e-6);
    /* doubling size raises impact by sqrt(2) */
    ch_hedge_exec y;
    ch_perp_execute(&v, 100000, 400, &y);
    ck_assert_double_eq_tol((y.price - 100000) / (x.price - 100000), sqrt(2.0), 1e-9);
    ck_assert_int_eq(ch_perp_execute(&v, 0, 1, &x), CH_EINVAL);
    ck_assert_int_eq(ch_perp_execute(&v, 100, NAN, &x), CH_EINVAL);
}
END_TEST

START_TEST(funding_sign_and_amount)
{
    ch_hedge_book b = {0};
    ch_time t0 = 1000 * 24 * HOUR + 1 * HOUR; /* 01:00 UTC */
    ch_hedge_book_mark(&b, t0, 100000, 100000, 1e-4);
    ch_hedge_exec x = {.qty = -10, .price = 100000};
    ch_hedge_book_fill(&b, &x);
    /* to 17:00: boundaries at 08:00 and 16:00 */
    ch_hedge_book_mark(&b, t0 + 16 * HOUR, 100000, 100000, 1e-4);
    ck_assert_double_eq_tol(b.funding, 2 * 10 * 100000 * 1e-4, 1e-9); /* a short receives */
    /* negative funding: the short pays, at the next boundary (00:00) */
    ch_hedge_book_mark(&b, t0 + 23 * HOUR, 100000, 100000, -3e-4);
    ck_assert_double_eq_tol(b.funding, 200 - 10 * 100000 * 3e-4, 1e-9);
    /* a long pays positive funding */
    ch_hedge_book l = {0};
    ch_hedge_book_mark(&l, t0, 50000, 50000, 2e-4);
    ch_hedge_exec y = {.qty = 4, .price = 50000};
    ch_hedge_book_fill(&l, &y);
    ch_hedge_book_mark(&l, t0 + 48 * HOUR, 50000, 50000, 2e-4); /* 6 boundaries */
    ck_assert_double_eq_tol(l.funding, -6 * 4 * 50000 * 2e-4, 1e-9);
}
END_TEST

START_TEST(book_pnl_and_basis)
{
    ch_hedge_book b = {0};
    ch_hedge_book_mark(&b, 0, 100000, 100100, 0);
    ch_hedge_exec x = {.qty = -4, .price = 100100, .fee = 20, .slippage = 5};
    ch_hedge_book_fill(&b, &x);
    ck_assert_double_eq(b.position, -4);
    ck_assert_double_eq(b.avg_price, 100100);
    x = (ch_hedge_exec){.qty = -2, .price = 100400};
    ch_hedge_book_fill(&b, &x);
    ck_assert_double_eq_tol(b.avg_price, (4 * 100100 + 2 * 100400) / 6.0, 1e-9);
    /* buy back 8: close 6 at 99900, flip to +2 */
    x = (ch_hedge_exec){.qty = 8, .price = 99900};
    ch_hedge_book_fill(&b, &x);
    ck_assert_double_eq_tol(b.realized, 6 * ((4 * 100100 + 2 * 100400) / 6.0 - 99900), 1e-6);
    ck_assert_double_eq(b.position, 2);
    ck_assert_double_eq(b.avg_price, 99900);
    ck_assert_double_eq_tol(b.volume, 14, 1e-12);
    ck_assert_double_eq_tol(b.fees, 20, 1e-12);
    /* basis: the perp gains 300 while the index gains 100: +200 per unit held */
    ch_hedge_book_mark(&b, HOUR, 100100, 100400, 0);
    ck_assert_double_eq_tol(b.basis_pnl, 2 * 200, 1e-9);
    ck_assert_double_eq_tol(ch_hedge_book_unrealized(&b, 100400), 2 * 500, 1e-9);
}
END_TEST

/* The two phases chd drives: nothing leaves before send, nothing is booked
 * before settle; replay (restore + settle, book_exec) reaches the same book. */
START_TEST(hedger_two_phases_and_replay)
{
    ch_perp_venue v;
    ch_perp_venue_defaults(&v);
    ch_hedge_policy p;
    ch_hedge_policy_defaults(&p);
    p.kind = CH_HEDGE_EVERY_BATCH;
    ch_hedge_adapter a;
    ck_assert_int_eq(ch_hedge_adapter_sim(&v, &a), CH_OK);
    ch_hedger *h = ch_hedger_create(&p, a);
    ch_hedge_inputs in = at(0, 4, 0);
    ch_hedge_order o;
    ck_assert_int_eq(ch_hedger_decide(h, &in, 100000, 500, &o), CH_OK);
    ck_assert_double_eq(o.qty, -4);
    ck_assert_uint_eq(o.id, 500); /* at least the caller's minimum */
    ck_assert_uint_eq(ch_hedger_in_flight_orders(h), 1);
    ch_hedge_report r[4];
    ck_assert_uint_eq(ch_hedger_take_reports(h, r, 4), 0); /* not sent yet */
    ck_assert_int_eq(ch_hedger_send(h), CH_OK);
    ck_assert_uint_eq(ch_hedger_take_reports(h, r, 4), 1);
    ck_assert_double_eq(ch_hedger_book(h)->position, 0); /* taken, not booked */
    ck_assert_double_eq(ch_hedger_in_flight(h), -4);
    ck_assert(ch_hedger_settle(h, &r[0]));
    ck_assert(!ch_hedger_settle(h, &r[0])); /* never booked twice */
    ck_assert_double_eq(ch_hedger_book(h)->position, -4);
    /* the next id is above every id seen */
    in = at(1, 6, 0);
    ck_assert_int_eq(ch_hedger_decide(h, &in, 100000, 0, &o), CH_OK);
    ck_assert_uint_eq(o.id, 501);
    ck_assert_double_eq(o.qty, -2);
    /* a rejection leaves the flight and is counted */
    ch_hedge_report rej = {.id = 501, .filled = false, .reason = CH_EINVAL, .attempts = 3};
    ck_assert(ch_hedger_settle(h, &rej));
    ck_assert_uint_eq(ch_hedger_book(h)->rejects, 1);
    ck_assert_uint_eq(ch_hedger_book(h)->retries, 2);
    ck_assert_double_eq(ch_hedger_in_flight(h), 0);

    /* replay of the same log into a fresh hedger: the same book */
    ck_assert_int_eq(ch_hedge_adapter_sim(&v, &a), CH_OK);
    ch_hedger *g = ch_hedger_create(&p, a);
    ch_hedge_order sent = {.id = 500, .qty = -4, .mark = 100000};
    ck_assert_int_eq(ch_hedger_restore(g, &sent, 0), CH_OK);
    ck_assert_int_eq(ch_hedger_restore(g, &sent, 0), CH_EDUPLICATE);
    ck_assert(ch_hedger_settle(g, &r[0]));
    ch_hedge_order sent2 = {.id = 501, .qty = -2, .mark = 100000};
    ck_assert_int_eq(ch_hedger_restore(g, &sent2, 1), CH_OK);
    ck_assert(ch_hedger_settle(g, &rej));
    const ch_hedge_book *x = ch_hedger_book(h), *y = ch_hedger_book(g);
    ck_assert_double_eq(x->position, y->position);
    ck_assert_double_eq(x->fees, y->fees);
    ck_assert_uint_eq(x->orders, y->orders);
    ck_assert_uint_eq(x->rejects, y->rejects);
    /* a fill booked at once (the simulated venue inline) counts an order */
    ch_hedge_exec e = {.qty = 1, .price = 100000, .fee = 5};
    ch_hedger_book_exec(g, &e, 2);
    ck_assert_double_eq(ch_hedger_book(g)->position, -3);
    ck_assert_uint_eq(ch_hedger_book(g)->orders, 3);
    /* with position -3, a net delta of 3 is hedged: nothing to send */
    in = at(3, 3, 0);
    ck_assert_int_eq(ch_hedger_decide(g, &in, 100000, 0, &o), CH_OK);
    ck_assert_double_eq(o.qty, 0);
    ch_hedger_destroy(g);
    ch_hedger_destroy(h);
}
END_TEST

START_TEST(hedger_with_sim_adapter)
{
    ch_perp_venue v;
    ch_perp_venue_defaults(&v);
    ch_hedge_adapter a;
    ck_assert_int_eq(ch_hedge_adapter_sim(&v, &a), CH_OK);
    ch_hedge_policy p;
    ch_hedge_policy_defaults(&p);
    p.kind = CH_HEDGE_EVERY_BATCH;
    ch_hedger *h = ch_hedger_create(&p, a);
    ch_hedge_inputs in = at(0, 7, 0);
    double sent;
    ck_assert_int_eq(ch_hedger_on_batch(h, &in, 100000, &sent), CH_OK);
    ck_assert_double_eq(sent, -7);
    ck_assert_double_eq(ch_hedger_in_flight(h), -7);
    /* before the fill comes back, nothing more is sent for the same delta */
    in = at(1, 7, 0);
    ck_assert_int_eq(ch_hedger_on_batch(h, &in, 100000, &sent), CH_OK);
    ck_assert_double_eq(sent, 0);
    ck_assert_uint_eq(ch_hedger_poll(h), 1);
    const ch_hedge_book *b = ch_hedger_book(h);
    ck_assert_double_eq(b->position, -7);
    ck_assert_double_eq(ch_hedger_in_flight(h), 0);
    ck_assert_uint_eq(b->orders, 1);
    ck_assert_double_gt(b->fees, 0);
    ck_assert_double_eq_tol(ch_netting_ratio(7, 70), 0.9, 1e-12);
    ck_assert_double_eq(ch_netting_ratio(7, 0), 0);
    ch_hedger_destroy(h);
}
END_TEST

/* ---- the external adapter against chvenue ---- */

static char url[128];
static int url_n;

static pid_t start_venue(const char *const extra[])
{
    const char *bin = getenv("CH_CHVENUE");
    ck_assert_msg(bin != NULL, "set CH_CHVENUE to the chvenue binary");
    char *argv[16];
    int k = 0;
    argv[k++] = (char *)(uintptr_t)bin;
    argv[k++] = (char *)(uintptr_t) "--listen";
    argv[k++] = url;
    for (int i = 0; extra != NULL && extra[i] != NULL; i++)
        argv[k++] = (char *)(uintptr_t)extra[i];
    argv[k] = NULL;
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, bin, NULL, NULL, argv, environ), 0);
    return pid;
}

static void stop_venue(pid_t pid)
{
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
}

static void new_url(void)
{
    snprintf(url, sizeof url, "ipc:///tmp/ch-venue-%d-%d.ipc", (int)getpid(), url_n++);
}

/* poll until `n` reports are booked or `ms` pass */
static size_t wait_reports(ch_hedger *h, size_t n, int ms)
{
    size_t got = 0;
    for (int t = 0; t < ms / 10 && got < n; t++) {
        got += ch_hedger_poll(h);
        if (got < n) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return got;
}

/* Ask the venue how many orders it executed (its own count). */
static long venue_executed(void)
{
    nng_socket s;
    ck_assert_int_eq(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000);
    ck_assert_int_eq(nng_dial(s, url, NULL, 0), 0);
    const char *req = "{\"op\":\"stats\"}";
    ck_assert_int_eq(nng_send(s, (void *)(uintptr_t)req, strlen(req), 0), 0);
    char *buf = NULL;
    size_t sz = 0;
    ck_assert_int_eq(nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC), 0);
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)sz, buf);
    nng_free(buf, sz);
    nng_close(s);
    const char *p = strstr(text, "\"executed\":");
    ck_assert_ptr_nonnull(p);
    return strtol(p + 11, NULL, 10);
}

static ch_hedger *nng_hedger(int timeout_ms)
{
    ch_hedge_nng_config c = {.url = url,
                             .timeout_ms = timeout_ms,
                             .backoff_ms = 10,
                             .backoff_max_ms = 100,
                             .max_attempts = 3};
    ch_hedge_adapter a;
    ck_assert_int_eq(ch_hedge_adapter_nng(&c, &a), CH_OK);
    ch_hedge_policy p;
    ch_hedge_policy_defaults(&p);
    p.kind = CH_HEDGE_EVERY_BATCH;
    ch_hedger *h = ch_hedger_create(&p, a);
    ck_assert_ptr_nonnull(h);
    return h;
}

static void send_delta(ch_hedger *h, double net_delta, double expect)
{
    ch_hedge_inputs in = at(0, net_delta, 0);
    double sent;
    ck_assert_int_eq(ch_hedger_on_batch(h, &in, 100000, &sent), CH_OK);
    ck_assert_double_eq(sent, expect);
}

START_TEST(nng_adapter_fills)
{
    new_url();
    pid_t v = start_venue(NULL);
    ch_hedger *h = nng_hedger(300);
    send_delta(h, 3, -3);
    ck_assert_uint_eq(wait_reports(h, 1, 5000), 1);
    const ch_hedge_book *b = ch_hedger_book(h);
    ck_assert_double_eq(b->position, -3);
    ck_assert_double_lt(b->avg_price, 100000); /* sold into impact */
    ck_assert_double_gt(b->fees, 0);
    send_delta(h, -2, 5); /* from -3 to +2 */
    ck_assert_uint_eq(wait_reports(h, 1, 5000), 1);
    ck_assert_double_eq(b->position, 2);
    ch_hedger_destroy(h);
    stop_venue(v);
}
END_TEST

START_TEST(nng_adapter_lost_replies_book_once)
{
    new_url();
    /* the venue executes the first two new orders but their replies are lost */
    const char *const extra[] = {"--drop", "2", NULL};
    pid_t v = start_venue(extra);
    ch_hedger *h = nng_hedger(150);
    send_delta(h, 4, -4);
    ck_assert_uint_eq(wait_reports(h, 1, 8000), 1);
    const ch_hedge_book *b = ch_hedger_book(h);
    ck_assert_double_eq(b->position, -4); /* booked once */
    ck_assert_uint_eq(b->fills, 1);
    uint32_t inflight;
    uint64_t retries;
    ch_hedger_status(h, &inflight, &retries);
    ck_assert_uint_eq(inflight, 0);
    ck_assert_uint_ge(retries, 1); /* the retry, same id, got the original fill */
    ck_assert_uint_ge(b->retries, 1);
    send_delta(h, -1, 5);
    ck_assert_uint_eq(wait_reports(h, 1, 8000), 1);
    ck_assert_double_eq(b->position, 1);
    ck_assert_int_eq(venue_executed(), 2); /* executed once each at the venue too */
    ch_hedger_destroy(h);
    stop_venue(v);
}
END_TEST

START_TEST(nng_adapter_delay_and_reject)
{
    new_url();
    const char *const extra[] = {"--reject", "2", "--delay-ms", "50", NULL};
    pid_t v = start_venue(extra);
    ch_hedger *h = nng_hedger(300);
    send_delta(h, 1, -1);
    ck_assert_uint_eq(wait_reports(h, 1, 8000), 1); /* two rejections, then a fill */
    const ch_hedge_book *b = ch_hedger_book(h);
    ck_assert_double_eq(b->position, -1);
    ck_assert_uint_eq(b->rejects, 0);
    ck_assert_uint_ge(b->retries, 2);
    ch_hedger_destroy(h);
    stop_venue(v);
    /* a venue that rejects more often than max_attempts: reported rejected */
    new_url();
    const char *const many[] = {"--reject", "10", NULL};
    v = start_venue(many);
    h = nng_hedger(300);
    send_delta(h, 1, -1);
    ck_assert_uint_eq(wait_reports(h, 1, 8000), 1);
    b = ch_hedger_book(h);
    ck_assert_double_eq(b->position, 0);
    ck_assert_uint_eq(b->rejects, 1);
    /* the gap is open again: the next batch sends a new order */
    send_delta(h, 1, -1);
    ch_hedger_destroy(h);
    stop_venue(v);
}
END_TEST

START_TEST(nng_adapter_venue_down_then_up)
{
    new_url();
    ch_hedger *h = nng_hedger(100);
    send_delta(h, 2, -2);
    ck_assert_uint_eq(wait_reports(h, 1, 400), 0); /* nobody there */
    uint32_t inflight;
    uint64_t retries;
    ch_hedger_status(h, &inflight, &retries);
    ck_assert_uint_eq(inflight, 1); /* visible in the status, not lost, not booked */
    ck_assert_uint_ge(retries, 1);
    ck_assert_double_eq(ch_hedger_in_flight(h), -2);
    /* and a second batch does not send it again */
    send_delta(h, 2, 0);
    pid_t v = start_venue(NULL);
    ck_assert_uint_eq(wait_reports(h, 1, 8000), 1);
    ck_assert_double_eq(ch_hedger_book(h)->position, -2);
    ch_hedger_destroy(h);
    stop_venue(v);
}
END_TEST

/* A venue that hangs (SIGSTOP: it holds the connection and never answers):
 * the engine side never blocks, the order stays in flight and is not sent
 * twice; when the venue resumes it is executed and booked exactly once. */
START_TEST(nng_adapter_venue_hangs)
{
    new_url();
    pid_t v = start_venue(NULL);
    ch_hedger *h = nng_hedger(100);
    send_delta(h, 1, -1);
    ck_assert_uint_eq(wait_reports(h, 1, 5000), 1); /* connected and serving */
    ck_assert_int_eq(kill(v, SIGSTOP), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    send_delta(h, 3, -2);
    ck_assert_uint_eq(wait_reports(h, 1, 800), 0);
    send_delta(h, 3, 0); /* still in flight: nothing new is sent */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    ck_assert_double_lt(waited, 3.0); /* the calls themselves did not wait on the venue */
    uint32_t inflight;
    uint64_t retries;
    ch_hedger_status(h, &inflight, &retries);
    ck_assert_uint_eq(inflight, 1);
    ck_assert_uint_ge(retries, 1); /* timed out and retried with the same id */
    ck_assert_double_eq(ch_hedger_book(h)->position, -1);
    ck_assert_int_eq(kill(v, SIGCONT), 0);
    ck_assert_uint_eq(wait_reports(h, 1, 8000), 1);
    ck_assert_double_eq(ch_hedger_book(h)->position, -3);
    ck_assert_int_eq(venue_executed(), 2); /* retries did not execute it twice */
    ch_hedger_destroy(h);
    stop_venue(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hedge");
    TCase *tp = tcase_create("policies");
    tcase_add_test(tp, policy_off_and_every_batch);
    tcase_add_test(tp, policy_band);
    tcase_add_test(tp, policy_interval_and_hybrid);
    tcase_add_test(tp, policy_whalley_wilmott);
    suite_add_tcase(s, tp);
    TCase *tb = tcase_create("book");
    tcase_add_test(tb, fees_and_slippage);
    tcase_add_test(tb, funding_sign_and_amount);
    tcase_add_test(tb, book_pnl_and_basis);
    tcase_add_test(tb, hedger_with_sim_adapter);
    tcase_add_test(tb, hedger_two_phases_and_replay);
    suite_add_tcase(s, tb);
    TCase *tn = tcase_create("nng");
    tcase_set_timeout(tn, 60);
    tcase_add_test(tn, nng_adapter_fills);
    tcase_add_test(tn, nng_adapter_lost_replies_book_once);
    tcase_add_test(tn, nng_adapter_delay_and_reject);
    tcase_add_test(tn, nng_adapter_venue_down_then_up);
    tcase_add_test(tn, nng_adapter_venue_hangs);
    suite_add_tcase(s, tn);
    return ch_check_run(s);
}
