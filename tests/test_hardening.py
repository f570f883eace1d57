#!/usr/bin/env python3
"""Hardening of chd against a careless user and a hostile client (issue 15),
end to end and over raw sockets where a well-behaved library would hide the
defect:

  1  one writer per data folder: a second chd is refused naming the holder's
     pid and changes nothing; chctl dump reads beside it; a start that cannot
     listen removes what it created
  2  a client that pipelines large-reply requests and never reads costs only
     itself (raw socket, and a stopped libchclient pipelined submitter)
  3,4,5,9  strict requests end to end: NUL, duplicate keys, invalid UTF-8,
     non-JSON numbers, unknown and mistyped fields, prices off the tick
  8  instrument.add's reply keeps the request's id
  11 an admin endpoint beside max_clients; idle and half-open connections closed

Usage: test_hardening.py CHD CHCTL LIBCHCLIENT   (run by ctest)
"""
import ctypes
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

CHD, CHCTL, LIB = sys.argv[1:4]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chd_harness  # noqa: E402
from chd_harness import Daemon, free_port  # noqa: E402

chd_harness.configure(CHD, CHCTL, LIB)
chd_harness.watchdog(280)  # ctest stops it at 300 s
from chclient import ChError, Client, TransportError  # noqa: E402

SP_REQ = b"\x00SP\x00\x00\x30\x00\x00"  # SP header, protocol REQ (0x30)


class RawReq:
    """REQ spoken by hand over TCP: requests go out as we like, replies are
    read only when asked (or never)."""

    def __init__(self, port, timeout=5):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.sendall(SP_REQ)
        self.n = 0

    def send(self, obj_or_bytes):
        body = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode()
        self.n += 1
        payload = (0x80000000 + self.n).to_bytes(4, "big") + body
        self.s.sendall(len(payload).to_bytes(8, "big") + payload)

    def _read(self, n):
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b

    def recv(self):
        if not hasattr(self, "_shaken"):
            self._read(8)  # the server's SP header
            self._shaken = True
        n = int.from_bytes(self._read(8), "big")
        return self._read(n)[4:]

    def call(self, obj_or_bytes):
        self.send(obj_or_bytes)
        return json.loads(self.recv())

    def close(self):
        self.s.close()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="chd-hard-")
        self.d = None

    def tearDown(self):
        if self.d is not None:
            self.d.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, config=None, transport="tcp"):
        self.d = Daemon(self.tmp, transport, config)
        self.d.start()
        return self.d

    def port(self):
        return int(self.d.req.rsplit(":", 1)[1])


