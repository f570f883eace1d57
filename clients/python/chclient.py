"""chclient - talk to chd, the clearinghouse daemon, from Python.

Standard library only: ctypes over libchclient (the C client library built
with the project). Requests and replies are the JSON objects of PROTOCOL.md.

    from chclient import Client, ChError
    with Client("tcp://127.0.0.1:7450") as c:
        c.account_open("alice", 1_000_000)
        r = c.order_new("alice", "BTC-27NOV26-100000-C", "buy", 2, price=2500, tif="ioc")
        for f in r["fills"]:
            print(f["source"], f["qty"], "@", f["price"])

Keys (PROTOCOL.md, Authentication): Client(url, key=...) adds the key to
every request. The operator's admin key is the file admin.key in chd's data
folder (admin_key(data_dir) reads it); account.open returns each account's
key. Without key=, $CH_KEY is used if set.

An error reply raises ChError, whose .code is the protocol's error code
(e.g. "INSUFFICIENT_FUNDS") and .message the server's text.

The library is found through $CH_CLIENT_LIB, next to this file's build tree
(build/clients/libchclient.so), or the system's library path.
"""

import ctypes
import ctypes.util
import json
import os
import struct

__all__ = ["Client", "Subscriber", "ChError", "TransportError", "encode_batch",
           "decode_batch_reply", "admin_key"]


def admin_key(data_dir="var"):
    """The admin key that chd created in its data folder (DIR/admin.key)."""
    with open(os.path.join(data_dir, "admin.key")) as f:
        return f.readline().strip()


class ChError(Exception):
    """An error reply from chd: .code (protocol code), .message, .reply."""

    def __init__(self, code, message, reply=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.reply = reply


class TransportError(Exception):
    """The request could not be sent or no reply came (NNG error)."""


def _load():
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("CH_CLIENT_LIB"),
                  os.path.join(here, "..", "..", "build", "clients", "libchclient.so"),
                  ctypes.util.find_library("chclient")]
    for path in candidates:
        if path and (os.path.exists(path) or not os.path.dirname(path)):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    raise OSError("libchclient not found: build the project or set CH_CLIENT_LIB")


_lib = _load()
_c_char_pp = ctypes.POINTER(ctypes.c_char_p)
_lib.ch_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
_lib.ch_client_close.argtypes = [ctypes.c_void_p]
_lib.ch_client_open_shards.argtypes = [ctypes.c_char_p, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                       ctypes.c_size_t]
_lib.ch_client_set_shard.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_lib.ch_client_call.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
_lib.ch_client_free.argtypes = [ctypes.c_void_p]
_lib.ch_client_strerror.argtypes = [ctypes.c_int]
_lib.ch_client_strerror.restype = ctypes.c_char_p
_lib.ch_sub_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
_lib.ch_sub_close.argtypes = [ctypes.c_void_p]
_lib.ch_sub_recv.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                             ctypes.POINTER(ctypes.c_size_t)]


def _err(rv):
    return _lib.ch_client_strerror(rv).decode()


def _take(ptr, n):
    try:
        return ctypes.string_at(ptr, n.value).decode("utf-8")
    finally:
        _lib.ch_client_free(ptr)


def encode_batch(account, orders, req_id=0):
    """The binary order.batch (proto/README.md): orders are dicts with instr
    (instrument id), side, qty, price_ticks, and optional type, tif,
    post_only, client_order_id."""
    sides, types, tifs = {"buy": 0, "sell": 1}, {"limit": 0, "market": 1}, {"gtc": 0, "ioc": 1, "fok": 2}
    acct = account.encode()
    out = [b"CH", struct.pack("<BBQB", 1, 1, req_id, len(acct)), acct, struct.pack("<I", len(orders))]
    for o in orders:
        coid = o.get("client_order_id", "").encode()
        out.append(struct.pack("<IBBBBqqB", o["instr"], sides[o["side"]], types[o.get("type", "limit")],
                               tifs[o.get("tif", "gtc")], 1 if o.get("post_only") else 0,
                               o["qty"], o.get("price_ticks", 0), len(coid)))
        out.append(coid)
    return b"".join(out)


