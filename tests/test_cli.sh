#!/usr/bin/env bash
# The command lines of chd, chctl, chsim, chvenue and chdemo (getopt_long,
# ch/cli.h): an unknown option is an error naming it (exit 2), a missing value
# names the option, --opt=value works like --opt value, --help prints the
# usage (exit 0), --version prints "PROG VERSION". chctl's options are per
# command and per action, and nothing unknown is ever sent: the requests
# below name a server that does not exist (ipc:///nonexistent/...), so a
# request that got as far as sending would fail with exit 3 instead.
# No server is started. Usage: test_cli.sh CHD CHCTL CHSIM CHVENUE CHDEMO VERSION
set -u
CHD=$1 CHCTL=$2 CHSIM=$3 CHVENUE=$4 CHDEMO=$5 VERSION=$6
NOWHERE=ipc:///nonexistent/chd.sock
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
check() { # name command... (the command is run with a timeout; rc, out, err are kept)
    local name=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
    else
        echo "FAIL $name"
        echo "  stdout: $(head -c 600 "$t/out")"
        echo "  stderr: $(head -c 600 "$t/err")"
        fail=$((fail + 1))
    fi
}
run() { # command...: sets rc, with stdout in $t/out and stderr in $t/err
    timeout 30 "$@" >"$t/out" 2>"$t/err" </dev/null
    rc=$?
}
rc_is() { test "$rc" -eq "$1"; }
err_has() { grep -qF -- "$1" "$t/err"; }
out_has() { grep -qF -- "$1" "$t/out"; }

# every program: unknown option, missing value, --help, --version
for prog in chd chctl chsim chvenue chdemo; do
    case $prog in
        chd) exe=$CHD needs=--req ;;
        chctl) exe=$CHCTL needs=--url ;;
        chsim) exe=$CHSIM needs=--out ;;
        chvenue) exe=$CHVENUE needs=--listen ;;
        chdemo) exe=$CHDEMO needs=--db ;;
    esac
    run "$exe" --tiff ioc
    check "$prog --tiff: exit 2" rc_is 2
    check "$prog --tiff: named" err_has "$prog: unknown option '--tiff'"
    run "$exe" --tiff=ioc
    check "$prog --tiff=ioc: exit 2" rc_is 2
    check "$prog --tiff=ioc: named" err_has "unknown option '--tiff'"
    run "$exe" -Z
    check "$prog -Z: exit 2" rc_is 2
    check "$prog -Z: named" err_has "unknown option '-Z'"
    run "$exe" "$needs"
    check "$prog $needs without a value: exit 2" rc_is 2
    check "$prog $needs without a value: named" err_has "option '$needs' needs a value"
    run "$exe" --help
    check "$prog --help: exit 0" rc_is 0
    check "$prog --help: usage on stdout" out_has "usage: $prog"
    check "$prog --help: nothing on stderr" test ! -s "$t/err"
    run "$exe" --version
    check "$prog --version: exit 0" rc_is 0
    check "$prog --version: the project version" test "$(cat "$t/out")" = "$prog $VERSION"
    run "$exe" --help=yes
    check "$prog --help=yes: exit 2" rc_is 2
    check "$prog --help=yes: named" err_has "option '--help' takes no value"
done

# chd: values are checked and named, in both spellings; --config is read
run "$CHD" --durability=bogus
check "chd --durability=bogus: exit 2" rc_is 2
check "chd --durability=bogus: named" err_has "chd: --durability: expected sync or nosync, not 'bogus'"
run "$CHD" --contexts 0
check "chd --contexts 0: exit 2" rc_is 2
check "chd --contexts 0: named" err_has "--contexts: expected a whole number in 1..4096, not '0'"
run "$CHD" --log-level=loud
check "chd --log-level=loud: named" err_has "--log-level: expected error, warn, info or debug, not 'loud'"
run "$CHD" --config="$t/missing.json"
check "chd --config=FILE: exit 2" rc_is 2
check "chd --config=FILE: the file is read" err_has "$t/missing.json"
run "$CHD" --bogus-flag --config "$t/missing.json"
check "chd: a bad option is reported before the config is read" err_has "unknown option '--bogus-flag'"
check "chd: ... and the config is not read" test "$(grep -c missing.json "$t/err")" -eq 0
run "$CHD" --co x
check "chd --co: ambiguous, exit 2" rc_is 2
check "chd --co: the candidates" err_has "--config, --contexts"
run "$CHD" stray
check "chd stray operand: exit 2" rc_is 2
check "chd stray operand: named" err_has "unexpected argument 'stray'"

