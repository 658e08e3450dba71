#!/usr/bin/python3
"""Simulated makespan of a tuning campaign on 1-256 identical nodes (tune/campaign.h).

Reads the per-key costs of committed campaigns from their `backtune tune` logs
(results/*/tune_*.txt and exhaustive_*.txt: each "[i/n] <problem> t<threads>: ... <T> timed,
<S> s;" line and its "exhaustive: ... in <E> s" line; a key costs S + E seconds and leaves
about T records), and for each campaign (each "$ backtune tune ..." command of a log) and each
node count N prints:

  dynamic     makespan with rank 0 handing keys out one at a time in key order (what
              campaigns do), N tuners up to 8 nodes, N-1 beyond (rank 0 then only
              coordinates: BT_CAMPAIGN_RANK0_TUNES_MAX)
  longest 1st the same with the keys handed out longest first (if their costs were known
              in advance, which rank 0 does not know: it hands keys out in key order)
  static      makespan of a split fixed in advance into N contiguous blocks of keys (the
              split by hand), and round-robin (key i on node i mod N)
  bound       max(longest key, total / tuners): no schedule does better with whole keys
  sliced      (campaigns with exhaustive passes) the dynamic hand-out with each key's full
              stage cut into slices of --slice-s seconds after its search, as `--exhaustive`
              campaigns do
  merge       rank 0's busy share merging records, and how long after the last key its
              merges end: a merge rewrites the whole records file, so it costs
              --merge-us-per-line times the lines on disk (--initial-lines to start with,
              plus the records merged so far); keys finished meanwhile merge together

Usage: /usr/bin/python3 scripts/campaign_scaling.py [--merge-us-per-line US]
           [--initial-lines N] [LOG ...]            (default LOG: results/*/{tune,exhaustive}_*.txt)
The per-line merge cost comes from tests/test_tuning --time-commit DIR BATCH ROUNDS (the
median seconds of one commit into a copy of DIR/records.jsonl, divided by its lines).
"""
import argparse
import glob
import heapq
import os
import re
import sys

KEY_LINE = re.compile(r"^\[(\d+)/(\d+)\] (.+?) t(\d+): .*?(\d+) timed, ([0-9.]+) s;")
EXHAUSTIVE_LINE = re.compile(r"^\s+exhaustive: (\d+) more timed in ([0-9.]+) s")
NODES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
RANK0_TUNES_MAX = 8  # tune/campaign.h
SLICE_S = 120.0  # BT_CAMPAIGN_SLICE_S, tune/campaign.h
# `build/tests/test_tuning --time-commit results/amd-epyc-zen4-2c-avx512 400 3`: 2.46 s per
# commit of 400 records into a copy of its 50,992-line records.jsonl (34 MB), measured while
# other jobs ran on the 2-core machine, so an upper estimate: 48 us per line.
MEASURED_US_PER_LINE = 48.0
MEASURED_HOW = ("test_tuning --time-commit results/amd-epyc-zen4-2c-avx512 400 3: 2.46 s per "
                "commit at 50,992 lines, measured with other jobs on the machine (an upper "
                "estimate)")


def read_campaigns(path):
    """[(title, [(key, seconds, records)])] of one log, one entry per command in it."""
    campaigns, keys, title = [], None, None
    with open(path) as f:
        for line in f:
            if line.startswith("$ "):
                if keys:
                    campaigns.append((title, keys))
                keys = []
                title = line[2:].split("#")[0].strip()
                continue
            m = KEY_LINE.match(line)
            if m and keys is not None:
                keys.append([f"{m.group(3)} t{m.group(4)}", float(m.group(6)), int(m.group(5)), 0.0])
                continue
            m = EXHAUSTIVE_LINE.match(line)
            if m and keys:
                # The key line's count includes the full stage's, of whose records only the
                # invalid ones and each new best are kept: about one.
                keys[-1][1] += float(m.group(2))
                keys[-1][2] += 1 - int(m.group(1))
                keys[-1][3] += float(m.group(2))
    if keys:
        campaigns.append((title, keys))
    return campaigns


def dynamic(costs, tuners):
    """Finish time of each key, handed out in order to the first free node."""
    free = [(0.0, n) for n in range(tuners)]
    finish = []
    for c in costs:
        t, n = heapq.heappop(free)
        finish.append(t + c)
        heapq.heappush(free, (t + c, n))
    return finish


