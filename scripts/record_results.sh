#!/usr/bin/env bash
# Records this machine's results under results/<machine-id>/ (and a second configuration of
# the same machine, the ISA capped at AVX2, under results/<id-with-avx2>/): tuning tables for
# the quick, ResNet-50 and FC suites, then benchmarks of the fast-variants targets, ResNet-50
# and FC suites against the peers, with the tuned dispatch. Run on an idle machine (nothing
# else running: two cores are easily disturbed); about 45 minutes on 2 Zen 5 cores. Each
# command's console output is kept beside its results as <step>.txt.
# Options: --only STEP[,STEP...] to run some steps (tune_quick tune_resnet50 tune_fc
# bench_targets bench_resnet50 bench_fc avx2), or steps not in the default run:
# exhaustive_resnet50_mb1 (the tuner with the default budget against the exhaustive best of
# every ResNet-50 key at batch 1, ~35 minutes), exhaustive_resnet50_bwd_d_mb32_screen (the
# same for the 46 bwd_d keys at the suite's batch of 32, ~60 minutes) and
# exhaustive_resnet50_bwd_w_mb32_sample (10 of the 46 bwd_w keys at batch 32, every kind of
# layer, both layouts, the most repeated shapes first: ~8 minutes a key, the 46 would take
# about 6 hours), exhaustive_resnet50_bwd_w_mb32_rest (the other 36) and
# exhaustive_resnet50_bwd_w_mb32_last24 (the last 24 of those 36) and
# exhaustive_resnet50_bwd_w_mb32_last10 (the last 10 of those 24). Their records (~15 MB) go to a
# temporary folder; the console output with one line per key is kept. heuristic_1x1: the
# default dispatch against each family's defaults on the 1x1 layers (~12 minutes). uneven_1d:
# the same_padding (batch 8) and conv1d suites against the peers, untuned (~15 minutes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
only=${2:-}
[ "${1:-}" = "--only" ] || only=all
bt="$root/build/cli/backtune"
cd "$root"
export OMP_WAIT_POLICY=PASSIVE # no spinning pools between runs (docs/benchmarks.md)
id=$("$bt" info --brief | sed -n 's/^machine id: \([^ ]*\).*/\1/p')
out="results/$id"
mkdir -p "$out"
want() { [ "$only" = all ] || [[ ",$only," == *",$1,"* ]]; }
only_asked() { [[ ",$only," == *",$1,"* ]]; }
step() { # step NAME COMMAND...: runs it, keeping the console output and the command
  local name=$1; shift
  echo "== $name: $*" >&2
  { echo "\$ $*"; "$@"; } 2>&1 | tee "$out/$name.txt"
}
table="$out" # this machine's table among those of the machines sharing the id
want tune_quick && step tune_quick "$bt" tune --suite quick --threads 1,2 --time-limit 60
want tune_resnet50 && step tune_resnet50 "$bt" tune --suite resnet50 --threads 2 --time-limit 900
want tune_fc && step tune_fc "$bt" tune --suite fc --threads 2 --time-limit 300
if only_asked exhaustive_resnet50_mb1; then
  scratch=$(mktemp -d)
  step exhaustive_resnet50_mb1 "$bt" tune --suite resnet50 --mb 1 --threads 2 --exhaustive \
    --out "$scratch"
  rm -rf "$scratch"
fi
if only_asked exhaustive_resnet50_bwd_d_mb32_screen; then
  scratch=$(mktemp -d)
  step exhaustive_resnet50_bwd_d_mb32_screen "$bt" tune --suite resnet50 --ops conv_bwd_d \
    --threads 2 --exhaustive --out "$scratch"
  rm -rf "$scratch"
