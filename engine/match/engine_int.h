/*
 * engine_int.h - what the files of the engine share (private): the state of
 * series, underlyings, accounts and positions, small inline helpers, and the
 * functions each file offers the others. engine.c holds the order path
 * (positions, clearing, orders), which stays in one file so that the
 * compiler inlines it; pool.c the pool's prices and limits; margin.c the
 * margin kernels; market.c market data, listing and settlement; create.c
 * creation; accounts.c accounts and LP shares; reports.c the reports and
 * ch_engine_check.
 */
#ifndef CH_ENGINE_INT_H
#define CH_ENGINE_INT_H

#include "ch/engine.h"

#include <stdbool.h>
#include <stdint.h>

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
#define CH_LINE         64
/* An underlying's smiles: expiries and points per expiry (create.c, snapshot.c). */
#define CHI_SMILE_EXPIRIES 64
#define CHI_SMILE_POINTS   256
#define CH_LINE_ALIGNED    _Alignas(CH_LINE)

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
extern unsigned long ch_engine_self_checks; /* how many shortcuts were verified */
extern unsigned long ch_engine_exact_walks; /* accounts made exact between revaluations */
extern unsigned long ch_engine_exact_free;  /* ... of which without resting sells (no walk) */
#define SELF_CHECK(cond, what)                                                                     \
    do {                                                                                           \
        ch_engine_self_checks++;                                                                   \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "ch_engine self-check failed: %s\n", what);                            \
            abort();                                                                               \
        }                                                                                          \
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
    uint32_t pool_k;       /* the pool's record (no lookup) */
    ch_time trade_until;   /* orders are refused from then on (expiry; never for perps) */
    double scen_up;        /* max(0, max scen): one short contract's worst loss */
    double fwd_ticks;      /* D(F - K) = S e^{-qT} - K e^{-rT}, in ticks */
    double ticks_per_skew; /* how far a quote moves per 1.00 of skew (vega / tick) */
    /* the pool's 1-lot quote per customer side (pool_quote1) */
    int64_t quote_px[2];     /* ticks; 0 = the pool does not quote */
    double quote_raw[2];     /* the price in ticks before rounding */
    uint64_t quote_epoch[2]; /* exact in this pool_epoch (0 = never computed) */
    double quote_span[2];    /* ticks the delta term can move it (risk-aware) */
    double quote_drift[2];   /* the underlying's pool drift then */
    /* fills, pricing and reports */
    double *scen;       /* PnL of one long contract per scenario (nscen, in an arena) */
    uint32_t house_k;   /* the house's record */
    uint32_t first_pos; /* positions in this series */
    ch_series rs;
    ch_greeks unit; /* per contract at the mark */
    /* netting counters */
    double gross_g, gross_v, netted_g, netted_v, pool_g, pool_v;
} series;

_Static_assert(offsetof(series, scen) <= 2 * CH_LINE, "the order path fits two lines");

typedef struct und_state {
    ch_market m;
    bool has_index;
    double funding, perp;
    double funding_avg; /* expected funding per 8 h (exponential average; NAN: none yet) */
    ch_time funding_at; /* when funding_avg last took a rate */
    ch_hedge_book hb;   /* the perp hedge booked (ch_engine_hedge_fill), marked by
                         * ch_engine_market: part of the LPs' NAV */
    double hedge_cash;  /* the same fills as cash flows: -qty x price - fees +
                         * funding (ch_engine_check compares the two views) */
    ch_smile *smile, *scratch;
    ch_inventory *pool_inv, *house_inv;
    double pool_abs_notional_units; /* Σ|pool position| × contract size */
    double pool_drift;              /* Σ over pool fills of how far they moved any quote's skew */
    int64_t tick_cash;              /* cash units per tick */
    ch_vega_book vb;                /* the option hedges booked */
    ch_netting net;                 /* its fills' netting counters (net_delta: unused) */
} und_state;

