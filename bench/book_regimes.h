/*
 * book_regimes.h - bench_book's regime suite: five order feeds that stress
 * a book differently, each replayed through ch_book (its levels indexed by
 * price, then sorted) and through the flat price-array baseline
 * (flat_book.h) on one symbol and on 700, single thread, with the fills of
 * all compared (count, volume and an order-sensitive checksum must agree:
 * the same trades in the same order).
 *
 *   normal  a cancel-heavy day: adds near the touch, cancels, marketable IOC
 *           (46 / 44 / 10 per 100), the mid still;
 *   deep    a deep static book: adds spread over 400 ticks a side, so every
 *           side holds hundreds of levels (level search and insertion);
 *   swing25, swing40  the mid swings +-25 % and +-40 % (two cycles), adds
 *           follow it and leave stale orders behind, marketable orders and
 *           crossing adds sweep them when it comes back;
 *   flash   a flash crash: the mid falls 30 % within 1 % of the feed while
 *           large marketable sells sweep the bids, holds, then recovers.
 *
 * Replaces are left out (the main pass times them): a replace's priority
 * rules are the book's own and the baseline has none. Every order has its
 * own account, so self-trade prevention never acts and both books must
 * trade alike. Each regime is replayed in rounds (5 by default), each on
 * fresh books, ch_book's two then the flat book, and the regimes of one
 * size take their rounds in turn (round 1 of each, then round 2...): the
 * medians are reported, so that one slow moment of a shared machine moves
 * neither the books' ratio nor one regime against the others. Header-only, for
 * bench_book.
 */
#ifndef CH_BENCH_BOOK_REGIMES_H
#define CH_BENCH_BOOK_REGIMES_H

#include <math.h>
#include <stdio.h>

#include "bench_feed.h"
#include "ch/book.h"
#include "flat_book.h"

enum { R_NORMAL, R_DEEP, R_SWING25, R_SWING40, R_FLASH, R_COUNT };
static const char *const regime_names[R_COUNT] = {"normal", "deep", "swing25", "swing40", "flash"};

typedef struct regime_result {
    const char *name;
    uint32_t instruments;
    size_t ops;
    int rounds;
    double book_ops_per_s, flat_ops_per_s; /* each book's median round */
    double sorted_ops_per_s;               /* ch_book with CH_LEVELS_SORTED (chd's index) */
    double ratio_median;                   /* the median round's ratio */
    double sorted_ratio_median;            /* the same for the sorted index */
    uint64_t trades, levels_max;           /* levels: the most a side of one symbol held */
    bool agree;                            /* both books made the same fills, every round */
} regime_result;

/* The regime's mid at fraction @p t of the feed. */
static double regime_mid(int kind, double mid0, double t)
{
    switch (kind) {
    case R_SWING25:
        return mid0 * (1 + 0.25 * sin(4 * 3.14159265358979323846 * t));
    case R_SWING40:
        return mid0 * (1 + 0.40 * sin(4 * 3.14159265358979323846 * t));
    case R_FLASH:
        if (t < 0.40 || t >= 0.60)
            return mid0;
        if (t < 0.41)
            return mid0 * (1 - 0.30 * (t - 0.40) / 0.01);
        if (t < 0.50)
            return mid0 * 0.70;
        return mid0 * (0.70 + 0.30 * (t - 0.50) / 0.10);
    default:
        return mid0;
    }
}

/* The feed of regime @p kind: @p n operations over @p n_instr symbols whose
 * prices stay in lo[i] .. hi[i]. Returns the number of adds (their slots are
 * 1 .. adds), 0 when out of memory. */
