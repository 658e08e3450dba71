#!/usr/bin/env bash
# The main job: install what is missing, build, describe this machine, tune the quick suite
# (within a time budget, resuming what was tuned before) and benchmark it against the peers,
# ending with a summary table. Results go to results/<machine-id>/.
# Options: --suite NAME (default quick), --threads LIST (default 1,N), --time-limit SEC
# for the tuner (default 60).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
suite=quick threads="1,$(nproc)" budget=60
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) suite=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --time-limit) budget=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "scripts/main.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
"$root/scripts/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build" -j"$(nproc)"
bt="$root/build/cli/backtune"
cd "$root"
"$bt" info
id=$("$bt" info --brief | sed -n 's/^machine id: \([^ ]*\).*/\1/p')
"$bt" tune --suite "$suite" --threads "$threads" --time-limit "$budget"
# 'dispatch' in the bench is what bt_plan_create(variant NULL) picks from the tuned table.
BACKTUNE_TABLE="results/$id" "$bt" bench --suite "$suite" --threads "$threads" --save