def listing(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        st = os.stat(os.path.join(folder, name))
        out[name] = (st.st_size, st.st_mtime_ns)
    return out


def run_chd(args, timeout=10):
    return subprocess.run([CHD] + args, capture_output=True, text=True, timeout=timeout)


class OneWriter(Base):
    def test_item1_second_chd_is_refused(self):
        d = self.start()
        with d.client() as c:
            c.account_open("first", 1000)
        before = listing(d.dir)
        r = run_chd(["--req", f"tcp://127.0.0.1:{free_port()}",
                     "--pub", f"tcp://127.0.0.1:{free_port()}", "--data", d.dir])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"pid {d.proc.pid}", r.stderr)
        self.assertIn("in use", r.stderr)
        self.assertEqual(listing(d.dir), before)  # created and changed nothing
        # the first still serves; dump reads the folder beside it
        with d.client() as c:
            self.assertEqual(c.positions("first")["cash"], 1000)
        self.assertIn("first", [a["account"] for a in d.dump()["accounts"]])
        d.stop()
        d.start()  # the lock went with the process
        with d.client() as c:
            self.assertEqual(c.positions("first")["cash"], 1000)

    def test_risk_aware_settings_are_part_of_the_stored_config(self):
        d = self.start({"risk_aware": True, "hedge_impact_bps": 2})
        with d.client() as c:
            call = next(i["symbol"] for i in c.instruments() if i["symbol"].endswith("-C"))
            q = c.quote(call, "buy", 1)
            self.assertGreater(q["hedge_cost"], 0)  # the house is flat: adding delta pays
        d.stop()
        # the log replayed on price alone would not reproduce its state: refused
        with open(d.config, "w") as f:
            json.dump({"risk_aware": False, "hedge_impact_bps": 2}, f)
        r = run_chd(["--req", f"tcp://127.0.0.1:{free_port()}",
                     "--pub", f"tcp://127.0.0.1:{free_port()}", "--data", d.dir,
                     "--config", d.config])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another engine configuration", r.stderr)

    def test_a_store_from_before_risk_aware_by_default_keeps_price_alone(self):
        """Risk-aware netting is the default; a store written on price alone
        (every store before) keeps it when the configuration does not say,
        with a warning, and is refused when it says otherwise."""
        d = self.start({"risk_aware": False})
        with d.client() as c:
            call = next(i["symbol"] for i in c.instruments() if i["symbol"].endswith("-C"))
            self.assertEqual(c.quote(call, "buy", 1)["hedge_cost"], 0)
            c.account_open("early", 1000)
        d.stop()
        with open(d.config, "w") as f:
            json.dump({}, f)
        d.start()
        with d.client() as c:
            self.assertEqual(c.quote(call, "buy", 1)["hedge_cost"], 0)  # still price alone
            self.assertEqual(c.positions("early")["cash"], 1000)
        d.stop()
        with open(os.path.join(self.tmp, "chd.log")) as f:
            self.assertIn("event=store_setting_kept risk_aware=false", f.read())
        with open(d.config, "w") as f:
            json.dump({"risk_aware": True}, f)
        r = run_chd(["--req", f"tcp://127.0.0.1:{free_port()}",
                     "--pub", f"tcp://127.0.0.1:{free_port()}", "--data", d.dir,
                     "--config", d.config])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another engine configuration", r.stderr)
        # a fresh store nets risk-aware by default: adding delta to a flat house pays
        shutil.rmtree(d.dir)
        d.start()
        with d.client() as c:
            self.assertGreater(c.quote(call, "buy", 1)["hedge_cost"], 0)

    def test_item1_failed_listen_removes_what_it_created(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            fresh = os.path.join(self.tmp, "fresh")
            r = run_chd(["--req", f"tcp://127.0.0.1:{port}",
                         "--pub", f"tcp://127.0.0.1:{free_port()}", "--data", fresh])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("cannot listen", r.stderr)
            self.assertFalse(os.path.exists(fresh), os.listdir(self.tmp))
            # an existing store: nothing created, nothing changed
            d = self.start()
            d.stop()
            before = listing(d.dir)
            r = run_chd(["--req", f"tcp://127.0.0.1:{port}",
                         "--pub", f"tcp://127.0.0.1:{free_port()}", "--data", d.dir])
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(set(listing(d.dir)), set(before))
            self.assertEqual(listing(d.dir)["data.mdb"], before["data.mdb"])
        finally:
            busy.close()


class SlowReaders(Base):
    def others_answer(self, d, seconds=4):
        """hello on fresh and on one long-lived connection, each within 2 s."""
        worst = 0.0
        with d.client(timeout_ms=2000) as kept:
            t_end = time.monotonic() + seconds
            while time.monotonic() < t_end:
                t0 = time.monotonic()
                kept.hello()
                with d.client(timeout_ms=2000) as fresh:
                    fresh.hello()
                worst = max(worst, time.monotonic() - t0)
                time.sleep(0.1)
        return worst

    def test_item2_non_reader_costs_only_itself(self):
        d = self.start()
        bad = RawReq(self.port())
        sent = [0]

        def flood():
            try:
                for _ in range(2000):
                    bad.send({"op": "instruments"})
                    sent[0] += 1
            except OSError:
                pass  # closed by chd: what we want

        t = threading.Thread(target=flood)
        t.start()
        time.sleep(0.5)
        worst = self.others_answer(d)
        t.join(timeout=30)
        self.assertLess(worst, 2.0)
        with d.client() as c:
            self.assertGreaterEqual(c.stats()["slow_clients_closed"], 1)
        bad.close()

    def test_item2_stopped_pipelined_submitter(self):
        d = self.start()
        lib = ctypes.CDLL(LIB)
        lib.ch_client_pipeline_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                                ctypes.POINTER(ctypes.c_void_p)]
        lib.ch_client_pipeline_send.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                                ctypes.c_ulong]
        lib.ch_client_pipeline_close.argtypes = [ctypes.c_void_p]
        p = ctypes.c_void_p()
        self.assertEqual(lib.ch_client_pipeline_open(d.req.encode(), 64, 5000, ctypes.byref(p)), 0)
        req = b'{"op":"instruments"}'
        for i in range(64):  # every slot in flight, and nobody takes a reply
            self.assertEqual(lib.ch_client_pipeline_send(p, req, len(req), i), 0)
        worst = self.others_answer(d, seconds=2)
        self.assertLess(worst, 2.0)
        lib.ch_client_pipeline_close(p)


