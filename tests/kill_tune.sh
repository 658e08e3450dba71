#!/usr/bin/env bash
# Kills a real `backtune tune` of three keys with SIGKILL at a random moment, KILLS times (each
# in a new folder, so that a table missing a key shows), and checks after each that the next
# run in the folder (a resume of the first key) leaves the table equal to what the records say
# with no temporary file (test_tuning --check-folder, a rule written apart from the tuner's).
# Every other run pauses between its two writes (BACKTUNE_TEST_FAULT, a test hook) so that
# kills often land there.
#   usage: tests/kill_tune.sh BACKTUNE TEST_TUNING [KILLS]   (20 for the full form; ctest: 5)
set -u
bt=$1 check=$2 kills=${3:-20}
dir=$(mktemp -d "${TMPDIR:-/tmp}/bt_kill_XXXXXX")
trap 'rm -rf "$dir"' EXIT
problems=(--problem "conv_bwd_d mb1ic4ih6oc4kh3ph1" --problem "conv_bwd_w_nhwc mb1ic4ih6oc4kh3"
          --problem "fc_bwd_w mb4ic16oc16")
behind=0 failed=0
for i in $(seq 1 "$kills"); do
  fault=""
  if [ $((i % 2)) = 0 ]; then fault="pause-between-writes:2"; fi
  out_dir=$dir/$i
  BACKTUNE_TEST_FAULT=$fault "$bt" tune --out "$out_dir" --threads 1 --time-limit 3 \
    "${problems[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v seed="$$$i" 'BEGIN { srand(seed); printf "%.2f", 0.2 + 3 * rand() }')"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  "$check" --check-folder "$out_dir" >/dev/null || behind=$((behind + 1))
  "$bt" tune --out "$out_dir" --threads 1 --time-limit 1 --problem "${problems[1]}" >/dev/null 2>&1
  if ! out=$("$check" --check-folder "$out_dir"); then
    echo "FAIL kill $i: after the next run: $out"
    failed=$((failed + 1))
  fi
done
echo "$kills kills: $behind left the folder behind its records (or a temporary file);" \
     "after the next run $((kills - failed)) of $kills consistent"
[ "$failed" = 0 ]
