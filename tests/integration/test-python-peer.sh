#!/bin/sh
# SPDX-License-Identifier: MIT
# The peer suite: CPython's own multiprocessing tests (Lib/test/_test_multiprocessing.py,
# from Debian's libpython3-testsuite) with mpx objects in place of multiprocessing's
# (python/tests/peer_multiprocessing.py), against a private mpxd. Skipped (77) without
# the suite.
MPX_PYTHON_RUN=peer
export MPX_PYTHON_RUN
exec "$(dirname "$0")/test-python.sh"
