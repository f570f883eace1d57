/*
 * test_book.c - the order book: every order type, priority, partial fills,
 * cancels, replaces, self-trade prevention, bad input and capacity. The
 * integrity checker runs after every operation.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/core/snap.h" /* the book's snapshot, saved and loaded */
#include "ch/book.h"
#include "ch_check.h"

#define MAXEV 4096

static ch_event evs[MAXEV];
static size_t nev;
static ch_book *bk;

static void on_event(void *ctx, const ch_event *ev)
{
    (void)ctx;
    ck_assert_uint_lt(nev, MAXEV);
    if (nev > 0)
        ck_assert_uint_eq(ev->seq, evs[nev - 1].seq + 1);
    evs[nev++] = *ev;
}

static const ch_instr_id I0 = {0}, I1 = {1};
static const ch_account_id A = {1}, B = {2}, C = {3};

/* How the fixture's books index their levels: the "matching" case runs
 * with CH_LEVELS_AUTO (a band of 1000 ticks over at most 64 levels: sorted),
 * "matching by price" runs the same tests on price-indexed sides. */
static ch_level_index index_mode;

static void setup_sized(uint32_t max_orders, uint32_t max_levels)
{
    ch_book_config cfg = {.max_instruments = 4,
                          .max_orders = max_orders,
                          .max_levels = max_levels,
                          .on_event = on_event,
                          .level_index = index_mode};
    bk = ch_book_create(&cfg);
    ck_assert_ptr_nonnull(bk);
    ck_assert_int_eq(ch_book_add_instrument(bk, I0, 1, 1000), CH_OK);
    ck_assert_int_eq(ch_book_add_instrument(bk, I1, 1, 1000), CH_OK);
    nev = 0;
}

static void setup(void)
{
    index_mode = CH_LEVELS_AUTO;
    setup_sized(1024, 64);
}

static void setup_by_price(void)
{
    index_mode = CH_LEVELS_PRICE;
    setup_sized(1024, 64);
}

static void teardown(void)
{
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    ch_book_destroy(bk);
    bk = NULL;
}

static ch_order_req req(ch_account_id acct, ch_side side, int64_t price, int64_t qty)
{
    ch_order_req r = {.instr = I0, .account = acct, .side = side, .price = price, .qty = qty};
    return r;
}

static ch_order_result submit_r(ch_order_req r, ch_err want)
{
    ch_order_result res;
    nev = 0;
    ck_assert_int_eq(ch_book_submit(bk, &r, &res), want);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    return res;
}

static ch_order_id lim(ch_account_id acct, ch_side side, int64_t price, int64_t qty)
{
    return submit_r(req(acct, side, price, qty), CH_OK).id;
}

static size_t count(ch_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < nev; i++)
        n += evs[i].type == t;
    return n;
}

static const ch_event *nth(ch_event_type t, size_t k)
{
    for (size_t i = 0; i < nev; i++)
        if (evs[i].type == t && k-- == 0)
            return &evs[i];
    ck_abort_msg("no such event");
    return NULL;
}

static void best_is(ch_side side, int64_t price, int64_t qty)
{
    int64_t p, q;
    ck_assert_int_eq(ch_book_best(bk, I0, side, &p, &q), CH_OK);
    ck_assert_int_eq(p, price);
    ck_assert_int_eq(q, qty);
}

static void empty_side(ch_side side)
{
    int64_t p, q;
    ck_assert_int_eq(ch_book_best(bk, I0, side, &p, &q), CH_ENOTFOUND);
}

