# SPDX-License-Identifier: MIT
"""What the Python examples share: starting their roles as unrelated processes."""

import os
import subprocess
import sys

import mpx


def say(*words):
    """Print one line with one write(2), so that the lines of concurrent roles never mix."""
    os.write(sys.stdout.fileno(), (" ".join(str(w) for w in words) + "\n").encode())


def start(script, role, *args):
    """Start `python3 script role args...`: a process that finds the objects by name only."""
    return subprocess.Popen([sys.executable, script, role] + [str(a) for a in args])


def finish(*procs):
    """Wait for every process; exit with the first nonzero status."""
    status = 0
    for p in procs:
        rc = p.wait()
        status = status or rc
    if status:
        sys.exit("a role exited with status %d" % status)


def fresh(*names):
    """Delete leftovers of an earlier run, so that the example starts from nothing."""
    c = mpx.Connection()
    try:
        for name in names:
            try:
                c.delete(name)
            except FileNotFoundError:
                pass
    finally:
        c.close()
