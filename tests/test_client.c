/*
 * test_client.c - every typed call of libchclient against a real chd, in one
 * encoding (run by test_chd.py once with "json" and once with "binary"
 * against the same daemon), including the error codes a client can provoke,
 * each surfacing as its ch_err:
 *
 *   test_client URL json|binary ADMIN_KEY
 *
 * and, without a daemon, that the key set with ch_client_set_key() travels
 * with every typed call in both encodings and that a reply which is not a
 * protocol reply is CH_EIO (a fake server on inproc://):
 *
 *   test_client keycheck
 *
 * Exit status 0 when every check passed; the first failure is printed.
 */
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/protocol/pubsub0/pub.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ch/client.h"
#include "ch/proto_bin.h"
#include "ch/proto_msg.h"

static int g_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        g_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A call that must fail with @p code, with the server's message. */
#define CHECK_ERR(c, call, code)                                                                   \
    do {                                                                                           \
        ch_err e_ = (call);                                                                        \
        if (e_ != (code))                                                                          \
            fprintf(stderr, "%s:%d: got %s (%s), want %s\n", __FILE__, __LINE__, ch_errwire(e_),   \
                    ch_client_message(c), ch_errwire(code));                                       \
        CHECK(e_ == (code));                                                                       \
        CHECK(ch_client_message(c)[0] != '\0');                                                    \
    } while (0)

#define OK(c, call) CHECK_ERR_OK(c, call)
#define CHECK_ERR_OK(c, call)                                                                      \
    do {                                                                                           \
        ch_err e_ = (call);                                                                        \
        if (e_ != CH_OK)                                                                           \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, ch_errwire(e_),                 \
                    ch_client_message(c));                                                         \
        CHECK(e_ == CH_OK);                                                                        \
    } while (0)

static double tick(double x)
{
    return round(x * 2) / 2;
}

static ch_client_order limit(const char *account, const char *symbol, ch_client_side side,
                             int64_t qty, double price)
{
    return (ch_client_order){.account = account,
                             .symbol = symbol,
                             .side = side,
                             .qty = qty,
                             .has_price = true,
                             .price = price};
}

