#!/usr/bin/env bash
# Run a browser test (Selenium) with a python3 that has Debian's selenium:
# /usr/bin/python3 first (the one python3-selenium installs for), then the
# python3 on PATH. Exit 77 (a skip in ctest) when none has it.
# Usage: run_browser.sh TEST.py ARGS...
for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import selenium' 2>/dev/null; then
        exec "$py" "$@"
    fi
done
echo "run_browser: no python3 with selenium (apt-get install python3-selenium chromium chromium-driver)" >&2
exit 77
