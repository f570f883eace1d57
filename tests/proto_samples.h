/*
 * proto_samples.h - for the protocol's tests: one request and one reply of
 * every message of the table (as chd and its clients send them).
 */
#ifndef CH_TEST_PROTO_SAMPLES_H
#define CH_TEST_PROTO_SAMPLES_H

#include <string.h>

/* One request and one reply of every message, as chd sends them. */
static const struct sample {
    const char *op, *req, *rep;
} k_samples[] = {
    {"hello", "{\"key\":\"k1\"}",
     "{\"version\":1,\"server\":\"chd\",\"underlyings\":[\"BTC\",\"ETH\"]}"},
    {"instruments", "{\"underlying\":\"BTC\"}",
     "{\"instruments\":[{\"symbol\":\"BTC-27NOV26-100000-C\",\"id\":3,\"underlying\":\"BTC\","
     "\"expiry\":\"2026-11-27T08:00:00.000Z\",\"strike\":100000,\"type\":\"call\",\"tick\":0.5,"
     "\"contract_size\":1},{\"symbol\":\"BTC-PERP\",\"id\":0,\"underlying\":\"BTC\","
     "\"expiry\":null,\"strike\":null,\"type\":\"perp\",\"tick\":0.5,\"contract_size\":1}]}"},
    {"instrument.add", "{\"symbol\":\"BTC-27NOV26-100000-C\",\"key\":\"admin\"}",
     "{\"symbol\":\"BTC-27NOV26-100000-C\",\"instrument_id\":72,\"underlying\":\"BTC\","
     "\"expiry\":\"2026-11-27T08:00:00.000Z\",\"strike\":100000,\"type\":\"call\",\"tick\":0.5,"
     "\"contract_size\":1}"},
    {"account.open", "{\"account\":\"alice\",\"cash\":2000000.5}",
     "{\"account\":\"alice\",\"cash\":2000000.5,\"key\":\"00ff\"}"},
    {"account.deposit", "{\"account\":\"alice\",\"amount\":\"-12.25\"}", "{\"cash\":1999988.25}"},
    {"pool.deposit", "{\"account\":\"lp\",\"amount\":1000,\"tranche\":1}",
     "{\"shares\":1000,\"nav_per_share\":1.0001}"},
    {"pool.withdraw", "{\"account\":\"lp\",\"shares\":10,\"tranche\":2}",
     "{\"cash\":10.5,\"nav_per_share\":1.05}"},
    {"pool.tranche.add",
     "{\"underlying\":\"BTC\",\"strike_lo\":90000,\"strike_hi\":\"95000\","
     "\"expiry_lo\":\"2026-12-25T08:00:00.000Z\",\"expiry_hi\":\"2026-12-25T08:00:00.000Z\"}",
     "{\"tranche\":1,\"account\":\"tranche#1\"}"},
    {"underlying.add",
     "{\"underlying\":\"SOL\",\"tick\":\"0.01\",\"contract_size\":1,\"min_price\":1,"
     "\"max_price\":10000000,\"expiries\":2,\"strikes\":[[100,0.9],[120,0]],\"index\":\"120\","
     "\"vol\":0.8,\"rate\":0.03,\"perp\":\"SOL-PERP\",\"hedge_policy\":\"band\","
     "\"hedge_band\":1000}",
     "{\"underlying\":\"SOL\",\"instruments\":8,\"perp\":\"SOL-PERP\",\"hedge_policy\":"
     "\"band\",\"hedge_band\":1000}"},
    {"account.transfer", "{\"account\":\"alice\",\"amount\":\"100.5\",\"to_shard\":\"eth\"}",
     "{\"transfer_id\":\"btc:42\",\"cash\":899.5}"},
    {"state.hash", "{}",
     "{\"seq\":2413,\"sha256\":"
     "\"5b3acf9235f5d8589a20b84e4ecb05ec71a0db3c6b77173c251f5dfb6341aa6b\","
     "\"bytes\":203314}"},
    {"pools", "{\"underlying\":\"BTC\"}",
     "{\"general\":{\"cash\":1000.5,\"inventory_value\":-20.25,\"house_share\":-3.5,"
     "\"nav\":976.75,\"shares\":1000000000,\"nav_per_share\":0.97675},"
     "\"tranches\":[{\"tranche\":1,\"underlying\":\"BTC\",\"strike_lo\":90000,"
     "\"strike_hi\":95000,\"expiry_lo\":null,\"expiry_hi\":null,\"account\":\"tranche#1\","
     "\"cash\":50,\"inventory_value\":-2,\"house_share\":0.5,\"nav\":48.5,\"shares\":5,"
     "\"nav_per_share\":9.7,\"worst_loss\":12,\"utilisation\":0.25,\"delta\":0.5}]}"},
    {"market.update",
     "{\"underlying\":\"BTC\",\"index\":101000,\"time\":\"2026-11-27T08:00:00.001Z\","
     "\"rate\":0.03,\"funding_rate\":0.0001,\"perp\":\"101050.5\","
     "\"iv\":{\"27NOV26\":0.55,\"BTC-27NOV26-100000-C\":0.5}}",
     "{\"seq\":123456}"},
    {"order.new",
     "{\"account\":\"alice\",\"symbol\":\"BTC-27NOV26-100000-C\",\"side\":\"buy\",\"qty\":2,"
     "\"type\":\"limit\",\"price\":2500.5,\"tif\":\"ioc\",\"post_only\":false,"
     "\"client_order_id\":\"a-1\",\"key\":\"k\"}",
     "{\"order_id\":\"18446744073709551615\",\"status\":\"partially_filled\",\"filled_qty\":1,"
     "\"remaining_qty\":1,\"fills\":[{\"trade_id\":\"9\",\"price\":2500.5,\"qty\":1,"
     "\"source\":\"net\"}]}"},
    {"order.batch",
     "{\"account\":\"alice\",\"orders\":[{\"symbol\":\"BTC-27NOV26-100000-C\",\"side\":\"buy\","
     "\"qty\":1,\"price\":\"50\"},{\"account\":\"bob\",\"symbol\":\"BTC-27NOV26-100000-P\","
     "\"side\":\"sell\",\"qty\":3,\"type\":\"market\"}]}",
     "{\"results\":[{\"ok\":true,\"order_id\":\"5\",\"status\":\"new\",\"filled_qty\":0,"
     "\"remaining_qty\":1,\"fills\":[]},{\"ok\":false,\"error\":{\"code\":\"BAD_QTY\","
     "\"message\":\"\\\"qty\\\" must be a positive whole number of contracts\"}}]}"},
    {"order.cancel", "{\"account\":\"alice\",\"order_id\":\"12345\"}",
     "{\"order_id\":\"12345\",\"status\":\"cancelled\",\"remaining_qty\":0,"
     "\"cancelled_qty\":3}"},
    {"order.replace", "{\"account\":\"alice\",\"order_id\":\"12345\",\"qty\":3,\"price\":99.5}",
     "{\"order_id\":\"12345\",\"status\":\"new\",\"filled_qty\":0,\"remaining_qty\":3,"
     "\"fills\":[]}"},
    {"orders", "{\"account\":\"alice\"}",
     "{\"orders\":[{\"order_id\":\"7\",\"symbol\":\"BTC-27NOV26-100000-C\",\"side\":\"buy\","
     "\"price\":100,\"remaining_qty\":5,\"filled_qty\":0,\"post_only\":true}]}"},
    {"book", "{\"symbol\":\"BTC-27NOV26-100000-C\",\"depth\":3}",
     "{\"bids\":[[100,5],[99.5,1]],\"asks\":[]}"},
    {"quote", "{\"symbol\":\"BTC-27NOV26-100000-C\",\"side\":\"sell\",\"qty\":2}",
     "{\"price\":2400.5,\"model\":2450.25,\"premium\":-49.75,\"vol\":0.6,\"max_qty\":2}"},
    {"positions", "{\"account\":\"house\"}",
     "{\"account\":\"house\",\"cash\":-1.5,\"reserved\":0,\"equity\":12.5,\"margin\":3,"
     "\"positions\":[{\"symbol\":\"BTC-27NOV26-100000-C\",\"qty\":-2,\"avg_price\":2500,"
     "\"mark\":2450.1,\"delta\":-1.02,\"gamma\":-0.0001,\"vega\":-80.5,\"theta\":40.25,"
     "\"realized\":0}]}"},
    {"risk", "{}",
     "{\"strikes\":[{\"expiry\":\"2026-11-27T08:00:00.000Z\",\"strike\":100000,\"delta\":0.5,"
     "\"gamma\":1e-05,\"vega\":10,\"gross_gamma\":2e-05,\"netted_gamma\":1e-05}],"
     "\"totals\":{\"delta\":0.5,\"gamma\":1e-05,\"vega\":10,\"theta\":-3},"
     "\"scenarios\":[{\"spot_shock\":-0.1,\"vol_shock\":\"up\",\"pnl\":-1234.5}],"
     "\"worst_loss\":-1234.5,\"netting\":{\"gross_delta\":4,\"hedged_delta\":1,\"ratio\":0.75,"
     "\"net_delta\":1,\"gross_gamma\":3e-05,\"netted_gamma\":1e-05}}"},
    {"hedge", "{}",
     "{\"policy\":\"band\",\"position\":-1.5,\"avg_price\":100010,\"fees\":75,\"slippage\":12.5,"
     "\"funding\":-0.5,\"basis_pnl\":3,\"realized\":-10,\"volume\":1.5,\"orders\":2,"
     "\"netting_ratio\":0.6,\"cost_per_1m_notional\":150}"},
    {"stats", "{}",
     "{\"requests\":10,\"errors\":2,\"orders\":5,\"fills\":{\"book\":1,\"net\":2,\"pool\":3},"
     "\"batches\":9,\"commits\":8,\"seq\":77,\"halted\":false}"},
};

static const struct sample *sample_of(const char *op)
{
    for (size_t i = 0; i < sizeof k_samples / sizeof k_samples[0]; i++)
        if (strcmp(k_samples[i].op, op) == 0)
            return &k_samples[i];
    return NULL;
}

#endif
