#!/usr/bin/env bash
# `backtune bench --save` as two MPI ranks on this machine (cmdline/world.h): each rank saves
# its own file, named after its host and rank, into results/<machine-id>/ (rank 0 gathers the
# files of ranks on other hosts, none here), and `backtune compare` reads the fleet's
# results/ folder.
#   usage: tests/mpi_bench.sh MPIEXEC BACKTUNE
set -u
mpiexec=$1 bt=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/bt_mpi_bench_XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
mpi=("$mpiexec" --oversubscribe -np 2)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
"${mpi[@]}" "$bt" bench -p "fc_bwd_d mb8ic16oc16" -v dispatch -t 1 --save --allow-shared-node \
  --benchmark_min_time=0.01 >bench.out 2>bench.err || { tail -n 20 bench.err; exit 1; }
mapfile -t files < <(find results -name 'bench_problems_*_r[01].json' | sort)
[ "${#files[@]}" = 2 ] || { echo "FAIL: expected two rank files, found: ${files[*]}"; exit 1; }
"$bt" compare "${files[@]}" >compare.out 2>&1 || { echo "FAIL: compare"; cat compare.out; exit 1; }
grep -q "fc_bwd_d mb8ic16oc16" compare.out || { echo "FAIL: the problem is not compared"; exit 1; }
mkdir -p fleet/a fleet/b && cp "${files[0]}" fleet/a && cp "${files[1]}" fleet/b
"$bt" compare fleet >fleet.out 2>&1 || { echo "FAIL: compare of a fleet's folder"; cat fleet.out; exit 1; }
grep -q "^B  fleet/b" fleet.out || { echo "FAIL: the fleet's folder was not expanded"; cat fleet.out; exit 1; }
echo "two ranks saved ${files[*]}; compared, and as a fleet's folder"
