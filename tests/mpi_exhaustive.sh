#!/usr/bin/env bash
# An exhaustive MPI tuning campaign (tune/campaign.h) of three ranks on this machine
# (--oversubscribe, --allow-shared-node), its full stages cut into slices of a few
# configurations (BACKTUNE_TEST_SLICE, a test hook), with tiny budgets (the timings mean
# nothing here), on keys whose spaces are larger than the 128 configurations searched
# exhaustively (test_tuning --slice-report reads the records):
#   - one process writes the same kinds of records: one slice marker over the whole space and
#     one paired marker per key;
#   - in the campaign every configuration of each space is covered by exactly one slice
#     marker (each counts the candidates it timed); the slices of some key ran on more than
#     one rank; each key has one paired re-timing, whose exhaustive best is the fastest record
#     of the key over its search and every slice; the summary has the 'paired' column;
#   - a campaign whose rank 1 is killed after evaluating its 4th slice, before sending it
#     (BACKTUNE_TEST_FAULT=kill-rank-slice:1:4) leaves part of the configurations covered; the
#     rerun announces exactly the configurations no marker covers and ends with every one
#     covered once and table == records.
#   usage: tests/mpi_exhaustive.sh MPIEXEC BACKTUNE TEST_TUNING
set -u
mpiexec=$1 bt=$2 check=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/bt_mpi_exh_XXXXXX")
trap 'rm -rf "$dir"' EXIT
sel=(--problem 'conv_bwd_d mb1ic4ih6oc4kh3ph1' --problem 'conv_bwd_d mb1ic4ih6oc4kh1'
     --threads 1 --time-limit 1 --max-evals 4 --exhaustive --quiet)
export BACKTUNE_TEST_SLICE=48
mpi=("$mpiexec" --oversubscribe -np 3 -x BACKTUNE_TEST_SLICE)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}
report() { "$check" --slice-report "$1"; }
sum() { sed -n "s/.* $1=\([0-9]*\) .*/\1/p" | awk '{s += $1} END {print s + 0}'; }
keys=$("$bt" tune "${sel[@]}" --list | wc -l)

"$bt" tune "${sel[@]}" --out "$dir/alone" >/dev/null 2>"$dir/alone.err" ||
  fail "the single-process tune failed: $(tail -n 3 "$dir/alone.err")"
report "$dir/alone" >"$dir/alone.report"
[ "$(grep -c ' slices=1 covered=[0-9]* overlaps=0 left=0 .* paired=1 best=ok' "$dir/alone.report")" = "$keys" ] ||
  fail "one process: not one slice and one paired marker per key: $(cat "$dir/alone.report")"
small=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^space=/ && substr($i, 7) + 0 <= 128) print}' "$dir/alone.report")
[ -z "$small" ] || fail "a space of at most 128 configurations (searched exhaustively): $small"

"${mpi[@]}" "$bt" tune "${sel[@]}" --allow-shared-node --out "$dir/camp" >"$dir/camp.out" \
  2>"$dir/camp.err" || fail "the campaign failed: $(tail -n 5 "$dir/camp.err")"
report "$dir/camp" >"$dir/camp.report"
[ "$(grep -c ' overlaps=0 left=0 .* paired=1 best=ok' "$dir/camp.report")" = "$keys" ] ||
  fail "campaign: not every configuration covered once, one paired re-timing with the best of all per key: $(cat "$dir/camp.report")"
[ "$(sum slices <"$dir/camp.report")" -gt "$keys" ] || fail "campaign: the full stages were not split: $(cat "$dir/camp.report")"
grep -q ' ranks=[0-9]*,[0-9]' "$dir/camp.report" ||
  fail "campaign: no key's slices ran on more than one rank: $(cat "$dir/camp.report")"
[ "$(sum evals <"$dir/camp.report")" -gt 0 ] || fail "campaign: the slices timed nothing"
# The summary's rows: problem (2 words), thr, default, tuned, speedup, exhaust., paired, ...
[ "$(awk '$1 ~ /^conv_/ && $8 ~ /^[0-9.]+$/' "$dir/camp.out" | wc -l)" = "$keys" ] ||
  fail "campaign: the summary lacks the paired column: $(cat "$dir/camp.out")"
"$check" --check-folder "$dir/camp" >/dev/null || fail "campaign: table != records"

if BACKTUNE_TEST_FAULT=kill-rank-slice:1:4 "${mpi[@]}" -x BACKTUNE_TEST_FAULT "$bt" tune \
  "${sel[@]}" --allow-shared-node --out "$dir/killed" >/dev/null 2>"$dir/killed.err"; then
  fail "the job whose rank 1 was killed succeeded"
fi
report "$dir/killed" >"$dir/killed.report"
covered=$(sum covered <"$dir/killed.report")
left=$(sum left <"$dir/killed.report")
[ "$covered" -gt 0 ] && [ "$left" -gt 0 ] ||
  fail "after the kill: $covered configurations covered, $left left (expected some of each): $(cat "$dir/killed.report")"
"${mpi[@]}" "$bt" tune "${sel[@]}" --allow-shared-node --out "$dir/killed" >/dev/null \
  2>"$dir/rerun.err" || fail "the rerun failed: $(tail -n 5 "$dir/rerun.err")"
grep -q "full stages begun before: $left configurations of" "$dir/rerun.err" ||
  fail "the rerun did not resume the $left configurations left: $(grep 'full stages' "$dir/rerun.err")"
report "$dir/killed" >"$dir/rerun.report"
[ "$(grep -c ' overlaps=0 left=0 .* paired=[1-9]' "$dir/rerun.report")" = "$keys" ] ||
  fail "after the rerun: not every configuration covered exactly once: $(cat "$dir/rerun.report")"
[ -z "$(grep ' searches=1 ' "$dir/rerun.report" | grep -v ' paired=1 best=ok')" ] ||
  fail "after the rerun: a key searched once without one paired re-timing of its best: $(cat "$dir/rerun.report")"
"$check" --check-folder "$dir/killed" >/dev/null || fail "after the rerun: table != records"

echo "exhaustive campaign of 3 ranks: $keys keys, $(sum slices <"$dir/camp.report") slices" \
     "($(sed -n 's/.* ranks=\([0-9,]*\) .*/\1/p' "$dir/camp.report" | tr '\n' ' ')ranks);" \
     "killed in a slice with $covered configurations covered, the rerun did the $left left"
[ "$failed" = 0 ]
