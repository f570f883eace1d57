/*
 * engine.c - the clearinghouse core: three liquidity sources, clearing,
 * accounts, the pool, risk caches and settlement (contract in ch/engine.h).
 *
 * Structure:
 *  - The book keeps every rule of direct matching (FIFO, STP, capacity). An
 *    order that no source crosses rests with one ch_book_submit. Otherwise it
 *    is opened in its book (ch_book_open_order), then the engine repeatedly
 *    compares the best price of the three sources and takes from the best:
 *    the book through ch_book_match_open, the sibling's book through
 *    ch_book_take (the resting order trades at its own price), the pool at
 *    its quote; external fills are recorded with ch_book_fill_open; finally
 *    ch_book_close_order rests or cancels the remainder.
 *  - Book fills reach the engine through the book's event callback; the
 *    engine knows which source it is taking from (ctx_source) and clears
 *    each fill: cash, positions, reservations, margin vectors, inventories,
 *    netting counters. So a fill is cleared exactly once, where it happens.
 *  - Everything a pre-trade check or a pool quote needs is cached per series
 *    and recomputed on market data only: unit Greeks and mark, the scenario
 *    PnL vector of one contract, the parity forward term D(F - K) in ticks.
 *    The per-order path does arithmetic on those caches and never prices an
 *    option. One margin vector per account (27 doubles: positions, and
 *    resting sells as if filled) and its worst loss are updated together;
 *    for an account far from its limit, resting sells are held in one
 *    integer bound instead (pend), and go into the vector only when a check
 *    needs the exact figure (see materialize).
 *    The pool's 1-lot quotes are cached per series and side; between pool
 *    fills they are bounded (pool_quote1), so most resting orders need none.
 *  - Memory is the cost of the order path: hot fields of a series and an
 *    account share cache lines, scenario vectors start on a line, submit and
 *    cancel prefetch what they will touch, and position records are made on
 *    an order's first fill rather than when it is accepted.
 *  - Rejects are decided before anything changes: account, series, price
 *    band, funds, margin, post-only, FOK (book + parity + pool fillable
 *    together), position capacity (house and pool records exist from
 *    listing; every live order without a record keeps room for one), so a
 *    fill never fails to find its record.
 *  - CH_ENGINE_SELF_CHECK builds (test_engine_selfcheck) compare every such
 *    shortcut with the exact computation it replaces.
 *
 * Invariants (ch_engine_check): positions sum to zero per instrument; cash
 * sums to what came in from outside; reservations equal resting buy orders;
 * pool shares add up; inventories mirror the pool and house positions; the
 * count of orders without a record matches the book; every margin vector
 * and pend match the positions and resting sells they stand for.
 */
#include "ch/engine.h"

#include <math.h>
#include <stddef.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "../core/mem.h"
#include "ch/hedge_cost.h"

#define NIL UINT32_MAX
/* Without a sink the engine itself needs only fills and cancels from the book. */
#define BOOK_EVENTS_OWN ((1u << CH_EV_FILL) | (1u << CH_EV_CANCEL))
#define CH_LINE 64
#define CH_LINE_ALIGNED _Alignas(CH_LINE)

/* Start loading a line now, so that misses the order path will take anyway
 * overlap instead of following one another. */
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/*
 * Test builds (CH_ENGINE_SELF_CHECK) compare every shortcut the order path
 * takes with the exact computation it skips, and abort on a difference.
 */
#ifdef CH_ENGINE_SELF_CHECK
#include <stdio.h>
unsigned long ch_engine_self_checks; /* how many shortcuts were verified */
unsigned long ch_engine_exact_walks; /* accounts made exact between revaluations */
unsigned long ch_engine_exact_free;  /* ... of which without resting sells (no walk) */
#define SELF_CHECK(cond, what)                                                          \
    do {                                                                                \
        ch_engine_self_checks++;                                                        \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "ch_engine self-check failed: %s\n", what);                  \
            abort();                                                                    \
        }                                                                               \
    } while (0)
#else
#define SELF_CHECK(cond, what) ((void)0)
#endif

/*
 * Per-series state. The first two cache lines hold everything an order that
 * only rests needs (checks, the sibling's parity term, the pool's cached
 * quotes); Greeks and counters are for fills.
 */
typedef struct series {
    /* lines 1-2: the order path */
    CH_LINE_ALIGNED bool listed;
    bool settled, marked;
    uint32_t und;
    ch_instr_id sibling;
    uint32_t pool_k;        /* the pool's record (no lookup) */
    ch_time trade_until;    /* orders are refused from then on (expiry; never for perps) */
    double scen_up;         /* max(0, max scen): one short contract's worst loss */
    double fwd_ticks;       /* D(F - K) = S e^{-qT} - K e^{-rT}, in ticks */
    double ticks_per_skew;  /* how far a quote moves per 1.00 of skew (vega / tick) */
    /* the pool's 1-lot quote per customer side (pool_quote1) */
    int64_t quote_px[2];    /* ticks; 0 = the pool does not quote */
    double quote_raw[2];    /* the price in ticks before rounding */
    uint64_t quote_epoch[2]; /* exact in this pool_epoch (0 = never computed) */
    uint64_t quote_base[2];  /* the base_epoch and pool drift then */
    double quote_drift[2];
    /* fills, pricing and reports */
    double *scen;           /* PnL of one long contract per scenario (nscen, in an arena) */
    uint32_t house_k;       /* the house's record */
    uint32_t first_pos;     /* positions in this series */
    ch_series rs;
    ch_greeks unit;         /* per contract at the mark */
    /* netting counters */
    double gross_g, gross_v, netted_g, netted_v, pool_g, pool_v;
} series;

_Static_assert(offsetof(series, scen) <= 2 * CH_LINE, "the order path fits two lines");

typedef struct und_state {
    ch_market m;
    bool has_index;
    double funding, perp;
    double funding_avg;  /* expected funding per 8 h (exponential average; NAN: none yet) */
    ch_time funding_at;  /* when funding_avg last took a rate */
    double hedge_pos;    /* the perp hedge booked (ch_engine_hedge_fill), units */
    ch_smile *smile, *scratch;
    ch_inventory *pool_inv, *house_inv;
    double pool_abs_notional_units; /* Σ|pool position| × contract size */
    double pool_drift; /* Σ over pool fills of how far they moved any quote's skew */
    int64_t tick_cash;               /* cash units per tick */
} und_state;

typedef struct account {
    /* line 1: checks and holds */
    CH_LINE_ALIGNED bool open;
    bool internal;
    bool exact; /* M counts the resting sells too (else pend bounds them) */
    ch_stp stp;
    int64_t cash, reserved;
    double *M;    /* margin vector: scenario PnL of positions, plus, when exact,
                   * resting sell orders as if filled (nscen, in an arena) */
    double worst; /* max(0, -min M), kept with M */
    int64_t pend; /* not exact: sum over resting sells of lots x up_cash, an
                   * upper bound (cash units) of what they add to the margin */
    double mtm;   /* positions at mark, quote ccy */
    /* the rest */
    int64_t shares;
    uint32_t first_pos, npos;
    char name[CH_ACCOUNT_NAME_MAX];
} account;

_Static_assert(offsetof(account, shares) <= CH_LINE, "checks fit one line");

/* A position record: 32 bytes, so that a fill's record is one line (the
 * array starts on a line). The list links, read only to walk an account's or
 * a series' positions, live apart in pos_link. */
typedef struct position {
    uint32_t account, instr;
    int64_t qty, cost, realized;
} position;

_Static_assert(sizeof(position) == 32, "a position record is half a line");

/* What holding one lot of a resting order of a series takes, apart from its
 * series record so that a cancel need not read that: a sell's bound
 * ceil(scen_up) + 1 in cash units (>= 1, so that pend > 0 iff an account has
 * resting sells in it), a buy's cash units per tick. */
#define UP_HUGE INT64_MAX /* up_cash beyond an integer: holds are exact */

typedef struct hold_param {
    int64_t up_cash;
    int64_t tick_cash;
} hold_param;

typedef struct pos_link {
    uint32_t next_acct, next_series;
} pos_link;

struct ch_engine {
    ch_engine_config cfg;
    ch_instruments *reg;
    ch_book *book;
    series *ser;
    hold_param *hold; /* per series */
    und_state *und;
    uint32_t n_und;
    account *acct;
    uint32_t n_acct;
    position *pos;
    pos_link *pos_link; /* per record: the next of its account's and its series' */
    uint32_t n_pos;
    uint32_t unrecorded; /* live orders without a position record yet */
    uint32_t *pos_index; /* [account * max_instruments + instrument] -> record + 1 */
    uint64_t *sell_bits; /* [account * sell_words + instrument / 64]: a bit per series
                          * where the account may have resting sells held in pend
                          * (set on hold, cleared by refresh_accounts), so that
                          * making it exact walks those books only */
    size_t sell_words;
    int64_t external; /* cash in from outside, net */
    int64_t pool_shares;
    ch_time now;
    size_t nscen;
    size_t scen_stride; /* nscen rounded up to whole cache lines */
    double (*axpy_min)(double *M, double k, const double *x, size_t n); /* margin kernel */
    size_t axpy_n;      /* nscen rounded up to its width (<= scen_stride) */
    double *scen_arena; /* series scenario vectors, then account margin vectors */
    uint64_t pool_epoch; /* bumped whenever a pool quote may change */
    uint64_t base_epoch; /* bumped with it, except by pool fills, whose effect on
                          * quotes is bounded by the underlying's pool_drift */
    int64_t fee_cap_ppm;
    uint64_t seq, trades;
    ch_netting net;
    ch_engine_event_fn fn;
    void *fn_ctx;
    /* the command in progress */
    ch_source ctx_source;
    ch_order_id cur_order;
    uint32_t cur_taker;
    uint32_t cur_taker_k; /* the taker's position record */
    ch_instr_id cur_instr;
    ch_side cur_side;
    ch_engine_result *cur_res;
    double net_cost_ticks; /* risk-aware netting: this step's hedge cost per lot (ticks) */
};

/* ---- small helpers ---------------------------------------------------------- */

