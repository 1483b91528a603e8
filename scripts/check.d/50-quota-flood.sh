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
# The columns are named by the header line (phase requests req/s p50_us p99_us
# p999_us max_us errors); a flood line ends with "flooders: N puts, N ENOSPC,
# N EUSERS, N other errors", each count read by the word after it.
awk '
        $1 == "phase" { for (i = 1; i <= NF; i++) col[$i] = i }
        function after(word,    i) { for (i = 2; i <= NF; i++) if ($i == word || $i == word ",") return $(i - 1) + 0; return -1 }
        $1 == "baseline" { base = 1; if ($col["errors"] != 0) bad = "the other uid met errors alone" }
        $1 == "flood" {
                flood = 1
                if ($col["errors"] != 0) bad = "the other uid met errors during the flood"
                if (after("ENOSPC") <= 0) bad = "the flooders were never refused ENOSPC"
                if (after("EUSERS") <= 0) bad = "the flooders were never refused EUSERS"
                if (after("other") != 0) bad = "the flooders met errors other than their quotas"
        }
        END {
                if (!base || !flood || !col["errors"]) bad = "quota-flood printed no figures"
                if (bad) { print "50-quota-flood: " bad; exit 1 }
        }' "$out"
