#!/bin/sh
# Interference is seen and said (cmdline/interference.h): `backtune bench` or `backtune tune`
# on a tiny problem while two busy loops share the CPUs.
#   interference_check.sh bench|tune BACKTUNE
# bench: the summary says "interference: DETECTED", the JSON has context.interference and
# the per-benchmark flags, and --strict saves nothing and exits with status 3. A run after
# the loops are killed has the interference object too (whatever it says: the machine may
# be loaded by other work).
# tune: the records and the table entry are marked, a rerun without --retune tunes the key
# again, and --strict saves no records and exits with status 3.
set -u
mode=$1 backtune=$2
dir=$(mktemp -d)
loops=""
stop_loops() {
    for pid in $loops; do kill "$pid" 2>/dev/null; done
    for pid in $loops; do wait "$pid" 2>/dev/null; done
    loops=""
}
trap 'stop_loops; rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM HUP
fail() {
    echo "FAIL: $*"
    for f in "$dir"/*.out "$dir"/*.err; do
        [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }
    done
    exit 1
}
# Each loop also ends when this script is gone (killed by a ctest timeout, say).
# expect FILE PATTERN MESSAGE: FILE (in $dir) has a line matching PATTERN, else fail.
expect() {
    grep -q "$2" "$dir/$1" || fail "$3"
}
start_loops() {
    for _ in 1 2; do
        sh -c "while kill -0 $$ 2>/dev/null; do :; done" &
        loops="$loops $!"
    done
}

# The command on the mode's tiny problem: run NAME OPTIONS... (output in $dir/NAME.out, .err)
case $mode in
bench) problem='fc_bwd_d mb8ic32oc32' options='-v fc_bwd_d__naive -t 1 --benchmark_min_time=0.05' ;;
*) problem='fc_bwd_d mb4ic8oc8' options='--time-limit 3' ;;
esac
run() {
    name=$1
    shift
    # shellcheck disable=SC2086 # $options is a list of words
    "$backtune" "$mode" --problem "$problem" $options "$@" >"$dir/$name.out" 2>"$dir/$name.err"
}

case $mode in
bench)
    start_loops
    run loaded --out "$dir/loaded.json" || fail "bench under load exited with $?"
    expect loaded.out '^interference: DETECTED' "the summary does not say interference"
    expect loaded.json '"interference": {' "no context.interference in the JSON"
    expect loaded.json '"detected": true' "the JSON does not say detected"
    expect loaded.json '"interference": true' "no benchmark flagged in the JSON"
    run strict --out "$dir/strict.json" --strict
    rc=$?
    [ "$rc" = 3 ] || fail "--strict under load exited with $rc, not 3"
    ls "$dir" | grep -q '^strict\.json' && fail "--strict saved $(ls "$dir" | grep strict.json)"
    expect strict.err 'interference detected' "--strict does not say why"
    stop_loops
    run quiet --out "$dir/quiet.json" || fail "bench exited with $?"
    expect quiet.out '^interference: ' "the summary has no interference line"
    expect quiet.json '"interference": {' "no context.interference in the JSON"
    expect quiet.json '"benchmarks_checked": 1' "the JSON's verdict checked no benchmark"
    ;;
tune)
    start_loops
    run first --out "$dir/t" || fail "tune under load exited with $?"
    expect first.out '^interference: DETECTED' "the summary does not say interference"
    expect first.out '(interference)$' "the key's row is not marked"
    expect t/records.jsonl '"interference":"others used' "the records are not marked"
    expect t/table.json '"interference": "others used' "the table entry is not marked"
    run again --out "$dir/t" || fail "the rerun exited with $?"
    expect again.err '1 to tune (0 already tuned' "the rerun did not tune the key again"
    run strict --out "$dir/s" --strict
    rc=$?
    [ "$rc" = 3 ] || fail "--strict under load exited with $rc, not 3"
    [ -s "$dir/s/records.jsonl" ] && fail "--strict saved records"
    expect strict.out 'not saved' "--strict does not say the records were not saved"
    ;;
*)
    echo "usage: interference_check.sh bench|tune BACKTUNE" >&2
    exit 2
    ;;
esac
echo "PASS interference_check $mode"
