#!/usr/bin/env python3
"""Prints the fast-variants issue's performance table from a `backtune bench --suite targets`
JSON file (results/<machine-id>/bench_targets.json) as Markdown: per shape and op, our best
variant against oneDNN (its best layout for NHWC and FC, its plain NCHW for NCHW) and, for FC,
OpenBLAS sgemm; medians over the repetitions; 1 and 2 threads and our 2-thread scaling.

usage: scripts/targets_table.py results/<machine-id>/bench_targets.json
"""
import sys

import bench_medians

# (descriptor prefix, op, our layout, peer set, target ratio, what the target is against)
TARGETS = {
    "mb32ic64ih56oc64oh56kh3ph1": "3x3 56x56",
    "mb32ic128ih28oc128oh28kh3ph1": "3x3 28x28",
    "mb32ic256ih14oc256oh14kh3ph1": "3x3 14x14",
    "mb32ic64ih56oc256oh56kh1": "1x1 56x56",
    "mb32ic3ih224oc64oh112kh7sh2ph3": "7x7 s2 first layer",
    "g128mb32ic128ih56oc128oh56kh3ph1": "depthwise 3x3",
    "mb256ic1024oc1024": "FC 256x1024x1024",
    "mb32ic4096oc4096": "FC 32x4096x4096",
}


def target(desc, op):
    """(peers the ratio is against, required ratio) for a row of the issue's table."""
    nchw = op in ("conv_bwd_d", "conv_bwd_w")
    if desc.startswith("mb256ic1024"):
        return ("peer:openblas_sgemm",), 0.95
    if desc.startswith("mb32ic4096"):
        return ("peer:onednn", "peer:onednn_blocked", "peer:openblas_sgemm"), 1.0
    if desc.startswith("g128"):
        return ("peer:onednn", "peer:onednn_blocked"), 1.5
    if desc.startswith("mb32ic3ih224"):
        if op.startswith("conv_bwd_d"):
            return ("peer:onednn", "peer:onednn_blocked"), 2.0
        return ("peer:onednn", "peer:onednn_blocked"), None
    if "kh1" in desc:
        return ("peer:onednn", "peer:onednn_blocked"), 1.0
    if nchw:
        return ("peer:onednn",), 1.3  # oneDNN with plain NCHW
    return ("peer:onednn", "peer:onednn_blocked"), 0.95


def main():
    ctx, gflops, have_median = bench_medians.load(sys.argv[1])
    med = {(desc, op, t): row for (op, desc, t), row in gflops.items()}
    print(f"Machine `{ctx.get('machine_id')}`, {ctx.get('date', '')}, git {ctx.get('build_git_revision', '?')}; "
          f"GFLOP/s, medians of {'the repetitions' if have_median else 'one run'}, warm cache, "
          f"OMP threads bound close. Ours = best of our variants and `dispatch` (tuned table).\n")
    print("| shape | op | T | ours GFLOP/s (variant) | peer GFLOP/s (which) | ratio | target | met | 2T/1T ours |")
    print("|---|---|---|---|---|---|---|---|---|")
    order = list(TARGETS)
    keys = sorted(med, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1], k[2]))
    for desc, op, t in keys:
        runs = med[(desc, op, t)]
        ours = {k: v for k, v in runs.items() if not k.startswith("peer:")}
        if not ours:
            continue
        best = max(ours, key=ours.get)
        peers, need = target(desc, op)
        cand = {k: runs[k] for k in peers if k in runs}
        if cand:
            peer = max(cand, key=cand.get)
            ratio = ours[best] / cand[peer]
            peer_text = f"{cand[peer]:.0f} ({peer[5:]})"
        else:
            peer_text, ratio = "-", None
        one = med.get((desc, op, 1), {})
        one_best = max((v for k, v in one.items() if not k.startswith("peer:")), default=0)
        scaling = f"{ours[best] / one_best:.2f}" if t == 2 and one_best else ""
        met = "" if need is None or ratio is None else ("yes" if ratio >= need else "no")
        print(f"| {TARGETS.get(desc, desc)} | {op} | {t} | {ours[best]:.0f} ({best.replace('conv_bwd_d__', '').replace('conv_bwd_w__', '').replace('fc_bwd_d__', '').replace('fc_bwd_w__', '')}) "
              f"| {peer_text} | {'' if ratio is None else f'{ratio:.2f}'} | {'' if need is None else f'≥ {need}'} | {met} | {scaling} |")


if __name__ == "__main__":
    main()
