/*
 * command.c - the engine's inputs as bytes, through the project's one
 * bounded little-endian codec (core/bin_io.h), so that the command log is
 * portable across machines and a damaged record is refused, not misread.
 */
#include "ch/command.h"

#include "../core/bin_io.h"

#include <math.h>
#include <string.h>

static void w_underlying(chi_wr *w, const ch_underlying_config *u)
{
    chi_put_str(w, 1, u->name, strnlen(u->name, CH_UNDERLYING_MAX));
    chi_put(w, (uint32_t)u->price_decimals, 4);
    chi_put(w, (uint64_t)(u->tick_units), 8);
    chi_put_f64(w, u->contract_size);
    chi_put(w, (uint64_t)(u->min_price), 8);
    chi_put(w, (uint64_t)(u->max_price), 8);
}

static void r_underlying(chi_rd *r, ch_underlying_config *u)
{
    memset(u, 0, sizeof *u);
    chi_get_str(r, 1, u->name, CH_UNDERLYING_MAX);
    u->price_decimals = (int32_t)(uint32_t)chi_get(r, 4);
    u->tick_units = (int64_t)chi_get(r, 8);
    u->contract_size = chi_get_f64(r);
    u->min_price = (int64_t)chi_get(r, 8);
    u->max_price = (int64_t)chi_get(r, 8);
}