static inline int64_t ceil_div(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static const und_state *und_of(const ch_engine *e, ch_instr_id id)
{
    return &e->und[e->ser[id.v].und];
}

static double tick_value(const ch_engine *e, uint32_t und)
{
    return (double)e->und[und].tick_cash / CH_CASH_SCALE;
}

/* Cash reserved per lot of a resting buy at `price` (tick_cash cash units
 * per tick): premium + largest fee. */
static int64_t reserve_per_lot_tc(const ch_engine *e, int64_t tick_cash, int64_t price)
{
    int64_t prem = price * tick_cash;
    return prem + ceil_div(prem * e->fee_cap_ppm, 1000000);
}

static int64_t reserve_per_lot(const ch_engine *e, uint32_t und, int64_t price)
{
    return reserve_per_lot_tc(e, e->und[und].tick_cash, price);
}

/* Taker fee for q lots at `price` of series s, cash units (rounded up). */
static int64_t taker_fee(const ch_engine *e, ch_instr_id id, int64_t price, int64_t q)
{
    const series *s = &e->ser[id.v];
    const und_state *u = &e->und[s->und];
    double prem = (double)(price * u->tick_cash);
    double by_notional = u->has_index ? e->cfg.taker_fee_bps * 1e-4 * u->m.spot *
                                            s->rs.contract_size * CH_CASH_SCALE
                                      : 0.0;
    double cap = e->cfg.fee_cap * prem;
    double f = by_notional < cap ? by_notional : cap;
    if (!(f > 0))
        return 0;
    double total = f * (double)q;
    return (int64_t)ceil(total - 1e-12 * total); /* up, but not for float noise */
}

static void emit(ch_engine *e, ch_engine_event *ev)
{
    ev->seq = e->seq;
    if (e->fn != NULL)
        e->fn(e->fn_ctx, ev);
}

/* ---- positions ----------------------------------------------------------- */

/*
 * Position records are found through a dense account x instrument table: one
 * direct access, no probing (a hash sized for the configured maximum misses
 * the cache on nearly every probe). Its size is bounded by configuration.
 */
static uint32_t pos_find(const ch_engine *e, uint32_t a, uint32_t i)
{
    uint32_t v = e->pos_index[(size_t)a * e->cfg.max_instruments + i];
    return v == 0 ? NIL : v - 1;
}

/* The record for (a, i), created if needed; NIL when capacity is exhausted. */
static uint32_t pos_get(ch_engine *e, uint32_t a, uint32_t i)
{
    uint32_t *slot = &e->pos_index[(size_t)a * e->cfg.max_instruments + i];
    if (*slot != 0)
        return *slot - 1;
    if (e->n_pos == e->cfg.max_positions)
        return NIL;
    uint32_t k = e->n_pos++;
    position *p = &e->pos[k];
    *p = (position){.account = a, .instr = i};
    e->pos_link[k] = (pos_link){.next_acct = e->acct[a].first_pos,
                                .next_series = e->ser[i].first_pos};
    e->acct[a].first_pos = k;
    e->ser[i].first_pos = k;
    *slot = k + 1;
    return k;
}

/*
 * Records are created lazily, on an order's first fill, so that accepting a
 * resting order touches no position at all (the records of a large book do
 * not fit in any cache). Capacity is still decided before trading: each live
 * order without a record (e->unrecorded, counted from the book's ACK and
 * CANCEL events) may need one, so submit admits an order only while
 * n_pos + unrecorded + 1 <= max_positions. An order caches its record in the
 * book's `user` word once known.
 */
static uint32_t order_rec(ch_engine *e, uint32_t acct, ch_instr_id id, ch_order_id order,
                          uint64_t user)
{
    if (user != NIL)
        return (uint32_t)user;
    uint32_t k = pos_get(e, acct, id.v); /* cannot fail: admitted within capacity */
    SELF_CHECK(k != NIL && e->unrecorded > 0, "a record within the admitted capacity");
    e->unrecorded--;
    ch_book_set_user(e->book, order, k);
    return k;
}

/* The record of the order in progress (submit or replace). */
static uint32_t taker_rec(ch_engine *e)
{
    if (e->cur_taker_k == NIL)
        e->cur_taker_k = order_rec(e, e->cur_taker, e->cur_instr, e->cur_order, NIL);
    return e->cur_taker_k;
}

/* Apply a trade of q lots (signed) at `px` cash per contract to a position. */
static void pos_apply(ch_engine *e, uint32_t k, int64_t q, int64_t px)
{
    position *p = &e->pos[k];
    account *a = &e->acct[p->account];
    if (p->qty == 0)
        a->npos++;
    if (p->qty == 0 || (p->qty > 0) == (q > 0)) {
        p->cost += q * px;
        p->qty += q;
    } else {
        int64_t held = p->qty > 0 ? p->qty : -p->qty;
        int64_t n = q > 0 ? q : -q;
        int64_t closed = n < held ? n : held;
        int64_t cost_part = (int64_t)((__int128)p->cost * closed / held);
        int64_t sign = p->qty > 0 ? 1 : -1;
        p->realized += sign * closed * px - cost_part;
        p->cost -= cost_part;
        p->qty += q > 0 ? closed : -closed;
        int64_t rest = n - closed;
        if (rest > 0) {
            int64_t rq = q > 0 ? rest : -rest;
            p->cost = rq * px;
            p->qty = rq;
        }
    }
    if (p->qty == 0) {
        a->npos--;
        p->cost = 0;
    }
}

/* ---- clearing -------------------------------------------------------------- */

/* Every line of a scenario vector (they start on a line). */
static void prefetch_vec(const ch_engine *e, const double *v)
{
    for (size_t i = 0; i < e->nscen; i += CH_LINE / sizeof(double))
        PREFETCH(v + i);
}

/*
 * The margin kernel: M[0..n) += k x[0..n), returning min(0, min M), in one
 * pass. Each element is one multiply and one add, as in the scalar loop, so
 * every variant gives the same bits (no FMA; the minimum is exact); n covers
 * nscen rounded up to the variant's width, whose padding is 0 in both
 * vectors (0 + k 0) and so cannot lower the minimum. Chosen once per engine
 * (ch_engine_create): AVX where the CPU has it, else SSE2, else scalar.
 */

static double axpy_min_scalar(double *M, double k, const double *x, size_t n)
{
    double low = 0.0;
    for (size_t i = 0; i < n; i++) {
        M[i] += k * x[i];
        if (M[i] < low)
            low = M[i];
    }
    return low;
}

#if defined(__SSE2__)
#define CH_AXPY_SSE2 1
/* 4 at a time (n a multiple of 4), two minimum chains */
static double axpy_min_sse2(double *M, double k, const double *x, size_t n)
{
    __m128d kk = _mm_set1_pd(k), lo0 = _mm_setzero_pd(), lo1 = _mm_setzero_pd();
    for (size_t i = 0; i < n; i += 4) {
        __m128d m0 = _mm_add_pd(_mm_load_pd(M + i), _mm_mul_pd(kk, _mm_load_pd(x + i)));
        __m128d m1 = _mm_add_pd(_mm_load_pd(M + i + 2), _mm_mul_pd(kk, _mm_load_pd(x + i + 2)));
        _mm_store_pd(M + i, m0);
        _mm_store_pd(M + i + 2, m1);
        lo0 = _mm_min_pd(lo0, m0);
        lo1 = _mm_min_pd(lo1, m1);
    }
    double l[2];
    _mm_storeu_pd(l, _mm_min_pd(lo0, lo1));
    return l[0] < l[1] ? l[0] : l[1];
}
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define CH_AXPY_AVX 1
/* 8 at a time (n a multiple of 8), two minimum chains */
__attribute__((target("avx"))) static double axpy_min_avx(double *M, double k, const double *x,
                                                          size_t n)
{
    __m256d kk = _mm256_set1_pd(k), lo0 = _mm256_setzero_pd(), lo1 = _mm256_setzero_pd();
    for (size_t i = 0; i < n; i += 8) {
        __m256d m0 =
            _mm256_add_pd(_mm256_load_pd(M + i), _mm256_mul_pd(kk, _mm256_load_pd(x + i)));
        __m256d m1 = _mm256_add_pd(_mm256_load_pd(M + i + 4),
                                   _mm256_mul_pd(kk, _mm256_load_pd(x + i + 4)));
        _mm256_store_pd(M + i, m0);
        _mm256_store_pd(M + i + 4, m1);
        lo0 = _mm256_min_pd(lo0, m0);
        lo1 = _mm256_min_pd(lo1, m1);
    }
    double l[4];
    _mm256_storeu_pd(l, _mm256_min_pd(lo0, lo1));
    double a = l[0] < l[1] ? l[0] : l[1], b = l[2] < l[3] ? l[2] : l[3];
    return a < b ? a : b;
}
#endif

/* M += k x, and the account's worst scenario loss after it, in one pass. */
static void margin_add(const ch_engine *e, account *a, double k, const double *x)
{
#ifdef CH_ENGINE_SELF_CHECK
    /* the chosen kernel gives the scalar loop's bits */
    double ref[256], ref_low = 0.0;
    bool cmp = e->nscen <= 256;
    if (cmp) {
        memcpy(ref, a->M, e->nscen * sizeof(double));
        ref_low = axpy_min_scalar(ref, k, x, e->nscen);
    }
#endif
    double low = e->axpy_min(a->M, k, x, e->axpy_n);
#ifdef CH_ENGINE_SELF_CHECK
    if (cmp)
        SELF_CHECK(memcmp(ref, a->M, e->nscen * sizeof(double)) == 0 &&
                       (ref_low < 0 ? -ref_low : 0.0) == (low < 0 ? -low : 0.0),
                   "margin kernel");
#endif
    a->worst = low < 0 ? -low : 0.0;
}

/*
 * Resting sells and the margin vector. An account far from its margin limit
 * is not exact: its vector holds positions only, and pend, in whole cash
 * units, adds up lots x up_cash of its resting sells, so that adding or
 * cancelling a resting sell moves one integer instead of the vector (and a
 * cancel reads neither the vector nor the series). worst + pend is an upper
 * bound of the exact margin, M's worst loss with the sells as if filled
 * (each sell adds at most its lots x max(scen, 0) to any scenario's loss).
 * When that bound does not settle a check, the account becomes exact
 * (materialize: its sells from the books go into M, pend to 0), and stays so
 * until the next revaluation (refresh_accounts) decides again. Answers are
 * those of the exact vector either way.
 */
typedef struct sells_ctx {
    const ch_engine *e;
    uint32_t acct;
    double *M;
} sells_ctx;

static void add_sell_of(void *ctx, const ch_order_info *o)
{
    sells_ctx *c = ctx;
    if (o->account.v == c->acct)
        (void)c->e->axpy_min(c->M, -(double)o->remaining, c->e->ser[o->instr.v].scen,
                             c->e->axpy_n);
}

/* M += every resting sell of account acct as if filled: walks the sell side
 * of the books its sell_bits name. */
static void add_sells(const ch_engine *e, uint32_t acct, double *M)
{
    sells_ctx c = {e, acct, M};
    const uint64_t *bits = e->sell_bits + (size_t)acct * e->sell_words;
    for (size_t w = 0; w < e->sell_words; w++)
        for (uint64_t b = bits[w]; b != 0; b &= b - 1) {
            uint32_t i = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
            ch_book_foreach(e->book, (ch_instr_id){i}, CH_SELL, add_sell_of, &c);
        }
}

static void mark_sells(ch_engine *e, uint32_t acct, ch_instr_id id)
{
    e->sell_bits[(size_t)acct * e->sell_words + id.v / 64] |= UINT64_C(1) << (id.v % 64);
}

static double worst_of(const ch_engine *e, const double *M)
{
    double low = 0.0;
    for (size_t i = 0; i < e->nscen; i++)
        if (M[i] < low)
            low = M[i];
    return low < 0 ? -low : 0.0;
}

/* Account a becomes exact: its vector takes its resting sells, found in the
 * books (whatever pend says). */
static void become_exact(ch_engine *e, account *a)
{
#ifdef CH_ENGINE_SELF_CHECK
    ch_engine_exact_walks++;
#endif
    add_sells(e, (uint32_t)(a - e->acct), a->M);
    a->worst = worst_of(e, a->M);
    a->pend = 0;
    a->exact = true;
}

static void materialize(ch_engine *e, account *a)
{
    if (a->exact)
        return;
    if (a->pend == 0) {
        a->exact = true; /* no resting sells: M is exact as it is */
#ifdef CH_ENGINE_SELF_CHECK
        ch_engine_exact_free++;
#endif
    } else {
        become_exact(e, a);
    }
}

/* M (CH_SCEN_MAX_SPOT * 3, aligned) = account a's exact vector, without
 * changing a: its vector plus, unless exact, its sells from the books. */
static void exact_vector(const ch_engine *e, const account *a, double *M)
{
    memcpy(M, a->M, e->axpy_n * sizeof(double));
    if (!a->exact)
        add_sells(e, (uint32_t)(a - e->acct), M);
}

/* The margin in use: the worst loss of positions and resting sells. */
static double exact_worst(const ch_engine *e, const account *a)
{
    if (a->exact || a->pend == 0)
        return a->worst;
    CH_LINE_ALIGNED double M[CH_SCEN_MAX_SPOT * 3];
    exact_vector(e, a, M);
    return worst_of(e, M);
}

static double free_equity(const account *a)
{
    return (double)(a->cash - a->reserved) / CH_CASH_SCALE + a->mtm;
}

/* An upper bound of the exact margin, without reading the vector. */
static double margin_bound(const account *a)
{
    return a->worst + (double)a->pend / CH_CASH_SCALE;
}

/*
 * The inventory terms of the pool's skew for series id: the total term (all
 * of the underlying) and its (expiry, strike) bucket's. A quote's skew is
 * their sum plus the trade's own half-step (pool_price).
 */
static void pool_skew_terms(const ch_engine *e, const und_state *u, ch_instr_id id,
                            double *total, double *bucket)
{
    const ch_pool_config *pc = &e->cfg.pool;
    ch_risk_totals tot, bk = {0};
    ch_inventory_totals(u->pool_inv, &tot);
    ch_inventory_series_bucket(u->pool_inv, id.v, &bk);
    double t = 0, b = 0;
    if (pc->max_vega_total > 0)
        t += pc->pv_t * tot.vega / pc->max_vega_total;
    if (pc->max_gamma_total > 0)
        t += pc->pg_t * tot.gamma / pc->max_gamma_total;
    if (pc->max_vega_strike > 0)
        b += pc->pv_k * bk.vega / pc->max_vega_strike;
    if (pc->max_gamma_strike > 0)
        b += pc->pg_k * bk.gamma / pc->max_gamma_strike;
    *total = t;
    *bucket = b;
}

/* Position, margin vector, mark value and inventory of one side of a trade;
 * `k` is acct's record for id. `held`: the margin vector already counts these
 * lots (a resting sell, held as if filled, that now fills). */
static void book_leg(ch_engine *e, uint32_t acct, uint32_t k, ch_instr_id id, int64_t q,
                     int64_t px_cash, bool held)
{
    series *s = &e->ser[id.v];
    pos_apply(e, k, q, px_cash);
    account *a = &e->acct[acct];
    if (held && !a->exact) /* pend held the lots (q < 0): now they are a position */
        a->pend += q * e->hold[id.v].up_cash;
    if (!held || !a->exact)
        margin_add(e, a, (double)q, s->scen);
    a->mtm += (double)q * s->unit.price;
    und_state *u = &e->und[s->und];
    if (acct == CH_ACCOUNT_POOL) {
        e->pool_epoch++; /* not base_epoch: pool_drift bounds what a pool fill moves */
        double before = fabs((double)(e->pos[k].qty - q));
        double after = fabs((double)e->pos[k].qty);
        u->pool_abs_notional_units += (after - before) * s->rs.contract_size;
        double t0, b0, t1, b1;
        pool_skew_terms(e, u, id, &t0, &b0);
        ch_inventory_fill(u->pool_inv, id.v, (double)q);
        pool_skew_terms(e, u, id, &t1, &b1);
        /* every other series' skew moved by the total term only; this
         * bucket's by both */
        u->pool_drift += fabs(t1 - t0) + fabs(b1 - b0);
    } else if (acct == CH_ACCOUNT_HOUSE) {
        ch_inventory_fill(u->house_inv, id.v, (double)q);
    }
}

/*
 * One trade of q lots of `id` at `price` ticks between buyer and seller
 * (records bk, sk); the taker (one of them) pays `fee`. Cash moves both ways
 * exactly. `seller_held`: the seller is a resting sell order, whose lots its
 * margin vector already holds as if filled; they stay there as its position.
 */
static void clear_trade(ch_engine *e, ch_instr_id id, uint32_t buyer, uint32_t bk,
                        uint32_t seller, uint32_t sk, int64_t price, int64_t q,
                        uint32_t fee_payer, int64_t fee, bool seller_held)
{
    int64_t px_cash = price * e->und[e->ser[id.v].und].tick_cash;
    int64_t amount = px_cash * q;
    e->acct[buyer].cash -= amount;
    e->acct[seller].cash += amount;
    if (fee > 0) {
        e->acct[fee_payer].cash -= fee;
        e->acct[CH_ACCOUNT_FEES].cash += fee;
    }
    book_leg(e, buyer, bk, id, q, px_cash, false);
    book_leg(e, seller, sk, id, -q, px_cash, seller_held);
}

static void count_fill(ch_engine *e, ch_instr_id id, ch_source src, int64_t q)
{
    series *s = &e->ser[id.v];
    double g = fabs((double)q * s->unit.gamma), v = fabs((double)q * s->unit.vega);
    s->gross_g += g;
    s->gross_v += v;
    e->net.gross_gamma += g;
    e->net.gross_vega += v;
    if (src == CH_SRC_POOL) {
        s->pool_g += g;
        s->pool_v += v;
    } else {
        s->netted_g += g;
        s->netted_v += v;
        e->net.netted_gamma += g;
        e->net.netted_vega += v;
    }
    double dx = fabs((double)q * s->unit.delta);
    e->net.gross_delta += dx;
    /* the dealer baseline: every customer's leg (book: both customers on x;
     * parity: the taker on x, the maker on the sibling; pool: the taker) */
    if (src == CH_SRC_BOOK)
        e->net.dealer_delta += 2 * dx;
    else if (src == CH_SRC_NET)
        e->net.dealer_delta += dx + fabs((double)q * e->ser[s->sibling.v].unit.delta);
    else
        e->net.dealer_delta += dx;
    e->net.notional += fabs((double)q) * s->rs.contract_size * e->und[s->und].m.spot;
    e->net.fills[src]++;
    e->net.lots[src] += q;
}

static void report_fill(ch_engine *e, ch_fill *f)
{
    double d = (double)f->qty * e->ser[f->instr.v].unit.delta;
    f->delta = f->taker_side == CH_BUY ? d : -d;
    if (e->cur_res != NULL) {
        e->cur_res->by_source[f->source] += f->qty;
        e->cur_res->fills++;
    }
    if (e->fn != NULL) {
        ch_engine_event ev = {.type = CH_EE_FILL, .fill = *f};
        emit(e, &ev);
    }
}

/* Release what a resting order holds: buy reservation, sell pend or margin
 * vector. Reads the account and the series' hold_param, and, for a sell of
 * an exact account, the vectors. */
static void release_order(ch_engine *e, uint32_t acct, ch_instr_id id, ch_side side,
                          int64_t price, int64_t q)
{
    account *a = &e->acct[acct];
    const hold_param *h = &e->hold[id.v];
    if (side == CH_BUY)
        a->reserved -= reserve_per_lot_tc(e, h->tick_cash, price) * q;
    else if (!a->exact)
        a->pend -= q * h->up_cash;
    else
        margin_add(e, a, (double)q, e->ser[id.v].scen); /* a resting sell held -q x scen */
}

/* Hold what the order resting in its book now takes (the order is there). */
static void hold_order(ch_engine *e, uint32_t acct, ch_instr_id id, ch_side side, int64_t price,
                       int64_t q)
{
    account *a = &e->acct[acct];
    const hold_param *h = &e->hold[id.v];
    if (side == CH_BUY) {
        a->reserved += reserve_per_lot_tc(e, h->tick_cash, price) * q;
    } else if (!a->exact) {
        int64_t add, sum;
        mark_sells(e, acct, id);
        if (h->up_cash != UP_HUGE && !__builtin_mul_overflow(q, h->up_cash, &add) &&
            !__builtin_add_overflow(a->pend, add, &sum))
            a->pend = sum;
        else
            become_exact(e, a); /* beyond an integer (the walk finds this order too) */
    } else {
        margin_add(e, a, -(double)q, e->ser[id.v].scen);
    }
}

/* Expected funding to a horizon of T years, a fraction of notional: the
 * average per 8-hour period times the periods (0 without a funding feed). */
static double funding_to(const und_state *u, double T)
{
    return isnan(u->funding_avg) ? 0.0 : u->funding_avg * T * 365.0 * 3.0;
}

/* The perp-implied forward to T: index x (1 + expected funding to T) + the
 * perp's basis to the index (0 without a perp price). */
static double perp_forward(const und_state *u, double T)
{
    double basis = u->perp > 0 ? u->perp - u->m.spot : 0.0;
    return u->m.spot * (1.0 + funding_to(u, T)) + basis;
}

/* Parity: the taker's price for a resting sibling order at `p` ticks. With
 * risk-aware netting the fill also pays (or, taking delta off the house, is
 * rebated) the marginal hedge cost per lot that net_hedge_terms set for this
 * step; rounding is in the house's favour. */
static int64_t parity_price(const ch_engine *e, ch_instr_id x, ch_side taker_side, int64_t p)
{
    const series *s = &e->ser[x.v];
    /* C = P + D(F-K): a call taker gets P + fwd, a put taker C - fwd */
    double fwd = s->rs.type == CH_OPT_CALL ? s->fwd_ticks : -s->fwd_ticks;
    double extra = e->cfg.risk_aware ? e->net_cost_ticks : 0.0;
    if (taker_side == CH_BUY)
        return (int64_t)ceil((double)p + fwd + extra - 1e-9) + e->cfg.netting_fee_ticks;
    return (int64_t)floor((double)p + fwd - extra + 1e-9) - e->cfg.netting_fee_ticks;
}

/*
 * Risk-aware netting: the terms of a parity fill of the taker's `side` on x
 * now. The house takes a forward of d = ∓(delta_x - delta_sibling) per lot
 * (a call buyer leaves it short a forward). *q, the lots at the sibling's
 * best level, is cut to what keeps one price exact: the lots that take delta
 * off the house up to zero (rebated), or, from there, the lots within the
 * house's delta limit (paying). Sets e->net_cost_ticks, the cost per lot in
 * ticks, for parity_price. false: the fill would take the house's delta past
 * its limit (refused).
 *
 * The cost is ch_marginal_hedge_cost's trading part only: the forward is
 * already the perp's (index carried by expected funding, plus basis), so the
 * taker pays the hedge's funding in the parity price itself and charging the
 * carry again would count it twice.
 */
static bool net_hedge_terms(ch_engine *e, ch_instr_id x, ch_side side, int64_t *q)
{
    const series *s = &e->ser[x.v];
    const und_state *u = &e->und[s->und];
    double per = s->unit.delta - e->ser[s->sibling.v].unit.delta;
    double d = side == CH_BUY ? -per : per; /* the house's delta per lot */
    double h = ch_engine_house_delta(e, s->und);
    int64_t n = *q;
    if (fabs(d) > 1e-12) {
        bool reduces = (h > 0 && d < 0) || (h < 0 && d > 0);
        double room = fabs(h) / fabs(d); /* lots until the house's delta crosses zero */
        if (reduces) {
            /* wholly reducing lots; a lot that crosses zero goes alone */
            int64_t k = room >= 1 ? (int64_t)fmin(floor(room), (double)INT64_MAX / 2) : 1;
            if (n > k)
                n = k;
        } else if (e->cfg.house_delta_limit > 0) {
            /* lots that keep |h + n d| within the limit */
            double lim = e->cfg.house_delta_limit;
            double far = d > 0 ? (lim - h) / d : (-lim - h) / d;
            if (far < 1)
                return false;
            if ((double)n > far)
                n = (int64_t)floor(far);
        }
    }
    ch_hedge_cost_params hp = {.fee_rate = e->cfg.hedge_fee_bps * 1e-4,
                               .impact_rate = e->cfg.hedge_impact_bps * 1e-4,
                               .delta_limit = e->cfg.house_delta_limit};
    double T = ch_years(e->now, s->rs.expiry);
    double F = perp_forward(u, T > 0 ? T : 0);
    ch_hedge_cost c = ch_marginal_hedge_cost(&hp, h, (double)n * d, F, 0.0);
    if (c.refused)
        return false;
    e->net_cost_ticks = c.trading / (double)n / tick_value(e, s->und);
    *q = n;
    return true;
}

/* The book's events: clear fills, release what resting orders held. */
static void on_book_event(void *ctx, const ch_event *ev)
{
    ch_engine *e = ctx;
    if (ev->type == CH_EV_CANCEL && ev->user == NIL)
        e->unrecorded--; /* left the book without ever trading (submit counted it) */
    if (ev->type == CH_EV_FILL) {
        ch_instr_id id = ev->instr;
        uint32_t maker = ev->maker_account.v;
        ch_side taker_side = ev->side;
        /* the misses a fill takes (the maker's account and the index
         * entries of both records, then the records) start together */
        PREFETCH(&e->acct[maker]);
        if (ev->maker_user == NIL)
            PREFETCH(&e->pos_index[(size_t)maker * e->cfg.max_instruments + id.v]);
        if (e->cur_taker_k == NIL)
            PREFETCH(&e->pos_index[(size_t)e->cur_taker * e->cfg.max_instruments +
                                   e->cur_instr.v]);
        /* the resting order traded: release what a buy held for those lots
         * (a sell's margin hold becomes its position's, see clear_trade) */
        if (taker_side == CH_SELL)
            release_order(e, maker, id, CH_BUY, ev->price, ev->qty);
        uint32_t mk = order_rec(e, maker, id, ev->maker, ev->maker_user);
        PREFETCH(&e->pos[mk]);
        PREFETCH(&e->pos[taker_rec(e)]);
        if (e->ctx_source == CH_SRC_NET) {
            /* taker vs house on the taker's series, house vs maker on the sibling */
            ch_instr_id x = e->cur_instr;
            int64_t pe = parity_price(e, x, taker_side, ev->price);
            int64_t fee = taker_fee(e, x, pe, ev->qty);
            uint32_t t = e->cur_taker, tk = taker_rec(e);
            uint32_t hx = e->ser[x.v].house_k, hs = e->ser[id.v].house_k;
            if (taker_side == CH_BUY) {
                clear_trade(e, x, t, tk, CH_ACCOUNT_HOUSE, hx, pe, ev->qty, t, fee, false);
                /* the resting sibling order is a sell (an ask) */
                clear_trade(e, id, CH_ACCOUNT_HOUSE, hs, maker, mk, ev->price, ev->qty, maker, 0,
                            true);
            } else {
                clear_trade(e, x, CH_ACCOUNT_HOUSE, hx, t, tk, pe, ev->qty, t, fee, false);
                clear_trade(e, id, maker, mk, CH_ACCOUNT_HOUSE, hs, ev->price, ev->qty, maker, 0,
                            false);
            }
            count_fill(e, x, CH_SRC_NET, ev->qty);
            ch_fill f = {.trade_id = ++e->trades, .source = CH_SRC_NET, .instr = x,
                         .taker_side = taker_side, .price = pe, .qty = ev->qty,
                         .taker = {t}, .maker = {maker}, .taker_order = e->cur_order,
                         .maker_order = ev->maker, .maker_instr = id, .maker_price = ev->price,
                         .fee = fee};
            report_fill(e, &f);
        } else {
            uint32_t t = e->cur_taker, tk = taker_rec(e);
            int64_t fee = taker_fee(e, id, ev->price, ev->qty);
            if (taker_side == CH_BUY)
                clear_trade(e, id, t, tk, maker, mk, ev->price, ev->qty, t, fee, true);
            else
                clear_trade(e, id, maker, mk, t, tk, ev->price, ev->qty, t, fee, false);
            count_fill(e, id, CH_SRC_BOOK, ev->qty);
            ch_fill f = {.trade_id = ++e->trades, .source = CH_SRC_BOOK, .instr = id,
                         .taker_side = taker_side, .price = ev->price, .qty = ev->qty,
                         .taker = {t}, .maker = {maker}, .taker_order = ev->order,
                         .maker_order = ev->maker, .maker_instr = id,
                         .maker_price = ev->price, .fee = fee};
            report_fill(e, &f);
        }
    } else if (ev->type == CH_EV_CANCEL && ev->order.v != e->cur_order.v) {
        /* a resting order left the book (cancel, STP, expiry) */
        release_order(e, ev->account.v, ev->instr, ev->side, ev->price, ev->qty);
    }
    if (e->fn != NULL) {
        ch_engine_event out = {.type = CH_EE_ORDER, .book = ev};
        emit(e, &out);
    }
}

/* ---- pool ------------------------------------------------------------------ */

typedef struct pool_px {
    bool ok;
    int64_t ticks;
    double raw; /* the price in ticks before rounding to a tick and to the band */
    double mid, premium; /* per contract, quote ccy */
} pool_px;

/* Exposure measure after a pool trade of dq: allowed if within limit or shrinking. */
static bool within(double now, double after, double limit)
{
    return fabs(after) <= limit || fabs(after) <= fabs(now);
}

/* The pool's price for a customer trade of n lots (n >= 1). */
static pool_px pool_price(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t n)
{
    pool_px r = {0};
    const series *s = &e->ser[id.v];
    const ch_pool_config *pc = &e->cfg.pool;
    if (!pc->enabled || !s->marked || s->rs.is_linear)
        return r;
    const und_state *u = &e->und[s->und];
    ch_risk_totals tot, bk;
    ch_inventory_totals(u->pool_inv, &tot);
    ch_inventory_series_bucket(u->pool_inv, id.v, &bk);
    double dq = cust == CH_BUY ? -(double)n : (double)n;
    double vg = s->unit.vega, gm = s->unit.gamma;
    double hv = 0.5 * dq * vg, hg = 0.5 * dq * gm;
    double x = 0;
    if (pc->max_vega_total > 0)
        x += pc->pv_t * (tot.vega + hv) / pc->max_vega_total;
    if (pc->max_gamma_total > 0)
        x += pc->pg_t * (tot.gamma + hg) / pc->max_gamma_total;
    if (pc->max_vega_strike > 0)
        x += pc->pv_k * (bk.vega + hv) / pc->max_vega_strike;
    if (pc->max_gamma_strike > 0)
        x += pc->pg_k * (bk.gamma + hg) / pc->max_gamma_strike;
    double skew = dq > 0 ? x : -x; /* sign(dq) */
    if (skew > pc->max_skew_vol)
        skew = pc->max_skew_vol;
    if (skew < -pc->max_skew_vol)
        skew = -pc->max_skew_vol;
    double prem = (pc->half_spread_vol + skew) * vg;
    double px = cust == CH_BUY ? s->unit.price + prem : s->unit.price - prem;
    double tv = tick_value(e, s->und);
    r.raw = px / tv;
    int64_t t = cust == CH_BUY ? (int64_t)ceil(r.raw - 1e-9) : (int64_t)floor(r.raw + 1e-9);
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    if (t < uc->min_price) {
        if (cust == CH_SELL)
            return r; /* the pool bids nothing */
        t = uc->min_price;
    }
    if (t > uc->max_price) {
        if (cust == CH_BUY)
            return r;
        t = uc->max_price;
    }
    r.ok = true;
    r.ticks = t;
    r.mid = s->unit.price;
    r.premium = prem;
    return r;
}

/* May the pool take n lots of this trade (limits, cash)? */
static bool pool_allows(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t n,
                        int64_t ticks)
{
    const series *s = &e->ser[id.v];
    const ch_pool_config *pc = &e->cfg.pool;
    const und_state *u = &e->und[s->und];
    ch_risk_totals tot, bk;
    ch_inventory_totals(u->pool_inv, &tot);
    ch_inventory_series_bucket(u->pool_inv, id.v, &bk);
    double dq = cust == CH_BUY ? -(double)n : (double)n;
    if (!within(tot.vega, tot.vega + dq * s->unit.vega, pc->max_vega_total) ||
        !within(tot.gamma, tot.gamma + dq * s->unit.gamma, pc->max_gamma_total) ||
        !within(bk.vega, bk.vega + dq * s->unit.vega, pc->max_vega_strike) ||
        !within(bk.gamma, bk.gamma + dq * s->unit.gamma, pc->max_gamma_strike))
        return false;
    double held = (double)e->pos[s->pool_k].qty;
    double units_now = u->pool_abs_notional_units;
    double units_after = units_now + (fabs(held + dq) - fabs(held)) * s->rs.contract_size;
    double spot = u->has_index ? u->m.spot : 0.0;
    if (!within(units_now * spot, units_after * spot, pc->max_notional))
        return false;
    if (cust == CH_SELL) { /* the pool pays */
        int64_t cost = ticks * u->tick_cash * n;
        if (cost > e->acct[CH_ACCOUNT_POOL].cash)
            return false;
    }
    return true;
}

/* Is `p` at least as good as `bound` for the customer? (strict: better) */
static bool better(ch_side cust, int64_t p, int64_t bound, bool strict)
{
    if (cust == CH_BUY)
        return strict ? p < bound : p <= bound;
    return strict ? p > bound : p >= bound;
}

/*
 * Largest n <= want the pool fills at an average price no worse than
 * `bound` (strictly better if `strict`), within limits. 0 if none. With
 * `marginal`, the price of the n-th lot itself must be within the bound (the
 * premium is linear in the lot index, so the average over 2n-1 lots is the
 * price at lot n - 1/2): however a sweep splits the pool's share into chunks,
 * each chunk's average is then within the bound, which is what a FOK check
 * needs.
 */
static int64_t pool_fill_qty_ex(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t want,
                                int64_t bound, bool strict, bool marginal, pool_px *px_out)
{
    int64_t lo = 0, hi = want;
    pool_px best = {0};
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        pool_px p = pool_price(e, id, cust, marginal ? 2 * mid - 1 : mid);
        if (p.ok && better(cust, p.ticks, bound, strict) && pool_allows(e, id, cust, mid, p.ticks)) {
            lo = mid;
            best = p;
        } else {
            hi = mid - 1;
        }
    }
    if (lo > 0 && px_out != NULL)
        *px_out = best;
    return lo;
}

