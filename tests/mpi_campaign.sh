#!/usr/bin/env bash
# An MPI tuning campaign (tune/campaign.h) of three ranks on this machine (--oversubscribe,
# --allow-shared-node: the ranks share its cores) against a single-process run of the same
# keys, with tiny budgets (the timings mean nothing here):
#   - two ranks bound by mpirun to a core each: disjoint CPUs, one-core machines, not refused;
#   - refused without --allow-shared-node, nothing written;
#   - the campaign's table has the single run's key set; every key was tuned once (one
#     default record) by one rank; the keys were split over ranks; every record a rank sent
#     is on disk;
#   - a campaign whose rank 1 is killed at its third key (BACKTUNE_TEST_FAULT, a test hook)
#     leaves part of the keys' records; the rerun tunes exactly the keys without unmarked
#     records, completes the key set and leaves table == records (test_tuning --check-folder).
#   usage: tests/mpi_campaign.sh MPIEXEC BACKTUNE TEST_TUNING
set -u
mpiexec=$1 bt=$2 check=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/bt_mpi_XXXXXX")
trap 'rm -rf "$dir"' EXIT
sel=(--suite quick --threads 1 --time-limit 2 --max-evals 3)
mpi=("$mpiexec" --oversubscribe -np 3)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}
keys_of() { "$check" --campaign-report "$1" | sed -n 's/^table //p' | sort; }
report_count() { "$check" --campaign-report "$1" | grep -c "$2"; }

# Bound by mpirun to a core each, two ranks run on their own CPUs (their OpenMP places are
# built inside that binding) and their fingerprints count one core: not refused.
if [ "$(nproc)" -ge 2 ]; then
  bound=("$mpiexec" -np 2 --bind-to core)
  [ "$(id -u)" = 0 ] && bound+=(--allow-run-as-root)
  "${bound[@]}" "$bt" tune "${sel[@]}" --list >/dev/null 2>"$dir/bound.err" ||
    fail "ranks bound to a core each were refused: $(cat "$dir/bound.err")"
  cpus=$(sed -n 's/.*rank [01] of 2 on .*, CPUs \([^,]*\), machine [^ ]*-1c-.*/\1/p' "$dir/bound.err" | sort -u | wc -l)
  [ "$cpus" = 2 ] || fail "ranks bound to a core each: not two one-core ranks on distinct CPUs: $(cat "$dir/bound.err")"
fi

"$bt" tune "${sel[@]}" --list | sort >"$dir/expected"
total=$(wc -l <"$dir/expected")
"$bt" tune "${sel[@]}" --out "$dir/alone" >/dev/null 2>&1 || fail "the single-process tune failed"
keys_of "$dir/alone" | cmp -s - "$dir/expected" || fail "single-process table keys differ"

if "${mpi[@]}" "$bt" tune "${sel[@]}" --out "$dir/refused" >/dev/null 2>"$dir/refused.err"; then
  fail "ranks sharing CPUs were not refused"
fi
grep -q "share CPUs" "$dir/refused.err" || fail "no message on ranks sharing CPUs"
[ -e "$dir/refused" ] && fail "a refused campaign wrote $dir/refused"

"${mpi[@]}" "$bt" tune "${sel[@]}" --allow-shared-node --out "$dir/camp" >"$dir/camp.out" \
  2>"$dir/camp.err" || fail "the campaign failed: $(tail -n 5 "$dir/camp.err")"
keys_of "$dir/camp" | cmp -s - "$dir/expected" || fail "campaign table keys differ from the single run's"
[ "$(report_count "$dir/camp" '^key .* defaults=1 ranks=[0-9]* ')" = "$total" ] ||
  fail "not every key tuned exactly once by one rank: $("$check" --campaign-report "$dir/camp" | grep '^key' | grep -v 'defaults=1 ranks=[0-9]* ')"
ranks=$("$check" --campaign-report "$dir/camp" | sed -n 's/^key .* ranks=\([0-9]*\) .*/\1/p' | sort -u | wc -l)
[ "$ranks" -ge 2 ] || fail "the keys were not split: $ranks rank(s) tuned them"
on_disk=$("$check" --campaign-report "$dir/camp" | sed -n 's/^records //p')
grep -q "records sent by the 3 ranks, $on_disk saved" "$dir/camp.err" ||
  fail "records sent and on disk ($on_disk) differ: $(grep 'records sent' "$dir/camp.err")"
"$check" --check-folder "$dir/camp" >/dev/null || fail "campaign table != records"

if BACKTUNE_TEST_FAULT=kill-rank:1:3 "${mpi[@]}" -x BACKTUNE_TEST_FAULT "$bt" tune "${sel[@]}" \
  --allow-shared-node --out "$dir/killed" >/dev/null 2>"$dir/killed.err"; then
  fail "the job whose rank 1 was killed succeeded"
fi
# mpirun then kills the other ranks: rank 0 may die between its two writes of a commit,
# leaving the table behind the records until the next run (docs/tuning.md, crash safety).
behind=no
"$check" --check-folder "$dir/killed" >/dev/null || behind=yes
done_keys=$(report_count "$dir/killed" '^key ')
quiet_keys=$(report_count "$dir/killed" '^key .* marked=0$')
[ "$done_keys" -gt 0 ] && [ "$done_keys" -lt "$total" ] ||
  fail "after the kill $done_keys of $total keys have records (expected some, not all)"
"${mpi[@]}" "$bt" tune "${sel[@]}" --allow-shared-node --out "$dir/killed" >/dev/null \
  2>"$dir/rerun.err" || fail "the rerun failed: $(tail -n 5 "$dir/rerun.err")"
grep -q "$total keys, $((total - quiet_keys)) to tune" "$dir/rerun.err" ||
  fail "the rerun did not resume ($total keys, $quiet_keys tuned without interference): $(grep 'to tune' "$dir/rerun.err")"
keys_of "$dir/killed" | cmp -s - "$dir/expected" || fail "after the rerun the table keys differ"
"$check" --check-folder "$dir/killed" >/dev/null || fail "after the rerun: table != records"

echo "campaign of 3 ranks: $total keys over $ranks ranks, $on_disk records; killed at rank 1's" \
     "third key with $done_keys keys saved (table behind the records: $behind), rerun completed"
[ "$failed" = 0 ]
