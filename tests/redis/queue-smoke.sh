#!/bin/sh
# Smoke test of the queue functions of the mpx Redis library, called by hand
# with redis-cli FCALL (no libmpx): order, bounds, close, joinable
# deliveries, task_done by tag and untagged, leases, redelivery of a gone
# client's deliveries, connection queues, DONE_GET's retry.
#   tests/redis/queue-smoke.sh SOCKET   (a redis-server's unix socket; test-redis.sh passes one)
# Needs redis-server and redis-cli 7. Exits 0 when every check passed.
# libmpx end to end is tests/redis/queue-e2e.c, which test-redis.sh runs next.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
sock=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
R() { redis-cli -s "$sock" "$@" 2>&1 | sed 's/ script: .*//' | tr '\n' ' ' | sed 's/ *$//'; }
cat "$top"/client/redis/common.lua "$top"/client/redis/object.lua "$top"/client/redis/queue.lua > "$dir/lib.lua"
R FUNCTION LOAD REPLACE "$(cat "$dir/lib.lua")" >/dev/null
fails=0
check() {
        # check WHAT EXPECTED COMMAND...
        what=$1 want=$2
        shift 2
        got=$(R "$@")
        if [ "$got" = "$want" ]; then
                echo "ok   $what"
        else
                echo "FAIL $what: want '$want', got '$got'"
                fails=$((fails + 1))
        fi
}
F() { echo FCALL "mpx_queue_$1" 1 "mpx:{$2}"; }

# A plain queue bounded at 2.
check 'declare' 1 $(F declare q) 2 0 -1 cidA 5000
check 'declare again' 0 $(F declare q) 2 0 -1 cidA 5000
check 'other maxsize' EEXIST $(F declare q) 3 0 -1 cidA 5000
check 'as joinable' EPROTOTYPE $(F declare q) 2 1 -1 cidA 5000
check 'ttr on a plain queue' EINVAL $(F declare q2) 0 0 100 cidA 5000
check 'put 2' 0 $(F put q) cidP -1 a b
check 'put when full' EAGAIN $(F put q) cidP -1 c
check 'put more than maxsize' EINVAL $(F put q) cidP -1 c d e
check 'qsize' '2 2 0 0' $(F qsize q)
check 'peek' '0 0 a 0 0 b' $(F peek q) 10
check 'get' '0 1 a' $(F get q) cidA -1 0 1 0 5000
check 'get_many' '0 1 b' $(F get q) cidA -1 0 5 0 5000
check 'get empty' EAGAIN $(F get q) cidA -1 0 1 0 5000
check 'get_many max 0' EINVAL $(F get q) cidA -1 0 0 0 5000
check 'get flags' EINVAL $(F get q) cidA -1 2 1 0 5000
check 'get ttr on plain' EINVAL $(F get q) cidA -1 0 1 5 5000
check 'task_done on plain' EPROTOTYPE $(F task_done q) 0 cidA
check 'put 2 more' 0 $(F put q) cidP -1 c d
check 'purge' 2 $(F purge q)
check 'put' 0 $(F put q) cidP -1 e
check 'close' 0 $(F close q)
check 'put closed' EPIPE $(F put q) cidP -1 f
check 'get closed, not drained' '0 1 e' $(F get q) cidA -1 0 1 0 5000
check 'get closed, drained' EPIPE $(F get q) cidA -1 0 1 0 5000
check 'qsize closed' '0 2 0 1' $(F qsize q)
check 'no queue' ENOENT $(F get nothere) cidA -1 0 1 0 5000