typedef struct account {
    /* line 1: checks and holds */
    CH_LINE_ALIGNED bool open;
    bool internal;
    bool exact; /* M counts the resting sells too (else pend bounds them) */
    ch_stp stp;
    int64_t cash, reserved;
    double *M;    /* margin vectors, one block per underlying (scen_stride each): the
                   * scenario PnL of positions, plus, when exact, resting sell orders
                   * as if filled; then each block's worst loss (M + worst_off) */
    double worst; /* the sum over underlyings of max(0, -min block), kept with M */
    int64_t pend; /* not exact: sum over resting sells of lots x up_cash, an
                   * upper bound (cash units) of what they add to the margin */
    double mtm;   /* positions at mark, quote ccy */
    /* the rest */
    int64_t shares;
    uint32_t tranche; /* a strike tranche's account: its id (1..); 0 otherwise */
    bool pool_side; /* the general pool's or a tranche's: its positions are the pool's inventory */
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

/* A strike tranche (tranche.c): LP capital that takes the pool's side of
 * trades at the strikes and expiries it covers, in its own account. */
typedef struct tranche {
    ch_tranche_spec spec;
    uint32_t acct;
    int64_t shares;
    double house_alloc; /* its share of the house's value so far (chi_tranches_allocate) */
} tranche;

/* An LP's shares of one tranche. */
typedef struct lp_holding {
    uint32_t acct, tranche;
    int64_t shares;
} lp_holding;

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
    uint32_t *names;   /* account names: open addressing, id + 1 (0: empty), a power of two */
    size_t names_mask; /* its size - 1 (>= 2 x max_accounts) */
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
    tranche *tranches; /* [0, n_tranches): tranche id k + 1 */
    uint32_t n_tranches;
    lp_holding *holdings;
    uint32_t n_holdings, cap_holdings;
    double house_allocated; /* the house's value when last allocated to the tranches */
    uint32_t venue_acct;    /* the options venue's side of option hedges (NIL: none yet) */
    ch_time now;
    size_t nscen;
    size_t scen_stride; /* nscen rounded up to whole cache lines */
    double (*axpy_min)(double *M, double k, const double *x, size_t n); /* margin kernel */
    size_t axpy_n;       /* nscen rounded up to its width (<= scen_stride) */
    double *scen_arena;  /* series scenario vectors, then account margin vectors */
    size_t acct_stride;  /* an account's region: max_underlyings blocks, then worst_off */
    size_t worst_off;    /* where the per-underlying worst losses start in a region */
    double *mscratch;    /* one account region, for exact_vector (single thread) */
    uint64_t pool_epoch; /* bumped whenever a pool quote may change */
    uint64_t base_mark;  /* pool_epoch at the last change that moves quotes without
                          * a bound (pool fills are bounded by the pool drift) */
    uint64_t house_mark; /* pool_epoch at the last move of a house's delta (bounded
                          * by each quote's span) */
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

static inline const und_state *und_of(const ch_engine *e, ch_instr_id id)
{
    return &e->und[e->ser[id.v].und];
}

static inline double tick_value(const ch_engine *e, uint32_t und)
{
    return (double)e->und[und].tick_cash / CH_CASH_SCALE;
}

/* Cash reserved per lot of a resting buy at `price` (tick_cash cash units
 * per tick): premium + largest fee. */
static inline int64_t reserve_per_lot_tc(const ch_engine *e, int64_t tick_cash, int64_t price)
{
    int64_t prem = price * tick_cash;
    return prem + ceil_div(prem * e->fee_cap_ppm, 1000000);
}

static inline int64_t reserve_per_lot(const ch_engine *e, uint32_t und, int64_t price)
{
    return reserve_per_lot_tc(e, e->und[und].tick_cash, price);
}

/* Taker fee for q lots at `price` of series s, cash units (rounded up). */
static inline int64_t taker_fee(const ch_engine *e, ch_instr_id id, int64_t price, int64_t q)
{
    const series *s = &e->ser[id.v];
    const und_state *u = &e->und[s->und];
    double prem = (double)(price * u->tick_cash);
    double by_notional =
        u->has_index ? e->cfg.taker_fee_bps * 1e-4 * u->m.spot * s->rs.contract_size * CH_CASH_SCALE
                     : 0.0;
    double cap = e->cfg.fee_cap * prem;
    double f = by_notional < cap ? by_notional : cap;
    if (!(f > 0))
        return 0;
    double total = f * (double)q;
    return (int64_t)ceil(total - 1e-12 * total); /* up, but not for float noise */
}

static inline void emit(ch_engine *e, ch_engine_event *ev)
{
    ev->seq = e->seq;
    if (e->fn != NULL)
        e->fn(e->fn_ctx, ev);
}

/* The pool's price for a trade (pool.c). */
typedef struct pool_px {
    bool ok;
    int64_t ticks;
    double raw;          /* the price in ticks before rounding to a tick and to the band */
    double mid, premium; /* per contract, quote ccy */
    double hedge_cost;   /* the delta term per contract (risk-aware), quote ccy, signed */
} pool_px;

/* Exposure measure after a pool trade of dq: allowed if within limit or shrinking. */
/* The price a hedge book is valued at: its last perp mark (its own average
 * price before any mark: nothing unrealized). */
static inline double chi_hedge_mark(const ch_hedge_book *b)
{
    return b->last_perp > 0 ? b->last_perp : b->avg_price;
}

/* A hedge book's value at chi_hedge_mark: realized + unrealized - fees +
 * funding (accounts.c). */
double chi_hedge_value(const und_state *u);

/* Every pool quote may have moved, by any amount (marks, cash, capital). */
static inline void chi_quotes_moved(ch_engine *e)
{
    e->base_mark = ++e->pool_epoch;
}

/* The house's delta moved (a house or pool fill, a hedge fill): with
 * risk-aware netting every pool quote's delta term moves with it, by at most
 * the quote's span (pool_quote1). */
static inline void chi_house_delta_moved(ch_engine *e)
{
    if (e->cfg.risk_aware)
        e->house_mark = ++e->pool_epoch;
}

static inline bool within(double now, double after, double limit)
{
    return fabs(after) <= limit || fabs(after) <= fabs(now);
}

/* Is `p` at least as good as `bound` for the customer? (strict: better) */
static inline bool better(ch_side cust, int64_t p, int64_t bound, bool strict)
{
    if (cust == CH_BUY)
        return strict ? p < bound : p <= bound;
    return strict ? p > bound : p >= bound;
}

/* engine.c */
/* One trade of q lots of `id` at `price` ticks between buyer and seller
 * (records bk, sk); the taker (fee_payer) pays `fee` to the fee account. */
void chi_clear_trade(ch_engine *e, ch_instr_id id, uint32_t buyer, uint32_t bk, uint32_t seller,
                     uint32_t sk, int64_t price, int64_t q, uint32_t fee_payer, int64_t fee,
                     bool seller_held);
double chi_exact_worst(const ch_engine *e, const account *a);
double chi_free_equity(const account *a);
void chi_margin_add(const ch_engine *e, account *a, double k, const series *s);
double chi_margin_bound(const account *a);
void chi_mark_sells(ch_engine *e, uint32_t acct, ch_instr_id id);
void chi_materialize(ch_engine *e, account *a);
void chi_on_book_event(void *ctx, const ch_event *ev);
uint32_t chi_order_rec(ch_engine *e, uint32_t acct, ch_instr_id id, ch_order_id order,
                       uint64_t user);
void chi_pos_apply(ch_engine *e, uint32_t k, int64_t q, int64_t px);
uint32_t chi_pos_find(const ch_engine *e, uint32_t a, uint32_t i);
uint32_t chi_pos_get(ch_engine *e, uint32_t a, uint32_t i);
double chi_worst_of(const ch_engine *e, const double *M);
double chi_block_worst(const ch_engine *e, const double *B);
double chi_worst_sum(const ch_engine *e, const double *W, uint32_t u, double wu);
void chi_margin_rescan(const ch_engine *e, account *a);

/* netting.c: risk-aware netting */
double chi_perp_forward(const ch_engine *e, const und_state *u, double T);
bool chi_net_hedge_terms(ch_engine *e, ch_instr_id x, ch_side side, int64_t *q);
double chi_delta_cost(const ch_engine *e, const series *s, double dq);
/* The most chi_delta_cost(e, s, +/-1) can be in size, whatever the house's
 * delta: one lot's delta paid or rebated in full. */
double chi_delta_span(const ch_engine *e, const series *s);

/* pool.c */
pool_px chi_pool_price(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t n);
bool chi_pool_allows(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t n, int64_t ticks);
int64_t chi_pool_fill_qty_ex(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t want,
                             int64_t bound, bool strict, bool marginal, pool_px *px_out);
int64_t chi_pool_fill_qty(const ch_engine *e, ch_instr_id id, ch_side cust, int64_t want,
                          int64_t bound, bool strict, pool_px *px_out);

/* margin.c: the kernels this build has (create.c picks one per engine) */
#if defined(__SSE2__)
#define CH_AXPY_SSE2 1
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#define CH_AXPY_AVX 1
#endif
double chi_axpy_min_scalar(double *M, double k, const double *x, size_t n);
#if defined(CH_AXPY_SSE2)
double chi_axpy_min_sse2(double *M, double k, const double *x, size_t n);
#endif
#if defined(CH_AXPY_AVX)
__attribute__((target("avx"))) double chi_axpy_min_avx(double *M, double k, const double *x,
                                                       size_t n);
#endif

/* accounts.c */
/* Account @p id (opened, its name set) becomes findable by name. */
void chi_account_index(ch_engine *e, uint32_t id);
/* A new account named by the @p len bytes at @p name (no cash, indexed),
 * internal or a customer's; NIL when max_accounts are open. */
uint32_t chi_account_new(ch_engine *e, const char *name, size_t len, bool internal);

/* market.c */
void chi_refresh_accounts(ch_engine *e);

/* tranche.c: strike tranches */
/* One leg of a pool fill: the pool-side account that takes it and how many lots. */
typedef struct pool_leg {
    uint32_t acct, rec;
    int64_t qty;
} pool_leg;
/* Split a pool fill of q lots of series id (the customer's side cust, at
 * `ticks`) between the tranches covering it, pro rata to their free capital
 * (largest remainder; each within its capital and cash), and the general
 * pool (the rest). @return the number of legs written (<= CH_TRANCHES_MAX + 1). */
int chi_pool_legs(ch_engine *e, ch_instr_id id, ch_side cust, int64_t q, int64_t ticks,
                  pool_leg *legs);
/* The utilisation (worst scenario loss / capital) of the tranches covering
 * series id, and whether any does. */
bool chi_tranche_util(const ch_engine *e, const series *s, double *util);
/* The house's value (its account, parity forwards included, and the hedge
 * books), and its change since the last call given to the tranches and the
 * general pool in proportion to the delta each holds. */
double chi_house_value(const ch_engine *e);
void chi_tranches_allocate(ch_engine *e);
/* The same by the vega each holds: an option hedge's cost (its fee and its
 * spread against the mark), once what came before is given out by delta. */
void chi_tranches_allocate_vega(ch_engine *e);
/* The general pool's part of the house's value (all of it without tranches). */
double chi_general_house_share(const ch_engine *e);
/* The tranches' part of ch_engine_check: shares, accounts, allocation. */
bool chi_tranches_ok(const ch_engine *e);

#endif
