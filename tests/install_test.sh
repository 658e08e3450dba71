#!/bin/sh
# ctest 'install': backtune as a user gets it. `cmake --install` the build into a temporary
# prefix, then, against that prefix only:
#   - pkg-config: compile the example program with `cc ... $(pkg-config --cflags --libs
#     backtune)` (whose Libs carry no rpath: the program adds its own), run it;
#   - CMake: configure and build tests/cmake_consumer (find_package(backtune VERSION),
#     target backtune::backtune), run it;
#   - the command: `backtune --version`, `man -l` of the installed backtune.1, and the
#     installed bash completion sourced in bash with the installed backtune on PATH;
#   - the Python package: `import backtune` from the prefix's site-packages loads the
#     library installed beside it (backtune/_libpath.py).
# usage: install_test.sh CMAKE BUILD_DIR TESTS_DIR VERSION PYTHON [EXTRA_CFLAGS]
# (PYTHON may be "": no Python check; EXTRA_CFLAGS: the sanitizer flags of a sanitizer
# build, which the example must share.)
set -u
cmake=$1 build=$2 tests=$3 version=$4 python=$5 extra=${6:-}
example=$tests/example_install.c
# Exact for every variant: the example's inputs are small integers.
want_checksum='checksum |dw| 52870 |db| 38'

. "$tests/check_lib.sh"
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
config=$(find "$prefix" -name backtuneConfig.cmake | head -n 1)
if [ -n "$pc" ] && [ -n "$header" ] && [ -n "$lib" ] && [ -n "$config" ] &&
    [ -f "$(dirname "$header")/backtune_version.h" ] &&
    [ -f "$(dirname "$config")/backtuneConfigVersion.cmake" ]; then
    pass "installed ${pc#"$prefix"/}, ${header#"$prefix"/} (+ backtune_version.h), ${lib#"$prefix"/}, ${config#"$prefix"/} (+ version file)"
else
    fail "installed files: backtune.pc '${pc}', backtune.h '${header}', libbacktune.so '${lib}', backtuneConfig.cmake '${config}'"
    find "$prefix" -type f | sed 's/^/    /'
    finish
fi

# Only the temporary prefix: no build tree, no system copy, no inherited paths.
PKG_CONFIG_PATH=$(cd "$(dirname "$pc")" && pwd)
export PKG_CONFIG_PATH
unset PKG_CONFIG_LIBDIR LD_LIBRARY_PATH CPATH C_INCLUDE_PATH LIBRARY_PATH CMAKE_PREFIX_PATH
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
case "$flags" in
*rpath*) fail "pkg-config --libs sets an rpath: that is the consumer's choice" ;;
*) pass "pkg-config --libs sets no rpath" ;;
esac
pc_version=$(pkg-config --modversion backtune)
if [ "$pc_version" = "$version" ]; then
    pass "pkg-config --modversion backtune: $pc_version"
else
    fail "pkg-config --modversion backtune: '$pc_version', not $version"
fi

# The consumer's own rpath, as a program installed beside the library would set it.
libdir=$(pkg-config --variable=libdir backtune)
# shellcheck disable=SC2086 # flags are words
if ${CC:-cc} $extra "$example" $flags -Wl,-rpath,"$libdir" -o "$tmp/example" >"$tmp/cc.log" 2>&1; then
    pass "cc example_install.c \$(pkg-config --cflags --libs backtune) -Wl,-rpath,<libdir>"
else
    fail "cc example_install.c \$(pkg-config --cflags --libs backtune) -Wl,-rpath,<libdir>"
    sed 's/^/    /' "$tmp/cc.log"
    finish
fi

# A built example: it loads libbacktune from the prefix, runs, and prints the checksum.
check_example() { # what, program
    resolved=$(ldd "$2" 2>/dev/null | sed -n 's/.*libbacktune[^ ]* => \([^ ]*\).*/\1/p')
    case "$resolved" in
    "$prefix"/*) pass "$1: loads libbacktune from the prefix: ${resolved#"$prefix"/}" ;;
    *) fail "$1: loads libbacktune from '$resolved', not from the prefix" ;;
    esac
    if "$2" >"$tmp/out" 2>&1; then
        pass "$1: runs: $(sed -n 's/^variant *//p' "$tmp/out") $(sed -n 's/^params *//p' "$tmp/out")"
    else
        fail "$1: runs"
    fi
    sed 's/^/    /' "$tmp/out"
    if grep -qxF "$want_checksum" "$tmp/out"; then
        pass "$1: prints '$want_checksum'"
    else
        fail "$1: prints '$want_checksum'"
    fi
}
check_example "pkg-config example" "$tmp/example"

