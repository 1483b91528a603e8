#!/bin/sh
# SPDX-License-Identifier: MIT
# mpxctl against a private mpxd: every queue verb, its output, its exit status
# (0 done, 1 failed, 2 usage, 3 no daemon), its one-line errors, and --json
# parsed and compared field by field. tests/redis/test-redis.sh runs it
# --inside against Redis too (MPX_SOCKET=redis...): the differences
# docs/REDIS.md lists are checked as they are there.
set -eu

if [ "${1:-}" != "--inside" ]; then
        exec "$WITH_MPXD" -- "$0" --inside
fi

. "$(dirname "$0")/mpxctl-lib.sh"
case "${MPX_SOCKET:-}" in
redis*) redis=1 ;;
*) redis=0 ;;
esac

# ---- usage and reachability ----
expect 2 "$ctl"
expect 2 "$ctl" bogus
grep -q "unknown command 'bogus'" "$tmp/err" || fail "no message for an unknown command"
expect 2 "$ctl" queue put
expect 2 "$ctl" queue get jobs --timeout soon
expect 2 "$ctl" queue declare 'bad name'
expect 0 "$ctl" --help
grep -q 'queue declare' "$tmp/out" || fail "--help does not list queue declare"
expect 3 "$ctl" -s "$tmp/nothing.sock" ls
[ "$(wc -l < "$tmp/err")" = 1 ] || fail "more than one error line when no daemon answers"

# ---- declare, put, get on a plain queue ----
expect 0 "$ctl" queue declare jobs --maxsize 2
expect 0 "$ctl" queue declare jobs --maxsize 2
expect 1 "$ctl" queue declare jobs --maxsize 3
grep -q "jobs" "$tmp/err" || fail "declare conflict does not name the object"
expect 1 "$ctl" queue declare jobs --maxsize 2 --joinable
expect 0 "$ctl" queue put jobs first
printf 'second\nline\n' | "$ctl" queue put jobs || fail "put from stdin"
expect 1 "$ctl" queue put jobs third --timeout 0
grep -q "full" "$tmp/err" || fail "a put on a full queue does not say so: $(cat "$tmp/err")"
expect 1 "$ctl" queue put jobs third --timeout 0.05
expect 0 "$ctl" queue size jobs
[ "$(cat "$tmp/out")" = 2 ] || fail "size is $(cat "$tmp/out"), expected 2"
expect 0 "$ctl" queue get jobs
[ "$(cat "$tmp/out")" = first ] || fail "first get gave '$(cat "$tmp/out")'"
expect 0 "$ctl" queue get jobs
printf 'second\nline\n' | cmp -s - "$tmp/out" || fail "stdin payload not returned byte for byte"
expect 1 "$ctl" queue get jobs --timeout 0
grep -q "queue 'jobs'" "$tmp/err" || fail "empty get does not name the queue"
expect 1 "$ctl" queue get jobs --timeout 0.05

# Binary payloads pass through unchanged.
head -c 4096 /dev/urandom > "$tmp/blob"
"$ctl" queue put jobs < "$tmp/blob" || fail "binary put"
expect 0 "$ctl" queue get jobs
cmp -s "$tmp/blob" "$tmp/out" || fail "binary payload changed"

# ---- listing and inspection ----
expect 0 "$ctl" queue put jobs x
expect 0 "$ctl" ls
head -n 1 "$tmp/out" | grep -q '^NAME  *TYPE  *SIZE' || fail "ls has no header"
grep -q '^jobs  *queue  *1  *2 ' "$tmp/out" || fail "ls row: $(cat "$tmp/out")"
expect 0 "$ctl" --json ls
[ "$(json "$tmp/out" "len(d)")" = 1 ] || fail "ls --json length"
# One byte of payload and the 8 bytes an item is charged for its record and its share of a chunk.
# Over Redis, bytes is Redis's estimate of the queue's memory.
item_bytes=9
[ $redis = 0 ] || item_bytes=$(json "$tmp/out" "d[0]['bytes'] if d[0]['bytes'] > 0 else 'none'")
[ "$(json "$tmp/out" "d[0]['name'], d[0]['type'], d[0]['size'], d[0]['maxsize'], d[0]['bytes']")" = \
  "jobs queue 1 2 $item_bytes" ] || fail "ls --json fields: $(cat "$tmp/out")"
