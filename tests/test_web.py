#!/usr/bin/env python3
"""The live dashboard in a real browser: chd, chweb (with chd's read-only
key) and headless Chromium driven by Selenium.

A scripted flow makes parity fills, pool fills and a hedge; the page's
figures must then equal the risk and hedge replies (and stats' fills and
the pool's NAV) at the precision the page shows; a fill placed afterwards
must appear in the page's fill table within 5 s (liveness, not a timing
test); the browser must log no error. The screenshot is saved to OUT_DIR
(dashboard.png), the README's picture.

Usage: test_web.py CHD CHCTL LIBCHCLIENT CHWEB OUT_DIR   (exit 77: no Selenium
or Chromium here, a skip; CI installs both)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

CHD, CHCTL, LIB, CHWEB, OUT = sys.argv[1:6]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    print("test_web: no selenium for this python (apt-get install python3-selenium)")
    sys.exit(77)
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
if not CHROMIUM or not DRIVER:
    print("test_web: no chromium/chromedriver (apt-get install chromium chromium-driver)")
    sys.exit(77)

import chd_harness  # noqa: E402
from chd_harness import TEST_CLOCK, Daemon, free_port  # noqa: E402

chd_harness.configure(CHD, CHCTL, LIB)
chd_harness.watchdog(170)
import chclient  # noqa: E402


def fail(msg):
    print("test_web: FAILED: " + msg)
    sys.exit(1)


def shown(value, digits):
    """`value` as the page prints it: en-US grouping, `digits` decimals."""
    return f"{value:,.{digits}f}"


def flow(c, admin):
    """Parity fills, pool fills and a hedge (band 5 BTC): returns the call."""
    inst = [i for i in c.instruments("BTC") if i.type == "call"]
    first = min(i.expiry for i in inst)
    call = next(i.symbol for i in inst if i.expiry == first and i.strike == 100000)
    put = call[:-1] + "P"
    keys = {a: admin.account_open(a, 5_000_000).key for a in ("ann", "ben")}
    ann = chclient.Client(c.url, key=keys["ann"])
    ben = chclient.Client(c.url, key=keys["ben"])
    q = admin.quote(call, "buy", 2)
    qp = admin.quote(put, "sell", 2)
    # ben rests a put offer inside the pool's spread; ann's call buy nets against it
    ben.order_new("ben", put, "sell", 3, price=round(qp.price + 30), tif="gtc")
    r = ann.order_new("ann", call, "buy", 2, price=q.price + 500, tif="ioc")
    if not any(f.source == "net" for f in r.fills):
        fail(f"no parity fill: {r.raw}")
    # pool fills large enough to move the house past the hedge band
    for _ in range(4):
        q = admin.quote(call, "buy", 10)
        ann.order_new("ann", call, "buy", 10, price=q.price + 500, tif="ioc")
    if admin.hedge("BTC").orders < 1:
        fail("the flow made no hedge")
    ann.close()
    ben.close()
    return call, keys


def main():
    tmp = tempfile.mkdtemp(prefix="ch-web-")
    os.makedirs(OUT, exist_ok=True)
    d = Daemon(tmp, config={"clock": TEST_CLOCK})
    d.start()
    web = driver = None
    try:
        admin = d.client()
        port = free_port()
        web = subprocess.Popen([sys.executable, CHWEB, "--req", d.req, "--pub", d.pub,
                                "--data", d.dir, "--listen", f"127.0.0.1:{port}"],
                               stdout=d.log, stderr=d.log, env=dict(os.environ, CH_CLIENT_LIB=LIB))
        opts = Options()
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,800"):
            opts.add_argument(a)
        opts.binary_location = CHROMIUM
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        driver.set_window_size(1280, 800)
        # the page's viewport itself at 1280x800 (the window's includes its frame)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1280, "height": 800, "deviceScaleFactor": 1,
                                "mobile": False})
        base = f"http://127.0.0.1:{port}/"
        for _ in range(100):  # chweb listening
            try:
                driver.get(base)
                if "Clearinghouse" in driver.title:
                    break
            except Exception:  # noqa: BLE001 (connection refused while chweb starts)
                pass
            time.sleep(0.1)

        time.sleep(1)  # a first sample before the flow, for the charts
        call, keys = flow(admin, admin)

        def card(k):
            # one script, so a redraw between two WebDriver calls cannot
            # leave a stale element
            text, digits = driver.execute_script(
                'const e = document.querySelector(arguments[0]);'
                'return e ? [e.innerText.trim(), e.getAttribute("data-digits")] : [null, null];',
                f'[data-k="{k}"]')
            if text is None:
                fail(f"no card {k}")
            return text, int(digits or 0)

        # the flow's end, as chd answers it
        risk, hedge = admin.risk("BTC"), admin.hedge("BTC")
        stats, pools = admin.stats(), admin.pools()
        want = {
            "risk.totals.delta": risk.totals.delta, "risk.totals.gamma": risk.totals.gamma,
            "risk.totals.vega": risk.totals.vega, "risk.totals.theta": risk.totals.theta,
            "risk.netting.gross_gamma": risk.netting.gross_gamma,
            "risk.netting.netted_gamma": risk.netting.netted_gamma,
            "risk.netting.to_pool": risk.netting.gross_gamma - risk.netting.netted_gamma,
            "risk.netting.ratio": risk.netting.ratio, "risk.worst_loss": risk.worst_loss,
            "hedge.position": hedge.position, "hedge.house_delta": hedge.house_delta,
            "hedge.orders": hedge.orders, "hedge.fees": hedge.fees,
            "hedge.slippage": hedge.slippage, "hedge.funding": hedge.funding,
            "stats.fills.book": stats.fills["book"], "stats.fills.net": stats.fills["net"],
            "stats.fills.pool": stats.fills["pool"], "pools.nav": pools.general.nav,
            "pools.nav_per_share": pools.general.nav_per_share,
        }
        # the page live, and every figure equal once chweb's next refresh has
        # drawn the flow's end (the page updates on events; 35 s: liveness,
        # not a timing test)
        deadline = time.monotonic() + 35
        while True:
            status = driver.find_element(By.ID, "status").text
            diff = [] if "live" in status else [f"the page is not live: {status!r}"]
            for k, v in want.items():
                text, digits = card(k)
                if text != shown(v, digits):
                    diff.append(f"{k}: the page shows {text!r}, the reply {v!r} "
                                f"({shown(v, digits)!r})")
            if not diff:
                break
            if time.monotonic() > deadline:
                fail("; ".join(diff))
            time.sleep(0.3)
        checked = len(want)
        # the hedge fills, as the hedge events told them: the newest ends at
        # the hedge book's position
        # (read in one script: the page redraws the table on each event, so an
        # element found by one WebDriver call can be gone by the next)
        n_hedges, last = driver.execute_script(
            'const rs = document.querySelectorAll("#hedges tbody tr");'
            'if (!rs.length) return [0, null];'
            'const c = rs[0].querySelectorAll("td");'
            'return [rs.length, c.length ? c[c.length - 1].innerText.trim() : ""];')
        if not n_hedges:
            fail("no hedge order shown")
        if last != shown(hedge.position, 3):
            fail(f"the newest hedge row ends at {last!r}, the hedge book at {hedge.position!r}")
        if stats.fills["net"] < 1 or stats.fills["pool"] < 1 or hedge.orders < 1:
            fail(f"the flow lacks a source: {stats.fills} hedges {hedge.orders}")
        # charts drawn, tabs per underlying, units shown
        for cid in ("chart-residual", "chart-netting", "chart-hedge", "chart-fills", "chart-pool"):
            if driver.find_element(By.ID, cid).size["height"] < 100:
                fail(f"{cid} not drawn")
        tabs = driver.execute_script(
            'return [...document.querySelectorAll("#tabs button")].map(b => b.innerText.trim());')
        if tabs != ["BTC", "ETH"]:
            fail(f"tabs {tabs}")
        units = " ".join(driver.execute_script(
            'return [...document.querySelectorAll(".unit")].map(e => e.innerText);'))
        for u in ("BTC", "BTC/USD", "USD/vol", "USD"):
            if u not in units.split():
                fail(f"no unit {u} on the cards: {units}")
        # a new fill appears (5 s: liveness)
        ann = chclient.Client(d.req, key=keys["ann"])
        q = admin.quote(call, "buy", 1)
        r = ann.order_new("ann", call, "buy", 1, price=q.price + 500, tif="ioc")
        ann.close()
        tid = r.fills[0].trade_id
        deadline = time.monotonic() + 5
        while not driver.find_elements(By.CSS_SELECTOR, f'#fills tr[data-trade="{tid}"]'):
            if time.monotonic() > deadline:
                fail(f"fill {tid} not shown within 5 s")
            time.sleep(0.1)
        row = driver.execute_script(
            'const r = document.querySelector(arguments[0]);'
            'return r ? r.innerText : "";', f'#fills tr[data-trade="{tid}"]')
        if call not in row.replace("\n", "") or "pool" not in row:
            fail(f"the fill's row: {row!r}")
        time.sleep(1)  # the state after the fill, drawn
        shot = os.path.join(OUT, "dashboard.png")
        driver.save_screenshot(shot)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if errors:
            fail(f"console errors: {errors}")
        print(f"test_web: {checked} figures equal the replies, {n_hedges} hedge fills shown, a "
              f"new fill shown, no console error; screenshot {shot}")
        admin.close()
    finally:
        if driver is not None:
            driver.quit()
        if web is not None:
            web.terminate()
            web.wait(10)
        d.stop()
        d.log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
