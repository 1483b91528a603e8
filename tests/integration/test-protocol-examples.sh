#!/bin/sh
# SPDX-License-Identifier: MIT
# The hex examples of docs/PROTOCOL.md, section 17, sent to fresh daemons and
# their replies compared byte for byte (protocol-examples.py says how); the
# pool examples run tests/integration/pool-worker where the page says `worker`.
set -eu
: "${MPX_DOCS:?}" "${MPXD:?}" "${MPX_BUILDDIR:?}"
exec python3 "$(dirname "$0")/protocol-examples.py" "$MPX_DOCS/PROTOCOL.md" "$MPXD" \
	"$MPX_BUILDDIR/tests/integration/pool-worker"
