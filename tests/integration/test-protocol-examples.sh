#!/bin/sh
# SPDX-License-Identifier: MIT
# The hex examples of docs/PROTOCOL.md, section 17, sent to fresh daemons and
# their replies compared byte for byte (protocol-examples.py says how).
set -eu
: "${MPX_DOCS:?}" "${MPXD:?}"
exec python3 "$(dirname "$0")/protocol-examples.py" "$MPX_DOCS/PROTOCOL.md" "$MPXD"
