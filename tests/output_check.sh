#!/bin/sh
# What bench and tune write where, on tiny problems (stdout and stderr are files here, not a
# terminal):
#   output_check.sh BACKTUNE PYTHON [bench]
# tune: one progress line per key, "[i/N, <time>, ETA <time>] <key> ...", on stderr; none
# with --quiet; the summary on stdout either way.
# bench (when built): --benchmark_format=json writes JSON alone on stdout (json.tool reads
# it, and so does Google benchmark's tools/compare.py) and csv a CSV table alone, the summary going to stderr; one progress line per problem
# "[bench i/N, <time>, ETA <time>] <problem>"; none with --quiet; the console format keeps the
# summary on stdout.
set -u
backtune=$1 python=$2 with_bench=${3:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
    echo "FAIL: $*"
    for f in "$dir"/*.out "$dir"/*.err; do
        [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }
    done
    exit 1
}
count() { # FILE PATTERN: lines of FILE matching PATTERN
    grep -c "$2" "$dir/$1"
}
eta='[0-9][0-9]* \(s\|min [0-9][0-9] s\|h [0-9][0-9] min\), ETA \([0-9?][0-9 hmins]*\)\]'

"$backtune" tune -p mb2ic4oc4 -o fc_bwd_d,fc_bwd_w -t 1 --time-limit 1 --out "$dir/r" \
    >"$dir/tune.out" 2>"$dir/tune.err" || fail "tune"
[ "$(count tune.err "^\[[12]/2, $eta fc_bwd_[dw] mb2ic4oc4 t1: ")" = 2 ] ||
    fail "tune: not one progress line per key"
grep -q "^GFLOP/s of the default dispatch" "$dir/tune.out" || fail "tune: no summary on stdout"
"$backtune" tune -p mb2ic4oc4 -o fc_bwd_d,fc_bwd_w -t 1 --time-limit 1 --retune --quiet \
    --out "$dir/r" >"$dir/tuneq.out" 2>"$dir/tuneq.err" || fail "tune --quiet"
[ "$(count tuneq.err '^\[')" = 0 ] || fail "tune --quiet printed progress"
grep -q "^GFLOP/s of the default dispatch" "$dir/tuneq.out" || fail "tune --quiet: no summary"
echo "ok: tune"

[ "$with_bench" = bench ] || exit 0
bench() { # NAME ARGS...: backtune bench on two tiny problems, naive only
    name=$1
    shift
    "$backtune" bench -p mb2ic4ih5oc4kh3 -o conv_bwd_d -t 1 -v '*__naive' \
        --benchmark_min_time=0.001 "$@" >"$dir/$name.out" 2>"$dir/$name.err" || fail "bench $*"
}
bench json --benchmark_format=json
"$python" -m json.tool "$dir/json.out" >/dev/null || fail "bench json: stdout is not JSON"
"$python" -c 'import json,sys; b=json.load(open(sys.argv[1]))["benchmarks"]; assert len(b)==2, b' \
    "$dir/json.out" || fail "bench json: not the two benchmarks"
grep -q "^summary:" "$dir/json.err" || fail "bench json: the summary is not on stderr"
[ "$(count json.err "^\[bench [12]/2, $eta conv_bwd_d")" = 2 ] ||
    fail "bench: not one progress line per problem"
# Google benchmark's own comparison tool (Debian libbenchmark-tools) reads two such files.
compare_py=/usr/share/benchmark/compare.py
[ -f "$compare_py" ] || fail "$compare_py missing (scripts/packages.txt: libbenchmark-tools)"
cp "$dir/json.out" "$dir/first.json"
bench json --benchmark_format=json
"$python" "$compare_py" benchmarks "$dir/first.json" "$dir/json.out" >"$dir/compare.out" \
    2>"$dir/compare.err" || fail "compare.py does not take bench's JSON"
[ "$(grep -c 'conv_bwd_d.*__naive/omp:1' "$dir/compare.out")" = 2 ] ||
    fail "compare.py: the two benchmarks are not compared"
bench csv --benchmark_format=csv
"$python" - "$dir/csv.out" <<'PY' || fail "bench csv: stdout is not one CSV table"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0][:2] == ["name", "iterations"], rows[0]
assert len(rows) == 3 and all(len(r) == len(rows[0]) for r in rows), rows
PY
bench quiet --benchmark_format=json --quiet
[ "$(count quiet.err '^\[bench\|^backtune bench: [0-9]* problems')" = 0 ] ||
    fail "bench --quiet printed progress"
"$python" -m json.tool "$dir/quiet.out" >/dev/null || fail "bench --quiet: stdout is not JSON"
bench console
grep -q "^summary:" "$dir/console.out" || fail "bench console: the summary is not on stdout"
echo "ok: bench"
