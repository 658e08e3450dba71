#!/usr/bin/env python3
"""Prints, from a `backtune bench` JSON file with repetitions, the median GFLOP/s of every
variant per (op, problem, threads) and each variant's ratio to a base variant (default
'dispatch'), with the geomean and range of the ratios per op: one run's paired comparison.

usage: scripts/ratios.py BENCH.json [BASE]
"""
import json
import math
import sys
from collections import defaultdict


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip())
    base = sys.argv[2] if len(sys.argv) == 3 else "dispatch"
    with open(sys.argv[1]) as f:
        runs = json.load(f)["benchmarks"]
    gflops = defaultdict(dict)  # (op, problem, threads) -> variant -> median GFLOP/s
    for b in runs:
        if b.get("aggregate_name") != "median":
            continue
        op, desc, variant, threads = b["run_name"].split("/")[:4]
        gflops[(op, desc, threads)][variant] = b["FLOP/s"] / 1e9
    if not gflops:
        sys.exit(f"{sys.argv[1]}: no medians (run the bench with --benchmark_repetitions=N)")
    ratios = defaultdict(list)  # (op, threads, variant) -> ratios to base
    for (op, desc, threads), row in sorted(gflops.items()):
        cells = "  ".join(f"{v.split('__')[-1]}={g:.0f}" for v, g in sorted(row.items()))
        print(f"{op:<16} {desc:<36} {threads}  {cells}")
        if base in row:
            for v, g in row.items():
                if v != base:
                    ratios[(op, threads, v)].append(g / row[base])
    print(f"\nratio of each variant's median to {base}'s, per op (geomean, min-max, shapes):")
    for (op, threads, v), r in sorted(ratios.items()):
        geomean = math.exp(sum(map(math.log, r)) / len(r))
        print(f"  {op:<16} {threads}  {v:<34} {geomean:5.2f}  {min(r):.2f}-{max(r):.2f}  {len(r)}")


if __name__ == "__main__":
    main()
