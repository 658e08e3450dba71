#!/bin/sh
# scripts/bench_params.py on one tiny problem: the default, a forced parameter set of the
# scalar depthwise variant (a table dispatch follows) and that variant's other walk, one round:
# a row of positive GFLOP/s per configuration. The script itself exits non-zero when a table
# it wrote was not followed.
#   bench_params_check.sh BACKTUNE PYTHON SOURCE_DIR
backtune=$1 python=$2 src=$3
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; cat "$dir/out" "$dir/err" 2>/dev/null; exit 1; }
printf '# two problems\ng16mb1ic16ih8oc16kh3ph1   # x1\ng16mb1ic16ih6oc16oh3kh3sh2ph1\n' >"$dir/problems.txt"
"$python" "$src/scripts/bench_params.py" --runs 1 --threads 1 "$backtune" conv_bwd_w_nhwc \
    conv_bwd_w__depthwise_nhwc_scalar "$dir/problems.txt" 'walk=direct,cb=1' 'walk=rows' \
    >"$dir/out" 2>"$dir/err" || fail "bench_params.py exited $?"
grep -q '^| problem | default | walk=direct,cb=1 | walk=rows |$' "$dir/out" || fail "header"
for p in g16mb1ic16ih8oc16kh3ph1 g16mb1ic16ih6oc16oh3kh3sh2ph1; do
    grep -Eq "^\| $p( \| [0-9]+\.[0-9]){3} \|\$" "$dir/out" || fail "row of $p"
    grep -E "^\| $p " "$dir/out" | grep -q ' 0\.0 ' && fail "a zero GFLOP/s in the row of $p"
done
# A table naming a variant this build lacks is refused, not timed as the default.
"$python" "$src/scripts/bench_params.py" --runs 1 --threads 1 "$backtune" conv_bwd_w_nhwc \
    conv_bwd_w__no_such_variant "$dir/problems.txt" 'walk=rows' >"$dir/out" 2>"$dir/err" &&
    fail "an unknown variant was accepted"
echo "bench_params.py: ok"
