#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors and runs every
# test with ctest. --sanitize builds with AddressSanitizer + UndefinedBehaviorSanitizer
# instead (in build-asan/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build" type=Release extra=()
if [ "${1:-}" = "--sanitize" ]; then
  build="$root/build-asan" type=Release extra=(-DBT_SANITIZE=ON -DBT_BUILD_BENCH=OFF)
elif [ -n "${1:-}" ]; then
  echo "usage: scripts/test.sh [--sanitize]" >&2
  exit 2
fi
"$root/scripts/deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=$type -DBT_WERROR=ON "${extra[@]}"
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build" && ctest --output-on-failure -j"$(nproc)"