START_TEST(rests_and_depth)
{
    lim(A, CH_BUY, 100, 1);
    lim(A, CH_BUY, 102, 2);
    lim(A, CH_BUY, 101, 3);
    lim(A, CH_BUY, 102, 4);
    ck_assert_int_eq(count(CH_EV_ACK), 1);
    ck_assert_int_eq(count(CH_EV_REST), 1);
    lim(B, CH_SELL, 110, 5);
    lim(B, CH_SELL, 105, 6);
    ch_level lv[8];
    size_t n = ch_book_depth(bk, I0, CH_BUY, lv, 8);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(lv[0].price, 102);
    ck_assert_int_eq(lv[0].qty, 6);
    ck_assert_int_eq(lv[0].orders, 2);
    ck_assert_int_eq(lv[1].price, 101);
    ck_assert_int_eq(lv[2].price, 100);
    n = ch_book_depth(bk, I0, CH_SELL, lv, 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(lv[0].price, 105);
    best_is(CH_BUY, 102, 6);
    best_is(CH_SELL, 105, 6);
    ck_assert_uint_eq(ch_book_depth(bk, I1, CH_SELL, lv, 8), 0);
    ck_assert_uint_eq(ch_book_depth(bk, (ch_instr_id){3}, CH_SELL, lv, 8), 0);
    /* the prefetch hint changes nothing, on a full, an empty or no book */
    ch_book_prefetch(bk, I0);
    ch_book_prefetch(bk, I1);
    ch_book_prefetch(bk, (ch_instr_id){3});
    ch_book_prefetch(bk, (ch_instr_id){UINT32_MAX});
    best_is(CH_BUY, 102, 6);
    best_is(CH_SELL, 105, 6);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
}
END_TEST

START_TEST(price_then_time_priority)
{
    ch_order_id s1 = lim(A, CH_SELL, 101, 5);
    ch_order_id s2 = lim(B, CH_SELL, 100, 5);
    ch_order_id s3 = lim(A, CH_SELL, 100, 5);
    ch_order_result r = submit_r(req(C, CH_BUY, 101, 12), CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    ck_assert_int_eq(r.filled, 12);
    ck_assert_int_eq(count(CH_EV_FILL), 3);
    /* better price first, then oldest first, at the maker's price */
    ck_assert_uint_eq(nth(CH_EV_FILL, 0)->maker.v, s2.v);
    ck_assert_int_eq(nth(CH_EV_FILL, 0)->price, 100);
    ck_assert_uint_eq(nth(CH_EV_FILL, 1)->maker.v, s3.v);
    ck_assert_int_eq(nth(CH_EV_FILL, 1)->price, 100);
    ck_assert_uint_eq(nth(CH_EV_FILL, 2)->maker.v, s1.v);
    ck_assert_int_eq(nth(CH_EV_FILL, 2)->price, 101);
    ck_assert_int_eq(nth(CH_EV_FILL, 2)->qty, 2);
    ck_assert_int_eq(nth(CH_EV_FILL, 2)->maker_remaining, 3);
    ck_assert_int_eq(nth(CH_EV_FILL, 2)->remaining, 0);
    ck_assert_uint_eq(nth(CH_EV_FILL, 0)->trade_id + 2, nth(CH_EV_FILL, 2)->trade_id);
    ck_assert_uint_eq(nth(CH_EV_FILL, 0)->maker_account.v, B.v);
    best_is(CH_SELL, 101, 3);
    empty_side(CH_BUY);
    ch_order_info info;
    ck_assert_int_eq(ch_book_order(bk, s1, &info), CH_OK);
    ck_assert_int_eq(info.remaining, 3);
    ck_assert_int_eq(info.filled, 2);
    ck_assert_int_eq(ch_book_order(bk, s2, &info), CH_EUNKNOWN_ORDER);
}
END_TEST

START_TEST(partial_fill_rests_remainder)
{
    lim(A, CH_SELL, 100, 3);
    ch_order_result r = submit_r(req(B, CH_BUY, 100, 10), CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_PARTIALLY_FILLED);
    ck_assert_int_eq(r.filled, 3);
    ck_assert_int_eq(r.remaining, 7);
    ck_assert_int_eq(evs[0].type, CH_EV_ACK);
    ck_assert_int_eq(evs[1].type, CH_EV_FILL);
    ck_assert_int_eq(evs[2].type, CH_EV_REST);
    ck_assert_int_eq(evs[2].remaining, 7);
    best_is(CH_BUY, 100, 7);
    empty_side(CH_SELL);
    /* all events of one command share its sequence number */
    ck_assert_uint_eq(evs[0].cmd_seq, evs[2].cmd_seq);
}
END_TEST

START_TEST(event_mask_filters_delivery_only)
{
    ch_book_set_event_mask(bk, (1u << CH_EV_FILL) | (1u << CH_EV_CANCEL));
    lim(A, CH_SELL, 100, 3); /* ACK 1, REST 2: neither delivered */
    ck_assert_uint_eq(nev, 0);
    ch_order_result r = submit_r(req(B, CH_BUY, 100, 10), CH_OK); /* ACK 3, FILL 4, REST 5 */
    ck_assert_int_eq(r.status, CH_STATUS_PARTIALLY_FILLED);
    ck_assert_uint_eq(nev, 1);
    ck_assert_int_eq(evs[0].type, CH_EV_FILL);
    ck_assert_uint_eq(evs[0].seq, 4); /* filtered events keep their numbers */
    ck_assert_int_eq(evs[0].qty, 3);
    best_is(CH_BUY, 100, 7);
    nev = 0;
    ck_assert_int_eq(ch_book_cancel(bk, B, r.id, NULL), CH_OK); /* CANCEL 6 */
    ck_assert_uint_eq(nev, 1);
    ck_assert_int_eq(evs[0].type, CH_EV_CANCEL);
    ck_assert_uint_eq(evs[0].seq, 6);
    ch_book_set_event_mask(bk, CH_EV_ALL);
    lim(A, CH_BUY, 90, 1); /* ACK 7, REST 8 */
    ck_assert_uint_eq(nev, 2);
    ck_assert_int_eq(evs[0].type, CH_EV_ACK);
    ck_assert_uint_eq(evs[0].seq, 7);
    ck_assert_int_eq(evs[1].type, CH_EV_REST);
}
END_TEST

START_TEST(ioc)
{
    lim(A, CH_SELL, 100, 3);
    ch_order_req q = req(B, CH_BUY, 100, 5);
    q.tif = CH_TIF_IOC;
    ch_order_result r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_CANCELLED);
    ck_assert_int_eq(r.filled, 3);
    ck_assert_int_eq(r.cancelled, 2);
    ck_assert_int_eq(r.remaining, 0);
    ck_assert_int_eq(nth(CH_EV_CANCEL, 0)->reason, CH_OK);
    empty_side(CH_BUY);
    q.qty = 1;
    r = submit_r(q, CH_OK); /* nothing to take */
    ck_assert_int_eq(r.status, CH_STATUS_CANCELLED);
    ck_assert_int_eq(r.filled, 0);
    ck_assert_int_eq(ch_book_order(bk, r.id, &(ch_order_info){0}), CH_EUNKNOWN_ORDER);
}
END_TEST

START_TEST(fok)
{
    lim(A, CH_SELL, 100, 3);
    lim(A, CH_SELL, 101, 3);
    lim(A, CH_SELL, 103, 3);
    ch_order_req q = req(B, CH_BUY, 101, 7);
    q.tif = CH_TIF_FOK;
    ch_order_result r = submit_r(q, CH_EFOK);
    ck_assert_int_eq(r.status, CH_STATUS_REJECTED);
    ck_assert_int_eq(nev, 1);
    ck_assert_int_eq(evs[0].type, CH_EV_REJECT);
    ck_assert_int_eq(evs[0].reason, CH_EFOK);
    best_is(CH_SELL, 100, 3);
    q.qty = 6;
    r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    best_is(CH_SELL, 103, 3);
}
END_TEST

START_TEST(post_only)
{
    lim(A, CH_SELL, 100, 3);
    ch_order_req q = req(B, CH_BUY, 100, 1);
    q.post_only = true;
    submit_r(q, CH_EPOST_ONLY);
    ck_assert_int_eq(evs[0].reason, CH_EPOST_ONLY);
    q.price = 99;
    ch_order_result r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_NEW);
    best_is(CH_BUY, 99, 1);
    /* post-only is for resting limit orders only */
    q.tif = CH_TIF_IOC;
    submit_r(q, CH_EBADTYPE);
    q.tif = CH_TIF_GTC;
    q.type = CH_ORD_MARKET;
    submit_r(q, CH_EBADTYPE);
}
END_TEST

