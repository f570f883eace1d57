#!/usr/bin/env python3
"""chd on a shard's replicated batch log (issue 20, first part): NATS
JetStream on loopback (nats-server -js, one server, file storage).

- A primary appends every batch (the seed, clients' batches, hedging) to the
  shard's stream before it stores and answers it: stats.cluster counts the
  appends and the stream's sequence follows them (one term marker first).
- Split brain: the primary is stopped (SIGSTOP), a second chd starts on a
  copy of its data folder and takes the shard over (a term marker); the first
  is continued (SIGCONT): its next write is refused with NOT_PRIMARY
  (JetStream's ExpectLastSeq), nothing of it is stored, its reads still
  answer; the second holds every write the first acknowledged.
- A chd whose store is behind the stream catches up from it at its start
  (the other's writes, keys and client order ids: the same state hash), then
  takes the shard over.
- A standby from an empty folder follows the primary's stream: after a
  seeded flow it holds the primary's state hash, answers reads and refuses
  writes with NOT_PRIMARY naming the primary; after the primary's kill -9
  it takes the lapsed lease and the shard, with every write, by itself; the
  old primary restarted finds the lease held and follows as a standby.
- Two shards (BTC with a standby, ETH): one client over a shard map routes
  each request by its underlying and follows the BTC shard's failover.
- account.transfer between two shards: debit at once, credit once on the
  other shard, across a kill -9 of either; a refused transfer moves nothing;
  a credit for an account the destination lacks waits until it is opened.
- A hedge order in flight at chvenue when the primary dies: the promoted
  standby sends it again by id and books the venue's one execution.
- NATS stopped: writes stop with UNAVAILABLE within cluster_timeout_ms
  (never acknowledged without the stream), reads still answer; with NATS
  back, chd takes writes again by itself (same term), and nothing refused
  was stored.

Usage: test_cluster.py CHD CHCTL LIBCHCLIENT [CHVENUE]. Skipped (exit 77) without
nats-server (apt-get install nats-server)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import chd_harness as H

if shutil.which("nats-server") is None or shutil.which("mdb_copy") is None:
    print("test_cluster: skipped: nats-server or mdb_copy not installed")
    sys.exit(77)
CHD, CHCTL, LIB = sys.argv[1:4]
CHVENUE = sys.argv[4] if len(sys.argv) > 4 and not sys.argv[4].startswith("-") else None
H.configure(CHD, CHCTL, LIB)
del sys.argv[1:5 if CHVENUE else 4]
H.watchdog(150)
Daemon = H.Daemon
ChError = H.client_module().ChError


class Nats:
    def __init__(self, tmp, max_payload=None):
        self.port = H.free_port()
        self.dir = os.path.join(tmp, "nats")
        self.url = f"nats://127.0.0.1:{self.port}"
        self.log = open(os.path.join(tmp, "nats.log"), "a")
        self.proc = None
        self.extra = []
        if max_payload is not None:  # a configuration file: no flag for it
            conf = os.path.join(tmp, "nats.conf")
            with open(conf, "w") as f:
                f.write(f"max_payload: {max_payload}\n")
            self.extra = ["-c", conf]

    def start(self):
        self.proc = subprocess.Popen(
            ["nats-server", "-js", "-sd", self.dir, "-a", "127.0.0.1", "-p", str(self.port)]
            + self.extra, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


class NatsCluster:
    """Three nats-server with JetStream clustered on loopback (routes)."""

    def __init__(self, tmp):
        self.nodes = []
        ports = [(H.free_port(), H.free_port()) for _ in range(3)]
        for i, (p, c) in enumerate(ports):
            routes = ",".join(f"nats://127.0.0.1:{cp}" for j, (_, cp) in enumerate(ports)
                              if j != i)
            args = ["nats-server", "-js", "-sd", os.path.join(tmp, f"n{i}"), "-a", "127.0.0.1",
                    "-p", str(p), "-n", f"n{i}", "--cluster_name", "ch", "--cluster",
                    f"nats://127.0.0.1:{c}", "--routes", routes]
            self.nodes.append({"args": args, "port": p, "proc": None,
                               "log": open(os.path.join(tmp, f"n{i}.log"), "a")})
        self.url = ",".join(f"nats://127.0.0.1:{n['port']}" for n in self.nodes)

    def start(self, i):
        n = self.nodes[i]
        n["proc"] = subprocess.Popen(n["args"], stdout=n["log"], stderr=n["log"])

    def kill(self, i):
        n = self.nodes[i]
        n["proc"].kill()
        n["proc"].wait(timeout=10)
        n["proc"] = None

    def close(self):
        for i, n in enumerate(self.nodes):
            if n["proc"] is not None:
                self.kill(i)
            n["log"].close()


class Cluster(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ch-cluster-")
        self.nats = Nats(self.tmp)
        self.nats.start()
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            if d.proc is not None:
                try:
                    d.proc.send_signal(signal.SIGCONT)
                    d.stop(signal.SIGKILL)
                except OSError:
                    pass
            d.log.close()
        self.nats.stop()
        self.nats.log.close()
        if os.environ.get("CH_KEEP_TMP") is None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def chd(self, name, **cfg):
        t = os.path.join(self.tmp, name)
        os.makedirs(t, exist_ok=True)
        conf = {"cluster": self.nats.url, "shard": "btc", "cluster_timeout_ms": 1000}
        conf.update(cfg)
        d = Daemon(t, "ipc", conf)
        self.daemons.append(d)
        return d

    def wait_role(self, c, role, seconds=8):
        """Poll stats until the role is `role` (the lease lapses in 1.5 s): the
        time it took. A liveness bound, not a timing test."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            if c.stats()["cluster"]["role"] == role:
                return time.monotonic() - t0
            time.sleep(0.02)
        self.fail(f"not {role} after {seconds} s: {c.stats()['cluster']}")

    def status(self, shard="btc"):
        out = subprocess.run([CHCTL, "cluster", "status", "--nats", self.nats.url, "--shard",
                              shard, "--json"], capture_output=True, text=True, timeout=30)
        return out.returncode, (json.loads(out.stdout) if out.returncode == 0 else out.stderr)

    def test_primary_is_fenced_by_a_new_one(self):
        a = self.chd("a")
        a.start()
        ca = a.client()
        st = ca.stats()["cluster"]
        self.assertEqual((st["shard"], st["role"], st["term"]), ("btc", "primary", 1))
        self.assertGreater(st["replicated_batches"], 0)  # the seed, at least
        self.assertEqual(st["stream_seq"], st["replicated_batches"] + 1)  # + the term marker
        syms = [i["symbol"] for i in ca.instruments("BTC")]
        call = next(s for s in syms if s.endswith("-100000-C"))
        # chd's clock an hour ahead: no batch steps it meanwhile (a logged command)
        ca.market_update("BTC", 100000, time=int((time.time() + 3600) * 1e9))
        ca.account_open("alice", 1_000_000)
        acked = []
        for i in range(20):
            r = ca.order_new("alice", call, "buy", 1, price=10 + i, client_order_id=f"a{i}")
            acked.append(r["order_id"])
        st = ca.stats()["cluster"]
        self.assertEqual(st["stream_seq"], st["replicated_batches"] + 1)
        self.assertEqual(st["replication_failures"], 0)
        # the stream as chctl reads it: a's term, a's URL, the next command
        rc, cs = self.status()
        self.assertEqual(rc, 0, cs)
        self.assertEqual((cs["term"], cs["primary"], cs["replicas"]), (1, a.req, 1))
        self.assertEqual(cs["last_seq"], ca.stats()["cluster"]["stream_seq"])
        self.assertEqual(cs["next_command"], ca.call("state.hash")["seq"] + 1)
        # split brain: a is stopped, b starts from a copy of its folder and takes over
        a.proc.send_signal(signal.SIGSTOP)
        bdir = os.path.join(self.tmp, "b", "var")
        os.makedirs(bdir)
        subprocess.run(["mdb_copy", a.dir, bdir], check=True)
        shutil.copy(os.path.join(a.dir, "admin.key"), bdir)
        b = self.chd("b")
        b.start()
        cb = b.client()
        # a's lease lapses (it cannot renew it, stopped): b takes it and the shard
        self.wait_role(cb, "primary")
        sb = cb.stats()["cluster"]
        self.assertEqual(sb["term"], 2)
        rc, cs = self.status()
        self.assertEqual((cs["term"], cs["primary"]), (2, b.req))
        mine = {o["order_id"] for o in cb.orders("alice")}
        self.assertEqual(mine, set(acked))  # every write a acknowledged
        a.proc.send_signal(signal.SIGCONT)
        with self.assertRaises(ChError) as cm:
            ca.order_new("alice", call, "buy", 1, price=50, client_order_id="late")
        self.assertEqual(cm.exception.code, "NOT_PRIMARY")
        self.assertEqual(cm.exception.reply["error"]["primary"], b.req)  # who took over
        with self.assertRaises(ChError) as cm:  # and every write after it
            ca.order_new("alice", call, "buy", 1, price=51)
        self.assertEqual(cm.exception.code, "NOT_PRIMARY")
        self.assertEqual(ca.stats()["cluster"]["role"], "fenced")
        with open(os.path.join(self.tmp, "a", "chd.log")) as f:
            log = f.read()
        self.assertTrue("event=fenced" in log or "event=lease_lost" in log, log[-2000:])
        self.assertEqual(len(ca.orders("alice")), 20)  # reads answer, from the state as it was
        # the refused write is nowhere: b never saw it, and b takes writes
        self.assertEqual(len(cb.orders("alice")), 20)
        cb.order_new("alice", call, "buy", 1, price=52, client_order_id="b0")
        self.assertEqual(len(cb.orders("alice")), 21)
        hb = cb.call("state.hash")
        ca.close()
        a.stop(signal.SIGKILL)
        cb.close()
        b.stop(signal.SIGKILL)
        # a's store is behind the stream now: a start applies what it lacks from
        # the stream (b's writes, keys and client order ids), then takes over
        # once b's lease lapsed
        a.start()
        ca = a.client()
        self.wait_role(ca, "primary")
        self.assertEqual(ca.call("state.hash"), hb)  # b's state, byte for byte
        sa = ca.stats()["cluster"]
        self.assertEqual(sa["term"], 3)
        self.assertEqual(len(ca.orders("alice")), 21)
        ca.order_new("alice", call, "buy", 1, price=52, client_order_id="b0")
        self.assertEqual(len(ca.orders("alice")), 21)  # the repeat created nothing
        with open(os.path.join(self.tmp, "a", "chd.log")) as f:
            self.assertIn("event=caught_up", f.read())
        ca.close()
        # an unknown shard: said so, exit 1
        rc, err = self.status("eth")
        self.assertEqual(rc, 1)
        self.assertIn("no such shard", err)

    def test_standby_follows_then_takes_over(self):
        a = self.chd("a")
        a.start()
        ca = a.client()
        syms = [i["symbol"] for i in ca.instruments("BTC")]
        call = next(x for x in syms if x.endswith("-100000-C"))
        put = call[:-1] + "P"
        ca.market_update("BTC", 100000, time=int((time.time() + 3600) * 1e9))
        # a standby from an empty folder: it applies the stream from its start
        sb = self.chd("s", standby=True)
        sb.start()
        cs = sb.client()
        self.assertEqual(cs.stats()["cluster"]["role"], "standby")
        # a seeded flow on the primary: resting orders, cancels, pool fills, hedges
        import random
        rnd = random.Random(20)
        ca.account_open("alice", 5_000_000)
        ca.account_open("bob", 5_000_000)
        ids = []
        for i in range(300):
            who = rnd.choice(["alice", "bob"])
            if rnd.random() < 0.2 and ids:
                acct, oid, _ = ids.pop(rnd.randrange(len(ids)))
                ca.order_cancel(acct, oid)
            elif rnd.random() < 0.1:
                q = ca.quote(rnd.choice([call, put]), "buy", 1)
                ca.order_new(who, call, "buy", 1, price=q["price"], tif="ioc")
            else:
                r = ca.order_new(who, rnd.choice([call, put]), "buy", 1,
                                 price=1 + rnd.randrange(200), client_order_id=f"o{i}")
                ids.append((who, r["order_id"], f"o{i}"))
        want = ca.stats()["cluster"]["stream_seq"]
        deadline = time.monotonic() + 10
        while cs.stats()["cluster"]["stream_seq"] < want and time.monotonic() < deadline:
            time.sleep(0.02)
        st = cs.stats()["cluster"]
        self.assertEqual(st["stream_seq"], want)
        self.assertEqual(st["primary"], a.req)
        ha = ca.call("state.hash")
        self.assertEqual(cs.call("state.hash"), ha)  # the same state, byte for byte
        self.assertEqual(cs.orders("alice"), ca.orders("alice"))
        r = cs.call("orders", account="alice")  # a standby's read says how stale it is
        self.assertGreaterEqual(r["stale_batches"], 0)
        self.assertLess(r["stale_batches"], 5)
        self.assertGreaterEqual(r["stale_ms"], 0)
        self.assertNotIn("stale_batches", ca.call("orders", account="alice"))
        with self.assertRaises(ChError) as cm:
            cs.order_new("alice", call, "buy", 1, price=5)
        self.assertEqual(cm.exception.code, "NOT_PRIMARY")
        self.assertIn(a.req, str(cm.exception))  # the primary's URL, in the message
        self.assertEqual(cm.exception.reply["error"]["primary"], a.req)  # and as a field
        # the primary dies: the standby takes its lease once it lapsed, follows
        # the stream to its end and serves writes, with no one restarting it
        ca.close()
        a.stop(signal.SIGKILL)
        took = self.wait_role(cs, "primary")
        st = cs.stats()["cluster"]
        self.assertEqual(st["term"], 2)
        self.assertLess(took, 8)
        self.assertGreater(st["last_failover_ms"], 0)
        self.assertEqual(cs.call("state.hash")["sha256"], ha["sha256"])
        with H.client_module().Subscriber(sb.pub, "") as sub:  # its events: epoch 2
            time.sleep(0.3)
            cs.order_new("alice", call, "buy", 1, price=3, client_order_id="epoch")
            ev = None
            while (e := sub.recv(1000)) is not None:
                ev = e[1]
            self.assertIsNotNone(ev)
            self.assertEqual(ev["epoch"], 2)
        n = len(cs.orders("alice"))  # with the "epoch" order above
        acct, oid, coid = next(x for x in ids if x[0] == "alice")
        r = cs.order_new("alice", call, "buy", 1, price=5, client_order_id=coid)  # a repeat
        self.assertEqual(r["order_id"], oid)  # the first result, from a's time
        self.assertEqual(len(cs.orders("alice")), n)
        cs.order_new("alice", call, "buy", 1, price=5, client_order_id="new")
        self.assertEqual(len(cs.orders("alice")), n + 1)
        # the old primary restarted: the lease is held, so it follows as a standby
        a.start()
        ca = a.client()
        self.assertEqual(ca.stats()["cluster"]["role"], "standby")
        want = cs.stats()["cluster"]["stream_seq"]
        deadline = time.monotonic() + 10
        while ca.stats()["cluster"]["stream_seq"] < want and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(ca.call("state.hash"), cs.call("state.hash"))
        ca.close()
        cs.close()

    def test_three_servers(self):
        """replicas 3 on three servers: one killed, writes go on; two
        killed, writes stop with UNAVAILABLE; both back, writes resume by
        themselves; every acknowledged order is stored once."""
        nc = NatsCluster(self.tmp)
        try:
            for i in range(3):
                nc.start(i)
            deadline = time.monotonic() + 30  # a meta leader elected: streams can be made
            while True:
                out = subprocess.run([CHCTL, "cluster", "status", "--nats", nc.url, "--shard",
                                      "probe"], capture_output=True, text=True, timeout=30)
                if "no such shard" in out.stderr:
                    break
                self.assertLess(time.monotonic(), deadline, out.stderr)
                time.sleep(0.2)
            a = self.chd("a", cluster=nc.url, cluster_replicas=3, cluster_timeout_ms=5000)
            a.start()
            ca = a.client(timeout_ms=15000)
            call = next(i["symbol"] for i in ca.instruments("BTC")
                        if i["symbol"].endswith("-100000-C"))
            ca.account_open("zoe", 10_000_000)
            acked, n = [], [0]

            def write(seconds, expect_ok=True):
                """Orders for `seconds`, each retried on UNAVAILABLE (a leader
                election) until accepted; the acknowledged ones are kept."""
                t_end = time.monotonic() + seconds
                while time.monotonic() < t_end:
                    n[0] += 1
                    coid = f"z{n[0]}"
                    while True:
                        try:
                            r = ca.order_new("zoe", call, "buy", 1, price=1 + n[0] % 40,
                                             client_order_id=coid)
                            acked.append(r["order_id"])
                            break
                        except (ChError, H.client_module().TransportError) as e:
                            # UNAVAILABLE, or no reply (a client resends with
                            # its client_order_id)
                            self.assertEqual(getattr(e, "code", "UNAVAILABLE"), "UNAVAILABLE")
                            if not expect_ok:
                                return False
                            self.assertLess(time.monotonic(), t_end + 60, "no service")
                            time.sleep(0.05)
                return True

            write(1.0)
            self.assertEqual(self.status_at(nc.url)["replicas"], 3)
            nc.kill(0)  # one of three: the stream keeps a quorum
            write(2.0)
            nc.kill(1)  # two of three: no quorum, no acknowledgement
            self.assertFalse(write(5.0, expect_ok=False))
            before = len(acked)
            nc.start(0)
            nc.start(1)
            write(2.0)  # resumed by itself (retried until then)
            self.assertGreater(len(acked), before)
            ca.close()
            a.stop()
            mine = [o for o in a.dump()["open_orders"] if o["account"] == "zoe"]
            ids = [o["order_id"] for o in mine]
            self.assertEqual(len(ids), len(set(ids)))
            self.assertTrue(set(acked) <= set(ids), set(acked) - set(ids))
        finally:
            nc.close()

    def status_at(self, url, shard="btc"):
        out = subprocess.run([CHCTL, "cluster", "status", "--nats", url, "--shard", shard,
                              "--json"], capture_output=True, text=True, timeout=30, check=True)
        return json.loads(out.stdout)

    def test_two_shards_routed(self):
        """BTC and ETH on a shard each (BTC with a standby); one client over
        the shard map routes every request by its underlying and follows the
        BTC shard's failover by itself."""
        full = json.loads(subprocess.run([CHD, "--print-config"], capture_output=True,
                                         text=True, check=True).stdout)
        und = {u["name"]: u for u in full["underlyings"]}
        key = os.path.join(self.tmp, "admin.key")  # one admin key for every chd of the test
        with open(key, "w") as f:
            f.write("k" * 32 + "\n")
        os.chmod(key, 0o600)

        def member(name, shard, u, **cfg):
            d = self.chd(name, shard=shard, underlyings=[und[u]], **cfg)
            os.makedirs(d.dir, exist_ok=True)
            shutil.copy(key, os.path.join(d.dir, "admin.key"))
            d.start()
            return d

        btc_a = member("btc_a", "btc", "BTC")
        btc_s = member("btc_s", "btc", "BTC", standby=True)
        eth = member("eth", "eth", "ETH")
        # the shard map from the directory chd keeps in KeyValue: each shard's
        # underlyings and endpoints, its primary first
        out = subprocess.run([CHCTL, "cluster", "map", "--nats", self.nats.url],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        smap = {x["name"]: x for x in json.loads(out.stdout)["shards"]}
        self.assertEqual(smap["btc"]["underlyings"], ["BTC"])
        self.assertEqual(smap["btc"]["endpoints"], [btc_a.req, btc_s.req])
        self.assertEqual((smap["eth"]["underlyings"], smap["eth"]["endpoints"]),
                         (["ETH"], [eth.req]))
        # the standby first: a client must get past a NOT_PRIMARY too
        smap["btc"]["endpoints"].reverse()
        shards = os.path.join(self.tmp, "shards.json")
        with open(shards, "w") as f:
            json.dump({"shards": list(smap.values())}, f)
        c = H.client_module().Client(shards=shards, key="k" * 32, timeout_ms=3000)
        self.assertEqual(c.hello()["underlyings"], ["BTC"])  # the first shard by default
        c.account_open("alice", 1_000_000)  # names no underlying: the chosen shard, btc
        c.set_shard("ETH")
        self.assertEqual(c.hello()["underlyings"], ["ETH"])
        c.account_open("alice", 1_000_000)  # the same account on the other shard
        btc_call = next(i["symbol"] for i in c.instruments("BTC") if i["symbol"].endswith("-C"))
        eth_call = next(i["symbol"] for i in c.instruments("ETH") if i["symbol"].endswith("-C"))
        rb = c.order_new("alice", btc_call, "buy", 1, price=10, client_order_id="b1")
        re_ = c.order_new("alice", eth_call, "buy", 1, price=10, client_order_id="e1")
        with btc_a.client() as a, eth.client() as e:
            self.assertEqual([o["order_id"] for o in a.orders("alice")], [rb["order_id"]])
            self.assertEqual([o["order_id"] for o in e.orders("alice")], [re_["order_id"]])
        # the standby comes first in the map: NOT_PRIMARY, then the primary
        # answered. Now the primary dies: the same client goes on, once the
        # standby took the shard
        btc_a.stop(signal.SIGKILL)
        t0 = time.monotonic()
        rb2 = c.order_new("alice", btc_call, "buy", 1, price=11, client_order_id="b2")
        took = time.monotonic() - t0
        self.assertLess(took, 10)
        c.set_shard("btc")
        ids = sorted(o["order_id"] for o in c.orders("alice"))
        self.assertEqual(ids, sorted([rb["order_id"], rb2["order_id"]]))
        with btc_s.client() as sb:
            self.assertEqual(sb.stats()["cluster"]["role"], "primary")
        out = subprocess.run([CHCTL, "cluster", "map", "--nats", self.nats.url],
                             capture_output=True, text=True, timeout=30)
        smap = {x["name"]: x for x in json.loads(out.stdout)["shards"]}
        self.assertEqual(smap["btc"]["endpoints"][0], btc_s.req)  # the new primary first
        c.close()
        # chctl over the same map: by the symbol's underlying, or --shard
        base = [CHCTL, "--shards", shards, "--key", "k" * 32, "--json"]
        out = subprocess.run(base + ["orders", "alice"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(json.loads(out.stdout)["orders"]), 2)  # btc: the first shard
        out = subprocess.run(base + ["--shard", "eth", "orders", "alice"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual([o["order_id"] for o in json.loads(out.stdout)["orders"]],
                         [re_["order_id"]])

    def test_transfer_between_shards(self):
        """account.transfer: the debit on the source when acknowledged, the
        credit on the destination once, also across a kill -9 of either."""
        full = json.loads(subprocess.run([CHD, "--print-config"], capture_output=True,
                                         text=True, check=True).stdout)
        und = {u["name"]: u for u in full["underlyings"]}
        btc = self.chd("btc", shard="btc", underlyings=[und["BTC"]])
        eth = self.chd("eth", shard="eth", underlyings=[und["ETH"]])
        btc.start()
        eth.start()
        cb, ce = btc.client(), eth.client()
        cb.account_open("al", 1_000)
        ce.account_open("al", 50)

        def cash(c):
            return c.positions("al")["cash"]

        def wait_cash(c, want):
            deadline = time.monotonic() + 10
            while cash(c) != want:
                self.assertLess(time.monotonic(), deadline, f"cash {cash(c)}, want {want}")
                time.sleep(0.02)

        r = cb.call("account.transfer", account="al", amount=100, to_shard="eth")
        self.assertTrue(r["transfer_id"].startswith("btc:"))
        self.assertEqual(r["cash"], 900)
        wait_cash(ce, 150)
        st = cb.stats()["cluster"]
        self.assertEqual((st["transfers_pending"], st["transfers_sent"]), (0, 1))
        self.assertEqual(ce.stats()["cluster"]["transfers_received"], 1)
        # refused: nothing moves anywhere
        for bad, code in (({"amount": 10_000}, "INSUFFICIENT_FUNDS"),
                          ({"amount": -5}, "BAD_REQUEST"),
                          ({"to_shard": "btc"}, "BAD_REQUEST")):
            args = dict({"account": "al", "amount": 1, "to_shard": "eth"}, **bad)
            with self.assertRaises(ChError) as cm:
                cb.call("account.transfer", **args)
            self.assertEqual(cm.exception.code, code, args)
        self.assertEqual((cash(cb), cash(ce)), (900, 150))
        # the source dies right after acknowledging: its successor (here: its
        # restart) sends the credit from the log, once
        eth.proc.send_signal(signal.SIGSTOP)  # the credit cannot be applied meanwhile
        cb.call("account.transfer", account="al", amount=25, to_shard="eth")
        cb.close()
        btc.stop(signal.SIGKILL)
        btc.start()
        cb = btc.client()
        self.assertEqual(cash(cb), 875)
        eth.proc.send_signal(signal.SIGCONT)
        wait_cash(ce, 175)
        # the destination restarted applies nothing twice (its cursor is in its log)
        ce.close()
        eth.stop(signal.SIGKILL)
        eth.start()
        ce = eth.client()
        self.wait_role(ce, "primary")  # its own lease lapses first (it was killed)
        time.sleep(0.3)
        self.assertEqual(cash(ce), 175)
        self.assertEqual(ce.stats()["cluster"]["transfer_in_seq"], 2)
        # a credit for an account the destination lacks waits until it is opened there
        cb.account_open("bo", 100)
        cb.call("account.transfer", account="bo", amount=40, to_shard="eth")
        time.sleep(0.5)
        self.assertEqual(ce.stats()["cluster"]["transfer_in_seq"], 2)
        ce.account_open("bo", 0)
        wait_cash_bo = time.monotonic() + 10
        while ce.positions("bo")["cash"] != 40:
            self.assertLess(time.monotonic(), wait_cash_bo)
            time.sleep(0.02)
        cb.close()
        ce.close()

    @unittest.skipIf(CHVENUE is None, "needs chvenue (the 4th argument)")
    def test_hedge_in_flight_across_a_failover(self):
        """A hedge order in flight at an external venue when the primary dies:
        the standby, promoted, sends it again by its id and books the venue's
        one execution; none executes twice."""
        venue_url = f"ipc://{self.tmp}/venue.ipc"
        vlog = open(os.path.join(self.tmp, "chvenue.log"), "a")
        venue = subprocess.Popen([CHVENUE, "--listen", venue_url], stderr=vlog)
        try:
            conf = {"hedge_policy": "every_batch", "hedge_venue": venue_url,
                    "hedge_venue_timeout_ms": 200}
            a = self.chd("a", **conf)
            a.start()
            sb = self.chd("s", standby=True, **conf)
            sb.start()
            ca, cs = a.client(), sb.client()
            ca.account_open("hx", 50_000_000)
            calls = sorted((i for i in ca.instruments("BTC") if i["type"] == "call"),
                           key=lambda i: (i["expiry"], abs(i["strike"] - 100000)))
            sym = calls[0]["symbol"]

            def buy(n):
                for _ in range(n):
                    q = ca.quote(sym, "buy", 1)
                    ca.order_new("hx", sym, "buy", 1, price=q["price"], tif="ioc")

            buy(2)
            deadline = time.monotonic() + 15
            while ca.hedge()["in_flight_orders"] != 0:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            venue.send_signal(signal.SIGSTOP)  # the next order stays in flight
            buy(4)
            h = ca.hedge()
            self.assertEqual(h["in_flight_orders"], 1)
            ca.close()
            a.stop(signal.SIGKILL)
            self.wait_role(cs, "primary")
            again = cs.hedge()
            self.assertEqual((again["in_flight_orders"], again["orders"]),
                             (1, h["orders"]))
            venue.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 15
            while (again := cs.hedge())["in_flight_orders"] != 0:
                self.assertLess(time.monotonic(), deadline, again)
                time.sleep(0.05)
            with H.client_module().Client(venue_url, timeout_ms=2000) as v:
                vs = v.call("stats")
            self.assertEqual(vs["executed"], again["orders"])  # each order executed once
            self.assertEqual(again["fills"], again["orders"])
            self.assertAlmostEqual(vs["qty"], again["volume"], places=6)
            cs.close()
        finally:
            venue.send_signal(signal.SIGCONT)
            venue.terminate()
            venue.wait(timeout=10)
            vlog.close()

    def test_large_batch_is_split(self):
        """A batch larger than the server's max_payload goes in several
        appends of whole records; a standby applies it whole."""
        self.nats.stop()
        self.nats.log.close()
        self.nats = Nats(self.tmp, max_payload=65536)
        self.nats.start()
        a = self.chd("a")
        a.start()
        sb = self.chd("s", standby=True)
        sb.start()
        ca, cs = a.client(), sb.client()
        ca.market_update("BTC", 100000, time=int((time.time() + 3600) * 1e9))
        ca.account_open("big", 100_000_000)
        call = next(i["symbol"] for i in ca.instruments("BTC") if i["symbol"].endswith("-C"))
        orders = [{"symbol": call, "side": "buy", "qty": 1, "price": 1 + i % 100}
                  for i in range(3000)]  # about 3000 commands: several 64 KiB parts
        before = ca.stats()["cluster"]["stream_seq"]
        r = ca.call("order.batch", account="big", orders=orders)
        self.assertEqual(len(r["results"]), 3000)
        self.assertTrue(all(x.get("ok", True) and "error" not in x for x in r["results"]),
                        r["results"][:2])
        after = ca.stats()["cluster"]["stream_seq"]
        self.assertGreaterEqual(after - before, 2)  # split: one append would be 1
        deadline = time.monotonic() + 10
        while cs.stats()["cluster"]["stream_seq"] < after:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.assertEqual(cs.call("state.hash"), ca.call("state.hash"))
        self.assertEqual(len(cs.orders("big")), 3000)
        ca.close()
        cs.close()

    def test_writes_stop_without_the_stream(self):
        a = self.chd("a")
        a.start()
        ca = a.client(timeout_ms=10000)
        ca.account_open("carol", 1_000_000)
        self.nats.stop()
        t0 = time.monotonic()
        with self.assertRaises(ChError) as cm:
            ca.account_open("dave", 1_000_000)
        self.assertEqual(cm.exception.code, "UNAVAILABLE")
        self.assertLess(time.monotonic() - t0, 8)  # the timeout, and NATS' reconnects
        with self.assertRaises(ChError) as cm:
            ca.account_open("erin", 1_000_000)
        self.assertEqual(cm.exception.code, "UNAVAILABLE")
        st = ca.stats()
        self.assertTrue(st["halted"])
        self.assertGreater(st["cluster"]["replication_failures"], 0)
        # NATS back (its stream on disk): chd takes writes again by itself
        self.nats.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                ca.account_open("frank", 1_000_000)
                break
            except ChError as e:
                self.assertEqual(e.code, "UNAVAILABLE")
                self.assertLess(time.monotonic(), deadline, "writes did not resume")
                time.sleep(0.1)
        st = ca.stats()
        self.assertFalse(st["halted"])
        self.assertEqual((st["cluster"]["role"], st["cluster"]["term"]), ("primary", 1))
        with open(os.path.join(self.tmp, "a", "chd.log")) as f:
            self.assertIn("event=resumed", f.read())
        ca.close()
        a.stop()
        # erin, refused while writes were stopped, never was stored; dave's
        # append may have reached the stream as the server went down (its
        # acknowledgement lost): then the shard applied it when it resumed
        names = [x["account"] for x in a.dump()["accounts"]]
        self.assertIn("carol", names)
        self.assertIn("frank", names)
        self.assertLessEqual(names.count("dave"), 1)
        self.assertNotIn("erin", names)


if __name__ == "__main__":
    unittest.main(verbosity=2)
