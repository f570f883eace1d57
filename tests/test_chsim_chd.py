#!/usr/bin/env python3
"""chsim --chd: a short scenario through a running chd (ipc:// in a temporary
folder, a fresh data folder, the admin key from DIR/admin.key).

Checks: the report has one configuration, marked as from chd, with a netting
ratio in [0, 1] and the PnL attribution left out; its fills by source (counted
in the order replies) are chd's own `stats` (read with chctl), its hedge
volume chd's `hedge`; a second fresh daemon with the same seed gives the same
report.json and report.md byte for byte; the same scenario in process, with the
daemon's settings (pool capital, fees, netting) and one configuration, fills the
same contracts by the same sources (the daemon hedges on its own schedule, so
only fills are compared); a wrong key, a daemon already used and a daemon whose BTC contract is not
1 BTC are refused with a message.

Usage: test_chsim_chd.py CHD CHCTL LIBCHCLIENT CHSIM   (run by ctest)
"""
import json
import os
import subprocess
import sys
import tempfile

CHD, CHCTL, LIB, CHSIM = sys.argv[1:5]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chd_harness  # noqa: E402
from chd_harness import Daemon  # noqa: E402

chd_harness.configure(CHD, CHCTL, LIB)
chd_harness.watchdog(110)  # ctest stops it at 120 s

# the daemon's settings, given explicitly so the in-process run can use the same
# on price alone, so that the in-process engine can be compared fill for fill:
# with risk-aware netting (the default) the house's hedge position enters the
# prices, and chd hedges after every batch where chsim hedges once a step
DAEMON = {"lp_cash": 10000000, "netting": True, "taker_fee_bps": 3, "netting_fee_ticks": 1,
          "risk_aware": False}
SCENARIO = {"seed": 5, "start": "2021-05-17", "days": 1, "step_seconds": 3600,
            "chain": {"flat_vol": 0.8, "weeklies": 2, "monthlies": 0},
            "flow": {"orders_per_hour": 20, "size_max": 5, "traders": 6}}


def chsim(*args):
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:  # ctest turns leak checks off for python, not for chsim
        env["ASAN_OPTIONS"] = "detect_leaks=1"
    return subprocess.run([CHSIM, "--no-plots", "--quiet", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def chctl(d, *args):
    out = subprocess.run([CHCTL, "--json", "--url", d.req, "--data", d.dir, *args],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return json.loads(out)


def run_against_fresh_daemon(tmp, name, scenario):
    base = os.path.join(tmp, name)
    os.mkdir(base)
    d = Daemon(base, config=DAEMON)
    d.start()
    try:
        out = os.path.join(base, "out")
        r = chsim("--chd", d.req, "--key-file", os.path.join(d.dir, "admin.key"),
                  "--config", scenario, "--out", out)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
        stats, hedge = chctl(d, "stats"), chctl(d, "hedge")
        # a second run on this daemon: its clock and accounts are the first run's
        again = chsim("--chd", d.req, "--key", d.key, "--config", scenario,
                      "--out", os.path.join(base, "again"))
        bad_key = chsim("--chd", d.req, "--key", "0" * 64, "--config", scenario,
                        "--out", os.path.join(base, "bad"))
    finally:
        d.close()
    with open(os.path.join(out, "report.json"), "rb") as f:
        raw_json = f.read()
    with open(os.path.join(out, "report.md"), "rb") as f:
        raw_md = f.read()
    return report, stats, hedge, again, bad_key, raw_json, raw_md


def main():
    with tempfile.TemporaryDirectory() as tmp:
        scenario = os.path.join(tmp, "scenario.json")
        with open(scenario, "w") as f:
            json.dump(SCENARIO, f)
        report, stats, hedge, again, bad_key, json1, md1 = run_against_fresh_daemon(
            tmp, "a", scenario)
        confs = report["configurations"]
        assert len(confs) == 1, confs
        c = confs[0]
        assert c["engine"] == "chd", c
        assert 0 <= c["netting_ratio"] <= 1, c["netting_ratio"]
        assert "pnl" not in c and "pnl" in c["not_available"], c
        assert "trade_by_trade_hedge_cost" not in c, c
        fills = c["fills"]
        assert sum(fills.values()) > 0 and fills["pool"] > 0 and fills["book"] + fills["net"] > 0, fills
        # the replies' count is the daemon's
        assert fills == stats["fills"], (fills, stats["fills"])
        assert c["daemon_fills"] == stats["fills"], (c["daemon_fills"], stats["fills"])
        assert abs(c["hedge_volume"] - hedge["volume"]) < 1e-3, (c["hedge_volume"], hedge)
        assert abs(c["netting_ratio"] - hedge["netting_ratio"]) < 1e-5, (c, hedge)
        assert c["hedge_orders"] == hedge["orders"], (c, hedge)
        assert c["orders"] == report["scenario"]["orders"], c
        # refusals, with a message and no report
        assert again.returncode != 0 and "chsim: chd" in again.stderr, again.stderr
        assert bad_key.returncode != 0 and "UNAUTHORIZED" in bad_key.stderr.upper(), bad_key.stderr

        # determinism through the daemon
        report2, stats2, _, _, _, json2, md2 = run_against_fresh_daemon(tmp, "b", scenario)
        assert report2["configurations"][0]["fills"] == fills, report2
        assert json1 == json2 and md1 == md2, "two fresh daemons, one seed: different reports"

        # the same engine in process, with the daemon's settings: the same fills
        inproc = dict(SCENARIO, pool={"capital": DAEMON["lp_cash"]},
                      engine={"taker_fee_bps": DAEMON["taker_fee_bps"],
                              "netting_fee_ticks": DAEMON["netting_fee_ticks"]},
                      configurations=[{"name": "as chd", "risk_aware": False}])
        path = os.path.join(tmp, "inproc.json")
        with open(path, "w") as f:
            json.dump(inproc, f)
        r = chsim("--config", path, "--seeds", "1", "--out", os.path.join(tmp, "inproc"))
        assert r.returncode == 0, r.stderr
        with open(os.path.join(tmp, "inproc", "report.json")) as f:
            ip = json.load(f)["configurations"][0]
        assert ip["engine"] == "in_process", ip
        assert ip["fills"] == fills and ip["contracts"] == c["contracts"], (ip, c)
        assert abs(ip["gross_delta"] - c["gross_delta"]) < 1e-3, (ip, c)
        # a daemon whose BTC contract is not 1 BTC is refused, before any order
        base = os.path.join(tmp, "tenth")
        os.mkdir(base)
        d = Daemon(base, config=dict(DAEMON, contract_size=0.1))
        d.start()
        try:
            r = chsim("--chd", d.req, "--key", d.key, "--config", scenario,
                      "--out", os.path.join(base, "out"))
            orders = chctl(d, "stats")
        finally:
            d.close()
        assert r.returncode == 1 and "contract of 0.1 BTC" in r.stderr, (r.returncode, r.stderr)
        assert not os.path.exists(os.path.join(base, "out", "report.json"))
        assert sum(orders["fills"].values()) == 0, orders
        total = sum(c["contracts"].values())
        print(f"chsim --chd: {sum(fills.values())} fills ({total} contracts) book/net/pool "
              f"{fills['book']}/{fills['net']}/{fills['pool']}, as chd's stats and the in-process "
              f"engine; netting ratio {c['netting_ratio']:.3f}, hedge volume "
              f"{c['hedge_volume']:.1f} BTC; two daemons, one seed: identical reports; a "
              f"daemon of 0.1 BTC contracts refused: ok")


if __name__ == "__main__":
    main()
