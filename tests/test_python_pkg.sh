#!/usr/bin/env bash
# The Python client as an installed package: cmake --install into a
# temporary prefix, the package (clients/python) pip-installed offline into a
# venv, the installed chd started with keys, then the tutorial of
# clients/python/README.md (its python blocks, in order) run by the venv's
# python with no CH_CLIENT_LIB, and its typed replies, the deprecated dict
# access, Subscriber.recv's timeout and error checked. Then the same package
# installed without CH_INSTALL_PREFIX into a venv made at the prefix itself:
# the library is found under the prefix the module is installed under.
# Usage: test_python_pkg.sh BUILD_DIR [PYTHON]
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../clients/python

# a python with venv (ensurepip), setuptools and wheel (Debian:
# python3-venv python3-setuptools python3-wheel): the given one, else Debian's
py=
for p in "${2:-python3}" /usr/bin/python3; do
    if command -v "$p" >/dev/null &&
        "$p" -c 'import venv, ensurepip, setuptools, wheel' 2>/dev/null; then
        py=$p
        break
    fi
done
if [ -z "$py" ]; then
    echo "python_package: no python3 with venv, setuptools and wheel" \
        "(apt-get install python3-venv python3-setuptools python3-wheel)" >&2
    exit 77
fi

tmp=$(mktemp -d)
chd_pid=
cleanup() {
    [ -n "$chd_pid" ] && kill "$chd_pid" 2>/dev/null && wait "$chd_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
unset CH_CLIENT_LIB CH_INSTALL_PREFIX CH_KEY

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libchclient.so*' | head -n 1)")
# pip builds in the folder it is given: a copy, so that the source tree stays clean
mkdir "$tmp/src"
cp "$src"/chclient.py "$src"/pyproject.toml "$src"/setup.py "$src"/README.md "$tmp/src/"

# 1. the documented install: a venv, the package offline, the prefix recorded
"$py" -m venv --system-site-packages "$tmp/venv"
env -u CH_CLIENT_LIB CH_INSTALL_PREFIX="$prefix" \
    "$tmp/venv/bin/pip" install --no-build-isolation --no-index "$tmp/src" >"$tmp/pip.log" 2>&1 ||
    { cat "$tmp/pip.log" >&2; exit 1; }
grep -q '^_INSTALL_LIBDIR = None$' "$src/chclient.py" # the source is not changed

# the installed chd, on ipc://, with keys (DIR/admin.key)
"$prefix/bin/chd" --req "ipc://$tmp/req.ipc" --pub "ipc://$tmp/pub.ipc" --data "$tmp/var" \
    --durability nosync >"$tmp/chd.log" 2>&1 &
chd_pid=$!
cd "$tmp" # nothing is imported from the source tree
env -u CH_CLIENT_LIB "$tmp/venv/bin/python" - "$tmp" <<'PY'
import sys
import time
import chclient
tmp = sys.argv[1]
for _ in range(200):  # until chd listens and has written its keys
    try:
        with chclient.Client(f"ipc://{tmp}/req.ipc", timeout_ms=2000) as c:
            c.hello()
        chclient.admin_key(f"{tmp}/var")
        break
    except (chclient.TransportError, OSError):
        time.sleep(0.05)
else:
    sys.exit(f"no chd at ipc://{tmp}/req.ipc")
PY

env -u CH_CLIENT_LIB "$tmp/venv/bin/python" - "$tmp" "$prefix" "$libdir" "$src/README.md" <<'PY'
import os
import re
import sys
import warnings

import chclient
from chclient import Client, Subscriber, TransportError

tmp, prefix, libdir, readme = sys.argv[1:5]
real = os.path.realpath
# the installed module, and the prefix's library, found without a variable
assert real(chclient.__file__).startswith(real(tmp) + "/venv/"), chclient.__file__
assert real(chclient.library_path).startswith(real(libdir) + "/libchclient.so"), \
    chclient.library_path
assert real(chclient._INSTALL_LIBDIR) == real(libdir), chclient._INSTALL_LIBDIR

# the tutorial: every python block, in order, chd's endpoints and folder set
text = open(readme).read()
blocks = re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)
assert len(blocks) >= 5, f"{len(blocks)} python blocks in {readme}"
code = "".join(blocks)
for name, value in (("REQ", f"ipc://{tmp}/req.ipc"), ("PUB", f"ipc://{tmp}/pub.ipc"),
                    ("DATA", f"{tmp}/var")):
    code, n = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", code, flags=re.M)
    assert n == 1, f"the tutorial sets {name} {n} times"
ns = {"__name__": "__tutorial__"}
with warnings.catch_warnings():
    warnings.simplefilter("error", DeprecationWarning)  # the tutorial uses no dict access
    exec(compile(code, readme, "exec"), ns)

