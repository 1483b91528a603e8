#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the example programs of examples/ against a private mpxd and checks
# what they print: every request handled, every food bought exactly once.
set -eu

if [ "${1:-}" != "--inside" ]; then
        exec "$WITH_MPXD" -- "$0" --inside
fi

out="$MPX_TEST_DIR/out"
fail() { echo "FAIL: $*"; sed 's/^/  | /' "$out"; exit 1; }

# Queue(2): ten requests, handled in order, then the consumer ends on close.
"$MPX_EXAMPLES/queue-producer-consumer" > "$out" || fail "queue-producer-consumer exited $?"
[ "$(grep -c '^(' "$out")" = 10 ] || fail "expected 10 handled requests"
grep -q '^handled 10 requests$' "$out" || fail "consumer did not report 10 requests"

# The same roles as two unrelated processes started separately, on a fresh queue.
"$MPXCTL" rm examples.requests || fail "mpxctl rm failed"
"$MPX_EXAMPLES/queue-producer-consumer" handle > "$out.handle" &
handler=$!
"$MPX_EXAMPLES/queue-producer-consumer" request > "$out.request" || fail "request role failed"
wait "$handler" || { cat "$out.handle" > "$out"; fail "handle role failed"; }
grep -q '^handled 10 requests$' "$out.handle" || { cat "$out.handle" > "$out"; fail "handle role saw too few"; }

# JoinableQueue: three producers of ten, two consumers, join returns.
"$MPX_EXAMPLES/queue-joinable" > "$out" || fail "queue-joinable exited $?"
for food in spaghetti beef cola; do
        for i in 0 1 2 3 4 5 6 7 8 9; do
                n=$(grep -c " bought $food$i\$" "$out") || true
                [ "$n" = 1 ] || fail "$food$i bought $n times"
        done
done
grep -q '^all 30 foods consumed$' "$out" || fail "join did not return"
echo "examples: ok"
