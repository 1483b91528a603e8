#!/bin/sh
# SPDX-License-Identifier: MIT
# libmpx's Redis backend against a real redis-server that tests/redis/with-redis
# starts on a temporary unix socket (and stops by pid): the Lua library's
# functions called by hand, then libmpx end to end for every family and in
# an event loop of its own (async-loop), then mpxctl's own tests and the
# Python package's own tests with MPX_SOCKET pointing at Redis (the
# differences docs/REDIS.md lists are checked as they are, or skipped, each
# saying why).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != "--inside" ]; then
        exec "$here/with-redis" -- "$0" --inside
fi
sock=${MPX_REDIS_NODES#*:}
src=$(cd "$here/../.." && pwd)
build=${MPX_BUILDDIR:-$src}

echo "== the queue functions by hand"
sh "$here/queue-smoke.sh" "$sock"

echo "== the dict and list functions against Python's dict and list"
cat "$src"/client/redis/common.lua "$src"/client/redis/object.lua "$src"/client/redis/queue.lua \
        "$src"/client/redis/dict.lua "$src"/client/redis/list.lua "$src"/client/redis/sync.lua \
        "$src"/client/redis/array.lua | redis-cli -s "$sock" -x FUNCTION LOAD REPLACE >/dev/null
"${PYTHON:-python3}" "$here/dictlist-model.py" "$sock"
# What the checks by hand made goes, with their unstamped copy of the library.
redis-cli -s "$sock" FLUSHALL >/dev/null
redis-cli -s "$sock" FUNCTION FLUSH >/dev/null

for t in queue-e2e dictlist-smoke sync-smoke async-loop; do
        echo "== $t through libmpx"
        "$build/tests/redis/$t" "$MPX_SOCKET"
done

if [ -n "${MPXCTL:-}" ]; then
        echo "== mpxctl's own tests"
        # They count what ls lists: the objects of the tests above go.
        redis-cli -s "$sock" FLUSHALL >/dev/null
        ctl_dir=$(mktemp -d "${TMPDIR:-/tmp}/mpx-ctl.XXXXXX")
        status=0
        MPX_TEST_DIR=$ctl_dir "$src/tests/integration/test-mpxctl.sh" --inside || status=$?
        rm -rf "$ctl_dir"
        [ $status = 0 ] || exit $status
fi

if [ -n "${MPX_PYTHONPATH:-}" ]; then
        echo "== the Python package's tests"
        # The environment of the other Python tests (with a sanitizer build's runtimes).
        MPX_INTEGRATION_DIR="$src/tests/integration"
        . "$MPX_INTEGRATION_DIR/python-env.sh"
        cd "$MPX_PYTHON_TESTS"
        "${PYTHON:-python3}" -m unittest test_queues test_containers test_synchronize test_sharedctypes \
                test_managers test_handle test_mpx_lowlevel test_codec test_package test_aio
fi