static uint32_t regime_make(int kind, bench_op *feed, size_t n, uint32_t n_instr,
                            const int64_t *mid0, const int64_t *lo, const int64_t *hi,
                            size_t live_per_instr, uint64_t *rng)
{
    uint32_t *live = malloc((n ? n : 1) * sizeof *live);
    if (live == NULL)
        return 0;
    size_t n_live = 0, target = (size_t)n_instr * live_per_instr;
    uint32_t adds = 0;
    for (size_t k = 0; k < n; k++) {
        bench_op *o = &feed[k];
        memset(o, 0, sizeof *o);
        uint32_t i = (uint32_t)(bench_xorshift(rng) % n_instr);
        double t = (double)k / (double)n;
        int64_t mid = (int64_t)regime_mid(kind, (double)mid0[i], t);
        bool crash = kind == R_FLASH && t >= 0.40 && t < 0.41;
        unsigned roll = (unsigned)(bench_xorshift(rng) % 100);
        if (n_live < target / 2)
            roll = 0; /* fill the books first */
        if (crash && roll >= 46)
            roll = 95; /* the crash: sells sweep the bids */
        o->instr = i;
        if (roll < 46 || n_live == 0) {
            o->kind = BENCH_ADD;
            o->side = (uint8_t)(bench_xorshift(rng) & 1);
            int64_t off;
            if (kind == R_DEEP) {
                off = 1 + (int64_t)(bench_xorshift(rng) % 400);
            } else {
                int64_t a = (int64_t)(bench_xorshift(rng) % 8);
                off = 1 + a * (int64_t)(bench_xorshift(rng) % 8);
            }
            o->price = o->side == 0 ? mid - off : mid + off;
            o->qty = 1 + (uint32_t)(bench_xorshift(rng) % 20);
            live[n_live++] = ++adds;
            o->ref = adds;
        } else if (roll < 90) {
            o->kind = BENCH_CANCEL;
            size_t j = (size_t)(bench_xorshift(rng) % n_live);
            o->ref = live[j];
            live[j] = live[--n_live];
        } else {
            o->kind = BENCH_MARKET;
            o->side = crash ? 1 : (uint8_t)(bench_xorshift(rng) & 1);
            int64_t reach = crash ? mid / 33 : 10; /* the crash: 3 % deep */
            o->price = o->side == 0 ? mid + reach : mid - reach;
            o->qty = 1 + (uint32_t)(bench_xorshift(rng) % (crash ? 200 : 10));
        }
        if (o->kind != BENCH_CANCEL) {
            if (o->price < lo[i])
                o->price = lo[i];
            if (o->price > hi[i])
                o->price = hi[i];
        }
    }
    free(live);
    return adds;
}

typedef struct regime_sink {
    uint64_t trades, volume, checksum;
} regime_sink;

static void regime_on_event(void *ctx, const ch_event *ev)
{
    regime_sink *s = ctx;
    if (ev->type != CH_EV_FILL)
        return;
    s->trades++;
    s->volume += (uint64_t)ev->qty;
    s->checksum = s->checksum * 1000003u ^ (uint64_t)(ev->price * 131 + ev->qty);
}

/* The regime's books and feed, made once and replayed every round. */
typedef struct regime_setup {
    int kind;
    uint32_t n_instr, adds, max_levels;
    size_t n;
    int64_t *lo, *hi;
    bench_op *feed;
    ch_order_id *ids;
} regime_setup;

/* One pass of ch_book over the whole feed, its levels indexed as @p index
 * says (CH_LEVELS_AUTO: these bands fit max_levels, so by price): the
 * seconds it took, its fills in @p sink, its stats in @p st, and whether
 * ch_book_check passed in @p ok. Returns -1 when out of memory. */
static double regime_book_pass(const regime_setup *z, ch_level_index index, regime_sink *sink,
                               ch_book_stats *st, bool *ok)
{
    *sink = (regime_sink){0};
    ch_book_config cfg = {.max_instruments = z->n_instr,
                          .max_orders = z->adds + 1024,
                          .max_levels = z->max_levels,
                          .on_event = regime_on_event,
                          .ctx = sink,
                          .level_index = index};
    ch_book *bk = ch_book_create(&cfg);
    if (bk == NULL)
        return -1;
    for (uint32_t i = 0; i < z->n_instr; i++)
        if (ch_book_add_instrument(bk, (ch_instr_id){i}, z->lo[i], z->hi[i]) != CH_OK) {
            ch_book_destroy(bk);
            return -1;
        }
    ch_order_id *ids = z->ids;
    memset(ids, 0xff, ((size_t)z->adds + 1) * sizeof *ids); /* fault the pages in */
    ch_book_set_event_mask(bk, 1u << CH_EV_FILL);

    uint64_t t0 = bench_now_ns();
    for (size_t k = 0; k < z->n; k++) {
        const bench_op *o = &z->feed[k];
        if (o->kind == BENCH_CANCEL) {
            ch_book_cancel(bk, (ch_account_id){o->ref}, ids[o->ref], NULL);
            continue;
        }
        ch_order_req q = {.instr = {o->instr},
                          .account = {o->kind == BENCH_ADD ? o->ref : 0x80000000u + (uint32_t)k},
                          .side = o->side,
                          .tif = o->kind == BENCH_ADD ? CH_TIF_GTC : CH_TIF_IOC,
                          .price = o->price,
                          .qty = o->qty};
        ch_order_result res;
        ch_book_submit(bk, &q, &res);
        if (o->kind == BENCH_ADD)
            ids[o->ref] = res.id;
    }
    uint64_t t1 = bench_now_ns();
    ch_book_get_stats(bk, st);
    *ok = ch_book_check(bk) == CH_OK;
    ch_book_destroy(bk);
    return (double)(t1 - t0) / 1e9;
}

