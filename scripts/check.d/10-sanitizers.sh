#!/bin/sh
# The whole test suite built with AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer (./configure --enable-asan: the daemon, libmpx,
# mpxctl and every test, with -fno-sanitize-recover=undefined so that any UB
# report is fatal), then the soak for MPX_SOAK_SECONDS (60 by default) under
# the same sanitizers. A report of any of them in the daemon makes it exit
# non-zero, which fails the test that stopped it.
#
# The build is out of tree in a temporary directory, from a copy of the
# sources (the tree itself is usually configured in place, which automake
# does not allow next to an out-of-tree build).
#
# Budget: about 4 minutes on 2 cores, measured (build 1, suite 1.5, soak 1); under 6.
set -eu
cd "$(dirname "$0")/../.."
src=$PWD
seconds=${MPX_SOAK_SECONDS:-60}
jobs=${MPX_CHECK_JOBS:-2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpx-sanitizers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The sources: what git tracks (as in the working tree) and what it would
# track; from a release tarball, which is not configured in place, as is.
if git -C "$src" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
        mkdir "$tmp/src"
        git -C "$src" ls-files -z --cached --others --exclude-standard |
                (cd "$src" && xargs -0 cp --parents -t "$tmp/src")
        (cd "$tmp/src" && ./autogen.sh > "$tmp/autogen.log" 2>&1) || { cat "$tmp/autogen.log"; exit 1; }
        top=$tmp/src
elif [ ! -e "$src/config.status" ]; then
        top=$src
else
        echo "10-sanitizers: $src is configured in place and is not a git tree: run from a clean tree" >&2
        exit 1
fi

# Leaks are reported at exit and fail the process; UB stops it with a stack.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS

mkdir "$tmp/build"
cd "$tmp/build"
"$top/configure" --enable-asan --enable-werror > configure.log 2>&1 || { cat configure.log; exit 1; }
start=$(date +%s)
make -j"$jobs" > build.log 2>&1 || { tail -n 50 build.log; exit 1; }
echo "10-sanitizers: built with ASan and UBSan in $(( $(date +%s) - start )) s"

start=$(date +%s)
if ! make -j"$jobs" check > check.log 2>&1; then
        grep -E '^(FAIL|ERROR|XPASS):' check.log || true
        for log in $(grep -lE '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs') 2> /dev/null | sed 's/\.trs$/.log/'); do
                echo "=== $log"
                tail -n 80 "$log"
        done
        exit 1
fi
grep -E '^# (TOTAL|PASS|FAIL|ERROR):' check.log
echo "10-sanitizers: make check under ASan and UBSan passed in $(( $(date +%s) - start )) s"

# The soak, on its own, for longer: it prints its figures.
start=$(date +%s)
MPXD=$PWD/mpxd MPX_SOAK_SECONDS=$seconds ./tests/integration/test-soak > soak.log 2>&1 || {
        tail -n 80 soak.log
        exit 1
}
grep '^soak:' soak.log
grep -E '^\[  PASSED  \]' soak.log
echo "10-sanitizers: soak of ${seconds} s under ASan and UBSan passed in $(( $(date +%s) - start )) s"
