#!/usr/bin/env python3
"""Prints, per op and layout, how a model suite runs against the best peer: from a
`backtune bench --suite S` JSON file with repetitions (medians) holding `dispatch` (the
default dispatch, or the table's with BACKTUNE_TABLE) and the peers (peer:*). Per layer the
ratio is dispatch GFLOP/s over the best peer's; the model total weighs each shape by its
`# xN` count in the suite file: sum of the best peers' times over the sum of ours (above 1:
we are faster). Also the geomean of the per-layer ratios and the worst layer, and, when the
file has every variant, the best of ours per layer (what a perfect dispatch would reach).

With --below R, also lists every layer whose ratio is under R (ours and the best peer's
GFLOP/s), worst first.

usage: scripts/model_table.py BENCH.json SUITE.txt [THREADS] [--below R]
"""
import math
import re
import sys
from collections import defaultdict

import bench_medians


def suite_counts(path):
    """descriptor (without its name) -> layer count, as the bench weighs model totals."""
    counts = {}
    for line in open(path):
        text, _, comment = line.partition("#")
        text = text.strip()
        if not text:
            continue
        desc = re.sub(r'n"[^"]*"', "", text).replace("_", "")
        m = re.match(r"\s*x(\d+)", comment)
        counts[desc] = int(m.group(1)) if m else 1
    return counts


def count_of(counts, problem):
    """The count of a bench problem (its canonical text may add oh/ph the suite left out)."""
    if problem in counts:
        return counts[problem]
    fields = lambda d: dict(re.findall(r"([a-z]+)(\d+)", d))
    pf = fields(problem)
    for desc, n in counts.items():
        if all(pf.get(k) == v for k, v in fields(desc).items()):
            return n
    return 1


def main():
    args = sys.argv[1:]
    below = None
    if "--below" in args:
        i = args.index("--below")
        if i + 1 >= len(args):
            sys.exit(__doc__.strip())
        below = float(args[i + 1])
        del args[i:i + 2]
    if len(args) not in (2, 3):
        sys.exit(__doc__.strip())
    _, gflops, have_median = bench_medians.load(args[0])
    counts = suite_counts(args[1])
    want_threads = int(args[2]) if len(args) == 3 else None
    groups = defaultdict(list)
    for (op, problem, threads), row in gflops.items():
        if want_threads is not None and threads != want_threads:
            continue
        peers = {v: g for v, g in row.items() if v.startswith("peer:")}
        ours = {v: g for v, g in row.items() if not v.startswith("peer:") and v != "dispatch"}
        if "dispatch" not in row or not peers:
            continue
        flop_weight = count_of(counts, problem)
        best_peer = max(peers, key=peers.get)
        groups[(op, threads)].append(
            (problem, flop_weight, row["dispatch"], peers[best_peer], best_peer,
             max(ours.values()) if ours else None))
    if not have_median:
        print("note: no repetitions in this file: best single runs, not medians")
    print("| op | T | layers | model total vs best peer | geomean | worst layer | best of ours, total |")
    print("|---|---|---|---|---|---|---|")
    slow = []
    for (op, threads), rows in sorted(groups.items()):
        tot_ours = tot_peer = tot_best = 0.0
        ratios = []
        for problem, n, d, p, _, best in rows:
            flops = problem_flops(op, problem)
            tot_ours += n * flops / d
            tot_peer += n * flops / p
            tot_best += n * flops / (max(best, d) if best else d)
            ratios.append((d / p, problem))
            if below is not None and d / p < below:
                slow.append((d / p, op, problem, d, p, rows_peer_name(rows, problem)))
        geo = math.exp(sum(math.log(r) for r, _ in ratios) / len(ratios))
        worst = min(ratios)
        print(f"| {op} | {threads} | {len(rows)} | {tot_peer / tot_ours:.2f} | {geo:.2f} | "
              f"{worst[0]:.2f} {worst[1]} | {tot_peer / tot_best:.2f} |")
    if below is not None:
        print(f"\nLayers below {below:g} of the best peer ({len(slow)}):")
        for r, op, problem, d, p, peer in sorted(slow):
            print(f"  {r:.2f} {op} {problem}: {d:.1f} GFLOP/s, {peer} {p:.1f}")


def rows_peer_name(rows, problem):
    return next(r[4] for r in rows if r[0] == problem)


def problem_flops(op, problem):
    """2 x the multiply-adds of the problem (what the bench's GFLOP/s count)."""
    f = dict((k, int(v)) for k, v in re.findall(r"([a-z]+)(\d+)", problem))
    if op.startswith("fc"):
        return 2.0 * f.get("mb", 2) * f["ic"] * f["oc"]
    g = f.get("g", 1)
    kh, kw = f.get("kh", 1), f.get("kw", f.get("kh", 1))
    oh, ow = f.get("oh", 1), f.get("ow", f.get("oh", 1))
    return 2.0 * f.get("mb", 2) * f["oc"] * (f["ic"] // g) * kh * kw * oh * ow


if __name__ == "__main__":
    main()