static int64_t pool_fill_qty(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t want,
                             int64_t bound, bool strict, pool_px *px_out)
{
    return pool_fill_qty_ex(e, id, cust, want, bound, strict, false, px_out);
}

/* ---- creation ---------------------------------------------------------------- */

void ch_engine_defaults(ch_engine_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_instruments = 1024;
    c->max_underlyings = 8;
    c->max_orders = 1u << 20;
    c->max_levels = 256;
    c->max_accounts = 4096;
    c->max_positions = 1u << 20;
    c->netting = true;
    c->netting_fee_ticks = 1;
    c->taker_fee_bps = 3.0;
    c->fee_cap = 0.125;
    c->risk_aware = false; /* opt-in until chd and chsim book hedges in the engine */
    c->hedge_fee_bps = 5.0;
    c->hedge_impact_bps = 1.0;
    c->funding_half_life_h = 72.0;
    c->pool = (ch_pool_config){.enabled = true,
                               .half_spread_vol = 0.01,
                               .pv_t = 0.02,
                               .pg_t = 0.01,
                               .pv_k = 0.01,
                               .pg_k = 0.02,
                               .max_skew_vol = 0.05,
                               .max_vega_total = 2e6,
                               .max_gamma_total = 50,
                               .max_vega_strike = 5e5,
                               .max_gamma_strike = 10,
                               .max_notional = 1e8};
    ch_scenario_defaults(&c->scenarios);
}

