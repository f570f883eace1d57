#!/usr/bin/env bash
# cmake --install into a temporary prefix, then everything from there only:
# the programs start (chsim finds libchclient; chd serves), and a small C
# client built against the installed headers and libchclient, once through
# pkg-config and once through find_package(clearinghouse), asks the
# installed chd for `hello`. Usage: test_install.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d)
chd_pid=
cleanup() {
    [ -n "$chd_pid" ] && kill "$chd_pid" 2>/dev/null && wait "$chd_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
for p in chd chctl chsim chvenue chweb; do
    "$prefix/bin/$p" --version | grep -q "^$p [0-9]"
done
libdir=$(dirname "$(find "$prefix" -name libchclient.pc)")/..
test -e "$libdir/libchclient.so.1" && test -e "$libdir/libchbook.so.0"
test -e "$prefix/include/ch/client.h" && test -e "$prefix/include/ch/book.h"
# the installed chd, on ipc://, without keys
"$prefix/bin/chd" --req "ipc://$tmp/req.ipc" --pub "ipc://$tmp/pub.ipc" --data "$tmp/var" \
    --no-auth >"$tmp/chd.log" 2>&1 &
chd_pid=$!
cat >"$tmp/client.c" <<'C'
#include <ch/client.h>
#include <ch/version.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    ch_client *c;
    for (int i = 0; i < 100; i++) { /* until chd listens */
        if (ch_client_open(argv[1], 2000, &c) == 0) {
            ch_client_hello_info h;
            ch_err e = ch_client_hello(c, &h);
            ch_client_close(c);
            if (e == CH_OK) {
                printf("built with %s: %s %s, %zu underlyings\n", CH_VERSION, h.server,
                       h.software, h.n_underlyings);
                ch_client_release(h.underlyings);
                return strcmp(ch_client_version(), CH_VERSION) == 0 ? 0 : 1;
            }
        }
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "no chd at %s\n", argv[1]);
    return 1;
}
C
sed -i '1i #define _POSIX_C_SOURCE 200809L\n#include <time.h>' "$tmp/client.c"
ver=$("$prefix/bin/chd" --version | cut -d' ' -f2) # hello.software, as the client prints it
# 1. pkg-config
PKG_CONFIG_PATH=$libdir/pkgconfig cc -std=c11 -Wall -Werror -o "$tmp/client_pc" \
    "$tmp/client.c" $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs libchclient) \
    -Wl,-rpath,"$libdir"