# chvenue, chsim, chdemo: --opt=value
run "$CHVENUE" --listen "$NOWHERE" --fee-bps=abc
check "chvenue --fee-bps=abc: exit 2" rc_is 2
check "chvenue --fee-bps=abc: named" err_has "chvenue: --fee-bps: expected a number in -10000..10000, not 'abc'"
run "$CHVENUE" --drop=-1 --listen "$NOWHERE"
check "chvenue --drop=-1: named" err_has "--drop: expected a whole number in 0.."
run "$CHVENUE" --fee-bps 5
check "chvenue without --listen: exit 2" rc_is 2
check "chvenue without --listen: said" err_has "--listen URL is required"
run "$CHVENUE" --listen=bogus://nowhere
check "chvenue --listen=URL: the URL is used (and refused)" rc_is 1
check "chvenue --listen=URL: named in the log" err_has "url=bogus://nowhere"
run "$CHSIM" --seed=abc
check "chsim --seed=abc: exit 2" rc_is 2
check "chsim --seed=abc: named" err_has "chsim: --seed: expected a whole number"
run "$CHSIM" --config="$t/missing.json" --out "$t/sim"
check "chsim --config=FILE: exit 2" rc_is 2
check "chsim --config=FILE: the file is read" err_has "$t/missing.json"
run "$CHSIM" --key k
check "chsim --key without --chd: exit 2" rc_is 2
check "chsim --key without --chd: said" err_has "--key is for --chd only"
run "$CHDEMO" --orders=0
check "chdemo --orders=0: exit 2" rc_is 2
check "chdemo --orders=0: named" err_has "chdemo: --orders: expected a whole number in 1..10000000, not '0'"
run "$CHDEMO" --orders=20 --seed=3 --quiet
check "chdemo --orders=20 --seed=3: runs" rc_is 0
run "$CHDEMO" --orders 20 --seed 3 --quiet
check "chdemo: --opt=value and --opt value run the same" test "$(cat "$t/out")" = "$(timeout 30 "$CHDEMO" --orders=20 --seed=3 --quiet 2>/dev/null)"

# chctl: the misspelled option of the issue is refused before anything is sent
order=(--account alice --symbol BTC-27NOV26-100000-C --side buy --qty 1 --price 2500)
run "$CHCTL" --url "$NOWHERE" order new --tiff ioc "${order[@]}"
check "chctl order new --tiff: exit 2" rc_is 2
check "chctl order new --tiff: named" err_has "chctl order new: unknown option '--tiff'"
check "chctl order new --tiff: no server contacted" test "$(grep -c nonexistent "$t/err")" -eq 0
run "$CHCTL" --url="$NOWHERE" order new "${order[@]}" --tiff=ioc
check "chctl order new --tiff=ioc (last): exit 2" rc_is 2
check "chctl order new --tiff=ioc (last): named" err_has "unknown option '--tiff'"
# ... while the same order spelled right is sent (and fails on the transport)
run "$CHCTL" --url="$NOWHERE" order new "${order[@]}" --tif=ioc --client-order-id c1 --post-only
check "chctl order new --tif=ioc: sent (exit 3, no server)" rc_is 3
check "chctl order new --tif=ioc: the URL from --url=" err_has "$NOWHERE"
run "$CHCTL" --url "$NOWHERE" order new --account=alice --symbol=S --side=buy --qty=1 --client_order_id=c1
check "chctl order new: --opt=value and the '_' spelling: sent" rc_is 3
# strict per action: another action's field is not this one's
run "$CHCTL" --url "$NOWHERE" order cancel --account alice --order-id 7 --price 5
check "chctl order cancel --price: exit 2" rc_is 2
check "chctl order cancel --price: named" err_has "chctl order cancel: unknown option '--price'"
run "$CHCTL" --url "$NOWHERE" order replace --account alice --order-id 7 --tif ioc
check "chctl order replace --tif: named" err_has "chctl order replace: unknown option '--tif'"
run "$CHCTL" --url "$NOWHERE" account open --account bob --amount 5
check "chctl account open --amount: named" err_has "chctl account open: unknown option '--amount'"
run "$CHCTL" --url "$NOWHERE" account deposit --account bob --cash 5
check "chctl account deposit --cash: named" err_has "chctl account deposit: unknown option '--cash'"
run "$CHCTL" --url "$NOWHERE" pool withdraw --account bob --amount 5
check "chctl pool withdraw --amount: named" err_has "chctl pool withdraw: unknown option '--amount'"
run "$CHCTL" --url "$NOWHERE" pool deposit --account bob --shares 5
check "chctl pool deposit --shares: named" err_has "chctl pool deposit: unknown option '--shares'"
run "$CHCTL" --url "$NOWHERE" market update --underlying BTC --index 100000 --vol 0.5
check "chctl market update --vol: named" err_has "chctl market update: unknown option '--vol'"
run "$CHCTL" --url "$NOWHERE" instrument add --symbol BTC-27NOV26-100000-C --account x
check "chctl instrument add --account: named" err_has "chctl instrument add: unknown option '--account'"
run "$CHCTL" --url "$NOWHERE" book BTC-27NOV26-100000-C --detph 5
check "chctl book --detph: named" err_has "chctl book: unknown option '--detph'"
run "$CHCTL" --url "$NOWHERE" hello --json
check "chctl hello --json (a global option after the command): exit 2" rc_is 2
run "$CHCTL" --url "$NOWHERE" order frobnicate --account a
check "chctl order frobnicate: exit 2" rc_is 2
check "chctl order frobnicate: named" err_has "unknown action 'frobnicate'"
run "$CHCTL" --url "$NOWHERE" order --tiff ioc new
check "chctl order --tiff: named" err_has "chctl order: unknown option '--tiff'"
# values and required fields are checked before sending
run "$CHCTL" --url "$NOWHERE" order new --account alice --symbol S --side buy --qty=abc
check "chctl order new --qty=abc: exit 2" rc_is 2
check "chctl order new --qty=abc: named" err_has "--qty: expected a number, not 'abc'"
run "$CHCTL" --url "$NOWHERE" order new --account alice --symbol S --side buy
check "chctl order new without --qty: exit 2" rc_is 2
check "chctl order new without --qty: named" err_has "missing --qty"
run "$CHCTL" --url "$NOWHERE" market update --underlying BTC --index 1 --iv '[1]'
check "chctl market update --iv (not an object): named" err_has "--iv: expected a JSON object"
run "$CHCTL" --url "$NOWHERE" positions
check "chctl positions without ACCOUNT: exit 2" rc_is 2
run "$CHCTL" --url "$NOWHERE" positions alice bob
check "chctl positions alice bob: named" err_has "unexpected argument 'bob'"
run "$CHCTL" --url "$NOWHERE" book --depth=3 BTC-27NOV26-100000-C
check "chctl book --depth=3 SYMBOL: sent" rc_is 3
# help: the program, each command, each group and action
run "$CHCTL" order --help
check "chctl order --help: exit 0" rc_is 0
check "chctl order --help: the actions" out_has "chctl order cancel --account NAME --order-id ID"
run "$CHCTL" order new --help
check "chctl order new --help: exit 0" rc_is 0
check "chctl order new --help: its options" out_has "[--tif gtc|ioc|fok]"
check "chctl order new --help: --client-order-id" out_has "[--client-order-id ID]"
run "$CHCTL" --url "$NOWHERE" order new --tiff ioc --help
check "chctl order new --tiff --help: the error first" rc_is 2
for cmd in price iv dump call hello instruments instrument account pool market order orders \
    book quote positions risk hedge stats watch; do
    run "$CHCTL" "$cmd" --help
    check "chctl $cmd --help: exit 0" rc_is 0
    check "chctl $cmd --help: usage" out_has "usage: chctl $cmd"
