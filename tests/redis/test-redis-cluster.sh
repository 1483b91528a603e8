#!/bin/sh
# SPDX-License-Identifier: MIT
# libmpx's Redis backend against a real Redis Cluster of three masters and
# three replicas on loopback ports (tests/redis/with-redis --cluster): every
# family end to end. --failover (by hand, under with-redis --cluster) runs
# producers and consumers across the cluster while a master is SIGKILLed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${MPX_BUILDDIR:-$src}
case "${1:-}" in
--families)
        for t in queue-e2e dictlist-smoke sync-smoke; do
                echo "== $t through libmpx, on a cluster"
                "$build/tests/redis/$t" "$MPX_SOCKET"
        done
        exit 0 ;;
--failover)
        export PYTHONPATH="$MPX_PYTHONPATH" LD_LIBRARY_PATH="$MPX_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        exec "${PYTHON:-python3}" "$here/cluster_failover.py" "${MPX_FAILOVER_ITEMS:-2000}" ;;
esac
"$here/with-redis" --cluster -- "$0" --families
# The failover run (--failover) does not pass yet: after the kill, producers
# stall (see the note of issue 17); it is run by hand until it does.
