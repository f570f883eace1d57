#!/usr/bin/env python3
"""A protocol prototype driving netting through chd (Python standard library).

Four traders quote and take on both sides of several strikes, calls and puts,
of the nearest expiries; the clearinghouse fills each order from the book,
from parity netting against the other option type, or from the pool. The
script prints the fills by source, the residual inventory per strike, the
hedge book, and what netting saved.

The script acts as the operator: it reads chd's admin key from the data
folder (--data DIR, default ./var, as chd's default), opens the traders'
accounts with it, and sends each trader's orders with that trader's own key
(returned by account.open). With chd --no-auth no key is needed.

With --live RATE it then goes on trading, RATE orders a second, and moves
the index by a small random step every 10 seconds, until interrupted (the
flow behind `scripts/quickstart dashboard`).

Usage: demo_flow.py [REQ_URL] [--data DIR] [--orders N] [--seed N] [--live RATE]
"""
import os
import random
import sys
import time

from chclient import ChError, Client, admin_key


def tick(x):
    return max(0.5, round(x * 2) / 2)


def main():
    url = "tcp://127.0.0.1:7450"
    n_orders, seed = 600, 7
    data = "var"
    live = 0.0
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--orders":
            n_orders = int(args.pop(0))
        elif a == "--seed":
            seed = int(args.pop(0))
        elif a == "--data":
            data = args.pop(0)
        elif a == "--live":
            live = float(args.pop(0))
        else:
            url = a
    rnd = random.Random(seed)
    key = admin_key(data) if os.path.exists(os.path.join(data, "admin.key")) else None
    c = Client(url, key=key)
    hello = c.hello()
    print(f"connected to {hello.server} (protocol {hello.version}) at {url}")
    inst = [i for i in c.instruments("BTC") if i.type in ("call", "put")]
    expiries = sorted({i.expiry for i in inst})[:2]
    series = [i.symbol for i in inst if i.expiry in expiries and 85000 <= i.strike <= 115000]
    traders = ["alice", "bob", "carol", "dave"]
    clients = {}
    for t in traders:
        try:
            clients[t] = Client(url, key=c.account_open(t, 5_000_000).key)
        except ChError as e:
            if e.code != "BAD_REQUEST":  # exists from an earlier run: its key was shown then
                raise
            clients[t] = c  # the operator may act for it

    c.market_update("BTC", 100000, rate=0.03, funding_rate=0.0001, perp=100020)
    quotes = {}

    def requote():
        quotes.clear()
        for s in series:  # series where the pool quotes both sides (far wings may have no bid)
            try:
                quotes[s] = (c.quote(s, "buy", 1), c.quote(s, "sell", 1))
            except ChError:
                pass

    requote()
    series = sorted(quotes)
    print(f"{len(series)} series, {n_orders} orders from {len(traders)} traders\n")
    by_source = {"book": 0, "net": 0, "pool": 0}
    rejected = 0
    resting = []
    def step(k):
        nonlocal rejected
        if resting and rnd.random() < 0.1:
            acct, oid = resting.pop(rnd.randrange(len(resting)))
            try:
                clients[acct].order_cancel(acct, oid)
            except ChError:
                pass
            return
        s = rnd.choice(sorted(quotes))
        ask, bid = quotes[s][0].price, quotes[s][1].price
        mid, half = (ask + bid) / 2, (ask - bid) / 2
        side = rnd.choice(["buy", "sell"])
        off = half * (2.4 * rnd.random() - 0.9)  # mostly inside the pool's spread
        price = tick(mid + off if side == "buy" else mid - off)
        acct = rnd.choice(traders)
        try:
            r = clients[acct].order_new(acct, s, side, rnd.randint(1, 5), price=price,
                                        tif="ioc" if rnd.random() < 0.15 else "gtc",
                                        client_order_id=f"demo-{seed}-{k}")
        except ChError:
            rejected += 1
            return
        for f in r.fills:
            by_source[f.source] += f.qty
        if r.remaining_qty > 0:
            resting.append((acct, r.order_id))

    for k in range(n_orders):
        step(k)
    total = sum(by_source.values()) or 1
    print("Contracts filled by source:")
    for src, q in by_source.items():
        print(f"  {src:5} {q:6d} ({100 * q / total:4.1f}%)")
    risk = c.risk("BTC")
    print("\nResidual inventory of the house and the pool, per strike")
    print("(delta in BTC; gamma in BTC per 1 USD of spot; vega in USD per 1.00 of vol):")
    print(f"  {'expiry':10} {'strike USD':>10} {'delta':>10} {'gamma':>12} {'vega':>12}")
    for b in risk.strikes:
        if b.gross_gamma > 0:
            print(f"  {b.expiry[:10]:10} {b.strike:10.0f} {b.delta:10.3f} "
                  f"{b.gamma:12.6f} {b.vega:12.1f}")
    n = risk.netting
    print(f"\nNetting (gamma in BTC per 1 USD of spot): gamma traded {n.gross_gamma:.5f}, "
          f"netted internally {n.netted_gamma:.5f} "
          f"({100 * n.netted_gamma / (n.gross_gamma or 1):.1f}%)")
    print(f"  delta a trade-by-trade hedger would have sent: {n.gross_delta:.2f} BTC")
    h = c.hedge()
    print(f"  hedge orders sent by the house ({h.policy}): {h.orders}, volume "
          f"{h.volume:.2f} BTC, position {h.position:.2f} BTC")
    print(f"  netting ratio (1 - hedge volume / gross delta): {h.netting_ratio:.3f}")
    print(f"  hedge costs: fees {h.fees:.0f} USD, slippage {h.slippage:.0f} USD, "
          f"funding {h.funding:.0f} USD")
    print(f"  residual totals: delta {risk.totals.delta:.2f} BTC, vega {risk.totals.vega:.0f} USD "
          f"per 1.00 of vol; worst scenario loss {risk.worst_loss:.0f} USD")
    print(f"  {rejected} orders rejected")
    if live > 0:
        print(f"\ntrading on, {live:g} orders a second (Ctrl-C stops)", flush=True)
        index, k, moved = 100000.0, n_orders, time.monotonic()
        try:
            while True:
                if time.monotonic() - moved >= 10:
                    index = round(index * (1 + rnd.gauss(0, 0.002)) * 2) / 2
                    c.market_update("BTC", index, rate=0.03, funding_rate=0.0001,
                                    perp=index + 20)
                    requote()
                    moved = time.monotonic()
                if quotes:
                    step(k)
                k += 1
                time.sleep(1 / live)
        except KeyboardInterrupt:
            pass
    for t in {id(x): x for x in clients.values()}.values():
        if t is not c:
            t.close()
    c.close()


if __name__ == "__main__":
    main()