class Strict(Base):
    def setUp(self):
        super().setUp()
        self.start()
        self.raw = RawReq(self.port())

    def tearDown(self):
        self.raw.close()
        super().tearDown()

    def err(self, body):
        r = self.raw.call(body)
        self.assertFalse(r["ok"], r)
        return r["error"]

    def test_items3_4_strings_and_keys(self):
        key = self.d.key
        with self.d.client() as c:
            c.account_open("dave", 1000)
        cases = [
            b'{"op":"hello\\u0000junk"}',
            ('{"op":"account.open","key":"%s","account":"eve\\u0000x","cash":1}' % key).encode(),
            b'{"op":"hello","op":"order.new"}',
            b'{"op":"hello","id":"\xff\xfe"}',
            b'{"op":"hello","id":"\xc0\xaf"}',          # overlong '/'
            b'{"op":"hello","id":"\xed\xa0\x80"}',      # an encoded surrogate
            b'{"op":"hello","id":"\xf4\x90\x80\x80"}',  # above U+10FFFF
            b'{"op":"hello","id":"\\ud800"}',           # a lone surrogate escape
            b'{"op":"hello","id":00001}',
            b'{"op":"hello","id":1.}',
        ]
        for body in cases:
            e = self.err(body)
            self.assertEqual(e["code"], "BAD_REQUEST", body)
            self.assertNotIn("\ufffd", e["message"])
        with self.d.client() as c:  # nothing was opened under a truncated name
            with self.assertRaises(ChError):
                c.positions("eve")
        # valid UTF-8 is kept exactly
        r = self.raw.call('{"op":"hello","id":"caf\u00e9 \U0001F600"}'.encode())
        self.assertEqual(r["id"], "caf\u00e9 \U0001F600")

    def test_items3_5_client_order_ids_and_fields(self):
        key = self.d.key
        with self.d.client() as c:
            sym = next(i["symbol"] for i in c.instruments() if i["type"] == "call")
            c.account_open("ann", 10_000_000)
        base = {"op": "order.new", "key": key, "account": "ann", "symbol": sym, "side": "buy",
                "qty": 1, "price": 1}
        ok = self.raw.call(dict(base, client_order_id="ab"))
        self.assertTrue(ok["ok"], ok)
        for coid in ("ab\\u0000c", "ab\\u0000d"):
            body = json.dumps(dict(base, client_order_id="X")).replace('"X"', '"%s"' % coid)
            self.assertEqual(self.err(body.encode())["code"], "BAD_REQUEST")
        e = self.err(dict(base, tiff="ioc"))
        self.assertEqual(e["code"], "BAD_REQUEST")
        self.assertIn("tiff", e["message"])
        e = self.err({"op": "book", "symbol": sym, "depth": "2"})
        self.assertEqual(e["code"], "BAD_REQUEST")
        self.assertIn("depth", e["message"])
        with self.d.client() as c:  # one order only
            self.assertEqual(len(c.orders("ann")), 1)

    def test_item8_instrument_add_keeps_the_request_id(self):
        with self.d.client() as c:
            sym = next(i["symbol"] for i in c.instruments() if i["type"] == "call")
        new = sym.rsplit("-", 2)[0] + "-123000-C"
        r = self.raw.call({"op": "instrument.add", "key": self.d.key, "symbol": new, "id": "req-9"})
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["id"], "req-9")
        self.assertIsInstance(r["instrument_id"], int)
        with self.d.client() as c:
            ids = {i["symbol"]: i["id"] for i in c.instruments()}
        self.assertEqual(ids[new], r["instrument_id"])

    def test_item9_prices_on_the_tick(self):
        key = self.d.key
        for fields in ({"index": 100000.01}, {"index": 100000, "perp": 100000.3}):
            e = self.err(dict({"op": "market.update", "key": key, "underlying": "BTC"}, **fields))
            self.assertEqual(e["code"], "BAD_PRICE")
        r = self.raw.call({"op": "market.update", "key": key, "underlying": "BTC",
                           "index": 100000.5, "perp": 100001})
        self.assertTrue(r["ok"], r)
        with self.d.client() as c:  # the Python client's helper rounds
            self.assertIn("seq", c.market_update("BTC", 100000.26, tick=0.5, perp=100000.74))