START_TEST(market_with_protection)
{
    lim(A, CH_SELL, 100, 1);
    lim(A, CH_SELL, 200, 1);
    lim(A, CH_SELL, 900, 1);
    ch_order_req q = req(B, CH_BUY, 200, 5);
    q.type = CH_ORD_MARKET;
    ch_order_result r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.filled, 2);
    ck_assert_int_eq(r.cancelled, 3);
    ck_assert_int_eq(r.status, CH_STATUS_CANCELLED);
    best_is(CH_SELL, 900, 1);
    empty_side(CH_BUY); /* a market order never rests */
    q.price = 0;        /* no protection: the band edge */
    q.qty = 1;
    r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    ck_assert_int_eq(evs[0].price, 1000);
    lim(A, CH_BUY, 50, 2);
    q = req(B, CH_SELL, 0, 2);
    q.type = CH_ORD_MARKET;
    q.tif = CH_TIF_FOK;
    r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    q.price = 1001;
    submit_r(q, CH_EBADPRICE);
}
END_TEST

START_TEST(cancel_rules)
{
    ch_order_id o = lim(A, CH_BUY, 100, 5);
    nev = 0;
    ck_assert_int_eq(ch_book_cancel(bk, B, o, NULL), CH_ENOT_OWNER);
    ck_assert_int_eq(evs[0].type, CH_EV_REJECT);
    ck_assert_int_eq(evs[0].reason, CH_ENOT_OWNER);
    best_is(CH_BUY, 100, 5);
    int64_t q = -1;
    nev = 0;
    ck_assert_int_eq(ch_book_cancel(bk, A, o, &q), CH_OK);
    ck_assert_int_eq(q, 5);
    ck_assert_int_eq(evs[0].type, CH_EV_CANCEL);
    ck_assert_int_eq(evs[0].qty, 5);
    empty_side(CH_BUY);
    ck_assert_int_eq(ch_book_cancel(bk, A, o, &q), CH_EUNKNOWN_ORDER); /* twice */
    ck_assert_int_eq(q, 0);
    /* the slot is reused with a new generation: the old id stays unknown */
    ch_order_id o2 = lim(A, CH_BUY, 100, 5);
    ck_assert_uint_eq(o2.v & 0xffffffffu, o.v & 0xffffffffu);
    ck_assert_uint_ne(o2.v, o.v);
    ck_assert_int_eq(ch_book_cancel(bk, A, o, NULL), CH_EUNKNOWN_ORDER);
    /* filled orders are gone */
    submit_r(req(B, CH_SELL, 100, 5), CH_OK);
    ck_assert_int_eq(ch_book_cancel(bk, A, o2, NULL), CH_EUNKNOWN_ORDER);
    /* ids never issued */
    ck_assert_int_eq(ch_book_cancel(bk, A, (ch_order_id){0}, NULL), CH_EUNKNOWN_ORDER);
    ck_assert_int_eq(ch_book_cancel(bk, A, (ch_order_id){UINT64_MAX}, NULL), CH_EUNKNOWN_ORDER);
    ck_assert_int_eq(ch_book_cancel(bk, A, (ch_order_id){(1ull << 32) | 1024}, NULL),
                     CH_EUNKNOWN_ORDER);
    ck_assert_int_eq(ch_book_cancel(bk, A, (ch_order_id){(1ull << 32) | 1025}, NULL),
                     CH_EUNKNOWN_ORDER);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
}
END_TEST

static void collect(void *ctx, const ch_order_info *o)
{
    ch_order_info *out = ctx;
    while (out->id.v != 0)
        out++;
    *out = *o;
}

START_TEST(replace_priority_rules)
{
    ch_order_id a = lim(A, CH_BUY, 100, 5);
    ch_order_id b = lim(B, CH_BUY, 100, 5);
    ch_order_result r;
    /* quantity down keeps priority */
    nev = 0;
    ck_assert_int_eq(ch_book_replace(bk, A, a, 3, 0, &r), CH_OK);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    ck_assert_int_eq(evs[0].type, CH_EV_REPLACE);
    ck_assert_int_eq(r.remaining, 3);
    ch_order_info list[4];
    memset(list, 0, sizeof list);
    ch_book_foreach(bk, I0, CH_BUY, collect, list);
    ck_assert_uint_eq(list[0].id.v, a.v);
    best_is(CH_BUY, 100, 8);
    /* quantity up loses it */
    ck_assert_int_eq(ch_book_replace(bk, A, a, 6, 0, &r), CH_OK);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    memset(list, 0, sizeof list);
    ch_book_foreach(bk, I0, CH_BUY, collect, list);
    ck_assert_uint_eq(list[0].id.v, b.v);
    ck_assert_uint_eq(list[1].id.v, a.v);
    best_is(CH_BUY, 100, 11);
    /* same price given explicitly, same qty: unchanged, keeps priority */
    ck_assert_int_eq(ch_book_replace(bk, B, b, 5, 100, &r), CH_OK);
    memset(list, 0, sizeof list);
    ch_book_foreach(bk, I0, CH_BUY, collect, list);
    ck_assert_uint_eq(list[0].id.v, b.v);
    /* price change loses it, even back to the same price later */
    ck_assert_int_eq(ch_book_replace(bk, B, b, 0, 99, &r), CH_OK);
    ck_assert_int_eq(ch_book_replace(bk, B, b, 0, 100, &r), CH_OK);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    memset(list, 0, sizeof list);
    ch_book_foreach(bk, I0, CH_BUY, collect, list);
    ck_assert_uint_eq(list[0].id.v, a.v);
    ck_assert_uint_eq(list[1].id.v, b.v);
    ck_assert_int_eq(r.status, CH_STATUS_NEW);
}
END_TEST

