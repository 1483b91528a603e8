#!/bin/sh
# Fuzzing: builds the libFuzzer harnesses of tests/fuzz with clang
# (--enable-fuzz: ASan, UBSan, LeakSanitizer) in a temporary copy of the
# tree, runs each for FUZZ_SECONDS (60 by default) from a copy of its seed
# corpus, and fails on any crash, leak, sanitizer report or input that
# takes longer than FUZZ_INPUT_TIMEOUT seconds. Prints the executions and
# the coverage (cov: edges, ft: features) each reached.
# Budget: about 3 minutes on 2 cores (a minute to build, the four
# harnesses side by side for a minute). The source tree is left as it was.
# A failure prints the input that failed, as a hex dump: put it under
# tests/fuzz/regressions/ (NAME-what-it-found) with the fix.
set -eu
top=$(pwd)
seconds=${FUZZ_SECONDS:-60}
input_timeout=${FUZZ_INPUT_TIMEOUT:-10}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpx-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! command -v clang >/dev/null 2>&1; then
        echo "clang is missing: scripts/install-deps.sh installs it" >&2
        exit 1
fi

# A pristine copy: the tree may be configured in place, which rules out a
# build directory of its own.
mkdir "$tmp/src" "$tmp/build"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard |
                tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$tmp/src" -xf -
else
        cp -a . "$tmp/src"
        if [ -f "$tmp/src/Makefile" ]; then
                make -s -C "$tmp/src" distclean >/dev/null
        fi
fi
cd "$tmp/src"
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
cd "$tmp/build"
"$tmp/src/configure" -q CC=clang --enable-fuzz --disable-tests >/dev/null
make -s -j2 tests/fuzz/fuzz-wire tests/fuzz/fuzz-daemon tests/fuzz/fuzz-journal tests/fuzz/fuzz-config >/dev/null

# Run one harness on a copy of its corpus; the log is $tmp/NAME.log.
run() {
        name=$1
        dict=
        [ -e "$top/tests/fuzz/$name.dict" ] && dict="-dict=$top/tests/fuzz/$name.dict"
        mkdir "$tmp/corpus-$name" "$tmp/artifacts-$name"
        cp "$top/tests/fuzz/corpus/$name"/* "$tmp/corpus-$name"/
        # shellcheck disable=SC2086
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
                ./tests/fuzz/fuzz-"$name" -max_total_time="$seconds" -timeout="$input_timeout" \
                -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$tmp/artifacts-$name/" $dict \
                "$tmp/corpus-$name" > "$tmp/$name.log" 2>&1
}

status=0
run wire & wire_pid=$!
run daemon & daemon_pid=$!
run journal & journal_pid=$!
run config & config_pid=$!
wait "$wire_pid" || status=1
wait "$daemon_pid" || status=1
wait "$journal_pid" || status=1
wait "$config_pid" || status=1

for name in wire daemon journal config; do
        log="$tmp/$name.log"
        echo "fuzz-$name: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 |
                sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+/\1 executions, /')"
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" |
                sed "s/^/fuzz-$name: /"
        echo "fuzz-$name: corpus of $(ls "$tmp/corpus-$name" | wc -l) inputs"
        for artifact in "$tmp/artifacts-$name"/*; do
                [ -e "$artifact" ] || continue
                status=1
                echo "fuzz-$name: $(basename "$artifact") of $(wc -c < "$artifact") bytes:"
                od -A x -t x1z -v "$artifact" | head -n 200
        done
done
if [ "$status" != 0 ]; then
        for name in wire daemon journal config; do
                echo "=== fuzz-$name log (end)"
                grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$tmp/$name.log" | tail -n 60
        done
        exit 1
fi
