#!/usr/bin/env python3
"""How far the default dispatch (no table) is from the tuned choice, per model and op/layout,
from a tuning table: each entry holds the tuner's median GFLOP/s of its choice (`gflops`) and
of the default dispatch it timed beside it (`default_gflops`). Per suite it prints, for every
op/layout, the keys found, the geomean of tuned/default and the model total (time of the
default over time of the tuned, each shape weighed by its '# xN' count), and the worst key.
A ratio of 1.10 means the default is 10% slower than the table.

usage: scripts/default_vs_tuned.py TABLE.json THREADS SUITE.txt [SUITE.txt ...]
"""
import json
import math
import re
import sys
from collections import defaultdict

from model_table import problem_flops, suite_counts


def fields(text):
    return dict(re.findall(r"([a-z]+)(\d+)", text))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip())
    table = json.load(open(sys.argv[1]))
    threads = int(sys.argv[2])
    for suite in sys.argv[3:]:
        counts = suite_counts(suite)
        descs = [(fields(d), n) for d, n in counts.items()]
        rows = defaultdict(list)
        for e in table["entries"]:
            if e["threads"] != threads or not e.get("default_gflops"):
                continue
            op, problem = e["problem"].split()
            pf = fields(problem)
            n = next((n for d, n in descs if all(pf.get(k) == v for k, v in d.items())), None)
            if n is None:
                continue
            rows[op].append((e["gflops"] / e["default_gflops"], problem, n,
                             problem_flops(op, problem), e))
        print(f"{suite} (table {sys.argv[1]}, {threads} threads)")
        print("| op | keys | tuned/default geomean | model total | worst key |")
        print("|---|---|---|---|---|")
        for op, r in sorted(rows.items()):
            geo = math.exp(sum(math.log(x[0]) for x in r) / len(r))
            t_def = sum(n * fl / e["default_gflops"] for _, _, n, fl, e in r)
            t_tun = sum(n * fl / e["gflops"] for _, _, n, fl, e in r)
            worst = max(r, key=lambda x: x[0])
            print(f"| {op} | {len(r)} | {geo:.2f} | {t_def / t_tun:.2f} | "
                  f"{worst[0]:.2f} {worst[1]} ({worst[4]['default_variant']} -> "
                  f"{worst[4]['variant']}) |")
        print()


if __name__ == "__main__":
    main()
