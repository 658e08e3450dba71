#!/usr/bin/env python3
"""Prints, from a `backtune bench` JSON file (medians over its repetitions), one row per
(op, problem, threads) with the GFLOP/s of the variants whose names contain each given
substring (the best match per column), the dispatch, the best peer (peer:*) and which peer,
then the ratio of the first column to each other column, with their geomeans per op.

usage: scripts/variant_columns.py BENCH.json SUBSTRING [SUBSTRING...]
  e.g. scripts/variant_columns.py relayout.json relayout_nhwc direct_nchw gemm dispatch
"""
import math
import sys
from collections import defaultdict

import bench_medians


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip())
    _, gflops, have_median = bench_medians.load(sys.argv[1])
    cols = sys.argv[2:]
    if not have_median:
        print("note: no repetitions in this file: best single runs, not medians")
    head = ["op", "problem", "T"] + cols + ["best peer", "peer"] + \
        [f"{cols[0]}/{c}" for c in cols[1:]] + [f"{cols[0]}/peer"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    logs = defaultdict(lambda: defaultdict(list))
    for (op, problem, threads), row in sorted(gflops.items()):
        vals = [max([g for v, g in row.items() if (c == "dispatch" and v == c) or
                     (c != "dispatch" and c in v and not v.startswith("peer:"))] or [0])
                for c in cols]
        peers = {v: g for v, g in row.items() if v.startswith("peer:")}
        best = max(peers, key=peers.get) if peers else None
        ratios = [vals[0] / v if v and vals[0] else float("nan") for v in vals[1:]]
        ratios.append(vals[0] / peers[best] if best and vals[0] else float("nan"))
        for i, r in enumerate(ratios):
            if r == r:
                logs[op][i].append(math.log(r))
        print("| " + " | ".join([op, problem, str(threads)] + [f"{v:.1f}" for v in vals] +
                                [f"{peers[best]:.1f}" if best else "-", best or "-"] +
                                [f"{r:.2f}" for r in ratios]) + " |")
    print()
    for op, per in sorted(logs.items()):
        print(f"geomean {op}: " + ", ".join(
            f"{(cols[1:] + ['peer'])[i] if i < len(cols) - 1 else 'peer'} "
            f"{math.exp(sum(v) / len(v)):.2f}" for i, v in sorted(per.items())))


if __name__ == "__main__":
    main()
