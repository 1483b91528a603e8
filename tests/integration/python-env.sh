# SPDX-License-Identifier: MIT
# Sourced by the Python script tests (test-python.sh, test-python-examples.sh):
# the environment in which $PYTHON imports the mpx package staged in the build
# tree, and the libmpx it links.
PYTHONPATH="$MPX_PYTHONPATH${PYTHONPATH:+:$PYTHONPATH}"
LD_LIBRARY_PATH="$MPX_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# A build with the sanitizers (./configure --enable-asan): the interpreter is
# not instrumented, so their runtimes must be loaded first; CPython frees
# little at exit by design, so leaks are not reported for it.
. "${MPX_INTEGRATION_DIR:-$(dirname "$0")}/sanitizer-runtimes.sh"
if [ -n "$sanitizers" ]; then
        preload_sanitizers
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
        export LD_PRELOAD ASAN_OPTIONS
fi
# No bytecode next to the sources: under distcheck they are read-only.
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH LD_LIBRARY_PATH PYTHONDONTWRITEBYTECODE