"$tmp/client_pc" "ipc://$tmp/req.ipc" | grep -q "chd $ver, 2 underlyings"
# 2. CMake's find_package
mkdir "$tmp/proj"
cp "$tmp/client.c" "$tmp/proj/"
cat >"$tmp/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(usechclient C)
find_package(clearinghouse 0.1 REQUIRED)
add_executable(client client.c)
target_link_libraries(client PRIVATE clearinghouse::chclient)
set_target_properties(client PROPERTIES BUILD_RPATH "${clearinghouse_DIR}/../..")
CM
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/proj/build" >/dev/null
"$tmp/proj/build/client" "ipc://$tmp/req.ipc" | grep -q "chd $ver, 2 underlyings"
# chweb from the prefix (its page, the Python client and libchclient found
# from where it is, no variable set) serves the installed chd's state
if [ -f /usr/share/javascript/chart.js/chart.min.js ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    env -u CH_CLIENT_LIB -u PYTHONPATH "$prefix/bin/chweb" --req "ipc://$tmp/req.ipc" \
        --pub "ipc://$tmp/pub.ipc" --listen "127.0.0.1:$port" >"$tmp/chweb.log" 2>&1 &
    web_pid=$!
    python3 - "$port" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(100):
    try:
        s = json.load(urllib.request.urlopen(base + "/api/state", timeout=2))
        if s["connected"]:
            break
    except OSError:
        pass
    time.sleep(0.1)
else:
    sys.exit("chweb: not connected to chd")
assert s["chd"]["hello"]["underlyings"] == ["BTC", "ETH"], s["chd"]["hello"]
page = urllib.request.urlopen(base + "/").read().decode()
assert "/static/app.js" in page and len(urllib.request.urlopen(base + "/static/app.js").read()) > 1000
assert len(urllib.request.urlopen(base + "/vendor/chart.js").read()) > 100000
PY
    kill "$web_pid"
    wait "$web_pid" || true
else
    echo "install: chweb not checked (apt-get install libjs-chart.js)" >&2
fi
# chsim from the prefix: it starts (libchclient beside it) and runs a day
echo '{"days": 1, "configurations": [{"name": "a"}]}' >"$tmp/sim.json"
"$prefix/bin/chsim" --config "$tmp/sim.json" --seeds 1 --no-plots --quiet --out "$tmp/sim" \
    >/dev/null
test -s "$tmp/sim/report.json"
# man pages (clients/man, built with scdoc) and the systemd unit: the pages
# are installed and render; every --option of each program's --help (and of
# each chctl command's --help), every chctl command and action, and every
# key of the installed chd's --config-doc appear in the rendered pages; the
# unit names the installed chd and passes systemd-analyze verify
mandir=$prefix/share/man
if grep -Eq '^CH_(SCDOC|AWK):FILEPATH=.*NOTFOUND' "$build/CMakeCache.txt"; then
    echo "install: scdoc was not found at configure time: man pages not checked"
else
    for p in man1/chd.1 man1/chctl.1 man1/chsim.1 man5/chd.conf.5 man5/chsim-report.5; do
        test -s "$mandir/$p" || { echo "install: no $mandir/$p" >&2; exit 1; }
    done
    if command -v man >/dev/null && command -v col >/dev/null; then
        # one line per page (no hyphenation; a break after an explicit hyphen joined back)
        render() {
            MANWIDTH=80 MAN_KEEP_FORMATTING=0 MANROFFOPT=-rHY=0 LC_ALL=C man -l "$1" \
                2>"$tmp/man.err" | col -b >"$2"
            if grep -q . "$tmp/man.err"; then
                echo "install: man -l $1:" >&2
                cat "$tmp/man.err" >&2
                exit 1
            fi
            awk '{ sub(/^ +/, ""); if (prev ~ /[^ ]-$/) out = out $0; else out = out " " $0
                   prev = $0 } END { print out }' "$2" >"$2.flat"
        }
        need() { # need PAGE WHAT WORD...: each WORD in the page, not as part of a longer one
            local page=$1 what=$2 w
            shift 2
            for w in "$@"; do
                grep -Eq -- "(^|[^[:alnum:]_-])${w}([^[:alnum:]_-]|$)" "$page.flat" || {
                    echo "install: $what '$w' is not in $(basename "$page")" >&2
                    exit 1
                }
            done
        }
        opts_of() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
        for p in chd chctl chsim; do
            render "$mandir/man1/$p.1" "$tmp/$p.txt"
            grep -Eq "^ *$p - " "$tmp/$p.txt"
            "$prefix/bin/$p" --help >"$tmp/$p.help"
            need "$tmp/$p.txt" "$p --help's option" $(opts_of <"$tmp/$p.help")
        done
        grep -Eq '^ *--data DIR' "$tmp/chd.txt"
        # chctl: every command, its options, and each action of a group
        for c in $(awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }' \
                       "$tmp/chctl.help"); do
            "$prefix/bin/chctl" "$c" --help >"$tmp/cmd.help"
            need "$tmp/chctl.txt" "chctl command" "$c"
            need "$tmp/chctl.txt" "option of chctl $c" $(opts_of <"$tmp/cmd.help")
            for a in $(sed -n "s/^  chctl $c \([a-z-]*\) .*/\1/p" "$tmp/cmd.help"); do
                need "$tmp/chctl.txt" "chctl action" "$c $a"
            done
        done
        render "$mandir/man5/chd.conf.5" "$tmp/chd.conf.txt"
        render "$mandir/man5/chsim-report.5" "$tmp/chsim-report.txt"
        grep -Eq '^ *chsim-report - ' "$tmp/chsim-report.txt"
        "$prefix/bin/chd" --config-doc | sed -n 's/^| `\([a-z0-9_]*\)` |.*/\1/p' >"$tmp/keys"
        test "$(wc -l <"$tmp/keys")" -gt 50
        need "$tmp/chd.conf.txt" "config key" $(cat "$tmp/keys")
        # found through MANPATH, by name
        MANPATH=$mandir MANWIDTH=80 LC_ALL=C man chd 2>/dev/null | col -b >"$tmp/chd.man"
        grep -Eq '^ *chd - ' "$tmp/chd.man"
        MANPATH=$mandir MANWIDTH=80 LC_ALL=C man 5 chd.conf 2>/dev/null | col -b >"$tmp/conf.man"
        grep -Eq '^ *chd.conf - ' "$tmp/conf.man"
    else
        echo "install: man (man-db) or col not found: the pages are not rendered"
    fi
fi
unit=$prefix/lib/systemd/system/chd.service
test -s "$unit" || { echo "install: no $unit" >&2; exit 1; }
for l in "ExecStart=$prefix/bin/chd --data /var/lib/clearinghouse " DynamicUser=yes \
    StateDirectory=clearinghouse Restart=on-failure KillSignal=SIGTERM TimeoutStopSec= \
    LimitNOFILE= NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ReadWritePaths= \
    WantedBy=multi-user.target; do
    grep -qF -- "$l" "$unit" || { echo "install: '$l' is not in $unit" >&2; exit 1; }
done
if command -v systemd-analyze >/dev/null; then
    # Documentation=man:chd(1) man:chd.conf(5): found in the prefix (--man=no without them)
    verify_man=--man=no
    [ -e "$mandir/man1/chd.1" ] && command -v man >/dev/null && verify_man=--man=yes
    MANPATH=$mandir systemd-analyze verify "$verify_man" "$unit" >"$tmp/verify" 2>&1 || {
        cat "$tmp/verify" >&2
        exit 1
    }
    if grep 'chd.service' "$tmp/verify" >&2; then exit 1; fi
else
    echo "install: systemd-analyze not found: chd.service not verified"
fi
echo "install: programs, libraries, headers, pkg-config and find_package: ok"
