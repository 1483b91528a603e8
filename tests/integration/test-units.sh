#!/bin/sh
# SPDX-License-Identifier: MIT
# The systemd units made from conf/*.in: systemd-analyze verify accepts them
# (with their man pages found in docs/), and they keep what mpxd relies on.
# Skipped (77) where systemd-analyze is not installed.
set -eu

if ! command -v systemd-analyze > /dev/null 2>&1; then
        echo "systemd-analyze is not installed; skipping"
        exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpx-units-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ExecStart= must name a program that exists: the mpxd just built.
sed "s|^ExecStart=[^ ]*|ExecStart=$MPXD|" "$MPX_UNITS/mpxd.service" > "$tmp/mpxd.service"
cp "$MPX_UNITS/mpxd.socket" "$tmp/mpxd.socket"

# Documentation= is checked with man(1) when it is there, in a tree made of docs/.
man_opt="--man=no"
if command -v man > /dev/null 2>&1; then
        man_opt="--man=yes"
        for page in mpxd.8 mpxd.conf.5 mpxctl.1 mpx.3; do
                section=${page##*.}
                mkdir -p "$tmp/man/man$section"
                ln -s "$MPX_DOCS/$page" "$tmp/man/man$section/$page"
        done
fi
if ! MANPATH="$tmp/man" systemd-analyze verify "$man_opt" "$tmp/mpxd.socket" "$tmp/mpxd.service" \
        > "$tmp/out" 2>&1; then
        fail "systemd-analyze verify refused the units:"
fi
# Any word from verify is a warning worth fixing.
if [ -s "$tmp/out" ]; then
        cat "$tmp/out"
        [ "$failures" -gt 0 ] || fail "systemd-analyze verify had something to say"
fi

# What the daemon and the packaging rely on.
for line in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' Restart=on-failure User=mpx Group=mpx \
        RuntimeDirectory=mpxd RuntimeDirectoryPreserve=yes NoNewPrivileges=yes ProtectSystem=strict \
        ProtectHome=yes PrivateTmp=yes PrivateDevices=yes RestrictAddressFamilies=AF_UNIX \
        Requires=mpxd.socket; do
        grep -qxF "$line" "$tmp/mpxd.service" || fail "mpxd.service lacks $line"
done
grep -q '^WatchdogSec=' "$tmp/mpxd.service" || fail "mpxd.service lacks WatchdogSec="
for line in ListenStream=/run/mpxd/mpxd.sock SocketMode=0660 SocketGroup=mpx WantedBy=sockets.target; do
        grep -qxF "$line" "$tmp/mpxd.socket" || fail "mpxd.socket lacks $line"
done

echo "units checked, $failures failure(s)"
[ "$failures" -eq 0 ]
