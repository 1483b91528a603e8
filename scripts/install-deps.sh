#!/bin/sh
# Installs the Debian packages mpx needs to build, run and test.
# Runs apt-get directly as root, else through sudo; never asks a question.
set -eu
packages="build-essential autoconf automake libtool pkg-config
        libevent-dev libconfig-dev libsystemd-dev uthash-dev
        libcmocka-dev valgrind python3 tmux bash-completion"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $packages
