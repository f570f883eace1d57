#!/usr/bin/env bash
# chsim as a program: a short run on the shipped data twice with one seed
# gives byte-identical report.json and report.md (the determinism promise);
# without gnuplot it still writes the report and says the plots were skipped;
# a bad config is refused with a message naming the key. Usage: test_chsim.sh CHSIM
set -euo pipefail
chsim=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/short.json" <<'JSON'
{"seed": 11, "start": "2021-05-17", "days": 3,
 "flow": {"orders_per_hour": 20},
 "configurations": [
   {"name": "netting, band 5"},
   {"name": "no internal netting", "internal": false, "netting": false},
   {"name": "every step", "hedge": {"policy": "every_batch"}}]}
JSON
"$chsim" --config "$dir/short.json" --out "$dir/a" --no-plots --quiet >"$dir/a.log"
"$chsim" --config "$dir/short.json" --out "$dir/b" --no-plots --quiet >"$dir/b.log"
for f in report.json report.md series-1.csv flow.csv; do
    cmp "$dir/a/$f" "$dir/b/$f"
done
grep -q '"netting_ratio"' "$dir/a/report.json"
grep -q '^| no internal netting |' "$dir/a/report.md"
# another seed, another flow
"$chsim" --config "$dir/short.json" --seed 12 --out "$dir/c" --no-plots --quiet >/dev/null
! cmp -s "$dir/a/flow.csv" "$dir/c/flow.csv"
# without gnuplot the report is still written, and chsim says the plots were skipped
PATH=/nonexistent "$chsim" --config "$dir/short.json" --out "$dir/e" --quiet >"$dir/e.log"
grep -q 'plots skipped: gnuplot not found' "$dir/e.log"
cmp "$dir/a/report.json" "$dir/e/report.json"
[ ! -e "$dir/e/inventory.png" ]
# strict config
echo '{"flow": {"oders_per_hour": 3}}' >"$dir/bad.json"
if "$chsim" --config "$dir/bad.json" --out "$dir/d" 2>"$dir/err"; then
    echo "a config with an unknown key was accepted" >&2
    exit 1
fi
grep -q 'flow.oders_per_hour: unknown key' "$dir/err"
echo "chsim: deterministic, strict config: ok"