# CMake: find_package(backtune) from the prefix.
if CFLAGS="$extra" "$cmake" -S "$tests/cmake_consumer" -B "$tmp/consumer" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DEXAMPLE_SOURCE="$example" -DBACKTUNE_VERSION="$version" >"$tmp/consumer.log" 2>&1 &&
    "$cmake" --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1; then
    pass "CMake consumer: find_package(backtune $version EXACT), backtune::backtune: $(sed -n 's/^-- backtune .* from //p' "$tmp/consumer.log" | sed "s|$prefix/||")"
    check_example "CMake example" "$tmp/consumer/example"
else
    fail "CMake consumer: find_package(backtune $version EXACT) and build"
    sed 's/^/    /' "$tmp/consumer.log"
fi

# The command, its man page and its completion, installed.
bt=$prefix/bin/backtune
got=$("$bt" --version 2>&1)
if [ "$got" = "backtune $version" ]; then
    pass "backtune --version: $got"
else
    fail "backtune --version: '$got', not 'backtune $version'"
fi
man_page=$(find "$prefix" -path '*/man1/backtune.1' | head -n 1)
if [ -z "$man_page" ]; then
    fail "backtune.1 not installed (help2man missing when the build was configured?)"
elif ! command -v man >/dev/null; then
    fail "man not found (Debian: man-db) to render backtune.1"
elif MANWIDTH=100 man --warnings -E UTF-8 -l "$man_page" >"$tmp/man.txt" 2>"$tmp/man.err" &&
    ! [ -s "$tmp/man.err" ] && grep -q "backtune tune" "$tmp/man.txt" &&
    grep -q -- "--time-limit SEC" "$tmp/man.txt" && grep -q "^backtune $version" "$tmp/man.txt"; then
    pass "man -l ${man_page#"$prefix"/}: $(wc -l <"$tmp/man.txt") lines, no warnings, every command's options, version $version"
else
    fail "man -l ${man_page#"$prefix"/} renders with no warnings, tune's options and the version"
    sed 's/^/    /' "$tmp/man.err"
    head -n 20 "$tmp/man.txt" | sed 's/^/    /'
fi
completion=$(find "$prefix" -path '*/bash-completion/completions/backtune' | head -n 1)
if [ -z "$completion" ]; then
    fail "bash completion not installed"
else
    # Candidates for a partly typed line, with the installed backtune first on PATH.
    candidates() {
        PATH="$prefix/bin:$PATH" bash -c '
            source "$1"; shift
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _backtune
            printf "%s\n" "${COMPREPLY[@]}"' completion "$completion" "$@" 2>&1 | tr '\n' ' '
    }
    expect_candidates() { # what, expected words (grep patterns, all present), then the line
        what=$1 want=$2
        shift 2
        got=$(candidates "$@")
        ok=1
        for w in $want; do
            case " $got" in *" $w "*) ;; *) ok=0 ;; esac
        done
        if [ "$ok" = 1 ]; then
            pass "completion of '$*': $what: $got"
        else
            fail "completion of '$*': $what: want $want, got '$got'"
        fi
    }
    expect_candidates "commands" "check tune report --version" backtune ""
    expect_candidates "options" "--time-limit" backtune tune --time-l
    expect_candidates "options" "-s --suite -t --threads --time-limit --rebuild" backtune tune -
    expect_candidates "suite names" "resnet50" backtune tune --suite resn
    expect_candidates "variant names" "conv_bwd_w__naive,fc_bwd_d__naive" backtune check \
        --variant conv_bwd_w__naive,fc_bwd_d__na
    expect_candidates "variant names" "conv_bwd_d__direct_nchw_scalar" backtune check -v \
        conv_bwd_d__direct_nchw_s
    expect_candidates "choices" "best variant" backtune compare --by ""
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
