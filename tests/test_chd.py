#!/usr/bin/env python3
"""Integration tests of chd through its clients (Python standard library only).

Starts chd on ipc:// and on tcp://127.0.0.1 (a free port) in temporary data
directories and drives the protocol through the Python client (ctypes over
libchclient), chctl and nngcat: every op, every error code that a client can
provoke, restart recovery (clean stop and kill -9), 32 concurrent clients
whose acknowledged work must add up to the final state, access keys (admin,
account, none, --no-auth) and the resource bounds (rates, open orders,
clients, request size and depth).

Every typed call of libchclient runs too, in JSON and in binary, through
test_client (a C program: tests/test_client.c).

Usage: test_chd.py CHD CHCTL LIBCHCLIENT TEST_CLIENT   (run by ctest)
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

CHD, CHCTL, LIB, TEST_CLIENT = sys.argv[1:5]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chd_harness  # noqa: E402
from chd_harness import TEST_CLOCK, Daemon  # noqa: E402

chd_harness.configure(CHD, CHCTL, LIB)
chd_harness.watchdog(280)  # ctest stops it at 300 s
from chclient import (ChError, Client, Subscriber, TransportError,  # noqa: E402
                      decode_batch_reply, encode_batch)

NNGCAT = shutil.which("nngcat")


def tick(x):
    """Round a price to the default underlying's 0.5 tick."""
    return round(x * 2) / 2


class Base(unittest.TestCase):
    transport = "ipc"
    config = {"pool_max_notional": 3e6}

    @classmethod
    def chd_config(cls, **more):
        """The class's config, on the fixed clock (TEST_CLOCK): no batch
        steps it, so the log, and so state.hash, stays where a test left it."""
        return {"clock": TEST_CLOCK, **(cls.config or {}), **more}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="chd-test-")
        cls.d = Daemon(cls.tmp, cls.transport, cls.chd_config())
        cls.d.start()
        cls.c = cls.d.client()
        cls.syms = [i["symbol"] for i in cls.c.instruments()]
        cls.call = next(s for s in cls.syms if s.endswith("-100000-C"))
        cls.put = cls.call[:-1] + "P"

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        if cls.d.proc is not None:
            cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def code(self, fn, *a, **k):
        with self.assertRaises(ChError) as cm:
            fn(*a, **k)
        return cm.exception.code

    def restart(self, **cfg):
        """kill -9, then a start with the class's config and @p cfg: its stats."""
        with open(self.d.config, "w") as f:
            json.dump(self.chd_config(**cfg), f)
        self.c.close()
        self.d.stop(signal.SIGKILL)
        self.d.start()
        type(self).c = self.d.client()
        return self.c.stats()

    def raw(self, text):
        """A hand-written request; a JSON object gets the admin key added."""
        if text.startswith('{"op"'):
            text = '{"key":"%s",%s' % (self.d.key, text[1:])
        return json.loads(self.c.raw(text))