static void against_chd(const char *url, bool binary, const char *admin_key)
{
    ch_client *c;
    CHECK(ch_client_open(url, 10000, &c) == 0);
    ch_client_set_binary(c, binary);
    OK(c, ch_client_set_key(c, admin_key)); /* sent with every call: the operator's */
    char big_key[300];
    memset(big_key, 'k', sizeof big_key - 1);
    big_key[sizeof big_key - 1] = '\0';
    CHECK(ch_client_set_key(c, big_key) == CH_EINVAL);
    const char *p = binary ? "b" : "j";
    char alice[32], bob[32], poor[32], rich[32], sym[64], call[64], put[64];
    snprintf(alice, sizeof alice, "%s_alice", p);
    snprintf(bob, sizeof bob, "%s_bob", p);
    snprintf(poor, sizeof poor, "%s_poor", p);
    snprintf(rich, sizeof rich, "%s_rich", p);

    /* hello, instruments, instrument.add */
    ch_client_hello_info h;
    OK(c, ch_client_hello(c, &h));
    CHECK(h.version == 1);
    CHECK(strcmp(h.server, "chd") == 0);
    CHECK(h.n_underlyings >= 1 && strcmp(h.underlyings[0].name, "BTC") == 0);
    CHECK(strcmp(h.software, ch_client_version()) == 0);
    ch_client_release(h.underlyings);
    ch_client_instrument *ins = NULL;
    size_t n_ins = 0;
    OK(c, ch_client_instruments(c, "BTC", &ins, &n_ins));
    CHECK(n_ins >= 72);
    const ch_client_instrument *first = NULL;
    for (size_t i = 0; i < n_ins; i++) {
        CHECK(ins[i].tick == 0.5 && strcmp(ins[i].underlying, "BTC") == 0);
        if (strcmp(ins[i].type, "call") == 0 && ins[i].strike == 100000 &&
            (first == NULL || strcmp(ins[i].expiry, first->expiry) < 0))
            first = &ins[i];
    }
    CHECK(first != NULL);
    snprintf(call, sizeof call, "%s", first->symbol);
    snprintf(put, sizeof put, "%.*s-P", (int)strlen(call) - 2, call);
    char expiry[16]; /* e.g. 27NOV26, the second part of the symbol */
    snprintf(expiry, sizeof expiry, "%.*s", (int)(strchr(call + 4, '-') - (call + 4)), call + 4);
    ch_client_release(ins);
    CHECK_ERR(c, ch_client_instruments(c, "NOPE", &ins, &n_ins), CH_EUNKNOWN_SYMBOL);
    snprintf(sym, sizeof sym, "BTC-%s-%s-C", expiry, binary ? "124000" : "123000");
    ch_client_instrument added;
    OK(c, ch_client_instrument_add(c, sym, &added));
    CHECK(strcmp(added.symbol, sym) == 0 && added.strike == (binary ? 124000 : 123000));
    CHECK(strcmp(added.type, "call") == 0 && added.id >= 72);
    CHECK_ERR(c, ch_client_instrument_add(c, "garbage", NULL), CH_EUNKNOWN_SYMBOL);

    /* accounts and the pool */
    ch_client_account a;
    OK(c, ch_client_account_open(c, alice, 2000000, &a));
    CHECK(strcmp(a.account, alice) == 0 && a.cash == 2000000 && strlen(a.key) == 32);
    CHECK_ERR(c, ch_client_account_open(c, alice, 1, NULL), CH_EBADREQ);
    OK(c, ch_client_account_open(c, bob, 2000000, NULL));
    OK(c, ch_client_account_open(c, poor, 1000, NULL));
    OK(c, ch_client_account_open(c, rich, 50000000, NULL));
    double cash = 0, nav = 0;
    OK(c, ch_client_account_deposit(c, alice, 100.5, &cash));
    CHECK(cash == 2000100.5);
    CHECK_ERR(c, ch_client_account_deposit(c, "nobody", 1, &cash), CH_EUNAUTHORIZED);
    int64_t shares = 0;
    OK(c, ch_client_pool_deposit(c, alice, 1000, &shares, &nav));
    CHECK(shares > 0 && nav > 0);
    OK(c, ch_client_pool_withdraw(c, alice, shares, &cash, &nav));
    CHECK(cash > 0 && nav > 0);
    CHECK_ERR(c, ch_client_pool_withdraw(c, alice, shares, &cash, &nav), CH_EFUNDS);
    /* a strike tranche: created, funded, listed, drawn from (run twice: JSON
     * then binary, so the binary run's tranche is the second) */
    uint32_t tid = 0;
    OK(c, ch_client_tranche_add(c, "BTC", binary ? 200000 : 190000, binary ? 210000 : 200000, NULL,
                                NULL, &tid));
    CHECK(tid >= 1);
    CHECK_ERR(c, ch_client_tranche_add(c, "BTC", 1, 2, "2026-12-25T08:00:00Z", NULL, &tid),
              CH_EINVAL);
    OK(c, ch_client_tranche_deposit(c, alice, tid, 500, &shares, &nav));
    CHECK(shares > 0 && nav == 1.0);
    ch_client_pool_info gp;
    ch_client_tranche *tr = NULL;
    size_t ntr = 0;
    OK(c, ch_client_pools(c, "BTC", &gp, &tr, &ntr));
    CHECK(ntr >= 1 && tr[ntr - 1].tranche == tid && tr[ntr - 1].cash == 500 &&
          tr[ntr - 1].shares == shares && tr[ntr - 1].expiry_lo[0] == '\0' &&
          strncmp(tr[ntr - 1].account, "tranche#", 8) == 0 && gp.shares > 0);
    ch_client_release(tr);
    OK(c, ch_client_tranche_withdraw(c, alice, tid, shares, &cash, &nav));
    CHECK(cash == 500);
    CHECK_ERR(c, ch_client_tranche_withdraw(c, alice, tid, 1, &cash, &nav), CH_EFUNDS);

    /* market data: vol by expiry and by symbol, funding, perp */
    ch_client_vol iv[2] = {{expiry, 0.6}, {call, 0.6}};
    ch_client_market m = {.underlying = "BTC",
                          .index = 100000,
                          .has_funding_rate = true,
                          .funding_rate = 0.0001,
                          .has_perp = true,
                          .perp = 100010,
                          .iv = iv,
                          .n_iv = 1};
    uint64_t seq = 0, seq2 = 0;
    OK(c, ch_client_market_update(c, &m, &seq));
    m.iv = &iv[1];
    OK(c, ch_client_market_update(c, &m, &seq2));
    CHECK(seq > 0 && seq2 > seq);
    m.n_iv = 2; /* a flat vol and a strike vol for one expiry: refused whole */
    m.iv = iv;
    CHECK_ERR(c, ch_client_market_update(c, &m, NULL), CH_EBADREQ);
    m.n_iv = 0;
    m.underlying = "NOPE";
    CHECK_ERR(c, ch_client_market_update(c, &m, NULL), CH_EUNKNOWN_SYMBOL);
    m.underlying = "BTC";
    m.index = -1;
    CHECK_ERR(c, ch_client_market_update(c, &m, NULL), CH_EBADPRICE);

    /* trading: bob's put offer, alice's call buy nets against it */
    ch_client_quote_info q;
    OK(c, ch_client_quote(c, call, CH_CLIENT_BUY, 2, &q));
    CHECK(q.price > q.model && q.model > 0 && q.max_qty == 2);
    ch_client_order o = limit(bob, put, CH_CLIENT_SELL, 3, tick(q.model - 20));
    o.client_order_id = "b1";
    ch_client_order_result r, r2;
    OK(c, ch_client_order_new(c, &o, &r));
    CHECK(strcmp(r.status, "new") == 0 && r.remaining_qty == 3 && r.n_fills == 0);
    OK(c, ch_client_order_new(c, &o, &r2)); /* a resend: the same order */
    CHECK(strcmp(r.order_id, r2.order_id) == 0);
    ch_client_level bids[10], asks[10];
    size_t nb = 0, na = 0;
    OK(c, ch_client_book(c, put, 10, bids, &nb, asks, &na));
    CHECK(na >= 1 && asks[0].qty >= 3);
    o = limit(alice, call, CH_CLIENT_BUY, 2, q.price + 500);
    o.tif = CH_CLIENT_IOC;
    ch_client_fill fb[4];
    r = (ch_client_order_result){.fills = fb, .fills_cap = 4}; /* the caller's buffer */
    OK(c, ch_client_order_new(c, &o, &r));
    CHECK(strcmp(r.status, "filled") == 0 && r.filled_qty == 2 && r.n_fills >= 1);
    CHECK(r.fills == fb && r.fills_cap == 4);
    CHECK(strcmp(fb[0].source, "net") == 0 && fb[0].trade_id[0] != '\0');

    /* an order that rests, is replaced and cancelled */
    o = limit(alice, call, CH_CLIENT_BUY, 5, 100);
    OK(c, ch_client_order_new(c, &o, &r));
    CHECK(strcmp(r.status, "new") == 0);
    ch_client_open_order *oo = NULL;
    size_t n_oo = 0;
    OK(c, ch_client_orders(c, alice, &oo, &n_oo));
    CHECK(n_oo == 1 && strcmp(oo[0].order_id, r.order_id) == 0 && oo[0].remaining_qty == 5);
    CHECK(oo[0].price == 100 && strcmp(oo[0].side, "buy") == 0 && !oo[0].post_only);
    ch_client_release(oo);
    OK(c, ch_client_order_replace(c, alice, r.order_id, 3, false, 0, &r2));
    CHECK(r2.remaining_qty == 3 && strcmp(r2.order_id, r.order_id) == 0);
    CHECK_ERR(c, ch_client_order_replace(c, alice, r.order_id, 0, true, 10.25, &r2), CH_EBADPRICE);
    CHECK_ERR(c, ch_client_order_replace(c, bob, r.order_id, 2, false, 0, &r2), CH_ENOT_OWNER);
    ch_client_cancel_result cr;
    OK(c, ch_client_order_cancel(c, alice, r.order_id, &cr));
    CHECK(strcmp(cr.status, "cancelled") == 0 && cr.cancelled_qty == 3 && cr.remaining_qty == 0);
    OK(c, ch_client_orders(c, alice, &oo, &n_oo));
    CHECK(n_oo == 0);
    ch_client_release(oo);
    CHECK_ERR(c, ch_client_order_cancel(c, alice, r.order_id, NULL), CH_EUNKNOWN_ORDER);

    /* a batch: each order on its own */
    ch_client_order batch[3] = {limit(NULL, call, CH_CLIENT_BUY, 1, 50),
                                limit(NULL, "BTC-1JAN20-1-C", CH_CLIENT_BUY, 1, 50),
                                limit(NULL, call, CH_CLIENT_BUY, 0, 50)};
    ch_client_batch_result *br = NULL;
    OK(c, ch_client_order_batch(c, alice, batch, 3, &br));
    CHECK(br[0].err == CH_OK && strcmp(br[0].result.status, "new") == 0);
    CHECK(br[1].err == CH_EUNKNOWN_SYMBOL && br[1].message[0] != '\0');
    CHECK(br[2].err == CH_EBADQTY);
    OK(c, ch_client_order_cancel(c, alice, br[0].result.order_id, NULL));
    ch_client_release(br);
    batch[0].account = bob; /* an order naming its own account */
    OK(c, ch_client_order_batch(c, NULL, batch, 1, &br));
    CHECK(br[0].err == CH_OK);
    OK(c, ch_client_order_cancel(c, bob, br[0].result.order_id, NULL));
    ch_client_release(br);
    CHECK_ERR(c, ch_client_order_batch(c, "nobody", batch, 1, &br), CH_EUNAUTHORIZED);

    /* positions, risk, hedge, stats */
    ch_client_positions_info pi;
    OK(c, ch_client_positions(c, alice, &pi));
    CHECK(strcmp(pi.account, alice) == 0 && pi.n == 1);
    CHECK(strcmp(pi.positions[0].symbol, call) == 0 && pi.positions[0].qty == 2);
    CHECK(pi.positions[0].delta > 0 && pi.positions[0].avg_price > 0);
    ch_client_release(pi.positions);
    for (int k = 0; k < 3; k++) {
        OK(c, ch_client_positions(c, (const char *[]){"house", "pool", "fees"}[k], &pi));
        ch_client_release(pi.positions);
    }
    CHECK_ERR(c, ch_client_positions(c, "nobody", &pi), CH_EUNAUTHORIZED);
    /* an account's own key (from account.open) acts for that account only */
    ch_client *own;
    CHECK(ch_client_open(url, 10000, &own) == 0);
    ch_client_set_binary(own, binary);
    CHECK_ERR(own, ch_client_positions(own, alice, &pi), CH_EUNAUTHORIZED); /* no key yet */
    OK(own, ch_client_set_key(own, a.key));
    OK(own, ch_client_positions(own, alice, &pi));
    ch_client_release(pi.positions);
    CHECK_ERR(own, ch_client_positions(own, bob, &pi), CH_EUNAUTHORIZED);
    ch_client_stats_info denied;
    CHECK_ERR(own, ch_client_stats(own, &denied), CH_EUNAUTHORIZED); /* an admin op */
    ch_client_close(own);
    ch_client_risk_info rk;
    OK(c, ch_client_risk(c, NULL, &rk));
    CHECK(rk.n_strikes >= 1 && rk.n_scenarios >= 1 && rk.gross_delta > 0);
    CHECK(rk.strikes[0].expiry[0] != '\0' && rk.scenarios[0].vol_shock[0] != '\0');
    ch_client_release(rk.strikes);
    ch_client_release(rk.scenarios);
    CHECK_ERR(c, ch_client_risk(c, "NOPE", &rk), CH_EUNKNOWN_SYMBOL);
    ch_client_hedge_info hg;
    OK(c, ch_client_hedge(c, &hg));
    CHECK(hg.policy[0] != '\0' && hg.orders >= 0);
    ch_client_stats_info st;
    OK(c, ch_client_stats(c, &st));
    CHECK(st.requests > 0 && st.errors > 0 && st.fills_net >= 1 && st.commits > 0 && !st.halted);

    /* every error code a client can provoke */
    CHECK_ERR(c, ch_client_book(c, "", 5, bids, &nb, asks, &na), CH_EBADREQ);
    CHECK_ERR(c, ch_client_book(c, "BTC-27NOV26-1234-C", 5, bids, &nb, asks, &na),
              CH_EUNKNOWN_SYMBOL);
    CHECK(ch_client_book(c, call, 0, bids, &nb, asks, &na) == CH_EINVAL);
    o = limit(alice, "BTC-1JAN99-1-X", CH_CLIENT_BUY, 1, 1);
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EUNKNOWN_SYMBOL);
    o = limit(alice, call, CH_CLIENT_BUY, 1, 10.25);
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EBADPRICE);
    o.price = -5;
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EBADPRICE);
    o = limit(alice, call, CH_CLIENT_BUY, 0, 10);
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EBADQTY);
    o.qty = -2;
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EBADQTY);
    o = limit(alice, call, CH_CLIENT_BUY, 1, 0);
    o.has_price = false; /* a limit order without a price */
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EBADREQ);
    CHECK_ERR(c, ch_client_order_cancel(c, alice, "12345", NULL), CH_EUNKNOWN_ORDER);
    o = limit(alice, call, CH_CLIENT_BUY, 1, 10);
    OK(c, ch_client_order_new(c, &o, &r));
    CHECK_ERR(c, ch_client_order_cancel(c, poor, r.order_id, NULL), CH_ENOT_OWNER);
    OK(c, ch_client_order_cancel(c, alice, r.order_id, NULL));
    o = limit(poor, call, CH_CLIENT_BUY, 50, 5000);
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EFUNDS);
    o.side = CH_CLIENT_SELL;
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EMARGIN);
    OK(c, ch_client_quote(c, call, CH_CLIENT_BUY, 1, &q));
    o = limit(alice, call, CH_CLIENT_BUY, 1, q.price + 100);
    o.post_only = true;
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EPOST_ONLY);
    o = limit(alice, put, CH_CLIENT_BUY, 100000, 1);
    o.tif = CH_CLIENT_FOK;
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EFOK);
    /* alice's own offer, post-only, one tick under the pool's ask in a
     * series listed just now (nobody else trades it, no put for parity):
     * her buy at that price would meet only herself */
    snprintf(sym, sizeof sym, "BTC-%s-%s-C", expiry, binary ? "99000" : "101000");
    OK(c, ch_client_instrument_add(c, sym, NULL));
    ch_client_quote_info bid;
    OK(c, ch_client_quote(c, sym, CH_CLIENT_BUY, 1, &q));
    OK(c, ch_client_quote(c, sym, CH_CLIENT_SELL, 1, &bid));
    CHECK(q.price - 0.5 > bid.price);
    o = limit(alice, sym, CH_CLIENT_SELL, 1, q.price - 0.5);
    o.post_only = true;
    OK(c, ch_client_order_new(c, &o, &r));
    CHECK(strcmp(r.status, "new") == 0);
    o.post_only = false;
    o.side = CH_CLIENT_BUY;
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_ESELF_TRADE);
    o = limit("nobody", call, CH_CLIENT_BUY, 1, 10);
    CHECK_ERR(c, ch_client_order_new(c, &o, &r), CH_EUNAUTHORIZED);
    /* the pool at its notional limit (3M in this test's config) */
    ch_err qe = ch_client_quote(c, call, CH_CLIENT_SELL, 1000, &q);
    CHECK(qe == CH_OK || qe == CH_ERISK_LIMIT);
    if (qe == CH_OK && q.max_qty > 0) {
        CHECK(q.max_qty < 1000);
        o = limit(rich, call, CH_CLIENT_SELL, q.max_qty, 1);
        o.tif = CH_CLIENT_IOC;
        OK(c, ch_client_order_new(c, &o, &r));
    }
    CHECK_ERR(c, ch_client_quote(c, call, CH_CLIENT_SELL, 1, &q), CH_ERISK_LIMIT);
    CHECK(ch_client_order_new(c, NULL, &r) == CH_EINVAL);
    ch_client_close(c);
}

