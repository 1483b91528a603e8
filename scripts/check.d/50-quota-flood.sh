#!/bin/sh
# Per-uid quotas under a flood: bench/quota-flood runs clients of one uid
# doing put+get round trips, alone and then while clients of another uid
# put until their quota refuses (ENOSPC), purge and put again, and declare
# past their object quota (EUSERS). The other uid's latencies (p50, p99,
# max) are printed for both phases, for the record; the check is that the
# flooders met both refusals and the other uid met no error at all. No
# timing is asserted: CI machines are too noisy for that.
#
# Needs root (the clients take two uids of their own). Budget: about 15
# seconds (MPX_FLOOD_SECONDS, 3 by default, per phase, and the build of
# mpxd and the bench when the tree is built already).
set -eu
cd "$(dirname "$0")/../.."
seconds=${MPX_FLOOD_SECONDS:-3}
jobs=${MPX_CHECK_JOBS:-2}

if [ "$(id -u)" != 0 ]; then
        echo "50-quota-flood: not root, cannot run clients as other uids; skipped"
        exit 0
fi
if [ ! -e Makefile ]; then
        ./autogen.sh > /dev/null
        ./configure > /dev/null
fi
make -j"$jobs" mpxd bench/quota-flood > /dev/null
out=$(mktemp "${TMPDIR:-/tmp}/mpx-quota-flood.XXXXXX")
trap 'rm -f "$out"' EXIT
./bench/quota-flood --mpxd ./mpxd -t "$seconds" > "$out"
cat "$out"
# The columns: phase requests req/s p50_us p99_us max_us errors [flooders: N puts, N ENOSPC, N EUSERS, N other errors]
awk '
        $1 == "baseline" { base = 1; if ($7 != 0) bad = "the other uid met errors alone" }
        $1 == "flood" {
                flood = 1
                if ($7 != 0) bad = "the other uid met errors during the flood"
                if ($11 + 0 == 0) bad = "the flooders were never refused ENOSPC"
                if ($13 + 0 == 0) bad = "the flooders were never refused EUSERS"
                if ($15 + 0 != 0) bad = "the flooders met errors other than their quotas"
        }
        END {
                if (!base || !flood) bad = "quota-flood printed no figures"
                if (bad) { print "50-quota-flood: " bad; exit 1 }
        }' "$out"
