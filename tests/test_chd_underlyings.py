#!/usr/bin/env python3
"""Many underlyings in one chd (issue 19), through the Python client.

- a fresh chd lists BTC and ETH (ETH with the Deribit chain's smile);
- fills in each underlying move only that underlying's hedge (its own perp,
  its own band), and `risk` / `hedge` answer per underlying, the version-1
  fields being the first underlying's;
- an account holding BTC and ETH options is margined per underlying, the
  worst losses added;
- `underlying.add` lists a new underlying at run time, with its own hedge
  policy, and both survive a kill -9 (the policy logged with the listing).

Usage: test_chd_underlyings.py CHD CHCTL LIBCHCLIENT   (run by ctest)
"""
import os
import shutil
import signal
import sys
import tempfile
import unittest

CHD, CHCTL, LIB = sys.argv[1:4]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chd_harness  # noqa: E402
from chd_harness import TEST_CLOCK, Daemon  # noqa: E402

chd_harness.configure(CHD, CHCTL, LIB)
chd_harness.watchdog(280)  # ctest stops it at 300 s
from chclient import ChError  # noqa: E402


def underlying(name, tick, strikes, index, band, smile=()):
    return {"name": name, "tick": tick, "strikes": strikes, "index": index,
            "smile": list(smile), "hedge_policy": "band", "hedge_band": band}


