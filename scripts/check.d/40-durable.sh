#!/bin/sh
# Durable objects under many crashes: the kill loop of test-durable (producers
# and consumers record every acknowledgement in shared memory; mpxd is killed
# with SIGKILL at a random moment under sync "always" and started again; every
# acknowledged item must be back exactly once and in order, or at least once
# for joinable queues) for MPX_DURABLE_RUNS rounds (1000 by default) within
# MPX_DURABLE_SECONDS (100 by default), whichever ends first, then the
# compaction test, then the full-disk test of test-diskfull, ten times. The
# figures (rounds, items acknowledged, refused, lost) are printed.
#
# Budget: about 2 minutes on 2 cores, the build of mpxd and the test included
# when the tree is built already (CI builds it for make check-valgrind).
set -eu
cd "$(dirname "$0")/../.."
runs=${MPX_DURABLE_RUNS:-1000}
seconds=${MPX_DURABLE_SECONDS:-100}
jobs=${MPX_CHECK_JOBS:-2}

if [ ! -e Makefile ]; then
        ./autogen.sh > /dev/null
        ./configure > /dev/null
fi
make -j"$jobs" mpxd tests/integration/test-durable > /dev/null
MPXD=$PWD/mpxd MPX_DURABLE_RUNS=$runs MPX_DURABLE_SECONDS=$seconds \
        MPX_DURABLE_FILTER='test_kill_loop' ./tests/integration/test-durable
MPXD=$PWD/mpxd MPX_DURABLE_FILTER='test_compaction_under_load' ./tests/integration/test-durable
# A full disk under the journal: MPX_DISKFULL_RUNS (10) daemons, each on a
# small tmpfs filled and emptied again 5 times under load, then SIGKILLed
# and checked (root: the test mounts the tmpfs; it says so and skips without).
make -j"$jobs" tests/integration/test-diskfull > /dev/null
run=0
while [ "$run" -lt "${MPX_DISKFULL_RUNS:-10}" ]; do
        MPXD=$PWD/mpxd MPX_DISKFULL_ROUNDS=5 ./tests/integration/test-diskfull
        run=$((run + 1))
done
