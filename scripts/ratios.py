#!/usr/bin/env python3
"""Prints, from a `backtune bench` JSON file with repetitions, the median GFLOP/s of every
variant per (op, problem, threads) and each variant's ratio to a base variant (default
'dispatch'), with the geomean and range of the ratios per op: one run's paired comparison.

usage: scripts/ratios.py BENCH.json [BASE]
"""
import math
import sys
from collections import defaultdict

import bench_medians


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip())
    base = sys.argv[2] if len(sys.argv) == 3 else "dispatch"
    _, gflops, have_median = bench_medians.load(sys.argv[1])
    if not have_median:
        sys.exit(f"{sys.argv[1]}: no medians (run the bench with --benchmark_repetitions=N)")
    ratios = defaultdict(list)  # (op, threads, variant) -> ratios to base
    for (op, desc, threads), row in sorted(gflops.items()):
        cells = "  ".join(f"{v.split('__')[-1]}={g:.0f}" for v, g in sorted(row.items()))
        print(f"{op:<16} {desc:<36} omp:{threads}  {cells}")
        if base in row:
            for v, g in row.items():
                if v != base:
                    ratios[(op, threads, v)].append(g / row[base])
    print(f"\nratio of each variant's median to {base}'s, per op (geomean, min-max, shapes):")
    for (op, threads, v), r in sorted(ratios.items()):
        geomean = math.exp(sum(map(math.log, r)) / len(r))
        print(f"  {op:<16} omp:{threads}  {v:<34} {geomean:5.2f}  {min(r):.2f}-{max(r):.2f}  {len(r)}")


if __name__ == "__main__":
    main()