START_TEST(replace_errors_change_nothing)
{
    ch_order_id a = lim(A, CH_BUY, 100, 5);
    ch_order_result r;
    ck_assert_int_eq(ch_book_replace(bk, B, a, 3, 0, &r), CH_ENOT_OWNER);
    ck_assert_int_eq(r.status, CH_STATUS_REJECTED);
    ck_assert_int_eq(ch_book_replace(bk, A, a, 0, 0, &r), CH_EINVAL);
    ck_assert_int_eq(ch_book_replace(bk, A, a, -1, 0, &r), CH_EBADQTY);
    ck_assert_int_eq(ch_book_replace(bk, A, a, CH_QTY_MAX + 1, 0, &r), CH_EBADQTY);
    ck_assert_int_eq(ch_book_replace(bk, A, a, 0, -5, &r), CH_EBADPRICE);
    ck_assert_int_eq(ch_book_replace(bk, A, a, 0, 1001, &r), CH_EBADPRICE);
    ck_assert_int_eq(ch_book_replace(bk, A, (ch_order_id){12345}, 1, 0, &r), CH_EUNKNOWN_ORDER);
    best_is(CH_BUY, 100, 5);
    ch_order_info info;
    ck_assert_int_eq(ch_book_order(bk, a, &info), CH_OK);
    ck_assert_int_eq(info.price, 100);
    ck_assert_int_eq(info.remaining, 5);
}
END_TEST

START_TEST(replace_that_crosses_trades)
{
    lim(A, CH_SELL, 105, 2);
    lim(A, CH_SELL, 106, 2);
    ch_order_id b = lim(B, CH_BUY, 100, 5);
    ch_order_result r;
    nev = 0;
    ck_assert_int_eq(ch_book_replace(bk, B, b, 0, 105, &r), CH_OK);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    ck_assert_int_eq(evs[0].type, CH_EV_REPLACE);
    ck_assert_int_eq(count(CH_EV_FILL), 1);
    ck_assert_int_eq(nth(CH_EV_FILL, 0)->price, 105);
    ck_assert_uint_eq(nth(CH_EV_FILL, 0)->order.v, b.v);
    ck_assert_int_eq(count(CH_EV_REST), 1);
    ck_assert_int_eq(r.status, CH_STATUS_PARTIALLY_FILLED);
    ck_assert_int_eq(r.filled, 2);
    ck_assert_int_eq(r.remaining, 3);
    best_is(CH_BUY, 105, 3);
    best_is(CH_SELL, 106, 2);
    /* a later qty-down keeps the partially filled status */
    ck_assert_int_eq(ch_book_replace(bk, B, b, 1, 0, &r), CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_PARTIALLY_FILLED);
    /* fully filled by the replace */
    ck_assert_int_eq(ch_book_replace(bk, B, b, 2, 106, &r), CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    ck_assert_int_eq(ch_book_order(bk, b, &(ch_order_info){0}), CH_EUNKNOWN_ORDER);
    /* post-only orders refuse to cross by replace */
    lim(A, CH_SELL, 110, 2);
    ch_order_req q = req(B, CH_BUY, 100, 1);
    q.post_only = true;
    ch_order_id p = submit_r(q, CH_OK).id;
    ck_assert_int_eq(ch_book_replace(bk, B, p, 0, 110, &r), CH_EPOST_ONLY);
    ck_assert_int_eq(ch_book_replace(bk, B, p, 0, 109, &r), CH_OK);
    best_is(CH_BUY, 109, 1);
}
END_TEST

START_TEST(stp_cancel_incoming)
{
    lim(B, CH_SELL, 100, 1);
    ch_order_id own = lim(A, CH_SELL, 100, 5);
    lim(B, CH_SELL, 100, 1);
    ch_order_result r = submit_r(req(A, CH_BUY, 100, 4), CH_OK); /* default mode */
    ck_assert_int_eq(r.filled, 1);
    ck_assert_int_eq(r.cancelled, 3);
    ck_assert_int_eq(r.status, CH_STATUS_CANCELLED);
    ck_assert_int_eq(nth(CH_EV_CANCEL, 0)->reason, CH_ESELF_TRADE);
    ck_assert_int_eq(ch_book_order(bk, own, &(ch_order_info){0}), CH_OK);
    best_is(CH_SELL, 100, 6);
    empty_side(CH_BUY);
}
END_TEST

START_TEST(stp_cancel_resting)
{
    lim(B, CH_SELL, 100, 1);
    ch_order_id own = lim(A, CH_SELL, 100, 5);
    lim(B, CH_SELL, 101, 1);
    ch_order_req q = req(A, CH_BUY, 101, 4);
    q.stp = CH_STP_CANCEL_RESTING;
    ch_order_result r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.filled, 2);
    ck_assert_int_eq(r.remaining, 2);
    ck_assert_int_eq(r.status, CH_STATUS_PARTIALLY_FILLED);
    ck_assert_int_eq(count(CH_EV_CANCEL), 1);
    ck_assert_uint_eq(nth(CH_EV_CANCEL, 0)->order.v, own.v);
    ck_assert_int_eq(nth(CH_EV_CANCEL, 0)->reason, CH_ESELF_TRADE);
    ck_assert_int_eq(nth(CH_EV_CANCEL, 0)->qty, 5);
    empty_side(CH_SELL);
    best_is(CH_BUY, 101, 2);
}
END_TEST

