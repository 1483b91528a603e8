#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build the Debian packages from this tree with dpkg-buildpackage (which runs
# the test suite), check them with lintian, install them with dpkg, check that
# their files land and work, then purge them so that the machine is as it was.
#
# The build happens in a copy of the sources in a temporary folder, so this
# tree and its own build are left alone. Needs the Build-Depends of
# debian/control and lintian (scripts/install-deps.sh installs them), and root
# or sudo for dpkg. Exits non-zero on the first problem.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
packages="mpxd libmpx1 libmpx-dev mpx-tools python3-mpx"
work=$(mktemp -d "${TMPDIR:-/tmp}/mpx-deb-XXXXXX")
src="$work/mpx-$version"
had_user=$(getent passwd mpx || true)
had_group=$(getent group mpx || true)
installed=no

cleanup() {
        if [ "$installed" = yes ]; then
                # shellcheck disable=SC2086
                $sudo dpkg --purge $packages > /dev/null 2>&1 || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n==== %s\n' "$*"; }
die() { echo "check-debian: $*" >&2; exit 1; }

step "copying the sources"
mkdir -p "$src"
if git -C "$top" rev-parse --git-dir > /dev/null 2>&1; then
        # What git knows of, and new files not ignored: never this tree's build products.
        git -C "$top" ls-files -z --cached --others --exclude-standard |
                tar -C "$top" --null --ignore-failed-read -T - -cf - | tar -C "$src" -xf -
else
        cp -a "$top/." "$src"
fi

step "dpkg-buildpackage -us -uc -b (with the test suite)"
start=$(date +%s)
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1; then
        tail -n 150 "$work/build.log"
        for log in "$src"/test-suite.log; do
                [ -f "$log" ] && cat "$log"
        done
        die "dpkg-buildpackage failed"
fi
grep -E '^(# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):|dpkg-deb: building)' "$work/build.log" || true
echo "built in $(( $(date +%s) - start )) s"
for p in $packages; do
        ls "$work/${p}_${version}_"*.deb > /dev/null 2>&1 || die "no package $p"
done

# MPX_DEB_OUT=DIR keeps a copy of the packages (the temporary folder goes at the end).
if [ -n "${MPX_DEB_OUT:-}" ]; then
        mkdir -p "$MPX_DEB_OUT"
        cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$MPX_DEB_OUT"/
fi

step "dpkg -c"
for deb in "$work"/*.deb; do
        echo "--- $(basename "$deb")"
        dpkg -c "$deb" | awk '{ print $1, $6, $7, $8 }'
done

step "lintian"
lintian --fail-on error "$work"/*.changes || die "lintian reports errors"
echo "lintian: no errors"

step "dpkg -i"
installed=yes
# shellcheck disable=SC2086
$sudo dpkg -i $(for p in $packages; do echo "$work/${p}_${version}_"*.deb; done)

step "checking what landed"
expect_file() {
        pkg=$1; shift
        for f in "$@"; do
                dpkg -L "$pkg" | grep -qxF "$f" || die "$pkg does not list $f"
                [ -e "$f" ] || die "$f from $pkg is not on disk"
        done
}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
expect_file mpxd /usr/sbin/mpxd /etc/mpx/mpxd.conf /lib/systemd/system/mpxd.service \
        /lib/systemd/system/mpxd.socket /usr/lib/sysusers.d/mpxd.conf \
        /usr/share/man/man8/mpxd.8.gz /usr/share/man/man5/mpxd.conf.5.gz
expect_file libmpx1 "/usr/lib/$multiarch/libmpx.so.1"
expect_file libmpx-dev /usr/include/mpx.h "/usr/lib/$multiarch/libmpx.so" \
        "/usr/lib/$multiarch/pkgconfig/libmpx.pc" /usr/share/man/man3/mpx.3.gz
expect_file mpx-tools /usr/bin/mpxctl /usr/share/man/man1/mpxctl.1.gz \
        /usr/share/bash-completion/completions/mpxctl
dpkg-query -W -f='${Conffiles}\n' mpxd | grep -q '^ /etc/mpx/mpxd.conf ' || die "/etc/mpx/mpxd.conf is not a conffile"
getent passwd mpx > /dev/null || die "no user mpx after installing mpxd"
getent group mpx > /dev/null || die "no group mpx after installing mpxd"
/usr/sbin/mpxd --check-config || die "the installed configuration is not valid"
/usr/sbin/mpxd --version
/usr/bin/mpxctl --help > /dev/null || die "mpxctl --help failed"
# A program builds against libmpx-dev and runs against libmpx1.
printf '#include <mpx.h>\n#include <stdio.h>\nint main(void) { puts(mpx_strerror(-2)); return 0; }\n' > "$work/t.c"
# shellcheck disable=SC2046
cc -o "$work/t" "$work/t.c" $(pkg-config --cflags --libs libmpx) || die "cannot build against libmpx-dev"
"$work/t" > /dev/null || die "a program linked with libmpx does not run"
# The installed daemon serves the installed tool.
MPXD=/usr/sbin/mpxd "$src/tests/integration/with-mpxd" -- /usr/bin/mpxctl stats > /dev/null ||
        die "the installed mpxd and mpxctl do not work together"
# The Python binding imports with the system's python3 and talks to the installed daemon.
dpkg -L python3-mpx | grep -q '^/usr/lib/python3/dist-packages/mpx/_mpx\..*so$' ||
        die "python3-mpx has no extension mpx._mpx in /usr/lib/python3/dist-packages"
(cd / && MPXD=/usr/sbin/mpxd "$src/tests/integration/with-mpxd" -- \
        /usr/bin/python3 -c 'import mpx; mpx.Connection().ping()') ||
        die "the installed python3-mpx does not reach the installed mpxd"
echo "all files in place; mpxd, mpxctl, libmpx and python3-mpx work"

step "dpkg --purge"
# shellcheck disable=SC2086
$sudo dpkg --purge $packages
installed=no
for f in /usr/sbin/mpxd /etc/mpx/mpxd.conf /lib/systemd/system/mpxd.socket /usr/bin/mpxctl /usr/include/mpx.h \
        "/usr/lib/$multiarch/libmpx.so.1" /etc/systemd/system/sockets.target.wants/mpxd.socket \
        /usr/lib/python3/dist-packages/mpx; do
        [ ! -e "$f" ] || die "$f is still there after purging"
done
# Debian keeps system users after a purge; the user this check made goes too.
if [ -z "$had_user" ] && getent passwd mpx > /dev/null; then
        $sudo userdel mpx
fi
if [ -z "$had_group" ] && getent group mpx > /dev/null; then
        $sudo groupdel mpx
fi
echo "packages purged; the machine is as it was"
