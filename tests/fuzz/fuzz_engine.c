/*
 * fuzz_engine.c - request sequences against the engine, with its
 * invariants checked after every step.
 *
 * The input is read 8 bytes at a time; each group becomes one command
 * (submit, cancel, replace, market update, clock advance across expiry,
 * deposit or withdrawal, pool deposit or withdrawal, account open) applied
 * through ch_command_apply(), the path chd and recovery use. After every
 * command: ch_engine_check() (positions sum to zero, reservations and books
 * consistent), cash conservation (all cash = what came in from outside),
 * and a rejected command leaves the cash where it was. Every command also
 * goes through the store's encoding (encode, decode, encode again: the same
 * bytes). At the end the whole sequence is replayed into a fresh engine,
 * which must give every command the same result and end with the same cash:
 * the property that recovery after a crash relies on.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch/command.h"

#define MAX_STEPS 512
#define USD(x)    ((int64_t)((x)*CH_CASH_SCALE))

static const char *const k_syms[] = {"BTC-25DEC26-100000-C", "BTC-25DEC26-100000-P",
                                     "BTC-25DEC26-90000-C", "BTC-25DEC26-90000-P",
                                     "BTC-1JAN27-110000-C"};
#define N_SYMS (sizeof k_syms / sizeof k_syms[0])

static ch_command g_cmds[MAX_STEPS + 64];
static ch_command_result g_res[MAX_STEPS + 64];
static size_t g_n;
static ch_time g_t0;

static void fail(void)
{
    abort();
}

/* Apply, log (for the replay) and check one command. */
static ch_err step(ch_engine *e, const ch_command *c)
{
    uint8_t a[sizeof(ch_command) + 64], b[sizeof(ch_command) + 64];
    size_t na = ch_command_encode(c, a, sizeof a);
    static ch_command back;
    if (na == 0 || ch_command_decode(a, na, &back) != CH_OK)
        fail();
    size_t nb = ch_command_encode(&back, b, sizeof b);
    if (nb != na || memcmp(a, b, na) != 0)
        fail();
    int64_t tot0, ext0, tot, ext;
    ch_engine_cash_totals(e, &tot0, &ext0);
    ch_command_result *r = &g_res[g_n];
    ch_err err = ch_command_apply(e, &back, r);
    g_cmds[g_n++] = back;
    if (ch_engine_check(e) != CH_OK)
        fail();
    ch_engine_cash_totals(e, &tot, &ext);
    if (tot != ext)
        fail(); /* cash is conserved: every transfer has two sides */
    if (err != CH_OK && (tot != tot0 || ext != ext0))
        fail(); /* a reject changes nothing */
    return err;
}

static ch_engine *fresh(void)
{
    ch_engine_config cfg;
    ch_engine_defaults(&cfg);
    cfg.max_instruments = cfg.max_accounts = 16; /* small: the checks stay fast */
    cfg.max_orders = cfg.max_positions = 256;
    return ch_engine_create(&cfg);
}

static void setup(ch_engine *e)
{
    ch_command c = (ch_command){.type = CH_C_ADVANCE};
    ch_date_to_time(2026, 11, 25, &g_t0);
    c.time = g_t0;
    step(e, &c);
    c = (ch_command){.type = CH_C_UNDERLYING};
    c.underlying = (ch_underlying_config){
        .name = "BTC", .contract_size = 1.0, .min_price = 1, .max_price = 2000000};
    ch_tick_parse("0.5", 3, &c.underlying);
    step(e, &c);
    for (size_t i = 0; i < N_SYMS; i++) {
        c = (ch_command){.type = CH_C_LIST};
        snprintf(c.symbol, sizeof c.symbol, "%s", k_syms[i]);
        step(e, &c);
    }
    static ch_command m;
    m = (ch_command){.type = CH_C_MARKET};
    m.market.index = 100000;
    m.market.rate = 0.03;
    m.market.funding_rate = m.market.perp = NAN;
    ch_date_to_time(2026, 12, 25, &m.market.expiry[0]);
    m.market.expiry[0] += 8 * 3600 * CH_NS_PER_SEC;
    m.market.vol[0] = 0.5;
    m.market.n_marks = 1;
    step(e, &m);
    static const char *const names[] = {"lp", "a", "b", "c"};
    for (int i = 0; i < 4; i++) {
        c = (ch_command){.type = CH_C_ACCOUNT_OPEN};
        snprintf(c.name, sizeof c.name, "%s", names[i]);
        c.amount = USD(i == 0 ? 5e6 : 2e5);
        c.stp = (ch_stp)(i % 3);
        step(e, &c);
    }
    c = (ch_command){.type = CH_C_POOL_DEPOSIT};
    c.account = (ch_account_id){3}; /* lp: after house, pool, fees */
    c.amount = USD(4e6);
    step(e, &c);
}