/* ---- keycheck: a fake chd on inproc:// ---- */

static void *fake_server(void *arg)
{
    nng_socket s = *(nng_socket *)arg;
    for (int k = 0; k < 3; k++) {
        char *buf = NULL;
        size_t len = 0;
        if (nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0)
            return NULL;
        const char *key = NULL;
        cJSON *j = NULL;
        const ch_msg *m = NULL;
        uint64_t id = 0;
        uint8_t *out = NULL;
        size_t out_len = 0;
        char *text = NULL;
        if (k == 2) { /* the third request gets no protocol reply */
            text = strdup("not a reply");
        } else if (ch_bin_is_binary(buf, len)) {
            if (ch_msg_bin_decode_request((const uint8_t *)buf, len, &m, &id, &j) == CH_OK) {
                const cJSON *kv = cJSON_GetObjectItemCaseSensitive(j, "key");
                key = cJSON_IsString(kv) ? kv->valuestring : NULL;
                cJSON *res = cJSON_Parse("{\"version\":1,\"server\":\"fake-binary\"}");
                ch_err e = key != NULL && strcmp(key, "secret") == 0 ? CH_OK : CH_EUNAUTHORIZED;
                out = ch_msg_bin_encode_reply(m, id, e, "no key", res, &out_len);
                cJSON_Delete(res);
            }
        } else {
            j = cJSON_ParseWithLength(buf, len);
            const cJSON *kv = cJSON_GetObjectItemCaseSensitive(j, "key");
            key = cJSON_IsString(kv) ? kv->valuestring : NULL;
            text = strdup(key != NULL && strcmp(key, "secret") == 0
                              ? "{\"ok\":true,\"version\":1,\"server\":\"fake-json\"}"
                              : "{\"ok\":false,\"error\":{\"code\":\"UNAUTHORIZED\","
                                "\"message\":\"no key\"}}");
        }
        nng_free(buf, len);
        cJSON_Delete(j);
        if (text != NULL)
            nng_send(s, text, strlen(text), 0);
        else if (out != NULL)
            nng_send(s, out, out_len, 0);
        free(text);
        free(out);
    }
    return NULL;
}

