#!/usr/bin/env bash
# chsim as a program: a short run on the shipped data twice with one seed
# gives byte-identical report.json and report.md (the determinism promise);
# without gnuplot it still writes the report and says the plots were skipped;
# a bad config is refused with a message naming the key; every number's key
# in report.json is described in chsim-report(5).
# Usage: test_chsim.sh CHSIM [CHSIM_REPORT_5_SCD]
set -euo pipefail
chsim=$1
report_page=${2:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/short.json" <<'JSON'
{"seed": 11, "start": "2021-05-17", "days": 3,
 "flow": {"orders_per_hour": 20},
 "configurations": [
   {"name": "netting, band 5"},
   {"name": "no internal netting", "internal": false, "netting": false},
   {"name": "every step", "hedge": {"policy": "every_batch"}},
   {"name": "tranches", "tranches": 3, "tranche_share": 0.5},
   {"name": "vega", "vega": {"mode": "expiry", "band": 20000}}]}
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
# the equal-flow comparison: three models at the same contracts, one run per seed
python3 - "$dir/a/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for block in ("equal_flow", "equal_flow_every_step"):
    runs = r[block]["runs"]
    assert len(runs) == 5, (block, len(runs))          # the default: 5 seeds
    assert [x["seed"] for x in runs] == [11, 12, 13, 14, 15]
    for run in runs:
        m = {x["model"]: x for x in run["models"]}
        assert set(m) == {"clearinghouse", "amm", "dealer"}
        c = m["clearinghouse"]["contracts"]
        assert c > 0 and all(m[k]["contracts"] == c for k in m), run
        for k in m.values():   # the parts add up to the hedge cost
            parts = k["fees"] + k["slippage"] + k["expiry_unwind_cost"] + k["funding"]
            assert abs(parts - k["hedge_cost"]) <= 1e-6 * max(1, abs(k["hedge_cost"])) + 0.01, k
    assert {x["model"] for x in r[block]["summary"]} == {"clearinghouse", "amm", "dealer"}
assert len(r["seeds"]) == 5
PY
grep -q '^## Equal flow: the clearinghouse, an AMM and a dealer' "$dir/a/report.md"
# strike tranches: the LP capital splits as configured, each band takes the
# pool's side at its strikes, and the NAVs add up to the LP side's PnL
python3 - "$dir/a/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
runs = {x["name"]: x for x in r["configurations"]}
assert "lps" not in runs["netting, band 5"]
t = runs["tranches"]
lps = t["lps"]
assert [x["name"] for x in lps] == ["general pool", "tranche 1", "tranche 2", "tranche 3"]
cap = sum(x["capital"] for x in lps)
assert abs(cap - 50e6) < 1, cap
assert abs(lps[0]["capital"] - 25e6) < 1
assert lps[1]["strike_lo"] == 1 and lps[2]["strike_lo"] == lps[1]["strike_hi"] + 1
pnl = sum(x["nav"] - x["capital"] for x in lps)
assert abs(pnl - t["pool_pnl"]) <= 1e-6 * cap, (pnl, t["pool_pnl"])
assert sum(x["contracts"] for x in lps) == t["contracts"]["pool"], t["contracts"]
assert any(x["contracts"] > 0 for x in lps[1:])
for x in lps[1:]:
    assert 0 <= x["max_utilisation"] <= 1, x
PY
grep -q '^## Liquidity per strike: tranches' "$dir/a/report.md"
# vega hedging: option orders are sent and the residual vega stays smaller
python3 - "$dir/a/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
runs = {x["name"]: x for x in r["configurations"]}
assert "vega_hedge" not in runs["netting, band 5"]
v = runs["vega"]["vega_hedge"]
assert v["mode"] == "expiry" and v["orders"] > 0 and v["contracts"] > 0, v
assert v["fees"] > 0 and v["spread_cost"] > 0, v
PY
grep -q '^## Vega hedging' "$dir/a/report.md"
# a bad vega mode is refused, naming the key
printf '{"configurations": [{"name": "x", "vega": {"mode": "sometimes"}}]}' >"$dir/badv.json"
! "$chsim" --config "$dir/badv.json" --out "$dir/bv" --quiet 2>"$dir/badv.log"
grep -q 'configurations\[0\].vega.mode' "$dir/badv.log"
# the equal-flow chart's data: one row per model, means within [min, max]
python3 - "$dir/a/equal_flow.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["model"] for r in rows] == ["clearinghouse", "amm", "dealer"], rows
for r in rows:
    for block in ("equal_flow", "equal_flow_every_step"):
        for m in ("hedge_cost_per_contract", "hedge_volume", "peak_capital", "pool_pnl"):
            lo, mean, hi = (float(r[f"{block}.{m}.{s}"]) for s in ("min", "mean", "max"))
            assert lo <= mean + 1e-9 and mean <= hi + 1e-9, (r["model"], block, m)
PY
grep -q "equal_flow.png" "$dir/a/plots.gp"
if command -v gnuplot >/dev/null; then   # with gnuplot, the chart is drawn
    "$chsim" --config "$dir/short.json" --seeds 1 --out "$dir/p" --quiet >"$dir/p.log"
    [ -s "$dir/p/equal_flow.png" ] && [ -s "$dir/p/inventory.png" ]
    grep -q 'equal_flow.png' "$dir/p.log"
fi
"$chsim" --config "$dir/short.json" --seeds 2 --out "$dir/s2" --no-plots --quiet >/dev/null
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert len(r["equal_flow"]["runs"]) == 2' \
    "$dir/s2/report.json"
# the shipped regimes apply before --config; an unknown one is refused
"$chsim" --regime negative-funding --config "$dir/short.json" --seeds 1 --out "$dir/nf" \
    --no-plots --quiet >/dev/null
grep -q '"funding": "constant"' "$dir/nf/report.json"
if "$chsim" --regime sideways --out "$dir/x" 2>"$dir/err"; then
    echo "an unknown regime was accepted" >&2
    exit 1
fi
grep -q 'no such regime' "$dir/err"
# two underlyings in one engine: a result per configuration and underlying,
# deterministic, the second's path correlated as configured, its flow written
echo '{"seed": 11, "start": "2021-05-17", "days": 3, "flow": {"orders_per_hour": 20}}' \
    >"$dir/two.json"
for o in t1 t2; do
    "$chsim" --regime two-underlyings --config "$dir/two.json" --seeds 2 --out "$dir/$o" \
        --no-plots --quiet >"$dir/$o.log"
done
for f in report.json report.md series-2.csv flow.csv flow-ETH.csv; do
    cmp "$dir/t1/$f" "$dir/t2/$f"
done
grep -q '6 configurations x 2 underlyings' "$dir/t1.log"
python3 - "$dir/t1/report.json" "$dir/t1/flow-ETH.csv" <<'PY'
import csv, json, sys
r = json.load(open(sys.argv[1]))
s = r["scenario"]["second_underlying"]
assert s["name"] == "ETH" and s["correlation"] == 0.8 and s["orders"] > 0, s
assert abs(s["realized_correlation"] - 0.8) < 0.3, s      # 72 hourly returns
runs = r["configurations"]
assert len(runs) == 12, len(runs)
assert [x["underlying"] for x in runs] == ["BTC", "ETH"] * 6
assert runs[1]["name"] == "netting, dynamic, band 5 [ETH]", runs[1]["name"]
for x in runs:
    assert x["orders"] > 0 and sum(x["contracts"].values()) > 0, x["name"]
    assert abs(sum(x["pnl"].values()) - x["pool_pnl"]) < 1e-6 * max(1, abs(x["pool_pnl"])) + 0.05
assert r["equal_flow"]["available"] is False and "underlying" in r["equal_flow"]["reason"]
assert len(r["seeds"]) == 2 and len(r["seeds"][0]["configurations"]) == 12
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == s["orders"] and all(x["symbol"].startswith("ETH-") for x in rows)
PY
grep -q '^| no internal netting \[ETH\] |' "$dir/t1/report.md"
# ... not through chd, and not with strike tranches
if "$chsim" --regime two-underlyings --chd ipc:///nonexistent --out "$dir/x" 2>"$dir/err"; then
    echo "two underlyings through chd were accepted" >&2
    exit 1
fi
grep -q 'second_underlying: --chd runs one underlying' "$dir/err"
# chsim-report(5) names the key of every number report.json holds (one
# underlying with tranches and vega hedging, and two underlyings)
if [ -n "$report_page" ]; then
    python3 - "$report_page" "$dir/a/report.json" "$dir/t1/report.json" <<'PY'
import json, re, sys
page = open(sys.argv[1]).read()
keys = set()
def walk(v, key=None):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x, k)
    elif isinstance(v, list):
        for x in v:
            walk(x, key)
    elif isinstance(v, (int, float)) and not isinstance(v, bool) and key is not None:
        keys.add(key)
for f in sys.argv[2:]:
    walk(json.load(open(f)))
missing = sorted(k for k in keys if not re.search(r"(?<![A-Za-z0-9_])" + re.escape(k) + r"(?![A-Za-z0-9_])", page))
assert len(keys) > 60, len(keys)
assert not missing, "not in chsim-report(5): %s" % missing
PY
fi
# strict config
echo '{"flow": {"oders_per_hour": 3}}' >"$dir/bad.json"
if "$chsim" --config "$dir/bad.json" --out "$dir/d" 2>"$dir/err"; then
    echo "a config with an unknown key was accepted" >&2
    exit 1
fi
grep -q 'flow.oders_per_hour: unknown key' "$dir/err"
echo "chsim: deterministic, strict config: ok"