expect 0 "$ctl" --json info jobs
[ "$(json "$tmp/out" "d['puts'], d['gets'], d['closed'], d['getters']")" = "4 3 0 0" ] ||
        fail "info --json counters: $(cat "$tmp/out")"
expect 1 "$ctl" info nothing
grep -q "nothing" "$tmp/err" || fail "info of a missing object does not name it"
expect 0 "$ctl" --json stats
if [ $redis = 1 ]; then
        # STATS describes the backend: Redis's masters, this client's id and lease.
        [ "$(json "$tmp/out" "d['backend'], d['masters'] >= 1, len(d['client_id'])")" = "redis True 32" ] ||
                fail "stats --json over Redis: $(cat "$tmp/out")"
else
        [ "$(json "$tmp/out" "d['objects'], d['protocol']")" = "1 1" ] || fail "stats --json: $(cat "$tmp/out")"
fi
expect 0 "$ctl" --json ls --type joinable
[ "$(json "$tmp/out" "len(d)")" = 0 ] || fail "ls --type joinable lists a plain queue"
expect 2 "$ctl" ls --type spaceship

# ---- purge, close, rm ----
expect 0 "$ctl" queue purge jobs
[ "$(cat "$tmp/out")" = 1 ] || fail "purge removed $(cat "$tmp/out")"
expect 0 "$ctl" queue put jobs last
expect 0 "$ctl" queue close jobs
expect 1 "$ctl" queue put jobs more
grep -q "closed" "$tmp/err" || fail "put after close does not say closed"
expect 0 "$ctl" queue get jobs
[ "$(cat "$tmp/out")" = last ] || fail "drain after close"
expect 1 "$ctl" queue get jobs
grep -q "closed" "$tmp/err" || fail "get on a drained closed queue does not say closed"
expect 0 "$ctl" rm jobs
expect 1 "$ctl" rm jobs
expect 1 "$ctl" queue get jobs --timeout 0

# ---- a blocked get is woken by another process ----
expect 0 "$ctl" queue declare wake
"$ctl" queue get wake > "$tmp/woken" &
getter=$!
# Wait until the daemon reports the getter as blocked: no sleeping on time.
until [ "$("$ctl" --json info wake | python3 -c 'import json,sys; print(json.load(sys.stdin)["getters"])')" = 1 ]; do :; done
expect 0 "$ctl" queue put wake hello
wait "$getter" || fail "woken get exited non-zero"
[ "$(cat "$tmp/woken")" = hello ] || fail "woken get printed '$(cat "$tmp/woken")'"

# ---- joinable: get, done, join ----
expect 0 "$ctl" queue declare work --joinable
expect 0 "$ctl" queue put work a
expect 0 "$ctl" queue put work b
expect 1 "$ctl" queue join work --timeout 0
expect 0 "$ctl" --json queue get work
[ "$(json "$tmp/out" "d['data'], d['deliveries']")" = "a 1" ] || fail "joinable get --json: $(cat "$tmp/out")"
tag=$(json "$tmp/out" "d['tag']")
# The item stays unfinished after mpxctl exits: it was taken detached.
expect 0 "$ctl" --json queue size work
[ "$(json "$tmp/out" "d['size'], d['unfinished']")" = "1 2" ] || fail "unfinished after get: $(cat "$tmp/out")"
expect 0 "$ctl" queue done work "$tag"
expect 1 "$ctl" queue done work "$tag"
expect 0 "$ctl" queue get work
expect 0 "$ctl" queue done work
expect 1 "$ctl" queue done work
grep -q "work" "$tmp/err" || fail "task_done too often does not name the queue"
expect 0 "$ctl" queue join work --timeout 1
expect 1 "$ctl" queue done jobs-nowhere
expect 1 "$ctl" queue join wake --timeout 0
grep -q "type" "$tmp/err" || fail "join on a plain queue does not say wrong type: $(cat "$tmp/err")"

