/*
 * chdemo - the main job until the daemon lands: lists a small BTC option
 * chain (embedded defaults), sends a seeded stream of orders from a few
 * traders through the order book, and prints the trades, the top of book of
 * every series and the counters.
 *
 * Usage: chdemo [--orders N] [--seed N] [--quiet]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ch/book.h"
#include "ch/instrument.h"
#include "ch/log.h"

#define N_EXP 3
#define N_STRIKE 5
#define N_TRADERS 4

static const char *const k_traders[N_TRADERS] = {"alice", "bob", "carol", "dave"};
static const int64_t k_strikes[N_STRIKE] = {90000, 95000, 100000, 105000, 110000};
static const double k_spot = 100000.0;

typedef struct demo {
    ch_instruments *reg;
    const ch_underlying_config *btc;
    size_t printed, max_print;
    uint64_t fills, volume, cancels, rests, rejects[128];
} demo;

static void on_event(void *ctx, const ch_event *ev)
{
    demo *d = ctx;
    switch (ev->type) {
    case CH_EV_FILL: {
        d->fills++;
        d->volume += (uint64_t)ev->qty;
        if (d->printed < d->max_print) {
            char px[32];
            ch_price_format(d->btc, ev->price, px, sizeof px);
            printf("  trade #%-4" PRIu64 " %-22s %-5s buys %3" PRId64 " from %-5s at %10s\n",
                   ev->trade_id, ch_instruments_get(d->reg, ev->instr)->symbol,
                   k_traders[ev->side == CH_BUY ? ev->account.v : ev->maker_account.v],
                   ev->qty,
                   k_traders[ev->side == CH_BUY ? ev->maker_account.v : ev->account.v], px);
        } else if (d->printed == d->max_print) {
            printf("  ...\n");
        }
        d->printed++;
        break;
    }
    case CH_EV_CANCEL:
        d->cancels++;
        break;
    case CH_EV_REST:
        d->rests++;
        break;
    case CH_EV_REJECT:
        d->rejects[ev->reason & 127]++;
        break;
    default:
        break;
    }
}

static uint64_t rng = 1;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* A rough fair value: intrinsic plus a time value that shrinks away from the
 * money (a stand-in for the model price until the risk module prices it). */
static double rough_value(const ch_symbol *s, double years)
{
    double k = (double)s->strike;
    double intrinsic = s->kind == CH_CALL ? fmax(k_spot - k, 0) : fmax(k - k_spot, 0);
    double tv = 0.4 * k_spot * sqrt(years) * 0.4 * exp(-pow((k - k_spot) / (0.12 * k_spot), 2));
    return intrinsic + tv + 50.0;
}

