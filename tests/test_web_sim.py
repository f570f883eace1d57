#!/usr/bin/env python3
"""chweb's simulation view (clients/web/static/sim.html, sim.js) in a browser.

Runs chsim on the default scenario with one seed (about 15 s), serves the
page's three routes (/static/*, /vendor/chart.js, /api/report) from a small
standard-library server in a thread, opens the page in headless Chromium
through Selenium at 1280x800 and checks:
  - #sim-status says "loaded N configurations", N the report's;
  - every configuration's name is in #sim-configs, in the report's order in
    its table, and every chart (a canvas with an id chart-...) was drawn by
    Chart.js, in #sim-configs and in #sim-equal;
  - #sim-equal names the clearinghouse, the AMM and the dealer, and each
    model's figure of each metric of both blocks (td[data-model]) is the
    report's, at the precision shown, with a unit;
  - a JSON that is not a chsim report, opened with the file picker, is
    refused with a message, and the report opened the same way loads again;
  - the browser logged no error (level SEVERE).
Screenshots go to OUT_DIR (made afresh; ctest gives build/web-artifacts/sim),
else to a temporary folder (their paths are printed).

Usage: test_web_sim.py CHSIM_BIN STATIC_DIR CHARTJS_PATH [OUT_DIR]
Exit 77 (skipped) without selenium, chromium or chromedriver.
"""
import faulthandler
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if len(sys.argv) not in (4, 5):
    sys.exit(__doc__.split("Usage: ")[1].split("\n")[0])
CHSIM, STATIC, CHARTJS = (os.path.abspath(a) for a in sys.argv[1:4])
faulthandler.dump_traceback_later(int(os.environ.get("CH_TEST_WATCHDOG", 110)), exit=True)


def skip(why):
    print(f"test_web_sim: skipped: {why}")
    sys.exit(77)


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    skip("no selenium for this python (Debian: python3-selenium)")
DRIVER = shutil.which("chromedriver")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
if DRIVER is None or BROWSER is None:
    skip("no chromium or chromedriver (Debian: chromium, chromium-driver)")
for f in (CHSIM, os.path.join(STATIC, "sim.html"), os.path.join(STATIC, "sim.js"), CHARTJS):
    if not os.path.exists(f):
        sys.exit(f"test_web_sim: {f}: not found")

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"FAIL {what}")
    return ok


# ---- the report: the default scenario, one seed ----
if len(sys.argv) == 5:
    tmp = os.path.abspath(sys.argv[4])
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
else:
    tmp = tempfile.mkdtemp(prefix="test_web_sim.")
out = os.path.join(tmp, "chsim-out")
t0 = time.monotonic()
run = subprocess.run([CHSIM, "--seeds", "1", "--no-plots", "--quiet", "--out", out],
                     capture_output=True, text=True, timeout=90)
if run.returncode != 0:
    sys.exit(f"test_web_sim: chsim failed ({run.returncode}): {run.stderr.strip()}")
print(f"chsim: {time.monotonic() - t0:.1f} s, {out}/report.json")
with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
    report = json.load(f)
names = [c["name"] for c in report["configurations"]]
if report.get("equal_flow", {}).get("available") is False:
    sys.exit("test_web_sim: the default scenario has no equal-flow section: "
             + report["equal_flow"].get("reason", "?"))


