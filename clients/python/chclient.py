"""chclient - talk to chd, the clearinghouse daemon, from Python.

Standard library only: ctypes over libchclient (the C client library built
with the project). Requests and replies are the JSON objects of the protocol
(proto/README.md); a tutorial is in clients/python/README.md.

    from chclient import Client, ChError
    with Client("tcp://127.0.0.1:7450") as c:
        c.account_open("alice", 1_000_000)
        r = c.order_new("alice", "BTC-27NOV26-100000-C", "buy", 2, price=2500, tif="ioc")
        for f in r.fills:
            print(f.source, f.qty, "@", f.price)

Replies are typed: dataclasses (Hello, OrderResult with its Fill list,
Positions, Risk, Hedge, Book, Quote, Stats, ...) built from the JSON reply.
A field the class does not name (one a newer chd adds) is kept in .extra
and is read as an attribute too (r.stale_batches); .raw is the reply as it
came. Dict-style access (r["order_id"], "x" in r, r.get("x"), r.keys())
still works on every reply, unchanged, but is deprecated (a
DeprecationWarning, once) and goes in the next version: use the attributes.

Keys (proto/README.md, Access and limits): Client(url, key=...) adds the key
to every request. The operator's admin key is the file admin.key in chd's
data folder (admin_key(data_dir) reads it), the read-only key readonly.key
(readonly_key(data_dir)); account.open returns each account's key. Without
key=, $CH_KEY is used if set.

An error reply raises ChError, whose .code is the protocol's error code
(e.g. "INSUFFICIENT_FUNDS") and .message the server's text. A request that
could not be sent or got no reply raises TransportError.

Which libchclient is loaded (the first that loads; library_path says which):
  1. $CH_CLIENT_LIB, a path to the library;
  2. the library directory recorded when the package was installed (pip
     install with CH_INSTALL_PREFIX set to cmake's install prefix, see
     setup.py), so that no variable is needed after;
  3. imported from the source tree (clients/python): the build tree's
     build/clients/libchclient.so;
  4. the prefix this module is installed under (a venv or `pip install
     --prefix` made at cmake's prefix; /usr/local): PREFIX/lib*/libchclient.so*;
  5. pkg-config's libdir of libchclient;
  6. ctypes.util.find_library("chclient") (the system's library path).
No version number is written anywhere: the unversioned libchclient.so is
taken first, else the highest libchclient.so.N found.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import glob
import json
import os
import re
import struct
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, NamedTuple, Optional

__version__ = "0.2.0"

__all__ = ["Client", "Subscriber", "ChError", "TransportError", "encode_batch",
           "decode_batch_reply", "admin_key", "readonly_key", "round_to_tick", "Event",
           "Reply", "Hello", "Account", "Instrument", "Fill", "OrderResult", "CancelResult",
           "OpenOrder", "Level", "Book", "Quote", "Position", "Positions", "Greeks",
           "StrikeRisk", "Scenario", "Netting", "Risk", "Hedge", "Stats", "PoolInfo",
           "Tranche", "Pools", "library_path"]

# The library directory chosen at install: setup.py rewrites this one line in
# the installed copy (never in the source tree); None: not recorded.
_INSTALL_LIBDIR = None


def _key_file(data_dir, name):
    with open(os.path.join(data_dir, name)) as f:
        return f.readline().strip()


def admin_key(data_dir="var"):
    """The admin key that chd created in its data folder (DIR/admin.key)."""
    return _key_file(data_dir, "admin.key")


def readonly_key(data_dir="var"):
    """The read-only key that chd created in its data folder
    (DIR/readonly.key, the same format as admin.key): reads of every
    account, no writes."""
    return _key_file(data_dir, "readonly.key")


class ChError(Exception):
    """An error reply from chd: .code (protocol code), .message, .reply."""

    def __init__(self, code, message, reply=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.reply = reply


class TransportError(Exception):
    """The request could not be sent or no reply came (NNG error)."""


def _version_key(path):
    """libchclient.so.1.2.0 -> (1, 2, 0): the highest version first."""
    tail = os.path.basename(path)[len("libchclient.so"):]
    return tuple(int(n) for n in re.findall(r"\d+", tail))


def _in_dir(d):
    """The libchclient of directory d: the unversioned name (the link to the
    current one) first, then libchclient.so.N..., highest first."""
    if not d or not os.path.isdir(d):
        return []
    plain = os.path.join(d, "libchclient.so")
    versioned = sorted(glob.glob(os.path.join(glob.escape(d), "libchclient.so.*")),
                       key=_version_key, reverse=True)
    return ([plain] if os.path.exists(plain) else []) + versioned


def _lib_dirs(prefix):
    """Where GNUInstallDirs puts libraries under a prefix: lib, lib64, and
    Debian's multiarch lib/<triplet> (the default libdir for prefix /usr)."""
    dirs = [os.path.join(prefix, "lib"), os.path.join(prefix, "lib64")]
    dirs += sorted(glob.glob(os.path.join(glob.escape(prefix), "lib", "*-linux-*")))
    return dirs


