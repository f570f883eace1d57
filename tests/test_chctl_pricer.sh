#!/usr/bin/env bash
# chctl price / chctl iv: CSV contract, error rows, exit statuses.
set -u
CHCTL=$1
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { # name condition...
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=$((fail + 1)); fi
}

# a good run: header, 17 significant digits, exit 0
printf 'type,S,K,T,r,q,sigma\ncall,100,100,1,0.05,0,0.2\nput,100,100,1,0.05,0,0.2\n' |
    "$CHCTL" price >"$t/out" 2>"$t/err"
check "price exits 0" test $? -eq 0
check "price header" grep -qx 'type,S,K,T,r,q,sigma,price,delta,gamma,vega,theta,rho,vanna,volga' "$t/out"
check "price rows" test "$(wc -l <"$t/out")" -eq 3
check "Hull-style value, 17 digits" grep -q '^call,100,100,1,0.050000000000000003,0,0.20000000000000001,10.45058357218556' "$t/out"
check "no stderr" test ! -s "$t/err"

# malformed rows: named on stderr by line, the others still priced, exit 1
printf 'type,S,K,T,r,q,sigma\ncall,100,100,1,0,0,0.2\nbanana,1,1,1,0,0,0.2\nput,100,abc,1,0,0,0.2\nput,100,90,1,0,0\ncall,-5,100,1,0,0,0.2\nput,100,90,1,0,0,0.3\n' |
    "$CHCTL" price >"$t/out" 2>"$t/err"
check "bad rows exit 1" test $? -eq 1
check "line 3 named" grep -q 'line 3: type must be call or put' "$t/err"
check "line 4 named" grep -q 'line 4: K is not a finite number' "$t/err"
check "line 5 named" grep -q 'line 5: expected 7' "$t/err"
check "line 6 named" grep -q 'line 6: invalid inputs' "$t/err"
check "good rows kept" test "$(wc -l <"$t/out")" -eq 3

# wrong header
printf 'S,K,T\n1,2,3\n' | "$CHCTL" price >"$t/out" 2>"$t/err"
check "wrong header exit 1" test $? -eq 1
check "wrong header named" grep -q 'expected the header line' "$t/err"

# iv: a row with no implied vol is nan, and not an error
printf 'type,S,K,T,r,q,price\ncall,100,100,1,0.05,0,10.450583572185565\ncall,100,80,1,0,0,19\nput,100,100,1,0,0,0\n' |
    "$CHCTL" iv >"$t/out" 2>"$t/err"
check "iv exits 0" test $? -eq 0
check "iv header" grep -qx 'type,S,K,T,r,q,price,sigma' "$t/out"
check "iv value" grep -qE '^call,100,100,1,0.050000000000000003,0,10.450583572185565,(0.2000000000000|0.1999999999999)' "$t/out"
check "iv nan rows" test "$(grep -c ',nan$' "$t/out")" -eq 2
printf 'type,S,K,T,r,q,price\nput,100,100,0,0,0,1\n' | "$CHCTL" iv >"$t/out" 2>"$t/err"
check "iv T=0 is an input error" test $? -eq 1

# empty input, unknown command
"$CHCTL" price </dev/null >"$t/out" 2>"$t/err"
check "empty input exit 1" test $? -eq 1
"$CHCTL" frobnicate >"$t/out" 2>"$t/err"
check "unknown command exit 2" test $? -eq 2

echo "$((20 - fail)) passed, $fail failed"
test $fail -eq 0
