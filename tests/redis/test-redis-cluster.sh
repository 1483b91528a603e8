#!/bin/sh
# SPDX-License-Identifier: MIT
# libmpx's Redis backend against a real Redis Cluster of three masters and
# three replicas on loopback ports (tests/redis/with-redis --cluster): every
# family end to end, then producers and consumers across the cluster while a
# master is SIGKILLed, once as is and once with wait_replicas=1 (nothing
# acknowledged may be lost then). Each run starts a cluster of its own.
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
if [ -n "${MPX_PYTHONPATH:-}" ]; then
        "$here/with-redis" --cluster -- "$0" --failover
        MPX_REDIS_WAIT_REPLICAS=1 "$here/with-redis" --cluster -- "$0" --failover
fi