size_t ch_command_encode(const ch_command *c, uint8_t *buf, size_t cap)
{
    chi_wr w = {.buf = buf, .cap = cap};
    chi_put(&w, CH_COMMAND_VERSION, 1);
    chi_put(&w, (uint8_t)c->type, 1);
    switch (c->type) {
    case CH_C_UNDERLYING:
        w_underlying(&w, &c->underlying);
        if (c->und_hedge.set) { /* absent in records from before it existed */
            if ((unsigned)c->und_hedge.kind > 255 || !isfinite(c->und_hedge.band))
                return 0;
            chi_put(&w, 1, 1);
            chi_put(&w, (uint8_t)c->und_hedge.kind, 1);
            chi_put_f64(&w, c->und_hedge.band);
        }
        break;
    case CH_C_LIST:
        chi_put_str(&w, 1, c->symbol, strnlen(c->symbol, CH_SYMBOL_MAX));
        break;
    case CH_C_MARKET:
        if (c->market.n_marks > CH_COMMAND_MAX_MARKS)
            return 0;
        chi_put(&w, c->market.underlying, 4);
        chi_put_f64(&w, c->market.index);
        chi_put_f64(&w, c->market.rate);
        chi_put_f64(&w, c->market.funding_rate);
        chi_put_f64(&w, c->market.perp);
        chi_put(&w, (uint64_t)(c->market.time), 8);
        chi_put(&w, (uint32_t)c->market.n_marks, 4);
        for (size_t i = 0; i < c->market.n_marks; i++) {
            chi_put(&w, (uint64_t)(c->market.expiry[i]), 8);
            chi_put_f64(&w, c->market.strike[i]);
            chi_put_f64(&w, c->market.vol[i]);
        }
        break;
    case CH_C_ADVANCE:
        chi_put(&w, (uint64_t)(c->time), 8);
        break;
    case CH_C_ACCOUNT_OPEN:
        chi_put_str(&w, 1, c->name, strnlen(c->name, CH_ACCOUNT_NAME_MAX));
        chi_put(&w, (uint8_t)c->stp, 1);
        chi_put(&w, (uint64_t)(c->amount), 8);
        break;
    case CH_C_DEPOSIT:
    case CH_C_POOL_DEPOSIT:
    case CH_C_POOL_WITHDRAW:
        chi_put(&w, c->account.v, 4);
        chi_put(&w, (uint64_t)(c->amount), 8);
        break;
    case CH_C_TRANCHE_ADD:
        chi_put(&w, c->tranche_spec.underlying, 4);
        chi_put(&w, (uint64_t)c->tranche_spec.strike_lo, 8);
        chi_put(&w, (uint64_t)c->tranche_spec.strike_hi, 8);
        chi_put(&w, (uint64_t)c->tranche_spec.expiry_lo, 8);
        chi_put(&w, (uint64_t)c->tranche_spec.expiry_hi, 8);
        break;
    case CH_C_OPTION_HEDGE:
    case CH_C_OPTION_REPORT:
        chi_put(&w, c->option_hedge.instr.v, 4);
        chi_put(&w, (uint64_t)c->option_hedge.qty, 8);
        chi_put(&w, (uint64_t)c->option_hedge.price, 8);
        chi_put(&w, (uint64_t)c->option_hedge.fee, 8);
        if (c->type == CH_C_OPTION_REPORT) {
            chi_put(&w, c->option_hedge.id, 8);
            chi_put(&w, c->option_hedge.filled ? 1 : 0, 1);
        }
        break;
    case CH_C_OPTION_SENT:
        chi_put(&w, c->option_hedge.instr.v, 4);
        chi_put(&w, c->option_hedge.id, 8);
        chi_put(&w, (uint64_t)c->option_hedge.qty, 8);
        chi_put_f64(&w, c->option_hedge.mark);
        chi_put_f64(&w, c->option_hedge.vega);
        chi_put_f64(&w, c->option_hedge.index);
        chi_put_f64(&w, c->option_hedge.contract_size);
        break;
    case CH_C_TRANCHE_DEPOSIT:
    case CH_C_TRANCHE_WITHDRAW:
        chi_put(&w, c->account.v, 4);
        chi_put(&w, c->tranche, 4);
        chi_put(&w, (uint64_t)(c->amount), 8);
        break;
    case CH_C_TRANSFER_OUT:
    case CH_C_TRANSFER_IN:
        chi_put(&w, c->account.v, 4);
        chi_put(&w, (uint64_t)(c->amount), 8);
        chi_put_str(&w, 1, c->transfer.shard, strnlen(c->transfer.shard, sizeof c->transfer.shard));
        if (c->type == CH_C_TRANSFER_IN)
            chi_put(&w, c->transfer.seq, 8);
        break;
    case CH_C_TRANSFER_SENT:
        chi_put(&w, c->transfer.seq, 8);
        break;
    case CH_C_SUBMIT:
        chi_put(&w, c->order.account.v, 4);
        chi_put(&w, c->order.instr.v, 4);
        chi_put(&w, (uint8_t)c->order.side, 1);
        chi_put(&w, (uint8_t)c->order.type, 1);
        chi_put(&w, (uint8_t)c->order.tif, 1);
        chi_put(&w, c->order.post_only ? 1 : 0, 1);
        chi_put(&w, (uint64_t)(c->order.price), 8);
        chi_put(&w, (uint64_t)(c->order.qty), 8);
        chi_put_str(&w, 1, c->client_order_id, strnlen(c->client_order_id, CH_CLIENT_ORDER_ID_MAX));
        break;
    case CH_C_HEDGE:
        chi_put(&w, c->hedge.underlying, 4);
        chi_put_f64(&w, c->hedge.qty);
        chi_put_f64(&w, c->hedge.price);
        chi_put_f64(&w, c->hedge.fee);
        chi_put_f64(&w, c->hedge.slippage);
        break;
    case CH_C_HEDGE_SENT:
        chi_put(&w, c->hedge.underlying, 4);
        chi_put(&w, c->hedge.id, 8);
        chi_put_f64(&w, c->hedge.qty);
        chi_put_f64(&w, c->hedge.mark);
        break;
    case CH_C_HEDGE_REPORT:
        chi_put(&w, c->hedge.underlying, 4);
        chi_put(&w, c->hedge.id, 8);
        chi_put(&w, c->hedge.filled ? 1 : 0, 1);
        chi_put_f64(&w, c->hedge.qty);
        chi_put_f64(&w, c->hedge.price);
        chi_put_f64(&w, c->hedge.fee);
        chi_put_f64(&w, c->hedge.slippage);
        break;
    case CH_C_CANCEL:
        chi_put(&w, c->account.v, 4);
        chi_put(&w, c->order_id.v, 8);
        break;
    case CH_C_REPLACE:
        chi_put(&w, c->account.v, 4);
        chi_put(&w, c->order_id.v, 8);
        chi_put(&w, (uint64_t)(c->qty), 8);
        chi_put(&w, (uint64_t)(c->price), 8);
        break;
    default:
        return 0;
    }
    return w.bad ? 0 : w.n;
}

