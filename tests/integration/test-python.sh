#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the tests of the Python package mpx (every python/tests/test_*.py)
# against a private mpxd, importing the package staged in the build tree.
set -eu

if [ "${1:-}" != "--inside" ]; then
        # mpxd starts the Python workers of mpx.Pool with its own environment:
        # in a sanitizer build they, like the interpreter, need the runtimes first.
        . "$(dirname "$0")/sanitizer-runtimes.sh"
        preload_sanitizers
        exec "$WITH_MPXD" -- "$0" --inside
fi

. "$(dirname "$0")/python-env.sh"
cd "$MPX_TEST_DIR"
# test-python-peer.sh runs CPython's own multiprocessing tests instead.
if [ "${MPX_PYTHON_RUN:-}" = peer ]; then
        exec "$PYTHON" "$MPX_PYTHON_TESTS/peer_multiprocessing.py"
fi
exec "$PYTHON" -m unittest discover -s "$MPX_PYTHON_TESTS" -t "$MPX_PYTHON_TESTS" -p "test_*.py" -v
