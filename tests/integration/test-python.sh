#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the tests of the Python package mpx (every python/tests/test_*.py)
# against a private mpxd, importing the package staged in the build tree.
set -eu

if [ "${1:-}" != "--inside" ]; then
        exec "$WITH_MPXD" -- "$0" --inside
fi

PYTHONPATH="$MPX_PYTHONPATH${PYTHONPATH:+:$PYTHONPATH}"
LD_LIBRARY_PATH="$MPX_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# No bytecode next to the sources: under distcheck they are read-only.
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH LD_LIBRARY_PATH PYTHONDONTWRITEBYTECODE
cd "$MPX_TEST_DIR"
exec "$PYTHON" -m unittest discover -s "$MPX_PYTHON_TESTS" -t "$MPX_PYTHON_TESTS" -p "test_*.py" -v