def _pkg_config_libdir():
    try:
        out = subprocess.run(["pkg-config", "--variable=libdir", "libchclient"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _candidates():
    """Paths (or a bare name for the dynamic loader) to try, in order."""
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.environ.get("CH_CLIENT_LIB")
    if _INSTALL_LIBDIR:
        yield from _in_dir(_INSTALL_LIBDIR)
    # imported from the source tree, as the tests and scripts do
    yield os.path.join(here, "..", "..", "build", "clients", "libchclient.so")
    # installed under PREFIX/lib/pythonX.Y/site-packages (or dist-packages)
    prefixes = [sys.prefix, os.path.normpath(os.path.join(here, "..", "..", ".."))]
    for prefix in dict.fromkeys(prefixes):
        for d in _lib_dirs(prefix):
            yield from _in_dir(d)
    yield from _in_dir(_pkg_config_libdir())
    yield ctypes.util.find_library("chclient")


def _load():
    tried = []
    for path in _candidates():
        if not path or not (os.path.exists(path) or not os.path.dirname(path)):
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise OSError("libchclient not found: build the project, install it (cmake --install, "
                  "then pip install with CH_INSTALL_PREFIX) or set CH_CLIENT_LIB"
                  + "".join("\n  " + t for t in tried))


_lib, library_path = _load()  # library_path: the file loaded
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

# ch_sub_recv's "no event came in time": CH_ETIMEDOUT (ch/err.h) since
# libchclient 0.2.0 (SONAME 1: one error space, ch_client_nng_error added);
# NNG_ETIMEDOUT from the libraries before, whose other returns were NNG's too
_SUB_TIMEOUT = 71 if hasattr(_lib, "ch_client_nng_error") else 5


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


# --- typed replies -----------------------------------------------------------

_dict_access_warned = False


def _warn_dict_access():
    """Dict-style access to a reply: deprecated, said once per process."""
    global _dict_access_warned
    if not _dict_access_warned:
        _dict_access_warned = True
        warnings.warn("chclient: dict-style access to replies (r['x'], r.get('x'), 'x' in r) is "
                      "deprecated and goes in the next version; use the attributes (r.x)",
                      DeprecationWarning, stacklevel=3)


@dataclass(eq=False, repr=False)
class Reply:
    """A reply (or a part of one) of chd, typed.

    Subclasses name the fields they know as dataclass fields; every other
    field of the JSON object is kept in .extra (and read as an attribute:
    r.some_new_field), so that fields a newer chd adds never break the
    client. .raw is the JSON object as it came (with "ok").

    Deprecated, for one version: the dict-style access of the dicts the
    client returned before (r["order_id"], r.get("x"), "x" in r, r.keys(),
    r.items(), iteration, len) reads .raw unchanged; a reply compares equal
    to a dict of the same JSON object."""

    extra: Dict[str, Any] = field(default_factory=dict, repr=False)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    # field name -> a Reply subclass: the JSON value is converted with it (a
    # list: each element; "map" marks a dict of name -> object)
    _nested: ClassVar[Dict[str, Any]] = {}
    _maps: ClassVar[frozenset] = frozenset()

    @classmethod
    def from_json(cls, obj):
        """The typed object of JSON object `obj` (a dict); None stays None."""
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise TypeError(f"{cls.__name__}: a JSON object is needed, not {type(obj).__name__}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "raw"}
        kw, extra = {}, {}
        for k, v in obj.items():
            if k in known:
                kw[k] = cls._convert(k, v)
            elif k != "ok":
                extra[k] = v
        return cls(extra=extra, raw=obj, **kw)

    @classmethod
    def _convert(cls, name, value):
        sub = cls._nested.get(name)
        if sub is None or value is None:
            return value
        if name in cls._maps and isinstance(value, dict):
            return {k: sub.from_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [cls._one(sub, v) for v in value]
        return cls._one(sub, value)

    @staticmethod
    def _one(sub, v):
        """One value as `sub` (a Reply subclass, or a NamedTuple such as
        Level for a JSON array); a value of another shape is left as is."""
        if isinstance(sub, type) and issubclass(sub, Reply):
            return sub.from_json(v) if isinstance(v, dict) else v
        if isinstance(v, list) and len(v) >= len(sub._fields):
            return sub._make(v[:len(sub._fields)])
        return v

    def __getattr__(self, name):  # only for names that are no field: .extra's
        extra = self.__dict__.get("extra")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} reply has no field {name!r}")

    def __repr__(self):  # the subclasses' own name their fields; a plain Reply, its extras
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.extra.items())})"

    def to_dict(self):
        """The reply as the JSON object it came as (a copy)."""
        return json.loads(json.dumps(self.raw))

    def __eq__(self, other):
        if isinstance(other, Reply):
            return self.raw == other.raw
        if isinstance(other, dict):
            return self.raw == other
        return NotImplemented

    __hash__ = None

    # deprecated dict-style access (the replies were dicts before)
    def __getitem__(self, key):
        _warn_dict_access()
        return self.raw[key]

    def get(self, key, default=None):
        _warn_dict_access()
        return self.raw.get(key, default)

    def __contains__(self, key):
        _warn_dict_access()
        return key in self.raw

    def keys(self):
        _warn_dict_access()
        return self.raw.keys()

    def values(self):
        _warn_dict_access()
        return self.raw.values()

    def items(self):
        _warn_dict_access()
        return self.raw.items()

    def __iter__(self):
        _warn_dict_access()
        return iter(self.raw)

    def __len__(self):
        _warn_dict_access()
        return len(self.raw)