/* One error space without a daemon: opening nothing, a URL NNG cannot
 * use, a subscriber's timeout, and the key files. */
static void errors_and_keys(void)
{
    ch_client *c = NULL;
    CHECK(ch_client_open("tcp://127.0.0.1:1", 1000, &c) == CH_EIO);
    CHECK(ch_client_nng_error() == NNG_ECONNREFUSED);
    CHECK(strstr(ch_client_strerror(CH_EIO), "refused") != NULL);
    CHECK(ch_client_open("nosuch://x", 1000, &c) == CH_EINVAL);
    CHECK(ch_client_open(NULL, 1000, &c) == CH_EINVAL);
    ch_sub *sub = NULL;
    CHECK(ch_sub_open("tcp://127.0.0.1:1", "", &sub) == CH_EIO);
    char url[64], path[64];
    snprintf(url, sizeof url, "ipc:///tmp/ch-client-pub-%d", (int)getpid());
    nng_socket pub;
    CHECK(nng_pub0_open(&pub) == 0 && nng_listen(pub, url, NULL, 0) == 0);
    CHECK(ch_sub_open(url, "", &sub) == CH_OK);
    char *ev = NULL;
    CHECK(ch_sub_recv(sub, 50, &ev, NULL) == CH_ETIMEDOUT && ev == NULL);
    ch_sub_close(sub);
    nng_close(pub);
    /* key files: one line, white space around it dropped */
    snprintf(path, sizeof path, "/tmp/ch-client-keys-%d", (int)getpid());
    CHECK(mkdir(path, 0700) == 0);
    char file[96], key[257];
    snprintf(file, sizeof file, "%s/admin.key", path);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    fputs("  0123abcd \nsecond line\n", f);
    fclose(f);
    CHECK(ch_client_admin_key(path, key, sizeof key) == CH_OK && strcmp(key, "0123abcd") == 0);
    CHECK(ch_client_read_key(file, key, 5) == CH_EINVAL); /* does not fit */
    f = fopen(file, "w");
    fputs("\n", f);
    fclose(f);
    CHECK(ch_client_read_key(file, key, sizeof key) == CH_EINVAL);
    unlink(file);
    CHECK(ch_client_admin_key(path, key, sizeof key) == CH_EIO);
    rmdir(path);
}

