#!/usr/bin/env bash
# chdemo --db persists a run; chctl dump reads it back as JSON.
set -u
CHDEMO=$1
CHCTL=$2
PY=${3:-python3}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
check() {
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=$((fail + 1)); fi
}
"$CHDEMO" --quiet --orders 400 --seed 11 --db "$t/db" >"$t/demo.txt" 2>/dev/null
check "demo with --db exits 0" test $? -eq 0
"$CHCTL" dump --db "$t/db" >"$t/dump.json" 2>"$t/err"
check "dump exits 0" test $? -eq 0
"$PY" - "$t/dump.json" "$t/demo.txt" <<'PY' >"$t/py.txt" 2>&1
import json, re, sys, collections
d = json.load(open(sys.argv[1]))
demo = open(sys.argv[2]).read()
fills = sum(int(m) for m in re.findall(r"^\s+\w+\s+(\d+) fills", demo, re.M))
stored = int(re.search(r"Stored (\d+) commands", demo).group(1))
assert d["last_seq"] == stored, (d["last_seq"], stored)
assert len(d["fills"]) == fills, (len(d["fills"]), fills)
names = {a["account"] for a in d["accounts"]}
assert {"house", "pool", "fees", "alice", "bob", "carol", "dave", "lp"} <= names
pos = collections.Counter()
for a in d["accounts"]:
    for p in a["positions"]:
        pos[p["symbol"]] += p["qty"]
assert all(v == 0 for v in pos.values()), pos
ids = [int(f["trade_id"]) for f in d["fills"]]
assert ids == sorted(set(ids)), "trade ids repeat or are out of order"
for f in d["fills"]:
    assert f["taker"] in names and f["maker"] in names and f["qty"] > 0 and f["price"] > 0
    assert f["source"] in ("book", "net", "pool")
for o in d["open_orders"]:
    assert o["remaining_qty"] > 0 and o["account"] in names
print("dump consistent:", len(d["fills"]), "fills,", len(d["open_orders"]), "open orders")
PY
check "dump is consistent with the run" test $? -eq 0
cat "$t/py.txt"
"$CHDEMO" --quiet --orders 10 --db "$t/db" >/dev/null 2>"$t/err2"
check "a second run on the same store is refused" test $? -eq 1
mkdir -p "$t/empty"
"$CHCTL" dump --db "$t/empty" >/dev/null 2>"$t/err3"
check "dump of a directory without a store fails" test $? -eq 1
check "and says why" grep -q "holds no clearinghouse store" "$t/err3"
"$CHCTL" dump >/dev/null 2>&1
check "dump without --db is a usage error" test $? -eq 2
echo "$((7 - fail)) passed, $fail failed"
test $fail -eq 0