def decode_batch_reply(data):
    """-> (id, error, results): error is 0 or a ch_err number; results are dicts."""
    if data[:2] != b"CH":
        raise ValueError("not a binary reply")
    _, op, rid, err = struct.unpack_from("<BBQH", data, 2)
    off = 14
    if err:
        return rid, err, []
    (count,) = struct.unpack_from("<I", data, off)
    off += 4
    results = []
    for _ in range(count):
        e, oid, status, filled, remaining, nf = struct.unpack_from("<HQBqqH", data, off)
        off += 29
        fills = []
        for _ in range(nf):
            tid, price, qty, src = struct.unpack_from("<QqqB", data, off)
            off += 25
            fills.append({"trade_id": tid, "price_ticks": price, "qty": qty,
                          "source": ("book", "net", "pool")[src]})
        results.append({"error": e, "order_id": oid, "status": status, "filled": filled,
                        "remaining": remaining, "fills": fills})
    return rid, 0, results


def round_to_tick(price, tick):
    """The nearest price on `tick` (at least one tick), exact in decimal
    ticks such as 0.5 or 0.01 (chd refuses prices off the tick)."""
    from decimal import Decimal, ROUND_HALF_EVEN
    t = Decimal(str(tick))
    n = (Decimal(str(price)) / t).to_integral_value(rounding=ROUND_HALF_EVEN)
    v = max(n, 1) * t
    return int(v) if v == v.to_integral_value() else float(v)