class Protocol(Base):
    def test_00_ops(self):
        h = self.c.hello()
        self.assertEqual(h["version"], 1)
        self.assertRegex(h["software"], r"^\d+\.\d+\.\d+$")  # chd --version's
        self.assertIn("BTC", h["underlyings"])
        inst = self.c.instruments("BTC")
        self.assertGreaterEqual(len(inst), 72)
        for i in inst:
            self.assertLessEqual({"symbol", "underlying", "expiry", "strike", "type", "tick",
                                  "contract_size"}, set(i))
        a = self.c.account_open("alice", 2_000_000)
        self.assertEqual((a["account"], a["cash"]), ("alice", 2_000_000))
        self.assertTrue(a["key"])
        self.c.account_open("bob", 2_000_000)
        q = self.c.quote(self.call, "buy", 2)
        self.assertGreater(q["price"], q["model"])
        self.assertEqual(set(q) - {"ok"}, {"price", "model", "premium", "hedge_cost", "vol", "max_qty"})
        # bob offers the put; alice's call buy nets against it through parity
        r = self.c.order_new("bob", self.put, "sell", 3, price=tick(q["model"] - 20), client_order_id="b1")
        self.assertEqual(r["status"], "new")
        book = self.c.book(self.put)
        self.assertEqual(book["asks"][0][1], 3)
        r = self.c.order_new("alice", self.call, "buy", 2, price=q["price"] + 500, tif="ioc")
        self.assertEqual(r["status"], "filled")
        self.assertEqual(r["fills"][0]["source"], "net")
        self.assertIsInstance(r["order_id"], str)
        self.assertIsInstance(r["fills"][0]["trade_id"], str)
        # an order that rests, replaced and cancelled
        r = self.c.order_new("alice", self.call, "buy", 5, price=100)
        oid = r["order_id"]
        self.assertEqual([o["order_id"] for o in self.c.orders("alice")], [oid])
        r = self.c.order_replace("alice", oid, qty=3)
        self.assertEqual(r["remaining_qty"], 3)
        r = self.c.order_cancel("alice", oid)
        self.assertEqual(r["status"], "cancelled")
        self.assertEqual(self.c.orders("alice"), [])
        # batch: independent orders
        res = self.c.order_batch("alice", [
            {"symbol": self.call, "side": "buy", "qty": 1, "price": 50},
            {"symbol": "BTC-1JAN20-1-C", "side": "buy", "qty": 1, "price": 50},
            {"symbol": self.call, "side": "buy", "qty": 0, "price": 50}])
        self.assertEqual([x["ok"] for x in res], [True, False, False])
        self.assertEqual(res[1]["error"]["code"], "UNKNOWN_SYMBOL")
        self.assertEqual(res[2]["error"]["code"], "BAD_QTY")
        p = self.c.positions("alice")
        self.assertEqual(p["positions"][0]["symbol"], self.call)
        self.assertEqual(p["positions"][0]["qty"], 2)
        risk = self.c.risk()
        self.assertEqual(set(risk) - {"ok"}, {"strikes", "totals", "scenarios", "netting",
                                              "worst_loss", "limits", "underlyings"})
        self.assertEqual(risk["limits"]["pool_max_gamma_strike"], 10)  # the config's default
        self.assertEqual(risk["limits"]["house_delta_limit"], 0)
        self.assertGreater(risk["netting"]["gross_delta"], 0)
        # the ratio's baseline is the dealer's: every customer leg, so at least the taker legs
        self.assertEqual(risk["netting"]["baseline"], "dealer")
        self.assertGreaterEqual(risk["netting"]["dealer_delta"], risk["netting"]["gross_delta"])
        self.assertLessEqual(risk["netting"]["ratio"], 1)
        self.assertGreaterEqual(risk["netting"]["ratio"], 0)
        hedge = self.c.hedge()
        for k in ("position", "avg_price", "fees", "slippage", "funding", "orders",
                  "house_delta"):
            self.assertIn(k, hedge)
        with self.assertRaises(ChError) as cm:  # one hedger per underlying, by name
            self.c.hedge("DOGE")
        self.assertEqual(cm.exception.code, "UNKNOWN_SYMBOL")
        st = self.c.stats()
        self.assertGreaterEqual(st["fills"]["net"], 1)
        # the house, pool and fee accounts answer positions
        for acct in ("house", "pool", "fees"):
            self.c.positions(acct)
        # market data: index, vol by expiry and by symbol, funding
        exp = self.call.split("-")[1]
        self.assertIn("seq", self.c.market_update("BTC", 101000, iv={exp: 0.55},
                                                  funding_rate=0.0001, perp=101050))
        self.c.market_update("BTC", 101000, iv={self.call: 0.5})

    def test_01_idempotency(self):
        self.c.account_open("carol", 1_000_000)
        r1 = self.c.order_new("carol", self.call, "buy", 1, price=60, client_order_id="same")
        r2 = self.c.order_new("carol", self.call, "buy", 1, price=60, client_order_id="same")
        self.assertEqual(r1["order_id"], r2["order_id"])
        self.assertEqual(len(self.c.orders("carol")), 1)

    def test_02_error_codes(self):
        c = self.c
        self.c.account_open("dave", 1000)
        self.c.account_open("erin", 5_000_000)
        e = lambda t: self.raw(t)["error"]["code"]  # noqa: E731
        self.assertEqual(e("not json"), "BAD_REQUEST")
        self.assertEqual(e("[1,2]"), "BAD_REQUEST")
        self.assertEqual(e('{"op":"hello"} trailing'), "BAD_REQUEST")
        self.assertEqual(e('{"id":1}'), "BAD_REQUEST")
        self.assertEqual(e('{"op":"order.new","account":"dave"}'), "BAD_REQUEST")
        self.assertEqual(e('{"op":"x","a":' + "[" * 40 + "]" * 40 + "}"), "BAD_REQUEST")
        self.assertEqual(self.raw('{"op":"nope","id":"x7"}')["id"], "x7")
        self.assertEqual(e('{"op":"nope"}'), "UNKNOWN_OP")
        self.assertEqual(self.code(c.order_new, "erin", "BTC-1JAN99-1-X", "buy", 1, price=1),
                         "UNKNOWN_SYMBOL")
        self.assertEqual(self.code(c.book, "BTC-27NOV26-1234-C"), "UNKNOWN_SYMBOL")
        self.assertEqual(self.code(c.order_new, "erin", self.call, "buy", 1, price=10.25),
                         "BAD_PRICE")
        self.assertEqual(self.code(c.order_new, "erin", self.call, "buy", 1, price=-5), "BAD_PRICE")
        self.assertEqual(self.code(c.order_new, "erin", self.call, "buy", 1.5, price=10), "BAD_QTY")
        self.assertEqual(self.code(c.order_new, "erin", self.call, "buy", -2, price=10), "BAD_QTY")
        self.assertEqual(self.code(c.order_cancel, "erin", "12345"), "UNKNOWN_ORDER")
        r = c.order_new("erin", self.call, "buy", 1, price=10)
        self.assertEqual(self.code(c.order_cancel, "dave", r["order_id"]), "NOT_OWNER")
        self.assertEqual(self.code(c.order_new, "dave", self.call, "buy", 50, price=5000),
                         "INSUFFICIENT_FUNDS")
        self.assertEqual(self.code(c.order_new, "dave", self.call, "sell", 50, price=5000),
                         "INSUFFICIENT_MARGIN")
        q = c.quote(self.call, "buy", 1)
        self.assertEqual(self.code(c.order_new, "erin", self.call, "buy", 1,
                                   price=q["price"] + 100, post_only=True), "POST_ONLY_WOULD_TRADE")
        self.assertEqual(self.code(c.order_new, "erin", self.put, "buy", 100000, price=1,
                                   tif="fok"), "FOK_NOT_FILLED")
        # erin's own offer, just above the pool's bid (so it rests) and below any
        # other offer (so it is the best): her buy would meet only herself
        pool_bid = c.quote(self.put, "sell", 1)["price"]
        asks = c.book(self.put)["asks"]
        mine = pool_bid + 0.5
        self.assertTrue(not asks or mine < asks[0][0])
        self.assertEqual(c.order_new("erin", self.put, "sell", 1, price=mine)["status"], "new")
        self.assertEqual(self.code(c.order_new, "erin", self.put, "buy", 1, price=mine),
                         "SELF_TRADE")
        self.assertEqual(self.code(c.order_new, "nobody", self.call, "buy", 1, price=10),
                         "UNAUTHORIZED")
        self.assertEqual(self.code(c.positions, "nobody"), "UNAUTHORIZED")
        # the pool at its notional limit (3M in this test's config)
        big = c.quote(self.call, "sell", 1000)
        self.assertLess(big["max_qty"], 1000)
        c.order_new("erin", self.call, "sell", big["max_qty"], price=1, tif="ioc")
        self.assertEqual(self.code(c.quote, self.call, "sell", 1), "RISK_LIMIT")
        # oversize: up to twice the 1 MiB limit an error reply; far beyond it the
        # transport drops the connection (a throwaway client), and the server
        # carries on
        self.assertEqual(e('{"op":"hello","pad":"' + "x" * 1_100_000 + '"}'), "BAD_REQUEST")
        big = Client(self.d.req, timeout_ms=1000)
        with self.assertRaises(TransportError):
            big.raw('{"op":"hello","pad":"' + "x" * 3_000_000 + '"}')
        c.hello()

    def fred_buys_one(self):
        """After a subscriber's connection settles: fred buys a call from the pool."""
        time.sleep(0.3)
        q = self.c.quote(self.call, "buy", 1)
        self.c.order_new("fred", self.call, "buy", 1, price=q["price"], tif="ioc")

    def test_03_events(self):
        self.c.account_open("fred", 1_000_000)
        # chctl watch: the same events on stdout, until the count is reached
        watch = subprocess.Popen([CHCTL, "--pub", self.d.pub, "watch", "fill.fred", "1"],
                                 stdout=subprocess.PIPE, text=True)
        with Subscriber(self.d.pub, "fill.fred") as sub:
            self.fred_buys_one()
            ev = sub.recv(3000)
            self.assertIsNotNone(ev)
            topic, body = ev
            self.assertEqual(topic, "fill.fred")
            self.assertEqual(body["taker"], "fred")
            self.assertIn(body["source"], ("book", "net", "pool"))
        # every event is numbered: event_seq counts within an epoch, so that a
        # subscriber of everything sees consecutive numbers (or a gap)
        with Subscriber(self.d.pub, "") as sub:
            self.fred_buys_one()
            seen = []
            while (ev := sub.recv(500)) is not None:
                seen.append(ev[1])
            self.assertGreaterEqual(len(seen), 2)
            seqs = [b["event_seq"] for b in seen]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
            self.assertEqual({b["epoch"] for b in seen}, {seen[0]["epoch"]})
            self.assertGreater(seen[0]["epoch"], 0)
        # the risk topic: the risk reply's fields of the underlying a batch moved
        with Subscriber(self.d.pub, "risk") as sub:
            self.fred_buys_one()
            ev = sub.recv(3000)
            self.assertIsNotNone(ev)
            topic, body = ev
            self.assertEqual((topic, body["underlying"]), ("risk", "BTC"))
            now = self.c.call("risk", underlying="BTC")
            for k in ("totals", "strikes", "netting"):
                self.assertEqual(body[k], now[k], k)
        for _ in range(20):  # until chctl, which may have started late, has seen one
            if watch.poll() is not None:
                break
            self.fred_buys_one()  # (a fresh quote: this test holds none)
            time.sleep(0.2)
        out, _ = watch.communicate(timeout=10)
        self.assertEqual(watch.returncode, 0)
        self.assertTrue(out.startswith("fill.fred {"), out)

    @unittest.skipIf(NNGCAT is None, "nngcat (nng-utils) not installed")
    def test_04_nngcat(self):
        out = subprocess.run([NNGCAT, "--req0", "--dial", self.d.req, "--ascii", "--recv-timeout",
                              "3", "--data", '{"op":"hello","id":42}'],
                             capture_output=True, text=True, timeout=10).stdout
        r = json.loads(out)
        self.assertEqual((r["ok"], r["id"], r["version"]), (True, 42, 1))
        out = subprocess.run([NNGCAT, "--req0", "--dial", self.d.req, "--ascii", "--recv-timeout",
                              "3", "--data", "{oops"], capture_output=True, text=True,
                             timeout=10).stdout
        self.assertEqual(json.loads(out)["error"]["code"], "BAD_REQUEST")

    def test_05_chctl(self):
        r = subprocess.run([CHCTL, "--url", self.d.req, "--data", self.d.dir, "--json",
                            "positions", "alice"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(json.loads(r.stdout)["ok"])
        r = subprocess.run([CHCTL, "--url", self.d.req, "--key", "k123", "--json", "hello"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(json.loads(r.stdout)["version"], 1)  # a public op: any key will do
        r = subprocess.run([CHCTL, "--url", self.d.req, "book", self.call], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn("bid", r.stdout)
        # human output of any other reply: key/value lines, lists of objects as tables
        r = subprocess.run([CHCTL, "--url", self.d.req, "--data", self.d.dir, "stats"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"(?m)^requests +[0-9]+$")
        self.assertRegex(r.stdout, r"(?m)^fills\.pool +[0-9]+$")
        r = subprocess.run([CHCTL, "--url", self.d.req, "instruments"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"(?m)^instruments:\n +symbol +id +underlying")
        self.assertIn(self.call, r.stdout)
        r = subprocess.run([CHCTL, "--url", self.d.req, "order", "new", "--account", "nobody",
                            "--symbol", self.call, "--side", "buy", "--qty", "1", "--price", "5"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAUTHORIZED", r.stderr)

    def test_08_metrics(self):
        """chctl metrics: Prometheus' text format, with the read-only key, and
        the same numbers as the replies."""
        import re
        self.c.account_open("metrics-a", 1_000_000)
        q = self.c.quote(self.call, "buy", 1)
        self.c.order_new("metrics-a", self.call, "buy", 1, price=q["price"] + 100, tif="ioc")
        ro = os.path.join(self.d.dir, "readonly.key")
        r = subprocess.run([CHCTL, "--url", self.d.req, "--key-file", ro, "metrics"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        st, risk, hedge = self.c.stats(), self.c.risk(), self.c.hedge()
        samples, typed = {}, set()
        line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"\})? '
                             r'(-?[0-9.e+-]+|NaN|[+-]Inf)$')
        for line in r.stdout.splitlines():
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                self.assertIn(kind, ("counter", "gauge", "untyped"))
                self.assertNotIn(name, typed)  # one family, once
                typed.add(name)
                continue
            if line.startswith("# HELP "):
                continue
            m = line_re.match(line)
            self.assertIsNotNone(m, line)
            self.assertIn(m.group(1), typed, "a sample before its TYPE")
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        for src in ("book", "net", "pool"):
            self.assertEqual(samples['ch_fills_total{source="%s"}' % src], st["fills"][src])
        self.assertGreater(sum(st["fills"].values()), 0)
        self.assertLessEqual(samples["ch_batches_total"], st["batches"])  # counted on
        self.assertGreater(samples["ch_batches_total"], 0)
        self.assertAlmostEqual(samples['ch_residual_delta{underlying="BTC"}'],
                               risk["totals"]["delta"], places=9)
        self.assertAlmostEqual(samples['ch_netting_ratio{underlying="BTC"}'],
                               risk["netting"]["ratio"], places=12)
        self.assertAlmostEqual(samples['ch_hedge_position{underlying="BTC"}'], hedge["position"],
                               places=9)
        self.assertIn('ch_residual_vega_usd{underlying="ETH"}', samples)
        self.assertEqual(samples["ch_pool_nav_per_share_usd"],
                         self.c.pools()["general"]["nav_per_share"])

    def test_07_binary_batch(self):
        self.c.account_open("gina", 3_000_000)
        ids = {i["symbol"]: i["id"] for i in self.c.instruments()}
        q = self.c.quote(self.call, "buy", 1)
        ask_ticks = int(round(q["price"] * 2))
        msg = encode_batch("gina", [
            {"instr": ids[self.call], "side": "buy", "qty": 1, "price_ticks": ask_ticks,
             "tif": "ioc", "client_order_id": "g1"},
            {"instr": ids[self.call], "side": "buy", "qty": 0, "price_ticks": 10},
            {"instr": 99999, "side": "buy", "qty": 1, "price_ticks": 10},
            {"instr": ids[self.put], "side": "buy", "qty": 2, "price_ticks": 3}], req_id=77)
        rid, err, res = decode_batch_reply(self.c.raw_bytes(msg))
        self.assertEqual((rid, err, len(res)), (77, 0, 4))
        self.assertEqual(res[0]["error"], 0)
        self.assertEqual(res[0]["filled"], 1)
        self.assertGreaterEqual(len(res[0]["fills"]), 1)
        self.assertEqual(res[1]["error"], 5)   # BAD_QTY
        self.assertEqual(res[2]["error"], 3)   # UNKNOWN_SYMBOL
        self.assertEqual(res[3]["remaining"], 2)
        # the same client order id in JSON: the original result, no new order
        r = self.c.order_new("gina", self.call, "buy", 1, price=q["price"], tif="ioc",
                             client_order_id="g1")
        self.assertEqual(int(r["order_id"]), res[0]["order_id"])
        self.assertEqual(self.c.positions("gina")["positions"][0]["qty"], 1)
        # a malformed binary message and an unknown account
        rid, err, res = decode_batch_reply(self.c.raw_bytes(b"CH\x01\x01garbage"))
        self.assertEqual(err, 1)  # BAD_REQUEST
        rid, err, res = decode_batch_reply(self.c.raw_bytes(encode_batch("nobody", [
            {"instr": 0, "side": "buy", "qty": 1, "price_ticks": 1}])))
        self.assertEqual(err, 15)  # UNAUTHORIZED

    def test_06_restart_recovers(self):
        before = {a: self.c.positions(a) for a in ("alice", "bob", "pool", "house")}
        orders = self.c.orders("bob")
        hedge = self.c.hedge()
        # SIGHUP is logged and ignored: the same process answers, state intact
        pid = self.d.proc.pid
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(os.path.join(self.tmp, "chd.log")) as f:
                if "sighup_ignored" in f.read():
                    break
            time.sleep(0.02)
        else:
            self.fail("no sighup_ignored line in chd's log")
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(self.d.proc.pid, pid)
        self.assertEqual(self.c.orders("bob"), orders)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            self.c.close()
            self.d.stop(sig)
            self.d.start()
            type(self).c = self.d.client()
            for a, p in before.items():
                now = self.c.positions(a)
                self.assertEqual(now["cash"], p["cash"], a)
                self.assertEqual([(x["symbol"], x["qty"]) for x in now["positions"]],
                                 [(x["symbol"], x["qty"]) for x in p["positions"]], a)
            self.assertEqual(self.c.orders("bob"), orders)
            h = self.c.hedge()  # the hedge book is replayed from the logged hedge fills
            for k in ("position", "avg_price", "fees", "slippage", "orders", "volume"):
                self.assertAlmostEqual(h[k], hedge[k], places=6, msg=k)
            # the house delta is the options' (which move with the clock) plus
            # the replayed position
            net = self.c.risk()["netting"]["net_delta"]
            self.assertAlmostEqual(h["house_delta"], net + h["position"], places=9)
            one = self.c.hedge("BTC")
            self.assertEqual(one, {k: v for k, v in h.items() if k != "underlyings"})
            self.assertEqual(dict(h["underlyings"]["BTC"], ok=True), one)
            # the client order id index survived too
            r = self.c.order_new("bob", self.put, "sell", 3, price=1, client_order_id="b1")
            self.assertEqual(r["status"], "new")
            self.assertEqual(len(self.c.orders("bob")), len(orders))


class TypedClient(unittest.TestCase):
    """libchclient's typed calls, each encoding against its own fresh chd (JSON
    over ipc://, binary over tcp://): every op, and every error code a client
    can provoke as its ch_err."""

    def test_typed_calls_json_and_binary(self):
        for mode, transport in (("json", "ipc"), ("binary", "tcp")):
            tmp = tempfile.mkdtemp(prefix="chd-typed-")
            # no hedge cost in the prices: a parity fill leaves the house a
            # whole delta where the pool's call leaves about half, so with the
            # default costs whether alice's call nets against bob's put at
            # model - 20 depends on the days left to expiry; and the fixed
            # clock, so that those days do not depend on the day the suite runs
            d = Daemon(tmp, transport, {"pool_max_notional": 3e6, "hedge_fee_bps": 0,
                                        "hedge_impact_bps": 0, "clock": TEST_CLOCK})
            d.start()
            try:
                r = subprocess.run([TEST_CLIENT, d.req, mode, d.key], capture_output=True,
                                   text=True, timeout=120)
                self.assertEqual(r.returncode, 0, f"{mode}: {r.stdout}{r.stderr}")
                self.assertIn("checks passed", r.stdout)
                with d.client() as c:  # the binary requests were counted like any other
                    self.assertGreater(c.stats()["requests"], 60)
            finally:
                d.stop()
                d.log.close()
                shutil.rmtree(tmp, ignore_errors=True)


class Startup(unittest.TestCase):
    def test_bad_config_stops_the_start(self):
        tmp = tempfile.mkdtemp(prefix="chd-cfg-")
        try:
            cfg = os.path.join(tmp, "bad.json")
            with open(cfg, "w") as f:
                json.dump({"netting": True, "no_such_key": 1}, f)
            r = subprocess.run([CHD, "--config", cfg, "--data", os.path.join(tmp, "var"),
                                "--req", f"ipc://{tmp}/r.ipc", "--pub", f"ipc://{tmp}/p.ipc"],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 2)
            self.assertIn("no_such_key", r.stderr)
            with open(cfg, "w") as f:
                json.dump({"durability": "sometimes"}, f)
            r = subprocess.run([CHD, "--config", cfg], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 2)
            self.assertIn("durability", r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_chctl_waits_for_chd(self):
        """chctl --wait retries a refused connection until chd listens; without
        it a refused connection fails at once, with the hint."""
        tmp = tempfile.mkdtemp(prefix="chd-wait-")
        d = Daemon(tmp)
        try:
            t0 = time.monotonic()
            r = subprocess.run([CHCTL, "--url", d.req, "hello"], capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(r.returncode, 3)
            self.assertIn("--wait SECONDS", r.stderr)
            self.assertLess(time.monotonic() - t0, 5)
            waiting = subprocess.Popen([CHCTL, "--wait", "60", "--url", d.req, "--json", "hello"],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1)
            self.assertIsNone(waiting.poll())  # still waiting: nothing listens yet
            d.start()
            out, err = waiting.communicate(timeout=30)
            self.assertEqual(waiting.returncode, 0, err)
            self.assertEqual(json.loads(out)["server"], "chd")
            d.stop()
            t0 = time.monotonic()  # the time is up: the refusal, after about a second
            r = subprocess.run([CHCTL, "--wait", "1", "--url", d.req, "hello"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 3)
            self.assertGreaterEqual(time.monotonic() - t0, 1)
        finally:
            d.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_expiry_settles_and_refuses(self):
        tmp = tempfile.mkdtemp(prefix="chd-exp-")
        d = Daemon(tmp)
        d.start()
        try:
            with d.client() as c:
                inst = [i for i in c.instruments() if i["type"] == "call"]
                first = min(i["expiry"] for i in inst)
                sym = next(i["symbol"] for i in inst if i["expiry"] == first and i["strike"] == 90000)
                c.account_open("holder", 1_000_000)
                q = c.quote(sym, "buy", 1)
                c.order_new("holder", sym, "buy", 1, price=q["price"], tif="ioc")
                cash0 = c.positions("holder")["cash"]
                # the index at expiry: 101000, so the 90000 call pays 11000
                c.market_update("BTC", 101000, time=first.replace(".000Z", ".001Z"))
                with self.assertRaises(ChError) as cm:
                    c.order_new("holder", sym, "buy", 1, price=q["price"])
                self.assertEqual(cm.exception.code, "EXPIRED")
                self.assertNotIn(sym, [i["symbol"] for i in c.instruments()])
                p = c.positions("holder")
                self.assertEqual(p["positions"], [])
                self.assertAlmostEqual(p["cash"] - cash0, 11000, places=6)
        finally:
            d.stop()
            shutil.rmtree(tmp, ignore_errors=True)


    def test_fixed_clock_repeats(self):
        """config clock: a fixed clock lists the same series and gives the same
        marks whenever it runs; the wall clock does not move it, and
        market.update's time still does."""
        start = "2026-01-02T08:00:00Z"
        seen = []
        for run in range(2):
            tmp = tempfile.mkdtemp(prefix="chd-clock-")
            d = Daemon(tmp, config={"clock": start})
            d.start()
            try:
                with d.client() as c:
                    inst = c.instruments("BTC")
                    first = min(i["expiry"] for i in inst if i["type"] == "call")
                    self.assertTrue(start < first < "2026-02-02", first)
                    sym = next(i["symbol"] for i in inst
                               if i["expiry"] == first and i["strike"] == 100000
                               and i["type"] == "call")
                    c.account_open("a", 1_000_000)
                    q = c.quote(sym, "buy", 2)
                    c.order_new("a", sym, "buy", 2, price=q["price"], tif="ioc")
                    if run == 0:
                        time.sleep(1.2)  # the wall clock moves; chd's does not
                    q2 = c.quote(sym, "buy", 2)
                    risk = c.risk("BTC")["totals"]
                    seen.append((sorted(i["symbol"] for i in inst), q["price"], q2["price"],
                                 risk))
                    c.market_update("BTC", 100000, time=first.replace(".000Z", ".001Z"))
                    self.assertNotIn(sym, [i["symbol"] for i in c.instruments("BTC")])
            finally:
                d.stop()
                d.log.close()
                shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(seen[0], seen[1])
        r = subprocess.run([CHD, "--clock", "2026-13-01T00:00:00Z", "--print-config"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("clock", r.stderr)


class Demo(unittest.TestCase):
    def test_demo_prints_the_readme_excerpt(self):
        """scripts/quickstart demo's flow (demo_flow.py against chd on a fixed
        clock) prints exactly the output the README shows."""
        readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")
        with open(readme) as f:
            text = f.read()
        want = text.split("<!-- demo output -->\n```\n", 1)[1].split("```\n<!-- end", 1)[0]
        tmp = tempfile.mkdtemp(prefix="chd-demo-")
        d = Daemon(tmp, config={"clock": "2026-01-02T08:00:00Z"})
        d.start()
        try:
            demo = os.path.join(os.path.dirname(readme), "clients", "python", "demo_flow.py")
            r = subprocess.run([sys.executable, demo, d.req, "--data", d.dir],
                               capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, CH_CLIENT_LIB=LIB))
            self.assertEqual(r.returncode, 0, r.stderr)
            got = r.stdout.replace(d.req, "tcp://127.0.0.1:7450")
            self.assertEqual(got, want)
        finally:
            d.stop()
            d.log.close()
            shutil.rmtree(tmp, ignore_errors=True)


class Concurrency(Base):
    transport = "tcp"
    config = None

    def test_32_clients(self):
        n_clients, per = 32, 40
        names = [f"t{i}" for i in range(n_clients)]
        keys = [self.c.account_open(n, 5_000_000)["key"] for n in names]
        q = self.c.quote(self.call, "buy", 1)
        mid = q["model"]
        acked, answered, errors = [], [0] * n_clients, []
        lock = threading.Lock()

        def worker(k):
            try:
                with Client(self.d.req, timeout_ms=20000, key=keys[k]) as c:
                    for j in range(per):
                        side = "buy" if (j + k) % 2 else "sell"
                        sym = self.call if j % 3 else self.put
                        px = round((mid + (30 if side == "buy" else -30) * ((j % 5) - 2)) * 2) / 2
                        coid = f"{k}-{j}"
                        try:
                            r = c.order_new(names[k], sym, side, 1 + j % 3, price=px,
                                            client_order_id=coid,
                                            tif="ioc" if j % 4 == 0 else "gtc")
                        except ChError as e:  # a business reject is an answer too
                            assert e.code in ("SELF_TRADE", "INSUFFICIENT_MARGIN",
                                              "INSUFFICIENT_FUNDS", "RISK_LIMIT"), e.code
                            r = {"fills": [], "order_id": None}
                        if j % 10 == 0 and r["order_id"] is not None:
                            # a resend: the same answer, no new order
                            r2 = c.order_new(names[k], sym, side, 1 + j % 3, price=px,
                                             client_order_id=coid)
                            assert r2["order_id"] == r["order_id"]
                        with lock:
                            acked.append((names[k], sym, side, r))
                            answered[k] += 1
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(answered, [per] * n_clients)
        # every account's position = the sum of its acknowledged fills as taker,
        # plus what it received as maker (from the other orders' fills)
        pos = {}
        for acct, sym, side, r in acked:
            for f in r["fills"]:
                pos[(acct, sym)] = pos.get((acct, sym), 0) + (f["qty"] if side == "buy" else -f["qty"])
        totals = {}
        for n in names + ["house", "pool", "fees", "lp"]:
            for p in self.c.positions(n)["positions"]:
                totals[p["symbol"]] = totals.get(p["symbol"], 0) + p["qty"]
        self.assertTrue(all(v == 0 for v in totals.values()), totals)
        # takers' fills are a lower bound of the positions: makers add theirs
        fills = sum(len(r["fills"]) for _, _, _, r in acked)
        self.assertGreater(fills, 0)
        st = self.c.stats()
        self.assertGreaterEqual(st["requests"], n_clients * per)


class Auth(Base):
    """PROTOCOL.md, Authentication: who may send what."""

    def test_keys(self):
        d = self.d
        mode = stat.S_IMODE(os.stat(os.path.join(d.dir, "admin.key")).st_mode)
        self.assertEqual(mode, 0o600)
        for url in (d.req, d.pub):  # ipc sockets: the owner only
            self.assertEqual(stat.S_IMODE(os.stat(url[len("ipc://"):]).st_mode), 0o600)
        kate = self.c.account_open("kate", 1_000_000)["key"]
        self.c.account_open("liam", 1_000_000)
        with Client(d.req) as anon:
            self.assertTrue(anon.hello()["auth"])
            anon.instruments()  # public ops need no key
            anon.book(self.call)
            anon.quote(self.call, "buy", 1)
            for fn, args in ((anon.account_open, ("x1", 10)), (anon.stats, ()), (anon.risk, ()),
                             (anon.hedge, ()), (anon.positions, ("kate",)),
                             (anon.market_update, ("BTC", 100000)),
                             (anon.instrument_add, (self.call,))):
                self.assertEqual(self.code(fn, *args), "UNAUTHORIZED", fn.__name__)
        with Client(d.req, key=kate) as k:
            r = k.order_new("kate", self.call, "buy", 1, price=10)
            self.assertEqual(k.orders("kate")[0]["order_id"], r["order_id"])
            k.positions("kate")
            # another account, an unknown one: the same answer, word for word
            with self.assertRaises(ChError) as other:
                k.positions("liam")
            with self.assertRaises(ChError) as unknown:
                k.positions("nobody")
            self.assertEqual((other.exception.code, other.exception.message),
                             (unknown.exception.code, unknown.exception.message))
            self.assertEqual(other.exception.code, "UNAUTHORIZED")
            self.assertEqual(self.code(k.order_cancel, "liam", r["order_id"]), "UNAUTHORIZED")
            self.assertEqual(self.code(k.stats), "UNAUTHORIZED")  # not an admin key
            # a batch: each order's own account needs its own key
            res = k.call("order.batch", orders=[
                {"account": "kate", "symbol": self.call, "side": "buy", "qty": 1, "price": 10},
                {"account": "liam", "symbol": self.call, "side": "buy", "qty": 1, "price": 10}])
            self.assertEqual([x["ok"] for x in res["results"]], [True, False])
            self.assertEqual(res["results"][1]["error"]["code"], "UNAUTHORIZED")
            k.order_cancel("kate", r["order_id"])
        for bad in ('"wrong"', "12", '""', "null", '"' + "k" * 5000 + '"'):
            reply = json.loads(self.c.raw('{"op":"positions","account":"kate","key":%s}' % bad))
            self.assertEqual(reply["error"]["code"], "UNAUTHORIZED", bad[:10])
        self.assertGreaterEqual(self.c.stats()["unauthorized"], 15)

    def test_readonly_key(self):
        """PROTOCOL.md 1.1: DIR/readonly.key (0600) reads, and writes nothing."""
        d = self.d
        path = os.path.join(d.dir, "readonly.key")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            ro = f.read().strip()
        self.assertNotEqual(ro, d.key)
        kate = self.c.account_open("ro-kate", 1_000_000)["key"]
        with Client(d.req, key=ro) as r:
            r.hello()
            r.instruments()
            r.book(self.call)
            r.quote(self.call, "buy", 1)
            self.assertEqual(r.risk()["totals"], self.c.risk()["totals"])
            self.assertEqual(r.hedge()["position"], self.c.hedge()["position"])
            r.stats()
            r.pools()
            for a in ("house", "pool", "fees"):
                self.assertEqual(r.positions(a)["cash"], self.c.positions(a)["cash"])
            before = self.c.stats()["orders"]
            denied = ((r.positions, ("ro-kate",)), (r.orders, ("house",)),
                      (r.order_new, ("house", self.call, "buy", 1, 10)),
                      (r.order_new, ("ro-kate", self.call, "buy", 1, 10)),
                      (r.account_open, ("ro-x", 10)), (r.account_deposit, ("ro-kate", 10)),
                      (r.pool_deposit, ("ro-kate", 10)), (r.market_update, ("BTC", 100000)),
                      (r.instrument_add, (self.call,)), (r.call, ("state.hash",)),
                      (r.call, ("underlying.add",)))
            for fn, args in denied:
                self.assertEqual(self.code(fn, *args), "UNAUTHORIZED", (fn.__name__, args))
            self.assertEqual(self.c.stats()["orders"], before)
            self.assertEqual(self.c.positions("ro-kate")["cash"], 1_000_000)
        with Client(d.req, key=kate) as k:  # an account's key is not a read-only key
            for fn, args in ((k.risk, ()), (k.stats, ()), (k.positions, ("house",))):
                self.assertEqual(self.code(fn, *args), "UNAUTHORIZED", fn.__name__)

    def test_binary_needs_an_authenticated_connection(self):
        key = self.c.account_open("mona", 1_000_000)["key"]
        ids = {i["symbol"]: i["id"] for i in self.c.instruments()}
        msg = encode_batch("mona", [{"instr": ids[self.call], "side": "buy", "qty": 1,
                                     "price_ticks": 20}])
        with Client(self.d.req) as anon:
            self.assertEqual(decode_batch_reply(anon.raw_bytes(msg))[1], 15)
        with Client(self.d.req, key=key) as m:
            self.assertEqual(decode_batch_reply(m.raw_bytes(msg))[1], 15)  # no JSON yet
            m.positions("mona")  # authenticates this connection as mona
            rid, err, res = decode_batch_reply(m.raw_bytes(msg))
            self.assertEqual((err, res[0]["error"]), (0, 0))
            other = encode_batch("kate", [{"instr": ids[self.call], "side": "buy", "qty": 1,
                                           "price_ticks": 20}])
            self.assertEqual(decode_batch_reply(m.raw_bytes(other))[1], 15)

    def test_keys_survive_a_kill(self):
        key = self.c.account_open("nina", 1_000_000)["key"]
        self.c.close()
        self.d.stop(signal.SIGKILL)
        self.d.start()
        type(self).c = self.d.client()
        with Client(self.d.req, key=key) as n:
            self.assertEqual(n.positions("nina")["cash"], 1_000_000)
            self.assertEqual(self.code(n.positions, "kate"), "UNAUTHORIZED")


@unittest.skipIf(shutil.which("openssl") is None, "openssl not installed")
class Tls(unittest.TestCase):
    """tls+tcp://: the server's certificate, verified by the client (CH_TLS_CA)."""

    def test_tls(self):
        tmp = tempfile.mkdtemp(prefix="chd-tls-")
        env = dict(os.environ)
        try:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-keyout", f"{tmp}/k.pem", "-out", f"{tmp}/c.pem", "-subj",
                            "/CN=localhost"], check=True, capture_output=True, timeout=60)
            with open(f"{tmp}/ck.pem", "w") as out:
                for part in ("c.pem", "k.pem"):
                    with open(f"{tmp}/{part}") as f:
                        out.write(f.read())
            d = Daemon(tmp, "tls", extra=["--tls", f"{tmp}/ck.pem"])
            os.environ["CH_TLS_CA"] = f"{tmp}/c.pem"
            os.environ["CH_TLS_SERVER_NAME"] = "localhost"  # the certificate's name
            d.start()
            with d.client() as c:
                key = c.account_open("tess", 1_000_000)["key"]
            with Client(d.req, key=key) as t:
                self.assertEqual(t.positions("tess")["cash"], 1_000_000)
            del os.environ["CH_TLS_CA"]  # a server the client cannot verify
            with self.assertRaises(TransportError):
                Client(d.req)
            with self.assertRaises(TransportError):  # plain tcp to the TLS port
                Client(d.req.replace("tls+tcp", "tcp"), timeout_ms=1000).hello()
            d.close()
            d = Daemon(tmp, "tls")  # tls+tcp:// without a certificate: a clear refusal
            r = subprocess.run([CHD, "--req", d.req, "--pub", d.pub, "--data", d.dir],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 1)
            self.assertIn("tls_cert_key", r.stderr)
            d.close()
        finally:
            os.environ.clear()
            os.environ.update(env)
            shutil.rmtree(tmp, ignore_errors=True)


class NoAuth(Base):
    def setUp(self):
        if "--no-auth" not in self.d.extra:
            self.c.close()
            self.d.stop()
            self.d.extra = ["--no-auth"]
            self.d.start()
            type(self).c = Client(self.d.req)  # no key at all

    def test_no_auth_checks_nothing(self):
        self.assertFalse(self.c.hello()["auth"])
        self.c.account_open("olga", 1000)
        self.c.positions("olga")
        self.c.stats()
        self.assertEqual(self.code(self.c.positions, "nobody"), "UNAUTHORIZED")


class Tranches(Base):
    """Strike tranches through the protocol (issue 18): created by the admin,
    funded by LPs, taking the pool's side at their strikes, listed by
    `pools`, and replayed after a kill."""

    def test_tranches(self):
        c = self.c
        lq = c.account_open("lq", 5_000_000)["key"]
        c.account_open("cust", 5_000_000)
        # the first through chctl (pool tranche-add is op pool.tranche.add)
        r = subprocess.run([CHCTL, "--url", self.d.req, "--data", self.d.dir, "--json", "pool",
                            "tranche-add", "--underlying", "BTC", "--strike-lo", "95000",
                            "--strike-hi", "105000"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        t = json.loads(r.stdout)
        self.assertEqual(t["tranche"], 1)
        self.assertEqual(t["account"], "tranche#1")
        # an LP with its own key funds it; the admin alone creates tranches
        with self.d.client(key=lq) as lc:
            r = lc.pool_deposit("lq", 1_000_000, tranche=1)
            self.assertGreater(r["shares"], 0)
            self.assertEqual(r["nav_per_share"], 1.0)
            self.assertEqual(self.code(lc.tranche_add, "BTC", 1, 2), "UNAUTHORIZED")
        self.assertEqual(self.code(c.tranche_add, "BTC", 105000, 95000), "BAD_REQUEST")
        self.assertEqual(self.code(c.tranche_add, "XYZ", 1, 2), "UNKNOWN_SYMBOL")
        self.assertEqual(self.code(c.pool_deposit, "lq", 10, tranche=7), "BAD_REQUEST")
        self.assertEqual(self.code(c.tranche_add, "BTC", 1, 2, expiry_lo="2026-12-25T08:00:00Z"),
                         "BAD_REQUEST")
        # the customer buys the 100k call from the pool: the tranche sells it
        q = c.quote(self.call, "buy", 2)
        r = c.order_new("cust", self.call, "buy", 2, price=q["price"], tif="ioc")
        self.assertEqual(r["filled_qty"], 2)
        pos = {p["symbol"]: p["qty"] for p in c.positions("tranche#1")["positions"]}
        self.assertEqual(pos.get(self.call), -2)
        p = c.pools("BTC")
        self.assertEqual(len(p["tranches"]), 1)
        r = subprocess.run([CHCTL, "--url", self.d.req, "pools"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tranche#1", r.stdout)
        tr = p["tranches"][0]
        self.assertEqual((tr["tranche"], tr["strike_lo"], tr["strike_hi"]), (1, 95000, 105000))
        self.assertIsNone(tr["expiry_lo"])
        self.assertLess(tr["inventory_value"], 0)
        self.assertGreater(tr["utilisation"], 0)
        self.assertGreater(tr["worst_loss"], 0)
        self.assertAlmostEqual(tr["nav"], tr["cash"] + tr["inventory_value"] + tr["house_share"],
                               places=6)
        # all its shares cannot leave while it carries that risk
        shares = tr["shares"]
        self.assertEqual(self.code(c.pool_withdraw, "lq", shares, tranche=1), "INSUFFICIENT_FUNDS")
        w = c.pool_withdraw("lq", shares // 10, tranche=1)
        self.assertGreater(w["cash"], 0)
        before = c.pools()
        self.assertEqual(before["tranches"][0]["shares"], shares - shares // 10)
        # a kill: everything comes back from the log
        c.close()
        self.d.stop(signal.SIGKILL)
        self.d.start()
        type(self).c = self.d.client()
        after = self.c.pools()
        # what was booked comes back exactly; what is marked moves with chd's
        # clock (a slow machine restarts later: theta), so within 0.1 %
        marked = {"inventory_value", "nav", "nav_per_share", "worst_loss", "utilisation", "delta",
                  "house_share"}
        self.assertEqual(len(after["tranches"]), len(before["tranches"]))
        for a, b in zip(after["tranches"], before["tranches"]):
            self.assertEqual({k: v for k, v in a.items() if k not in marked},
                             {k: v for k, v in b.items() if k not in marked})
            for k in marked:
                self.assertAlmostEqual(a[k], b[k], delta=1e-3 * max(1.0, abs(b[k])), msg=k)
        self.assertEqual(after["general"]["shares"], before["general"]["shares"])


class VegaHedging(Base):
    """The vega policy in chd (issue 18): after a batch that leaves an
    expiry's residual vega beyond the band, a straddle is bought at the
    simulated options venue, logged, booked against the venue account,
    reported by `hedge`, published on `vega`, and replayed after a kill."""
    config = {"pool_max_notional": 3e6, "vega_policy": "expiry", "vega_band": 6000}

    def test_vega_hedge(self):
        c = self.c
        c.account_open("vc", 5_000_000)
        sub = Subscriber(self.d.pub, prefix="vega")
        time.sleep(0.3)
        q = c.quote(self.call, "buy", 5)
        r = c.order_new("vc", self.call, "buy", 5, price=q["price"], tif="ioc")
        self.assertEqual(r["filled_qty"], 5)
        h = c.hedge()
        v = h["vega"]
        self.assertEqual(v["policy"], "expiry")
        self.assertGreater(v["orders"], 0)
        self.assertGreater(v["contracts"], 0)
        self.assertGreater(v["fees"], 0)
        for x in v["residual"]:   # every expiry back inside the band
            self.assertLessEqual(abs(x["vega"]), 6000 + 1e-6, x)
        venue = {p["symbol"]: p["qty"] for p in c.positions("venue")["positions"]}
        house = {p["symbol"]: p["qty"] for p in c.positions("house")["positions"]}
        self.assertTrue(venue)
        for sym, qty in venue.items():
            self.assertEqual(house.get(sym, 0), -qty, sym)
        ev = sub.recv(3000)
        self.assertIsNotNone(ev)
        self.assertEqual(ev[0], "vega")
        self.assertIn(ev[1]["symbol"], venue)
        sub.close()
        # a kill: the option hedges come back from the log, and none is sent again
        c.close()
        self.d.stop(signal.SIGKILL)
        self.d.start()
        type(self).c = self.d.client()
        v2 = self.c.hedge()["vega"]
        for k in ("orders", "contracts", "fees", "premium"):
            self.assertAlmostEqual(v2[k], v[k], places=6, msg=k)
        self.assertEqual({p["symbol"]: p["qty"] for p in self.c.positions("venue")["positions"]},
                         venue)


class ClientOrderIds(Base):
    """The client_order_id index lives in the store (issue 19): with a cache of
    two ids, repeats of older ids are read back from LMDB, in both encodings
    and after a kill, and still change nothing."""
    config = {"pool_max_notional": 3e6, "coid_cache": 2}

    def test_old_repeats_from_the_store(self):
        c = self.c
        c.account_open("co", 1_000_000)
        first = {}
        for i in range(20):  # resting buys far below the market: nothing fills
            first[i] = c.order_new("co", self.call, "buy", 1, price=1 + i,
                                   client_order_id=f"id-{i}")
        before = c.orders("co")
        self.assertEqual(len(before), 20)
        for i in (0, 3, 19):
            again = c.order_new("co", self.call, "buy", 1, price=1 + i,
                                client_order_id=f"id-{i}")
            self.assertEqual(again, first[i])
        self.assertGreater(c.stats()["coid_store_hits"], 0)  # id-0 left the cache long ago
        # a repeat inside one batch, of an id older than the cache, and a new one
        res = c.order_batch("co", [
            {"symbol": self.call, "side": "buy", "qty": 1, "price": 1,
             "client_order_id": "id-1"},
            {"symbol": self.call, "side": "buy", "qty": 1, "price": 30,
             "client_order_id": "new-1"},
            {"symbol": self.call, "side": "buy", "qty": 1, "price": 30,
             "client_order_id": "new-1"}])
        self.assertEqual(res[0]["order_id"], first[1]["order_id"])
        self.assertEqual(res[1]["order_id"], res[2]["order_id"])
        self.assertEqual(len(c.orders("co")), 21)
        # after a kill the cache is empty: every repeat comes from the store
        c.close()
        self.d.stop(signal.SIGKILL)
        self.d.start()
        type(self).c = c = self.d.client()
        for i in (0, 10, 19):
            self.assertEqual(c.order_new("co", self.call, "buy", 1, price=1 + i,
                                         client_order_id=f"id-{i}"), first[i])
        self.assertEqual(len(c.orders("co")), 21)


class SnapshotTimer(Base):
    """snapshot_seconds counts from chd's start: a fresh daemon takes no
    snapshot before that many seconds (it took one at its first batch on a
    machine up longer than snapshot_seconds)."""
    config = {"pool_max_notional": 3e6, "snapshot_every": 1_000_000, "snapshot_seconds": 60}

    def test_no_snapshot_before_snapshot_seconds(self):
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        if uptime < 60:
            self.skipTest(f"the machine is up {uptime:.0f} s: the old clock would pass too")
        self.c.account_open("timer", 1000)
        self.c.account_open("timer2", 1000)
        st = self.c.stats()
        self.assertEqual(st["snapshots"], 0, st)
        self.assertEqual(st["snapshot_seq"], 0, st)


class Snapshots(Base):
    """Snapshots (issue 19): chd writes one every snapshot_every commands;
    after a kill -9 a start loads it and replays only the log after it, and
    reaches the state a replay of the whole log reaches (snapshot_load
    false), with resting orders, positions, the pool and the hedge book."""
    config = {"pool_max_notional": 3e6, "snapshot_every": 1000}

    def state(self):
        """What the log decides (marks and equity follow chd's clock: left out)."""
        c = self.c
        h = c.hedge()
        pos = {}
        for a in ("sa", "sb"):
            p = c.positions(a)
            pos[a] = (p["cash"], p["reserved"],
                      [(x["symbol"], x["qty"], x["avg_price"], x["realized"])
                       for x in p["positions"]])
        return {"orders": {a: c.orders(a) for a in ("sa", "sb")},
                "positions": pos,
                "book": c.book(self.call),
                "hedge": {k: h[k] for k in ("position", "orders", "fills")},
                "netting": {k: v for k, v in c.risk()["netting"].items() if k != "net_delta"}}

    def test_restart_from_a_snapshot_is_a_full_replay(self):
        c = self.c
        type(self).sa_key = c.account_open("sa", 5_000_000)["key"]
        c.account_open("sb", 5_000_000)
        ids = []
        for i in range(700):  # resting buys far below the market, half cancelled
            r = c.order_new("sa", self.call, "buy", 1, price=1 + i % 40)
            if i % 2:
                c.order_cancel("sa", r["order_id"])
            else:
                ids.append(r["order_id"])
        for i in range(12):  # the pool sells calls: the house's delta, then a hedge
            q = c.quote(self.call, "buy", 2)
            c.order_new("sb", self.call, "buy", 2, price=q["price"], tif="ioc")
        c.order_new("sb", self.put, "sell", 1, price=900)  # the pool takes it
        st = c.stats()
        self.assertGreaterEqual(st["snapshots"], 1)
        self.assertGreater(st["snapshot_bytes"], 0)
        before = self.state()
        self.assertEqual(len(before["orders"]["sa"]), 350)
        self.assertGreater(before["hedge"]["fills"], 0)
        self.assertEqual(len(before["positions"]["sb"][2]), 2)
        # the whole state, chd's part (hedgers, next ids) included, hashed
        h0 = c.call("state.hash")
        self.assertEqual(len(h0["sha256"]), 64)
        with self.d.client(key=self.sa_key) as other:  # an account's key: refused
            self.assertEqual(self.code(other.call, "state.hash"), "UNAUTHORIZED")
        self.assertEqual(h0["seq"], st["seq"])
        self.assertEqual(c.call("state.hash"), h0)  # reading it changes nothing
        snap = c.stats()["snapshot_seq"]
        # the newest snapshot is at or after the 1000th command (where a batch
        # ends), and commands follow it
        self.assertGreaterEqual(snap, 1000)
        self.assertLess(snap, h0["seq"])
        st = self.restart(snapshot_load=True)
        self.assertEqual(st["restored_seq"], snap)  # loaded, then replayed the rest
        from_snapshot = self.state()
        self.assertEqual(from_snapshot, before)
        self.assertEqual(self.c.call("state.hash"), h0)
        st = self.restart(snapshot_load=False)
        self.assertEqual(st["restored_seq"], 0)  # the whole log
        self.assertEqual(self.state(), from_snapshot)
        self.assertEqual(self.c.call("state.hash"), h0)
        # the restored orders are live: one cancels
        self.c.order_cancel("sa", ids[0])
        self.assertEqual(len(self.c.orders("sa")), 349)


class LogPrune(Base):
    """log_prune (issue 19): after each snapshot the commands every kept
    snapshot holds leave the log; a start from a snapshot reaches the same
    state, chctl dump still shows every fill, and a start that would need
    the dropped commands (snapshot_load false) refuses, saying why."""
    config = {"pool_max_notional": 3e6, "snapshot_every": 1000, "snapshot_keep": 2,
              "log_prune": True}

    def test_pruned_log_restarts_from_a_snapshot(self):
        c = self.c
        c.account_open("pa", 5_000_000)
        c.account_open("pb", 5_000_000)
        for i in range(1500):  # resting buys, half cancelled: > 2,000 commands
            r = c.order_new("pa", self.call, "buy", 1, price=1 + i % 40)
            if i % 2:
                c.order_cancel("pa", r["order_id"])
        for i in range(6):  # fills with the pool
            q = c.quote(self.call, "buy", 2)
            c.order_new("pb", self.call, "buy", 2, price=q["price"], tif="ioc")
        st = c.stats()
        self.assertGreaterEqual(st["snapshots"], 2)
        self.assertGreater(st["log_pruned"], 0)
        self.assertGreater(st["log_first_seq"], 1)
        self.assertEqual(st["log_first_seq"], st["log_pruned"] + 1)
        h0 = c.call("state.hash")
        fills = sum(st["fills"].values())
        self.assertGreater(fills, 0)
        st = self.restart()
        self.assertGreater(st["restored_seq"], 0)
        self.assertEqual(self.c.call("state.hash"), h0)
        self.c.close()
        self.d.stop()  # a clean stop: its snapshot, then the dump reads the folder
        dump = self.d.dump()
        self.assertEqual(len(dump["fills"]), fills)  # every fill, pruned or not
        self.assertGreater(dump["snapshot_seq"], 0)
        self.assertEqual(dump["last_seq"], h0["seq"])
        pa = next(a for a in dump["accounts"] if a["account"] == "pa")
        self.assertEqual(len([o for o in dump["open_orders"] if o["account"] == "pa"]), 750)
        self.assertGreater(pa["reserved"], 0)
        # a start that must replay the whole log cannot: it says so and exits
        with open(self.d.config, "w") as f:
            json.dump(self.chd_config(snapshot_load=False), f)
        with self.assertRaises(RuntimeError):
            self.d.start()
        self.assertIsNotNone(self.d.proc.poll())
        self.d.proc = None
        with open(os.path.join(self.tmp, "chd.log")) as f:
            self.assertIn("the log was pruned up to command", f.read())
        with open(self.d.config, "w") as f:
            json.dump(self.chd_config(), f)
        self.d.start()
        type(self).c = self.d.client()
        self.assertEqual(self.c.call("state.hash"), h0)


class Limits(Base):
    """Every bound refuses with its own error and changes nothing."""
    transport = "tcp"
    config = {"max_open_orders": 3, "account_rate": 40, "account_burst": 40,
              "conn_rate": 200, "conn_burst": 200, "max_clients": 3, "max_request": 4096}

    def test_open_orders_cap(self):
        self.c.account_open("pia", 1_000_000)
        ids = [self.c.order_new("pia", self.call, "buy", 1, price=5 + i)["order_id"]
               for i in range(3)]
        with self.assertRaises(ChError) as cm:
            self.c.order_new("pia", self.call, "buy", 1, price=9)
        self.assertEqual(cm.exception.code, "RISK_LIMIT")
        self.assertIn("max_open_orders", cm.exception.message)
        self.assertEqual(len(self.c.orders("pia")), 3)
        q = self.c.quote(self.call, "buy", 1)  # an IOC never rests: not capped
        self.c.order_new("pia", self.call, "buy", 1, price=q["price"], tif="ioc")
        self.c.order_cancel("pia", ids[0])
        self.c.order_new("pia", self.call, "buy", 1, price=9)
        self.assertGreaterEqual(self.c.stats()["open_order_cap"], 1)
        for i in ids[1:]:
            self.c.order_cancel("pia", i)
        time.sleep(1.1)  # refill pia's order bucket for the other tests

    def test_account_rate(self):
        self.c.account_open("quin", 1_000_000)
        codes = []
        for _ in range(60):
            try:
                self.c.order_new("quin", self.call, "buy", 1, price=1, tif="ioc")
                codes.append("ok")
            except ChError as e:
                codes.append(e.code)
                if e.code == "RATE_LIMITED":
                    self.assertIn("account_rate", e.message)
        self.assertIn("RATE_LIMITED", codes)
        self.assertGreaterEqual(codes.count("ok"), 30)
        time.sleep(1.1)
        self.c.order_new("quin", self.call, "buy", 1, price=1, tif="ioc")  # refilled

    def test_connection_rate(self):
        with Client(self.d.req) as fast:
            codes = []
            for _ in range(300):
                r = json.loads(fast.raw('{"op":"hello"}'))
                codes.append("ok" if r["ok"] else r["error"]["code"])
            self.assertIn("RATE_LIMITED", codes)
            self.assertEqual(set(codes), {"ok", "RATE_LIMITED"})
            self.c.hello()  # another connection is not slowed
            time.sleep(0.5)
            fast.hello()

    def test_clients_cap(self):
        time.sleep(0.2)
        extra = [Client(self.d.req) for _ in range(3)]  # with self.c: 4 > 3
        try:
            time.sleep(0.2)
            codes = []
            for x in extra:
                r = json.loads(x.raw('{"op":"hello"}'))
                codes.append("ok" if r["ok"] else r["error"]["code"])
            self.assertIn("UNAVAILABLE", codes)
            self.assertIn("ok", codes)
        finally:
            for x in extra:
                x.close()
        time.sleep(0.3)
        with Client(self.d.req) as again:  # the slots are free again
            again.hello()

    def test_request_bounds(self):
        r = json.loads(self.c.raw('{"op":"hello","pad":"' + "x" * 5000 + '"}'))
        self.assertEqual(r["error"]["code"], "BAD_REQUEST")
        self.assertIn("large", r["error"]["message"])
        r = json.loads(self.c.raw('{"op":"hello","a":' + "[" * 20 + "]" * 20 + "}"))
        self.assertEqual(r["error"]["code"], "BAD_REQUEST")
        self.assertIn("deep", r["error"]["message"])
        self.c.hello()


if __name__ == "__main__":
    argv = [sys.argv[0]] + sys.argv[5:]
    unittest.main(argv=argv, verbosity=2)
