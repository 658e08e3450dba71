#!/bin/sh
# ctest 'install': the library as a user gets it. `cmake --install` the build into a
# temporary prefix, compile the example program with `cc ... $(pkg-config --cflags --libs
# backtune)` against that prefix only, run it, and check its output.
# Then the Python package as installed: `import backtune` from the prefix's site-packages
# loads the library installed beside it (backtune/_libpath.py).
# usage: install_test.sh CMAKE BUILD_DIR EXAMPLE_C PYTHON [EXTRA_CFLAGS]
# (PYTHON may be "": no Python check; EXTRA_CFLAGS: the sanitizer flags of a sanitizer
# build, which the example must share.)
set -u
cmake=$1 build=$2 example=$3 python=$4 extra=${5:-}
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

if [ -n "$python" ]; then
    libpath=$(find "$prefix" -path '*/backtune/_libpath.py' | head -n 1)
    if [ -n "$libpath" ] && [ -f "$(dirname "$libpath")/__init__.py" ]; then
        pass "installed the Python package: ${libpath%/backtune/_libpath.py}"
        site=${libpath%/backtune/_libpath.py}
        preload=""
        [ -n "$extra" ] && preload="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
        # Only the prefix: no BACKTUNE_LIBRARY, no source tree on the path.
        if loaded=$(cd "$tmp" && env -u BACKTUNE_LIBRARY PYTHONPATH="$site" LD_PRELOAD="$preload" \
            ASAN_OPTIONS=detect_leaks=0 "$python" -c \
            'import backtune; p = backtune.Problem.parse("fc_bwd_w mb2ic4oc8"); backtune.Plan(p); print(backtune.library_path())' \
            2>"$tmp/py.log"); then
            case "$loaded" in
            "$prefix"/*) pass "import backtune loads ${loaded#"$prefix"/} and makes a plan" ;;
            *) fail "import backtune loads '$loaded', not the prefix's library" ;;
            esac
        else
            fail "import backtune from the prefix"
            sed 's/^/    /' "$tmp/py.log"
        fi
    else
        fail "no backtune/_libpath.py (and package) under the prefix"
    fi
fi
finish