/* One round: fresh books over the whole feed, timed apart: ch_book as
 * chosen for these bands (price-indexed), ch_book sorted, the flat book.
 * Returns 0 (and fills @p out but for its name and sizes) or -1 when out
 * of memory. */
static int regime_round(const regime_setup *z, regime_result *out)
{
    regime_sink sink, sorted_sink;
    ch_book_stats st, sorted_st;
    bool ok, sorted_ok;
    double t_book = regime_book_pass(z, CH_LEVELS_AUTO, &sink, &st, &ok);
    double t_sorted = regime_book_pass(z, CH_LEVELS_SORTED, &sorted_sink, &sorted_st, &sorted_ok);
    flat_book *fb =
        t_book < 0 || t_sorted < 0 ? NULL : flat_create(z->n_instr, z->lo, z->hi, z->adds + 1);
    if (fb == NULL)
        return -1;

    uint64_t t2 = bench_now_ns();
    for (size_t k = 0; k < z->n; k++) {
        const bench_op *o = &z->feed[k];
        if (o->kind == BENCH_CANCEL)
            flat_cancel(fb, o->ref);
        else
            flat_limit(fb, o->kind == BENCH_ADD ? o->ref : 0, o->instr, o->side, o->price, o->qty,
                       o->kind != BENCH_ADD);
    }
    uint64_t t3 = bench_now_ns();

    uint64_t levels = 0; /* the most levels one side of one symbol held at the end */
    for (uint32_t i = 0; i < z->n_instr; i++)
        for (int d = 0; d < 2; d++) {
            uint64_t c = 0;
            for (uint32_t p = 0; p < fb->sym[i].n; p++)
                c += fb->sym[i].lv[d][p].head != 0;
            levels = c > levels ? c : levels;
        }
    out->book_ops_per_s = (double)z->n / t_book;
    out->sorted_ops_per_s = (double)z->n / t_sorted;
    out->flat_ops_per_s = (double)z->n / ((double)(t3 - t2) / 1e9);
    out->trades = sink.trades;
    out->levels_max = levels;
    out->agree = ok && sorted_ok && sink.trades == fb->trades && sink.volume == fb->volume &&
                 sink.checksum == fb->checksum && st.trades == sink.trades &&
                 sorted_sink.trades == sink.trades && sorted_sink.volume == sink.volume &&
                 sorted_sink.checksum == sink.checksum && sorted_st.trades == sink.trades;
    if (!out->agree)
        fprintf(stderr,
                "bench_book: regime %s (%u symbols): the books differ: trades %" PRIu64
                " / %" PRIu64 " / %" PRIu64 " (price-indexed / sorted / flat), volume %" PRIu64
                " / %" PRIu64 " / %" PRIu64 "%s\n",
                regime_names[z->kind], z->n_instr, sink.trades, sorted_sink.trades, fb->trades,
                sink.volume, sorted_sink.volume, fb->volume,
                ok && sorted_ok ? "" : ", ch_book_check failed");
    flat_destroy(fb);
    return 0;
}

/* A regime being measured: its feed and books' setup, and each round's
 * rates, kept until regime_finish() takes their medians. */
typedef struct regime_run {
    regime_setup z;
    int64_t *mid0;
    double *book, *flat, *ratio, *sorted, *sorted_ratio; /* one a round */
    int done;                                            /* rounds run */
    regime_result out;
} regime_run;

