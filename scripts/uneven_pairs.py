#!/usr/bin/env python3
"""Prints, from a `backtune bench` JSON file (e.g. of bench/suites/same_padding.txt), each
uneven-padding problem beside its symmetric twin (the same descriptor but for the begin
padding, the same output size): the median GFLOP/s of 'dispatch' on both, their ratio, and
each one's ratio to the best peer measured in the same run; then the geomeans per op.
Problems without a twin (e.g. 1-D layers) are listed with their ratio to the best peer.

usage: scripts/uneven_pairs.py BENCH.json
"""
import math
import re
import sys
from collections import defaultdict

import bench_medians


def fields(desc):
    return {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", desc.split("n\"")[0])}


def uneven(desc):
    """Whether symmetric padding would give another output size (benchdnn's rules: the end
    padding follows from the written output size)."""
    f = fields(desc)
    for d in "hw":
        if f"i{d}" not in f and d == "w" and "ih" in f:
            continue  # square: the width is the height
        if f"i{d}" not in f:
            continue  # 1-D: no height
        i, k, o, p = f[f"i{d}"], f[f"k{d}"], f[f"o{d}"], f[f"p{d}"]
        s, dil = f.get(f"s{d}", 1), f.get(f"d{d}", 0)
        if (i + 2 * p - ((k - 1) * (dil + 1) + 1)) // s + 1 != o:
            return True
    return False


def geomean(r):
    return math.exp(sum(map(math.log, r)) / len(r)) if r else float("nan")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    _, gflops, have_median = bench_medians.load(sys.argv[1])
    print(f"{'medians' if have_median else 'best runs'} of dispatch GFLOP/s; peer = best peer")
    twins = defaultdict(dict)  # (op, threads, descriptor without padding) -> {uneven: desc}
    for (op, desc, threads), row in gflops.items():
        if "dispatch" in row:
            twins[(op, threads, re.sub(r"p[hw]\d+", "", desc))][uneven(desc)] = desc
    pair_ratio, peer_ratio = defaultdict(list), defaultdict(list)
    for (op, threads, _), pair in sorted(twins.items()):
        for kind in (True, False):
            if kind not in pair:
                continue
            desc = pair[kind]
            row = gflops[(op, desc, threads)]
            peers = [g for v, g in row.items() if v.startswith("peer:")]
            ours = row["dispatch"]
            vs_peer = ours / max(peers) if peers else float("nan")
            line = f"{op:<16} omp:{threads} {desc:<44} {ours:8.1f}  vs peer {vs_peer:5.2f}"
            if kind and False in pair:
                twin = gflops[(op, pair[False], threads)]["dispatch"]
                line += f"  vs symmetric twin {ours / twin:5.2f}"
                pair_ratio[(op, threads)].append(ours / twin)
            peer_ratio[(op, threads, "uneven" if kind else "even")].append(vs_peer)
            print(line)
    print("\ngeomeans per op: uneven over its symmetric twin; dispatch over the best peer")
    for (op, threads), r in sorted(pair_ratio.items()):
        print(f"  {op:<16} omp:{threads}  uneven/twin {geomean(r):5.2f} "
              f"({min(r):.2f}-{max(r):.2f}, {len(r)})")
    for (op, threads, kind), r in sorted(peer_ratio.items()):
        r = [x for x in r if x == x]
        if r:
            print(f"  {op:<16} omp:{threads}  {kind:<6} vs peer {geomean(r):5.2f} "
                  f"({min(r):.2f}-{max(r):.2f}, {len(r)})")


if __name__ == "__main__":
    main()
