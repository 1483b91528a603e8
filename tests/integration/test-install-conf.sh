#!/bin/sh
# SPDX-License-Identifier: MIT
# The configuration make install puts in place: its durability directory is
# under the prefix's localstatedir (so a daemon tried from a prefix never
# touches the system's /var/lib/mpx), the rest is the shipped file, and
# mpxd accepts it.
set -eu

: "${MPX_BUILDDIR:?}" "${MPX_INSTALLED_CONF:?}" "${MPX_STATE_DIR:?}" "${MPX_CONF:?}" "${MPXD:?}"
dest=$(mktemp -d "${TMPDIR:-/tmp}/mpx-install-XXXXXX")
trap 'rm -rf "$dest"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A make of its own, outside the one running the tests.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$MPX_BUILDDIR" install-conf DESTDIR="$dest" ||
        fail "make install-conf failed"
conf="$dest$MPX_INSTALLED_CONF"
[ -f "$conf" ] || fail "no $MPX_INSTALLED_CONF under DESTDIR"
grep -qx "        directory = \"$MPX_STATE_DIR\";" "$conf" ||
        fail "the installed durability.directory is not $MPX_STATE_DIR: $(grep 'directory =' "$conf")"
# Nothing else differs from the shipped file (nothing at all for a build whose localstatedir is /var).
differing=2
[ "$MPX_STATE_DIR" != /var/lib/mpx ] || differing=0
[ "$(diff "$MPX_CONF" "$conf" | grep -c '^[<>]')" = "$differing" ] ||
        fail "the installed file differs from the shipped one in more than the durability directory"
"$MPXD" --check-config -c "$conf" > /dev/null || fail "mpxd refuses the installed configuration"
echo "installed configuration: durability.directory = $MPX_STATE_DIR"
