#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the Python examples of examples/python/ against a private mpxd and
# checks what they print. Each example starts its roles as unrelated
# processes that find the objects by name.
set -eu

if [ "${1:-}" != "--inside" ]; then
        # mpxd starts the Python workers of mpx.Pool with its own environment:
        # in a sanitizer build they, like the interpreter, need the runtimes first.
        . "$(dirname "$0")/sanitizer-runtimes.sh"
        preload_sanitizers
        exec "$WITH_MPXD" -- "$0" --inside
fi

. "$(dirname "$0")/python-env.sh"
. "$(dirname "$0")/examples-lib.sh"

ex="$MPX_PYTHON_EXAMPLES"
out="$MPX_TEST_DIR/pyout"
run() { "$PYTHON" "$ex/$1" > "$out" 2>&1 || fail "$1 exited $?"; }

# Queue(2): ten requests handled in order, the consumer ends when the queue is shut down.
run queue_producer_consumer.py
[ "$(grep -c "^('request', " "$out")" = 10 ] || fail "expected 10 handled requests"
[ "$(grep "^('request', " "$out" | head -1)" = "('request', 0)" ] || fail "not in order"
grep -q '^handled 10 requests$' "$out" || fail "consumer did not report 10 requests"

# JoinableQueue: every food bought exactly once, then join returns.
run queue_joinable.py
check_foods

# Value: locked deposits and withdrawals lose no update, nor do atomic adds.
run value_money.py
grep -q '^balance: 2000$' "$out" || fail "the balance moved"
grep -q '^rounds: 1000$' "$out" || fail "rounds were lost"

# Array: one process writes, another reads after the event.
run array_shared.py
grep -q '^numbers: \[2, 4, 6, 8, 10\]$' "$out" || fail "numbers not doubled"
grep -q '^text: World$' "$out" || fail "text not written"

# Semaphore(3) over ten tasks: all run, three at most (and three reached), every unit back.
run semaphore_tasks.py
check_tasks
grep -q '^max concurrent: 3$' "$out" || fail "the limit of 3 was not the maximum"
grep -q '^units back: 3$' "$out" || fail "semaphore not back at 3"

# Pipe: the login handshake, accepted and refused.
run pipe_login.py
grep -q '^ann: welcome, ann (ok)$' "$out" || fail "ann was not welcomed"
grep -q '^bob: wrong user or password (refused)$' "$out" || fail "bob was not refused"

# dict and list filled by five workers.
run manager_dict_list.py
grep -q '^squares: {0: 0, 1: 1, 2: 4, 3: 9, 4: 16}$' "$out" || fail "squares"
grep -q '^done: \[0, 1, 2, 3, 4\]$' "$out" || fail "done list"

# Pool: a folder of 40 files copied by mpxd's workers, progress to 100%, every copy identical.
run pool-copy.py
[ "$(grep -c '^ *[0-9]*% file[0-9]*\.bin' "$out")" = 40 ] || fail "expected 40 progress lines"
grep -q '^100% ' "$out" || fail "progress did not reach 100%"
grep -q '^copied 40 files, 40 identical, 0 different, 0 missing$' "$out" || fail "copies differ"
grep -q '^link copied: False$' "$out" || fail "the symbolic link was copied"

# Running an example again starts from nothing (it deletes its leftovers).
run value_money.py
grep -q '^balance: 2000$' "$out" || fail "second run"
echo "all Python examples passed"
