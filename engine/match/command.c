/*
 * command.c - the engine's inputs as bytes: a small little-endian writer and
 * a length-checked reader, so that the command log is portable across
 * machines and a damaged record is refused, not misread.
 */
#include "ch/command.h"

#include <math.h>
#include <string.h>

typedef struct wr {
    uint8_t *p;
    size_t n, cap;
    bool bad;
} wr;

static void w_bytes(wr *w, const void *x, size_t n)
{
    if (w->bad || w->n + n > w->cap) {
        w->bad = true;
        return;
    }
    memcpy(w->p + w->n, x, n);
    w->n += n;
}

static void w_u64(wr *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    w_bytes(w, b, 8);
}

static void w_u32(wr *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    w_bytes(w, b, 4);
}

static void w_u8(wr *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static void w_i64(wr *w, int64_t v)
{
    w_u64(w, (uint64_t)v);
}

static void w_f64(wr *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    w_u64(w, u);
}

static void w_str(wr *w, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    w_u8(w, (uint8_t)n);
    w_bytes(w, s, n);
}

typedef struct rd {
    const uint8_t *p;
    size_t n, len;
    bool bad;
} rd;

static const uint8_t *r_bytes(rd *r, size_t n)
{
    if (r->bad || r->n + n > r->len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *x = r->p + r->n;
    r->n += n;
    return x;
}

static uint64_t r_u64(rd *r)
{
    const uint8_t *b = r_bytes(r, 8);
    uint64_t v = 0;
    if (b != NULL)
        for (int i = 0; i < 8; i++)
            v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint32_t r_u32(rd *r)
{
    const uint8_t *b = r_bytes(r, 4);
    uint32_t v = 0;
    if (b != NULL)
        for (int i = 0; i < 4; i++)
            v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static uint8_t r_u8(rd *r)
{
    const uint8_t *b = r_bytes(r, 1);
    return b != NULL ? b[0] : 0;
}

static int64_t r_i64(rd *r)
{
    return (int64_t)r_u64(r);
}

static double r_f64(rd *r)
{
    uint64_t u = r_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static void r_str(rd *r, char *out, size_t max)
{
    size_t n = r_u8(r);
    if (n >= max) {
        r->bad = true;
        return;
    }
    const uint8_t *b = r_bytes(r, n);
    if (b == NULL)
        return;
    memcpy(out, b, n);
    out[n] = '\0';
    if (strnlen(out, n) != n) /* no NUL inside */
        r->bad = true;
}

static void w_underlying(wr *w, const ch_underlying_config *u)
{
    w_str(w, u->name, CH_UNDERLYING_MAX);
    w_u32(w, (uint32_t)u->price_decimals);
    w_i64(w, u->tick_units);
    w_f64(w, u->contract_size);
    w_i64(w, u->min_price);
    w_i64(w, u->max_price);
}

static void r_underlying(rd *r, ch_underlying_config *u)
{
    memset(u, 0, sizeof *u);
    r_str(r, u->name, CH_UNDERLYING_MAX);
    u->price_decimals = (int32_t)r_u32(r);
    u->tick_units = r_i64(r);
    u->contract_size = r_f64(r);
    u->min_price = r_i64(r);
    u->max_price = r_i64(r);
}

size_t ch_command_encode(const ch_command *c, uint8_t *buf, size_t cap)
{
    wr w = {.p = buf, .cap = cap};
    w_u8(&w, CH_COMMAND_VERSION);
    w_u8(&w, (uint8_t)c->type);
    switch (c->type) {
    case CH_C_UNDERLYING:
        w_underlying(&w, &c->underlying);
        break;
    case CH_C_LIST:
        w_str(&w, c->symbol, CH_SYMBOL_MAX);
        break;
    case CH_C_MARKET:
        if (c->market.n_marks > CH_COMMAND_MAX_MARKS)
            return 0;
        w_u32(&w, c->market.underlying);
        w_f64(&w, c->market.index);
        w_f64(&w, c->market.rate);
        w_f64(&w, c->market.funding_rate);
        w_f64(&w, c->market.perp);
        w_i64(&w, c->market.time);
        w_u32(&w, (uint32_t)c->market.n_marks);
        for (size_t i = 0; i < c->market.n_marks; i++) {
            w_i64(&w, c->market.expiry[i]);
            w_f64(&w, c->market.strike[i]);
            w_f64(&w, c->market.vol[i]);
        }
        break;
    case CH_C_ADVANCE:
        w_i64(&w, c->time);
        break;
    case CH_C_ACCOUNT_OPEN:
        w_str(&w, c->name, CH_ACCOUNT_NAME_MAX);
        w_u8(&w, (uint8_t)c->stp);
        w_i64(&w, c->amount);
        break;
    case CH_C_DEPOSIT:
    case CH_C_POOL_DEPOSIT:
    case CH_C_POOL_WITHDRAW:
        w_u32(&w, c->account.v);
        w_i64(&w, c->amount);
        break;
    case CH_C_SUBMIT:
        w_u32(&w, c->order.account.v);
        w_u32(&w, c->order.instr.v);
        w_u8(&w, (uint8_t)c->order.side);
        w_u8(&w, (uint8_t)c->order.type);
        w_u8(&w, (uint8_t)c->order.tif);
        w_u8(&w, c->order.post_only ? 1 : 0);
        w_i64(&w, c->order.price);
        w_i64(&w, c->order.qty);
        w_str(&w, c->client_order_id, CH_CLIENT_ORDER_ID_MAX);
        break;
    case CH_C_HEDGE:
        w_u32(&w, c->hedge.underlying);
        w_f64(&w, c->hedge.qty);
        w_f64(&w, c->hedge.price);
        w_f64(&w, c->hedge.fee);
        w_f64(&w, c->hedge.slippage);
        break;
    case CH_C_HEDGE_SENT:
        w_u32(&w, c->hedge.underlying);
        w_u64(&w, c->hedge.id);
        w_f64(&w, c->hedge.qty);
        w_f64(&w, c->hedge.mark);
        break;
    case CH_C_HEDGE_REPORT:
        w_u32(&w, c->hedge.underlying);
        w_u64(&w, c->hedge.id);
        w_u8(&w, c->hedge.filled ? 1 : 0);
        w_f64(&w, c->hedge.qty);
        w_f64(&w, c->hedge.price);
        w_f64(&w, c->hedge.fee);
        w_f64(&w, c->hedge.slippage);
        break;
    case CH_C_CANCEL:
        w_u32(&w, c->account.v);
        w_u64(&w, c->order_id.v);
        break;
    case CH_C_REPLACE:
        w_u32(&w, c->account.v);
        w_u64(&w, c->order_id.v);
        w_i64(&w, c->qty);
        w_i64(&w, c->price);
        break;
    default:
        return 0;
    }
    return w.bad ? 0 : w.n;
}

ch_err ch_command_decode(const uint8_t *buf, size_t len, ch_command *c)
{
    rd r = {.p = buf, .len = len};
    if (r_u8(&r) != CH_COMMAND_VERSION)
        return CH_EBADREQ;
    memset(c, 0, sizeof *c);
    c->type = (ch_command_type)r_u8(&r);
    switch (c->type) {
    case CH_C_UNDERLYING:
        r_underlying(&r, &c->underlying);
        break;
    case CH_C_LIST:
        r_str(&r, c->symbol, CH_SYMBOL_MAX);
        break;
    case CH_C_MARKET: {
        c->market.underlying = r_u32(&r);
        c->market.index = r_f64(&r);
        c->market.rate = r_f64(&r);
        c->market.funding_rate = r_f64(&r);
        c->market.perp = r_f64(&r);
        c->market.time = r_i64(&r);
        uint32_t n = r_u32(&r);
        if (n > CH_COMMAND_MAX_MARKS)
            return CH_EBADREQ;
        c->market.n_marks = n;
        for (uint32_t i = 0; i < n; i++) {
            c->market.expiry[i] = r_i64(&r);
            c->market.strike[i] = r_f64(&r);
            c->market.vol[i] = r_f64(&r);
        }
        break;
    }
    case CH_C_ADVANCE:
        c->time = r_i64(&r);
        break;
    case CH_C_ACCOUNT_OPEN:
        r_str(&r, c->name, CH_ACCOUNT_NAME_MAX);
        c->stp = (ch_stp)r_u8(&r);
        c->amount = r_i64(&r);
        break;
    case CH_C_DEPOSIT:
    case CH_C_POOL_DEPOSIT:
    case CH_C_POOL_WITHDRAW:
        c->account.v = r_u32(&r);
        c->amount = r_i64(&r);
        break;
    case CH_C_SUBMIT:
        c->order.account.v = r_u32(&r);
        c->order.instr.v = r_u32(&r);
        c->order.side = (ch_side)r_u8(&r);
        c->order.type = (ch_ord_type)r_u8(&r);
        c->order.tif = (ch_tif)r_u8(&r);
        uint8_t po = r_u8(&r);
        if (po > 1) /* one canonical encoding per command */
            return CH_EBADREQ;
        c->order.post_only = po == 1;
        c->order.price = r_i64(&r);
        c->order.qty = r_i64(&r);
        r_str(&r, c->client_order_id, CH_CLIENT_ORDER_ID_MAX);
        break;
    case CH_C_HEDGE:
        c->hedge.underlying = r_u32(&r);
        c->hedge.qty = r_f64(&r);
        c->hedge.price = r_f64(&r);
        c->hedge.fee = r_f64(&r);
        c->hedge.slippage = r_f64(&r);
        break;
    case CH_C_HEDGE_SENT:
        c->hedge.underlying = r_u32(&r);
        c->hedge.id = r_u64(&r);
        c->hedge.qty = r_f64(&r);
        c->hedge.mark = r_f64(&r);
        break;
    case CH_C_HEDGE_REPORT: {
        c->hedge.underlying = r_u32(&r);
        c->hedge.id = r_u64(&r);
        uint8_t f = r_u8(&r);
        if (f > 1)
            return CH_EBADREQ; /* canonical: one encoding per command */
        c->hedge.filled = f == 1;
        c->hedge.qty = r_f64(&r);
        c->hedge.price = r_f64(&r);
        c->hedge.fee = r_f64(&r);
        c->hedge.slippage = r_f64(&r);
        break;
    }
    case CH_C_CANCEL:
        c->account.v = r_u32(&r);
        c->order_id.v = r_u64(&r);
        break;
    case CH_C_REPLACE:
        c->account.v = r_u32(&r);
        c->order_id.v = r_u64(&r);
        c->qty = r_i64(&r);
        c->price = r_i64(&r);
        break;
    default:
        return CH_EBADREQ;
    }
    if (r.bad || r.n != len)
        return CH_EBADREQ;
    return CH_OK;
}

ch_err ch_command_apply(ch_engine *e, const ch_command *c, ch_command_result *res)
{
    ch_command_result local;
    ch_command_result *r = res != NULL ? res : &local;
    memset(r, 0, sizeof *r);
    ch_err err;
    switch (c->type) {
    case CH_C_UNDERLYING:
        err = ch_engine_add_underlying(e, &c->underlying, &r->underlying);
        break;
    case CH_C_LIST:
        err = ch_engine_list(e, c->symbol, strnlen(c->symbol, CH_SYMBOL_MAX), &r->instr);
        break;
    case CH_C_MARKET: {
        ch_market_update mu = {.underlying = c->market.underlying,
                               .index = c->market.index,
                               .rate = c->market.rate,
                               .funding_rate = c->market.funding_rate,
                               .perp = c->market.perp,
                               .time = c->market.time,
                               .n_marks = c->market.n_marks,
                               .mark_expiry = c->market.expiry,
                               .mark_strike = c->market.strike,
                               .mark_vol = c->market.vol};
        err = ch_engine_market(e, &mu);
        break;
    }
    case CH_C_ADVANCE:
        err = ch_engine_advance(e, c->time);
        break;
    case CH_C_ACCOUNT_OPEN:
        err = ch_engine_account_open(e, c->name, c->amount, c->stp, &r->account);
        break;
    case CH_C_DEPOSIT:
        err = ch_engine_deposit(e, c->account, c->amount);
        break;
    case CH_C_SUBMIT:
        err = ch_engine_submit(e, &c->order, &r->order);
        break;
    case CH_C_CANCEL:
        err = ch_engine_cancel(e, c->account, c->order_id, &r->value);
        break;
    case CH_C_REPLACE:
        err = ch_engine_replace(e, c->account, c->order_id, c->qty, c->price, &r->order);
        break;
    case CH_C_POOL_DEPOSIT:
        err = ch_engine_pool_deposit(e, c->account, c->amount, &r->value);
        break;
    case CH_C_POOL_WITHDRAW:
        err = ch_engine_pool_withdraw(e, c->account, c->amount, &r->value);
        break;
    case CH_C_HEDGE: /* a hedge fill: the engine keeps the house's hedge book */
    case CH_C_HEDGE_REPORT: {
        ch_hedge_exec x = {.qty = c->hedge.qty, .price = c->hedge.price, .fee = c->hedge.fee,
                           .slippage = c->hedge.slippage};
        err = c->type == CH_C_HEDGE || c->hedge.filled
                  ? ch_engine_hedge_fill(e, c->hedge.underlying, &x)
                  : CH_OK;
        break;
    }
    case CH_C_HEDGE_SENT:
        err = CH_OK; /* in flight: booked by its report */
        break;
    default:
        err = CH_EBADREQ;
    }
    r->err = err;
    return err;
}

size_t ch_config_encode(const ch_engine_config *c, uint8_t *buf, size_t cap)
{
    wr w = {.p = buf, .cap = cap};
    w_u8(&w, CH_COMMAND_VERSION);
    w_u32(&w, c->max_instruments);
    w_u32(&w, c->max_underlyings);
    w_u32(&w, c->max_orders);
    w_u32(&w, c->max_levels);
    w_u32(&w, c->max_accounts);
    w_u32(&w, c->max_positions);
    w_u8(&w, c->netting ? 1 : 0);
    w_i64(&w, c->netting_fee_ticks);
    w_f64(&w, c->taker_fee_bps);
    w_f64(&w, c->fee_cap);
    const ch_pool_config *p = &c->pool;
    w_u8(&w, p->enabled ? 1 : 0);
    double pd[] = {p->half_spread_vol, p->pv_t,           p->pg_t,
                   p->pv_k,            p->pg_k,           p->max_skew_vol,
                   p->max_vega_total,  p->max_gamma_total, p->max_vega_strike,
                   p->max_gamma_strike, p->max_notional};
    for (size_t i = 0; i < sizeof pd / sizeof pd[0]; i++)
        w_f64(&w, pd[i]);
    const ch_scenario_config *s = &c->scenarios;
    w_u32(&w, (uint32_t)s->n_spot);
    for (size_t i = 0; i < s->n_spot && i < CH_SCEN_MAX_SPOT; i++)
        w_f64(&w, s->spot_shocks[i]);
    w_f64(&w, s->vol_up);
    w_f64(&w, s->vol_down);
    w_f64(&w, s->short_power);
    w_f64(&w, s->long_power);
    w_f64(&w, s->floor_days);
    /* a tail for what came later, written only when it is not the old
     * behaviour, so that a store written before it still opens */
    if (c->risk_aware || p->no_limits || c->forward_funding) {
        w_u8(&w, (uint8_t)((c->risk_aware ? 1 : 0) | (p->no_limits ? 2 : 0) |
                           (c->forward_funding ? 4 : 0)));
        w_f64(&w, c->hedge_fee_bps);
        w_f64(&w, c->hedge_impact_bps);
        w_f64(&w, c->house_delta_limit);
        w_f64(&w, c->funding_half_life_h);
    }
    return w.bad || s->n_spot > CH_SCEN_MAX_SPOT ? 0 : w.n;
}

ch_err ch_config_decode(const uint8_t *buf, size_t len, ch_engine_config *c)
{
    rd r = {.p = buf, .len = len};
    if (r_u8(&r) != CH_COMMAND_VERSION)
        return CH_EBADREQ;
    memset(c, 0, sizeof *c);
    c->max_instruments = r_u32(&r);
    c->max_underlyings = r_u32(&r);
    c->max_orders = r_u32(&r);
    c->max_levels = r_u32(&r);
    c->max_accounts = r_u32(&r);
    c->max_positions = r_u32(&r);
    uint8_t net = r_u8(&r);
    if (net > 1)
        return CH_EBADREQ;
    c->netting = net == 1;
    c->netting_fee_ticks = r_i64(&r);
    c->taker_fee_bps = r_f64(&r);
    c->fee_cap = r_f64(&r);
    ch_pool_config *p = &c->pool;
    uint8_t en = r_u8(&r);
    if (en > 1)
        return CH_EBADREQ;
    p->enabled = en == 1;
    double *pd[] = {&p->half_spread_vol, &p->pv_t,           &p->pg_t,
                    &p->pv_k,            &p->pg_k,           &p->max_skew_vol,
                    &p->max_vega_total,  &p->max_gamma_total, &p->max_vega_strike,
                    &p->max_gamma_strike, &p->max_notional};
    for (size_t i = 0; i < sizeof pd / sizeof pd[0]; i++)
        *pd[i] = r_f64(&r);
    ch_scenario_config *s = &c->scenarios;
    uint32_t n = r_u32(&r);
    if (n > CH_SCEN_MAX_SPOT)
        return CH_EBADREQ;
    s->n_spot = n;
    for (uint32_t i = 0; i < n; i++)
        s->spot_shocks[i] = r_f64(&r);
    s->vol_up = r_f64(&r);
    s->vol_down = r_f64(&r);
    s->short_power = r_f64(&r);
    s->long_power = r_f64(&r);
    s->floor_days = r_f64(&r);
    if (!r.bad && r.n < len) {
        uint8_t flags = r_u8(&r);
        if (flags == 0 || flags > 7)
            return CH_EBADREQ;
        c->risk_aware = (flags & 1) != 0;
        p->no_limits = (flags & 2) != 0;
        c->forward_funding = (flags & 4) != 0;
        c->hedge_fee_bps = r_f64(&r);
        c->hedge_impact_bps = r_f64(&r);
        c->house_delta_limit = r_f64(&r);
        c->funding_half_life_h = r_f64(&r);
    }
    if (r.bad || r.n != len)
        return CH_EBADREQ;
    return CH_OK;
}

size_t ch_fill_encode(const ch_fill *f, uint8_t *buf, size_t cap)
{
    wr w = {.p = buf, .cap = cap};
    w_u8(&w, CH_COMMAND_VERSION);
    w_u64(&w, f->trade_id);
    w_u8(&w, (uint8_t)f->source);
    w_u32(&w, f->instr.v);
    w_u8(&w, (uint8_t)f->taker_side);
    w_i64(&w, f->price);
    w_i64(&w, f->qty);
    w_u32(&w, f->taker.v);
    w_u32(&w, f->maker.v);
    w_u64(&w, f->taker_order.v);
    w_u64(&w, f->maker_order.v);
    w_u32(&w, f->maker_instr.v);
    w_i64(&w, f->maker_price);
    w_i64(&w, f->fee);
    w_f64(&w, f->delta);
    return w.bad ? 0 : w.n;
}

ch_err ch_fill_decode(const uint8_t *buf, size_t len, ch_fill *f)
{
    rd r = {.p = buf, .len = len};
    if (r_u8(&r) != CH_COMMAND_VERSION)
        return CH_EBADREQ;
    memset(f, 0, sizeof *f);
    f->trade_id = r_u64(&r);
    f->source = (ch_source)r_u8(&r);
    f->instr.v = r_u32(&r);
    f->taker_side = (ch_side)r_u8(&r);
    f->price = r_i64(&r);
    f->qty = r_i64(&r);
    f->taker.v = r_u32(&r);
    f->maker.v = r_u32(&r);
    f->taker_order.v = r_u64(&r);
    f->maker_order.v = r_u64(&r);
    f->maker_instr.v = r_u32(&r);
    f->maker_price = r_i64(&r);
    f->fee = r_i64(&r);
    f->delta = r_f64(&r);
    if (r.bad || r.n != len || f->source > CH_SRC_POOL)
        return CH_EBADREQ;
    return CH_OK;
}
