#!/usr/bin/env bash
# Issue 26's check, run alone on a machine: a ResNet-50 campaign as mpirun -np 2 against a
# single-process run (same table keys), then one rank killed at its 20th key and the rerun
# completing the key set. Budgets are cut (180 s / 90 s): the key sets are what it checks.
cd "$(dirname "$0")/.."
set -euo pipefail
bt=build/cli/backtune check=build/tests/test_tuning d=$(mktemp -d /tmp/mpicheck.XXXX); mpi=(mpirun --allow-run-as-root -np 2 --bind-to none)
keys() { $check --campaign-report "$1" | sed -n 's/^table //p' | sort; }
time $bt tune --suite resnet50 --threads 2 --time-limit 180 --out $d/single >$d/single.out 2>$d/single.err
time "${mpi[@]}" $bt tune --suite resnet50 --threads 2 --time-limit 90 --allow-shared-node --out $d/camp >$d/camp.out 2>$d/camp.err
time BACKTUNE_TEST_FAULT=kill-rank:1:20 "${mpi[@]}" -x BACKTUNE_TEST_FAULT $bt tune --suite resnet50 --threads 2 --time-limit 90 --allow-shared-node --out $d/killed >/dev/null 2>$d/killed.err
echo "keys saved before the kill: $($check --campaign-report $d/killed | grep -c '^key ')"
time "${mpi[@]}" $bt tune --suite resnet50 --threads 2 --time-limit 90 --allow-shared-node --out $d/killed >$d/rerun.out 2>$d/rerun.err
grep -h "keys, .* to tune\|records sent" $d/camp.err $d/rerun.err
for f in camp killed; do diff <(keys $d/single) <(keys $d/$f) >/dev/null && echo "$f: same key set ($(keys $d/single | wc -l))" || echo "$f: DIFFERS"; $check --check-folder $d/$f; done
echo "table keys tuned by more than one rank: $($check --campaign-report $d/camp | grep "^key.*defaults=1" | grep -vc " ranks=[0-9]* ")"
echo "dir: $d"
