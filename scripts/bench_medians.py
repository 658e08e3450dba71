"""Reads a `backtune bench` JSON file (Google benchmark's format, names
op/problem/variant/omp:T): the scripts' one loader of its GFLOP/s."""
import json
from collections import defaultdict


def load(path):
    """(context, gflops, have_median): gflops[(op, problem, threads)][variant] is the median
    GFLOP/s over the repetitions when the file has them, else the best single run; failed
    runs are left out."""
    with open(path) as f:
        data = json.load(f)
    runs = data["benchmarks"]
    have_median = any(b.get("aggregate_name") == "median" for b in runs)
    gflops = defaultdict(dict)
    for b in runs:
        if have_median and b.get("aggregate_name") != "median":
            continue
        if not have_median and b.get("run_type") != "iteration":
            continue
        if b.get("error_occurred") or "FLOP/s" not in b:
            continue
        op, problem, variant, omp = b.get("run_name", b["name"]).split("/")[:4]
        row = gflops[(op, problem, int(omp.split(":")[1]))]
        row[variant] = max(row.get(variant, 0), b["FLOP/s"] / 1e9)
    return data["context"], gflops, have_median