fi
if only_asked exhaustive_resnet50_bwd_w_mb32_sample; then
  scratch=$(mktemp -d)
  step exhaustive_resnet50_bwd_w_mb32_sample "$bt" tune \
    --problem "conv_bwd_w mb32ic256ih14oc1024oh14kh1" \
    --problem "conv_bwd_w_nhwc mb32ic256ih14oc256oh14kh3ph1" \
    --problem "conv_bwd_w mb32ic256ih14oc256oh14kh3ph1" \
    --problem "conv_bwd_w_nhwc mb32ic64ih56oc256oh56kh1" \
    --problem "conv_bwd_w mb32ic128ih28oc128oh28kh3ph1" \
    --problem "conv_bwd_w_nhwc mb32ic3ih224oc64oh112kh7sh2ph3" \
    --problem "conv_bwd_w mb32ic512ih14oc512oh7kh3sh2ph1" \
    --problem "conv_bwd_w_nhwc mb32ic1024ih14oc256oh14kh1" \
    --problem "conv_bwd_w mb32ic64ih56oc64oh56kh3ph1" \
    --problem "conv_bwd_w_nhwc mb32ic512ih7oc2048oh7kh1" \
    --threads 2 --exhaustive --out "$scratch"
  rm -rf "$scratch"
fi
# The 36 bwd_w keys at batch 32 the sample above leaves out, the most repeated shapes first.
bwd_w_mb32_rest_keys() {
  cat <<'KEYS'
conv_bwd_w_nhwc mb32ic256ih14oc1024oh14kh1
conv_bwd_w mb32ic1024ih14oc256oh14kh1
conv_bwd_w mb32ic64ih56oc256oh56kh1
conv_bwd_w mb32ic128ih28oc512oh28kh1
conv_bwd_w_nhwc mb32ic128ih28oc512oh28kh1
conv_bwd_w_nhwc mb32ic64ih56oc64oh56kh3ph1
conv_bwd_w mb32ic512ih28oc128oh28kh1
conv_bwd_w_nhwc mb32ic512ih28oc128oh28kh1
conv_bwd_w_nhwc mb32ic128ih28oc128oh28kh3ph1
conv_bwd_w mb32ic512ih7oc2048oh7kh1
conv_bwd_w mb32ic256ih56oc64oh56kh1
conv_bwd_w_nhwc mb32ic256ih56oc64oh56kh1
conv_bwd_w mb32ic2048ih7oc512oh7kh1
conv_bwd_w_nhwc mb32ic2048ih7oc512oh7kh1
conv_bwd_w mb32ic512ih7oc512oh7kh3ph1
conv_bwd_w_nhwc mb32ic512ih7oc512oh7kh3ph1
conv_bwd_w mb32ic3ih224oc64oh112kh7sh2ph3
conv_bwd_w mb32ic64ih56oc64oh56kh1
conv_bwd_w_nhwc mb32ic64ih56oc64oh56kh1
conv_bwd_w mb32ic256ih56oc128oh56kh1
conv_bwd_w_nhwc mb32ic256ih56oc128oh56kh1
conv_bwd_w mb32ic128ih56oc128oh28kh3sh2ph1
conv_bwd_w_nhwc mb32ic128ih56oc128oh28kh3sh2ph1
conv_bwd_w mb32ic256ih56oc512oh28kh1sh2
conv_bwd_w_nhwc mb32ic256ih56oc512oh28kh1sh2
conv_bwd_w mb32ic512ih28oc256oh28kh1
conv_bwd_w_nhwc mb32ic512ih28oc256oh28kh1
conv_bwd_w mb32ic256ih28oc256oh14kh3sh2ph1
conv_bwd_w_nhwc mb32ic256ih28oc256oh14kh3sh2ph1
conv_bwd_w mb32ic512ih28oc1024oh14kh1sh2
conv_bwd_w_nhwc mb32ic512ih28oc1024oh14kh1sh2
conv_bwd_w mb32ic1024ih14oc512oh14kh1
conv_bwd_w_nhwc mb32ic1024ih14oc512oh14kh1
conv_bwd_w_nhwc mb32ic512ih14oc512oh7kh3sh2ph1
conv_bwd_w mb32ic1024ih14oc2048oh7kh1sh2
conv_bwd_w_nhwc mb32ic1024ih14oc2048oh7kh1sh2
KEYS
}
exhaustive_bwd_w_mb32() { # exhaustive_bwd_w_mb32 STEP: the keys on stdin, one line per key as
  # it is done, so a run stopped early keeps what it finished.
  local name=$1 scratch args=() problem
  scratch=$(mktemp -d)
  while read -r problem; do args+=(--problem "$problem"); done
  step "$name" "$bt" tune "${args[@]}" --threads 2 --exhaustive --out "$scratch"
  rm -rf "$scratch"
}
# The rest run was stopped after its first 12 keys (Zen 4) and last24, which went on from
# there, after 14 more; each part starts at its first key in that list.
for part in rest:1 last24:13 last10:27; do
  if only_asked "exhaustive_resnet50_bwd_w_mb32_${part%%:*}"; then
    exhaustive_bwd_w_mb32 "exhaustive_resnet50_bwd_w_mb32_${part%%:*}" \
      < <(bwd_w_mb32_rest_keys | tail -n +"${part#*:}")
  fi