class Client:
    """A connection to chd's request endpoint (one request at a time); with
    `shards` (the path of a shard map, see ch_client_open_shards in
    ch/client.h), a client of several shards: each request goes to the
    primary of its underlying's shard, following a failover by itself."""

    def __init__(self, url="tcp://127.0.0.1:7450", timeout_ms=5000, key=None, shards=None):
        self._h = ctypes.c_void_p()
        if shards is not None:
            msg = ctypes.create_string_buffer(256)
            rv = _lib.ch_client_open_shards(shards.encode(), timeout_ms, ctypes.byref(self._h),
                                            msg, len(msg))
            if rv != 0:
                raise TransportError(f"{shards}: {msg.value.decode(errors='replace')}")
            url = shards
        else:
            rv = _lib.ch_client_open(url.encode(), timeout_ms, ctypes.byref(self._h))
            if rv != 0:
                raise TransportError(f"{url}: {_err(rv)}")
        self.url = url
        self.key = key if key is not None else (os.environ.get("CH_KEY") or None)

    def set_shard(self, name_or_underlying):
        """A shard client: requests that name no underlying (positions,
        stats...) go to this shard from now on."""
        if _lib.ch_client_set_shard(self._h, name_or_underlying.encode()) != 0:
            raise ValueError(f"no shard {name_or_underlying!r} in {self.url}")

    def close(self):
        if self._h:
            _lib.ch_client_close(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def raw_bytes(self, data):
        """Send request bytes (JSON or the binary encoding), return the reply bytes."""
        if not self._h:
            raise TransportError(f"{self.url}: the client is closed")
        out = ctypes.c_void_p()
        n = ctypes.c_size_t()
        rv = _lib.ch_client_call(self._h, data, len(data), ctypes.byref(out), ctypes.byref(n))
        if rv != 0:
            raise TransportError(f"{self.url}: {_err(rv)}")
        try:
            return ctypes.string_at(out, n.value)
        finally:
            _lib.ch_client_free(out)

    def raw(self, text):
        """Send a request text, return the reply text."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        return self.raw_bytes(data).decode("utf-8")

    def call(self, op, **fields):
        """Send {"op": op, ...fields}; return the reply's fields or raise ChError."""
        req = {"op": op}
        if self.key is not None and "key" not in fields:
            req["key"] = self.key
        req.update({k: v for k, v in fields.items() if v is not None})
        reply = json.loads(self.raw(json.dumps(req)))
        if not reply.get("ok"):
            e = reply.get("error", {})
            raise ChError(e.get("code", "?"), e.get("message", ""), reply)
        return reply

    # one method per protocol op
    def hello(self):
        return self.call("hello")

    def instruments(self, underlying=None):
        return self.call("instruments", underlying=underlying)["instruments"]

    def instrument_add(self, symbol):
        return self.call("instrument.add", symbol=symbol)

    def account_open(self, account, cash):
        return self.call("account.open", account=account, cash=cash)

    def account_deposit(self, account, amount):
        return self.call("account.deposit", account=account, amount=amount)

    def pool_deposit(self, account, amount, tranche=None):
        """Into the general pool, or strike tranche `tranche` (its id)."""
        extra = {} if tranche is None else {"tranche": tranche}
        return self.call("pool.deposit", account=account, amount=amount, **extra)

    def pool_withdraw(self, account, shares, tranche=None):
        extra = {} if tranche is None else {"tranche": tranche}
        return self.call("pool.withdraw", account=account, shares=shares, **extra)

    def tranche_add(self, underlying, strike_lo, strike_hi, expiry_lo=None, expiry_hi=None):
        """A strike tranche (admin): LP capital for strikes strike_lo..strike_hi
        (and, optionally, expiries expiry_lo..expiry_hi, ISO-8601 times)."""
        extra = {} if expiry_lo is None else {"expiry_lo": expiry_lo, "expiry_hi": expiry_hi}
        return self.call("pool.tranche.add", underlying=underlying, strike_lo=strike_lo,
                         strike_hi=strike_hi, **extra)

    def pools(self, underlying=None):
        """The general pool and every strike tranche: capital, utilisation, NAV."""
        extra = {} if underlying is None else {"underlying": underlying}
        return self.call("pools", **extra)

    def market_update(self, underlying, index, tick=None, **fields):
        """index and perp must be on the underlying's tick; with `tick`
        (e.g. 0.5), real prices are rounded to the nearest tick first."""
        if tick is not None:
            index = round_to_tick(index, tick)
            if fields.get("perp") is not None:
                fields["perp"] = round_to_tick(fields["perp"], tick)
        return self.call("market.update", underlying=underlying, index=index, **fields)

    def order_new(self, account, symbol, side, qty, price=None, **fields):
        return self.call("order.new", account=account, symbol=symbol, side=side, qty=qty,
                         price=price, **fields)

    def order_batch(self, account, orders):
        return self.call("order.batch", account=account, orders=orders)["results"]

    def order_cancel(self, account, order_id):
        return self.call("order.cancel", account=account, order_id=str(order_id))

    def order_replace(self, account, order_id, qty=None, price=None):
        return self.call("order.replace", account=account, order_id=str(order_id), qty=qty,
                         price=price)

    def orders(self, account):
        return self.call("orders", account=account)["orders"]

    def book(self, symbol, depth=10):
        return self.call("book", symbol=symbol, depth=depth)

    def quote(self, symbol, side, qty):
        return self.call("quote", symbol=symbol, side=side, qty=qty)

    def positions(self, account):
        return self.call("positions", account=account)

    def risk(self, underlying=None):
        return self.call("risk", underlying=underlying)

    def hedge(self, underlying=None):
        return self.call("hedge", underlying=underlying)

    def stats(self):
        return self.call("stats")


class Subscriber:
    """Events from chd's PUB endpoint: recv() -> (topic, dict) or None on timeout."""

    def __init__(self, url="tcp://127.0.0.1:7451", prefix=""):
        self._h = ctypes.c_void_p()
        rv = _lib.ch_sub_open(url.encode(), prefix.encode(), ctypes.byref(self._h))
        if rv != 0:
            raise TransportError(f"{url}: {_err(rv)}")

    def recv(self, timeout_ms=1000):
        out = ctypes.c_void_p()
        n = ctypes.c_size_t()
        rv = _lib.ch_sub_recv(self._h, timeout_ms, ctypes.byref(out), ctypes.byref(n))
        if rv != 0:
            return None
        text = _take(out, n)
        topic, _, body = text.partition(" ")
        return topic, json.loads(body)

    def close(self):
        if self._h:
            _lib.ch_sub_close(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
