#!/bin/sh
# Installs the Debian packages mpx needs to build, run and test, and to build
# and check its own Debian packages (scripts/check-debian.sh): debhelper,
# dpkg-dev, fakeroot, lintian, and systemd for systemd-socket-activate,
# systemd-analyze and systemd-sysusers; clang and its libFuzzer and sanitizer
# runtimes (libclang-rt-14-dev) for the fuzzing step, scripts/check.d/30-fuzz.sh;
# redis-server, redis-tools (redis-benchmark) and libhiredis-dev for the peers
# bench/compare measures mpx against.
# libpython3.11-testsuite: CPython's own multiprocessing tests, which the Python
# binding's peer suite runs with mpx objects (tests/integration/test-python-peer.sh).
# Runs apt-get directly as root, else through sudo; never asks a question.
set -eu
# One package per line, so that each need is its own line in the history.
packages="
        build-essential
        autoconf
        automake
        libtool
        pkg-config
        libevent-dev
        libconfig-dev
        libsystemd-dev
        zlib1g-dev
        uthash-dev
        libcmocka-dev
        valgrind
        python3
        python3-dev
        dh-python
        libpython3.11-testsuite
        tmux
        bash-completion
        systemd
        debhelper
        dpkg-dev
        fakeroot
        lintian
        clang
        libclang-rt-14-dev
        libhiredis-dev
        redis-server
        redis-tools
"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $packages
