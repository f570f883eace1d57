"""Shared by the chd tests (test_chd.py, test_faults.py, soak_chd.py): a
daemon in a temporary folder, the audit dump, the acknowledged-work check,
and the daemon's memory and file descriptors from /proc.

Call configure(CHD, CHCTL, LIBCHCLIENT) before using anything else."""
import faulthandler
import json
import os
import signal
import socket
import subprocess
import sys
import time

CHD = CHCTL = None

# chd's clock in the tests that compare prices, fills or Greeks: a fixed one
# (moved only by market.update's time). On the wall clock the series' weekly
# Friday expiries are 8 hours to 7 days away depending on the day the suite
# runs, and prices, fills and Greeks with them; and chd steps its clock once
# a second, so two replies compared could straddle a step.
TEST_CLOCK = "2026-01-02T08:00:00Z"
_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_here, "..", "clients", "python"))


def configure(chd, chctl, lib):
    global CHD, CHCTL
    CHD, CHCTL = chd, chctl
    os.environ["CH_CLIENT_LIB"] = lib


def watchdog(seconds):
    """A test that hangs prints where (every thread's Python stack) and ends
    after `seconds`, below ctest's timeout, instead of being killed silently.
    CH_TEST_WATCHDOG overrides the time (0: off)."""
    seconds = int(os.environ.get("CH_TEST_WATCHDOG", seconds))
    if seconds > 0:
        faulthandler.dump_traceback_later(seconds, exit=True)


