#!/bin/sh
# SPDX-License-Identifier: MIT
# mpxctl --durable against daemons that share one journal directory: every
# declare that takes --durable makes a durable object (info says durable: 1),
# the objects come back with their contents in a second daemon, stats shows
# the journal, and a daemon without a journal refuses --durable.
set -eu

if [ "${1:-}" != "--inside" ]; then
        dir=$(mktemp -d "${TMPDIR:-/tmp}/mpx-ctl-durable.XXXXXX")
        trap 'rm -rf "$dir"' EXIT
        printf 'durability = { directory = "%s/state"; sync = "always"; };\n' "$dir" > "$dir/mpxd.conf"
        "$WITH_MPXD" -c "$dir/mpxd.conf" -- "$0" --inside first
        "$WITH_MPXD" -c "$dir/mpxd.conf" -- "$0" --inside second
        "$WITH_MPXD" -- "$0" --inside without
        exit 0
fi

. "$(dirname "$0")/mpxctl-lib.sh"

phase=$2
case "$phase" in
first)
        expect 0 "$ctl" queue declare jobs --joinable --durable
        expect 0 "$ctl" queue put jobs one
        expect 0 "$ctl" queue put jobs two
        expect 0 "$ctl" dict declare settings --durable
        expect 0 "$ctl" dict set settings colour blue
        expect 0 "$ctl" list declare history --durable
        expect 0 "$ctl" list append history first
        expect 0 "$ctl" sem declare slots --value 3 --no-undo --durable
        expect 0 "$ctl" sem acquire slots
        expect 0 "$ctl" value declare counter q 41 --durable
        expect 0 "$ctl" value add counter 1
        expect 0 "$ctl" array declare samples i 3 1 2 3 --durable
        expect 0 "$ctl" queue declare scratch
        for name in jobs settings history slots counter samples; do
                [ "$(field "$name" durable)" = 1 ] || fail "$name is not durable"
        done
        [ "$(field scratch durable)" = 0 ] || fail "scratch is durable"
        # The other durability is another object.
        expect 1 "$ctl" dict declare settings
        expect 0 "$ctl" stats
        grep -q '^journal_sync: always$' "$tmp/out" || fail "stats shows no journal_sync"
        grep -q '^journal_bytes: [1-9]' "$tmp/out" || fail "stats shows no journal_bytes"
        grep -q '^journal_last_compaction_ms: ' "$tmp/out" || fail "stats shows no last compaction"
        ;;
second)
        expect 0 "$ctl" queue get jobs
        [ "$(cat "$tmp/out")" = one ] || fail "the first item is '$(cat "$tmp/out")'"
        expect 0 "$ctl" queue get jobs
        [ "$(cat "$tmp/out")" = two ] || fail "the second item is '$(cat "$tmp/out")'"
        expect 0 "$ctl" dict get settings colour
        [ "$(cat "$tmp/out")" = blue ] || fail "the dict holds '$(cat "$tmp/out")'"
        expect 0 "$ctl" list get history 0
        [ "$(cat "$tmp/out")" = first ] || fail "the list holds '$(cat "$tmp/out")'"
        expect 0 "$ctl" sem value slots
        [ "$(cat "$tmp/out")" = 2 ] || fail "the semaphore is at $(cat "$tmp/out")"
        expect 0 "$ctl" value get counter
        [ "$(cat "$tmp/out")" = 42 ] || fail "the value is $(cat "$tmp/out")"
        expect 0 "$ctl" array get samples
        [ "$(tr '\n' ' ' < "$tmp/out")" = "1 2 3 " ] || fail "the array holds '$(cat "$tmp/out")'"
        expect 1 "$ctl" info scratch
        ;;
without)
        expect 1 "$ctl" queue declare jobs --durable
        grep -q "invalid argument" "$tmp/err" || fail "no reason given: $(cat "$tmp/err")"
        expect 0 "$ctl" stats
        grep -q '^durability: off$' "$tmp/out" || fail "stats does not say durability is off"
        ;;
esac
finish "mpxctl durable, $phase"
