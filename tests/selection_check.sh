#!/bin/sh
# check, bench and tune select the same problems from the same options (cmdline/selection.h):
# check's "problem:" lines, bench's --benchmark_list_tests names and tune's --list keys, each
# turned back into problem texts, must be the same list. Cheap: check runs the dispatch
# variant once per problem, bench and tune only list.
#   selection_check.sh BACKTUNE [bench]    (bench: also compare backtune bench)
set -eu
bt=$1 with_bench=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# Problem texts, one a line, from each command's output.
from_check() { sed -n 's/^problem: //p'; }
from_bench() { sed -e 's|/[^/]*/omp:[0-9]*/real_time$||' -e 's|/| |g' | uniq; }
from_tune() { sed 's/ t[0-9]*$//'; }

compare() { # name, then the options
  name=$1
  shift
  "$bt" check -v dispatch -m exact "$@" | from_check >"$tmp/check"
  "$bt" tune --out "$tmp/tune_out" --list "$@" | from_tune >"$tmp/tune"
  if ! [ -s "$tmp/check" ]; then
    echo "FAIL $name: check selected nothing"
    status=1
  fi
  if ! cmp -s "$tmp/check" "$tmp/tune"; then
    echo "FAIL $name: check and tune select different problems"
    diff "$tmp/check" "$tmp/tune" || true
    status=1
  fi
  if [ -n "$with_bench" ]; then
    "$bt" bench -v dispatch --benchmark_list_tests "$@" 2>/dev/null | from_bench >"$tmp/bench"
    if ! cmp -s "$tmp/check" "$tmp/bench"; then
      echo "FAIL $name: check and bench select different problems"
      diff "$tmp/check" "$tmp/bench" || true
      status=1
    fi
  fi
  echo "$name: $(wc -l <"$tmp/check") problems"
  cat "$tmp/check"
}

compare "short options" -p mb2ic3ih5oc4kh3ph1 -p mb2ic4oc4 -p "conv_bwd_d_nhwc mb3ic2ih4oc2kh3ph1" \
  -o conv_bwd_w,fc_bwd_d -l nhwc --mb 1 -t 1
compare "long options" --problem mb2ic3ih5oc4kh3ph1 --problem mb2ic4oc4 \
  --problem "conv_bwd_d_nhwc mb3ic2ih4oc2kh3ph1" --ops conv_bwd_w,fc_bwd_d --layouts nhwc \
  --mb 1 --threads 1
compare "defaults" -p mb2ic3ih5oc4kh3ph1 -p mb2ic4oc4 -t 1
compare "suite" -s quick -o conv_bwd_d,fc_bwd_w -l nchw --mb 1 -t 1

# check's positional problems are --problem's.
"$bt" check -v dispatch -m exact -o conv_bwd_w -l nchw -t 1 mb2ic3ih5oc4kh3ph1 \
  "fc_bwd_w mb2ic4oc4" | from_check >"$tmp/positional"
"$bt" check -v dispatch -m exact -o conv_bwd_w -l nchw -t 1 -p mb2ic3ih5oc4kh3ph1 \
  -p "fc_bwd_w mb2ic4oc4" | from_check >"$tmp/options"
if ! cmp -s "$tmp/positional" "$tmp/options" || [ "$(wc -l <"$tmp/options")" -ne 2 ]; then
  echo "FAIL check: positional problems differ from --problem"
  status=1
fi

# A bad value is refused alike (status 2); were it taken, the commands would only list.
bad_value() { # command, then its options
  cmd=$1
  shift
  case $cmd in
  check) set -- "$@" -v dispatch ;;
  tune) set -- "$@" --list --out "$tmp/bad" ;;
  bench) set -- "$@" -v dispatch --benchmark_list_tests ;;
  esac
  if "$bt" "$cmd" -p mb2ic4oc4 "$@" >/dev/null 2>"$tmp/err"; then rc=0; else rc=$?; fi
  if [ "$rc" -ne 2 ] || grep -q usage: "$tmp/err"; then
    echo "FAIL $cmd $*: status $rc, not 2 with a message"
    cat "$tmp/err"
    status=1
  fi
}
commands="check tune"
[ -n "$with_bench" ] && commands="$commands bench"
for cmd in $commands; do
  bad_value "$cmd" -l nchx
  bad_value "$cmd" -o conv_bwd_x
  bad_value "$cmd" --mb 0
  bad_value "$cmd" -t 0
done
[ "$status" -eq 0 ] && echo "PASS: check, tune${with_bench:+ and bench} select the same problems"
exit "$status"
