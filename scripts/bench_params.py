#!/usr/bin/env python3
"""Bench a list of problems under given parameters of one variant, beside the default dispatch
(and the peers): for each parameter set it writes a tuning table with one entry per problem
and times `dispatch` following it (bench has no parameter option; dispatch follows a table).
Every configuration runs in its own bench process, all of them once per round, so a drift of
the machine hits them alike; the GFLOP/s printed are medians over the rounds of each bench's
median over its repetitions.

usage: scripts/bench_params.py [--runs N] [--peers] [--threads T] [--grep REGEX]
                               BACKTUNE OP VARIANT PROBLEMS.txt[,MORE.txt] PARAMS [PARAMS ...]
  OP         the problems' op and layout: conv_bwd_w_nhwc, conv_bwd_d, fc_bwd_w, ...
  VARIANT    the variant the tables name, e.g. conv_bwd_w__depthwise_nhwc_avx512
  PROBLEMS   descriptors one a line (suite files: their names and '#' comments are skipped;
             a descriptor in several files counts once); --grep keeps those it matches
  PARAMS     'key=value,...' for VARIANT; 'BIN::key=value,...' times another build of backtune
             with them; 'BIN::default' another build's default dispatch; 'table=DIR|FILE'
             dispatch following a tuning table as it is (VARIANT unused), e.g. the tuner's
  --peers    also the oneDNN peers, the best of them per problem
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


def problems_of(paths, pattern):
    out = []
    for path in paths.split(","):
        for line in open(path):
            text = line.split("#")[0].strip()
            if not text:
                continue
            desc = re.sub(r'n".*', "", text.split()[0])
            if desc not in out and re.search(pattern, desc):
                out.append(desc)
    return out


def registry(binary, threads):
    """The machine fingerprint and variant hashes a table must carry, from a one-candidate tune."""
    out = tempfile.mkdtemp()
    subprocess.run([binary, "tune", "-t", str(threads), "-p", "conv_bwd_w_nhwc g16mb1ic16ih4oc16kh3ph1",
                    "--max-evals", "1", "--quiet", "--out", out], capture_output=True, check=True)
    machine = hashes = None
    for line in open(os.path.join(out, "records.jsonl")):
        rec = json.loads(line)
        if rec.get("kind") == "machine":
            machine = rec["fingerprint"]
        elif rec.get("kind") == "registry":
            hashes = rec
    return machine, hashes


def table_for(binary, op, variant, problems, params, threads):
    machine, reg = registry(binary, threads)
    if variant not in reg["variants"]:
        sys.exit(f"{binary}: no variant {variant}")
    request = f"{params},threads={threads}"
    entries = [{"problem": f"{op} {p}", "threads": threads, "variant": variant, "params": request,
                "request": request, "gflops": 0.0, "min_s": 0.0, "median_s": 0.0, "spread": 0.0,
                "reps": 0, "date": "", "search": "given", "variant_hash": reg["variants"][variant],
                "exhaustive_best": False, "default_variant": "", "default_gflops": 0.0}
               for p in problems]
    table = {"format": "backtune-tuning-table", "format_version": 1, "fingerprint": machine,
             "registry_hash": reg["registry_hash"], "backtune_version": reg["version"],
             "updated": "", "records": 0, "entries": entries}
    path = os.path.join(tempfile.mkdtemp(), "table.json")
    json.dump(table, open(path, "w"))
    return path


def bench(binary, op, problems, variants, table, threads):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env.pop("BACKTUNE_TABLE", None)
    if table:
        env["BACKTUNE_TABLE"] = table
    args = [binary, "bench", "--threads", str(threads), "-v", variants,
            "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
    for p in problems:
        args += ["-p", f"{op} {p}"]
    run = subprocess.run(args, env=env, capture_output=True, text=True)
    if table and "no usable entry" in run.stderr:
        sys.exit(f"{binary}: the table was not followed:\n{run.stderr[:400]}")
    got, order = {}, []
    for line in run.stdout.splitlines():
        m = re.match(r"\S+?/(\S+?)/(\S+?)/omp:\d+/real_time_median\s.*FLOP/s=([\d.]+)([GM])", line)
        if m:
            gflops = float(m.group(3)) / (1000 if m.group(4) == "M" else 1)
            prob, impl = m.group(1), m.group(2)
            if prob not in order:
                order.append(prob)
            key = "peer" if impl.startswith("peer:") else impl
            got[prob] = got.get(prob, {})
            got[prob][key] = max(got[prob].get(key, 0.0), gflops)
    # bench names a problem in its full form (output size, padding): match by position.
    if len(order) != len(problems):
        sys.exit(f"{binary}: bench timed {len(order)} of {len(problems)} problems:\n"
                 f"{run.stderr[-400:]}")
    return {p: got[name] for p, name in zip(problems, order)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grep", default="")
    ap.add_argument("binary")
    ap.add_argument("op")
    ap.add_argument("variant")
    ap.add_argument("problems")
    ap.add_argument("params", nargs="+")
    a = ap.parse_args()
    problems = problems_of(a.problems, a.grep)
    configs = []  # (name, binary, table or None)
    configs.append(("default", a.binary, None))
    for spec in a.params:
        binary, _, params = spec.rpartition("::")
        binary = binary or a.binary
        if params.startswith("table="):
            table = params[len("table="):]
        elif params == "default":
            table = None
        else:
            table = table_for(binary, a.op, a.variant, problems, params, a.threads)
        configs.append((spec, binary, table))
    samples = {name: [] for name, _, _ in configs}
    if a.peers:
        samples["peer"] = []
    for _ in range(a.runs):
        for name, binary, table in configs:
            got = bench(binary, a.op, problems, "dispatch", table, a.threads)
            samples[name].append({p: v.get("dispatch", 0.0) for p, v in got.items()})
        if a.peers:
            got = bench(a.binary, a.op, problems, "peer:onednn*", None, a.threads)
            samples["peer"].append({p: v.get("peer", 0.0) for p, v in got.items()})
    names = list(samples)
    print(f"# GFLOP/s, {a.op}, {a.threads} threads, medians of {a.runs} interleaved runs")
    print("| problem | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for p in problems:
        row = [statistics.median(run.get(p, 0.0) for run in samples[n]) for n in names]
        print(f"| {p} | " + " | ".join(f"{g:.1f}" for g in row) + " |")


if __name__ == "__main__":
    main()