static int64_t i16(const uint8_t *p)
{
    return (int16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ch_engine *e = fresh();
    if (e == NULL)
        fail();
    g_n = 0;
    setup(e);
    ch_order_id live[64];
    size_t n_live = 0;
    ch_time now = g_t0;
    for (size_t off = 0; off + 8 <= size && g_n < MAX_STEPS; off += 8) {
        const uint8_t *b = data + off;
        ch_command c;
        ch_account_id acct = {(uint32_t)(b[1] % 9)}; /* 0..2 internal, 3..6 real, 7..8 unknown */
        switch (b[0] % 10) {
        case 0:
        case 1:
        case 2:
        case 3: { /* submit, priced around the premium scale */
            c = (ch_command){.type = CH_C_SUBMIT};
            c.order = (ch_engine_order){.account = acct,
                                        .instr = {(uint32_t)(b[2] % (N_SYMS + 1))},
                                        .side = (ch_side)(b[3] & 1),
                                        .type = (ch_ord_type)((b[3] >> 1) % 3 == 2),
                                        .tif = (ch_tif)((b[3] >> 2) % 3),
                                        .post_only = (b[3] >> 4) % 5 == 0,
                                        .price = 1 + (i16(b + 4) & 0x7fff) * (b[7] % 8 + 1),
                                        .qty = (int64_t)(b[6] % 12) - 1};
            if (step(e, &c) == CH_OK && g_res[g_n - 1].order.remaining > 0 && n_live < 64)
                live[n_live++] = g_res[g_n - 1].order.id;
            break;
        }
        case 4: /* cancel a live order (or a made-up id) */
        case 5: /* replace: quantity and/or price */
            c = (ch_command){.type = b[0] % 10 == 4 ? CH_C_CANCEL : CH_C_REPLACE};
            c.account = acct;
            c.order_id = n_live > 0 && b[2] < 230 ? live[b[2] % n_live]
                                                  : (ch_order_id){(uint64_t)i16(b + 4)};
            c.qty = b[6] % 4 == 0 ? 0 : (int64_t)(b[6] % 9);
            c.price = b[7] % 2 ? 0 : 1 + (i16(b + 4) & 0x3fff);
            step(e, &c);
            break;
        case 6: { /* market data: index and a vol mark */
            static ch_command m;
            m = (ch_command){.type = CH_C_MARKET};
            m.market.index = 100000.0 + (double)i16(b + 2);
            m.market.rate = b[4] % 2 ? NAN : 0.03;
            m.market.funding_rate = m.market.perp = NAN;
            m.market.n_marks = b[5] % 2;
            ch_date_to_time(2026, 12, 25, &m.market.expiry[0]);
            m.market.expiry[0] += 8 * 3600 * CH_NS_PER_SEC;
            m.market.strike[0] = b[6] % 2 ? 0 : 100000;
            m.market.vol[0] = 0.05 + (double)b[7] / 100.0;
            step(e, &m);
            break;
        }
        case 7: /* time passes: hours to days, through the first expiry at last */
            c = (ch_command){.type = CH_C_ADVANCE};
            now += (ch_time)(b[2] % 24 + 1) * 3600 * CH_NS_PER_SEC * (b[3] % 8 == 0 ? 24 : 1);
            c.time = now;
            step(e, &c);
            break;
        case 8: { /* cash in or out, the pool, or a strike tranche */
            static const ch_command_type kinds[7] = {
                CH_C_DEPOSIT,         CH_C_POOL_DEPOSIT,     CH_C_POOL_WITHDRAW, CH_C_TRANCHE_ADD,
                CH_C_TRANCHE_DEPOSIT, CH_C_TRANCHE_WITHDRAW, CH_C_OPTION_HEDGE};
            c = (ch_command){.type = kinds[b[2] % 7]};
            c.account = acct;
            c.tranche = b[3] % 4; /* 0 and beyond the last: ENOTFOUND */
            bool shares = c.type == CH_C_POOL_WITHDRAW || c.type == CH_C_TRANCHE_WITHDRAW;
            c.amount = shares ? (int64_t)(b[4] % 100) * (b[7] % 2 ? 1 : 100000)
                              : i16(b + 4) * CH_CASH_SCALE;
            /* strikes 80k..120k around the listed ones, sometimes reversed */
            c.tranche_spec = (ch_tranche_spec){.underlying = b[7] % 5 == 0 ? 1u : 0u,
                                               .strike_lo = 80000 + 5000 * (b[5] % 9),
                                               .strike_hi = 80000 + 5000 * (b[6] % 9)};
            /* a vega hedge: any series (or none), either side, a price in or out of the band */
            c.option_hedge.instr = (ch_instr_id){(uint32_t)(b[5] % (N_SYMS + 1))};
            c.option_hedge.qty = (int64_t)(b[6] % 7) - 3;
            c.option_hedge.price = (int64_t)(b[4] | b[5] << 8) * (b[7] % 3);
            c.option_hedge.fee = (int64_t)(b[3] % 5) - 1;
            step(e, &c);
            break;
        }
        default: /* a new account (names repeat: EEXISTS) */
            c = (ch_command){.type = CH_C_ACCOUNT_OPEN};
            snprintf(c.name, sizeof c.name, "n%u", (unsigned)(b[2] % 16));
            c.amount = (int64_t)b[3] * CH_CASH_SCALE * 1000;
            c.stp = (ch_stp)(b[4] % 3);
            step(e, &c);
            break;
        }
    }
    /* recovery: the same commands into a fresh engine, the same results */
    ch_engine *r = fresh();
    if (r == NULL)
        fail();
    for (size_t i = 0; i < g_n; i++) {
        ch_command_result res;
        ch_err err = ch_command_apply(r, &g_cmds[i], &res);
        if (err != g_res[i].err || res.order.id.v != g_res[i].order.id.v ||
            res.order.filled != g_res[i].order.filled || res.value != g_res[i].value)
            fail();
    }
    int64_t t1, x1, t2, x2;
    ch_engine_cash_totals(e, &t1, &x1);
    ch_engine_cash_totals(r, &t2, &x2);
    if (t1 != t2 || x1 != x2 || ch_engine_check(r) != CH_OK)
        fail();
    ch_engine_destroy(r);
    ch_engine_destroy(e);
    return 0;
}
