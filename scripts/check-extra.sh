#!/bin/sh
# Runs every check under scripts/check.d/ in name order, each from the top of
# the source tree, after the suite has passed from the release tarball and
# under valgrind: builds with other compilers or sanitizers, fuzzing, the
# soak and the crash tests that take longer than `make check` should.
# Each step is a shell script that exits non-zero on failure; this stops at
# the first failure.
set -eu
cd "$(dirname "$0")/.."
for step in scripts/check.d/*.sh; do
        [ -e "$step" ] || continue
        echo "=== $step"
        start=$(date +%s)
        sh "$step"
        echo "=== $step passed in $(( $(date +%s) - start )) s"
done
