#!/bin/sh
# The version (CMake's project(VERSION), one source) in everything backtune saves: the
# records and the tuning table of a tiny tune (record "version", table "backtune_version"
# and its fingerprint's "version"), and a tiny bench's JSON (context.backtune_version).
# Functional runs on a 4x4 FC problem; their timings mean nothing.
#   version_check.sh BACKTUNE VERSION [bench]
set -u
bt=$1 version=$2 with_bench=${3:-}
. "$(dirname "$0")/check_lib.sh"

if ! "$bt" tune --out "$tmp/tune" -p "fc_bwd_d mb2ic4oc4" -t 1 --time-limit 1 >"$tmp/tune.log" 2>&1; then
    fail "backtune tune of a tiny problem"
    sed 's/^/    /' "$tmp/tune.log"
else
    records=$(find "$tmp/tune" -name records.jsonl | head -n 1)
    table=$(find "$tmp/tune" -name table.json | head -n 1)
    n=$(grep -c . "$records")
    with=$(grep -c "\"version\":\"$version\"" "$records")
    if [ "$n" -gt 0 ] && [ "$with" = "$n" ]; then
        pass "records.jsonl: all $n records say \"version\":\"$version\""
    else
        fail "records.jsonl: $with of $n records say \"version\":\"$version\""
    fi
    if grep -q "\"backtune_version\": \"$version\"" "$table" &&
        grep -q "^  \"version\": \"$version\"" "$table"; then
        pass "table.json: backtune_version and fingerprint.version $version"
    else
        fail "table.json lacks backtune_version or fingerprint.version $version:"
        grep -n version "$table" | sed 's/^/    /'
    fi
fi
if [ -n "$with_bench" ]; then
    if "$bt" bench -p "fc_bwd_d mb2ic4oc4" -t 1 -v "fc_bwd_d__naive" --out "$tmp/bench.json" \
        --benchmark_min_time=0.001 >"$tmp/bench.log" 2>&1 &&
        grep -q "\"backtune_version\": \"$version\"" "$tmp/bench.json"; then
        pass "bench JSON: context.backtune_version $version"
    else
        fail "bench JSON: no context.backtune_version $version"
        tail -n 5 "$tmp/bench.log" | sed 's/^/    /'
    fi
fi
finish