class Connections(Base):
    def test_item11_admin_endpoint_beside_max_clients(self):
        d = self.start(config={"max_clients": 1})
        # the one slot: the start probe's connection frees it when chd sees
        # that connection close, which may come a moment after the probe ended
        deadline = time.monotonic() + 10
        while True:
            holder = RawReq(self.port())
            r = holder.call({"op": "hello"})
            if r["ok"] or time.monotonic() > deadline:
                break
            holder.close()
            time.sleep(0.05)
        self.assertTrue(r["ok"], r)
        with d.client(timeout_ms=2000) as c:  # the one slot is taken
            with self.assertRaises(ChError) as cm:
                c.hello()
            self.assertEqual(cm.exception.code, "UNAVAILABLE")
        admin = f"ipc://{d.dir}/admin.sock"
        self.assertEqual(os.stat(os.path.join(d.dir, "admin.sock")).st_mode & 0o777, 0o600)
        with Client(admin, key=d.key, timeout_ms=2000) as c:
            st = c.stats()
            self.assertGreaterEqual(st["connections"], 2)
        out = subprocess.run([CHCTL, "--url", admin, "stats"], capture_output=True, text=True,
                             timeout=20, env=dict(os.environ, CH_KEY=d.key))
        self.assertEqual(out.returncode, 0, out.stderr)
        holder.close()

    def test_item11_idle_and_half_open_connections_close(self):
        d = self.start(config={"idle_timeout": 1})
        port = self.port()

        def closed_after(head):
            s = socket.create_connection(("127.0.0.1", port), timeout=20)
            s.sendall(head)
            t0 = time.monotonic()
            try:
                while s.recv(4096):  # the server's SP header may come first
                    pass
            except socket.timeout:
                self.fail(f"chd never closed a connection that sent {head!r}")
            finally:
                s.close()
            return time.monotonic() - t0

        # half a request after the handshake: idle_timeout (1 s here)
        self.assertLess(closed_after(SP_REQ + b"\x00\x00\x00"), 4)
        # half an SP header: NNG 1.5.2 closes a handshake after a fixed 10 s
        self.assertLess(closed_after(b"\x00SP"), 15)
        # an idle NNG client is closed too, and reconnects on its next request
        with d.client(timeout_ms=5000) as c:
            c.hello()
            time.sleep(2.5)
            self.assertTrue(c.hello())
            self.assertGreaterEqual(c.stats()["idle_closed"], 1)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