ch_err ch_command_decode(const uint8_t *buf, size_t len, ch_command *c)
{
    chi_rd r = {.p = buf, .len = len};
    if ((uint8_t)chi_get(&r, 1) != CH_COMMAND_VERSION)
        return CH_EBADREQ;
    ch_command_reset(c, (ch_command_type)(uint8_t)chi_get(&r, 1)); /* marks: as many as read */
    switch (c->type) {
    case CH_C_UNDERLYING:
        r_underlying(&r, &c->underlying);
        if (!r.bad && r.n < len) { /* the optional hedge policy: present means set */
            if ((uint8_t)chi_get(&r, 1) != 1)
                return CH_EBADREQ; /* canonical: one encoding per command */
            c->und_hedge.set = true;
            c->und_hedge.kind = (ch_hedge_policy_kind)(uint8_t)chi_get(&r, 1);
            c->und_hedge.band = chi_get_f64(&r);
            if (!isfinite(c->und_hedge.band))
                return CH_EBADREQ;
        }
        break;
    case CH_C_LIST:
        chi_get_str(&r, 1, c->symbol, CH_SYMBOL_MAX);
        break;
    case CH_C_MARKET: {
        c->market.underlying = (uint32_t)chi_get(&r, 4);
        c->market.index = chi_get_f64(&r);
        c->market.rate = chi_get_f64(&r);
        c->market.funding_rate = chi_get_f64(&r);
        c->market.perp = chi_get_f64(&r);
        c->market.time = (int64_t)chi_get(&r, 8);
        uint32_t n = (uint32_t)chi_get(&r, 4);
        if (n > CH_COMMAND_MAX_MARKS)
            return CH_EBADREQ;
        c->market.n_marks = n;
        for (uint32_t i = 0; i < n; i++) {
            c->market.expiry[i] = (int64_t)chi_get(&r, 8);
            c->market.strike[i] = chi_get_f64(&r);
            c->market.vol[i] = chi_get_f64(&r);
        }
        break;
    }
    case CH_C_ADVANCE:
        c->time = (int64_t)chi_get(&r, 8);
        break;
    case CH_C_ACCOUNT_OPEN:
        chi_get_str(&r, 1, c->name, CH_ACCOUNT_NAME_MAX);
        c->stp = (ch_stp)(uint8_t)chi_get(&r, 1);
        c->amount = (int64_t)chi_get(&r, 8);
        break;
    case CH_C_DEPOSIT:
    case CH_C_POOL_DEPOSIT:
    case CH_C_POOL_WITHDRAW:
        c->account.v = (uint32_t)chi_get(&r, 4);
        c->amount = (int64_t)chi_get(&r, 8);
        break;
    case CH_C_TRANCHE_ADD:
        c->tranche_spec.underlying = (uint32_t)chi_get(&r, 4);
        c->tranche_spec.strike_lo = (int64_t)chi_get(&r, 8);
        c->tranche_spec.strike_hi = (int64_t)chi_get(&r, 8);
        c->tranche_spec.expiry_lo = (int64_t)chi_get(&r, 8);
        c->tranche_spec.expiry_hi = (int64_t)chi_get(&r, 8);
        break;
    case CH_C_OPTION_HEDGE:
    case CH_C_OPTION_REPORT:
        c->option_hedge.instr.v = (uint32_t)chi_get(&r, 4);
        c->option_hedge.qty = (int64_t)chi_get(&r, 8);
        c->option_hedge.price = (int64_t)chi_get(&r, 8);
        c->option_hedge.fee = (int64_t)chi_get(&r, 8);
        if (c->type == CH_C_OPTION_REPORT) {
            c->option_hedge.id = chi_get(&r, 8);
            uint8_t f = (uint8_t)chi_get(&r, 1);
            if (f > 1) /* one canonical encoding per command */
                return CH_EBADREQ;
            c->option_hedge.filled = f == 1;
        }
        break;
    case CH_C_OPTION_SENT:
        c->option_hedge.instr.v = (uint32_t)chi_get(&r, 4);
        c->option_hedge.id = chi_get(&r, 8);
        c->option_hedge.qty = (int64_t)chi_get(&r, 8);
        c->option_hedge.mark = chi_get_f64(&r);
        c->option_hedge.vega = chi_get_f64(&r);
        c->option_hedge.index = chi_get_f64(&r);
        c->option_hedge.contract_size = chi_get_f64(&r);
        break;
    case CH_C_TRANCHE_DEPOSIT:
    case CH_C_TRANCHE_WITHDRAW:
        c->account.v = (uint32_t)chi_get(&r, 4);
        c->tranche = (uint32_t)chi_get(&r, 4);
        c->amount = (int64_t)chi_get(&r, 8);
        break;
    case CH_C_TRANSFER_OUT:
    case CH_C_TRANSFER_IN:
        c->account.v = (uint32_t)chi_get(&r, 4);
        c->amount = (int64_t)chi_get(&r, 8);
        chi_get_str(&r, 1, c->transfer.shard, sizeof c->transfer.shard);
        if (c->type == CH_C_TRANSFER_IN)
            c->transfer.seq = chi_get(&r, 8);
        break;
    case CH_C_TRANSFER_SENT:
        c->transfer.seq = chi_get(&r, 8);
        break;
    case CH_C_SUBMIT:
        c->order.account.v = (uint32_t)chi_get(&r, 4);
        c->order.instr.v = (uint32_t)chi_get(&r, 4);
        c->order.side = (ch_side)(uint8_t)chi_get(&r, 1);
        c->order.type = (ch_ord_type)(uint8_t)chi_get(&r, 1);
        c->order.tif = (ch_tif)(uint8_t)chi_get(&r, 1);
        uint8_t po = (uint8_t)chi_get(&r, 1);
        if (po > 1) /* one canonical encoding per command */
            return CH_EBADREQ;
        c->order.post_only = po == 1;
        c->order.price = (int64_t)chi_get(&r, 8);
        c->order.qty = (int64_t)chi_get(&r, 8);
        chi_get_str(&r, 1, c->client_order_id, CH_CLIENT_ORDER_ID_MAX);
        break;
    case CH_C_HEDGE:
        c->hedge.underlying = (uint32_t)chi_get(&r, 4);
        c->hedge.qty = chi_get_f64(&r);
        c->hedge.price = chi_get_f64(&r);
        c->hedge.fee = chi_get_f64(&r);
        c->hedge.slippage = chi_get_f64(&r);
        break;
    case CH_C_HEDGE_SENT:
        c->hedge.underlying = (uint32_t)chi_get(&r, 4);
        c->hedge.id = chi_get(&r, 8);
        c->hedge.qty = chi_get_f64(&r);
        c->hedge.mark = chi_get_f64(&r);
        break;
    case CH_C_HEDGE_REPORT: {
        c->hedge.underlying = (uint32_t)chi_get(&r, 4);
        c->hedge.id = chi_get(&r, 8);
        uint8_t f = (uint8_t)chi_get(&r, 1);
        if (f > 1)
            return CH_EBADREQ; /* canonical: one encoding per command */
        c->hedge.filled = f == 1;
        c->hedge.qty = chi_get_f64(&r);
        c->hedge.price = chi_get_f64(&r);
        c->hedge.fee = chi_get_f64(&r);
        c->hedge.slippage = chi_get_f64(&r);
        break;
    }
    case CH_C_CANCEL:
        c->account.v = (uint32_t)chi_get(&r, 4);
        c->order_id.v = chi_get(&r, 8);
        break;
    case CH_C_REPLACE:
        c->account.v = (uint32_t)chi_get(&r, 4);
        c->order_id.v = chi_get(&r, 8);
        c->qty = (int64_t)chi_get(&r, 8);
        c->price = (int64_t)chi_get(&r, 8);
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
    case CH_C_TRANCHE_ADD:
        err = ch_engine_tranche_add(e, &c->tranche_spec, &r->tranche);
        break;
    case CH_C_TRANCHE_DEPOSIT:
        err = ch_engine_tranche_deposit(e, c->account, c->tranche, c->amount, &r->value);
        break;
    case CH_C_TRANCHE_WITHDRAW:
        err = ch_engine_tranche_withdraw(e, c->account, c->tranche, c->amount, &r->value);
        break;
    case CH_C_OPTION_HEDGE:
    case CH_C_OPTION_REPORT: /* a rejection books nothing */
        err = c->type == CH_C_OPTION_HEDGE || c->option_hedge.filled
                  ? ch_engine_option_hedge_fill(e, c->option_hedge.instr, c->option_hedge.qty,
                                                c->option_hedge.price, c->option_hedge.fee)
                  : CH_OK;
        break;
    case CH_C_OPTION_SENT:
        err = CH_OK; /* in flight: booked by its report */
        break;
    case CH_C_TRANSFER_OUT: /* a withdrawal, for another shard */
    case CH_C_TRANSFER_IN:  /* a deposit, from another shard */
        err = c->amount > 0
                  ? ch_engine_deposit(e, c->account,
                                      c->type == CH_C_TRANSFER_OUT ? -c->amount : c->amount)
                  : CH_EINVAL;
        break;
    case CH_C_TRANSFER_SENT:
        err = CH_OK; /* chd's bookkeeping */
        break;
    case CH_C_HEDGE: /* a hedge fill: the engine keeps the house's hedge book */
    case CH_C_HEDGE_REPORT: {
        ch_hedge_exec x = {.qty = c->hedge.qty,
                           .price = c->hedge.price,
                           .fee = c->hedge.fee,
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
    chi_wr w = {.buf = buf, .cap = cap};
    chi_put(&w, CH_COMMAND_VERSION, 1);
    chi_put(&w, c->max_instruments, 4);
    chi_put(&w, c->max_underlyings, 4);
    chi_put(&w, c->max_orders, 4);
    chi_put(&w, c->max_levels, 4);
    chi_put(&w, c->max_accounts, 4);
    chi_put(&w, c->max_positions, 4);
    chi_put(&w, c->netting ? 1 : 0, 1);
    chi_put(&w, (uint64_t)(c->netting_fee_ticks), 8);
    chi_put_f64(&w, c->taker_fee_bps);
    chi_put_f64(&w, c->fee_cap);
    const ch_pool_config *p = &c->pool;
    chi_put(&w, p->enabled ? 1 : 0, 1);
    double pd[] = {p->half_spread_vol,
                   p->pv_t,
                   p->pg_t,
                   p->pv_k,
                   p->pg_k,
                   p->max_skew_vol,
                   p->max_vega_total,
                   p->max_gamma_total,
                   p->max_vega_strike,
                   p->max_gamma_strike,
                   p->max_notional};
    for (size_t i = 0; i < sizeof pd / sizeof pd[0]; i++)
        chi_put_f64(&w, pd[i]);
    const ch_scenario_config *s = &c->scenarios;
    chi_put(&w, (uint32_t)s->n_spot, 4);
    for (size_t i = 0; i < s->n_spot && i < CH_SCEN_MAX_SPOT; i++)
        chi_put_f64(&w, s->spot_shocks[i]);
    chi_put_f64(&w, s->vol_up);
    chi_put_f64(&w, s->vol_down);
    chi_put_f64(&w, s->short_power);
    chi_put_f64(&w, s->long_power);
    chi_put_f64(&w, s->floor_days);
    /* a tail for what came later, written only when it is not the old
     * behaviour, so that a store written before it still opens */
    if (c->risk_aware || p->no_limits || c->forward_funding) {
        chi_put(&w,
                (uint8_t)((c->risk_aware ? 1 : 0) | (p->no_limits ? 2 : 0) |
                          (c->forward_funding ? 4 : 0)),
                1);
        chi_put_f64(&w, c->hedge_fee_bps);
        chi_put_f64(&w, c->hedge_impact_bps);
        chi_put_f64(&w, c->house_delta_limit);
        chi_put_f64(&w, c->funding_half_life_h);
    }
    return w.bad || s->n_spot > CH_SCEN_MAX_SPOT ? 0 : w.n;
}

ch_err ch_config_decode(const uint8_t *buf, size_t len, ch_engine_config *c)
{
    chi_rd r = {.p = buf, .len = len};
    if ((uint8_t)chi_get(&r, 1) != CH_COMMAND_VERSION)
        return CH_EBADREQ;
    memset(c, 0, sizeof *c);
    c->max_instruments = (uint32_t)chi_get(&r, 4);
    c->max_underlyings = (uint32_t)chi_get(&r, 4);
    c->max_orders = (uint32_t)chi_get(&r, 4);
    c->max_levels = (uint32_t)chi_get(&r, 4);
    c->max_accounts = (uint32_t)chi_get(&r, 4);
    c->max_positions = (uint32_t)chi_get(&r, 4);
    uint8_t net = (uint8_t)chi_get(&r, 1);
    if (net > 1)
        return CH_EBADREQ;
    c->netting = net == 1;
    c->netting_fee_ticks = (int64_t)chi_get(&r, 8);
    c->taker_fee_bps = chi_get_f64(&r);
    c->fee_cap = chi_get_f64(&r);
    ch_pool_config *p = &c->pool;
    uint8_t en = (uint8_t)chi_get(&r, 1);
    if (en > 1)
        return CH_EBADREQ;
    p->enabled = en == 1;
    double *pd[] = {&p->half_spread_vol,
                    &p->pv_t,
                    &p->pg_t,
                    &p->pv_k,
                    &p->pg_k,
                    &p->max_skew_vol,
                    &p->max_vega_total,
                    &p->max_gamma_total,
                    &p->max_vega_strike,
                    &p->max_gamma_strike,
                    &p->max_notional};
    for (size_t i = 0; i < sizeof pd / sizeof pd[0]; i++)
        *pd[i] = chi_get_f64(&r);
    ch_scenario_config *s = &c->scenarios;
    uint32_t n = (uint32_t)chi_get(&r, 4);
    if (n > CH_SCEN_MAX_SPOT)
        return CH_EBADREQ;
    s->n_spot = n;
    for (uint32_t i = 0; i < n; i++)
        s->spot_shocks[i] = chi_get_f64(&r);
    s->vol_up = chi_get_f64(&r);
    s->vol_down = chi_get_f64(&r);
    s->short_power = chi_get_f64(&r);
    s->long_power = chi_get_f64(&r);
    s->floor_days = chi_get_f64(&r);
    if (!r.bad && r.n < len) {
        uint8_t flags = (uint8_t)chi_get(&r, 1);
        if (flags == 0 || flags > 7)
            return CH_EBADREQ;
        c->risk_aware = (flags & 1) != 0;
        p->no_limits = (flags & 2) != 0;
        c->forward_funding = (flags & 4) != 0;
        c->hedge_fee_bps = chi_get_f64(&r);
        c->hedge_impact_bps = chi_get_f64(&r);
        c->house_delta_limit = chi_get_f64(&r);
        c->funding_half_life_h = chi_get_f64(&r);
    }
    if (r.bad || r.n != len)
        return CH_EBADREQ;
    return CH_OK;
}

size_t ch_fill_encode(const ch_fill *f, uint8_t *buf, size_t cap)
{
    chi_wr w = {.buf = buf, .cap = cap};
    chi_put(&w, CH_COMMAND_VERSION, 1);
    chi_put(&w, f->trade_id, 8);
    chi_put(&w, (uint8_t)f->source, 1);
    chi_put(&w, f->instr.v, 4);
    chi_put(&w, (uint8_t)f->taker_side, 1);
    chi_put(&w, (uint64_t)(f->price), 8);
    chi_put(&w, (uint64_t)(f->qty), 8);
    chi_put(&w, f->taker.v, 4);
    chi_put(&w, f->maker.v, 4);
    chi_put(&w, f->taker_order.v, 8);
    chi_put(&w, f->maker_order.v, 8);
    chi_put(&w, f->maker_instr.v, 4);
    chi_put(&w, (uint64_t)(f->maker_price), 8);
    chi_put(&w, (uint64_t)(f->fee), 8);
    chi_put_f64(&w, f->delta);
    return w.bad ? 0 : w.n;
}

ch_err ch_fill_decode(const uint8_t *buf, size_t len, ch_fill *f)
{
    chi_rd r = {.p = buf, .len = len};
    if ((uint8_t)chi_get(&r, 1) != CH_COMMAND_VERSION)
        return CH_EBADREQ;
    memset(f, 0, sizeof *f);
    f->trade_id = chi_get(&r, 8);
    f->source = (ch_source)(uint8_t)chi_get(&r, 1);
    f->instr.v = (uint32_t)chi_get(&r, 4);
    f->taker_side = (ch_side)(uint8_t)chi_get(&r, 1);
    f->price = (int64_t)chi_get(&r, 8);
    f->qty = (int64_t)chi_get(&r, 8);
    f->taker.v = (uint32_t)chi_get(&r, 4);
    f->maker.v = (uint32_t)chi_get(&r, 4);
    f->taker_order.v = chi_get(&r, 8);
    f->maker_order.v = chi_get(&r, 8);
    f->maker_instr.v = (uint32_t)chi_get(&r, 4);
    f->maker_price = (int64_t)chi_get(&r, 8);
    f->fee = (int64_t)chi_get(&r, 8);
    f->delta = chi_get_f64(&r);
    if (r.bad || r.n != len || f->source > CH_SRC_POOL)
        return CH_EBADREQ;
    return CH_OK;
}