# its replies, typed
assert isinstance(ns["hello"], chclient.Hello) and ns["hello"].auth is True
assert isinstance(ns["acct"], chclient.Account) and len(ns["acct"].key) > 0
r = ns["r"]
assert isinstance(r, chclient.OrderResult) and r.filled_qty > 0, r
assert r.fills and all(isinstance(f, chclient.Fill) for f in r.fills), r.fills
assert sum(f.qty for f in r.fills) == r.filled_qty
assert isinstance(ns["q"], chclient.Quote) and ns["q"].price > 0
pos = ns["pos"]
assert isinstance(pos, chclient.Positions) and pos.account == "alice"
assert [(p.symbol, p.qty) for p in pos.positions] == [(ns["call"].symbol, r.filled_qty)]
risk = ns["risk"]
assert isinstance(risk, chclient.Risk) and isinstance(risk.totals, chclient.Greeks)
assert isinstance(risk.netting, chclient.Netting) and risk.worst_loss >= 0
assert all(isinstance(s, chclient.StrikeRisk) for s in risk.strikes) and risk.strikes
# the fills came as events too (best effort: at least one)
fills = ns["fills"]
assert fills and all(isinstance(e, chclient.Event) for e in fills), fills
assert {e.topic for e in fills} == {"fill.alice"} and fills[0].data["taker"] == "alice"
topic, data = fills[0]  # still a pair

# the deprecated dict access: as before, one warning
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    assert r["order_id"] == r.order_id and r["status"] == r.status
    assert "fills" in r and "nope" not in r and r.get("nope", 7) == 7
    assert r["fills"][0]["qty"] == r.fills[0].qty  # nested values: the JSON's
    assert r == r.raw and r.raw == r and dict(r) == r.raw and r["ok"] is True
    assert pos["positions"][0]["symbol"] == pos.positions[0].symbol
    assert {k: v for k, v in risk.items()} == risk.to_dict()
assert len(w) == 1 and issubclass(w[0].category, DeprecationWarning), [str(x) for x in w]

with Client(f"ipc://{tmp}/req.ipc", key=chclient.admin_key(f"{tmp}/var")) as admin:
    st = admin.stats()
    assert isinstance(st, chclient.Stats) and st.requests > 0 and st.fills["pool"] >= 0
    # fields the class does not name: kept, read as attributes
    assert "unauthorized" in st.extra and st.unauthorized == st.extra["unauthorized"]
    hedge = admin.hedge()
    assert isinstance(hedge, chclient.Hedge) and isinstance(hedge.vega, chclient.Reply)
    assert all(isinstance(h, chclient.Hedge) for h in hedge.underlyings.values())
    book = admin.book(ns["call"].symbol)
    assert isinstance(book, chclient.Book) and all(isinstance(lv, chclient.Level)
                                                    for lv in book.bids + book.asks)
    res = admin.order_batch("alice", [
        {"symbol": ns["call"].symbol, "side": "buy", "qty": 1, "price": 1},
        {"symbol": "NOPE", "side": "buy", "qty": 1, "price": 1}])
    assert res[0].ok and res[0].status == "new" and res[0].error is None
    assert not res[1].ok and isinstance(res[1].error, chclient.ChError)
    orders = admin.orders("alice")
    assert [o.order_id for o in orders] == [res[0].order_id]
    assert isinstance(admin.order_cancel("alice", res[0].order_id), chclient.CancelResult)
    assert isinstance(admin.pools().general, chclient.PoolInfo)
# a field a newer chd adds never breaks the client
new = chclient.OrderResult.from_json({"ok": True, "order_id": "9", "fills": [], "later": [1]})
assert new.order_id == "9" and new.later == [1] and new.extra == {"later": [1]}

# readonly_key reads DIR/readonly.key as admin_key reads admin.key
if os.path.exists(f"{tmp}/var/readonly.key"):
    with open(f"{tmp}/var/readonly.key") as f:
        assert chclient.readonly_key(f"{tmp}/var") == f.readline().strip() != ""

# Subscriber.recv: None on a timeout, TransportError on any other failure
sub = Subscriber(f"ipc://{tmp}/pub.ipc", "no.such.topic")
assert sub.recv(200) is None
sub.close()
try:
    sub.recv(200)
    raise AssertionError("recv on a closed subscriber did not raise")
except TransportError:
    pass
print("python_package: tutorial and typed replies ok, library", chclient.library_path)
PY

# 2. no install-time setting: a venv made at the prefix itself; the module
# finds the library under the prefix it is installed under
"$py" -m venv --system-site-packages "$prefix"
env -u CH_CLIENT_LIB -u CH_INSTALL_PREFIX \
    "$prefix/bin/pip" install --no-build-isolation --no-index "$tmp/src" >"$tmp/pip2.log" 2>&1 ||
    { cat "$tmp/pip2.log" >&2; exit 1; }
env -u CH_CLIENT_LIB "$prefix/bin/python" - "$tmp" "$libdir" <<'PY'
import os
import sys
import chclient
tmp, libdir = sys.argv[1:3]
assert chclient._INSTALL_LIBDIR is None
assert os.path.realpath(chclient.library_path).startswith(os.path.realpath(libdir) + "/"), \
    chclient.library_path
with chclient.Client(f"ipc://{tmp}/req.ipc") as c:
    assert c.hello().server == "chd"
PY
echo "python_package: installed package, tutorial, library lookup: ok"
