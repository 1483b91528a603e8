#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's quick start, run as written: the daemon is started with the
# command that ends the README's first block (./mpxd -s ./run/mpxd.sock), in
# a fresh folder where ./mpxd, ./mpxctl and ./examples are the built ones;
# then every other indented block of the section "Try it on a fresh Debian
# 12" runs with sh -e, its commands in order as a user would type them, and
# must succeed; what the first get takes and the counter must read as the README
# implies. The daemon is stopped by its pid with SIGTERM and must exit 0.
set -eu

: "${MPX_README:?}" "${MPXD:?}" "${MPXCTL:?}" "${MPX_EXAMPLES:?}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/mpx-readme-XXXXXX")
daemon=""
cleanup() {
        if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || true; fi
        rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/out" ] && sed 's/^/  | /' "$dir/out"; exit 1; }

# The section's indented blocks, one file each: block.1, block.2 ...
awk -v dir="$dir" '
        /^## / { inside = ($0 == "## Try it on a fresh Debian 12"); next }
        !inside { next }
        /^    / { if (!open) { n++; open = 1 } print substr($0, 5) > (dir "/block." n); next }
        /^$/ { next }
        { open = 0 }
' "$MPX_README"
[ -f "$dir/block.1" ] && [ -f "$dir/block.2" ] || fail "no quick start blocks found in $MPX_README"

# The daemon as the first block starts it: what follows its last "&&".
start=$(sed -n 's/.*&& *\(\.\/mpxd .*\)$/\1/p' "$dir/block.1")
case "$start" in
./mpxd\ *) ;;
*) fail "the first block does not end by starting ./mpxd: $(cat "$dir/block.1")" ;;
esac

mkdir "$dir/work"
cd "$dir/work"
ln -s "$MPXD" mpxd
ln -s "$MPXCTL" mpxctl
ln -s "$MPX_EXAMPLES" examples
# shellcheck disable=SC2086
$start > "$dir/daemon.log" 2>&1 &
daemon=$!
socket=$(echo "$start" | sed -n 's/.*-s *\([^ ]*\).*/\1/p')
tries=0
until ./mpxctl -s "$socket" stats > /dev/null 2>&1; do
        kill -0 "$daemon" 2>/dev/null || { cat "$dir/daemon.log"; fail "mpxd exited at start"; }
        tries=$((tries + 1))
        [ "$tries" -lt 400 ] || fail "mpxd did not answer on $socket within 20 s"
        sleep 0.05
done

n=2
while [ -f "$dir/block.$n" ]; do
        sh -eu "$dir/block.$n" > "$dir/out" 2>&1 || fail "README block $n failed: $(cat "$dir/block.$n")"
        echo "README block $n: $(wc -l < "$dir/block.$n") commands ran"
        n=$((n + 1))
done

# What the quick start implies: the first item comes out first, the counter counts once.
export MPX_SOCKET="$PWD/run/mpxd.sock"
grep -q 'resize photo 17' "$dir/out" || fail "queue get did not print the first item put"
[ "$(./mpxctl dict get hits /index.html)" = 1 ] || fail "the counter is not 1"
[ "$(./mpxctl queue size jobs)" = 1 ] || fail "the item from stdin is not left in the queue"
cmp -s /usr/share/common-licenses/GPL-3 licenses/GPL-3 || fail "pool-copy did not copy the folder"

kill "$daemon"
status=0
wait "$daemon" || status=$?
daemon=""
[ "$status" = 0 ] || { cat "$dir/daemon.log"; fail "mpxd exited $status on SIGTERM"; }
echo "README quick start: ok"