static void keycheck(void)
{
    errors_and_keys();
    nng_socket s;
    CHECK(nng_rep0_open(&s) == 0);
    CHECK(nng_listen(s, "inproc://keycheck", NULL, 0) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fake_server, &s) == 0);
    ch_client *c;
    CHECK(ch_client_open("inproc://keycheck", 5000, &c) == 0);
    OK(c, ch_client_set_key(c, "secret"));
    ch_client_hello_info h;
    OK(c, ch_client_hello(c, &h));
    CHECK(strcmp(h.server, "fake-json") == 0);
    ch_client_release(h.underlyings);
    ch_client_set_binary(c, true);
    OK(c, ch_client_hello(c, &h));
    CHECK(strcmp(h.server, "fake-binary") == 0);
    ch_client_release(h.underlyings);
    ch_client_set_binary(c, false);
    CHECK(ch_client_hello(c, &h) == CH_EIO);
    CHECK(ch_client_transport_error(c) == 0);
    pthread_join(t, NULL);
    ch_client_close(c);
    nng_close(s);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "keycheck") == 0) {
        keycheck();
    } else if (argc == 4 && (strcmp(argv[2], "json") == 0 || strcmp(argv[2], "binary") == 0)) {
        against_chd(argv[1], strcmp(argv[2], "binary") == 0, argv[3]);
    } else {
        fprintf(stderr, "usage: %s URL json|binary ADMIN_KEY | keycheck\n", argv[0]);
        return 2;
    }
    printf("test_client: %d checks passed\n", g_checks);
    return 0;
}
