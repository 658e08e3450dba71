#!/bin/sh
# Resuming a tune is decided per variant (tune/tune_cmd.c, mark_done): a key whose records were
# made against another registry is tuned again only when one of its candidates was missing
# from that registry or stood there with another parameter space.
#   tune_resume_check.sh BACKTUNE PYTHON
# Tunes one tiny key, then rewrites its records as if an older registry "0123456789abcdef"
# had made them (interference marks cleared: only the registry is under test) and checks the
# "N to tune" line of a rerun for: every variant as now (0), a variant of another op missing
# (0), a candidate missing (1), a candidate with another hash (1), no registry line (1).
set -u
backtune=$1 python=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
    echo "FAIL: $*"
    tail -5 "$dir/err"
    exit 1
}
key="fc_bwd_d mb2ic4oc4"
"$backtune" tune -p "$key" -t 1 --time-limit 1 --out "$dir/r" >"$dir/out" 2>"$dir/err" ||
    fail "the first tune failed"
cp "$dir/r/records.jsonl" "$dir/tuned.jsonl"
# as_older MODE: records.jsonl from the tuned one, its registry renamed; MODE edits the
# registry line: same, drop:NAME, change:NAME, none (line removed).
as_older() {
    "$python" - "$dir/tuned.jsonl" "$dir/r/records.jsonl" "$1" <<'PY' || fail "rewrite $1"
import json, sys
src, dst, mode = sys.argv[1:]
old = "0123456789abcdef"
out = []
for line in open(src):
    o = json.loads(line)
    if o.get("kind") == "registry":
        if mode == "none":
            continue
        o["registry_hash"] = old
        what, _, name = mode.partition(":")
        if what == "drop":
            del o["variants"][name]
        elif what == "change":
            o["variants"][name] = "0000000000000000"
    elif "registry_hash" in o:
        o["registry_hash"] = old
        o.pop("interference", None)
    out.append(json.dumps(o, separators=(",", ":")))
open(dst, "w").write("\n".join(out) + "\n")
PY
    rm -f "$dir"/r/table.json
}
expect_todo() { # MODE COUNT
    as_older "$1"
    "$backtune" tune -p "$key" -t 1 --time-limit 0.5 --out "$dir/r" >"$dir/out" 2>"$dir/err" ||
        fail "tune ($1) failed"
    grep -q "1 keys, $2 to tune" "$dir/err" || fail "$1: expected '$2 to tune'"
    echo "ok: $1: $2 to tune"
}
expect_todo same 0
expect_todo drop:conv_bwd_w__naive 0
expect_todo drop:fc_bwd_d__naive 1
expect_todo change:fc_bwd_d__naive 1
expect_todo none 1