done
if only_asked heuristic_1x1; then
  # The heuristic (no table) against each family's defaults on the ResNet-50 1x1 layers in
  # one run, repetitions interleaved (bt_conv_gemm_leads), then the same with dispatch capped
  # at AVX2; the ratios are printed after each bench.
  args=()
  for d in $(sed -En 's/^(mb[0-9a-z]*kh1(sh[0-9]+)?ph0)n".*/\1/p' bench/suites/resnet50.txt); do
    args+=(--problem "$d")
  done
  for isa in avx512 avx2; do
    BACKTUNE_ISA_CAP=$isa step "heuristic_1x1_$isa" "$bt" bench "${args[@]}" \
      --ops conv_bwd_d,conv_bwd_w --threads 2 --variants "dispatch,*direct_n*_$isa,*gemm*_$isa" \
      --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
      --benchmark_min_time=0.2 --out "$out/heuristic_1x1_$isa.json"
    python3 scripts/ratios.py "$out/heuristic_1x1_$isa.json" | tee -a "$out/heuristic_1x1_$isa.txt"
  done
fi
if only_asked uneven_1d; then
  # Uneven ('SAME') padding beside symmetric twins, and 1-D layers, against the peers with the
  # default dispatch (no table): scripts/uneven_pairs.py prints the ratios.
  for suite in same_padding conv1d; do
    mb=() && [ $suite = same_padding ] && mb=(--mb 8)
    step "bench_$suite" "$bt" bench --suite $suite "${mb[@]}" --threads 2 \
      --variants 'dispatch,peer:*' --benchmark_repetitions=3 \
      --benchmark_enable_random_interleaving=true --out "$out/bench_$suite.json"
    python3 scripts/uneven_pairs.py "$out/bench_$suite.json" | tee -a "$out/bench_$suite.txt"
  done
fi
want bench_targets && BACKTUNE_TABLE=$table step bench_targets "$bt" bench --suite targets \
  --threads 1,2 --variants '*avx512*,dispatch,peer:*' --benchmark_repetitions=3 \
  --benchmark_min_time=0.1 --save
want bench_resnet50 && BACKTUNE_TABLE=$table step bench_resnet50 "$bt" bench --suite resnet50 \
  --threads 2 --variants 'dispatch,peer:*' --save
want bench_fc && BACKTUNE_TABLE=$table step bench_fc "$bt" bench --suite fc --threads 2 \
  --variants 'dispatch,peer:*' --save
if want avx2; then
  # The same machine with dispatch capped at AVX2 (oneDNN too): a second configuration.
  export BACKTUNE_ISA_CAP=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2
  id2=$("$bt" info --brief | sed -n 's/^machine id: \([^ ]*\).*/\1/p')
  out="results/$id2"
  mkdir -p "$out"
  step tune_quick "$bt" tune --suite quick --threads 1,2 --time-limit 60
  BACKTUNE_TABLE="$out" step bench_targets "$bt" bench --suite targets --threads 1,2 \
    --variants 'dispatch,peer:onednn*' --benchmark_repetitions=3 --benchmark_min_time=0.1 --save
fi