START_TEST(stp_cancel_both)
{
    ch_order_id own = lim(A, CH_SELL, 100, 5);
    lim(B, CH_SELL, 100, 1);
    ch_order_req q = req(A, CH_BUY, 100, 4);
    q.stp = CH_STP_CANCEL_BOTH;
    ch_order_result r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.filled, 0);
    ck_assert_int_eq(r.status, CH_STATUS_CANCELLED);
    ck_assert_int_eq(count(CH_EV_CANCEL), 2);
    ck_assert_uint_eq(nth(CH_EV_CANCEL, 0)->order.v, own.v);
    ck_assert_uint_eq(nth(CH_EV_CANCEL, 1)->order.v, r.id.v);
    best_is(CH_SELL, 100, 1);
    empty_side(CH_BUY);
}
END_TEST

START_TEST(stp_with_fok)
{
    lim(B, CH_SELL, 100, 2);
    lim(A, CH_SELL, 100, 5);
    lim(B, CH_SELL, 100, 2);
    ch_order_req q = req(A, CH_BUY, 100, 4);
    q.tif = CH_TIF_FOK; /* cancel-incoming stops after 2: cannot fill 4 */
    submit_r(q, CH_EFOK);
    best_is(CH_SELL, 100, 9);
    q.stp = CH_STP_CANCEL_RESTING; /* own order cancelled, 4 from B */
    ch_order_result r = submit_r(q, CH_OK);
    ck_assert_int_eq(r.status, CH_STATUS_FILLED);
    empty_side(CH_SELL);
}
END_TEST

START_TEST(bad_inputs_change_nothing)
{
    lim(A, CH_BUY, 100, 5);
    ch_book_stats before, after;
    ch_book_get_stats(bk, &before);
    ch_order_req q = req(B, CH_SELL, 100, 0);
    submit_r(q, CH_EBADQTY);
    q.qty = -3;
    submit_r(q, CH_EBADQTY);
    q.qty = CH_QTY_MAX + 1;
    submit_r(q, CH_EBADQTY);
    q.qty = 1;
    q.price = 0;
    submit_r(q, CH_EBADPRICE);
    q.price = -100;
    submit_r(q, CH_EBADPRICE);
    q.price = 1001;
    submit_r(q, CH_EBADPRICE);
    q.price = 100;
    q.instr = (ch_instr_id){2}; /* in range, never added */
    submit_r(q, CH_EUNKNOWN_SYMBOL);
    q.instr = (ch_instr_id){99};
    submit_r(q, CH_EUNKNOWN_SYMBOL);
    q.instr = I0;
    q.side = (ch_side)7;
    submit_r(q, CH_EBADSIDE);
    q.side = CH_SELL;
    q.tif = (ch_tif)9;
    submit_r(q, CH_EBADTYPE);
    q.tif = CH_TIF_GTC;
    q.type = (ch_ord_type)9;
    submit_r(q, CH_EBADTYPE);
    q.type = CH_ORD_LIMIT;
    q.stp = (ch_stp)9;
    submit_r(q, CH_EBADTYPE);
    ck_assert_int_eq(nev, 1);
    ck_assert_int_eq(evs[0].type, CH_EV_REJECT);
    ch_book_get_stats(bk, &after);
    ck_assert_uint_eq(after.open_orders, before.open_orders);
    ck_assert_uint_eq(after.trades, before.trades);
    ck_assert_uint_eq(after.free_orders, before.free_orders);
    ck_assert_uint_eq(after.commands, before.commands + 12);
    best_is(CH_BUY, 100, 5);
}
END_TEST

START_TEST(order_capacity)
{
    teardown();
    setup_sized(3, 64);
    ch_order_id a = lim(A, CH_BUY, 100, 1);
    lim(A, CH_BUY, 101, 1);
    lim(A, CH_BUY, 102, 1);
    submit_r(req(A, CH_BUY, 99, 1), CH_ECAPACITY);
    ch_order_req q = req(B, CH_SELL, 102, 1);
    q.tif = CH_TIF_IOC;
    submit_r(q, CH_ECAPACITY); /* even an IOC needs a slot while it runs */
    ck_assert_int_eq(ch_book_cancel(bk, A, a, NULL), CH_OK);
    ck_assert_int_eq(submit_r(q, CH_OK).status, CH_STATUS_FILLED);
    lim(A, CH_BUY, 99, 1);
    ch_book_stats st;
    ch_book_get_stats(bk, &st);
    ck_assert_uint_eq(st.free_orders, 1);
}
END_TEST

START_TEST(level_capacity)
{
    teardown();
    setup_sized(64, 2);
    lim(A, CH_SELL, 200, 1);
    lim(A, CH_SELL, 201, 1);
    lim(A, CH_BUY, 100, 1);
    lim(A, CH_BUY, 101, 1);
    submit_r(req(A, CH_BUY, 99, 1), CH_ECAPACITY); /* a third level */
    lim(A, CH_BUY, 100, 1);                        /* an existing level */
    ch_order_req q = req(B, CH_BUY, 200, 1);       /* fully filled: no level */
    ck_assert_int_eq(submit_r(q, CH_OK).status, CH_STATUS_FILLED);
    q.price = 201;
    q.qty = 2; /* would rest at a new level: refused before trading */
    submit_r(q, CH_ECAPACITY);
    best_is(CH_SELL, 201, 1);
    q.tif = CH_TIF_IOC; /* an IOC never rests */
    ck_assert_int_eq(submit_r(q, CH_OK).filled, 1);
    /* replace: moving to a new level when full is refused, unless the
     * order's own level empties */
    ch_order_id x = lim(B, CH_SELL, 300, 1);
    lim(B, CH_SELL, 301, 1);
    ch_order_result r;
    ck_assert_int_eq(ch_book_replace(bk, B, x, 0, 302, &r), CH_OK);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    ch_order_id y = lim(B, CH_SELL, 301, 1);
    ck_assert_int_eq(ch_book_replace(bk, B, y, 0, 303, &r), CH_ECAPACITY);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
}
END_TEST