done
# the summary: every command's summary starts in one column
run "$CHCTL" --help
summary_column() { # each "  name  summary" line after "commands:": the summary's column
    sed -n '/^commands:/,$p' "$t/out" | tail -n +2 |
        awk '{ match($0, /^  [a-z]+ +/); print RLENGTH }' | sort -u | wc -l
}
check "chctl --help: the summaries in one column" test "$(summary_column)" = 1
for action in "account open" "account deposit" "pool deposit" "pool withdraw" \
    "market update" "instrument add" "order cancel" "order replace" "order batch"; do
    run "$CHCTL" $action --help
    check "chctl $action --help: exit 0" rc_is 0
    check "chctl $action --help: usage" out_has "usage: chctl $action"
done
run "$CHCTL" help
check "chctl help: exit 0" rc_is 0
run "$CHCTL"
check "chctl without a command: exit 2" rc_is 2
run "$CHCTL" frobnicate
check "chctl frobnicate: exit 2" rc_is 2
# the commands that need no server
mkdir -p "$t/empty"
run "$CHCTL" dump --db="$t/empty"
check "chctl dump --db=DIR: the folder is read" rc_is 1
check "chctl dump --db=DIR: named" err_has "holds no clearinghouse store"
run "$CHCTL" dump --pretty
check "chctl dump without --db: exit 2" rc_is 2
run "$CHCTL" dump --db "$t/empty" --pretyy
check "chctl dump --pretyy: named" err_has "chctl dump: unknown option '--pretyy'"
printf 'type,S,K,T,r,q,sigma\ncall,100,100,1,0.05,0,0.2\n' | "$CHCTL" price >"$t/out" 2>"$t/err"
rc=$?
check "chctl price: runs" rc_is 0
run "$CHCTL" price --sigma 0.2
check "chctl price --sigma: named" err_has "chctl price: unknown option '--sigma'"
run "$CHCTL" iv extra
check "chctl iv extra: exit 2" rc_is 2
run "$CHCTL" watch fill. abc
check "chctl watch COUNT=abc: exit 2" rc_is 2
check "chctl watch COUNT=abc: named" err_has "COUNT: expected a whole number"
run "$CHCTL" call
check "chctl call without JSON: exit 2" rc_is 2

echo "$pass passed, $fail failed"
test "$fail" -eq 0