static void regime_close(regime_run *x)
{
    free(x->mid0);
    free(x->z.lo);
    free(x->z.hi);
    free(x->z.feed);
    free(x->z.ids);
    free(x->book);
    free(x->flat);
    free(x->ratio);
    free(x->sorted);
    free(x->sorted_ratio);
    *x = (regime_run){0};
}

/* Regime @p kind at @p n_instr symbols, @p n operations, room for @p rounds
 * rounds. Returns 0, or -1 when out of memory (@p x then closed). */
static int regime_open(regime_run *x, int kind, size_t n, uint32_t n_instr, uint64_t seed,
                       int rounds)
{
    uint64_t rng = seed ? seed : 1;
    *x = (regime_run){.z = {.kind = kind, .n_instr = n_instr, .n = n}};
    regime_setup *z = &x->z;
    x->mid0 = malloc(n_instr * sizeof *x->mid0);
    z->lo = malloc(n_instr * sizeof *z->lo);
    z->hi = malloc(n_instr * sizeof *z->hi);
    z->feed = malloc(n * sizeof *z->feed);
    size_t r = rounds > 0 ? (size_t)rounds : 1;
    x->book = malloc(r * sizeof *x->book);
    x->flat = malloc(r * sizeof *x->flat);
    x->ratio = malloc(r * sizeof *x->ratio);
    x->sorted = malloc(r * sizeof *x->sorted);
    x->sorted_ratio = malloc(r * sizeof *x->sorted_ratio);
    if (x->mid0 == NULL || z->lo == NULL || z->hi == NULL || z->feed == NULL || x->book == NULL ||
        x->flat == NULL || x->ratio == NULL || x->sorted == NULL || x->sorted_ratio == NULL)
        goto fail;
    for (uint32_t i = 0; i < n_instr; i++) {
        x->mid0[i] = n_instr == 1 ? 50000 : 2000 + (int64_t)(bench_xorshift(&rng) % 4000);
        z->lo[i] = x->mid0[i] / 2;
        z->hi[i] = x->mid0[i] * 3 / 2 + 500;
    }
    size_t live = kind == R_DEEP ? (n_instr == 1 ? 40000 : 400) : (n_instr == 1 ? 2000 : 60);
    z->adds = regime_make(kind, z->feed, n, n_instr, x->mid0, z->lo, z->hi, live, &rng);
    z->ids = calloc((size_t)z->adds + 1, sizeof *z->ids);
    if (z->adds == 0 || z->ids == NULL)
        goto fail;
    z->max_levels = 0; /* every price of the band: no level can be refused */
    for (uint32_t i = 0; i < n_instr; i++)
        if ((uint32_t)(z->hi[i] - z->lo[i] + 1) > z->max_levels)
            z->max_levels = (uint32_t)(z->hi[i] - z->lo[i] + 1);
    x->out = (regime_result){
        .name = regime_names[kind], .instruments = n_instr, .ops = n, .agree = true};
    return 0;
fail:
    regime_close(x);
    return -1;
}

/* One more round of @p x. Returns 0, or -1 when out of memory. */
static int regime_round_of(regime_run *x)
{
    regime_result one;
    if (regime_round(&x->z, &one) != 0)
        return -1;
    int r = x->done++;
    x->book[r] = one.book_ops_per_s;
    x->flat[r] = one.flat_ops_per_s;
    x->ratio[r] = one.book_ops_per_s / one.flat_ops_per_s;
    x->sorted[r] = one.sorted_ops_per_s;
    x->sorted_ratio[r] = one.sorted_ops_per_s / one.flat_ops_per_s;
    x->out.trades = one.trades;
    x->out.levels_max = one.levels_max;
    x->out.agree = x->out.agree && one.agree;
    return 0;
}

/* The medians of @p x's rounds: each book's median round's rate, and the
 * median round's ratios. */
static regime_result regime_finish(const regime_run *x)
{
    regime_result out = x->out;
    size_t r = (size_t)x->done;
    out.rounds = x->done;
    out.book_ops_per_s = bench_median(x->book, r);
    out.flat_ops_per_s = bench_median(x->flat, r);
    out.ratio_median = bench_median(x->ratio, r);
    out.sorted_ops_per_s = bench_median(x->sorted, r);
    out.sorted_ratio_median = bench_median(x->sorted_ratio, r);
    return out;
}

#endif