# ---- output for people and for programs ----
# In a pipe or a file a payload is exact; on a terminal (script(1) gives a
# pty) a newline follows one that has none, and none is added to one that has.
expect 0 "$ctl" queue declare tty
expect 0 "$ctl" queue put tty 'no newline'
printf 'has one\n' | "$ctl" queue put tty || fail "put from standard input failed"
expect 0 "$ctl" queue put tty 'piped'
if command -v script > /dev/null; then
        script -qec "'$ctl' queue get tty; '$ctl' queue get tty" /dev/null > "$tmp/tty" < /dev/null
        # The terminal turns each newline into CR LF.
        printf 'no newline\r\nhas one\r\n' | cmp -s - "$tmp/tty" || fail "on a terminal: $(od -An -c "$tmp/tty")"
else
        echo "script(1) is missing: the terminal case is not checked"
fi
expect 0 "$ctl" queue get tty
[ "$(wc -c < "$tmp/out")" = 5 ] || fail "a piped get is not the item exactly: $(od -An -c "$tmp/out")"
expect 0 "$ctl" dict declare d-tty
expect 0 "$ctl" dict set d-tty k v
expect 0 "$ctl" dict get d-tty k
[ "$(wc -c < "$tmp/out")" = 1 ] || fail "a piped dict get is not the value exactly"
# Nothing is made by using it: the error says which declare makes it.
expect 1 "$ctl" dict incr hits /index.html
grep -q "no such object (declare it first: mpxctl dict declare hits)" "$tmp/err" ||
        fail "no declare hint for a missing dict: $(cat "$tmp/err")"
expect 1 "$ctl" queue get nowhere --timeout 0
grep -q "mpxctl queue declare nowhere" "$tmp/err" || fail "no declare hint for a missing queue: $(cat "$tmp/err")"
# ---- leases: declare --ttr, touch, an item given back by its lease ----
# field NAME KEY: the value of one INFO field of NAME.
field() { "$ctl" --json info "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
expect 0 "$ctl" queue declare leased --joinable --ttr 60
[ "$(field leased ttr_ms)" = 60000 ] || fail "ttr_ms is $(field leased ttr_ms), expected 60000"
expect 0 "$ctl" queue declare leased --joinable --ttr 60
expect 1 "$ctl" queue declare leased --joinable --ttr 30
expect 0 "$ctl" queue declare leased --joinable
expect 1 "$ctl" queue declare plain-ttr --ttr 1
grep -q "needs --joinable" "$tmp/err" || fail "a TTR on a plain queue: $(cat "$tmp/err")"
expect 2 "$ctl" queue declare leased --joinable --ttr soon
expect 2 "$ctl" queue declare leased --joinable --ttr -1
expect 0 "$ctl" queue put leased x
expect 0 "$ctl" --json queue get leased
tag=$(json "$tmp/out" "d['tag']")
lease=$(field leased lease_ms)
[ "$lease" -ge 0 ] && [ "$lease" -le 60000 ] || fail "lease_ms $lease"
expect 0 "$ctl" queue touch leased "$tag"
expect 1 "$ctl" queue touch leased 999
grep -q "lease ran out" "$tmp/err" || fail "touch of an unknown tag: $(cat "$tmp/err")"
expect 2 "$ctl" queue touch leased
if [ $redis = 1 ]; then
        # No client list over Redis (no peer credentials): a one-line refusal.
        expect 1 "$ctl" clients
        grep -q "not supported" "$tmp/err" || fail "clients over Redis: $(cat "$tmp/err")"
else
        expect 0 "$ctl" clients
        grep -q "LEASE" "$tmp/out" || fail "clients has no LEASE column"
fi
expect 0 "$ctl" queue done leased "$tag"
expect 0 "$ctl" queue declare short --joinable --ttr 0.05
expect 0 "$ctl" queue put short y
expect 0 "$ctl" --json queue get short
tag=$(json "$tmp/out" "d['tag']")
# The detached delivery of an mpxctl that is gone comes back once its lease ran out.
i=0
while [ "$(field short expired)" != 1 ] && [ $i -lt 2000 ]; do i=$((i + 1)); done
[ "$(field short expired)" = 1 ] || fail "the lease of the item of 'short' never ran out"
expect 1 "$ctl" queue done short "$tag"
expect 0 "$ctl" --json queue get short
[ "$(json "$tmp/out" "d['data'], d['deliveries']")" = "y 2" ] || fail "given back by its lease: $(cat "$tmp/out")"

finish mpxctl
