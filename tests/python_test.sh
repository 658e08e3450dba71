#!/bin/sh
# ctest 'python': the Python package's pytest suite (tests/python) on the built library, with
# the interpreter the build was configured with (BT_PYTHON). It needs torch, torchvision,
# onnx and pytest there (scripts/packages-python.txt); without them the test is skipped and
# says so, unless BACKTUNE_REQUIRE_TORCH=1 (CI) makes that a failure. In a sanitizer build
# the library needs the sanitizer runtimes, which an uninstrumented python can only get by
# LD_PRELOAD: the test preloads them, and skips (saying so) if python cannot run that way.
# usage: python_test.sh PYTHON LIBBACKTUNE BACKTUNE_CLI SOURCE_DIR SANITIZE(ON|OFF) [pytest args]
set -u
python=$1 lib=$2 cli=$3 src=$4 sanitize=$5
shift 5
skip() {
    if [ "${BACKTUNE_REQUIRE_TORCH:-0}" = 1 ]; then
        echo "FAIL (BACKTUNE_REQUIRE_TORCH=1): $*"
        exit 1
    fi
    echo "SKIPPED: $*"
    exit 77
}
if ! "$python" -c "import torch, torchvision, onnx, pytest" 2>/dev/null; then
    skip "$python cannot import torch, torchvision, onnx and pytest (Debian: apt-get install $(grep -v '^#' "$src/scripts/packages-python.txt" | tr '\n' ' ' | sed 's/ *$//'), or scripts/deps.sh --python)"
fi
if [ "$sanitize" = ON ]; then
    preload="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
    # Python and torch are not instrumented: their allocations at exit are not leaks to
    # report (the last setting wins, so this one goes last); ASan's other checks stay on.
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    if ! LD_PRELOAD="$preload" "$python" -c "import torch" >/dev/null 2>"${TMPDIR:-/tmp}/bt_preload.$$"; then
        tail -n 5 "${TMPDIR:-/tmp}/bt_preload.$$"
        rm -f "${TMPDIR:-/tmp}/bt_preload.$$"
        skip "the sanitizer runtimes ($preload) cannot be preloaded into $python with torch"
    fi
    rm -f "${TMPDIR:-/tmp}/bt_preload.$$"
    export LD_PRELOAD="$preload"
    echo "sanitizer build: python runs with LD_PRELOAD=$LD_PRELOAD"
fi
export BACKTUNE_LIBRARY="$lib" BACKTUNE_CLI="$cli" PYTHONDONTWRITEBYTECODE=1
exec "$python" -m pytest -p no:cacheprovider -q "$src/tests/python" "$@"