@dataclass(eq=False)
class Hello(Reply):
    version: int = 0
    server: str = ""
    software: str = ""
    auth: bool = False
    underlyings: List[str] = field(default_factory=list)


@dataclass(eq=False)
class Account(Reply):
    """account.open: the new account, its cash and its key."""
    account: str = ""
    cash: float = 0
    key: str = ""


@dataclass(eq=False)
class Instrument(Reply):
    symbol: str = ""
    id: int = 0
    underlying: str = ""
    expiry: str = ""
    strike: float = 0
    type: str = ""
    tick: float = 0
    contract_size: float = 1


@dataclass(eq=False)
class Fill(Reply):
    trade_id: str = ""
    price: float = 0
    qty: int = 0
    source: str = ""  # book, net, pool


@dataclass(eq=False)
class OrderResult(Reply):
    """order.new, order.replace, and each result of order.batch: in a batch,
    an order that was refused has ok False and .error (a ChError)."""
    order_id: str = ""
    status: str = ""
    filled_qty: int = 0
    remaining_qty: int = 0
    fills: List[Fill] = field(default_factory=list)
    ok: bool = True
    error: Optional[ChError] = None

    _nested: ClassVar[Dict[str, Any]] = {"fills": Fill}

    @classmethod
    def _convert(cls, name, value):
        if name == "error" and isinstance(value, dict):
            return ChError(value.get("code", "?"), value.get("message", ""), value)
        return super()._convert(name, value)