static void open_internal(ch_engine *e, uint32_t i, const char *name)
{
    account *a = &e->acct[i];
    a->open = true;
    a->internal = true;
    a->first_pos = NIL;
    strncpy(a->name, name, CH_ACCOUNT_NAME_MAX - 1);
}

ch_engine *ch_engine_create(const ch_engine_config *cfg)
{
    if (cfg == NULL || cfg->max_instruments == 0 || cfg->max_instruments >= (1u << 24) ||
        cfg->max_underlyings == 0 || cfg->max_underlyings > 64 || cfg->max_accounts < 4 ||
        cfg->max_accounts >= (1u << 24) || cfg->max_positions == 0 ||
        (uint64_t)cfg->max_accounts * cfg->max_instruments > (UINT64_C(1) << 28) ||
        cfg->max_positions >= (1u << 28) || cfg->netting_fee_ticks < 0 ||
        !(cfg->taker_fee_bps >= 0) || !(cfg->fee_cap >= 0 && cfg->fee_cap <= 1) ||
        cfg->scenarios.n_spot == 0 || cfg->scenarios.n_spot > CH_SCEN_MAX_SPOT ||
        !(cfg->pool.half_spread_vol >= 0) || !(cfg->pool.max_skew_vol >= 0))
        return NULL;
    ch_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->cfg = *cfg;
    e->nscen = cfg->scenarios.n_spot * 3;
    e->fee_cap_ppm = (int64_t)llround(cfg->fee_cap * 1e6);
    ch_book_config bc = {.max_instruments = cfg->max_instruments,
                         .max_orders = cfg->max_orders,
                         .max_levels = cfg->max_levels,
                         .on_event = on_book_event,
                         .ctx = e};
    e->reg = ch_instruments_create(cfg->max_instruments, cfg->max_underlyings);
    e->book = ch_book_create(&bc);
    e->ser = ch_table_alloc(cfg->max_instruments, sizeof *e->ser);
    e->hold = ch_table_alloc(cfg->max_instruments, sizeof *e->hold);
    e->und = calloc(cfg->max_underlyings, sizeof *e->und);
    e->acct = ch_table_alloc(cfg->max_accounts, sizeof *e->acct);
    e->scen_stride = (e->nscen * sizeof(double) + CH_LINE - 1) / CH_LINE * CH_LINE / sizeof(double);
    e->axpy_min = axpy_min_scalar;
    e->axpy_n = e->nscen;
#if defined(CH_AXPY_SSE2)
    e->axpy_min = axpy_min_sse2;
    e->axpy_n = (e->nscen + 3) / 4 * 4;
#endif
#if defined(CH_AXPY_AVX)
    if (__builtin_cpu_supports("avx")) {
        e->axpy_min = axpy_min_avx;
        e->axpy_n = (e->nscen + 7) / 8 * 8;
    }
#endif
    e->scen_arena = ch_table_alloc(((size_t)cfg->max_instruments + (size_t)cfg->max_accounts) *
                                     e->scen_stride,
                                 sizeof(double));
    /* ch_table_alloc writes its memory: the record pages fault in now, not on
     * the trading path (and large tables get huge pages where offered) */
    e->pos = ch_table_alloc(cfg->max_positions, sizeof *e->pos);
    e->pos_link = ch_table_alloc(cfg->max_positions, sizeof *e->pos_link);
    e->pos_index = ch_table_alloc((size_t)cfg->max_accounts * cfg->max_instruments,
                                sizeof *e->pos_index);
    e->sell_words = (cfg->max_instruments + 63) / 64;
    e->sell_bits = ch_table_alloc((size_t)cfg->max_accounts * e->sell_words, sizeof *e->sell_bits);
    if (e->reg == NULL || e->book == NULL || e->ser == NULL || e->hold == NULL || e->und == NULL ||
        e->acct == NULL || e->pos == NULL || e->pos_link == NULL || e->pos_index == NULL ||
        e->sell_bits == NULL ||
        e->scen_arena == NULL) {
        ch_engine_destroy(e);
        return NULL;
    }
    ch_book_set_event_mask(e->book, BOOK_EVENTS_OWN);
    for (uint32_t i = 0; i < cfg->max_instruments; i++) {
        e->ser[i].first_pos = NIL;
        e->ser[i].scen = e->scen_arena + (size_t)i * e->scen_stride;
    }
    for (uint32_t a = 0; a < cfg->max_accounts; a++) {
        e->acct[a].M = e->scen_arena + ((size_t)cfg->max_instruments + a) * e->scen_stride;
    }
    e->pool_epoch = 1;
    open_internal(e, CH_ACCOUNT_HOUSE, "house");
    open_internal(e, CH_ACCOUNT_POOL, "pool");
    open_internal(e, CH_ACCOUNT_FEES, "fees");
    e->n_acct = 3;
    return e;
}

void ch_engine_destroy(ch_engine *e)
{
    if (e == NULL)
        return;
    if (e->und != NULL) {
        for (uint32_t i = 0; i < e->n_und; i++) {
            ch_smile_destroy(e->und[i].smile);
            ch_smile_destroy(e->und[i].scratch);
            ch_inventory_destroy(e->und[i].pool_inv);
            ch_inventory_destroy(e->und[i].house_inv);
        }
    }
    ch_instruments_destroy(e->reg);
    ch_book_destroy(e->book);
    free(e->ser);
    free(e->hold);
    free(e->und);
    free(e->acct);
    free(e->pos);
    free(e->pos_link);
    free(e->pos_index);
    free(e->sell_bits);
    free(e->scen_arena);
    free(e);
}

void ch_engine_set_sink(ch_engine *e, ch_engine_event_fn fn, void *ctx)
{
    e->fn = fn;
    e->fn_ctx = ctx;
    ch_book_set_event_mask(e->book, fn != NULL ? CH_EV_ALL : BOOK_EVENTS_OWN);
}

const ch_instruments *ch_engine_instruments(const ch_engine *e)
{
    return e->reg;
}

const ch_book *ch_engine_book(const ch_engine *e)
{
    return e->book;
}

ch_time ch_engine_now(const ch_engine *e)
{
    return e->now;
}

ch_err ch_engine_add_underlying(ch_engine *e, const ch_underlying_config *u, uint32_t *index)
{
    if (u->price_decimals > 6 || u->price_decimals < 0)
        return CH_EBADCONFIG;
    /* a lot's reservation (premium at the band's top plus the largest fee)
     * must fit in 64-bit cash units with room to spare */
    double top = (double)u->max_price * (double)u->tick_units;
    for (int i = u->price_decimals; i < 6; i++)
        top *= 10;
    if (!(top * (1.0 + e->cfg.fee_cap) < 0x1p62))
        return CH_EBADCONFIG;
    uint32_t idx;
    ch_err err = ch_instruments_add_underlying(e->reg, u, &idx);
    if (err != CH_OK)
        return err;
    und_state *s = &e->und[idx];
    s->smile = ch_smile_create(64, 256);
    s->scratch = ch_smile_create(64, 256);
    s->pool_inv = ch_inventory_create(e->cfg.max_instruments);
    s->house_inv = ch_inventory_create(e->cfg.max_instruments);
    if (s->smile == NULL || s->scratch == NULL || s->pool_inv == NULL || s->house_inv == NULL)
        return CH_ENOMEM; /* the underlying stays registered but unusable: memory */
    int64_t p10 = 1;
    for (int i = u->price_decimals; i < 6; i++)
        p10 *= 10;
    s->tick_cash = u->tick_units * p10;
    s->m.now = e->now;
    s->funding_avg = NAN;
    e->n_und = idx + 1;
    if (index != NULL)
        *index = idx;
    return CH_OK;
}

