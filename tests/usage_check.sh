#!/bin/sh
# A bad command line gets one line saying what is wrong and "try 'backtune CMD --help'"
# (status 2), not the whole help; --version and -V print "backtune VERSION".
#   usage_check.sh BACKTUNE VERSION [bench]    (bench: the build has backtune bench)
set -u
bt=$1 version=$2 with_bench=${3:-}
. "$(dirname "$0")/check_lib.sh"

# command words..., then expects: status 2, nothing on stdout, exactly two lines on stderr,
# the first naming the problem (`want`), the second the hint.
expect_short() { # want, hint command, arguments...
    want=$1 hint=$2
    shift 2
    "$bt" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" = 2 ] && ! [ -s "$tmp/out" ] && [ "$lines" = 2 ] &&
        head -n 1 "$tmp/err" | grep -qF -- "$want" &&
        [ "$(tail -n 1 "$tmp/err")" = "try '$hint --help'" ]; then
        pass "backtune $*: $(head -n 1 "$tmp/err")"
    else
        fail "backtune $*: status $rc (want 2), $lines lines on stderr (want 2: '$want' and the hint):"
        sed 's/^/    /' "$tmp/err" | head -n 5
    fi
}

commands="info list check tune compare report"
[ -n "$with_bench" ] && commands="$commands bench"
for c in $commands; do
    expect_short "backtune $c: unknown option '--no-such-option'" "backtune $c" \
        "$c" --no-such-option
    expect_short "backtune $c: unknown option '-Z'" "backtune $c" "$c" -Z
done
for c in check tune; do
    expect_short "backtune $c: option '--suite' needs a value" "backtune $c" "$c" --suite
    expect_short "backtune $c: option '-t' needs a value" "backtune $c" "$c" -t
    expect_short "bad thread count 'x'" "backtune $c" "$c" -t x -p "fc_bwd_d mb2ic4oc4"
done
[ -n "$with_bench" ] && expect_short "option '--cache' needs a value" "backtune bench" bench --cache
expect_short "backtune report: option '-o' needs a value" "backtune report" report results -o
expect_short "backtune compare: give 2 to" "backtune compare" compare only_one
expect_short "backtune check: no problem given" "backtune check" check
expect_short "backtune: unknown command 'frobnicate'" "backtune" frobnicate
expect_short "backtune: unknown option '--frobnicate'" "backtune" --frobnicate

for flag in --version -V; do
    got=$("$bt" "$flag" 2>&1)
    if [ "$got" = "backtune $version" ]; then
        pass "backtune $flag: $got"
    else
        fail "backtune $flag: '$got', not 'backtune $version'"
    fi
done
# The names completion reads: every variant of the table (up to the blank line before the
# approximate families' notes), and the suites of bench/suites.
variants=$("$bt" list | tail -n +2 | sed '/^$/,$d' | awk '{print $1}')
if [ "$("$bt" list --names)" = "$variants" ] && [ -n "$variants" ]; then
    pass "backtune list --names: the $(echo "$variants" | wc -l) variants of backtune list"
else
    fail "backtune list --names differs from the first column of backtune list"
fi
if "$bt" list --suites | grep -qx resnet50 && "$bt" list --suites | grep -qx quick; then
    pass "backtune list --suites: $("$bt" list --suites | tr '\n' ' ')"
else
    fail "backtune list --suites lacks resnet50 or quick: $("$bt" list --suites | tr '\n' ' ')"
fi
finish