START_TEST(close_instrument)
{
    lim(A, CH_BUY, 100, 1);
    lim(B, CH_SELL, 200, 2);
    lim(B, CH_SELL, 200, 3);
    nev = 0;
    ck_assert_int_eq(ch_book_close_instrument(bk, I0), CH_OK);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    ck_assert_int_eq(count(CH_EV_CANCEL), 3);
    ck_assert_int_eq(nth(CH_EV_CANCEL, 0)->reason, CH_EEXPIRED);
    empty_side(CH_BUY);
    empty_side(CH_SELL);
    submit_r(req(A, CH_BUY, 100, 1), CH_EEXPIRED);
    ck_assert_int_eq(ch_book_close_instrument(bk, (ch_instr_id){3}), CH_EUNKNOWN_SYMBOL);
    ch_book_stats st;
    ch_book_get_stats(bk, &st);
    ck_assert_uint_eq(st.open_orders, 0);
}
END_TEST

START_TEST(take_for_netting)
{
    lim(A, CH_SELL, 100, 2);
    lim(B, CH_SELL, 100, 2);
    lim(B, CH_SELL, 102, 2);
    int64_t f;
    nev = 0;
    ck_assert_int_eq(ch_book_take(bk, I0, CH_SELL, 101, 10, A, &f), CH_OK);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    ck_assert_int_eq(f, 2); /* A's own order passed over, 102 beyond the limit */
    ck_assert_int_eq(count(CH_EV_FILL), 1);
    ck_assert_uint_eq(nth(CH_EV_FILL, 0)->order.v, 0);
    ck_assert_int_eq(nth(CH_EV_FILL, 0)->price, 100);
    best_is(CH_SELL, 100, 2);
    ck_assert_int_eq(ch_book_take(bk, I0, CH_SELL, 102, 3, C, &f), CH_OK);
    ck_assert_int_eq(f, 3);
    best_is(CH_SELL, 102, 1);
    ck_assert_int_eq(ch_book_take(bk, I0, CH_SELL, 102, 0, C, &f), CH_EBADQTY);
    ck_assert_int_eq(ch_book_take(bk, (ch_instr_id){3}, CH_SELL, 102, 1, C, &f),
                     CH_EUNKNOWN_SYMBOL);
}
END_TEST

START_TEST(many_instruments)
{
    teardown();
    ch_book_config cfg = {
        .max_instruments = 1000, .max_orders = 50000, .max_levels = 32, .on_event = NULL};
    bk = ch_book_create(&cfg);
    for (uint32_t i = 0; i < 1000; i++)
        ck_assert_int_eq(ch_book_add_instrument(bk, (ch_instr_id){i}, 1, 100000), CH_OK);
    ck_assert_int_eq(ch_book_add_instrument(bk, (ch_instr_id){1000}, 1, 10), CH_ERANGE);
    ck_assert_int_eq(ch_book_add_instrument(bk, (ch_instr_id){5}, 1, 10), CH_EEXISTS);
    for (uint32_t i = 0; i < 1000; i++) {
        for (int k = 0; k < 20; k++) {
            ch_order_req q = {.instr = {i},
                              .account = {(uint32_t)k % 3},
                              .side = k % 2,
                              .price = 500 + (k % 2 ? 10 : -10) + k,
                              .qty = 1 + k};
            ck_assert_int_eq(ch_book_submit(bk, &q, NULL), CH_OK);
        }
    }
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
    ch_book_stats st;
    ch_book_get_stats(bk, &st);
    ck_assert_uint_eq(st.open_orders, 20000);
    ck_assert_ptr_null(
        ch_book_create(&(ch_book_config){.max_instruments = 1, .max_orders = 0, .max_levels = 1}));
    ch_book_destroy(NULL);
}
END_TEST