# ---- the page's routes ----
class Handler(BaseHTTPRequestHandler):
    TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".css": "text/css; charset=utf-8", ".json": "application/json; charset=utf-8"}

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        name = path[len("/static/"):] if path.startswith("/static/") else None
        if name is not None and "/" not in name and not name.startswith("."):
            file = os.path.join(STATIC, name)
        elif path == "/vendor/chart.js":
            file = CHARTJS
        elif path == "/api/report":
            file = os.path.join(out, "report.json")
        else:
            file = None
        try:
            with open(file or "", "rb") as f:
                data = f.read()
        except OSError:
            data = b'{"error":"no such page"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
        else:
            self.send_response(200)
            self.send_header("Content-Type", self.TYPES.get(os.path.splitext(file)[1],
                                                            "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/static/sim.html"

# ---- the browser ----
opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"):
    opts.add_argument(a)
opts.binary_location = BROWSER
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
try:
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
except Exception as e:  # noqa: BLE001 - a browser that cannot start is a skip
    skip(f"chromium did not start: {str(e).splitlines()[0]}")

NUM = re.compile(r"-?[0-9][0-9,]*(?:\.[0-9]+)?")


def wait_status(want, seconds=20):
    end = time.monotonic() + seconds
    text = ""
    while time.monotonic() < end:
        text = driver.find_element(By.ID, "sim-status").text
        if want in text:
            return text
        time.sleep(0.1)
    return text


def shown_matches(text, value):
    """The first number of text is value at the precision shown."""
    m = NUM.search(text.replace("\u2212", "-"))
    if not m:
        return False
    s = m.group(0).replace(",", "")
    decimals = len(s.split(".")[1]) if "." in s else 0
    return abs(float(s) - value) <= 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-12


# metrics the page shows in another unit than the report's, and that unit
SCALED = {"lp_return_on_capital": (100, "%"), "fill_ratio": (100, "%"),
          "mean_abs_vega": (0.01, "USD/vol pt")}

try:
    t1 = time.monotonic()
    driver.get(url)
    status = wait_status("loaded")
    n = len(names)
    check(status.startswith(f"loaded {n} configuration"), f"status {status!r}, want 'loaded {n} configurations'")

    configs = driver.find_element(By.ID, "sim-configs")
    configs_text = configs.text
    for name in names:
        check(name in configs_text, f"configuration {name!r} not in #sim-configs")
    rows = driver.find_elements(By.CSS_SELECTOR, "#sim-config-table tbody tr")
    check([r.get_attribute("data-config") for r in rows] == names, "the table's rows are not the report's configurations")

    for section in ("sim-configs", "sim-equal"):
        canvases = driver.find_elements(By.CSS_SELECTOR, f"#{section} canvas")
        check(len(canvases) >= 4, f"#{section}: {len(canvases)} charts")
        for c in canvases:
            cid = c.get_attribute("id") or ""
            check(cid.startswith("chart-"), f"#{section}: a canvas with id {cid!r}")
            drawn = driver.execute_script(
                "const c = window.Chart && Chart.getChart(arguments[0]);"
                "return !!c && c.width > 0 && c.height > 0 && c.data.datasets.length > 0;", c)
            check(drawn, f"#{section}: chart {cid} not drawn")
        # every value axis carries a title (the unit)
        untitled = driver.execute_script(
            "return [...document.querySelectorAll('#' + arguments[0] + ' canvas')].filter((c) => {"
            "  const ch = Chart.getChart(c); if (!ch) return true;"
            "  const ax = ch.options.indexAxis === 'y' ? ch.options.scales.x : ch.options.scales.y;"
            "  return !(ax && ax.title && ax.title.display && ax.title.text); }).map((c) => c.id);", section)
        check(not untitled, f"#{section}: value axes without a unit: {untitled}")

    equal = driver.find_element(By.ID, "sim-equal")
    equal_text = equal.text
    for model in ("clearinghouse", "AMM", "dealer"):
        check(model in equal_text, f"{model!r} not in #sim-equal")
    heads = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#sim-eq-table-equal-flow th[data-model]")]
    check(heads == ["clearinghouse", "AMM", "dealer"], f"the equal-flow table's columns: {heads}")
    compared = 0
    for block in ("equal_flow", "equal_flow_every_step"):
        for entry in report[block]["summary"]:
            model = entry["model"]
            for metric, st in entry.items():
                if metric == "model":
                    continue
                sel = f'#sim-equal td[data-model="{model}"][data-metric="{metric}"][data-block="{block}"]'
                cells = driver.find_elements(By.CSS_SELECTOR, sel)
                if not check(len(cells) == 1, f"{block} {model} {metric}: {len(cells)} cells"):
                    continue
                text = cells[0].text
                scale, unit = SCALED.get(metric, (1, None))
                want = st["mean"] * scale
                check(shown_matches(text, want), f"{block} {model} {metric}: shown {text!r}, report {want}")
                check(re.search(r"[A-Za-z%]", text) is not None, f"{block} {model} {metric}: {text!r} has no unit")
                if unit:
                    check(unit in text, f"{block} {model} {metric}: {text!r}, want the unit {unit}")
                compared += 1
    print(f"equal flow: {compared} figures compared with the report")
    check(compared >= 3 * 2 * 10, f"only {compared} equal-flow figures")

    driver.save_screenshot(os.path.join(tmp, "sim-top.png"))
    driver.execute_script("document.getElementById('sim-equal').scrollIntoView()")
    time.sleep(0.3)
    driver.save_screenshot(os.path.join(tmp, "sim-equal.png"))

    # the file picker: not a report, then the report
    bad = os.path.join(tmp, "not-a-report.json")
    with open(bad, "w", encoding="utf-8") as f:
        json.dump({"hello": "world"}, f)
    picker = driver.find_element(By.ID, "sim-file")
    picker.send_keys(bad)
    status = wait_status("not a chsim report", 10)
    check("not a chsim report" in status, f"a JSON that is not a report: status {status!r}")
    check(not driver.find_element(By.ID, "sim-configs").is_displayed(), "the configurations stay shown after a bad file")
    picker.send_keys(os.path.join(out, "report.json"))
    status = wait_status("loaded", 10)
    check(status.startswith(f"loaded {n} configuration"), f"the report from the file picker: status {status!r}")
    check(names[-1] in driver.find_element(By.ID, "sim-configs").text, "the file picker's report is not shown")

    severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    for e in severe:
        print(f"console: {e.get('message')}")
    check(not severe, f"{len(severe)} console errors")
    print(f"browser: {time.monotonic() - t1:.1f} s")
finally:
    driver.quit()
    server.shutdown()

# keep the report and the screenshots, not the rest of chsim's output
for f in os.listdir(out):
    if f != "report.json":
        os.remove(os.path.join(out, f))
print(f"screenshots: {os.path.join(tmp, 'sim-top.png')} {os.path.join(tmp, 'sim-equal.png')}")
if failures:
    print(f"test_web_sim: {len(failures)} failures")
    sys.exit(1)
print(f"test_web_sim: ok ({len(names)} configurations, {compared} equal-flow figures)")
