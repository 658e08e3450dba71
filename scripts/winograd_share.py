#!/usr/bin/env python3
"""What Winograd gives a whole model's backward, per op and layout: from a suite run of the
tuned dispatch (`backtune bench --suite S --variants dispatch`, Winograd where the table
chose it) and a run of the layers Winograd takes on a table tuned without approximate
algorithms (BACKTUNE_ALGORITHMS=direct). Model total with Winograd: the suite's layers
weighed by their `# xN` counts. Without: the same, those layers' times replaced by the
direct run's. Times come from the medians' GFLOP/s and the problems' FLOP counts
(model_table.problem_flops, as the bench counts them).

usage: scripts/winograd_share.py SUITE_RUN.json DIRECT_RUN.json SUITE.txt [THREADS]
"""
import sys
from collections import defaultdict

import bench_medians
from model_table import count_of, problem_flops, suite_counts


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    _, suite, _ = bench_medians.load(sys.argv[1])
    _, direct, _ = bench_medians.load(sys.argv[2])
    counts = suite_counts(sys.argv[3])
    want = int(sys.argv[4]) if len(sys.argv) == 5 else None
    with_w, without = defaultdict(float), defaultdict(float)
    taken = defaultdict(float)
    for (op, problem, threads), row in suite.items():
        if "dispatch" not in row or (want and threads != want):
            continue
        n = count_of(counts, problem)
        t = n * problem_flops(op, problem) / (row["dispatch"] * 1e9)
        with_w[op] += t
        d = direct.get((op, problem, threads), {}).get("dispatch")
        if d:
            t_direct = n * problem_flops(op, problem) / (d * 1e9)
            without[op] += t_direct
            taken[op] += t_direct
        else:
            without[op] += t
    print("| op | model total, direct only (ms) | with Winograd (ms) | speedup | "
          "Winograd's layers' share of the direct total |")
    print("|---|---|---|---|---|")
    for op in sorted(with_w):
        print(f"| {op} | {1e3 * without[op]:.1f} | {1e3 * with_w[op]:.1f} | "
              f"{without[op] / with_w[op]:.2f} | {taken[op] / without[op]:.0%} |")


if __name__ == "__main__":
    main()