@dataclass(eq=False)
class CancelResult(Reply):
    order_id: str = ""
    status: str = ""
    remaining_qty: int = 0
    cancelled_qty: int = 0


@dataclass(eq=False)
class OpenOrder(Reply):
    order_id: str = ""
    symbol: str = ""
    side: str = ""
    price: float = 0
    remaining_qty: int = 0
    filled_qty: int = 0
    post_only: bool = False


class Level(NamedTuple):
    """A book level: price and quantity."""
    price: float
    qty: int


@dataclass(eq=False)
class Book(Reply):
    bids: List[Level] = field(default_factory=list)  # best first
    asks: List[Level] = field(default_factory=list)

    _nested: ClassVar[Dict[str, Any]] = {"bids": Level, "asks": Level}


@dataclass(eq=False)
class Quote(Reply):
    price: float = 0
    model: float = 0
    premium: float = 0
    vol: float = 0
    max_qty: int = 0
    hedge_cost: float = 0


@dataclass(eq=False)
class Position(Reply):
    symbol: str = ""
    qty: int = 0  # negative: short
    avg_price: float = 0
    mark: float = 0
    delta: float = 0
    gamma: float = 0
    vega: float = 0
    theta: float = 0
    realized: float = 0


@dataclass(eq=False)
class Positions(Reply):
    account: str = ""
    cash: float = 0
    reserved: float = 0
    equity: float = 0
    margin: float = 0
    positions: List[Position] = field(default_factory=list)

    _nested: ClassVar[Dict[str, Any]] = {"positions": Position}


@dataclass(eq=False)
class Greeks(Reply):
    delta: float = 0
    gamma: float = 0
    vega: float = 0
    theta: float = 0


@dataclass(eq=False)
class StrikeRisk(Reply):
    expiry: str = ""
    strike: float = 0
    delta: float = 0
    gamma: float = 0
    vega: float = 0
    gross_gamma: float = 0
    netted_gamma: float = 0


@dataclass(eq=False)
class Scenario(Reply):
    spot_shock: float = 0
    vol_shock: str = ""  # down, flat, up
    pnl: float = 0


@dataclass(eq=False)
class Netting(Reply):
    gross_delta: float = 0
    hedged_delta: float = 0
    ratio: float = 0
    dealer_delta: float = 0
    baseline: str = ""
    net_delta: float = 0
    gross_gamma: float = 0
    netted_gamma: float = 0


@dataclass(eq=False)
class Risk(Reply):
    """The house's risk (of one underlying; without one, the first
    underlying's fields and .underlyings: name -> Risk)."""
    strikes: List[StrikeRisk] = field(default_factory=list)
    totals: Optional[Greeks] = None
    scenarios: List[Scenario] = field(default_factory=list)
    worst_loss: float = 0
    netting: Optional[Netting] = None
    underlyings: Dict[str, "Risk"] = field(default_factory=dict)

    _nested: ClassVar[Dict[str, Any]] = {"strikes": StrikeRisk, "totals": Greeks,
                                         "scenarios": Scenario, "netting": Netting}
    _maps: ClassVar[frozenset] = frozenset({"underlyings"})


@dataclass(eq=False)
class Hedge(Reply):
    """The hedger (of one underlying; without one, the first underlying's
    fields and .underlyings: name -> Hedge). .vega (the vega hedge) is a
    Reply: its fields as attributes."""
    policy: str = ""
    band: float = 0
    perp: str = ""
    position: float = 0
    avg_price: float = 0
    fees: float = 0
    slippage: float = 0
    funding: float = 0
    basis_pnl: float = 0
    realized: float = 0
    volume: float = 0
    orders: int = 0
    fills: int = 0
    house_delta: float = 0
    netting_ratio: float = 0
    cost_per_1m_notional: float = 0
    vega: Optional[Reply] = None
    underlyings: Dict[str, "Hedge"] = field(default_factory=dict)

    _nested: ClassVar[Dict[str, Any]] = {"vega": Reply}
    _maps: ClassVar[frozenset] = frozenset({"underlyings"})


