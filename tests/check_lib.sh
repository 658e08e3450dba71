# Shared by the shell tests: PASS/FAIL lines with a count, and a temporary folder removed at
# exit. Source it (`. check_lib.sh`); `finish` prints the counts and exits 0 if none
# failed.
passed=0 failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bt_test_XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
