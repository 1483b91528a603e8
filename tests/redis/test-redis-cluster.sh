#!/bin/sh
# SPDX-License-Identifier: MIT
# libmpx's Redis backend against a real Redis Cluster on loopback ports
# (tests/redis/with-redis --cluster): every family end to end on three masters
# with a replica each; then producers and consumers across the cluster while
# the master serving their first queue is SIGKILLed (cluster_failover.py),
# once as it is (asynchronous replication: acknowledged items may be lost,
# the figures say how many) and once with wait_replicas=2 on a cluster with
# two replicas per master (nothing acknowledged may be lost).
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
        # The environment of the other Python tests (with a sanitizer build's runtimes).
        MPX_INTEGRATION_DIR="$src/tests/integration"
        . "$MPX_INTEGRATION_DIR/python-env.sh"
        exec "${PYTHON:-python3}" "$here/cluster_failover.py" "${MPX_FAILOVER_ITEMS:-2000}" ;;
esac
"$here/with-redis" --cluster -- "$0" --families
if [ -n "${MPX_PYTHONPATH:-}" ]; then
        echo "== a master killed under producers and consumers"
        "$here/with-redis" --cluster -- "$0" --failover
        echo "== the same, with wait_replicas=2 and two replicas per master"
        MPX_REDIS_WAIT_REPLICAS=2 "$here/with-redis" --cluster --replicas 2 -- "$0" --failover
fi