/* Which index a band gets, and what each mode refuses. */
START_TEST(level_index_modes)
{
    teardown();
    ck_assert_ptr_null(ch_book_create(&(ch_book_config){
        .max_instruments = 1, .max_orders = 8, .max_levels = 4, .level_index = 3}));
    ch_book_config cfg = {.max_instruments = 4, .max_orders = 64, .max_levels = 100};
    bk = ch_book_create(&cfg);
    /* AUTO: price-indexed when the band's ticks fit in max_levels, sorted
     * beyond (a band of 2^23 ticks: no 256 MiB side) */
    ck_assert_int_eq(ch_book_add_instrument(bk, I0, 1, 100), CH_OK);
    ck_assert_int_eq(ch_book_add_instrument(bk, I1, 1, 1 << 23), CH_OK);
    ch_book_destroy(bk);
    /* a band wider than CH_LEVELS_PRICE_MAX that fits max_levels: sorted */
    cfg.max_levels = CH_LEVELS_PRICE_MAX + 1;
    bk = ch_book_create(&cfg);
    ck_assert_int_eq(ch_book_add_instrument(bk, I0, 1, CH_LEVELS_PRICE_MAX + 1), CH_OK);
    ch_book_destroy(bk);
    cfg.max_levels = 100;
    cfg.level_index = CH_LEVELS_PRICE;
    bk = ch_book_create(&cfg);
    ck_assert_int_eq(ch_book_add_instrument(bk, I0, 1, CH_LEVELS_PRICE_MAX), CH_OK);
    ck_assert_int_eq(ch_book_add_instrument(bk, I1, 1, CH_LEVELS_PRICE_MAX + 1), CH_EBADCONFIG);
    ck_assert_int_eq(ch_book_add_instrument(bk, I1, 1, 1000), CH_OK);
    /* the band's edges are levels like any other; the best falls from the
     * top of the band to its bottom over every empty tick */
    ch_order_req lo = {.instr = I1, .account = A, .side = CH_BUY, .price = 1, .qty = 2};
    ch_order_req hi = lo;
    hi.price = 1000;
    ch_order_result rl, rh;
    ck_assert_int_eq(ch_book_submit(bk, &lo, &rl), CH_OK);
    ck_assert_int_eq(ch_book_submit(bk, &hi, &rh), CH_OK);
    int64_t p, q;
    ck_assert_int_eq(ch_book_best(bk, I1, CH_BUY, &p, &q), CH_OK);
    ck_assert_int_eq(p, 1000);
    ck_assert_int_eq(ch_book_cancel(bk, A, rh.id, NULL), CH_OK);
    ck_assert_int_eq(ch_book_best(bk, I1, CH_BUY, &p, &q), CH_OK);
    ck_assert_int_eq(p, 1);
    ch_order_req sell = {.instr = I1, .account = B, .side = CH_SELL, .price = 1, .qty = 2};
    ck_assert_int_eq(ch_book_submit(bk, &sell, &rl), CH_OK);
    ck_assert_int_eq(rl.filled, 2);
    ck_assert_int_eq(ch_book_best(bk, I1, CH_BUY, &p, &q), CH_ENOTFOUND);
    ck_assert_int_eq(ch_book_check(bk), CH_OK);
}
END_TEST

/* A price-indexed side finds the next level through its marks, a bit a
 * tick, 64 a word: levels on both sides of word edges, walked by depth, a
 * sweep and cancels of the best, on both sides of the book. */
START_TEST(price_index_across_mark_words)
{
    teardown();
    ch_book_config cfg = {.max_instruments = 1,
                          .max_orders = 64,
                          .max_levels = 16,
                          .on_event = on_event,
                          .level_index = CH_LEVELS_PRICE};
    bk = ch_book_create(&cfg);
    ck_assert_int_eq(ch_book_add_instrument(bk, I0, 1, 300), CH_OK);
    static const int64_t px[] = {1, 63, 64, 65, 127, 128, 129, 200, 256, 300};
    enum { N = sizeof px / sizeof px[0] };
    ch_order_id bid[N], ask[N];
    for (int k = 0; k < N; k++) {
        bid[k] = lim(A, CH_BUY, px[k], 1 + k);
        ck_assert_int_eq(ch_book_cancel(bk, A, bid[k], NULL), CH_OK); /* the bids go first */
    }
    for (int k = 0; k < N; k++)
        bid[k] = lim(A, CH_BUY, px[k], 1 + k);
    ch_level lv[N];
    ck_assert_uint_eq(ch_book_depth(bk, I0, CH_BUY, lv, N), N);
    for (int k = 0; k < N; k++)
        ck_assert_int_eq(lv[k].price, px[N - 1 - k]);
    /* cancel the best, then a middle one: the best falls over the gaps */
    ck_assert_int_eq(ch_book_cancel(bk, A, bid[N - 1], NULL), CH_OK);
    ck_assert_int_eq(ch_book_cancel(bk, A, bid[5], NULL), CH_OK); /* 128 */
    best_is(CH_BUY, 256, N - 1);
    ck_assert_int_eq(ch_book_cancel(bk, A, bid[N - 2], NULL), CH_OK);
    best_is(CH_BUY, 200, N - 2);
    ck_assert_int_eq(ch_book_cancel(bk, A, bid[N - 3], NULL), CH_OK);
    best_is(CH_BUY, 129, 7);
    /* a sell sweeping every bid from 129 down to 64 (1+...: 7 + 5 + 4 + 3 lots) */
    ch_order_result r = submit_r(
        (ch_order_req){
            .instr = I0, .account = B, .side = CH_SELL, .tif = CH_TIF_IOC, .price = 64, .qty = 100},
        CH_OK);
    ck_assert_int_eq(r.filled, 7 + 5 + 4 + 3);
    best_is(CH_BUY, 63, 2);
    ck_assert_uint_eq(ch_book_depth(bk, I0, CH_BUY, lv, N), 2);
    ck_assert_int_eq(lv[1].price, 1);
    /* asks: keys are -price, so the marks run the other way */
    for (int k = 0; k < N; k++)
        ask[k] = lim(B, CH_SELL, px[k] > 63 ? px[k] : px[k] + 100, 1);
    best_is(CH_SELL, 64, 1);
    ck_assert_int_eq(ch_book_cancel(bk, B, ask[2], NULL), CH_OK); /* 64 */
    best_is(CH_SELL, 65, 1);
    ck_assert_uint_eq(ch_book_depth(bk, I0, CH_SELL, lv, 3), 3);
    ck_assert_int_eq(lv[1].price, 101);
    ck_assert_int_eq(lv[2].price, 127);
}
END_TEST

/* A snapshot's levels (those that hold orders, worst first) load into
 * either index: sorted to price-indexed and back, byte for byte the same
 * snapshot and the same book; levels out of order or out of the band are
 * refused. */
static void snap_fill(ch_book *b)
{
    for (int k = 0; k < 40; k++) {
        ch_order_req q = {.instr = k % 2 ? I0 : I1,
                          .account = {(uint32_t)(k % 3)},
                          .side = k % 4 < 2 ? CH_BUY : CH_SELL,
                          .price = k % 4 < 2 ? 400 - 7 * k : 600 + 5 * k,
                          .qty = 1 + k};
        ch_order_result r;
        ck_assert_int_eq(ch_book_submit(b, &q, &r), CH_OK);
        if (k % 5 == 2) /* empty levels under the best */
            ck_assert_int_eq(ch_book_cancel(b, q.account, r.id, NULL), CH_OK);
    }
}

