#!/bin/sh
# Semaphores, events, barriers, values and arrays through libmpx's Redis
# backend, against a scratch redis-server on a temporary unix socket.
#   tests/redis/sync-smoke.sh [BUILD_DIR]     (default: the source tree)
set -e
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src}
dir=$(mktemp -d)
trap 'if [ -f "$dir/r.pid" ]; then kill "$(cat "$dir/r.pid")"; fi; rm -rf "$dir"' EXIT
cc -std=gnu11 -Wall -Wextra -Werror -I"$src/include" "$src/tests/redis/sync-smoke.c" -o "$dir/smoke" \
        -L"$build/client/.libs" -lmpx -lpthread
redis-server --port 0 --unixsocket "$dir/r.sock" --daemonize yes --save "" --pidfile "$dir/r.pid" \
        --dir "$dir" >/dev/null
for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -S "$dir/r.sock" ] && break
        sleep 0.2
done
# A short lease: a client that dies gives its holdings back within 2 s.
MPX_REDIS="redis+unix://$dir/r.sock?lease_ms=2000" LD_LIBRARY_PATH="$build/client/.libs" "$dir/smoke"
