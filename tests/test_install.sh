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
for p in chd chctl chsim chvenue; do
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
                printf("built with %s: %s, %zu underlyings\n", CH_VERSION, h.server,
                       h.n_underlyings);
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
# 1. pkg-config
PKG_CONFIG_PATH=$libdir/pkgconfig cc -std=c11 -Wall -Werror -o "$tmp/client_pc" \
    "$tmp/client.c" $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs libchclient) \
    -Wl,-rpath,"$libdir"
"$tmp/client_pc" "ipc://$tmp/req.ipc" | grep -q "chd, 2 underlyings"
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
"$tmp/proj/build/client" "ipc://$tmp/req.ipc" | grep -q "chd, 2 underlyings"
# chsim from the prefix: it starts (libchclient beside it) and runs a day
echo '{"days": 1, "configurations": [{"name": "a"}]}' >"$tmp/sim.json"
"$prefix/bin/chsim" --config "$tmp/sim.json" --seeds 1 --no-plots --quiet --out "$tmp/sim" \
    >/dev/null
test -s "$tmp/sim/report.json"
echo "install: programs, libraries, headers, pkg-config and find_package: ok"
