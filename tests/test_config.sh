#!/usr/bin/env bash
# chd's configuration table: --print-config writes every key, and what it
# writes reads back to the same configuration (files and flags applied);
# the README's configuration section is exactly `chd --config-doc`; bad
# values are refused naming the key and what it accepts; the engine's sizes
# are settable, and a store opens under new sizes (and is still refused
# under another engine configuration). Usage: test_config.sh CHD README
set -euo pipefail
chd=$1
readme=$2
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# round trip: defaults, then a file and flags on top
"$chd" --print-config >"$t/a.json"
"$chd" --config "$t/a.json" --print-config | cmp - "$t/a.json"
cat >"$t/b.json" <<'JSON'
{"max_accounts": 64, "max_instruments": 128, "vol": 0.55, "send_timeout": 0.25,
 "tick": "0.05", "strikes": [900, 1000, 1100], "hedge_policy": "whalley_wilmott",
 "durability": "nosync", "risk_aware": false}
JSON
"$chd" --config "$t/b.json" --contexts 9 --print-config >"$t/b.out"
"$chd" --config "$t/b.out" --print-config | cmp - "$t/b.out"
python3 - "$t/a.json" "$t/b.out" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert set(a) == set(b) and len(a) >= 50, len(a)
assert a["max_accounts"] == 1024 and b["max_accounts"] == 64 and b["max_instruments"] == 128
assert b["vol"] == 0.55 and b["send_timeout"] == 0.25 and b["tick"] == "0.05"
assert b["strikes"] == [900, 1000, 1100] and b["hedge_policy"] == "whalley_wilmott"
assert b["durability"] == "nosync" and b["risk_aware"] is False and b["contexts"] == 9
PY
# the README's section is the table's own output
python3 - "$readme" "$t/doc.md" <<'PY'
import sys
text = open(sys.argv[1]).read()
begin, end = "<!-- chd --config-doc -->\n", "<!-- end of chd --config-doc -->"
assert begin in text and end in text, "README: the configuration section's markers are missing"
section = text.split(begin, 1)[1].split(end, 1)[0]
open(sys.argv[2], "w").write(section)
PY
"$chd" --config-doc | diff -u "$t/doc.md" - || {
    echo "README.md's configuration table differs from chd --config-doc (above): paste it in" >&2
    exit 1
}
# bad values: refused, naming the key and what it accepts
refused() { # json expected-message
    echo "$1" >"$t/bad.json"
    if "$chd" --config "$t/bad.json" --print-config >/dev/null 2>"$t/err"; then
        echo "accepted: $1" >&2
        exit 1
    fi
    grep -qF -- "$2" "$t/err" || { echo "for $1: expected '$2' in: $(cat "$t/err")" >&2; exit 1; }
}
refused '{"max_accounts": 10.5}' '"max_accounts": must be an integer in [4, 1048576]'
refused '{"max_accounts": 3}' '"max_accounts": must be an integer in [4, 1048576]'
refused '{"vol": "high"}' '"vol": must be a number in [0.01, 10]'
refused '{"req": ""}' '"req": must be a non-empty string'
refused '{"underlying": "ABCDEFGHIJKLMNOPQ"}' '"underlying": must be a non-empty string of at most 15 bytes'
refused '{"tick": "0"}' '"tick": is not a valid tick'
refused '{"hedge_policy": "sometimes"}' '"hedge_policy": is not a hedge policy'
refused '{"strikes": [1000, -5]}' '"strikes": must be up to 64 positive integers'
refused '{"netting": 1}' '"netting": must be true or false'
refused '{"colour": 1}' '"colour": unknown key'
refused '[1, 2]' 'not a JSON object'
# engine sizes: settable; the product bound is refused at start, naming it
echo '{"max_accounts": 100000, "max_instruments": 100000}' >"$t/big.json"
if "$chd" --config "$t/big.json" --data "$t/big" --req "ipc://$t/big.req" \
    --pub "ipc://$t/big.pub" 2>"$t/err"; then
    echo "an engine over 2^28 position cells started" >&2
    exit 1
fi
grep -qF 'max_accounts x max_instruments = 10000000000 exceeds 2^28' "$t/err"
# a store is sized once: the same sizes restart, other sizes are refused
# (a capacity reject would replay differently), like another netting rule
start() { # data-dir config...: start chd, wait for its socket, stop it; rc in $rc
    local d=$1
    shift
    "$chd" --data "$d" --req "ipc://$t/s.req" --pub "ipc://$t/s.pub" --durability nosync \
        "$@" 2>>"$t/chd.log" &
    local pid=$!
    for _ in $(seq 100); do
        [ -S "$t/s.req" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
    fi
    rc=0
    wait "$pid" || rc=$?
    rm -f "$t/s.req" "$t/s.pub"
}
echo '{"max_accounts": 64}' >"$t/small.json"
echo '{"max_accounts": 2048, "max_orders": 4096}' >"$t/large.json"
echo '{"max_accounts": 64, "netting": false}' >"$t/other.json"
start "$t/d" --config "$t/small.json"
[ "$rc" -eq 0 ] || { echo "first start failed ($rc)" >&2; cat "$t/chd.log" >&2; exit 1; }
start "$t/d" --config "$t/small.json"
[ "$rc" -eq 0 ] || { echo "a restart with the same sizes failed ($rc)" >&2; exit 1; }
: >"$t/chd.log"
start "$t/d" --config "$t/large.json"
[ "$rc" -ne 0 ] || { echo "a store opened under other sizes" >&2; exit 1; }
grep -q 'written with another engine configuration' "$t/chd.log"
: >"$t/chd.log"
start "$t/d" --config "$t/other.json"
[ "$rc" -ne 0 ] || { echo "another engine configuration was accepted" >&2; exit 1; }
grep -q 'written with another engine configuration' "$t/chd.log"
echo "config: table, round trip, README, errors, sizes: ok"