static ch_book *snap_book(ch_level_index mode)
{
    ch_book_config cfg = {
        .max_instruments = 4, .max_orders = 256, .max_levels = 1000, .level_index = mode};
    ch_book *b = ch_book_create(&cfg);
    ck_assert_ptr_nonnull(b);
    return b;
}

static chi_wr snap_of(const ch_book *b)
{
    chi_wr w = {.grow = true};
    chi_book_save(b, &w);
    ck_assert(!w.bad);
    return w;
}

START_TEST(snapshot_between_index_modes)
{
    ch_book *sorted = snap_book(CH_LEVELS_SORTED);
    ck_assert_int_eq(ch_book_add_instrument(sorted, I0, 1, 1000), CH_OK);
    ck_assert_int_eq(ch_book_add_instrument(sorted, I1, 1, 1000), CH_OK);
    snap_fill(sorted);
    chi_wr a = snap_of(sorted);
    ch_book *by_price = snap_book(CH_LEVELS_PRICE);
    chi_rd r = {.p = a.buf, .len = a.n};
    ck_assert(chi_book_load(by_price, &r));
    ck_assert_uint_eq(r.n, a.n);
    ck_assert_int_eq(ch_book_check(by_price), CH_OK);
    chi_wr b = snap_of(by_price);
    ck_assert_uint_eq(b.n, a.n);
    ck_assert_mem_eq(b.buf, a.buf, a.n);
    for (int side = 0; side < 2; side++) {
        ch_level da[64], db[64];
        size_t na = ch_book_depth(sorted, I0, (ch_side)side, da, 64),
               nb = ch_book_depth(by_price, I0, (ch_side)side, db, 64);
        ck_assert_uint_eq(na, nb);
        ck_assert_uint_gt(na, 2);
        for (size_t k = 0; k < na; k++) {
            ck_assert_int_eq(da[k].price, db[k].price);
            ck_assert_int_eq(da[k].qty, db[k].qty);
            ck_assert_uint_eq(da[k].orders, db[k].orders);
        }
    }
    /* and back: the price-indexed book's snapshot into a sorted one */
    ch_book *again = snap_book(CH_LEVELS_SORTED);
    r = (chi_rd){.p = b.buf, .len = b.n};
    ck_assert(chi_book_load(again, &r));
    ck_assert_int_eq(ch_book_check(again), CH_OK);
    chi_wr c = snap_of(again);
    ck_assert_mem_eq(c.buf, a.buf, a.n);

    /* the last level written, I1's best ask (key -price), moved out of the
     * band, under it, or onto the level before it: refused by both indexes */
    size_t lv_size = sizeof(int64_t) * 2 + sizeof(uint32_t) * 4, last = a.n - lv_size; /* its key */
    int64_t before;
    memcpy(&before, a.buf + last - lv_size, sizeof before);
    for (int mode = CH_LEVELS_SORTED; mode <= CH_LEVELS_PRICE; mode++) {
        int64_t keys[3] = {-2000, 0, before}; /* out of the band (both ends); a duplicate */
        for (int k = 0; k < 3; k++) {
            uint8_t *bad = malloc(a.n);
            memcpy(bad, a.buf, a.n);
            memcpy(bad + last, &keys[k], sizeof keys[k]);
            ch_book *x = snap_book((ch_level_index)mode);
            r = (chi_rd){.p = bad, .len = a.n};
            ck_assert(!chi_book_load(x, &r));
            ch_book_destroy(x);
            free(bad);
        }
    }
    free(a.buf);
    free(b.buf);
    free(c.buf);
    ch_book_destroy(sorted);
    ch_book_destroy(by_price);
    ch_book_destroy(again);
}
END_TEST

static void add_matching_tests(TCase *tc)
{
    tcase_add_test(tc, rests_and_depth);
    tcase_add_test(tc, price_then_time_priority);
    tcase_add_test(tc, partial_fill_rests_remainder);
    tcase_add_test(tc, event_mask_filters_delivery_only);
    tcase_add_test(tc, ioc);
    tcase_add_test(tc, fok);
    tcase_add_test(tc, post_only);
    tcase_add_test(tc, market_with_protection);
    tcase_add_test(tc, cancel_rules);
    tcase_add_test(tc, replace_priority_rules);
    tcase_add_test(tc, replace_errors_change_nothing);
    tcase_add_test(tc, replace_that_crosses_trades);
    tcase_add_test(tc, stp_cancel_incoming);
    tcase_add_test(tc, stp_cancel_resting);
    tcase_add_test(tc, stp_cancel_both);
    tcase_add_test(tc, stp_with_fok);
    tcase_add_test(tc, bad_inputs_change_nothing);
    tcase_add_test(tc, order_capacity);
    tcase_add_test(tc, level_capacity);
    tcase_add_test(tc, close_instrument);
    tcase_add_test(tc, take_for_netting);
}

int main(void)
{
    Suite *s = suite_create("book");
    TCase *tc = tcase_create("matching");
    tcase_add_checked_fixture(tc, setup, teardown);
    add_matching_tests(tc);
    tcase_add_test(tc, many_instruments);
    tcase_add_test(tc, level_index_modes);
    tcase_add_test(tc, price_index_across_mark_words);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("matching by price");
    tcase_add_checked_fixture(tp, setup_by_price, teardown);
    add_matching_tests(tp);
    suite_add_tcase(s, tp);
    TCase *ts = tcase_create("snapshots");
    tcase_add_test(ts, snapshot_between_index_modes);
    suite_add_tcase(s, ts);
    return ch_check_run(s);
}