# A joinable queue.
check 'declare joinable' 1 $(F declare j) 0 1 -1 cidA 5000
check 'put 4' 0 $(F put j) cidP -1 x y z w
check 'get attached' '1 1 x' $(F get j) cidA -1 0 1 0 5000
check 'get detached' '2 1 y' $(F get j) cidB -1 1 1 0 5000
check 'get_many attached' '3 1 z 4 1 w' $(F get j) cidA -1 0 5 0 5000
check 'qsize joinable' '0 0 4 0' $(F qsize j)
check 'join waits' EAGAIN $(F join j) cidJ -1
check 'untagged done (B: the detached one)' 0 $(F task_done j) 0 cidB
check 'untagged done, nothing left for B' EINVAL $(F task_done j) 0 cidB
check 'done of a done tag' ENOENT $(F task_done j) 2 cidB
check 'untagged done (A: its oldest)' 0 $(F task_done j) 0 cidA
check 'tag 1 is done' ENOENT $(F task_done j) 1 cidB
R ZADD 'mpx:{j}:holders' 1 cidA >/dev/null     # A's lease ran out
check 'A gone: its deliveries back, in order' '2 0 2 0' $(F qsize j)
check 'peek shows deliveries' '0 1 z 0 1 w' $(F peek j) 10
check 'redelivered' '5 2 z 6 2 w' $(F get j) cidB -1 0 5 0 5000
check 'done by tag from anyone' 0 $(F task_done j) 5 cidC
check 'done_get finishes, then waits' 0 $(F done_get j) cidB -1 1 6 0 0 5000
check 'done_get retry does not finish' EAGAIN $(F done_get j) cidB -1 0 6 0 0 5000
check 'join' 0 $(F join j) cidJ -1
check 'done_get of an unknown tag' ENOENT $(F done_get j) cidB -1 1 99 0 0 5000
check 'done_get flags' EINVAL $(F done_get j) cidB -1 1 0 4 0 5000
check 'put' 0 $(F put j) cidP -1 v
check 'done_get untagged with nothing' EINVAL $(F done_get j) cidB -1 1 0 0 0 5000
check 'get' '7 1 v' $(F get j) cidB -1 0 1 0 5000
check 'put' 0 $(F put j) cidP -1 u
check 'done_get hands the next' '8 1 u' $(F done_get j) cidB -1 1 7 0 0 5000
check 'close joinable' 0 $(F close j)
check 'done after close' 0 $(F task_done j) 8 cidB
check 'get closed joinable' EPIPE $(F get j) cidB -1 0 1 0 5000

# Leases.
check 'declare ttr' 1 $(F declare t) 0 1 300 cidA 5000
check 'declare without ttr matches' 0 $(F declare t) 0 1 -1 cidA 5000
check 'declare other ttr' EEXIST $(F declare t) 0 1 301 cidA 5000
check 'put' 0 $(F put t) cidP -1 p1 p2
check 'get (queue ttr)' '1 1 p1' $(F get t) cidA -1 1 1 0 5000
check 'get (own ttr)' '2 1 p2' $(F get t) cidA -1 1 1 1000 5000
# Not synchronisation: the time is what is tested (the queue's TTR of 300 ms runs out, p2's 1000 ms does not).
sleep 0.4
check 'touch lives' 0 $(F touch t) 2
check 'touch expired' ENOENT $(F touch t) 1
check 'expired item back' '0 1 p1' $(F peek t) 10
check 'done of expired tag' ENOENT $(F task_done t) 1 cidA
check 'expired counted' 1 HGET 'mpx:{t}' expired

# A connection's queue.
check 'declare connection queue' 1 $(F declare c) 0 2 -1 cidC 5000
check 'holder' cidC ZRANGE 'mpx:{c}:holders' 0 -1
check 'put' 0 $(F put c) cidP -1 hi
R ZADD 'mpx:{c}:holders' 1 cidC >/dev/null      # its creator's lease ran out
check 'deleted with its creator' ENOENT $(F put c) cidP -1 hi
check 'no keys left' '' KEYS 'mpx:{c}*'

R FUNCTION FLUSH >/dev/null
[ $fails -eq 0 ] && echo "all passed" || echo "$fails failed"
[ $fails -eq 0 ]
