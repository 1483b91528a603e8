#!/bin/sh
# SPDX-License-Identifier: MIT
# mpxctl queue consume against a private mpxd: a command that exits 0 marks
# its item done; one that fails or is killed gives it back at once; an mpxctl
# killed mid-item gives it back by its connection's end; a command that runs
# longer than the queue's TTR keeps its item because mpxctl touches it.
# Commands block on fifos the test opens; the test waits on what the daemon
# reports (mpxctl info), never on time.
set -eu

if [ "${1:-}" != "--inside" ]; then
        exec "$WITH_MPXD" -- "$0" --inside
fi

. "$(dirname "$0")/mpxctl-lib.sh"

# wait_field NAME KEY VALUE: ask the daemon until the field has that value.
wait_field() {
        i=0
        while [ "$(field "$1" "$2")" != "$3" ]; do
                i=$((i + 1))
                [ $i -lt 5000 ] || { fail "$1: $2 never became $3 (it is $(field "$1" "$2"))"; return; }
        done
}

# now_ms: the monotonic-enough wall clock in milliseconds, to measure how long a lease held.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

expect 0 "$ctl" queue declare q --joinable --ttr 30
expect 2 "$ctl" queue consume q
expect 2 "$ctl" queue consume q -n many -- true

# ---- COMMAND exits 0: the item is done; it saw the payload, its tag and its count ----
expect 0 "$ctl" queue put q alpha
expect 0 "$ctl" queue consume q -n 1 -- sh -c "cat > '$tmp/got'; echo \"\$MPX_TAG \$MPX_DELIVERIES\" > '$tmp/env'"
[ "$(cat "$tmp/got")" = alpha ] || fail "the command read '$(cat "$tmp/got")'"
[ "$(cat "$tmp/env")" = "1 1" ] || fail "MPX_TAG MPX_DELIVERIES were '$(cat "$tmp/env")'"
[ "$(field q unfinished)" = 0 ] || fail "the item is not done"

# ---- COMMAND exits 1: given back at once, next time with deliveries 2 ----
expect 0 "$ctl" queue put q beta
expect 1 "$ctl" queue consume q -n 1 -- sh -c 'exit 1'
grep -q "failed; item given back" "$tmp/err" || fail "no word of the failure: $(cat "$tmp/err")"
wait_field q size 1
[ "$(field q redelivered)" = 1 ] || fail "redelivered is $(field q redelivered)"
expect 0 "$ctl" queue consume q -n 1 -- sh -c "cat > '$tmp/got'; echo \"\$MPX_DELIVERIES\" > '$tmp/env'"
[ "$(cat "$tmp/got") $(cat "$tmp/env")" = "beta 2" ] || fail "given back: '$(cat "$tmp/got") $(cat "$tmp/env")'"

# ---- COMMAND killed by a signal: given back ----
expect 0 "$ctl" queue put q gamma
expect 1 "$ctl" queue consume q -n 1 -- sh -c 'kill -9 $$'
grep -q "killed by signal 9" "$tmp/err" || fail "no word of the signal: $(cat "$tmp/err")"
wait_field q size 1
expect 0 "$ctl" queue consume q -n 1 -- sh -c "echo \"\$MPX_DELIVERIES\" > '$tmp/env'"
[ "$(cat "$tmp/env")" = 2 ] || fail "after a killed command deliveries is $(cat "$tmp/env")"
[ "$(field q unfinished)" = 0 ] || fail "unfinished after the killed command's item"

# ---- mpxctl itself SIGKILLed mid-item: the item comes back ----
mkfifo "$tmp/gate"
expect 0 "$ctl" queue put q delta
"$ctl" queue consume q -n 1 -- sh -c "cat > /dev/null; cat '$tmp/gate' > /dev/null" 2> "$tmp/err2" &
consumer=$!
wait_field q delivered 1
kill -9 "$consumer"
wait "$consumer" || true
wait_field q size 1
# Let the orphaned command end: it waits on the gate.
echo go > "$tmp/gate"
expect 0 "$ctl" queue consume q -n 1 -- sh -c "cat > '$tmp/got'; echo \"\$MPX_DELIVERIES\" > '$tmp/env'"
[ "$(cat "$tmp/got") $(cat "$tmp/env")" = "delta 2" ] || fail "after mpxctl died: '$(cat "$tmp/got") $(cat "$tmp/env")'"

# ---- a command that outlives the TTR keeps its item: mpxctl touches it ----
expect 0 "$ctl" queue declare long --joinable --ttr 0.3
expect 0 "$ctl" queue put long epsilon
"$ctl" queue consume long -n 1 -- sh -c "cat > /dev/null; cat '$tmp/gate' > /dev/null" 2> "$tmp/err2" &
consumer=$!
wait_field long delivered 1
start=$(now_ms)
while [ $(($(now_ms) - start)) -lt 1500 ]; do
        [ "$(field long expired)" = 0 ] || { fail "the lease ran out while the command ran"; break; }
done
echo go > "$tmp/gate"
wait "$consumer" || fail "consume of 'long' failed: $(cat "$tmp/err2")"
[ "$(field long expired) $(field long unfinished)" = "0 0" ] || fail "long: expired, unfinished $(field long expired) $(field long unfinished)"

# ---- the same with a lease of consume's own (--ttr) on a queue without one ----
expect 0 "$ctl" queue declare free --joinable
expect 0 "$ctl" queue put free zeta
expect 2 "$ctl" queue consume free --ttr soon -- true
"$ctl" queue consume free -n 1 --ttr 0.3 -- sh -c "cat > /dev/null; cat '$tmp/gate' > /dev/null" 2> "$tmp/err2" &
consumer=$!
wait_field free delivered 1
lease=$(field free lease_ms)
[ "$lease" -ge 0 ] && [ "$lease" -le 300 ] || fail "free: lease_ms is $lease while consume holds its item"
start=$(now_ms)
while [ $(($(now_ms) - start)) -lt 1500 ]; do
        [ "$(field free expired)" = 0 ] || { fail "the --ttr lease ran out while the command ran"; break; }
done
echo go > "$tmp/gate"
wait "$consumer" || fail "consume of 'free' failed: $(cat "$tmp/err2")"
[ "$(field free expired) $(field free unfinished)" = "0 0" ] || fail "free: expired, unfinished $(field free expired) $(field free unfinished)"

# ---- the end of the stream: a closed, drained queue ends consume with 0 ----
expect 0 "$ctl" queue close q
expect 0 "$ctl" queue consume q -- true

finish "mpxctl consume"