@dataclass(eq=False)
class Stats(Reply):
    requests: int = 0
    errors: int = 0
    orders: int = 0
    fills: Dict[str, int] = field(default_factory=dict)  # book, net, pool
    batches: int = 0
    commits: int = 0
    seq: int = 0
    halted: bool = False


@dataclass(eq=False)
class PoolInfo(Reply):
    cash: float = 0
    inventory_value: float = 0
    house_share: float = 0
    nav: float = 0
    shares: int = 0
    nav_per_share: float = 0


@dataclass(eq=False)
class Tranche(PoolInfo):
    tranche: int = 0
    underlying: str = ""
    strike_lo: float = 0
    strike_hi: float = 0
    expiry_lo: Optional[str] = None  # None: every expiry
    expiry_hi: Optional[str] = None
    account: str = ""
    worst_loss: float = 0
    utilisation: float = 0
    delta: float = 0


@dataclass(eq=False)
class Pools(Reply):
    general: Optional[PoolInfo] = None
    tranches: List[Tranche] = field(default_factory=list)

    _nested: ClassVar[Dict[str, Any]] = {"general": PoolInfo, "tranches": Tranche}


# the reply class of each op (the others: Reply)
Risk._nested = dict(Risk._nested, underlyings=Risk)
Hedge._nested = dict(Hedge._nested, underlyings=Hedge)
_REPLY_TYPES = {"hello": Hello, "account.open": Account,
                "order.new": OrderResult, "order.replace": OrderResult,
                "order.cancel": CancelResult, "book": Book, "quote": Quote,
                "positions": Positions, "risk": Risk, "hedge": Hedge, "stats": Stats,
                "pools": Pools}


class Event(NamedTuple):
    """An event of the PUB endpoint: its topic (fill.<account>,
    order.<account>, book.<symbol>, risk, hedge) and its JSON object. A
    tuple: `topic, data = sub.recv()` works."""
    topic: str
    data: Dict[str, Any]


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

    def _call(self, op, **fields):
        """Send {"op": op, ...fields}; the reply's JSON object, or ChError."""
        req = {"op": op}
        if self.key is not None and "key" not in fields:
            req["key"] = self.key
        req.update({k: v for k, v in fields.items() if v is not None})
        reply = json.loads(self.raw(json.dumps(req)))
        if not reply.get("ok"):
            e = reply.get("error", {})
            raise ChError(e.get("code", "?"), e.get("message", ""), reply)
        return reply

    def call(self, op, **fields):
        """Send {"op": op, ...fields} (fields None are left out); return the
        reply typed (the op's Reply class, Reply for the others) or raise
        ChError."""
        return _REPLY_TYPES.get(op, Reply).from_json(self._call(op, **fields))

    # one method per protocol op
    def hello(self) -> Hello:
        return self.call("hello")

    def instruments(self, underlying=None) -> List[Instrument]:
        return [Instrument.from_json(i)
                for i in self._call("instruments", underlying=underlying)["instruments"]]

    def instrument_add(self, symbol) -> Reply:
        return self.call("instrument.add", symbol=symbol)

    def account_open(self, account, cash) -> Account:
        return self.call("account.open", account=account, cash=cash)

    def account_deposit(self, account, amount) -> Reply:
        """.cash: the new balance."""
        return self.call("account.deposit", account=account, amount=amount)

    def pool_deposit(self, account, amount, tranche=None) -> Reply:
        """Into the general pool, or strike tranche `tranche` (its id):
        .shares, .nav_per_share."""
        extra = {} if tranche is None else {"tranche": tranche}
        return self.call("pool.deposit", account=account, amount=amount, **extra)

    def pool_withdraw(self, account, shares, tranche=None) -> Reply:
        extra = {} if tranche is None else {"tranche": tranche}
        return self.call("pool.withdraw", account=account, shares=shares, **extra)

    def tranche_add(self, underlying, strike_lo, strike_hi, expiry_lo=None,
                    expiry_hi=None) -> Reply:
        """A strike tranche (admin): LP capital for strikes strike_lo..strike_hi
        (and, optionally, expiries expiry_lo..expiry_hi, ISO-8601 times)."""
        extra = {} if expiry_lo is None else {"expiry_lo": expiry_lo, "expiry_hi": expiry_hi}
        return self.call("pool.tranche.add", underlying=underlying, strike_lo=strike_lo,
                         strike_hi=strike_hi, **extra)

    def pools(self, underlying=None) -> Pools:
        """The general pool and every strike tranche: capital, utilisation, NAV."""
        extra = {} if underlying is None else {"underlying": underlying}
        return self.call("pools", **extra)

    def market_update(self, underlying, index, tick=None, **fields) -> Reply:
        """index and perp must be on the underlying's tick; with `tick`
        (e.g. 0.5), real prices are rounded to the nearest tick first."""
        if tick is not None:
            index = round_to_tick(index, tick)
            if fields.get("perp") is not None:
                fields["perp"] = round_to_tick(fields["perp"], tick)
        return self.call("market.update", underlying=underlying, index=index, **fields)

    def order_new(self, account, symbol, side, qty, price=None, **fields) -> OrderResult:
        return self.call("order.new", account=account, symbol=symbol, side=side, qty=qty,
                         price=price, **fields)

    def order_batch(self, account, orders) -> List[OrderResult]:
        """One OrderResult per order, in order; a refused one has ok False
        and .error."""
        return [OrderResult.from_json(r)
                for r in self._call("order.batch", account=account, orders=orders)["results"]]

    def order_cancel(self, account, order_id) -> CancelResult:
        return self.call("order.cancel", account=account, order_id=str(order_id))

    def order_replace(self, account, order_id, qty=None, price=None) -> OrderResult:
        return self.call("order.replace", account=account, order_id=str(order_id), qty=qty,
                         price=price)

    def orders(self, account) -> List[OpenOrder]:
        return [OpenOrder.from_json(o) for o in self._call("orders", account=account)["orders"]]

    def book(self, symbol, depth=10) -> Book:
        return self.call("book", symbol=symbol, depth=depth)

    def quote(self, symbol, side, qty) -> Quote:
        return self.call("quote", symbol=symbol, side=side, qty=qty)

    def positions(self, account) -> Positions:
        return self.call("positions", account=account)

    def risk(self, underlying=None) -> Risk:
        return self.call("risk", underlying=underlying)

    def hedge(self, underlying=None) -> Hedge:
        return self.call("hedge", underlying=underlying)

    def stats(self) -> Stats:
        return self.call("stats")


