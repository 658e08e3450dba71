#!/bin/sh
# ctest 'install': the library as a user gets it. `cmake --install` the build into a
# temporary prefix, compile the example program with `cc ... $(pkg-config --cflags --libs
# backtune)` against that prefix only, run it, and check its output.
# usage: install_test.sh CMAKE BUILD_DIR EXAMPLE_C [EXTRA_CFLAGS]
# (EXTRA_CFLAGS: the sanitizer flags of a sanitizer build, which the example must share.)
set -u
cmake=$1 build=$2 example=$3 extra=${4:-}
# Exact for every variant: the example's inputs are small integers.
want_checksum='checksum |dw| 52870 |db| 38'

passed=0 failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/backtune-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

if "$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
    pass "cmake --install $build --prefix <tmp>"
else
    fail "cmake --install $build --prefix <tmp>"
    sed 's/^/    /' "$tmp/install.log"
    finish
fi

pc=$(find "$prefix" -name backtune.pc | head -n 1)
header=$(find "$prefix" -name backtune.h | head -n 1)
lib=$(find "$prefix" -name 'libbacktune.so*' | head -n 1)
if [ -n "$pc" ] && [ -n "$header" ] && [ -n "$lib" ]; then
    pass "installed ${pc#"$prefix"/}, ${header#"$prefix"/}, ${lib#"$prefix"/}"
else
    fail "installed files: backtune.pc '${pc}', backtune.h '${header}', libbacktune.so '${lib}'"
    finish
fi

# Only the temporary prefix: no build tree, no system copy, no inherited paths.
PKG_CONFIG_PATH=$(cd "$(dirname "$pc")" && pwd)
export PKG_CONFIG_PATH
unset PKG_CONFIG_LIBDIR LD_LIBRARY_PATH CPATH C_INCLUDE_PATH LIBRARY_PATH
if flags=$(pkg-config --cflags --libs backtune 2>"$tmp/pkg.log"); then
    pass "pkg-config --cflags --libs backtune: $flags"
else
    fail "pkg-config --cflags --libs backtune"
    sed 's/^/    /' "$tmp/pkg.log"
    finish
fi
case "$flags" in
*"$prefix"*) pass "pkg-config flags point into the install prefix" ;;
*) fail "pkg-config flags do not point into the install prefix $prefix (backtune.pc: prefix=$(sed -n 's/^prefix=//p' "$pc"))" ;;
esac

# shellcheck disable=SC2086 # flags are words
if ${CC:-cc} $extra "$example" $flags -o "$tmp/example" >"$tmp/cc.log" 2>&1; then
    pass "cc example_install.c \$(pkg-config --cflags --libs backtune)"
else
    fail "cc example_install.c \$(pkg-config --cflags --libs backtune)"
    sed 's/^/    /' "$tmp/cc.log"
    finish
fi

resolved=$(ldd "$tmp/example" 2>/dev/null | sed -n 's/.*libbacktune[^ ]* => \([^ ]*\).*/\1/p')
case "$resolved" in
"$prefix"/*) pass "the example loads libbacktune from the prefix (rpath): ${resolved#"$prefix"/}" ;;
*) fail "the example loads libbacktune from '$resolved', not from the prefix" ;;
esac

if "$tmp/example" >"$tmp/out" 2>&1; then
    pass "the example runs: $(sed -n 's/^variant *//p' "$tmp/out") $(sed -n 's/^params *//p' "$tmp/out")"
else
    fail "the example runs"
fi
sed 's/^/    /' "$tmp/out"
if grep -qxF "$want_checksum" "$tmp/out"; then
    pass "the example prints '$want_checksum'"
else
    fail "the example prints '$want_checksum'"
fi
finish
