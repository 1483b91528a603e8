#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the example programs of examples/ against a private mpxd and checks
# what they print: every request handled, every food bought exactly once.
set -eu

if [ "${1:-}" != "--inside" ]; then
        exec "$WITH_MPXD" -- "$0" --inside
fi

. "$(dirname "$0")/examples-lib.sh"
out="$MPX_TEST_DIR/out"

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
check_foods
# Semaphore(3) over ten tasks: all ten run, never more than three at once, as
# counted by the tasks themselves and as their start/done lines show.
"$MPX_EXAMPLES/semaphore-tasks" > "$out" || fail "semaphore-tasks exited $?"
check_tasks
max=$(sed -n 's/^max concurrent: \([0-9]*\)$/\1/p' "$out")
[ -n "$max" ] && [ "$max" -ge 1 ] && [ "$max" -le 3 ] || fail "max concurrent '$max', expected 1 to 3"
for pid in $(sed -n 's/^\([0-9]*\) start$/\1/p' "$out"); do
        [ "$(grep -c "^$pid done\$" "$out")" = 1 ] || fail "task $pid started but did not finish once"
done
# Every unit came back, and a task started on its own shares the same slots.
[ "$("$MPXCTL" sem value examples.tasks)" = 3 ] || fail "semaphore not back at 3"
"$MPX_EXAMPLES/semaphore-tasks" task > "$out" || fail "semaphore-tasks task exited $?"
grep -q '^[0-9]* done$' "$out" || fail "the lone task did not finish"
# From the shell: mpxctl sem run holds one unit while its command runs.
[ "$("$MPXCTL" sem run examples.tasks -- "$MPXCTL" sem value examples.tasks)" = 2 ] ||
        fail "sem run did not hold a unit"
[ "$("$MPXCTL" sem value examples.tasks)" = 3 ] || fail "sem run did not give its unit back"

# Value('i', 5000): thirty earnings and thirty spendings from two processes, with atomic adds:
# the final balance is exactly 5000 plus what was earned minus what was spent.
"$MPX_EXAMPLES/value-money" > "$out" || fail "value-money exited $?"
[ "$(grep -c '^man: +[0-9]* -> -\{0,1\}[0-9]*$' "$out")" = 30 ] || fail "expected 30 earnings"
[ "$(grep -c '^girl: -[0-9]* -> -\{0,1\}[0-9]*$' "$out")" = 30 ] || fail "expected 30 spendings"
sum=$(sed -n 's/^\(man\|girl\): \([-+][0-9]*\) -> .*/\2/p' "$out" | tr -d '+' | awk '{ s += $1 } END { print s + 0 }')
grep -q "^final balance: $((5000 + sum))\$" "$out" || fail "final balance is not 5000 + $sum"

# Array('i', [1, 2, 3, 4, 5]), Array('i', 4), Array('c', b'Hello'): one process writes shm[1]
# through its mapping, another sees it in its own, and so does the daemon.
"$MPX_EXAMPLES/array-shared" > "$out" || fail "array-shared exited $?"
[ "$(sed -n 's/^reader: shm\[[0-4]\] = //p' "$out" | tr '\n' ' ')" = "1 1000 3 4 5 " ] || fail "reader saw other elements"
grep -q "^reader: zeros = 0 0 0 0\$" "$out" || fail "Array('i', 4) is not zeros"
grep -q "^reader: greeting = b'Hello'\$" "$out" || fail "Array('c', b'Hello') differs"
grep -q '^parent: shm = \[1, 1000, 3, 4, 5\]$' "$out" || fail "the daemon does not see the mapped write"

# Manager().dict() and Manager().list(): the seeds' two programs, then four workers at once;
# the output does not depend on which process ran first, so it is compared whole.
"$MPX_EXAMPLES/manager-dict-list" > "$out" || fail "manager-dict-list exited $?"
cat > "$out.expected" <<'EOF'
{'x': 'x', 'y': 'y'}
over
['x', 'y', 'z']
over
{'hits': '400', 'worker0': 'done', 'worker1': 'done', 'worker2': 'done', 'worker3': 'done'}
['worker0', 'worker1', 'worker2', 'worker3']
results: 100 items, sum 328350
over
EOF
diff -u "$out.expected" "$out" > "$out.diff" || { cat "$out.diff" > "$out"; fail "manager-dict-list printed something else"; }
# What it left behind, as mpxctl sees it.
[ "$("$MPXCTL" dict get examples.counters hits)" = 400 ] || fail "mpxctl dict get does not see 400 hits"
[ "$("$MPXCTL" list len examples.results)" = 100 ] || fail "mpxctl list len does not see 100 results"

