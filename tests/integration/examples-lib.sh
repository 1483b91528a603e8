# SPDX-License-Identifier: MIT
# Sourced by the tests of the seeds' example programs, in C (test-examples.sh)
# and in Python (test-python-examples.sh): the two print the same lines for
# the same programs, and are checked by the same functions. The output of
# the program is in the file $out, which a failure shows.

fail() { echo "FAIL: $*"; sed 's/^/  | /' "$out"; exit 1; }

# JoinableQueue: three producers of ten foods, every food bought exactly once, then join returns.
check_foods() {
        for food in spaghetti beef cola; do
                for i in 0 1 2 3 4 5 6 7 8 9; do
                        n=$(grep -c " bought $food$i\$" "$out") || true
                        [ "$n" = 1 ] || fail "$food$i bought $n times"
                done
        done
        grep -q '^all 30 foods consumed$' "$out" || fail "join did not return"
}

# Semaphore(3) over ten tasks: all ten start and end, never more than three between start and done.
check_tasks() {
        [ "$(grep -c '^[0-9]* start$' "$out")" = 10 ] || fail "expected 10 tasks started"
        [ "$(grep -c '^[0-9]* done$' "$out")" = 10 ] || fail "expected 10 tasks done"
        seen=$(awk '/ start$/ { n++; if (n > m) m = n } / done$/ { n-- } END { print m + 0 }' "$out")
        [ "$seen" -le 3 ] || fail "$seen tasks between start and done at once"
}