int main(int argc, char **argv)
{
    long n_orders = 3000;
    uint64_t seed = 7;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--orders") == 0 && i + 1 < argc)
            n_orders = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = true;
        else {
            fprintf(stderr, "usage: %s [--orders N] [--seed N] [--quiet]\n", argv[0]);
            return 2;
        }
    }
    if (n_orders < 1 || n_orders > 100000000) {
        fprintf(stderr, "chdemo: --orders must be in 1..100000000\n");
        return 2;
    }
    rng = seed ? seed : 1;

    demo d = {.max_print = quiet ? 0 : 25};
    d.reg = ch_instruments_create(64, 1);
    ch_underlying_config btc = {.name = "BTC", .contract_size = 1.0, .min_price = 1,
                                .max_price = 2000000};
    if (d.reg == NULL || ch_tick_parse("0.5", 3, &btc) != CH_OK ||
        ch_instruments_add_underlying(d.reg, &btc, NULL) != CH_OK) {
        fprintf(stderr, "chdemo: cannot set up the instruments\n");
        return 1;
    }
    d.btc = ch_instruments_underlying(d.reg, 0);

    /* the next three Fridays, 08:00 UTC */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ch_time now = (ch_time)ts.tv_sec * CH_NS_PER_SEC;
    const ch_time day = 86400 * CH_NS_PER_SEC;
    ch_time midnight = now / day * day;
    int64_t dow = (now / day + 4) % 7; /* 1970-01-01 was a Thursday: 0 = Sunday */
    int64_t to_friday = (5 - dow + 7) % 7;
    if (to_friday == 0)
        to_friday = 7;
    ch_time exps[N_EXP];
    for (int i = 0; i < N_EXP; i++)
        exps[i] = midnight + (to_friday + 7 * i) * day + 8 * 3600 * CH_NS_PER_SEC;
    ch_err e = ch_instruments_add_grid(d.reg, 0, exps, N_EXP, k_strikes, N_STRIKE, now);
    if (e != CH_OK) {
        fprintf(stderr, "chdemo: listing the chain failed: %s\n", ch_strerror(e));
        return 1;
    }
    uint32_t n_instr = ch_instruments_count(d.reg);

    ch_book_config cfg = {.max_instruments = n_instr, .max_orders = 100000, .max_levels = 256,
                          .on_event = on_event, .ctx = &d};
    ch_book *bk = ch_book_create(&cfg);
    if (bk == NULL) {
        fprintf(stderr, "chdemo: out of memory\n");
        return 1;
    }
    for (uint32_t i = 0; i < n_instr; i++)
        ch_book_add_instrument(bk, (ch_instr_id){i}, btc.min_price, btc.max_price);
    CH_LOG(CH_LOG_INFO, "demo_start", "instruments=%u orders=%ld seed=%" PRIu64, n_instr,
           n_orders, seed);

    printf("Clearinghouse order book demo: %u BTC option series, %ld orders, seed %" PRIu64
           "\n\n",
           n_instr, n_orders, seed);
    printf("First trades (each at the resting order's price):\n");
    ch_order_id *live = calloc((size_t)n_orders, sizeof *live);
    ch_account_id *owner = calloc((size_t)n_orders, sizeof *owner);
    size_t n_live = 0;
    long submitted = 0, cancels_sent = 0, replaces_sent = 0;
    for (long k = 0; k < n_orders; k++) {
        double roll = urand();
        if (roll < 0.15 && n_live > 0) {
            size_t j = (size_t)(urand() * (double)n_live);
            ch_book_cancel(bk, owner[j], live[j], NULL);
            live[j] = live[--n_live];
            owner[j] = owner[n_live];
            cancels_sent++;
            continue;
        }
        if (roll < 0.20 && n_live > 0) {
            size_t j = (size_t)(urand() * (double)n_live);
            ch_order_info info;
            if (ch_book_order(bk, live[j], &info) == CH_OK) {
                int64_t np = info.price + (info.side == CH_BUY ? 2 : -2);
                ch_book_replace(bk, owner[j], live[j], 0, np, NULL);
                replaces_sent++;
            }
            continue;
        }
        uint32_t instr = (uint32_t)(urand() * n_instr);
        const ch_instrument *in = ch_instruments_get(d.reg, (ch_instr_id){instr});
        double years = (double)(in->sym.expiry - now) / (365.0 * day);
        double fair = rough_value(&in->sym, years);
        ch_order_req q = {.instr = {instr},
                          .account = {(uint32_t)(urand() * N_TRADERS)},
                          .side = urand() < 0.5 ? CH_BUY : CH_SELL,
                          .qty = 1 + (int64_t)(urand() * 10)};
        /* quotes straddle the fair value; some cross and trade */
        double edge = fair * (0.04 * urand() - 0.015);
        double px = q.side == CH_BUY ? fair - edge : fair + edge;
        if (ch_price_from_double(&btc, floor(px * 2.0) / 2.0, &q.price) != CH_OK)
            q.price = 1;
        double kind = urand();
        if (kind < 0.08)
            q.tif = CH_TIF_IOC;
        else if (kind < 0.11) {
            q.type = CH_ORD_MARKET;
            q.price = 0;
        }
        ch_order_result res;
        if (ch_book_submit(bk, &q, &res) == CH_OK && res.remaining > 0) {
            live[n_live] = res.id;
            owner[n_live++] = q.account;
        }
        submitted++;
    }

    printf("\nTop of book:\n  %-22s %18s %18s\n", "series", "bid (qty @ price)",
           "ask (qty @ price)");
    for (uint32_t i = 0; i < n_instr; i++) {
        char bid[40] = "-", ask[40] = "-", p[32];
        int64_t price, qty;
        if (ch_book_best(bk, (ch_instr_id){i}, CH_BUY, &price, &qty) == CH_OK) {
            ch_price_format(&btc, price, p, sizeof p);
            snprintf(bid, sizeof bid, "%" PRId64 " @ %s", qty, p);
        }
        if (ch_book_best(bk, (ch_instr_id){i}, CH_SELL, &price, &qty) == CH_OK) {
            ch_price_format(&btc, price, p, sizeof p);
            snprintf(ask, sizeof ask, "%" PRId64 " @ %s", qty, p);
        }
        printf("  %-22s %18s %18s\n", ch_instruments_get(d.reg, (ch_instr_id){i})->symbol, bid,
               ask);
    }
    ch_book_stats st;
    ch_book_get_stats(bk, &st);
    printf("\nCounters: %ld orders submitted, %ld cancels and %ld replaces sent; %" PRIu64
           " trades for %" PRIu64 " contracts; %" PRIu64 " orders cancelled; %u resting now\n",
           submitted, cancels_sent, replaces_sent, d.fills, d.volume, d.cancels,
           st.open_orders);
    for (int r = 0; r < 128; r++)
        if (d.rejects[r] > 0)
            printf("  rejected %" PRIu64 " x %s (%s)\n", d.rejects[r], ch_errwire((ch_err)r),
                   ch_strerror((ch_err)r));
    int rc = ch_book_check(bk) == CH_OK ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "chdemo: book integrity check failed\n");
    CH_LOG(CH_LOG_INFO, "demo_done", "trades=%" PRIu64 " resting=%u", d.fills, st.open_orders);
    free(live);
    free(owner);
    ch_book_destroy(bk);
    ch_instruments_destroy(d.reg);
    return rc;
}