# Pipe(): app1 asks app2 for a login over a duplex pipe they meet at by name; the answer is a tuple.
"$MPX_EXAMPLES/pipe-login" > "$out" || fail "pipe-login exited $?"
grep -q "^app2: received 'app1 requests login'\$" "$out" || fail "app2 did not receive the request"
grep -q "^app1: login ok: ('Dave', '123')\$" "$out" || fail "app1 did not get the tuple"
# The same roles as two unrelated processes started separately.
"$MPX_EXAMPLES/pipe-login" app2 > "$out.app2" &
app2=$!
"$MPX_EXAMPLES/pipe-login" app1 > "$out.app1" || { cat "$out.app1" > "$out"; fail "app1 role failed"; }
wait "$app2" || { cat "$out.app2" > "$out"; fail "app2 role failed"; }
grep -q "^app1: login ok: ('Dave', '123')\$" "$out.app1" || { cat "$out.app1" > "$out"; fail "app1 role did not log in"; }
grep -q "^app2: received 'app1 requests login'\$" "$out.app2" || { cat "$out.app2" > "$out"; fail "app2 role saw no request"; }
# Two pairings were made at the name, and nobody is left waiting there.
"$MPXCTL" info examples.login > "$out" || fail "mpxctl info examples.login failed"
grep -q '^pairs: 2$' "$out" || fail "expected 2 pairings at examples.login"
grep -q '^size: 0$' "$out" || fail "a party is still waiting at examples.login"
# From the shell: mpxctl pipe open copies raw bytes, or runs a command on its end of the pipe.
printf 'hello from the shell' | "$MPXCTL" pipe open examples.shell --write --timeout 30 &
writer=$!
[ "$("$MPXCTL" pipe open examples.shell --read --timeout 30)" = "hello from the shell" ] ||
        fail "mpxctl pipe open --read got something else"
wait "$writer" || fail "mpxctl pipe open --write failed"
"$MPXCTL" pipe open examples.shell --write --timeout 30 -- printf 'abc' &
writer=$!
[ "$("$MPXCTL" pipe open examples.shell --read --timeout 30 -- wc -c | tr -d ' ')" = 3 ] ||
        fail "mpxctl pipe open --read -- wc -c did not count 3 bytes"
wait "$writer" || fail "mpxctl pipe open --write -- printf failed"
st=0
"$MPXCTL" pipe open examples.shell --read --timeout 0 2> "$out" || st=$?
[ "$st" = 1 ] || fail "mpxctl pipe open --timeout 0 with nobody waiting exited $st, expected 1"
# A robust lock: a worker killed in the middle of a transfer; the next owner of the lock is told
# (EOWNERDEAD), once, and repairs from the journal, so the balances still add up.
"$MPX_EXAMPLES/lock-robust" > "$out" || fail "lock-robust exited $?"
[ "$(grep -c 'repaired an interrupted transfer' "$out")" = 1 ] || fail "lock-robust: expected exactly one repair"
grep -qx 'alice: [0-9]* bob: [0-9]* total: 100' "$out" || fail "lock-robust: the balances do not add up to 100"

# Pool(4): pool-copy copies a tree of 300 small files, three of several MiB and an empty one with
# worker processes mpxd runs; every copy is identical, and no pool or queue is left behind.
src="$MPX_TEST_DIR/pool-src"
dst="$MPX_TEST_DIR/pool-dst"
mkdir -p "$src/a/b" "$src/c"
i=0
while [ "$i" -lt 300 ]; do
        case $((i % 3)) in 0) d="$src" ;; 1) d="$src/a" ;; *) d="$src/a/b" ;; esac
        head -c $((i * 331 % 20000)) /dev/urandom > "$d/f$i"
        i=$((i + 1))
done
for mib in 2 5 9; do head -c $((mib * 1048576)) /dev/urandom > "$src/c/big$mib"; done
: > "$src/c/empty"
"$MPX_EXAMPLES/pool-copy" -n 4 "$src" "$dst" > "$out" || fail "pool-copy exited $?"
grep -q '^100% (304/304 files)$' "$out" || fail "pool-copy did not report 100%"
grep -q '^copied 304 of 304 files' "$out" || fail "pool-copy did not say it copied 304 files"
n=0
for f in $(cd "$src" && find . -type f); do
        cmp -s "$src/$f" "$dst/$f" || fail "$f differs from its copy"
        n=$((n + 1))
done
[ "$n" = 304 ] || fail "expected 304 files in the tree, found $n"
[ -z "$("$MPXCTL" ls --type pool --names)" ] || fail "pool-copy left a pool behind"
! "$MPXCTL" ls --names | grep -q '^pool-copy\.\|^mpx\.job\.' || fail "pool-copy left a queue behind"
# The asynchronous interface: 16 gets and 16 puts in flight from one connection in a poll
# loop, items in order, and a parked get cancelled without taking anything.
"$MPX_EXAMPLES/async-poll" 5000 > "$out" || fail "async-poll exited $?"
grep -qx 'received 5000 items in order, 16 gets and 16 puts in flight' "$out" || fail "async-poll: items missing"
grep -qx 'the last get was told: request cancelled' "$out" || fail "async-poll: the cancel did not end the get"
[ "$("$MPXCTL" queue size examples.async)" = 0 ] || fail "async-poll left items behind"
# libevent with pipelined puts from another process: every number once, then the end of stream.
"$MPX_EXAMPLES/async-libevent" 5000 > "$out" 2>/dev/null || fail "async-libevent exited $?"
grep -qx 'sum 12502500 of 5000 items' "$out" || fail "async-libevent: wrong sum"
grep -qx 'drained' "$out" || fail "async-libevent: the gets did not end with the queue"
echo "examples: ok"
