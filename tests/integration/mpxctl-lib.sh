# SPDX-License-Identifier: MIT
# Sourced by the mpxctl script tests (test-mpxctl*.sh) once they run inside
# with-mpxd: $ctl, $tmp and the helpers that count failures and check
# mpxctl's exit statuses, so that every such test reports them the same way.
# A test that runs in phases sets $phase, which each failure then names.
ctl="$MPXCTL"
tmp="$MPX_TEST_DIR"
failures=0

fail() { echo "FAIL${phase:+ ($phase)}: $*"; failures=$((failures + 1)); }

# expect STATUS COMMAND...: run COMMAND, keep its stdout in $tmp/out and
# stderr in $tmp/err, and check its exit status.
expect() {
        want=$1; shift
        set +e
        "$@" > "$tmp/out" 2> "$tmp/err"
        got=$?
        set -e
        [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$tmp/err")"
}

# field NAME KEY: the value of one field of mpxctl info.
field() { "$ctl" info "$1" | sed -n "s/^$2: //p"; }

# json FILE EXPRS: print Python expressions on the parsed JSON document d, space-separated.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# finish WHAT: the end of a test: how many checks failed (exit 1), or "WHAT: ok".
finish() {
        if [ "$failures" != 0 ]; then
                echo "$failures failures"
                exit 1
        fi
        echo "$1: ok"
}