/* ---- caches ------------------------------------------------------------------ */

static void refresh_series(ch_engine *e, uint32_t i)
{
    series *s = &e->ser[i];
    und_state *u = &e->und[s->und];
    s->marked = false;
    if (!u->has_index)
        return;
    u->m.now = e->now;
    ch_greeks g;
    if (ch_series_mark(&s->rs, u->smile, &u->m, &g) != CH_OK)
        return;
    if (ch_series_scenarios(&s->rs, u->smile, &u->m, &e->cfg.scenarios, s->scen) != CH_OK)
        return;
    s->unit = g;
    s->marked = true;
    s->ticks_per_skew = fabs(g.vega) / tick_value(e, s->und);
    s->scen_up = 0;
    for (size_t k = 0; k < e->nscen; k++)
        if (s->scen[k] > s->scen_up)
            s->scen_up = s->scen[k];
    double up = ceil(s->scen_up * CH_CASH_SCALE) + 1;
    e->hold[i].up_cash = up < 0x1p62 ? (int64_t)up : UP_HUGE; /* (refresh_accounts follows) */
    if (!s->rs.is_linear) {
        double T = ch_years(e->now, s->rs.expiry);
        if (T < 0)
            T = 0;
        double fwd = u->m.spot * exp(-u->m.carry * T) - s->rs.strike * exp(-u->m.rate * T);
        if (e->cfg.risk_aware) /* D(F - K), F from the perp: what the hedge can lock in */
            fwd = exp(-u->m.rate * T) * (perp_forward(u, T) - s->rs.strike);
        s->fwd_ticks = fwd / tick_value(e, s->und);
    }
}

/* refresh_accounts' first walk: pend of every account that is not exact */
static void pend_resting_sell(void *ctx, const ch_order_info *o)
{
    ch_engine *e = ctx;
    account *a = &e->acct[o->account.v];
    mark_sells(e, o->account.v, o->instr);
    if (a->exact)
        return;
    int64_t up = e->hold[o->instr.v].up_cash, add, sum;
    if (up == UP_HUGE || __builtin_mul_overflow(o->remaining, up, &add) ||
        __builtin_add_overflow(a->pend, add, &sum))
        a->exact = true; /* no integer bound: its sells go into M */
    else
        a->pend = sum;
}

/* the second: the sells of exact accounts go into their vectors */
static void add_resting_sell(void *ctx, const ch_order_info *o)
{
    ch_engine *e = ctx;
    account *a = &e->acct[o->account.v];
    if (a->exact)
        margin_add(e, a, -(double)o->remaining, e->ser[o->instr.v].scen);
}

/*
 * Rebuild every account's margin vector, pend and mark value from the
 * caches, and decide again which accounts are exact: those whose bound
 * (worst + pend) is above half their free equity, where a check may soon
 * need the exact figure.
 */
static void refresh_accounts(ch_engine *e)
{
    for (uint32_t a = 0; a < e->n_acct; a++) {
        memset(e->acct[a].M, 0, e->nscen * sizeof(double));
        e->acct[a].worst = 0;
        e->acct[a].mtm = 0;
        e->acct[a].pend = 0;
        e->acct[a].exact = false;
    }
    memset(e->sell_bits, 0, (size_t)e->n_acct * e->sell_words * sizeof *e->sell_bits);
    for (uint32_t k = 0; k < e->n_pos; k++) {
        const position *p = &e->pos[k];
        if (p->qty == 0)
            continue;
        const series *s = &e->ser[p->instr];
        account *a = &e->acct[p->account];
        margin_add(e, a, (double)p->qty, s->scen);
        a->mtm += (double)p->qty * s->unit.price;
    }
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++)
        if (e->ser[i].listed)
            ch_book_foreach(e->book, (ch_instr_id){i}, CH_SELL, pend_resting_sell, e);
    bool any = false;
    for (uint32_t k = 0; k < e->n_acct; k++) {
        account *a = &e->acct[k];
        if (!a->exact && a->pend > 0 && 2 * margin_bound(a) > free_equity(a))
            a->exact = true;
        if (a->exact) {
            a->pend = 0;
            any = true;
        }
    }
    /* resting sells of exact accounts count as if filled */
    if (any)
        for (uint32_t i = 0; i < n; i++)
            if (e->ser[i].listed)
                ch_book_foreach(e->book, (ch_instr_id){i}, CH_SELL, add_resting_sell, e);
}

static void refresh_underlying(ch_engine *e, uint32_t und)
{
    e->pool_epoch++;
    e->base_epoch++;
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++)
        if (e->ser[i].listed && e->ser[i].und == und)
            refresh_series(e, i);
    und_state *u = &e->und[und];
    if (u->has_index) {
        u->m.now = e->now;
        ch_inventory_revalue(u->pool_inv, u->smile, &u->m);
        ch_inventory_revalue(u->house_inv, u->smile, &u->m);
    }
}

/* ---- listing ----------------------------------------------------------------- */

static ch_err after_listing(ch_engine *e, ch_instr_id id)
{
    const ch_instrument *in = ch_instruments_get(e->reg, id);
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, in->underlying);
    series *s = &e->ser[id.v];
    if (s->listed)
        return CH_OK;
    /* house and pool records first, so that no fill ever allocates; live
     * orders keep their claim on one record each (see order_rec) */
    if ((uint64_t)e->n_pos + e->unrecorded + 2 > e->cfg.max_positions)
        return CH_ECAPACITY;
    ch_err err = ch_book_add_instrument(e->book, id, uc->min_price, uc->max_price);
    if (err != CH_OK)
        return err;
    s->listed = true;
    s->und = in->underlying;
    s->sibling = in->sibling;
    s->rs = (ch_series){.type = in->sym.kind == CH_PUT ? CH_OPT_PUT : CH_OPT_CALL,
                        .strike = (double)in->sym.strike,
                        .expiry = in->sym.expiry,
                        .contract_size = uc->contract_size,
                        .is_linear = in->sym.kind == CH_PERP};
    if (s->rs.is_linear)
        s->rs.strike = 1.0;
    s->trade_until = s->rs.is_linear ? INT64_MAX : s->rs.expiry;
    e->hold[id.v].tick_cash = e->und[s->und].tick_cash;
    s->house_k = pos_get(e, CH_ACCOUNT_HOUSE, id.v);
    s->pool_k = pos_get(e, CH_ACCOUNT_POOL, id.v);
    und_state *u = &e->und[s->und];
    ch_inventory_define(u->pool_inv, id.v, &s->rs);
    ch_inventory_define(u->house_inv, id.v, &s->rs);
    if (in->sibling.v != CH_INSTR_NONE)
        e->ser[in->sibling.v].sibling = id;
    refresh_series(e, id.v);
    return CH_OK;
}

ch_err ch_engine_list(ch_engine *e, const char *symbol, size_t len, ch_instr_id *id)
{
    ch_instr_id x;
    ch_err err = ch_instruments_add(e->reg, symbol, len, e->now, &x);
    if (err == CH_EEXISTS && e->ser[x.v].listed) {
        if (id != NULL)
            *id = x;
        return CH_EEXISTS;
    }
    if (err != CH_OK && err != CH_EEXISTS)
        return err;
    err = after_listing(e, x);
    if (err == CH_OK && id != NULL)
        *id = x;
    return err;
}

ch_err ch_engine_list_grid(ch_engine *e, uint32_t underlying, const ch_time *expiries,
                           size_t n_exp, const int64_t *strikes, size_t n_strikes)
{
    ch_err err = ch_instruments_add_grid(e->reg, underlying, expiries, n_exp, strikes, n_strikes,
                                         e->now);
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++) {
        if (!e->ser[i].listed) {
            ch_err e2 = after_listing(e, (ch_instr_id){i});
            if (e2 != CH_OK && err == CH_OK)
                err = e2;
        }
    }
    return err;
}

/* ---- settlement --------------------------------------------------------------- */

static void settle_series(ch_engine *e, uint32_t i)
{
    series *s = &e->ser[i];
    und_state *u = &e->und[s->und];
    ch_book_close_instrument(e->book, (ch_instr_id){i});
    double S = u->m.spot;
    double itm = s->rs.type == CH_OPT_CALL ? S - s->rs.strike : s->rs.strike - S;
    int64_t pay = itm > 0 ? (int64_t)floor(itm * s->rs.contract_size * CH_CASH_SCALE) : 0;
    for (uint32_t k = s->first_pos; k != NIL; k = e->pos_link[k].next_series) {
        position *p = &e->pos[k];
        if (p->qty == 0)
            continue;
        int64_t q = p->qty;
        int64_t amount = q * pay;
        e->acct[p->account].cash += amount;
        pos_apply(e, k, -q, pay);
        if (p->account == CH_ACCOUNT_POOL) {
            u->pool_abs_notional_units -= fabs((double)q) * s->rs.contract_size;
            ch_inventory_fill(u->pool_inv, i, -(double)q);
        } else if (p->account == CH_ACCOUNT_HOUSE) {
            ch_inventory_fill(u->house_inv, i, -(double)q);
        }
        ch_engine_event ev = {.type = CH_EE_SETTLE,
                              .settle = {.instr = {i}, .account = {p->account}, .qty = q,
                                         .amount = amount, .index = S}};
        emit(e, &ev);
    }
    s->settled = true;
    e->pool_epoch++;
    e->base_epoch++;
}

static bool settle_due(ch_engine *e)
{
    bool any = false;
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++) {
        series *s = &e->ser[i];
        if (s->listed && !s->settled && !s->rs.is_linear && s->rs.expiry <= e->now &&
            e->und[s->und].has_index) {
            settle_series(e, i);
            any = true;
        }
    }
    return any;
}

/* Move the clock: drop expired marks, settle what expired, revalue. */
static void move_clock(ch_engine *e, ch_time now)
{
    e->now = now;
    for (uint32_t u = 0; u < e->n_und; u++) {
        e->und[u].m.now = now;
        ch_smile_expire(e->und[u].smile, now);
    }
    settle_due(e);
    for (uint32_t u = 0; u < e->n_und; u++)
        refresh_underlying(e, u);
    refresh_accounts(e);
}

ch_err ch_engine_advance(ch_engine *e, ch_time now)
{
    if (now < e->now)
        return CH_EINVAL;
    e->seq++;
    move_clock(e, now);
    return CH_OK;
}

