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
# A build with the sanitizers (./configure --enable-asan): the interpreter is
# not instrumented, so their runtimes must be loaded first; CPython frees
# little at exit by design, so leaks are not reported for it.
sanitizers=$(ldd "$MPX_LIBDIR/libmpx.so" 2> /dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ')
if [ -n "$sanitizers" ]; then
        LD_PRELOAD="$sanitizers${LD_PRELOAD:+ $LD_PRELOAD}"
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
        export LD_PRELOAD ASAN_OPTIONS
fi
# No bytecode next to the sources: under distcheck they are read-only.
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH LD_LIBRARY_PATH PYTHONDONTWRITEBYTECODE
cd "$MPX_TEST_DIR"
# test-python-peer.sh runs CPython's own multiprocessing tests instead.
if [ "${MPX_PYTHON_RUN:-}" = peer ]; then
        exec "$PYTHON" "$MPX_PYTHON_TESTS/peer_multiprocessing.py"
fi
exec "$PYTHON" -m unittest discover -s "$MPX_PYTHON_TESTS" -t "$MPX_PYTHON_TESTS" -p "test_*.py" -v