def client_module():
    import chclient  # after configure(): it loads CH_CLIENT_LIB
    return chclient


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, tmp, transport="ipc", config=None, extra=()):
        self.dir = os.path.join(tmp, "var")
        if transport == "ipc":
            self.req = f"ipc://{tmp}/req.ipc"
            self.pub = f"ipc://{tmp}/pub.ipc"
        else:  # tcp, or tls (tls+tcp)
            scheme = "tls+tcp" if transport == "tls" else "tcp"
            self.req = f"{scheme}://127.0.0.1:{free_port()}"
            self.pub = f"{scheme}://127.0.0.1:{free_port()}"
        self.config = None
        if config is not None:
            self.config = os.path.join(tmp, "chd.json")
            with open(self.config, "w") as f:
                json.dump(config, f)
        self.log = open(os.path.join(tmp, "chd.log"), "a")
        self.proc = None
        self.extra = list(extra)
        self.key = None  # the admin key, once started

    def start(self, durability="nosync"):
        cm = client_module()
        args = [CHD, "--req", self.req, "--pub", self.pub, "--data", self.dir,
                "--durability", durability]
        if self.config:
            args += ["--config", self.config]
        # stdout too goes to the log: a daemon left behind by a failed test
        # must not hold ctest's output pipe open
        self.proc = subprocess.Popen(args + self.extra, stdout=self.log, stderr=self.log)
        # wait until it answers (30 s at most): a refused dial is retried at
        # once; a request is given 2 s, so that a loaded machine does not
        # leave timed-out requests behind (closing a REQ socket with one in
        # flight is where NNG 1.5.2's nng_close can hang, upstream #1543)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:  # it refused to start: no need to wait
                break
            try:
                with cm.Client(self.req, timeout_ms=2000) as c:
                    c.hello()
                    self.key = cm.admin_key(self.dir)
                    return
            except (cm.TransportError, OSError):
                time.sleep(0.05)
        raise RuntimeError("chd did not start")

    def client(self, key=None, **kw):
        """A client with the admin key (or the given one)."""
        return client_module().Client(self.req, key=key or self.key, **kw)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=20)
        self.proc = None
        return rc

    def close(self):
        if self.proc is not None:
            self.stop()
        self.log.close()

    def rss_anon_kb(self):
        """Anonymous resident memory (the heap; LMDB's file pages excluded)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def dump(self):
        out = subprocess.run([CHCTL, "dump", "--db", self.dir], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        return json.loads(out)


class Ledger:
    """What the clients were told: acknowledged orders, fills and cancels."""

    def __init__(self):
        self.orders = {}      # order_id -> (account, qty, tif)
        self.fills = {}       # trade_id -> (qty, price)
        self.cancelled = set()

    def order(self, account, qty, tif, reply):
        self.orders[reply["order_id"]] = (account, qty, tif)
        for f in reply["fills"]:
            self.fills[f["trade_id"]] = (f["qty"], f["price"])

    def merge(self, other):
        self.orders.update(other.orders)
        self.fills.update(other.fills)
        self.cancelled |= other.cancelled

    def check(self, dump, exact, unsure=()):
        """Every acknowledged order and fill is in the dump (an audit of the
        store); with `exact`, nothing else is (no request went unanswered).
        `unsure`: order ids whose cancel was in flight when the daemon died
        (executed or not, nobody was told). Returns a list of problems
        (empty: all good)."""
        bad = []
        fills = {f["trade_id"]: f for f in dump["fills"]}
        for tid, (qty, price) in self.fills.items():
            f = fills.get(tid)
            if f is None or f["qty"] != qty or f["price"] != price:
                bad.append(f"acknowledged fill {tid} {qty}@{price} is {f}")
        if exact and set(fills) - set(self.fills):
            # every fill has a taker, and the taker's reply lists it
            extra = sorted(set(fills) - set(self.fills), key=int)[:3]
            bad.append(f"fills nobody was told about: {[fills[t] for t in extra]}")
        done = {}
        for f in dump["fills"]:
            for k in ("taker_order_id", "maker_order_id"):
                if k in f:
                    done[f[k]] = done.get(f[k], 0) + f["qty"]
        open_ = {o["order_id"]: o for o in dump["open_orders"]}
        for oid, (acct, qty, tif) in self.orders.items():
            o = open_.get(oid)
            if oid in self.cancelled:
                if o is not None:
                    bad.append(f"order {oid} was cancelled (acknowledged) but is open")
            elif tif == "gtc" and not (oid in unsure and o is None):
                left = o["remaining_qty"] if o else 0
                if done.get(oid, 0) + left != qty:
                    bad.append(f"order {oid} of {acct}: {qty} = filled {done.get(oid, 0)} "
                               f"+ open {left} does not hold")
        if exact:
            phantom = [o for o in open_ if o not in self.orders]
            if phantom:
                bad.append(f"open orders nobody was told about: {phantom[:5]}")
        pos = {}
        for a in dump["accounts"]:
            for p in a["positions"]:
                pos[p["symbol"]] = pos.get(p["symbol"], 0) + p["qty"]
        if any(v != 0 for v in pos.values()):
            bad.append(f"positions do not sum to zero: {pos}")
        return bad


class Trader:
    """One client's order flow for load and fault tests: limit orders around
    the pool's mid (some cross, some rest), IOCs, cancels, reads. It only
    buys or only sells, so it never meets itself, and keeps at most
    `max_resting` orders on the book (a steady state). Every request carries
    an id that its reply must echo; every acknowledged order, fill and
    cancel goes into its ledger."""

    def __init__(self, url, account, key, side, mids, seed, max_resting=20, timeout_ms=15000):
        import random
        self.url, self.account, self.key, self.side = url, account, key, side
        self.mids = mids  # symbol -> (mid, tick)
        self.rnd = random.Random(seed)
        self.max_resting = max_resting
        self.timeout_ms = timeout_ms
        self.ledger = Ledger()
        self.resting = []
        self.sent = self.answered = self.rejects = 0
        self.error = None
        self.inflight = None  # (op, fields) of a request with no reply yet
        self._n = 0

    def _call(self, c, op, **fields):
        cm = client_module()
        self._n += 1
        rid = f"{self.account}-{self._n}"
        self.sent += 1
        self.inflight = (op, fields)
        try:
            r = c.call(op, id=rid, **fields)
        except cm.ChError as e:
            self.answered += 1
            self.inflight = None
            if e.reply.get("id") != rid:
                raise AssertionError(f"reply to {rid} carries id {e.reply.get('id')}")
            raise
        self.answered += 1
        self.inflight = None
        if r.get("id") != rid:
            raise AssertionError(f"reply to {rid} carries id {r.get('id')}")
        return r

    def step(self, c):
        cm = client_module()
        x = self.rnd.random()
        if self.resting and (x < 0.2 or len(self.resting) > self.max_resting):
            oid = self.resting.pop(0 if len(self.resting) > self.max_resting else
                                   self.rnd.randrange(len(self.resting)))
            try:
                self._call(c, "order.cancel", account=self.account, order_id=oid)
                self.ledger.cancelled.add(oid)
            except cm.ChError as e:
                if e.code != "UNKNOWN_ORDER":  # filled meanwhile
                    raise
            return
        if x < 0.3:
            self._call(c, "positions" if x < 0.25 else "orders", account=self.account)
            return
        sym = self.rnd.choice(sorted(self.mids))
        mid, tick = self.mids[sym]
        off = mid * (0.06 * self.rnd.random() - 0.02)  # mostly passive, some crossing
        px = mid - off if self.side == "buy" else mid + off
        px = max(tick, round(px / tick) * tick)
        tif = "ioc" if self.rnd.random() < 0.25 else "gtc"
        qty = self.rnd.randint(1, 3)
        try:
            r = self._call(c, "order.new", account=self.account, symbol=sym, side=self.side,
                           qty=qty, price=px, tif=tif)
        except cm.ChError as e:
            if e.code not in ("INSUFFICIENT_FUNDS", "INSUFFICIENT_MARGIN", "RISK_LIMIT",
                              "POST_ONLY_WOULD_TRADE"):
                raise
            self.rejects += 1
            return
        self.ledger.order(self.account, qty, tif, r)
        if tif == "gtc" and r["remaining_qty"] > 0:
            self.resting.append(r["order_id"])

    def run(self, deadline, stop=None, reconnect_every=0):
        """Until `deadline` (time.monotonic()) or `stop` is set; a new
        connection every `reconnect_every` requests (0: one for the run).
        A transport failure ends the run quietly (the fault tests kill the
        daemon); any other failure is kept in .error."""
        cm = client_module()
        c = None
        try:
            c = cm.Client(self.url, timeout_ms=self.timeout_ms, key=self.key)
            while time.monotonic() < deadline and not (stop and stop.is_set()):
                self.step(c)
                if reconnect_every and self._n % reconnect_every == 0:
                    c.close()
                    c = cm.Client(self.url, timeout_ms=self.timeout_ms, key=self.key)
        except cm.TransportError:
            pass
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)
        finally:
            if c is not None:
                c.close()


def open_traders(d, n, prefix, cash=50_000_000, seed=1, **kw):
    """n accounts with their keys and one Trader each (half buy, half sell)
    on the near-the-money series the pool quotes."""
    with d.client() as c:
        inst = [i for i in c.instruments("BTC") if i["type"] in ("call", "put")]
        first = min(i["expiry"] for i in inst)
        mids = {}
        for i in inst:
            if i["expiry"] == first and 90000 <= i["strike"] <= 110000:
                try:
                    q = c.quote(i["symbol"], "buy", 1)
                    mids[i["symbol"]] = (q["model"], i["tick"])
                except client_module().ChError:
                    pass
        traders = []
        for k in range(n):
            name = f"{prefix}{k}"
            key = c.account_open(name, cash)["key"]
            traders.append(Trader(d.req, name, key, "buy" if k % 2 else "sell", mids, seed + k,
                                  **kw))
    return traders
