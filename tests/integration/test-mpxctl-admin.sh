#!/bin/sh
# SPDX-License-Identifier: MIT
# mpxctl as an operator's tool against a private mpxd driven into known
# states: clients (who waits on what, who holds what), the warning of the
# next owner of a lock whose holder was killed, peek, purge, stats and
# users, ls with --sort, --type and --names, ownership (ls OWNER and MODE,
# chmod, chown), top (one-shot, as JSON, also in a terminal, and live in a
# real terminal under tmux), and bash completion of commands and object names.
set -eu

if [ "${1:-}" != "--inside" ]; then
        exec "$WITH_MPXD" -- "$0" --inside
fi

. "$(dirname "$0")/mpxctl-lib.sh"
pids=""

cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null || true; done
        tmux -L "mpx-test-$$" kill-server 2>/dev/null || true
}
trap cleanup EXIT

# wait_for COMMAND...: run COMMAND until it succeeds; a condition, not a pause.
wait_for() {
        n=0
        until "$@" > /dev/null 2>&1; do
                n=$((n + 1))
                [ $n -lt 20000 ] || { fail "gave up waiting for: $*"; return 1; }
        done
}
pool_size_is() { [ "$("$ctl" --json info "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')" = "$2" ]; }
getters_are() { [ "$("$ctl" --json info "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["getters"])')" = "$2" ]; }

# ---- a known state: items, a blocked getter, an undone delivery ----
"$ctl" queue declare jobs --maxsize 10
"$ctl" queue declare idle
"$ctl" queue declare work --joinable
for i in 1 2 3; do "$ctl" queue put jobs "job $i"; done
printf 'two\nlines' | "$ctl" queue put jobs
"$ctl" queue put work w1

"$ctl" queue get idle > /dev/null &
pids="$pids $!"
wait_for getters_are idle 1

# ---- clients ----
"$ctl" --json clients > "$tmp/clients.json" || fail "clients --json"
[ "$(json "$tmp/clients.json" "sum(1 for c in d if c['waiting_on'] == \"queue.get 'idle'\")")" = 1 ] ||
        fail "clients does not show the getter blocked on idle: $(cat "$tmp/clients.json")"
[ "$(json "$tmp/clients.json" "sum(1 for c in d if c['waiting_op'] == 'queue.get' and c['waiting_object'] == 'idle')")" = 1 ] ||
        fail "clients --json does not give the wait's operation and object as fields: $(cat "$tmp/clients.json")"
[ "$(json "$tmp/clients.json" "all(c['waiting_op'] == c['waiting_object'] == '' for c in d if c['waiting'] == 0)")" = True ] ||
        fail "clients --json: a client that waits on nothing has a wait: $(cat "$tmp/clients.json")"
[ "$(json "$tmp/clients.json" "all(c['comm'] == 'mpxctl' and c['pid'] > 0 and 'uid' in c for c in d)")" = True ] ||
        fail "clients fields: $(cat "$tmp/clients.json")"
"$ctl" clients > "$tmp/clients.txt" || fail "clients"
head -n 1 "$tmp/clients.txt" | grep -q '^ *ID  *PID  *UID  *COMM' || fail "clients header: $(head -n 1 "$tmp/clients.txt")"
grep -q "queue.get 'idle'" "$tmp/clients.txt" || fail "clients table lacks the waiter"

# ---- JSON gives numbers as numbers: a value's value, a pool's pids ----
"$ctl" value declare ratio d 0.5
[ "$("$ctl" --json info ratio | python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(type(v).__name__, v)')" = "float 0.5" ] ||
        fail "a value's value is not a JSON number: $("$ctl" --json info ratio)"
"$ctl" pool start sleepers --workers 2 -- sleep 600
wait_for pool_size_is sleepers 2
[ "$("$ctl" --json info sleepers | python3 -c 'import json,sys; p=json.load(sys.stdin)["pids"]; print(len(p), all(isinstance(x, int) and x > 0 for x in p))')" = "2 True" ] ||
        fail "a pool's pids are not a JSON array of numbers: $("$ctl" --json info sleepers)"
"$ctl" pool stop sleepers > /dev/null || fail "pool stop"
"$ctl" rm ratio

# ---- clients shows semaphore units held: sem run holds one while its command runs ----
"$ctl" sem declare db --value 2
"$ctl" queue declare go
"$ctl" sem run db -- "$ctl" queue get go > /dev/null &
holder=$!
pids="$pids $holder"
wait_for getters_are go 1
"$ctl" --json clients > "$tmp/clients.json" || fail "clients --json"
[ "$(json "$tmp/clients.json" "sorted(c['sem_units'] for c in d)[-1], sum(c['sem_units'] for c in d)")" = "1 1" ] ||
        fail "clients does not show the unit held by sem run: $(cat "$tmp/clients.json")"
[ "$("$ctl" sem value db)" = 1 ] || fail "sem run did not take a unit"
"$ctl" queue put go now
wait "$holder" || fail "sem run exited non-zero"
[ "$("$ctl" sem value db)" = 2 ] || fail "sem run did not give its unit back"

# ---- a lock whose holder is killed: the next owner is warned, once, and goes on ----
field_is() { [ "$("$ctl" --json info "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2")" = "$3" ]; }
kill_holder() {
        "$ctl" sem run L -- "$ctl" queue get go > /dev/null &
        holder=$!
        wait_for getters_are go 1
        kill -KILL "$holder"
        wait "$holder" 2> /dev/null || true
        # The command it ran is still waiting: an item lets it end.
        "$ctl" queue put go now
        wait_for field_is L owner_dead 1
}
"$ctl" sem declare L --lock
kill_holder
set +e; "$ctl" sem run L -- sh -c 'echo "owner_dead=${MPX_OWNER_DEAD:-}"' > "$tmp/out" 2> "$tmp/err"; st=$?; set -e
[ $st = 0 ] || fail "sem run after a dead holder exited $st: $(cat "$tmp/err")"
grep -qx 'owner_dead=1' "$tmp/out" || fail "sem run did not tell COMMAND of the dead holder: $(cat "$tmp/out")"
grep -q "warning: semaphore 'L': a previous holder died" "$tmp/err" || fail "sem run did not warn: $(cat "$tmp/err")"
set +e; "$ctl" sem run L -- sh -c 'echo "owner_dead=${MPX_OWNER_DEAD:-}"' > "$tmp/out" 2> "$tmp/err"; st=$?; set -e
[ $st = 0 ] && grep -qx 'owner_dead=' "$tmp/out" && ! [ -s "$tmp/err" ] ||
        fail "the second owner was told too: status $st, $(cat "$tmp/out") $(cat "$tmp/err")"
kill_holder
set +e; "$ctl" sem acquire L --timeout 0 2> "$tmp/err"; st=$?; set -e
[ $st = 0 ] && grep -q "warning: semaphore 'L': a previous holder died" "$tmp/err" ||
        fail "sem acquire after a dead holder: status $st, $(cat "$tmp/err")"
# sem acquire gave its unit back as a release: no holder died this time.
field_is L owner_died 2 && field_is L owner_dead 0 && [ "$("$ctl" sem value L)" = 1 ] ||
        fail "sem acquire on an undo lock: $("$ctl" --json info L)"
"$ctl" rm L
"$ctl" rm db
"$ctl" rm go

# ---- peek: look without taking ----
"$ctl" peek jobs -n 2 > "$tmp/peek" || fail "peek"
printf 'job 1\njob 2\n' | cmp -s - "$tmp/peek" || fail "peek -n 2 printed: $(cat "$tmp/peek")"
"$ctl" --json peek jobs > "$tmp/peek.json" || fail "peek --json"
[ "$(json "$tmp/peek.json" "len(d), d[3]['data'], d[0]['deliveries']")" = "4 two
lines 0" ] || fail "peek --json: $(cat "$tmp/peek.json")"
"$ctl" peek jobs | tail -n 1 | grep -qx 'two\\nlines' || fail "peek does not escape newlines"
[ "$("$ctl" queue size jobs)" = 4 ] || fail "peek took items"
set +e; "$ctl" peek nothing 2> "$tmp/err"; st=$?; set -e
[ $st = 1 ] && grep -q "nothing" "$tmp/err" || fail "peek of a missing queue: status $st, $(cat "$tmp/err")"

# ---- ls: sort, type filter, names ----
"$ctl" ls --sort size > "$tmp/ls"
[ "$(awk 'NR > 1 { print $1 }' "$tmp/ls" | head -n 1)" = jobs ] || fail "ls --sort size: $(cat "$tmp/ls")"
"$ctl" ls --sort name | awk 'NR > 1 { print $1 }' | tr '\n' ' ' > "$tmp/names"
[ "$(cat "$tmp/names")" = "idle jobs work " ] || fail "ls --sort name: $(cat "$tmp/names")"
[ "$("$ctl" ls --names --type joinable)" = work ] || fail "ls --names --type joinable"
"$ctl" --json ls > "$tmp/ls.json"
[ "$(json "$tmp/ls.json" "sorted((o['name'], o['requests'] > 0) for o in d)")" = \
  "[('idle', True), ('jobs', True), ('work', True)]" ] || fail "ls --json requests: $(cat "$tmp/ls.json")"

# ---- stats carries the daemon-wide figures ----
"$ctl" --json stats > "$tmp/stats.json"
[ "$(json "$tmp/stats.json" "d['objects'], d['waiters'], d['bytes'] > 0, d['rss_bytes'] > 0, d['requests_queue'] > 0")" = \
  "3 1 True True True" ] || fail "stats: $(cat "$tmp/stats.json")"
"$ctl" stats | grep -q '^memory: .* held, no limit (max_memory)$' || fail "stats has no memory line: $("$ctl" stats)"

# ---- users: this uid holds the items it put, the objects it made, its waiter ----
"$ctl" --json users > "$tmp/users.json" || fail "users --json"
[ "$(json "$tmp/users.json" "[(u['objects'], u['waiters'], u['bytes']) for u in d if u['uid'] == $(id -u)]")" = \
  "[(3, 1, $(json "$tmp/stats.json" "d['bytes']"))]" ] || fail "users --json: $(cat "$tmp/users.json")"
"$ctl" users | head -n 1 | grep -q '^ *UID  USER  CLIENTS  OBJECTS  WAITERS  BYTES' || fail "users: $("$ctl" users)"

# ---- purge ----
[ "$("$ctl" purge jobs)" = 4 ] || fail "purge did not report 4"
[ "$("$ctl" queue size jobs)" = 0 ] || fail "purge left items"

# ---- ownership: ls shows it, chmod and chown change it ----
me_uid=$(id -u); me_gid=$(id -g); me=$(id -un)
"$ctl" --json info jobs > "$tmp/own.json"
[ "$(json "$tmp/own.json" "d['uid'], d['gid'], oct(d['mode'])")" = "$me_uid $me_gid 0o660" ] ||
        fail "a new object is not its creator's with mode 0660: $(cat "$tmp/own.json")"
"$ctl" ls > "$tmp/ls.own" || fail "ls"
head -n 1 "$tmp/ls.own" | grep -q ' OWNER  *MODE$' ||
        fail "ls has no OWNER and MODE columns: $(head -n 1 "$tmp/ls.own")"
grep -q "^jobs .* $me  *rw-rw----\$" "$tmp/ls.own" || fail "ls row of jobs: $(cat "$tmp/ls.own")"
"$ctl" chmod 640 jobs || fail "chmod 640"
"$ctl" info jobs | grep -qx 'mode: 0640' || fail "info shows the mode in octal: $("$ctl" info jobs)"
"$ctl" chown 4242:4243 jobs || fail "chown by numbers"
"$ctl" --json ls > "$tmp/ls.json"
[ "$(json "$tmp/ls.json" "[(o['uid'], o['gid'], oct(o['mode'])) for o in d if o['name'] == 'jobs']")" =   "[(4242, 4243, '0o640')]" ] || fail "ls --json after chmod and chown: $(cat "$tmp/ls.json")"
"$ctl" ls | grep -q '^jobs .* 4242  *rw-r-----$' || fail "ls shows no number for an owner without a name: $("$ctl" ls)"
"$ctl" chown ":$me_gid" jobs && "$ctl" chown "$me" jobs && "$ctl" chmod 0660 jobs || fail "chown back"
[ "$("$ctl" --json info jobs | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["uid"], d["gid"], d["mode"])')" =   "$me_uid $me_gid 432" ] || fail "chown USER, chown :GROUP"
for bad in "chmod 0800 jobs" "chmod 17777 jobs" "chmod rw jobs" "chmod 640" "chown no-such-user-of-mpx jobs"            "chown $me: jobs" "chown :no-such-group-of-mpx jobs" "chown $me jobs extra"; do
        set +e; $ctl $bad 2> "$tmp/err"; st=$?; set -e
        [ $st = 2 ] || fail "mpxctl $bad exited $st, expected 2 (usage): $(cat "$tmp/err")"
done
set +e; "$ctl" chmod 600 nothing 2> "$tmp/err"; st=$?; set -e
[ $st = 1 ] && grep -q "nothing" "$tmp/err" || fail "chmod of a missing object: status $st, $(cat "$tmp/err")"

# ---- top, one-shot when stdout is not a terminal ----
"$ctl" top > "$tmp/top" < /dev/null || fail "top one-shot"
head -n 1 "$tmp/top" | grep -q '^mpxd .* clients [0-9]* .*objects 3' || fail "top header: $(head -n 1 "$tmp/top")"
grep -q '^NAME  *TYPE  *REQ/S' "$tmp/top" || fail "top table: $(cat "$tmp/top")"
"$ctl" --json top > "$tmp/top" < /dev/null || fail "top --json one-shot"
[ "$(json "$tmp/top" 'len(d["objects"]), sorted(set(type(o["rate"]).__name__ for o in d["objects"])), type(d["stats"]["rate"]).__name__')" = "3 ['int'] int" ] ||
        fail "top --json is no document of the statistics and the objects with their rates: $(cat "$tmp/top")"

# ---- top --json in a terminal: one document, wherever --json is, never the live view ----
# script(1) gives top a terminal on both its standard input and output, as a
# shell does; timeout only bounds a top that would draw its live view forever.
if command -v script > /dev/null; then
        for args in "--json top" "top --json"; do
                timeout 30 script -qec "'$ctl' $args" /dev/null < /dev/null > "$tmp/top" 2> "$tmp/err" ||
                        fail "mpxctl $args in a terminal: $(cat "$tmp/err")"
                [ "$(json "$tmp/top" 'len(d["objects"])' 2> "$tmp/err")" = 3 ] ||
                        fail "mpxctl $args in a terminal printed no one JSON document: $(od -c "$tmp/top" | head -n 5)"
        done
else
        fail "script (bsdutils) is not installed: top --json cannot be tested in a terminal"
fi

# ---- top, live in a real terminal (tmux), quit with q ----
if command -v tmux > /dev/null; then
        sock="mpx-test-$$"
        tmux -L "$sock" -f /dev/null new-session -d -x 120 -y 30 \
                "MPX_SOCKET='$MPX_SOCKET' '$ctl' top; echo top-exited-\$?; sleep 100000"
        screen() { tmux -L "$sock" capture-pane -p; }
        shows() { screen | grep -q "$1"; }
        wait_for shows 'REQ/S' || fail "top never drew its table: $(screen)"
        wait_for shows 'q to quit' || fail "top has no hint"
        tmux -L "$sock" send-keys q
        wait_for shows 'top-exited-0' || fail "top did not quit on q: $(screen)"
        tmux -L "$sock" kill-server 2> /dev/null || true
else
        fail "tmux is not installed: top cannot be tested in a terminal"
fi

# ---- bash completion ----
if [ -f /usr/share/bash-completion/bash_completion ]; then
        complete_line() {
                bash -c '
                        . /usr/share/bash-completion/bash_completion
                        . "$MPX_COMPLETION"
                        PATH="$(dirname "$1"):$PATH"
                        shift
                        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
                        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                        _mpxctl
                        printf "%s\n" "${COMPREPLY[@]}"' _ "$ctl" "$@"
        }
        [ "$(complete_line mpxctl pe)" = peek ] || fail "completion of 'pe': $(complete_line mpxctl pe)"
        complete_line mpxctl queue "" | grep -qx declare || fail "completion of queue verbs"
        [ "$(complete_line mpxctl queue get wo)" = work ] || fail "completion of a queue name: $(complete_line mpxctl queue get wo)"
        [ "$(complete_line mpxctl info i)" = idle ] || fail "completion of an object name"
        [ "$(complete_line mpxctl ls --type jo)" = joinable ] || fail "completion of a type"
        [ "$(complete_line mpxctl chm)" = chmod ] || fail "completion of chmod"
        [ "$(complete_line mpxctl chmod 0640 jo)" = jobs ] || fail "completion of chmod's object"
        [ "$(complete_line mpxctl chown root:ro)" = root:root ] || fail "completion of chown's group: $(complete_line mpxctl chown root:ro)"
        [ "$(complete_line mpxctl chown root wo)" = work ] || fail "completion of chown's object"
else
        fail "bash-completion is not installed"
fi

finish "mpxctl admin"