class Subscriber:
    """Events from chd's PUB endpoint (best effort: PUB/SUB drops under
    load; the request side is the system of record)."""

    def __init__(self, url="tcp://127.0.0.1:7451", prefix=""):
        """Subscribe to the topics that start with `prefix` ("" = all).
        Raises TransportError when nothing listens at `url` or it is no PUB
        endpoint."""
        self.url = url
        self._h = ctypes.c_void_p()
        rv = _lib.ch_sub_open(url.encode(), prefix.encode(), ctypes.byref(self._h))
        if rv != 0:
            raise TransportError(f"{url}: {_err(rv)}")

    def recv(self, timeout_ms=1000) -> Optional[Event]:
        """The next event, waiting up to `timeout_ms` (< 0: without end).

        Returns an Event (topic, data), a tuple: `topic, data = sub.recv()`;
        returns None when no event came in time (a timeout is no error: a
        dropped connection is made again inside, and also ends in None while
        the server is away). Raises TransportError on any other failure (the
        subscriber is closed, a TLS transport error)."""
        if not self._h:
            raise TransportError(f"{self.url}: the subscriber is closed")
        out = ctypes.c_void_p()
        n = ctypes.c_size_t()
        rv = _lib.ch_sub_recv(self._h, timeout_ms, ctypes.byref(out), ctypes.byref(n))
        if rv == _SUB_TIMEOUT:
            return None
        if rv != 0:
            raise TransportError(f"{self.url}: {_err(rv)}")
        text = _take(out, n)
        topic, _, body = text.partition(" ")
        return Event(topic, json.loads(body))

    def close(self):
        if self._h:
            _lib.ch_sub_close(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