ch_err ch_engine_market(ch_engine *e, const ch_market_update *mu)
{
    if (mu->underlying >= e->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    und_state *u = &e->und[mu->underlying];
    if (!isnan(mu->index) && !(isfinite(mu->index) && mu->index > 0))
        return CH_EINVAL;
    if (!isnan(mu->rate) && !isfinite(mu->rate))
        return CH_EINVAL;
    if (mu->time != 0 && mu->time < e->now)
        return CH_EINVAL;
    ch_time now = mu->time != 0 ? mu->time : e->now;
    if (mu->n_marks > 0) {
        /* apply to a copy: all or nothing */
        ch_err err = ch_smile_copy(u->scratch, u->smile);
        if (err != CH_OK)
            return err;
        ch_smile_expire(u->scratch, mu->replace_marks ? INT64_MAX : now);
        for (size_t i = 0; i < mu->n_marks; i++) {
            /* group the marks of one expiry (they must be adjacent) */
            if (i > 0 && mu->mark_expiry[i] == mu->mark_expiry[i - 1])
                continue;
            size_t j = i;
            while (j < mu->n_marks && mu->mark_expiry[j] == mu->mark_expiry[i])
                j++;
            if (j - i == 1 && mu->mark_strike[i] == 0)
                err = ch_smile_set_flat(u->scratch, mu->mark_expiry[i], mu->mark_vol[i], now);
            else
                err = ch_smile_set(u->scratch, mu->mark_expiry[i], &mu->mark_strike[i],
                                   &mu->mark_vol[i], j - i, now);
            if (err != CH_OK)
                return err;
        }
        ch_smile *t = u->smile;
        u->smile = u->scratch;
        u->scratch = t;
    }
    e->seq++;
    if (!isnan(mu->index)) {
        u->m.spot = mu->index;
        u->has_index = true;
    }
    if (!isnan(mu->rate))
        u->m.rate = mu->rate;
    if (!isnan(mu->funding_rate)) {
        u->funding = mu->funding_rate;
        double hours = isnan(u->funding_avg) ? 0 : (double)(now - u->funding_at) / 3.6e12;
        u->funding_avg =
            ch_funding_ewma(u->funding_avg, mu->funding_rate, hours, e->cfg.funding_half_life_h);
        u->funding_at = now;
    }
    if (!isnan(mu->perp))
        u->perp = mu->perp;
    move_clock(e, now);
    ch_engine_event ev = {.type = CH_EE_MARKET};
    emit(e, &ev);
    return CH_OK;
}

/* ---- accounts -------------------------------------------------------------- */

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n >= CH_ACCOUNT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

ch_err ch_engine_account_find(const ch_engine *e, const char *name, size_t len,
                              ch_account_id *id)
{
    if (len == 0 || len >= CH_ACCOUNT_NAME_MAX)
        return CH_ENOTFOUND;
    for (uint32_t i = 0; i < e->n_acct; i++) {
        if (strncmp(e->acct[i].name, name, len) == 0 && e->acct[i].name[len] == '\0') {
            id->v = i;
            return CH_OK;
        }
    }
    return CH_ENOTFOUND;
}

ch_err ch_engine_account_open(ch_engine *e, const char *name, int64_t cash, ch_stp stp,
                              ch_account_id *id)
{
    size_t n = strnlen(name, CH_ACCOUNT_NAME_MAX);
    if (!valid_name(name, n) || cash < 0 || cash > INT64_C(1) << 60 ||
        (stp != CH_STP_CANCEL_INCOMING && stp != CH_STP_CANCEL_RESTING &&
         stp != CH_STP_CANCEL_BOTH))
        return CH_EINVAL;
    ch_account_id x;
    if (ch_engine_account_find(e, name, n, &x) == CH_OK)
        return CH_EEXISTS;
    if (e->n_acct == e->cfg.max_accounts)
        return CH_ECAPACITY;
    uint32_t i = e->n_acct++;
    account *a = &e->acct[i];
    double *M = a->M;
    memset(a, 0, sizeof *a);
    a->M = M;
    a->open = true;
    a->first_pos = NIL;
    memcpy(a->name, name, n);
    a->stp = stp;
    a->cash = cash;
    e->external += cash;
    e->seq++;
    if (id != NULL)
        id->v = i;
    return CH_OK;
}

/*
 * Can account a sell q more lots of series s? The margin it would need is the
 * worst scenario loss of M - q scen, with M exact. Bounded above by
 * margin_bound(a) + q max(scen, 0) (a little more, for rounding), which needs
 * no vector read: the exact scan runs only when that bound exceeds the free
 * equity (and makes the account exact first). Same answers as always
 * scanning an exact vector.
 */
static bool margin_ok(ch_engine *e, account *a, const series *s, int64_t q)
{
    double eq = free_equity(a);
    double bound = (margin_bound(a) + (double)q * s->scen_up) * (1 + 1e-9);
    bool fast = bound <= eq;
#ifndef CH_ENGINE_SELF_CHECK
    if (fast)
        return true;
#endif
    double need = 0.0;
    if (fast && !a->exact) { /* self-check: the exact vector, left as it was */
        CH_LINE_ALIGNED double M[CH_SCEN_MAX_SPOT * 3];
        exact_vector(e, a, M);
        (void)e->axpy_min(M, -(double)q, s->scen, e->axpy_n);
        need = worst_of(e, M);
    } else {
        materialize(e, a);
        for (size_t i = 0; i < e->nscen; i++) {
            double v = a->M[i] - (double)q * s->scen[i];
            if (-v > need)
                need = -v;
        }
    }
    bool ok = !(need > 0 && need > eq);
    if (fast)
        SELF_CHECK(ok, "margin bound");
    return ok;
}

ch_err ch_engine_deposit(ch_engine *e, ch_account_id id, int64_t amount)
{
    if (id.v >= e->n_acct || e->acct[id.v].internal)
        return CH_EUNAUTHORIZED;
    account *a = &e->acct[id.v];
    if (amount == 0 || amount > INT64_C(1) << 60 || amount < -(INT64_C(1) << 60))
        return CH_EINVAL;
    if (amount < 0) {
        if (a->cash - a->reserved < -amount)
            return CH_EFUNDS;
        /* what stays must still cover the margin of positions and resting sells */
        double left = free_equity(a) + (double)amount / CH_CASH_SCALE;
        if (left < margin_bound(a) * (1 + 1e-9)) {
            materialize(e, a);
            if (left < a->worst)
                return CH_EMARGIN;
        } else {
            SELF_CHECK(left >= exact_worst(e, a), "withdrawal bound");
        }
    }
    e->seq++;
    a->cash += amount;
    e->external += amount;
    return CH_OK;
}

ch_err ch_engine_account(const ch_engine *e, ch_account_id id, ch_account_info *out)
{
    if (id.v >= e->n_acct)
        return CH_ENOTFOUND;
    const account *a = &e->acct[id.v];
    memset(out, 0, sizeof *out);
    out->id = id;
    memcpy(out->name, a->name, CH_ACCOUNT_NAME_MAX);
    out->stp = a->stp;
    out->cash = a->cash;
    out->reserved = a->reserved;
    out->equity = free_equity(a);
    out->margin = exact_worst(e, a);
    out->shares = a->shares;
    out->positions = a->npos;
    return CH_OK;
}

const char *ch_engine_account_name(const ch_engine *e, ch_account_id id)
{
    return id.v < e->n_acct ? e->acct[id.v].name : NULL;
}

ch_err ch_engine_positions(const ch_engine *e, ch_account_id id,
                           void (*fn)(void *ctx, const ch_position_info *p), void *ctx)
{
    if (id.v >= e->n_acct)
        return CH_ENOTFOUND;
    for (uint32_t k = e->acct[id.v].first_pos; k != NIL; k = e->pos_link[k].next_acct) {
        const position *p = &e->pos[k];
        if (p->qty == 0)
            continue;
        const series *s = &e->ser[p->instr];
        ch_position_info pi = {.instr = {p->instr},
                               .qty = p->qty,
                               .avg_price = (double)p->cost / (double)p->qty / CH_CASH_SCALE,
                               .realized = p->realized,
                               .mark = s->unit.price,
                               .unit = s->unit};
        fn(ctx, &pi);
    }
    return CH_OK;
}

int64_t ch_engine_position(const ch_engine *e, ch_account_id acct, ch_instr_id instr)
{
    uint32_t k = pos_find(e, acct.v, instr.v);
    return k == NIL ? 0 : e->pos[k].qty;
}

/* ---- orders ---------------------------------------------------------------- */

static ch_err reject(ch_engine *e, ch_engine_result *res, ch_err why)
{
    if (res != NULL) {
        memset(res, 0, sizeof *res);
        res->status = CH_STATUS_REJECTED;
    }
    (void)e;
    return why;
}

/*
 * The pool's 1-lot price for the customer's side now, 0 if it does not quote.
 * Cached per series and side: exact while nothing moved pool quotes
 * (pool_epoch). After pool fills only (same base_epoch), the unrounded quote
 * has moved by at most the underlying's pool drift since, times
 * ticks_per_skew (rounding to a tick and clamping to the band are monotone);
 * when even that cannot bring it to `limit`, the answer is 0 (it cannot fill
 * this order) without requoting. Otherwise requote, exactly.
 */
static int64_t pool_quote1(ch_engine *e, ch_instr_id x, ch_side side, int64_t limit)
{
    series *s = &e->ser[x.v];
    const und_state *u = &e->und[s->und];
    if (s->quote_epoch[side] != e->pool_epoch) {
        if (s->quote_base[side] == e->base_epoch && s->quote_px[side] > 0) {
            double moved =
                (u->pool_drift - s->quote_drift[side]) * s->ticks_per_skew * (1 + 1e-6) + 1e-6;
            double reach = side == CH_BUY ? ceil(s->quote_raw[side] - moved - 1e-9)
                                          : floor(s->quote_raw[side] + moved + 1e-9);
            if (side == CH_BUY ? reach > (double)limit : reach < (double)limit) {
#ifdef CH_ENGINE_SELF_CHECK
                pool_px p = pool_price(e, x, side, 1);
                SELF_CHECK(!p.ok || !better(side, p.ticks, limit, false), "pool quote bound");
#endif
                return 0;
            }
        }
        pool_px p = pool_price(e, x, side, 1);
        s->quote_px[side] = p.ok && pool_allows(e, x, side, 1, p.ticks) ? p.ticks : 0;
        s->quote_raw[side] = p.raw;
        s->quote_epoch[side] = e->pool_epoch;
        s->quote_base[side] = e->base_epoch;
        s->quote_drift[side] = u->pool_drift;
    }
#ifdef CH_ENGINE_SELF_CHECK
    {
        pool_px p = pool_price(e, x, side, 1);
        int64_t fresh = p.ok && pool_allows(e, x, side, 1, p.ticks) ? p.ticks : 0;
        SELF_CHECK(fresh == s->quote_px[side], "cached pool quote");
    }
#endif
    return s->quote_px[side];
}

/* Best source for the taker now. Returns -1 if none crosses the limit. */
typedef struct offer {
    int64_t price; /* taker's price */
    int64_t qty;   /* book/net: at that level */
    int64_t sib_price;
} offer;

static int best_source(ch_engine *e, ch_instr_id x, ch_side side, uint32_t taker,
                       int64_t limit, bool book_on, bool net_on, bool pool_on, offer o[3])
{
    ch_side opp = side == CH_BUY ? CH_SELL : CH_BUY;
    bool have[3] = {false, false, false};
    if (book_on && ch_book_best(e->book, x, opp, &o[0].price, &o[0].qty) == CH_OK &&
        better(side, o[0].price, limit, false))
        have[0] = true;
    const series *s = &e->ser[x.v];
    if (net_on && e->cfg.netting && s->sibling.v != CH_INSTR_NONE && s->marked) {
        /* opposite gamma sign: a buyer takes the sibling's asks, a seller its bids */
        int64_t p, q;
        if (ch_book_best_other(e->book, s->sibling, opp, (ch_account_id){taker}, &p, &q) ==
                CH_OK &&
            (!e->cfg.risk_aware || net_hedge_terms(e, x, side, &q))) {
            int64_t pe = parity_price(e, x, side, p);
            const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
            if (pe >= uc->min_price && pe <= uc->max_price && better(side, pe, limit, false)) {
                o[1].price = pe;
                o[1].qty = q;
                o[1].sib_price = p;
                have[1] = true;
            }
        }
    }
    if (pool_on) {
        int64_t qp = pool_quote1(e, x, side, limit);
        if (qp > 0 && better(side, qp, limit, false)) {
            o[2].price = qp;
            have[2] = true;
        }
    }
    int best = -1;
    for (int k = 0; k < 3; k++) {
        if (!have[k])
            continue;
        if (best < 0 || better(side, o[k].price, o[best].price, true))
            best = k;
    }
    return best;
}

/* The limit translated to the sibling's price scale, for fillable checks. */
static int64_t sibling_limit(const ch_engine *e, ch_instr_id x, ch_side side, int64_t limit)
{
    const series *s = &e->ser[x.v];
    double fwd = s->rs.type == CH_OPT_CALL ? s->fwd_ticks : -s->fwd_ticks;
    /* parity_price(p) <= limit (buy)  <=>  p <= limit - fee - fwd, rounded */
    if (side == CH_BUY)
        return (int64_t)floor((double)(limit - e->cfg.netting_fee_ticks) - fwd + 1e-9);
    return (int64_t)ceil((double)(limit + e->cfg.netting_fee_ticks) - fwd - 1e-9);
}

ch_err ch_engine_submit(ch_engine *e, const ch_engine_order *o, ch_engine_result *res)
{
    e->seq++;
    if (o->account.v < e->n_acct && o->instr.v < e->cfg.max_instruments) {
        PREFETCH(&e->acct[o->account.v]);
        PREFETCH(&e->ser[o->instr.v]);
        if (o->side == CH_SELL && e->acct[o->account.v].exact) { /* its check and hold read these */
            prefetch_vec(e, e->acct[o->account.v].M);
            prefetch_vec(e, e->ser[o->instr.v].scen);
        }
        ch_book_prefetch(e->book, o->instr);
        ch_book_prefetch(e->book, e->ser[o->instr.v].sibling); /* parity netting reads it */
        if (o->tif != CH_TIF_GTC) /* it means to trade: its record's index entry */
            PREFETCH(&e->pos_index[(size_t)o->account.v * e->cfg.max_instruments + o->instr.v]);
    }
    if (o->account.v >= e->n_acct || e->acct[o->account.v].internal)
        return reject(e, res, CH_EUNAUTHORIZED);
    if (o->instr.v >= e->cfg.max_instruments || !e->ser[o->instr.v].listed)
        return reject(e, res, CH_EUNKNOWN_SYMBOL);
    series *s = &e->ser[o->instr.v];
    if (s->settled || s->trade_until <= e->now)
        return reject(e, res, CH_EEXPIRED);
    if (o->side != CH_BUY && o->side != CH_SELL)
        return reject(e, res, CH_EBADSIDE);
    if ((o->type != CH_ORD_LIMIT && o->type != CH_ORD_MARKET) ||
        (o->tif != CH_TIF_GTC && o->tif != CH_TIF_IOC && o->tif != CH_TIF_FOK) ||
        (o->post_only && (o->type != CH_ORD_LIMIT || o->tif != CH_TIF_GTC)))
        return reject(e, res, CH_EBADTYPE);
    if (o->qty <= 0 || o->qty > CH_QTY_MAX)
        return reject(e, res, CH_EBADQTY);
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    int64_t limit = o->price;
    if (o->type == CH_ORD_MARKET && limit == 0)
        limit = o->side == CH_BUY ? uc->max_price : uc->min_price;
    if (limit < uc->min_price || limit > uc->max_price)
        return reject(e, res, CH_EBADPRICE);
    account *a = &e->acct[o->account.v];
    if (o->side == CH_BUY) {
        /* per x qty <= free cash (a product beyond 64 bits is beyond any
         * cash); the same answer as (cash - reserved) / per >= qty, without
         * a division */
        int64_t per = reserve_per_lot(e, s->und, limit), need;
        if (per > 0 && (__builtin_mul_overflow(per, o->qty, &need) || a->cash - a->reserved < need))
            return reject(e, res, CH_EFUNDS);
    } else {
        if (!s->marked)
            return reject(e, res, CH_EMARGIN); /* no mark, no margin */
        if (!margin_ok(e, a, s, o->qty))
            return reject(e, res, CH_EMARGIN);
    }
    ch_stp stp = a->stp;
    bool net_on = s->marked;
    bool gtc_limit = o->type == CH_ORD_LIMIT && o->tif == CH_TIF_GTC;
    int first = -1; /* the best source before anything trades (GTC limit orders) */
    if (gtc_limit) {
        offer of[3];
        first = best_source(e, o->instr, o->side, o->account.v, limit, true, net_on, true, of);
        if (o->post_only && first >= 0)
            return reject(e, res, CH_EPOST_ONLY);
    }
    if (o->tif == CH_TIF_FOK) {
        int64_t f = ch_book_fillable(e->book, o->instr, o->side, limit, o->account, stp, false,
                                     o->qty, NULL);
        /* risk-aware parity prices depend on the house's delta as the order
         * fills: FOK orders take the book and the pool only */
        if (e->cfg.risk_aware)
            net_on = false;
        if (f < o->qty && e->cfg.netting && net_on && s->sibling.v != CH_INSTR_NONE)
            f += ch_book_fillable(e->book, s->sibling, o->side,
                                  sibling_limit(e, o->instr, o->side, limit), o->account, stp,
                                  true, o->qty - f, NULL);
        if (f < o->qty)
            f += pool_fill_qty_ex(e, o->instr, o->side, o->qty - f, limit, false, true, NULL);
        if (f < o->qty)
            return reject(e, res, CH_EFOK);
    }
    uint64_t user = NIL; /* the order's position record, once it has one */
    if ((uint64_t)e->n_pos + e->unrecorded + 1 > e->cfg.max_positions) {
        /* near capacity: an order whose record exists already claims none */
        uint32_t k = pos_find(e, o->account.v, o->instr.v);
        if (k == NIL || (uint64_t)e->n_pos + e->unrecorded > e->cfg.max_positions)
            return reject(e, res, CH_ECAPACITY);
        user = k;
    }
    ch_order_req rq = {.instr = o->instr,
                       .account = o->account,
                       .side = o->side,
                       .type = o->type,
                       .tif = o->tif,
                       .stp = stp,
                       .post_only = o->post_only,
                       .price = o->price,
                       .qty = o->qty,
                       .user = user};
    if (gtc_limit && first < 0) {
        /* nothing crosses it: it only rests, in one call to its book (which
         * then neither matches nor cancels, so emits no fill or cancel) */
        ch_order_result br;
        ch_err err = ch_book_submit(e->book, &rq, &br);
        if (err != CH_OK)
            return reject(e, res, err);
        if (user == NIL)
            e->unrecorded++; /* accepted without a record (and it neither traded nor left) */
        if (br.status == CH_STATUS_NEW)
            hold_order(e, o->account.v, o->instr, o->side, limit, br.remaining);
        if (res != NULL) {
            memset(res, 0, sizeof *res);
            res->id = br.id;
            res->status = br.status;
            res->remaining = br.remaining;
            res->cancelled = br.cancelled;
        }
        return CH_OK;
    }
    if (user == NIL && o->tif == CH_TIF_GTC) /* it crosses: it will need its record */
        PREFETCH(&e->pos_index[(size_t)o->account.v * e->cfg.max_instruments + o->instr.v]);
    ch_order_id id;
    ch_err err = ch_book_open_order(e->book, &rq, &id);
    if (err != CH_OK)
        return reject(e, res, err);
    if (user == NIL)
        e->unrecorded++; /* until its first fill, or its CANCEL event */

    ch_engine_result local;
    ch_engine_result *r = res != NULL ? res : &local;
    memset(r, 0, sizeof *r);
    r->id = id;
    e->cur_res = r;
    e->cur_order = id;
    e->cur_taker = o->account.v;
    e->cur_taker_k = (uint32_t)user;
    e->cur_instr = o->instr;
    e->cur_side = o->side;
    bool book_on = true;
    for (;;) {
        int64_t left = ch_book_open_remaining(e->book, id);
        if (left <= 0)
            break;
        offer of[3];
        int src =
            best_source(e, o->instr, o->side, o->account.v, limit, book_on, net_on, true, of);
        if (src < 0)
            break;
        if (src == CH_SRC_BOOK) {
            int64_t filled;
            bool stopped;
            e->ctx_source = CH_SRC_BOOK;
            ch_book_match_open(e->book, id, of[0].price, left, &filled, &stopped);
            if (stopped) {
                book_on = false; /* STP: no more from the book; the remainder won't rest */
            } else if (filled == 0) {
                /* only the taker's own orders were there and STP cancelled them
                 * (cancel-resting): the best level has moved; if it has not,
                 * stop using the book rather than loop */
                int64_t p2, q2;
                ch_side opp = o->side == CH_BUY ? CH_SELL : CH_BUY;
                if (ch_book_best(e->book, o->instr, opp, &p2, &q2) == CH_OK &&
                    p2 == of[0].price && q2 == of[0].qty)
                    book_on = false;
            }
        } else if (src == CH_SRC_NET) {
            int64_t q = left < of[1].qty ? left : of[1].qty, filled = 0;
            ch_side resting = o->side == CH_BUY ? CH_SELL : CH_BUY;
            e->ctx_source = CH_SRC_NET;
            ch_book_take(e->book, s->sibling, resting, of[1].sib_price, q, o->account, &filled);
            e->ctx_source = CH_SRC_BOOK;
            if (filled > 0)
                ch_book_fill_open(e->book, id, filled);
            else
                net_on = false;
        } else {
            /* the pool: as much as it gives at an average price strictly
             * better than the other sources' best (ties go to them), and
             * within the limit */
            int64_t bound = limit;
            bool strict = false;
            offer other[3];
            int ob = best_source(e, o->instr, o->side, o->account.v, limit, book_on, net_on,
                                 false, other);
            if (ob >= 0) {
                bound = other[ob].price;
                strict = true;
            }
            pool_px px;
            int64_t q = pool_fill_qty(e, o->instr, o->side, left, bound, strict, &px);
            if (q <= 0)
                break; /* cannot happen: one lot qualified in best_source */
            int64_t fee = taker_fee(e, o->instr, px.ticks, q);
            if (o->side == CH_BUY)
                clear_trade(e, o->instr, o->account.v, taker_rec(e), CH_ACCOUNT_POOL, s->pool_k,
                            px.ticks, q, o->account.v, fee, false);
            else
                clear_trade(e, o->instr, CH_ACCOUNT_POOL, s->pool_k, o->account.v, taker_rec(e),
                            px.ticks, q, o->account.v, fee, false);
            ch_book_fill_open(e->book, id, q);
            count_fill(e, o->instr, CH_SRC_POOL, q);
            ch_fill f = {.trade_id = ++e->trades, .source = CH_SRC_POOL, .instr = o->instr,
                         .taker_side = o->side, .price = px.ticks, .qty = q,
                         .taker = o->account, .maker = {CH_ACCOUNT_POOL}, .taker_order = id,
                         .maker_instr = o->instr, .maker_price = px.ticks, .fee = fee};
            report_fill(e, &f);
        }
    }
    ch_order_result br;
    ch_book_close_order(e->book, id, &br);
    if (br.status == CH_STATUS_NEW || br.status == CH_STATUS_PARTIALLY_FILLED)
        hold_order(e, o->account.v, o->instr, o->side, limit, br.remaining);
    r->status = br.status;
    r->filled = br.filled;
    r->remaining = br.remaining;
    r->cancelled = br.cancelled;
    e->cur_res = NULL;
    e->cur_order = (ch_order_id){0};
    return CH_OK;
}

ch_err ch_engine_cancel(ch_engine *e, ch_account_id acct, ch_order_id id, int64_t *cancelled)
{
    e->seq++;
    if (acct.v < e->n_acct)
        PREFETCH(&e->acct[acct.v]); /* releasing the order reads it */
    return ch_book_cancel(e->book, acct, id, cancelled); /* the CANCEL event releases */
}

ch_err ch_engine_replace(ch_engine *e, ch_account_id acct, ch_order_id id, int64_t qty,
                         int64_t price, ch_engine_result *res)
{
    e->seq++;
    ch_order_info info;
    if (ch_book_order(e->book, id, &info) != CH_OK || info.account.v != acct.v) {
        ch_order_result br;
        ch_err err = ch_book_replace(e->book, acct, id, qty, price, &br); /* the book's reject */
        return reject(e, res, err);
    }
    account *a = &e->acct[acct.v];
    series *s = &e->ser[info.instr.v];
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    bool args_ok = qty >= 0 && qty <= CH_QTY_MAX && !(qty == 0 && price == 0) &&
                   (price == 0 || (price >= uc->min_price && price <= uc->max_price));
    if (args_ok) { /* bad arguments are left to the book's specific reject */
        int64_t nq = qty != 0 ? qty : info.remaining;
        int64_t np = price != 0 ? price : info.price;
        if (info.side == CH_BUY) {
            /* affordable: per x nq <= free cash + what the order holds now
             * (by division: per x nq may not fit in 64 bits) */
            int64_t held = reserve_per_lot(e, s->und, info.price) * info.remaining;
            int64_t per = reserve_per_lot(e, s->und, np);
            if (per > 0 && (a->cash - a->reserved + held) / per < nq)
                return reject(e, res, CH_EFUNDS);
        } else if (nq > info.remaining) {
            if (!margin_ok(e, a, s, nq - info.remaining))
                return reject(e, res, CH_EMARGIN);
        }
    }
    /* release the old hold, replace, hold the new state */
    release_order(e, acct.v, info.instr, info.side, info.price, info.remaining);
    ch_engine_result local;
    ch_engine_result *r = res != NULL ? res : &local;
    memset(r, 0, sizeof *r);
    e->cur_res = r;
    e->cur_order = id;
    e->cur_taker = acct.v;
    e->cur_taker_k = (uint32_t)info.user;
    e->cur_instr = info.instr;
    e->cur_side = info.side;
    e->ctx_source = CH_SRC_BOOK;
    ch_order_result br;
    ch_err err = ch_book_replace(e->book, acct, id, qty, price, &br);
    e->cur_res = NULL;
    e->cur_order = (ch_order_id){0};
    ch_order_info after;
    if (ch_book_order(e->book, id, &after) == CH_OK)
        hold_order(e, acct.v, after.instr, after.side, after.price, after.remaining);
    if (err != CH_OK)
        return reject(e, res, err);
    r->id = id;
    r->status = br.status;
    r->filled = br.filled;
    r->remaining = br.remaining;
    r->cancelled = br.cancelled;
    return CH_OK;
}

ch_err ch_engine_quote(const ch_engine *e, ch_instr_id instr, ch_side side, int64_t qty,
                       ch_quote *out)
{
    const ch_instrument *in = ch_instruments_get(e->reg, instr);
    if (in == NULL || !e->ser[instr.v].listed)
        return CH_EUNKNOWN_SYMBOL;
    const series *s = &e->ser[instr.v];
    if (s->settled || (!s->rs.is_linear && s->rs.expiry <= e->now))
        return CH_EEXPIRED;
    if (side != CH_BUY && side != CH_SELL)
        return CH_EBADSIDE;
    if (qty <= 0 || qty > CH_QTY_MAX)
        return CH_EBADQTY;
    pool_px p = pool_price(e, instr, side, qty);
    if (!p.ok)
        return CH_ENOTFOUND;
    const ch_underlying_config *uc = ch_instruments_underlying(e->reg, s->und);
    int64_t bound = side == CH_BUY ? uc->max_price : uc->min_price;
    int64_t maxq = pool_fill_qty(e, instr, side, qty, bound, false, NULL);
    out->price = p.ticks;
    out->model = p.mid;
    out->premium = p.premium;
    double vol = 0;
    const und_state *u = und_of(e, instr);
    ch_smile_vol(u->smile, s->rs.strike, s->rs.expiry, e->now, &vol);
    out->vol = vol;
    out->max_qty = maxq;
    return maxq > 0 ? CH_OK : CH_ERISK_LIMIT;
}

/* ---- pool shares ------------------------------------------------------------- */

void ch_engine_pool(const ch_engine *e, ch_pool_info *out)
{
    const account *p = &e->acct[CH_ACCOUNT_POOL];
    out->cash = p->cash;
    out->inventory_value = p->mtm;
    out->nav = (double)p->cash / CH_CASH_SCALE + p->mtm;
    out->shares = e->pool_shares;
    out->nav_per_share = e->pool_shares > 0 ? out->nav * CH_CASH_SCALE / (double)e->pool_shares
                                            : 1.0;
}

ch_err ch_engine_pool_deposit(ch_engine *e, ch_account_id lp, int64_t cash, int64_t *shares)
{
    if (lp.v >= e->n_acct || e->acct[lp.v].internal)
        return CH_EUNAUTHORIZED;
    account *a = &e->acct[lp.v];
    if (cash <= 0)
        return CH_EINVAL;
    if (a->cash - a->reserved < cash)
        return CH_EFUNDS;
    ch_pool_info pi;
    ch_engine_pool(e, &pi);
    /* shares are counted in cash units at 1 share = 1e-6 quote ccy initially */
    int64_t minted;
    if (e->pool_shares == 0 || !(pi.nav > 0))
        minted = cash;
    else
        minted = (int64_t)floor((double)cash / pi.nav_per_share);
    if (minted <= 0)
        return CH_EINVAL;
    e->seq++;
    e->pool_epoch++;
    e->base_epoch++;
    a->cash -= cash;
    e->acct[CH_ACCOUNT_POOL].cash += cash;
    a->shares += minted;
    e->pool_shares += minted;
    if (shares != NULL)
        *shares = minted;
    return CH_OK;
}

ch_err ch_engine_pool_withdraw(ch_engine *e, ch_account_id lp, int64_t shares, int64_t *cash)
{
    if (lp.v >= e->n_acct || e->acct[lp.v].internal)
        return CH_EUNAUTHORIZED;
    account *a = &e->acct[lp.v];
    if (shares <= 0)
        return CH_EINVAL;
    if (shares > a->shares)
        return CH_EFUNDS;
    ch_pool_info pi;
    ch_engine_pool(e, &pi);
    double v = floor((double)shares * pi.nav_per_share);
    if (!(v >= 0))
        v = 0;
    int64_t pay = (int64_t)v;
    if (pay > e->acct[CH_ACCOUNT_POOL].cash)
        return CH_EFUNDS;
    e->seq++;
    e->pool_epoch++;
    e->base_epoch++;
    a->shares -= shares;
    e->pool_shares -= shares;
    e->acct[CH_ACCOUNT_POOL].cash -= pay;
    a->cash += pay;
    if (cash != NULL)
        *cash = pay;
    return CH_OK;
}

/* ---- reports -------------------------------------------------------------- */

void ch_engine_netting(const ch_engine *e, ch_netting *out)
{
    *out = e->net;
    double d = 0;
    for (uint32_t u = 0; u < e->n_und; u++)
        d += ch_engine_net_delta(e, u);
    out->net_delta = d;
}

double ch_engine_net_delta(const ch_engine *e, uint32_t underlying)
{
    if (underlying >= e->n_und)
        return 0;
    ch_risk_totals a, b;
    ch_inventory_totals(e->und[underlying].pool_inv, &a);
    ch_inventory_totals(e->und[underlying].house_inv, &b);
    return a.delta + b.delta;
}

ch_err ch_engine_hedge_fill(ch_engine *e, uint32_t underlying, double qty)
{
    if (underlying >= e->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    if (!isfinite(qty))
        return CH_EINVAL;
    e->seq++;
    e->und[underlying].hedge_pos += qty;
    return CH_OK;
}

double ch_engine_hedge_position(const ch_engine *e, uint32_t underlying)
{
    return underlying < e->n_und ? e->und[underlying].hedge_pos : 0.0;
}

double ch_engine_house_delta(const ch_engine *e, uint32_t underlying)
{
    return underlying < e->n_und
               ? ch_engine_net_delta(e, underlying) + e->und[underlying].hedge_pos
               : 0.0;
}

double ch_engine_expected_funding(const ch_engine *e, uint32_t underlying)
{
    if (underlying >= e->n_und || isnan(e->und[underlying].funding_avg))
        return 0.0;
    return e->und[underlying].funding_avg;
}

size_t ch_engine_netting_buckets(const ch_engine *e, uint32_t underlying, ch_netting_bucket *out,
                                 size_t max)
{
    if (underlying >= e->n_und)
        return 0;
    const und_state *u = &e->und[underlying];
    ch_bucket pb[1];
    size_t nb = ch_inventory_buckets(u->pool_inv, pb, 0);
    ch_bucket *pool_b = malloc((nb + 1) * sizeof *pool_b);
    ch_bucket *house_b = malloc((nb + 1) * sizeof *house_b);
    if (pool_b == NULL || house_b == NULL) {
        free(pool_b);
        free(house_b);
        return 0;
    }
    ch_inventory_buckets(u->pool_inv, pool_b, nb);
    ch_inventory_buckets(u->house_inv, house_b, nb);
    size_t n = 0;
    for (size_t i = 0; i < nb && n < max; i++) {
        if (pool_b[i].expiry == 0 && pool_b[i].strike == 0)
            continue; /* linear series */
        ch_netting_bucket *o = &out[n++];
        memset(o, 0, sizeof *o);
        o->expiry = pool_b[i].expiry;
        o->strike = pool_b[i].strike;
        o->residual = pool_b[i].net;
        o->residual.delta += house_b[i].net.delta;
        o->residual.gamma += house_b[i].net.gamma;
        o->residual.vega += house_b[i].net.vega;
        o->residual.theta += house_b[i].net.theta;
        o->residual.value += house_b[i].net.value;
        uint32_t cnt = ch_instruments_count(e->reg);
        for (uint32_t k = 0; k < cnt; k++) {
            const series *s = &e->ser[k];
            if (!s->listed || s->und != underlying || s->rs.is_linear ||
                s->rs.expiry != o->expiry || s->rs.strike != o->strike)
                continue;
            o->gross_gamma += s->gross_g;
            o->gross_vega += s->gross_v;
            o->netted_gamma += s->netted_g;
            o->netted_vega += s->netted_v;
            o->pool_gamma += s->pool_g;
            o->pool_vega += s->pool_v;
        }
    }
    free(pool_b);
    free(house_b);
    return n;
}

ch_err ch_engine_risk(const ch_engine *e, uint32_t underlying, ch_risk_totals *totals,
                      ch_scenario_result *scen)
{
    if (underlying >= e->n_und)
        return CH_EUNKNOWN_UNDERLYING;
    const und_state *u = &e->und[underlying];
    ch_risk_totals a, b;
    ch_inventory_totals(u->pool_inv, &a);
    ch_inventory_totals(u->house_inv, &b);
    if (totals != NULL) {
        totals->delta = a.delta + b.delta;
        totals->gamma = a.gamma + b.gamma;
        totals->vega = a.vega + b.vega;
        totals->theta = a.theta + b.theta;
        totals->value = a.value + b.value;
    }
    if (scen != NULL) {
        if (!u->has_index)
            return CH_ENOTFOUND;
        ch_scenario_result s2;
        ch_err err = ch_inventory_scenarios(u->pool_inv, u->smile, &u->m, &e->cfg.scenarios,
                                            NULL, NULL, 0, scen);
        if (err != CH_OK)
            return err;
        err = ch_inventory_scenarios(u->house_inv, u->smile, &u->m, &e->cfg.scenarios, NULL,
                                     NULL, 0, &s2);
        if (err != CH_OK)
            return err;
        scen->worst = 0;
        for (size_t k = 0; k < scen->n; k++) {
            scen->pnl[k] += s2.pnl[k];
            if (scen->pnl[k] < scen->pnl[scen->worst])
                scen->worst = k;
        }
        scen->worst_loss = scen->pnl[scen->worst] < 0 ? -scen->pnl[scen->worst] : 0;
    }
    return CH_OK;
}

void ch_engine_cash_totals(const ch_engine *e, int64_t *total, int64_t *external)
{
    int64_t t = 0;
    for (uint32_t a = 0; a < e->n_acct; a++)
        t += e->acct[a].cash;
    *total = t;
    *external = e->external;
}

typedef struct check_ctx {
    const ch_engine *e;
    int64_t *reserved;
    int64_t *pend;
    double *M, *mag; /* per account (scen_stride each): expected M, sum of |terms| */
    uint32_t unrecorded;
} check_ctx;

/* the term q x scen of series i in account a's expected vector */
static void check_term(check_ctx *c, uint32_t a, uint32_t i, double q)
{
    const ch_engine *e = c->e;
    double *M = c->M + (size_t)a * e->scen_stride, *mag = c->mag + (size_t)a * e->scen_stride;
    for (size_t k = 0; k < e->nscen; k++) {
        M[k] += q * e->ser[i].scen[k];
        mag[k] += fabs(q * e->ser[i].scen[k]);
    }
}

static void check_order(void *ctx, const ch_order_info *o)
{
    check_ctx *c = ctx;
    c->unrecorded += o->user == NIL;
    if (o->side == CH_BUY)
        c->reserved[o->account.v] +=
            reserve_per_lot(c->e, c->e->ser[o->instr.v].und, o->price) * o->remaining;
    else if (c->e->acct[o->account.v].exact)
        check_term(c, o->account.v, o->instr.v, -(double)o->remaining);
    else {
        int64_t *p = &c->pend[o->account.v], add;
        if (*p < 0 ||
            __builtin_mul_overflow(o->remaining, c->e->hold[o->instr.v].up_cash, &add) ||
            __builtin_add_overflow(*p, add, p) ||
            !(c->e->sell_bits[(size_t)o->account.v * c->e->sell_words + o->instr.v / 64] >>
                  (o->instr.v % 64) &
              1))
            *p = -1; /* beyond an integer (so not in pend), or a walk would miss it */
    }
}

/* Each account's vector, worst and pend against a recomputation. */
static bool margins_ok(const ch_engine *e, check_ctx *c)
{
    for (uint32_t k = 0; k < e->n_pos; k++)
        if (e->pos[k].qty != 0)
            check_term(c, e->pos[k].account, e->pos[k].instr,
                       (double)e->pos[k].qty);
    for (uint32_t a = 0; a < e->n_acct; a++) {
        const account *ac = &e->acct[a];
        const double *M = c->M + (size_t)a * e->scen_stride;
        const double *mag = c->mag + (size_t)a * e->scen_stride;
        if (ac->pend != c->pend[a] || ac->pend < 0 || (ac->exact && ac->pend != 0) ||
            worst_of(e, ac->M) != ac->worst)
            return false;
        /* the vector was summed in another order, over a history whose
         * rounding this cannot see: a missing or doubled term is what counts */
        for (size_t k = 0; k < e->nscen; k++)
            if (!(fabs(ac->M[k] - M[k]) <= 1e-7 * mag[k] + 1e-3))
                return false;
    }
    return true;
}

#ifdef CH_ENGINE_DEBUG_CHECK
#include <stdio.h>
#define CHECK_FAIL(why) (fprintf(stderr, "ch_engine_check: %s\n", why), CH_EINVAL)
#else
#define CHECK_FAIL(why) CH_EINVAL
#endif

ch_err ch_engine_check(const ch_engine *e)
{
    if (ch_book_check(e->book) != CH_OK)
        return CHECK_FAIL("book");
    int64_t total, ext;
    ch_engine_cash_totals(e, &total, &ext);
    if (total != ext)
        return CHECK_FAIL("cash");
    uint32_t n = ch_instruments_count(e->reg);
    for (uint32_t i = 0; i < n; i++) {
        if (!e->ser[i].listed)
            continue;
        int64_t sum = 0;
        for (uint32_t k = e->ser[i].first_pos; k != NIL; k = e->pos_link[k].next_series)
            sum += e->pos[k].qty;
        if (sum != 0)
            return CHECK_FAIL("positions do not sum to zero");
        const und_state *u = &e->und[e->ser[i].und];
        if (ch_inventory_position(u->pool_inv, i) !=
                (double)ch_engine_position(e, (ch_account_id){CH_ACCOUNT_POOL}, (ch_instr_id){i}) ||
            ch_inventory_position(u->house_inv, i) !=
                (double)ch_engine_position(e, (ch_account_id){CH_ACCOUNT_HOUSE},
                                           (ch_instr_id){i}))
            return CHECK_FAIL("inventory");
    }
    int64_t *res = calloc(e->n_acct, sizeof *res);
    int64_t *pend = calloc(e->n_acct, sizeof *pend);
    double *vec = calloc((size_t)e->n_acct * e->scen_stride * 2, sizeof *vec);
    if (res == NULL || pend == NULL || vec == NULL) {
        free(res);
        free(pend);
        free(vec);
        return CH_ENOMEM;
    }
    check_ctx c = {e, res, pend, vec, vec + (size_t)e->n_acct * e->scen_stride, 0};
    for (uint32_t i = 0; i < n; i++) {
        if (e->ser[i].listed) {
            ch_book_foreach(e->book, (ch_instr_id){i}, CH_BUY, check_order, &c);
            ch_book_foreach(e->book, (ch_instr_id){i}, CH_SELL, check_order, &c);
        }
    }
    bool margins = margins_ok(e, &c);
    free(pend);
    free(vec);
    if (c.unrecorded != e->unrecorded) {
        free(res);
        return CHECK_FAIL("orders without a position record");
    }
    if (!margins) {
        free(res);
        return CHECK_FAIL("margin vector or pend");
    }
    int64_t shares = 0;
    ch_err out = CH_OK;
    for (uint32_t a = 0; a < e->n_acct; a++) {
        if (res[a] != e->acct[a].reserved || e->acct[a].reserved < 0 || e->acct[a].shares < 0)
            out = CHECK_FAIL("reservation");
        shares += e->acct[a].shares;
    }
    free(res);
    if (shares != e->pool_shares)
        return CHECK_FAIL("shares");
    return out;
}