class Underlyings(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="chd-und-")
        self.d = None

    def tearDown(self):
        if self.d is not None:
            if self.d.proc is not None:
                self.c.close()
            self.d.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, config=None):
        # the fixed clock (chd_harness.TEST_CLOCK): replies compared across a
        # restart, fills at prices that depend on the days to expiry
        self.d = Daemon(self.tmp, "ipc", {"clock": TEST_CLOCK, **(config or {})})
        self.d.start()
        self.c = self.d.client()

    def restart(self, sig=signal.SIGKILL):
        self.c.close()
        self.d.stop(sig)
        self.d.start()
        self.c = self.d.client()

    def buy(self, account, sym, qty):
        q = self.c.quote(sym, "buy", qty)
        r = self.c.order_new(account, sym, "buy", qty, price=q["price"], tif="ioc")
        self.assertEqual(r["filled_qty"], qty, sym)

    def test_defaults_list_btc_and_eth(self):
        self.start()
        self.assertEqual(self.c.hello()["underlyings"], ["BTC", "ETH"])
        eth = self.c.instruments("ETH")
        self.assertEqual(len(eth), 4 * 9 * 2)
        self.assertTrue(all(i["tick"] == 0.05 and i["underlying"] == "ETH" for i in eth))
        self.assertEqual(sorted({i["strike"] for i in eth}), list(range(1800, 2700, 100)))
        btc = self.c.instruments("BTC")
        self.assertEqual(len(btc), 72)
        h = self.c.hedge()
        self.assertEqual(set(h["underlyings"]), {"BTC", "ETH"})
        self.assertEqual(h["underlyings"]["BTC"]["band"], 5)
        self.assertEqual(h["underlyings"]["ETH"]["band"], 200)
        self.assertEqual(h["underlyings"]["ETH"]["perp"], "ETH-PERP")
        # the smile: the 1,800 put is marked above the 2,300 call's vol
        q_wing = self.c.quote(next(i["symbol"] for i in eth if i["strike"] == 1800
                                   and i["type"] == "put"), "buy", 1)
        self.assertGreater(q_wing["price"], 0)

    def test_fills_move_only_their_own_hedge(self):
        self.start({"pool_max_notional": 5e7, "underlyings": [
            underlying("BTC", "0.5", [90000, 100000, 110000], 100000, 1),
            underlying("ETH", "0.05", [2000, 2200, 2400], 2222.2, 10,
                       smile=[0.76, 0.72, 0.71])]})
        c = self.c
        c.account_open("t", 5_000_000)
        btc_call = next(i["symbol"] for i in c.instruments("BTC") if i["strike"] == 100000
                        and i["type"] == "call")
        eth_call = next(i["symbol"] for i in c.instruments("ETH") if i["strike"] == 2200
                        and i["type"] == "call")
        self.buy("t", btc_call, 10)  # the house is short about 5 BTC of delta: band 1
        h = c.hedge()["underlyings"]
        self.assertGreater(h["BTC"]["position"], 1)  # bought perps back toward the band
        self.assertGreater(h["BTC"]["orders"], 0)
        self.assertEqual(h["ETH"]["position"], 0)
        self.assertEqual(h["ETH"]["orders"], 0)
        self.assertLessEqual(abs(h["BTC"]["house_delta"]), 1 + 1e-6)
        btc_pos = h["BTC"]["position"]
        self.buy("t", eth_call, 60)  # about 30 ETH of delta: band 10
        h = c.hedge()["underlyings"]
        self.assertGreater(h["ETH"]["position"], 10)
        self.assertLessEqual(abs(h["ETH"]["house_delta"]), 10 + 1e-6)
        self.assertEqual(h["BTC"]["position"], btc_pos)  # untouched by ETH's fills
        # risk per underlying: the version-1 fields are the first's
        r = c.risk()
        self.assertEqual({k: v for k, v in r.items() if k != "underlyings"}, c.risk("BTC"))
        self.assertEqual(dict(r["underlyings"]["ETH"], ok=True), c.risk("ETH"))
        self.assertLess(r["underlyings"]["ETH"]["totals"]["delta"], 0)
        self.assertEqual(r["underlyings"]["ETH"]["netting"]["hedged_delta"],
                         h["ETH"]["volume"])
        # an account with options on both is margined per underlying, summed
        c.account_open("both", 2_000_000)
        c.account_open("b_only", 2_000_000)
        c.account_open("e_only", 2_000_000)
        for who, sym, qty in (("both", btc_call, 1), ("both", eth_call, 20),
                              ("b_only", btc_call, 1), ("e_only", eth_call, 20)):
            q = c.quote(sym, "sell", qty)
            r = c.order_new(who, sym, "sell", qty, price=q["price"], tif="ioc")
            self.assertEqual(r["filled_qty"], qty)
        m = {a: c.positions(a)["margin"] for a in ("both", "b_only", "e_only")}
        self.assertAlmostEqual(m["both"], m["b_only"] + m["e_only"],
                               delta=1e-6 * m["both"])
        self.assertGreater(m["b_only"], 0)
        self.assertGreater(m["e_only"], 0)

    def test_underlying_add_survives_a_kill(self):
        self.start({"hedge_band": 1})
        c = self.c
        self.assertEqual(c.hello()["underlyings"], ["BTC", "ETH"])
        # checked: refused with a reason, nothing listed
        for bad, field in (({"tick": "0"}, "tick"), ({"strikes": [[0, 0.5]]}, "strike"),
                           ({"perp": "SOL-SWAP"}, "perp"), ({"index": 120.005}, "index"),
                           ({"hedge_policy": "sometimes"}, "hedge_policy")):
            req = dict({"underlying": "SOL", "tick": "0.01", "strikes": [[100, 0.9]],
                        "index": 120}, **bad)
            with self.assertRaises(ChError) as cm:
                c.call("underlying.add", **req)
            self.assertEqual(cm.exception.code, "BAD_REQUEST", field)
        self.assertEqual(c.hello()["underlyings"], ["BTC", "ETH"])
        r = c.call("underlying.add", underlying="SOL", tick="0.01",
                   strikes=[[100, 0.9], [120, 0], [140, 0.95]], index=120, vol=0.8,
                   hedge_policy="band", hedge_band=25, perp="SOL-PERP")
        self.assertEqual(r["instruments"], 4 * 3 * 2)
        self.assertEqual(r["hedge_band"], 25)
        with self.assertRaises(ChError) as cm:
            c.call("underlying.add", underlying="SOL", tick="0.01", strikes=[[100, 0]],
                   index=120)
        self.assertEqual(cm.exception.code, "BAD_REQUEST")
        sol = c.instruments("SOL")
        self.assertEqual(len(sol), 24)
        c.account_open("s", 1_000_000)
        call = next(i["symbol"] for i in sol if i["strike"] == 120 and i["type"] == "call")
        self.buy("s", call, 100)  # about 50 SOL of delta: past the band of 25
        h = c.hedge("SOL")
        self.assertEqual(h["band"], 25)
        self.assertGreater(h["position"], 0)
        self.assertEqual(c.hedge("BTC")["position"], 0)
        before = (h["position"], c.positions("s")["positions"])
        self.restart()
        self.assertEqual(self.c.hello()["underlyings"], ["BTC", "ETH", "SOL"])
        h2 = self.c.hedge("SOL")
        self.assertEqual(h2["band"], 25)  # logged with the listing, not in the config
        self.assertEqual((h2["position"], self.c.positions("s")["positions"]), before)
        self.assertEqual(len(self.c.instruments("SOL")), 24)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
