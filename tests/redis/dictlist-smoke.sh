#!/bin/sh
# Dicts and lists over Redis: the Lua against Python's dict and list
# (dictlist-model.py), then libmpx end to end (dictlist-smoke.c), on a
# redis-server of our own on a temporary unix socket.
#   tests/redis/dictlist-smoke.sh [BUILDDIR]    (BUILDDIR holds client/.libs/libmpx.so; default .)
set -e
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-.}" && pwd)
dir=$(mktemp -d)
trap 'test -f "$dir/r.pid" && kill "$(cat "$dir/r.pid")"; rm -rf "$dir"' EXIT
redis-server --port 0 --unixsocket "$dir/r.sock" --daemonize yes --save "" \
        --pidfile "$dir/r.pid" --dir "$dir" >/dev/null
i=0
while [ ! -S "$dir/r.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

# The library's files in libmpx's order (libmpx loads its own, stamped, copy later).
cd "$src"
cat client/redis/common.lua client/redis/object.lua client/redis/queue.lua client/redis/dict.lua \
        client/redis/list.lua client/redis/sync.lua client/redis/array.lua > "$dir/lib.lua"
redis-cli -s "$dir/r.sock" -x FUNCTION LOAD REPLACE < "$dir/lib.lua" >/dev/null
python3 tests/redis/dictlist-model.py "$dir/r.sock"
redis-cli -s "$dir/r.sock" FUNCTION FLUSH >/dev/null

${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -I"$src/include" -o "$dir/smoke" tests/redis/dictlist-smoke.c \
        -L"$build/client/.libs" -lmpx -Wl,-rpath,"$build/client/.libs"
"$dir/smoke" "redis+unix://$dir/r.sock"