def sliced(keys, tuners, slice_s):
    """Makespan with each key's full stage cut into slices of slice_s seconds (its search on
    one node first): a free node takes a slice of a key already searched if one is ready,
    else the next key, else waits for the next search to end (tune/campaign.h)."""
    free = [(0.0, n) for n in range(tuners)]
    ready = []  # (time the slice can start, seconds)
    pending = list(keys)
    end = 0.0
    while free:
        t, n = heapq.heappop(free)
        if ready and ready[0][0] <= t:
            _, cost = heapq.heappop(ready)
        elif pending:
            _, total, _, full = pending.pop(0)
            search = total - full
            for i in range(int(full // slice_s) + (full % slice_s > 0)):
                heapq.heappush(ready, (t + search, min(slice_s, full - i * slice_s)))
            cost = search
        elif ready:
            t = max(t, ready[0][0])
            _, cost = heapq.heappop(ready)
        else:
            continue  # nothing left for this node
        end = max(end, t + cost)
        heapq.heappush(free, (t + cost, n))
    return end


def static_blocks(costs, nodes):
    n = len(costs)
    bounds = [round(i * n / nodes) for i in range(nodes + 1)]
    return max(sum(costs[bounds[i]:bounds[i + 1]]) for i in range(nodes))


def static_round_robin(costs, nodes):
    return max(sum(costs[i::nodes]) for i in range(nodes))


def merges(finish, records, us_per_line, initial_lines):
    """(rank 0's merge seconds in all, when its last merge ends): each merge takes the keys
    finished by the time it starts and costs us_per_line times the lines on disk after it."""
    events = sorted(zip(finish, records))
    busy, free_at, lines, i = 0.0, 0.0, initial_lines, 0
    while i < len(events):
        start = max(free_at, events[i][0])
        while i < len(events) and events[i][0] <= start:
            lines += events[i][1]
            i += 1
        cost = us_per_line * 1e-6 * lines
        busy += cost
        free_at = start + cost
    return busy, free_at


def hours(s):
    return f"{s / 3600:.2f} h" if s >= 3600 else f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def report(title, keys, args, out):
    costs = [k[1] for k in keys]
    records = [k[2] for k in keys]
    total, longest = sum(costs), max(costs)
    out.write(f"\n## {title}\n\n{len(keys)} keys, {hours(total)} on one node; longest key "
              f"{hours(longest)} ({keys[costs.index(longest)][0]}); ~{sum(records)} records\n\n")
    with_full = any(k[3] > 0 for k in keys)
    out.write("| nodes | dynamic | longest 1st | static blocks | static round-robin | bound | "
              "dynamic / bound | rank 0 merging | last merge after last key |" +
              (" sliced |" if with_full else "") + "\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if with_full else "") +
              "\n")
    stop = None
    for nodes in NODES:
        tuners = nodes if nodes <= RANK0_TUNES_MAX else nodes - 1
        finish = dynamic(costs, tuners)
        busy, merged = merges(finish, records, args.merge_us_per_line, args.initial_lines)
        span = max(max(finish), merged)
        bound = max(longest, total / tuners)
        if stop is None and max(finish) <= 1.05 * longest:
            stop = nodes
        lpt = max(dynamic(sorted(costs, reverse=True), tuners))
        out.write(f"| {nodes} | {hours(span)} | {hours(lpt)} | {hours(static_blocks(costs, nodes))} | "
                  f"{hours(static_round_robin(costs, nodes))} | {hours(bound)} | "
                  f"{span / bound:.2f} | {100 * busy / span:.0f}% | "
                  f"{max(0.0, merged - max(finish)):.1f} s |" +
                  (f" {hours(sliced(keys, tuners, args.slice_s))} |" if with_full else "") + "\n")
    limit = (f"stops scaling at {stop} nodes: the dynamic makespan is then within 5% of the "
             f"longest key ({hours(longest)}), which no node count shortens"
             if stop else f"still scaling at {NODES[-1]} nodes")
    out.write(f"\nDynamic hand-out {limit}.\n")
    if with_full:
        longest_search = max(k[1] - k[3] for k in keys)
        out.write(f"'sliced': the full stages handed out in slices of {args.slice_s:g} s (what "
                  f"`--exhaustive` campaigns do), merges left out; it is bounded below by the "
                  f"longest search plus one slice ({hours(longest_search + args.slice_s)}) "
                  f"instead of the longest key.\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--merge-us-per-line", type=float, default=MEASURED_US_PER_LINE,
                   help="rank 0's merge cost per line of records.jsonl, microseconds")
    p.add_argument("--initial-lines", type=int, default=0,
                   help="lines in records.jsonl before the campaign")
    p.add_argument("--slice-s", type=float, default=SLICE_S,
                   help="seconds of work per slice of a full stage (BT_CAMPAIGN_SLICE_S)")
    p.add_argument("logs", nargs="*")
    args = p.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    logs = args.logs or sorted(glob.glob(os.path.join(root, "results/*/tune_*.txt")) +
                               glob.glob(os.path.join(root, "results/*/exhaustive_*.txt")))
    out = sys.stdout
    how = f" ({MEASURED_HOW})" if args.merge_us_per_line == MEASURED_US_PER_LINE else ""
    command = " ".join(["/usr/bin/python3 scripts/campaign_scaling.py"] + sys.argv[1:])
    out.write(f"# Simulated campaign makespans\n\nMade by `{command}`.\n\nMerge cost "
              f"{args.merge_us_per_line:g} us per line on disk{how}, {args.initial_lines} lines "
              f"before the campaign. Key costs are the tuner's own times per key from the logs "
              f"(search + exhaustive pass); hand-out messages are taken as free (~ms against "
              f"seconds per key).\n")
    for log in logs:
        for title, keys in read_campaigns(log):
            report(f"{os.path.relpath(log, root)}: {title[:150]}", keys, args, out)


if __name__ == "__main__":
    main()
